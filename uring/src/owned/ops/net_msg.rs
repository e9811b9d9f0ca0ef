//! Socket messages: `sendmsg(2)`, `recvmsg(2)` (with the descriptors `SCM_RIGHTS`
//! passes).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{FromRawFd, OwnedFd};

use super::{AddrBuf, AddrHeap, BufResult, FileRef, Heap, IoVecs, recv_flags, set_filled};
#[cfg(doc)]
use super::{Recv, Send};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::{IoBuf, IoBufMut, Op};
use crate::sqe::Sqe;

/// A kernel-read-or-written `struct msghdr`, in its own heap allocation. Its
/// pointers name memory of the same operation.
pub(super) struct MsgHdr(pub(super) Heap<libc::msghdr>);

/// Writes a sending op's `msghdr`: the iovecs over `bufs`' initialised bytes (kept
/// in `iovecs`), the destination address if any, no control data; returns the
/// pointer the entry names. Shared by [`SendMsg`] and `SendMsgZc`.
pub(super) fn send_msghdr<B: IoBuf>(
    msg: &MsgHdr,
    iovecs: &mut IoVecs,
    bufs: &[B],
    addr: Option<&AddrHeap>,
) -> *const libc::msghdr {
    *iovecs = IoVecs(
        bufs.iter()
            .map(|b| libc::iovec {
                iov_base: b.stable_ptr().cast_mut().cast(),
                iov_len: b.bytes_init(),
            })
            .collect(),
    );
    let (name, namelen) = match addr {
        // SAFETY: a live allocation of the op's; only the length is read.
        Some(a) => (a.0.ptr().cast::<libc::c_void>(), unsafe {
            (*a.0.ptr()).len
        }),
        None => (core::ptr::null_mut(), 0),
    };
    let p = msg.0.ptr();
    // SAFETY: the msghdr allocation is the op's and live; this runs from `sqe`,
    // before the entry is submitted, so the kernel does not hold it yet and nothing
    // else references it. Fields are written through the raw pointer.
    unsafe {
        (*p).msg_name = name;
        (*p).msg_namelen = namelen;
        (*p).msg_iov = iovecs.0.as_mut_ptr();
        (*p).msg_iovlen = iovecs.0.len();
        (*p).msg_control = core::ptr::null_mut();
        (*p).msg_controllen = 0;
        (*p).msg_flags = 0;
    }
    p.cast_const()
}

// SAFETY: the msghdr's pointers are addresses of allocations that move with the
// operation (which is Send); Rust code never dereferences them. The Heap owns the
// msghdr as a Box does.
unsafe impl core::marker::Send for MsgHdr {}

impl MsgHdr {
    pub(super) fn new() -> MsgHdr {
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
    fd: FileRef,
    bufs: Vec<B>,
    iovecs: IoVecs,
    addr: Option<AddrHeap>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBuf> SendMsg<B> {
    /// Send `bufs`, in order, as one message on socket `fd` (plain or direct).
    pub fn new(fd: impl Into<FileRef>, bufs: Vec<B>) -> SendMsg<B> {
        SendMsg {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs::empty(),
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
// The descriptor is kept open by the FileRef.
unsafe impl<B: IoBuf> Op for SendMsg<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        let p = send_msghdr(&self.msg, &mut self.iovecs, &self.bufs, self.addr.as_ref());
        raw::SendMsg::new(self.fd.target(), p)
            .flags(self.flags as u32)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        (cqe.result().map(|n| n as usize), self.bufs)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
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
    fd: FileRef,
    bufs: Vec<B>,
    iovecs: IoVecs,
    addr: AddrHeap,
    control: Vec<u8>,
    msg: MsgHdr,
    flags: i32,
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Receive a message from socket `fd` (plain or direct) into `bufs`, in
    /// order.
    pub fn new(fd: impl Into<FileRef>, bufs: Vec<B>) -> RecvMsg<B> {
        RecvMsg {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs::empty(),
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

// SAFETY: the entry names the msghdr (the op's own heap allocation, written here
// before submission), which names the iovec array (the op's heap Vec), the address
// storage (the op's heap allocation) and the control buffer (the op's heap Vec,
// exclusively owned); the iovecs name the buffers' stable, exclusively owned
// memory. Rust code reads none of it until the final completion. Descriptors the
// kernel installs through the control data are taken as OwnedFds in `complete`.
// The socket is kept open by the FileRef.
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
        raw::RecvMsg::new(self.fd.target(), p)
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
        // SAFETY: recvmsg stored n bytes, filling the iovecs in order, each
        // completely before the next (MSG_TRUNC, with which a count can exceed
        // what was stored, is never passed: `recv_flags`).
        unsafe { set_filled(&mut bufs, n) };
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
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// The descriptors carried by the control messages in `control` (`SCM_RIGHTS`,
/// `SCM_PIDFD`), taken as owned.
pub(super) fn control_fds(control: &[u8]) -> Vec<OwnedFd> {
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
