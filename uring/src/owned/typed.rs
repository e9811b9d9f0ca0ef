//! [`TypedRing`]: a safe ring whose operations are all of one type (its docs
//! say what it keeps and gives up next to an `OwnedRing`).

mod slots;

use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use self::slots::Slots;
use super::chain::bound_file;
use super::closing::{Pauses, wait_by_reading};
use super::held::HeldFiles;
use super::host::{self, SafeRing};
use super::issuer::{self, ANY_THREAD};
use super::op::imp::{Binding, Token};
use super::ring::{TABLE_STRIPPED, next_ring_id};
use super::slab::NO_FILE;
use super::table::{TAG_INTERNAL, owned_slot, user_data};
use super::{
    CloseReport, DEFAULT_DROP_TIMEOUT, DirectFd, DirectTable, HeldFd, Op, OpKey, SubmitError,
};
use crate::cqueue::{CqCursor, Cqe};
use crate::ring::thread_token;
use crate::setup::{Builder, Features, SetupFlags};
use crate::sqe::SqeFlags;
use crate::{PushError, Ring, error};

/// How many operations `TypedRing`s have leaked in this process (counted in
/// [`leaked_ops`](super::leaked_ops)).
static LEAKED: AtomicUsize = AtomicUsize::new(0);

/// Operations dropped `TypedRing`s leaked so far.
pub(super) fn leaked_count() -> usize {
    LEAKED.load(Ordering::Relaxed)
}

/// A safe ring for operations of one type `T`: each owns its buffers and
/// descriptors, and comes back as `T`'s output with its completion.
///
/// An [`OwnedRing`](super::OwnedRing) runs any mix of operations, so its table
/// keeps each under a type tag and a table of functions, lists finished ones
/// until they are taken, and hands them out as [`Completion`](super::Completion)s
/// to downcast. A loop whose operations are all of one type — reads of a storage
/// engine, sends of a proxy — pays for that generality on every operation. A
/// `TypedRing<T>` keeps its operations by value in slots of `T`: submitting one
/// writes it into a free slot, and a completion takes it out and turns it into
/// its output, typed, straight from the kernel's queue — nothing is boxed,
/// listed, or looked up by type. A loop of two kinds (reads and writes of a
/// storage engine) keeps one type still: [`ops::Either`](super::ops::Either)
/// of the two (nested for more).
///
/// The safety model is the [`OwnedRing`](super::OwnedRing)'s (see the
/// [module docs](super#safety-model)): the ring owns every operation from its
/// submission until its final completion, so no buffer is freed and no
/// descriptor closed while the kernel may still use it; a ring dropped with
/// operations in flight cancels them and waits, and leaks what it cannot wait
/// for. What it leaves out for speed:
///
/// * registrations are made on it as on an `OwnedRing` (it is a
///   [`SafeRing`](super::SafeRing)): a [`DirectTable`] (its descriptors named
///   directly, or held with [`hold_direct`](TypedRing::hold_direct)),
///   [`FixedBufs`](super::FixedBufs), a [`BufPool`](super::BufPool), a
///   [`SendQueue`](super::SendQueue); an operation that uses another ring's
///   registration is refused (`EXDEV`);
/// * no buffered completions: completions stay in the kernel's queue until
///   [`completions`](TypedRing::completions) takes them, so when that queue and
///   the kernel's overflow list are full, a submission fails with `EBUSY` (take
///   completions, then submit again; the operation comes back in the error);
/// * no multishot items, chains, waiting for one operation, or detaching;
/// * rings of 16-byte completions only (not `CQE32` or `CQE_MIXED`);
/// * a `SINGLE_ISSUER` ring is the kernel's to the thread that set it up, and
///   only that thread can submit to it. Dropped (or closed) on another thread
///   with operations in flight, it is handed back to its thread, as an
///   `OwnedRing` is (see [`parked_rings`](super::parked_rings)): that thread
///   finishes it — cancels, waits, frees — when it next makes or drops an
///   `OwnedRing` or a `TypedRing`, or exits.
///
/// Files are named as on an `OwnedRing`: through a [`SharedFd`](super::SharedFd),
/// or — with no reference count per operation — as a descriptor the ring holds
/// ([`hold_fd`](TypedRing::hold_fd)); fastest of all, as a direct descriptor it
/// holds ([`hold_direct`](TypedRing::hold_direct)), for which the kernel takes
/// no reference per operation either.
///
/// ```
/// use uring::owned::{TypedRing, ops};
///
/// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8)?;
/// let file = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
/// let mut bufs = vec![vec![1u8; 512]; 4];
/// while let Some(buf) = bufs.pop() {
///     ring.submit_op(ops::Read::new(file, buf, 0))?;
/// }
/// ring.submit_and_wait(4)?;
/// for (_key, (res, buf)) in ring.completions() {
///     assert_eq!(res?, 512);
///     assert!(buf.iter().all(|&b| b == 0));
///     bufs.push(buf);
/// }
/// assert_eq!(bufs.len(), 4);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Keys say which operation finished:
///
/// ```
/// use uring::owned::{TypedRing, ops};
///
/// let mut ring = TypedRing::<ops::Nop>::new(4)?;
/// let a = ring.submit_op(ops::Nop::new())?;
/// let b = ring.submit_op(ops::Nop::new())?;
/// ring.submit_and_wait(2)?;
/// let mut seen = Vec::new();
/// for (key, res) in ring.completions() {
///     assert_eq!(res?, 0);
///     seen.push(key);
/// }
/// seen.sort_by_key(|k| k.index());
/// assert_eq!(seen, [a, b]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TypedRing<T: Op> {
    /// Dropped by `Drop`, last of what it does (or moved out to hand the ring
    /// back to its thread).
    ring: ManuallyDrop<Ring>,
    slots: Slots<T>,
    files: HeldFiles,
    id: u64,
    drop_timeout: Duration,
    defer_taskrun: bool,
    taskrun_flag: bool,
    /// An enter since the last look at the queue ran the kernel's deferred
    /// work (on a `DEFER_TASKRUN` ring): the next look need not enter for it.
    waited: bool,
    /// The registered direct descriptor table, if any.
    direct: Option<DirectTable>,
    /// For a `SINGLE_ISSUER` ring, the token of the thread that made it (the
    /// only one whose entries the kernel takes); `ANY_THREAD` otherwise.
    issuer: u64,
    /// For a `SINGLE_ISSUER` ring, whether its thread still lives.
    owner_alive: Option<Arc<AtomicBool>>,
}

impl<T: Op> TypedRing<T> {
    /// A ring of `entries` submission entries, set up with no flags.
    ///
    /// # Errors
    ///
    /// What setting up the ring returns (`ENOMEM`, `EPERM` where io_uring is
    /// disabled, …), or `EOPNOTSUPP` before Linux 5.5 (without
    /// `IORING_FEAT_NODROP`, a completion could be lost).
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let ring = TypedRing::<ops::Nop>::new(32)?;
    /// assert_eq!(ring.in_flight(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(entries: u32) -> io::Result<TypedRing<T>> {
        TypedRing::from_builder(Ring::builder(), entries)
    }

    /// A ring set up by `builder` (flags such as `single_issuer().defer_taskrun()`)
    /// with `entries` submission entries. A ring set up disabled
    /// (`R_DISABLED`) is enabled here.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new), and `EINVAL` for a builder asking for `CQE32`
    /// or `CQE_MIXED` completions.
    ///
    /// ```
    /// use uring::Ring;
    /// use uring::owned::{TypedRing, ops};
    /// let ring = TypedRing::<ops::Nop>::from_builder(Ring::builder().cq_entries(64), 8)?;
    /// assert!(ring.ring().params().cq_entries() >= 64);
    /// let refused = TypedRing::<ops::Nop>::from_builder(Ring::builder().cqe32(), 8);
    /// assert_eq!(uring::error::errno(&refused.unwrap_err()), Some(libc::EINVAL));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_builder(builder: Builder<'_>, entries: u32) -> io::Result<TypedRing<T>> {
        let asked = builder.setup_flags();
        if asked.intersects(SetupFlags::CQE32 | SetupFlags::CQE_MIXED) {
            return Err(error::with_context(
                libc::EINVAL,
                "a TypedRing reads 16-byte completions: set it up without CQE32 or CQE_MIXED",
            ));
        }
        let mut ring = builder.build(entries)?;
        if !ring.features().contains(Features::NODROP) {
            return Err(error::with_context(
                libc::EOPNOTSUPP,
                "the safe ring needs IORING_FEAT_NODROP (Linux 5.5) so that no completion is lost",
            ));
        }
        let flags = ring.flags();
        if flags.contains(SetupFlags::R_DISABLED) {
            ring.enable_rings()?;
        }
        // Set up (and enabled) here: the kernel takes a SINGLE_ISSUER ring's
        // entries from this thread only.
        let (issuer, owner_alive) = if flags.contains(SetupFlags::SINGLE_ISSUER) {
            (thread_token(), Some(issuer::bind_here()))
        } else {
            (ANY_THREAD, None)
        };
        // Rings other threads handed back to this one.
        issuer::finish_parked();
        Ok(TypedRing {
            issuer,
            owner_alive,
            defer_taskrun: flags.contains(SetupFlags::DEFER_TASKRUN),
            taskrun_flag: flags.contains(SetupFlags::TASKRUN_FLAG),
            waited: false,
            ring: ManuallyDrop::new(ring),
            slots: Slots::new(),
            files: HeldFiles::new(),
            id: next_ring_id(),
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            direct: None,
        })
    }

    /// The ring, to read its parameters, flags and features.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let ring = TypedRing::<ops::Nop>::new(8)?;
    /// assert_eq!(ring.ring().params().sq_entries(), 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// How many operations are in flight: submitted (or queued), their final
    /// completion not yet taken.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(8)?;
    /// ring.submit_op(ops::Nop::new())?;
    /// assert_eq!(ring.in_flight(), 1);
    /// let (_, res) = ring.next_completion()?;
    /// assert_eq!((res?, ring.in_flight()), (0, 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn in_flight(&self) -> usize {
        self.slots.in_flight()
    }

    /// Whether the operation `key` names is in flight on this ring.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(8)?;
    /// let key = ring.submit_op(ops::Nop::new())?;
    /// assert!(ring.is_in_flight(&key));
    /// ring.next_completion()?;
    /// assert!(!ring.is_in_flight(&key));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_in_flight(&self, key: &OpKey) -> bool {
        key.ring == self.id && self.slots.is_in_flight(key.slot, key.generation)
    }

    /// Queues `op`: its entry goes to the kernel with the next
    /// [`submit`](Self::submit) (or now, if the submission queue is full: the
    /// queued entries are submitted to make room). The ring keeps `op` until
    /// its final completion; [`completions`](Self::completions) hands back its
    /// output with the key returned here.
    ///
    /// # Errors
    ///
    /// The operation comes back, untouched by the kernel, with `EBADF` when it
    /// names a [`HeldFd`] this ring does not hold, `EXDEV` when it uses a
    /// registration of another ring or names two held files, `EBUSY` when the
    /// submission queue is full and the kernel takes no more now (take
    /// completions first), or what submitting returned.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4)?;
    /// let mut other = OwnedRing::new(4)?;
    /// let held = other.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// let refused = ring.submit_op(ops::Read::new(held, vec![0; 8], 0)).unwrap_err();
    /// assert_eq!(uring::error::errno(&refused.error), Some(libc::EBADF));
    /// assert_eq!(refused.op.into_buf().len(), 8); // the buffer, back
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    pub fn submit_op(&mut self, mut op: T) -> Result<OpKey, SubmitError<T>> {
        let (sqe, staged) = match stage(&mut op, self.id, &self.files, &mut self.slots) {
            Ok(staged) => staged,
            Err(error) => return Err(SubmitError { error, op }),
        };
        // SAFETY: `stage` built the entry from `op` (see there for what it
        // names); once the entry is queued, `op` moves into the slot reserved
        // for it right below, with nothing in between that can unwind or look
        // at the completion queue (making room only submits the entries queued
        // before, whose operations are in their slots; if the entry is not
        // queued, `op` goes back to the caller), and stays there until the
        // entry's final completion is taken, or is leaked. The user data
        // carries TAG_OWNED and this slot and generation: no other entry of
        // this ring has them, and no message (`MSG_RING`) can carry TAG_OWNED.
        match unsafe { self.ring.push(&sqe) } {
            Ok(()) => {}
            Err(PushError::Full) => {
                if let Err(error) = self.push_slow(&sqe) {
                    return Err(SubmitError { error, op });
                }
            }
            Err(e) => {
                return Err(SubmitError {
                    error: e.into(),
                    op,
                });
            }
        }
        // SAFETY: staged above; nothing filled a slot since.
        Ok(unsafe { staged.fill(&mut self.slots, op, self.id) })
    }

    /// A view of the submission queue for queueing several operations: each
    /// [`Batch::push`] costs what [`submit_op`](Self::submit_op) does but the
    /// look at the kernel's side of the queue, which the batch makes once. It
    /// does not submit: when the queue is full, `push` gives the operation
    /// back (`EBUSY`); drop the batch, [`submit`](Self::submit), and start
    /// another.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(4)?;
    /// let mut batch = ring.batch();
    /// let mut keys = Vec::new();
    /// while batch.remaining() > 0 {
    ///     keys.push(batch.push(ops::Nop::new())?);
    /// }
    /// let full = batch.push(ops::Nop::new()).unwrap_err();
    /// assert_eq!(full.error.raw_os_error(), Some(libc::EBUSY));
    /// drop(batch);
    /// ring.submit_and_wait(4)?;
    /// assert_eq!(ring.completions().count(), keys.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    pub fn batch(&mut self) -> Batch<'_, T> {
        let TypedRing {
            ring,
            slots,
            files,
            id,
            ..
        } = self;
        Batch {
            sq: ring.submission(),
            slots,
            files,
            id: *id,
        }
    }

    /// Submits what is queued to make room for `sqe`, then pushes it.
    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, sqe: &crate::sqe::Sqe) -> io::Result<()> {
        self.make_room(false)?;
        // SAFETY: as in `submit_op`, the caller, which moves the entry's op
        // into its slot when this returns `Ok`.
        unsafe { self.ring.push(sqe) }.map_err(io::Error::from)
    }

    /// Submits until the submission queue has a free entry. `closing`: for
    /// closing the ring, when completions the kernel cannot post (older
    /// kernels refuse submissions then, and an SQPOLL thread stops taking
    /// entries) are taken and dropped to let it go on, a few times; otherwise
    /// that is `EBUSY` for the caller, who takes them.
    fn make_room(&mut self, closing: bool) -> io::Result<()> {
        let mut drained = 0;
        loop {
            self.submit_taking(closing, &mut drained)?;
            if self.ring.submission().remaining() > 0 {
                return Ok(());
            }
            if !self.ring.flags().contains(SetupFlags::SQPOLL) {
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
            // The poll thread takes entries on its own time — unless the
            // kernel holds completions it could not post, when it may wait
            // for room in the completion queue first: never wait for it then.
            if self.ring.cq_has_overflow() {
                if !closing || drained >= CLOSING_DRAINS {
                    return Err(io::Error::from_raw_os_error(libc::EBUSY));
                }
                drained += 1;
                self.drain();
                continue;
            }
            self.ring.sqring_wait()?;
        }
    }

    /// Submits the queued entries; returns how many the kernel took.
    ///
    /// # Errors
    ///
    /// What the kernel returned (`EBUSY` while its completion queue and
    /// overflow list are full: take completions first; `EEXIST`, with the
    /// rule named, from a thread other than a `SINGLE_ISSUER` ring's).
    /// Entries not taken stay queued.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(8)?;
    /// ring.submit_op(ops::Nop::new())?;
    /// assert_eq!(ring.submit()?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn submit(&mut self) -> io::Result<usize> {
        self.ring.submit().map_err(|e| self.named(e))
    }

    /// `e`, from an entry into the kernel; the kernel's `EEXIST` for a
    /// `SINGLE_ISSUER` ring entered from a thread other than its own, with
    /// the rule named.
    #[cold]
    #[inline(never)]
    fn named(&self, e: io::Error) -> io::Error {
        if e.raw_os_error() == Some(libc::EEXIST) && self.on_foreign_thread() {
            issuer::foreign_thread()
        } else {
            e
        }
    }

    /// Submits the queued entries, then waits until at least `want`
    /// completions are in the kernel's queue; returns how many entries were
    /// submitted. Cancellations this ring made post completions too, which
    /// count here but yield nothing.
    ///
    /// # Errors
    ///
    /// As for [`submit`](Self::submit) (but the kernel's `EEXIST` comes as
    /// is, without the rule named: this is the call a loop makes on every
    /// pass, kept to what the kernel says), and `EINTR` when a signal
    /// interrupted the wait.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(8)?;
    /// for _ in 0..3 {
    ///     ring.submit_op(ops::Nop::new())?;
    /// }
    /// ring.submit_and_wait(3)?;
    /// assert_eq!(ring.completions().count(), 3);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        let r = self.ring.submit_and_wait(want);
        // An enter that waited ran the deferred work; one that failed may not
        // have.
        self.waited = r.is_ok() && want > 0;
        r
    }

    /// The finished operations' outputs, as the kernel posted them, each with
    /// the key [`submit_op`](Self::submit_op) returned; it does not wait. Each
    /// completion is handed back to the kernel as it is read, so stopping
    /// early leaves the rest for the next call, and nothing is read twice.
    ///
    /// A completion flagged `MORE` (a zero-copy send's first) goes to its
    /// operation ([`Op::more`]), which stays in flight.
    ///
    /// ```
    /// use uring::owned::{SharedFd, TypedRing, ops};
    /// let (a, b) = std::os::unix::net::UnixStream::pair()?;
    /// let b = SharedFd::from(b);
    /// let mut ring = TypedRing::<ops::Write<&'static [u8]>>::new(4)?;
    /// let key = ring.submit_op(ops::Write::new(&b, b"hello", 0))?;
    /// ring.submit_and_wait(1)?;
    /// let mut done = ring.completions();
    /// let (k, (res, _buf)) = done.next().expect("one write finished");
    /// assert_eq!((k, res?), (key, 5));
    /// assert!(done.next().is_none());
    /// # drop(a);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline]
    pub fn completions(&mut self) -> TypedCompletions<'_, T> {
        if self.deferred_pending() {
            // An error here (a foreign thread's EEXIST) leaves what is posted
            // to be read; deferred work waits for the next enter.
            let _ = self.enter_for_events();
        }
        self.waited = false;
        let cursor = self
            .ring
            .cq_cursor()
            .expect("a TypedRing is set up with 16-byte completions");
        let sq_limit = self.ring.sq_tail();
        let sq_parts = self.ring.submission().parts();
        TypedCompletions {
            ring: self,
            cursor,
            sq_limit,
            sq_parts,
        }
    }

    /// The next finished operation's output, waiting for one if none is
    /// posted yet (and submitting what is queued).
    ///
    /// # Errors
    ///
    /// `ENOENT` when nothing is in flight (nothing could finish), or what
    /// submitting or waiting returned.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// use std::time::Duration;
    /// let mut ring = TypedRing::<ops::Timeout>::new(4)?;
    /// let key = ring.submit_op(ops::Timeout::new(Duration::from_millis(1)))?;
    /// let (k, res) = ring.next_completion()?;
    /// assert_eq!(k, key);
    /// assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ETIME));
    /// let nothing = ring.next_completion().unwrap_err();
    /// assert_eq!(nothing.raw_os_error(), Some(libc::ENOENT));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn next_completion(&mut self) -> io::Result<(OpKey, T::Output)> {
        loop {
            if let Some(done) = self.completions().next() {
                return Ok(done);
            }
            if self.in_flight() == 0 {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            match self.submit_and_wait(1) {
                Err(e) if e.raw_os_error() != Some(libc::EINTR) => return Err(self.named(e)),
                _ => {}
            }
        }
    }

    /// Asks the kernel to cancel the operation `key` names (queued; submitted
    /// with the next submit). Its completion still comes, through
    /// [`completions`](Self::completions) (typically with `ECANCELED`, or its
    /// result if it finished first).
    ///
    /// # Errors
    ///
    /// `ENOENT` when that operation is not in flight (finished, or another
    /// ring's), `EBUSY` when the submission queue is full and cannot be
    /// emptied now.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// use std::time::Duration;
    /// let mut ring = TypedRing::<ops::Timeout>::new(4)?;
    /// let key = ring.submit_op(ops::Timeout::new(Duration::from_secs(60)))?;
    /// ring.submit()?;
    /// ring.cancel(&key)?;
    /// let (_, res) = ring.next_completion()?;
    /// assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&mut self, key: &OpKey) -> io::Result<()> {
        if !self.is_in_flight(key) {
            return Err(error::with_context(
                libc::ENOENT,
                "cancel: this key names no operation in flight on this ring",
            ));
        }
        self.push_cancel(user_data(key.slot, key.generation), false)
    }

    /// Queues a cancellation of the entry of user data `target` (making room
    /// as [`make_room`](Self::make_room) does for `closing`).
    fn push_cancel(&mut self, target: u64, closing: bool) -> io::Result<()> {
        let sqe = crate::op::AsyncCancel::new(target)
            .build()
            .user_data(TAG_INTERNAL);
        // SAFETY: an ASYNC_CANCEL entry names no memory and no descriptor (its
        // `addr` is the user data to match, not a pointer); its own user data
        // is TAG_INTERNAL, which no operation's has.
        match unsafe { self.ring.push(&sqe) } {
            Err(PushError::Full) => {
                self.make_room(closing)?;
                // SAFETY: as above.
                unsafe { self.ring.push(&sqe) }.map_err(io::Error::from)
            }
            r => r.map_err(io::Error::from),
        }
    }

    /// Holds `fd` for operations on this ring to name (as a [`HeldFd`], which
    /// `impl Into<FileRef>` takes) with no reference count per operation. It
    /// stays open until [`release_fd`](Self::release_fd) and the final
    /// completions of the operations naming it, or until the ring is dropped.
    ///
    /// # Errors
    ///
    /// `ENFILE` when the ring holds [`MAX_HELD_FDS`](super::MAX_HELD_FDS)
    /// already.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// assert!(ring.holds_fd(&zero));
    /// ring.submit_op(ops::Read::new(zero, vec![7; 3], 0))?;
    /// let (_, (n, buf)) = ring.next_completion()?;
    /// assert_eq!((n?, &buf[..]), (3, &[0u8; 3][..]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hold_fd(&mut self, fd: impl Into<OwnedFd>) -> io::Result<HeldFd> {
        self.files.hold(fd.into())
    }

    /// Holds a direct descriptor of this ring's [`DirectTable`] as
    /// [`hold_fd`](Self::hold_fd) holds a plain one: operations name it
    /// through the `Copy` [`HeldFd`] this returns, as a fixed file
    /// (`IOSQE_FIXED_FILE`), so the kernel takes no reference to the file per
    /// operation either. The ring keeps `fd` until
    /// [`release_fd`](Self::release_fd) and the final completions of the
    /// operations then naming it; dropping that share empties the slot if it
    /// was the last.
    ///
    /// # Errors
    ///
    /// `EXDEV` when `fd` belongs to another ring's table; `ENFILE` when the
    /// ring holds [`MAX_HELD_FDS`](super::MAX_HELD_FDS) files already (`fd` is
    /// dropped).
    ///
    /// ```
    /// use uring::owned::{DirectTable, TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4)?;
    /// # let Ok(table) = DirectTable::new(&mut ring, 1, 0) else { return Ok(()) }; // < 6.0
    /// # /*
    /// let table = DirectTable::new(&mut ring, 1, 0)?;
    /// # */
    /// let zero = ring.hold_direct(table.insert(std::fs::File::open("/dev/zero")?)?)?;
    /// ring.submit_op(ops::Read::new(zero, vec![7; 3], 0))?;
    /// let (_, (n, buf)) = ring.next_completion()?;
    /// assert_eq!((n?, &buf[..]), (3, &[0u8; 3][..]));
    /// ring.release_fd(zero)?; // the last share: the slot is emptied
    /// assert_eq!(table.in_use(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn hold_direct(&mut self, fd: DirectFd) -> io::Result<HeldFd> {
        self.files.hold_direct(fd, self.id)
    }

    /// The direct descriptor table registered with this ring (by
    /// [`DirectTable::new`]), if any.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let ring = TypedRing::<ops::Nop>::new(4)?;
    /// assert!(ring.direct_table().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn direct_table(&self) -> Option<&DirectTable> {
        self.direct.as_ref()
    }

    /// Stops holding `fd`: new operations naming it are refused (`EBADF`), and
    /// it is closed once the operations in flight that name it have had their
    /// final completions (now, if none does): when the
    /// [`completions`](Self::completions) iterator that took the last of them
    /// is dropped.
    ///
    /// # Errors
    ///
    /// `EBADF` when this ring does not hold it (released already, or another
    /// ring's).
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// ring.release_fd(zero)?;
    /// assert!(!ring.holds_fd(&zero));
    /// let refused = ring.submit_op(ops::Read::new(zero, vec![0; 3], 0)).unwrap_err();
    /// assert_eq!(uring::error::errno(&refused.error), Some(libc::EBADF));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn release_fd(&mut self, fd: HeldFd) -> io::Result<()> {
        let index = self.files.lookup(fd.token())?;
        let ops = self.slots.naming_file(index);
        self.files.release(index, ops);
        Ok(())
    }

    /// Whether this ring holds `fd` (not released).
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut a = TypedRing::<ops::Nop>::new(4)?;
    /// let b = TypedRing::<ops::Nop>::new(4)?;
    /// let fd = a.hold_fd(std::fs::File::open("/dev/null")?)?;
    /// assert!(a.holds_fd(&fd));
    /// assert!(!b.holds_fd(&fd));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn holds_fd(&self, fd: &HeldFd) -> bool {
        self.files.holds(fd.token())
    }

    /// How long dropping (or [`close`](Self::close)) waits for the operations
    /// in flight after cancelling them, before leaking what is left
    /// ([`DEFAULT_DROP_TIMEOUT`] unless set).
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(4)?;
    /// ring.set_drop_timeout(std::time::Duration::from_millis(200));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_drop_timeout(&mut self, timeout: Duration) {
        self.drop_timeout = timeout;
    }

    /// Closes the ring: cancels every operation in flight, waits for their
    /// completions (up to the [drop timeout](Self::set_drop_timeout)), drops
    /// their outputs, and leaks — never frees — those the kernel did not
    /// finish in time; says how many of each. Dropping the ring does the same.
    /// A `SINGLE_ISSUER` ring closed on another thread than its own is handed
    /// back to its thread instead (the report counts its operations as
    /// `handed_back`), unless that thread has exited.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// use std::time::Duration;
    /// let mut ring = TypedRing::<ops::Timeout>::new(4)?;
    /// ring.submit_op(ops::Timeout::new(Duration::from_secs(60)))?;
    /// let report = ring.close();
    /// assert_eq!((report.completed, report.leaked), (1, 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(self) -> CloseReport {
        issuer::close(self)
    }

    /// Whether this is a `SINGLE_ISSUER` ring on a thread other than its own
    /// (where the kernel takes none of its entries).
    fn on_foreign_thread(&self) -> bool {
        issuer::is_foreign(self.issuer)
    }

    /// Whether the kernel may hold deferred completion work (a
    /// `DEFER_TASKRUN` ring not entered since the last look at the queue)
    /// that only an enter runs.
    #[inline(always)]
    fn deferred_pending(&self) -> bool {
        self.defer_taskrun
            && !self.waited
            && (!self.taskrun_flag || self.ring.sq_flags() & crate::sys::IORING_SQ_TASKRUN != 0)
    }

    /// Enters the kernel to run deferred work and flush overflowed
    /// completions; a signal's interruption is no error.
    fn enter_for_events(&mut self) -> io::Result<()> {
        match self.ring.get_events() {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
            r => r,
        }
    }

    /// After the queue ran dry: moves completions the kernel holds in its
    /// overflow list into the queue; whether any moved.
    #[cold]
    fn flush_overflow(&mut self) -> bool {
        if !self.ring.cq_has_overflow() {
            return false;
        }
        let tail = self.ring.cq_tail();
        self.enter_for_events().is_ok() && self.ring.cq_tail() != tail
    }

    /// Processes the completions posted now, dropping their outputs (for
    /// closing).
    fn drain(&mut self) {
        for done in self.completions() {
            drop(done);
        }
    }

    /// Cancels every operation in flight and submits the cancellations;
    /// whether that worked.
    fn cancel_in_flight(&mut self) -> bool {
        for (slot, generation) in self.slots.all_in_flight() {
            // One finished meanwhile (taken while making room): its
            // cancellation finds nothing, which is harmless.
            if self.push_cancel(user_data(slot, generation), true).is_err() {
                return false;
            }
        }
        self.submit_closing().is_ok()
    }

    /// Submits what is queued, for closing: completions the kernel cannot
    /// post are taken (see [`make_room`](Self::make_room)).
    fn submit_closing(&mut self) -> io::Result<()> {
        self.submit_taking(true, &mut 0)
    }

    /// Submits what is queued, again after a signal; `closing` (see
    /// [`make_room`](Self::make_room)): again after taking the completions
    /// the kernel could not post, while `drained` counts fewer than
    /// [`CLOSING_DRAINS`] such takes.
    fn submit_taking(&mut self, closing: bool, drained: &mut u32) -> io::Result<()> {
        loop {
            match self.ring.submit() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                Err(e)
                    if closing
                        && *drained < CLOSING_DRAINS
                        && matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) =>
                {
                    *drained += 1;
                    self.drain();
                }
                r => return r.map(drop).map_err(|e| self.named(e)),
            }
        }
    }

    fn shutdown(&mut self, timeout: Duration) -> CloseReport {
        let before = self.in_flight();
        if before == 0 {
            return CloseReport {
                completed: 0,
                leaked: 0,
                handed_back: 0,
            };
        }
        let deadline = Instant::now() + timeout;
        // On a thread other than a SINGLE_ISSUER ring's (which has exited, or
        // the ring would have been handed back to it), nothing can be
        // cancelled or waited for: read the queue for what the kernel
        // cancelled when that thread exited.
        let foreign = self.on_foreign_thread();
        if foreign {
            wait_by_reading(deadline, || {
                self.drain();
                self.in_flight()
            });
        }
        let mut can_wait = !foreign && self.cancel_in_flight();
        let mut pauses = Pauses::new();
        while can_wait {
            self.drain();
            if self.in_flight() == 0 {
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
                Ok(_) => self.waited = true,
                // Still running: cancel again (an operation may have been
                // between attempts), and wait longer.
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => {
                    self.waited = true;
                    self.drain();
                    can_wait = self.cancel_in_flight();
                    pauses.lengthen();
                }
                // A signal, or (older kernels) completions it could not post:
                // taken at the top of the loop.
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)
                    ) => {}
                Err(_) => break,
            }
        }
        self.drain();
        let leaked = self.slots.leak_in_flight();
        if leaked > 0 {
            // Any held file may be named by a leaked operation: none is closed.
            self.files.leak_all();
            LEAKED.fetch_add(leaked, Ordering::Relaxed);
        }
        CloseReport {
            completed: before - leaked,
            leaked,
            handed_back: 0,
        }
    }
}

/// How many times closing takes completions to let a refused submission go
/// on before it gives up (and leaks what it could not cancel).
const CLOSING_DRAINS: u32 = 64;

impl<T: Op> host::Sealed for TypedRing<T> {
    fn host_id(&self) -> u64 {
        self.id
    }

    fn host_parts(&mut self) -> host::Parts<'_> {
        host::Parts {
            in_flight: self.slots.in_flight(),
            ring: &mut self.ring,
            id: self.id,
            direct: &mut self.direct,
        }
    }
}

impl<T: Op> SafeRing for TypedRing<T> {}

impl<T: Op> issuer::HandBack for TypedRing<T> {
    fn ops_in_flight(&self) -> usize {
        self.in_flight()
    }

    fn finish(&mut self) -> CloseReport {
        self.shutdown(self.drop_timeout)
    }

    fn foreign_owner(&self) -> Option<(u64, Arc<AtomicBool>)> {
        issuer::foreign_owner(self.issuer, &self.owner_alive)
    }

    unsafe fn take_all(&mut self) -> TypedRing<T> {
        TypedRing {
            // SAFETY: forwarded from this function's contract: `self.ring` is
            // neither used nor dropped again.
            ring: ManuallyDrop::new(unsafe { ManuallyDrop::take(&mut self.ring) }),
            slots: core::mem::replace(&mut self.slots, Slots::new()),
            files: core::mem::replace(&mut self.files, HeldFiles::new()),
            id: self.id,
            drop_timeout: self.drop_timeout,
            defer_taskrun: self.defer_taskrun,
            taskrun_flag: self.taskrun_flag,
            waited: false,
            direct: self.direct.take(),
            issuer: self.issuer,
            owner_alive: self.owner_alive.take(),
        }
    }
}

impl<T: Op> Drop for TypedRing<T> {
    /// As [`close`](TypedRing::close). The operations it leaks stay in their
    /// slots, which are freed without dropping them.
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
        // uses it afterwards (what is still in flight was leaked, and leaks
        // nothing the kernel may use when the ring goes).
        unsafe { ManuallyDrop::drop(&mut self.ring) };
        // Rings other threads handed back to this one.
        issuer::finish_parked();
    }
}

impl<T: Op> fmt::Debug for TypedRing<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedRing")
            .field("op", &core::any::type_name::<T>())
            .field("ring", &self.ring)
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// The outputs of a [`TypedRing`]'s finished operations, with their keys:
/// from [`TypedRing::completions`].
pub struct TypedCompletions<'a, T: Op> {
    ring: &'a mut TypedRing<T>,
    /// Where this iterator reads the kernel's queue.
    cursor: CqCursor,
    /// Where the free slots of the submission queue known to
    /// [`submit_op`](Self::submit_op)'s last push end (the tail before it:
    /// none known).
    sq_limit: u32,
    /// The submission queue's fixed fields, for `submit_op`'s views: kept
    /// here, they are not loaded through the ring at every push.
    sq_parts: crate::squeue::SqParts,
}

impl<T: Op> TypedCompletions<'_, T> {
    /// The next completion, consumed.
    #[inline(always)]
    fn next_cqe(&mut self) -> Option<Cqe> {
        // SAFETY: the cursor was made by this ring's `cq_cursor` when this
        // iterator was made, and the iterator has borrowed the ring mutably
        // since: nothing else has read the queue, and the ring cannot have
        // been resized (a `TypedRing` never resizes its ring, nor lends it
        // mutably; the overflow flush, and the submit `submit_op` may make,
        // only enter the kernel, which may post more but consumes nothing).
        unsafe {
            if T::posts_more(Token(())) {
                // Handed back one by one: a completion flagged `MORE` read
                // twice (after this iterator is forgotten) would be passed to
                // its operation twice.
                self.ring.ring.cq_next(&mut self.cursor)
            } else {
                // Handed back once per pass (when the cursor reaches the
                // kernel's tail, and when the iterator drops). Read twice
                // after a forgotten iterator, a completion is harmless: its
                // slot was freed as it was read, so its generation no longer
                // matches (the slot is taken again only by an operation
                // submitted after it, whose generation is 2 or more ahead,
                // and no reader other than this ring's reads the queue), and
                // one not of an operation is ignored.
                self.ring.ring.cq_next_unpublished(&mut self.cursor)
            }
        }
    }

    /// Hands back to the kernel every completion this iterator has read.
    #[inline(always)]
    fn publish(&mut self) {
        // SAFETY: as in `next_cqe`.
        unsafe { self.ring.ring.cq_publish(&mut self.cursor) }
    }

    /// Queues `op` while taking completions, as [`TypedRing::submit_op`]
    /// does: a loop that keeps a number of operations in flight can start the
    /// next one as each finishes, its buffer going straight from the output
    /// into the new operation, with no list of free buffers in between.
    ///
    /// This iterator may yield the new operation's output too, if it finishes
    /// before the iterator runs dry (entries are taken by the kernel at the
    /// next submit, or when the queue is full and this call makes room).
    ///
    /// # Errors
    ///
    /// As [`TypedRing::submit_op`]: the operation comes back with the error.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(4)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// ring.submit_op(ops::Read::new(zero, vec![7; 16], 0))?;
    /// let mut reads = 0;
    /// while reads < 3 {
    ///     ring.submit_and_wait(1)?;
    ///     let mut done = ring.completions();
    ///     while let Some((_, (n, buf))) = done.next() {
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
    pub fn submit_op(&mut self, op: T) -> Result<OpKey, SubmitError<T>> {
        let TypedRing {
            ring,
            slots,
            files,
            id,
            ..
        } = &mut *self.ring;
        // SAFETY: `sq_limit` is the limit of the last view made here, or the
        // tail when this iterator was made; the iterator has borrowed the ring
        // mutably since, so only these views moved the tail, and the one path
        // that submits (below) sets `sq_limit` to the tail again after.
        // `sq_parts` are of a view made when this iterator was, and a
        // `TypedRing` never resizes its ring. Nothing between a push and the
        // store of its view's limit can unwind (after the push, `try_push`
        // only writes the slot), so a caller who catches a panic here still
        // finds `sq_limit` in step with the tail.
        let sq = unsafe { ring.submission_resumed(self.sq_parts, self.sq_limit) };
        let mut batch = Batch {
            sq,
            slots,
            files,
            id: *id,
        };
        let pushed = batch.try_push(op);
        self.sq_limit = batch.sq.limit();
        match pushed {
            Ok(key) => Ok(key),
            Err((Some(error), op)) => Err(SubmitError { error, op }),
            Err((None, op)) => {
                // Full: submit to make room (which may reset an `SQ_REWIND`
                // ring's tail), then push with a view of its own. The kernel
                // is told first which completions are read: room to post.
                self.publish();
                let pushed = self.ring.submit_op(op);
                self.sq_limit = self.ring.ring.sq_tail();
                pushed
            }
        }
    }
}

impl<T: Op> Iterator for TypedCompletions<'_, T> {
    type Item = (OpKey, T::Output);

    #[inline(always)]
    fn next(&mut self) -> Option<(OpKey, T::Output)> {
        loop {
            let Some(cqe) = self.next_cqe() else {
                if self.ring.flush_overflow() {
                    continue;
                }
                return None;
            };
            if T::posts_more(Token(())) && cqe.is_more() {
                // Not an operation's (a cancellation's): nothing to do.
                if let Some((slot, gen_low)) = owned_slot(cqe.user_data()) {
                    self.ring.slots.more(slot, gen_low, &cqe);
                }
                continue;
            }
            // The operation completes where it lies in its slot: read out
            // field by field, not copied out whole first.
            let complete = |op: *mut T| {
                // SAFETY: `take_with` passes the operation of the slot it
                // frees, valid, given up to this call alone.
                unsafe { T::complete_at(op, &cqe, Token(())) }
            };
            // None for a cancellation's completion, and for one read again
            // after a forgotten iterator (its slot was freed).
            let Some((slot, generation, out)) =
                self.ring.slots.take_with(cqe.user_data(), complete)
            else {
                continue;
            };
            let key = OpKey {
                ring: self.ring.id,
                slot,
                generation,
            };
            return Some((key, out));
        }
    }
}

impl<T: Op> Drop for TypedCompletions<'_, T> {
    /// Closes the held files released meanwhile whose operations have all
    /// had their final completions now: once per call of `completions`, not
    /// per completion.
    #[inline(always)]
    fn drop(&mut self) {
        if !T::posts_more(Token(())) {
            self.publish();
        }
        if self.ring.files.has_pending() {
            self.ring.close_released();
        }
    }
}

impl<T: Op> TypedRing<T> {
    /// Closes the released held files whose operations have all finished.
    #[cold]
    #[inline(never)]
    fn close_released(&mut self) {
        let slots = &self.slots;
        self.files
            .close_released(|slot, generation| slots.is_in_flight(slot, generation));
    }
}

impl<T: Op> fmt::Debug for TypedCompletions<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedCompletions")
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

/// The slot reserved for an operation whose entry [`stage`] made.
struct Staged {
    slot: u32,
    generation: u64,
    /// The held file the entry names (`NO_FILE` for none).
    file: u32,
}

impl Staged {
    /// Moves `op` (the operation this was staged from) into its slot of
    /// `slots`, in flight: its key, on the ring of id `ring`.
    ///
    /// # Safety
    ///
    /// `self` is what [`stage`] returned last for `slots`, and no slot of
    /// `slots` was filled since.
    #[inline(always)]
    unsafe fn fill<T: Op>(self, slots: &mut Slots<T>, op: T, ring: u64) -> OpKey {
        // SAFETY: the caller's contract: `reserve` gave this slot, and
        // nothing filled one since.
        unsafe { slots.fill(self.slot, self.generation, op, self.file) };
        OpKey {
            ring,
            slot: self.slot,
            generation: self.generation,
        }
    }
}

/// The entry of `op`, for a ring of id `ring` holding `files`, with the ring's
/// own flags taken off and its user data naming the slot of `slots` reserved
/// for `op`, and that slot (with the held file the entry names); an error when this ring cannot run it
/// (nothing is reserved then).
///
/// The entry names only memory and descriptors `op` owns, at addresses that
/// stay put when `op` moves (the [`Op`] contract), or the held file returned,
/// which the ring holds now: the slot records it, so that it stays open until
/// the operation's final completion.
#[inline(always)]
fn stage<T: Op>(
    op: &mut T,
    ring: u64,
    files: &HeldFiles,
    slots: &mut Slots<T>,
) -> io::Result<(crate::sqe::Sqe, Staged)> {
    let bound = op.bound_ring(Token(()));
    let file = if bound == Binding::NONE {
        NO_FILE
    } else {
        bound_file(ring, files, bound)?
    };
    // Built before anything is tabled: a panic in `sqe` leaves nothing behind.
    let sqe = op.sqe();
    let flags = sqe.get_flags() - SqeFlags::IO_LINK - TABLE_STRIPPED;
    let (slot, generation) = slots.reserve();
    let sqe = sqe.set_flags(flags).user_data(user_data(slot, generation));
    Ok((
        sqe,
        Staged {
            slot,
            generation,
            file,
        },
    ))
}

/// Operations queued on a [`TypedRing`] through one view of its submission
/// queue: from [`TypedRing::batch`]. Dropping it leaves what it queued for the
/// next submit.
pub struct Batch<'a, T: Op> {
    sq: crate::SubmissionQueue<'a>,
    slots: &'a mut Slots<T>,
    files: &'a HeldFiles,
    id: u64,
}

impl<T: Op> Batch<'_, T> {
    /// Queues `op`, as [`TypedRing::submit_op`] does, but without submitting
    /// when the queue is full.
    ///
    /// # Errors
    ///
    /// The operation comes back, untouched by the kernel, with `EBUSY` when the
    /// submission queue is full, or as from `submit_op`.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(8)?;
    /// let zero = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// {
    ///     let mut batch = ring.batch();
    ///     for len in 1..=3 {
    ///         batch.push(ops::Read::new(zero, vec![9; len], 0))?;
    ///     }
    /// }
    /// ring.submit_and_wait(3)?;
    /// let mut lens: Vec<usize> = ring.completions().map(|(_, (n, _))| n.unwrap()).collect();
    /// lens.sort();
    /// assert_eq!(lens, [1, 2, 3]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[inline(always)]
    pub fn push(&mut self, op: T) -> Result<OpKey, SubmitError<T>> {
        self.try_push(op).map_err(|(error, op)| SubmitError {
            error: error.unwrap_or_else(|| io::Error::from_raw_os_error(libc::EBUSY)),
            op,
        })
    }

    /// [`push`](Self::push), with `None` for the error when the queue is full.
    #[inline(always)]
    fn try_push(&mut self, mut op: T) -> Result<OpKey, (Option<io::Error>, T)> {
        let (sqe, staged) = match stage(&mut op, self.id, self.files, self.slots) {
            Ok(staged) => staged,
            Err(error) => return Err((Some(error), op)),
        };
        // SAFETY: as in `TypedRing::submit_op`: `op` moves into its reserved
        // slot right below, nothing in between, and stays there until its
        // final completion is taken (or is leaked).
        match unsafe { self.sq.push(&sqe) } {
            Ok(()) => {}
            Err(PushError::Full) => return Err((None, op)),
            Err(e) => return Err((Some(e.into()), op)),
        }
        // SAFETY: staged above; nothing filled a slot since.
        Ok(unsafe { staged.fill(self.slots, op, self.id) })
    }

    /// How many more entries fit the submission queue now.
    ///
    /// ```
    /// use uring::owned::{TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(8)?;
    /// let mut batch = ring.batch();
    /// assert_eq!(batch.remaining(), 8);
    /// batch.push(ops::Nop::new())?;
    /// assert_eq!(batch.remaining(), 7);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.sq.remaining()
    }
}

impl<T: Op> fmt::Debug for Batch<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("op", &core::any::type_name::<T>())
            .field("remaining", &self.remaining())
            .finish_non_exhaustive()
    }
}
