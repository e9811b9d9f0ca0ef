//! Direct (registered) descriptors for the safe layer: a ring-owned descriptor
//! table ([`DirectTable`]) and owned handles to its entries ([`DirectFd`]), which
//! no other ring, and no later file in the same slot, can ever be taken for.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::fd::dup_ring_fd;
use super::host::{self, SafeRing};
use super::table::TAG_INTERNAL;
use super::{OwnedRing, SharedFd};
use crate::cqueue::Cqe;
use crate::error;
use crate::sys;

/// Marks, with [`TAG_INTERNAL`], the completion a descriptor passed by
/// [`ops::SendDirect`](super::ops::SendDirect) posts into the receiving ring. Only
/// this crate's code posts it (the safe `MsgRing` keeps bits 62 and 63 clear).
pub(super) const TAG_PASSED: u64 = 1 << 61;

/// The largest table: the kernel's limit on registered files is far above any
/// sane use, and slot indices must stay below `u32::MAX - 1`.
pub const MAX_DIRECT_SLOTS: u32 = 1 << 20;

/// A ring's table of direct descriptors: a sparse registered-file table
/// (`IORING_REGISTER_FILES` sparse, Linux 5.19) whose slots this handle keeps the
/// books of. A descriptor in it is a [`DirectFd`]: operations name it by index
/// (`IOSQE_FIXED_FILE`), which saves the kernel a descriptor lookup and
/// reference count per operation, and it has no number in the process's
/// descriptor table to close or reuse.
///
/// The table has two ranges. Slots `0..chosen` are handed out by this table:
/// [`insert`](Self::insert) puts an `OwnedFd` there, [`reserve`](Self::reserve)
/// picks one for an operation that creates a descriptor into it. Slots
/// `chosen..chosen + auto` are the kernel's to pick
/// (`IORING_FILE_INDEX_ALLOC`; with a chosen range, registered as the allocation
/// range, which needs Linux 6.0): multishot accepts and descriptors passed from
/// other rings land there. The ranges never mix, so a slot the table reserved
/// can never be picked by the kernel for something else, and a slot the kernel
/// reports outside its range is refused (`EIO`), never handed out.
///
/// # Kernels whose picks stray out of the allocation range
///
/// Before upstream commit a6bded921ed3 ("io_uring/filetable: clamp alloc_hint to
/// the configured alloc range", early 2026, backported to the stable kernels:
/// Debian's 6.16.12, 6.17.13 and 6.18.15 lack it; 6.1.192, 6.12.118, 6.18.44,
/// 6.19.14 and 7.0 to 7.3 have it), the kernel starts its search for a free slot at a hint that every
/// update of a slot moves — to the slot after one filled, or to one emptied —
/// even outside the range. After this table fills or empties chosen slot `i`,
/// the kernel's next pick is the first empty slot from `i` on: a chosen one, if
/// any is empty. [`new`](Self::new) finds out which kind of kernel it runs on
/// (once per process: a pick on a small ring of its own, after an update outside
/// the range) and on the straying kind keeps every chosen slot the table does
/// not hand out filled with a placeholder file (one eventfd, shared), so the
/// kernel never finds one empty: chosen slots are emptied by putting the
/// placeholder back (also by [`ops::CloseDirect`](super::ops::CloseDirect)),
/// and operations that create a descriptor in a reserved slot replace it.
/// [`new_guarded`](Self::new_guarded) does that on any kernel.
/// [`guards_chosen_slots`](Self::guards_chosen_slots) says which way a table
/// works.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// use uring::owned::{DirectTable, OwnedRing, ops};
/// let mut ring = OwnedRing::new(8)?;
/// # let table = match DirectTable::new(&mut ring, 8, 0) { Ok(t) => t, Err(_) => return Ok(()) }; // < 5.19
/// # /*
/// let table = DirectTable::new(&mut ring, 8, 0)?;
/// # */
/// let (mut mine, theirs) = std::os::unix::net::UnixStream::pair()?;
/// let direct = table.insert(theirs)?; // now only the ring's table holds it
/// let id = ring.submit_op(ops::Send::new(&direct, b"over a direct fd".to_vec()))?;
/// assert_eq!(ring.wait_for(id)?.0?, 16);
/// let mut got = [0u8; 16];
/// mine.read_exact(&mut got)?;
/// assert_eq!(&got, b"over a direct fd");
/// drop(direct); // closes the slot: the socket's last reference goes
/// assert_eq!(mine.read(&mut got)?, 0);
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # What holds what
///
/// A slot is held by its `DirectFd` and by every operation that names it, each
/// of which owns a share of the handle until its final completion. The slot is
/// emptied (`IORING_REGISTER_FILES_UPDATE` with `-1`, through the table's own
/// duplicate of the ring's descriptor) only when the last of them is gone, and
/// only then is it free in the books: an entry queued, linked behind another, or
/// running can never find a different file in its slot. Dropping a `DirectFd`
/// from another thread than a `SINGLE_ISSUER` ring's cannot empty the slot (the
/// kernel refuses); the slot then stays occupied, and unused, until the ring is
/// gone.
#[derive(Clone)]
pub struct DirectTable {
    pub(super) shared: Arc<TableShared>,
}

/// What a table's handles, descriptors and operations share.
pub(super) struct TableShared {
    pub(super) ring_id: u64,
    /// A duplicate of the ring's descriptor, to empty slots through.
    ring_fd: OwnedFd,
    chosen: u32,
    auto: u32,
    /// On kernels whose picks can stray into the chosen range: the file every
    /// chosen slot not handed out holds, so the kernel never finds one empty.
    filler: Option<OwnedFd>,
    books: Mutex<Books>,
}

struct Books {
    /// `held[i]`: a handle, reservation or operation owns slot `i`.
    held: Vec<bool>,
    /// Free slots of the chosen range, most recently freed last.
    free: Vec<u32>,
}

impl DirectTable {
    /// Registers a table of `chosen + auto` empty slots with `ring` (see the
    /// type's documentation for the two ranges). On a kernel whose picks can
    /// stray out of the allocation range (see the type's documentation) the
    /// chosen slots are filled with a placeholder file until handed out.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty table or more than [`MAX_DIRECT_SLOTS`] slots;
    /// `EBUSY` when the ring already has a registered-file table; `EBADF` for a
    /// ring without a plain descriptor to duplicate; the kernel's errno otherwise
    /// (`EINVAL` before Linux 5.19 for sparse tables, or before 6.0 for the
    /// allocation range a chosen range needs).
    #[doc(alias = "io_uring_register_files_sparse")]
    #[doc(alias = "io_uring_register_file_alloc_range")]
    pub fn new(ring: &mut impl SafeRing, chosen: u32, auto: u32) -> io::Result<DirectTable> {
        DirectTable::register(ring, chosen, auto, None)
    }

    /// As [`new`](Self::new), but keeps the chosen slots not handed out filled
    /// with a placeholder file on every kernel, as `new` does only on kernels
    /// whose picks can stray out of the allocation range: for a kernel the
    /// check in `new` may misjudge. It costs one reference to the placeholder
    /// per such slot, and an update instead of nothing when one is handed out.
    ///
    /// ```
    /// # use uring::owned::{DirectTable, OwnedRing};
    /// let mut ring = OwnedRing::new(4)?;
    /// # let Ok(table) = DirectTable::new_guarded(&mut ring, 4, 4) else { return Ok(()) }; // < 6.0
    /// # /*
    /// let table = DirectTable::new_guarded(&mut ring, 4, 4)?;
    /// # */
    /// assert!(table.guards_chosen_slots());
    /// assert_eq!(table.in_use(), 0); // placeholders are not held
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new); the errno of creating the placeholder (an
    /// eventfd) or of filling the slots with it.
    pub fn new_guarded(
        ring: &mut impl SafeRing,
        chosen: u32,
        auto: u32,
    ) -> io::Result<DirectTable> {
        DirectTable::register(ring, chosen, auto, Some(true))
    }

    /// `guard`: fill the chosen range (`Some(true)`), or ask the kernel
    /// (`None`).
    fn register(
        ring: &mut impl SafeRing,
        chosen: u32,
        auto: u32,
        guard: Option<bool>,
    ) -> io::Result<DirectTable> {
        let host::Parts {
            ring,
            id: ring_id,
            direct,
            ..
        } = ring.host_parts();
        let total = chosen
            .checked_add(auto)
            .filter(|&t| t > 0 && t <= MAX_DIRECT_SLOTS);
        let Some(total) = total else {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "a direct table of {chosen} chosen and {auto} kernel-picked slots \
                     (1..={MAX_DIRECT_SLOTS} in all)"
                ),
            ));
        };
        if direct.is_some() {
            return Err(error::with_context(
                libc::EBUSY,
                "the ring already has a direct descriptor table",
            ));
        }
        let ring_fd = dup_ring_fd(ring, "a direct descriptor table")?;
        ring.register_files_sparse(total)?;
        let mut filler = None;
        if chosen > 0 {
            // The kernel's picks must stay out of the chosen range, even when it
            // has none of its own (a descriptor another ring sends must not land
            // in a slot reserved here).
            let guarded = ring.register_file_alloc_range(chosen, auto).and_then(|()| {
                if guard.unwrap_or_else(picks_can_stray) {
                    let fd = placeholder()?;
                    fill(&ring_fd, 0, &vec![fd.as_raw_fd(); chosen as usize])?;
                    filler = Some(fd);
                }
                Ok(())
            });
            if let Err(e) = guarded {
                let _ = ring.unregister_files();
                return Err(e);
            }
        }
        let table = DirectTable {
            shared: Arc::new(TableShared {
                ring_id,
                ring_fd,
                chosen,
                auto,
                filler,
                books: Mutex::new(Books {
                    held: vec![false; total as usize],
                    free: (0..chosen).rev().collect(),
                }),
            }),
        };
        *direct = Some(table.clone());
        Ok(table)
    }

    /// Whether this table keeps the chosen slots it has not handed out filled
    /// with a placeholder file (see the type's documentation): on kernels
    /// whose picks can stray out of the allocation range, or when made by
    /// [`new_guarded`](Self::new_guarded). Never for a table without chosen
    /// slots.
    pub fn guards_chosen_slots(&self) -> bool {
        self.shared.filler.is_some()
    }

    /// The number of slots whose indices this table hands out.
    pub fn chosen_slots(&self) -> u32 {
        self.shared.chosen
    }

    /// The number of slots the kernel picks from.
    pub fn auto_slots(&self) -> u32 {
        self.shared.auto
    }

    /// How many slots are held (by descriptors, reservations or operations).
    ///
    /// ```
    /// # use uring::owned::{DirectTable, OwnedRing};
    /// # let mut ring = OwnedRing::new(4)?;
    /// # let Ok(table) = DirectTable::new(&mut ring, 4, 0) else { return Ok(()) };
    /// let fd = table.insert(std::fs::File::open("/dev/null")?)?;
    /// assert_eq!(table.in_use(), 1);
    /// drop(fd);
    /// assert_eq!(table.in_use(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn in_use(&self) -> usize {
        self.shared.lock().held.iter().filter(|&&h| h).count()
    }

    /// Puts `fd` in a free slot of the chosen range, as a direct descriptor
    /// (`IORING_REGISTER_FILES_UPDATE`): the table takes its own reference to
    /// the file and `fd` is closed.
    ///
    /// # Errors
    ///
    /// `ENFILE` when no chosen slot is free; the kernel's errno (the descriptor
    /// is closed either way).
    pub fn insert(&self, fd: impl Into<OwnedFd>) -> io::Result<DirectFd> {
        let fd = fd.into();
        let slot = self.reserve()?;
        self.shared.update(slot.index, fd.as_raw_fd())?;
        drop(fd);
        Ok(slot.into_fd())
    }

    /// Reserves a free slot of the chosen range for an operation that creates a
    /// descriptor into it ([`ops::SocketDirect::at`](super::ops::SocketDirect::at), …).
    ///
    /// # Errors
    ///
    /// `ENFILE` when no chosen slot is free.
    pub fn reserve(&self) -> io::Result<DirectSlot> {
        let mut books = self.shared.lock();
        let Some(index) = books.free.pop() else {
            return Err(error::with_context(
                libc::ENFILE,
                format!(
                    "all {} chosen slots of the direct table are held",
                    self.shared.chosen
                ),
            ));
        };
        books.held[index as usize] = true;
        Ok(DirectSlot {
            table: Arc::clone(&self.shared),
            index,
            live: true,
        })
    }

    /// Reserves slot `index` of the chosen range.
    ///
    /// # Errors
    ///
    /// `EINVAL` outside the chosen range; `EBUSY` when the slot is held (by a
    /// descriptor, a reservation or an operation still using it) — a slot is
    /// never replaced under its holders.
    pub fn reserve_at(&self, index: u32) -> io::Result<DirectSlot> {
        if index >= self.shared.chosen {
            return Err(error::with_context(
                libc::EINVAL,
                format!(
                    "slot {index} is outside the direct table's chosen range 0..{}",
                    self.shared.chosen
                ),
            ));
        }
        let mut books = self.shared.lock();
        if books.held[index as usize] {
            return Err(error::with_context(
                libc::EBUSY,
                format!("slot {index} of the direct table is held"),
            ));
        }
        books.held[index as usize] = true;
        books.free.retain(|&i| i != index);
        Ok(DirectSlot {
            table: Arc::clone(&self.shared),
            index,
            live: true,
        })
    }
}

impl fmt::Debug for DirectTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectTable")
            .field("chosen", &self.shared.chosen)
            .field("auto", &self.shared.auto)
            .field("guarded", &self.shared.filler.is_some())
            .field("in_use", &self.in_use())
            .finish()
    }
}

impl fmt::Debug for TableShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectTable")
            .field("chosen", &self.chosen)
            .field("auto", &self.auto)
            .finish_non_exhaustive()
    }
}

impl TableShared {
    fn lock(&self) -> MutexGuard<'_, Books> {
        self.books.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets kernel slot `index` to `fd`.
    fn update(&self, index: u32, fd: i32) -> io::Result<()> {
        fill(&self.ring_fd, index, &[fd])
    }

    /// What slot `index` holds when no one holds it: the placeholder for a
    /// chosen slot of a guarded table, nothing (`-1`) otherwise.
    fn vacant(&self, index: u32) -> i32 {
        self.placeholder_for(index).unwrap_or(-1)
    }

    /// The placeholder descriptor slot `index` gets back when emptied, if it is
    /// a chosen slot of a guarded table.
    pub(super) fn placeholder_for(&self, index: u32) -> Option<i32> {
        match &self.filler {
            Some(fd) if index < self.chosen => Some(fd.as_raw_fd()),
            _ => None,
        }
    }

    /// Takes ownership of kernel-installed slot `index` (a completion reported
    /// it): `EIO` if the books say it is not free, or it is out of the table.
    pub(super) fn adopt(self: &Arc<Self>, index: u32) -> io::Result<DirectFd> {
        let mut books = self.lock();
        // A pick in the chosen range (a kernel the check in `new` misjudged)
        // is refused: the slot may be reserved, and an operation filling it
        // will replace the file; the table's own update replaces it otherwise.
        if index < self.chosen || books.held.get(index as usize) != Some(&false) {
            return Err(error::with_context(
                libc::EIO,
                format!(
                    "the kernel reported direct slot {index}, which the table cannot hand out \
                     (its kernel range is {}..{})",
                    self.chosen,
                    self.chosen + self.auto
                ),
            ));
        }
        books.held[index as usize] = true;
        Ok(DirectFd(Arc::new(Hold {
            table: Arc::clone(self),
            index,
            kernel_closed: false,
        })))
    }

    /// Marks `index` free, after the kernel emptied it (or never filled it).
    fn release(&self, index: u32) {
        let mut books = self.lock();
        books.held[index as usize] = false;
        if index < self.chosen {
            books.free.push(index);
        }
    }
}

impl Drop for TableShared {
    fn drop(&mut self) {
        // Nothing holds a slot any more (every holder has an Arc to this): give
        // the ring its table back, so a new one can be registered. Failing is
        // harmless (the kernel frees the table with the ring).
        // SAFETY: no memory is passed; ring_fd is our open duplicate.
        unsafe {
            sys::io_uring_register(
                self.ring_fd.as_raw_fd() as u32,
                sys::IORING_UNREGISTER_FILES,
                core::ptr::null(),
                0,
            )
        };
    }
}

/// Sets kernel slots `index..index + fds.len()` to `fds` (`-1` empties one)
/// through `ring_fd` (`IORING_REGISTER_FILES_UPDATE`).
fn fill(ring_fd: &OwnedFd, index: u32, fds: &[i32]) -> io::Result<()> {
    let update = sys::io_uring_files_update {
        offset: index,
        resv: 0,
        fds: fds.as_ptr() as u64,
    };
    // The table has at most MAX_DIRECT_SLOTS slots.
    let n = fds.len() as u32;
    // SAFETY: `update` and `fds` are alive for the call; the kernel reads n
    // descriptors from them. ring_fd is an open io_uring descriptor.
    let r = unsafe {
        sys::io_uring_register(
            ring_fd.as_raw_fd() as u32,
            sys::IORING_REGISTER_FILES_UPDATE,
            (&raw const update).cast(),
            n,
        )
    };
    if r < 0 || r as u32 != n {
        // A partial update (the kernel stops at the first failing slot and
        // reports how many it set) leaves the rest unset: an error too.
        return Err(error::with_context(
            if r < 0 { -r } else { libc::EIO },
            format!(
                "setting direct slots {index}..{}: {}",
                u64::from(index) + u64::from(n),
                if r < 0 {
                    "refused".to_string()
                } else {
                    format!("the kernel set only {r}")
                }
            ),
        ));
    }
    Ok(())
}

/// The placeholder file of a guarded table's vacant chosen slots: an eventfd
/// (any file would do; no operation ever names it).
fn placeholder() -> io::Result<OwnedFd> {
    // SAFETY: eventfd touches no memory of ours.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(error::with_context(
            e.raw_os_error().unwrap_or(libc::EMFILE),
            "creating the direct table's placeholder file (an eventfd)",
        ));
    }
    // SAFETY: fd is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether this kernel's picks (`IORING_FILE_INDEX_ALLOC`) can stray out of the
/// registered allocation range, as before upstream commit a6bded921ed3: asked
/// once per process, on a small ring of its own, by filling slot 0 of a table
/// whose range is 2..4 and letting the kernel pick (a fixed kernel picks 2, a
/// straying one 1). Any failure of the check counts as straying: guarding
/// costs a little, not guarding on such a kernel would cost correctness.
fn picks_can_stray() -> bool {
    static STRAYS: OnceLock<bool> = OnceLock::new();
    *STRAYS.get_or_init(|| check_picks().map_or(true, |picked| picked < 2))
}

fn check_picks() -> io::Result<i32> {
    let fd = placeholder()?;
    let mut fds = Box::new([fd.as_raw_fd()]);
    let mut ring = crate::Ring::new(2)?;
    ring.register_files_sparse(4)?;
    ring.register_file_alloc_range(2, 2)?;
    // Filling slot 0 moves a straying kernel's hint to slot 1.
    ring.register_files_update(0, &[Some(std::os::fd::AsFd::as_fd(&fd))])?;
    let sqe = crate::op::FilesUpdate::new(fds.as_mut_ptr().cast_const(), 1)
        .offset(sys::IORING_FILE_INDEX_ALLOC)
        .build();
    // SAFETY: the entry names `fds`, a heap array that outlives the ring
    // (declared before it) unless the completion is in, and is leaked when
    // the wait fails.
    unsafe { ring.push(&sqe) }
        .map_err(|_| error::with_context(libc::EBUSY, "a full submission queue"))?;
    let cqe = loop {
        match ring.submit_and_wait(1) {
            Ok(_) => {
                if let Some(cqe) = ring.completion().next() {
                    break cqe;
                }
            }
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) => {
                std::mem::forget(fds);
                return Err(e);
            }
        }
    };
    cqe.result()?;
    // The kernel wrote the slot it picked over the descriptor (the completion
    // is in: it is done with `fds`).
    Ok(fds[0])
}

/// A reserved, still empty slot of a [`DirectTable`]'s chosen range, for an
/// operation that creates a descriptor into it. Dropping it frees the slot.
pub struct DirectSlot {
    pub(super) table: Arc<TableShared>,
    pub(super) index: u32,
    /// False once turned into a descriptor (its drop then frees nothing).
    live: bool,
}

impl DirectSlot {
    /// The slot's index.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The slot, now filled by the kernel, as a descriptor.
    pub(super) fn into_fd(mut self) -> DirectFd {
        self.live = false;
        DirectFd(Arc::new(Hold {
            table: Arc::clone(&self.table),
            index: self.index,
            kernel_closed: false,
        }))
    }
}

impl Drop for DirectSlot {
    fn drop(&mut self) {
        if self.live {
            // An operation that failed may have left the slot empty (a direct
            // pipe whose second end failed removes the first): a guarded slot
            // gets its placeholder back. If that fails the slot may stay empty;
            // a kernel pick there is still refused (`adopt`).
            if let Some(p) = self.table.placeholder_for(self.index) {
                let _ = self.table.update(self.index, p);
            }
            self.table.release(self.index);
        }
    }
}

impl fmt::Debug for DirectSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectSlot")
            .field("index", &self.index)
            .finish()
    }
}

/// A direct descriptor: an owned entry of a [`DirectTable`]. Operations take it
/// as `&DirectFd` (where they take a file: [`ops::Read`](super::ops::Read),
/// [`ops::Send`](super::ops::Send), [`ops::Accept`](super::ops::Accept), …) and
/// name it by index with `IOSQE_FIXED_FILE`; each holds a share of it until its
/// final completion. Dropping the handle closes the entry once no operation
/// holds it any more.
///
/// It belongs to one ring: an operation naming it is refused (`EXDEV`) by any
/// other. Its slot cannot be emptied or reused while it lives, so it never names
/// another file. [`ops::InstallDirect`](super::ops::InstallDirect) makes a plain
/// `OwnedFd` of the same file; [`ops::SendDirect`](super::ops::SendDirect) moves
/// it to another ring.
///
/// Cloning shares the slot: it is closed when the last clone, and the last
/// operation holding it, are gone.
///
/// A share is an atomic reference count, taken and dropped by every operation
/// that takes `&DirectFd`. On a hot path, give the descriptor to the ring with
/// [`OwnedRing::hold_direct`] instead: operations then name it through a `Copy`
/// [`HeldFd`](super::HeldFd), and the ring counts them itself.
#[derive(Clone)]
pub struct DirectFd(pub(super) Arc<Hold>);

/// One slot held: emptied when the last share goes.
pub(super) struct Hold {
    pub(super) table: Arc<TableShared>,
    pub(super) index: u32,
    /// The kernel emptied the slot already (a successful close of it).
    kernel_closed: bool,
}

impl Drop for Hold {
    fn drop(&mut self) {
        // Every operation that named the slot held this: none can still find it.
        if self.kernel_closed
            || self
                .table
                .update(self.index, self.table.vacant(self.index))
                .is_ok()
        {
            self.table.release(self.index);
        }
        // Otherwise (a SINGLE_ISSUER ring dropped from another thread, …) the
        // slot stays occupied and held in the books: never reused.
    }
}

impl DirectFd {
    /// The slot's index in its ring's table.
    pub fn index(&self) -> u32 {
        self.0.index
    }

    /// Whether it belongs to `ring`'s table.
    ///
    /// ```
    /// use uring::owned::{DirectTable, OwnedRing, TypedRing, ops};
    /// let mut ring = TypedRing::<ops::Nop>::new(4)?;
    /// let other = OwnedRing::new(4)?;
    /// # let Ok(table) = DirectTable::new(&mut ring, 1, 0) else { return Ok(()) }; // < 6.0
    /// # /*
    /// let table = DirectTable::new(&mut ring, 1, 0)?;
    /// # */
    /// let fd = table.insert(std::fs::File::open("/dev/null")?)?;
    /// assert!(fd.is_on(&ring) && !fd.is_on(&other));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_on(&self, ring: &impl SafeRing) -> bool {
        self.0.table.ring_id == ring.host_id()
    }

    /// A share for an operation.
    pub(super) fn share(&self) -> DirectFd {
        self.clone()
    }

    pub(super) fn ring_id(&self) -> u64 {
        self.0.table.ring_id
    }

    /// Whether this is the only share (no operation holds the slot).
    pub(super) fn is_unique(&self) -> bool {
        Arc::strong_count(&self.0) == 1
    }

    /// Records that the kernel closed the slot (the only share's close
    /// completed): dropping the handle then only frees it in the books.
    pub(super) fn closed_by_kernel(&mut self) {
        if let Some(hold) = Arc::get_mut(&mut self.0) {
            hold.kernel_closed = true;
        }
    }
}

impl fmt::Debug for DirectFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectFd")
            .field("index", &self.0.index)
            .field("holders", &Arc::strong_count(&self.0))
            .finish()
    }
}

/// Where other threads send descriptors to one [`OwnedRing`]
/// ([`ops::SendDirect`](super::ops::SendDirect)): a duplicate of its descriptor,
/// `Clone`, `Send` and `Sync`, that keeps the kernel's ring alive while it lives
/// (so a message never reaches a recycled descriptor number).
#[derive(Clone, Debug)]
pub struct Mailbox {
    pub(super) ring_fd: SharedFd,
}

impl OwnedRing {
    /// This ring's [`Mailbox`], for other threads' rings to send descriptors to.
    ///
    /// # Errors
    ///
    /// `EBADF` for a ring without a plain descriptor; the errno of duplicating it.
    pub fn mailbox(&self) -> io::Result<Mailbox> {
        Ok(Mailbox {
            ring_fd: SharedFd::from(dup_ring_fd(&self.ring, "a mailbox")?),
        })
    }

    /// The direct descriptor table registered with this ring, if any.
    pub fn direct_table(&self) -> Option<&DirectTable> {
        self.direct.as_ref()
    }

    /// Takes a descriptor another ring sent here with
    /// [`ops::SendDirect`](super::ops::SendDirect), if one arrived (it processes
    /// what the kernel posted, but does not wait): the descriptor, owned, in a
    /// kernel-picked slot of this ring's table, and the tag the sender chose.
    ///
    /// Descriptors that are never taken stay in the table until the ring is gone
    /// (the kernel then closes them with the table).
    ///
    /// # Errors
    ///
    /// `EIO` for a slot the table cannot hand out (nothing is taken then).
    pub fn take_received(&mut self) -> Option<io::Result<(DirectFd, u32)>> {
        let _ = self.reap_now();
        let cqe = self.passed.pop_front()?;
        Some(self.adopt_passed(&cqe))
    }

    /// Waits (submitting what is queued) until a descriptor sent here arrives,
    /// and takes it, as [`take_received`](Self::take_received).
    ///
    /// # Errors
    ///
    /// The kernel's errno when waiting fails; as for `take_received`.
    pub fn wait_received(&mut self) -> io::Result<(DirectFd, u32)> {
        loop {
            if let Some(r) = self.take_received() {
                return r;
            }
            self.wait_one()?;
        }
    }

    fn adopt_passed(&self, cqe: &Cqe) -> io::Result<(DirectFd, u32)> {
        let tag = cqe.user_data() as u32;
        let Some(table) = &self.direct else {
            return Err(error::with_context(
                libc::EIO,
                "a descriptor arrived, but this ring has no direct table",
            ));
        };
        let index = cqe.result()?;
        let fd = table.shared.adopt(index)?;
        Ok((fd, tag))
    }
}

/// The descriptors passed to a ring and not yet taken: completions, kept in
/// order.
pub(super) type Passed = VecDeque<Cqe>;

/// Whether `cqe` is a descriptor another ring passed here.
#[inline]
pub(super) fn is_passed(cqe: &Cqe) -> bool {
    cqe.user_data() & (super::table::TAG_OWNED | TAG_INTERNAL | TAG_PASSED)
        == TAG_INTERNAL | TAG_PASSED
}

/// The user data a passed descriptor's completion carries in the target ring.
pub(super) fn passed_user_data(tag: u32) -> u64 {
    TAG_INTERNAL | TAG_PASSED | u64::from(tag)
}
