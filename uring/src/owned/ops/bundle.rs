//! Bundles: receives into as many [`BufPool`] buffers as needed, once or multishot, and
//! sends of what a [`SendQueue`](crate::owned::SendQueue) holds.

use std::fmt;
use std::io;
use std::sync::Arc;

use super::{FileRef, recv_flags};
use crate::cqueue::Cqe;
use crate::error;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::pool;
use crate::owned::send_queue::{Cursor, SendQueue, Sent, Shared, stopped};
use crate::owned::{BufPool, IoBuf, Multishot, Op, PoolBuf};
use crate::sqe::Sqe;

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
    fd: FileRef,
    pool: BufPool,
    flags: i32,
}

impl RecvBundle {
    /// Receive from socket `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd) of the pool's ring) into buffers of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool) -> RecvBundle {
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
// open by the FileRef.
unsafe impl Op for RecvBundle {
    type Output = io::Result<PoolBufs>;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(self.fd.target(), core::ptr::null_mut(), 0)
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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

/// Keeps receiving into as many buffers of a [`BufPool`] as each chunk of data
/// needs, one item per completion: multishot `IORING_OP_RECV` with
/// `IORING_RECVSEND_BUNDLE` (Linux 6.10). Each item is a [`PoolBufs`], handed out
/// as for [`RecvBundle`].
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * at end of file: no last item; `raw_result()` 0, `rearm()` false;
/// * on an error, which is the last item: `ENOBUFS` when the pool ran dry (recycle
///   buffers, then submit a new one), `ECANCELED` after a cancel, `EINVAL` first on
///   kernels without bundles, a socket error; `raw_result()` is `-errno`, `rearm()`
///   false;
/// * with data, when the kernel stopped the stream while more could come: a full
///   completion queue does that, and some kernels (seen on 6.12 and 7.3) do it when
///   a bundle took the pool's last buffers. The final completion's buffers are the
///   last item, `raw_result()` their length, `rearm()` **true** — submit it again
///   to go on (once buffers are back, if the pool is empty).
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvBundleMultishot};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let pool = BufPool::new(&mut ring, 1, 8, 4)?;
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(RecvBundleMultishot::new(r, &pool))?;
/// w.write_all(b"first chunk")?;
/// let mut got = Vec::new();
/// while got.len() < 11 {
///     got.extend(ring.next_item(&id)?.item().expect("an item")?.to_vec());
/// }
/// assert_eq!(got, b"first chunk");
/// drop(w); // end of file: the stream ends
/// assert_eq!(ring.next_item(&id)?.end().expect("the end").raw_result(), 0);
/// assert_eq!(pool.available(), 8);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_recv_multishot")]
#[derive(Debug)]
pub struct RecvBundleMultishot {
    fd: FileRef,
    pool: BufPool,
    flags: i32,
}

impl RecvBundleMultishot {
    /// Keep receiving from socket `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd) of the pool's ring) into buffers of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool) -> RecvBundleMultishot {
        RecvBundleMultishot {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags; `MSG_TRUNC` and `MSG_WAITALL` are dropped, as for
    /// [`RecvBundle::flags`].
    pub fn flags(mut self, flags: i32) -> RecvBundleMultishot {
        self.flags = recv_flags(flags) & !libc::MSG_WAITALL;
        self
    }
}

// SAFETY: as for RecvBundle, per completion: each completion, MORE or final, hands
// out guards only for the ring entries the kernel took for it (from the buffer it
// names, no more than its data filled), never one already held. The op's Arc
// keeps the pool alive and `bound_ring` ties it to the pool's ring; the FileRef
// keeps the socket open.
unsafe impl Multishot for RecvBundleMultishot {
    type Item = PoolBufs;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(self.fd.target(), core::ptr::null_mut(), 0)
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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

/// Sends what a [`SendQueue`] holds, in order, as far as the socket takes it at
/// once: `IORING_OP_SEND` with `IORING_RECVSEND_BUNDLE` and `IOSQE_BUFFER_SELECT`
/// (Linux 6.10). Output: a [`Sent`] with the byte count and the buffers sent in
/// full; `ENOBUFS` when the queue was empty; the send's errno when it sent
/// nothing.
///
/// The kernel sends consecutive entries of the queue's ring, from its head, and
/// waits (bundles imply `MSG_WAITALL`) until the socket has taken all the
/// entries it picked; it may post several completions for one bundle (flagged
/// `MORE`, Linux picks at most 256 entries at a time), which the operation
/// follows. So a bundle that succeeds has sent whole entries. It sends part of
/// one only when an error ends it midway (`ECONNRESET`, `EPIPE`, …): the output
/// is then a [`Sent`] with the bytes that went out, fewer than were queued (the
/// kernel reports the count rather than the error, which a later send shows).
/// The kernel may by then have taken more entries out of its ring than it sent
/// (how many depends on the kernel version), so the queue reads the kernel's
/// head (`IORING_REGISTER_PBUF_STATUS`) and writes every byte not reported sent
/// back at the head, the rest of a partly sent buffer first: a later bundle
/// sends exactly the remaining bytes, in order (on another connection, say).
///
/// A bundle that completes with an error and no byte count — `ECANCELED`
/// after [`cancel`](crate::owned::OwnedRing::cancel), or a ring dropped with the
/// bundle in flight — reports nothing sent, and the queue keeps every byte;
/// the kernel, though, may have sent part of them before it was stopped, so
/// sending the queue again on the same connection can repeat bytes. Treat such
/// a connection as broken.
///
/// Only one `SendBundle` per queue exists at a time (concurrent bundles would
/// race for the ring's head): [`new`](Self::new) refuses a second one with
/// `EBUSY` until the first has completed, or was dropped unsubmitted. It is
/// refused (`EXDEV`) by any ring but the queue's.
///
/// If the queue cannot tell what the kernel did (the head cannot be read — for
/// example from another thread than a `SINGLE_ISSUER` ring's — or completions
/// name buffers out of order), it stops: the bundle's output is `EIO`, and so is
/// every later `push` or `SendBundle::new`; the buffers stay queued, untouched,
/// until the queue is dropped.
///
/// ```
/// use uring::owned::{OwnedRing, SendBundle, SendQueue};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let queue = SendQueue::<Vec<u8>>::new(&mut ring, 5, 4)?;
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let a = uring::owned::SharedFd::from(a);
/// let first = SendBundle::new(&a, &queue)?;
/// let busy = SendBundle::new(&a, &queue).unwrap_err(); // one at a time
/// assert_eq!(uring::error::errno(&busy), Some(libc::EBUSY));
/// // An empty queue: nothing to send.
/// let id = ring.submit_op(first)?;
/// let err = ring.wait_for(id)?.unwrap_err();
/// assert_eq!(err.raw_os_error(), Some(libc::ENOBUFS));
/// assert!(SendBundle::new(&a, &queue).is_ok()); // the first one is done
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_send_bundle")]
pub struct SendBundle<B: IoBuf = Vec<u8>> {
    fd: FileRef,
    shared: Arc<Shared<B>>,
    flags: i32,
}

impl<B: IoBuf> SendBundle<B> {
    /// A bundle send of `queue`'s buffers on socket `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd) of the queue's ring).
    ///
    /// # Errors
    ///
    /// `EBUSY` while another `SendBundle` of the queue exists; `EIO` when the
    /// queue has stopped.
    pub fn new(fd: impl Into<FileRef>, queue: &SendQueue<B>) -> io::Result<SendBundle<B>> {
        let mut state = queue.shared.lock();
        if let Some(why) = state.poisoned {
            return Err(stopped(why));
        }
        if state.busy {
            return Err(error::with_context(
                libc::EBUSY,
                format!(
                    "a SendBundle of the send queue of group {} is already in flight (or made \
                     and not yet dropped): one at a time",
                    queue.shared.group
                ),
            ));
        }
        state.busy = true;
        state.cursor = Cursor::default();
        drop(state);
        Ok(SendBundle {
            fd: fd.into(),
            shared: Arc::clone(&queue.shared),
            flags: 0,
        })
    }

    /// `MSG_*` flags (`MSG_NOSIGNAL`, `MSG_MORE`, …). Dropped: `MSG_ZEROCOPY`
    /// (pages read after the completion), `MSG_WAITALL` (bundles imply it
    /// anyway) and `MSG_DONTWAIT` (a bundle cut short by it could end with
    /// `EAGAIN` after sending part of the queue, without saying how much).
    /// ```
    /// use uring::owned::{OwnedRing, SendBundle, SendQueue};
    /// let mut ring = OwnedRing::new(4)?;
    /// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
    /// let queue = SendQueue::new(&mut ring, 1, 2)?;
    /// queue.push(b"x".to_vec())?;
    /// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
    /// let op = SendBundle::new(a, &queue)?.flags(libc::MSG_NOSIGNAL);
    /// let id = ring.submit_op(op)?;
    /// assert_eq!(ring.wait_for(id)??.bytes(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn flags(mut self, flags: i32) -> SendBundle<B> {
        self.flags = flags & !(libc::MSG_WAITALL | libc::MSG_ZEROCOPY | libc::MSG_DONTWAIT);
        self
    }
}

impl<B: IoBuf> fmt::Debug for SendBundle<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendBundle")
            .field("fd", &self.fd)
            .field("group", &self.shared.group)
            .field("flags", &self.flags)
            .finish()
    }
}

impl<B: IoBuf> Drop for SendBundle<B> {
    /// Lets the next bundle be made: this one completed (its output made) or
    /// never reached the kernel. (A bundle the ring leaked is never dropped, and
    /// the queue then makes no other.)
    fn drop(&mut self) {
        self.shared.lock().busy = false;
    }
}

// SAFETY: the entry names no memory of its own: the kernel reads the entries of
// the queue's group, registered with the ring `bound_ring` names (the ring refuses
// the op elsewhere), and the buffers they point to. The op's Arc keeps the ring
// memory and the buffers alive until the op is dropped, after its final
// completion (a leaked op keeps them for ever). Only this op sends from the group
// while it exists (`busy`), and the queue changes entries the kernel may read
// only when none exists; buffers leave the queue only in `settle`, after the
// final completion, and only those before the kernel's head (sent in full). The
// FileRef keeps the socket open.
unsafe impl<B: IoBuf> Op for SendBundle<B> {
    type Output = io::Result<Sent<B>>;

    fn sqe(&mut self) -> Sqe {
        crate::op::Send::new(self.fd.target(), core::ptr::null(), 0)
            .flags(self.flags)
            .bundle(true)
            .buf_group(Some(self.shared.group))
            .build()
    }

    fn more(&mut self, cqe: &Cqe) {
        self.shared.lock().advance(cqe);
    }

    fn complete(self, cqe: &Cqe) -> io::Result<Sent<B>> {
        let res = cqe.raw_result();
        let settled = {
            let mut state = self.shared.lock();
            state.advance(cqe);
            let settled = state.settle();
            if let Err(why) = settled {
                state.poisoned = Some(why);
            }
            settled
        };
        // `self` drops after this: the queue is free for the next bundle.
        let (bytes, bufs) = settled.map_err(stopped)?;
        let error = (res < 0).then(|| io::Error::from_raw_os_error(-res));
        match error {
            Some(e) if bytes == 0 => Err(e),
            error => Ok(Sent { bytes, bufs, error }),
        }
    }

    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.shared.ring_id).and(self.fd.binding())
    }
}
