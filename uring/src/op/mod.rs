//! Typed builders, one per io_uring opcode.
//!
//! Each builder is a small `Copy` value named after its `IORING_OP_*`: the required
//! arguments go to `new`, the optional ones are chained `const fn` setters with the
//! defaults liburing's prep helpers use, and `build` produces the [`Sqe`](crate::sqe::Sqe) (or
//! [`Sqe128`](crate::sqe::Sqe128)) — byte for byte what the matching `io_uring_prep_*` helper of liburing
//! 2.15 writes into a zeroed entry. `CODE` is the opcode number.
//!
//! ```
//! use uring::op::{Read, Nop};
//! use uring::types::Fd;
//!
//! let mut buf = [0u8; 4096];
//! let sqe = Read::new(Fd(0), buf.as_mut_ptr(), buf.len() as u32)
//!     .offset(512)
//!     .build()
//!     .user_data(7);
//! assert_eq!(sqe.as_raw().opcode, Read::CODE);
//! assert_eq!(sqe.get_user_data(), 7);
//! assert_eq!(Nop::CODE, 0);
//! ```
//!
//! Builders only describe an operation; they take raw pointers wherever memory is
//! handed to the kernel. Building is safe; pushing the entry into a ring is where the
//! caller promises the memory stays valid until the completion arrives:
//!
//! ```
//! use uring::op::{Read, Write};
//! use uring::types::Fd;
//! use uring::Ring;
//!
//! let file = tempfile_in_tmp()?;
//! let mut ring = Ring::new(8)?;
//! let data = *b"written by io_uring";
//! let mut back = [0u8; 19];
//! let write = Write::new(Fd::from(&file), data.as_ptr(), 19).build().user_data(1).link();
//! let read = Read::new(Fd::from(&file), back.as_mut_ptr(), 19).build().user_data(2);
//! // SAFETY: `data` and `back` outlive both completions, awaited below.
//! unsafe {
//!     ring.submission().push(&write).unwrap();
//!     ring.submission().push(&read).unwrap();
//! }
//! ring.submit_and_wait(2)?;
//! let results: Vec<(u64, i32)> = ring.completion().map(|c| (c.user_data(), c.raw_result())).collect();
//! assert_eq!(results, [(1, 19), (2, 19)]);
//! assert_eq!(&back, b"written by io_uring");
//! # fn tempfile_in_tmp() -> std::io::Result<std::fs::File> {
//! #     let path = std::env::temp_dir().join(format!("uring-op-doc-{}", std::process::id()));
//! #     let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
//! #     std::fs::remove_file(&path)?;
//! #     Ok(file)
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! File arguments are [`Fd`](crate::types::Fd) (a plain descriptor),
//! [`Fixed`](crate::types::Fixed) (an index into the registered file table) or a
//! [`BorrowedFd`](std::os::fd::BorrowedFd), where the kernel allows a fixed file;
//! directory arguments of the `*at` operations are plain [`Fd`](crate::types::Fd)s,
//! [`Fd::CWD`](crate::types::Fd::CWD) for `AT_FDCWD`.
//!
//! # Which builder covers each liburing prep helper
//!
//! Every `io_uring_prep_*` of liburing 2.15, and the builder (and setters) that
//! produce the same entry:
//!
//! | liburing helper | builder |
//! | --- | --- |
//! | `io_uring_prep_rw` | any builder; fields no builder sets via [`Sqe::as_raw_mut`](crate::sqe::Sqe::as_raw_mut) |
//! | `io_uring_prep_nop` | [`Nop`] |
//! | `io_uring_prep_nop128` | [`Nop128`] |
//! | `io_uring_prep_readv`, `io_uring_prep_readv2` | [`Readv`] (`.offset`, `.rw_flags`) |
//! | `io_uring_prep_writev`, `io_uring_prep_writev2` | [`Writev`] |
//! | `io_uring_prep_read_fixed` | [`ReadFixed`] |
//! | `io_uring_prep_write_fixed` | [`WriteFixed`] |
//! | `io_uring_prep_readv_fixed` | [`ReadvFixed`] |
//! | `io_uring_prep_writev_fixed` | [`WritevFixed`] |
//! | `io_uring_prep_read` | [`Read`] |
//! | `io_uring_prep_write` | [`Write`] |
//! | `io_uring_prep_read_multishot` | [`ReadMultishot`] |
//! | `io_uring_prep_fsync` | [`Fsync`] |
//! | `io_uring_prep_sync_file_range` | [`SyncFileRange`] |
//! | `io_uring_prep_fallocate` | [`Fallocate`] |
//! | `io_uring_prep_ftruncate` | [`Ftruncate`] |
//! | `io_uring_prep_fadvise`, `io_uring_prep_fadvise64` | [`Fadvise`] (`.len64`) |
//! | `io_uring_prep_madvise`, `io_uring_prep_madvise64` | [`Madvise`] (`.len64`) |
//! | `io_uring_prep_splice` | [`Splice`] |
//! | `io_uring_prep_tee` | [`Tee`] |
//! | `io_uring_prep_openat`, `io_uring_prep_open` | [`OpenAt`] ([`Fd::CWD`](crate::types::Fd::CWD)) |
//! | `io_uring_prep_openat_direct`, `io_uring_prep_open_direct` | [`OpenAt`] `.file_index` |
//! | `io_uring_prep_openat2` | [`OpenAt2`] |
//! | `io_uring_prep_openat2_direct` | [`OpenAt2`] `.file_index` |
//! | `io_uring_prep_close` | [`Close`] with an [`Fd`](crate::types::Fd) |
//! | `io_uring_prep_close_direct` | [`Close`] with a [`Fixed`](crate::types::Fixed) |
//! | `io_uring_prep_statx` | [`Statx`] |
//! | `io_uring_prep_renameat`, `io_uring_prep_rename` | [`RenameAt`] |
//! | `io_uring_prep_unlinkat`, `io_uring_prep_unlink` | [`UnlinkAt`] |
//! | `io_uring_prep_mkdirat`, `io_uring_prep_mkdir` | [`MkDirAt`] |
//! | `io_uring_prep_symlinkat`, `io_uring_prep_symlink` | [`SymlinkAt`] |
//! | `io_uring_prep_linkat`, `io_uring_prep_link` | [`LinkAt`] |
//! | `io_uring_prep_fsetxattr` | [`FSetXattr`] |
//! | `io_uring_prep_setxattr` | [`SetXattr`] |
//! | `io_uring_prep_fgetxattr` | [`FGetXattr`] |
//! | `io_uring_prep_getxattr` | [`GetXattr`] |
//! | `io_uring_prep_pipe` | [`Pipe`] |
//! | `io_uring_prep_pipe_direct` | [`Pipe`] `.file_index` |
//! | `io_uring_prep_files_update` | [`FilesUpdate`] |
//! | `io_uring_prep_fixed_fd_install` | [`FixedFdInstall`] |
//! | `io_uring_prep_poll_add` | [`PollAdd`] |
//! | `io_uring_prep_poll_multishot` | [`PollAdd`] `.multi(true)` |
//! | `io_uring_prep_poll_remove` | [`PollRemove`] |
//! | `io_uring_prep_poll_update` | [`PollRemove`] `.update_events` / `.update_user_data` |
//! | `io_uring_prep_epoll_ctl` | [`EpollCtl`] |
//! | `io_uring_prep_epoll_wait` | [`EpollWait`] |
//! | `io_uring_prep_timeout` | [`Timeout`] |
//! | `io_uring_prep_timeout_remove` | [`TimeoutRemove`] |
//! | `io_uring_prep_timeout_update` | [`TimeoutUpdate`] |
//! | `io_uring_prep_link_timeout` | [`LinkTimeout`] |
//! | `io_uring_prep_cancel`, `io_uring_prep_cancel64` | [`AsyncCancel`] |
//! | `io_uring_prep_cancel_fd` | [`AsyncCancel::by_fd`] |
//! | `io_uring_prep_msg_ring` | [`MsgRing`] |
//! | `io_uring_prep_msg_ring_cqe_flags` | [`MsgRing`] `.cqe_flags` |
//! | `io_uring_prep_msg_ring_fd`, `io_uring_prep_msg_ring_fd_alloc` | [`MsgRingSendFd`] |
//! | `io_uring_prep_provide_buffers` | [`ProvideBuffers`] |
//! | `io_uring_prep_remove_buffers` | [`RemoveBuffers`] |
//! | `io_uring_prep_socket` | [`Socket`] |
//! | `io_uring_prep_socket_direct`, `io_uring_prep_socket_direct_alloc` | [`Socket`] `.file_index` |
//! | `io_uring_prep_connect` | [`Connect`] |
//! | `io_uring_prep_bind` | [`Bind`] |
//! | `io_uring_prep_listen` | [`Listen`] |
//! | `io_uring_prep_accept` | [`Accept`] |
//! | `io_uring_prep_accept_direct` | [`Accept`] `.file_index` |
//! | `io_uring_prep_multishot_accept` | [`Accept`] `.multishot(true)` |
//! | `io_uring_prep_multishot_accept_direct` | [`Accept`] `.multishot(true).file_index(Some(DestinationSlot::AUTO))` |
//! | `io_uring_prep_shutdown` | [`Shutdown`] |
//! | `io_uring_prep_send` | [`Send`] |
//! | `io_uring_prep_sendto`, `io_uring_prep_send_set_addr` | [`Send`] `.dest_addr` |
//! | `io_uring_prep_send_bundle` | [`Send`] `.bundle(true)` |
//! | `io_uring_prep_send_zc` | [`SendZc`] |
//! | `io_uring_prep_send_zc_fixed` | [`SendZc`] `.buf_index` |
//! | `io_uring_prep_sendmsg` | [`SendMsg`] |
//! | `io_uring_prep_sendmsg_zc` | [`SendMsgZc`] |
//! | `io_uring_prep_sendmsg_zc_fixed` | [`SendMsgZc`] `.buf_index` |
//! | `io_uring_prep_recv` | [`Recv`] |
//! | `io_uring_prep_recv_multishot` | [`Recv`] `.multishot(true)` |
//! | `io_uring_prep_recvmsg` | [`RecvMsg`] |
//! | `io_uring_prep_recvmsg_multishot` | [`RecvMsg`] `.multishot(true)` |
//! | (none; `IORING_OP_RECV_ZC`) | [`RecvZc`] |
//! | `io_uring_prep_uring_cmd` | [`UringCmd`] |
//! | `io_uring_prep_uring_cmd128` | [`UringCmd128`] |
//! | `io_uring_prep_cmd_sock` | [`SiocInq`], [`SiocOutq`], [`GetSockOpt`], [`SetSockOpt`] |
//! | `io_uring_prep_cmd_getsockname` | [`GetSockName`] |
//! | `io_uring_prep_cmd_discard` | [`BlockDiscard`] |
//! | `io_uring_prep_waitid` | [`WaitId`] |
//! | `io_uring_prep_futex_wait` | [`FutexWait`] |
//! | `io_uring_prep_futex_wake` | [`FutexWake`] |
//! | `io_uring_prep_futex_waitv` | [`FutexWaitV`] |
//!
//! `__io_uring_prep_uring_cmd` is the internal helper behind the two `uring_cmd` ones.

/// Declares one opcode builder: required fields (given to `new`), optional fields
/// (each with a chained setter and a default), the opcode and the `build` body.
///
/// Required arguments are listed in `needs { … }`: `name: file` takes any [`FileArg`](crate::types::FileArg)
/// (stored as a [`Target`](crate::types::Target)); `name: [T]` takes a plain `T`.
macro_rules! opcode {
    // How a required argument is taken by `new`, stored, and converted: `file` is a
    // descriptor or fixed-file index; `[T]` is a plain value of type T.
    (@param file) => { impl $crate::types::FileArg };
    (@param [$t:ty]) => { $t };
    (@store file) => { $crate::types::Target };
    (@store [$t:ty]) => { $t };
    (@conv $v:ident, file) => { ::core::convert::Into::<$crate::types::Target>::into($v) };
    (@conv $v:ident, [$t:ty]) => { $v };

    (
        $( #[$meta:meta] )*
        pub struct $name:ident($code:expr) {
            needs { $( $field:ident : $kind:tt ),* $(,)? }
            $(
                $( #[$ometa:meta] )*
                $ofield:ident : $oty:ty = $odef:expr
            ),* $(,)?
        }

        fn build($self:ident) -> $out:ty $body:block
    ) => {
        $( #[$meta] )*
        #[derive(Debug, Clone, Copy)]
        #[must_use = "a builder does nothing until it is built and pushed"]
        pub struct $name {
            $( $field: opcode!(@store $kind), )*
            $( $ofield: $oty, )*
        }

        impl $name {
            #[doc = concat!("The opcode: `", stringify!($code), "`.")]
            pub const CODE: u8 = $code as u8;

            /// The builder, from the required arguments; optional ones take their defaults.
            #[inline]
            #[allow(clippy::new_without_default)]
            pub fn new($( $field: opcode!(@param $kind) ),*) -> Self {
                $name {
                    $( $field: opcode!(@conv $field, $kind), )*
                    $( $ofield: $odef, )*
                }
            }

            $(
                $( #[$ometa] )*
                #[inline]
                pub const fn $ofield(mut self, $ofield: $oty) -> Self {
                    self.$ofield = $ofield;
                    self
                }
            )*

            /// Builds the submission queue entry.
            #[inline]
            pub fn build($self) -> $out $body
        }
    };
}

/// The largest byte count worth passing in an entry's `len`: `0x7fff_f000`, the
/// kernel's own limit on one read or write (`MAX_RW_COUNT`: `INT_MAX` rounded down
/// to a 4 KiB page).
///
/// Reads and writes clamp a larger `len` to it themselves, but the socket
/// operations ([`Send`], [`Recv`], [`SendZc`] and their provided-buffer forms)
/// refuse a `len` above `INT_MAX` with `EINVAL`: clamp to this before building
/// one for a buffer of 2 GiB or more. The safe layer ([`crate::owned`]) does.
///
/// ```
/// use uring::op::{MAX_IO_LEN, Recv};
/// use uring::types::Fd;
///
/// let mut buf = Vec::<u8>::with_capacity(16);
/// let len = u32::try_from(buf.capacity()).unwrap_or(u32::MAX).min(MAX_IO_LEN);
/// let sqe = Recv::new(Fd(3), buf.as_mut_ptr(), len).build();
/// assert_eq!(sqe.as_raw().len, 16);
/// ```
pub const MAX_IO_LEN: u32 = 0x7fff_f000;

mod buffers;
mod cmd;
mod fs;
mod misc;
mod net;
mod poll;
mod process;
mod rw;
mod timeout;

pub use buffers::*;
pub use cmd::*;
pub use fs::*;
pub use misc::*;
pub use net::*;
pub use poll::*;
pub use process::*;
pub use rw::*;
pub use timeout::*;
