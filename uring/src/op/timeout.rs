//! Timers: timeouts, their removal and update, linked timeouts.

use crate::sqe::{RawSqe, Sqe};
use crate::sys;
use crate::types::{TimeoutFlags, Timespec};

opcode! {
    /// Complete after a time, or after `count` other completions, whichever comes
    /// first (`IORING_OP_TIMEOUT`, Linux 5.4).
    ///
    /// When the time runs out the result is `-ETIME`; when `count` completions arrive
    /// first it is 0. The `Timespec` must stay valid until the request completes.
    ///
    /// ```
    /// use uring::op::Timeout;
    /// use uring::types::{Timespec, TimeoutFlags};
    ///
    /// let ts = Timespec::new(1, 0);
    /// let sqe = Timeout::new(&ts).count(4).flags(TimeoutFlags::BOOTTIME).build();
    /// assert_eq!(sqe.as_raw().len, 1);
    /// ```
    #[doc(alias = "io_uring_prep_timeout")]
    pub struct Timeout(sys::IORING_OP_TIMEOUT) {
        needs { timespec: [*const Timespec] }
        /// Completions to wait for; 0 (default) means "time only".
        count: u32 = 0,
        /// Clock, absolute time, multishot… (default none: relative, monotonic).
        flags: TimeoutFlags = TimeoutFlags::empty(),
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.timespec as u64;
        sqe.len = 1;
        sqe.off = self.count as u64;
        sqe.op_flags = self.flags.bits();
        sqe.into_sqe()
    }
}

opcode! {
    /// Cancel a pending timeout named by its user data (`IORING_OP_TIMEOUT_REMOVE`,
    /// Linux 5.5). The timeout completes with `-ECANCELED`; this request with 0, or
    /// `-ENOENT` if none matched, `-EALREADY` if it was already firing.
    #[doc(alias = "io_uring_prep_timeout_remove")]
    pub struct TimeoutRemove(sys::IORING_OP_TIMEOUT_REMOVE) {
        needs { user_data: [u64] }
        /// Flags (default none).
        flags: TimeoutFlags = TimeoutFlags::empty(),
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.user_data;
        sqe.op_flags = self.flags.bits();
        sqe.into_sqe()
    }
}

opcode! {
    /// Give a pending timeout (or, with [`linked`](Self::linked), a linked timeout) a
    /// new expiry (`IORING_OP_TIMEOUT_REMOVE` with `IORING_TIMEOUT_UPDATE`, Linux 5.11).
    #[doc(alias = "io_uring_prep_timeout_update")]
    pub struct TimeoutUpdate(sys::IORING_OP_TIMEOUT_REMOVE) {
        needs { user_data: [u64], timespec: [*const Timespec] }
        /// Clock and absolute-time flags for the new expiry (default none).
        flags: TimeoutFlags = TimeoutFlags::empty(),
        /// The target is a linked timeout (`IORING_LINK_TIMEOUT_UPDATE`, Linux 5.15).
        linked: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.user_data;
        sqe.off = self.timespec as u64;
        sqe.op_flags = self.flags.bits() | sys::IORING_TIMEOUT_UPDATE;
        if self.linked {
            sqe.op_flags |= sys::IORING_LINK_TIMEOUT_UPDATE;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// A timeout for the request linked before it (`IORING_OP_LINK_TIMEOUT`, Linux 5.5).
    ///
    /// Push it right after an entry flagged `IO_LINK`: if that entry is still pending
    /// when the time runs out it is cancelled (`-ECANCELED`, or `-EINTR`) and this one
    /// completes with `-ETIME`; otherwise this one completes with `-ECANCELED`.
    ///
    /// When the time runs out, this entry's result is that of the kernel's attempt
    /// to cancel the entry before it: `-ETIME` when it was cancelled, but
    /// `-ENOENT` when it was no longer found (it was completing at that moment)
    /// and `-EALREADY` when it was already running and could only be signalled
    /// (an io-wq worker; it then completes on its own, often with `-EINTR` or
    /// `-ECANCELED`). Do not treat those two as errors of the timeout itself.
    #[doc(alias = "io_uring_prep_link_timeout")]
    pub struct LinkTimeout(sys::IORING_OP_LINK_TIMEOUT) {
        needs { timespec: [*const Timespec] }
        /// Clock and absolute-time flags (default none).
        flags: TimeoutFlags = TimeoutFlags::empty(),
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.timespec as u64;
        sqe.len = 1;
        sqe.op_flags = self.flags.bits();
        sqe.into_sqe()
    }
}
