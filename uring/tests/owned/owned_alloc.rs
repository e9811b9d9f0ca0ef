//! The safe layer's per-operation path allocates nothing once warm: operations
//! live in their table slots, not in boxes, and finished ones are taken from
//! there. A counting global allocator checks it, for each way of taking an
//! output (`wait_for`, `try_take`, `completions` + `downcast`, `next_completion`)
//! and for chains.
//!
//! The counting allocator is this binary's global allocator: it only forwards to
//! the system's and counts, per thread, so the other modules' tests running on
//! other threads neither see nor disturb the counts.

use crate::support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write as _;

use uring::owned::{OwnedRing, SharedFd, ops};

/// Counts this thread's allocations (tests run on several threads at once).
struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards every call to the system allocator unchanged; the count is a
// thread-local `Cell` (no allocation, no lock).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded from the caller.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded from the caller.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// A file of 4 KiB of known bytes, shared.
fn data_file() -> SharedFd {
    let mut f = support::unlinked_file("owned-alloc");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    f.write_all(&bytes).unwrap();
    SharedFd::from(f)
}

#[test]
fn reads_taken_with_wait_for_allocate_nothing() {
    let mut ring = OwnedRing::new(8).unwrap();
    let file = data_file();
    let mut buf = vec![0u8; 512];
    let mut round = |buf: Vec<u8>, off: u64| -> Vec<u8> {
        let id = ring.submit_op(ops::Read::new(&file, buf, off)).unwrap();
        let (res, buf) = ring.wait_for(id).unwrap();
        assert_eq!(res.unwrap(), 512);
        assert_eq!(buf[0], (off as u32 * 7) as u8);
        buf
    };
    // Warm up: the table's first slots, the first enter.
    for _ in 0..4 {
        buf = round(buf, 0);
    }
    let n = allocations(|| {
        for i in 0..64u64 {
            buf = round(std::mem::take(&mut buf), (i % 8) * 512);
        }
    });
    assert_eq!(n, 0, "allocations in 64 reads");
}

#[test]
fn batches_through_completions_and_try_take_allocate_nothing() {
    let mut ring = OwnedRing::new(32).unwrap();
    let file = data_file();
    let mut bufs: Vec<Vec<u8>> = (0..16).map(|_| vec![0u8; 256]).collect();
    let mut batch = |bufs: &mut Vec<Vec<u8>>, via_completions: bool| {
        let mut ids = [const { None }; 16];
        for (i, id) in ids.iter_mut().enumerate() {
            let buf = bufs.pop().unwrap();
            *id = Some(
                ring.submit_op(ops::Read::new(&file, buf, i as u64 * 256))
                    .unwrap(),
            );
        }
        ring.submit_and_wait(16).unwrap();
        if via_completions {
            let mut seen = 0;
            for c in ring.completions() {
                let (res, buf) = c.downcast::<ops::Read<Vec<u8>>>().ok().unwrap();
                assert_eq!(res.unwrap(), 256);
                bufs.push(buf);
                seen += 1;
            }
            assert_eq!(seen, 16);
        } else {
            for id in ids.iter().rev() {
                let (res, buf) = ring.try_take(id.as_ref().unwrap()).unwrap();
                assert_eq!(res.unwrap(), 256);
                bufs.push(buf);
            }
        }
    };
    batch(&mut bufs, true);
    batch(&mut bufs, false);
    let n = allocations(|| {
        for i in 0..16 {
            batch(&mut bufs, i % 2 == 0);
        }
    });
    assert_eq!(n, 0, "allocations in 16 batches of 16 reads");
}

#[test]
fn nops_chains_and_next_completion_allocate_nothing() {
    let mut ring = OwnedRing::new(8).unwrap();
    let mut round = || {
        let (a, b, c) = ring
            .submit_linked((ops::Nop::new(), ops::Nop::new(), ops::Nop::new()))
            .unwrap();
        let d = ring.submit_op(ops::Nop::new()).unwrap();
        assert_eq!(ring.wait_for(c).unwrap().unwrap(), 0);
        assert_eq!(ring.wait_for(a).unwrap().unwrap(), 0);
        let next = ring.next_completion().unwrap();
        assert!(next.is_for(&b) || next.is_for(&d));
        drop(next);
        let last = ring.next_completion().unwrap();
        assert!(last.is_for(&b) || last.is_for(&d));
        assert_eq!(last.downcast::<ops::Nop>().ok().unwrap().unwrap(), 0);
    };
    for _ in 0..4 {
        round();
    }
    let n = allocations(|| {
        for _ in 0..64 {
            round();
        }
    });
    assert_eq!(n, 0, "allocations in 64 rounds of a chain and a NOP");
}
