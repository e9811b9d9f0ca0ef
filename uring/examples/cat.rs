//! `cat`, on io_uring's safe layer: reads the files named on the command line and
//! writes them to standard output, without a line of `unsafe`.
//!
//! Each round queues one linked chain of `readv`s (each into several owned
//! buffers) at the file's position, then one linked chain of `writev`s of the
//! filled buffers to stdout. Links keep each chain in order; a short read (end
//! of file) cancels the rest of its chain.
//!
//! With `--sqpoll` the ring is set up with `IORING_SETUP_SQPOLL`: a kernel thread
//! picks up the queued entries, so submitting needs no system call while it is
//! awake (the safe layer wakes it when it sleeps).
//!
//! ```text
//! cargo run --example cat -- [--sqpoll] /etc/hostname /etc/os-release
//! ```

use std::ffi::OsString;
use std::io;
use std::os::fd::AsFd;
use std::process::ExitCode;

use uring::Ring;
use uring::owned::{OwnedRing, SharedFd, ops};

/// Buffers per `readv`, and their size.
const IOVS: usize = 4;
const BUF: usize = 16 * 1024;
/// `readv`s per chain.
const CHAIN: usize = 4;

fn main() -> ExitCode {
    let mut paths: Vec<OsString> = std::env::args_os().skip(1).collect();
    let sqpoll = paths.first().is_some_and(|a| a == "--sqpoll");
    if sqpoll {
        paths.remove(0);
    }
    if paths.is_empty() {
        eprintln!("usage: cat [--sqpoll] FILE...");
        return ExitCode::from(2);
    }
    match run(&paths, sqpoll) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cat: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(paths: &[OsString], sqpoll: bool) -> io::Result<()> {
    let builder = if sqpoll {
        // The poll thread sleeps after 10 ms without work.
        Ring::builder().sqpoll().sq_thread_idle(10)
    } else {
        Ring::builder()
    };
    let mut ring = OwnedRing::from_builder(builder, 16)
        .map_err(|e| io::Error::new(e.kind(), format!("setting up the ring: {e}")))?;
    let stdout = SharedFd::from(io::stdout().as_fd().try_clone_to_owned()?);
    for path in paths {
        let id = ring.submit_op(ops::OpenAt::new(path, libc::O_RDONLY)?)?;
        let file = ring
            .wait_for(id)?
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.to_string_lossy())))?;
        cat(&mut ring, &SharedFd::from(file), &stdout)?;
    }
    Ok(())
}

/// Copies `file` from its position to its end onto `out`.
fn cat(ring: &mut OwnedRing, file: &SharedFd, out: &SharedFd) -> io::Result<()> {
    loop {
        // One chain of reads, each at the file position (offset -1), in order.
        let reads: Vec<_> = (0..CHAIN)
            .map(|_| {
                let bufs = (0..IOVS).map(|_| Vec::with_capacity(BUF)).collect();
                ops::Readv::new(file, bufs, u64::MAX)
            })
            .collect();
        let ids = ring.submit_linked(reads)?;
        let mut filled: Vec<Vec<u8>> = Vec::new();
        let mut eof = false;
        for id in ids {
            let (res, bufs) = ring.wait_for(id)?;
            match res {
                Ok(n) => {
                    eof |= n < IOVS * BUF;
                    filled.extend(bufs.into_iter().filter(|b| !b.is_empty()));
                }
                // Cut off by a short read earlier in the chain.
                Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => eof = true,
                Err(e) => return Err(e),
            }
        }
        write_all(ring, out, filled)?;
        if eof {
            return Ok(());
        }
    }
}

/// Writes `bufs` to `out`, in order: one linked chain of `writev`s, then any
/// remainder of a short write.
fn write_all(ring: &mut OwnedRing, out: &SharedFd, bufs: Vec<Vec<u8>>) -> io::Result<()> {
    if bufs.is_empty() {
        return Ok(());
    }
    let groups: Vec<Vec<Vec<u8>>> = bufs.chunks(IOVS).map(|c| c.to_vec()).collect();
    let writes: Vec<_> = groups
        .into_iter()
        .map(|g| ops::Writev::new(out, g, u64::MAX))
        .collect();
    let ids = ring.submit_linked(writes)?;
    let mut rest: Vec<u8> = Vec::new();
    for id in ids {
        let (res, bufs) = ring.wait_for(id)?;
        let all: Vec<u8> = bufs.concat();
        match res {
            Ok(n) => rest.extend_from_slice(&all[n..]),
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => rest.extend_from_slice(&all),
            Err(e) => return Err(e),
        }
    }
    // Whatever a short write left, written plainly until done.
    while !rest.is_empty() {
        let id = ring.submit_op(ops::Write::new(out, rest, u64::MAX))?;
        let (res, mut buf) = ring.wait_for(id)?;
        let n = res?;
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        buf.drain(..n);
        rest = buf;
    }
    Ok(())
}
