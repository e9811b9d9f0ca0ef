//! Restrictions and personalities.

use std::io;

use super::count;
use crate::ring::Ring;
use crate::sys;

impl Ring {
    /// Registers the calling task's credentials as a personality
    /// (`IORING_REGISTER_PERSONALITY`, Linux 5.6) and returns its id, which an
    /// entry's `personality` field selects so it runs with those credentials.
    #[doc(alias = "io_uring_register_personality")]
    pub fn register_personality(&mut self) -> io::Result<u16> {
        let id = self.register_call(
            || "registering a personality".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_register_personality(r) },
        )?;
        Ok(id as u16)
    }

    /// Drops personality `id` (`IORING_UNREGISTER_PERSONALITY`). `EINVAL` if
    /// there is no such personality.
    #[doc(alias = "io_uring_unregister_personality")]
    pub fn unregister_personality(&mut self, id: u16) -> io::Result<()> {
        self.register_call(
            || format!("unregistering personality {id}"),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_personality(r, id as i32) },
        )?;
        Ok(())
    }

    /// Restricts what the ring may do (`IORING_REGISTER_RESTRICTIONS`, Linux
    /// 5.10): only the listed opcodes, register operations and entry flags are
    /// allowed afterwards; anything else fails with `EACCES`. Only possible once,
    /// on a ring set up with [`Builder::r_disabled`](crate::Builder::r_disabled),
    /// before [`enable_rings`](Self::enable_rings).
    ///
    /// ```
    /// use uring::register::Restriction;
    /// let mut ring = uring::Ring::builder().r_disabled().build(4)?;
    /// ring.register_restrictions(&[Restriction::SqeOp(uring::sys::IORING_OP_NOP as u8)])?;
    /// ring.enable_rings()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_register_restrictions")]
    pub fn register_restrictions(&mut self, restrictions: &[Restriction]) -> io::Result<()> {
        let mut raw: Vec<sys::io_uring_restriction> =
            restrictions.iter().map(|r| r.to_raw()).collect();
        let n = count(raw.len(), "restrictions")?;
        self.register_call(
            || format!("registering {n} restrictions"),
            // SAFETY: raw holds n valid restrictions for the call.
            |r| unsafe { sys::io_uring_register_restrictions(r, raw.as_mut_ptr(), n) },
        )?;
        Ok(())
    }
}

/// One rule for [`Ring::register_restrictions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restriction {
    /// Allow this `io_uring_register` opcode (`IORING_REGISTER_*`).
    RegisterOp(u8),
    /// Allow entries with this opcode (`IORING_OP_*`).
    SqeOp(u8),
    /// Allow these `IOSQE_*` entry flags (others are refused).
    SqeFlagsAllowed(u8),
    /// Require these `IOSQE_*` entry flags on every entry.
    SqeFlagsRequired(u8),
}

impl Restriction {
    fn to_raw(self) -> sys::io_uring_restriction {
        let (opcode, value) = match self {
            Restriction::RegisterOp(op) => (sys::IORING_RESTRICTION_REGISTER_OP, op),
            Restriction::SqeOp(op) => (sys::IORING_RESTRICTION_SQE_OP, op),
            Restriction::SqeFlagsAllowed(f) => (sys::IORING_RESTRICTION_SQE_FLAGS_ALLOWED, f),
            Restriction::SqeFlagsRequired(f) => (sys::IORING_RESTRICTION_SQE_FLAGS_REQUIRED, f),
        };
        sys::io_uring_restriction {
            opcode: opcode as u16,
            __bindgen_anon_1: sys::io_uring_restriction__bindgen_ty_1 { sqe_op: value },
            resv: 0,
            resv2: [0; 3],
        }
    }
}
