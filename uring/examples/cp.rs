//! `cp`, on io_uring's safe layer: copies SRC to DST without a line of `unsafe`.
//!
//! The file is copied in blocks of [`BLOCK`] bytes, [`IN_FLIGHT`] of them at a
//! time, each at its own offset (`pread`/`pwrite` style), so blocks may finish in
//! any order. Each block goes to the kernel as one linked chain:
//!
//! ```text
//! read(SRC, buf) -> link_timeout -> write(DST, buf) -> link_timeout
//! ```
//!
//! The read and the write share one buffer through a [`ChainedBuf`]: its two
//! handles are owned by the two operations, and the bytes come back only when both
//! have completed. The kernel starts the write only after the read filled the
//! buffer (`IO_LINK`); each [`ops::LinkTimeout`] cancels its operation if it stalls
//! for [`STALL`], and the copy then fails instead of hanging.
//!
//! A short read (the file's last block) breaks the chain: the write completes with
//! `ECANCELED`, the bytes that were read are written on their own, and the rest of
//! the block is read again (a read of 0 bytes is the end of the file). A short
//! write is finished the same way. DST is created (or truncated) with SRC's
//! permission bits, and is truncated to the length copied at the end.
//!
//! ```text
//! cargo run -p uring --example cp -- SRC DST
//! ```

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Permissions;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::time::Duration;

use uring::owned::{ChainedBuf, Completion, Drain, Fill, OpKey, OwnedRing, SharedFd, ops};

/// Bytes per block.
const BLOCK: usize = 128 * 1024;
/// Blocks in flight at once.
const IN_FLIGHT: usize = 4;
/// How long one read or write may take before it is cancelled.
const STALL: Duration = Duration::from_secs(30);

type ReadOp = ops::Read<Fill>;
type WriteOp = ops::Write<Drain>;
type PlainWriteOp = ops::Write<Vec<u8>>;

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

/// One block in flight: the part `[offset, end)` of the file.
struct Block {
    offset: u64,
    end: u64,
    /// The chain's read, once it completed.
    read: Option<(io::Result<usize>, Fill)>,
    /// The chain's write, once it completed.
    write: Option<(io::Result<usize>, Drain)>,
}

/// What a completion we wait for is.
#[derive(Clone, Copy)]
enum Role {
    /// The read of block `n`'s chain.
    Read(u64),
    /// The write of block `n`'s chain.
    Write(u64),
    /// A write, outside a chain, of bytes already read for block `n`.
    Plain(u64),
}

/// The copy's state: blocks in flight, what each completion is, where the file ends.
struct Copy<'a> {
    ring: &'a mut OwnedRing,
    input: &'a SharedFd,
    output: &'a SharedFd,
    blocks: HashMap<u64, Block>,
    roles: HashMap<OpKey, Role>,
    next_block: u64,
    /// The lowest offset at which a read found the end of the file.
    eof: Option<u64>,
}

/// Copies `input` to `output` from offset 0 until `input`'s end.
fn copy(ring: &mut OwnedRing, input: &SharedFd, output: &SharedFd) -> io::Result<()> {
    let mut copy = Copy {
        ring,
        input,
        output,
        blocks: HashMap::new(),
        roles: HashMap::new(),
        next_block: 0,
        eof: None,
    };
    let mut next: u64 = 0;
    loop {
        // Keep IN_FLIGHT blocks going until the end of the file shows up.
        while copy.eof.is_none() && copy.blocks.len() < IN_FLIGHT {
            let end = next + BLOCK as u64;
            copy.start(next, end)?;
            next = end;
        }
        if copy.blocks.is_empty() {
            break;
        }
        let c = copy.ring.next_completion()?;
        // Only our reads and writes are waited for (the timeouts are detached).
        if let Some(role) = copy.roles.remove(&c.key()) {
            copy.on_completion(role, c)?;
        }
    }
    // Whatever a kernel wrote past the end (a write that a short read did not
    // cancel) is cut off.
    let len = copy.eof.unwrap_or(next);
    let has_ftruncate = copy
        .ring
        .ring()
        .probe()
        .is_ok_and(|p| p.is_supported(uring::op::Ftruncate::CODE));
    if has_ftruncate {
        let id = copy.ring.submit_op(ops::Ftruncate::new(output, len))?;
        copy.ring.wait_for(id)?
    } else {
        // IORING_OP_FTRUNCATE is Linux 6.9: before that, ftruncate(2) itself.
        std::fs::File::from(output.as_fd().try_clone_to_owned()?).set_len(len)
    }
}

impl Copy<'_> {
    /// Queues block `[offset, end)` as a linked read -> write chain.
    fn start(&mut self, offset: u64, end: u64) -> io::Result<()> {
        let n = self.next_block;
        self.next_block += 1;
        self.blocks.insert(
            n,
            Block {
                offset,
                end,
                read: None,
                write: None,
            },
        );
        self.chain(n)
    }

    /// Queues the chain for what is left of block `n`.
    fn chain(&mut self, n: u64) -> io::Result<()> {
        let block = &self.blocks[&n];
        let (offset, len) = (block.offset, (block.end - block.offset) as usize);
        let (fill, drain) = ChainedBuf::zeroed(len);
        let (read, t1, write, t2) = self.ring.submit_linked((
            ops::Read::new(self.input, fill, offset),
            ops::LinkTimeout::new(STALL),
            ops::Write::new(self.output, drain, offset),
            ops::LinkTimeout::new(STALL),
        ))?;
        self.ring.detach(t1);
        self.ring.detach(t2);
        self.roles.insert(read.key(), Role::Read(n));
        self.roles.insert(write.key(), Role::Write(n));
        Ok(())
    }

    /// Queues a write of `bytes` (read for block `n`) at `offset`.
    fn plain_write(&mut self, n: u64, bytes: Vec<u8>, offset: u64) -> io::Result<()> {
        let (id, timeout) = self
            .ring
            .submit_with_timeout(ops::Write::new(self.output, bytes, offset), STALL)?;
        self.ring.detach(timeout);
        self.roles.insert(id.key(), Role::Plain(n));
        Ok(())
    }

    fn on_completion(&mut self, role: Role, c: Completion) -> io::Result<()> {
        match role {
            Role::Read(n) => {
                let out = take::<ReadOp>(c)?;
                let block = self.blocks.get_mut(&n).expect("a block in flight");
                block.read = Some(out);
                self.settle(n)
            }
            Role::Write(n) => {
                let out = take::<WriteOp>(c)?;
                let block = self.blocks.get_mut(&n).expect("a block in flight");
                block.write = Some(out);
                self.settle(n)
            }
            Role::Plain(n) => {
                let (res, mut bytes) = take::<PlainWriteOp>(c)?;
                let m = res.map_err(|e| timed_out(e, "write"))?;
                if m == 0 {
                    return Err(io::Error::from(io::ErrorKind::WriteZero));
                }
                let block = self.blocks.get_mut(&n).expect("a block in flight");
                block.offset += m as u64;
                bytes.drain(..m);
                if !bytes.is_empty() {
                    // A short write: the rest of the same bytes, further on.
                    let offset = block.offset;
                    self.plain_write(n, bytes, offset)
                } else if block.offset < block.end {
                    // After a short read: the rest of the block, as a new chain.
                    self.chain(n)
                } else {
                    self.blocks.remove(&n);
                    Ok(())
                }
            }
        }
    }

    /// Once both members of block `n`'s chain have completed: done, or what is
    /// left of the block queued.
    fn settle(&mut self, n: u64) -> io::Result<()> {
        let block = self.blocks.get_mut(&n).expect("a block in flight");
        if block.read.is_none() || block.write.is_none() {
            return Ok(());
        }
        let (read, fill) = block.read.take().expect("checked above");
        let (write, drain) = block.write.take().expect("checked above");
        let len = (block.end - block.offset) as usize;
        let got = read.map_err(|e| timed_out(e, "read"))?;
        let written = match write {
            Ok(m) => m,
            // The chain broke at the read (short, or empty): nothing written.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) && got < len => 0,
            Err(e) => return Err(timed_out(e, "write")),
        };
        if got == 0 {
            // The end of the file: nothing in this block, or after it.
            let at = block.offset;
            self.eof = Some(self.eof.map_or(at, |e| e.min(at)));
            self.blocks.remove(&n);
            return Ok(());
        }
        let mut bytes = ChainedBuf::join(fill, drain).map_err(|_| {
            io::Error::other("a chain's read and write came back with different buffers")
        })?;
        // What was read and not yet written (a short read or a short write).
        let done = written.min(got);
        bytes.drain(..done);
        let offset = block.offset + done as u64;
        block.offset = offset;
        if bytes.is_empty() {
            self.blocks.remove(&n);
            return Ok(());
        }
        // The bytes already read go out on their own; the rest of the block (after
        // a short read) follows as a new chain once they are written (`Role::Plain`).
        self.plain_write(n, bytes, offset)
    }
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
