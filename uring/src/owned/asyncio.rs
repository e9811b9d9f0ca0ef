//! Driving an [`OwnedRing`] from an async runtime (feature `async`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::ops::FileRef;
use super::slab::Polled;
use super::{
    HeldFd, ItemPoll, Multi, Multishot, Op, OpId, OpKey, OwnedRing, StreamEnd, SubmitError,
};
use crate::error;

/// An [`OwnedRing`] for async code: operations become futures (and multishot
/// operations streams) that resolve to the operation's output, buffers back.
///
/// The adapter depends on no runtime. It registers an eventfd with the ring
/// (`IORING_REGISTER_EVENTFD`), which the kernel signals whenever it posts a
/// completion; the runtime watches that descriptor ([`AsRawFd`] gives it) and,
/// when it is readable, calls [`process`](Self::process), which wakes the futures
/// whose operations completed. With tokio (feature `tokio`), spawn
/// `AsyncRing::tokio_driver`, which does exactly that — no `unsafe`:
///
/// ```ignore
/// let ring = AsyncRing::new(OwnedRing::new(64)?)?;
/// tokio::task::spawn_local(ring.tokio_driver()?);
/// let (res, buf) = ring.run(ops::Read::new(file, vec![0; 4096], 0))?.await?;
/// ```
///
/// With feature `stream`, an [`ItemStream`] is a `futures_core::Stream`.
///
/// Use a ring without `DEFER_TASKRUN` here. Such a ring runs the kernel's
/// completion work only when its task enters the kernel asking for events, and
/// the kernel tells a task that waits elsewhere (in epoll, as a runtime does)
/// about that work late: on Linux 6.18 the eventfd turned readable 13 to 19 ms
/// after a socket's data arrived (a receive on a socketpair, 20 tries; on a
/// plain ring, 17 to 64 µs), and the ring's own descriptor is not woken for it
/// at all, so watching that instead does not help. Futures still resolve, but
/// a request/response loop on such a ring ran 13 times slower than on a plain
/// one with 16 connections, and 1,000 times slower with one
/// (`examples/tokio_echo`, 64-byte round trips).
///
/// It is a cheap handle (`Clone`) to one ring, and not `Send`: the ring, its
/// futures and its driver live on one thread (a `LocalSet`, a current-thread
/// runtime).
///
/// **Dropping a future is cancelling its operation**: the future submits an
/// `ASYNC_CANCEL` and detaches the operation, whose buffers and descriptors stay
/// in the ring's table until its final completion, then are dropped. The same
/// holds for an [`ItemStream`]. `mem::forget`ting a future (or a stream) leaks
/// more than its operation: the future holds an `Rc` of the ring, so the ring
/// itself never goes — its table, its queued outputs (the forgotten operation's
/// among them), its eventfd and its kernel descriptors stay for the life of the
/// process. Nothing unsafe follows (nothing is freed), but it is a leak of the
/// whole ring, not of one operation.
#[derive(Clone)]
pub struct AsyncRing {
    pub(super) inner: Rc<Inner>,
}

pub(super) struct Inner {
    ring: RefCell<OwnedRing>,
    wakers: RefCell<Wakers>,
    /// Buffers kept between calls of [`submit_reap_wake`](Inner::submit_reap_wake),
    /// so that the steady state allocates nothing: the keys of the operations
    /// just touched, and the wakers to wake.
    keys: RefCell<Vec<OpKey>>,
    to_wake: RefCell<Vec<Waker>>,
    /// What a drop could not do because the ring was borrowed just then: to do
    /// at the next chance.
    later: RefCell<Vec<Later>>,
    /// Registered with the ring; declared after it, so closed after the ring is
    /// torn down (the kernel holds its own reference anyway).
    eventfd: OwnedFd,
    /// The waker of a driver that batches submissions
    /// (`AsyncRing::tokio_driver`, feature `tokio`), while one runs: entries
    /// queued by [`run`](AsyncRing::run) and [`stream`](AsyncRing::stream) are
    /// then submitted by the driver, all those of one turn of the runtime in
    /// one `io_uring_enter`, instead of one enter each.
    driver: RefCell<Option<Waker>>,
    /// Entries are queued for the driver to submit (it was woken for them).
    unsubmitted: Cell<bool>,
}

impl AsyncRing {
    /// Wraps `ring`, registering an eventfd for its completions.
    ///
    /// # Errors
    ///
    /// The errno of `eventfd(2)` or of the registration (`EBUSY` if the ring has
    /// an eventfd already).
    pub fn new(mut ring: OwnedRing) -> io::Result<AsyncRing> {
        // SAFETY: eventfd(2) with valid flags; it returns a new descriptor or -1.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: a new descriptor that nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(fd) };
        ring.ring.register_eventfd(eventfd.as_fd())?;
        ring.touched = Some(Vec::new());
        Ok(AsyncRing {
            inner: Rc::new(Inner {
                ring: RefCell::new(ring),
                wakers: RefCell::new(Wakers::default()),
                keys: RefCell::new(Vec::new()),
                to_wake: RefCell::new(Vec::new()),
                later: RefCell::new(Vec::new()),
                eventfd,
                driver: RefCell::new(None),
                unsubmitted: Cell::new(false),
            }),
        })
    }

    /// The eventfd to watch for readability.
    pub fn eventfd(&self) -> BorrowedFd<'_> {
        self.inner.eventfd.as_fd()
    }

    /// Runs `f` on the ring: to register a [`BufPool`](super::BufPool), read its
    /// state, and the like.
    ///
    /// # Panics
    ///
    /// If called from inside another `with_ring` on the same ring.
    pub fn with_ring<R>(&self, f: impl FnOnce(&mut OwnedRing) -> R) -> R {
        f(&mut self.inner.ring.borrow_mut())
    }

    /// Submits `op`; the future resolves to its output. While a batching driver
    /// runs (`tokio_driver`, feature `tokio`) the entry is queued and the
    /// driver submits it, with every other entry queued in the same turn of the
    /// runtime, in one `io_uring_enter`; otherwise it is submitted now.
    ///
    /// ```
    /// use uring::owned::{AsyncRing, OwnedRing, ops};
    /// let ring = AsyncRing::new(OwnedRing::new(4)?)?;
    /// let mut fut = ring.run(ops::Nop::new())?;
    /// // A runtime would wait for the eventfd; here, poll until done.
    /// let waker = std::task::Waker::noop();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// let out = loop {
    ///     if let std::task::Poll::Ready(out) = std::pin::Pin::new(&mut fut).poll(&mut cx) {
    ///         break out;
    ///     }
    ///     ring.process_blocking()?;
    /// };
    /// assert_eq!(out?.unwrap(), 0);
    /// # use std::future::Future as _;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`OwnedRing::submit_op`].
    pub fn run<T: Op>(&self, op: T) -> Result<OpFuture<T>, SubmitError<T>> {
        let (id, driver) = {
            let mut ring = self.inner.ring.borrow_mut();
            let id = ring.submit_op(op)?;
            (id, self.inner.queued(&mut ring))
        };
        if let Some(driver) = driver {
            driver.wake();
        }
        Ok(OpFuture {
            inner: Rc::clone(&self.inner),
            id: Some(id),
        })
    }

    /// Submits multishot `op`; the stream yields its items. (Submitted as for
    /// [`run`](Self::run).)
    ///
    /// # Errors
    ///
    /// As for [`OwnedRing::submit_multishot`].
    pub fn stream<T: Multishot>(&self, op: T) -> Result<ItemStream<T>, SubmitError<T>> {
        let (id, driver) = {
            let mut ring = self.inner.ring.borrow_mut();
            let id = ring.submit_multishot(op)?;
            (id, self.inner.queued(&mut ring))
        };
        if let Some(driver) = driver {
            driver.wake();
        }
        Ok(ItemStream {
            inner: Rc::clone(&self.inner),
            id: Some(id),
            end: None,
        })
    }

    /// Call when the [`eventfd`](Self::eventfd) is readable: resets it, submits
    /// what is queued, processes the posted completions and wakes the futures they
    /// finish. Returns how many completions it saw.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when the eventfd had not been signalled (for `AsyncFd::try_io`,
    /// which then clears its readiness); the kernel's errno when submitting fails.
    pub fn process(&self) -> io::Result<usize> {
        let mut count = 0u64;
        // SAFETY: reads 8 bytes into a u64 from our own eventfd.
        let n = unsafe {
            libc::read(
                self.inner.eventfd.as_raw_fd(),
                (&raw mut count).cast(),
                core::mem::size_of::<u64>(),
            )
        };
        let signalled = n == 8;
        // Submits too: what a batching driver was woken for goes in this enter.
        self.inner.unsubmitted.set(false);
        let woken = self.inner.submit_reap_wake()?;
        if !signalled && woken == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(woken)
    }

    /// Waits in the kernel for at least one completion, then
    /// [`process`](Self::process)es: for driving the ring without a runtime.
    ///
    /// # Errors
    ///
    /// The kernel's errno when waiting fails.
    pub fn process_blocking(&self) -> io::Result<usize> {
        {
            let mut ring = self.inner.ring.borrow_mut();
            // Cancellations left by futures dropped while the ring was busy go in
            // first, or the wait below could be for them.
            self.inner.do_later(&mut ring);
            if ring.in_flight() > 0 {
                ring.wait_one()?;
            }
        }
        match self.process() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
            r => r,
        }
    }

    /// How many operations are in flight (see [`OwnedRing::in_flight`]).
    pub fn in_flight(&self) -> usize {
        self.inner.ring.borrow().in_flight()
    }

    /// Holds `fd` in the ring ([`OwnedRing::hold_fd`]) for as long as the
    /// returned [`HeldFile`] lives: operations name it (`&HeldFile` is
    /// `Into<FileRef>`) with no atomic reference count per operation, where a
    /// [`SharedFd`](super::SharedFd) takes two. Dropping the `HeldFile`
    /// releases the descriptor, which is closed once no operation in flight
    /// names it.
    ///
    /// ```
    /// use uring::owned::{AsyncRing, OwnedRing, ops};
    /// let ring = AsyncRing::new(OwnedRing::new(4)?)?;
    /// let file = ring.hold(std::fs::File::open("/dev/zero")?)?;
    /// let mut fut = ring.run(ops::Read::new(&file, vec![1u8; 4], 0))?;
    /// let waker = std::task::Waker::noop();
    /// let mut cx = std::task::Context::from_waker(&waker);
    /// let (n, buf) = loop {
    ///     if let std::task::Poll::Ready(out) = std::pin::Pin::new(&mut fut).poll(&mut cx) {
    ///         break out?;
    ///     }
    ///     ring.process_blocking()?;
    /// };
    /// assert_eq!((n?, &buf[..]), (4, &[0u8; 4][..]));
    /// # use std::future::Future as _;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`OwnedRing::hold_fd`] (`fd` is closed).
    ///
    /// # Panics
    ///
    /// If called from inside [`with_ring`](Self::with_ring) on the same ring.
    pub fn hold(&self, fd: impl Into<OwnedFd>) -> io::Result<HeldFile> {
        let fd = self.inner.ring.borrow_mut().hold_fd(fd)?;
        Ok(HeldFile {
            inner: Rc::clone(&self.inner),
            fd,
        })
    }
}

/// A descriptor an [`AsyncRing`] holds for as long as this lives (from
/// [`AsyncRing::hold`]): the async counterpart of a [`HeldFd`], which releases
/// its descriptor when dropped. Operations name it by reference
/// (`ops::Recv::new(&file, buf)`); those in flight when it is dropped keep the
/// descriptor open until their final completions.
///
/// Not `Send` (it holds the ring, as the ring's futures do); not `Clone` (one
/// owner releases it): share it by reference, or in an `Rc`.
pub struct HeldFile {
    inner: Rc<Inner>,
    fd: HeldFd,
}

impl HeldFile {
    /// The ring's handle of the descriptor: `Copy`, for an operation on this
    /// ring to name (refused with `EBADF` once this `HeldFile` is dropped).
    pub fn held(&self) -> HeldFd {
        self.fd
    }
}

impl From<&HeldFile> for FileRef {
    /// The held descriptor: the ring counts the operation as its user.
    fn from(file: &HeldFile) -> FileRef {
        FileRef::Held(file.fd)
    }
}

impl AsRawFd for HeldFile {
    /// The descriptor's number (`hold` took a plain descriptor). The ring keeps
    /// it open while this lives, unless the handle is released through
    /// [`AsyncRing::with_ring`] (`release_fd(file.held())`): then the number may
    /// be closed, or reused.
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw
    }
}

impl Drop for HeldFile {
    fn drop(&mut self) {
        self.inner.now_or_later(Later::Release(self.fd));
    }
}

impl fmt::Debug for HeldFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeldFile").field("fd", &self.fd).finish()
    }
}

impl Drop for Inner {
    /// Signals the eventfd once more, so that a driver waiting on it (which holds
    /// the ring only weakly) wakes, finds the ring gone and ends.
    fn drop(&mut self) {
        let one = 1u64;
        // SAFETY: writes 8 bytes from a u64 to our own eventfd, still open.
        let _ = unsafe {
            libc::write(
                self.eventfd.as_raw_fd(),
                (&raw const one).cast(),
                core::mem::size_of::<u64>(),
            )
        };
    }
}

impl Inner {
    /// After an entry was queued on `ring`: without a batching driver, it is
    /// submitted now (errors leave it queued; the next submit carries it); with
    /// one, the driver's waker, once per batch, for the caller to wake once it
    /// has let go of the ring (waking may run an executor's code).
    #[must_use]
    fn queued(&self, ring: &mut OwnedRing) -> Option<Waker> {
        let driver = self.driver.borrow();
        if driver.is_none() {
            let _ = ring.submit();
            return None;
        }
        if self.unsubmitted.replace(true) {
            // Woken already for this batch.
            return None;
        }
        driver.clone()
    }

    /// Registers (or clears) the batching driver's waker. Clearing it submits
    /// what was queued for it (or, if the ring is borrowed just then, leaves
    /// that to the next call that submits: without a driver, every poll does).
    #[cfg(feature = "tokio")]
    pub(super) fn set_driver(&self, waker: Option<&Waker>) {
        let old = {
            let mut driver = self.driver.borrow_mut();
            match (driver.as_ref(), waker) {
                (Some(old), Some(new)) if old.will_wake(new) => return,
                _ => core::mem::replace(&mut *driver, waker.cloned()),
            }
        };
        // Dropped with no borrow held: dropping a waker may run an executor's code.
        drop(old);
        if waker.is_none() && self.unsubmitted.replace(false) {
            if let Ok(mut ring) = self.ring.try_borrow_mut() {
                let _ = ring.submit();
            }
        }
    }

    /// Whether entries wait for the batching driver, which then submits them
    /// (with [`submit_reap_wake`](Self::submit_reap_wake)).
    #[cfg(feature = "tokio")]
    pub(super) fn take_unsubmitted(&self) -> bool {
        self.unsubmitted.replace(false)
    }

    /// What a future's (or a stream's) poll does before looking for its output:
    /// without a batching driver, cancel orphans, submit, reap and wake the
    /// futures of the operations that saw a completion
    /// ([`submit_reap_wake`](Self::submit_reap_wake)); with one, nothing — the
    /// driver does all that whenever the kernel signals the eventfd (which it
    /// does for every completion it posts, and on a `DEFER_TASKRUN` ring for
    /// the work it defers) and whenever entries were queued.
    pub(super) fn reap_and_wake(&self) -> io::Result<usize> {
        if self.driver.borrow().is_some() {
            return Ok(0);
        }
        self.submit_reap_wake()
    }

    /// Cancels orphans, submits (and, on a `DEFER_TASKRUN` ring, asks for
    /// events in the same enter), reaps, and wakes the futures of the
    /// operations that saw a completion. Wakers run with no borrow held.
    pub(super) fn submit_reap_wake(&self) -> io::Result<usize> {
        let mut touched = {
            let mut ring = self.ring.borrow_mut();
            self.do_later(&mut ring);
            // On a DEFER_TASKRUN ring, deferred completions are posted only when
            // this task enters the kernel asking for events: the submit does
            // that too, in the same enter.
            let submitted = ring.submit_for_events();
            let _ = ring.reap();
            // The touched keys, swapped with the kept (empty) buffer.
            let mut touched = self.keys.take();
            if let Some(t) = ring.touched.as_mut() {
                core::mem::swap(t, &mut touched);
            }
            if let Err(e) = submitted {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) {
                    return Err(e);
                }
            }
            touched
        };
        let n = touched.len();
        if n == 0 {
            *self.keys.borrow_mut() = touched;
            return Ok(0);
        }
        // Taken out of its cell while the wakers run (one may call back in here).
        let mut wake = self.to_wake.take();
        match self.wakers.try_borrow_mut() {
            Ok(mut map) => wake.extend(touched.drain(..).filter_map(|k| map.remove(k))),
            Err(_) => {
                // Only from code a waker runs while the map is borrowed: keep the
                // keys for the next call.
                if let Ok(mut ring) = self.ring.try_borrow_mut() {
                    if let Some(t) = ring.touched.as_mut() {
                        t.append(&mut touched);
                    }
                }
            }
        }
        *self.keys.borrow_mut() = touched;
        wake.drain(..).for_each(Waker::wake);
        *self.to_wake.borrow_mut() = wake;
        Ok(n)
    }

    /// Registers the waker for `key`. The one it replaces is dropped after the
    /// map's borrow ends: dropping a waker may run an executor's code.
    fn set_waker(&self, key: OpKey, waker: &Waker) {
        let old = match self.wakers.try_borrow_mut() {
            Ok(mut map) => map.insert(key, waker),
            // Only reachable from a waker's drop; `touched` wakes nothing then,
            // but the next poll registers again.
            Err(_) => None,
        };
        drop(old);
    }

    fn forget_waker(&self, key: OpKey) {
        let old = self
            .wakers
            .try_borrow_mut()
            .ok()
            .and_then(|mut m| m.remove(key));
        drop(old);
    }

    /// Drops the interest in operation `key`: cancels it (errors ignored: it may
    /// have finished) and detaches it, or queues that for later if the ring is busy
    /// (done by the next `process`, `process_blocking` or poll of a future).
    fn abandon(&self, key: OpKey) {
        self.forget_waker(key);
        self.now_or_later(Later::Forget(key));
    }

    /// Does `what` on the ring now, or, if the ring is borrowed just then (a
    /// drop inside [`AsyncRing::with_ring`], say), at the next `process`,
    /// `process_blocking` or poll of a future.
    fn now_or_later(&self, what: Later) {
        match self.ring.try_borrow_mut() {
            Ok(mut ring) => what.run(&mut ring),
            Err(_) => self.later.borrow_mut().push(what),
        }
    }

    /// Does what drops left for later. The list is out of its cell meanwhile:
    /// what this drops (a detached operation's buffers, say) may leave more for
    /// later, for the next call.
    fn do_later(&self, ring: &mut OwnedRing) {
        let mut todo = self.later.take();
        for what in todo.drain(..) {
            what.run(ring);
        }
        let mut later = self.later.borrow_mut();
        if later.is_empty() {
            // The allocation, kept for the next time.
            *later = todo;
        }
    }
}

/// What a drop leaves for later when the ring is borrowed.
enum Later {
    /// A dropped future's (or stream's) operation: cancel and detach it.
    Forget(OpKey),
    /// A dropped [`HeldFile`]'s descriptor: release it.
    Release(HeldFd),
}

impl Later {
    fn run(self, ring: &mut OwnedRing) {
        match self {
            Later::Forget(key) => forget_op(ring, key),
            // Only `EBADF`, for a handle released already through `with_ring`.
            Later::Release(fd) => drop(ring.release_fd(fd)),
        }
    }
}

/// The wakers of the futures and streams waiting for their operations, by the
/// operations' slots in the ring's table (dense, so a vector), each with its
/// operation's generation.
#[derive(Default)]
struct Wakers(Vec<Option<(u64, Waker)>>);

impl Wakers {
    /// Registers `waker` for `key`; returns the one it replaces, to drop once the
    /// borrow ends (dropping a waker may run an executor's code). A waker that
    /// would wake the same task is kept, not cloned again.
    fn insert(&mut self, key: OpKey, waker: &Waker) -> Option<Waker> {
        let i = key.slot as usize;
        if i >= self.0.len() {
            self.0.resize_with(i + 1, || None);
        }
        match &mut self.0[i] {
            Some((generation, old)) if *generation == key.generation && old.will_wake(waker) => {
                None
            }
            entry => entry
                .replace((key.generation, waker.clone()))
                .map(|(_, old)| old),
        }
    }

    /// The waker registered for `key`, out of the table.
    fn remove(&mut self, key: OpKey) -> Option<Waker> {
        let entry = self.0.get_mut(key.slot as usize)?;
        match entry {
            Some((generation, _)) if *generation == key.generation => entry.take().map(|(_, w)| w),
            _ => None,
        }
    }
}

fn forget_op(ring: &mut OwnedRing, key: OpKey) {
    if ring.table.is_in_flight(key.slot, key.generation) {
        let _ = ring.cancel_key(key);
    }
    ring.detach_key(key);
}

impl AsRawFd for AsyncRing {
    /// The eventfd (for `AsyncFd` and other readiness APIs): the same descriptor,
    /// open as long as any clone of this handle lives.
    fn as_raw_fd(&self) -> RawFd {
        self.inner.eventfd.as_raw_fd()
    }
}

impl AsFd for AsyncRing {
    /// The eventfd, as [`eventfd`](AsyncRing::eventfd) gives it.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.eventfd.as_fd()
    }
}

impl fmt::Debug for AsyncRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRing")
            .field("eventfd", &self.inner.eventfd.as_raw_fd())
            .field("ring", &self.inner.ring.try_borrow().ok())
            .finish()
    }
}

/// The future of one operation, from [`AsyncRing::run`]: resolves to
/// `Ok(output)`. Dropping it before then cancels the operation (its resources
/// stay in the ring until the kernel is done).
#[must_use = "dropping the future cancels the operation"]
pub struct OpFuture<T: Op> {
    inner: Rc<Inner>,
    id: Option<OpId<T>>,
}

impl<T: Op> OpFuture<T> {
    /// The operation's id on the ring.
    pub fn id(&self) -> Option<&OpId<T>> {
        self.id.as_ref()
    }
}

impl<T: Op> Future for OpFuture<T> {
    /// `ENOENT` if the operation's completion was taken from the ring by other
    /// means (through [`AsyncRing::with_ring`]).
    type Output = io::Result<T::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(id) = this.id.as_ref() else {
            return Poll::Ready(Err(error::with_context(
                libc::EINVAL,
                "polled after completion",
            )));
        };
        let key = id.key();
        // Reap first (without a driver): this may finish other operations too,
        // whose futures are woken.
        this.inner.reap_and_wake()?;
        let polled = match this.inner.ring.borrow_mut().poll_op(id) {
            Polled::Ready(out) => Some(Ok(out)),
            Polled::Gone => Some(Err(io::Error::from_raw_os_error(libc::ENOENT))),
            Polled::InFlight => None,
        };
        match polled {
            Some(out) => {
                this.id = None;
                this.inner.forget_waker(key);
                Poll::Ready(out)
            }
            None => {
                this.inner.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }
}

impl<T: Op> Drop for OpFuture<T> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.inner.abandon(id.key());
        }
    }
}

impl<T: Op> fmt::Debug for OpFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpFuture").field("id", &self.id).finish()
    }
}

/// The items of a multishot operation, from [`AsyncRing::stream`]. Dropping it
/// before the end cancels the operation.
#[must_use = "dropping the stream cancels the operation"]
pub struct ItemStream<T: Multishot> {
    inner: Rc<Inner>,
    id: Option<OpId<Multi<T>>>,
    end: Option<StreamEnd>,
}

impl<T: Multishot> ItemStream<T> {
    /// Why the stream ended, once it has ([`poll_next`](Self::poll_next) gave
    /// `None`): [`StreamEnd::rearm`] says whether submitting the operation again
    /// simply continues it. `None` while it goes on.
    pub fn end(&self) -> Option<StreamEnd> {
        self.end
    }

    /// The next item, or `None` at the end of the stream (the error that ended
    /// it, if any, is the last item; [`end`](Self::end) then says why it ended).
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<T::Item>>> {
        let Some(id) = self.id.as_ref() else {
            return Poll::Ready(None);
        };
        let key = id.key();
        if let Err(e) = self.inner.reap_and_wake() {
            return Poll::Ready(Some(Err(e)));
        }
        let polled = self.inner.ring.borrow_mut().take_item(id);
        match polled {
            ItemPoll::Item(item) => Poll::Ready(Some(item)),
            ItemPoll::Ended(end) => {
                self.end = Some(end);
                self.id = None;
                self.inner.forget_waker(key);
                Poll::Ready(None)
            }
            ItemPoll::Gone => {
                self.id = None;
                self.inner.forget_waker(key);
                Poll::Ready(None)
            }
            ItemPoll::Pending => {
                self.inner.set_waker(key, cx.waker());
                Poll::Pending
            }
        }
    }

    /// A future of the next item (see [`poll_next`](Self::poll_next)).
    #[allow(clippy::should_implement_trait)] // async: it cannot be Iterator::next
    pub fn next(&mut self) -> NextItem<'_, T> {
        NextItem { stream: self }
    }

    /// Asks the kernel to end the stream: the items already posted still come,
    /// then the final one (usually `ECANCELED`), then the end.
    ///
    /// # Errors
    ///
    /// As for [`OwnedRing::cancel`].
    pub fn cancel(&self) -> io::Result<()> {
        match self.id.as_ref() {
            Some(id) => self.inner.ring.borrow_mut().cancel(id),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "stream")]
impl<T: Multishot> futures_core::Stream for ItemStream<T> {
    type Item = io::Result<T::Item>;

    /// As [`ItemStream::poll_next`]: the items, then `None` at the end
    /// ([`ItemStream::end`] says why it ended).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        ItemStream::poll_next(self.get_mut(), cx)
    }
}

impl<T: Multishot> Drop for ItemStream<T> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.inner.abandon(id.key());
        }
    }
}

impl<T: Multishot> fmt::Debug for ItemStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ItemStream")
            .field("id", &self.id)
            .field("end", &self.end)
            .finish()
    }
}

/// Future of [`ItemStream::next`].
#[must_use = "futures do nothing unless polled"]
pub struct NextItem<'a, T: Multishot> {
    stream: &'a mut ItemStream<T>,
}

impl<T: Multishot> Future for NextItem<'_, T> {
    type Output = Option<io::Result<T::Item>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().stream.poll_next(cx)
    }
}

impl<T: Multishot> fmt::Debug for NextItem<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextItem")
            .field("stream", &self.stream)
            .finish()
    }
}
