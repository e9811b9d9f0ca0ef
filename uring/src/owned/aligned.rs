//! [`AlignedBuf`]: an owned byte buffer whose start is aligned to a power of two.

use super::{IoBuf, IoBufMut};
use crate::error;
use crate::mem::AlignedAlloc;
use core::fmt;
use core::ops::{Deref, DerefMut};
use std::alloc::Layout;
use std::io;

/// A heap buffer of bytes that starts at a multiple of `align`: for `O_DIRECT`
/// files (which want the buffer, offset and length aligned to the device's logical
/// block size) and for speed (the kernel copies a page cache page into a
/// page-aligned buffer faster than into one that straddles two pages).
///
/// It behaves like a `Vec<u8>` that cannot grow: a length (the bytes that hold
/// data, what `Deref` shows) within a fixed capacity. As an [`IoBufMut`] the kernel
/// may write the whole capacity, and the operation then sets the length to what it
/// reported.
///
/// ```
/// use uring::owned::{AlignedBuf, OwnedRing, SharedFd, ops};
///
/// let buf = AlignedBuf::with_capacity(4096, 4096)?;
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// assert!(buf.is_empty());
///
/// let mut ring = OwnedRing::new(4)?;
/// let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
/// let id = ring.submit_op(ops::Read::new(&file, buf, 0))?;
/// let (res, buf) = ring.wait_for(id)?;
/// assert_eq!(buf.len(), res?);
/// assert!(buf.iter().any(|b| b.is_ascii_digit()));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AlignedBuf {
    /// The allocation, of the capacity and alignment (dangling but aligned when
    /// the capacity is 0). An AlignedBuf owns it exclusively, as a `Vec<u8>` does
    /// its own: `&AlignedBuf` gives only shared reads, which is why it is `Sync`
    /// (and `Send`) as `AlignedAlloc` is.
    mem: AlignedAlloc,
    len: usize,
}

impl AlignedBuf {
    /// An empty buffer with room for `capacity` bytes, starting at a multiple of
    /// `align`. The bytes are not initialised: only what is written (by
    /// [`extend_from_slice`](Self::extend_from_slice) or by the kernel) counts.
    ///
    /// ```
    /// let buf = uring::owned::AlignedBuf::with_capacity(8192, 512)?;
    /// assert_eq!((buf.len(), buf.capacity(), buf.align()), (0, 8192, 512));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` when `align` is not a power of two, or `capacity` rounded up to
    /// `align` overflows `isize`; `ENOMEM` when the allocation fails.
    pub fn with_capacity(capacity: usize, align: usize) -> io::Result<AlignedBuf> {
        AlignedBuf::allocate(capacity, align, false)
    }

    /// A buffer of `len` zero bytes (its length and capacity), starting at a
    /// multiple of `align`.
    ///
    /// ```
    /// let buf = uring::owned::AlignedBuf::zeroed(100, 64)?;
    /// assert_eq!(buf.len(), 100);
    /// assert!(buf.iter().all(|&b| b == 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`with_capacity`](Self::with_capacity).
    pub fn zeroed(len: usize, align: usize) -> io::Result<AlignedBuf> {
        let mut buf = AlignedBuf::allocate(len, align, true)?;
        buf.len = len;
        Ok(buf)
    }

    /// A buffer holding a copy of `data`, starting at a multiple of `align`, with
    /// capacity `data.len()`.
    ///
    /// ```
    /// let buf = uring::owned::AlignedBuf::from_slice(b"hello", 4096)?;
    /// assert_eq!(&buf[..], b"hello");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`with_capacity`](Self::with_capacity).
    pub fn from_slice(data: &[u8], align: usize) -> io::Result<AlignedBuf> {
        let mut buf = AlignedBuf::allocate(data.len(), align, false)?;
        buf.extend_from_slice(data)?;
        Ok(buf)
    }

    fn allocate(capacity: usize, align: usize, zeroed: bool) -> io::Result<AlignedBuf> {
        let layout = Layout::from_size_align(capacity, align).map_err(|_| {
            error::with_context(
                libc::EINVAL,
                format!(
                    "AlignedBuf: alignment {align} is not a power of two, or capacity \
                     {capacity} rounded up to it is too large"
                ),
            )
        })?;
        let mem = AlignedAlloc::new(layout, zeroed).ok_or_else(|| {
            error::with_context(
                libc::ENOMEM,
                format!("AlignedBuf: cannot allocate {capacity} bytes aligned to {align}"),
            )
        })?;
        Ok(AlignedBuf { mem, len: 0 })
    }

    /// How many bytes the buffer can hold.
    ///
    /// ```
    /// let buf = uring::owned::AlignedBuf::with_capacity(512, 512)?;
    /// assert_eq!(buf.capacity(), 512);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.mem.size()
    }

    /// The alignment of the buffer's start.
    ///
    /// ```
    /// let buf = uring::owned::AlignedBuf::with_capacity(512, 4096)?;
    /// assert_eq!(buf.align(), 4096);
    /// assert_eq!(buf.as_ptr() as usize % 4096, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn align(&self) -> usize {
        self.mem.align()
    }

    /// Appends `data` after the current length.
    ///
    /// ```
    /// let mut buf = uring::owned::AlignedBuf::with_capacity(8, 8)?;
    /// buf.extend_from_slice(b"abc")?;
    /// buf.extend_from_slice(b"de")?;
    /// assert_eq!(&buf[..], b"abcde");
    /// assert!(buf.extend_from_slice(b"too long").is_err());
    /// assert_eq!(&buf[..], b"abcde");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOBUFS` when `data` does not fit the remaining capacity; nothing is
    /// appended then.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() > self.mem.size() - self.len {
            return Err(error::with_context(
                libc::ENOBUFS,
                format!(
                    "AlignedBuf: {} bytes do not fit: {} of {} are in use",
                    data.len(),
                    self.len,
                    self.mem.size()
                ),
            ));
        }
        // SAFETY: len + data.len() <= cap, so the destination lies inside the
        // allocation; `data` is a borrowed slice, so it cannot overlap memory this
        // buffer owns exclusively (we hold `&mut self`).
        unsafe {
            core::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.mem.as_ptr().add(self.len),
                data.len(),
            );
        }
        self.len += data.len();
        Ok(())
    }

    /// Shortens the buffer to `len` bytes (no effect when it is not longer).
    ///
    /// ```
    /// let mut buf = uring::owned::AlignedBuf::from_slice(b"hello", 16)?;
    /// buf.truncate(2);
    /// assert_eq!(&buf[..], b"he");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Empties the buffer (the capacity stays).
    ///
    /// ```
    /// let mut buf = uring::owned::AlignedBuf::zeroed(16, 16)?;
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// assert_eq!(buf.capacity(), 16);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of the allocation are initialised (every
        // way of growing `len` writes them first), and `ptr` is valid and aligned
        // for them; for cap 0 a dangling pointer is valid for the 0 bytes.
        unsafe { core::slice::from_raw_parts(self.mem.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.mem.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Clone for AlignedBuf {
    /// A copy with the same bytes, capacity and alignment.
    fn clone(&self) -> AlignedBuf {
        let mut copy = AlignedBuf::with_capacity(self.mem.size(), self.mem.align())
            .unwrap_or_else(|_| std::alloc::handle_alloc_error(self.mem.layout()));
        copy.extend_from_slice(self)
            .expect("the copy has the original's capacity");
        copy
    }
}

impl PartialEq for AlignedBuf {
    /// Equal when the bytes are (capacity and alignment aside).
    fn eq(&self, other: &AlignedBuf) -> bool {
        **self == **other
    }
}

impl Eq for AlignedBuf {}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.mem.size())
            .field("align", &self.mem.align())
            .finish()
    }
}

// SAFETY: the bytes live in the buffer's own heap allocation, which moving the
// AlignedBuf does not move; the pointer, length and capacity change only through
// `&mut`. The first `len` bytes are initialised.
unsafe impl IoBuf for AlignedBuf {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.mem.as_ptr()
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.mem.size()
    }
}

// SAFETY: as for IoBuf; the buffer owns its allocation exclusively, and all `cap`
// bytes are writable memory of it.
unsafe impl IoBufMut for AlignedBuf {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.mem.as_ptr()
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        // The caller promises n <= capacity and that the first n bytes were
        // written; the length never shrinks here, as for Vec.
        if n > self.len {
            self.len = n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_four_words() {
        // A pointer, a size, an alignment and a length: each move of a buffer
        // (into an operation, out with its output) copies this much.
        assert_eq!(size_of::<AlignedBuf>(), 4 * size_of::<usize>());
    }

    #[test]
    fn rejects_bad_alignment() {
        for align in [0usize, 3, 4095] {
            let err = AlignedBuf::with_capacity(16, align).unwrap_err();
            assert_eq!(error::errno(&err), Some(libc::EINVAL), "align {align}");
            assert!(err.to_string().contains("power of two"), "{err}");
        }
        let err = AlignedBuf::with_capacity(usize::MAX - 10, 4096).unwrap_err();
        assert_eq!(error::errno(&err), Some(libc::EINVAL));
    }

    #[test]
    fn zero_capacity_is_aligned_and_empty() {
        let mut buf = AlignedBuf::with_capacity(0, 4096).unwrap();
        assert_eq!(buf.as_ptr() as usize % 4096, 0);
        assert!(buf.is_empty());
        assert_eq!(buf.extend_from_slice(b"").ok(), Some(()));
        let err = buf.extend_from_slice(b"x").unwrap_err();
        assert_eq!(error::errno(&err), Some(libc::ENOBUFS));
        let copy = buf.clone();
        assert_eq!(copy, buf);
    }

    #[test]
    fn alignment_holds_for_many_sizes() {
        for (cap, align) in [(1, 1), (7, 8), (100, 512), (5000, 4096), (1 << 20, 1 << 16)] {
            let buf = AlignedBuf::zeroed(cap, align).unwrap();
            assert_eq!(buf.as_ptr() as usize % align, 0, "{cap}/{align}");
            assert_eq!(buf.len(), cap);
            let clone = buf.clone();
            assert_eq!(clone.as_ptr() as usize % align, 0);
            assert_eq!(clone, buf);
        }
    }

    #[test]
    fn set_init_grows_never_shrinks() {
        let mut buf = AlignedBuf::from_slice(b"abcd", 4).unwrap();
        // SAFETY: 2 <= capacity and those bytes are initialised.
        unsafe { buf.set_init(2) };
        assert_eq!(&buf[..], b"abcd");
        buf.truncate(1);
        // SAFETY: the first 4 bytes were written by from_slice.
        unsafe { buf.set_init(4) };
        assert_eq!(&buf[..], b"abcd");
    }
}
