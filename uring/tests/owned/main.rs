//! The ownership-based safe layer (`uring::owned`) against the running kernel: its
//! operations, hazards, registered buffers, buffer pools, multishot operations,
//! bundle sends, and the `bytes` and `async` features.
//!
//! One test binary (one link of liburing) for the family; each module is one
//! former test file. They share one process: a test that needs the last copy of a
//! descriptor to be closed takes [`support::no_forks`], and every child process is
//! started through [`support::spawn`].

#[path = "../support/mod.rs"]
mod support;

mod owned_alloc;
mod owned_async;
mod owned_bytes;
mod owned_direct;
mod owned_direct_more;
mod owned_fixed;
mod owned_fuzz_found;
mod owned_hazards;
mod owned_held;
mod owned_io;
mod owned_multishot;
mod owned_ops_more;
mod owned_pass;
mod owned_pool;
mod owned_rearm;
mod owned_ring_fd;
mod owned_send_bundle;
mod owned_typed;
mod owned_typed_out;
mod owned_typed_random;
mod owned_typed_rearm;
mod owned_typed_reg;
mod owned_udp;
mod tracked;
