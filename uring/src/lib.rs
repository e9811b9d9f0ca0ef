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

pub use cqueue::{CompletionQueue, Cqe, CqeFlags};
pub use error::PushError;
pub use ring::Ring;
pub use setup::{Builder, Features, Params, SetupFlags};
pub use squeue::SubmissionQueue;
