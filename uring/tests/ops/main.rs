//! Every raw opcode builder end to end against the running kernel, by family: files,
//! the network, and the rest (no-ops, timeouts, cancellation, messages, futexes, …).
//!
//! One test binary (one link of liburing) for the family; each module is one
//! former test file.

#[path = "../support/mod.rs"]
mod support;

mod ops_fs;
mod ops_misc;
mod ops_net;
