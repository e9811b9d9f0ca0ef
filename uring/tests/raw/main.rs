//! The raw layer against the running kernel and the linked liburing: the ring and
//! its queues, setup flags, the queues' fast paths, every builder's bytes against
//! liburing's prep helpers, the probe, the build metadata and liburing's names.
//!
//! One test binary (one link of liburing) for the family; each module is one
//! former test file.

#[path = "../support/mod.rs"]
mod support;

mod dep_metadata;
mod liburing_names;
mod probe;
mod ring;
mod ring_hotpath;
mod ring_setup;
mod sqe_bytes;
