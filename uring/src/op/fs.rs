//! Files and paths: sync, allocate, truncate, advise, open, close, stat, the `*at`
//! family, extended attributes, pipes.

use core::ffi::{c_char, c_void};

use crate::sqe::{RawSqe, Sqe};
use crate::sys;
use crate::types::{DestinationSlot, Fd, FsyncFlags, Target};

/// Sets `file_index` for a direct-descriptor destination when one is given.
#[inline(always)]
pub(super) const fn set_dest(sqe: &mut RawSqe, slot: Option<DestinationSlot>) {
    if let Some(slot) = slot {
        sqe.file_index = slot.encoded();
    }
}

opcode! {
    /// Flush a file's data and metadata to storage: like `fsync(2)`, or `fdatasync(2)`
    /// with [`FsyncFlags::DATASYNC`] (`IORING_OP_FSYNC`, Linux 5.1).
    ///
    /// ```
    /// use uring::op::Fsync;
    /// use uring::types::{Fd, FsyncFlags};
    ///
    /// let sqe = Fsync::new(Fd(3)).flags(FsyncFlags::DATASYNC).build();
    /// assert_eq!(sqe.as_raw().opcode, Fsync::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_fsync")]
    pub struct Fsync(sys::IORING_OP_FSYNC) {
        needs { fd: file }
        /// `DATASYNC` for `fdatasync(2)` semantics (default: none).
        flags: FsyncFlags = FsyncFlags::empty(),
        /// Start of the range to sync (default 0).
        offset: u64 = 0,
        /// Length of the range to sync; 0, the default, means to the end of the file.
        len: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.op_flags = self.flags.bits();
        sqe.off = self.offset;
        sqe.len = self.len;
        sqe.into_sqe()
    }
}

opcode! {
    /// Sync a file range: like `sync_file_range(2)` (`IORING_OP_SYNC_FILE_RANGE`, Linux 5.2).
    #[doc(alias = "io_uring_prep_sync_file_range")]
    pub struct SyncFileRange(sys::IORING_OP_SYNC_FILE_RANGE) {
        needs { fd: file, len: [u32] }
        /// Start of the range (default 0).
        offset: u64 = 0,
        /// `SYNC_FILE_RANGE_*` flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}

opcode! {
    /// Allocate, deallocate or zero file space: like `fallocate(2)`
    /// (`IORING_OP_FALLOCATE`, Linux 5.6).
    #[doc(alias = "io_uring_prep_fallocate")]
    pub struct Fallocate(sys::IORING_OP_FALLOCATE) {
        needs { fd: file, len: [u64] }
        /// Start of the range (default 0).
        offset: u64 = 0,
        /// `FALLOC_FL_*` mode (default 0: allocate).
        mode: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.len;
        sqe.len = self.mode as u32;
        sqe.off = self.offset;
        sqe.into_sqe()
    }
}

opcode! {
    /// Set a file's length: like `ftruncate(2)` (`IORING_OP_FTRUNCATE`, Linux 6.9).
    #[doc(alias = "io_uring_prep_ftruncate")]
    pub struct Ftruncate(sys::IORING_OP_FTRUNCATE) {
        needs { fd: file, len: [u64] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.off = self.len;
        sqe.into_sqe()
    }
}

opcode! {
    /// Declare an access pattern for file data: like `posix_fadvise(2)`
    /// (`IORING_OP_FADVISE`, Linux 5.6).
    #[doc(alias = "io_uring_prep_fadvise")]
    #[doc(alias = "io_uring_prep_fadvise64")]
    pub struct Fadvise(sys::IORING_OP_FADVISE) {
        needs { fd: file, len: [u32], advice: [i32] }
        /// Start of the range (default 0).
        offset: u64 = 0,
        /// A 64-bit length, replacing `len` (`io_uring_prep_fadvise64`; Linux 6.12
        /// reads it, older kernels see length 0, "to the end of the file").
        len64: Option<u64> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.off = self.offset;
        match self.len64 {
            Some(len) => sqe.addr = len,
            None => sqe.len = self.len,
        }
        sqe.op_flags = self.advice as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Open a file relative to a directory: like `openat(2)` (`IORING_OP_OPENAT`, Linux 5.6).
    ///
    /// With [`file_index`](Self::file_index) the file goes into the registered file
    /// table instead of the process's descriptor table (Linux 5.15).
    ///
    /// ```
    /// use uring::op::OpenAt;
    /// use uring::types::{DestinationSlot, Fd};
    ///
    /// let path = c"/etc/hostname";
    /// let sqe = OpenAt::new(Fd::CWD, path.as_ptr())
    ///     .flags(libc::O_RDONLY | libc::O_CLOEXEC)
    ///     .file_index(Some(DestinationSlot::AUTO))
    ///     .build();
    /// assert_eq!(sqe.as_raw().fd, libc::AT_FDCWD);
    /// ```
    #[doc(alias = "io_uring_prep_openat")]
    #[doc(alias = "io_uring_prep_open")]
    #[doc(alias = "io_uring_prep_openat_direct")]
    #[doc(alias = "io_uring_prep_open_direct")]
    pub struct OpenAt(sys::IORING_OP_OPENAT) {
        needs { dirfd: [Fd], path: [*const c_char] }
        /// `O_*` flags (default 0, `O_RDONLY`).
        flags: i32 = 0,
        /// Permissions for a created file (default 0).
        mode: libc::mode_t = 0,
        /// Open into this registered-file slot rather than as a plain descriptor.
        file_index: Option<DestinationSlot> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.dirfd.0;
        sqe.addr = self.path as u64;
        sqe.len = self.mode;
        sqe.op_flags = self.flags as u32;
        set_dest(&mut sqe, self.file_index);
        sqe.into_sqe()
    }
}

opcode! {
    /// Open a file with a `struct open_how`: like `openat2(2)` (`IORING_OP_OPENAT2`, Linux 5.6).
    #[doc(alias = "io_uring_prep_openat2")]
    #[doc(alias = "io_uring_prep_openat2_direct")]
    pub struct OpenAt2(sys::IORING_OP_OPENAT2) {
        needs { dirfd: [Fd], path: [*const c_char], how: [*const sys::open_how] }
        /// Open into this registered-file slot rather than as a plain descriptor.
        file_index: Option<DestinationSlot> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.dirfd.0;
        sqe.addr = self.path as u64;
        sqe.len = core::mem::size_of::<sys::open_how>() as u32;
        sqe.off = self.how as u64;
        set_dest(&mut sqe, self.file_index);
        sqe.into_sqe()
    }
}

opcode! {
    /// Close a descriptor like `close(2)`, or free a registered-file slot when given a
    /// [`Fixed`](crate::types::Fixed) (`IORING_OP_CLOSE`, Linux 5.6; slots 5.15).
    ///
    /// ```
    /// use uring::op::Close;
    /// use uring::types::{Fd, Fixed};
    ///
    /// assert_eq!(Close::new(Fd(5)).build().as_raw().fd, 5);
    /// // A fixed slot is named by file_index (slot + 1), not fd.
    /// assert_eq!(Close::new(Fixed(2)).build().as_raw().fd, 0);
    /// ```
    #[doc(alias = "io_uring_prep_close")]
    #[doc(alias = "io_uring_prep_close_direct")]
    pub struct Close(sys::IORING_OP_CLOSE) {
        needs { fd: file }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        match self.fd {
            Target::Fd(fd) => sqe.fd = fd,
            Target::Fixed(index) => sqe.file_index = index.wrapping_add(1),
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Get file status into a `struct statx`: like `statx(2)` (`IORING_OP_STATX`, Linux 5.6).
    ///
    /// `path` must stay valid until the completion (the kernel may read it late).
    #[doc(alias = "io_uring_prep_statx")]
    pub struct Statx(sys::IORING_OP_STATX) {
        needs { dirfd: [Fd], path: [*const c_char], statxbuf: [*mut libc::statx] }
        /// `AT_*` flags, such as `AT_EMPTY_PATH` or `AT_SYMLINK_NOFOLLOW` (default 0).
        flags: i32 = 0,
        /// `STATX_*` fields wanted (default 0: only the always-present ones).
        mask: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.dirfd.0;
        sqe.addr = self.path as u64;
        sqe.len = self.mask;
        sqe.off = self.statxbuf as u64;
        sqe.op_flags = self.flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Rename a file: like `renameat2(2)` (`IORING_OP_RENAMEAT`, Linux 5.11).
    #[doc(alias = "io_uring_prep_renameat")]
    #[doc(alias = "io_uring_prep_rename")]
    pub struct RenameAt(sys::IORING_OP_RENAMEAT) {
        needs { olddirfd: [Fd], oldpath: [*const c_char], newdirfd: [Fd], newpath: [*const c_char] }
        /// `RENAME_*` flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.olddirfd.0;
        sqe.addr = self.oldpath as u64;
        sqe.len = self.newdirfd.0 as u32;
        sqe.off = self.newpath as u64;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}

opcode! {
    /// Remove a file or, with `AT_REMOVEDIR`, a directory: like `unlinkat(2)`
    /// (`IORING_OP_UNLINKAT`, Linux 5.11).
    #[doc(alias = "io_uring_prep_unlinkat")]
    #[doc(alias = "io_uring_prep_unlink")]
    pub struct UnlinkAt(sys::IORING_OP_UNLINKAT) {
        needs { dirfd: [Fd], path: [*const c_char] }
        /// `AT_REMOVEDIR` or 0 (default).
        flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.dirfd.0;
        sqe.addr = self.path as u64;
        sqe.op_flags = self.flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Create a directory: like `mkdirat(2)` (`IORING_OP_MKDIRAT`, Linux 5.15).
    #[doc(alias = "io_uring_prep_mkdirat")]
    #[doc(alias = "io_uring_prep_mkdir")]
    pub struct MkDirAt(sys::IORING_OP_MKDIRAT) {
        needs { dirfd: [Fd], path: [*const c_char] }
        /// Permissions (default 0; the umask applies).
        mode: libc::mode_t = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.dirfd.0;
        sqe.addr = self.path as u64;
        sqe.len = self.mode;
        sqe.into_sqe()
    }
}

opcode! {
    /// Create a symbolic link `linkpath` pointing at `target`: like `symlinkat(2)`
    /// (`IORING_OP_SYMLINKAT`, Linux 5.15).
    #[doc(alias = "io_uring_prep_symlinkat")]
    #[doc(alias = "io_uring_prep_symlink")]
    pub struct SymlinkAt(sys::IORING_OP_SYMLINKAT) {
        needs { newdirfd: [Fd], target: [*const c_char], linkpath: [*const c_char] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.newdirfd.0;
        sqe.addr = self.target as u64;
        sqe.off = self.linkpath as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Create a hard link: like `linkat(2)` (`IORING_OP_LINKAT`, Linux 5.15).
    #[doc(alias = "io_uring_prep_linkat")]
    #[doc(alias = "io_uring_prep_link")]
    pub struct LinkAt(sys::IORING_OP_LINKAT) {
        needs { olddirfd: [Fd], oldpath: [*const c_char], newdirfd: [Fd], newpath: [*const c_char] }
        /// `AT_SYMLINK_FOLLOW` / `AT_EMPTY_PATH` or 0 (default).
        flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.olddirfd.0;
        sqe.addr = self.oldpath as u64;
        sqe.len = self.newdirfd.0 as u32;
        sqe.off = self.newpath as u64;
        sqe.op_flags = self.flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Set an extended attribute of an open file: like `fsetxattr(2)`
    /// (`IORING_OP_FSETXATTR`, Linux 5.19).
    #[doc(alias = "io_uring_prep_fsetxattr")]
    pub struct FSetXattr(sys::IORING_OP_FSETXATTR) {
        needs { fd: file, name: [*const c_char], value: [*const c_void], len: [u32] }
        /// `XATTR_CREATE` / `XATTR_REPLACE` or 0 (default).
        flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.name as u64;
        sqe.off = self.value as u64;
        sqe.len = self.len;
        sqe.op_flags = self.flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Set an extended attribute by path: like `setxattr(2)`
    /// (`IORING_OP_SETXATTR`, Linux 5.19).
    #[doc(alias = "io_uring_prep_setxattr")]
    pub struct SetXattr(sys::IORING_OP_SETXATTR) {
        needs { path: [*const c_char], name: [*const c_char], value: [*const c_void], len: [u32] }
        /// `XATTR_CREATE` / `XATTR_REPLACE` or 0 (default).
        flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.addr = self.name as u64;
        sqe.off = self.value as u64;
        sqe.addr3 = self.path as u64;
        sqe.len = self.len;
        sqe.op_flags = self.flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Read an extended attribute of an open file: like `fgetxattr(2)`
    /// (`IORING_OP_FGETXATTR`, Linux 5.19). The result is the value's length.
    #[doc(alias = "io_uring_prep_fgetxattr")]
    pub struct FGetXattr(sys::IORING_OP_FGETXATTR) {
        needs { fd: file, name: [*const c_char], value: [*mut c_void], len: [u32] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.name as u64;
        sqe.off = self.value as u64;
        sqe.len = self.len;
        sqe.into_sqe()
    }
}

opcode! {
    /// Read an extended attribute by path: like `getxattr(2)`
    /// (`IORING_OP_GETXATTR`, Linux 5.19). The result is the value's length.
    #[doc(alias = "io_uring_prep_getxattr")]
    pub struct GetXattr(sys::IORING_OP_GETXATTR) {
        needs { path: [*const c_char], name: [*const c_char], value: [*mut c_void], len: [u32] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.addr = self.name as u64;
        sqe.off = self.value as u64;
        sqe.addr3 = self.path as u64;
        sqe.len = self.len;
        sqe.into_sqe()
    }
}

opcode! {
    /// Create a pipe, writing its two descriptors to `fds[0..2]`: like `pipe2(2)`
    /// (`IORING_OP_PIPE`, Linux 6.16). With [`file_index`](Self::file_index) both ends
    /// go into the registered file table (consecutive slots).
    #[doc(alias = "io_uring_prep_pipe")]
    #[doc(alias = "io_uring_prep_pipe_direct")]
    pub struct Pipe(sys::IORING_OP_PIPE) {
        needs { fds: [*mut [i32; 2]] }
        /// `O_CLOEXEC`, `O_NONBLOCK`, `O_DIRECT` (default 0).
        flags: i32 = 0,
        /// Create into registered-file slots rather than plain descriptors.
        file_index: Option<DestinationSlot> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.addr = self.fds as u64;
        sqe.op_flags = self.flags as u32;
        set_dest(&mut sqe, self.file_index);
        sqe.into_sqe()
    }
}
