//! `cargo xtask kernel-check`: the workspace's tests, run inside other Linux kernels
//! booted under QEMU, so "works on 6.1" is a measured fact — on x86_64 and on arm64.
//!
//! For each guest architecture asked for (`--arch`; `kernel/arch.rs` holds everything
//! that differs between them):
//! 1. Build every test binary of the workspace (xtask excluded) statically for it
//!    (`+crt-static`, glibc; cross-linked with `aarch64-linux-gnu-gcc` for arm64; target
//!    dir `target/kernel-check/build`), and a tiny init (`kernel/init.rs`, compiled with
//!    `rustc` directly).
//! 2. Pack them into an uncompressed newc initramfs written here (`kernel/cpio.rs`).
//! 3. Obtain each kernel: a pinned Debian `-cloud-amd64` or `-cloud-arm64` package,
//!    downloaded under a private `APT_CONFIG` and cached as
//!    `target/kernel-check/kernels/*/vmlinuz`, or a path (`kernel/kernels.rs`).
//! 4. Boot each (both architectures' kernels in one queue), N at a time, with a
//!    wall-clock limit; the init runs every binary and reports its verdict through
//!    `isa-debug-exit` (x86_64) or semihosting (arm64 `virt`), so QEMU exits 1 or 3 —
//!    never the 0 of a guest that crashed or powered off (`kernel/qemu.rs`).
//! 5. Read each console log back (`kernel/log.rs`) and print one matrix kernel ×
//!    (arch, passed, failed, skipped-by-probe, ignored, time). Any failure, timeout or
//!    missing report makes the command fail.
//!
//! arm64 runs under TCG only (on an x86_64 host); its defaults are a shorter kernel
//! list (oldest, Debian 12's and 13's, newest) and longer time limits.
//!
//! `--selftest` proves the machinery catches a kernel-specific failure: it boots 6.1 and
//! 7.3 with one planted binary (`kernel/selftest.rs`) that submits an opcode new in 6.7
//! without checking the probe. It succeeds only when 6.1 reports exactly that failure
//! (and the probe-gated twin as skipped) and 7.3 passes both.
//!
//! # What a test sees inside the guest
//!
//! - Root, PID > 1, one test binary at a time, run as `BIN --test-threads=N
//!   --show-output --color never [FILTER] [--skip S]…` from `/tmp` with a per-binary
//!   time limit; `URING_KERNEL_CHECK=1` in the environment.
//! - `/proc`, `/sys`, devtmpfs `/dev` (with devpts and a `/dev/shm` tmpfs), tmpfs `/tmp`;
//!   `lo` up (127.0.0.1, ::1); no other network, no disks, no source tree.
//! - The workspace's test binaries, `[[bin]]`s and examples at their host paths
//!   (`env!("CARGO_BIN_EXE_x")` and `current_exe()`-relative paths work), and the host's
//!   `sh`, `true`, `false`, `sleep`, `cat`, `echo`, `env`, `kill` in `/bin`.
//! - A test that finds the kernel lacking something prints a line starting with
//!   `skipped:` (stdout or stderr) and returns: the matrix counts it as skipped by probe
//!   and lists the reason per kernel, instead of as a pass.

#[cfg(test)]
#[allow(dead_code)] // The guest's `main` and its helpers; compiled here for tests and lints.
mod init;

mod arch;
mod cpio;
mod kernels;
mod log;
mod qemu;
mod userland;

use crate::args;
use crate::json::{self, Json};
use crate::util::{self, Result, project_root};
pub use arch::GuestArch;
use kernels::Spec;
use log::{Report, Verdict};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const INIT_SOURCE: &str = include_str!("kernel/init.rs");
const SELFTEST_SOURCE: &str = include_str!("kernel/selftest.rs");
/// The selftest's binary name in the matrix, and the test expected to fail before 6.7.
const SELFTEST_BINARY: &str = "selftest/futex_wake";
const SELFTEST_FAILING: &str = "futex_wake_without_probe";
const SELFTEST_GATED: &str = "futex_wake_gated_by_probe";
const SELFTEST_KERNELS: &[&str] = &["6.1", "7.3"];

/// `cargo xtask kernel-check`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "kernel-check",
    synopsis: &[
        "[--arch A] [--kernel K]… [--filter TEST] [--skip TEST]… [--package P]… [--jobs N] \
         [--accel tcg|kvm|auto] [--timeout SECS] [--test-timeout S] [--threads N] [--smp N] \
         [--memory MIB] [--fuzz SECS] [--selftest] [--list]",
    ],
    summary: "run the test suite inside other Linux kernels booted under QEMU\n\
              and print a kernel × result matrix",
    options: &[
        args::Opt::value(
            "--arch",
            "A",
            "guest architecture: x86_64 (amd64, the default), aarch64\n\
             (arm64) or all (both, in one matrix)",
        ),
        args::Opt::repeated(
            "--kernel",
            "K",
            "a kernel to boot (repeatable): a known version, `all`, or a\n\
             path to a kernel image (bzImage, arm64 Image); default:\n\
             x86_64 5.10 6.1 6.12 6.16 6.18 6.19 7.0 7.3, arm64 5.10 6.1\n\
             6.12 7.3",
        ),
        args::Opt::value(
            "--filter",
            "TEST",
            "run only tests whose name contains TEST (libtest filter)",
        ),
        args::Opt::repeated(
            "--skip",
            "TEST",
            "skip tests whose name contains TEST (repeatable; libtest\n\
             --skip)",
        ),
        args::Opt::repeated(
            "--package",
            "P",
            "only this package's test binaries (repeatable; default: the\n\
             workspace minus xtask)",
        )
        .short("-p"),
        args::Opt::value("--jobs", "N", "kernels booted at once (default 2)").short("-j"),
        args::Opt::value(
            "--accel",
            "A",
            "tcg | kvm | auto (default auto: KVM only when /dev/kvm opens\n\
             and the CPU has vmx/svm)",
        ),
        args::Opt::value(
            "--timeout",
            "SECS",
            "wall-clock limit per kernel (default 600; arm64 900)",
        ),
        args::Opt::value(
            "--test-timeout",
            "S",
            "limit per test binary inside the guest (default 240; arm64\n\
             300)",
        ),
        args::Opt::value(
            "--threads",
            "N",
            "libtest --test-threads inside the guest (default 2)",
        ),
        args::Opt::value("--smp", "N", "guest CPUs (default 2)"),
        args::Opt::value("--memory", "MIB", "guest memory (default 1024)"),
        args::Opt::value(
            "--fuzz",
            "SECS",
            "give uring-fuzz's kernel test SECS of model fuzzing (written\n\
             to /kernel-check/fuzz; with --package uring-fuzz, what CI\n\
             runs in the oldest and newest kernels)",
        ),
        args::Opt::flag(
            "--selftest",
            "prove a kernel-specific failure is caught (boots 6.1 and 7.3\n\
             unless --kernel is given)",
        ),
        args::Opt::flag("--list", "list the known kernels and exit"),
    ],
    notes: "Needs qemu-system-x86_64 (apt-get install -y --no-install-recommends qemu-system-x86),\n\
            rustc's x86_64-unknown-linux-gnu std and glibc's static libraries (libc6-dev); for\n\
            arm64 qemu-system-arm, gcc-aarch64-linux-gnu, libc6-dev-arm64-cross and\n\
            `rustup target add aarch64-unknown-linux-gnu` (added when missing).\n\
            Logs: target/kernel-check/logs/<run>/<kernel>.log, one folder per run (runs may overlap)",
};

/// `cargo xtask kernel-check`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub arches: Vec<GuestArch>,
    pub kernels: Vec<String>,
    pub filter: Option<String>,
    pub skip: Vec<String>,
    pub packages: Vec<String>,
    pub jobs: usize,
    pub accel: String,
    /// `None`: the architecture's default.
    pub timeout: Option<u64>,
    pub test_timeout: Option<u64>,
    pub threads: u32,
    pub smp: u32,
    pub memory: u32,
    pub selftest: bool,
    pub list: bool,
    /// Seconds of model fuzzing for uring-fuzz's test in the guest.
    pub fuzz: Option<u64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            arches: vec![arch::X86_64],
            kernels: Vec::new(),
            filter: None,
            skip: Vec::new(),
            packages: Vec::new(),
            jobs: 2,
            accel: "auto".to_string(),
            timeout: None,
            test_timeout: None,
            threads: 2,
            smp: 2,
            memory: 1024,
            selftest: false,
            list: false,
            fuzz: None,
        }
    }
}

/// The oldest and the newest kernel of the default set.
pub fn oldest_and_newest() -> (&'static str, &'static str) {
    let set = kernels::DEFAULT_SET;
    (set[0], set[set.len() - 1])
}

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        let d = Options::default();
        let o = Options {
            arches: match m.value("--arch") {
                Some(a) => GuestArch::parse(&a)?,
                None => d.arches,
            },
            kernels: m.values("--kernel"),
            filter: m.value("--filter"),
            skip: m.values("--skip"),
            packages: m.values("--package"),
            jobs: m.positive::<u32>("--jobs")?.map_or(d.jobs, |n| n as usize),
            accel: m.value("--accel").unwrap_or(d.accel),
            timeout: m.positive("--timeout")?,
            test_timeout: m.positive("--test-timeout")?,
            threads: m.positive("--threads")?.unwrap_or(d.threads),
            smp: m.positive("--smp")?.unwrap_or(d.smp),
            memory: m.positive("--memory")?.unwrap_or(d.memory),
            selftest: m.flag("--selftest"),
            list: m.flag("--list"),
            fuzz: m.positive("--fuzz")?,
        };
        if o.filter
            .iter()
            .chain(&o.skip)
            .any(|f| f.contains(['\n', '\t']))
        {
            return Err("--filter and --skip values must be single lines".to_string());
        }
        Ok(o)
    }
}

/// Runs `cargo xtask kernel-check`.
pub fn run(mut o: Options) -> Result {
    if o.list {
        print_known_kernels(&o.arches);
        return Ok(());
    }
    if o.selftest && o.kernels.is_empty() {
        o.kernels = SELFTEST_KERNELS.iter().map(|s| s.to_string()).collect();
    }
    let build_start = Instant::now();
    let plan = prepare(&o)?;
    let prep = build_start.elapsed();
    eprintln!(
        "kernel-check: {} kernels, {} at a time (build and downloads took {:.1} s)",
        plan.jobs.len() + plan.unavailable.len(),
        o.jobs,
        prep.as_secs_f64()
    );
    let logs = logs_dir(o.selftest)?;
    let boot_start = Instant::now();
    let results = boot_all(&plan.jobs, o.jobs, |job| {
        boot_with_retry(job, &plan.guests[job.guest], &logs, &o)
    });
    let wall = boot_start.elapsed();
    for g in &plan.guests {
        let _ = std::fs::remove_file(&g.initramfs);
    }
    let order = plan.labels();
    let mut rows: Vec<Row> = results.into_iter().collect::<Result<_>>()?;
    rows.extend(plan.unavailable);
    rows.sort_by_key(|r| order.iter().position(|l| *l == r.label));
    print!("{}", render_matrix(&rows));
    let accels: Vec<String> = plan
        .guests
        .iter()
        .map(|g| format!("{} {}", g.arch.debian, g.accel.name()))
        .collect();
    println!(
        "\n{} kernels in {:.1} s wall ({} at a time; {}); build and downloads {:.1} s",
        rows.len(),
        wall.as_secs_f64(),
        o.jobs,
        accels.join(", "),
        prep.as_secs_f64()
    );
    println!("console logs: {}", logs.display());
    if o.selftest {
        check_selftest_rows(&rows)
    } else {
        check_rows(&rows)
    }
}

/// `--list`: the known kernels of each architecture, the default set marked.
fn print_known_kernels(arches: &[GuestArch]) {
    for a in arches {
        for p in kernels::known(a) {
            let default = if kernels::default_set(a).contains(&p.name) {
                "default"
            } else {
                ""
            };
            println!(
                "{:<6} {:<6} {:<8} {:<42} {:<20} {:<18} {}",
                a.debian, p.name, default, p.package, p.version, p.suite, p.note
            );
        }
    }
}

/// Everything up to the boots: each architecture's guest, and one queue of kernels.
struct Plan {
    guests: Vec<Guest>,
    jobs: Vec<Job>,
    /// The kernels that could not be obtained, as finished rows.
    unavailable: Vec<Row>,
}

impl Plan {
    /// Every kernel's label, in the order the matrix lists them.
    fn labels(&self) -> Vec<String> {
        let booted = self.jobs.iter().map(|j| j.label.clone());
        booted
            .chain(self.unavailable.iter().map(|r| r.label.clone()))
            .collect()
    }
}

/// Builds each architecture's payload and initramfs and obtains its kernels.
fn prepare(o: &Options) -> Result<Plan> {
    let mut plan = Plan {
        guests: Vec::new(),
        jobs: Vec::new(),
        unavailable: Vec::new(),
    };
    for arch in &o.arches {
        let specs = kernels::resolve(&o.kernels, arch)?;
        let guest = prepare_guest(o, arch, specs.len())?;
        let labels: Vec<String> = unique_labels(&specs)
            .iter()
            .map(|l| arch.label(l))
            .collect();
        for (label, image) in labels.into_iter().zip(kernels::obtain(&specs, arch)) {
            match image {
                Ok(image) => plan.jobs.push(Job {
                    label,
                    image,
                    guest: plan.guests.len(),
                }),
                Err(e) => {
                    eprintln!("[{label}] UNAVAILABLE: {e}");
                    plan.unavailable.push(Row {
                        label,
                        arch: arch.debian,
                        report: Report::unavailable(e),
                        took: Duration::ZERO,
                        log: PathBuf::new(),
                    });
                }
            }
        }
        plan.guests.push(guest);
    }
    Ok(plan)
}

/// One architecture's guest: its accelerator and QEMU, the init and the test binaries
/// (or the selftest's) packed into an initramfs, its limits.
fn prepare_guest(o: &Options, arch: &GuestArch, kernels: usize) -> Result<Guest> {
    let accel = qemu::choose_accel(&o.accel, arch)?;
    let qemu_bin = qemu::binary(arch)?;
    if !arch.is_host() {
        crate::codegen::ensure_rust_target(arch.target)?;
    }
    let init = compile_standalone("init", INIT_SOURCE, false, arch)?;
    let payload = if o.selftest {
        Payload {
            tests: vec![(
                SELFTEST_BINARY.to_string(),
                compile_standalone("selftest", SELFTEST_SOURCE, true, arch)?,
            )],
            helpers: Vec::new(),
        }
    } else {
        build_test_binaries(&o.packages, arch)?
    };
    // Per process, so concurrent runs (a selftest next to a full run) never boot
    // each other's payload.
    let initramfs = project_root().join(format!(
        "target/kernel-check/initramfs-{}-{}.cpio",
        arch.debian,
        std::process::id()
    ));
    let (timeout, test_timeout) = default_timeouts(arch);
    let timeout = o.timeout.unwrap_or(timeout);
    let test_timeout = o.test_timeout.unwrap_or(test_timeout);
    write_initramfs(&initramfs, &init, &payload, o, arch, test_timeout)?;
    eprintln!(
        "kernel-check {}: {} test binaries, {kernels} kernels, accel {}",
        arch.debian,
        payload.tests.len(),
        accel.name(),
    );
    Ok(Guest {
        arch: *arch,
        accel,
        qemu: qemu_bin,
        initramfs,
        expected: payload.tests.iter().map(|(n, _)| n.clone()).collect(),
        timeout: Duration::from_secs(timeout),
    })
}

/// A new folder for this run's console logs: two runs at once (two people, or a
/// selftest next to a full run) must not write into each other's.
fn logs_dir(selftest: bool) -> Result<PathBuf> {
    let run_name = format!(
        "{}{}-{}",
        if selftest { "selftest-" } else { "" },
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        std::process::id()
    );
    let logs = project_root()
        .join("target/kernel-check/logs")
        .join(run_name);
    std::fs::create_dir_all(&logs).map_err(|e| format!("create {}: {e}", logs.display()))?;
    Ok(logs)
}

/// Boots `job`'s kernel, and once more if the kernel itself failed: TCG occasionally
/// loses a guest to an emulation glitch (a boot-time IO-APIC panic, an oops while the
/// kernel patches its own text). A failure our tests cause comes back the second time
/// and counts.
fn boot_with_retry(job: &Job, guest: &Guest, logs: &Path, o: &Options) -> Result<Row> {
    let first = boot_and_read(job, guest, 1, logs, o)?;
    if !retry_worthy(&first.report) {
        return Ok(first);
    }
    eprintln!(
        "[{}] the kernel itself failed ({}); booting it once more",
        job.label, first.report.reason
    );
    let mut second = boot_and_read(job, guest, 2, logs, o)?;
    if second.report.verdict == Verdict::Pass {
        second.report.kernel_trouble.insert(
            0,
            format!(
                "first boot lost to the kernel, not the tests: {}",
                first.report.reason
            ),
        );
    }
    Ok(second)
}

/// Boots `job`'s kernel once (`attempt` names its log) and reads its console back.
fn boot_and_read(job: &Job, guest: &Guest, attempt: u32, logs: &Path, o: &Options) -> Result<Row> {
    let label = &job.label;
    let log_path = if attempt == 1 {
        logs.join(format!("{}.log", sanitize(label)))
    } else {
        logs.join(format!("{}.attempt{attempt}.log", sanitize(label)))
    };
    eprintln!("[{label}] booting {}", job.image.display());
    let boot = qemu::Boot {
        arch: &guest.arch,
        qemu: &guest.qemu,
        kernel: &job.image,
        initramfs: &guest.initramfs,
        log: &log_path,
        accel: guest.accel,
        smp: o.smp,
        memory_mib: o.memory,
        limit: guest.timeout,
        boot_limit: guest.timeout.min(BOOT_LIMIT),
    };
    let (outcome, took) = boot.run()?;
    let text = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap_or_default()).into_owned();
    let mut report = log::analyse(&text, outcome, &guest.expected);
    // QEMU's own complaints (a bad option, an unreadable kernel: QEMU then exits 1,
    // which the log check already refuses as a pass) belong in the reason.
    let qemu_said =
        std::fs::read_to_string(log_path.with_extension("qemu-stderr")).unwrap_or_default();
    if report.verdict != Verdict::Pass && !qemu_said.trim().is_empty() {
        let first: Vec<&str> = qemu_said.lines().take(3).collect();
        report
            .reason
            .push_str(&format!("; QEMU said: {}", first.join(" / ")));
    }
    eprintln!(
        "[{label}] {} — {} passed, {} failed, {} skipped by probe ({:.1} s){}",
        report.verdict.word(),
        report.passed,
        report.failed,
        report.skipped.len(),
        took.as_secs_f64(),
        if report.verdict == Verdict::Pass {
            String::new()
        } else {
            format!(": {}", report.reason)
        }
    );
    Ok(Row {
        label: label.to_string(),
        arch: guest.arch.debian,
        report,
        took,
        log: log_path,
    })
}

/// The selftest's verdict; failures are its point, so the consoles are shown only
/// when the check fails.
fn check_selftest_rows(rows: &[Row]) -> Result {
    let verdict = check_selftest(rows);
    if verdict.is_err() {
        rows.iter().for_each(print_log_tail);
    }
    verdict
}

/// A run's verdict: every kernel passes. A failing test is named in the matrix with
/// its panic; a kernel that died or hung is explained only by its console, shown here.
fn check_rows(rows: &[Row]) -> Result {
    let unexplained = |r: &&Row| matches!(r.report.verdict, Verdict::Timeout | Verdict::NoReport);
    for row in rows.iter().filter(unexplained) {
        print_log_tail(row);
    }
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| r.report.verdict != Verdict::Pass)
        .map(|r| r.label.as_str())
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!("not passing on: {}", bad.join(", ")))
    }
}

/// One architecture's share of a run: how to boot it and what its guests must report.
struct Guest {
    arch: GuestArch,
    accel: qemu::Accel,
    qemu: PathBuf,
    initramfs: PathBuf,
    expected: Vec<String>,
    timeout: Duration,
}

/// One kernel to boot, with the index of its [`Guest`].
struct Job {
    label: String,
    image: PathBuf,
    guest: usize,
}

/// (wall-clock limit per kernel, limit per test binary) in seconds when not given.
/// arm64 guests always run under TCG (no KVM across architectures) and took up to 1.6
/// times as long as x86_64 ones under TCG on the same loaded 2-core machine (47–92 s
/// per kernel when it was quiet, up to 255 s at a load of 20), so they get room to spare.
/// x86_64's per-binary limit is 240 s: the echo server's binary (tens of MiB through
/// 64 clients) took 53 s on 7.3 when the machine was quiet and passed 90 s under load.
/// How long a kernel may take to start the init. Boots take 2–10 s under TCG here (arm64
/// the slower), a few times that on a loaded machine; a CI run once lost a 7.3 guest
/// that printed nothing for its whole 600 s, which now costs 180 s and a second boot.
const BOOT_LIMIT: Duration = Duration::from_secs(180);

fn default_timeouts(arch: &GuestArch) -> (u64, u64) {
    if arch.is_host() || *arch == arch::X86_64 {
        (600, 240)
    } else {
        (900, 300)
    }
}

struct Row {
    label: String,
    /// Debian's name of the guest's architecture (`amd64`, `arm64`).
    arch: &'static str,
    report: Report,
    took: Duration,
    log: PathBuf,
}

/// Runs `f` for every job, `parallel` at a time, keeping the input order in the output.
/// Whether a kernel's failure looks like the guest kernel's own (a panic or oops, or
/// death without a report) rather than a test's.
fn retry_worthy(r: &Report) -> bool {
    match r.verdict {
        Verdict::NoReport => true,
        Verdict::Fail => r.kernel_trouble.iter().any(|t| {
            t.contains("Kernel panic")
                || t.contains("Oops")
                || t.contains("BUG:")
                || t.contains("general protection")
        }),
        _ => false,
    }
}

fn boot_all<J: Sync, T: Send>(
    jobs: &[J],
    parallel: usize,
    f: impl Fn(&J) -> Result<T> + Sync,
) -> Vec<Result<T>> {
    let queue: Mutex<VecDeque<usize>> = Mutex::new((0..jobs.len()).collect());
    let results: Mutex<Vec<Option<Result<T>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..parallel.max(1).min(jobs.len().max(1)) {
            s.spawn(|| {
                loop {
                    let next = queue.lock().map(|mut q| q.pop_front()).unwrap_or(None);
                    let Some(i) = next else { break };
                    let r = f(&jobs[i]);
                    if let Ok(mut all) = results.lock() {
                        all[i] = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("a boot worker died".to_string())))
        .collect()
}

/// Each spec's label, with `#2`, `#3`… on repeats (two paths to a `vmlinuz` in folders
/// of the same name), so rows and log files stay apart.
fn unique_labels(specs: &[Spec]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for spec in specs {
        let base = spec.label();
        let mut label = base.clone();
        let mut n = 1;
        while out.contains(&label) {
            n += 1;
            label = format!("{base}#{n}");
        }
        out.push(label);
    }
    out
}

fn sanitize(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The matrix: one line per kernel, then what failed and what was skipped by probe.
fn render_matrix(rows: &[Row]) -> String {
    let w = rows.iter().map(|r| r.label.len()).max().unwrap_or(0).max(6);
    let mut s = format!(
        "\n{:<w$} {:<5} {:<32} {:<11} {:>6} {:>6} {:>7} {:>7} {:>8}\n",
        "kernel", "arch", "release", "result", "passed", "failed", "skipped", "ignored", "time"
    );
    for r in rows {
        let rep = &r.report;
        s.push_str(&format!(
            "{:<w$} {:<5} {:<32} {:<11} {:>6} {:>6} {:>7} {:>7} {:>7.1}s\n",
            r.label,
            r.arch,
            rep.release.as_deref().unwrap_or("?"),
            rep.verdict.word(),
            rep.passed,
            rep.failed,
            rep.skipped.len(),
            rep.ignored,
            r.took.as_secs_f64()
        ));
    }
    for r in rows {
        let rep = &r.report;
        if rep.verdict != Verdict::Pass {
            s.push_str(&format!(
                "\n{} {}: {}\n",
                r.label,
                rep.verdict.word(),
                rep.reason
            ));
            for f in &rep.failures {
                match rep.why.get(f) {
                    Some(why) => s.push_str(&format!("  failed: {f}\n          {why}\n")),
                    None => s.push_str(&format!("  failed: {f}\n")),
                }
            }
            for t in &rep.kernel_trouble {
                s.push_str(&format!("  kernel: {t}\n"));
            }
        } else if !rep.kernel_trouble.is_empty() {
            // A pass, but the kernel complained (a WARN in io_uring, say): worth a look.
            s.push_str(&format!("\n{} passed, but the kernel said:\n", r.label));
            for t in &rep.kernel_trouble {
                s.push_str(&format!("  kernel: {t}\n"));
            }
        }
    }
    // Skips grouped by test, listing the kernels that skipped each.
    let mut skips: Vec<(String, String, Vec<&str>)> = Vec::new();
    for r in rows {
        for k in &r.report.skipped {
            let key = format!("{}::{}", k.binary, k.test);
            match skips
                .iter_mut()
                .find(|(t, reason, _)| *t == key && *reason == k.reason)
            {
                Some((_, _, ks)) => ks.push(&r.label),
                None => skips.push((key, k.reason.clone(), vec![&r.label])),
            }
        }
    }
    if !skips.is_empty() {
        s.push_str("\nskipped by probe:\n");
        for (test, reason, ks) in skips {
            s.push_str(&format!("  {test} on {}: {reason}\n", ks.join(", ")));
        }
    }
    s
}

fn print_log_tail(row: &Row) {
    if row.report.verdict == Verdict::Unavailable {
        return;
    }
    let text = String::from_utf8_lossy(&std::fs::read(&row.log).unwrap_or_default()).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(40);
    println!(
        "\n--- {} console, last {} lines ({}) ---",
        row.label,
        lines.len() - from,
        row.log.display()
    );
    for l in &lines[from..] {
        println!("{}", l.trim_end_matches('\r'));
    }
}

/// The selftest's expectations: before 6.7 the unprobed FUTEX_WAKE fails and the gated
/// one is skipped; from 6.7 both pass.
fn check_selftest(rows: &[Row]) -> Result {
    let mut problems = Vec::new();
    for r in rows {
        let rep = &r.report;
        let Some(release) = rep.release.as_deref() else {
            problems.push(format!(
                "{}: the guest never reported its release ({})",
                r.label, rep.reason
            ));
            continue;
        };
        let new_enough = release_at_least(release, (6, 7));
        let failing = format!("{SELFTEST_BINARY}::{SELFTEST_FAILING}");
        let skipped: Vec<&str> = rep.skipped.iter().map(|s| s.test.as_str()).collect();
        let ok = match new_enough {
            Some(true) => rep.verdict == Verdict::Pass && rep.passed == 2 && skipped.is_empty(),
            Some(false) => {
                rep.verdict == Verdict::Fail
                    && rep.failures == [failing.clone()]
                    && rep.failed == 1
                    && skipped == [SELFTEST_GATED]
            }
            None => false,
        };
        if ok {
            println!(
                "selftest {}: {}",
                r.label,
                if new_enough == Some(true) {
                    "both FUTEX_WAKE tests pass, as expected on 6.7+".to_string()
                } else {
                    format!(
                        "caught the planted failure ({failing}) and the skip by probe ({SELFTEST_GATED})"
                    )
                }
            );
        } else {
            problems.push(format!(
                "{} ({release}): expected {}, got {} with failures {:?} and skips {:?}",
                r.label,
                if new_enough == Some(true) {
                    "a clean pass"
                } else {
                    "exactly the planted failure"
                },
                rep.verdict.word(),
                rep.failures,
                skipped
            ));
        }
    }
    if problems.is_empty() {
        println!("selftest: kernel-check catches kernel-specific failures");
        Ok(())
    } else {
        Err(format!("selftest failed:\n  {}", problems.join("\n  ")))
    }
}

/// Whether a `uname -r` string is at least `want` (major, minor); `None` if unreadable.
fn release_at_least(release: &str, want: (u32, u32)) -> Option<bool> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some((major, minor) >= want)
}

/// The `rustc` of the toolchain running us (cargo sets `RUSTC` for us only sometimes).
fn rustc() -> std::process::Command {
    std::process::Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
}

/// Compiles a one-file std-only program into a static binary, reusing the last build
/// when the source and compiler are unchanged. `test` builds a libtest harness.
fn compile_standalone(name: &str, source: &str, test: bool, arch: &GuestArch) -> Result<PathBuf> {
    let dir = project_root()
        .join("target/kernel-check/standalone")
        .join(arch.target);
    let src = dir.join(format!("{name}.rs"));
    let out = dir.join(name);
    let stamp = dir.join(format!("{name}.stamp"));
    let version = util::output(rustc().arg("-vV"))?;
    let key = util::sha256_hex(format!("{version}\n{test}\n{}\n{source}", arch.target).as_bytes());
    if out.is_file() && std::fs::read_to_string(&stamp).is_ok_and(|s| s == key) {
        return Ok(out);
    }
    util::write(&src, source)?;
    let mut cmd = rustc();
    cmd.args([
        "--edition",
        "2024",
        "--crate-name",
        name,
        "--target",
        arch.target,
    ])
    .args([
        "-C",
        "opt-level=2",
        "-C",
        "target-feature=+crt-static",
        "-C",
        "strip=debuginfo",
    ]);
    if let Some(linker) = arch.linker() {
        cmd.arg("-C").arg(format!("linker={linker}"));
    }
    if test {
        cmd.arg("--test");
    } else {
        cmd.args(["-C", "panic=abort"]);
    }
    cmd.arg("-o").arg(&out).arg(&src);
    util::run(&mut cmd).map_err(|e| {
        format!(
            "{e}\n(static glibc builds for {} need: apt-get install {})",
            arch.target,
            arch.toolchain_packages.join(" ")
        )
    })?;
    util::write(&stamp, key)?;
    Ok(out)
}

/// What the guest gets besides the init.
#[derive(Debug, Default, PartialEq)]
struct Payload {
    /// (display name, executable) of each libtest binary, run in this order.
    tests: Vec<(String, PathBuf)>,
    /// Other executables the build made (the workspace's `[[bin]]`s), placed in the guest
    /// at their host paths so tests find them through `env!("CARGO_BIN_EXE_<name>")`.
    helpers: Vec<PathBuf>,
}

/// Builds the workspace's test binaries statically for the guest.
fn build_test_binaries(packages: &[String], arch: &GuestArch) -> Result<Payload> {
    let root = project_root();
    let mut cmd = util::cargo();
    cmd.current_dir(&root).args([
        "test",
        "--no-run",
        "--message-format=json-render-diagnostics",
        "--target",
        arch.target,
    ]);
    if let Some(linker) = arch.linker() {
        let var = format!(
            "CARGO_TARGET_{}_LINKER",
            arch.target.to_uppercase().replace('-', "_")
        );
        cmd.env(var, linker);
    }
    if packages.is_empty() {
        cmd.args(["--workspace", "--exclude", "xtask"]);
    } else {
        for p in packages {
            cmd.args(["--package", p]);
        }
    }
    let mut flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    flags.push_str(" -C target-feature=+crt-static -C strip=debuginfo");
    cmd.env("CARGO_TARGET_DIR", root.join("target/kernel-check/build"))
        .env("RUSTFLAGS", flags.trim())
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_PROFILE_TEST_DEBUG", "0")
        .stderr(std::process::Stdio::inherit());
    let json = util::output(&mut cmd)?;
    let payload = test_executables(&json)?;
    if payload.tests.is_empty() {
        return Err(format!("`{}` listed no test executables", util::show(&cmd)));
    }
    Ok(payload)
}

/// Picks the test executables (`profile.test`) and the other binaries out of cargo's
/// JSON messages.
fn test_executables(messages: &str) -> Result<Payload> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    let mut helpers: Vec<PathBuf> = Vec::new();
    for msg in json::cargo_messages(messages)? {
        if msg.get("reason").and_then(Json::as_str) != Some("compiler-artifact") {
            continue;
        }
        let Some(exe) = msg.get("executable").and_then(Json::as_str) else {
            continue;
        };
        if msg.at(&["profile", "test"]).and_then(Json::as_bool) != Some(true) {
            // A `[[bin]]` (tests run it through `CARGO_BIN_EXE_<name>`).
            if !helpers.iter().any(|h| h == Path::new(exe)) {
                helpers.push(PathBuf::from(exe));
            }
            continue;
        }
        let package = msg
            .get("package_id")
            .and_then(Json::as_str)
            .map(package_name)
            .unwrap_or("?");
        let target = msg
            .at(&["target", "name"])
            .and_then(Json::as_str)
            .unwrap_or("?");
        let kinds: Vec<&str> = msg
            .at(&["target", "kind"])
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        let label = if kinds.iter().any(|k| k.ends_with("lib")) {
            format!("{package}/lib")
        } else if kinds.contains(&"bin") {
            format!("{package}/bin:{target}")
        } else {
            format!("{package}/{target}")
        };
        let label = sanitize_label(&label);
        if !out.iter().any(|(l, _)| *l == label) {
            out.push((label, PathBuf::from(exe)));
        }
    }
    out.sort();
    helpers.sort();
    Ok(Payload {
        tests: out,
        helpers,
    })
}

/// Labels go into whitespace-separated marker lines: no spaces or control characters.
fn sanitize_label(label: &str) -> String {
    label
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The package name in a cargo package id: `path+file:///w/uring#0.1.0` (name = last
/// path segment), `path+file:///w/cli#uring-probe-cli@0.1.0`, `registry+…#libc@0.2.1`, or the
/// older `uring 0.1.0 (path+file:///w/uring)`.
fn package_name(id: &str) -> &str {
    if let Some((url, frag)) = id.rsplit_once('#') {
        match frag.split_once('@') {
            Some((name, _)) => name,
            None => url.trim_end_matches('/').rsplit('/').next().unwrap_or(url),
        }
    } else {
        id.split_whitespace().next().unwrap_or(id)
    }
}

/// The initramfs: the init as `/init`; the test binaries, the `[[bin]]`s and examples at
/// their host paths (tests find them through `CARGO_BIN_EXE_*` or next to
/// `current_exe()`); a few host programs with their libraries (`sh`, `true`, …); the list
/// and config under `/kernel-check/`; mount points; and `/dev/console`, so the init has a
/// console before it mounts devtmpfs.
fn write_initramfs(
    path: &Path,
    init: &Path,
    payload: &Payload,
    o: &Options,
    arch: &GuestArch,
    test_timeout: u64,
) -> Result {
    let tmp = path.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(|e| format!("create {}: {e}", tmp.display()))?;
    let mut tree = Tree {
        w: cpio::Writer::new(std::io::BufWriter::new(file)),
        dirs: Vec::new(),
        name: tmp.display().to_string(),
    };
    for d in ["/dev", "/proc", "/sys", "/tmp", "/kernel-check"] {
        tree.dir(Path::new(d))?;
    }
    tree.w
        .char_dev("dev/console", 0o600, 5, 1)
        .map_err(|e| tree.error(e))?;
    tree.file(Path::new("/init"), 0o755, &util::read(init)?)?;
    let mut list = String::new();
    for (name, exe) in &payload.tests {
        tree.file(exe, 0o755, &util::read(exe)?)?;
        list.push_str(&format!("{name}\t{}\n", exe.display()));
    }
    for helper in &payload.helpers {
        tree.file(helper, 0o755, &util::read(helper)?)?;
    }
    let userland = userland::for_arch(arch)?;
    for item in &userland.files {
        tree.file(&item.guest, 0o755, &util::read(&item.host)?)?;
    }
    for (link, target) in &userland.links {
        tree.symlink(link, target)?;
    }
    tree.file(Path::new("/kernel-check/tests"), 0o644, list.as_bytes())?;
    let mut config = format!(
        "threads={}\ntimeout={}\nfilter={}\n",
        o.threads,
        test_timeout,
        o.filter.as_deref().unwrap_or("")
    );
    for skip in &o.skip {
        config.push_str(&format!("skip={skip}\n"));
    }
    tree.file(Path::new("/kernel-check/config"), 0o644, config.as_bytes())?;
    if let Some(secs) = o.fuzz {
        tree.file(
            Path::new("/kernel-check/fuzz"),
            0o644,
            format!("{secs}\n").as_bytes(),
        )?;
    }
    tree.w
        .finish()
        .map_err(|e| format!("writing {}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| format!("rename {} -> {}: {e}", tmp.display(), path.display()))
}

/// A cpio archive being filled with absolute guest paths; the kernel's unpacker creates
/// no parent directories, so each one is emitted once, before its first entry.
struct Tree<W: std::io::Write> {
    w: cpio::Writer<W>,
    dirs: Vec<PathBuf>,
    name: String,
}

impl<W: std::io::Write> Tree<W> {
    fn error(&self, e: std::io::Error) -> String {
        format!("writing {}: {e}", self.name)
    }

    fn relative(path: &Path) -> Result<String> {
        let rel = path.strip_prefix("/").unwrap_or(path);
        let rel = rel
            .to_str()
            .ok_or_else(|| format!("{}: not a UTF-8 path", path.display()))?;
        if rel.is_empty() || rel.split('/').any(|c| c == ".." || c == ".") {
            return Err(format!("{}: not a plain absolute path", path.display()));
        }
        Ok(rel.to_string())
    }

    fn dir(&mut self, path: &Path) -> Result {
        let ancestors: Vec<&Path> = path.ancestors().collect();
        for dir in ancestors.into_iter().rev() {
            if dir == Path::new("/") || dir.as_os_str().is_empty() {
                continue;
            }
            if !self.dirs.iter().any(|d| d == dir) {
                let rel = Self::relative(dir)?;
                self.w.dir(&rel, 0o755).map_err(|e| self.error(e))?;
                self.dirs.push(dir.to_path_buf());
            }
        }
        Ok(())
    }

    fn symlink(&mut self, path: &Path, target: &str) -> Result {
        if let Some(parent) = path.parent() {
            self.dir(parent)?;
        }
        let rel = Self::relative(path)?;
        self.w.symlink(&rel, target).map_err(|e| self.error(e))
    }

    fn file(&mut self, path: &Path, perm: u32, data: &[u8]) -> Result {
        if let Some(parent) = path.parent() {
            self.dir(parent)?;
        }
        let rel = Self::relative(path)?;
        self.w.file(&rel, perm, data).map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_kernels_own_deaths_are_retried() {
        let mut r = Report::unavailable(String::new());
        r.verdict = Verdict::NoReport;
        assert!(retry_worthy(&r), "died without a report");
        r.verdict = Verdict::Fail;
        assert!(!retry_worthy(&r), "a test failed: no second chance");
        r.kernel_trouble
            .push("Oops: int3: 0000 [#1] SMP NOPTI".into());
        assert!(retry_worthy(&r), "the kernel oopsed");
        r.verdict = Verdict::Timeout;
        assert!(!retry_worthy(&r), "a hang is not retried");
        r.verdict = Verdict::Pass;
        assert!(!retry_worthy(&r));
        // A boot that never reached the init: no test ran, so the kernel is to blame.
        let hung = log::analyse("", Outcome::NeverStarted(180), &["uring/a".to_string()]);
        assert_eq!(hung.verdict, Verdict::NoReport);
        assert!(
            hung.reason.contains("did not start the init within 180 s"),
            "{}",
            hung.reason
        );
        assert!(retry_worthy(&hung));
    }

    use super::*;
    use log::Outcome;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    fn parse_args(argv: &[String]) -> Result<Options> {
        match args::parse::<Options>(argv)? {
            args::Parsed::Run(o) => Ok(o),
            args::Parsed::Help => Err("--help".into()),
        }
    }

    #[test]
    fn options() {
        assert_eq!(parse_args(&[]).unwrap(), Options::default());
        let o = parse_args(&args(
            "--kernel 6.1 --kernel=7.3 --filter nop -j 3 --accel tcg --timeout 60 --selftest",
        ))
        .unwrap();
        assert_eq!(o.kernels, ["6.1", "7.3"]);
        assert_eq!(o.arches, [arch::X86_64]);
        assert_eq!(
            parse_args(&args("--arch arm64 --timeout 5")).unwrap(),
            Options {
                arches: vec![arch::AARCH64],
                timeout: Some(5),
                ..Options::default()
            }
        );
        assert_eq!(parse_args(&args("--arch=all")).unwrap().arches.len(), 2);
        assert!(parse_args(&args("--arch sparc")).is_err());
        assert_eq!(
            (
                o.filter.as_deref(),
                o.jobs,
                o.accel.as_str(),
                o.timeout,
                o.selftest
            ),
            (Some("nop"), 3, "tcg", Some(60), true)
        );
        assert!(
            parse_args(&args("--jobs 0"))
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            parse_args(&args("--jobs"))
                .unwrap_err()
                .contains("needs a value")
        );
        assert!(
            parse_args(&args("--bogus"))
                .unwrap_err()
                .contains("unknown option")
        );
        assert!(parse_args(&args("--selftest=1")).is_err());
        assert_eq!(parse_args(&args("--fuzz 60")).unwrap().fuzz, Some(60));
    }

    #[test]
    fn executables_from_cargo_json() {
        let msgs = [
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/liburing-sys#0.1.0","target":{"kind":["lib"],"name":"liburing_sys"},"profile":{"test":true},"executable":"/b/liburing_sys-1"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/liburing-sys#0.1.0","target":{"kind":["test"],"name":"ffi"},"profile":{"test":true},"executable":"/b/ffi-2"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/uring-probe-cli#0.1.0","target":{"kind":["bin"],"name":"uring-probe"},"profile":{"test":false},"executable":"/b/uring-probe"}"#,
            r#"{"reason":"compiler-artifact","package_id":"path+file:///w/cli#uring-probe-cli@0.1.0","target":{"kind":["bin"],"name":"uring-probe"},"profile":{"test":true},"executable":"/b/uring_probe-3"}"#,
            r#"{"reason":"compiler-artifact","package_id":"registry+https://x#libc@0.2.1","target":{"kind":["lib"],"name":"libc"},"profile":{"test":false},"executable":null}"#,
            r#"{"reason":"build-finished","success":true}"#,
            "   Compiling uring v0.1.0 (not json)",
        ]
        .join("\n");
        let payload = test_executables(&msgs).unwrap();
        let labels: Vec<&str> = payload.tests.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(payload.helpers, [PathBuf::from("/b/uring-probe")]);
        assert_eq!(
            labels,
            [
                "liburing-sys/ffi",
                "liburing-sys/lib",
                "uring-probe-cli/bin:uring-probe"
            ]
        );
        assert!(test_executables("{not json").is_err());
    }

    #[test]
    fn tree_emits_each_parent_once_and_refuses_odd_paths() {
        let mut tree = Tree {
            w: cpio::Writer::new(Vec::new()),
            dirs: Vec::new(),
            name: "test".into(),
        };
        tree.file(Path::new("/w/t/debug/deps/a"), 0o755, b"a")
            .unwrap();
        tree.file(Path::new("/w/t/debug/b"), 0o755, b"b").unwrap();
        tree.file(Path::new("/init"), 0o755, b"i").unwrap();
        assert!(tree.file(Path::new("/w/../etc/x"), 0o644, b"").is_err());
        assert!(tree.file(Path::new("/"), 0o644, b"").is_err());
        let bytes = tree.w.finish().unwrap();
        let names: Vec<String> = cpio::read(&bytes)
            .unwrap()
            .into_iter()
            .map(|(h, _)| h.name)
            .collect();
        assert_eq!(
            names,
            [
                "w",
                "w/t",
                "w/t/debug",
                "w/t/debug/deps",
                "w/t/debug/deps/a",
                "w/t/debug/b",
                "init"
            ]
        );
    }

    #[test]
    fn labels_are_unique() {
        let specs = [
            Spec::Path(PathBuf::from("/a/k/vmlinuz")),
            Spec::Path(PathBuf::from("/b/k/vmlinuz")),
            Spec::Path(PathBuf::from("/c/k/vmlinuz")),
        ];
        assert_eq!(
            unique_labels(&specs),
            ["k/vmlinuz", "k/vmlinuz#2", "k/vmlinuz#3"]
        );
    }

    #[test]
    fn package_ids() {
        assert_eq!(package_name("path+file:///w/uring#0.1.0"), "uring");
        assert_eq!(
            package_name("path+file:///w/cli#uring-probe-cli@0.1.0"),
            "uring-probe-cli"
        );
        assert_eq!(package_name("uring 0.1.0 (path+file:///w/uring)"), "uring");
    }

    #[test]
    fn init_and_parser_agree_on_the_marker() {
        assert_eq!(init::MARK, log::MARK);
    }

    #[test]
    fn releases() {
        assert_eq!(
            release_at_least("6.1.0-56-cloud-amd64", (6, 7)),
            Some(false)
        );
        assert_eq!(
            release_at_least("6.12.118+deb13-cloud-amd64", (6, 7)),
            Some(true)
        );
        assert_eq!(
            release_at_least("7.0.13+deb13-cloud-amd64", (6, 7)),
            Some(true)
        );
        assert_eq!(
            release_at_least("5.10.0-46-cloud-amd64", (6, 7)),
            Some(false)
        );
        assert_eq!(release_at_least("garbage", (6, 7)), None);
    }

    fn row(label: &str, log: &str, outcome: Outcome, expected: &[&str]) -> Row {
        let expected: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        Row {
            label: label.to_string(),
            arch: "amd64",
            report: log::analyse(log, outcome, &expected),
            took: Duration::from_millis(4200),
            log: PathBuf::from("/dev/null"),
        }
    }

    fn selftest_log(release: &str, new: bool) -> String {
        let body = if new {
            "test futex_wake_gated_by_probe ... ok\ntest futex_wake_without_probe ... ok\n\
             test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n@@kc end selftest/futex_wake exit=0 secs=0.01\n@@kc finish pass failed=0 binaries=1"
        } else {
            "test futex_wake_gated_by_probe ... ok\ntest futex_wake_without_probe ... FAILED\n\nsuccesses:\n\n\
             ---- futex_wake_gated_by_probe stdout ----\nskipped: IORING_OP_FUTEX_WAKE not supported by this kernel (needs 6.7)\n\n\
             failures:\n\n---- futex_wake_without_probe stdout ----\nthread 'x' panicked at here.rs:1:2:\ncompleted with -22\n\n\
             test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n@@kc end selftest/futex_wake exit=101 secs=0.01\n@@kc finish fail failed=1 binaries=1"
        };
        format!(
            "@@kc start release={release} binaries=1\n@@kc begin selftest/futex_wake\nrunning 2 tests\n{body}\n"
        )
    }

    #[test]
    fn selftest_expectations() {
        let old = row(
            "6.1",
            &selftest_log("6.1.0-56-cloud-amd64", false),
            Outcome::Exited(Some(3)),
            &[SELFTEST_BINARY],
        );
        let new = row(
            "7.3",
            &selftest_log("7.3.4+deb13-cloud-amd64", true),
            Outcome::Exited(Some(1)),
            &[SELFTEST_BINARY],
        );
        assert_eq!(old.report.verdict, Verdict::Fail);
        assert_eq!(new.report.verdict, Verdict::Pass);
        assert!(check_selftest(&[old, new]).is_ok());
        // A 6.1 that passes means the planted failure went unnoticed: the selftest fails.
        let wrong = row(
            "6.1",
            &selftest_log("6.1.0-56-cloud-amd64", true),
            Outcome::Exited(Some(1)),
            &[SELFTEST_BINARY],
        );
        assert!(
            check_selftest(&[wrong])
                .unwrap_err()
                .contains("planted failure")
        );
        // So does a kernel that never reports.
        let dead = row(
            "6.1",
            "Kernel panic - not syncing",
            Outcome::Exited(Some(0)),
            &[SELFTEST_BINARY],
        );
        assert!(check_selftest(&[dead]).is_err());
    }

    #[test]
    fn matrix_lists_failures_and_skips() {
        let old = row(
            "6.1",
            &selftest_log("6.1.0-56-cloud-amd64", false),
            Outcome::Exited(Some(3)),
            &[SELFTEST_BINARY],
        );
        let hung = row(
            "7.0",
            "@@kc start release=7.0.13 binaries=1\n@@kc begin selftest/futex_wake\n",
            Outcome::TimedOut,
            &[SELFTEST_BINARY],
        );
        let m = render_matrix(&[old, hung]);
        assert!(m.contains("6.1.0-56-cloud-amd64"), "{m}");
        assert!(
            m.contains("failed: selftest/futex_wake::futex_wake_without_probe\n          here.rs:1:2: completed with -22"),
            "{m}"
        );
        assert!(m.contains("TIMEOUT"), "{m}");
        assert!(
            m.contains(
                "selftest/futex_wake::futex_wake_gated_by_probe on 6.1: IORING_OP_FUTEX_WAKE"
            ),
            "{m}"
        );
        let gone = Row {
            label: "9.9".into(),
            arch: "arm64",
            report: Report::unavailable("404 Not Found".into()),
            took: Duration::ZERO,
            log: PathBuf::new(),
        };
        let m = render_matrix(&[gone]);
        assert!(m.contains("UNAVAILABLE: 404 Not Found"), "{m}");
    }

    /// The end-to-end proof: boots 6.1 and 7.3 under QEMU (downloads and caches the
    /// kernels; needs qemu-system-x86) and checks 6.1's planted failure is caught.
    #[test]
    #[ignore = "boots kernels under QEMU; run with `cargo test -p xtask -- --ignored`"]
    fn selftest_catches_a_failure_only_old_kernels_have() {
        run(parse_args(&args("--selftest --accel tcg")).unwrap()).unwrap();
    }

    #[test]
    fn boot_all_keeps_order_and_runs_everything() {
        let jobs: Vec<(String, PathBuf)> = (0..5)
            .map(|i| (i.to_string(), PathBuf::from("/x")))
            .collect();
        let out = boot_all(&jobs, 2, |(label, _): &(String, PathBuf)| {
            if label == "3" {
                Err("boom".to_string())
            } else {
                Ok(label.to_string())
            }
        });
        assert_eq!(
            out,
            vec![
                Ok("0".into()),
                Ok("1".into()),
                Ok("2".into()),
                Err("boom".into()),
                Ok("4".into())
            ]
        );
    }
}
