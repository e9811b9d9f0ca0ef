//! Direct descriptors in the ops converted to take a `FileRef` after the first
//! ones: file sync, allocation and length; polls; provided-buffer reads; bundles;
//! registered-buffer reads and writes; bind and listen; zero-copy sends. Each
//! test moves bytes (or watches the kernel's answer) through a direct descriptor
//! and checks what arrived with std; the last one checks that every one of these
//! ops refuses another ring's direct descriptor (`EXDEV`). A kernel that lacks a
//! feature prints why the test is skipped.

use crate::support;
use support::kernel_release;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::net::UnixStream;

use uring::error::errno;
use uring::owned::{
    BufPool, DirectTable, FixedBufs, IoBuf, OwnedRing, ReadFixed, SendQueue, SubmitError,
    WriteFixed, ops,
};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// A table of `chosen` + `auto` slots on `ring`, or `None` (the reason printed)
/// when the kernel lacks sparse tables (5.19) or allocation ranges (6.0).
fn table(ring: &mut OwnedRing, chosen: u32, auto: u32, test: &str) -> Option<DirectTable> {
    match DirectTable::new(ring, chosen, auto) {
        Ok(t) => Some(t),
        Err(e) if errno(&e) == Some(libc::EINVAL) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused a sparse registered-file table or its \
                     allocation range ({e}); Linux 5.19 and 6.0 are needed",
                    kernel_release()
                ),
            );
            None
        }
        Err(e) => panic!("registering a direct table: {e}"),
    }
}

/// Byte `k` of stream `s`: any mix-up shows.
fn byte(s: usize, k: usize) -> u8 {
    (s.wrapping_mul(151) ^ k.wrapping_mul(13) ^ (k >> 8)) as u8
}

fn stream(s: usize, n: usize) -> Vec<u8> {
    (0..n).map(|k| byte(s, k)).collect()
}

/// A new read-write file `name` in `dir`.
fn scratch_file(dir: &support::ops::TempDir, name: &str) -> std::fs::File {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(dir.join(name))
        .expect("creating a scratch file")
}

fn refused<T>(e: SubmitError<T>) -> Option<i32> {
    errno(&e.error)
}

#[test]
fn fsync_fallocate_and_ftruncate_act_on_a_direct_file() {
    let test = "fsync_fallocate_and_ftruncate_act_on_a_direct_file";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let dir = support::ops::TempDir::new("direct-fs");
    let path = dir.join("data");
    let file = scratch_file(&dir, "data");
    let direct = table.insert(file).unwrap();
    let data = stream(1, 3000);
    let id = ring
        .submit_op(ops::Write::new(&direct, data.clone(), 0))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), data.len());

    let id = ring.submit_op(ops::Fsync::new(&direct)).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    let id = ring.submit_op(ops::Fsync::new(&direct).datasync()).unwrap();
    ring.wait_for(id).unwrap().unwrap();

    // Allocating past the end (mode 0) makes the file longer; the data stays.
    let id = ring
        .submit_op(ops::Fallocate::new(&direct, 0, 8192))
        .unwrap();
    match ring.wait_for(id).unwrap() {
        Ok(()) => {
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 8192);
            let on_disk = std::fs::read(&path).unwrap();
            assert_eq!(&on_disk[..data.len()], &data[..]);
            assert!(on_disk[data.len()..].iter().all(|&b| b == 0));
        }
        Err(e) if errno(&e) == Some(libc::EOPNOTSUPP) => support::skip(
            test,
            &format!("the scratch file system refused fallocate ({e}); the rest still runs"),
        ),
        Err(e) => panic!("fallocate on a direct file: {e}"),
    }

    if !support::supported(uring::op::Ftruncate::CODE, test) {
        return;
    }
    let id = ring.submit_op(ops::Ftruncate::new(&direct, 100)).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 100);
    assert_eq!(std::fs::read(&path).unwrap(), &data[..100]);
    // And longer again: the new bytes read as zeros.
    let id = ring.submit_op(ops::Ftruncate::new(direct, 200)).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), 200);
    assert_eq!(&on_disk[..100], &data[..100]);
    assert!(on_disk[100..].iter().all(|&b| b == 0));
    // The op held the last handle: the slot is free once it is done.
    assert_eq!(table.in_use(), 0);
}

#[test]
fn polls_see_readiness_of_a_direct_socket_and_hold_its_slot() {
    let test = "polls_see_readiness_of_a_direct_socket_and_hold_its_slot";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();

    // Writable at once.
    let id = ring
        .submit_op(ops::PollAdd::new(&direct, libc::POLLOUT as u32))
        .unwrap();
    assert_ne!(
        ring.wait_for(id).unwrap().unwrap() & libc::POLLOUT as u32,
        0
    );

    // Readable once the peer writes: the only handle is the op's, and the slot
    // stays in use (and the socket open) until its completion.
    let id = ring
        .submit_op(ops::PollAdd::new(direct, libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    assert_eq!(table.in_use(), 1);
    mine.write_all(b"x").unwrap();
    assert_ne!(ring.wait_for(id).unwrap().unwrap() & libc::POLLIN as u32, 0);
    assert_eq!(table.in_use(), 0);

    // Multishot: one item per wake-up, each after the peer wrote.
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    let id = ring
        .submit_multishot(ops::PollMultishot::new(&direct, libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    let mut items = ring.items(&id);
    for round in 0..2u8 {
        mine.write_all(&[round]).unwrap();
        let ev = items.next().expect("an item").unwrap();
        assert_ne!(ev & libc::POLLIN as u32, 0, "round {round}");
    }
    items.cancel().unwrap();
    let rest: Vec<_> = items.collect();
    let last = rest.last().expect("the final item");
    assert_eq!(errno(last.as_ref().unwrap_err()), Some(libc::ECANCELED));
    // The bytes the polls saw are there to read, through the direct descriptor.
    let id = ring
        .submit_op(ops::Recv::new(&direct, Vec::with_capacity(8)))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (2, &[0u8, 1][..]));
}

#[test]
fn provided_buffer_reads_go_through_direct_files_and_pipes() {
    let test = "provided_buffer_reads_go_through_direct_files_and_pipes";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 4, 0, test) else {
        return;
    };
    let Some(pool) = support::pool_or_skip(&mut ring, 7, 4, 64, test) else {
        return;
    };
    // A regular file, at an offset.
    let dir = support::ops::TempDir::new("direct-select");
    let data = stream(2, 200);
    let mut file = scratch_file(&dir, "data");
    file.write_all(&data).unwrap();
    let direct = table.insert(file).unwrap();
    let id = ring
        .submit_op(ops::ReadSelect::new(&direct, &pool, 100))
        .unwrap();
    let buf = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&buf[..], &data[100..164]);
    drop(buf);

    // A pipe, at its position.
    let (r, w) = support::pipe();
    let r = table.insert(r).unwrap();
    support::write_all(&w, b"select me");
    let id = ring
        .submit_op(ops::ReadSelect::new(&r, &pool, u64::MAX))
        .unwrap();
    assert_eq!(&ring.wait_for(id).unwrap().unwrap()[..], b"select me");

    if !support::supported(uring::op::ReadMultishot::CODE, test) {
        return;
    }
    let id = ring
        .submit_multishot(ops::ReadMultishot::new(&r, &pool))
        .unwrap();
    ring.submit().unwrap();
    let mut got = Vec::new();
    for chunk in [&b"one"[..], b"two", b"three"] {
        support::write_all(&w, chunk);
        let item = ring.next_item(&id).unwrap().item().expect("an item");
        got.extend_from_slice(&item.unwrap());
    }
    assert_eq!(got, b"onetwothree");
    drop(w); // end of file: the stream ends
    let end = ring.next_item(&id).unwrap().end().expect("the end");
    assert_eq!((end.raw_result(), end.rearm()), (0, false));
    assert_eq!(pool.available(), 4);
}

#[test]
fn bundles_receive_and_send_through_direct_sockets() {
    let test = "bundles_receive_and_send_through_direct_sockets";
    let mut ring = ring();
    if !support::has_feature(
        ring.ring().features(),
        uring::Features::RECVSEND_BUNDLE,
        test,
    ) {
        return;
    }
    let Some(table) = table(&mut ring, 4, 0, test) else {
        return;
    };
    let pool = BufPool::new(&mut ring, 1, 16, 64).unwrap();
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();

    // Once: as many buffers as the bytes need.
    let data = stream(3, 300);
    mine.write_all(&data).unwrap();
    let mut got = Vec::new();
    while got.len() < data.len() {
        let id = ring
            .submit_op(ops::RecvBundle::new(&direct, &pool))
            .unwrap();
        let bufs = ring.wait_for(id).unwrap().unwrap();
        assert!(!bufs.is_empty());
        assert_eq!(bufs.bufs().len(), bufs.len().div_ceil(64));
        got.extend(bufs.to_vec());
    }
    assert_eq!(got, data);

    // Multishot, to the end of the stream.
    let id = ring
        .submit_multishot(ops::RecvBundleMultishot::new(&direct, &pool))
        .unwrap();
    ring.submit().unwrap();
    let data = stream(4, 500);
    mine.write_all(&data).unwrap();
    let mut got = Vec::new();
    while got.len() < data.len() {
        match ring.next_item(&id).unwrap().item() {
            Some(item) => got.extend(item.unwrap().to_vec()),
            None => panic!("the stream ended after {} bytes", got.len()),
        }
    }
    assert_eq!(got, data);
    mine.shutdown(std::net::Shutdown::Write).unwrap();
    let end = ring.next_item(&id).unwrap().end().expect("the end");
    assert_eq!(end.raw_result(), 0);
    assert_eq!(pool.available(), 16);

    // A send bundle of three queued buffers, out through the direct socket.
    let queue = SendQueue::<Vec<u8>>::new(&mut ring, 2, 4).unwrap();
    let parts = [stream(5, 10), stream(6, 2000), stream(7, 1)];
    for p in &parts {
        queue.push(p.clone()).unwrap();
    }
    let id = ring
        .submit_op(ops::SendBundle::new(&direct, &queue).unwrap())
        .unwrap();
    let sent = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(sent.bytes(), 2011);
    assert_eq!(sent.bufs().len(), 3);
    assert!(sent.error().is_none());
    let mut got = vec![0u8; 2011];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(got, parts.concat());
}

#[test]
fn fixed_buffer_reads_and_writes_go_through_a_direct_file() {
    let test = "fixed_buffer_reads_and_writes_go_through_a_direct_file";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let bufs = FixedBufs::new(&mut ring, 2, 4096).unwrap();
    let dir = support::ops::TempDir::new("direct-fixed");
    let path = dir.join("data");
    let direct = table.insert(scratch_file(&dir, "data")).unwrap();

    let data = stream(8, 4096);
    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(&data).unwrap();
    // Bytes 1000.. of the buffer, at offset 10 of the file.
    let id = ring
        .submit_op(WriteFixed::new(&direct, buf.slice(1000..), 10))
        .unwrap();
    let (n, slice) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 3096);
    drop(slice);
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(on_disk.len(), 10 + 3096);
    assert!(on_disk[..10].iter().all(|&b| b == 0));
    assert_eq!(&on_disk[10..], &data[1000..]);

    // And back, into the other registered buffer.
    let id = ring
        .submit_op(ReadFixed::new(&direct, bufs.get().unwrap(), 10))
        .unwrap();
    let (n, back) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 3096);
    assert_eq!(&back[..], &data[1000..]);
}

/// Binds direct socket `sock` to a loopback port std just found free (trying
/// again if another test took it meanwhile): the address bound.
fn bind_free_port(ring: &mut OwnedRing, sock: &uring::owned::DirectFd) -> SocketAddr {
    for _ in 0..10 {
        let addr = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap();
        let id = ring.submit_op(ops::Bind::new(sock, addr)).unwrap();
        match ring.wait_for(id).unwrap() {
            Ok(()) => return addr,
            Err(e) if errno(&e) == Some(libc::EADDRINUSE) => continue,
            Err(e) => panic!("bind of a direct socket: {e}"),
        }
    }
    panic!("no free loopback port after 10 tries");
}

#[test]
fn bind_and_listen_make_a_direct_socket_a_listener() {
    let test = "bind_and_listen_make_a_direct_socket_a_listener";
    if !support::supported(uring::op::Bind::CODE, test)
        || !support::supported(uring::op::Listen::CODE, test)
    {
        return;
    }
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 2, test) else {
        return;
    };
    let id = ring
        .submit_op(ops::SocketDirect::new(
            &table,
            libc::AF_INET,
            libc::SOCK_STREAM,
            0,
        ))
        .unwrap();
    let listener = ring.wait_for(id).unwrap().unwrap();
    let addr = bind_free_port(&mut ring, &listener);
    let id = ring.submit_op(ops::Listen::new(&listener, 4)).unwrap();
    ring.wait_for(id).unwrap().unwrap();

    // A plain client connects; the direct listener accepts it.
    let accept = ring.submit_op(ops::Accept::new(&listener)).unwrap();
    ring.submit().unwrap();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server, peer) = ring.wait_for(accept).unwrap().unwrap();
    assert_eq!(peer, Some(client.local_addr().unwrap()));
    let mut server = TcpStream::from(server);
    assert_eq!(server.peer_addr().unwrap(), client.local_addr().unwrap());
    assert_eq!(server.local_addr().unwrap(), addr);
    client.write_all(b"via a direct listener").unwrap();
    let mut got = [0u8; 21];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"via a direct listener");
}

#[test]
fn zero_copy_sends_go_out_through_direct_sockets() {
    let test = "zero_copy_sends_go_out_through_direct_sockets";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 4, 0, test) else {
        return;
    };
    if support::supported(uring::op::SendMsgZc::CODE, test) {
        let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let tx = table
            .insert(UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap())
            .unwrap();
        let parts = vec![stream(9, 700), stream(10, 300)];
        let op = ops::SendMsgZc::new(&tx, parts.clone()).to(rx.local_addr().unwrap());
        let id = ring.submit_op(op).unwrap();
        let (n, back) = ring.wait_for(id).unwrap();
        assert_eq!(n.unwrap(), 1000);
        assert_eq!(back, parts);
        let mut got = [0u8; 2000];
        assert_eq!(rx.recv(&mut got).unwrap(), 1000);
        assert_eq!(&got[..1000], &parts.concat()[..]);
    }
    if !support::supported(uring::op::SendZc::CODE, test) {
        return;
    }
    let bufs = FixedBufs::new(&mut ring, 1, 8192).unwrap();
    let (mut client, server) = support::tcp_pair();
    let direct = table.insert(server).unwrap();
    let data = stream(11, 8192);
    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(&data).unwrap();
    let id = ring
        .submit_op(ops::SendZcFixed::new(&direct, buf.slice(192..)))
        .unwrap();
    let (n, _slice) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 8000);
    let mut got = vec![0u8; 8000];
    client.read_exact(&mut got).unwrap();
    assert_eq!(got, &data[192..]);
}

#[test]
fn every_converted_op_refuses_another_rings_direct_descriptor() {
    let test = "every_converted_op_refuses_another_rings_direct_descriptor";
    let mut a = ring();
    let mut b = ring();
    let Some(ta) = table(&mut a, 2, 0, test) else {
        return;
    };
    let (_peer, sock) = UnixStream::pair().unwrap();
    let fa = ta.insert(sock).unwrap();
    let exdev = Some(libc::EXDEV);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 1));

    // Ops that name nothing else of a ring: refused by b, before the kernel.
    assert_eq!(
        refused(b.submit_op(ops::Fsync::new(&fa)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::Fallocate::new(&fa, 0, 1)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::Ftruncate::new(&fa, 0)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::PollAdd::new(&fa, 1)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(
            b.submit_multishot(ops::PollMultishot::new(&fa, 1))
                .unwrap_err()
        ),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::Bind::new(&fa, addr)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::Listen::new(&fa, 1)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(
            b.submit_op(ops::SendMsgZc::new(&fa, vec![vec![0u8; 4]]))
                .unwrap_err()
        ),
        exdev
    );

    // Ops that also name b's registered buffers: bound to two rings, refused
    // by both (the registered buffer comes back each time).
    let fixed = FixedBufs::new(&mut b, 1, 64).unwrap();
    for ring in [&mut a, &mut b] {
        let e = ring
            .submit_op(ReadFixed::new(&fa, fixed.get().unwrap(), 0))
            .unwrap_err();
        assert_eq!(errno(&e.error), exdev);
        let e = ring
            .submit_op(WriteFixed::new(&fa, e.op.into_buf(), 0))
            .unwrap_err();
        assert_eq!(errno(&e.error), exdev);
        let e = ring
            .submit_op(ops::SendZcFixed::new(&fa, e.op.into_buf()))
            .unwrap_err();
        assert_eq!(errno(&e.error), exdev);
    }
    assert_eq!(fixed.available(), 1);

    // Ops that also name b's pool or send queue: likewise.
    let Some(pool) = support::pool_or_skip(&mut b, 1, 2, 64, test) else {
        return;
    };
    // Send queues need bundle sends (6.10); without them that part is skipped.
    let queue = if b
        .ring()
        .features()
        .contains(uring::Features::RECVSEND_BUNDLE)
    {
        Some(SendQueue::<Vec<u8>>::new(&mut b, 2, 2).unwrap())
    } else {
        support::skip(
            test,
            &format!(
                "its SendBundle part: this kernel ({}) lacks IORING_FEAT_RECVSEND_BUNDLE \
                 (Linux 6.10), which send queues need; the other ops are checked",
                kernel_release()
            ),
        );
        None
    };
    for ring in [&mut a, &mut b] {
        let op = ops::ReadSelect::new(&fa, &pool, 0);
        assert_eq!(refused(ring.submit_op(op).unwrap_err()), exdev);
        let op = ops::ReadMultishot::new(&fa, &pool);
        assert_eq!(refused(ring.submit_multishot(op).unwrap_err()), exdev);
        let op = ops::RecvBundle::new(&fa, &pool);
        assert_eq!(refused(ring.submit_op(op).unwrap_err()), exdev);
        let op = ops::RecvBundleMultishot::new(&fa, &pool);
        assert_eq!(refused(ring.submit_multishot(op).unwrap_err()), exdev);
        // A refused bundle, once dropped, lets the next one be made.
        if let Some(queue) = &queue {
            let op = ops::SendBundle::new(&fa, queue).unwrap();
            assert_eq!(refused(ring.submit_op(op).unwrap_err()), exdev);
        }
    }
    assert_eq!(pool.available(), 2);

    // None of them touched the descriptor: on its own ring it still works.
    let id = a
        .submit_op(ops::PollAdd::new(&fa, libc::POLLOUT as u32))
        .unwrap();
    assert_ne!(a.wait_for(id).unwrap().unwrap() & libc::POLLOUT as u32, 0);
    assert_eq!(ta.in_use(), 1);
}
