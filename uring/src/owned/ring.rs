//! [`OwnedRing`]: submitting operations, processing their completions, and
//! closing with nothing freed that the kernel may still use.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::chain::{ChainParts, ChainPrep, Linked, check_binding, held_file};
use super::issuer::{self, ANY_THREAD, UNBOUND};
use super::op::imp;
use super::slab::{Routed, Slab};
use super::table::{GEN_MASK, TAG_INTERNAL, TAG_OWNED, user_data};
use super::{Completion, Op, OpId, OpKey, SubmitError, ops};
use crate::cqueue::Cqe;
use crate::ring::thread_token;
use crate::setup::{Builder, Features, SetupFlags};
use crate::sqe::{Sqe, SqeFlags};
use crate::{Ring, error};

/// The largest `user_data` a raw entry may carry: bits 63 and 62 are reserved for
/// the ring's own entries.
pub const RAW_USER_DATA_MAX: u64 = TAG_INTERNAL - 1;

/// Flags the table clears from its operations' entries: a completion must come for
/// each, and links are the ring's to set (the last entry of a chain never links).
pub(super) const TABLE_STRIPPED: SqeFlags = SqeFlags::IO_HARDLINK.union(SqeFlags::CQE_SKIP_SUCCESS);

/// How long dropping an [`OwnedRing`] waits for cancelled operations by default.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`OwnedRing::close`] did with the operations in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// Operations that completed (mostly cancelled) while closing; their outputs
    /// were dropped.
    pub completed: usize,
    /// Operations still in flight when the time ran out, or when the ring could
    /// not be entered: leaked, never freed.
    pub leaked: usize,
    /// Operations of a `SINGLE_ISSUER` ring closed on a thread other than its
    /// own, which cannot cancel them there: the ring was handed back to its
    /// thread, which cancels and waits for them as a drop does (see the
    /// module's **Threads**). Neither freed nor leaked yet.
    pub handed_back: usize,
}

static NEXT_RING_ID: AtomicU64 = AtomicU64::new(1);

/// A ring that runs operations owning their resources: the safe way to use
/// io_uring. See the [module documentation](super) for an example and the safety
/// model.
pub struct OwnedRing {
    /// Dropped by hand at the end of `Drop` (or moved out, to hand the ring
    /// back to its thread).
    pub(super) ring: ManuallyDrop<Ring>,
    /// The operations in flight, and the finished ones not taken yet.
    pub(super) table: Slab,
    /// Scratch room for a chain's entries (kept, so chains allocate nothing).
    chain_sqes: Vec<Sqe>,
    /// Completions of raw entries.
    pub(super) raw: VecDeque<Cqe>,
    pub(super) id: u64,
    pub(super) drop_timeout: Duration,
    /// Keys of operations that saw a completion, when an async adapter wants them.
    pub(super) touched: Option<Vec<OpKey>>,
    /// The same, for the caller ([`track_activity`](Self::track_activity)).
    pub(super) activity: Option<Vec<OpKey>>,
    /// `DEFER_TASKRUN`: completions wait for this task to enter the kernel.
    defer_taskrun: bool,
    /// `TASKRUN_FLAG`: the kernel flags the SQ ring when such work is pending.
    taskrun_flag: bool,
    /// The last call entered the kernel waiting for completions, which ran
    /// the deferred work, and nothing has processed completions since: the next
    /// non-blocking call need not enter again (see [`reap_now`](Self::reap_now)).
    waited: bool,
    /// The thread token of the thread the ring is bound to (`SINGLE_ISSUER`),
    /// [`ANY_THREAD`], or [`UNBOUND`] until its first entry into the kernel.
    issuer: u64,
    /// The ring was set up disabled by this layer (`SINGLE_ISSUER`), to be
    /// enabled on the thread of its first entry.
    enable_on_bind: bool,
    /// Whether that thread is alive (set once bound).
    owner_alive: Option<Arc<AtomicBool>>,
    /// The registered direct descriptor table, if any.
    pub(super) direct: Option<super::DirectTable>,
    /// Completions of descriptors other rings passed here, not yet taken.
    pub(super) passed: super::direct::Passed,
}

impl OwnedRing {
    /// A ring with `entries` submission queue entries (see [`Ring::new`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::new`]; `Unsupported` on kernels without
    /// `IORING_FEAT_NODROP` (before Linux 5.5).
    pub fn new(entries: u32) -> io::Result<OwnedRing> {
        OwnedRing::from_builder(Ring::builder(), entries)
    }

    /// A ring set up by `builder` (any setup flags).
    ///
    /// With `SINGLE_ISSUER` (and `DEFER_TASKRUN`), the ring is set up disabled
    /// and enabled by its first submit or wait, on the thread that makes it,
    /// which the kernel then takes as the ring's only issuer: see the module's
    /// [**Threads**](super#safety-model). (A ring the caller sets up disabled,
    /// `r_disabled`, stays the caller's to enable, through
    /// [`ring_mut`](Self::ring_mut).)
    ///
    /// ```
    /// let ring = uring::owned::OwnedRing::from_builder(uring::Ring::builder().cq_entries(64), 4)?;
    /// assert_eq!(ring.ring().params().cq_entries(), 64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// With [`Builder::register_ring_fd`] the ring enters the kernel through its
    /// index in the building thread's registered-ring table
    /// (`IORING_REGISTER_RING_FDS`, Linux 5.18), which saves a descriptor lookup
    /// per submit and wait. The safe layer keeps working when the ring moves to
    /// another thread (it enters through its plain descriptor there, never
    /// through that thread's index, which names another ring) and when it is
    /// dropped there; registrations that need the ring's descriptor (pools,
    /// registered buffers, direct tables, mailboxes) duplicate the plain one.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// # if uring::Ring::builder().register_ring_fd().build(2).is_err() { return Ok(()) } // < 5.18
    /// let mut ring = OwnedRing::from_builder(uring::Ring::builder().register_ring_fd(), 8)?;
    /// assert!(ring.ring().is_ring_fd_registered());
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// assert_eq!(ring.wait_for(id)?.unwrap(), 0);
    /// let ring = std::thread::spawn(move || {
    ///     let mut ring = ring; // another thread: the plain descriptor is used
    ///     let id = ring.submit_op(ops::Nop::new()).unwrap();
    ///     ring.wait_for(id).unwrap().unwrap();
    ///     ring
    /// }).join().unwrap();
    /// # drop(ring);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn from_builder(builder: Builder<'_>, entries: u32) -> io::Result<OwnedRing> {
        issuer::finish_parked();
        let asked = builder.setup_flags();
        let single_issuer = asked.contains(SetupFlags::SINGLE_ISSUER);
        // A SINGLE_ISSUER ring belongs to the task that enables it: set it up
        // disabled, and enable it on the thread that first enters with it.
        let enable_on_bind = single_issuer && !asked.contains(SetupFlags::R_DISABLED);
        let builder = if enable_on_bind {
            builder.r_disabled()
        } else {
            builder
        };
        let ring = builder.build(entries)?;
        if !ring.features().contains(Features::NODROP) {
            return Err(error::with_context(
                libc::EOPNOTSUPP,
                "the safe ring needs IORING_FEAT_NODROP (Linux 5.5) so that no completion is lost",
            ));
        }
        let flags = ring.flags();
        Ok(OwnedRing {
            defer_taskrun: flags.contains(SetupFlags::DEFER_TASKRUN),
            taskrun_flag: flags.contains(SetupFlags::TASKRUN_FLAG),
            waited: false,
            issuer: if single_issuer { UNBOUND } else { ANY_THREAD },
            enable_on_bind,
            owner_alive: None,
            ring: ManuallyDrop::new(ring),
            table: Slab::new(),
            chain_sqes: Vec::new(),
            raw: VecDeque::new(),
            id: NEXT_RING_ID.fetch_add(1, Ordering::Relaxed),
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            touched: None,
            activity: None,
            direct: None,
            passed: Default::default(),
        })
    }

    /// The underlying ring, to read its parameters and features.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The underlying ring, mutably: for registering resources and the like.
    ///
    /// # Safety
    ///
    /// Do not consume completions through it (they belong to the table: an
    /// operation whose final completion is consumed elsewhere stays in the table
    /// until the ring is dropped, and is then leaked), do not replace or tear down
    /// the ring, and push only what [`push_raw`](Self::push_raw) allows.
    pub unsafe fn ring_mut(&mut self) -> &mut Ring {
        &mut self.ring
    }

    /// How many operations are in the table (submitted or queued, without their
    /// final completion processed yet).
    pub fn in_flight(&self) -> usize {
        self.table.in_flight()
    }

    /// Holds `fd` in the ring, for its operations to name through the
    /// [`HeldFd`] handle this returns: the ring keeps the descriptor open while
    /// operations in flight name it, counting them itself (no atomic reference
    /// count per operation, as a [`SharedFd`](super::SharedFd) has), until
    /// [`release_fd`](Self::release_fd). Dropping the ring closes what it holds
    /// (except a descriptor that an operation it had to leak names: leaked too).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(8)?;
    /// let file = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// let ids: Vec<_> = (0..4)
    ///     .map(|i| ring.submit_op(ops::Read::new(file, vec![1u8; 8], i * 8)))
    ///     .collect::<Result<_, _>>()?;
    /// for id in ids {
    ///     let (n, buf) = ring.wait_for(id)?;
    ///     assert_eq!((n?, &buf[..]), (8, &[0u8; 8][..]));
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENFILE` when the ring holds [`MAX_HELD_FDS`](super::MAX_HELD_FDS)
    /// descriptors already (`fd` is closed).
    pub fn hold_fd(&mut self, fd: impl Into<std::os::fd::OwnedFd>) -> io::Result<super::HeldFd> {
        self.table.files.hold(fd.into())
    }

    /// Lets go of a descriptor [`hold_fd`](Self::hold_fd) holds: no operation
    /// naming it can be submitted any more (`EBADF`), and it is closed now if
    /// no operation in flight names it, otherwise right after the last one's
    /// final completion.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (r, _w) = std::os::unix::net::UnixStream::pair()?;
    /// let raw = r.as_raw_fd();
    /// let held = ring.hold_fd(r)?;
    /// let id = ring.submit_op(ops::Recv::new(held, vec![0u8; 8]))?;
    /// ring.submit()?;
    /// ring.release_fd(held)?;
    /// // The receive still names it: open until its final completion.
    /// assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } >= 0);
    /// ring.cancel(&id)?;
    /// let _ = ring.wait_for(id)?;
    /// assert!(unsafe { libc::fcntl(raw, libc::F_GETFD) } < 0); // closed
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EBADF` when this ring does not hold it (released already, or held by
    /// another ring).
    pub fn release_fd(&mut self, fd: super::HeldFd) -> io::Result<()> {
        self.table.release_held(fd.token())
    }

    /// Whether this ring holds `fd` (it was not released).
    pub fn holds_fd(&self, fd: &super::HeldFd) -> bool {
        self.table.files.holds(fd.token())
    }

    /// How long dropping the ring waits for its in-flight operations before
    /// leaking them (default [`DEFAULT_DROP_TIMEOUT`]).
    pub fn set_drop_timeout(&mut self, timeout: Duration) {
        self.drop_timeout = timeout;
    }

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
    pub fn submit_op<T: Op>(&mut self, mut op: T) -> Result<OpId<T>, SubmitError<T>> {
        let held = match check_binding(self.id, op.bound_ring(imp::Token(()))) {
            Ok(held) => held,
            Err(error) => return Err(SubmitError { error, op }),
        };
        // Built before the op is tabled: a panic in `sqe` leaves nothing behind.
        let sqe = op.sqe();
        let flags = sqe.get_flags() - SqeFlags::IO_LINK - TABLE_STRIPPED;
        let sqe = sqe.set_flags(flags);
        let file = match held_file(&self.table.files, held) {
            Ok(file) => file,
            Err(error) => return Err(SubmitError { error, op }),
        };
        let (slot, generation) = self.table.insert(op, file);
        let sqe = sqe.user_data(user_data(slot, generation));
        // SAFETY: the entry was built by an `Op` (whose contract is that it names
        // only memory and descriptors the op owns, at stable addresses, or a
        // `HeldFd`, which the table records with the op: it stays open until
        // the op's final completion), which is now in the table until its final
        // completion is processed (or is leaked); its user data carries
        // TAG_OWNED, so no raw entry can share it.
        match unsafe { self.ring.submission().push(&sqe) } {
            Ok(()) => Ok(OpId::new(OpKey {
                ring: self.id,
                slot,
                generation,
            })),
            Err(e) => {
                // Out of the table while room is made (which processes completions
                // and could panic in an operation's `more`).
                let op = self.table.remove_unsubmitted::<T>(slot);
                match e {
                    crate::PushError::Full => self.submit_op_slow(op, sqe),
                    other => Err(SubmitError {
                        error: io::Error::from(other),
                        op,
                    }),
                }
            }
        }
    }

    /// [`submit_op`](Self::submit_op) when the submission queue is full: submits
    /// to make room, then pushes `sqe` (built by `op`, without its user data yet).
    #[cold]
    fn submit_op_slow<T: Op>(&mut self, op: T, sqe: Sqe) -> Result<OpId<T>, SubmitError<T>> {
        if let Err(error) = self.make_room(1) {
            return Err(SubmitError { error, op });
        }
        // Looked up again: making room may have run code (an operation's
        // `more`), though nothing that can release a held file.
        let file = match check_binding(self.id, op.bound_ring(imp::Token(())))
            .and_then(|held| held_file(&self.table.files, held))
        {
            Ok(file) => file,
            Err(error) => return Err(SubmitError { error, op }),
        };
        let (slot, generation) = self.table.insert(op, file);
        let sqe = sqe.user_data(user_data(slot, generation));
        // SAFETY: as in `submit_op`.
        match unsafe { self.ring.submission().push(&sqe) } {
            Ok(()) => Ok(OpId::new(OpKey {
                ring: self.id,
                slot,
                generation,
            })),
            Err(e) => Err(SubmitError {
                error: io::Error::from(e),
                op: self.table.remove_unsubmitted::<T>(slot),
            }),
        }
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
    #[inline]
    pub(super) fn enter_check(&mut self) -> io::Result<()> {
        if self.issuer == ANY_THREAD {
            return Ok(());
        }
        self.bind_or_refuse()
    }

    fn bind_or_refuse(&mut self) -> io::Result<()> {
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
    fn on_foreign_thread(&self) -> bool {
        self.issuer != ANY_THREAD && self.issuer != UNBOUND && self.issuer != thread_token()
    }

    /// Makes sure `n` submission queue slots are free, submitting if needed.
    pub(super) fn make_room(&mut self, n: usize) -> io::Result<()> {
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
        self.submit_retrying()?;
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
    pub(super) fn submit_retrying(&mut self) -> io::Result<usize> {
        self.enter_check()?;
        let mut reaped = false;
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

    /// Processes every completion the kernel has posted (flushing its overflow
    /// list), and returns an iterator over the finished operations, oldest first.
    /// It does not wait; on a `DEFER_TASKRUN` ring it first runs the kernel's
    /// deferred work, as [`get_events`](Self::get_events) does — unless the
    /// ring's last call was a wait ([`submit_and_wait`](Self::submit_and_wait)),
    /// which ran it already.
    ///
    /// Completions the iterator does not reach stay queued for the next call.
    pub fn completions(&mut self) -> Completions<'_> {
        // An error here means the kernel's overflow list could not be flushed
        // now; what is in the queue was still processed, and the rest comes with
        // the next enter.
        let _ = self.reap_now();
        Completions { ring: self }
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
        let entered = match self.enter_check().and_then(|()| self.ring.get_events()) {
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(()),
            r => r,
        };
        let reaped = self.reap();
        entered.and(reaped)
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
    pub(super) fn reap_now(&mut self) -> io::Result<()> {
        if self.defer_taskrun
            && !core::mem::take(&mut self.waited)
            && (!self.taskrun_flag || self.ring.sq_flags() & crate::sys::IORING_SQ_TASKRUN != 0)
        {
            return self.get_events();
        }
        self.reap()
    }

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
            if let Some(out) = self.table.take::<T>(id.key.slot, id.key.generation) {
                return Ok(out);
            }
            if !self.table.is_in_flight(id.key.slot, id.key.generation) {
                return Err(io::Error::from_raw_os_error(libc::ENOENT));
            }
            match self.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
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
            match self.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
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

    pub(super) fn cancel_key(&mut self, key: OpKey) -> io::Result<()> {
        if key.ring != self.id || !self.table.is_in_flight(key.slot, key.generation) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        self.make_room(1)?;
        self.push_cancel(user_data(key.slot, key.generation))?;
        self.submit_retrying()?;
        Ok(())
    }

    /// Pushes an internal cancellation of `target` (room must have been made).
    fn push_cancel(&mut self, target: u64) -> io::Result<()> {
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

    pub(super) fn detach_key(&mut self, key: OpKey) {
        if key.ring != self.id {
            return;
        }
        self.table.detach(key.slot, key.generation);
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

    pub(super) fn take_ready<T: Op>(&mut self, id: &OpId<T>) -> Option<T::Output> {
        if id.key.ring != self.id {
            return None;
        }
        self.table.take::<T>(id.key.slot, id.key.generation)
    }

    /// The oldest finished operation, out of the table.
    #[inline(always)]
    fn pop_completion(&mut self) -> Option<Completion> {
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
        let reaped = self.reap_now();
        if let Some(seen) = self.activity.as_mut() {
            keys.append(seen);
        }
        reaped
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
        self.take_activity(keys)?;
        // Descriptors other rings passed here are activity too (for
        // `take_received`), though no operation of this ring saw them.
        let entered = if keys.len() > before || !self.passed.is_empty() {
            self.submit().map(drop)
        } else if self.table.in_flight() == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        } else {
            self.submit_and_wait(1).map(drop)
        };
        match entered {
            Err(e) if !matches!(error::errno(&e), Some(libc::EINTR | libc::EBUSY)) => {
                return Err(e);
            }
            _ => {}
        }
        self.take_activity(keys)
    }

    /// Whether operation `id` is still in the table (its final completion not yet
    /// processed).
    pub fn is_in_flight<T>(&self, id: &OpId<T>) -> bool {
        id.key.ring == self.id && self.table.is_in_flight(id.key.slot, id.key.generation)
    }

    /// Moves every posted completion out of the kernel's queue into `ready` (or
    /// `raw`), flushing the overflow list while there is one.
    pub(super) fn reap(&mut self) -> io::Result<()> {
        self.waited = false;
        let mut stalled = false;
        loop {
            let mut n = 0usize;
            {
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
                for cqe in ring.completion() {
                    n += 1;
                    if super::direct::is_passed(&cqe) {
                        passed.push_back(cqe);
                        continue;
                    }
                    let seen = Seen {
                        touched: touched.as_mut(),
                        activity: activity.as_mut(),
                    };
                    dispatch(table, raw, seen, *id, &cqe);
                }
                // Released held files whose operations just finished.
                table.close_released();
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
    pub fn close(mut self) -> CloseReport {
        if self.table.in_flight() > 0 && self.on_foreign_thread() {
            if let Some(alive) = self.owner_alive.clone() {
                let (owner, n) = (self.issuer, self.table.in_flight());
                match issuer::park(owner, &alive, Box::new(self)) {
                    Ok(()) => {
                        return CloseReport {
                            completed: 0,
                            leaked: 0,
                            handed_back: n,
                        };
                    }
                    Err(back) => self = *back,
                }
            }
        }
        let timeout = self.drop_timeout;
        self.shutdown(timeout)
    }

    /// Processes completions by reading the completion queue alone (no entry
    /// into the kernel), pausing in between, until nothing is in flight or
    /// `deadline` passes.
    fn await_by_reading(&mut self, deadline: Instant) {
        let mut pause = SHUTDOWN_FIRST_PAUSE;
        loop {
            let _ = self.reap();
            self.table.drop_all_done();
            let now = Instant::now();
            if self.table.in_flight() == 0 || now >= deadline {
                return;
            }
            std::thread::sleep((deadline - now).min(pause));
            pause = (pause * 2).min(SHUTDOWN_MAX_PAUSE);
        }
    }

    /// Moves everything out, for handing the ring back to its thread; leaves an
    /// empty table behind.
    ///
    /// # Safety
    ///
    /// Only from `Drop`, which must not touch `self.ring` afterwards (it was
    /// moved out of its `ManuallyDrop`).
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

    /// Pushes and submits a cancellation for every operation in flight; whether
    /// the ring took them.
    fn cancel_in_flight(&mut self) -> bool {
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

    fn shutdown(&mut self, timeout: Duration) -> CloseReport {
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
            self.await_by_reading(deadline);
        }
        // Everything queued goes to the kernel, then a cancellation for each.
        let mut can_wait =
            !self.on_foreign_thread() && self.submit_retrying().is_ok() && self.cancel_in_flight();
        // A cancellation finds only what the kernel has issued: a linked member
        // whose head just completed is still queued (as task work; on a
        // DEFER_TASKRUN ring until this task waits) and is issued after it. So
        // whenever a wait passes with nothing completing, cancel again what is
        // still in flight, pausing a little longer each time.
        let mut pause = SHUTDOWN_FIRST_PAUSE;
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
                .submit_and_wait_timeout(1, (deadline - now).min(pause))
            {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::ETIME) => {
                    let _ = self.reap();
                    self.table.drop_all_done();
                    can_wait = self.cancel_in_flight();
                    pause = (pause * 2).min(SHUTDOWN_MAX_PAUSE);
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

/// How long shutdown first waits for completions before cancelling again what
/// is still in flight; the pause doubles up to [`SHUTDOWN_MAX_PAUSE`].
const SHUTDOWN_FIRST_PAUSE: Duration = Duration::from_millis(1);
const SHUTDOWN_MAX_PAUSE: Duration = Duration::from_millis(100);

/// Where [`dispatch`] records which operation saw a completion.
struct Seen<'a> {
    touched: Option<&'a mut Vec<OpKey>>,
    activity: Option<&'a mut Vec<OpKey>>,
}

/// Routes one completion: to its table entry (completing it unless `MORE`), to
/// the raw queue, or nowhere (internal entries).
#[inline(always)]
fn dispatch(table: &mut Slab, raw: &mut VecDeque<Cqe>, seen: Seen<'_>, ring_id: u64, cqe: &Cqe) {
    let ud = cqe.user_data();
    if ud & TAG_OWNED == 0 {
        if ud & TAG_INTERNAL == 0 {
            raw.push_back(*cqe);
        }
        return;
    }
    let slot = ud as u32;
    let gen_low = (ud >> 32) & GEN_MASK;
    // Not one of ours in flight (`Unknown`) cannot happen while the user-data
    // rules hold.
    if let Routed::Op(generation) = table.on_cqe(slot, gen_low, GEN_MASK, cqe) {
        if seen.touched.is_some() || seen.activity.is_some() {
            let key = OpKey {
                ring: ring_id,
                slot,
                generation,
            };
            if let Some(touched) = seen.touched {
                touched.push(key);
            }
            if let Some(activity) = seen.activity {
                activity.push(key);
            }
        }
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        // A SINGLE_ISSUER ring dropped on another thread cannot cancel there:
        // hand it back to its own thread, if that thread lives.
        if self.table.in_flight() > 0 && self.on_foreign_thread() {
            if let Some(alive) = self.owner_alive.clone() {
                if alive.load(Ordering::Acquire) {
                    let owner = self.issuer;
                    // SAFETY: called from drop, which returns right after and
                    // does not touch `self.ring` again.
                    let moved = Box::new(unsafe { self.take_all() });
                    // If the thread has just exited, the ring comes back: its own
                    // drop then waits by reading the queue (and leaks the rest).
                    if let Err(back) = issuer::park(owner, &alive, moved) {
                        drop(back);
                    }
                    return;
                }
            }
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

impl fmt::Debug for OwnedRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRing")
            .field("ring", &*self.ring)
            .field("in_flight", &self.table.in_flight())
            .field("ready", &self.table.ready_len())
            .finish_non_exhaustive()
    }
}

/// Iterator over finished operations, from [`OwnedRing::completions`]. Each item
/// is taken out of the ring's queue as it is yielded; the rest stay queued if the
/// iterator is dropped early.
pub struct Completions<'a> {
    ring: &'a mut OwnedRing,
}

impl Iterator for Completions<'_> {
    type Item = Completion;

    #[inline(always)]
    fn next(&mut self) -> Option<Completion> {
        self.ring.pop_completion()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.ring.table.ready_len();
        (n, Some(n))
    }
}

impl fmt::Debug for Completions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
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
