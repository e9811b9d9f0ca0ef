//! Programs: a ring setup and a list of actions over the safe API, generated from
//! a seed.
//!
//! Every action is valid in any context: it names streams, operations and guards
//! by a small number taken modulo how many exist when it runs (and does nothing if
//! none does). So any sub-list of a program is a program too, which is what the
//! minimiser relies on.

use std::fmt;

use crate::rng::Rng;

/// How the program's rings are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// `entries` submission entries, the default completion queue (twice as many).
    Default { entries: u32 },
    /// A completion queue of `cq` entries for `entries` submission entries: it
    /// overflows easily.
    TinyCq { entries: u32, cq: u32 },
    /// One or two submission entries: submitting makes room all the time.
    TinySq { entries: u32 },
    /// `IORING_SETUP_SQPOLL`: a kernel thread takes the submissions.
    Sqpoll { entries: u32 },
    /// `IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN`: completions are
    /// posted only when the ring is entered to wait for them.
    DeferTaskrun { entries: u32 },
}

impl Setup {
    fn generate(rng: &mut Rng) -> Setup {
        match rng.weighted(&[4, 2, 2, 1, 2]) {
            0 => Setup::Default {
                entries: 1 << rng.range(2, 6),
            },
            1 => Setup::TinyCq {
                entries: 1 << rng.range(0, 2),
                cq: 1 << rng.range(2, 3),
            },
            2 => Setup::TinySq {
                entries: rng.range(1, 2) as u32,
            },
            3 => Setup::Sqpoll {
                entries: 1 << rng.range(2, 5),
            },
            _ => Setup::DeferTaskrun {
                entries: 1 << rng.range(2, 5),
            },
        }
    }
}

/// The kind of a byte stream between two descriptors of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// `pipe2(2)`.
    Pipe,
    /// `socketpair(AF_UNIX, SOCK_STREAM)`.
    Unix,
    /// A TCP connection on loopback, made by the program's listener.
    Tcp,
}

/// How bytes are written to a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteHow {
    Write,
    Writev,
    Send,
    SendMsg,
    SendZc,
    WriteFixed,
    /// Queue the bytes on the ring's `SendQueue` and send a `SendBundle`.
    Bundle,
}

/// How bytes are read from a stream (one completion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadHow {
    Read,
    Readv,
    Recv,
    RecvMsg,
    ReadFixed,
    ReadSelect,
    RecvSelect,
    RecvBundle,
}

/// A multishot read of a stream into the ring's buffer pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiHow {
    RecvMultishot,
    ReadMultishot,
    RecvBundleMultishot,
}

/// How the program is done with its ring (a new one is made for what follows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingEnd {
    /// `drop(ring)` with whatever is in flight.
    Drop,
    /// `ring.close()`, checking its report.
    Close,
    /// `mem::forget(ring)`: everything in flight is leaked, by design.
    Forget,
}

/// One step of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Make a new stream.
    NewStream(StreamKind),
    /// Write the stream's next `len` bytes, optionally with a linked timeout.
    Write {
        s: u8,
        len: u32,
        how: WriteHow,
        timeout_ms: Option<u8>,
    },
    /// Read up to `len` bytes, optionally with a linked timeout.
    Read {
        s: u8,
        len: u32,
        how: ReadHow,
        timeout_ms: Option<u8>,
    },
    /// Start a multishot read.
    ReadMultishot { s: u8, how: MultiHow },
    /// A linked chain: write `wlen` bytes, then read up to `rlen`, then maybe a
    /// link timeout on the read.
    Chain {
        s: u8,
        wlen: u32,
        rlen: u32,
        timeout_ms: Option<u8>,
    },
    /// Poll the stream's reader for input, once or multishot.
    Poll { s: u8, multi: bool },
    /// A NOP; `wait` waits for it with `wait_for`.
    Nop { wait: bool },
    /// A timer: single (`count == 0`) or multishot firing `count` times.
    Timer { ms: u8, count: u8 },
    /// Accept on the program's TCP listener, once or multishot.
    Accept { multi: bool },
    /// Connect a client to the listener (the accepted end becomes a stream).
    Connect,
    /// Open the program's file (`OpenAt`).
    Open,
    /// Close an opened descriptor with `ops::Close`.
    CloseOpened { i: u8 },
    /// Write `len` bytes of the file at `off`.
    FileWrite { off: u32, len: u32 },
    /// Read `len` bytes of the file at `off`.
    FileRead { off: u32, len: u32 },
    /// Cancel an operation in flight.
    Cancel { op: u8 },
    /// Detach an operation: its output is dropped when it completes.
    Detach { op: u8 },
    /// Drop the operation's completion without looking at it.
    DropCompletion { op: u8 },
    /// `mem::forget` the operation's id (it is then found by its key only).
    ForgetId { op: u8 },
    /// Take the items a multishot operation has so far (`poll_item`).
    TakeItems { op: u8 },
    /// Drop a held pool buffer (it goes back to the pool), maybe on another
    /// thread.
    ReleaseGuard { g: u8, other_thread: bool },
    /// `mem::forget` a held pool buffer (it never goes back).
    ForgetGuard { g: u8 },
    /// Submit what is queued.
    Submit,
    /// Process what has completed, without waiting.
    Reap,
    /// Wait up to `ms` for one completion.
    Wait { ms: u8 },
    /// Submit `n` NOPs without reaping: the completion queue overflows.
    FillCq { n: u8 },
    /// The writer hangs up (`shutdown(SHUT_WR)`, or closing a pipe's write end).
    HangUp { s: u8 },
    /// Close the process's own copy of a stream's descriptor; with `reuse`, open
    /// `/dev/null` at once so the number is taken again if it was freed.
    CloseUserFd { s: u8, reader: bool, reuse: bool },
    /// Be done with the ring; a fresh one serves the rest.
    EndRing(RingEnd),
    /// An async episode: a read future on a stream, polled once, then dropped or
    /// forgotten (`AsyncRing`).
    AsyncRead { s: u8, forget: bool },
}

fn small_len(rng: &mut Rng) -> u32 {
    match rng.weighted(&[6, 3, 1]) {
        0 => rng.range(1, 64) as u32,
        1 => rng.range(65, 4096) as u32,
        _ => rng.range(4097, 160 * 1024) as u32,
    }
}

fn timeout(rng: &mut Rng) -> Option<u8> {
    rng.chance(1, 4).then(|| rng.range(0, 20) as u8)
}

impl Action {
    fn generate(rng: &mut Rng) -> Action {
        let s = rng.below(256) as u8;
        let op = rng.below(256) as u8;
        const W: &[u32] = &[
            2, 14, 12, 4, 3, 2, 3, 2, 2, 2, 2, 2, 2, 2, 4, 2, 2, 1, 2, 3, 1, 2, 3, 5, 1, 1, 1, 1, 1,
        ];
        match rng.weighted(W) {
            0 => Action::NewStream(match rng.below(3) {
                0 => StreamKind::Pipe,
                1 => StreamKind::Unix,
                _ => StreamKind::Tcp,
            }),
            1 => Action::Write {
                s,
                len: small_len(rng),
                how: match rng.weighted(&[4, 2, 3, 2, 1, 1, 2]) {
                    0 => WriteHow::Write,
                    1 => WriteHow::Writev,
                    2 => WriteHow::Send,
                    3 => WriteHow::SendMsg,
                    4 => WriteHow::SendZc,
                    5 => WriteHow::WriteFixed,
                    _ => WriteHow::Bundle,
                },
                timeout_ms: timeout(rng),
            },
            2 => Action::Read {
                s,
                len: small_len(rng),
                how: match rng.weighted(&[4, 2, 3, 2, 1, 2, 2, 2]) {
                    0 => ReadHow::Read,
                    1 => ReadHow::Readv,
                    2 => ReadHow::Recv,
                    3 => ReadHow::RecvMsg,
                    4 => ReadHow::ReadFixed,
                    5 => ReadHow::ReadSelect,
                    6 => ReadHow::RecvSelect,
                    _ => ReadHow::RecvBundle,
                },
                timeout_ms: timeout(rng),
            },
            3 => Action::ReadMultishot {
                s,
                how: match rng.below(3) {
                    0 => MultiHow::RecvMultishot,
                    1 => MultiHow::ReadMultishot,
                    _ => MultiHow::RecvBundleMultishot,
                },
            },
            4 => Action::Chain {
                s,
                wlen: small_len(rng),
                rlen: small_len(rng),
                timeout_ms: timeout(rng),
            },
            5 => Action::Poll {
                s,
                multi: rng.chance(1, 2),
            },
            6 => Action::Nop {
                wait: rng.chance(1, 3),
            },
            7 => Action::Timer {
                ms: rng.range(0, 30) as u8,
                count: if rng.chance(1, 2) {
                    0
                } else {
                    rng.range(1, 4) as u8
                },
            },
            8 => Action::Accept {
                multi: rng.chance(1, 2),
            },
            9 => Action::Connect,
            10 => Action::Open,
            11 => Action::CloseOpened { i: op },
            12 => Action::FileWrite {
                off: rng.below(16 * 1024) as u32,
                len: small_len(rng).min(32 * 1024),
            },
            13 => Action::FileRead {
                off: rng.below(16 * 1024) as u32,
                len: small_len(rng).min(32 * 1024),
            },
            14 => Action::Cancel { op },
            15 => Action::Detach { op },
            16 => Action::DropCompletion { op },
            17 => Action::ForgetId { op },
            18 => Action::TakeItems { op },
            19 => Action::ReleaseGuard {
                g: op,
                other_thread: rng.chance(1, 3),
            },
            20 => Action::ForgetGuard { g: op },
            21 => Action::Submit,
            22 => Action::Reap,
            23 => Action::Wait {
                ms: rng.range(0, 20) as u8,
            },
            24 => Action::FillCq {
                n: rng.range(4, 64) as u8,
            },
            25 => Action::HangUp { s },
            26 => Action::CloseUserFd {
                s,
                reader: rng.chance(1, 2),
                reuse: rng.chance(1, 2),
            },
            27 => Action::EndRing(match rng.weighted(&[3, 3, 1]) {
                0 => RingEnd::Drop,
                1 => RingEnd::Close,
                _ => RingEnd::Forget,
            }),
            _ => Action::AsyncRead {
                s,
                forget: rng.chance(1, 2),
            },
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Debug form is already a faithful, readable spelling.
        write!(f, "{self:?}")
    }
}

/// A program: its seed, ring setup and actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The seed it was generated from.
    pub seed: u64,
    /// How its rings are set up.
    pub setup: Setup,
    /// What it does, in order.
    pub actions: Vec<Action>,
}

impl Program {
    /// The program `seed` stands for: between 10 and `max_actions` actions.
    pub fn generate(seed: u64, max_actions: usize) -> Program {
        let mut rng = Rng::new(seed);
        let setup = Setup::generate(&mut rng);
        let n = rng.range(10, max_actions.max(10) as u64) as usize;
        let actions = (0..n).map(|_| Action::generate(&mut rng)).collect();
        Program {
            seed,
            setup,
            actions,
        }
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {:#x}, setup {:?}, {} actions:",
            self.seed,
            self.setup,
            self.actions.len()
        )?;
        for (i, a) in self.actions.iter().enumerate() {
            writeln!(f, "  {i:3}: {a}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_program() {
        for seed in 0..50 {
            let a = Program::generate(seed, 200);
            assert_eq!(a, Program::generate(seed, 200));
            assert!((10..=200).contains(&a.actions.len()));
        }
        assert_ne!(Program::generate(1, 200), Program::generate(2, 200));
    }

    #[test]
    fn every_kind_of_action_is_generated() {
        let mut kinds = std::collections::HashSet::new();
        for seed in 0..200 {
            for a in Program::generate(seed, 200).actions {
                kinds.insert(std::mem::discriminant(&a));
            }
        }
        assert_eq!(kinds.len(), 29);
    }
}
