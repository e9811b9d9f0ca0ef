//! Provided-buffer pools in the safe layer: the kernel picks the buffer, the
//! completion hands over a guard, dropping the guard recycles the buffer. Each
//! test checks the bytes, buffer ids and errnos the kernel produced.

use crate::support::pool_or_skip;

use std::io::Write as _;
use std::os::unix::net::UnixStream;

use uring::error::errno as errno_of;
use uring::owned::{BufPool, OwnedRing, PoolBuf, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// A ring with a pool (group `group`: `count` buffers of `size` bytes) and a
/// socket pair: the end to receive from, shared, and its peer to write into.
/// `None`, the test skipped (named `what`), where the kernel has no buffer
/// rings.
fn ring_pool_socket(
    group: u16,
    count: u16,
    size: u32,
    what: &str,
) -> Option<(OwnedRing, BufPool, uring::owned::SharedFd, UnixStream)> {
    let mut ring = ring();
    let pool = pool_or_skip(&mut ring, group, count, size, what)?;
    let (r, w) = UnixStream::pair().unwrap();
    Some((ring, pool, uring::owned::SharedFd::from(r), w))
}

fn recv(
    ring: &mut OwnedRing,
    fd: &uring::owned::SharedFd,
    pool: &BufPool,
) -> std::io::Result<PoolBuf> {
    let id = ring
        .submit_op(ops::RecvSelect::new(fd, pool))
        .expect("submit");
    ring.wait_for(id).expect("wait")
}

fn errno(r: std::io::Result<PoolBuf>) -> Option<i32> {
    r.err().and_then(|e| errno_of(&e))
}

#[test]
fn recv_select_hands_over_exactly_the_bytes_and_reuses_the_buffer_after_drop() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 1, 1, 32, "recv_select_bytes") else {
        return;
    };
    assert_eq!((pool.len(), pool.buf_size(), pool.group()), (1, 32, 1));
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = uring::owned::SharedFd::from(r);

    w.write_all(b"first").unwrap();
    let buf = recv(&mut ring, &r, &pool).unwrap();
    assert_eq!(&buf[..], b"first");
    assert_eq!(buf.buffer_id(), Some(0));
    assert_eq!(buf.group(), 1);
    assert_eq!(pool.available(), 0, "the only buffer is held by the guard");

    // While the guard holds it, the kernel has nothing to pick.
    w.write_all(b"second").unwrap();
    assert_eq!(errno(recv(&mut ring, &r, &pool)), Some(libc::ENOBUFS));

    drop(buf);
    assert_eq!(pool.available(), 1);
    let buf = recv(&mut ring, &r, &pool).unwrap();
    assert_eq!(
        buf.buffer_id(),
        Some(0),
        "the recycled buffer is picked again"
    );
    assert_eq!(&buf[..], b"second", "and holds only the new bytes");
}

#[test]
fn an_exhausted_pool_fails_with_enobufs_until_a_guard_drops() {
    let Some((mut ring, pool, r, mut w)) = ring_pool_socket(2, 2, 16, "exhaust") else {
        return;
    };
    let mut held = Vec::new();
    for msg in [&b"aa"[..], b"bbb"] {
        w.write_all(msg).unwrap();
        let buf = recv(&mut ring, &r, &pool).unwrap();
        assert_eq!(&buf[..], msg);
        held.push(buf);
    }
    let mut ids: Vec<_> = held.iter().map(|b| b.buffer_id().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, [0, 1], "two distinct buffers");
    w.write_all(b"cccc").unwrap();
    assert_eq!(errno(recv(&mut ring, &r, &pool)), Some(libc::ENOBUFS));
    // The data is still in the socket: one guard back, and it arrives.
    let freed = held.remove(0).buffer_id();
    let buf = recv(&mut ring, &r, &pool).unwrap();
    assert_eq!(&buf[..], b"cccc");
    assert_eq!(buf.buffer_id(), freed);
}

#[test]
fn a_forgotten_guard_keeps_its_buffer_out_and_nothing_else_breaks() {
    let Some((mut ring, pool, r, mut w)) = ring_pool_socket(3, 2, 16, "forget") else {
        return;
    };
    w.write_all(b"lost").unwrap();
    let lost = recv(&mut ring, &r, &pool).unwrap();
    let lost_id = lost.buffer_id().unwrap();
    std::mem::forget(lost);
    assert_eq!(pool.available(), 1);
    // Only the other buffer circulates from now on.
    for i in 0..4u8 {
        w.write_all(&[b'0' + i; 3]).unwrap();
        let buf = recv(&mut ring, &r, &pool).unwrap();
        assert_eq!(&buf[..], &[b'0' + i; 3]);
        assert_ne!(buf.buffer_id(), Some(lost_id));
    }
    let held = {
        w.write_all(b"x").unwrap();
        recv(&mut ring, &r, &pool).unwrap()
    };
    w.write_all(b"y").unwrap();
    assert_eq!(errno(recv(&mut ring, &r, &pool)), Some(libc::ENOBUFS));
    drop(held);
}

#[test]
fn a_guard_outlives_the_ring_and_the_pool_handle() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 4, 2, 16, "outlive") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    w.write_all(b"survivor").unwrap();
    let id = ring.submit_op(ops::RecvSelect::new(r, &pool)).unwrap();
    let buf = ring.wait_for(id).unwrap().unwrap();
    drop(ring);
    drop(pool);
    // The guard keeps the pool's memory; reading and recycling it touch only live
    // memory (AddressSanitizer checks this run).
    assert_eq!(&buf[..], b"survivor");
    drop(buf);
}

/// Whoever goes last of a pool's handles (and operations) and its guards frees
/// it, which unregisters its group: until then the group stays taken.
#[test]
fn the_last_of_the_handles_and_guards_frees_the_pool() {
    let Some((mut ring, pool, r, mut w)) = ring_pool_socket(12, 2, 16, "last frees") else {
        return;
    };
    w.write_all(b"one").unwrap();
    let first = recv(&mut ring, &r, &pool).unwrap();
    w.write_all(b"two").unwrap();
    let second = recv(&mut ring, &r, &pool).unwrap();
    // The handle first: the two guards keep the pool, and its group.
    drop(pool);
    assert_eq!(
        BufPool::new(&mut ring, 12, 1, 8)
            .err()
            .as_ref()
            .and_then(errno_of),
        Some(libc::EEXIST)
    );
    assert_eq!((&first[..], &second[..]), (&b"one"[..], &b"two"[..]));
    drop(first);
    assert_eq!(
        BufPool::new(&mut ring, 12, 1, 8)
            .err()
            .as_ref()
            .and_then(errno_of),
        Some(libc::EEXIST),
        "one guard is left"
    );
    // The last guard frees it: the group can be registered again.
    drop(second);
    let again = BufPool::new(&mut ring, 12, 1, 8).expect("group 12 is free again");
    // Now the guard first: the last handle frees it.
    w.write_all(b"three").unwrap();
    let third = recv(&mut ring, &r, &again).unwrap();
    assert_eq!(&third[..], b"three");
    drop(third);
    drop(again);
    BufPool::new(&mut ring, 12, 1, 8).expect("group 12 is free once more");
}

#[test]
fn a_guard_dropped_on_another_thread_recycles_its_buffer() {
    let Some((mut ring, pool, r, mut w)) = ring_pool_socket(5, 1, 16, "threads") else {
        return;
    };
    w.write_all(b"over there").unwrap();
    let buf = recv(&mut ring, &r, &pool).unwrap();
    let got = std::thread::spawn(move || {
        let v = buf.to_vec();
        drop(buf);
        v
    })
    .join()
    .unwrap();
    assert_eq!(got, b"over there");
    assert_eq!(pool.available(), 1);
    w.write_all(b"back").unwrap();
    let buf = recv(&mut ring, &r, &pool).unwrap();
    assert_eq!((&buf[..], buf.buffer_id()), (&b"back"[..], Some(0)));
}

#[test]
fn read_select_on_a_pipe_and_end_of_file() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 6, 2, 8, "read_select") else {
        return;
    };
    let (r, w) = std::io::pipe().unwrap();
    let r = uring::owned::SharedFd::from(std::os::fd::OwnedFd::from(r));
    let mut w = std::fs::File::from(std::os::fd::OwnedFd::from(w));
    w.write_all(b"0123456789").unwrap();
    let id = ring
        .submit_op(ops::ReadSelect::new(&r, &pool, u64::MAX))
        .unwrap();
    let a = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&a[..], b"01234567", "at most one buffer's worth");
    let id = ring
        .submit_op(ops::ReadSelect::new(&r, &pool, u64::MAX))
        .unwrap();
    let b = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&b[..], b"89");
    assert_ne!(a.buffer_id(), b.buffer_id());
    drop((a, b));
    drop(w);
    let id = ring
        .submit_op(ops::ReadSelect::new(&r, &pool, u64::MAX))
        .unwrap();
    let eof = ring.wait_for(id).unwrap().unwrap();
    assert!(eof.is_empty(), "end of file is an empty guard");
    drop(eof);
    assert_eq!(pool.available(), 2, "every buffer is back");
}

#[test]
fn a_pool_serves_only_its_own_ring() {
    let mut a = ring();
    let mut b = ring();
    let Some(pool) = pool_or_skip(&mut a, 7, 1, 8, "foreign ring") else {
        return;
    };
    let (r, _w) = UnixStream::pair().unwrap();
    let err = b.submit_op(ops::RecvSelect::new(r, &pool)).unwrap_err();
    assert_eq!(errno_of(&err.error), Some(libc::EXDEV));
    assert_eq!(b.in_flight(), 0);
    // The same in a chain: refused whole.
    let (r, _w2) = UnixStream::pair().unwrap();
    let err = b
        .submit_linked((ops::Nop::new(), ops::RecvSelect::new(r, &pool)))
        .unwrap_err();
    assert_eq!(errno_of(&err.error), Some(libc::EXDEV));
    assert_eq!(b.in_flight(), 0);
}

#[test]
fn one_group_cannot_be_registered_twice() {
    let mut ring = ring();
    let Some(_pool) = pool_or_skip(&mut ring, 8, 1, 8, "group twice") else {
        return;
    };
    let err = BufPool::new(&mut ring, 8, 1, 8).unwrap_err();
    assert_eq!(errno_of(&err), Some(libc::EEXIST));
    assert_eq!(
        errno_of(&BufPool::new(&mut ring, 9, 0, 8).unwrap_err()),
        Some(libc::EINVAL)
    );
}

#[test]
fn an_op_in_flight_keeps_the_pool_after_every_handle_is_dropped() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 10, 1, 16, "pool kept by op") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let id = ring.submit_op(ops::RecvSelect::new(r, &pool)).unwrap();
    ring.submit().unwrap();
    drop(pool);
    w.write_all(b"late data").unwrap();
    let buf = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&buf[..], b"late data");
}

#[test]
fn dropping_the_ring_with_a_select_in_flight_cancels_it_and_keeps_the_pool_whole() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 11, 2, 16, "drop with select") else {
        return;
    };
    let (r, _w) = UnixStream::pair().unwrap();
    let _id = ring.submit_op(ops::RecvSelect::new(r, &pool)).unwrap();
    ring.submit().unwrap();
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (1, 0));
    assert_eq!(pool.available(), 2, "a cancelled receive takes no buffer");
}

#[test]
fn a_guard_is_sent_as_it_is_and_recycled_when_the_send_gives_it_back() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 12, 1, 32, "guard as send buffer") else {
        return;
    };
    let (a, mut peer) = UnixStream::pair().unwrap();
    let a = uring::owned::SharedFd::from(a);
    peer.write_all(b"bounce me").unwrap();
    let buf = recv(&mut ring, &a, &pool).unwrap();
    // The guard itself is the send's buffer: no copy.
    let id = ring.submit_op(ops::Send::new(&a, buf)).unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 9);
    assert_eq!(&buf[..], b"bounce me", "it comes back with the result");
    assert_eq!(pool.available(), 0);
    drop(buf);
    assert_eq!(pool.available(), 1);
    let mut got = [0u8; 9];
    std::io::Read::read_exact(&mut peer, &mut got).unwrap();
    assert_eq!(&got, b"bounce me");
}

/// Buffers returned from another thread while the ring's thread takes new ones
/// (a multishot receive reaping into the same pool): every byte arrives once and
/// in order, no held buffer is written by the kernel (the other thread checks
/// each one's bytes just before dropping it, after a delay), and at the end
/// every buffer is back.
#[test]
fn returns_from_another_thread_race_the_rings_takes_and_lose_nothing() {
    use std::sync::mpsc;
    use uring::owned::Next;

    const TOTAL: usize = 256 * 1024;
    const BUFS: u16 = 8;
    let pattern = |i: usize| (i % 251) as u8;
    let mut ring = OwnedRing::new(64).expect("io_uring set-up");
    let Some(pool) = pool_or_skip(&mut ring, 11, BUFS, 64, "cross-thread returns") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = uring::owned::SharedFd::from(r);
    let writer = std::thread::spawn(move || {
        let data: Vec<u8> = (0..TOTAL).map(pattern).collect();
        for chunk in data.chunks(1000) {
            w.write_all(chunk).unwrap();
        }
        w
    });
    let (tx, rx) = mpsc::channel::<(PoolBuf, Vec<u8>)>();
    let returner = std::thread::spawn(move || {
        let mut n = 0u32;
        for (buf, expect) in rx {
            n += 1;
            if n % 7 == 0 {
                std::thread::yield_now();
            }
            assert_eq!(&buf[..], &expect[..], "a held buffer changed");
            drop(buf);
        }
    });
    let mut got = 0usize;
    let mut id = ring
        .submit_multishot(ops::RecvMultishot::new(&r, &pool))
        .unwrap();
    while got < TOTAL {
        match ring.next_item(&id).unwrap() {
            Next::Item(Ok(buf)) => {
                for (i, &b) in buf.iter().enumerate() {
                    assert_eq!(b, pattern(got + i), "byte {} out of order", got + i);
                }
                got += buf.len();
                let copy = buf.to_vec();
                tx.send((buf, copy)).unwrap();
            }
            Next::Item(Err(e)) => {
                let code = errno_of(&e);
                if code == Some(libc::EINVAL) && got == 0 {
                    crate::support::skip(
                        "cross-thread returns",
                        &format!("the kernel refused multishot receive ({e})"),
                    );
                    return;
                }
                assert_eq!(code, Some(libc::ENOBUFS), "{e}");
            }
            // Ran dry (ENOBUFS) or a full queue: the bytes wait in the socket.
            Next::End(_) => {
                while pool.available() == 0 {
                    std::thread::yield_now();
                }
                id = ring
                    .submit_multishot(ops::RecvMultishot::new(&r, &pool))
                    .unwrap();
            }
        }
    }
    // The stream may have ended by itself as the last bytes came (the pool ran
    // dry; seen on 6.1): then there is nothing left to cancel or drain.
    match ring.cancel(&id) {
        Ok(()) => {
            while let Next::Item(item) = ring.next_item(&id).unwrap() {
                if let Ok(buf) = item {
                    assert!(buf.is_empty(), "no bytes after the last: {:?}", &buf[..]);
                }
            }
        }
        Err(e) => assert_eq!(errno_of(&e), Some(libc::ENOENT), "{e}"),
    }
    drop(tx);
    returner.join().unwrap();
    drop(writer.join().unwrap());
    assert_eq!(got, TOTAL);
    assert_eq!(pool.available(), usize::from(BUFS), "every buffer back");
}

/// Guards dropped on two other threads at once after the ring and every pool
/// handle are gone: the last return frees the pool, once, and no return touches
/// freed memory (AddressSanitizer checks this run).
#[test]
fn guards_dropped_on_two_threads_after_the_ring_is_gone() {
    let Some((mut ring, pool, r, mut w)) = ring_pool_socket(12, 8, 16, "guards after the ring")
    else {
        return;
    };
    let mut bufs = Vec::new();
    for i in 0..8u8 {
        w.write_all(&[i; 3]).unwrap();
        let buf = recv(&mut ring, &r, &pool).unwrap();
        assert_eq!(&buf[..], &[i; 3]);
        bufs.push(buf);
    }
    assert_eq!(pool.available(), 0);
    drop(ring);
    drop(pool);
    let second = bufs.split_off(4);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let threads: Vec<_> = [bufs, second]
        .into_iter()
        .map(|bufs| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                for buf in bufs {
                    let i = buf[0];
                    assert_eq!(&buf[..], &[i; 3]);
                    drop(buf);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
