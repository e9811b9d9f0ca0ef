//! Fixed buffers: registering, updating (with tags), sparse tables, cloning
//! between rings; the raw provided-buffer ring registration.

use std::io;

use super::{count, raw_register, same_len};
use crate::error::with_context;
use crate::ring::Ring;
use crate::sys;

impl Ring {
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
}

/// Buffer calls added with liburing 2.1 and later: tagged buffers, buffer
/// cloning, provided-buffer rings.
impl Ring {
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
}
