//! The in-flight table of a [`TypedRing`](super::TypedRing): operations of its
//! one type, each in a slot of its own, by value — no type ids, no table of
//! functions, no box.

use core::mem::MaybeUninit;

use crate::cqueue::Cqe;
use crate::owned::Op;
use crate::owned::slab::{NO_FILE, NO_SLOT};
use crate::owned::table::{GEN_MASK, names_generation};

/// One slot: free, or holding an operation the kernel may still use.
struct Slot<T> {
    /// Which use of the slot this is, and whether it is busy: odd while it
    /// holds an operation, even while free (it counts up at every fill and
    /// every take). A busy slot's low bits are in its entry's user data, so a
    /// completion naming them finds it busy: a free slot's differ in bit 0.
    generation: u64,
    /// When free, the next free slot (or `NO_SLOT`).
    next: u32,
    /// When busy, the held file the operation names (its slot in the ring's
    /// held files), or `NO_FILE`.
    file: u32,
    /// The operation while busy. Never dropped by the slot: a busy slot's
    /// operation leaves it only by [`Slots::take_with`], so one still here when the
    /// table is dropped (the ring leaked it) is leaked with whatever the kernel
    /// may still use.
    op: MaybeUninit<T>,
}

impl<T> Slot<T> {
    #[inline(always)]
    fn is_busy(&self) -> bool {
        self.generation & 1 == 1
    }
}

/// Slots of operations in flight, with a free list.
pub(super) struct Slots<T> {
    /// Never shrinks.
    slots: Vec<Slot<T>>,
    /// The first free slot, or `NO_SLOT`; a free slot's `next` is the next
    /// one. Every slot on this list is in `slots`.
    free: u32,
    in_flight: usize,
}

impl<T: Op> Slots<T> {
    pub(super) const fn new() -> Slots<T> {
        Slots {
            slots: Vec::new(),
            free: NO_SLOT,
            in_flight: 0,
        }
    }

    /// How many operations are in flight.
    #[inline(always)]
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// A free slot for the next [`fill`](Self::fill), and the generation it
    /// will have: the table grows when none is free. Nothing changes until
    /// `fill`, so a submission that fails after this leaves no trace.
    #[inline(always)]
    pub(super) fn reserve(&mut self) -> (u32, u64) {
        if self.free == NO_SLOT {
            self.grow();
        }
        let index = self.free;
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: `free` is `NO_SLOT` or a slot of the table (the free list
        // holds only slots that `grow` pushed or `take` freed, and the table
        // never shrinks); `grow` made it one.
        let generation = unsafe { self.slots.get_unchecked(index as usize) }
            .generation
            .wrapping_add(1);
        (index, generation)
    }

    /// Adds a free slot. `extern "C"`, so that it cannot unwind (a panic in
    /// it aborts): it runs between an operation's arrival and its move into
    /// a slot, and a call that may unwind there gives the caller a clean-up
    /// path dropping the operation, which keeps the operation in memory on
    /// the way in (measured: 5 instructions more per re-armed read). Nothing
    /// here panics but on a guard no ring reaches and a failed allocation
    /// (which aborts anyway).
    #[cold]
    #[inline(never)]
    extern "C" fn grow(&mut self) {
        // Slot numbers stay below NO_SLOT (the last one is never used): a
        // process cannot have four billion operations of one ring in flight
        // (the kernel's queues are at most 2^15 and 2^20 entries long, and
        // every slot holds an operation), so this is only a guard.
        assert!(
            self.slots.len() < NO_SLOT as usize,
            "a TypedRing holds fewer than 2^32 - 1 operations"
        );
        self.free = self.slots.len() as u32;
        self.slots.push(Slot {
            generation: 0,
            next: NO_SLOT,
            file: NO_FILE,
            op: MaybeUninit::uninit(),
        });
    }

    /// Puts `op` in the slot [`reserve`](Self::reserve) gave (`index`, which
    /// must still be the first free one: nothing else filled a slot since) at
    /// `generation`, naming the held file `file`.
    ///
    /// # Safety
    ///
    /// `index` is what `reserve` returned last, and no slot was filled since.
    #[inline(always)]
    pub(super) unsafe fn fill(&mut self, index: u32, generation: u64, op: T, file: u32) {
        debug_assert!((index as usize) < self.slots.len());
        // SAFETY: the caller's contract: `reserve` returned `index`, the first
        // free slot, which is in the table (it grows, never shrinks).
        let slot = unsafe { self.slots.get_unchecked_mut(index as usize) };
        debug_assert!(slot.generation & 1 == 0 && generation & 1 == 1 && self.free == index);
        self.free = slot.next;
        slot.generation = generation;
        slot.file = file;
        slot.op.write(op);
        self.in_flight += 1;
    }

    /// The operation in flight that the user data `ud` names (slot and
    /// generation, as [`user_data`](crate::owned::table::user_data) made it),
    /// given up to `complete` where it lies (which reads it out: the slot is
    /// free again, and never reads it), with its slot, its whole generation
    /// and what `complete` returned. `None` for user data that names no
    /// operation in flight (`complete` is not called): without `TAG_OWNED`
    /// (or with `TAG_INTERNAL`), or naming a slot not of that generation.
    #[inline(always)]
    pub(super) fn take_with<R>(
        &mut self,
        ud: u64,
        complete: impl FnOnce(*mut T) -> R,
    ) -> Option<(u32, u64, R)> {
        let index = ud as u32;
        let free = self.free;
        let slot = self.slots.get_mut(index as usize)?;
        // Only this ring's operations' entries carry `TAG_OWNED` (a
        // `MSG_RING` message cannot), each made from its slot's generation
        // while busy; a free slot's generation is even, a busy one's odd, so
        // a free slot never matches.
        if !names_generation(ud, slot.generation) {
            return None;
        }
        let generation = slot.generation;
        slot.generation = generation.wrapping_add(1);
        slot.next = free;
        let op = slot.op.as_mut_ptr();
        self.free = index;
        self.in_flight -= 1;
        Some((index, generation, complete(op)))
    }

    /// The operation in flight at `index` of `gen_low` (as for
    /// [`take`](Self::take)), left in place.
    #[inline]
    pub(super) fn get_mut(&mut self, index: u32, gen_low: u64) -> Option<&mut T> {
        let slot = self.slots.get_mut(index as usize)?;
        if !slot.is_busy() || slot.generation & GEN_MASK != gen_low {
            return None;
        }
        // SAFETY: a busy slot holds its operation.
        Some(unsafe { slot.op.assume_init_mut() })
    }

    /// Passes a completion flagged `MORE` to the operation it names (which
    /// stays in flight); ignored when it names none.
    #[inline]
    pub(super) fn more(&mut self, index: u32, gen_low: u64, cqe: &Cqe) {
        if let Some(op) = self.get_mut(index, gen_low) {
            op.more(cqe);
        }
    }

    /// Whether the operation at `index` of the whole `generation` is in flight.
    #[inline]
    pub(super) fn is_in_flight(&self, index: u32, generation: u64) -> bool {
        self.slots
            .get(index as usize)
            .is_some_and(|s| s.is_busy() && s.generation == generation)
    }

    /// Every operation in flight: slot and whole generation.
    pub(super) fn all_in_flight(&self) -> Vec<(u32, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_busy())
            .map(|(i, s)| (i as u32, s.generation))
            .collect()
    }

    /// The operations in flight that name the held file at `file`.
    pub(super) fn naming_file(&self, file: u32) -> Vec<(u32, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_busy() && s.file == file)
            .map(|(i, s)| (i as u32, s.generation))
            .collect()
    }

    /// Gives up every operation in flight: each stays in its slot, never
    /// dropped (nor what the kernel may use freed, when the table is), and
    /// the slot is never used again (it is off the free list, and no
    /// completion takes it). Returns how many.
    pub(super) fn leak_in_flight(&mut self) -> usize {
        for slot in &mut self.slots {
            if slot.is_busy() {
                slot.generation = slot.generation.wrapping_add(1);
            }
        }
        core::mem::replace(&mut self.in_flight, 0)
    }
}
