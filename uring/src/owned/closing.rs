//! What closing an [`OwnedRing`](super::OwnedRing) and a
//! [`TypedRing`](super::TypedRing) share: the pauses between looks at the
//! queue while waiting for what was cancelled, and the wait by reading the
//! queue alone, for a `SINGLE_ISSUER` ring on a thread the kernel refuses.

use std::time::{Duration, Instant};

/// The pauses of a closing ring between looks at its queue: the first is
/// short, each next one twice as long, up to a limit.
pub(super) struct Pauses(Duration);

impl Pauses {
    const FIRST: Duration = Duration::from_millis(1);
    const LONGEST: Duration = Duration::from_millis(100);

    pub(super) fn new() -> Pauses {
        Pauses(Pauses::FIRST)
    }

    /// The pause now, cut short at `deadline` (not passed: `now < deadline`).
    pub(super) fn until(&self, deadline: Instant, now: Instant) -> Duration {
        (deadline - now).min(self.0)
    }

    /// Makes the next pause longer.
    pub(super) fn lengthen(&mut self) {
        self.0 = (self.0 * 2).min(Pauses::LONGEST);
    }
}

/// Waits for a ring's operations by reading its queue alone (no entry into
/// the kernel, which refuses a `SINGLE_ISSUER` ring's other threads): `take`
/// processes what is posted and says how many operations are still in flight;
/// called, with growing pauses in between, until that is none or `deadline`
/// passes.
pub(super) fn wait_by_reading(deadline: Instant, mut take: impl FnMut() -> usize) {
    let mut pauses = Pauses::new();
    loop {
        let left = take();
        let now = Instant::now();
        if left == 0 || now >= deadline {
            return;
        }
        std::thread::sleep(pauses.until(deadline, now));
        pauses.lengthen();
    }
}
