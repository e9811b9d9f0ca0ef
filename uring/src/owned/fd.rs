//! [`SharedFd`]: a descriptor that in-flight operations keep open.

use std::fs::File;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixDatagram, UnixListener, UnixStream};
use std::sync::Arc;

/// An open file descriptor shared by reference counting: every operation that
/// works on it holds a clone until its final completion, so the descriptor stays
/// open — and its number cannot be reused for another file — while the kernel may
/// still use it. It is closed when the last clone is dropped.
///
/// Made from anything that owns a descriptor ([`OwnedFd`], [`File`], sockets), or
/// cloned from another `SharedFd` (`&SharedFd` converts by cloning).
///
/// ```
/// use std::os::fd::AsRawFd;
/// use uring::owned::SharedFd;
///
/// let fd = SharedFd::from(std::fs::File::open("/dev/null")?);
/// let op_copy = fd.clone();
/// drop(fd);
/// // Still open: the clone keeps it.
/// assert!(op_copy.as_raw_fd() >= 0);
/// let owned = op_copy.try_unwrap().expect("the last clone");
/// # drop(owned);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SharedFd(Arc<OwnedFd>);

impl SharedFd {
    /// Shares `fd`.
    pub fn new(fd: impl Into<OwnedFd>) -> SharedFd {
        SharedFd(Arc::new(fd.into()))
    }

    /// The descriptor itself, if this is the last clone; otherwise `self` back.
    ///
    /// # Errors
    ///
    /// `Err(self)` while other clones (for example in-flight operations) exist.
    pub fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        Arc::try_unwrap(self.0).map_err(SharedFd)
    }

    /// How many clones exist, counting in-flight operations that hold one.
    ///
    /// ```
    /// use uring::owned::SharedFd;
    /// let a = SharedFd::from(std::fs::File::open("/dev/null")?);
    /// let b = a.clone();
    /// assert_eq!(b.holders(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn holders(&self) -> usize {
        Arc::strong_count(&self.0)
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

impl From<Arc<OwnedFd>> for SharedFd {
    fn from(fd: Arc<OwnedFd>) -> SharedFd {
        SharedFd(fd)
    }
}

impl From<&SharedFd> for SharedFd {
    fn from(fd: &SharedFd) -> SharedFd {
        fd.clone()
    }
}

macro_rules! shared_from {
    ($($t:ty),*) => {$(
        impl From<$t> for SharedFd {
            #[doc = concat!("Shares the descriptor of a `", stringify!($t), "`.")]
            fn from(fd: $t) -> SharedFd {
                SharedFd::new(fd)
            }
        }
    )*};
}

shared_from!(
    OwnedFd,
    File,
    TcpStream,
    TcpListener,
    UdpSocket,
    UnixStream,
    UnixListener,
    UnixDatagram
);

/// A duplicate of `ring`'s descriptor (close-on-exec), for a registration that
/// must be undone whatever happens to the ring itself; `what` names the
/// registration in errors.
pub(super) fn dup_ring_fd(ring: &crate::Ring, what: &str) -> std::io::Result<OwnedFd> {
    let raw_fd = ring.raw.ring_fd;
    if raw_fd < 0 {
        return Err(crate::error::with_context(
            libc::EBADF,
            format!(
                "{what}: the ring has no plain fd to duplicate (REGISTERED_FD_ONLY or close_ring_fd)"
            ),
        ));
    }
    // SAFETY: raw_fd is the ring's open descriptor (the borrow keeps the ring
    // alive); F_DUPFD_CLOEXEC makes a new one and touches no memory.
    let dup = unsafe { libc::fcntl(raw_fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        let e = std::io::Error::last_os_error();
        return Err(crate::error::with_context(
            e.raw_os_error().unwrap_or(libc::EMFILE),
            format!("{what}: duplicating the ring fd"),
        ));
    }
    // SAFETY: dup is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}
