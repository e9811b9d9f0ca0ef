//! What the ring runs and hands back: the [`Op`] trait, the ids of submitted
//! operations ([`OpKey`], [`OpId`]), finished operations ([`Completion`]) and
//! refused submissions ([`SubmitError`]).

use core::marker::PhantomData;
use std::fmt;
use std::io;

use super::slab::Taken;
#[cfg(doc)]
use super::{OwnedRing, ReadFixed, SharedFd, WriteFixed, ops};
use crate::cqueue::{Cqe, CqeFlags};
use crate::sqe::Sqe;

/// An operation the [`OwnedRing`] can run: it owns everything its entry names.
///
/// The operations in [`ops`] implement it; implement it yourself for an opcode
/// they do not cover.
///
/// # Safety
///
/// An implementation promises:
///
/// * the entry [`sqe`](Self::sqe) returns names only memory that `self` owns, in
///   heap allocations (or static memory) whose addresses do not change when `self`
///   is moved, and that nothing reads (where the kernel writes) or writes (where it
///   reads) until [`complete`](Self::complete) is called or `self` is dropped;
/// * the one exception to the above: memory the kernel reads atomically (a futex
///   word, [`ops::FutexWait`]) may be written meanwhile with atomic operations;
/// * it names only descriptors that `self` keeps open until then (for example
///   through a [`SharedFd`]), no registered buffers, provided-buffer groups or
///   fixed files (their lifetimes are not tied to the operation), and does not
///   post its final completion more than once. The exception is this crate's
///   own operations that hold what they name ([`ReadFixed`], [`WriteFixed`],
///   [`ops::RecvSelect`], …): they keep the registered memory alive through an
///   `Arc` until `self` is dropped, and say through a hidden method, which only
///   this crate can override, which ring that registration belongs to — the
///   ring refuses them anywhere else. An implementation outside this crate
///   cannot do that, so it must name none of them. The same goes for this
///   crate's operations built on a [`HeldFd`](super::HeldFd) or a [`DirectFd`](super::DirectFd): an
///   implementation outside this crate must not wrap one and forward its entry,
///   for the ring learns through that hidden method which held file (or whose
///   table) the entry names — through a wrapper it would not, and could close
///   the file while the kernel still uses it;
/// * `complete` takes ownership of anything the kernel created (a new descriptor)
///   so that dropping the output releases it.
///
/// The ring overwrites the entry's `user_data` and clears `IO_LINK`,
/// `IO_HARDLINK` and `CQE_SKIP_SUCCESS` (it sets `IO_LINK` itself in chains).
/// `sqe` may be called more than once; only the last entry is submitted.
/// `complete` should not panic: it runs when the output is taken or when a
/// [`Completion`] is dropped (possibly while the ring is dropped).
pub unsafe trait Op: Send + Sized + 'static {
    /// What the caller gets back: the result and the resources.
    type Output: Send + 'static;

    /// The entry to submit.
    fn sqe(&mut self) -> Sqe;

    /// Turns the operation into its output, after its final completion `cqe`.
    fn complete(self, cqe: &Cqe) -> Self::Output;

    /// Sees a completion flagged `MORE` (the operation stays in flight). Default:
    /// ignores it.
    fn more(&mut self, cqe: &Cqe) {
        let _ = cqe;
    }

    /// The ring this operation must be submitted to (one whose provided-buffer
    /// group, registered buffers or direct table it names), if any, and the
    /// token of the [`HeldFd`](super::HeldFd) it names, if any (the ring then
    /// checks that it holds that file, and counts the operation as its user
    /// until the final completion). Only this crate's operations can say so.
    #[doc(hidden)]
    fn bound_ring(&self, _: imp::Token) -> imp::Binding {
        imp::Binding::NONE
    }

    /// Whether the operation's entry may post completions flagged `MORE`
    /// before its final one (a multishot or zero-copy entry), so that a
    /// [`TypedRing`](super::TypedRing) looks at each completion's flags; those
    /// of this crate whose entries never do say so. Only this crate can
    /// override it.
    #[doc(hidden)]
    #[inline(always)]
    fn posts_more(_: imp::Token) -> bool {
        true
    }

    /// [`complete`](Self::complete) of the operation at `this`, read out of
    /// it (the caller's memory at `this` is then uninitialised): what a
    /// [`TypedRing`](super::TypedRing) calls on the operation in its slot.
    /// This crate's operations read only what their output keeps, and drop
    /// the rest where it lies, so that the whole operation is not copied out
    /// first. Only this crate can override it.
    ///
    /// # Safety
    ///
    /// `this` points to a valid operation, which the caller gives up: it is
    /// not used (nor dropped) again.
    #[doc(hidden)]
    #[inline(always)]
    unsafe fn complete_at(this: *mut Self, cqe: &Cqe, _: imp::Token) -> Self::Output {
        // SAFETY: the caller's contract: `this` is valid and given up.
        unsafe { this.read() }.complete(cqe)
    }
}

pub(super) mod imp {
    pub trait Sealed {}

    /// Proof of being inside this crate, for [`Op::bound_ring`]: code elsewhere
    /// can neither name nor make one, so it cannot override the method.
    #[derive(Clone, Copy)]
    pub struct Token(pub(in crate::owned) ());

    /// What an operation is bound to ([`Op::bound_ring`](super::Op::bound_ring)):
    /// a ring, by a registration of that ring it names, and a held file, by its
    /// token. Either may be absent (0) or in conflict (`u64::MAX`: registrations
    /// of two rings, or two different held files), which every ring refuses.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Binding {
        /// The ring's id (ids count up from 1).
        pub(in crate::owned) ring: u64,
        /// The held file's token (tokens have `TOKEN_BIT`, and none is
        /// `u64::MAX`).
        pub(in crate::owned) held: u64,
    }

    impl Binding {
        /// Bound to nothing.
        pub(in crate::owned) const NONE: Binding = Binding { ring: 0, held: 0 };

        /// Bound to the ring of id `id` (by a registration of it).
        #[inline(always)]
        pub(in crate::owned) const fn ring(id: u64) -> Binding {
            Binding { ring: id, held: 0 }
        }

        /// Naming the held file of token `token`.
        #[inline(always)]
        pub(in crate::owned) const fn held(token: u64) -> Binding {
            Binding {
                ring: 0,
                held: token,
            }
        }

        /// Bound to both `self` and `other`: each part absent in one is the
        /// other's, and two different values conflict.
        #[inline(always)]
        pub(in crate::owned) const fn and(self, other: Binding) -> Binding {
            const fn merge(a: u64, b: u64) -> u64 {
                if a == 0 || a == b {
                    b
                } else if b == 0 {
                    a
                } else {
                    u64::MAX
                }
            }
            Binding {
                ring: merge(self.ring, other.ring),
                held: merge(self.held, other.held),
            }
        }
    }
}

/// Identifies one submitted operation; untyped, `Copy`, comparable. See
/// [`OpId::key`] and [`Completion::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpKey {
    pub(super) ring: u64,
    pub(super) slot: u32,
    pub(super) generation: u64,
}

impl OpKey {
    /// A small number naming the operation among those the ring holds now: the
    /// index of its slot in the in-flight table.
    ///
    /// No two operations of one ring that are in flight, or finished with their
    /// output not yet taken, share an index. Once an operation's output is taken
    /// (or dropped), a later operation may get its index — with another key.
    /// Indices stay below the largest number of operations the ring has held at
    /// once, so an event loop can keep its own state for each operation in a
    /// `Vec` indexed by them instead of a map keyed by `OpKey`; it compares the
    /// whole key (kept with that state) to tell the operation from a later one
    /// in the same slot. Keys of different rings may share an index.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let a = ring.submit_op(ops::Nop::new())?;
    /// let b = ring.submit_op(ops::Nop::new())?;
    /// assert_ne!(a.key().index(), b.key().index());
    /// assert!(a.key().index() < 2 && b.key().index() < 2);
    /// // Which operation owns which index: a `Vec`, no hashing.
    /// let mut owner = vec![None; 2];
    /// owner[a.key().index()] = Some((a.key(), "a"));
    /// owner[b.key().index()] = Some((b.key(), "b"));
    /// ring.submit_and_wait(2)?;
    /// for c in ring.completions() {
    ///     let (key, name) = owner[c.key().index()].expect("an operation of ours");
    ///     assert_eq!(key, c.key());
    ///     assert!(name == "a" || name == "b");
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn index(&self) -> usize {
        self.slot as usize
    }
}

/// The id of an operation of type `T` submitted to an [`OwnedRing`].
///
/// Only an id: it owns nothing, so dropping or forgetting it has no effect on the
/// operation (see the [safety model](super#safety-model)). Give it to
/// [`wait_for`](OwnedRing::wait_for) for the operation's typed output,
/// [`cancel`](OwnedRing::cancel) it, [`detach`](OwnedRing::detach) it, or compare
/// its [`key`](Self::key) with a [`Completion`]'s.
///
/// It is `Copy`: a call that takes it by value leaves the caller's copy, so an id
/// survives an error (a wait interrupted, the id given to the wrong ring) and
/// finds the operation again. An id of an operation that has finished (its
/// output taken, or detached) matches nothing any more, whoever holds a copy.
///
/// ```
/// use uring::owned::{OwnedRing, ops};
/// let mut ring = OwnedRing::new(4)?;
/// let mut other = OwnedRing::new(4)?;
/// let id = ring.submit_op(ops::Nop::new())?;
/// assert!(other.wait_for(id).is_err()); // another ring's id
/// assert_eq!(ring.wait_for(id)?.unwrap(), 0); // the same id, still good
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "an id is how the operation's output is found again"]
pub struct OpId<T> {
    pub(super) key: OpKey,
    _op: PhantomData<fn() -> T>,
}

impl<T> Clone for OpId<T> {
    fn clone(&self) -> OpId<T> {
        *self
    }
}

impl<T> Copy for OpId<T> {}

impl<T> PartialEq for OpId<T> {
    fn eq(&self, other: &OpId<T>) -> bool {
        self.key == other.key
    }
}

impl<T> Eq for OpId<T> {}

impl<T> core::hash::Hash for OpId<T> {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl<T> OpId<T> {
    pub(super) fn new(key: OpKey) -> OpId<T> {
        OpId {
            key,
            _op: PhantomData,
        }
    }

    /// The untyped key, to match against [`Completion::key`].
    pub fn key(&self) -> OpKey {
        self.key
    }
}

impl<T> fmt::Debug for OpId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpId")
            .field("op", &core::any::type_name::<T>())
            .field("key", &self.key)
            .finish()
    }
}

/// A finished operation: its result as the kernel posted it, and its output (the
/// buffers and descriptors it owned, and what it produced).
///
/// Get the output with [`downcast`](Self::downcast) to the operation's type. Dropping
/// a `Completion` drops the output: buffers are freed, descriptors closed.
pub struct Completion {
    pub(super) key: OpKey,
    /// The operation (or, for a multishot stream whose items were being taken,
    /// its output), with its final completion.
    pub(super) taken: Taken,
    /// `Send` but not `Sync`, as a boxed operation would make it.
    pub(super) _not_sync: PhantomData<core::cell::Cell<()>>,
}

impl Completion {
    /// Which operation this is.
    pub fn key(&self) -> OpKey {
        self.key
    }

    /// Whether this completes the operation `id` names.
    pub fn is_for<T>(&self, id: &OpId<T>) -> bool {
        self.key == id.key
    }

    /// The operation's type name (for messages).
    pub fn op_name(&self) -> &'static str {
        self.taken.name()
    }

    /// The final completion's `res`: a count or value, or `-errno`.
    pub fn raw_result(&self) -> i32 {
        self.taken.cqe().raw_result()
    }

    /// The final completion's `res` as a result.
    pub fn result(&self) -> io::Result<u32> {
        let res = self.raw_result();
        if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else {
            Ok(res as u32)
        }
    }

    /// The final completion's flags.
    pub fn flags(&self) -> CqeFlags {
        self.taken.cqe().flags()
    }

    /// The output of operation `id`, typed by the id (no need to name the op's
    /// type), or `self` back if this completion is another operation's.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, SharedFd, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
    /// let read = ring.submit_op(ops::Read::new(&file, vec![0u8; 16], 0))?;
    /// let nop = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(2)?;
    /// for c in ring.completions() {
    ///     let c = match c.into_output(&read) {
    ///         Ok((res, buf)) => {
    ///             assert_eq!(buf.len(), res?);
    ///             continue;
    ///         }
    ///         Err(other) => other,
    ///     };
    ///     assert_eq!(c.into_output(&nop).unwrap()?, 0);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    // The completion comes back by value on a mismatch; boxing it would cost an
    // allocation per completion.
    #[allow(clippy::result_large_err)]
    pub fn into_output<T: Op>(self, id: &OpId<T>) -> Result<T::Output, Completion> {
        if self.is_for(id) {
            self.downcast::<T>()
        } else {
            Err(self)
        }
    }

    /// Whether the operation was a `T`.
    pub fn is<T: Op>(&self) -> bool {
        self.taken.is::<T>()
    }

    /// The output of an operation of type `T`, or `self` back if it was another
    /// type.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let _id = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(1)?;
    /// let c = ring.completions().next().unwrap();
    /// let c = c.downcast::<ops::Timeout>().unwrap_err(); // not a timeout
    /// assert_eq!(c.downcast::<ops::Nop>().unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    #[allow(clippy::result_large_err)] // as for `into_output`
    pub fn downcast<T: Op>(self) -> Result<T::Output, Completion> {
        if !self.taken.is::<T>() {
            return Err(self);
        }
        let Completion { taken, .. } = self;
        // SAFETY: it holds a T (or its output), just checked.
        Ok(unsafe { taken.into_output::<T>() })
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("key", &self.key)
            .field("op", &self.op_name())
            .field("res", &self.raw_result())
            .field("flags", &self.flags())
            .finish_non_exhaustive()
    }
}

/// A submission that did not happen: why, and the operation (or chain) back,
/// untouched by the kernel.
///
/// Converts into the [`io::Error`] (dropping the operation) for `?`.
pub struct SubmitError<T> {
    /// Why.
    pub error: io::Error,
    /// The operation, with its buffers and descriptors.
    pub op: T,
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitError")
            .field("error", &self.error)
            .field("op", &core::any::type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not submit {}: {}",
            core::any::type_name::<T>(),
            self.error
        )
    }
}

impl<T> std::error::Error for SubmitError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<SubmitError<T>> for io::Error {
    fn from(e: SubmitError<T>) -> io::Error {
        e.error
    }
}

#[cfg(test)]
mod tests {
    use super::imp::Binding;

    #[test]
    fn bindings_merge_part_by_part_and_two_values_conflict() {
        let (r1, r2) = (Binding::ring(1), Binding::ring(2));
        let (h1, h2) = (Binding::held(1 << 63 | 5), Binding::held(1 << 63 | 6));
        assert_eq!(Binding::NONE.and(r1), r1);
        assert_eq!(r1.and(Binding::NONE), r1);
        assert_eq!(r1.and(r1), r1);
        assert_eq!(h1.and(h1), h1, "one file named twice is one file");
        // A ring's registration and a held file: both kept.
        assert_eq!(
            r1.and(h1),
            Binding {
                ring: 1,
                held: h1.held
            }
        );
        assert_eq!(h1.and(r1), r1.and(h1));
        // Two rings, or two files: a conflict, which stays one.
        assert_eq!(
            r1.and(r2),
            Binding {
                ring: u64::MAX,
                held: 0
            }
        );
        assert_eq!(
            h1.and(h2),
            Binding {
                ring: 0,
                held: u64::MAX
            }
        );
        assert_eq!(r1.and(r2).and(r1).ring, u64::MAX);
        assert_eq!(h1.and(h2).and(h2).held, u64::MAX);
    }
}
