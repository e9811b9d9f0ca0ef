//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! | command | what it does |
//! | --- | --- |
//! | `vendor [--from crates-io\|git[=URL]\|DIR] [--dest DIR] [--force]` | put liburing 2.15's source in `liburing-sys/liburing/`, verified against `liburing-sys/liburing-2.15.sha256` |
//! | `regen-bindings [--check]` | regenerate `liburing-sys/src/bindings/<arch>.rs` for every architecture (x86_64, aarch64, riscv64) with bindgen, and the parts it includes: `bindings/common/` (the items all of them share) and `bindings/<arch>/` (its own); or check they are current |
//! | `system-libs` | download Debian's liburing packages (2.3, 2.9, 2.15) and build liburing 2.5 from source into `target/system-liburing/` |
//! | `kernel-check [--arch A] [--kernel K]… [--filter TEST] [--skip TEST]… [--package P]… [--jobs N] [--accel A] [--timeout SECS] [--test-timeout S] [--threads N] [--smp N] [--memory MIB] [--fuzz SECS] [--selftest] [--list]` | the test suite inside other Linux kernels (x86_64 and arm64 guests) booted under QEMU, and a kernel × result matrix |
//! | `bench [--quick] [--runs N] [--filter S,S..] [--instructions]` | `uring` against C liburing 2.15, the `io-uring` crate, monoio and tokio-uring, interleaved, with ratios; or instructions per operation under callgrind |
//! | `fuzz [--seed S] [--time SECONDS] [--replay SEED] [--programs N] [--max-actions N] [--no-minimize] [--asan]` | the model-based fuzzer of `uring::owned` against this kernel |
//! | `fuzz --libfuzzer [--time SECONDS] [--target NAME]…` | the libFuzzer targets of the parsers (nightly, cargo-fuzz) |
//! | `ci [--keep-going] [--no-system]` | everything `.ci/run` checks, in order |
//!
//! Every command reads its arguments with the one parser of [`args`] (`--name VALUE` or
//! `--name=VALUE`; `-h`/`--help` prints the command's options), and cargo's JSON output
//! with the one reader of [`json`].

mod args;
mod bench;
mod ci;
mod codegen;
mod debian;
mod fuzz;
mod json;
mod kernel;
mod syslibs;
mod util;
mod vendor;

use std::process::ExitCode;

/// Every command, in the order the help lists them.
const COMMANDS: &[&args::Spec] = &[
    &vendor::SPEC,
    &codegen::SPEC,
    &syslibs::SPEC,
    &bench::SPEC,
    &fuzz::SPEC,
    &ci::SPEC,
    &kernel::SPEC,
];

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        eprint!("{}", args::overview(COMMANDS));
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "vendor" => args::run(rest, vendor::run),
        "regen-bindings" => args::run(rest, codegen::run),
        "system-libs" => args::run(rest, syslibs::run),
        "ci" => args::run(rest, ci::run),
        "bench" => args::run(rest, bench::run),
        "kernel-check" => args::run(rest, kernel::run),
        "fuzz" => args::run(rest, fuzz::run),
        "-h" | "--help" | "help" => {
            print!("{}", args::overview(COMMANDS));
            return ExitCode::SUCCESS;
        }
        other => Err(format!(
            "unknown command `{other}`\n\n{}",
            args::overview(COMMANDS)
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use args::tests::{parse_err, parse_ok, reads_every_option};

    /// The crate doc's table, the help's synopses and the specs agree: every option of
    /// every command is in its synopsis and in the table.
    #[test]
    fn every_option_is_documented() {
        let doc: String = include_str!("main.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `"))
            .collect::<Vec<_>>()
            .join("\n");
        for spec in COMMANDS {
            let rows: Vec<&str> = doc
                .lines()
                .filter(|r| {
                    r.starts_with(&format!("{} ", spec.name))
                        || r.starts_with(&format!("{}`", spec.name))
                })
                .collect();
            assert!(!rows.is_empty(), "the crate doc lacks `{}`", spec.name);
            let synopsis = spec.synopsis.join(" ");
            for opt in spec.options {
                let word = |text: &str| {
                    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                        .any(|w| w == opt.name)
                };
                assert!(
                    rows.iter().any(|r| word(r)),
                    "the crate doc's `{}` lacks {}",
                    spec.name,
                    opt.name
                );
                assert!(
                    word(&synopsis),
                    "{}'s synopsis lacks {}",
                    spec.name,
                    opt.name
                );
            }
        }
    }

    #[test]
    fn the_overview_lists_every_command() {
        let o = args::overview(COMMANDS);
        for spec in COMMANDS {
            let head = format!("\n  {}", spec.name);
            assert!(
                o.contains(&format!("{head} ")) || o.contains(&format!("{head}\n")),
                "{o}"
            );
        }
    }

    #[test]
    fn vendor_arguments() {
        reads_every_option::<vendor::Options>("--from crates-io --dest /d --force");
        assert_eq!(parse_ok::<vendor::Options>(""), vendor::Options::default());
        let from = |line: &str| parse_ok::<vendor::Options>(line).source;
        assert_eq!(from("--from crates-io"), vendor::Source::CratesIo);
        assert!(matches!(from("--from git"), vendor::Source::Git(u) if u.contains("axboe")));
        assert_eq!(
            from("--from git=https://x/l.git"),
            vendor::Source::Git("https://x/l.git".into())
        );
        assert_eq!(from("--from=git=/m/l"), vendor::Source::Git("/m/l".into()));
        assert_eq!(from("--from /tmp/l"), vendor::Source::Dir("/tmp/l".into()));
        let o = parse_ok::<vendor::Options>("--dest /tmp/d --force");
        assert_eq!((o.dest.to_str(), o.force), (Some("/tmp/d"), true));
        assert!(parse_err::<vendor::Options>("--from").starts_with("--from needs a value"));
        assert!(parse_err::<vendor::Options>("--check").starts_with("unknown option `--check`"));
    }

    #[test]
    fn regen_bindings_arguments() {
        reads_every_option::<codegen::Options>("--check");
        assert!(parse_ok::<codegen::Options>("--check").check);
        assert!(!parse_ok::<codegen::Options>("").check);
        // Every architecture is always generated.
        let e = parse_err::<codegen::Options>("--arch x86_64");
        assert!(e.starts_with("unknown option `--arch`"), "{e}");
    }

    #[test]
    fn system_libs_arguments() {
        assert_eq!(parse_ok::<syslibs::Options>(""), syslibs::Options);
        let e = parse_err::<syslibs::Options>("2.9");
        assert!(e.starts_with("unexpected argument `2.9`"), "{e}");
    }

    #[test]
    fn bench_arguments() {
        reads_every_option::<bench::Options>("--quick --runs 3 --filter nop --instructions");
        let o = parse_ok::<bench::Options>("");
        assert_eq!(
            (o.quick, o.runs, o.filter, o.instructions),
            (false, 7, None, false)
        );
        let o = parse_ok::<bench::Options>("--quick --runs 3 --filter nop,echo --instructions");
        assert_eq!(
            (o.quick, o.runs, o.filter.as_deref(), o.instructions),
            (true, 3, Some("nop,echo"), true)
        );
        assert!(parse_err::<bench::Options>("--runs 0").contains("positive whole number"));
        assert!(parse_err::<bench::Options>("--runs x").contains("positive whole number"));
    }

    #[test]
    fn fuzz_arguments() {
        reads_every_option::<fuzz::Options>(
            "--seed 1 --time 2 --replay 3 --programs 4 --max-actions 5 --no-minimize --asan \
             --libfuzzer --target probe_parse",
        );
        let o = parse_ok::<fuzz::Options>("--seed 0x10 --time 5 --no-minimize --asan");
        assert_eq!(o.model, ["--seed", "0x10", "--no-minimize"]);
        assert_eq!((o.time, o.asan, o.libfuzzer), (Some(5), true, false));
        let o = parse_ok::<fuzz::Options>(
            "--libfuzzer --target probe_parse --time 9 --target bundle_accounting",
        );
        assert_eq!(o.targets, ["probe_parse", "bundle_accounting"]);
        assert_eq!((o.libfuzzer, o.time), (true, Some(9)));
        assert!(parse_err::<fuzz::Options>("--time soon").contains("whole number of seconds"));
        assert!(parse_err::<fuzz::Options>("--replay").starts_with("--replay needs a value"));
    }

    #[test]
    fn ci_arguments() {
        reads_every_option::<ci::Options>("--keep-going --no-system");
        assert_eq!(parse_ok::<ci::Options>(""), ci::Options::default());
        let o = parse_ok::<ci::Options>("--no-system --keep-going");
        assert!(o.keep_going && o.no_system);
        let e = parse_err::<ci::Options>("--bogus");
        assert!(
            e.starts_with(
                "unknown option `--bogus`\n\nusage: cargo xtask ci [--keep-going] [--no-system]"
            ),
            "{e}"
        );
    }

    #[test]
    fn kernel_check_reads_every_option() {
        reads_every_option::<kernel::Options>(
            "--arch all --kernel 6.1 --filter f --skip s --package uring --jobs 1 --accel tcg \
             --timeout 1 --test-timeout 1 --threads 1 --smp 1 --memory 64 --fuzz 1 --selftest \
             --list",
        );
    }
}
