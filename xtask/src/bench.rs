//! `cargo xtask bench`: `uring` against C liburing, built from the same vendored 2.15
//! source, measured side by side in one run.
//!
//! The C program (`xtask/bench/bench.c`, `-O2`, liburing's inline helpers and its
//! `io_uring_submit_and_wait`) and the Rust one (`uring/benches/ring.rs`) run the same
//! workloads, interleaved C, Rust, C, Rust… so that the machine's noise hits both alike.
//! Each case prints medians and the ratio `uring / C` (above 1 means uring is faster).
//!
//! The echo case runs servers instead: the C liburing server of `xtask/bench/echo.c`
//! and `uring/examples/echo_server.rs` built with `--release`, each driven by the same
//! C load generator (`echo client`, one epoll thread, ping-pong round trips), so that
//! only the server differs.
//!
//! `--instructions` counts user-space instructions per NOP at batch 32 under valgrind's
//! callgrind, which is deterministic where wall time is not.

use crate::codegen::recipe;
use crate::util::{self, Result, project_root};
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Case {
    name: String,
    args: Vec<String>,
    /// The Rust benchmark's first argument, when it differs from the C program's
    /// (`read-owned`: the same reads through the safe layer).
    rust_mode: Option<&'static str>,
    /// An echo case: `args` are the load generator's, after the server's address.
    echo: bool,
}

/// The echo case's programs.
struct Echo {
    /// `echo.c`: `server` and `client` modes.
    c: PathBuf,
    /// `uring/examples/echo_server.rs`, release build.
    rust: PathBuf,
}

pub fn run(args: &[String]) -> Result {
    let mut quick = false;
    let mut instructions = false;
    let mut runs = 7usize;
    let mut filter: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--instructions" => instructions = true,
            "--runs" => {
                runs = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n >= 1)
                    .ok_or("--runs needs a positive number")?
            }
            "--filter" => filter = Some(it.next().ok_or("--filter needs a value")?.clone()),
            other => {
                return Err(format!(
                    "unknown argument `{other}` (known: --quick, --runs N, --filter S, --instructions)"
                ));
            }
        }
    }
    if quick {
        runs = runs.min(5);
    }
    let (c_bin, rust_bin) = build()?;

    if instructions {
        return count_instructions(&c_bin, &rust_bin);
    }

    let nop_ops: u64 = if quick { 200_000 } else { 1_000_000 };
    let read_ops: u64 = if quick { 50_000 } else { 300_000 };
    let data = data_file()?;
    let mut cases = Vec::new();
    for mode in ["default", "defer"] {
        for batch in [1u32, 8, 32, 128] {
            // Batch 1 does far fewer NOPs per second: fewer ops keep its runs short.
            let ops = if batch == 1 { nop_ops / 4 } else { nop_ops };
            cases.push(Case {
                name: format!("nop batch={batch} {mode}"),
                args: vec![
                    "nop".into(),
                    batch.to_string(),
                    mode.into(),
                    ops.to_string(),
                ],
                rust_mode: None,
                echo: false,
            });
        }
    }
    let read_args = vec![
        "read".to_string(),
        "32".into(),
        "default".into(),
        read_ops.to_string(),
        data.display().to_string(),
    ];
    cases.push(Case {
        name: "read 4KiB qd=32 default".into(),
        args: read_args.clone(),
        rust_mode: None,
        echo: false,
    });
    // The safe layer against the same C program: each read owns its Vec.
    cases.push(Case {
        name: "read 4KiB qd=32 owned".into(),
        args: read_args,
        rust_mode: Some("read-owned"),
        echo: false,
    });
    // Round trips per connection: 16 connections ping-ponging 64-byte messages.
    let echo_conns = 16u32;
    let echo_trips: u64 = if quick { 5_000 } else { 20_000 };
    cases.push(Case {
        name: format!("echo 64B conns={echo_conns}"),
        args: vec![echo_conns.to_string(), "64".into(), echo_trips.to_string()],
        rust_mode: None,
        echo: true,
    });

    cases.retain(|c| filter.as_ref().is_none_or(|f| c.name.contains(f.as_str())));
    // Built only when an echo case runs.
    let echo = if cases.iter().any(|c| c.echo) {
        Some(build_echo()?)
    } else {
        None
    };

    println!(
        "{:<28} {:>14} {:>14} {:>7}",
        "case", "uring_ops_s", "c_ops_s", "ratio"
    );
    for case in &cases {
        let mut rust_args = case.args.clone();
        if let Some(mode) = case.rust_mode {
            rust_args[0] = mode.to_string();
        }
        let run_c = || match &echo {
            Some(e) if case.echo => measure_echo(&e.c, &["server"], &e.c, &case.args),
            _ => measure(&c_bin, &case.args),
        };
        let run_rust = || match &echo {
            Some(e) if case.echo => measure_echo(&e.rust, &[], &e.c, &case.args),
            _ => measure(&rust_bin, &rust_args),
        };
        // One warm-up each, not counted.
        run_c()?;
        run_rust()?;
        let (mut c, mut r) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            c.push(run_c()?);
            r.push(run_rust()?);
        }
        let (cm, rm) = (median(&mut c), median(&mut r));
        println!(
            "{:<28} {:>14.0} {:>14.0} {:>7.3}",
            case.name,
            rm,
            cm,
            rm / cm
        );
    }
    println!(
        "(medians of {runs} interleaved runs each; ratio = uring / C liburing 2.15, higher is faster)"
    );
    Ok(())
}

/// Builds the C program against the vendored liburing, and the Rust benchmark.
fn build() -> Result<(PathBuf, PathBuf)> {
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

    let json = util::output(util::cargo().current_dir(&root).args([
        "bench",
        "-p",
        "uring",
        "--bench",
        "ring",
        "--no-run",
        "--message-format=json",
    ]))?;
    let rust_bin = json
        .lines()
        .filter(|l| {
            l.contains("\"reason\":\"compiler-artifact\"") && l.contains("\"name\":\"ring\"")
        })
        .find_map(|l| {
            let rest = l.split("\"executable\":\"").nth(1)?;
            Some(PathBuf::from(rest.split('"').next()?))
        })
        .ok_or("cargo bench --no-run did not report the `ring` benchmark's executable")?;
    Ok((c_bin, rust_bin))
}

/// Builds `xtask/bench/echo.c` against the vendored liburing (whose objects
/// [`build`] compiled) and `uring`'s `echo_server` example with `--release`.
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
    let json = util::output(util::cargo().current_dir(&root).args([
        "build",
        "--release",
        "-p",
        "uring",
        "--example",
        "echo_server",
        "--message-format=json",
    ]))?;
    let rust = json
        .lines()
        .filter(|l| {
            l.contains("\"reason\":\"compiler-artifact\"") && l.contains("\"name\":\"echo_server\"")
        })
        .find_map(|l| {
            let rest = l.split("\"executable\":\"").nth(1)?;
            Some(PathBuf::from(rest.split('"').next()?))
        })
        .ok_or("cargo build did not report the `echo_server` example's executable")?;
    Ok(Echo { c, rust })
}

/// A server started by [`measure_echo`], killed if the measurement fails.
struct ServerGuard(Child);

impl Drop for ServerGuard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Starts echo server `server` (with `args`), reads the address from its first line,
/// runs `echo client ADDR <client_args>` against it, then closes the server's stdin
/// (its signal to exit) and checks that it exited with status 0. Returns the
/// client's round trips per second.
fn measure_echo(
    server: &Path,
    args: &[&str],
    client: &Path,
    client_args: &[String],
) -> Result<f64> {
    let child = Command::new(server)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", server.display()))?;
    let mut guard = ServerGuard(child);
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
    let status = guard
        .0
        .wait()
        .map_err(|e| format!("{}: {e}", server.display()))?;
    let mut err = String::new();
    if let Some(mut e) = guard.0.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    if !status.success() {
        return Err(format!("{} exited with {status}: {err}", server.display()));
    }
    out.lines()
        .find_map(|l| l.strip_prefix("ops_per_sec ")?.trim().parse().ok())
        .ok_or_else(|| format!("{} printed no `ops_per_sec`: {out}", client.display()))
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

fn measure(bin: &Path, args: &[String]) -> Result<f64> {
    let out = util::output(Command::new(bin).args(args))?;
    out.lines()
        .find_map(|l| l.strip_prefix("ops_per_sec ")?.trim().parse().ok())
        .ok_or_else(|| format!("{} printed no `ops_per_sec`: {out}", bin.display()))
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

/// User-space instructions per NOP at batch 32 (SINGLE_ISSUER|DEFER_TASKRUN): the
/// difference between two run lengths, so setup and teardown cancel out.
fn count_instructions(c_bin: &Path, rust_bin: &Path) -> Result {
    if Command::new("valgrind").arg("--version").output().is_err() {
        return Err("valgrind is not installed (apt-get install valgrind)".into());
    }
    let (small, large) = (20_000u64, 60_000u64);
    println!(
        "{:<28} {:>14} {:>14} {:>7}",
        "case", "uring_instr", "c_instr", "ratio"
    );
    let per_op = |bin: &Path| -> Result<f64> {
        let a = callgrind_total(bin, small)?;
        let b = callgrind_total(bin, large)?;
        Ok((b as f64 - a as f64) / (large - small) as f64)
    };
    let (r, c) = (per_op(rust_bin)?, per_op(c_bin)?);
    println!(
        "{:<28} {:>14.1} {:>14.1} {:>7.3}",
        "instructions/NOP batch=32",
        r,
        c,
        r / c
    );
    println!("(user-space instructions per NOP, callgrind; ratio = uring / C, lower is fewer)");
    Ok(())
}

fn callgrind_total(bin: &Path, ops: u64) -> Result<u64> {
    let out = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(bin)
        .args(["nop", "32", "defer", &ops.to_string()])
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
