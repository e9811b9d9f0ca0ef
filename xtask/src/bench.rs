//! `cargo xtask bench`: `uring` against C liburing (built from the same vendored
//! 2.15 source) and against the Rust peers users would pick instead, measured side
//! by side in one run.
//!
//! Every case runs its contenders interleaved (C, io-uring, uring, C, io-uring,
//! uring…) so that the machine's noise hits them alike, and prints each one's
//! medians with their ratios to C's (above 1 means faster than C; the median of
//! each round's ratio to the C run of that round, with the middle half of those
//! ratios, which says how far one run's ratio can be trusted): operations per
//! second of wall time, as each program measures it, and per second of the CPU
//! time (user and system, from `wait4`) the program (for echo, the server) used,
//! setup included. The second is what a loaded machine disturbs least: time spent
//! waiting for a CPU is not counted. A second table splits that CPU time into user
//! space and kernel per operation, and gives what each contender's user-space time
//! adds to C's as a share of C's whole CPU time per operation: the kernel's own
//! cost per read, and how much room it leaves a binding's code.
//!
//! * NOPs and 4 KiB reads: the C program (`xtask/bench/bench.c`, `-O2`, liburing's
//!   inline helpers and its `io_uring_submit_and_wait`), the `io-uring` crate
//!   (`xtask/bench/peers`, `peer-ring`), `uring`'s raw level
//!   (`uring/benches/ring.rs`) and, for reads, `uring`'s safe layer
//!   (`read-owned`, and on a file the ring holds: `read-owned-held`), the safe
//!   ring of one operation type (`read-typed`: a `TypedRing`), beside the same
//!   owned-buffer loop written by hand on the raw level for that one operation
//!   (`read-hand`: what a safe layer's read costs at least); the typed ring and
//!   the loop by hand also start each read again from the completion loop, with
//!   the buffer of the read that finished (`read-typed-rearm`, `read-hand-rearm`:
//!   no list of free buffers), as the safe layer does on a file it holds
//!   (`read-owned-rearm`). Both safe rings
//!   also read through a direct descriptor they hold (`read-owned-direct`,
//!   `read-typed-direct`: `IOSQE_FIXED_FILE`, no file reference taken by the
//!   kernel per read), beside C reading through a registered file
//!   (`bench read-fixed`), their like-for-like counterpart. Each NOP case also
//!   runs the kernel floor (`bench nop-floor`: entries written once, no user-space
//!   work per NOP but the tail, the enter and the head), the most any binding's
//!   NOP can gain on C's, and a bare loop (`bench nop-bare`: each entry written
//!   and each result read in place, no library call), the most a binding that
//!   builds its entries can gain.
//! * Echo: servers, one thread each, written the way each project's own examples
//!   write them: C liburing (`xtask/bench/echo.c`), `monoio` and `tokio-uring`
//!   (`peer-echo`), `uring/examples/echo_server.rs` and, for the async layer,
//!   `uring/examples/tokio_echo.rs`, each driven by the same C
//!   load generator (`echo client`: one epoll thread, ping-pong round trips), so
//!   that only the server differs.
//!
//! The peers live in `xtask/bench/peers`, a workspace of its own (not a member of
//! the project's): they are built here, with `--release --locked`, and nothing
//! else builds them, so the `uring` library's dependency tree does not grow.
//!
//! `--instructions` counts user-space instructions per operation under valgrind's
//! callgrind, which is deterministic where wall time is not: NOPs at batch 1 and
//! 32, raw 4 KiB reads at QD 32 (C, io-uring, uring) and the safe layer's reads
//! (taken with `completions` and with `completions_of`, on a file the ring
//! holds, and on a direct descriptor it holds), a `TypedRing`'s (on a held file
//! and a held direct descriptor), beside the hand-written owned-buffer loop's, all on
//! `SINGLE_ISSUER | DEFER_TASKRUN` rings.

use crate::args;
use crate::codegen::recipe;
use crate::json;
use crate::util::{self, Result, project_root};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The programs a run compares.
struct Programs {
    /// `bench.c`.
    c: PathBuf,
    /// `uring/benches/ring.rs`.
    rust: PathBuf,
    /// `peer-ring` (the `io-uring` crate) and `peer-echo` (monoio, tokio-uring).
    peer_ring: PathBuf,
    peer_echo: PathBuf,
}

/// The echo case's C server (which is also the load generator) and uring's.
struct Echo {
    /// `echo.c`: `server` and `client` modes.
    c: PathBuf,
    /// `uring/examples/echo_server.rs`, release build.
    rust: PathBuf,
    /// `uring/examples/tokio_echo.rs` (the async layer on tokio), release build.
    rust_async: PathBuf,
}

/// One contender of a case.
struct Contender {
    name: &'static str,
    how: How,
}

enum How {
    /// A benchmark program and its arguments; it prints `ops_per_sec`.
    Bench(PathBuf, Vec<String>),
    /// An echo server and its arguments, driven by the load generator.
    Echo(PathBuf, Vec<String>),
}

struct Case {
    name: String,
    /// Operations per run: NOPs, reads, or round trips (all connections').
    ops: u64,
    contenders: Vec<Contender>,
    /// Echo cases: the load generator's arguments after the server's address.
    client_args: Vec<String>,
}

/// Whether case `name` is selected by `--filter`: it contains one of the
/// filter's comma-separated parts (every case without a filter).
fn matches(filter: Option<&str>, name: &str) -> bool {
    filter.is_none_or(|f| f.split(',').any(|part| name.contains(part)))
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// `cargo xtask bench`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Fewer operations per run, at most 5 runs.
    pub quick: bool,
    /// Interleaved runs per contender (default 7).
    pub runs: usize,
    /// Only the cases whose name contains one of these comma-separated parts.
    pub filter: Option<String>,
    /// Count instructions per operation under callgrind instead of timing.
    pub instructions: bool,
}

/// `cargo xtask bench`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "bench",
    synopsis: &["[--quick] [--runs N] [--filter S,S..] [--instructions]"],
    summary: "uring vs C liburing 2.15 (same vendored source) and the\n\
              io-uring crate, monoio and tokio-uring (echo), interleaved\n\
              runs, medians and ratios; --instructions: callgrind counts",
    options: &[
        args::Opt::flag("--quick", "fewer operations per run, at most 5 runs"),
        args::Opt::value("--runs", "N", "interleaved runs per contender (default 7)"),
        args::Opt::value(
            "--filter",
            "S,S..",
            "only the cases whose name contains one of the parts\n\
             (`nop batch=1`, `read`, `echo 64B`, …)",
        ),
        args::Opt::flag(
            "--instructions",
            "user-space instructions per operation under valgrind's\n\
             callgrind (deterministic where wall time is not)",
        ),
    ],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        Ok(Options {
            quick: m.flag("--quick"),
            runs: m.positive("--runs")?.unwrap_or(7),
            filter: m.value("--filter"),
            instructions: m.flag("--instructions"),
        })
    }
}

/// Runs `cargo xtask bench`.
pub fn run(o: Options) -> Result {
    let runs = if o.quick { o.runs.min(5) } else { o.runs };
    let filter = o.filter.as_deref();
    let progs = build()?;
    if o.instructions {
        return count_instructions(&progs, &data_file()?, filter);
    }
    let mut cases = nop_cases(&progs, o.quick);
    cases.extend(read_cases(&progs, o.quick, &data_file()?));
    cases.extend(echo_cases(o.quick));
    cases.retain(|c| matches(filter, &c.name));
    // Built only when an echo case runs.
    let is_echo = |c: &Case| c.name.starts_with("echo");
    if cases.iter().any(is_echo) {
        let echo = build_echo()?;
        for case in cases.iter_mut().filter(|c| is_echo(c)) {
            case.contenders = echo_servers(&echo, &progs);
        }
        run_cases(&cases, runs, Some(&echo.c))?;
    } else {
        run_cases(&cases, runs, None)?;
    }
    println!(
        "(medians of {runs} interleaved runs each, higher is faster; x C = the median of each round's \
         rate / C liburing 2.15's in that round, with the middle half of those ratios. \
         ops/s: wall time, as each program measures it; ops/cpu-s: per second of CPU time, user \
         and system, the program (echo: the server) used, which waiting for a CPU on a loaded \
         machine does not inflate. user and kernel ns/op: that CPU time split as the kernel \
         accounts it, means over the runs (the kernel samples it at its tick: a few samples \
         a run, so rough); user - C's %: the contender's user ns/op less C's, as a share of \
         C's CPU ns/op: what its own code costs beyond C's, which a rate x C of about \
         1/(1 + share) reflects)"
    );
    Ok(())
}

/// A NOP or read case run by the benchmark programs with `args` (`ops` operations):
/// C liburing, the io-uring crate when `peer`, uring's raw level, and each of
/// `more`: a contender's name and the Rust benchmark's workload for it (`nop-owned`,
/// `read-owned`, `read-hand`; the same arguments otherwise).
fn program_case(
    progs: &Programs,
    name: String,
    ops: u64,
    args: Vec<String>,
    peer: bool,
    more: &[(&'static str, &str)],
) -> Case {
    let bench = |name, bin: &Path, args: &[String]| Contender {
        name,
        how: How::Bench(bin.to_path_buf(), args.to_vec()),
    };
    let mut contenders = vec![bench("C liburing", &progs.c, &args)];
    if peer {
        contenders.push(bench("io-uring", &progs.peer_ring, &args));
    }
    contenders.push(bench("uring raw", &progs.rust, &args));
    for &(name, workload) in more {
        let mut more_args = args.clone();
        more_args[0] = workload.to_string();
        contenders.push(bench(name, &progs.rust, &more_args));
    }
    Case {
        name,
        ops,
        contenders,
        client_args: Vec::new(),
    }
}

/// NOPs at batch 1, 8, 32 and 128 on default and `DEFER_TASKRUN` rings, beside
/// the C program's `nop-floor` (no user-space work per NOP but the kernel's
/// needs: the most any binding can gain on C) and `nop-bare` (each entry
/// written and each result read by a bare loop, no library: the most a
/// binding that builds its entries can gain); and at batch 1
/// through the safe layer (`nop-owned`), plainly and entering through a registered ring
/// descriptor (`regfd`, IORING_REGISTER_RING_FDS) on every side that has it (the
/// io-uring peer has no such mode).
fn nop_cases(progs: &Programs, quick: bool) -> Vec<Case> {
    let nop_ops: u64 = if quick { 200_000 } else { 1_000_000 };
    let args = |batch: u32, mode: &str, ops: u64| {
        strings(&["nop", &batch.to_string(), mode, &ops.to_string()])
    };
    let mut cases = Vec::new();
    for mode in ["default", "defer"] {
        for batch in [1u32, 8, 32, 128] {
            // Batch 1 does far fewer NOPs per second: fewer ops keep its runs short.
            let ops = if batch == 1 { nop_ops / 4 } else { nop_ops };
            let name = format!("nop batch={batch} {mode}");
            let mut case = program_case(progs, name, ops, args(batch, mode, ops), true, &[]);
            // What the kernel alone costs: the most a binding's NOP can gain on C's.
            let mut floor = args(batch, mode, ops);
            floor[0] = "nop-floor".to_string();
            case.contenders.push(Contender {
                name: "kernel floor",
                how: How::Bench(progs.c.clone(), floor),
            });
            // A bare loop: each entry written and each result read, no library.
            let mut bare = args(batch, mode, ops);
            bare[0] = "nop-bare".to_string();
            case.contenders.push(Contender {
                name: "bare loop",
                how: How::Bench(progs.c.clone(), bare),
            });
            cases.push(case);
        }
    }
    for mode in ["default", "regfd"] {
        let ops = nop_ops / 4;
        let name = format!("nop batch=1 owned {mode}");
        let args = args(1, mode, ops);
        cases.push(program_case(
            progs,
            name,
            ops,
            args,
            false,
            &[("uring owned", "nop-owned")],
        ));
    }
    cases
}

/// 4 KiB reads of `data` at QD 32, default and `DEFER_TASKRUN` rings; the safe layer
/// against the same C program, each read owning its buffer; and the same
/// owned-buffer loop written by hand on the raw level for this one operation
/// (`read-hand`), what a safe layer's read costs at least; the safe layer
/// naming the file as one the ring holds (`read-owned-held`: no atomics per read),
/// and as a direct descriptor it holds (`read-owned-direct`, beside C reading
/// through a registered file, `read-fixed`: no file reference per read in the kernel);
/// and the safe ring of one operation type (`read-typed`: a `TypedRing`, its
/// reads queued through one batch per pass, the file held; `read-typed-rearm`:
/// each read started again from the completion loop with the buffer of the one
/// that finished, beside the same by hand, `read-hand-rearm`, and through the
/// safe layer, `read-owned-rearm`).
fn read_cases(progs: &Programs, quick: bool, data: &Path) -> Vec<Case> {
    let ops: u64 = if quick { 50_000 } else { 300_000 };
    let data = data.display().to_string();
    let mut cases = Vec::new();
    for mode in ["default", "defer"] {
        let args = strings(&["read", "32", mode, &ops.to_string(), &data]);
        let name = format!("read 4KiB qd=32 {mode}");
        let mut fixed = args.clone();
        fixed[0] = "read-fixed".to_string();
        let mut case = program_case(
            progs,
            name,
            ops,
            args,
            true,
            &[
                ("uring owned", "read-owned"),
                ("owned held", "read-owned-held"),
                ("owned direct", "read-owned-direct"),
                ("owned rearm", "read-owned-rearm"),
                ("typed ring", "read-typed"),
                ("typed direct", "read-typed-direct"),
                ("typed rearm", "read-typed-rearm"),
                ("by hand", "read-hand"),
                ("hand rearm", "read-hand-rearm"),
            ],
        );
        // C through a registered file: what `owned direct` is to be weighed
        // against (both spare the kernel its file reference per read).
        case.contenders.insert(
            1,
            Contender {
                name: "C fixed file",
                how: How::Bench(progs.c.clone(), fixed),
            },
        );
        cases.push(case);
    }
    cases
}

/// Echo cases: 16 connections ping-ponging 64 B and 4 KiB messages; their servers
/// are [`echo_servers`], built only when an echo case is selected.
/// Connections of every echo case.
const ECHO_CONNS: u32 = 16;

fn echo_cases(quick: bool) -> Vec<Case> {
    let conns = ECHO_CONNS;
    let mut cases = Vec::new();
    for (size, trips) in [(64u32, 20_000u64), (4096, 10_000)] {
        let trips = if quick { trips / 4 } else { trips };
        cases.push(Case {
            name: format!("echo {size}B conns={conns}"),
            ops: conns as u64 * trips,
            contenders: Vec::new(),
            client_args: vec![conns.to_string(), size.to_string(), trips.to_string()],
        });
    }
    cases
}

/// The echo servers: C liburing (as liburing's examples set rings up, and with
/// `DEFER_TASKRUN`), monoio, tokio-uring and uring's example (which defers task work
/// where the kernel has it, as it does by default, and without: `no-defer`); the
/// same example entering through a registered ring descriptor, and with one ring per
/// thread (SO_REUSEPORT) on two threads; and `tokio_echo`, the async layer on tokio,
/// like monoio's and tokio-uring's servers a task per connection (it exits once
/// its [`ECHO_CONNS`] connections have closed).
fn echo_servers(echo: &Echo, progs: &Programs) -> Vec<Contender> {
    let server = |name, bin: &Path, args: &[&str]| Contender {
        name,
        how: How::Echo(bin.to_path_buf(), strings(args)),
    };
    vec![
        server("C liburing", &echo.c, &["server"]),
        server("C defer", &echo.c, &["server", "--defer-taskrun"]),
        server("monoio", &progs.peer_echo, &["monoio"]),
        server("tokio-uring", &progs.peer_echo, &["tokio-uring"]),
        server("uring (safe)", &echo.rust, &[]),
        server("uring no-defer", &echo.rust, &["--no-defer-taskrun"]),
        server("uring regfd", &echo.rust, &["--register-ring-fd"]),
        server("uring 2 rings", &echo.rust, &["--threads", "2"]),
        server("uring async", &echo.rust_async, &[&ECHO_CONNS.to_string()]),
    ]
}

/// Runs every case's contenders interleaved, `runs` times after one warm-up
/// each, and prints their medians, and their ratios to C's: the median of each
/// round's ratio (a contender against the C run just before it, so that a drift
/// of the machine's speed between rounds cancels out) and the middle half of
/// those ratios, for how far one run's ratio can be trusted.
fn run_cases(cases: &[Case], runs: usize, client: Option<&Path>) -> Result {
    println!(
        "{:<24} {:<14} {:>11} {:>6} {:>13} {:>11} {:>6} {:>13}",
        "case", "contender", "ops/s", "x C", "(middle half)", "ops/cpu-s", "x C", "(middle half)"
    );
    // The CPU-time split, printed after the rates.
    let mut split = Vec::new();
    for case in cases {
        let once = |c: &Contender| -> Result<Measured> {
            match &c.how {
                How::Bench(bin, args) => measure(bin, args, case.ops),
                How::Echo(server, args) => {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let client = client.ok_or("an echo case without the load generator")?;
                    measure_echo(server, &args, client, &case.client_args, case.ops)
                }
            }
        };
        for c in &case.contenders {
            once(c)?;
        }
        let mut got: Vec<Vec<Measured>> = vec![Vec::new(); case.contenders.len()];
        for _ in 0..runs {
            for (c, v) in case.contenders.iter().zip(got.iter_mut()) {
                v.push(once(c)?);
            }
        }
        for (c, v) in case.contenders.iter().zip(&got) {
            let wall = paired(v, &got[0], |m| m.wall);
            let cpu = paired(v, &got[0], |m| m.cpu);
            println!(
                "{:<24} {:<14} {:>11.0} {:>6.3} {:>13} {:>11.0} {:>6.3} {:>13}",
                case.name,
                c.name,
                wall.median,
                wall.ratio,
                spread(wall.quartiles),
                cpu.median,
                cpu.ratio,
                spread(cpu.quartiles),
            );
            let s = split_of(v, &got[0]);
            split.push(format!(
                "{:<24} {:<14} {:>11.1} {:>12.1} {:>+13.1}",
                case.name, c.name, s.user_ns, s.system_ns, s.beyond_c_percent,
            ));
        }
    }
    println!(
        "\n{:<24} {:<14} {:>11} {:>12} {:>13}",
        "case", "contender", "user ns/op", "kernel ns/op", "user - C's %"
    );
    for line in split {
        println!("{line}");
    }
    Ok(())
}

/// One contender's CPU time per operation, split, over its runs.
struct Split {
    /// Mean user-space nanoseconds per operation.
    user_ns: f64,
    /// Mean kernel nanoseconds per operation.
    system_ns: f64,
    /// Its mean user time less C's, as a percentage of C's mean CPU time
    /// (user and kernel) per operation.
    beyond_c_percent: f64,
}

/// The split of `runs` against the C runs `c`. Means, not medians: the kernel
/// samples the split at its tick, a few times per run, so one run's figure is a
/// whole number of ticks; the mean over the runs is the total over all of them.
fn split_of(runs: &[Measured], c: &[Measured]) -> Split {
    let mean = |runs: &[Measured], f: fn(&Measured) -> f64| {
        runs.iter().map(f).sum::<f64>() / runs.len() as f64
    };
    let user_ns = mean(runs, |m| m.user_ns);
    let c_user = mean(c, |m| m.user_ns);
    let c_cpu = c_user + mean(c, |m| m.system_ns);
    Split {
        user_ns,
        system_ns: mean(runs, |m| m.system_ns),
        beyond_c_percent: 100.0 * (user_ns - c_user) / c_cpu,
    }
}

/// One contender's rates against C's, run by run.
struct Paired {
    /// The median rate.
    median: f64,
    /// The median of the runs' ratios to C's run of the same round.
    ratio: f64,
    /// The first and third quartiles of those ratios.
    quartiles: (f64, f64),
}

/// `runs`' rates (by `rate`) against the C runs `c` of the same rounds.
fn paired(runs: &[Measured], c: &[Measured], rate: impl Fn(&Measured) -> f64) -> Paired {
    let mut rates: Vec<f64> = runs.iter().map(&rate).collect();
    let mut ratios: Vec<f64> = runs.iter().zip(c).map(|(m, c)| rate(m) / rate(c)).collect();
    Paired {
        median: median(&mut rates),
        ratio: median(&mut ratios),
        quartiles: quartiles(&mut ratios),
    }
}

/// The first and third quartiles of `v` (the medians of its sorted halves), or
/// its only value twice. Sorts `v`.
fn quartiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    let sorted = &*v;
    let n = sorted.len();
    if n < 2 {
        let v = sorted.first().copied().unwrap_or(f64::NAN);
        return (v, v);
    }
    let mut low = sorted[..n / 2].to_vec();
    let mut high = sorted[n.div_ceil(2)..].to_vec();
    (median(&mut low), median(&mut high))
}

fn spread((q1, q3): (f64, f64)) -> String {
    format!("{q1:.3}-{q3:.3}")
}

/// Builds the C program against the vendored liburing, the Rust benchmark, and
/// the peers.
fn build() -> Result<Programs> {
    let root = project_root();
    let out = root.join("target/bench");
    let include = out.join("include");
    crate::vendor::verify(&crate::vendor::default_dest(), &crate::vendor::manifest()?)
        .map_err(|e| format!("{e}\n(run `cargo xtask vendor` first)"))?;
    crate::codegen::assemble_include(&include)?;
    let src = crate::vendor::default_dest().join("src");
    let mut objs = Vec::new();
    // liburing's library as liburing-sys's build compiles it (the same recipe).
    for f in recipe::LIB_SOURCES {
        let obj = out.join(f.replace(".c", ".o"));
        util::run(
            Command::new("cc")
                .arg("-c")
                .args(recipe::LIB_FLAGS)
                .args(recipe::define_args(recipe::HEADER_DEFINES))
                .args(recipe::define_args(recipe::LIB_DEFINES))
                .arg(format!("-I{}", include.display()))
                .arg(format!("-I{}", src.display()))
                .arg(src.join(f))
                .arg("-o")
                .arg(&obj),
        )?;
        objs.push(obj);
    }
    let c_bin = out.join("bench-c");
    util::run(
        Command::new("cc")
            .args(["-O2", "-g"])
            .args(recipe::define_args(recipe::HEADER_DEFINES))
            .arg(format!("-I{}", include.display()))
            .arg(root.join("xtask/bench/bench.c"))
            .args(&objs)
            .arg("-o")
            .arg(&c_bin),
    )?;

    let messages = util::output(util::cargo().current_dir(&root).args([
        "bench",
        "-p",
        "uring",
        "--bench",
        "ring",
        "--no-run",
        "--message-format=json",
    ]))?;
    let rust_bin = json::artifact_executable(&messages, "ring")?
        .ok_or("cargo bench --no-run did not report the `ring` benchmark's executable")?;

    // The peers: a workspace of their own, built into a target directory of their
    // own, with the versions their lock file pins.
    let peers_target = root.join("target/bench-peers");
    util::run(
        util::cargo()
            .current_dir(&root)
            .args(["build", "--release", "--locked", "--manifest-path"])
            .arg(root.join("xtask/bench/peers/Cargo.toml"))
            .arg("--target-dir")
            .arg(&peers_target),
    )?;
    let release = peers_target.join("release");
    Ok(Programs {
        c: c_bin,
        rust: rust_bin,
        peer_ring: release.join("peer-ring"),
        peer_echo: release.join("peer-echo"),
    })
}

/// Builds `xtask/bench/echo.c` against the vendored liburing (whose objects
/// [`build`] compiled) and `uring`'s `echo_server` and `tokio_echo` examples with
/// `--release`.
fn build_echo() -> Result<Echo> {
    let root = project_root();
    let out = root.join("target/bench");
    let objs: Vec<PathBuf> = recipe::LIB_SOURCES
        .iter()
        .map(|f| out.join(f.replace(".c", ".o")))
        .collect();
    let c = out.join("echo-c");
    util::run(
        Command::new("cc")
            .args(["-O2", "-g"])
            .args(recipe::define_args(recipe::HEADER_DEFINES))
            .arg(format!("-I{}", out.join("include").display()))
            .arg(root.join("xtask/bench/echo.c"))
            .args(&objs)
            .arg("-o")
            .arg(&c),
    )?;
    let messages = util::output(util::cargo().current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "uring",
        "--example",
        "echo_server",
        "--message-format=json",
    ]))?;
    let rust = json::artifact_executable(&messages, "echo_server")?
        .ok_or("cargo build did not report the `echo_server` example's executable")?;
    let messages = util::output(util::cargo().current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "uring",
        "--features",
        "tokio",
        "--example",
        "tokio_echo",
        "--message-format=json",
    ]))?;
    let rust_async = json::artifact_executable(&messages, "tokio_echo")?
        .ok_or("cargo build did not report the `tokio_echo` example's executable")?;
    Ok(Echo {
        c,
        rust,
        rust_async,
    })
}

/// A server started by [`measure_echo`], killed if the measurement fails.
struct ServerGuard(Child, bool);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        // Once reaped by `wait_with_cpu` (the bool), its pid is no longer ours.
        if !self.1 && self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The CPU time a process used, in seconds.
#[derive(Clone, Copy)]
struct Cpu {
    /// In user space.
    user: f64,
    /// In the kernel, on its behalf.
    system: f64,
}

/// Waits for `child` to exit (reaping it: do not wait for it again), returning its
/// status and the CPU time it used.
fn wait_with_cpu(child: &Child) -> Result<(std::process::ExitStatus, Cpu)> {
    use std::os::unix::process::ExitStatusExt as _;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain integers; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; status and ru are valid for
        // writes.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("wait4({pid}): {err}"));
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        std::process::ExitStatus::from_raw(status),
        Cpu {
            user: secs(ru.ru_utime),
            system: secs(ru.ru_stime),
        },
    ))
}

/// Starts echo server `server` (with `args`), reads the address from its first line,
/// runs `echo client ADDR <client_args>` against it, then closes the server's stdin
/// (its signal to exit) and checks that it exited with status 0. Returns the
/// client's round trips per second, and the round trips per second of CPU time
/// the server used (`ops` round trips in all).
fn measure_echo(
    server: &Path,
    args: &[&str],
    client: &Path,
    client_args: &[String],
    ops: u64,
) -> Result<Measured> {
    let child = Command::new(server)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
    let mut guard = ServerGuard(child, false);
    let mut line = String::new();
    let stdout = guard.0.stdout.take().ok_or("no server stdout")?;
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("{}: {e}", server.display()))?;
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .ok_or_else(|| {
            let mut err = String::new();
            if let Some(mut e) = guard.0.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            format!(
                "{} printed {line:?} instead of `listening on ADDR`: {err}",
                server.display()
            )
        })?
        .to_string();
    let out = util::output(
        Command::new(client)
            .arg("client")
            .arg(&addr)
            .args(client_args),
    )?;
    drop(guard.0.stdin.take());
    // stderr is read after the exit: the servers write a line or two at most.
    let (status, cpu) = wait_with_cpu(&guard.0)?;
    guard.1 = true;
    let mut err = String::new();
    if let Some(mut e) = guard.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(format!("{} exited with {status}: {err}", server.display()));
    }
    let wall = ops_per_sec(&out, client)?;
    Ok(Measured::new(wall, ops, cpu))
}

/// A 256 MiB file of pseudo-random bytes, read once so it sits in the page cache.
fn data_file() -> Result<PathBuf> {
    let path = project_root().join("target/bench/read-256MiB.dat");
    const SIZE: usize = 256 << 20;
    if std::fs::metadata(&path).map(|m| m.len() as usize).ok() != Some(SIZE) {
        let mut data = vec![0u8; SIZE];
        let mut s = 0x2545_f491_4f6c_dd1du64;
        for chunk in data.chunks_exact_mut(8) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            chunk.copy_from_slice(&s.to_le_bytes());
        }
        util::write(&path, data)?;
    }
    // Pull it into the page cache.
    let _ = util::read(&path)?;
    Ok(path)
}

/// One run's two rates.
#[derive(Clone, Copy)]
struct Measured {
    /// Operations per second of wall time, as the program measured them.
    wall: f64,
    /// Operations per second of CPU time (user and system) the measured process
    /// used, setup included: what a loaded machine disturbs least, since time
    /// spent waiting for a CPU is not counted.
    cpu: f64,
    /// Nanoseconds of user-space CPU time per operation, setup included.
    user_ns: f64,
    /// Nanoseconds of the kernel's CPU time per operation, on the process's
    /// behalf: for a read, what the kernel itself costs per read.
    system_ns: f64,
}

impl Measured {
    /// `ops` operations at `wall` per second, in `cpu`.
    fn new(wall: f64, ops: u64, cpu: Cpu) -> Measured {
        let ops = ops as f64;
        Measured {
            wall,
            cpu: ops / (cpu.user + cpu.system),
            user_ns: cpu.user * 1e9 / ops,
            system_ns: cpu.system * 1e9 / ops,
        }
    }
}

/// Runs benchmark `bin` with `args` (`ops` operations).
fn measure(bin: &Path, args: &[String], ops: u64) -> Result<Measured> {
    let mut child = Command::new(bin)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let (status, cpu) = wait_with_cpu(&child)?;
    if !status.success() {
        return Err(format!(
            "{} {args:?} failed: {status}\n{err}",
            bin.display()
        ));
    }
    let wall = ops_per_sec(&out, bin)?;
    Ok(Measured::new(wall, ops, cpu))
}

/// The `ops_per_sec N` line every benchmark program and the load generator print.
fn ops_per_sec(out: &str, program: &Path) -> Result<f64> {
    out.lines()
        .find_map(|l| l.strip_prefix("ops_per_sec ")?.trim().parse().ok())
        .ok_or_else(|| format!("{} printed no `ops_per_sec`: {out}", program.display()))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// A counted case: its name, the workload's arguments before the operation count,
/// the Rust benchmark's first argument when it differs (`read-owned`), and the two
/// run lengths.
type CountCase = (&'static str, Vec<String>, Option<&'static str>, (u64, u64));

/// User-space instructions per operation (SINGLE_ISSUER|DEFER_TASKRUN), each
/// the difference between two run lengths divided by the difference in
/// operations, so that setup and teardown cancel out.
fn count_instructions(progs: &Programs, data: &Path, filter: Option<&str>) -> Result {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Err("valgrind is not installed (apt-get install valgrind)".into());
    }
    let data = data.display().to_string();
    let nop = |name, batch: &str| -> CountCase {
        (
            name,
            strings(&["nop", batch, "defer"]),
            None,
            (20_000, 60_000),
        )
    };
    // The raw read (no Rust mode: `read`), or the Rust benchmark's `mode` of it.
    let read = |name, mode| -> CountCase {
        (
            name,
            strings(&["read", "32", "defer"]),
            mode,
            (4_000, 12_000),
        )
    };
    let cases: Vec<CountCase> = vec![
        nop("NOP batch=1", "1"),
        nop("NOP batch=32", "32"),
        read("read 4KiB qd=32 raw", None),
        read("read 4KiB qd=32 owned", Some("read-owned")),
        read("read 4KiB qd=32 of", Some("read-owned-of")),
        read("read 4KiB qd=32 held", Some("read-owned-held")),
        read("read 4KiB qd=32 typed", Some("read-typed")),
        read("read 4KiB qd=32 direct", Some("read-owned-direct")),
        read("read 4KiB qd=32 owned rearm", Some("read-owned-rearm")),
        read("read 4KiB qd=32 typed dir", Some("read-typed-direct")),
        read("read 4KiB qd=32 typed rearm", Some("read-typed-rearm")),
        read("read 4KiB qd=32 by hand", Some("read-hand")),
        read("read 4KiB qd=32 hand rearm", Some("read-hand-rearm")),
    ];
    println!(
        "{:<27} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "instructions per op", "C", "io-uring", "uring", "uring/C", "io-uring/C"
    );
    let mut c_counted: Vec<(Vec<String>, f64)> = Vec::new();
    for (name, args, rust_mode, (small, large)) in cases {
        if !matches(filter, name) {
            continue;
        }
        let per_op = |bin: &Path, first: Option<&str>| -> Result<f64> {
            let mut a = args.clone();
            if let Some(m) = first {
                a[0] = m.to_string();
            }
            let with_ops = |ops: u64| {
                let mut v = a.clone();
                v.push(ops.to_string());
                if v[0].starts_with("read") {
                    v.push(data.clone());
                }
                v
            };
            let x = callgrind_total(bin, &with_ops(small))?;
            let y = callgrind_total(bin, &with_ops(large))?;
            Ok((y as f64 - x as f64) / (large - small) as f64)
        };
        // C's figure for these arguments, counted once.
        let c = match c_counted.iter().find(|(a, _)| *a == args) {
            Some(&(_, c)) => c,
            None => {
                let c = per_op(&progs.c, None)?;
                c_counted.push((args.clone(), c));
                c
            }
        };
        let r = per_op(&progs.rust, rust_mode)?;
        if rust_mode.is_some() {
            // The safe layer has no io-uring counterpart: beside the raw figures.
            println!(
                "{:<27} {:>10.1} {:>10} {:>10.1} {:>9.3} {:>9}",
                name,
                c,
                "-",
                r,
                r / c,
                "-"
            );
        } else {
            let p = per_op(&progs.peer_ring, None)?;
            println!(
                "{:<27} {:>10.1} {:>10.1} {:>10.1} {:>9.3} {:>9.3}",
                name,
                c,
                p,
                r,
                r / c,
                p / c
            );
        }
    }
    println!("(user-space instructions per operation, callgrind; lower is fewer)");
    Ok(())
}

fn callgrind_total(bin: &Path, args: &[String]) -> Result<u64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(bin)
        .args(args)
        .output()
        .map_err(|e| format!("valgrind: {e}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!(
            "valgrind {} failed: {}\n{err}",
            bin.display(),
            out.status
        ));
    }
    err.lines()
        .find_map(|l| {
            let rest = l.split("Collected :").nth(1)?;
            rest.trim().parse().ok()
        })
        .ok_or_else(|| format!("no `Collected :` line in valgrind's output:\n{err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_are_paired_by_round() {
        let m = |wall: f64| Measured {
            wall,
            cpu: wall / 2.0,
            user_ns: 1.0,
            system_ns: 1.0,
        };
        // C's rate drifts by 2x between rounds; the contender stays 10 % ahead
        // of it in each: the paired ratio is 1.1 with no spread, where the ratio
        // of the two medians would be 1.1 only by luck.
        let c: Vec<Measured> = [100.0, 200.0, 150.0, 120.0, 180.0].map(m).into();
        let u: Vec<Measured> = [110.0, 220.0, 165.0, 132.0, 198.0].map(m).into();
        let p = paired(&u, &c, |m| m.wall);
        assert!((p.ratio - 1.1).abs() < 1e-9, "{}", p.ratio);
        assert!((p.quartiles.0 - 1.1).abs() < 1e-9 && (p.quartiles.1 - 1.1).abs() < 1e-9);
        assert_eq!(p.median, 165.0);
        let c_self = paired(&c, &c, |m| m.cpu);
        assert_eq!((c_self.ratio, c_self.quartiles), (1.0, (1.0, 1.0)));
    }

    #[test]
    fn the_split_is_the_mean_over_runs_and_the_excess_a_share_of_cs_cpu() {
        let m = |user_ns: f64, system_ns: f64| Measured {
            wall: 1.0,
            cpu: 1.0,
            user_ns,
            system_ns,
        };
        // Whole ticks per run (0 or 40 ns of user time): the mean is 20, where
        // the median of an even split would be one or the other.
        let c = [m(0.0, 800.0), m(40.0, 760.0), m(0.0, 800.0), m(40.0, 760.0)];
        let u = [
            m(60.0, 780.0),
            m(60.0, 780.0),
            m(100.0, 740.0),
            m(100.0, 740.0),
        ];
        let s = split_of(&u, &c);
        assert_eq!((s.user_ns, s.system_ns), (80.0, 760.0));
        // (80 - 20) / (20 + 780) = 7.5 % of C's CPU time per operation.
        assert!(
            (s.beyond_c_percent - 7.5).abs() < 1e-9,
            "{}",
            s.beyond_c_percent
        );
        let c_self = split_of(&c, &c);
        assert_eq!((c_self.user_ns, c_self.beyond_c_percent), (20.0, 0.0));
    }

    #[test]
    fn quartiles_are_the_medians_of_the_halves() {
        assert_eq!(quartiles(&mut [5.0, 1.0, 4.0, 2.0, 3.0]), (1.5, 4.5));
        assert_eq!(quartiles(&mut [1.0, 2.0, 3.0, 4.0]), (1.5, 3.5));
        assert_eq!(quartiles(&mut [7.0]), (7.0, 7.0));
        assert!(quartiles(&mut []).0.is_nan());
        assert_eq!(spread((0.98765, 1.0234)), "0.988-1.023");
    }

    fn names(cases: &[Case]) -> Vec<&str> {
        cases.iter().map(|c| c.name.as_str()).collect()
    }

    fn contenders(case: &Case) -> Vec<(&str, &Path, Vec<&str>)> {
        case.contenders
            .iter()
            .map(|c| match &c.how {
                How::Bench(bin, args) | How::Echo(bin, args) => (
                    c.name,
                    bin.as_path(),
                    args.iter().map(String::as_str).collect(),
                ),
            })
            .collect()
    }

    #[test]
    fn cases_and_their_contenders() {
        let p = Programs {
            c: "/c".into(),
            rust: "/r".into(),
            peer_ring: "/ring".into(),
            peer_echo: "/echo".into(),
        };
        let nops = nop_cases(&p, false);
        assert_eq!(
            names(&nops),
            [
                "nop batch=1 default",
                "nop batch=8 default",
                "nop batch=32 default",
                "nop batch=128 default",
                "nop batch=1 defer",
                "nop batch=8 defer",
                "nop batch=32 defer",
                "nop batch=128 defer",
                "nop batch=1 owned default",
                "nop batch=1 owned regfd",
            ]
        );
        assert_eq!(
            contenders(&nops[5]),
            [
                (
                    "C liburing",
                    Path::new("/c"),
                    vec!["nop", "8", "defer", "1000000"]
                ),
                (
                    "io-uring",
                    Path::new("/ring"),
                    vec!["nop", "8", "defer", "1000000"]
                ),
                (
                    "uring raw",
                    Path::new("/r"),
                    vec!["nop", "8", "defer", "1000000"]
                ),
                (
                    "kernel floor",
                    Path::new("/c"),
                    vec!["nop-floor", "8", "defer", "1000000"]
                ),
                (
                    "bare loop",
                    Path::new("/c"),
                    vec!["nop-bare", "8", "defer", "1000000"]
                ),
            ]
        );
        assert_eq!((nops[0].ops, nops[1].ops), (250_000, 1_000_000));
        assert_eq!(
            contenders(&nops[9]),
            [
                (
                    "C liburing",
                    Path::new("/c"),
                    vec!["nop", "1", "regfd", "250000"]
                ),
                (
                    "uring raw",
                    Path::new("/r"),
                    vec!["nop", "1", "regfd", "250000"]
                ),
                (
                    "uring owned",
                    Path::new("/r"),
                    vec!["nop-owned", "1", "regfd", "250000"]
                ),
            ]
        );
        let reads = read_cases(&p, true, Path::new("/d"));
        assert_eq!(
            names(&reads),
            ["read 4KiB qd=32 default", "read 4KiB qd=32 defer"]
        );
        let args = vec!["read", "32", "defer", "50000", "/d"];
        let owned = vec!["read-owned", "32", "defer", "50000", "/d"];
        let held = vec!["read-owned-held", "32", "defer", "50000", "/d"];
        let typed = vec!["read-typed", "32", "defer", "50000", "/d"];
        let hand = vec!["read-hand", "32", "defer", "50000", "/d"];
        let fixed = vec!["read-fixed", "32", "defer", "50000", "/d"];
        let direct = vec!["read-owned-direct", "32", "defer", "50000", "/d"];
        let typed_direct = vec!["read-typed-direct", "32", "defer", "50000", "/d"];
        let typed_rearm = vec!["read-typed-rearm", "32", "defer", "50000", "/d"];
        let hand_rearm = vec!["read-hand-rearm", "32", "defer", "50000", "/d"];
        let owned_rearm = vec!["read-owned-rearm", "32", "defer", "50000", "/d"];
        assert_eq!(
            contenders(&reads[1]),
            [
                ("C liburing", Path::new("/c"), args.clone()),
                ("C fixed file", Path::new("/c"), fixed),
                ("io-uring", Path::new("/ring"), args.clone()),
                ("uring raw", Path::new("/r"), args),
                ("uring owned", Path::new("/r"), owned),
                ("owned held", Path::new("/r"), held),
                ("owned direct", Path::new("/r"), direct),
                ("owned rearm", Path::new("/r"), owned_rearm),
                ("typed ring", Path::new("/r"), typed),
                ("typed direct", Path::new("/r"), typed_direct),
                ("typed rearm", Path::new("/r"), typed_rearm),
                ("by hand", Path::new("/r"), hand),
                ("hand rearm", Path::new("/r"), hand_rearm),
            ]
        );
        let echo = echo_cases(true);
        assert_eq!(names(&echo), ["echo 64B conns=16", "echo 4096B conns=16"]);
        assert_eq!(
            (echo[0].ops, echo[0].client_args.join(" ")),
            (80_000, "16 64 5000".into())
        );
        assert!(matches(Some("nop batch=1,echo 64"), "echo 64B conns=16"));
        assert!(!matches(Some("read"), "nop batch=1 default"));
    }
}
