//! The crate's examples `cat` and `cp` run as programs on files, checking the bytes
//! they move and how they exit. (`echo_server` has a test binary of its own,
//! `tests/echo/`.)
//!
//! One test binary for the family; each module is one former test file.

#[path = "../support/mod.rs"]
mod support;

mod owned_cp;
mod owned_echo_threads;
mod owned_example;
