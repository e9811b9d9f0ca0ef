//! Argument types shared by the opcode builders in [`op`](crate::op): which file an
//! operation targets, where a new direct descriptor goes, timeouts, and the io_uring
//! specific flag sets.
//!
//! Flags that belong to a system call rather than to io_uring (`open(2)` flags,
//! `send(2)` flags, `RWF_*`, `AT_*`) are taken as the plain integers the `libc` crate
//! defines, exactly as the system call would take them.

use core::time::Duration;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use crate::sys;

/// A plain file descriptor, the usual target of an operation.
///
/// ```
/// use std::os::fd::AsRawFd;
/// use uring::types::Fd;
///
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let fd = Fd(file.as_raw_fd());
/// assert_eq!(fd, Fd::from(&file));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fd(pub RawFd);

impl Fd {
    /// `AT_FDCWD`: paths are resolved relative to the current working directory.
    ///
    /// ```
    /// assert_eq!(uring::types::Fd::CWD.0, libc::AT_FDCWD);
    /// ```
    pub const CWD: Fd = Fd(libc::AT_FDCWD);
}

impl From<BorrowedFd<'_>> for Fd {
    #[inline]
    fn from(fd: BorrowedFd<'_>) -> Fd {
        Fd(fd.as_raw_fd())
    }
}

impl<T: AsFd> From<&T> for Fd {
    #[inline]
    fn from(fd: &T) -> Fd {
        Fd(fd.as_fd().as_raw_fd())
    }
}

/// An index into the ring's registered ("fixed", "direct") file table.
///
/// An operation targeting a `Fixed` file gets `IOSQE_FIXED_FILE` set (or the
/// operation's own fixed-file flag, for splice, tee, cancel and close).
///
/// ```
/// use uring::op::Read;
/// use uring::types::Fixed;
///
/// let mut buf = [0u8; 16];
/// let sqe = Read::new(Fixed(3), buf.as_mut_ptr(), 16).build();
/// assert_eq!(sqe.as_raw().fd, 3);
/// assert_eq!(sqe.as_raw().flags, uring::sqe::SqeFlags::FIXED_FILE.bits());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fixed(pub u32);

/// What a builder stores for a file argument: a descriptor or a fixed-file index.
///
/// Made from [`Fd`], [`Fixed`] or a [`BorrowedFd`]; builders take `impl FileArg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// A plain file descriptor.
    Fd(RawFd),
    /// An index into the registered file table.
    Fixed(u32),
}

impl Target {
    /// The value for the SQE's `fd` field and whether it names a fixed file.
    #[inline]
    pub(crate) const fn parts(self) -> (i32, bool) {
        match self {
            Target::Fd(fd) => (fd, false),
            Target::Fixed(i) => (i as i32, true),
        }
    }
}

impl From<Fd> for Target {
    #[inline]
    fn from(fd: Fd) -> Target {
        Target::Fd(fd.0)
    }
}

impl From<Fixed> for Target {
    #[inline]
    fn from(fixed: Fixed) -> Target {
        Target::Fixed(fixed.0)
    }
}

impl From<BorrowedFd<'_>> for Target {
    #[inline]
    fn from(fd: BorrowedFd<'_>) -> Target {
        Target::Fd(fd.as_raw_fd())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Fd {}
    impl Sealed for super::Fixed {}
    impl Sealed for std::os::fd::BorrowedFd<'_> {}
    impl Sealed for super::Target {}
}

/// A file argument that may be a plain descriptor or a registered (fixed) file:
/// [`Fd`], [`Fixed`], [`BorrowedFd`] or a [`Target`] holding either. Sealed.
pub trait FileArg: sealed::Sealed + Into<Target> {}
impl FileArg for Fd {}
impl FileArg for Fixed {}
impl FileArg for BorrowedFd<'_> {}
impl FileArg for Target {}

/// Where an operation that creates a descriptor (open, accept, socket, pipe, msg-ring
/// fd passing) puts it in the registered file table instead of returning a plain fd:
/// a chosen slot, or any free one ([`DestinationSlot::AUTO`], `IORING_FILE_INDEX_ALLOC`).
///
/// ```
/// use uring::types::DestinationSlot;
///
/// assert!(DestinationSlot::index(7).is_some());
/// // The last two u32 values cannot be encoded (index + 1 would collide with AUTO).
/// assert!(DestinationSlot::index(u32::MAX - 1).is_none());
/// assert_eq!(DestinationSlot::index(7).unwrap().slot(), Some(7));
/// assert_eq!(DestinationSlot::AUTO.slot(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DestinationSlot {
    /// The SQE's `file_index` encoding: slot + 1, or `IORING_FILE_INDEX_ALLOC`.
    encoded: u32,
}

impl DestinationSlot {
    /// Let the kernel pick a free slot (`IORING_FILE_INDEX_ALLOC`, Linux 5.19); the
    /// completion's result is the chosen index.
    pub const AUTO: DestinationSlot = DestinationSlot {
        encoded: sys::IORING_FILE_INDEX_ALLOC as u32,
    };

    /// Slot `index` of the registered file table; `None` for indices too large to
    /// encode (`u32::MAX - 1` and `u32::MAX`).
    #[inline]
    pub const fn index(index: u32) -> Option<DestinationSlot> {
        if index >= u32::MAX - 1 {
            None
        } else {
            Some(DestinationSlot { encoded: index + 1 })
        }
    }

    /// The chosen slot, or `None` for [`AUTO`](Self::AUTO).
    #[inline]
    pub const fn slot(self) -> Option<u32> {
        if self.encoded == Self::AUTO.encoded {
            None
        } else {
            Some(self.encoded - 1)
        }
    }

    /// The value for the SQE's `file_index` field.
    #[inline]
    pub(crate) const fn encoded(self) -> u32 {
        self.encoded
    }
}

/// A `struct __kernel_timespec`: what timeout operations point the kernel at.
///
/// ```
/// use std::time::Duration;
/// use uring::types::Timespec;
///
/// let ts = Timespec::from(Duration::from_millis(1500));
/// assert_eq!((ts.sec(), ts.nsec()), (1, 500_000_000));
/// assert_eq!(Timespec::new(2, 5).nsec(), 5);
/// ```
#[repr(transparent)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Timespec(sys::__kernel_timespec);

impl PartialEq for Timespec {
    fn eq(&self, other: &Timespec) -> bool {
        (self.sec(), self.nsec()) == (other.sec(), other.nsec())
    }
}

impl Eq for Timespec {}

impl core::hash::Hash for Timespec {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        (self.sec(), self.nsec()).hash(state);
    }
}

impl Timespec {
    /// Zero seconds.
    pub const ZERO: Timespec = Timespec::new(0, 0);

    /// `sec` seconds and `nsec` nanoseconds.
    #[inline]
    pub const fn new(sec: i64, nsec: u32) -> Timespec {
        Timespec(sys::__kernel_timespec {
            tv_sec: sec,
            tv_nsec: nsec as _,
        })
    }

    /// The whole seconds.
    #[inline]
    pub const fn sec(&self) -> i64 {
        self.0.tv_sec
    }

    /// The nanoseconds.
    #[inline]
    pub const fn nsec(&self) -> i64 {
        self.0.tv_nsec
    }

    /// A pointer to the raw structure, as the SQE stores it.
    #[inline]
    pub const fn as_ptr(&self) -> *const sys::__kernel_timespec {
        &self.0
    }
}

impl From<Duration> for Timespec {
    /// Seconds beyond `i64::MAX` saturate.
    #[inline]
    fn from(d: Duration) -> Timespec {
        let sec = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        Timespec::new(sec, d.subsec_nanos())
    }
}

bitflags::bitflags! {
    /// Flags of `IORING_OP_TIMEOUT`, `TIMEOUT_REMOVE` (update) and `LINK_TIMEOUT`
    /// (`sqe->timeout_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct TimeoutFlags: u32 {
        /// The timespec is an absolute time, not a relative one (`IORING_TIMEOUT_ABS`).
        const ABS = sys::IORING_TIMEOUT_ABS;
        /// Measure against `CLOCK_BOOTTIME` (`IORING_TIMEOUT_BOOTTIME`, Linux 5.15).
        const BOOTTIME = sys::IORING_TIMEOUT_BOOTTIME;
        /// Measure against `CLOCK_REALTIME` (`IORING_TIMEOUT_REALTIME`, Linux 5.15).
        const REALTIME = sys::IORING_TIMEOUT_REALTIME;
        /// Treat expiry as success for linking: the completion still says `-ETIME`,
        /// but entries linked after the timeout run instead of being cancelled
        /// (`IORING_TIMEOUT_ETIME_SUCCESS`, Linux 5.16).
        const ETIME_SUCCESS = sys::IORING_TIMEOUT_ETIME_SUCCESS;
        /// Fire repeatedly; `count` is the number of times, 0 for forever
        /// (`IORING_TIMEOUT_MULTISHOT`, Linux 6.4).
        const MULTISHOT = sys::IORING_TIMEOUT_MULTISHOT;
        /// The timeout value is in the SQE itself, in nanoseconds, not behind a pointer
        /// (`IORING_TIMEOUT_IMMEDIATE_ARG`).
        const IMMEDIATE_ARG = sys::IORING_TIMEOUT_IMMEDIATE_ARG;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Flags of `IORING_OP_FSYNC` (`sqe->fsync_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FsyncFlags: u32 {
        /// Like `fdatasync(2)` rather than `fsync(2)` (`IORING_FSYNC_DATASYNC`).
        const DATASYNC = sys::IORING_FSYNC_DATASYNC;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// How `IORING_OP_ASYNC_CANCEL` matches requests (`sqe->cancel_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct CancelFlags: u32 {
        /// Cancel every match, not just the first (`IORING_ASYNC_CANCEL_ALL`, 5.19).
        const ALL = sys::IORING_ASYNC_CANCEL_ALL;
        /// Match by file descriptor rather than user data (`IORING_ASYNC_CANCEL_FD`, 5.19).
        const FD = sys::IORING_ASYNC_CANCEL_FD;
        /// Match any request (`IORING_ASYNC_CANCEL_ANY`, 5.19).
        const ANY = sys::IORING_ASYNC_CANCEL_ANY;
        /// The fd is a fixed-file index (`IORING_ASYNC_CANCEL_FD_FIXED`, 6.0).
        const FD_FIXED = sys::IORING_ASYNC_CANCEL_FD_FIXED;
        /// Match by user data, combinable with the other keys (`IORING_ASYNC_CANCEL_USERDATA`, 6.6).
        const USERDATA = sys::IORING_ASYNC_CANCEL_USERDATA;
        /// Match by opcode, given in `len` (`IORING_ASYNC_CANCEL_OP`, 6.6).
        const OP = sys::IORING_ASYNC_CANCEL_OP;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Flags of `IORING_OP_MSG_RING` (`sqe->msg_ring_flags`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct MsgRingFlags: u32 {
        /// Post no completion in the *target* ring when passing a file
        /// (`IORING_MSG_RING_CQE_SKIP`, 6.2). Only for
        /// [`MsgRingSendFd`](crate::op::MsgRingSendFd): a data message is refused with
        /// `EINVAL`. (To skip the sender's own completion, use
        /// [`SqeFlags::CQE_SKIP_SUCCESS`](crate::sqe::SqeFlags::CQE_SKIP_SUCCESS).)
        const CQE_SKIP = sys::IORING_MSG_RING_CQE_SKIP;
        /// Pass `file_index` as the target CQE's flags (`IORING_MSG_RING_FLAGS_PASS`, 6.3).
        const FLAGS_PASS = sys::IORING_MSG_RING_FLAGS_PASS;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// Modifiers of the socket operations kept in `sqe->ioprio`
    /// (`IORING_RECVSEND_*`, `IORING_RECV_MULTISHOT`, `IORING_SEND_ZC_REPORT_USAGE`).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct RecvSendFlags: u16 {
        /// Poll before trying the operation (`IORING_RECVSEND_POLL_FIRST`, 5.19).
        const POLL_FIRST = sys::IORING_RECVSEND_POLL_FIRST as u16;
        /// Multishot receive (`IORING_RECV_MULTISHOT`, 6.0).
        const RECV_MULTISHOT = sys::IORING_RECV_MULTISHOT as u16;
        /// Use a registered buffer, `buf_index` (`IORING_RECVSEND_FIXED_BUF`, 6.0).
        const FIXED_BUF = sys::IORING_RECVSEND_FIXED_BUF as u16;
        /// Report in the notification whether data was copied
        /// (`IORING_SEND_ZC_REPORT_USAGE`, 6.2).
        const ZC_REPORT_USAGE = sys::IORING_SEND_ZC_REPORT_USAGE as u16;
        /// Send or receive several provided buffers at once (`IORING_RECVSEND_BUNDLE`, 6.10).
        const BUNDLE = sys::IORING_RECVSEND_BUNDLE as u16;
        /// Send from an iovec array (`IORING_SEND_VECTORIZED`).
        const VECTORIZED = sys::IORING_SEND_VECTORIZED as u16;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

bitflags::bitflags! {
    /// `FUTEX2_*` flags of the futex operations (the `futex2` system calls' flags):
    /// the futex word's size, privacy and NUMA-ness. Linux 6.7.
    ///
    /// An 8-bit futex is size 0: `FutexFlags::empty()`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct FutexFlags: u32 {
        /// A 16-bit futex word (`FUTEX2_SIZE_U16`).
        const SIZE_U16 = 0x01;
        /// A 32-bit futex word (`FUTEX2_SIZE_U32`), the common one.
        const SIZE_U32 = 0x02;
        /// A 64-bit futex word (`FUTEX2_SIZE_U64`).
        const SIZE_U64 = 0x03;
        /// The futex word is followed by a NUMA node id (`FUTEX2_NUMA`).
        const NUMA = 0x04;
        /// Process-private futex (`FUTEX2_PRIVATE`, same value as `FUTEX_PRIVATE_FLAG`).
        const PRIVATE = 128;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

/// The futex `mask` that matches every waiter (`FUTEX_BITSET_MATCH_ANY`).
pub const FUTEX_BITSET_MATCH_ANY: u64 = 0xffff_ffff;
