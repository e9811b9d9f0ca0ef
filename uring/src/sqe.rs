//! Submission queue entries as values: what an opcode builder produces and a
//! [`SubmissionQueue`](crate) push copies into the ring.

use crate::sys;

/// One 64-byte submission queue entry, fully built, not yet in any ring.
///
/// Made by an opcode builder in [`op`](crate::op) (`op::Nop::new().build()`), then tagged
/// with [`user_data`](Sqe::user_data) and [`flags`](Sqe::flags).
#[repr(transparent)]
pub struct Sqe(pub(crate) sys::io_uring_sqe);

/// One 128-byte submission queue entry, for rings set up with `SQE128` (or the 128-byte
/// ops of `SQE_MIXED` rings): a normal entry followed by 64 bytes of command data.
#[repr(C)]
pub struct Sqe128 {
    pub(crate) sqe: sys::io_uring_sqe,
    pub(crate) cmd: [u8; 64],
}

const _: () = assert!(core::mem::size_of::<Sqe>() == 64);
const _: () = assert!(core::mem::size_of::<Sqe128>() == 128);

bitflags::bitflags! {
    /// Per-entry flags (`IOSQE_*`, the SQE's `flags` byte).
    ///
    /// ```
    /// use uring::op::Nop;
    /// use uring::sqe::SqeFlags;
    ///
    /// let sqe = Nop::new().build().flags(SqeFlags::IO_LINK | SqeFlags::ASYNC);
    /// assert_eq!(sqe.get_flags(), SqeFlags::IO_LINK | SqeFlags::ASYNC);
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
    pub struct SqeFlags: u8 {
        /// `fd` is an index into the registered file table (`IOSQE_FIXED_FILE`).
        /// Builders set it themselves when given a [`Fixed`](crate::types::Fixed) target.
        const FIXED_FILE = 1 << sys::IOSQE_FIXED_FILE_BIT;
        /// Start only after every earlier entry has completed (`IOSQE_IO_DRAIN`).
        const IO_DRAIN = 1 << sys::IOSQE_IO_DRAIN_BIT;
        /// Link the next entry to this one: it starts after this one completes
        /// successfully, and is cancelled with `-ECANCELED` if this one fails
        /// (`IOSQE_IO_LINK`).
        const IO_LINK = 1 << sys::IOSQE_IO_LINK_BIT;
        /// Like `IO_LINK`, but the chain continues whatever this entry's result
        /// (`IOSQE_IO_HARDLINK`, Linux 5.5).
        const IO_HARDLINK = 1 << sys::IOSQE_IO_HARDLINK_BIT;
        /// Go to the async worker pool at once, without a non-blocking attempt first
        /// (`IOSQE_ASYNC`, Linux 5.6).
        const ASYNC = 1 << sys::IOSQE_ASYNC_BIT;
        /// Pick the buffer from the provided-buffer group named by `buf_group`
        /// (`IOSQE_BUFFER_SELECT`, Linux 5.7).
        const BUFFER_SELECT = 1 << sys::IOSQE_BUFFER_SELECT_BIT;
        /// Post no completion when the entry succeeds (`IOSQE_CQE_SKIP_SUCCESS`, Linux 5.17).
        const CQE_SKIP_SUCCESS = 1 << sys::IOSQE_CQE_SKIP_SUCCESS_BIT;
        /// Any other bit, passed through to the kernel.
        const _ = !0;
    }
}

/// The SQE with plain, named fields: what builders fill in. Same layout as
/// `io_uring_sqe` (checked below), without its unions.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct RawSqe {
    pub opcode: u8,
    pub flags: u8,
    pub ioprio: u16,
    pub fd: i32,
    /// off / addr2 / cmd_op + __pad1
    pub off: u64,
    /// addr / splice_off_in / level + optname
    pub addr: u64,
    pub len: u32,
    /// rw_flags, fsync_flags, poll32_events, msg_flags, …: the per-op flags word
    pub op_flags: u32,
    pub user_data: u64,
    /// buf_index / buf_group
    pub buf_index: u16,
    pub personality: u16,
    /// splice_fd_in / file_index / zcrx_ifq_idx / optlen / addr_len + __pad3
    pub file_index: u32,
    /// addr3 / attr_ptr / optval / cmd[0..8]
    pub addr3: u64,
    /// __pad2[0] / attr_type_mask / cmd[8..16]
    pub pad2: u64,
}

macro_rules! same_offset {
    ($raw:ident, $sys:ident) => {
        assert!(
            core::mem::offset_of!(RawSqe, $raw) == core::mem::offset_of!(sys::io_uring_sqe, $sys)
        );
    };
}
const _: () = {
    assert!(core::mem::size_of::<RawSqe>() == core::mem::size_of::<sys::io_uring_sqe>());
    assert!(core::mem::align_of::<RawSqe>() == core::mem::align_of::<sys::io_uring_sqe>());
    same_offset!(opcode, opcode);
    same_offset!(flags, flags);
    same_offset!(ioprio, ioprio);
    same_offset!(fd, fd);
    same_offset!(off, __bindgen_anon_1);
    same_offset!(addr, __bindgen_anon_2);
    same_offset!(len, len);
    same_offset!(op_flags, __bindgen_anon_3);
    same_offset!(user_data, user_data);
    same_offset!(buf_index, __bindgen_anon_4);
    same_offset!(personality, personality);
    same_offset!(file_index, __bindgen_anon_5);
    same_offset!(addr3, __bindgen_anon_6);
    assert!(core::mem::offset_of!(RawSqe, pad2) == 56);
};

impl RawSqe {
    /// All zero except `opcode`: where liburing's prep helpers start from (its
    /// `io_uring_get_sqe` hands out zeroed entries when the ring is set up so, and
    /// `io_uring_prep_rw` fills the rest).
    #[inline(always)]
    pub(crate) const fn new(opcode: u8) -> RawSqe {
        RawSqe {
            opcode,
            flags: 0,
            ioprio: 0,
            fd: 0,
            off: 0,
            addr: 0,
            len: 0,
            op_flags: 0,
            user_data: 0,
            buf_index: 0,
            personality: 0,
            file_index: 0,
            addr3: 0,
            pad2: 0,
        }
    }

    /// Sets `cmd_op`, the first 32 bits of the `off` word (URING_CMD).
    #[inline(always)]
    pub(crate) const fn set_cmd_op(&mut self, cmd_op: u32) {
        let mut b = self.off.to_ne_bytes();
        let c = cmd_op.to_ne_bytes();
        b[0] = c[0];
        b[1] = c[1];
        b[2] = c[2];
        b[3] = c[3];
        self.off = u64::from_ne_bytes(b);
    }

    /// Sets `level` and `optname`, the two 32-bit halves of the `addr` word.
    #[inline(always)]
    pub(crate) const fn set_level_optname(&mut self, level: u32, optname: u32) {
        let l = level.to_ne_bytes();
        let o = optname.to_ne_bytes();
        self.addr = u64::from_ne_bytes([l[0], l[1], l[2], l[3], o[0], o[1], o[2], o[3]]);
    }

    /// Sets `addr_len`, the first 16 bits of the `file_index` word (sendto).
    #[inline(always)]
    pub(crate) const fn set_addr_len(&mut self, addr_len: u16) {
        let mut b = self.file_index.to_ne_bytes();
        let a = addr_len.to_ne_bytes();
        b[0] = a[0];
        b[1] = a[1];
        self.file_index = u32::from_ne_bytes(b);
    }

    /// Sets the 16 bytes of command data at the end of a 64-byte entry.
    #[inline(always)]
    pub(crate) const fn set_cmd16(&mut self, cmd: &[u8; 16]) {
        let mut a = [0u8; 8];
        let mut b = [0u8; 8];
        let mut i = 0;
        while i < 8 {
            a[i] = cmd[i];
            b[i] = cmd[8 + i];
            i += 1;
        }
        self.addr3 = u64::from_ne_bytes(a);
        self.pad2 = u64::from_ne_bytes(b);
    }

    /// Points the entry at `target`: its fd or fixed index, with `IOSQE_FIXED_FILE`.
    #[inline(always)]
    pub(crate) const fn set_target(&mut self, target: crate::types::Target) {
        let (fd, fixed) = target.parts();
        self.fd = fd;
        if fixed {
            self.flags |= SqeFlags::FIXED_FILE.bits();
        }
    }

    /// The finished entry.
    #[inline(always)]
    pub(crate) const fn into_sqe(self) -> Sqe {
        // SAFETY: RawSqe and io_uring_sqe have the same size and alignment and the
        // same field offsets (asserted above); both are plain integers (io_uring_sqe's
        // unions are of integers and integer arrays), so every bit pattern of RawSqe,
        // which has no padding, is a valid io_uring_sqe.
        Sqe(unsafe { core::mem::transmute::<RawSqe, sys::io_uring_sqe>(self) })
    }

    /// The finished 128-byte entry, with `cmd` as the 64 bytes after it.
    #[inline(always)]
    pub(crate) const fn into_sqe128(self, cmd: [u8; 64]) -> Sqe128 {
        Sqe128 {
            sqe: self.into_sqe().0,
            cmd,
        }
    }
}

impl Sqe {
    /// An all-zero entry with `opcode` set: the starting point of every builder.
    #[inline(always)]
    pub(crate) const fn with_opcode(opcode: u8) -> Sqe {
        // SAFETY: io_uring_sqe is plain old data (integers and unions of integers);
        // all-zero is a valid value and is what liburing's prep helpers start from.
        let mut sqe: sys::io_uring_sqe = unsafe { core::mem::zeroed() };
        sqe.opcode = opcode;
        Sqe(sqe)
    }

    /// The raw kernel structure.
    #[inline(always)]
    pub fn as_raw(&self) -> &sys::io_uring_sqe {
        &self.0
    }

    /// The raw kernel structure, mutably: for fields no builder sets.
    ///
    /// Changing fields can make an entry that reads or writes memory the builder's
    /// arguments did not name; the push of such an entry is `unsafe` for that reason.
    #[inline(always)]
    pub fn as_raw_mut(&mut self) -> &mut sys::io_uring_sqe {
        &mut self.0
    }

    /// Sets the 64-bit value the completion will carry back (`io_uring_sqe_set_data64`).
    ///
    /// ```
    /// let sqe = uring::op::Nop::new().build().user_data(0xfeed);
    /// assert_eq!(sqe.get_user_data(), 0xfeed);
    /// ```
    #[doc(alias = "io_uring_sqe_set_data64")]
    #[doc(alias = "io_uring_sqe_set_data")]
    #[inline(always)]
    pub const fn user_data(mut self, user_data: u64) -> Sqe {
        self.0.user_data = user_data;
        self
    }

    /// The user data set so far (0 by default).
    #[inline(always)]
    pub const fn get_user_data(&self) -> u64 {
        self.0.user_data
    }

    /// Adds `flags` to the entry's flags (bits already set, such as `FIXED_FILE` or
    /// `BUFFER_SELECT` set by the builder, stay set). To replace them all, as
    /// liburing's `io_uring_sqe_set_flags` does, use [`set_flags`](Self::set_flags).
    ///
    /// ```
    /// use uring::sqe::SqeFlags;
    /// let sqe = uring::op::Nop::new().build().flags(SqeFlags::IO_DRAIN);
    /// assert!(sqe.get_flags().contains(SqeFlags::IO_DRAIN));
    /// ```
    #[inline(always)]
    pub const fn flags(mut self, flags: SqeFlags) -> Sqe {
        self.0.flags |= flags.bits();
        self
    }

    /// Replaces the entry's flags with exactly `flags`, as liburing's
    /// `io_uring_sqe_set_flags` does (bits a builder set, such as `FIXED_FILE`,
    /// are cleared unless `flags` has them). To add bits, use
    /// [`flags`](Self::flags).
    ///
    /// ```
    /// use uring::sqe::SqeFlags;
    /// let sqe = uring::op::Nop::new().build().flags(SqeFlags::IO_DRAIN);
    /// let sqe = sqe.set_flags(SqeFlags::IO_LINK);
    /// assert_eq!(sqe.get_flags(), SqeFlags::IO_LINK);
    /// ```
    #[doc(alias = "io_uring_sqe_set_flags")]
    #[inline(always)]
    pub const fn set_flags(mut self, flags: SqeFlags) -> Sqe {
        self.0.flags = flags.bits();
        self
    }

    /// The flags set so far.
    #[inline(always)]
    pub const fn get_flags(&self) -> SqeFlags {
        SqeFlags::from_bits_retain(self.0.flags)
    }

    /// Adds [`SqeFlags::IO_LINK`]: the next entry waits for this one and is cancelled
    /// if it fails.
    ///
    /// ```
    /// use uring::sqe::SqeFlags;
    /// assert_eq!(uring::op::Nop::new().build().link().get_flags(), SqeFlags::IO_LINK);
    /// ```
    #[inline(always)]
    pub const fn link(self) -> Sqe {
        self.flags(SqeFlags::IO_LINK)
    }

    /// Adds [`SqeFlags::IO_HARDLINK`]: the next entry waits for this one, whatever its result.
    #[inline(always)]
    pub const fn hardlink(self) -> Sqe {
        self.flags(SqeFlags::IO_HARDLINK)
    }

    /// Adds [`SqeFlags::IO_DRAIN`]: start only after all earlier entries complete.
    #[inline(always)]
    pub const fn drain(self) -> Sqe {
        self.flags(SqeFlags::IO_DRAIN)
    }

    /// Adds [`SqeFlags::ASYNC`]: go straight to the async worker pool.
    #[inline(always)]
    pub const fn async_(self) -> Sqe {
        self.flags(SqeFlags::ASYNC)
    }

    /// Adds [`SqeFlags::CQE_SKIP_SUCCESS`]: no completion unless the entry fails.
    #[inline(always)]
    pub const fn skip_success(self) -> Sqe {
        self.flags(SqeFlags::CQE_SKIP_SUCCESS)
    }

    /// Runs the operation with the credentials of a registered personality
    /// (`io_uring_register_personality`); 0, the default, means the ring's own.
    ///
    /// ```
    /// let sqe = uring::op::Nop::new().build().personality(3);
    /// assert_eq!(sqe.as_raw().personality, 3);
    /// ```
    #[inline(always)]
    pub const fn personality(mut self, personality: u16) -> Sqe {
        self.0.personality = personality;
        self
    }

    /// Sets the provided-buffer group (`io_uring_sqe_set_buf_group`) and
    /// [`SqeFlags::BUFFER_SELECT`]. Builders of operations that take a group offer
    /// this as their own `buf_group` setter.
    #[doc(alias = "io_uring_sqe_set_buf_group")]
    #[inline(always)]
    pub const fn buf_group(mut self, group: u16) -> Sqe {
        self.0.__bindgen_anon_4.buf_group = group;
        self.0.flags |= SqeFlags::BUFFER_SELECT.bits();
        self
    }
}

impl Sqe128 {
    /// The first 64 bytes: the ordinary entry.
    #[inline(always)]
    pub fn as_raw(&self) -> &sys::io_uring_sqe {
        &self.sqe
    }

    /// The 64 bytes of command data after the entry.
    #[inline(always)]
    pub fn cmd(&self) -> &[u8; 64] {
        &self.cmd
    }

    /// The first 64 bytes, mutably: for fields no builder sets (see [`Sqe::as_raw_mut`]).
    #[inline(always)]
    pub fn as_raw_mut(&mut self) -> &mut sys::io_uring_sqe {
        &mut self.sqe
    }

    /// The 64 bytes of command data after the entry, mutably.
    #[inline(always)]
    pub fn cmd_mut(&mut self) -> &mut [u8; 64] {
        &mut self.cmd
    }

    /// Sets the value the completion will carry back.
    ///
    /// ```
    /// let sqe = uring::op::Nop128::new().build().user_data(9);
    /// assert_eq!(sqe.get_user_data(), 9);
    /// ```
    #[inline(always)]
    pub const fn user_data(mut self, user_data: u64) -> Sqe128 {
        self.sqe.user_data = user_data;
        self
    }

    /// The user data set so far.
    #[inline(always)]
    pub const fn get_user_data(&self) -> u64 {
        self.sqe.user_data
    }

    /// Adds `flags` to the entry's flags.
    #[inline(always)]
    pub const fn flags(mut self, flags: SqeFlags) -> Sqe128 {
        self.sqe.flags |= flags.bits();
        self
    }

    /// Replaces the entry's flags with exactly `flags`.
    #[inline(always)]
    pub const fn set_flags(mut self, flags: SqeFlags) -> Sqe128 {
        self.sqe.flags = flags.bits();
        self
    }

    /// The flags set so far.
    #[inline(always)]
    pub const fn get_flags(&self) -> SqeFlags {
        SqeFlags::from_bits_retain(self.sqe.flags)
    }

    /// Adds [`SqeFlags::IO_LINK`].
    #[inline(always)]
    pub const fn link(self) -> Sqe128 {
        self.flags(SqeFlags::IO_LINK)
    }

    /// Adds [`SqeFlags::IO_HARDLINK`].
    #[inline(always)]
    pub const fn hardlink(self) -> Sqe128 {
        self.flags(SqeFlags::IO_HARDLINK)
    }

    /// Adds [`SqeFlags::IO_DRAIN`].
    #[inline(always)]
    pub const fn drain(self) -> Sqe128 {
        self.flags(SqeFlags::IO_DRAIN)
    }

    /// Adds [`SqeFlags::ASYNC`].
    #[inline(always)]
    pub const fn async_(self) -> Sqe128 {
        self.flags(SqeFlags::ASYNC)
    }

    /// Adds [`SqeFlags::CQE_SKIP_SUCCESS`].
    #[inline(always)]
    pub const fn skip_success(self) -> Sqe128 {
        self.flags(SqeFlags::CQE_SKIP_SUCCESS)
    }

    /// Runs the operation with a registered personality's credentials.
    #[inline(always)]
    pub const fn personality(mut self, personality: u16) -> Sqe128 {
        self.sqe.personality = personality;
        self
    }
}

// bindgen cannot derive Clone for io_uring_sqe (it ends in a flexible array member),
// but every bit pattern of it is plain data.
impl Clone for Sqe {
    #[inline(always)]
    fn clone(&self) -> Sqe {
        // SAFETY: io_uring_sqe is plain old data with no pointers it owns; a bitwise copy
        // of the 64 bytes is a valid, independent value.
        Sqe(unsafe { core::ptr::read(&self.0) })
    }
}

impl Clone for Sqe128 {
    #[inline(always)]
    fn clone(&self) -> Sqe128 {
        // SAFETY: as for Sqe: 128 bytes of plain data.
        unsafe { core::ptr::read(self) }
    }
}

impl core::fmt::Debug for Sqe {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sqe")
            .field("opcode", &self.0.opcode)
            .field("flags", &self.0.flags)
            .field("fd", &self.0.fd)
            .field("user_data", &self.0.user_data)
            .finish_non_exhaustive()
    }
}

impl core::fmt::Debug for Sqe128 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sqe128")
            .field("opcode", &self.sqe.opcode)
            .field("flags", &self.sqe.flags)
            .field("fd", &self.sqe.fd)
            .field("user_data", &self.sqe.user_data)
            .finish_non_exhaustive()
    }
}
