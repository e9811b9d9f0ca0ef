//! Safe, fast bindings to liburing, the C library for Linux io_uring.
//!
//! (The API is being built; see the workspace README.)
#![warn(missing_docs)]

pub use liburing_sys as sys;

pub mod op;
pub mod probe;
pub mod sqe;
