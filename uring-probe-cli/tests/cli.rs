//! The `uring-probe` binary, run as a user would, checked against `uring::probe()`.

use liburing_sys as sys;
use serde_json::Value;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output, Stdio};
use uring::probe::{self, OPCODES, Probe};

const BIN: &str = env!("CARGO_BIN_EXE_uring-probe");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap()
        .trim()
        .to_string()
}

/// The rows the table must have, from the library: 0 through max(last_op, 64).
fn expected_rows(p: &Probe, yes: &str, no: &str) -> Vec<String> {
    let last = p.last_op().max((OPCODES.len() - 1) as u8);
    (0..=last)
        .map(|code| {
            let name = probe::opcode_name(code)
                .map_or_else(|| format!("IORING_OP_UNKNOWN_{code}"), str::to_string);
            let mark = if p.is_supported(code) { yes } else { no };
            format!("{name:30}{mark}")
        })
        .collect()
}

fn check_table(out: &str, yes: &str, no: &str) {
    let p = probe::probe().unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("io_uring on Kernel {}", kernel_release()));
    assert_eq!(lines[1], "OPCODE                        SUPPORTED");
    assert_eq!(lines[2], "=".repeat(39));
    let rows = expected_rows(&p, yes, no);
    assert_eq!(&lines[3..3 + rows.len()], rows.as_slice());
    assert_eq!(lines[3 + rows.len()..], ["Nop completed with 0"]);
    assert!(out.ends_with('\n'));
}

#[test]
fn default_output_matches_the_probe() {
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let out = stdout(&o);
    check_table(&out, "✅", "❌");
    assert!(out.contains("IORING_OP_NOP                 ✅\n"));
}

#[test]
fn ascii_output_says_yes_and_no() {
    let o = run(&["--ascii"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    check_table(&out, "yes", "no");
    assert!(out.is_ascii());
}

#[test]
fn no_colour_and_no_color_changes_nothing() {
    let plain = run(&[]);
    let no_color = Command::new(BIN).env("NO_COLOR", "1").output().unwrap();
    assert_eq!(plain.stdout, no_color.stdout);
    assert!(
        !plain.stdout.contains(&0x1b),
        "escape sequence in piped output"
    );
}

/// Runs the binary with stdout on a pseudo-terminal and returns what it wrote, with
/// the terminal's `\r\n` turned back into `\n`.
fn run_on_a_tty(args: &[&str]) -> (Option<i32>, String) {
    use std::io::Read;
    use std::os::fd::{FromRawFd, OwnedFd};
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two descriptors into the out-pointers; the optional
    // name, termios and winsize arguments are null.
    let ret = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(ret, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just created and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("NO_COLOR")
        .stdout(Stdio::from(slave))
        .spawn()
        .unwrap();
    // The parent's copy of the slave went into the Command and is closed now, so
    // reading the master ends (EIO) once the child has exited.
    let mut master = std::fs::File::from(master);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.raw_os_error() == Some(libc::EIO) => break,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the terminal: {e}"),
        }
    }
    let status = child.wait().unwrap();
    (
        status.code(),
        String::from_utf8(bytes).unwrap().replace("\r\n", "\n"),
    )
}

#[test]
fn terminal_and_pipe_get_the_same_output() {
    let (code, on_tty) = run_on_a_tty(&[]);
    assert_eq!(code, Some(0));
    let piped = stdout(&run(&[]));
    assert_eq!(on_tty, piped);
    check_table(&on_tty, "✅", "❌");
}

fn json() -> Value {
    let o = run(&["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn json_shape_and_opcodes() {
    let j = json();
    let p = probe::probe().unwrap();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    for key in [
        "kernel",
        "liburing",
        "last_op",
        "opcodes",
        "features",
        "setup_flags",
        "register_opcodes",
        "query",
        "nop_result",
    ] {
        assert!(keys.contains(&key), "missing {key} in {keys:?}");
    }
    assert_eq!(j["kernel"]["release"], kernel_release().as_str());
    assert_eq!(j["liburing"]["built_against"], "2.15");
    assert_eq!(j["liburing"]["linked"], "2.15");
    assert_eq!(j["last_op"], p.last_op());
    assert_eq!(j["nop_result"], 0);

    let ops = j["opcodes"].as_array().unwrap();
    let last = p.last_op().max((OPCODES.len() - 1) as u8);
    assert_eq!(ops.len(), usize::from(last) + 1);
    for (i, op) in ops.iter().enumerate() {
        let code = u8::try_from(i).unwrap();
        assert_eq!(op["code"], code);
        assert_eq!(op["supported"], p.is_supported(code), "{op}");
        match probe::opcode(code) {
            Some(known) => {
                assert_eq!(op["name"], known.name);
                assert_eq!(
                    op["since"],
                    format!("{}.{}", known.since.0, known.since.1).as_str()
                );
            }
            None => {
                assert_eq!(op["name"], format!("IORING_OP_UNKNOWN_{code}").as_str());
                assert!(op["since"].is_null());
            }
        }
    }
}

#[test]
fn json_features_match_the_probe() {
    let j = json();
    let p = probe::probe().unwrap();
    assert_eq!(j["features"]["bits"], p.features().bits());
    let present: Vec<&str> = j["features"]["present"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let expect: Vec<&str> = probe::FEATURES
        .iter()
        .filter(|f| p.features().bits() & f.bit != 0)
        .map(|f| f.name)
        .collect();
    assert_eq!(present, expect);
    assert!(present.contains(&"IORING_FEAT_NODROP"));
}

#[test]
fn json_setup_flags_and_register_opcodes() {
    let j = json();
    let flags = j["setup_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 21);
    assert_eq!(flags[0]["name"], "IORING_SETUP_IOPOLL");
    assert_eq!(flags[0]["accepted"], true);
    let aff = &flags[2];
    assert_eq!(aff["name"], "IORING_SETUP_SQ_AFF");
    assert_eq!(aff["with"][0], "IORING_SETUP_SQPOLL");
    let defer = flags
        .iter()
        .find(|f| f["name"] == "IORING_SETUP_DEFER_TASKRUN")
        .unwrap();
    assert_eq!(defer["bit"], sys::IORING_SETUP_DEFER_TASKRUN);
    assert_eq!(defer["with"][0], "IORING_SETUP_SINGLE_ISSUER");
    for f in flags {
        assert_eq!(f["error"].is_null(), f["accepted"] == true, "{f}");
    }

    let reg = &j["register_opcodes"];
    let ops = reg["ops"].as_array().unwrap();
    assert_eq!(ops.len(), sys::IORING_REGISTER_LAST as usize);
    assert_eq!(ops[8]["name"], "IORING_REGISTER_PROBE");
    assert_eq!(ops[8]["code"], sys::IORING_REGISTER_PROBE);

    // Where the kernel can say itself (IORING_REGISTER_QUERY, Linux 6.18), the trials
    // must agree with it.
    if let Some(q) = j["query"].as_object() {
        assert_eq!(reg["method"], "query");
        let accepted: u64 = flags
            .iter()
            .filter(|f| f["accepted"] == true)
            .map(|f| f["bit"].as_u64().unwrap())
            .sum();
        let known: u64 = flags.iter().map(|f| f["bit"].as_u64().unwrap()).sum();
        assert_eq!(accepted, q["setup_flags"].as_u64().unwrap() & known);
        let nr = q["nr_register_opcodes"].as_u64().unwrap();
        for op in ops {
            assert_eq!(op["answers"], op["code"].as_u64().unwrap() < nr, "{op}");
        }
        assert_eq!(
            q["nr_request_opcodes"].as_u64().unwrap(),
            u64::from(probe::probe().unwrap().last_op()) + 1
        );
    } else {
        assert_ne!(reg["method"], "query");
    }
    // Every kernel that can run these tests has PROBE; a method that can tell says so.
    if reg["method"] != "none" {
        assert_eq!(ops[8]["answers"], true);
    }
}

/// The original Pony bindings numbered five of these wrong; the JSON must carry the
/// header's numbers.
#[test]
fn opcode_numbers_from_getxattr_on_match_the_header() {
    let j = json();
    let header = [
        ("IORING_OP_GETXATTR", sys::IORING_OP_GETXATTR),
        ("IORING_OP_SOCKET", sys::IORING_OP_SOCKET),
        ("IORING_OP_URING_CMD", sys::IORING_OP_URING_CMD),
        ("IORING_OP_SEND_ZC", sys::IORING_OP_SEND_ZC),
        ("IORING_OP_SENDMSG_ZC", sys::IORING_OP_SENDMSG_ZC),
        ("IORING_OP_READ_MULTISHOT", sys::IORING_OP_READ_MULTISHOT),
        ("IORING_OP_WAITID", sys::IORING_OP_WAITID),
        ("IORING_OP_FUTEX_WAIT", sys::IORING_OP_FUTEX_WAIT),
        ("IORING_OP_FUTEX_WAKE", sys::IORING_OP_FUTEX_WAKE),
        ("IORING_OP_FUTEX_WAITV", sys::IORING_OP_FUTEX_WAITV),
        (
            "IORING_OP_FIXED_FD_INSTALL",
            sys::IORING_OP_FIXED_FD_INSTALL,
        ),
        ("IORING_OP_FTRUNCATE", sys::IORING_OP_FTRUNCATE),
        ("IORING_OP_BIND", sys::IORING_OP_BIND),
        ("IORING_OP_LISTEN", sys::IORING_OP_LISTEN),
        ("IORING_OP_RECV_ZC", sys::IORING_OP_RECV_ZC),
        ("IORING_OP_EPOLL_WAIT", sys::IORING_OP_EPOLL_WAIT),
        ("IORING_OP_READV_FIXED", sys::IORING_OP_READV_FIXED),
        ("IORING_OP_WRITEV_FIXED", sys::IORING_OP_WRITEV_FIXED),
        ("IORING_OP_PIPE", sys::IORING_OP_PIPE),
        ("IORING_OP_NOP128", sys::IORING_OP_NOP128),
        ("IORING_OP_URING_CMD128", sys::IORING_OP_URING_CMD128),
    ];
    let ops = j["opcodes"].as_array().unwrap();
    for (name, code) in header {
        let op = ops.iter().find(|op| op["name"] == name).unwrap();
        assert_eq!(op["code"], code, "{name}");
    }
    // The text table puts them on the same rows.
    let text = stdout(&run(&["--ascii"]));
    let rows: Vec<&str> = text.lines().skip(3).collect();
    for (name, code) in header {
        assert!(
            rows[code as usize].starts_with(&format!("{name} ")),
            "{name}"
        );
    }
}

#[test]
fn features_table() {
    let o = run(&["--features", "--ascii"]);
    assert_eq!(o.status.code(), Some(0));
    let p = probe::probe().unwrap();
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[1], format!("{:34}PRESENT", "FEATURE"));
    for (f, line) in probe::FEATURES.iter().zip(&lines[3..]) {
        let mark = if p.features().bits() & f.bit != 0 {
            "yes"
        } else {
            "no"
        };
        assert!(line.starts_with(&format!("{:34}{mark}", f.name)), "{line}");
    }
}

#[test]
fn setup_flags_table_agrees_with_json() {
    let o = run(&["--setup-flags", "--ascii"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    let j = json();
    let rows: Vec<&str> = out.lines().skip(3).collect();
    let flags = j["setup_flags"].as_array().unwrap();
    assert_eq!(rows.len(), flags.len());
    for (row, f) in rows.iter().zip(flags) {
        let mark = if f["accepted"] == true { "yes" } else { "no" };
        let name = f["name"].as_str().unwrap();
        assert!(row.starts_with(&format!("{name:34}{mark}")), "{row}");
    }
}

#[test]
fn require_nop_succeeds_quietly() {
    let o = run(&["--require", "nop"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let o = run(&[
        "--require",
        "IORING_OP_READ,Nop",
        "--require",
        "ioring_op_readv",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn require_by_number() {
    let o = run(&["--require", "0,22"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = run(&["--require", "255"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o),
        "IORING_OP_UNKNOWN_255 is not supported by this kernel\n"
    );
    for bad in ["256", "-1", "+1", "0x10"] {
        assert_eq!(run(&["--require", bad]).status.code(), Some(2), "{bad}");
    }
}

#[test]
fn require_nop128_follows_the_kernel() {
    let p = probe::probe().unwrap();
    let o = run(&["--require", "nop128"]);
    if p.is_supported(sys::IORING_OP_NOP128 as u8) {
        assert_eq!(o.status.code(), Some(0));
        assert_eq!(stdout(&o), "");
    } else {
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            stdout(&o),
            "IORING_OP_NOP128 is not supported by this kernel (needs Linux 6.19)\n"
        );
    }
}

#[test]
fn require_lists_each_missing_opcode() {
    let p = probe::probe().unwrap();
    let all: Vec<&str> = OPCODES.iter().map(|op| op.short_name).collect();
    let o = run(&["--require", &all.join(",")]);
    let missing: Vec<String> = OPCODES
        .iter()
        .filter(|op| !p.is_supported(op.code))
        .map(|op| op.name.to_string())
        .collect();
    let lines: Vec<String> = stdout(&o)
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(lines, missing);
    assert_eq!(
        o.status.code(),
        Some(if missing.is_empty() { 0 } else { 1 })
    );
}

#[test]
fn require_unknown_name_exits_2_with_suggestions() {
    let o = run(&["--require", "nop,bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown opcode `bogus`"), "{err}");
    assert!(err.contains("closest known names: "), "{err}");

    let err = stderr(&run(&["--require", "raed"]));
    assert!(err.contains("closest known names: read"), "{err}");
    let err = stderr(&run(&["--require", "IORING_OP_FUTEX_WIAT"]));
    assert!(err.contains("closest known names: futex_wait"), "{err}");

    let o = run(&["--require", "nop,,read"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn help_and_version() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = stdout(&o);
    for needle in [
        "Examples:",
        "uring-probe --require",
        "Exit status:",
        "--json",
        "--setup-flags",
        "--features",
        "--ascii",
        "nop_result",
        "setup_flags[]",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
    let o = run(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        stdout(&o),
        format!(
            "uring-probe {} (liburing 2.15)\n",
            env!("CARGO_PKG_VERSION")
        )
    );
}

#[test]
fn bad_usage_exits_2() {
    for args in [
        &["--json", "--features"][..],
        &["--require"],
        &["--bogus"],
        &["extra"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).contains("panicked"));
    }
}

#[test]
fn closed_stdout_is_not_a_panic() {
    let mut child = Command::new(BIN)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stderr(&o), "");
}

// ---- io_uring unavailable: a seccomp filter makes io_uring_setup fail ----

fn run_without_io_uring(errno: i32, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    // SAFETY: the hook only calls prctl(2) with a filter on its stack; prctl is
    // async-signal-safe and nothing is allocated between fork and exec.
    unsafe {
        cmd.pre_exec(move || seccomp::fail_io_uring_setup(errno));
    }
    cmd.output().unwrap()
}

#[test]
fn io_uring_unavailable_exits_3_with_one_line() {
    for errno in [libc::ENOSYS, libc::EPERM] {
        for args in [
            &[][..],
            &["--json"],
            &["--features"],
            &["--setup-flags"],
            &["--require", "nop"],
            &["--ascii"],
        ] {
            let o = run_without_io_uring(errno, args);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(3), "{errno} {args:?}: {err}");
            assert_eq!(stdout(&o), "", "{args:?}");
            assert_eq!(err.lines().count(), 1, "{err}");
            assert!(err.starts_with("uring-probe: "), "{err}");
            assert!(!err.contains("panicked"), "{err}");
            let why = if errno == libc::ENOSYS {
                "not available"
            } else {
                "not permitted"
            };
            // io_uring_disabled = 1 or 2 would word it differently; this machine has 0.
            if std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .is_ok_and(|s| s.trim() == "0")
            {
                assert!(err.contains(why), "{err}");
            }
        }
    }
}

#[test]
fn unknown_name_is_reported_even_without_io_uring() {
    let o = run_without_io_uring(libc::ENOSYS, &["--require", "bogus"]);
    assert_eq!(o.status.code(), Some(2));
}

mod seccomp {
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    #[cfg(target_arch = "riscv64")]
    const AUDIT_ARCH: u32 = 0xC000_00F3;

    fn insn(code: u32, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
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
            insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, 4), // seccomp_data.arch
            insn(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, AUDIT_ARCH),
            insn(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW),
            insn(BPF_LD | BPF_W | BPF_ABS, 0, 0, 0), // seccomp_data.nr
            insn(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, SYS_io_uring_setup as u32),
            insn(
                BPF_RET | BPF_K,
                0,
                0,
                SECCOMP_RET_ERRNO | (errno as u32 & SECCOMP_RET_DATA),
            ),
            insn(BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW),
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
