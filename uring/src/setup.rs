//! Setting a ring up: the [`Builder`], the [`SetupFlags`] it sends to
//! `io_uring_setup(2)`, the [`Features`] the kernel answers with, and the
//! [`Params`] it filled in.
//!
//! ```
//! use uring::{Ring, SetupFlags};
//!
//! let ring = Ring::builder().cq_entries(64).submit_all().build(8)?;
//! assert_eq!(ring.params().sq_entries(), 8);
//! assert_eq!(ring.params().cq_entries(), 64);
//! assert!(ring.flags().contains(SetupFlags::CQSIZE | SetupFlags::SUBMIT_ALL));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::with_context;
use crate::mem::Mmap;
use crate::ring::Ring;
use crate::sys;

/// The liburing release this crate is linked against (`DEP_URING_VERSION`, as
/// liburing-sys publishes it), for error messages.
pub(crate) const LINKED_LIBURING: &str = env!("URING_LIBURING_VERSION");
/// Its minor number (liburing releases are all 2.x).
const LINKED_MINOR: u32 = parse_u32(env!("URING_LIBURING_MINOR"));

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0;
    while i < b.len() {
        assert!(
            b[i].is_ascii_digit(),
            "URING_LIBURING_MINOR is not a number"
        );
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

/// The error for something the linked liburing is too old to do: `EOPNOTSUPP`
/// (kind `Unsupported`), naming the release it needs and the one linked.
#[cold]
pub(crate) fn needs_liburing(what: impl fmt::Display, minor: u32) -> io::Error {
    with_context(
        libc::EOPNOTSUPP,
        format!(
            "{what} needs liburing 2.{minor} or later, and uring is linked against \
             liburing {LINKED_LIBURING} (the `vendored` feature builds the bundled 2.15)"
        ),
    )
}

/// Setup flags that liburing itself must know to set a ring up — it lays out,
/// maps or fills the rings by them — with the liburing 2.x release that learned
/// each. (The others only matter to the kernel and to this crate's own
/// submit and reap paths, which know them all.)
const LIBURING_SETUP_FLAGS: &[(u32, &str, u32)] = &[
    // Rings in application memory: io_uring_queue_init_mem (2.5), and not
    // mmap. 2.5–2.7 set such a ring up, but their io_uring_queue_exit unmaps
    // the start of the application's memory (it takes "no ring size" for "one
    // mapping of liburing's own"), which the owner then unmaps again: whatever
    // was mapped into the hole meanwhile (another thread's stack) goes with it.
    (sys::IORING_SETUP_NO_MMAP, "NO_MMAP", 8),
    // No ring fd, only a registered index; needs NO_MMAP.
    (
        sys::IORING_SETUP_REGISTERED_FD_ONLY,
        "REGISTERED_FD_ONLY",
        8,
    ),
    // No SQ index array: an older liburing fills the array it believes is at
    // offset 0 of the SQ ring, over the kernel's head and tail.
    (sys::IORING_SETUP_NO_SQARRAY, "NO_SQARRAY", 6),
];

/// Refuses setup flags the linked liburing would mishandle, naming all of them
/// and the release that knows them all.
fn check_liburing_setup_flags(flags: u32) -> io::Result<()> {
    let mut names = Vec::new();
    let mut need = 0;
    for &(bit, name, minor) in LIBURING_SETUP_FLAGS {
        if flags & bit != 0 && LINKED_MINOR < minor {
            names.push(format!("IORING_SETUP_{name}"));
            need = need.max(minor);
        }
    }
    if names.is_empty() {
        return Ok(());
    }
    Err(needs_liburing(
        format_args!("setting a ring up with {}", names.join(" | ")),
        need,
    ))
}

/// The kernel's limit on submission queue entries (`IORING_MAX_ENTRIES`).
pub const MAX_ENTRIES: u32 = 32768;
/// The kernel's limit on completion queue entries (`IORING_MAX_CQ_ENTRIES`).
pub const MAX_CQ_ENTRIES: u32 = 2 * MAX_ENTRIES;

bitflags::bitflags! {
    /// The `IORING_SETUP_*` flags of `io_uring_setup(2)`, all 21 that liburing 2.15
    /// knows. Unknown bits are kept, so flags of newer kernels survive a round trip.
    ///
    /// Each flag has a [`Builder`] method of the same name that documents it in full.
    ///
    /// ```
    /// use uring::SetupFlags;
    /// let f = SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN;
    /// assert_eq!(f.bits(), uring::sys::IORING_SETUP_SINGLE_ISSUER | uring::sys::IORING_SETUP_DEFER_TASKRUN);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SetupFlags: u32 {
        /// Busy-poll for I/O completions (5.1). See [`Builder::iopoll`].
        const IOPOLL = sys::IORING_SETUP_IOPOLL;
        /// A kernel thread polls the submission queue (5.1). See [`Builder::sqpoll`].
        const SQPOLL = sys::IORING_SETUP_SQPOLL;
        /// Pin the SQPOLL thread to `sq_thread_cpu` (5.1). See [`Builder::sq_thread_cpu`].
        const SQ_AFF = sys::IORING_SETUP_SQ_AFF;
        /// Completion queue size from `cq_entries` (5.5). See [`Builder::cq_entries`].
        const CQSIZE = sys::IORING_SETUP_CQSIZE;
        /// Clamp too-large sizes instead of failing (5.6). See [`Builder::clamp`].
        const CLAMP = sys::IORING_SETUP_CLAMP;
        /// Share the async worker pool of `wq_fd` (5.6). See [`Builder::attach_wq`].
        const ATTACH_WQ = sys::IORING_SETUP_ATTACH_WQ;
        /// Start disabled (5.10). See [`Builder::r_disabled`].
        const R_DISABLED = sys::IORING_SETUP_R_DISABLED;
        /// Keep submitting after an entry fails to submit (5.18). See [`Builder::submit_all`].
        const SUBMIT_ALL = sys::IORING_SETUP_SUBMIT_ALL;
        /// No interrupting task work (5.19). See [`Builder::coop_taskrun`].
        const COOP_TASKRUN = sys::IORING_SETUP_COOP_TASKRUN;
        /// Flag pending task work in the SQ ring (5.19). See [`Builder::taskrun_flag`].
        const TASKRUN_FLAG = sys::IORING_SETUP_TASKRUN_FLAG;
        /// 128-byte submission entries (5.19). See [`Builder::sqe128`].
        const SQE128 = sys::IORING_SETUP_SQE128;
        /// 32-byte completion entries (5.19). See [`Builder::cqe32`].
        const CQE32 = sys::IORING_SETUP_CQE32;
        /// Only one task submits (6.0). See [`Builder::single_issuer`].
        const SINGLE_ISSUER = sys::IORING_SETUP_SINGLE_ISSUER;
        /// Run completion work only when the issuer waits (6.1). See [`Builder::defer_taskrun`].
        const DEFER_TASKRUN = sys::IORING_SETUP_DEFER_TASKRUN;
        /// Rings live in application memory (6.5). See [`Builder::no_mmap`].
        const NO_MMAP = sys::IORING_SETUP_NO_MMAP;
        /// No ring file descriptor, only a registered index (6.5). See [`Builder::registered_fd_only`].
        const REGISTERED_FD_ONLY = sys::IORING_SETUP_REGISTERED_FD_ONLY;
        /// No SQ index array (6.6). See [`Builder::no_sqarray`].
        const NO_SQARRAY = sys::IORING_SETUP_NO_SQARRAY;
        /// Hybrid (sleep, then poll) I/O polling (6.13). See [`Builder::hybrid_iopoll`].
        const HYBRID_IOPOLL = sys::IORING_SETUP_HYBRID_IOPOLL;
        /// Both 16- and 32-byte completion entries (6.18). See [`Builder::cqe_mixed`].
        const CQE_MIXED = sys::IORING_SETUP_CQE_MIXED;
        /// Both 64- and 128-byte submission entries (6.19). See [`Builder::sqe_mixed`].
        const SQE_MIXED = sys::IORING_SETUP_SQE_MIXED;
        /// Non-circular submission queue (7.0). See [`Builder::sq_rewind`].
        const SQ_REWIND = sys::IORING_SETUP_SQ_REWIND;

        const _ = !0;
    }
}

bitflags::bitflags! {
    /// The `IORING_FEAT_*` bits the kernel reports at setup: what this kernel's
    /// io_uring can do. All 18 of liburing 2.15; unknown bits are kept.
    ///
    /// ```
    /// use uring::{Features, Ring};
    /// let ring = Ring::new(4)?;
    /// // Every kernel this crate supports posts overflowed completions later
    /// // instead of dropping them.
    /// assert!(ring.features().contains(Features::NODROP));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct Features: u32 {
        /// SQ and CQ rings share one mapping (5.4).
        const SINGLE_MMAP = sys::IORING_FEAT_SINGLE_MMAP;
        /// Completions that do not fit in the CQ are kept, not dropped (5.5).
        const NODROP = sys::IORING_FEAT_NODROP;
        /// Data an entry points at is consumed by submit, not later (5.5).
        const SUBMIT_STABLE = sys::IORING_FEAT_SUBMIT_STABLE;
        /// Offset `-1` means the file's current position for reads and writes (5.6).
        const RW_CUR_POS = sys::IORING_FEAT_RW_CUR_POS;
        /// Requests run with the submitting task's credentials (5.6).
        const CUR_PERSONALITY = sys::IORING_FEAT_CUR_PERSONALITY;
        /// Internal polling for readiness instead of async workers (5.7).
        const FAST_POLL = sys::IORING_FEAT_FAST_POLL;
        /// 32-bit poll event masks, `EPOLLEXCLUSIVE` (5.9).
        const POLL_32BITS = sys::IORING_FEAT_POLL_32BITS;
        /// SQPOLL works with unregistered files (5.11).
        const SQPOLL_NONFIXED = sys::IORING_FEAT_SQPOLL_NONFIXED;
        /// `io_uring_enter` takes `io_uring_getevents_arg` (wait timeouts) (5.11).
        const EXT_ARG = sys::IORING_FEAT_EXT_ARG;
        /// Async workers are native threads of the task (5.12).
        const NATIVE_WORKERS = sys::IORING_FEAT_NATIVE_WORKERS;
        /// Registered resources can carry tags (5.13).
        const RSRC_TAGS = sys::IORING_FEAT_RSRC_TAGS;
        /// `IOSQE_CQE_SKIP_SUCCESS` is supported (5.17).
        const CQE_SKIP = sys::IORING_FEAT_CQE_SKIP;
        /// Files of linked requests are resolved when each runs (5.17).
        const LINKED_FILE = sys::IORING_FEAT_LINKED_FILE;
        /// `io_uring_register` works on a registered ring index (6.3).
        const REG_REG_RING = sys::IORING_FEAT_REG_REG_RING;
        /// Bundled send and receive (6.10).
        const RECVSEND_BUNDLE = sys::IORING_FEAT_RECVSEND_BUNDLE;
        /// Waits take a minimum batch timeout (6.12).
        const MIN_TIMEOUT = sys::IORING_FEAT_MIN_TIMEOUT;
        /// Read/write attributes (`attr_ptr`, `attr_type_mask`) (6.14).
        const RW_ATTR = sys::IORING_FEAT_RW_ATTR;
        /// Waits can opt out of iowait accounting (6.15).
        const NO_IOWAIT = sys::IORING_FEAT_NO_IOWAIT;

        const _ = !0;
    }
}

impl fmt::Display for SetupFlags {
    /// `SQPOLL | CQSIZE`, `0x400000` for unknown bits, `(none)` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        bitflags::parser::to_writer(self, f)
    }
}

impl fmt::Display for Features {
    /// `SINGLE_MMAP | NODROP | …`, `(none)` when empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("(none)");
        }
        bitflags::parser::to_writer(self, f)
    }
}

/// What the kernel filled in at setup: the sizes it chose, the flags in effect
/// (including `NO_SQARRAY`, which liburing adds when the kernel has it), the
/// features, and the ring offsets.
///
/// ```
/// let ring = uring::Ring::new(5)?;
/// let p = ring.params();
/// assert_eq!(p.sq_entries(), 8); // rounded up to a power of two
/// assert_eq!(p.cq_entries(), 16); // twice the SQ unless CQSIZE says otherwise
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy)]
pub struct Params(pub(crate) sys::io_uring_params);

impl Params {
    /// Number of submission queue entries (a power of two).
    pub fn sq_entries(&self) -> u32 {
        self.0.sq_entries
    }

    /// Number of completion queue entries (a power of two).
    pub fn cq_entries(&self) -> u32 {
        self.0.cq_entries
    }

    /// The setup flags in effect.
    pub fn flags(&self) -> SetupFlags {
        SetupFlags::from_bits_retain(self.0.flags)
    }

    /// The features the kernel reported.
    pub fn features(&self) -> Features {
        Features::from_bits_retain(self.0.features)
    }

    /// The CPU the SQPOLL thread was asked to run on (meaningful with `SQ_AFF`).
    pub fn sq_thread_cpu(&self) -> u32 {
        self.0.sq_thread_cpu
    }

    /// The SQPOLL thread's idle time in milliseconds (meaningful with `SQPOLL`).
    pub fn sq_thread_idle(&self) -> u32 {
        self.0.sq_thread_idle
    }

    /// The raw kernel structure, with the ring offsets.
    pub fn as_raw(&self) -> &sys::io_uring_params {
        &self.0
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Params")
            .field("sq_entries", &self.0.sq_entries)
            .field("cq_entries", &self.0.cq_entries)
            .field("flags", &self.flags())
            .field("features", &self.features())
            .field("sq_thread_cpu", &self.0.sq_thread_cpu)
            .field("sq_thread_idle", &self.0.sq_thread_idle)
            .finish_non_exhaustive()
    }
}

/// Page-aligned anonymous memory for a `NO_MMAP` ring's SQEs and rings.
///
/// Handed to [`Builder::no_mmap_memory`], it becomes part of the [`Ring`] and is
/// unmapped only after the ring has been torn down, so the kernel never sees it
/// freed while the ring can use it. Nothing else can reach it meanwhile.
///
/// ```
/// use uring::setup::RingMemory;
/// use uring::{Ring, SetupFlags};
///
/// let need = RingMemory::required(8, SetupFlags::empty())?;
/// let mem = RingMemory::new(need)?;
/// let ring = Ring::builder().no_mmap_memory(mem).build(8);
/// # // Linux < 6.5 refuses NO_MMAP; uring refuses it with a system liburing < 2.8.
/// # let Ok(ring) = ring else { return Ok(()) };
/// assert!(ring.flags().contains(SetupFlags::NO_MMAP));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RingMemory {
    map: Mmap,
}

impl RingMemory {
    /// Maps `len` bytes (rounded up to whole pages) of zeroed, page-aligned memory.
    ///
    /// `len` 0 is refused with `EINVAL`.
    pub fn new(len: usize) -> io::Result<RingMemory> {
        RingMemory::map(len, 0)
    }

    /// Maps one 2 MiB huge page, as liburing does for large `NO_MMAP` rings.
    ///
    /// Fails with `ENOMEM` when the system has no free huge pages
    /// (`/proc/sys/vm/nr_hugepages`).
    pub fn huge_page() -> io::Result<RingMemory> {
        const MAP_HUGE_2MB: i32 = 21 << libc::MAP_HUGE_SHIFT;
        RingMemory::map(2 << 20, libc::MAP_HUGETLB | MAP_HUGE_2MB)
    }

    /// How many bytes a `NO_MMAP` ring of `entries` with `flags` needs: the SQE
    /// array and the rings (with the SQ index array unless `NO_SQARRAY`), each
    /// rounded up to whole pages, as liburing's `io_uring_memory_size` computes it.
    ///
    /// # Errors
    ///
    /// `EINVAL` for 0 entries, or more than the kernel allows without `CLAMP`.
    #[doc(alias = "io_uring_memory_size")]
    #[doc(alias = "io_uring_memory_size_params")]
    pub fn required(entries: u32, flags: SetupFlags) -> io::Result<usize> {
        let clamp = flags.contains(SetupFlags::CLAMP);
        if entries == 0 || (entries > MAX_ENTRIES && !clamp) {
            return Err(with_context(
                libc::EINVAL,
                format!(
                    "ring memory size for entries = {entries} (1..={MAX_ENTRIES} without CLAMP)"
                ),
            ));
        }
        let sq = entries.min(MAX_ENTRIES).next_power_of_two() as usize;
        let cq = 2 * sq;
        let page = crate::mem::page_size();
        let round = |n: usize| (n + page - 1) & !(page - 1);
        let cqe_size = if flags.contains(SetupFlags::CQE32) {
            32
        } else {
            16
        };
        let sqe_size = if flags.contains(SetupFlags::SQE128) {
            128
        } else {
            64
        };
        // The kernel's ring header (heads, tails, masks, flags) takes 64 bytes.
        let mut rings = 64 + cq * cqe_size;
        if !flags.contains(SetupFlags::NO_SQARRAY) {
            rings += sq * 4;
        }
        Ok(round(rings) + round(sq * sqe_size))
    }

    /// The length in bytes (whole pages).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Always false: a mapping has at least one page.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    fn map(len: usize, extra: i32) -> io::Result<RingMemory> {
        if len == 0 {
            return Err(with_context(libc::EINVAL, "ring memory of 0 bytes"));
        }
        let rounded = crate::mem::round_to_pages(len)
            .ok_or_else(|| with_context(libc::EINVAL, "ring memory length overflows"))?;
        // Shared, as liburing maps it. Unmapped when the RingMemory drops, which a
        // Ring using it does only after it has been torn down.
        let map = Mmap::anonymous(rounded, true, extra).map_err(|e| {
            with_context(
                e.raw_os_error().unwrap_or(libc::ENOMEM),
                format!("mapping {rounded} bytes of ring memory"),
            )
        })?;
        Ok(RingMemory { map })
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut core::ffi::c_void {
        self.map.as_ptr().cast()
    }
}

impl fmt::Debug for RingMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingMemory")
            .field("len", &self.map.len())
            .finish()
    }
}

/// Sets up a [`Ring`]: one method per setup flag and parameter of liburing 2.15.
///
/// Made by [`Ring::builder`]; [`build`](Builder::build) calls liburing's
/// `io_uring_queue_init_params` (or `io_uring_queue_init_mem` for
/// [`no_mmap_memory`](Builder::no_mmap_memory)). The lifetime is that of a ring fd
/// borrowed by [`attach_wq`](Builder::attach_wq).
///
/// Flag combinations are the kernel's to judge: one it refuses comes back from
/// `build` as its errno, with a message naming the flags.
///
/// ```
/// use uring::Ring;
/// let ring = Ring::builder().single_issuer().defer_taskrun().build(32)?;
/// assert_eq!(ring.params().sq_entries(), 32);
/// # Ok::<(), std::io::Error>(())
/// ```
#[must_use = "a Builder does nothing until `build` is called"]
pub struct Builder<'fd> {
    params: sys::io_uring_params,
    memory: Option<RingMemory>,
    register_fd: bool,
    _wq: PhantomData<BorrowedFd<'fd>>,
}

impl Default for Builder<'_> {
    fn default() -> Self {
        Builder {
            params: sys::io_uring_params::default(),
            memory: None,
            register_fd: false,
            _wq: PhantomData,
        }
    }
}

impl fmt::Debug for Builder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("flags", &SetupFlags::from_bits_retain(self.params.flags))
            .field("cq_entries", &self.params.cq_entries)
            .field("sq_thread_cpu", &self.params.sq_thread_cpu)
            .field("sq_thread_idle", &self.params.sq_thread_idle)
            .field("wq_fd", &self.params.wq_fd)
            .field("memory", &self.memory)
            .field("register_ring_fd", &self.register_fd)
            .finish()
    }
}

impl<'fd> Builder<'fd> {
    /// A builder with no flags: an interrupt-driven ring with a CQ twice the SQ.
    pub fn new() -> Builder<'fd> {
        Builder::default()
    }

    #[inline]
    fn set(mut self, flag: u32) -> Self {
        self.params.flags |= flag;
        self
    }

    /// Adds raw setup flags (any bits, known or not) to those already chosen.
    ///
    /// ```
    /// use uring::{Ring, SetupFlags};
    /// let ring = Ring::builder().flags(SetupFlags::CLAMP | SetupFlags::SUBMIT_ALL).build(4)?;
    /// assert!(ring.flags().contains(SetupFlags::SUBMIT_ALL));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn flags(self, flags: SetupFlags) -> Self {
        self.set(flags.bits())
    }

    /// `IORING_SETUP_IOPOLL` (Linux 5.1): busy-poll for completions instead of
    /// taking interrupts. Only for files opened `O_DIRECT` on devices with poll
    /// queues (NVMe with `nvme.poll_queues`); a ring set up this way must enter the
    /// kernel to reap, and refuses opcodes that cannot be polled.
    #[doc(alias = "IORING_SETUP_IOPOLL")]
    pub fn iopoll(self) -> Self {
        self.set(sys::IORING_SETUP_IOPOLL)
    }

    /// `IORING_SETUP_HYBRID_IOPOLL` (Linux 6.13): with [`iopoll`](Self::iopoll),
    /// sleep for about the expected completion time before polling, trading a little
    /// latency for much less CPU. Requires `IOPOLL`.
    #[doc(alias = "IORING_SETUP_HYBRID_IOPOLL")]
    pub fn hybrid_iopoll(self) -> Self {
        self.set(sys::IORING_SETUP_HYBRID_IOPOLL)
    }

    /// `IORING_SETUP_SQPOLL` (Linux 5.1): a kernel thread polls the submission queue
    /// so submitting needs no system call while it is awake. It sleeps after
    /// [`sq_thread_idle`](Self::sq_thread_idle) ms without work; the next
    /// [`Ring::submit`](crate::Ring::submit) wakes it. Before 5.11 it needs
    /// `CAP_SYS_ADMIN` and registered files.
    #[doc(alias = "IORING_SETUP_SQPOLL")]
    pub fn sqpoll(self) -> Self {
        self.set(sys::IORING_SETUP_SQPOLL)
    }

    /// How long, in milliseconds, the SQPOLL thread spins without work before it
    /// sleeps (the kernel's default is one second). Meaningful with
    /// [`sqpoll`](Self::sqpoll).
    pub fn sq_thread_idle(mut self, millis: u32) -> Self {
        self.params.sq_thread_idle = millis;
        self
    }

    /// `IORING_SETUP_SQ_AFF` (Linux 5.1): pin the SQPOLL thread to `cpu`. Requires
    /// [`sqpoll`](Self::sqpoll); the kernel refuses it otherwise.
    #[doc(alias = "IORING_SETUP_SQ_AFF")]
    pub fn sq_thread_cpu(mut self, cpu: u32) -> Self {
        self.params.sq_thread_cpu = cpu;
        self.set(sys::IORING_SETUP_SQ_AFF)
    }

    /// `IORING_SETUP_CQSIZE` (Linux 5.5): a completion queue of `entries` (rounded up
    /// to a power of two, at least the SQ size, at most 65536 unless
    /// [`clamp`](Self::clamp)) instead of twice the SQ size.
    #[doc(alias = "IORING_SETUP_CQSIZE")]
    pub fn cq_entries(mut self, entries: u32) -> Self {
        self.params.cq_entries = entries;
        self.set(sys::IORING_SETUP_CQSIZE)
    }

    /// `IORING_SETUP_CLAMP` (Linux 5.6): sizes above the kernel's limits (32768 SQ,
    /// 65536 CQ entries) are clamped to them instead of failing with `EINVAL`.
    #[doc(alias = "IORING_SETUP_CLAMP")]
    pub fn clamp(self) -> Self {
        self.set(sys::IORING_SETUP_CLAMP)
    }

    /// `IORING_SETUP_ATTACH_WQ` (Linux 5.6): share `ring`'s async worker pool (and,
    /// with SQPOLL, its poll thread) instead of creating new ones. `ring` must have
    /// a file descriptor (see [`Ring::fd`](crate::Ring::fd)); `build` fails with
    /// `EBADF` otherwise.
    #[doc(alias = "IORING_SETUP_ATTACH_WQ")]
    pub fn attach_wq(mut self, ring: &'fd Ring) -> Self {
        self.params.wq_fd = ring.as_raw_fd() as u32;
        self.set(sys::IORING_SETUP_ATTACH_WQ)
    }

    /// [`attach_wq`](Self::attach_wq) by file descriptor: `fd` must be an io_uring
    /// (the kernel checks, with `EINVAL`).
    #[doc(alias = "IORING_SETUP_ATTACH_WQ")]
    pub fn attach_wq_fd(mut self, fd: BorrowedFd<'fd>) -> Self {
        self.params.wq_fd = fd.as_raw_fd() as u32;
        self.set(sys::IORING_SETUP_ATTACH_WQ)
    }

    /// `IORING_SETUP_R_DISABLED` (Linux 5.10): the ring starts disabled, so
    /// restrictions and resources can be registered before any submission;
    /// [`Ring::enable_rings`](crate::Ring::enable_rings) starts it. Submitting to a
    /// disabled ring fails with `EBADFD`.
    #[doc(alias = "IORING_SETUP_R_DISABLED")]
    pub fn r_disabled(self) -> Self {
        self.set(sys::IORING_SETUP_R_DISABLED)
    }

    /// `IORING_SETUP_SUBMIT_ALL` (Linux 5.18): keep submitting the rest of a batch
    /// when one entry fails to submit, instead of stopping there. The failed entry
    /// still completes with its error.
    #[doc(alias = "IORING_SETUP_SUBMIT_ALL")]
    pub fn submit_all(self) -> Self {
        self.set(sys::IORING_SETUP_SUBMIT_ALL)
    }

    /// `IORING_SETUP_COOP_TASKRUN` (Linux 5.19): completion task work does not
    /// interrupt the task with an IPI; it runs on the next transition to the kernel.
    /// Good for event loops that enter the kernel regularly.
    #[doc(alias = "IORING_SETUP_COOP_TASKRUN")]
    pub fn coop_taskrun(self) -> Self {
        self.set(sys::IORING_SETUP_COOP_TASKRUN)
    }

    /// `IORING_SETUP_TASKRUN_FLAG` (Linux 5.19): set `IORING_SQ_TASKRUN` in the SQ
    /// ring flags while task work is pending, so a peek knows to enter the kernel.
    /// Used with `COOP_TASKRUN` or `DEFER_TASKRUN`; [`Ring::submit`](crate::Ring::submit)
    /// honours it.
    #[doc(alias = "IORING_SETUP_TASKRUN_FLAG")]
    pub fn taskrun_flag(self) -> Self {
        self.set(sys::IORING_SETUP_TASKRUN_FLAG)
    }

    /// `IORING_SETUP_SQE128` (Linux 5.19): every submission entry is 128 bytes, for
    /// commands with more data (NVMe passthrough `URING_CMD`). Enables
    /// [`SubmissionQueue::push128`](crate::SubmissionQueue::push128).
    #[doc(alias = "IORING_SETUP_SQE128")]
    pub fn sqe128(self) -> Self {
        self.set(sys::IORING_SETUP_SQE128)
    }

    /// `IORING_SETUP_CQE32` (Linux 5.19): every completion entry is 32 bytes; the 16
    /// extra bytes come back as [`Cqe::big`](crate::Cqe::big).
    #[doc(alias = "IORING_SETUP_CQE32")]
    pub fn cqe32(self) -> Self {
        self.set(sys::IORING_SETUP_CQE32)
    }

    /// `IORING_SETUP_SINGLE_ISSUER` (Linux 6.0): a promise that only one task
    /// submits (the one that creates the ring, or enables it with `R_DISABLED`),
    /// which lets the kernel skip locking. Submitting from another thread fails
    /// with `EEXIST` — a [`Ring`] is `Send`, so moving it is allowed, but a moved
    /// single-issuer ring stops accepting submissions.
    #[doc(alias = "IORING_SETUP_SINGLE_ISSUER")]
    pub fn single_issuer(self) -> Self {
        self.set(sys::IORING_SETUP_SINGLE_ISSUER)
    }

    /// `IORING_SETUP_DEFER_TASKRUN` (Linux 6.1): completion work runs only when the
    /// issuer enters the kernel to wait for completions (`submit_and_wait`,
    /// `get_events`), never asynchronously. Requires
    /// [`single_issuer`](Self::single_issuer) (`EINVAL` otherwise). The usual
    /// choice for one ring per thread.
    #[doc(alias = "IORING_SETUP_DEFER_TASKRUN")]
    pub fn defer_taskrun(self) -> Self {
        self.set(sys::IORING_SETUP_DEFER_TASKRUN)
    }

    /// `IORING_SETUP_NO_MMAP` (Linux 6.5): the SQEs and rings live in memory the
    /// application provides rather than memory the kernel allocates for `mmap`.
    /// With this method the ring maps it itself ([`RingMemory::required`] bytes of
    /// ordinary pages; if the kernel refuses those, as kernels before 6.13 do for
    /// parts larger than a page, one 2 MiB huge page, which needs free huge pages)
    /// and unmaps it at teardown; see [`no_mmap_memory`](Self::no_mmap_memory) to
    /// provide it yourself. Needs liburing 2.8 or later (2.5–2.7 unmap part of the
    /// ring's memory at teardown, which is not theirs): with an older system
    /// liburing `build` fails with `EOPNOTSUPP`, naming both versions.
    #[doc(alias = "IORING_SETUP_NO_MMAP")]
    pub fn no_mmap(self) -> Self {
        self.set(sys::IORING_SETUP_NO_MMAP)
    }

    /// [`no_mmap`](Self::no_mmap) in memory you mapped: `memory` moves into the
    /// ring and is unmapped after the ring is torn down. It must hold at least
    /// [`RingMemory::required`] bytes; `build` fails with `ENOMEM` otherwise.
    /// Needs liburing 2.8 or later (see [`no_mmap`](Self::no_mmap)); with an older
    /// system liburing `build` fails with `EOPNOTSUPP`.
    #[doc(alias = "io_uring_queue_init_mem")]
    pub fn no_mmap_memory(mut self, memory: RingMemory) -> Self {
        self.memory = Some(memory);
        self.set(sys::IORING_SETUP_NO_MMAP)
    }

    /// `IORING_SETUP_REGISTERED_FD_ONLY` (Linux 6.5): no file descriptor is created
    /// for the ring, only a registered-ring index that every enter uses. Requires
    /// [`no_mmap`](Self::no_mmap) (`EINVAL` otherwise). Such a ring has no
    /// [`fd`](crate::Ring::fd) and cannot be polled or attached to. Needs
    /// liburing 2.8 or later, as `NO_MMAP` does (`EOPNOTSUPP` from `build` otherwise).
    #[doc(alias = "IORING_SETUP_REGISTERED_FD_ONLY")]
    pub fn registered_fd_only(self) -> Self {
        self.set(sys::IORING_SETUP_REGISTERED_FD_ONLY)
    }

    /// `IORING_SETUP_NO_SQARRAY` (Linux 6.6): no SQ index array; entries are taken in
    /// ring order. liburing already sets this whenever the kernel accepts it; asking
    /// for it explicitly makes setup fail on kernels that lack it instead of falling
    /// back. Needs liburing 2.6 or later, the first to know the flag (older ones
    /// would fill an index array the ring does not have): `EOPNOTSUPP` from
    /// `build` otherwise; they set rings up with the array.
    #[doc(alias = "IORING_SETUP_NO_SQARRAY")]
    pub fn no_sqarray(self) -> Self {
        self.set(sys::IORING_SETUP_NO_SQARRAY)
    }

    /// `IORING_SETUP_CQE_MIXED` (Linux 6.18): the completion queue holds both 16- and
    /// 32-byte entries; a 32-byte one carries `IORING_CQE_F_32` and the kernel pads
    /// with `IORING_CQE_F_SKIP` entries at the wrap. The
    /// [`CompletionQueue`](crate::CompletionQueue) handles both transparently.
    #[doc(alias = "IORING_SETUP_CQE_MIXED")]
    pub fn cqe_mixed(self) -> Self {
        self.set(sys::IORING_SETUP_CQE_MIXED)
    }

    /// `IORING_SETUP_SQE_MIXED` (Linux 6.19): the submission queue holds both 64- and
    /// 128-byte entries, sized by opcode (`NOP128` and `URING_CMD128` take two
    /// slots). [`push128`](crate::SubmissionQueue::push128) places them, padding
    /// with a skipped NOP at the wrap as liburing does.
    #[doc(alias = "IORING_SETUP_SQE_MIXED")]
    pub fn sqe_mixed(self) -> Self {
        self.set(sys::IORING_SETUP_SQE_MIXED)
    }

    /// `IORING_SETUP_SQ_REWIND` (Linux 7.0): a non-circular submission queue; every
    /// submit takes entries from slot 0, keeping them hot in cache. Requires
    /// `NO_SQARRAY`, incompatible with `SQPOLL`.
    #[doc(alias = "IORING_SETUP_SQ_REWIND")]
    pub fn sq_rewind(self) -> Self {
        self.set(sys::IORING_SETUP_SQ_REWIND)
    }

    /// After setup, register the ring's fd with the building thread
    /// ([`Ring::register_ring_fd`](crate::Ring::register_ring_fd), Linux 5.18), so
    /// every enter skips the kernel's fd lookup (a few percent per system call).
    /// Not a setup flag: liburing does not do this by default. A thread can hold
    /// 16 registered rings; `build` fails with `EBUSY` beyond that.
    ///
    /// ```
    /// let ring = uring::Ring::builder().register_ring_fd().build(8)?;
    /// assert!(ring.is_ring_fd_registered());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_register_ring_fd")]
    pub fn register_ring_fd(mut self) -> Self {
        self.register_fd = true;
        self
    }

    /// The flags chosen so far.
    pub fn setup_flags(&self) -> SetupFlags {
        SetupFlags::from_bits_retain(self.params.flags)
    }

    /// Sets the ring up with `entries` submission queue entries (rounded up to a
    /// power of two).
    ///
    /// # Errors
    ///
    /// * `EINVAL` when `entries` is 0, or above 32768 without
    ///   [`clamp`](Self::clamp), or [`cq_entries`](Self::cq_entries) is 0, above
    ///   65536 without `clamp`, or smaller than `entries`; the message names the
    ///   numbers and the limit.
    /// * `EOPNOTSUPP` (kind `Unsupported`) for a flag the linked liburing is too
    ///   old to set up (`NO_MMAP` and `REGISTERED_FD_ONLY` need 2.8,
    ///   `NO_SQARRAY` 2.6), naming the release needed and the one linked.
    /// * The kernel's errno when it refuses the set-up (`EINVAL` for an unsupported
    ///   flag or combination, `EPERM` for SQPOLL without privilege on old kernels,
    ///   `ENOMEM`, …). For a combination that is a known mistake (one flag that
    ///   requires another, two that exclude each other, SQPOLL without privilege,
    ///   `NO_MMAP` memory too small), with a message naming the flags and the
    ///   rule; otherwise — most often a flag this kernel does not know, which a
    ///   caller may want to fall back from — the plain OS error, so
    ///   [`raw_os_error`](io::Error::raw_os_error) gives it:
    ///
    /// ```
    /// use uring::setup::SetupFlags;
    /// let err = uring::Ring::builder()
    ///     .flags(SetupFlags::from_bits_retain(1 << 31)) // no kernel knows it
    ///     .build(8)
    ///     .unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    /// ```
    #[doc(alias = "io_uring_setup")]
    #[doc(alias = "io_uring_queue_init_params")]
    pub fn build(mut self, entries: u32) -> io::Result<Ring> {
        self.check_entries(entries)?;
        check_liburing_setup_flags(self.params.flags)?;
        #[cfg(liburing_2_8)]
        if self.memory.is_none() && self.params.flags & sys::IORING_SETUP_NO_MMAP != 0 {
            return self.build_in_own_memory(entries);
        }
        let mut raw: Box<sys::io_uring> = Box::default();
        let mut params = self.params;
        let ret = match self.memory.as_mut() {
            #[cfg(liburing_2_8)]
            // SAFETY: raw and params are valid for writes; the memory is a live
            // mapping of mem.len() bytes that moves into the Ring built below and
            // is unmapped only after io_uring_queue_exit.
            Some(mem) => unsafe {
                sys::io_uring_queue_init_mem(
                    entries,
                    &mut *raw,
                    &mut params,
                    mem.as_mut_ptr(),
                    mem.len(),
                )
            },
            #[cfg(not(liburing_2_8))]
            Some(_) => return Err(needs_liburing("a ring in application memory (NO_MMAP)", 8)),
            // SAFETY: raw and params are valid, exclusively borrowed structs.
            None => unsafe { sys::io_uring_queue_init_params(entries, &mut *raw, &mut params) },
        };
        if ret < 0 {
            return Err(setup_error(-ret, entries, self.setup_flags()));
        }
        // SAFETY: io_uring_queue_init_* succeeded, so `raw` is an initialised ring
        // that nothing else owns, and `memory` (if any) is what it lives in.
        let mut ring = unsafe { Ring::from_initialized(raw, Params(params), self.memory) };
        if self.register_fd && !ring.is_ring_fd_registered() {
            ring.register_ring_fd()?;
        }
        Ok(ring)
    }

    /// `NO_MMAP` without memory from the caller: map it here, in ordinary pages
    /// (which kernels since 6.13 accept at any size, and older ones when each part
    /// fits in a page), falling back to one 2 MiB huge page as liburing does.
    /// Doing it here rather than in liburing keeps the behaviour the same for every
    /// liburing version (before 2.12 liburing always asked for a huge page).
    #[cfg(liburing_2_8)]
    fn build_in_own_memory(self, entries: u32) -> io::Result<Ring> {
        let need = RingMemory::required(entries, self.setup_flags())?;
        let params = self.params;
        let register_fd = self.register_fd;
        let in_pages = Builder {
            params,
            memory: Some(RingMemory::new(need)?),
            register_fd,
            _wq: PhantomData,
        };
        let err = match in_pages.build(entries) {
            Ok(ring) => return Ok(ring),
            Err(e) => e,
        };
        if need > 2 << 20 {
            return Err(err);
        }
        let Ok(huge) = RingMemory::huge_page() else {
            return Err(err);
        };
        let in_huge_page = Builder {
            params,
            memory: Some(huge),
            register_fd,
            _wq: PhantomData,
        };
        in_huge_page.build(entries).map_err(|_| err)
    }

    fn check_entries(&self, entries: u32) -> io::Result<()> {
        let clamp = self.params.flags & sys::IORING_SETUP_CLAMP != 0;
        if entries == 0 {
            return Err(with_context(
                libc::EINVAL,
                "ring entries must be at least 1, got 0",
            ));
        }
        if entries > MAX_ENTRIES && !clamp {
            return Err(with_context(
                libc::EINVAL,
                format!(
                    "ring entries {entries} exceeds the kernel's limit of {MAX_ENTRIES} \
                     (set clamp() to clamp it)"
                ),
            ));
        }
        if self.params.flags & sys::IORING_SETUP_CQSIZE != 0 {
            let cq = self.params.cq_entries;
            if cq == 0 {
                return Err(with_context(
                    libc::EINVAL,
                    "cq_entries must be at least 1, got 0",
                ));
            }
            if cq > MAX_CQ_ENTRIES && !clamp {
                return Err(with_context(
                    libc::EINVAL,
                    format!(
                        "cq_entries {cq} exceeds the kernel's limit of {MAX_CQ_ENTRIES} \
                         (set clamp() to clamp it)"
                    ),
                ));
            }
            let sq = entries.min(MAX_ENTRIES).next_power_of_two();
            let cq_rounded = cq.min(MAX_CQ_ENTRIES).next_power_of_two();
            if cq_rounded < sq {
                return Err(with_context(
                    libc::EINVAL,
                    format!(
                        "cq_entries {cq} is smaller than the submission queue \
                         ({entries} entries, rounded to {sq})"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// The error for a refused set-up: the errno, the flags, and a hint when the
/// combination is a known mistake.
#[cold]
fn setup_error(errno: i32, entries: u32, flags: SetupFlags) -> io::Error {
    let hint = match errno {
        libc::EINVAL => einval_hint(flags),
        libc::EPERM if flags.contains(SetupFlags::SQPOLL) => {
            Some("SQPOLL needs CAP_SYS_ADMIN on kernels before 5.11")
        }
        libc::ENOMEM if flags.contains(SetupFlags::NO_MMAP) => {
            Some("NO_MMAP memory too small, or no free huge pages for a ring larger than a page")
        }
        _ => None,
    };
    // Nothing to add: the plain errno, which callers probing for a flag match.
    let Some(h) = hint else {
        return io::Error::from_raw_os_error(errno);
    };
    with_context(
        errno,
        format!("io_uring setup with entries = {entries}, flags = {flags} failed ({h})"),
    )
}

fn einval_hint(f: SetupFlags) -> Option<&'static str> {
    use SetupFlags as F;
    if f.contains(F::DEFER_TASKRUN) && !f.contains(F::SINGLE_ISSUER) {
        Some("DEFER_TASKRUN requires SINGLE_ISSUER")
    } else if f.contains(F::HYBRID_IOPOLL) && !f.contains(F::IOPOLL) {
        Some("HYBRID_IOPOLL requires IOPOLL")
    } else if f.contains(F::SQ_AFF) && !f.contains(F::SQPOLL) {
        Some("SQ_AFF requires SQPOLL")
    } else if f.contains(F::REGISTERED_FD_ONLY) && !f.contains(F::NO_MMAP) {
        Some("REGISTERED_FD_ONLY requires NO_MMAP")
    } else if f.contains(F::SQ_REWIND) && f.contains(F::SQPOLL) {
        Some("SQ_REWIND cannot be combined with SQPOLL")
    } else if f.contains(F::DEFER_TASKRUN) && f.contains(F::SQPOLL) {
        Some("DEFER_TASKRUN cannot be combined with SQPOLL")
    } else if f.contains(F::CQE32) && f.contains(F::CQE_MIXED) {
        Some(
            "CQE32 and CQE_MIXED cannot be combined: a CQE_MIXED ring already posts \
             32-byte completions where an operation needs them; CQE_MIXED alone needs Linux 6.18",
        )
    } else if f.contains(F::SQE128) && f.contains(F::SQE_MIXED) {
        Some(
            "SQE128 and SQE_MIXED cannot be combined: an SQE_MIXED ring already takes \
             128-byte entries where an opcode needs them; SQE_MIXED alone needs Linux 6.19",
        )
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(liburing_2_11)]
    #[test]
    fn required_memory_matches_liburing() {
        for entries in [1, 3, 8, 64, 500, 4096, 32768] {
            for flags in [
                SetupFlags::empty(),
                SetupFlags::NO_SQARRAY,
                SetupFlags::CQE32,
                SetupFlags::SQE128 | SetupFlags::NO_SQARRAY,
                SetupFlags::SQE128 | SetupFlags::CQE32,
            ] {
                // SAFETY: a pure computation over two integers.
                let theirs = unsafe { sys::io_uring_memory_size(entries, flags.bits()) };
                assert_eq!(
                    RingMemory::required(entries, flags).unwrap() as isize,
                    theirs,
                    "entries {entries}, flags {flags}"
                );
            }
        }
        assert!(RingMemory::required(0, SetupFlags::empty()).is_err());
        assert!(RingMemory::required(1 << 20, SetupFlags::empty()).is_err());
        assert_eq!(
            RingMemory::required(1 << 20, SetupFlags::CLAMP).unwrap(),
            RingMemory::required(32768, SetupFlags::empty()).unwrap()
        );
    }

    #[test]
    fn setup_flags_cover_liburing() {
        assert_eq!(SetupFlags::all().iter_names().count(), 21);
        assert_eq!(Features::all().iter_names().count(), 18);
        // Unknown bits survive.
        let f = SetupFlags::from_bits_retain(1 << 30);
        assert_eq!(f.bits(), 1 << 30);
        assert_eq!(
            (SetupFlags::SQPOLL | SetupFlags::CQSIZE).to_string(),
            "SQPOLL | CQSIZE"
        );
    }
}
