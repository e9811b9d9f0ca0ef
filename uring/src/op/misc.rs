//! Everything else: no-ops, cancellation, ring-to-ring messages, the registered file
//! table, memory advice.

use core::ffi::c_void;

use crate::sqe::{RawSqe, Sqe, Sqe128, SqeFlags};
use crate::sys;
use crate::types::{CancelFlags, DestinationSlot, FileArg, Fixed, MsgRingFlags, Target};

opcode! {
    /// Do nothing and complete with 0 (`IORING_OP_NOP`, Linux 5.1): for testing, waking
    /// a waiter, or as a cheap link in a chain.
    ///
    /// [`inject_result`](Self::inject_result) (Linux 6.11) makes it complete with a
    /// chosen result instead, such as an error, to test error paths.
    ///
    /// ```
    /// use uring::op::Nop;
    ///
    /// let sqe = Nop::new().build().user_data(1);
    /// assert_eq!(sqe.as_raw().opcode, 0);
    /// let failing = Nop::new().inject_result(Some(-libc::EIO)).build();
    /// assert_eq!(failing.as_raw().len as i32, -libc::EIO);
    /// ```
    #[doc(alias = "io_uring_prep_nop")]
    pub struct Nop(sys::IORING_OP_NOP) {
        needs {  }
        /// Complete with this result (`IORING_NOP_INJECT_RESULT`) instead of 0.
        inject_result: Option<i32> = None,
        /// Post a 32-byte completion on a mixed-size CQ ring (`IORING_NOP_CQE32`).
        cqe32: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        if let Some(result) = self.inject_result {
            sqe.op_flags |= sys::IORING_NOP_INJECT_RESULT;
            sqe.len = result as u32;
        }
        if self.cqe32 {
            sqe.op_flags |= sys::IORING_NOP_CQE32;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// A no-op in a 128-byte entry, for rings with mixed-size SQEs
    /// (`IORING_OP_NOP128`, Linux 6.18+; `IORING_SETUP_SQE_MIXED`).
    ///
    /// ```
    /// let sqe = uring::op::Nop128::new().build();
    /// assert_eq!(sqe.as_raw().opcode, uring::op::Nop128::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_nop128")]
    pub struct Nop128(sys::IORING_OP_NOP128) {
        needs {  }
        /// Complete with this result (`IORING_NOP_INJECT_RESULT`) instead of 0.
        inject_result: Option<i32> = None,
    }

    fn build(self) -> Sqe128 {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        if let Some(result) = self.inject_result {
            sqe.op_flags |= sys::IORING_NOP_INJECT_RESULT;
            sqe.len = result as u32;
        }
        sqe.into_sqe128([0; 64])
    }
}

opcode! {
    /// Cancel in-flight requests (`IORING_OP_ASYNC_CANCEL`, Linux 5.5).
    ///
    /// By default the first request whose user data is `user_data`; [`by_fd`](Self::by_fd)
    /// matches by file, [`any`](Self::any) matches everything, and
    /// [`flags`](Self::flags) sets `ALL` (every match) or combines keys (it replaces
    /// earlier flags, but not the keys `by_fd`, `opcode` and `any` add). The cancelled
    /// request completes with `-ECANCELED`; this one with 0 (or the count, with `ALL`),
    /// `-ENOENT` if nothing matched, `-EALREADY` if the match was already running.
    ///
    /// ```
    /// use uring::op::AsyncCancel;
    /// use uring::types::{CancelFlags, Fd};
    ///
    /// let one = AsyncCancel::new(42).build();
    /// assert_eq!(one.as_raw().fd, -1);
    /// let all_on_fd = AsyncCancel::by_fd(Fd(5)).flags(CancelFlags::ALL).build();
    /// assert_eq!(all_on_fd.as_raw().fd, 5);
    /// ```
    #[doc(alias = "io_uring_prep_cancel")]
    #[doc(alias = "io_uring_prep_cancel64")]
    #[doc(alias = "io_uring_prep_cancel_fd")]
    pub struct AsyncCancel(sys::IORING_OP_ASYNC_CANCEL) {
        needs { user_data: [u64] }
        /// How to match (default: by user data, first match only).
        flags: CancelFlags = CancelFlags::empty(),
        /// Match requests on this file (`IORING_ASYNC_CANCEL_FD`, plus `FD_FIXED` for a
        /// fixed file) — see [`by_fd`](Self::by_fd).
        fd: Option<Target> = None,
        /// Match requests of this opcode (`IORING_ASYNC_CANCEL_OP`, Linux 6.6).
        opcode: Option<u8> = None,
        /// Match any request (`IORING_ASYNC_CANCEL_ANY`, Linux 5.19) — see
        /// [`any`](Self::any). Kept apart from [`flags`](Self::flags), which replaces.
        match_any: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.user_data;
        sqe.op_flags = self.flags.bits();
        if let Some(target) = self.fd {
            let (fd, fixed) = target.parts();
            sqe.fd = fd;
            sqe.op_flags |= CancelFlags::FD.bits();
            if fixed {
                sqe.op_flags |= CancelFlags::FD_FIXED.bits();
            }
        }
        if let Some(opcode) = self.opcode {
            sqe.len = opcode as u32;
            sqe.op_flags |= CancelFlags::OP.bits();
        }
        if self.match_any {
            sqe.op_flags |= CancelFlags::ANY.bits();
        }
        sqe.into_sqe()
    }
}

impl AsyncCancel {
    /// Cancel requests on `fd` (`io_uring_prep_cancel_fd`, Linux 5.19); for a
    /// [`Fixed`] file, `IORING_ASYNC_CANCEL_FD_FIXED` is set too.
    #[inline]
    pub fn by_fd(fd: impl FileArg) -> AsyncCancel {
        AsyncCancel::new(0).fd(Some(fd.into()))
    }

    /// Cancel any request (`IORING_ASYNC_CANCEL_ANY`, Linux 5.19); add
    /// `.flags(CancelFlags::ALL)` to cancel them all.
    ///
    /// ```
    /// use uring::op::AsyncCancel;
    /// use uring::types::CancelFlags;
    ///
    /// let sqe = AsyncCancel::any().flags(CancelFlags::ALL).build();
    /// // SAFETY: every member of this union is a 32-bit integer.
    /// let flags = unsafe { sqe.as_raw().__bindgen_anon_3.cancel_flags };
    /// assert_eq!(flags, (CancelFlags::ANY | CancelFlags::ALL).bits());
    /// ```
    #[inline]
    pub fn any() -> AsyncCancel {
        AsyncCancel::new(0).match_any(true)
    }
}

opcode! {
    /// Post a completion into another ring (`IORING_OP_MSG_RING`, Linux 5.18).
    ///
    /// The target ring (`ring_fd`, a ring's fd or its registered index) gets a CQE with
    /// `result` and `user_data`; this ring gets one with 0 (unless `CQE_SKIP`).
    /// [`cqe_flags`](Self::cqe_flags) (Linux 6.3) sets the target CQE's flags.
    #[doc(alias = "io_uring_prep_msg_ring")]
    #[doc(alias = "io_uring_prep_msg_ring_cqe_flags")]
    pub struct MsgRing(sys::IORING_OP_MSG_RING) {
        needs { ring_fd: file, result: [i32], user_data: [u64] }
        /// Flags (default none).
        flags: MsgRingFlags = MsgRingFlags::empty(),
        /// Flags for the target's CQE (sets `IORING_MSG_RING_FLAGS_PASS`).
        cqe_flags: Option<u32> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.ring_fd);
        sqe.len = self.result as u32;
        sqe.off = self.user_data;
        sqe.op_flags = self.flags.bits();
        if let Some(flags) = self.cqe_flags {
            sqe.op_flags |= MsgRingFlags::FLAGS_PASS.bits();
            sqe.file_index = flags;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Install registered file `source` of this ring into slot `dest` of another
    /// ring's registered file table, posting a completion with `user_data` there
    /// (`IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD`, Linux 6.0).
    #[doc(alias = "io_uring_prep_msg_ring_fd")]
    #[doc(alias = "io_uring_prep_msg_ring_fd_alloc")]
    pub struct MsgRingSendFd(sys::IORING_OP_MSG_RING) {
        needs { ring_fd: file, source: [Fixed], dest: [DestinationSlot], user_data: [u64] }
        /// Flags (default none).
        flags: MsgRingFlags = MsgRingFlags::empty(),
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.ring_fd);
        sqe.addr = sys::IORING_MSG_SEND_FD as u64;
        sqe.off = self.user_data;
        sqe.addr3 = self.source.0 as u64;
        sqe.file_index = self.dest.encoded();
        sqe.op_flags = self.flags.bits();
        sqe.into_sqe()
    }
}

opcode! {
    /// Update entries of the registered file table from `fds[0..len]`, starting at
    /// [`offset`](Self::offset) (`IORING_OP_FILES_UPDATE`, Linux 5.6): like
    /// `io_uring_register_files_update`, asynchronously. -1 clears a slot. The result
    /// is the number updated.
    #[doc(alias = "io_uring_prep_files_update")]
    pub struct FilesUpdate(sys::IORING_OP_FILES_UPDATE) {
        needs { fds: [*const i32], len: [u32] }
        /// First slot to update (default 0); `IORING_FILE_INDEX_ALLOC` (-1) picks free
        /// slots and writes their indices back into `fds`.
        offset: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.fds as u64;
        sqe.len = self.len;
        sqe.off = self.offset as i64 as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Make a registered file a plain descriptor of the process again; the result is
    /// the new fd, close-on-exec unless flags say `IORING_FIXED_FD_NO_CLOEXEC`
    /// (`IORING_OP_FIXED_FD_INSTALL`, Linux 6.8).
    #[doc(alias = "io_uring_prep_fixed_fd_install")]
    pub struct FixedFdInstall(sys::IORING_OP_FIXED_FD_INSTALL) {
        needs { fd: [Fixed] }
        /// `IORING_FIXED_FD_NO_CLOEXEC` or 0 (default).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.fd.0 as i32;
        sqe.flags = SqeFlags::FIXED_FILE.bits();
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}

opcode! {
    /// Advise the kernel about a memory range: like `madvise(2)`
    /// (`IORING_OP_MADVISE`, Linux 5.6).
    #[doc(alias = "io_uring_prep_madvise")]
    #[doc(alias = "io_uring_prep_madvise64")]
    pub struct Madvise(sys::IORING_OP_MADVISE) {
        needs { addr: [*const c_void], len: [u32], advice: [i32] }
        /// A 64-bit length, replacing `len` (`io_uring_prep_madvise64`; read by Linux 6.12+).
        len64: Option<u64> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.addr as u64;
        match self.len64 {
            Some(len) => sqe.off = len,
            None => sqe.len = self.len,
        }
        sqe.op_flags = self.advice as u32;
        sqe.into_sqe()
    }
}
