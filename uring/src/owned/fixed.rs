//! Registered ("fixed") buffers for the safe layer: memory the kernel has pinned
//! once, up front, so that reads and writes into it skip the per-request page
//! lookup.

use core::alloc::Layout;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use super::host::{self, SafeRing};
use super::{IoBuf, IoBufMut, Slice};
#[cfg(doc)]
use super::{ReadFixed, WriteFixed};
use crate::error;
use crate::mem::AlignedAlloc;
use crate::setup::Features;
use crate::sys;

/// The most buffers one table may hold (the kernel's `IORING_MAX_REG_BUFFERS`).
///
/// ```
/// # let mut ring = uring::owned::OwnedRing::new(4)?;
/// use uring::owned::{FixedBufs, MAX_FIXED_BUFS};
/// assert!(FixedBufs::new(&mut ring, MAX_FIXED_BUFS + 1, 64).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MAX_FIXED_BUFS: u16 = 1 << 14;

/// The largest registered buffer the kernel accepts: 1 GiB.
///
/// ```
/// # let mut ring = uring::owned::OwnedRing::new(4)?;
/// use uring::owned::{FixedBufs, MAX_FIXED_BUF_SIZE};
/// let err = FixedBufs::new(&mut ring, 1, MAX_FIXED_BUF_SIZE + 1).unwrap_err();
/// assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
/// # Ok::<(), std::io::Error>(())
/// ```
pub const MAX_FIXED_BUF_SIZE: usize = 1 << 30;

/// Alignment of the memory: 4 KiB, so buffers whose size is a multiple of it
/// start on a page boundary, as `O_DIRECT` reads and writes want.
const ALIGN: usize = 4096;

/// A set of equal-sized buffers registered with one safe ring (a [`SafeRing`]:
/// an [`OwnedRing`](super::OwnedRing) or a [`TypedRing`](super::TypedRing))
/// (`IORING_REGISTER_BUFFERS`, Linux 5.1): the ring's registered-buffer table.
///
/// The set owns the memory. [`get`](Self::get) hands out a free buffer as a
/// [`FixedBuf`]; fill it, give it to a [`WriteFixed`] (or read into it with a
/// [`ReadFixed`]), and it comes back with the result. Dropping a `FixedBuf`
/// returns it to the set.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{FixedBufs, OwnedRing, WriteFixed};
///
/// let mut ring = OwnedRing::new(4)?;
/// let bufs = FixedBufs::new(&mut ring, 2, 4096)?; // 2 buffers of 4 KiB
/// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
///
/// let mut buf = bufs.get().expect("a free buffer");
/// buf.extend_from_slice(b"hello")?;
/// let id = ring.submit_op(WriteFixed::new(w, buf, 0))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!(n?, 5);
/// let mut got = [0u8; 5];
/// r.read_exact(&mut got)?;
/// assert_eq!(&got, b"hello");
/// assert_eq!(bufs.available(), 1); // `buf` is still out…
/// drop(buf);
/// assert_eq!(bufs.available(), 2); // …and now back
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # One table per ring
///
/// io_uring keeps a single registered-buffer table per ring. While a `FixedBufs`
/// (or anything else) has one registered, registering another on the same ring
/// fails with `EBUSY`, and an error saying so. The table is unregistered when
/// the set's memory is freed: when the `FixedBufs`, every `FixedBuf` and every
/// operation using them are gone.
///
/// # Lifetimes
///
/// The set, its buffers and the operations using them share the memory through an
/// `Arc`: an operation in flight keeps it allocated (and registered) until its
/// final completion, whatever the caller drops — the `FixedBufs`, the ring (whose
/// drop waits for or leaks such operations, and a leaked operation keeps the
/// memory forever) — or [`mem::forget`](std::mem::forget)s (a forgotten
/// `FixedBuf` never returns to the set, and the memory is then never freed).
/// The set keeps its own duplicate of the ring's descriptor, so it can
/// unregister the table after the `OwnedRing` is gone; the kernel's ring lives
/// on until the set's memory is freed.
///
/// When the memory is freed the table is unregistered first; if that fails
/// (from another thread than a `SINGLE_ISSUER` ring's, say) the memory is leaked
/// rather than freed under the kernel. Before Linux 5.13, registering and
/// unregistering buffers waits until **every** request in flight on the ring has
/// completed; there, [`new`](Self::new) refuses (`EBUSY`) while operations are
/// in flight, and the memory is leaked instead of unregistered (a drop could
/// otherwise block forever behind, say, a read waiting for data) — the ring then
/// keeps that table, and a new set on the same ring gets `EBUSY`.
///
/// The memory is one zeroed, 4 KiB-aligned allocation: buffer `i` starts at
/// `i * size` bytes into it, so with a `size` that is a multiple of 4 KiB every
/// buffer suits `O_DIRECT`. The kernel counts the pinned pages against
/// `RLIMIT_MEMLOCK` on some kernels.
///
/// Replacing or unregistering the table by other means (the `unsafe`
/// [`OwnedRing::ring_mut`](super::OwnedRing::ring_mut)) while the set lives
/// makes its operations fail (`EFAULT` or `EINVAL` from the kernel), and its
/// drop may then unregister whatever table the ring has.
#[derive(Clone)]
pub struct FixedBufs {
    shared: Arc<FixedShared>,
}

/// What the set, its buffers and the operations using them share.
struct FixedShared {
    /// The ring the table is registered with.
    ring_id: u64,
    /// A duplicate of that ring's descriptor, to unregister through.
    ring_fd: OwnedFd,
    /// Whether unregistering waits only for requests using registered resources
    /// (`IORING_FEAT_RSRC_TAGS`, Linux 5.13), not for everything in flight.
    can_unregister: bool,
    /// `count * size` zeroed bytes, page-aligned: always initialised. The kernel
    /// reads and writes the buffers of operations in flight, so they are reached
    /// only through its pointer. Leaked when the table cannot be unregistered.
    mem: AlignedAlloc,
    size: usize,
    count: u16,
    /// Indices of the buffers no `FixedBuf` holds.
    free: Mutex<Vec<u16>>,
}

// SAFETY: the pointer is to memory the set owns and frees only in Drop. A buffer is
// reached only by the one FixedBuf holding its index (exclusively: an index is in
// `free` or in one FixedBuf, never both), or by the kernel while that FixedBuf is
// in an operation. The free list is behind a Mutex.
unsafe impl Send for FixedShared {}
// SAFETY: as above; `&FixedShared` reaches no buffer's bytes.
unsafe impl Sync for FixedShared {}

impl FixedBufs {
    /// Registers `count` buffers (1 to [`MAX_FIXED_BUFS`]) of `size` bytes each
    /// (1 to [`MAX_FIXED_BUF_SIZE`]) with `ring`, as its registered-buffer table.
    /// All are free to begin with, and zeroed.
    ///
    /// ```
    /// use uring::owned::{FixedBufs, OwnedRing};
    /// let mut ring = OwnedRing::new(4)?;
    /// let bufs = FixedBufs::new(&mut ring, 4, 512)?;
    /// assert_eq!((bufs.len(), bufs.buf_size(), bufs.available()), (4, 512, 4));
    /// // One table per ring:
    /// let err = FixedBufs::new(&mut ring, 1, 512).unwrap_err();
    /// assert_eq!(uring::error::errno(&err), Some(libc::EBUSY));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` for a count or size out of range; `EBUSY` if the ring already has
    /// a registered-buffer table, or (before Linux 5.13) has operations in flight;
    /// `EBADF` for a ring without a plain descriptor to duplicate
    /// (`REGISTERED_FD_ONLY`, or after [`close_ring_fd`](crate::Ring::close_ring_fd));
    /// `ENOMEM` when the memory cannot be allocated, or the kernel cannot pin it
    /// (`RLIMIT_MEMLOCK`); the kernel's errno otherwise.
    #[doc(alias = "io_uring_register_buffers")]
    pub fn new(ring: &mut impl SafeRing, count: u16, size: usize) -> io::Result<FixedBufs> {
        let host::Parts {
            ring,
            id: ring_id,
            in_flight,
            ..
        } = ring.host_parts();
        if count == 0 || count > MAX_FIXED_BUFS || size == 0 || size > MAX_FIXED_BUF_SIZE {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "a set of {count} registered buffers of {size} bytes (1..={MAX_FIXED_BUFS} \
                     buffers of 1..={MAX_FIXED_BUF_SIZE} bytes)"
                ),
            ));
        }
        let layout = (count as usize)
            .checked_mul(size)
            .and_then(|total| Layout::from_size_align(total, ALIGN).ok())
            .ok_or_else(|| {
                error::with_context(
                    libc::EINVAL,
                    format!("{count} registered buffers of {size} bytes is too much memory"),
                )
            })?;
        let can_unregister = ring.features().contains(Features::RSRC_TAGS);
        if !can_unregister && in_flight > 0 {
            return Err(error::with_context(
                libc::EBUSY,
                format!(
                    "registering buffers on this kernel (before Linux 5.13) waits for every \
                     request in flight, and {in_flight} operations are: register before submitting",
                ),
            ));
        }
        let ring_fd = super::fd::dup_ring_fd(ring, "registering buffers for the safe layer")?;
        let mem = AlignedAlloc::new(layout, true).ok_or_else(|| {
            error::with_context(
                libc::ENOMEM,
                format!("allocating {} bytes for registered buffers", layout.size()),
            )
        })?;
        let iovecs: Vec<libc::iovec> = (0..count as usize)
            .map(|i| libc::iovec {
                // SAFETY: i < count, so the offset is inside the count * size bytes.
                iov_base: unsafe { mem.as_ptr().add(i * size) }.cast(),
                iov_len: size,
            })
            .collect();
        // SAFETY: the iovecs describe `count` disjoint buffers inside the
        // allocation just made. The FixedShared built below owns it: it frees the
        // memory only after unregistering the table (or leaks it), and only once no
        // operation using a buffer is in flight — every such operation holds its
        // Arc. No one uses the memory for anything else.
        let registered = unsafe { ring.register_buffers(&iovecs) };
        if let Err(e) = registered {
            // The kernel refused the memory: `mem` frees it as it drops. (No
            // FixedShared exists yet: its drop would unregister the ring's table,
            // which is someone else's when the error is EBUSY.)
            return Err(match error::errno(&e) {
                Some(libc::EBUSY) => error::with_context(
                    libc::EBUSY,
                    "this ring already has a registered-buffer table (io_uring allows one \
                     per ring): drop the other FixedBufs, and its buffers and operations, first",
                ),
                Some(libc::ENOMEM) => error::with_context(
                    libc::ENOMEM,
                    format!(
                        "the kernel could not pin {} bytes of registered buffers (see \
                         RLIMIT_MEMLOCK)",
                        layout.size()
                    ),
                ),
                _ => e,
            });
        }
        let shared = FixedShared {
            ring_id,
            ring_fd,
            can_unregister,
            mem,
            size,
            count,
            free: Mutex::new((0..count).rev().collect()),
        };
        Ok(FixedBufs {
            shared: Arc::new(shared),
        })
    }

    /// A free buffer, empty (length 0, capacity [`buf_size`](Self::buf_size)), or
    /// `None` when all are out.
    ///
    /// ```
    /// use uring::owned::{FixedBufs, OwnedRing};
    /// let mut ring = OwnedRing::new(4)?;
    /// let bufs = FixedBufs::new(&mut ring, 1, 64)?;
    /// let a = bufs.get().unwrap();
    /// assert_eq!((a.index(), a.len(), a.capacity()), (0, 0, 64));
    /// assert!(bufs.get().is_none());
    /// drop(a);
    /// assert!(bufs.get().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn get(&self) -> Option<FixedBuf> {
        let index = self.shared.lock().pop()?;
        Some(FixedBuf {
            shared: Arc::clone(&self.shared),
            index,
            len: 0,
        })
    }

    /// How many buffers no [`FixedBuf`] holds.
    ///
    /// ```
    /// use uring::owned::{FixedBufs, OwnedRing};
    /// let mut ring = OwnedRing::new(4)?;
    /// let bufs = FixedBufs::new(&mut ring, 3, 64)?;
    /// let _a = bufs.get();
    /// assert_eq!(bufs.available(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn available(&self) -> usize {
        self.shared.lock().len()
    }

    /// The number of buffers.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 3, 64)?;
    /// assert_eq!(bufs.len(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn len(&self) -> usize {
        self.shared.count as usize
    }

    /// Whether the set has no buffers (never: [`new`](Self::new) refuses 0).
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 64)?;
    /// assert!(!bufs.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.shared.count == 0
    }

    /// The size of each buffer.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 100)?;
    /// assert_eq!(bufs.buf_size(), 100);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn buf_size(&self) -> usize {
        self.shared.size
    }
}

impl fmt::Debug for FixedBufs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufs")
            .field("count", &self.shared.count)
            .field("buf_size", &self.shared.size)
            .field("available", &self.available())
            .finish()
    }
}

impl FixedShared {
    fn lock(&self) -> MutexGuard<'_, Vec<u16>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The start of buffer `index`.
    fn ptr(&self, index: u16) -> *mut u8 {
        debug_assert!(index < self.count);
        // SAFETY: index < count, so the offset is inside the count * size bytes.
        unsafe { self.mem.as_ptr().add(index as usize * self.size) }
    }
}

impl Drop for FixedShared {
    fn drop(&mut self) {
        // Every operation that named a buffer held an Arc to this: all have
        // completed (a leaked one keeps the Arc, and this never runs), and no
        // FixedBuf is left. The kernel is done with the memory, but still has it
        // registered (pinned, named by index).
        if !self.can_unregister {
            // Before Linux 5.13 unregistering waits for everything in flight on
            // the ring, which may never complete: leak instead.
            self.mem.leak();
            return;
        }
        // SAFETY: ring_fd is our duplicate of the ring's descriptor;
        // UNREGISTER_BUFFERS takes no argument.
        let ret = unsafe {
            sys::io_uring_register(
                self.ring_fd.as_raw_fd() as u32,
                sys::IORING_UNREGISTER_BUFFERS,
                core::ptr::null(),
                0,
            )
        };
        // ENXIO: no table any more (it was unregistered by other means), so the
        // kernel no longer has this memory.
        if ret < 0 && ret != -libc::ENXIO {
            // Still registered (a SINGLE_ISSUER ring dropped on another thread,
            // …): leak the memory rather than free it under the kernel.
            self.mem.leak();
        }
        // Otherwise no longer registered and no operation uses it: `mem` frees it
        // as it drops.
    }
}

/// One buffer of a [`FixedBufs`] set: derefs to its first `len`
/// bytes, of [`capacity`](Self::capacity). Dropping it returns the buffer to the
/// set.
///
/// It is an [`IoBufMut`] like a `Vec` (reads extend the length over what they
/// read; writes send the first `len` bytes), so any operation takes it — and
/// [`ReadFixed`]/[`WriteFixed`] take it, or a [`Slice`] of it, as a registered
/// buffer. It may be sent to other threads and outlive the ring.
///
/// All of its bytes are initialised (zeroed when the set was made; afterwards
/// holding whatever was last written), so its length can be set freely up to the
/// capacity. A buffer handed out again keeps its old bytes, with length 0.
///
/// ```
/// use uring::owned::{FixedBufs, OwnedRing};
/// let mut ring = OwnedRing::new(4)?;
/// let bufs = FixedBufs::new(&mut ring, 1, 8)?;
/// let mut buf = bufs.get().unwrap();
/// buf.extend_from_slice(b"abc")?;
/// buf[0] = b'x';
/// assert_eq!(&buf[..], b"xbc");
/// buf.set_len(8)?;
/// assert_eq!(&buf[..], b"xbc\0\0\0\0\0");
/// assert!(buf.set_len(9).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct FixedBuf {
    shared: Arc<FixedShared>,
    index: u16,
    /// How many bytes count as data: <= size.
    len: usize,
}

impl FixedBuf {
    /// The buffer's index in the ring's registered-buffer table.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 2, 64)?;
    /// let (a, b) = (bufs.get().unwrap(), bufs.get().unwrap());
    /// assert_ne!(a.index(), b.index());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn index(&self) -> u16 {
        self.index
    }

    /// How many bytes the buffer holds at most (the set's
    /// [`buf_size`](FixedBufs::buf_size)).
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 64)?;
    /// assert_eq!(bufs.get().unwrap().capacity(), 64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn capacity(&self) -> usize {
        self.shared.size
    }

    /// Sets how many bytes, from the start, count as data. The bytes are whatever
    /// the buffer last held (zeroes at first).
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 4)?;
    /// let mut buf = bufs.get().unwrap();
    /// buf.set_len(4)?;
    /// buf.copy_from_slice(b"abcd");
    /// buf.set_len(2)?;
    /// assert_eq!(&buf[..], b"ab");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` when `len` exceeds the capacity (the length is then unchanged).
    pub fn set_len(&mut self, len: usize) -> io::Result<()> {
        if len > self.shared.size {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "a length of {len} for a registered buffer of {} bytes",
                    self.shared.size
                ),
            ));
        }
        self.len = len;
        Ok(())
    }

    /// Sets the length to 0.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// # let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 4)?;
    /// let mut buf = bufs.get().unwrap();
    /// buf.extend_from_slice(b"ab")?;
    /// buf.clear();
    /// assert!(buf.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `data` after the current length.
    ///
    /// ```
    /// # let mut ring = uring::owned::OwnedRing::new(4)?;
    /// let bufs = uring::owned::FixedBufs::new(&mut ring, 1, 4)?;
    /// let mut buf = bufs.get().unwrap();
    /// buf.extend_from_slice(b"ab")?;
    /// buf.extend_from_slice(b"cd")?;
    /// assert_eq!(&buf[..], b"abcd");
    /// assert!(buf.extend_from_slice(b"e").is_err()); // full
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` when `data` does not fit in the rest of the capacity (nothing is
    /// copied then).
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        let room = self.shared.size - self.len;
        if data.len() > room {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "{} bytes do not fit in the {room} bytes left in a registered buffer",
                    data.len()
                ),
            ));
        }
        let start = self.len;
        self.len += data.len();
        self[start..].copy_from_slice(data);
        Ok(())
    }
}

impl Deref for FixedBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: this FixedBuf holds buffer `index` (it is not in the free list
        // and no other FixedBuf has it); it is not in an operation (the op would
        // own this FixedBuf), so the kernel does not write it, and the completion
        // that gave it back ordered the kernel's writes before this read. len <=
        // size and every byte is initialised. The Arc keeps the memory allocated.
        unsafe { core::slice::from_raw_parts(self.shared.ptr(self.index), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`; `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.shared.ptr(self.index), self.len) }
    }
}

impl AsRef<[u8]> for FixedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for FixedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.shared.lock().push(self.index);
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.shared.size)
            .finish()
    }
}

// SAFETY: buffer `index` is `size` bytes of the set's allocation, which the Arc
// keeps alive and which never moves; only this FixedBuf reaches it (writes need
// `&mut`). All `size` bytes are initialised; `len <= size` changes only through
// `&mut`.
unsafe impl IoBuf for FixedBuf {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.shared.ptr(self.index)
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.shared.size
    }
}

// SAFETY: as for IoBuf; the pointer is derived from the allocation's own pointer
// (valid for writes of the whole buffer), and the buffer is this FixedBuf's alone.
unsafe impl IoBufMut for FixedBuf {
    #[inline]
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.shared.ptr(self.index)
    }
    #[inline]
    unsafe fn set_init(&mut self, n: usize) {
        // Every byte is initialised already; only the length grows (never past
        // the capacity, whatever `n`).
        self.len = self.len.max(n.min(self.shared.size));
    }
}

mod sealed {
    /// Gives this crate the registered buffer behind a [`super::FixedIoBuf`].
    /// Unnameable outside the crate, so no one else can implement it.
    pub trait Sealed {
        fn fixed_buf(&self) -> &super::FixedBuf;
    }
}

/// A registered buffer, whole or in part: what [`ReadFixed`] and [`WriteFixed`]
/// take. Implemented for [`FixedBuf`] and [`Slice<FixedBuf>`]; sealed.
///
/// ```
/// use uring::owned::{FixedBuf, FixedIoBuf, IoBuf, Slice};
/// fn takes<B: FixedIoBuf>(_: B) {}
/// # let mut ring = uring::owned::OwnedRing::new(4)?;
/// # let bufs = uring::owned::FixedBufs::new(&mut ring, 2, 8)?;
/// takes(bufs.get().unwrap());
/// takes(bufs.get().unwrap().slice(2..6));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait FixedIoBuf: IoBuf + sealed::Sealed {}

impl sealed::Sealed for FixedBuf {
    fn fixed_buf(&self) -> &FixedBuf {
        self
    }
}
impl FixedIoBuf for FixedBuf {}

impl sealed::Sealed for Slice<FixedBuf> {
    fn fixed_buf(&self) -> &FixedBuf {
        self.get_ref()
    }
}
impl FixedIoBuf for Slice<FixedBuf> {}

/// The ring a registered buffer's table belongs to.
pub(super) fn ring_of<B: FixedIoBuf>(buf: &B) -> u64 {
    sealed::Sealed::fixed_buf(buf).shared.ring_id
}

/// The buffer's index in its ring's table.
pub(super) fn index_of<B: FixedIoBuf>(buf: &B) -> u16 {
    sealed::Sealed::fixed_buf(buf).index
}
