//! The crate's two owners of raw memory, each the one place its `unsafe` is written:
//!
//! * [`Mmap`]: a mapping made by `mmap(2)` — anonymous (ring memory of `NO_MMAP`
//!   rings, provided-buffer rings, send queues) or of the kernel's ring memory
//!   through an io_uring descriptor — unmapped on drop unless [leaked](Mmap::leak);
//! * [`AlignedAlloc`]: a heap allocation at a chosen alignment (`AlignedBuf`, the
//!   registered buffers of `FixedBufs`), freed on drop unless
//!   [leaked](AlignedAlloc::leak).
//!
//! Both hand out raw pointers only, never references: the kernel may read or write
//! the bytes at any time, so whoever owns one of these says (in its own `SAFETY`
//! comments) when the bytes may be touched. Leaking is how an owner keeps memory
//! the kernel may still use from being freed under it.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The system's page size (at least 4096).
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page.max(4096)) as usize
}

/// `len` rounded up to whole pages; `None` on overflow.
pub(crate) fn round_to_pages(len: usize) -> Option<usize> {
    let page = page_size();
    Some(len.checked_add(page - 1)? & !(page - 1))
}

/// One mapping made by `mmap(2)`: page-aligned, readable and writable, populated
/// up front (`MAP_POPULATE`), unmapped on drop unless [leaked](Self::leak).
pub(crate) struct Mmap {
    ptr: NonNull<u8>,
    /// Whole pages.
    len: usize,
    /// Never unmapped: the kernel may still use it.
    leaked: bool,
}

// SAFETY: an Mmap owns its mapping as a Box<[u8]> owns its allocation, and gives
// out only raw pointers (and its length): nothing about it is tied to a thread, and
// `&Mmap` reaches no bytes. Whoever writes through the pointers synchronises.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// `len` bytes (rounded up to whole pages) of zeroed anonymous memory, private to
    /// this process (`MAP_PRIVATE`) or shared with its children (`MAP_SHARED`), with
    /// `extra` mmap flags (`MAP_HUGETLB`, …).
    ///
    /// # Errors
    ///
    /// `EINVAL` for a length of 0 or one that overflows when rounded; mmap's errno
    /// otherwise (`ENOMEM`: no memory, or no huge pages). Without context: callers
    /// say what the memory was for.
    pub(crate) fn anonymous(len: usize, shared: bool, extra: i32) -> io::Result<Mmap> {
        let share = if shared {
            libc::MAP_SHARED
        } else {
            libc::MAP_PRIVATE
        };
        // SAFETY: an anonymous mapping (fd -1, offset 0) names no file.
        unsafe { Mmap::map(len, share | libc::MAP_ANONYMOUS | extra, -1, 0) }
    }

    /// A shared mapping of `len` bytes of the kernel's memory behind `fd` at
    /// `offset` (an io_uring descriptor and one of its `IORING_OFF_*` offsets).
    ///
    /// # Errors
    ///
    /// As for [`anonymous`](Self::anonymous); the kernel's errno when `fd` has no
    /// memory at `offset` (`EINVAL`, `ENOENT`, …).
    pub(crate) fn of_fd(fd: BorrowedFd<'_>, len: usize, offset: i64) -> io::Result<Mmap> {
        // SAFETY: `fd` is a live descriptor for the call; what it maps is the
        // kernel's memory, which outlives the mapping (a mapping holds its file).
        unsafe { Mmap::map(len, libc::MAP_SHARED, fd.as_raw_fd(), offset) }
    }

    /// # Safety
    ///
    /// `fd` is -1 (with `MAP_ANONYMOUS` in `flags`) or a live descriptor; `flags`
    /// hold no `MAP_FIXED` (the new mapping must alias nothing).
    unsafe fn map(len: usize, flags: i32, fd: i32, offset: i64) -> io::Result<Mmap> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = round_to_pages(len).ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a fresh mapping at an address of the kernel's choosing (no
        // MAP_FIXED, by this function's contract): it aliases nothing of ours.
        let p = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags | libc::MAP_POPULATE,
                fd,
                offset,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mmap {
            // mmap never returns null on success without MAP_FIXED.
            ptr: NonNull::new(p.cast()).expect("mmap returned null"),
            len,
            leaked: false,
        })
    }

    /// The first byte (page-aligned).
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length in bytes: whole pages.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Never unmaps the mapping, for memory the kernel may still use. Its pointer
    /// stays valid for the rest of the process.
    pub(crate) fn leak(&mut self) {
        self.leaked = true;
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        if self.leaked {
            return;
        }
        // SAFETY: ptr/len are exactly one mapping made in `map`, unmapped once, here.
        // Its owner drops it only once the kernel no longer uses it (or leaks it).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// One heap allocation of a [`Layout`] (any size, a power-of-two alignment), freed
/// on drop unless [leaked](Self::leak). Of size 0 it allocates nothing: its pointer
/// is dangling but aligned.
///
/// Three words (a pointer and a layout): every owner that moves one (an
/// `AlignedBuf`, in and out of an operation) copies no more.
pub(crate) struct AlignedAlloc {
    /// From `alloc`/`alloc_zeroed` with `layout`; dangling (`layout.align()`) when
    /// the size is 0 (or the allocation was leaked).
    ptr: NonNull<u8>,
    /// The allocation's layout, of size 0 once it is leaked: a size of 0 is never
    /// freed.
    layout: Layout,
}

// SAFETY: an AlignedAlloc owns its allocation as a Box<[u8]> does and gives out only
// raw pointers: nothing about it is tied to a thread, and `&AlignedAlloc` reaches no
// bytes. Whoever writes through the pointer synchronises.
unsafe impl Send for AlignedAlloc {}
// SAFETY: as above.
unsafe impl Sync for AlignedAlloc {}

impl AlignedAlloc {
    /// Allocates `layout` (zeroed if `zeroed`; otherwise the bytes are
    /// uninitialised). `None` when the allocator has no memory: callers say what
    /// the memory was for.
    pub(crate) fn new(layout: Layout, zeroed: bool) -> Option<AlignedAlloc> {
        let ptr = if layout.size() == 0 {
            // Valid for zero bytes and aligned; never freed.
            NonNull::new(core::ptr::without_provenance_mut::<u8>(layout.align()))
                .expect("an alignment is not zero")
        } else {
            // SAFETY: the layout's size is not zero.
            let raw = unsafe {
                if zeroed {
                    std::alloc::alloc_zeroed(layout)
                } else {
                    std::alloc::alloc(layout)
                }
            };
            NonNull::new(raw)?
        };
        Some(AlignedAlloc { ptr, layout })
    }

    /// The first byte, at a multiple of the alignment.
    #[inline]
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The size in bytes.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.layout.size()
    }

    /// The layout it was allocated with.
    #[inline]
    pub(crate) fn layout(&self) -> Layout {
        self.layout
    }

    /// The alignment in bytes (a power of two).
    #[inline]
    pub(crate) fn align(&self) -> usize {
        self.layout.align()
    }

    /// Never frees the allocation, for memory the kernel may still use. Its pointer
    /// stays valid for the rest of the process; its [`size`](Self::size) is 0 from
    /// now on (the allocation is forgotten, and nothing of size 0 is freed).
    pub(crate) fn leak(&mut self) {
        self.layout = Layout::from_size_align(0, self.layout.align())
            .expect("a layout's alignment makes a layout of size 0");
    }
}

impl Drop for AlignedAlloc {
    fn drop(&mut self) {
        if self.layout.size() == 0 {
            return;
        }
        // SAFETY: ptr came from `alloc`/`alloc_zeroed` with this layout in `new` and
        // is freed once, here. Its owner drops it only once the kernel no longer
        // uses it (or leaks it).
        unsafe { std::alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

    /// Whether the page at `p` is mapped (`mincore` fails with `ENOMEM` on a hole).
    fn mapped(p: *mut u8) -> bool {
        let mut vec = 0u8;
        // SAFETY: mincore reads no memory of ours and writes one byte for one page.
        unsafe { libc::mincore(p.cast(), 1, &mut vec) == 0 }
    }

    #[test]
    fn anonymous_memory_is_whole_zeroed_writable_pages() {
        let page = page_size();
        for (len, shared) in [
            (1, false),
            (page, true),
            (page + 1, false),
            (3 * page, true),
        ] {
            let m = Mmap::anonymous(len, shared, 0).unwrap();
            assert_eq!(m.len(), len.div_ceil(page) * page, "{len}");
            assert_eq!(m.as_ptr() as usize % page, 0);
            // SAFETY: the mapping is m.len() readable and writable bytes, ours alone.
            let bytes = unsafe { core::slice::from_raw_parts_mut(m.as_ptr(), m.len()) };
            assert!(bytes.iter().all(|&b| b == 0));
            bytes.fill(0xa5);
            assert!(bytes.iter().all(|&b| b == 0xa5));
            assert!(mapped(m.as_ptr()));
        }
    }

    #[test]
    fn a_zero_or_overflowing_length_is_einval() {
        for len in [0, usize::MAX] {
            let err = Mmap::anonymous(len, false, 0).err().expect("refused");
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{len}");
        }
        assert_eq!(round_to_pages(usize::MAX), None);
        assert_eq!(round_to_pages(1), Some(page_size()));
    }

    #[test]
    fn a_leaked_mapping_stays() {
        let mut m = Mmap::anonymous(1, false, 0).unwrap();
        let (p, len) = (m.as_ptr(), m.len());
        m.leak();
        drop(m);
        assert!(mapped(p), "a leaked mapping is not unmapped");
        // SAFETY: p/len are the leaked mapping; nothing else refers to it.
        assert_eq!(unsafe { libc::munmap(p.cast(), len) }, 0);
    }

    #[test]
    fn a_descriptor_maps_shared() {
        // SAFETY: a new descriptor (or -1), owned below.
        let fd = unsafe { libc::memfd_create(c"uring-mem-test".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "{}", io::Error::last_os_error());
        // SAFETY: memfd_create returned a new descriptor nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // A memfd maps (its size is 0, but mapping beyond the end is allowed) and
        // the mapping is shared: what one view writes, the file holds.
        // SAFETY: a valid descriptor; ftruncate changes only the file's size.
        assert_eq!(unsafe { libc::ftruncate(fd.as_raw_fd(), 4096) }, 0);
        let m = Mmap::of_fd(fd.as_fd(), 4096, 0).unwrap();
        // SAFETY: the first byte of the mapping, ours alone.
        unsafe { m.as_ptr().write(7) };
        let mut b = [0u8; 1];
        // SAFETY: reads one byte into `b`, valid for one byte.
        let got = unsafe { libc::pread(fd.as_raw_fd(), b.as_mut_ptr().cast(), 1, 0) };
        assert_eq!(got, 1);
        assert_eq!(b[0], 7);
        // An offset that is not page-aligned is refused by mmap itself.
        let err = Mmap::of_fd(fd.as_fd(), 4096, 1).err().expect("refused");
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn allocations_are_aligned_and_zeroed_when_asked() {
        for align in [1, 8, 512, 4096, 65536] {
            for size in [0, 1, 100, 4096, 10000] {
                let layout = Layout::from_size_align(size, align).unwrap();
                let a = AlignedAlloc::new(layout, true).unwrap();
                assert_eq!(a.as_ptr() as usize % align, 0, "{size}/{align}");
                assert_eq!((a.size(), a.align()), (size, align));
                // SAFETY: `size` initialised (zeroed) bytes, ours alone.
                let bytes = unsafe { core::slice::from_raw_parts_mut(a.as_ptr(), size) };
                assert!(bytes.iter().all(|&b| b == 0), "{size}/{align}");
                bytes.fill(1);
                let b = AlignedAlloc::new(layout, false).unwrap();
                assert_eq!(b.as_ptr() as usize % align, 0);
                if size > 0 {
                    assert_ne!(a.as_ptr(), b.as_ptr(), "two live allocations");
                }
            }
        }
    }

    #[test]
    fn no_memory_is_none_not_an_abort() {
        // More than any machine has: the allocator says no.
        let layout = Layout::from_size_align(isize::MAX as usize - 4095, 4096).unwrap();
        assert!(AlignedAlloc::new(layout, true).is_none());
        assert!(AlignedAlloc::new(layout, false).is_none());
    }

    #[test]
    fn a_leaked_allocation_is_not_freed() {
        let layout = Layout::from_size_align(64, 64).unwrap();
        let mut a = AlignedAlloc::new(layout, true).unwrap();
        let p = a.as_ptr();
        a.leak();
        // Forgotten: nothing of size 0 is freed.
        assert_eq!((a.size(), a.align()), (0, 64));
        drop(a);
        // Still ours: readable, and freed here exactly once.
        // SAFETY: the leaked allocation of `layout`, zeroed, referred to by no one.
        unsafe {
            assert_eq!(*p.add(63), 0);
            std::alloc::dealloc(p, layout);
        }
    }
}
