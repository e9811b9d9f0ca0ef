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
