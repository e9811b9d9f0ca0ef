//! Multishot operations: one submission, a stream of completions.

use std::collections::VecDeque;
use std::fmt;
use std::io;

use super::{Op, OpId, OwnedRing, SubmitError, imp};
use crate::cqueue::{Cqe, CqeFlags};
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

    /// Whether the final completion `cqe` (already given to
    /// [`item`](Self::item)) ended a stream that submitting the operation again
    /// simply continues: the kernel stopped it while its source
    /// could still give more (a full completion queue does that), rather than at
    /// end of file, on an error or when asked to. [`StreamEnd::rearm`] reports it.
    ///
    /// Default: a positive result (a final completion that carried an event, a
    /// byte count, a poll mask). An operation for which 0 is an event too (a
    /// descriptor number) overrides it.
    fn rearm(&self, cqe: &Cqe) -> bool {
        cqe.raw_result() > 0
    }

    /// As [`Op::bound_ring`].
    #[doc(hidden)]
    fn bound_ring(&self, _: imp::Token) -> imp::Binding {
        imp::Binding::NONE
    }
}

/// A [`Multishot`] operation as the ring's table holds it: the operation and the
/// items that arrived and were not taken yet.
///
/// Its [`Op::Output`], delivered with the final completion, is a [`MultiOutput`]:
/// the items not yet taken — the last one usually the error that ended the
/// stream (`ECANCELED` after a cancel, `ENOBUFS` when a pool ran dry) — and the
/// [`StreamEnd`] saying why it ended.
pub struct Multi<T: Multishot> {
    op: T,
    /// The oldest item not taken, if any: a stream read as it arrives holds one
    /// item at a time, and it waits here, without the queue's bookkeeping.
    first: Option<io::Result<T::Item>>,
    /// The items after `first`, oldest first (empty while `first` is `None`);
    /// allocated the first time two items wait at once, and kept. (Boxed, so
    /// that `Multi` fits the ring table's inline slots.)
    #[allow(clippy::box_collection, reason = "8 bytes in the slot, not 32")]
    items: Option<Box<VecDeque<io::Result<T::Item>>>>,
}

impl<T: Multishot> Multi<T> {
    /// Wraps `op` for [`OwnedRing::submit_op`] (or use
    /// [`OwnedRing::submit_multishot`]).
    pub fn new(op: T) -> Multi<T> {
        Multi {
            op,
            first: None,
            items: None,
        }
    }

    /// The operation back.
    pub fn into_inner(self) -> T {
        self.op
    }

    /// Queues `item` after those not taken yet.
    #[inline]
    fn push(&mut self, item: io::Result<T::Item>) {
        if self.first.is_none() && self.rest_is_empty() {
            self.first = Some(item);
        } else if let Some(items) = &mut self.items {
            items.push_back(item);
        } else {
            self.items = Some(Box::new(VecDeque::from([item])));
        }
    }

    /// The oldest item not taken.
    #[inline]
    fn pop(&mut self) -> Option<io::Result<T::Item>> {
        match self.first.take() {
            Some(item) => Some(item),
            None => self.items.as_mut()?.pop_front(),
        }
    }

    /// Whether no item waits behind `first`.
    #[inline]
    fn rest_is_empty(&self) -> bool {
        self.items.as_ref().is_none_or(|items| items.is_empty())
    }

    /// The number of items not taken.
    fn waiting(&self) -> usize {
        usize::from(self.first.is_some()) + self.items.as_ref().map_or(0, |items| items.len())
    }
}

impl<T: Multishot + fmt::Debug> fmt::Debug for Multi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multi")
            .field("op", &self.op)
            .field("items", &self.waiting())
            .finish()
    }
}

// SAFETY: forwarded from `Multishot`'s contract: the entry is the inner op's, and
// the op is dropped only in `complete` (after the final completion) or with the
// table. Items own what the kernel created.
unsafe impl<T: Multishot> Op for Multi<T> {
    type Output = MultiOutput<T::Item>;

    fn sqe(&mut self) -> Sqe {
        self.op.sqe()
    }

    #[inline]
    fn more(&mut self, cqe: &Cqe) {
        if let Some(item) = self.op.item(cqe) {
            self.push(item);
        }
    }

    fn complete(mut self, cqe: &Cqe) -> Self::Output {
        if let Some(item) = self.op.item(cqe) {
            self.push(item);
        }
        let mut items = self.items.take().map(|b| *b).unwrap_or_default();
        if let Some(first) = self.first.take() {
            items.push_front(first);
        }
        // After `item`, which an operation may count the final completion in.
        let end = StreamEnd {
            res: cqe.raw_result(),
            flags: cqe.flags().bits(),
            rearm: self.op.rearm(cqe),
        };
        MultiOutput { items, end }
    }

    fn bound_ring(&self, token: imp::Token) -> imp::Binding {
        Multishot::bound_ring(&self.op, token)
    }
}

/// How and why a multishot stream ended: its final completion (the one without
/// `IORING_CQE_F_MORE`).
///
/// The kernel ends a stream on an error (the last item is that error:
/// `ECANCELED` after a cancel, `ENOBUFS` when a pool ran dry, …), at end of file,
/// when a multishot timeout has fired its count — and also **without** any of
/// those, when it cannot go on posting (a full completion queue ends every
/// multishot operation that would post to it). Only [`rearm`](Self::rearm) tells
/// the last case from end of file: submit the operation again to go on.
///
/// ```
/// use uring::owned::{Next, OwnedRing, ops};
/// let mut ring = OwnedRing::new(4)?;
/// let (r, _w) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_multishot(ops::PollMultishot::new(r, libc::POLLIN as u32))?;
/// ring.submit()?;
/// ring.cancel(&id)?;
/// let end = loop {
///     match ring.next_item(&id)? {
///         Next::Item(_) => continue, // the cancellation's ECANCELED
///         Next::End(end) => break end,
///     }
/// };
/// assert_eq!(end.raw_result(), -libc::ECANCELED);
/// assert!(!end.rearm()); // cancelled: do not simply go on
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamEnd {
    res: i32,
    flags: u32,
    rearm: bool,
}

impl StreamEnd {
    /// The final completion's `res`: `-errno`, 0 (end of file, for a receive or
    /// read), or the value of the last event.
    pub fn raw_result(&self) -> i32 {
        self.res
    }

    /// The final completion's `res` as a result.
    pub fn result(&self) -> io::Result<u32> {
        if self.res < 0 {
            Err(io::Error::from_raw_os_error(-self.res))
        } else {
            Ok(self.res as u32)
        }
    }

    /// The final completion's flags (a buffer id for a final completion that
    /// carried data, …).
    pub fn flags(&self) -> CqeFlags {
        CqeFlags::from_bits_retain(self.flags)
    }

    /// Whether submitting the operation again is all it takes to go on: the
    /// kernel stopped the stream while its source could still give more (a full
    /// completion queue does that), not at end of file, on an error, or because
    /// it was cancelled. The final completion's item, if it carried one, was
    /// queued as usual. ([`Multishot::rearm`] decides, per operation.)
    pub fn rearm(&self) -> bool {
        self.rearm
    }
}

/// A multishot operation's output ([`Op::Output`] of [`Multi`]): the items not
/// taken before the final completion, and how the stream ended. Iterating it
/// yields the items.
#[derive(Debug)]
pub struct MultiOutput<I> {
    /// The items not taken yet, oldest first.
    pub items: VecDeque<io::Result<I>>,
    /// Why the stream ended.
    pub end: StreamEnd,
}

impl<I> IntoIterator for MultiOutput<I> {
    type Item = io::Result<I>;
    type IntoIter = std::collections::vec_deque::IntoIter<io::Result<I>>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// What [`OwnedRing::poll_item`] found for a multishot operation.
#[derive(Debug)]
pub enum ItemPoll<I> {
    /// The next item.
    Item(io::Result<I>),
    /// No item yet; the operation is still in flight.
    Pending,
    /// The stream has ended — the final completion was processed and every item
    /// taken — for the reason given. Reported once; the id is then
    /// [`Gone`](Self::Gone).
    Ended(StreamEnd),
    /// The ring knows no such stream: its end was already reported, the id was
    /// detached or its output taken by other means, or the id is another ring's.
    Gone,
}

/// What [`OwnedRing::next_item`] waited for: an item, or the end of the stream.
#[derive(Debug)]
pub enum Next<I> {
    /// The next item.
    Item(io::Result<I>),
    /// The stream has ended (every item taken), for the reason given.
    End(StreamEnd),
}

impl<I> Next<I> {
    /// The item, or `None` at the end.
    pub fn item(self) -> Option<io::Result<I>> {
        match self {
            Next::Item(item) => Some(item),
            Next::End(_) => None,
        }
    }

    /// The end, or `None` for an item.
    pub fn end(&self) -> Option<StreamEnd> {
        match self {
            Next::Item(_) => None,
            Next::End(end) => Some(*end),
        }
    }
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
    /// while let Some(item) = ring.next_item(&id)?.item() {
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
    /// without waiting (it processes what the kernel posted, but does not submit;
    /// on a `DEFER_TASKRUN` ring it runs the deferred work first, as
    /// [`get_events`](OwnedRing::get_events)).
    ///
    /// At the end it says why ([`ItemPoll::Ended`] with a [`StreamEnd`]): an
    /// event loop re-arms a stream whose end says [`rearm`](StreamEnd::rearm).
    #[inline]
    pub fn poll_item<T: Multishot>(&mut self, id: &OpId<Multi<T>>) -> ItemPoll<T::Item> {
        // Items already processed come first, and the kernel's queue is looked
        // at only when there are none: an event loop draining a stream item by
        // item reaps once, not once per item.
        match self.take_item(id) {
            ItemPoll::Pending => {
                let _ = self.reap_now();
                self.take_item(id)
            }
            polled => polled,
        }
    }

    #[inline]
    pub(super) fn take_item<T: Multishot>(&mut self, id: &OpId<Multi<T>>) -> ItemPoll<T::Item> {
        if id.key.ring != self.id {
            return ItemPoll::Gone;
        }
        let (slot, generation) = (id.key.slot, id.key.generation);
        if let Some(multi) = self.table.in_flight_mut::<Multi<T>>(slot, generation) {
            return match multi.pop() {
                Some(item) => ItemPoll::Item(item),
                None => ItemPoll::Pending,
            };
        }
        let Some(out) = self.table.done_output_mut::<Multi<T>>(slot, generation) else {
            return ItemPoll::Gone;
        };
        match out.items.pop_front() {
            Some(item) => ItemPoll::Item(item),
            None => {
                // Every item taken: the stream's output goes, and its end is
                // reported once.
                let end = out.end;
                self.table.drop_done(slot, generation);
                ItemPoll::Ended(end)
            }
        }
    }

    /// Submits what is queued and waits for the next item of multishot operation
    /// `id`: [`Next::Item`], or [`Next::End`] once the stream has ended (the
    /// final completion was processed and every item taken), with why. The error
    /// that ended a stream, if any, is its last item; a stream the kernel ended
    /// while it could go on says so with [`StreamEnd::rearm`].
    /// ([`Next::item`] gives `Option`, for `while let`.)
    ///
    /// # Errors
    ///
    /// The kernel's errno when submitting or waiting fails (the operation stays in
    /// flight); `ENOENT` for a stream the ring does not know
    /// ([`ItemPoll::Gone`]: its end was already reported, or the id was detached
    /// or is another ring's).
    pub fn next_item<T: Multishot>(&mut self, id: &OpId<Multi<T>>) -> io::Result<Next<T::Item>> {
        loop {
            self.reap()?;
            match self.take_item(id) {
                ItemPoll::Item(item) => return Ok(Next::Item(item)),
                ItemPoll::Ended(end) => return Ok(Next::End(end)),
                ItemPoll::Gone => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
                ItemPoll::Pending => {}
            }
            self.wait_one()?;
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
            end: None,
        }
    }
}

/// Iterator over a multishot operation's items, from [`OwnedRing::items`].
pub struct Items<'a, T: Multishot> {
    ring: &'a mut OwnedRing,
    id: &'a OpId<Multi<T>>,
    done: bool,
    end: Option<StreamEnd>,
}

impl<T: Multishot> Items<'_, T> {
    /// Why the stream ended, once the iterator has reached its end (`None`
    /// before, or when it stopped on an error waiting).
    pub fn end(&self) -> Option<StreamEnd> {
        self.end
    }

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
            Ok(Next::Item(item)) => Some(item),
            Ok(Next::End(end)) => {
                self.done = true;
                self.end = Some(end);
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
            .field("end", &self.end)
            .finish()
    }
}
