//! Provided-buffer selection: reads and receives into a buffer the kernel picks from a
//! [`BufPool`], once or multishot.

use std::io;
use std::sync::Arc;

#[cfg(doc)]
use super::Recv;
use super::{FileRef, recv_flags};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::pool::{self, PoolShared};
use crate::owned::{BufPool, Multishot, Op, PoolBuf};
use crate::sqe::Sqe;

/// The bytes a buffer-selecting completion delivered, as a guard.
#[inline]
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
        None => Err(crate::error::with_context(
            libc::EIO,
            format!("the kernel reported {res} bytes but named no buffer"),
        )),
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
    fd: FileRef,
    pool: BufPool,
    flags: i32,
}

impl RecvSelect {
    /// Receive from socket `fd` into a buffer of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool) -> RecvSelect {
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
// after its final completion. The descriptor is kept open by the FileRef. The
// buffer the completion names is handed out as a guard, never twice.
unsafe impl Op for RecvSelect {
    type Output = io::Result<PoolBuf>;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(
            self.fd.target(),
            core::ptr::null_mut(),
            self.pool.buf_size(),
        )
        .flags(self.flags)
        .buf_group(Some(self.pool.group()))
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<PoolBuf> {
        pool_result(&self.pool.shared, cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

/// Reads into a buffer the kernel picks from a [`BufPool`], like `pread(2)`:
/// `IORING_OP_READ` with `IOSQE_BUFFER_SELECT`. An offset of `u64::MAX` reads at
/// the file position (what pipes and sockets need). Output as for [`RecvSelect`].
#[derive(Debug)]
pub struct ReadSelect {
    fd: FileRef,
    pool: BufPool,
    offset: u64,
}

impl ReadSelect {
    /// Read from `fd` (plain or direct: a [`DirectFd`](crate::owned::DirectFd) of the
    /// pool's ring) at `offset` into a buffer of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool, offset: u64) -> ReadSelect {
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
        raw::Read::new(
            self.fd.target(),
            core::ptr::null_mut(),
            self.pool.buf_size(),
        )
        .offset(self.offset)
        .buf_group(Some(self.pool.group()))
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<PoolBuf> {
        pool_result(&self.pool.shared, cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

/// Keeps receiving into buffers the kernel picks from a [`BufPool`], one item per
/// chunk: multishot `IORING_OP_RECV` (Linux 6.0). Each item is a [`PoolBuf`].
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * at end of file: no last item; `raw_result()` 0, `rearm()` false;
/// * on an error, which is the last item: `ENOBUFS` when the pool ran dry (recycle
///   buffers, then submit a new one), `ECANCELED` after a cancel, a socket or file
///   error; `raw_result()` is `-errno`, `rearm()` false;
/// * with data, when the kernel stopped the stream while more could come (a full
///   completion queue does that): the final completion's buffer is the last item,
///   `raw_result()` its length, `rearm()` **true** — submit it again to go on.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::RecvMultishot};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(pool) = BufPool::new(&mut ring, 1, 4, 16) else { return Ok(()) }; // < 5.19
/// # /*
/// let pool = BufPool::new(&mut ring, 1, 4, 16)?;
/// # */
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(RecvMultishot::new(r, &pool))?;
/// w.write_all(b"one")?;
/// # let first = ring.next_item(&id)?.item().unwrap();
/// # if matches!(&first, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) { return Ok(()) } // < 6.0
/// # /*
/// let first = ring.next_item(&id)?.item().unwrap();
/// # */
/// assert_eq!(&first?[..], b"one");
/// drop(w); // end of file: the stream ends, not to be re-armed
/// let end = ring.next_item(&id)?.end().expect("the end");
/// assert_eq!((end.raw_result(), end.rearm()), (0, false));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RecvMultishot {
    fd: FileRef,
    pool: BufPool,
    flags: i32,
}

impl RecvMultishot {
    /// Keep receiving from socket `fd` into buffers of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool) -> RecvMultishot {
        RecvMultishot {
            fd: fd.into(),
            pool: pool.clone(),
            flags: 0,
        }
    }

    /// `MSG_*` flags. `MSG_TRUNC` is dropped, as for [`Recv::flags`].
    pub fn flags(mut self, flags: i32) -> RecvMultishot {
        self.flags = recv_flags(flags);
        self
    }
}

// SAFETY: as for RecvSelect; each completion names at most one buffer (no bundle),
// which becomes that item's guard.
unsafe impl Multishot for RecvMultishot {
    type Item = PoolBuf;
    fn sqe(&mut self) -> Sqe {
        raw::Recv::new(self.fd.target(), core::ptr::null_mut(), 0)
            .flags(self.flags)
            .multishot(true)
            .buf_group(Some(self.pool.group()))
            .build()
    }
    #[inline]
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<PoolBuf>> {
        match pool_result(&self.pool.shared, cqe) {
            // End of file: the final completion, with nothing in it.
            Ok(buf) if buf.is_empty() && !cqe.is_more() => None,
            r => Some(r),
        }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}

/// Keeps reading into buffers the kernel picks from a [`BufPool`], one item per
/// read: `IORING_OP_READ_MULTISHOT` (Linux 6.7). For pipes, sockets and other
/// files that can be polled (others: `EBADFD`). Each item is a [`PoolBuf`].
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * at end of file: no last item; `raw_result()` 0, `rearm()` false;
/// * on an error, which is the last item: `ENOBUFS` when the pool ran dry (recycle
///   buffers, then submit a new one), `ECANCELED` after a cancel, a socket or file
///   error; `raw_result()` is `-errno`, `rearm()` false;
/// * with data, when the kernel stopped the stream while more could come (a full
///   completion queue does that): the final completion's buffer is the last item,
///   `raw_result()` its length, `rearm()` **true** — submit it again to go on.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops::ReadMultishot};
/// # if !uring::probe::probe()?.is_supported(uring::op::ReadMultishot::CODE) { return Ok(()) } // older kernel
/// let mut ring = OwnedRing::new(4)?;
/// let pool = BufPool::new(&mut ring, 1, 4, 16)?;
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(ReadMultishot::new(r, &pool))?;
/// w.write_all(b"one")?;
/// assert_eq!(&ring.next_item(&id)?.item().unwrap()?[..], b"one");
/// w.write_all(b"two")?;
/// assert_eq!(&ring.next_item(&id)?.item().unwrap()?[..], b"two");
/// drop(w); // end of file: the stream ends, not to be re-armed
/// let end = ring.next_item(&id)?.end().expect("the end");
/// assert_eq!((end.raw_result(), end.rearm()), (0, false));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_read_multishot")]
#[derive(Debug)]
pub struct ReadMultishot {
    fd: FileRef,
    pool: BufPool,
}

impl ReadMultishot {
    /// Keep reading from `fd` (at its position; plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd) of the pool's ring) into buffers of `pool`.
    pub fn new(fd: impl Into<FileRef>, pool: &BufPool) -> ReadMultishot {
        ReadMultishot {
            fd: fd.into(),
            pool: pool.clone(),
        }
    }
}

// SAFETY: as for RecvMultishot: the kernel writes only into buffers of the pool's group,
// registered with the ring `bound_ring` names (the ring refuses the op elsewhere),
// and the op's Arc keeps the pool's memory alive until its final completion. Each
// completion names at most one buffer, which becomes that item's guard. The
// descriptor is kept open by the FileRef.
unsafe impl Multishot for ReadMultishot {
    type Item = PoolBuf;
    fn sqe(&mut self) -> Sqe {
        raw::ReadMultishot::new(self.fd.target(), 0, self.pool.group())
            .offset(u64::MAX)
            .build()
    }
    #[inline]
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<PoolBuf>> {
        match pool_result(&self.pool.shared, cqe) {
            // End of file: the final completion, with nothing in it.
            Ok(buf) if buf.is_empty() && !cqe.is_more() => None,
            r => Some(r),
        }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.pool.shared.ring_id).and(self.fd.binding())
    }
}
