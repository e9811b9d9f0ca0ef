//! Registrations on a `TypedRing`: a `DirectTable` (its descriptors held by
//! the ring with `hold_direct`, or named by operations, each a share of the
//! slot), `FixedBufs`, a `BufPool` and a `SendQueue` made on it. Each test
//! checks what the kernel did (bytes read or sent, at which offsets, errnos)
//! and that nothing is freed, closed or emptied while an operation in flight
//! names it; a registration of another ring is refused (`EXDEV`). A kernel
//! without what a test needs (sparse tables: 5.19; allocation ranges: 6.0;
//! buffer rings: 5.19; bundle sends: 6.10) prints why the test is skipped.

use crate::owned_direct::table;
use crate::support::{self, peer_closed};
use crate::tracked::Tracked as Watched;

use std::io::{Read as _, Seek as _, Write as _};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{
    DirectTable, FixedBuf, FixedBufs, OwnedRing, ReadFixed, SendBundle, SendQueue, TypedRing, ops,
};

/// Byte `k` of the test file.
fn byte(k: usize) -> u8 {
    (k.wrapping_mul(31) ^ (k >> 9)) as u8
}

/// An unlinked file of `len` bytes of [`byte`].
fn data_file(len: usize) -> std::fs::File {
    let mut f = support::unlinked_file("typed-direct");
    let data: Vec<u8> = (0..len).map(byte).collect();
    f.write_all(&data).unwrap();
    f.rewind().unwrap();
    f
}

/// What a read of `peer` returns (0: the end of the stream), waiting up to 20
/// s: before Linux 6.13 the kernel drops a file a little after its slot is
/// emptied (seen on 6.1), so the end may come a moment after the slot goes —
/// by task work, whose notification interrupts the read (`EINTR` with a
/// timeout set), which is then read again.
fn end_of_stream(peer: &mut UnixStream) -> usize {
    peer.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    loop {
        match peer.read(&mut [0u8; 4]) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r.expect("the end of the stream within 20 s"),
        }
    }
}

#[test]
fn reads_through_a_held_direct_descriptor_land_at_their_offsets() {
    let test = "reads_through_a_held_direct_descriptor_land_at_their_offsets";
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8).unwrap();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    assert!(ring.direct_table().is_some());
    let direct = table.insert(data_file(64 * 1024)).unwrap();
    assert!(direct.is_on(&ring));
    let file = ring.hold_direct(direct).unwrap();
    assert!(ring.holds_fd(&file));
    assert_eq!(table.in_use(), 1);

    // 40 reads of 1000 bytes at odd offsets, through an 8-entry ring: the
    // queue is submitted to make room as it fills.
    let mut keys = std::collections::HashMap::new();
    let mut got = Vec::new();
    for i in 0..40u64 {
        let off = i * 1531;
        let key = ring
            .submit_op(ops::Read::new(file, Vec::with_capacity(1000), off))
            .unwrap();
        keys.insert(key, off);
        got.extend(ring.completions());
    }
    while got.len() < 40 {
        ring.submit_and_wait(1).unwrap();
        got.extend(ring.completions());
    }
    assert_eq!(got.len(), 40);
    for (key, (n, buf)) in got {
        let off = keys.remove(&key).expect("each key once") as usize;
        assert_eq!(n.unwrap(), 1000);
        let want: Vec<u8> = (off..off + 1000).map(byte).collect();
        assert_eq!(buf, want, "the read at {off}");
    }

    // Released with nothing in flight: the slot is emptied at once.
    ring.release_fd(file).unwrap();
    assert_eq!(table.in_use(), 0);
    let refused = ring
        .submit_op(ops::Read::new(file, Vec::with_capacity(8), 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
}

#[test]
fn a_held_direct_descriptor_released_in_flight_stays_until_the_final_completion() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "a_held_direct_descriptor_released_in_flight_stays_until_the_final_completion";
    let mut ring = TypedRing::<ops::Recv<Vec<u8>>>::new(4).unwrap();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let sock = ring.hold_direct(table.insert(ours).unwrap()).unwrap();
    let key = ring
        .submit_op(ops::Recv::new(sock, Vec::with_capacity(16)))
        .unwrap();
    ring.submit().unwrap();
    ring.release_fd(sock).unwrap();
    // The receive names the slot: it stays filled, the socket open.
    assert_eq!(table.in_use(), 1);
    assert!(!ring.holds_fd(&sock));
    peer.write_all(b"late").unwrap();
    let (k, (n, buf)) = ring.next_completion().unwrap();
    assert_eq!(k, key);
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"late"[..]));
    // Its final completion taken: the slot is emptied, the socket closed.
    assert_eq!(table.in_use(), 0);
    assert_eq!(end_of_stream(&mut peer), 0, "the socket was closed");
}

#[test]
fn an_operation_naming_a_direct_descriptor_keeps_its_slot() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "an_operation_naming_a_direct_descriptor_keeps_its_slot";
    let mut ring = TypedRing::<ops::Recv<Vec<u8>>>::new(4).unwrap();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let direct = table.insert(ours).unwrap();
    ring.submit_op(ops::Recv::new(&direct, Vec::with_capacity(16)))
        .unwrap();
    ring.submit().unwrap();
    // The caller's handle goes; the operation's share keeps the slot.
    drop(direct);
    assert_eq!(table.in_use(), 1);
    assert!(!peer_closed(&mut peer), "the socket is still open");
    let (_, (n, buf)) = ring.next_completion().unwrap();
    // `peer_closed` wrote one byte: that is what arrived.
    assert_eq!((n.unwrap(), &buf[..]), (1, &b"?"[..]));
    assert_eq!(table.in_use(), 0);
    assert_eq!(end_of_stream(&mut peer), 0, "the socket was closed");
}

#[test]
fn direct_descriptors_stay_with_the_ring_whose_table_holds_them() {
    let test = "direct_descriptors_stay_with_the_ring_whose_table_holds_them";
    let mut typed = TypedRing::<ops::Read<Vec<u8>>>::new(4).unwrap();
    let mut owned = OwnedRing::new(4).unwrap();
    let (Some(typed_table), Some(owned_table)) =
        (table(&mut typed, 2, 0, test), table(&mut owned, 2, 0, test))
    else {
        return;
    };
    // A second table on either ring: EBUSY.
    for e in [
        DirectTable::new(&mut typed, 1, 0).unwrap_err(),
        DirectTable::new(&mut owned, 1, 0).unwrap_err(),
    ] {
        assert_eq!(errno(&e), Some(libc::EBUSY), "{e}");
    }
    let theirs = owned_table
        .insert(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let mine = typed_table
        .insert(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    assert!(theirs.is_on(&owned) && !theirs.is_on(&typed));
    assert!(mine.is_on(&typed) && !mine.is_on(&owned));

    // The other ring's descriptor, held or named: EXDEV, the buffer back.
    let e = typed.hold_direct(theirs.clone()).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EXDEV), "{e}");
    let refused = typed
        .submit_op(ops::Read::new(&theirs, vec![5u8; 3], 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert_eq!(refused.op.into_buf(), [5, 5, 5]);
    let e = owned.hold_direct(mine.clone()).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EXDEV), "{e}");
    let refused = owned
        .submit_op(ops::Read::new(&mine, vec![6u8; 2], 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert_eq!(typed.in_flight() + owned.in_flight(), 0);

    // Each on its own ring: reads of zeros.
    typed
        .submit_op(ops::Read::new(&mine, vec![1u8; 3], 0))
        .unwrap();
    let (_, (n, buf)) = typed.next_completion().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (3, &[0u8; 3][..]));
    let id = owned
        .submit_op(ops::Read::new(&theirs, vec![1u8; 2], 0))
        .unwrap();
    let (n, buf) = owned.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (2, &[0u8; 2][..]));
}

#[test]
fn dropping_the_ring_cancels_and_then_empties_the_slot() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "dropping_the_ring_cancels_and_then_empties_the_slot";
    let mut ring = TypedRing::<ops::Recv<Watched>>::new(4).unwrap();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let sock = ring.hold_direct(table.insert(ours).unwrap()).unwrap();
    let (buf, dropped) = Watched::with_capacity(64);
    ring.submit_op(ops::Recv::new(sock, buf)).unwrap();
    ring.submit().unwrap();
    ring.set_drop_timeout(Duration::from_secs(5));
    let leaked = uring::owned::leaked_ops();
    drop(ring);
    // Cancelled and waited for: the buffer freed, nothing leaked, the slot
    // emptied and the socket closed.
    assert!(
        dropped.load(Ordering::SeqCst),
        "the receive's buffer was freed"
    );
    assert_eq!(uring::owned::leaked_ops(), leaked);
    assert_eq!(table.in_use(), 0);
    assert_eq!(
        end_of_stream(&mut peer),
        0,
        "the socket was closed with its slot"
    );
}

#[test]
fn fixed_buffers_registered_with_a_typed_ring_read_a_file() {
    let mut ring = TypedRing::<ReadFixed<FixedBuf>>::new(4).unwrap();
    let bufs = FixedBufs::new(&mut ring, 4, 4096).unwrap();
    let file = ring.hold_fd(data_file(64 * 1024)).unwrap();
    // 16 blocks through 4 registered buffers, each reused as it comes back.
    let mut free: Vec<FixedBuf> = std::iter::from_fn(|| bufs.get()).collect();
    assert_eq!((free.len(), bufs.available()), (4, 0));
    let mut next = 0u64;
    let mut seen = 0;
    while seen < 16 {
        while next < 16 {
            let Some(buf) = free.pop() else { break };
            ring.submit_op(ReadFixed::new(file, buf, next * 4096))
                .unwrap();
            next += 1;
        }
        ring.submit_and_wait(1).unwrap();
        for (_, (n, buf)) in ring.completions() {
            assert_eq!(n.unwrap(), 4096);
            // Which block: the first bytes tell (every block's differ).
            let block = (0..16)
                .find(|b| buf[..64] == *(b * 4096..b * 4096 + 64).map(byte).collect::<Vec<_>>())
                .expect("the bytes of some block");
            let want: Vec<u8> = (block * 4096..(block + 1) * 4096).map(byte).collect();
            assert_eq!(&buf[..], &want[..], "block {block}");
            free.push(buf);
            seen += 1;
        }
    }
    drop(free);
    assert_eq!(bufs.available(), 4);

    // These buffers are this ring's: an OwnedRing refuses them.
    let mut owned = OwnedRing::new(4).unwrap();
    let zero = owned
        .hold_fd(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    let refused = owned
        .submit_op(ReadFixed::new(zero, bufs.get().unwrap(), 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
}

#[test]
fn a_buffer_pool_registered_with_a_typed_ring_takes_received_bytes() {
    let test = "a_buffer_pool_registered_with_a_typed_ring_takes_received_bytes";
    let mut ring = TypedRing::<ops::RecvSelect>::new(4).unwrap();
    let Some(pool) = support::pool_or_skip(&mut ring, 7, 4, 64, test) else {
        return;
    };
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let sock = ring.hold_fd(ours).unwrap();
    let mut held = Vec::new();
    for msg in [&b"first"[..], b"second", b"third"] {
        ring.submit_op(ops::RecvSelect::new(sock, &pool)).unwrap();
        peer.write_all(msg).unwrap();
        let (_, got) = ring.next_completion().unwrap();
        let got = got.unwrap();
        assert_eq!(&got[..], msg);
        assert_eq!(got.group(), 7);
        held.push(got);
    }
    // Three buffers out, held by their guards; back in the ring when dropped.
    assert_eq!(pool.available(), 1);
    drop(held);
    assert_eq!(pool.available(), 4);

    // The pool is this ring's: an OwnedRing refuses it.
    let mut owned = OwnedRing::new(4).unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let refused = owned.submit_op(ops::RecvSelect::new(a, &pool)).unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
}

#[test]
fn a_send_queue_registered_with_a_typed_ring_sends_in_order() {
    let test = "a_send_queue_registered_with_a_typed_ring_sends_in_order";
    let mut ring = TypedRing::<SendBundle>::new(4).unwrap();
    if !support::has_feature(
        ring.ring().features(),
        uring::Features::RECVSEND_BUNDLE,
        test,
    ) {
        return;
    }
    let queue = SendQueue::new(&mut ring, 3, 8).unwrap();
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let sock = ring.hold_fd(ours).unwrap();
    let parts: Vec<Vec<u8>> = (0..5u8).map(|i| vec![b'a' + i; 100 + i as usize]).collect();
    for p in &parts {
        queue.push(p.clone()).map_err(|e| e.error).unwrap();
    }
    ring.submit_op(SendBundle::new(sock, &queue).unwrap())
        .unwrap();
    let (_, sent) = ring.next_completion().unwrap();
    let sent = sent.unwrap();
    let total: usize = parts.iter().map(Vec::len).sum();
    assert_eq!(sent.bytes(), total);
    assert_eq!(sent.bufs(), &parts[..]);
    assert!(queue.is_empty());
    let mut got = vec![0u8; total];
    peer.read_exact(&mut got).unwrap();
    assert_eq!(got, parts.concat());
}
