//! Synchronous cancellation, BPF filters, the ring-less calls (synchronous
//! `MSG_RING`, queries).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::raw_register;
use crate::error::with_context;
use crate::ring::Ring;
use crate::sys;

impl Ring {
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
}

/// Registration calls added with liburing 2.1 and later: BPF filters.
impl Ring {
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
