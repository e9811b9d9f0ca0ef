//! Timers: a timeout, a periodic one, a time limit for a chain member.

use std::io;
use std::time::Duration;

use super::{Heap, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::{Multishot, Op};
use crate::sqe::Sqe;
use crate::types::{TimeoutFlags, Timespec};

/// A heap timespec the kernel reads.
struct TimespecHeap(Heap<Timespec>);

impl std::fmt::Debug for TimespecHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("timespec")
    }
}

/// Completes after a time, or after `count` other completions:
/// `IORING_OP_TIMEOUT` (Linux 5.4). Output: `Err(ETIME)` when the time ran out,
/// `Ok(())` when the count was reached first, `Err(ECANCELED)` when cancelled.
///
/// ```
/// use std::time::Duration;
/// use uring::owned::{OwnedRing, ops::Timeout};
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Timeout::new(Duration::from_millis(1)))?;
/// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::ETIME));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Timeout {
    ts: TimespecHeap,
    count: u32,
}

impl Timeout {
    /// Fire after `after` (relative, monotonic clock).
    pub fn new(after: Duration) -> Timeout {
        Timeout {
            ts: TimespecHeap(Heap::new(Timespec::from(after))),
            count: 0,
        }
    }

    /// Complete early, with `Ok`, once `count` other completions have been posted.
    pub fn count(mut self, count: u32) -> Timeout {
        self.count = count;
        self
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel);
// a timeout names no descriptor.
unsafe impl Op for Timeout {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Timeout::new(self.ts.0.ptr().cast_const())
            .count(self.count)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// A timer firing every `interval`, `count` times (0: until cancelled), one item
/// (`()`) per firing: multishot `IORING_OP_TIMEOUT` (Linux 6.4).
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * after the last of `count` firings (its item is `Ok(())`): `raw_result()`
///   `-ETIME`, `rearm()` false;
/// * on an error, which is the last item: `ECANCELED` after a cancel, `EINVAL` first
///   on kernels without it; `raw_result()` is `-errno`, `rearm()` false;
/// * after a firing, before `count` (or with no `count`), when the kernel stopped
///   the stream (a full completion queue does that): `raw_result()` `-ETIME`,
///   `rearm()` **true** — submit a new one for the firings left (one per `Ok`
///   item so far).
#[derive(Debug)]
pub struct TimeoutMultishot {
    ts: TimespecHeap,
    count: u32,
    fired: u32,
}

impl TimeoutMultishot {
    /// Fire every `interval`, `count` times (0 for no limit).
    pub fn new(interval: Duration, count: u32) -> TimeoutMultishot {
        TimeoutMultishot {
            ts: TimespecHeap(Heap::new(Timespec::from(interval))),
            count,
            fired: 0,
        }
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel).
unsafe impl Multishot for TimeoutMultishot {
    type Item = ();
    fn sqe(&mut self) -> Sqe {
        raw::Timeout::new(self.ts.0.ptr().cast_const())
            .count(self.count)
            .flags(TimeoutFlags::MULTISHOT)
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<()>> {
        match cqe.raw_result() {
            r if r == -libc::ETIME => {
                self.fired = self.fired.saturating_add(1);
                Some(Ok(()))
            }
            r if r < 0 => Some(Err(io::Error::from_raw_os_error(-r))),
            _ => Some(Ok(())),
        }
    }
    /// A firing that was not the last of `count`: the kernel stopped it early.
    fn rearm(&self, cqe: &Cqe) -> bool {
        cqe.raw_result() == -libc::ETIME && (self.count == 0 || self.fired < self.count)
    }
}

/// A time limit for the operation linked before it: `IORING_OP_LINK_TIMEOUT`
/// (Linux 5.5). Submit it as the member after the operation in
/// [`OwnedRing::submit_linked`](crate::owned::OwnedRing::submit_linked), or use
/// [`OwnedRing::submit_with_timeout`](crate::owned::OwnedRing::submit_with_timeout). If the
/// operation is still pending when the time runs out it is cancelled (it
/// completes with `ECANCELED`, its resources coming back as usual) and this
/// completes with `ETIME`; otherwise this completes with `ECANCELED`.
///
/// When the time runs out, this completes with the result of the kernel's
/// attempt to cancel the operation: besides `ETIME`, `ENOENT` when the operation
/// was no longer found (it was completing at that moment) and `EALREADY` when it
/// was already running in an io-wq worker and could only be signalled (it then
/// completes on its own, often with `EINTR`). Neither is an error of the
/// timeout: judge by the operation's own result.
#[derive(Debug)]
pub struct LinkTimeout {
    ts: TimespecHeap,
}

impl LinkTimeout {
    /// Cancel the previous member if it has not completed after `after`.
    pub fn new(after: Duration) -> LinkTimeout {
        LinkTimeout {
            ts: TimespecHeap(Heap::new(Timespec::from(after))),
        }
    }
}

// SAFETY: names the timespec (its own heap allocation, only read by the kernel)
// and no descriptor.
unsafe impl Op for LinkTimeout {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::LinkTimeout::new(self.ts.0.ptr().cast_const()).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}
