//! The submission queue view: copying built entries into the ring.
//!
//! The push is what liburing's inline `io_uring_get_sqe` does, in Rust, inlined:
//! check for room by the kernel's head, copy the entry into
//! `sqes[(tail & mask) << shift]`, bump `sq.sqe_tail`. Where liburing reads the
//! head on every call, a view reads it on its first push and keeps the bound it
//! gives (the head plus the ring's size) as a limit: a push short of the limit is
//! a compare, a mask, a 64-byte copy and the tail's bump; the head is read again
//! only at the limit. A view that pushes one entry so costs what
//! `io_uring_get_sqe` does, and a batch reads the head once. `SQE128` and
//! `SQE_MIXED` rings, whose entries are not simply one 64-byte slot, take the
//! general path on every push. It works on the very same
//! `struct io_uring` fields, so liburing's `io_uring_submit` (or
//! [`Ring::liburing_submit`](crate::Ring::liburing_submit)) submits what was pushed
//! here, and [`Ring::submit`](crate::Ring::submit) submits what
//! `io_uring_get_sqe` handed out.

use core::mem::MaybeUninit;
use core::sync::atomic::Ordering;

use crate::error::PushError;
use crate::ring::atomic;
use crate::sqe::{Sqe, Sqe128};
use crate::sys;

impl Sqe {
    /// Wraps an entry filled in by other means (liburing's `io_uring_prep_*`
    /// helpers, or by hand). Safe: an entry is plain data until it is pushed, and
    /// [`SubmissionQueue::push`] is where its meaning is vouched for.
    ///
    /// ```
    /// use uring::{sqe::Sqe, sys};
    /// let mut raw: sys::io_uring_sqe = unsafe { std::mem::zeroed() };
    /// unsafe { sys::io_uring_prep_nop(&mut raw) };
    /// raw.user_data = 9;
    /// assert_eq!(Sqe::from_raw(raw).as_raw().user_data, 9);
    /// ```
    #[inline(always)]
    pub fn from_raw(raw: sys::io_uring_sqe) -> Sqe {
        Sqe(raw)
    }
}

impl Sqe128 {
    /// A 128-byte entry from a raw 64-byte entry and 64 bytes of command data.
    #[inline(always)]
    pub fn from_raw(sqe: sys::io_uring_sqe, cmd: [u8; 64]) -> Sqe128 {
        Sqe128 { sqe, cmd }
    }
}

/// Whether the kernel treats `opcode` as a 128-byte entry on an `SQE_MIXED` ring.
#[inline(always)]
fn is_128_opcode(opcode: u8) -> bool {
    opcode as u32 == sys::IORING_OP_NOP128 || opcode as u32 == sys::IORING_OP_URING_CMD128
}

/// Setup flags under which an entry is not simply one 64-byte slot.
const SPECIAL_SQES: u32 = sys::IORING_SETUP_SQE128 | sys::IORING_SETUP_SQE_MIXED;

/// A view of a [`Ring`](crate::Ring)'s submission queue, borrowed from
/// [`Ring::submission`](crate::Ring::submission).
///
/// Pushed entries are visible to the kernel after the next submit.
///
/// ```
/// use uring::{Ring, PushError, sqe::Sqe, sys};
///
/// let mut ring = Ring::new(2)?;
/// let mut raw: sys::io_uring_sqe = unsafe { std::mem::zeroed() };
/// unsafe { sys::io_uring_prep_nop(&mut raw) };
/// let nop = Sqe::from_raw(raw);
/// let mut sq = ring.submission();
/// assert_eq!(sq.capacity(), 2);
/// // SAFETY: NOPs name no memory.
/// unsafe {
///     sq.push(&nop).unwrap();
///     sq.push(&nop).unwrap();
///     assert_eq!(sq.push(&nop), Err(PushError::Full));
/// }
/// assert!(sq.is_full());
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SubmissionQueue<'a> {
    sq: &'a mut sys::io_uring_sq,
    // The rest is copied out of `sq` when the view is made, so that the hot path
    // works on locals the compiler keeps in registers: a store into the SQE array
    // (a raw pointer) would otherwise force it to reload them from `*sq`.
    /// `sq.sqes`.
    sqes: *mut sys::io_uring_sqe,
    /// `sq.sqe_tail`, which this view alone moves while it lives; written back on
    /// every push (one store), so a forgotten view loses nothing and the ring can
    /// be submitted while a view is still in scope.
    tail: u32,
    /// `sq.ring_mask`.
    mask: u32,
    /// The ring's setup flags.
    flags: u32,
    /// The fast path's limit: the slots from `tail` up to this one are known to
    /// be free (it is a kernel head seen earlier plus the ring's size: the real
    /// head is at or past that head, so this never over-estimates). A push at
    /// `tail != limit` is a mask, a 64-byte copy and the tail's bump; at `tail ==
    /// limit` it reads the kernel's head again.
    ///
    /// A new view starts at `limit == tail`: its first push checks for room the
    /// way liburing's `io_uring_get_sqe` does (one load of the kernel's head, one
    /// compare), and that one check serves the pushes after it. On `SQE128` and
    /// `SQE_MIXED` rings, where an entry is not simply one 64-byte slot, `limit`
    /// stays at `tail`, so every push takes the general path.
    limit: u32,
}

/// Copies `sqe` into the queue's slot `dst` (every 64-byte entry a view
/// writes goes through here) as eight words, each read as it may
/// be (a union field the builder did not set is left as it was: the words are
/// `MaybeUninit`). Not one 64-byte copy: the compiler then kept the all-zero
/// tail of a freshly built entry in a stack temporary that it zeroed and copied
/// at every push (measured by callgrind, per 4 KiB read: 6.6 instructions more
/// on the raw level, 4 on a re-armed `TypedRing` one, 9 on an `OwnedRing` one).
///
/// # Safety
///
/// `dst` is valid for writing 64 bytes, aligned to 8, and does not overlap `sqe`.
#[inline(always)]
unsafe fn copy_entry(sqe: &Sqe, dst: *mut sys::io_uring_sqe) {
    const _: () = assert!(
        size_of::<Sqe>() == 64 && align_of::<Sqe>() >= align_of::<u64>(),
        "an entry is eight aligned words"
    );
    // SAFETY: `sqe` is 64 bytes aligned to 8 (asserted above): eight words,
    // read as `MaybeUninit`, which any bytes are. The caller's contract for
    // `dst`, which the writes keep to.
    unsafe {
        let w = (sqe as *const Sqe).cast::<[MaybeUninit<u64>; 8]>().read();
        let dst = dst.cast::<MaybeUninit<u64>>();
        dst.write(w[0]);
        dst.add(1).write(w[1]);
        dst.add(2).write(w[2]);
        dst.add(3).write(w[3]);
        dst.add(4).write(w[4]);
        dst.add(5).write(w[5]);
        dst.add(6).write(w[6]);
        dst.add(7).write(w[7]);
    }
}

/// A submission queue's fixed fields, kept by a caller that makes view after
/// view of it ([`SubmissionQueue::resume`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SqParts {
    sqes: *mut sys::io_uring_sqe,
    mask: u32,
    flags: u32,
}

// SAFETY: an address and two numbers: nothing is reached through `sqes` but by
// a view, which borrows its ring mutably (`resume`), on whatever thread has it.
unsafe impl Send for SqParts {}
// SAFETY: as for `Send`: a shared `SqParts` reaches nothing.
unsafe impl Sync for SqParts {}

impl<'a> SubmissionQueue<'a> {
    #[inline(always)]
    pub(crate) fn new(sq: &'a mut sys::io_uring_sq, flags: u32) -> SubmissionQueue<'a> {
        SubmissionQueue {
            sqes: sq.sqes,
            tail: sq.sqe_tail,
            mask: sq.ring_mask,
            flags,
            limit: sq.sqe_tail,
            sq,
        }
    }

    /// A view that goes on where an earlier view of the same queue stopped:
    /// `limit` is that view's [`limit`](Self::limit), so its known free slots
    /// need no new look at the kernel's head; `parts` are the fixed fields of
    /// a view of the queue ([`parts`](Self::parts)), so that only the tail is
    /// loaded from the ring (a caller that makes view after view keeps them).
    ///
    /// # Safety
    ///
    /// `limit` is the `limit()` of a view of `sq` (or `sq.sqe_tail`), and
    /// since that view was made the tail has moved only by pushes of views of
    /// `sq`: it was not reset (as a submit of an `SQ_REWIND` ring resets it),
    /// nor was the ring resized since the view `parts` came from was made.
    #[inline(always)]
    pub(crate) unsafe fn resume(
        sq: &'a mut sys::io_uring_sq,
        parts: SqParts,
        limit: u32,
    ) -> SubmissionQueue<'a> {
        debug_assert!(
            parts.sqes == sq.sqes && parts.mask == sq.ring_mask,
            "parts of this queue, not resized since"
        );
        debug_assert!(limit.wrapping_sub(sq.sqe_tail) <= sq.ring_entries);
        SubmissionQueue {
            sqes: parts.sqes,
            tail: sq.sqe_tail,
            mask: parts.mask,
            flags: parts.flags,
            limit,
            sq,
        }
    }

    /// The view's fixed fields (they change only when the ring is resized),
    /// for [`resume`](Self::resume).
    #[inline(always)]
    pub(crate) fn parts(&self) -> SqParts {
        SqParts {
            sqes: self.sqes,
            mask: self.mask,
            flags: self.flags,
        }
    }

    /// Where this view's known free slots end, for [`resume`](Self::resume).
    #[inline(always)]
    pub(crate) fn limit(&self) -> u32 {
        self.limit
    }

    /// The kernel's head: acquire for SQPOLL (its thread must be done reading a
    /// slot before we overwrite it), relaxed otherwise (we drive it), as liburing's
    /// `io_uring_load_sq_head`; acquire always where that costs nothing.
    #[inline(always)]
    fn load_head(&self) -> u32 {
        // SAFETY: khead points into the SQ ring mapping, which lives as long as the
        // ring this view borrows; the kernel writes it, so it is read atomically.
        let khead = unsafe { atomic(self.sq.khead) };
        if crate::ring::TSO || self.flags & sys::IORING_SETUP_SQPOLL != 0 {
            khead.load(Ordering::Acquire)
        } else {
            khead.load(Ordering::Relaxed)
        }
    }

    /// Whether `n` more slots fit after `tail`, by the kernel's current head.
    #[inline(always)]
    fn has_room(&self, n: u32) -> bool {
        let queued = self.tail.wrapping_sub(self.load_head());
        (queued as u64) + (n as u64) <= self.sq.ring_entries as u64
    }

    /// Free slots from `tail` on before `limit` (0 for the general path).
    #[inline(always)]
    fn window(&self) -> u32 {
        self.limit.wrapping_sub(self.tail)
    }

    /// Re-reads the kernel's head on a plain ring: whether `n` more slots fit
    /// after `tail`, and if so moves `limit` to the head's new bound.
    #[inline(always)]
    fn refill(&mut self, n: u32) -> bool {
        let head = self.load_head();
        let queued = self.tail.wrapping_sub(head);
        // In u64: no overflow; a queue that looks over-full (as it may
        // transiently with `SQ_REWIND`) has no room.
        if (queued as u64) + (n as u64) > self.sq.ring_entries as u64 {
            return false;
        }
        self.limit = head.wrapping_add(self.sq.ring_entries);
        true
    }

    /// Moves the tail on by `n` pushed slots, in the view and in the ring.
    #[inline(always)]
    fn advance(&mut self, n: u32) {
        self.tail = self.tail.wrapping_add(n);
        self.sq.sqe_tail = self.tail;
    }

    /// [`advance`](Self::advance) on an `SQE128` or `SQE_MIXED` ring, whose
    /// `limit` stays at `tail`.
    #[inline(always)]
    fn advance_special(&mut self, n: u32) {
        self.advance(n);
        self.limit = self.tail;
    }

    /// Pointer to slot `index` (a ring position, masked here) of 64 bytes.
    #[inline(always)]
    fn slot(&self, index: u32, shift: u32) -> *mut sys::io_uring_sqe {
        let i = ((index & self.mask) << shift) as usize;
        // SAFETY: i < ring_entries << shift, the number of 64-byte SQE slots in the
        // sqes mapping, so the result stays inside it.
        unsafe { self.sqes.add(i) }
    }

    /// Copies `sqe` into the slot for `tail`; on SQE128 rings also zeroes the
    /// slot's second half, so no stale command bytes from an earlier entry remain.
    ///
    /// # Safety
    ///
    /// The slot must be free (checked with `has_room`).
    #[inline(always)]
    unsafe fn write64(&mut self, tail: u32, sqe: &Sqe) {
        let shift = (self.flags & sys::IORING_SETUP_SQE128 != 0) as u32;
        let slot = self.slot(tail, shift);
        // SAFETY: the slot is inside the sqes mapping, free (the kernel has
        // consumed it: head is past it, and it is not part of the queued batch)
        // and aligned to 64; the source is a distinct 64-byte value.
        unsafe {
            copy_entry(sqe, slot);
            if shift != 0 {
                core::ptr::write_bytes(slot.add(1), 0, 1);
            }
        }
    }

    /// Copies one 64-byte entry onto the queue.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when there is no free slot (nothing is written; submit
    /// and push again); [`PushError::SizeMismatch`] for a 128-byte opcode on an
    /// `SQE_MIXED` ring (use [`push128`](Self::push128)).
    ///
    /// # Safety
    ///
    /// The kernel will carry out the entry: every buffer, iovec, path, timespec
    /// or other memory it points to must stay valid (and, where the kernel writes,
    /// not be accessed otherwise) until its completion has been reaped, and the
    /// descriptors it names must stay open until then (or be fixed/registered
    /// ones). This holds past the ring's own drop: closing a ring cancels
    /// in-flight work asynchronously.
    ///
    /// Memory the entry names indirectly counts too: with `BUFFER_SELECT` the
    /// kernel writes into a buffer of the named provided-buffer group, so that
    /// group's buffers (and, for a buffer ring, the ring) must stay valid and
    /// unused by anything else until the completion saying which buffer was
    /// taken has been reaped; with fixed buffers (`READ_FIXED`, `WRITE_FIXED`,
    /// zero-copy sends from registered memory) the registered memory must stay
    /// valid until then, even if it is unregistered meanwhile. Multishot entries
    /// keep all of this in use until their last completion (the one without
    /// `MORE`); a zero-copy send keeps its buffer until its `NOTIF` completion.
    #[inline]
    #[doc(alias = "io_uring_get_sqe")]
    pub unsafe fn push(&mut self, sqe: &Sqe) -> Result<(), PushError> {
        if self.tail == self.limit {
            if self.flags & SPECIAL_SQES != 0 {
                // SAFETY: forwarded from this function's contract.
                return unsafe { self.push_special(sqe) };
            }
            if !self.refill(1) {
                return Err(PushError::Full);
            }
        }
        // SAFETY: the slot for `tail` is inside the sqes mapping (`slot` masks the
        // index) and free: `tail` is before `limit`, so consumed by the kernel and
        // not queued; on this ring (neither SQE128 nor SQE_MIXED) an entry is
        // exactly one 64-byte slot, aligned to 64. The source is a distinct
        // 64-byte value.
        unsafe { copy_entry(sqe, self.slot(self.tail, 0)) };
        self.advance(1);
        Ok(())
    }

    /// [`push`](Self::push) on `SQE128` and `SQE_MIXED` rings.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push).
    #[inline(always)]
    unsafe fn push_special(&mut self, sqe: &Sqe) -> Result<(), PushError> {
        if self.flags & sys::IORING_SETUP_SQE_MIXED != 0 && is_128_opcode(sqe.as_raw().opcode) {
            return Err(PushError::SizeMismatch {
                opcode: sqe.as_raw().opcode,
            });
        }
        if !self.has_room(1) {
            return Err(PushError::Full);
        }
        // SAFETY: has_room found the slot at tail free.
        unsafe { self.write64(self.tail, sqe) };
        self.advance_special(1);
        Ok(())
    }

    /// Copies all of `sqes` onto the queue, in order, or none of them.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] when fewer slots are free than `sqes.len()`;
    /// [`PushError::SizeMismatch`] as for [`push`](Self::push). Nothing is written
    /// on error.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push), for every entry.
    #[inline]
    pub unsafe fn push_multiple(&mut self, sqes: &[Sqe]) -> Result<(), PushError> {
        if sqes.len() > self.window() as usize {
            // SAFETY: forwarded from this function's contract.
            return unsafe { self.push_multiple_general(sqes) };
        }
        let mut tail = self.tail;
        for sqe in sqes {
            // SAFETY: as in `push`: the sqes.len() slots from `tail` on are before
            // `limit`.
            unsafe { copy_entry(sqe, self.slot(tail, 0)) };
            tail = tail.wrapping_add(1);
        }
        self.advance(sqes.len() as u32);
        Ok(())
    }

    /// [`push_multiple`](Self::push_multiple) beyond the known-free slots (the
    /// head is read again), and on `SQE128` and `SQE_MIXED` rings.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push), for every entry.
    #[inline]
    unsafe fn push_multiple_general(&mut self, sqes: &[Sqe]) -> Result<(), PushError> {
        let special = self.flags & SPECIAL_SQES != 0;
        if self.flags & sys::IORING_SETUP_SQE_MIXED != 0 {
            if let Some(bad) = sqes.iter().find(|s| is_128_opcode(s.as_raw().opcode)) {
                return Err(PushError::SizeMismatch {
                    opcode: bad.as_raw().opcode,
                });
            }
        }
        let n = u32::try_from(sqes.len()).map_err(|_| PushError::Full)?;
        let room = if special {
            self.has_room(n)
        } else {
            self.refill(n)
        };
        if !room {
            return Err(PushError::Full);
        }
        for sqe in sqes {
            // SAFETY: has_room (or refill) found n free slots from the tail on.
            unsafe { self.write64(self.tail, sqe) };
            if special {
                self.advance_special(1);
            } else {
                self.advance(1);
            }
        }
        Ok(())
    }

    /// Copies one 128-byte entry onto the queue of an `SQE128` or `SQE_MIXED` ring.
    ///
    /// On an `SQE_MIXED` ring the entry takes two slots, which must not wrap: when
    /// the tail is at the last slot a NOP with `IOSQE_CQE_SKIP_SUCCESS` pads it
    /// (as liburing's `io_uring_get_sqe128` does). That NOP counts as a submitted
    /// entry but posts no completion.
    ///
    /// # Errors
    ///
    /// [`PushError::Sqe128NotEnabled`] on other rings; [`PushError::Full`] without
    /// room; [`PushError::SizeMismatch`] on an `SQE_MIXED` ring for an opcode other
    /// than `NOP128` or `URING_CMD128` (the kernel would read the second half as a
    /// separate entry). Nothing is written on error.
    ///
    /// # Safety
    ///
    /// As for [`push`](Self::push), including memory named in the command bytes.
    #[inline]
    #[doc(alias = "io_uring_get_sqe128")]
    pub unsafe fn push128(&mut self, sqe: &Sqe128) -> Result<(), PushError> {
        let flags = self.flags;
        let mut tail = self.tail;
        if flags & sys::IORING_SETUP_SQE128 != 0 {
            if !self.has_room(1) {
                return Err(PushError::Full);
            }
            let slot = self.slot(tail, 1);
            // SAFETY: the slot (two 64-byte halves) is free and inside the mapping;
            // Sqe128 is exactly those 128 bytes.
            unsafe { core::ptr::copy_nonoverlapping(sqe as *const Sqe128, slot.cast(), 1) };
            self.advance_special(1);
            return Ok(());
        }
        if flags & sys::IORING_SETUP_SQE_MIXED == 0 {
            return Err(PushError::Sqe128NotEnabled);
        }
        let opcode = sqe.as_raw().opcode;
        if !is_128_opcode(opcode) {
            return Err(PushError::SizeMismatch { opcode });
        }
        let wraps = tail.wrapping_add(1) & self.mask == 0;
        if !self.has_room(if wraps { 3 } else { 2 }) {
            return Err(PushError::Full);
        }
        if wraps {
            let mut pad = Sqe::with_opcode(sys::IORING_OP_NOP as u8);
            // What `io_uring_prep_nop` writes (fd -1), plus the skip flag.
            pad.as_raw_mut().fd = -1;
            pad.as_raw_mut().flags = (1u32 << sys::IOSQE_CQE_SKIP_SUCCESS_BIT) as u8;
            // SAFETY: has_room found three free slots from tail on.
            unsafe { self.write64(tail, &pad) };
            tail = tail.wrapping_add(1);
        }
        let slot = self.slot(tail, 0);
        // SAFETY: slots tail and tail+1 are free and adjacent in memory (tail is
        // not the last slot, by the padding above).
        unsafe { core::ptr::copy_nonoverlapping(sqe as *const Sqe128, slot.cast(), 1) };
        self.advance_special(if wraps { 3 } else { 2 });
        Ok(())
    }

    /// Entries pushed and not yet consumed by the kernel (liburing's
    /// `io_uring_sq_ready`), in slots.
    #[doc(alias = "io_uring_sq_ready")]
    #[inline]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.load_head()) as usize
    }

    /// Whether no entry is waiting for the kernel.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of slots in the queue.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.sq.ring_entries as usize
    }

    /// Free slots (liburing's `io_uring_sq_space_left`).
    #[doc(alias = "io_uring_sq_space_left")]
    #[inline]
    pub fn remaining(&self) -> usize {
        self.capacity().saturating_sub(self.len())
    }

    /// Whether no slot is free.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.remaining() == 0
    }

    /// How many entries the kernel dropped as invalid (`sq.kdropped`).
    #[inline]
    pub fn dropped(&self) -> u32 {
        // SAFETY: kdropped points into the SQ ring mapping, alive while the ring
        // is; the kernel writes it, so it is read atomically.
        unsafe { atomic(self.sq.kdropped) }.load(Ordering::Relaxed)
    }
}

impl core::fmt::Debug for SubmissionQueue<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SubmissionQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A submission ring of `N` 64-byte slots in our own memory, with a kernel
    /// head we move by hand.
    struct FakeSq<const N: usize> {
        khead: u32,
        sqes: [sys::io_uring_sqe; N],
        sq: sys::io_uring_sq,
    }

    impl<const N: usize> FakeSq<N> {
        fn new(start: u32) -> Box<Self> {
            // SAFETY: plain integers and pointers; all-zero is valid for each.
            let mut f: Box<Self> = Box::new(unsafe { core::mem::zeroed() });
            f.khead = start;
            f.sq.khead = &mut f.khead;
            f.sq.sqes = f.sqes.as_mut_ptr();
            f.sq.sqe_tail = start;
            f.sq.sqe_head = start;
            f.sq.ring_mask = N as u32 - 1;
            f.sq.ring_entries = N as u32;
            f
        }
    }

    fn sqe(user_data: u64) -> Sqe {
        Sqe::with_opcode(sys::IORING_OP_NOP as u8).user_data(user_data)
    }

    /// A view resumed with an earlier view's limit fills the slots that view
    /// knew were free without looking at the kernel's head, then looks at it
    /// once they are used up: it never takes a slot the head says is queued.
    #[test]
    fn a_resumed_view_uses_the_known_free_slots_then_reads_the_head() {
        for start in [0u32, 3, u32::MAX - 1] {
            let mut f = FakeSq::<4>::new(start);
            let mut sq = SubmissionQueue::new(&mut f.sq, 0);
            // SAFETY: the fake ring's memory is ours and outlives the view;
            // nothing reads these entries as I/O.
            unsafe { sq.push(&sqe(0)) }.unwrap();
            let (limit, parts) = (sq.limit(), sq.parts());
            assert_eq!(limit, start.wrapping_add(4), "one look: four free");
            // The "kernel" consumes that entry; the old limit still holds (one
            // slot fewer than the head now allows).
            // SAFETY: khead points at the fake ring's head, alive, and no view
            // uses it now.
            unsafe { *f.sq.khead = start.wrapping_add(1) };
            for k in 1..4u32 {
                // SAFETY: `limit` is the last view's, and only pushes moved
                // the tail since.
                let mut sq = unsafe { SubmissionQueue::resume(&mut f.sq, parts, limit) };
                // SAFETY: as above.
                unsafe { sq.push(&sqe(k as u64)) }.unwrap();
                assert_eq!(sq.limit(), limit, "no new look while slots are known free");
            }
            // SAFETY: as above.
            let mut sq = unsafe { SubmissionQueue::resume(&mut f.sq, parts, limit) };
            // SAFETY: as above.
            unsafe { sq.push(&sqe(4)) }.unwrap();
            assert_eq!(sq.limit(), start.wrapping_add(5), "the head read again");
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push(&sqe(5)) }, Err(PushError::Full));
            assert_eq!(f.sq.sqe_tail, start.wrapping_add(5));
            let slot = |k: u32| (start.wrapping_add(k) & 3) as usize;
            for k in 1..5u32 {
                assert_eq!(f.sqes[slot(k)].user_data, k as u64, "start {start}");
            }
        }
    }

    #[test]
    fn windows_fill_every_slot_once_from_every_start() {
        for start in [0u32, 1, 2, 3, 5, u32::MAX - 1] {
            let mut f = FakeSq::<4>::new(start);
            // Two rounds: fill, let the "kernel" consume two, fill again.
            let mut sq = SubmissionQueue::new(&mut f.sq, 0);
            for k in 0..4u32 {
                // SAFETY: the fake ring's memory is ours and outlives the view;
                // nothing reads these entries as I/O.
                unsafe { sq.push(&sqe(k as u64)) }.unwrap();
                assert_eq!(sq.len(), k as usize + 1);
            }
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push(&sqe(9)) }, Err(PushError::Full));
            let tail = f.sq.sqe_tail;
            assert_eq!(tail, start.wrapping_add(4));
            for k in 0..4u32 {
                let slot = (start.wrapping_add(k) & 3) as usize;
                assert_eq!(f.sqes[slot].user_data, k as u64, "start {start}");
            }
            // SAFETY: khead points at the fake ring's head, alive, and no view is.
            unsafe { *f.sq.khead = start.wrapping_add(2) };
            let mut sq = SubmissionQueue::new(&mut f.sq, 0);
            assert_eq!(sq.remaining(), 2);
            let batch = [sqe(10), sqe(11)];
            // SAFETY: as above.
            unsafe { sq.push_multiple(&batch) }.unwrap();
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push_multiple(&batch) }, Err(PushError::Full));
            let (a, b) = (start.wrapping_add(4) & 3, start.wrapping_add(5) & 3);
            assert_eq!(
                (f.sqes[a as usize].user_data, f.sqes[b as usize].user_data),
                (10, 11)
            );
            assert_eq!(f.sq.sqe_tail, start.wrapping_add(6));
        }
    }

    #[test]
    fn a_view_refills_when_the_head_moves_under_it() {
        let mut f = FakeSq::<4>::new(2);
        let khead = f.sq.khead;
        let mut sq = SubmissionQueue::new(&mut f.sq, 0);
        for k in 0..4 {
            // SAFETY: as in the test above.
            unsafe { sq.push(&sqe(k)) }.unwrap();
        }
        // SAFETY: as above.
        assert_eq!(unsafe { sq.push(&sqe(4)) }, Err(PushError::Full));
        // The "kernel" consumes three while the view lives (as an SQPOLL thread
        // would); the view's next push finds them.
        // SAFETY: khead is the fake ring's head, alive; the view only reads it
        // atomically and nothing else touches it meanwhile.
        unsafe { atomic(khead) }.store(5, Ordering::Release);
        for k in 4..7 {
            // SAFETY: as above.
            unsafe { sq.push(&sqe(k)) }.unwrap();
        }
        // SAFETY: as above.
        assert_eq!(unsafe { sq.push(&sqe(7)) }, Err(PushError::Full));
        assert_eq!(sq.len(), 4);
        let got: Vec<u64> = f.sqes.iter().map(|s| s.user_data).collect();
        // Slots 2, 3, 0, 1 took 0..4; then 2, 3, 0 took 4..7.
        assert_eq!(got, [6, 3, 4, 5]);
        assert_eq!(f.sq.sqe_tail, 9);
    }

    #[test]
    fn push_multiple_after_a_push_uses_the_limit_and_rereads_the_head_past_it() {
        let mut f = FakeSq::<8>::new(6);
        let khead = f.sq.khead;
        let mut sq = SubmissionQueue::new(&mut f.sq, 0);
        // SAFETY: as in the tests above.
        unsafe { sq.push(&sqe(0)) }.unwrap();
        // Seven known-free slots remain, across the wrap.
        let batch: Vec<Sqe> = (1..8).map(sqe).collect();
        // SAFETY: as above.
        unsafe { sq.push_multiple(&batch) }.unwrap();
        assert_eq!(
            // SAFETY: as above.
            unsafe { sq.push_multiple(&batch[..1]) },
            Err(PushError::Full)
        );
        // The "kernel" consumes five; a batch of six does not fit, one of five does.
        // SAFETY: khead is the fake ring's head, alive; the view only reads it
        // atomically and nothing else touches it meanwhile.
        unsafe { atomic(khead) }.store(11, Ordering::Release);
        let more: Vec<Sqe> = (8..14).map(sqe).collect();
        // SAFETY: as above.
        assert_eq!(unsafe { sq.push_multiple(&more) }, Err(PushError::Full));
        // SAFETY: as above.
        unsafe { sq.push_multiple(&more[..5]) }.unwrap();
        assert_eq!(sq.len(), 8);
        assert!(sq.is_full());
        let got: Vec<u64> = f.sqes.iter().map(|s| s.user_data).collect();
        // Slots 6, 7, 0..6 took 0..8; then 6, 7, 0, 1, 2 took 8..13.
        assert_eq!(got, [10, 11, 12, 5, 6, 7, 8, 9]);
        assert_eq!(f.sq.sqe_tail, 19);
    }

    #[test]
    fn a_single_push_per_view_fills_every_slot_and_stops_when_full() {
        // One push per view: each checks the kernel's head (the limit is new), at every
        // offset and across the wrap.
        for start in [0u32, 1, 3, u32::MAX] {
            let mut f = FakeSq::<4>::new(start);
            for k in 0..4u64 {
                // SAFETY: as in the tests above.
                unsafe { SubmissionQueue::new(&mut f.sq, 0).push(&sqe(k)) }.unwrap();
                assert_eq!(f.sq.sqe_tail, start.wrapping_add(k as u32 + 1));
            }
            // SAFETY: as above.
            let full = unsafe { SubmissionQueue::new(&mut f.sq, 0).push(&sqe(9)) };
            assert_eq!(full, Err(PushError::Full));
            assert_eq!(
                f.sq.sqe_tail,
                start.wrapping_add(4),
                "a failed push moves nothing"
            );
            for k in 0..4u32 {
                let slot = (start.wrapping_add(k) & 3) as usize;
                assert_eq!(f.sqes[slot].user_data, k as u64, "start {start}");
            }
            // The "kernel" consumes one: one more single push fits, into the
            // slot it freed.
            // SAFETY: khead points at the fake ring's head, alive, and no view is.
            unsafe { *f.sq.khead = start.wrapping_add(1) };
            let mut sq = SubmissionQueue::new(&mut f.sq, 0);
            // SAFETY: as above.
            unsafe { sq.push(&sqe(20)) }.unwrap();
            // SAFETY: as above.
            assert_eq!(unsafe { sq.push(&sqe(21)) }, Err(PushError::Full));
            assert_eq!(f.sqes[(start & 3) as usize].user_data, 20);
            assert_eq!(f.sq.sqe_tail, start.wrapping_add(5));
        }
    }
}
