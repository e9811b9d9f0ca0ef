//! A TCP echo server on io_uring's safe layer, single-threaded and without
//! `async` or a line of `unsafe`.
//!
//! ```text
//! cargo run -p uring --example echo_server -- [--addr 127.0.0.1:0] [--sqpoll]
//!     [--max-conns N] [--bufs N] [--buf-size BYTES] [--threads N] [--register-ring-fd]
//!     [--defer-taskrun | --no-defer-taskrun]
//! ```
//!
//! It prints `listening on ADDR` as its first line on standard output, then echoes
//! every byte each client sends back to it, in order, until the client shuts its
//! side down; then it closes the connection. It exits (status 0, after a summary on
//! standard error) when its standard input reaches end of file — so give it one
//! that stays open if it should run unattended (`sleep inf | echo_server`) — or,
//! with `--max-conns N`, once N connections have been closed.
//!
//! What it shows, all through [`OwnedRing`]:
//!
//! * **An event loop that costs little per event**: one entry into the kernel
//!   per pass ([`OwnedRing::wait_activity`] submits what the last pass queued and
//!   waits), which hands back the [`OpKey`] of each operation that got a
//!   completion. Each connection's state lives in a `Vec`, and a key finds its
//!   connection through another `Vec` indexed by [`OpKey::index`] (a small
//!   number the ring gives each operation) — no hash map, no sorting. Outputs
//!   are taken typed, by id ([`OwnedRing::poll_item`] for a stream's items,
//!   [`OwnedRing::try_take`] for a finished send), so no completion is queued,
//!   copied or downcast. A key stands for one completion, and each completion
//!   of a receive stream but its last carries one item: one item is taken per
//!   key, and a stream is never polled for nothing.
//! * **One multishot accept** ([`ops::AcceptMultishot`]): each new connection is an
//!   item of a single stream. If the stream ends (an error such as `EMFILE`), it
//!   is re-armed, after a short [`ops::Timeout`] when the error says the process
//!   is out of resources.
//! * **One multishot receive per connection** ([`ops::RecvMultishot`]) into buffers the
//!   kernel picks from a provided-buffer ring ([`BufPool`]): a connection holds no
//!   buffer while it waits. When the pool runs dry the stream ends with `ENOBUFS`;
//!   the connection is re-armed once buffers are back. A stream the kernel ends
//!   for another reason (its completion queue was full) is re-armed at once; one
//!   that ends at end of file, with no data, is the client's shutdown.
//! * **Sends in order** ([`ops::Send`]): at most one send per connection is in
//!   flight. The first chunk goes out straight from the pool buffer it arrived in
//!   (no copy; the buffer returns to the pool when the send gives it back); what
//!   arrives while a send is in flight is appended to the connection's backlog and
//!   goes out, all of it, in the next send. A short send is finished by sending
//!   the remainder before anything else. A client that sends without reading
//!   cannot make the backlog grow without bound: at 1 MiB the connection's
//!   receive is cancelled, and re-armed once the backlog has gone out.
//! * **Held sockets** ([`OwnedRing::hold_fd`]): the ring holds each connection's
//!   socket, and its operations name it by a `Copy` [`HeldFd`], with no
//!   reference count each (a [`SharedFd`] is an `Arc`: two atomic operations per
//!   operation). With the pool's lock taken once to hand a buffer out and once to
//!   give it back, that is all the atomic work of a round trip.
//! * **Closing** ([`OwnedRing::release_fd`]): once the client has shut down and
//!   everything received is sent, or after an error, and only when no operation
//!   of the connection is in flight (the ring would keep it open until their
//!   final completions otherwise).
//! * **Stopping**: a read of standard input waits for end of file.
//! * **One ring per core** (`--threads N`): N threads, each with its own
//!   [`OwnedRing`], pool and listener, all listening on the same port
//!   (`SO_REUSEPORT`: the kernel spreads new connections over them). Nothing is
//!   shared between the threads; the main thread reads standard input and, at end
//!   of file, hangs up a socket each thread's ring is reading from.
//! * **A registered ring descriptor** (`--register-ring-fd`): each thread's ring
//!   enters the kernel through its index in the thread's registered-ring table
//!   (`IORING_REGISTER_RING_FDS`, Linux 5.18), which skips a descriptor lookup
//!   per system call.
//! * **Deferred task work**, by default where the kernel has it: each ring is set
//!   up `SINGLE_ISSUER | DEFER_TASKRUN` (Linux 6.1): the kernel runs the work that
//!   completes receives and sends only when the ring's thread enters it to wait,
//!   in one batch, instead of interrupting the thread for it as it comes (in
//!   `cargo xtask bench`'s echo case the server served more round trips per
//!   second with it than without in every run we made). The ring is made on the
//!   thread that uses it, as `SINGLE_ISSUER` wants. On an older kernel (which
//!   refuses the flags) the server sets its rings up without;
//!   `--no-defer-taskrun` does so always, `--defer-taskrun` insists (and fails
//!   there). `--sqpoll` goes without it: the kernel's polling thread submits, so
//!   no task can defer its work to its own waits.
//!
//! Provided-buffer rings and multishot receive need Linux 6.0 (multishot accept
//! 5.19); on older kernels the server says so and exits with status 1.

use std::io::{self, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::time::Duration;

use uring::Ring;
use uring::error::errno;
use uring::owned::{
    BufPool, HeldFd, IoBuf, ItemPoll, Multi, OpId, OpKey, OwnedRing, PoolBuf, SharedFd, Slice,
    StreamEnd, ops,
};

/// Submission queue entries.
const SQ_ENTRIES: u32 = 256;
/// Completion queue entries: room for many multishot completions between two
/// passes of the loop (a full queue ends multishot streams).
const CQ_ENTRIES: u32 = 4096;
/// The pool's buffer group.
const GROUP: u16 = 0;
/// How long to wait before re-arming accept after `EMFILE` and the like.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// A connection whose backlog reaches this many bytes (its client sends but does
/// not read) stops receiving until the backlog has gone out.
const BACKLOG_LIMIT: usize = 1 << 20;

const USAGE: &str = "usage: echo_server [--addr IP:PORT] [--sqpoll] [--max-conns N] \
                     [--bufs N] [--buf-size BYTES] [--threads N] [--register-ring-fd] \
                     [--defer-taskrun | --no-defer-taskrun]";

/// Command-line settings.
#[derive(Clone)]
struct Config {
    /// Where to listen (default `127.0.0.1:0`, a port of the kernel's choosing).
    addr: SocketAddr,
    /// Set the ring up with a kernel submission-polling thread.
    sqpoll: bool,
    /// Exit after this many connections have been closed.
    max_conns: Option<u64>,
    /// Buffers in the pool (1 to 32768).
    bufs: u16,
    /// Bytes per buffer.
    buf_size: u32,
    /// Threads, each with its own ring and listener on the same port.
    threads: usize,
    /// Register each ring's descriptor with its thread.
    register_ring_fd: bool,
    /// Whether each ring is set up with `SINGLE_ISSUER | DEFER_TASKRUN`.
    defer_taskrun: Defer,
}

/// Whether rings are set up with `SINGLE_ISSUER | DEFER_TASKRUN`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Defer {
    /// Where the kernel has it (the default; not with `--sqpoll`).
    Auto,
    /// Always (`--defer-taskrun`): setting a ring up fails where the kernel
    /// lacks it.
    On,
    /// Never (`--no-defer-taskrun`).
    Off,
}

/// Parses the arguments; `Err("")` for `--help`.
fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut config = Config {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        sqpoll: false,
        max_conns: None,
        bufs: 256,
        buf_size: 4096,
        threads: 1,
        register_ring_fd: false,
        defer_taskrun: Defer::Auto,
    };
    fn value<T: std::str::FromStr>(
        flag: &str,
        v: Option<String>,
        ok: impl Fn(&T) -> bool,
    ) -> Result<T, String>
    where
        T::Err: std::fmt::Display,
    {
        let v = v.ok_or_else(|| format!("{flag} needs a value"))?;
        let parsed = v.parse::<T>().map_err(|e| format!("{flag} {v}: {e}"))?;
        if ok(&parsed) {
            Ok(parsed)
        } else {
            Err(format!("{flag} {v}: out of range"))
        }
    }
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => config.addr = value("--addr", args.next(), |_| true)?,
            "--sqpoll" => config.sqpoll = true,
            "--max-conns" => {
                config.max_conns = Some(value("--max-conns", args.next(), |&n| n > 0)?)
            }
            "--bufs" => config.bufs = value("--bufs", args.next(), |&n| (1..=32768).contains(&n))?,
            "--buf-size" => {
                config.buf_size = value("--buf-size", args.next(), |&n| (1..=1 << 24).contains(&n))?
            }
            "--threads" => {
                config.threads = value("--threads", args.next(), |&n| (1..=1024).contains(&n))?
            }
            "--register-ring-fd" => config.register_ring_fd = true,
            "--defer-taskrun" | "--no-defer-taskrun" => {
                let want = if arg == "--defer-taskrun" {
                    Defer::On
                } else {
                    Defer::Off
                };
                if config.defer_taskrun != Defer::Auto && config.defer_taskrun != want {
                    return Err("--defer-taskrun and --no-defer-taskrun exclude each other".into());
                }
                config.defer_taskrun = want;
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if config.sqpoll && config.defer_taskrun == Defer::On {
        return Err(
            "--sqpoll and --defer-taskrun exclude each other: the kernel's polling thread \
             submits, so no task can defer its work to its own waits"
                .into(),
        );
    }
    if config.threads > 1 && config.max_conns.is_some() {
        return Err("--max-conns counts the connections of one ring: not with --threads".into());
    }
    if config.sqpoll {
        config.defer_taskrun = Defer::Off;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let config = match parse_args(std::env::args().skip(1)) {
        Ok(c) => c,
        // `--help`.
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("echo_server: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&config) {
        Ok(stats) => {
            eprintln!(
                "echo_server: {} connections served ({} ended by an error), {} bytes echoed, \
                 {} receives re-armed after ENOBUFS, {} paused for a full backlog",
                stats.closed, stats.failed, stats.bytes, stats.enobufs, stats.pauses
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the server did, for the summary.
#[derive(Default, Clone, Copy)]
struct Stats {
    /// Connections closed.
    closed: u64,
    /// Connections closed after an error (a reset, a failed send).
    failed: u64,
    /// Bytes sent back.
    bytes: u64,
    /// Receive streams that ended with `ENOBUFS` (and were re-armed, unless the
    /// connection closed first).
    enobufs: u64,
    /// Times a connection stopped receiving because its backlog was full.
    pauses: u64,
}

fn run(config: &Config) -> io::Result<Stats> {
    if config.threads == 1 {
        let listener = TcpListener::bind(config.addr)
            .map_err(|e| with_context(e, &format!("cannot listen on {}", config.addr)))?;
        let stdin = SharedFd::from(io::stdin().as_fd().try_clone_to_owned()?);
        let (ring, pool) = setup(config)?;
        return serve_one(config, ring, pool, listener, stdin, true);
    }
    // One listener per thread on the same port; the first picks the port.
    let first = reuse_port_listener(config.addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..config.threads {
        listeners.push(reuse_port_listener(addr)?);
    }
    // Each thread reads its end of a socket pair as it would standard input: end
    // of file when the main thread drops the other end.
    let mut hangups = Vec::new();
    let mut workers = Vec::new();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    for listener in listeners {
        let (stop, hangup) = UnixStream::pair()?;
        hangups.push(hangup);
        let config = config.clone();
        let ready = ready_tx.clone();
        workers.push(std::thread::spawn(move || {
            // The ring is set up on its thread (a registered ring descriptor is
            // the registering thread's).
            let (ring, pool) = match setup(&config) {
                Ok(rp) => {
                    let _ = ready.send(Ok(()));
                    rp
                }
                Err(e) => {
                    let _ = ready.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            serve_one(&config, ring, pool, listener, SharedFd::from(stop), false)
        }));
    }
    drop(ready_tx);
    for r in ready_rx.iter().take(config.threads) {
        r?;
    }
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    drop(out);
    // Wait for end of file on standard input, then hang up on every thread.
    io::copy(&mut io::stdin().lock(), &mut io::sink())?;
    drop(hangups);
    let mut total = Stats::default();
    for (i, w) in workers.into_iter().enumerate() {
        let s = w
            .join()
            .map_err(|_| io::Error::other("a server thread panicked"))??;
        eprintln!("echo_server: thread {i}: {} connections", s.closed);
        total.closed += s.closed;
        total.failed += s.failed;
        total.bytes += s.bytes;
        total.enobufs += s.enobufs;
        total.pauses += s.pauses;
    }
    Ok(total)
}

/// A listener on `addr` with `SO_REUSEPORT`, so that several can share a port.
fn reuse_port_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())
        .map_err(|e| with_context(e, &format!("cannot listen on {addr}")))?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// The ring and its buffer pool, as `config` says.
fn setup(config: &Config) -> io::Result<(OwnedRing, BufPool)> {
    let builder = |defer: bool| {
        let mut builder = Ring::builder().cq_entries(CQ_ENTRIES);
        if config.sqpoll {
            builder = builder.sqpoll().sq_thread_idle(100);
        }
        if config.register_ring_fd {
            builder = builder.register_ring_fd();
        }
        if defer {
            builder = builder.single_issuer().defer_taskrun();
        }
        builder
    };
    let ring = match config.defer_taskrun {
        Defer::Off => OwnedRing::from_builder(builder(false), SQ_ENTRIES),
        Defer::On => OwnedRing::from_builder(builder(true), SQ_ENTRIES),
        // A kernel before 6.1 refuses the flags (EINVAL): without them, then.
        Defer::Auto => OwnedRing::from_builder(builder(true), SQ_ENTRIES)
            .or_else(|_| OwnedRing::from_builder(builder(false), SQ_ENTRIES)),
    };
    let mut ring = ring.map_err(|e| with_context(e, "cannot set up the ring"))?;
    let pool = BufPool::new(&mut ring, GROUP, config.bufs, config.buf_size).map_err(|e| {
        with_context(
            e,
            "cannot register a provided-buffer ring (Linux 5.19 is needed)",
        )
    })?;
    Ok((ring, pool))
}

/// Serves `listener` on `ring` until `stdin` reaches end of file (or
/// `--max-conns`); `announce` prints the address first.
fn serve_one(
    config: &Config,
    ring: OwnedRing,
    pool: BufPool,
    listener: TcpListener,
    stdin: SharedFd,
    announce: bool,
) -> io::Result<Stats> {
    let addr = listener.local_addr()?;

    let mut server = Server {
        ring,
        pool,
        listener: SharedFd::from(listener),
        stdin,
        accept: None,
        accepted_once: false,
        accept_retry: None,
        stdin_read: None,
        conns: Vec::new(),
        free: Vec::new(),
        owner: Vec::new(),
        starved: Vec::new(),
        max_conns: config.max_conns,
        stopping: false,
        stats: Stats::default(),
    };
    server.arm_accept()?;
    server.arm_stdin()?;
    // Submit before announcing the port, so the accept is armed.
    server.ring.submit()?;
    if announce {
        let mut out = io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }

    let result = server.serve();
    let Server { ring, stats, .. } = server;
    // Cancels whatever is still in flight (the accept, the read of stdin, the
    // connections still open) and waits for it.
    ring.close();
    result.map(|()| stats)
}

fn with_context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

type AcceptId = OpId<Multi<ops::AcceptMultishot>>;
type RecvId = OpId<Multi<ops::RecvMultishot>>;
/// A send straight from the pool buffer the bytes arrived in.
type PoolSend = ops::Send<Slice<PoolBuf>>;
/// A send of a connection's backlog.
type VecSend = ops::Send<Slice<Vec<u8>>>;

/// A connection's send in flight, one of the two kinds (so its output is taken
/// typed, by id, without a [`Completion`](uring::owned::Completion) to
/// downcast).
#[derive(Clone, Copy)]
enum Sending {
    Pool(OpId<PoolSend>),
    Backlog(OpId<VecSend>),
}

impl Sending {
    fn key(self) -> OpKey {
        match self {
            Sending::Pool(id) => id.key(),
            Sending::Backlog(id) => id.key(),
        }
    }
}

/// `Server::owner`'s mark for an index no connection's operation has had.
const NO_CONN: u32 = u32::MAX;

/// One client connection.
struct Conn {
    /// The socket, held by the ring: its operations name it without a
    /// reference count each.
    fd: HeldFd,
    /// The receive stream, while it is armed.
    recv: Option<RecvId>,
    /// Whether a cancellation of `recv` was asked for.
    recv_cancelled: bool,
    /// Data items the current receive stream has yielded.
    items: u64,
    /// The error the current receive stream ended with, if it did.
    recv_err: Option<i32>,
    /// The send in flight (at most one, so bytes leave in order).
    send: Option<Sending>,
    /// Bytes received while a send was in flight, to send next.
    backlog: Vec<u8>,
    /// An empty buffer to become the next backlog (the last one sent).
    spare: Vec<u8>,
    /// The client shut its side down.
    eof: bool,
    /// An error: stop echoing, close once nothing is in flight.
    broken: bool,
    /// The receive stream ended with `ENOBUFS` and waits for buffers.
    starved: bool,
    /// Receiving stopped (the stream cancelled) because the backlog reached
    /// [`BACKLOG_LIMIT`]; it resumes once the backlog has gone out.
    paused: bool,
}

/// The server's state: the ring, the pool, and the connections.
struct Server {
    ring: OwnedRing,
    pool: BufPool,
    listener: SharedFd,
    stdin: SharedFd,
    accept: Option<AcceptId>,
    /// Whether accept ever yielded a connection (so `EINVAL` is not the kernel
    /// lacking multishot accept).
    accepted_once: bool,
    /// A timer before re-arming accept.
    accept_retry: Option<OpId<ops::Timeout>>,
    stdin_read: Option<OpId<ops::Read<Vec<u8>>>>,
    /// Connections by index; `None` for free slots, listed in `free`.
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    /// For each operation index ([`OpKey::index`]), the connection whose
    /// receive or send had it last ([`NO_CONN`]: none yet). An entry may be
    /// stale — the operation finished, the index went to another operation —
    /// so it is only a hint: the connection's own ids say whether a key is its.
    owner: Vec<u32>,
    /// Connections whose receive waits for the pool to have buffers again.
    starved: Vec<usize>,
    max_conns: Option<u64>,
    stopping: bool,
    stats: Stats,
}

impl Server {
    /// The event loop. Each pass enters the kernel once
    /// ([`OwnedRing::wait_activity`]: it submits what the last pass queued and
    /// waits for a completion, unless some are already there) and gets the key of
    /// each operation that got a completion. A key leads to its connection
    /// through [`owner`](Self::owner), a `Vec` indexed by [`OpKey::index`] — no
    /// hashing, no sorting — and each operation's output is taken typed, by its
    /// id: items with [`OwnedRing::poll_item`], a finished send with
    /// [`OwnedRing::try_take`]. Nothing else is looked at, however many
    /// connections are open.
    fn serve(&mut self) -> io::Result<()> {
        let mut keys = Vec::new();
        while !self.stopping {
            keys.clear();
            self.ring.wait_activity(&mut keys)?;
            for &key in &keys {
                self.on_activity(key)?;
            }
            // Only a pass that has starved receives looks at the pool (whose
            // count is behind its lock).
            if !self.starved.is_empty() {
                self.rearm_starved()?;
            }
        }
        Ok(())
    }

    /// Operation `key` got a completion: take what it has.
    fn on_activity(&mut self, key: OpKey) -> io::Result<()> {
        let is = |id: Option<OpKey>| id == Some(key);
        if is(self.accept.map(|id| id.key())) {
            return self.poll_accept();
        }
        if is(self.stdin_read.map(|id| id.key())) {
            return self.on_stdin();
        }
        if is(self.accept_retry.map(|id| id.key())) {
            return self.on_accept_retry();
        }
        let Some(&idx) = self.owner.get(key.index()) else {
            return Ok(());
        };
        let idx = idx as usize;
        let Some(conn) = self.conns.get(idx).and_then(Option::as_ref) else {
            return Ok(());
        };
        if is(conn.recv.map(|id| id.key())) {
            self.poll_recv(idx)
        } else if is(conn.send.map(Sending::key)) {
            self.on_send_done(idx)
        } else {
            // A stale owner entry: a detached close, say.
            Ok(())
        }
    }

    /// Records that the operation with `key` belongs to connection `idx`.
    fn own(&mut self, key: OpKey, idx: usize) {
        let i = key.index();
        if i >= self.owner.len() {
            self.owner.resize(i + 1, NO_CONN);
        }
        self.owner[i] = idx as u32;
    }

    fn conn(&mut self, idx: usize) -> &mut Conn {
        self.conns[idx].as_mut().expect("a live connection")
    }

    fn arm_accept(&mut self) -> io::Result<()> {
        let id = self
            .ring
            .submit_multishot(ops::AcceptMultishot::new(&self.listener))?;
        self.accept = Some(id);
        Ok(())
    }

    fn arm_stdin(&mut self) -> io::Result<()> {
        // Offset -1: the current position, as for a pipe or a terminal.
        let id = self.ring.submit_op(ops::Read::new(
            &self.stdin,
            Vec::with_capacity(256),
            u64::MAX,
        ))?;
        self.stdin_read = Some(id);
        Ok(())
    }

    /// The read of standard input finished: more input (ignored) re-arms it;
    /// end of file, or an error, stops the server.
    fn on_stdin(&mut self) -> io::Result<()> {
        let Some(id) = self.stdin_read else {
            return Ok(());
        };
        let Some((res, _)) = self.ring.try_take(&id) else {
            return Ok(());
        };
        self.stdin_read = None;
        match res {
            Ok(n) if n > 0 => self.arm_stdin(),
            Err(e) if errno(&e) == Some(libc::EINTR) => self.arm_stdin(),
            _ => {
                self.stopping = true;
                Ok(())
            }
        }
    }

    /// The timer set after an accept error fired: accept again.
    fn on_accept_retry(&mut self) -> io::Result<()> {
        let Some(id) = self.accept_retry else {
            return Ok(());
        };
        if self.ring.try_take(&id).is_none() {
            return Ok(());
        }
        self.accept_retry = None;
        if self.accept.is_none() && !self.stopping {
            self.arm_accept()?;
        }
        Ok(())
    }

    /// Takes every connection the accept stream has.
    fn poll_accept(&mut self) -> io::Result<()> {
        let Some(id) = self.accept else {
            return Ok(());
        };
        loop {
            match self.ring.poll_item(&id) {
                ItemPoll::Item(item) => self.on_accept_item(item)?,
                ItemPoll::Pending => return Ok(()),
                ItemPoll::Ended(_) | ItemPoll::Gone => return self.on_accept_end(),
            }
        }
    }

    /// One item of the accept stream: a connection, or the error ending it.
    fn on_accept_item(&mut self, item: io::Result<std::os::fd::OwnedFd>) -> io::Result<()> {
        let fd = match item {
            Ok(fd) => fd,
            Err(e) => {
                return self.on_accept_error(e);
            }
        };
        self.accepted_once = true;
        let fd = match self.ring.hold_fd(fd) {
            Ok(fd) => fd,
            // The ring holds as many as it can (the connection, dropped, is
            // closed): the client sees it reset, as with a full accept queue.
            Err(e) => {
                eprintln!("echo_server: cannot hold a new connection: {e}");
                self.stats.closed += 1;
                self.stats.failed += 1;
                return Ok(());
            }
        };
        let conn = Conn {
            fd,
            recv: None,
            recv_cancelled: false,
            items: 0,
            recv_err: None,
            send: None,
            backlog: Vec::new(),
            spare: Vec::new(),
            eof: false,
            broken: false,
            starved: false,
            paused: false,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.conns[i] = Some(conn);
                i
            }
            None => {
                self.conns.push(Some(conn));
                self.conns.len() - 1
            }
        };
        self.arm_recv(idx)
    }

    fn on_accept_error(&mut self, e: io::Error) -> io::Result<()> {
        match errno(&e) {
            // Out of descriptors or memory: try again a little later.
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                eprintln!("echo_server: accept: {e}; retrying in {ACCEPT_RETRY:?}");
                let id = self.ring.submit_op(ops::Timeout::new(ACCEPT_RETRY))?;
                self.accept_retry = Some(id);
                Ok(())
            }
            // A connection that went away before it was accepted, a signal.
            Some(libc::ECONNABORTED | libc::EINTR | libc::EAGAIN | libc::EPERM) => Ok(()),
            Some(libc::ECANCELED) if self.stopping => Ok(()),
            Some(libc::EINVAL) if !self.accepted_once => Err(with_context(
                e,
                "multishot accept refused (Linux 5.19 is needed)",
            )),
            _ => Err(with_context(e, "accept")),
        }
    }

    /// The accept stream ended (its error, if any, was its last item): re-arm it
    /// unless a retry timer is already set.
    fn on_accept_end(&mut self) -> io::Result<()> {
        self.accept = None;
        if self.accept_retry.is_none() && !self.stopping {
            self.arm_accept()?;
        }
        Ok(())
    }

    fn arm_recv(&mut self, idx: usize) -> io::Result<()> {
        let conn = self.conns[idx].as_mut().expect("a live connection");
        let op = ops::RecvMultishot::new(conn.fd, &self.pool);
        match self.ring.submit_multishot(op) {
            Ok(id) => {
                self.own(id.key(), idx);
                let conn = self.conn(idx);
                conn.recv = Some(id);
                conn.recv_cancelled = false;
                conn.items = 0;
                conn.recv_err = None;
                Ok(())
            }
            Err(e) => {
                eprintln!("echo_server: cannot arm a receive: {}", e.error);
                self.break_conn(idx)
            }
        }
    }

    /// The connection's receive stream got a completion: takes its item, and
    /// the stream's end if that was the last one.
    ///
    /// One activity key is one completion, and each completion of a receive
    /// stream but the last carries exactly one item, so one item is taken per
    /// key — no second look that would find nothing (and check the kernel's
    /// queue to be sure). Items that arrive meanwhile come with keys of their
    /// own, in the next pass. Only once the final completion is in (the stream
    /// is no longer [in flight](OwnedRing::is_in_flight)) is the rest drained:
    /// what it carried, if anything (the error that ended the stream), then
    /// the end itself.
    fn poll_recv(&mut self, idx: usize) -> io::Result<()> {
        let Some(id) = self.conn(idx).recv else {
            return Ok(());
        };
        let in_flight = self.ring.is_in_flight(&id);
        loop {
            match self.ring.poll_item(&id) {
                ItemPoll::Item(item) => {
                    self.on_recv_item(idx, item)?;
                    if in_flight {
                        return Ok(());
                    }
                }
                ItemPoll::Pending => return Ok(()),
                ItemPoll::Ended(end) => return self.on_recv_end(idx, Some(end)),
                // Not reachable: only this loop takes the stream's end.
                ItemPoll::Gone => return self.on_recv_end(idx, None),
            }
        }
    }

    /// One item of a receive stream: bytes to echo, or the error ending it.
    fn on_recv_item(&mut self, idx: usize, item: io::Result<PoolBuf>) -> io::Result<()> {
        let conn = self.conn(idx);
        let buf = match item {
            Ok(buf) => buf,
            Err(e) => {
                let code = errno(&e).unwrap_or(libc::EIO);
                if code == libc::EINVAL && conn.items == 0 && !conn.eof {
                    return Err(with_context(
                        e,
                        "multishot receive refused (Linux 6.0 is needed)",
                    ));
                }
                conn.recv_err = Some(code);
                return Ok(());
            }
        };
        conn.items += 1;
        if conn.broken || buf.is_empty() {
            return Ok(());
        }
        if conn.send.is_some() {
            // In order: after the send in flight.
            conn.backlog.extend_from_slice(&buf);
            if conn.backlog.len() >= BACKLOG_LIMIT && !conn.paused {
                // The client is not reading: stop receiving. (The items already
                // posted still come, then the stream's end.)
                conn.paused = true;
                self.stats.pauses += 1;
                self.cancel_recv(idx)?;
            }
            Ok(())
        } else {
            // The common case: the bytes go back out of the buffer they came in.
            let len = buf.len();
            self.send(idx, buf.slice(..len), Sending::Pool)
        }
    }

    /// A receive stream ended, for the reason `end` gives (`None`: unknown).
    fn on_recv_end(&mut self, idx: usize, end: Option<StreamEnd>) -> io::Result<()> {
        // End of file: the client shut its side down.
        let eof = end.is_some_and(|e| e.raw_result() == 0);
        // The kernel stopped the stream with more to come (say, the completion
        // queue was full): submitting it again continues it.
        let rearm = end.is_some_and(|e| e.rearm());
        let stopping = self.stopping;
        let conn = self.conns[idx].as_mut().expect("a live connection");
        conn.recv = None;
        match conn.recv_err.take() {
            Some(libc::ENOBUFS) => {
                self.stats.enobufs += 1;
                if !conn.broken && !stopping && !conn.paused {
                    conn.starved = true;
                    self.starved.push(idx);
                }
            }
            Some(libc::ECANCELED) if conn.broken || stopping || conn.paused => {}
            Some(code) => {
                if code != libc::ECONNRESET {
                    eprintln!(
                        "echo_server: receive: {}",
                        io::Error::from_raw_os_error(code)
                    );
                }
                conn.broken = true;
            }
            None if eof => conn.eof = true,
            None if rearm && !conn.broken && !conn.paused => return self.arm_recv(idx),
            None if rearm || conn.broken || conn.paused => {}
            None => conn.broken = true,
        }
        self.resume(idx)?;
        self.maybe_close(idx)
    }

    /// Re-arms the receive of a paused connection once its backlog has gone out
    /// (and its cancelled stream has ended).
    fn resume(&mut self, idx: usize) -> io::Result<()> {
        let stopping = self.stopping;
        let Some(conn) = self.conns[idx].as_mut() else {
            return Ok(());
        };
        if !conn.paused || conn.recv.is_some() || conn.backlog.len() >= BACKLOG_LIMIT / 2 {
            return Ok(());
        }
        conn.paused = false;
        if conn.broken || conn.eof || stopping {
            return Ok(());
        }
        self.arm_recv(idx)
    }

    /// Re-arms the receives that ran out of buffers, if the pool has some again.
    fn rearm_starved(&mut self) -> io::Result<()> {
        while self.pool.available() > 0 {
            let Some(idx) = self.starved.pop() else {
                break;
            };
            let Some(conn) = self.conns[idx].as_mut() else {
                continue;
            };
            if !conn.starved || conn.paused {
                continue;
            }
            conn.starved = false;
            if conn.broken {
                self.maybe_close(idx)?;
            } else {
                self.arm_recv(idx)?;
            }
        }
        Ok(())
    }

    /// Marks connection `idx` broken: nothing more is echoed, its receive is
    /// cancelled, and it closes once its operations are back.
    fn break_conn(&mut self, idx: usize) -> io::Result<()> {
        let conn = self.conn(idx);
        conn.broken = true;
        conn.backlog.clear();
        self.cancel_recv(idx)?;
        self.maybe_close(idx)
    }

    /// Cancels connection `idx`'s receive stream, once, if it is armed.
    fn cancel_recv(&mut self, idx: usize) -> io::Result<()> {
        let Some(conn) = self.conns[idx].as_mut() else {
            return Ok(());
        };
        let Some(id) = conn.recv else {
            return Ok(());
        };
        if conn.recv_cancelled {
            return Ok(());
        }
        conn.recv_cancelled = true;
        match self.ring.cancel(&id) {
            // Already finished: its end is waiting to be taken.
            Err(e) if errno(&e) == Some(libc::ENOENT) => Ok(()),
            r => r,
        }
    }

    /// Sends `buf` on connection `idx`, the one send in flight for it; `kind`
    /// says which of [`Sending`]'s kinds it is.
    fn send<B: IoBuf>(
        &mut self,
        idx: usize,
        buf: Slice<B>,
        kind: fn(OpId<ops::Send<Slice<B>>>) -> Sending,
    ) -> io::Result<()> {
        let conn = self.conn(idx);
        debug_assert!(conn.send.is_none());
        let op = ops::Send::new(conn.fd, buf).flags(libc::MSG_NOSIGNAL);
        match self.ring.submit_op(op) {
            Ok(id) => {
                self.own(id.key(), idx);
                self.conn(idx).send = Some(kind(id));
                Ok(())
            }
            Err(e) => {
                eprintln!("echo_server: cannot queue a send: {}", e.error);
                self.break_conn(idx)
            }
        }
    }

    /// Connection `idx`'s send finished: takes its output, by id.
    fn on_send_done(&mut self, idx: usize) -> io::Result<()> {
        match self.conn(idx).send {
            Some(Sending::Pool(id)) => {
                let Some((res, buf)) = self.ring.try_take(&id) else {
                    return Ok(());
                };
                self.conn(idx).send = None;
                // The pool buffer goes back to the kernel here.
                drop(self.on_sent(idx, res, buf, Sending::Pool)?);
            }
            Some(Sending::Backlog(id)) => {
                let Some((res, buf)) = self.ring.try_take(&id) else {
                    return Ok(());
                };
                self.conn(idx).send = None;
                if let Some(mut v) = self.on_sent(idx, res, buf, Sending::Backlog)? {
                    // Keep the allocation for the next backlog.
                    v.clear();
                    if let Some(conn) = self.conns[idx].as_mut() {
                        if conn.spare.capacity() < v.capacity() {
                            conn.spare = v;
                        }
                    }
                }
            }
            None => {}
        }
        Ok(())
    }

    /// A send finished: finish a short one, else send the backlog, if any.
    /// Returns the buffer when it is done with.
    fn on_sent<B: IoBuf>(
        &mut self,
        idx: usize,
        res: io::Result<usize>,
        buf: Slice<B>,
        kind: fn(OpId<ops::Send<Slice<B>>>) -> Sending,
    ) -> io::Result<Option<B>> {
        let len = buf.bytes_init();
        match res {
            Ok(n) if n > 0 || len == 0 => {
                self.stats.bytes += n as u64;
                if n < len {
                    let (begin, end) = (buf.begin() + n, buf.end());
                    self.send(idx, buf.into_inner().slice(begin..end), kind)?;
                    return Ok(None);
                }
            }
            Ok(_) => {
                eprintln!("echo_server: send wrote nothing");
                self.break_conn(idx)?;
                return Ok(Some(buf.into_inner()));
            }
            Err(e) => {
                if !matches!(errno(&e), Some(libc::EPIPE | libc::ECONNRESET)) {
                    eprintln!("echo_server: send: {e}");
                }
                self.break_conn(idx)?;
                return Ok(Some(buf.into_inner()));
            }
        }
        self.flush_backlog(idx)?;
        Ok(Some(buf.into_inner()))
    }

    /// Sends the backlog if nothing is in flight; resumes receiving if it was
    /// paused; closes the connection if it is done.
    fn flush_backlog(&mut self, idx: usize) -> io::Result<()> {
        let Some(conn) = self.conns[idx].as_mut() else {
            return Ok(());
        };
        if conn.backlog.is_empty() || conn.send.is_some() || conn.broken {
            if conn.paused || conn.eof || conn.broken {
                self.resume(idx)?;
                return self.maybe_close(idx);
            }
            // The common case: nothing waiting, nothing to do.
            return Ok(());
        }
        let data = std::mem::replace(&mut conn.backlog, std::mem::take(&mut conn.spare));
        let len = data.len();
        self.send(idx, data.slice(..len), Sending::Backlog)?;
        self.resume(idx)
    }

    /// Closes connection `idx` if it is finished (the client shut down and every
    /// byte went back, or an error) and none of its operations is in flight.
    fn maybe_close(&mut self, idx: usize) -> io::Result<()> {
        let Some(conn) = self.conns[idx].as_ref() else {
            return Ok(());
        };
        let finished = conn.broken || (conn.eof && conn.backlog.is_empty());
        if !finished || conn.recv.is_some() || conn.send.is_some() {
            return Ok(());
        }
        let conn = self.conns[idx].take().expect("a live connection");
        self.free.push(idx);
        // No operation of it is in flight: the ring closes it now.
        self.ring.release_fd(conn.fd)?;
        self.stats.closed += 1;
        self.stats.failed += u64::from(conn.broken);
        if self.max_conns.is_some_and(|m| self.stats.closed >= m) {
            self.stopping = true;
        }
        Ok(())
    }
}
