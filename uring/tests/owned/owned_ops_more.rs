//! The safe layer's newer operations end to end: openat2, linkat, symlinkat, bind,
//! listen, sendmsg, recvmsg, tee, msg_ring, futex wait/wake, waitid and multishot
//! read. Each test checks what the kernel did (files, links, sockets, bytes,
//! completions, processes), and one failure per family checks that the errno comes
//! through. A test whose opcode this kernel lacks prints why and returns.

use crate::support;
use support::pipe_files as pipe;
use support::{kernel_release, pool_or_skip, supported, tcp_pair};

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use uring::error::errno;
use uring::owned::{BufPool, OwnedRing, RAW_USER_DATA_MAX, SharedFd, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// A fresh directory in the temporary directory, removed (with its contents) when
/// dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("uring-more-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir(&p).expect("mkdir");
        TempDir(p)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn open(&self) -> std::fs::File {
        std::fs::File::open(&self.0).expect("open dir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A new, unbound IPv4 TCP socket.
fn tcp_socket() -> OwnedFd {
    // SAFETY: plain socket(2); the result is checked.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn expect_errno<T: std::fmt::Debug>(r: std::io::Result<T>, want: i32, what: &str) {
    match r {
        Err(e) => assert_eq!(errno(&e), Some(want), "{what}: {e}"),
        Ok(v) => panic!("{what}: expected errno {want}, got Ok({v:?})"),
    }
}

// ---------------------------------------------------------------- files

#[test]
fn openat2_creates_opens_and_confines_to_its_directory() {
    if !supported(uring::op::OpenAt2::CODE, "openat2") {
        return;
    }
    let mut ring = ring();
    let dir = TempDir::new("openat2");
    let dfd = SharedFd::from(dir.open());

    // Create a file relative to the directory, with a mode.
    let op = ops::OpenAt2::new("f", libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL)
        .unwrap()
        .mode(0o640)
        .dir(&dfd)
        .resolve(libc::RESOLVE_BENEATH);
    let id = ring.submit_op(op).unwrap();
    let mut f = std::fs::File::from(ring.wait_for(id).unwrap().expect("openat2 create"));
    f.write_all(b"made by openat2").unwrap();
    drop(f);
    let meta = std::fs::metadata(dir.join("f")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(
        std::fs::read(dir.join("f")).unwrap(),
        b"made by openat2".to_vec()
    );
    // The descriptor is close-on-exec.
    let op = ops::OpenAt2::new(dir.join("f"), libc::O_RDONLY).unwrap();
    let id = ring.submit_op(op).unwrap();
    let f = ring.wait_for(id).unwrap().expect("openat2 open");
    // SAFETY: F_GETFD on a live descriptor.
    let fdflags = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_GETFD) };
    assert!(fdflags & libc::FD_CLOEXEC != 0);

    // RESOLVE_BENEATH: no way out of the directory.
    let op = ops::OpenAt2::new("../", libc::O_RDONLY)
        .unwrap()
        .dir(&dfd)
        .resolve(libc::RESOLVE_BENEATH);
    let id = ring.submit_op(op).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EXDEV, "escaping the dir");
    // Failure paths: a missing file; a mode without O_CREAT.
    let op = ops::OpenAt2::new("missing", libc::O_RDONLY)
        .unwrap()
        .dir(&dfd);
    let id = ring.submit_op(op).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ENOENT, "missing file");
    let op = ops::OpenAt2::new(dir.join("f"), libc::O_RDONLY)
        .unwrap()
        .mode(0o600);
    let id = ring.submit_op(op).unwrap();
    expect_errno(
        ring.wait_for(id).unwrap(),
        libc::EINVAL,
        "mode without O_CREAT",
    );
}

#[test]
fn paths_with_nul_bytes_are_refused_before_any_submission() {
    use std::io::ErrorKind::InvalidInput;
    assert_eq!(
        ops::OpenAt2::new("a\0b", 0).unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        ops::LinkAt::new("a\0", "b").unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        ops::LinkAt::new("a", "\0b").unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        ops::SymlinkAt::new("t\0", "l").unwrap_err().kind(),
        InvalidInput
    );
    assert_eq!(
        ops::SymlinkAt::new("t", "l\0").unwrap_err().kind(),
        InvalidInput
    );
}

#[test]
fn linkat_makes_a_hard_link_to_the_same_inode() {
    if !supported(uring::op::LinkAt::CODE, "linkat") {
        return;
    }
    let mut ring = ring();
    let dir = TempDir::new("linkat");
    std::fs::write(dir.join("a"), b"shared").unwrap();
    let d = SharedFd::from(dir.open());
    let id = ring
        .submit_op(ops::LinkAt::new("a", "b").unwrap().dirs(&d, &d))
        .unwrap();
    ring.wait_for(id).unwrap().expect("linkat");
    let (ma, mb) = (
        std::fs::metadata(dir.join("a")).unwrap(),
        std::fs::metadata(dir.join("b")).unwrap(),
    );
    assert_eq!(ma.ino(), mb.ino());
    assert_eq!(mb.nlink(), 2);
    assert_eq!(std::fs::read(dir.join("b")).unwrap(), b"shared".to_vec());

    // AT_SYMLINK_FOLLOW links what a symlink points at, not the symlink.
    std::os::unix::fs::symlink(dir.join("a"), dir.join("s")).unwrap();
    let op = ops::LinkAt::new(dir.join("s"), dir.join("c"))
        .unwrap()
        .flags(libc::AT_SYMLINK_FOLLOW);
    let id = ring.submit_op(op).unwrap();
    ring.wait_for(id).unwrap().expect("linkat follow");
    let mc = std::fs::symlink_metadata(dir.join("c")).unwrap();
    assert!(mc.file_type().is_file());
    assert_eq!(mc.ino(), ma.ino());

    // Failure paths: the new name exists; the old one does not.
    let id = ring
        .submit_op(ops::LinkAt::new("a", "b").unwrap().dirs(&d, &d))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EEXIST, "existing target");
    let id = ring
        .submit_op(ops::LinkAt::new("nope", "z").unwrap().dirs(&d, &d))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ENOENT, "missing source");
    assert!(!dir.join("z").exists());
}

#[test]
fn symlinkat_makes_a_link_holding_the_target_text() {
    if !supported(uring::op::SymlinkAt::CODE, "symlinkat") {
        return;
    }
    let mut ring = ring();
    let dir = TempDir::new("symlinkat");
    let d = SharedFd::from(dir.open());
    // The target is stored as given, even if nothing is there.
    let id = ring
        .submit_op(ops::SymlinkAt::new("no/such/target", "l").unwrap().dir(&d))
        .unwrap();
    ring.wait_for(id).unwrap().expect("symlinkat");
    assert_eq!(
        std::fs::read_link(dir.join("l")).unwrap(),
        PathBuf::from("no/such/target")
    );
    std::fs::write(dir.join("t"), b"through the link").unwrap();
    let id = ring
        .submit_op(ops::SymlinkAt::new(dir.join("t"), dir.join("l2")).unwrap())
        .unwrap();
    ring.wait_for(id).unwrap().expect("symlinkat absolute");
    assert_eq!(
        std::fs::read(dir.join("l2")).unwrap(),
        b"through the link".to_vec()
    );
    // Failure paths: the link exists; its directory does not.
    let id = ring
        .submit_op(ops::SymlinkAt::new("x", "l").unwrap().dir(&d))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EEXIST, "existing link");
    let id = ring
        .submit_op(ops::SymlinkAt::new("x", "nodir/l").unwrap().dir(&d))
        .unwrap();
    expect_errno(
        ring.wait_for(id).unwrap(),
        libc::ENOENT,
        "missing directory",
    );
}

// ---------------------------------------------------------------- sockets

#[test]
fn bind_and_listen_make_a_socket_accept_connections_on_the_asked_port() {
    if !supported(uring::op::Bind::CODE, "bind_and_listen")
        || !supported(uring::op::Listen::CODE, "bind_and_listen")
    {
        return;
    }
    let mut ring = ring();
    // A port free a moment ago.
    let port = {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        l.local_addr().unwrap().port()
    };
    let asked = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let sock = SharedFd::from(tcp_socket());
    let (bind, listen) = ring
        .submit_linked((ops::Bind::new(&sock, asked), ops::Listen::new(&sock, 4)))
        .unwrap();
    ring.wait_for(bind).unwrap().expect("bind");
    ring.wait_for(listen).unwrap().expect("listen");
    let listener = TcpListener::from(sock.try_unwrap().expect("the ops are done"));
    assert_eq!(listener.local_addr().unwrap(), asked);
    // It listens: a connection goes through and is accepted.
    let mut client = TcpStream::connect(asked).unwrap();
    let (mut server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    client.write_all(b"hi").unwrap();
    let mut got = [0u8; 2];
    server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"hi");

    // Failure path: the address is taken.
    let other = SharedFd::from(tcp_socket());
    let id = ring.submit_op(ops::Bind::new(&other, asked)).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EADDRINUSE, "bind in use");
    // Listening on something that is not a socket.
    let id = ring
        .submit_op(ops::Listen::new(
            std::fs::File::open("/dev/null").unwrap(),
            1,
        ))
        .unwrap();
    expect_errno(
        ring.wait_for(id).unwrap(),
        libc::ENOTSOCK,
        "listen on a file",
    );
}

#[test]
fn sendmsg_and_recvmsg_carry_one_datagram_across_buffers_with_the_peer_address() {
    if !supported(uring::op::SendMsg::CODE, "sendmsg/recvmsg")
        || !supported(uring::op::RecvMsg::CODE, "sendmsg/recvmsg")
    {
        return;
    }
    let mut ring = ring();
    let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let (rx_addr, tx_addr) = (rx.local_addr().unwrap(), tx.local_addr().unwrap());
    let rx = SharedFd::from(rx);

    // The receive waits first, so both are in flight together.
    let recv = ring
        .submit_op(ops::RecvMsg::new(
            &rx,
            vec![Vec::with_capacity(3), Vec::with_capacity(64)],
        ))
        .unwrap();
    ring.submit().unwrap();
    let send = ops::SendMsg::new(
        tx,
        vec![b"one ".to_vec(), b"two ".to_vec(), b"three".to_vec()],
    )
    .to(rx_addr);
    let send = ring.submit_op(send).unwrap();
    let (n, bufs) = ring.wait_for(send).unwrap();
    assert_eq!(n.unwrap(), 13);
    assert_eq!(bufs.concat(), b"one two three".to_vec(), "buffers back");

    let (got, bufs) = ring.wait_for(recv).unwrap();
    let got = got.expect("recvmsg");
    assert_eq!(got.len, 13);
    assert_eq!(got.addr, Some(tx_addr), "the sender's address");
    assert_eq!(got.flags & libc::MSG_TRUNC, 0);
    assert!(got.fds.is_empty() && got.control.is_empty());
    assert_eq!(&bufs[0][..], b"one");
    assert_eq!(&bufs[1][..], b" two three");

    // A datagram larger than the buffers: truncated, and said so.
    let small = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    small.send_to(&[7u8; 100], rx_addr).unwrap();
    let id = ring
        .submit_op(ops::RecvMsg::new(&rx, vec![vec![0u8; 10]]))
        .unwrap();
    let (got, bufs) = ring.wait_for(id).unwrap();
    let got = got.unwrap();
    assert_eq!(got.len, 10);
    assert!(got.flags & libc::MSG_TRUNC != 0);
    assert_eq!(got.addr, Some(small.local_addr().unwrap()));
    assert_eq!(bufs[0], vec![7u8; 10]);

    // Failure paths: not a socket; the buffers still come back.
    let file = std::fs::File::open("/dev/null").unwrap();
    let id = ring
        .submit_op(ops::RecvMsg::new(file, vec![Vec::<u8>::with_capacity(8)]))
        .unwrap();
    let (got, bufs) = ring.wait_for(id).unwrap();
    expect_errno(got, libc::ENOTSOCK, "recvmsg on a file");
    assert_eq!(bufs[0].capacity(), 8);
    let file = std::fs::File::open("/dev/null").unwrap();
    let id = ring
        .submit_op(ops::SendMsg::new(file, vec![b"x".to_vec()]))
        .unwrap();
    let (n, bufs) = ring.wait_for(id).unwrap();
    expect_errno(n, libc::ENOTSOCK, "sendmsg on a file");
    assert_eq!(bufs, vec![b"x".to_vec()]);
}

#[test]
fn recvmsg_takes_passed_descriptors_as_owned_and_without_room_gets_none() {
    if !supported(uring::op::RecvMsg::CODE, "recvmsg with descriptors") {
        return;
    }
    let mut ring = ring();
    let (a, b) = UnixDatagram::pair().unwrap();
    let b = SharedFd::from(b);
    let (mut pr, pw) = pipe();
    support::send_fd(&a, pw.as_raw_fd(), b'f');
    drop(pw);
    let id = ring
        .submit_op(ops::RecvMsg::new(&b, vec![Vec::with_capacity(4)]).control(64))
        .unwrap();
    let (got, bufs) = ring.wait_for(id).unwrap();
    let got = got.unwrap();
    assert_eq!((got.len, &bufs[0][..]), (1, &b"f"[..]));
    assert_eq!(got.fds.len(), 1, "one descriptor passed");
    assert_eq!(got.flags & libc::MSG_CTRUNC, 0);
    assert!(!got.control.is_empty());
    let passed = got.fds.into_iter().next().unwrap();
    // SAFETY: F_GETFD on a live descriptor.
    let fdflags = unsafe { libc::fcntl(passed.as_raw_fd(), libc::F_GETFD) };
    assert!(fdflags & libc::FD_CLOEXEC != 0, "MSG_CMSG_CLOEXEC");
    // It is the pipe's write end: what is written comes out of the read end, and
    // dropping it (the last write end) gives the reader end of file.
    std::fs::File::from(passed).write_all(b"via fd").unwrap();
    let mut got = Vec::new();
    pr.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"via fd".to_vec());

    // Without a control buffer the kernel installs nothing, and says so.
    let (_pr2, pw2) = pipe();
    support::send_fd(&a, pw2.as_raw_fd(), b'f');
    let id = ring
        .submit_op(ops::RecvMsg::new(&b, vec![Vec::with_capacity(4)]))
        .unwrap();
    let (got, _) = ring.wait_for(id).unwrap();
    let got = got.unwrap();
    assert!(got.fds.is_empty());
    assert!(got.flags & libc::MSG_CTRUNC != 0);
}

#[test]
fn pending_recvmsg_futex_wait_and_waitid_are_cancelled_and_waited_for_on_close() {
    let mut ring = ring();
    let (_a, b) = UnixDatagram::pair().unwrap();
    let id = ring
        .submit_op(ops::RecvMsg::new(b, vec![Vec::<u8>::with_capacity(8)]).control(32))
        .unwrap();
    let _ = id; // only an id (Copy): the op stays in the table
    let mut expected = 1;
    if uring::probe::probe()
        .unwrap()
        .is_supported(uring::op::FutexWait::CODE)
    {
        let word = Arc::new(AtomicU32::new(0));
        let _w = ring.submit_op(ops::FutexWait::new(&word, 0)).unwrap();
        drop(word); // the op keeps the word alive
        expected += 1;
    }
    let mut child = None;
    if uring::probe::probe()
        .unwrap()
        .is_supported(uring::op::WaitId::CODE)
    {
        let c = support::spawn(std::process::Command::new("sleep").arg("30")).unwrap();
        let _w = ring
            .submit_op(ops::WaitId::pid(c.id(), libc::WEXITED))
            .unwrap();
        child = Some(c);
        expected += 1;
    }
    ring.submit().unwrap();
    let can_wait = ring.ring().features().contains(uring::Features::EXT_ARG);
    let report = ring.close();
    if can_wait {
        assert_eq!((report.completed, report.leaked), (expected, 0));
    } else {
        // Without IORING_FEAT_EXT_ARG (before 5.11) the ring cannot wait with a
        // timeout: what had not completed is leaked, never freed.
        println!(
            "partly skipped: pending ops on close because this kernel ({}) lacks IORING_FEAT_EXT_ARG",
            kernel_release()
        );
        assert_eq!(report.completed + report.leaked, expected);
    }
    if let Some(mut c) = child {
        // The cancelled waitid reaped nothing: the child is still ours to reap.
        c.kill().unwrap();
        assert!(!c.wait().unwrap().success());
    }
}

#[test]
fn tee_duplicates_pipe_data_without_consuming_it() {
    if !supported(uring::op::Tee::CODE, "tee") {
        return;
    }
    let mut ring = ring();
    let (r1, mut w1) = pipe();
    let (mut r2, w2) = pipe();
    let r1 = SharedFd::from(r1);
    w1.write_all(b"0123456789").unwrap();
    let id = ring.submit_op(ops::Tee::new(&r1, w2, 4)).unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 4);
    let mut teed = [0u8; 4];
    r2.read_exact(&mut teed).unwrap();
    assert_eq!(&teed, b"0123");
    drop(w1);
    let mut all = Vec::new();
    std::fs::File::from(r1.try_unwrap().unwrap())
        .read_to_end(&mut all)
        .unwrap();
    assert_eq!(all, b"0123456789".to_vec(), "the source kept everything");
    // Failure path: tee needs pipes on both sides.
    let (_r, w) = pipe();
    let id = ring
        .submit_op(ops::Tee::new(
            std::fs::File::open("/dev/zero").unwrap(),
            w,
            4,
        ))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EINVAL, "tee from a file");
}

// ---------------------------------------------------------------- rings

#[test]
fn msg_ring_posts_the_chosen_user_data_and_result_into_the_target_ring() {
    if !supported(uring::op::MsgRing::CODE, "msg_ring") {
        return;
    }
    let mut a = ring();
    let mut b = ring();
    let id = a
        .submit_op(ops::MsgRing::new(&b, 0x1234, 99).unwrap())
        .unwrap();
    a.wait_for(id).unwrap().expect("msg_ring");
    // The largest allowed value arrives intact too, as a raw completion.
    let id = a
        .submit_op(ops::MsgRing::new(&b, RAW_USER_DATA_MAX, -5).unwrap())
        .unwrap();
    a.wait_for(id).unwrap().expect("msg_ring max");
    let got: Vec<(u64, i32)> = b
        .raw_completions()
        .map(|c| (c.user_data(), c.raw_result()))
        .collect();
    assert_eq!(got, vec![(0x1234, 99), (RAW_USER_DATA_MAX, -5)]);
    assert_eq!(b.in_flight(), 0);
    assert_eq!(b.completions().count(), 0, "nothing taken for the table");
    assert_eq!(a.raw_completions().count(), 0, "nothing raw on the sender");

    // The target ring's own operations are untouched by messages.
    let nop = b.submit_op(ops::Nop::new()).unwrap();
    let id = a.submit_op(ops::MsgRing::new(&b, 7, 0).unwrap()).unwrap();
    a.wait_for(id).unwrap().unwrap();
    assert_eq!(b.wait_for(nop).unwrap().unwrap(), 0);
    assert_eq!(b.raw_completions().next().map(|c| c.user_data()), Some(7));

    // A message to itself, and to a ring dropped meanwhile (the op holds a duplicate
    // of its descriptor, so the kernel still finds a ring).
    let id = a.submit_op(ops::MsgRing::new(&a, 8, 1).unwrap()).unwrap();
    a.wait_for(id).unwrap().unwrap();
    assert_eq!(a.raw_completions().next().map(|c| c.user_data()), Some(8));
    let op = ops::MsgRing::new(&b, 9, 0).unwrap();
    drop(b);
    let id = a.submit_op(op).unwrap();
    a.wait_for(id)
        .unwrap()
        .expect("the ring file is still alive");

    // Refused at construction: a user_data with the reserved bits.
    let c = ring();
    for bad in [RAW_USER_DATA_MAX + 1, 1 << 63, u64::MAX] {
        let e = ops::MsgRing::new(&c, bad, 0).unwrap_err();
        assert_eq!(errno(&e), Some(libc::EINVAL));
        let e = ops::MsgRing::to_fd(std::fs::File::open("/dev/null").unwrap(), bad, 0).unwrap_err();
        assert_eq!(errno(&e), Some(libc::EINVAL));
    }
    // Failure path: the target is not a ring.
    let op = ops::MsgRing::to_fd(std::fs::File::open("/dev/null").unwrap(), 1, 0).unwrap();
    let id = a.submit_op(op).unwrap();
    expect_errno(a.wait_for(id).unwrap(), libc::EBADFD, "not a ring");
}

// ---------------------------------------------------------------- futexes

fn futex_wake_private(word: &AtomicU32, n: i32) -> i64 {
    // SAFETY: FUTEX_WAKE on the address of a live AtomicU32; the kernel only uses
    // the address as a key.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
            std::ptr::null::<libc::timespec>(),
        )
    }
}

fn futex_wait_private(word: &AtomicU32, expected: u32) {
    // SAFETY: FUTEX_WAIT on a live AtomicU32, which the kernel reads atomically;
    // no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

#[test]
fn futex_wait_is_woken_by_a_thread() {
    if !supported(uring::op::FutexWait::CODE, "futex_wait") {
        return;
    }
    let mut ring = ring();
    let word = Arc::new(AtomicU32::new(0));
    let id = ring.submit_op(ops::FutexWait::new(&word, 0)).unwrap();
    ring.submit().unwrap();
    let waker = {
        let word = Arc::clone(&word);
        std::thread::spawn(move || {
            // Wake until the ring's waiter was there to be woken.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                word.store(1, Ordering::Release);
                if futex_wake_private(&word, 1) == 1 {
                    return true;
                }
                if Instant::now() > deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        })
    };
    assert!(waker.join().unwrap(), "a waiter was found and woken");
    ring.wait_for(id).unwrap().expect("woken");

    // Failure path: the word no longer holds the expected value.
    let id = ring.submit_op(ops::FutexWait::new(&word, 0)).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EAGAIN, "stale value");
}

#[test]
fn futex_wake_wakes_a_waiting_thread_and_wait_is_cancellable() {
    if !supported(uring::op::FutexWake::CODE, "futex_wake") {
        return;
    }
    let mut ring = ring();
    let word = Arc::new(AtomicU32::new(0));
    let sleeper = {
        let word = Arc::clone(&word);
        std::thread::spawn(move || {
            let mut wakeups = 0u32;
            while word.load(Ordering::Acquire) == 0 {
                futex_wait_private(&word, 0);
                wakeups += 1;
            }
            wakeups
        })
    };
    // Wake until the thread was there to be woken.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let id = ring.submit_op(ops::FutexWake::new(&word, 1)).unwrap();
        if ring.wait_for(id).unwrap().unwrap() == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the thread never waited");
        std::thread::sleep(Duration::from_millis(1));
    }
    // Release it for good.
    word.store(1, Ordering::Release);
    let id = ring.submit_op(ops::FutexWake::new(&word, 1)).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    assert!(sleeper.join().unwrap() >= 1);

    // A ring waiter woken by a ring wake; a wake with a disjoint mask wakes none.
    let w2 = Arc::new(AtomicU32::new(5));
    let wait = ring
        .submit_op(ops::FutexWait::new(&w2, 5).mask(0b01))
        .unwrap();
    ring.submit().unwrap();
    let id = ring
        .submit_op(ops::FutexWake::new(&w2, 1).mask(0b10))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 0);
    let id = ring
        .submit_op(ops::FutexWake::new(&w2, 1).mask(0b11))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 1);
    ring.wait_for(wait).unwrap().expect("woken by the ring");

    // Cancelled: ECANCELED, and the word came back with the op (no one else holds it).
    let w3 = Arc::new(AtomicU32::new(0));
    let wait = ring.submit_op(ops::FutexWait::new(&w3, 0)).unwrap();
    ring.submit().unwrap();
    ring.cancel(&wait).unwrap();
    expect_errno(ring.wait_for(wait).unwrap(), libc::ECANCELED, "cancelled");
    assert_eq!(Arc::strong_count(&w3), 1);
}

// ---------------------------------------------------------------- processes

#[test]
#[allow(clippy::zombie_processes)] // the children are reaped through the ring
fn waitid_reaps_a_child_with_its_exit_status() {
    if !supported(uring::op::WaitId::CODE, "waitid") {
        return;
    }
    let mut ring = ring();
    let child = support::spawn(std::process::Command::new("sh").args(["-c", "exit 7"])).unwrap();
    let pid = child.id();
    let id = ring
        .submit_op(ops::WaitId::pid(pid, libc::WEXITED))
        .unwrap();
    let st = ring.wait_for(id).unwrap().expect("waitid");
    assert_eq!(st.pid, pid as i32);
    assert_eq!(st.signo, libc::SIGCHLD);
    assert_eq!((st.code, st.status), (libc::CLD_EXITED, 7));
    // SAFETY: getuid cannot fail.
    assert_eq!(st.uid, unsafe { libc::getuid() });
    // Reaped: nothing is left to wait for.
    let id = ring
        .submit_op(ops::WaitId::pid(pid, libc::WEXITED))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ECHILD, "already reaped");

    // WNOHANG on a running child: pid 0; then a signal's death.
    let mut child = support::spawn(std::process::Command::new("sleep").arg("30")).unwrap();
    let id = ring
        .submit_op(ops::WaitId::pid(child.id(), libc::WEXITED | libc::WNOHANG))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap().pid, 0);
    let id = ring
        .submit_op(ops::WaitId::pid(child.id(), libc::WEXITED))
        .unwrap();
    ring.submit().unwrap();
    child.kill().unwrap();
    let st = ring.wait_for(id).unwrap().unwrap();
    assert_eq!((st.code, st.status), (libc::CLD_KILLED, libc::SIGKILL));

    // Failure path: not our child (pid 1); bad options.
    let id = ring.submit_op(ops::WaitId::pid(1, libc::WEXITED)).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ECHILD, "not a child");
    let id = ring.submit_op(ops::WaitId::pid(pid, 0)).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::EINVAL, "no options");
}

#[test]
#[allow(clippy::zombie_processes)] // the child is reaped through the ring
fn waitid_on_a_pidfd_keeps_the_pidfd_open() {
    if !supported(uring::op::WaitId::CODE, "waitid pidfd") {
        return;
    }
    let child = support::spawn(std::process::Command::new("sh").args(["-c", "exit 5"])).unwrap();
    // SAFETY: pidfd_open takes a pid and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: a new descriptor nothing else owns.
    let pidfd = SharedFd::from(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    let mut ring = ring();
    let id = ring
        .submit_op(ops::WaitId::pidfd(&pidfd, libc::WEXITED))
        .unwrap();
    assert_eq!(pidfd.holders(), 2, "the op holds the pidfd");
    let st = ring.wait_for(id).unwrap().expect("waitid pidfd");
    assert_eq!((st.pid, st.status), (child.id() as i32, 5));
    assert_eq!(pidfd.holders(), 1);
}

// ---------------------------------------------------------------- multishot read

/// A ring and a pool ([`pool_or_skip`]) for multishot reads, or `None` (the skip
/// printed) when the kernel lacks multishot read or buffer rings.
fn read_multishot_setup(
    group: u16,
    count: u16,
    size: u32,
    test: &str,
) -> Option<(OwnedRing, BufPool)> {
    if !supported(uring::op::ReadMultishot::CODE, test) {
        return None;
    }
    let mut ring = ring();
    let pool = pool_or_skip(&mut ring, group, count, size, test)?;
    Some((ring, pool))
}

#[test]
fn read_multishot_delivers_pipe_data_in_several_completions() {
    let Some((mut ring, pool)) = read_multishot_setup(3, 4, 32, "read_multishot") else {
        return;
    };
    let (r, mut w) = pipe();
    let id = ring
        .submit_multishot(ops::ReadMultishot::new(r, &pool))
        .unwrap();
    let mut held = Vec::new();
    for chunk in [&b"first"[..], b"second", b"third!"] {
        w.write_all(chunk).unwrap();
        let item = ring.next_item(&id).unwrap().item().expect("an item");
        let buf = item.expect("a read");
        assert_eq!(&buf[..], chunk);
        held.push(buf);
    }
    assert_eq!(pool.available(), 1, "three buffers held by guards");
    drop(held);
    assert_eq!(pool.available(), 4, "recycled");
    drop(w);
    assert!(
        ring.next_item(&id).unwrap().item().is_none(),
        "end of file ends it"
    );
    assert_eq!(ring.in_flight(), 0);

    // Failure path: a descriptor not open for reading (a pipe's write end).
    let (_r, w) = pipe();
    let id = ring
        .submit_multishot(ops::ReadMultishot::new(w, &pool))
        .unwrap();
    let item = ring.next_item(&id).unwrap().item().expect("the error item");
    expect_errno(item, libc::EBADF, "write-only descriptor");
    assert!(ring.next_item(&id).unwrap().item().is_none());
}

#[test]
fn read_multishot_runs_dry_with_enobufs_and_is_cancellable() {
    let Some((mut ring, pool)) = read_multishot_setup(4, 1, 8, "read_multishot dry") else {
        return;
    };
    let (r, mut w) = pipe();
    let id = ring
        .submit_multishot(ops::ReadMultishot::new(r, &pool))
        .unwrap();
    w.write_all(b"abc").unwrap();
    let first = ring.next_item(&id).unwrap().item().unwrap().unwrap();
    assert_eq!(&first[..], b"abc");
    // The only buffer is held: the next data finds none.
    w.write_all(b"def").unwrap();
    let mut last = None;
    while let Some(item) = ring.next_item(&id).unwrap().item() {
        last = Some(item);
    }
    expect_errno(last.expect("an error item"), libc::ENOBUFS, "pool dry");
    drop(first);
    // A fresh stream gets the data, then is cancelled.
    let (r2, _w2) = pipe();
    let id = ring
        .submit_multishot(ops::ReadMultishot::new(r2, &pool))
        .unwrap();
    ring.submit().unwrap();
    ring.cancel(&id).unwrap();
    let mut items = Vec::new();
    while let Some(item) = ring.next_item(&id).unwrap().item() {
        items.push(item);
    }
    let last = items.pop().expect("the final item");
    expect_errno(last, libc::ECANCELED, "cancelled");
    assert_eq!(pool.available(), 1);
}

// ---------------------------------------------------------------- bundles

/// A ring and a pool for bundle tests, or `None` (printed) when the kernel lacks
/// bundles or buffer rings.
fn bundle_setup(count: u16, size: u32, test: &str) -> Option<(OwnedRing, BufPool)> {
    let mut ring = ring();
    let features = ring.ring().features();
    if !support::has_feature(features, uring::Features::RECVSEND_BUNDLE, test) {
        return None;
    }
    let pool = pool_or_skip(&mut ring, 9, count, size, test)?;
    Some((ring, pool))
}

/// Waits until `sock` has data (so a bundle receive finds all that was sent).
fn wait_readable(ring: &mut OwnedRing, sock: &SharedFd) {
    let id = ring
        .submit_op(ops::PollAdd::new(sock, libc::POLLIN as u32))
        .unwrap();
    ring.wait_for(id).unwrap().expect("poll");
}

/// Receives bundles from `sock` until `want` bytes came; returns the parts, as
/// (buffer id, bytes), in order, and how many completions it took.
fn recv_bundles(
    ring: &mut OwnedRing,
    pool: &BufPool,
    sock: &SharedFd,
    want: usize,
) -> (Vec<(u16, Vec<u8>)>, usize) {
    let mut parts = Vec::new();
    let mut got = 0;
    let mut completions = 0;
    while got < want {
        wait_readable(ring, sock);
        let id = ring.submit_op(ops::RecvBundle::new(sock, pool)).unwrap();
        let bufs = ring.wait_for(id).unwrap().expect("recv bundle");
        assert!(!bufs.is_empty(), "end of file before {want} bytes");
        completions += 1;
        got += bufs.len();
        assert_eq!(bufs.iter().map(<[u8]>::len).sum::<usize>(), bufs.len());
        for b in bufs.into_bufs() {
            parts.push((b.buffer_id().unwrap(), b.to_vec()));
        }
    }
    assert_eq!(got, want);
    (parts, completions)
}

#[test]
fn recv_bundle_spreads_one_receive_over_several_pool_buffers() {
    let Some((mut ring, pool)) = bundle_setup(8, 4, "recv_bundle") else {
        return;
    };
    let (mut w, r) = tcp_pair();
    let r = SharedFd::from(r);
    w.write_all(b"abcdefghijklmnopq").unwrap();
    wait_readable(&mut ring, &r);
    let id = ring.submit_op(ops::RecvBundle::new(&r, &pool)).unwrap();
    let first = ring.wait_for(id).unwrap().expect("recv bundle");
    // More than one buffer's worth in one completion: a bundle.
    assert!(first.len() > 4, "only {} bytes", first.len());
    assert_eq!(first.bufs().len(), first.len().div_ceil(4));
    assert!(
        first.bufs()[..first.bufs().len() - 1]
            .iter()
            .all(|b| b.len() == 4)
    );
    assert_eq!(pool.available(), 8 - first.bufs().len());
    let mut all = first.to_vec();
    let n = first.len();
    drop(first);
    assert_eq!(pool.available(), 8, "every buffer recycled");
    let (rest, _) = recv_bundles(&mut ring, &pool, &r, 17 - n);
    for (_, bytes) in rest {
        all.extend(bytes);
    }
    assert_eq!(all, b"abcdefghijklmnopq".to_vec());
    assert_eq!(pool.available(), 8);
}

#[test]
fn recv_bundle_names_the_right_buffers_after_out_of_order_recycling() {
    let Some((mut ring, pool)) = bundle_setup(4, 4, "recv_bundle recycling") else {
        return;
    };
    let (mut w, r) = tcp_pair();
    let r = SharedFd::from(r);
    // The ring starts as 0, 1, 2, 3. Buffers 0, 1, 2 are filled and given back in
    // that order (ring: 3, 0, 1, 2), then 3 (ring: 0, 1, 2, 3).
    w.write_all(b"000011112").unwrap();
    let (parts, _) = recv_bundles(&mut ring, &pool, &r, 9);
    let ids: Vec<u16> = parts.iter().map(|p| p.0).collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(pool.available(), 4);
    w.write_all(b"33").unwrap();
    let (parts, _) = recv_bundles(&mut ring, &pool, &r, 2);
    assert_eq!(parts, vec![(3, b"33".to_vec())]);
    // Take 0 and 1, give back 1 first, then 0: the ring becomes 2, 3, 1, 0.
    w.write_all(b"aaaabbbb").unwrap();
    let mut held = Vec::new();
    let mut got = 0;
    while got < 8 {
        let id = ring.submit_op(ops::RecvBundle::new(&r, &pool)).unwrap();
        let bufs = ring.wait_for(id).unwrap().unwrap();
        got += bufs.len();
        held.extend(bufs.into_bufs());
    }
    let ids: Vec<u16> = held.iter().map(|b| b.buffer_id().unwrap()).collect();
    assert_eq!(ids, [0, 1]);
    let b0 = held.remove(0);
    drop(held); // buffer 1
    drop(b0); // buffer 0
    // One bundle over the ring's order 2, 3, 1, 0: each part must be read from
    // the buffer that holds it.
    let data = b"2222333311110000";
    w.write_all(data).unwrap();
    let (parts, completions) = recv_bundles(&mut ring, &pool, &r, data.len());
    let ids: Vec<u16> = parts.iter().map(|p| p.0).collect();
    assert_eq!(ids, [2, 3, 1, 0], "in {completions} completion(s)");
    let bytes: Vec<u8> = parts.into_iter().flat_map(|p| p.1).collect();
    assert_eq!(bytes, data.to_vec());
    assert_eq!(pool.available(), 4);
}

#[test]
fn recv_bundle_failures_keep_the_pool_whole() {
    let Some((mut ring, pool)) = bundle_setup(2, 4, "recv_bundle failures") else {
        return;
    };
    // Not a socket.
    let id = ring
        .submit_op(ops::RecvBundle::new(
            std::fs::File::open("/dev/null").unwrap(),
            &pool,
        ))
        .unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ENOTSOCK, "not a socket");
    assert_eq!(pool.available(), 2);
    // Every buffer held: ENOBUFS.
    let (mut w, r) = tcp_pair();
    let r = SharedFd::from(r);
    w.write_all(b"12345678").unwrap();
    let mut held = Vec::new();
    let mut got = 0;
    while got < 8 {
        let id = ring.submit_op(ops::RecvBundle::new(&r, &pool)).unwrap();
        let bufs = ring.wait_for(id).unwrap().unwrap();
        got += bufs.len();
        held.push(bufs);
    }
    assert_eq!(pool.available(), 0);
    w.write_all(b"x").unwrap();
    let id = ring.submit_op(ops::RecvBundle::new(&r, &pool)).unwrap();
    expect_errno(ring.wait_for(id).unwrap(), libc::ENOBUFS, "pool dry");
    drop(held);
    assert_eq!(pool.available(), 2);
    // End of file: empty, no buffer taken.
    drop(w);
    let mut rest = Vec::new();
    loop {
        let id = ring.submit_op(ops::RecvBundle::new(&r, &pool)).unwrap();
        let bufs = ring.wait_for(id).unwrap().unwrap();
        if bufs.is_empty() {
            assert!(bufs.bufs().is_empty());
            break;
        }
        rest.extend(bufs.to_vec());
    }
    assert_eq!(rest, b"x".to_vec());
    assert_eq!(pool.available(), 2);
}

// ---------------------------------------------------------------- MSG_TRUNC

#[test]
fn msg_trunc_is_dropped_so_tcp_cannot_report_bytes_it_never_wrote() {
    // With MSG_TRUNC a TCP socket discards the data and still returns its count:
    // the safe receives drop the flag, so the count is always of bytes written.
    let mut ring = ring();
    let (mut c, s) = tcp_pair();
    let s = SharedFd::from(s);
    c.write_all(b"hello").unwrap();
    let op = ops::Recv::new(&s, Vec::with_capacity(16)).flags(libc::MSG_TRUNC);
    let id = ring.submit_op(op).unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 5);
    assert_eq!(&buf[..], b"hello", "the bytes were written, not discarded");

    c.write_all(b"world").unwrap();
    let op = ops::RecvMsg::new(&s, vec![Vec::with_capacity(3), Vec::with_capacity(8)])
        .flags(libc::MSG_TRUNC);
    let id = ring.submit_op(op).unwrap();
    let (got, bufs) = ring.wait_for(id).unwrap();
    assert_eq!(got.unwrap().len, 5);
    assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"wor"[..], &b"ld"[..]));
}

#[test]
fn recv_bundle_multishot_streams_bundles_until_end_of_file_or_cancel() {
    let Some((mut ring, pool)) = bundle_setup(8, 4, "recv_bundle multishot") else {
        return;
    };
    let (mut w, r) = tcp_pair();
    let r = SharedFd::from(r);
    let id = ring
        .submit_multishot(ops::RecvBundleMultishot::new(&r, &pool))
        .unwrap();
    let mut got = Vec::new();
    let mut items = 0;
    for chunk in [&b"0123456789"[..], b"abcdefghijk", b"XY"] {
        w.write_all(chunk).unwrap();
        let want = got.len() + chunk.len();
        while got.len() < want {
            let bufs = ring
                .next_item(&id)
                .unwrap()
                .item()
                .expect("an item")
                .unwrap();
            assert_eq!(bufs.bufs().len(), bufs.len().div_ceil(4));
            assert!(
                bufs.bufs()[..bufs.bufs().len() - 1]
                    .iter()
                    .all(|b| b.len() == 4)
            );
            got.extend(bufs.to_vec());
            items += 1;
        }
    }
    assert_eq!(got, b"0123456789abcdefghijkXY".to_vec());
    assert!(items >= 3);
    assert_eq!(
        pool.available(),
        8,
        "every guard dropped, every buffer back"
    );
    drop(w);
    assert!(
        ring.next_item(&id).unwrap().item().is_none(),
        "end of file ends it"
    );
    assert_eq!(ring.in_flight(), 0);

    // Cancelled: the last item is ECANCELED.
    let (_w2, r2) = tcp_pair();
    let id = ring
        .submit_multishot(ops::RecvBundleMultishot::new(r2, &pool))
        .unwrap();
    ring.submit().unwrap();
    ring.cancel(&id).unwrap();
    let mut last = None;
    while let Some(item) = ring.next_item(&id).unwrap().item() {
        last = Some(item);
    }
    expect_errno(last.expect("the final item"), libc::ECANCELED, "cancelled");

    // Failure path: the pool runs dry while items are held. Depending on the
    // kernel the stream then fails with ENOBUFS, or ends after the item that
    // took the last buffers.
    let (mut w3, r3) = tcp_pair();
    let id = ring
        .submit_multishot(ops::RecvBundleMultishot::new(r3, &pool))
        .unwrap();
    let mut held = Vec::new();
    let mut ended = None;
    for _ in 0..32 {
        w3.write_all(b"0123456789abcdef").unwrap();
        match ring.next_item(&id).unwrap().item() {
            Some(Ok(bufs)) => held.push(bufs),
            Some(Err(e)) => {
                ended = Some(Err(e));
                break;
            }
            None => {
                ended = Some(Ok(()));
                break;
            }
        }
    }
    // Its end already reported (`next_item` then says ENOENT), or still to come
    // after the ENOBUFS item.
    let end_reported = matches!(ended, Some(Ok(())));
    match ended.expect("the stream ended once the pool ran dry") {
        Err(e) => assert_eq!(errno(&e), Some(libc::ENOBUFS), "{e}"),
        Ok(()) => {
            println!(
                "note: this kernel ({}) ended the bundle stream when the pool ran dry, without ENOBUFS",
                kernel_release()
            );
            assert_eq!(pool.available(), 0, "the last item took the last buffers");
        }
    }
    if !end_reported {
        while ring.next_item(&id).unwrap().item().is_some() {}
    }
    assert_eq!(ring.in_flight(), 0);
    drop(held);
    assert_eq!(pool.available(), 8);
}
