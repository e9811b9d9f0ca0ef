//! The [`Ring`]: one io_uring instance, set up and torn down by liburing, driven
//! from inlined Rust.

use core::cell::Cell;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU32, Ordering, fence};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::cqueue::{CompletionQueue, Cqe};
use crate::error::{from_ret, with_context};
use crate::setup::{Builder, Features, Params, RingMemory, SetupFlags};
use crate::sqe::Sqe;
use crate::squeue::SubmissionQueue;
use crate::sys;
use crate::syscall;

/// Whether every load is an acquire and every store a release in hardware
/// (x86's total store order): then the orderings only SQPOLL rings need cost
/// nothing and are used on every ring, which spares the branch on the flags.
///
/// Elsewhere (arm64, riscv64) each access to memory the kernel shares with us
/// carries the ordering it needs, as liburing's `io_uring_smp_*` do:
/// the SQ tail is a release store and the SQ head an acquire load when an SQPOLL
/// thread reads and writes them concurrently (relaxed otherwise: the kernel
/// touches them only inside `io_uring_enter` on this thread, after our SQE
/// stores in program order); a full fence separates that tail store from the
/// `NEED_WAKEUP` load; the CQ tail is always an acquire load (CQEs are read after
/// it) and the CQ head a release store (after they were copied out); provided
/// buffer ring entries are published by a release store of their tail.
pub(crate) const TSO: bool = cfg!(any(target_arch = "x86", target_arch = "x86_64"));

/// `_NSIG / 8` on Linux: the sigset size the kernel expects.
const SIGSET_SIZE: u32 = 8;

/// One io_uring instance: a submission queue, a completion queue, and the kernel
/// object behind them.
///
/// Made by [`Ring::new`] or [`Ring::builder`]. Entries go in through
/// [`submission`](Ring::submission) (an `unsafe` push: the kernel will use the
/// memory an entry names), reach the kernel with [`submit`](Ring::submit) and its
/// waiting variants, and come back as [`Cqe`]s from
/// [`completion`](Ring::completion).
///
/// ```
/// use uring::{Ring, sqe::Sqe, sys};
///
/// let mut ring = Ring::new(8)?;
/// // An entry built with liburing's own prep helper (the `op` module builds typed ones).
/// let mut raw: sys::io_uring_sqe = unsafe { std::mem::zeroed() };
/// unsafe { sys::io_uring_prep_nop(&mut raw) };
/// raw.user_data = 7;
/// let nop = Sqe::from_raw(raw);
/// // SAFETY: a NOP names no memory and no file.
/// unsafe { ring.submission().push(&nop) }.expect("queue has room");
/// assert_eq!(ring.submit_and_wait(1)?, 1);
/// let cqe = ring.completion().next().expect("one completion");
/// assert_eq!((cqe.user_data(), cqe.result()?), (7, 0));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Threads
///
/// `Ring` is [`Send`]: it owns its `struct io_uring` and the mappings behind it,
/// none of which is tied to a thread. (A ring set up with `SINGLE_ISSUER` or
/// `DEFER_TASKRUN` belongs to the task that first submits; the kernel refuses
/// others with `EEXIST`. A registered ring fd (`REGISTERED_FD_ONLY`, or
/// [`register_ring_fd`](Ring::register_ring_fd)) is an index into the
/// registering thread's table: on other threads the ring enters and registers
/// through its plain fd instead, or fails with `EBADF` if it has none. Such a
/// ring dropped on another thread leaves its registration in place; the kernel
/// releases it when the registering thread exits.)
///
/// `Ring` is not [`Sync`]: the submission side keeps its own, unsynchronised tail
/// (`sq.sqe_tail`) and the completion side its head, exactly as liburing does, so
/// two threads must never drive one ring at once. Every driving method takes
/// `&mut self`; the `&self` ones only read.
///
/// # Dropping
///
/// `Drop` calls liburing's `io_uring_queue_exit`: it unmaps the rings and closes
/// the ring's fd. The kernel then cancels what is still in flight, asynchronously:
/// memory named by entries that have not completed may still be read or written
/// after `drop` returns. Reap every completion first (the safety contract of
/// [`SubmissionQueue::push`] says as much).
#[doc(alias = "io_uring_queue_exit")]
pub struct Ring {
    pub(crate) raw: Box<sys::io_uring>,
    pub(crate) params: Params,
    /// What every `io_uring_enter` names: the ring's fd, or its registered index
    /// while [`enter_flags`](Self::enter_flags) has `IORING_ENTER_REGISTERED_RING`.
    ///
    /// This and the next fields are this crate's own record of how the ring
    /// enters, updated by the methods that change it. They are never read from
    /// liburing's `int_flags`: that field's bits are private to liburing and
    /// differ between its releases (2.4–2.7 and 2.8 on disagree on all of them).
    pub(crate) enter_fd: i32,
    /// The flags every enter passes: `IORING_ENTER_REGISTERED_RING` while the
    /// ring enters through its registered index, `IORING_ENTER_NO_IOWAIT` after
    /// [`set_iowait(false)`](Ring::set_iowait).
    pub(crate) enter_flags: u32,
    /// `IORING_ENTER_GETEVENTS` when every submit must also reap (an IOPOLL ring
    /// without SQPOLL: nothing else polls its completions), else 0.
    submit_getevents: u32,
    /// Whether a submit takes the general path (SQPOLL, SQ_REWIND, a
    /// registered fd, or completions that always need the kernel): decided
    /// from the fields above whenever they change ([`set_enter`](Ring::set_enter)),
    /// so that a submit tests one flag.
    general_submit: bool,
    /// The thread (see `thread_token`) whose registered-ring table holds this
    /// ring's registered fd, when `enter_flags` has `IORING_ENTER_REGISTERED_RING`.
    pub(crate) reg_owner: u64,
    /// `NO_MMAP` memory the rings live in: dropped (unmapped) after `raw` is torn down.
    _memory: Option<RingMemory>,
    /// Registered wait region (`IORING_MEM_REGION_REG_WAIT_ARG`): dropped
    /// (unmapped) after the ring is torn down.
    pub(crate) wait_region: Option<(RingMemory, u32)>,
    _not_sync: PhantomData<Cell<()>>,
}

// SAFETY: the io_uring struct and the mappings it points to are owned by this
// Ring alone (the pointers are into memory no one else frees) and are not tied to
// the creating thread; the kernel side is a file. Thread-bound kernel state
// (registered ring index) is checked on every enter (see `enter_fd`).
unsafe impl Send for Ring {}

thread_local! {
    /// This thread's [`thread_token`], 0 until first asked for.
    static THREAD_TOKEN: Cell<u64> = const { Cell::new(0) };
}

/// A number unique to the current thread for the life of the process (never
/// reused, unlike a thread id or a TLS address, so a ring registered by a thread
/// that has exited is never taken for this thread's).
///
/// Checked on every enter of a ring with a registered fd, so the common case is a
/// plain read of a const-initialised thread-local (no lazy-init state, no
/// destructor); a thread gets its token on its first call.
#[inline]
pub(crate) fn thread_token() -> u64 {
    let t = THREAD_TOKEN.get();
    if t != 0 { t } else { new_thread_token() }
}

#[cold]
#[inline(never)]
fn new_thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let t = NEXT.fetch_add(1, Ordering::Relaxed);
    THREAD_TOKEN.set(t);
    t
}

/// `p`, a pointer into a ring mapping, as an atomic.
///
/// # Safety
///
/// `p` must be valid, 4-byte aligned and live for `'a`, and only accessed
/// atomically (by us and the kernel) meanwhile.
#[inline(always)]
pub(crate) unsafe fn atomic<'a>(p: *mut u32) -> &'a AtomicU32 {
    // SAFETY: forwarded from this function's contract.
    unsafe { AtomicU32::from_ptr(p) }
}

impl Ring {
    /// A ring with `entries` submission queue entries (rounded up to a power of
    /// two, at most 32768) and no setup flags.
    ///
    /// # Errors
    ///
    /// `EINVAL` for 0 or more than 32768 entries (the message says which), or the
    /// kernel's errno (`ENOMEM`, `EMFILE`, …).
    ///
    /// ```
    /// let ring = uring::Ring::new(32)?;
    /// assert_eq!(ring.params().sq_entries(), 32);
    /// assert!(uring::Ring::new(0).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_queue_init")]
    pub fn new(entries: u32) -> io::Result<Ring> {
        Builder::new().build(entries)
    }

    /// A [`Builder`] to choose setup flags and parameters.
    ///
    /// ```
    /// let ring = uring::Ring::builder().clamp().build(1 << 20)?;
    /// assert_eq!(ring.params().sq_entries(), 32768);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder<'static> {
        Builder::new()
    }

    /// Wraps a ring liburing has just set up.
    ///
    /// # Safety
    ///
    /// `raw` must have been initialised by a successful `io_uring_queue_init*`, not
    /// yet exited, owned by no one else; `memory`, if any, must be the `NO_MMAP`
    /// memory it lives in.
    pub(crate) unsafe fn from_initialized(
        raw: Box<sys::io_uring>,
        params: Params,
        memory: Option<RingMemory>,
    ) -> Ring {
        // Right after setup a ring is registered exactly when it has no plain fd
        // (REGISTERED_FD_ONLY): liburing then keeps the index in enter_ring_fd.
        let enter_flags = if raw.ring_fd < 0 {
            sys::IORING_ENTER_REGISTERED_RING
        } else {
            0
        };
        let polled = raw.flags & (sys::IORING_SETUP_IOPOLL | sys::IORING_SETUP_SQPOLL);
        let submit_getevents = if polled == sys::IORING_SETUP_IOPOLL {
            sys::IORING_ENTER_GETEVENTS
        } else {
            0
        };
        let mut ring = Ring {
            enter_fd: raw.enter_ring_fd,
            enter_flags,
            submit_getevents,
            general_submit: true,
            raw,
            params,
            reg_owner: thread_token(),
            _memory: memory,
            wait_region: None,
            _not_sync: PhantomData,
        };
        ring.set_enter(ring.enter_fd, ring.enter_flags);
        ring
    }

    /// Records how the ring enters from now on: the fd (or registered index)
    /// and the flags every enter passes; and so whether a submit takes the
    /// general path. Every change of either goes through here.
    #[inline]
    pub(crate) fn set_enter(&mut self, fd: i32, flags: u32) {
        self.enter_fd = fd;
        self.enter_flags = flags;
        self.general_submit =
            self.raw.flags & (sys::IORING_SETUP_SQPOLL | sys::IORING_SETUP_SQ_REWIND) != 0
                || (flags & sys::IORING_ENTER_REGISTERED_RING) | self.submit_getevents != 0;
    }

    /// The liburing ring, for calling liburing functions that only read it.
    ///
    /// The pointer is valid (and its address stable) as long as the ring is.
    #[inline]
    pub fn as_raw(&self) -> *const sys::io_uring {
        &*self.raw
    }

    /// The liburing ring, for calling any liburing function on it.
    ///
    /// The pointer is valid (and its address stable) as long as the ring is.
    ///
    /// # Safety
    ///
    /// What is done through the pointer must leave the ring in a state liburing's
    /// own functions would: SQEs obtained with `io_uring_get_sqe` must be filled
    /// (and name memory that outlives their operations) before the next submit;
    /// CQEs must be marked seen only once; the ring must not be exited, re-set up,
    /// or used from two threads at once. Views from [`submission`](Self::submission)
    /// and [`completion`](Self::completion) and liburing calls may be interleaved
    /// freely: both keep their state in the same `struct io_uring`. Once the ring
    /// fd is registered, liburing's submit, wait and register functions use the
    /// registered index, which is only valid on the registering thread; call them
    /// there (this crate's own methods check and fall back).
    ///
    /// The ring's fd must be registered, unregistered or closed, and iowait
    /// accounting switched, only with this type's methods
    /// ([`register_ring_fd`](Self::register_ring_fd),
    /// [`unregister_ring_fd`](Self::unregister_ring_fd),
    /// [`close_ring_fd`](Self::close_ring_fd), [`set_iowait`](Self::set_iowait)),
    /// never with liburing's functions of the same names: the `Ring` keeps its
    /// own record of how it enters (liburing's is private to each liburing
    /// release) and would enter with a stale fd.
    #[inline]
    pub unsafe fn as_raw_mut(&mut self) -> *mut sys::io_uring {
        &mut *self.raw
    }

    /// What the kernel filled in at setup.
    #[inline]
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The setup flags in effect (including those liburing added, such as
    /// `NO_SQARRAY`).
    #[inline]
    pub fn flags(&self) -> SetupFlags {
        SetupFlags::from_bits_retain(self.raw.flags)
    }

    /// What this kernel's io_uring supports.
    #[inline]
    pub fn features(&self) -> Features {
        Features::from_bits_retain(self.raw.features)
    }

    /// The ring's file descriptor, or `None` for a ring that has none
    /// (`REGISTERED_FD_ONLY`, or whose fd liburing closed after registering it).
    ///
    /// ```
    /// let ring = uring::Ring::new(4)?;
    /// assert!(ring.fd().is_some());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        let fd = self.raw.ring_fd;
        if fd < 0 {
            None
        } else {
            // SAFETY: ring_fd is the open io_uring fd this Ring owns; it is closed
            // only in Drop, after every borrow of self has ended.
            Some(unsafe { BorrowedFd::borrow_raw(fd) })
        }
    }

    /// A view to push entries onto the submission queue.
    #[inline]
    pub fn submission(&mut self) -> SubmissionQueue<'_> {
        let flags = self.raw.flags;
        SubmissionQueue::new(&mut self.raw.sq, flags)
    }

    /// A view of the submission queue going on where an earlier one stopped,
    /// with the fixed fields `parts` kept from a view of it (see
    /// [`SubmissionQueue::resume`]).
    ///
    /// # Safety
    ///
    /// As for `SubmissionQueue::resume`: `limit` is the `limit()` of a view of
    /// this ring's queue (or [`sq_tail`](Self::sq_tail)), and since then the
    /// tail has moved only by pushes: no submit of an `SQ_REWIND` ring; and
    /// the ring was not resized since the view `parts` are of was made.
    #[inline(always)]
    pub(crate) unsafe fn submission_resumed(
        &mut self,
        parts: crate::squeue::SqParts,
        limit: u32,
    ) -> SubmissionQueue<'_> {
        // SAFETY: the caller's contract.
        unsafe { SubmissionQueue::resume(&mut self.raw.sq, parts, limit) }
    }

    /// The submission queue's tail as this crate moves it (`sq.sqe_tail`):
    /// a view starting there knows no free slot yet.
    #[inline(always)]
    pub(crate) fn sq_tail(&self) -> u32 {
        self.raw.sq.sqe_tail
    }

    /// A view (and iterator) of the completions the kernel has posted.
    #[inline]
    pub fn completion(&mut self) -> CompletionQueue<'_> {
        let flags = self.raw.flags;
        CompletionQueue::new(&mut self.raw.cq, flags)
    }

    /// A cursor at the completion queue's head, for the owned layer's iterators
    /// (which read one entry at a time, using the rest of the ring in between);
    /// `None` for a ring whose entries are not all 16 bytes.
    #[inline(always)]
    pub(crate) fn cq_cursor(&self) -> Option<crate::cqueue::CqCursor> {
        crate::cqueue::CqCursor::new(&self.raw.cq, self.raw.flags)
    }

    /// The kernel's completion-queue tail (acquire): it moves as completions are
    /// posted.
    #[inline]
    pub(crate) fn cq_tail(&self) -> u32 {
        // SAFETY: ktail points into the ring's mapping, alive as long as the ring.
        unsafe { atomic(self.raw.cq.ktail) }.load(Ordering::Acquire)
    }

    /// The next completion through `cursor`, consumed (see
    /// [`CqCursor::next`](crate::cqueue::CqCursor::next)).
    ///
    /// # Safety
    ///
    /// `cursor` was made by this ring's [`cq_cursor`](Self::cq_cursor), and
    /// since then nothing else has consumed from the queue, nor has the ring
    /// been resized.
    #[inline(always)]
    pub(crate) unsafe fn cq_next(&self, cursor: &mut crate::cqueue::CqCursor) -> Option<Cqe> {
        // SAFETY: the caller's contract; `raw.cq` is the queue the cursor was
        // made for (not resized since), mapped as long as the ring lives.
        unsafe { cursor.next(&self.raw.cq) }
    }

    /// The next completion through `cursor`, read but not handed back to the
    /// kernel until [`cq_publish`](Self::cq_publish) (see
    /// [`CqCursor::next_unpublished`](crate::cqueue::CqCursor::next_unpublished)).
    ///
    /// # Safety
    ///
    /// As for [`cq_next`](Self::cq_next).
    #[inline(always)]
    pub(crate) unsafe fn cq_next_unpublished(
        &self,
        cursor: &mut crate::cqueue::CqCursor,
    ) -> Option<Cqe> {
        // SAFETY: the caller's contract, as in `cq_next`.
        unsafe { cursor.next_unpublished(&self.raw.cq) }
    }

    /// Hands back to the kernel the completions `cursor` has read.
    ///
    /// # Safety
    ///
    /// As for [`cq_next`](Self::cq_next).
    #[inline(always)]
    pub(crate) unsafe fn cq_publish(&self, cursor: &mut crate::cqueue::CqCursor) {
        // SAFETY: the caller's contract, as in `cq_next`.
        unsafe { cursor.publish(&self.raw.cq) }
    }

    /// The next completion through `cursor`, left in the queue (see
    /// [`CqCursor::peek`](crate::cqueue::CqCursor::peek)).
    ///
    /// # Safety
    ///
    /// As for [`cq_next`](Self::cq_next).
    #[inline(always)]
    pub(crate) unsafe fn cq_peek(&self, cursor: &mut crate::cqueue::CqCursor) -> Option<Cqe> {
        // SAFETY: the caller's contract, as in `cq_next`.
        unsafe { cursor.peek(&self.raw.cq) }
    }

    /// Consumes the completion [`cq_peek`](Self::cq_peek) just returned.
    ///
    /// # Safety
    ///
    /// As for [`cq_next`](Self::cq_next), and `cq_peek` returned an entry
    /// through `cursor` since it last moved.
    #[inline(always)]
    pub(crate) unsafe fn cq_consume(&self, cursor: &mut crate::cqueue::CqCursor) {
        // SAFETY: the caller's contract.
        unsafe { cursor.consume(&self.raw.cq) }
    }

    /// Both views at once, to push new entries while reading completions (for
    /// example re-arming a request as its completion is handled). They touch
    /// disjoint parts of the ring; submit once both are dropped.
    ///
    /// ```
    /// use uring::{Ring, sqe::Sqe, sys};
    /// # fn nop(ud: u64) -> Sqe {
    /// #     let mut raw: sys::io_uring_sqe = unsafe { std::mem::zeroed() };
    /// #     unsafe { sys::io_uring_prep_nop(&mut raw) };
    /// #     raw.user_data = ud;
    /// #     Sqe::from_raw(raw)
    /// # }
    /// let mut ring = Ring::new(4)?;
    /// // SAFETY: NOPs name no memory.
    /// unsafe { ring.push(&nop(1)) }.unwrap();
    /// ring.submit_and_wait(1)?;
    /// let (mut sq, cq) = ring.split();
    /// for cqe in cq {
    ///     // Each completion queues a follow-up.
    ///     // SAFETY: as above.
    ///     unsafe { sq.push(&nop(cqe.user_data() + 1)) }.unwrap();
    /// }
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.completion().next().map(|c| c.user_data()), Some(2));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn split(&mut self) -> (SubmissionQueue<'_>, CompletionQueue<'_>) {
        let flags = self.raw.flags;
        let ring = &mut *self.raw;
        (
            SubmissionQueue::new(&mut ring.sq, flags),
            CompletionQueue::new(&mut ring.cq, flags),
        )
    }

    /// Pushes one entry: `self.submission().push(sqe)`.
    ///
    /// # Safety
    ///
    /// As for [`SubmissionQueue::push`].
    #[inline]
    pub unsafe fn push(&mut self, sqe: &Sqe) -> Result<(), crate::PushError> {
        // SAFETY: forwarded from this function's contract.
        unsafe { self.submission().push(sqe) }
    }

    /// The SQ ring's flags word (`IORING_SQ_NEED_WAKEUP`, `IORING_SQ_CQ_OVERFLOW`,
    /// `IORING_SQ_TASKRUN`), as the kernel last wrote it.
    #[inline]
    pub fn sq_flags(&self) -> u32 {
        // SAFETY: kflags points into the SQ ring mapping, alive as long as self;
        // the kernel updates it concurrently, so it is read atomically.
        unsafe { atomic(self.raw.sq.kflags) }.load(Ordering::Relaxed)
    }

    /// Whether completions are waiting in the kernel because the CQ ring was full
    /// (`IORING_SQ_CQ_OVERFLOW`). The next [`submit`](Self::submit) (or
    /// [`get_events`](Self::get_events)) moves them into the ring as room allows.
    #[doc(alias = "io_uring_cq_has_overflow")]
    #[inline]
    pub fn cq_has_overflow(&self) -> bool {
        self.sq_flags() & sys::IORING_SQ_CQ_OVERFLOW != 0
    }

    /// Unread completion slots (liburing's `io_uring_cq_ready`).
    #[inline]
    fn cq_ready(&self) -> usize {
        // SAFETY: ktail and khead point into the CQ ring mapping owned by this ring.
        let (tail, head) = unsafe {
            (
                atomic(self.raw.cq.ktail).load(Ordering::Acquire),
                atomic(self.raw.cq.khead).load(Ordering::Relaxed),
            )
        };
        tail.wrapping_sub(head) as usize
    }

    /// Publishes pushed entries to the kernel (liburing's `__io_uring_flush_sq`):
    /// returns how many are waiting for it.
    #[inline(always)]
    fn flush_sq(&mut self) -> u32 {
        let ring = &mut *self.raw;
        let tail = ring.sq.sqe_tail;
        if ring.flags & sys::IORING_SETUP_SQ_REWIND != 0 {
            // The kernel ignores head and tail and takes `to_submit` entries from
            // slot 0; the next batch starts there again.
            ring.sq.sqe_tail = 0;
            return tail;
        }
        if ring.sq.sqe_head != tail {
            ring.sq.sqe_head = tail;
            // SAFETY: ktail points into the SQ ring mapping owned by this ring.
            let ktail = unsafe { atomic(ring.sq.ktail) };
            if !TSO && ring.flags & sys::IORING_SETUP_SQPOLL == 0 {
                // The kernel reads the tail only inside io_uring_enter, which
                // orders it after our SQE stores.
                ktail.store(tail, Ordering::Relaxed);
            } else {
                // The SQPOLL thread may read it any time: publish the SQEs first.
                ktail.store(tail, Ordering::Release);
            }
        }
        // SAFETY: khead points into the SQ ring mapping owned by this ring.
        let head = unsafe { atomic(ring.sq.khead) }.load(Ordering::Relaxed);
        tail.wrapping_sub(head)
    }

    /// Publishes pushed entries to the kernel's view of the queue without
    /// entering it.
    #[cfg(liburing_2_9)]
    pub(crate) fn publish_sq(&mut self) {
        self.flush_sq();
    }

    /// For SQPOLL: whether the poll thread sleeps and must be woken (adding
    /// `IORING_ENTER_SQ_WAKEUP` to `flags`).
    #[inline(always)]
    fn sqpoll_wakeup(&self, flags: &mut u32) -> bool {
        // Make the tail store visible before reading the flags the thread sets
        // when it goes to sleep (pairs with the kernel's barrier).
        fence(Ordering::SeqCst);
        if self.sq_flags() & sys::IORING_SQ_NEED_WAKEUP != 0 {
            *flags |= sys::IORING_ENTER_SQ_WAKEUP;
            true
        } else {
            false
        }
    }

    /// The fd (or registered index) and flags to enter with.
    #[inline(always)]
    fn enter_fd(&self) -> io::Result<(i32, u32)> {
        let flags = self.enter_flags;
        if flags & sys::IORING_ENTER_REGISTERED_RING != 0 && self.reg_owner != thread_token() {
            return self.enter_fd_foreign_thread(flags);
        }
        Ok((self.enter_fd, flags))
    }

    /// Whether the ring's fd is registered by a thread other than this one (so
    /// its registered index means nothing here).
    #[inline]
    pub(crate) fn registered_elsewhere(&self) -> bool {
        self.enter_flags & sys::IORING_ENTER_REGISTERED_RING != 0
            && self.reg_owner != thread_token()
    }

    /// The registered ring index is only meaningful on the thread that registered
    /// it: elsewhere use the plain fd, or fail.
    #[cold]
    fn enter_fd_foreign_thread(&self, flags: u32) -> io::Result<(i32, u32)> {
        let ring = &*self.raw;
        if ring.ring_fd >= 0 {
            Ok((ring.ring_fd, flags & !sys::IORING_ENTER_REGISTERED_RING))
        } else {
            Err(with_context(
                libc::EBADF,
                "this ring has only a registered fd, which belongs to the thread that \
                 registered it; it cannot be entered from another thread",
            ))
        }
    }

    /// liburing's `__io_uring_submit`: enter only when the kernel has something
    /// to do.
    ///
    /// What is fixed at setup is tested as one word each: the setup flags that
    /// change how entries are published (`SQPOLL`, `SQ_REWIND`) and the state bits
    /// that change how the kernel is entered (a registered fd, a ring whose
    /// completions always need the kernel) send the call to
    /// [`submit_general`](Self::submit_general); a plain ring's submit is a tail
    /// store, one load of the kernel's head, one of the SQ flags when not waiting,
    /// and the `syscall`.
    #[inline(always)]
    fn submit_inner(&mut self, want: u32, getevents: bool) -> io::Result<usize> {
        // The crate's own record of how this ring enters (never liburing's private
        // int_flags): a registered fd or always-reap ring takes the general path.
        if self.general_submit {
            return self.submit_general(want, getevents);
        }
        let fd = self.enter_fd;
        let mut flags = self.enter_flags;
        let ring = &mut *self.raw;
        // Everything is read from the ring before the tail is published: the
        // compiler cannot tell that the store into the mapping leaves it alone.
        let tail = ring.sq.sqe_tail;
        let (ktail, khead, kflags) = (ring.sq.ktail, ring.sq.khead, ring.sq.kflags);
        // Published unconditionally: without an SQPOLL thread nothing reads the
        // tail until io_uring_enter, so storing an unchanged one costs a store
        // where a compare would cost two instructions.
        ring.sq.sqe_head = tail;
        // SAFETY: ktail points into the SQ ring mapping owned by this ring. No
        // SQPOLL thread: the kernel reads the tail only inside io_uring_enter,
        // which orders it after our SQE stores.
        unsafe { atomic(ktail) }.store(tail, Ordering::Relaxed);
        // SAFETY: khead points into the SQ ring mapping owned by this ring.
        let submitted = tail.wrapping_sub(unsafe { atomic(khead) }.load(Ordering::Relaxed));
        if getevents
            || want != 0
            // SAFETY: kflags points into the SQ ring mapping owned by this ring;
            // the kernel updates it concurrently, so it is read atomically.
            || unsafe { atomic(kflags) }.load(Ordering::Relaxed)
                & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN)
                != 0
        {
            flags |= sys::IORING_ENTER_GETEVENTS;
        } else if submitted == 0 {
            return Ok(0);
        }
        // SAFETY: no argument pointer; the entries the kernel consumes were pushed
        // with `unsafe` pushes whose callers vouched for the memory they name.
        let n =
            unsafe { syscall::io_uring_enter(fd, submitted, want, flags, core::ptr::null(), 0) }?;
        Ok(n as usize)
    }

    /// [`submit_inner`](Self::submit_inner) for rings with SQPOLL, SQ_REWIND, a
    /// registered fd, or completions that always need the kernel.
    #[inline(never)]
    fn submit_general(&mut self, want: u32, getevents: bool) -> io::Result<usize> {
        let submitted = self.flush_sq();
        // Whether the completion side needs the kernel: always for IOPOLL
        // (`submit_getevents`); when asked to wait or get events; when
        // completions are stuck (overflow) or pending (task work).
        let mut flags = self.enter_flags | self.submit_getevents;
        if getevents
            || want != 0
            || self.sq_flags() & (sys::IORING_SQ_CQ_OVERFLOW | sys::IORING_SQ_TASKRUN) != 0
        {
            flags |= sys::IORING_ENTER_GETEVENTS;
        }
        // Whether the submission side does: entries to submit, unless an awake
        // SQPOLL thread takes them by itself.
        let sq_needs_enter = submitted != 0
            && (self.raw.flags & sys::IORING_SETUP_SQPOLL == 0 || self.sqpoll_wakeup(&mut flags));
        if !sq_needs_enter && flags & sys::IORING_ENTER_GETEVENTS == 0 {
            return Ok(submitted as usize);
        }
        let mut fd = self.enter_fd;
        if flags & sys::IORING_ENTER_REGISTERED_RING != 0 && self.reg_owner != thread_token() {
            (fd, flags) = self.enter_fd_foreign_thread(flags)?;
        }
        // SAFETY: no argument pointer; the entries the kernel consumes were pushed
        // with `unsafe` pushes whose callers vouched for the memory they name.
        let n =
            unsafe { syscall::io_uring_enter(fd, submitted, want, flags, core::ptr::null(), 0) }?;
        Ok(n as usize)
    }

    /// Submits every pushed entry; returns how many the kernel took.
    ///
    /// Enters the kernel (with an inlined `io_uring_enter`) only when needed,
    /// deciding exactly as liburing's `io_uring_submit` does: not for an empty
    /// queue, not when a SQPOLL thread is awake; with `IORING_ENTER_GETEVENTS`
    /// when completions overflowed or task work is pending; with
    /// `IORING_ENTER_SQ_WAKEUP` when the SQPOLL thread sleeps; through the
    /// registered ring fd when there is one.
    ///
    /// # Errors
    ///
    /// The kernel's errno: `EBUSY`/`EAGAIN` when it cannot take more now, `EBADFD`
    /// for a disabled ring, `EEXIST` from the wrong task of a single-issuer ring, ….
    /// Entries not taken stay queued for the next submit.
    #[doc(alias = "io_uring_submit")]
    #[inline]
    pub fn submit(&mut self) -> io::Result<usize> {
        self.submit_inner(0, false)
    }

    /// Submits, then waits until at least `want` completions are in the
    /// completion queue; returns how many entries were submitted.
    ///
    /// `want` above the CQ size waits for a full queue.
    #[doc(alias = "io_uring_submit_and_wait")]
    #[inline]
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.submit_inner(clamp_u32(want), false)
    }

    /// Submits and enters the kernel even with nothing to submit or wait for, so
    /// that pending completion work runs and overflowed completions are flushed
    /// into the ring (`io_uring_submit_and_get_events`).
    #[doc(alias = "io_uring_submit_and_get_events")]
    #[inline]
    pub fn submit_and_get_events(&mut self) -> io::Result<usize> {
        self.submit_inner(0, true)
    }

    /// Enters the kernel only to run pending completion work and flush
    /// overflowed completions (`io_uring_get_events`); submits nothing.
    #[doc(alias = "io_uring_get_events")]
    pub fn get_events(&mut self) -> io::Result<()> {
        let (fd, flags) = self.enter_fd()?;
        // SAFETY: nothing is submitted and no argument is passed.
        unsafe {
            syscall::io_uring_enter(
                fd,
                0,
                0,
                flags | sys::IORING_ENTER_GETEVENTS,
                core::ptr::null(),
                0,
            )
        }?;
        Ok(())
    }

    /// Waits, without submitting, until at least `want` completions are in the
    /// completion queue. Returns at once if they already are.
    #[doc(alias = "io_uring_wait_cqe_nr")]
    pub fn wait(&mut self, want: usize) -> io::Result<()> {
        let want = clamp_u32(want);
        if self.cq_ready() >= want as usize {
            return Ok(());
        }
        let (fd, flags) = self.enter_fd()?;
        // SAFETY: nothing is submitted and no argument is passed.
        unsafe {
            syscall::io_uring_enter(
                fd,
                0,
                want,
                flags | sys::IORING_ENTER_GETEVENTS,
                core::ptr::null(),
                0,
            )
        }?;
        Ok(())
    }

    /// Submits, then waits until at least `want` completions are in the completion
    /// queue or `timeout` has passed; returns how many entries were submitted.
    ///
    /// Uses `IORING_ENTER_EXT_ARG` (Linux 5.11, [`Features::EXT_ARG`]), so no timeout
    /// entry is queued and nothing extra appears in the completion queue.
    ///
    /// # Errors
    ///
    /// * `ETIME` when the time ran out first — the entries were still submitted. (When entries were
    ///   submitted the kernel does not say why the wait ended, so a signal
    ///   interrupting it is reported as `ETIME` too; otherwise as `EINTR`.)
    /// * `EOPNOTSUPP` (kind `Unsupported`) on kernels without `EXT_ARG`.
    /// * The kernel's errno otherwise, as for [`submit`](Self::submit).
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut ring = uring::Ring::new(4)?;
    /// let err = ring.submit_and_wait_timeout(1, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_submit_and_wait_timeout")]
    #[doc(alias = "io_uring_wait_cqe_timeout")]
    #[doc(alias = "io_uring_wait_cqes")]
    pub fn submit_and_wait_timeout(&mut self, want: usize, timeout: Duration) -> io::Result<usize> {
        self.submit_and_wait_ext(clamp_u32(want), timeout, 0)
    }

    /// [`submit_and_wait_timeout`](Self::submit_and_wait_timeout) with a minimum
    /// batch wait: wait up to `min_wait` for `want` completions; once it has
    /// passed, return as soon as any completion arrives (or at `timeout`).
    /// Linux 6.12 ([`Features::MIN_TIMEOUT`]); `EOPNOTSUPP` before. `min_wait` is
    /// in whole microseconds (at most `u32::MAX`).
    #[doc(alias = "io_uring_submit_and_wait_min_timeout")]
    #[doc(alias = "io_uring_wait_cqes_min_timeout")]
    pub fn submit_and_wait_min_timeout(
        &mut self,
        want: usize,
        timeout: Duration,
        min_wait: Duration,
    ) -> io::Result<usize> {
        if !self.features().contains(Features::MIN_TIMEOUT) {
            return Err(with_context(
                libc::EOPNOTSUPP,
                "a minimum wait timeout needs IORING_FEAT_MIN_TIMEOUT (Linux 6.12)",
            ));
        }
        let usec = u32::try_from(min_wait.as_micros()).unwrap_or(u32::MAX);
        self.submit_and_wait_ext(clamp_u32(want), timeout, usec)
    }

    fn submit_and_wait_ext(
        &mut self,
        want: u32,
        timeout: Duration,
        min_wait_usec: u32,
    ) -> io::Result<usize> {
        if !self.features().contains(Features::EXT_ARG) {
            return Err(with_context(
                libc::EOPNOTSUPP,
                "waiting with a timeout needs IORING_FEAT_EXT_ARG (Linux 5.11)",
            ));
        }
        let submitted = self.flush_sq();
        let ts = sys::__kernel_timespec {
            tv_sec: i64::try_from(timeout.as_secs()).unwrap_or(i64::MAX),
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        let arg = sys::io_uring_getevents_arg {
            sigmask: 0,
            sigmask_sz: SIGSET_SIZE,
            min_wait_usec,
            ts: &ts as *const sys::__kernel_timespec as u64,
        };
        let mut extra = sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG;
        if submitted != 0 && self.raw.flags & sys::IORING_SETUP_SQPOLL != 0 {
            self.sqpoll_wakeup(&mut extra);
        }
        let (fd, flags) = self.enter_fd()?;
        // SAFETY: `arg` is a valid io_uring_getevents_arg (flag EXT_ARG) pointing
        // at a valid timespec, both alive across the call; the entries the kernel
        // consumes were pushed by callers who vouched for their memory.
        let n = unsafe {
            syscall::io_uring_enter(
                fd,
                submitted,
                want,
                flags | extra,
                (&arg as *const sys::io_uring_getevents_arg).cast(),
                core::mem::size_of::<sys::io_uring_getevents_arg>(),
            )
        }?;
        // With entries submitted the kernel reports the count, not how the wait
        // ended; a short submit skips the wait altogether.
        if n >= submitted {
            let need = want.min(self.raw.cq.ring_entries) as usize;
            if self.cq_ready() < need {
                return Err(io::Error::from_raw_os_error(libc::ETIME));
            }
        }
        Ok(n as usize)
    }

    /// Submits, then waits as wait-region entry `index` says (its timeout and
    /// minimum wait; see [`register_wait_region`](Self::register_wait_region)),
    /// until at least `want` completions are in the completion queue; returns how
    /// many entries were submitted. The kernel reads the wait parameters from the
    /// registered region instead of copying them in (`IORING_ENTER_EXT_ARG_REG`,
    /// Linux 6.13).
    ///
    /// # Errors
    ///
    /// `EINVAL` when no region is registered or `index` is outside it; `ETIME` as
    /// for [`submit_and_wait_timeout`](Self::submit_and_wait_timeout) when the
    /// entry's timeout passes first; the kernel's errno otherwise.
    #[doc(alias = "io_uring_submit_and_wait_reg")]
    pub fn submit_and_wait_reg(&mut self, want: usize, index: u32) -> io::Result<usize> {
        let slots = self.wait_region_slots();
        if index >= slots {
            return Err(with_context(
                libc::EINVAL,
                format!("wait region entry {index} does not exist (the region has {slots})"),
            ));
        }
        let want = clamp_u32(want);
        let submitted = self.flush_sq();
        let mut extra =
            sys::IORING_ENTER_GETEVENTS | sys::IORING_ENTER_EXT_ARG | sys::IORING_ENTER_EXT_ARG_REG;
        if submitted != 0 && self.raw.flags & sys::IORING_SETUP_SQPOLL != 0 {
            self.sqpoll_wakeup(&mut extra);
        }
        let (fd, flags) = self.enter_fd()?;
        let offset = index as usize * core::mem::size_of::<sys::io_uring_reg_wait>();
        // SAFETY: with EXT_ARG_REG the argument is an offset into the registered
        // region, which this ring owns and keeps mapped; index was checked to be
        // inside it. The submitted entries were vouched for by their pushers.
        let n = unsafe {
            syscall::io_uring_enter(
                fd,
                submitted,
                want,
                flags | extra,
                offset as *const core::ffi::c_void,
                core::mem::size_of::<sys::io_uring_reg_wait>(),
            )
        }?;
        if n >= submitted {
            let need = want.min(self.raw.cq.ring_entries) as usize;
            if self.cq_ready() < need {
                return Err(io::Error::from_raw_os_error(libc::ETIME));
            }
        }
        Ok(n as usize)
    }

    /// Entries in the registered wait region (0 when there is none).
    pub(crate) fn wait_region_slots(&self) -> u32 {
        self.wait_region.as_ref().map_or(0, |(_, entries)| *entries)
    }

    /// For an SQPOLL ring whose submission queue is full: waits until the poll
    /// thread has consumed entries and there is room again
    /// (`IORING_ENTER_SQ_WAIT`, liburing's `io_uring_sqring_wait`). Returns at once
    /// for other rings or when there is room.
    #[doc(alias = "io_uring_sqring_wait")]
    pub fn sqring_wait(&mut self) -> io::Result<()> {
        if self.raw.flags & sys::IORING_SETUP_SQPOLL == 0 || !self.submission().is_full() {
            return Ok(());
        }
        let (fd, flags) = self.enter_fd()?;
        // SAFETY: nothing is submitted and no argument is passed.
        unsafe {
            syscall::io_uring_enter(
                fd,
                0,
                0,
                flags | sys::IORING_ENTER_SQ_WAIT,
                core::ptr::null(),
                0,
            )
        }?;
        Ok(())
    }

    /// Keeps the ring's mappings out of child processes (`madvise(MADV_DONTFORK)`
    /// on the SQ, CQ and SQE memory; liburing's `io_uring_ring_dontfork`). A child
    /// made by `fork` then cannot write into this ring's queues by accident; it
    /// must not use the `Ring` it inherited (any access faults).
    #[doc(alias = "io_uring_ring_dontfork")]
    pub fn dontfork(&mut self) -> io::Result<()> {
        // SAFETY: the ring is live; liburing only advises on its own mappings.
        from_ret(unsafe { sys::io_uring_ring_dontfork(&mut *self.raw) })?;
        Ok(())
    }

    /// Enables a ring set up with `R_DISABLED` (`io_uring_enable_rings`).
    ///
    /// # Errors
    ///
    /// `EBADFD` if the ring is not disabled.
    #[doc(alias = "io_uring_enable_rings")]
    pub fn enable_rings(&mut self) -> io::Result<()> {
        let (ret, _) = self.register_call_raw(
            || "enabling the ring".to_string(),
            // SAFETY: r is this ring (or its stand-in); enabling touches no memory of ours.
            |r| unsafe { sys::io_uring_enable_rings(r) },
        )?;
        from_ret(ret)?;
        Ok(())
    }

    /// For the `liburing_*` methods: liburing enters through the registered
    /// index when there is one, which names another ring (or none) on a thread
    /// other than the registering one.
    fn check_liburing_enter(&self, what: &str) -> io::Result<()> {
        if self.registered_elsewhere() {
            return Err(with_context(
                libc::EXDEV,
                format!(
                    "{what}: liburing would enter through the ring's registered fd, \
                     which belongs to another thread (use the Ring's own methods, \
                     which fall back to the plain fd)"
                ),
            ));
        }
        Ok(())
    }

    /// For `liburing_submit*`: liburing publishes the submission queue the way
    /// its release knows. Before 2.14 it does not know `SQ_REWIND` (it would
    /// move the tail the kernel ignores and never rewind).
    fn check_liburing_submit(&self, what: &str) -> io::Result<()> {
        self.check_liburing_enter(what)?;
        #[cfg(not(liburing_2_14))]
        if self.raw.flags & sys::IORING_SETUP_SQ_REWIND != 0 {
            return Err(crate::setup::needs_liburing(
                format!("{what} on an SQ_REWIND ring"),
                14,
            ));
        }
        Ok(())
    }

    /// For `liburing_wait_cqe`/`liburing_peek_cqe`: before 2.13 liburing reads
    /// every completion as 16 bytes, so on a `CQE_MIXED` ring it would take the
    /// second half of a 32-byte one, or a padding entry, for a completion.
    fn check_liburing_reap(&self, what: &str) -> io::Result<()> {
        self.check_liburing_enter(what)?;
        #[cfg(not(liburing_2_13))]
        if self.raw.flags & sys::IORING_SETUP_CQE_MIXED != 0 {
            return Err(crate::setup::needs_liburing(
                format!("{what} on a CQE_MIXED ring"),
                13,
            ));
        }
        Ok(())
    }

    /// Submits through liburing's own `io_uring_submit` (an FFI call), for
    /// comparison with [`submit`](Self::submit): both see the same queue.
    #[doc(alias = "io_uring_submit")]
    pub fn liburing_submit(&mut self) -> io::Result<usize> {
        self.check_liburing_submit("io_uring_submit")?;
        // SAFETY: raw is a live ring; the queued entries were pushed by callers
        // who vouched for the memory they name.
        Ok(from_ret(unsafe { sys::io_uring_submit(&mut *self.raw) })? as usize)
    }

    /// liburing's `io_uring_submit_and_wait`.
    #[doc(alias = "io_uring_submit_and_wait")]
    pub fn liburing_submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.check_liburing_submit("io_uring_submit_and_wait")?;
        // SAFETY: as for liburing_submit.
        Ok(
            from_ret(unsafe { sys::io_uring_submit_and_wait(&mut *self.raw, clamp_u32(want)) })?
                as usize,
        )
    }

    /// Waits for one completion with liburing's `io_uring_wait_cqe`, copies it and
    /// marks it seen (`io_uring_cqe_seen`).
    #[doc(alias = "io_uring_wait_cqe")]
    pub fn liburing_wait_cqe(&mut self) -> io::Result<Cqe> {
        self.check_liburing_reap("io_uring_wait_cqe")?;
        let mut cqe: *mut sys::io_uring_cqe = core::ptr::null_mut();
        // SAFETY: raw is a live ring and cqe a valid out-pointer.
        from_ret(unsafe { sys::io_uring_wait_cqe(&mut *self.raw, &mut cqe) })?;
        // SAFETY: on success liburing returns a CQE inside the CQ ring (non-null),
        // valid until it is marked seen just below.
        Ok(unsafe { self.take_liburing_cqe(cqe) })
    }

    /// A completion if one is ready, with liburing's `io_uring_peek_cqe`;
    /// `Ok(None)` when there is none.
    #[doc(alias = "io_uring_peek_cqe")]
    pub fn liburing_peek_cqe(&mut self) -> io::Result<Option<Cqe>> {
        self.check_liburing_reap("io_uring_peek_cqe")?;
        let mut cqe: *mut sys::io_uring_cqe = core::ptr::null_mut();
        // SAFETY: raw is a live ring and cqe a valid out-pointer.
        let ret = unsafe { sys::io_uring_peek_cqe(&mut *self.raw, &mut cqe) };
        if ret == -libc::EAGAIN || (ret == 0 && cqe.is_null()) {
            return Ok(None);
        }
        from_ret(ret)?;
        // SAFETY: as in liburing_wait_cqe.
        Ok(Some(unsafe { self.take_liburing_cqe(cqe) }))
    }

    /// # Safety
    ///
    /// `cqe` must be the non-null CQE liburing just returned for this ring.
    unsafe fn take_liburing_cqe(&mut self, cqe: *mut sys::io_uring_cqe) -> Cqe {
        // SAFETY: the caller's contract: a CQE in the ring, 32 bytes when the ring
        // has big CQEs or it is flagged F_32.
        let out = unsafe { Cqe::read(cqe, self.raw.flags) };
        // SAFETY: cqe belongs to this ring and has not been marked seen.
        unsafe { sys::io_uring_cqe_seen(&mut *self.raw, cqe) };
        out
    }
}

impl AsRawFd for Ring {
    /// The ring's fd, or `-1` for a ring without one (see [`Ring::fd`]).
    #[inline]
    fn as_raw_fd(&self) -> RawFd {
        self.raw.ring_fd
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.registered_elsewhere() {
            // liburing's io_uring_queue_exit unregisters the index in
            // enter_ring_fd, which on this thread would remove whatever ring
            // *this* thread registered there. An index no thread can have (-1:
            // beyond the kernel's 16 slots, and no descriptor either) makes that
            // call fail (EINVAL, or EBADF where liburing 2.4 passes it as the
            // fd) and touch nothing, whichever private flags this liburing
            // release keeps. The registration stays; the kernel drops it when the
            // registering thread exits.
            self.raw.enter_ring_fd = -1;
        }
        // SAFETY: raw was initialised by liburing and is exited exactly once, here.
        // `memory` (NO_MMAP) is dropped after this body, so the rings outlive it.
        unsafe { sys::io_uring_queue_exit(&mut *self.raw) };
    }
}

impl core::fmt::Debug for Ring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ring")
            .field("fd", &self.raw.ring_fd)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

#[inline(always)]
fn clamp_u32(n: usize) -> u32 {
    if n > u32::MAX as usize {
        u32::MAX
    } else {
        n as u32
    }
}
