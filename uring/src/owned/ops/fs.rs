//! Files: sync, allocate, truncate, open, close, stat.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};
use std::path::Path;

use super::{FileRef, Heap, c_path, dir_of, new_fd, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::{Op, SharedFd};
use crate::sqe::Sqe;
use crate::types::{Fd, FsyncFlags};

/// Flushes a file to storage, like `fsync(2)` or, with
/// [`datasync`](Self::datasync), `fdatasync(2)`: `IORING_OP_FSYNC` (Linux 5.1).
#[derive(Debug)]
pub struct Fsync {
    fd: FileRef,
    flags: FsyncFlags,
}

impl Fsync {
    /// `fsync(2)` of `fd` (plain or direct: a [`DirectFd`](crate::owned::DirectFd)).
    pub fn new(fd: impl Into<FileRef>) -> Fsync {
        Fsync {
            fd: fd.into(),
            flags: FsyncFlags::empty(),
        }
    }

    /// Only what is needed to read the data back (`fdatasync(2)`).
    pub fn datasync(mut self) -> Fsync {
        self.flags |= FsyncFlags::DATASYNC;
        self
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Op for Fsync {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Fsync::new(self.fd.target()).flags(self.flags).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Allocates (or, with `mode` flags, punches or zeroes) file space, like
/// `fallocate(2)`: `IORING_OP_FALLOCATE` (Linux 5.6).
#[derive(Debug)]
pub struct Fallocate {
    fd: FileRef,
    mode: i32,
    offset: u64,
    len: u64,
}

impl Fallocate {
    /// Allocate `len` bytes at `offset` of `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd)), mode 0.
    pub fn new(fd: impl Into<FileRef>, offset: u64, len: u64) -> Fallocate {
        Fallocate {
            fd: fd.into(),
            mode: 0,
            offset,
            len,
        }
    }

    /// `FALLOC_FL_*` flags.
    pub fn mode(mut self, mode: i32) -> Fallocate {
        self.mode = mode;
        self
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Op for Fallocate {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Fallocate::new(self.fd.target(), self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Sets a file's length, like `ftruncate(2)`: `IORING_OP_FTRUNCATE` (Linux 6.9).
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::Ftruncate};
/// # if !uring::probe::probe()?.is_supported(uring::op::Ftruncate::CODE) { return Ok(()) } // < 6.9
/// let mut ring = OwnedRing::new(4)?;
/// let table = DirectTable::new(&mut ring, 1, 0)?;
/// let path = std::env::temp_dir().join(format!("ftruncate-doc-{}", std::process::id()));
/// let file = std::fs::File::create(&path)?;
/// let direct = table.insert(file)?; // the file, as a direct descriptor
/// let id = ring.submit_op(Ftruncate::new(&direct, 4096))?;
/// ring.wait_for(id)??;
/// assert_eq!(std::fs::metadata(&path)?.len(), 4096);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Ftruncate {
    fd: FileRef,
    len: u64,
}

impl Ftruncate {
    /// Truncate (or extend) `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd)) to `len` bytes.
    pub fn new(fd: impl Into<FileRef>, len: u64) -> Ftruncate {
        Ftruncate { fd: fd.into(), len }
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Op for Ftruncate {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Ftruncate::new(self.fd.target(), self.len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Opens a file, like `openat(2)`: `IORING_OP_OPENAT` (Linux 5.6). `O_CLOEXEC`
/// is always added. Output: the new descriptor.
///
/// ```
/// use std::os::unix::fs::FileTypeExt;
/// use uring::owned::{OwnedRing, ops::OpenAt};
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(OpenAt::new("/dev/null", libc::O_RDONLY)?)?;
/// let file = std::fs::File::from(ring.wait_for(id)??);
/// assert!(file.metadata()?.file_type().is_char_device());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct OpenAt {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
    mode: libc::mode_t,
}

impl OpenAt {
    /// Open `path` (relative to the current directory unless [`dir`](Self::dir)
    /// is given) with `O_*` `flags`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, flags: i32) -> io::Result<OpenAt> {
        Ok(OpenAt {
            dir: None,
            path: c_path(path.as_ref())?,
            flags,
            mode: 0,
        })
    }

    /// Permissions for a file `O_CREAT` makes.
    pub fn mode(mut self, mode: libc::mode_t) -> OpenAt {
        self.mode = mode;
        self
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> OpenAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (a CString's heap bytes, never mutated) and the directory
// descriptor the op's SharedFd keeps open; without a file_index the result is a
// plain new descriptor, owned by the output.
unsafe impl Op for OpenAt {
    type Output = io::Result<OwnedFd>;
    fn sqe(&mut self) -> Sqe {
        raw::OpenAt::new(dir_of(&self.dir), self.path.as_ptr())
            .flags(self.flags | libc::O_CLOEXEC)
            .mode(self.mode)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<OwnedFd> {
        new_fd(cqe)
    }
}

/// Opens a file with a `struct open_how`, like `openat2(2)`: `IORING_OP_OPENAT2`
/// (Linux 5.6). `O_CLOEXEC` is always added. The op owns the path and the
/// `open_how` (each in its own heap allocation). Output: the new descriptor.
///
/// Unlike [`OpenAt`], the kernel refuses unknown flags, and a mode without
/// `O_CREAT`/`O_TMPFILE` (`EINVAL`); [`resolve`](Self::resolve) restricts how the
/// path is walked (`RESOLVE_BENEATH`, `RESOLVE_NO_SYMLINKS`, …).
///
/// ```
/// use std::os::unix::fs::FileTypeExt;
/// use uring::owned::{OwnedRing, ops::OpenAt2};
/// # if !uring::probe::probe()?.is_supported(uring::op::OpenAt2::CODE) { return Ok(()) } // older kernel
/// let mut ring = OwnedRing::new(2)?;
/// let dev = std::fs::File::open("/dev")?;
/// let op = OpenAt2::new("null", libc::O_RDONLY)?
///     .dir(dev)
///     .resolve(libc::RESOLVE_BENEATH);
/// let id = ring.submit_op(op)?;
/// let file = std::fs::File::from(ring.wait_for(id)??);
/// assert!(file.metadata()?.file_type().is_char_device());
/// // RESOLVE_BENEATH refuses to leave the directory.
/// let op = OpenAt2::new("../etc/passwd", libc::O_RDONLY)?
///     .dir(std::fs::File::open("/dev")?)
///     .resolve(libc::RESOLVE_BENEATH);
/// let id = ring.submit_op(op)?;
/// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::EXDEV));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_openat2")]
#[derive(Debug)]
pub struct OpenAt2 {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
    mode: u64,
    resolve: u64,
    how: HowHeap,
}

impl OpenAt2 {
    /// Open `path` (relative to the current directory unless [`dir`](Self::dir) is
    /// given) with `O_*` `flags`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, flags: i32) -> io::Result<OpenAt2> {
        Ok(OpenAt2 {
            dir: None,
            path: c_path(path.as_ref())?,
            flags,
            mode: 0,
            resolve: 0,
            how: HowHeap(Heap::new(crate::sys::open_how {
                flags: 0,
                mode: 0,
                resolve: 0,
            })),
        })
    }

    /// Permissions for a file `O_CREAT` or `O_TMPFILE` makes.
    pub fn mode(mut self, mode: libc::mode_t) -> OpenAt2 {
        self.mode = u64::from(mode);
        self
    }

    /// `RESOLVE_*` flags: how the path may be walked.
    pub fn resolve(mut self, resolve: u64) -> OpenAt2 {
        self.resolve = resolve;
        self
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> OpenAt2 {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (a CString's heap bytes, never mutated), the open_how (its
// own heap allocation, written here before the entry is submitted and only read by
// the kernel) and a directory descriptor the op's SharedFd keeps open; without a
// file_index the result is a plain new descriptor, owned by the output.
unsafe impl Op for OpenAt2 {
    type Output = io::Result<OwnedFd>;
    fn sqe(&mut self) -> Sqe {
        let how = crate::sys::open_how {
            flags: u64::from((self.flags | libc::O_CLOEXEC) as u32),
            mode: self.mode,
            resolve: self.resolve,
        };
        // SAFETY: the allocation is ours and live; `sqe` runs before the entry is
        // submitted (the op is not in the ring's table yet), so the kernel does not
        // hold the address and nothing else references the value.
        unsafe { self.how.0.ptr().write(how) };
        raw::OpenAt2::new(dir_of(&self.dir), self.path.as_ptr(), self.how.0.ptr()).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<OwnedFd> {
        new_fd(cqe)
    }
}

/// The kernel-read `struct open_how` of an [`OpenAt2`].
struct HowHeap(Heap<crate::sys::open_how>);

impl std::fmt::Debug for HowHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("open_how")
    }
}

/// Closes a descriptor, like `close(2)`: `IORING_OP_CLOSE` (Linux 5.6). Takes the
/// descriptor by value, so nothing else can use it.
///
/// The kernel closes it — unless the close never ran (cancelled, or after a failed
/// link: `ECANCELED`) or the kernel refused it (`EBADF`, for an io_uring
/// descriptor); then the ring closes it with `close(2)`, and the result still says
/// what the kernel answered.
#[derive(Debug)]
pub struct Close {
    fd: Option<OwnedFd>,
}

impl Close {
    /// Close `fd`.
    pub fn new(fd: impl Into<OwnedFd>) -> Close {
        Close {
            fd: Some(fd.into()),
        }
    }
}

// SAFETY: names only the descriptor the op owns; it is released exactly once: by
// the kernel (then forgotten here) or by dropping the OwnedFd when the kernel did
// not close it.
unsafe impl Op for Close {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let fd = self.fd.as_ref().map_or(-1, |f| f.as_raw_fd());
        raw::Close::new(Fd(fd)).build()
    }
    fn complete(mut self, cqe: &Cqe) -> io::Result<()> {
        let fd = self.fd.take();
        let res = cqe.raw_result();
        if res == -libc::ECANCELED || res == -libc::EBADF {
            // The kernel did not take the descriptor out of the table: close it here.
            drop(fd);
        } else if let Some(fd) = fd {
            // The kernel removed it from the table (whatever flushing returned).
            let _ = fd.into_raw_fd();
        }
        unit(cqe)
    }
}

/// File status, like `statx(2)`: `IORING_OP_STATX` (Linux 5.6).
#[derive(Debug)]
pub struct Statx {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
    mask: u32,
    buf: StatxBuf,
}

impl Statx {
    fn with(dir: Option<SharedFd>, path: CString, flags: i32) -> Statx {
        // SAFETY: struct statx is plain integers; all-zero is a valid value.
        let zero: libc::statx = unsafe { core::mem::zeroed() };
        Statx {
            dir,
            path,
            flags,
            mask: libc::STATX_BASIC_STATS,
            buf: StatxBuf(Heap::new(zero)),
        }
    }

    /// Status of `path` (relative to the current directory), following symlinks.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn path(path: impl AsRef<Path>) -> io::Result<Statx> {
        Ok(Statx::with(None, c_path(path.as_ref())?, 0))
    }

    /// Status of the open file `fd` (`AT_EMPTY_PATH`).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::Statx};
    /// let file = std::fs::File::open("/proc/self/exe")?;
    /// let len = file.metadata()?.len();
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(Statx::fd(file))?;
    /// assert_eq!(ring.wait_for(id)??.stx_size, len);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn fd(fd: impl Into<SharedFd>) -> Statx {
        Statx::with(Some(fd.into()), CString::default(), libc::AT_EMPTY_PATH)
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> Statx {
        self.dir = Some(dir.into());
        self
    }

    /// `AT_*` flags, added to those already set (`AT_SYMLINK_NOFOLLOW`, …).
    pub fn flags(mut self, flags: i32) -> Statx {
        self.flags |= flags;
        self
    }

    /// The `STATX_*` fields wanted (default `STATX_BASIC_STATS`).
    pub fn mask(mut self, mask: u32) -> Statx {
        self.mask = mask;
        self
    }
}

// SAFETY: names the path (CString heap bytes), the statx buffer (its own heap
// allocation, read only after completion) and a directory descriptor the op's
// SharedFd keeps open.
unsafe impl Op for Statx {
    type Output = io::Result<libc::statx>;
    fn sqe(&mut self) -> Sqe {
        raw::Statx::new(dir_of(&self.dir), self.path.as_ptr(), self.buf.0.ptr())
            .flags(self.flags)
            .mask(self.mask)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<libc::statx> {
        cqe.result()?;
        // SAFETY: the final completion arrived: the kernel is done writing.
        Ok(*unsafe { self.buf.0.get() })
    }
}

/// The kernel-written `struct statx` of a [`Statx`].
struct StatxBuf(Heap<libc::statx>);

impl std::fmt::Debug for StatxBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("statx")
    }
}
