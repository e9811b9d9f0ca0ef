//! The ring itself: eventfd notification (and its CQ toggle), registering and
//! closing the ring fd, wait regions, resizing, I/O-wait accounting.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::raw_register;
use crate::error::with_context;
use crate::ring::{Ring, thread_token};
use crate::setup::RingMemory;
use crate::sys;

impl Ring {
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

    /// Whether the registered eventfd is signalled for new completions: `false`
    /// only after [`set_cq_eventfd_enabled(false)`](Self::set_cq_eventfd_enabled).
    /// Rings on kernels without a CQ flags word (before Linux 5.8) always signal.
    ///
    /// ```
    /// let ring = uring::Ring::new(4)?;
    /// assert!(ring.cq_eventfd_enabled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_cq_eventfd_enabled")]
    pub fn cq_eventfd_enabled(&self) -> bool {
        let flags = self.raw.cq.kflags;
        if flags.is_null() {
            return true;
        }
        // SAFETY: kflags points into the CQ ring mapping, alive as long as self;
        // it is read atomically since another thread may toggle it via the kernel's
        // view of the same word.
        let word =
            unsafe { crate::ring::atomic(flags) }.load(core::sync::atomic::Ordering::Relaxed);
        word & sys::IORING_CQ_EVENTFD_DISABLED == 0
    }

    /// Turns eventfd notification on or off without unregistering the eventfd
    /// (sets or clears `IORING_CQ_EVENTFD_DISABLED` in the CQ ring's flags; Linux
    /// 5.8). Useful while a loop drains completions it would otherwise be woken
    /// for. Completions are never lost either way: only the signal is skipped.
    ///
    /// ```
    /// let mut ring = uring::Ring::new(4)?;
    /// ring.set_cq_eventfd_enabled(false)?;
    /// assert!(!ring.cq_eventfd_enabled());
    /// ring.set_cq_eventfd_enabled(true)?;
    /// assert!(ring.cq_eventfd_enabled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` when the kernel gives the CQ ring no flags word (before 5.8).
    #[doc(alias = "io_uring_cq_eventfd_toggle")]
    pub fn set_cq_eventfd_enabled(&mut self, enabled: bool) -> io::Result<()> {
        let flags = self.raw.cq.kflags;
        if flags.is_null() {
            return Err(with_context(
                libc::EOPNOTSUPP,
                "this kernel's CQ ring has no flags word (IORING_CQ_EVENTFD_DISABLED needs Linux 5.8)",
            ));
        }
        // SAFETY: as in cq_eventfd_enabled; only user space writes this word.
        let word = unsafe { crate::ring::atomic(flags) };
        if enabled {
            word.fetch_and(
                !sys::IORING_CQ_EVENTFD_DISABLED,
                core::sync::atomic::Ordering::Relaxed,
            );
        } else {
            word.fetch_or(
                sys::IORING_CQ_EVENTFD_DISABLED,
                core::sync::atomic::Ordering::Relaxed,
            );
        }
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
        if self.is_ring_fd_registered() {
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
        // liburing keeps the index it got in enter_ring_fd (every release).
        self.set_enter(
            self.raw.enter_ring_fd,
            self.enter_flags | sys::IORING_ENTER_REGISTERED_RING,
        );
        self.reg_owner = thread_token();
        Ok(())
    }

    /// Undoes [`register_ring_fd`](Self::register_ring_fd). Must run on the
    /// registering thread (`EXDEV` otherwise: this thread's index would name
    /// another ring); `EINVAL` if not registered; `EBADF` if the ring has no other
    /// fd (`REGISTERED_FD_ONLY` or [`close_ring_fd`](Self::close_ring_fd)).
    #[doc(alias = "io_uring_unregister_ring_fd")]
    pub fn unregister_ring_fd(&mut self) -> io::Result<()> {
        if !self.is_ring_fd_registered() {
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
        self.set_enter(
            self.raw.ring_fd,
            self.enter_flags & !sys::IORING_ENTER_REGISTERED_RING,
        );
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
        if self.registered_elsewhere() {
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
    #[doc(alias = "io_uring_register_wait_reg")]
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
        if self.registered_elsewhere() {
            // liburing would resize through this thread's registered index, and
            // the stand-in register_call uses elsewhere cannot be remapped.
            return Err(with_context(
                libc::EXDEV,
                "resizing the rings: the ring fd is registered by another thread; \
                 resize on that thread",
            ));
        }
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

    /// Whether the ring's fd is registered (with some thread).
    #[inline]
    pub fn is_ring_fd_registered(&self) -> bool {
        self.enter_flags & sys::IORING_ENTER_REGISTERED_RING != 0
    }
}

/// Ring calls added with liburing 2.1 and later: iowait.
impl Ring {
    /// Whether waiting for completions counts as I/O wait (liburing's
    /// `io_uring_set_iowait`; needs [`Features::NO_IOWAIT`](crate::Features::NO_IOWAIT),
    /// Linux 6.15). On by default; off, every later enter passes
    /// `IORING_ENTER_NO_IOWAIT`. Not a register call: it changes how this ring
    /// enters.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` (kind `Unsupported`) without `NO_IOWAIT`.
    #[doc(alias = "io_uring_set_iowait")]
    pub fn set_iowait(&mut self, enable: bool) -> io::Result<()> {
        if !self.features().contains(crate::Features::NO_IOWAIT) {
            return Err(with_context(
                libc::EOPNOTSUPP,
                "turning iowait accounting off needs IORING_FEAT_NO_IOWAIT (Linux 6.15)",
            ));
        }
        let flags = if enable {
            self.enter_flags & !sys::IORING_ENTER_NO_IOWAIT
        } else {
            self.enter_flags | sys::IORING_ENTER_NO_IOWAIT
        };
        self.set_enter(self.enter_fd, flags);
        // Tell liburing too, so that its own enters (`liburing_submit`, …) agree;
        // releases before 2.10 have no such setting and always count iowait.
        #[cfg(liburing_2_10)]
        // SAFETY: the ring is live; liburing only updates its own flags word.
        unsafe {
            sys::io_uring_set_iowait(&mut *self.raw, enable)
        };
        Ok(())
    }

    /// Whether waits count as I/O wait (see [`set_iowait`](Self::set_iowait)).
    pub fn iowait(&self) -> bool {
        self.enter_flags & sys::IORING_ENTER_NO_IOWAIT == 0
    }
}
