//! Nothing, and messages to other rings: NOP, `MSG_RING`.

use std::io;

use super::{fd_of, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::Token;
use crate::owned::{Op, OwnedRing, RAW_USER_DATA_MAX, SharedFd};
use crate::sqe::Sqe;

/// Does nothing, and completes: `IORING_OP_NOP`. Output: the result (0, or the
/// injected error).
///
/// ```
/// use uring::owned::{OwnedRing, ops::Nop};
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Nop::new())?;
/// assert_eq!(ring.wait_for(id)?.unwrap(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Default)]
pub struct Nop {
    errno: Option<i32>,
}

impl Nop {
    /// A NOP that succeeds with 0.
    pub fn new() -> Nop {
        Nop { errno: None }
    }

    /// A NOP that fails with `errno` (`IORING_NOP_INJECT_RESULT`, Linux 6.3; older
    /// kernels ignore the flag and complete with 0).
    pub fn failing(errno: i32) -> Nop {
        Nop {
            errno: Some(errno.checked_abs().unwrap_or(i32::MAX)),
        }
    }
}

// SAFETY: a NOP names no memory and no descriptor.
unsafe impl Op for Nop {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::Nop::new()
            .inject_result(self.errno.map(|e| -e))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
    #[inline(always)]
    fn posts_more(_: Token) -> bool {
        false
    }
}

/// Posts a completion into another ring's completion queue:
/// `IORING_OP_MSG_RING` (Linux 5.18). The target ring sees a completion with the
/// `user_data` and `result` chosen here; the sending ring's own completion (this
/// op's output) says whether it was posted (`EOVERFLOW` when the target's queue
/// is full, `EBADFD` when the target is not a ring).
///
/// The target is held through a duplicate of its descriptor, so it stays valid
/// whatever happens to the ring meanwhile. `user_data` must be at most
/// [`RAW_USER_DATA_MAX`](crate::owned::RAW_USER_DATA_MAX): an [`OwnedRing`](crate::owned::OwnedRing)
/// reserves the two top bits for its own operations, so a larger value could be
/// taken for one of them — the constructors refuse it. On an `OwnedRing` the
/// message arrives through [`raw_completions`](crate::owned::OwnedRing::raw_completions).
///
/// The target cannot tell the message from the completion of one of its own raw
/// entries with the same `user_data`: code that pushes raw entries on a ring
/// (`unsafe`: [`push_raw`](crate::owned::OwnedRing::push_raw), or a plain
/// [`Ring`](crate::Ring)) must give them `user_data` values that no message sent to
/// that ring uses, or it could take a message for its entry's completion and
/// release the entry's memory too early.
///
/// ```
/// use uring::owned::{OwnedRing, ops::MsgRing};
/// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
/// let mut a = OwnedRing::new(2)?;
/// let mut b = OwnedRing::new(2)?;
/// let id = a.submit_op(MsgRing::new(&b, 42, 7)?)?;
/// a.wait_for(id)??;
/// let cqe = b.raw_completions().next().expect("the message");
/// assert_eq!((cqe.user_data(), cqe.raw_result()), (42, 7));
/// // A user_data with the reserved bits set is refused.
/// assert!(MsgRing::new(&b, 1 << 63, 0).is_err());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_msg_ring")]
#[derive(Debug)]
pub struct MsgRing {
    target: SharedFd,
    user_data: u64,
    result: i32,
}

impl MsgRing {
    /// Post `(user_data, result)` into the completion queue of `target`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`](crate::owned::RAW_USER_DATA_MAX);
    /// `EBADF` for a ring without a descriptor (`REGISTERED_FD_ONLY`); the
    /// errno of duplicating its descriptor.
    pub fn new(target: &OwnedRing, user_data: u64, result: i32) -> io::Result<MsgRing> {
        MsgRing::to_ring(target.ring(), user_data, result)
    }

    /// As [`new`](Self::new), for a plain [`Ring`](crate::Ring).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::MsgRing};
    /// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
    /// let mut target = uring::Ring::new(2)?;
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(MsgRing::to_ring(&target, 5, -1)?)?;
    /// ring.wait_for(id)??;
    /// let cqe = target.completion().next().expect("the message");
    /// assert_eq!((cqe.user_data(), cqe.raw_result()), (5, -1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn to_ring(target: &crate::Ring, user_data: u64, result: i32) -> io::Result<MsgRing> {
        let fd = target.fd().ok_or_else(|| {
            crate::error::with_context(libc::EBADF, "the target ring has no descriptor")
        })?;
        MsgRing::to_fd(fd.try_clone_to_owned()?, user_data, result)
    }

    /// As [`new`](Self::new), for a ring known by its descriptor (any other file
    /// makes the kernel answer `EBADFD`).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use uring::owned::{OwnedRing, ops::MsgRing};
    /// # if !uring::probe::probe()?.is_supported(uring::op::MsgRing::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// let not_a_ring = std::fs::File::open("/dev/null")?;
    /// let id = ring.submit_op(MsgRing::to_fd(not_a_ring, 1, 0)?)?;
    /// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::EBADFD));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`](crate::owned::RAW_USER_DATA_MAX).
    pub fn to_fd(target: impl Into<SharedFd>, user_data: u64, result: i32) -> io::Result<MsgRing> {
        if user_data > RAW_USER_DATA_MAX {
            return Err(crate::error::with_context(
                libc::EINVAL,
                "a message's user_data must leave bits 63 and 62 clear (the target may be an \
                 OwnedRing, which reserves them)",
            ));
        }
        Ok(MsgRing {
            target: target.into(),
            user_data,
            result,
        })
    }
}

// SAFETY: names no memory (user_data and result are values copied into the
// target's completion) and one descriptor, the target's, which the op's SharedFd
// keeps open. No flags are set: no fixed file, no descriptor passing. The value
// posted keeps bits 63 and 62 clear (checked at construction), so an OwnedRing
// target files it as a raw completion, never as one of its operations'.
unsafe impl Op for MsgRing {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::MsgRing::new(fd_of(&self.target), self.result, self.user_data).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}
