//! Safe, fast bindings to liburing 2.15, the C library for Linux io_uring.
//!
//! Two levels, both first-class:
//!
//! * **Raw** — [`Ring`] owns one liburing ring; [`op`] has a typed builder for every
//!   `IORING_OP_*` (65 of them, each with the liburing helper it matches as a doc
//!   alias); you push the built [`Sqe`](sqe::Sqe) with an `unsafe` push whose contract
//!   is "the memory and descriptors this entry names stay valid until its completion",
//!   and read typed [`Cqe`]s. Pushing, submitting and reaping run in inlined Rust: no
//!   FFI call per entry, and the kernel is entered with an inlined `syscall`.
//! * **Owned** — [`owned::OwnedRing`]: operations own their buffers and descriptors
//!   until the kernel's final completion, then hand them back. No `unsafe`, and no
//!   sequence of safe calls can make the kernel touch freed memory (see the safety
//!   model in [`owned`]).
//!
//! Raw level:
//!
//! ```
//! use std::os::fd::AsRawFd;
//! use uring::{Ring, op, types::Fd};
//!
//! let file = std::fs::File::open("/proc/self/stat")?;
//! let mut buf = vec![0u8; 64];
//! let mut ring = Ring::builder().single_issuer().defer_taskrun().build(8)?;
//! let sqe = op::Read::new(Fd(file.as_raw_fd()), buf.as_mut_ptr(), buf.len() as u32)
//!     .build()
//!     .user_data(7);
//! // SAFETY: `buf` and `file` outlive the read: its completion is reaped below.
//! unsafe { ring.submission().push(&sqe)? };
//! ring.submit_and_wait(1)?;
//! let cqe = ring.completion().next().expect("one completion");
//! assert_eq!(cqe.user_data(), 7);
//! assert!(cqe.result()? > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Owned level:
//!
//! ```
//! use uring::owned::{OwnedRing, SharedFd, ops};
//!
//! let mut ring = OwnedRing::new(8)?;
//! let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
//! let id = ring.submit_op(ops::Read::new(&file, vec![0u8; 64], 0))?;
//! let (res, buf) = ring.wait_for(id)?; // the Vec comes back
//! assert!(res? > 0 && buf.len() == 64);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Also here: every setup flag ([`Builder`], [`SetupFlags`]) and feature flag
//! ([`Features`]); registration ([`register`], [`buf_ring`]); which opcodes the
//! running kernel supports ([`probe`]). Errors are [`std::io::Error`] carrying the
//! kernel's errno; a full submission queue is a [`PushError`], never a panic.
//!
//! Which liburing is linked is decided by `liburing-sys` (bundled 2.15 by default;
//! the system's `liburing-ffi` >= 2.4 without the `vendored` feature). Calls newer
//! than the linked liburing go through the raw `io_uring_register(2)` system call or
//! fail with an error naming the version they need: setup flags liburing itself must
//! understand (`NO_SQARRAY` from 2.6, `NO_MMAP` and `REGISTERED_FD_ONLY` from 2.8) are
//! refused with `EOPNOTSUPP` before that. A [`Ring`] keeps its own record of how it
//! enters (fd or registered index, iowait), never liburing's private flags, whose
//! layout differs between releases.

pub use liburing_sys as sys;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod buf_ring;
pub mod cqueue;
pub mod error;
pub mod liburing;
mod mem;
pub mod op;
pub mod owned;
pub mod probe;
pub mod register;
mod ring;
pub mod setup;
pub mod sqe;
pub mod squeue;
mod syscall;
pub mod types;

#[doc(hidden)]
pub mod __fuzz {
    //! Entry points for `uring-fuzz`'s libFuzzer targets: the crate's parsers of
    //! bytes the kernel or a peer controls, on any input. Not a public API.

    use std::collections::VecDeque;

    /// `RecvMsg`'s walk of control messages: the descriptor numbers it would
    /// take as owned.
    pub fn recvmsg_control_fds(control: &[u8]) -> Vec<i32> {
        crate::owned::ops::net_msg::control_fd_numbers(control)
    }

    /// Where a multishot `recvmsg` buffer's parts are (`RecvMsgMultishot`'s parse
    /// of the kernel's `io_uring_recvmsg_out` layout): the ranges of the sender's
    /// address, the control data and the payload, or why the bytes do not fit.
    #[allow(clippy::type_complexity)]
    pub fn recvmsg_multishot_layout(
        buf: &[u8],
        name_room: usize,
        control_room: usize,
    ) -> Result<
        (
            core::ops::Range<usize>,
            core::ops::Range<usize>,
            core::ops::Range<usize>,
        ),
        String,
    > {
        crate::owned::ops::msg_multishot::parse_recvmsg_out(buf, name_room, control_room)
            .map(|l| (l.name, l.control, l.payload))
    }

    /// A `BufPool`'s accounting of one bundle receive: the buffers (and their
    /// byte counts) a completion of `len` bytes from buffer `first` hands out,
    /// given which are held (`out`) and which buffer followed which (`next`).
    pub fn pool_bundle_parts(
        out: &mut [bool],
        next: &[u16],
        size: usize,
        first: u16,
        len: usize,
    ) -> Option<Vec<(u16, usize)>> {
        crate::owned::pool::bundle_parts(out, next, size, first, len)
    }

    /// A `SendQueue`'s accounting of one bundle send: follows `completions`
    /// (`res`, buffer id) over queued entries `(bid, len)`; returns the cursor
    /// (entries sent in full, bytes of the next, bytes in all, broken).
    pub fn send_bundle_cursor(
        entries: &[(u16, usize)],
        completions: &[(i32, Option<u16>)],
    ) -> (usize, usize, usize, bool) {
        use crate::owned::send_queue::{Cursor, Entry, advance_cursor};
        let queue: VecDeque<Entry> = entries
            .iter()
            .map(|&(bid, len)| Entry { bid, off: 0, len })
            .collect();
        let mut c = Cursor::default();
        for &(res, bid) in completions {
            advance_cursor(&queue, &mut c, res, bid);
        }
        (c.entry, c.off, c.bytes, c.broken)
    }

    /// The probe made from a kernel's `IORING_REGISTER_PROBE` answer, given as
    /// raw bytes (the header and the op entries; missing bytes are zero).
    pub fn probe_from_bytes(bytes: &[u8], features: u32) -> crate::probe::Probe {
        let mut raw = crate::probe::RawProbe::zeroed();
        let n = bytes
            .len()
            .min(core::mem::size_of::<crate::probe::RawProbe>());
        // SAFETY: RawProbe is plain integers (repr(C)), so any bytes are a valid
        // value; at most its size is copied, into its own allocation.
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), (&raw mut *raw).cast::<u8>(), n);
        }
        raw.to_probe(features)
    }
}

pub use cqueue::{CompletionQueue, Cqe, CqeFlags};
pub use error::PushError;
pub use ring::Ring;
pub use setup::{Builder, Features, Params, SetupFlags};
pub use squeue::SubmissionQueue;
