//! Descriptors moved between rings (`ops::SendDirect`, `IORING_MSG_SEND_FD`):
//! the receiver gets an owned `DirectFd` that carries the bytes, with the
//! sender's tag; and the hazards — a target without a table or with a full one
//! (the descriptor comes back), a target ring dropped before the message, a
//! descriptor never received, a plain message that must not pass for a
//! descriptor. "Nothing leaks" is checked with pipes: once everything is
//! dropped, the read end sees end of file only if every copy of the write end was
//! closed. A kernel that lacks `MSG_RING` descriptor passing prints why the test
//! is skipped.

use crate::support;
use support::kernel_release;

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;

use uring::error::errno;
use uring::owned::{DirectTable, OwnedRing, ops};

/// Whether the kernel lacks what passing needs: sparse tables with allocation
/// ranges and `IORING_MSG_SEND_FD` (Linux 6.0; `SEND_ZC` is of the same release
/// and has a probe bit, `MSG_SEND_FD` has none).
fn lacks_passing(test: &str) -> bool {
    let probe = uring::probe::probe().expect("probe");
    if probe.is_supported(uring::op::MsgRing::CODE) && probe.is_supported(uring::op::SendZc::CODE) {
        return false;
    }
    support::skip(
        test,
        &format!(
            "this kernel ({}) lacks IORING_MSG_SEND_FD (Linux 6.0)",
            kernel_release()
        ),
    );
    true
}

fn ring_with_table(chosen: u32, auto: u32) -> (OwnedRing, DirectTable) {
    let mut ring = OwnedRing::new(8).expect("io_uring set-up");
    let table = DirectTable::new(&mut ring, chosen, auto).expect("a direct table");
    (ring, table)
}

/// Reads everything left on `r` (blocking until every write end is closed).
fn drain(r: std::os::fd::OwnedFd) -> Vec<u8> {
    let mut r = std::fs::File::from(r);
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    all
}

#[test]
fn a_descriptor_moves_to_another_threads_ring_and_carries_bytes() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "a_descriptor_moves_to_another_threads_ring_and_carries_bytes";
    if lacks_passing(test) {
        return;
    }
    let (tx_box, rx_box) = mpsc::channel();
    let receiver = std::thread::spawn(move || {
        let (mut ring, table) = ring_with_table(0, 4);
        tx_box.send(ring.mailbox().unwrap()).unwrap();
        let mut got = Vec::new();
        let mut held = Vec::new();
        for _ in 0..3 {
            let (fd, tag) = ring.wait_received().unwrap();
            assert!(fd.is_on(&ring));
            let id = ring
                .submit_op(ops::Send::new(&fd, format!("via {tag}").into_bytes()))
                .unwrap();
            ring.wait_for(id).unwrap().0.unwrap();
            got.push(tag);
            held.push(fd);
        }
        assert_eq!(table.in_use(), 3);
        let mut slots: Vec<u32> = held.iter().map(|f| f.index()).collect();
        slots.dedup();
        assert_eq!(slots.len(), 3);
        drop(held);
        assert_eq!(table.in_use(), 0);
        got
    });
    let mailbox = rx_box.recv().unwrap();
    let (mut ring, table) = ring_with_table(4, 0);
    let mut peers = Vec::new();
    for tag in [10u32, 20, 30] {
        let (sock, peer) = UnixStream::pair().unwrap();
        peers.push((tag, peer));
        let op = ops::SendDirect::from_fd(&table, sock, &mailbox, tag).unwrap();
        let id = ring.submit_op(op).unwrap();
        ring.wait_for(id).unwrap().map_err(|(e, _)| e).unwrap();
    }
    assert_eq!(table.in_use(), 0, "moved: nothing left here");
    assert_eq!(receiver.join().unwrap(), vec![10, 20, 30]);
    for (tag, mut peer) in peers {
        let mut got = Vec::new();
        peer.read_to_end(&mut got).unwrap(); // the receiver's ring is gone: EOF
        assert_eq!(got, format!("via {tag}").into_bytes());
    }
}

#[test]
fn a_target_without_a_table_or_with_a_full_one_gives_the_descriptor_back() {
    let test = "a_target_without_a_table_or_with_a_full_one_gives_the_descriptor_back";
    if lacks_passing(test) {
        return;
    }
    let (mut ring, table) = ring_with_table(2, 0);
    let bare = OwnedRing::new(4).unwrap();
    let (sock, mut peer) = UnixStream::pair().unwrap();
    let op = ops::SendDirect::from_fd(&table, sock, &bare.mailbox().unwrap(), 1).unwrap();
    let id = ring.submit_op(op).unwrap();
    let (e, fd) = ring.wait_for(id).unwrap().unwrap_err();
    // No table: no slot to allocate.
    assert!(matches!(errno(&e), Some(libc::ENFILE | libc::ENXIO)), "{e}");
    // Back, and still working here.
    let id = ring
        .submit_op(ops::Send::new(&fd, b"back".to_vec()))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 4);
    let mut got = [0u8; 4];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"back");

    // A target whose kernel range is full (it has none).
    let (target, _t) = ring_with_table(2, 0);
    let id = ring
        .submit_op(ops::SendDirect::new(fd, &target.mailbox().unwrap(), 2))
        .unwrap();
    let (e, fd) = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(errno(&e), Some(libc::ENFILE), "{e}");
    assert!(fd.is_on(&ring));
}

#[test]
fn a_descriptor_sent_to_a_dropped_ring_or_never_received_is_closed() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "a_descriptor_sent_to_a_dropped_ring_or_never_received_is_closed";
    if lacks_passing(test) {
        return;
    }
    let (mut ring, table) = ring_with_table(2, 0);

    // Never received: the target ring is dropped with it in its table.
    let (target, target_table) = ring_with_table(0, 2);
    let mailbox = target.mailbox().unwrap();
    let (r, w) = support::pipe();
    let id = ring
        .submit_op(ops::SendDirect::from_fd(&table, w, &mailbox, 5).unwrap())
        .unwrap();
    ring.wait_for(id).unwrap().map_err(|(e, _)| e).unwrap();
    drop((target, target_table, mailbox));
    assert!(drain(r).is_empty(), "end of file: the write end was closed");

    // Sent after the target ring was dropped (its mailbox keeps the kernel's
    // ring): either it lands in the dying table or comes back; never leaked.
    let (target, target_table) = ring_with_table(0, 2);
    let mailbox = target.mailbox().unwrap();
    drop((target, target_table));
    let (r, w) = support::pipe();
    let id = ring
        .submit_op(ops::SendDirect::from_fd(&table, w, &mailbox, 6).unwrap())
        .unwrap();
    match ring.wait_for(id).unwrap() {
        Ok(()) => {}
        Err((e, fd)) => {
            assert!(matches!(errno(&e), Some(libc::ENFILE | libc::ENXIO)), "{e}");
            drop(fd);
        }
    }
    drop(mailbox);
    assert!(drain(r).is_empty(), "end of file: the write end was closed");
    assert_eq!(table.in_use(), 0);
}

#[test]
fn a_plain_message_is_never_taken_for_a_descriptor() {
    let test = "a_plain_message_is_never_taken_for_a_descriptor";
    if lacks_passing(test) {
        return;
    }
    let (mut sender, _st) = ring_with_table(1, 1);
    let (mut target, ttable) = ring_with_table(0, 2);
    // The largest value a safe message can carry: bits 63 and 62 stay clear.
    let id = sender
        .submit_op(ops::MsgRing::new(&target, uring::owned::RAW_USER_DATA_MAX, 0).unwrap())
        .unwrap();
    sender.wait_for(id).unwrap().unwrap();
    target.submit_and_wait(1).unwrap();
    assert!(target.take_received().is_none());
    let raw: Vec<_> = target.raw_completions().collect();
    assert_eq!(raw.len(), 1);
    assert_eq!(raw[0].user_data(), uring::owned::RAW_USER_DATA_MAX);
    assert_eq!(ttable.in_use(), 0);
    let _ = std::io::stdout().flush();
}

#[test]
fn an_event_loop_step_does_not_block_while_a_passed_descriptor_waits() {
    let test = "an_event_loop_step_does_not_block_while_a_passed_descriptor_waits";
    if lacks_passing(test) {
        return;
    }
    let (mut sender, table) = ring_with_table(2, 0);
    let (mut target, _tt) = ring_with_table(0, 2);
    // Something in flight on the target that will not complete for a long time.
    let timer = target
        .submit_op(ops::Timeout::new(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut keys = Vec::new();
    target.take_activity(&mut keys).unwrap();
    target.submit().unwrap();
    let (sock, _peer) = UnixStream::pair().unwrap();
    let op = ops::SendDirect::from_fd(&table, sock, &target.mailbox().unwrap(), 9).unwrap();
    let id = sender.submit_op(op).unwrap();
    sender.wait_for(id).unwrap().map_err(|(e, _)| e).unwrap();
    // The passed descriptor's completion is processed here (no key: it is not
    // an operation of this ring)…
    target.take_activity(&mut keys).unwrap();
    assert!(keys.is_empty());
    // …so the next step must not block in the kernel until the timer fires.
    target.wait_activity(&mut keys).unwrap();
    assert!(
        target.is_in_flight(&timer),
        "the step blocked until the timer fired"
    );
    let (fd, tag) = target.take_received().expect("the descriptor").unwrap();
    assert_eq!(tag, 9);
    assert!(fd.is_on(&target));
    target.cancel(&timer).unwrap();
}
