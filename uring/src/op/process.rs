//! Processes and futexes: `waitid`, futex wait/wake/waitv.

use crate::sqe::{RawSqe, Sqe};
use crate::sys;
use crate::types::FutexFlags;

opcode! {
    /// Wait for a child's state to change: like `waitid(2)` (`IORING_OP_WAITID`, Linux 6.7).
    ///
    /// `infop` (may be null) receives the `siginfo_t`; the result is 0 or `-errno`.
    #[doc(alias = "io_uring_prep_waitid")]
    pub struct WaitId(sys::IORING_OP_WAITID) {
        needs { idtype: [libc::idtype_t], id: [libc::id_t], infop: [*mut libc::siginfo_t], options: [i32] }
        /// Reserved flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.id as i32;
        sqe.len = self.idtype;
        sqe.op_flags = self.flags;
        sqe.file_index = self.options as u32;
        sqe.off = self.infop as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Sleep while `*futex == val` until woken: like `futex_wait(2)` (`FUTEX_WAIT_BITSET`)
    /// (`IORING_OP_FUTEX_WAIT`, Linux 6.7). Completes with 0 when woken, `-EAGAIN` if
    /// the value already differed.
    ///
    /// ```
    /// use uring::op::FutexWait;
    /// use uring::types::{FutexFlags, FUTEX_BITSET_MATCH_ANY};
    ///
    /// let word = std::sync::atomic::AtomicU32::new(0);
    /// let sqe = FutexWait::new(word.as_ptr(), 0, FUTEX_BITSET_MATCH_ANY,
    ///                          FutexFlags::SIZE_U32 | FutexFlags::PRIVATE).build();
    /// assert_eq!(sqe.as_raw().opcode, FutexWait::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_futex_wait")]
    pub struct FutexWait(sys::IORING_OP_FUTEX_WAIT) {
        needs { futex: [*const u32], val: [u64], mask: [u64], futex_flags: [FutexFlags] }
        /// io_uring flags; reserved, 0 (default).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.futex_flags.bits() as i32;
        sqe.addr = self.futex as u64;
        sqe.off = self.val;
        sqe.addr3 = self.mask;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}

opcode! {
    /// Wake up to `val` waiters of a futex whose mask matches: like `futex_wake(2)`
    /// (`IORING_OP_FUTEX_WAKE`, Linux 6.7). The result is the number woken.
    #[doc(alias = "io_uring_prep_futex_wake")]
    pub struct FutexWake(sys::IORING_OP_FUTEX_WAKE) {
        needs { futex: [*const u32], val: [u64], mask: [u64], futex_flags: [FutexFlags] }
        /// io_uring flags; reserved, 0 (default).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.futex_flags.bits() as i32;
        sqe.addr = self.futex as u64;
        sqe.off = self.val;
        sqe.addr3 = self.mask;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}

opcode! {
    /// Wait on several futexes at once: like `futex_waitv(2)`
    /// (`IORING_OP_FUTEX_WAITV`, Linux 6.7). The result is the index of the one woken.
    #[doc(alias = "io_uring_prep_futex_waitv")]
    pub struct FutexWaitV(sys::IORING_OP_FUTEX_WAITV) {
        needs { futexv: [*const sys::futex_waitv], nr_futex: [u32] }
        /// io_uring flags; reserved, 0 (default).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.addr = self.futexv as u64;
        sqe.len = self.nr_futex;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}
