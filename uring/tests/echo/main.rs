//! `examples/echo_server.rs` run as a program against many concurrent loopback
//! clients, checking every byte that comes back and how the server exits.
//!
//! A test binary of its own, apart from the other examples' (`tests/examples/`):
//! it moves tens of MiB through the server, which under QEMU takes most of the
//! per-binary time limit of `cargo xtask kernel-check` on its own.

#[path = "../support/mod.rs"]
mod support;

mod owned_echo;
