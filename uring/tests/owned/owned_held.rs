//! Held descriptors (`OwnedRing::hold_fd`): operations name them without a
//! reference count of their own; the ring keeps them open while operations in
//! flight name them, refuses released or foreign ones, and closes them after
//! the last operation's final completion, or with the ring.

use crate::support::{self, peer_closed};

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

use uring::error::errno;
use uring::owned::{BufPool, OwnedRing, ops};

#[test]
fn reads_and_writes_name_a_held_file() {
    let mut ring = OwnedRing::new(8).unwrap();
    let file = support::unlinked_file("held");
    let held = ring.hold_fd(file).unwrap();
    assert!(ring.holds_fd(&held));
    let id = ring
        .submit_op(ops::Write::new(held, b"held bytes".to_vec(), 0))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 10);
    // Two reads in flight at once, then a linked write and read.
    let a = ring
        .submit_op(ops::Read::new(held, Vec::with_capacity(4), 0))
        .unwrap();
    let b = ring
        .submit_op(ops::Read::new(held, Vec::with_capacity(5), 5))
        .unwrap();
    let (n, buf) = ring.wait_for(a).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"held"[..]));
    let (n, buf) = ring.wait_for(b).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (5, &b"bytes"[..]));
    let (w, r) = ring
        .submit_linked((
            ops::Write::new(held, b"HELD".to_vec(), 0),
            ops::Read::new(held, Vec::with_capacity(10), 0),
        ))
        .unwrap();
    assert_eq!(ring.wait_for(w).unwrap().0.unwrap(), 4);
    let (n, buf) = ring.wait_for(r).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (10, &b"HELD bytes"[..]));
    ring.release_fd(held).unwrap();
    assert!(!ring.holds_fd(&held));
}

#[test]
fn a_released_file_stays_open_until_its_operations_complete() {
    let _no_forks = support::no_forks();
    let mut ring = OwnedRing::new(8).unwrap();
    let (r, mut w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    // Queued, not yet submitted: the kernel resolves the descriptor's number
    // only when it gets the entry, after the release below.
    let id = ring
        .submit_op(ops::Recv::new(held, Vec::with_capacity(8)))
        .unwrap();
    ring.release_fd(held).unwrap();
    // Released: nothing new may name it, and a second release is refused...
    let refused = ring
        .submit_op(ops::Recv::new(held, Vec::with_capacity(8)))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(
        errno(&ring.release_fd(held).unwrap_err()),
        Some(libc::EBADF)
    );
    // ...but the receive queued still names it: open when the kernel gets it.
    ring.submit().unwrap();
    w.write_all(b"late").unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"late"[..]));
    // Its final completion was processed: closed now.
    assert!(peer_closed(&mut w), "still open after the last operation");
}

#[test]
fn a_file_no_operation_names_is_closed_at_release_and_with_the_ring() {
    let _no_forks = support::no_forks();
    let mut ring = OwnedRing::new(4).unwrap();
    let (a, mut a_peer) = UnixStream::pair().unwrap();
    let (b, mut b_peer) = UnixStream::pair().unwrap();
    let a = ring.hold_fd(a).unwrap();
    let _b = ring.hold_fd(b).unwrap();
    assert!(!peer_closed(&mut a_peer));
    ring.release_fd(a).unwrap();
    assert!(
        peer_closed(&mut a_peer),
        "released with no user: closed at once"
    );
    assert!(!peer_closed(&mut b_peer));
    drop(ring);
    assert!(peer_closed(&mut b_peer), "closed with the ring");
}

#[test]
fn another_rings_held_file_is_refused() {
    let mut ring = OwnedRing::new(4).unwrap();
    let mut other = OwnedRing::new(4).unwrap();
    let (r, _w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    // The other ring holds a file in the same slot, of the same generation.
    let (r2, _w2) = UnixStream::pair().unwrap();
    let theirs = other.hold_fd(r2).unwrap();
    assert!(!other.holds_fd(&held) && !ring.holds_fd(&theirs));
    let refused = other
        .submit_op(ops::Recv::new(held, Vec::with_capacity(8)))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    let refused = other
        .submit_linked((ops::Nop::new(), ops::Recv::new(held, Vec::with_capacity(8))))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(other.in_flight(), 0, "nothing of the chain was queued");
    assert_eq!(
        errno(&other.release_fd(held).unwrap_err()),
        Some(libc::EBADF)
    );
    assert!(
        ring.holds_fd(&held),
        "the other ring's refusal changed nothing"
    );
}

#[test]
fn a_held_file_goes_with_its_rings_registrations_but_not_another_rings() {
    let name = "a_held_file_goes_with_its_rings_registrations_but_not_another_rings";
    let mut ring = OwnedRing::new(4).unwrap();
    let mut other = OwnedRing::new(4).unwrap();
    let pools = BufPool::new(&mut ring, 7, 2, 16)
        .and_then(|p| Ok((p, BufPool::new(&mut other, 7, 2, 16)?)));
    let (pool, other_pool) = match pools {
        Ok(pools) => pools,
        Err(e) => {
            support::skip(
                name,
                &format!("this kernel refused a provided-buffer ring ({e})"),
            );
            return;
        }
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    // A held file and this ring's pool: the kernel picks the buffer, and the
    // ring counts the receive as the file's user.
    let id = ring.submit_op(ops::RecvSelect::new(held, &pool)).unwrap();
    ring.release_fd(held).unwrap();
    w.write_all(b"pool").unwrap();
    let buf = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&buf[..], b"pool");
    assert_eq!(buf.buffer_id().map(|b| b < 2), Some(true));
    drop(buf);
    // Released while the receive was in flight, closed after its completion.
    assert!(
        peer_closed(&mut w),
        "the released file outlived its last user"
    );

    let (r2, _w2) = UnixStream::pair().unwrap();
    let held2 = ring.hold_fd(r2).unwrap();
    // This ring's held file with the other ring's pool: refused on either ring,
    // not guessed (each holds one of the two).
    let refused = ring
        .submit_op(ops::RecvSelect::new(held2, &other_pool))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert_eq!(ring.in_flight(), 0);
    let refused = other
        .submit_op(ops::RecvSelect::new(held2, &other_pool))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(other.in_flight(), 0);

    // Two different held files in one operation: refused (the ring records one
    // per operation).
    let (pr, pw) = std::io::pipe().unwrap();
    let (pr, pw) = (ring.hold_fd(pr).unwrap(), ring.hold_fd(pw).unwrap());
    let refused = ring.submit_op(ops::Tee::new(pr, pw, 1)).unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    assert!(
        refused.error.to_string().contains("two different HeldFds"),
        "{}",
        refused.error
    );
    assert_eq!(ring.in_flight(), 0);
    // Still held, each usable alone.
    let id = ring
        .submit_op(ops::Write::new(pw, b"t".to_vec(), u64::MAX))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 1);
    let id = ring
        .submit_op(ops::Read::new(pr, Vec::with_capacity(1), u64::MAX))
        .unwrap();
    let (n, got) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &got[..]), (1, &b"t"[..]));
}

#[test]
fn many_operations_on_one_held_file_each_complete() {
    let mut ring = OwnedRing::new(32).unwrap();
    let (r, mut w) = UnixStream::pair().unwrap();
    let held = ring.hold_fd(r).unwrap();
    let (mut peer_r, peer_w) = UnixStream::pair().unwrap();
    let out = ring.hold_fd(peer_w).unwrap();
    for round in 0..4u8 {
        let ids: Vec<_> = (0..8u8)
            .map(|i| {
                ring.submit_op(ops::Send::new(out, vec![round * 8 + i]))
                    .unwrap()
            })
            .collect();
        for id in ids {
            assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 1);
        }
    }
    let mut got = [0u8; 32];
    peer_r.read_exact(&mut got).unwrap();
    assert_eq!(got.to_vec(), (0..32).collect::<Vec<u8>>());
    w.write_all(b"end").unwrap();
    let id = ring
        .submit_op(ops::Recv::new(held, Vec::with_capacity(3)))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (3, &b"end"[..]));
}

/// A direct descriptor the ring holds (`hold_direct`): operations name it as a
/// fixed file with no share of the `DirectFd` each (its holder count stays at
/// the ring's one share and ours), a release while a receive names it keeps
/// the slot filled until that receive's final completion, and then the last
/// share empties the slot (the socket is closed).
#[test]
fn a_held_direct_descriptor_is_named_without_a_share_per_operation() {
    let test = "a_held_direct_descriptor_is_named_without_a_share_per_operation";
    let mut ring = OwnedRing::new(16).unwrap();
    let Some(table) = crate::owned_direct::table(&mut ring, 4, 0, test) else {
        return;
    };
    let (ours, mut peer) = UnixStream::pair().unwrap();
    let direct = table.insert(ours).unwrap();
    let index = direct.index();
    let ours_too = direct.clone();
    let held = ring.hold_direct(direct).unwrap();
    assert!(format!("{held:?}").contains(&format!("direct_index: {index}")));
    assert!(
        format!("{ours_too:?}").contains("holders: 2"),
        "{ours_too:?}"
    );
    // Four sends in the table naming it: still two holders, none per operation.
    let ids: Vec<_> = (b'a'..=b'd')
        .map(|c| ring.submit_op(ops::Send::new(held, vec![c])).unwrap())
        .collect();
    assert!(
        format!("{ours_too:?}").contains("holders: 2"),
        "{ours_too:?}"
    );
    drop(ours_too);
    for id in ids {
        assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 1);
    }
    let mut sent = [0u8; 4];
    peer.read_exact(&mut sent).unwrap();
    sent.sort();
    assert_eq!(&sent, b"abcd");
    // Released while a receive waits on it: no new operation may name it, but
    // the slot stays filled (the socket open) until that receive's final
    // completion, which still reads from it.
    let waiting = ring.submit_op(ops::Recv::new(held, vec![0u8; 8])).unwrap();
    ring.submit().unwrap();
    ring.release_fd(held).unwrap();
    assert!(!ring.holds_fd(&held));
    let refused = ring
        .submit_op(ops::Recv::new(held, vec![0u8; 1]))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EBADF));
    assert_eq!(table.in_use(), 1, "the slot is held until the receive ends");
    peer.write_all(b"xyz").unwrap();
    let (n, buf) = ring.wait_for(waiting).unwrap();
    assert_eq!(&buf[..n.unwrap()], b"xyz");
    assert_eq!(table.in_use(), 0, "the last share emptied the slot");
    // Before 6.13 the kernel drops a file a little after its slot is emptied
    // (seen on 6.1): wait for the end of the stream rather than expect EPIPE now.
    peer.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        peer.read(&mut byte).unwrap(),
        0,
        "the socket was closed with its slot"
    );
}

/// `hold_direct` refuses another ring's direct descriptor (`EXDEV`), and the
/// refused share is dropped (its slot freed).
#[test]
fn holding_another_rings_direct_descriptor_is_refused() {
    let test = "holding_another_rings_direct_descriptor_is_refused";
    let mut a = OwnedRing::new(4).unwrap();
    let mut b = OwnedRing::new(4).unwrap();
    let Some(table) = crate::owned_direct::table(&mut a, 2, 0, test) else {
        return;
    };
    let (ours, _peer) = UnixStream::pair().unwrap();
    let direct = table.insert(ours).unwrap();
    assert_eq!(table.in_use(), 1);
    let refused = b.hold_direct(direct).unwrap_err();
    assert_eq!(errno(&refused), Some(libc::EXDEV));
    assert!(refused.to_string().contains("another ring"), "{refused}");
    assert_eq!(table.in_use(), 0, "the refused share was dropped");
}
