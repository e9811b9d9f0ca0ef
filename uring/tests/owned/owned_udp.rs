//! UDP-server operations of the safe layer: multishot `recvmsg` (`RecvMsgMultishot`:
//! sender, payload and control data of each datagram, checked against the pool
//! buffer), zero-copy `sendmsg` (`SendMsgZc`) and zero-copy sends from registered
//! buffers (`SendZcFixed`). Hazards: a datagram larger than the buffer, descriptors
//! passed in control data and never taken, a pool that runs dry, the wrong ring,
//! the ring dropped mid-stream. A kernel that lacks an operation prints why the
//! test is skipped.

use crate::support;
use support::kernel_release;
use support::pool_or_skip;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;

use uring::error::errno;
use uring::owned::{BufPool, FixedBufs, Multi, OpId, OwnedRing, SharedFd, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// Whether the first item says the kernel lacks multishot recvmsg (Linux 6.0).
fn unsupported<T>(item: &std::io::Result<T>, test: &str) -> bool {
    match item {
        Err(e) if errno(e) == Some(libc::EINVAL) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused multishot IORING_OP_RECVMSG ({e}); Linux 6.0 is needed",
                    kernel_release()
                ),
            );
            true
        }
        _ => false,
    }
}

/// The first item of a recvmsg stream, or `None` (the skip printed) where the kernel
/// lacks multishot recvmsg.
fn first_msg(
    ring: &mut OwnedRing,
    id: &OpId<Multi<ops::RecvMsgMultishot>>,
    test: &str,
) -> Option<ops::RecvMsgItem> {
    let item = ring.next_item(id).unwrap().item().expect("an item");
    if unsupported(&item, test) {
        return None;
    }
    Some(item.unwrap())
}

/// An armed recvmsg stream: `(ring, pool, to, id)`, the multishot op `id` on `ring`,
/// receiving into `pool` what is sent to the UDP socket at `to`.
type ArmedRecvMsg = (
    OwnedRing,
    BufPool,
    SocketAddr,
    OpId<Multi<ops::RecvMsgMultishot>>,
);

/// Arms a multishot recvmsg (no control data) on a fresh UDP socket, on a fresh ring
/// with a pool of `count` buffers of `size` bytes (buffer group `group`), or `None`
/// (the skip printed) where the kernel refuses the pool.
fn armed_recvmsg(group: u16, count: u16, size: u32, test: &str) -> Option<ArmedRecvMsg> {
    let mut ring = ring();
    let pool = pool_or_skip(&mut ring, group, count, size, test)?;
    let server = udp();
    let to = server.local_addr().unwrap();
    let id = ring
        .submit_multishot(ops::RecvMsgMultishot::new(server, &pool, 0).unwrap())
        .unwrap();
    Some((ring, pool, to, id))
}

fn lacks(code: u8, name: &str, since: &str, test: &str) -> bool {
    let probe = uring::probe::probe().expect("probe");
    if probe.is_supported(code) {
        return false;
    }
    support::skip(
        test,
        &format!(
            "this kernel ({}) lacks {name} (Linux {since})",
            kernel_release()
        ),
    );
    true
}

fn udp() -> UdpSocket {
    UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind")
}

/// Byte `k` of datagram `d`: any mix-up of datagrams or offsets shows.
fn byte(d: usize, k: usize) -> u8 {
    (d.wrapping_mul(131) ^ k.wrapping_mul(7)) as u8
}

#[test]
fn each_datagram_comes_with_its_sender_and_every_byte() {
    let test = "each_datagram_comes_with_its_sender_and_every_byte";
    let Some((mut ring, pool, to, id)) = armed_recvmsg(1, 16, 1024, test) else {
        return;
    };
    let clients: Vec<UdpSocket> = (0..4).map(|_| udp()).collect();
    let mut sent = Vec::new();
    for d in 0..12usize {
        let c = &clients[d % clients.len()];
        let data: Vec<u8> = (0..(d * 37 % 800 + 1)).map(|k| byte(d, k)).collect();
        c.send_to(&data, to).unwrap();
        sent.push((c.local_addr().unwrap(), data));
    }
    for (d, (from, data)) in sent.iter().enumerate() {
        let msg = if d == 0 {
            let Some(first) = first_msg(&mut ring, &id, test) else {
                return;
            };
            first
        } else {
            ring.next_item(&id)
                .unwrap()
                .item()
                .expect("an item")
                .unwrap()
        };
        assert_eq!(msg.addr(), Some(*from), "datagram {d}'s sender");
        assert_eq!(msg.payload(), &data[..], "datagram {d}'s bytes");
        assert_eq!(msg.payload_len(), data.len());
        assert!(!msg.is_truncated());
        assert!(msg.control().is_empty() && msg.fds().is_empty());
    }
    assert_eq!(
        pool.available(),
        16,
        "every buffer is back once the items are dropped"
    );
    ring.cancel(&id).unwrap();
    let last = ring.next_item(&id).unwrap().item().expect("the end");
    assert_eq!(errno(&last.unwrap_err()), Some(libc::ECANCELED));
    assert!(ring.next_item(&id).unwrap().item().is_none());
}

#[test]
fn a_datagram_larger_than_the_buffer_is_cut_and_says_so() {
    let test = "a_datagram_larger_than_the_buffer_is_cut_and_says_so";
    // 256-byte buffers: 16 header + 128 address leave 112 bytes of payload.
    let Some((mut ring, _pool, to, id)) = armed_recvmsg(2, 4, 256, test) else {
        return;
    };
    let client = udp();
    let big: Vec<u8> = (0..3000).map(|k| byte(1, k)).collect();
    client.send_to(&big, to).unwrap();
    client.send_to(b"small", to).unwrap();
    let Some(msg) = first_msg(&mut ring, &id, test) else {
        return;
    };
    assert!(msg.is_truncated());
    assert!(msg.flags() & libc::MSG_TRUNC != 0);
    assert_eq!(msg.payload_len(), 3000, "the datagram's real length");
    assert_eq!(
        msg.payload(),
        &big[..112],
        "exactly what fit, from the start"
    );
    assert_eq!(msg.addr(), Some(client.local_addr().unwrap()));
    // The next datagram is whole: the cut did not spill into it.
    let msg = ring
        .next_item(&id)
        .unwrap()
        .item()
        .expect("an item")
        .unwrap();
    assert_eq!(msg.payload(), b"small");
    assert!(!msg.is_truncated());
    ring.cancel(&id).unwrap();
    while ring.next_item(&id).unwrap().item().is_some() {}
}

#[test]
fn too_small_buffers_are_refused_before_submitting() {
    let test = "too_small_buffers_are_refused_before_submitting";
    let mut ring = ring();
    let Some(pool144) = pool_or_skip(&mut ring, 3, 2, 144, test) else {
        return;
    };
    let e = ops::RecvMsgMultishot::new(udp(), &pool144, 0).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL));
    assert!(e.to_string().contains("144"), "{e}");
    let Some(pool200) = pool_or_skip(&mut ring, 4, 2, 200, test) else {
        return;
    };
    // 200 bytes hold the header and the address, not 64 bytes of control data.
    assert!(ops::RecvMsgMultishot::new(udp(), &pool200, 0).is_ok());
    assert_eq!(
        errno(&ops::RecvMsgMultishot::new(udp(), &pool200, 64).unwrap_err()),
        Some(libc::EINVAL)
    );
}

#[test]
fn descriptors_in_control_data_are_owned_and_closed_when_not_taken() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "descriptors_in_control_data_are_owned_and_closed_when_not_taken";
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 5, 4, 512, test) else {
        return;
    };
    let (a, b) = UnixDatagram::pair().unwrap();
    let id = ring
        .submit_multishot(ops::RecvMsgMultishot::new(b, &pool, 64).unwrap())
        .unwrap();
    // Two pipes; their write ends travel, and are dropped here.
    let (r1, w1) = support::pipe();
    let (r2, w2) = support::pipe();
    support::send_fd(&a, w1.as_raw_fd(), b'1');
    support::send_fd(&a, w2.as_raw_fd(), b'2');
    drop((w1, w2));

    let Some(mut msg) = first_msg(&mut ring, &id, test) else {
        return;
    };
    assert_eq!(msg.payload(), b"1");
    assert!(!msg.control().is_empty());
    let fds = msg.take_fds();
    assert_eq!(fds.len(), 1);
    // SAFETY: F_GETFD on a descriptor we own touches no memory.
    let fl = unsafe { libc::fcntl(fds[0].as_raw_fd(), libc::F_GETFD) };
    assert!(fl >= 0 && fl & libc::FD_CLOEXEC != 0, "close-on-exec");
    let mut w = std::fs::File::from(fds.into_iter().next().unwrap());
    w.write_all(b"via the passed fd").unwrap();
    drop(w);
    assert_eq!(support::read_fd(r1.as_raw_fd(), 64), b"via the passed fd");

    // The second item's descriptor is never taken: dropping the item closes it,
    // so the pipe's only write end is gone and its reader sees end of file.
    let msg = ring
        .next_item(&id)
        .unwrap()
        .item()
        .expect("an item")
        .unwrap();
    assert_eq!((msg.payload(), msg.fds().len()), (&b"2"[..], 1));
    drop(msg);
    let mut r2 = std::fs::File::from(r2);
    let mut rest = Vec::new();
    assert_eq!(
        r2.read_to_end(&mut rest).unwrap(),
        0,
        "the write end was closed"
    );
    ring.cancel(&id).unwrap();
    while ring.next_item(&id).unwrap().item().is_some() {}
}

#[test]
fn a_pool_that_runs_dry_ends_the_stream_with_enobufs_and_keeps_what_arrived() {
    let test = "a_pool_that_runs_dry_ends_the_stream_with_enobufs_and_keeps_what_arrived";
    let Some((mut ring, pool, to, id)) = armed_recvmsg(6, 2, 256, test) else {
        return;
    };
    let client = udp();
    // Wait for the first, so the op is armed, then send more than the pool holds.
    client.send_to(b"d0", to).unwrap();
    // Held: one buffer out.
    let Some(first) = first_msg(&mut ring, &id, test) else {
        return;
    };
    for d in 1..4u8 {
        client.send_to(&[b'd', b'0' + d], to).unwrap();
    }
    let mut got = vec![first];
    let end = loop {
        match ring.next_item(&id).unwrap().item() {
            Some(Ok(m)) => got.push(m),
            Some(Err(e)) => break e,
            None => panic!("the stream ended without the pool's error"),
        }
    };
    assert_eq!(errno(&end), Some(libc::ENOBUFS));
    assert_eq!(got.len(), 2, "the two buffers of the pool");
    assert_eq!(got[0].payload(), b"d0");
    assert_eq!(got[1].payload(), b"d1");
    assert!(ring.next_item(&id).unwrap().item().is_none());
    drop(got);
    assert_eq!(pool.available(), 2);
}

#[test]
fn a_recvmsg_stream_is_refused_by_another_ring() {
    let test = "a_recvmsg_stream_is_refused_by_another_ring";
    let mut a = ring();
    let mut b = ring();
    let Some(pool) = pool_or_skip(&mut a, 7, 2, 512, test) else {
        return;
    };
    let refused = b
        .submit_multishot(ops::RecvMsgMultishot::new(udp(), &pool, 0).unwrap())
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
}

#[test]
fn dropping_the_ring_mid_stream_gives_every_buffer_back() {
    let test = "dropping_the_ring_mid_stream_gives_every_buffer_back";
    let Some((mut ring, pool, to, id)) = armed_recvmsg(8, 4, 512, test) else {
        return;
    };
    let client = udp();
    client.send_to(b"first", to).unwrap();
    let Some(held) = first_msg(&mut ring, &id, test) else {
        return;
    };
    client.send_to(b"queued, never taken", to).unwrap();
    // Let the second arrive in the table's queue of items, not taken.
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(ring);
    assert_eq!(held.payload(), b"first", "a held item outlives the ring");
    assert_eq!(pool.available(), 3);
    drop(held);
    assert_eq!(pool.available(), 4);
}

#[test]
fn sendmsg_zc_sends_every_buffer_and_gives_them_back_after_the_notification() {
    let test = "sendmsg_zc_sends_every_buffer_and_gives_them_back_after_the_notification";
    if lacks(
        uring::op::SendMsgZc::CODE,
        "IORING_OP_SENDMSG_ZC",
        "6.1",
        test,
    ) {
        return;
    }
    let mut ring = ring();
    let rx = udp();
    let tx = udp();
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|p| (0..500).map(|k| byte(p, k)).collect())
        .collect();
    let op = ops::SendMsgZc::new(tx, parts.clone()).to(rx.local_addr().unwrap());
    let id = ring.submit_op(op).unwrap();
    let (n, back) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 1500);
    assert_eq!(back, parts, "the buffers come back untouched");
    let mut got = vec![0u8; 2000];
    let len = rx.recv(&mut got).unwrap();
    assert_eq!(&got[..len], &parts.concat()[..]);

    // An error (no destination on an unconnected socket) comes back, buffers too.
    let id = ring
        .submit_op(ops::SendMsgZc::new(udp(), vec![b"x".to_vec()]))
        .unwrap();
    let (n, back) = ring.wait_for(id).unwrap();
    assert_eq!(errno(&n.unwrap_err()), Some(libc::EDESTADDRREQ));
    assert_eq!(back, vec![b"x".to_vec()]);
}

#[test]
fn send_zc_from_a_registered_buffer_sends_its_bytes_and_is_bound_to_its_ring() {
    let test = "send_zc_from_a_registered_buffer_sends_its_bytes_and_is_bound_to_its_ring";
    if lacks(uring::op::SendZc::CODE, "IORING_OP_SEND_ZC", "6.0", test) {
        return;
    }
    let mut ring = ring();
    let bufs = FixedBufs::new(&mut ring, 2, 8192).unwrap();
    let (a, mut b) = support::tcp_pair();
    let a = SharedFd::from(a);
    let data: Vec<u8> = (0..8192).map(|k| byte(9, k)).collect();
    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(&data).unwrap();
    let id = ring.submit_op(ops::SendZcFixed::new(&a, buf)).unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 8192);
    let mut got = vec![0u8; 8192];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, data);
    assert_eq!(&buf[..], &data[..], "the buffer comes back as it was");

    // A slice of it, over UDP with a destination.
    let rx = udp();
    let tx = SharedFd::from(udp());
    use uring::owned::IoBuf as _;
    let op = ops::SendZcFixed::new(&tx, buf.slice(100..164)).to(rx.local_addr().unwrap());
    let id = ring.submit_op(op).unwrap();
    let (n, _slice) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 64);
    let mut dgram = [0u8; 128];
    let len = rx.recv(&mut dgram).unwrap();
    assert_eq!(&dgram[..len], &data[100..164]);

    // Another ring refuses it, and gives the buffer back.
    let mut other = OwnedRing::new(4).unwrap();
    let refused = other
        .submit_op(ops::SendZcFixed::new(&a, bufs.get().unwrap()))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    let _buf = refused.op.into_buf();
}
