//! The safe layer: operations that own their buffers and descriptors.
//!
//! An [`OwnedRing`] drives a [`Ring`] for you. You hand it an operation from
//! [`ops`] by value — the buffer it reads into or writes from, a [`SharedFd`] for
//! the file it works on — and get back an [`OpId`]. The ring keeps the operation
//! in its in-flight table until the kernel posts the operation's final completion;
//! then it gives everything back, typed: a [`Completion`] to
//! [`downcast`](Completion::downcast), or the output of
//! [`wait_for`](OwnedRing::wait_for). No `unsafe` is needed, and no sequence of
//! safe calls can make the kernel touch freed memory or a recycled descriptor.
//!
//! ```
//! use uring::owned::{OwnedRing, SharedFd, ops};
//!
//! let mut ring = OwnedRing::new(8)?;
//! let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
//! let id = ring.submit_op(ops::Read::new(&file, vec![0u8; 64], 0))?;
//! let (res, buf) = ring.wait_for(id)?;
//! let n = res?;
//! assert!(n > 0);
//! assert!(buf[..n].iter().any(|b| b.is_ascii_digit()));
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Several completions at once, by iterating:
//!
//! ```
//! use uring::owned::{OwnedRing, ops};
//!
//! let mut ring = OwnedRing::new(8)?;
//! let a = ring.submit_op(ops::Nop::new())?;
//! let b = ring.submit_op(ops::Nop::new())?;
//! ring.submit_and_wait(2)?;
//! let mut seen = 0;
//! for c in ring.completions() {
//!     assert!(c.key() == a.key() || c.key() == b.key());
//!     assert_eq!(c.downcast::<ops::Nop>().ok().unwrap()?, 0);
//!     seen += 1;
//! }
//! assert_eq!(seen, 2);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! Provided buffers ([`BufPool`]: the kernel picks a buffer, a [`PoolBuf`] guard
//! hands over the bytes and recycles it when dropped), multishot streams
//! ([`Multishot`], [`OwnedRing::next_item`]) and, with feature `async`, futures
//! (`AsyncRing`) build on the same table.
//!
//! Buffers are anything [`IoBuf`] (the kernel reads it) or [`IoBufMut`] (the kernel
//! writes it): `Vec<u8>`, `Box<[u8]>`, `String` and static slices; [`AlignedBuf`]
//! (aligned to a power of two, for `O_DIRECT` and page-aligned copies);
//! [`FixedBuf`] (one buffer of a registered [`FixedBufs`] table, for
//! [`ReadFixed`]/[`WriteFixed`]); the two halves of a [`ChainedBuf`] (a read and the
//! write linked after it, sharing one buffer); `bytes::BytesMut` and `Bytes` with
//! feature `bytes`; and a [`Slice`] of any of them.
//!
//! # Safety model
//!
//! **Who owns what, when.**
//!
//! * Before [`submit_op`](OwnedRing::submit_op): the caller owns the operation and
//!   everything in it.
//! * From `submit_op` until the operation's **final** completion — the completion
//!   without `IORING_CQE_F_MORE` (for a multishot operation, its last one; for a
//!   zero-copy send, the `NOTIF` one) — the ring's in-flight table owns the
//!   operation: its buffers, its iovec array, its paths, its address and timespec
//!   structures, and a clone of the [`SharedFd`] it targets. Every piece of memory
//!   the kernel is told about lives in a heap allocation (or static memory) that
//!   the operation owns, so moving the operation into the table, or the table
//!   growing, never changes an address the kernel holds ([`IoBuf`]'s contract).
//!   Nothing outside the table can reach that memory: the caller holds only an
//!   [`OpId`], which is a number.
//! * At the final completion the ring removes the operation from the table and
//!   queues it, with that completion, as a [`Completion`], which belongs to
//!   whoever takes it. The kernel is done with it. Taking the output
//!   ([`downcast`](Completion::downcast), [`wait_for`](OwnedRing::wait_for)) turns
//!   the operation into it: buffers back, a new
//!   [`OwnedFd`](std::os::fd::OwnedFd) for operations that create one. Dropping
//!   the `Completion` does the same and drops the output: its descriptors close
//!   and its buffers are freed.
//!
//! **Ids.** The kernel's `user_data` is `1 << 63 | generation << 32 | slot`: the
//! slot is the table index, the generation (30 bits of it) says which use of the
//! slot. A slot is reused only after its operation's final completion, so a
//! completion always names the operation it belongs to; an [`OpId`] carries the
//! full 64-bit generation and the ring's identity, so an id of a finished
//! operation, or of another ring, never matches a new one. Bit 62 marks the ring's
//! own internal entries (cancellations). Raw entries pushed with
//! [`push_raw`](OwnedRing::push_raw) (an `unsafe` method) must keep both bits clear
//! ([`RAW_USER_DATA_MAX`]); the ring refuses them otherwise, so they can never be
//! taken for a table entry.
//!
//! **Handles.** `OpId`s are plain ids: dropping one, or [`mem::forget`](std::mem::forget)ting it,
//! changes nothing — the operation stays in the table until its completion
//! arrives and is then queued (or dropped, for an id given to
//! [`detach`](OwnedRing::detach)). Forgetting the whole `OwnedRing` leaks the table
//! along with the ring, so nothing the kernel may still use is ever freed.
//! Operations and buffers are `'static`, so nothing borrowed can be handed to the
//! kernel and then released by a leak.
//!
//! **Descriptors.** An operation on a file holds a [`SharedFd`] clone, so the
//! descriptor stays open until the final completion, whatever the caller does with
//! its own copies: the number cannot be closed and reused for another file while
//! the kernel may still look it up. Operations that create descriptors
//! ([`ops::OpenAt`], [`ops::OpenAt2`], [`ops::Accept`], [`ops::AcceptMulti`],
//! [`ops::Socket`], and [`ops::RecvMsg`] for descriptors passed with
//! `SCM_RIGHTS`) always ask for close-on-exec and wrap each new descriptor in an
//! `OwnedFd` when the output is made — if no one wants it (the completion is
//! dropped, or its id was detached), it is closed, not leaked. [`ops::Close`] takes an `OwnedFd` by value; the kernel
//! closes it, or — when the close was cancelled before it ran — the ring does.
//!
//! **Pushing, and panics.** An operation's entry is built before it enters the
//! table (a panic there leaves nothing behind); the table entry is made before the
//! entry is pushed, and removed again — handing the operation back in a
//! [`SubmitError`] — if the push fails. There is no user code between the push
//! and the table being consistent. A linked chain is pushed all at once or not at
//! all. A panic in the caller's own code while it holds completions (or in the
//! middle of iterating them) leaves the ring consistent: completions not yet
//! taken stay queued, and the kernel's completion queue head only ever counts
//! entries the table has processed. A panic inside an operation's own
//! [`Op::complete`] (possible only for operations implemented outside this crate)
//! happens when its output is made — after the operation left the table, when the
//! kernel is done with it — and leaves the others in place. A panic in
//! [`Op::more`] (a multishot operation's handler) may escape the ring's `Drop`: the
//! table then leaks whatever is still in flight instead of freeing it.
//!
//! **Completion queue overflow.** The ring needs `IORING_FEAT_NODROP` (Linux 5.5):
//! when the completion queue is full the kernel keeps further completions on its
//! overflow list instead of dropping them. Whenever the ring reaps completions it
//! drains the queue and, while the kernel reports an overflow, enters the kernel
//! to flush the overflow list and drains again — so no completion is lost, and no
//! operation's resources stay in the table forever. (If the kernel runs out of
//! memory for its overflow list it drops completions; their operations then stay
//! in the table and are treated as still in flight, which is safe.)
//!
//! **Cancellation.** [`cancel`](OwnedRing::cancel) submits an
//! `IORING_OP_ASYNC_CANCEL` for the operation's `user_data`. Nothing is freed by
//! cancelling: the operation's resources go back only with its final completion
//! (usually `ECANCELED`, but it may have completed normally first).
//!
//! **Dropping the ring.** With nothing in flight, `Drop` just tears the ring down.
//! Otherwise it submits whatever is queued, submits a cancellation for every
//! operation in the table, and waits (with `io_uring_enter`'s own timeout,
//! [`set_drop_timeout`](OwnedRing::set_drop_timeout), 5 s by default) until their
//! final completions arrive, processing each as usual. If the time passes first
//! (a request the kernel cannot cancel, such as a read stuck on a slow device), or
//! the ring cannot be entered at all, the operations still in the table are
//! **leaked**: moved to a process-wide list ([`leaked_ops`] counts them) that is
//! never freed, and their buffers and descriptors with them. Only then is the ring
//! itself torn down (`io_uring_queue_exit`, which closes the ring's descriptor).
//! That matters because closing an io_uring does not wait for its requests: the
//! kernel cancels what it can, but a request already running in an io-wq worker
//! can still write to its buffer afterwards, through the process's address space.
//! Leaked memory stays allocated and unused, so such a late write is harmless.
//! Nothing here relies on `io_uring_queue_exit` waiting for anything. (The wait
//! uses `IORING_FEAT_EXT_ARG`, Linux 5.11; without it the ring does not wait, and
//! leaks whatever has not completed by then.)
//! [`close`](OwnedRing::close) does the same as `Drop`, and reports the counts.
//!
//! **Provided buffers.** A [`BufPool`] is a provided-buffer ring registered with
//! one `OwnedRing`, plus the buffers it names, in one allocation that the pool
//! frees only after unregistering the group (if unregistering fails, it leaks
//! them). Handles, operations and guards share the pool through an `Arc`, so its
//! memory lives as long as any of them:
//!
//! * an operation that lets the kernel pick a buffer ([`ops::RecvSelect`],
//!   [`ops::ReadSelect`], [`ops::RecvMulti`], [`ops::ReadMulti`],
//!   [`ops::RecvBundle`], [`ops::RecvBundleMulti`]) holds the pool until its final
//!   completion, so the buffer the kernel writes is alive whatever the caller
//!   drops; such an operation is refused (`EXDEV`) by any ring but the pool's —
//!   another ring's group of the same number names other memory;
//! * every buffer is in exactly one place: in the ring (the kernel's to pick), or
//!   held by one [`PoolBuf`] (the completion that named it handed it over).
//!   A guard is made only from a completion naming the buffer (the kernel took it
//!   out of the ring), never twice (a completion naming a buffer already held is
//!   refused with `EIO`), and dropping the guard puts the buffer back, under the
//!   pool's lock. So no more buffers are ever in the ring than it has entries,
//!   and the kernel never writes a buffer a guard reads;
//! * a guard may outlive the ring (recycling then writes into the pool's own
//!   ring memory, still mapped; the kernel's ring is kept by the pool's
//!   duplicate of its descriptor), be sent to another thread (recycling is
//!   locked; the ring entries are written with atomics and published with a
//!   release store), or be [`mem::forget`](std::mem::forget)ten: its buffer then
//!   never returns to the ring, and the pool's memory is never freed (nor its
//!   duplicate of the ring's descriptor, which keeps the kernel's ring).
//! * a [`SendQueue`] is the sending side: pushed buffers belong to the queue
//!   (their entries are in the kernel's ring) until a [`SendBundle`] has sent
//!   all of their bytes. Only one bundle per queue exists at a time (a second is
//!   `EBUSY`), it is refused (`EXDEV`) by other rings, and it holds the queue's
//!   memory until its final completion. Entries the kernel may read are
//!   rewritten only while no bundle exists: after a bundle, the queue reads the
//!   kernel's head and writes what was not sent back from there. Buffers are
//!   dropped only after the group is unregistered (or leaked if that fails, or
//!   if the queue stopped because it could not tell what the kernel did).
//!
//! **Multishot.** A [`Multishot`] operation ([`submit_multishot`](OwnedRing::submit_multishot))
//! stays in the table, with its descriptor and pool, until its completion without
//! `MORE`; each completion before that becomes an item (a guard, a new
//! descriptor) queued with the operation, and taken with
//! [`next_item`](OwnedRing::next_item). Cancelling ends the stream with that
//! final completion, not before; items nobody takes are dropped with the
//! operation's output (descriptors closed, buffers recycled). If the ring is
//! dropped mid-stream, the operation is cancelled and waited for as any other.
//!
//! **Async** (feature `async`). An `AsyncRing` wraps an `OwnedRing` with an
//! eventfd registered for its completions; futures (`OpFuture`) and streams
//! (`ItemStream`) hold only an operation id and a handle to the ring. The
//! operations stay in the ring's table exactly as above, so a future changes
//! nothing about who owns what: dropping it submits a cancellation and detaches
//! the operation (its output is dropped when its final completion arrives; if the
//! ring is borrowed at that moment, the cancellation waits for the next
//! `AsyncRing::process`), and forgetting it leaves the operation
//! running with its output queued — and leaks its handle, so the ring, its
//! eventfd and everything in flight are never freed. The adapter is `!Send` (its handles share the
//! ring through `Rc`/`RefCell`), so futures cannot move it between threads; a
//! re-entrant use of the ring is a `RefCell` panic, never aliasing, and wakers run
//! with no borrow held. Its `eventfd` stays open while any handle lives, which is
//! what a reactor such as tokio's `AsyncFd::register_with_interest` needs.
//!
//! **Threads.** `OwnedRing` is `Send` (operations and outputs are `Send`) and not
//! `Sync`: every method that drives it takes `&mut self`.
//!
//! **Registered buffers.** A [`FixedBufs`] registers its memory as one ring's
//! registered-buffer table (one per ring; registering a second is `EBUSY`), and
//! shares that memory through an `Arc` with its [`FixedBuf`] handles and the
//! operations using them ([`ReadFixed`], [`WriteFixed`]):
//!
//! * a buffer index is in exactly one place: the set's free list, or one
//!   `FixedBuf` (which the caller holds, or an operation owns while in flight),
//!   so the kernel never writes a buffer the caller can read, and two operations
//!   never share one;
//! * an operation holds its buffer, and so the memory, until its final
//!   completion; dropping the `FixedBufs`, the handles or the ring, or
//!   forgetting any of them, never frees memory an operation may use — a leaked
//!   operation keeps it for ever. The memory is freed only with the last `Arc`,
//!   after the table is unregistered through the set's own duplicate of the
//!   ring's descriptor (if that fails, or before Linux 5.13, it is leaked);
//! * the operations name a table index, which means something only on the ring
//!   the set is registered with: they are refused (`EXDEV`) by any other ring.
//!
//! **Flags the ring refuses.** Plain [`ops::Send`] drops `MSG_ZEROCOPY` (its pages
//! would be read after the completion, until a notification the ring never sees);
//! receives drop `MSG_TRUNC` (the kernel would report bytes it never wrote, which
//! the buffer would then count as initialised), and bundles `MSG_WAITALL`;
//! [`ops::SendMsg`] sends no control data (it could name descriptors the operation
//! does not own); [`ops::Splice`] and [`ops::Tee`] drop `SPLICE_F_FD_IN_FIXED`;
//! [`ops::MsgRing`] posts only `user_data` up to [`RAW_USER_DATA_MAX`], so it can
//! never complete a table entry of the target ring; no operation sets a
//! `file_index`, only [`ReadFixed`] and [`WriteFixed`] name a registered buffer
//! (their own, on their own ring), and only those of a [`BufPool`] name a
//! provided-buffer group (their own, on their own ring).
//!
//! **Tests.** Each hazard above has a test:
//!
//! * `uring/tests/owned_hazards.rs`: dropping with a read pending, `mem::forget`,
//!   closing the caller's copy of a descriptor, a completion-queue overflow flood,
//!   panics in a completion handler, in an operation's `complete` and out of
//!   `Drop`, stale and foreign ids, raw `user_data`, unwanted descriptors, the
//!   leak path;
//! * `owned_pool.rs`: guards leaked, outliving the ring, dropped on another
//!   thread, an exhausted pool, a pool used on another ring;
//! * `owned_fixed.rs`: registered buffers used on another ring, the set or the
//!   ring dropped with a read in flight, a leaked read, recycled and forgotten
//!   handles, a second table;
//! * `owned_multishot.rs`: streams cancelled, running dry, dropped mid-stream,
//!   items never taken;
//! * `owned_ops_more.rs`: descriptors received with `SCM_RIGHTS`, bundles over
//!   buffers recycled out of order, pending futex waits and `waitid`s cancelled
//!   on close;
//! * `owned_send_bundle.rs`: a second bundle refused while one is in flight, a
//!   bundle cut short by a reset peer (exactly the unsent bytes stay queued), a
//!   blocked bundle cancelled, the ring closed mid-send, the queue outliving a
//!   ring that keeps sending from it;
//! * with `--features async`, `owned_async.rs`: dropped futures and streams, the
//!   tokio echo example;
//! * `owned_fuzz_found.rs`: what the fuzzers found. `cargo xtask fuzz` runs random
//!   programs of safe calls (the `uring-fuzz` crate) against the kernel and checks
//!   a model after every step: bytes exactly once and in order, one final
//!   completion per operation, no descriptor leaked, every pool buffer in one place.
//!
//! They also run under
//! AddressSanitizer: `RUSTFLAGS=-Zsanitizer=address cargo +nightly test --target
//! x86_64-unknown-linux-gnu -p uring --test 'owned_*'` (with
//! `ASAN_OPTIONS=detect_leaks=0`, or LeakSanitizer rightly reports the ring that
//! `forgetting_the_ring_leaks_everything_and_frees_nothing` forgets).

mod aligned;
#[cfg(feature = "async")]
mod asyncio;
mod buf;
mod chained;
mod fd;
mod fixed;
mod multi;
pub mod ops;
pub(crate) mod pool;
pub(crate) mod sendpool;

#[cfg(feature = "async")]
pub use asyncio::{AsyncRing, ItemStream, NextItem, OpFuture};

pub use aligned::AlignedBuf;
pub use buf::{IoBuf, IoBufMut, Slice};
pub use chained::{ChainedBuf, Drain, Fill};
pub use fd::SharedFd;
pub use fixed::{
    FixedBuf, FixedBufs, FixedIoBuf, MAX_FIXED_BUF_SIZE, MAX_FIXED_BUFS, ReadFixed, WriteFixed,
};
pub use multi::{ItemPoll, Items, Multi, Multishot};
pub use pool::{BufPool, PoolBuf};
pub use sendpool::{MAX_SEND_BUF, Rejected, SendBundle, SendQueue, Sent};

use core::marker::PhantomData;
use std::any::{Any, TypeId};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::cqueue::{Cqe, CqeFlags};
use crate::setup::{Builder, Features, SetupFlags};
use crate::sqe::{Sqe, SqeFlags};
use crate::{Ring, error};

/// Marks the table's own entries in `user_data`.
const TAG_OWNED: u64 = 1 << 63;
/// Marks the ring's internal entries (cancellations), whose completions are ignored.
const TAG_INTERNAL: u64 = 1 << 62;
/// Bits of the generation kept in `user_data`.
const GEN_BITS: u32 = 30;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// The largest `user_data` a raw entry may carry: bits 63 and 62 are reserved for
/// the ring's own entries.
pub const RAW_USER_DATA_MAX: u64 = TAG_INTERNAL - 1;

/// Flags the table clears from its operations' entries: a completion must come for
/// each, and links are the ring's to set (the last entry of a chain never links).
const TABLE_STRIPPED: SqeFlags = SqeFlags::IO_HARDLINK.union(SqeFlags::CQE_SKIP_SUCCESS);

/// How long dropping an [`OwnedRing`] waits for cancelled operations by default.
pub const DEFAULT_DROP_TIMEOUT: Duration = Duration::from_secs(5);

/// An operation the [`OwnedRing`] can run: it owns everything its entry names.
///
/// The operations in [`ops`] implement it; implement it yourself for an opcode
/// they do not cover.
///
/// # Safety
///
/// An implementation promises:
///
/// * the entry [`sqe`](Self::sqe) returns names only memory that `self` owns, in
///   heap allocations (or static memory) whose addresses do not change when `self`
///   is moved, and that nothing reads (where the kernel writes) or writes (where it
///   reads) until [`complete`](Self::complete) is called or `self` is dropped;
/// * the one exception to the above: memory the kernel reads atomically (a futex
///   word, [`ops::FutexWait`]) may be written meanwhile with atomic operations;
/// * it names only descriptors that `self` keeps open until then (for example
///   through a [`SharedFd`]), no registered buffers, provided-buffer groups or
///   fixed files (their lifetimes are not tied to the operation), and does not
///   post its final completion more than once. The exception is this crate's
///   own operations that hold what they name ([`ReadFixed`], [`WriteFixed`],
///   [`ops::RecvSelect`], …): they keep the registered memory alive through an
///   `Arc` until `self` is dropped, and say through a hidden method, which only
///   this crate can override, which ring that registration belongs to — the
///   ring refuses them anywhere else. An implementation outside this crate
///   cannot do that, so it must name none of them;
/// * `complete` takes ownership of anything the kernel created (a new descriptor)
///   so that dropping the output releases it.
///
/// The ring overwrites the entry's `user_data` and clears `IO_LINK`,
/// `IO_HARDLINK` and `CQE_SKIP_SUCCESS` (it sets `IO_LINK` itself in chains).
/// `sqe` may be called more than once; only the last entry is submitted.
/// `complete` should not panic: it runs when the output is taken or when a
/// [`Completion`] is dropped (possibly while the ring is dropped).
pub unsafe trait Op: Send + Sized + 'static {
    /// What the caller gets back: the result and the resources.
    type Output: Send + 'static;

    /// The entry to submit.
    fn sqe(&mut self) -> Sqe;

    /// Turns the operation into its output, after its final completion `cqe`.
    fn complete(self, cqe: &Cqe) -> Self::Output;

    /// Sees a completion flagged `MORE` (the operation stays in flight). Default:
    /// ignores it.
    fn more(&mut self, cqe: &Cqe) {
        let _ = cqe;
    }

    /// The ring this operation must be submitted to (one whose provided-buffer
    /// group it names), if any. Only this crate's operations can say so.
    #[doc(hidden)]
    fn bound_ring(&self, _: imp::Token) -> Option<u64> {
        None
    }
}

mod imp {
    use super::*;

    /// An [`Op`] with its type erased, as the table stores it.
    pub trait Erased: Send {
        fn complete_erased(self: Box<Self>, cqe: &Cqe) -> Box<dyn Any + Send>;
        fn complete_dropped(self: Box<Self>, cqe: &Cqe);
        fn more_erased(&mut self, cqe: &Cqe);
        fn into_any(self: Box<Self>) -> Box<dyn Any>;
        fn op_type(&self) -> TypeId;
        fn op_name(&self) -> &'static str;
        fn as_any_mut(&mut self) -> &mut dyn Any;
        fn bound_ring_erased(&self) -> Option<u64>;
    }

    impl<T: Op> Erased for T {
        fn complete_erased(self: Box<Self>, cqe: &Cqe) -> Box<dyn Any + Send> {
            Box::new((*self).complete(cqe))
        }
        fn complete_dropped(self: Box<Self>, cqe: &Cqe) {
            drop((*self).complete(cqe));
        }
        fn more_erased(&mut self, cqe: &Cqe) {
            self.more(cqe)
        }
        fn into_any(self: Box<Self>) -> Box<dyn Any> {
            self
        }
        fn op_type(&self) -> TypeId {
            TypeId::of::<T>()
        }
        fn op_name(&self) -> &'static str {
            core::any::type_name::<T>()
        }
        fn as_any_mut(&mut self) -> &mut dyn Any {
            self
        }
        fn bound_ring_erased(&self) -> Option<u64> {
            self.bound_ring(Token(()))
        }
    }

    pub trait Sealed {}

    /// Proof of being inside this crate, for [`Op::bound_ring`]: code elsewhere
    /// can neither name nor make one, so it cannot override the method.
    #[derive(Clone, Copy)]
    pub struct Token(pub(in crate::owned) ());
}

use imp::Erased;

/// Identifies one submitted operation; untyped, `Copy`, comparable. See
/// [`OpId::key`] and [`Completion::key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpKey {
    ring: u64,
    slot: u32,
    generation: u64,
}

/// The id of an operation of type `T` submitted to an [`OwnedRing`].
///
/// Only an id: it owns nothing, so dropping or forgetting it has no effect on the
/// operation (see the [safety model](self#safety-model)). Give it to
/// [`wait_for`](OwnedRing::wait_for) for the operation's typed output,
/// [`cancel`](OwnedRing::cancel) it, [`detach`](OwnedRing::detach) it, or compare
/// its [`key`](Self::key) with a [`Completion`]'s.
#[must_use = "an id is how the operation's output is found again"]
pub struct OpId<T> {
    key: OpKey,
    _op: PhantomData<fn() -> T>,
}

impl<T> OpId<T> {
    fn new(key: OpKey) -> OpId<T> {
        OpId {
            key,
            _op: PhantomData,
        }
    }

    /// The untyped key, to match against [`Completion::key`].
    pub fn key(&self) -> OpKey {
        self.key
    }
}

impl<T> fmt::Debug for OpId<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpId")
            .field("op", &core::any::type_name::<T>())
            .field("key", &self.key)
            .finish()
    }
}

/// A finished operation: its result as the kernel posted it, and its output (the
/// buffers and descriptors it owned, and what it produced).
///
/// Get the output with [`downcast`](Self::downcast) to the operation's type. Dropping
/// a `Completion` drops the output: buffers are freed, descriptors closed.
pub struct Completion {
    key: OpKey,
    res: i32,
    flags: u32,
    output: Output,
}

/// What a [`Completion`] holds. The operation becomes its output only when the
/// output is asked for (or the completion dropped): one allocation fewer per
/// operation than turning it into a boxed output at once.
enum Output {
    /// The finished operation, with the final completion to turn it into its output.
    Op(Box<dyn Erased>, Cqe),
    /// The output already made (a multishot stream whose items are being taken).
    Made {
        output: Box<dyn Any + Send>,
        op_type: TypeId,
        op_name: &'static str,
    },
    /// Moved out: only while a completion is being taken apart.
    Gone,
}

impl Completion {
    /// Which operation this is.
    pub fn key(&self) -> OpKey {
        self.key
    }

    /// Whether this completes the operation `id` names.
    pub fn is_for<T>(&self, id: &OpId<T>) -> bool {
        self.key == id.key
    }

    /// The operation's type name (for messages).
    pub fn op_name(&self) -> &'static str {
        match &self.output {
            Output::Op(op, _) => op.op_name(),
            Output::Made { op_name, .. } => op_name,
            Output::Gone => "",
        }
    }

    fn op_type(&self) -> Option<TypeId> {
        match &self.output {
            Output::Op(op, _) => Some(op.op_type()),
            Output::Made { op_type, .. } => Some(*op_type),
            Output::Gone => None,
        }
    }

    /// The output, made now if it was not yet.
    pub(crate) fn output_mut(&mut self) -> Option<&mut (dyn Any + Send)> {
        if let Output::Op(..) = self.output {
            let Output::Op(op, cqe) = core::mem::replace(&mut self.output, Output::Gone) else {
                unreachable!("just matched")
            };
            let (op_type, op_name) = (op.op_type(), op.op_name());
            self.output = Output::Made {
                output: op.complete_erased(&cqe),
                op_type,
                op_name,
            };
        }
        match &mut self.output {
            Output::Made { output, .. } => Some(&mut **output),
            _ => None,
        }
    }

    /// The final completion's `res`: a count or value, or `-errno`.
    pub fn raw_result(&self) -> i32 {
        self.res
    }

    /// The final completion's `res` as a result.
    pub fn result(&self) -> io::Result<u32> {
        if self.res < 0 {
            Err(io::Error::from_raw_os_error(-self.res))
        } else {
            Ok(self.res as u32)
        }
    }

    /// The final completion's flags.
    pub fn flags(&self) -> CqeFlags {
        CqeFlags::from_bits_retain(self.flags)
    }

    /// The output of operation `id`, typed by the id (no need to name the op's
    /// type), or `self` back if this completion is another operation's.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, SharedFd, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let file = SharedFd::from(std::fs::File::open("/proc/self/stat")?);
    /// let read = ring.submit_op(ops::Read::new(&file, vec![0u8; 16], 0))?;
    /// let nop = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(2)?;
    /// for c in ring.completions() {
    ///     let c = match c.into_output(&read) {
    ///         Ok((res, buf)) => {
    ///             assert_eq!(buf.len(), res?);
    ///             continue;
    ///         }
    ///         Err(other) => other,
    ///     };
    ///     assert_eq!(c.into_output(&nop).unwrap()?, 0);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_output<T: Op>(self, id: &OpId<T>) -> Result<T::Output, Completion> {
        if self.is_for(id) {
            self.downcast::<T>()
        } else {
            Err(self)
        }
    }

    /// Whether the operation was a `T`.
    pub fn is<T: Op>(&self) -> bool {
        self.op_type() == Some(TypeId::of::<T>())
    }

    /// The output of an operation of type `T`, or `self` back if it was another
    /// type.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let _id = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(1)?;
    /// let c = ring.completions().next().unwrap();
    /// let c = c.downcast::<ops::Timeout>().unwrap_err(); // not a timeout
    /// assert_eq!(c.downcast::<ops::Nop>().unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn downcast<T: Op>(self) -> Result<T::Output, Completion> {
        if !self.is::<T>() {
            return Err(self);
        }
        let mut this = self;
        match core::mem::replace(&mut this.output, Output::Gone) {
            Output::Op(op, cqe) => match op.into_any().downcast::<T>() {
                Ok(op) => Ok(op.complete(&cqe)),
                Err(_) => unreachable!("the type was just checked"),
            },
            Output::Made {
                output,
                op_type,
                op_name,
            } => match output.downcast::<T::Output>() {
                Ok(out) => Ok(*out),
                Err(output) => {
                    this.output = Output::Made {
                        output,
                        op_type,
                        op_name,
                    };
                    Err(this)
                }
            },
            Output::Gone => Err(this),
        }
    }
}

impl Drop for Completion {
    /// Turns the operation into its output and drops that: buffers freed, new
    /// descriptors closed.
    fn drop(&mut self) {
        if let Output::Op(op, cqe) = core::mem::replace(&mut self.output, Output::Gone) {
            op.complete_dropped(&cqe);
        }
    }
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("key", &self.key)
            .field("op", &self.op_name())
            .field("res", &self.res)
            .field("flags", &self.flags())
            .finish_non_exhaustive()
    }
}

/// A submission that did not happen: why, and the operation (or chain) back,
/// untouched by the kernel.
///
/// Converts into the [`io::Error`] (dropping the operation) for `?`.
pub struct SubmitError<T> {
    /// Why.
    pub error: io::Error,
    /// The operation, with its buffers and descriptors.
    pub op: T,
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubmitError")
            .field("error", &self.error)
            .field("op", &core::any::type_name::<T>())
            .finish()
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "could not submit {}: {}",
            core::any::type_name::<T>(),
            self.error
        )
    }
}

impl<T> std::error::Error for SubmitError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T> From<SubmitError<T>> for io::Error {
    fn from(e: SubmitError<T>) -> io::Error {
        e.error
    }
}

/// The operations of a linked chain, as [`OwnedRing::submit_linked`] collects them.
/// Opaque.
#[doc(hidden)]
#[derive(Default)]
pub struct ChainParts {
    ops: VecDeque<Box<dyn Erased>>,
    sqes: Vec<Sqe>,
}

impl ChainParts {
    fn add<T: Op>(&mut self, mut op: T) {
        // Built before the op is boxed or tabled: a panic here leaves nothing behind.
        let sqe = op.sqe();
        self.ops.push_back(Box::new(op));
        self.sqes.push(sqe);
    }

    fn take<T: Op>(&mut self) -> T {
        let op = self.ops.pop_front().expect("one op per chain member");
        *op.into_any()
            .downcast::<T>()
            .expect("chain members come back in order")
    }
}

/// Operations that can be submitted as one linked chain (`IOSQE_IO_LINK`): tuples
/// of up to six [`Op`]s, or a `Vec` of one type. Each starts only after the
/// previous one succeeded; after a failure (including a short read or write) the
/// rest complete with `ECANCELED`. Every member owns its resources as a single
/// operation does.
pub trait Linked: imp::Sealed + Sized {
    /// The members' ids, in the same shape.
    type Ids;
    #[doc(hidden)]
    fn into_parts(self, parts: &mut ChainParts);
    #[doc(hidden)]
    fn from_parts(parts: ChainParts) -> Self;
    #[doc(hidden)]
    fn ids(keys: Vec<OpKey>) -> Self::Ids;
}

macro_rules! linked_tuple {
    ($($t:ident),+) => {
        impl<$($t: Op),+> imp::Sealed for ($($t,)+) {}
        impl<$($t: Op),+> Linked for ($($t,)+) {
            type Ids = ($(OpId<$t>,)+);
            #[allow(non_snake_case)]
            fn into_parts(self, parts: &mut ChainParts) {
                let ($($t,)+) = self;
                $( parts.add($t); )+
            }
            fn from_parts(mut parts: ChainParts) -> Self {
                ($( parts.take::<$t>(), )+)
            }
            fn ids(keys: Vec<OpKey>) -> Self::Ids {
                let mut keys = keys.into_iter();
                ($( OpId::<$t>::new(keys.next().expect("one key per member")), )+)
            }
        }
    };
}

linked_tuple!(A);
linked_tuple!(A, B);
linked_tuple!(A, B, C);
linked_tuple!(A, B, C, D);
linked_tuple!(A, B, C, D, E);
linked_tuple!(A, B, C, D, E, F);

impl<T: Op> imp::Sealed for Vec<T> {}
impl<T: Op> Linked for Vec<T> {
    type Ids = Vec<OpId<T>>;
    fn into_parts(self, parts: &mut ChainParts) {
        for op in self {
            parts.add(op);
        }
    }
    fn from_parts(mut parts: ChainParts) -> Self {
        (0..parts.ops.len()).map(|_| parts.take::<T>()).collect()
    }
    fn ids(keys: Vec<OpKey>) -> Self::Ids {
        keys.into_iter().map(OpId::new).collect()
    }
}

/// One slot of the in-flight table.
struct Entry {
    /// The generation of the slot's current (or last) operation.
    generation: u64,
    state: State,
}

enum State {
    Free { next: u32 },
    InFlight { op: Box<dyn Erased>, detached: bool },
}

const NO_SLOT: u32 = u32::MAX;

/// The in-flight table: a slab of operations keyed by slot, with generations.
struct Table {
    entries: Vec<Entry>,
    free: u32,
    in_flight: usize,
}

impl Table {
    fn new() -> Table {
        Table {
            entries: Vec::new(),
            free: NO_SLOT,
            in_flight: 0,
        }
    }

    fn insert(&mut self, op: Box<dyn Erased>) -> (u32, u64) {
        let state = State::InFlight {
            op,
            detached: false,
        };
        self.in_flight += 1;
        if self.free != NO_SLOT {
            let slot = self.free;
            let entry = &mut self.entries[slot as usize];
            let State::Free { next } = entry.state else {
                unreachable!("the free list holds free slots")
            };
            self.free = next;
            entry.generation += 1;
            entry.state = state;
            (slot, entry.generation)
        } else {
            let slot = u32::try_from(self.entries.len())
                .ok()
                .filter(|&s| s != NO_SLOT)
                .expect("fewer than 2^32 - 1 operations in flight");
            self.entries.push(Entry {
                generation: 0,
                state,
            });
            (slot, 0)
        }
    }

    /// The in-flight entry at `slot` whose generation's low bits are `gen_low`.
    fn find(&mut self, slot: u32, gen_low: u64) -> Option<&mut Entry> {
        let entry = self.entries.get_mut(slot as usize)?;
        let live = matches!(entry.state, State::InFlight { .. });
        (live && entry.generation & GEN_MASK == gen_low).then_some(entry)
    }

    fn is_in_flight(&self, key: &OpKey) -> bool {
        self.entries.get(key.slot as usize).is_some_and(|e| {
            e.generation == key.generation && matches!(e.state, State::InFlight { .. })
        })
    }

    /// Takes the operation out of `slot` (which must be in flight) and frees the slot.
    fn remove(&mut self, slot: u32) -> (Box<dyn Erased>, bool) {
        let entry = &mut self.entries[slot as usize];
        let state = core::mem::replace(&mut entry.state, State::Free { next: self.free });
        let State::InFlight { op, detached } = state else {
            unreachable!("only in-flight slots are removed")
        };
        self.free = slot;
        self.in_flight -= 1;
        (op, detached)
    }

    fn user_data(slot: u32, generation: u64) -> u64 {
        TAG_OWNED | (generation & GEN_MASK) << 32 | slot as u64
    }

    /// The user data of every operation in flight.
    fn all_user_data(&self) -> Vec<u64> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.state, State::InFlight { .. }))
            .map(|(i, e)| Table::user_data(i as u32, e.generation))
            .collect()
    }
}

impl Drop for Table {
    /// Normally the table is empty by now (`OwnedRing::drop` waited for, or
    /// leaked, everything). If it is not — a panic escaped the ring's drop — what
    /// is still in flight is leaked here rather than freed.
    fn drop(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        let mut graveyard = GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner());
        for entry in &mut self.entries {
            if let State::InFlight { .. } = entry.state {
                let state = core::mem::replace(&mut entry.state, State::Free { next: NO_SLOT });
                if let State::InFlight { op, .. } = state {
                    graveyard.push(op);
                }
            }
        }
        self.in_flight = 0;
    }
}

/// Operations leaked by rings dropped while the kernel might still use them.
static GRAVEYARD: Mutex<Vec<Box<dyn Erased>>> = Mutex::new(Vec::new());

/// How many operations this process has leaked so far: operations an
/// [`OwnedRing`] was dropped with that did not complete within its drop timeout.
/// Their memory and descriptors are never freed (see the
/// [safety model](self#safety-model)).
pub fn leaked_ops() -> usize {
    GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// What [`OwnedRing::close`] did with the operations in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// Operations that completed (mostly cancelled) while closing; their outputs
    /// were dropped.
    pub completed: usize,
    /// Operations still in flight when the time ran out, or when the ring could
    /// not be entered: leaked, never freed.
    pub leaked: usize,
}

static NEXT_RING_ID: AtomicU64 = AtomicU64::new(1);

/// A ring that runs operations owning their resources: the safe way to use
/// io_uring. See the [module documentation](self) for an example and the safety
/// model.
pub struct OwnedRing {
    ring: Ring,
    table: Table,
    /// Completions processed and not yet taken.
    ready: VecDeque<Completion>,
    /// Completions of raw entries.
    raw: VecDeque<Cqe>,
    id: u64,
    drop_timeout: Duration,
    /// Keys of operations that saw a completion, when an async adapter wants them.
    touched: Option<Vec<OpKey>>,
    /// The same, for the caller ([`track_activity`](Self::track_activity)).
    activity: Option<Vec<OpKey>>,
}

impl OwnedRing {
    /// A ring with `entries` submission queue entries (see [`Ring::new`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::new`]; `Unsupported` on kernels without
    /// `IORING_FEAT_NODROP` (before Linux 5.5).
    pub fn new(entries: u32) -> io::Result<OwnedRing> {
        OwnedRing::from_builder(Ring::builder(), entries)
    }

    /// A ring set up by `builder` (any setup flags).
    ///
    /// ```
    /// let ring = uring::owned::OwnedRing::from_builder(uring::Ring::builder().cq_entries(64), 4)?;
    /// assert_eq!(ring.ring().params().cq_entries(), 64);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`new`](Self::new).
    pub fn from_builder(builder: Builder<'_>, entries: u32) -> io::Result<OwnedRing> {
        let ring = builder.build(entries)?;
        if !ring.features().contains(Features::NODROP) {
            return Err(error::with_context(
                libc::EOPNOTSUPP,
                "the safe ring needs IORING_FEAT_NODROP (Linux 5.5) so that no completion is lost",
            ));
        }
        Ok(OwnedRing {
            ring,
            table: Table::new(),
            ready: VecDeque::new(),
            raw: VecDeque::new(),
            id: NEXT_RING_ID.fetch_add(1, Ordering::Relaxed),
            drop_timeout: DEFAULT_DROP_TIMEOUT,
            touched: None,
            activity: None,
        })
    }

    /// The underlying ring, to read its parameters and features.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The underlying ring, mutably: for registering resources and the like.
    ///
    /// # Safety
    ///
    /// Do not consume completions through it (they belong to the table: an
    /// operation whose final completion is consumed elsewhere stays in the table
    /// until the ring is dropped, and is then leaked), do not replace or tear down
    /// the ring, and push only what [`push_raw`](Self::push_raw) allows.
    pub unsafe fn ring_mut(&mut self) -> &mut Ring {
        &mut self.ring
    }

    /// How many operations are in the table (submitted or queued, without their
    /// final completion processed yet).
    pub fn in_flight(&self) -> usize {
        self.table.in_flight
    }

    /// How long dropping the ring waits for its in-flight operations before
    /// leaking them (default [`DEFAULT_DROP_TIMEOUT`]).
    pub fn set_drop_timeout(&mut self, timeout: Duration) {
        self.drop_timeout = timeout;
    }

    /// Queues `op`; it reaches the kernel with the next submit (or earlier, when the
    /// submission queue is full and this call submits to make room).
    ///
    /// # Errors
    ///
    /// The operation comes back with the error when it could not be queued: the
    /// kernel refused a submit made to free room, or the queue stayed full.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// assert_eq!(ring.wait_for(id)?.unwrap(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn submit_op<T: Op>(&mut self, mut op: T) -> Result<OpId<T>, SubmitError<T>> {
        if let Err(error) = self.check_binding(op.bound_ring(imp::Token(()))) {
            return Err(SubmitError { error, op });
        }
        // Built before the op is tabled: a panic in `sqe` leaves nothing behind.
        let sqe = op.sqe();
        if let Err(error) = self.make_room(1) {
            return Err(SubmitError { error, op });
        }
        let (slot, generation) = self.table.insert(Box::new(op));
        let flags = sqe.get_flags() - SqeFlags::IO_LINK - TABLE_STRIPPED;
        let sqe = sqe
            .set_flags(flags)
            .user_data(Table::user_data(slot, generation));
        // SAFETY: as in `table_and_push`: the entry was built by an `Op`, which is
        // now in the table until its final completion is processed (or is leaked),
        // and its user data carries TAG_OWNED.
        match unsafe { self.ring.submission().push(&sqe) } {
            Ok(()) => Ok(OpId::new(OpKey {
                ring: self.id,
                slot,
                generation,
            })),
            Err(e) => {
                let (op, _) = self.table.remove(slot);
                let op = *op.into_any().downcast::<T>().expect("the same op");
                Err(SubmitError {
                    error: io::Error::other(e),
                    op,
                })
            }
        }
    }

    /// Queues a linked chain: each member starts only after the previous one
    /// succeeded (`IOSQE_IO_LINK`); after a failure the rest complete with
    /// `ECANCELED`. The chain is queued whole or not at all.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (a, b) = ring.submit_linked((ops::Nop::new(), ops::Nop::new()))?;
    /// assert_eq!(ring.wait_for(a)?.unwrap(), 0);
    /// assert_eq!(ring.wait_for(b)?.unwrap(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit_op`](Self::submit_op); `EINVAL` for a chain longer than the
    /// submission queue.
    pub fn submit_linked<L: Linked>(&mut self, chain: L) -> Result<L::Ids, SubmitError<L>> {
        let mut parts = ChainParts::default();
        chain.into_parts(&mut parts);
        let n = parts.sqes.len();
        if n == 0 {
            return Ok(L::ids(Vec::new()));
        }
        let bound = parts
            .ops
            .iter()
            .try_for_each(|op| self.check_binding(op.bound_ring_erased()));
        if let Err(error) = bound.and_then(|()| self.make_room(n)) {
            return Err(SubmitError {
                error,
                op: L::from_parts(parts),
            });
        }
        let last = n - 1;
        for (i, sqe) in parts.sqes.iter_mut().enumerate() {
            if i != last {
                *sqe = sqe.clone().flags(SqeFlags::IO_LINK);
            }
        }
        let ChainParts { ops, sqes } = parts;
        match self.table_and_push(ops.into(), sqes) {
            Ok(keys) => Ok(L::ids(keys)),
            Err((error, ops)) => Err(SubmitError {
                error,
                op: L::from_parts(ChainParts {
                    ops: ops.into(),
                    sqes: Vec::new(),
                }),
            }),
        }
    }

    /// Queues `op` with a time limit: a linked [`ops::LinkTimeout`] cancels it if
    /// it has not completed after `after` (it then completes with `ECANCELED`, and
    /// the timeout with `ETIME`; otherwise the timeout completes with
    /// `ECANCELED`). Both ids come back; [`detach`](Self::detach) the timeout's if
    /// its result does not matter.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let (r, _w) = std::os::unix::net::UnixStream::pair()?; // no data will come
    /// let (read, timeout) =
    ///     ring.submit_with_timeout(ops::Recv::new(r, vec![0u8; 8]), Duration::from_millis(1))?;
    /// ring.detach(timeout);
    /// let (res, _buf) = ring.wait_for(read)?;
    /// assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`submit_linked`](Self::submit_linked); the operation comes back.
    pub fn submit_with_timeout<T: Op>(
        &mut self,
        op: T,
        after: Duration,
    ) -> Result<(OpId<T>, OpId<ops::LinkTimeout>), SubmitError<T>> {
        self.submit_linked((op, ops::LinkTimeout::new(after)))
            .map_err(|SubmitError { error, op: (op, _) }| SubmitError { error, op })
    }

    /// Refuses an operation bound to another ring (it names a buffer group
    /// registered there).
    fn check_binding(&self, bound: Option<u64>) -> io::Result<()> {
        match bound {
            Some(ring) if ring != self.id => Err(error::with_context(
                libc::EXDEV,
                "this operation uses a registration of another ring (a buffer pool, \
                 registered buffers or a send queue)",
            )),
            _ => Ok(()),
        }
    }

    /// Makes sure `n` submission queue slots are free, submitting if needed.
    fn make_room(&mut self, n: usize) -> io::Result<()> {
        // One view of the queue (each loads the kernel's head) on the hot path.
        let (capacity, remaining) = {
            let sq = self.ring.submission();
            (sq.capacity(), sq.remaining())
        };
        if remaining >= n {
            return Ok(());
        }
        if n > capacity {
            return Err(error::with_context(
                libc::EINVAL,
                format!("{n} entries cannot fit a submission queue of {capacity}"),
            ));
        }
        self.submit_retrying()?;
        while self.ring.submission().remaining() < n {
            if !self.ring.flags().contains(SetupFlags::SQPOLL) {
                return Err(error::with_context(
                    libc::EBUSY,
                    "the submission queue stayed full after submitting",
                ));
            }
            // The poll thread takes entries on its own time: wait until it has.
            self.ring.sqring_wait()?;
        }
        Ok(())
    }

    /// Submits, retrying on `EINTR`, and once after reaping on `EBUSY`/`EAGAIN`
    /// (completions the kernel could not post yet).
    fn submit_retrying(&mut self) -> io::Result<usize> {
        let mut reaped = false;
        loop {
            match self.ring.submit() {
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e)
                    if !reaped && matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) =>
                {
                    reaped = true;
                    self.reap()?;
                }
                r => return r,
            }
        }
    }

    /// Puts `ops` in the table and pushes their entries (room was made); on a push
    /// failure takes them out again and hands them back.
    #[allow(clippy::type_complexity)]
    fn table_and_push(
        &mut self,
        ops: Vec<Box<dyn Erased>>,
        mut sqes: Vec<Sqe>,
    ) -> Result<Vec<OpKey>, (io::Error, Vec<Box<dyn Erased>>)> {
        let strip = TABLE_STRIPPED;
        let last = sqes.len().saturating_sub(1);
        let mut keys = Vec::with_capacity(ops.len());
        for ((i, op), sqe) in ops.into_iter().enumerate().zip(sqes.iter_mut()) {
            let (slot, generation) = self.table.insert(op);
            keys.push(OpKey {
                ring: self.id,
                slot,
                generation,
            });
            let mut flags = sqe.get_flags() - strip;
            if i == last {
                flags -= SqeFlags::IO_LINK;
            }
            *sqe = sqe
                .clone()
                .set_flags(flags)
                .user_data(Table::user_data(slot, generation));
        }
        // SAFETY: every entry was built by an `Op` (whose contract is that it names
        // only memory and descriptors the op owns, at stable addresses) and its op
        // is now in the table, which keeps it — and so that memory and those
        // descriptors — until the entry's final completion is processed, or leaks
        // it. The user data carries TAG_OWNED, so no raw entry can share it.
        let pushed = unsafe { self.ring.submission().push_multiple(&sqes) };
        match pushed {
            Ok(()) => Ok(keys),
            Err(e) => {
                let ops = keys.iter().map(|k| self.table.remove(k.slot).0).collect();
                Err((io::Error::other(e), ops))
            }
        }
    }

    /// Pushes an entry that is not in the table; its completion comes back from
    /// [`raw_completions`](Self::raw_completions).
    ///
    /// # Errors
    ///
    /// `EINVAL` for `user_data` above [`RAW_USER_DATA_MAX`] (reserved for the
    /// table), `EBUSY` when the submission queue is full.
    ///
    /// # Safety
    ///
    /// As for [`SubmissionQueue::push`](crate::SubmissionQueue::push): the memory
    /// and descriptors the entry names must stay valid until its completion is
    /// returned from `raw_completions` — including past this ring's drop, which
    /// does not wait for raw entries. The entry must not be linked
    /// (`IO_LINK`/`IO_HARDLINK`) to the table's entries.
    ///
    /// A raw completion's `user_data` is not proof of which entry it is for:
    /// another ring can post any value up to [`RAW_USER_DATA_MAX`] into this one
    /// ([`ops::MsgRing`], safely). Free an entry's memory only on a completion
    /// that cannot be forged that way (unique values the senders cannot know,
    /// or no `MsgRing` senders).
    pub unsafe fn push_raw(&mut self, sqe: &Sqe) -> io::Result<()> {
        if sqe.get_user_data() > RAW_USER_DATA_MAX {
            return Err(error::with_context(
                libc::EINVAL,
                "raw entries' user_data must leave bits 63 and 62 clear (they mark the table's entries)",
            ));
        }
        // SAFETY: forwarded from this function's contract.
        unsafe { self.ring.submission().push(sqe) }.map_err(|e| match e {
            crate::PushError::Full => io::Error::from_raw_os_error(libc::EBUSY),
            other => io::Error::other(other),
        })
    }

    /// Submits what is queued (see [`Ring::submit`]).
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit`].
    pub fn submit(&mut self) -> io::Result<usize> {
        self.ring.submit()
    }

    /// Submits, then waits until at least `want` completions are in the kernel's
    /// completion queue (see [`Ring::submit_and_wait`]). Some of them may be the
    /// ring's internal ones.
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit_and_wait`].
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.ring.submit_and_wait(want)
    }

    /// [`submit_and_wait`](Self::submit_and_wait) with a timeout (see
    /// [`Ring::submit_and_wait_timeout`]): `ETIME` when it passed.
    ///
    /// # Errors
    ///
    /// As for [`Ring::submit_and_wait_timeout`].
    pub fn submit_and_wait_timeout(&mut self, want: usize, timeout: Duration) -> io::Result<usize> {
        self.ring.submit_and_wait_timeout(want, timeout)
    }

    /// Processes every completion the kernel has posted (flushing its overflow
    /// list), and returns an iterator over the finished operations, oldest first.
    ///
    /// Completions the iterator does not reach stay queued for the next call.
    pub fn completions(&mut self) -> Completions<'_> {
        // An error here means the kernel's overflow list could not be flushed
        // now; what is in the queue was still processed, and the rest comes with
        // the next enter.
        let _ = self.reap();
        Completions { ring: self }
    }

    /// Processes every posted completion and returns an iterator over those of
    /// raw entries ([`push_raw`](Self::push_raw)).
    pub fn raw_completions(&mut self) -> RawCompletions<'_> {
        let _ = self.reap();
        RawCompletions { ring: self }
    }

    /// Submits what is queued and waits until operation `id` has completed;
    /// returns its output. Other operations' completions are queued for
    /// [`completions`](Self::completions) meanwhile.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id of another ring; `ENOENT` when the operation's completion
    /// was already taken (through `completions`) or the id was detached; the
    /// kernel's errno when submitting or waiting fails (the operation stays in
    /// flight, and its completion will come through `completions`).
    pub fn wait_for<T: Op>(&mut self, id: OpId<T>) -> io::Result<T::Output> {
        if id.key.ring != self.id {
            return Err(error::with_context(
                libc::EINVAL,
                "this operation id belongs to another ring",
            ));
        }
        loop {
            self.reap()?;
            if let Some(i) = self.ready.iter().position(|c| c.key == id.key) {
                let c = self.ready.remove(i).expect("the position just found");
                return match c.downcast::<T>() {
                    Ok(out) => Ok(out),
                    Err(c) => {
                        // Unreachable for ids made by this ring; never lose it anyway.
                        self.ready.insert(i, c);
                        Err(error::with_context(
                            libc::EINVAL,
                            "the completion is of another operation type",
                        ))
                    }
                };
            }
            if !self.table.is_in_flight(&id.key) {
                return Err(error::with_context(
                    libc::ENOENT,
                    "this operation's completion was already taken or detached",
                ));
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Submits what is queued and waits for the next finished operation (the
    /// oldest one queued, if any already is).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// let c = ring.next_completion()?;
    /// assert!(c.is_for(&id));
    /// // Nothing left in flight: an error rather than waiting forever.
    /// assert!(ring.next_completion().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOENT` when nothing is queued or in flight (waiting would never end); the
    /// kernel's errno when submitting or waiting fails.
    pub fn next_completion(&mut self) -> io::Result<Completion> {
        loop {
            self.reap()?;
            if let Some(c) = self.ready.pop_front() {
                return Ok(c);
            }
            if self.table.in_flight == 0 {
                return Err(error::with_context(
                    libc::ENOENT,
                    "no operation is in flight, so no completion will come",
                ));
            }
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks the kernel to cancel operation `id` (`IORING_OP_ASYNC_CANCEL`), and
    /// submits. Its resources come back, as always, with its final completion —
    /// `ECANCELED` if the cancellation caught it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Timeout::new(Duration::from_secs(3600)))?;
    /// ring.submit()?;
    /// ring.cancel(&id)?;
    /// let err = ring.wait_for(id)?.unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOENT` when the operation is no longer in flight; the kernel's errno when
    /// submitting fails.
    pub fn cancel<T>(&mut self, id: &OpId<T>) -> io::Result<()> {
        self.cancel_key(id.key)
    }

    fn cancel_key(&mut self, key: OpKey) -> io::Result<()> {
        if key.ring != self.id || !self.table.is_in_flight(&key) {
            return Err(error::with_context(
                libc::ENOENT,
                "this operation is not in flight on this ring",
            ));
        }
        self.make_room(1)?;
        self.push_cancel(Table::user_data(key.slot, key.generation))?;
        self.submit_retrying()?;
        Ok(())
    }

    /// Pushes an internal cancellation of `target` (room must have been made).
    fn push_cancel(&mut self, target: u64) -> io::Result<()> {
        let sqe = crate::op::AsyncCancel::new(target)
            .build()
            .user_data(TAG_INTERNAL);
        // SAFETY: an ASYNC_CANCEL entry names no memory and no descriptor; its
        // `addr` is the user data to match, not a pointer. Its own user data is
        // TAG_INTERNAL, which the table never uses.
        unsafe { self.ring.submission().push(&sqe) }.map_err(io::Error::other)
    }

    /// Says that operation `id`'s output is not wanted: it is dropped (buffers
    /// freed, new descriptors closed) as soon as its final completion arrives, or
    /// now if it already has. The operation is not cancelled.
    pub fn detach<T>(&mut self, id: OpId<T>) {
        self.detach_key(id.key)
    }

    fn detach_key(&mut self, key: OpKey) {
        if key.ring != self.id {
            return;
        }
        if let Some(i) = self.ready.iter().position(|c| c.key == key) {
            self.ready.remove(i);
            return;
        }
        if self.table.is_in_flight(&key) {
            if let State::InFlight { detached, .. } =
                &mut self.table.entries[key.slot as usize].state
            {
                *detached = true;
            }
        }
    }

    /// Takes operation `id`'s output if its final completion has arrived, without
    /// waiting (it processes what the kernel posted, but does not submit).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let id = ring.submit_op(ops::Nop::new())?;
    /// assert!(ring.try_take(&id).is_none()); // not even submitted yet
    /// ring.submit_and_wait(1)?;
    /// assert_eq!(ring.try_take(&id).unwrap()?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_take<T: Op>(&mut self, id: &OpId<T>) -> Option<T::Output> {
        let _ = self.reap();
        self.take_ready(id)
    }

    fn take_ready<T: Op>(&mut self, id: &OpId<T>) -> Option<T::Output> {
        let i = self.ready.iter().position(|c| c.key == id.key)?;
        let c = self.ready.remove(i)?;
        match c.downcast::<T>() {
            Ok(out) => Some(out),
            Err(c) => {
                // Unreachable for ids made by this ring; never lose it anyway.
                self.ready.insert(i, c);
                None
            }
        }
    }

    /// Starts recording which operations get completions, for
    /// [`take_activity`](Self::take_activity): an event loop then looks only at the
    /// operations that have something for it, instead of polling every stream.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// ring.track_activity();
    /// let a = ring.submit_op(ops::Nop::new())?;
    /// ring.submit_and_wait(1)?;
    /// let mut keys = Vec::new();
    /// ring.take_activity(&mut keys)?;
    /// assert_eq!(keys, [a.key()]);
    /// ring.take_activity(&mut keys)?;
    /// assert_eq!(keys, [a.key()]); // nothing new was appended
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn track_activity(&mut self) {
        self.activity.get_or_insert_with(Vec::new);
    }

    /// Processes every completion the kernel has posted, and appends to `keys` the
    /// key of each operation that got one since the last call (an item of a
    /// multishot stream, or a final completion), oldest first; an operation with
    /// several completions appears once per completion. Appends nothing unless
    /// [`track_activity`](Self::track_activity) was called.
    ///
    /// The completions themselves are where they always are: items with
    /// [`poll_item`](Self::poll_item), finished operations with
    /// [`completions`](Self::completions).
    ///
    /// Every method that processes completions records them (`completions`,
    /// `poll_item`, `wait_for`, …), so an event loop should call this before it
    /// blocks in the kernel, and block only when it appended nothing: otherwise
    /// completions processed while it handled the last batch wait unseen.
    /// [`wait_activity`](Self::wait_activity) does exactly that.
    ///
    /// # Errors
    ///
    /// The kernel's errno when flushing its overflow list fails; what was already
    /// in the completion queue is processed and its keys appended anyway.
    pub fn take_activity(&mut self, keys: &mut Vec<OpKey>) -> io::Result<()> {
        let reaped = self.reap();
        if let Some(seen) = self.activity.as_mut() {
            keys.append(seen);
        }
        reaped
    }

    /// The step of an event loop: submits what is queued and appends to `keys`
    /// the operations that got completions, as
    /// [`take_activity`](Self::take_activity) — waiting in the kernel for one first
    /// only if none is already there to report. So completions processed while the
    /// last batch was handled are never left waiting behind a blocking call.
    /// Starts [tracking](Self::track_activity) if it was not on.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let a = ring.submit_op(ops::Nop::new())?;
    /// let mut keys = Vec::new();
    /// ring.wait_activity(&mut keys)?; // submits, and waits for the NOP
    /// assert_eq!(keys, [a.key()]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `ENOENT` when nothing has activity and no operation is in flight (waiting
    /// would never end); the kernel's errno when submitting or waiting fails
    /// (`EINTR` and `EBUSY` are not errors: the call returns, maybe with nothing
    /// appended, and the caller loops).
    pub fn wait_activity(&mut self, keys: &mut Vec<OpKey>) -> io::Result<()> {
        self.track_activity();
        let before = keys.len();
        self.take_activity(keys)?;
        let entered = if keys.len() > before {
            self.ring.submit().map(drop)
        } else if self.table.in_flight == 0 {
            return Err(error::with_context(
                libc::ENOENT,
                "no operation is in flight, so no activity will come",
            ));
        } else {
            self.ring.submit_and_wait(1).map(drop)
        };
        match entered {
            Err(e) if !matches!(error::errno(&e), Some(libc::EINTR | libc::EBUSY)) => {
                return Err(e);
            }
            _ => {}
        }
        self.take_activity(keys)
    }

    /// Whether operation `id` is still in the table (its final completion not yet
    /// processed).
    pub fn is_in_flight<T>(&self, id: &OpId<T>) -> bool {
        id.key.ring == self.id && self.table.is_in_flight(&id.key)
    }

    /// Moves every posted completion out of the kernel's queue into `ready` (or
    /// `raw`), flushing the overflow list while there is one.
    fn reap(&mut self) -> io::Result<()> {
        let mut stalled = false;
        loop {
            let mut n = 0usize;
            {
                let OwnedRing {
                    ring,
                    table,
                    ready,
                    raw,
                    id,
                    touched,
                    activity,
                    ..
                } = self;
                for cqe in ring.completion() {
                    n += 1;
                    let seen = Seen {
                        touched: touched.as_mut(),
                        activity: activity.as_mut(),
                    };
                    dispatch(table, ready, raw, seen, *id, cqe);
                }
            }
            if !self.ring.cq_has_overflow() {
                return Ok(());
            }
            if n == 0 {
                if stalled {
                    // The kernel reports an overflow but flushes nothing; the next
                    // enter will try again.
                    return Ok(());
                }
                stalled = true;
            } else {
                stalled = false;
            }
            // Enter with GETEVENTS: the kernel moves overflowed completions into
            // the room just made.
            self.ring.get_events()?;
        }
    }

    /// Does what `Drop` does — cancels everything in flight, waits up to the drop
    /// timeout, leaks what is left — and says what happened.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// // A read that never gets data.
    /// let (r, _w) = std::os::unix::net::UnixStream::pair()?;
    /// let _id = ring.submit_op(ops::Read::new(r, vec![0u8; 8], 0))?;
    /// let report = ring.close();
    /// assert_eq!((report.completed, report.leaked), (1, 0));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn close(mut self) -> CloseReport {
        let timeout = self.drop_timeout;
        self.shutdown(timeout)
    }

    fn shutdown(&mut self, timeout: Duration) -> CloseReport {
        let before = self.table.in_flight;
        if before == 0 {
            return CloseReport {
                completed: 0,
                leaked: 0,
            };
        }
        let deadline = Instant::now() + timeout;
        // Everything queued goes to the kernel, then a cancellation for each.
        let mut can_wait = self.submit_retrying().is_ok();
        if can_wait {
            for target in self.table.all_user_data() {
                if self
                    .make_room(1)
                    .and_then(|()| self.push_cancel(target))
                    .is_err()
                {
                    break;
                }
            }
            can_wait = self.submit_retrying().is_ok();
        }
        if can_wait {
            loop {
                if self.reap().is_err() {
                    break;
                }
                self.ready.clear();
                if self.table.in_flight == 0 {
                    break;
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                match self.ring.submit_and_wait_timeout(1, deadline - now) {
                    Ok(_) => {}
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR)) => {}
                    Err(_) => break,
                }
            }
        }
        let _ = self.reap();
        self.ready.clear();
        // What the kernel may still hold is leaked, never freed.
        let leaked = self.table.in_flight;
        if leaked > 0 {
            let mut graveyard = GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner());
            for slot in 0..self.table.entries.len() as u32 {
                if matches!(
                    self.table.entries[slot as usize].state,
                    State::InFlight { .. }
                ) {
                    graveyard.push(self.table.remove(slot).0);
                }
            }
        }
        CloseReport {
            completed: before - leaked,
            leaked,
        }
    }
}

/// Where [`dispatch`] records which operation saw a completion.
struct Seen<'a> {
    touched: Option<&'a mut Vec<OpKey>>,
    activity: Option<&'a mut Vec<OpKey>>,
}

/// Routes one completion: to its table entry (completing it unless `MORE`), to
/// the raw queue, or nowhere (internal entries).
fn dispatch(
    table: &mut Table,
    ready: &mut VecDeque<Completion>,
    raw: &mut VecDeque<Cqe>,
    seen: Seen<'_>,
    ring_id: u64,
    cqe: Cqe,
) {
    let ud = cqe.user_data();
    if ud & TAG_OWNED == 0 {
        if ud & TAG_INTERNAL == 0 {
            raw.push_back(cqe);
        }
        return;
    }
    let slot = ud as u32;
    let gen_low = (ud >> 32) & GEN_MASK;
    let Some(entry) = table.find(slot, gen_low) else {
        // Not one of ours in flight: cannot happen while the user-data rules hold.
        return;
    };
    let key = OpKey {
        ring: ring_id,
        slot,
        generation: entry.generation,
    };
    if let Some(touched) = seen.touched {
        touched.push(key);
    }
    if let Some(activity) = seen.activity {
        activity.push(key);
    }
    if cqe.is_more() {
        if let State::InFlight { op, .. } = &mut entry.state {
            op.more_erased(&cqe);
        }
        return;
    }
    let generation = entry.generation;
    let (op, detached) = table.remove(slot);
    if detached {
        // Nobody will ask: the output (new descriptors, buffers) is released now.
        op.complete_dropped(&cqe);
    } else {
        ready.push_back(Completion {
            key: OpKey {
                ring: ring_id,
                slot,
                generation,
            },
            res: cqe.raw_result(),
            flags: cqe.flags().bits(),
            output: Output::Op(op, cqe),
        });
    }
}

impl Drop for OwnedRing {
    fn drop(&mut self) {
        let timeout = self.drop_timeout;
        self.shutdown(timeout);
        // Then the fields: the ring is torn down; the table holds nothing in flight.
    }
}

impl fmt::Debug for OwnedRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedRing")
            .field("ring", &self.ring)
            .field("in_flight", &self.table.in_flight)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

/// Iterator over finished operations, from [`OwnedRing::completions`]. Each item
/// is taken out of the ring's queue as it is yielded; the rest stay queued if the
/// iterator is dropped early.
pub struct Completions<'a> {
    ring: &'a mut OwnedRing,
}

impl Iterator for Completions<'_> {
    type Item = Completion;

    fn next(&mut self) -> Option<Completion> {
        self.ring.ready.pop_front()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.ring.ready.len(), Some(self.ring.ready.len()))
    }
}

impl fmt::Debug for Completions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completions")
            .field("queued", &self.ring.ready.len())
            .finish()
    }
}

/// Iterator over completions of raw entries, from [`OwnedRing::raw_completions`].
pub struct RawCompletions<'a> {
    ring: &'a mut OwnedRing,
}

impl Iterator for RawCompletions<'_> {
    type Item = Cqe;

    fn next(&mut self) -> Option<Cqe> {
        self.ring.raw.pop_front()
    }
}

impl fmt::Debug for RawCompletions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawCompletions")
            .field("queued", &self.ring.raw.len())
            .finish()
    }
}
