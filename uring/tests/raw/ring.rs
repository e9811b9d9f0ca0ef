//! The ring's queues against the running kernel: pushes, submits, completions,
//! overflow, timeouts, and agreement with liburing's own functions.

use crate::support;
use support::ops::{nop, prep_read, zeroed_sqe};
use support::pipe;
use support::write_all;

use std::collections::BTreeSet;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use uring::sqe::Sqe;
use uring::{CqeFlags, Features, PushError, Ring, sys};

/// An openat of a path that does not exist: ENOENT on every kernel with OPENAT (5.6),
/// unlike an injected NOP result (Linux 6.11).
fn open_missing(user_data: u64) -> Sqe {
    static PATH: &std::ffi::CStr = c"/nonexistent-uring-test-dir/file";
    let mut raw = zeroed_sqe();
    // SAFETY: only writes the SQE's fields; PATH is static, so it outlives the op.
    unsafe {
        sys::io_uring_prep_openat(&mut raw, libc::AT_FDCWD, PATH.as_ptr(), libc::O_RDONLY, 0)
    };
    raw.user_data = user_data;
    Sqe::from_raw(raw)
}

fn socketpair() -> (OwnedFd, OwnedFd) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    (a.into(), b.into())
}

fn push(ring: &mut Ring, sqe: &Sqe) {
    // SAFETY: the tests only push NOPs (no memory) or reads whose buffers outlive
    // the wait for their completion.
    unsafe { ring.submission().push(sqe) }.expect("submission queue has room");
}

#[test]
fn nop_round_trip_carries_user_data() {
    let mut ring = Ring::new(8).unwrap();
    push(&mut ring, &nop(0xdead_beef_0042));
    assert_eq!(ring.submission().len(), 1);
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.submission().len(), 0);
    let mut cq = ring.completion();
    assert_eq!(cq.len(), 1);
    let cqe = cq.next().unwrap();
    assert_eq!(cqe.user_data(), 0xdead_beef_0042);
    assert_eq!(cqe.result().unwrap(), 0);
    assert_eq!(cqe.raw_result(), 0);
    assert_eq!(cqe.flags(), CqeFlags::empty());
    assert_eq!(cqe.buffer_id(), None);
    assert!(!cqe.is_more());
    assert_eq!(cqe.big(), None);
    assert!(cq.next().is_none());
    drop(cq);
    assert!(ring.completion().is_empty());
}

#[test]
fn hundred_nops_in_batches_each_complete_once() {
    let mut ring = Ring::new(16).unwrap();
    let mut seen = BTreeSet::new();
    let mut next = 0u64;
    while next < 100 {
        let batch = (100 - next).min(16);
        for _ in 0..batch {
            push(&mut ring, &nop(next));
            next += 1;
        }
        assert_eq!(
            ring.submit_and_wait(batch as usize).unwrap(),
            batch as usize
        );
        for cqe in ring.completion() {
            assert_eq!(cqe.result().unwrap(), 0);
            assert!(
                seen.insert(cqe.user_data()),
                "duplicate {}",
                cqe.user_data()
            );
        }
    }
    assert_eq!(seen, (0..100).collect());
}

#[test]
fn push_multiple_is_all_or_nothing_and_in_order() {
    let mut ring = Ring::new(8).unwrap();
    let batch: Vec<Sqe> = (10..16).map(nop).collect();
    // SAFETY: NOPs name no memory.
    unsafe { ring.submission().push_multiple(&batch) }.unwrap();
    assert_eq!(ring.submission().remaining(), 2);
    // Three do not fit in the two free slots: none is written.
    let three: Vec<Sqe> = (20..23).map(nop).collect();
    // SAFETY: as above.
    let full = unsafe { ring.submission().push_multiple(&three) };
    assert_eq!(full, Err(PushError::Full));
    assert_eq!(ring.submission().len(), 6);
    assert_eq!(ring.submit_and_wait(6).unwrap(), 6);
    let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(got, (10..16).collect::<Vec<_>>());
}

#[test]
fn full_queue_is_an_error_and_loses_nothing() {
    let mut ring = Ring::new(4).unwrap();
    {
        let mut sq = ring.submission();
        assert_eq!(sq.capacity(), 4);
        for i in 0..4 {
            // SAFETY: NOPs name no memory.
            unsafe { sq.push(&nop(i)) }.unwrap();
        }
        assert!(sq.is_full());
        assert_eq!(sq.remaining(), 0);
        // SAFETY: as above.
        let err = unsafe { sq.push(&nop(99)) }.unwrap_err();
        assert_eq!(err, PushError::Full);
        assert_eq!(err.to_string(), "submission queue is full");
        assert_eq!(sq.len(), 4);
    }
    assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
    let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(got, [0, 1, 2, 3]);
    // The freed slots are usable again, across the ring's wrap.
    for round in 0..3u64 {
        for i in 0..4 {
            push(&mut ring, &nop(100 * (round + 1) + i));
        }
        assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
        let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
        let want: Vec<u64> = (0..4).map(|i| 100 * (round + 1) + i).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn submit_with_nothing_queued_returns_zero() {
    let mut ring = Ring::new(4).unwrap();
    assert_eq!(ring.submit().unwrap(), 0);
    assert!(ring.completion().is_empty());
}

#[test]
fn errors_come_back_as_errno() {
    let mut ring = Ring::new(4).unwrap();
    push(&mut ring, &open_missing(1));
    let mut buf = [0u8; 8];
    push(&mut ring, &prep_read(-1, &mut buf, 2));
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    let mut got: Vec<_> = ring
        .completion()
        .map(|c| {
            (
                c.user_data(),
                c.raw_result(),
                c.result().unwrap_err().raw_os_error(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (1, -libc::ENOENT, Some(libc::ENOENT)),
            (2, -libc::EBADF, Some(libc::EBADF))
        ]
    );
}

#[test]
fn read_from_a_pipe() {
    let mut ring = Ring::new(4).unwrap();
    let (r, w) = pipe();
    write_all(&w, b"hello, ring");
    let mut buf = [0u8; 32];
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf, 5));
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data(), 5);
    assert_eq!(cqe.result().unwrap(), 11);
    assert_eq!(&buf[..11], b"hello, ring");
}

#[test]
fn pending_read_completes_when_data_arrives() {
    let mut ring = Ring::new(4).unwrap();
    let (r, w) = pipe();
    let mut buf = [0u8; 4];
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf, 1));
    assert_eq!(ring.submit().unwrap(), 1);
    // Nothing written yet: the read is pending.
    assert!(ring.completion().next().is_none());
    write_all(&w, b"abcd");
    ring.wait(1).unwrap();
    let mut cq = ring.completion();
    let cqe = cq.next().unwrap();
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (1, 4));
    drop(cq);
    assert_eq!(&buf, b"abcd");
}

#[test]
fn cq_overflow_loses_nothing() {
    let mut ring = Ring::builder().cq_entries(8).build(4).unwrap();
    if !support::has_feature(
        ring.features(),
        Features::NODROP,
        "cq_overflow_loses_nothing",
    ) {
        return;
    }
    assert_eq!(ring.params().cq_entries(), 8);
    const TOTAL: u64 = 40;
    let mut submitted = 0u64;
    while submitted < TOTAL {
        for i in 0..4 {
            push(&mut ring, &nop(submitted + i));
        }
        let n = ring.submit().unwrap();
        assert_eq!(n, 4);
        submitted += 4;
    }
    // 40 completions for an 8-entry CQ: the kernel holds the rest back.
    assert!(ring.cq_has_overflow());
    assert_eq!(ring.completion().len(), 8);
    let mut seen = BTreeSet::new();
    let mut rounds = 0;
    while seen.len() < TOTAL as usize {
        let mut cq = ring.completion();
        for cqe in &mut cq {
            assert_eq!(cqe.result().unwrap(), 0);
            assert!(
                seen.insert(cqe.user_data()),
                "duplicate {}",
                cqe.user_data()
            );
        }
        assert_eq!(cq.overflow(), 0, "the kernel dropped completions");
        drop(cq);
        // Flush held-back completions into the room just made.
        ring.get_events().unwrap();
        rounds += 1;
        assert!(
            rounds <= TOTAL,
            "completions stopped arriving at {}",
            seen.len()
        );
    }
    assert_eq!(seen, (0..TOTAL).collect());
    assert!(!ring.cq_has_overflow());
    assert!(ring.completion().is_empty());
}

#[test]
fn submit_flushes_overflow_too() {
    // liburing's rule: a submit with CQ_OVERFLOW set enters with GETEVENTS.
    let mut ring = Ring::builder().cq_entries(4).build(4).unwrap();
    for round in 0..3u64 {
        for i in 0..4 {
            push(&mut ring, &nop(round * 4 + i));
        }
        ring.submit().unwrap();
    }
    assert!(ring.cq_has_overflow());
    let mut count = 0;
    let mut rounds = 0;
    while count < 12 {
        count += ring.completion().count();
        ring.submit().unwrap(); // nothing queued, but overflow is pending
        rounds += 1;
        assert!(rounds < 20, "overflow not flushed by submit: {count}");
    }
    assert_eq!(count, 12);
}

#[test]
fn submit_and_wait_timeout_times_out_with_etime() {
    let mut ring = Ring::new(4).unwrap();
    let test = "submit_and_wait_timeout_times_out_with_etime";
    if !support::has_feature(ring.features(), Features::EXT_ARG, test) {
        return;
    }
    let err = ring
        .submit_and_wait_timeout(1, Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));

    // A read that never completes is submitted, and the wait still times out.
    let (r, _w) = pipe();
    let mut buf = [0u8; 4];
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf, 9));
    let err = ring
        .submit_and_wait_timeout(1, Duration::from_millis(20))
        .unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::ETIME));
    assert_eq!(ring.submission().len(), 0, "the read was submitted");
    assert!(ring.completion().is_empty());
    // Cancel by closing the write end: the read then completes with 0 (EOF).
    drop(_w);
    assert_eq!(
        ring.submit_and_wait_timeout(1, Duration::from_secs(60))
            .unwrap(),
        0
    );
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.result().unwrap()), (9, 0));
}

#[test]
fn submit_and_wait_timeout_returns_when_completions_are_there() {
    let mut ring = Ring::new(4).unwrap();
    let test = "submit_and_wait_timeout_returns_when_completions_are_there";
    if !support::has_feature(ring.features(), Features::EXT_ARG, test) {
        return;
    }
    push(&mut ring, &nop(1));
    push(&mut ring, &nop(2));
    assert_eq!(
        ring.submit_and_wait_timeout(2, Duration::from_secs(60))
            .unwrap(),
        2
    );
    assert_eq!(ring.completion().count(), 2);
}

#[test]
fn min_timeout_wait() {
    let mut ring = Ring::new(4).unwrap();
    if !support::has_feature(ring.features(), Features::MIN_TIMEOUT, "min_timeout_wait") {
        let err = ring
            .submit_and_wait_min_timeout(1, Duration::from_millis(5), Duration::from_millis(1))
            .unwrap_err();
        assert_eq!(uring::error::errno(&err), Some(libc::EOPNOTSUPP));
        return;
    }
    let err = ring
        .submit_and_wait_min_timeout(1, Duration::from_millis(20), Duration::from_millis(5))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    // Two NOPs, waiting for four: past the minimum wait, the two are enough.
    push(&mut ring, &nop(1));
    push(&mut ring, &nop(2));
    ring.submit_and_wait_min_timeout(2, Duration::from_secs(60), Duration::from_millis(1))
        .unwrap();
    assert_eq!(ring.completion().count(), 2);
}

#[test]
fn liburing_and_rust_paths_agree_on_one_ring() {
    let mut ring = Ring::new(8).unwrap();
    let (r, w) = pipe();
    write_all(&w, b"0123456789");
    let mut buf_a = [0u8; 4];
    let mut buf_b = [0u8; 6];

    // Pushed by Rust, submitted and reaped by liburing.
    push(&mut ring, &nop(1));
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf_a, 2));
    assert_eq!(ring.liburing_submit().unwrap(), 2);
    let a = ring.liburing_wait_cqe().unwrap();
    let b = ring.liburing_wait_cqe().unwrap();
    let mut got = [
        (a.user_data(), a.raw_result()),
        (b.user_data(), b.raw_result()),
    ];
    got.sort();
    assert_eq!(got, [(1, 0), (2, 4)]);
    assert_eq!(ring.liburing_peek_cqe().unwrap(), None);

    // Got from liburing's io_uring_get_sqe, submitted and reaped by Rust.
    // SAFETY: the SQEs are filled before the submit; the buffer outlives the wait.
    unsafe {
        let raw = ring.as_raw_mut();
        let sqe = sys::io_uring_get_sqe(raw);
        assert!(!sqe.is_null());
        sys::io_uring_prep_nop(sqe);
        (*sqe).user_data = 3;
        let sqe = sys::io_uring_get_sqe(raw);
        sys::io_uring_prep_read(sqe, r.as_raw_fd(), buf_b.as_mut_ptr().cast(), 6, u64::MAX);
        (*sqe).user_data = 4;
    }
    assert_eq!(ring.submission().len(), 2);
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    let mut got: Vec<_> = ring
        .completion()
        .map(|c| (c.user_data(), c.raw_result()))
        .collect();
    got.sort();
    assert_eq!(got, [(3, 0), (4, 6)]);
    assert_eq!(&buf_a, b"0123");
    assert_eq!(&buf_b, b"456789");

    // Interleaved: Rust push, liburing get_sqe, one Rust submit; reaped half by
    // each side. Order and counts agree.
    push(&mut ring, &nop(5));
    // SAFETY: as above.
    unsafe {
        let sqe = sys::io_uring_get_sqe(ring.as_raw_mut());
        sys::io_uring_prep_nop(sqe);
        (*sqe).user_data = 6;
    }
    push(&mut ring, &nop(7));
    assert_eq!(ring.liburing_submit_and_wait(3).unwrap(), 3);
    assert_eq!(ring.liburing_wait_cqe().unwrap().user_data(), 5);
    let rest: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(rest, [6, 7]);
    assert!(ring.liburing_peek_cqe().unwrap().is_none());
}

#[test]
fn ring_moves_to_another_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Ring>();
    let mut ring = Ring::new(4).unwrap();
    push(&mut ring, &nop(1));
    let ring = std::thread::spawn(move || {
        let mut ring = ring;
        assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
        assert_eq!(ring.completion().next().unwrap().user_data(), 1);
        ring
    })
    .join()
    .unwrap();
    drop(ring);
}

#[test]
fn dropping_the_completion_view_midway_keeps_the_rest() {
    let mut ring = Ring::new(8).unwrap();
    for i in 0..5 {
        push(&mut ring, &nop(i));
    }
    ring.submit_and_wait(5).unwrap();
    let first: Vec<u64> = ring.completion().take(2).map(|c| c.user_data()).collect();
    assert_eq!(first, [0, 1]);
    let rest: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(rest, [2, 3, 4]);
}

#[test]
fn dontfork_and_sqring_wait() {
    let mut ring = Ring::new(4).unwrap();
    ring.dontfork().unwrap();
    // Not SQPOLL: returns at once even when full.
    for i in 0..4 {
        push(&mut ring, &nop(i));
    }
    ring.sqring_wait().unwrap();
    assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
    assert_eq!(ring.completion().count(), 4);

    let mut sqpoll = match Ring::builder().sqpoll().build(2) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("skipped: sqring_wait on SQPOLL because setup failed: {e}");
            return;
        }
    };
    let mut seen = BTreeSet::new();
    let mut next = 0u64;
    while next < 20 {
        // SAFETY: NOPs name no memory.
        match unsafe { sqpoll.submission().push(&nop(next)) } {
            Ok(()) => {
                next += 1;
                sqpoll.submit().unwrap();
            }
            Err(PushError::Full) => sqpoll.sqring_wait().unwrap(),
            Err(e) => panic!("{e}"),
        }
        seen.extend(sqpoll.completion().map(|c| c.user_data()));
    }
    while seen.len() < 20 {
        sqpoll.wait(1).unwrap();
        seen.extend(sqpoll.completion().map(|c| c.user_data()));
    }
    assert_eq!(seen, (0..20).collect());
}

#[test]
fn defer_taskrun_completions_wait_for_an_enter() {
    let mut ring = match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(4)
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "skipped: defer_taskrun_completions_wait_for_an_enter because setup failed: {e}"
            );
            return;
        }
    };
    // A socket pair, not a pipe: a 6.1 pipe read cannot retry without blocking, so
    // its completion would come from an io-wq worker rather than deferred task work.
    let (r, w) = socketpair();
    let mut buf = [0u8; 3];
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf, 1));
    assert_eq!(ring.submit().unwrap(), 1);
    write_all(&w, b"abc");
    // The read's completion is deferred task work: it runs only when this task
    // enters the kernel to get events, so nothing is posted yet...
    assert!(ring.completion().is_empty());
    // ...but the kernel flags it, and a submit with nothing queued enters for it
    // (liburing's rule for IORING_SQ_TASKRUN).
    assert_ne!(ring.sq_flags() & sys::IORING_SQ_TASKRUN, 0);
    assert_eq!(ring.submit().unwrap(), 0);
    let cqe = ring.completion().next().expect("posted by the submit");
    assert_eq!((cqe.user_data(), cqe.raw_result()), (1, 3));
    assert_eq!(&buf, b"abc");

    // The same with get_events.
    push(&mut ring, &prep_read(r.as_raw_fd(), &mut buf, 2));
    assert_eq!(ring.submit().unwrap(), 1);
    write_all(&w, b"xyz");
    assert!(ring.completion().is_empty());
    ring.get_events().unwrap();
    let cqe = ring.completion().next().expect("posted by get_events");
    assert_eq!((cqe.user_data(), cqe.raw_result()), (2, 3));
    assert_eq!(&buf, b"xyz");
}

#[test]
fn forgetting_views_loses_nothing() {
    let mut ring = Ring::new(4).unwrap();
    // The submission view keeps no state of its own (it has no Drop): a push is
    // in the ring as soon as it returns.
    let mut sq = ring.submission();
    // SAFETY: NOPs name no memory.
    unsafe { sq.push(&nop(1)) }.unwrap();
    let _ = sq;
    assert_eq!(ring.submission().len(), 1);
    push(&mut ring, &nop(2));
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    // A forgotten completion view never handed its entries back: they are read
    // again, not lost.
    let mut cq = ring.completion();
    assert_eq!(cq.next().unwrap().user_data(), 1);
    std::mem::forget(cq);
    let again: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    assert_eq!(again, [1, 2]);
    assert!(ring.completion().is_empty());
    let _ = format!("{ring:?}");
}

#[test]
fn split_views_rearm_while_reaping() {
    let mut ring = Ring::new(4).unwrap();
    for i in 0..4 {
        push(&mut ring, &nop(i * 1000));
    }
    ring.submit_and_wait(4).unwrap();
    let mut handled = 0;
    for _round in 0..25 {
        let (mut sq, cq) = ring.split();
        for cqe in cq {
            handled += 1;
            // SAFETY: NOPs name no memory.
            unsafe { sq.push(&nop(cqe.user_data() + 1)) }.unwrap();
        }
        assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
    }
    let mut last: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
    last.sort();
    assert_eq!(handled, 100);
    assert_eq!(last, [25, 1025, 2025, 3025]);
}
