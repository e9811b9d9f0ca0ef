//! End to end, against the running kernel, over 127.0.0.1 only: socket creation,
//! bind, listen, accept (plain, multishot, direct), connect, send and receive
//! (plain, message, zero-copy, multishot with provided buffers, sendto), shutdown,
//! socket commands, poll and epoll.

use crate::support;
use support::pipe;

use crate::support::ops as ops_common;

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use ops_common::*;
use uring::Ring;
use uring::op::*;
use uring::types::*;

fn loopback(port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    }
}

const SIN_LEN: libc::socklen_t = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;

fn local_addr(fd: i32) -> libc::sockaddr_in {
    // SAFETY: sockaddr_in is plain data; getsockname writes at most `len` bytes.
    unsafe {
        let mut sin: libc::sockaddr_in = std::mem::zeroed();
        let mut len = SIN_LEN;
        assert_eq!(libc::getsockname(fd, (&raw mut sin).cast(), &mut len), 0);
        sin
    }
}

fn port_of(fd: i32) -> u16 {
    u16::from_be(local_addr(fd).sin_port)
}

/// A socket made through the ring (IORING_OP_SOCKET, Linux 5.19), or with
/// `socket(2)` on older kernels so the other tests still run there.
fn socket(ring: &mut Ring, ty: i32) -> OwnedFd {
    let fd = if uring::probe::probe().is_ok_and(|p| p.is_supported(Socket::CODE)) {
        let sqe = Socket::new(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0).build();
        // SAFETY: no memory named.
        unsafe { run(ring, sqe) }.raw_result()
    } else {
        // SAFETY: plain call.
        unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) }
    };
    assert!(fd >= 0, "socket: {fd}");
    // SAFETY: the kernel just created it for us.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// A listening TCP socket on 127.0.0.1, an ephemeral port (bound with the libc calls,
/// so the helper works where IORING_OP_BIND is missing).
fn listener(ring: &mut Ring) -> OwnedFd {
    let l = socket(ring, libc::SOCK_STREAM);
    let sin = loopback(0);
    assert_eq!(
        // SAFETY: sin is a valid sockaddr_in of SIN_LEN bytes.
        unsafe { libc::bind(l.as_raw_fd(), (&raw const sin).cast(), SIN_LEN) },
        0
    );
    // SAFETY: plain call on a valid socket.
    assert_eq!(unsafe { libc::listen(l.as_raw_fd(), 16) }, 0);
    l
}

/// (listener, server end, client end), connected through the ring's Accept and Connect.
fn tcp_pair(ring: &mut Ring) -> (OwnedFd, OwnedFd, OwnedFd) {
    let l = listener(ring);
    let c = socket(ring, libc::SOCK_STREAM);
    let to = loopback(port_of(l.as_raw_fd()));
    // SAFETY: peer and peer_len are written by the kernel.
    let mut peer: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut peer_len = SIN_LEN;
    let sqes = [
        Accept::new(Fd::from(&l), (&raw mut peer).cast(), &mut peer_len)
            .flags(libc::SOCK_CLOEXEC)
            .build()
            .user_data(1),
        Connect::new(Fd::from(&c), (&raw const to).cast(), SIN_LEN)
            .build()
            .user_data(2),
    ];
    // SAFETY: peer, peer_len and to outlive the completions.
    let cqes = unsafe { run_n(ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0, "connect");
    let s = by_user_data(&cqes, 1).raw_result();
    assert!(s >= 0, "accept: {s}");
    assert_eq!(peer_len, SIN_LEN);
    assert_eq!(peer.sin_addr.s_addr, u32::from_ne_bytes([127, 0, 0, 1]));
    assert_eq!(
        u16::from_be(peer.sin_port),
        port_of(c.as_raw_fd()),
        "the peer is our client"
    );
    // SAFETY: the kernel just accepted it for us.
    (l, unsafe { OwnedFd::from_raw_fd(s) }, c)
}

#[test]
fn accept_connect_send_recv_echo() {
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    let mut buf = [0u8; 16];
    // SAFETY: the buffers outlive the completions.
    unsafe {
        let send = Send::new(Fd::from(&c), b"ping".as_ptr(), 4).flags(libc::MSG_NOSIGNAL);
        assert_eq!(run(&mut ring, send.build()).raw_result(), 4);
        let recv = Recv::new(Fd::from(&s), buf.as_mut_ptr(), 16);
        assert_eq!(run(&mut ring, recv.build()).raw_result(), 4);
        assert_eq!(&buf[..4], b"ping");
        let send = Send::new(Fd::from(&s), b"pong!".as_ptr(), 5);
        assert_eq!(run(&mut ring, send.build()).raw_result(), 5);
        // MSG_WAITALL: exactly the five bytes sent.
        let recv = Recv::new(Fd::from(&c), buf.as_mut_ptr(), 5).flags(libc::MSG_WAITALL);
        assert_eq!(run(&mut ring, recv.build()).raw_result(), 5);
        assert_eq!(&buf[..5], b"pong!");
    }
}

#[test]
fn bind_and_listen_through_the_ring() {
    for code in [Bind::CODE, Listen::CODE] {
        if !supported(code, "bind_and_listen_through_the_ring") {
            return;
        }
    }
    let mut ring = ring();
    let l = socket(&mut ring, libc::SOCK_STREAM);
    let sin = loopback(0);
    // SAFETY: sin outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Bind::new(Fd::from(&l), (&raw const sin).cast(), SIN_LEN).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    let port = port_of(l.as_raw_fd());
    assert_ne!(port, 0, "bound to an ephemeral port");
    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, Listen::new(Fd::from(&l), 8).build()) }.raw_result(),
        0
    );
    // A plain client connects to it.
    let mut client =
        TcpStream::connect(("127.0.0.1", port)).expect("connect to the ring's listener");
    let accept = Accept::new(Fd::from(&l), std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: no memory named (null address pointers).
    let fd = unsafe { run(&mut ring, accept.build()) }.raw_result();
    assert!(fd >= 0);
    // SAFETY: accepted for us.
    let server = unsafe { OwnedFd::from_raw_fd(fd) };
    crate::support::write_all(&server, b"hi");
    let mut got = [0u8; 2];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi");
    // Binding again to an address in use.
    let other = socket(&mut ring, libc::SOCK_STREAM);
    let taken = loopback(port);
    // SAFETY: taken outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Bind::new(Fd::from(&other), (&raw const taken).cast(), SIN_LEN).build(),
        )
    };
    assert_eq!(cqe.raw_result(), -libc::EADDRINUSE);
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    let mut ring = ring();
    let port = {
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let c = socket(&mut ring, libc::SOCK_STREAM);
    let to = loopback(port);
    // SAFETY: to outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Connect::new(Fd::from(&c), (&raw const to).cast(), SIN_LEN).build(),
        )
    };
    assert_eq!(cqe.raw_result(), -libc::ECONNREFUSED);
}

#[test]
fn sendmsg_recvmsg() {
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    let (a, b) = (b"scatter ", b"gather");
    let out = [
        libc::iovec {
            iov_base: a.as_ptr() as *mut _,
            iov_len: a.len(),
        },
        libc::iovec {
            iov_base: b.as_ptr() as *mut _,
            iov_len: b.len(),
        },
    ];
    // SAFETY: msghdr is plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = out.as_ptr() as *mut _;
    msg.msg_iovlen = 2;
    // SAFETY: msg and what it points at outlive the completion.
    let cqe = unsafe { run(&mut ring, SendMsg::new(Fd::from(&c), &msg).build()) };
    assert_eq!(cqe.raw_result(), 14);
    let mut inbuf = [0u8; 32];
    // MSG_WAITALL below: ask for exactly the 14 bytes sent.
    let inv = [libc::iovec {
        iov_base: inbuf.as_mut_ptr().cast(),
        iov_len: 14,
    }];
    // SAFETY: as above.
    let mut rmsg: libc::msghdr = unsafe { std::mem::zeroed() };
    rmsg.msg_iov = inv.as_ptr() as *mut _;
    rmsg.msg_iovlen = 1;
    // SAFETY: as above.
    let cqe = unsafe {
        run(
            &mut ring,
            RecvMsg::new(Fd::from(&s), &mut rmsg)
                .flags(libc::MSG_WAITALL as u32)
                .build(),
        )
    };
    assert_eq!(cqe.raw_result(), 14);
    assert_eq!(&inbuf[..14], b"scatter gather");
}

#[test]
fn send_zc_posts_a_result_then_a_notification() {
    if !kernel_at_least(
        6,
        2,
        "send_zc_posts_a_result_then_a_notification",
        "IORING_SEND_ZC_REPORT_USAGE",
    ) {
        return;
    }
    if !supported(SendZc::CODE, "send_zc_posts_a_result_then_a_notification") {
        return;
    }
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    let data = b"zero-copy";
    let sqe = SendZc::new(Fd::from(&c), data.as_ptr(), data.len() as u32)
        .zc_flags(RecvSendFlags::ZC_REPORT_USAGE)
        .build()
        .user_data(7);
    // SAFETY: data outlives both completions.
    let cqes = unsafe { run_n(&mut ring, &[sqe], 2) };
    let (result, notif) = (&cqes[0], &cqes[1]);
    assert_eq!(
        (result.user_data(), result.raw_result()),
        (7, data.len() as i32)
    );
    assert!(result.is_more(), "a notification follows");
    assert_eq!(notif.user_data(), 7);
    assert!(notif.is_notif(), "flags {:?}", notif.flags());
    // Loopback cannot send from user pages: the usage report says the data was copied.
    assert_ne!(
        notif.raw_result() as u32 & uring::sys::IORING_NOTIF_USAGE_ZC_COPIED,
        0
    );
    let mut got = [0u8; 16];
    // SAFETY: got outlives the completion.
    let n = unsafe {
        run(
            &mut ring,
            Recv::new(Fd::from(&s), got.as_mut_ptr(), 16).build(),
        )
    }
    .raw_result();
    assert_eq!(&got[..n as usize], data);

    // From a registered buffer.
    let mut reg = vec![0u8; 4096];
    reg[..5].copy_from_slice(b"fixed");
    let iov = libc::iovec {
        iov_base: reg.as_mut_ptr().cast(),
        iov_len: reg.len(),
    };
    assert_eq!(
        // SAFETY: reg outlives the ring's use of it (the ring is dropped first at the end).
        unsafe { uring::sys::io_uring_register_buffers(ring.as_raw_mut(), &iov, 1) },
        0
    );
    let sqe = SendZc::new(Fd::from(&c), reg.as_ptr(), 5)
        .buf_index(Some(0))
        .build()
        .user_data(8);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[sqe], 2) };
    assert_eq!(cqes[0].raw_result(), 5);
    assert!(cqes[1].is_notif());
    // SAFETY: got outlives the completion.
    let n = unsafe {
        run(
            &mut ring,
            Recv::new(Fd::from(&s), got.as_mut_ptr(), 16).build(),
        )
    }
    .raw_result();
    assert_eq!(&got[..n as usize], b"fixed");
    drop(ring);
}

#[test]
fn sendmsg_zc_delivers_the_message() {
    if !supported(SendMsgZc::CODE, "sendmsg_zc_delivers_the_message") {
        return;
    }
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    let data = b"message, zero-copy";
    let iov = [libc::iovec {
        iov_base: data.as_ptr() as *mut _,
        iov_len: data.len(),
    }];
    // SAFETY: msghdr is plain data.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut _;
    msg.msg_iovlen = 1;
    // SAFETY: msg, iov and data outlive both completions.
    let cqes = unsafe {
        run_n(
            &mut ring,
            &[SendMsgZc::new(Fd::from(&c), &msg).build().user_data(3)],
            2,
        )
    };
    assert_eq!(cqes[0].raw_result(), data.len() as i32);
    assert!(cqes[0].is_more() && cqes[1].is_notif());
    let mut got = [0u8; 32];
    // SAFETY: got outlives the completion.
    let n = unsafe {
        run(
            &mut ring,
            Recv::new(Fd::from(&s), got.as_mut_ptr(), 32).build(),
        )
    }
    .raw_result();
    assert_eq!(&got[..n as usize], data);
}

#[test]
fn shutdown_ends_the_peers_stream() {
    if !supported(Shutdown::CODE, "shutdown_ends_the_peers_stream") {
        return;
    }
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    assert_eq!(
        // SAFETY: no memory named.
        unsafe {
            run(
                &mut ring,
                Shutdown::new(Fd::from(&c), libc::SHUT_WR).build(),
            )
        }
        .raw_result(),
        0
    );
    let mut buf = [0u8; 4];
    // SAFETY: buf outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Recv::new(Fd::from(&s), buf.as_mut_ptr(), 4).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0, "end of stream");
    // Sending on the shut-down side fails.
    let send = Send::new(Fd::from(&c), b"x".as_ptr(), 1).flags(libc::MSG_NOSIGNAL);
    assert_eq!(
        // SAFETY: the buffer is static.
        unsafe { run(&mut ring, send.build()) }.raw_result(),
        -libc::EPIPE
    );
}

#[test]
fn multishot_accept_accepts_every_connection() {
    if !kernel_at_least(
        5,
        19,
        "multishot_accept_accepts_every_connection",
        "IORING_ACCEPT_MULTISHOT",
    ) {
        return;
    }
    let mut ring = ring();
    let l = listener(&mut ring);
    let port = port_of(l.as_raw_fd());
    let accept = Accept::new(Fd::from(&l), std::ptr::null_mut(), std::ptr::null_mut())
        .flags(libc::SOCK_CLOEXEC)
        .multishot(true)
        .build()
        .user_data(1);
    // SAFETY: no memory named.
    unsafe { ring.push(&accept) }.unwrap();
    ring.submit().unwrap();
    let _c1 = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let _c2 = TcpStream::connect(("127.0.0.1", port)).unwrap();
    // SAFETY: nothing new pushed.
    let cqes = unsafe { run_n(&mut ring, &[], 2) };
    let fds: Vec<OwnedFd> = cqes
        .iter()
        .map(|c| {
            assert_eq!(c.user_data(), 1);
            assert!(c.is_more(), "still accepting");
            assert!(c.raw_result() >= 0, "accepted fd: {}", c.raw_result());
            // SAFETY: accepted for us.
            unsafe { OwnedFd::from_raw_fd(c.raw_result()) }
        })
        .collect();
    assert_ne!(fds[0].as_raw_fd(), fds[1].as_raw_fd());
    // SAFETY: no memory named.
    let cqes = unsafe { run_n(&mut ring, &[AsyncCancel::new(1).build().user_data(2)], 2) };
    let last = by_user_data(&cqes, 1);
    assert_eq!(last.raw_result(), -libc::ECANCELED);
    assert!(!last.is_more(), "the multishot has ended");
}

#[test]
fn direct_socket_and_accept() {
    if !supported(Socket::CODE, "direct_socket_and_accept") {
        return;
    }
    if !kernel_at_least(5, 19, "direct_socket_and_accept", "IORING_FILE_INDEX_ALLOC") {
        return;
    }
    let mut ring = ring();
    register_sparse_files(&mut ring, 8);
    // A socket straight into the table.
    let sqe = Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)
        .file_index(DestinationSlot::index(6))
        .build();
    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, sqe) }.raw_result(),
        0,
        "slot 6 filled"
    );
    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, Close::new(Fixed(6)).build()) }.raw_result(),
        0
    );

    let l = listener(&mut ring);
    let mut client = TcpStream::connect(("127.0.0.1", port_of(l.as_raw_fd()))).unwrap();
    let accept = Accept::new(Fd::from(&l), std::ptr::null_mut(), std::ptr::null_mut())
        .file_index(Some(DestinationSlot::AUTO));
    // SAFETY: no memory named.
    let slot = unsafe { run(&mut ring, accept.build()) }.raw_result();
    assert!((0..8).contains(&slot), "slot {slot}");
    let send = Send::new(Fixed(slot as u32), b"direct".as_ptr(), 6);
    // SAFETY: the buffer is static.
    assert_eq!(unsafe { run(&mut ring, send.build()) }.raw_result(), 6);
    let mut got = [0u8; 6];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"direct");
}

#[test]
fn recv_multishot_uses_provided_buffers() {
    if !kernel_at_least(
        6,
        0,
        "recv_multishot_uses_provided_buffers",
        "IORING_RECV_MULTISHOT",
    ) {
        return;
    }
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    let mut pool = vec![0u8; 8 * 64];
    let provide = ProvideBuffers::new(pool.as_mut_ptr(), 64, 8, 11, 0).build();
    // SAFETY: pool outlives the ring's use of it (the ring is dropped first).
    assert_eq!(unsafe { run(&mut ring, provide) }.raw_result(), 0);
    let recv = Recv::new(Fd::from(&s), std::ptr::null_mut(), 0)
        .multishot(true)
        .buf_group(Some(11))
        .build()
        .user_data(5);
    // SAFETY: as above.
    unsafe { ring.push(&recv) }.unwrap();
    ring.submit().unwrap();
    let mut client = TcpStream::from(c);
    client.write_all(b"first").unwrap();
    // SAFETY: nothing new pushed.
    let cqe = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
    assert_eq!((cqe.user_data(), cqe.raw_result()), (5, 5));
    assert!(cqe.is_more());
    let bid = cqe.buffer_id().expect("a provided buffer") as usize;
    assert_eq!(&pool[bid * 64..bid * 64 + 5], b"first");
    drop(client);
    // SAFETY: nothing new pushed.
    let end = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
    assert_eq!(end.raw_result(), 0, "peer closed");
    assert!(!end.is_more());
    drop(ring);
}

#[test]
fn sendto_an_unconnected_udp_socket() {
    if !kernel_at_least(
        6,
        6,
        "sendto_an_unconnected_udp_socket",
        "IORING_OP_SEND with a destination address",
    ) {
        return;
    }
    let mut ring = ring();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = loopback(server.local_addr().unwrap().port());
    let client = socket(&mut ring, libc::SOCK_DGRAM);
    let send = Send::new(Fd::from(&client), b"datagram".as_ptr(), 8)
        .dest_addr(((&raw const to).cast(), SIN_LEN as u16))
        .build();
    // SAFETY: to and the static buffer outlive the completion.
    assert_eq!(unsafe { run(&mut ring, send) }.raw_result(), 8);
    let mut got = [0u8; 16];
    let (n, from) = server.recv_from(&mut got).unwrap();
    assert_eq!(&got[..n], b"datagram");
    assert_eq!(from.port(), port_of(client.as_raw_fd()));
}

#[test]
fn socket_commands() {
    if !kernel_at_least(
        6,
        7,
        "socket_commands",
        "socket uring_cmd (SOCKET_URING_OP_*)",
    ) {
        return;
    }
    if !supported(SiocInq::CODE, "socket_commands") {
        return;
    }
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    crate::support::write_all(&c, b"12345");
    // Wait until the bytes are queued at the server, without timing: poll for them.
    let poll = PollAdd::new(Fd::from(&s), libc::POLLIN as u32).build();
    assert_ne!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, poll) }.raw_result() & libc::POLLIN as i32,
        0
    );
    // SAFETY: no memory named.
    let inq = unsafe { run(&mut ring, SiocInq::new(Fd::from(&s)).build()) };
    assert_eq!(inq.raw_result(), 5, "five unread bytes");
    // SAFETY: no memory named.
    let outq = unsafe { run(&mut ring, SiocOutq::new(Fd::from(&c)).build()) }.raw_result();
    assert!((0..=5).contains(&outq), "unsent bytes: {outq}");

    let mut ty = 0i32;
    let get = GetSockOpt::new(
        Fd::from(&s),
        libc::SOL_SOCKET,
        libc::SO_TYPE,
        (&raw mut ty).cast(),
        4,
    );
    assert_eq!(
        // SAFETY: ty outlives the completion.
        unsafe { run(&mut ring, get.build()) }.raw_result(),
        4,
        "the option's length"
    );
    assert_eq!(ty, libc::SOCK_STREAM);

    let one = 1i32;
    let set = SetSockOpt::new(
        Fd::from(&s),
        libc::SOL_SOCKET,
        libc::SO_KEEPALIVE,
        (&raw const one).cast(),
        4,
    );
    // SAFETY: one outlives the completion.
    assert_eq!(unsafe { run(&mut ring, set.build()) }.raw_result(), 0);
    let mut val = 0i32;
    let mut len = 4 as libc::socklen_t;
    // SAFETY: val and len are valid for the call.
    let ret = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&raw mut val).cast(),
            &mut len,
        )
    };
    assert_eq!(
        (ret, val),
        (0, 1),
        "set through the ring, seen by getsockopt(2)"
    );

    // SAFETY: sockaddr_in is plain data.
    let mut name: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut name_len = SIN_LEN;
    let gsn = GetSockName::new(Fd::from(&c), (&raw mut name).cast(), &mut name_len).peer(true);
    // SAFETY: name and name_len outlive the completion.
    let res = unsafe { run(&mut ring, gsn.build()) }.raw_result();
    if res == -libc::EINVAL || res == -libc::EOPNOTSUPP {
        eprintln!(
            "skipped: socket_commands (getsockname part) because this kernel ({}) lacks SOCKET_URING_OP_GETSOCKNAME (returned {res})",
            kernel_release()
        );
        return;
    }
    assert_eq!(res, 0);
    assert_eq!(
        u16::from_be(name.sin_port),
        port_of(s.as_raw_fd()),
        "the peer's port"
    );
    assert_eq!(name_len, SIN_LEN);
}

#[test]
fn poll_add_multishot_remove_and_update() {
    if !kernel_at_least(
        5,
        13,
        "poll_add_multishot_remove_and_update",
        "IORING_POLL_ADD_MULTI and poll updates",
    ) {
        return;
    }
    let mut ring = ring();
    let (r, w) = pipe();
    let fd = Fd::from(&r);
    // One-shot: fires once the pipe has data.
    let poll = PollAdd::new(fd, libc::POLLIN as u32).build().user_data(1);
    // SAFETY: no memory named.
    unsafe { ring.push(&poll) }.unwrap();
    ring.submit().unwrap();
    crate::support::write_all(&w, b"a");
    // SAFETY: nothing new pushed.
    let cqe = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
    assert_eq!(cqe.user_data(), 1);
    assert_ne!(cqe.raw_result() & libc::POLLIN as i32, 0);
    assert!(!cqe.is_more());
    let mut sink = [0u8; 8];
    // SAFETY: valid buffer.
    unsafe { libc::read(r.as_raw_fd(), sink.as_mut_ptr().cast(), 8) };

    // Multishot: one completion per event, until removed.
    let multi = PollAdd::new(fd, libc::POLLIN as u32)
        .multi(true)
        .build()
        .user_data(2);
    // SAFETY: no memory named.
    unsafe { ring.push(&multi) }.unwrap();
    ring.submit().unwrap();
    for _ in 0..2 {
        crate::support::write_all(&w, b"b");
        // SAFETY: nothing new pushed.
        let cqe = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
        assert_eq!(cqe.user_data(), 2);
        assert!(cqe.is_more(), "still armed");
        // SAFETY: valid buffer.
        unsafe { libc::read(r.as_raw_fd(), sink.as_mut_ptr().cast(), 8) };
    }
    // SAFETY: no memory named.
    let cqes = unsafe { run_n(&mut ring, &[PollRemove::new(2).build().user_data(3)], 2) };
    assert_eq!(by_user_data(&cqes, 3).raw_result(), 0);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ECANCELED);

    // Update: a poll for an event that never comes gets a new mask and user data.
    let idle = PollAdd::new(fd, libc::POLLPRI as u32).build().user_data(4);
    // SAFETY: no memory named.
    unsafe { ring.push(&idle) }.unwrap();
    ring.submit().unwrap();
    let update = PollRemove::new(4)
        .update_events(Some(libc::POLLIN as u32))
        .update_user_data(Some(40))
        .build()
        .user_data(5);
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, update) };
    assert_eq!((cqe.user_data(), cqe.raw_result()), (5, 0));
    crate::support::write_all(&w, b"c");
    // SAFETY: nothing new pushed.
    let cqe = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
    assert_eq!(cqe.user_data(), 40, "the new user data");
    assert_ne!(cqe.raw_result() & libc::POLLIN as i32, 0, "the new mask");
}

#[test]
fn epoll_ctl_and_epoll_wait() {
    if !supported(EpollCtl::CODE, "epoll_ctl_and_epoll_wait") {
        return;
    }
    let mut ring = ring();
    // SAFETY: plain call.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    // SAFETY: just created, ours.
    let ep = unsafe { OwnedFd::from_raw_fd(ep) };
    let (r, w) = pipe();
    let ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: 0x1234,
    };
    let add = EpollCtl::new(Fd::from(&ep), r.as_raw_fd(), libc::EPOLL_CTL_ADD, &ev);
    // SAFETY: ev outlives the completion.
    assert_eq!(unsafe { run(&mut ring, add.build()) }.raw_result(), 0);
    assert_eq!(
        // SAFETY: as above.
        unsafe { run(&mut ring, add.build()) }.raw_result(),
        -libc::EEXIST
    );
    crate::support::write_all(&w, b"e");
    let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
    // SAFETY: out is valid for 4 events; timeout 0 does not block.
    let n = unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 0) };
    assert_eq!(n, 1);
    let tag = out[0].u64;
    assert_eq!(tag, 0x1234, "registered through the ring");

    if supported(
        EpollWait::CODE,
        "epoll_ctl_and_epoll_wait (epoll_wait part)",
    ) {
        let mut events = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let wait = EpollWait::new(Fd::from(&ep), events.as_mut_ptr(), 4);
        // SAFETY: events outlives the completion.
        assert_eq!(unsafe { run(&mut ring, wait.build()) }.raw_result(), 1);
        let (mask, tag) = (events[0].events, events[0].u64);
        assert_eq!(tag, 0x1234);
        assert_ne!(mask & libc::EPOLLIN as u32, 0);
    }

    let del = EpollCtl::new(
        Fd::from(&ep),
        r.as_raw_fd(),
        libc::EPOLL_CTL_DEL,
        std::ptr::null(),
    );
    // SAFETY: no memory named.
    assert_eq!(unsafe { run(&mut ring, del.build()) }.raw_result(), 0);
    assert_eq!(
        // SAFETY: as above.
        unsafe { libc::epoll_wait(ep.as_raw_fd(), out.as_mut_ptr(), 4, 0) },
        0,
        "removed"
    );
}

#[test]
fn recv_zc_without_a_zero_copy_queue_is_refused() {
    if !supported(RecvZc::CODE, "recv_zc_without_a_zero_copy_queue_is_refused") {
        return;
    }
    // A real zero-copy receive needs a NIC queue registered with
    // IORING_REGISTER_ZCRX_IFQ (header split, flow steering): not on loopback.
    let mut ring = ring();
    let (_l, s, _c) = tcp_pair(&mut ring);
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, RecvZc::new(Fd::from(&s), 0).len(16).build()) };
    assert_eq!(cqe.raw_result(), -libc::EINVAL);
    eprintln!(
        "note: recv_zc_without_a_zero_copy_queue_is_refused checks the refusal only; \
         loopback has no zero-copy receive queue"
    );
}

#[test]
fn recvmsg_multishot_fills_buffers_with_a_header_and_payload() {
    if !kernel_at_least(
        6,
        0,
        "recvmsg_multishot_fills_buffers_with_a_header_and_payload",
        "IORING_RECV_MULTISHOT",
    ) {
        return;
    }
    let mut ring = ring();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut pool = vec![0u8; 4 * 128];
    let provide = ProvideBuffers::new(pool.as_mut_ptr(), 128, 4, 21, 0).build();
    // SAFETY: pool outlives the ring's use of it (the ring is dropped first).
    assert_eq!(unsafe { run(&mut ring, provide) }.raw_result(), 0);
    // SAFETY: msghdr is plain data; with no name or control buffers wanted.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    let recv = RecvMsg::new(Fd::from(&server), &mut msg)
        .multishot(true)
        .buf_group(Some(21))
        .build()
        .user_data(8);
    // SAFETY: msg and pool outlive the request.
    unsafe { ring.push(&recv) }.unwrap();
    ring.submit().unwrap();
    let target = server.local_addr().unwrap();
    for payload in [&b"dgram one"[..], &b"two"[..]] {
        client.send_to(payload, target).unwrap();
        // SAFETY: nothing new pushed.
        let cqe = unsafe { run_n(&mut ring, &[], 1) }.pop().unwrap();
        assert_eq!(cqe.user_data(), 8);
        assert!(cqe.is_more(), "still receiving");
        let header = std::mem::size_of::<uring::sys::io_uring_recvmsg_out>();
        assert_eq!(cqe.raw_result() as usize, header + payload.len());
        let bid = cqe.buffer_id().expect("a provided buffer") as usize;
        let buf = &pool[bid * 128..bid * 128 + 128];
        let out = uring::sys::io_uring_recvmsg_out {
            namelen: u32::from_ne_bytes(buf[0..4].try_into().unwrap()),
            controllen: u32::from_ne_bytes(buf[4..8].try_into().unwrap()),
            payloadlen: u32::from_ne_bytes(buf[8..12].try_into().unwrap()),
            flags: u32::from_ne_bytes(buf[12..16].try_into().unwrap()),
        };
        assert_eq!(out.payloadlen as usize, payload.len());
        assert_eq!((out.namelen, out.controllen), (0, 0));
        assert_eq!(&buf[header..header + payload.len()], payload);
    }
    // SAFETY: no memory named.
    let cqes = unsafe { run_n(&mut ring, &[AsyncCancel::new(8).build().user_data(9)], 2) };
    assert_eq!(by_user_data(&cqes, 8).raw_result(), -libc::ECANCELED);
    drop(ring);
}

#[test]
fn recv_bundle_takes_several_ring_buffers_at_once() {
    let mut ring = ring();
    let (_l, s, c) = tcp_pair(&mut ring);
    const N: u32 = 8;
    const SIZE: usize = 4;
    let mut pool = vec![0u8; N as usize * SIZE];
    let mut err = 0;
    // SAFETY: the ring is valid; liburing maps the buffer ring for us.
    let br = unsafe { uring::sys::io_uring_setup_buf_ring(ring.as_raw_mut(), N, 31, 0, &mut err) };
    if br.is_null() {
        // Linux 5.19; older kernels refuse the unknown register opcode.
        assert_eq!(err, -libc::EINVAL, "io_uring_setup_buf_ring");
        eprintln!(
            "skipped: recv_bundle_takes_several_ring_buffers_at_once because this kernel ({}) refuses provided-buffer rings ({err})",
            kernel_release()
        );
        return;
    }
    // SAFETY: br has N entries; every address lies in pool, which outlives the ring.
    unsafe {
        let mask = uring::sys::io_uring_buf_ring_mask(N);
        for i in 0..N {
            let addr = pool.as_mut_ptr().add(i as usize * SIZE);
            uring::sys::io_uring_buf_ring_add(
                br,
                addr.cast(),
                SIZE as u32,
                i as u16,
                mask,
                i as i32,
            );
        }
        uring::sys::io_uring_buf_ring_advance(br, N as i32);
    }
    crate::support::write_all(&c, b"abcdefghij");
    // Make sure all ten bytes are queued before the bundle receive runs.
    let poll = PollAdd::new(Fd::from(&s), libc::POLLIN as u32).build();
    // SAFETY: no memory named.
    unsafe { run(&mut ring, poll) };
    let recv = Recv::new(Fd::from(&s), std::ptr::null_mut(), 0)
        .bundle(true)
        .buf_group(Some(31));
    // SAFETY: the kernel writes into pool.
    let cqe = unsafe { run(&mut ring, recv.build()) };
    if cqe.raw_result() == -libc::EINVAL {
        eprintln!(
            "skipped: recv_bundle_takes_several_ring_buffers_at_once because this kernel ({}) refuses IORING_RECVSEND_BUNDLE",
            kernel_release()
        );
        return;
    }
    // One receive, several 4-byte buffers: a plain receive could fill only one.
    let n = cqe.raw_result();
    assert!(n > SIZE as i32 && n <= 10, "bundle received {n} bytes");
    let n = n as usize;
    assert_eq!(cqe.buffer_id(), Some(0), "starting at the first buffer");
    assert_eq!(&pool[..n], &b"abcdefghij"[..n]);
    if n < 10 {
        // The rest comes with the next bundle, in the next unused buffers.
        // SAFETY: as above.
        let cqe = unsafe { run(&mut ring, recv.build()) };
        assert_eq!(cqe.raw_result() as usize, 10 - n);
        let next = n.div_ceil(SIZE);
        assert_eq!(cqe.buffer_id(), Some(next as u16));
        assert_eq!(
            &pool[next * SIZE..next * SIZE + 10 - n],
            &b"abcdefghij"[n..]
        );
    }
    drop(ring);
}
