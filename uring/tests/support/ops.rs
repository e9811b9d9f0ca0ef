//! Shared by the `ops_*` end-to-end tests: a ring, a way to run entries and collect
//! their completions, scratch directories, file tables; and the skips of the parent
//! module, re-exported for their `use ops_common::*`. Also liburing-prepared NOPs
//! ([`nop`]) for the raw ring and registration tests.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use uring::sqe::Sqe;
use uring::{Cqe, Ring};

/// An all-zero submission entry, for liburing's `io_uring_prep_*` to fill.
pub fn zeroed_sqe() -> uring::sys::io_uring_sqe {
    // SAFETY: io_uring_sqe is plain integers; all-zero is valid.
    unsafe { std::mem::zeroed() }
}

/// A NOP with `user_data`, prepared by liburing's own `io_uring_prep_nop` (so the
/// tests that push it also check the crate against liburing's layout).
pub fn nop_raw(user_data: u64) -> uring::sys::io_uring_sqe {
    let mut raw = zeroed_sqe();
    // SAFETY: raw is a valid, exclusively borrowed SQE.
    unsafe { uring::sys::io_uring_prep_nop(&mut raw) };
    raw.user_data = user_data;
    raw
}

/// [`nop_raw`] as an [`Sqe`].
pub fn nop(user_data: u64) -> Sqe {
    Sqe::from_raw(nop_raw(user_data))
}

/// A read of `fd` (a descriptor, or with `IOSQE_FIXED_FILE` an index) into `buf`, at
/// the current file position (pipes have none), prepared by liburing's own
/// `io_uring_prep_read`. The entry holds `buf`'s address: it must outlive the read.
pub fn prep_read_raw(fd: i32, buf: &mut [u8], user_data: u64) -> uring::sys::io_uring_sqe {
    let mut raw = zeroed_sqe();
    // SAFETY: only writes the SQE's fields; the buffer is not touched here.
    unsafe {
        uring::sys::io_uring_prep_read(
            &mut raw,
            fd,
            buf.as_mut_ptr().cast(),
            buf.len() as u32,
            u64::MAX, // -1: the current file position
        )
    };
    raw.user_data = user_data;
    raw
}

/// [`prep_read_raw`] as an [`Sqe`].
pub fn prep_read(fd: i32, buf: &mut [u8], user_data: u64) -> Sqe {
    Sqe::from_raw(prep_read_raw(fd, buf, user_data))
}

/// A ring big enough for every test here.
pub fn ring() -> Ring {
    Ring::new(64).expect("io_uring_queue_init")
}

/// Pushes `sqes`, submits, waits for `want` completions and returns them in arrival order.
///
/// # Safety
///
/// Every pointer in `sqes` must stay valid until its completion has been returned.
pub unsafe fn run_n(ring: &mut Ring, sqes: &[Sqe], want: usize) -> Vec<Cqe> {
    for sqe in sqes {
        // SAFETY: forwarded from this function's contract.
        unsafe { ring.push(sqe) }.expect("submission queue has room");
    }
    ring.submit().expect("io_uring_enter");
    let mut out = Vec::new();
    while out.len() < want {
        ring.submit_and_wait(1).expect("io_uring_enter");
        out.extend(ring.completion());
    }
    out
}

/// Runs one entry and returns its completion.
///
/// # Safety
///
/// As for [`run_n`].
pub unsafe fn run(ring: &mut Ring, sqe: Sqe) -> Cqe {
    // SAFETY: forwarded from this function's contract.
    let mut cqes = unsafe { run_n(ring, &[sqe], 1) };
    assert_eq!(cqes.len(), 1, "one entry, one completion: {cqes:?}");
    cqes.pop().unwrap()
}

/// The completion with this user data.
pub fn by_user_data(cqes: &[Cqe], user_data: u64) -> &Cqe {
    cqes.iter()
        .find(|c| c.user_data() == user_data)
        .unwrap_or_else(|| panic!("no completion with user data {user_data}: {cqes:?}"))
}

#[allow(unused_imports)] // each test binary uses some of these
pub use super::{kernel_at_least, kernel_release, kernel_version, supported};

/// `-errno` as the kernel puts it in a completion.
pub fn neg(errno: i32) -> i32 {
    -errno
}

/// A scratch directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "uring-ops-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create scratch dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A path as a C string.
pub fn cpath(path: &Path) -> CString {
    CString::new(path.as_os_str().as_bytes()).expect("no NUL in path")
}

/// Registers a sparse file table of `n` slots on `ring` (liburing's
/// `io_uring_register_files_sparse`).
pub fn register_sparse_files(ring: &mut Ring, n: u32) {
    // SAFETY: the ring is valid and exclusively borrowed; registration takes no
    // pointers that outlive the call.
    let ret = unsafe { uring::sys::io_uring_register_files_sparse(ring.as_raw_mut(), n) };
    assert_eq!(ret, 0, "io_uring_register_files_sparse: {ret}");
}

/// Registers `fds` as the ring's file table.
pub fn register_files(ring: &mut Ring, fds: &[i32]) {
    // SAFETY: `fds` is read during the call only.
    let ret = unsafe {
        uring::sys::io_uring_register_files(ring.as_raw_mut(), fds.as_ptr(), fds.len() as u32)
    };
    assert_eq!(ret, 0, "io_uring_register_files: {ret}");
}
