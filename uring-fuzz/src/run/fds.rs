//! Process and descriptor helpers.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read as _};
use std::mem;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// The process's open descriptors.
pub fn open_fds() -> HashSet<RawFd> {
    let mut set = HashSet::new();
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    for e in dir.flatten() {
        if let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
            set.insert(n);
        }
    }
    // The directory's own descriptor was in the listing and is closed now.
    set.retain(|&fd| unsafe_fd_is_open(fd));
    set
}

fn unsafe_fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; any number is allowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

pub(super) fn describe_fd(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| format!("{fd} -> {}", p.display()))
        .unwrap_or_else(|_| format!("{fd} (closed)"))
}

/// Once per process: SIGPIPE ignored (writes to a hung-up pipe are `EPIPE`
/// results, not deaths) and the descriptor limit raised (forgotten rings leak
/// descriptors by design, program after program).
pub fn prepare_process() {
    // SAFETY: setting a signal's disposition to SIG_IGN and raising a resource
    // limit to its hard maximum touch no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut lim: libc::rlimit = mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

pub(super) fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub(super) fn peer_of(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: getpeername writes at most `len` bytes into the storage.
    unsafe {
        let mut ss: libc::sockaddr_storage = mem::zeroed();
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getpeername(fd, (&raw mut ss).cast(), &mut len) < 0 {
            return None;
        }
        if i32::from(ss.ss_family) != libc::AF_INET {
            return None;
        }
        let sin = &*(&raw const ss).cast::<libc::sockaddr_in>();
        let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        Some(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
    }
}

pub(super) fn errno(e: &io::Error) -> i32 {
    uring::error::errno(e).unwrap_or(0)
}

/// Reads what is left in `fd` without blocking: until end of file, or until no
/// byte is ready and at least `want` came (waiting up to 2 s for them).
pub(super) fn drain(fd: RawFd, want: u64) -> io::Result<Vec<u8>> {
    // SAFETY: fcntl on a descriptor we hold open.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    // SAFETY: a borrowed view of the descriptor, not closed here (ManuallyDrop).
    let mut f = mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if out.len() as u64 >= want || Instant::now() > until {
                    return Ok(out);
                }
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 50) };
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}
