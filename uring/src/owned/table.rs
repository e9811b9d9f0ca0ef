//! The in-flight table: every operation the kernel may still use, keyed by slot
//! and generation, and the graveyard where operations a dropped ring could not
//! wait for are leaked.

use std::sync::Mutex;

use super::OpKey;
#[cfg(doc)]
use super::OwnedRing;
use super::op::Erased;

/// Marks the table's own entries in `user_data`.
pub(super) const TAG_OWNED: u64 = 1 << 63;
/// Marks the ring's internal entries (cancellations), whose completions are ignored.
pub(super) const TAG_INTERNAL: u64 = 1 << 62;
/// Bits of the generation kept in `user_data`.
pub(super) const GEN_BITS: u32 = 30;
pub(super) const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// One slot of the in-flight table.
pub(super) struct Entry {
    /// The generation of the slot's current (or last) operation.
    pub(super) generation: u64,
    pub(super) state: State,
}

pub(super) enum State {
    Free { next: u32 },
    InFlight { op: Box<dyn Erased>, detached: bool },
}

const NO_SLOT: u32 = u32::MAX;

/// The in-flight table: a slab of operations keyed by slot, with generations.
pub(super) struct Table {
    pub(super) entries: Vec<Entry>,
    free: u32,
    pub(super) in_flight: usize,
}

impl Table {
    pub(super) fn new() -> Table {
        Table {
            entries: Vec::new(),
            free: NO_SLOT,
            in_flight: 0,
        }
    }

    pub(super) fn insert(&mut self, op: Box<dyn Erased>) -> (u32, u64) {
        let state = State::InFlight {
            op,
            detached: false,
        };
        self.in_flight += 1;
        if self.free != NO_SLOT {
            let slot = self.free;
            let entry = &mut self.entries[slot as usize];
            let State::Free { next } = entry.state else {
                unreachable!("the free list holds free slots")
            };
            self.free = next;
            entry.generation += 1;
            entry.state = state;
            (slot, entry.generation)
        } else {
            let slot = u32::try_from(self.entries.len())
                .ok()
                .filter(|&s| s != NO_SLOT)
                .expect("fewer than 2^32 - 1 operations in flight");
            self.entries.push(Entry {
                generation: 0,
                state,
            });
            (slot, 0)
        }
    }

    /// The in-flight entry at `slot` whose generation's low bits are `gen_low`.
    pub(super) fn find(&mut self, slot: u32, gen_low: u64) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(slot as usize)?;
        let live = matches!(entry.state, State::InFlight { .. });
        (live && entry.generation & GEN_MASK == gen_low).then_some(entry)
    }

    pub(super) fn is_in_flight(&self, key: &OpKey) -> bool {
        self.entries.get(key.slot as usize).is_some_and(|e| {
            e.generation == key.generation && matches!(e.state, State::InFlight { .. })
        })
    }

    /// Takes the operation out of `slot` (which must be in flight) and frees the slot.
    pub(super) fn remove(&mut self, slot: u32) -> (Box<dyn Erased>, bool) {
        let entry = &mut self.entries[slot as usize];
        let state = core::mem::replace(&mut entry.state, State::Free { next: self.free });
        let State::InFlight { op, detached } = state else {
            unreachable!("only in-flight slots are removed")
        };
        self.free = slot;
        self.in_flight -= 1;
        (op, detached)
    }

    pub(super) fn user_data(slot: u32, generation: u64) -> u64 {
        TAG_OWNED | (generation & GEN_MASK) << 32 | slot as u64
    }

    /// The user data of every operation in flight.
    pub(super) fn all_user_data(&self) -> Vec<u64> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.state, State::InFlight { .. }))
            .map(|(i, e)| Table::user_data(i as u32, e.generation))
            .collect()
    }
}

impl Drop for Table {
    /// Normally the table is empty by now (`OwnedRing::drop` waited for, or
    /// leaked, everything). If it is not — a panic escaped the ring's drop — what
    /// is still in flight is leaked here rather than freed.
    fn drop(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        let mut graveyard = GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner());
        for entry in &mut self.entries {
            if let State::InFlight { .. } = entry.state {
                let state = core::mem::replace(&mut entry.state, State::Free { next: NO_SLOT });
                if let State::InFlight { op, .. } = state {
                    graveyard.push(op);
                }
            }
        }
        self.in_flight = 0;
    }
}

/// Operations leaked by rings dropped while the kernel might still use them.
pub(super) static GRAVEYARD: Mutex<Vec<Box<dyn Erased>>> = Mutex::new(Vec::new());

/// How many operations this process has leaked so far: operations an
/// [`OwnedRing`] was dropped with that did not complete within its drop timeout.
/// Their memory and descriptors are never freed (see the
/// [safety model](super#safety-model)).
pub fn leaked_ops() -> usize {
    GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner()).len()
}
