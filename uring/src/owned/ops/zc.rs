//! Zero-copy sends beyond [`SendZc`](super::SendZc): `sendmsg(2)` of several
//! buffers, and `send(2)` from a registered buffer.

use std::io;
use std::net::SocketAddr;

use super::net_msg::{MsgHdr, send_msghdr};
use super::{AddrBuf, AddrHeap, BufResult, FileRef, Heap, IoVecs};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::buf::len32;
use crate::owned::fixed::{FixedIoBuf, index_of, ring_of};
use crate::owned::imp::{Binding, Token};
#[cfg(doc)]
use crate::owned::{FixedBufs, OwnedRing};
use crate::owned::{IoBuf, Op};
use crate::sqe::Sqe;

/// The result of a zero-copy send: the send's own completion (flagged `MORE`)
/// carries it, and the final one (the notification, `NOTIF`) only says the
/// kernel let go of the memory. A first completion without `MORE` is both.
fn zc_result(sent: Option<i32>, cqe: &Cqe) -> io::Result<usize> {
    let res = if cqe.is_notif() {
        sent.unwrap_or(0)
    } else {
        cqe.raw_result()
    };
    if res < 0 {
        Err(io::Error::from_raw_os_error(-res))
    } else {
        Ok(res as usize)
    }
}

/// Sends several buffers as one message without copying them:
/// `IORING_OP_SENDMSG_ZC` (Linux 6.1), the zero-copy [`SendMsg`](super::SendMsg).
/// The kernel may read the buffers until the send's **notification**, which comes
/// after its result; the ring keeps the buffers (and the iovecs, `msghdr` and
/// address) until then, and gives them back with the send's result. No control
/// data is sent.
///
/// ```
/// use std::net::{Ipv4Addr, UdpSocket};
/// use uring::owned::{OwnedRing, ops::SendMsgZc};
/// # if !uring::probe::probe()?.is_supported(uring::op::SendMsgZc::CODE) { return Ok(()) } // < 6.1
/// let rx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let tx = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let mut ring = OwnedRing::new(2)?;
/// let op = SendMsgZc::new(tx, vec![b"zero".to_vec(), b"copy".to_vec()]).to(rx.local_addr()?);
/// let id = ring.submit_op(op)?;
/// let (n, bufs) = ring.wait_for(id)?; // after the notification
/// assert_eq!((n?, bufs.len()), (8, 2));
/// let mut got = [0u8; 16];
/// assert_eq!(rx.recv(&mut got)?, 8);
/// assert_eq!(&got[..8], b"zerocopy");
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_sendmsg_zc")]
#[derive(Debug)]
pub struct SendMsgZc<B> {
    fd: FileRef,
    bufs: Vec<B>,
    iovecs: IoVecs,
    addr: Option<AddrHeap>,
    msg: MsgHdr,
    flags: i32,
    sent: Option<i32>,
}

impl<B: IoBuf> SendMsgZc<B> {
    /// Send `bufs`, in order, as one message on socket `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd)), zero-copy.
    pub fn new(fd: impl Into<FileRef>, bufs: Vec<B>) -> SendMsgZc<B> {
        SendMsgZc {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs::empty(),
            addr: None,
            msg: MsgHdr::new(),
            flags: 0,
            sent: None,
        }
    }

    /// Send to `addr` (for sockets that are not connected, such as UDP).
    pub fn to(mut self, addr: SocketAddr) -> SendMsgZc<B> {
        self.addr = Some(AddrHeap(Heap::new(AddrBuf::from_addr(&addr))));
        self
    }

    /// `MSG_*` flags. `MSG_ZEROCOPY` is dropped (the operation is zero-copy
    /// anyway, and the kernel's own notification is what the ring waits for).
    pub fn flags(mut self, flags: i32) -> SendMsgZc<B> {
        self.flags = flags & !libc::MSG_ZEROCOPY;
        self
    }
}

// SAFETY: the entry names the msghdr (the op's own heap allocation, written here
// before submission), which names the iovec array (the op's heap Vec, untouched
// until the op is dropped) and the destination address (the op's heap
// allocation); the iovecs name the buffers' stable initialised bytes, only read.
// The op stays in the table until its final completion, which for a zero-copy
// send is the notification (or a first completion without MORE): only then may
// the kernel no longer read the buffers. No control data. The descriptor is kept
// open by the FileRef.
unsafe impl<B: IoBuf> Op for SendMsgZc<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        let p = send_msghdr(&self.msg, &mut self.iovecs, &self.bufs, self.addr.as_ref());
        raw::SendMsgZc::new(self.fd.target(), p)
            .flags(self.flags as u32)
            .build()
    }
    fn more(&mut self, cqe: &Cqe) {
        if !cqe.is_notif() {
            self.sent = Some(cqe.raw_result());
        }
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        (zc_result(self.sent, cqe), self.bufs)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Sends from a registered buffer (or a [`Slice`](crate::owned::Slice) of one)
/// without copying it: `IORING_OP_SEND_ZC` with `IORING_RECVSEND_FIXED_BUF`
/// (Linux 6.0). The kernel skips pinning the pages (they were pinned when the
/// [`FixedBufs`] was registered); the buffer comes back with the send's result,
/// after the notification. It runs only on the ring the buffers are registered
/// with: [`submit_op`](OwnedRing::submit_op) on any other gives it back with
/// `EXDEV`.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{FixedBufs, OwnedRing, ops::SendZcFixed};
/// # if !uring::probe::probe()?.is_supported(uring::op::SendZc::CODE) { return Ok(()) } // < 6.0
/// let mut ring = OwnedRing::new(4)?;
/// let bufs = FixedBufs::new(&mut ring, 1, 4096)?;
/// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
/// # let (a, mut b) = { let l = std::net::TcpListener::bind("127.0.0.1:0")?; let c = std::net::TcpStream::connect(l.local_addr()?)?; (c, l.accept()?.0) };
/// let mut buf = bufs.get().unwrap();
/// buf.extend_from_slice(b"pinned once")?;
/// let id = ring.submit_op(SendZcFixed::new(a, buf))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!(n?, 11);
/// let mut got = [0u8; 11];
/// b.read_exact(&mut got)?;
/// assert_eq!(&got, b"pinned once");
/// assert_eq!(bufs.available(), 0); // `buf` came back, and is held here
/// # drop(buf);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_send_zc_fixed")]
#[derive(Debug)]
pub struct SendZcFixed<B> {
    fd: FileRef,
    buf: B,
    addr: Option<AddrHeap>,
    flags: i32,
    sent: Option<i32>,
}

impl<B: FixedIoBuf> SendZcFixed<B> {
    /// Send registered buffer `buf` (its initialised bytes) on socket `fd` (plain
    /// or direct: a [`DirectFd`](crate::owned::DirectFd) of the buffer's ring).
    pub fn new(fd: impl Into<FileRef>, buf: B) -> SendZcFixed<B> {
        SendZcFixed {
            fd: fd.into(),
            buf,
            addr: None,
            flags: 0,
            sent: None,
        }
    }

    /// Send to `addr` (for sockets that are not connected, such as UDP).
    pub fn to(mut self, addr: SocketAddr) -> SendZcFixed<B> {
        self.addr = Some(AddrHeap(Heap::new(AddrBuf::from_addr(&addr))));
        self
    }

    /// `MSG_*` flags. `MSG_ZEROCOPY` is dropped, as for [`SendMsgZc::flags`].
    pub fn flags(mut self, flags: i32) -> SendZcFixed<B> {
        self.flags = flags & !libc::MSG_ZEROCOPY;
        self
    }

    /// The buffer back, from an operation that was not submitted.
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry names the registered buffer's initialised bytes (IoBuf: not
// written while the op owns it, address unchanged by moves), only read, by
// address and by index in the table of the ring `bound_ring` names — refused on
// any other. The op's FixedBuf holds the set's Arc, so the memory stays allocated
// and registered until the final completion (the notification), for ever if the
// op is leaked. The destination address is the op's heap allocation. The socket
// is kept open by the FileRef (a direct one's ring must be the buffer's too: two
// rings bind the op to none).
unsafe impl<B: FixedIoBuf> Op for SendZcFixed<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        let dest = match &self.addr {
            // SAFETY: a live allocation of ours; only the length is read.
            Some(a) => (a.0.ptr().cast_const().cast::<libc::sockaddr>(), unsafe {
                (*a.0.ptr()).len as u16
            }),
            None => (core::ptr::null(), 0),
        };
        raw::SendZc::new(self.fd.target(), self.buf.stable_ptr(), len)
            .flags(self.flags)
            .buf_index(Some(index_of(&self.buf)))
            .dest_addr(dest)
            .build()
    }
    fn more(&mut self, cqe: &Cqe) {
        if !cqe.is_notif() {
            self.sent = Some(cqe.raw_result());
        }
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (zc_result(self.sent, cqe), self.buf)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(ring_of(&self.buf)).and(self.fd.binding())
    }
}
