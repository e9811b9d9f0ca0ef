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

use std::collections::HashSet;
use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::mem;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use uring::owned::{
    AsyncRing, BufPool, Completion, FixedBuf, FixedBufs, ItemPoll, Multi, OpId, OpKey, OwnedRing,
    PoolBuf, ReadFixed, SendBundle, SendQueue, SharedFd, WriteFixed, leaked_ops, ops,
};

use crate::program::{Action, MultiHow, Program, ReadHow, RingEnd, Setup, StreamKind, WriteHow};
use crate::rng::{Rng, mix};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Write(WriteHow),
    Read(ReadHow),
    Multi(MultiHow),
    Poll,
    PollMultishot,
    Nop,
    Timer,
    TimerMulti,
    LinkTimeout,
    Accept,
    AcceptMultishot,
    Open,
    Close,
    FileWrite,
    FileRead,
}

/// An id of any operation type, for cancelling and detaching.
trait Handle {
    fn cancel(&self, ring: &mut OwnedRing) -> io::Result<()>;
    fn detach(self: Box<Self>, ring: &mut OwnedRing);
}

impl<T: 'static> Handle for OpId<T> {
    fn cancel(&self, ring: &mut OwnedRing) -> io::Result<()> {
        ring.cancel(self)
    }
    fn detach(self: Box<Self>, ring: &mut OwnedRing) {
        ring.detach(*self)
    }
}

/// The typed id the runner keeps of each operation (`None` once forgotten).
enum Typed {
    None,
    Any(Box<dyn Handle>),
    RecvMultishot(OpId<Multi<ops::RecvMultishot>>),
    ReadMultishot(OpId<Multi<ops::ReadMultishot>>),
    BundleMulti(OpId<Multi<ops::RecvBundleMultishot>>),
    AcceptMultishot(OpId<Multi<ops::AcceptMultishot>>),
    PollMultishot(OpId<Multi<ops::PollMultishot>>),
    TimerMulti(OpId<Multi<ops::TimeoutMultishot>>),
}

struct OpRec {
    key: OpKey,
    kind: Kind,
    stream: Option<usize>,
    reader: bool,
    writer: bool,
    /// For writes: the bytes `[start, start + len)` of the stream.
    start: u64,
    len: u64,
    /// For file operations: the range.
    file: (u64, u64),
    /// For `Close`: the descriptor it closes.
    fd_num: RawFd,
    drop_completion: bool,
    typed: Typed,
}

struct Stream {
    uid: u64,
    kind: StreamKind,
    w: Option<SharedFd>,
    r: Option<SharedFd>,
    w_raw: RawFd,
    r_raw: RawFd,
    /// Bytes known written.
    wpos: u64,
    /// Bytes possibly written (above `wpos` only after a write of unknown outcome).
    hi: u64,
    /// The end of the bytes of the write in flight (or of the send queue).
    inflight_hi: u64,
    /// Bytes read and checked.
    rpos: u64,
    read_lost: bool,
    write_dead: bool,
    writer_busy: bool,
    reader_busy: bool,
    /// The reader's user copy was closed: no drain at the end.
    reader_closed: bool,
}

/// Pool buffers the program holds: one guard or a bundle's guards.
struct Held {
    pool: u64,
    bufs: Vec<PoolBuf>,
}

/// The registrations of the current ring.
#[derive(Default)]
struct Regs {
    pool: Option<BufPool>,
    pool_id: u64,
    pool_forgotten: usize,
    /// The pool's accounting can be checked (nothing of it was leaked with a ring).
    pool_exact: bool,
    pool_failed: bool,
    fixed: Option<FixedBufs>,
    fixed_failed: bool,
    queue: Option<SendQueue<Vec<u8>>>,
    queue_failed: bool,
    /// The stream the queue's bytes are for, and how many are queued.
    queue_owner: Option<usize>,
    queue_pending: u64,
    bundle_in_flight: bool,
}

struct FileModel {
    path: PathBuf,
    fd: SharedFd,
    /// The file's bytes, `None` where a write of unknown outcome may have landed.
    bytes: Vec<Option<u8>>,
    /// A write of unknown outcome may have made the file longer.
    len_unknown: bool,
    busy: bool,
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

/// What operations leaked by earlier programs may still do to the process's
/// descriptors: make up to `create` new ones, close those in `close`.
struct Carry {
    create: usize,
    close: Vec<RawFd>,
}

impl Carry {
    fn take_close(&mut self, fd: RawFd) -> bool {
        match self.close.iter().position(|&c| c == fd) {
            Some(i) => {
                self.close.swap_remove(i);
                true
            }
            None => false,
        }
    }
}

static CARRY: std::sync::Mutex<Carry> = std::sync::Mutex::new(Carry {
    create: 0,
    close: Vec::new(),
});

fn carry() -> std::sync::MutexGuard<'static, Carry> {
    CARRY.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process's open descriptors.
pub fn open_fds() -> HashSet<RawFd> {
    let mut set = HashSet::new();
    let dir = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    for e in dir.flatten() {
        if let Some(n) = e.file_name().to_str().and_then(|s| s.parse().ok()) {
            set.insert(n);
        }
    }
    // The directory's own descriptor was in the listing and is closed now.
    set.retain(|&fd| unsafe_fd_is_open(fd));
    set
}

fn unsafe_fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; any number is allowed.
    unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
}

fn describe_fd(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| format!("{fd} -> {}", p.display()))
        .unwrap_or_else(|_| format!("{fd} (closed)"))
}

/// Once per process: SIGPIPE ignored (writes to a hung-up pipe are `EPIPE`
/// results, not deaths) and the descriptor limit raised (forgotten rings leak
/// descriptors by design, program after program).
pub fn prepare_process() {
    // SAFETY: setting a signal's disposition to SIG_IGN and raising a resource
    // limit to its hard maximum touch no memory of ours.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        let mut lim: libc::rlimit = mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both are new descriptors nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn peer_of(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: getpeername writes at most `len` bytes into the storage.
    unsafe {
        let mut ss: libc::sockaddr_storage = mem::zeroed();
        let mut len = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if libc::getpeername(fd, (&raw mut ss).cast(), &mut len) < 0 {
            return None;
        }
        if i32::from(ss.ss_family) != libc::AF_INET {
            return None;
        }
        let sin = &*(&raw const ss).cast::<libc::sockaddr_in>();
        let ip = std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
        Some(SocketAddr::from((ip, u16::from_be(sin.sin_port))))
    }
}

fn errno(e: &io::Error) -> i32 {
    uring::error::errno(e).unwrap_or(0)
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

    // ----- rings -------------------------------------------------------------------

    fn make_ring(&mut self) -> Result<(), Failure> {
        let b = uring::Ring::builder();
        let made = match self.prog.setup {
            Setup::Default { entries } | Setup::TinySq { entries } => OwnedRing::new(entries),
            Setup::TinyCq { entries, cq } => OwnedRing::from_builder(b.cq_entries(cq), entries),
            Setup::Sqpoll { entries } => {
                OwnedRing::from_builder(b.sqpoll().sq_thread_idle(20), entries)
            }
            Setup::DeferTaskrun { entries } => {
                OwnedRing::from_builder(b.single_issuer().defer_taskrun(), entries)
            }
        };
        let mut ring = match made {
            Ok(r) => r,
            Err(_) => {
                self.out.setup_fallback = true;
                OwnedRing::new(8).map_err(|e| fail("setup", format!("no ring at all: {e}")))?
            }
        };
        ring.set_drop_timeout(Duration::from_secs(1));
        self.ring = Some(ring);
        self.ring_gen += 1;
        self.out.rings += 1;
        self.regs = Regs {
            pool_id: self.ring_gen,
            pool_exact: true,
            ..Regs::default()
        };
        Ok(())
    }

    fn ring(&mut self) -> Result<&mut OwnedRing, Failure> {
        if self.ring.is_none() {
            self.make_ring()?;
        }
        Ok(self.ring.as_mut().expect("just made"))
    }

    /// The pool of the current ring, made on first use (None where the kernel has
    /// no buffer rings).
    fn pool(&mut self) -> Result<Option<BufPool>, Failure> {
        if self.regs.pool.is_none() && !self.regs.pool_failed {
            let count = 1u16 << self.rng.range(1, 3);
            let size = [16u32, 64, 512, 4096][self.rng.below(4) as usize];
            let ring = self.ring()?;
            match BufPool::new(ring, 1, count, size) {
                Ok(p) => self.regs.pool = Some(p),
                Err(_) => self.regs.pool_failed = true,
            }
        }
        Ok(self.regs.pool.clone())
    }

    fn fixed(&mut self) -> Result<Option<FixedBuf>, Failure> {
        if self.regs.fixed.is_none() && !self.regs.fixed_failed {
            let ring = self.ring()?;
            match FixedBufs::new(ring, 4, 64 * 1024) {
                Ok(f) => self.regs.fixed = Some(f),
                Err(_) => self.regs.fixed_failed = true,
            }
        }
        Ok(self.regs.fixed.as_ref().and_then(FixedBufs::get))
    }

    fn queue(&mut self) -> Result<Option<SendQueue<Vec<u8>>>, Failure> {
        if self.regs.queue.is_none() && !self.regs.queue_failed {
            let cap = 1u16 << self.rng.range(0, 3);
            let ring = self.ring()?;
            let ok = ring
                .ring()
                .features()
                .contains(uring::Features::RECVSEND_BUNDLE);
            match SendQueue::new(ring, 2, cap) {
                Ok(q) if ok => self.regs.queue = Some(q),
                _ => self.regs.queue_failed = true,
            }
        }
        Ok(self.regs.queue.clone())
    }

    // ----- streams -----------------------------------------------------------------

    fn new_stream(&mut self, kind: StreamKind) -> io::Result<()> {
        if self.streams.len() >= 10 {
            return Ok(());
        }
        let (w, r): (OwnedFd, OwnedFd) = match kind {
            StreamKind::Pipe => {
                let (r, w) = pipe()?;
                (w, r)
            }
            StreamKind::Unix => {
                let (a, b) = UnixStream::pair()?;
                (a.into(), b.into())
            }
            StreamKind::Tcp => {
                if self.tcp_std.is_none() {
                    self.tcp_std = Some(TcpListener::bind("127.0.0.1:0")?);
                }
                let l = self.tcp_std.as_ref().expect("just made");
                let c = TcpStream::connect(l.local_addr()?)?;
                let (s, _) = l.accept()?;
                c.set_nodelay(true)?;
                (c.into(), s.into())
            }
        };
        self.add_stream(kind, w, r);
        Ok(())
    }

    fn add_stream(&mut self, kind: StreamKind, w: OwnedFd, r: OwnedFd) {
        self.next_uid += 1;
        self.streams.push(Stream {
            uid: self.next_uid,
            kind,
            w_raw: w.as_raw_fd(),
            r_raw: r.as_raw_fd(),
            w: Some(SharedFd::new(w)),
            r: Some(SharedFd::new(r)),
            wpos: 0,
            hi: 0,
            inflight_hi: 0,
            rpos: 0,
            read_lost: false,
            write_dead: false,
            writer_busy: false,
            reader_busy: false,
            reader_closed: false,
        });
    }

    fn pick_stream(&self, s: u8) -> Option<usize> {
        (!self.streams.is_empty()).then(|| s as usize % self.streams.len())
    }

    fn can_write(&self, s: usize) -> bool {
        let st = &self.streams[s];
        st.w.is_some() && !st.writer_busy && !st.write_dead
    }

    fn can_read(&self, s: usize) -> bool {
        let st = &self.streams[s];
        st.r.is_some() && !st.reader_busy
    }

    /// Checks `data`, read from stream `s`, against the pattern.
    fn got_bytes(&mut self, s: usize, data: &[u8]) -> Result<(), Failure> {
        let st = &mut self.streams[s];
        if st.read_lost || data.is_empty() {
            return Ok(());
        }
        let end = st.rpos + data.len() as u64;
        // A write in flight may already have put bytes in (its completion, or
        // the notification of a zero-copy send, comes later).
        if end > st.hi.max(st.wpos).max(st.inflight_hi) {
            return Err(fail(
                "bytes",
                format!(
                    "stream {s} ({:?}): read bytes {}..{end}, but only {} were written",
                    st.kind,
                    st.rpos,
                    st.hi.max(st.wpos).max(st.inflight_hi)
                ),
            ));
        }
        for (i, &b) in data.iter().enumerate() {
            let pos = st.rpos + i as u64;
            if b != pattern(st.uid, pos) {
                return Err(fail(
                    "bytes",
                    format!(
                        "stream {s} ({:?}): byte {pos} is {b:#04x}, expected {:#04x} \
                         (a byte lost, repeated or out of order)",
                        st.kind,
                        pattern(st.uid, pos)
                    ),
                ));
            }
        }
        st.rpos = end;
        self.out.bytes += data.len() as u64;
        Ok(())
    }

    // ----- submitting --------------------------------------------------------------

    fn record(
        &mut self,
        typed: Typed,
        key: OpKey,
        kind: Kind,
        stream: Option<usize>,
    ) -> &mut OpRec {
        self.out.ops += 1;
        self.ops.push(OpRec {
            key,
            kind,
            stream,
            reader: false,
            writer: false,
            start: 0,
            len: 0,
            file: (0, 0),
            fd_num: -1,
            drop_completion: false,
            typed,
        });
        self.ops.last_mut().expect("just pushed")
    }

    /// Submits `op`, with a linked timeout of `timeout` ms if asked; records it.
    fn submit<T: uring::owned::Op>(
        &mut self,
        op: T,
        kind: Kind,
        stream: Option<usize>,
        timeout: Option<u8>,
    ) -> Result<Option<&mut OpRec>, Failure> {
        let ring = self.ring()?;
        let ids = match timeout {
            None => ring.submit_op(op).map(|id| (id, None)),
            Some(ms) => ring
                .submit_with_timeout(op, Duration::from_millis(ms.into()))
                .map(|(a, t)| (a, Some(t))),
        };
        match ids {
            Ok((id, t)) => {
                if let Some(t) = t {
                    let key = t.key();
                    self.record(Typed::Any(Box::new(t)), key, Kind::LinkTimeout, None);
                }
                let key = id.key();
                Ok(Some(self.record(
                    Typed::Any(Box::new(id)),
                    key,
                    kind,
                    stream,
                )))
            }
            Err(e) => {
                self.refused(&e.error)?;
                Ok(None)
            }
        }
    }

    fn submit_multi<T: uring::owned::Multishot>(
        &mut self,
        op: T,
        kind: Kind,
        stream: Option<usize>,
        wrap: impl FnOnce(OpId<Multi<T>>) -> Typed,
    ) -> Result<Option<&mut OpRec>, Failure> {
        let ring = self.ring()?;
        match ring.submit_multishot(op) {
            Ok(id) => {
                let key = id.key();
                Ok(Some(self.record(wrap(id), key, kind, stream)))
            }
            Err(e) => {
                self.refused(&e.error)?;
                Ok(None)
            }
        }
    }

    /// A submission the ring refused: only for a reason the API documents.
    fn refused(&mut self, e: &io::Error) -> Result<(), Failure> {
        self.out.refused += 1;
        match errno(e) {
            libc::EBUSY | libc::EINVAL | libc::EAGAIN | libc::ENOMEM => Ok(()),
            _ => Err(fail("submit", format!("a submission was refused: {e}"))),
        }
    }

    // ----- actions -----------------------------------------------------------------

    fn step(&mut self, a: Action) -> Result<(), Failure> {
        match a {
            Action::NewStream(kind) => {
                self.new_stream(kind)
                    .map_err(|e| fail("setup", e.to_string()))?;
            }
            Action::Write {
                s,
                len,
                how,
                timeout_ms,
            } => {
                if let Some(s) = self.pick_stream(s) {
                    if how == WriteHow::Bundle {
                        self.bundle(s, len)?;
                    } else if self.can_write(s) {
                        self.write(s, len, how, timeout_ms)?;
                    }
                }
            }
            Action::Read {
                s,
                len,
                how,
                timeout_ms,
            } => {
                if let Some(s) = self.pick_stream(s).filter(|&s| self.can_read(s)) {
                    self.read(s, len, how, timeout_ms)?;
                }
            }
            Action::ReadMultishot { s, how } => {
                if let Some(s) = self.pick_stream(s).filter(|&s| self.can_read(s)) {
                    self.read_multi(s, how)?;
                }
            }
            Action::Chain {
                s,
                wlen,
                rlen,
                timeout_ms,
            } => {
                if let Some(s) = self
                    .pick_stream(s)
                    .filter(|&s| self.can_read(s) && self.can_write(s))
                {
                    self.chain(s, wlen, rlen, timeout_ms)?;
                }
            }
            Action::Poll { s, multi } => {
                if let Some(s) = self.pick_stream(s) {
                    if let Some(fd) = self.streams[s].r.clone() {
                        let mask = libc::POLLIN as u32;
                        if multi {
                            self.submit_multi(
                                ops::PollMultishot::new(fd, mask),
                                Kind::PollMultishot,
                                Some(s),
                                Typed::PollMultishot,
                            )?;
                        } else {
                            self.submit(ops::PollAdd::new(fd, mask), Kind::Poll, Some(s), None)?;
                        }
                    }
                }
            }
            Action::Nop { wait } => {
                if wait {
                    let ring = self.ring()?;
                    match ring.submit_op(ops::Nop::new()) {
                        Ok(id) => {
                            let got = ring
                                .wait_for(id)
                                .map_err(|e| fail("completion", format!("wait_for a NOP: {e}")))?;
                            if !matches!(got, Ok(0)) {
                                return Err(fail("completion", format!("a NOP gave {got:?}")));
                            }
                            self.out.ops += 1;
                            self.out.completions += 1;
                        }
                        Err(e) => self.refused(&e.error)?,
                    }
                } else {
                    self.submit(ops::Nop::new(), Kind::Nop, None, None)?;
                }
            }
            Action::Timer { ms, count } => {
                let after = Duration::from_millis(ms.into());
                if count == 0 {
                    self.submit(ops::Timeout::new(after), Kind::Timer, None, None)?;
                } else {
                    self.submit_multi(
                        ops::TimeoutMultishot::new(after, count.into()),
                        Kind::TimerMulti,
                        None,
                        Typed::TimerMulti,
                    )?;
                }
            }
            Action::Accept { multi } => {
                let l = self
                    .uring_listener()
                    .map_err(|e| fail("setup", e.to_string()))?;
                if multi {
                    self.submit_multi(
                        ops::AcceptMultishot::new(l),
                        Kind::AcceptMultishot,
                        None,
                        Typed::AcceptMultishot,
                    )?;
                } else {
                    self.submit(ops::Accept::new(l), Kind::Accept, None, None)?;
                }
            }
            Action::Connect => {
                if self.pending_clients.len() < 6 && self.streams.len() < 10 {
                    self.uring_listener()
                        .map_err(|e| fail("setup", e.to_string()))?;
                    let addr = self.tcp_uring.as_ref().expect("just made").1;
                    let c = TcpStream::connect(addr).map_err(|e| fail("setup", e.to_string()))?;
                    self.pending_clients.push(c);
                    if self.accept_leaked {
                        self.leak_anon += 1;
                        carry().create += 1;
                    }
                }
            }
            Action::Open => {
                if self.opened.len() < 8 {
                    let path = self.file_model()?.path.clone();
                    let op = ops::OpenAt::new(&path, libc::O_RDONLY)
                        .map_err(|e| fail("setup", e.to_string()))?;
                    self.submit(op, Kind::Open, None, None)?;
                }
            }
            Action::CloseOpened { i } => {
                if !self.opened.is_empty() {
                    let fd = self.opened.swap_remove(i as usize % self.opened.len());
                    let n = fd.as_raw_fd();
                    if let Some(rec) = self.submit(ops::Close::new(fd), Kind::Close, None, None)? {
                        rec.fd_num = n;
                    }
                }
            }
            Action::FileWrite { off, len } => {
                let f = self.file_model()?;
                if !f.busy {
                    f.busy = true;
                    let fd = f.fd.clone();
                    let data = pattern_vec(u64::from(off) ^ 0xf11e, 0, len as usize);
                    let op = ops::Write::new(fd, data, off.into());
                    match self.submit(op, Kind::FileWrite, None, None)? {
                        Some(rec) => rec.file = (off.into(), len.into()),
                        None => self.file.as_mut().expect("made").busy = false,
                    }
                }
            }
            Action::FileRead { off, len } => {
                let f = self.file_model()?;
                if !f.busy {
                    f.busy = true;
                    let fd = f.fd.clone();
                    let op = ops::Read::new(fd, Vec::with_capacity(len as usize), off.into());
                    match self.submit(op, Kind::FileRead, None, None)? {
                        Some(rec) => rec.file = (off.into(), len.into()),
                        None => self.file.as_mut().expect("made").busy = false,
                    }
                }
            }
            Action::Cancel { op } => {
                if !self.ops.is_empty() {
                    let i = op as usize % self.ops.len();
                    let ring = self.ring.as_mut().expect("ops imply a ring");
                    if let Err(e) = self.ops[i].typed.cancel(ring) {
                        // Not in flight any more is fine only if its completion is
                        // waiting to be collected.
                        if errno(&e) != libc::ENOENT && errno(&e) != libc::EBUSY {
                            return Err(fail("cancel", format!("cancel failed: {e}")));
                        }
                    }
                }
            }
            Action::Detach { op } => {
                if !self.ops.is_empty() {
                    let i = op as usize % self.ops.len();
                    let typed = mem::replace(&mut self.ops[i].typed, Typed::None);
                    let ring = self.ring.as_mut().expect("ops imply a ring");
                    if typed.detach(ring) {
                        let rec = self.ops.swap_remove(i);
                        self.lose(rec);
                    }
                }
            }
            Action::DropCompletion { op } => {
                if !self.ops.is_empty() {
                    let i = op as usize % self.ops.len();
                    self.ops[i].drop_completion = true;
                }
            }
            Action::ForgetId { op } => {
                // The runner finds completions by key; what is forgotten is the
                // typed id the multishot calls use.
                if !self.ops.is_empty() {
                    let i = op as usize % self.ops.len();
                    let typed = mem::replace(&mut self.ops[i].typed, Typed::None);
                    mem::forget(typed);
                }
            }
            Action::TakeItems { op } => {
                let multis: Vec<usize> = (0..self.ops.len())
                    .filter(|&i| self.ops[i].typed.is_multi())
                    .collect();
                if !multis.is_empty() {
                    let i = multis[op as usize % multis.len()];
                    self.take_items(i)?;
                }
            }
            Action::ReleaseGuard { g, other_thread } => {
                if !self.held.is_empty() {
                    let h = self.held.swap_remove(g as usize % self.held.len());
                    if other_thread {
                        // Guards are Send: recycling from another thread is locked.
                        let bufs = h.bufs;
                        std::thread::spawn(move || drop(bufs))
                            .join()
                            .map_err(|_| fail("panic", "dropping a guard on another thread"))?;
                    } else {
                        drop(h);
                    }
                }
            }
            Action::ForgetGuard { g } => {
                if !self.held.is_empty() {
                    let h = self.held.swap_remove(g as usize % self.held.len());
                    if h.pool == self.regs.pool_id {
                        self.regs.pool_forgotten +=
                            h.bufs.iter().filter(|b| b.buffer_id().is_some()).count();
                    }
                    // A guard keeps its pool alive, and the pool its duplicate of
                    // the ring's descriptor: forgetting one leaks that, once.
                    if self.leaked_pools.insert(h.pool) {
                        self.leak_anon += 1;
                    }
                    mem::forget(h.bufs);
                }
            }
            Action::Submit => {
                let ring = self.ring()?;
                if let Err(e) = ring.submit() {
                    if !matches!(errno(&e), libc::EBUSY | libc::EAGAIN | libc::EINTR) {
                        return Err(fail("submit", format!("submit: {e}")));
                    }
                }
            }
            Action::Reap => {}
            Action::Wait { ms } => {
                let ring = self.ring()?;
                let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(ms.into()));
            }
            Action::FillCq { n } => {
                for _ in 0..n {
                    if self
                        .submit(ops::Nop::new(), Kind::Nop, None, None)?
                        .is_none()
                    {
                        break;
                    }
                }
                let ring = self.ring()?;
                let _ = ring.submit();
                // Let the kernel post them all before anything is reaped.
                let _ = ring.submit_and_wait_timeout(n.into(), Duration::from_millis(5));
            }
            Action::HangUp { s } => {
                if let Some(s) = self.pick_stream(s) {
                    let st = &mut self.streams[s];
                    if let Some(w) = &st.w {
                        if st.kind == StreamKind::Pipe {
                            st.w = None;
                        } else {
                            // SAFETY: shutdown on a descriptor we hold open.
                            unsafe { libc::shutdown(w.as_raw_fd(), libc::SHUT_WR) };
                        }
                        st.write_dead = true;
                    }
                }
            }
            Action::CloseUserFd { s, reader, reuse } => {
                if let Some(s) = self.pick_stream(s) {
                    let st = &mut self.streams[s];
                    let closed = if reader { st.r.take() } else { st.w.take() };
                    if closed.is_some() {
                        if reader {
                            st.reader_closed = true;
                        } else {
                            st.write_dead = true;
                        }
                        drop(closed);
                        if reuse {
                            if let Ok(f) = File::open("/dev/null") {
                                self.junk.push(f);
                            }
                        }
                    }
                }
            }
            Action::EndRing(how) => self.end_ring(how)?,
            Action::AsyncRead { s, forget } => {
                if let Some(s) = self.pick_stream(s).filter(|&s| self.can_read(s)) {
                    self.async_read(s, forget)?;
                }
            }
        }
        Ok(())
    }

    fn uring_listener(&mut self) -> io::Result<SharedFd> {
        if self.tcp_uring.is_none() {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let addr = l.local_addr()?;
            self.tcp_uring = Some((SharedFd::new(OwnedFd::from(l)), addr));
        }
        let (fd, _) = self.tcp_uring.as_ref().expect("just made");
        Ok(fd.clone())
    }

    fn file_model(&mut self) -> Result<&mut FileModel, Failure> {
        if self.file.is_none() {
            let path = std::env::temp_dir().join(format!(
                "uring-fuzz-{}-{:x}",
                std::process::id(),
                self.prog.seed
            ));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| fail("setup", format!("{}: {e}", path.display())))?;
            self.file = Some(FileModel {
                path,
                fd: SharedFd::from(f),
                bytes: Vec::new(),
                len_unknown: false,
                busy: false,
            });
        }
        Ok(self.file.as_mut().expect("just made"))
    }

    fn write(&mut self, s: usize, len: u32, how: WriteHow, t: Option<u8>) -> Result<(), Failure> {
        let st = &self.streams[s];
        let fd = st.w.clone().expect("checked");
        let start = st.wpos;
        let data = pattern_vec(st.uid, start, len as usize);
        let kind = Kind::Write(how);
        let rec = match how {
            WriteHow::Write => self.submit(ops::Write::new(fd, data, 0), kind, Some(s), t)?,
            WriteHow::Send => self.submit(ops::Send::new(fd, data), kind, Some(s), t)?,
            WriteHow::SendZc => self.submit(ops::SendZc::new(fd, data), kind, Some(s), t)?,
            WriteHow::Writev | WriteHow::SendMsg => {
                let cut = data.len() / 3;
                let mut a = data;
                let c = a.split_off(cut * 2);
                let b = a.split_off(cut);
                let bufs = vec![a, b, c];
                if how == WriteHow::Writev {
                    self.submit(ops::Writev::new(fd, bufs, 0), kind, Some(s), t)?
                } else {
                    self.submit(ops::SendMsg::new(fd, bufs), kind, Some(s), t)?
                }
            }
            WriteHow::WriteFixed => {
                let Some(mut buf) = self.fixed()? else {
                    return Ok(());
                };
                let n = data.len().min(buf.capacity());
                buf.extend_from_slice(&data[..n])
                    .map_err(|e| fail("fixed", format!("extend_from_slice: {e}")))?;
                self.submit(WriteFixed::new(fd, buf, 0), kind, Some(s), t)?
            }
            WriteHow::Bundle => unreachable!("handled by bundle()"),
        };
        if let Some(rec) = rec {
            rec.writer = true;
            rec.start = start;
            rec.len = len.into();
            self.streams[s].writer_busy = true;
            self.streams[s].inflight_hi = start + u64::from(len);
        }
        Ok(())
    }

    /// Pushes `len` bytes on the ring's send queue for stream `s`, and sends a
    /// bundle if none is in flight.
    fn bundle(&mut self, s: usize, len: u32) -> Result<(), Failure> {
        let owner_ok = match self.regs.queue_owner {
            Some(o) => o == s,
            None => self.can_write(s),
        };
        if !owner_ok || self.streams[s].write_dead || self.streams[s].w.is_none() {
            return Ok(());
        }
        let Some(q) = self.queue()? else {
            return Ok(());
        };
        let st = &self.streams[s];
        let from = st.wpos + self.regs.queue_pending;
        let data = pattern_vec(st.uid, from, len as usize);
        match q.push(data) {
            Ok(()) => {
                self.regs.queue_owner = Some(s);
                self.regs.queue_pending += u64::from(len);
                self.streams[s].writer_busy = true;
                self.streams[s].inflight_hi = from + u64::from(len);
            }
            Err(rej) => {
                // Full (ENOBUFS) is fine; anything else is not.
                if errno(&rej.error) != libc::ENOBUFS {
                    return Err(fail("queue", format!("push refused: {}", rej.error)));
                }
            }
        }
        if !self.regs.bundle_in_flight && self.regs.queue_pending > 0 {
            let fd = self.streams[s].w.clone().expect("checked");
            let b = SendBundle::new(fd, &q)
                .map_err(|e| fail("queue", format!("SendBundle::new with none in flight: {e}")))?;
            if let Some(rec) = self.submit(b, Kind::Write(WriteHow::Bundle), Some(s), None)? {
                rec.writer = true;
                self.regs.bundle_in_flight = true;
            }
        }
        Ok(())
    }

    fn read(&mut self, s: usize, len: u32, how: ReadHow, t: Option<u8>) -> Result<(), Failure> {
        let fd = self.streams[s].r.clone().expect("checked");
        let len = len as usize;
        let kind = Kind::Read(how);
        let rec = match how {
            ReadHow::Read => self.submit(
                ops::Read::new(fd, Vec::with_capacity(len), 0),
                kind,
                Some(s),
                t,
            )?,
            ReadHow::Recv => self.submit(
                ops::Recv::new(fd, Vec::with_capacity(len)),
                kind,
                Some(s),
                t,
            )?,
            ReadHow::Readv | ReadHow::RecvMsg => {
                let a = len / 2;
                let bufs = vec![Vec::with_capacity(a.max(1)), Vec::with_capacity(len - a)];
                if how == ReadHow::Readv {
                    self.submit(ops::Readv::new(fd, bufs, 0), kind, Some(s), t)?
                } else {
                    self.submit(ops::RecvMsg::new(fd, bufs).control(64), kind, Some(s), t)?
                }
            }
            ReadHow::ReadFixed => {
                let Some(buf) = self.fixed()? else {
                    return Ok(());
                };
                self.submit(ReadFixed::new(fd, buf, 0), kind, Some(s), t)?
            }
            ReadHow::ReadSelect | ReadHow::RecvSelect | ReadHow::RecvBundle => {
                let Some(pool) = self.pool()? else {
                    return Ok(());
                };
                match how {
                    ReadHow::ReadSelect => {
                        self.submit(ops::ReadSelect::new(fd, &pool, 0), kind, Some(s), t)?
                    }
                    ReadHow::RecvSelect => {
                        self.submit(ops::RecvSelect::new(fd, &pool), kind, Some(s), t)?
                    }
                    _ => self.submit(ops::RecvBundle::new(fd, &pool), kind, Some(s), t)?,
                }
            }
        };
        if let Some(rec) = rec {
            rec.reader = true;
            self.streams[s].reader_busy = true;
        }
        Ok(())
    }

    fn read_multi(&mut self, s: usize, how: MultiHow) -> Result<(), Failure> {
        let Some(pool) = self.pool()? else {
            return Ok(());
        };
        let fd = self.streams[s].r.clone().expect("checked");
        let kind = Kind::Multi(how);
        let rec = match how {
            MultiHow::RecvMultishot => self.submit_multi(
                ops::RecvMultishot::new(fd, &pool),
                kind,
                Some(s),
                Typed::RecvMultishot,
            )?,
            MultiHow::ReadMultishot => self.submit_multi(
                ops::ReadMultishot::new(fd, &pool),
                kind,
                Some(s),
                Typed::ReadMultishot,
            )?,
            MultiHow::RecvBundleMultishot => self.submit_multi(
                ops::RecvBundleMultishot::new(fd, &pool),
                kind,
                Some(s),
                Typed::BundleMulti,
            )?,
        };
        if let Some(rec) = rec {
            rec.reader = true;
            self.streams[s].reader_busy = true;
        }
        Ok(())
    }

    fn chain(&mut self, s: usize, wlen: u32, rlen: u32, t: Option<u8>) -> Result<(), Failure> {
        let st = &self.streams[s];
        let (w, r) = (
            st.w.clone().expect("checked"),
            st.r.clone().expect("checked"),
        );
        let start = st.wpos;
        let data = pattern_vec(st.uid, start, wlen as usize);
        let write = ops::Write::new(w, data, 0);
        let read = ops::Read::new(r, Vec::with_capacity(rlen as usize), 0);
        let ring = self.ring()?;
        let ids = match t {
            None => ring
                .submit_linked((write, read))
                .map(|(a, b)| (a, b, None))
                .map_err(|e| e.error),
            Some(ms) => ring
                .submit_linked((
                    write,
                    read,
                    ops::LinkTimeout::new(Duration::from_millis(ms.into())),
                ))
                .map(|(a, b, c)| (a, b, Some(c)))
                .map_err(|e| e.error),
        };
        match ids {
            Ok((wid, rid, tid)) => {
                let wk = wid.key();
                let rec = self.record(
                    Typed::Any(Box::new(wid)),
                    wk,
                    Kind::Write(WriteHow::Write),
                    Some(s),
                );
                rec.writer = true;
                rec.start = start;
                rec.len = wlen.into();
                let rk = rid.key();
                let rec = self.record(
                    Typed::Any(Box::new(rid)),
                    rk,
                    Kind::Read(ReadHow::Read),
                    Some(s),
                );
                rec.reader = true;
                if let Some(tid) = tid {
                    let tk = tid.key();
                    self.record(Typed::Any(Box::new(tid)), tk, Kind::LinkTimeout, None);
                }
                self.streams[s].writer_busy = true;
                self.streams[s].inflight_hi = start + u64::from(wlen);
                self.streams[s].reader_busy = true;
            }
            Err(e) => self.refused(&e)?,
        }
        Ok(())
    }

    fn async_read(&mut self, s: usize, forget: bool) -> Result<(), Failure> {
        let quiet = {
            let st = &self.streams[s];
            !st.writer_busy && st.wpos == st.rpos && st.hi <= st.wpos
        };
        let fd = self.streams[s].r.clone().expect("checked");
        let fd_raw = fd.as_raw_fd();
        let ring = OwnedRing::new(4).map_err(|e| fail("setup", e.to_string()))?;
        let aring = AsyncRing::new(ring).map_err(|e| fail("setup", e.to_string()))?;
        let mut fut = match aring.run(ops::Read::new(fd, Vec::with_capacity(64), 0)) {
            Ok(f) => f,
            Err(e) => return self.refused(&e.error),
        };
        self.out.ops += 1;
        let mut cx = Context::from_waker(Waker::noop());
        use std::future::Future as _;
        let done = match std::pin::Pin::new(&mut fut).poll(&mut cx) {
            Poll::Ready(out) => {
                let (res, buf) = out.map_err(|e| fail("async", format!("future: {e}")))?;
                if let Ok(n) = res {
                    if buf.len() != n {
                        return Err(fail(
                            "async",
                            "a read future's buffer length is not its count",
                        ));
                    }
                    self.got_bytes(s, &buf)?;
                }
                true
            }
            Poll::Pending => false,
        };
        if !done {
            if forget {
                // The future holds the ring (an Rc): forgetting it leaks the ring,
                // its eventfd and the read, which may still take bytes.
                mem::forget(fut);
                self.leak_anon += 2;
                self.leak_fds.insert(fd_raw);
                self.streams[s].read_lost = true;
                self.streams[s].reader_busy = true; // for good
                drop(aring);
                return Ok(());
            }
            drop(fut);
        }
        drop(aring);
        // The read was cancelled and waited for; whether it took bytes first is
        // unknown unless no bytes were there to take.
        if !done && !quiet {
            self.streams[s].read_lost = true;
        }
        Ok(())
    }

    // ----- completions -------------------------------------------------------------

    /// The model forgets an operation whose outcome it will not see.
    fn lose(&mut self, rec: OpRec) {
        self.detached += 1;
        self.lose_effects(&rec);
        self.lost.push(rec);
    }

    fn lose_effects(&mut self, rec: &OpRec) {
        if let Some(s) = rec.stream {
            let st = &mut self.streams[s];
            if rec.reader {
                st.read_lost = true;
                // The read may still be in flight: no other read until the ring goes.
            }
            if rec.writer {
                if rec.kind == Kind::Write(WriteHow::Bundle) {
                    st.hi = st.hi.max(st.wpos + self.regs.queue_pending);
                } else {
                    st.hi = st.hi.max(rec.start + rec.len);
                }
                st.write_dead = true;
            }
        }
        if matches!(rec.kind, Kind::FileWrite) {
            if let Some(f) = &mut self.file {
                let (off, len) = rec.file;
                let end = (off + len) as usize;
                if f.bytes.len() < end {
                    f.bytes.resize(end, None);
                }
                for b in &mut f.bytes[off as usize..end] {
                    *b = None;
                }
                f.len_unknown = true;
            }
        }
        if matches!(rec.kind, Kind::Write(WriteHow::Bundle)) {
            // The queue can no longer be accounted: leave it alone.
            self.regs.queue_owner = Some(usize::MAX);
        }
        if matches!(
            rec.kind,
            Kind::Read(ReadHow::ReadSelect | ReadHow::RecvSelect | ReadHow::RecvBundle)
                | Kind::Multi(_)
        ) {
            self.regs.pool_exact = false;
        }
    }

    /// Processes every completion the ring has.
    fn collect(&mut self) -> Result<(), Failure> {
        let Some(ring) = self.ring.as_mut() else {
            return Ok(());
        };
        let done: Vec<Completion> = ring.completions().collect();
        for c in done {
            self.completed(c)?;
        }
        Ok(())
    }

    fn take_items(&mut self, i: usize) -> Result<(), Failure> {
        let ring = self.ring.as_mut().expect("ops imply a ring");
        let s = self.ops[i].stream;
        let mut data: Vec<Vec<u8>> = Vec::new();
        let mut guards: Vec<Vec<PoolBuf>> = Vec::new();
        let mut bundles: Vec<ops::PoolBufs> = Vec::new();
        let mut count = 0u64;
        let mut ended = false;
        macro_rules! drain {
            ($id:expr, |$item:ident| $body:expr) => {
                loop {
                    match ring.poll_item($id) {
                        ItemPoll::Item(Ok($item)) => {
                            count += 1;
                            $body
                        }
                        ItemPoll::Item(Err(_)) => count += 1,
                        ItemPoll::Pending => break,
                        // The final completion was processed (maybe by this very
                        // call) and every item taken: poll_item consumed it. Gone
                        // (the ring knows no such stream) cannot happen while the
                        // model is right; if it does, the model's count of final
                        // completions catches it.
                        ItemPoll::Ended(_) | ItemPoll::Gone => {
                            ended = true;
                            break;
                        }
                    }
                }
            };
        }
        match &self.ops[i].typed {
            Typed::None | Typed::Any(_) => {}
            Typed::RecvMultishot(id) => drain!(id, |b| {
                data.push(b.to_vec());
                guards.push(vec![b]);
            }),
            Typed::ReadMultishot(id) => drain!(id, |b| {
                data.push(b.to_vec());
                guards.push(vec![b]);
            }),
            Typed::BundleMulti(id) => drain!(id, |b| {
                bundles.push(b);
            }),
            Typed::AcceptMultishot(id) => {
                let mut fds = Vec::new();
                drain!(id, |fd| fds.push(fd));
                for fd in fds {
                    self.adopt(fd)?;
                }
            }
            Typed::PollMultishot(id) => drain!(id, |_m| ()),
            Typed::TimerMulti(id) => drain!(id, |_t| ()),
        }
        self.out.items += count;
        for b in bundles {
            self.check_bundle(&b)?;
            data.push(b.to_vec());
            guards.push(b.into_bufs());
        }
        if let Some(s) = s {
            for d in data {
                self.got_bytes(s, &d)?;
            }
        }
        for g in guards {
            self.hold(g)?;
        }
        if ended {
            self.out.completions += 1;
            let rec = self.ops.swap_remove(i);
            self.release(&rec);
        }
        Ok(())
    }

    /// Keeps pool buffers (some of the time), after checking none is held twice.
    fn hold(&mut self, bufs: Vec<PoolBuf>) -> Result<(), Failure> {
        let pool = self.regs.pool_id;
        if self.rng.chance(1, 2) || bufs.is_empty() {
            return Ok(()); // dropped here: back to the pool
        }
        self.held.push(Held { pool, bufs });
        Ok(())
    }

    /// A connection the uring listener accepted: it joins a client as a stream.
    fn adopt(&mut self, fd: OwnedFd) -> Result<(), Failure> {
        let peer = peer_of(fd.as_raw_fd());
        let at = self
            .pending_clients
            .iter()
            .position(|c| c.local_addr().ok() == peer);
        let Some(at) = at else {
            return Err(fail(
                "accept",
                format!("accepted a connection from {peer:?}, which no client of ours made"),
            ));
        };
        let c = self.pending_clients.swap_remove(at);
        if self.streams.len() < 12 {
            self.add_stream(StreamKind::Tcp, c.into(), fd);
        }
        Ok(())
    }

    fn completed(&mut self, c: Completion) -> Result<(), Failure> {
        self.out.completions += 1;
        let Some(i) = self.ops.iter().position(|r| r.key == c.key()) else {
            return Err(fail(
                "completion",
                format!(
                    "a completion for an operation not in flight (or detached, or completed \
                     already): {c:?}"
                ),
            ));
        };
        let rec = self.ops.swap_remove(i);
        if rec.drop_completion {
            drop(c);
            self.lose_effects(&rec);
            self.release(&rec);
            return Ok(());
        }
        let name = c.op_name();
        let wrong = || {
            fail(
                "completion",
                format!("the completion of a {:?} is a {name}", rec.kind),
            )
        };
        let s = rec.stream;
        match rec.kind {
            Kind::Write(how) => {
                let res: io::Result<u64> = match how {
                    WriteHow::Write => c.downcast::<ops::Write<Vec<u8>>>().map_err(|_| wrong())?.0,
                    WriteHow::Send => c.downcast::<ops::Send<Vec<u8>>>().map_err(|_| wrong())?.0,
                    WriteHow::SendZc => {
                        c.downcast::<ops::SendZc<Vec<u8>>>().map_err(|_| wrong())?.0
                    }
                    WriteHow::Writev => {
                        c.downcast::<ops::Writev<Vec<u8>>>().map_err(|_| wrong())?.0
                    }
                    WriteHow::SendMsg => {
                        c.downcast::<ops::SendMsg<Vec<u8>>>()
                            .map_err(|_| wrong())?
                            .0
                    }
                    WriteHow::WriteFixed => {
                        c.downcast::<WriteFixed<FixedBuf>>().map_err(|_| wrong())?.0
                    }
                    WriteHow::Bundle => {
                        let out = c.downcast::<SendBundle<Vec<u8>>>().map_err(|_| wrong())?;
                        return self.bundle_done(rec, out);
                    }
                }
                .map(|n| n as u64);
                if std::env::var_os("URING_FUZZ_DEBUG").is_some() {
                    eprintln!("write {how:?} of {} at {}: {res:?}", rec.len, rec.start);
                }
                let st = &mut self.streams[s.expect("writes have a stream")];
                if let Ok(n) = res {
                    if n > rec.len {
                        return Err(fail(
                            "completion",
                            format!("a write of {} bytes reported {n}", rec.len),
                        ));
                    }
                    st.wpos = rec.start + n;
                    st.hi = st.hi.max(st.wpos);
                }
                st.writer_busy = false;
                if !st.read_lost && st.rpos > st.hi.max(st.wpos) {
                    return Err(fail(
                        "bytes",
                        format!(
                            "stream {}: {} bytes were read, but the write reported only {} \
                             written ({res:?})",
                            s.expect("writes have a stream"),
                            st.rpos,
                            st.wpos
                        ),
                    ));
                }
            }
            Kind::Read(how) => {
                let s = s.expect("reads have a stream");
                let (n, data, guards): (Option<usize>, Vec<u8>, Vec<PoolBuf>) = match how {
                    ReadHow::Read => {
                        let (r, b) = c.downcast::<ops::Read<Vec<u8>>>().map_err(|_| wrong())?;
                        (r.ok(), b, Vec::new())
                    }
                    ReadHow::Recv => {
                        let (r, b) = c.downcast::<ops::Recv<Vec<u8>>>().map_err(|_| wrong())?;
                        (r.ok(), b, Vec::new())
                    }
                    ReadHow::Readv => {
                        let (r, b) = c.downcast::<ops::Readv<Vec<u8>>>().map_err(|_| wrong())?;
                        (r.ok(), b.concat(), Vec::new())
                    }
                    ReadHow::RecvMsg => {
                        let (r, b) = c.downcast::<ops::RecvMsg<Vec<u8>>>().map_err(|_| wrong())?;
                        match r {
                            Ok(got) => {
                                if !got.fds.is_empty() {
                                    return Err(fail(
                                        "completion",
                                        "a RecvMsg got descriptors no one sent",
                                    ));
                                }
                                (Some(got.len), b.concat(), Vec::new())
                            }
                            Err(_) => (None, Vec::new(), Vec::new()),
                        }
                    }
                    ReadHow::ReadFixed => {
                        let (r, b) = c.downcast::<ReadFixed<FixedBuf>>().map_err(|_| wrong())?;
                        (r.ok(), b.to_vec(), Vec::new())
                    }
                    ReadHow::ReadSelect | ReadHow::RecvSelect => {
                        let r = if how == ReadHow::ReadSelect {
                            c.downcast::<ops::ReadSelect>().map_err(|_| wrong())?
                        } else {
                            c.downcast::<ops::RecvSelect>().map_err(|_| wrong())?
                        };
                        match r {
                            Ok(b) => (Some(b.len()), b.to_vec(), vec![b]),
                            Err(_) => (None, Vec::new(), Vec::new()),
                        }
                    }
                    ReadHow::RecvBundle => {
                        match c.downcast::<ops::RecvBundle>().map_err(|_| wrong())? {
                            Ok(b) => {
                                self.check_bundle(&b)?;
                                (Some(b.len()), b.to_vec(), b.into_bufs())
                            }
                            Err(_) => (None, Vec::new(), Vec::new()),
                        }
                    }
                };
                if let Some(n) = n {
                    if data.len() != n {
                        return Err(fail(
                            "completion",
                            format!(
                                "a {how:?} reported {n} bytes but handed back {}",
                                data.len()
                            ),
                        ));
                    }
                    self.got_bytes(s, &data)?;
                }
                self.hold(guards)?;
                self.streams[s].reader_busy = false;
            }
            Kind::Multi(how) => {
                let s = s.expect("multishot reads have a stream");
                let mut items: Vec<(Vec<u8>, Vec<PoolBuf>)> = Vec::new();
                match how {
                    MultiHow::RecvMultishot | MultiHow::ReadMultishot => {
                        let left = if how == MultiHow::RecvMultishot {
                            c.downcast::<Multi<ops::RecvMultishot>>()
                                .map_err(|_| wrong())?
                        } else {
                            c.downcast::<Multi<ops::ReadMultishot>>()
                                .map_err(|_| wrong())?
                        };
                        self.out.items += left.items.len() as u64;
                        for b in left.items.into_iter().flatten() {
                            items.push((b.to_vec(), vec![b]));
                        }
                    }
                    MultiHow::RecvBundleMultishot => {
                        let left = c
                            .downcast::<Multi<ops::RecvBundleMultishot>>()
                            .map_err(|_| wrong())?;
                        self.out.items += left.items.len() as u64;
                        for b in left.items.into_iter().flatten() {
                            self.check_bundle(&b)?;
                            items.push((b.to_vec(), b.into_bufs()));
                        }
                    }
                }
                for (d, g) in items {
                    self.got_bytes(s, &d)?;
                    self.hold(g)?;
                }
                self.streams[s].reader_busy = false;
            }
            Kind::Poll => {
                c.downcast::<ops::PollAdd>().map_err(|_| wrong())?.ok();
            }
            Kind::PollMultishot => {
                self.out.items += c
                    .downcast::<Multi<ops::PollMultishot>>()
                    .map_err(|_| wrong())?
                    .items
                    .len() as u64;
            }
            Kind::Nop => {
                let r = c.downcast::<ops::Nop>().map_err(|_| wrong())?;
                if !matches!(r, Ok(0)) {
                    return Err(fail("completion", format!("a NOP gave {r:?}")));
                }
            }
            Kind::Timer => {
                c.downcast::<ops::Timeout>().map_err(|_| wrong())?.ok();
            }
            Kind::TimerMulti => {
                self.out.items += c
                    .downcast::<Multi<ops::TimeoutMultishot>>()
                    .map_err(|_| wrong())?
                    .items
                    .len() as u64;
            }
            Kind::LinkTimeout => {
                c.downcast::<ops::LinkTimeout>().map_err(|_| wrong())?.ok();
            }
            Kind::Accept => {
                if let Ok((fd, addr)) = c.downcast::<ops::Accept>().map_err(|_| wrong())? {
                    if addr.is_some() && addr != peer_of(fd.as_raw_fd()) {
                        return Err(fail("accept", "Accept's address is not the peer's"));
                    }
                    self.adopt(fd)?;
                }
            }
            Kind::AcceptMultishot => {
                let left = c
                    .downcast::<Multi<ops::AcceptMultishot>>()
                    .map_err(|_| wrong())?;
                self.out.items += left.items.len() as u64;
                for fd in left.items.into_iter().flatten() {
                    self.adopt(fd)?;
                }
            }
            Kind::Open => {
                if let Ok(fd) = c.downcast::<ops::OpenAt>().map_err(|_| wrong())? {
                    self.opened.push(fd);
                }
            }
            Kind::Close => {
                c.downcast::<ops::Close>().map_err(|_| wrong())?.ok();
            }
            Kind::FileWrite => {
                let (r, buf) = c.downcast::<ops::Write<Vec<u8>>>().map_err(|_| wrong())?;
                let f = self.file.as_mut().expect("file ops imply the file");
                let (off, len) = rec.file;
                match r {
                    Ok(n) => {
                        let end = off as usize + n;
                        if f.bytes.len() < end {
                            f.bytes.resize(end, Some(0));
                        }
                        for (i, &b) in buf[..n].iter().enumerate() {
                            f.bytes[off as usize + i] = Some(b);
                        }
                    }
                    Err(_) => {
                        // A cancelled file write may have written part.
                        let end = (off + len) as usize;
                        if f.bytes.len() < end {
                            f.bytes.resize(end, None);
                            f.len_unknown = true;
                        }
                        for b in &mut f.bytes[off as usize..end] {
                            *b = None;
                        }
                    }
                }
                f.busy = false;
            }
            Kind::FileRead => {
                let (r, buf) = c.downcast::<ops::Read<Vec<u8>>>().map_err(|_| wrong())?;
                let f = self.file.as_mut().expect("file ops imply the file");
                let (off, len) = rec.file;
                if let Ok(n) = r {
                    if buf.len() != n {
                        return Err(fail("file", "a read's buffer length is not its count"));
                    }
                    let have = f.bytes.len().saturating_sub(off as usize);
                    if !f.len_unknown && n != have.min(len as usize) {
                        return Err(fail(
                            "file",
                            format!(
                                "read {len} at {off} of a {}-byte file gave {n} bytes",
                                f.bytes.len()
                            ),
                        ));
                    }
                    for (i, &b) in buf.iter().enumerate() {
                        if let Some(Some(want)) = f.bytes.get(off as usize + i) {
                            if *want != b {
                                return Err(fail(
                                    "file",
                                    format!(
                                        "byte {} of the file is {b}, expected {want}",
                                        off as usize + i
                                    ),
                                ));
                            }
                        }
                    }
                    self.out.bytes += n as u64;
                }
                f.busy = false;
            }
        }
        Ok(())
    }

    /// Clears the busy marks of an operation whose completion was dropped.
    fn release(&mut self, rec: &OpRec) {
        if let Some(s) = rec.stream {
            if rec.reader {
                self.streams[s].reader_busy = false;
            }
            if rec.writer && rec.kind != Kind::Write(WriteHow::Bundle) {
                self.streams[s].writer_busy = false;
            }
        }
        if rec.kind == Kind::Write(WriteHow::Bundle) {
            self.regs.bundle_in_flight = false;
        }
        if matches!(rec.kind, Kind::FileWrite | Kind::FileRead) {
            if let Some(f) = &mut self.file {
                f.busy = false;
            }
        }
    }

    fn check_bundle(&self, b: &ops::PoolBufs) -> Result<(), Failure> {
        let size = self
            .regs
            .pool
            .as_ref()
            .map_or(usize::MAX, |p| p.buf_size() as usize);
        let parts: Vec<usize> = b.iter().map(<[u8]>::len).collect();
        let sum: usize = parts.iter().sum();
        let all_full_but_last = parts.iter().rev().skip(1).all(|&l| l == size);
        if sum != b.len() || parts.len() != b.len().div_ceil(size) || !all_full_but_last {
            return Err(fail(
                "pool",
                format!(
                    "a bundle of {} bytes came as parts {parts:?} (buffers of {size})",
                    b.len()
                ),
            ));
        }
        Ok(())
    }

    fn bundle_done(
        &mut self,
        rec: OpRec,
        out: io::Result<uring::owned::Sent<Vec<u8>>>,
    ) -> Result<(), Failure> {
        if std::env::var_os("URING_FUZZ_DEBUG").is_some() {
            eprintln!(
                "bundle done: {:?}, pending {}",
                out.as_ref().map(|s| s.bytes()),
                self.regs.queue_pending
            );
        }
        let s = rec.stream.expect("bundles have a stream");
        self.regs.bundle_in_flight = false;
        match out {
            Ok(sent) => {
                let n = sent.bytes() as u64;
                let full: u64 = sent.bufs().iter().map(|b| b.len() as u64).sum();
                if n > self.regs.queue_pending || full > n {
                    return Err(fail(
                        "queue",
                        format!(
                            "a bundle sent {n} bytes ({full} in whole buffers) of {} queued",
                            self.regs.queue_pending
                        ),
                    ));
                }
                self.regs.queue_pending -= n;
                let st = &mut self.streams[s];
                st.wpos += n;
                st.hi = st.hi.max(st.wpos);
                if !st.read_lost && st.rpos > st.hi.max(st.wpos) {
                    return Err(fail(
                        "bytes",
                        format!(
                            "stream {s}: {} bytes were read, more than were sent",
                            st.rpos
                        ),
                    ));
                }
                if sent.error().is_some() {
                    // Cut short by an error: the rest stays queued, exactly.
                }
            }
            Err(e) => match errno(&e) {
                libc::ENOBUFS if self.regs.queue_pending == 0 => {}
                libc::ENOBUFS => {
                    return Err(fail(
                        "queue",
                        format!("ENOBUFS with {} bytes queued", self.regs.queue_pending),
                    ));
                }
                _ => {
                    // Cancelled, or failed: the kernel may have sent part.
                    let st = &mut self.streams[s];
                    st.hi = st.hi.max(st.wpos + self.regs.queue_pending);
                    st.write_dead = true;
                    self.regs.queue_owner = Some(usize::MAX);
                }
            },
        }
        let q = self.regs.queue.as_ref().expect("bundles imply a queue");
        if self.regs.queue_owner == Some(s) {
            if q.queued_bytes() as u64 != self.regs.queue_pending {
                return Err(fail(
                    "queue",
                    format!(
                        "the queue says {} bytes are queued, the model {}",
                        q.queued_bytes(),
                        self.regs.queue_pending
                    ),
                ));
            }
            if self.regs.queue_pending == 0 {
                self.regs.queue_owner = None;
                self.streams[s].writer_busy = false;
            }
        }
        Ok(())
    }

    // ----- invariants --------------------------------------------------------------

    fn check(&mut self) -> Result<(), Failure> {
        self.out.checks += 1;
        // Guards name distinct buffers, never more than the pool has.
        if let Some(pool) = &self.regs.pool {
            let mut ids = HashSet::new();
            let mut held = 0usize;
            for h in self.held.iter().filter(|h| h.pool == self.regs.pool_id) {
                for b in &h.bufs {
                    // An empty guard (end of file) holds no buffer.
                    if let Some(id) = b.buffer_id() {
                        held += 1;
                        if !ids.insert(id) {
                            return Err(fail("pool", format!("buffer {id} is held twice")));
                        }
                    }
                }
            }
            let total = pool.available() + held + self.regs.pool_forgotten;
            let quiet = self.ring.as_ref().is_some_and(|r| r.in_flight() == 0);
            if total > pool.len() || (quiet && self.regs.pool_exact && total != pool.len()) {
                return Err(fail(
                    "pool",
                    format!(
                        "{} available + {held} held + {} forgotten, of {} buffers{}",
                        pool.available(),
                        self.regs.pool_forgotten,
                        pool.len(),
                        if quiet { " (nothing in flight)" } else { "" }
                    ),
                ));
            }
        }
        if let Some(ring) = &self.ring {
            let model = self.ops.len();
            let n = ring.in_flight();
            if n < model || n > model + self.detached {
                return Err(fail(
                    "completion",
                    format!(
                        "the ring has {n} operations in flight; the model {model} (+ up to {} \
                         detached)",
                        self.detached
                    ),
                ));
            }
        }
        Ok(())
    }

    // ----- the end of a ring, and of the program ----------------------------------

    fn end_ring(&mut self, how: RingEnd) -> Result<(), Failure> {
        let Some(mut ring) = self.ring.take() else {
            return Ok(());
        };
        // What already completed is seen first.
        self.ring = Some(ring);
        self.collect()?;
        ring = self.ring.take().expect("put back");
        let outstanding = mem::take(&mut self.ops);
        let lost = mem::take(&mut self.lost);
        let before = ring.in_flight();
        let leaked_before = leaked_ops();
        let ext_arg = ring.ring().features().contains(uring::Features::EXT_ARG);
        match how {
            RingEnd::Drop => drop(ring),
            RingEnd::Close => {
                let report = ring.close();
                if report.completed + report.leaked != before {
                    return Err(fail(
                        "close",
                        format!("{before} in flight, but close reported {report:?}"),
                    ));
                }
                if report.leaked != leaked_ops() - leaked_before {
                    return Err(fail("close", "close's leak count is not leaked_ops'"));
                }
            }
            RingEnd::Forget => {
                self.leak_fds.insert(ring.ring().as_raw_fd());
                mem::forget(ring);
            }
        }
        // Every operation here can be cancelled, except that a zero-copy send
        // completes only with its notification, which over loopback waits for
        // the peer to read the bytes: such sends may be leaked after the drop
        // timeout, by design (and counted). Without IORING_FEAT_EXT_ARG (before
        // Linux 5.11) the ring cannot wait at all, and leaks what is in flight.
        let leaked = leaked_ops() - leaked_before;
        let zc = outstanding
            .iter()
            .chain(&lost)
            .filter(|r| r.kind == Kind::Write(WriteHow::SendZc))
            .count();
        if leaked > zc && ext_arg {
            return Err(fail(
                "leak",
                format!(
                    "the ring leaked {leaked} operations, of which only {zc} could not be \
                     cancelled"
                ),
            ));
        }
        self.allowed_leaks += leaked;
        if leaked > 0 || how == RingEnd::Forget {
            let recs: Vec<&OpRec> = outstanding.iter().chain(&lost).collect();
            self.account_leaked(&recs);
        }
        // Operations that may still run (leaked with the ring, or past its drop
        // timeout) keep their streams busy for good.
        let forgot = how == RingEnd::Forget || leaked > 0;
        for rec in outstanding {
            self.lose_effects(&rec);
            if !forgot {
                self.release(&rec);
            }
        }
        if forgot {
            self.regs.pool_exact = false;
        }
        self.detached = 0;
        self.retire_regs(forgot)?;
        // Reads and writes of the old ring are over (or leaked for good).
        for st in &mut self.streams {
            if !forgot {
                st.reader_busy = false;
                st.writer_busy = false;
            }
        }
        if forgot {
            // Streams whose operations were leaked stay busy; others are free.
            for st in &mut self.streams {
                if !st.read_lost {
                    st.reader_busy = false;
                }
                if !st.write_dead {
                    st.writer_busy = false;
                }
            }
        }
        Ok(())
    }

    /// Operations that may run for ever (leaked with their ring): what they hold
    /// stays open, and what they may still create or consume is allowed for.
    fn account_leaked(&mut self, recs: &[&OpRec]) {
        for rec in recs {
            if let Some(s) = rec.stream {
                let st = &mut self.streams[s];
                self.leak_fds.insert(st.r_raw);
                self.leak_fds.insert(st.w_raw);
                // For good: the leaked operation may still run.
                st.read_lost |= rec.reader;
            }
            match rec.kind {
                Kind::Accept | Kind::AcceptMultishot => {
                    if !self.accept_leaked {
                        self.leak_anon += self.pending_clients.len();
                        carry().create += self.pending_clients.len();
                    }
                    self.accept_leaked = true;
                }
                Kind::Open => {
                    self.leak_anon += 1;
                    carry().create += 1;
                }
                Kind::Close => {
                    self.leak_fds.insert(rec.fd_num);
                    carry().close.push(rec.fd_num);
                }
                Kind::FileRead | Kind::FileWrite => {
                    if let Some(f) = &self.file {
                        self.leak_fds.insert(f.fd.as_raw_fd());
                    }
                }
                _ => {}
            }
        }
        if let Some((l, _)) = &self.tcp_uring {
            self.leak_fds.insert(l.as_raw_fd());
        }
        // The registrations' duplicates of the ring's descriptor.
        self.leak_anon += 3;
    }

    /// The ring is gone: check and drop its registrations.
    fn retire_regs(&mut self, forgot: bool) -> Result<(), Failure> {
        let regs = mem::take(&mut self.regs);
        if let Some(pool) = &regs.pool {
            let held: usize = self
                .held
                .iter()
                .filter(|h| h.pool == regs.pool_id)
                .map(|h| h.bufs.iter().filter(|b| b.buffer_id().is_some()).count())
                .sum();
            let total = pool.available() + held + regs.pool_forgotten;
            if regs.pool_exact && !forgot && total != pool.len() {
                return Err(fail(
                    "pool",
                    format!(
                        "after the ring went: {} available + {held} held + {} forgotten, of {}",
                        pool.available(),
                        regs.pool_forgotten,
                        pool.len()
                    ),
                ));
            }
            self.out.checks += 1;
        }
        if let Some(fixed) = &regs.fixed {
            // Every registered buffer is back in the set (none is held by us).
            if !forgot && fixed.available() != fixed.len() {
                return Err(fail(
                    "fixed",
                    format!(
                        "{} of {} registered buffers came back",
                        fixed.available(),
                        fixed.len()
                    ),
                ));
            }
        }
        if let (Some(q), Some(s)) = (&regs.queue, regs.queue_owner) {
            if s != usize::MAX && !regs.bundle_in_flight {
                match q.take_unsent() {
                    Ok((first_sent, bufs)) => {
                        let total: usize = bufs.iter().map(Vec::len).sum();
                        if std::env::var_os("URING_FUZZ_DEBUG").is_some() {
                            eprintln!(
                                "take_unsent: {first_sent} {total}, pending {}",
                                regs.queue_pending
                            );
                        }
                        let unsent = (total - first_sent) as u64;
                        if unsent != regs.queue_pending {
                            return Err(fail(
                                "queue",
                                format!(
                                    "take_unsent gave back {unsent} bytes; {} were queued",
                                    regs.queue_pending
                                ),
                            ));
                        }
                        self.streams[s].writer_busy = false;
                    }
                    Err(e) => return Err(fail("queue", format!("take_unsent: {e}"))),
                }
            } else if s != usize::MAX {
                let st = &mut self.streams[s];
                st.hi = st.hi.max(st.wpos + regs.queue_pending);
                st.write_dead = true;
            }
        }
        self.regs = Regs {
            pool_id: self.ring_gen + 1_000_000,
            pool_exact: true,
            ..Regs::default()
        };
        drop(regs);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Failure> {
        // Everything still in flight is cancelled and must complete.
        if self.ring.is_some() {
            let ring = self.ring.as_mut().expect("checked");
            for rec in &self.ops {
                let _ = rec.typed.cancel(ring);
            }
            // Cancelling does not reach everything: a linked operation that has
            // not started cannot be found, and detached or forgotten ids cannot be
            // named. Closing the ring then cancels them all, and must not leak any.
            let until = Instant::now() + Duration::from_secs(1);
            loop {
                self.collect()?;
                let ring = self.ring.as_mut().expect("checked");
                if self.ops.iter().all(|r| matches!(r.typed, Typed::None)) || Instant::now() > until
                {
                    break;
                }
                let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
            }
            // A zero-copy send still waiting for its notification gets it once
            // its bytes are read: read them (plain reads, checked as any).
            let zc: Vec<usize> = self
                .ops
                .iter()
                .filter(|r| r.kind == Kind::Write(WriteHow::SendZc))
                .filter_map(|r| r.stream)
                .collect();
            for s in zc {
                let st = &self.streams[s];
                if st.reader_busy || st.reader_closed {
                    continue;
                }
                if let Some(r) = st.r.clone() {
                    let rest = drain(r.as_raw_fd(), 0)
                        .map_err(|e| fail("bytes", format!("draining stream {s}: {e}")))?;
                    self.got_bytes(s, &rest)?;
                }
            }
            let until = Instant::now() + Duration::from_secs(1);
            while !self.ops.is_empty() && Instant::now() < until {
                let ring = self.ring.as_mut().expect("checked");
                let _ = ring.submit_and_wait_timeout(1, Duration::from_millis(20));
                self.collect()?;
            }
            self.check()?;
            self.end_ring(RingEnd::Close)?;
        }
        if leaked_ops() - self.leaked_before != self.allowed_leaks {
            return Err(fail(
                "leak",
                format!(
                    "leaked_ops moved by {}, but only {} leaks were allowed",
                    leaked_ops() - self.leaked_before,
                    self.allowed_leaks
                ),
            ));
        }
        self.held.clear();
        // Drain every stream with plain reads: exactly the bytes written come out.
        for s in 0..self.streams.len() {
            self.streams[s].w = None;
            let st = &self.streams[s];
            let Some(r) = st.r.clone() else { continue };
            if st.reader_closed {
                continue;
            }
            let rest = drain(r.as_raw_fd(), st.wpos.saturating_sub(st.rpos))
                .map_err(|e| fail("bytes", format!("draining stream {s}: {e}")))?;
            self.got_bytes(s, &rest)?;
            let st = &self.streams[s];
            if !st.read_lost && st.rpos < st.wpos {
                return Err(fail(
                    "bytes",
                    format!(
                        "stream {s} ({:?}): {} bytes were written, {} came out",
                        st.kind, st.wpos, st.rpos
                    ),
                ));
            }
        }
        self.teardown();
        // Descriptors: back to the baseline, plus what was leaked on purpose.
        let now = open_fds();
        // Operations leaked by earlier programs (forgotten rings) may still run:
        // a leaked close closes its descriptor, a leaked accept or open makes one.
        let mut carry = carry();
        let closed: Vec<RawFd> = self
            .baseline
            .difference(&now)
            .copied()
            .filter(|&fd| !carry.take_close(fd))
            .collect();
        self.out.carried += (self.baseline.difference(&now).count() - closed.len()) as u64;
        if !closed.is_empty() {
            return Err(fail(
                "fds",
                format!("descriptors open before the program were closed: {closed:?}"),
            ));
        }
        let mut anon = self.leak_anon;
        let mut unexplained = Vec::new();
        for fd in now.difference(&self.baseline) {
            if self.leak_fds.contains(fd) {
                continue;
            }
            if anon > 0 {
                anon -= 1;
                continue;
            }
            if carry.create > 0 {
                carry.create -= 1;
                self.out.carried += 1;
                continue;
            }
            unexplained.push(describe_fd(*fd));
        }
        self.out.checks += 1;
        if !unexplained.is_empty() {
            return Err(fail(
                "fds",
                format!(
                    "descriptors leaked: {} (allowed: {} of unknown numbers, and {:?}; new: {:?})",
                    unexplained.join(", "),
                    self.leak_anon,
                    self.leak_fds,
                    now.difference(&self.baseline)
                        .map(|&fd| describe_fd(fd))
                        .collect::<Vec<_>>()
                ),
            ));
        }
        Ok(())
    }

    /// Drops everything the program holds (rings included).
    fn teardown(&mut self) {
        self.ops.clear();
        self.lost.clear();
        if let Some(ring) = self.ring.take() {
            drop(ring);
        }
        self.regs = Regs::default();
        self.held.clear();
        self.streams.clear();
        self.pending_clients.clear();
        self.tcp_std = None;
        self.tcp_uring = None;
        self.opened.clear();
        self.junk.clear();
        if let Some(f) = self.file.take() {
            let _ = std::fs::remove_file(&f.path);
        }
    }
}

impl Typed {
    /// Cancels the operation, if its id is still known.
    fn cancel(&self, ring: &mut OwnedRing) -> io::Result<()> {
        match self {
            Typed::None => Ok(()),
            Typed::Any(h) => h.cancel(ring),
            Typed::RecvMultishot(id) => ring.cancel(id),
            Typed::ReadMultishot(id) => ring.cancel(id),
            Typed::BundleMulti(id) => ring.cancel(id),
            Typed::AcceptMultishot(id) => ring.cancel(id),
            Typed::PollMultishot(id) => ring.cancel(id),
            Typed::TimerMulti(id) => ring.cancel(id),
        }
    }

    /// Detaches the operation; false if its id was forgotten.
    fn detach(self, ring: &mut OwnedRing) -> bool {
        match self {
            Typed::None => return false,
            Typed::Any(h) => h.detach(ring),
            Typed::RecvMultishot(id) => ring.detach(id),
            Typed::ReadMultishot(id) => ring.detach(id),
            Typed::BundleMulti(id) => ring.detach(id),
            Typed::AcceptMultishot(id) => ring.detach(id),
            Typed::PollMultishot(id) => ring.detach(id),
            Typed::TimerMulti(id) => ring.detach(id),
        }
        true
    }

    fn is_multi(&self) -> bool {
        !matches!(self, Typed::None | Typed::Any(_))
    }
}

/// Reads what is left in `fd` without blocking: until end of file, or until no
/// byte is ready and at least `want` came (waiting up to 2 s for them).
fn drain(fd: RawFd, want: u64) -> io::Result<Vec<u8>> {
    // SAFETY: fcntl on a descriptor we hold open.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    // SAFETY: a borrowed view of the descriptor, not closed here (ManuallyDrop).
    let mut f = mem::ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let until = Instant::now() + Duration::from_secs(2);
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if out.len() as u64 >= want || Instant::now() > until {
                    return Ok(out);
                }
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, 50) };
            }
            Err(e) if e.raw_os_error() == Some(libc::ECONNRESET) => return Ok(out),
            Err(e) => return Err(e),
        }
    }
}
