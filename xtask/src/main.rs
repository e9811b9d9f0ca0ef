//! `cargo xtask`: the project's automation, in Rust so it runs wherever cargo does.
//!
//! | command | what it does |
//! | --- | --- |
//! | `vendor [--from crates-io\|git[=URL]\|DIR] [--force]` | put liburing 2.15's source in `liburing-sys/liburing/`, verified |
//! | `regen-bindings [--check] [--arch A]` | regenerate `liburing-sys/src/bindings/<arch>.rs` (x86_64, aarch64, riscv64) with bindgen, or check they are current |
//! | `system-libs` | download Debian's liburing packages (2.3, 2.9, 2.15) and build liburing 2.5 from source into `target/system-liburing/` |
//! | `fuzz [--seed S] [--time SECONDS] [--asan] \| --libfuzzer` | the model-based fuzzer of `uring::owned`, or the libFuzzer targets |
//! | `ci` | everything `.ci/run` checks, in order |

mod bench;
mod ci;
mod codegen;
mod debian;
mod fuzz;
mod kernel;
mod syslibs;
mod util;
mod vendor;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  vendor [--from crates-io|git[=URL]|DIR] [--dest DIR] [--force]
                         put liburing 2.15's source in liburing-sys/liburing/, every
                         file checked against liburing-sys/liburing-2.15.sha256
  regen-bindings [--check] [--arch x86_64|aarch64|riscv64]
                         regenerate liburing-sys/src/bindings/<arch>.rs, every
                         architecture unless --arch (needs libclang-dev and the other
                         targets' headers: libc6-dev-arm64-cross, libc6-dev-riscv64-cross,
                         or libc6-dev-amd64-cross off x86_64); --check fails if one is stale
  system-libs            download Debian's liburing-dev packages (2.3, 2.9, 2.15) into
                         target/system-liburing/<version>/ (apt-get download, private
                         APT_CONFIG; /etc/apt is not touched), and build liburing 2.5
                         (from crates.io's uring-sys2 0.9.1, checked against
                         xtask/liburing-2.5.sha256) into target/system-liburing/built-2.5/
  bench [--quick] [--runs N] [--filter S,S..] [--instructions]
                         uring vs C liburing 2.15 (same vendored source) and the
                         io-uring crate, monoio and tokio-uring (echo), interleaved
                         runs, medians and ratios; --instructions: callgrind counts
  fuzz [--seed S] [--time SECONDS] [--replay SEED] [--asan]
                         random programs over uring::owned against this kernel, checked
                         against a model; prints programs and actions run, or the seed
                         and a minimised program that broke an invariant
  fuzz --libfuzzer [--time SECONDS] [--target NAME]...
                         the libFuzzer targets of the parsers (nightly, cargo-fuzz)
  ci                     the whole test suite, as .ci/run runs it
  kernel-check [--kernel VERSION|PATH]… [--filter TEST] [--jobs N] [--accel tcg|kvm|auto]
               [--timeout SECS] [--selftest] [--list]
                         run the test suite inside other Linux kernels booted under QEMU
                         and print a kernel × result matrix (--help for every option)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match cmd.as_str() {
        "vendor" => vendor::run(rest),
        "regen-bindings" => codegen::run(rest),
        "system-libs" => syslibs::run(rest),
        "ci" => ci::run(rest),
        "bench" => bench::run(rest),
        "kernel-check" => kernel::run(rest),
        "fuzz" => fuzz::run(rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {cmd}: error: {e}");
            ExitCode::FAILURE
        }
    }
}
