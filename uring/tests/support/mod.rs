//! The one support module of the integration tests, included by each test binary
//! (`tests/<family>/main.rs`): skips that say why, in the one form `cargo xtask
//! kernel-check` reads; pipes and sockets; child processes that do not race the
//! descriptor checks of the tests beside them; and a way to run the crate's
//! examples. [`ops`] holds what the raw opcode tests share.
#![allow(dead_code)] // each test binary uses some of these

pub mod echo;
pub mod ops;

use std::os::fd::{FromRawFd, OwnedFd};

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::SystemTime;

/// Prints the line that says `test` is skipped and why, exactly as `cargo xtask
/// kernel-check` (`xtask/src/kernel/log.rs`) reads it: `skipped: <test> because <why>`,
/// on standard output, which libtest captures and shows under the test's name.
pub fn skip(test: &str, why: &str) {
    println!("skipped: {test} because {why}");
}

/// Whether the running kernel supports opcode `code`, per `IORING_REGISTER_PROBE`; if
/// not, says that `test` is skipped and why ([`skip`]).
pub fn supported(code: u8, test: &str) -> bool {
    let probe = uring::probe::probe().expect("IORING_REGISTER_PROBE");
    if probe.is_supported(code) {
        return true;
    }
    let name = uring::probe::opcode_name(code).unwrap_or("this opcode");
    skip(
        test,
        &format!(
            "this kernel ({}) does not support {name} (opcode {code}, per IORING_REGISTER_PROBE)",
            kernel_release()
        ),
    );
    false
}

/// Whether `features` (what the kernel reported when a ring was set up) include the
/// one flag `want`; if not, says that `test` is skipped and why ([`skip`]), naming the
/// flag and the Linux release that brought it ([`uring::probe::FEATURES`]).
pub fn has_feature(features: uring::Features, want: uring::Features, test: &str) -> bool {
    if features.contains(want) {
        return true;
    }
    let flag = uring::probe::FEATURES
        .iter()
        .find(|f| f.bit == want.bits())
        .expect("one IORING_FEAT_* flag");
    skip(
        test,
        &format!(
            "this kernel ({}) lacks {} (Linux {}.{})",
            kernel_release(),
            flag.name,
            flag.since.0,
            flag.since.1
        ),
    );
    false
}

/// The running kernel's (major, minor) version, from its release.
pub fn kernel_version() -> (u32, u32) {
    let release = kernel_release();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor)
}

/// Whether the kernel is at least `major.minor`; if not, says that `test` (or part of
/// it) is skipped and why ([`skip`]). For behaviour no probe reports: flags,
/// sub-commands.
pub fn kernel_at_least(major: u32, minor: u32, test: &str, what: &str) -> bool {
    if kernel_version() >= (major, minor) {
        return true;
    }
    skip(
        test,
        &format!(
            "{what} needs Linux {major}.{minor} or later and this kernel is {}",
            kernel_release()
        ),
    );
    false
}

/// Held (shared) while a child process is being started, and (exclusively) while a
/// test relies on the last copy of a descriptor being closed.
///
/// A test binary runs its tests on parallel threads of one process. A child is forked
/// with a copy of every descriptor of that process, close-on-exec ones included, and
/// holds them until it has exec'd: a test checking that a pipe has no readers left
/// (`EPIPE`) could meet the copy a sibling test's child briefly holds.
static FORKS: RwLock<()> = RwLock::new(());

/// Starts `cmd` as [`Command::spawn`] does, never while a test holds [`no_forks`].
/// `spawn` returns once the child has exec'd (std waits for it), so by then the child
/// holds no copy of a close-on-exec descriptor.
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    let _forking = FORKS.read().unwrap_or_else(|e| e.into_inner());
    cmd.spawn()
}

/// Whether the peer of `w` (a stream socket) is closed: a write (of one byte,
/// which the peer receives if it is open) fails with `EPIPE`. (Rust ignores
/// `SIGPIPE`.) Hold [`no_forks`] around the close it checks for.
pub fn peer_closed(w: &mut std::os::unix::net::UnixStream) -> bool {
    use std::io::Write as _;
    match w.write_all(b"?") {
        Err(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
        Ok(()) => false,
    }
}

/// Keeps every other test of this process from starting a child (through [`spawn`])
/// until the guard is dropped; waits for the ones being started. For a test that
/// checks that the last copy of a descriptor is closed.
pub fn no_forks() -> RwLockWriteGuard<'static, ()> {
    FORKS.write().unwrap_or_else(|e| e.into_inner())
}

/// A shared hold on [`FORKS`], for a child started by other means than [`spawn`]
/// (`Command::output`, `Command::status`): keep it until that call returns.
pub fn forking() -> RwLockReadGuard<'static, ()> {
    FORKS.read().unwrap_or_else(|e| e.into_inner())
}

/// The built example `name`, building it (with `features`) if this test run did not,
/// or if its source or the crate's changed since it was built.
///
/// This test binary runs from `<target>/[<triple>/]<profile>/deps/`, and examples live
/// beside `deps/`. A missing or stale example is built into its own target directory,
/// so as not to wait on the lock of the build running this test, and with `--target`
/// when this run used one, so that RUSTFLAGS such as a sanitizer reach only the
/// example (and not the dev-dependencies' proc macros).
pub fn example(name: &str, features: &[&str]) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let built = profile_dir.join("examples").join(name);
    if built.exists() && !older_than_sources(&built, name) {
        return built;
    }
    let parent = profile_dir.parent().unwrap();
    let triple = parent
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.contains("-linux-"))
        .map(str::to_owned);
    let root = if triple.is_some() {
        parent.parent().unwrap()
    } else {
        parent
    };
    let target = root.join("owned-example");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "uring", "--example", name])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    if let Some(t) = &triple {
        cmd.args(["--target", t]);
    }
    let forking = forking();
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cargo build --example {name}: {e}"));
    drop(forking);
    assert!(status.success(), "cargo build --example {name}: {status}");
    let out = match &triple {
        Some(t) => target.join(t),
        None => target,
    };
    out.join("debug").join("examples").join(name)
}

/// Whether `bin` is older than `examples/<name>.rs` or anything under `src/`. Where
/// the sources are not there (a test run inside another kernel's VM), it is not.
fn older_than_sources(bin: &Path, name: &str) -> bool {
    fn newest(path: &Path) -> Option<SystemTime> {
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_dir() {
            return meta.modified().ok();
        }
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| newest(&e.ok()?.path()))
            .max()
    }
    let Some(built) = newest(bin) else {
        return false;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let example = root.join("examples").join(format!("{name}.rs"));
    [newest(&example), newest(&root.join("src"))]
        .into_iter()
        .flatten()
        .any(|t| t > built)
}

/// Whether this kernel sets up `SINGLE_ISSUER | DEFER_TASKRUN` rings (Linux
/// 6.1); if not, `test` says so and is skipped.
pub fn defer_taskrun(test: &str) -> bool {
    match uring::Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .build(2)
    {
        Ok(_) => true,
        Err(e) => {
            skip(
                test,
                &format!(
                    "this kernel ({}) refused IORING_SETUP_SINGLE_ISSUER | \
                     IORING_SETUP_DEFER_TASKRUN ({e}); Linux 6.1 is needed",
                    kernel_release()
                ),
            );
            false
        }
    }
}

/// A new read-write file in the temporary directory, already unlinked (it goes
/// away with its last descriptor). `tag` and a counter make each name unique, as
/// the tests of a binary run in parallel threads.
pub fn unlinked_file(tag: &str) -> std::fs::File {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("uring-{tag}-{}-{n}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

/// An [`unlinked_file`] of `blocks` blocks of `block` bytes, block `i` filled
/// with the byte `i` (so a read's bytes say which block it read).
pub fn striped_file(tag: &str, blocks: usize, block: usize) -> std::fs::File {
    use std::io::Write as _;
    let mut f = unlinked_file(tag);
    for i in 0..blocks {
        f.write_all(&vec![i as u8; block]).unwrap();
    }
    f
}

/// Makes a ring's builder.
pub type MakeBuilder = fn() -> uring::Builder<'static>;

/// Rings whose submission queues work differently, for tests that fill them,
/// each with its name: a plain ring, and three a kernel may refuse (the test
/// skips, by probe, those it does): `SQ_REWIND` (Linux 7.0: every submit
/// starts again at slot 0), `SQE_MIXED` (6.19), `SQPOLL`.
pub fn queue_kinds() -> [(&'static str, MakeBuilder); 4] {
    [
        ("plain", uring::Ring::builder),
        ("SQ_REWIND (Linux 7.0)", || {
            uring::Ring::builder().no_sqarray().sq_rewind()
        }),
        ("SQE_MIXED (Linux 6.19)", || {
            uring::Ring::builder().sqe_mixed()
        }),
        ("SQPOLL", || {
            uring::Ring::builder().sqpoll().sq_thread_idle(50)
        }),
    ]
}

/// The ring `made` (a ring of kind `kind`, from [`queue_kinds`]), or `None`
/// when the kernel refused it: test `test` then skips that part, saying why.
pub fn ring_of_kind<R>(test: &str, kind: &str, made: std::io::Result<R>) -> Option<R> {
    match made {
        Ok(ring) => Some(ring),
        Err(e) => {
            skip(
                test,
                &format!(
                    "({kind} part) this kernel ({}) refused the ring ({e})",
                    kernel_release()
                ),
            );
            None
        }
    }
}

/// A new pipe, `(read end, write end)`, both close-on-exec.
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is an array of two ints for pipe2 to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 succeeded: two new descriptors that nothing else owns.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// [`pipe`] as `File`s, for `Read`/`Write`.
pub fn pipe_files() -> (std::fs::File, std::fs::File) {
    let (r, w) = pipe();
    (r.into(), w.into())
}

/// Reads up to `n` bytes from `fd` with one `read(2)`.
pub fn read_fd(fd: i32, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    // SAFETY: `buf` is valid for writes of `n` bytes.
    let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), n) };
    assert!(got >= 0, "read: {}", std::io::Error::last_os_error());
    buf.truncate(got as usize);
    buf
}

/// A provided-buffer pool of `count` buffers of `size` bytes as buffer group `group`
/// on `ring`, or `None` where the kernel has no buffer rings (`EINVAL`, before Linux
/// 5.19): then says that `test` is skipped and why ([`skip`]). Any other error fails
/// the test.
pub fn pool_or_skip(
    ring: &mut impl uring::owned::SafeRing,
    group: u16,
    count: u16,
    size: u32,
    test: &str,
) -> Option<uring::owned::BufPool> {
    match uring::owned::BufPool::new(ring, group, count, size) {
        Ok(p) => Some(p),
        Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) => {
            skip(
                test,
                &format!(
                    "this kernel ({}) refused a buffer ring ({e}); Linux 5.19 is needed",
                    kernel_release()
                ),
            );
            None
        }
        Err(e) => panic!("registering a buffer pool: {e}"),
    }
}

/// Arms a multishot accept on `ring` on a throw-away loopback listener and connects
/// to it once: the op's id and its first item (the accepted connection, or the
/// kernel's refusal: `EINVAL` before Linux 5.19).
pub fn first_multishot_accept(
    ring: &mut uring::owned::OwnedRing,
) -> (
    uring::owned::OpId<uring::owned::Multi<uring::owned::ops::AcceptMultishot>>,
    std::io::Result<OwnedFd>,
) {
    use std::net::{Ipv4Addr, TcpListener, TcpStream};
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let id = ring
        .submit_multishot(uring::owned::ops::AcceptMultishot::new(listener))
        .unwrap();
    ring.submit().unwrap();
    let _client = TcpStream::connect(addr).unwrap();
    let first = ring
        .next_item(&id)
        .unwrap()
        .item()
        .expect("a first item or the end");
    (id, first)
}

/// Sends the one byte `byte` on `sock` with descriptor `fd` attached (`SCM_RIGHTS`).
pub fn send_fd(sock: &std::os::unix::net::UnixDatagram, fd: i32, byte: u8) {
    use std::os::fd::AsRawFd as _;
    let mut cbuf = [0u64; 4];
    let mut b = [byte];
    let mut iov = libc::iovec {
        iov_base: b.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: the msghdr names live local buffers (iov, cbuf); the CMSG macros stay
    // inside cbuf (CMSG_SPACE(4) <= 32 bytes, room for one control message with one
    // int).
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
        libc::CMSG_DATA(c).cast::<i32>().write_unaligned(fd);
        assert_eq!(libc::sendmsg(sock.as_raw_fd(), &msg, 0), 1);
    }
}

/// Writes all of `data` to `fd` with one `write(2)` (a pipe or socket with room).
pub fn write_all(fd: &impl std::os::fd::AsRawFd, data: &[u8]) {
    // SAFETY: data is a valid buffer of data.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(
        n,
        data.len() as isize,
        "write: {}",
        std::io::Error::last_os_error()
    );
}

/// The running kernel's release (`uname -r`), for skip messages.
pub fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// A connected loopback TCP pair, `(client, server)`.
pub fn tcp_pair() -> (std::net::TcpStream, std::net::TcpStream) {
    let l = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).unwrap();
    let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// The minor number of the liburing `uring` is linked against (`2.N`), from the
/// metadata liburing-sys publishes.
pub fn liburing_minor() -> u32 {
    let v = env!("URING_LIBURING_VERSION");
    v.split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("URING_LIBURING_VERSION `{v}` is not 2.N"))
}

/// Whether `err` is uring's refusal of something that needs liburing 2.`minor`
/// while an older one is linked; if so, prints the skip line for `test`. A
/// refusal with a new enough liburing linked, or one that does not name both
/// versions, fails the test.
pub fn skipped_for_old_liburing(test: &str, minor: u32, err: &std::io::Error) -> bool {
    if uring::error::errno(err) != Some(libc::EOPNOTSUPP) || !err.to_string().contains("liburing") {
        return false;
    }
    let linked = env!("URING_LIBURING_VERSION");
    assert!(
        liburing_minor() < minor,
        "{test}: refused as needing liburing 2.{minor}, but {linked} is linked: {err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("liburing 2.{minor} or later")) && msg.contains(linked),
        "{test}: the refusal names neither the liburing needed nor the one linked: {msg}"
    );
    eprintln!("skipped: {test} because it needs liburing 2.{minor} and {linked} is linked: {err}");
    true
}
