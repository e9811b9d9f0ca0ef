//! `cargo xtask ci`: the whole test suite, as `.ci/run` runs it on a fresh machine.
//!
//! Steps, in order (each prints a `== ci: …` header; the first failure stops the run
//! unless `--keep-going`):
//! 1. vendor liburing 2.15 (verified), check the checked-in bindings of every architecture
//!    are current, and compile the crates for aarch64 and riscv64 (layout assertions);
//! 2. `cargo fmt --check`, `cargo clippy -D warnings` (with the workspace's lints:
//!    `unsafe_op_in_unsafe_fn`, `missing_docs`, `clippy::undocumented_unsafe_blocks`,
//!    `clippy::incompatible_msrv` for the declared MSRV), `cargo doc -D warnings`;
//! 3. the workspace's tests against the vendored liburing, then liburing-sys's and
//!    uring's again under AddressSanitizer (nightly); the model fuzzer under
//!    AddressSanitizer for 150 s, and each libFuzzer target for 20 s;
//! 4. liburing-sys (and uring) against Debian's liburing 2.9 and 2.15 packages:
//!    pkg-config shared, pkg-config static, `LIBURING_DIR`; and against liburing 2.5
//!    (Ubuntu 24.04's; 2.4–2.7 lay out liburing's private flags differently from 2.8
//!    on) built from upstream's source as a crates.io package carries it
//!    (`LIBURING_DIR`, see `syslibs::SOURCE_LIBS`);
//! 5. refusals: Debian 12's liburing 2.3 (and no liburing at all) without `vendored`,
//!    a vendored build with the source missing, a tampered source tree;
//! 6. `cargo xtask kernel-check --arch all`: the suite inside Linux 5.10 … 7.3 under
//!    QEMU, x86_64 and arm64 guests;
//! 7. `cargo package` of liburing-sys, uring and uring-probe-cli: each published crate
//!    builds from its `.crate` alone, offline;
//! 8. the MSRV (1.85): the published crates build with that toolchain;
//! 9. the README's first command: `uring-probe` runs and completes a NOP.
//!
//! It ends with one line `ci: N passed, M failed, K skipped` summing every libtest run.

use crate::args;
use crate::kernel;
use crate::syslibs;
use crate::util::{self, Result, project_root};
use crate::vendor;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Debian packages the suite needs: libclang for the bindings check, pkg-config for the
/// system-liburing builds, and Debian 12's liburing-dev (2.3), which must be refused.
/// qemu-system-x86 and libc6-dev (static glibc) serve `kernel-check`; the arm64
/// kernel-check adds qemu-system-arm and the aarch64 cross gcc and glibc, and the
/// per-architecture bindings need the arm64 and riscv64 headers; make builds the
/// liburing releases of `syslibs::SOURCE_LIBS` with their own Makefile.
const APT_PACKAGES: &[&str] = &[
    "libclang-dev",
    "pkg-config",
    "liburing-dev",
    "qemu-system-x86",
    "libc6-dev",
    "make",
    "qemu-system-arm",
    "gcc-aarch64-linux-gnu",
    "libc6-dev-arm64-cross",
    "libc6-dev-riscv64-cross",
];

/// Installs whichever of `packages` are missing (as root, with apt-get); without root,
/// fails naming the command to run.
pub fn ensure_apt_packages(packages: &[&str]) -> Result {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !Command::new("dpkg-query")
                .args(["-W", "-f=${Status}", p])
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        eprintln!("installed already: {}", packages.join(" "));
        return Ok(());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if !root {
        return Err(format!(
            "missing Debian packages; install them with: sudo apt-get install {}",
            missing.join(" ")
        ));
    }
    util::run(
        Command::new("apt-get")
            .args(["update", "-q"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

struct Ci {
    totals: Totals,
    failures: Vec<String>,
    keep_going: bool,
}

/// `cargo xtask ci`'s options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// Run every step even after one failed.
    pub keep_going: bool,
    /// Leave out the steps against system liburing builds (Debian's packages and 2.5).
    pub no_system: bool,
}

/// `cargo xtask ci`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "ci",
    synopsis: &["[--keep-going] [--no-system]"],
    summary: "the whole test suite, as .ci/run runs it",
    options: &[
        args::Opt::flag("--keep-going", "run every step even after one failed"),
        args::Opt::flag(
            "--no-system",
            "leave out the steps against Debian's liburing packages\n\
             and liburing 2.5 built from source",
        ),
    ],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        Ok(Options {
            keep_going: m.flag("--keep-going"),
            no_system: m.flag("--no-system"),
        })
    }
}

/// Runs `cargo xtask ci`.
pub fn run(o: Options) -> Result {
    let mut ci = Ci {
        totals: Totals::default(),
        failures: Vec::new(),
        keep_going: o.keep_going,
    };
    frugal_builds();
    sources_and_bindings(&mut ci);
    lints(&mut ci);
    tests(&mut ci);
    if o.no_system {
        eprintln!("== ci: skipping the system-liburing steps (--no-system)");
    } else {
        system_liburing(&mut ci);
        refusals(&mut ci);
    }
    kernel_checks(&mut ci);
    packaging(&mut ci);
    ci.step("README: uring-probe completes a NOP", readme_probe);
    ci.finish()
}

/// Step 1: the packages the suite needs, liburing's source, the bindings of every
/// architecture.
fn sources_and_bindings(ci: &mut Ci) {
    let root = project_root();
    ci.step("apt packages the suite needs", || {
        ensure_apt_packages(APT_PACKAGES)
    });
    ci.step("vendor liburing 2.15", || {
        vendor::run(vendor::Options::default())
    });
    ci.step("bindings are current", || {
        crate::codegen::run(crate::codegen::Options { check: true })
    });
    ci.step(
        "bindings compile for aarch64 and riscv64 (layout assertions)",
        crate::codegen::check_other_arches,
    );
    ci.discard(&root.join("target/ci/cross-check"));
}

/// Step 2: rustfmt, clippy and rustdoc, warnings denied.
fn lints(ci: &mut Ci) {
    let root = project_root();
    ci.step("cargo fmt --check", || {
        util::run(
            util::cargo()
                .current_dir(&root)
                .args(["fmt", "--all", "--", "--check"]),
        )
    });
    // Default features and all of them: code gated by a feature (or by its absence)
    // is linted either way.
    for (name, features) in [
        ("cargo clippy, default features", None),
        ("cargo clippy --all-features", Some("--all-features")),
    ] {
        ci.step(name, || {
            util::run(
                util::cargo()
                    .current_dir(&root)
                    .args(["clippy", "--workspace", "--all-targets", "--quiet"])
                    .args(features)
                    .args(["--", "-D", "warnings"]),
            )
        });
    }
    ci.step("cargo doc, warnings denied", || {
        util::run(
            util::cargo()
                .current_dir(&root)
                .args([
                    "doc",
                    "--workspace",
                    "--no-deps",
                    "--all-features",
                    "--quiet",
                ])
                .env("RUSTDOCFLAGS", "-D warnings"),
        )
    });
}

/// Step 3: the workspace's tests, the same under AddressSanitizer, and the fuzzers.
fn tests(ci: &mut Ci) {
    let root = project_root();
    ci.test_step(
        "tests, vendored liburing 2.15",
        util::cargo()
            .current_dir(&root)
            .args(["test", "--workspace", "--all-features"]),
    );

    // AddressSanitizer over liburing-sys's and uring's tests: the safe layer's hazard
    // tests must not touch freed or out-of-bounds memory. (Deliberate leaks are part of
    // the safety model, so LeakSanitizer is off.)
    let mut asan = Command::new("cargo");
    asan.current_dir(&root)
        .args([
            "+nightly",
            "test",
            "-p",
            "liburing-sys",
            "-p",
            "uring",
            "--features",
            "uring/bytes",
            "--tests",
        ])
        .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
        .arg(root.join("target/ci/asan"))
        .env("RUSTFLAGS", "-Zsanitizer=address")
        .env("ASAN_OPTIONS", "detect_leaks=0:allocator_may_return_null=1")
        .env_remove("CARGO")
        .env_remove("RUSTUP_TOOLCHAIN");
    ci.test_step("tests under AddressSanitizer (nightly)", &mut asan);
    ci.step(
        "model fuzzer under AddressSanitizer, 150 s (nightly)",
        || crate::fuzz::run_model(&["--time".into(), "150".into()], true),
    );
    ci.discard(&root.join("target/ci/asan"));
    ci.step("libFuzzer targets, 20 s each (nightly)", || {
        let targets: Vec<String> = crate::fuzz::TARGETS.iter().map(|t| t.to_string()).collect();
        crate::fuzz::run_libfuzzer(&targets, 20)
    });
    ci.discard(&root.join("uring-fuzz/fuzz/target"));
}

/// Step 4: liburing-sys and uring against system liburing builds: Debian's packages
/// (pkg-config shared and static, `LIBURING_DIR`) and the releases built from source.
fn system_liburing(ci: &mut Ci) {
    ci.step(
        "download Debian's liburing 2.3, 2.9, 2.15; build liburing 2.5 from source",
        || syslibs::fetch_all().map(|_| ()),
    );
    for version in ["2.9", "2.15"] {
        let libdir = syslibs::prefix(version).join("usr/lib/x86_64-linux-gnu");
        let mut cmd = system_cargo(version, "pkgconfig-shared");
        cmd.env("PKG_CONFIG_PATH", syslibs::pkg_config_dir(version))
            .env("LD_LIBRARY_PATH", &libdir);
        ci.test_step(
            &format!(
                "liburing-sys + uring against Debian's liburing {version} (pkg-config, shared)"
            ),
            &mut cmd,
        );
        ci.discard(&system_target_dir(version, "pkgconfig-shared"));

        let mut cmd = system_cargo(version, "pkgconfig-static");
        cmd.env("PKG_CONFIG_PATH", syslibs::pkg_config_dir(version))
            .env("LIBURING_STATIC", "1");
        ci.test_step(
            &format!(
                "liburing-sys + uring against Debian's liburing {version} (pkg-config, static)"
            ),
            &mut cmd,
        );
        ci.discard(&system_target_dir(version, "pkgconfig-static"));
    }
    let mut cmd = system_cargo("2.9", "dir");
    cmd.env("LIBURING_DIR", syslibs::prefix("2.9").join("usr"))
        .env("PKG_CONFIG_PATH", "/nonexistent")
        .env(
            "LD_LIBRARY_PATH",
            syslibs::prefix("2.9").join("usr/lib/x86_64-linux-gnu"),
        );
    ci.test_step(
        "liburing-sys + uring against Debian's liburing 2.9 (LIBURING_DIR)",
        &mut cmd,
    );
    ci.discard(&system_target_dir("2.9", "dir"));
    for (version, krate, krate_version) in syslibs::SOURCE_LIBS {
        let prefix = syslibs::built_prefix(version);
        let mut cmd = system_cargo(version, "dir");
        cmd.env("LIBURING_DIR", &prefix)
            .env("PKG_CONFIG_PATH", "/nonexistent")
            .env("LD_LIBRARY_PATH", prefix.join("lib"));
        ci.test_step(
            &format!(
                "liburing-sys + uring against liburing {version} built from source \
             ({krate} {krate_version}; LIBURING_DIR)"
            ),
            &mut cmd,
        );
        ci.discard(&system_target_dir(version, "dir"));
    }
}

/// Step 5: the builds that must be refused, each with a message naming the fix.
fn refusals(ci: &mut Ci) {
    let root = project_root();
    ci.step("refuse Debian 12's liburing 2.3 (pkg-config)", || {
        expect_build_failure(
            &[("PKG_CONFIG_PATH", syslibs::pkg_config_dir("2.3"))],
            &["found liburing 2.3", "`vendored` feature"],
        )
    });
    ci.step("refuse Debian 12's liburing 2.3 (LIBURING_DIR)", || {
        expect_build_failure(
            &[("LIBURING_DIR", syslibs::prefix("2.3").join("usr"))],
            &["holds liburing 2.3", "`vendored` feature"],
        )
    });
    ci.step(
        "refuse the system-installed liburing-dev (Debian 12: 2.3)",
        || {
            let installed = Command::new("pkg-config")
                .args(["--modversion", "liburing"])
                .output();
            match installed {
                Ok(o) if o.status.success() => {
                    let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    if v.starts_with("2.3") {
                        expect_build_failure(&[], &["found liburing 2.3", "`vendored` feature"])
                    } else {
                        eprintln!("skipped: the system liburing is {v}, not Debian 12's 2.3");
                        Ok(())
                    }
                }
                _ => {
                    eprintln!(
                        "skipped: no system liburing-dev installed (.ci/run installs Debian 12's)"
                    );
                    Ok(())
                }
            }
        },
    );
    ci.step(
        "LIBURING_NO_VENDOR=1 overrides the vendored feature",
        || {
            expect_build_failure(
                &[
                    ("LIBURING_NO_VENDOR", PathBuf::from("1")),
                    ("PKG_CONFIG_PATH", syslibs::pkg_config_dir("2.3")),
                ],
                &["LIBURING_NO_VENDOR is set", "found liburing 2.3"],
            )
        },
    );
    ci.step("refuse when no liburing exists at all", || {
        let empty = root.join("target/ci/empty-pkgconfig");
        std::fs::create_dir_all(&empty).map_err(|e| e.to_string())?;
        expect_build_failure(
            &[
                ("PKG_CONFIG_LIBDIR", empty.clone()),
                ("PKG_CONFIG_PATH", empty),
            ],
            &[
                "liburing-ffi was not found",
                "pkg-config liburing: not found either",
                "`vendored` feature",
            ],
        )
    });
    ci.discard(&root.join("target/ci/refusal"));
    ci.discard(&root.join("target/ci/empty-pkgconfig"));
}

/// Step 6: the suite inside other kernels under QEMU.
fn kernel_checks(ci: &mut Ci) {
    for (name, options) in kernel_check_runs() {
        ci.step(name, || kernel::run(options));
    }
    // The guests' test binaries (both architectures); the kernels stay, they are small
    // next to them and a rerun would download them again.
    ci.discard(&project_root().join("target/kernel-check/build"));
}

/// The kernel-check runs of step 6, x86_64 and arm64 guests in one matrix: first the
/// proof that a failure only an old kernel has is caught, then the default sets
/// (x86_64 5.10 … 7.3, arm64 5.10 6.1 6.12 7.3), then the model fuzzer in the oldest
/// and newest kernels.
fn kernel_check_runs() -> [(&'static str, kernel::Options); 3] {
    let all_arches = kernel::Options {
        arches: kernel::GuestArch::parse("all").expect("`all` names every architecture"),
        ..kernel::Options::default()
    };
    let (oldest, newest) = kernel::oldest_and_newest();
    [
        (
            "kernel-check --selftest (x86_64 and arm64)",
            kernel::Options {
                selftest: true,
                ..all_arches.clone()
            },
        ),
        (
            "kernel-check: the test suite on Linux 5.10 … 7.3, x86_64 and arm64",
            all_arches,
        ),
        (
            "kernel-check: the model fuzzer in the oldest and newest kernels",
            kernel::Options {
                packages: vec!["uring-fuzz".into()],
                fuzz: Some(90),
                test_timeout: Some(200),
                kernels: vec![oldest.into(), newest.into()],
                ..kernel::Options::default()
            },
        ),
    ]
}

/// Steps 5 (a tampered source tree is refused), 7 (the packaged crates) and 8 (the
/// MSRV).
fn packaging(ci: &mut Ci) {
    let root = project_root();
    ci.step(
        "vendor refuses a tree with one byte changed",
        tampered_tree_is_refused,
    );
    ci.discard(&root.join("target/ci/tampered"));
    ci.step(
        "cargo package: liburing-sys, uring and uring-probe-cli each build from their .crate alone, offline",
        package_builds,
    );
    ci.step(
        "a packaged build without the source says which command fixes it",
        missing_source_message,
    );
    ci.discard(&root.join("target/package"));
    ci.discard(&root.join("target/ci/no-source"));
    ci.step(
        "MSRV: the published crates build with Rust 1.85",
        msrv_builds,
    );
    ci.discard(&root.join("target/ci/msrv"));
}

/// The README's first command: `uring-probe` runs and completes a NOP.
fn readme_probe() -> Result {
    let root = project_root();
    let out = util::output(util::cargo().current_dir(&root).args([
        "run",
        "--quiet",
        "--release",
        "-p",
        "uring-probe-cli",
        "--bin",
        "uring-probe",
    ]))?;
    print!("{out}");
    if out.lines().any(|l| l.starts_with("io_uring on Kernel "))
        && out.lines().any(|l| l == "Nop completed with 0")
    {
        Ok(())
    } else {
        Err("uring-probe's output lacks `io_uring on Kernel …` or `Nop completed with 0`".into())
    }
}

impl Ci {
    /// Prints the summary (failed steps, libtest totals); fails if a step did.
    fn finish(self) -> Result {
        let t = &self.totals;
        if self.failures.is_empty() {
            println!("ci: all steps passed");
        } else {
            println!("ci: {} step(s) failed:", self.failures.len());
            for f in &self.failures {
                println!("  - {f}");
            }
        }
        println!(
            "ci: {} passed, {} failed, {} skipped",
            t.passed, t.failed, t.ignored
        );
        if self.failures.is_empty() {
            Ok(())
        } else {
            Err(format!("{} step(s) failed", self.failures.len()))
        }
    }

    fn step(&mut self, name: &str, f: impl FnOnce() -> Result) {
        if !self.failures.is_empty() && !self.keep_going {
            return;
        }
        eprintln!("\n== ci: {name} ({})", disk_free(&project_root()));
        if let Err(e) = f() {
            eprintln!("== ci: FAILED: {name}: {e}");
            self.failures
                .push(format!("{name}: {}", e.lines().next().unwrap_or("")));
        }
    }

    /// Runs a `cargo test`, streaming its output and adding up its libtest summaries.
    fn test_step(&mut self, name: &str, cmd: &mut Command) {
        let mut totals = Totals::default();
        self.step(name, || run_tests(cmd, &mut totals));
        self.totals.passed += totals.passed;
        self.totals.failed += totals.failed;
        self.totals.ignored += totals.ignored;
    }

    /// Removes a directory only CI's own steps build into (a private target dir, an
    /// unpacked crate), saying how much it freed: the whole run must fit on a machine
    /// with a few GiB free, not on the sum of every step's build.
    fn discard(&self, dir: &Path) {
        if !dir.exists() {
            return;
        }
        let before = free_bytes(dir);
        match std::fs::remove_dir_all(dir) {
            Ok(()) => {
                let freed = free_bytes(&project_root()).saturating_sub(before);
                eprintln!("ci: removed {} (freed {} MiB)", dir.display(), freed >> 20);
            }
            Err(e) => eprintln!("ci: could not remove {}: {e}", dir.display()),
        }
    }
}

/// Builds that leave less on disk, for every cargo this run starts (the variables are
/// inherited): no incremental caches (in a debug build they are larger than the build
/// itself, and a clean clone never reuses them) and line tables only as debug info
/// (backtraces keep their file and line).
fn frugal_builds() {
    for (var, value) in [
        ("CARGO_INCREMENTAL", "0"),
        ("CARGO_PROFILE_DEV_DEBUG", "line-tables-only"),
    ] {
        if std::env::var_os(var).is_none() {
            // SAFETY: called at the start of `run`, before this process starts any
            // thread, so nothing reads the environment concurrently.
            unsafe { std::env::set_var(var, value) };
        }
    }
}

/// Bytes free to an unprivileged user on the file system holding `path` (0 if unknown).
fn free_bytes(path: &Path) -> u64 {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return 0;
    };
    // SAFETY: an all-zero statvfs is a valid value of that plain C struct.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return 0;
    }
    st.f_bavail as u64 * st.f_frsize as u64
}

/// `"12.3 GiB free"`, for the step headers (a full disk is the one failure a log must
/// explain at once).
fn disk_free(path: &Path) -> String {
    format!(
        "{:.1} GiB free",
        free_bytes(path) as f64 / (1u64 << 30) as f64
    )
}

fn system_target_dir(version: &str, mode: &str) -> PathBuf {
    project_root().join(format!("target/ci/system-{version}-{mode}"))
}

/// `cargo test` of liburing-sys and uring without `vendored`, in its own target dir.
fn system_cargo(version: &str, mode: &str) -> Command {
    let root = project_root();
    let mut cmd = util::cargo();
    cmd.current_dir(&root)
        .args([
            "test",
            "-p",
            "liburing-sys",
            "-p",
            "uring",
            "--no-default-features",
            "--target-dir",
        ])
        .arg(system_target_dir(version, mode))
        .env("URING_EXPECT_LIBURING_VERSION", version)
        .env_remove("LIBURING_DIR")
        .env_remove("LIBURING_STATIC");
    cmd
}

fn run_tests(cmd: &mut Command, totals: &mut Totals) -> Result {
    eprintln!("+ {}", util::show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", util::show(cmd)))?;
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        println!("{line}");
        if let Some(counts) = parse_libtest_summary(&line) {
            totals.passed += counts.0;
            totals.failed += counts.1;
            totals.ignored += counts.2;
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed: {status}", util::show(cmd)))
    }
}

/// `test result: ok. 7 passed; 0 failed; 1 ignored; …` → (7, 0, 1).
fn parse_libtest_summary(line: &str) -> Option<(u64, u64, u64)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut out = (None, None, None);
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (
            words.next().and_then(|w| w.parse::<u64>().ok()),
            words.next(),
        ) else {
            continue; // "finished in 0.01s"
        };
        match what {
            "passed" => out.0 = Some(n),
            "failed" => out.1 = Some(n),
            "ignored" => out.2 = Some(n),
            _ => {}
        }
    }
    Some((out.0?, out.1?, out.2?))
}

/// Builds liburing-sys without `vendored` under `env`; it must fail, and its output
/// must contain every one of `needles`.
fn expect_build_failure(env: &[(&str, PathBuf)], needles: &[&str]) -> Result {
    let root = project_root();
    let mut cmd = util::cargo();
    cmd.current_dir(&root).args(["build", "-p", "liburing-sys"]);
    // LIBURING_NO_VENDOR must win over the (default) `vendored` feature; every other
    // refusal is of a build that asked for the system copy.
    if !env.iter().any(|(k, _)| *k == "LIBURING_NO_VENDOR") {
        cmd.arg("--no-default-features");
    }
    cmd.arg("--target-dir")
        .arg(root.join("target/ci/refusal"))
        .env_remove("LIBURING_DIR")
        .env_remove("PKG_CONFIG_PATH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    eprintln!("+ {}", util::show(&cmd));
    let out = cmd.output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Err("the build succeeded but must be refused".into());
    }
    let missing: Vec<_> = needles.iter().filter(|n| !text.contains(*n)).collect();
    if !missing.is_empty() {
        return Err(format!("the refusal message lacks {missing:?}:\n{text}"));
    }
    let msg: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("liburing-sys: no usable"))
        .collect();
    eprintln!("refused as expected:\n{}", msg.join("\n"));
    Ok(())
}

fn tampered_tree_is_refused() -> Result {
    let root = project_root();
    let manifest = vendor::manifest()?;
    let tampered = root.join("target/ci/tampered");
    let _ = std::fs::remove_dir_all(&tampered);
    for (_, rel) in &manifest {
        util::write(
            &tampered.join(rel),
            util::read(&vendor::default_dest().join(rel))?,
        )?;
    }
    let victim = tampered.join("src/queue.c");
    let mut bytes = util::read(&victim)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    util::write(&victim, bytes)?;
    let dest = root.join("target/ci/tampered-dest");
    let _ = std::fs::remove_dir_all(&dest);
    match vendor::install(&tampered, &dest, &manifest) {
        Ok(()) => Err("a tree with src/queue.c changed was accepted".into()),
        Err(e)
            if e.contains("src/queue.c: SHA-256 is")
                && e.contains("1 of 30 files wrong")
                && !dest.exists() =>
        {
            eprintln!(
                "refused as expected: {}",
                e.lines().nth(1).unwrap_or(&e).trim()
            );
            Ok(())
        }
        Err(e) => Err(format!(
            "refused, but the message does not name src/queue.c: {e}"
        )),
    }
}

/// The directory `cargo package` unpacked the liburing-sys crate into.
fn packaged_dir() -> Result<PathBuf> {
    let dir = project_root().join("target/package");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("liburing-sys-"))
        })
        .collect();
    found.sort();
    found
        .pop()
        .ok_or_else(|| format!("no liburing-sys-* directory in {}", dir.display()))
}

fn package_builds() -> Result {
    let root = project_root();
    let list = util::output(util::cargo().current_dir(&root).args([
        "package",
        "-p",
        "liburing-sys",
        "--list",
        "--allow-dirty",
    ]))?;
    // Every file of the bindings as checked in: each architecture's index, the parts
    // they all include from common/ and each one's own. (The three indexes are also
    // named below, so that a listing that found no file still fails.)
    let bindings = crate::codegen::checked_in()?;
    for want in [
        "liburing/src/queue.c",
        "liburing/src/ffi.c",
        "liburing/src/include/liburing.h",
        "liburing-2.15.sha256",
        "src/bindings/x86_64.rs",
        "src/bindings/aarch64.rs",
        "src/bindings/riscv64.rs",
    ]
    .into_iter()
    .chain(bindings.iter().map(String::as_str))
    {
        if !list.lines().any(|l| l == want) {
            return Err(format!("`cargo package --list` lacks {want}"));
        }
    }
    // Verification unpacks each .crate and builds it with nothing else around: uring
    // against the packaged liburing-sys, uring-probe-cli against both (cargo overlays
    // the unpublished ones). `--offline`: no network, only what the lock file already
    // fetched.
    util::run(util::cargo().current_dir(&root).args([
        "package",
        "--offline",
        "-p",
        "liburing-sys",
        "-p",
        "uring",
        "-p",
        "uring-probe-cli",
        "--allow-dirty",
    ]))
}

/// The MSRV `Cargo.toml` declares (`rust-version`), checked by building the published
/// crates with exactly that toolchain (installed with rustup when missing).
const MSRV: &str = "1.85";

fn msrv_builds() -> Result {
    let root = project_root();
    let toolchain = format!("+{MSRV}");
    let have = Command::new("rustc")
        .args([toolchain.as_str(), "--version"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let installed = Command::new("rustup")
            .args(["toolchain", "install", MSRV, "--profile", "minimal"])
            .status();
        if !installed.is_ok_and(|s| s.success()) {
            eprintln!(
                "skipped: MSRV build, because rustup could not install Rust {MSRV} here \
                 (clippy's incompatible_msrv lint still checks std APIs against it)"
            );
            return Ok(());
        }
    }
    let mut cmd = Command::new("cargo");
    cmd.current_dir(&root)
        .args([toolchain.as_str(), "build", "--locked", "--all-features"])
        .args(["-p", "liburing-sys", "-p", "uring", "-p", "uring-probe-cli"])
        .arg("--target-dir")
        .arg(root.join("target/ci/msrv"))
        .env_remove("CARGO")
        .env_remove("RUSTUP_TOOLCHAIN");
    util::run(&mut cmd)
}

fn missing_source_message() -> Result {
    let unpacked = packaged_dir()?;
    let copy = project_root().join("target/ci/no-source/liburing-sys");
    let _ = std::fs::remove_dir_all(&copy);
    util::copy_dir(&unpacked, &copy)?;
    std::fs::remove_dir_all(copy.join("liburing")).map_err(|e| e.to_string())?;
    // Its own workspace root, so cargo does not attach it to ours.
    let manifest = copy.join("Cargo.toml");
    let text = String::from_utf8(util::read(&manifest)?).map_err(|e| e.to_string())?;
    util::write(&manifest, format!("{text}\n[workspace]\n"))?;
    let out = util::cargo()
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .map_err(|e| e.to_string())?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Err("a vendored build without the source succeeded".into());
    }
    if !err.contains("cargo xtask vendor") || !err.contains("default-features = false") {
        return Err(format!("the message does not name the fix:\n{err}"));
    }
    eprintln!("refused as expected, naming `cargo xtask vendor`");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// CI's kernel-check runs are the command lines its docs name.
    #[test]
    fn kernel_check_runs_are_these_command_lines() {
        let (oldest, newest) = kernel::oldest_and_newest();
        let lines = [
            "--arch all --selftest".to_string(),
            "--arch all".to_string(),
            format!(
                "--package uring-fuzz --fuzz 90 --test-timeout 200 --kernel {oldest} --kernel {newest}"
            ),
        ];
        for ((_, options), line) in kernel_check_runs().into_iter().zip(lines) {
            assert_eq!(
                options,
                args::tests::parse_ok::<kernel::Options>(&line),
                "{line}"
            );
        }
    }

    #[test]
    fn libtest_summaries_are_counted() {
        assert_eq!(
            parse_libtest_summary(
                "test result: ok. 7 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s"
            ),
            Some((7, 0, 1))
        );
        assert_eq!(
            parse_libtest_summary(
                "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out"
            ),
            Some((3, 2, 0))
        );
        assert_eq!(parse_libtest_summary("test foo ... ok"), None);
        assert_eq!(parse_libtest_summary("test result: garbage"), None);
    }
}
