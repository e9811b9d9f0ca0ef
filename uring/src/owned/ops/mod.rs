//! Operations for the [`OwnedRing`](super::OwnedRing): each owns what its entry
//! names, and gives it back in its output.
//!
//! Files are taken as `impl Into<SharedFd>` (an [`OwnedFd`], a `File`, a socket, or
//! `&SharedFd` to share one you keep), or, by the operations that also work on
//! direct descriptors (read, write, send, receive, accept, connect, shutdown), as
//! `impl Into<`[`FileRef`]`>`, which also takes a `&`[`DirectFd`]. Buffers are taken by value ([`IoBuf`] to be
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
//! | [`SendZcFixed`] | zero-copy `send(2)` from a registered buffer ([`FixedBufs`](super::FixedBufs)) | [`BufResult<B>`] |
//! | [`SendMsgZc`] | zero-copy `sendmsg(2)` | [`BufResult<Vec<B>>`] |
//! | [`Shutdown`] | `shutdown(2)` | `io::Result<()>` |
//! | [`PollAdd`] | `poll(2)`, once | `io::Result<u32>` |
//! | [`Splice`] | `splice(2)` | `io::Result<usize>` |
//! | [`RenameAt`] | `renameat2(2)` | `io::Result<()>` |
//! | [`Ftruncate`] | `ftruncate(2)` | `io::Result<()>` |
//! | [`Timeout`] | a timer | `io::Result<()>`, `ETIME` when it fires |
//! | [`LinkTimeout`] | a time limit for the previous member of a chain | `io::Result<()>`, `ETIME` when it fired |
//! | [`RecvSelect`], [`ReadSelect`] | `recv(2)`, `pread(2)` into a buffer the kernel picks from a [`BufPool`] | `io::Result<`[`PoolBuf`]`>` |
//! | [`RecvBundle`] | `recv(2)` into as many [`BufPool`] buffers as needed | `io::Result<`[`PoolBufs`]`>` |
//! | [`SendBundle`] | `send(2)` of as many buffers queued in a [`SendQueue`](super::SendQueue) as the socket takes | `io::Result<`[`Sent<B>`](super::Sent)`>` |
//! | [`OpenAt2`] | `openat2(2)` | `io::Result<OwnedFd>` |
//! | [`LinkAt`], [`SymlinkAt`] | `linkat(2)`, `symlinkat(2)` | `io::Result<()>` |
//! | [`Bind`], [`Listen`] | `bind(2)`, `listen(2)` | `io::Result<()>` |
//! | [`SendMsg`] | `sendmsg(2)` (no control data) | [`BufResult<Vec<B>>`] |
//! | [`RecvMsg`] | `recvmsg(2)` | `(io::Result<`[`Received`]`>, Vec<B>)` |
//! | [`Tee`] | `tee(2)` | `io::Result<usize>` |
//! | [`MsgRing`] | a completion posted into another ring | `io::Result<()>` |
//! | [`FutexWait`], [`FutexWake`] | `futex(2)` wait and wake, on an `Arc<AtomicU32>` | `io::Result<()>`, `io::Result<u32>` |
//! | [`WaitId`] | `waitid(2)` | `io::Result<`[`ChildStatus`]`>` |
//! | [`SocketDirect`], [`OpenAtDirect`], [`AcceptDirect`] | `socket(2)`, `openat(2)`, `accept4(2)` into a [`DirectTable`](super::DirectTable) | `io::Result<`[`DirectFd`]`>` |
//! | [`PipeDirect`] | `pipe2(2)` into a [`DirectTable`](super::DirectTable) | `io::Result<(`[`DirectFd`]`, `[`DirectFd`]`)>` |
//! | [`InstallDirect`] | a plain descriptor of a direct one's file (`FIXED_FD_INSTALL`) | `io::Result<OwnedFd>` |
//! | [`CloseDirect`] | `close(2)` of a direct descriptor | `io::Result<()>` |
//! | [`SendDirect`] | a direct descriptor moved to another ring (`MSG_SEND_FD`) | `Result<(), (io::Error, `[`DirectFd`]`)>` |
//! | [`ReadFixed`], [`WriteFixed`] | `pread(2)`, `pwrite(2)` with a registered buffer ([`FixedBufs`](super::FixedBufs)) | [`BufResult<B>`] |
//! | [`Either`] | one of two operations, as one type (for a [`TypedRing`](super::TypedRing) of two kinds) | [`Either`] of their outputs |
//!
//! Multishot operations ([`Multishot`]: submit with
//! [`OwnedRing::submit_multishot`](super::OwnedRing::submit_multishot), read with
//! [`next_item`](super::OwnedRing::next_item)) yield one item per completion:
//!
//! | operation | like | item |
//! | --- | --- | --- |
//! | [`RecvMultishot`] | `recv(2)` again and again, into [`BufPool`] buffers | [`PoolBuf`] |
//! | [`ReadMultishot`] | `read(2)` again and again, into [`BufPool`] buffers | [`PoolBuf`] |
//! | [`RecvBundleMultishot`] | `recv(2)` again and again, each time into as many [`BufPool`] buffers as needed | [`PoolBufs`] |
//! | [`RecvMsgMultishot`] | `recvmsg(2)` again and again, into [`BufPool`] buffers (UDP servers) | [`RecvMsgItem`]: sender, control data, payload |
//! | [`AcceptMultishot`] | `accept4(2)` again and again | [`OwnedFd`] |
//! | [`AcceptMultishotDirect`] | `accept4(2)` again and again, into a [`DirectTable`](super::DirectTable) | [`DirectFd`] |
//! | [`PollMultishot`] | `poll(2)`, staying armed | `u32` events |
//! | [`TimeoutMultishot`] | a periodic timer | `()` |
//!
//! Each says, under "How the stream ends", which ends exist. Every end comes as a
//! [`StreamEnd`](super::StreamEnd): the final completion's result and flags, and
//! [`rearm`](super::StreamEnd::rearm) — whether the kernel stopped a stream that
//! could go on (a full completion queue ends every multishot stream that would
//! post to it, with no error and no end of file), so that submitting it again is
//! all it takes.
//!
//! The operations are grouped by family, as the raw builders of [`crate::op`]
//! are: reading and writing (`rw`, `fixed` for registered buffers), files (`fs`),
//! directory entries (`dir`), sockets (`net`, `net_msg`), readiness (`poll`),
//! zero-copy sends (`zc`), multishot messages (`msg_multishot`),
//! timers (`timeout`), processes and futexes (`process`), provided buffers
//! (`buffers`, `bundle`), and the rest (`misc`); all are re-exported here.

mod buffers;
mod bundle;
mod dir;
mod direct;
mod direct_move;
mod either;
mod fixed;
mod fs;
mod misc;
pub(crate) mod msg_multishot;
mod net;
pub(crate) mod net_msg;
mod poll;
mod process;
mod rw;
mod timeout;
mod zc;

pub use buffers::{ReadMultishot, ReadSelect, RecvMultishot, RecvSelect};
pub use bundle::{PoolBufs, RecvBundle, RecvBundleMultishot, SendBundle};
pub use dir::{LinkAt, MkDirAt, RenameAt, SymlinkAt, UnlinkAt};
pub use direct::{AcceptDirect, AcceptMultishotDirect, OpenAtDirect, PipeDirect, SocketDirect};
pub use direct_move::{CloseDirect, InstallDirect, SendDirect};
pub use either::Either;
pub use fixed::{ReadFixed, WriteFixed};
pub use fs::{Close, Fallocate, Fsync, Ftruncate, OpenAt, OpenAt2, Statx};
pub use misc::{MsgRing, Nop};
pub use msg_multishot::{RecvMsgItem, RecvMsgMultishot};
// For the fuzz target of the recvmsg-multishot parser.
#[allow(unused_imports)]
pub(crate) use msg_multishot::{RecvMsgLayout, parse_recvmsg_out};
pub use net::{
    Accept, AcceptMultishot, Bind, Connect, Listen, Recv, Send, SendZc, Shutdown, Socket,
};
pub use net_msg::{Received, RecvMsg, SendMsg};
pub use poll::{PollAdd, PollMultishot};
pub use process::{ChildStatus, FutexWait, FutexWake, WaitId};
pub use rw::{Read, Readv, Splice, Tee, Write, Writev};
pub use timeout::{LinkTimeout, Timeout, TimeoutMultishot};
pub use zc::{SendMsgZc, SendZcFixed};

use core::ptr::NonNull;
use std::ffi::CString;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[cfg(doc)]
use super::{BufPool, IoBuf, Multishot, PoolBuf};
use super::{DirectFd, HeldFd, IoBufMut, SharedFd};
use crate::cqueue::Cqe;
use crate::owned::imp::Binding;
use crate::types::{Fd, Target};

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

/// The file an operation works on: a plain descriptor ([`SharedFd`], kept open
/// by the operation), a direct descriptor ([`DirectFd`], named by its index in
/// the ring's table with `IOSQE_FIXED_FILE`, its slot held by the operation),
/// or a descriptor the ring holds ([`HeldFd`], kept open by the ring while
/// operations in flight name it, with no reference count per operation).
///
/// Operations that take a file take `impl Into<FileRef>`: an [`OwnedFd`], a
/// `File`, a socket, `&SharedFd`, `&DirectFd`/`DirectFd`, or a `HeldFd`. An
/// operation naming a direct descriptor runs only on that descriptor's ring
/// (others refuse it with `EXDEV`); one naming a held descriptor only on the
/// ring that holds it (others refuse it with `EBADF`).
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, SharedFd, ops};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 2, 0) else { return Ok(()) }; // < 5.19
/// let plain = SharedFd::from(std::fs::File::open("/dev/zero")?);
/// let direct = table.insert(std::fs::File::open("/dev/zero")?)?;
/// for file in [ops::FileRef::from(&plain), ops::FileRef::from(&direct)] {
///     let id = ring.submit_op(ops::Read::new(file, vec![1u8; 4], 0))?;
///     let (n, buf) = ring.wait_for(id)?;
///     assert_eq!((n?, &buf[..]), (4, &[0u8; 4][..]));
/// }
/// let mut other = OwnedRing::new(4)?;
/// let refused = other.submit_op(ops::Read::new(&direct, vec![0u8; 4], 0)).unwrap_err();
/// assert_eq!(uring::error::errno(&refused.error), Some(libc::EXDEV));
/// # Ok::<(), std::io::Error>(())
/// ```
//
// In the SAFETY comments of the operations that take one, "a descriptor the op's
// FileRef keeps open" covers both kinds: a plain descriptor stays open, and a
// direct one's slot stays held (never emptied or reused) until the op is
// dropped, after its final completion; a direct one also binds the op to its
// ring, through `bound_ring`.
//
// `Held` comes first: the variant with nothing to drop gets tag 0, so dropping
// one after a completion is one test.
#[derive(Debug)]
pub enum FileRef {
    /// A plain descriptor (or direct one) a ring holds.
    Held(HeldFd),
    /// A plain descriptor.
    Fd(SharedFd),
    /// A direct descriptor of one ring's table.
    Direct(DirectFd),
}

impl FileRef {
    /// What the raw builders get: the descriptor number, or the slot index as a
    /// fixed file.
    fn target(&self) -> Target {
        match self {
            FileRef::Fd(fd) => Target::Fd(fd.as_raw_fd()),
            FileRef::Direct(d) => Target::Fixed(d.index()),
            FileRef::Held(h) => match h.target() {
                Ok(fd) => Target::Fd(fd),
                Err(index) => Target::Fixed(index),
            },
        }
    }

    /// What it binds the operation to: the ring of a direct descriptor, or the
    /// token of a held one (which the ring looks up in its own table).
    #[inline(always)]
    fn binding(&self) -> Binding {
        match self {
            FileRef::Fd(_) => Binding::NONE,
            FileRef::Direct(d) => Binding::ring(d.ring_id()),
            FileRef::Held(h) => Binding::held(h.token()),
        }
    }

    /// The plain descriptor, if this is one.
    fn plain(&self) -> Option<&SharedFd> {
        match self {
            FileRef::Fd(fd) => Some(fd),
            FileRef::Direct(_) | FileRef::Held(_) => None,
        }
    }
}

impl From<HeldFd> for FileRef {
    /// The held descriptor: the ring counts the operation as its user.
    fn from(fd: HeldFd) -> FileRef {
        FileRef::Held(fd)
    }
}

impl From<&HeldFd> for FileRef {
    /// The held descriptor: the ring counts the operation as its user.
    fn from(fd: &HeldFd) -> FileRef {
        FileRef::Held(*fd)
    }
}

impl From<DirectFd> for FileRef {
    /// The direct descriptor itself: the operation holds it (and the slot
    /// closes when the operation is done, if that was the last handle).
    fn from(fd: DirectFd) -> FileRef {
        FileRef::Direct(fd)
    }
}

impl From<&DirectFd> for FileRef {
    /// A share of the direct descriptor, for the operation to hold.
    fn from(fd: &DirectFd) -> FileRef {
        FileRef::Direct(fd.share())
    }
}

macro_rules! file_ref_from {
    ($($t:ty),*) => {$(
        impl From<$t> for FileRef {
            #[doc = concat!("A plain descriptor, from a `", stringify!($t), "`.")]
            fn from(fd: $t) -> FileRef {
                FileRef::Fd(SharedFd::from(fd))
            }
        }
    )*};
}

file_ref_from!(
    SharedFd,
    &SharedFd,
    std::sync::Arc<OwnedFd>,
    OwnedFd,
    std::fs::File,
    std::net::TcpStream,
    std::net::TcpListener,
    std::net::UdpSocket,
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixListener,
    std::os::unix::net::UnixDatagram
);

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

/// Receive flags the safe layer accepts: `MSG_TRUNC` is removed. With it a TCP
/// socket discards the data without writing the buffer and still returns the
/// count, and a datagram socket returns the datagram's full length; either way
/// the result would no longer be the number of bytes written.
fn recv_flags(flags: i32) -> i32 {
    flags & !libc::MSG_TRUNC
}

/// The iovec array of a vectored operation. The pointers in it are addresses of
/// buffers owned by the same operation; Rust code never dereferences them. A
/// boxed slice, not a `Vec`: 16 bytes keep `Readv` and `Writev` (with a
/// [`FileRef`]) within the in-flight table's inline slots.
struct IoVecs(Box<[libc::iovec]>);

impl IoVecs {
    /// None yet (`sqe` writes them).
    fn empty() -> IoVecs {
        IoVecs(Box::new([]))
    }
}

// SAFETY: the iovecs are plain addresses and lengths of buffers that move with the
// operation (which is Send); sending them to another thread shares nothing.
unsafe impl core::marker::Send for IoVecs {}

impl std::fmt::Debug for IoVecs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{} iovecs]", self.0.len())
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

/// A heap [`AddrBuf`] the kernel reads or writes.
struct AddrHeap(Heap<AddrBuf>);

impl std::fmt::Debug for AddrHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("sockaddr")
    }
}

/// Records how much of `bufs` a read-like operation filled: the kernel stored `n`
/// bytes in order, each buffer completely before the next (one buffer for `read`
/// and `recv`, the iovecs in order for `readv` and `recvmsg`).
///
/// # Safety
///
/// The kernel must have written the first `n` bytes of the buffers' memory, in
/// that order (a count that may exceed what was stored, as `MSG_TRUNC` gives,
/// does not qualify); `n` may exceed their total capacity (the rest is ignored).
#[inline(always)]
unsafe fn set_filled<B: IoBufMut>(bufs: &mut [B], n: usize) {
    if let [buf] = bufs {
        // SAFETY: forwarded.
        return unsafe { set_filled_one(buf, n) };
    }
    let mut left = n;
    for b in bufs {
        if left == 0 {
            break;
        }
        let here = left.min(b.bytes_total());
        // SAFETY: the caller guarantees the kernel stored these bytes, in order;
        // here <= bytes_total.
        unsafe { b.set_init(here) };
        left -= here;
    }
}

/// The output of a read into `buf` from its start that `cqe` finished: the
/// result, and the buffer with its initialised length grown over the bytes
/// read.
///
/// # Safety
///
/// `cqe` is the final completion of an entry that stored its count of bytes
/// into `buf` from its start (a count that may exceed what was stored, as
/// `MSG_TRUNC` gives, does not qualify).
#[inline(always)]
unsafe fn read_into<B: IoBufMut>(mut buf: B, cqe: &Cqe) -> BufResult<B> {
    let res = cqe.result().map(|n| n as usize);
    if let Ok(n) = res {
        // SAFETY: the caller's contract: the kernel stored n bytes from the
        // buffer's start.
        unsafe { set_filled(core::slice::from_mut(&mut buf), n) };
    }
    (res, buf)
}

/// [`set_filled`] for one buffer: no loop, so a buffer on its way out of a
/// completion stays in registers.
///
/// # Safety
///
/// As for [`set_filled`].
#[inline(always)]
unsafe fn set_filled_one<B: IoBufMut>(buf: &mut B, n: usize) {
    // No test for 0 (end of file): `set_init(0)` claims nothing, and a
    // branch per read costs more than a call that changes nothing.
    let here = n.min(buf.bytes_total());
    // SAFETY: the caller guarantees the kernel stored these bytes, from the
    // start of the buffer; here <= bytes_total.
    unsafe { buf.set_init(here) };
}
