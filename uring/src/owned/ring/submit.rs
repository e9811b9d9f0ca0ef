//! Queueing operations (single, linked, raw), entering the kernel to submit,
//! and asking it to cancel; the thread check every entry makes.

#[cfg(doc)]
use crate::Ring;
use std::io;
use std::time::Duration;

use super::{OwnedRing, RAW_USER_DATA_MAX, TABLE_STRIPPED};
use crate::error;
use crate::owned::chain::{ChainParts, ChainPrep, Linked, bound_file};
use crate::owned::issuer::{self, ANY_THREAD, UNBOUND};
use crate::owned::op::imp::{self, Binding};
use crate::owned::slab::NO_FILE;
use crate::owned::table::{TAG_INTERNAL, user_data};
use crate::owned::{Op, OpId, OpKey, SubmitError, ops};
use crate::ring::thread_token;
use crate::setup::SetupFlags;
use crate::sqe::{Sqe, SqeFlags};

impl OwnedRing {
    /// Queues `op`; it reaches the kernel with the next submit (or earlier, when the
    /// submission queue is full and this call submits to make room).
    ///
    /// # Errors
    ///
    /// The operation comes back with the error when it could not be queued: the
    /// kernel refused a submit made to free room, or the queue stayed full.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// assert_eq!(ring.wait_for(id)?.unwrap(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    // Always inlined: it is the per-operation path, and the caller's knowledge
    // of `T` folds most of it away (its binding check, its entry's fields).
    #[inline(always)]
    pub fn submit_op<T: Op>(&mut self, op: T) -> Result<OpId<T>, SubmitError<T>> {
        self.submit_op_reaping::<T, true>(op)
    }

    /// [`submit_op`](Self::submit_op); `REAP`: whether making room in a full
    /// queue may process completions (see
    /// [`make_room_reaping`](Self::make_room_reaping)).
    #[inline(always)]
    pub(in crate::owned) fn submit_op_reaping<T: Op, const REAP: bool>(
        &mut self,
        mut op: T,
    ) -> Result<OpId<T>, SubmitError<T>> {
        let bound = op.bound_ring(imp::Token(()));
        // Built before the op is tabled: a panic in `sqe` leaves nothing behind.
        let sqe = op.sqe();
        let flags = sqe.get_flags() - SqeFlags::IO_LINK - TABLE_STRIPPED;
        let mut sqe = sqe.set_flags(flags);
        match self.table_and_push(op, bound, &mut sqe) {
            Ok(id) => Ok(id),
            Err((op, None)) => self.submit_op_slow(op, sqe, bound, REAP),
            Err((op, Some(error))) => Err(SubmitError { error, op }),
        }
    }

    /// Tables `op` (bound as `bound`: the ring refuses it if it is bound to
    /// another, or names a file the ring does not hold) and pushes its entry
    /// `sqe`, given the op's user data: the op's id, or the op back (out of
    /// the table again) with the error, `None` for a full submission queue.
    #[inline(always)]
    fn table_and_push<T: Op>(
        &mut self,
        op: T,
        bound: Binding,
        sqe: &mut Sqe,
    ) -> Result<OpId<T>, (T, Option<io::Error>)> {
        let (slot, generation) = self.table.insert(op, NO_FILE);
        // Checked with the op in the table already, so that its way back is the
        // one a failed push takes (the op is not kept twice on the way in).
        if bound != Binding::NONE {
            match bound_file(self.id, &self.table.files, bound) {
                // Bound to this ring only (a pool, registered buffers): `insert`
                // recorded no file already.
                Ok(NO_FILE) => {}
                // SAFETY: `insert` returned `slot` just now.
                Ok(file) => unsafe { self.table.name_file(slot, file) },
                Err(e) => return Err((self.table.remove_unsubmitted::<T>(slot), Some(e))),
            }
        }
        sqe.0.user_data = user_data(slot, generation);
        // SAFETY: the entry was built by an `Op` (whose contract is that it names
        // only memory and descriptors the op owns, at stable addresses, or a
        // `HeldFd`, which the table records with the op: it stays open until
        // the op's final completion), which is now in the table until its final
        // completion is processed (or is leaked); its user data carries
        // TAG_OWNED, so no raw entry can share it.
        match unsafe { self.ring.submission().push(sqe) } {
            Ok(()) => Ok(OpId::new(OpKey {
                ring: self.id,
                slot,
                generation,
            })),
            // Out of the table before anything else runs (making room processes
            // completions, and could panic in an operation's `more`).
            Err(e) => Err((
                self.table.remove_unsubmitted::<T>(slot),
                (e != crate::PushError::Full).then(|| io::Error::from(e)),
            )),
        }
    }

    /// [`submit_op`](Self::submit_op) when the submission queue is full: submits
    /// to make room (processing completions if the kernel asks so, and `reap`),
    /// then pushes `sqe` (built by `op`, bound as `bound`; its user data is set
    /// anew).
    #[cold]
    fn submit_op_slow<T: Op>(
        &mut self,
        op: T,
        mut sqe: Sqe,
        bound: Binding,
        reap: bool,
    ) -> Result<OpId<T>, SubmitError<T>> {
        if let Err(error) = self.make_room_reaping(1, reap) {
            return Err(SubmitError { error, op });
        }
        self.table_and_push(op, bound, &mut sqe)
            .map_err(|(op, e)| SubmitError {
                error: e.unwrap_or_else(|| io::Error::from(crate::PushError::Full)),
                op,
            })
    }

    /// Queues a linked chain: each member starts only after the previous one
    /// succeeded (`IOSQE_IO_LINK`); after a failure the rest complete with
    /// `ECANCELED`. The chain is queued whole or not at all.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (a, b) = ring.submit_linked((ops::Nop::new(), ops::Nop::new()))?;
    /// assert_eq!(ring.wait_for(a)?.unwrap(), 0);
    /// assert_eq!(ring.wait_for(b)?.unwrap(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit_op`](Self::submit_op); `EINVAL` for a chain longer than the
    /// submission queue.
    pub fn submit_linked<L: Linked>(&mut self, mut chain: L) -> Result<L::Ids, SubmitError<L>> {
        let mut sqes = core::mem::take(&mut self.chain_sqes);
        sqes.clear();
        // Every entry is built before anything is tabled: a panic in `sqe` leaves
        // nothing behind (but this scratch vector, made again next time).
        let prepared = chain.prepare(&mut ChainPrep {
            sqes: &mut sqes,
            ring: self.id,
            files: &self.table.files,
        });
        let n = sqes.len();
        let room = prepared.and_then(|()| if n == 0 { Ok(()) } else { self.make_room(n) });
        if let Err(error) = room {
            self.chain_sqes = sqes;
            return Err(SubmitError { error, op: chain });
        }
        let mut parts = ChainParts {
            table: &mut self.table,
            ring: self.id,
        };
        let ids = chain.table(&mut parts);
        let mut i = 0;
        L::keys(&ids, |key| {
            let sqe = &mut sqes[i];
            let mut flags = sqe.get_flags() - TABLE_STRIPPED;
            if i + 1 == n {
                flags -= SqeFlags::IO_LINK;
            } else {
                flags |= SqeFlags::IO_LINK;
            }
            *sqe = sqe
                .clone()
                .set_flags(flags)
                .user_data(user_data(key.slot, key.generation));
            i += 1;
        });
        let pushed = if n == 0 {
            Ok(())
        } else {
            // SAFETY: every entry was built by an `Op` (whose contract is that it
            // names only memory and descriptors the op owns, at stable addresses,
            // or `HeldFd`s, which the table records with the op) and its
            // op is now in the table, which keeps it — and so that memory and
            // those descriptors — until the entry's final completion is
            // processed, or leaks it. The user data carries TAG_OWNED, so no raw
            // entry can share it.
            unsafe { self.ring.submission().push_multiple(&sqes) }
        };
        self.chain_sqes = sqes;
        match pushed {
            Ok(()) => Ok(ids),
            Err(e) => {
                let mut parts = ChainParts {
                    table: &mut self.table,
                    ring: self.id,
                };
                Err(SubmitError {
                    error: io::Error::from(e),
                    op: L::untable(ids, &mut parts),
                })
            }
        }
    }

    /// Queues `op` with a time limit: a linked [`ops::LinkTimeout`] cancels it if
    /// it has not completed after `after` (it then completes with `ECANCELED`, and
    /// the timeout with `ETIME`; otherwise the timeout completes with
    /// `ECANCELED`). Both ids come back; [`detach`](Self::detach) the timeout's if
    /// its result does not matter.
    ///
    /// The timeout's result is that of the kernel's attempt to cancel `op`, so
    /// it can also be `ENOENT` (`op` was completing just then) or `EALREADY` (`op`
    /// was running in an io-wq worker and could only be signalled; it completes
    /// on its own, often with `EINTR`). Judge by `op`'s own result.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (r, _w) = std::os::unix::net::UnixStream::pair()?; // no data will come
    /// let (read, timeout) =
    ///     ring.submit_with_timeout(ops::Recv::new(r, vec![0u8; 8]), Duration::from_millis(1))?;
    /// ring.detach(timeout);
    /// let (res, _buf) = ring.wait_for(read)?;
    /// assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit_linked`](Self::submit_linked); the operation comes back.
    pub fn submit_with_timeout<T: Op>(
        &mut self,
        op: T,
        after: Duration,
    ) -> Result<(OpId<T>, OpId<ops::LinkTimeout>), SubmitError<T>> {
        self.submit_linked((op, ops::LinkTimeout::new(after)))
            .map_err(|SubmitError { error, op: (op, _) }| SubmitError { error, op })
    }

    /// Before every entry into the kernel: refuses a `SINGLE_ISSUER` ring on a
    /// thread other than its own, and binds (enables) a ring on its first entry.
    /// One branch on a field for a ring any thread may drive.
    /// One more (a thread-local read) for a ring bound to this thread.
    #[inline]
    pub(in crate::owned) fn enter_check(&mut self) -> io::Result<()> {
        if self.issuer == ANY_THREAD || self.issuer == thread_token() {
            return Ok(());
        }
        self.bind_or_refuse()
    }

    #[cold]
    pub(super) fn bind_or_refuse(&mut self) -> io::Result<()> {
        let me = thread_token();
        if self.issuer == me {
            return Ok(());
        }
        if self.issuer != UNBOUND {
            return Err(issuer::foreign_thread());
        }
        // Set up disabled by this layer: enabling it here makes this thread the
        // kernel's submitter task. (EBADFD: enabled already through `ring_mut`.)
        if self.enable_on_bind {
            match self.ring.enable_rings() {
                Err(e) if e.raw_os_error() != Some(libc::EBADFD) => return Err(e),
                _ => self.enable_on_bind = false,
            }
        }
        self.issuer = me;
        self.owner_alive = Some(issuer::bind_here());
        Ok(())
    }

    /// Whether this is a `SINGLE_ISSUER` ring bound to another thread.
    pub(super) fn on_foreign_thread(&self) -> bool {
        issuer::is_foreign(self.issuer)
    }

    /// Makes sure `n` submission queue slots are free, submitting if needed.
    pub(in crate::owned) fn make_room(&mut self, n: usize) -> io::Result<()> {
        self.make_room_reaping(n, true)
    }

    /// [`make_room`](Self::make_room); `reap`: whether its submit may process
    /// completions ([`submit_retrying`](Self::submit_retrying)'s way with
    /// `EBUSY`), which an iterator reading the kernel's queue as it goes must
    /// not let it do behind its back.
    fn make_room_reaping(&mut self, n: usize, reap: bool) -> io::Result<()> {
        // One view of the queue (each loads the kernel's head) on the hot path.
        let (capacity, remaining) = {
            let sq = self.ring.submission();
            (sq.capacity(), sq.remaining())
        };
        if remaining >= n {
            return Ok(());
        }
        if n > capacity {
            return Err(error::with_context(
                libc::EINVAL,
                format!("{n} entries cannot fit a submission queue of {capacity}"),
            ));
        }
        self.submit_retrying_reaping(reap)?;
        while self.ring.submission().remaining() < n {
            if !self.ring.flags().contains(SetupFlags::SQPOLL) {
                // An outcome (submit, then try again), not bad input: plain.
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            // The poll thread takes entries on its own time: wait until it has.
            self.enter_check()?;
            self.ring.sqring_wait()?;
        }
        Ok(())
    }

    /// Submits, retrying on `EINTR`, and once after reaping on `EBUSY`/`EAGAIN`
    /// (completions the kernel could not post yet).
    pub(in crate::owned) fn submit_retrying(&mut self) -> io::Result<usize> {
        self.submit_retrying_reaping(true)
    }

    /// [`submit_retrying`](Self::submit_retrying), reaping on `EBUSY` only if
    /// `reap` (otherwise the error is the caller's).
    fn submit_retrying_reaping(&mut self, reap: bool) -> io::Result<usize> {
        self.enter_check()?;
        let mut reaped = !reap;
        loop {
            match self.ring.submit() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e)
                    if !reaped && matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) =>
                {
                    reaped = true;
                    self.reap()?;
                }
                r => return r,
            }
        }
    }

    /// Pushes an entry that is not in the table; its completion comes back from
    /// [`raw_completions`](Self::raw_completions).
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`] (reserved for the
    /// table), `EBUSY` when the submission queue is full.
    ///
    /// # Safety
    ///
    /// As for [`SubmissionQueue::push`](crate::SubmissionQueue::push): the memory
    /// and descriptors the entry names must stay valid until its completion is
    /// returned from `raw_completions` — including past this ring's drop, which
    /// does not wait for raw entries. The entry must not be linked
    /// (`IO_LINK`/`IO_HARDLINK`) to the table's entries.
    ///
    /// A raw completion's `user_data` is not proof of which entry it is for:
    /// another ring can post any value up to [`RAW_USER_DATA_MAX`] into this one
    /// ([`ops::MsgRing`], safely). Free an entry's memory only on a completion
    /// that cannot be forged that way (unique values the senders cannot know,
    /// or no `MsgRing` senders).
    pub unsafe fn push_raw(&mut self, sqe: &Sqe) -> io::Result<()> {
        if sqe.get_user_data() > RAW_USER_DATA_MAX {
            return Err(error::with_context(
                libc::EINVAL,
                "raw entries' user_data must leave bits 63 and 62 clear (they mark the table's entries)",
            ));
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { self.ring.submission().push(sqe) }.map_err(io::Error::from)
    }

    /// Submits what is queued (see [`Ring::submit`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit`].
    pub fn submit(&mut self) -> io::Result<usize> {
        self.enter_check()?;
        self.ring.submit()
    }

    /// Submits — on a `DEFER_TASKRUN` ring whose kernel may hold deferred work
    /// ([`deferred_pending`](Self::deferred_pending)), in an enter that also runs
    /// it, posting what finished, without waiting
    /// ([`Ring::submit_and_get_events`]): one enter where a submit and a
    /// [`get_events`](Self::get_events) would make two. Nothing is processed.
    pub(in crate::owned) fn submit_for_events(&mut self) -> io::Result<usize> {
        if !self.deferred_pending() {
            return self.submit();
        }
        self.enter_check()?;
        self.ring.submit_and_get_events()
    }

    /// Submits, then waits until at least `want` completions are in the kernel's
    /// completion queue (see [`Ring::submit_and_wait`]). Some of them may be the
    /// ring's internal ones.
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit_and_wait`].
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.enter_check()?;
        let n = self.ring.submit_and_wait(want)?;
        self.waited = want > 0;
        Ok(n)
    }

    /// [`submit_and_wait`](Self::submit_and_wait) with a timeout (see
    /// [`Ring::submit_and_wait_timeout`]): `ETIME` when it passed.
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit_and_wait_timeout`].
    pub fn submit_and_wait_timeout(&mut self, want: usize, timeout: Duration) -> io::Result<usize> {
        self.enter_check()?;
        let n = self.ring.submit_and_wait_timeout(want, timeout)?;
        self.waited = want > 0;
        Ok(n)
    }

    /// Asks the kernel to cancel operation `id` (`IORING_OP_ASYNC_CANCEL`), and
    /// submits. Its resources come back, as always, with its final completion —
    /// `ECANCELED` if the cancellation caught it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Timeout::new(Duration::from_secs(3600)))?;
    /// ring.submit()?;
    /// ring.cancel(&id)?;
    /// let err = ring.wait_for(id)?.unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// `Ok` says the cancellation was submitted, not what it found: the kernel's
    /// own result (`ENOENT` when it found nothing) is not reported. It finds only
    /// what the kernel has issued — a member of a linked chain whose previous
    /// member has only just completed may not be issued yet; it is then not
    /// found, runs, and completes on its own (a read on an idle socket: never).
    /// Cancel again after a while to catch it, or bound such operations with
    /// [`submit_with_timeout`](Self::submit_with_timeout). (Dropping or
    /// [`close`](Self::close)ing the ring cancels again by itself.)
    ///
    /// # Errors
    ///
    /// `ENOENT` when the operation is no longer in flight; the kernel's errno when
    /// submitting fails.
    pub fn cancel<T>(&mut self, id: &OpId<T>) -> io::Result<()> {
        self.cancel_key(id.key)
    }

    pub(in crate::owned) fn cancel_key(&mut self, key: OpKey) -> io::Result<()> {
        if key.ring != self.id || !self.table.is_in_flight(key.slot, key.generation) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.make_room(1)?;
        self.push_cancel(user_data(key.slot, key.generation))?;
        self.submit_retrying()?;
        Ok(())
    }

    /// Pushes an internal cancellation of `target` (room must have been made).
    pub(super) fn push_cancel(&mut self, target: u64) -> io::Result<()> {
        let sqe = crate::op::AsyncCancel::new(target)
            .build()
            .user_data(TAG_INTERNAL);
        // SAFETY: an ASYNC_CANCEL entry names no memory and no descriptor; its
        // `addr` is the user data to match, not a pointer. Its own user data is
        // TAG_INTERNAL, which the table never uses.
        unsafe { self.ring.submission().push(&sqe) }.map_err(io::Error::from)
    }

    /// Says that operation `id`'s output is not wanted: it is dropped (buffers
    /// freed, new descriptors closed) as soon as its final completion arrives, or
    /// now if it already has. The operation is not cancelled.
    pub fn detach<T>(&mut self, id: OpId<T>) {
        self.detach_key(id.key)
    }

    pub(in crate::owned) fn detach_key(&mut self, key: OpKey) {
        if key.ring != self.id {
            return;
        }
        self.table.detach(key.slot, key.generation);
    }
}
