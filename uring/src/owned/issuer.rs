//! Which thread may drive a `SINGLE_ISSUER` ring, and what a ring dropped on
//! another thread does with the operations it cannot cancel there.
//!
//! The kernel ties a `SINGLE_ISSUER` ring to one task: every submission from
//! another (and, with `DEFER_TASKRUN`, every wait; and every registration) fails
//! with `EEXIST`. An [`OwnedRing`](super::OwnedRing) is `Send`, so it may be moved after it was
//! used. To make that harmless:
//!
//! * the ring is set up disabled (`IORING_SETUP_R_DISABLED`) and enabled by its
//!   first entry into the kernel, on the thread making it — which the kernel then
//!   takes as the ring's task. Creating a ring on one thread and using it on
//!   another just works;
//! * once bound, every entry from another thread is refused before the kernel
//!   sees it, with an error naming the rule (one compare of thread tokens, only
//!   for such rings; other rings pay one branch on a field);
//! * dropping (or closing) it on another thread with operations in flight cannot
//!   cancel them there, so the ring is **handed back** to its thread: parked in a
//!   process-wide list that the owning thread empties — cancelling and waiting as
//!   a drop does there — when it next creates or drops an `OwnedRing` or a
//!   `TypedRing`, and when it exits. (A `TypedRing`, bound to the thread that
//!   makes it, is handed back the same way.) If that thread has exited already, the kernel cancelled its requests
//!   when it did; the foreign drop then waits for their completions by reading
//!   the completion queue (which needs no entry into the kernel), and leaks only
//!   what has not come by the drop timeout.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error;
use crate::ring::thread_token;

/// `OwnedRing::issuer` for a ring any thread may drive.
pub(super) const ANY_THREAD: u64 = u64::MAX;
/// `OwnedRing::issuer` for a ring not bound yet (set up disabled, or
/// `SINGLE_ISSUER` and not yet entered). Thread tokens are never 0.
pub(super) const UNBOUND: u64 = 0;

/// Whether a ring bound to the thread of token `issuer` (or [`ANY_THREAD`],
/// or [`UNBOUND`]) is on a thread other than its own: a `SINGLE_ISSUER` ring
/// bound elsewhere, whose entries the kernel refuses here.
#[inline]
pub(super) fn is_foreign(issuer: u64) -> bool {
    issuer != ANY_THREAD && issuer != UNBOUND && issuer != thread_token()
}

/// [`HandBack::foreign_owner`] of a ring bound to the thread of token
/// `issuer`, whose liveness flag is `alive` (`None` until it is bound).
pub(super) fn foreign_owner(
    issuer: u64,
    alive: &Option<Arc<AtomicBool>>,
) -> Option<(u64, Arc<AtomicBool>)> {
    if is_foreign(issuer) {
        alive.clone().map(|alive| (issuer, alive))
    } else {
        None
    }
}

/// Rings dropped on a thread other than their own (`OwnedRing`s and
/// `TypedRing`s, which finish when dropped), each with the token of the thread
/// that must finish them.
static PARKED: Mutex<Vec<(u64, Box<dyn Send>)>> = Mutex::new(Vec::new());
/// How many rings `PARKED` holds, to skip its lock when it is empty.
static PARKED_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Lives in each thread that has bound a `SINGLE_ISSUER` ring; its destructor
/// (at the thread's exit) finishes the rings parked for the thread.
struct Owner {
    alive: Arc<AtomicBool>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        // Under PARKED's lock, so that no ring is parked for this thread after
        // its rings were taken: a dropper that finds it dead does not park.
        let mine = {
            let mut parked = PARKED.lock().unwrap_or_else(|e| e.into_inner());
            self.alive.store(false, Ordering::Release);
            take_mine(&mut parked, thread_token())
        };
        // Dropped here, on their own thread: cancelled and waited for.
        drop(mine);
    }
}

thread_local! {
    static OWNER: Cell<Option<Owner>> = const { Cell::new(None) };
}

/// Records that a `SINGLE_ISSUER` ring was bound to this thread: the thread's
/// liveness flag, which the ring keeps.
pub(super) fn bind_here() -> Arc<AtomicBool> {
    OWNER.with(|cell| {
        let owner = cell.take().unwrap_or_else(|| Owner {
            alive: Arc::new(AtomicBool::new(true)),
        });
        let alive = Arc::clone(&owner.alive);
        cell.set(Some(owner));
        alive
    })
}

/// The error for a `SINGLE_ISSUER` ring driven from a thread other than its own.
#[cold]
pub(super) fn foreign_thread() -> std::io::Error {
    error::with_context(
        libc::EEXIST,
        "this ring was set up with SINGLE_ISSUER and belongs to the thread that first \
         entered the kernel with it: the kernel takes its submissions (and, with \
         DEFER_TASKRUN, its waits) only from that thread. Use it there, or set it up \
         without SINGLE_ISSUER to move it between threads",
    )
}

/// Hands `ring` (an `OwnedRing` or a `TypedRing`, which finishes when dropped)
/// to the thread `owner` if that thread is still alive; gives it back
/// otherwise.
pub(super) fn park<R: Send + 'static>(
    owner: u64,
    alive: &AtomicBool,
    ring: Box<R>,
) -> Result<(), Box<R>> {
    let mut parked = PARKED.lock().unwrap_or_else(|e| e.into_inner());
    if !alive.load(Ordering::Acquire) {
        return Err(ring);
    }
    parked.push((owner, ring));
    PARKED_COUNT.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// A ring that a thread other than its `SINGLE_ISSUER` owner can neither
/// cancel nor wait on, and that is handed back to the owner instead: an
/// [`OwnedRing`](super::OwnedRing) or a [`TypedRing`](super::TypedRing), each
/// of which finishes what it holds when dropped.
pub(super) trait HandBack: Send + Sized + 'static {
    /// How many operations are in flight.
    fn ops_in_flight(&self) -> usize;

    /// The thread that must finish this ring (its token) and that thread's
    /// liveness flag: `Some` only for a `SINGLE_ISSUER` ring on a thread
    /// other than its own.
    fn foreign_owner(&self) -> Option<(u64, Arc<AtomicBool>)>;

    /// Cancels what is in flight, waits up to the drop timeout, leaks what is
    /// left; says what happened (what `close` does on the ring's own thread).
    fn finish(&mut self) -> super::CloseReport;

    /// Moves everything out, for handing the ring back to its thread; leaves
    /// nothing in flight behind.
    ///
    /// # Safety
    ///
    /// Only from the ring's `Drop`, which must not touch the ring's kernel
    /// ring afterwards (it was moved out).
    unsafe fn take_all(&mut self) -> Self;
}

/// `close`: on a thread other than `ring`'s `SINGLE_ISSUER` owner, with
/// operations in flight, parks it with the owner, if that thread lives, and
/// reports them as handed back; otherwise finishes it here.
pub(super) fn close<R: HandBack>(ring: R) -> super::CloseReport {
    let n = ring.ops_in_flight();
    let Some((owner, alive)) = ring.foreign_owner().filter(|_| n > 0) else {
        let mut ring = ring;
        return ring.finish();
    };
    match park(owner, &alive, Box::new(ring)) {
        Ok(()) => super::CloseReport {
            completed: 0,
            leaked: 0,
            handed_back: n,
        },
        Err(mut back) => back.finish(),
    }
}

/// `drop` on a thread other than `ring`'s `SINGLE_ISSUER` owner, with
/// operations in flight: moves what it holds out and parks it with the owner,
/// if that thread lives. Whether it did: the drop then has nothing left to do.
///
/// # Safety
///
/// Only from `R`'s `Drop`, which returns right after `true` without touching
/// the ring (the contract of [`HandBack::take_all`]).
pub(super) unsafe fn drop_handing_back<R: HandBack>(ring: &mut R) -> bool {
    if ring.ops_in_flight() == 0 {
        return false;
    }
    let Some((owner, alive)) = ring.foreign_owner() else {
        return false;
    };
    if !alive.load(Ordering::Acquire) {
        return false;
    }
    // SAFETY: the caller's contract.
    let moved = Box::new(unsafe { ring.take_all() });
    // If the thread has just exited, the ring comes back: its own drop then
    // waits by reading the queue (and leaks the rest).
    if let Err(back) = park(owner, &alive, moved) {
        drop(back);
    }
    true
}

/// Finishes (drops, here, on their own thread) the rings parked for this thread.
/// Called where rings are created and dropped; cheap when nothing is parked.
pub(super) fn finish_parked() {
    if PARKED_COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mine = {
        let mut parked = PARKED.lock().unwrap_or_else(|e| e.into_inner());
        take_mine(&mut parked, thread_token())
    };
    drop(mine);
}

/// How many `SINGLE_ISSUER` rings are parked, waiting for their threads: rings
/// dropped (or closed) on a thread other than their own with operations in
/// flight, which only their own thread can cancel. That thread finishes them —
/// cancelling and waiting as a drop does — the next time it makes or drops an
/// [`OwnedRing`](super::OwnedRing) or a [`TypedRing`](super::TypedRing), and when it exits. See
/// the module's **Threads**.
///
/// ```
/// assert_eq!(uring::owned::parked_rings(), 0); // nothing was handed back here
/// ```
pub fn parked_rings() -> usize {
    PARKED_COUNT.load(Ordering::Relaxed)
}

fn take_mine(parked: &mut Vec<(u64, Box<dyn Send>)>, me: u64) -> Vec<Box<dyn Send>> {
    let mut mine = Vec::new();
    let mut i = 0;
    while i < parked.len() {
        if parked[i].0 == me {
            mine.push(parked.swap_remove(i).1);
            PARKED_COUNT.fetch_sub(1, Ordering::Relaxed);
        } else {
            i += 1;
        }
    }
    mine
}
