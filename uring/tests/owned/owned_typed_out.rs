//! The outputs a `TypedRing` hands back, as it makes them: a read completes in
//! its slot (read out field by field, not copied out whole), a file released
//! with reads in flight closes when the iterator that took the last of them
//! is dropped, and an `Either` whose one side posts `MORE` completions is
//! told so. Each test checks what the kernel did: bytes and lengths, errnos,
//! a descriptor's shares, when a socket's peer sees it closed, how many
//! completions were read.

use crate::owned_typed::{cq_head, zero_copy_send_early_outputs};
use crate::support::{self, peer_closed};

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

use uring::owned::ops::{self, Either};
use uring::owned::{SharedFd, TypedRing};

/// Reads through a `SharedFd`: a short read sets the length of an empty
/// `Vec` to what was read, a `Vec` longer than the read keeps its length with
/// its first bytes replaced, and a failed read (`EBADF`: the descriptor is
/// write-only) gives its buffer back untouched. Each read's share of the
/// descriptor is dropped once, at its output: none is left when all are
/// taken, and the descriptor is still open for a last read.
#[test]
fn reads_completed_in_their_slots_set_lengths_report_errors_and_drop_each_share_once() {
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    let (_, wo) = support::pipe_files();
    let wo = SharedFd::from(wo);
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8).unwrap();
    w.write_all(b"abcde").unwrap();
    let short = ring
        .submit_op(ops::Read::new(&r, Vec::with_capacity(16), u64::MAX))
        .unwrap();
    let failed = ring
        .submit_op(ops::Read::new(&wo, vec![7u8; 3], u64::MAX))
        .unwrap();
    assert_eq!((r.holders(), wo.holders()), (2, 2), "a share per read");
    ring.submit_and_wait(2).unwrap();
    let mut got: Vec<_> = ring.completions().collect();
    assert_eq!(got.len(), 2);
    got.sort_by_key(|(k, _)| *k != short);
    let (k, (n, buf)) = got.remove(0);
    assert_eq!((k, n.unwrap(), &buf[..]), (short, 5, &b"abcde"[..]));
    let (k, (n, buf)) = got.remove(0);
    assert_eq!(k, failed);
    assert_eq!(n.unwrap_err().raw_os_error(), Some(libc::EBADF));
    assert_eq!(buf, [7u8; 3], "a failed read's buffer, untouched");
    assert_eq!(
        (r.holders(), wo.holders()),
        (1, 1),
        "each share dropped once"
    );

    w.write_all(b"xy").unwrap();
    let long = ring
        .submit_op(ops::Read::new(&r, b"12345678".to_vec(), u64::MAX))
        .unwrap();
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, n.unwrap(), &buf[..]), (long, 2, &b"xy345678"[..]));
    assert_eq!(r.holders(), 1);
    assert!(r.try_unwrap().is_ok(), "no share left anywhere");
}

/// A file released with a read in flight is closed once that read's output
/// is taken, when the iterator that took it is dropped: still open while
/// that iterator lives, closed after. A forgotten iterator leaves the close
/// to the next one dropped. A read's buffer is never kept past its output.
#[test]
fn a_released_file_closes_when_the_iterator_that_took_its_last_read_is_dropped() {
    let _no_forks = support::no_forks();
    let mut ring = TypedRing::<ops::Recv<Vec<u8>>>::new(4).unwrap();
    for forget in [false, true] {
        let (r, mut w) = UnixStream::pair().unwrap();
        let held = ring.hold_fd(r).unwrap();
        let key = ring
            .submit_op(ops::Recv::new(held, Vec::with_capacity(8)))
            .unwrap();
        ring.submit().unwrap();
        ring.release_fd(held).unwrap();
        w.write_all(b"late").unwrap();
        ring.submit_and_wait(1).unwrap();
        assert!(!peer_closed(&mut w), "closed before its read was taken");
        let mut it = ring.completions();
        let (k, (n, buf)) = it.next().expect("the receive finished");
        assert_eq!((k, n.unwrap(), &buf[..]), (key, 4, &b"late"[..]));
        assert!(!peer_closed(&mut w), "closed while the iterator lives");
        if forget {
            std::mem::forget(it);
            assert!(!peer_closed(&mut w), "closed by a forgotten iterator");
            // The next iterator dropped closes it.
            assert_eq!(ring.completions().count(), 0);
        } else {
            assert!(it.next().is_none());
            drop(it);
        }
        assert!(peer_closed(&mut w), "open after the iterator was dropped");
        assert_eq!(ring.in_flight(), 0);
    }
}

/// One typed ring runs reads and zero-copy sends (`Either`): the send's
/// first completion (flagged `MORE`) does not end it, whatever the read side
/// does; its output comes once, after its notification, with the send's
/// count; the read beside it gives its bytes.
#[test]
fn an_either_with_a_zero_copy_send_side_waits_for_the_notification() {
    const TEST: &str = "an_either_with_a_zero_copy_send_side_waits_for_the_notification";
    if !support::supported(uring::op::SendZc::CODE, TEST) {
        return;
    }
    type Rw = Either<ops::Read<Vec<u8>>, ops::SendZc<Vec<u8>>>;
    let (client, mut server) = support::tcp_pair();
    let (r, mut w) = UnixStream::pair().unwrap();
    let mut ring = TypedRing::<Rw>::new(4).unwrap();
    let sock = ring.hold_fd(client).unwrap();
    let src = ring.hold_fd(r).unwrap();
    let payload: Vec<u8> = (0..32768u32).map(|i| (i % 251) as u8).collect();
    let head = cq_head(&ring);
    let send = ring
        .submit_op(Either::Right(ops::SendZc::new(sock, payload.clone())))
        .unwrap();
    let early = zero_copy_send_early_outputs(&mut ring, head, &send);
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; 32768];
        server.read_exact(&mut got).unwrap();
        got
    });
    w.write_all(b"hello").unwrap();
    let read = ring
        .submit_op(Either::Left(ops::Read::new(src, Vec::with_capacity(8), 0)))
        .unwrap();
    let mut outputs = early;
    while outputs.len() < 2 {
        outputs.push(ring.next_completion().unwrap());
    }
    assert_eq!(
        cq_head(&ring).wrapping_sub(head),
        3,
        "send, notification, read"
    );
    for (k, out) in outputs {
        match out {
            Either::Right((n, buf)) => {
                assert_eq!(k, send);
                assert_eq!(n.unwrap(), payload.len(), "the send's count");
                assert_eq!(buf, payload, "the buffer back, untouched");
            }
            Either::Left((n, buf)) => {
                assert_eq!(k, read);
                assert_eq!((n.unwrap(), &buf[..]), (5, &b"hello"[..]));
            }
        }
    }
    assert_eq!(ring.in_flight(), 0);
    assert!(reader.join().unwrap() == payload, "the peer's bytes");
}

/// Completions another ring posts into a typed ring (`MSG_RING`, whose
/// `user_data` a safe caller picks, bits 63 and 62 clear) never complete its
/// operations, even when they name the slot and generation an operation in
/// flight has: a receive waiting for data stays in flight with its buffer,
/// and gets its bytes when they come.
#[test]
fn messages_posted_into_a_typed_ring_never_complete_its_operations() {
    const TEST: &str = "messages_posted_into_a_typed_ring_never_complete_its_operations";
    if !support::supported(uring::op::MsgRing::CODE, TEST) {
        return;
    }
    let (r, mut w) = UnixStream::pair().unwrap();
    let mut ring = TypedRing::<ops::Recv<Vec<u8>>>::new(8).unwrap();
    let sock = ring.hold_fd(r).unwrap();
    let key = ring
        .submit_op(ops::Recv::new(sock, Vec::with_capacity(8)))
        .unwrap();
    ring.submit().unwrap();
    let mut sender = uring::owned::OwnedRing::new(8).unwrap();
    // Every slot and generation a young ring's first operations have, with
    // and without the tag bits a message cannot carry.
    let mut sent = 0;
    for generation in 0..4u64 {
        for slot in 0..2u64 {
            let ud = generation << 32 | slot;
            let id = sender
                .submit_op(ops::MsgRing::to_ring(ring.ring(), ud, 0).unwrap())
                .unwrap();
            sender.wait_for(id).unwrap().unwrap();
            sent += 1;
        }
    }
    assert!(ops::MsgRing::to_ring(ring.ring(), 1 << 63 | 1 << 32, 0).is_err());
    let head = cq_head(&ring);
    assert_eq!(
        ring.completions().count(),
        0,
        "a message taken for an output"
    );
    assert_eq!(
        cq_head(&ring).wrapping_sub(head),
        sent,
        "the messages, read"
    );
    assert!(ring.is_in_flight(&key), "a message completed the receive");
    w.write_all(b"real").unwrap();
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, n.unwrap(), &buf[..]), (key, 4, &b"real"[..]));
}

/// An iterator forgotten after taking some reads hands none of them back to
/// the kernel (a ring of operations that never post `MORE` does so once per
/// pass), so the next iterator reads their completions again: it must yield
/// none of them a second time, nor finish with them the reads that took their
/// slots since. Two reads of `/dev/zero` are taken and the iterator
/// forgotten; two reads of a socket, which wait for data, take the freed
/// slots; the next iterator yields the two other reads alone, with the socket
/// reads still in flight; then the socket reads, with their own bytes.
#[test]
fn completions_read_again_after_a_forgotten_iterator_finish_nothing() {
    let _no_forks = support::no_forks();
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8).unwrap();
    let zero = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let mut reads = Vec::new();
    for _ in 0..4 {
        reads.push(
            ring.submit_op(ops::Read::new(zero, vec![7u8; 16], 0))
                .unwrap(),
        );
    }
    ring.submit_and_wait(4).unwrap();
    let mut it = ring.completions();
    let mut taken = Vec::new();
    for _ in 0..2 {
        let (key, (n, buf)) = it.next().expect("four reads finished");
        assert_eq!((n.unwrap(), &buf[..]), (16, &[0u8; 16][..]));
        taken.push(key);
    }
    #[allow(clippy::forget_non_drop, reason = "a user may forget it")]
    std::mem::forget(it);
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = ring.hold_fd(r).unwrap();
    let waiting: Vec<_> = (0..2)
        .map(|_| ring.submit_op(ops::Read::new(r, vec![0u8; 2], 0)).unwrap())
        .collect();
    ring.submit().unwrap();
    let order = |k: &uring::owned::OpKey| reads.iter().position(|r| r == k);
    let mut rest: Vec<_> = ring.completions().map(|(key, _)| key).collect();
    rest.sort_by_key(order);
    let mut want: Vec<_> = reads
        .iter()
        .filter(|k| !taken.contains(k))
        .copied()
        .collect();
    want.sort_by_key(order);
    assert_eq!(
        rest, want,
        "the two reads not taken, once each, and nothing else"
    );
    assert_eq!(ring.in_flight(), 2, "both socket reads still wait");
    let mut got = Vec::new();
    for data in [b"ab", b"cd"] {
        w.write_all(data).unwrap();
        let (k, (n, buf)) = ring.next_completion().unwrap();
        assert!(waiting.contains(&k), "a socket read's key");
        assert_eq!(n.unwrap(), 2);
        got.push(buf);
    }
    got.sort();
    assert_eq!(got, [b"ab".to_vec(), b"cd".to_vec()]);
    assert_eq!(ring.in_flight(), 0);
}

/// A ring's completions iterator goes to another thread with a borrow of the
/// ring (it keeps where the submission queue's entries are, and queues the
/// next read there).
#[test]
fn the_completions_iterator_is_send() {
    fn send<T: Send>(_: &T) {}
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let zero = ring
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    ring.submit_op(ops::Read::new(zero, vec![5u8; 3], 0))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    let mut done = ring.completions();
    send(&done);
    let n = std::thread::scope(|s| {
        s.spawn(|| {
            let (_, (n, _)) = done.next().expect("the read finished");
            // The iterator queues the next read on that thread too.
            done.submit_op(ops::Read::new(zero, vec![1u8; 2], 0))
                .unwrap();
            n.unwrap()
        })
        .join()
        .unwrap()
    });
    drop(done);
    assert_eq!(n, 3);
    let (_, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (2, &[0u8; 2][..]));
}
