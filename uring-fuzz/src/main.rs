//! `uring-fuzz`: random programs over `uring::owned`, against the running kernel.
//!
//! ```text
//! uring-fuzz [--seed S] [--time SECONDS] [--programs N] [--max-actions N]
//!            [--replay SEED] [--no-minimize]
//! ```
//!
//! Program `i` of a run is generated from seed `S + i`; a failure prints that
//! seed, the invariant, and the program minimised to the actions that still make
//! it fail. `--replay SEED` runs that one program.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use uring_fuzz::minimize::{minimize, run_once};
use uring_fuzz::{Outcome, Program};

const USAGE: &str = "usage: uring-fuzz [--seed S] [--time SECONDS] [--programs N] \
                     [--max-actions N] [--replay SEED] [--no-minimize]";

/// How long one program may take before it counts as past its time bound.
const PROGRAM_BUDGET: Duration = Duration::from_secs(30);
/// How long one call may hang before the watchdog aborts the process.
const HANG_LIMIT: Duration = Duration::from_secs(90);

struct Args {
    seed: u64,
    time: Duration,
    programs: Option<u64>,
    max_actions: usize,
    replay: Option<u64>,
    minimize: bool,
}

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("`{s}` is not a number: {e}"))
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        time: Duration::from_secs(60),
        programs: None,
        max_actions: 120,
        replay: None,
        minimize: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| it.next().ok_or(format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--seed" => a.seed = parse_u64(&val("--seed")?)?,
            "--time" => a.time = Duration::from_secs(parse_u64(&val("--time")?)?),
            "--programs" => a.programs = Some(parse_u64(&val("--programs")?)?),
            "--max-actions" => a.max_actions = parse_u64(&val("--max-actions")?)? as usize,
            "--replay" => a.replay = Some(parse_u64(&val("--replay")?)?),
            "--no-minimize" => a.minimize = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(a)
}

/// What the watchdog knows of the program running now.
struct Current {
    program: Mutex<Option<Program>>,
    started_ms: AtomicU64,
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    uring_fuzz::run::prepare_process();
    let t0 = Instant::now();
    let current = Arc::new(Current {
        program: Mutex::new(None),
        started_ms: AtomicU64::new(0),
    });
    {
        let current = Arc::clone(&current);
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let started = current.started_ms.load(Ordering::Relaxed);
                let now = t0.elapsed().as_millis() as u64;
                if started != 0 && now.saturating_sub(started) > HANG_LIMIT.as_millis() as u64 {
                    let p = current.program.lock().unwrap_or_else(|e| e.into_inner());
                    eprintln!(
                        "uring-fuzz: FAILED [time]: a program has run {} s, past its bound: \
                         hung in a call",
                        (now - started) / 1000
                    );
                    if let Some(p) = p.as_ref() {
                        eprintln!("reproduce: cargo xtask fuzz --replay {:#x}\n{p}", p.seed);
                    }
                    std::process::abort();
                }
            }
        });
    }

    let mut total = Outcome::default();
    let mut programs = 0u64;
    let max_actions = args.max_actions;
    let seeds: Box<dyn Iterator<Item = u64>> = match args.replay {
        Some(s) => Box::new(std::iter::once(s)),
        None => Box::new((0..).map(move |i| args.seed.wrapping_add(i))),
    };
    println!(
        "uring-fuzz: {} from seed {:#x}, {} s, programs of up to {max_actions} actions",
        if args.replay.is_some() {
            "replaying"
        } else {
            "running"
        },
        args.replay.unwrap_or(args.seed),
        args.time.as_secs()
    );
    for seed in seeds {
        if args.replay.is_none()
            && (t0.elapsed() >= args.time || args.programs.is_some_and(|n| programs >= n))
        {
            break;
        }
        let prog = Program::generate(seed, max_actions);
        *current.program.lock().unwrap_or_else(|e| e.into_inner()) = Some(prog.clone());
        current
            .started_ms
            .store(t0.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
        let res = run_once(&prog, PROGRAM_BUDGET);
        current.started_ms.store(0, Ordering::Relaxed);
        programs += 1;
        match res {
            Ok(o) => add(&mut total, &o),
            Err(f) => {
                print_totals(programs, &total);
                println!(
                    "uring-fuzz: FAILED: program seed {seed:#x}, setup {:?}: {f}",
                    prog.setup
                );
                println!("reproduce: cargo xtask fuzz --replay {seed:#x}");
                if args.minimize {
                    println!("minimising ({} actions)…", prog.actions.len());
                    let (small, failure) = minimize(&prog, f.invariant, PROGRAM_BUDGET, 3, |p| {
                        eprintln!("  … {} actions", p.actions.len());
                    });
                    match failure {
                        Some(f) => println!("minimised: {f}\n{small}"),
                        None => println!("(the failure did not recur while minimising)\n{prog}"),
                    }
                } else {
                    println!("{prog}");
                }
                return ExitCode::FAILURE;
            }
        }
    }
    print_totals(programs, &total);
    ExitCode::SUCCESS
}

fn add(t: &mut Outcome, o: &Outcome) {
    t.actions += o.actions;
    t.ops += o.ops;
    t.completions += o.completions;
    t.items += o.items;
    t.bytes += o.bytes;
    t.checks += o.checks;
    t.refused += o.refused;
    t.rings += o.rings;
    t.setup_fallback |= o.setup_fallback;
    t.carried += o.carried;
}

fn print_totals(programs: u64, t: &Outcome) {
    println!(
        "uring-fuzz: {programs} programs, {} actions, {} operations, {} completions, {} \
         multishot items, {} bytes checked, {} invariant checks, {} rings, {} submissions \
         refused, {} descriptors touched by operations leaked earlier{}",
        t.actions,
        t.ops,
        t.completions,
        t.items,
        t.bytes,
        t.checks,
        t.rings,
        t.refused,
        t.carried,
        if t.setup_fallback {
            " (some ring setups unavailable: default rings used)"
        } else {
            ""
        }
    );
}
