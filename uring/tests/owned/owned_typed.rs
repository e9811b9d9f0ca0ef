//! `TypedRing<T>`: a safe ring whose operations are all of one type, against
//! the running kernel. Each test checks what the kernel did — bytes moved,
//! contents, errnos, which key each output came back with — and, for the
//! hazards, that nothing is freed or closed while the kernel may still use it,
//! and nothing leaked that could have been waited for.

use crate::support::{self, kernel_release, peer_closed};
use crate::tracked::Tracked as Watched;

use std::collections::HashSet;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use uring::Ring;
use uring::cqueue::Cqe;
use uring::error::errno;
use uring::owned::{
    FixedBuf, FixedBufs, Op, OpKey, OwnedRing, ReadFixed, SharedFd, TypedRing, leaked_ops, ops,
};
use uring::sqe::Sqe;

/// A buffer that says when it is dropped (proof that an operation holding it
/// was freed, its completion taken, not leaked), empty, of `capacity`.
fn watched(capacity: usize) -> (Watched, Arc<AtomicBool>) {
    Watched::with_capacity(capacity)
}

/// Takes every completion posted now; panics on a key seen twice.
fn take_all<T: Op>(ring: &mut TypedRing<T>, seen: &mut Vec<(OpKey, T::Output)>) {
    for done in ring.completions() {
        assert!(
            seen.iter().all(|(k, _)| *k != done.0),
            "{:?} came back twice",
            done.0
        );
        seen.push(done);
    }
}

/// Calls `completions` (no wait) every millisecond until `want` outputs came
/// or two seconds passed.
fn poll_for<T: Op>(ring: &mut TypedRing<T>, want: usize) -> Vec<(OpKey, T::Output)> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut seen = Vec::new();
    while seen.len() < want && Instant::now() < deadline {
        take_all(ring, &mut seen);
        if seen.len() < want {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    seen
}

fn key_set(keys: impl IntoIterator<Item = OpKey>) -> HashSet<OpKey> {
    keys.into_iter().collect()
}

/// How many completions `ring` has consumed from its queue so far (the
/// queue's head), to tell which completions an iteration read.
pub(crate) fn cq_head<T: Op>(ring: &TypedRing<T>) -> u32 {
    let raw = ring.ring().as_raw();
    // SAFETY: `raw` is the ring's liburing struct, alive as long as `ring`;
    // its `cq.khead` points to an aligned u32 in the queue's mapping, which
    // only this process writes (atomically, as the ring consumes completions,
    // which it cannot do while `ring` is borrowed here).
    let head = unsafe { std::sync::atomic::AtomicU32::from_ptr((*raw).cq.khead) };
    head.load(Ordering::Acquire)
}

/// The byte at `offset` of the stress test's file.
fn pattern(offset: u64) -> u8 {
    (offset * 7 % 251) as u8
}

/// A write through a held file, then reads of it (by `submit_op` and by a
/// batch): the contents are what was written, and each output comes with the
/// key its submission returned.
#[test]
fn reads_and_writes_through_a_held_file_come_back_with_their_keys() {
    let file = support::unlinked_file("typed-rw");
    let mut writes = TypedRing::<ops::Write<Vec<u8>>>::new(4).unwrap();
    let mut reads = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let w = writes.hold_fd(file.try_clone().unwrap()).unwrap();
    let r = reads.hold_fd(file).unwrap();
    assert!(writes.holds_fd(&w) && reads.holds_fd(&r));

    let a = writes
        .submit_op(ops::Write::new(w, b"typed ".to_vec(), 0))
        .unwrap();
    let b = writes
        .submit_op(ops::Write::new(w, b"ring!".to_vec(), 6))
        .unwrap();
    assert_ne!(a, b);
    assert_eq!(writes.in_flight(), 2);
    assert!(writes.is_in_flight(&a) && writes.is_in_flight(&b));
    writes.submit_and_wait(2).unwrap();
    let mut done: Vec<_> = writes.completions().collect();
    done.sort_by_key(|(k, _)| k.index());
    let got: Vec<_> = done
        .into_iter()
        .map(|(k, (n, buf))| (k, n.unwrap(), buf))
        .collect();
    let mut want = vec![(a, 6, b"typed ".to_vec()), (b, 5, b"ring!".to_vec())];
    want.sort_by_key(|(k, ..)| k.index());
    assert_eq!(got, want, "each write's key with its byte count and buffer");
    assert_eq!(writes.in_flight(), 0);
    assert!(!writes.is_in_flight(&a) && !writes.is_in_flight(&b));

    // Three reads at different offsets: two through a batch, one by submit_op.
    let (k0, k1) = {
        let mut batch = reads.batch();
        let k0 = batch
            .push(ops::Read::new(r, Vec::with_capacity(5), 0))
            .unwrap();
        let k1 = batch
            .push(ops::Read::new(r, Vec::with_capacity(5), 6))
            .unwrap();
        (k0, k1)
    };
    let k2 = reads
        .submit_op(ops::Read::new(r, Vec::with_capacity(64), 3))
        .unwrap();
    assert_eq!(reads.in_flight(), 3);
    assert!([k0, k1, k2].iter().all(|k| reads.is_in_flight(k)));
    assert!(
        !reads.is_in_flight(&a),
        "another ring's key is not in flight here"
    );
    reads.submit_and_wait(3).unwrap();
    let mut by_key = std::collections::HashMap::new();
    for (k, (n, buf)) in reads.completions() {
        assert_eq!(n.unwrap(), buf.len());
        by_key.insert(k, buf);
    }
    assert_eq!(by_key.len(), 3);
    assert_eq!(by_key[&k0], b"typed");
    assert_eq!(by_key[&k1], b"ring!");
    assert_eq!(
        by_key[&k2], b"ed ring!",
        "a short read at the end of the file"
    );
    assert_eq!(reads.in_flight(), 0);
    assert!([k0, k1, k2].iter().all(|k| !reads.is_in_flight(k)));
    // The slots are reused with new keys: an old key never names a new op.
    let k3 = reads
        .submit_op(ops::Read::new(r, Vec::with_capacity(1), 0))
        .unwrap();
    assert!(!reads.is_in_flight(&k0) && !reads.is_in_flight(&k1));
    assert!(![k0, k1, k2].contains(&k3));
    let (k, (n, buf)) = reads.next_completion().unwrap();
    assert_eq!((k, n.unwrap(), &buf[..]), (k3, 1, &b"t"[..]));
}

/// Six NOPs on a ring of two entries, none submitted explicitly: `submit_op`
/// submits to make room, and all six complete with 0. With `SQPOLL` too
/// (where the ring waits for the poll thread to take entries).
/// Writes and reads of one file through one `TypedRing` of
/// `Either<Write, Read>`: each output is of its operation's kind, and the
/// bytes read are those written.
#[test]
fn writes_and_reads_share_a_typed_ring_through_either() {
    use ops::Either::{Left, Right};
    let mut ring =
        TypedRing::<ops::Either<ops::Write<Vec<u8>>, ops::Read<Vec<u8>>>>::new(16).unwrap();
    let file = ring
        .hold_fd(support::unlinked_file("typed-either"))
        .unwrap();
    let block = |b: u64| -> Vec<u8> { (0..512).map(|i| pattern(b * 512 + i)).collect() };
    // Blocks 0..8 written first.
    let mut kinds = std::collections::HashMap::new();
    for b in 0..8u64 {
        let key = ring
            .submit_op(Left(ops::Write::new(file, block(b), b * 512)))
            .unwrap();
        kinds.insert(key, (true, b));
    }
    let mut done = Vec::new();
    while done.len() < 8 {
        ring.submit_and_wait(1).unwrap();
        done.extend(ring.completions());
    }
    // Then, in one batch (16 entries: the whole queue), reads of them and
    // writes of blocks 8..16.
    {
        let mut batch = ring.batch();
        for b in 0..8u64 {
            let key = batch
                .push(Right(ops::Read::new(
                    file,
                    Vec::with_capacity(512),
                    b * 512,
                )))
                .unwrap();
            kinds.insert(key, (false, b));
            let key = batch
                .push(Left(ops::Write::new(file, block(b + 8), (b + 8) * 512)))
                .unwrap();
            kinds.insert(key, (true, b + 8));
        }
    }
    while done.len() < 24 {
        ring.submit_and_wait(1).unwrap();
        done.extend(ring.completions());
    }
    let (mut writes, mut reads) = (0, 0);
    for (key, out) in done {
        let (is_write, b) = kinds.remove(&key).expect("each key once");
        match out {
            Left((n, _)) if is_write => {
                assert_eq!(n.unwrap(), 512, "write of block {b}");
                writes += 1;
            }
            Right((n, buf)) if !is_write => {
                assert_eq!(n.unwrap(), 512, "read of block {b}");
                assert_eq!(buf, block(b), "read of block {b}");
                reads += 1;
            }
            other => panic!(
                "block {b}: a {} came back as {other:?}",
                ["read", "write"][is_write as usize]
            ),
        }
    }
    assert_eq!((writes, reads), (16, 8));
}

/// An `Either` is bound to what its operation names: a held file of another
/// ring (`EBADF`) or another ring's registered buffers (`EXDEV`) are refused,
/// the operation given back whole.
#[test]
fn either_is_bound_to_what_its_operation_names() {
    use ops::Either::{Left, Right};
    let mut ring =
        TypedRing::<ops::Either<ops::Read<Vec<u8>>, ReadFixed<FixedBuf>>>::new(4).unwrap();
    let mut other = OwnedRing::new(4).unwrap();
    let theirs = other
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let refused = ring
        .submit_op(Left(ops::Read::new(theirs, vec![3u8; 5], 0)))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(refused.op.left().unwrap().into_buf(), [3u8; 5]);
    let bufs = FixedBufs::new(&mut other, 1, 64).unwrap();
    let mine = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let refused = ring
        .submit_op(Right(ReadFixed::new(mine, bufs.get().unwrap(), 0)))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert_eq!(ring.in_flight(), 0);
    // This ring's own file, through either kind: zeros.
    ring.submit_op(Left(ops::Read::new(mine, vec![1u8; 4], 0)))
        .unwrap();
    let (_, out) = ring.next_completion().unwrap();
    let (n, buf) = out.left().expect("a read's output");
    assert_eq!((n.unwrap(), &buf[..]), (4, &[0u8; 4][..]));
}

#[test]
fn submit_op_on_a_full_queue_submits_to_make_room() {
    const TEST: &str = "submit_op_on_a_full_queue_submits_to_make_room";
    let mut ring = TypedRing::<ops::Nop>::new(2).unwrap();
    six_nops_on_two_entries(&mut ring, false);

    match Ring::builder().sqpoll().sq_thread_idle(50).build(2) {
        Err(e) => support::skip(
            TEST,
            &format!(
                "(SQPOLL part) this kernel ({}) refused an SQPOLL ring to this user ({e}); \
                 Linux 5.11 lets unprivileged users have one",
                kernel_release()
            ),
        ),
        Ok(probe) => {
            drop(probe);
            let builder = Ring::builder().sqpoll().sq_thread_idle(50);
            let mut ring = TypedRing::<ops::Nop>::from_builder(builder, 2).unwrap();
            six_nops_on_two_entries(&mut ring, true);
        }
    }
}

fn six_nops_on_two_entries(ring: &mut TypedRing<ops::Nop>, sqpoll: bool) {
    assert_eq!(ring.ring().params().sq_entries(), 2);
    let keys: Vec<OpKey> = (0..6)
        .map(|i| {
            ring.submit_op(ops::Nop::new())
                .unwrap_or_else(|e| panic!("NOP {i}: {}", e.error))
        })
        .collect();
    assert_eq!(key_set(keys.iter().copied()).len(), 6, "six distinct keys");
    assert_eq!(ring.in_flight(), 6);
    let mut seen = Vec::new();
    if !sqpoll {
        // Two submits made room, and the kernel ran those four NOPs at once;
        // the last two are still queued.
        take_all(ring, &mut seen);
        assert_eq!(seen.len(), 4, "completions of the NOPs submitted for room");
        assert_eq!(ring.submit().unwrap(), 2);
    }
    while seen.len() < 6 {
        seen.push(ring.next_completion().unwrap());
    }
    assert!(seen.iter().all(|(_, res)| *res.as_ref().unwrap() == 0));
    assert_eq!(key_set(seen.iter().map(|(k, _)| *k)), key_set(keys));
    assert_eq!(ring.in_flight(), 0);
    let nothing = ring.next_completion().unwrap_err();
    assert_eq!(nothing.raw_os_error(), Some(libc::ENOENT));
}

/// A batch counts the free entries down; on a full queue `push` gives the
/// operation back (`EBUSY`), buffer intact, and submits nothing; after the
/// batch is dropped a submit sends what it queued, and the op given back
/// goes through a new batch.
#[test]
fn a_batch_counts_down_and_gives_back_what_does_not_fit() {
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let zero = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let mut keys = Vec::new();
    let refused = {
        let mut batch = ring.batch();
        assert_eq!(batch.remaining(), 4);
        for left in (0..4).rev() {
            keys.push(batch.push(ops::Read::new(zero, vec![0xAA; 8], 0)).unwrap());
            assert_eq!(batch.remaining(), left);
        }
        let mut marked = Vec::with_capacity(32);
        marked.extend((0..16u8).map(|i| i ^ 0x5A));
        let full = batch
            .push(ops::Read::new(zero, marked, 0))
            .expect_err("a full queue refuses");
        assert_eq!(full.error.raw_os_error(), Some(libc::EBUSY));
        assert_eq!(batch.remaining(), 0);
        full.op
    };
    assert_eq!(ring.in_flight(), 4, "the refused op is not in flight");
    let buf = refused.into_buf();
    assert_eq!(buf.capacity(), 32);
    assert_eq!(buf, (0..16u8).map(|i| i ^ 0x5A).collect::<Vec<_>>());

    assert_eq!(ring.submit().unwrap(), 4);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        ring.submit_and_wait(1).unwrap();
        take_all(&mut ring, &mut seen);
    }
    for (_, (n, buf)) in &seen {
        // A Vec's length is what was read (the kernel fills up to its capacity).
        assert_eq!((n.as_ref().unwrap(), &buf[..]), (&8, &[0u8; 8][..]));
    }
    assert_eq!(key_set(seen.iter().map(|(k, _)| *k)), key_set(keys));

    // The buffer given back goes again, in a fresh batch.
    let key = {
        let mut batch = ring.batch();
        assert_eq!(batch.remaining(), 4);
        batch.push(ops::Read::new(zero, buf, 0)).unwrap()
    };
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, n.unwrap()), (key, 32));
    assert_eq!(buf, vec![0u8; 32]);
}

/// Held files this ring does not hold are refused with `EBADF`, op back,
/// nothing queued: another TypedRing's, an OwnedRing's, a released one, a
/// stale handle whose slot holds another file now — by `submit_op` and by a
/// batch alike.
#[test]
fn a_held_file_this_ring_does_not_hold_is_refused_with_ebadf() {
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let mut other = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let mut owned = OwnedRing::new(4).unwrap();
    let ours = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let theirs = other
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let owned_held = owned
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    assert!(!ring.holds_fd(&theirs) && !ring.holds_fd(&owned_held));

    for (what, fd) in [
        ("another TypedRing's", theirs),
        ("an OwnedRing's", owned_held),
    ] {
        let refused = ring
            .submit_op(ops::Read::new(fd, vec![7u8; 9], 0))
            .unwrap_err();
        assert_eq!(errno(&refused.error), Some(libc::EBADF), "{what}");
        assert_eq!(refused.op.into_buf(), vec![7u8; 9], "{what}: buffer back");
        let refused = ring
            .batch()
            .push(ops::Read::new(fd, vec![8u8; 3], 0))
            .unwrap_err();
        assert_eq!(errno(&refused.error), Some(libc::EBADF), "{what} (batch)");
        assert_eq!(refused.op.into_buf(), vec![8u8; 3]);
        assert_eq!(
            errno(&ring.release_fd(fd).unwrap_err()),
            Some(libc::EBADF),
            "{what}: not ours to release"
        );
    }
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(ring.submit().unwrap(), 0, "nothing was queued");
    assert!(other.holds_fd(&theirs) && owned.holds_fd(&owned_held));

    // Released: refused; and once its slot holds another file, still refused.
    ring.release_fd(ours).unwrap();
    assert!(!ring.holds_fd(&ours));
    let refused = ring
        .submit_op(ops::Read::new(ours, vec![1u8; 4], 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(refused.op.into_buf(), vec![1u8; 4]);
    assert_eq!(
        errno(&ring.release_fd(ours).unwrap_err()),
        Some(libc::EBADF)
    );
    let mut f = support::unlinked_file("typed-stale");
    f.write_all(b"new file").unwrap();
    let new = ring.hold_fd(f).unwrap();
    assert!(ring.holds_fd(&new) && !ring.holds_fd(&ours));
    let refused = ring
        .submit_op(ops::Read::new(ours, vec![2u8; 4], 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF), "a stale handle");
    assert_eq!(ring.in_flight(), 0);
    // The file held now works.
    let key = ring
        .submit_op(ops::Read::new(new, Vec::with_capacity(8), 0))
        .unwrap();
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, n.unwrap(), &buf[..]), (key, 8, &b"new file"[..]));
}

/// Operations bound to a registration of an OwnedRing — its registered
/// buffers, its buffer pool, its direct table — are refused with `EXDEV`, op
/// back; each part skips (saying why) where the kernel or the limits refuse the
/// registration.
#[test]
fn an_op_using_an_owned_rings_registration_is_refused_with_exdev() {
    const TEST: &str = "an_op_using_an_owned_rings_registration_is_refused_with_exdev";
    let mut owned = OwnedRing::new(8).unwrap();

    match FixedBufs::new(&mut owned, 1, 64) {
        Err(e) if errno(&e) == Some(libc::ENOMEM) => support::skip(
            TEST,
            &format!("(ReadFixed part) the kernel would not pin 64 bytes ({e})"),
        ),
        Err(e) => panic!("registering buffers: {e}"),
        Ok(bufs) => {
            let mut ring = TypedRing::<ReadFixed<FixedBuf>>::new(4).unwrap();
            let zero = std::fs::File::open("/dev/zero").unwrap();
            let op = ReadFixed::new(zero, bufs.get().unwrap(), 0);
            let refused = ring.submit_op(op).unwrap_err();
            assert_eq!(errno(&refused.error), Some(libc::EXDEV));
            assert!(refused.error.to_string().contains("another ring"));
            assert_eq!(ring.in_flight(), 0);
            // The buffer comes back and works on its own ring.
            let buf = refused.op.into_buf();
            assert_eq!(buf.capacity(), 64);
            let zero = std::fs::File::open("/dev/zero").unwrap();
            let id = owned.submit_op(ReadFixed::new(zero, buf, 0)).unwrap();
            let (n, buf) = owned.wait_for(id).unwrap();
            assert_eq!((n.unwrap(), &buf[..]), (64, &[0u8; 64][..]));
        }
    }

    if let Some(pool) = support::pool_or_skip(&mut owned, 3, 2, 16, TEST) {
        let mut ring = TypedRing::<ops::RecvSelect>::new(4).unwrap();
        let (r, _w) = UnixStream::pair().unwrap();
        let held = ring.hold_fd(r).unwrap();
        let refused = ring
            .submit_op(ops::RecvSelect::new(held, &pool))
            .unwrap_err();
        assert_eq!(errno(&refused.error), Some(libc::EXDEV));
        assert_eq!(ring.in_flight(), 0);
        assert!(ring.holds_fd(&held), "the refusal changed nothing");
    }

    if let Some(table) = crate::owned_direct::table(&mut owned, 2, 0, TEST) {
        let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
        let direct = table
            .insert(std::fs::File::open("/dev/zero").unwrap())
            .unwrap();
        let refused = ring
            .submit_op(ops::Read::new(&direct, vec![3u8; 5], 0))
            .unwrap_err();
        assert_eq!(errno(&refused.error), Some(libc::EXDEV));
        assert_eq!(refused.op.into_buf(), vec![3u8; 5]);
        assert_eq!(ring.in_flight(), 0);
    }
}

/// An operation naming two different held files of the ring (a tee or a
/// splice between two held pipes) is refused with `EXDEV`; one held file with
/// a plain descriptor on the other side runs.
#[test]
fn an_op_naming_two_held_files_is_refused_with_exdev() {
    let mut tees = TypedRing::<ops::Tee>::new(4).unwrap();
    let (r1, mut w1) = support::pipe_files();
    let (mut r2, w2) = support::pipe_files();
    let w2_plain = w2.try_clone().unwrap();
    let (r1, w2) = (tees.hold_fd(r1).unwrap(), tees.hold_fd(w2).unwrap());
    let refused = tees.submit_op(ops::Tee::new(r1, w2, 16)).unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert!(
        refused.error.to_string().contains("two different HeldFds"),
        "{}",
        refused.error
    );
    assert_eq!(tees.in_flight(), 0);

    let mut splices = TypedRing::<ops::Splice>::new(4).unwrap();
    let (pr, pw) = support::pipe_files();
    let (pr, pw) = (splices.hold_fd(pr).unwrap(), splices.hold_fd(pw).unwrap());
    let refused = splices
        .submit_op(ops::Splice::new(pr, None, pw, None, 16))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert_eq!(splices.in_flight(), 0);
    assert!(splices.holds_fd(&pr) && splices.holds_fd(&pw));

    // One held end and one plain: the tee runs and duplicates the bytes.
    if support::supported(
        uring::op::Tee::CODE,
        "an_op_naming_two_held_files_is_refused_with_exdev",
    ) {
        w1.write_all(b"teed").unwrap();
        let key = tees.submit_op(ops::Tee::new(r1, w2_plain, 16)).unwrap();
        let (k, n) = tees.next_completion().unwrap();
        assert_eq!((k, n.unwrap()), (key, 4));
        let mut got = [0u8; 4];
        r2.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"teed");
    }
}

/// A builder asking for 32-byte completions (`CQE32`, `CQE_MIXED`) is refused
/// with `EINVAL` before any ring is set up (so on any kernel); one set up
/// disabled (`R_DISABLED`) is enabled and runs.
#[test]
fn builders_for_big_completions_are_refused_and_a_disabled_ring_is_enabled() {
    for (what, builder) in [
        ("CQE32", Ring::builder().cqe32()),
        ("CQE_MIXED", Ring::builder().cqe_mixed()),
        ("both", Ring::builder().cqe32().cqe_mixed().cq_entries(64)),
    ] {
        let err = TypedRing::<ops::Nop>::from_builder(builder, 4).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EINVAL), "{what}: {err}");
        assert!(err.to_string().contains("CQE32"), "{what}: {err}");
    }
    let mut ring =
        TypedRing::<ops::Nop>::from_builder(Ring::builder().r_disabled().cq_entries(16), 4)
            .unwrap();
    assert!(ring.ring().params().cq_entries() >= 16);
    let key = ring.submit_op(ops::Nop::new()).unwrap();
    let (k, res) = ring.next_completion().unwrap();
    assert_eq!((k, res.unwrap()), (key, 0));
}

/// A held socket released while a receive queued on it is not yet submitted:
/// new operations naming it are refused, but the one queued still reads from
/// it; the socket stays open after that completion is posted, and is closed
/// once the completion is taken.
#[test]
fn a_released_file_stays_open_until_its_last_completion_is_taken() {
    let _no_forks = support::no_forks();
    let mut ring = TypedRing::<ops::Recv<Vec<u8>>>::new(4).unwrap();
    let (r, mut w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    let key = ring
        .submit_op(ops::Recv::new(held, Vec::with_capacity(16)))
        .unwrap();
    ring.release_fd(held).unwrap();
    assert!(!ring.holds_fd(&held));
    let refused = ring
        .submit_op(ops::Recv::new(held, Vec::with_capacity(4)))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(
        errno(&ring.release_fd(held).unwrap_err()),
        Some(libc::EBADF)
    );
    // The kernel resolves the descriptor only now, when it is still open.
    assert_eq!(ring.submit().unwrap(), 1);
    w.write_all(b"late").unwrap();
    ring.submit_and_wait(1).unwrap();
    assert!(ring.is_in_flight(&key), "posted, not taken");
    // Not closed before the completion is taken (the probe byte stays unread).
    assert!(
        !peer_closed(&mut w),
        "closed before its completion was taken"
    );
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, n.unwrap(), &buf[..]), (key, 4, &b"late"[..]));
    assert!(peer_closed(&mut w), "still open after its last completion");
    assert_eq!(ring.in_flight(), 0);
}

/// Dropping a ring with a receive that never gets data (and one queued, never
/// submitted) cancels them, waits for their completions and frees them (their
/// buffers are dropped), and closes the held socket; `leaked_ops` does not
/// grow.
#[test]
fn dropping_the_ring_cancels_frees_and_closes() {
    let _no_forks = support::no_forks();
    // leaked_ops() is process-wide and other tests of this binary leak on
    // purpose: a leak of ours would move it on every attempt, theirs on one.
    let mut unmoved = false;
    for _attempt in 0..3 {
        let mut ring = TypedRing::<ops::Recv<Watched>>::new(4).unwrap();
        let (r, mut w) = UnixStream::pair().unwrap();
        let held = ring.hold_fd(r).unwrap();
        let (buf, dropped) = watched(64);
        let key = ring.submit_op(ops::Recv::new(held, buf)).unwrap();
        ring.submit().unwrap();
        let (buf2, dropped2) = watched(64);
        ring.submit_op(ops::Recv::new(held, buf2)).unwrap();
        assert!(ring.is_in_flight(&key));
        assert_eq!(ring.in_flight(), 2);
        let leaked_before = leaked_ops();
        let start = Instant::now();
        drop(ring);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the drop waited {:?} for cancellations",
            start.elapsed()
        );
        unmoved |= leaked_ops() == leaked_before;
        assert!(dropped.load(Ordering::SeqCst), "the receive was not freed");
        assert!(
            dropped2.load(Ordering::SeqCst),
            "the queued one was not freed"
        );
        assert!(peer_closed(&mut w), "the held socket outlived the ring");
        if unmoved {
            break;
        }
    }
    assert!(unmoved, "leaked_ops() grew with every drop");
}

/// `close` cancels a pending 60 s timeout and reports it completed, nothing
/// leaked; on an idle ring it reports nothing.
#[test]
fn close_reports_a_cancelled_timeout_as_completed() {
    let mut ring = TypedRing::<ops::Timeout>::new(4).unwrap();
    ring.submit_op(ops::Timeout::new(Duration::from_secs(60)))
        .unwrap();
    ring.submit().unwrap();
    let start = Instant::now();
    let report = ring.close();
    assert_eq!(
        (report.completed, report.leaked, report.handed_back),
        (1, 0, 0)
    );
    assert!(start.elapsed() < Duration::from_secs(2));
    let idle = TypedRing::<ops::Timeout>::new(4).unwrap().close();
    assert_eq!((idle.completed, idle.leaked, idle.handed_back), (0, 0, 0));
}

/// More operations in flight than the completion queue holds (16 receives on
/// a ring of 2 entries, 4 completions): closing must cancel and wait for all
/// of them — their completions and the cancellations' overflow the queue —
/// and leak none.
///
/// On kernels that refuse submissions while completions wait in the overflow
/// list (`EBUSY`; 5.10 does), the close's cancellations are submitted two at a
/// time: it must take completions between them, or the third submit would
/// fail and the close leak the rest.
#[test]
fn closing_with_more_in_flight_than_the_completion_queue_holds_leaks_nothing() {
    let _no_forks = support::no_forks();
    let mut ring = TypedRing::<ops::Recv<Watched>>::new(2).unwrap();
    assert_eq!(ring.ring().params().cq_entries(), 4);
    let (r, mut w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    let mut flags = Vec::new();
    for _ in 0..16 {
        let (buf, dropped) = watched(8);
        ring.submit_op(ops::Recv::new(held, buf)).unwrap();
        flags.push(dropped);
    }
    ring.submit().unwrap();
    assert_eq!(ring.in_flight(), 16);
    ring.set_drop_timeout(Duration::from_secs(2));
    let report = ring.close();
    let freed = flags.iter().filter(|d| d.load(Ordering::SeqCst)).count();
    assert_eq!(
        (report.completed, report.leaked, freed),
        (16, 0, 16),
        "kernel {}: {report:?} (a leak here: the close did not take completions \
         between refused submits)",
        kernel_release()
    );
    assert!(peer_closed(&mut w));
}

/// Closing while completions already wait in the kernel's overflow list (six
/// receives finished at once into a queue of four, none taken) and two
/// receives are still in flight: a kernel that refuses submissions while its
/// overflow list is not empty (5.10) refuses the close's cancellations until
/// completions are taken; the close must take them and go on, cancelling the
/// two and leaking nothing.
#[test]
fn closing_while_completions_overflow_takes_them_and_cancels_the_rest() {
    let _no_forks = support::no_forks();
    let mut ring = TypedRing::<ops::Recv<Watched>>::new(2).unwrap();
    assert_eq!(ring.ring().params().cq_entries(), 4);
    let (idle, mut idle_peer) = UnixStream::pair().unwrap();
    let (busy, mut busy_peer) = UnixStream::pair().unwrap();
    let idle = ring.hold_fd(idle).unwrap();
    let busy = ring.hold_fd(busy).unwrap();
    let mut flags = Vec::new();
    for _ in 0..2 {
        let (buf, dropped) = watched(8);
        ring.submit_op(ops::Recv::new(idle, buf)).unwrap();
        flags.push(dropped);
    }
    ring.submit().unwrap();
    // Six datagram-sized messages (a stream: each receive takes up to 8
    // bytes), so that each of the six receives finishes when submitted.
    busy_peer.write_all(&[7u8; 48]).unwrap();
    for _ in 0..6 {
        let (buf, dropped) = watched(8);
        ring.submit_op(ops::Recv::new(busy, buf)).unwrap();
        flags.push(dropped);
    }
    ring.submit().unwrap();
    assert_eq!(ring.in_flight(), 8);
    // Give the kernel the time to post all six (a receive with data waiting
    // finishes inline, but be sure): the queue holds four.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !ring.ring().cq_has_overflow() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        ring.ring().cq_has_overflow(),
        "six completions should overflow a queue of four"
    );
    ring.set_drop_timeout(Duration::from_secs(2));
    let report = ring.close();
    let freed = flags.iter().filter(|d| d.load(Ordering::SeqCst)).count();
    assert_eq!(
        (report.completed, report.leaked, freed),
        (8, 0, 8),
        "kernel {}: {report:?}",
        kernel_release()
    );
    assert!(peer_closed(&mut idle_peer));
    assert!(peer_closed(&mut busy_peer));
}

/// A 4-entry `SINGLE_ISSUER` ring, or `None` (the reason printed) on a
/// kernel without it (6.0); with `DEFER_TASKRUN` (6.1) when `defer`.
fn single_issuer<T: Op>(defer: bool, test: &str) -> Option<TypedRing<T>> {
    let builder = Ring::builder().single_issuer();
    let builder = if defer {
        builder.defer_taskrun()
    } else {
        builder
    };
    match TypedRing::<T>::from_builder(builder, 4) {
        Ok(ring) => Some(ring),
        Err(e) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused SINGLE_ISSUER{} ({e}); Linux 6.0 (6.1) is needed",
                    kernel_release(),
                    if defer { " | DEFER_TASKRUN" } else { "" }
                ),
            );
            None
        }
    }
}

/// Closed or dropped on a thread other than its own, where the kernel takes
/// none of its entries, a `SINGLE_ISSUER` ring is handed back to its thread
/// with its read in flight (not leaked, nothing freed yet); that thread
/// finishes it when it next makes a ring: the read cancelled, its buffer
/// freed, its file's share dropped.
#[test]
fn a_single_issuer_ring_closed_on_another_thread_is_handed_back() {
    const TEST: &str = "a_single_issuer_ring_closed_on_another_thread_is_handed_back";
    for (defer, by_close) in [(false, true), (false, false), (true, true), (true, false)] {
        let Some(mut ring) = single_issuer::<ops::Read<Watched>>(defer, TEST) else {
            continue;
        };
        let (_peer, ours) = UnixStream::pair().unwrap();
        let ours = SharedFd::from(ours);
        let (buf, dropped) = watched(16);
        ring.submit_op(ops::Read::new(&ours, buf, u64::MAX))
            .unwrap();
        ring.submit().unwrap();
        let report = std::thread::spawn(move || by_close.then(|| ring.close()))
            .join()
            .unwrap();
        if let Some(r) = report {
            assert_eq!((r.completed, r.leaked, r.handed_back), (0, 0, 1), "{r:?}");
        }
        assert!(!dropped.load(Ordering::SeqCst), "freed on the wrong thread");
        assert_eq!(ours.holders(), 2, "the read is still in flight");
        // This thread makes a ring: the one handed back is finished first.
        drop(TypedRing::<ops::Nop>::new(1).unwrap());
        let how = format!("defer {defer}, by close {by_close}");
        assert!(
            dropped.load(Ordering::SeqCst),
            "{how}: the buffer was freed"
        );
        // Freed, not leaked: a leaked op would still hold the descriptor.
        assert_eq!(ours.holders(), 1, "{how}: the read was cancelled and freed");
    }
}

/// A `SINGLE_ISSUER` ring moved to another thread: the kernel refuses its
/// submissions there (`EEXIST`), and the error names the rule; back on its
/// own thread, the queued operation is submitted and completes.
#[test]
fn a_single_issuer_ring_submitting_from_another_thread_says_why_it_is_refused() {
    const TEST: &str = "a_single_issuer_ring_submitting_from_another_thread_says_why_it_is_refused";
    let Some(mut ring) = single_issuer::<ops::Nop>(false, TEST) else {
        return;
    };
    ring.submit_op(ops::Nop::new()).unwrap();
    let (mut ring, errors) = std::thread::spawn(move || {
        let by_submit = ring.submit().unwrap_err();
        let by_next = ring.next_completion().unwrap_err();
        (ring, [by_submit, by_next])
    })
    .join()
    .unwrap();
    for e in errors {
        assert_eq!(errno(&e), Some(libc::EEXIST), "{e}");
        assert!(e.to_string().contains("SINGLE_ISSUER"), "{e}");
    }
    assert_eq!(ring.submit().unwrap(), 1);
    let (_, res) = ring.next_completion().unwrap();
    assert_eq!(res.unwrap(), 0);
}

/// A `SINGLE_ISSUER` ring whose thread has exited, left with a read in flight
/// on a socket.
struct LeftRead {
    ring: TypedRing<ops::Read<Watched>>,
    /// Set when the read's buffer is dropped.
    dropped: Arc<AtomicBool>,
    /// The socket, of which the read holds a share.
    ours: SharedFd,
    peer: UnixStream,
}

/// A [`LeftRead`], or `None` (the reason printed) on a kernel without
/// `SINGLE_ISSUER`.
fn read_left_by_its_thread(test: &'static str) -> Option<LeftRead> {
    let (peer, ours) = UnixStream::pair().unwrap();
    let ours = SharedFd::from(ours);
    let theirs = ours.clone();
    let (ring, dropped) = std::thread::spawn(move || {
        let mut ring = single_issuer::<ops::Read<Watched>>(false, test)?;
        let (buf, dropped) = watched(16);
        ring.submit_op(ops::Read::new(&theirs, buf, u64::MAX))
            .unwrap();
        ring.submit().unwrap();
        Some((ring, dropped))
    })
    .join()
    .unwrap()?;
    Some(LeftRead {
        ring,
        dropped,
        ours,
        peer,
    })
}

/// Once its thread has exited, no thread may enter the kernel with a
/// `SINGLE_ISSUER` ring; closed elsewhere, it still sees the completions
/// that arrive, by reading its queue, and frees what they finish.
#[test]
fn a_single_issuer_ring_outliving_its_thread_still_frees_what_completes() {
    const TEST: &str = "a_single_issuer_ring_outliving_its_thread_still_frees_what_completes";
    let Some(LeftRead {
        mut ring,
        dropped,
        ours,
        mut peer,
    }) = read_left_by_its_thread(TEST)
    else {
        return;
    };
    // Its thread is gone; the read completes when the bytes come.
    peer.write_all(b"late").unwrap();
    ring.set_drop_timeout(Duration::from_secs(5));
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (1, 0), "{report:?}");
    assert!(dropped.load(Ordering::SeqCst), "the buffer was freed");
    assert_eq!(ours.holders(), 1, "the read was freed, not leaked");
}

/// Cancelling a 60 s timeout ends it with `ECANCELED`; cancelling it again,
/// once taken, is `ENOENT`; so is cancelling another ring's key, even one of
/// the same slot, which leaves that ring's operation running.
#[test]
fn cancel_ends_an_op_with_ecanceled_and_refuses_keys_not_in_flight() {
    let mut ring = TypedRing::<ops::Timeout>::new(4).unwrap();
    let mut other = TypedRing::<ops::Timeout>::new(4).unwrap();
    let key = ring
        .submit_op(ops::Timeout::new(Duration::from_secs(60)))
        .unwrap();
    let theirs = other
        .submit_op(ops::Timeout::new(Duration::from_secs(60)))
        .unwrap();
    assert_eq!(key.index(), theirs.index(), "the same slot of two rings");
    assert_ne!(key, theirs);
    ring.submit().unwrap();
    other.submit().unwrap();

    let err = ring.cancel(&theirs).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT));
    assert!(other.is_in_flight(&theirs) && !ring.is_in_flight(&theirs));

    let start = Instant::now();
    ring.cancel(&key).unwrap();
    let (k, res) = ring.next_completion().unwrap();
    assert_eq!(k, key);
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert!(start.elapsed() < Duration::from_secs(5));
    // The cancellation's own completion yields nothing.
    assert_eq!(ring.completions().count(), 0);
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(
        ring.next_completion().unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(errno(&ring.cancel(&key).unwrap_err()), Some(libc::ENOENT));

    // The other ring's timeout was not touched by any of this.
    assert_eq!(other.completions().count(), 0);
    assert!(other.is_in_flight(&theirs));
    other.cancel(&theirs).unwrap();
    let (k, res) = other.next_completion().unwrap();
    assert_eq!(k, theirs);
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
}

/// The `DEFER_TASKRUN` ring's builder, with `TASKRUN_FLAG` when `flag`, or
/// `None` with the reason printed.
fn defer_taskrun_builder(test: &str, flag: bool) -> Option<uring::Builder<'static>> {
    if !support::defer_taskrun(test) {
        return None;
    }
    let builder = Ring::builder().single_issuer().defer_taskrun();
    if !flag {
        return Some(builder);
    }
    match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .taskrun_flag()
        .build(2)
    {
        Ok(_) => Some(builder.taskrun_flag()),
        Err(e) => {
            support::skip(
                test,
                &format!(
                    "(TASKRUN_FLAG part) this kernel ({}) refused DEFER_TASKRUN | TASKRUN_FLAG ({e})",
                    kernel_release()
                ),
            );
            None
        }
    }
}

/// On a `DEFER_TASKRUN` ring (with and without `TASKRUN_FLAG`), completions
/// wait in the kernel until the ring enters it: `completions` (which never
/// waits) enters for them itself. After a `submit` only, a NOP's output, a
/// pipe read's (finished by the kernel's deferred work once the data comes),
/// and 40 timers' (more than the kernel runs in one go of deferred work) all
/// come out of repeated `completions` calls.
#[test]
fn defer_taskrun_completions_run_the_deferred_work_themselves() {
    const TEST: &str = "defer_taskrun_completions_run_the_deferred_work_themselves";
    for flag in [false, true] {
        let Some(builder) = defer_taskrun_builder(TEST, flag) else {
            continue;
        };
        let mut nops = TypedRing::<ops::Nop>::from_builder(builder, 4).unwrap();
        let key = nops.submit_op(ops::Nop::new()).unwrap();
        assert_eq!(nops.submit().unwrap(), 1);
        let got = poll_for(&mut nops, 1);
        assert_eq!(got.len(), 1, "taskrun_flag {flag}: the NOP's output");
        assert_eq!((got[0].0, got[0].1.as_ref().unwrap()), (key, &0));

        let builder = defer_taskrun_builder(TEST, flag).unwrap();
        let mut reads = TypedRing::<ops::Read<Vec<u8>>>::from_builder(builder, 4).unwrap();
        let (r, mut w) = support::pipe_files();
        let r = reads.hold_fd(r).unwrap();
        let key = reads
            .submit_op(ops::Read::new(r, Vec::with_capacity(32), u64::MAX))
            .unwrap();
        assert_eq!(reads.submit().unwrap(), 1);
        assert_eq!(reads.completions().count(), 0, "no data yet");
        w.write_all(b"deferred").unwrap();
        let got = poll_for(&mut reads, 1);
        assert_eq!(got.len(), 1, "taskrun_flag {flag}: the read's output");
        let (k, (n, buf)) = &got[0];
        assert_eq!(k, &key);
        assert_eq!((*n.as_ref().unwrap(), &buf[..]), (8, &b"deferred"[..]));
        // A read that never gets data: the drop's cancellation completes
        // through deferred work too, so the drop is prompt and closes the pipe.
        reads
            .submit_op(ops::Read::new(r, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        reads.submit().unwrap();
        let no_forks = support::no_forks();
        let start = Instant::now();
        drop(reads);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        let err = w.write_all(b"x").unwrap_err();
        assert_eq!(
            err.raw_os_error(),
            Some(libc::EPIPE),
            "a reader is left: {err}"
        );
        drop(no_forks);

        let builder = defer_taskrun_builder(TEST, flag).unwrap();
        let mut timers = TypedRing::<ops::Timeout>::from_builder(builder, 64).unwrap();
        let keys: Vec<_> = (0..40)
            .map(|_| {
                timers
                    .submit_op(ops::Timeout::new(Duration::from_millis(1)))
                    .unwrap()
            })
            .collect();
        assert_eq!(timers.submit().unwrap(), 40);
        std::thread::sleep(Duration::from_millis(20));
        let got = poll_for(&mut timers, 40);
        assert_eq!(
            got.len(),
            40,
            "taskrun_flag {flag}: {} of 40 timers came out of completions() in 2 s \
             ({} still in flight)",
            got.len(),
            timers.in_flight()
        );
        for (_, res) in &got {
            assert_eq!(res.as_ref().unwrap_err().raw_os_error(), Some(libc::ETIME));
        }
        assert_eq!(key_set(got.iter().map(|(k, _)| *k)), key_set(keys));
    }
}

/// A completion queue of 4 entries and 24 NOPs submitted 4 at a time without
/// reading: the kernel keeps what does not fit in its overflow list, and one
/// pass of `completions` yields every output exactly once. (Kernels that
/// refuse submissions while the list is not empty say `EBUSY`: then the test
/// takes what is posted, as the docs say to, and submits again.)
#[test]
fn an_overflowing_completion_queue_loses_nothing() {
    let builder = Ring::builder().cq_entries(4);
    let mut ring = TypedRing::<ops::Nop>::from_builder(builder, 4).unwrap();
    assert_eq!(ring.ring().params().cq_entries(), 4);
    let mut keys = Vec::new();
    let mut seen = Vec::new();
    let mut overflowed = false;
    let mut busy = 0;
    for _ in 0..6 {
        {
            let mut batch = ring.batch();
            assert_eq!(batch.remaining(), 4);
            for _ in 0..4 {
                keys.push(batch.push(ops::Nop::new()).unwrap());
            }
        }
        loop {
            match ring.submit() {
                Ok(n) => {
                    assert_eq!(n, 4);
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                    busy += 1;
                    assert!(busy < 100, "EBUSY for ever");
                    overflowed |= ring.ring().cq_has_overflow();
                    take_all(&mut ring, &mut seen);
                }
                Err(e) => panic!("submit: {e}"),
            }
        }
        overflowed |= ring.ring().cq_has_overflow();
    }
    assert!(
        overflowed,
        "the queue never overflowed: the test proves nothing"
    );
    assert_eq!(ring.in_flight(), 24 - seen.len());
    // One pass: the iterator moves the overflow list into the queue itself.
    take_all(&mut ring, &mut seen);
    assert_eq!(seen.len(), 24, "outputs lost (EBUSY {busy} times)");
    assert!(seen.iter().all(|(_, res)| *res.as_ref().unwrap() == 0));
    assert_eq!(key_set(seen.iter().map(|(k, _)| *k)), key_set(keys));
    assert_eq!(ring.in_flight(), 0);
    assert!(!ring.ring().cq_has_overflow());
    if busy > 0 {
        println!("note: this kernel refused {busy} submits while overflowed");
    }
}

/// An operation of the test's own: a NOP whose `complete` panics when told to.
struct Grenade {
    armed: bool,
}

// SAFETY: the entry is a NOP: it names no memory and no descriptor, and posts
// one completion.
unsafe impl Op for Grenade {
    type Output = std::io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        uring::op::Nop::new().build()
    }
    fn complete(self, cqe: &Cqe) -> std::io::Result<u32> {
        if self.armed {
            panic!("Grenade::complete went off (on purpose)");
        }
        cqe.result()
    }
}

/// A `complete` that panics: the panic reaches the caller of the iteration,
/// and the ring stays usable — the panicking operation is gone (not in
/// flight), the one behind it still completes, and so does a new one.
#[test]
fn a_panicking_complete_leaves_the_ring_usable() {
    let mut ring = TypedRing::<Grenade>::new(4).unwrap();
    let bad = ring.submit_op(Grenade { armed: true }).unwrap();
    let good = ring.submit_op(Grenade { armed: false }).unwrap();
    ring.submit_and_wait(2).unwrap();
    let mut seen = Vec::new();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        for (k, res) in ring.completions() {
            seen.push((k, res.unwrap()));
        }
    }));
    let msg = caught.expect_err("the panic reaches the caller");
    let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("went off"), "{msg}");
    assert!(!ring.is_in_flight(&bad), "the panicking op is gone");
    // NOPs complete in order: the good one was not reached, or came first.
    let rest: Vec<_> = ring.completions().map(|(k, r)| (k, r.unwrap())).collect();
    seen.extend(rest);
    assert_eq!(seen, [(good, 0)]);
    assert_eq!(ring.in_flight(), 0);
    let again = ring.submit_op(Grenade { armed: false }).unwrap();
    let (k, res) = ring.next_completion().unwrap();
    assert_eq!((k, res.unwrap()), (again, 0));
    assert_eq!(ring.in_flight(), 0);
}

/// What `ring` yields once the zero-copy send `key` has posted its first
/// completion, the peer not reading yet; `head` is the queue's head before the
/// send. Its first completion (flagged `MORE`) yields nothing and leaves it in
/// flight; on kernels where the notification comes before the peer reads, the
/// one output comes with both completions read (said, not failed).
pub(crate) fn zero_copy_send_early_outputs<T: Op>(
    ring: &mut TypedRing<T>,
    head: u32,
    key: &OpKey,
) -> Vec<(OpKey, T::Output)> {
    // At least the send's own completion is posted; over loopback the
    // notification waits for the peer to read (on most kernels).
    ring.submit_and_wait(1).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let outputs: Vec<_> = ring.completions().collect();
    let read = cq_head(ring).wrapping_sub(head);
    match outputs.len() {
        0 => {
            assert_eq!(read, 1, "the MORE completion was read and yielded nothing");
            assert!(ring.is_in_flight(key), "the MORE completion ended it");
            assert_eq!(ring.in_flight(), 1);
        }
        1 => {
            assert_eq!(read, 2, "an output before the notification was read");
            println!(
                "note: on this kernel ({}) the notification came before the peer read",
                kernel_release()
            );
        }
        n => panic!("{n} outputs for one send"),
    }
    outputs
}

/// A zero-copy send through a held TCP socket: its first completion (the
/// send's result, flagged `MORE`) yields nothing and leaves it in flight; the
/// one output comes with the notification, carrying the send's byte count
/// (not the notification's 0) and the buffer; the peer gets the bytes.
#[test]
fn a_zero_copy_send_yields_once_after_its_notification() {
    const TEST: &str = "a_zero_copy_send_yields_once_after_its_notification";
    if !support::supported(uring::op::SendZc::CODE, TEST) {
        return;
    }
    let (client, mut server) = support::tcp_pair();
    let mut ring = TypedRing::<ops::SendZc<Vec<u8>>>::new(4).unwrap();
    let sock = ring.hold_fd(client).unwrap();
    let payload: Vec<u8> = (0..32768u32).map(|i| (i % 253) as u8).collect();
    let head = cq_head(&ring);
    let key = ring
        .submit_op(ops::SendZc::new(sock, payload.clone()))
        .unwrap();
    let mut outputs = zero_copy_send_early_outputs(&mut ring, head, &key);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        got
    });
    if outputs.is_empty() {
        outputs.push(ring.next_completion().unwrap());
        assert_eq!(
            cq_head(&ring).wrapping_sub(head),
            2,
            "send and notification"
        );
    }
    let (k, (n, buf)) = outputs.pop().unwrap();
    assert_eq!(k, key);
    assert_eq!(
        n.unwrap(),
        payload.len(),
        "the send's count, not the NOTIF's"
    );
    assert_eq!(buf, payload, "the buffer back, untouched");
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(ring.completions().count(), 0, "a second output");
    drop(ring); // closes the held socket: the reader sees the end
    assert!(reader.join().unwrap() == payload, "the peer's bytes");
}

/// An accept through a held listener: the output owns a connected descriptor
/// (bytes go both ways, the peer address is the client's). A ring dropped
/// with an accept in flight cancels it, frees it and closes the listener
/// (connections are refused after), leaking nothing.
#[test]
fn an_accept_owns_its_connection_and_a_dropped_ring_cancels_one_in_flight() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = TypedRing::<ops::Accept>::new(4).unwrap();
    let held = ring.hold_fd(listener).unwrap();
    let key = ring.submit_op(ops::Accept::new(held)).unwrap();
    ring.submit().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (k, res) = ring.next_completion().unwrap();
    assert_eq!(k, key);
    let (fd, peer) = res.unwrap();
    assert_eq!(peer, Some(client.local_addr().unwrap()));
    let mut conn = TcpStream::from(fd);
    client.write_all(b"ping").unwrap();
    let mut got = [0u8; 4];
    conn.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    conn.write_all(b"pong").unwrap();
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"pong");
    drop((conn, client));
    assert_eq!(ring.in_flight(), 0);

    let _no_forks = support::no_forks();
    // leaked_ops() is process-wide and other tests of this binary leak on
    // purpose: a leak of ours would move it on every attempt, theirs on one.
    assert!(
        (0..3).any(|_| dropped_with_an_accept_in_flight()),
        "leaked_ops() grew with every drop"
    );
}

/// Drops a ring with an accept in flight on the listener it holds; checks
/// the drop was prompt and the listener is closed; whether `leaked_ops`
/// stayed put meanwhile.
fn dropped_with_an_accept_in_flight() -> bool {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut ring = TypedRing::<ops::Accept>::new(4).unwrap();
    let held = ring.hold_fd(listener).unwrap();
    let key = ring.submit_op(ops::Accept::new(held)).unwrap();
    ring.submit().unwrap();
    assert!(ring.is_in_flight(&key));
    let before = leaked_ops();
    let start = Instant::now();
    drop(ring);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let unmoved = leaked_ops() == before;
    let refused = TcpStream::connect(addr).unwrap_err();
    assert_eq!(
        refused.kind(),
        std::io::ErrorKind::ConnectionRefused,
        "the listener outlived the ring: {refused}"
    );
    unmoved
}

/// 5,000 reads of 512 bytes at random offsets of a 256 KiB file of known
/// contents, 16 in flight on a ring of 8 entries (queued by `submit_op`,
/// which submits when the queue is full, and by batches): every buffer holds
/// the file's bytes at its read's offset, found through a `Vec` indexed by
/// `key.index()` holding the whole key.
#[test]
fn random_reads_match_the_file_at_their_offsets() {
    const FILE: u64 = 256 * 1024;
    const LEN: usize = 512;
    const READS: usize = 5_000;
    const DEPTH: usize = 16;
    let mut file = support::unlinked_file("typed-stress");
    let contents: Vec<u8> = (0..FILE).map(pattern).collect();
    file.write_all(&contents).unwrap();

    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8).unwrap();
    let held = ring.hold_fd(file).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_offset = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % (FILE - LEN as u64 + 1)
    };
    let mut owner: Vec<Option<(OpKey, u64)>> = vec![None; DEPTH];
    let mut spare: Vec<Vec<u8>> = (0..DEPTH).map(|_| Vec::with_capacity(LEN)).collect();
    let (mut issued, mut done, mut round) = (0, 0, 0u32);
    let record = |owner: &mut Vec<Option<(OpKey, u64)>>, key: OpKey, offset: u64| {
        assert!(
            key.index() < DEPTH,
            "index {} with {DEPTH} in flight",
            key.index()
        );
        assert!(owner[key.index()].is_none(), "index {} in use", key.index());
        owner[key.index()] = Some((key, offset));
    };
    while done < READS {
        let room = (DEPTH - ring.in_flight()).min(READS - issued);
        round += 1;
        if round % 2 == 0 {
            let mut batch = ring.batch();
            for _ in 0..room.min(batch.remaining()) {
                let offset = next_offset();
                let buf = spare.pop().unwrap();
                let key = batch.push(ops::Read::new(held, buf, offset)).unwrap();
                record(&mut owner, key, offset);
                issued += 1;
            }
        } else {
            for _ in 0..room {
                let offset = next_offset();
                let buf = spare.pop().unwrap();
                let key = ring.submit_op(ops::Read::new(held, buf, offset)).unwrap();
                record(&mut owner, key, offset);
                issued += 1;
            }
        }
        ring.submit_and_wait(1).unwrap();
        for (key, (n, mut buf)) in ring.completions() {
            let (want_key, offset) = owner[key.index()].take().expect("an op of ours");
            assert_eq!(key, want_key, "a completion for another use of the slot");
            assert_eq!(n.unwrap(), LEN, "read at {offset}");
            let o = offset as usize;
            assert!(
                buf == contents[o..o + LEN],
                "wrong bytes for the read at {offset}"
            );
            buf.clear();
            spare.push(buf);
            done += 1;
        }
    }
    assert_eq!((issued, done, ring.in_flight()), (READS, READS, 0));
    assert!(owner.iter().all(Option::is_none));
}

/// The Debug output of a ring, and of a batch, names the operation type and
/// the count in flight.
#[test]
fn debug_output_names_the_op_type() {
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let zero = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    ring.submit_op(ops::Read::new(zero, Vec::with_capacity(4), 0))
        .unwrap();
    let name = std::any::type_name::<ops::Read<Vec<u8>>>();
    let text = format!("{ring:?}");
    assert!(text.starts_with("TypedRing"), "{text}");
    assert!(text.contains(name), "{text} does not name {name}");
    assert!(text.contains("in_flight: 1"), "{text}");
    let batch = format!("{:?}", ring.batch());
    assert!(
        batch.contains(name) && batch.contains("remaining: 3"),
        "{batch}"
    );
    let nops = format!("{:?}", TypedRing::<ops::Nop>::new(2).unwrap());
    assert!(nops.contains(std::any::type_name::<ops::Nop>()), "{nops}");
    assert!(!nops.contains("Read"), "{nops}");
    let (_, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &[0u8; 4][..]));
}

/// A ring moves to another thread with what it holds (its operations are
/// `Send`), as `close` on another thread above needs.
#[test]
fn a_typed_ring_is_send() {
    fn send<T: Send>(_: &T) {}
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let zero = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    ring.submit_op(ops::Read::new(zero, vec![5u8; 6], 0))
        .unwrap();
    send(&ring);
    let (n, buf) = std::thread::spawn(move || ring.next_completion().unwrap().1)
        .join()
        .unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (6, &[0u8; 6][..]));
}

/// A `SINGLE_ISSUER` ring whose thread has exited, closed elsewhere with a
/// read that never completes (the kernel does not cancel it when the thread
/// exits, and no other thread may): the read is leaked — counted in
/// `leaked_ops`, its buffer never freed, its descriptor's share kept.
#[test]
fn a_single_issuer_ring_outliving_its_thread_leaks_what_never_completes() {
    const TEST: &str = "a_single_issuer_ring_outliving_its_thread_leaks_what_never_completes";
    let Some(LeftRead {
        mut ring,
        dropped,
        ours,
        peer: _peer,
    }) = read_left_by_its_thread(TEST)
    else {
        return;
    };
    ring.set_drop_timeout(Duration::from_millis(100));
    let before = leaked_ops();
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (0, 1), "{report:?}");
    assert!(leaked_ops() > before, "the leak was not counted");
    assert!(
        !dropped.load(Ordering::SeqCst),
        "a leaked op's buffer was freed"
    );
    assert_eq!(
        ours.holders(),
        2,
        "a leaked op's descriptor share was dropped"
    );
}
