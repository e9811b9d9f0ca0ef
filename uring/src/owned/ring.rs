//! [`OwnedRing`]: submitting operations, processing their completions, and
//! closing with nothing freed that the kernel may still use.
//!
//! Here: the ring itself, its set-up and its held files; the rest by
//! responsibility in `submit` (queueing, submitting, cancelling), `reap`
//! (processing completions, handing finished operations out), `wait` (waiting
//! for them) and `close` (closing and dropping).

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use super::OpKey;
use super::issuer::{self, ANY_THREAD, UNBOUND};
use super::slab::Slab;
use super::table::TAG_INTERNAL;
use crate::cqueue::Cqe;
use crate::setup::{Builder, Features, SetupFlags};
use crate::sqe::{Sqe, SqeFlags};
use crate::{Ring, error};

mod close;
mod reap;
mod submit;
mod wait;

pub use reap::{Completions, CompletionsOf, RawCompletions};

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

/// A new ring's id (for its keys), never one another ring of this process has.
pub(super) fn next_ring_id() -> u64 {
    NEXT_RING_ID.fetch_add(1, Ordering::Relaxed)
}

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
            id: next_ring_id(),
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
    /// [`HeldFd`](super::HeldFd) handle this returns: the ring keeps the descriptor open while
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

    /// Holds a direct descriptor of this ring's [`DirectTable`](super::DirectTable)
    /// as [`hold_fd`](Self::hold_fd) holds a plain one: operations name it
    /// through the `Copy` [`HeldFd`](super::HeldFd) this returns (as a fixed
    /// file, `IOSQE_FIXED_FILE`) with no reference count of their own, where a
    /// [`DirectFd`](super::DirectFd) an operation takes is a share (an atomic
    /// count) per operation. The ring keeps `fd` until
    /// [`release_fd`](Self::release_fd) and the final completions of the
    /// operations then naming it; dropping that share empties the slot if it
    /// was the last.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use uring::owned::{DirectTable, OwnedRing, ops};
    /// let mut ring = OwnedRing::new(8)?;
    /// # let Ok(table) = DirectTable::new(&mut ring, 4, 0) else { return Ok(()) }; // < 6.0
    /// # /*
    /// let table = DirectTable::new(&mut ring, 4, 0)?;
    /// # */
    /// let (ours, mut peer) = std::os::unix::net::UnixStream::pair()?;
    /// let sock = ring.hold_direct(table.insert(ours)?)?;
    /// peer.write_all(b"ping")?;
    /// let id = ring.submit_op(ops::Recv::new(sock, vec![0u8; 4]))?;
    /// let (n, buf) = ring.wait_for(id)?;
    /// assert_eq!((n?, &buf[..]), (4, &b"ping"[..]));
    /// ring.release_fd(sock)?; // the last share: the slot is emptied
    /// assert_eq!(table.in_use(), 0);
    /// drop(ring);
    /// assert_eq!(peer.read(&mut [0u8; 1])?, 0); // the socket was closed
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EXDEV` when `fd` belongs to another ring's table; `ENFILE` when the
    /// ring holds [`MAX_HELD_FDS`](super::MAX_HELD_FDS) files already (`fd` is
    /// dropped).
    pub fn hold_direct(&mut self, fd: super::DirectFd) -> io::Result<super::HeldFd> {
        self.table.files.hold_direct(fd, self.id)
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
