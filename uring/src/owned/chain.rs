//! Linked chains: what [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked)
//! takes ([`Linked`]: tuples and `Vec`s of operations).

use std::io;

use super::held::{HeldFiles, not_held};
use super::op::imp::{self, Binding};
use super::slab::{NO_FILE, Slab};
use super::{Op, OpId, OpKey};
use crate::error;
use crate::sqe::Sqe;

/// The slot in `files` of the held file an operation bound as `bound` names
/// (which the table records with the operation), or [`NO_FILE`] if it names
/// none. Refuses an operation bound to another ring than `ring` (it names a
/// buffer group, registered buffers, a send queue or a direct descriptor
/// registered there) or naming two different held files (`EXDEV`), and one
/// naming a [`HeldFd`](super::HeldFd) this ring does not hold (`EBADF`).
#[inline(always)]
pub(super) fn bound_file(ring: u64, files: &HeldFiles, bound: Binding) -> io::Result<u32> {
    if bound.ring != 0 && bound.ring != ring {
        return Err(wrong_ring());
    }
    match bound.held {
        0 => Ok(NO_FILE),
        // `u64::MAX` (two held files) is looked up too, and found nowhere (its
        // slot is one no file is ever held in): told apart only then.
        token => files.find(token).ok_or_else(|| match token {
            u64::MAX => two_held(),
            _ => not_held(),
        }),
    }
}

#[cold]
fn two_held() -> io::Error {
    error::with_context(
        libc::EXDEV,
        "this operation names two different HeldFds (a ring records one per operation): \
         name one of them through a SharedFd",
    )
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
        bound_file(self.ring, self.files, op.bound_ring(imp::Token(())))?;
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
        // Prepare checked every member's binding, and found every held file
        // named held; none can have been released since (that takes the
        // ring, which the caller borrows).
        let file = bound_file(self.ring, &self.table.files, op.bound_ring(imp::Token(())))
            .expect("prepare checked every member's binding and held file");
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
