//! Fixed-file tables: registering, updating (with tags), sparse tables and the
//! auto-allocation range.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::{count, same_len};
use crate::ring::Ring;
use crate::sys;

impl Ring {
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
}

/// Fixed-file calls added with liburing 2.1 and later: tagged tables.
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
}
