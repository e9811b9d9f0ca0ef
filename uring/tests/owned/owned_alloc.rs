//! The safe layer's per-operation path allocates nothing once warm: operations
//! live in their table slots, not in boxes, and finished ones are taken from
//! there. A counting global allocator checks it, for each way of taking an
//! output (`wait_for`, `try_take`, `completions` + `downcast`, `next_completion`),
//! for chains, for a `TypedRing`'s batches and outputs, for multishot items
//! (`next_item`) and for the `async` feature's futures.
//!
//! The counting allocator is this binary's global allocator: it only forwards to
//! the system's and counts, per thread, so the other modules' tests running on
//! other threads neither see nor disturb the counts.

use crate::support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write as _;

use uring::owned::{OwnedRing, SharedFd, TypedRing, ops};

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
    SharedFd::from(plain_data_file())
}

/// A file of 4 KiB of known bytes: byte `k` is `k * 7` (mod 256).
fn plain_data_file() -> std::fs::File {
    let mut f = support::unlinked_file("owned-alloc");
    let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    f.write_all(&bytes).unwrap();
    f
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

/// One round of a `TypedRing`'s reads of `held`: each buffer of `bufs` read
/// at its own 512-byte block through one batch, the outputs taken from
/// `completions`; then one more by `submit_op` and `next_completion`. The
/// buffers come back into `bufs`.
fn typed_round(
    ring: &mut TypedRing<ops::Read<Vec<u8>>>,
    held: uring::owned::HeldFd,
    bufs: &mut Vec<Vec<u8>>,
) {
    let n = bufs.len();
    {
        let mut batch = ring.batch();
        for (i, mut buf) in bufs.drain(..).enumerate() {
            buf.clear();
            batch
                .push(ops::Read::new(held, buf, i as u64 * 512))
                .unwrap();
        }
    }
    ring.submit_and_wait(n).unwrap();
    for (_, (res, buf)) in ring.completions() {
        assert_eq!(res.unwrap(), 512);
        bufs.push(buf);
    }
    assert_eq!(bufs.len(), n, "every read's output");
    let buf = bufs.pop().unwrap();
    let key = ring.submit_op(ops::Read::new(held, buf, 1024)).unwrap();
    let (k, (res, buf)) = ring.next_completion().unwrap();
    assert_eq!((k, res.unwrap(), buf[0]), (key, 512, (1024u32 * 7) as u8));
    bufs.push(buf);
}

#[test]
fn typed_ring_batches_and_outputs_allocate_nothing() {
    let mut ring = TypedRing::<ops::Read<Vec<u8>>>::new(16).unwrap();
    let held = ring.hold_fd(plain_data_file()).unwrap();
    let mut bufs: Vec<Vec<u8>> = (0..8).map(|_| Vec::with_capacity(512)).collect();
    // Warm up: the slots, the first enters.
    for _ in 0..4 {
        typed_round(&mut ring, held, &mut bufs);
    }
    let n = allocations(|| {
        for _ in 0..16 {
            typed_round(&mut ring, held, &mut bufs);
        }
    });
    assert_eq!(n, 0, "allocations in 16 rounds of 9 reads");
}

#[test]
fn multishot_items_allocate_nothing() {
    const TEST: &str = "multishot_items_allocate_nothing";
    let mut ring = OwnedRing::new(8).unwrap();
    let Some(pool) = support::pool_or_skip(&mut ring, 1, 8, 64, TEST) else {
        return;
    };
    let (mut client, server) = support::tcp_pair();
    let server = SharedFd::from(server);
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(&server, &pool))
        .unwrap();
    let mut round = |i: u8| -> bool {
        client.write_all(&[i; 16]).unwrap();
        let item = ring
            .next_item(&id)
            .unwrap()
            .item()
            .expect("the stream goes on");
        let buf = match item {
            Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) => {
                support::skip(
                    TEST,
                    &format!("the kernel refused a multishot receive ({e})"),
                );
                return false;
            }
            item => item.unwrap(),
        };
        assert_eq!(&buf[..], &[i; 16]);
        true
    };
    for i in 0..4 {
        if !round(i) {
            return;
        }
    }
    let n = allocations(|| {
        for i in 0..64 {
            assert!(round(i));
        }
    });
    assert_eq!(n, 0, "allocations in 64 items");
}

/// Each round's receive is polled before its data is sent, so every round
/// takes the same path: pending (its waker kept), woken by `process_blocking`,
/// then ready. (A read of a file may finish before the first poll, skipping
/// the waker: a warm-up of such rounds left the waker tables unwarmed.)
#[cfg(feature = "async")]
#[test]
fn async_futures_allocate_nothing() {
    use std::future::Future as _;
    use std::task::{Context, Poll, Waker};
    let ring = uring::owned::AsyncRing::new(OwnedRing::new(8).unwrap()).unwrap();
    let (r, mut w) = std::os::unix::net::UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    let mut cx = Context::from_waker(Waker::noop());
    let mut buf = Some(Vec::with_capacity(64));
    let mut round = |i: u8| {
        let mut b = buf.take().unwrap();
        b.clear();
        let fut = ring.run(ops::Recv::new(&r, b)).unwrap();
        let mut fut = std::pin::pin!(fut);
        assert!(fut.as_mut().poll(&mut cx).is_pending(), "nothing sent yet");
        w.write_all(&[i; 16]).unwrap();
        let (res, b) = loop {
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(out) => break out.unwrap(),
                Poll::Pending => {
                    ring.process_blocking().unwrap();
                }
            }
        };
        assert_eq!((res.unwrap(), &b[..]), (16, &[i; 16][..]));
        buf = Some(b);
    };
    for i in 0..4 {
        round(i);
    }
    let n = allocations(|| {
        for i in 0..64 {
            round(i);
        }
    });
    assert_eq!(n, 0, "allocations in 64 futures");
}
