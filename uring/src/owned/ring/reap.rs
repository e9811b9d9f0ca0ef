//! Processing completions: moving them from the kernel's queue into the table
//! (or the raw queue), and handing finished operations out, without waiting.

use core::marker::PhantomData;
use std::collections::VecDeque;
use std::fmt;
use std::io;

use super::OwnedRing;
use crate::Ring;
use crate::cqueue::{CqCursor, Cqe};
use crate::owned::direct::Passed;
use crate::owned::slab::{Keep, Pick, PickAny, PickOf, Polled, Routed, Slab};
use crate::owned::table::{TAG_INTERNAL, owned_slot};
use crate::owned::{Completion, Op, OpId, OpKey, SubmitError};

impl OwnedRing {
    /// An iterator over the finished operations, oldest first: those already
    /// processed (by a wait, say), then those whose completions the kernel has
    /// posted, each processed as the iterator reaches it (the kernel's overflow
    /// list is flushed when the queue runs dry). It does not wait; on a
    /// `DEFER_TASKRUN` ring it first runs the kernel's deferred work, as
    /// [`get_events`](Self::get_events) does — unless the ring's last call was a
    /// wait ([`submit_and_wait`](Self::submit_and_wait)), which ran it already.
    ///
    /// An operation is taken out of the table as it is yielded — from the
    /// kernel's queue, straight out of its slot. Completions the iterator does not
    /// reach stay queued (in the kernel's queue, or processed) for the next call.
    #[inline]
    pub fn completions(&mut self) -> Completions<'_> {
        let cursor = self.start_taking();
        Completions { ring: self, cursor }
    }

    /// An iterator over the outputs of the finished operations of type `T`,
    /// oldest first, each with its key: as [`completions`](Self::completions),
    /// those already processed first, then those whose completions the kernel has
    /// posted, processed as the iterator reaches them. Finished operations of
    /// other types are passed over: they stay queued for `completions`,
    /// `wait_for` or `try_take`.
    ///
    /// It is what `completions` followed by [`Completion::downcast`] gives, for a
    /// loop whose operations are all (or mostly) of one type, without the
    /// [`Completion`] in between: each output is made straight from the
    /// operation where it waited in the table.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::{Nop, Read}};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (r, w) = std::os::unix::net::UnixStream::pair()?;
    /// std::io::Write::write_all(&mut &w, b"abc")?;
    /// let read = ring.submit_op(Read::new(r, Vec::with_capacity(8), u64::MAX))?;
    /// let nop = ring.submit_op(Nop::new())?;
    /// ring.submit_and_wait(2)?;
    /// let mut reads = 0;
    /// for (key, (n, buf)) in ring.completions_of::<Read<Vec<u8>>>() {
    ///     assert_eq!(key, read.key());
    ///     assert_eq!(n?, 3);
    ///     assert_eq!(buf, b"abc");
    ///     reads += 1;
    /// }
    /// assert_eq!(reads, 1);
    /// // The NOP was passed over, and is still there.
    /// assert_eq!(ring.try_take(&nop).unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn completions_of<T: Op>(&mut self) -> CompletionsOf<'_, T> {
        let queue = self.start_taking();
        let cursor = self.table.ready_head();
        CompletionsOf {
            ring: self,
            cursor,
            queue,
            _op: PhantomData,
        }
    }

    /// What the iterators that take as they go
    /// ([`completions`](Self::completions), [`completions_of`](Self::completions_of))
    /// do first: [`reap_now`](Self::reap_now)'s enter (on a `DEFER_TASKRUN`
    /// ring), and a cursor at the head of the kernel's queue, which they read
    /// one completion at a time. A ring whose entries are not all 16 bytes has
    /// no cursor: its queue is processed here, whole, as `reap_now` would.
    ///
    /// An error entering is dropped: what the kernel posted already is read
    /// either way, and the rest comes with the next enter.
    #[inline]
    fn start_taking(&mut self) -> Option<Cursor> {
        if self.deferred_pending() {
            let _ = self.enter_for_events();
        }
        self.waited = false;
        let Some(queue) = self.ring.cq_cursor() else {
            let _ = self.reap();
            return None;
        };
        Some(Cursor {
            queue,
            // Fixed while the iterator borrows the ring.
            tracked: self.router().1.tracked(),
        })
    }

    /// Reads the kernel's queue through `cursor` (made by
    /// [`start_taking`](Self::start_taking) for the iterator that holds it),
    /// routing each completion as [`reap`](Self::reap) does, until the final
    /// completion of an operation `P` wants: its slot and generation, the slot
    /// finished but not queued ([`Routed::Stop`]), for the caller to take at
    /// once. `None` once the queue is dry (its overflow list flushed first).
    #[inline(always)]
    fn take_posted<P: Pick>(&mut self, cursor: &mut Cursor) -> Option<(u32, u64, Cqe)> {
        loop {
            {
                let (ring, mut router) = self.router();
                let Cursor { queue, tracked } = cursor;
                // SAFETY: the cursor was made for this ring's queue by
                // `start_taking`, for the iterator that holds it, which has
                // borrowed the ring mutably since: nothing else has read the
                // queue, or resized it (the overflow flush below only enters).
                while let Some(cqe) = unsafe { ring.cq_next(queue) } {
                    if let Some((slot, generation)) = router.route::<P>(cqe, *tracked) {
                        router.table.close_released();
                        return Some((slot, generation, cqe));
                    }
                }
                router.table.close_released();
            }
            // Dry: unless the kernel holds completions it could not post, done.
            if !self.ring.cq_has_overflow() {
                return None;
            }
            let tail = self.ring.cq_tail();
            // An enter moves them into the room made; nothing moved (or an error
            // entering): the next call tries again.
            if self.enter_for_events().is_err() || self.ring.cq_tail() == tail {
                return None;
            }
        }
    }

    /// [`take_posted`](Self::take_posted)'s common case, for an iterator on an
    /// untracked ring: the next posted completion, when `take` takes its
    /// operation out of the table (handed the table, the slot and generation
    /// bits the user data names, and the completion), consumed; then `finish`
    /// makes the item of what `take` gave, with the operation's key and the
    /// completion. `None` when the queue is dry, or holds next what `take`
    /// declines (not one of ours, a `MORE`, a detached operation…), which is
    /// left there for `take_posted`.
    #[inline(always)]
    fn take_posted_fast<X, Y>(
        &mut self,
        cursor: &mut Cursor,
        take: impl FnOnce(&mut Slab, u32, u64, &Cqe) -> Option<(u64, X)>,
        finish: impl FnOnce(OpKey, X, &Cqe) -> Y,
    ) -> Option<Y> {
        // SAFETY: as in `take_posted`; a completion peeked at is consumed only
        // once taken here.
        let cqe = unsafe { self.ring.cq_peek(&mut cursor.queue) }?;
        let (slot, gen_low) = owned_slot(cqe.user_data())?;
        let (generation, taken) = take(&mut self.table, slot, gen_low, &cqe)?;
        // SAFETY: peeked just now, through the same cursor.
        unsafe { self.ring.cq_consume(&mut cursor.queue) };
        // A held file released while the operation was in flight may close.
        self.table.close_released();
        let key = OpKey {
            ring: self.id,
            slot,
            generation,
        };
        Some(finish(key, taken, &cqe))
    }

    /// The ring, and what completions are routed to, borrowed apart.
    #[inline(always)]
    fn router(&mut self) -> (&mut Ring, Router<'_>) {
        let OwnedRing {
            ring,
            table,
            raw,
            id,
            touched,
            activity,
            passed,
            ..
        } = self;
        (
            ring,
            Router {
                table,
                raw,
                passed,
                touched,
                activity,
                id: *id,
            },
        )
    }

    /// Processes every posted completion and returns an iterator over those of
    /// raw entries ([`push_raw`](Self::push_raw)). Does not wait (and runs a
    /// `DEFER_TASKRUN` ring's deferred work, as [`completions`](Self::completions)).
    pub fn raw_completions(&mut self) -> RawCompletions<'_> {
        let _ = self.reap_now();
        RawCompletions { ring: self }
    }

    /// The non-blocking step: lets the kernel run the work it deferred for this
    /// ring and post its completions (`io_uring_enter` with `GETEVENTS` and a
    /// minimum of 0, which never waits), then processes every posted completion.
    ///
    /// On a ring set up with `DEFER_TASKRUN`, completions of operations that
    /// finished after their submission (a receive whose data came later, a
    /// timer) are posted only when the ring's task enters the kernel asking for
    /// events; until then nothing looks at them. The calls that wait do so anyway;
    /// the non-blocking ones — [`completions`](Self::completions),
    /// [`raw_completions`](Self::raw_completions), [`try_take`](Self::try_take),
    /// [`poll_item`](Self::poll_item), [`take_activity`](Self::take_activity) —
    /// call this themselves on such a ring (entering only when the kernel flags
    /// pending work, with `TASKRUN_FLAG`, and not right after a wait, which ran
    /// the work on its way out). On other rings it only flushes the kernel's
    /// overflow list.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let builder = uring::Ring::builder().single_issuer().defer_taskrun();
    /// # let Ok(mut ring) = OwnedRing::from_builder(builder, 4) else { return Ok(()) }; // < 6.1
    /// # /*
    /// let mut ring = OwnedRing::from_builder(builder, 4)?;
    /// # */
    /// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
    /// let id = ring.submit_op(ops::Recv::new(r, Vec::with_capacity(8)))?;
    /// ring.submit()?;
    /// std::io::Write::write_all(&mut w, b"hi")?;
    /// let mut out = None;
    /// while out.is_none() {
    ///     ring.get_events()?; // try_take would do it too
    ///     out = ring.try_take(&id);
    /// }
    /// assert_eq!(out.unwrap().0?, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The kernel's errno when entering fails (`EEXIST` from a thread other than
    /// the ring's, on a `SINGLE_ISSUER` ring); completions already posted are
    /// processed anyway.
    pub fn get_events(&mut self) -> io::Result<()> {
        let entered = self.enter_for_events();
        let reaped = self.reap();
        entered.and(reaped)
    }

    /// The entering half of [`get_events`](Self::get_events): the kernel runs
    /// deferred work and posts (flushing its overflow list); nothing is
    /// processed. An interrupted enter is not an error.
    fn enter_for_events(&mut self) -> io::Result<()> {
        match self.enter_check().and_then(|()| self.ring.get_events()) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
            r => r,
        }
    }

    /// Whether [`reap_now`](Self::reap_now) enters first: a `DEFER_TASKRUN` ring,
    /// not right after a wait, whose kernel may have deferred work.
    #[inline(always)]
    pub(in crate::owned) fn deferred_pending(&self) -> bool {
        self.defer_taskrun
            && !self.waited
            && (!self.taskrun_flag || self.ring.sq_flags() & crate::sys::IORING_SQ_TASKRUN != 0)
    }

    /// What the non-blocking calls process with: on a `DEFER_TASKRUN` ring with
    /// deferred work possibly pending, [`get_events`](Self::get_events); otherwise
    /// a plain reap (one branch on a field).
    ///
    /// Right after a wait ([`submit_and_wait`](Self::submit_and_wait) and the
    /// like), which ran the deferred work on its way out, the first such call
    /// only reaps: entering again would find nothing the wait did not (work
    /// that arrived since is run by the next call, or the next wait).
    #[inline]
    pub(in crate::owned) fn reap_now(&mut self) -> io::Result<()> {
        // `reap` (which every path here ends in) clears `waited`.
        if self.deferred_pending() {
            return self.get_events();
        }
        self.reap()
    }

    /// Takes operation `id`'s output if its final completion has arrived, without
    /// waiting (it processes what the kernel posted, but does not submit; on a
    /// `DEFER_TASKRUN` ring it runs the deferred work first, as
    /// [`get_events`](Self::get_events)).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// assert!(ring.try_take(&id).is_none()); // not even submitted yet
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.try_take(&id).unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_take<T: Op>(&mut self, id: &OpId<T>) -> Option<T::Output> {
        // Already finished: no need to look at the kernel's queue first (what it
        // holds is processed by the next call that reaps).
        if let Some(out) = self.take_ready(id) {
            return Some(out);
        }
        let _ = self.reap_now();
        self.take_ready(id)
    }

    /// Where the operation of `id` is (see [`Slab::poll`]): one look-up where
    /// [`take_ready`](Self::take_ready) and [`is_in_flight`](Self::is_in_flight)
    /// make two. Another ring's id is `Gone`.
    #[inline]
    pub(in crate::owned) fn poll_op<T: Op>(&mut self, id: &OpId<T>) -> Polled<T::Output> {
        if id.key.ring != self.id {
            return Polled::Gone;
        }
        self.table.poll::<T>(id.key.slot, id.key.generation)
    }

    pub(in crate::owned) fn take_ready<T: Op>(&mut self, id: &OpId<T>) -> Option<T::Output> {
        match self.poll_op(id) {
            Polled::Ready(out) => Some(out),
            Polled::InFlight | Polled::Gone => None,
        }
    }

    /// The oldest finished operation, out of the table.
    #[inline(always)]
    pub(super) fn pop_completion(&mut self) -> Option<Completion> {
        self.table.pop_completion(self.id)
    }

    /// Starts recording which operations get completions, for
    /// [`take_activity`](Self::take_activity): an event loop then looks only at the
    /// operations that have something for it, instead of polling every stream.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// ring.track_activity();
    /// let a = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(1)?;
    /// let mut keys = Vec::new();
    /// ring.take_activity(&mut keys)?;
    /// assert_eq!(keys, [a.key()]);
    /// ring.take_activity(&mut keys)?;
    /// assert_eq!(keys, [a.key()]); // nothing new was appended
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn track_activity(&mut self) {
        self.activity.get_or_insert_with(Vec::new);
    }

    /// Processes every completion the kernel has posted (running a `DEFER_TASKRUN`
    /// ring's deferred work first, as [`get_events`](Self::get_events)), and appends to `keys` the
    /// key of each operation that got one since the last call (an item of a
    /// multishot stream, or a final completion), oldest first; an operation with
    /// several completions appears once per completion. Appends nothing unless
    /// [`track_activity`](Self::track_activity) was called.
    ///
    /// The completions themselves are where they always are: items with
    /// [`poll_item`](Self::poll_item), finished operations with
    /// [`completions`](Self::completions).
    ///
    /// Every method that processes completions records them (`completions`,
    /// `poll_item`, `wait_for`, …), so an event loop should call this before it
    /// blocks in the kernel, and block only when it appended nothing: otherwise
    /// completions processed while it handled the last batch wait unseen.
    /// [`wait_activity`](Self::wait_activity) does exactly that.
    ///
    /// # Errors
    ///
    /// The kernel's errno when flushing its overflow list fails; what was already
    /// in the completion queue is processed and its keys appended anyway.
    pub fn take_activity(&mut self, keys: &mut Vec<OpKey>) -> io::Result<()> {
        // `reap_now`, with the keys appended whatever the reap says.
        let entered = if self.deferred_pending() {
            self.enter_for_events()
        } else {
            Ok(())
        };
        let reaped = self.reap_into(keys);
        entered.and(reaped)
    }

    /// [`reap`](Self::reap) (no enter), then appends the recorded keys to
    /// `keys` — also when flushing the overflow list failed.
    pub(in crate::owned) fn reap_into(&mut self, keys: &mut Vec<OpKey>) -> io::Result<()> {
        let reaped = self.reap();
        if let Some(seen) = self.activity.as_mut() {
            keys.append(seen);
        }
        reaped
    }

    /// Whether operation `id` is still in the table (its final completion not yet
    /// processed).
    pub fn is_in_flight<T>(&self, id: &OpId<T>) -> bool {
        id.key.ring == self.id && self.table.is_in_flight(id.key.slot, id.key.generation)
    }

    /// Moves every posted completion out of the kernel's queue into `ready` (or
    /// `raw`), flushing the overflow list while there is one.
    pub(in crate::owned) fn reap(&mut self) -> io::Result<()> {
        self.waited = false;
        let mut stalled = false;
        loop {
            let n;
            {
                let (ring, mut router) = self.router();
                // Whether completions are recorded: decided once, so that the loop
                // of an untracked ring does not look at the lists per completion.
                let tracked = router.tracked();
                let mut cq = ring.completion();
                // Whether anything was posted (for the overflow's stall check).
                n = cq.len();
                for cqe in &mut cq {
                    router.route::<Keep>(cqe, tracked);
                }
                drop(cq);
                // Released held files whose operations just finished.
                router.table.close_released();
            }
            if !self.ring.cq_has_overflow() {
                return Ok(());
            }
            if n == 0 {
                if stalled {
                    // The kernel reports an overflow but flushes nothing; the next
                    // enter will try again.
                    return Ok(());
                }
                stalled = true;
            } else {
                stalled = false;
            }
            // Enter with GETEVENTS: the kernel moves overflowed completions into
            // the room just made.
            self.ring.get_events()?;
        }
    }
}

/// What a completion read off the kernel's queue is routed to: the ring's
/// parts other than the queue (borrowed apart from it by [`OwnedRing::router`]).
struct Router<'a> {
    table: &'a mut Slab,
    raw: &'a mut VecDeque<Cqe>,
    passed: &'a mut Passed,
    touched: &'a mut Option<Vec<OpKey>>,
    activity: &'a mut Option<Vec<OpKey>>,
    id: u64,
}

impl Router<'_> {
    /// Whether completions are recorded (see [`OwnedRing::track_activity`]): a
    /// loop asks once, not per completion.
    #[inline(always)]
    fn tracked(&self) -> bool {
        self.touched.is_some() || self.activity.is_some()
    }

    /// Routes `cqe`: an operation of the table's to the operation (completing
    /// it unless `MORE`), recording its key if `tracked`; a passed descriptor's
    /// message, or a raw entry's completion, to their queues; an internal
    /// entry's (a cancellation) nowhere. The final completion of an operation
    /// `P` wants stops there ([`Routed::Stop`]): its slot and generation.
    #[inline(always)]
    fn route<P: Pick>(&mut self, cqe: Cqe, tracked: bool) -> Option<(u32, u64)> {
        let ud = cqe.user_data();
        if let Some((slot, gen_low)) = owned_slot(ud) {
            let routed = self.table.on_cqe_with::<P>(slot, gen_low, cqe);
            // Not one of ours in flight (`Unknown`) cannot happen while the
            // user-data rules hold.
            let (Routed::Op(generation) | Routed::Stop(generation)) = routed else {
                return None;
            };
            if tracked {
                let key = OpKey {
                    ring: self.id,
                    slot,
                    generation,
                };
                if let Some(touched) = self.touched.as_mut() {
                    touched.push(key);
                }
                if let Some(activity) = self.activity.as_mut() {
                    activity.push(key);
                }
            }
            if let Routed::Stop(_) = routed {
                return Some((slot, generation));
            }
        } else if crate::owned::direct::is_passed(&cqe) {
            self.passed.push_back(cqe);
        } else if ud & TAG_INTERNAL == 0 {
            self.raw.push_back(cqe);
        }
        None
    }
}

/// Where an iterator that takes as it goes reads the kernel's queue (from
/// [`OwnedRing::start_taking`]).
struct Cursor {
    queue: CqCursor,
    /// Whether the ring records completions ([`Router::tracked`]).
    tracked: bool,
}

/// Iterator over finished operations, from [`OwnedRing::completions`]. Each
/// item is taken out of the ring as it is yielded; the rest stay queued (in the
/// kernel's queue, or processed) if the iterator is dropped early.
pub struct Completions<'a> {
    ring: &'a mut OwnedRing,
    /// Where it reads the kernel's queue, once the processed ones are taken
    /// (`None`: a ring of 32-byte entries, whose queue was processed whole).
    cursor: Option<Cursor>,
}

impl Iterator for Completions<'_> {
    type Item = Completion;

    #[inline(always)]
    fn next(&mut self) -> Option<Completion> {
        if let Some(c) = self.ring.pop_completion() {
            return Some(c);
        }
        let queue = self.cursor.as_mut()?;
        if !queue.tracked {
            let fast = self.ring.take_posted_fast(
                queue,
                // Inlined even in a loop that also submits (`submit_op` from
                // the loop): left out of line there, it cost 37 instructions
                // a read.
                #[inline(always)]
                |table, slot, gen_low, cqe| table.take_final_any(slot, gen_low, *cqe),
                |key, taken, _| Completion {
                    key,
                    taken,
                    _not_sync: PhantomData,
                },
            );
            if fast.is_some() {
                return fast;
            }
        }
        let (slot, _, cqe) = self.ring.take_posted::<PickAny>(queue)?;
        // SAFETY: a `Stop` slot with its completion, taken at once.
        Some(unsafe { self.ring.table.completion_unlisted(slot, cqe, self.ring.id) })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Those processed already; then at most one per completion the kernel
        // posts (the more so as the overflow list is flushed).
        let n = self.ring.table.ready_len();
        (n, self.cursor.is_none().then_some(n))
    }
}

impl Completions<'_> {
    /// Queues `op` while taking completions, as [`OwnedRing::submit_op`]
    /// does: a loop that keeps a number of operations in flight can start the
    /// next one as each finishes, its buffer going straight from the output
    /// into the new operation, with no list of free buffers in between.
    ///
    /// This iterator may yield the new operation too, if it finishes before
    /// the iterator runs dry (entries reach the kernel at the next submit, or
    /// when the queue is full and this call makes room).
    ///
    /// # Errors
    ///
    /// As [`OwnedRing::submit_op`]'s: the operation comes back with the error.
    /// One more: with the queue full, `submit_op` processes completions when
    /// the kernel will take no entries until it can post those it holds
    /// (`EBUSY`, from older kernels); here that is the iterator's work, so the
    /// operation comes back with `EBUSY`: take completions, then queue it
    /// again.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// ring.submit_op(ops::Read::new(zero, vec![7; 16], 0))?;
    /// let mut reads = 0;
    /// while reads < 3 {
    ///     ring.submit_and_wait(1)?;
    ///     let mut done = ring.completions();
    ///     while let Some(c) = done.next() {
    ///         let (n, buf) = c.downcast::<ops::Read<Vec<u8>>>().unwrap();
    ///         assert_eq!((n?, &buf[..]), (16, &[0; 16][..]));
    ///         reads += 1;
    ///         if reads < 3 {
    ///             // The same buffer, read into again.
    ///             done.submit_op(ops::Read::new(zero, buf, 0))?;
    ///         }
    ///     }
    /// }
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    pub fn submit_op<T: Op>(&mut self, op: T) -> Result<OpId<T>, SubmitError<T>> {
        // Never processing completions: the iterator reads the kernel's queue
        // through its cursor, which nothing else may consume from meanwhile.
        self.ring.submit_op_reaping::<T, false>(op)
    }
}

impl fmt::Debug for Completions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
            .field("queued", &self.ring.table.ready_len())
            .finish()
    }
}

/// Iterator over the finished operations of one type, from
/// [`OwnedRing::completions_of`]: each output with its operation's key. Each is
/// taken out of the ring as it is yielded; the rest stay queued if the iterator
/// is dropped early.
pub struct CompletionsOf<'a, T> {
    ring: &'a mut OwnedRing,
    /// Where the walk of the ready list is: a slot of it, or `NO_SLOT`. Slots
    /// before it hold operations of other types; nothing else takes from the
    /// list while the iterator borrows the ring.
    cursor: u32,
    /// Where it reads the kernel's queue once the list is walked (as in
    /// [`Completions`]).
    queue: Option<Cursor>,
    _op: PhantomData<fn() -> T>,
}

impl<T: Op> Iterator for CompletionsOf<'_, T> {
    type Item = (OpKey, T::Output);

    #[inline(always)]
    fn next(&mut self) -> Option<(OpKey, T::Output)> {
        // SAFETY: the cursor is the ready list's head as the iterator was made,
        // or the slot after the one last taken (`next_done_of` keeps it so), and
        // only this iterator takes from the list while it borrows the ring.
        let listed = unsafe { self.ring.table.next_done_of::<T>(&mut self.cursor) };
        if let Some((slot, generation, out)) = listed {
            let key = OpKey {
                ring: self.ring.id,
                slot,
                generation,
            };
            return Some((key, out));
        }
        // The list is walked: the cursor stays at its end, past the operations
        // of other types the queue adds to it.
        let queue = self.queue.as_mut()?;
        if !queue.tracked {
            let fast = self.ring.take_posted_fast(
                queue,
                |table, slot, gen_low, cqe| table.take_final::<T>(slot, gen_low, cqe),
                |key, op, cqe| (key, op.complete(cqe)),
            );
            if fast.is_some() {
                return fast;
            }
        }
        let (slot, generation, cqe) = self.ring.take_posted::<PickOf<T>>(queue)?;
        let key = OpKey {
            ring: self.ring.id,
            slot,
            generation,
        };
        // SAFETY: a `Stop` slot of a `T` (what `PickOf<T>` stops at) with its
        // completion, taken at once.
        Some((key, unsafe {
            self.ring.table.output_unlisted::<T>(slot, cqe)
        }))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.ring.table.ready_len()))
    }
}

impl<T: Op> CompletionsOf<'_, T> {
    /// Queues `op` while taking outputs, as [`Completions::submit_op`] does,
    /// with the same errors. An operation of another type than `T` is queued
    /// too; its output waits for `completions`, `wait_for` or `try_take`.
    ///
    /// # Errors
    ///
    /// As [`Completions::submit_op`]'s.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// ring.submit_op(ops::Read::new(zero, vec![7; 16], 0))?;
    /// let mut reads = 0;
    /// while reads < 3 {
    ///     ring.submit_and_wait(1)?;
    ///     let mut done = ring.completions_of::<ops::Read<Vec<u8>>>();
    ///     while let Some((_, (n, buf))) = done.next() {
    ///         assert_eq!((n?, &buf[..]), (16, &[0; 16][..]));
    ///         reads += 1;
    ///         if reads < 3 {
    ///             done.submit_op(ops::Read::new(zero, buf, 0))?;
    ///         }
    ///     }
    /// }
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    pub fn submit_op<U: Op>(&mut self, op: U) -> Result<OpId<U>, SubmitError<U>> {
        // As in `Completions::submit_op`.
        self.ring.submit_op_reaping::<U, false>(op)
    }
}

impl<T> fmt::Debug for CompletionsOf<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompletionsOf")
            .field("op", &core::any::type_name::<T>())
            .field("queued", &self.ring.table.ready_len())
            .finish()
    }
}

/// Iterator over completions of raw entries, from [`OwnedRing::raw_completions`].
pub struct RawCompletions<'a> {
    ring: &'a mut OwnedRing,
}

impl Iterator for RawCompletions<'_> {
    type Item = Cqe;

    fn next(&mut self) -> Option<Cqe> {
        self.ring.raw.pop_front()
    }
}

impl fmt::Debug for RawCompletions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCompletions")
            .field("queued", &self.ring.raw.len())
            .finish()
    }
}
