//! The safe layer: operations that own their buffers and descriptors.
//!
//! An [`OwnedRing`] drives a [`Ring`](crate::Ring) for you. You hand it an operation from
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
//! A loop whose operations are all of one type takes their outputs with
//! [`completions_of`](OwnedRing::completions_of), typed, without a
//! [`Completion`] to downcast (others stay queued) — or runs on a
//! [`TypedRing`], a ring for operations of that one type, which keeps them by
//! value in slots of their own type and hands their outputs straight from the
//! kernel's queue (no chains or multishot items there; registrations, made on
//! it as on an `OwnedRing`: both are a [`SafeRing`]).
//!
//! Provided buffers ([`BufPool`]: the kernel picks a buffer, a [`PoolBuf`] guard
//! hands over the bytes and recycles it when dropped), multishot streams
//! ([`Multishot`], [`OwnedRing::next_item`]), direct descriptors ([`DirectTable`]:
//! files the ring's registered table holds, named by index, moved between rings
//! with [`ops::SendDirect`]) and, with feature `async`, futures (`AsyncRing`)
//! build on the same table.
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
//!   structures, and a clone of the [`SharedFd`] it targets. The table keeps the
//!   operation itself in a slot (in place when it is small, else in a box the
//!   slot owns), typed by a static table of functions for its type rather than a
//!   `Box<dyn …>`, so submitting allocates nothing. Every piece of memory the
//!   kernel is told about lives in a heap allocation (or static memory) that the
//!   operation owns, and the entry is built before the operation moves into its
//!   slot, so moving it there, or the table growing, never changes an address the
//!   kernel holds ([`IoBuf`]'s contract). Nothing outside the table can reach that
//!   memory: the caller holds only an [`OpId`], which is a number.
//! * At the final completion the operation stays in its slot, marked finished
//!   with that completion, and joins the table's list of finished operations, in
//!   the order they finished. The kernel is done with it. Taking the output
//!   ([`wait_for`](OwnedRing::wait_for), [`try_take`](OwnedRing::try_take), a
//!   future) finds the slot by its id, frees it, and turns the operation into its
//!   output: buffers back, a new [`OwnedFd`](std::os::fd::OwnedFd) for operations
//!   that create one. [`completions`](OwnedRing::completions) instead moves each
//!   finished operation out of its slot as a [`Completion`] (one it reaches in the
//!   kernel's queue straight away, without listing it), which belongs to
//!   whoever takes it; [`downcast`](Completion::downcast) makes the output, and
//!   dropping the `Completion` does the same and drops the output: its
//!   descriptors close and its buffers are freed.
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
//! arrives and then until it is taken (or it is dropped then, for an id given
//! to [`detach`](OwnedRing::detach)). Forgetting the whole `OwnedRing` leaks the table
//! along with the ring, so nothing the kernel may still use is ever freed.
//! Operations and buffers are `'static`, so nothing borrowed can be handed to the
//! kernel and then released by a leak.
//!
//! **Descriptors.** An operation on a file holds a [`SharedFd`] clone, so the
//! descriptor stays open until the final completion, whatever the caller does with
//! its own copies: the number cannot be closed and reused for another file while
//! the kernel may still look it up. A descriptor the ring holds ([`HeldFd`], from
//! [`OwnedRing::hold_fd`]) gives the same guarantee without a reference count per
//! operation: the ring records which held file each operation in flight names
//! (checking, before it submits one, that it holds that very descriptor), and
//! closes a released one only after those operations' final completions — or
//! never, if the ring had to leak one of them. Operations that create descriptors
//! ([`ops::OpenAt`], [`ops::OpenAt2`], [`ops::Accept`], [`ops::AcceptMultishot`],
//! [`ops::Socket`], and [`ops::RecvMsg`] for descriptors passed with
//! `SCM_RIGHTS`) always ask for close-on-exec and wrap each new descriptor in an
//! `OwnedFd` when the output is made — if no one wants it (the completion is
//! dropped, or its id was detached), it is closed, not leaked. [`ops::Close`] takes an `OwnedFd` by value; the kernel
//! closes it, or — when the close was cancelled before it ran — the ring does.
//!
//! **Direct descriptors.** A [`DirectTable`] is the ring's registered-file table
//! (sparse), and a [`DirectFd`] owns one of its slots. Operations name the slot
//! by index (`IOSQE_FIXED_FILE`) and hold a share of the handle until their
//! final completion; the slot is emptied, and free for another file, only when
//! the last share is gone — so an entry still queued, linked behind another, or
//! running (the kernel resolves a fixed file when the request is issued) never
//! finds another file there. The table's chosen range is handed out by the
//! table alone and its kernel range by the kernel alone (the registered
//! allocation range), so a reserved slot is never picked for something else. A
//! slot a completion reports is adopted only if the books say it is free. A
//! `DirectFd` binds its operations to its ring: any other refuses them
//! (`EXDEV`). A descriptor moved to another ring ([`ops::SendDirect`]) arrives
//! with a completion whose `user_data` has bits 62 and 61 set, which no safe
//! message can carry, so a ring adopts only slots the kernel really filled for
//! it; one never taken goes down with the receiving ring's table.
//!
//! **Pushing, and panics.** An operation's entry is built before it enters the
//! table (a panic there leaves nothing behind); the table entry is made before the
//! entry is pushed, and removed again — handing the operation back in a
//! [`SubmitError`] — if the push fails. There is no user code between the push
//! and the table being consistent. A linked chain is pushed all at once or not at
//! all. A panic in the caller's own code while it holds completions (or in the
//! middle of iterating them) leaves the ring consistent: completions not yet
//! taken stay in the table, and the kernel's completion queue head only ever
//! counts entries the table has processed. A panic inside an operation's own
//! [`Op::complete`] (possible only for operations implemented outside this crate)
//! happens when its output is made — after the operation was moved out of its
//! slot and the slot freed, when the kernel is done with it — and leaves the
//! others in place; what the operation held is dropped once, by the unwinding. A panic in
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
//! (usually `ECANCELED`, but it may have completed normally first). A
//! cancellation finds only what the kernel has issued: a linked member whose
//! head has just completed may not be issued yet, and is then not found (and
//! runs); `cancel` returning `Ok` says the cancellation was submitted, not what
//! it found.
//!
//! **Dropping the ring.** With nothing in flight, `Drop` just tears the ring down.
//! Otherwise it submits whatever is queued, submits a cancellation for every
//! operation in the table, and waits (with `io_uring_enter`'s own timeout,
//! [`set_drop_timeout`](OwnedRing::set_drop_timeout), 5 s by default) until their
//! final completions arrive, processing each as usual. Whenever a short wait
//! passes with nothing completing, it cancels again what is still in flight (a
//! linked member issued only after the first round — its head had just
//! completed — is found then). If the time passes first
//! (a request the kernel cannot cancel, such as a read stuck on a slow device, or
//! a zero-copy send ([`ops::SendZc`]) whose notification waits for an idle peer
//! to read the bytes), or
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
//!   [`ops::ReadSelect`], [`ops::RecvMultishot`], [`ops::ReadMultishot`],
//!   [`ops::RecvBundle`], [`ops::RecvBundleMultishot`]) holds the pool until its final
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
//!   never returns to the ring, and the pool — its memory, and its duplicate of
//!   the ring's descriptor, so the kernel's ring too — is never freed.
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
//! The end of a stream says why it ended ([`StreamEnd`]: the final completion's
//! result and flags, and whether the kernel stopped a stream that could go on —
//! a full completion queue does that — so that re-arming is right).
//!
//! **Async** (feature `async`). An `AsyncRing` wraps an `OwnedRing` with an
//! eventfd registered for its completions; futures (`OpFuture`) and streams
//! (`ItemStream`) hold only an operation id and a handle to the ring. The
//! operations stay in the ring's table exactly as above, so a future changes
//! nothing about who owns what: dropping it submits a cancellation and detaches
//! the operation (its output is dropped when its final completion arrives; if the
//! ring is borrowed at that moment, the cancellation waits for the next
//! `AsyncRing::process`), and forgetting it leaves the operation
//! running with its output queued — and, since a future holds an `Rc` of the
//! ring, leaks the whole ring: the table, the queued outputs, the eventfd and the
//! kernel ring are never freed (nothing unsafe follows). The adapter is `!Send`
//! (its handles share the
//! ring through `Rc`/`RefCell`), so futures cannot move it between threads; a
//! re-entrant use of the ring is a `RefCell` panic, never aliasing, and wakers run
//! with no borrow held. Its `eventfd` stays open while any handle lives; with
//! feature `tokio`, `AsyncRing::tokio_driver` watches a duplicate of it that
//! tokio's `AsyncFd` owns, so no `unsafe` is needed. While that driver runs it
//! also submits for the ring: `run` and `stream` queue their entries and wake it,
//! and it submits all those of one turn of the runtime in one `io_uring_enter`
//! (without it, each call submits its own).
//!
//! **Threads.** `OwnedRing` is `Send` (operations and outputs are `Send`) and not
//! `Sync`: every method that drives it takes `&mut self`.
//!
//! A ring set up with `SINGLE_ISSUER` (and so every `DEFER_TASKRUN` ring) is the
//! exception the kernel makes: it takes submissions — and registrations, and
//! with `DEFER_TASKRUN` waits — only from one task, refusing every other with
//! `EEXIST`. The ring therefore sets such a ring up disabled
//! (`IORING_SETUP_R_DISABLED`) and enables it on its first entry into the kernel
//! (a submit or a wait; pushing an operation does not enter), on the thread that
//! makes it: a ring made on one thread and first used on another belongs to the
//! second. From then on, every call that would enter the kernel from another
//! thread is refused before the kernel sees it, with `EEXIST` and a message
//! naming the rule (registering a [`BufPool`] or [`FixedBufs`] there is refused
//! by the kernel). Moving such a ring after its first use is allowed, but it can
//! only be driven, and cancel, on its own thread; so dropping (or
//! [`close`](OwnedRing::close)ing) it elsewhere with operations in flight **hands
//! it back**: it is parked for its thread ([`parked_rings`] counts them), which
//! cancels and waits for them as a drop does the next time it makes or drops an
//! `OwnedRing`, and when it exits. Nothing is freed early and nothing is leaked
//! while that thread lives. If it has exited, no thread can enter with the ring
//! any more: a drop elsewhere waits (up to the drop timeout) for the completions
//! that still arrive, reading the completion queue, and leaks what has not come
//! (a read on an idle socket). Rings set up without `SINGLE_ISSUER` have none of
//! this: any thread may drive them, one at a time.
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
//! the buffer would then count as initialised) — except that
//! [`ops::RecvMsgMultishot`] sets it itself on datagram sockets, where the kernel
//! stores and counts only what fits and reports the full length in the header —,
//! and bundles `MSG_WAITALL`;
//! [`ops::SendMsg`] sends no control data (it could name descriptors the operation
//! does not own); [`ops::Splice`] and [`ops::Tee`] drop `SPLICE_F_FD_IN_FIXED`;
//! [`ops::MsgRing`] posts only `user_data` up to [`RAW_USER_DATA_MAX`], so it can
//! never complete a table entry of the target ring; only the operations of
//! [`ops`] whose names end in `Direct` set a `file_index`, into their own table;
//! only [`ReadFixed`], [`WriteFixed`] and [`ops::SendZcFixed`] name a registered buffer
//! (their own, on their own ring), and only those of a [`BufPool`] name a
//! provided-buffer group (their own, on their own ring).
//!
//! **Tests.** Each hazard above has a test, in the `owned` test binary
//! (`uring/tests/owned/`, one module a file):
//!
//! * `owned_hazards.rs`: dropping with a read pending, a linked member issued
//!   after close's first cancellations, `SINGLE_ISSUER` rings moved between
//!   threads (bound by first use, refused elsewhere, handed back on a foreign
//!   drop), `mem::forget`,
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
//! * `owned_alloc.rs`: once warm, submitting, reaping and taking outputs
//!   (`wait_for`, `try_take`, `completions`, `next_completion`, chains)
//!   allocates nothing — operations live in their table slots;
//! * `owned_direct.rs`: a direct descriptor dropped, or closed, while an
//!   operation (queued or running) uses it, a held slot asked for, a handle on
//!   another ring, a full kernel range, the ring dropped before the handle;
//! * `owned_pass.rs`: descriptors moved to another thread's ring, to a ring
//!   without a table or with a full one (given back), to a dropped ring, never
//!   received (closed with the table), and a plain message that must not pass
//!   for one;
//! * `owned_udp.rs`: a datagram larger than the pool buffer (cut, and said so),
//!   descriptors in multishot control data never taken (closed), a pool run dry
//!   mid-stream, a stream on another ring, the ring dropped mid-stream, zero-copy
//!   buffers given back only after the notification;
//! * with `--features tokio`, `owned_async.rs`: dropped and forgotten futures
//!   and streams, the tokio driver, the tokio echo example.
//! * `owned_fuzz_found.rs`: what the fuzzers found. `cargo xtask fuzz` runs random
//!   programs of safe calls (the `uring-fuzz` crate) against the kernel and checks
//!   a model after every step: bytes exactly once and in order, one final
//!   completion per operation, no descriptor leaked, every pool buffer in one place.
//!
//! They also run under
//! AddressSanitizer: `RUSTFLAGS=-Zsanitizer=address cargo +nightly test --target
//! x86_64-unknown-linux-gnu -p uring --test owned` (with
//! `ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1`: LeakSanitizer would
//! rightly report the ring that `forgetting_the_ring_leaks_everything_and_frees_nothing`
//! forgets, and the tests of allocation failure ask for more than AddressSanitizer
//! allows, which must come back as an error, not abort).

mod aligned;
#[cfg(feature = "async")]
mod asyncio;
mod buf;
mod chain;
mod chained;
mod closing;
mod direct;
mod fd;
mod fixed;
mod held;
mod host;
mod issuer;
mod multi;
mod op;
pub mod ops;
pub(crate) mod pool;
mod ring;
pub(crate) mod send_queue;
mod slab;
mod table;
#[cfg(feature = "tokio")]
mod tokio_driver;
mod typed;

#[cfg(feature = "async")]
pub use asyncio::{AsyncRing, HeldFile, ItemStream, NextItem, OpFuture};

pub use aligned::AlignedBuf;
pub use buf::{IoBuf, IoBufMut, Slice};
pub use chain::{ChainParts, ChainPrep, Linked};
pub use chained::{ChainedBuf, Drain, Fill};
pub use direct::{DirectFd, DirectSlot, DirectTable, MAX_DIRECT_SLOTS, Mailbox};
pub use fd::SharedFd;
pub use fixed::{FixedBuf, FixedBufs, FixedIoBuf, MAX_FIXED_BUF_SIZE, MAX_FIXED_BUFS};
pub use held::{HeldFd, MAX_HELD_FDS};
pub use host::SafeRing;
pub use issuer::parked_rings;
pub use multi::{ItemPoll, Items, Multi, MultiOutput, Multishot, Next, StreamEnd};
pub use op::{Completion, Op, OpId, OpKey, SubmitError};
pub use ops::{ReadFixed, SendBundle, WriteFixed};
pub use pool::{BufPool, PoolBuf};
pub use ring::{
    CloseReport, Completions, CompletionsOf, DEFAULT_DROP_TIMEOUT, OwnedRing, RAW_USER_DATA_MAX,
    RawCompletions,
};
pub use send_queue::{MAX_SEND_BUF, Rejected, SendQueue, Sent};
pub use table::leaked_ops;
pub use typed::{Batch, TypedCompletions, TypedRing};

use op::imp;
