//! Safe, fast bindings to liburing, the C library for Linux io_uring.
//!
//! (The API is being built; see the workspace README.)
#![warn(missing_docs)]

pub use liburing_sys as sys;

pub mod buf_ring;
pub mod cqueue;
pub mod error;
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
