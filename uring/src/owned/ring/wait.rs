//! Waiting for completions: of one operation, the next one, or any activity.

#[cfg(doc)]
use crate::Ring;
use std::io;

use super::OwnedRing;
use crate::error;
use crate::owned::slab::Polled;
use crate::owned::{Completion, Op, OpId, OpKey};

impl OwnedRing {
    /// Submits what is queued and waits until operation `id` has completed;
    /// returns its output. Other operations' completions are queued for
    /// [`completions`](Self::completions) meanwhile.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id of another ring; `ENOENT` when the operation's completion
    /// was already taken (through `completions`) or the id was detached; the
    /// kernel's errno when submitting or waiting fails (the operation stays in
    /// flight, and its completion will come through `completions`).
    pub fn wait_for<T: Op>(&mut self, id: OpId<T>) -> io::Result<T::Output> {
        if id.key.ring != self.id {
            return Err(error::with_context(
                libc::EINVAL,
                "this operation id belongs to another ring",
            ));
        }
        loop {
            self.reap()?;
            match self.poll_op(&id) {
                Polled::Ready(out) => return Ok(out),
                Polled::Gone => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
                Polled::InFlight => self.wait_one()?,
            }
        }
    }

    /// Submits what is queued and waits for the next finished operation (the
    /// oldest one queued, if any already is).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// let c = ring.next_completion()?;
    /// assert!(c.is_for(&id));
    /// // Nothing left in flight: an error rather than waiting forever.
    /// assert!(ring.next_completion().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOENT` when nothing is queued or in flight (waiting would never end); the
    /// kernel's errno when submitting or waiting fails.
    pub fn next_completion(&mut self) -> io::Result<Completion> {
        loop {
            self.reap()?;
            if let Some(c) = self.pop_completion() {
                return Ok(c);
            }
            if self.table.in_flight() == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            self.wait_one()?;
        }
    }

    /// The step of an event loop: submits what is queued and appends to `keys`
    /// the operations that got completions, as
    /// [`take_activity`](Self::take_activity) — waiting in the kernel for one first
    /// only if none is already there to report. So completions processed while the
    /// last batch was handled are never left waiting behind a blocking call.
    /// Starts [tracking](Self::track_activity) if it was not on. It does not
    /// block either while descriptors passed by other rings wait to be taken
    /// ([`take_received`](Self::take_received), which a loop should call after
    /// each step).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let a = ring.submit_op(ops::Nop::new())?;
    /// let mut keys = Vec::new();
    /// ring.wait_activity(&mut keys)?; // submits, and waits for the NOP
    /// assert_eq!(keys, [a.key()]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOENT` when nothing has activity and no operation is in flight (waiting
    /// would never end); the kernel's errno when submitting or waiting fails
    /// (`EINTR` and `EBUSY` are not errors: the call returns, maybe with nothing
    /// appended, and the caller loops).
    pub fn wait_activity(&mut self, keys: &mut Vec<OpKey>) -> io::Result<()> {
        self.track_activity();
        let before = keys.len();
        // What the last step's handling processed, or the kernel posted since,
        // without entering: one enter per step, below (as an event loop on
        // liburing makes one `io_uring_submit_and_wait` per pass).
        self.reap_into(keys)?;
        // Descriptors other rings passed here are activity too (for
        // `take_received`), though no operation of this ring saw them.
        if keys.len() > before || !self.passed.is_empty() {
            // Something to report: what is queued goes out (on a DEFER_TASKRUN
            // ring in an enter that also runs the work the kernel deferred,
            // posting what finished meanwhile), without waiting.
            match self.submit_for_events() {
                Err(e) if !interrupted(&e) => return Err(e),
                _ => {}
            }
        } else if self.table.in_flight() == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        } else {
            self.wait_one()?;
        }
        let reaped = self.reap_into(keys);
        // That enter ran any deferred work: the next non-blocking call (a
        // `try_take` of one of the keys) need not enter for it again.
        self.waited = true;
        reaped
    }

    /// Submits what is queued and waits for one completion; an interrupted
    /// wait (`EINTR`, or `EBUSY` while the kernel flushes its overflow list)
    /// counts as done, for the caller's loop to look again.
    pub(in crate::owned) fn wait_one(&mut self) -> io::Result<()> {
        match self.submit_and_wait(1) {
            Err(e) if !interrupted(&e) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Whether entering the kernel was interrupted rather than refused: `EINTR`,
/// or `EBUSY` (the kernel's overflow list kept it from waiting).
fn interrupted(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY))
}
