//! Setting rings up with each flag, against the running kernel: what it accepts,
//! what it refuses (and with which errno), and that the resulting ring works.

use std::collections::BTreeSet;
use std::io;

use crate::support;
use support::ops::{nop, nop_raw};
use support::{liburing_minor, skipped_for_old_liburing};

use uring::setup::RingMemory;
use uring::sqe::{Sqe, Sqe128};
use uring::{Features, PushError, Ring, SetupFlags, sys};

/// Pushes `n` NOPs numbered from `first`, submits and waits, and returns the
/// user_data of every completion.
fn run_nops(ring: &mut Ring, first: u64, n: u64) -> BTreeSet<u64> {
    for i in first..first + n {
        // SAFETY: NOPs name no memory.
        unsafe { ring.submission().push(&nop(i)) }.unwrap();
    }
    assert_eq!(ring.submit_and_wait(n as usize).unwrap(), n as usize);
    let mut seen = BTreeSet::new();
    for cqe in ring.completion() {
        assert_eq!(cqe.result().unwrap(), 0);
        assert!(seen.insert(cqe.user_data()));
    }
    seen
}

/// [`run_nops`] for an SQPOLL ring, where the poll thread takes entries on its own
/// time: it may post the completions of a batch before it publishes the new SQ
/// head, so a push can find the queue still full (then wait for room with
/// `sqring_wait`), and a submit counts entries the thread has not yet taken, not
/// the ones just pushed.
fn run_nops_sqpoll(ring: &mut Ring, first: u64, n: u64) -> BTreeSet<u64> {
    use std::time::{Duration, Instant};
    let deadline = Instant::now() + Duration::from_secs(60);
    let capacity = ring.submission().capacity();
    for i in first..first + n {
        loop {
            // SAFETY: NOPs name no memory.
            match unsafe { ring.submission().push(&nop(i)) } {
                Ok(()) => break,
                Err(PushError::Full) => {
                    assert!(Instant::now() < deadline, "the SQ stayed full for 60 s");
                    // Hand over what is queued, then wait for the thread to take it.
                    assert!(ring.submit().unwrap() <= capacity);
                    ring.sqring_wait().unwrap();
                    if ring.submission().is_full() {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(e) => panic!("push: {e:?}"),
            }
        }
    }
    assert!(ring.submit().unwrap() <= capacity);
    let mut seen = BTreeSet::new();
    while (seen.len() as u64) < n {
        assert!(
            Instant::now() < deadline,
            "completions missing after 60 s: {seen:?}"
        );
        ring.wait(n as usize - seen.len()).unwrap();
        for cqe in ring.completion() {
            assert_eq!(cqe.result().unwrap(), 0);
            assert!(seen.insert(cqe.user_data()), "{} twice", cqe.user_data());
        }
    }
    seen
}

/// The running kernel's (major, minor) version.
fn kernel_version() -> (u32, u32) {
    // SAFETY: utsname is plain bytes; uname fills it.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: u is a valid out-struct.
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    // SAFETY: uname NUL-terminates release.
    let release = unsafe { std::ffi::CStr::from_ptr(u.release.as_ptr()) }
        .to_string_lossy()
        .into_owned();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Builds, or skips (saying why) when the kernel is older than `since`, the
/// version that introduced the flags, and refuses them with `EINVAL`; or refuses
/// with `EPERM` (not allowed in this sandbox). On a kernel that should have the
/// flags, a refusal fails the test.
fn build_or_skip(
    test: &str,
    builder: uring::Builder<'_>,
    entries: u32,
    since: (u32, u32),
) -> Option<Ring> {
    let flags = builder.setup_flags();
    let running = kernel_version();
    match builder.build(entries) {
        Ok(r) => Some(r),
        Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) && running < since => {
            eprintln!(
                "skipped: {test} because flags {flags} need Linux {}.{} and this is {}.{}: {e}",
                since.0, since.1, running.0, running.1
            );
            None
        }
        Err(e) if uring::error::errno(&e) == Some(libc::EPERM) => {
            eprintln!("skipped: {test} because setting up {flags} is not permitted here: {e}");
            None
        }
        Err(e) if skipped_for_old_liburing(test, liburing_needed(flags), &e) => None,
        Err(e) => panic!("{test}: unexpected error on Linux {running:?}: {e}"),
    }
}

/// The first liburing release that sets rings up with all of `flags` (those it
/// must know itself: it lays out or maps the rings by them); 0 for any.
fn liburing_needed(flags: SetupFlags) -> u32 {
    if flags.contains(SetupFlags::NO_SQARRAY) {
        6
    } else if flags.intersects(SetupFlags::NO_MMAP | SetupFlags::REGISTERED_FD_ONLY) {
        8
    } else {
        0
    }
}

#[test]
fn setup_flags_the_linked_liburing_lacks_are_refused_naming_both_versions() {
    let linked = env!("URING_LIBURING_VERSION");
    type Setup = fn() -> uring::Builder<'static>;
    let cases: [(&str, Setup, u32); 4] = [
        ("NO_MMAP", || Ring::builder().no_mmap(), 8),
        (
            "NO_MMAP",
            || Ring::builder().no_mmap_memory(RingMemory::new(1 << 16).unwrap()),
            8,
        ),
        (
            "REGISTERED_FD_ONLY",
            || Ring::builder().registered_fd_only().no_mmap(),
            8,
        ),
        ("NO_SQARRAY", || Ring::builder().no_sqarray(), 6),
    ];
    for (flag, builder, minor) in cases {
        match builder().build(4) {
            Err(e) if liburing_minor() < minor => {
                // Refused before liburing could lay the ring out wrongly.
                assert_eq!(
                    uring::error::errno(&e),
                    Some(libc::EOPNOTSUPP),
                    "{flag}: {e}"
                );
                assert_eq!(e.kind(), io::ErrorKind::Unsupported, "{flag}: {e}");
                let msg = e.to_string();
                assert!(msg.contains(&format!("IORING_SETUP_{flag}")), "{msg}");
                assert!(
                    msg.contains(&format!("liburing 2.{minor} or later")),
                    "{msg}"
                );
                assert!(
                    msg.contains(&format!("linked against liburing {linked}")),
                    "{msg}"
                );
            }
            Ok(_) if liburing_minor() < minor => {
                panic!("{flag} was set up through liburing {linked}, which predates it")
            }
            // A liburing that knows the flag passes it on: only the kernel judges.
            Ok(_) => {}
            Err(e) => assert!(
                !e.to_string().contains("needs liburing"),
                "{flag} refused although liburing {linked} knows it: {e}"
            ),
        }
    }
}

#[test]
fn zero_entries_is_einval_naming_entries() {
    let err = Ring::new(0).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("entries"), "{err}");
}

#[test]
fn too_many_entries_without_clamp_is_einval_naming_the_limit() {
    let err = Ring::new(1 << 20).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    let msg = err.to_string();
    assert!(msg.contains("1048576") && msg.contains("32768"), "{msg}");
}

#[test]
fn clamp_clamps_to_the_kernel_limits() {
    let ring = Ring::builder().clamp().build(1 << 20).unwrap();
    assert_eq!(ring.params().sq_entries(), 32768);
    assert_eq!(ring.params().cq_entries(), 65536);
    assert!(ring.flags().contains(SetupFlags::CLAMP));
    let ring = Ring::builder()
        .clamp()
        .cq_entries(1 << 20)
        .build(16)
        .unwrap();
    assert_eq!(ring.params().cq_entries(), 65536);
}

#[test]
fn entries_round_up_and_cq_defaults_to_twice() {
    let ring = Ring::new(5).unwrap();
    assert_eq!(ring.params().sq_entries(), 8);
    assert_eq!(ring.params().cq_entries(), 16);
    assert!(ring.fd().is_some());
}

#[test]
fn cq_entries_are_checked() {
    let ring = Ring::builder().cq_entries(100).build(8).unwrap();
    assert_eq!(ring.params().cq_entries(), 128);
    let err = Ring::builder().cq_entries(4).build(8).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    assert!(err.to_string().contains("cq_entries 4"), "{err}");
    let err = Ring::builder().cq_entries(0).build(8).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    let err = Ring::builder().cq_entries(1 << 17).build(8).unwrap_err();
    assert!(err.to_string().contains("65536"), "{err}");
}

#[test]
fn defer_taskrun_without_single_issuer_is_einval_naming_the_flags() {
    let err = Ring::builder().defer_taskrun().build(8).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    let msg = err.to_string();
    assert!(msg.contains("DEFER_TASKRUN"), "{msg}");
    assert!(msg.contains("requires SINGLE_ISSUER"), "{msg}");
}

#[test]
fn sq_aff_without_sqpoll_is_refused() {
    let err = Ring::builder().sq_thread_cpu(0).build(8).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    assert!(err.to_string().contains("SQ_AFF"), "{err}");
}

#[test]
fn unknown_flag_bit_is_refused_by_the_kernel_with_the_plain_errno() {
    let err = Ring::builder()
        .flags(SetupFlags::from_bits_retain(1 << 31))
        .build(8)
        .unwrap_err();
    // What a caller probing for a flag matches on.
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn sqe128_with_sqe_mixed_names_both_rules() {
    let err = Ring::builder().sqe128().sqe_mixed().build(8).unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
    let msg = err.to_string();
    // Refused on every kernel: as a pair since 6.19, for SQE_MIXED alone before.
    assert!(msg.contains("cannot be combined"), "{msg}");
    assert!(msg.contains("SQE_MIXED alone needs Linux 6.19"), "{msg}");
}

#[test]
fn defer_taskrun_single_issuer_ring_works() {
    let Some(mut ring) = build_or_skip(
        "defer_taskrun_single_issuer_ring_works",
        Ring::builder().single_issuer().defer_taskrun(),
        8,
        (6, 1),
    ) else {
        return;
    };
    assert!(
        ring.flags()
            .contains(SetupFlags::SINGLE_ISSUER | SetupFlags::DEFER_TASKRUN)
    );
    assert_eq!(run_nops(&mut ring, 0, 8), (0..8).collect());
    assert_eq!(run_nops(&mut ring, 8, 8), (8..16).collect());
}

#[test]
fn coop_taskrun_flag_ring_works() {
    let Some(mut ring) = build_or_skip(
        "coop_taskrun_flag_ring_works",
        Ring::builder().coop_taskrun().taskrun_flag().submit_all(),
        8,
        (5, 19),
    ) else {
        return;
    };
    assert_eq!(run_nops(&mut ring, 0, 8), (0..8).collect());
}

#[test]
fn sqpoll_ring_completes_nops() {
    let Some(mut ring) = build_or_skip(
        "sqpoll_ring_completes_nops",
        Ring::builder().sqpoll().sq_thread_idle(10),
        8,
        (5, 1),
    ) else {
        return;
    };
    assert!(ring.flags().contains(SetupFlags::SQPOLL));
    assert_eq!(ring.params().sq_thread_idle(), 10);
    for round in 0..5u64 {
        assert_eq!(
            run_nops_sqpoll(&mut ring, round * 8, 8),
            (round * 8..round * 8 + 8).collect()
        );
    }
    // After the thread has gone idle (sleeps after 10 ms), submit must wake it.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(run_nops_sqpoll(&mut ring, 100, 4), (100..104).collect());
}

#[test]
fn sqpoll_with_cpu_affinity() {
    let Some(mut ring) = build_or_skip(
        "sqpoll_with_cpu_affinity",
        Ring::builder().sqpoll().sq_thread_cpu(0),
        4,
        (5, 1),
    ) else {
        return;
    };
    assert!(
        ring.flags()
            .contains(SetupFlags::SQPOLL | SetupFlags::SQ_AFF)
    );
    assert_eq!(run_nops_sqpoll(&mut ring, 0, 4), (0..4).collect());
}

#[test]
fn sqe128_ring_accepts_push128_plain_ring_refuses_it() {
    let big = Sqe128::from_raw(nop_raw(128), [0xAB; 64]);
    let mut plain = Ring::new(4).unwrap();
    assert_eq!(
        // SAFETY: a NOP names no memory.
        unsafe { plain.submission().push128(&big) },
        Err(PushError::Sqe128NotEnabled)
    );
    assert_eq!(plain.submission().len(), 0);

    let Some(mut ring) = build_or_skip(
        "sqe128_ring_accepts_push128",
        Ring::builder().sqe128(),
        4,
        (5, 19),
    ) else {
        return;
    };
    for round in 0..3u64 {
        for i in 0..4 {
            let e = Sqe128::from_raw(nop_raw(round * 10 + i), [i as u8; 64]);
            // SAFETY: NOPs name no memory.
            unsafe { ring.submission().push128(&e) }.unwrap();
        }
        assert_eq!(
            // SAFETY: as above.
            unsafe { ring.submission().push128(&big) },
            Err(PushError::Full)
        );
        assert_eq!(ring.submit_and_wait(4).unwrap(), 4);
        let got: Vec<u64> = ring.completion().map(|c| c.user_data()).collect();
        assert_eq!(got, (0..4).map(|i| round * 10 + i).collect::<Vec<_>>());
    }
    // 64-byte entries work on it too, and clear the second half of their slot so
    // no command bytes of an earlier 128-byte entry linger.
    assert_eq!(run_nops(&mut ring, 50, 4), (50..54).collect());
    // SAFETY: the ring is live and idle; its 4 slots of 128 bytes are readable.
    let slots = unsafe {
        let raw = ring.as_raw();
        std::slice::from_raw_parts((*raw).sq.sqes as *const u8, 4 * 128)
    };
    for slot in slots.chunks(128) {
        assert_eq!(slot[0], sys::IORING_OP_NOP as u8);
        assert!(slot[64..].iter().all(|&b| b == 0), "stale command bytes");
    }
}

#[test]
fn cqe32_ring_gives_big_completions() {
    let test = "cqe32_ring_gives_big_completions";
    let Some(mut ring) = build_or_skip(test, Ring::builder().cqe32(), 4, (5, 19)) else {
        return;
    };
    // A plain NOP on a CQE32 ring: a 32-byte completion whose big part is zeroed.
    // SAFETY: NOPs name no memory.
    unsafe { ring.submission().push(&nop(31)) }.unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    let got: Vec<_> = ring.completion().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].user_data(), 31);
    assert_eq!(got[0].result().unwrap(), 0);
    assert_eq!(got[0].big(), Some([0, 0]));

    // IORING_NOP_CQE32 (Linux 6.18) makes a NOP put `off` and `addr` in the big
    // part. Kernels without it refuse the flag: probe by trying it alone (a failed
    // entry ends the batch on a ring without SUBMIT_ALL).
    let mut raw = nop_raw(32);
    raw.__bindgen_anon_3.nop_flags = sys::IORING_NOP_CQE32;
    raw.__bindgen_anon_1.off = 0x1111;
    raw.__bindgen_anon_2.addr = 0x2222;
    let big = Sqe::from_raw(raw);
    // SAFETY: NOPs name no memory.
    unsafe { ring.submission().push(&big) }.unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    let got: Vec<_> = ring.completion().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].user_data(), 32);
    match got[0].result() {
        Ok(_) => {}
        Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) => {
            let (major, minor) = kernel_version();
            eprintln!(
                "skipped: {test} (IORING_NOP_CQE32 part) because this kernel ({major}.{minor}) \
                 refuses the NOP flag IORING_NOP_CQE32 (Linux 6.18+): {e}"
            );
            return;
        }
        Err(e) => panic!("{test}: NOP with IORING_NOP_CQE32: {e}"),
    }
    assert_eq!(got[0].big(), Some([0x1111, 0x2222]));

    // In one batch with a plain NOP, each completion has its own big part.
    // SAFETY: NOPs name no memory.
    unsafe { ring.submission().push(&big) }.unwrap();
    // SAFETY: as above.
    unsafe { ring.submission().push(&nop(33)) }.unwrap();
    assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
    let got: Vec<_> = ring.completion().collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].user_data(), 32);
    assert_eq!(got[0].big(), Some([0x1111, 0x2222]));
    assert_eq!(got[1].user_data(), 33);
    assert_eq!(got[1].big(), Some([0, 0]));
    // liburing's path reads the same 32 bytes.
    // SAFETY: as above.
    unsafe { ring.submission().push(&big) }.unwrap();
    ring.liburing_submit().unwrap();
    let c = ring.liburing_wait_cqe().unwrap();
    assert_eq!(c.big(), Some([0x1111, 0x2222]));
}

#[test]
fn cqe_mixed_ring_mixes_sizes_and_skips_padding() {
    let Some(mut ring) = build_or_skip(
        "cqe_mixed_ring_mixes_sizes_and_skips_padding",
        Ring::builder().cqe_mixed(),
        4,
        (6, 18),
    ) else {
        return;
    };
    let cq_slots = ring.params().cq_entries() as u64;
    // Alternate 16- and 32-byte completions for several laps of the CQ, so that a
    // 32-byte one lands on the last slot and the kernel pads with a SKIP entry.
    let mut n = 0u64;
    for _ in 0..(3 * cq_slots / 2) {
        let mut big = nop_raw(n);
        big.__bindgen_anon_3.nop_flags = sys::IORING_NOP_CQE32;
        big.__bindgen_anon_1.off = n;
        big.__bindgen_anon_2.addr = !n;
        // SAFETY: NOPs name no memory.
        unsafe {
            ring.submission().push(&Sqe::from_raw(big)).unwrap();
            ring.submission().push(&nop(n + 1)).unwrap();
        }
        assert_eq!(ring.submit_and_wait(2).unwrap(), 2);
        let got: Vec<_> = ring.completion().collect();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].user_data(), n);
        assert!(got[0].flags().contains(uring::CqeFlags::F_32));
        assert_eq!(got[0].big(), Some([n, !n]));
        assert_eq!(got[1].user_data(), n + 1);
        assert_eq!(got[1].big(), None);
        n += 2;
    }
}

#[test]
fn sqe_mixed_ring_places_128_byte_entries() {
    let Some(mut ring) = build_or_skip(
        "sqe_mixed_ring_places_128_byte_entries",
        Ring::builder().sqe_mixed(),
        8,
        (6, 19),
    ) else {
        return;
    };
    // A 64-byte NOP128 is refused: the kernel would read the next slot.
    let mut raw = nop_raw(1);
    raw.opcode = sys::IORING_OP_NOP128 as u8;
    assert!(matches!(
        // SAFETY: NOPs name no memory.
        unsafe { ring.submission().push(&Sqe::from_raw(raw)) },
        Err(PushError::SizeMismatch { .. })
    ));
    let mut seen = BTreeSet::new();
    for i in 0..20u64 {
        // SAFETY: as above.
        unsafe {
            ring.submission().push(&nop(i * 2)).unwrap();
            let mut big = nop_raw(i * 2 + 1);
            big.opcode = sys::IORING_OP_NOP128 as u8;
            ring.submission()
                .push128(&Sqe128::from_raw(big, [0; 64]))
                .unwrap();
        }
        ring.submit().unwrap();
        ring.wait(2).unwrap();
        for c in ring.completion() {
            assert_eq!(c.result().unwrap(), 0);
            seen.insert(c.user_data());
        }
    }
    assert_eq!(seen, (0..40).collect());
}

#[test]
fn r_disabled_ring_refuses_until_enabled() {
    let Some(mut ring) = build_or_skip(
        "r_disabled_ring_refuses_until_enabled",
        Ring::builder().r_disabled(),
        4,
        (5, 10),
    ) else {
        return;
    };
    // SAFETY: a NOP names no memory.
    unsafe { ring.submission().push(&nop(1)) }.unwrap();
    let err = ring.submit().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADFD));
    ring.enable_rings().unwrap();
    // The entry stayed queued and goes in now.
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.completion().next().unwrap().user_data(), 1);
    assert_eq!(
        ring.enable_rings().unwrap_err().raw_os_error(),
        Some(libc::EBADFD)
    );
}

#[test]
fn attach_wq_shares_with_a_live_ring() {
    let mut first = Ring::new(4).unwrap();
    let mut second = Ring::builder().attach_wq(&first).build(4).unwrap();
    assert!(second.flags().contains(SetupFlags::ATTACH_WQ));
    assert_eq!(run_nops(&mut first, 0, 2), (0..2).collect());
    assert_eq!(run_nops(&mut second, 0, 2), (0..2).collect());
    // Not a ring: the kernel says so.
    let f = std::fs::File::open("/dev/null").unwrap();
    use std::os::fd::AsFd;
    let err = Ring::builder()
        .attach_wq_fd(f.as_fd())
        .build(4)
        .unwrap_err();
    assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
}

#[test]
fn no_mmap_ring_maps_its_own_memory() {
    let Some(mut ring) = build_or_skip(
        "no_mmap_ring_maps_its_own_memory",
        Ring::builder().no_mmap(),
        8,
        (6, 5),
    ) else {
        return;
    };
    assert!(ring.flags().contains(SetupFlags::NO_MMAP));
    for round in 0..3 {
        assert_eq!(
            run_nops(&mut ring, round * 8, 8),
            (round * 8..round * 8 + 8).collect()
        );
    }
    // Larger than a page per part: ordinary pages on 6.13+, else a huge page.
    match Ring::builder().no_mmap().build(1024) {
        Ok(mut big) => {
            assert_eq!(big.params().sq_entries(), 1024);
            assert_eq!(run_nops(&mut big, 0, 1000), (0..1000).collect());
        }
        Err(e) if uring::error::errno(&e) == Some(libc::ENOMEM) && kernel_version() < (6, 13) => {
            eprintln!(
                "skipped: a 1024-entry NO_MMAP ring because this kernel needs a huge page \
                 for it and none is free: {e}"
            );
        }
        Err(e) => panic!("1024-entry NO_MMAP ring: {e}"),
    }
}

#[test]
fn no_mmap_ring_in_our_memory() {
    let need = RingMemory::required(64, SetupFlags::empty()).unwrap();
    assert!(need > 0);
    let mem = RingMemory::new(need).unwrap();
    let Some(mut ring) = build_or_skip(
        "no_mmap_ring_in_our_memory",
        Ring::builder().no_mmap_memory(mem),
        64,
        (6, 5),
    ) else {
        return;
    };
    for round in 0..4 {
        assert_eq!(
            run_nops(&mut ring, round * 64, 64),
            (round * 64..round * 64 + 64).collect()
        );
    }
    drop(ring); // unmaps the memory after the ring is gone
}

#[test]
fn no_mmap_memory_too_small_is_enomem() {
    let mem = RingMemory::new(1).unwrap(); // one page
    let need = RingMemory::required(4096, SetupFlags::empty()).unwrap();
    assert!(need > mem.len());
    let err = Ring::builder().no_mmap_memory(mem).build(4096).unwrap_err();
    if skipped_for_old_liburing("no_mmap_memory_too_small_is_enomem", 8, &err) {
        return;
    }
    assert_eq!(uring::error::errno(&err), Some(libc::ENOMEM));
    assert!(err.to_string().contains("NO_MMAP"), "{err}");
}

#[test]
fn registered_fd_only_ring_has_no_fd_and_works() {
    let err = Ring::builder().registered_fd_only().build(4).unwrap_err();
    if liburing_minor() >= 8 {
        assert_eq!(uring::error::errno(&err), Some(libc::EINVAL));
        assert!(err.to_string().contains("requires NO_MMAP"), "{err}");
    } else {
        // Refused before the kernel sees it (see the test above).
        assert_eq!(uring::error::errno(&err), Some(libc::EOPNOTSUPP), "{err}");
    }

    let Some(mut ring) = build_or_skip(
        "registered_fd_only_ring_has_no_fd_and_works",
        Ring::builder().registered_fd_only().no_mmap(),
        4,
        (6, 5),
    ) else {
        return;
    };
    assert!(ring.fd().is_none());
    use std::os::fd::AsRawFd;
    assert_eq!(ring.as_raw_fd(), -1);
    assert_eq!(run_nops(&mut ring, 0, 4), (0..4).collect());
    // From another thread the registered index means nothing: refused, not misused.
    let mut ring = std::thread::spawn(move || {
        let mut ring = ring;
        // SAFETY: a NOP names no memory.
        unsafe { ring.submission().push(&nop(9)) }.unwrap();
        let err = ring.submit().unwrap_err();
        assert_eq!(uring::error::errno(&err), Some(libc::EBADF));
        ring
    })
    .join()
    .unwrap();
    // Back home it works, and the queued entry goes in.
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    assert_eq!(ring.completion().next().unwrap().user_data(), 9);
}

#[test]
fn no_sqarray_ring_works() {
    let Some(mut ring) = build_or_skip(
        "no_sqarray_ring_works",
        Ring::builder().no_sqarray(),
        4,
        (6, 6),
    ) else {
        return;
    };
    assert!(ring.flags().contains(SetupFlags::NO_SQARRAY));
    for round in 0..3 {
        assert_eq!(
            run_nops(&mut ring, round * 4, 4),
            (round * 4..round * 4 + 4).collect()
        );
    }
}

#[test]
fn sq_rewind_ring_reuses_the_first_slots() {
    let Some(mut ring) = build_or_skip(
        "sq_rewind_ring_reuses_the_first_slots",
        Ring::builder().no_sqarray().sq_rewind(),
        4,
        (7, 0),
    ) else {
        return;
    };
    for round in 0..5 {
        assert_eq!(
            run_nops(&mut ring, round * 3, 3),
            (round * 3..round * 3 + 3).collect()
        );
    }
}

#[test]
fn iopoll_ring_sets_up_and_runs_nops() {
    let Some(mut ring) = build_or_skip(
        "iopoll_ring_sets_up_and_runs_nops",
        Ring::builder().iopoll(),
        4,
        (5, 1),
    ) else {
        return;
    };
    assert!(ring.flags().contains(SetupFlags::IOPOLL));
    // Newer kernels allow NOP on IOPOLL rings; older ones complete it with EINVAL
    // (only polled file I/O there). Probe by trying one.
    // SAFETY: a NOP names no memory.
    unsafe { ring.submission().push(&nop(100)) }.unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    let got: Vec<_> = ring.completion().collect();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].user_data(), 100);
    if let Err(e) = got[0].result() {
        assert_eq!(uring::error::errno(&e), Some(libc::EINVAL), "{e}");
        let (major, minor) = kernel_version();
        eprintln!(
            "skipped: iopoll_ring_sets_up_and_runs_nops (NOP part) because this kernel \
             ({major}.{minor}) refuses NOP on an IOPOLL ring: {e}"
        );
        return;
    }
    // Reaping needs an enter, which submit does.
    assert_eq!(run_nops(&mut ring, 0, 4), (0..4).collect());
    let Some(mut hybrid) = build_or_skip(
        "iopoll_ring_sets_up_and_runs_nops (hybrid)",
        Ring::builder().iopoll().hybrid_iopoll(),
        4,
        (6, 13),
    ) else {
        return;
    };
    assert_eq!(run_nops(&mut hybrid, 0, 2), (0..2).collect());
    let err = Ring::builder().hybrid_iopoll().build(4).unwrap_err();
    assert!(err.to_string().contains("HYBRID_IOPOLL"), "{err}");
}

#[test]
fn features_are_reported() {
    let ring = Ring::new(4).unwrap();
    let f = ring.features();
    assert_eq!(f, ring.params().features());
    // SAFETY: as_raw points at the live ring.
    assert_eq!(f.bits(), unsafe { (*ring.as_raw()).features });
    assert!(f.contains(Features::SINGLE_MMAP | Features::NODROP));
    // liburing sets NO_SQARRAY itself when the kernel has it (6.6+).
    let flags = ring.flags();
    assert_eq!(flags, ring.params().flags());
}

// io_uring_get_sqe128 appeared in liburing 2.13.
#[cfg(liburing_2_13)]
#[test]
fn push128_on_a_mixed_ring_lays_out_slots_like_liburing() {
    // SQE_MIXED needs Linux 6.19; whatever the kernel, compare the slots push128
    // writes with what liburing's io_uring_get_sqe128 hands out, on two rings whose
    // liburing flags say SQE_MIXED. Nothing written under the borrowed flag is
    // submitted.
    let mut ours = Ring::new(8).unwrap();
    let mut theirs = Ring::new(8).unwrap();
    // Use up slots 0..7 and reap them, so the next tail is the last slot.
    for i in 0..7u64 {
        // SAFETY: NOPs name no memory.
        unsafe {
            ours.submission().push(&nop(i)).unwrap();
            let sqe = sys::io_uring_get_sqe(theirs.as_raw_mut());
            sys::io_uring_prep_nop(sqe);
            (*sqe).user_data = i;
        }
    }
    assert_eq!(ours.submit_and_wait(7).unwrap(), 7);
    assert_eq!(theirs.liburing_submit_and_wait(7).unwrap(), 7);
    assert_eq!(ours.completion().count(), 7);
    assert_eq!(theirs.completion().count(), 7);

    let mut big = nop_raw(0xB16);
    big.opcode = sys::IORING_OP_NOP128 as u8;
    let cmd: [u8; 64] = core::array::from_fn(|i| i as u8);
    let big = Sqe128::from_raw(big, cmd);
    let mixed = sys::IORING_SETUP_SQE_MIXED;
    // SAFETY: the flag is set only while entries are placed, and every entry placed
    // under it is discarded (tail rewound to the last submitted position) before
    // the flag is cleared; nothing is submitted meanwhile.
    unsafe {
        let (o, t) = (ours.as_raw_mut(), theirs.as_raw_mut());
        (*o).flags |= mixed;
        (*t).flags |= mixed;

        // A 64-byte NOP128 and a 128-byte plain NOP are both refused.
        let mut wrong = nop_raw(1);
        wrong.opcode = sys::IORING_OP_NOP128 as u8;
        assert_eq!(
            ours.submission().push(&Sqe::from_raw(wrong)),
            Err(PushError::SizeMismatch {
                opcode: sys::IORING_OP_NOP128 as u8
            })
        );
        assert!(matches!(
            ours.submission()
                .push128(&Sqe128::from_raw(nop_raw(2), [0; 64])),
            Err(PushError::SizeMismatch { .. })
        ));

        ours.submission().push128(&big).unwrap();
        let sqe = sys::io_uring_get_sqe128(t);
        assert!(!sqe.is_null());
        core::ptr::copy_nonoverlapping(&big as *const Sqe128 as *const u8, sqe.cast::<u8>(), 128);

        // Padding NOP at slot 7, the big entry in slots 0 and 1: tail 7 + 3.
        assert_eq!((*o).sq.sqe_tail, 10);
        assert_eq!((*t).sq.sqe_tail, 10);
        let ours_slots = std::slice::from_raw_parts((*o).sq.sqes as *const u8, 8 * 64);
        let theirs_slots = std::slice::from_raw_parts((*t).sq.sqes as *const u8, 8 * 64);
        assert_eq!(&ours_slots[..128], &theirs_slots[..128]);
        assert_eq!(&ours_slots[7 * 64..], &theirs_slots[7 * 64..]);
        let pad = &*(*o).sq.sqes.add(7);
        assert_eq!(pad.opcode, sys::IORING_OP_NOP as u8);
        assert_eq!(pad.flags, 1 << sys::IOSQE_CQE_SKIP_SUCCESS_BIT);
        assert_eq!(&ours_slots[64..128], &cmd[..]);

        // Five slots are left; a second 128-byte entry needs two, not at the wrap.
        assert_eq!(ours.submission().remaining(), 5);
        ours.submission().push128(&big).unwrap();
        assert_eq!((*o).sq.sqe_tail, 12);
        for i in 0..3 {
            ours.submission().push(&nop(i)).unwrap();
        }
        assert_eq!(
            ours.submission().push128(&big),
            Err(PushError::Full),
            "no room for two slots"
        );

        // Discard everything placed under the borrowed flag, then drop it.
        (*o).sq.sqe_tail = (*o).sq.sqe_head;
        (*t).sq.sqe_tail = (*t).sq.sqe_head;
        (*o).flags &= !mixed;
        (*t).flags &= !mixed;
    }
    assert_eq!(ours.submit().unwrap(), 0);
    assert_eq!(run_nops(&mut ours, 0, 4), (0..4).collect());
}

#[test]
fn liburing_reaps_a_cqe_mixed_ring_only_from_2_13() {
    let test = "liburing_reaps_a_cqe_mixed_ring_only_from_2_13";
    let Some(mut ring) = build_or_skip(test, Ring::builder().cqe_mixed(), 4, (6, 18)) else {
        return;
    };
    // SAFETY: a NOP names no memory.
    unsafe { ring.submission().push(&nop(5)) }.unwrap();
    assert_eq!(ring.submit_and_wait(1).unwrap(), 1);
    match ring.liburing_wait_cqe() {
        Ok(cqe) => {
            assert!(
                liburing_minor() >= 13,
                "liburing {} reaped it",
                env!("URING_LIBURING_VERSION")
            );
            assert_eq!((cqe.user_data(), cqe.raw_result()), (5, 0));
        }
        Err(e) => {
            // Older releases read every slot as a 16-byte completion.
            assert!(skipped_for_old_liburing(test, 13, &e), "{e}");
            // The ring's own reaping knows the layout.
            let got: Vec<_> = ring.completion().map(|c| c.user_data()).collect();
            assert_eq!(got, [5]);
        }
    }
}
