//! Reading and writing: plain, vectored, with registered buffers, multishot; splice, tee.

use crate::sqe::{RawSqe, Sqe, SqeFlags};
use crate::sys;

/// Sets the provided-buffer group and `IOSQE_BUFFER_SELECT` when one is given.
#[inline(always)]
pub(super) const fn set_buf_group(sqe: &mut RawSqe, group: Option<u16>) {
    if let Some(group) = group {
        sqe.buf_index = group;
        sqe.flags |= SqeFlags::BUFFER_SELECT.bits();
    }
}

opcode! {
    /// Read into one buffer at an offset: like `pread(2)` (`IORING_OP_READ`, Linux 5.6).
    ///
    /// An offset of `u64::MAX` (-1) reads at, and advances, the file position, like
    /// `read(2)`. With [`buf_group`](Self::buf_group) the kernel picks a provided
    /// buffer instead (pass a null `buf`); the completion's flags name it.
    ///
    /// ```
    /// use uring::op::Read;
    /// use uring::types::Fd;
    ///
    /// let mut buf = vec![0u8; 4096];
    /// let sqe = Read::new(Fd(3), buf.as_mut_ptr(), 4096).offset(8192).build();
    /// assert_eq!(sqe.as_raw().len, 4096);
    /// ```
    #[doc(alias = "io_uring_prep_read")]
    pub struct Read(sys::IORING_OP_READ) {
        needs { fd: file, buf: [*mut u8], len: [u32] }
        /// File offset to read from (default 0); `u64::MAX` for the current position.
        offset: u64 = 0,
        /// I/O priority, as for `ioprio_set(2)` (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags, as for `preadv2(2)` (default 0).
        rw_flags: i32 = 0,
        /// Read into a buffer from this provided-buffer group (sets `IOSQE_BUFFER_SELECT`).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Write one buffer at an offset: like `pwrite(2)` (`IORING_OP_WRITE`, Linux 5.6).
    ///
    /// An offset of `u64::MAX` (-1) writes at, and advances, the file position.
    ///
    /// ```
    /// use uring::op::Write;
    /// use uring::types::Fd;
    ///
    /// let data = b"hello";
    /// let sqe = Write::new(Fd(1), data.as_ptr(), 5).offset(u64::MAX).build();
    /// assert_eq!(sqe.as_raw().opcode, Write::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_write")]
    pub struct Write(sys::IORING_OP_WRITE) {
        needs { fd: file, buf: [*const u8], len: [u32] }
        /// File offset to write at (default 0); `u64::MAX` for the current position.
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags, as for `pwritev2(2)` (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Read into several buffers: like `preadv2(2)` (`IORING_OP_READV`, Linux 5.1).
    ///
    /// ```
    /// use uring::op::Readv;
    /// use uring::types::Fd;
    ///
    /// let mut a = [0u8; 8];
    /// let iov = [libc::iovec { iov_base: a.as_mut_ptr().cast(), iov_len: 8 }];
    /// let sqe = Readv::new(Fd(3), iov.as_ptr(), 1).rw_flags(libc::RWF_NOWAIT).build();
    /// assert_eq!(sqe.as_raw().len, 1);
    /// ```
    #[doc(alias = "io_uring_prep_readv")]
    #[doc(alias = "io_uring_prep_readv2")]
    pub struct Readv(sys::IORING_OP_READV) {
        needs { fd: file, iovec: [*const libc::iovec], len: [u32] }
        /// File offset (default 0); `u64::MAX` for the current position.
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
        /// Read into a buffer from this provided-buffer group (sets `IOSQE_BUFFER_SELECT`;
        /// then `iovec` must name exactly one entry).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.iovec as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Write from several buffers: like `pwritev2(2)` (`IORING_OP_WRITEV`, Linux 5.1).
    #[doc(alias = "io_uring_prep_writev")]
    #[doc(alias = "io_uring_prep_writev2")]
    pub struct Writev(sys::IORING_OP_WRITEV) {
        needs { fd: file, iovec: [*const libc::iovec], len: [u32] }
        /// File offset (default 0); `u64::MAX` for the current position.
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.iovec as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Read into (part of) a registered buffer: `pread(2)` without per-call page
    /// pinning (`IORING_OP_READ_FIXED`, Linux 5.1).
    ///
    /// `buf..buf+len` must lie inside registered buffer `buf_index`.
    #[doc(alias = "io_uring_prep_read_fixed")]
    pub struct ReadFixed(sys::IORING_OP_READ_FIXED) {
        needs { fd: file, buf: [*mut u8], len: [u32], buf_index: [u16] }
        /// File offset (default 0).
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.buf_index = self.buf_index;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Write from (part of) a registered buffer (`IORING_OP_WRITE_FIXED`, Linux 5.1).
    #[doc(alias = "io_uring_prep_write_fixed")]
    pub struct WriteFixed(sys::IORING_OP_WRITE_FIXED) {
        needs { fd: file, buf: [*const u8], len: [u32], buf_index: [u16] }
        /// File offset (default 0).
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.buf_index = self.buf_index;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Vectored read whose iovecs all lie in registered buffer `buf_index`
    /// (`IORING_OP_READV_FIXED`, Linux 6.15).
    #[doc(alias = "io_uring_prep_readv_fixed")]
    pub struct ReadvFixed(sys::IORING_OP_READV_FIXED) {
        needs { fd: file, iovec: [*const libc::iovec], len: [u32], buf_index: [u16] }
        /// File offset (default 0).
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.iovec as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.buf_index = self.buf_index;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Vectored write whose iovecs all lie in registered buffer `buf_index`
    /// (`IORING_OP_WRITEV_FIXED`, Linux 6.15).
    #[doc(alias = "io_uring_prep_writev_fixed")]
    pub struct WritevFixed(sys::IORING_OP_WRITEV_FIXED) {
        needs { fd: file, iovec: [*const libc::iovec], len: [u32], buf_index: [u16] }
        /// File offset (default 0).
        offset: u64 = 0,
        /// I/O priority (default 0).
        ioprio: u16 = 0,
        /// `RWF_*` flags (default 0).
        rw_flags: i32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.iovec as u64;
        sqe.len = self.len;
        sqe.off = self.offset;
        sqe.buf_index = self.buf_index;
        sqe.ioprio = self.ioprio;
        sqe.op_flags = self.rw_flags as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Read repeatedly into provided buffers of group `buf_group`, one completion
    /// (flagged `MORE`) per read, until an error or end of file
    /// (`IORING_OP_READ_MULTISHOT`, Linux 6.7). For pipes, sockets and other pollable
    /// files. `len` 0 means "the buffer's size".
    #[doc(alias = "io_uring_prep_read_multishot")]
    pub struct ReadMultishot(sys::IORING_OP_READ_MULTISHOT) {
        needs { fd: file, len: [u32], buf_group: [u16] }
        /// File offset (default 0); must be 0 or `u64::MAX` for non-seekable files.
        offset: u64 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.len = self.len;
        sqe.off = self.offset;
        set_buf_group(&mut sqe, Some(self.buf_group));
        sqe.into_sqe()
    }
}

opcode! {
    /// Move data between two files, one of them a pipe, without copying through user
    /// space: like `splice(2)` (`IORING_OP_SPLICE`, Linux 5.7).
    ///
    /// An offset of -1 means "the file position" (and must be -1 for a pipe). A
    /// [`Fixed`](crate::types::Fixed) `fd_in` sets `SPLICE_F_FD_IN_FIXED`.
    #[doc(alias = "io_uring_prep_splice")]
    pub struct Splice(sys::IORING_OP_SPLICE) {
        needs { fd_in: file, off_in: [i64], fd_out: file, off_out: [i64], len: [u32] }
        /// `SPLICE_F_*` flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd_out);
        sqe.len = self.len;
        sqe.off = self.off_out as u64;
        sqe.addr = self.off_in as u64;
        let (fd_in, fixed_in) = self.fd_in.parts();
        sqe.file_index = fd_in as u32;
        sqe.op_flags = self.flags;
        if fixed_in {
            sqe.op_flags |= sys::SPLICE_F_FD_IN_FIXED;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Duplicate data from one pipe into another without consuming it: like `tee(2)`
    /// (`IORING_OP_TEE`, Linux 5.8).
    #[doc(alias = "io_uring_prep_tee")]
    pub struct Tee(sys::IORING_OP_TEE) {
        needs { fd_in: file, fd_out: file, len: [u32] }
        /// `SPLICE_F_*` flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd_out);
        sqe.len = self.len;
        let (fd_in, fixed_in) = self.fd_in.parts();
        sqe.file_index = fd_in as u32;
        sqe.op_flags = self.flags;
        if fixed_in {
            sqe.op_flags |= sys::SPLICE_F_FD_IN_FIXED;
        }
        sqe.into_sqe()
    }
}
