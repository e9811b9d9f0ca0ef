//! Completions: the [`Cqe`] value, its [`CqeFlags`], and the
//! [`CompletionQueue`] view that reads them out of the ring.
//!
//! Reading follows liburing's inline helpers: load the kernel's tail with
//! acquire ordering, copy entries from `cqes[(head & mask) << shift]`, then
//! publish the new head with release ordering, once (on
//! [`CompletionQueue::sync`] or drop), so liburing's
//! `io_uring_wait_cqe`/`io_uring_cqe_seen` and this view can be mixed on one
//! ring. On rings of 16-byte entries a view steps a pointer through the posted
//! entries up to the end of the array rather than masking an index per entry; a
//! new view's first step is the head's slot alone (a mask and a compare), so a
//! view that reads one completion reads it as `io_uring_peek_cqe` would. `CQE32`
//! and `CQE_MIXED` rings read each entry by its index.

use core::sync::atomic::Ordering;
use std::io;

use crate::ring::atomic;
use crate::sys;

bitflags::bitflags! {
    /// The `IORING_CQE_F_*` flags of a completion. Unknown bits are kept; for a
    /// completion with `BUFFER`, the upper 16 bits are the buffer id (see
    /// [`Cqe::buffer_id`]).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CqeFlags: u32 {
        /// The upper 16 bits hold the id of the provided buffer used (5.7).
        const BUFFER = sys::IORING_CQE_F_BUFFER;
        /// More completions will follow for this request (multishot, zero-copy send) (5.13).
        const MORE = sys::IORING_CQE_F_MORE;
        /// The socket had more data after this receive (5.19).
        const SOCK_NONEMPTY = sys::IORING_CQE_F_SOCK_NONEMPTY;
        /// A zero-copy send's notification that the buffer is free again (6.0).
        const NOTIF = sys::IORING_CQE_F_NOTIF;
        /// The provided-ring buffer was only partly used and stays current (6.12).
        const BUF_MORE = sys::IORING_CQE_F_BUF_MORE;
        /// A padding entry of a `CQE_MIXED` ring, to be ignored (6.18). The
        /// [`CompletionQueue`] skips these itself.
        const SKIP = sys::IORING_CQE_F_SKIP;
        /// A 32-byte entry on a `CQE_MIXED` ring (6.18).
        const F_32 = sys::IORING_CQE_F_32;

        const _ = !0;
    }
}

/// One completion, copied out of the ring.
///
/// ```
/// use uring::Cqe;
/// let mut raw = uring::sys::io_uring_cqe::default();
/// raw.user_data = 5;
/// raw.res = -libc::ENOENT;
/// let cqe = Cqe::from_raw(&raw);
/// assert_eq!(cqe.user_data(), 5);
/// assert_eq!(cqe.result().unwrap_err().raw_os_error(), Some(libc::ENOENT));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cqe {
    user_data: u64,
    res: i32,
    flags: u32,
    big: Option<[u64; 2]>,
}

impl Cqe {
    /// A completion of nothing (all zero), for storage not yet holding one.
    pub(crate) const ZERO: Cqe = Cqe {
        user_data: 0,
        res: 0,
        flags: 0,
        big: None,
    };

    /// Copies a 16-byte kernel completion.
    #[inline]
    pub fn from_raw(raw: &sys::io_uring_cqe) -> Cqe {
        Cqe {
            user_data: raw.user_data,
            res: raw.res,
            flags: raw.flags,
            big: None,
        }
    }

    /// Copies the completion at `p`, with its extra 16 bytes when the ring's
    /// `setup_flags` make it a 32-byte one.
    ///
    /// # Safety
    ///
    /// `p` must point at a posted completion in a CQ ring set up with
    /// `setup_flags`, followed by 16 more readable bytes when it is 32 bytes long.
    #[inline(always)]
    pub(crate) unsafe fn read(p: *const sys::io_uring_cqe, setup_flags: u32) -> Cqe {
        // SAFETY: the caller's contract: p is a valid CQE.
        let raw = unsafe { &*p };
        let mut cqe = Cqe::from_raw(raw);
        // One test on a plain ring; the entry's own flag only on a mixed one.
        if setup_flags & (sys::IORING_SETUP_CQE32 | sys::IORING_SETUP_CQE_MIXED) != 0
            && (setup_flags & sys::IORING_SETUP_CQE32 != 0 || raw.flags & sys::IORING_CQE_F_32 != 0)
        {
            // SAFETY: a 32-byte CQE: the 16 bytes after the header are its big_cqe.
            cqe.big = Some(unsafe { core::ptr::read(p.add(1).cast::<[u64; 2]>()) });
        }
        cqe
    }

    /// The `user_data` of the entry this completes.
    #[inline]
    #[doc(alias = "io_uring_cqe_get_data")]
    #[doc(alias = "io_uring_cqe_get_data64")]
    pub fn user_data(&self) -> u64 {
        self.user_data
    }

    /// The result: a non-negative count or value, or the errno the operation
    /// failed with.
    #[inline]
    pub fn result(&self) -> io::Result<u32> {
        if self.res < 0 {
            Err(io::Error::from_raw_os_error(-self.res))
        } else {
            Ok(self.res as u32)
        }
    }

    /// The raw `res` field: `-errno` on failure.
    #[inline]
    pub fn raw_result(&self) -> i32 {
        self.res
    }

    /// The completion's flags.
    #[inline]
    pub fn flags(&self) -> CqeFlags {
        CqeFlags::from_bits_retain(self.flags)
    }

    /// The provided buffer this operation used, when it used one (`BUFFER`).
    #[inline]
    pub fn buffer_id(&self) -> Option<u16> {
        if self.flags & sys::IORING_CQE_F_BUFFER != 0 {
            Some((self.flags >> sys::IORING_CQE_BUFFER_SHIFT) as u16)
        } else {
            None
        }
    }

    /// Whether more completions will follow for the same request (`MORE`).
    #[inline]
    pub fn is_more(&self) -> bool {
        self.flags & sys::IORING_CQE_F_MORE != 0
    }

    /// Whether this is a zero-copy send's buffer notification (`NOTIF`).
    #[inline]
    pub fn is_notif(&self) -> bool {
        self.flags & sys::IORING_CQE_F_NOTIF != 0
    }

    /// The extra 16 bytes of a 32-byte completion (`CQE32` rings, or `F_32`
    /// entries of `CQE_MIXED` rings); `None` for 16-byte ones.
    #[inline]
    pub fn big(&self) -> Option<[u64; 2]> {
        self.big
    }
}

impl core::fmt::Debug for Cqe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut d = f.debug_struct("Cqe");
        d.field("user_data", &self.user_data)
            .field("res", &self.res)
            .field("flags", &self.flags());
        if let Some(big) = self.big {
            d.field("big", &big);
        }
        d.finish()
    }
}

/// A view of a [`Ring`](crate::Ring)'s completion queue, borrowed from
/// [`Ring::completion`](crate::Ring::completion): an iterator of the completions
/// the kernel had posted when the view was made (or last [`sync`](Self::sync)ed).
///
/// Consumed entries are handed back to the kernel when the view is dropped or
/// synced.
///
/// ```
/// use uring::{Ring, sqe::Sqe, sys};
///
/// let mut ring = Ring::new(4)?;
/// for i in 0..3u64 {
///     let mut raw: sys::io_uring_sqe = unsafe { std::mem::zeroed() };
///     unsafe { sys::io_uring_prep_nop(&mut raw) };
///     raw.user_data = i;
///     // SAFETY: NOPs name no memory.
///     unsafe { ring.submission().push(&Sqe::from_raw(raw)) }.unwrap();
/// }
/// ring.submit_and_wait(3)?;
/// let done: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
/// assert_eq!(done, [0, 1, 2]);
/// assert!(ring.completion().is_empty());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_for_each_cqe")]
#[doc(alias = "io_uring_cqe_iter_init")]
#[doc(alias = "io_uring_cqe_iter_next")]
#[doc(alias = "io_uring_peek_batch_cqe")]
#[doc(alias = "io_uring_cq_advance")]
#[doc(alias = "io_uring_cqe_seen")]
pub struct CompletionQueue<'a> {
    cq: &'a mut sys::io_uring_cq,
    // The rest is copied out of `cq` when the view is made, so that the loop works
    // on locals the compiler keeps in registers.
    /// `cq.cqes`.
    cqes: *const sys::io_uring_cqe,
    /// `cq.ring_mask`.
    mask: u32,
    /// The ring's setup flags.
    flags: u32,
    /// The fast path's window, `[next, end)`: posted entries that do not wrap
    /// around the end of the array, read by stepping a pointer. When it is empty
    /// the general path opens the next one.
    ///
    /// A new view's window is the head's slot alone when an entry is posted there
    /// (and empty otherwise): it costs a mask and a compare, no count of the
    /// entries up to the tail, so a view that reads one completion reads it as
    /// liburing's `io_uring_peek_cqe` would; the second opens a window of the
    /// entries up to the tail.
    ///
    /// Only rings of 16-byte entries have windows, so the fast path steps by a
    /// constant: on `CQE32` rings each entry is read by the general path (as
    /// liburing reads every entry), and on `CQE_MIXED` rings, whose entries vary in
    /// size, too.
    next: *const sys::io_uring_cqe,
    end: *const sys::io_uring_cqe,
    /// The head once the window is read: the head now is this less the
    /// window's unread entries (see [`head`](Self::head)).
    end_head: u32,
    /// The kernel's tail when last loaded.
    tail: u32,
    /// The head the kernel has seen.
    published: u32,
}

impl<'a> CompletionQueue<'a> {
    #[inline(always)]
    pub(crate) fn new(cq: &'a mut sys::io_uring_cq, flags: u32) -> CompletionQueue<'a> {
        // SAFETY: khead and ktail point into the CQ ring mapping, alive as long as
        // the borrowed ring. We are the only writer of khead; the kernel writes
        // ktail, and the acquire load makes the CQEs before it visible.
        let (head, tail) = unsafe {
            (
                atomic(cq.khead).load(Ordering::Relaxed),
                atomic(cq.ktail).load(Ordering::Acquire),
            )
        };
        let first = (head != tail
            && flags & (sys::IORING_SETUP_CQE_MIXED | sys::IORING_SETUP_CQE32) == 0)
            as u32;
        // SAFETY: head & mask < ring_entries, and every ring's cqes array holds
        // at least ring_entries 16-byte units (a plain ring's slots; CQE32 and
        // CQE_MIXED rings, whose window stays empty and the pointer unused, have
        // as many or twice as many): `next` is inside the array and `end` at most
        // one past it.
        let (next, end) = unsafe {
            let next = cq.cqes.add((head & cq.ring_mask) as usize);
            (next, next.add(first as usize))
        };
        CompletionQueue {
            cqes: cq.cqes,
            mask: cq.ring_mask,
            cq,
            flags,
            next,
            end,
            end_head: head.wrapping_add(first),
            tail,
            published: head,
        }
    }

    /// Opens the window at `head` (the window being empty): the posted entries
    /// from there up to the tail or the end of the array, whichever comes first.
    /// Only for rings of 16-byte entries (neither `CQE32` nor `CQE_MIXED`).
    #[inline(always)]
    fn open_window(&mut self, head: u32) {
        let i = head & self.mask;
        let run = self.tail.wrapping_sub(head).min(self.cq.ring_entries - i);
        // SAFETY: i + run <= ring_entries, the 16-byte slots in the cqes array;
        // so both pointers stay inside it or one past.
        unsafe {
            self.next = self.cqes.add(i as usize);
            self.end = self.next.add(run as usize);
        }
        self.end_head = head.wrapping_add(run);
    }

    /// The next slot to read.
    #[inline(always)]
    fn head(&self) -> u32 {
        let unread =
            (self.end.addr() - self.next.addr()) / core::mem::size_of::<sys::io_uring_cqe>();
        self.end_head.wrapping_sub(unread as u32)
    }

    /// Hands consumed entries back to the kernel and loads its new tail, so
    /// completions posted since are seen.
    #[inline]
    pub fn sync(&mut self) {
        self.publish();
        // SAFETY: as in `new`.
        self.tail = unsafe { atomic(self.cq.ktail) }.load(Ordering::Acquire);
    }

    #[inline(always)]
    fn publish(&mut self) {
        let head = self.head();
        if head != self.published {
            // SAFETY: khead points into the CQ ring mapping; the release store
            // orders our reads of the consumed CQEs before the kernel reuses them.
            unsafe { atomic(self.cq.khead) }.store(head, Ordering::Release);
            self.published = head;
        }
    }

    /// Ring slots holding unread completions (liburing's `io_uring_cq_ready`). On
    /// `CQE_MIXED` rings a 32-byte completion takes two slots.
    #[doc(alias = "io_uring_cq_ready")]
    #[inline]
    pub fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head()) as usize
    }

    /// Whether there is nothing to read.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.head() == self.tail
    }

    /// [`next`](Iterator::next) with the window empty: the next entry's slot,
    /// the first of a newly opened window, or a `CQE32` or `CQE_MIXED` ring's
    /// entry (skipping a mixed ring's padding).
    #[inline]
    fn claim_general(&mut self) -> Option<*const sys::io_uring_cqe> {
        let flags = self.flags;
        // The window is empty, so this is the head.
        let mut head = self.end_head;
        loop {
            if head == self.tail {
                return None;
            }
            if flags & (sys::IORING_SETUP_CQE_MIXED | sys::IORING_SETUP_CQE32) == 0 {
                self.open_window(head);
                let p = self.next;
                // SAFETY: the window is not empty (head != tail): p is a posted
                // CQE, which the kernel won't reuse before we publish, and the
                // next one is at most `end`.
                self.next = unsafe { p.add(1) };
                return Some(p);
            }
            let i = head & self.mask;
            if flags & sys::IORING_SETUP_CQE32 != 0 {
                self.end_head = head.wrapping_add(1);
                // SAFETY: i < ring_entries, the 32-byte slots (two 16-byte
                // halves each) of the cqes array: slot `head`, a posted CQE of 32
                // bytes (head != tail; acquire on tail) that the kernel won't
                // reuse before we publish.
                return Some(unsafe { self.cqes.add((i as usize) << 1) });
            }
            // SAFETY: [head, tail) has been posted by the kernel (acquire on
            // tail) and won't be reused before we publish; a mixed ring's slots
            // are 16 bytes, and a 32-byte entry never wraps (the kernel pads with
            // a SKIP entry instead), so its second half is the next slot in memory.
            let p = unsafe { self.cqes.add(i as usize) };
            // SAFETY: p is a posted CQE (see above).
            let raw_flags = unsafe { (*p).flags };
            let slots = if raw_flags & sys::IORING_CQE_F_32 != 0 {
                2
            } else {
                1
            };
            head = head.wrapping_add(slots);
            self.end_head = head;
            if raw_flags & sys::IORING_CQE_F_SKIP == 0 {
                return Some(p);
            }
        }
    }

    /// The number of slots in the queue.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.cq.ring_entries as usize
    }

    /// How many completions the kernel could not post and dropped
    /// (`cq.koverflow`). Stays 0 on kernels with `FEAT_NODROP` unless memory for
    /// the overflow list ran out; [`Ring::cq_has_overflow`](crate::Ring::cq_has_overflow)
    /// says whether completions are waiting to be flushed.
    #[inline]
    pub fn overflow(&self) -> u32 {
        // SAFETY: koverflow points into the CQ ring mapping; the kernel writes it.
        unsafe { atomic(self.cq.koverflow) }.load(Ordering::Relaxed)
    }
}

impl Iterator for CompletionQueue<'_> {
    type Item = Cqe;

    #[inline(always)]
    fn next(&mut self) -> Option<Cqe> {
        if self.next != self.end {
            let p = self.next;
            // SAFETY: `next + 1` is at most `end`, inside the array or one past.
            self.next = unsafe { p.add(1) };
            // SAFETY: p is a posted CQE in the window, which the kernel won't reuse
            // before we publish; windows exist only on rings of 16-byte entries,
            // so it has no second half (and no test of the setup flags is needed).
            return Some(Cqe::from_raw(unsafe { &*p }));
        }
        let p = self.claim_general()?;
        // SAFETY: p is a posted CQE that the kernel won't reuse before we publish,
        // found by `claim_general`; 32 bytes long on a `CQE32` ring, or on a
        // `CQE_MIXED` ring when flagged F_32, which is what `read` goes by.
        Some(unsafe { Cqe::read(p, self.flags) })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.flags & sys::IORING_SETUP_CQE_MIXED != 0 {
            (0, Some(self.len()))
        } else {
            (self.len(), Some(self.len()))
        }
    }
}

impl Drop for CompletionQueue<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.publish();
    }
}

impl core::fmt::Debug for CompletionQueue<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompletionQueue")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}

/// A place in a ring's completion queue, kept between reads that each borrow the
/// queue anew: what the owned layer's iterators read with, as they hand out one
/// finished operation at a time and use the rest of the ring in between (a
/// [`CompletionQueue`] view would hold the ring borrowed, and making one per read
/// costs more than the read). Only for rings of 16-byte entries (neither `CQE32`
/// nor `CQE_MIXED`).
///
/// Through [`next`](Self::next) each entry is handed back to the kernel (the
/// head published) as it is read, so a cursor dropped or forgotten between
/// reads leaves nothing half-read, and nothing is read twice. Through
/// [`next_unpublished`](Self::next_unpublished) the head is published once per
/// pass, for readers to which an entry read twice is harmless.
#[derive(Debug)]
pub(crate) struct CqCursor {
    /// The next entry to read: the head as last published.
    head: u32,
    /// The kernel's tail when last loaded.
    tail: u32,
}

impl CqCursor {
    /// A cursor at the head of `cq`, a queue of a ring set up with `flags`; `None`
    /// when its entries are not all 16 bytes.
    #[inline(always)]
    pub(crate) fn new(cq: &sys::io_uring_cq, flags: u32) -> Option<CqCursor> {
        if flags & (sys::IORING_SETUP_CQE_MIXED | sys::IORING_SETUP_CQE32) != 0 {
            return None;
        }
        // SAFETY: as in `CompletionQueue::new`: khead and ktail point into the
        // ring's mapping; the acquire load makes the entries before the tail
        // visible.
        let (head, tail) = unsafe {
            (
                atomic(cq.khead).load(Ordering::Relaxed),
                atomic(cq.ktail).load(Ordering::Acquire),
            )
        };
        Some(CqCursor { head, tail })
    }

    /// The next posted completion of `cq`, left where it is: [`consume`](Self::consume)
    /// moves past it; [`next`](Self::next) reads it again. `None` when the
    /// kernel has posted nothing more (the tail is loaded again before saying so).
    ///
    /// # Safety
    ///
    /// As for [`next`](Self::next).
    #[inline(always)]
    pub(crate) unsafe fn peek(&mut self, cq: &sys::io_uring_cq) -> Option<Cqe> {
        if self.head == self.tail {
            // SAFETY: the caller's contract: the queue's tail, alive.
            self.tail = unsafe { atomic(cq.ktail) }.load(Ordering::Acquire);
            if self.head == self.tail {
                return None;
            }
        }
        // SAFETY: head != tail: the slot at head & mask holds a posted entry
        // (acquire on the tail), which the kernel does not reuse before the
        // head moves past it.
        Some(Cqe::from_raw(unsafe {
            &*cq.cqes.add((self.head & cq.ring_mask) as usize)
        }))
    }

    /// Consumes the completion [`peek`](Self::peek) just returned: the head moves
    /// past it.
    ///
    /// # Safety
    ///
    /// As for [`next`](Self::next), and `peek` returned an entry since the last
    /// move of the head.
    #[inline(always)]
    pub(crate) unsafe fn consume(&mut self, cq: &sys::io_uring_cq) {
        self.head = self.head.wrapping_add(1);
        // SAFETY: the caller's contract, forwarded.
        unsafe { self.publish(cq) };
    }

    /// The next posted completion of `cq`, read but not handed back yet: the
    /// cursor moves past it, the kernel's head does not until
    /// [`publish`](Self::publish) (which this calls before it loads the tail
    /// again, so that the kernel sees every entry read up to then as free
    /// before it is asked for more). One store per pass over the queue, not
    /// per entry, as liburing's `io_uring_cq_advance` after a loop over the
    /// entries.
    ///
    /// A cursor forgotten without `publish` leaves what it read for the next
    /// reader to read again: only for readers to which a completion read twice
    /// is harmless.
    ///
    /// # Safety
    ///
    /// As for [`next`](Self::next).
    #[inline(always)]
    pub(crate) unsafe fn next_unpublished(&mut self, cq: &sys::io_uring_cq) -> Option<Cqe> {
        if self.head == self.tail {
            // SAFETY: the caller's contract: the queue's head, alive, and ours.
            unsafe { self.publish(cq) };
        }
        // SAFETY: the caller's contract, forwarded.
        let cqe = unsafe { self.peek(cq) }?;
        self.head = self.head.wrapping_add(1);
        Some(cqe)
    }

    /// Hands back to the kernel every entry read so far (stores the head).
    ///
    /// # Safety
    ///
    /// As for [`next`](Self::next).
    #[inline(always)]
    pub(crate) unsafe fn publish(&mut self, cq: &sys::io_uring_cq) {
        // SAFETY: khead points into the mapping; we are its only writer (the
        // caller's contract), and the release orders the reads of the entries
        // before the kernel's reuse of their slots.
        unsafe { atomic(cq.khead) }.store(self.head, Ordering::Release);
    }

    /// The next posted completion of `cq`, consumed: the head moves past it before
    /// it is returned. `None` when the kernel has posted nothing more (the tail is
    /// loaded again before saying so).
    ///
    /// # Safety
    ///
    /// `cq` is the queue (of 16-byte entries) the cursor was made for, alive, and
    /// nothing else has consumed from it since the cursor was made (its head is
    /// still the cursor's).
    #[inline(always)]
    pub(crate) unsafe fn next(&mut self, cq: &sys::io_uring_cq) -> Option<Cqe> {
        // SAFETY: the caller's contract, forwarded; an entry peeked at is
        // consumed at once.
        unsafe {
            let cqe = self.peek(cq)?;
            self.consume(cq);
            Some(cqe)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_buffer_id_decode() {
        let raw = sys::io_uring_cqe {
            user_data: 3,
            res: 512,
            flags: sys::IORING_CQE_F_BUFFER | sys::IORING_CQE_F_MORE | (7 << 16),
            ..Default::default()
        };
        let cqe = Cqe::from_raw(&raw);
        assert_eq!(cqe.buffer_id(), Some(7));
        assert!(cqe.is_more());
        assert!(!cqe.is_notif());
        assert!(cqe.flags().contains(CqeFlags::BUFFER | CqeFlags::MORE));
        assert_eq!(cqe.flags().bits() >> 16, 7, "unknown bits are kept");
        assert_eq!(cqe.result().unwrap(), 512);

        let plain = Cqe::from_raw(&sys::io_uring_cqe {
            flags: sys::IORING_CQE_F_NOTIF | (9 << 16),
            ..Default::default()
        });
        assert_eq!(plain.buffer_id(), None, "no BUFFER flag, no id");
        assert!(plain.is_notif());
    }

    #[test]
    fn big_cqes_are_read_by_ring_flags() {
        // Two 16-byte slots: a header and the 16 extra bytes of a 32-byte CQE.
        #[repr(C, align(8))]
        struct Two([u64; 4]);
        let mem = Two([1, (sys::IORING_CQE_F_32 as u64) << 32, 0xAA, 0xBB]);
        let p = mem.0.as_ptr().cast::<sys::io_uring_cqe>();
        // SAFETY: p points at 32 readable bytes laid out as a 32-byte CQE.
        let big = unsafe { Cqe::read(p, sys::IORING_SETUP_CQE32) };
        assert_eq!(big.big(), Some([0xAA, 0xBB]));
        // SAFETY: as above.
        let mixed = unsafe { Cqe::read(p, sys::IORING_SETUP_CQE_MIXED) };
        assert_eq!(mixed.big(), Some([0xAA, 0xBB]));
        // SAFETY: as above; only the first 16 bytes are read.
        let small = unsafe { Cqe::read(p, 0) };
        assert_eq!((small.user_data(), small.big()), (1, None));
    }

    /// A completion ring of 4 slots of `slot` 16-byte words in our own memory,
    /// with kernel indices we move by hand.
    struct FakeCq {
        khead: u32,
        ktail: u32,
        /// 4 slots of up to 32 bytes.
        words: [u64; 16],
        cq: sys::io_uring_cq,
    }

    fn fake(start: u32) -> Box<FakeCq> {
        // SAFETY: plain integers and pointers; all-zero is valid for each.
        let mut f: Box<FakeCq> = Box::new(unsafe { core::mem::zeroed() });
        f.khead = start;
        f.ktail = start;
        f.cq.khead = &mut f.khead;
        f.cq.ktail = &mut f.ktail;
        f.cq.cqes = f.words.as_mut_ptr().cast();
        f.cq.ring_mask = 3;
        f.cq.ring_entries = 4;
        f
    }

    /// Posts a completion with `user_data` at the fake ring's tail; with `big`,
    /// 32-byte slots (CQE32) whose extra words are `[user_data, !user_data]`.
    fn post(f: &mut FakeCq, user_data: u64, big: bool) {
        // SAFETY: the pointers are the fake ring's, alive; no view is.
        unsafe {
            let tail = *f.cq.ktail;
            let words = if big { 4 } else { 2 };
            let at = f.cq.cqes.cast::<u64>().add((tail & 3) as usize * words);
            *at = user_data;
            *at.add(1) = 0;
            if big {
                *at.add(2) = user_data;
                *at.add(3) = !user_data;
            }
            *f.cq.ktail = tail.wrapping_add(1);
        }
    }

    fn khead(f: &FakeCq) -> u32 {
        // SAFETY: the fake ring's head, alive; no view is.
        unsafe { *f.cq.khead }
    }

    #[test]
    fn windows_read_every_posted_entry_once_from_every_head() {
        for big in [false, true] {
            let flags = if big { sys::IORING_SETUP_CQE32 } else { 0 };
            for start in [0u32, 1, 2, 3, 6, u32::MAX - 1] {
                for posted in 0..=4u64 {
                    for read in 0..=posted {
                        let mut f = fake(start);
                        for ud in 0..posted {
                            post(&mut f, ud, big);
                        }
                        let mut cq = CompletionQueue::new(&mut f.cq, flags);
                        assert_eq!(cq.len(), posted as usize);
                        for ud in 0..read {
                            let c = cq.next().expect("posted");
                            assert_eq!(c.user_data(), ud, "start {start} big {big}");
                            assert_eq!(c.big(), big.then_some([ud, !ud]));
                            assert_eq!(cq.len(), (posted - ud - 1) as usize);
                        }
                        drop(cq);
                        assert_eq!(khead(&f), start.wrapping_add(read as u32));
                        // A new view goes on where the last stopped.
                        let rest: Vec<u64> = CompletionQueue::new(&mut f.cq, flags)
                            .map(|c| c.user_data())
                            .collect();
                        assert_eq!(rest, (read..posted).collect::<Vec<_>>());
                        assert_eq!(khead(&f), start.wrapping_add(posted as u32));
                    }
                }
            }
        }
    }

    #[test]
    fn a_view_made_at_one_entry_reads_it_then_syncs_into_a_window() {
        // The view's first window is the head's slot alone; after it, sync finds
        // entries posted since (across the wrap), read through a full window.
        for big in [false, true] {
            let flags = if big { sys::IORING_SETUP_CQE32 } else { 0 };
            for start in [0u32, 3, u32::MAX] {
                let mut f = fake(start);
                post(&mut f, 10, big);
                let ktail = f.cq.ktail;
                let mut cq = CompletionQueue::new(&mut f.cq, flags);
                assert_eq!(cq.len(), 1);
                let c = cq.next().expect("one posted");
                assert_eq!((c.user_data(), c.big()), (10, big.then_some([10, !10])));
                assert_eq!((cq.next(), cq.len()), (None, 0));
                // The "kernel" posts three more while the view lives.
                let words = if big { 4 } else { 2 };
                for (k, ud) in (11u64..14).enumerate() {
                    let slot = (start.wrapping_add(1 + k as u32) & 3) as usize;
                    f.words[slot * words] = ud;
                    f.words[slot * words + 1] = 0;
                    if big {
                        f.words[slot * words + 2] = ud;
                        f.words[slot * words + 3] = !ud;
                    }
                }
                // SAFETY: the fake ring's tail, alive; the view reads only up to
                // the tail it loaded, so the slots written above were not read.
                unsafe { atomic(ktail) }.store(start.wrapping_add(4), Ordering::Release);
                assert_eq!(cq.len(), 0, "not seen before sync");
                cq.sync();
                assert_eq!(cq.len(), 3);
                let rest: Vec<(u64, Option<[u64; 2]>)> =
                    cq.by_ref().map(|c| (c.user_data(), c.big())).collect();
                let want: Vec<_> = (11u64..14).map(|u| (u, big.then_some([u, !u]))).collect();
                assert_eq!(rest, want, "start {start} big {big}");
                drop(cq);
                assert_eq!(khead(&f), start.wrapping_add(4));
            }
        }
    }

    #[test]
    fn sync_hands_back_and_extends_across_the_wrap() {
        let mut f = fake(2);
        post(&mut f, 0, false);
        post(&mut f, 1, false);
        let ktail = f.cq.ktail;
        let cqes = f.cq.cqes;
        let mut cq = CompletionQueue::new(&mut f.cq, 0);
        assert_eq!(cq.next().map(|c| c.user_data()), Some(0));
        // The "kernel" posts two more (into slots 0 and 1) while the view lives.
        // SAFETY: the fake ring's memory, alive; the view reads only up to the
        // tail it loaded, so these slots are not being read.
        unsafe {
            (*cqes).user_data = 2;
            (*cqes.add(1)).user_data = 3;
            atomic(ktail).store(6, Ordering::Release);
        }
        assert_eq!(cq.len(), 1, "not seen before sync");
        cq.sync();
        assert_eq!(cq.len(), 3);
        let rest: Vec<u64> = cq.by_ref().map(|c| c.user_data()).collect();
        assert_eq!(rest, [1, 2, 3]);
        assert!(cq.is_empty());
        drop(cq);
        assert_eq!(khead(&f), 6);
    }

    /// The next entry through `cur`, a cursor made for `f`'s queue.
    fn cursor_next(cur: &mut CqCursor, f: &FakeCq) -> Option<u64> {
        // SAFETY: the fake ring the cursor was made for, alive, read by nothing
        // else.
        unsafe { cur.next(&f.cq) }.map(|c| c.user_data())
    }

    #[test]
    fn a_cursor_reads_each_entry_once_publishing_as_it_goes() {
        assert!(CqCursor::new(&fake(0).cq, sys::IORING_SETUP_CQE32).is_none());
        assert!(CqCursor::new(&fake(0).cq, sys::IORING_SETUP_CQE_MIXED).is_none());
        for start in [0u32, 3, u32::MAX] {
            let mut f = fake(start);
            post(&mut f, 1, false);
            post(&mut f, 2, false);
            let mut cur = CqCursor::new(&f.cq, 0).expect("16-byte entries");
            assert_eq!(cursor_next(&mut cur, &f), Some(1));
            assert_eq!(khead(&f), start.wrapping_add(1), "handed back as read");
            // Posted after the cursor loaded the tail (across the wrap): seen once
            // the loaded entries are read.
            post(&mut f, 3, false);
            post(&mut f, 4, false);
            let rest: Vec<u64> = core::iter::from_fn(|| cursor_next(&mut cur, &f)).collect();
            assert_eq!(rest, [2, 3, 4], "start {start}");
            assert_eq!(khead(&f), start.wrapping_add(4));
            assert_eq!(cursor_next(&mut cur, &f), None);
            // A view made now finds nothing left.
            assert_eq!(CompletionQueue::new(&mut f.cq, 0).count(), 0);
        }
    }

    #[test]
    fn a_peek_leaves_the_entry_until_it_is_consumed() {
        let mut f = fake(u32::MAX);
        post(&mut f, 1, false);
        post(&mut f, 2, false);
        let mut cur = CqCursor::new(&f.cq, 0).expect("16-byte entries");
        // SAFETY: the fake ring the cursor was made for, alive, read by nothing
        // else; each consume follows a peek that returned an entry.
        unsafe {
            assert_eq!(cur.peek(&f.cq).map(|c| c.user_data()), Some(1));
            assert_eq!(cur.peek(&f.cq).map(|c| c.user_data()), Some(1), "again");
            assert_eq!(khead(&f), u32::MAX, "nothing handed back yet");
            cur.consume(&f.cq);
            assert_eq!(khead(&f), 0, "handed back across the wrap");
            assert_eq!(cur.peek(&f.cq).map(|c| c.user_data()), Some(2));
        }
        // `next` reads the entry peeked at, once.
        assert_eq!(cursor_next(&mut cur, &f), Some(2));
        assert_eq!(khead(&f), 1);
        // SAFETY: as above.
        assert!(unsafe { cur.peek(&f.cq) }.is_none(), "dry");
        post(&mut f, 3, false);
        // SAFETY: as above.
        let third = unsafe { cur.peek(&f.cq) }.map(|c| c.user_data());
        assert_eq!(third, Some(3), "the tail is loaded again");
    }

    #[test]
    fn an_unpublished_read_hands_back_once_a_pass_and_a_forgotten_pass_reads_again() {
        for start in [0u32, 3, u32::MAX] {
            let mut f = fake(start);
            post(&mut f, 1, false);
            post(&mut f, 2, false);
            let mut cur = CqCursor::new(&f.cq, 0).expect("16-byte entries");
            let next = |cur: &mut CqCursor, f: &FakeCq| {
                // SAFETY: the fake ring the cursor was made for, alive, read by
                // no other cursor meanwhile (`cur` is not used after `again` is
                // made).
                unsafe { cur.next_unpublished(&f.cq) }.map(|c| c.user_data())
            };
            assert_eq!(next(&mut cur, &f), Some(1));
            assert_eq!(next(&mut cur, &f), Some(2));
            assert_eq!(khead(&f), start, "nothing handed back within the pass");
            // The next read reaches the loaded tail: the head is published
            // before the tail is loaded again, across the wrap.
            post(&mut f, 3, false);
            assert_eq!(khead(&f), start);
            assert_eq!(next(&mut cur, &f), Some(3));
            assert_eq!(khead(&f), start.wrapping_add(2), "start {start}");
            assert_eq!(next(&mut cur, &f), None);
            assert_eq!(khead(&f), start.wrapping_add(3), "published when dry");
            post(&mut f, 4, false);
            post(&mut f, 5, false);
            assert_eq!(next(&mut cur, &f), Some(4));
            // Forgotten here: a new cursor reads 4 again, as the kernel was
            // never told it was read.
            let mut again = CqCursor::new(&f.cq, 0).expect("16-byte entries");
            assert_eq!(next(&mut again, &f), Some(4));
            // SAFETY: as above.
            unsafe { again.publish(&f.cq) };
            assert_eq!(khead(&f), start.wrapping_add(4));
            assert_eq!(cursor_next(&mut again, &f), Some(5));
            assert_eq!(khead(&f), start.wrapping_add(5));
        }
    }

    #[test]
    fn mixed_rings_skip_padding_and_read_big_entries() {
        let mut f = fake(1);
        // Slot 1: a 16-byte entry; slots 2-3: a 32-byte one; slot 0 (wrapped):
        // padding with SKIP.
        let flags32 = (sys::IORING_CQE_F_32 as u64) << 32;
        f.words[2] = 7;
        f.words[4] = 8;
        f.words[5] = flags32;
        f.words[6] = 0xAA;
        f.words[7] = 0xBB;
        f.words[1] = (sys::IORING_CQE_F_SKIP as u64) << 32;
        f.words[0] = 99;
        // SAFETY: the fake ring's tail, alive; no view is.
        unsafe { *f.cq.ktail = 5 };
        let got: Vec<(u64, Option<[u64; 2]>)> =
            CompletionQueue::new(&mut f.cq, sys::IORING_SETUP_CQE_MIXED)
                .map(|c| (c.user_data(), c.big()))
                .collect();
        assert_eq!(got, [(7, None), (8, Some([0xAA, 0xBB]))]);
        assert_eq!(khead(&f), 5);
    }
}
