//! Linked chains: what [`OwnedRing::submit_linked`](super::OwnedRing::submit_linked)
//! takes ([`Linked`]: tuples and `Vec`s of operations).

use std::collections::VecDeque;

use super::op::{Erased, imp};
use super::{Op, OpId, OpKey};
use crate::sqe::Sqe;

/// The operations of a linked chain, as [`OwnedRing::submit_linked`] collects them.
/// Opaque.
#[doc(hidden)]
#[derive(Default)]
pub struct ChainParts {
    pub(super) ops: VecDeque<Box<dyn Erased>>,
    pub(super) sqes: Vec<Sqe>,
}

impl ChainParts {
    fn add<T: Op>(&mut self, mut op: T) {
        // Built before the op is boxed or tabled: a panic here leaves nothing behind.
        let sqe = op.sqe();
        self.ops.push_back(Box::new(op));
        self.sqes.push(sqe);
    }

    fn take<T: Op>(&mut self) -> T {
        let op = self.ops.pop_front().expect("one op per chain member");
        *op.into_any()
            .downcast::<T>()
            .expect("chain members come back in order")
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
    fn into_parts(self, parts: &mut ChainParts);
    #[doc(hidden)]
    fn from_parts(parts: ChainParts) -> Self;
    #[doc(hidden)]
    fn ids(keys: Vec<OpKey>) -> Self::Ids;
}

macro_rules! linked_tuple {
    ($($t:ident),+) => {
        impl<$($t: Op),+> imp::Sealed for ($($t,)+) {}
        impl<$($t: Op),+> Linked for ($($t,)+) {
            type Ids = ($(OpId<$t>,)+);
            #[allow(non_snake_case)]
            fn into_parts(self, parts: &mut ChainParts) {
                let ($($t,)+) = self;
                $( parts.add($t); )+
            }
            fn from_parts(mut parts: ChainParts) -> Self {
                ($( parts.take::<$t>(), )+)
            }
            fn ids(keys: Vec<OpKey>) -> Self::Ids {
                let mut keys = keys.into_iter();
                ($( OpId::<$t>::new(keys.next().expect("one key per member")), )+)
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
    fn into_parts(self, parts: &mut ChainParts) {
        for op in self {
            parts.add(op);
        }
    }
    fn from_parts(mut parts: ChainParts) -> Self {
        (0..parts.ops.len()).map(|_| parts.take::<T>()).collect()
    }
    fn ids(keys: Vec<OpKey>) -> Self::Ids {
        keys.into_iter().map(OpId::new).collect()
    }
}
