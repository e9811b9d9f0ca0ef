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

mod buffers;
mod files;
mod misc;
mod napi;
mod restrictions;
mod rings;
mod zcrx;

pub use self::misc::{QueryOpcodes, msg_ring_sync, query, query_opcodes, register_bpf_filter_task};
pub use self::napi::{Clock, Napi, NapiTracking};
pub use self::restrictions::Restriction;
pub use self::zcrx::{ZcrxIfq, ZcrxIfqReg};

use std::io;

use crate::error::with_context;
use crate::ring::Ring;
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

fn same_len(a: usize, b: usize, what: &str) -> io::Result<()> {
    if a != b {
        return Err(with_context(
            libc::EINVAL,
            format!("{a} {what} but {b} tags"),
        ));
    }
    Ok(())
}
