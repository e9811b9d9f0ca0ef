//! Operations for the [`OwnedRing`](super::OwnedRing): each owns what its entry
//! names, and gives it back in its output.
//!
//! Files are taken as `impl Into<SharedFd>` (an [`OwnedFd`], a `File`, a socket, or
//! `&SharedFd` to share one you keep). Buffers are taken by value ([`IoBuf`] to be
//! read by the kernel, [`IoBufMut`] to be written) and returned with the result as a
//! [`BufResult`]. Operations that create descriptors return [`OwnedFd`]s, always
//! opened close-on-exec.
//!
//! | operation | like | output |
//! | --- | --- | --- |
//! | [`Nop`] | nothing | `io::Result<u32>` |
//! | [`Read`], [`Write`] | `pread(2)`, `pwrite(2)` | [`BufResult<B>`] |
//! | [`Readv`], [`Writev`] | `preadv(2)`, `pwritev(2)` | [`BufResult<Vec<B>>`] |
//! | [`Fsync`] | `fsync(2)`, `fdatasync(2)` | `io::Result<()>` |
//! | [`Fallocate`] | `fallocate(2)` | `io::Result<()>` |
//! | [`OpenAt`] | `openat(2)` | `io::Result<OwnedFd>` |
//! | [`Close`] | `close(2)` | `io::Result<()>` |
//! | [`Statx`] | `statx(2)` | `io::Result<libc::statx>` |
//! | [`UnlinkAt`], [`MkDirAt`] | `unlinkat(2)`, `mkdirat(2)` | `io::Result<()>` |
//! | [`Socket`] | `socket(2)` | `io::Result<OwnedFd>` |
//! | [`Connect`] | `connect(2)` | `io::Result<()>` |
//! | [`Accept`] | `accept4(2)` | `io::Result<(OwnedFd, Option<SocketAddr>)>` |
//! | [`Send`], [`Recv`] | `send(2)`, `recv(2)` | [`BufResult<B>`] |
//! | [`SendZc`] | zero-copy `send(2)`: the buffer comes back with the notification | [`BufResult<B>`] |
//! | [`Shutdown`] | `shutdown(2)` | `io::Result<()>` |
//! | [`PollAdd`] | `poll(2)`, once | `io::Result<u32>` |
//! | [`Splice`] | `splice(2)` | `io::Result<usize>` |
//! | [`RenameAt`] | `renameat2(2)` | `io::Result<()>` |
//! | [`Ftruncate`] | `ftruncate(2)` | `io::Result<()>` |
//! | [`Timeout`] | a timer | `io::Result<()>`, `ETIME` when it fires |
//! | [`LinkTimeout`] | a time limit for the previous member of a chain | `io::Result<()>`, `ETIME` when it fired |
//! | [`RecvSelect`], [`ReadSelect`] | `recv(2)`, `pread(2)` into a buffer the kernel picks from a [`BufPool`] | `io::Result<`[`PoolBuf`]`>` |
//! | [`RecvBundle`] | `recv(2)` into as many [`BufPool`] buffers as needed | `io::Result<`[`PoolBufs`]`>` |
//! | [`SendBundle`](super::SendBundle) | `send(2)` of as many buffers queued in a [`SendQueue`](super::SendQueue) as the socket takes | `io::Result<`[`Sent<B>`](super::Sent)`>` |
//! | [`OpenAt2`] | `openat2(2)` | `io::Result<OwnedFd>` |
//! | [`LinkAt`], [`SymlinkAt`] | `linkat(2)`, `symlinkat(2)` | `io::Result<()>` |
//! | [`Bind`], [`Listen`] | `bind(2)`, `listen(2)` | `io::Result<()>` |
//! | [`SendMsg`] | `sendmsg(2)` (no control data) | [`BufResult<Vec<B>>`] |
//! | [`RecvMsg`] | `recvmsg(2)` | `(io::Result<`[`Received`]`>, Vec<B>)` |
//! | [`Tee`] | `tee(2)` | `io::Result<usize>` |
//! | [`MsgRing`] | a completion posted into another ring | `io::Result<()>` |
//! | [`FutexWait`], [`FutexWake`] | `futex(2)` wait and wake, on an `Arc<AtomicU32>` | `io::Result<()>`, `io::Result<u32>` |
//! | [`WaitId`] | `waitid(2)` | `io::Result<`[`ChildStatus`]`>` |
//! | [`ReadFixed`], [`WriteFixed`] | `pread(2)`, `pwrite(2)` with a registered buffer ([`FixedBufs`](super::FixedBufs)) | [`BufResult<B>`] |
//!
//! Multishot operations ([`Multishot`]: submit with
//! [`OwnedRing::submit_multishot`](super::OwnedRing::submit_multishot), read with
//! [`next_item`](super::OwnedRing::next_item)) yield one item per completion:
//!
//! | operation | like | item |
//! | --- | --- | --- |
//! | [`RecvMulti`] | `recv(2)` again and again, into [`BufPool`] buffers | [`PoolBuf`] |
//! | [`ReadMulti`] | `read(2)` again and again, into [`BufPool`] buffers | [`PoolBuf`] |
//! | [`RecvBundleMulti`] | `recv(2)` again and again, each time into as many [`BufPool`] buffers as needed | [`PoolBufs`] |
//! | [`AcceptMulti`] | `accept4(2)` again and again | [`OwnedFd`] |
//! | [`PollMulti`] | `poll(2)`, staying armed | `u32` events |
//! | [`TimeoutMulti`] | a periodic timer | `()` |

pub use super::fixed::{ReadFixed, WriteFixed};

use core::ptr::NonNull;
use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use super::buf::len32;
use super::imp::Token;
use super::pool::{self, PoolShared};
use super::{BufPool, IoBuf, IoBufMut, Multishot, Op, PoolBuf, SharedFd};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::sqe::Sqe;
use crate::types::{Fd, FsyncFlags, TimeoutFlags, Timespec};

/// A result and the buffer the operation owned: `(Ok(bytes), buf)` or
/// `(Err(errno), buf)`. The buffer comes back either way.
pub type BufResult<B> = (io::Result<usize>, B);

/// A value in its own heap allocation, for memory the kernel reads or writes.
///
/// Unlike a `Box`, it asserts no uniqueness while the kernel holds its address:
/// it is only a pointer, dereferenced by Rust code only after the kernel is done.
struct Heap<T>(NonNull<T>);

impl<T> Heap<T> {
    fn new(value: T) -> Heap<T> {
        Heap(NonNull::from(Box::leak(Box::new(value))))
    }

    fn ptr(&self) -> *mut T {
        self.0.as_ptr()
    }

    /// # Safety
    ///
    /// The kernel must be done with the value (its operation's final completion
    /// has arrived).
    unsafe fn get(&self) -> &T {
        // SAFETY: the pointer came from a live Box that only this Heap frees; the
        // caller promises no one else writes it any more.
        unsafe { self.0.as_ref() }
    }
}

impl<T> Drop for Heap<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Box::leak and is freed only here, once. A
        // Heap is dropped only with its operation, after its final completion (or
        // never, when the operation is leaked).
        drop(unsafe { Box::from_raw(self.0.as_ptr()) });
    }
}

// SAFETY: a Heap owns its T exactly as a Box does.
unsafe impl<T: core::marker::Send> core::marker::Send for Heap<T> {}

/// A plain descriptor argument for the raw builders.
fn fd_of(fd: &SharedFd) -> Fd {
    Fd(fd.as_raw_fd())
}

fn dir_of(dir: &Option<SharedFd>) -> Fd {
    dir.as_ref().map_or(Fd::CWD, fd_of)
}

fn unit(cqe: &Cqe) -> io::Result<()> {
    cqe.result().map(drop)
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path {path:?} contains a NUL byte"),
        )
    })
}

/// The new descriptor a successful creating operation returned.
fn new_fd(cqe: &Cqe) -> io::Result<OwnedFd> {
    cqe.result().map(|fd| {
        // SAFETY: a successful OPENAT/ACCEPT/SOCKET without a file_index (these ops
        // never set one) returns a new descriptor that nothing else owns.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    })
}

/// The iovec array of a vectored operation. The pointers in it are addresses of
/// buffers owned by the same operation; Rust code never dereferences them.
struct IoVecs(Vec<libc::iovec>);

// SAFETY: the iovecs are plain addresses and lengths of buffers that move with the
// operation (which is Send); sending them to another thread shares nothing.
unsafe impl core::marker::Send for IoVecs {}

/// Does nothing, and completes: `IORING_OP_NOP`. Output: the result (0, or the
/// injected error).
///
/// ```
/// use uring::owned::{OwnedRing, ops::Nop};
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Nop::new())?;
/// assert_eq!(ring.wait_for(id)?.unwrap(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Nop {
    errno: Option<i32>,
}

impl Nop {
    /// A NOP that succeeds with 0.
    pub fn new() -> Nop {
        Nop { errno: None }
    }

    /// A NOP that fails with `errno` (`IORING_NOP_INJECT_RESULT`, Linux 6.3; older
    /// kernels ignore the flag and complete with 0).
    pub fn failing(errno: i32) -> Nop {
        Nop {
            errno: Some(errno.checked_abs().unwrap_or(i32::MAX)),
        }
    }
}

// SAFETY: a NOP names no memory and no descriptor.
unsafe impl Op for Nop {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::Nop::new()
            .inject_result(self.errno.map(|e| -e))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
}

/// Reads into a buffer at an offset, like `pread(2)`: `IORING_OP_READ` (Linux
/// 5.6). The kernel fills the buffer from its start, up to its
/// [`bytes_total`](IoBuf::bytes_total) (a `Vec`'s capacity); a `Vec`'s length then
/// grows to cover what was read. An offset of `u64::MAX` reads at the file position.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{OwnedRing, ops::Read};
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"hi")?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Read::new(r, Vec::with_capacity(16), u64::MAX))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!((n?, &buf[..]), (2, &b"hi"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Read<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    /// Read from `fd` at `offset` into `buf`.
    pub fn new(fd: impl Into<SharedFd>, buf: B, offset: u64) -> Read<B> {
        Read {
            fd: fd.into(),
            buf,
            offset,
        }
    }
}

// SAFETY: the entry names the buffer's stable memory (IoBufMut: exclusively owned,
// valid for bytes_total bytes, address unchanged by moves) and a descriptor the op's
// SharedFd keeps open.
unsafe impl<B: IoBufMut> Op for Read<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_total());
        raw::Read::new(fd_of(&self.fd), self.buf.stable_mut_ptr(), len)
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        let Read { mut buf, .. } = self;
        let res = cqe.result().map(|n| n as usize);
        if let Ok(n) = res {
            let n = n.min(buf.bytes_total());
            // SAFETY: the kernel wrote n bytes from the start of the buffer (a read
            // returns the bytes it stored), and n <= bytes_total.
            unsafe { buf.set_init(n) };
        }
        (res, buf)
    }
}

/// Writes a buffer's initialised bytes at an offset, like `pwrite(2)`:
/// `IORING_OP_WRITE` (Linux 5.6). An offset of `u64::MAX` writes at the file
/// position.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{OwnedRing, IoBuf, ops::Write};
/// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Write::new(w, b"hello".to_vec().slice(1..), u64::MAX))?;
/// let (n, _buf) = ring.wait_for(id)?;
/// assert_eq!(n?, 4);
/// let mut got = [0u8; 4];
/// r.read_exact(&mut got)?;
/// assert_eq!(&got, b"ello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Write<B> {
    fd: SharedFd,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    /// Write `buf` to `fd` at `offset`.
    pub fn new(fd: impl Into<SharedFd>, buf: B, offset: u64) -> Write<B> {
        Write {
            fd: fd.into(),
            buf,
            offset,
        }
    }
}

// SAFETY: the entry names the buffer's stable, initialised memory (IoBuf: not
// written by anyone while owned) and a descriptor the op's SharedFd keeps open.
unsafe impl<B: IoBuf> Op for Write<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::Write::new(fd_of(&self.fd), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (cqe.result().map(|n| n as usize), self.buf)
    }
}

/// Reads into several buffers in turn, like `preadv(2)`: `IORING_OP_READV`
/// (Linux 5.1). The op builds the iovec array and keeps it alive; each buffer's
/// initialised length grows over what landed in it.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{OwnedRing, ops::Readv};
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"abcdef")?;
/// let mut ring = OwnedRing::new(2)?;
/// let bufs = vec![Vec::with_capacity(2), Vec::with_capacity(8)];
/// let id = ring.submit_op(Readv::new(r, bufs, u64::MAX))?;
/// let (n, bufs) = ring.wait_for(id)?;
/// assert_eq!(n?, 6);
/// assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"ab"[..], &b"cdef"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Readv<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl std::fmt::Debug for IoVecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} iovecs]", self.0.len())
    }
}

impl<B: IoBufMut> Readv<B> {
    /// Read from `fd` at `offset` into `bufs`, in order.
    pub fn new(fd: impl Into<SharedFd>, bufs: Vec<B>, offset: u64) -> Readv<B> {
        Readv {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs(Vec::new()),
            offset,
        }
    }
}

// SAFETY: the entry names the iovec array (its own heap Vec, not touched again
// until completion) whose entries name the buffers' stable, exclusively owned
// memory, and a descriptor the op's SharedFd keeps open.
unsafe impl<B: IoBufMut> Op for Readv<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.stable_mut_ptr().cast(),
                    iov_len: b.bytes_total(),
                })
                .collect(),
        );
        let iov = &self.iovecs.0;
        raw::Readv::new(fd_of(&self.fd), iov.as_ptr(), len32(iov.len()))
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        let Readv { mut bufs, .. } = self;
        let res = cqe.result().map(|n| n as usize);
        if let Ok(n) = res {
            let mut left = n;
            for b in &mut bufs {
                if left == 0 {
                    break;
                }
                let here = left.min(b.bytes_total());
                // SAFETY: readv fills the iovecs in order, each completely before the
                // next; `here` bytes of this one were written, here <= bytes_total.
                unsafe { b.set_init(here) };
                left -= here;
            }
        }
        (res, bufs)
    }
}

/// Writes several buffers' initialised bytes in turn, like `pwritev(2)`:
/// `IORING_OP_WRITEV` (Linux 5.1).
#[derive(Debug)]
pub struct Writev<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl<B: IoBuf> Writev<B> {
    /// Write `bufs` to `fd` at `offset`, in order.
    ///
    /// ```
    /// use std::io::Read as _;
    /// use uring::owned::{OwnedRing, ops::Writev};
    /// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(Writev::new(w, vec![b"ab".to_vec(), b"cd".to_vec()], u64::MAX))?;
    /// assert_eq!(ring.wait_for(id)?.0?, 4);
    /// let mut got = [0u8; 4];
    /// r.read_exact(&mut got)?;
    /// assert_eq!(&got, b"abcd");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: impl Into<SharedFd>, bufs: Vec<B>, offset: u64) -> Writev<B> {
        Writev {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs(Vec::new()),
            offset,
        }
    }
}

// SAFETY: as for Readv, with the kernel only reading the buffers' initialised bytes.
unsafe impl<B: IoBuf> Op for Writev<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter()
                .map(|b| libc::iovec {
                    iov_base: b.stable_ptr().cast_mut().cast(),
                    iov_len: b.bytes_init(),
                })
                .collect(),
        );
        let iov = &self.iovecs.0;
        raw::Writev::new(fd_of(&self.fd), iov.as_ptr(), len32(iov.len()))
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        (cqe.result().map(|n| n as usize), self.bufs)
    }
}

/// Flushes a file to storage, like `fsync(2)` or, with
/// [`datasync`](Self::datasync), `fdatasync(2)`: `IORING_OP_FSYNC` (Linux 5.1).
#[derive(Debug)]
pub struct Fsync {
    fd: SharedFd,
    flags: FsyncFlags,
}

impl Fsync {
    /// `fsync(2)` of `fd`.
    pub fn new(fd: impl Into<SharedFd>) -> Fsync {
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

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Op for Fsync {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Fsync::new(fd_of(&self.fd)).flags(self.flags).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Allocates (or, with `mode` flags, punches or zeroes) file space, like
/// `fallocate(2)`: `IORING_OP_FALLOCATE` (Linux 5.6).
#[derive(Debug)]
pub struct Fallocate {
    fd: SharedFd,
    mode: i32,
    offset: u64,
    len: u64,
}

impl Fallocate {
    /// Allocate `len` bytes at `offset` of `fd` (mode 0).
    pub fn new(fd: impl Into<SharedFd>, offset: u64, len: u64) -> Fallocate {
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

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Op for Fallocate {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Fallocate::new(fd_of(&self.fd), self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
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

/// The kernel-written `struct statx` of a [`Statx`].
struct StatxBuf(Heap<libc::statx>);

impl std::fmt::Debug for StatxBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("statx")
    }
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

/// Removes a file (or, with `AT_REMOVEDIR`, a directory), like `unlinkat(2)`:
/// `IORING_OP_UNLINKAT` (Linux 5.11).
#[derive(Debug)]
pub struct UnlinkAt {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
}

impl UnlinkAt {
    /// Remove `path` with `flags` (0 or `AT_REMOVEDIR`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, flags: i32) -> io::Result<UnlinkAt> {
        Ok(UnlinkAt {
            dir: None,
            path: c_path(path.as_ref())?,
            flags,
        })
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> UnlinkAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (CString heap bytes) and a directory descriptor the op's
// SharedFd keeps open.
unsafe impl Op for UnlinkAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::UnlinkAt::new(dir_of(&self.dir), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Makes a directory, like `mkdirat(2)`: `IORING_OP_MKDIRAT` (Linux 5.15).
#[derive(Debug)]
pub struct MkDirAt {
    dir: Option<SharedFd>,
    path: CString,
    mode: libc::mode_t,
}

impl MkDirAt {
    /// Make directory `path` with permissions `mode` (less the umask).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, mode: libc::mode_t) -> io::Result<MkDirAt> {
        Ok(MkDirAt {
            dir: None,
            path: c_path(path.as_ref())?,
            mode,
        })
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> MkDirAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (CString heap bytes) and a directory descriptor the op's
// SharedFd keeps open.
unsafe impl Op for MkDirAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::MkDirAt::new(dir_of(&self.dir), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Creates a socket, like `socket(2)`: `IORING_OP_SOCKET` (Linux 5.19).
/// `SOCK_CLOEXEC` is always added.
#[derive(Debug)]
pub struct Socket {
    domain: i32,
    ty: i32,
    protocol: i32,
}

impl Socket {
    /// A socket of `domain` (`AF_*`), `ty` (`SOCK_*`) and `protocol`.
    pub fn new(domain: i32, ty: i32, protocol: i32) -> Socket {
        Socket {
            domain,
            ty,
            protocol,
        }
    }
}

// SAFETY: names no memory and no descriptor; the result is a plain new descriptor
// (no file_index), owned by the output.
unsafe impl Op for Socket {
    type Output = io::Result<OwnedFd>;
    fn sqe(&mut self) -> Sqe {
        raw::Socket::new(self.domain, self.ty | libc::SOCK_CLOEXEC, self.protocol).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<OwnedFd> {
        new_fd(cqe)
    }
}

/// A socket address in the kernel's layout, with room for any family, and its
/// length (which `accept` writes back).
#[repr(C)]
struct AddrBuf {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl AddrBuf {
    fn empty() -> AddrBuf {
        AddrBuf {
            // SAFETY: sockaddr_storage is plain integers; all-zero is valid.
            storage: unsafe { core::mem::zeroed() },
            len: core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    fn from_addr(addr: &SocketAddr) -> AddrBuf {
        let mut buf = AddrBuf::empty();
        let p = (&raw mut buf.storage).cast::<u8>();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than, and aligned for, any
                // sockaddr type, sockaddr_in included.
                unsafe { p.cast::<libc::sockaddr_in>().write(sin) };
                buf.len = core::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: as above, for sockaddr_in6.
                unsafe { p.cast::<libc::sockaddr_in6>().write(sin6) };
                buf.len = core::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        buf
    }

    /// The address, for the IP families.
    fn to_addr(&self) -> Option<SocketAddr> {
        let p = (&raw const self.storage).cast::<u8>();
        let len = self.len as usize;
        match self.storage.ss_family as i32 {
            libc::AF_INET if len >= core::mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family and length say the kernel stored a
                // sockaddr_in; storage is aligned and large enough for it.
                let sin = unsafe { p.cast::<libc::sockaddr_in>().read() };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Some(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= core::mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: as above, for sockaddr_in6.
                let sin6 = unsafe { p.cast::<libc::sockaddr_in6>().read() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }
}

/// Connects a socket, like `connect(2)`: `IORING_OP_CONNECT` (Linux 5.5).
#[derive(Debug)]
pub struct Connect {
    fd: SharedFd,
    addr: AddrHeap,
}

/// A heap [`AddrBuf`] the kernel reads or writes.
struct AddrHeap(Heap<AddrBuf>);

impl std::fmt::Debug for AddrHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sockaddr")
    }
}

impl Connect {
    /// Connect socket `fd` to `addr`.
    pub fn new(fd: impl Into<SharedFd>, addr: SocketAddr) -> Connect {
        Connect {
            fd: fd.into(),
            addr: AddrHeap(Heap::new(AddrBuf::from_addr(&addr))),
        }
    }
}

// SAFETY: names the address (its own heap allocation, which the kernel only reads)
// and a descriptor the op's SharedFd keeps open.
unsafe impl Op for Connect {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours) and nothing holds a reference into
        // it; only the length is read.
        let len = unsafe { (*p).len };
        raw::Connect::new(fd_of(&self.fd), p.cast::<libc::sockaddr>(), len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Accepts a connection, like `accept4(2)`: `IORING_OP_ACCEPT` (Linux 5.5).
/// `SOCK_CLOEXEC` is always added. Output: the connection's descriptor and, for IP
/// sockets, the peer's address.
#[derive(Debug)]
pub struct Accept {
    fd: SharedFd,
    flags: i32,
    addr: AddrHeap,
}

impl Accept {
    /// Accept a connection on listening socket `fd`.
    pub fn new(fd: impl Into<SharedFd>) -> Accept {
        Accept {
            fd: fd.into(),
            flags: 0,
            addr: AddrHeap(Heap::new(AddrBuf::empty())),
        }
    }

    /// `SOCK_NONBLOCK` for the new socket (`SOCK_CLOEXEC` is always set).
    pub fn flags(mut self, flags: i32) -> Accept {
        self.flags = flags;
        self
    }
}

// SAFETY: names the address buffer and its length (fields of the op's own heap
// allocation, read only after completion) and a descriptor the op's SharedFd keeps
// open; without a file_index the result is a new descriptor, owned by the output.
unsafe impl Op for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddr>)>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours); the field address is computed
        // without making a reference.
        let len = unsafe { &raw mut (*p).len };
        raw::Accept::new(fd_of(&self.fd), p.cast::<libc::sockaddr>(), len)
            .flags(self.flags | libc::SOCK_CLOEXEC)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
        let fd = new_fd(cqe)?;
        // SAFETY: the final completion arrived: the kernel is done writing.
        let addr = unsafe { self.addr.0.get() }.to_addr();
        Ok((fd, addr))
    }
}

/// Sends a buffer's initialised bytes on a socket, like `send(2)`:
/// `IORING_OP_SEND` (Linux 5.6).
#[derive(Debug)]
pub struct Send<B> {
    fd: SharedFd,
    buf: B,
    flags: i32,
}

impl<B: IoBuf> Send<B> {
    /// Send `buf` on socket `fd`.
    pub fn new(fd: impl Into<SharedFd>, buf: B) -> Send<B> {
        Send {
            fd: fd.into(),
            buf,
            flags: 0,
        }
    }

    /// `MSG_*` flags (`MSG_NOSIGNAL`, `MSG_MORE`, …). `MSG_ZEROCOPY` is dropped:
    /// with it the kernel keeps reading the buffer after the completion (until a
    /// notification on the socket's error queue, which the ring cannot see) — use
    /// [`SendZc`], whose buffer comes back only with its notification.
    pub fn flags(mut self, flags: i32) -> Send<B> {
        self.flags = flags & !libc::MSG_ZEROCOPY;
        self
    }
}

// SAFETY: names the buffer's stable initialised memory (read only) and a descriptor
// the op's SharedFd keeps open.
unsafe impl<B: IoBuf> Op for Send<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::Send::new(fd_of(&self.fd), self.buf.stable_ptr(), len)
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (cqe.result().map(|n| n as usize), self.buf)
    }
}

/// Receive flags the safe layer accepts: `MSG_TRUNC` is removed. With it a TCP
/// socket discards the data without writing the buffer and still returns the
/// count, and a datagram socket returns the datagram's full length; either way
/// the result would no longer be the number of bytes written.
fn recv_flags(flags: i32) -> i32 {
    flags & !libc::MSG_TRUNC
}

/// Receives into a buffer from a socket, like `recv(2)`: `IORING_OP_RECV` (Linux
/// 5.6). Fills the buffer from its start, as [`Read`] does.
#[derive(Debug)]
pub struct Recv<B> {
    fd: SharedFd,
    buf: B,
    flags: i32,
}

impl<B: IoBufMut> Recv<B> {
    /// Receive from socket `fd` into `buf`.
    pub fn new(fd: impl Into<SharedFd>, buf: B) -> Recv<B> {
        Recv {
            fd: fd.into(),
            buf,
            flags: 0,
        }
    }

    /// `MSG_*` flags (`MSG_WAITALL`, `MSG_PEEK`, …). `MSG_TRUNC` is dropped: on a
    /// TCP socket it makes the kernel discard the data without writing the buffer,
    /// yet report the count, which would pass unwritten bytes off as received.
    pub fn flags(mut self, flags: i32) -> Recv<B> {
        self.flags = recv_flags(flags);
        self
    }
}

// SAFETY: names the buffer's stable, exclusively owned memory and a descriptor the
// op's SharedFd keeps open.
unsafe impl<B: IoBufMut> Op for Recv<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_total());
        raw::Recv::new(fd_of(&self.fd), self.buf.stable_mut_ptr(), len)
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        let Recv { mut buf, .. } = self;
        let res = cqe.result().map(|n| n as usize);
        if let Ok(n) = res {
            let n = n.min(buf.bytes_total());
            // SAFETY: the kernel stored n bytes from the buffer's start: MSG_TRUNC,
            // with which a count can exceed what was stored, is never passed
            // (`recv_flags`); n <= bytes_total.
            unsafe { buf.set_init(n) };
        }
        (res, buf)
    }
}

/// Completes after a time, or after `count` other completions:
/// `IORING_OP_TIMEOUT` (Linux 5.4). Output: `Err(ETIME)` when the time ran out,
/// `Ok(())` when the count was reached first, `Err(ECANCELED)` when cancelled.
///
/// ```
/// use std::time::Duration;
/// use uring::owned::{OwnedRing, ops::Timeout};
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Timeout::new(Duration::from_millis(1)))?;
/// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::ETIME));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Timeout {
    ts: TimespecHeap,
    count: u32,
}

/// A heap timespec the kernel reads.
struct TimespecHeap(Heap<Timespec>);

impl std::fmt::Debug for TimespecHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timespec")
    }
}

impl Timeout {
    /// Fire after `after` (relative, monotonic clock).
    pub fn new(after: Duration) -> Timeout {
        Timeout {
            ts: TimespecHeap(Heap::new(Timespec::from(after))),
            count: 0,
        }
    }

    /// Complete early, with `Ok`, once `count` other completions have been posted.
    pub fn count(mut self, count: u32) -> Timeout {
        self.count = count;
        self
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel);
// a timeout names no descriptor.
unsafe impl Op for Timeout {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Timeout::new(self.ts.0.ptr().cast_const())
            .count(self.count)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Sends a buffer without copying it, from the kernel's point of view:
/// `IORING_OP_SEND_ZC` (Linux 6.0). The kernel may read the buffer until its
/// **notification** (`IORING_CQE_F_NOTIF`), which comes after the send's own
/// result; the ring keeps the buffer until then, and the output carries the
/// send's result.
#[derive(Debug)]
pub struct SendZc<B> {
    fd: SharedFd,
    buf: B,
    flags: i32,
    /// The send's result, from the completion flagged `MORE`.
    sent: Option<i32>,
}

impl<B: IoBuf> SendZc<B> {
    /// Send `buf` on socket `fd`, zero-copy.
    pub fn new(fd: impl Into<SharedFd>, buf: B) -> SendZc<B> {
        SendZc {
            fd: fd.into(),
            buf,
            flags: 0,
            sent: None,
        }
    }

    /// `MSG_*` flags. (`MSG_ZEROCOPY` is dropped; the operation is zero-copy anyway.)
    pub fn flags(mut self, flags: i32) -> SendZc<B> {
        self.flags = flags & !libc::MSG_ZEROCOPY;
        self
    }
}

// SAFETY: names the buffer's stable initialised memory (read only) and a descriptor
// the op's SharedFd keeps open. The final completion is the notification (or, when
// the first completion has no MORE flag, that one): only then is the buffer
// returned.
unsafe impl<B: IoBuf> Op for SendZc<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::SendZc::new(fd_of(&self.fd), self.buf.stable_ptr(), len)
            .flags(self.flags)
            .build()
    }
    fn more(&mut self, cqe: &Cqe) {
        if !cqe.is_notif() {
            self.sent = Some(cqe.raw_result());
        }
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        let res = if cqe.is_notif() {
            self.sent.unwrap_or(0)
        } else {
            cqe.raw_result()
        };
        let res = if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as usize)
        };
        (res, self.buf)
    }
}

/// Renames a file, like `renameat2(2)`: `IORING_OP_RENAMEAT` (Linux 5.11).
#[derive(Debug)]
pub struct RenameAt {
    paths: PathPair,
    flags: u32,
}

/// Two paths, each relative to its own directory (or the current one): what
/// `renameat2(2)` and `linkat(2)` name.
#[derive(Debug)]
struct PathPair {
    old_dir: Option<SharedFd>,
    old: CString,
    new_dir: Option<SharedFd>,
    new: CString,
}

impl PathPair {
    fn new(old: &Path, new: &Path) -> io::Result<PathPair> {
        Ok(PathPair {
            old_dir: None,
            old: c_path(old)?,
            new_dir: None,
            new: c_path(new)?,
        })
    }

    fn set_dirs(&mut self, old_dir: SharedFd, new_dir: SharedFd) {
        self.old_dir = Some(old_dir);
        self.new_dir = Some(new_dir);
    }
}

impl RenameAt {
    /// Rename `old` to `new` (both relative to the current directory unless
    /// directories are given).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a path contains a NUL byte.
    pub fn new(old: impl AsRef<Path>, new: impl AsRef<Path>) -> io::Result<RenameAt> {
        Ok(RenameAt {
            paths: PathPair::new(old.as_ref(), new.as_ref())?,
            flags: 0,
        })
    }

    /// Resolve the relative paths against these directories.
    pub fn dirs(mut self, old_dir: impl Into<SharedFd>, new_dir: impl Into<SharedFd>) -> RenameAt {
        self.paths.set_dirs(old_dir.into(), new_dir.into());
        self
    }

    /// `RENAME_*` flags (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
    pub fn flags(mut self, flags: u32) -> RenameAt {
        self.flags = flags;
        self
    }
}

// SAFETY: names two paths (CString heap bytes) and directory descriptors the op's
// SharedFds keep open.
unsafe impl Op for RenameAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = &self.paths;
        raw::RenameAt::new(
            dir_of(&p.old_dir),
            p.old.as_ptr(),
            dir_of(&p.new_dir),
            p.new.as_ptr(),
        )
        .flags(self.flags)
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Sets a file's length, like `ftruncate(2)`: `IORING_OP_FTRUNCATE` (Linux 6.9).
#[derive(Debug)]
pub struct Ftruncate {
    fd: SharedFd,
    len: u64,
}

impl Ftruncate {
    /// Truncate (or extend) `fd` to `len` bytes.
    pub fn new(fd: impl Into<SharedFd>, len: u64) -> Ftruncate {
        Ftruncate { fd: fd.into(), len }
    }
}

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Op for Ftruncate {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Ftruncate::new(fd_of(&self.fd), self.len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Shuts down part of a full-duplex connection, like `shutdown(2)`:
/// `IORING_OP_SHUTDOWN` (Linux 5.11).
#[derive(Debug)]
pub struct Shutdown {
    fd: SharedFd,
    how: i32,
}

impl Shutdown {
    /// Shut down `how` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`) of socket `fd`.
    pub fn new(fd: impl Into<SharedFd>, how: i32) -> Shutdown {
        Shutdown { fd: fd.into(), how }
    }
}

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Op for Shutdown {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Shutdown::new(fd_of(&self.fd), self.how).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Waits once for readiness events on a file, like `poll(2)`: `IORING_OP_POLL_ADD`
/// (Linux 5.1). Output: the ready events (`POLLIN`, …).
#[derive(Debug)]
pub struct PollAdd {
    fd: SharedFd,
    mask: u32,
}

impl PollAdd {
    /// Wait for any of `mask` (`POLLIN`, `POLLOUT`, … as `u32`) on `fd`.
    pub fn new(fd: impl Into<SharedFd>, mask: u32) -> PollAdd {
        PollAdd {
            fd: fd.into(),
            mask,
        }
    }
}

// SAFETY: names only a descriptor the op's SharedFd keeps open; single-shot, so its
// first completion is its final one.
unsafe impl Op for PollAdd {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::PollAdd::new(fd_of(&self.fd), self.mask).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
}

/// Moves data between a pipe and another file without copying it to user space,
/// like `splice(2)`: `IORING_OP_SPLICE` (Linux 5.7). One side must be a pipe. Output:
/// the bytes moved.
#[derive(Debug)]
pub struct Splice {
    fd_in: SharedFd,
    off_in: Option<u64>,
    fd_out: SharedFd,
    off_out: Option<u64>,
    len: u32,
    flags: u32,
}

impl Splice {
    /// Move up to `len` bytes from `fd_in` (at `off_in`, or its position for
    /// `None`, which a pipe needs) to `fd_out` (likewise).
    pub fn new(
        fd_in: impl Into<SharedFd>,
        off_in: Option<u64>,
        fd_out: impl Into<SharedFd>,
        off_out: Option<u64>,
        len: u32,
    ) -> Splice {
        Splice {
            fd_in: fd_in.into(),
            off_in,
            fd_out: fd_out.into(),
            off_out,
            len,
            flags: 0,
        }
    }

    /// `SPLICE_F_*` flags (`SPLICE_F_MOVE`, `SPLICE_F_NONBLOCK`, …).
    pub fn flags(mut self, flags: u32) -> Splice {
        self.flags = flags & !crate::sys::SPLICE_F_FD_IN_FIXED;
        self
    }
}

// SAFETY: names only two descriptors the op's SharedFds keep open (never a fixed
// file: SPLICE_F_FD_IN_FIXED is masked out).
unsafe impl Op for Splice {
    type Output = io::Result<usize>;
    fn sqe(&mut self) -> Sqe {
        let off = |o: Option<u64>| o.map_or(-1, |o| o as i64);
        raw::Splice::new(
            fd_of(&self.fd_in),
            off(self.off_in),
            fd_of(&self.fd_out),
            off(self.off_out),
            self.len,
        )
        .flags(self.flags)
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<usize> {
        cqe.result().map(|n| n as usize)
    }
}

/// The bytes a buffer-selecting completion delivered, as a guard.
fn pool_result(pool: &Arc<PoolShared>, cqe: &Cqe) -> io::Result<PoolBuf> {
    let res = cqe.raw_result();
    // Whatever the result, a buffer the completion names is ours to hand back.
    let buf = pool::take(pool, cqe, usize::try_from(res).unwrap_or(0))?;
    if res < 0 {
        return Err(io::Error::from_raw_os_error(-res));
    }
    match buf {
        Some(buf) => Ok(buf),
        None if res == 0 => Ok(PoolBuf::empty(pool)),
        None => Err(io::Error::other(format!(
            "the kernel reported {res} bytes but named no buffer"
        ))),
    }
}

/// Receives into a buffer the kernel picks from a [`BufPool`], like `recv(2)`:
/// `IORING_OP_RECV` with `IOSQE_BUFFER_SELECT` (Linux 5.19 for buffer rings).
/// While it waits for data it holds no buffer. Output: a [`PoolBuf`] over the
/// bytes received (empty at end of file); `ENOBUFS` when the pool had no free
/// buffer.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvSelect};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(pool) = BufPool::new(&mut ring, 1, 2, 16) else { return Ok(()) }; // < 5.19
/// # /*
/// let pool = BufPool::new(&mut ring, 1, 2, 16)?;
/// # */
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"ping")?;
/// let id = ring.submit_op(RecvSelect::new(r, &pool))?;
/// let buf = ring.wait_for(id)??;
/// assert_eq!(&buf[..], b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RecvSelect {
    fd: SharedFd,
    pool: BufPool,
    flags: i32,
}

impl RecvSelect {
    /// Receive from socket `fd` into a buffer of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool) -> RecvSelect {
        RecvSelect {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags (`MSG_WAITALL`, `MSG_PEEK`, …). `MSG_TRUNC` is dropped, as for
    /// [`Recv::flags`].
    pub fn flags(mut self, flags: i32) -> RecvSelect {
        self.flags = recv_flags(flags);
        self
    }
}

// SAFETY: names no memory of its own: the kernel writes into a buffer of the pool's
// group, registered with the ring `bound_ring` names (the ring refuses the op
// elsewhere); the op's Arc keeps the pool's memory alive until the op is dropped,
// after its final completion. The descriptor is kept open by the SharedFd. The
// buffer the completion names is handed out as a guard, never twice.
unsafe impl Op for RecvSelect {
    type Output = io::Result<PoolBuf>;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(fd_of(&self.fd), core::ptr::null_mut(), self.pool.buf_size())
            .flags(self.flags)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<PoolBuf> {
        pool_result(&self.pool.shared, cqe)
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}

/// Reads into a buffer the kernel picks from a [`BufPool`], like `pread(2)`:
/// `IORING_OP_READ` with `IOSQE_BUFFER_SELECT`. An offset of `u64::MAX` reads at
/// the file position (what pipes and sockets need). Output as for [`RecvSelect`].
#[derive(Debug)]
pub struct ReadSelect {
    fd: SharedFd,
    pool: BufPool,
    offset: u64,
}

impl ReadSelect {
    /// Read from `fd` at `offset` into a buffer of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool, offset: u64) -> ReadSelect {
        ReadSelect {
            fd: fd.into(),
            pool: pool.clone(),
            offset,
        }
    }
}

// SAFETY: as for RecvSelect.
unsafe impl Op for ReadSelect {
    type Output = io::Result<PoolBuf>;
    fn sqe(&mut self) -> Sqe {
        raw::Read::new(fd_of(&self.fd), core::ptr::null_mut(), self.pool.buf_size())
            .offset(self.offset)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<PoolBuf> {
        pool_result(&self.pool.shared, cqe)
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}

/// Keeps receiving into buffers the kernel picks from a [`BufPool`], one item per
/// chunk: multishot `IORING_OP_RECV` (Linux 6.0). Each item is a [`PoolBuf`]; the
/// stream ends at end of file (no item), on an error (its last item: `ENOBUFS`
/// when the pool ran dry, `ECANCELED` after a cancel).
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvMulti};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(pool) = BufPool::new(&mut ring, 1, 4, 16) else { return Ok(()) }; // < 5.19
/// # /*
/// let pool = BufPool::new(&mut ring, 1, 4, 16)?;
/// # */
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(RecvMulti::new(r, &pool))?;
/// w.write_all(b"one")?;
/// # let first = ring.next_item(&id)?.unwrap();
/// # if matches!(&first, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) { return Ok(()) } // < 6.0
/// # /*
/// let first = ring.next_item(&id)?.unwrap();
/// # */
/// assert_eq!(&first?[..], b"one");
/// drop(w); // end of file: the stream ends
/// assert!(ring.next_item(&id)?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RecvMulti {
    fd: SharedFd,
    pool: BufPool,
    flags: i32,
}

impl RecvMulti {
    /// Keep receiving from socket `fd` into buffers of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool) -> RecvMulti {
        RecvMulti {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags. `MSG_TRUNC` is dropped, as for [`Recv::flags`].
    pub fn flags(mut self, flags: i32) -> RecvMulti {
        self.flags = recv_flags(flags);
        self
    }
}

// SAFETY: as for RecvSelect; each completion names at most one buffer (no bundle),
// which becomes that item's guard.
unsafe impl Multishot for RecvMulti {
    type Item = PoolBuf;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(fd_of(&self.fd), core::ptr::null_mut(), 0)
            .flags(self.flags)
            .multishot(true)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<PoolBuf>> {
        match pool_result(&self.pool.shared, cqe) {
            // End of file: the final completion, with nothing in it.
            Ok(buf) if buf.is_empty() && !cqe.is_more() => None,
            r => Some(r),
        }
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}

/// Keeps accepting connections, one item per connection: multishot
/// `IORING_OP_ACCEPT` (Linux 5.19). Each item is the new connection's descriptor
/// (close-on-exec). The stream ends on an error, its last item (`ECANCELED` after
/// a cancel).
#[derive(Debug)]
pub struct AcceptMulti {
    fd: SharedFd,
    flags: i32,
}

impl AcceptMulti {
    /// Keep accepting on listening socket `fd`.
    pub fn new(fd: impl Into<SharedFd>) -> AcceptMulti {
        AcceptMulti {
            fd: fd.into(),
            flags: 0,
        }
    }

    /// `SOCK_NONBLOCK` for the new sockets (`SOCK_CLOEXEC` is always set).
    pub fn flags(mut self, flags: i32) -> AcceptMulti {
        self.flags = flags;
        self
    }
}

// SAFETY: names no memory (no address is asked for) and a descriptor the op's
// SharedFd keeps open; every successful completion's result is a new descriptor,
// owned by its item at once.
unsafe impl Multishot for AcceptMulti {
    type Item = OwnedFd;
    fn sqe(&mut self) -> Sqe {
        raw::Accept::new(
            fd_of(&self.fd),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
        .flags(self.flags | libc::SOCK_CLOEXEC)
        .multishot(true)
        .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<OwnedFd>> {
        Some(new_fd(cqe))
    }
}

/// Keeps polling a descriptor, one item (the ready events) per wake-up: multishot
/// `IORING_OP_POLL_ADD` (Linux 5.13). Ends on an error, its last item
/// (`ECANCELED` after a cancel).
#[derive(Debug)]
pub struct PollMulti {
    fd: SharedFd,
    mask: u32,
}

impl PollMulti {
    /// Keep waiting for any of `mask` (`POLLIN`, … as `u32`) on `fd`.
    pub fn new(fd: impl Into<SharedFd>, mask: u32) -> PollMulti {
        PollMulti {
            fd: fd.into(),
            mask,
        }
    }
}

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Multishot for PollMulti {
    type Item = u32;
    fn sqe(&mut self) -> Sqe {
        raw::PollAdd::new(fd_of(&self.fd), self.mask)
            .multi(true)
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<u32>> {
        Some(cqe.result())
    }
}

/// A timer firing every `interval`, `count` times (0: until cancelled), one item
/// (`()`) per firing: multishot `IORING_OP_TIMEOUT` (Linux 6.4). Ends after the
/// last firing, or with `ECANCELED` after a cancel.
#[derive(Debug)]
pub struct TimeoutMulti {
    ts: TimespecHeap,
    count: u32,
}

impl TimeoutMulti {
    /// Fire every `interval`, `count` times (0 for no limit).
    pub fn new(interval: Duration, count: u32) -> TimeoutMulti {
        TimeoutMulti {
            ts: TimespecHeap(Heap::new(Timespec::from(interval))),
            count,
        }
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel).
unsafe impl Multishot for TimeoutMulti {
    type Item = ();
    fn sqe(&mut self) -> Sqe {
        raw::Timeout::new(self.ts.0.ptr().cast_const())
            .count(self.count)
            .flags(TimeoutFlags::MULTISHOT)
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<()>> {
        match cqe.raw_result() {
            r if r == -libc::ETIME => Some(Ok(())),
            r if r < 0 => Some(Err(io::Error::from_raw_os_error(-r))),
            _ => Some(Ok(())),
        }
    }
}

/// A time limit for the operation linked before it: `IORING_OP_LINK_TIMEOUT`
/// (Linux 5.5). Submit it as the member after the operation in
/// [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked), or use
/// [`OwnedRing::submit_with_timeout`](super::OwnedRing::submit_with_timeout). If the
/// operation is still pending when the time runs out it is cancelled (it
/// completes with `ECANCELED`, its resources coming back as usual) and this
/// completes with `ETIME`; otherwise this completes with `ECANCELED`.
#[derive(Debug)]
pub struct LinkTimeout {
    ts: TimespecHeap,
}

impl LinkTimeout {
    /// Cancel the previous member if it has not completed after `after`.
    pub fn new(after: Duration) -> LinkTimeout {
        LinkTimeout {
            ts: TimespecHeap(Heap::new(Timespec::from(after))),
        }
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel)
// and no descriptor.
unsafe impl Op for LinkTimeout {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::LinkTimeout::new(self.ts.0.ptr().cast_const()).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
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

/// The kernel-read `struct open_how` of an [`OpenAt2`].
struct HowHeap(Heap<crate::sys::open_how>);

impl std::fmt::Debug for HowHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("open_how")
    }
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

/// Makes a hard link, like `linkat(2)`: `IORING_OP_LINKAT` (Linux 5.15). The op
/// owns both paths.
///
/// ```
/// use uring::owned::{OwnedRing, ops::LinkAt};
/// # if !uring::probe::probe()?.is_supported(uring::op::LinkAt::CODE) { return Ok(()) } // older kernel
/// let dir = std::env::temp_dir().join(format!("uring-doc-linkat-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("a"), b"data")?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(LinkAt::new(dir.join("a"), dir.join("b"))?)?;
/// ring.wait_for(id)??;
/// assert_eq!(std::fs::read(dir.join("b"))?, b"data");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_linkat")]
#[derive(Debug)]
pub struct LinkAt {
    paths: PathPair,
    flags: i32,
}

impl LinkAt {
    /// Link `new` to the file `old` names (both relative to the current directory
    /// unless directories are given).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a path contains a NUL byte.
    pub fn new(old: impl AsRef<Path>, new: impl AsRef<Path>) -> io::Result<LinkAt> {
        Ok(LinkAt {
            paths: PathPair::new(old.as_ref(), new.as_ref())?,
            flags: 0,
        })
    }

    /// Resolve the relative paths against these directories.
    pub fn dirs(mut self, old_dir: impl Into<SharedFd>, new_dir: impl Into<SharedFd>) -> LinkAt {
        self.paths.set_dirs(old_dir.into(), new_dir.into());
        self
    }

    /// `AT_SYMLINK_FOLLOW` (link to what a symlink `old` points at) or
    /// `AT_EMPTY_PATH` (with an empty `old`: link the old directory descriptor's
    /// file itself).
    pub fn flags(mut self, flags: i32) -> LinkAt {
        self.flags = flags;
        self
    }
}

// SAFETY: names two paths (CString heap bytes, never mutated) and directory
// descriptors the op's SharedFds keep open (with AT_EMPTY_PATH the kernel uses the
// old directory's descriptor itself, which is kept open the same way).
unsafe impl Op for LinkAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = &self.paths;
        raw::LinkAt::new(
            dir_of(&p.old_dir),
            p.old.as_ptr(),
            dir_of(&p.new_dir),
            p.new.as_ptr(),
        )
        .flags(self.flags)
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Makes a symbolic link, like `symlinkat(2)`: `IORING_OP_SYMLINKAT` (Linux 5.15).
/// The op owns the target and the link's path.
///
/// ```
/// use uring::owned::{OwnedRing, ops::SymlinkAt};
/// # if !uring::probe::probe()?.is_supported(uring::op::SymlinkAt::CODE) { return Ok(()) } // older kernel
/// let link = std::env::temp_dir().join(format!("uring-doc-symlink-{}", std::process::id()));
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(SymlinkAt::new("/dev/null", &link)?)?;
/// ring.wait_for(id)??;
/// assert_eq!(std::fs::read_link(&link)?, std::path::Path::new("/dev/null"));
/// # std::fs::remove_file(&link)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_symlinkat")]
#[derive(Debug)]
pub struct SymlinkAt {
    target: CString,
    dir: Option<SharedFd>,
    link: CString,
}

impl SymlinkAt {
    /// Make `link` (relative to the current directory unless [`dir`](Self::dir) is
    /// given) a symbolic link holding `target` (not resolved: it may dangle).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a path contains a NUL byte.
    pub fn new(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<SymlinkAt> {
        Ok(SymlinkAt {
            target: c_path(target.as_ref())?,
            dir: None,
            link: c_path(link.as_ref())?,
        })
    }

    /// Resolve a relative `link` against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> SymlinkAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names two strings (CString heap bytes, never mutated) and a directory
// descriptor the op's SharedFd keeps open.
unsafe impl Op for SymlinkAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::SymlinkAt::new(dir_of(&self.dir), self.target.as_ptr(), self.link.as_ptr()).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Binds a socket to an address, like `bind(2)`: `IORING_OP_BIND` (Linux 6.11).
/// The op owns the address, in its own heap allocation.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr, TcpListener};
/// use uring::owned::{OwnedRing, SharedFd, ops::{Bind, Listen, Socket}};
/// # if !uring::probe::probe()?.is_supported(uring::op::Bind::CODE) { return Ok(()) } // older kernel
/// let mut ring = OwnedRing::new(4)?;
/// let id = ring.submit_op(Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0))?;
/// let sock = SharedFd::from(ring.wait_for(id)??);
/// let id = ring.submit_op(Bind::new(&sock, SocketAddr::from((Ipv4Addr::LOCALHOST, 0))))?;
/// ring.wait_for(id)??;
/// let id = ring.submit_op(Listen::new(&sock, 8))?;
/// ring.wait_for(id)??;
/// let listener = TcpListener::from(sock.try_unwrap().unwrap());
/// let addr = listener.local_addr()?;
/// assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
/// std::net::TcpStream::connect(addr)?; // it listens
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_bind")]
#[derive(Debug)]
pub struct Bind {
    fd: SharedFd,
    addr: AddrHeap,
}

impl Bind {
    /// Bind socket `fd` to `addr`.
    pub fn new(fd: impl Into<SharedFd>, addr: SocketAddr) -> Bind {
        Bind {
            fd: fd.into(),
            addr: AddrHeap(Heap::new(AddrBuf::from_addr(&addr))),
        }
    }
}

// SAFETY: names the address (its own heap allocation, which the kernel only reads)
// and a descriptor the op's SharedFd keeps open.
unsafe impl Op for Bind {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours) and nothing holds a reference into
        // it; only the length is read.
        let len = unsafe { (*p).len };
        raw::Bind::new(fd_of(&self.fd), p.cast::<libc::sockaddr>(), len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Marks a socket as accepting connections, like `listen(2)`:
/// `IORING_OP_LISTEN` (Linux 6.11).
///
/// ```
/// use std::net::{Ipv4Addr, TcpListener};
/// use uring::owned::{OwnedRing, SharedFd, ops::Listen};
/// # if !uring::probe::probe()?.is_supported(uring::op::Listen::CODE) { return Ok(()) } // older kernel
/// // std's listener already listens; listening again just sets the backlog.
/// let sock = SharedFd::from(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?);
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Listen::new(&sock, 16))?;
/// ring.wait_for(id)??;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_listen")]
#[derive(Debug)]
pub struct Listen {
    fd: SharedFd,
    backlog: i32,
}

impl Listen {
    /// Listen on socket `fd` with a queue of `backlog` pending connections.
    pub fn new(fd: impl Into<SharedFd>, backlog: i32) -> Listen {
        Listen {
            fd: fd.into(),
            backlog,
        }
    }
}

// SAFETY: names only a descriptor the op's SharedFd keeps open.
unsafe impl Op for Listen {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Listen::new(fd_of(&self.fd), self.backlog).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Duplicates up to `len` bytes from one pipe into another without consuming
/// them, like `tee(2)`: `IORING_OP_TEE` (Linux 5.8). Output: the bytes duplicated.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// use std::os::fd::FromRawFd;
/// use uring::owned::{OwnedRing, ops::Tee};
/// # if !uring::probe::probe()?.is_supported(uring::op::Tee::CODE) { return Ok(()) } // older kernel
/// fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
///     let mut fds = [0; 2];
///     // SAFETY: fds has room for the two descriptors pipe2 makes.
///     if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
///         return Err(std::io::Error::last_os_error());
///     }
///     // SAFETY: two new descriptors nothing else owns.
///     Ok(unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) })
/// }
/// let ((mut r1, mut w1), (mut r2, w2)) = (pipe()?, pipe()?);
/// w1.write_all(b"copy me")?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Tee::new(r1.try_clone()?, w2, 64))?;
/// assert_eq!(ring.wait_for(id)??, 7);
/// let mut a = [0u8; 7];
/// let mut b = [0u8; 7];
/// r1.read_exact(&mut a)?; // still in the first pipe
/// r2.read_exact(&mut b)?; // and now in the second
/// assert_eq!((&a, &b), (b"copy me", b"copy me"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_tee")]
#[derive(Debug)]
pub struct Tee {
    fd_in: SharedFd,
    fd_out: SharedFd,
    len: u32,
    flags: u32,
}

impl Tee {
    /// Duplicate up to `len` bytes from pipe `fd_in` into pipe `fd_out`.
    pub fn new(fd_in: impl Into<SharedFd>, fd_out: impl Into<SharedFd>, len: u32) -> Tee {
        Tee {
            fd_in: fd_in.into(),
            fd_out: fd_out.into(),
            len,
            flags: 0,
        }
    }

    /// `SPLICE_F_*` flags (`SPLICE_F_NONBLOCK`, …); `SPLICE_F_FD_IN_FIXED` is
    /// dropped (the input is a plain descriptor).
    pub fn flags(mut self, flags: u32) -> Tee {
        self.flags = flags & !crate::sys::SPLICE_F_FD_IN_FIXED;
        self
    }
}

// SAFETY: names only two descriptors the op's SharedFds keep open (never a fixed
// file: SPLICE_F_FD_IN_FIXED is masked out).
unsafe impl Op for Tee {
    type Output = io::Result<usize>;
    fn sqe(&mut self) -> Sqe {
        raw::Tee::new(fd_of(&self.fd_in), fd_of(&self.fd_out), self.len)
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<usize> {
        cqe.result().map(|n| n as usize)
    }
}

/// Posts a completion into another ring's completion queue:
/// `IORING_OP_MSG_RING` (Linux 5.18). The target ring sees a completion with the
/// `user_data` and `result` chosen here; the sending ring's own completion (this
/// op's output) says whether it was posted (`EOVERFLOW` when the target's queue
/// is full, `EBADFD` when the target is not a ring).
///
/// The target is held through a duplicate of its descriptor, so it stays valid
/// whatever happens to the ring meanwhile. `user_data` must be at most
/// [`RAW_USER_DATA_MAX`](super::RAW_USER_DATA_MAX): an [`OwnedRing`](super::OwnedRing)
/// reserves the two top bits for its own operations, so a larger value could be
/// taken for one of them — the constructors refuse it. On an `OwnedRing` the
/// message arrives through [`raw_completions`](super::OwnedRing::raw_completions).
///
/// The target cannot tell the message from the completion of one of its own raw
/// entries with the same `user_data`: code that pushes raw entries on a ring
/// (`unsafe`: [`push_raw`](super::OwnedRing::push_raw), or a plain
/// [`Ring`](crate::Ring)) must give them `user_data` values that no message sent to
/// that ring uses, or it could take a message for its entry's completion and
/// release the entry's memory too early.
///
/// ```
/// use uring::owned::{OwnedRing, ops::MsgRing};
/// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
/// let mut a = OwnedRing::new(2)?;
/// let mut b = OwnedRing::new(2)?;
/// let id = a.submit_op(MsgRing::new(&b, 42, 7)?)?;
/// a.wait_for(id)??;
/// let cqe = b.raw_completions().next().expect("the message");
/// assert_eq!((cqe.user_data(), cqe.raw_result()), (42, 7));
/// // A user_data with the reserved bits set is refused.
/// assert!(MsgRing::new(&b, 1 << 63, 0).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_msg_ring")]
#[derive(Debug)]
pub struct MsgRing {
    target: SharedFd,
    user_data: u64,
    result: i32,
}

impl MsgRing {
    /// Post `(user_data, result)` into the completion queue of `target`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`](super::RAW_USER_DATA_MAX);
    /// `EBADF` for a ring without a descriptor (`REGISTERED_FD_ONLY`); the
    /// errno of duplicating its descriptor.
    pub fn new(target: &super::OwnedRing, user_data: u64, result: i32) -> io::Result<MsgRing> {
        MsgRing::to_ring(target.ring(), user_data, result)
    }

    /// As [`new`](Self::new), for a plain [`Ring`](crate::Ring).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::MsgRing};
    /// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
    /// let mut target = uring::Ring::new(2)?;
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(MsgRing::to_ring(&target, 5, -1)?)?;
    /// ring.wait_for(id)??;
    /// let cqe = target.completion().next().expect("the message");
    /// assert_eq!((cqe.user_data(), cqe.raw_result()), (5, -1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn to_ring(target: &crate::Ring, user_data: u64, result: i32) -> io::Result<MsgRing> {
        let fd = target.fd().ok_or_else(|| {
            crate::error::with_context(libc::EBADF, "the target ring has no descriptor")
        })?;
        MsgRing::to_fd(fd.try_clone_to_owned()?, user_data, result)
    }

    /// As [`new`](Self::new), for a ring known by its descriptor (any other file
    /// makes the kernel answer `EBADFD`).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use uring::owned::{OwnedRing, ops::MsgRing};
    /// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// let not_a_ring = std::fs::File::open("/dev/null")?;
    /// let id = ring.submit_op(MsgRing::to_fd(not_a_ring, 1, 0)?)?;
    /// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::EBADFD));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`](super::RAW_USER_DATA_MAX).
    pub fn to_fd(target: impl Into<SharedFd>, user_data: u64, result: i32) -> io::Result<MsgRing> {
        if user_data > super::RAW_USER_DATA_MAX {
            return Err(crate::error::with_context(
                libc::EINVAL,
                "a message's user_data must leave bits 63 and 62 clear (the target may be an \
                 OwnedRing, which reserves them)",
            ));
        }
        Ok(MsgRing {
            target: target.into(),
            user_data,
            result,
        })
    }
}

// SAFETY: names no memory (user_data and result are values copied into the
// target's completion) and one descriptor, the target's, which the op's SharedFd
// keeps open. No flags are set: no fixed file, no descriptor passing. The value
// posted keeps bits 63 and 62 clear (checked at construction), so an OwnedRing
// target files it as a raw completion, never as one of its operations'.
unsafe impl Op for MsgRing {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::MsgRing::new(fd_of(&self.target), self.result, self.user_data).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// The flags the futex operations use: a 32-bit, process-private word.
fn futex_flags() -> crate::types::FutexFlags {
    crate::types::FutexFlags::SIZE_U32 | crate::types::FutexFlags::PRIVATE
}

/// Sleeps while a futex word holds an expected value, until woken:
/// `IORING_OP_FUTEX_WAIT` (Linux 6.7). The op holds the word (an
/// `Arc<AtomicU32>`, process-private) until its completion. Output: `Ok(())` when
/// woken, `EAGAIN` when the word did not hold `expected`, `ECANCELED` when
/// cancelled.
///
/// It is woken by [`FutexWake`], or by a thread's `futex(FUTEX_WAKE_PRIVATE)` on
/// the same word.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
/// use uring::owned::{OwnedRing, ops::{FutexWait, FutexWake}};
/// # if !uring::probe::probe()?.is_supported(uring::op::FutexWait::CODE) { return Ok(()) } // older kernel
/// let word = Arc::new(AtomicU32::new(0));
/// let mut ring = OwnedRing::new(4)?;
/// let wait = ring.submit_op(FutexWait::new(&word, 0))?;
/// ring.submit()?;
/// word.store(1, Ordering::Release);
/// let wake = ring.submit_op(FutexWake::new(&word, 1))?;
/// assert_eq!(ring.wait_for(wake)??, 1); // one waiter woken
/// ring.wait_for(wait)??;
/// // Waiting for a value the word does not hold returns at once.
/// let id = ring.submit_op(FutexWait::new(&word, 0))?;
/// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::EAGAIN));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_futex_wait")]
#[derive(Debug)]
pub struct FutexWait {
    word: Arc<AtomicU32>,
    expected: u32,
    mask: u32,
}

impl FutexWait {
    /// Wait on `word` while it holds `expected`.
    pub fn new(word: &Arc<AtomicU32>, expected: u32) -> FutexWait {
        FutexWait {
            word: Arc::clone(word),
            expected,
            mask: u32::MAX,
        }
    }

    /// Be woken only by wakes whose bitset shares a bit with `mask` (default: all
    /// bits).
    pub fn mask(mut self, mask: u32) -> FutexWait {
        self.mask = mask;
        self
    }
}

// SAFETY: names the futex word, inside the op's Arc allocation (its address never
// changes and the Arc keeps it alive until the op is dropped, after its final
// completion). The kernel only reads the word, with a single aligned 32-bit load
// under its futex lock — the access futex(2) makes; the word is an AtomicU32, so
// other threads' concurrent atomic stores to it are not data races. No descriptor.
unsafe impl Op for FutexWait {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::FutexWait::new(
            self.word.as_ptr().cast_const(),
            u64::from(self.expected),
            u64::from(self.mask),
            futex_flags(),
        )
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Wakes up to `count` waiters of a futex word: `IORING_OP_FUTEX_WAKE` (Linux
/// 6.7). The op holds the word (an `Arc<AtomicU32>`, process-private) until its
/// completion. Output: how many were woken. It wakes [`FutexWait`]s and threads
/// blocked in `futex(FUTEX_WAIT_PRIVATE)` on the same word.
///
/// ```
/// use std::sync::{Arc, atomic::AtomicU32};
/// use uring::owned::{OwnedRing, ops::FutexWake};
/// # if !uring::probe::probe()?.is_supported(uring::op::FutexWake::CODE) { return Ok(()) } // older kernel
/// let word = Arc::new(AtomicU32::new(0));
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(FutexWake::new(&word, u32::MAX))?;
/// assert_eq!(ring.wait_for(id)??, 0); // no one was waiting
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_futex_wake")]
#[derive(Debug)]
pub struct FutexWake {
    word: Arc<AtomicU32>,
    count: u32,
    mask: u32,
}

impl FutexWake {
    /// Wake up to `count` waiters of `word`.
    pub fn new(word: &Arc<AtomicU32>, count: u32) -> FutexWake {
        FutexWake {
            word: Arc::clone(word),
            count,
            mask: u32::MAX,
        }
    }

    /// Wake only waiters whose bitset shares a bit with `mask` (default: all).
    pub fn mask(mut self, mask: u32) -> FutexWake {
        self.mask = mask;
        self
    }
}

// SAFETY: names the futex word's address (inside the op's Arc allocation, alive
// until the op is dropped); the kernel uses it only as the futex's key and does
// not write it. No descriptor.
unsafe impl Op for FutexWake {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::FutexWake::new(
            self.word.as_ptr().cast_const(),
            u64::from(self.count),
            u64::from(self.mask),
            futex_flags(),
        )
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
}

/// Waits for a child process to change state, like `waitid(2)`:
/// `IORING_OP_WAITID` (Linux 6.7). The op owns the `siginfo_t` the kernel fills;
/// the output is what it says, as a [`ChildStatus`].
///
/// `options` are `waitid`'s: at least one of `WEXITED`, `WSTOPPED`,
/// `WCONTINUED`, and maybe `WNOHANG` (then, with no child ready, the status has
/// `pid` 0) or `WNOWAIT`.
///
/// A child reaped here is gone: a `std::process::Child` for it can no longer
/// wait for it, and its pid may be reused by an unrelated process, so do not
/// `kill` through it afterwards.
///
/// ```
/// use uring::owned::{OwnedRing, ops::WaitId};
/// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
/// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(WaitId::pid(child.id(), libc::WEXITED))?;
/// let status = ring.wait_for(id)??;
/// assert_eq!(status.pid, child.id() as i32);
/// assert_eq!((status.code, status.status), (libc::CLD_EXITED, 3));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_waitid")]
#[derive(Debug)]
pub struct WaitId {
    idtype: libc::idtype_t,
    id: libc::id_t,
    /// For `P_PIDFD`: the descriptor `id` names, kept open.
    pidfd: Option<SharedFd>,
    options: i32,
    info: SigInfoHeap,
}

/// The kernel-written `siginfo_t` of a [`WaitId`].
struct SigInfoHeap(Heap<libc::siginfo_t>);

// SAFETY: a siginfo_t is plain data; its pointer-typed fields (in the union) are
// addresses the kernel reports, never dereferenced here. The Heap owns it as a Box.
unsafe impl core::marker::Send for SigInfoHeap {}

impl std::fmt::Debug for SigInfoHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("siginfo")
    }
}

/// What [`WaitId`] learned about a child: the fields of its `siginfo_t`.
///
/// ```
/// use uring::owned::{OwnedRing, ops::WaitId};
/// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
/// let mut child = std::process::Command::new("sleep").arg("10").spawn()?;
/// child.kill()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(WaitId::pid(child.id(), libc::WEXITED))?;
/// let status = ring.wait_for(id)??;
/// assert_eq!((status.code, status.status), (libc::CLD_KILLED, libc::SIGKILL));
/// assert_eq!(status.signo, libc::SIGCHLD);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ChildStatus {
    /// The child's process id (0 with `WNOHANG` when no child was ready).
    pub pid: i32,
    /// Its real user id.
    pub uid: u32,
    /// `SIGCHLD`, or 0 when no child was ready.
    pub signo: i32,
    /// What happened: `CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, `CLD_STOPPED`,
    /// `CLD_TRAPPED` or `CLD_CONTINUED`.
    pub code: i32,
    /// The exit status (`CLD_EXITED`) or the signal (otherwise).
    pub status: i32,
}

impl WaitId {
    fn with(idtype: libc::idtype_t, id: libc::id_t, options: i32) -> WaitId {
        // SAFETY: siginfo_t is plain integers (and a union of them); all-zero is
        // a valid value, and what waitid leaves when no child is ready.
        let zero: libc::siginfo_t = unsafe { core::mem::zeroed() };
        WaitId {
            idtype,
            id,
            pidfd: None,
            options,
            info: SigInfoHeap(Heap::new(zero)),
        }
    }

    /// Wait for the child with process id `pid` (`P_PID`).
    pub fn pid(pid: u32, options: i32) -> WaitId {
        WaitId::with(libc::P_PID, pid, options)
    }

    /// Wait for any child in process group `pgid` (`P_PGID`; 0: the caller's group).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// // A group with no children of ours.
    /// let id = ring.submit_op(WaitId::pgid(999_999, libc::WEXITED))?;
    /// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::ECHILD));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pgid(pgid: u32, options: i32) -> WaitId {
        WaitId::with(libc::P_PGID, pgid, options)
    }

    /// Wait for any child (`P_ALL`).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// // Only look: WNOHANG does not wait for a child, WNOWAIT reaps none.
    /// let id = ring.submit_op(WaitId::any(libc::WEXITED | libc::WNOHANG | libc::WNOWAIT))?;
    /// match ring.wait_for(id)? {
    ///     Ok(status) => assert!(status.pid >= 0), // 0: no child has exited
    ///     Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)), // no children
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn any(options: i32) -> WaitId {
        WaitId::with(libc::P_ALL, 0, options)
    }

    /// Wait for the child a pidfd refers to (`P_PIDFD`); the op keeps `pidfd` open.
    ///
    /// ```
    /// use std::os::fd::{FromRawFd, OwnedFd};
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let child = std::process::Command::new("sh").args(["-c", "exit 4"]).spawn()?;
    /// // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor or -1.
    /// let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
    /// # if fd < 0 { return Ok(()) } // no pidfds
    /// // SAFETY: a new descriptor nothing else owns.
    /// let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(WaitId::pidfd(pidfd, libc::WEXITED))?;
    /// assert_eq!(ring.wait_for(id)??.status, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pidfd(pidfd: impl Into<SharedFd>, options: i32) -> WaitId {
        let pidfd = pidfd.into();
        let mut op = WaitId::with(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, options);
        op.pidfd = Some(pidfd);
        op
    }
}

// SAFETY: names the siginfo (its own heap allocation, read only after the final
// completion) and, for P_PIDFD, the descriptor `id` holds, which the op's SharedFd
// keeps open. No other memory or descriptor.
unsafe impl Op for WaitId {
    type Output = io::Result<ChildStatus>;
    fn sqe(&mut self) -> Sqe {
        raw::WaitId::new(self.idtype, self.id, self.info.0.ptr(), self.options).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<ChildStatus> {
        cqe.result()?;
        // SAFETY: the final completion arrived: the kernel is done writing.
        let info = unsafe { self.info.0.get() };
        if info.si_signo == 0 {
            // No child was ready (WNOHANG). Some kernels (seen on 6.16 to 6.19)
            // still fill in a stale pid then; only the signal number is reliable.
            return Ok(ChildStatus {
                pid: 0,
                uid: 0,
                signo: 0,
                code: 0,
                status: 0,
            });
        }
        // SAFETY: si_signo is not 0, so waitid reported a child and filled the
        // SIGCHLD layout of the union (pid, uid, status), which these accessors
        // read. Whatever the layout, every byte is an initialised integer (zeroed
        // at allocation, then written by the kernel).
        let (pid, uid, status) = unsafe { (info.si_pid(), info.si_uid(), info.si_status()) };
        Ok(ChildStatus {
            pid,
            uid,
            signo: info.si_signo,
            code: info.si_code,
            status,
        })
    }
}

/// Keeps reading into buffers the kernel picks from a [`BufPool`], one item per
/// read: `IORING_OP_READ_MULTISHOT` (Linux 6.7). For pipes, sockets and other
/// files that can be polled (others: `EBADFD`). Each item is a [`PoolBuf`]; the
/// stream ends at end of file (no item), or on an error (its last item: `ENOBUFS`
/// when the pool ran dry, `ECANCELED` after a cancel).
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::ReadMulti};
/// # if !uring::probe::probe()?.is_supported(uring::op::ReadMultishot::CODE) { return Ok(()) } // older kernel
/// let mut ring = OwnedRing::new(4)?;
/// let pool = BufPool::new(&mut ring, 1, 4, 16)?;
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(ReadMulti::new(r, &pool))?;
/// w.write_all(b"one")?;
/// assert_eq!(&ring.next_item(&id)?.unwrap()?[..], b"one");
/// w.write_all(b"two")?;
/// assert_eq!(&ring.next_item(&id)?.unwrap()?[..], b"two");
/// drop(w); // end of file: the stream ends
/// assert!(ring.next_item(&id)?.is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_read_multishot")]
#[derive(Debug)]
pub struct ReadMulti {
    fd: SharedFd,
    pool: BufPool,
}

impl ReadMulti {
    /// Keep reading from `fd` (at its position) into buffers of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool) -> ReadMulti {
        ReadMulti {
            fd: fd.into(),
            pool: pool.clone(),
        }
    }
}

// SAFETY: as for RecvMulti: the kernel writes only into buffers of the pool's group,
// registered with the ring `bound_ring` names (the ring refuses the op elsewhere),
// and the op's Arc keeps the pool's memory alive until its final completion. Each
// completion names at most one buffer, which becomes that item's guard. The
// descriptor is kept open by the SharedFd.
unsafe impl Multishot for ReadMulti {
    type Item = PoolBuf;
    fn sqe(&mut self) -> Sqe {
        raw::ReadMultishot::new(fd_of(&self.fd), 0, self.pool.group())
            .offset(u64::MAX)
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<PoolBuf>> {
        match pool_result(&self.pool.shared, cqe) {
            // End of file: the final completion, with nothing in it.
            Ok(buf) if buf.is_empty() && !cqe.is_more() => None,
            r => Some(r),
        }
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}

/// A kernel-read-or-written `struct msghdr`, in its own heap allocation. Its
/// pointers name memory of the same operation.
struct MsgHdr(Heap<libc::msghdr>);

// SAFETY: the msghdr's pointers are addresses of allocations that move with the
// operation (which is Send); Rust code never dereferences them. The Heap owns the
// msghdr as a Box does.
unsafe impl core::marker::Send for MsgHdr {}

impl MsgHdr {
    fn new() -> MsgHdr {
        // SAFETY: msghdr is integers and raw pointers; all-zero (null pointers,
        // zero lengths) is a valid value.
        MsgHdr(Heap::new(unsafe { core::mem::zeroed() }))
    }
}

impl std::fmt::Debug for MsgHdr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("msghdr")
    }
}

/// Sends several buffers' initialised bytes as one message, like `sendmsg(2)`:
/// `IORING_OP_SENDMSG` (Linux 5.3). The op owns the buffers, the iovec array, the
/// `msghdr` and the destination address (each at a stable heap address), and gives
/// the buffers back with the result. No control data is sent (it could name
/// descriptors the op does not own).
///
/// ```
/// use std::net::{Ipv4Addr, UdpSocket};
/// use uring::owned::{OwnedRing, ops::SendMsg};
/// let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let mut ring = OwnedRing::new(2)?;
/// let op = SendMsg::new(tx, vec![b"hel".to_vec(), b"lo".to_vec()]).to(rx.local_addr()?);
/// let id = ring.submit_op(op)?;
/// let (n, bufs) = ring.wait_for(id)?;
/// assert_eq!((n?, bufs.len()), (5, 2));
/// let mut got = [0u8; 16];
/// assert_eq!(rx.recv(&mut got)?, 5); // one datagram of both buffers
/// assert_eq!(&got[..5], b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_sendmsg")]
#[derive(Debug)]
pub struct SendMsg<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    addr: Option<AddrHeap>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBuf> SendMsg<B> {
    /// Send `bufs`, in order, as one message on socket `fd`.
    pub fn new(fd: impl Into<SharedFd>, bufs: Vec<B>) -> SendMsg<B> {
        SendMsg {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs(Vec::new()),
            addr: None,
            msg: MsgHdr::new(),
            flags: 0,
        }
    }

    /// Send to `addr` (for sockets that are not connected, such as UDP).
    pub fn to(mut self, addr: SocketAddr) -> SendMsg<B> {
        self.addr = Some(AddrHeap(Heap::new(AddrBuf::from_addr(&addr))));
        self
    }

    /// `MSG_*` flags (`MSG_NOSIGNAL`, `MSG_MORE`, …). `MSG_ZEROCOPY` is dropped, as
    /// for [`Send::flags`].
    pub fn flags(mut self, flags: i32) -> SendMsg<B> {
        self.flags = flags & !libc::MSG_ZEROCOPY;
        self
    }
}

// SAFETY: the entry names the msghdr (the op's own heap allocation, written here
// before submission), which names the iovec array (the op's heap Vec, not touched
// again until completion) and the destination address (the op's heap allocation);
// the iovecs name the buffers' stable initialised bytes, only read. No control data.
// The descriptor is kept open by the SharedFd.
unsafe impl<B: IoBuf> Op for SendMsg<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter()
                .map(|b| libc::iovec {
                    iov_base: b.stable_ptr().cast_mut().cast(),
                    iov_len: b.bytes_init(),
                })
                .collect(),
        );
        let (name, namelen) = match &self.addr {
            // SAFETY: a live allocation of ours; only the length is read.
            Some(a) => (a.0.ptr().cast::<libc::c_void>(), unsafe {
                (*a.0.ptr()).len
            }),
            None => (core::ptr::null_mut(), 0),
        };
        let p = self.msg.0.ptr();
        // SAFETY: the msghdr allocation is ours and live; `sqe` runs before the
        // entry is submitted, so the kernel does not hold it yet and nothing else
        // references it. Fields are written through the raw pointer.
        unsafe {
            (*p).msg_name = name;
            (*p).msg_namelen = namelen;
            (*p).msg_iov = self.iovecs.0.as_mut_ptr();
            (*p).msg_iovlen = self.iovecs.0.len();
            (*p).msg_control = core::ptr::null_mut();
            (*p).msg_controllen = 0;
            (*p).msg_flags = 0;
        }
        raw::SendMsg::new(fd_of(&self.fd), p.cast_const())
            .flags(self.flags as u32)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        (cqe.result().map(|n| n as usize), self.bufs)
    }
}

/// What a [`RecvMsg`] received besides the bytes: how many, from whom, the
/// message flags, and any descriptors passed along.
///
/// ```
/// use std::net::{Ipv4Addr, UdpSocket};
/// use uring::owned::{OwnedRing, ops::RecvMsg};
/// let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// tx.send_to(b"too long for the buffer", rx.local_addr()?)?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(RecvMsg::new(rx, vec![Vec::with_capacity(4)]))?;
/// let (got, bufs) = ring.wait_for(id)?;
/// let got = got?;
/// assert_eq!((got.len, &bufs[0][..]), (4, &b"too "[..]));
/// assert!(got.flags & libc::MSG_TRUNC != 0); // the rest of the datagram was lost
/// assert_eq!(got.addr, Some(tx.local_addr()?));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Received {
    /// The bytes received into the buffers.
    pub len: usize,
    /// The sender, for IP sockets that report one (`None` otherwise).
    pub addr: Option<SocketAddr>,
    /// The message flags the kernel returned (`MSG_TRUNC`, `MSG_CTRUNC`, …).
    pub flags: i32,
    /// The control data received (empty without [`RecvMsg::control`]). The
    /// descriptor numbers in it belong to [`fds`](Self::fds): do not take
    /// ownership of them from these bytes.
    pub control: Vec<u8>,
    /// Descriptors received in the control data (`SCM_RIGHTS`, `SCM_PIDFD`),
    /// close-on-exec, owned: dropping them closes them.
    pub fds: Vec<OwnedFd>,
}

/// Receives one message into several buffers in turn, like `recvmsg(2)`:
/// `IORING_OP_RECVMSG` (Linux 5.3). The op owns the buffers, the iovec array, the
/// `msghdr`, the sender's address storage and the control buffer, and gives the
/// buffers back with a [`Received`]: the byte count, sender, flags, and — with
/// [`control`](Self::control) — the control data, where any descriptors the kernel
/// installed are taken as `OwnedFd`s (`MSG_CMSG_CLOEXEC` is always set).
///
/// ```
/// use std::os::unix::net::UnixDatagram;
/// use uring::owned::{OwnedRing, ops::RecvMsg};
/// let (a, b) = UnixDatagram::pair()?;
/// a.send(b"abcdef")?;
/// let mut ring = OwnedRing::new(2)?;
/// let bufs = vec![Vec::with_capacity(2), Vec::with_capacity(8)];
/// let id = ring.submit_op(RecvMsg::new(b, bufs))?;
/// let (got, bufs) = ring.wait_for(id)?;
/// assert_eq!(got?.len, 6);
/// assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"ab"[..], &b"cdef"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_recvmsg")]
#[derive(Debug)]
pub struct RecvMsg<B> {
    fd: SharedFd,
    bufs: Vec<B>,
    iovecs: IoVecs,
    addr: AddrHeap,
    control: Vec<u8>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Receive a message from socket `fd` into `bufs`, in order.
    pub fn new(fd: impl Into<SharedFd>, bufs: Vec<B>) -> RecvMsg<B> {
        RecvMsg {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs(Vec::new()),
            addr: AddrHeap(Heap::new(AddrBuf::empty())),
            control: Vec::new(),
            msg: MsgHdr::new(),
            flags: 0,
        }
    }

    /// `MSG_*` flags (`MSG_PEEK`, `MSG_WAITALL`, …); `MSG_CMSG_CLOEXEC` is always
    /// added. `MSG_TRUNC` is dropped, as for [`Recv::flags`] (a truncated datagram
    /// is still reported, in [`Received::flags`]).
    pub fn flags(mut self, flags: i32) -> RecvMsg<B> {
        self.flags = recv_flags(flags);
        self
    }

    /// Room for `len` bytes of control data (ancillary messages: passed
    /// descriptors, credentials, timestamps, …). Without it, descriptors sent
    /// along are discarded by the kernel (`MSG_CTRUNC`).
    ///
    /// ```
    /// use std::io::Read as _;
    /// use std::os::fd::AsRawFd;
    /// use std::os::unix::net::UnixDatagram;
    /// use uring::owned::{OwnedRing, ops::RecvMsg};
    /// let (a, b) = UnixDatagram::pair()?;
    /// // Pass /dev/zero's descriptor along with one byte (SCM_RIGHTS).
    /// let zero = std::fs::File::open("/dev/zero")?;
    /// let mut cbuf = [0u64; 4];
    /// let mut byte = *b"x";
    /// let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    /// // SAFETY: the msghdr names live local buffers; the CMSG macros stay inside cbuf.
    /// unsafe {
    ///     let mut msg: libc::msghdr = std::mem::zeroed();
    ///     msg.msg_iov = &mut iov;
    ///     msg.msg_iovlen = 1;
    ///     msg.msg_control = cbuf.as_mut_ptr().cast();
    ///     msg.msg_controllen = libc::CMSG_SPACE(4) as usize;
    ///     let c = libc::CMSG_FIRSTHDR(&msg);
    ///     (*c).cmsg_level = libc::SOL_SOCKET;
    ///     (*c).cmsg_type = libc::SCM_RIGHTS;
    ///     (*c).cmsg_len = libc::CMSG_LEN(4) as usize;
    ///     libc::CMSG_DATA(c).cast::<i32>().write_unaligned(zero.as_raw_fd());
    ///     assert_eq!(libc::sendmsg(a.as_raw_fd(), &msg, 0), 1);
    /// }
    /// let mut ring = OwnedRing::new(2)?;
    /// let op = RecvMsg::new(b, vec![Vec::with_capacity(4)]).control(64);
    /// let id = ring.submit_op(op)?;
    /// let (got, _bufs) = ring.wait_for(id)?;
    /// let got = got?;
    /// assert_eq!(got.fds.len(), 1);
    /// let mut passed = std::fs::File::from(got.fds.into_iter().next().unwrap());
    /// let mut four = [1u8; 4];
    /// passed.read_exact(&mut four)?;
    /// assert_eq!(four, [0; 4]); // it is /dev/zero
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn control(mut self, len: usize) -> RecvMsg<B> {
        self.control = vec![0u8; len];
        self
    }
}

/// The descriptors carried by the control messages in `control` (`SCM_RIGHTS`,
/// `SCM_PIDFD`), taken as owned.
fn control_fds(control: &[u8]) -> Vec<OwnedFd> {
    control_fd_numbers(control)
        .into_iter()
        // SAFETY: the kernel installed this descriptor for this message
        // (SCM_RIGHTS/SCM_PIDFD data are new descriptors in our table); nothing
        // else knows of it, so the OwnedFd is its only owner.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect()
}

/// The descriptor numbers (non-negative) carried by the control messages in
/// `control`: the walk, without taking ownership (what the fuzz targets run).
pub(crate) fn control_fd_numbers(control: &[u8]) -> Vec<i32> {
    const SCM_PIDFD: i32 = 0x04;
    let word = core::mem::size_of::<usize>();
    let align = |n: usize| n.div_ceil(word) * word;
    let hdr = align(core::mem::size_of::<libc::cmsghdr>());
    let mut fds = Vec::new();
    let mut at = 0usize;
    // `at` may be anywhere a length took it: the end of the header is checked too.
    while let Some(h) = at.checked_add(hdr).and_then(|end| control.get(at..end)) {
        let mut raw_len = [0u8; core::mem::size_of::<usize>()];
        raw_len.copy_from_slice(&h[..word]);
        let len = usize::from_ne_bytes(raw_len);
        let level = i32::from_ne_bytes(h[word..word + 4].try_into().expect("4 bytes"));
        let ty = i32::from_ne_bytes(h[word + 4..word + 8].try_into().expect("4 bytes"));
        if len < hdr {
            break;
        }
        // The kernel keeps `len` within the buffer; be safe against any value.
        let data_end = at.saturating_add(len).min(control.len());
        if level == libc::SOL_SOCKET && (ty == libc::SCM_RIGHTS || ty == SCM_PIDFD) {
            for chunk in control[at + hdr..data_end].chunks_exact(4) {
                let fd = i32::from_ne_bytes(chunk.try_into().expect("4 bytes"));
                if fd >= 0 {
                    fds.push(fd);
                }
            }
        }
        match len
            .checked_next_multiple_of(word)
            .and_then(|l| at.checked_add(l))
        {
            Some(next) if next > at => at = next,
            _ => break,
        }
    }
    fds
}

// SAFETY: the entry names the msghdr (the op's own heap allocation, written here
// before submission), which names the iovec array (the op's heap Vec), the address
// storage (the op's heap allocation) and the control buffer (the op's heap Vec,
// exclusively owned); the iovecs name the buffers' stable, exclusively owned
// memory. Rust code reads none of it until the final completion. Descriptors the
// kernel installs through the control data are taken as OwnedFds in `complete`.
// The socket is kept open by the SharedFd.
unsafe impl<B: IoBufMut> Op for RecvMsg<B> {
    type Output = (io::Result<Received>, Vec<B>);
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.stable_mut_ptr().cast(),
                    iov_len: b.bytes_total(),
                })
                .collect(),
        );
        let addr = self.addr.0.ptr();
        let control = if self.control.is_empty() {
            core::ptr::null_mut()
        } else {
            self.control.as_mut_ptr().cast::<libc::c_void>()
        };
        let p = self.msg.0.ptr();
        // SAFETY: the msghdr allocation is ours and live; `sqe` runs before the
        // entry is submitted, so the kernel does not hold it yet and nothing else
        // references it. Fields are written through the raw pointer.
        unsafe {
            (*p).msg_name = addr.cast();
            (*p).msg_namelen = core::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            (*p).msg_iov = self.iovecs.0.as_mut_ptr();
            (*p).msg_iovlen = self.iovecs.0.len();
            (*p).msg_control = control;
            (*p).msg_controllen = self.control.len();
            (*p).msg_flags = 0;
        }
        raw::RecvMsg::new(fd_of(&self.fd), p)
            .flags((self.flags | libc::MSG_CMSG_CLOEXEC) as u32)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> (io::Result<Received>, Vec<B>) {
        let RecvMsg {
            mut bufs,
            addr,
            mut control,
            msg,
            ..
        } = self;
        let n = match cqe.result() {
            Ok(n) => n as usize,
            Err(e) => return (Err(e), bufs),
        };
        // SAFETY: the final completion arrived: the kernel is done writing the
        // msghdr and the address.
        let (msg, addr) = unsafe { (msg.0.get(), addr.0.get()) };
        let mut left = n;
        for b in &mut bufs {
            if left == 0 {
                break;
            }
            let here = left.min(b.bytes_total());
            // SAFETY: recvmsg fills the iovecs in order, each completely before the
            // next; `here` bytes of this one were written, here <= bytes_total.
            unsafe { b.set_init(here) };
            left -= here;
        }
        let sender = AddrBuf {
            storage: addr.storage,
            len: msg.msg_namelen.min(addr.len),
        }
        .to_addr();
        control.truncate(msg.msg_controllen);
        let fds = control_fds(&control);
        let got = Received {
            len: n,
            addr: sender,
            flags: msg.msg_flags,
            control,
            fds,
        };
        (Ok(got), bufs)
    }
}

/// The bytes one bundle receive delivered, across consecutive buffers of a
/// [`BufPool`]: each [`PoolBuf`] holds its part (all full but the last), in order.
/// Dropping it gives every buffer back to the pool.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvBundle};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let pool = BufPool::new(&mut ring, 1, 8, 4)?; // 8 buffers of 4 bytes
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let r = uring::owned::SharedFd::from(r);
/// w.write_all(b"0123456789")?;
/// let mut all = Vec::new();
/// while all.len() < 10 {
///     // Each completion: as many 4-byte buffers as the kernel filled at once.
///     let id = ring.submit_op(RecvBundle::new(&r, &pool))?;
///     let got = ring.wait_for(id)??;
///     assert_eq!(got.bufs().len(), got.len().div_ceil(4));
///     assert!(got.iter().all(|part| part.len() <= 4));
///     assert_eq!(pool.available(), 8 - got.bufs().len());
///     all.extend(got.to_vec());
/// } // each `got` dropped here: its buffers go back
/// assert_eq!(all, b"0123456789");
/// assert_eq!(pool.available(), 8);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PoolBufs {
    bufs: Vec<PoolBuf>,
    len: usize,
}

impl PoolBufs {
    /// The bytes received, over all the buffers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received (end of file).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffers, in order; each derefs to its part of the bytes.
    pub fn bufs(&self) -> &[PoolBuf] {
        &self.bufs
    }

    /// The parts of the bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.bufs.iter().map(|b| &b[..])
    }

    /// The bytes, copied into one `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len);
        for part in self.iter() {
            v.extend_from_slice(part);
        }
        v
    }

    /// The buffers, to keep (or pass on, as [`IoBuf`]s) one by one.
    pub fn into_bufs(self) -> Vec<PoolBuf> {
        self.bufs
    }
}

/// Receives into as many buffers of a [`BufPool`] as the data available needs, in
/// one completion: `IORING_OP_RECV` with `IORING_RECVSEND_BUNDLE` (Linux 6.10,
/// [`Features::RECVSEND_BUNDLE`](crate::Features::RECVSEND_BUNDLE); older kernels
/// answer `EINVAL`). Output: a [`PoolBufs`] over the bytes (empty at end of file);
/// `ENOBUFS` when the pool had no free buffer.
///
/// The kernel takes consecutive entries of the pool's ring; the pool remembers
/// which buffer it put after which, so the guards name exactly the buffers the
/// kernel filled — `ceil(len / buf_size)` of them, from the one the completion
/// names, each full but the last. (Should a kernel take more entries than it
/// filled, those buffers are never handed out again: the pool shrinks, nothing is
/// shared. The split into parts assumes the kernel filled each buffer to the
/// pool's buffer size before the next, which is what it does with the buffer
/// lengths the pool gives it.)
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvBundle};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let pool = BufPool::new(&mut ring, 1, 4, 8)?;
/// let (r, w) = std::os::unix::net::UnixStream::pair()?;
/// drop(w);
/// let id = ring.submit_op(RecvBundle::new(r, &pool))?;
/// assert!(ring.wait_for(id)??.is_empty()); // end of file
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_recv")]
#[derive(Debug)]
pub struct RecvBundle {
    fd: SharedFd,
    pool: BufPool,
    flags: i32,
}

impl RecvBundle {
    /// Receive from socket `fd` into buffers of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool) -> RecvBundle {
        RecvBundle {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags (`MSG_PEEK`, `MSG_DONTWAIT`, …). `MSG_TRUNC` is dropped (the
    /// count would no longer say how many buffers the kernel filled), and so is
    /// `MSG_WAITALL` (the kernel would go on after a short receive in the next
    /// buffer, leaving a partly filled one in the middle).
    pub fn flags(mut self, flags: i32) -> RecvBundle {
        self.flags = recv_flags(flags) & !libc::MSG_WAITALL;
        self
    }
}

// SAFETY: names no memory of its own: the kernel writes into buffers of the pool's
// group, registered with the ring `bound_ring` names (the ring refuses the op
// elsewhere); the op's Arc keeps the pool's memory alive until the op is dropped,
// after its final completion. Guards are made only for buffers the kernel took
// out of the ring: the consecutive entries from the one the completion names,
// no more than the data filled (the kernel commits at least those), never one
// already held, and none for a completion without data. The descriptor is kept
// open by the SharedFd.
unsafe impl Op for RecvBundle {
    type Output = io::Result<PoolBufs>;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(fd_of(&self.fd), core::ptr::null_mut(), 0)
            .flags(self.flags)
            .bundle(true)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<PoolBufs> {
        let res = cqe.raw_result();
        let len = usize::try_from(res).unwrap_or(0);
        let bufs = pool::take_bundle(&self.pool.shared, cqe, len)?;
        if res < 0 {
            return Err(io::Error::from_raw_os_error(-res));
        }
        Ok(PoolBufs { bufs, len })
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}

/// Keeps receiving into as many buffers of a [`BufPool`] as each chunk of data
/// needs, one item per completion: multishot `IORING_OP_RECV` with
/// `IORING_RECVSEND_BUNDLE` (Linux 6.10). Each item is a [`PoolBufs`], handed out
/// as for [`RecvBundle`]; the stream ends at end of file (no item), or on an error
/// (its last item: `ENOBUFS` when the pool ran dry, `ECANCELED` after a cancel;
/// `EINVAL` first on kernels without bundles). Some kernels (seen on 6.12 and
/// 7.3) end the stream instead when a bundle took the pool's last buffers: its
/// last item then carries data, and no error follows.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvBundleMulti};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let pool = BufPool::new(&mut ring, 1, 8, 4)?;
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(RecvBundleMulti::new(r, &pool))?;
/// w.write_all(b"first chunk")?;
/// let mut got = Vec::new();
/// while got.len() < 11 {
///     got.extend(ring.next_item(&id)?.expect("an item")?.to_vec());
/// }
/// assert_eq!(got, b"first chunk");
/// drop(w); // end of file: the stream ends
/// assert!(ring.next_item(&id)?.is_none());
/// assert_eq!(pool.available(), 8);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_recv_multishot")]
#[derive(Debug)]
pub struct RecvBundleMulti {
    fd: SharedFd,
    pool: BufPool,
    flags: i32,
}

impl RecvBundleMulti {
    /// Keep receiving from socket `fd` into buffers of `pool`.
    pub fn new(fd: impl Into<SharedFd>, pool: &BufPool) -> RecvBundleMulti {
        RecvBundleMulti {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags; `MSG_TRUNC` and `MSG_WAITALL` are dropped, as for
    /// [`RecvBundle::flags`].
    pub fn flags(mut self, flags: i32) -> RecvBundleMulti {
        self.flags = recv_flags(flags) & !libc::MSG_WAITALL;
        self
    }
}

// SAFETY: as for RecvBundle, per completion: each completion, MORE or final, hands
// out guards only for the ring entries the kernel took for it (from the buffer it
// names, no more than its data filled), never one already held. The op's Arc
// keeps the pool alive and `bound_ring` ties it to the pool's ring; the SharedFd
// keeps the socket open.
unsafe impl Multishot for RecvBundleMulti {
    type Item = PoolBufs;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(fd_of(&self.fd), core::ptr::null_mut(), 0)
            .flags(self.flags)
            .multishot(true)
            .bundle(true)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<PoolBufs>> {
        let res = cqe.raw_result();
        let len = usize::try_from(res).unwrap_or(0);
        let bufs = match pool::take_bundle(&self.pool.shared, cqe, len) {
            Ok(bufs) => bufs,
            Err(e) => return Some(Err(e)),
        };
        if res < 0 {
            return Some(Err(io::Error::from_raw_os_error(-res)));
        }
        if len == 0 && !cqe.is_more() {
            // End of file: the final completion, with nothing in it.
            return None;
        }
        Some(Ok(PoolBufs { bufs, len }))
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.pool.shared.ring_id)
    }
}
