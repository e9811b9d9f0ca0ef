//! Registration (`io_uring_register(2)`): everything a ring can register —
//! fixed files and buffers (with tags, sparse, cloned between rings), eventfds,
//! the ring's own fd, personalities, io-wq limits and affinity, restrictions,
//! NAPI, the wait clock, wait regions, zero-copy receive, BPF filters — as
//! methods on [`Ring`], plus the few ring-less calls as functions here.
//! Provided-buffer rings live in [`buf_ring`](crate::buf_ring).
//!
//! Most go through liburing's function of the same name; where that function
//! is newer than the liburing linked (see the `liburing_2_N` cfgs), the same
//! `io_uring_register` call is made directly, so every method works with any
//! supported liburing and the kernel decides. Errors carry the kernel's errno
//! ([`error::errno`](crate::error::errno)) and say what was being registered;
//! `EINVAL` is what a kernel says about a call it does not know.
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
//!
//! # Which liburing call is where
//!
//! Every registration function of liburing 2.15 (`liburing.map`), in the order
//! liburing added them:
//!
//! | liburing | since | uring |
//! | --- | --- | --- |
//! | `io_uring_register_buffers` | 2.0 | [`Ring::register_buffers`] (`unsafe`) |
//! | `io_uring_unregister_buffers` | 2.0 | [`Ring::unregister_buffers`] |
//! | `io_uring_register_files` | 2.0 | [`Ring::register_files`] |
//! | `io_uring_register_files_update` | 2.0 | [`Ring::register_files_update`] |
//! | `io_uring_unregister_files` | 2.0 | [`Ring::unregister_files`] |
//! | `io_uring_register_eventfd` | 2.0 | [`Ring::register_eventfd`] |
//! | `io_uring_register_eventfd_async` | 2.0 | [`Ring::register_eventfd_async`] |
//! | `io_uring_unregister_eventfd` | 2.0 | [`Ring::unregister_eventfd`] |
//! | `io_uring_register_personality` | 2.0 | [`Ring::register_personality`] |
//! | `io_uring_unregister_personality` | 2.0 | [`Ring::unregister_personality`] |
//! | `io_uring_register_probe` | 2.0 | [`Ring::probe`], [`probe::probe`](crate::probe::probe) |
//! | `io_uring_register_buffers_tags` | 2.1 | [`Ring::register_buffers_tags`] (`unsafe`) |
//! | `io_uring_register_buffers_update_tag` | 2.1 | [`Ring::register_buffers_update_tag`] (`unsafe`) |
//! | `io_uring_register_files_tags` | 2.1 | [`Ring::register_files_tags`] |
//! | `io_uring_register_files_update_tag` | 2.1 | [`Ring::register_files_update_tag`] |
//! | `io_uring_register_iowq_aff` | 2.1 | [`Ring::register_iowq_aff`] |
//! | `io_uring_unregister_iowq_aff` | 2.1 | [`Ring::unregister_iowq_aff`] |
//! | `io_uring_register_iowq_max_workers` | 2.1 | [`Ring::register_iowq_max_workers`] |
//! | `io_uring_register_ring_fd` | 2.2 | [`Ring::register_ring_fd`], [`Builder::register_ring_fd`](crate::Builder::register_ring_fd) |
//! | `io_uring_unregister_ring_fd` | 2.2 | [`Ring::unregister_ring_fd`] |
//! | `io_uring_register_files_sparse` | 2.2 | [`Ring::register_files_sparse`] |
//! | `io_uring_register_buffers_sparse` | 2.2 | [`Ring::register_buffers_sparse`] |
//! | `io_uring_register_buf_ring` | 2.2 | [`BufRing::new`](crate::buf_ring::BufRing::new), [`BufRingPool::new`](crate::buf_ring::BufRingPool::new); raw: [`Ring::register_buf_ring`] (`unsafe`) |
//! | `io_uring_unregister_buf_ring` | 2.2 | [`BufRing::unregister`](crate::buf_ring::BufRing::unregister) and its `Drop`; [`Ring::unregister_buf_ring`] |
//! | `io_uring_register_sync_cancel` | 2.3 | [`Ring::cancel_sync`], [`Ring::cancel_all_sync`] |
//! | `io_uring_register_file_alloc_range` | 2.3 | [`Ring::register_file_alloc_range`] |
//! | `io_uring_register` | 2.3 | the raw system call: [`sys::io_uring_register`]; every opcode has a method here |
//! | `io_uring_close_ring_fd` | 2.4 | [`Ring::close_ring_fd`] |
//! | `io_uring_enable_rings` | 2.4 | [`Ring::enable_rings`] |
//! | `io_uring_register_restrictions` | 2.4 | [`Ring::register_restrictions`] |
//! | `io_uring_setup_buf_ring` | 2.4 | [`BufRing::new`](crate::buf_ring::BufRing::new), [`BufRing::with_flags`](crate::buf_ring::BufRing::with_flags) |
//! | `io_uring_free_buf_ring` | 2.4 | [`BufRing::unregister`](crate::buf_ring::BufRing::unregister) and its `Drop` |
//! | `io_uring_buf_ring_head` | 2.6 | [`BufRing::head`](crate::buf_ring::BufRing::head), [`Ring::buf_ring_head`] |
//! | `io_uring_register_napi` | 2.6 | [`Ring::register_napi`] |
//! | `io_uring_unregister_napi` | 2.6 | [`Ring::unregister_napi`]; the kernel's (6.13) tracking strategies, which liburing 2.15 has no fields for: [`Ring::register_napi_tracking`], [`Ring::napi_add_static_id`], [`Ring::napi_del_static_id`] |
//! | `io_uring_register_clock` | 2.8 | [`Ring::register_clock`] |
//! | `io_uring_clone_buffers` | 2.8 | [`Ring::clone_buffers`] (`unsafe`) with `0, 0, 0, false` |
//! | `io_uring_resize_rings` | 2.9 | [`Ring::resize_rings`] (built against liburing ≥ 2.9: it remaps the rings) |
//! | `io_uring_register_wait_reg` | 2.9 | none: liburing's function only returns `-EINVAL` (the kernel interface it was written for never shipped); [`Ring::register_wait_region`] does the job |
//! | `io_uring_clone_buffers_offset` | 2.9 | [`Ring::clone_buffers`] (`unsafe`) |
//! | `io_uring_register_region` | 2.9 | [`Ring::register_wait_region`]: a wait region is the one use the kernel (6.18) has for a registered region |
//! | `io_uring_register_ifq` | 2.10 | [`Ring::register_zcrx_ifq`] (`unsafe`, typed: [`ZcrxIfqReg`] → [`ZcrxIfq`]); [`Ring::register_zcrx_ifq_raw`] (`unsafe`, liburing's struct) |
//! | `io_uring_set_iowait` | 2.10 | [`Ring::set_iowait`] (not a register call: it changes how the ring enters) |
//! | `__io_uring_clone_buffers`, `__io_uring_clone_buffers_offset` | 2.10 | [`Ring::clone_buffers`] (`unsafe`), `replace` for `IORING_REGISTER_DST_REPLACE`; the source is named by its plain fd, or by its registered index (`IORING_REGISTER_SRC_REGISTERED`) when it has no plain fd |
//! | `io_uring_register_sync_msg` | 2.11 | [`msg_ring_sync`] (`unsafe`) |
//! | `io_uring_register_bpf_filter` | 2.15 | [`Ring::register_bpf_filter`] |
//! | `io_uring_register_bpf_filter_task` | 2.15 | [`register_bpf_filter_task`] |
//! | `io_uring_register_zcrx_ctrl` | 2.15 | [`Ring::zcrx_ctrl`] |
//! | `io_uring_register_query` | 2.15 | [`query_opcodes`] (`IO_URING_QUERY_OPCODES`, typed); [`query`] (`unsafe`, any query chain) |
//!
//! The remaining register opcodes have a home too: `IORING_REGISTER_PBUF_STATUS`
//! is `io_uring_buf_ring_head` above, and the wait-region registration is
//! `IORING_REGISTER_MEM_REGION`.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::error::with_context;
use crate::ring::{Ring, thread_token};
use crate::setup::RingMemory;
use crate::sys;

impl Ring {
    /// Runs one liburing register call. When the ring fd is registered by
    /// another thread, liburing would use that thread's registered index on this
    /// thread's table: the call then gets a stand-in `struct io_uring` that names
    /// the ring only by its plain fd, or is refused if there is none.
    ///
    /// The stand-in is zeroed apart from the fds and the setup and feature
    /// flags, so its `int_flags` is 0: "nothing registered" in every liburing
    /// release, whatever bits each gives its private flags. `call` must only
    /// make register calls through the pointer (they read the fds and flags);
    /// anything that reads or changes the rings takes `&mut self` itself and
    /// checks [`registered_elsewhere`](Ring::registered_elsewhere) first.
    pub(crate) fn register_call(
        &mut self,
        what: impl FnOnce() -> String,
        call: impl FnOnce(*mut sys::io_uring) -> i32,
    ) -> io::Result<u32> {
        let (ret, what) = self.register_call_raw(what, call)?;
        if ret < 0 {
            Err(with_context(-ret, what()))
        } else {
            Ok(ret as u32)
        }
    }

    /// [`register_call`](Self::register_call) returning liburing's return value
    /// as it is (and `what`, for the caller's error); `Err` only when the call
    /// cannot be made on this thread.
    pub(crate) fn register_call_raw<W: FnOnce() -> String>(
        &mut self,
        what: W,
        call: impl FnOnce(*mut sys::io_uring) -> i32,
    ) -> io::Result<(i32, W)> {
        let ret = if self.registered_elsewhere() {
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
            let mut stand_in = sys::io_uring {
                ring_fd: self.raw.ring_fd,
                enter_ring_fd: self.raw.ring_fd,
                flags: self.raw.flags,
                features: self.raw.features,
                ..Default::default()
            };
            call(&mut stand_in)
        } else {
            call(&mut *self.raw)
        };
        Ok((ret, what))
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
        self.enter_fd = self.raw.enter_ring_fd;
        self.enter_flags |= sys::IORING_ENTER_REGISTERED_RING;
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
        self.enter_fd = self.raw.ring_fd;
        self.enter_flags &= !sys::IORING_ENTER_REGISTERED_RING;
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
        self.enter_flags & sys::IORING_ENTER_REGISTERED_RING != 0
    }
}

/// `io_uring_register(2)` on `ring` made directly (where liburing's wrapper is
/// newer than the linked liburing, or there is none): through the plain ring
/// fd while there is one, else through the registered index
/// (`IORING_REGISTER_USE_REGISTERED_RING`; a ring without a plain fd is always
/// registered, on a kernel that has `REG_REG_RING`). Decided from the public
/// fds alone, never from liburing's private `int_flags`.
///
/// # Safety
///
/// `ring` must be a live ring (or [`Ring::register_call`]'s stand-in for one);
/// `arg`/`nr` must be what `opcode` expects.
unsafe fn raw_register(
    ring: *mut sys::io_uring,
    opcode: u32,
    arg: *const core::ffi::c_void,
    nr: u32,
) -> i32 {
    // SAFETY: the caller's contract: ring is live.
    let (enter_fd, ring_fd) = unsafe { ((*ring).enter_ring_fd, (*ring).ring_fd) };
    let (fd, opcode) = if ring_fd >= 0 {
        (ring_fd, opcode)
    } else {
        (enter_fd, opcode | sys::IORING_REGISTER_USE_REGISTERED_RING)
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

/// Registration calls added with liburing 2.1 and later: tagged resources,
/// provided-buffer rings, io-wq affinity, NAPI, clock, buffer cloning, iowait,
/// zero-copy receive, BPF filters.
impl Ring {
    /// Registers `fds` as the fixed-file table with a tag per slot
    /// (`IORING_REGISTER_FILES2`, Linux 5.13). `None` leaves a slot empty (its tag
    /// must be 0). When a tagged file leaves its slot — replaced or removed by an
    /// update, or (since Linux 6.13) with the whole table — and the kernel has
    /// dropped it, it posts a completion whose `user_data` is the tag and result
    /// 0. Tag 0 means no completion. (Before 6.13 the completion is posted once
    /// requests submitted after the update have moved the ring on, about a
    /// second later on 6.1.)
    ///
    /// # Errors
    ///
    /// `EINVAL` when `fds` and `tags` differ in length, or an empty slot has a
    /// tag; otherwise as for [`register_files`](Self::register_files).
    #[doc(alias = "io_uring_register_files_tags")]
    pub fn register_files_tags(
        &mut self,
        fds: &[Option<BorrowedFd<'_>>],
        tags: &[u64],
    ) -> io::Result<()> {
        same_len(fds.len(), tags.len(), "files")?;
        let raw: Vec<i32> = fds
            .iter()
            .map(|fd| fd.map_or(-1, |fd| fd.as_raw_fd()))
            .collect();
        let n = count(raw.len(), "files")?;
        self.register_call(
            || format!("registering {n} tagged files"),
            // SAFETY: raw and tags hold n entries each, alive across the call.
            |r| unsafe { sys::io_uring_register_files_tags(r, raw.as_ptr(), tags.as_ptr(), n) },
        )?;
        Ok(())
    }

    /// Replaces fixed-file slots `offset..offset + fds.len()` and their tags
    /// (`IORING_REGISTER_FILES_UPDATE2`, Linux 5.13). The files that leave their
    /// slots post their old tags' completions once released. Returns how many
    /// slots were updated.
    #[doc(alias = "io_uring_register_files_update_tag")]
    pub fn register_files_update_tag(
        &mut self,
        offset: u32,
        fds: &[Option<BorrowedFd<'_>>],
        tags: &[u64],
    ) -> io::Result<usize> {
        same_len(fds.len(), tags.len(), "files")?;
        let raw: Vec<i32> = fds
            .iter()
            .map(|fd| fd.map_or(-1, |fd| fd.as_raw_fd()))
            .collect();
        let n = count(raw.len(), "files")?;
        let done = self.register_call(
            || format!("updating {n} tagged fixed files at slot {offset}"),
            // SAFETY: raw and tags hold n entries each, alive across the call.
            |r| unsafe {
                sys::io_uring_register_files_update_tag(r, offset, raw.as_ptr(), tags.as_ptr(), n)
            },
        )?;
        Ok(done as usize)
    }

    /// Registers fixed buffers with a tag each (`IORING_REGISTER_BUFFERS2`,
    /// Linux 5.13): when a tagged buffer leaves its slot (as for
    /// [`register_files_tags`](Self::register_files_tags)) and the kernel no
    /// longer uses it, a completion with the tag as `user_data` is posted — the
    /// point from which its memory may be reused. Tag 0 means no completion.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Self::register_buffers); the memory may be
    /// reused once its tag's completion arrived.
    #[doc(alias = "io_uring_register_buffers_tags")]
    pub unsafe fn register_buffers_tags(
        &mut self,
        bufs: &[libc::iovec],
        tags: &[u64],
    ) -> io::Result<()> {
        same_len(bufs.len(), tags.len(), "buffers")?;
        let n = count(bufs.len(), "buffers")?;
        self.register_call(
            || format!("registering {n} tagged buffers"),
            // SAFETY: bufs and tags hold n entries; the memory the iovecs describe
            // is the caller's to keep valid (this function's contract).
            |r| unsafe { sys::io_uring_register_buffers_tags(r, bufs.as_ptr(), tags.as_ptr(), n) },
        )?;
        Ok(())
    }

    /// Replaces fixed-buffer slots `offset..offset + bufs.len()` and their tags
    /// (`IORING_REGISTER_BUFFERS_UPDATE`, Linux 5.13). Returns how many were
    /// updated. An iovec with a null base and length 0 empties a slot.
    ///
    /// # Safety
    ///
    /// As for [`register_buffers`](Self::register_buffers), for the new buffers.
    #[doc(alias = "io_uring_register_buffers_update_tag")]
    pub unsafe fn register_buffers_update_tag(
        &mut self,
        offset: u32,
        bufs: &[libc::iovec],
        tags: &[u64],
    ) -> io::Result<usize> {
        same_len(bufs.len(), tags.len(), "buffers")?;
        let n = count(bufs.len(), "buffers")?;
        let done = self.register_call(
            || format!("updating {n} tagged buffers at slot {offset}"),
            // SAFETY: as in register_buffers_tags.
            |r| unsafe {
                sys::io_uring_register_buffers_update_tag(
                    r,
                    offset,
                    bufs.as_ptr(),
                    tags.as_ptr(),
                    n,
                )
            },
        )?;
        Ok(done as usize)
    }

    /// Shares fixed buffers of `src` with this ring (`IORING_REGISTER_CLONE_BUFFERS`,
    /// Linux 6.12; liburing's `io_uring_clone_buffers*`): `nr` buffers from slot
    /// `src_off` of `src` land in slots from `dst_off` here (`nr` 0: all of
    /// them). The pages stay pinned once, shared by both rings. With `replace`
    /// (Linux 6.13) an existing table here is replaced; otherwise this ring must
    /// have none.
    ///
    /// # Safety
    ///
    /// The memory of the cloned buffers must stay valid as promised to
    /// [`register_buffers`](Self::register_buffers) of `src`, and now also until
    /// this ring's buffers are unregistered or it is dropped.
    ///
    /// A source without a plain fd (`REGISTERED_FD_ONLY`, or after
    /// [`close_ring_fd`](Self::close_ring_fd)) is named by its registered index
    /// (`IORING_REGISTER_SRC_REGISTERED`), which works on the thread that
    /// registered it.
    ///
    /// # Errors
    ///
    /// `EBUSY` when this ring has buffers and `replace` is off; `EBADF` when `src`
    /// has no plain fd and its registered one belongs to another thread;
    /// `EINVAL` when the ranges do not fit.
    #[doc(alias = "io_uring_clone_buffers")]
    #[doc(alias = "io_uring_clone_buffers_offset")]
    #[doc(alias = "__io_uring_clone_buffers")]
    #[doc(alias = "__io_uring_clone_buffers_offset")]
    pub unsafe fn clone_buffers(
        &mut self,
        src: &Ring,
        src_off: u32,
        dst_off: u32,
        nr: u32,
        replace: bool,
    ) -> io::Result<()> {
        // The source by its plain fd; failing that, by its registered index,
        // which only means that ring on the thread that registered it.
        let mut flags = if replace {
            sys::IORING_REGISTER_DST_REPLACE
        } else {
            0
        };
        let src_fd = if src.raw.ring_fd >= 0 {
            src.raw.ring_fd
        } else if src.is_ring_fd_registered() && !src.registered_elsewhere() {
            flags |= sys::IORING_REGISTER_SRC_REGISTERED;
            src.enter_fd
        } else {
            return Err(with_context(
                libc::EBADF,
                "cloning buffers: the source ring has no plain fd, and its registered \
                 fd belongs to another thread",
            ));
        };
        let mut arg = sys::io_uring_clone_buffers {
            src_fd: src_fd as u32,
            flags,
            src_off,
            dst_off,
            nr,
            ..Default::default()
        };
        self.register_call(
            || format!("cloning {nr} buffers from slot {src_off} to slot {dst_off}"),
            // SAFETY: arg is valid for the call (the same call liburing's
            // __io_uring_clone_buffers_offset makes); the cloned memory is the
            // caller's to keep valid (this function's contract).
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_CLONE_BUFFERS,
                    (&mut arg as *mut sys::io_uring_clone_buffers).cast(),
                    1,
                )
            },
        )?;
        Ok(())
    }

    /// Registers a provided-buffer ring at `ring_addr` (`IORING_REGISTER_PBUF_RING`,
    /// Linux 5.19) — the raw form; [`BufRing`](crate::buf_ring::BufRing) does
    /// this with memory it owns. `flags` are `IOU_PBUF_RING_*`; with
    /// `IOU_PBUF_RING_MMAP` `ring_addr` must be 0.
    ///
    /// # Safety
    ///
    /// `ring_addr` must point to `entries` (a power of two) page-aligned
    /// `io_uring_buf`s that stay valid until the group is unregistered, and
    /// every buffer published in it must stay valid as for
    /// [`BufRing::add`](crate::buf_ring::BufRing::add).
    #[doc(alias = "io_uring_register_buf_ring")]
    pub unsafe fn register_buf_ring(
        &mut self,
        ring_addr: *mut sys::io_uring_buf,
        entries: u32,
        group: u16,
        flags: u16,
    ) -> io::Result<()> {
        let mut reg = sys::io_uring_buf_reg {
            ring_addr: ring_addr as u64,
            ring_entries: entries,
            bgid: group,
            // In the struct, not liburing's `flags` argument: releases before
            // 2.8 ignore that argument.
            flags,
            ..Default::default()
        };
        self.register_call(
            || format!("registering a buffer ring of {entries} entries for group {group}"),
            // SAFETY: reg is valid for the call; the memory is the caller's
            // contract.
            |r| unsafe { sys::io_uring_register_buf_ring(r, &mut reg, 0) },
        )?;
        Ok(())
    }

    /// Unregisters the provided-buffer ring of `group`
    /// (`IORING_UNREGISTER_PBUF_RING`). `ENOENT` if there is none. Operations
    /// that already selected a buffer keep it.
    #[doc(alias = "io_uring_unregister_buf_ring")]
    pub fn unregister_buf_ring(&mut self, group: u16) -> io::Result<()> {
        self.register_call(
            || format!("unregistering the buffer ring of group {group}"),
            // SAFETY: no memory of ours is passed beyond the call.
            |r| unsafe { sys::io_uring_unregister_buf_ring(r, group as i32) },
        )?;
        Ok(())
    }

    /// The kernel's head of the buffer ring of `group`
    /// (`IORING_REGISTER_PBUF_STATUS`, Linux 6.8): how many buffers it consumed,
    /// wrapping at `u16`.
    #[doc(alias = "io_uring_buf_ring_head")]
    pub fn buf_ring_head(&mut self, group: u16) -> io::Result<u16> {
        let mut status = sys::io_uring_buf_status {
            buf_group: group as u32,
            ..Default::default()
        };
        self.register_call(
            || format!("reading the head of buffer group {group}"),
            // SAFETY: status is valid for the call (what liburing 2.6's
            // io_uring_buf_ring_head passes).
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_PBUF_STATUS,
                    (&mut status as *mut sys::io_uring_buf_status).cast(),
                    1,
                )
            },
        )?;
        Ok(status.head as u16)
    }

    /// Pins this task's io-wq workers for the ring to `cpus`
    /// (`IORING_REGISTER_IOWQ_AFF`, Linux 5.14); for an SQPOLL ring, the poll
    /// thread's workers.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty set or a CPU number at or above `CPU_SETSIZE`; the
    /// kernel's errno otherwise.
    #[doc(alias = "io_uring_register_iowq_aff")]
    pub fn register_iowq_aff(&mut self, cpus: &[usize]) -> io::Result<()> {
        // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(with_context(
                    libc::EINVAL,
                    format!("CPU {cpu} is outside cpu_set_t"),
                ));
            }
            // SAFETY: cpu < CPU_SETSIZE, inside the set.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        if cpus.is_empty() {
            return Err(with_context(libc::EINVAL, "an empty io-wq CPU set"));
        }
        self.register_call(
            || format!("setting io-wq affinity to CPUs {cpus:?}"),
            // SAFETY: set is a valid cpu_set_t of the size passed.
            |r| unsafe {
                sys::io_uring_register_iowq_aff(
                    r,
                    core::mem::size_of::<libc::cpu_set_t>(),
                    (&set as *const libc::cpu_set_t).cast(),
                )
            },
        )?;
        Ok(())
    }

    /// Undoes [`register_iowq_aff`](Self::register_iowq_aff): workers may run on
    /// any CPU the task may (`IORING_UNREGISTER_IOWQ_AFF`).
    #[doc(alias = "io_uring_unregister_iowq_aff")]
    pub fn unregister_iowq_aff(&mut self) -> io::Result<()> {
        self.register_call(
            || "clearing the io-wq affinity".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_iowq_aff(r) },
        )?;
        Ok(())
    }

    /// Turns on NAPI busy polling for the ring's network operations
    /// (`IORING_REGISTER_NAPI`, Linux 6.9) and returns the settings it had
    /// before.
    ///
    /// # Errors
    ///
    /// `EINVAL` from kernels without `CONFIG_NET_RX_BUSY_POLL` or before 6.9.
    #[doc(alias = "io_uring_register_napi")]
    pub fn register_napi(&mut self, napi: Napi) -> io::Result<Napi> {
        let mut raw = napi.to_raw();
        self.register_call(
            || format!("registering NAPI busy polling {napi:?}"),
            // SAFETY: raw is a valid io_uring_napi the kernel reads and writes.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// [`register_napi`](Self::register_napi) with a tracking strategy (Linux
    /// 6.13): which NAPI instances the ring busy-polls — those its network
    /// requests meet ([`NapiTracking::Dynamic`], the default), only those added
    /// with [`napi_add_static_id`](Self::napi_add_static_id)
    /// ([`NapiTracking::Static`]). [`unregister_napi`](Self::unregister_napi)
    /// turns tracking off.
    /// Returns the previous timeout and preference. (liburing 2.15's
    /// `io_uring_napi` has no fields for this; the kernel's layout is used.)
    ///
    /// # Errors
    ///
    /// `EINVAL` before Linux 6.13, or as for `register_napi`.
    pub fn register_napi_tracking(
        &mut self,
        napi: Napi,
        tracking: NapiTracking,
    ) -> io::Result<Napi> {
        let param = match tracking {
            NapiTracking::Dynamic => NAPI_TRACKING_DYNAMIC,
            NapiTracking::Static => NAPI_TRACKING_STATIC,
        };
        let mut raw = napi_raw(&napi, NAPI_REGISTER_OP, param);
        self.register_call(
            || format!("registering NAPI busy polling {napi:?} with {tracking:?} tracking"),
            // SAFETY: raw is a valid 16-byte io_uring_napi the kernel reads and
            // writes.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// Adds NAPI instance `napi_id` (as `SO_INCOMING_NAPI_ID` reports it) to
    /// those a ring with [`NapiTracking::Static`] busy-polls
    /// (`IO_URING_NAPI_STATIC_ADD_ID`, Linux 6.13).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id that names no NAPI instance, or without static
    /// tracking; `EEXIST` if it was added already.
    pub fn napi_add_static_id(&mut self, napi_id: u32) -> io::Result<()> {
        let mut raw = napi_raw(&Napi::default(), NAPI_STATIC_ADD_ID, napi_id);
        self.register_call(
            || format!("adding NAPI id {napi_id} to static tracking"),
            // SAFETY: as in register_napi_tracking.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(())
    }

    /// Removes NAPI instance `napi_id` from static tracking
    /// (`IO_URING_NAPI_STATIC_DEL_ID`, Linux 6.13).
    ///
    /// # Errors
    ///
    /// `ENOENT` if it was not added; `EINVAL` without static tracking.
    pub fn napi_del_static_id(&mut self, napi_id: u32) -> io::Result<()> {
        let mut raw = napi_raw(&Napi::default(), NAPI_STATIC_DEL_ID, napi_id);
        self.register_call(
            || format!("removing NAPI id {napi_id} from static tracking"),
            // SAFETY: as in register_napi_tracking.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(())
    }

    /// Turns NAPI busy polling off (`IORING_UNREGISTER_NAPI`) and returns the
    /// settings it had.
    #[doc(alias = "io_uring_unregister_napi")]
    pub fn unregister_napi(&mut self) -> io::Result<Napi> {
        let mut raw = sys::io_uring_napi::default();
        self.register_call(
            || "unregistering NAPI busy polling".to_string(),
            // SAFETY: as in register_napi.
            |r| unsafe { napi_call(r, sys::IORING_UNREGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// Chooses the clock for wait timeouts (`IORING_REGISTER_CLOCK`, Linux 6.12).
    /// The default is [`Clock::Monotonic`].
    ///
    /// ```
    /// use uring::register::Clock;
    /// let mut ring = uring::Ring::new(4)?;
    /// # if ring.register_clock(Clock::Boottime).is_err() { return Ok(()) } // < 6.12
    /// ring.register_clock(Clock::Boottime)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_register_clock")]
    pub fn register_clock(&mut self, clock: Clock) -> io::Result<()> {
        let mut arg = sys::io_uring_clock_register {
            clockid: clock.id() as u32,
            ..Default::default()
        };
        self.register_call(
            || format!("setting the wait clock to {clock:?}"),
            // SAFETY: arg is a valid io_uring_clock_register for the call.
            |r| unsafe {
                #[cfg(liburing_2_8)]
                {
                    sys::io_uring_register_clock(r, &mut arg)
                }
                #[cfg(not(liburing_2_8))]
                {
                    raw_register(
                        r,
                        sys::IORING_REGISTER_CLOCK,
                        (&mut arg as *mut sys::io_uring_clock_register).cast(),
                        0,
                    )
                }
            },
        )?;
        Ok(())
    }

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
        if enable {
            self.enter_flags &= !sys::IORING_ENTER_NO_IOWAIT;
        } else {
            self.enter_flags |= sys::IORING_ENTER_NO_IOWAIT;
        }
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

    /// Registers a zero-copy receive interface queue (`IORING_REGISTER_ZCRX_IFQ`,
    /// Linux 6.15; liburing's `io_uring_register_ifq`): packets received on
    /// hardware queue `if_rxq` of interface `if_idx` land directly in the `area`
    /// memory, and the application hands consumed pieces back through a refill
    /// ring the kernel lays out in the `refill` memory. Returns the queue's id
    /// and where the refill ring's head, tail and entries are.
    ///
    /// Needs a ring with `DEFER_TASKRUN` and 32-byte CQEs (or `CQE_MIXED`),
    /// `CAP_NET_ADMIN`, and a NIC whose driver does header split and queue
    /// management: loopback and virtual devices answer `EOPNOTSUPP`.
    ///
    /// # Safety
    ///
    /// `area` and `refill` must be page-aligned memory of the lengths given that
    /// stays valid, and is accessed only as the zero-copy receive protocol
    /// allows, until the ring is dropped.
    ///
    /// # Errors
    ///
    /// `EINVAL` for the wrong ring flags, a zero `rq_entries`, or before Linux
    /// 6.15; `EPERM` without `CAP_NET_ADMIN`; `ENODEV` for an unknown interface;
    /// `EOPNOTSUPP` for an interface that cannot do it.
    #[doc(alias = "io_uring_register_ifq")]
    pub unsafe fn register_zcrx_ifq(&mut self, reg: &ZcrxIfqReg) -> io::Result<ZcrxIfq> {
        let mut area = sys::io_uring_zcrx_area_reg {
            addr: reg.area as u64,
            len: reg.area_len as u64,
            ..Default::default()
        };
        let mut region = sys::io_uring_region_desc {
            user_addr: reg.refill as u64,
            size: reg.refill_len as u64,
            flags: sys::IORING_MEM_REGION_TYPE_USER,
            ..Default::default()
        };
        let mut raw = sys::io_uring_zcrx_ifq_reg {
            if_idx: reg.if_idx,
            if_rxq: reg.if_rxq,
            rq_entries: reg.rq_entries,
            area_ptr: &mut area as *mut sys::io_uring_zcrx_area_reg as u64,
            region_ptr: &mut region as *mut sys::io_uring_region_desc as u64,
            rx_buf_len: reg.rx_buf_len,
            ..Default::default()
        };
        // SAFETY: raw, area and region are valid for the call; the memory they
        // name is the caller's contract.
        unsafe { self.register_zcrx_ifq_raw(&mut raw) }?;
        Ok(ZcrxIfq {
            id: raw.zcrx_id,
            head: raw.offsets.head,
            tail: raw.offsets.tail,
            rqes: raw.offsets.rqes,
            area_token: area.rq_area_token,
        })
    }

    /// [`register_zcrx_ifq`](Self::register_zcrx_ifq) with liburing's own
    /// argument struct, for fields the typed form does not cover (dmabuf areas,
    /// `ZCRX_REG_*` flags): received packets of
    /// hardware queue `if_rxq` of interface `if_idx` land directly in the area
    /// `reg.area_ptr` describes, with a refill ring in the region
    /// `reg.region_ptr` describes. The kernel fills in `reg.offsets` and
    /// `reg.zcrx_id`.
    ///
    /// Needs a ring with `DEFER_TASKRUN` and 32-byte CQEs, `CAP_NET_ADMIN`, and a
    /// NIC and driver with header split and queue management (not loopback).
    ///
    /// # Safety
    ///
    /// `reg` and the `io_uring_zcrx_area_reg` and `io_uring_region_desc` it
    /// points to must be valid for the call; the area and region memory they
    /// describe must stay valid, and not be written otherwise than as the zcrx
    /// protocol allows, until the ring is dropped.
    ///
    /// # Errors
    ///
    /// `EPERM` without `CAP_NET_ADMIN`; `EINVAL` for the wrong ring flags or
    /// before 6.15; `EOPNOTSUPP`/`ENODEV`/`EINVAL` for interfaces that cannot do it.
    #[doc(alias = "io_uring_register_ifq")]
    pub unsafe fn register_zcrx_ifq_raw(
        &mut self,
        reg: &mut sys::io_uring_zcrx_ifq_reg,
    ) -> io::Result<()> {
        let (idx, q) = (reg.if_idx, reg.if_rxq);
        self.register_call(
            || format!("registering zero-copy receive on interface {idx} queue {q}"),
            // SAFETY: reg and the memory it names are the caller's contract.
            |r| unsafe {
                #[cfg(liburing_2_10)]
                {
                    sys::io_uring_register_ifq(r, reg)
                }
                #[cfg(not(liburing_2_10))]
                {
                    raw_register(
                        r,
                        sys::IORING_REGISTER_ZCRX_IFQ,
                        (reg as *mut sys::io_uring_zcrx_ifq_reg).cast(),
                        1,
                    )
                }
            },
        )?;
        Ok(())
    }

    /// A control operation on a registered zero-copy receive queue
    /// (`IORING_REGISTER_ZCRX_CTRL`, Linux 6.19; liburing 2.15's
    /// `io_uring_register_zcrx_ctrl`): `ZCRX_CTRL_FLUSH_RQ` or `ZCRX_CTRL_EXPORT`
    /// (which returns a new fd in `ctrl`, the caller's to close).
    ///
    /// # Errors
    ///
    /// `EINVAL`/`ENXIO` when `ctrl.zcrx_id` names no queue; `EINVAL` before 6.19.
    #[doc(alias = "io_uring_register_zcrx_ctrl")]
    pub fn zcrx_ctrl(&mut self, ctrl: &mut sys::zcrx_ctrl) -> io::Result<()> {
        let (id, op) = (ctrl.zcrx_id, ctrl.op);
        self.register_call(
            || format!("zero-copy receive control {op} on queue {id}"),
            // SAFETY: ctrl is a valid zcrx_ctrl the kernel reads and writes; it
            // names no other memory.
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_ZCRX_CTRL,
                    (ctrl as *mut sys::zcrx_ctrl).cast(),
                    0,
                )
            },
        )?;
        Ok(())
    }

    /// Installs a BPF filter on the ring's operations (`IORING_REGISTER_BPF_FILTER`,
    /// liburing 2.15's `io_uring_register_bpf_filter`; newer kernels than 6.18).
    /// The kernel copies the program `bpf` points to.
    ///
    /// # Errors
    ///
    /// `EINVAL` from kernels that do not know the call; `EFAULT` for a bad
    /// program pointer.
    #[doc(alias = "io_uring_register_bpf_filter")]
    pub fn register_bpf_filter(&mut self, bpf: &mut sys::io_uring_bpf) -> io::Result<()> {
        self.register_call(
            || "registering a BPF filter".to_string(),
            // SAFETY: bpf is valid for the call; the kernel copies the program it
            // points to with copy_from_user (a bad pointer is EFAULT).
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_BPF_FILTER,
                    (bpf as *mut sys::io_uring_bpf).cast(),
                    1,
                )
            },
        )?;
        Ok(())
    }
}

/// `IORING_REGISTER_NAPI`/`IORING_UNREGISTER_NAPI`, through liburing 2.6 when
/// linked against it.
///
/// # Safety
///
/// `ring` live, `napi` valid.
unsafe fn napi_call(ring: *mut sys::io_uring, opcode: u32, napi: &mut sys::io_uring_napi) -> i32 {
    #[cfg(liburing_2_6)]
    {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            if opcode == sys::IORING_REGISTER_NAPI {
                sys::io_uring_register_napi(ring, napi)
            } else {
                sys::io_uring_unregister_napi(ring, napi)
            }
        }
    }
    #[cfg(not(liburing_2_6))]
    {
        // SAFETY: forwarded from this function's contract.
        unsafe { raw_register(ring, opcode, (napi as *mut sys::io_uring_napi).cast(), 1) }
    }
}

fn same_len(a: usize, b: usize, what: &str) -> io::Result<()> {
    if a != b {
        return Err(with_context(
            libc::EINVAL,
            format!("{a} {what} but {b} tags"),
        ));
    }
    Ok(())
}

/// What [`Ring::register_zcrx_ifq`] registers. Lengths are in bytes; both
/// memories page-aligned.
#[derive(Debug, Clone, Copy)]
pub struct ZcrxIfqReg {
    /// The interface index (`if_nametoindex`).
    pub if_idx: u32,
    /// The hardware receive queue of that interface.
    pub if_rxq: u32,
    /// Entries of the refill ring (a power of two; the kernel may round up).
    pub rq_entries: u32,
    /// The receive area: packets land here.
    pub area: *mut u8,
    /// Its length.
    pub area_len: usize,
    /// Memory for the refill ring: at least a page for its head and tail plus
    /// `rq_entries` 16-byte `io_uring_zcrx_rqe`s, rounded up to pages.
    pub refill: *mut u8,
    /// Its length.
    pub refill_len: usize,
    /// Receive buffer size (0: the page size; larger sizes need
    /// `ZCRX_FEATURE_RX_PAGE_SIZE`).
    pub rx_buf_len: u32,
}

/// A registered zero-copy receive queue ([`Ring::register_zcrx_ifq`]): its id
/// (for receive entries and [`Ring::zcrx_ctrl`]) and the refill ring's layout,
/// as byte offsets into the refill memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZcrxIfq {
    /// The queue's id (`zcrx_id`).
    pub id: u32,
    /// Offset of the refill ring's head (`u32`, written by the kernel).
    pub head: u32,
    /// Offset of its tail (`u32`, written by the application).
    pub tail: u32,
    /// Offset of its `io_uring_zcrx_rqe` entries.
    pub rqes: u32,
    /// The area's token, combined with buffer offsets in refill entries.
    pub area_token: u64,
}

// The kernel's `io_uring_napi` since 6.13 (liburing 2.15 still has the older
// layout): busy_poll_to u32 @0, prefer_busy_poll u8 @4, opcode u8 @5, pad
// [u8; 2] @6, op_param u32 @8, resv u32 @12.
const NAPI_REGISTER_OP: u8 = 0;
const NAPI_STATIC_ADD_ID: u8 = 1;
const NAPI_STATIC_DEL_ID: u8 = 2;
const NAPI_TRACKING_DYNAMIC: u32 = 0;
const NAPI_TRACKING_STATIC: u32 = 1;
const _: () = assert!(core::mem::size_of::<sys::io_uring_napi>() == 16);

/// An `io_uring_napi` with the 6.13 `opcode` and `op_param` fields set.
fn napi_raw(napi: &Napi, opcode: u8, op_param: u32) -> sys::io_uring_napi {
    let mut bytes = [0u8; 16];
    bytes[0..4].copy_from_slice(&napi.busy_poll_usec.to_ne_bytes());
    bytes[4] = napi.prefer_busy_poll as u8;
    bytes[5] = opcode;
    bytes[8..12].copy_from_slice(&op_param.to_ne_bytes());
    // SAFETY: io_uring_napi is 16 bytes of plain integers without padding
    // (checked above); any bytes are a valid value.
    unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast()) }
}

/// Which NAPI instances a ring busy-polls ([`Ring::register_napi_tracking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NapiTracking {
    /// Those the ring's network requests meet (the default).
    #[default]
    Dynamic,
    /// Only those added with [`Ring::napi_add_static_id`].
    Static,
}

/// NAPI busy-poll settings for [`Ring::register_napi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Napi {
    /// How long to busy-poll, in microseconds (0: the kernel's default off).
    pub busy_poll_usec: u32,
    /// Prefer busy polling over interrupts (`SO_PREFER_BUSY_POLL`).
    pub prefer_busy_poll: bool,
}

impl Napi {
    fn to_raw(self) -> sys::io_uring_napi {
        sys::io_uring_napi {
            busy_poll_to: self.busy_poll_usec,
            prefer_busy_poll: self.prefer_busy_poll as u8,
            ..Default::default()
        }
    }

    fn from_raw(raw: &sys::io_uring_napi) -> Napi {
        Napi {
            busy_poll_usec: raw.busy_poll_to,
            prefer_busy_poll: raw.prefer_busy_poll != 0,
        }
    }
}

/// The clock for wait timeouts ([`Ring::register_clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clock {
    /// `CLOCK_MONOTONIC` (the default).
    Monotonic,
    /// `CLOCK_BOOTTIME`: also runs while the system is suspended.
    Boottime,
}

impl Clock {
    fn id(self) -> libc::clockid_t {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}

/// Posts a completion with `result` and `user_data` to the ring whose fd is
/// `target`, without a ring of one's own (`IORING_REGISTER_SEND_MSG_RING`, Linux
/// 6.13; liburing 2.11's `io_uring_register_sync_msg`). The same as a
/// [`MsgRing`](crate::op::MsgRing) entry, done synchronously.
///
/// ```
/// let mut ring = uring::Ring::new(4)?;
/// let fd = ring.fd().unwrap();
/// // SAFETY: this ring's completions are read right here, expecting it.
/// # if unsafe { uring::register::msg_ring_sync(fd, 1, 2) }.is_err() { return Ok(()) } // < 6.13
/// unsafe { uring::register::msg_ring_sync(fd, 7, 99) }?;
/// # ring.submit_and_get_events()?;
/// # let mut cq = ring.completion(); cq.next();
/// let cqe = cq.next().unwrap();
/// assert_eq!((cqe.user_data(), cqe.raw_result()), (99, 7));
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Safety
///
/// The ring behind `target` gets a completion that no request of its own
/// produced, with any `user_data`: whoever drives that ring must be prepared
/// for it. Code that matches completions to in-flight operations by
/// `user_data` (such as [`owned`](crate::owned)) could take it for the
/// completion of an operation the kernel is still carrying out, and release
/// memory the kernel still writes.
///
/// # Errors
///
/// `EBADFD`/`EBADF` when `target` is not a ring; `EINVAL` before 6.13.
#[doc(alias = "io_uring_register_sync_msg")]
pub unsafe fn msg_ring_sync(target: BorrowedFd<'_>, result: i32, user_data: u64) -> io::Result<()> {
    let mut sqe =
        crate::op::MsgRing::new(crate::types::Fd(target.as_raw_fd()), result, user_data).build();
    let raw = sqe.as_raw_mut();
    let ret = {
        #[cfg(liburing_2_11)]
        {
            // SAFETY: raw is a valid MSG_RING (IORING_MSG_DATA) entry; the kernel
            // only reads it.
            unsafe { sys::io_uring_register_sync_msg(raw) }
        }
        #[cfg(not(liburing_2_11))]
        {
            // SAFETY: as above; fd -1 is what liburing passes.
            unsafe {
                sys::io_uring_register(
                    u32::MAX,
                    sys::IORING_REGISTER_SEND_MSG_RING,
                    (raw as *mut sys::io_uring_sqe).cast(),
                    1,
                )
            }
        }
    };
    if ret < 0 {
        return Err(with_context(
            -ret,
            format!("sending a message (result {result}, user_data {user_data}) to a ring"),
        ));
    }
    Ok(())
}

/// Installs a BPF filter for the rings the calling task creates from now on
/// (`IORING_REGISTER_BPF_FILTER` without a ring, liburing 2.15's
/// `io_uring_register_bpf_filter_task`; newer kernels than 6.18).
///
/// # Errors
///
/// `EINVAL` from kernels that do not know the call.
#[doc(alias = "io_uring_register_bpf_filter_task")]
pub fn register_bpf_filter_task(bpf: &mut sys::io_uring_bpf) -> io::Result<()> {
    // SAFETY: bpf is valid for the call; the kernel copies the program it points
    // to with copy_from_user. fd -1 is what liburing passes.
    let ret = unsafe {
        sys::io_uring_register(
            u32::MAX,
            sys::IORING_REGISTER_BPF_FILTER,
            (bpf as *mut sys::io_uring_bpf).cast(),
            1,
        )
    };
    if ret < 0 {
        return Err(with_context(-ret, "registering a task BPF filter"));
    }
    Ok(())
}

/// What the kernel's io_uring knows, from `IORING_REGISTER_QUERY` with
/// `IO_URING_QUERY_OPCODES` (Linux 6.18; liburing 2.15's
/// `io_uring_register_query`). Needs no ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueryOpcodes {
    /// Number of `IORING_OP_*` opcodes (one past the last).
    pub nr_request_opcodes: u32,
    /// Number of `IORING_REGISTER_*` opcodes (one past the last).
    pub nr_register_opcodes: u32,
    /// Every `IORING_FEAT_*` the kernel has.
    pub feature_flags: u64,
    /// Every `IORING_SETUP_*` flag it accepts.
    pub ring_setup_flags: u64,
    /// Every `IORING_ENTER_*` flag it accepts.
    pub enter_flags: u64,
    /// Every `IOSQE_*` flag it accepts.
    pub sqe_flags: u64,
    /// Number of query operations.
    pub nr_query_opcodes: u32,
}

/// Runs a chain of `IORING_REGISTER_QUERY` requests (Linux 6.18; liburing
/// 2.15's `io_uring_register_query`): for each header, the kernel writes up to
/// `size` bytes of answers at `query_data`, sets `result`, and follows
/// `next_entry`. [`query_opcodes`] is the typed form of `IO_URING_QUERY_OPCODES`.
///
/// # Safety
///
/// Every header in the chain must be valid, and its `query_data` must point to
/// `size` writable bytes, for the duration of the call.
///
/// # Errors
///
/// `EINVAL` before Linux 6.18; a header's own failure is in its `result`.
#[doc(alias = "io_uring_register_query")]
pub unsafe fn query(hdr: &mut sys::io_uring_query_hdr) -> io::Result<()> {
    // SAFETY: the caller's contract; fd -1 is what liburing passes.
    let ret = unsafe {
        sys::io_uring_register(
            u32::MAX,
            sys::IORING_REGISTER_QUERY,
            (hdr as *mut sys::io_uring_query_hdr).cast(),
            0,
        )
    };
    if ret < 0 {
        return Err(with_context(-ret, "querying io_uring"));
    }
    Ok(())
}

/// Asks the kernel which opcodes and flags it knows (see [`QueryOpcodes`]).
///
/// # Errors
///
/// `EINVAL` before Linux 6.18.
#[doc(alias = "io_uring_register_query")]
pub fn query_opcodes() -> io::Result<QueryOpcodes> {
    let mut data = sys::io_uring_query_opcode::default();
    let mut hdr = sys::io_uring_query_hdr {
        query_data: &mut data as *mut sys::io_uring_query_opcode as u64,
        query_op: sys::IO_URING_QUERY_OPCODES,
        size: core::mem::size_of::<sys::io_uring_query_opcode>() as u32,
        ..Default::default()
    };
    let ret = {
        #[cfg(liburing_2_15)]
        {
            // SAFETY: hdr is valid and points at data, valid for `size` bytes.
            unsafe { sys::io_uring_register_query(&mut hdr) }
        }
        #[cfg(not(liburing_2_15))]
        {
            // SAFETY: as above; fd -1 is what liburing passes.
            unsafe {
                sys::io_uring_register(
                    u32::MAX,
                    sys::IORING_REGISTER_QUERY,
                    (&mut hdr as *mut sys::io_uring_query_hdr).cast(),
                    0,
                )
            }
        }
    };
    if ret < 0 {
        return Err(with_context(-ret, "querying io_uring opcodes"));
    }
    if hdr.result < 0 {
        return Err(with_context(-hdr.result, "querying io_uring opcodes"));
    }
    Ok(QueryOpcodes {
        nr_request_opcodes: data.nr_request_opcodes,
        nr_register_opcodes: data.nr_register_opcodes,
        feature_flags: data.feature_flags,
        ring_setup_flags: data.ring_setup_flags,
        enter_flags: data.enter_flags,
        sqe_flags: data.sqe_flags,
        nr_query_opcodes: data.nr_query_opcodes,
    })
}
