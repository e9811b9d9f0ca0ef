//! The registration calls of liburing 2.1 and later against the running kernel:
//! tagged files and buffers, buffer cloning, io-wq affinity, NAPI, clock,
//! iowait, synchronous messages, the opcode query, zero-copy receive and BPF
//! filters (the last two answered with an errno here: no NIC, or a kernel
//! without the call).

use crate::support;
use support::pipe;

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use uring::register::{Clock, Napi, NapiTracking};
use uring::types::Fd;
use uring::{Cqe, Features, Ring, op, sys};

fn errno(e: &std::io::Error) -> Option<i32> {
    uring::error::errno(e)
}

/// The value of a call the running kernel may not know, or `None` after printing
/// why `test` (or the part of it named there) is skipped: the kernel refused the
/// call with one of `missing`, its answer to a register opcode or flag it lacks
/// (`EINVAL`). Any other error fails the test: a kernel that has the call must
/// do it.
fn or_skip<T>(res: std::io::Result<T>, test: &str, what: &str, missing: &[i32]) -> Option<T> {
    match res {
        Ok(v) => Some(v),
        Err(e) if errno(&e).is_some_and(|n| missing.contains(&n)) => {
            println!("skipped: {test} because this kernel lacks {what}: {e}");
            None
        }
        Err(e) => panic!("{test}: {what}: {e}"),
    }
}

const EINVAL: &[i32] = &[libc::EINVAL];

fn write(fd: &OwnedFd, data: &[u8]) {
    // SAFETY: data is a valid buffer of data.len() bytes.
    let n = unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) };
    assert_eq!(n, data.len() as isize);
}

/// Waits (with a generous safety-net timeout, not an assertion on time) until
/// `n` completions are there, and returns them.
fn reap(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    let mut out = Vec::new();
    while out.len() < n {
        if let Err(e) = ring.submit_and_wait_timeout(n - out.len(), Duration::from_secs(10)) {
            assert_eq!(e.raw_os_error(), Some(libc::ETIME), "{e}");
        }
        let before = out.len();
        out.extend(ring.completion());
        assert!(out.len() > before, "no completion arrived; have {out:?}");
    }
    out
}

/// Waits for the completions of `n` resource tags. Kernels before 6.13 post
/// them from a workqueue once the old resource node is released, which happens
/// when later requests move on to the new node: submit NOPs meanwhile, and
/// return only the tag completions.
fn reap_tags(ring: &mut Ring, n: usize) -> Vec<Cqe> {
    const NOP: u64 = u64::MAX - 1;
    let mut out = Vec::new();
    for _ in 0..200 {
        // SAFETY: a NOP names no memory.
        unsafe { ring.push(&op::Nop::new().build().user_data(NOP)) }.unwrap();
        if let Err(e) = ring.submit_and_wait_timeout(n + 1, Duration::from_millis(100)) {
            assert_eq!(e.raw_os_error(), Some(libc::ETIME), "{e}");
        }
        out.extend(ring.completion().filter(|c| c.user_data() != NOP));
        if out.len() >= n {
            return out;
        }
    }
    panic!("{n} tag completions did not arrive; have {out:?}");
}

/// After unregistering a tagged table: kernels from 6.13 post the tags of the slots
/// still filled (`want`, ascending; they may arrive in any order); older ones post
/// tags only for updates, and this says the check is skipped.
fn expect_tags_on_unregister(ring: &mut Ring, want: [u64; 2]) {
    if support::kernel_version() < (6, 13) {
        support::skip(
            "tags on unregistering",
            "this kernel posts them only for updates (< 6.13)",
        );
        return;
    }
    let mut tags: Vec<u64> = reap_tags(ring, want.len())
        .iter()
        .map(|c| c.user_data())
        .collect();
    tags.sort();
    assert_eq!(tags, want);
}

/// Reads from `fd` into registered buffer `index` at `buf`, returns the result.
fn read_fixed(ring: &mut Ring, fd: &OwnedFd, buf: *mut u8, len: u32, index: u16) -> i32 {
    let sqe = op::ReadFixed::new(Fd(fd.as_raw_fd()), buf, len, index)
        .offset(u64::MAX)
        .build()
        .user_data(0xf1);
    // SAFETY: buf lies in registered buffer `index`, alive across the wait.
    unsafe { ring.push(&sqe) }.unwrap();
    let cqe = reap(ring, 1).remove(0);
    assert_eq!(cqe.user_data(), 0xf1);
    cqe.raw_result()
}

fn iovec(buf: &mut [u8]) -> libc::iovec {
    libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    }
}

#[test]
fn tagged_files_post_their_tag_when_replaced() {
    let mut ring = Ring::new(4).unwrap();
    let (r1, _w1) = pipe();
    let (r2, _w2) = pipe();
    let (r3, w3) = pipe();
    let reg = ring.register_files_tags(&[Some(r1.as_fd()), Some(r2.as_fd())], &[100, 200]);
    let test = "tagged_files_post_their_tag_when_replaced";
    if or_skip(reg, test, "tagged file tables (Linux 5.13)", EINVAL).is_none() {
        return;
    }
    // Replacing slot 0 releases file 1: its tag comes back as a completion.
    assert_eq!(
        ring.register_files_update_tag(0, &[Some(r3.as_fd())], &[300])
            .unwrap(),
        1
    );
    let cqes = reap_tags(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].raw_result()), (100, 0));
    // The new file is in slot 0.
    write(&w3, b"third");
    let mut buf = [0u8; 8];
    let sqe = op::Read::new(uring::types::Fixed(0), buf.as_mut_ptr(), 8)
        .offset(u64::MAX)
        .build()
        .user_data(1);
    // SAFETY: buf outlives the wait.
    unsafe { ring.push(&sqe) }.unwrap();
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!(cqe.raw_result(), 5);
    assert_eq!(&buf[..5], b"third");
    // Dropping the table releases the other two; kernels before 6.13 post tags
    // only for updates.
    ring.unregister_files().unwrap();
    expect_tags_on_unregister(&mut ring, [200, 300]);

    // Lengths must match; an empty slot cannot carry a tag.
    let err = ring
        .register_files_tags(&[Some(r1.as_fd())], &[1, 2])
        .unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL));
    let err = ring.register_files_tags(&[None], &[5]).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
}

#[test]
fn tagged_buffers_post_their_tag_when_replaced() {
    let mut ring = Ring::new(4).unwrap();
    let mut a = vec![0u8; 64];
    let mut b = vec![0u8; 64];
    let mut c = vec![0u8; 64];
    // SAFETY: a, b and c outlive the ring's use of them (the table is
    // unregistered below, and the ring dropped before them).
    let reg = unsafe { ring.register_buffers_tags(&[iovec(&mut a), iovec(&mut b)], &[11, 22]) };
    let test = "tagged_buffers_post_their_tag_when_replaced";
    if or_skip(reg, test, "tagged buffer tables (Linux 5.13)", EINVAL).is_none() {
        return;
    }
    // SAFETY: as above.
    let n = unsafe { ring.register_buffers_update_tag(1, &[iovec(&mut c)], &[33]) }.unwrap();
    assert_eq!(n, 1);
    let cqes = reap_tags(&mut ring, 1);
    assert_eq!((cqes[0].user_data(), cqes[0].raw_result()), (22, 0));
    // Slot 1 is now `c`.
    let (r, w) = pipe();
    write(&w, b"into c");
    assert_eq!(read_fixed(&mut ring, &r, c.as_mut_ptr(), 64, 1), 6);
    assert_eq!(&c[..6], b"into c");
    // Reading into `b` through slot 1 is outside the buffer now.
    write(&w, b"x");
    assert_eq!(
        read_fixed(&mut ring, &r, b.as_mut_ptr(), 64, 1),
        -libc::EFAULT
    );
    ring.unregister_buffers().unwrap();
    expect_tags_on_unregister(&mut ring, [11, 33]);
    drop(ring);
}

#[test]
fn cloned_buffers_are_usable_from_the_other_ring() {
    const TEST: &str = "cloned_buffers_are_usable_from_the_other_ring";
    let mut src = Ring::new(4).unwrap();
    let mut one = vec![0u8; 4096];
    let mut two = vec![0u8; 4096];
    // SAFETY: one and two outlive both rings (dropped explicitly below first).
    unsafe { src.register_buffers(&[iovec(&mut one), iovec(&mut two)]) }.unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: the same memory, now also used by dst, which is dropped first.
    let cloned = unsafe { dst.clone_buffers(&src, 0, 0, 0, false) };
    let what = "IORING_REGISTER_CLONE_BUFFERS (Linux 6.12)";
    if or_skip(cloned, TEST, what, EINVAL).is_none() {
        return;
    }
    let (r, w) = pipe();
    write(&w, b"via clone");
    assert_eq!(read_fixed(&mut dst, &r, one.as_mut_ptr(), 4096, 0), 9);
    assert_eq!(&one[..9], b"via clone");
    // The source ring going away leaves the clone working.
    drop(src);
    write(&w, b"still");
    assert_eq!(read_fixed(&mut dst, &r, two.as_mut_ptr(), 4096, 1), 5);
    assert_eq!(&two[..5], b"still");

    // A table is there: cloning again needs `replace`.
    let mut src2 = Ring::new(4).unwrap();
    // SAFETY: as above.
    unsafe { src2.register_buffers(&[iovec(&mut one), iovec(&mut two)]) }.unwrap();
    // SAFETY: as above.
    let err = unsafe { dst.clone_buffers(&src2, 0, 0, 0, false) }.unwrap_err();
    assert_eq!(errno(&err), Some(libc::EBUSY), "{err}");

    // One buffer, from slot 1 of the source into slot 0 of a fresh ring.
    let mut third = Ring::new(4).unwrap();
    // SAFETY: as above; third is dropped before the buffers.
    let cloned = unsafe { third.clone_buffers(&src2, 1, 0, 1, false) };
    let what = "cloning with offsets (Linux 6.13)";
    let has_offsets = or_skip(cloned, &format!("{TEST} (offsets part)"), what, EINVAL).is_some();
    if has_offsets {
        write(&w, b"offset");
        assert_eq!(read_fixed(&mut third, &r, two.as_mut_ptr(), 4096, 0), 6);
        assert_eq!(&two[..6], b"offset");
        // Slot 1 does not exist there.
        assert_eq!(
            read_fixed(&mut third, &r, two.as_mut_ptr(), 4096, 1),
            -libc::EFAULT
        );
    }
    // Replacing the table: IORING_REGISTER_DST_REPLACE came with the offsets
    // (Linux 6.13). An older kernel ignores the flag and finds the table there
    // (EBUSY), so it is probed by the offsets above.
    // SAFETY: as above.
    let replaced = unsafe { dst.clone_buffers(&src2, 0, 0, 0, true) };
    if has_offsets {
        replaced.unwrap();
    } else {
        let e = replaced.unwrap_err();
        assert_eq!(errno(&e), Some(libc::EBUSY), "{e}");
        println!(
            "skipped: {TEST} (replace part) because this kernel lacks \
             IORING_REGISTER_DST_REPLACE (Linux 6.13; it refused cloning with offsets): {e}"
        );
    }
    drop((dst, src2, third));
}

/// `Cpus_allowed_list` of the io-wq workers the calling thread's rings started
/// (their name is `iou-wrk-<creator tid>`).
fn my_iowq_worker_cpus() -> Vec<String> {
    // SAFETY: gettid has no preconditions.
    let me = format!("iou-wrk-{}", unsafe { libc::gettid() });
    let mut out = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() != me {
            continue;
        }
        let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
        if let Some(cpus) = cpus_allowed(&status) {
            out.push(cpus);
        }
    }
    out
}

fn cpus_allowed(status: &str) -> Option<String> {
    let line = status
        .lines()
        .find(|l| l.starts_with("Cpus_allowed_list:"))?;
    Some(line["Cpus_allowed_list:".len()..].trim().to_string())
}

/// Runs a read that io-wq must handle (IOSQE_ASYNC on an empty pipe) and returns
/// the CPUs its worker may use, seen while it blocks.
fn async_read_worker_cpus(ring: &mut Ring) -> Vec<String> {
    let (r, w) = pipe();
    let mut buf = [0u8; 4];
    let sqe = op::Read::new(Fd(r.as_raw_fd()), buf.as_mut_ptr(), 4)
        .offset(u64::MAX)
        .build()
        .async_()
        .user_data(5);
    // SAFETY: buf and the pipe outlive the wait below.
    unsafe { ring.push(&sqe) }.unwrap();
    ring.submit().unwrap();
    // The worker is another thread of this process: wait until it shows up.
    let mut cpus = my_iowq_worker_cpus();
    for _ in 0..2000 {
        if !cpus.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        cpus = my_iowq_worker_cpus();
    }
    write(&w, b"go");
    let cqe = reap(ring, 1).remove(0);
    assert_eq!(cqe.raw_result(), 2);
    assert!(!cpus.is_empty(), "no iou-wrk thread appeared");
    cpus
}

#[test]
fn iowq_affinity_pins_workers_and_unregister_restores() {
    // Each thread has its own io-wq, started by its first async request: one
    // thread keeps CPU 0 pinned, the other pins and unpins before starting it.
    let pinned = std::thread::spawn(|| {
        let mut ring = Ring::new(4).unwrap();
        or_skip(
            ring.register_iowq_aff(&[0]),
            "iowq_affinity_pins_workers_and_unregister_restores",
            "IORING_REGISTER_IOWQ_AFF (Linux 5.14)",
            EINVAL,
        )?;
        let cpus = async_read_worker_cpus(&mut ring);
        ring.unregister_iowq_aff().unwrap();
        assert!(ring.register_iowq_aff(&[]).is_err());
        assert!(ring.register_iowq_aff(&[1 << 20]).is_err());
        Some(cpus)
    })
    .join()
    .unwrap();
    let Some(pinned) = pinned else { return };
    assert!(pinned.iter().all(|c| c == "0"), "{pinned:?}");

    let (restored, task) = std::thread::spawn(|| {
        let mut ring = Ring::new(4).unwrap();
        ring.register_iowq_aff(&[0]).unwrap();
        ring.unregister_iowq_aff().unwrap();
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        (
            async_read_worker_cpus(&mut ring),
            cpus_allowed(&status).unwrap(),
        )
    })
    .join()
    .unwrap();
    assert!(
        restored.iter().all(|c| *c == task),
        "{restored:?} vs {task}"
    );
}

#[test]
fn napi_register_returns_previous_settings() {
    let mut ring = Ring::new(4).unwrap();
    let want = Napi {
        busy_poll_usec: 100,
        prefer_busy_poll: true,
    };
    let before = match ring.register_napi(want) {
        Ok(before) => before,
        Err(e) => {
            // EINVAL: no IORING_REGISTER_NAPI (Linux 6.9); EOPNOTSUPP: built
            // without CONFIG_NET_RX_BUSY_POLL.
            let what = "NAPI busy polling (Linux 6.9, CONFIG_NET_RX_BUSY_POLL)";
            let missing = &[libc::EINVAL, libc::EOPNOTSUPP];
            or_skip(
                Err::<(), _>(e),
                "napi_register_returns_previous_settings",
                what,
                missing,
            );
            return;
        }
    };
    assert_eq!(before, Napi::default());
    // Registering again reports what the first call set.
    let again = Napi {
        busy_poll_usec: 50,
        prefer_busy_poll: false,
    };
    assert_eq!(ring.register_napi(again).unwrap(), want);
    assert_eq!(ring.unregister_napi().unwrap(), again);
}

#[test]
fn boottime_clock_then_a_timed_wait() {
    let mut ring = Ring::new(4).unwrap();
    let set = ring.register_clock(Clock::Boottime);
    let what = "IORING_REGISTER_CLOCK (Linux 6.12)";
    if or_skip(set, "boottime_clock_then_a_timed_wait", what, EINVAL).is_none() {
        return;
    }
    let err = ring
        .submit_and_wait_timeout(1, Duration::from_millis(1))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    // A NOP still completes with the new clock.
    // SAFETY: a NOP names no memory.
    unsafe { ring.push(&op::Nop::new().build().user_data(3)) }.unwrap();
    assert_eq!(reap(&mut ring, 1)[0].user_data(), 3);
    ring.register_clock(Clock::Monotonic).unwrap();
}

#[test]
fn iowait_off_is_accepted_by_the_kernel() {
    let mut ring = Ring::new(4).unwrap();
    assert!(ring.iowait());
    if !ring.features().contains(Features::NO_IOWAIT) {
        let err = ring.set_iowait(false).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
        return println!("skipped: iowait because the kernel lacks NO_IOWAIT (< 6.15)");
    }
    ring.set_iowait(false).unwrap();
    assert!(!ring.iowait());
    // Every wait now passes IORING_ENTER_NO_IOWAIT: the kernel takes it.
    let err = ring
        .submit_and_wait_timeout(1, Duration::from_millis(1))
        .unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ETIME));
    // SAFETY: a NOP names no memory.
    unsafe { ring.push(&op::Nop::new().build().user_data(4)) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completion().next().unwrap().user_data(), 4);
    ring.set_iowait(true).unwrap();
    assert!(ring.iowait());
}

#[test]
fn sync_message_lands_in_the_target_ring() {
    let mut ring = Ring::new(4).unwrap();
    let fd = ring.fd().unwrap().as_raw_fd();
    // SAFETY: fd is the ring's, open while `ring` lives.
    let target = unsafe { BorrowedFd::borrow_raw(fd) };
    // SAFETY: this test reads the ring's completions expecting the message.
    let sent = unsafe { uring::register::msg_ring_sync(target, 1234, 0xabc) };
    let what = "IORING_REGISTER_SEND_MSG_RING (Linux 6.13)";
    if or_skip(sent, "sync_message_lands_in_the_target_ring", what, EINVAL).is_none() {
        return;
    }
    let cqe = reap(&mut ring, 1).remove(0);
    assert_eq!((cqe.user_data(), cqe.raw_result()), (0xabc, 1234));
    // Not a ring.
    let (r, _w) = pipe();
    // SAFETY: not a ring: nothing is posted anywhere.
    let err = unsafe { uring::register::msg_ring_sync(r.as_fd(), 0, 0) }.unwrap_err();
    assert_eq!(errno(&err), Some(libc::EBADFD), "{err}");
}

#[test]
fn query_agrees_with_probe_and_features() {
    let what = "IORING_REGISTER_QUERY (Linux 6.18)";
    let test = "query_agrees_with_probe_and_features";
    let Some(q) = or_skip(uring::register::query_opcodes(), test, what, EINVAL) else {
        return;
    };
    let ring = Ring::new(4).unwrap();
    let probe = ring.probe().unwrap();
    assert_eq!(q.nr_request_opcodes, probe.last_op() as u32 + 1, "{q:?}");
    assert!(q.nr_register_opcodes > sys::IORING_REGISTER_RESIZE_RINGS);
    let feats = ring.features().bits() as u64;
    assert_eq!(q.feature_flags & feats, feats, "{q:?}");
    assert_ne!(
        q.ring_setup_flags & sys::IORING_SETUP_DEFER_TASKRUN as u64,
        0
    );
    assert_ne!(q.sqe_flags & (1 << sys::IOSQE_FIXED_FILE_BIT), 0);
    assert_ne!(q.enter_flags & sys::IORING_ENTER_GETEVENTS as u64, 0);
}

/// How many register opcodes the kernel knows, or `None` before the query
/// existed (6.18), when every opcode tested here is unknown anyway.
fn nr_register_opcodes() -> Option<u32> {
    uring::register::query_opcodes()
        .ok()
        .map(|q| q.nr_register_opcodes)
}

fn mapping(len: usize) -> *mut u8 {
    // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED);
    p.cast()
}

#[test]
fn zero_copy_receive_needs_a_real_nic() {
    let known = nr_register_opcodes().unwrap_or(0);
    let area_len = 16 * 4096;
    let area_mem = mapping(area_len);
    let region_mem = mapping(2 * 4096);
    let mut area = sys::io_uring_zcrx_area_reg {
        addr: area_mem as u64,
        len: area_len as u64,
        ..Default::default()
    };
    let mut region = sys::io_uring_region_desc {
        user_addr: region_mem as u64,
        size: 2 * 4096,
        flags: sys::IORING_MEM_REGION_TYPE_USER,
        ..Default::default()
    };
    let mut reg = sys::io_uring_zcrx_ifq_reg {
        if_idx: 1, // lo
        if_rxq: 0,
        rq_entries: 4,
        area_ptr: &mut area as *mut _ as u64,
        region_ptr: &mut region as *mut _ as u64,
        ..Default::default()
    };
    // The ring kind the kernel checks first: without DEFER_TASKRUN and CQE32,
    // EINVAL whatever the interface.
    let mut plain = Ring::new(4).unwrap();
    // SAFETY: reg, area, region and the mappings outlive the rings (the mappings
    // are never unmapped).
    let err = unsafe { plain.register_zcrx_ifq_raw(&mut reg) }.unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
    if known <= sys::IORING_REGISTER_ZCRX_IFQ {
        return println!("skipped: zero-copy receive because the kernel lacks it");
    }
    let mut ring = match Ring::builder()
        .single_issuer()
        .defer_taskrun()
        .cqe32()
        .build(4)
    {
        Ok(r) => r,
        Err(e) => return println!("skipped: zero-copy receive because {e}"),
    };
    let typed = uring::register::ZcrxIfqReg {
        if_idx: 1, // lo
        if_rxq: 0,
        rq_entries: 4,
        area: area_mem,
        area_len,
        refill: region_mem,
        refill_len: 2 * 4096,
        rx_buf_len: 0,
    };
    // SAFETY: as above.
    let err = unsafe { ring.register_zcrx_ifq(&typed) }.unwrap_err();
    let e = errno(&err).unwrap();
    // The raw form gets the same answer.
    // SAFETY: as above.
    let raw_err = unsafe { ring.register_zcrx_ifq_raw(&mut reg) }.unwrap_err();
    assert_eq!(errno(&raw_err), Some(e), "{raw_err}");
    // Loopback has no hardware queues to give: the kernel says so.
    assert!(
        [libc::EOPNOTSUPP, libc::EINVAL, libc::ENODEV, libc::EPERM].contains(&e),
        "{err}"
    );
    println!("zero-copy receive on lo: {err} (needs a NIC with header split)");

    // No queue registered: a control operation finds nothing.
    if known > sys::IORING_REGISTER_ZCRX_CTRL {
        // SAFETY: zcrx_ctrl is plain integers; all-zero is valid.
        let mut ctrl: sys::zcrx_ctrl = unsafe { std::mem::zeroed() };
        ctrl.op = sys::ZCRX_CTRL_FLUSH_RQ;
        let err = ring.zcrx_ctrl(&mut ctrl).unwrap_err();
        assert!(
            [libc::ENXIO, libc::EINVAL, libc::ENOENT].contains(&errno(&err).unwrap()),
            "{err}"
        );
    } else {
        println!("zcrx control: unknown to this kernel (< 6.19)");
        // SAFETY: zcrx_ctrl is plain integers; all-zero is valid.
        let mut ctrl: sys::zcrx_ctrl = unsafe { std::mem::zeroed() };
        let err = ring.zcrx_ctrl(&mut ctrl).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
    }
}

#[test]
fn bpf_filter_is_refused_by_kernels_without_it() {
    let known = nr_register_opcodes().unwrap_or(0);
    if known > sys::IORING_REGISTER_BPF_FILTER {
        return println!(
            "skipped: BPF filters because this kernel has them and the test has no program"
        );
    }
    let mut ring = Ring::new(4).unwrap();
    // SAFETY: io_uring_bpf is plain integers; all-zero is valid.
    let mut bpf: sys::io_uring_bpf = unsafe { std::mem::zeroed() };
    bpf.cmd_type = sys::IO_URING_BPF_CMD_FILTER as u16;
    let err = ring.register_bpf_filter(&mut bpf).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
    // Without a ring (fd -1): EBADF before Linux 6.13, which first took ring-less
    // register calls; EINVAL for the unknown opcode after.
    let err = uring::register::register_bpf_filter_task(&mut bpf).unwrap_err();
    assert!(
        [libc::EINVAL, libc::EBADF].contains(&errno(&err).unwrap()),
        "{err}"
    );
}

#[test]
fn raw_query_chain_answers_each_header() {
    let what = "IORING_REGISTER_QUERY (Linux 6.18)";
    let test = "raw_query_chain_answers_each_header";
    let Some(typed) = or_skip(uring::register::query_opcodes(), test, what, EINVAL) else {
        return;
    };
    let mut opcodes = sys::io_uring_query_opcode::default();
    let mut scq = sys::io_uring_query_scq::default();
    let mut second = sys::io_uring_query_hdr {
        query_data: &mut scq as *mut _ as u64,
        query_op: sys::IO_URING_QUERY_SCQ,
        size: std::mem::size_of_val(&scq) as u32,
        ..Default::default()
    };
    let mut first = sys::io_uring_query_hdr {
        next_entry: &mut second as *mut _ as u64,
        query_data: &mut opcodes as *mut _ as u64,
        query_op: sys::IO_URING_QUERY_OPCODES,
        size: std::mem::size_of_val(&opcodes) as u32,
        ..Default::default()
    };
    // SAFETY: both headers and the answers they point to live across the call.
    unsafe { uring::register::query(&mut first) }.unwrap();
    assert_eq!(first.result, 0);
    assert_eq!(opcodes.nr_request_opcodes, typed.nr_request_opcodes);
    assert_eq!(opcodes.feature_flags, typed.feature_flags);
    if opcodes.nr_query_opcodes > sys::IO_URING_QUERY_SCQ {
        // The ring header the SCQ query describes is at least the 64 bytes of
        // heads, tails and masks.
        assert_eq!(second.result, 0);
        assert!(scq.hdr_size >= 64, "{scq:?}");
    } else {
        assert!(second.result < 0, "{}", second.result);
    }
}

#[test]
fn cloning_from_a_source_known_only_by_its_registered_fd() {
    const TEST: &str = "cloning_from_a_source_known_only_by_its_registered_fd";
    let mut src = Ring::new(4).unwrap();
    let mut mem = vec![0u8; 4096];
    // SAFETY: mem outlives both rings (dropped explicitly below).
    unsafe { src.register_buffers(&[iovec(&mut mem)]) }.unwrap();
    if !support::has_feature(src.features(), Features::REG_REG_RING, TEST) {
        return;
    }
    src.register_ring_fd().unwrap();
    src.close_ring_fd().unwrap();
    assert!(src.fd().is_none());
    // From another thread the registered index means nothing: refused here.
    let src = std::thread::spawn(move || {
        let mut dst = Ring::new(4).unwrap();
        // SAFETY: as above.
        let err = unsafe { dst.clone_buffers(&src, 0, 0, 0, false) }.unwrap_err();
        assert_eq!(errno(&err), Some(libc::EBADF), "{err}");
        src
    })
    .join()
    .unwrap();
    let mut dst = Ring::new(4).unwrap();
    // SAFETY: as above.
    let cloned = unsafe { dst.clone_buffers(&src, 0, 0, 0, false) };
    let what = "IORING_REGISTER_CLONE_BUFFERS (Linux 6.12)";
    if or_skip(cloned, TEST, what, EINVAL).is_none() {
        return;
    }
    let (r, w) = pipe();
    write(&w, b"registered");
    assert_eq!(read_fixed(&mut dst, &r, mem.as_mut_ptr(), 4096, 0), 10);
    assert_eq!(&mem[..10], b"registered");
    drop((dst, src));
}

#[test]
fn napi_static_tracking_keeps_a_list_of_ids() {
    let mut ring = Ring::new(4).unwrap();
    let napi = Napi {
        busy_poll_usec: 10,
        prefer_busy_poll: false,
    };
    let reg = ring.register_napi_tracking(napi, NapiTracking::Static);
    let what = "NAPI tracking strategies (Linux 6.13, CONFIG_NET_RX_BUSY_POLL)";
    let missing = &[libc::EINVAL, libc::EOPNOTSUPP];
    if or_skip(
        reg,
        "napi_static_tracking_keeps_a_list_of_ids",
        what,
        missing,
    )
    .is_none()
    {
        return;
    }
    // The kernel keeps a list of ids: an id goes in once and out once. (It does
    // not check that a device queue has the id; ids at or below the number of
    // possible CPUs are never NAPI ids.)
    let id = 0x7fff_fff0;
    ring.napi_add_static_id(id).unwrap();
    let err = ring.napi_add_static_id(id).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EEXIST), "{err}");
    ring.napi_del_static_id(id).unwrap();
    let err = ring.napi_del_static_id(id).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT), "{err}");
    let err = ring.napi_add_static_id(1).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
    // Registering again reports the first settings.
    assert_eq!(
        ring.register_napi_tracking(Napi::default(), NapiTracking::Dynamic)
            .unwrap(),
        napi
    );
    ring.unregister_napi().unwrap();
}
