//! Linked chains: what [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked)
//! takes ([`Linked`]: tuples and `Vec`s of operations).

use std::io;

use super::held::{HeldFiles, TOKEN_BIT, not_held};
use super::op::imp;
use super::slab::{NO_FILE, Slab};
use super::{Op, OpId, OpKey};
use crate::error;
use crate::sqe::Sqe;

/// Refuses an operation bound to another ring than `ring` (it names a buffer
/// group, registered buffers or a send queue registered there); says which
/// [`HeldFd`](super::HeldFd) it names, if it names one (its token), for the
/// ring to look up in its own table of held files.
#[inline(always)]
pub(super) fn check_binding(ring: u64, bound: Option<u64>) -> io::Result<Option<u64>> {
    match bound {
        None => Ok(None),
        Some(b) if b == ring => Ok(None),
        // u64::MAX: bound to two different rings (no token has it).
        Some(token) if token & TOKEN_BIT != 0 && token != u64::MAX => Ok(Some(token)),
        Some(_) => Err(wrong_ring()),
    }
}

/// The slot in `files` of the held file an operation names (which the table
/// records with the operation): [`NO_FILE`] for none, `EBADF` for one the ring
/// does not hold.
#[inline(always)]
pub(super) fn held_file(files: &HeldFiles, held: Option<u64>) -> io::Result<u32> {
    match held {
        None => Ok(NO_FILE),
        Some(token) => files.lookup(token),
    }
}

#[cold]
fn wrong_ring() -> io::Error {
    error::with_context(
        libc::EXDEV,
        "this operation uses a registration of another ring (a buffer pool, \
         registered buffers, a send queue or a direct descriptor)",
    )
}

/// How [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked) prepares a
/// chain's members: their entries, built before anything is tabled. Opaque.
#[doc(hidden)]
pub struct ChainPrep<'a> {
    pub(super) sqes: &'a mut Vec<Sqe>,
    pub(super) ring: u64,
    pub(super) files: &'a HeldFiles,
}

impl ChainPrep<'_> {
    /// Refuses a member bound to another ring, or naming a held file the ring
    /// does not hold, then builds its entry.
    fn add<T: Op>(&mut self, op: &mut T) -> io::Result<()> {
        if let Some(token) = check_binding(self.ring, op.bound_ring(imp::Token(())))? {
            if !self.files.holds(token) {
                return Err(not_held());
            }
        }
        self.sqes.push(op.sqe());
        Ok(())
    }
}

/// How [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked) puts a
/// chain's members in the table, and takes them out again if the chain cannot be
/// pushed. Opaque.
#[doc(hidden)]
pub struct ChainParts<'a> {
    pub(super) table: &'a mut Slab,
    pub(super) ring: u64,
}

impl ChainParts<'_> {
    fn table<T: Op>(&mut self, op: T) -> OpId<T> {
        let held = check_binding(self.ring, op.bound_ring(imp::Token(())))
            .expect("prepare checked every member's binding");
        // Prepare found every held file named held, and none can have been
        // released since (that takes the ring, which the caller borrows).
        let file = held_file(&self.table.files, held)
            .expect("prepare checked that the ring holds every file named");
        let (slot, generation) = self.table.insert(op, file);
        OpId::new(OpKey {
            ring: self.ring,
            slot,
            generation,
        })
    }

    fn untable<T: Op>(&mut self, id: OpId<T>) -> T {
        self.table.remove_unsubmitted(id.key.slot)
    }
}

/// Operations that can be submitted as one linked chain (`IOSQE_IO_LINK`): tuples
/// of up to six [`Op`]s, or a `Vec` of one type. Each starts only after the
/// previous one succeeded; after a failure (including a short read or write) the
/// rest complete with `ECANCELED`. Every member owns its resources as a single
/// operation does.
pub trait Linked: imp::Sealed + Sized {
    /// The members' ids, in the same shape.
    type Ids;
    #[doc(hidden)]
    fn prepare(&mut self, prep: &mut ChainPrep<'_>) -> io::Result<()>;
    #[doc(hidden)]
    fn table(self, parts: &mut ChainParts<'_>) -> Self::Ids;
    #[doc(hidden)]
    fn keys(ids: &Self::Ids, f: impl FnMut(OpKey));
    #[doc(hidden)]
    fn untable(ids: Self::Ids, parts: &mut ChainParts<'_>) -> Self;
}

macro_rules! linked_tuple {
    ($($t:ident),+) => {
        impl<$($t: Op),+> imp::Sealed for ($($t,)+) {}
        impl<$($t: Op),+> Linked for ($($t,)+) {
            type Ids = ($(OpId<$t>,)+);
            #[allow(non_snake_case)]
            fn prepare(&mut self, prep: &mut ChainPrep<'_>) -> io::Result<()> {
                let ($($t,)+) = self;
                $( prep.add($t)?; )+
                Ok(())
            }
            #[allow(non_snake_case)]
            fn table(self, parts: &mut ChainParts<'_>) -> Self::Ids {
                let ($($t,)+) = self;
                ($( parts.table($t), )+)
            }
            #[allow(non_snake_case)]
            fn keys(ids: &Self::Ids, mut f: impl FnMut(OpKey)) {
                let ($($t,)+) = ids;
                $( f($t.key); )+
            }
            #[allow(non_snake_case)]
            fn untable(ids: Self::Ids, parts: &mut ChainParts<'_>) -> Self {
                let ($($t,)+) = ids;
                ($( parts.untable($t), )+)
            }
        }
    };
}

linked_tuple!(A);
linked_tuple!(A, B);
linked_tuple!(A, B, C);
linked_tuple!(A, B, C, D);
linked_tuple!(A, B, C, D, E);
linked_tuple!(A, B, C, D, E, F);

impl<T: Op> imp::Sealed for Vec<T> {}
impl<T: Op> Linked for Vec<T> {
    type Ids = Vec<OpId<T>>;
    fn prepare(&mut self, prep: &mut ChainPrep<'_>) -> io::Result<()> {
        self.iter_mut().try_for_each(|op| prep.add(op))
    }
    fn table(self, parts: &mut ChainParts<'_>) -> Self::Ids {
        self.into_iter().map(|op| parts.table(op)).collect()
    }
    fn keys(ids: &Self::Ids, f: impl FnMut(OpKey)) {
        ids.iter().map(|id| id.key).for_each(f)
    }
    fn untable(ids: Self::Ids, parts: &mut ChainParts<'_>) -> Self {
        ids.into_iter().map(|id| parts.untable(id)).collect()
    }
}
