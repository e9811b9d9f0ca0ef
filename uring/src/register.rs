//! Registration (`io_uring_register(2)`): fixed files, fixed buffers, an
//! eventfd, and the ring's own fd, as methods on [`Ring`].
//!
//! Each goes through liburing's `io_uring_register_*` function of the same name.
//! Errors carry the kernel's errno and say what was being registered.
//!
//! ```
//! use std::os::fd::AsFd;
//! let mut ring = uring::Ring::new(4)?;
//! let f = std::fs::File::open("/dev/null")?;
//! ring.register_files(&[f.as_fd()])?;
//! drop(f); // the ring keeps its own reference to the file
//! ring.unregister_files()?;
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::with_context;
use crate::ring::{INT_FLAG_REG_REG_RING, INT_FLAG_REG_RING, Ring, thread_token};
use crate::setup::RingMemory;
use crate::sys;

impl Ring {
    /// Runs one liburing register call. When the ring fd is registered by
    /// another thread, liburing would use that thread's registered index on this
    /// thread's table: use the plain fd instead, or refuse if there is none.
    fn register_call(
        &mut self,
        what: impl FnOnce() -> String,
        call: impl FnOnce(*mut sys::io_uring) -> i32,
    ) -> io::Result<u32> {
        let foreign =
            self.raw.int_flags & INT_FLAG_REG_RING != 0 && self.reg_owner != thread_token();
        let saved = self.raw.int_flags;
        if foreign {
            if self.raw.ring_fd < 0 {
                return Err(with_context(
                    libc::EBADF,
                    format!(
                        "{}: this ring has only a registered fd, which belongs to the \
                         thread that registered it",
                        what()
                    ),
                ));
            }
            self.raw.int_flags &= !INT_FLAG_REG_REG_RING;
        }
        let ret = call(&mut *self.raw);
        if foreign {
            self.raw.int_flags = saved;
        }
        if ret < 0 {
            Err(with_context(-ret, what()))
        } else {
            Ok(ret as u32)
        }
    }

    /// Registers `fds` as the ring's fixed-file table (`IORING_REGISTER_FILES`,
    /// Linux 5.1): entries with `IOSQE_FIXED_FILE` then name them by index. The
    /// ring holds its own reference to each file, so the descriptors may be
    /// closed afterwards.
    ///
    /// # Errors
    ///
    /// `EBUSY` if a table is already registered, `EMFILE` above the kernel's
    /// limit, `EBADF` for a descriptor that is not open.
    #[doc(alias = "io_uring_register_files")]
    pub fn register_files(&mut self, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
        let raw: Vec<i32> = fds.iter().map(|fd| fd.as_raw_fd()).collect();
        let n = count(raw.len(), "files")?;
        self.register_call(
            || format!("registering {n} files"),
            // SAFETY: raw holds n open descriptors, alive across the call; the
            // kernel takes its own references.
            |r| unsafe { sys::io_uring_register_files(r, raw.as_ptr(), n) },
        )?;
        Ok(())
    }

    /// Registers an empty fixed-file table of `slots` entries (Linux 5.19), to be
    /// filled with [`register_files_update`](Self::register_files_update) or by
    /// operations that install direct descriptors.
    #[doc(alias = "io_uring_register_files_sparse")]
    pub fn register_files_sparse(&mut self, slots: u32) -> io::Result<()> {
        self.register_call(
            || format!("registering a sparse table of {slots} files"),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_register_files_sparse(r, slots) },
        )?;
        Ok(())
    }

    /// Replaces fixed-file slots `offset..offset + fds.len()` (Linux 5.5): `Some`
    /// installs a file, `None` empties the slot. Returns how many slots were
    /// updated.
    #[doc(alias = "io_uring_register_files_update")]
    pub fn register_files_update(
        &mut self,
        offset: u32,
        fds: &[Option<BorrowedFd<'_>>],
    ) -> io::Result<usize> {
        let raw: Vec<i32> = fds
            .iter()
            .map(|fd| fd.map_or(-1, |fd| fd.as_raw_fd()))
            .collect();
        let n = count(raw.len(), "files")?;
        let done = self.register_call(
            || format!("updating {n} fixed files at slot {offset}"),
            // SAFETY: raw holds n descriptors (or -1), alive across the call.
            |r| unsafe { sys::io_uring_register_files_update(r, offset, raw.as_ptr(), n) },
        )?;
        Ok(done as usize)
    }

    /// Drops the fixed-file table (`IORING_UNREGISTER_FILES`). `ENXIO` if there is
    /// none.
    #[doc(alias = "io_uring_unregister_files")]
    pub fn unregister_files(&mut self) -> io::Result<()> {
        self.register_call(
            || "unregistering files".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_files(r) },
        )?;
        Ok(())
    }

    /// Limits the slots the kernel picks for auto-allocated direct descriptors to
    /// `offset..offset + len` (Linux 6.0).
    #[doc(alias = "io_uring_register_file_alloc_range")]
    pub fn register_file_alloc_range(&mut self, offset: u32, len: u32) -> io::Result<()> {
        self.register_call(
            || format!("setting the file allocation range to {offset}..+{len}"),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_register_file_alloc_range(r, offset, len) },
        )?;
        Ok(())
    }

    /// Registers `bufs` as fixed buffers (`IORING_REGISTER_BUFFERS`, Linux 5.1):
    /// `READ_FIXED`/`WRITE_FIXED` and other fixed-buffer operations then name them
    /// by index. The kernel pins the pages.
    ///
    /// # Safety
    ///
    /// Each iovec must describe memory that stays allocated, and is not used for
    /// anything else while operations may write to it, until the buffers are
    /// unregistered or the ring is dropped (and operations using them have
    /// completed): fixed-buffer operations read and write it without naming it
    /// again.
    #[doc(alias = "io_uring_register_buffers")]
    pub unsafe fn register_buffers(&mut self, bufs: &[libc::iovec]) -> io::Result<()> {
        let n = count(bufs.len(), "buffers")?;
        self.register_call(
            || format!("registering {n} buffers"),
            // SAFETY: bufs is n valid iovecs; the memory they describe is the
            // caller's to keep valid (this function's contract).
            |r| unsafe { sys::io_uring_register_buffers(r, bufs.as_ptr(), n) },
        )?;
        Ok(())
    }

    /// Registers an empty fixed-buffer table of `slots` entries (Linux 5.19).
    #[doc(alias = "io_uring_register_buffers_sparse")]
    pub fn register_buffers_sparse(&mut self, slots: u32) -> io::Result<()> {
        self.register_call(
            || format!("registering a sparse table of {slots} buffers"),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_register_buffers_sparse(r, slots) },
        )?;
        Ok(())
    }

    /// Drops the fixed-buffer table (`IORING_UNREGISTER_BUFFERS`). `ENXIO` if there
    /// is none.
    #[doc(alias = "io_uring_unregister_buffers")]
    pub fn unregister_buffers(&mut self) -> io::Result<()> {
        self.register_call(
            || "unregistering buffers".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_buffers(r) },
        )?;
        Ok(())
    }

    /// Has the kernel signal `eventfd` whenever it posts a completion
    /// (`IORING_REGISTER_EVENTFD`, Linux 5.2). The ring keeps its own reference.
    ///
    /// # Errors
    ///
    /// `EBUSY` if one is registered already; `EBADF`/`EINVAL` if `eventfd` is not
    /// an eventfd.
    #[doc(alias = "io_uring_register_eventfd")]
    pub fn register_eventfd(&mut self, eventfd: BorrowedFd<'_>) -> io::Result<()> {
        let fd = eventfd.as_raw_fd();
        self.register_call(
            || format!("registering eventfd {fd}"),
            // SAFETY: fd is open for the call; the kernel takes its own reference.
            |r| unsafe { sys::io_uring_register_eventfd(r, fd) },
        )?;
        Ok(())
    }

    /// Like [`register_eventfd`](Self::register_eventfd), but signals only for
    /// completions posted asynchronously (`IORING_REGISTER_EVENTFD_ASYNC`, 5.6).
    #[doc(alias = "io_uring_register_eventfd_async")]
    pub fn register_eventfd_async(&mut self, eventfd: BorrowedFd<'_>) -> io::Result<()> {
        let fd = eventfd.as_raw_fd();
        self.register_call(
            || format!("registering async eventfd {fd}"),
            // SAFETY: as in register_eventfd.
            |r| unsafe { sys::io_uring_register_eventfd_async(r, fd) },
        )?;
        Ok(())
    }

    /// Stops eventfd notification (`IORING_UNREGISTER_EVENTFD`). `ENXIO` if none.
    #[doc(alias = "io_uring_unregister_eventfd")]
    pub fn unregister_eventfd(&mut self) -> io::Result<()> {
        self.register_call(
            || "unregistering the eventfd".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_eventfd(r) },
        )?;
        Ok(())
    }

    /// Registers the ring's fd with the calling thread (`IORING_REGISTER_RING_FDS`,
    /// Linux 5.18), so every enter skips the fd lookup; [`submit`](Self::submit)
    /// and friends then pass `IORING_ENTER_REGISTERED_RING` and the index.
    ///
    /// The registration belongs to this thread. If the ring moves to another
    /// thread, it enters (and registers) through its plain fd there; a ring whose
    /// fd was closed with [`close_ring_fd`](Self::close_ring_fd) then fails with
    /// `EBADF` instead.
    ///
    /// # Errors
    ///
    /// `EEXIST` if it is registered already.
    #[doc(alias = "io_uring_register_ring_fd")]
    pub fn register_ring_fd(&mut self) -> io::Result<()> {
        if self.raw.int_flags & INT_FLAG_REG_RING != 0 {
            return Err(with_context(
                libc::EEXIST,
                "registering the ring fd: it is registered already",
            ));
        }
        self.register_call(
            || "registering the ring fd".to_string(),
            // SAFETY: the ring is live; liburing updates its own fields.
            |r| unsafe { sys::io_uring_register_ring_fd(r) },
        )?;
        self.reg_owner = thread_token();
        Ok(())
    }

    /// Undoes [`register_ring_fd`](Self::register_ring_fd). Must run on the
    /// registering thread (`EXDEV` otherwise: this thread's index would name
    /// another ring); `EINVAL` if not registered; `EBADF` if the ring has no other
    /// fd (`REGISTERED_FD_ONLY` or [`close_ring_fd`](Self::close_ring_fd)).
    #[doc(alias = "io_uring_unregister_ring_fd")]
    pub fn unregister_ring_fd(&mut self) -> io::Result<()> {
        if self.raw.int_flags & INT_FLAG_REG_RING == 0 {
            return Err(with_context(
                libc::EINVAL,
                "unregistering the ring fd: it is not registered",
            ));
        }
        if self.reg_owner != thread_token() {
            return Err(with_context(
                libc::EXDEV,
                "unregistering the ring fd: it was registered by another thread",
            ));
        }
        if self.raw.ring_fd < 0 {
            return Err(with_context(
                libc::EBADF,
                "unregistering the ring fd: the ring has no other fd to fall back to",
            ));
        }
        self.register_call(
            || "unregistering the ring fd".to_string(),
            // SAFETY: the ring is live; liburing updates its own fields.
            |r| unsafe { sys::io_uring_unregister_ring_fd(r) },
        )?;
        Ok(())
    }

    /// Closes the ring's plain fd after [`register_ring_fd`](Self::register_ring_fd),
    /// leaving only the registered index (liburing's `io_uring_close_ring_fd`,
    /// needs [`Features::REG_REG_RING`](crate::Features::REG_REG_RING), Linux
    /// 6.3). Afterwards [`fd`](Self::fd) is `None` and the ring can only be
    /// driven from the registering thread.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` without `REG_REG_RING`; `EINVAL` if the fd is not registered;
    /// `EXDEV` from another thread; `EBADF` if already closed.
    #[doc(alias = "io_uring_close_ring_fd")]
    pub fn close_ring_fd(&mut self) -> io::Result<()> {
        if self.raw.int_flags & INT_FLAG_REG_RING != 0 && self.reg_owner != thread_token() {
            return Err(with_context(
                libc::EXDEV,
                "closing the ring fd: its registration belongs to another thread",
            ));
        }
        self.register_call(
            || "closing the ring fd".to_string(),
            // SAFETY: the ring is live and no BorrowedFd of it exists (`fd()`
            // borrows self, and this takes &mut self).
            |r| unsafe { sys::io_uring_close_ring_fd(r) },
        )?;
        Ok(())
    }

    /// Registers a region of `entries` wait descriptions (`io_uring_reg_wait`,
    /// 64 bytes each) for [`submit_and_wait_reg`](Self::submit_and_wait_reg)
    /// (`IORING_REGISTER_MEM_REGION` with `IORING_MEM_REGION_REG_WAIT_ARG`, Linux
    /// 6.13). The ring allocates the page-aligned memory and keeps it until it is
    /// torn down; entries start zeroed (no timeout) and are set with
    /// [`set_wait_entry`](Self::set_wait_entry).
    ///
    /// The kernel accepts this only while the ring is disabled: set it up with
    /// [`Builder::r_disabled`](crate::Builder::r_disabled), register, then
    /// [`enable_rings`](Self::enable_rings).
    ///
    /// # Errors
    ///
    /// `EEXIST` if a region is registered already; `EINVAL` for 0 entries, or from
    /// the kernel when the ring is enabled or lacks the feature.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut ring = uring::Ring::builder().r_disabled().build(4)?;
    /// # if ring.register_wait_region(2).is_err() { return Ok(()); } // Linux < 6.13
    /// ring.enable_rings()?;
    /// ring.set_wait_entry(0, Some(Duration::from_millis(1)), Duration::ZERO)?;
    /// let err = ring.submit_and_wait_reg(1, 0).unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_register_region")]
    pub fn register_wait_region(&mut self, entries: u32) -> io::Result<()> {
        if self.wait_region.is_some() {
            return Err(with_context(
                libc::EEXIST,
                "registering a wait region: one is registered already",
            ));
        }
        if entries == 0 {
            return Err(with_context(
                libc::EINVAL,
                "registering a wait region of 0 entries",
            ));
        }
        let len = (entries as usize)
            .checked_mul(core::mem::size_of::<sys::io_uring_reg_wait>())
            .ok_or_else(|| with_context(libc::EINVAL, "wait region size overflows"))?;
        let mut mem = RingMemory::new(len)?;
        let mut desc = sys::io_uring_region_desc {
            user_addr: mem.as_mut_ptr() as u64,
            size: mem.len() as u64,
            flags: sys::IORING_MEM_REGION_TYPE_USER,
            ..Default::default()
        };
        let mut reg = sys::io_uring_mem_region_reg {
            region_uptr: &mut desc as *mut sys::io_uring_region_desc as u64,
            flags: sys::IORING_MEM_REGION_REG_WAIT_ARG as u64,
            __resv: [0; 2],
        };
        self.register_call(
            || format!("registering a wait region of {entries} entries"),
            // SAFETY: reg and desc are valid for the call; the memory they name is
            // a live mapping that moves into the ring below and is unmapped only
            // after the ring is torn down.
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_MEM_REGION,
                    (&mut reg as *mut sys::io_uring_mem_region_reg).cast(),
                    1,
                )
            },
        )?;
        self.wait_region = Some((mem, entries));
        Ok(())
    }

    /// Sets wait-region entry `index`: the timeout (`None`: wait without one) and
    /// the minimum batch wait (needs [`Features::MIN_TIMEOUT`](crate::Features::MIN_TIMEOUT);
    /// whole microseconds, at most `u32::MAX`).
    ///
    /// # Errors
    ///
    /// `EINVAL` when no region is registered or `index` is outside it.
    pub fn set_wait_entry(
        &mut self,
        index: u32,
        timeout: Option<std::time::Duration>,
        min_wait: std::time::Duration,
    ) -> io::Result<()> {
        let slots = self.wait_region_slots();
        let Some((mem, _)) = self.wait_region.as_mut() else {
            return Err(with_context(
                libc::EINVAL,
                "setting a wait entry: no wait region is registered",
            ));
        };
        if index >= slots {
            return Err(with_context(
                libc::EINVAL,
                format!("wait region entry {index} does not exist (the region has {slots})"),
            ));
        }
        let ts = timeout.unwrap_or_default();
        let entry = sys::io_uring_reg_wait {
            ts: sys::__kernel_timespec {
                tv_sec: i64::try_from(ts.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: ts.subsec_nanos() as i64,
            },
            min_wait_usec: u32::try_from(min_wait.as_micros()).unwrap_or(u32::MAX),
            flags: if timeout.is_some() {
                sys::IORING_REG_WAIT_TS
            } else {
                0
            },
            ..Default::default()
        };
        // SAFETY: index < slots, so the entry lies inside the region mapping
        // (page-aligned, so 8-aligned). The kernel reads it only inside our
        // io_uring_enter calls, which cannot run while we hold &mut self.
        unsafe {
            mem.as_mut_ptr()
                .cast::<sys::io_uring_reg_wait>()
                .add(index as usize)
                .write(entry)
        };
        Ok(())
    }

    /// Cancels, synchronously, every in-flight request whose `user_data` is
    /// `user_data` (`IORING_REGISTER_SYNC_CANCEL`, Linux 6.0), waiting up to
    /// `timeout` (`None`: as long as it takes) for the cancellations to finish.
    /// Returns how many were cancelled (0 when none matched). Each cancelled
    /// request still posts its completion (usually `ECANCELED`).
    ///
    /// # Errors
    ///
    /// `ETIME` when the timeout passed first; `EALREADY` when a request was
    /// already running and could not be interrupted.
    #[doc(alias = "io_uring_register_sync_cancel")]
    pub fn cancel_sync(
        &mut self,
        user_data: u64,
        timeout: Option<std::time::Duration>,
    ) -> io::Result<usize> {
        self.sync_cancel(
            user_data,
            sys::IORING_ASYNC_CANCEL_ALL | sys::IORING_ASYNC_CANCEL_USERDATA,
            timeout,
            || format!("cancelling requests with user_data {user_data}"),
        )
    }

    /// Cancels, synchronously, every cancellable in-flight request
    /// (`IORING_ASYNC_CANCEL_ANY`), waiting up to `timeout` for them to finish;
    /// returns how many were cancelled. Requests the kernel cannot find to cancel
    /// (for example I/O already handed to a block device) are not affected: this
    /// is not a guarantee that nothing is in flight.
    ///
    /// # Errors
    ///
    /// As for [`cancel_sync`](Self::cancel_sync).
    #[doc(alias = "io_uring_register_sync_cancel")]
    pub fn cancel_all_sync(&mut self, timeout: Option<std::time::Duration>) -> io::Result<usize> {
        self.sync_cancel(0, sys::IORING_ASYNC_CANCEL_ANY, timeout, || {
            "cancelling every request".to_string()
        })
    }

    fn sync_cancel(
        &mut self,
        user_data: u64,
        flags: u32,
        timeout: Option<std::time::Duration>,
        what: impl FnOnce() -> String,
    ) -> io::Result<usize> {
        let timeout = match timeout {
            Some(t) => sys::__kernel_timespec {
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos() as i64,
            },
            // -1/-1: wait without a timeout.
            None => sys::__kernel_timespec {
                tv_sec: -1,
                tv_nsec: -1,
            },
        };
        let mut reg = sys::io_uring_sync_cancel_reg {
            addr: user_data,
            fd: -1,
            flags,
            timeout,
            ..Default::default()
        };
        match self.register_call(what, |r| {
            // SAFETY: reg is a valid io_uring_sync_cancel_reg for the call.
            unsafe { sys::io_uring_register_sync_cancel(r, &mut reg) }
        }) {
            Ok(n) => Ok(n as usize),
            Err(e) if crate::error::errno(&e) == Some(libc::ENOENT) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Resizes the submission and completion queues of a running ring
    /// (`IORING_REGISTER_RESIZE_RINGS`, Linux 6.13; needs `DEFER_TASKRUN`, and
    /// liburing 2.9 or later). Queued entries and unread completions are carried
    /// over: pushed entries are first handed to the kernel's view of the queue
    /// (not submitted) so that it copies them.
    ///
    /// `cq_entries` `None` keeps the default of twice `sq_entries`.
    ///
    /// # Errors
    ///
    /// `EINVAL` for rings without `DEFER_TASKRUN`, `NO_MMAP` rings, or sizes that
    /// cannot hold what is queued; `EBADF` for a ring whose fd was closed.
    #[cfg(liburing_2_9)]
    #[doc(alias = "io_uring_resize_rings")]
    pub fn resize_rings(&mut self, sq_entries: u32, cq_entries: Option<u32>) -> io::Result<()> {
        if self.raw.ring_fd < 0 {
            return Err(with_context(
                libc::EBADF,
                "resizing the rings: the ring has no fd to map the new rings from",
            ));
        }
        // Unpublished entries live only in the old SQE array: publish them so
        // the kernel copies them into the new one.
        self.publish_sq();
        let mut p = sys::io_uring_params {
            sq_entries,
            ..Default::default()
        };
        if let Some(cq) = cq_entries {
            p.cq_entries = cq;
            p.flags |= sys::IORING_SETUP_CQSIZE;
        }
        self.register_call(
            || match cq_entries {
                Some(cq) => format!("resizing the rings to {sq_entries} SQ / {cq} CQ entries"),
                None => format!("resizing the rings to {sq_entries} SQ entries"),
            },
            // SAFETY: p is valid for the call; liburing remaps the rings and
            // updates the struct, and no view of the old mappings is alive (&mut self).
            |r| unsafe { sys::io_uring_resize_rings(r, &mut p) },
        )?;
        self.params.0.sq_entries = self.raw.sq.ring_entries;
        self.params.0.cq_entries = self.raw.cq.ring_entries;
        Ok(())
    }

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

    /// Sets the maximum number of bounded and unbounded async workers
    /// (`IORING_REGISTER_IOWQ_MAX_WORKERS`, Linux 5.15); `0` leaves a limit as it
    /// is. Returns the previous `[bounded, unbounded]` limits.
    #[doc(alias = "io_uring_register_iowq_max_workers")]
    pub fn register_iowq_max_workers(
        &mut self,
        bounded: u32,
        unbounded: u32,
    ) -> io::Result<[u32; 2]> {
        let mut values = [bounded, unbounded];
        self.register_call(
            || format!("setting io-wq max workers to [{bounded}, {unbounded}]"),
            // SAFETY: values is the two-element array the kernel reads and writes.
            |r| unsafe { sys::io_uring_register_iowq_max_workers(r, values.as_mut_ptr()) },
        )?;
        Ok(values)
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

    /// Whether the ring's fd is registered (with some thread).
    #[inline]
    pub fn is_ring_fd_registered(&self) -> bool {
        self.raw.int_flags & INT_FLAG_REG_RING != 0
    }
}

/// `io_uring_register(2)` the way liburing's internal `do_register` calls it:
/// through the registered ring index when liburing would, else the ring fd.
/// (Used where liburing's wrapper is newer than the oldest liburing supported.)
///
/// # Safety
///
/// `ring` must be a live ring; `arg`/`nr` must be what `opcode` expects.
unsafe fn raw_register(
    ring: *mut sys::io_uring,
    opcode: u32,
    arg: *const core::ffi::c_void,
    nr: u32,
) -> i32 {
    // SAFETY: the caller's contract: ring is live.
    let (int_flags, enter_fd, ring_fd) =
        unsafe { ((*ring).int_flags, (*ring).enter_ring_fd, (*ring).ring_fd) };
    let (fd, opcode) = if int_flags & INT_FLAG_REG_REG_RING != 0 {
        (enter_fd, opcode | sys::IORING_REGISTER_USE_REGISTERED_RING)
    } else {
        (ring_fd, opcode)
    };
    // SAFETY: forwarded from the caller's contract.
    unsafe { sys::io_uring_register(fd as u32, opcode, arg, nr) }
}

fn count(len: usize, what: &str) -> io::Result<u32> {
    u32::try_from(len)
        .map_err(|_| with_context(libc::EINVAL, format!("{len} {what} is more than u32::MAX")))
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
