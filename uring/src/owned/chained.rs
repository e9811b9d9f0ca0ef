//! [`ChainedBuf`]: one buffer for two operations of a linked chain — a read that
//! fills it and the write, linked after it, that drains it.

use super::{IoBuf, IoBufMut};
use core::fmt;
use core::ptr::NonNull;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A zeroed buffer split in two handles: a [`Fill`] (an [`IoBufMut`], for the
/// read) and a [`Drain`] (an [`IoBuf`], for the write), so that a read and the write
/// of the same bytes can go to the kernel as one linked chain — the write starts
/// only after the read has filled the buffer, without a round trip through user
/// space.
///
/// Neither handle shows the bytes. They come back as a `Vec<u8>` only from
/// [`join`](Self::join), when both handles are back from their operations, so no
/// code in this process can look at memory the kernel is writing. (If the two are
/// given to operations that are *not* linked read-then-write, the kernel may read
/// the bytes while it writes them: the data written is then unspecified, but
/// nothing unsound can happen here.)
///
/// The drain always covers the whole buffer. A read that returns fewer bytes than
/// the buffer holds breaks the link on the kernels tested here (the write then
/// completes with `ECANCELED`): [`join`](Self::join) gives the bytes read, to write
/// them on their own.
///
/// ```
/// use std::io::Write;
/// use uring::owned::{ChainedBuf, OwnedRing, SharedFd, ops};
///
/// let dir = std::env::temp_dir();
/// let (src, dst) = (dir.join("chained-doc-src"), dir.join("chained-doc-dst"));
/// std::fs::write(&src, b"0123456789")?;
/// let input = SharedFd::from(std::fs::File::open(&src)?);
/// let output = SharedFd::from(std::fs::File::create(&dst)?);
///
/// let mut ring = OwnedRing::new(4)?;
/// let (fill, drain) = ChainedBuf::zeroed(10);
/// let (r, w) = ring.submit_linked((
///     ops::Read::new(&input, fill, 0),
///     ops::Write::new(&output, drain, 0),
/// ))?;
/// let (read, fill) = ring.wait_for(r)?;
/// let (written, drain) = ring.wait_for(w)?;
/// assert_eq!((read?, written?), (10, 10));
/// assert_eq!(std::fs::read(&dst)?, b"0123456789");
/// assert_eq!(ChainedBuf::join(fill, drain).unwrap(), b"0123456789");
/// # std::fs::remove_file(&src)?;
/// # std::fs::remove_file(&dst)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ChainedBuf {
    _private: (),
}

/// The bytes both handles point at.
struct Shared {
    /// A leaked `Box<[u8]>`, freed when the last handle goes.
    bytes: NonNull<[u8]>,
    /// How many bytes, from the start, a read reported written (`set_init`).
    filled: AtomicUsize,
}

// SAFETY: `Shared` owns its allocation; this process reads or writes the bytes only
// in `join`, which requires that no other handle exists (Arc::try_unwrap). The
// kernel's accesses are not Rust accesses. `filled` is atomic.
unsafe impl Send for Shared {}
// SAFETY: as above: `&Shared` gives access only to the pointer and `filled`.
unsafe impl Sync for Shared {}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: `bytes` came from `Box::into_raw` in `zeroed` and this is the last
        // handle (the Arc's count reached zero), so no operation holds it any more.
        drop(unsafe { Box::from_raw(self.bytes.as_ptr()) });
    }
}

/// The half of a [`ChainedBuf`] that a read fills (an [`IoBufMut`]).
pub struct Fill(Arc<Shared>);

/// The half of a [`ChainedBuf`] that a write drains (an [`IoBuf`] of the whole
/// buffer).
pub struct Drain(Arc<Shared>);

impl ChainedBuf {
    /// A buffer of `len` zero bytes, as its two handles.
    ///
    /// ```
    /// use uring::owned::{ChainedBuf, IoBuf};
    /// let (fill, drain) = ChainedBuf::zeroed(4096);
    /// assert_eq!(fill.bytes_total(), 4096);
    /// assert_eq!(drain.bytes_init(), 4096);
    /// ```
    pub fn zeroed(len: usize) -> (Fill, Drain) {
        let bytes = NonNull::from(Box::leak(vec![0u8; len].into_boxed_slice()));
        let shared = Arc::new(Shared {
            bytes,
            filled: AtomicUsize::new(0),
        });
        (Fill(shared.clone()), Drain(shared))
    }

    /// The bytes, once both handles are back: the first `n` of them, where `n` is
    /// what the read reported (0 if no read filled it). Gives the handles back when
    /// they are of different buffers.
    ///
    /// ```
    /// use uring::owned::ChainedBuf;
    /// let (fill_a, drain_a) = ChainedBuf::zeroed(8);
    /// let (fill_b, drain_b) = ChainedBuf::zeroed(8);
    /// let (fill_a, drain_b) = ChainedBuf::join(fill_a, drain_b).unwrap_err();
    /// assert_eq!(ChainedBuf::join(fill_a, drain_a).unwrap(), b"");
    /// assert!(ChainedBuf::join(fill_b, drain_b).unwrap().is_empty());
    /// ```
    #[allow(clippy::result_large_err)]
    pub fn join(fill: Fill, drain: Drain) -> Result<Vec<u8>, (Fill, Drain)> {
        if !Arc::ptr_eq(&fill.0, &drain.0) {
            return Err((fill, drain));
        }
        drop(drain);
        let shared = match Arc::try_unwrap(fill.0) {
            Ok(shared) => shared,
            Err(_) => unreachable!("a buffer has exactly two handles"),
        };
        let filled = shared.filled.load(Ordering::Acquire);
        let bytes = shared.bytes;
        core::mem::forget(shared);
        // SAFETY: `bytes` came from `Box::into_raw` (via leak) in `zeroed`; both
        // handles are gone, so this is the only owner, and `Shared`'s drop (which
        // would free it) was skipped by the forget above.
        let mut vec = unsafe { Box::from_raw(bytes.as_ptr()) }.into_vec();
        vec.truncate(filled);
        Ok(vec)
    }
}

impl Fill {
    /// Whether `drain` is the other half of this buffer.
    ///
    /// ```
    /// let (fill, drain) = uring::owned::ChainedBuf::zeroed(8);
    /// assert!(fill.pairs_with(&drain));
    /// ```
    pub fn pairs_with(&self, drain: &Drain) -> bool {
        Arc::ptr_eq(&self.0, &drain.0)
    }
}

impl fmt::Debug for ChainedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainedBuf")
    }
}

impl fmt::Debug for Fill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fill")
            .field("len", &self.0.bytes.len())
            .field("filled", &self.0.filled.load(Ordering::Relaxed))
            .finish()
    }
}

impl fmt::Debug for Drain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drain")
            .field("len", &self.0.bytes.len())
            .finish()
    }
}

// SAFETY: the bytes live in a heap allocation that moving the handle does not
// move, and that stays allocated while this handle lives (it holds the Arc). All
// of them are initialised (zeroed at creation). No code in this process writes
// them while the handle lives: the only Rust access is `ChainedBuf::join`, which
// consumes both handles. The kernel may write them through the paired `Fill`
// (that is the point: the read's link orders it before the write).
unsafe impl IoBuf for Drain {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.0.bytes.as_ptr() as *const u8
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.0.bytes.len()
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.0.bytes.len()
    }
}

// SAFETY: as for Drain: a stable heap allocation, kept alive by this handle, that
// no code in this process reads or writes while the handle lives. `bytes_init`
// counts what a read reported; all bytes are initialised anyway.
unsafe impl IoBuf for Fill {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.0.bytes.as_ptr() as *const u8
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.0.filled.load(Ordering::Acquire)
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.0.bytes.len()
    }
}

// SAFETY: as above; the allocation is writable (it came from a Box<[u8]>), and the
// only other handle, the Drain, never writes it.
unsafe impl IoBufMut for Fill {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.0.bytes.as_ptr() as *mut u8
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        self.0.filled.fetch_max(n, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_gives_the_filled_prefix() {
        let (mut fill, drain) = ChainedBuf::zeroed(6);
        // SAFETY: the buffer is zeroed, so its first 3 bytes are initialised.
        unsafe { fill.set_init(3) };
        assert_eq!(fill.bytes_init(), 3);
        assert_eq!(drain.bytes_init(), 6);
        let v = ChainedBuf::join(fill, drain).unwrap();
        assert_eq!(v, [0, 0, 0]);
        assert_eq!(v.capacity(), 6);
    }

    #[test]
    fn halves_of_different_buffers_do_not_join() {
        let (f1, d1) = ChainedBuf::zeroed(1);
        let (f2, d2) = ChainedBuf::zeroed(1);
        assert!(!f1.pairs_with(&d2));
        let (f1, d2) = ChainedBuf::join(f1, d2).unwrap_err();
        assert!(ChainedBuf::join(f2, d2).is_ok());
        assert!(ChainedBuf::join(f1, d1).is_ok());
    }

    #[test]
    fn either_half_keeps_the_bytes_alive() {
        let (fill, drain) = ChainedBuf::zeroed(16);
        let p = drain.stable_ptr();
        drop(fill);
        assert_eq!(drain.stable_ptr(), p);
        assert_eq!(Arc::strong_count(&drain.0), 1);
    }
}
