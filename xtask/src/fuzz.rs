//! `cargo xtask fuzz`: the model-based fuzzer of the safe layer (`uring-fuzz`), and
//! the coverage-guided libFuzzer targets of the parsers (`uring-fuzz/fuzz/`).
//!
//! ```text
//! cargo xtask fuzz [--seed S] [--time SECONDS] [--replay SEED] [--asan]
//! cargo xtask fuzz --libfuzzer [--time SECONDS] [--target NAME]…
//! ```
//!
//! The first form runs random programs over `uring::owned` against this kernel for
//! `SECONDS` (default 60) and prints how many programs and actions ran; a failure
//! prints the program's seed, the invariant and a minimised action list, and
//! `--replay SEED` runs that program again. `--asan` builds it with nightly's
//! AddressSanitizer (what CI runs). The second form runs each libFuzzer target
//! (nightly, `cargo fuzz`) for `SECONDS` (default 30).

use std::process::Command;

use crate::util::{self, Result, project_root};

/// The libFuzzer targets in `uring-fuzz/fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &[
    "recvmsg_control",
    "recvmsg_multishot",
    "bundle_accounting",
    "probe_parse",
];

const USAGE: &str = "usage: cargo xtask fuzz [--seed S] [--time SECONDS] [--replay SEED] [--asan]
       cargo xtask fuzz --libfuzzer [--time SECONDS] [--target NAME]...";

pub fn run(args: &[String]) -> Result {
    let mut model_args: Vec<String> = Vec::new();
    let mut asan = false;
    let mut libfuzzer = false;
    let mut time: Option<String> = None;
    let mut targets: Vec<String> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n{USAGE}"))
        };
        match a.as_str() {
            "--seed" | "--replay" | "--programs" | "--max-actions" => {
                let v = value(a)?;
                model_args.extend([a.clone(), v]);
            }
            "--no-minimize" => model_args.push(a.clone()),
            "--time" => time = Some(value("--time")?),
            "--asan" => asan = true,
            "--libfuzzer" => libfuzzer = true,
            "--target" => targets.push(value("--target")?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    if libfuzzer {
        if targets.is_empty() {
            targets = TARGETS.iter().map(|t| t.to_string()).collect();
        }
        let secs = time.unwrap_or_else(|| "30".into());
        return run_libfuzzer(&targets, &secs);
    }
    if let Some(t) = time {
        model_args.extend(["--time".to_string(), t]);
    }
    run_model(&model_args, asan)
}

/// Runs the model fuzzer (`uring-fuzz`), in release mode or under ASan.
pub fn run_model(args: &[String], asan: bool) -> Result {
    let root = project_root();
    let mut cmd = if asan {
        let mut c = Command::new("cargo");
        c.current_dir(&root)
            .args(["+nightly", "run", "-p", "uring-fuzz", "--release"])
            .args(["--target", "x86_64-unknown-linux-gnu", "--target-dir"])
            .arg(root.join("target/ci/asan"))
            .env("RUSTFLAGS", "-Zsanitizer=address")
            // Forgetting rings, guards and futures leaks on purpose.
            .env("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
            .env_remove("CARGO")
            .env_remove("RUSTUP_TOOLCHAIN");
        c
    } else {
        let mut c = util::cargo();
        c.current_dir(&root)
            .args(["run", "--release", "-p", "uring-fuzz"]);
        c
    };
    cmd.arg("--").args(args);
    util::run(&mut cmd)
}

/// Runs each libFuzzer target for `secs` seconds with `cargo +nightly fuzz`,
/// installing cargo-fuzz first if it is missing.
pub fn run_libfuzzer(targets: &[String], secs: &str) -> Result {
    let root = project_root();
    let dir = root.join("uring-fuzz/fuzz");
    for t in targets {
        if !TARGETS.contains(&t.as_str()) {
            return Err(format!(
                "no libFuzzer target `{t}` (known: {})",
                TARGETS.join(", ")
            ));
        }
    }
    ensure_cargo_fuzz()?;
    for t in targets {
        let corpus = root.join("target/fuzz-corpus").join(t);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        util::run(
            Command::new("cargo")
                .current_dir(&dir)
                .args(["+nightly", "fuzz", "run", t])
                .args(["--target", "x86_64-unknown-linux-gnu"])
                .arg(&corpus)
                .arg("--")
                .arg(format!("-max_total_time={secs}"))
                .env_remove("CARGO")
                .env_remove("RUSTUP_TOOLCHAIN"),
        )?;
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result {
    let have = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if have {
        return Ok(());
    }
    util::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}
