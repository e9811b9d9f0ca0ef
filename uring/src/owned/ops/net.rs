//! Sockets: create, bind, listen, accept (once or multishot), connect, send (plain,
//! zero-copy), receive, shutdown.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;

#[cfg(doc)]
use super::Read;
use super::{AddrBuf, AddrHeap, BufResult, FileRef, Heap, new_fd, read_into, recv_flags, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::buf::len32;
use crate::owned::imp::{Binding, Token};
use crate::owned::{IoBuf, IoBufMut, Multishot, Op};
use crate::sqe::Sqe;

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
    fd: FileRef,
    addr: AddrHeap,
}

impl Bind {
    /// Bind socket `fd` (plain or direct: a [`DirectFd`](crate::owned::DirectFd),
    /// say one [`SocketDirect`](super::SocketDirect) made) to `addr`.
    pub fn new(fd: impl Into<FileRef>, addr: SocketAddr) -> Bind {
        Bind {
            fd: fd.into(),
            addr: AddrHeap(Heap::new(AddrBuf::from_addr(&addr))),
        }
    }
}

// SAFETY: names the address (its own heap allocation, which the kernel only reads)
// and a descriptor the op's FileRef keeps open.
unsafe impl Op for Bind {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours) and nothing holds a reference into
        // it; only the length is read.
        let len = unsafe { (*p).len };
        raw::Bind::new(self.fd.target(), p.cast::<libc::sockaddr>(), len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
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
    fd: FileRef,
    backlog: i32,
}

impl Listen {
    /// Listen on socket `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd)) with a queue of `backlog` pending
    /// connections.
    pub fn new(fd: impl Into<FileRef>, backlog: i32) -> Listen {
        Listen {
            fd: fd.into(),
            backlog,
        }
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Op for Listen {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Listen::new(self.fd.target(), self.backlog).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Connects a socket, like `connect(2)`: `IORING_OP_CONNECT` (Linux 5.5).
#[derive(Debug)]
pub struct Connect {
    fd: FileRef,
    addr: AddrHeap,
}

impl Connect {
    /// Connect socket `fd` to `addr`.
    pub fn new(fd: impl Into<FileRef>, addr: SocketAddr) -> Connect {
        Connect {
            fd: fd.into(),
            addr: AddrHeap(Heap::new(AddrBuf::from_addr(&addr))),
        }
    }
}

// SAFETY: names the address (its own heap allocation, which the kernel only reads)
// and a descriptor the op's FileRef keeps open.
unsafe impl Op for Connect {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours) and nothing holds a reference into
        // it; only the length is read.
        let len = unsafe { (*p).len };
        raw::Connect::new(self.fd.target(), p.cast::<libc::sockaddr>(), len).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Accepts a connection, like `accept4(2)`: `IORING_OP_ACCEPT` (Linux 5.5).
/// `SOCK_CLOEXEC` is always added. Output: the connection's descriptor and, for IP
/// sockets, the peer's address.
#[derive(Debug)]
pub struct Accept {
    fd: FileRef,
    flags: i32,
    addr: AddrHeap,
}

impl Accept {
    /// Accept a connection on listening socket `fd`.
    pub fn new(fd: impl Into<FileRef>) -> Accept {
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
// allocation, read only after completion) and a descriptor the op's FileRef keeps
// open; without a file_index the result is a new descriptor, owned by the output.
unsafe impl Op for Accept {
    type Output = io::Result<(OwnedFd, Option<SocketAddr>)>;
    fn sqe(&mut self) -> Sqe {
        let p = self.addr.0.ptr();
        // SAFETY: p is a live allocation (ours); the field address is computed
        // without making a reference.
        let len = unsafe { &raw mut (*p).len };
        raw::Accept::new(self.fd.target(), p.cast::<libc::sockaddr>(), len)
            .flags(self.flags | libc::SOCK_CLOEXEC)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<(OwnedFd, Option<SocketAddr>)> {
        let fd = new_fd(cqe)?;
        // SAFETY: the final completion arrived: the kernel is done writing.
        let addr = unsafe { self.addr.0.get() }.to_addr();
        Ok((fd, addr))
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Keeps accepting connections, one item per connection: multishot
/// `IORING_OP_ACCEPT` (Linux 5.19). Each item is the new connection's descriptor
/// (close-on-exec).
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * on an error, which is the last item: `ECANCELED` after a cancel, `EMFILE` or
///   `ENFILE` when out of descriptors (submit a new one once some are closed),
///   `EINVAL` first on kernels without it; `raw_result()` is `-errno`, `rearm()`
///   false;
/// * with a connection, when the kernel stopped the stream while more could come (a
///   full completion queue does that): the connection is the last item,
///   `raw_result()` its descriptor, `rearm()` **true** — submit it again to go on.
#[derive(Debug)]
pub struct AcceptMultishot {
    fd: FileRef,
    flags: i32,
}

impl AcceptMultishot {
    /// Keep accepting on listening socket `fd`.
    pub fn new(fd: impl Into<FileRef>) -> AcceptMultishot {
        AcceptMultishot {
            fd: fd.into(),
            flags: 0,
        }
    }

    /// `SOCK_NONBLOCK` for the new sockets (`SOCK_CLOEXEC` is always set).
    pub fn flags(mut self, flags: i32) -> AcceptMultishot {
        self.flags = flags;
        self
    }
}

// SAFETY: names no memory (no address is asked for) and a descriptor the op's
// FileRef keeps open; every successful completion's result is a new descriptor,
// owned by its item at once.
unsafe impl Multishot for AcceptMultishot {
    type Item = OwnedFd;
    fn sqe(&mut self) -> Sqe {
        raw::Accept::new(
            self.fd.target(),
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
    /// Descriptor 0 is a connection too.
    fn rearm(&self, cqe: &Cqe) -> bool {
        cqe.raw_result() >= 0
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Sends a buffer's initialised bytes on a socket, like `send(2)`:
/// `IORING_OP_SEND` (Linux 5.6).
#[derive(Debug)]
pub struct Send<B> {
    fd: FileRef,
    buf: B,
    flags: i32,
}

impl<B: IoBuf> Send<B> {
    /// Send `buf` on socket `fd`.
    pub fn new(fd: impl Into<FileRef>, buf: B) -> Send<B> {
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
// the op's FileRef keeps open.
unsafe impl<B: IoBuf> Op for Send<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::Send::new(self.fd.target(), self.buf.stable_ptr(), len)
            .flags(self.flags)
            .build()
    }
    #[inline]
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (cqe.result().map(|n| n as usize), self.buf)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Sends a buffer without copying it, from the kernel's point of view:
/// `IORING_OP_SEND_ZC` (Linux 6.0). The kernel may read the buffer until its
/// **notification** (`IORING_CQE_F_NOTIF`), which comes after the send's own
/// result; the ring keeps the buffer until then, and the output carries the
/// send's result.
///
/// The notification — the operation's final completion — comes only once the
/// kernel has let go of the pages: over loopback (and any path that queues the
/// very pages at the receiver), for all but small sends (which the kernel may
/// copy), that is when the **peer has read the bytes**.
/// With a peer that does not read, the operation stays in flight however long
/// ago the send itself completed: [`wait_for`](crate::owned::OwnedRing::wait_for)
/// waits, and dropping or [`close`](crate::owned::OwnedRing::close)ing the ring
/// cannot cancel it (the send is done; only the notification is pending), so it
/// waits out the drop timeout and then leaks the operation, its buffer and its
/// socket. Use it where the peer reads, and plain [`Send`] otherwise.
#[derive(Debug)]
pub struct SendZc<B> {
    fd: FileRef,
    buf: B,
    flags: i32,
    /// The send's result, from the completion flagged `MORE`.
    sent: Option<i32>,
}

impl<B: IoBuf> SendZc<B> {
    /// Send `buf` on socket `fd`, zero-copy.
    pub fn new(fd: impl Into<FileRef>, buf: B) -> SendZc<B> {
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
// the op's FileRef keeps open. The final completion is the notification (or, when
// the first completion has no MORE flag, that one): only then is the buffer
// returned.
unsafe impl<B: IoBuf> Op for SendZc<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::SendZc::new(self.fd.target(), self.buf.stable_ptr(), len)
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
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Receives into a buffer from a socket, like `recv(2)`: `IORING_OP_RECV` (Linux
/// 5.6). Fills the buffer from its start, as [`Read`] does.
#[derive(Debug)]
pub struct Recv<B> {
    fd: FileRef,
    buf: B,
    flags: i32,
}

impl<B: IoBufMut> Recv<B> {
    /// Receive from socket `fd` into `buf`.
    pub fn new(fd: impl Into<FileRef>, buf: B) -> Recv<B> {
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
// op's FileRef keeps open.
unsafe impl<B: IoBufMut> Op for Recv<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_total());
        raw::Recv::new(self.fd.target(), self.buf.stable_mut_ptr(), len)
            .flags(self.flags)
            .build()
    }
    #[inline]
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        // SAFETY: the kernel stored n bytes from the buffer's start: MSG_TRUNC,
        // with which a count can exceed what was stored, is never passed
        // (`recv_flags`).
        unsafe { read_into(self.buf, cqe) }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Shuts down part of a full-duplex connection, like `shutdown(2)`:
/// `IORING_OP_SHUTDOWN` (Linux 5.11).
#[derive(Debug)]
pub struct Shutdown {
    fd: FileRef,
    how: i32,
}

impl Shutdown {
    /// Shut down `how` (`SHUT_RD`, `SHUT_WR`, `SHUT_RDWR`) of socket `fd`.
    pub fn new(fd: impl Into<FileRef>, how: i32) -> Shutdown {
        Shutdown { fd: fd.into(), how }
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Op for Shutdown {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Shutdown::new(self.fd.target(), self.how).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}
