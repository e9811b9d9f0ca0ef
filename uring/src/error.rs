//! Error types: [`PushError`] for a submission that found no room, and the
//! errno-carrying [`io::Error`]s the ring returns.
//!
//! Every fallible call in this crate that reaches the kernel returns
//! [`std::io::Error`]. On the hot paths (submit, wait) it is exactly
//! [`io::Error::from_raw_os_error`] of the errno the kernel returned, so
//! [`io::Error::raw_os_error`] gives it back. Set-up and other cold paths add a
//! message naming what was wrong (the entry count and the limit, the flags the
//! kernel refused); those errors still carry the errno, which [`errno`] returns.
//!
//! ```
//! let err = uring::Ring::new(0).unwrap_err();
//! assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
//! assert!(err.to_string().contains("entries"));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::io;

/// Why an entry could not be pushed onto the submission queue.
///
/// Nothing was written to the ring when this is returned: the queue is as it was.
///
/// ```
/// use uring::PushError;
/// assert_eq!(PushError::Full.to_string(), "submission queue is full");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// The submission queue has no free slot (for a batch: fewer free slots than
    /// entries). Submit what is queued, then push again.
    Full,
    /// A 128-byte entry was pushed to a ring set up with neither `SQE128` nor
    /// `SQE_MIXED`.
    Sqe128NotEnabled,
    /// On an `SQE_MIXED` ring, the entry's size does not match its opcode: a
    /// 128-byte opcode (`NOP128`, `URING_CMD128`) pushed as a 64-byte entry, or
    /// another opcode pushed as a 128-byte one. The kernel decides an entry's size
    /// from its opcode, so either would make it read the wrong slots.
    SizeMismatch {
        /// The opcode of the refused entry.
        opcode: u8,
    },
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full => f.write_str("submission queue is full"),
            PushError::Sqe128NotEnabled => {
                f.write_str("128-byte entry pushed to a ring set up without SQE128 or SQE_MIXED")
            }
            PushError::SizeMismatch { opcode } => write!(
                f,
                "opcode {opcode} has the wrong entry size for this SQE_MIXED ring \
                 (NOP128 and URING_CMD128 take 128 bytes, every other opcode 64)"
            ),
        }
    }
}

impl std::error::Error for PushError {}

impl From<PushError> for io::Error {
    /// `Full` becomes `EBUSY` (kind `ResourceBusy`), the others `EINVAL`; the
    /// message is kept.
    fn from(e: PushError) -> io::Error {
        let errno = match e {
            PushError::Full => libc::EBUSY,
            _ => libc::EINVAL,
        };
        with_context(errno, e.to_string())
    }
}

/// The errno an error from this crate carries, if any.
///
/// Works both for plain OS errors ([`io::Error::raw_os_error`]) and for the
/// errors with context this crate builds on its cold paths.
///
/// ```
/// let e = std::io::Error::from_raw_os_error(libc::ETIME);
/// assert_eq!(uring::error::errno(&e), Some(libc::ETIME));
/// ```
pub fn errno(err: &io::Error) -> Option<i32> {
    if let Some(n) = err.raw_os_error() {
        return Some(n);
    }
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<Errno>())
        .map(|e| e.errno)
}

/// An errno with a sentence saying what failed; the payload of this crate's
/// contextual [`io::Error`]s. Its [`source`](std::error::Error::source) is the
/// plain OS error.
#[derive(Debug)]
pub struct Errno {
    errno: i32,
    context: Cow<'static, str>,
}

impl Errno {
    /// The raw errno value (`libc::EINVAL`, …).
    pub fn errno(&self) -> i32 {
        self.errno
    }

    /// What failed, without the OS error text.
    pub fn context(&self) -> &str {
        &self.context
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.context,
            io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for Errno {}

/// An `io::Error` of the errno's kind whose message is `context`.
#[cold]
pub(crate) fn with_context(errno: i32, context: impl Into<Cow<'static, str>>) -> io::Error {
    let kind = io::Error::from_raw_os_error(errno).kind();
    io::Error::new(
        kind,
        Errno {
            errno,
            context: context.into(),
        },
    )
}

/// `ret` from a liburing call (`-errno` on failure) as an `io::Result`.
#[inline]
pub(crate) fn from_ret(ret: i32) -> io::Result<u32> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_errors_keep_errno_and_kind() {
        let e = with_context(libc::EINVAL, "entries must be at least 1");
        assert_eq!(errno(&e), Some(libc::EINVAL));
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let text = e.to_string();
        assert!(text.starts_with("entries must be at least 1: "), "{text}");
        assert!(text.contains("os error 22"), "{text}");
    }

    #[test]
    fn push_error_into_io_error() {
        let e: io::Error = PushError::Full.into();
        assert_eq!(errno(&e), Some(libc::EBUSY));
        assert!(e.to_string().contains("submission queue is full"));
    }

    #[test]
    fn from_ret_maps_negative_to_errno() {
        assert_eq!(from_ret(3).unwrap(), 3);
        assert_eq!(
            from_ret(-libc::EAGAIN).unwrap_err().raw_os_error(),
            Some(libc::EAGAIN)
        );
    }
}
