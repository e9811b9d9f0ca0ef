//! What becomes of a direct descriptor ([`DirectFd`]): a plain descriptor of its
//! file (`FIXED_FD_INSTALL`), closed (`CLOSE` on its slot), or moved to another
//! ring (`MSG_RING` with `IORING_MSG_SEND_FD`).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use super::{Heap, new_fd, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
#[cfg(doc)]
use crate::owned::OwnedRing;
use crate::owned::direct::{Mailbox, passed_user_data};
use crate::owned::imp::{Binding, Token};
use crate::owned::{DirectFd, DirectTable, Op, SharedFd};
use crate::sqe::Sqe;
use crate::types::{DestinationSlot, Fd, Fixed};

/// Makes a plain descriptor of a direct descriptor's file:
/// `IORING_OP_FIXED_FD_INSTALL` (Linux 6.8). The output is a new `OwnedFd`
/// (close-on-exec); the direct descriptor stays.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{DirectTable, OwnedRing, ops::InstallDirect};
/// # if !uring::probe::probe()?.is_supported(uring::op::FixedFdInstall::CODE) { return Ok(()) } // < 6.8
/// let mut ring = OwnedRing::new(4)?;
/// let table = DirectTable::new(&mut ring, 4, 0)?;
/// let (r, w) = std::os::unix::net::UnixStream::pair()?;
/// let direct = table.insert(w)?;
/// let id = ring.submit_op(InstallDirect::new(&direct))?;
/// let mut plain = std::os::unix::net::UnixStream::from(ring.wait_for(id)??);
/// plain.write_all(b"!")?;
/// # drop(r);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_fixed_fd_install")]
#[derive(Debug)]
pub struct InstallDirect {
    fd: DirectFd,
}

impl InstallDirect {
    /// Install `fd`'s file in the process's descriptor table.
    pub fn new(fd: &DirectFd) -> InstallDirect {
        InstallDirect { fd: fd.share() }
    }
}

// SAFETY: names no memory; names the slot the op's DirectFd share holds, in the
// table of the ring `bound_ring` names. The result is a new descriptor nothing
// else owns, taken by the output.
unsafe impl Op for InstallDirect {
    type Output = io::Result<OwnedFd>;
    fn sqe(&mut self) -> Sqe {
        raw::FixedFdInstall::new(Fixed(self.fd.index())).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<OwnedFd> {
        new_fd(cqe)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.fd.ring_id())
    }
}

/// Closes a direct descriptor: `IORING_OP_CLOSE` on its slot (Linux 5.15). Only
/// a descriptor no operation holds can be closed this way (otherwise it is
/// given back: dropping it instead closes the slot once they are done).
/// Dropping a [`DirectFd`] closes it too, synchronously.
///
/// In a table that guards its chosen slots
/// ([`DirectTable::guards_chosen_slots`]) a chosen slot is closed by
/// `IORING_OP_FILES_UPDATE` putting the table's placeholder file back (Linux
/// 5.6): the slot is never empty for the kernel to pick.
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::CloseDirect};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 2, 0) else { return Ok(()) }; // < 6.0
/// let fd = table.insert(std::fs::File::open("/dev/null")?)?;
/// let id = ring.submit_op(CloseDirect::new(fd).expect("no operation holds it"))?;
/// ring.wait_for(id)??;
/// assert_eq!(table.in_use(), 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_close_direct")]
pub struct CloseDirect {
    fd: DirectFd,
    /// The placeholder descriptor the kernel reads (at issue, maybe from a
    /// worker) to put back in a guarded chosen slot.
    placeholder: Option<Heap<[i32; 1]>>,
}

impl std::fmt::Debug for CloseDirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloseDirect")
            .field("fd", &self.fd)
            .field("placeholder", &self.placeholder.is_some())
            .finish()
    }
}

impl CloseDirect {
    /// Close `fd`.
    ///
    /// # Errors
    ///
    /// `fd` back while operations hold it.
    pub fn new(fd: DirectFd) -> Result<CloseDirect, DirectFd> {
        if fd.is_unique() {
            let placeholder =
                fd.0.table
                    .placeholder_for(fd.index())
                    .map(|p| Heap::new([p]));
            Ok(CloseDirect { fd, placeholder })
        } else {
            Err(fd)
        }
    }
}

// SAFETY: names the slot the op holds, the only handle to it (so no other
// operation can name it), in the table of the ring `bound_ring` names, and, for
// a guarded chosen slot, the op's own heap array holding the table's
// placeholder descriptor (kept open by the table the op's handle holds). After
// a successful close the slot is marked empty; otherwise the handle's drop
// empties it.
unsafe impl Op for CloseDirect {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        match &self.placeholder {
            Some(p) => raw::FilesUpdate::new(p.ptr().cast_const().cast(), 1)
                .offset(self.fd.index() as i32)
                .build(),
            None => raw::Close::new(Fixed(self.fd.index())).build(),
        }
    }
    fn complete(mut self, cqe: &Cqe) -> io::Result<()> {
        let r = unit(cqe);
        if r.is_ok() {
            self.fd.closed_by_kernel();
        }
        r
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.fd.ring_id())
    }
}

/// Moves a direct descriptor to another ring, typically another thread's:
/// `IORING_OP_MSG_RING` with `IORING_MSG_SEND_FD` (Linux 6.0). The kernel puts
/// the file in a slot it picks from the target table's kernel range and posts a
/// completion there, which the target takes as an owned [`DirectFd`] with
/// [`OwnedRing::take_received`] (or [`wait_received`](OwnedRing::wait_received)),
/// together with `tag`.
///
/// The output is `Ok(())` once the target has it (this ring's slot is then
/// closed, unless clones of the handle or operations still hold it), or the error and the descriptor
/// back: `ENFILE` when the target has no direct table or its kernel range is
/// full, `EBADFD` when the target is not a ring. The target's
/// [`Mailbox`] keeps its kernel ring alive, so a target dropped meanwhile is no
/// hazard: the descriptor goes down with its table. One never taken stays in
/// the target's table until that ring is gone.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// use uring::owned::{DirectTable, OwnedRing, ops::{Recv, SendDirect}};
/// # if !uring::probe::probe()?.is_supported(uring::op::SendZc::CODE) { return Ok(()) } // < 6.0
/// let mut here = OwnedRing::new(4)?;
/// let mut there = OwnedRing::new(4)?;
/// let mine = DirectTable::new(&mut here, 4, 0)?;
/// let _theirs = DirectTable::new(&mut there, 0, 4)?;
/// let (sock, mut peer) = std::os::unix::net::UnixStream::pair()?;
/// let op = SendDirect::from_fd(&mine, sock, &there.mailbox()?, 7)?;
/// let id = here.submit_op(op)?;
/// here.wait_for(id)?.map_err(|(e, _fd)| e)?;
/// assert_eq!(mine.in_use(), 0); // moved: gone from here
/// let (fd, tag) = there.wait_received()?;
/// assert_eq!(tag, 7);
/// peer.write_all(b"hi")?;
/// let id = there.submit_op(Recv::new(&fd, vec![0u8; 2]))?;
/// assert_eq!(&there.wait_for(id)?.1[..], b"hi");
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_msg_ring_fd_alloc")]
#[derive(Debug)]
pub struct SendDirect {
    fd: DirectFd,
    target: SharedFd,
    tag: u32,
}

impl SendDirect {
    /// Move `fd` to the ring of `to`, with `tag` for the receiver.
    pub fn new(fd: DirectFd, to: &Mailbox, tag: u32) -> SendDirect {
        SendDirect {
            fd,
            target: to.ring_fd.clone(),
            tag,
        }
    }

    /// Move plain descriptor `fd` to the ring of `to`: it is put in `table` (a
    /// chosen slot of this ring's table) first.
    ///
    /// # Errors
    ///
    /// As for [`DirectTable::insert`].
    pub fn from_fd(
        table: &DirectTable,
        fd: impl Into<OwnedFd>,
        to: &Mailbox,
        tag: u32,
    ) -> io::Result<SendDirect> {
        Ok(SendDirect::new(table.insert(fd)?, to, tag))
    }
}

// SAFETY: names no memory; names the source slot, held by the op's DirectFd, in
// the table of the ring `bound_ring` names, and the target ring's descriptor,
// kept open by the op's SharedFd. The target's completion carries TAG_INTERNAL |
// TAG_PASSED, which no safe message can (MsgRing keeps bits 62 and 63 clear), so
// the target takes only slots the kernel really filled for it.
unsafe impl Op for SendDirect {
    type Output = Result<(), (io::Error, DirectFd)>;
    fn sqe(&mut self) -> Sqe {
        raw::MsgRingSendFd::new(
            Fd(self.target.as_raw_fd()),
            Fixed(self.fd.index()),
            DestinationSlot::AUTO,
            passed_user_data(self.tag),
        )
        .build()
    }
    fn complete(self, cqe: &Cqe) -> Result<(), (io::Error, DirectFd)> {
        match unit(cqe) {
            Ok(()) => Ok(()),
            Err(e) => Err((e, self.fd)),
        }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.fd.ring_id())
    }
}
