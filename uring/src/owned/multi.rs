//! Multishot operations: one submission, a stream of completions.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use super::{Op, OpId, OwnedRing, SubmitError, imp};
use crate::cqueue::Cqe;
use crate::sqe::Sqe;

/// A multishot operation: one entry that posts a completion per event (each
/// flagged `IORING_CQE_F_MORE`) until a final one without it. Submit it with
/// [`OwnedRing::submit_multishot`] and read its items with
/// [`next_item`](OwnedRing::next_item); the ops in [`ops`](super::ops) whose names
/// end in `Multishot` implement it.
///
/// # Safety
///
/// As for [`Op`]: the entry names only memory and descriptors `self` owns and
/// keeps valid (at stable addresses) until `self` is dropped, which happens only
/// after the final completion. `item` takes ownership of anything the kernel
/// created for a completion (a new descriptor), whether or not it is `MORE`.
pub unsafe trait Multishot: Send + Sized + 'static {
    /// What each completion yields.
    type Item: Send + 'static;

    /// The entry to submit (with its multishot flag set).
    fn sqe(&mut self) -> Sqe;

    /// Turns one completion — `MORE` or the final one — into an item; `None` for
    /// a completion that carries none (for example the end of file that ends a
    /// multishot receive).
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<Self::Item>>;

    /// As [`Op::bound_ring`].
    #[doc(hidden)]
    fn bound_ring(&self, _: imp::Token) -> Option<u64> {
        None
    }
}

/// A [`Multishot`] operation as the ring's table holds it: the operation and the
/// items that arrived and were not taken yet.
///
/// Its [`Op::Output`], delivered with the final completion, is the items not yet
/// taken — the last one usually the error that ended the stream (`ECANCELED`
/// after a cancel, `ENOBUFS` when a pool ran dry).
pub struct Multi<T: Multishot> {
    op: T,
    items: VecDeque<io::Result<T::Item>>,
}

impl<T: Multishot> Multi<T> {
    /// Wraps `op` for [`OwnedRing::submit_op`] (or use
    /// [`OwnedRing::submit_multishot`]).
    pub fn new(op: T) -> Multi<T> {
        Multi {
            op,
            items: VecDeque::new(),
        }
    }

    /// The operation back.
    pub fn into_inner(self) -> T {
        self.op
    }
}

impl<T: Multishot + fmt::Debug> fmt::Debug for Multi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multi")
            .field("op", &self.op)
            .field("items", &self.items.len())
            .finish()
    }
}

// SAFETY: forwarded from `Multishot`'s contract: the entry is the inner op's, and
// the op is dropped only in `complete` (after the final completion) or with the
// table. Items own what the kernel created.
unsafe impl<T: Multishot> Op for Multi<T> {
    type Output = VecDeque<io::Result<T::Item>>;

    fn sqe(&mut self) -> Sqe {
        self.op.sqe()
    }

    fn more(&mut self, cqe: &Cqe) {
        if let Some(item) = self.op.item(cqe) {
            self.items.push_back(item);
        }
    }

    fn complete(mut self, cqe: &Cqe) -> Self::Output {
        if let Some(item) = self.op.item(cqe) {
            self.items.push_back(item);
        }
        self.items
    }

    fn bound_ring(&self, token: imp::Token) -> Option<u64> {
        Multishot::bound_ring(&self.op, token)
    }
}

/// What [`OwnedRing::poll_item`] found for a multishot operation.
#[derive(Debug)]
pub enum ItemPoll<I> {
    /// The next item.
    Item(io::Result<I>),
    /// No item yet; the operation is still in flight.
    Pending,
    /// The stream has ended: the final completion was processed and every item
    /// taken (or the id is not this ring's, or was detached).
    Ended,
}

impl OwnedRing {
    /// Queues a multishot operation; read its items with
    /// [`next_item`](Self::next_item), end it early with
    /// [`cancel`](Self::cancel). The operation, its buffers and descriptors stay in
    /// the table until its final completion.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// // A timer firing three times (Linux 6.4).
    /// let id = ring.submit_multishot(ops::TimeoutMultishot::new(Duration::from_millis(1), 3))?;
    /// let mut fired = 0;
    /// while let Some(item) = ring.next_item(&id)? {
    /// #   if matches!(&item, Err(e) if e.raw_os_error() == Some(libc::EINVAL)) { return Ok(()) }
    ///     item?;
    ///     fired += 1;
    /// }
    /// assert_eq!(fired, 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit_op`](Self::submit_op).
    pub fn submit_multishot<T: Multishot>(
        &mut self,
        op: T,
    ) -> Result<OpId<Multi<T>>, SubmitError<T>> {
        self.submit_op(Multi::new(op))
            .map_err(|SubmitError { error, op }| SubmitError {
                error,
                op: op.into_inner(),
            })
    }

    /// Takes the next item of multishot operation `id` if one has arrived,
    /// without waiting (it processes what the kernel posted, but does not submit).
    pub fn poll_item<T: Multishot>(&mut self, id: &OpId<Multi<T>>) -> ItemPoll<T::Item> {
        // Items already processed come first, and the kernel's queue is looked
        // at only when there are none: an event loop draining a stream item by
        // item reaps once, not once per item.
        match self.take_item(id) {
            ItemPoll::Pending => {
                let _ = self.reap();
                self.take_item(id)
            }
            polled => polled,
        }
    }

    pub(super) fn take_item<T: Multishot>(&mut self, id: &OpId<Multi<T>>) -> ItemPoll<T::Item> {
        if id.key.ring != self.id {
            return ItemPoll::Ended;
        }
        let (slot, generation) = (id.key.slot, id.key.generation);
        if let Some(multi) = self.table.in_flight_mut::<Multi<T>>(slot, generation) {
            return match multi.items.pop_front() {
                Some(item) => ItemPoll::Item(item),
                None => ItemPoll::Pending,
            };
        }
        let item = self
            .table
            .done_output_mut::<Multi<T>>(slot, generation)
            .map(VecDeque::pop_front);
        match item {
            Some(Some(item)) => ItemPoll::Item(item),
            Some(None) => {
                // Every item taken: the stream's output is empty, and goes.
                self.table.drop_done(slot, generation);
                ItemPoll::Ended
            }
            None => ItemPoll::Ended,
        }
    }

    /// Submits what is queued and waits for the next item of multishot operation
    /// `id`: `Some(item)`, or `None` once the stream has ended (the final
    /// completion was processed and every item taken). The error that ended a
    /// stream, if any, is its last item.
    ///
    /// # Errors
    ///
    /// The kernel's errno when submitting or waiting fails (the operation stays in
    /// flight).
    pub fn next_item<T: Multishot>(
        &mut self,
        id: &OpId<Multi<T>>,
    ) -> io::Result<Option<io::Result<T::Item>>> {
        loop {
            self.reap()?;
            match self.take_item(id) {
                ItemPoll::Item(item) => return Ok(Some(item)),
                ItemPoll::Ended => return Ok(None),
                ItemPoll::Pending => {}
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// A blocking iterator over the items of multishot operation `id`, as
    /// [`next_item`](Self::next_item) gives them; an error waiting ends it with
    /// that error.
    pub fn items<'a, T: Multishot>(&'a mut self, id: &'a OpId<Multi<T>>) -> Items<'a, T> {
        Items {
            ring: self,
            id,
            done: false,
        }
    }
}

/// Iterator over a multishot operation's items, from [`OwnedRing::items`].
pub struct Items<'a, T: Multishot> {
    ring: &'a mut OwnedRing,
    id: &'a OpId<Multi<T>>,
    done: bool,
}

impl<T: Multishot> Items<'_, T> {
    /// Cancels the operation: the items already posted still come, then the
    /// final one (usually `ECANCELED`), then the end.
    ///
    /// # Errors
    ///
    /// As for [`OwnedRing::cancel`].
    pub fn cancel(&mut self) -> io::Result<()> {
        self.ring.cancel(self.id)
    }
}

impl<T: Multishot> Iterator for Items<'_, T> {
    type Item = io::Result<T::Item>;

    fn next(&mut self) -> Option<io::Result<T::Item>> {
        if self.done {
            return None;
        }
        match self.ring.next_item(self.id) {
            Ok(Some(item)) => Some(item),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<T: Multishot> fmt::Debug for Items<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items")
            .field("id", &self.id)
            .field("done", &self.done)
            .finish()
    }
}
