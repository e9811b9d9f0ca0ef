//! `cp`, on io_uring's safe layer: copies SRC to DST without a line of `unsafe`.
//!
//! The file is copied in blocks of [`BLOCK`] bytes, [`IN_FLIGHT`] of them at a
//! time, each at its own offset (`pread`/`pwrite` style), so blocks may finish in
//! any order. Every block is a read followed by a write of exactly the bytes that
//! read returned. The safe layer's operations own their buffers, so a write
//! cannot be linked to the read that fills its buffer: the write is queued when
//! the read's completion hands the buffer back. What *is* linked is each
//! operation and its [`ops::LinkTimeout`] (`submit_with_timeout`, `IO_LINK`): a
//! read or write stuck for [`STALL`] is cancelled and the copy fails instead of
//! hanging.
//!
//! Short reads and writes are finished with further operations for the rest of
//! the block; a read of 0 bytes is the end of the file. DST is created (or
//! truncated) with SRC's permission bits.
//!
//! ```text
//! cargo run -p uring --example cp -- SRC DST
//! ```

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Permissions;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::time::Duration;

use uring::owned::{Completion, OpKey, OwnedRing, SharedFd, ops};

/// Bytes per block.
const BLOCK: usize = 128 * 1024;
/// Blocks in flight at once.
const IN_FLIGHT: usize = 4;
/// How long one read or write may take before it is cancelled.
const STALL: Duration = Duration::from_secs(30);

type ReadOp = ops::Read<Vec<u8>>;
type WriteOp = ops::Write<Vec<u8>>;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let [src, dst] = &args[..] else {
        eprintln!("usage: cp SRC DST");
        return ExitCode::from(2);
    };
    match run(src, dst) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cp: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prefixes an error with what was being done to which file.
fn context(what: &str, path: &OsString) -> impl FnOnce(io::Error) -> io::Error {
    let msg = format!("{what} '{}'", path.to_string_lossy());
    move |e| io::Error::new(e.kind(), format!("{msg}: {e}"))
}

fn run(src: &OsString, dst: &OsString) -> io::Result<()> {
    let mut ring = OwnedRing::new(4 * IN_FLIGHT as u32)?;

    let id = ring.submit_op(ops::OpenAt::new(src, libc::O_RDONLY)?)?;
    let input = SharedFd::from(ring.wait_for(id)?.map_err(context("cannot open", src))?);
    let id = ring.submit_op(ops::Statx::fd(&input))?;
    let st = ring.wait_for(id)?.map_err(context("cannot stat", src))?;
    if u32::from(st.stx_mode) & libc::S_IFMT == libc::S_IFDIR {
        return Err(context("cannot copy", src)(io::Error::from_raw_os_error(
            libc::EISDIR,
        )));
    }
    let mode = u32::from(st.stx_mode) & 0o7777;

    // Truncating DST when it is SRC would destroy the data before it is read.
    let id = ring.submit_op(ops::Statx::path(dst)?)?;
    if let Ok(d) = ring.wait_for(id)? {
        let same_dev = (d.stx_dev_major, d.stx_dev_minor) == (st.stx_dev_major, st.stx_dev_minor);
        if same_dev && d.stx_ino == st.stx_ino {
            return Err(io::Error::other(format!(
                "'{}' and '{}' are the same file",
                src.to_string_lossy(),
                dst.to_string_lossy()
            )));
        }
    }

    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC;
    let id = ring.submit_op(ops::OpenAt::new(dst, flags)?.mode(mode))?;
    let out = ring.wait_for(id)?.map_err(context("cannot create", dst))?;
    // O_CREAT's mode passes through the umask, and an existing DST keeps its own:
    // set SRC's bits outright.
    let out = std::fs::File::from(out);
    out.set_permissions(Permissions::from_mode(mode))
        .map_err(context("cannot set permissions of", dst))?;
    let output = SharedFd::from(OwnedFd::from(out));

    copy(&mut ring, &input, &output).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "copying '{}' to '{}': {e}",
                src.to_string_lossy(),
                dst.to_string_lossy()
            ),
        )
    })?;

    // Every operation has completed, so ours are the last handles: close DST
    // through the ring and report what closing says (a late write error).
    drop(input);
    let fd = output
        .try_unwrap()
        .map_err(|_| io::Error::other("destination still in use"))?;
    let id = ring.submit_op(ops::Close::new(fd))?;
    ring.wait_for(id)?.map_err(context("closing", dst))
}

/// One block's work in flight: the part `[offset, end)` of the file.
enum Step {
    /// Reading `[offset, end)`.
    Read { offset: u64, end: u64 },
    /// Writing the read bytes at `offset`; the block goes on to `end`.
    Write { offset: u64, end: u64 },
}

/// Copies `input` to `output` from offset 0 until `input`'s end.
fn copy(ring: &mut OwnedRing, input: &SharedFd, output: &SharedFd) -> io::Result<()> {
    let mut steps: HashMap<OpKey, Step> = HashMap::new();
    let mut next: u64 = 0;
    let mut eof = false;
    let mut spare: Vec<Vec<u8>> = Vec::new();

    loop {
        // Keep IN_FLIGHT blocks going until the end of the file shows up.
        while !eof && steps.len() < IN_FLIGHT {
            let buf = spare.pop().unwrap_or_else(|| Vec::with_capacity(BLOCK));
            let end = next + BLOCK as u64;
            read(ring, &mut steps, input, buf, next, end)?;
            next = end;
        }
        if steps.is_empty() {
            return Ok(());
        }
        let c = ring.next_completion()?;
        let Some(step) = steps.remove(&c.key()) else {
            // Only our reads and writes are waited for (the timeouts are detached).
            continue;
        };
        match step {
            Step::Read { offset, end } => {
                let (res, mut buf) = take::<ReadOp>(c)?;
                let n = res.map_err(|e| timed_out(e, "read"))?;
                if n == 0 {
                    // The end of the file: nothing more in this block, or after it.
                    eof = true;
                    buf.clear();
                    spare.push(buf);
                    continue;
                }
                buf.truncate(n);
                // Reads are never bigger than asked for, but keep what came.
                let end = end.max(offset + n as u64);
                write(ring, &mut steps, output, buf, offset, end)?;
            }
            Step::Write { offset, end } => {
                let (res, mut buf) = take::<WriteOp>(c)?;
                let n = res.map_err(|e| timed_out(e, "write"))?;
                if n == 0 {
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
                let offset = offset + n as u64;
                if n < buf.len() {
                    // A short write: the rest of the same bytes, further on.
                    buf.drain(..n);
                    write(ring, &mut steps, output, buf, offset, end)?;
                } else if offset < end {
                    // After a short read: read the rest of the block.
                    buf.clear();
                    read(ring, &mut steps, input, buf, offset, end)?;
                } else {
                    buf.clear();
                    spare.push(buf);
                }
            }
        }
    }
}

/// Queues a read of `[offset, end)` into `buf` (empty), with a time limit.
fn read(
    ring: &mut OwnedRing,
    steps: &mut HashMap<OpKey, Step>,
    input: &SharedFd,
    mut buf: Vec<u8>,
    offset: u64,
    end: u64,
) -> io::Result<()> {
    // A read fills the buffer's capacity: reuse it only when that is the size.
    let want = (end - offset) as usize;
    if buf.capacity() != want {
        buf = Vec::with_capacity(want);
    }
    let (id, timeout) = ring.submit_with_timeout(ops::Read::new(input, buf, offset), STALL)?;
    ring.detach(timeout);
    steps.insert(id.key(), Step::Read { offset, end });
    Ok(())
}

/// Queues a write of `buf` at `offset`, with a time limit.
fn write(
    ring: &mut OwnedRing,
    steps: &mut HashMap<OpKey, Step>,
    output: &SharedFd,
    buf: Vec<u8>,
    offset: u64,
    end: u64,
) -> io::Result<()> {
    let (id, timeout) = ring.submit_with_timeout(ops::Write::new(output, buf, offset), STALL)?;
    ring.detach(timeout);
    steps.insert(id.key(), Step::Write { offset, end });
    Ok(())
}

/// The typed output of a completion known to be of a `T`.
fn take<T: uring::owned::Op>(c: Completion) -> io::Result<T::Output> {
    c.downcast::<T>()
        .map_err(|c| io::Error::other(format!("unexpected completion of {}", c.op_name())))
}

/// Says so when an operation was cancelled by its link timeout.
fn timed_out(e: io::Error, what: &str) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ECANCELED) | Some(libc::ETIME) => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what} did not finish within {STALL:?} ({e})"),
        ),
        _ => e,
    }
}
