//! Each hazard of the safe layer, with a test that would crash, corrupt, hang or
//! leak a descriptor if its safety model were wrong. Run these under
//! AddressSanitizer too (see the report in the module docs of `uring::owned`).

use crate::support;
use support::kernel_release;
use support::pipe_files as pipe;

use std::collections::HashSet;
use std::io::Write as _;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};

use std::sync::atomic::Ordering;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{OwnedRing, SharedFd, leaked_ops, ops};
use uring::sqe::Sqe;

/// [`readers_gone`], allowing the kernel a moment to let go of the file. On
/// older kernels a read of an empty pipe may run on an io-wq worker, which
/// posts the completion and only then puts the request with its reference to
/// the file: the read end can outlive a completion already taken by a few
/// scheduling slices (seen on 5.10 under QEMU, the machine loaded). A
/// descriptor the ring kept would never go: that still fails, after two
/// seconds.
fn readers_gone_soon(w: &mut std::fs::File) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        if readers_gone(w) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Whether writing to `w` finds its pipe without readers (`EPIPE`): proof that
/// every read end — including the ones operations held — is closed.
///
/// No child process is being started meanwhile: one would hold a copy of every
/// descriptor of this process (the test binary's others run beside this one) until
/// it has exec'd.
fn readers_gone(w: &mut std::fs::File) -> bool {
    let _no_forks = support::no_forks();
    match w.write(b"x") {
        Err(e) => {
            assert_eq!(e.raw_os_error(), Some(libc::EPIPE), "{e}");
            true
        }
        Ok(n) => {
            assert_eq!(n, 1);
            false
        }
    }
}

use crate::tracked::Tracked;

#[test]
fn dropping_the_ring_cancels_a_pending_read_and_frees_it_after_its_completion() {
    let (r, mut w) = pipe();
    let mut ring = OwnedRing::new(4).unwrap();
    // A read that never gets data: only cancellation ends it.
    let (buf, dropped) = Tracked::new(4096);
    let _id = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), buf, u64::MAX))
        .unwrap();
    ring.submit().unwrap();
    assert!(!dropped.load(Ordering::SeqCst), "held while in flight");
    drop(ring);
    // The ring waited for the cancellation's completion, then released the
    // buffer and the read end.
    assert!(
        dropped.load(Ordering::SeqCst),
        "freed once complete, not leaked"
    );
    assert!(
        readers_gone_soon(&mut w),
        "the op's descriptor was released"
    );
}

#[test]
fn close_reports_cancelled_and_leaked_counts() {
    let (r, mut w) = pipe();
    let r = SharedFd::from(OwnedFd::from(r));
    let mut ring = OwnedRing::new(8).unwrap();
    for _ in 0..3 {
        let _ = ring
            .submit_op(ops::Read::new(&r, vec![0u8; 64], u64::MAX))
            .unwrap();
    }
    // Queued but never submitted by the caller: close submits, then cancels.
    let _ = ring.submit_op(ops::Nop::new()).unwrap();
    assert_eq!(ring.in_flight(), 4);
    drop(r);
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (4, 0));
    assert!(readers_gone_soon(&mut w));
}

#[test]
fn ops_the_kernel_never_finishes_are_leaked_not_freed() {
    // A disabled ring cannot be entered: the read is queued for a kernel that never
    // takes it, so the ring cannot know it is done — it must leak it.
    let (r, mut w) = pipe();
    let builder = uring::Ring::builder().r_disabled();
    let mut ring = OwnedRing::from_builder(builder, 4).unwrap();
    ring.set_drop_timeout(Duration::from_millis(50));
    let (buf, dropped) = Tracked::new(16);
    let _ = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), buf, u64::MAX))
        .unwrap();
    let before = leaked_ops();
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (0, 1));
    assert!(leaked_ops() > before);
    assert!(!dropped.load(Ordering::SeqCst), "the buffer was not freed");
    // The leaked op still holds the read end open: it was not dropped.
    assert!(!readers_gone(&mut w));
}

#[test]
fn forgetting_an_id_frees_nothing() {
    let (r, mut w) = pipe();
    let mut ring = OwnedRing::new(4).unwrap();
    let id = ring
        .submit_op(ops::Read::new(
            OwnedFd::from(r),
            Vec::with_capacity(32),
            u64::MAX,
        ))
        .unwrap();
    let key = id.key();
    // Forgetting an id is the same as dropping it — which is the point (it is
    // Copy: a plain number).
    #[allow(clippy::forget_non_drop, forgetting_copy_types)]
    std::mem::forget(id);
    ring.submit().unwrap();
    w.write_all(b"after forget").unwrap();
    ring.submit_and_wait(1).unwrap();
    let c = ring
        .completions()
        .next()
        .expect("the completion still arrives");
    assert_eq!(c.key(), key);
    let (n, buf) = c.downcast::<ops::Read<Vec<u8>>>().unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (12, &b"after forget"[..]));
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn forgetting_the_ring_leaks_everything_and_frees_nothing() {
    let (r, mut w) = pipe();
    let mut ring = OwnedRing::new(4).unwrap();
    let (buf, dropped) = Tracked::new(32);
    let _ = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), buf, u64::MAX))
        .unwrap();
    ring.submit().unwrap();
    std::mem::forget(ring);
    assert!(!dropped.load(Ordering::SeqCst));
    // The kernel completes the read into memory that stays allocated forever.
    w.write_all(b"into leaked memory").unwrap();
    assert!(!readers_gone(&mut w), "the leaked op keeps its descriptor");
}

#[test]
fn closing_the_callers_copy_cannot_redirect_an_in_flight_read() {
    let (r, mut w) = pipe();
    let shared = SharedFd::from(OwnedFd::from(r));
    let number = shared.as_raw_fd();
    let mut ring = OwnedRing::new(4).unwrap();
    let id = ring
        .submit_op(ops::Read::new(&shared, Vec::with_capacity(16), u64::MAX))
        .unwrap();
    ring.submit().unwrap();
    // The caller closes its copy and opens other files: none can get the number,
    // because the operation still holds the descriptor.
    drop(shared);
    let others: Vec<std::fs::File> = (0..16)
        .map(|_| std::fs::File::open("/dev/null").unwrap())
        .collect();
    assert!(others.iter().all(|f| f.as_raw_fd() != number));
    // The read still targets the original pipe.
    w.write_all(b"original").unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (8, &b"original"[..]));
    // Now the op is done, the pipe's last reader is gone.
    assert!(readers_gone_soon(&mut w));
}

#[test]
fn cq_overflow_under_a_flood_loses_nothing() {
    // 4 SQ entries, 8 CQ entries, 1000 operations submitted without reaping: the
    // kernel must park completions on its overflow list, and every one must
    // come back exactly once.
    const N: usize = 1000;
    let mut ring = OwnedRing::new(4).unwrap();
    assert_eq!(ring.ring().params().cq_entries(), 8);
    let zero = SharedFd::from(std::fs::File::open("/dev/zero").unwrap());
    let mut keys = HashSet::new();
    for i in 0..N {
        let key = if i % 2 == 0 {
            ring.submit_op(ops::Nop::new()).unwrap().key()
        } else {
            ring.submit_op(ops::Read::new(&zero, vec![0xaa; 16], 0))
                .unwrap()
                .key()
        };
        assert!(keys.insert(key), "ids are unique");
    }
    ring.submit().unwrap();
    assert!(ring.ring().cq_has_overflow(), "the flood overflowed the CQ");
    assert_eq!(ring.in_flight(), N);

    let mut nops = 0;
    let mut reads = 0;
    while ring.in_flight() > 0 {
        ring.submit_and_wait(1).unwrap();
        for c in ring.completions() {
            assert!(keys.remove(&c.key()), "each completion once: {c:?}");
            match c.downcast::<ops::Nop>() {
                Ok(res) => {
                    assert_eq!(res.unwrap(), 0);
                    nops += 1;
                }
                Err(c) => {
                    let (n, buf) = c.downcast::<ops::Read<Vec<u8>>>().unwrap();
                    assert_eq!(n.unwrap(), 16);
                    assert_eq!(buf, [0u8; 16]);
                    reads += 1;
                }
            }
        }
    }
    assert_eq!((nops, reads), (N / 2, N / 2));
    assert!(keys.is_empty());
    assert!(!ring.ring().cq_has_overflow());
}

#[test]
fn a_panic_in_the_completion_handler_leaves_the_ring_usable() {
    let mut ring = OwnedRing::new(8).unwrap();
    for _ in 0..4 {
        let _ = ring.submit_op(ops::Nop::new()).unwrap();
    }
    ring.submit_and_wait(4).unwrap();
    let mut handled = 0;
    let caught = catch_unwind(AssertUnwindSafe(|| {
        for c in ring.completions() {
            handled += 1;
            assert_eq!(c.result().unwrap(), 0);
            if handled == 2 {
                panic!("the user's handler fails");
            }
        }
    }));
    assert!(caught.is_err());
    // The two completions not yet handed out are still there.
    assert_eq!(ring.completions().count(), 2);
    // And the ring works.
    let (r, mut w) = pipe();
    let id = ring
        .submit_op(ops::Read::new(
            OwnedFd::from(r),
            Vec::with_capacity(8),
            u64::MAX,
        ))
        .unwrap();
    w.write_all(b"ok").unwrap();
    assert_eq!(ring.wait_for(id).unwrap().1, b"ok");
}

#[test]
fn a_panic_with_ops_in_flight_drops_the_ring_cleanly() {
    let (r, mut w) = pipe();
    let t = std::thread::spawn(move || {
        let mut ring = OwnedRing::new(4).unwrap();
        let _ = ring
            .submit_op(ops::Read::new(OwnedFd::from(r), vec![0u8; 128], u64::MAX))
            .unwrap();
        // Queued, not yet submitted, when the thread panics.
        let _ = ring.submit_op(ops::Nop::new()).unwrap();
        panic!("between push and submit");
    });
    assert!(t.join().is_err());
    // Unwinding dropped the ring: it submitted, cancelled, waited, released.
    assert!(readers_gone_soon(&mut w));
}

#[test]
fn a_stale_or_foreign_id_never_matches() {
    let mut ring = OwnedRing::new(4).unwrap();
    let first = ring.submit_op(ops::Nop::new()).unwrap();
    let first_key = first.key();
    ring.wait_for(first).unwrap().unwrap();
    // The same slot is reused, with a new generation.
    let second = ring.submit_op(ops::Nop::new()).unwrap();
    assert_ne!(second.key(), first_key);

    let mut other = OwnedRing::new(4).unwrap();
    let foreign = other.submit_op(ops::Nop::new()).unwrap();
    let err = ring.cancel(&foreign).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT));
    let err = ring.wait_for(foreign).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL));
    assert_eq!(ring.wait_for(second).unwrap().unwrap(), 0);
    // The foreign op is still other's to complete.
    other.submit_and_wait(1).unwrap();
    assert_eq!(other.completions().count(), 1);
}

#[test]
fn raw_entries_cannot_take_the_tables_user_data() {
    let mut ring = OwnedRing::new(4).unwrap();
    let nop = || uring::op::Nop::new().build();
    for reserved in [1u64 << 63, 1 << 62, u64::MAX] {
        let sqe: Sqe = nop().user_data(reserved);
        // SAFETY: a NOP names no memory.
        let err = unsafe { ring.push_raw(&sqe) }.unwrap_err();
        assert_eq!(errno(&err), Some(libc::EINVAL));
    }
    let id = ring.submit_op(ops::Nop::new()).unwrap();
    // SAFETY: a NOP names no memory.
    unsafe { ring.push_raw(&nop().user_data(uring::owned::RAW_USER_DATA_MAX)) }.unwrap();
    ring.submit_and_wait(2).unwrap();
    let raw: Vec<_> = ring.raw_completions().map(|c| c.user_data()).collect();
    assert_eq!(raw, [uring::owned::RAW_USER_DATA_MAX]);
    let owned: Vec<_> = ring.completions().map(|c| c.key()).collect();
    assert_eq!(owned, [id.key()]);
}

#[test]
fn an_unwanted_new_descriptor_is_closed_not_leaked() {
    // Open a second read end of a pipe through /proc; when its output is not
    // wanted, it must be closed — the writer then sees no readers at all.
    for detach in [true, false] {
        let (r, mut w) = pipe();
        let path = format!("/proc/self/fd/{}", r.as_raw_fd());
        let mut ring = OwnedRing::new(4).unwrap();
        let id = ring
            .submit_op(ops::OpenAt::new(&path, libc::O_RDONLY).unwrap())
            .unwrap();
        if detach {
            ring.detach(id);
            while ring.in_flight() > 0 {
                ring.submit_and_wait(1).unwrap();
                assert_eq!(ring.completions().count(), 0, "detached: never queued");
            }
        } else {
            ring.submit_and_wait(1).unwrap();
            let c = ring.completions().next().unwrap();
            assert!(c.result().unwrap() > 0, "opened");
            drop(c);
        }
        drop(r);
        assert!(
            readers_gone_soon(&mut w),
            "detach={detach}: the new fd was closed"
        );
    }
}

#[test]
fn dropping_a_ring_with_unreaped_completions_releases_them() {
    let (r, mut w) = pipe();
    let mut ring = OwnedRing::new(4).unwrap();
    let _ = ring
        .submit_op(ops::Read::new(
            OwnedFd::from(r),
            Vec::with_capacity(4),
            u64::MAX,
        ))
        .unwrap();
    w.write_all(b"data").unwrap();
    ring.submit_and_wait(1).unwrap();
    // Completed in the kernel's queue, never taken.
    drop(ring);
    assert!(readers_gone_soon(&mut w));
}

#[test]
fn a_full_submission_queue_is_submitted_to_make_room() {
    let mut ring = OwnedRing::new(2).unwrap();
    let ids: Vec<_> = (0..10)
        .map(|_| ring.submit_op(ops::Nop::new()).unwrap())
        .collect();
    for id in ids {
        assert_eq!(ring.wait_for(id).unwrap().unwrap(), 0);
    }
}

#[test]
fn a_short_read_grows_a_vec_only_over_what_was_read() {
    // A short read into spare capacity: the length covers exactly the bytes read.
    let (r, mut w) = pipe();
    w.write_all(b"abc").unwrap();
    drop(w);
    let mut ring = OwnedRing::new(2).unwrap();
    let mut v = Vec::with_capacity(4096);
    v.extend_from_slice(b"XY");
    let id = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), v, u64::MAX))
        .unwrap();
    let (n, v) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 3);
    // Read from the start: "abc" overwrote "XY" and the length grew to 3.
    assert_eq!(v, b"abc");
}

/// A user's own operation (a NOP) whose completion handling panics.
struct Boom;

// SAFETY: a NOP names no memory and no descriptor.
unsafe impl uring::owned::Op for Boom {
    type Output = ();
    fn sqe(&mut self) -> Sqe {
        uring::op::Nop::new().build()
    }
    fn complete(self, _cqe: &uring::Cqe) {
        panic!("Boom::complete");
    }
}

#[test]
fn a_panic_while_processing_completions_keeps_the_table_consistent() {
    let mut ring = OwnedRing::new(8).unwrap();
    let boom = ring.submit_op(Boom).unwrap();
    let a = ring.submit_op(ops::Nop::new()).unwrap();
    let b = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(3).unwrap();
    // The user's loop over completions panics in the middle: Boom's output is made
    // (and panics) when its completion is taken apart, in the user's hands.
    let mut seen = Vec::new();
    let r = catch_unwind(AssertUnwindSafe(|| {
        for c in ring.completions() {
            seen.push(c.key());
        }
    }));
    assert!(r.is_err());
    assert_eq!(seen, [boom.key()]);
    // Boom left the table; the iterator read no further, so the other two
    // completions wait unread in the kernel's queue — not lost.
    assert_eq!(ring.in_flight(), 2);
    assert!(!ring.is_in_flight(&boom));
    let keys: Vec<_> = ring.completions().map(|c| c.key()).collect();
    assert_eq!(keys, [a.key(), b.key()]);
    assert_eq!(ring.in_flight(), 0);
}

/// A user's own multishot operation (a poll that stays armed) whose handling of a
/// `MORE` completion panics.
struct BoomMore(SharedFd);

// SAFETY: a poll names no memory; its descriptor is kept open by the SharedFd.
unsafe impl uring::owned::Op for BoomMore {
    type Output = ();
    fn sqe(&mut self) -> Sqe {
        uring::op::PollAdd::new(uring::types::Fd(self.0.as_raw_fd()), libc::POLLOUT as u32)
            .multi(true)
            .build()
    }
    fn more(&mut self, _cqe: &uring::Cqe) {
        panic!("BoomMore::more");
    }
    fn complete(self, _cqe: &uring::Cqe) {}
}

#[test]
fn a_panic_escaping_the_rings_drop_leaks_rather_than_frees() {
    if kernel_older_than(5, 13) {
        println!(
            "skipped: multishot poll needs Linux 5.13, this is {}",
            kernel_release()
        );
        return;
    }
    let (r, mut w) = pipe();
    let (_r2, w2) = pipe();
    let (buf, dropped) = Tracked::new(64);
    let mut ring = OwnedRing::new(8).unwrap();
    // A multishot poll on a writable pipe posts a MORE completion at once; the
    // ring's drop processes it, and the op's handler panics out of the drop while
    // the read below is still in the table.
    let _ = ring.submit_op(BoomMore(SharedFd::from(w2))).unwrap();
    let _ = ring
        .submit_op(ops::Read::new(OwnedFd::from(r), buf, u64::MAX))
        .unwrap();
    ring.submit_and_wait(1).unwrap();
    assert!(catch_unwind(AssertUnwindSafe(move || drop(ring))).is_err());
    // The read was still in the table when the panic escaped: leaked, not freed.
    assert!(!dropped.load(Ordering::SeqCst));
    assert!(!readers_gone(&mut w));
}

/// Whether the running kernel is older than `major.minor`.
fn kernel_older_than(major: u32, minor: u32) -> bool {
    let release = kernel_release();
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let have = (
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0),
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0),
    );
    have < (major, minor)
}

/// A user's own multishot operation: a timeout that fires `count` times.
struct Ticks {
    ts: Box<uring::types::Timespec>,
    count: u32,
    seen_more: u32,
}

// SAFETY: the entry names only the boxed timespec, which the kernel reads and
// which lives (at a fixed heap address) as long as the op; no descriptor.
unsafe impl uring::owned::Op for Ticks {
    type Output = (u32, i32);
    fn sqe(&mut self) -> Sqe {
        uring::op::Timeout::new(&*self.ts)
            .count(self.count)
            .flags(uring::types::TimeoutFlags::MULTISHOT)
            .build()
    }
    fn more(&mut self, cqe: &uring::Cqe) {
        assert!(cqe.is_more());
        self.seen_more += 1;
    }
    fn complete(self, cqe: &uring::Cqe) -> (u32, i32) {
        (self.seen_more, cqe.raw_result())
    }
}

#[test]
fn a_multishot_op_stays_in_the_table_until_its_final_completion() {
    let uname = kernel_release();
    let mut ring = OwnedRing::new(4).unwrap();
    let id = ring
        .submit_op(Ticks {
            ts: Box::new(Duration::from_millis(1).into()),
            count: 3,
            seen_more: 0,
        })
        .unwrap();
    let key = id.key();
    let (more, res) = match ring.wait_for(id) {
        Ok(out) => out,
        Err(e) => panic!("wait: {e} ({uname})"),
    };
    if res == -libc::EINVAL {
        println!("skipped: multishot timeouts need Linux 6.4, this is {uname}");
        return;
    }
    // Two completions flagged MORE went to `more`, the third finished the op.
    assert_eq!((more, res), (2, -libc::ETIME));
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(ring.completions().filter(|c| c.key() == key).count(), 0);
}

#[test]
fn the_model_holds_on_every_common_ring_setup() {
    type Setup = fn() -> uring::Builder<'static>;
    let setups: [(&str, Setup); 6] = [
        ("default", || uring::Ring::builder()),
        ("sqe128+cqe32", || uring::Ring::builder().sqe128().cqe32()),
        ("single_issuer+defer_taskrun", || {
            uring::Ring::builder().single_issuer().defer_taskrun()
        }),
        ("coop_taskrun+taskrun_flag", || {
            uring::Ring::builder().coop_taskrun().taskrun_flag()
        }),
        ("sqpoll", || {
            uring::Ring::builder().sqpoll().sq_thread_idle(10)
        }),
        ("no_sqarray", || uring::Ring::builder().no_sqarray()),
    ];
    for (name, setup) in setups {
        let mut ring = match OwnedRing::from_builder(setup(), 4) {
            Ok(ring) => ring,
            Err(e) => {
                println!("skipped: setup {name} because the kernel refused it: {e}");
                continue;
            }
        };
        // A round trip.
        let (r, mut w) = pipe();
        let r = SharedFd::from(OwnedFd::from(r));
        w.write_all(b"setup").unwrap();
        let id = ring
            .submit_op(ops::Read::new(&r, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        let (n, buf) = ring.wait_for(id).unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"setup"[..]), "{name}");
        // A flood past the CQ size.
        let ids: Vec<_> = (0..40)
            .map(|_| ring.submit_op(ops::Nop::new()).unwrap())
            .collect();
        let mut left: HashSet<_> = ids.iter().map(|id| id.key()).collect();
        while !left.is_empty() {
            let c = ring.next_completion().unwrap();
            assert!(left.remove(&c.key()), "{name}: {c:?}");
        }
        // The same flood, taken by the iterators, which read the kernel's queue
        // as they go (flushing its overflow list when it runs dry) — or, on a
        // ring of 32-byte entries, process it whole first.
        for typed in [false, true] {
            let ids: Vec<_> = (0..40)
                .map(|_| ring.submit_op(ops::Nop::new()).unwrap())
                .collect();
            let mut left: HashSet<_> = ids.iter().map(|id| id.key()).collect();
            loop {
                if typed {
                    for (key, res) in ring.completions_of::<ops::Nop>() {
                        assert_eq!(res.unwrap(), 0, "{name}");
                        assert!(left.remove(&key), "{name}: {key:?}");
                    }
                } else {
                    for c in ring.completions() {
                        assert_eq!(c.raw_result(), 0, "{name}");
                        assert!(left.remove(&c.key()), "{name}: {c:?}");
                    }
                }
                if left.is_empty() {
                    break;
                }
                // Those left are in flight (the iterator took every finished one).
                assert_eq!(ring.in_flight(), left.len(), "{name}");
                ring.submit_and_wait(1).unwrap();
            }
            assert_eq!(ring.in_flight(), 0, "{name}");
        }
        // Dropped with a read pending.
        let (buf, dropped) = Tracked::new(64);
        let _ = ring.submit_op(ops::Read::new(&r, buf, u64::MAX)).unwrap();
        drop(r);
        let report = ring.close();
        assert_eq!((report.completed, report.leaked), (1, 0), "{name}");
        assert!(dropped.load(Ordering::SeqCst), "{name}");
        assert!(readers_gone_soon(&mut w), "{name}");
    }
}

/// Whether this kernel sets up `SINGLE_ISSUER | DEFER_TASKRUN` rings (Linux 6.1);
/// prints the skip line when it does not.
fn defer_taskrun_builder(test: &str) -> Option<uring::setup::Builder<'static>> {
    support::defer_taskrun(test).then(|| uring::Ring::builder().single_issuer().defer_taskrun())
}

/// A linked member the kernel had not issued yet when close sent its
/// cancellations (its head had just completed) is found by a later one: close
/// keeps cancelling while it waits, and leaks nothing.
#[test]
fn close_cancels_a_chain_member_issued_after_its_first_cancellation() {
    const TEST: &str = "close_cancels_a_chain_member_issued_after_its_first_cancellation";
    let mut builders: Vec<_> = (0..10).map(|_| uring::Ring::builder()).collect();
    // On a DEFER_TASKRUN ring the member is issued only when close enters the
    // kernel to wait: after the first cancellations, every time.
    builders.extend(defer_taskrun_builder(TEST));
    for builder in builders {
        let mut ring = OwnedRing::from_builder(builder, 4).unwrap();
        ring.set_drop_timeout(Duration::from_secs(3));
        let (client, server) = support::tcp_pair();
        let server = SharedFd::from(server);
        let _ids = ring
            .submit_linked((
                ops::Write::new(&server, Vec::new(), u64::MAX),
                ops::Read::new(&server, Vec::with_capacity(8), u64::MAX),
            ))
            .unwrap();
        let report = ring.close();
        assert_eq!(
            (report.completed, report.leaked),
            (2, 0),
            "nothing leaked, nothing left"
        );
        assert_eq!(server.holders(), 1, "the read's descriptor came back");
        drop(client);
    }
}

/// A `SINGLE_ISSUER` ring, or `None` (with the skip line) before Linux 6.0.
fn single_issuer_ring(test: &str) -> Option<OwnedRing> {
    match OwnedRing::from_builder(uring::Ring::builder().single_issuer(), 4) {
        Ok(ring) => Some(ring),
        Err(e) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused SINGLE_ISSUER ({e}); Linux 6.0 is needed",
                    kernel_release()
                ),
            );
            None
        }
    }
}

/// A `SINGLE_ISSUER` ring belongs to the thread that first enters the kernel
/// with it, not the one that made it; from any other it is refused with an
/// error naming the rule.
#[test]
fn a_single_issuer_ring_binds_to_its_first_user_and_refuses_others() {
    let Some(mut ring) = single_issuer_ring("a_single_issuer_ring_binds_to_its_first_user") else {
        return;
    };
    // Made here, used on another thread: that thread becomes its issuer.
    let mut ring = std::thread::spawn(move || {
        let id = ring.submit_op(ops::Nop::new()).unwrap();
        assert_eq!(ring.wait_for(id).unwrap().unwrap(), 0);
        ring
    })
    .join()
    .unwrap();
    // Back here, it is refused before the kernel sees it, with the rule named.
    let err = ring.submit().unwrap_err();
    assert_eq!(errno(&err), Some(libc::EEXIST));
    assert!(err.to_string().contains("SINGLE_ISSUER"), "{err}");
    let err = ring.submit_and_wait(1).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EEXIST));
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (0, 0));
}

/// Dropped on another thread with a read in flight (which cannot be cancelled
/// from there), a `SINGLE_ISSUER` ring is handed back to its own thread, which
/// cancels and waits for the read the next time it makes or drops a ring.
#[test]
fn a_single_issuer_ring_dropped_on_another_thread_is_handed_back_not_leaked() {
    const TEST: &str = "a_single_issuer_ring_dropped_on_another_thread";
    let Some(ring) = single_issuer_ring(TEST) else {
        return;
    };
    handed_back_not_leaked(ring);
    // DEFER_TASKRUN: there even waiting needs the ring's own thread.
    if let Some(builder) = defer_taskrun_builder(TEST) {
        handed_back_not_leaked(OwnedRing::from_builder(builder, 4).unwrap());
    }
}

fn handed_back_not_leaked(mut ring: OwnedRing) {
    let (client, server) = support::tcp_pair();
    let server = SharedFd::from(server);
    let _id = ring
        .submit_op(ops::Read::new(&server, Vec::with_capacity(8), u64::MAX))
        .unwrap();
    ring.submit().unwrap(); // binds the ring to this thread
    let report = std::thread::spawn(move || ring.close()).join().unwrap();
    assert_eq!(
        (report.completed, report.leaked, report.handed_back),
        (0, 0, 1)
    );
    assert_eq!(server.holders(), 2, "the read is still in flight");
    // This thread makes a ring: the one handed back is finished first.
    drop(OwnedRing::new(1).unwrap());
    // One holder left: the read was cancelled and freed, not leaked (a leaked op
    // keeps its descriptor). leaked_ops() is process-wide, and other tests of this
    // binary leak on purpose meanwhile, so it proves nothing here.
    assert_eq!(server.holders(), 1, "the read was cancelled and freed");
    drop(client);
}

/// When its thread has exited, no thread may enter the kernel with the ring any
/// more (the kernel refuses all but that thread); a drop elsewhere still sees the
/// completions that arrive, by reading the queue, and frees what they finish.
#[test]
fn a_single_issuer_ring_outliving_its_thread_still_frees_what_completes() {
    let Some(ring) = single_issuer_ring("a_single_issuer_ring_outliving_its_thread") else {
        return;
    };
    let (mut client, server) = support::tcp_pair();
    let server = SharedFd::from(server);
    let s = server.clone();
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        let _id = ring
            .submit_op(ops::Read::new(&s, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        ring.submit().unwrap();
        ring
    })
    .join()
    .unwrap();
    // Its thread is gone; the read completes when the bytes come.
    std::io::Write::write_all(&mut client, b"late").unwrap();
    ring.set_drop_timeout(Duration::from_secs(5));
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (1, 0), "{report:?}");
    // Freed, not leaked: a leaked op would still hold the descriptor.
    assert_eq!(server.holders(), 1);
}
