//! Multishot `recvmsg(2)`: one message per item, each with its sender, control data
//! and payload, laid out by the kernel in a [`BufPool`] buffer.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;

use super::net_msg::{MsgHdr, control_fds};
use super::{AddrBuf, FileRef, recv_flags};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::pool::{self, PoolShared};
use crate::owned::{BufPool, Multishot, PoolBuf, SharedFd};
use crate::sqe::Sqe;

/// The size of `struct io_uring_recvmsg_out`, which starts every buffer.
const OUT_HDR: usize = core::mem::size_of::<crate::sys::io_uring_recvmsg_out>();

/// Room for the sender's address in every buffer: any family fits.
const NAME_LEN: usize = core::mem::size_of::<libc::sockaddr_storage>();

/// Where the parts of one multishot `recvmsg` buffer are, as
/// [`parse_recvmsg_out`] found them: every range lies inside the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecvMsgLayout {
    /// The sender's address as stored (at most the room there was).
    pub(crate) name: Range<usize>,
    /// The address's full length, as the kernel reported it (more than
    /// `name.len()` when it did not fit).
    pub(crate) name_len: u32,
    /// The control data the kernel stored.
    pub(crate) control: Range<usize>,
    /// The payload bytes stored.
    pub(crate) payload: Range<usize>,
    /// The message's full payload length (more than `payload.len()` when the
    /// datagram did not fit the buffer).
    pub(crate) payload_len: u32,
    /// The message flags (`MSG_TRUNC`, `MSG_CTRUNC`, …).
    pub(crate) flags: u32,
}

/// Reads the layout of a multishot `recvmsg` buffer: the `io_uring_recvmsg_out`
/// header, then `name_room` bytes for the address, `control_room` bytes for the
/// control data, then the payload up to the end of `buf` (the bytes the
/// completion reported). Pure, and checked against any contents: every length
/// the header claims is bounded by the room the request gave it and by `buf`.
///
/// # Errors
///
/// A description of what does not fit, when `buf` is shorter than the header and
/// the two areas, or the header claims more control data than there was room
/// for.
pub(crate) fn parse_recvmsg_out(
    buf: &[u8],
    name_room: usize,
    control_room: usize,
) -> Result<RecvMsgLayout, String> {
    let word = |at: usize| u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
    let payload_start = OUT_HDR
        .checked_add(name_room)
        .and_then(|n| n.checked_add(control_room))
        .ok_or_else(|| "the name and control areas overflow".to_string())?;
    if buf.len() < payload_start {
        return Err(format!(
            "a recvmsg buffer of {} bytes cannot hold the {OUT_HDR}-byte header, {name_room} \
             bytes of name and {control_room} of control data",
            buf.len()
        ));
    }
    let (name_len, control_len, payload_len, flags) = (word(0), word(4), word(8), word(12));
    let control_len_usize = usize::try_from(control_len).unwrap_or(usize::MAX);
    if control_len_usize > control_room {
        return Err(format!(
            "the kernel reported {control_len} bytes of control data in an area of {control_room}"
        ));
    }
    let name_stored = usize::try_from(name_len)
        .unwrap_or(usize::MAX)
        .min(name_room);
    let control_start = OUT_HDR + name_room;
    let payload_stored = usize::try_from(payload_len)
        .unwrap_or(usize::MAX)
        .min(buf.len() - payload_start);
    Ok(RecvMsgLayout {
        name: OUT_HDR..OUT_HDR + name_stored,
        name_len,
        control: control_start..control_start + control_len_usize,
        payload: payload_start..payload_start + payload_stored,
        payload_len,
        flags,
    })
}

/// One message a [`RecvMsgMultishot`] received: the pool buffer it arrived in,
/// read through the kernel's `io_uring_recvmsg_out` layout.
///
/// [`payload`](Self::payload) is the message's bytes; a datagram larger than
/// the room the buffer had is cut short, which [`is_truncated`](Self::is_truncated)
/// says (`MSG_TRUNC`), with the full length in
/// [`payload_len`](Self::payload_len). Dropping the item gives the buffer back to
/// the pool and closes any descriptors it carried that were not taken.
pub struct RecvMsgItem {
    buf: PoolBuf,
    layout: RecvMsgLayout,
    fds: Vec<OwnedFd>,
}

impl RecvMsgItem {
    /// The message's bytes, as many as fit the buffer.
    pub fn payload(&self) -> &[u8] {
        &self.buf[self.layout.payload.clone()]
    }

    /// The message's full length on a datagram socket (UDP, Unix datagrams),
    /// which exceeds `payload().len()` when it was truncated; elsewhere the
    /// bytes stored.
    pub fn payload_len(&self) -> usize {
        self.layout.payload_len as usize
    }

    /// Whether part of the message was lost because the buffer was too small
    /// (`MSG_TRUNC`).
    pub fn is_truncated(&self) -> bool {
        self.layout.flags & libc::MSG_TRUNC as u32 != 0
            || self.payload_len() > self.layout.payload.len()
    }

    /// The sender, for IP sockets that report one (`None` otherwise, or if its
    /// address did not fit).
    pub fn addr(&self) -> Option<SocketAddr> {
        let name = &self.buf[self.layout.name.clone()];
        if (self.layout.name_len as usize) > name.len() {
            return None;
        }
        let mut a = AddrBuf::empty();
        // SAFETY: sockaddr_storage is plain bytes; `name` is at most NAME_LEN =
        // size_of::<sockaddr_storage>() bytes (the room the request gave it).
        unsafe {
            core::ptr::copy_nonoverlapping(
                name.as_ptr(),
                (&raw mut a.storage).cast::<u8>(),
                name.len(),
            );
        }
        a.len = name.len() as libc::socklen_t;
        a.to_addr()
    }

    /// The raw sender address bytes as stored (a `sockaddr` of any family).
    pub fn name(&self) -> &[u8] {
        &self.buf[self.layout.name.clone()]
    }

    /// The control data received (ancillary messages). The descriptor numbers in
    /// `SCM_RIGHTS` messages belong to [`fds`](Self::fds)/[`take_fds`](Self::take_fds):
    /// do not take ownership of them from these bytes.
    pub fn control(&self) -> &[u8] {
        &self.buf[self.layout.control.clone()]
    }

    /// The message flags (`MSG_TRUNC`, `MSG_CTRUNC`, …).
    pub fn flags(&self) -> i32 {
        self.layout.flags as i32
    }

    /// Descriptors passed along (`SCM_RIGHTS`), owned by the item.
    pub fn fds(&self) -> &[OwnedFd] {
        &self.fds
    }

    /// Takes the descriptors passed along, so they outlive the item.
    pub fn take_fds(&mut self) -> Vec<OwnedFd> {
        core::mem::take(&mut self.fds)
    }

    /// The pool buffer, whole (header, name, control data and payload).
    pub fn into_buf(self) -> PoolBuf {
        self.buf
    }
}

impl fmt::Debug for RecvMsgItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMsgItem")
            .field("addr", &self.addr())
            .field("payload", &self.layout.payload.len())
            .field("payload_len", &self.layout.payload_len)
            .field("control", &self.layout.control.len())
            .field("flags", &self.layout.flags)
            .field("fds", &self.fds.len())
            .finish()
    }
}

/// Keeps receiving messages into buffers the kernel picks from a [`BufPool`],
/// one item per message: multishot `IORING_OP_RECVMSG` (Linux 6.0), what a UDP
/// server wants — each [`RecvMsgItem`] carries the sender's address, the control
/// data and the payload. Every buffer starts with a 16-byte header, then 128 bytes
/// for the address and the control area, then the payload: a pool of `size`-byte
/// buffers holds datagrams of up to `size - 144 - control` bytes whole; longer
/// ones are truncated (and say so). The stream ends on an error, its last item
/// (`ENOBUFS` when the pool ran dry, `ECANCELED` after a cancel).
///
/// ```
/// use std::net::{Ipv4Addr, UdpSocket};
/// use uring::owned::{BufPool, OwnedRing, ops::RecvMsgMultishot};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(pool) = BufPool::new(&mut ring, 1, 8, 512) else { return Ok(()) }; // < 5.19
/// # /*
/// let pool = BufPool::new(&mut ring, 1, 8, 512)?;
/// # */
/// let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let client = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
/// let id = ring.submit_multishot(RecvMsgMultishot::new(server.try_clone()?, &pool, 0)?)?;
/// client.send_to(b"ping", server.local_addr()?)?;
/// let msg = ring.next_item(&id)?.item().expect("an item");
/// # if matches!(&msg, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) { return Ok(()) } // < 6.0
/// let msg = msg?;
/// assert_eq!(msg.payload(), b"ping");
/// assert_eq!(msg.addr(), Some(client.local_addr()?));
/// assert!(!msg.is_truncated());
/// ring.cancel(&id)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * on an error, which is the last item: `ECANCELED` after a cancel, `ENOBUFS`
///   when the pool ran dry (submit a new one once buffers are back), `EINVAL`
///   first on kernels without it (before 6.0); `raw_result()` is `-errno`,
///   `rearm()` false;
/// * with a message, when the kernel stopped the stream while more could come (a
///   full completion queue does that): the message is the last item,
///   `rearm()` **true** — submit it again to go on.
#[doc(alias = "io_uring_prep_recvmsg_multishot")]
pub struct RecvMsgMultishot {
    fd: FileRef,
    pool: BufPool,
    /// Read by the kernel at submission: only `msg_namelen` and
    /// `msg_controllen` (the room for each), no iovecs.
    msg: MsgHdr,
    control_room: usize,
    flags: i32,
    /// `MSG_TRUNC` for datagram sockets: the kernel then reports a datagram's
    /// full length in the header, while still storing (and counting in the
    /// completion) only what fits. Never for streams, where it would discard
    /// data unread.
    trunc: i32,
}

/// Whether `fd` is a datagram socket (`SO_TYPE` is `SOCK_DGRAM`).
fn is_datagram(fd: &SharedFd) -> bool {
    let mut ty: libc::c_int = 0;
    let mut len = core::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: ty and len are live locals of the sizes passed; the kernel writes
    // at most len bytes into ty.
    let r = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut ty).cast(),
            &mut len,
        )
    };
    r == 0 && ty == libc::SOCK_DGRAM
}

impl RecvMsgMultishot {
    /// Keep receiving from socket `fd` into buffers of `pool`, with room for
    /// `control` bytes of control data in each (0 for none; with none, descriptors
    /// sent along are discarded by the kernel).
    ///
    /// # Errors
    ///
    /// `EINVAL` when the pool's buffers cannot hold the header, the address and
    /// the control area with at least one byte of payload.
    pub fn new(
        fd: impl Into<FileRef>,
        pool: &BufPool,
        control: usize,
    ) -> io::Result<RecvMsgMultishot> {
        let need = OUT_HDR + NAME_LEN + control;
        if (pool.buf_size() as usize) <= need || control > u32::MAX as usize {
            return Err(crate::error::with_context(
                libc::EINVAL,
                format!(
                    "multishot recvmsg needs buffers larger than {need} bytes ({OUT_HDR} header, \
                     {NAME_LEN} address, {control} control); the pool's are {}",
                    pool.buf_size()
                ),
            ));
        }
        let fd = fd.into();
        let msg = MsgHdr::new();
        let p = msg.0.ptr();
        // SAFETY: a fresh allocation of ours that nothing else references.
        unsafe {
            (*p).msg_namelen = NAME_LEN as libc::socklen_t;
            (*p).msg_controllen = control;
        }
        Ok(RecvMsgMultishot {
            trunc: if fd.plain().is_some_and(is_datagram) {
                libc::MSG_TRUNC
            } else {
                0
            },
            fd,
            pool: pool.clone(),
            msg,
            control_room: control,
            flags: 0,
        })
    }

    /// `MSG_*` flags. `MSG_TRUNC` is dropped, as for
    /// [`Recv::flags`](super::Recv::flags) (truncation is reported per item).
    pub fn flags(mut self, flags: i32) -> RecvMsgMultishot {
        self.flags = recv_flags(flags);
        self
    }

    fn item_of(&self, pool: &Arc<PoolShared>, cqe: &Cqe) -> io::Result<Option<RecvMsgItem>> {
        let res = cqe.raw_result();
        let buf = pool::take(pool, cqe, usize::try_from(res).unwrap_or(0))?;
        if res < 0 {
            return Err(io::Error::from_raw_os_error(-res));
        }
        let Some(buf) = buf else {
            if res == 0 {
                return Ok(None);
            }
            return Err(io::Error::other(format!(
                "the kernel reported {res} bytes but named no buffer"
            )));
        };
        let layout = parse_recvmsg_out(&buf, NAME_LEN, self.control_room)
            .map_err(|e| crate::error::with_context(libc::EIO, e))?;
        let fds = control_fds(&buf[layout.control.clone()]);
        for fd in &fds {
            // Multishot receives do not apply MSG_CMSG_CLOEXEC on every kernel:
            // set it here (before anything of ours could exec).
            // SAFETY: fd is a descriptor the item owns; F_SETFD touches no memory.
            unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        Ok(Some(RecvMsgItem { buf, layout, fds }))
    }
}

impl fmt::Debug for RecvMsgMultishot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvMsgMultishot")
            .field("fd", &self.fd)
            .field("pool", &self.pool)
            .field("control", &self.control_room)
            .finish()
    }
}

// SAFETY: the entry names the msghdr (the op's own heap allocation; the kernel
// reads its two lengths, and its null iovec/name/control pointers, at submission)
// and a buffer group registered with the ring `bound_ring` names (refused
// elsewhere), whose memory the op's pool Arc keeps alive until its final
// completion. The kernel writes only inside the buffer it picks. Each completion
// names at most one buffer, which becomes that item's guard; descriptors passed
// in its control data become the item's OwnedFds at once. The socket is kept
// open by the FileRef.
unsafe impl Multishot for RecvMsgMultishot {
    type Item = RecvMsgItem;
    fn sqe(&mut self) -> Sqe {
        raw::RecvMsg::new(self.fd.target(), self.msg.0.ptr())
            .flags((self.flags | self.trunc | libc::MSG_CMSG_CLOEXEC) as u32)
            .multishot(true)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<RecvMsgItem>> {
        let pool = Arc::clone(&self.pool.shared);
        self.item_of(&pool, cqe).transpose()
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buf(name_len: u32, control_len: u32, payload_len: u32, flags: u32, total: usize) -> Vec<u8> {
        let mut b = vec![0xAAu8; total.max(16)];
        b[0..4].copy_from_slice(&name_len.to_ne_bytes());
        b[4..8].copy_from_slice(&control_len.to_ne_bytes());
        b[8..12].copy_from_slice(&payload_len.to_ne_bytes());
        b[12..16].copy_from_slice(&flags.to_ne_bytes());
        b.truncate(total);
        b
    }

    #[test]
    fn a_well_formed_buffer_is_split_where_the_kernel_put_things() {
        // 16 header + 16 name room + 8 control room + 5 payload.
        let b = buf(16, 8, 5, 0, 16 + 16 + 8 + 5);
        let l = parse_recvmsg_out(&b, 16, 8).unwrap();
        assert_eq!(l.name, 16..32);
        assert_eq!(l.control, 32..40);
        assert_eq!(l.payload, 40..45);
        assert_eq!((l.name_len, l.payload_len, l.flags), (16, 5, 0));
    }

    #[test]
    fn a_payload_longer_than_the_buffer_is_cut_at_the_buffer() {
        let b = buf(4, 0, 9000, libc::MSG_TRUNC as u32, 16 + 8 + 100);
        let l = parse_recvmsg_out(&b, 8, 0).unwrap();
        assert_eq!(l.payload, 24..124);
        assert_eq!(l.payload_len, 9000);
        assert_eq!(l.name, 16..20);
    }

    #[test]
    fn a_name_longer_than_its_room_is_cut_at_the_room() {
        let b = buf(u32::MAX, 0, 0, 0, 16 + 8);
        let l = parse_recvmsg_out(&b, 8, 0).unwrap();
        assert_eq!(l.name, 16..24);
        assert_eq!(l.name_len, u32::MAX);
        assert_eq!(l.payload, 24..24);
    }

    #[test]
    fn more_control_data_than_room_is_refused() {
        let b = buf(0, 9, 0, 0, 16 + 8 + 8);
        let e = parse_recvmsg_out(&b, 8, 8).unwrap_err();
        assert!(e.contains("9 bytes of control data"), "{e}");
        let b = buf(0, u32::MAX, 0, 0, 64);
        assert!(parse_recvmsg_out(&b, 8, 8).is_err());
    }

    #[test]
    fn a_buffer_too_short_for_its_areas_is_refused() {
        for total in [0, 1, 15, 16, 16 + 8 + 7] {
            let b = vec![0xFFu8; total];
            assert!(parse_recvmsg_out(&b, 8, 8).is_err(), "{total} bytes");
        }
        // Exactly the header and areas, no payload: fine, empty payload.
        let b = buf(0, 0, u32::MAX, 0, 32);
        let l = parse_recvmsg_out(&b, 8, 8).unwrap();
        assert_eq!(l.payload, 32..32);
        assert_eq!(l.control, 24..24);
    }

    #[test]
    fn areas_that_overflow_usize_are_refused() {
        let b = buf(0, 0, 0, 0, 64);
        assert!(parse_recvmsg_out(&b, usize::MAX, 1).is_err());
        assert!(parse_recvmsg_out(&b, usize::MAX - 8, 0).is_err());
    }

    #[test]
    fn every_byte_pattern_gives_ranges_inside_the_buffer() {
        // A small exhaustive-ish sweep of hostile headers and sizes.
        let lens = [0u32, 1, 7, 8, 15, 16, 17, 100, 4096, u32::MAX - 1, u32::MAX];
        for total in [16usize, 17, 31, 32, 33, 64, 200] {
            for &n in &lens {
                for &c in &lens {
                    for &p in &lens {
                        let b = buf(n, c, p, u32::MAX, total);
                        for (nr, cr) in [(0, 0), (8, 8), (16, 0), (0, 16), (128, 32)] {
                            if let Ok(l) = parse_recvmsg_out(&b, nr, cr) {
                                for r in [&l.name, &l.control, &l.payload] {
                                    assert!(r.start <= r.end && r.end <= b.len());
                                }
                                assert!(l.name.len() <= nr && l.control.len() <= cr);
                                assert_eq!(l.payload.end.max(16 + nr + cr), l.payload.end);
                            }
                        }
                    }
                }
            }
        }
    }
}
