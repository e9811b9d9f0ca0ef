//! Error types: [`PushError`] for a submission that found no room, and the
//! errno-carrying [`io::Error`]s the ring returns.
//!
//! Every fallible call in this crate that reaches the kernel returns
//! [`std::io::Error`], always carrying an errno, in one of two forms:
//!
//! * **An errno that says what happened** — one the kernel returned while
//!   submitting or waiting, a set-up refusal the crate knows no cause for (a
//!   flag this kernel lacks), or an outcome a correct program meets at run time
//!   and branches on (`ENOENT`: the operation is not in flight, or nothing is;
//!   `EBUSY`: the submission queue is full) — is exactly
//!   [`io::Error::from_raw_os_error`], so [`io::Error::raw_os_error`] gives it
//!   back. Each method's `# Errors` section says what its errnos mean there.
//! * **An errno with a sentence** — bad input this crate refuses before the
//!   kernel sees it (0 entries, a chain longer than the queue, an operation or id
//!   of another ring, a known-invalid combination of set-up flags), and the
//!   kernel's errno from a cold call the crate names (registering files or
//!   buffers: "registering 1 files: …") — carries an [`Errno`] payload, whose
//!   [`source`](std::error::Error::source) is the plain OS error; its
//!   [`kind`](io::Error::kind) is the errno's. [`io::Error::raw_os_error`] is
//!   `None` for it (std's `io::Error` holds either an OS code or a payload, never
//!   both), so match such errors with [`errno`], which reads both forms.
//!
//! ```
//! use std::error::Error as _;
//!
//! // Bad input: a message, and the errno through `errno` or `source`.
//! let err = uring::Ring::new(0).unwrap_err();
//! assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
//! assert!(err.to_string().contains("entries"));
//! let os = err.get_ref().and_then(|e| e.source()).unwrap();
//! let os = os.downcast_ref::<std::io::Error>().unwrap();
//! assert_eq!(os.raw_os_error(), Some(libc::EINVAL));
//!
//! // An outcome: the plain errno.
//! let full: std::io::Error = uring::PushError::Full.into();
//! assert_eq!(full.raw_os_error(), Some(libc::EBUSY));
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
    /// `Full` — an outcome: submit, then push again — becomes the plain OS error
    /// `EBUSY` (so [`raw_os_error`](io::Error::raw_os_error) gives it); the others
    /// are bad input, `EINVAL` with the message kept.
    fn from(e: PushError) -> io::Error {
        match e {
            PushError::Full => io::Error::from_raw_os_error(libc::EBUSY),
            _ => with_context(libc::EINVAL, e.to_string()),
        }
    }
}

/// The errno an error from this crate carries, if any.
///
/// Works both for plain OS errors ([`io::Error::raw_os_error`]) and for the
/// errors with a message this crate builds for bad input (an [`Errno`] payload).
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
///
/// ```
/// use std::error::Error as _;
/// let err = uring::Ring::new(0).unwrap_err();
/// let payload = err.get_ref().unwrap().downcast_ref::<uring::error::Errno>().unwrap();
/// assert_eq!(payload.errno(), libc::EINVAL);
/// let os = payload.source().unwrap().downcast_ref::<std::io::Error>().unwrap();
/// assert_eq!(os.raw_os_error(), Some(libc::EINVAL));
/// ```
#[derive(Debug)]
pub struct Errno {
    errno: i32,
    context: Cow<'static, str>,
    /// The plain OS error, for `source`.
    os: io::Error,
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
        write!(f, "{}: {}", self.context, self.os)
    }
}

impl std::error::Error for Errno {
    /// The plain OS error, whose [`raw_os_error`](io::Error::raw_os_error) is the
    /// errno.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.os)
    }
}

/// An `io::Error` of the errno's kind whose message is `context`: for bad input
/// (see the [module docs](self)); an errno that says what happened is returned
/// plain.
#[cold]
pub(crate) fn with_context(errno: i32, context: impl Into<Cow<'static, str>>) -> io::Error {
    let os = io::Error::from_raw_os_error(errno);
    io::Error::new(
        os.kind(),
        Errno {
            errno,
            context: context.into(),
            os,
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
    fn context_errors_source_is_the_os_error() {
        use std::error::Error as _;
        let e = with_context(libc::EXDEV, "another ring's registration");
        let payload = e.get_ref().expect("a payload");
        let os = payload.source().expect("a source");
        let os = os.downcast_ref::<io::Error>().expect("an io::Error");
        assert_eq!(os.raw_os_error(), Some(libc::EXDEV));
        assert!(os.source().is_none());
    }

    #[test]
    fn push_error_into_io_error() {
        let e: io::Error = PushError::Full.into();
        assert_eq!(e.raw_os_error(), Some(libc::EBUSY));
        assert_eq!(e.kind(), io::ErrorKind::ResourceBusy);
        let e: io::Error = PushError::SizeMismatch { opcode: 1 }.into();
        assert_eq!(errno(&e), Some(libc::EINVAL));
        assert!(e.to_string().contains("opcode 1"), "{e}");
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
