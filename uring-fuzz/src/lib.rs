//! A model-based fuzzer for `uring`'s safe layer ([`uring::owned`]).
//!
//! The safety model of `uring::owned` is a claim about every sequence of safe
//! calls. This crate generates random programs over the safe API ([`program`]),
//! runs them against the real kernel ([`run`]) with a model of what must hold —
//! bytes through pipes and sockets exactly once and in order, one final
//! completion per operation, no descriptor leaked, every pool buffer in exactly
//! one place, no program past its time bound — and on failure prints the seed
//! and a minimised action list ([`minimize`]).
//!
//! `cargo xtask fuzz [--seed S] [--time SECONDS]` runs it; CI runs it under
//! AddressSanitizer.

pub mod minimize;
pub mod program;
pub mod rng;
pub mod run;

pub use program::{Action, Program, Setup};
pub use run::{Failure, Outcome, Runner};
