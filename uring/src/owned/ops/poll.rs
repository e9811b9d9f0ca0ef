//! Readiness: poll once, or staying armed.

use std::io;

use super::FileRef;
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::imp::{Binding, Token};
use crate::owned::{Multishot, Op};
use crate::sqe::Sqe;

/// Waits once for readiness events on a file, like `poll(2)`: `IORING_OP_POLL_ADD`
/// (Linux 5.1). Output: the ready events (`POLLIN`, …).
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{DirectTable, OwnedRing, ops::PollAdd};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 1, 0) else { return Ok(()) }; // < 5.19
/// # /*
/// let table = DirectTable::new(&mut ring, 1, 0)?;
/// # */
/// let (mut peer, sock) = std::os::unix::net::UnixStream::pair()?;
/// let sock = table.insert(sock)?; // a direct descriptor
/// let id = ring.submit_op(PollAdd::new(&sock, libc::POLLIN as u32))?;
/// ring.submit()?;
/// peer.write_all(b"wake up")?;
/// assert_ne!(ring.wait_for(id)?? & libc::POLLIN as u32, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct PollAdd {
    fd: FileRef,
    mask: u32,
}

impl PollAdd {
    /// Wait for any of `mask` (`POLLIN`, `POLLOUT`, … as `u32`) on `fd` (plain or
    /// direct: a [`DirectFd`](crate::owned::DirectFd)).
    pub fn new(fd: impl Into<FileRef>, mask: u32) -> PollAdd {
        PollAdd {
            fd: fd.into(),
            mask,
        }
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open; single-shot, so its
// first completion is its final one.
unsafe impl Op for PollAdd {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::PollAdd::new(self.fd.target(), self.mask).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Keeps polling a descriptor, one item (the ready events) per wake-up: multishot
/// `IORING_OP_POLL_ADD` (Linux 5.13).
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * on an error, which is the last item: `ECANCELED` after a cancel, `EINVAL` first
///   on kernels without it; `raw_result()` is `-errno`, `rearm()` false;
/// * with events, when the kernel stopped the stream while more could come (a full
///   completion queue does that): the events are the last item, `raw_result()`
///   their mask, `rearm()` **true** — submit it again to go on.
#[derive(Debug)]
pub struct PollMultishot {
    fd: FileRef,
    mask: u32,
}

impl PollMultishot {
    /// Keep waiting for any of `mask` (`POLLIN`, … as `u32`) on `fd` (plain or
    /// direct: a [`DirectFd`](crate::owned::DirectFd)).
    pub fn new(fd: impl Into<FileRef>, mask: u32) -> PollMultishot {
        PollMultishot {
            fd: fd.into(),
            mask,
        }
    }
}

// SAFETY: names only a descriptor the op's FileRef keeps open.
unsafe impl Multishot for PollMultishot {
    type Item = u32;
    fn sqe(&mut self) -> Sqe {
        raw::PollAdd::new(self.fd.target(), self.mask)
            .multi(true)
            .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<u32>> {
        Some(cqe.result())
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}
