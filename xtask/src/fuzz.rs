//! `cargo xtask fuzz`: the model-based fuzzer of the safe layer (`uring-fuzz`), and
//! the coverage-guided libFuzzer targets of the parsers (`uring-fuzz/fuzz/`).
//!
//! ```text
//! cargo xtask fuzz [--seed S] [--time SECONDS] [--replay SEED] [--programs N]
//!                  [--max-actions N] [--no-minimize] [--asan]
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

use crate::args;
use crate::util::{self, Result, project_root};

/// The libFuzzer targets in `uring-fuzz/fuzz/fuzz_targets/`.
pub const TARGETS: &[&str] = &[
    "recvmsg_control",
    "recvmsg_multishot",
    "bundle_accounting",
    "probe_parse",
];

/// `cargo xtask fuzz`'s options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// The libFuzzer targets instead of the model fuzzer.
    pub libfuzzer: bool,
    /// Seconds to fuzz (per target for libFuzzer); `None`: 60 (model), 30 (libFuzzer).
    pub time: Option<u64>,
    /// Build the model fuzzer with AddressSanitizer (nightly).
    pub asan: bool,
    /// libFuzzer targets to run; empty: every one of [`TARGETS`].
    pub targets: Vec<String>,
    /// The model fuzzer's own options (`--seed S`, `--replay SEED`, `--programs N`,
    /// `--max-actions N`, `--no-minimize`), passed on as given; `uring-fuzz` reads them.
    pub model: Vec<String>,
}

/// Options `uring-fuzz` itself reads, passed on to it: (name, takes a value).
const MODEL_OPTIONS: &[(&str, bool)] = &[
    ("--seed", true),
    ("--replay", true),
    ("--programs", true),
    ("--max-actions", true),
    ("--no-minimize", false),
];

/// `cargo xtask fuzz`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "fuzz",
    synopsis: &[
        "[--seed S] [--time SECONDS] [--replay SEED] [--programs N] [--max-actions N] \
         [--no-minimize] [--asan]",
        "--libfuzzer [--time SECONDS] [--target NAME]…",
    ],
    summary: "random programs over uring::owned against this kernel, checked\n\
              against a model; prints programs and actions run, or the seed\n\
              and a minimised program that broke an invariant; --libfuzzer:\n\
              the libFuzzer targets of the parsers (nightly, cargo-fuzz)",
    options: &[
        args::Opt::value(
            "--seed",
            "S",
            "program i is generated from seed S + i (default: the\n\
             current time in seconds)",
        ),
        args::Opt::value(
            "--time",
            "SECONDS",
            "how long to fuzz (default 60; --libfuzzer: 30 per target)",
        ),
        args::Opt::value("--replay", "SEED", "run the one program of SEED again"),
        args::Opt::value("--programs", "N", "stop after N programs"),
        args::Opt::value("--max-actions", "N", "actions per program (default 120)"),
        args::Opt::flag("--no-minimize", "print a failing program as it ran"),
        args::Opt::flag(
            "--asan",
            "build with AddressSanitizer (nightly; what CI runs)",
        ),
        args::Opt::flag("--libfuzzer", "the libFuzzer targets (nightly, cargo-fuzz)"),
        args::Opt::repeated(
            "--target",
            "NAME",
            "--libfuzzer: only this target (repeatable); one of\n\
             recvmsg_control, recvmsg_multishot, bundle_accounting,\n\
             probe_parse",
        ),
    ],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        let time = match m.value("--time") {
            None => None,
            Some(t) => Some(
                t.parse()
                    .map_err(|_| format!("--time {t}: expected a whole number of seconds"))?,
            ),
        };
        let mut model = Vec::new();
        for &(name, takes_value) in MODEL_OPTIONS {
            if takes_value {
                if let Some(v) = m.value(name) {
                    model.extend([name.to_string(), v]);
                }
            } else if m.flag(name) {
                model.push(name.to_string());
            }
        }
        Ok(Options {
            libfuzzer: m.flag("--libfuzzer"),
            time,
            asan: m.flag("--asan"),
            targets: m.values("--target"),
            model,
        })
    }
}

/// Runs `cargo xtask fuzz`.
pub fn run(o: Options) -> Result {
    if o.libfuzzer {
        let targets = if o.targets.is_empty() {
            TARGETS.iter().map(|t| t.to_string()).collect()
        } else {
            o.targets
        };
        return run_libfuzzer(&targets, o.time.unwrap_or(30));
    }
    let mut model = o.model;
    if let Some(t) = o.time {
        model.extend(["--time".to_string(), t.to_string()]);
    }
    run_model(&model, o.asan)
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
pub fn run_libfuzzer(targets: &[String], secs: u64) -> Result {
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
