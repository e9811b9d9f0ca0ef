//! The crate's examples run as programs: `cat`, `cp` and `echo_server`, on files
//! and loopback sockets, checking the bytes they move and how they exit.
//!
//! One test binary for the family; each module is one former test file.

#[path = "../support/mod.rs"]
mod support;

mod owned_cp;
mod owned_echo;
mod owned_example;
