//! Unit tests of the slab: storage inline and boxed, routing, picks, the ready
//! list, takes by type, panics in an operation's code, held files.

use super::*;
use crate::sqe::Sqe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

fn cqe(res: i32, flags: u32) -> Cqe {
    Cqe::from_raw(&crate::sys::io_uring_cqe {
        res,
        flags,
        ..Default::default()
    })
}

/// A test operation: counts its drops and completions through `Arc`s, and
/// carries `pad` bytes to be stored inline or boxed.
struct Probe<const N: usize> {
    drops: Arc<AtomicUsize>,
    mores: usize,
    tag: u64,
    _pad: [u8; N],
}

impl<const N: usize> Probe<N> {
    fn new(drops: &Arc<AtomicUsize>, tag: u64) -> Self {
        Probe {
            drops: Arc::clone(drops),
            mores: 0,
            tag,
            _pad: [0; N],
        }
    }
}

impl<const N: usize> Drop for Probe<N> {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: its entry is a NOP, which names nothing.
unsafe impl<const N: usize> Op for Probe<N> {
    type Output = (i32, u64, usize);
    fn sqe(&mut self) -> Sqe {
        crate::op::Nop::new().build()
    }
    fn complete(self, cqe: &Cqe) -> Self::Output {
        if cqe.raw_result() == -999 {
            panic!("complete panics on request");
        }
        (cqe.raw_result(), self.tag, self.mores)
    }
    fn more(&mut self, _: &Cqe) {
        self.mores += 1;
    }
}

type Small = Probe<8>;
type Big = Probe<200>;

#[test]
fn small_ops_are_inline_and_big_ones_boxed() {
    assert!(inline::<Small>());
    assert!(!inline::<Big>());
    #[repr(align(64))]
    struct Aligned(#[allow(dead_code)] u8);
    assert!(!inline::<Aligned>());
}

#[test]
fn the_common_operations_are_stored_inline() {
    use crate::owned::{AlignedBuf, Multi, PoolBuf, Slice, ops};
    assert!(inline::<ops::Nop>());
    assert!(inline::<ops::Read<Vec<u8>>>());
    assert!(inline::<ops::Read<AlignedBuf>>());
    assert!(inline::<ops::Write<Vec<u8>>>());
    assert!(inline::<ops::Readv<Vec<u8>>>());
    assert!(inline::<ops::Recv<Vec<u8>>>());
    assert!(inline::<ops::Send<Slice<PoolBuf>>>());
    assert!(inline::<ops::SendZc<Vec<u8>>>());
    assert!(inline::<ops::Accept>());
    assert!(inline::<ops::Close>());
    assert!(inline::<ops::Timeout>());
    assert!(inline::<Multi<ops::RecvMultishot>>());
    assert!(inline::<Multi<ops::AcceptMultishot>>());
}

#[test]
fn insert_complete_take_inline_and_boxed() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Small::new(&drops, 1), NO_FILE);
    let (b, gb) = slab.insert(Big::new(&drops, 2), NO_FILE);
    assert_eq!(slab.in_flight(), 2);
    assert!(slab.is_in_flight(a, ga) && slab.is_in_flight(b, gb));
    assert_eq!(slab.take::<Small>(a, ga).map(|o| o.1), None, "not finished");
    let more = sys_more();
    assert_eq!(slab.on_cqe(b, gb, cqe(1, more)), Routed::Op(gb));
    assert_eq!(slab.on_cqe(b, gb, cqe(7, 0)), Routed::Op(gb));
    assert_eq!(slab.on_cqe(a, ga, cqe(5, 0)), Routed::Op(ga));
    assert_eq!(slab.in_flight(), 0);
    assert_eq!(slab.ready_len(), 2);
    // The wrong type takes nothing and loses nothing.
    assert!(slab.take::<Big>(a, ga).is_none());
    assert_eq!(slab.take::<Small>(a, ga), Some((5, 1, 0)));
    assert_eq!(slab.take::<Small>(a, ga), None, "taken once");
    assert_eq!(slab.take::<Big>(b, gb), Some((7, 2, 1)));
    assert_eq!(slab.ready_len(), 0);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

fn sys_more() -> u32 {
    crate::cqueue::CqeFlags::MORE.bits()
}

#[test]
fn a_pick_stops_at_the_final_completions_of_the_types_it_wants() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Small::new(&drops, 1), NO_FILE);
    let (b, gb) = slab.insert(Big::new(&drops, 2), NO_FILE);
    let (c, gc) = slab.insert(Small::new(&drops, 3), NO_FILE);
    let pick = |slab: &mut Slab, s: u32, g: u64, c: Cqe| {
        slab.on_cqe_with::<PickOf<Small>>(s, g & GEN_MASK, c)
    };
    // A MORE completion is the operation's, whatever the pick.
    assert_eq!(pick(&mut slab, a, ga, cqe(0, sys_more())), Routed::Op(ga));
    // Another type's final completion is listed; a wanted one's stops.
    assert_eq!(pick(&mut slab, b, gb, cqe(7, 0)), Routed::Op(gb));
    assert_eq!(pick(&mut slab, a, ga, cqe(5, 0)), Routed::Stop(ga));
    assert_eq!((slab.in_flight(), slab.ready_len()), (1, 1));
    // SAFETY: a `Stop` slot of a `Small`, with its completion, taken at once.
    let out = unsafe { slab.output_unlisted::<Small>(a, cqe(5, 0)) };
    assert_eq!(out, (5, 1, 1));
    assert!(!slab.is_done(a, ga) && !slab.is_in_flight(a, ga), "freed");
    // Every type stops for PickAny, as a `Completion` of the ring.
    let stop = slab.on_cqe_with::<PickAny>(c, gc & GEN_MASK, cqe(9, 0));
    assert_eq!(stop, Routed::Stop(gc));
    // SAFETY: a `Stop` slot, with its completion, taken at once.
    let done = unsafe { slab.completion_unlisted(c, cqe(9, 0), 42) };
    assert_eq!((done.key().ring, done.key().slot), (42, c));
    assert_eq!(done.downcast::<Small>().ok(), Some((9, 3, 0)));
    // The listed one waits where it was.
    assert_eq!(slab.take::<Big>(b, gb), Some((7, 2, 0)));
    assert_eq!((slab.in_flight(), slab.ready_len()), (0, 0));
    assert_eq!(drops.load(Ordering::Relaxed), 3);
}

#[test]
fn slots_are_reused_with_a_new_generation() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Small::new(&drops, 1), NO_FILE);
    slab.on_cqe(a, ga, cqe(0, 0));
    assert!(slab.take::<Small>(a, ga).is_some());
    let (b, gb) = slab.insert(Small::new(&drops, 2), NO_FILE);
    assert_eq!((b, gb), (a, ga + 1));
    // A stale completion (the old generation) routes nowhere.
    assert_eq!(slab.on_cqe(a, ga, cqe(0, 0)), Routed::Unknown);
    assert_eq!(slab.on_cqe(99, 0, cqe(0, 0)), Routed::Unknown);
    assert!(slab.is_in_flight(b, gb) && !slab.is_in_flight(a, ga));
    slab.on_cqe(b, gb, cqe(3, 0));
    assert!(
        slab.take::<Small>(a, ga).is_none(),
        "a stale key takes nothing"
    );
    assert_eq!(slab.take::<Small>(b, gb), Some((3, 2, 0)));
}

#[test]
fn the_ready_list_keeps_completion_order_across_typed_takes() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let keys: Vec<_> = (0..5)
        .map(|i| slab.insert(Small::new(&drops, i), NO_FILE))
        .collect();
    for &(s, g) in keys.iter().rev() {
        slab.on_cqe(s, g, cqe(0, 0));
    }
    // Take the middle one by key; the others come out newest-inserted first
    // (the order their completions arrived).
    let (s, g) = keys[2];
    assert_eq!(slab.take::<Small>(s, g).map(|o| o.1), Some(2));
    let mut order = Vec::new();
    while let Some((_, _, t)) = slab.pop_ready() {
        order.push(t.output::<Small>().ok().unwrap().1);
    }
    assert_eq!(order, [4, 3, 1, 0]);
    assert_eq!(drops.load(Ordering::Relaxed), 5);
}

#[test]
fn detached_ops_are_dropped_at_their_final_completion_or_at_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Big::new(&drops, 1), NO_FILE);
    let (b, gb) = slab.insert(Small::new(&drops, 2), NO_FILE);
    slab.detach(a, ga);
    assert_eq!(drops.load(Ordering::Relaxed), 0, "in flight: kept");
    slab.on_cqe(a, ga, cqe(0, 0));
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    assert_eq!(slab.ready_len(), 0);
    slab.on_cqe(b, gb, cqe(0, 0));
    slab.detach(b, gb);
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert_eq!(slab.ready_len(), 0);
    // Both slots are free again.
    let (c, _) = slab.insert(Small::new(&drops, 3), NO_FILE);
    let (d, _) = slab.insert(Small::new(&drops, 4), NO_FILE);
    let mut got = [c, d];
    got.sort();
    assert_eq!(got, [0, 1]);
    drop(slab);
}

#[test]
fn taken_drops_or_converts_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Big::new(&drops, 1), NO_FILE);
    let (b, gb) = slab.insert(Small::new(&drops, 2), NO_FILE);
    slab.on_cqe(a, ga, cqe(1, 0));
    slab.on_cqe(b, gb, cqe(2, 0));
    let (_, _, ta) = slab.pop_ready().unwrap();
    let (_, _, tb) = slab.pop_ready().unwrap();
    assert!(ta.is::<Big>() && !ta.is::<Small>());
    let Err(ta) = ta.output::<Small>() else {
        panic!("a Big is not a Small");
    };
    assert_eq!(
        drops.load(Ordering::Relaxed),
        0,
        "the wrong type drops nothing"
    );
    drop(ta);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
    // Converted (so consumed): the op is dropped by `complete`, once.
    assert_eq!(tb.output::<Small>().ok(), Some((2, 2, 0)));
    assert_eq!(drops.load(Ordering::Relaxed), 2);
}

#[test]
fn a_panic_in_complete_leaves_the_slab_consistent() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Small::new(&drops, 1), NO_FILE);
    let (b, gb) = slab.insert(Big::new(&drops, 2), NO_FILE);
    slab.on_cqe(a, ga, cqe(-999, 0));
    slab.on_cqe(b, gb, cqe(-999, 0));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        slab.take::<Small>(a, ga);
    }));
    assert!(r.is_err());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        slab.done_output_mut::<Big>(b, gb);
    }));
    assert!(r.is_err());
    // Both ops were dropped exactly once (by the unwinding), both slots are
    // free, and nothing is listed as ready.
    assert_eq!(drops.load(Ordering::Relaxed), 2);
    assert_eq!(slab.ready_len(), 0);
    assert!(slab.pop_ready().is_none());
    assert!(!slab.is_done(a, ga) && !slab.is_done(b, gb));
    let (c, _) = slab.insert(Small::new(&drops, 3), NO_FILE);
    let (d, _) = slab.insert(Small::new(&drops, 4), NO_FILE);
    let mut got = [c, d];
    got.sort();
    assert_eq!(got, [0, 1]);
}

#[test]
fn a_panic_in_complete_while_downcasting_drops_the_op_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Big::new(&drops, 1), NO_FILE);
    slab.on_cqe(a, ga, cqe(-999, 0));
    let (_, _, t) = slab.pop_ready().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = t.output::<Big>();
    }));
    assert!(r.is_err());
    // Consumed by the conversion: the op was dropped by the unwinding, and
    // nothing of it was left to drop again.
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}

#[test]
fn made_outputs_are_taken_in_place_then_whole() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, ga) = slab.insert(Small::new(&drops, 9), NO_FILE);
    assert!(slab.done_output_mut::<Small>(a, ga).is_none(), "in flight");
    assert!(slab.in_flight_mut::<Big>(a, ga).is_none(), "wrong type");
    slab.in_flight_mut::<Small>(a, ga).unwrap().mores = 4;
    slab.on_cqe(a, ga, cqe(6, 0));
    assert!(slab.in_flight_mut::<Small>(a, ga).is_none(), "finished");
    let out = slab.done_output_mut::<Small>(a, ga).unwrap();
    assert_eq!(*out, (6, 9, 4));
    out.1 = 10;
    assert_eq!(drops.load(Ordering::Relaxed), 1, "the op became its output");
    assert_eq!(slab.done_output_mut::<Small>(a, ga).map(|o| o.1), Some(10));
    assert_eq!(slab.ready_len(), 1);
    let (_, _, t) = slab.pop_ready().unwrap();
    assert_eq!(t.output::<Small>().ok(), Some((6, 10, 4)));
}

#[test]
fn typed_walks_take_their_type_in_order_and_pass_over_the_rest() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    // Completion order: small 0, big 1, small 2 (made in place), big 3, small 4.
    let small: Vec<_> = [0, 2, 4]
        .map(|t| slab.insert(Small::new(&drops, t), NO_FILE))
        .to_vec();
    let big: Vec<_> = [1, 3]
        .map(|t| slab.insert(Big::new(&drops, t), NO_FILE))
        .to_vec();
    let order = [small[0], big[0], small[1], big[1], small[2]];
    for (i, &(s, g)) in order.iter().enumerate() {
        slab.on_cqe(s, g, cqe(i as i32, 0));
    }
    // The middle small op's output is made ahead (as a stream's items are).
    slab.done_output_mut::<Small>(small[1].0, small[1].1)
        .unwrap()
        .1 = 20;
    let mut cursor = slab.ready_head();
    let mut got = Vec::new();
    // SAFETY: the cursor starts at the head and nothing else takes meanwhile.
    while let Some((s, g, out)) = unsafe { slab.next_done_of::<Small>(&mut cursor) } {
        got.push((s, g, out.1));
    }
    // The made one was moved to the end of the list when it was made.
    assert_eq!(
        got,
        [
            (small[0].0, small[0].1, 0),
            (small[2].0, small[2].1, 4),
            (small[1].0, small[1].1, 20)
        ]
    );
    assert_eq!(cursor, NO_SLOT);
    // SAFETY: as above; the walk is over.
    assert!(unsafe { slab.next_done_of::<Small>(&mut cursor) }.is_none());
    // The big ops are still there, in order, and the freed slots are reused.
    assert_eq!(slab.ready_len(), 2);
    let rest: Vec<_> = core::iter::from_fn(|| slab.pop_ready())
        .map(|(_, _, t)| t.output::<Big>().ok().unwrap().1)
        .collect();
    assert_eq!(rest, [1, 3]);
    assert_eq!(drops.load(Ordering::Relaxed), 5);
    let (s, _) = slab.insert(Small::new(&drops, 5), NO_FILE);
    assert!(order.iter().any(|&(o, _)| o == s), "a freed slot");
}

#[test]
fn leaked_ops_are_never_dropped() {
    let drops = Arc::new(AtomicUsize::new(0));
    let before = leaked_count();
    {
        let mut slab = Slab::new();
        let _ = slab.insert(Small::new(&drops, 1), NO_FILE);
        let _ = slab.insert(Big::new(&drops, 2), NO_FILE);
        let (c, gc) = slab.insert(Small::new(&drops, 3), NO_FILE);
        slab.on_cqe(c, gc, cqe(0, 0));
        // Dropped with two in flight and one finished.
    }
    assert!(leaked_count() >= before + 2);
    assert_eq!(drops.load(Ordering::Relaxed), 1, "only the finished one");
    assert_eq!(Arc::strong_count(&drops), 3, "the leaked ones keep theirs");
}

/// A pipe: the read end (non-blocking) and the write end.
fn pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) };
    assert_eq!(rc, 0);
    // SAFETY: both are new descriptors nothing else owns.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    }
}

/// Whether the write end of the pipe whose read end is `r` is closed: a
/// read gives end of file rather than `EAGAIN`.
fn writer_closed(r: &std::os::fd::OwnedFd) -> bool {
    use std::os::fd::AsRawFd;
    let mut b = [0u8; 1];
    // SAFETY: reads at most one byte into `b`.
    let n = unsafe { libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
    assert!(n <= 0, "nothing was written");
    n == 0
}

#[test]
fn a_released_held_file_closes_after_its_ops_final_completions() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (r, w) = pipe();
    let held = slab.files.hold(w).unwrap();
    let file = slab.files.lookup(held.token()).unwrap();
    let (a, ga) = slab.insert(Small::new(&drops, 1), file);
    let (b, gb) = slab.insert(Small::new(&drops, 2), file);
    let (c, gc) = slab.insert(Small::new(&drops, 3), NO_FILE);
    slab.release_held(held.token()).unwrap();
    assert!(slab.files.lookup(held.token()).is_err(), "released");
    slab.on_cqe(a, ga, cqe(0, sys_more()));
    slab.on_cqe(c, gc, cqe(0, 0));
    slab.on_cqe(a, ga, cqe(0, 0));
    slab.close_released();
    assert!(!writer_closed(&r), "b still names it");
    slab.on_cqe(b, gb, cqe(0, 0));
    slab.close_released();
    assert!(writer_closed(&r), "closed after b's final completion");
}

#[test]
fn held_files_are_leaked_with_leaked_ops_and_closed_otherwise() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    {
        let mut slab = Slab::new();
        let held = slab.files.hold(w1).unwrap();
        let file = slab.files.lookup(held.token()).unwrap();
        let _ = slab.insert(Small::new(&drops, 1), file);
        // Dropped with the op in flight: leaked, and the file with it.
    }
    assert!(!writer_closed(&r1), "a leaked op's file stays open");
    {
        let mut slab = Slab::new();
        let held = slab.files.hold(w2).unwrap();
        let file = slab.files.lookup(held.token()).unwrap();
        let (a, ga) = slab.insert(Small::new(&drops, 2), file);
        slab.on_cqe(a, ga, cqe(0, 0));
    }
    assert!(writer_closed(&r2), "closed with the table");
}

#[test]
fn unsubmitted_ops_come_back() {
    let drops = Arc::new(AtomicUsize::new(0));
    let mut slab = Slab::new();
    let (a, _) = slab.insert(Big::new(&drops, 5), NO_FILE);
    let op: Big = slab.remove_unsubmitted(a);
    assert_eq!(op.tag, 5);
    assert_eq!(slab.in_flight(), 0);
    drop(op);
    assert_eq!(drops.load(Ordering::Relaxed), 1);
}
