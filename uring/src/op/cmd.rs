//! Driver commands (`IORING_OP_URING_CMD`): raw ones, and the socket and block-device
//! commands liburing has helpers for.

use core::ffi::c_void;

use crate::sqe::{RawSqe, Sqe, Sqe128};
use crate::sys;

/// `BLOCK_URING_CMD_DISCARD`: `_IO(0x12, 0)` from `linux/fs.h` (Linux 6.12).
pub const BLOCK_URING_CMD_DISCARD: u32 = 0x12 << 8;

/// The common start of every command entry (`__io_uring_prep_uring_cmd`).
#[inline(always)]
const fn uring_cmd(opcode: u8, cmd_op: u32) -> RawSqe {
    let mut sqe = RawSqe::new(opcode);
    sqe.set_cmd_op(cmd_op);
    sqe
}

opcode! {
    /// Pass command `cmd_op` to the file's driver, with 16 bytes of inline command
    /// data (`IORING_OP_URING_CMD`, Linux 5.19): NVMe passthrough, socket and block
    /// commands, ublk… What the command means, and what memory it touches, is the
    /// driver's business.
    ///
    /// ```
    /// use uring::op::UringCmd;
    /// use uring::types::Fd;
    ///
    /// let sqe = UringCmd::new(Fd(3), 0x42).cmd([1; 16]).build();
    /// assert_eq!(sqe.as_raw().opcode, UringCmd::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_uring_cmd")]
    #[doc(alias = "__io_uring_prep_uring_cmd")]
    pub struct UringCmd(sys::IORING_OP_URING_CMD) {
        needs { fd: file, cmd_op: [u32] }
        /// The command data: the last 16 bytes of the entry (default zero).
        cmd: [u8; 16] = [0; 16],
        /// Use this registered buffer (`IORING_URING_CMD_FIXED`).
        buf_index: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = uring_cmd(Self::CODE, self.cmd_op);
        sqe.set_target(self.fd);
        sqe.set_cmd16(&self.cmd);
        if let Some(index) = self.buf_index {
            sqe.op_flags |= sys::IORING_URING_CMD_FIXED;
            sqe.buf_index = index;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// [`UringCmd`] with 80 bytes of command data, in a 128-byte entry
    /// (`IORING_OP_URING_CMD128`, for `IORING_SETUP_SQE_MIXED` rings, Linux 6.18+).
    #[doc(alias = "io_uring_prep_uring_cmd128")]
    pub struct UringCmd128(sys::IORING_OP_URING_CMD128) {
        needs { fd: file, cmd_op: [u32] }
        /// The command data: the entry's last 16 bytes and the 64 after it (default zero).
        cmd: [u8; 80] = [0; 80],
        /// Use this registered buffer (`IORING_URING_CMD_FIXED`).
        buf_index: Option<u16> = None,
    }

    fn build(self) -> Sqe128 {
        let mut sqe = uring_cmd(Self::CODE, self.cmd_op);
        sqe.set_target(self.fd);
        let mut head = [0u8; 16];
        head.copy_from_slice(&self.cmd[..16]);
        sqe.set_cmd16(&head);
        if let Some(index) = self.buf_index {
            sqe.op_flags |= sys::IORING_URING_CMD_FIXED;
            sqe.buf_index = index;
        }
        let mut tail = [0u8; 64];
        tail.copy_from_slice(&self.cmd[16..]);
        sqe.into_sqe128(tail)
    }
}

/// A socket command entry (`io_uring_prep_cmd_sock`).
#[inline(always)]
fn cmd_sock(
    fd: crate::types::Target,
    op: u32,
    level: i32,
    optname: i32,
    optval: u64,
    optlen: u32,
) -> Sqe {
    let mut sqe = uring_cmd(sys::IORING_OP_URING_CMD as u8, op);
    sqe.set_target(fd);
    sqe.addr3 = optval;
    sqe.set_level_optname(level as u32, optname as u32);
    sqe.file_index = optlen;
    sqe.into_sqe()
}

opcode! {
    /// Bytes waiting to be read on a socket: like `ioctl(fd, SIOCINQ)`
    /// (`IORING_OP_URING_CMD` with `SOCKET_URING_OP_SIOCINQ`, Linux 6.7). The result is
    /// the count.
    #[doc(alias = "io_uring_prep_cmd_sock")]
    pub struct SiocInq(sys::IORING_OP_URING_CMD) {
        needs { fd: file }
    }

    fn build(self) -> Sqe {
        cmd_sock(self.fd, sys::SOCKET_URING_OP_SIOCINQ, 0, 0, 0, 0)
    }
}

opcode! {
    /// Bytes not yet sent on a socket: like `ioctl(fd, SIOCOUTQ)`
    /// (`IORING_OP_URING_CMD` with `SOCKET_URING_OP_SIOCOUTQ`, Linux 6.7).
    #[doc(alias = "io_uring_prep_cmd_sock")]
    pub struct SiocOutq(sys::IORING_OP_URING_CMD) {
        needs { fd: file }
    }

    fn build(self) -> Sqe {
        cmd_sock(self.fd, sys::SOCKET_URING_OP_SIOCOUTQ, 0, 0, 0, 0)
    }
}

opcode! {
    /// Read a socket option: like `getsockopt(2)` (`IORING_OP_URING_CMD` with
    /// `SOCKET_URING_OP_GETSOCKOPT`, Linux 6.7). The result is the option's length.
    ///
    /// ```
    /// use uring::op::GetSockOpt;
    /// use uring::types::Fd;
    ///
    /// let mut val = 0i32;
    /// let sqe = GetSockOpt::new(Fd(3), libc::SOL_SOCKET, libc::SO_TYPE,
    ///                           (&raw mut val).cast(), 4).build();
    /// assert_eq!(sqe.as_raw().opcode, GetSockOpt::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_cmd_sock")]
    pub struct GetSockOpt(sys::IORING_OP_URING_CMD) {
        needs { fd: file, level: [i32], optname: [i32], optval: [*mut c_void], optlen: [u32] }
    }

    fn build(self) -> Sqe {
        cmd_sock(
            self.fd,
            sys::SOCKET_URING_OP_GETSOCKOPT,
            self.level,
            self.optname,
            self.optval as u64,
            self.optlen,
        )
    }
}

opcode! {
    /// Set a socket option: like `setsockopt(2)` (`IORING_OP_URING_CMD` with
    /// `SOCKET_URING_OP_SETSOCKOPT`, Linux 6.7).
    #[doc(alias = "io_uring_prep_cmd_sock")]
    pub struct SetSockOpt(sys::IORING_OP_URING_CMD) {
        needs { fd: file, level: [i32], optname: [i32], optval: [*const c_void], optlen: [u32] }
    }

    fn build(self) -> Sqe {
        cmd_sock(
            self.fd,
            sys::SOCKET_URING_OP_SETSOCKOPT,
            self.level,
            self.optname,
            self.optval as u64,
            self.optlen,
        )
    }
}

opcode! {
    /// A socket's own or, with [`peer`](Self::peer), its peer's address: like
    /// `getsockname(2)` / `getpeername(2)` (`IORING_OP_URING_CMD` with
    /// `SOCKET_URING_OP_GETSOCKNAME`, after Linux 6.18; older kernels say `EOPNOTSUPP`).
    #[doc(alias = "io_uring_prep_cmd_getsockname")]
    pub struct GetSockName(sys::IORING_OP_URING_CMD) {
        needs { fd: file, addr: [*mut libc::sockaddr], addrlen: [*mut libc::socklen_t] }
        /// The peer's address rather than the socket's own (default false).
        peer: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = uring_cmd(Self::CODE, sys::SOCKET_URING_OP_GETSOCKNAME);
        sqe.set_target(self.fd);
        sqe.addr = self.addr as u64;
        sqe.addr3 = self.addrlen as u64;
        sqe.file_index = self.peer as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Discard a byte range of a block device: like `ioctl(fd, BLKDISCARD)`
    /// (`IORING_OP_URING_CMD` with [`BLOCK_URING_CMD_DISCARD`], Linux 6.12).
    #[doc(alias = "io_uring_prep_cmd_discard")]
    pub struct BlockDiscard(sys::IORING_OP_URING_CMD) {
        needs { fd: file, offset: [u64], len: [u64] }
    }

    fn build(self) -> Sqe {
        let mut sqe = uring_cmd(Self::CODE, BLOCK_URING_CMD_DISCARD);
        sqe.set_target(self.fd);
        sqe.addr = self.offset;
        sqe.addr3 = self.len;
        sqe.into_sqe()
    }
}
