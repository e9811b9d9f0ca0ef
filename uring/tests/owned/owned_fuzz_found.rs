//! What `uring-fuzz` (`cargo xtask fuzz`) found, one test each: the libFuzzer
//! targets' crashes (through `uring::__fuzz`, the parsers they run) and the
//! model fuzzer's findings about the safe layer.

use std::sync::Mutex;

/// The tests that count the process's io_uring descriptors run one at a time.
static RINGS: Mutex<()> = Mutex::new(());

/// `RecvMsg`'s control-message walk with a `cmsg_len` near `usize::MAX`: the
/// next header's offset overflowed (`at + hdr`), a panic in debug builds (found
/// by the `recvmsg_control` libFuzzer target in its first seconds). It must end
/// the walk instead, taking no descriptor.
#[test]
fn control_walk_survives_a_length_near_usize_max() {
    let mut control = Vec::new();
    control.extend_from_slice(&(usize::MAX - 17).to_ne_bytes()); // cmsg_len
    control.extend_from_slice(&0x7d7d_0a17i32.to_ne_bytes()); // cmsg_level
    control.extend_from_slice(&0x7d7d_7d7di32.to_ne_bytes()); // cmsg_type
    assert_eq!(
        uring::__fuzz::recvmsg_control_fds(&control),
        Vec::<i32>::new()
    );

    // The same length on an SCM_RIGHTS header with two descriptor words: they
    // are taken (the payload is clamped to the buffer), and the walk ends.
    let mut control = Vec::new();
    control.extend_from_slice(&usize::MAX.to_ne_bytes());
    control.extend_from_slice(&libc::SOL_SOCKET.to_ne_bytes());
    control.extend_from_slice(&libc::SCM_RIGHTS.to_ne_bytes());
    control.extend_from_slice(&7i32.to_ne_bytes());
    control.extend_from_slice(&9i32.to_ne_bytes());
    assert_eq!(uring::__fuzz::recvmsg_control_fds(&control), [7, 9]);
}

/// Every `cmsg_len` that could end the walk near the top of the address range
/// (each a multiple of the word size, or one below).
#[test]
fn control_walk_survives_every_length_near_the_top() {
    for back in 0..64usize {
        let mut control = vec![0u8; 48];
        control[..8].copy_from_slice(&(usize::MAX - back).to_ne_bytes());
        assert!(uring::__fuzz::recvmsg_control_fds(&control).is_empty());
    }
}

/// `mem::forget` of an `OpFuture` (the model fuzzer's `AsyncRead { forget:
/// true }`): the future holds a handle to the ring, so the ring is never
/// dropped — its descriptor, its eventfd and the operation's descriptor stay
/// open for good, and nothing is freed. Safe (a leak), as the crate docs say.
#[cfg(feature = "async")]
#[test]
fn forgetting_a_future_leaks_its_ring_and_frees_nothing() {
    use std::os::fd::AsRawFd;
    use uring::owned::{AsyncRing, OwnedRing, ops};
    let _one = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    let (r, _w) = std::os::unix::net::UnixStream::pair().unwrap();
    let r_raw = r.as_raw_fd();
    let ring = AsyncRing::new(OwnedRing::new(4).unwrap()).unwrap();
    let ring_fd = ring.with_ring(|r| r.ring().as_raw_fd());
    let event_fd = ring.eventfd().as_raw_fd();
    let fut = ring.run(ops::Read::new(r, vec![0u8; 8], 0)).unwrap();
    std::mem::forget(fut);
    drop(ring);
    let open = |fd| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok();
    let ring_link = open(ring_fd).expect("the ring's descriptor is still open");
    assert!(
        ring_link.to_string_lossy().contains("io_uring"),
        "{ring_link:?}"
    );
    let ev_link = open(event_fd).expect("the eventfd is still open");
    assert!(ev_link.to_string_lossy().contains("eventfd"), "{ev_link:?}");
    // The read still holds its socket (the number is not free for reuse).
    assert!(open(r_raw).is_some_and(|l| l.to_string_lossy().starts_with("socket:")));
}

/// `mem::forget` of a `PoolBuf` (the model fuzzer's `ForgetGuard`): the guard
/// keeps the pool, and the pool its duplicate of the ring's descriptor, so the
/// kernel's ring outlives the `OwnedRing` (its memory is never freed either).
#[test]
fn a_forgotten_guard_keeps_the_pools_ring_descriptor() {
    use std::io::Write as _;
    use std::os::fd::{AsFd, AsRawFd};
    use uring::owned::{BufPool, OwnedRing, ops};
    let _one = RINGS.lock().unwrap_or_else(|e| e.into_inner());
    let mut ring = OwnedRing::new(4).unwrap();
    // This test's own duplicate of the ring's descriptor: the kernel's ring file is
    // then recognised by identity (kcmp), not by counting io_uring descriptors, which
    // other tests of this binary open and close meanwhile.
    let mine = ring
        .ring()
        .fd()
        .expect("a plain ring has a descriptor")
        .try_clone_to_owned()
        .unwrap();
    let pool = match BufPool::new(&mut ring, 1, 2, 16) {
        Ok(p) => p,
        Err(e) => {
            println!("skipped: no provided-buffer rings here ({e})");
            return;
        }
    };
    let Some(before) = same_file_elsewhere(mine.as_fd().as_raw_fd()) else {
        println!(
            "skipped: a_forgotten_guard_keeps_the_pools_ring_descriptor because kcmp(2) is \
             not available here"
        );
        return;
    };
    assert!(
        before >= 2,
        "the ring's and the pool's descriptors: {before}"
    );
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    w.write_all(b"abc").unwrap();
    let id = ring.submit_op(ops::RecvSelect::new(r, &pool)).unwrap();
    let buf = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(&buf[..], b"abc");
    std::mem::forget(buf);
    drop(pool);
    drop(ring);
    assert_eq!(
        same_file_elsewhere(mine.as_fd().as_raw_fd()),
        Some(1),
        "the pool's duplicate stays open (the ring's own descriptor is closed)"
    );
}

/// How many descriptors of this process other than `fd` refer to the same open
/// file as `fd` (`kcmp(2)`, `KCMP_FILE`), or `None` when kcmp is unavailable.
fn same_file_elsewhere(fd: i32) -> Option<usize> {
    const KCMP_FILE: libc::c_long = 0;
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let mut n = 0;
    for e in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
        let Some(other) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if other == fd {
            continue;
        }
        // SAFETY: kcmp only compares two descriptor numbers of this process; a
        // number closed meanwhile gives EBADF, never touches memory.
        let r = unsafe {
            libc::syscall(
                libc::SYS_kcmp,
                pid as libc::c_long,
                pid as libc::c_long,
                KCMP_FILE,
                fd as libc::c_long,
                other as libc::c_long,
            )
        };
        if r == 0 {
            n += 1;
        } else if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            return None;
        }
    }
    Some(n)
}
