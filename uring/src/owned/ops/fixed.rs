//! Reading and writing registered buffers ([`FixedBufs`](crate::owned::FixedBufs)).

use super::{BufResult, FileRef, read_into};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::buf::len32;
use crate::owned::fixed::{FixedIoBuf, index_of, ring_of};
use crate::owned::imp::{Binding, Token};
#[cfg(doc)]
use crate::owned::{FixedBufs, OwnedRing, Slice};
use crate::owned::{IoBufMut, Op};
use crate::sqe::Sqe;

/// Reads into a registered buffer (or a [`Slice`] of one) at an offset, like
/// `pread(2)`: `IORING_OP_READ_FIXED` (Linux 5.1). Up to the buffer's (or the
/// slice's) capacity is read; the length then covers what was read, as for
/// [`ops::Read`](crate::owned::ops::Read). An offset of `u64::MAX` reads at the file
/// position.
///
/// It can only run on the ring the buffer's [`FixedBufs`] is registered with:
/// [`submit_op`](OwnedRing::submit_op) on any other gives it back with `EXDEV`.
///
/// ```
/// use uring::owned::{FixedBufs, IoBuf, OwnedRing, ReadFixed, SharedFd};
/// let mut ring = OwnedRing::new(4)?;
/// let bufs = FixedBufs::new(&mut ring, 1, 64)?;
/// let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
/// let id = ring.submit_op(ReadFixed::new(&file, bufs.get().unwrap(), 0))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!(buf.len(), n?);
/// assert!(buf.iter().any(|b| b.is_ascii_digit()));
///
/// // Into the middle of the buffer only: bytes 8..16.
/// let id = ring.submit_op(ReadFixed::new(&file, buf.slice(8..16), 0))?;
/// let (n, slice) = ring.wait_for(id)?;
/// assert_eq!(n?, 8);
/// let buf = slice.into_inner();
/// assert_eq!(buf[8..16], buf[..8]); // the same first 8 bytes of the file, again
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct ReadFixed<B> {
    fd: FileRef,
    buf: B,
    offset: u64,
}

impl<B: FixedIoBuf + IoBufMut> ReadFixed<B> {
    /// Read from `fd` (plain or direct: a [`DirectFd`](crate::owned::DirectFd) of the
    /// buffer's ring) at `offset` into registered buffer `buf`.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// # let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 8)?;
    /// let op = uring::owned::ReadFixed::new(std::fs::File::open("/dev/zero")?, bufs.get().unwrap(), 0);
    /// let id = ring.submit_op(op)?;
    /// let (n, buf) = ring.wait_for(id)?;
    /// assert_eq!((n?, &buf[..]), (8, &[0u8; 8][..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: impl Into<FileRef>, buf: B, offset: u64) -> ReadFixed<B> {
        ReadFixed {
            fd: fd.into(),
            buf,
            offset,
        }
    }

    /// The buffer back, from an operation that was not submitted (say, one a
    /// [`SubmitError`](crate::owned::SubmitError) returned).
    ///
    /// ```
    /// use uring::owned::{FixedBufs, OwnedRing, ReadFixed};
    /// let (mut a, mut b) = (OwnedRing::new(4)?, OwnedRing::new(4)?);
    /// let bufs = FixedBufs::new(&mut a, 1, 8)?;
    /// let op = ReadFixed::new(std::fs::File::open("/dev/zero")?, bufs.get().unwrap(), 0);
    /// let refused = b.submit_op(op).unwrap_err(); // registered with `a`, not `b`
    /// assert_eq!(uring::error::errno(&refused.error), Some(libc::EXDEV));
    /// let buf = refused.op.into_buf();
    /// let id = a.submit_op(ReadFixed::new(std::fs::File::open("/dev/zero")?, buf, 0))?;
    /// assert_eq!(a.wait_for(id)?.0?, 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry names the registered buffer's memory (IoBufMut: exclusively
// owned by the op, valid for bytes_total bytes, address unchanged by moves) by
// address and by its index in the table of the ring `bound_ring` names — the ring
// refuses the op anywhere else. The op holds the set's Arc (in its FixedBuf), so
// the memory stays allocated, and registered, until the final completion, and for
// ever if the op is leaked. The descriptor is kept open by the op's FileRef (a
// direct one also binds the op to its ring; naming two rings, it runs on none).
unsafe impl<B: FixedIoBuf + IoBufMut> Op for ReadFixed<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_total());
        let index = index_of(&self.buf);
        raw::ReadFixed::new(self.fd.target(), self.buf.stable_mut_ptr(), len, index)
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        // SAFETY: a read's count is of the bytes it stored from the buffer's
        // start.
        unsafe { read_into(self.buf, cqe) }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(ring_of(&self.buf)).and(self.fd.binding())
    }
    #[inline(always)]
    fn posts_more(_: Token) -> bool {
        false
    }
}

/// Writes a registered buffer's data (its first `len` bytes; for a [`Slice`],
/// those of them in the slice) at an offset, like `pwrite(2)`:
/// `IORING_OP_WRITE_FIXED` (Linux 5.1). An offset of `u64::MAX` writes at the
/// file position.
///
/// It can only run on the ring the buffer's [`FixedBufs`] is registered with:
/// [`submit_op`](OwnedRing::submit_op) on any other gives it back with `EXDEV`.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{FixedBufs, IoBuf, OwnedRing, WriteFixed};
/// let mut ring = OwnedRing::new(4)?;
/// let bufs = FixedBufs::new(&mut ring, 1, 64)?;
/// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
/// let mut buf = bufs.get().unwrap();
/// buf.extend_from_slice(b"hello, world")?;
/// let id = ring.submit_op(WriteFixed::new(w, buf.slice(7..), 0))?;
/// let (n, _slice) = ring.wait_for(id)?;
/// assert_eq!(n?, 5);
/// let mut got = [0u8; 5];
/// r.read_exact(&mut got)?;
/// assert_eq!(&got, b"world");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct WriteFixed<B> {
    fd: FileRef,
    buf: B,
    offset: u64,
}

impl<B: FixedIoBuf> WriteFixed<B> {
    /// Write registered buffer `buf` to `fd` (plain or direct: a
    /// [`DirectFd`](crate::owned::DirectFd) of the buffer's ring) at `offset`.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// # let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 8)?;
    /// let mut buf = bufs.get().unwrap();
    /// buf.extend_from_slice(b"abc")?;
    /// let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    /// let op = uring::owned::WriteFixed::new(null, buf, 0);
    /// let id = ring.submit_op(op)?;
    /// assert_eq!(ring.wait_for(id)?.0?, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: impl Into<FileRef>, buf: B, offset: u64) -> WriteFixed<B> {
        WriteFixed {
            fd: fd.into(),
            buf,
            offset,
        }
    }

    /// The buffer back, from an operation that was not submitted (say, one a
    /// [`SubmitError`](crate::owned::SubmitError) returned).
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// # let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 8)?;
    /// let mut buf = bufs.get().unwrap();
    /// buf.extend_from_slice(b"kept")?;
    /// let op = uring::owned::WriteFixed::new(std::fs::File::open("/dev/null")?, buf, 0);
    /// assert_eq!(&op.into_buf()[..], b"kept");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry names the registered buffer's initialised bytes (IoBuf: not
// written by anyone while the op owns it, address unchanged by moves) by address
// and by index in the table of the ring `bound_ring` names — refused anywhere
// else. The op's FixedBuf holds the set's Arc until the final completion (for ever
// if leaked); its FileRef keeps the descriptor open (and binds a direct one's
// ring).
unsafe impl<B: FixedIoBuf> Op for WriteFixed<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::WriteFixed::new(
            self.fd.target(),
            self.buf.stable_ptr(),
            len,
            index_of(&self.buf),
        )
        .offset(self.offset)
        .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (cqe.result().map(|n| n as usize), self.buf)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(ring_of(&self.buf)).and(self.fd.binding())
    }
    #[inline(always)]
    fn posts_more(_: Token) -> bool {
        false
    }
}
