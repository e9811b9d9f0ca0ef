//! Runs a [`Program`] against the kernel and checks the model after every step.
//!
//! The model, in short:
//!
//! * **Bytes.** Every stream has a writer end and a reader end, both the
//!   process's. Writers send the stream's bytes in order: byte `i` of stream `u`
//!   is [`pattern`]`(u, i)`. At most one write-side and one read-side operation
//!   is in flight per stream, so a write completing with `n` moves the stream's
//!   written position by `n`, and every byte a read returns must be the next
//!   expected one: a byte read twice, lost, or out of order breaks the pattern.
//!   When the model cannot know what an operation did (its completion was
//!   dropped, its id detached, its ring dropped under it) it widens: a write of
//!   unknown outcome allows up to its length more bytes and ends writing on the
//!   stream; a read of unknown outcome ends the byte checks of the stream. At the
//!   end every stream is drained with plain `read(2)`: exactly the bytes written
//!   come out.
//! * **Completions.** Every operation gets exactly one final completion, with the
//!   output of its type; a completion for an operation not in flight, or a second
//!   one, is a failure; the ring's `in_flight` agrees with the model; at the end,
//!   after cancelling everything, nothing is left in flight or leaked
//!   (`leaked_ops` does not move: every operation here can be cancelled).
//! * **Descriptors.** The process's descriptors (`/proc/self/fd`) after the
//!   program are those before it, plus at most what the program leaked on
//!   purpose (`mem::forget` of a ring or a future); none of those present before
//!   has been closed.
//! * **Pool buffers.** Guards held at once name distinct buffers; the pool's
//!   `available` plus the guards held plus those forgotten is the pool's size
//!   whenever nothing is in flight (and never more). Registered buffers likewise.
//!   A send queue's queued bytes are what was pushed and not reported sent.
//! * **Time.** No program runs past its time bound (a watchdog aborts the process,
//!   printing the program, if one hangs in a call).

mod collect;
mod completed;
mod fds;
mod model;
mod setup;
mod step;
mod submit;
mod teardown;

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{OwnedFd, RawFd};
use std::time::{Duration, Instant};

use uring::owned::{OwnedRing, SharedFd, leaked_ops};

use crate::program::{Program, StreamKind};
use crate::rng::{Rng, mix};

pub use fds::{open_fds, prepare_process};
use model::{FileModel, Held, OpRec, Regs, Stream};

/// Byte `pos` of stream `uid`.
pub fn pattern(uid: u64, pos: u64) -> u8 {
    (mix(uid << 40 ^ pos) >> 24) as u8
}

fn pattern_vec(uid: u64, from: u64, len: usize) -> Vec<u8> {
    (0..len as u64).map(|i| pattern(uid, from + i)).collect()
}

/// An invariant that did not hold.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Which invariant (a short, stable name: the minimiser keeps a program only
    /// while it fails the same one).
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
    /// The index of the action after which it was found (`None`: at the end).
    pub step: Option<usize>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(i) => write!(f, "[{}] after action {i}: {}", self.invariant, self.detail),
            None => write!(f, "[{}] at the end: {}", self.invariant, self.detail),
        }
    }
}

fn fail(invariant: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        invariant,
        detail: detail.into(),
        step: None,
    }
}

/// What one program did.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Actions run.
    pub actions: u64,
    /// Operations submitted.
    pub ops: u64,
    /// Final completions checked.
    pub completions: u64,
    /// Multishot items checked.
    pub items: u64,
    /// Bytes checked against the pattern.
    pub bytes: u64,
    /// Invariant checks made.
    pub checks: u64,
    /// Submissions the ring refused (full queue, chain too long, …).
    pub refused: u64,
    /// Rings made (the first and one after each `EndRing`).
    pub rings: u64,
    /// Whether the setup was not available and a default ring served instead.
    pub setup_fallback: bool,
    /// Descriptors made or closed during this program by operations that earlier
    /// programs leaked (with forgotten rings).
    pub carried: u64,
}

/// Runs programs; one per process at a time (it counts the process's descriptors).
pub struct Runner<'p> {
    prog: &'p Program,
    rng: Rng,
    deadline: Instant,
    ring: Option<OwnedRing>,
    ring_gen: u64,
    regs: Regs,
    ops: Vec<OpRec>,
    /// Ops detached (or whose completions will be dropped unseen) still possibly in
    /// flight on the current ring.
    detached: usize,
    streams: Vec<Stream>,
    next_uid: u64,
    held: Vec<Held>,
    tcp_std: Option<TcpListener>,
    tcp_uring: Option<(SharedFd, SocketAddr)>,
    /// An accept was leaked with a ring: every later connection may be accepted
    /// into the leak.
    accept_leaked: bool,
    /// Operations of the current ring detached (or otherwise out of the model's
    /// sight) that may still be in flight.
    lost: Vec<OpRec>,
    pending_clients: Vec<TcpStream>,
    file: Option<FileModel>,
    opened: Vec<OwnedFd>,
    junk: Vec<File>,
    /// Descriptors the program may leave open by design, and how many more of
    /// unknown numbers.
    leak_fds: HashSet<RawFd>,
    leak_anon: usize,
    leaked_pools: HashSet<u64>,
    baseline: HashSet<RawFd>,
    leaked_before: usize,
    /// Leaks the model allowed (zero-copy sends waiting for their notification).
    allowed_leaks: usize,
    out: Outcome,
}

impl<'p> Runner<'p> {
    /// Runs `prog`, giving it `budget` of time; the first invariant that fails
    /// ends it.
    pub fn run(prog: &'p Program, budget: Duration) -> Result<Outcome, Failure> {
        let mut r = Runner {
            prog,
            rng: Rng::new(mix(prog.seed ^ 0x5eed)),
            deadline: Instant::now() + budget,
            ring: None,
            ring_gen: 0,
            regs: Regs::default(),
            ops: Vec::new(),
            detached: 0,
            streams: Vec::new(),
            next_uid: prog.seed.wrapping_mul(1000),
            held: Vec::new(),
            tcp_std: None,
            tcp_uring: None,
            accept_leaked: false,
            lost: Vec::new(),
            pending_clients: Vec::new(),
            file: None,
            opened: Vec::new(),
            junk: Vec::new(),
            leak_fds: HashSet::new(),
            leak_anon: 0,
            leaked_pools: HashSet::new(),
            baseline: open_fds(),
            leaked_before: leaked_ops(),
            allowed_leaks: 0,
            out: Outcome::default(),
        };
        let res = r.body();
        let res = res.and_then(|()| r.finish());
        // Whatever happened, release what is still held (a failure's state is
        // not checked further).
        r.teardown();
        res.map(|()| r.out.clone())
    }

    fn body(&mut self) -> Result<(), Failure> {
        self.new_stream(StreamKind::Unix)
            .map_err(|e| fail("setup", e.to_string()))?;
        self.new_stream(StreamKind::Pipe)
            .map_err(|e| fail("setup", e.to_string()))?;
        for (i, a) in self.prog.actions.iter().enumerate() {
            let at = |mut f: Failure| {
                f.step = Some(i);
                f
            };
            self.step(*a).map_err(at)?;
            self.collect().map_err(at)?;
            self.check().map_err(at)?;
            self.out.actions += 1;
            if Instant::now() > self.deadline {
                return Err(at(fail("time", "the program ran past its time bound")));
            }
        }
        Ok(())
    }
}
