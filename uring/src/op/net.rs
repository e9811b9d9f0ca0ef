//! Sockets: create, bind, listen, accept, connect, send and receive (plain, message,
//! zero-copy, multishot, bundles), shutdown.

use super::fs::set_dest;
use super::rw::set_buf_group;
use crate::sqe::{RawSqe, Sqe};
use crate::sys;
use crate::types::{DestinationSlot, RecvSendFlags};

opcode! {
    /// Send a message: like `sendmsg(2)` (`IORING_OP_SENDMSG`, Linux 5.3).
    #[doc(alias = "io_uring_prep_sendmsg")]
    pub struct SendMsg(sys::IORING_OP_SENDMSG) {
        needs { fd: file, msg: [*const libc::msghdr] }
        /// `MSG_*` flags (default 0).
        flags: u32 = 0,
        /// io_uring send modifiers (default none).
        ioprio: RecvSendFlags = RecvSendFlags::empty(),
        /// Send from provided buffers of this group (sets `IOSQE_BUFFER_SELECT`).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.msg as u64;
        sqe.len = 1;
        sqe.op_flags = self.flags;
        sqe.ioprio = self.ioprio.bits();
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Receive a message: like `recvmsg(2)` (`IORING_OP_RECVMSG`, Linux 5.3).
    ///
    /// [`multishot`](Self::multishot) (Linux 6.0) keeps receiving into provided
    /// buffers, each holding an `io_uring_recvmsg_out` header, the name, the control
    /// data and the payload.
    #[doc(alias = "io_uring_prep_recvmsg")]
    #[doc(alias = "io_uring_prep_recvmsg_multishot")]
    pub struct RecvMsg(sys::IORING_OP_RECVMSG) {
        needs { fd: file, msg: [*mut libc::msghdr] }
        /// `MSG_*` flags (default 0).
        flags: u32 = 0,
        /// io_uring receive modifiers (default none).
        ioprio: RecvSendFlags = RecvSendFlags::empty(),
        /// Keep receiving, one completion per message (`IORING_RECV_MULTISHOT`).
        multishot: bool = false,
        /// Receive into provided buffers of this group (sets `IOSQE_BUFFER_SELECT`).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.msg as u64;
        sqe.len = 1;
        sqe.op_flags = self.flags;
        sqe.ioprio = self.ioprio.bits();
        if self.multishot {
            sqe.ioprio |= RecvSendFlags::RECV_MULTISHOT.bits();
        }
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Accept a connection: like `accept4(2)` (`IORING_OP_ACCEPT`, Linux 5.5).
    ///
    /// `addr`/`addrlen` may be null. [`multishot`](Self::multishot) (Linux 5.19)
    /// accepts every incoming connection, one completion each;
    /// [`file_index`](Self::file_index) (5.19) accepts into the registered file table.
    ///
    /// ```
    /// use uring::op::Accept;
    /// use uring::types::{DestinationSlot, Fd};
    ///
    /// let sqe = Accept::new(Fd(3), std::ptr::null_mut(), std::ptr::null_mut())
    ///     .flags(libc::SOCK_CLOEXEC)
    ///     .multishot(true)
    ///     .file_index(Some(DestinationSlot::AUTO))
    ///     .build();
    /// assert_eq!(sqe.as_raw().opcode, Accept::CODE);
    /// ```
    #[doc(alias = "io_uring_prep_accept")]
    #[doc(alias = "io_uring_prep_accept_direct")]
    #[doc(alias = "io_uring_prep_multishot_accept")]
    #[doc(alias = "io_uring_prep_multishot_accept_direct")]
    pub struct Accept(sys::IORING_OP_ACCEPT) {
        needs { fd: file, addr: [*mut libc::sockaddr], addrlen: [*mut libc::socklen_t] }
        /// `SOCK_NONBLOCK` / `SOCK_CLOEXEC` (default 0).
        flags: i32 = 0,
        /// Accept into this registered-file slot rather than as a plain descriptor.
        file_index: Option<DestinationSlot> = None,
        /// Keep accepting, one completion per connection (`IORING_ACCEPT_MULTISHOT`).
        multishot: bool = false,
        /// Other `IORING_ACCEPT_*` modifiers: `DONTWAIT` (2), `POLL_FIRST` (4) (default 0).
        ioprio: u16 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.addr as u64;
        sqe.off = self.addrlen as u64;
        sqe.op_flags = self.flags as u32;
        sqe.ioprio = self.ioprio;
        if self.multishot {
            sqe.ioprio |= sys::IORING_ACCEPT_MULTISHOT as u16;
        }
        set_dest(&mut sqe, self.file_index);
        sqe.into_sqe()
    }
}

opcode! {
    /// Connect a socket: like `connect(2)` (`IORING_OP_CONNECT`, Linux 5.5).
    #[doc(alias = "io_uring_prep_connect")]
    pub struct Connect(sys::IORING_OP_CONNECT) {
        needs { fd: file, addr: [*const libc::sockaddr], addrlen: [libc::socklen_t] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.addr as u64;
        sqe.off = self.addrlen as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Bind a socket to an address: like `bind(2)` (`IORING_OP_BIND`, Linux 6.11).
    #[doc(alias = "io_uring_prep_bind")]
    pub struct Bind(sys::IORING_OP_BIND) {
        needs { fd: file, addr: [*const libc::sockaddr], addrlen: [libc::socklen_t] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.addr as u64;
        sqe.off = self.addrlen as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Mark a socket as accepting connections: like `listen(2)`
    /// (`IORING_OP_LISTEN`, Linux 6.11).
    #[doc(alias = "io_uring_prep_listen")]
    pub struct Listen(sys::IORING_OP_LISTEN) {
        needs { fd: file, backlog: [i32] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.len = self.backlog as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Send from a buffer: like `send(2)`, or `sendto(2)` with
    /// [`dest_addr`](Self::dest_addr) (`IORING_OP_SEND`, Linux 5.6; `sendto` 6.6).
    ///
    /// [`bundle`](Self::bundle) (Linux 6.10) sends several provided buffers of
    /// [`buf_group`](Self::buf_group) at once (pass a null `buf`).
    ///
    /// ```
    /// use uring::op::Send;
    /// use uring::types::Fd;
    ///
    /// let msg = b"ping";
    /// let sqe = Send::new(Fd(4), msg.as_ptr(), 4).flags(libc::MSG_NOSIGNAL).build();
    /// assert_eq!(sqe.as_raw().len, 4);
    /// ```
    #[doc(alias = "io_uring_prep_send")]
    #[doc(alias = "io_uring_prep_sendto")]
    #[doc(alias = "io_uring_prep_send_set_addr")]
    #[doc(alias = "io_uring_prep_send_bundle")]
    pub struct Send(sys::IORING_OP_SEND) {
        needs { fd: file, buf: [*const u8], len: [u32] }
        /// `MSG_*` flags (default 0).
        flags: i32 = 0,
        /// Destination address and its length, as for `sendto(2)` (default: none).
        dest_addr: (*const libc::sockaddr, u16) = (core::ptr::null(), 0),
        /// io_uring send modifiers (default none).
        ioprio: RecvSendFlags = RecvSendFlags::empty(),
        /// Send a bundle of provided buffers (`IORING_RECVSEND_BUNDLE`).
        bundle: bool = false,
        /// Send from provided buffers of this group (sets `IOSQE_BUFFER_SELECT`).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.op_flags = self.flags as u32;
        sqe.ioprio = self.ioprio.bits();
        if self.bundle {
            sqe.ioprio |= RecvSendFlags::BUNDLE.bits();
        }
        sqe.off = self.dest_addr.0 as u64;
        sqe.set_addr_len(self.dest_addr.1);
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Receive into a buffer: like `recv(2)` (`IORING_OP_RECV`, Linux 5.6).
    ///
    /// [`multishot`](Self::multishot) (Linux 6.0) keeps receiving into provided
    /// buffers of [`buf_group`](Self::buf_group); [`bundle`](Self::bundle) (6.10) fills
    /// several at once.
    ///
    /// A `len` above `INT_MAX` is refused with `EINVAL` (reads and writes clamp
    /// it; socket operations do not): pass at most [`MAX_IO_LEN`](super::MAX_IO_LEN).
    #[doc(alias = "io_uring_prep_recv")]
    #[doc(alias = "io_uring_prep_recv_multishot")]
    pub struct Recv(sys::IORING_OP_RECV) {
        needs { fd: file, buf: [*mut u8], len: [u32] }
        /// `MSG_*` flags (default 0).
        flags: i32 = 0,
        /// io_uring receive modifiers (default none).
        ioprio: RecvSendFlags = RecvSendFlags::empty(),
        /// Keep receiving, one completion per chunk (`IORING_RECV_MULTISHOT`).
        multishot: bool = false,
        /// Receive a bundle of provided buffers (`IORING_RECVSEND_BUNDLE`).
        bundle: bool = false,
        /// Receive into provided buffers of this group (sets `IOSQE_BUFFER_SELECT`).
        buf_group: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.op_flags = self.flags as u32;
        sqe.ioprio = self.ioprio.bits();
        if self.multishot {
            sqe.ioprio |= RecvSendFlags::RECV_MULTISHOT.bits();
        }
        if self.bundle {
            sqe.ioprio |= RecvSendFlags::BUNDLE.bits();
        }
        set_buf_group(&mut sqe, self.buf_group);
        sqe.into_sqe()
    }
}

opcode! {
    /// Create a socket: like `socket(2)` (`IORING_OP_SOCKET`, Linux 5.19).
    ///
    /// ```
    /// use uring::op::Socket;
    ///
    /// let sqe = Socket::new(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0).build();
    /// assert_eq!(sqe.as_raw().fd, libc::AF_INET);
    /// ```
    #[doc(alias = "io_uring_prep_socket")]
    #[doc(alias = "io_uring_prep_socket_direct")]
    #[doc(alias = "io_uring_prep_socket_direct_alloc")]
    pub struct Socket(sys::IORING_OP_SOCKET) {
        needs { domain: [i32], socket_type: [i32], protocol: [i32] }
        /// Create into this registered-file slot rather than as a plain descriptor.
        file_index: Option<DestinationSlot> = None,
        /// Reserved flags; must be 0 on current kernels (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.domain;
        sqe.off = self.socket_type as u64;
        sqe.len = self.protocol as u32;
        sqe.op_flags = self.flags;
        set_dest(&mut sqe, self.file_index);
        sqe.into_sqe()
    }
}

opcode! {
    /// Shut down part of a full-duplex connection: like `shutdown(2)`
    /// (`IORING_OP_SHUTDOWN`, Linux 5.11).
    #[doc(alias = "io_uring_prep_shutdown")]
    pub struct Shutdown(sys::IORING_OP_SHUTDOWN) {
        needs { fd: file, how: [i32] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.len = self.how as u32;
        sqe.into_sqe()
    }
}

opcode! {
    /// Zero-copy send (`IORING_OP_SEND_ZC`, Linux 6.0).
    ///
    /// Usually two completions: the result (flagged `MORE`), then a notification
    /// (flagged `NOTIF`) once the kernel no longer needs the buffer.
    /// [`buf_index`](Self::buf_index) sends from a registered buffer.
    ///
    /// A `len` above `INT_MAX` is refused with `EINVAL` (reads and writes clamp
    /// it; socket operations do not): pass at most [`MAX_IO_LEN`](super::MAX_IO_LEN).
    #[doc(alias = "io_uring_prep_send_zc")]
    #[doc(alias = "io_uring_prep_send_zc_fixed")]
    pub struct SendZc(sys::IORING_OP_SEND_ZC) {
        needs { fd: file, buf: [*const u8], len: [u32] }
        /// `MSG_*` flags (default 0).
        flags: i32 = 0,
        /// Zero-copy modifiers, e.g. `ZC_REPORT_USAGE`, `POLL_FIRST` (default none).
        zc_flags: RecvSendFlags = RecvSendFlags::empty(),
        /// Send from this registered buffer (`IORING_RECVSEND_FIXED_BUF`).
        buf_index: Option<u16> = None,
        /// Destination address and its length, as for `sendto(2)` (default: none).
        dest_addr: (*const libc::sockaddr, u16) = (core::ptr::null(), 0),
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.buf as u64;
        sqe.len = self.len;
        sqe.op_flags = self.flags as u32;
        sqe.ioprio = self.zc_flags.bits();
        if let Some(index) = self.buf_index {
            sqe.ioprio |= RecvSendFlags::FIXED_BUF.bits();
            sqe.buf_index = index;
        }
        sqe.off = self.dest_addr.0 as u64;
        sqe.set_addr_len(self.dest_addr.1);
        sqe.into_sqe()
    }
}

opcode! {
    /// Zero-copy `sendmsg(2)` (`IORING_OP_SENDMSG_ZC`, Linux 6.1); completes like [`SendZc`].
    #[doc(alias = "io_uring_prep_sendmsg_zc")]
    #[doc(alias = "io_uring_prep_sendmsg_zc_fixed")]
    pub struct SendMsgZc(sys::IORING_OP_SENDMSG_ZC) {
        needs { fd: file, msg: [*const libc::msghdr] }
        /// `MSG_*` flags (default 0).
        flags: u32 = 0,
        /// Zero-copy modifiers (default none).
        zc_flags: RecvSendFlags = RecvSendFlags::empty(),
        /// Send from this registered buffer (`IORING_RECVSEND_FIXED_BUF`).
        buf_index: Option<u16> = None,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.msg as u64;
        sqe.len = 1;
        sqe.op_flags = self.flags;
        sqe.ioprio = self.zc_flags.bits();
        if let Some(index) = self.buf_index {
            sqe.ioprio |= RecvSendFlags::FIXED_BUF.bits();
            sqe.buf_index = index;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Zero-copy receive into a registered zero-copy-receive interface queue
    /// (`IORING_OP_RECV_ZC`, Linux 6.15). Always multishot. liburing has no prep helper
    /// for it.
    pub struct RecvZc(sys::IORING_OP_RECV_ZC) {
        needs { fd: file, ifq_idx: [u32] }
        /// Bytes to receive in total; 0 (default) for no limit.
        len: u32 = 0,
        /// `MSG_*` flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.len = self.len;
        sqe.op_flags = self.flags;
        sqe.ioprio = RecvSendFlags::RECV_MULTISHOT.bits();
        sqe.file_index = self.ifq_idx;
        sqe.into_sqe()
    }
}
