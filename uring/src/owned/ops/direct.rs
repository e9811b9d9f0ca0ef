//! Creating direct descriptors ([`DirectTable`]): socket, open, accept (once or
//! multishot) and pipe, into a slot the kernel picks or one reserved.

use std::ffi::CString;
use std::io;
use std::path::Path;
use std::sync::Arc;

use super::{FileRef, Heap, c_path, dir_of};
use crate::cqueue::Cqe;
use crate::op as raw;
#[cfg(doc)]
use crate::owned::OwnedRing;
use crate::owned::direct::TableShared;
use crate::owned::imp::{Binding, Token};
use crate::owned::{DirectFd, DirectSlot, DirectTable, Multishot, Op, SharedFd};
use crate::sqe::Sqe;
use crate::types::DestinationSlot;

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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.dest.ring())
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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.dest.ring())
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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.dest.ring()).and(self.fd.binding())
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
/// let a = ring.next_item(&id)?.item().unwrap()?;
/// let b = ring.next_item(&id)?.item().unwrap()?;
/// assert_ne!(a.index(), b.index());
/// ring.cancel(&id)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # How the stream ends
///
/// [`next_item`](crate::owned::OwnedRing::next_item) gives
/// [`Next::End`](crate::owned::Next::End) with a [`StreamEnd`](crate::owned::StreamEnd) saying why:
///
/// * on an error, which is the last item: `ECANCELED` after a cancel, `ENFILE`
///   when the table's kernel range is full (submit a new one once slots are
///   free), `EINVAL` first on kernels without it; `raw_result()` is `-errno`,
///   `rearm()` false;
/// * with a connection, when the kernel stopped the stream while more could come
///   (a full completion queue does that): the connection is the last item,
///   `raw_result()` its slot, `rearm()` **true** — submit it again to go on.
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
    /// Slot 0 is a connection too.
    fn rearm(&self, cqe: &Cqe) -> bool {
        cqe.raw_result() >= 0
    }
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(self.table.ring_id).and(self.fd.binding())
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
    fn bound_ring(&self, _: Token) -> Binding {
        Binding::ring(match &self.dest {
            PipeDest::Auto(t) => t.ring_id,
            PipeDest::Slots(r, _) => r.table.ring_id,
        })
    }
}
