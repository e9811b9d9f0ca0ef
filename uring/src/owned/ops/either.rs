//! One of two operations, as one operation type: for a ring that runs
//! operations of one type ([`TypedRing`](crate::owned::TypedRing)) in a loop of
//! two kinds.

use crate::cqueue::Cqe;
use crate::owned::Op;
use crate::owned::imp::{Binding, Token};
use crate::sqe::Sqe;

/// Operation `L` or operation `R`, as one operation whose output says which it
/// was: `Either<L::Output, R::Output>`. A
/// [`TypedRing`](crate::owned::TypedRing) keeps operations of one type; a loop
/// of reads and writes runs on a `TypedRing<Either<Read<B>, Write<B>>>`, and
/// more kinds nest (`Either<A, Either<B, C>>`). Everything else is the inner
/// operation's: its entry, what it owns, the ring it is bound to, its output.
///
/// ```
/// use uring::owned::{TypedRing, ops::{Either, Recv, Send}};
/// let mut ring = TypedRing::<Either<Send<Vec<u8>>, Recv<Vec<u8>>>>::new(4)?;
/// let (a, b) = std::os::unix::net::UnixStream::pair()?;
/// let (a, b) = (ring.hold_fd(a)?, ring.hold_fd(b)?);
/// ring.submit_op(Either::Left(Send::new(a, b"either".to_vec())))?;
/// let (_, sent) = ring.next_completion()?;
/// assert_eq!(sent.left().unwrap().0?, 6);
/// ring.submit_op(Either::Right(Recv::new(b, Vec::with_capacity(8))))?;
/// let (_, received) = ring.next_completion()?;
/// let (n, buf) = received.right().unwrap();
/// assert_eq!((n?, &buf[..]), (6, &b"either"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Either<L, R> {
    /// The first kind.
    Left(L),
    /// The second kind.
    Right(R),
}

impl<L, R> Either<L, R> {
    /// Whether this is a `Left`.
    ///
    /// ```
    /// use uring::owned::ops::Either;
    /// assert!(Either::<u8, ()>::Left(1).is_left());
    /// ```
    pub fn is_left(&self) -> bool {
        matches!(self, Either::Left(_))
    }

    /// Whether this is a `Right`.
    ///
    /// ```
    /// use uring::owned::ops::Either;
    /// assert!(Either::<(), u8>::Right(1).is_right());
    /// ```
    pub fn is_right(&self) -> bool {
        matches!(self, Either::Right(_))
    }

    /// The `Left` value, or `None` for a `Right`.
    ///
    /// ```
    /// use uring::owned::ops::Either;
    /// assert_eq!(Either::<u8, ()>::Left(1).left(), Some(1));
    /// assert_eq!(Either::<u8, ()>::Right(()).left(), None);
    /// ```
    pub fn left(self) -> Option<L> {
        match self {
            Either::Left(l) => Some(l),
            Either::Right(_) => None,
        }
    }

    /// The `Right` value, or `None` for a `Left`.
    ///
    /// ```
    /// use uring::owned::ops::Either;
    /// assert_eq!(Either::<(), u8>::Right(2).right(), Some(2));
    /// assert_eq!(Either::<(), u8>::Left(()).right(), None);
    /// ```
    pub fn right(self) -> Option<R> {
        match self {
            Either::Left(_) => None,
            Either::Right(r) => Some(r),
        }
    }
}

// SAFETY: every promise is the inner operation's, kept by forwarding: the entry
// is the inner op's (naming only what it owns, which moves with `self` and is
// dropped with it or handed out by its `complete`), its `MORE` completions and
// its final completion reach it, and so does the question of which ring and
// held file it is bound to — so a ring checks and counts what the inner
// operation names exactly as it would for the inner operation alone.
unsafe impl<L: Op, R: Op> Op for Either<L, R> {
    type Output = Either<L::Output, R::Output>;

    #[inline]
    fn sqe(&mut self) -> Sqe {
        match self {
            Either::Left(l) => l.sqe(),
            Either::Right(r) => r.sqe(),
        }
    }

    #[inline]
    fn complete(self, cqe: &Cqe) -> Self::Output {
        match self {
            Either::Left(l) => Either::Left(l.complete(cqe)),
            Either::Right(r) => Either::Right(r.complete(cqe)),
        }
    }

    #[inline]
    fn more(&mut self, cqe: &Cqe) {
        match self {
            Either::Left(l) => l.more(cqe),
            Either::Right(r) => r.more(cqe),
        }
    }

    #[inline]
    fn bound_ring(&self, token: Token) -> Binding {
        match self {
            Either::Left(l) => l.bound_ring(token),
            Either::Right(r) => r.bound_ring(token),
        }
    }

    #[inline(always)]
    fn posts_more(token: Token) -> bool {
        L::posts_more(token) || R::posts_more(token)
    }
}
