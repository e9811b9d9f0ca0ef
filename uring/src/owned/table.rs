//! The in-flight table's `user_data` layout, and the count of leaked operations.
//! The table itself is the [`Slab`](super::slab::Slab): every operation the
//! kernel may still use (and every finished one not taken yet), keyed by slot
//! and generation; operations a dropped ring could not wait for are leaked to its
//! graveyard.

#[cfg(doc)]
use super::OwnedRing;
use super::slab;

/// Marks the table's own entries in `user_data`.
pub(super) const TAG_OWNED: u64 = 1 << 63;
/// Marks the ring's internal entries (cancellations), whose completions are ignored.
pub(super) const TAG_INTERNAL: u64 = 1 << 62;
/// Bits of the generation kept in `user_data`.
pub(super) const GEN_BITS: u32 = 30;
pub(super) const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// The `user_data` of the operation at `slot` of `generation`: `TAG_OWNED`, the
/// generation's low bits and the slot.
#[inline(always)]
pub(super) fn user_data(slot: u32, generation: u64) -> u64 {
    // The high half made in 32 bits: the tag is an immediate there.
    let high = generation as u32 & GEN_MASK as u32 | (TAG_OWNED >> 32) as u32;
    u64::from(high) << 32 | u64::from(slot)
}

/// Whether `ud` is the [`user_data`] of an operation of `generation` (at the
/// slot `ud as u32`): its high half is `TAG_OWNED`'s bit, `TAG_INTERNAL`'s
/// (clear), then the generation's low bits, so one compare checks all three.
#[inline(always)]
pub(super) fn names_generation(ud: u64, generation: u64) -> bool {
    (ud >> 32) as u32 == generation as u32 & GEN_MASK as u32 | (TAG_OWNED >> 32) as u32
}

/// What [`user_data`] made `ud` of: the slot and the generation's low bits;
/// `None` for a user data without `TAG_OWNED` (not the table's).
#[inline(always)]
pub(super) fn owned_slot(ud: u64) -> Option<(u32, u64)> {
    (ud & TAG_OWNED != 0).then_some((ud as u32, (ud >> 32) & GEN_MASK))
}

/// How many operations this process has leaked so far: operations an
/// [`OwnedRing`] or a [`TypedRing`](super::TypedRing) was dropped with that did
/// not complete within its drop timeout.
/// Their memory and descriptors are never freed (see the
/// [safety model](super#safety-model)).
pub fn leaked_ops() -> usize {
    slab::leaked_count() + super::typed::leaked_count()
}
