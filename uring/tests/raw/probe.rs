//! The opcode table against liburing's header, and `Probe` against liburing's own probe.

use std::process::Command;
use uring::probe::{self, FEATURES, OPCODES, opcode, opcode_by_name, opcode_name};
use uring::{Features, Ring, sys};

/// Every `IORING_OP_*` of the header with its C name, written out independently of the
/// crate's table so that a wrong number in either place shows.
const HEADER: &[(u32, &str)] = &[
    (sys::IORING_OP_NOP, "IORING_OP_NOP"),
    (sys::IORING_OP_READV, "IORING_OP_READV"),
    (sys::IORING_OP_WRITEV, "IORING_OP_WRITEV"),
    (sys::IORING_OP_FSYNC, "IORING_OP_FSYNC"),
    (sys::IORING_OP_READ_FIXED, "IORING_OP_READ_FIXED"),
    (sys::IORING_OP_WRITE_FIXED, "IORING_OP_WRITE_FIXED"),
    (sys::IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"),
    (sys::IORING_OP_POLL_REMOVE, "IORING_OP_POLL_REMOVE"),
    (sys::IORING_OP_SYNC_FILE_RANGE, "IORING_OP_SYNC_FILE_RANGE"),
    (sys::IORING_OP_SENDMSG, "IORING_OP_SENDMSG"),
    (sys::IORING_OP_RECVMSG, "IORING_OP_RECVMSG"),
    (sys::IORING_OP_TIMEOUT, "IORING_OP_TIMEOUT"),
    (sys::IORING_OP_TIMEOUT_REMOVE, "IORING_OP_TIMEOUT_REMOVE"),
    (sys::IORING_OP_ACCEPT, "IORING_OP_ACCEPT"),
    (sys::IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"),
    (sys::IORING_OP_LINK_TIMEOUT, "IORING_OP_LINK_TIMEOUT"),
    (sys::IORING_OP_CONNECT, "IORING_OP_CONNECT"),
    (sys::IORING_OP_FALLOCATE, "IORING_OP_FALLOCATE"),
    (sys::IORING_OP_OPENAT, "IORING_OP_OPENAT"),
    (sys::IORING_OP_CLOSE, "IORING_OP_CLOSE"),
    (sys::IORING_OP_FILES_UPDATE, "IORING_OP_FILES_UPDATE"),
    (sys::IORING_OP_STATX, "IORING_OP_STATX"),
    (sys::IORING_OP_READ, "IORING_OP_READ"),
    (sys::IORING_OP_WRITE, "IORING_OP_WRITE"),
    (sys::IORING_OP_FADVISE, "IORING_OP_FADVISE"),
    (sys::IORING_OP_MADVISE, "IORING_OP_MADVISE"),
    (sys::IORING_OP_SEND, "IORING_OP_SEND"),
    (sys::IORING_OP_RECV, "IORING_OP_RECV"),
    (sys::IORING_OP_OPENAT2, "IORING_OP_OPENAT2"),
    (sys::IORING_OP_EPOLL_CTL, "IORING_OP_EPOLL_CTL"),
    (sys::IORING_OP_SPLICE, "IORING_OP_SPLICE"),
    (sys::IORING_OP_PROVIDE_BUFFERS, "IORING_OP_PROVIDE_BUFFERS"),
    (sys::IORING_OP_REMOVE_BUFFERS, "IORING_OP_REMOVE_BUFFERS"),
    (sys::IORING_OP_TEE, "IORING_OP_TEE"),
    (sys::IORING_OP_SHUTDOWN, "IORING_OP_SHUTDOWN"),
    (sys::IORING_OP_RENAMEAT, "IORING_OP_RENAMEAT"),
    (sys::IORING_OP_UNLINKAT, "IORING_OP_UNLINKAT"),
    (sys::IORING_OP_MKDIRAT, "IORING_OP_MKDIRAT"),
    (sys::IORING_OP_SYMLINKAT, "IORING_OP_SYMLINKAT"),
    (sys::IORING_OP_LINKAT, "IORING_OP_LINKAT"),
    (sys::IORING_OP_MSG_RING, "IORING_OP_MSG_RING"),
    (sys::IORING_OP_FSETXATTR, "IORING_OP_FSETXATTR"),
    (sys::IORING_OP_SETXATTR, "IORING_OP_SETXATTR"),
    (sys::IORING_OP_FGETXATTR, "IORING_OP_FGETXATTR"),
    (sys::IORING_OP_GETXATTR, "IORING_OP_GETXATTR"),
    (sys::IORING_OP_SOCKET, "IORING_OP_SOCKET"),
    (sys::IORING_OP_URING_CMD, "IORING_OP_URING_CMD"),
    (sys::IORING_OP_SEND_ZC, "IORING_OP_SEND_ZC"),
    (sys::IORING_OP_SENDMSG_ZC, "IORING_OP_SENDMSG_ZC"),
    (sys::IORING_OP_READ_MULTISHOT, "IORING_OP_READ_MULTISHOT"),
    (sys::IORING_OP_WAITID, "IORING_OP_WAITID"),
    (sys::IORING_OP_FUTEX_WAIT, "IORING_OP_FUTEX_WAIT"),
    (sys::IORING_OP_FUTEX_WAKE, "IORING_OP_FUTEX_WAKE"),
    (sys::IORING_OP_FUTEX_WAITV, "IORING_OP_FUTEX_WAITV"),
    (
        sys::IORING_OP_FIXED_FD_INSTALL,
        "IORING_OP_FIXED_FD_INSTALL",
    ),
    (sys::IORING_OP_FTRUNCATE, "IORING_OP_FTRUNCATE"),
    (sys::IORING_OP_BIND, "IORING_OP_BIND"),
    (sys::IORING_OP_LISTEN, "IORING_OP_LISTEN"),
    (sys::IORING_OP_RECV_ZC, "IORING_OP_RECV_ZC"),
    (sys::IORING_OP_EPOLL_WAIT, "IORING_OP_EPOLL_WAIT"),
    (sys::IORING_OP_READV_FIXED, "IORING_OP_READV_FIXED"),
    (sys::IORING_OP_WRITEV_FIXED, "IORING_OP_WRITEV_FIXED"),
    (sys::IORING_OP_PIPE, "IORING_OP_PIPE"),
    (sys::IORING_OP_NOP128, "IORING_OP_NOP128"),
    (sys::IORING_OP_URING_CMD128, "IORING_OP_URING_CMD128"),
];

#[test]
fn table_numbers_and_names_match_the_header() {
    assert_eq!(HEADER.len(), sys::IORING_OP_LAST as usize);
    assert_eq!(OPCODES.len(), HEADER.len());
    for &(code, name) in HEADER {
        let op = opcode_by_name(name).unwrap_or_else(|| panic!("{name} missing from OPCODES"));
        assert_eq!(u32::from(op.code), code, "{name}");
        assert_eq!(op.name, name);
        let code = u8::try_from(code).unwrap();
        assert_eq!(opcode(code), Some(op));
        assert_eq!(opcode_name(code), Some(name));
        assert_eq!(op.to_string(), name);
    }
}

/// The five the Pony bindings got wrong, and their neighbours, spelled out.
#[test]
fn xattr_and_later_numbers() {
    let expect = [
        ("getxattr", 44),
        ("socket", 45),
        ("uring_cmd", 46),
        ("send_zc", 47),
        ("sendmsg_zc", 48),
        ("read_multishot", 49),
        ("waitid", 50),
        ("futex_wait", 51),
        ("pipe", 62),
        ("nop128", 63),
        ("uring_cmd128", 64),
    ];
    for (name, code) in expect {
        assert_eq!(opcode_by_name(name).map(|op| op.code), Some(code), "{name}");
    }
}

#[test]
fn short_names_derive_from_c_names() {
    for op in OPCODES {
        let short = op.name.strip_prefix("IORING_OP_").unwrap();
        assert_eq!(op.short_name, short.to_ascii_lowercase());
    }
}

#[test]
fn since_versions() {
    let since = |name| opcode_by_name(name).unwrap().since;
    assert_eq!(since("nop"), (5, 1));
    assert_eq!(since("fsync"), (5, 1));
    assert_eq!(since("sync_file_range"), (5, 2));
    assert_eq!(since("timeout"), (5, 4));
    assert_eq!(since("accept"), (5, 5));
    assert_eq!(since("read"), (5, 6));
    assert_eq!(since("splice"), (5, 7));
    assert_eq!(since("tee"), (5, 8));
    assert_eq!(since("shutdown"), (5, 11));
    assert_eq!(since("mkdirat"), (5, 15));
    assert_eq!(since("msg_ring"), (5, 18));
    assert_eq!(since("uring_cmd"), (5, 19));
    assert_eq!(since("send_zc"), (6, 0));
    assert_eq!(since("sendmsg_zc"), (6, 1));
    assert_eq!(since("waitid"), (6, 7));
    assert_eq!(since("fixed_fd_install"), (6, 8));
    assert_eq!(since("ftruncate"), (6, 9));
    assert_eq!(since("listen"), (6, 11));
    assert_eq!(since("epoll_wait"), (6, 15));
    assert_eq!(since("pipe"), (6, 16));
    assert_eq!(since("nop128"), (6, 19));
    // Opcodes are only ever appended, so the releases never go backwards.
    for pair in OPCODES.windows(2) {
        assert!(pair[0].since <= pair[1].since, "{} / {}", pair[0], pair[1]);
    }
}

#[test]
fn name_lookup_round_trips_in_any_spelling() {
    for op in OPCODES {
        let short_upper = op.short_name.to_ascii_uppercase();
        let mixed: String = op
            .name
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
            .collect();
        for spelling in [
            op.name,
            op.short_name,
            &short_upper,
            &mixed,
            &op.name.to_ascii_lowercase(),
        ] {
            assert_eq!(opcode_by_name(spelling), Some(op), "{spelling}");
        }
    }
}

#[test]
fn unknown_names_are_none() {
    for name in [
        "",
        "bogus",
        "IORING_OP_",
        "ioring_op",
        "IORING_OP_BOGUS",
        "IORING_OP_IORING_OP_NOP",
        " nop",
        "nop ",
        "nop\0",
        "IORING_OP_LAST",
        "last",
        "IORING_OPé",
        "ÑOP",
        "ıoring_op_nop",
        "63",
    ] {
        assert_eq!(opcode_by_name(name), None, "{name:?}");
    }
    assert_eq!(opcode(65), None);
    assert_eq!(opcode_name(65), None);
    assert_eq!(opcode_name(255), None);
}

#[test]
fn feature_table_matches_names() {
    assert_eq!(FEATURES.len(), 18);
    for f in FEATURES {
        let short = f.name.strip_prefix("IORING_FEAT_").unwrap();
        assert_eq!(f.short_name, short.to_ascii_lowercase());
        assert!(f.bit.is_power_of_two());
    }
    assert_eq!(FEATURES[17].bit, sys::IORING_FEAT_NO_IOWAIT);
}

/// liburing's own answer, through the raw bindings: (last_op, supported per code 0..=255).
fn liburing_probe() -> (u8, Vec<bool>) {
    // SAFETY: io_uring_get_probe returns a malloc'd probe or NULL; it is read only while
    // alive and freed exactly once with io_uring_free_probe.
    unsafe {
        let p = sys::io_uring_get_probe();
        assert!(!p.is_null(), "io_uring_get_probe failed");
        let last = (*p).last_op;
        let sup = (0..256)
            .map(|op| sys::io_uring_opcode_supported(p, op) != 0)
            .collect();
        sys::io_uring_free_probe(p);
        (last, sup)
    }
}

#[test]
fn probe_agrees_with_liburing() {
    let p = probe::probe().unwrap();
    let (last, sup) = liburing_probe();
    assert_eq!(p.last_op(), last);
    for code in 0..=255u8 {
        assert_eq!(
            p.is_supported(code),
            sup[usize::from(code)],
            "opcode {code} ({:?})",
            opcode_name(code)
        );
    }
}

#[test]
fn nop_and_read_are_supported_here() {
    let p = probe::probe().unwrap();
    assert!(p.is_supported(sys::IORING_OP_NOP as u8));
    assert!(p.is_supported(sys::IORING_OP_READ as u8));
    assert!(p.is_supported(opcode_by_name("readv").unwrap().code));
}

#[test]
fn newest_opcodes_follow_the_kernel() {
    let p = probe::probe().unwrap();
    let (_, sup) = liburing_probe();
    for code in [
        sys::IORING_OP_NOP128 as u8,
        sys::IORING_OP_URING_CMD128 as u8,
    ] {
        assert_eq!(p.is_supported(code), sup[usize::from(code)]);
        if code > p.last_op() {
            assert!(!p.is_supported(code), "{code} is past last_op");
        }
    }
    if let Some(first_unknown) = p.last_op().checked_add(1) {
        for code in first_unknown..=255 {
            assert!(!p.is_supported(code), "{code} is past last_op");
        }
    }
}

#[test]
fn iter_covers_every_known_code() {
    let p = probe::probe().unwrap();
    let items: Vec<_> = p.iter().collect();
    assert_eq!(items.len(), usize::from(p.last_op()) + 1);
    assert_eq!(p.iter().len(), items.len());
    for (i, &(code, supported, op)) in items.iter().enumerate() {
        assert_eq!(usize::from(code), i);
        assert_eq!(supported, p.is_supported(code));
        assert_eq!(op, opcode(code));
    }
    assert_eq!(p.iter().next_back().map(|e| e.0), Some(p.last_op()));
}

#[test]
fn features_match_a_liburing_ring() {
    let p = probe::probe().unwrap();
    // SAFETY: the ring and params are zeroed plain data, set up by
    // io_uring_queue_init_params and torn down once with io_uring_queue_exit.
    let features = unsafe {
        let mut ring: sys::io_uring = std::mem::zeroed();
        let mut params: sys::io_uring_params = std::mem::zeroed();
        assert_eq!(
            sys::io_uring_queue_init_params(2, &mut ring, &mut params),
            0
        );
        sys::io_uring_queue_exit(&mut ring);
        params.features
    };
    assert_eq!(p.features().bits(), features);
    assert!(
        p.features()
            .contains(Features::SINGLE_MMAP | Features::NODROP)
    );
}

#[test]
fn ring_probe_matches_ringless_probe() {
    let ring = Ring::new(4).unwrap();
    let from_ring = ring.probe().unwrap();
    let ringless = probe::probe().unwrap();
    assert_eq!(from_ring, ringless);
    assert_eq!(from_ring.features(), ring.features());
    assert!(from_ring.is_supported(sys::IORING_OP_NOP as u8));
}

#[test]
fn ring_probe_without_a_descriptor() {
    let p = probe::probe().unwrap();
    let ring = match Ring::builder().no_mmap().registered_fd_only().build(4) {
        Ok(ring) => ring,
        // NO_MMAP and REGISTERED_FD_ONLY are Linux 6.5+; older kernels refuse the
        // unknown flags with EINVAL (carried inside the crate's contextual error).
        Err(e) if uring::error::errno(&e) == Some(libc::EINVAL) => {
            eprintln!(
                "skipped: ring_probe_without_a_descriptor because this kernel refuses \
                 IORING_SETUP_NO_MMAP | IORING_SETUP_REGISTERED_FD_ONLY (Linux 6.5+): {e}"
            );
            return;
        }
        // With a liburing before 2.8 uring refuses these flags itself.
        Err(e)
            if uring::error::errno(&e) == Some(libc::EOPNOTSUPP)
                && e.to_string().contains("needs liburing 2.8") =>
        {
            eprintln!(
                "skipped: ring_probe_without_a_descriptor because it needs liburing 2.8 \
                 and {} is linked: {e}",
                env!("URING_LIBURING_VERSION")
            );
            return;
        }
        Err(e) => panic!("{e}"),
    };
    assert!(ring.fd().is_none());
    let from_ring = ring.probe().unwrap();
    assert_eq!(from_ring.last_op(), p.last_op());
    assert!(from_ring.iter().eq(p.iter()));
    assert_eq!(from_ring.features(), ring.features());
}

#[test]
fn debug_lists_supported_ops() {
    let p = probe::probe().unwrap();
    let s = format!("{p:?}");
    assert!(s.starts_with("Probe { last_op: "), "{s}");
    assert!(s.contains("nop, readv,"), "{s}");
    assert_eq!(p.clone(), p);
}

// ---- io_uring unavailable: seccomp makes io_uring_setup fail in a child process ----

const CHILD_ENV: &str = "URING_PROBE_TEST_EXPECT_ERRNO";

/// Re-runs this test binary, limited to `child_reports_errno`, with a seccomp filter
/// that makes `io_uring_setup` fail with `errno`.
fn run_child_with_setup_failing(errno: i32) {
    use std::os::unix::process::CommandExt;
    // libtest names a test by its module path without the crate's name.
    let test = match module_path!().split_once("::") {
        Some((_crate, module)) => format!("{module}::child_reports_errno"),
        None => "child_reports_errno".to_string(),
    };
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", &test, "--ignored", "--nocapture"])
        .env(CHILD_ENV, errno.to_string());
    // SAFETY: the hook only calls prctl(2) with a filter built on the stack; prctl is
    // async-signal-safe and nothing is allocated between fork and exec.
    unsafe {
        cmd.pre_exec(move || seccomp::fail_io_uring_setup(errno));
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed: {stdout}");
    assert!(stdout.contains("1 passed"), "child did not run: {stdout}");
}

#[test]
#[ignore = "run by the probe_reports_* tests in a seccomp-filtered child"]
fn child_reports_errno() {
    let expect: i32 = std::env::var(CHILD_ENV)
        .expect("set by run_child_with_setup_failing")
        .parse()
        .unwrap();
    let err = probe::probe().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(expect), "{err}");
}

#[test]
fn probe_reports_enosys_when_io_uring_is_missing() {
    run_child_with_setup_failing(libc::ENOSYS);
}

#[test]
fn probe_reports_eperm_when_io_uring_is_forbidden() {
    run_child_with_setup_failing(libc::EPERM);
}

mod seccomp {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    #[cfg(target_arch = "riscv64")]
    const AUDIT_ARCH: u32 = 0xC000_00F3;

    fn stmt(code: u32, k: u32) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt: 0,
            jf: 0,
            k,
        }
    }

    fn jump(code: u32, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
        libc::sock_filter {
            code: code as u16,
            jt,
            jf,
            k,
        }
    }

    /// Installs a filter on the calling thread: `io_uring_setup` fails with `errno`,
    /// every other system call is allowed.
    pub fn fail_io_uring_setup(errno: i32) -> std::io::Result<()> {
        use libc::*;
        let mut filter = [
            // seccomp_data.arch
            stmt(BPF_LD | BPF_W | BPF_ABS, 4),
            jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH, 1, 0),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
            // seccomp_data.nr
            stmt(BPF_LD | BPF_W | BPF_ABS, 0),
            jump(BPF_JMP | BPF_JEQ | BPF_K, SYS_io_uring_setup as u32, 0, 1),
            stmt(
                BPF_RET | BPF_K,
                SECCOMP_RET_ERRNO | (errno as u32 & SECCOMP_RET_DATA),
            ),
            stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        ];
        let prog = sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: plain prctl calls; `prog` points at `filter`, both alive for the call
        // (the kernel copies the program).
        unsafe {
            if prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || prctl(
                    PR_SET_SECCOMP,
                    SECCOMP_MODE_FILTER,
                    &prog as *const sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}
