//! The safe layer's operations end to end: each checks what the kernel did (bytes,
//! errno, descriptors), and that the buffers come back.

use crate::support;
use support::pipe_files as pipe;
use support::supported;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use uring::error::errno;
use uring::owned::{IoBuf, OpId, OwnedRing, SharedFd, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// A read of up to 8 bytes from a new, empty pipe, submitted; and the pipe's
/// write end.
fn pending_pipe_read(ring: &mut OwnedRing) -> (OpId<ops::Read<Vec<u8>>>, std::fs::File) {
    let (r, w) = pipe();
    let read = ops::Read::new(OwnedFd::from(r), Vec::with_capacity(8), u64::MAX);
    let id = ring.submit_op(read).unwrap();
    ring.submit().unwrap();
    (id, w)
}

/// A fresh path in the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempPath(std::env::temp_dir().join(format!("uring-owned-{tag}-{}-{n}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let _ = std::fs::remove_dir(&self.0);
    }
}

fn open_rw(ring: &mut OwnedRing, path: &TempPath) -> SharedFd {
    let op = ops::OpenAt::new(&path.0, libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC)
        .unwrap()
        .mode(0o600);
    let id = ring.submit_op(op).unwrap();
    SharedFd::from(ring.wait_for(id).unwrap().expect("openat"))
}

#[test]
fn write_fsync_read_statx_roundtrip() {
    let mut ring = ring();
    let path = TempPath::new("rw");
    let file = open_rw(&mut ring, &path);

    let id = ring
        .submit_op(ops::Write::new(&file, b"hello world".to_vec(), 0))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 11);
    assert_eq!(buf, b"hello world", "the written buffer comes back intact");

    let id = ring.submit_op(ops::Fsync::new(&file)).unwrap();
    ring.wait_for(id).unwrap().expect("fsync");
    let id = ring.submit_op(ops::Fsync::new(&file).datasync()).unwrap();
    ring.wait_for(id).unwrap().expect("fdatasync");

    // Into spare capacity: the length grows over what was read.
    let id = ring
        .submit_op(ops::Read::new(&file, Vec::with_capacity(64), 0))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 11);
    assert_eq!(buf, b"hello world");

    // Into initialised bytes at an offset: the length stays.
    let id = ring
        .submit_op(ops::Read::new(&file, vec![b'-'; 8], 6))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"world---");

    // Into a slice of a buffer.
    let id = ring
        .submit_op(ops::Read::new(&file, vec![b'.'; 10].slice(2..6), 0))
        .unwrap();
    let (n, slice) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 4);
    assert_eq!(slice.into_inner(), b"..hell....");

    // Box<[u8]> too.
    let id = ring
        .submit_op(ops::Read::new(&file, vec![0u8; 5].into_boxed_slice(), 0))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (5, &b"hello"[..]));

    let id = ring.submit_op(ops::Statx::fd(&file)).unwrap();
    let st = ring.wait_for(id).unwrap().expect("statx");
    assert_eq!(st.stx_size, 11);
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFREG);

    let id = ring.submit_op(ops::Fallocate::new(&file, 0, 4096)).unwrap();
    match ring.wait_for(id).unwrap() {
        Ok(()) => assert_eq!(std::fs::metadata(&path.0).unwrap().len(), 4096),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => {
            println!("fallocate: the temporary file system does not support it")
        }
        Err(e) => panic!("fallocate: {e}"),
    }
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn readv_writev_roundtrip() {
    let mut ring = ring();
    let path = TempPath::new("vec");
    let file = open_rw(&mut ring, &path);

    let bufs = vec![
        b"abc".to_vec(),
        Vec::new(),
        b"defgh".to_vec(),
        b"ij".to_vec(),
    ];
    let id = ring.submit_op(ops::Writev::new(&file, bufs, 0)).unwrap();
    let (n, bufs) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 10);
    assert_eq!(bufs[2], b"defgh", "writev gives its buffers back");
    assert_eq!(std::fs::read(&path.0).unwrap(), b"abcdefghij");

    let bufs = vec![
        Vec::with_capacity(4),
        Vec::with_capacity(0),
        Vec::with_capacity(3),
        Vec::with_capacity(16),
    ];
    let id = ring.submit_op(ops::Readv::new(&file, bufs, 1)).unwrap();
    let (n, bufs) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 9);
    let got: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
    assert_eq!(got, [&b"bcde"[..], b"", b"fgh", b"ij"]);
}

#[test]
fn openat_errors_and_a_working_fd() {
    let mut ring = ring();
    let id = ring
        .submit_op(ops::OpenAt::new("/nonexistent/uring-owned", libc::O_RDONLY).unwrap())
        .unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));

    let err = ops::OpenAt::new("a\0b", 0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);

    // The returned descriptor works, and is close-on-exec.
    let id = ring
        .submit_op(ops::OpenAt::new("/dev/zero", libc::O_RDONLY).unwrap())
        .unwrap();
    let fd = ring.wait_for(id).unwrap().unwrap();
    // SAFETY: F_GETFD on a descriptor we own reads its flags.
    let fdflags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    let mut zeros = [0xffu8; 8];
    std::fs::File::from(fd).read_exact(&mut zeros).unwrap();
    assert_eq!(zeros, [0; 8]);
}

#[test]
fn mkdir_statx_unlink() {
    if !supported(uring::op::MkDirAt::CODE, "mkdir_statx_unlink") {
        return;
    }
    let mut ring = ring();
    let path = TempPath::new("dir");
    let id = ring
        .submit_op(ops::MkDirAt::new(&path.0, 0o700).unwrap())
        .unwrap();
    ring.wait_for(id).unwrap().expect("mkdirat");
    let id = ring.submit_op(ops::Statx::path(&path.0).unwrap()).unwrap();
    let st = ring.wait_for(id).unwrap().expect("statx");
    assert_eq!(u32::from(st.stx_mode) & libc::S_IFMT, libc::S_IFDIR);

    let id = ring
        .submit_op(ops::UnlinkAt::new(&path.0, 0).unwrap())
        .unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(
        err.raw_os_error(),
        Some(libc::EISDIR),
        "unlink of a directory"
    );
    let id = ring
        .submit_op(ops::UnlinkAt::new(&path.0, libc::AT_REMOVEDIR).unwrap())
        .unwrap();
    ring.wait_for(id).unwrap().expect("rmdir");
    let id = ring.submit_op(ops::Statx::path(&path.0).unwrap()).unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
}

#[test]
fn key_indices_are_small_distinct_and_reused_only_after_the_output_is_taken() {
    let mut ring = ring();
    // One operation that stays in flight (a read of an idle pipe), and three
    // that finish.
    let (r, mut w) = pipe();
    let read = ring
        .submit_op(ops::Read::new(SharedFd::from(r), vec![0u8; 4], u64::MAX))
        .unwrap();
    let nops: Vec<_> = (0..3)
        .map(|_| ring.submit_op(ops::Nop::new()).unwrap())
        .collect();
    ring.submit_and_wait(3).unwrap();
    let mut indices: Vec<usize> = nops.iter().map(|id| id.key().index()).collect();
    indices.push(read.key().index());
    indices.sort_unstable();
    // Four operations held at once: four distinct indices below 4 — the three
    // nops finished but their outputs were not taken yet.
    assert_eq!(indices, [0, 1, 2, 3]);
    // Taking one nop's output frees its index for the next operation, which
    // gets another key; the indices of what is still held are not handed out.
    let freed = nops[1].key();
    ring.wait_for(nops[1]).unwrap().unwrap();
    let next = ring.submit_op(ops::Nop::new()).unwrap();
    assert_eq!(next.key().index(), freed.index());
    assert_ne!(next.key(), freed);
    // A key from a completion has the index its id had.
    ring.submit_and_wait(1).unwrap();
    let mut seen = Vec::new();
    for c in ring.completions() {
        seen.push(c.key().index());
        assert!(c.key() == nops[0].key() || c.key() == nops[2].key() || c.key() == next.key());
    }
    seen.sort_unstable();
    let mut want = vec![
        nops[0].key().index(),
        nops[2].key().index(),
        next.key().index(),
    ];
    want.sort_unstable();
    assert_eq!(seen, want);
    // The read, still in flight, kept its index throughout.
    w.write_all(b"abcd").unwrap();
    let (n, buf) = ring.wait_for(read).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"abcd"[..]));
}

#[test]
fn close_closes_the_descriptor() {
    let mut ring = ring();
    let (mut r, w) = pipe();
    let id = ring.submit_op(ops::Close::new(OwnedFd::from(w))).unwrap();
    ring.wait_for(id).unwrap().expect("close");
    // The only writer is gone: the reader sees end of file at once.
    let mut rest = Vec::new();
    assert_eq!(r.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn accept_connect_send_recv_echo() {
    if !supported(uring::op::Socket::CODE, "accept_connect_send_recv_echo") {
        return;
    }
    let mut ring = ring();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);

    let id = ring
        .submit_op(ops::Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0))
        .unwrap();
    let client = TcpStream::from(ring.wait_for(id).unwrap().expect("socket"));

    let accept = ring.submit_op(ops::Accept::new(&listener)).unwrap();
    let client = SharedFd::from(client);
    let connect = ring.submit_op(ops::Connect::new(&client, addr)).unwrap();
    ring.wait_for(connect).unwrap().expect("connect");
    let (server, peer) = ring.wait_for(accept).unwrap().expect("accept");
    let client_addr = TcpStream::from(client.try_clone_fd()).local_addr().unwrap();
    assert_eq!(peer, Some(client_addr), "accept reports the peer");
    let server = SharedFd::from(server);

    let id = ring
        .submit_op(ops::Send::new(&client, b"ping".to_vec()).flags(libc::MSG_NOSIGNAL))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 4);

    let id = ring
        .submit_op(ops::Recv::new(&server, Vec::with_capacity(64)))
        .unwrap();
    ring.submit().unwrap();
    let (n, msg) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 4);
    assert_eq!(msg, b"ping");

    // Echo the very buffer back.
    let id = ring.submit_op(ops::Send::new(&server, msg)).unwrap();
    let (n, msg) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &msg[..]), (4, &b"ping"[..]));
    let id = ring
        .submit_op(ops::Recv::new(&client, vec![0u8; 4]))
        .unwrap();
    let (n, back) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &back[..]), (4, &b"ping"[..]));

    // The peer closes: recv reports end of stream.
    drop(server);
    let id = ring
        .submit_op(ops::Recv::new(&client, vec![0u8; 4]))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 0);
}

trait TryCloneFd {
    fn try_clone_fd(&self) -> OwnedFd;
}

impl TryCloneFd for SharedFd {
    fn try_clone_fd(&self) -> OwnedFd {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned().unwrap()
    }
}

#[test]
fn timeout_fires_with_etime_or_completes_on_count() {
    let mut ring = ring();
    let id = ring
        .submit_op(ops::Timeout::new(Duration::from_millis(5)))
        .unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));

    // Completed by a count of one other completion, long before its hour is up.
    let t = ring
        .submit_op(ops::Timeout::new(Duration::from_secs(3600)).count(1))
        .unwrap();
    let nop = ring.submit_op(ops::Nop::new()).unwrap();
    ring.wait_for(t).unwrap().expect("count reached");
    assert_eq!(ring.wait_for(nop).unwrap().unwrap(), 0);
}

#[test]
fn cancel_a_pending_read_returns_ecanceled_and_the_buffer() {
    let mut ring = ring();
    let (r, _w) = pipe();
    let id = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), vec![9u8; 8], u64::MAX))
        .unwrap();
    ring.submit().unwrap();
    ring.cancel(&id).unwrap();
    let (res, buf) = ring.wait_for(id).unwrap();
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert_eq!(buf, [9u8; 8], "the buffer comes back untouched");
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn cancel_of_a_finished_op_is_enoent() {
    let mut ring = ring();
    let id = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    let c: Vec<_> = ring.completions().collect();
    assert_eq!(c.len(), 1);
    let err = ring.cancel(&id).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT));
    let err = ring.wait_for(id).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT));
}

#[test]
fn linked_chain_failure_cancels_the_rest_and_returns_every_buffer() {
    let mut ring = ring();
    let (mut r, w) = pipe();
    let w = SharedFd::from(OwnedFd::from(w));
    // Reading from a pipe's write end fails (EBADF); the write linked after it
    // must not run.
    let (read, write) = ring
        .submit_linked((
            ops::Read::new(&w, vec![7u8; 4], u64::MAX),
            ops::Write::new(&w, b"data".to_vec(), u64::MAX),
        ))
        .unwrap();
    ring.submit().unwrap();
    let (res, rbuf) = ring.wait_for(read).unwrap();
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EBADF));
    assert_eq!(rbuf, [7u8; 4]);
    let (res, wbuf) = ring.wait_for(write).unwrap();
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    assert_eq!(wbuf, b"data");
    drop(w);
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(
        rest.is_empty(),
        "the cancelled write wrote nothing: {rest:?}"
    );
}

#[test]
fn linked_chain_runs_in_order() {
    let mut ring = ring();
    let path = TempPath::new("chain");
    let file = open_rw(&mut ring, &path);
    // The read sees the write because it starts only after the write completed.
    let (w, r, n) = ring
        .submit_linked((
            ops::Write::new(&file, b"linked".to_vec(), 0),
            ops::Read::new(&file, Vec::with_capacity(6), 0),
            ops::Nop::new(),
        ))
        .unwrap();
    ring.submit_and_wait(3).unwrap();
    let mut seen = 0;
    for c in ring.completions() {
        seen += 1;
        if c.is_for(&w) {
            assert_eq!(c.downcast::<ops::Write<Vec<u8>>>().unwrap().0.unwrap(), 6);
        } else if c.is_for(&r) {
            let (res, buf) = c.downcast::<ops::Read<Vec<u8>>>().unwrap();
            assert_eq!((res.unwrap(), &buf[..]), (6, &b"linked"[..]));
        } else {
            assert!(c.is_for(&n));
            assert_eq!(c.downcast::<ops::Nop>().unwrap().unwrap(), 0);
        }
    }
    assert_eq!(seen, 3);

    // A Vec of one type links too.
    let ids = ring
        .submit_linked(vec![ops::Nop::new(), ops::Nop::new(), ops::Nop::new()])
        .unwrap();
    assert_eq!(ids.len(), 3);
    for id in ids {
        assert_eq!(ring.wait_for(id).unwrap().unwrap(), 0);
    }
}

#[test]
fn close_in_a_failed_chain_is_done_by_the_ring() {
    let mut ring = ring();
    let (_r1, w1) = pipe();
    let (mut r2, w2) = pipe();
    let w1 = SharedFd::from(OwnedFd::from(w1));
    let (read, close) = ring
        .submit_linked((
            ops::Read::new(&w1, vec![0u8; 1], u64::MAX),
            ops::Close::new(OwnedFd::from(w2)),
        ))
        .unwrap();
    assert!(ring.wait_for(read).unwrap().0.is_err());
    let err = ring.wait_for(close).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    // The kernel never ran the close, so the ring closed w2: end of file.
    let mut rest = Vec::new();
    assert_eq!(r2.read_to_end(&mut rest).unwrap(), 0);
}

#[test]
fn chain_longer_than_the_queue_comes_back() {
    let mut ring = OwnedRing::new(2).unwrap();
    let err = ring
        .submit_linked(vec![ops::Nop::new(), ops::Nop::new(), ops::Nop::new()])
        .unwrap_err();
    assert_eq!(errno(&err.error), Some(libc::EINVAL));
    assert_eq!(err.op.len(), 3, "the chain is handed back whole");
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn the_ring_and_its_ops_move_between_threads() {
    let mut ring = ring();
    let (id, mut w) = pending_pipe_read(&mut ring);
    let t = std::thread::spawn(move || ring.wait_for(id).unwrap());
    w.write_all(b"thread").unwrap();
    let (n, buf) = t.join().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (6, &b"thread"[..]));
}

#[test]
fn connect_refused_is_an_error() {
    let mut ring = ring();
    // A port nothing listens on: bind one, learn it, close it.
    let addr: SocketAddr = {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap()
    };
    // SAFETY: socket(2) has no memory arguments.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0);
    // SAFETY: a new descriptor nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let id = ring.submit_op(ops::Connect::new(fd, addr)).unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

/// A connected TCP pair over 127.0.0.1, made with std.
fn tcp_pair() -> (SharedFd, SharedFd) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (SharedFd::from(client), SharedFd::from(server))
}

#[test]
fn send_zc_keeps_the_buffer_until_the_notification() {
    if !supported(
        uring::op::SendZc::CODE,
        "send_zc_keeps_the_buffer_until_the_notification",
    ) {
        return;
    }
    let mut ring = ring();
    let (client, server) = tcp_pair();
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    // The receiver drains the socket on its own thread: some kernels (6.1) post the
    // buffer-release notification only once the peer has read the data.
    let len = payload.len();
    let reader = std::thread::spawn(move || {
        let mut got = vec![0u8; len];
        let mut server = TcpStream::from(server.try_unwrap().unwrap());
        server.read_exact(&mut got).unwrap();
        got
    });
    let id = ring
        .submit_op(ops::SendZc::new(&client, payload.clone()))
        .unwrap();
    // The first completion (flagged MORE) does not finish the op; the NOTIF does.
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), payload.len());
    assert_eq!(buf, payload, "the buffer comes back with the notification");
    assert_eq!(ring.in_flight(), 0);
    assert!(reader.join().unwrap() == payload);
}

#[test]
fn shutdown_ends_the_peers_stream() {
    if !supported(uring::op::Shutdown::CODE, "shutdown_ends_the_peers_stream") {
        return;
    }
    let mut ring = ring();
    let (client, server) = tcp_pair();
    let id = ring
        .submit_op(ops::Shutdown::new(&client, libc::SHUT_WR))
        .unwrap();
    ring.wait_for(id).unwrap().expect("shutdown");
    let id = ring
        .submit_op(ops::Recv::new(&server, vec![0u8; 8]))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 0, "end of stream");
}

#[test]
fn poll_reports_readiness() {
    let mut ring = ring();
    let (r, mut w) = pipe();
    let id = ring
        .submit_op(ops::PollAdd::new(OwnedFd::from(r), libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"!").unwrap();
    let events = ring.wait_for(id).unwrap().unwrap();
    assert_ne!(events & libc::POLLIN as u32, 0, "POLLIN in {events:#x}");
}

#[test]
fn splice_moves_pipe_data_into_a_file() {
    let mut ring = ring();
    let path = TempPath::new("splice");
    let file = open_rw(&mut ring, &path);
    let (r, mut w) = pipe();
    w.write_all(b"spliced").unwrap();
    let id = ring
        .submit_op(ops::Splice::new(OwnedFd::from(r), None, &file, Some(3), 7))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 7);
    assert_eq!(std::fs::read(&path.0).unwrap(), b"\0\0\0spliced");
}

#[test]
fn ftruncate_and_rename() {
    let mut ring = ring();
    let path = TempPath::new("trunc");
    let file = open_rw(&mut ring, &path);
    let id = ring
        .submit_op(ops::Write::new(&file, b"0123456789".to_vec(), 0))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 10);
    if supported(
        uring::op::Ftruncate::CODE,
        "ftruncate_and_rename (ftruncate part)",
    ) {
        let id = ring.submit_op(ops::Ftruncate::new(&file, 3)).unwrap();
        ring.wait_for(id).unwrap().expect("ftruncate");
        assert_eq!(std::fs::read(&path.0).unwrap(), b"012");
    }
    if !supported(
        uring::op::RenameAt::CODE,
        "ftruncate_and_rename (rename part)",
    ) {
        return;
    }
    let new = TempPath::new("renamed");
    let id = ring
        .submit_op(ops::RenameAt::new(&path.0, &new.0).unwrap())
        .unwrap();
    ring.wait_for(id).unwrap().expect("rename");
    assert!(!path.0.exists());
    let id = ring.submit_op(ops::Statx::path(&new.0).unwrap()).unwrap();
    let st = ring.wait_for(id).unwrap().expect("statx");
    assert!(st.stx_size == 3 || st.stx_size == 10);
    // RENAME_NOREPLACE onto an existing name fails.
    std::fs::write(&path.0, b"x").unwrap();
    let id = ring
        .submit_op(
            ops::RenameAt::new(&new.0, &path.0)
                .unwrap()
                .flags(libc::RENAME_NOREPLACE),
        )
        .unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
}

#[test]
fn msg_zerocopy_is_refused_by_plain_send() {
    use uring::owned::Op;
    let (client, _server) = tcp_pair();
    let mut op =
        ops::Send::new(&client, b"x".to_vec()).flags(libc::MSG_ZEROCOPY | libc::MSG_NOSIGNAL);
    let sqe = op.sqe();
    // SAFETY: msg_flags is the u32 view of the entry's op-flags union; any bits are valid.
    let flags = unsafe { sqe.as_raw().__bindgen_anon_3.msg_flags } as i32;
    assert_eq!(flags, libc::MSG_NOSIGNAL);
}

#[test]
fn completions_of_takes_one_type_and_leaves_the_others() {
    let mut ring = ring();
    // Three reads, each from a pipe of its own already holding its bytes, with a
    // NOP and a failing write (to a read end) between them. (The slab's unit
    // tests check the order; here each read's bytes go with its key.)
    let mut pipes = Vec::new();
    let mut expected = Vec::new();
    let nop = ring.submit_op(ops::Nop::new()).unwrap();
    let mut bad = None;
    for data in [&b"ab"[..], b"cd", b"ef"] {
        let (r, mut w) = pipe();
        w.write_all(data).unwrap();
        let r = SharedFd::from(OwnedFd::from(r));
        let id = ring
            .submit_op(ops::Read::new(&r, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        expected.push((id.key(), data.to_vec()));
        if bad.is_none() {
            bad = Some(
                ring.submit_op(ops::Write::new(&r, b"x".to_vec(), u64::MAX))
                    .unwrap(),
            );
        }
        pipes.push((r, w));
    }
    let bad = bad.unwrap();
    // Until all five have finished: 5.10 ends a submission at an entry that
    // fails (the write), leaving the rest for the next one.
    while ring.in_flight() > 0 {
        ring.submit_and_wait(1).unwrap();
        ring.get_events().unwrap();
    }
    // One read, then the iterator is dropped: the rest stay.
    let mut got = Vec::new();
    let (key, (n, buf)) = ring.completions_of::<ops::Read<Vec<u8>>>().next().unwrap();
    assert_eq!(n.unwrap(), buf.len());
    got.push((key, buf));
    for (key, (n, buf)) in ring.completions_of::<ops::Read<Vec<u8>>>() {
        assert_eq!(n.unwrap(), buf.len());
        got.push((key, buf));
    }
    got.sort_by_key(|(key, _)| key.index());
    expected.sort_by_key(|(key, _)| key.index());
    assert_eq!(got, expected);
    assert_eq!(ring.completions_of::<ops::Read<Vec<u8>>>().count(), 0);
    // The NOP and the write were passed over. (Their order is the kernel's: 6.1
    // posts the failed write's completion before those of the entries that
    // succeeded inline.)
    let mut rest: Vec<_> = ring.completions().collect();
    assert_eq!(rest.len(), 2);
    if rest[0].is_for(&bad) {
        rest.swap(0, 1);
    }
    assert!(rest[0].is_for(&nop));
    assert_eq!(rest[0].raw_result(), 0);
    assert!(rest[1].is_for(&bad));
    assert_eq!(rest[1].raw_result(), -libc::EBADF);
}

#[test]
fn completions_of_reaps_what_the_kernel_posted_since() {
    let mut ring = ring();
    let (read, mut w) = pending_pipe_read(&mut ring);
    assert_eq!(
        ring.completions_of::<ops::Read<Vec<u8>>>().count(),
        0,
        "nothing yet"
    );
    w.write_all(b"later").unwrap();
    // No wait: the call itself processes what the kernel posted.
    let mut got = None;
    for _ in 0..1000 {
        if let Some((key, (n, buf))) = ring.completions_of::<ops::Read<Vec<u8>>>().next() {
            got = Some((key, n.unwrap(), buf));
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(got, Some((read.key(), 5, b"later".to_vec())));
}

#[test]
fn next_completion_yields_each_op_once_then_enoent() {
    let mut ring = ring();
    let (r, mut w) = pipe();
    let read = ring
        .submit_op(ops::Read::new(
            OwnedFd::from(r),
            Vec::with_capacity(4),
            u64::MAX,
        ))
        .unwrap();
    let nop = ring.submit_op(ops::Nop::new()).unwrap();
    let first = ring.next_completion().unwrap();
    assert!(first.is_for(&nop), "the NOP finishes first: {first:?}");
    w.write_all(b"late").unwrap();
    let second = ring.next_completion().unwrap();
    assert!(second.is_for(&read));
    let (n, buf) = second.downcast::<ops::Read<Vec<u8>>>().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"late"[..]));
    assert_eq!(
        errno(&ring.next_completion().unwrap_err()),
        Some(libc::ENOENT)
    );
}

#[test]
fn a_link_timeout_cancels_a_stuck_receive_and_spares_a_quick_one() {
    let mut ring = ring();
    // Stuck: no data ever comes; the receive is cancelled and its buffer returned.
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    let (recv, timeout) = ring
        .submit_with_timeout(ops::Recv::new(&r, vec![7u8; 16]), Duration::from_millis(1))
        .unwrap();
    let (res, buf) = ring.wait_for(recv).unwrap();
    assert_eq!(errno(&res.unwrap_err()), Some(libc::ECANCELED));
    assert_eq!(buf, [7u8; 16], "the buffer comes back untouched");
    assert_eq!(
        errno(&ring.wait_for(timeout).unwrap().unwrap_err()),
        Some(libc::ETIME)
    );
    // Quick: the data is there; the timeout is the one cancelled.
    w.write_all(b"in time").unwrap();
    let (recv, timeout) = ring
        .submit_with_timeout(
            ops::Recv::new(&r, Vec::with_capacity(16)),
            Duration::from_secs(3600),
        )
        .unwrap();
    let (res, buf) = ring.wait_for(recv).unwrap();
    assert_eq!((res.unwrap(), &buf[..]), (7, &b"in time"[..]));
    assert_eq!(
        errno(&ring.wait_for(timeout).unwrap().unwrap_err()),
        Some(libc::ECANCELED)
    );
    assert_eq!(ring.in_flight(), 0);
}

/// The socket ops refuse a length above `INT_MAX` (`EINVAL`) where reads and writes
/// clamp it; the ring clamps it first, so a huge buffer still receives what there is.
#[test]
fn a_receive_into_a_buffer_over_int_max_gets_the_bytes() {
    let mut ring = ring();
    let (client, server) = tcp_pair();
    let id = ring
        .submit_op(ops::Send::new(&client, b"hello".to_vec()))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 5);
    // 2 GiB of address space, never touched beyond the 5 bytes received. A machine
    // whose overcommit policy refuses that much (kernel-check's 1 GiB guests) cannot
    // run the test: say so rather than abort the whole binary.
    let mut huge = Vec::<u8>::new();
    if let Err(e) = huge.try_reserve_exact(1 << 31) {
        println!(
            "skipped: a_receive_into_a_buffer_over_int_max_gets_the_bytes because this machine \
             will not reserve 2 GiB of address space ({e})"
        );
        return;
    }
    let id = ring.submit_op(ops::Recv::new(&server, huge)).unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.expect("recv into 2 GiB"), 5);
    assert_eq!(buf, b"hello");
    assert!(buf.capacity() >= 1 << 31, "the same buffer came back");
}

/// An id survives an error: after `wait_for` refused it (another ring's), the
/// same id still finds the operation on its own ring.
#[test]
fn an_id_survives_an_error_and_finds_its_operation_again() {
    let mut ring = ring();
    let mut other = self::ring();
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    let id = ring
        .submit_op(ops::Recv::new(r, Vec::with_capacity(8)))
        .unwrap();
    let err = other.wait_for(id).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL));
    assert!(ring.is_in_flight(&id), "the operation is untouched");
    w.write_all(b"again").unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (5, &b"again"[..]));
    // Once its output is taken, every copy of the id matches nothing.
    assert_eq!(errno(&ring.wait_for(id).unwrap_err()), Some(libc::ENOENT));
}

/// Every error that stands for an errno answers `raw_os_error()` — the check
/// every caller writes — not only `uring::error::errno`.
#[test]
fn outcome_errors_answer_raw_os_error() {
    let mut ring = ring();
    // Nothing in flight: no completion will come.
    assert_eq!(
        ring.next_completion().unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    let mut keys = Vec::new();
    assert_eq!(
        ring.wait_activity(&mut keys).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    // A finished operation: not in flight, its output taken.
    let id = ring.submit_op(ops::Nop::new()).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    assert_eq!(
        ring.cancel(&id).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    assert_eq!(
        ring.wait_for(id).unwrap_err().raw_os_error(),
        Some(libc::ENOENT)
    );
    // A full submission queue, for raw entries.
    let mut small = OwnedRing::new(1).unwrap();
    let nop = uring::op::Nop::new().build().user_data(1);
    // SAFETY: a NOP names no memory and no descriptor.
    unsafe { small.push_raw(&nop) }.unwrap();
    // SAFETY: as above.
    let full = unsafe { small.push_raw(&nop) }.unwrap_err();
    assert_eq!(full.raw_os_error(), Some(libc::EBUSY));
    // A flag this kernel does not know, at set-up.
    let err = OwnedRing::from_builder(
        uring::Ring::builder().flags(uring::setup::SetupFlags::from_bits_retain(1 << 31)),
        4,
    )
    .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
}

/// Errors for bad input carry a message naming what was wrong; their payload's
/// `source()` is the OS error.
#[test]
fn bad_input_errors_name_it_and_their_source_is_the_os_error() {
    let mut ring = ring();
    let other = self::ring();
    let Some(pool) = uring::owned::BufPool::new(&mut ring, 3, 2, 16).ok() else {
        support::skip(
            "bad_input_errors_name_it_and_their_source_is_the_os_error",
            "this kernel refused a buffer ring; Linux 5.19 is needed",
        );
        return;
    };
    let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut other = other;
    let err = other
        .submit_op(ops::RecvSelect::new(r, &pool))
        .unwrap_err()
        .error;
    assert!(err.to_string().contains("another ring"), "{err}");
    let os = err.get_ref().and_then(|p| p.source()).expect("a source");
    let os = os.downcast_ref::<std::io::Error>().expect("an io::Error");
    assert_eq!(os.raw_os_error(), Some(libc::EXDEV));
    assert_eq!(errno(&err), Some(libc::EXDEV));
}

/// On a `DEFER_TASKRUN` ring the kernel posts completions only when the task
/// enters it asking for events; the non-blocking calls (`try_take`, `poll_item`,
/// `completions`) do that themselves, so a loop over them makes progress.
#[test]
fn a_defer_taskrun_ring_progresses_through_the_non_blocking_calls() {
    if !support::defer_taskrun("a_defer_taskrun_ring_progresses_through_the_non_blocking_calls") {
        return;
    }
    let builder = uring::Ring::builder().single_issuer().defer_taskrun();
    let mut ring = OwnedRing::from_builder(builder, 8).unwrap();
    /// Calls `f` until it gives something, sleeping a little in between (the
    /// data is already there; only the kernel's deferred work is missing).
    fn spin<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
        (0..200).find_map(|_| {
            let got = f();
            if got.is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
            got
        })
    }
    // try_take: a receive completed by data that arrives after it is armed.
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    let id = ring
        .submit_op(ops::Recv::new(&r, Vec::with_capacity(8)))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"taken").unwrap();
    let (n, buf) = spin(|| ring.try_take(&id)).expect("try_take saw the receive");
    assert_eq!((n.unwrap(), &buf[..]), (5, &b"taken"[..]));

    // completions: the same, seen through the iterator.
    let id = ring
        .submit_op(ops::Recv::new(&r, Vec::with_capacity(8)))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"iter").unwrap();
    let c = spin(|| ring.completions().next()).expect("completions saw the receive");
    let (n, buf) = c.into_output(&id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"iter"[..]));

    // poll_item: a multishot poll's events.
    let id = ring
        .submit_multishot(ops::PollMultishot::new(&r, libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"x").unwrap();
    let item = spin(|| match ring.poll_item(&id) {
        uring::owned::ItemPoll::Item(item) => Some(item),
        _ => None,
    })
    .expect("poll_item saw the event");
    assert_ne!(item.unwrap() & libc::POLLIN as u32, 0);
    ring.cancel(&id).unwrap();
}

/// Right after a wait, which ran the kernel's deferred work on its way out, the
/// first non-blocking call on a `DEFER_TASKRUN` ring only reaps (no second
/// entry per batch); work queued since is run by the next such call, so a loop
/// of them still makes progress.
#[test]
fn a_defer_taskrun_ring_enters_once_per_wait() {
    if !support::defer_taskrun("a_defer_taskrun_ring_enters_once_per_wait") {
        return;
    }
    let builder = uring::Ring::builder().single_issuer().defer_taskrun();
    let mut ring = OwnedRing::from_builder(builder, 8).unwrap();
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    let recv = ring
        .submit_op(ops::Recv::new(r, Vec::with_capacity(8)))
        .unwrap();
    let nop = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    // The receive's data arrives after the wait: its completion is deferred
    // work, which only an entry into the kernel runs.
    w.write_all(b"late").unwrap();
    let first: Vec<_> = ring.completions().map(|c| c.key()).collect();
    assert_eq!(
        first,
        [nop.key()],
        "the wait's completions, without entering"
    );
    let c = ring
        .completions()
        .next()
        .expect("the next call entered and ran the receive");
    let (n, buf) = c.into_output(&recv).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"late"[..]));
}

/// A zero-copy send's final completion (its notification) can wait for the
/// peer to read the bytes (over loopback, for all but small sends): with an idle
/// peer the operation stays in flight long after the send itself completed, as
/// its docs say; the peer's read releases it, buffer back.
#[test]
fn a_zero_copy_send_waits_for_the_peer_to_read() {
    if !supported(
        uring::op::SendZc::CODE,
        "a_zero_copy_send_waits_for_the_peer_to_read",
    ) {
        return;
    }
    let mut ring = ring();
    let (client, server) = tcp_pair();
    let id = ring
        .submit_op(ops::SendZc::new(&client, vec![7u8; 65536]))
        .unwrap();
    // The send's own completion (flagged MORE) comes at once; then nothing.
    ring.submit_and_wait(1).unwrap();
    let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(300));
    let pending = ring.is_in_flight(&id);
    // Reading the bytes releases the pages: the notification follows.
    let mut got = vec![0u8; 65536];
    TcpStream::from(server.try_unwrap().unwrap())
        .read_exact(&mut got)
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 65536);
    assert_eq!(buf, got);
    if !pending {
        println!(
            "note: on this kernel ({}) the notification came before the peer read",
            support::kernel_release()
        );
    }
}
