//! Registration against the running kernel: fixed files and buffers, eventfd, the
//! registered ring fd, provided-buffer rings, and the registration calls of
//! liburing 2.1 and later.
//!
//! One test binary (one link of liburing) for the family; each module is one
//! former test file.

#[path = "../support/mod.rs"]
mod support;

mod register_buf_ring;
mod register_calls;
mod ring_register;
