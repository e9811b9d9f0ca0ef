//! Provided-buffer pools for the safe layer: the kernel picks the buffer.

use core::ptr::NonNull;
use std::cell::UnsafeCell;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::host::{self, SafeRing};
use crate::buf_ring::{BufRing, MAX_ENTRIES};
use crate::cqueue::Cqe;
use crate::error;

/// A pool of equal-sized buffers registered with one safe ring (a [`SafeRing`]:
/// an [`OwnedRing`](super::OwnedRing) or a [`TypedRing`](super::TypedRing)) as a
/// provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): operations such
/// as [`ops::RecvSelect`](super::ops::RecvSelect) let the kernel pick a free buffer
/// when data arrives, instead of owning one each while they wait.
///
/// A completion hands the chosen buffer over as a [`PoolBuf`], a guard over exactly
/// the bytes received; dropping the guard gives the buffer back to the kernel.
/// `BufPool` is a cheap handle (`Clone`, `Send`, `Sync`): the pool lives until its
/// last handle, guard and operation are gone.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{BufPool, OwnedRing, ops};
///
/// let mut ring = OwnedRing::new(4)?;
/// # let pool = match BufPool::new(&mut ring, 7, 4, 64) { Ok(p) => p, Err(_) => return Ok(()) }; // < 5.19
/// # /*
/// let pool = BufPool::new(&mut ring, 7, 4, 64)?; // group 7: 4 buffers of 64 bytes
/// # */
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"hello")?;
/// let id = ring.submit_op(ops::RecvSelect::new(r, &pool))?;
/// let buf = ring.wait_for(id)??;
/// assert_eq!(&buf[..], b"hello");
/// assert_eq!(pool.available(), 3); // one buffer is out, held by `buf`
/// drop(buf);                       // … and now back in the ring
/// assert_eq!(pool.available(), 4);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct BufPool {
    pub(super) shared: Arc<PoolShared>,
}

/// What the handles and operations of one pool share, through an `Arc`: the
/// pool's [`PoolCore`], which it frees with its last share unless guards hold
/// buffers still (the last of them frees it then).
pub(super) struct PoolShared {
    core: NonNull<PoolCore>,
}

/// A pool: its memory and its state. Its guards reach it without a reference
/// count of their own (two atomic operations per buffer handed out): the state
/// counts them under the lock each of them takes anyway, and the pool is freed
/// by whichever goes last, the last share of [`PoolShared`] or the last guard.
pub(super) struct PoolCore {
    /// The ring the group is registered with.
    pub(super) ring_id: u64,
    group: u16,
    size: u32,
    count: u16,
    /// `count * size` bytes from a leaked `Box<[u8]>` (zeroed, so always
    /// initialised). The kernel writes into the buffers it picks, so they are
    /// only reached through this pointer.
    mem: NonNull<u8>,
    state: StateLock,
}

/// The lock over a pool's [`PoolState`]: a flag taken with one compare-and-swap
/// and released with a plain store. What it guards is a few dozen instructions
/// of bookkeeping that never blocks (taking or returning a buffer), so a
/// waiter spins briefly, then yields its time slice. Unlike `std`'s `Mutex` it
/// has no poisoning (no code under it leaves the state half-changed: the only
/// panics possible there, `BufRing`'s assertions, come before any change) and
/// no wake-up on release.
struct StateLock {
    locked: AtomicBool,
    state: UnsafeCell<PoolState>,
}

/// Access to the state while [`StateLock`] is held; released on drop.
struct StateGuard<'a> {
    lock: &'a StateLock,
}

impl StateLock {
    fn new(state: PoolState) -> StateLock {
        StateLock {
            locked: AtomicBool::new(false),
            state: UnsafeCell::new(state),
        }
    }

    #[inline]
    fn lock(&self) -> StateGuard<'_> {
        if self
            .locked
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        StateGuard { lock: self }
    }

    /// Waits for the holder (another thread returning or taking a buffer).
    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.load(Ordering::Relaxed) {
                if spins < 100 {
                    spins += 1;
                    core::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }

    fn get_mut(&mut self) -> &mut PoolState {
        self.state.get_mut()
    }
}

impl core::ops::Deref for StateGuard<'_> {
    type Target = PoolState;
    #[inline]
    fn deref(&self) -> &PoolState {
        // SAFETY: the guard exists only while `locked` is held by it (taken with
        // an acquire CAS, released with a release store in Drop), so no other
        // reference to the state exists meanwhile.
        unsafe { &*self.lock.state.get() }
    }
}

impl core::ops::DerefMut for StateGuard<'_> {
    #[inline]
    fn deref_mut(&mut self) -> &mut PoolState {
        // SAFETY: as in `deref`; `&mut self` makes this the only reference.
        unsafe { &mut *self.lock.state.get() }
    }
}

impl Drop for StateGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}

struct PoolState {
    /// The registered ring of buffer descriptions; `None` once dropped.
    ring: Option<BufRing>,
    /// `out[bid]`: a guard holds buffer `bid` (it is not in the ring).
    out: Vec<bool>,
    /// Buffers in the ring or picked by the kernel and not yet handed out.
    available: usize,
    /// Guards holding a buffer: each keeps the pool allocated.
    guards: usize,
    /// The last share of [`PoolShared`] is gone (no handle, no operation
    /// left): the last guard frees the pool.
    orphaned: bool,
    /// `next[bid]`: the buffer added to the ring right after `bid` (a bundle takes
    /// consecutive ring entries); `last`: the buffer added last.
    next: Vec<u16>,
    last: u16,
}

// SAFETY: the raw pointer is to memory the pool owns and frees only in its Drop;
// a buffer is accessed only by the one guard that holds it (exclusive) or by the
// kernel while it is in the ring. The ring state is reached only through a
// StateGuard, which holds the StateLock's flag (one holder at a time).
unsafe impl Send for PoolCore {}
// SAFETY: as above; `&PoolCore` gives access to no buffer.
unsafe impl Sync for PoolCore {}
// SAFETY: a share of a `PoolCore` (Send and Sync), which stays allocated while
// any share exists (freed by the last share's Drop, or after it by the last
// guard's) and is reached only by `&`.
unsafe impl Send for PoolShared {}
// SAFETY: as above.
unsafe impl Sync for PoolShared {}

impl BufPool {
    /// Registers buffer group `group` with `ring`: `count` (1 to 32768) buffers of
    /// `size` bytes each, all in the ring to begin with.
    ///
    /// # Errors
    ///
    /// `EINVAL` for 0 or more than 32768 buffers, or a size of 0 or too large;
    /// `EEXIST` if the ring already has group `group`; the kernel's errno
    /// otherwise (`EINVAL` before Linux 5.19).
    #[doc(alias = "io_uring_setup_buf_ring")]
    pub fn new(ring: &mut impl SafeRing, group: u16, count: u16, size: u32) -> io::Result<BufPool> {
        let host::Parts {
            ring, id: ring_id, ..
        } = ring.host_parts();
        if count == 0 || u32::from(count) > MAX_ENTRIES || size == 0 || size > i32::MAX as u32 {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "a buffer pool of {count} buffers of {size} bytes (1..={MAX_ENTRIES} buffers \
                     of 1..2^31 bytes)"
                ),
            ));
        }
        let total = (count as usize)
            .checked_mul(size as usize)
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or_else(|| {
                error::with_context(
                    libc::EINVAL,
                    format!("{count} buffers of {size} bytes is too much memory"),
                )
            })?;
        // Allocated first, and fallibly: running out of memory is an error, and
        // nothing is registered yet.
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(total).map_err(|_| {
            error::with_context(
                libc::ENOMEM,
                format!("cannot allocate {count} buffers of {size} bytes"),
            )
        })?;
        bytes.resize(total, 0u8);
        let mut br = BufRing::new(ring, group, u32::from(count).next_power_of_two())?;
        let mem = NonNull::new(Box::into_raw(bytes.into_boxed_slice()).cast::<u8>())
            .expect("a Box is never null");
        for bid in 0..count {
            // SAFETY: buffer `bid` is `size` bytes inside the allocation just made,
            // which PoolShared frees only after the ring is unregistered (or
            // leaks). No guard holds it yet: it belongs to the ring. `count` <=
            // entries, and each buffer is added once.
            unsafe { br.add(mem.as_ptr().add(bid as usize * size as usize), size, bid) };
        }
        br.advance(count);
        let core = Box::new(PoolCore {
            ring_id,
            group,
            size,
            count,
            mem,
            state: StateLock::new(PoolState {
                ring: Some(br),
                out: vec![false; count as usize],
                available: count as usize,
                guards: 0,
                orphaned: false,
                next: (1..count).chain([NO_BUFFER]).collect(),
                last: count - 1,
            }),
        });
        Ok(BufPool {
            shared: Arc::new(PoolShared {
                core: NonNull::from(Box::leak(core)),
            }),
        })
    }

    /// The buffer group id operations name.
    pub fn group(&self) -> u16 {
        self.shared.group
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> u32 {
        self.shared.size
    }

    /// The number of buffers.
    pub fn len(&self) -> usize {
        self.shared.count as usize
    }

    /// Whether the pool has no buffers (never: [`new`](Self::new) refuses 0).
    pub fn is_empty(&self) -> bool {
        self.shared.count == 0
    }

    /// How many buffers no [`PoolBuf`] holds: in the ring, or picked by the
    /// kernel for a completion not yet processed.
    pub fn available(&self) -> usize {
        self.shared.lock().available
    }
}

impl fmt::Debug for BufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufPool")
            .field("group", &self.shared.group)
            .field("count", &self.shared.count)
            .field("buf_size", &self.shared.size)
            .field("available", &self.available())
            .finish()
    }
}

impl core::ops::Deref for PoolShared {
    type Target = PoolCore;
    #[inline(always)]
    fn deref(&self) -> &PoolCore {
        // SAFETY: the core stays allocated while any share exists (see Drop).
        unsafe { self.core.as_ref() }
    }
}

impl Drop for PoolShared {
    fn drop(&mut self) {
        // The last share: every operation that could pick from the group held
        // one, so they have all completed (or were leaked, and then this never
        // runs). Guards may hold buffers still: the last of them frees the pool.
        let free = {
            let mut state = self.lock();
            state.orphaned = true;
            state.guards == 0
        };
        if free {
            // SAFETY: no share is left (this was the last) and no guard holds a
            // buffer, nor can one be made (that takes an operation, which holds a
            // share): nothing reaches the core any more, and the lock was released
            // above. Freed once: a guard frees only when it sees `orphaned` with
            // no other guard, and none is left.
            unsafe { PoolCore::free(self.core) };
        }
    }
}

impl PoolCore {
    /// Frees a pool made by [`BufPool::new`].
    ///
    /// # Safety
    ///
    /// Nothing reaches `core` any more, nor will; it is freed once.
    #[cold]
    unsafe fn free(core: NonNull<PoolCore>) {
        // SAFETY: `core` is the Box leaked in `new`; the caller's contract.
        drop(unsafe { Box::from_raw(core.as_ptr()) });
    }

    #[inline]
    fn lock(&self) -> StateGuard<'_> {
        self.state.lock()
    }

    #[inline]
    fn ptr(&self, bid: u16) -> *mut u8 {
        debug_assert!(bid < self.count);
        // SAFETY: bid < count, so the offset is inside the count * size bytes.
        unsafe { self.mem.as_ptr().add(bid as usize * self.size as usize) }
    }

    /// Gives buffer `bid` back to the ring, for the guard that held it: whether
    /// that was the last thing keeping the pool (no share, no other guard left),
    /// for the caller to free it.
    #[inline]
    fn recycle(&self, bid: u16) -> bool {
        // Outside the lock: nothing but `bid` (a guard's, so in the pool) to go on.
        let ptr = self.ptr(bid);
        let size = self.size;
        let mut guard = self.lock();
        let state = &mut *guard;
        if state.out.get(bid as usize) != Some(&true) {
            // Never handed out (cannot happen: only guards recycle).
            return false;
        }
        // The ring first: its assertions are the only code here that can panic,
        // and they come before any change to the state (see `StateLock`).
        if let Some(ring) = state.ring.as_mut() {
            // SAFETY: buffer `bid` is ours, `size` bytes, and was held by the guard
            // being dropped (out[bid]): no one else reads or writes it, and it is
            // not in the ring, so at most `count` <= entries buffers are. The
            // memory lives until the ring is unregistered (PoolShared's Drop).
            unsafe { ring.add(ptr, size, bid) };
            ring.advance(1);
            if let Some(next) = state.next.get_mut(state.last as usize) {
                *next = bid;
            }
            state.last = bid;
        }
        state.out[bid as usize] = false;
        state.available += 1;
        state.guards -= 1;
        state.orphaned && state.guards == 0
    }
}

impl Drop for PoolCore {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        let unregistered = match state.ring.take() {
            Some(ring) => ring.unregister().is_ok(),
            None => true,
        };
        if !unregistered {
            // The kernel may still hold the ring (SINGLE_ISSUER from another
            // thread, …): leak the buffers with it.
            return;
        }
        let total = self.count as usize * self.size as usize;
        // SAFETY: mem is the Box<[u8]> of `total` bytes leaked in `new`, freed once,
        // here, after the group was unregistered and every user is gone.
        drop(unsafe {
            Box::from_raw(core::ptr::slice_from_raw_parts_mut(
                self.mem.as_ptr(),
                total,
            ))
        });
    }
}

/// Takes the buffer a completion names, if any, as a guard over `len` bytes.
///
/// `Err(EIO)` when the completion names a buffer the pool cannot hand out (outside
/// the pool, or already held): that would only happen if something else used the
/// group, and the buffer is then left alone.
#[inline]
pub(super) fn take(pool: &Arc<PoolShared>, cqe: &Cqe, len: usize) -> io::Result<Option<PoolBuf>> {
    let Some(bid) = cqe.buffer_id() else {
        return Ok(None);
    };
    let mut state = pool.lock();
    match state.out.get_mut(bid as usize) {
        Some(out @ false) => *out = true,
        _ => {
            drop(state);
            return Err(not_ours(bid, pool.group));
        }
    }
    state.available -= 1;
    state.guards += 1;
    drop(state);
    Ok(Some(PoolBuf {
        core: pool.core,
        bid,
        group: pool.group,
        // size <= i32::MAX.
        len: len.min(pool.size as usize) as u32,
    }))
}

/// The error for a completion naming buffer `bid`, which the pool cannot hand out.
#[cold]
fn not_ours(bid: u16, group: u16) -> io::Error {
    error::with_context(
        libc::EIO,
        format!("the kernel named buffer {bid} of group {group}, which the pool cannot hand out"),
    )
}

/// Takes the buffers a bundle completion names, as guards over `len` bytes: the
/// kernel took `ceil(len / size)` consecutive ring entries, starting with the
/// buffer the completion names (it may have taken more, which then never come
/// back: safe, the pool just has fewer buffers). A completion without data hands
/// out nothing.
///
/// `Err(EIO)` when the entries cannot be handed out (outside the pool, already
/// held, or more than the pool has); nothing is taken then.
pub(super) fn take_bundle(
    pool: &Arc<PoolShared>,
    cqe: &Cqe,
    len: usize,
) -> io::Result<Vec<PoolBuf>> {
    let Some(first) = cqe.buffer_id() else {
        return Ok(Vec::new());
    };
    if len == 0 {
        // No data: the kernel consumed no entry (or did and does not say).
        return Ok(Vec::new());
    }
    let size = pool.size as usize;
    let mut guard = pool.lock();
    let state = &mut *guard;
    let parts = bundle_parts(&mut state.out, &state.next, size, first, len);
    if let Some(parts) = &parts {
        state.available -= parts.len();
        state.guards += parts.len();
    }
    // Released before any guard exists: a guard dropped while it was held (an
    // unwinding collect) would wait for it forever.
    drop(guard);
    let Some(parts) = parts else {
        return Err(error::with_context(
            libc::EIO,
            format!(
                "the kernel named a bundle of {} buffers from buffer {first} of group {}, \
                 which the pool cannot hand out",
                len.div_ceil(size),
                pool.group
            ),
        ));
    };
    Ok(parts
        .into_iter()
        .map(|(bid, here)| PoolBuf {
            core: pool.core,
            bid,
            group: pool.group,
            // here <= size <= i32::MAX.
            len: here as u32,
        })
        .collect())
}

/// The accounting of a bundle of `len` (> 0) bytes from buffer `first`: the
/// `ceil(len / size)` buffers it filled, following `next` (which buffer was put
/// in the ring after which), each with its part of the bytes (all `size` but the
/// last), marked in `out` (held). `None`, with `out` unchanged, when one is
/// outside the pool (`out.len()` buffers) or held already (a cycle included).
/// Pure: the fuzz targets run it on any input.
pub(crate) fn bundle_parts(
    out: &mut [bool],
    next: &[u16],
    size: usize,
    first: u16,
    len: usize,
) -> Option<Vec<(u16, usize)>> {
    let n = len.div_ceil(size);
    let mut bids = Vec::with_capacity(n.min(out.len()));
    let mut bid = first;
    for i in 0..n {
        if usize::from(bid) >= out.len() || out[bid as usize] {
            for &b in &bids {
                out[b as usize] = false;
            }
            return None;
        }
        // Marked at once, so a cycle (more entries than buffers) is caught.
        out[bid as usize] = true;
        bids.push(bid);
        if i + 1 < n {
            bid = next.get(bid as usize).copied().unwrap_or(NO_BUFFER);
        }
    }
    let mut left = len;
    Some(
        bids.into_iter()
            .map(|bid| {
                let here = left.min(size);
                left -= here;
                (bid, here)
            })
            .collect(),
    )
}

/// A buffer of a [`BufPool`] that the kernel filled: derefs to exactly the bytes
/// it received. Dropping it gives the buffer back to the kernel.
///
/// It keeps the pool's memory alive, so it may outlive the ring and be sent to
/// other threads. [`mem::forget`](std::mem::forget)ting it keeps the buffer out
/// of the ring for good, and keeps the whole pool alive with it: its memory, and
/// its duplicate of the ring's descriptor — so the kernel's ring (its state and
/// registrations) is not freed either when the [`OwnedRing`](super::OwnedRing)
/// is dropped. Nothing unsafe follows; it is a leak of the kernel ring, not only
/// of the buffer.
///
/// An empty `PoolBuf` with no [`buffer_id`](Self::buffer_id) stands for end of
/// file (the kernel picked no buffer).
///
/// It is an [`IoBuf`](super::IoBuf): hand it to [`ops::Send`](super::ops::Send) or
/// [`ops::Write`](super::ops::Write) to pass the bytes on without copying them; it
/// comes back with the result, and goes back to the pool when dropped.
pub struct PoolBuf {
    /// The pool, which a guard holding a buffer keeps allocated (it is
    /// counted in the pool's `guards`); dangling for an empty guard.
    core: NonNull<PoolCore>,
    /// `NO_BUFFER` for an empty guard.
    bid: u16,
    group: u16,
    /// At most the pool's buffer size (< 2^31).
    len: u32,
}

// SAFETY: the guard's buffer is reached only through it (exclusively by
// `&mut`), and the pool (Send and Sync) only by `&`, its state under its lock;
// the pool stays allocated while the guard holds a buffer, whatever thread
// drops it (the last of the pool's users frees it, after taking the lock).
unsafe impl Send for PoolBuf {}
// SAFETY: `&PoolBuf` reads the buffer's bytes only (no one writes them while the
// guard lives: writes take `&mut`).
unsafe impl Sync for PoolBuf {}

const NO_BUFFER: u16 = u16::MAX;

impl PoolBuf {
    /// An empty guard holding no buffer.
    pub(super) fn empty(pool: &Arc<PoolShared>) -> PoolBuf {
        PoolBuf {
            core: NonNull::dangling(),
            bid: NO_BUFFER,
            group: pool.group,
            len: 0,
        }
    }

    /// The pool of a guard holding a buffer (not an empty one).
    #[inline(always)]
    fn core(&self) -> &PoolCore {
        debug_assert!(self.bid != NO_BUFFER);
        // SAFETY: a guard holding a buffer is counted in its pool's `guards`,
        // which keeps the pool allocated until the guard's Drop.
        unsafe { self.core.as_ref() }
    }

    /// The buffer's id in its group, or `None` for an empty guard.
    #[inline]
    pub fn buffer_id(&self) -> Option<u16> {
        (self.bid != NO_BUFFER).then_some(self.bid)
    }

    /// The group of the pool it came from.
    pub fn group(&self) -> u16 {
        self.group
    }
}

impl Deref for PoolBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        if self.bid == NO_BUFFER {
            return &[];
        }
        // SAFETY: the guard holds buffer `bid` (marked out in the pool): it is not in
        // the ring and the operation that filled it has completed, so the kernel no
        // longer writes it and no other guard exists; the completion's arrival
        // ordered the kernel's writes before this read. len <= size, and the whole
        // pool is initialised (zeroed at allocation). The guard keeps it allocated.
        unsafe { core::slice::from_raw_parts(self.core().ptr(self.bid), self.len as usize) }
    }
}

impl DerefMut for PoolBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        if self.bid == NO_BUFFER {
            return &mut [];
        }
        // SAFETY: as for `deref`; `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.core().ptr(self.bid), self.len as usize) }
    }
}

impl Drop for PoolBuf {
    #[inline]
    fn drop(&mut self) {
        if self.bid != NO_BUFFER && self.core().recycle(self.bid) {
            // SAFETY: this guard was the last of the pool's users (no share, no
            // other guard: see `recycle`), and has released its lock.
            unsafe { PoolCore::free(self.core) };
        }
    }
}

impl fmt::Debug for PoolBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuf")
            .field("group", &self.group)
            .field("buffer_id", &self.buffer_id())
            .field("len", &self.len)
            .finish()
    }
}

impl AsRef<[u8]> for PoolBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// SAFETY: a held buffer is out of the ring and no operation selected it, so while
// the guard lives only it reaches those bytes (writes need `&mut`); its address
// is in the pool's allocation, which the guard keeps, and does not move with
// the guard. All `len` bytes are initialised. An empty guard names no bytes (a
// dangling, never-read pointer for zero length).
unsafe impl super::IoBuf for PoolBuf {
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        if self.bid == NO_BUFFER {
            return NonNull::<u8>::dangling().as_ptr();
        }
        self.core().ptr(self.bid)
    }
    #[inline]
    fn bytes_init(&self) -> usize {
        self.len as usize
    }
    #[inline]
    fn bytes_total(&self) -> usize {
        self.len as usize
    }
}
