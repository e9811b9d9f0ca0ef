//! The safe layer on rings whose descriptor is registered with their thread
//! (`Builder::register_ring_fd`, `IORING_REGISTER_RING_FDS`): operations,
//! registrations that duplicate the ring's descriptor (pools, registered
//! buffers, direct tables, mailboxes), rings moved to other threads (which enter
//! through the plain descriptor there), dropped on another thread that has its
//! own registered ring at the same index, and the per-thread limit. A kernel
//! without registered ring descriptors (before Linux 5.18) prints why each test
//! is skipped.

use crate::support;
use support::kernel_release;

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::Ring;
use uring::error::errno;
use uring::owned::{BufPool, DirectTable, FixedBufs, OwnedRing, ops};

/// A ring with a registered descriptor, or `None` (the reason printed).
fn registered(test: &str) -> Option<OwnedRing> {
    match OwnedRing::from_builder(Ring::builder().register_ring_fd(), 8) {
        Ok(r) => {
            assert!(r.ring().is_ring_fd_registered());
            Some(r)
        }
        Err(e) if errno(&e) == Some(libc::EINVAL) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused IORING_REGISTER_RING_FDS ({e}); Linux 5.18 is needed",
                    kernel_release()
                ),
            );
            None
        }
        Err(e) => panic!("a ring with a registered descriptor: {e}"),
    }
}

/// Sends `msg` into a fresh socket pair through `ring` and checks the peer got it.
fn echo_through(ring: &mut OwnedRing, msg: &[u8]) {
    let (a, mut b) = UnixStream::pair().unwrap();
    let id = ring.submit_op(ops::Send::new(a, msg.to_vec())).unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), msg.len());
    let mut got = vec![0u8; msg.len()];
    b.read_exact(&mut got).unwrap();
    assert_eq!(got, msg);
}

#[test]
fn operations_and_registrations_work_through_a_registered_descriptor() {
    let test = "operations_and_registrations_work_through_a_registered_descriptor";
    let Some(mut ring) = registered(test) else {
        return;
    };
    let id = ring.submit_op(ops::Nop::new()).unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 0);
    echo_through(&mut ring, b"registered");

    let bufs = FixedBufs::new(&mut ring, 1, 64).unwrap();
    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(b"fixed").unwrap();
    let (a, mut b) = UnixStream::pair().unwrap();
    let id = ring
        .submit_op(uring::owned::WriteFixed::new(a, buf, 0))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 5);
    let mut got = [0u8; 5];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"fixed");

    if let Ok(pool) = BufPool::new(&mut ring, 1, 2, 64) {
        let (r, mut w) = UnixStream::pair().unwrap();
        w.write_all(b"pool").unwrap();
        let id = ring.submit_op(ops::RecvSelect::new(r, &pool)).unwrap();
        assert_eq!(&ring.wait_for(id).unwrap().unwrap()[..], b"pool");
    }
    if let Ok(table) = DirectTable::new(&mut ring, 2, 2) {
        let (a, mut b) = UnixStream::pair().unwrap();
        let d = table.insert(a).unwrap();
        let id = ring
            .submit_op(ops::Send::new(&d, b"direct".to_vec()))
            .unwrap();
        assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 6);
        let mut got = [0u8; 6];
        b.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"direct");
        let _mailbox = ring.mailbox().unwrap();
    }
}

#[test]
fn a_ring_moved_to_another_thread_keeps_working_and_comes_back() {
    let test = "a_ring_moved_to_another_thread_keeps_working_and_comes_back";
    let Some(mut ring) = registered(test) else {
        return;
    };
    echo_through(&mut ring, b"home");
    let ring = std::thread::spawn(move || {
        // This thread has its own registered ring at the same index: the moved
        // ring must not enter through it.
        let mut local = OwnedRing::from_builder(Ring::builder().register_ring_fd(), 4).unwrap();
        let mut ring = ring;
        echo_through(&mut ring, b"away");
        echo_through(&mut local, b"local");
        let slow = ring
            .submit_op(ops::Timeout::new(Duration::from_millis(20)))
            .unwrap();
        let fast = local.submit_op(ops::Nop::new()).unwrap();
        assert_eq!(local.wait_for(fast).unwrap().unwrap(), 0);
        assert_eq!(
            errno(&ring.wait_for(slow).unwrap().unwrap_err()),
            Some(libc::ETIME),
            "each ring got its own completion"
        );
        ring
    })
    .join()
    .unwrap();
    let mut ring = ring;
    echo_through(&mut ring, b"back home");
}

#[test]
fn a_ring_dropped_on_another_thread_leaves_that_threads_registration_alone() {
    let test = "a_ring_dropped_on_another_thread_leaves_that_threads_registration_alone";
    let Some(mut ring) = registered(test) else {
        return;
    };
    // A receive that will never complete by itself: the drop must cancel it.
    let (a, _b) = UnixStream::pair().unwrap();
    let _id = ring
        .submit_op(ops::Recv::new(a, Vec::with_capacity(8)))
        .unwrap();
    ring.submit().unwrap();
    std::thread::spawn(move || {
        let mut local = OwnedRing::from_builder(Ring::builder().register_ring_fd(), 4).unwrap();
        let report = ring.close();
        assert_eq!((report.completed, report.leaked), (1, 0));
        // This thread's own registration is intact.
        echo_through(&mut local, b"still registered here");
        assert!(local.ring().is_ring_fd_registered());
    })
    .join()
    .unwrap();
}

#[test]
fn registered_slots_are_limited_per_thread_and_given_back_on_drop() {
    let test = "registered_slots_are_limited_per_thread_and_given_back_on_drop";
    if registered(test).is_none() {
        return;
    }
    std::thread::spawn(|| {
        let mut rings = Vec::new();
        let err = loop {
            match OwnedRing::from_builder(Ring::builder().register_ring_fd(), 2) {
                Ok(r) => rings.push(r),
                Err(e) => break e,
            }
            assert!(rings.len() <= 64, "no limit on registered rings?");
        };
        assert_eq!(errno(&err), Some(libc::EBUSY), "{err}");
        let n = rings.len();
        assert_eq!(n, 16, "the kernel's IO_RINGFD_REG_MAX");
        drop(rings);
        // Dropped on the registering thread: every index is free again.
        let mut again: Vec<OwnedRing> = (0..n)
            .map(|_| OwnedRing::from_builder(Ring::builder().register_ring_fd(), 2).unwrap())
            .collect();
        for r in &mut again {
            echo_through(r, b"x");
        }
    })
    .join()
    .unwrap();
}
