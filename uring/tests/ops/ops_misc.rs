//! End to end, against the running kernel: no-ops, timeouts, cancellation, linked
//! chains, ring-to-ring messages, futexes, waitid, the registered file table, memory
//! advice, provided buffers, 128-byte entries.

use crate::support;
use support::{pipe, read_fd};

use crate::support::ops as ops_common;

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::AtomicU32;

use ops_common::*;
use uring::Ring;
use uring::op::*;
use uring::sqe::SqeFlags;
use uring::types::*;

#[test]
fn nop_completes_with_zero_and_carries_user_data() {
    let mut ring = ring();
    // SAFETY: a NOP names no memory.
    let cqe = unsafe { run(&mut ring, Nop::new().build().user_data(0xabcd)) };
    assert_eq!((cqe.user_data(), cqe.raw_result()), (0xabcd, 0));
}

#[test]
fn nop_injects_the_result_asked_for() {
    let mut ring = ring();
    let sqe = Nop::new()
        .inject_result(Some(-libc::EPERM))
        .build()
        .user_data(1);
    // SAFETY: a NOP names no memory.
    let cqe = unsafe { run(&mut ring, sqe) };
    // Before IORING_NOP_INJECT_RESULT (Linux 6.11) kernels ignore the flag (0) or
    // refuse a NOP with flags (EINVAL).
    if cqe.raw_result() == 0 || cqe.raw_result() == -libc::EINVAL {
        eprintln!(
            "skipped: nop_injects_the_result_asked_for because this kernel ({}) lacks IORING_NOP_INJECT_RESULT (NOP with it returned {})",
            kernel_release(),
            cqe.raw_result()
        );
        return;
    }
    assert_eq!(cqe.raw_result(), -libc::EPERM);
    assert_eq!(cqe.result().unwrap_err().raw_os_error(), Some(libc::EPERM));
    let sqe = Nop::new().inject_result(Some(1234)).build().user_data(2);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, sqe) }.raw_result(), 1234);
}

#[test]
fn skip_success_posts_no_completion_for_a_successful_entry() {
    if !kernel_at_least(
        5,
        17,
        "skip_success_posts_no_completion_for_a_successful_entry",
        "IOSQE_CQE_SKIP_SUCCESS",
    ) {
        return;
    }
    let mut ring = ring();
    let sqes = [
        Nop::new().build().user_data(1).skip_success(),
        Read::new(Fd(-1), std::ptr::null_mut(), 0)
            .build()
            .user_data(2)
            .skip_success(),
        Nop::new().build().user_data(3),
    ];
    // SAFETY: NOPs, and a read of nothing, name no memory.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    let seen: Vec<(u64, i32)> = cqes
        .iter()
        .map(|c| (c.user_data(), c.raw_result()))
        .collect();
    assert_eq!(seen, [(2, -libc::EBADF), (3, 0)]);
}

#[test]
fn nop128_needs_a_mixed_ring() {
    if !supported(Nop128::CODE, "nop128_needs_a_mixed_ring") {
        return;
    }
    let mut ring = Ring::builder()
        .sqe_mixed()
        .build(8)
        .expect("SQE_MIXED ring");
    let sqe = Nop128::new().inject_result(Some(77)).build().user_data(5);
    // SAFETY: a NOP names no memory.
    unsafe { ring.submission().push128(&sqe) }.expect("room");
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!((cqe.user_data(), cqe.raw_result()), (5, 77));
}

#[test]
fn uring_cmd128_needs_a_mixed_ring() {
    if !supported(UringCmd128::CODE, "uring_cmd128_needs_a_mixed_ring") {
        return;
    }
    // A pipe has no uring_cmd handler: the kernel must say so.
    let (r, _w) = pipe();
    let mut ring = Ring::builder()
        .sqe_mixed()
        .build(8)
        .expect("SQE_MIXED ring");
    let sqe = UringCmd128::new(Fd(r.as_raw_fd()), 0).build().user_data(6);
    // SAFETY: the command carries no pointers.
    unsafe { ring.submission().push128(&sqe) }.expect("room");
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.raw_result(), -libc::EOPNOTSUPP);
}

#[test]
fn timeout_fires_with_etime() {
    let mut ring = ring();
    let ts = Timespec::new(0, 5_000_000);
    // SAFETY: ts outlives the completion.
    let cqe = unsafe { run(&mut ring, Timeout::new(&ts).build().user_data(9)) };
    assert_eq!((cqe.user_data(), cqe.raw_result()), (9, -libc::ETIME));
}

#[test]
fn timeout_with_etime_success_does_not_break_its_link() {
    if !kernel_at_least(
        5,
        16,
        "timeout_with_etime_success_does_not_break_its_link",
        "IORING_TIMEOUT_ETIME_SUCCESS",
    ) {
        return;
    }
    let mut ring = ring();
    let ts = Timespec::new(0, 1_000_000);
    let sqes = [
        Timeout::new(&ts)
            .flags(TimeoutFlags::ETIME_SUCCESS)
            .build()
            .user_data(1)
            .link(),
        Nop::new().build().user_data(2),
    ];
    // SAFETY: ts outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ETIME);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0, "the link went on");

    // Without the flag the expiry breaks the chain.
    let sqes = [
        Timeout::new(&ts).build().user_data(3).link(),
        Nop::new().build().user_data(4),
    ];
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 3).raw_result(), -libc::ETIME);
    assert_eq!(by_user_data(&cqes, 4).raw_result(), -libc::ECANCELED);
}

#[test]
fn timeout_count_completes_after_other_completions() {
    let mut ring = ring();
    let ts = Timespec::new(3600, 0);
    let sqes = [
        Timeout::new(&ts).count(2).build().user_data(1),
        Nop::new().build().user_data(2),
        Nop::new().build().user_data(3),
    ];
    // SAFETY: ts outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 3) };
    assert_eq!(
        by_user_data(&cqes, 1).raw_result(),
        0,
        "count reached, not timed out"
    );
}

#[test]
fn multishot_timeout_fires_count_times() {
    if !kernel_at_least(
        6,
        4,
        "multishot_timeout_fires_count_times",
        "IORING_TIMEOUT_MULTISHOT",
    ) {
        return;
    }
    let mut ring = ring();
    let ts = Timespec::new(0, 1_000_000);
    let sqe = Timeout::new(&ts)
        .count(3)
        .flags(TimeoutFlags::MULTISHOT)
        .build()
        .user_data(4);
    // SAFETY: ts outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &[sqe], 3) };
    assert_eq!(cqes.len(), 3);
    assert!(cqes.iter().all(|c| c.raw_result() == -libc::ETIME));
    assert!(cqes[0].is_more() && cqes[1].is_more() && !cqes[2].is_more());
}

#[test]
fn timeout_remove_cancels_a_pending_timeout() {
    let mut ring = ring();
    let ts = Timespec::new(3600, 0);
    // SAFETY: ts outlives the completions.
    let cqes = unsafe {
        run_n(
            &mut ring,
            &[
                Timeout::new(&ts).build().user_data(1),
                TimeoutRemove::new(1).build().user_data(2),
            ],
            2,
        )
    };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0);
    // Nothing left to remove.
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, TimeoutRemove::new(1).build().user_data(3)) };
    assert_eq!(cqe.raw_result(), -libc::ENOENT);
}

#[test]
fn timeout_update_shortens_a_pending_timeout() {
    if !kernel_at_least(
        5,
        11,
        "timeout_update_shortens_a_pending_timeout",
        "IORING_TIMEOUT_UPDATE",
    ) {
        return;
    }
    let mut ring = ring();
    let long = Timespec::new(3600, 0);
    let short = Timespec::new(0, 1_000_000);
    // SAFETY: both timespecs outlive the completions.
    let cqes = unsafe {
        run_n(
            &mut ring,
            &[
                Timeout::new(&long).build().user_data(1),
                TimeoutUpdate::new(1, &short).build().user_data(2),
            ],
            2,
        )
    };
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0);
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ETIME);
}

#[test]
fn link_timeout_cancels_the_linked_request() {
    let mut ring = ring();
    let (r, _w) = pipe();
    let ts = Timespec::new(0, 2_000_000);
    let sqes = [
        PollAdd::new(Fd(r.as_raw_fd()), libc::POLLIN as u32)
            .build()
            .user_data(1)
            .link(),
        LinkTimeout::new(&ts).build().user_data(2),
    ];
    // SAFETY: ts outlives the completions; the pipe stays open.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ETIME);
}

#[test]
fn link_timeout_is_cancelled_when_the_request_finishes_first() {
    let mut ring = ring();
    let ts = Timespec::new(3600, 0);
    let sqes = [
        Nop::new().build().user_data(1).link(),
        LinkTimeout::new(&ts).build().user_data(2),
    ];
    // SAFETY: ts outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), 0);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ECANCELED);
}

#[test]
fn cancel_by_user_data_returns_ecanceled_to_the_target() {
    let mut ring = ring();
    let (r, _w) = pipe();
    let poll = PollAdd::new(Fd(r.as_raw_fd()), libc::POLLIN as u32)
        .build()
        .user_data(1);
    // SAFETY: no memory named; the pipe stays open.
    unsafe { ring.push(&poll) }.unwrap();
    ring.submit().unwrap();
    // SAFETY: no memory named.
    let cqes = unsafe { run_n(&mut ring, &[AsyncCancel::new(1).build().user_data(2)], 2) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0);
    // SAFETY: no memory named.
    let none = unsafe { run(&mut ring, AsyncCancel::new(1).build().user_data(3)) };
    assert_eq!(none.raw_result(), -libc::ENOENT);
}

#[test]
fn cancel_all_on_an_fd_and_any() {
    if !kernel_at_least(
        5,
        19,
        "cancel_all_on_an_fd_and_any",
        "IORING_ASYNC_CANCEL_ALL/FD/ANY",
    ) {
        return;
    }
    let mut ring = ring();
    let (r, _w) = pipe();
    let fd = Fd(r.as_raw_fd());
    let polls = [
        PollAdd::new(fd, libc::POLLIN as u32).build().user_data(1),
        PollAdd::new(fd, libc::POLLIN as u32).build().user_data(2),
    ];
    for p in &polls {
        // SAFETY: no memory named; the pipe stays open.
        unsafe { ring.push(p) }.unwrap();
    }
    ring.submit().unwrap();
    let cancel = AsyncCancel::by_fd(fd)
        .flags(CancelFlags::ALL)
        .build()
        .user_data(3);
    // SAFETY: no memory named.
    let cqes = unsafe { run_n(&mut ring, &[cancel], 3) };
    assert_eq!(
        by_user_data(&cqes, 3).raw_result(),
        2,
        "two requests cancelled"
    );
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ECANCELED);

    let poll = PollAdd::new(fd, libc::POLLIN as u32).build().user_data(4);
    // SAFETY: as above.
    unsafe { ring.push(&poll) }.unwrap();
    ring.submit().unwrap();
    let any = AsyncCancel::any()
        .flags(CancelFlags::ALL)
        .build()
        .user_data(5);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[any], 2) };
    assert_eq!(by_user_data(&cqes, 5).raw_result(), 1);
    assert_eq!(by_user_data(&cqes, 4).raw_result(), -libc::ECANCELED);
}

#[test]
fn cancel_by_opcode() {
    if !kernel_at_least(6, 6, "cancel_by_opcode", "IORING_ASYNC_CANCEL_OP") {
        return;
    }
    let mut ring = ring();
    let (r, _w) = pipe();
    let ts = Timespec::new(3600, 0);
    let pending = [
        PollAdd::new(Fd(r.as_raw_fd()), libc::POLLIN as u32)
            .build()
            .user_data(1),
        Timeout::new(&ts).build().user_data(2),
    ];
    for p in &pending {
        // SAFETY: ts outlives the completions; the pipe stays open.
        unsafe { ring.push(p) }.unwrap();
    }
    ring.submit().unwrap();
    let cancel = AsyncCancel::new(0)
        .opcode(Some(PollAdd::CODE))
        .flags(CancelFlags::ALL)
        .build()
        .user_data(3);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[cancel], 2) };
    assert_eq!(
        by_user_data(&cqes, 3).raw_result(),
        1,
        "only the poll matches"
    );
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    // The timeout is still pending: remove it.
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[TimeoutRemove::new(2).build().user_data(4)], 2) };
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ECANCELED);
}

#[test]
fn linked_chain_short_circuits_on_error() {
    let mut ring = ring();
    let mut buf = [0u8; 8];
    let sqes = [
        Read::new(Fd(-1), buf.as_mut_ptr(), 8)
            .build()
            .user_data(1)
            .link(),
        Nop::new().build().user_data(2).link(),
        Nop::new().build().user_data(3),
    ];
    // SAFETY: buf outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 3) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::EBADF);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ECANCELED);
    assert_eq!(by_user_data(&cqes, 3).raw_result(), -libc::ECANCELED);
}

#[test]
fn hardlinked_chain_continues_after_error() {
    let mut ring = ring();
    // A receive on a pipe fails when it runs (ENOTSOCK), not when it is prepared:
    // a hard link carries on past a failure of the first kind only.
    let (r, _w) = pipe();
    let mut buf = [0u8; 4];
    let sqes = [
        Recv::new(Fd(r.as_raw_fd()), buf.as_mut_ptr(), 4)
            .build()
            .user_data(1)
            .hardlink(),
        Nop::new().build().user_data(2),
    ];
    // SAFETY: buf outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ENOTSOCK);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 0);
    assert_eq!(
        cqes.iter().map(|c| c.user_data()).collect::<Vec<_>>(),
        [1, 2],
        "linked entries run in order"
    );
}

#[test]
fn drain_waits_for_earlier_entries() {
    let mut ring = ring();
    let ts = Timespec::new(0, 2_000_000);
    let sqes = [
        Timeout::new(&ts).build().user_data(1),
        Nop::new().build().user_data(2).flags(SqeFlags::IO_DRAIN),
    ];
    // SAFETY: ts outlives the completions.
    let cqes = unsafe { run_n(&mut ring, &sqes, 2) };
    let order: Vec<u64> = cqes.iter().map(|c| c.user_data()).collect();
    assert_eq!(order, [1, 2], "the drained NOP completes after the timeout");
}

#[test]
fn msg_ring_posts_into_another_ring() {
    if !supported(MsgRing::CODE, "msg_ring_posts_into_another_ring") {
        return;
    }
    let mut a = ring();
    let mut b = ring();
    let target = Fd(b.as_raw_fd());
    // SAFETY: no memory named; ring b outlives the request.
    let cqe = unsafe {
        run(
            &mut a,
            MsgRing::new(target, 77, 0x5151).build().user_data(1),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    b.submit_and_wait(1).unwrap();
    let got = b.completion().next().unwrap();
    assert_eq!((got.user_data(), got.raw_result()), (0x5151, 77));

    // With CQE flags passed through (Linux 6.3).
    if !kernel_at_least(
        6,
        3,
        "msg_ring_posts_into_another_ring (flags part)",
        "IORING_MSG_RING_FLAGS_PASS",
    ) {
        return;
    }
    let flags = 0x00ab_0000;
    let sqe = MsgRing::new(target, -3, 0x5252)
        .cqe_flags(Some(flags))
        .build()
        .user_data(2);
    // SAFETY: as above.
    let cqe = unsafe { run(&mut a, sqe) };
    assert_eq!(cqe.raw_result(), 0);
    b.submit_and_wait(1).unwrap();
    let got = b.completion().next().unwrap();
    assert_eq!((got.user_data(), got.raw_result()), (0x5252, -3));
    assert_eq!(got.flags().bits(), flags);

    // CQE_SKIP_SUCCESS on the sender: nothing posted there on success.
    let sqe = MsgRing::new(target, 1, 0x5353)
        .build()
        .user_data(3)
        .skip_success();
    // SAFETY: as above.
    unsafe { a.push(&sqe) }.unwrap();
    a.submit().unwrap();
    b.submit_and_wait(1).unwrap();
    assert_eq!(b.completion().next().unwrap().user_data(), 0x5353);
    assert!(a.completion().next().is_none(), "skipped in the sender");

    // IORING_MSG_RING_CQE_SKIP applies to passing files only: refused for data.
    let sqe = MsgRing::new(target, 1, 0x5454)
        .flags(MsgRingFlags::CQE_SKIP)
        .build()
        .user_data(4);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut a, sqe) }.raw_result(), -libc::EINVAL);
    assert!(
        b.completion().next().is_none(),
        "nothing posted to the target"
    );
}

#[test]
fn msg_ring_send_fd_installs_a_file_in_another_ring() {
    if !kernel_at_least(
        6,
        0,
        "msg_ring_send_fd_installs_a_file_in_another_ring",
        "IORING_MSG_SEND_FD",
    ) {
        return;
    }
    if !supported(
        MsgRing::CODE,
        "msg_ring_send_fd_installs_a_file_in_another_ring",
    ) {
        return;
    }
    let (r, w) = pipe();
    let mut a = ring();
    let mut b = ring();
    register_files(&mut a, &[w.as_raw_fd()]);
    register_sparse_files(&mut b, 4);
    let sqe = MsgRingSendFd::new(
        Fd(b.as_raw_fd()),
        Fixed(0),
        DestinationSlot::index(2).unwrap(),
        0x6161,
    )
    .build()
    .user_data(1);
    // SAFETY: no memory named.
    assert_eq!(unsafe { run(&mut a, sqe) }.raw_result(), 0);
    b.submit_and_wait(1).unwrap();
    let got = b.completion().next().unwrap();
    assert_eq!((got.user_data(), got.raw_result()), (0x6161, 0));
    // Ring b can now write into the pipe through slot 2.
    let msg = b"via slot 2";
    // SAFETY: msg outlives the completion.
    let cqe = unsafe {
        run(
            &mut b,
            Write::new(Fixed(2), msg.as_ptr(), msg.len() as u32).build(),
        )
    };
    assert_eq!(cqe.raw_result(), msg.len() as i32);
    assert_eq!(read_fd(r.as_raw_fd(), 64), msg);

    // With CQE_SKIP the target ring gets the file but no completion.
    let sqe = MsgRingSendFd::new(Fd(b.as_raw_fd()), Fixed(0), DestinationSlot::AUTO, 0x6262)
        .flags(MsgRingFlags::CQE_SKIP)
        .build()
        .user_data(2);
    // SAFETY: no memory named.
    let slot = unsafe { run(&mut a, sqe) }.raw_result();
    assert!(
        (0..4).contains(&slot) && slot != 2,
        "an automatically chosen free slot: {slot}"
    );
    assert!(
        b.completion().next().is_none(),
        "no completion in the target"
    );
    // SAFETY: msg outlives the completion.
    let cqe = unsafe {
        run(
            &mut b,
            Write::new(Fixed(slot as u32), msg.as_ptr(), 3).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 3);
    assert_eq!(read_fd(r.as_raw_fd(), 64), b"via");
}

#[test]
fn files_update_and_fixed_fd_install() {
    if !kernel_at_least(
        5,
        19,
        "files_update_and_fixed_fd_install",
        "a sparse registered file table",
    ) {
        return;
    }
    let (r, w) = pipe();
    let mut ring = ring();
    register_sparse_files(&mut ring, 4);
    let fds = [w.as_raw_fd()];
    // SAFETY: fds outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            FilesUpdate::new(fds.as_ptr(), 1).offset(3).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 1, "one slot updated");
    let msg = b"slot 3";
    // SAFETY: msg outlives the completion.
    let cqe = unsafe { run(&mut ring, Write::new(Fixed(3), msg.as_ptr(), 6).build()) };
    assert_eq!(cqe.raw_result(), 6);
    assert_eq!(read_fd(r.as_raw_fd(), 16), msg);

    if !supported(
        FixedFdInstall::CODE,
        "files_update_and_fixed_fd_install (install part)",
    ) {
        return;
    }
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, FixedFdInstall::new(Fixed(3)).build()) };
    let fd = cqe.raw_result();
    assert!(fd >= 0, "a new descriptor: {fd}");
    // SAFETY: the kernel just installed this descriptor for us.
    let installed = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl on a valid descriptor.
    let fdflags = unsafe { libc::fcntl(installed.as_raw_fd(), libc::F_GETFD) };
    assert_eq!(
        fdflags & libc::FD_CLOEXEC,
        libc::FD_CLOEXEC,
        "close-on-exec by default"
    );
    assert_eq!(
        // SAFETY: valid buffer and descriptor.
        unsafe { libc::write(installed.as_raw_fd(), b"x".as_ptr().cast(), 1) },
        1
    );
    assert_eq!(read_fd(r.as_raw_fd(), 16), b"x");

    // SAFETY: no memory named.
    let cqe = unsafe {
        run(
            &mut ring,
            FixedFdInstall::new(Fixed(3))
                .flags(uring::sys::IORING_FIXED_FD_NO_CLOEXEC)
                .build(),
        )
    };
    // SAFETY: as above.
    let second = unsafe { OwnedFd::from_raw_fd(cqe.raw_result()) };
    assert_eq!(
        // SAFETY: fcntl on a valid descriptor.
        unsafe { libc::fcntl(second.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC,
        0
    );
}

#[test]
fn madvise_dontneed_drops_anonymous_pages() {
    let mut ring = ring();
    let len = 4096usize;
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let page = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(page, libc::MAP_FAILED);
    // SAFETY: the mapping is len bytes, readable and writable.
    unsafe { std::ptr::write_bytes(page.cast::<u8>(), 0xab, len) };
    // SAFETY: the mapping stays until after the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Madvise::new(page, len as u32, libc::MADV_DONTNEED).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    // SAFETY: still mapped; MADV_DONTNEED on private anonymous memory refills with zeroes.
    let first = unsafe { *page.cast::<u8>() };
    assert_eq!(first, 0, "pages dropped");
    // SAFETY: unmapping what we mapped.
    unsafe { libc::munmap(page, len) };
}

#[test]
fn provide_and_remove_buffers() {
    let mut ring = ring();
    let mut pool = vec![0u8; 4 * 64];
    let sqe = ProvideBuffers::new(pool.as_mut_ptr(), 64, 4, 7, 100).build();
    // SAFETY: pool outlives the buffers' use (they are removed below).
    assert_eq!(unsafe { run(&mut ring, sqe) }.raw_result(), 0);

    // A read picks one of them.
    let (r, w) = pipe();
    assert_eq!(
        // SAFETY: valid buffer and descriptor.
        unsafe { libc::write(w.as_raw_fd(), b"pick".as_ptr().cast(), 4) },
        4
    );
    let read = Read::new(Fd(r.as_raw_fd()), std::ptr::null_mut(), 64)
        .offset(u64::MAX)
        .buf_group(Some(7));
    // SAFETY: the kernel writes into pool, which is alive.
    let cqe = unsafe { run(&mut ring, read.build()) };
    assert_eq!(cqe.raw_result(), 4);
    let bid = cqe.buffer_id().expect("BUFFER flag set");
    assert!((100..104).contains(&bid), "buffer id {bid}");
    let start = (bid - 100) as usize * 64;
    assert_eq!(&pool[start..start + 4], b"pick");

    // Three are left.
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, RemoveBuffers::new(10, 7).build()) };
    assert_eq!(cqe.raw_result(), 3);
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, RemoveBuffers::new(1, 7).build()) };
    // An emptied group: Linux 6.18 keeps it (0 removed); older kernels drop it.
    assert!(
        [0, -libc::ENOENT].contains(&cqe.raw_result()),
        "empty group: {}",
        cqe.raw_result()
    );
    // A group that never existed.
    // SAFETY: no memory named.
    let cqe = unsafe { run(&mut ring, RemoveBuffers::new(1, 4321).build()) };
    assert_eq!(cqe.raw_result(), -libc::ENOENT);
}

#[test]
fn futex_wait_is_woken_by_futex_wake() {
    if !supported(FutexWait::CODE, "futex_wait_is_woken_by_futex_wake") {
        return;
    }
    let mut ring = ring();
    let word = AtomicU32::new(0);
    let flags = FutexFlags::SIZE_U32 | FutexFlags::PRIVATE;
    let wait = FutexWait::new(word.as_ptr(), 0, FUTEX_BITSET_MATCH_ANY, flags)
        .build()
        .user_data(1);
    // SAFETY: word outlives the completion.
    unsafe { ring.push(&wait) }.unwrap();
    ring.submit().unwrap();
    let wake = FutexWake::new(word.as_ptr(), 1, FUTEX_BITSET_MATCH_ANY, flags)
        .build()
        .user_data(2);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[wake], 2) };
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 1, "one waiter woken");
    assert_eq!(by_user_data(&cqes, 1).raw_result(), 0);

    // The value no longer matches: EAGAIN at once.
    let stale = FutexWait::new(word.as_ptr(), 5, FUTEX_BITSET_MATCH_ANY, flags).build();
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, stale) }.raw_result(), -libc::EAGAIN);
}

#[test]
fn futex_waitv_reports_which_futex_woke() {
    if !supported(FutexWaitV::CODE, "futex_waitv_reports_which_futex_woke") {
        return;
    }
    let mut ring = ring();
    let words = [AtomicU32::new(0), AtomicU32::new(0)];
    let size32 = FutexFlags::SIZE_U32 | FutexFlags::PRIVATE;
    let v: Vec<uring::sys::futex_waitv> = words
        .iter()
        .map(|w| uring::sys::futex_waitv {
            val: 0,
            uaddr: w.as_ptr() as u64,
            flags: size32.bits(),
            __reserved: 0,
        })
        .collect();
    let wait = FutexWaitV::new(v.as_ptr(), 2).build().user_data(1);
    // SAFETY: v and words outlive the completion.
    unsafe { ring.push(&wait) }.unwrap();
    ring.submit().unwrap();
    let wake = FutexWake::new(words[1].as_ptr(), 1, FUTEX_BITSET_MATCH_ANY, size32)
        .build()
        .user_data(2);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[wake], 2) };
    assert_eq!(by_user_data(&cqes, 2).raw_result(), 1);
    assert_eq!(
        by_user_data(&cqes, 1).raw_result(),
        1,
        "index of the woken futex"
    );
}

#[test]
fn waitid_reaps_a_child() {
    if !supported(WaitId::CODE, "waitid_reaps_a_child") {
        return;
    }
    let mut ring = ring();
    let child = std::process::Command::new("sh")
        .args(["-c", "exit 7"])
        .spawn()
        .expect("spawn sh");
    let pid = child.id();
    // SAFETY: siginfo_t is plain data.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let sqe = WaitId::new(libc::P_PID, pid, &mut info, libc::WEXITED).build();
    // SAFETY: info outlives the completion.
    let cqe = unsafe { run(&mut ring, sqe) };
    assert_eq!(cqe.raw_result(), 0);
    // SAFETY: the kernel filled info for an exited child (SIGCHLD fields are valid).
    let (si_pid, si_status) = unsafe { (info.si_pid(), info.si_status()) };
    assert_eq!(info.si_signo, libc::SIGCHLD);
    assert_eq!(info.si_code, libc::CLD_EXITED);
    assert_eq!((si_pid as u32, si_status), (pid, 7));
    // Reaped: nothing left to wait for.
    // SAFETY: waitpid on our own (already reaped) child.
    let again = unsafe { libc::waitpid(pid as i32, std::ptr::null_mut(), libc::WNOHANG) };
    assert_eq!(again, -1);
    drop(child);
}

#[test]
fn block_discard_on_a_non_block_file_is_refused() {
    if !supported(
        BlockDiscard::CODE,
        "block_discard_on_a_non_block_file_is_refused",
    ) {
        return;
    }
    // A real discard needs a block device we may destroy; a pipe must be refused.
    let (r, _w) = pipe();
    let mut ring = ring();
    // SAFETY: no memory named.
    let cqe = unsafe {
        run(
            &mut ring,
            BlockDiscard::new(Fd(r.as_raw_fd()), 0, 4096).build(),
        )
    };
    assert_eq!(cqe.raw_result(), -libc::EOPNOTSUPP);
    eprintln!(
        "note: block_discard_on_a_non_block_file_is_refused checks the refusal only; \
         discarding a real block device is not done on the test machine"
    );
}

#[test]
fn personality_runs_with_registered_credentials() {
    let mut ring = ring();
    // SAFETY: the ring is valid; registration takes no pointers.
    let id = unsafe { uring::sys::io_uring_register_personality(ring.as_raw_mut()) };
    assert!(id > 0, "io_uring_register_personality: {id}");
    let sqe = Nop::new().build().personality(id as u16).user_data(1);
    // SAFETY: a NOP names no memory.
    assert_eq!(unsafe { run(&mut ring, sqe) }.raw_result(), 0);
    let bogus = Nop::new().build().personality(id as u16 + 100).user_data(2);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, bogus) }.raw_result(), -libc::EINVAL);
}

#[test]
fn nop_cqe32_posts_a_big_completion_on_a_mixed_ring() {
    let mut ring = match Ring::builder().cqe_mixed().build(8) {
        Ok(ring) => ring,
        // Linux 6.18; older kernels refuse the unknown setup flag.
        Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) => {
            eprintln!(
                "skipped: nop_cqe32_posts_a_big_completion_on_a_mixed_ring because this kernel ({}) refuses IORING_SETUP_CQE_MIXED ({e})",
                kernel_release()
            );
            return;
        }
        Err(e) => panic!("CQE_MIXED ring: {e}"),
    };
    let sqe = Nop::new().cqe32(true).build().user_data(3);
    // SAFETY: a NOP names no memory.
    let cqe = unsafe { run(&mut ring, sqe) };
    assert_eq!((cqe.user_data(), cqe.raw_result()), (3, 0));
    assert!(
        cqe.flags().contains(uring::CqeFlags::F_32),
        "flags {:?}",
        cqe.flags()
    );
    assert!(cqe.big().is_some(), "the extra 16 bytes are there");
    // A plain NOP on the same ring stays small.
    // SAFETY: as above.
    let small = unsafe { run(&mut ring, Nop::new().build().user_data(4)) };
    assert!(!small.flags().contains(uring::CqeFlags::F_32));
}

#[test]
fn raw_uring_cmd_reaches_the_socket_layer() {
    if !kernel_at_least(
        6,
        7,
        "raw_uring_cmd_reaches_the_socket_layer",
        "socket uring_cmd (SOCKET_URING_OP_SIOCINQ)",
    ) {
        return;
    }
    if !supported(UringCmd::CODE, "raw_uring_cmd_reaches_the_socket_layer") {
        return;
    }
    let mut ring = ring();
    // Socket commands reach the protocol's ioctl: UDP has one (AF_UNIX has not).
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .send_to(b"seven!!", server.local_addr().unwrap())
        .unwrap();
    let b = server;
    let cmd = UringCmd::new(Fd(b.as_raw_fd()), uring::sys::SOCKET_URING_OP_SIOCINQ);
    // SAFETY: this command carries no pointers.
    assert_eq!(unsafe { run(&mut ring, cmd.build()) }.raw_result(), 7);
    // A pipe has no uring_cmd handler.
    let (r, _w) = pipe();
    let cmd = UringCmd::new(Fd(r.as_raw_fd()), 0);
    assert_eq!(
        // SAFETY: as above.
        unsafe { run(&mut ring, cmd.build()) }.raw_result(),
        -libc::EOPNOTSUPP
    );
}

#[test]
fn linked_timeout_update_extends_a_link_timeout() {
    if !kernel_at_least(
        5,
        15,
        "linked_timeout_update_extends_a_link_timeout",
        "IORING_LINK_TIMEOUT_UPDATE",
    ) {
        return;
    }
    let mut ring = ring();
    let (r, w) = pipe();
    let short = Timespec::new(0, 1_000_000);
    let long = Timespec::new(3600, 0);
    let sqes = [
        PollAdd::new(Fd(r.as_raw_fd()), libc::POLLIN as u32)
            .build()
            .user_data(1)
            .link(),
        LinkTimeout::new(&long).build().user_data(2),
    ];
    // SAFETY: the timespecs outlive the completions; the pipe stays open.
    unsafe {
        ring.push(&sqes[0]).unwrap();
        ring.push(&sqes[1]).unwrap();
    }
    ring.submit().unwrap();
    // Shorten the linked timeout: it now fires and cancels the poll.
    let update = TimeoutUpdate::new(2, &short)
        .linked(true)
        .build()
        .user_data(3);
    // SAFETY: as above.
    let cqes = unsafe { run_n(&mut ring, &[update], 3) };
    assert_eq!(by_user_data(&cqes, 3).raw_result(), 0);
    assert_eq!(by_user_data(&cqes, 2).raw_result(), -libc::ETIME);
    assert_eq!(by_user_data(&cqes, 1).raw_result(), -libc::ECANCELED);
    drop(w);
}
