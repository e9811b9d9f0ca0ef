//! The queue views' fast paths against the running kernel: the submission
//! queue's limit of known-free slots and the completion queue's window of posted
//! entries, across wrap-around, full queues, partial reads, `sync`, `CQE32` and
//! SQPOLL rings, and interleaved with liburing's own functions.

use crate::support::ops::nop;

use uring::sqe::Sqe;
use uring::{PushError, Ring};

/// A ring of 4 entries from `builder`, or `None` (saying so) when the kernel
/// lacks what it asks for (`EINVAL`) or does not allow it here (`EPERM`).
fn build_or_skip(test: &str, builder: uring::Builder<'_>) -> Option<Ring> {
    match builder.build(4) {
        Ok(r) => Some(r),
        Err(e) if matches!(uring::error::errno(&e), Some(libc::EINVAL | libc::EPERM)) => {
            eprintln!("skipped: {test}: {e}");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

/// Pushes `ids` one by one through one view, checking its counts as it goes.
fn push_each(ring: &mut Ring, ids: impl IntoIterator<Item = u64>) {
    let mut sq = ring.submission();
    for id in ids {
        let before = sq.len();
        // SAFETY: NOPs name no memory.
        unsafe { sq.push(&nop(id)) }.expect("room");
        assert_eq!(sq.len(), before + 1);
        assert_eq!(sq.remaining(), sq.capacity() - sq.len());
    }
}

/// Reaps exactly `n` completions, in order of posting.
fn reap(ring: &mut Ring, n: usize) -> Vec<u64> {
    let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(got.len(), n, "completions: {got:?}");
    got
}

#[test]
fn submission_window_wraps_at_every_offset() {
    // 4 slots; batches of 1, 2, 3, 4 and back put the tail at every offset, so
    // pushes cross the end of the array in every position.
    let mut ring = Ring::new(4).unwrap();
    let mut next = 0u64;
    for round in 0..24 {
        let k = [1, 2, 3, 4, 3, 2][round % 6];
        let ids: Vec<u64> = (next..next + k).collect();
        push_each(&mut ring, ids.clone());
        if k == 4 {
            // SAFETY: NOPs name no memory.
            let full = unsafe { ring.submission().push(&nop(999)) };
            assert_eq!(full, Err(PushError::Full));
            assert!(ring.submission().is_full());
        }
        assert_eq!(ring.submit_and_wait(k as usize).unwrap(), k as usize);
        assert_eq!(reap(&mut ring, k as usize), ids);
        next += k;
    }
}

#[test]
fn push_multiple_across_the_wrap_and_after_single_pushes() {
    let mut ring = Ring::new(8).unwrap();
    let mut next = 0u64;
    for round in 0..16u64 {
        // A few single pushes move the tail to an odd offset, then one
        // push_multiple of 5 (crossing the end of the array on some rounds).
        let singles = round % 4;
        let mut sq = ring.submission();
        for id in next..next + singles {
            // SAFETY: NOPs name no memory.
            unsafe { sq.push(&nop(id)) }.unwrap();
        }
        let batch: Vec<Sqe> = (next + singles..next + singles + 5).map(nop).collect();
        // SAFETY: as above.
        unsafe { sq.push_multiple(&batch) }.unwrap();
        // Then single pushes in the same view, after the general path.
        let left = sq.remaining() as u64;
        for id in next + singles + 5..next + singles + 5 + left {
            // SAFETY: as above.
            unsafe { sq.push(&nop(id)) }.unwrap();
        }
        assert!(sq.is_full());
        // SAFETY: as above.
        assert_eq!(unsafe { sq.push_multiple(&[nop(0)]) }, Err(PushError::Full));
        assert_eq!(ring.submit_and_wait(8).unwrap(), 8);
        let want: Vec<u64> = (next..next + 8).collect();
        assert_eq!(reap(&mut ring, 8), want);
        next += 8;
    }
}

#[test]
fn one_view_refills_after_a_submit_frees_slots() {
    // A view made before the kernel consumed anything only counts the slots free
    // then; a new view after a submit sees them all again.
    let mut ring = Ring::new(4).unwrap();
    push_each(&mut ring, 0..3);
    assert_eq!(ring.submission().remaining(), 1);
    ring.submit().unwrap();
    assert_eq!(ring.submission().remaining(), 4);
    push_each(&mut ring, 3..7);
    ring.submit_and_wait(7).unwrap();
    assert_eq!(reap(&mut ring, 7), (0..7).collect::<Vec<_>>());
}

#[test]
fn completion_window_wraps_and_counts_while_reading() {
    // 4 SQ slots, 8 CQ slots: rounds of 6 completions put the CQ head at every
    // even offset, so the posted entries wrap around the array.
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.params().cq_entries(), 8);
    let mut next = 0u64;
    for _ in 0..12 {
        push_each(&mut ring, next..next + 4);
        ring.submit().unwrap();
        push_each(&mut ring, next + 4..next + 6);
        ring.submit_and_wait(6).unwrap();
        let mut cq = ring.completion();
        assert_eq!((cq.len(), cq.is_empty()), (6, false));
        assert_eq!(cq.size_hint(), (6, Some(6)));
        assert_eq!(cq.next().map(|c| c.user_data()), Some(next));
        assert_eq!(cq.next().map(|c| c.user_data()), Some(next + 1));
        assert_eq!(cq.len(), 4);
        // Dropped midway: only the two read are handed back.
        drop(cq);
        let rest: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
        assert_eq!(rest, (next + 2..next + 6).collect::<Vec<_>>());
        assert!(ring.completion().is_empty());
        next += 6;
    }
}

#[test]
fn sync_mid_iteration_hands_back_and_sees_new_completions() {
    let mut ring = Ring::new(4).unwrap();
    let mut next = 0u64;
    for _ in 0..8 {
        push_each(&mut ring, next..next + 3);
        ring.submit_and_wait(3).unwrap();
        {
            let (mut sq, mut cq) = ring.split();
            assert_eq!(cq.next().unwrap().user_data(), next);
            // Queue two more while reading; they are not posted yet.
            for id in next + 3..next + 5 {
                // SAFETY: NOPs name no memory.
                unsafe { sq.push(&nop(id)) }.unwrap();
            }
            cq.sync();
            assert_eq!(cq.len(), 2);
        }
        ring.submit_and_wait(4).unwrap();
        let mut cq = ring.completion();
        assert_eq!(cq.len(), 4);
        assert_eq!(cq.next().unwrap().user_data(), next + 1);
        cq.sync();
        assert_eq!(cq.len(), 3);
        let rest: Vec<u64> = cq.map(|c| c.user_data()).collect();
        assert_eq!(rest, [next + 2, next + 3, next + 4]);
        next += 5;
    }
}

#[test]
fn liburing_and_the_views_share_the_indices_across_wraps() {
    let mut ring = Ring::new(4).unwrap();
    let mut next = 0u64;
    for round in 0..10 {
        push_each(&mut ring, next..next + 3);
        // Alternate who submits and who reaps.
        if round % 2 == 0 {
            ring.liburing_submit_and_wait(3).unwrap();
        } else {
            ring.submit_and_wait(3).unwrap();
        }
        let first = ring.liburing_wait_cqe().unwrap();
        assert_eq!(first.user_data(), next);
        assert_eq!(reap(&mut ring, 2), [next + 1, next + 2]);
        assert!(ring.liburing_peek_cqe().unwrap().is_none());
        next += 3;
    }
}

#[test]
fn cqe32_ring_windows_step_32_bytes() {
    let Some(mut ring) = build_or_skip("cqe32_ring_windows_step_32_bytes", Ring::builder().cqe32())
    else {
        return;
    };
    let mut next = 0u64;
    for _ in 0..8 {
        push_each(&mut ring, next..next + 3);
        ring.submit_and_wait(3).unwrap();
        let mut cq = ring.completion();
        let first = cq.next().unwrap();
        assert_eq!((first.user_data(), first.big()), (next, Some([0, 0])));
        assert_eq!(cq.len(), 2);
        drop(cq);
        let rest: Vec<(u64, Option<[u64; 2]>)> = ring
            .completion()
            .map(|c| (c.user_data(), c.big()))
            .collect();
        assert_eq!(
            rest,
            [(next + 1, Some([0, 0])), (next + 2, Some([0, 0]))],
            "32-byte slots read whole, in order"
        );
        next += 3;
    }
}

#[test]
fn sqpoll_ring_refills_as_the_thread_consumes() {
    let Some(mut ring) = build_or_skip(
        "sqpoll_ring_refills_as_the_thread_consumes",
        Ring::builder().sqpoll().sq_thread_idle(20),
    ) else {
        return;
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut next = 0u64;
    let mut seen = Vec::new();
    while next < 64 {
        assert!(
            std::time::Instant::now() < deadline,
            "stuck at {next}: {seen:?}"
        );
        // Push as much as fits, up to what the CQ (8) holds; the poll thread
        // may free slots behind us, and the view then finds them.
        let mut sq = ring.submission();
        let mut pushed = 0;
        while next < 64
            && pushed < 8 - (next as usize - seen.len())
            // SAFETY: NOPs name no memory.
            && unsafe { sq.push(&nop(next)) }.is_ok()
        {
            next += 1;
            pushed += 1;
        }
        ring.submit().unwrap();
        seen.extend(ring.completion().map(|c| c.user_data()));
    }
    while seen.len() < 64 {
        ring.submit_and_wait(1).unwrap();
        seen.extend(ring.completion().map(|c| c.user_data()));
    }
    assert_eq!(seen, (0..64).collect::<Vec<_>>());
}
