//! Closing: cancelling what is in flight, waiting for it up to the drop
//! timeout, leaking what is left, and handing a `SINGLE_ISSUER` ring back to
//! its thread when it is dropped elsewhere.

#[cfg(doc)]
use crate::Ring;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::{CloseReport, OwnedRing};
use crate::owned::closing::{Pauses, wait_by_reading};
use crate::owned::issuer;
use crate::owned::slab::Slab;
use crate::owned::table::user_data;

impl OwnedRing {
    /// Does what `Drop` does — cancels everything in flight, waits up to the drop
    /// timeout, leaks what is left — and says what happened.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// // A read that never gets data.
    /// let (r, _w) = std::os::unix::net::UnixStream::pair()?;
    /// let _id = ring.submit_op(ops::Read::new(r, vec![0u8; 8], 0))?;
    /// let report = ring.close();
    /// assert_eq!((report.completed, report.leaked), (1, 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(self) -> CloseReport {
        issuer::close(self)
    }
}

impl issuer::HandBack for OwnedRing {
    fn ops_in_flight(&self) -> usize {
        self.table.in_flight()
    }

    fn finish(&mut self) -> CloseReport {
        self.shutdown(self.drop_timeout)
    }

    fn foreign_owner(&self) -> Option<(u64, Arc<AtomicBool>)> {
        issuer::foreign_owner(self.issuer, &self.owner_alive)
    }

    /// Leaves an empty table behind.
    unsafe fn take_all(&mut self) -> OwnedRing {
        OwnedRing {
            // SAFETY: forwarded from this function's contract: `self.ring` is
            // neither used nor dropped again.
            ring: ManuallyDrop::new(unsafe { ManuallyDrop::take(&mut self.ring) }),
            table: core::mem::replace(&mut self.table, Slab::new()),
            chain_sqes: core::mem::take(&mut self.chain_sqes),
            raw: core::mem::take(&mut self.raw),
            id: self.id,
            drop_timeout: self.drop_timeout,
            touched: self.touched.take(),
            activity: self.activity.take(),
            defer_taskrun: self.defer_taskrun,
            taskrun_flag: self.taskrun_flag,
            waited: false,
            issuer: self.issuer,
            enable_on_bind: self.enable_on_bind,
            owner_alive: self.owner_alive.take(),
            direct: self.direct.take(),
            passed: core::mem::take(&mut self.passed),
        }
    }
}

impl OwnedRing {
    /// Pushes and submits a cancellation for every operation in flight; whether
    /// the ring took them.
    pub(super) fn cancel_in_flight(&mut self) -> bool {
        for (slot, generation) in self.table.all_in_flight() {
            if self
                .make_room(1)
                .and_then(|()| self.push_cancel(user_data(slot, generation)))
                .is_err()
            {
                return false;
            }
        }
        self.submit_retrying().is_ok()
    }

    pub(super) fn shutdown(&mut self, timeout: Duration) -> CloseReport {
        let before = self.table.in_flight();
        if before == 0 {
            return CloseReport {
                completed: 0,
                leaked: 0,
                handed_back: 0,
            };
        }
        let deadline = Instant::now() + timeout;
        if self.on_foreign_thread() {
            // A SINGLE_ISSUER ring whose thread has exited (a live one takes the
            // ring back instead): the kernel cancelled that thread's requests
            // when it exited, and no other thread may enter to cancel or wait.
            // Their completions still arrive in the queue, which needs no entry.
            wait_by_reading(deadline, || {
                let _ = self.reap();
                self.table.drop_all_done();
                self.table.in_flight()
            });
        }
        // Everything queued goes to the kernel, then a cancellation for each.
        let mut can_wait =
            !self.on_foreign_thread() && self.submit_retrying().is_ok() && self.cancel_in_flight();
        // A cancellation finds only what the kernel has issued: a linked member
        // whose head just completed is still queued (as task work; on a
        // DEFER_TASKRUN ring until this task waits) and is issued after it. So
        // whenever a wait passes with nothing completing, cancel again what is
        // still in flight, pausing a little longer each time.
        let mut pauses = Pauses::new();
        while can_wait {
            if self.reap().is_err() {
                break;
            }
            self.table.drop_all_done();
            if self.table.in_flight() == 0 {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            match self
                .ring
                .submit_and_wait_timeout(1, pauses.until(deadline, now))
            {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => {
                    let _ = self.reap();
                    self.table.drop_all_done();
                    can_wait = self.cancel_in_flight();
                    pauses.lengthen();
                }
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(_) => break,
            }
        }
        let _ = self.reap();
        self.table.drop_all_done();
        // What the kernel may still hold is leaked, never freed.
        let leaked = self.table.leak_in_flight();
        CloseReport {
            completed: before - leaked,
            leaked,
            handed_back: 0,
        }
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        // A SINGLE_ISSUER ring dropped on another thread cannot cancel there:
        // hand it back to its own thread, if that thread lives.
        // SAFETY: called from drop, which returns right after `true` and does
        // not touch `self.ring` again.
        if unsafe { issuer::drop_handing_back(self) } {
            return;
        }
        let timeout = self.drop_timeout;
        self.shutdown(timeout);
        // SAFETY: the ring is dropped once, here, at the end of drop; nothing
        // uses it afterwards. The table holds nothing in flight any more.
        unsafe { ManuallyDrop::drop(&mut self.ring) };
        // Rings other threads handed back to this one.
        issuer::finish_parked();
    }
}
