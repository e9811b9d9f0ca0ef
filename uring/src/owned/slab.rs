//! The in-flight table's storage: typed operations kept in place, in slots of a
//! slab, from submission until their output is taken.
//!
//! Each slot holds its operation inline (up to [`INLINE_BYTES`] bytes at 8-byte
//! alignment; a larger or more aligned operation is boxed, and the slot holds the
//! box), with a `&'static` table of functions for its type ([`VTable`]) in place
//! of a `Box<dyn …>`. A slot goes
//!
//! ```text
//! Free ──insert──▶ InFlight ──final completion──▶ Done(cqe) ──taken──▶ Free
//!                  (a MORE completion is handed to the operation, which stays)
//! ```
//!
//! A detached operation skips `Done`: its output is dropped at the final
//! completion. `Done` slots are linked, oldest first, in the ready list, which is
//! what [`completions`](super::OwnedRing::completions) walks first; a typed take
//! ([`Slab::take`]) finds its slot by key in O(1) and unlinks it. The iterators
//! that read the kernel's queue as they go take an operation at its final
//! completion without listing it ([`Routed::Stop`]): it is `Done` for no longer
//! than that take.
//!
//! Moving an operation (into a slot, when the slab grows, into the graveyard)
//! never changes an address the kernel holds: [`Op`]'s contract is that every
//! such address is of a heap allocation (or static memory) the operation owns, and
//! the entry is built before the operation is moved into the slab at all.

use core::any::TypeId;
use core::marker::PhantomData;
use core::mem::{self, MaybeUninit};
use core::ptr;
use std::sync::Mutex;

use super::held::HeldFiles;
use super::table::GEN_MASK;
use super::{Completion, Op, OpKey};
use crate::cqueue::Cqe;

/// Bytes an operation may take to be stored in its slot without a box.
pub(super) const INLINE_BYTES: usize = 64;

/// No slot: the end of the free list or of the ready list.
pub(super) const NO_SLOT: u32 = u32::MAX;

/// An operation that names no [`HeldFd`](super::HeldFd).
pub(super) const NO_FILE: u32 = u32::MAX;

/// Room for one value of any type: inline when it fits, else a pointer to a box.
///
/// A `Storage` does not know what it holds (its owner's [`VTable`] does) and
/// never drops anything itself.
#[repr(C, align(8))]
pub(super) struct Storage(MaybeUninit<[u8; INLINE_BYTES]>);

/// Whether a `T` is stored inline (rather than boxed).
const fn inline<T>() -> bool {
    mem::size_of::<T>() <= INLINE_BYTES && mem::align_of::<T>() <= mem::align_of::<Storage>()
}

impl Storage {
    const fn empty() -> Storage {
        Storage(MaybeUninit::uninit())
    }

    /// Moves `value` in (boxing it first if it does not fit). Whatever was there
    /// is overwritten, not dropped.
    #[inline(always)]
    fn put<T>(&mut self, value: T) {
        if inline::<T>() {
            // SAFETY: a T fits the storage's size and alignment (just checked).
            unsafe { ptr::write(self.0.as_mut_ptr().cast::<T>(), value) }
        } else {
            let boxed = Box::into_raw(Box::new(value));
            // SAFETY: a pointer fits (the storage is 64 bytes at 8-byte alignment).
            unsafe { ptr::write(self.0.as_mut_ptr().cast::<*mut T>(), boxed) }
        }
    }

    /// Moves the value out.
    ///
    /// # Safety
    ///
    /// The storage holds a `T` put there by [`put`](Self::put), not taken since;
    /// afterwards it holds nothing (taking again would duplicate the value).
    #[inline(always)]
    unsafe fn take<T>(&mut self) -> T {
        if inline::<T>() {
            // SAFETY: the caller's contract: a T is here, inline.
            unsafe { ptr::read(self.0.as_ptr().cast::<T>()) }
        } else {
            // SAFETY: the caller's contract: here is the pointer Box::into_raw
            // gave for this T, and it is taken (so freed) only once.
            unsafe { *Box::from_raw(ptr::read(self.0.as_ptr().cast::<*mut T>())) }
        }
    }

    /// The value, in place.
    ///
    /// # Safety
    ///
    /// The storage holds a `T` put there by [`put`](Self::put), not taken since.
    #[inline(always)]
    unsafe fn get_mut<T>(&mut self) -> &mut T {
        if inline::<T>() {
            // SAFETY: the caller's contract: a live T is here, inline; the
            // borrow of self makes the reference unique.
            unsafe { &mut *self.0.as_mut_ptr().cast::<T>() }
        } else {
            // SAFETY: the caller's contract: here is the pointer to a live boxed
            // T, owned by this storage.
            unsafe { &mut **self.0.as_mut_ptr().cast::<*mut T>() }
        }
    }
}

/// What a slot (or a [`Taken`]) needs to know about the type it holds: a
/// `&'static` table per type, built at compile time.
pub(super) struct VTable {
    /// The operation's type (for a `made` table too: the type of the operation
    /// the output came from). A function, as `TypeId::of` is not `const` in the
    /// crate's MSRV; [`VTable::is`] rarely needs to call it.
    pub(super) op_type: fn() -> TypeId,
    /// `size_of` the operation's type: types of different sizes are different
    /// types, which [`VTable::is`] then tells without calling `op_type`.
    op_size: usize,
    /// The storage holds the operation's output (`T::Output`), already made,
    /// instead of the operation.
    pub(super) made: bool,
    /// The operation's type name, for messages.
    pub(super) name: fn() -> &'static str,
    /// Drops what the storage holds as of a final completion `cqe`: the operation
    /// is turned into its output (new descriptors owned), which is dropped.
    /// Both by value: no caller's storage has its address handed to an
    /// opaque function, which would keep a `Completion` on the stack out of
    /// registers.
    drop_finished: unsafe fn(Storage, Cqe),
    /// Hands a `MORE` completion to the operation.
    more: unsafe fn(&mut Storage, &Cqe),
}

trait OpVTable {
    const VT: VTable;
}

impl<T: Op> OpVTable for T {
    const VT: VTable = VTable {
        op_type: TypeId::of::<T>,
        op_size: mem::size_of::<T>(),
        made: false,
        name: core::any::type_name::<T>,
        drop_finished: drop_finished::<T>,
        more: more::<T>,
    };
}

/// The table of an operation's output, made ahead of being taken (the items of
/// a finished multishot operation, being taken one by one).
struct Made<T>(PhantomData<T>);

trait MadeVTable {
    const VT: VTable;
}

impl<T: Op> MadeVTable for Made<T> {
    const VT: VTable = VTable {
        op_type: TypeId::of::<T>,
        op_size: mem::size_of::<T>(),
        made: true,
        name: core::any::type_name::<T>,
        drop_finished: drop_made::<T>,
        more: more_made,
    };
}

impl VTable {
    /// Whether this is the table of operation type `T` (or of its made output).
    ///
    /// The same address as `T`'s own tables is a `T` without calling anything:
    /// tables of different types differ in `op_type` (functions returning
    /// different constants, which no linker folds together), so they are never
    /// merged into one. A `T` table can still be at another address (a copy
    /// made in another codegen unit, or the made table): then the type ids say,
    /// unless the sizes already tell two types apart.
    #[inline(always)]
    pub(super) fn is<T: Op>(&'static self) -> bool {
        ptr::eq(self, vtable::<T>())
            || (self.op_size == mem::size_of::<T>() && (self.op_type)() == TypeId::of::<T>())
    }
}

/// `T`'s table.
#[inline(always)]
pub(super) fn vtable<T: Op>() -> &'static VTable {
    &<T as OpVTable>::VT
}

fn made_vtable<T: Op>() -> &'static VTable {
    &<Made<T> as MadeVTable>::VT
}

/// # Safety
///
/// `s` holds a `T` (taken here).
unsafe fn drop_finished<T: Op>(mut s: Storage, cqe: Cqe) {
    // SAFETY: forwarded.
    let op = unsafe { s.take::<T>() };
    drop(op.complete(&cqe));
}

/// # Safety
///
/// `s` holds a `T::Output` (taken here).
unsafe fn drop_made<T: Op>(mut s: Storage, _: Cqe) {
    // SAFETY: forwarded.
    drop(unsafe { s.take::<T::Output>() });
}

/// # Safety
///
/// `s` holds a `T`.
unsafe fn more<T: Op>(s: &mut Storage, cqe: &Cqe) {
    // SAFETY: forwarded.
    unsafe { s.get_mut::<T>() }.more(cqe);
}

/// A made output sees no completions (its operation had its final one).
unsafe fn more_made(_: &mut Storage, _: &Cqe) {}

/// A finished operation (or its made output) out of its slot, with its final
/// completion: what a [`Completion`](super::Completion) carries. Dropping it
/// drops the output.
pub(super) struct Taken {
    /// The table of what `op` holds (which is there until the `Taken` is
    /// consumed by [`into_output`](Taken::into_output) or dropped).
    vt: &'static VTable,
    cqe: Cqe,
    op: Storage,
}

// SAFETY: a Taken owns a `T: Op` or its `T::Output`, both `Send`.
unsafe impl Send for Taken {}

impl Taken {
    /// The final completion.
    #[inline(always)]
    pub(super) fn cqe(&self) -> &Cqe {
        &self.cqe
    }

    /// The operation's type name.
    pub(super) fn name(&self) -> &'static str {
        (self.vt.name)()
    }

    /// Whether it holds an operation of type `T` (or its output).
    #[inline(always)]
    pub(super) fn is<T: Op>(&self) -> bool {
        self.vt.is::<T>()
    }

    /// The output, out of a `Taken` that holds an operation of type `T` (or its
    /// output), consumed without its drop: nothing of it is left to drop.
    ///
    /// Nothing here hands the storage's address to an opaque function (as the
    /// table's drop is), so a `Taken` on the stack can live in registers: the
    /// operation is read straight out of where it was put.
    ///
    /// # Safety
    ///
    /// `self.is::<T>()`.
    #[inline(always)]
    pub(super) unsafe fn into_output<T: Op>(self) -> T::Output {
        // Never dropped: what it holds is moved out once, here. If `complete`
        // panics, the operation it was handed is dropped by the unwinding, and
        // nothing of it is left here.
        let mut this = mem::ManuallyDrop::new(self);
        // T's own table at its usual address (`is`'s first test) is not a made
        // one: known without loading the flag.
        if !ptr::eq(this.vt, vtable::<T>()) && this.vt.made {
            // SAFETY: the caller's contract: a made table of T, so the storage
            // holds a T::Output; taken once (`this` is never dropped).
            unsafe { this.op.take::<T::Output>() }
        } else {
            // SAFETY: the caller's contract: T's own table, so the storage holds
            // a T; taken once (`this` is never dropped).
            let op = unsafe { this.op.take::<T>() };
            op.complete(&this.cqe)
        }
    }

    /// The output if it holds an operation of type `T`, else itself back.
    #[cfg(test)]
    fn output<T: Op>(self) -> Result<T::Output, Taken> {
        if self.is::<T>() {
            // SAFETY: just checked.
            Ok(unsafe { self.into_output::<T>() })
        } else {
            Err(self)
        }
    }
}

impl Drop for Taken {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the storage holds what the table says (a `Taken` consumed by
        // `into_output` is never dropped), and is dropped once, here.
        // (A bitwise copy of the storage is handed over: nothing drops a
        // `Storage`, so the one left here is only forgotten.)
        unsafe { (self.vt.drop_finished)(ptr::read(&self.op), self.cqe) }
    }
}

/// Operations leaked by rings dropped while the kernel might still use them:
/// never dropped, so their memory and descriptors are never freed.
static GRAVEYARD: Mutex<Vec<Leaked>> = Mutex::new(Vec::new());

/// A leaked operation: its bytes, kept; nothing ever drops them.
struct Leaked {
    _vt: &'static VTable,
    _op: Storage,
}

// SAFETY: a Leaked holds a `T: Op` (Send) that no one ever touches again.
unsafe impl Send for Leaked {}

/// How many operations have been leaked so far in this process.
pub(super) fn leaked_count() -> usize {
    GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner()).len()
}

enum State {
    Free,
    /// `file`: the held file the operation names (its slot in
    /// [`Slab::files`]), or [`NO_FILE`]: a release of that file waits for the
    /// operation's final completion.
    InFlight {
        vt: &'static VTable,
        detached: bool,
        file: u32,
    },
    /// Its final completion is the slot's `cqe`.
    Done {
        vt: &'static VTable,
    },
}

/// One slot of the table.
struct Slot {
    /// The generation of the slot's current (or last) operation.
    generation: u64,
    /// The type of the slot's current (or last) operation: while the slot is
    /// in flight or finished, its state's table is this type's (its own, or its
    /// made output's). Typed takes check it with one comparison (the table's
    /// `op_type` is a call, and a table's address is not unique to its type:
    /// each codegen unit may have its own copy).
    op_type: TypeId,
    /// Free list (when `Free`) or ready list (when `Done`): the next slot.
    next: u32,
    /// Ready list: the previous slot.
    prev: u32,
    state: State,
    /// The final completion, while the slot is `Done` (a field of its own, not
    /// of `State::Done`: stored straight from the completion queue's copy).
    cqe: Cqe,
    op: Storage,
}

/// Where an operation is, from [`Slab::poll`].
#[derive(Debug)]
pub(super) enum Polled<O> {
    /// Finished: its output, taken out of the table.
    Ready(O),
    /// In flight still.
    InFlight,
    /// Not in the table any more (its output was taken by other means).
    Gone,
}

/// What [`Slab::on_cqe_with`] did with a completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Routed {
    /// No operation in flight has that slot and generation.
    Unknown,
    /// The operation's: `MORE` handed to it, or its final completion (its output
    /// queued in the ready list, or dropped if it was detached). The full
    /// generation.
    Op(u64),
    /// The operation's final completion, for the caller to take at once, with
    /// the completion it routed: the slot is finished but holds neither the
    /// completion nor a place in the ready list, as every other finished slot
    /// does — so nothing else may look at the table before the caller takes it
    /// ([`completion_unlisted`](Slab::completion_unlisted),
    /// [`output_unlisted`](Slab::output_unlisted)). The full generation.
    Stop(u64),
}

/// Which operations' final completions [`Slab::on_cqe_with`] stops at
/// ([`Routed::Stop`]), for the caller to take straight out of their slots
/// instead of queueing them in the ready list.
pub(super) trait Pick {
    /// Whether an operation whose type is `op_type` is stopped at.
    fn wants(op_type: TypeId) -> bool;
}

/// None: every final completion joins the ready list.
pub(super) struct Keep;

impl Pick for Keep {
    #[inline(always)]
    fn wants(_: TypeId) -> bool {
        false
    }
}

/// Every operation.
pub(super) struct PickAny;

impl Pick for PickAny {
    #[inline(always)]
    fn wants(_: TypeId) -> bool {
        true
    }
}

/// Operations of type `T`.
pub(super) struct PickOf<T>(PhantomData<fn() -> T>);

impl<T: Op> Pick for PickOf<T> {
    #[inline(always)]
    fn wants(op_type: TypeId) -> bool {
        op_type == TypeId::of::<T>()
    }
}

/// The slab: operations by slot, with generations, and the ready list.
pub(super) struct Slab {
    slots: Vec<Slot>,
    /// `Send` (every operation is) but not `Sync`: operations need not be.
    _not_sync: PhantomData<core::cell::Cell<()>>,
    free: u32,
    in_flight: usize,
    ready_head: u32,
    ready_tail: u32,
    ready_len: usize,
    /// The ring's held files. Dropped after the operations (a field, dropped
    /// after `Slab::drop` ran); if operations were leaked, they are leaked too.
    pub(super) files: HeldFiles,
}

/// Frees a slot whose contents were taken, if a take panics before it does so.
struct ReleaseOnUnwind<'a> {
    slab: &'a mut Slab,
    slot: u32,
}

impl Drop for ReleaseOnUnwind<'_> {
    fn drop(&mut self) {
        self.slab.release(self.slot);
    }
}

impl Slab {
    pub(super) const fn new() -> Slab {
        Slab {
            slots: Vec::new(),
            _not_sync: PhantomData,
            free: NO_SLOT,
            in_flight: 0,
            ready_head: NO_SLOT,
            ready_tail: NO_SLOT,
            ready_len: 0,
            files: HeldFiles::new(),
        }
    }

    /// Operations in flight (submitted or queued, final completion not seen).
    #[inline]
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Finished operations not yet taken (the ready list's length).
    #[inline]
    pub(super) fn ready_len(&self) -> usize {
        self.ready_len
    }

    /// Puts `op` in a slot, in flight: its slot and generation. `file` is the
    /// held file it names ([`NO_FILE`] for none), which [`files`](Self::files)
    /// holds: recorded, so that releasing the file waits for the operation.
    ///
    /// Aborts the process with 2^32 - 1 slots in use (before `op` enters the
    /// table), which no ring reaches: the kernel's queues hold far fewer.
    #[inline(always)]
    pub(super) fn insert<T: Op>(&mut self, op: T, file: u32) -> (u32, u64) {
        let vt = vtable::<T>();
        if self.free == NO_SLOT {
            self.grow();
        }
        let slot = self.free;
        // SAFETY: `slot` is the free list's head: a slot of the table (one
        // `take` freed, or `grow` pushed just now).
        self.free = unsafe { self.at(slot) }.next;
        // SAFETY: as above.
        let s = unsafe { self.at(slot) };
        debug_assert!(matches!(s.state, State::Free));
        s.generation = s.generation.wrapping_add(1);
        s.op_type = TypeId::of::<T>();
        s.op.put(op);
        s.state = State::InFlight {
            vt,
            detached: false,
            file,
        };
        let generation = s.generation;
        self.in_flight += 1;
        (slot, generation)
    }

    /// Adds a free slot, the free list's head (which was empty). `extern
    /// "C"` (a panic in it aborts) for the reason a `TypedRing`'s table grows
    /// so (`typed::slots::Slots::grow`): a call that may unwind on the way in
    /// keeps the operation in memory.
    #[cold]
    #[inline(never)]
    extern "C" fn grow(&mut self) {
        let slot = u32::try_from(self.slots.len())
            .ok()
            .filter(|&s| s != NO_SLOT)
            .expect("fewer than 2^32 - 1 operations in the table");
        self.slots.push(Slot {
            // Bumped at its first use to 0.
            generation: u64::MAX,
            op_type: TypeId::of::<()>(),
            next: NO_SLOT,
            prev: NO_SLOT,
            state: State::Free,
            cqe: Cqe::ZERO,
            op: Storage::empty(),
        });
        self.free = slot;
    }

    /// Records that the operation just inserted in `slot` names held file
    /// `file`.
    ///
    /// # Safety
    ///
    /// `slot` is what [`insert`](Self::insert) returned last, and nothing
    /// changed the table since.
    #[inline(always)]
    pub(super) unsafe fn name_file(&mut self, slot: u32, file: u32) {
        // SAFETY: the caller's contract: `slot` is a slot of the table.
        let s = unsafe { self.at(slot) };
        match &mut s.state {
            // Only the file changes: one store.
            State::InFlight { file: named, .. } => *named = file,
            // SAFETY: the caller's contract: `insert` left the slot in
            // flight, and nothing changed it since.
            _ => unsafe { core::hint::unreachable_unchecked() },
        }
    }

    /// Takes back an operation just inserted whose entry could not be pushed.
    ///
    /// # Panics
    ///
    /// If `slot` does not hold a `T` in flight (a bug in this module's callers).
    pub(super) fn remove_unsubmitted<T: Op>(&mut self, slot: u32) -> T {
        let s = &mut self.slots[slot as usize];
        assert!(
            matches!(s.state, State::InFlight { .. }),
            "only an operation in flight is taken back"
        );
        assert!(s.op_type == TypeId::of::<T>(), "the same operation");
        // SAFETY: an in-flight slot holds an operation of its `op_type`, checked
        // to be T; the slot is freed right after, so it is taken once.
        let op = unsafe { s.op.take::<T>() };
        self.in_flight -= 1;
        self.release(slot);
        op
    }

    /// Slot `slot`, without a bounds check.
    ///
    /// # Safety
    ///
    /// `slot` is a slot of the table (`< slots.len()`): one that a list links
    /// to, or that was just checked. Slots are never removed, so an index that
    /// was valid once stays valid.
    #[inline(always)]
    unsafe fn at(&mut self, slot: u32) -> &mut Slot {
        debug_assert!((slot as usize) < self.slots.len());
        // SAFETY: the caller's contract.
        unsafe { self.slots.get_unchecked_mut(slot as usize) }
    }

    /// Puts a slot on the free list (its contents were taken or never were).
    #[inline(always)]
    fn release(&mut self, slot: u32) {
        assert!((slot as usize) < self.slots.len(), "a slot of the table");
        // SAFETY: just checked.
        unsafe { self.release_at(slot) }
    }

    /// [`release`](Self::release), without a bounds check.
    ///
    /// # Safety
    ///
    /// `slot` is of the table (`< slots.len()`).
    #[inline(always)]
    unsafe fn release_at(&mut self, slot: u32) {
        let free = self.free;
        // SAFETY: the caller's contract.
        let s = unsafe { self.at(slot) };
        s.state = State::Free;
        s.next = free;
        self.free = slot;
    }

    /// Appends `slot` to the ready list.
    ///
    /// # Safety
    ///
    /// `slot` is of the table (`< slots.len()`) and not in the ready list.
    #[inline(always)]
    unsafe fn link_ready(&mut self, slot: u32) {
        let tail = self.ready_tail;
        // SAFETY: `slot` is of the table (the caller's contract), and `tail`,
        // when there is one, is a slot the ready list links to.
        unsafe {
            let s = self.at(slot);
            s.prev = tail;
            s.next = NO_SLOT;
            if tail == NO_SLOT {
                self.ready_head = slot;
            } else {
                self.at(tail).next = slot;
            }
        }
        self.ready_tail = slot;
        self.ready_len += 1;
    }

    /// Takes `slot` out of the ready list.
    ///
    /// # Safety
    ///
    /// `slot` is in the ready list (so of the table).
    #[inline(always)]
    unsafe fn unlink_ready(&mut self, slot: u32) {
        // SAFETY: `slot` is of the table (the caller's contract), and
        // `prev` and `next`, when there are ones, are slots the list links to.
        unsafe {
            let (prev, next) = {
                let s = self.at(slot);
                (s.prev, s.next)
            };
            if prev == NO_SLOT {
                self.ready_head = next;
            } else {
                self.at(prev).next = next;
            }
            if next == NO_SLOT {
                self.ready_tail = prev;
            } else {
                self.at(next).prev = prev;
            }
        }
        self.ready_len -= 1;
    }

    /// [`on_cqe_with`](Self::on_cqe_with) stopping nowhere (every final
    /// completion joins the ready list), for the operation of `generation` at
    /// `slot` (the bits of it a user data carries are taken here).
    #[cfg(test)]
    fn on_cqe(&mut self, slot: u32, generation: u64, cqe: Cqe) -> Routed {
        self.on_cqe_with::<Keep>(slot, generation & GEN_MASK, cqe)
    }

    /// Routes completion `cqe` to the operation in flight at `slot` whose
    /// generation's low bits (those a user data carries, [`GEN_MASK`]) are
    /// `gen_low`: a `MORE` completion is handed
    /// to it; the final one moves it to the ready list — or, if it was detached,
    /// drops its output (after the slot is freed, so a panic there leaves the
    /// table consistent). The final completion of an operation whose type `P`
    /// wants marks its slot finished, neither listed nor holding the completion
    /// ([`Routed::Stop`]), for the caller to take at once.
    #[inline(always)]
    pub(super) fn on_cqe_with<P: Pick>(&mut self, slot: u32, gen_low: u64, cqe: Cqe) -> Routed {
        let Some((s, vt, detached)) = in_flight_at(&mut self.slots, slot, gen_low) else {
            return Routed::Unknown;
        };
        let generation = s.generation;
        if cqe.is_more() {
            // SAFETY: an in-flight slot holds an operation of its table's type.
            unsafe { (vt.more)(&mut s.op, &cqe) };
            return Routed::Op(generation);
        }
        if detached {
            self.drop_detached(slot, vt, cqe);
            return Routed::Op(generation);
        }
        self.in_flight -= 1;
        s.state = State::Done { vt };
        if P::wants(s.op_type) {
            return Routed::Stop(generation);
        }
        s.cqe = cqe;
        // SAFETY: the slot was just looked up; in flight, it was not listed.
        unsafe { self.link_ready(slot) };
        Routed::Op(generation)
    }

    /// [`on_cqe`](Self::on_cqe) for the final completion of a detached operation:
    /// its output is dropped after the slot is freed, so a panic there leaves the
    /// table consistent.
    #[cold]
    #[inline(never)]
    fn drop_detached(&mut self, slot: u32, vt: &'static VTable, cqe: Cqe) {
        self.in_flight -= 1;
        // SAFETY: an in-flight slot (so not listed) holding its table's type.
        unsafe { self.free_and_drop(slot, vt, cqe) };
    }

    /// Frees slot `slot`, not in the ready list, then drops what it held as of
    /// final completion `cqe` (after the slot is freed, so a panic there leaves
    /// the table consistent).
    ///
    /// # Safety
    ///
    /// `slot` is of the table, not in the ready list, and holds what `vt` says.
    unsafe fn free_and_drop(&mut self, slot: u32, vt: &'static VTable, cqe: Cqe) {
        // SAFETY: the caller's contract: of the table.
        let op = mem::replace(&mut unsafe { self.at(slot) }.op, Storage::empty());
        // SAFETY: as above.
        unsafe { self.release_at(slot) };
        // SAFETY: `op` holds what the slot's table says; the slot was freed
        // without dropping it, so it is dropped once, here.
        unsafe { (vt.drop_finished)(op, cqe) };
    }

    /// Whether `slot` holds the operation of `generation`, still in flight.
    #[inline]
    pub(super) fn is_in_flight(&self, slot: u32, generation: u64) -> bool {
        self.slots.get(slot as usize).is_some_and(|s| {
            s.generation == generation && matches!(s.state, State::InFlight { .. })
        })
    }

    /// Whether `slot` holds the operation of `generation`, finished and not taken.
    #[cfg(test)]
    fn is_done(&self, slot: u32, generation: u64) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.generation == generation && matches!(s.state, State::Done { .. }))
    }

    /// The `Done` slot of `generation` at `slot`, with its table, if it is one
    /// whose operation's type `want` accepts.
    #[inline(always)]
    fn done_where(
        &self,
        slot: u32,
        generation: u64,
        want: impl FnOnce(TypeId) -> bool,
    ) -> Option<(&'static VTable, Cqe)> {
        let s = self.slots.get(slot as usize)?;
        match s.state {
            State::Done { vt } if s.generation == generation && want(s.op_type) => {
                Some((vt, s.cqe))
            }
            _ => None,
        }
    }

    /// The `Done` slot of `generation` at `slot`, with its table, if it is one.
    #[inline(always)]
    fn done(&self, slot: u32, generation: u64) -> Option<(&'static VTable, Cqe)> {
        self.done_where(slot, generation, |_| true)
    }

    /// [`done`](Self::done), if the operation is a `T`.
    #[inline(always)]
    fn done_as<T: Op>(&self, slot: u32, generation: u64) -> Option<(&'static VTable, Cqe)> {
        self.done_where(slot, generation, |t| t == TypeId::of::<T>())
    }

    /// Where the `T` at `slot` of `generation` is, in one look-up: its output,
    /// taken (as [`take`](Self::take)) if it has finished; in flight still; or
    /// gone (taken by other means: the slot holds another operation, or none).
    #[inline]
    pub(super) fn poll<T: Op>(&mut self, slot: u32, generation: u64) -> Polled<T::Output> {
        let Some(s) = self.slots.get(slot as usize) else {
            return Polled::Gone;
        };
        if s.generation != generation {
            return Polled::Gone;
        }
        match s.state {
            State::InFlight { .. } => Polled::InFlight,
            State::Done { vt } if s.op_type == TypeId::of::<T>() => {
                let cqe = s.cqe;
                // SAFETY: a `Done` slot of a `T` (just looked up, bounds
                // included).
                Polled::Ready(unsafe { self.take_done::<T>(slot, vt, cqe) })
            }
            _ => Polled::Gone,
        }
    }

    /// Takes the output of the finished operation at `slot` of `generation`, if
    /// there is one and it is a `T`; the slot is freed before the operation is
    /// turned into its output, so a panic in [`Op::complete`] leaves the table
    /// consistent. ([`poll`](Self::poll), without telling in flight from gone:
    /// for the tests.)
    #[cfg(test)]
    pub(super) fn take<T: Op>(&mut self, slot: u32, generation: u64) -> Option<T::Output> {
        match self.poll::<T>(slot, generation) {
            Polled::Ready(out) => Some(out),
            Polled::InFlight | Polled::Gone => None,
        }
    }

    /// Takes the output out of `Done` slot `slot`, whose operation is a `T` with
    /// table `vt` and final completion `cqe`: unlinked from the ready list and
    /// freed before the operation is turned into its output, so a panic in
    /// [`Op::complete`] leaves the table consistent.
    ///
    /// # Safety
    ///
    /// `slot` is a `Done` slot (so of the table, in the ready list) whose
    /// `op_type` is `T`'s, and `(vt, cqe)` is its state's.
    #[inline(always)]
    unsafe fn take_done<T: Op>(&mut self, slot: u32, vt: &'static VTable, cqe: Cqe) -> T::Output {
        // SAFETY: the caller's contract: in the ready list.
        unsafe { self.unlink_ready(slot) };
        // SAFETY: the caller's contract: of the table, out of the list now.
        unsafe { self.output_at::<T>(slot, vt, cqe) }
    }

    /// The output of the finished `T` of slot `slot`, a [`Routed::Stop`]'s
    /// whose final completion is `cqe`, out of it; the slot is freed first, as
    /// in [`take_done`](Self::take_done).
    ///
    /// # Safety
    ///
    /// `slot` is a `Done` slot of the table, not in the ready list, whose
    /// `op_type` is `T`'s.
    #[inline(always)]
    pub(super) unsafe fn output_unlisted<T: Op>(&mut self, slot: u32, cqe: Cqe) -> T::Output {
        // SAFETY: the caller's contract: of the table.
        let s = unsafe { self.at(slot) };
        let State::Done { vt } = s.state else {
            unreachable!("a finished slot");
        };
        // SAFETY: the caller's contract: finished, not listed, a T.
        unsafe { self.output_at::<T>(slot, vt, cqe) }
    }

    /// Takes the output out of slot `slot`, not in the ready list, whose
    /// operation (or made output) is a `T` with table `vt` and final completion
    /// `cqe`: the slot is freed before the operation is turned into its output,
    /// so a panic in [`Op::complete`] leaves the table consistent.
    ///
    /// # Safety
    ///
    /// `slot` is of the table, not in the ready list, and holds what `vt` says,
    /// of type `T`; it is freed here, so this is done once.
    #[inline(always)]
    unsafe fn output_at<T: Op>(&mut self, slot: u32, vt: &'static VTable, cqe: Cqe) -> T::Output {
        // SAFETY: the caller's contract: of the table.
        let s = unsafe { self.at(slot) };
        if vt.made {
            // SAFETY: a made table of T: the slot holds a T::Output; the slot is
            // freed right after, so it is taken once.
            let out = unsafe { s.op.take::<T::Output>() };
            // SAFETY: of the table.
            unsafe { self.release_at(slot) };
            out
        } else {
            // SAFETY: T's own table: the slot holds a T; freed right after.
            let op = unsafe { s.op.take::<T>() };
            // SAFETY: of the table.
            unsafe { self.release_at(slot) };
            op.complete(&cqe)
        }
    }

    /// The common case of a completion read from the kernel's queue, whole: the
    /// final completion `cqe` of an operation of type `T` in flight, not
    /// detached, whose user data names `slot` and `gen_low` (the generation's
    /// bits it carries): the operation out of its slot (which is freed), with
    /// its full generation, for the caller to complete. `None` when it is anything else
    /// (not one of ours, a `MORE`, detached, of another type, a stale
    /// generation): nothing is done, and the caller routes it the general way.
    #[inline(always)]
    pub(super) fn take_final<T: Op>(
        &mut self,
        slot: u32,
        gen_low: u64,
        cqe: &Cqe,
    ) -> Option<(u64, T)> {
        let s = self.final_slot(slot, gen_low, cqe, |t| t == TypeId::of::<T>())?;
        let generation = s.generation;
        // SAFETY: an in-flight slot holds an operation of its `op_type`, here
        // T (an in-flight slot's table is T's own, never a made one); taken
        // once (the slot is freed right after).
        let op = unsafe { s.op.take::<T>() };
        // SAFETY: of the table (just looked up), in flight so not listed.
        unsafe { self.finish_at(slot) };
        Some((generation, op))
    }

    /// [`take_final`](Self::take_final) for an operation of any type: what the
    /// slot held, as a [`Taken`] with `cqe`, and the full generation.
    #[inline(always)]
    pub(super) fn take_final_any(
        &mut self,
        slot: u32,
        gen_low: u64,
        cqe: Cqe,
    ) -> Option<(u64, Taken)> {
        let s = self.final_slot(slot, gen_low, &cqe, |_| true)?;
        let State::InFlight { vt, .. } = s.state else {
            unreachable!("a slot in flight");
        };
        let generation = s.generation;
        let taken = Taken {
            vt,
            cqe,
            // SAFETY: a bitwise copy of storage, which nothing drops; the
            // slot's copy is forgotten (the slot is freed just below).
            op: unsafe { ptr::read(&s.op) },
        };
        // SAFETY: of the table (just looked up), in flight so not listed.
        unsafe { self.finish_at(slot) };
        Some((generation, taken))
    }

    /// The slot the final completion `cqe` of a not detached operation in
    /// flight names (`slot`, and `gen_low` under [`GEN_MASK`]), if its operation's
    /// type is one `want` accepts; `None` for anything else (a `MORE`, a stale
    /// generation…).
    #[inline(always)]
    fn final_slot(
        &mut self,
        slot: u32,
        gen_low: u64,
        cqe: &Cqe,
        want: impl FnOnce(TypeId) -> bool,
    ) -> Option<&mut Slot> {
        let (s, _, detached) = in_flight_at(&mut self.slots, slot, gen_low)?;
        (!detached && want(s.op_type) && !cqe.is_more()).then_some(s)
    }

    /// Frees in-flight slot `slot`, whose operation was just taken out of it.
    ///
    /// # Safety
    ///
    /// `slot` is of the table, in flight (so not listed), and what it held was
    /// moved out.
    #[inline(always)]
    unsafe fn finish_at(&mut self, slot: u32) {
        self.in_flight -= 1;
        // SAFETY: the caller's contract.
        unsafe { self.release_at(slot) };
    }

    /// The oldest finished operation of type `T` at or after `*cursor` in the
    /// ready list (its head, to start; [`NO_SLOT`]: none), out of its slot:
    /// its slot, generation and output. `*cursor` moves to the slot after it;
    /// finished operations of other types are passed over and stay listed.
    ///
    /// # Safety
    ///
    /// `*cursor` is [`NO_SLOT`] or a slot of the ready list (which it stays
    /// between calls as long as nothing else takes from the list).
    #[inline(always)]
    pub(super) unsafe fn next_done_of<T: Op>(
        &mut self,
        cursor: &mut u32,
    ) -> Option<(u32, u64, T::Output)> {
        let mut slot = *cursor;
        while slot != NO_SLOT {
            // SAFETY: the caller's contract, then slots the list links to.
            let s = unsafe { self.at(slot) };
            let next = s.next;
            if s.op_type == TypeId::of::<T>() {
                let State::Done { vt } = s.state else {
                    unreachable!("the ready list holds finished operations");
                };
                let cqe = s.cqe;
                let generation = s.generation;
                *cursor = next;
                // SAFETY: a listed (so `Done`) slot of a `T`, with its state.
                let out = unsafe { self.take_done::<T>(slot, vt, cqe) };
                return Some((slot, generation, out));
            }
            slot = next;
        }
        *cursor = NO_SLOT;
        None
    }

    /// The ready list's first slot ([`NO_SLOT`] when it is empty).
    #[inline(always)]
    pub(super) fn ready_head(&self) -> u32 {
        self.ready_head
    }

    /// The oldest finished operation, out of its slot, as a [`Completion`] of
    /// ring `ring`: made in place, its storage copied once.
    #[inline(always)]
    pub(super) fn pop_completion(&mut self, ring: u64) -> Option<Completion> {
        let slot = self.ready_head;
        if slot == NO_SLOT {
            return None;
        }
        // Unlinked as the head: no slot before it.
        // SAFETY: the ready list's head, and the slot after it when there is
        // one, are slots the list links to, so of the table.
        unsafe {
            let next = self.at(slot).next;
            self.ready_head = next;
            if next == NO_SLOT {
                self.ready_tail = NO_SLOT;
            } else {
                self.at(next).prev = NO_SLOT;
            }
        }
        self.ready_len -= 1;
        // SAFETY: a slot the ready list linked to is of the table.
        let cqe = unsafe { self.at(slot) }.cqe;
        // SAFETY: a slot the ready list linked to is finished, with its
        // completion; just unlinked.
        Some(unsafe { self.completion_unlisted(slot, cqe, ring) })
    }

    /// The finished operation (or made output) of slot `slot`, not in the ready
    /// list, out of it as a [`Completion`] of ring `ring` with final completion
    /// `cqe`: made in place, its storage copied once; the slot is freed.
    ///
    /// # Safety
    ///
    /// `slot` is a `Done` slot of the table, not in the ready list (unlinked, or
    /// a [`Routed::Stop`]'s), and `cqe` is its final completion.
    #[inline(always)]
    pub(super) unsafe fn completion_unlisted(
        &mut self,
        slot: u32,
        cqe: Cqe,
        ring: u64,
    ) -> Completion {
        // SAFETY: the caller's contract: of the table.
        let s = unsafe { self.at(slot) };
        let State::Done { vt } = s.state else {
            unreachable!("a finished slot");
        };
        let completion = Completion {
            key: OpKey {
                ring,
                slot,
                generation: s.generation,
            },
            taken: Taken {
                vt,
                cqe,
                // SAFETY: a bitwise copy of storage, which nothing drops; the
                // slot's copy is forgotten (the slot is freed just below).
                op: unsafe { ptr::read(&s.op) },
            },
            _not_sync: PhantomData,
        };
        // SAFETY: the caller's contract: of the table.
        unsafe { self.release_at(slot) };
        completion
    }

    /// The oldest finished operation, out of its slot: slot, generation, and the
    /// operation with its completion.
    #[cfg(test)]
    fn pop_ready(&mut self) -> Option<(u32, u64, Taken)> {
        let c = self.pop_completion(0)?;
        let c = mem::ManuallyDrop::new(c);
        // SAFETY: `c` is never dropped, so its `taken` is moved out once.
        Some((c.key.slot, c.key.generation, unsafe { ptr::read(&c.taken) }))
    }

    /// Says that the output of the operation at `slot` of `generation` is not
    /// wanted: dropped at its final completion if it is in flight, now if it is
    /// finished. Nothing happens for a slot that holds neither.
    pub(super) fn detach(&mut self, slot: u32, generation: u64) {
        if self.drop_done(slot, generation) {
            return;
        }
        if let Some(s) = self.slots.get_mut(slot as usize) {
            if s.generation == generation {
                if let State::InFlight { detached, .. } = &mut s.state {
                    *detached = true;
                }
            }
        }
    }

    /// The operation in flight at `slot` of `generation`, if it is a `T`.
    pub(super) fn in_flight_mut<T: Op>(&mut self, slot: u32, generation: u64) -> Option<&mut T> {
        let s = self.slots.get_mut(slot as usize)?;
        match s.state {
            State::InFlight { .. }
                if s.generation == generation && s.op_type == TypeId::of::<T>() =>
            {
                // SAFETY: an in-flight slot holds an operation of its
                // `op_type`, checked to be T.
                Some(unsafe { s.op.get_mut::<T>() })
            }
            _ => None,
        }
    }

    /// The output of the finished operation at `slot` of `generation`, if it is a
    /// `T`, made now if it was not yet (it stays in the slot, in the ready list).
    /// If [`Op::complete`] panics, the slot is freed.
    pub(super) fn done_output_mut<T: Op>(
        &mut self,
        slot: u32,
        generation: u64,
    ) -> Option<&mut T::Output> {
        let (vt, cqe) = self.done_as::<T>(slot, generation)?;
        if !vt.made {
            // Out of the ready list while the slot holds nothing: a panic in
            // `complete` then frees it (the guard), and no one looks at it.
            // SAFETY: a `Done` slot (just looked up) is in the ready list.
            unsafe { self.unlink_ready(slot) };
            let guard = ReleaseOnUnwind { slab: self, slot };
            // SAFETY: T's own table: the slot holds a T, taken once (the slot's
            // table is replaced below, or the slot freed by the guard).
            let op = unsafe { guard.slab.slots[slot as usize].op.take::<T>() };
            let out = op.complete(&cqe);
            mem::forget(guard);
            let s = &mut self.slots[slot as usize];
            s.op.put(out);
            s.cqe = cqe;
            s.state = State::Done {
                vt: made_vtable::<T>(),
            };
            // Back in the list where it was is not possible in O(1); at the end
            // is where the next completion would have gone. Only a finished
            // multishot stream is made this way, and its key is its own.
            // SAFETY: the slot was looked up above, and unlinked since.
            unsafe { self.link_ready(slot) };
        }
        let s = &mut self.slots[slot as usize];
        // SAFETY: the slot holds T::Output under T's made table (just checked,
        // or just made).
        Some(unsafe { s.op.get_mut::<T::Output>() })
    }

    /// Drops the finished operation at `slot` of `generation` (its output), if
    /// there is one: whether there was.
    pub(super) fn drop_done(&mut self, slot: u32, generation: u64) -> bool {
        let Some((vt, cqe)) = self.done(slot, generation) else {
            return false;
        };
        // SAFETY: a `Done` slot (just looked up) is in the ready list.
        unsafe { self.unlink_ready(slot) };
        // SAFETY: of the table, unlinked just now, holding what `vt` says.
        unsafe { self.free_and_drop(slot, vt, cqe) };
        true
    }

    /// Drops every finished operation's output, oldest first. Each slot is freed
    /// before its output is dropped.
    pub(super) fn drop_all_done(&mut self) {
        while let Some(c) = self.pop_completion(0) {
            drop(c);
        }
    }

    /// The slot and generation of every operation in flight.
    pub(super) fn all_in_flight(&self) -> Vec<(u32, u64)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.state, State::InFlight { .. }))
            .map(|(i, s)| (i as u32, s.generation))
            .collect()
    }

    /// Releases the held file of `token`: closed now if no operation in
    /// flight names it, else once all those that do have had their final
    /// completions (see [`close_released`](Self::close_released)). `EBADF` if
    /// the ring does not hold it.
    pub(super) fn release_held(&mut self, token: u64) -> std::io::Result<()> {
        let index = self.files.lookup(token)?;
        let ops = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.state, State::InFlight { file, .. } if file == index))
            .map(|(i, s)| (i as u32, s.generation))
            .collect();
        self.files.release(index, ops);
        Ok(())
    }

    /// Closes the released held files whose operations have all had their
    /// final completions. One branch when none waits.
    #[inline(always)]
    pub(super) fn close_released(&mut self) {
        if self.files.has_pending() {
            self.close_released_slow();
        }
    }

    #[cold]
    fn close_released_slow(&mut self) {
        let slots = &self.slots;
        self.files.close_released(|slot, generation| {
            slots.get(slot as usize).is_some_and(|s| {
                s.generation == generation && matches!(s.state, State::InFlight { .. })
            })
        });
    }

    /// Moves every operation in flight to the graveyard, where it is never
    /// dropped; returns how many. The held files are leaked then too (any of
    /// them may be named by a leaked operation).
    pub(super) fn leak_in_flight(&mut self) -> usize {
        if self.in_flight == 0 {
            return 0;
        }
        self.files.leak_all();
        let mut graveyard = GRAVEYARD.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for slot in 0..self.slots.len() as u32 {
            let s = &mut self.slots[slot as usize];
            if let State::InFlight { vt, .. } = s.state {
                let op = mem::replace(&mut s.op, Storage::empty());
                graveyard.push(Leaked { _vt: vt, _op: op });
                self.in_flight -= 1;
                self.release(slot);
                n += 1;
            }
        }
        n
    }
}

/// The slot of `slots` in flight at `slot` whose generation's low bits are
/// `gen_low` (what a completion's user data names), with its table and whether
/// it is detached; `None` for any other slot (out of the table, free, finished,
/// of another generation). (A function of the slots alone, so that the rest of
/// the slab stays free to borrow meanwhile.)
#[inline(always)]
fn in_flight_at(
    slots: &mut [Slot],
    slot: u32,
    gen_low: u64,
) -> Option<(&mut Slot, &'static VTable, bool)> {
    let s = slots.get_mut(slot as usize)?;
    let State::InFlight { vt, detached, .. } = s.state else {
        return None;
    };
    (s.generation & GEN_MASK == gen_low).then_some((s, vt, detached))
}

impl Drop for Slab {
    /// Normally nothing is in flight by now (the ring's drop waited for, or
    /// leaked, everything). If something is — a panic escaped the ring's drop —
    /// it is leaked here rather than freed. Finished operations' outputs are
    /// dropped.
    fn drop(&mut self) {
        self.leak_in_flight();
        self.drop_all_done();
    }
}

#[cfg(test)]
mod tests;
