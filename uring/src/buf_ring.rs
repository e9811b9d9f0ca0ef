//! Provided-buffer rings (`IORING_REGISTER_PBUF_RING`, Linux 5.19): a ring of
//! buffer descriptions shared with the kernel, from which operations that name a
//! buffer group (`buf_group` on [`op::Read`](crate::op::Read),
//! [`op::Recv`](crate::op::Recv), …) take a buffer when they have data. The
//! completion's flags then carry [`CqeFlags::BUFFER`](crate::CqeFlags::BUFFER)
//! and the buffer id ([`Cqe::buffer_id`](crate::Cqe::buffer_id)).
//!
//! Two levels:
//!
//! * [`BufRing`] owns the ring memory and its registration; the buffers are the
//!   caller's, handed over with the `unsafe` [`BufRing::add`].
//! * [`BufRingPool`] owns the buffers too: `count` buffers of `size` bytes, all
//!   in the ring at the start; read one with [`buf`](BufRingPool::buf) or
//!   [`data`](BufRingPool::data) once a completion names it, and give it back with
//!   [`recycle`](BufRingPool::recycle).
//!
//! ```
//! use uring::buf_ring::BufRingPool;
//! use uring::{op, types::Fd, Ring};
//!
//! let mut ring = Ring::new(4)?;
//! # let Ok(mut pool) = BufRingPool::new(&mut ring, 3, 4, 64) else { return Ok(()) }; // < 5.19
//! # let mut fds = [0; 2];
//! # assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
//! # let (r, w) = (fds[0], fds[1]);
//! // r, w: the two ends of a pipe
//! assert_eq!(unsafe { libc::write(w, b"hi".as_ptr().cast(), 2) }, 2);
//! let read = op::Read::new(Fd(r), std::ptr::null_mut(), 64)
//!     .offset(u64::MAX)
//!     .buf_group(Some(3))
//!     .build();
//! // SAFETY: the pipe and the pool outlive the read, and buffer 0 is not read
//! // before the completion naming it.
//! unsafe { ring.push(&read) }.unwrap();
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().unwrap();
//! assert_eq!(cqe.buffer_id(), Some(0));
//! assert_eq!(pool.data(&cqe), Some(&b"hi"[..]));
//! pool.recycle(0)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Lifetimes
//!
//! A buffer ring keeps its own duplicate of the ring's file descriptor, so it can
//! be dropped before or after the [`Ring`]: dropping the buffer ring unregisters
//! it through that descriptor before freeing its memory. The kernel's ring lives
//! on until both are gone: a [`Ring`] dropped first does not cancel its
//! in-flight requests until the buffer ring goes too. When unregistering fails
//! (for example from another thread than the one that owns a `SINGLE_ISSUER`
//! ring: `EEXIST`), the memory is leaked rather than freed under the kernel. A
//! ring without a plain fd (`REGISTERED_FD_ONLY`, or after
//! [`close_ring_fd`](Ring::close_ring_fd)) cannot have a buffer ring of this
//! kind (`EBADF`); [`Ring::register_buf_ring`] is the raw alternative.
//!
//! Operations that selected a buffer keep writing into it until they complete,
//! registered or not: as the contract of [`SubmissionQueue::push`](crate::SubmissionQueue::push)
//! says for any memory an entry makes the kernel write, the buffers of the group
//! an entry selects from must stay valid, and a selected buffer must not be read,
//! until the completion that names it has been reaped.
//!
//! # liburing
//!
//! | liburing | here |
//! | --- | --- |
//! | `io_uring_setup_buf_ring`, `io_uring_register_buf_ring` | [`BufRing::new`], [`BufRing::with_flags`] |
//! | `io_uring_free_buf_ring`, `io_uring_unregister_buf_ring` | [`BufRing::unregister`], `Drop` |
//! | `io_uring_buf_ring_init` | done by [`BufRing::new`] |
//! | `io_uring_buf_ring_add` | [`BufRing::add`] |
//! | `io_uring_buf_ring_advance` | [`BufRing::advance`] |
//! | `io_uring_buf_ring_cq_advance`, `__io_uring_buf_ring_cq_advance` | [`BufRing::advance`]; the [`CompletionQueue`](crate::CompletionQueue) consumes completions as it yields them |
//! | `io_uring_buf_ring_head` | [`BufRing::head`] |
//! | `io_uring_buf_ring_available` | [`BufRing::available`] |
//! | `io_uring_buf_ring_mask` | [`BufRing::entries`] − 1 |

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::Cqe;
use crate::error::with_context;
use crate::mem::Mmap;
use crate::ring::Ring;
use crate::sys;

/// The most entries a buffer ring may have (the kernel's limit).
pub const MAX_ENTRIES: u32 = 32768;

/// Size of one `io_uring_buf` entry.
pub(crate) const ENTRY: usize = core::mem::size_of::<sys::io_uring_buf>();

// The layout this module's `write_entry` and `advance`, and the safe layer's send
// queue (`owned/send_queue.rs`), rely on: 16-byte entries of addr, len, bid, and a
// last u16 that, in entry 0, is the ring's tail.
const _: () = {
    assert!(ENTRY == 16);
    assert!(core::mem::offset_of!(sys::io_uring_buf, addr) == 0);
    assert!(core::mem::offset_of!(sys::io_uring_buf, len) == 8);
    assert!(core::mem::offset_of!(sys::io_uring_buf, bid) == 12);
    assert!(core::mem::offset_of!(sys::io_uring_buf, resv) == 14);
    assert!(core::mem::size_of::<sys::io_uring_buf_ring>() == 16);
};

bitflags::bitflags! {
    /// How a [`BufRing`] is set up (`IOU_PBUF_RING_*`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct BufRingFlags: u16 {
        /// The kernel allocates the ring memory and the buffer ring maps it
        /// (`IOU_PBUF_RING_MMAP`, Linux 6.4) instead of registering memory it
        /// allocated itself.
        const MMAP = sys::IOU_PBUF_RING_MMAP as u16;
        /// Incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12): an
        /// operation takes only the bytes it needs from the head buffer, which
        /// stays in the ring (the completion has
        /// [`CqeFlags::BUF_MORE`](crate::CqeFlags::BUF_MORE)) until it is used up;
        /// the next operation continues where the last one stopped.
        const INC = sys::IOU_PBUF_RING_INC as u16;
    }
}

/// The buffer ring's memory: anonymous, or (with [`BufRingFlags::MMAP`]) the
/// kernel's, mapped through the ring's descriptor at `offset`.
fn map_ring(len: usize, fd: Option<(BorrowedFd<'_>, i64)>) -> io::Result<Mmap> {
    let (map, what) = match fd {
        None => (Mmap::anonymous(len, false, 0), "allocating"),
        Some((fd, offset)) => (Mmap::of_fd(fd, len, offset), "mapping the kernel's"),
    };
    map.map_err(|e| {
        with_context(
            e.raw_os_error().unwrap_or(libc::ENOMEM),
            format!("{what} {len} bytes of buffer ring memory"),
        )
    })
}

/// A registered provided-buffer ring for one buffer group (liburing's
/// `io_uring_setup_buf_ring`).
///
/// It owns the ring memory (or its mapping of the kernel's, with
/// [`BufRingFlags::MMAP`]) and the registration; the buffers it describes are the
/// caller's, added with [`add`](Self::add) and published with
/// [`advance`](Self::advance). For a ring that owns its buffers as well, see
/// [`BufRingPool`].
///
/// Dropping it unregisters the group (see the [module docs](self) for the rules
/// about the [`Ring`] and about in-flight operations).
///
/// ```
/// use uring::buf_ring::BufRing;
/// let mut ring = uring::Ring::new(4)?;
/// # let Ok(mut br) = BufRing::new(&mut ring, 1, 8) else { return Ok(()) }; // < 5.19
/// let mut bufs = vec![[0u8; 32]; 2];
/// for (bid, b) in bufs.iter_mut().enumerate() {
///     // SAFETY: `bufs` outlives `br` (declared before it), and is not touched
///     // while operations may write to it.
///     unsafe { br.add(b.as_mut_ptr(), 32, bid as u16) };
/// }
/// br.advance(2);
/// # if let Ok(head) = br.head() { // PBUF_STATUS: Linux 6.8
/// assert_eq!(head, 0); // nothing consumed yet
/// assert_eq!(br.available()?, 2);
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct BufRing {
    /// Our own duplicate of the ring fd: keeps the kernel's ring alive for the
    /// registration calls, whatever happens to the `Ring`.
    fd: OwnedFd,
    /// The ring memory; `None` once it must be leaked.
    mem: Option<Mmap>,
    entries: u32,
    group: u16,
    flags: BufRingFlags,
    /// The tail last published to the kernel.
    tail: u16,
    /// Entries written after `tail` but not yet published.
    staged: u16,
    /// Whether the group is still registered by us.
    registered: bool,
}

impl BufRing {
    /// Registers a buffer ring of `entries` (a power of two, at most
    /// [`MAX_ENTRIES`]) for buffer group `group`, in page-aligned memory it
    /// allocates; the ring starts empty.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a bad entry count; `EEXIST` if the group already has buffers;
    /// `EBADF` for a ring without a plain fd (`REGISTERED_FD_ONLY`, or after
    /// [`close_ring_fd`](Ring::close_ring_fd)): the buffer ring needs one to
    /// duplicate; the kernel's errno otherwise (`EINVAL` before Linux 5.19).
    #[doc(alias = "io_uring_setup_buf_ring")]
    #[doc(alias = "io_uring_register_buf_ring")]
    #[doc(alias = "io_uring_buf_ring_init")]
    pub fn new(ring: &mut Ring, group: u16, entries: u32) -> io::Result<BufRing> {
        BufRing::with_flags(ring, group, entries, BufRingFlags::empty())
    }

    /// [`new`](Self::new) with [`BufRingFlags`]: kernel-allocated memory
    /// ([`MMAP`](BufRingFlags::MMAP)) and/or incremental consumption
    /// ([`INC`](BufRingFlags::INC)).
    pub fn with_flags(
        ring: &mut Ring,
        group: u16,
        entries: u32,
        flags: BufRingFlags,
    ) -> io::Result<BufRing> {
        if !entries.is_power_of_two() || entries > MAX_ENTRIES {
            return Err(with_context(
                libc::EINVAL,
                format!(
                    "a buffer ring of {entries} entries (a power of two up to {MAX_ENTRIES} is needed)"
                ),
            ));
        }
        let ring_fd = ring.raw.ring_fd;
        if ring_fd < 0 {
            return Err(with_context(
                libc::EBADF,
                "setting up a buffer ring: the ring has no plain fd to duplicate \
                 (REGISTERED_FD_ONLY or close_ring_fd)",
            ));
        }
        // SAFETY: ring_fd is the ring's open fd; F_DUPFD_CLOEXEC makes a new one.
        let dup = unsafe { libc::fcntl(ring_fd, libc::F_DUPFD_CLOEXEC, 0) };
        if dup < 0 {
            let e = io::Error::last_os_error();
            return Err(with_context(
                e.raw_os_error().unwrap_or(libc::EMFILE),
                "duplicating the ring fd for a buffer ring",
            ));
        }
        // SAFETY: dup is a new descriptor owned by no one else.
        let fd = unsafe { OwnedFd::from_raw_fd(dup) };
        let len = entries as usize * ENTRY;
        let mem = if flags.contains(BufRingFlags::MMAP) {
            None
        } else {
            Some(map_ring(len, None)?)
        };
        let mut reg = sys::io_uring_buf_reg {
            ring_addr: mem.as_ref().map_or(0, |m| m.as_ptr() as u64),
            ring_entries: entries,
            bgid: group,
            // In the struct, not liburing's `flags` argument: releases before
            // 2.8 ignore that argument (the kernel then saw no MMAP flag and a
            // null ring address: EFAULT).
            flags: flags.bits(),
            ..Default::default()
        };
        ring.register_call(
            || format!("registering a buffer ring of {entries} entries for group {group}"),
            // SAFETY: reg is valid for the call; the memory it names (if any) is a
            // live mapping owned by the BufRing built below, which unregisters
            // before unmapping it (or leaks it).
            |r| unsafe { sys::io_uring_register_buf_ring(r, &mut reg, 0) },
        )?;
        let mut br = BufRing {
            fd,
            mem,
            entries,
            group,
            flags,
            tail: 0,
            staged: 0,
            registered: true,
        };
        if br.mem.is_none() {
            let offset =
                sys::IORING_OFF_PBUF_RING as i64 | ((group as i64) << sys::IORING_OFF_PBUF_SHIFT);
            // On failure `br` drops here and unregisters the group.
            br.mem = Some(map_ring(len, Some((br.fd.as_fd(), offset)))?);
        }
        Ok(br)
    }

    /// The buffer group this ring serves.
    #[inline]
    pub fn group(&self) -> u16 {
        self.group
    }

    /// The number of entries (a power of two; the mask is `entries() - 1`).
    #[doc(alias = "io_uring_buf_ring_mask")]
    #[inline]
    pub fn entries(&self) -> u32 {
        self.entries
    }

    /// The flags it was set up with.
    #[inline]
    pub fn flags(&self) -> BufRingFlags {
        self.flags
    }

    /// Entries added with [`add`](Self::add) but not yet published.
    #[inline]
    pub fn staged(&self) -> u16 {
        self.staged
    }

    /// The tail last published to the kernel (it counts every buffer ever
    /// published, wrapping at `u16`).
    #[inline]
    pub fn tail(&self) -> u16 {
        self.tail
    }

    fn base(&self) -> *mut u8 {
        self.mem
            .as_ref()
            .expect("a registered buffer ring has its memory")
            .as_ptr()
    }

    /// Writes entry `index` (a ring position, masked here) with relaxed atomic
    /// stores, field by field: entry 0's last field is the shared tail.
    fn write_entry(&mut self, index: u16, addr: u64, len: u32, bid: u16) {
        let slot = (index as u32 & (self.entries - 1)) as usize;
        // SAFETY: slot < entries, so the 16-byte entry lies inside the mapping,
        // which is page-aligned: each field is aligned for its atomic. The
        // kernel reads these fields (and, for incremental rings, writes the head
        // entry's); only the tail store below publishes them.
        unsafe {
            let e = self.base().add(slot * ENTRY);
            AtomicU64::from_ptr(e.cast()).store(addr, Ordering::Relaxed);
            AtomicU32::from_ptr(e.add(8).cast()).store(len, Ordering::Relaxed);
            AtomicU16::from_ptr(e.add(12).cast()).store(bid, Ordering::Relaxed);
        }
    }

    /// Stages buffer `bid` (`len` bytes at `buf`) in the next free slot after
    /// those already staged (liburing's `io_uring_buf_ring_add` with the next
    /// offset); the kernel sees it after [`advance`](Self::advance).
    ///
    /// # Panics
    ///
    /// If [`entries`](Self::entries) buffers are already staged.
    ///
    /// # Safety
    ///
    /// Once published, the kernel may write up to `len` bytes at `buf` at any
    /// time until an operation that selected it has completed or the ring is
    /// unregistered: the memory must stay valid and not be accessed otherwise
    /// until then (and until every operation that selected it completed). The
    /// caller also keeps at most [`entries`](Self::entries) buffers in the ring
    /// (published and not yet consumed, see [`head`](Self::head)): adding more
    /// overwrites entries the kernel has not consumed yet.
    #[doc(alias = "io_uring_buf_ring_add")]
    #[inline]
    pub unsafe fn add(&mut self, buf: *mut u8, len: u32, bid: u16) {
        assert!(
            (self.staged as u32) < self.entries,
            "buffer ring of {} entries: all are staged already",
            self.entries
        );
        let index = self.tail.wrapping_add(self.staged);
        self.write_entry(index, buf as u64, len, bid);
        self.staged += 1;
    }

    /// Publishes the first `n` staged buffers to the kernel (liburing's
    /// `io_uring_buf_ring_advance`): a release store of the new tail, so the
    /// kernel sees the entries written before it.
    ///
    /// # Panics
    ///
    /// If fewer than `n` buffers are staged.
    #[doc(alias = "io_uring_buf_ring_advance")]
    #[doc(alias = "io_uring_buf_ring_cq_advance")]
    #[inline]
    pub fn advance(&mut self, n: u16) {
        assert!(
            n <= self.staged,
            "advancing a buffer ring by {n} with {} staged",
            self.staged
        );
        self.tail = self.tail.wrapping_add(n);
        self.staged -= n;
        // SAFETY: the tail is the last u16 of entry 0 (io_uring_buf_ring's
        // `tail`), inside the mapping and 2-aligned; the kernel reads it with an
        // acquire load.
        unsafe { AtomicU16::from_ptr(self.base().add(14).cast()) }
            .store(self.tail, Ordering::Release);
    }

    /// The kernel's head: how many buffers it has consumed so far, wrapping at
    /// `u16` (`IORING_REGISTER_PBUF_STATUS`, Linux 6.8; liburing's
    /// `io_uring_buf_ring_head`). Buffers between the head and
    /// [`tail`](Self::tail) are still available to the kernel.
    ///
    /// # Errors
    ///
    /// `EINVAL` before Linux 6.8.
    #[doc(alias = "io_uring_buf_ring_head")]
    #[doc(alias = "status")]
    pub fn head(&self) -> io::Result<u16> {
        buf_ring_head(self.fd.as_raw_fd(), self.group)
    }

    /// How many published buffers the kernel has not consumed yet (liburing's
    /// `io_uring_buf_ring_available`): `tail - head`.
    #[doc(alias = "io_uring_buf_ring_available")]
    pub fn available(&self) -> io::Result<u16> {
        Ok(self.tail.wrapping_sub(self.head()?))
    }

    /// Unregisters the group and frees the ring memory (liburing's
    /// `io_uring_free_buf_ring`). Buffers of the group that operations already
    /// selected are still theirs until they complete.
    ///
    /// # Errors
    ///
    /// The kernel's errno; the ring memory is then leaked, since the kernel may
    /// still use it. `ENOENT` or `EINVAL` (the group was unregistered already,
    /// for example with [`Ring::unregister_buf_ring`], or holds something else
    /// now) count as success.
    #[doc(alias = "io_uring_free_buf_ring")]
    #[doc(alias = "io_uring_unregister_buf_ring")]
    pub fn unregister(mut self) -> io::Result<()> {
        self.unregister_inner()
    }

    fn unregister_inner(&mut self) -> io::Result<()> {
        if !self.registered {
            return Ok(());
        }
        self.registered = false;
        let ret = unregister_pbuf_ring(self.fd.as_raw_fd(), self.group);
        if let Err(ret) = ret {
            // The kernel may still read (or, incrementally, write) the ring.
            core::mem::forget(self.mem.take());
            return Err(with_context(
                -ret,
                format!("unregistering the buffer ring of group {}", self.group),
            ));
        }
        Ok(())
    }
}

/// `IORING_UNREGISTER_PBUF_RING` of `group` on `fd`: `Ok` when the kernel no
/// longer uses a ring of ours for the group, `Err(-errno)` when it may still.
///
/// ENOENT (no such group any more) and EINVAL (the group exists but is not a
/// buffer ring: legacy provided buffers, or the empty entry Linux 6.1 leaves
/// behind an unregistered ring) count as done: the group is not ours then.
pub(crate) fn unregister_pbuf_ring(fd: i32, group: u16) -> Result<(), i32> {
    let reg = sys::io_uring_buf_reg {
        bgid: group,
        ..Default::default()
    };
    // SAFETY: fd is an io_uring fd of the caller's; reg is valid for the call.
    let ret = unsafe {
        sys::io_uring_register(
            fd as u32,
            sys::IORING_UNREGISTER_PBUF_RING,
            (&reg as *const sys::io_uring_buf_reg).cast(),
            1,
        )
    };
    if ret < 0 && ret != -libc::ENOENT && ret != -libc::EINVAL {
        return Err(ret);
    }
    Ok(())
}

/// `IORING_REGISTER_PBUF_STATUS` on `fd`.
pub(crate) fn buf_ring_head(fd: i32, group: u16) -> io::Result<u16> {
    let mut status = sys::io_uring_buf_status {
        buf_group: group as u32,
        ..Default::default()
    };
    // SAFETY: status is valid for the call; the kernel fills in `head`.
    let ret = unsafe {
        sys::io_uring_register(
            fd as u32,
            sys::IORING_REGISTER_PBUF_STATUS,
            (&mut status as *mut sys::io_uring_buf_status).cast(),
            1,
        )
    };
    if ret < 0 {
        return Err(with_context(
            -ret,
            format!("reading the head of buffer group {group}"),
        ));
    }
    Ok(status.head as u16)
}

impl Drop for BufRing {
    fn drop(&mut self) {
        let _ = self.unregister_inner();
    }
}

impl core::fmt::Debug for BufRing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufRing")
            .field("group", &self.group)
            .field("entries", &self.entries)
            .field("flags", &self.flags)
            .field("tail", &self.tail)
            .field("staged", &self.staged)
            .finish_non_exhaustive()
    }
}

// SAFETY: BufRing owns its mapping and fd; nothing is tied to a thread. (`&self`
// methods only read fields and make register calls on its own fd.)
unsafe impl Send for BufRing {}
// SAFETY: as above: `&self` gives no access to the ring memory.
unsafe impl Sync for BufRing {}

/// A buffer ring that owns its buffers: `count` buffers of `size` bytes each,
/// ids `0..count`, all in the ring to begin with.
///
/// After a completion names buffer `bid` ([`Cqe::buffer_id`]), read it with
/// [`data`](Self::data) or [`buf`](Self::buf), then give it back to the kernel
/// with [`recycle`](Self::recycle). The pool keeps the ring from overflowing: a
/// buffer that is still in the ring (checked against the kernel's head, Linux
/// 6.8) is not added twice.
///
/// Every entry the pool ever writes names one of its own buffers with its full
/// size, so whatever the kernel picks, it writes inside the pool. Dropping the
/// pool while an operation that selected one of its buffers is in flight breaks
/// that operation's push contract (see the [module docs](self)).
///
/// See the [module docs](self) for an example.
pub struct BufRingPool {
    ring: BufRing,
    /// `count * size` bytes, from a leaked `Box<[u8]>`; the kernel writes into
    /// it, so it is only reached through this pointer.
    mem: NonNull<u8>,
    size: u32,
    /// Buffer ids in ring order, from the kernel's head as last seen.
    queue: VecDeque<u16>,
    in_ring: Vec<bool>,
    /// The kernel's head as last seen.
    known_head: u16,
    /// Whether the kernel reports its head (PBUF_STATUS); if not, recycling
    /// trusts the caller.
    tracking: bool,
}

impl BufRingPool {
    /// Registers a ring for `group` with `count` (1 to [`MAX_ENTRIES`]) buffers
    /// of `size` bytes each and puts them all in it.
    ///
    /// # Errors
    ///
    /// `EINVAL` for 0 buffers, 0 or too large sizes; otherwise as for
    /// [`BufRing::new`].
    pub fn new(ring: &mut Ring, group: u16, count: u32, size: u32) -> io::Result<BufRingPool> {
        if count == 0 || count > MAX_ENTRIES || size == 0 {
            return Err(with_context(
                libc::EINVAL,
                format!(
                    "a buffer pool of {count} buffers of {size} bytes (1..={MAX_ENTRIES} \
                     buffers of at least 1 byte)"
                ),
            ));
        }
        let total = (count as usize)
            .checked_mul(size as usize)
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or_else(|| {
                with_context(
                    libc::EINVAL,
                    format!("{count} buffers of {size} bytes is too much memory"),
                )
            })?;
        let br = BufRing::new(ring, group, count.next_power_of_two())?;
        let boxed: Box<[u8]> = vec![0u8; total].into_boxed_slice();
        let mem = NonNull::new(Box::into_raw(boxed).cast::<u8>()).expect("Box is non-null");
        let mut pool = BufRingPool {
            ring: br,
            mem,
            size,
            queue: VecDeque::with_capacity(count as usize),
            in_ring: vec![false; count as usize],
            known_head: 0,
            tracking: true,
        };
        for bid in 0..count {
            pool.stage(bid as u16);
        }
        pool.ring.advance(count as u16);
        Ok(pool)
    }

    /// Number of buffers.
    #[inline]
    pub fn len(&self) -> usize {
        self.in_ring.len()
    }

    /// Whether the pool has no buffers (never: `new` refuses 0).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.in_ring.is_empty()
    }

    /// Size of each buffer.
    #[inline]
    pub fn buf_size(&self) -> u32 {
        self.size
    }

    /// The buffer group.
    #[inline]
    pub fn group(&self) -> u16 {
        self.ring.group()
    }

    /// The underlying [`BufRing`] (for [`head`](BufRing::head),
    /// [`available`](BufRing::available), …).
    #[inline]
    pub fn ring(&self) -> &BufRing {
        &self.ring
    }

    fn ptr(&self, bid: u16) -> *mut u8 {
        assert!(
            (bid as usize) < self.len(),
            "buffer id {bid} is outside the pool of {}",
            self.len()
        );
        // SAFETY: bid < count, so the offset is inside the count * size bytes.
        unsafe { self.mem.as_ptr().add(bid as usize * self.size as usize) }
    }

    /// Writes buffer `bid` into the next ring slot and records it.
    fn stage(&mut self, bid: u16) {
        let p = self.ptr(bid);
        let size = self.size;
        // SAFETY: p is buffer bid of the pool, size bytes, owned by the pool and
        // freed only after the ring is unregistered. The pool adds a buffer only
        // while it is not in the ring, so at most `count <= entries` are.
        unsafe { self.ring.add(p, size, bid) };
        self.in_ring[bid as usize] = true;
        if self.tracking {
            self.queue.push_back(bid);
        }
    }

    /// The whole of buffer `bid` (`buf_size` bytes).
    ///
    /// Read a buffer only after the completion that names it has been reaped
    /// (before that, the kernel may be writing into it; see the module docs).
    ///
    /// # Panics
    ///
    /// If `bid` is not a buffer of the pool.
    pub fn buf(&self, bid: u16) -> &[u8] {
        let p = self.ptr(bid);
        // SAFETY: p..p+size is buffer bid, inside the pool's live allocation.
        // The kernel writes into a buffer only for an operation that selected it;
        // reading it before that operation completes is excluded by the
        // operation's push contract.
        unsafe { core::slice::from_raw_parts(p, self.size as usize) }
    }

    /// The bytes a completion delivered: `Some` when `cqe` names a buffer
    /// ([`CqeFlags::BUFFER`](crate::CqeFlags::BUFFER)) of this pool and succeeded;
    /// the slice is as long as its result, at most one buffer. (A bundle receive
    /// that filled several buffers names the first; the others are the next ids
    /// in ring order, each to be read with [`buf`](Self::buf) and recycled.)
    pub fn data(&self, cqe: &Cqe) -> Option<&[u8]> {
        let bid = cqe.buffer_id()?;
        let n = usize::try_from(cqe.raw_result()).ok()?;
        if bid as usize >= self.len() {
            return None;
        }
        Some(&self.buf(bid)[..n.min(self.size as usize)])
    }

    /// Gives buffer `bid` back to the kernel.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id outside the pool; `EALREADY` if the buffer is still in
    /// the ring (the kernel has not consumed it: recycled twice, or never
    /// used). Before Linux 6.8 the kernel cannot tell, and the pool takes the
    /// caller's word.
    pub fn recycle(&mut self, bid: u16) -> io::Result<()> {
        if bid as usize >= self.len() {
            return Err(with_context(
                libc::EINVAL,
                format!("buffer id {bid} is outside the pool of {}", self.len()),
            ));
        }
        if self.in_ring[bid as usize] && self.tracking {
            self.refresh();
        }
        if self.in_ring[bid as usize] && self.tracking {
            return Err(with_context(
                libc::EALREADY,
                format!(
                    "buffer {bid} of group {} is still in the ring",
                    self.group()
                ),
            ));
        }
        self.stage(bid);
        self.ring.advance(1);
        Ok(())
    }

    /// Learns the kernel's head and marks what it consumed as out of the ring.
    fn refresh(&mut self) {
        match self.ring.head() {
            Ok(head) => {
                let consumed = head.wrapping_sub(self.known_head);
                for _ in 0..consumed {
                    match self.queue.pop_front() {
                        Some(bid) => self.in_ring[bid as usize] = false,
                        None => break,
                    }
                }
                self.known_head = head;
            }
            Err(_) => {
                // No PBUF_STATUS: stop tracking and trust the caller.
                self.tracking = false;
                self.queue.clear();
                self.in_ring.iter_mut().for_each(|b| *b = false);
            }
        }
    }

    /// Unregisters the ring and frees the buffers. On failure (see
    /// [`BufRing::unregister`]) the buffers are leaked along with the ring memory.
    pub fn unregister(mut self) -> io::Result<()> {
        self.ring.unregister_inner()
        // Drop frees the buffers if the ring memory was not leaked.
    }
}

impl Drop for BufRingPool {
    fn drop(&mut self) {
        let _ = self.ring.unregister_inner();
        if self.ring.mem.is_none() {
            // Unregistering failed: the kernel may still pick these buffers.
            return;
        }
        let total = self.len() * self.size as usize;
        // SAFETY: mem is the Box<[u8]> of `total` bytes leaked in `new`, freed
        // once, here, after the ring stopped naming it.
        drop(unsafe {
            Box::from_raw(core::ptr::slice_from_raw_parts_mut(
                self.mem.as_ptr(),
                total,
            ))
        });
    }
}

impl core::fmt::Debug for BufRingPool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BufRingPool")
            .field("group", &self.group())
            .field("len", &self.len())
            .field("buf_size", &self.size)
            .finish_non_exhaustive()
    }
}

// SAFETY: the pool owns its buffers and ring; the raw pointer is to memory only it
// frees. `&self` methods only read buffers (under the push contract) and make
// register calls on its own fd.
unsafe impl Send for BufRingPool {}
// SAFETY: as above.
unsafe impl Sync for BufRingPool {}
