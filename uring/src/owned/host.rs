//! [`SafeRing`]: the safe rings registrations are made on.

use super::{DirectTable, OwnedRing};

/// A safe ring that registrations are made on — a [`DirectTable`],
/// [`FixedBufs`](super::FixedBufs), a [`BufPool`](super::BufPool), a
/// [`SendQueue`](super::SendQueue): an [`OwnedRing`] or a
/// [`TypedRing`](super::TypedRing). Operations that use a registration run on
/// the ring it was made on, and are refused (`EXDEV`) on any other. Sealed: no
/// other type implements it.
///
/// ```
/// use uring::owned::{FixedBuf, FixedBufs, OwnedRing, ReadFixed, TypedRing};
/// let mut owned = OwnedRing::new(4)?;
/// let mut typed = TypedRing::<ReadFixed<FixedBuf>>::new(4)?;
/// let a = FixedBufs::new(&mut owned, 2, 4096)?;
/// let b = FixedBufs::new(&mut typed, 2, 4096)?;
/// assert_eq!((a.len(), b.len()), (2, 2));
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait SafeRing: sealed::Sealed {}

/// The seal of [`SafeRing`]: public, in a private module, so no one else can
/// implement it or call it.
pub(super) mod sealed {
    /// What making a registration needs of a ring.
    pub struct Parts<'a> {
        pub ring: &'a mut crate::Ring,
        /// The ring's id, which operations bound to the registration name.
        pub id: u64,
        /// How many operations are in flight.
        pub in_flight: usize,
        /// Where the ring keeps its direct descriptor table (for as long as
        /// it lives).
        pub direct: &'a mut Option<super::DirectTable>,
    }

    pub trait Sealed {
        /// The ring's id.
        fn host_id(&self) -> u64;
        fn host_parts(&mut self) -> Parts<'_>;
    }
}

pub(super) use sealed::{Parts, Sealed};

impl Sealed for OwnedRing {
    fn host_id(&self) -> u64 {
        self.id
    }

    fn host_parts(&mut self) -> Parts<'_> {
        Parts {
            in_flight: self.in_flight(),
            ring: &mut self.ring,
            id: self.id,
            direct: &mut self.direct,
        }
    }
}

impl SafeRing for OwnedRing {}
