//! liburing → uring: where each liburing call lives.
//!
//! Every `io_uring_*` name of `liburing.h` is a [doc alias] of its Rust counterpart,
//! so searching these docs for the C name you know finds it: `io_uring_prep_read` finds
//! [`op::Read`](crate::op::Read), `io_uring_wait_cqe_timeout` finds
//! [`Ring::submit_and_wait_timeout`](crate::Ring::submit_and_wait_timeout). The names
//! below have no single counterpart, so they are aliases of this page instead; each row
//! says where the job is done, or why nothing needs doing. A test
//! (`tests/raw/liburing_names.rs`) reads the linked `liburing.h` and fails on any name that
//! is neither an alias nor a row here, so a new liburing cannot add a name silently.
//! Names that only older releases have (`io_uring_cqe_index`, liburing 2.4 to 2.9)
//! are kept, since `uring` also links a system liburing from 2.4 on.
//!
//! | liburing | in `uring` |
//! | --- | --- |
//! | `io_uring_check_version`, `io_uring_major_version`, `io_uring_minor_version` | The linked liburing's version is fixed at build time: [`sys::LIBURING_VERSION_MAJOR`](crate::sys::LIBURING_VERSION_MAJOR) and [`sys::LIBURING_VERSION_MINOR`](crate::sys::LIBURING_VERSION_MINOR). Calls newer than it use the raw system call or fail with an error naming the version they need. |
//! | `io_uring_enter`, `io_uring_enter2` | [`Ring::submit`](crate::Ring::submit), [`submit_and_wait`](crate::Ring::submit_and_wait), [`wait`](crate::Ring::wait) and the `submit_and_wait_*` variants enter the kernel themselves (an inlined system call); the C functions are [`sys::io_uring_enter`](crate::sys::io_uring_enter) and [`sys::io_uring_enter2`](crate::sys::io_uring_enter2). |
//! | `io_uring_register` | Each registration is a typed method of [`Ring`](crate::Ring) (see [`register`](crate::register)); the C function is [`sys::io_uring_register`](crate::sys::io_uring_register). |
//! | `io_uring_prep_rw` | The generic preparation every `io_uring_prep_*` builds on: here, each [`op`](crate::op) builder; for a field no builder sets, [`Sqe::as_raw_mut`](crate::sqe::Sqe::as_raw_mut). |
//! | `io_uring_load_sq_head` | Internal: [`SubmissionQueue::remaining`](crate::SubmissionQueue::remaining) and the push read the kernel's head with the ordering the ring's setup needs (`SQPOLL` or not). |
//! | `io_uring_queue_mmap` | [`Builder::build`](crate::Builder::build) maps the rings of the descriptor it creates; a [`Ring`](crate::Ring) always owns its mappings, so there is no call to map someone else's. |
//! | `io_uring_initialize_sqe` | Not needed: entries are built as values, from zero, by the [`op`](crate::op) builders (and [`Sqe::from_raw`](crate::sqe::Sqe::from_raw)), then copied whole into the ring by [`SubmissionQueue::push`](crate::SubmissionQueue::push), so no stale field of an earlier entry survives. |
//! | `io_uring_sqe_shift`, `io_uring_sqe_shift_from_flags` | Internal: [`SubmissionQueue`](crate::SubmissionQueue) indexes 64- or 128-byte entries by the ring's setup flags; 128-byte entries go through [`push128`](crate::SubmissionQueue::push128). |
//! | `io_uring_cqe_shift`, `io_uring_cqe_shift_from_flags`, `io_uring_cqe_index`, `io_uring_cqe_nr`, `io_uring_skip_cqe` | Internal: [`CompletionQueue`](crate::CompletionQueue) walks 16- and 32-byte completions (`CQE32`, `CQE_MIXED`), steps over the kernel's padding entries, and yields each completion once as a [`Cqe`](crate::Cqe); [`Cqe::big`](crate::Cqe::big) has a 32-byte completion's extra words. |
//! | `io_uring_smp_load_acquire`, `io_uring_smp_store_release` | Rust's own atomics ([`core::sync::atomic`]) with `Acquire`/`Release` ordering, which the ring's code uses on the shared head and tail words. |
//! | `io_uring_mlock_size`, `io_uring_mlock_size_params` | No counterpart: locked-memory accounting of rings ended in Linux 5.12. [`setup::RingMemory::required`](crate::setup::RingMemory::required) gives the bytes a ring needs. |
//! | `io_uring_recvmsg_validate`, `io_uring_recvmsg_name`, `io_uring_recvmsg_payload`, `io_uring_recvmsg_payload_length`, `io_uring_recvmsg_cmsg_firsthdr`, `io_uring_recvmsg_cmsg_nexthdr` | The safe [`owned::ops::RecvMsg`](crate::owned::ops::RecvMsg) parses what the kernel wrote (sender address, payload, control messages, every length checked) and returns it typed. At the raw level, use the C helpers through [`sys`](crate::sys). |
//!
//! [doc alias]: https://doc.rust-lang.org/rustdoc/advanced-features.html#add-aliases-for-an-item-in-documentation-search
#![doc(alias = "io_uring_check_version")]
#![doc(alias = "io_uring_major_version")]
#![doc(alias = "io_uring_minor_version")]
#![doc(alias = "io_uring_enter")]
#![doc(alias = "io_uring_enter2")]
#![doc(alias = "io_uring_queue_mmap")]
#![doc(alias = "io_uring_register")]
#![doc(alias = "io_uring_prep_rw")]
#![doc(alias = "io_uring_load_sq_head")]
#![doc(alias = "io_uring_initialize_sqe")]
#![doc(alias = "io_uring_sqe_shift")]
#![doc(alias = "io_uring_sqe_shift_from_flags")]
#![doc(alias = "io_uring_cqe_shift")]
#![doc(alias = "io_uring_cqe_shift_from_flags")]
#![doc(alias = "io_uring_cqe_index")]
#![doc(alias = "io_uring_cqe_nr")]
#![doc(alias = "io_uring_skip_cqe")]
#![doc(alias = "io_uring_smp_load_acquire")]
#![doc(alias = "io_uring_smp_store_release")]
#![doc(alias = "io_uring_mlock_size")]
#![doc(alias = "io_uring_mlock_size_params")]
#![doc(alias = "io_uring_recvmsg_validate")]
#![doc(alias = "io_uring_recvmsg_name")]
#![doc(alias = "io_uring_recvmsg_payload")]
#![doc(alias = "io_uring_recvmsg_payload_length")]
#![doc(alias = "io_uring_recvmsg_cmsg_firsthdr")]
#![doc(alias = "io_uring_recvmsg_cmsg_nexthdr")]
