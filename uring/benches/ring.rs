//! The Rust side of `cargo xtask bench`: the same workloads as `xtask/bench/bench.c`,
//! through `uring`'s raw level (built SQEs pushed in Rust, the kernel entered with an
//! inlined `syscall`). Run by the xtask, which interleaves it with the C program:
//!
//! ```text
//! ring nop  <batch> <default|defer> <ops>
//! ring read <qd> <default|defer> <ops> <file>
//! ring read-owned <qd> <default|defer> <ops> <file>
//! ring read-owned-held <qd> <default|defer> <ops> <file>
//! ring read-owned-direct <qd> <default|defer> <ops> <file>
//! ring read-owned-of <qd> <default|defer> <ops> <file>
//! ring read-owned-rearm <qd> <default|defer> <ops> <file>
//! ring read-hand <qd> <default|defer> <ops> <file>
//! ring read-typed <qd> <default|defer> <ops> <file>
//! ring read-typed-direct <qd> <default|defer> <ops> <file>
//! ring read-typed-rearm <qd> <default|defer> <ops> <file>
//! ring read-hand-rearm <qd> <default|defer> <ops> <file>
//! ```
//!
//! `read-owned` is the same workload through the safe layer ([`uring::owned`]): each
//! read owns its page-aligned `AlignedBuf`, which comes back with the completion and is
//! reused, and names the file through a `SharedFd` (an `Arc` clone and drop per read).
//! `read-owned-held` names it as a file the ring holds instead (`OwnedRing::hold_fd`:
//! a look-up per read, no atomics). `read-owned-direct` holds it as a direct
//! descriptor (a `DirectTable` slot, then `OwnedRing::hold_direct`): the reads carry
//! `IOSQE_FIXED_FILE`, so the kernel takes no reference to the file per read, as
//! the C program's `read-fixed`. `read-owned-of` is `read-owned` taking the reads'
//! outputs with `OwnedRing::completions_of` instead of `completions` and `downcast`.
//! `read-owned-rearm` holds the file, and starts each read again from the
//! `completions` loop with the buffer of the read that finished
//! (`Completions::submit_op`), with no list of free buffers.
//! `read-hand` is the same owned-buffer workload written by hand on the raw level
//! for this one operation (`ring/hand.rs`), naming the file by number with no
//! share or look-up per read: what a safe layer's read costs at least.
//! `read-typed` is the owned-buffer workload through `uring::owned::TypedRing`, the
//! safe ring of one operation type, naming the file as one the ring holds;
//! `read-typed-direct` the same with the file held as a direct descriptor;
//! `read-typed-rearm` the same as `read-typed`, but each read is started again from
//! the completion loop with the buffer of the read that finished
//! (`TypedCompletions::submit_op`), with no list of free buffers; `read-hand-rearm`
//! is `read-hand` started again the same way, the floor of `read-typed-rearm`.
//!
//! Prints one line: `ops_per_sec <float>`.

#[path = "ring/hand.rs"]
mod hand;

use std::os::fd::AsRawFd;
use std::process::ExitCode;
use std::time::Instant;
use uring::Ring;
use uring::op::{Nop, Read};
use uring::types::Fd;

fn builder(mode: &str) -> Result<uring::Builder<'static>, String> {
    let builder = Ring::builder();
    Ok(match mode {
        "default" => builder,
        "defer" => builder.single_issuer().defer_taskrun(),
        // Enter through the registered ring index (IORING_REGISTER_RING_FDS).
        "regfd" => builder.register_ring_fd(),
        other => return Err(format!("mode must be default, defer or regfd, not {other}")),
    })
}

fn ring(entries: u32, mode: &str) -> Result<Ring, String> {
    builder(mode)?
        .build(entries)
        .map_err(|e| format!("ring setup: {e}"))
}

/// NOPs through the safe layer, `batch` at a time: the same workload as
/// [`bench_nop`], with the in-flight table, ids and completions.
// Each case in a function of its own, as a program's loop would be: its code is then
// the same whatever the other cases in this binary are (inlined into `main` together,
// adding a case moved the NOP loop's register allocation by four instructions).
#[inline(never)]
fn bench_nop_owned(batch: u32, mode: &str, ops: u64) -> Result<f64, String> {
    use uring::owned::{OwnedRing, ops as owned_ops};
    let mut ring = OwnedRing::from_builder(builder(mode)?, batch.max(8))
        .map_err(|e| format!("ring setup: {e}"))?;
    let mut done = 0u64;
    let start = Instant::now();
    while done < ops {
        for _ in 0..batch {
            let _id = ring
                .submit_op(owned_ops::Nop::new())
                .map_err(|e| e.to_string())?;
        }
        ring.submit_and_wait(batch as usize)
            .map_err(|e| format!("submit: {e}"))?;
        let mut got = 0;
        while got < batch {
            for c in ring.completions() {
                if c.raw_result() != 0 {
                    return Err(format!("NOP completed with {}", c.raw_result()));
                }
                got += 1;
            }
        }
        done += batch as u64;
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

#[inline(never)]
fn bench_nop(batch: u32, mode: &str, ops: u64) -> Result<f64, String> {
    let mut ring = ring(batch.max(8), mode)?;
    let mut done = 0u64;
    let start = Instant::now();
    while done < ops {
        {
            let mut sq = ring.submission();
            for i in 0..batch {
                let sqe = Nop::new().build().user_data(i as u64);
                // SAFETY: a NOP names no memory and no descriptor.
                unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
            }
        }
        ring.submit_and_wait(batch as usize)
            .map_err(|e| format!("submit: {e}"))?;
        let mut got = 0;
        while got < batch {
            for cqe in ring.completion() {
                if cqe.raw_result() != 0 {
                    return Err(format!("NOP completed with {}", cqe.raw_result()));
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

/// `qd` 4 KiB buffers for the owned-buffer loops, page-aligned as the C side's
/// (see [`bench_read`]).
fn page_buffers(qd: u32) -> Result<Vec<uring::owned::AlignedBuf>, String> {
    (0..qd)
        .map(|_| uring::owned::AlignedBuf::zeroed(4096, 4096))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())
}

/// Checks that a read of the owned-buffer loops returned a whole 4 KiB block.
fn whole_block(res: std::io::Result<usize>) -> Result<(), String> {
    match res {
        Ok(4096) => Ok(()),
        other => Err(format!("read completed with {other:?}")),
    }
}

/// One read buffer.
#[repr(C, align(4096))]
struct Block([u8; 4096]);

#[inline(never)]
fn bench_read(qd: u32, mode: &str, ops: u64, path: &str) -> Result<f64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    // Page-aligned 4 KiB buffers, as the C side's posix_memalign(4096) gives it: the
    // kernel's copy into a buffer is not the same work at every alignment.
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
                let sqe = Read::new(Fd(file.as_raw_fd()), buf, 4096)
                    .offset(off)
                    .build()
                    .user_data(slot as u64);
                // SAFETY: `bufs` and `file` outlive the ring's use of them: every read is
                // reaped in this loop before the function returns, and each in-flight
                // read has its own 4 KiB slot (at most qd are in flight).
                unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        for cqe in ring.completion() {
            if cqe.raw_result() != 4096 {
                return Err(format!("read completed with {}", cqe.raw_result()));
            }
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// How the owned-buffer reads of [`bench_read_owned`] name the file.
#[derive(Clone, Copy, PartialEq)]
enum FileHow {
    /// A `SharedFd`: an `Arc` clone and drop per read.
    Shared,
    /// A plain descriptor the ring holds (`OwnedRing::hold_fd`).
    Held,
    /// A direct descriptor the ring holds (`DirectTable::insert`, then
    /// `OwnedRing::hold_direct`): no file reference taken by the kernel per read.
    Direct,
}

#[inline(never)]
fn bench_read_owned(
    qd: u32,
    mode: &str,
    ops: u64,
    path: &str,
    how: FileHow,
    typed: bool,
) -> Result<f64, String> {
    use uring::owned::{DirectTable, OwnedRing, SharedFd, ops::Read};
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    let mut ring =
        OwnedRing::from_builder(builder(mode)?, qd).map_err(|e| format!("ring setup: {e}"))?;
    let file = match how {
        FileHow::Shared => {
            let file = SharedFd::from(file);
            let read = |buf, off| Read::new(&file, buf, off);
            return if typed {
                read_owned_loop::<true>(&mut ring, qd, ops, blocks, read)
            } else {
                read_owned_loop::<false>(&mut ring, qd, ops, blocks, read)
            };
        }
        FileHow::Held => ring.hold_fd(file),
        FileHow::Direct => {
            let table =
                DirectTable::new(&mut ring, 1, 0).map_err(|e| format!("direct table: {e}"))?;
            let direct = table
                .insert(file)
                .map_err(|e| format!("direct insert: {e}"))?;
            ring.hold_direct(direct)
        }
    }
    .map_err(|e| e.to_string())?;
    read_owned_loop::<false>(&mut ring, qd, ops, blocks, |buf, off| {
        Read::new(file, buf, off)
    })
}

/// `read-owned-rearm`: the owned-buffer reads through an `OwnedRing`, on a
/// file the ring holds, each started again from the completion loop with the
/// buffer of the read that finished (`Completions::submit_op`): no list of
/// free buffers, as [`bench_read_typed_rearm`] on a `TypedRing`. (Through
/// `completions_of` and `CompletionsOf::submit_op` instead, the compiler laid
/// the loop out at 55 more instructions a read than this way.)
#[inline(never)]
fn bench_read_owned_rearm(qd: u32, mode: &str, ops: u64, path: &str) -> Result<f64, String> {
    use uring::owned::{AlignedBuf, OwnedRing, ops::Read};
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    let mut ring =
        OwnedRing::from_builder(builder(mode)?, qd).map_err(|e| format!("ring setup: {e}"))?;
    let file = ring.hold_fd(file).map_err(|e| e.to_string())?;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    for buf in page_buffers(qd)?.into_iter().take(ops as usize) {
        let off = (next_rand(&mut seed) % blocks) * 4096;
        let _id = ring
            .submit_op(Read::new(file, buf, off))
            .map_err(|e| e.to_string())?;
        submitted += 1;
    }
    while done < ops {
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        let mut completions = ring.completions();
        while let Some(c) = completions.next() {
            let (res, buf) = c
                .downcast::<Read<AlignedBuf>>()
                .map_err(|_| "a completion of another op".to_string())?;
            whole_block(res)?;
            done += 1;
            if submitted < ops {
                let off = (next_rand(&mut seed) % blocks) * 4096;
                // The id is not needed: every read's output is its buffer.
                let _id = completions
                    .submit_op(Read::new(file, buf, off))
                    .map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// `read-hand`: [`hand::read_loop`] on a ring set up as for [`bench_read`];
/// with `rearm`, [`hand::read_loop_rearm`] (`read-hand-rearm`).
fn bench_read_hand(qd: u32, mode: &str, ops: u64, path: &str, rearm: bool) -> Result<f64, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    // Declared before the ring, so dropped after it (the loops' contract).
    let file = std::os::fd::OwnedFd::from(file);
    let mut ring = ring(qd, mode)?;
    let bufs = page_buffers(qd)?;
    use std::os::fd::AsFd as _;
    let (ring, file) = (&mut ring, file.as_fd());
    if rearm {
        hand::read_loop_rearm(ring, file, bufs, ops, blocks, next_rand, whole_block)
    } else {
        hand::read_loop(ring, file, bufs, ops, blocks, next_rand, whole_block)
    }
}

/// `read-typed`: the owned-buffer reads through a [`uring::owned::TypedRing`] of
/// `Read<AlignedBuf>`, on a file the ring holds, outputs taken from
/// `completions`.
/// With `DIRECT`, the file is held as a direct descriptor (`read-typed-direct`).
#[inline(never)]
fn bench_read_typed<const DIRECT: bool>(
    qd: u32,
    mode: &str,
    ops: u64,
    path: &str,
) -> Result<f64, String> {
    use uring::owned::{AlignedBuf, DirectTable, TypedRing, ops::Read};
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    let mut ring = TypedRing::<Read<AlignedBuf>>::from_builder(builder(mode)?, qd)
        .map_err(|e| format!("ring setup: {e}"))?;
    let file = if DIRECT {
        let table = DirectTable::new(&mut ring, 1, 0).map_err(|e| format!("direct table: {e}"))?;
        let fd = table
            .insert(file)
            .map_err(|e| format!("direct insert: {e}"))?;
        ring.hold_direct(fd)
    } else {
        ring.hold_fd(file)
    }
    .map_err(|e| e.to_string())?;
    let mut free = page_buffers(qd)?;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    while done < ops {
        {
            let mut batch = ring.batch();
            while submitted - done < qd as u64 && submitted < ops {
                let buf = free.pop().expect("one free buffer per read in flight");
                let off = (next_rand(&mut seed) % blocks) * 4096;
                // The key is not needed: every read's output is its buffer.
                let _key = batch
                    .push(Read::new(file, buf, off))
                    .map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        for (_, (res, buf)) in ring.completions() {
            whole_block(res)?;
            free.push(buf);
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// `read-typed-rearm`: the reads of `read-typed` (a held plain descriptor),
/// each started again from the completion loop with the buffer of the read
/// that finished ([`uring::owned::TypedCompletions::submit_op`]): no list of
/// free buffers. (A loop of its own, not a branch of [`bench_read_typed`]:
/// sharing that function changed how the compiler laid out both loops, at up to
/// 9 instructions per read.)
#[inline(never)]
fn bench_read_typed_rearm(qd: u32, mode: &str, ops: u64, path: &str) -> Result<f64, String> {
    use uring::owned::{AlignedBuf, TypedRing, ops::Read};
    let file = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let blocks = file.metadata().map_err(|e| e.to_string())?.len() / 4096;
    if blocks == 0 {
        return Err(format!("{path} is smaller than one 4 KiB block"));
    }
    let mut ring = TypedRing::<Read<AlignedBuf>>::from_builder(builder(mode)?, qd)
        .map_err(|e| format!("ring setup: {e}"))?;
    let file = ring.hold_fd(file).map_err(|e| e.to_string())?;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    {
        let mut batch = ring.batch();
        for buf in page_buffers(qd)?.into_iter().take(ops as usize) {
            let off = (next_rand(&mut seed) % blocks) * 4096;
            let _key = batch
                .push(Read::new(file, buf, off))
                .map_err(|e| e.to_string())?;
            submitted += 1;
        }
    }
    while done < ops {
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        let mut completions = ring.completions();
        while let Some((_, (res, buf))) = completions.next() {
            whole_block(res)?;
            done += 1;
            if submitted < ops {
                let off = (next_rand(&mut seed) % blocks) * 4096;
                // The key is not needed: every read's output is its buffer.
                let _key = completions
                    .submit_op(Read::new(file, buf, off))
                    .map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// The loop of [`bench_read_owned`]: `read` makes the read of a buffer at an
/// offset (naming the file however the caller holds it).
fn read_owned_loop<const TYPED: bool>(
    ring: &mut uring::owned::OwnedRing,
    qd: u32,
    ops: u64,
    blocks: u64,
    read: impl Fn(uring::owned::AlignedBuf, u64) -> uring::owned::ops::Read<uring::owned::AlignedBuf>,
) -> Result<f64, String> {
    use uring::owned::{AlignedBuf, ops::Read};
    let mut free = page_buffers(qd)?;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    while done < ops {
        while submitted - done < qd as u64 && submitted < ops {
            let buf = free.pop().expect("one free buffer per read in flight");
            let off = (next_rand(&mut seed) % blocks) * 4096;
            // The id is not needed: completions are taken in bulk below.
            let _id = ring.submit_op(read(buf, off)).map_err(|e| e.to_string())?;
            submitted += 1;
        }
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        if TYPED {
            for (_, (res, buf)) in ring.completions_of::<Read<AlignedBuf>>() {
                whole_block(res)?;
                free.push(buf);
                done += 1;
            }
            continue;
        }
        for c in ring.completions() {
            let (res, buf) = c
                .downcast::<Read<AlignedBuf>>()
                .map_err(|_| "a completion of another op".to_string())?;
            whole_block(res)?;
            free.push(buf);
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |s: &str| s.parse::<u64>().map_err(|e| format!("`{s}`: {e}"));
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["nop", batch, mode, ops] => num(batch).and_then(|b| bench_nop(b as u32, mode, num(ops)?)),
        ["nop-owned", batch, mode, ops] => {
            num(batch).and_then(|b| bench_nop_owned(b as u32, mode, num(ops)?))
        }
        ["read", qd, mode, ops, file] => num(qd).and_then(|q| bench_read(q as u32, mode, num(ops)?, file)),
        ["read-owned", qd, mode, ops, file] => {
            num(qd).and_then(|q| bench_read_owned(q as u32, mode, num(ops)?, file, FileHow::Shared, false))
        }
        ["read-owned-held", qd, mode, ops, file] => {
            num(qd).and_then(|q| bench_read_owned(q as u32, mode, num(ops)?, file, FileHow::Held, false))
        }
        ["read-owned-of", qd, mode, ops, file] => {
            num(qd).and_then(|q| bench_read_owned(q as u32, mode, num(ops)?, file, FileHow::Shared, true))
        }
        ["read-owned-direct", qd, mode, ops, file] => {
            num(qd).and_then(|q| bench_read_owned(q as u32, mode, num(ops)?, file, FileHow::Direct, false))
        }
        ["read-hand", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_hand(q as u32, mode, num(ops)?, file, false)),
        ["read-typed", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_typed::<false>(q as u32, mode, num(ops)?, file)),
        ["read-hand-rearm", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_hand(q as u32, mode, num(ops)?, file, true)),
        ["read-typed-rearm", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_typed_rearm(q as u32, mode, num(ops)?, file)),
        ["read-owned-rearm", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_owned_rearm(q as u32, mode, num(ops)?, file)),
        ["read-typed-direct", qd, mode, ops, file] => num(qd).and_then(|q| bench_read_typed::<true>(q as u32, mode, num(ops)?, file)),
        _ => Err("usage: ring nop|nop-owned <batch> <default|defer|regfd> <ops> | ring read|read-owned|read-owned-held|read-owned-direct|read-owned-of|read-owned-rearm|read-hand|read-hand-rearm|read-typed|read-typed-rearm|read-typed-direct <qd> <default|defer|regfd> <ops> <file>".into()),
    };
    match result {
        Ok(rate) => {
            println!("ops_per_sec {rate:.1}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ring bench: {e}");
            ExitCode::FAILURE
        }
    }
}
