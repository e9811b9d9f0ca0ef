//! The `io-uring` crate's side of `cargo xtask bench`: the same workloads as
//! `xtask/bench/bench.c` and `uring/benches/ring.rs`, written the way that crate's
//! users write them (a `submission()` view per batch, `submit_and_wait`, a
//! `completion()` view to reap).
//!
//! ```text
//! peer-ring nop  <batch> <default|defer> <ops>
//! peer-ring read <qd> <default|defer> <ops> <file>
//! ```
//!
//! Prints one line: `ops_per_sec <float>`.

use io_uring::{IoUring, opcode, types};
use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::Instant;

fn ring(entries: u32, mode: &str) -> Result<IoUring, String> {
    let mut builder = IoUring::builder();
    match mode {
        "default" => {}
        "defer" => {
            builder.setup_single_issuer().setup_defer_taskrun();
        }
        other => return Err(format!("mode must be default or defer, not {other}")),
    }
    builder
        .build(entries)
        .map_err(|e| format!("ring setup: {e}"))
}

fn bench_nop(batch: u32, mode: &str, ops: u64) -> Result<f64, String> {
    let mut ring = ring(batch.max(8), mode)?;
    let mut done = 0u64;
    let start = Instant::now();
    while done < ops {
        {
            let mut sq = ring.submission();
            for i in 0..batch {
                let sqe = opcode::Nop::new().build().user_data(i as u64);
                // SAFETY: a NOP names no memory and no descriptor.
                unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
            }
        }
        ring.submit_and_wait(batch as usize)
            .map_err(|e| format!("submit: {e}"))?;
        let mut got = 0;
        while got < batch {
            for cqe in ring.completion() {
                if cqe.result() != 0 {
                    return Err(format!("NOP completed with {}", cqe.result()));
                }
                got += 1;
            }
        }
        done += batch as u64;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// xorshift64: the same sequence as the C benchmark's.
fn next_rand(s: &mut u64) -> u64 {
    let mut x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    x
}

/// One page-aligned read buffer, as the C side's posix_memalign(4096) gives it.
#[repr(C, align(4096))]
struct Block([u8; 4096]);

fn bench_read(qd: u32, mode: &str, ops: u64, path: &str) -> Result<f64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    let mut bufs: Vec<Block> = (0..qd).map(|_| Block([0; 4096])).collect();
    let mut ring = ring(qd, mode)?;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    while done < ops {
        {
            let mut sq = ring.submission();
            while submitted - done < qd as u64 && submitted < ops {
                let slot = (submitted % qd as u64) as usize;
                let off = (next_rand(&mut seed) % blocks) * 4096;
                let buf = bufs[slot].0.as_mut_ptr();
                let sqe = opcode::Read::new(types::Fd(file.as_raw_fd()), buf, 4096)
                    .offset(off)
                    .build()
                    .user_data(slot as u64);
                // SAFETY: `bufs` and `file` outlive the ring's use of them: every read
                // is reaped in this loop before the function returns, and each
                // in-flight read has its own 4 KiB slot (at most qd are in flight).
                unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        for cqe in ring.completion() {
            if cqe.result() != 4096 {
                return Err(format!("read completed with {}", cqe.result()));
            }
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |s: &str| s.parse::<u64>().map_err(|e| format!("`{s}`: {e}"));
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["nop", batch, mode, ops] => num(batch).and_then(|b| bench_nop(b as u32, mode, num(ops)?)),
        ["read", qd, mode, ops, file] => {
            num(qd).and_then(|q| bench_read(q as u32, mode, num(ops)?, file))
        }
        _ => Err("usage: peer-ring nop <batch> <default|defer> <ops> | \
                  peer-ring read <qd> <default|defer> <ops> <file>"
            .into()),
    };
    match result {
        Ok(rate) => {
            println!("ops_per_sec {rate:.1}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("peer-ring: {e}");
            ExitCode::FAILURE
        }
    }
}
