//! Direct descriptors ([`DirectTable`]): creating them (socket, open, accept,
//! once or multishot), turning one into a plain descriptor
//! (`FIXED_FD_INSTALL`), closing one, and moving one to another ring
//! (`MSG_RING` with `IORING_MSG_SEND_FD`).

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use super::{FileRef, Heap, bound, c_path, dir_of, new_fd, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
#[cfg(doc)]
use crate::owned::OwnedRing;
use crate::owned::direct::{Mailbox, TableShared, passed_user_data};
use crate::owned::imp::Token;
use crate::owned::{DirectFd, DirectSlot, DirectTable, Multishot, Op, SharedFd};
use crate::sqe::Sqe;
use crate::types::{DestinationSlot, Fd, Fixed};

/// Where a creating operation puts its descriptor: a slot the kernel picks from
/// the table's kernel range, or a slot reserved in its chosen range.
#[derive(Debug)]
enum Dest {
    Auto(Arc<TableShared>),
    Slot(DirectSlot),
}

impl Dest {
    fn auto(table: &DirectTable) -> Dest {
        Dest::Auto(Arc::clone(&table.shared))
    }

    fn encoded(&self) -> DestinationSlot {
        match self {
            Dest::Auto(_) => DestinationSlot::AUTO,
            // Chosen slots are below MAX_DIRECT_SLOTS, always encodable.
            Dest::Slot(s) => DestinationSlot::index(s.index).expect("a table slot"),
        }
    }

    fn ring(&self) -> u64 {
        match self {
            Dest::Auto(t) => t.ring_id,
            Dest::Slot(s) => s.table.ring_id,
        }
    }

    /// The descriptor a successful completion installed: the slot the kernel
    /// reported (picked), or the reserved one (which, on failure, is dropped and
    /// freed).
    fn finish(self, cqe: &Cqe) -> io::Result<DirectFd> {
        let res = cqe.result()?;
        match self {
            Dest::Auto(t) => t.adopt(res),
            Dest::Slot(s) => Ok(s.into_fd()),
        }
    }
}

/// Creates a socket as a direct descriptor: `IORING_OP_SOCKET` with a
/// `file_index` (Linux 5.19). It never appears in the process's descriptor
/// table.
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::SocketDirect};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 0, 4) else { return Ok(()) }; // < 5.19
/// let id = ring.submit_op(SocketDirect::new(&table, libc::AF_INET, libc::SOCK_STREAM, 0))?;
/// let sock = ring.wait_for(id)??;
/// assert!(sock.is_on(&ring));
/// assert_eq!(table.in_use(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_socket_direct")]
#[doc(alias = "io_uring_prep_socket_direct_alloc")]
#[derive(Debug)]
pub struct SocketDirect {
    domain: i32,
    ty: i32,
    protocol: i32,
    dest: Dest,
}

impl SocketDirect {
    /// A socket of `domain`, `ty` (`SOCK_CLOEXEC` is dropped: direct descriptors
    /// are never inherited) and `protocol`, in a slot the kernel picks.
    pub fn new(table: &DirectTable, domain: i32, ty: i32, protocol: i32) -> SocketDirect {
        SocketDirect {
            domain,
            ty: ty & !libc::SOCK_CLOEXEC,
            protocol,
            dest: Dest::auto(table),
        }
    }

    /// As [`new`](Self::new), into the reserved `slot`.
    pub fn at(slot: DirectSlot, domain: i32, ty: i32, protocol: i32) -> SocketDirect {
        SocketDirect {
            domain,
            ty: ty & !libc::SOCK_CLOEXEC,
            protocol,
            dest: Dest::Slot(slot),
        }
    }
}

// SAFETY: names no memory and no descriptor; it installs into a slot of the
// table of the ring `bound_ring` names (refused elsewhere): a reserved slot (held
// by the op, empty in the kernel) or one the kernel picks from the table's own
// range, which the output takes ownership of.
unsafe impl Op for SocketDirect {
    type Output = io::Result<DirectFd>;
    fn sqe(&mut self) -> Sqe {
        raw::Socket::new(self.domain, self.ty, self.protocol)
            .file_index(Some(self.dest.encoded()))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<DirectFd> {
        self.dest.finish(cqe)
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.dest.ring())
    }
}

/// Opens a file as a direct descriptor: `IORING_OP_OPENAT` with a `file_index`
/// (Linux 5.15; picked slots 5.19).
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::{OpenAtDirect, Read}};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 0, 4) else { return Ok(()) }; // < 5.19
/// let id = ring.submit_op(OpenAtDirect::new(&table, "/proc/self/stat", libc::O_RDONLY)?)?;
/// let file = ring.wait_for(id)??;
/// let id = ring.submit_op(Read::new(&file, vec![0u8; 32], 0))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert!(n? > 0 && buf[0].is_ascii_digit());
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_openat_direct")]
#[derive(Debug)]
pub struct OpenAtDirect {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
    mode: libc::mode_t,
    dest: Dest,
}

impl OpenAtDirect {
    /// Open `path` with `O_*` `flags` (`O_CLOEXEC` is dropped) into a slot the
    /// kernel picks.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(
        table: &DirectTable,
        path: impl AsRef<Path>,
        flags: i32,
    ) -> io::Result<OpenAtDirect> {
        Ok(OpenAtDirect {
            dir: None,
            path: c_path(path.as_ref())?,
            flags: flags & !libc::O_CLOEXEC,
            mode: 0,
            dest: Dest::auto(table),
        })
    }

    /// As [`new`](Self::new), into the reserved `slot`.
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn at(slot: DirectSlot, path: impl AsRef<Path>, flags: i32) -> io::Result<OpenAtDirect> {
        Ok(OpenAtDirect {
            dir: None,
            path: c_path(path.as_ref())?,
            flags: flags & !libc::O_CLOEXEC,
            mode: 0,
            dest: Dest::Slot(slot),
        })
    }

    /// Permissions for a file `O_CREAT` makes.
    pub fn mode(mut self, mode: libc::mode_t) -> OpenAtDirect {
        self.mode = mode;
        self
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> OpenAtDirect {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (a CString's heap bytes, never mutated) and the
// directory descriptor the op's SharedFd keeps open; installs into a slot as
// for SocketDirect.
unsafe impl Op for OpenAtDirect {
    type Output = io::Result<DirectFd>;
    fn sqe(&mut self) -> Sqe {
        raw::OpenAt::new(dir_of(&self.dir), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .file_index(Some(self.dest.encoded()))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<DirectFd> {
        self.dest.finish(cqe)
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.dest.ring())
    }
}

/// Accepts a connection as a direct descriptor: `IORING_OP_ACCEPT` with a
/// `file_index` (Linux 5.19). The listener may be plain or direct.
#[doc(alias = "io_uring_prep_accept_direct")]
#[derive(Debug)]
pub struct AcceptDirect {
    fd: FileRef,
    flags: i32,
    dest: Dest,
}

impl AcceptDirect {
    /// Accept on listening socket `fd` into a slot the kernel picks.
    pub fn new(fd: impl Into<FileRef>, table: &DirectTable) -> AcceptDirect {
        AcceptDirect {
            fd: fd.into(),
            flags: 0,
            dest: Dest::auto(table),
        }
    }

    /// Accept on `fd` into the reserved `slot`.
    pub fn at(fd: impl Into<FileRef>, slot: DirectSlot) -> AcceptDirect {
        AcceptDirect {
            fd: fd.into(),
            flags: 0,
            dest: Dest::Slot(slot),
        }
    }

    /// `SOCK_NONBLOCK` for the new socket (`SOCK_CLOEXEC` is dropped).
    pub fn flags(mut self, flags: i32) -> AcceptDirect {
        self.flags = flags & !libc::SOCK_CLOEXEC;
        self
    }
}

// SAFETY: names no memory (no address is asked for) and the listener, kept open
// (or its slot held) by the op's FileRef; installs into a slot as for
// SocketDirect. Both the listener (if direct) and the table must be the ring
// `bound_ring` names.
unsafe impl Op for AcceptDirect {
    type Output = io::Result<DirectFd>;
    fn sqe(&mut self) -> Sqe {
        raw::Accept::new(
            self.fd.target(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
        .flags(self.flags)
        .file_index(Some(self.dest.encoded()))
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<DirectFd> {
        self.dest.finish(cqe)
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        bound(Some(self.dest.ring()), self.fd.ring())
    }
}

/// Keeps accepting connections as direct descriptors, one item each, in slots
/// the kernel picks: multishot `IORING_OP_ACCEPT` with
/// `IORING_FILE_INDEX_ALLOC` (Linux 5.19). The stream ends on an error, its last
/// item (`ENFILE` when the table's kernel range is full, `ECANCELED` after a
/// cancel).
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::AcceptMultishotDirect};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 0, 8) else { return Ok(()) }; // < 5.19
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let id = ring.submit_multishot(AcceptMultishotDirect::new(listener, &table))?;
/// let _c1 = std::net::TcpStream::connect(addr)?;
/// let _c2 = std::net::TcpStream::connect(addr)?;
/// let a = ring.next_item(&id)?.unwrap()?;
/// let b = ring.next_item(&id)?.unwrap()?;
/// assert_ne!(a.index(), b.index());
/// ring.cancel(&id)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct AcceptMultishotDirect {
    fd: FileRef,
    flags: i32,
    table: Arc<TableShared>,
}

impl AcceptMultishotDirect {
    /// Keep accepting on listening socket `fd` into `table`'s kernel range.
    pub fn new(fd: impl Into<FileRef>, table: &DirectTable) -> AcceptMultishotDirect {
        AcceptMultishotDirect {
            fd: fd.into(),
            flags: 0,
            table: Arc::clone(&table.shared),
        }
    }

    /// `SOCK_NONBLOCK` for the new sockets (`SOCK_CLOEXEC` is dropped).
    pub fn flags(mut self, flags: i32) -> AcceptMultishotDirect {
        self.flags = flags & !libc::SOCK_CLOEXEC;
        self
    }
}

// SAFETY: as for AcceptDirect with a picked slot: every successful completion's
// result is a slot the kernel filled, owned by its item at once.
unsafe impl Multishot for AcceptMultishotDirect {
    type Item = DirectFd;
    fn sqe(&mut self) -> Sqe {
        raw::Accept::new(
            self.fd.target(),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
        .flags(self.flags)
        .multishot(true)
        .file_index(Some(DestinationSlot::AUTO))
        .build()
    }
    fn item(&mut self, cqe: &Cqe) -> Option<io::Result<DirectFd>> {
        Some(cqe.result().and_then(|slot| self.table.adopt(slot)))
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        bound(Some(self.table.ring_id), self.fd.ring())
    }
}

/// Creates a pipe whose two ends are direct descriptors: `IORING_OP_PIPE` with a
/// `file_index` (Linux 6.16). Output: `(read end, write end)`.
///
/// ```
/// use uring::owned::{DirectTable, OwnedRing, ops::{PipeDirect, Read, Write}};
/// # if !uring::probe::probe()?.is_supported(uring::op::Pipe::CODE) { return Ok(()) } // < 6.16
/// let mut ring = OwnedRing::new(4)?;
/// let table = DirectTable::new(&mut ring, 0, 4)?;
/// let id = ring.submit_op(PipeDirect::new(&table))?;
/// let (r, w) = ring.wait_for(id)??;
/// let id = ring.submit_op(Write::new(&w, b"through".to_vec(), u64::MAX))?;
/// ring.wait_for(id)?.0?;
/// let id = ring.submit_op(Read::new(&r, Vec::with_capacity(16), u64::MAX))?;
/// assert_eq!(&ring.wait_for(id)?.1[..], b"through");
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_pipe_direct")]
pub struct PipeDirect {
    /// Where the kernel writes the two slots it picked (read only after the
    /// final completion).
    fds: Heap<[i32; 2]>,
    flags: i32,
    dest: PipeDest,
}

#[derive(Debug)]
enum PipeDest {
    Auto(Arc<TableShared>),
    /// Two consecutive reserved slots, read end first.
    Slots(DirectSlot, DirectSlot),
}

impl std::fmt::Debug for PipeDirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipeDirect")
            .field("flags", &self.flags)
            .field("dest", &self.dest)
            .finish_non_exhaustive()
    }
}

impl PipeDirect {
    /// A pipe whose ends go into slots the kernel picks.
    pub fn new(table: &DirectTable) -> PipeDirect {
        PipeDirect {
            fds: Heap::new([-1, -1]),
            flags: 0,
            dest: PipeDest::Auto(Arc::clone(&table.shared)),
        }
    }

    /// A pipe whose read end goes into `read` and write end into `write`, which
    /// must be consecutive slots of one table (`write` right after `read`).
    ///
    /// # Errors
    ///
    /// The two slots back, with `EINVAL`, when they are not consecutive slots of
    /// one table.
    pub fn at(
        read: DirectSlot,
        write: DirectSlot,
    ) -> Result<PipeDirect, (io::Error, DirectSlot, DirectSlot)> {
        if !Arc::ptr_eq(&read.table, &write.table) || read.index.checked_add(1) != Some(write.index)
        {
            let e = crate::error::with_context(
                libc::EINVAL,
                format!(
                    "a direct pipe needs two consecutive slots of one table, not {} and {}",
                    read.index, write.index
                ),
            );
            return Err((e, read, write));
        }
        Ok(PipeDirect {
            fds: Heap::new([-1, -1]),
            flags: 0,
            dest: PipeDest::Slots(read, write),
        })
    }

    /// `O_NONBLOCK`, `O_DIRECT` (`O_CLOEXEC` is dropped).
    pub fn flags(mut self, flags: i32) -> PipeDirect {
        self.flags = flags & !libc::O_CLOEXEC;
        self
    }
}

// SAFETY: names the two-int array (the op's own heap allocation, written by the
// kernel, read only in `complete`, after the final completion); installs into
// two slots of the table of the ring `bound_ring` names: reserved ones the op
// holds, or ones the kernel picks from the table's own range, which the output
// takes ownership of.
unsafe impl Op for PipeDirect {
    type Output = io::Result<(DirectFd, DirectFd)>;
    fn sqe(&mut self) -> Sqe {
        let dest = match &self.dest {
            PipeDest::Auto(_) => DestinationSlot::AUTO,
            PipeDest::Slots(r, _) => DestinationSlot::index(r.index).expect("a table slot"),
        };
        raw::Pipe::new(self.fds.ptr())
            .flags(self.flags)
            .file_index(Some(dest))
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<(DirectFd, DirectFd)> {
        cqe.result()?;
        match self.dest {
            PipeDest::Slots(r, w) => Ok((r.into_fd(), w.into_fd())),
            PipeDest::Auto(table) => {
                // SAFETY: the final completion arrived: the kernel is done writing.
                let [r, w] = *unsafe { self.fds.get() };
                let slot = |i: i32| {
                    u32::try_from(i).map_err(|_| {
                        crate::error::with_context(
                            libc::EIO,
                            format!("the kernel reported direct slot {i} for a pipe"),
                        )
                    })
                };
                let r = table.adopt(slot(r)?)?;
                let w = table.adopt(slot(w)?)?;
                Ok((r, w))
            }
        }
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(match &self.dest {
            PipeDest::Auto(t) => t.ring_id,
            PipeDest::Slots(r, _) => r.table.ring_id,
        })
    }
}

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
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.fd.ring_id())
    }
}

/// Closes a direct descriptor: `IORING_OP_CLOSE` on its slot (Linux 5.15). Only
/// a descriptor no operation holds can be closed this way (otherwise it is
/// given back: dropping it instead closes the slot once they are done).
/// Dropping a [`DirectFd`] closes it too, synchronously.
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
#[derive(Debug)]
pub struct CloseDirect {
    fd: DirectFd,
}

impl CloseDirect {
    /// Close `fd`.
    ///
    /// # Errors
    ///
    /// `fd` back while operations hold it.
    pub fn new(fd: DirectFd) -> Result<CloseDirect, DirectFd> {
        if fd.is_unique() {
            Ok(CloseDirect { fd })
        } else {
            Err(fd)
        }
    }
}

// SAFETY: names no memory; names the slot the op holds, the only handle to it
// (so no other operation can name it), in the table of the ring `bound_ring`
// names. After a successful close the slot is marked empty; otherwise the
// handle's drop empties it.
unsafe impl Op for CloseDirect {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::Close::new(Fixed(self.fd.index())).build()
    }
    fn complete(mut self, cqe: &Cqe) -> io::Result<()> {
        let r = unit(cqe);
        if r.is_ok() {
            self.fd.closed_by_kernel();
        }
        r
    }
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.fd.ring_id())
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
    fn bound_ring(&self, _: Token) -> Option<u64> {
        Some(self.fd.ring_id())
    }
}
