//! Owned buffers: memory an operation can hand to the kernel and get back.
//!
//! [`IoBuf`] is memory the kernel reads (write, send); [`IoBufMut`] is memory it
//! writes (read, recv). Both are `unsafe` traits: an implementation promises that
//! the pointer it reports stays valid, at the same address, however the value is
//! moved, for as long as the value lives. That is what lets an
//! [`OwnedRing`](super::OwnedRing) move a buffer into its in-flight table after the
//! kernel has been given its address.
//!
//! Implemented for `Vec<u8>`, `Box<[u8]>`, `String` and `&'static [u8]`/`&'static str`
//! (read-only), for the registered buffers of a [`FixedBufs`](super::FixedBufs)
//! ([`FixedBuf`](super::FixedBuf)), with feature `bytes` for `bytes::BytesMut`
//! and `bytes::Bytes` (read-only), and for [`Slice`]s of any of them.

use core::ops::{Bound, RangeBounds};

/// Memory the kernel may read from: the source of a write or send.
///
/// The kernel reads the first [`bytes_init`](Self::bytes_init) bytes at
/// [`stable_ptr`](Self::stable_ptr) — at most
/// [`MAX_IO_LEN`](crate::op::MAX_IO_LEN) (just under 2 GiB) per operation, the
/// kernel's own limit: an operation names no more (a larger buffer gives a
/// short transfer, never `EINVAL`).
///
/// ```
/// use uring::owned::IoBuf;
/// let v = b"hello".to_vec();
/// assert_eq!(v.bytes_init(), 5);
/// assert_eq!(v.stable_ptr(), v.as_ptr());
/// let s = v.slice(1..3);
/// assert_eq!(s.bytes_init(), 2);
/// ```
///
/// # Safety
///
/// An implementation promises that, for as long as the value lives and is not
/// accessed through `&mut`:
///
/// * `stable_ptr()` returns the same pointer every time, however the value is
///   moved (the bytes live in a separate allocation or in static memory, never
///   inline in the value);
/// * that pointer is valid for reads of `bytes_total()` bytes, of which the first
///   `bytes_init()` are initialised (`bytes_init() <= bytes_total()`), and both
///   numbers stay the same;
/// * nothing writes those bytes meanwhile (other readers are fine).
pub unsafe trait IoBuf: Send + 'static {
    /// Where the bytes start.
    fn stable_ptr(&self) -> *const u8;

    /// How many bytes, from the start, hold data (a `Vec`'s length).
    fn bytes_init(&self) -> usize;

    /// How many bytes the buffer can hold (a `Vec`'s capacity).
    fn bytes_total(&self) -> usize;

    /// A view of `range` of this buffer, which keeps owning it.
    ///
    /// # Panics
    ///
    /// If the range is decreasing or ends past [`bytes_total`](Self::bytes_total).
    ///
    /// ```
    /// use uring::owned::IoBuf;
    /// let s = vec![1u8, 2, 3, 4].slice(2..);
    /// assert_eq!((s.begin(), s.end()), (2, 4));
    /// assert_eq!(s.into_inner(), [1, 2, 3, 4]);
    /// ```
    #[inline]
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let total = self.bytes_total();
        let begin = match range.start_bound() {
            Bound::Included(&n) => n,
            Bound::Excluded(&n) => n.checked_add(1).expect("range start overflows"),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(&n) => n.checked_add(1).expect("range end overflows"),
            Bound::Excluded(&n) => n,
            Bound::Unbounded => total,
        };
        assert!(
            begin <= end,
            "slice range starts at {begin} but ends at {end}"
        );
        assert!(
            end <= total,
            "slice range ends at {end}, past the buffer's {total} bytes"
        );
        Slice {
            buf: self,
            begin,
            end,
        }
    }
}

/// Memory the kernel may write to: the destination of a read or receive.
///
/// The kernel writes up to [`bytes_total`](IoBuf::bytes_total) bytes at
/// [`stable_mut_ptr`](Self::stable_mut_ptr); afterwards the operation calls
/// [`set_init`](Self::set_init) with the count it reported.
///
/// ```
/// use uring::owned::{IoBuf, IoBufMut};
/// let mut v = Vec::with_capacity(16);
/// v.push(1u8);
/// assert_eq!((v.bytes_init(), v.bytes_total()), (1, v.capacity()));
/// assert_eq!(v.stable_mut_ptr(), v.as_mut_ptr());
/// ```
///
/// # Safety
///
/// As for [`IoBuf`], and moreover: the pointer from `stable_mut_ptr()` equals
/// `stable_ptr()` and is valid for writes of `bytes_total()` bytes; while the value
/// lives, nothing else reads or writes those bytes except through the value
/// itself (the buffer is not shared); `set_init(n)` with `n <= bytes_total()`, after
/// the first `n` bytes have been written, makes at least `n` bytes count as
/// initialised without moving them.
pub unsafe trait IoBufMut: IoBuf {
    /// Where the bytes start, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Records that the first `n` bytes now hold data (a `Vec` grows its length to
    /// `n` if shorter; it never shrinks).
    ///
    /// # Safety
    ///
    /// The first `n` bytes must have been initialised, and `n <= bytes_total()`.
    unsafe fn set_init(&mut self, n: usize);
}

// SAFETY: a Vec's bytes live in its heap allocation (or, with capacity 0, nowhere:
// a dangling pointer valid for 0 bytes); moving the Vec moves only its pointer.
// Length and capacity change only through &mut.
unsafe impl IoBuf for Vec<u8> {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for IoBuf; the Vec owns its allocation exclusively, and its spare
// capacity is writable memory of the same allocation.
unsafe impl IoBufMut for Vec<u8> {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: the caller promises n <= capacity and that the first n bytes
            // are initialised.
            unsafe { self.set_len(n) };
        }
    }
}

// SAFETY: a boxed slice's bytes live in its heap allocation; all are initialised.
unsafe impl IoBuf for Box<[u8]> {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: the box owns its allocation exclusively; every byte is already
// initialised, so set_init has nothing to record.
unsafe impl IoBufMut for Box<[u8]> {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    #[inline]
    unsafe fn set_init(&mut self, _n: usize) {}
}

// SAFETY: a String's bytes live in its heap allocation, as a Vec's. (No IoBufMut:
// the kernel could write bytes that are not UTF-8.)
unsafe impl IoBuf for String {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: static memory never moves or goes away, and a shared reference
// guarantees no one writes it.
unsafe impl IoBuf for &'static [u8] {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

// SAFETY: as for &'static [u8].
unsafe impl IoBuf for &'static str {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

/// With feature `bytes`: a `BytesMut`'s bytes live in a heap allocation that moving
/// the `BytesMut` does not move; the kernel reads its [`len`](bytes::BytesMut::len)
/// bytes.
///
/// ```
/// use uring::owned::IoBuf;
/// let b = bytes::BytesMut::from(&b"hello"[..]);
/// assert_eq!(b.bytes_init(), 5);
/// assert!(b.bytes_total() >= 5);
/// assert_eq!(b.stable_ptr(), b.as_ptr());
/// ```
// SAFETY: a BytesMut is a unique view of `capacity()` bytes of a heap allocation
// (shared with other views only for disjoint ranges, after a split); moving it
// moves the handle, not the bytes, and an empty one points at a dangling address
// valid for 0 bytes. Length and capacity change only through `&mut`, and while no
// `&mut` is used nothing else writes the view's bytes. The pointer is the start of
// the view (the `&[u8]` of its first `len()` bytes starts there).
#[cfg(feature = "bytes")]
unsafe impl IoBuf for bytes::BytesMut {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

/// With feature `bytes`: reads fill a `BytesMut`'s spare capacity and then extend
/// its length, as for a `Vec` — reserve room first
/// ([`with_capacity`](bytes::BytesMut::with_capacity),
/// [`reserve`](bytes::BytesMut::reserve)), since the kernel writes at most
/// [`capacity`](bytes::BytesMut::capacity) bytes.
///
/// ```
/// use uring::owned::{OwnedRing, SharedFd, ops};
/// let mut ring = OwnedRing::new(2)?;
/// let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
/// let buf = bytes::BytesMut::with_capacity(16);
/// let id = ring.submit_op(ops::Read::new(&file, buf, 0))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!(buf.len(), n?);
/// assert!(buf.len() > 0 && buf.len() <= 16);
/// # Ok::<(), std::io::Error>(())
/// ```
// SAFETY: as for IoBuf, and the view's `capacity()` bytes are this BytesMut's
// alone. The pointer is taken from `spare_capacity_mut` with the length
// momentarily 0, so it is derived from a `&mut` covering the whole capacity (not
// just the first `len()` bytes) and is valid for writes of all of it; it equals
// `stable_ptr()`. `set_len` is given at most the capacity, over initialised bytes.
#[cfg(feature = "bytes")]
unsafe impl IoBufMut for bytes::BytesMut {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        let len = self.len();
        // SAFETY: 0 <= capacity, and no byte needs to be initialised for length 0.
        unsafe { self.set_len(0) };
        let ptr = self.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: the first `len` bytes were initialised a moment ago and have not
        // been touched; len <= capacity.
        unsafe { self.set_len(len) };
        ptr
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        if n > self.len() {
            // SAFETY: the caller promises n <= capacity and that the first n bytes
            // are initialised.
            unsafe { self.set_len(n) };
        }
    }
}

/// With feature `bytes`: a `Bytes` is immutable and its bytes never move (heap or
/// static memory), so the kernel can read them — for a write or a send — while
/// other clones of the same `Bytes` are read too.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{OwnedRing, ops};
/// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
/// let mut ring = OwnedRing::new(2)?;
/// let data = bytes::Bytes::from_static(b"hello");
/// let id = ring.submit_op(ops::Write::new(w, data.clone(), 0))?;
/// let (n, back) = ring.wait_for(id)?;
/// assert_eq!((n?, back), (5, data));
/// let mut got = [0u8; 5];
/// r.read_exact(&mut got)?;
/// assert_eq!(&got, b"hello");
/// # Ok::<(), std::io::Error>(())
/// ```
// SAFETY: a Bytes' `len()` bytes are in static memory or in a heap allocation that
// the handle (and its clones) keep alive, at an address moving the handle does not
// change; no safe API writes them while any handle exists (`try_into_mut` succeeds
// only for the last handle, which the operation owns and does not convert).
#[cfg(feature = "bytes")]
unsafe impl IoBuf for bytes::Bytes {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len()
    }
}

/// A range of an owned buffer, made by [`IoBuf::slice`]: the operation reads or
/// writes only bytes `begin..end`, and [`into_inner`](Self::into_inner) gives the
/// whole buffer back.
///
/// Reading into a slice that starts at or before the buffer's initialised length
/// extends that length over what was read; a slice that starts past it leaves the
/// length alone (the gap before it is still uninitialised).
///
/// ```
/// use uring::owned::{IoBuf, IoBufMut};
/// let mut s = Vec::<u8>::with_capacity(8).slice(0..4);
/// assert_eq!((s.bytes_init(), s.bytes_total()), (0, 4));
/// unsafe {
///     s.stable_mut_ptr().write_bytes(7, 4);
///     s.set_init(4);
/// }
/// assert_eq!(s.into_inner(), [7, 7, 7, 7]);
/// ```
#[derive(Debug)]
pub struct Slice<T> {
    buf: T,
    begin: usize,
    end: usize,
}

impl<T> Slice<T> {
    /// Where the range starts in the buffer.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Where the range ends (exclusive).
    pub fn end(&self) -> usize {
        self.end
    }

    /// The whole buffer.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// Gives the whole buffer back.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

// SAFETY: the pointer is the inner buffer's stable pointer offset by `begin`, and
// `begin <= end <= inner.bytes_total()` (checked in `slice`, and the inner numbers do
// not change while the slice owns it), so the range lies inside the inner buffer's
// memory; the initialised part is the intersection with the inner one's.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.buf.stable_ptr().wrapping_add(self.begin)
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.buf
            .bytes_init()
            .min(self.end)
            .saturating_sub(self.begin)
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.end - self.begin
    }
}

// SAFETY: as for IoBuf; writes through the pointer stay inside begin..end of the
// inner buffer, which the slice owns exclusively. set_init forwards only when the
// bytes before `begin` are already initialised.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.buf.stable_mut_ptr().wrapping_add(self.begin)
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        if self.begin <= self.buf.bytes_init() {
            // SAFETY: bytes 0..begin were initialised already, begin..begin+n just
            // now (the caller's promise), and begin + n <= end <= inner total.
            unsafe { self.buf.set_init(self.begin + n) };
        }
    }
}

/// A length as the kernel's 32-bit `len` field, capped at
/// [`MAX_IO_LEN`](crate::op::MAX_IO_LEN) (`0x7fff_f000`): reads and writes cap a
/// request there themselves, but the socket operations refuse a `len` above
/// `INT_MAX` with `EINVAL`, so a 2 GiB buffer would fail a receive that has
/// bytes to give. (As a count — of iovecs — the cap never matters: the kernel
/// refuses more than 1024.)
#[inline]
pub(crate) fn len32(n: usize) -> u32 {
    // One comparison: MAX_IO_LEN fits a u32.
    n.min(crate::op::MAX_IO_LEN as usize) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slice_of_uninitialised_tail_does_not_grow_len() {
        let mut s = Vec::<u8>::with_capacity(8).slice(4..8);
        // SAFETY: the slice's 4 bytes are writable; they are written before set_init.
        unsafe {
            s.stable_mut_ptr().write_bytes(1, 4);
            s.set_init(4);
        }
        assert!(s.into_inner().is_empty());
    }

    #[test]
    fn slice_init_is_clamped() {
        let v = vec![1u8, 2, 3];
        let mut v2 = v.clone();
        v2.reserve(10);
        let s = v2.slice(2..6);
        assert_eq!((s.bytes_init(), s.bytes_total()), (1, 4));
        assert_eq!(v.slice(..).bytes_init(), 3);
    }

    #[test]
    fn lengths_are_capped_where_socket_ops_would_refuse_them() {
        assert_eq!(len32(5), 5);
        assert_eq!(len32(0x7fff_f000), 0x7fff_f000);
        assert_eq!(len32(1 << 31), 0x7fff_f000);
        assert_eq!(len32(usize::MAX), 0x7fff_f000);
    }

    #[test]
    #[should_panic(expected = "past the buffer")]
    fn slice_past_end_panics() {
        let _ = vec![0u8; 2].slice(0..3);
    }
}
