//! `TypedRing<ops::Read<Watched>>` under a hostile user: random programs of
//! safe calls on small rings (2–8 entries, completion queues smaller than what
//! is in flight, `DEFER_TASKRUN` or not) over Unix stream sockets, some held by
//! the ring, some shared. A model follows every call and checks the kernel's
//! doing against it: every submitted key comes back exactly once, with its own
//! buffer; the bytes a read got are unread words of its stream (each word
//! names its stream and position: nothing lost, duplicated or misplaced); the
//! errnos are the documented ones; every buffer is dropped exactly once, after
//! its output; a released (or no longer shared) socket stays open while an
//! operation names it and is closed once the last one is taken; a closed ring
//! frees, closes and reports what it cancelled, and leaks only what it must.
//!
//! `TYPED_RANDOM_SEED=<n>` runs program `n` alone (the seed a failure names).

use crate::support::{self, kernel_release};

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{ErrorKind, Read as _, Write as _};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use uring::owned::{HeldFd, IoBuf, IoBufMut, OpKey, SharedFd, SubmitError, TypedRing};
use uring::owned::{leaked_ops, ops};
use uring::{Ring, error::errno};

const TEST: &str = "typed_ring_random_programs_match_the_model";
/// Programs run by default: seeds `0..PROGRAMS`.
const PROGRAMS: u64 = 200;
/// What a buffer holds where the kernel did not write.
const FILL: u8 = 0xEE;
/// A stream's bytes are words of `[stream id, position (24 bits, LE)]`.
const WORD: usize = 4;
/// Words written to a stream and not yet taken, at most: the socket's send
/// buffer never fills (each write goes through whole).
const MAX_UNTAKEN: u32 = 96;
const MAX_IN_FLIGHT: usize = 24;
const MAX_STREAMS: usize = 10;
/// How many of the last actions a failure shows.
const LOG_TAIL: usize = 60;
const LEAKED: &str = "closes that leaked";
const CLEAN: &str = "closes that leaked nothing";
const EXACT_LEAKED: &str = "closes that leaked, leaked_ops() grew by as much";
const EXACT_CLEAN: &str = "closes that leaked nothing, leaked_ops() unmoved";

type Rd = ops::Read<Watched>;
type Stats = BTreeMap<&'static str, usize>;

/// xorshift64*, seeded through splitmix64.
#[derive(Default)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng((z ^ (z >> 31)) | 1)
    }
    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
    /// A number in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A read's buffer: bytes all `FILL` at first (initialised, so that what the
/// kernel did not write can be checked), the count a read filled, an id, and
/// a count of its drops.
struct Watched {
    bytes: Vec<u8>,
    filled: usize,
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

// SAFETY: the bytes live in the Vec's heap allocation, which moving the
// Watched does not move; the Vec is never resized (its length is fixed at
// creation, all of it initialised), so the pointer and both counts stay put
// while the buffer is lent; `filled <= bytes.len()` (see `set_init`).
unsafe impl IoBuf for Watched {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.filled
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: as for IoBuf; the Vec is this value's alone, and its pointer for
// writing is the one `stable_ptr` returns.
unsafe impl IoBufMut for Watched {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // Every byte is initialised already: this only records the count.
        self.filled = self.filled.max(n.min(self.bytes.len()));
    }
}

/// How the ring names a stream's socket.
enum Fd {
    Held(HeldFd),
    /// Released: new reads are refused; closed after the last one in flight.
    Released(HeldFd),
    Shared(SharedFd),
    /// Our `SharedFd` dropped: only reads in flight keep the socket open.
    Dropped,
}

struct Stream {
    /// The test's end: written to, never read from but to see whether the
    /// ring's end is closed (the ring never writes). Non-blocking.
    peer: UnixStream,
    fd: Fd,
    id: u8,
    /// Words written; per word, whether an output had it; how many did.
    sent: u32,
    got: Vec<bool>,
    taken: u32,
    /// The peer's write side is shut down: reads end with 0 bytes.
    eof: bool,
    /// The ring's end was seen closed.
    closed: bool,
}

/// A read, as the model has it: its stream, buffer and size, whether it
/// names a released file (to be refused), whether it was cancelled.
struct ReadInfo {
    s: usize,
    buf: usize,
    words: usize,
    released: bool,
    cancelled: bool,
}

#[derive(Default)]
struct Model {
    rng: Rng,
    streams: Vec<Stream>,
    /// The reads in flight: queued, running, or finished and not yet taken.
    ops: HashMap<OpKey, ReadInfo>,
    /// The keys taken, in order (a replay picks from them the same way).
    done: Vec<OpKey>,
    /// Every buffer made: its drop count, and where its bytes are.
    bufs: Vec<(Arc<AtomicUsize>, usize)>,
    /// Entries (reads and cancellations) pushed and not yet submitted.
    queued: usize,
    sq_entries: usize,
    cq_entries: usize,
    /// `SINGLE_ISSUER`: no other thread can enter the kernel with the ring.
    single_issuer: bool,
    log: VecDeque<String>,
    step: usize,
    /// How often each event of interest happened (printed at the end).
    stats: Stats,
    /// A released file whose last read was taken may still be open: it is
    /// closed when the iterator that took the read is dropped, and one is
    /// live, or was forgotten since the last one was dropped.
    late: bool,
}

/// Whether the ring's end of `peer` is closed: a read of the peer (which
/// never gets data) says end of file or reset rather than "would block".
fn ring_end_closed(peer: &mut UnixStream) -> bool {
    match peer.read(&mut [0u8; 1]) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        other => panic!("the peer read {other:?}, but the ring never writes"),
    }
}

/// [`ring_end_closed`], given up to two seconds to become true: for a ring end
/// that must be closed by now. Closing the ring's descriptor drops the ring's
/// reference to the file at once, but the kernel may still hold one for a read
/// whose completion is posted and whose request it has not freed yet (a
/// request finished on a kernel worker thread), and the peer sees the end only
/// once that goes too. (CI, loaded: seed 36 saw the end still open as the
/// iterator was dropped, once; again alone, it passed.)
fn ring_end_closed_soon(peer: &mut UnixStream) -> bool {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        if ring_end_closed(peer) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn busy(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN))
}

impl Model {
    fn note(&mut self, what: String) {
        if self.log.len() == LOG_TAIL {
            self.log.pop_front();
        }
        self.log.push_back(format!("step {}: {what}", self.step));
    }

    fn count(&mut self, what: &'static str, n: usize) {
        *self.stats.entry(what).or_default() += n;
    }

    fn count_if(&mut self, cond: bool, yes: &'static str, no: &'static str) {
        self.count(if cond { yes } else { no }, 1);
    }

    fn drops(&self, buf: usize) -> usize {
        self.bufs[buf].0.load(Ordering::SeqCst)
    }

    /// How many reads in flight name stream `s`.
    fn named(&self, s: usize) -> usize {
        self.ops.values().filter(|o| o.s == s).count()
    }

    fn new_stream(&mut self, ring: &mut TypedRing<Rd>, held: bool) {
        let (ours, peer) = UnixStream::pair().unwrap();
        peer.set_nonblocking(true).unwrap();
        let fd = match held {
            true => Fd::Held(ring.hold_fd(ours).unwrap()),
            false => Fd::Shared(SharedFd::from(ours)),
        };
        let id = self.streams.len() as u8 + 1;
        self.note(format!("stream {}: held {held}", id - 1));
        let (sent, got, taken, eof, closed) = (0, Vec::new(), 0, false, false);
        let st = Stream {
            peer,
            fd,
            id,
            sent,
            got,
            taken,
            eof,
            closed,
        };
        self.streams.push(st);
    }

    /// A read of `words` words from stream `s` into a new buffer, and what
    /// the model knows of it.
    fn read_op(&mut self, s: usize, words: usize) -> (Rd, ReadInfo) {
        let (bytes, drops) = (vec![FILL; words * WORD], Arc::new(AtomicUsize::new(0)));
        let ptr = bytes.as_ptr() as usize;
        self.bufs.push((Arc::clone(&drops), ptr));
        let (id, filled, cancelled) = (self.bufs.len() - 1, 0, false);
        let buf = Watched {
            bytes,
            filled,
            id,
            drops,
        };
        let op = match &self.streams[s].fd {
            Fd::Held(h) | Fd::Released(h) => ops::Read::new(*h, buf, 0),
            Fd::Shared(fd) => ops::Read::new(fd, buf, 0),
            Fd::Dropped => unreachable!("no read names a dropped SharedFd"),
        };
        let released = matches!(self.streams[s].fd, Fd::Released(_));
        let info = ReadInfo {
            s,
            buf: id,
            words,
            released,
            cancelled,
        };
        (op, info)
    }

    /// A stream a read can name (any but a dropped one), if there is one:
    /// mostly one that is held or shared and not at its end.
    fn pick_readable(&mut self) -> Option<usize> {
        let live = |st: &Stream| matches!(st.fd, Fd::Held(_) | Fd::Shared(_)) && !st.eof;
        let preferred = self.rng.chance(85) && self.streams.iter().any(live);
        let ok: Vec<usize> = (0..self.streams.len())
            .filter(|&s| !matches!(self.streams[s].fd, Fd::Dropped))
            .filter(|&s| !preferred || live(&self.streams[s]))
            .collect();
        (!ok.is_empty()).then(|| ok[self.rng.below(ok.len())])
    }

    /// Checks what a push of `p` returned: refused with `EBADF` if its file is
    /// released; else with `EBUSY` if the queue was `full` and the call does
    /// not submit (a `batch`); else refused only by a kernel that takes no
    /// entries while completions overflow (`full`); else accepted. A refused
    /// op is back with its buffer untouched, which is dropped once with it.
    fn pushed(
        &mut self,
        p: ReadInfo,
        res: Result<OpKey, SubmitError<Rd>>,
        full: bool,
        batch: bool,
    ) {
        let want = match (p.released, full && batch) {
            (true, _) => Some(libc::EBADF),
            (false, true) => Some(libc::EBUSY),
            (false, false) => None,
        };
        let e = match res {
            Ok(key) => {
                assert_eq!(want, None, "{key:?} accepted (released {})", p.released);
                let fresh = !self.ops.contains_key(&key) && !self.done.contains(&key);
                assert!(fresh, "{key:?} given to two operations");
                self.note(format!("push stream {} ({} words): {key:?}", p.s, p.words));
                self.ops.insert(key, p);
                // A full queue is submitted to make room, but not by a batch.
                let room = batch || self.queued < self.sq_entries;
                self.queued = if room { self.queued + 1 } else { 1 };
                return;
            }
            Err(e) => e,
        };
        self.note(format!("push stream {}: {}", p.s, e.error));
        let got = errno(&e.error);
        let expected = want.map_or(full && busy(&e.error), |w| got == Some(w));
        assert!(expected, "refused with {} (full {full})", e.error);
        self.count_if(got == Some(libc::EBADF), "refused EBADF", "refused EBUSY");
        let b = e.op.into_buf();
        let back = (b.id, b.bytes.as_ptr() as usize);
        assert_eq!(back, (p.buf, self.bufs[p.buf].1), "not its buffer");
        let untouched = b.filled == 0 && b.bytes.iter().all(|&x| x == FILL);
        assert!(untouched && self.drops(p.buf) == 0, "a refused op's buffer");
        drop(b);
        assert_eq!(self.drops(p.buf), 1);
    }

    /// Checks one output against the model; the count read, if any.
    fn output(&mut self, key: OpKey, out: (std::io::Result<usize>, Watched)) -> Option<usize> {
        let (res, buf) = out;
        let Some(op) = self.ops.remove(&key) else {
            let what = ["but was never given", "twice"][usize::from(self.done.contains(&key))];
            panic!("{key:?} came back {what}");
        };
        self.done.push(key);
        let (id, at, len) = (buf.id, buf.bytes.as_ptr() as usize, buf.bytes.len());
        let want = (op.buf, self.bufs[op.buf].1, op.words * WORD);
        assert_eq!((id, at, len), want, "{key:?}: not its own buffer");
        assert_eq!(self.drops(op.buf), 0, "{key:?}: its buffer was dropped");
        let n = match res {
            Ok(n) => {
                let st = &mut self.streams[op.s];
                assert!(n <= len && n % WORD == 0, "{key:?}: read {n} bytes");
                assert_eq!(buf.filled, n, "{key:?}: filled");
                assert!(n > 0 || st.eof, "{key:?}: 0 bytes from an open stream");
                let first = u32::from_le_bytes([buf.bytes[1], buf.bytes[2], buf.bytes[3], 0]);
                for (i, w) in buf.bytes[..n].chunks(WORD).enumerate() {
                    let pos = u32::from_le_bytes([w[1], w[2], w[3], 0]);
                    assert_eq!(w[0], st.id, "{key:?}: a word of another stream: {w:?}");
                    assert_eq!(pos, first + i as u32, "{key:?}: words out of order");
                    assert!(pos < st.sent, "{key:?}: word {pos} never sent");
                    assert!(!st.got[pos as usize], "{key:?}: word {pos} received twice");
                    st.got[pos as usize] = true;
                }
                st.taken += (n / WORD) as u32;
                let data = ["output data", "output data, though cancelled"];
                self.count_if(n == 0, "output Ok(0)", data[usize::from(op.cancelled)]);
                Some(n)
            }
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::ECANCELED), "{key:?}: {e}");
                assert!(op.cancelled, "{key:?}: ECANCELED but never cancelled");
                self.count("output ECANCELED", 1);
                None
            }
        };
        let from = n.unwrap_or(0);
        let clean = buf.filled == from && buf.bytes[from..].iter().all(|&x| x == FILL);
        assert!(clean, "{key:?}: written past {from}");
        self.note(format!("  took {key:?} (stream {}): {n:?}", op.s));
        drop(buf);
        assert_eq!(self.drops(op.buf), 1, "{key:?}: drops");
        // A released file is closed once its last operation is taken, when
        // the iterator that took it is dropped.
        self.late = true;
        self.check_peers();
        n
    }

    /// A completions iterator was dropped: the released files none of whose
    /// reads is in flight are closed now.
    fn iterator_dropped(&mut self) {
        self.late = false;
        self.check_peers();
    }

    /// Each stream's socket is open while the model says it must be, and
    /// closed when it must be (unless the close may be late).
    fn check_peers(&mut self) {
        for s in 0..self.streams.len() {
            let n = self.named(s);
            let st = &mut self.streams[s];
            let open = matches!(st.fd, Fd::Held(_) | Fd::Shared(_)) || n > 0;
            st.closed = if open || self.late {
                ring_end_closed(&mut st.peer)
            } else {
                ring_end_closed_soon(&mut st.peer)
            };
            if open || !self.late {
                assert_eq!(st.closed, !open, "stream {s} closed? {n} reads name it");
            }
        }
    }

    /// The ring agrees with the model on what is in flight and held.
    fn check_ring(&mut self, ring: &TypedRing<Rd>) {
        assert_eq!(ring.in_flight(), self.ops.len(), "in_flight()");
        for key in self.ops.keys() {
            assert!(ring.is_in_flight(key), "{key:?} in flight, says the model");
        }
        if let Some(key) = self.done.last() {
            assert!(!ring.is_in_flight(key), "{key:?} was taken");
        }
        for st in &self.streams {
            if let Fd::Held(h) | Fd::Released(h) = &st.fd {
                assert_eq!(ring.holds_fd(h), matches!(st.fd, Fd::Held(_)));
            }
        }
        self.check_peers();
    }

    /// How many reads will surely finish (posted, or to be with no more doing
    /// of ours): a lower bound, so that waiting for that many never blocks.
    ///
    /// Per stream: all its reads if its peer is shut down; otherwise each one
    /// cancelled, and — since a read waits only while its socket is empty —
    /// at least as many as it takes to hold the words sent and not yet taken.
    fn sure(&self) -> usize {
        let mut total = 0;
        for (s, st) in self.streams.iter().enumerate() {
            let mine: Vec<&ReadInfo> = self.ops.values().filter(|o| o.s == s).collect();
            if st.eof {
                total += mine.len();
                continue;
            }
            let cancelled = mine.iter().filter(|o| o.cancelled).count();
            let mut words: Vec<usize> = mine.iter().map(|o| o.words).collect();
            words.sort_unstable_by(|a, b| b.cmp(a));
            let (mut left, mut k) = ((st.sent - st.taken) as usize, 0);
            while left > 0 && k < words.len() {
                left = left.saturating_sub(words[k]);
                k += 1;
            }
            total += cancelled.max(k);
        }
        total
    }

    /// Submits what is queued: the kernel takes all of it (older kernels may
    /// refuse while completions overflow: then it stays queued).
    fn submit(&mut self, ring: &mut TypedRing<Rd>) {
        match ring.submit() {
            Ok(n) => assert_eq!(n, self.queued, "submit() took another count"),
            Err(e) if busy(&e) => return self.note(format!("submit: {e}")),
            Err(e) => panic!("submit: {e}"),
        }
        self.note(format!("submit {}", self.queued));
        self.queued = 0;
    }
}

/// Writes `words` more words to stream `s`.
fn write(m: &mut Model, s: usize, words: u32) {
    let st = &mut m.streams[s];
    let mut bytes = Vec::with_capacity(words as usize * WORD);
    for pos in st.sent..st.sent + words {
        let p = pos.to_le_bytes();
        bytes.extend_from_slice(&[st.id, p[0], p[1], p[2]]);
    }
    assert_eq!(st.peer.write(&bytes).unwrap(), bytes.len(), "a short write");
    st.sent += words;
    st.got.resize(st.sent as usize, false);
    m.note(format!("write {words} words to stream {s}"));
}

fn submit_op(ring: &mut TypedRing<Rd>, m: &mut Model) {
    let Some(s) = m.pick_readable() else { return };
    let words = m.rng.range(1, 16);
    let (op, p) = m.read_op(s, words);
    let full = m.queued == m.sq_entries;
    let res = ring.submit_op(op);
    m.pushed(p, res, full, false);
}

/// Several reads through one batch, sometimes past the queue's end; the
/// batch is dropped or forgotten.
#[allow(clippy::forget_non_drop, reason = "a user may forget it")]
fn batch(ring: &mut TypedRing<Rd>, m: &mut Model) {
    let count = m.rng.range(1, m.sq_entries + 2);
    let forget = m.rng.chance(30);
    let mut batch = ring.batch();
    for _ in 0..count {
        let Some(s) = m.pick_readable() else { break };
        if m.ops.len() >= MAX_IN_FLIGHT {
            break;
        }
        let words = m.rng.range(1, 16);
        let (op, p) = m.read_op(s, words);
        let room = batch.remaining();
        assert_eq!(room, m.sq_entries - m.queued, "Batch::remaining");
        let res = batch.push(op);
        let took = usize::from(res.is_ok());
        m.pushed(p, res, room == 0, true);
        assert_eq!(batch.remaining(), room - took);
    }
    if forget {
        m.note("forget the batch".into());
        m.count("batches forgotten", 1);
        std::mem::forget(batch);
    }
}

fn submit_and_wait(ring: &mut TypedRing<Rd>, m: &mut Model) {
    let sure = m.sure();
    let want = m.rng.range(0, sure.min(m.cq_entries));
    m.note(format!("submit_and_wait({want}) (sure {sure})"));
    m.count_if(want > 0, "submit_and_wait(k > 0)", "submit_and_wait(0)");
    match ring.submit_and_wait(want) {
        Ok(n) => assert_eq!(n, m.queued, "submit_and_wait submitted"),
        Err(e) if busy(&e) => return,
        Err(e) => panic!("submit_and_wait({want}): {e}"),
    }
    m.queued = 0;
}

/// Takes up to a random number of outputs; then drops or forgets the iterator.
#[allow(clippy::forget_non_drop, reason = "a user may forget it")]
fn take(ring: &mut TypedRing<Rd>, m: &mut Model) {
    let limit = [0, 1, 2, 3, usize::MAX, usize::MAX][m.rng.below(6)];
    let forget = m.rng.chance(20);
    m.note(format!("completions(), up to {limit}, forget {forget}"));
    let mut it = ring.completions();
    let mut got = 0;
    while got < limit {
        let Some((key, out)) = it.next() else { break };
        m.output(key, out);
        got += 1;
    }
    if forget {
        std::mem::forget(it);
        m.count("iterators forgotten", 1);
        return;
    }
    if got == limit {
        m.count("iterators dropped early", 1);
    }
    drop(it);
    m.iterator_dropped();
}

fn next_completion(ring: &mut TypedRing<Rd>, m: &mut Model) {
    m.submit(ring);
    if m.queued > 0 {
        // Refused (older kernels, overflowing): take what is posted instead.
        for (key, out) in ring.completions() {
            m.output(key, out);
        }
        m.iterator_dropped();
    } else if m.ops.is_empty() {
        let e = ring.next_completion().err().expect("nothing in flight");
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT), "{e}");
    } else if m.sure() > 0 {
        m.note(format!("next_completion (sure {})", m.sure()));
        let (key, out) = ring.next_completion().unwrap();
        m.output(key, out);
        m.iterator_dropped();
    }
}

/// Cancels a read in flight (its output will be its data or `ECANCELED`), or
/// one taken (`ENOENT`).
fn cancel(ring: &mut TypedRing<Rd>, m: &mut Model) {
    if m.rng.chance(20) || m.ops.is_empty() {
        if !m.done.is_empty() {
            let key = m.done[m.rng.below(m.done.len())];
            let e = ring.cancel(&key).unwrap_err();
            assert_eq!(errno(&e), Some(libc::ENOENT), "cancel of {key:?}: {e}");
            m.note(format!("cancel {key:?} (taken): ENOENT"));
            m.count("cancels of a taken key", 1);
        }
        return;
    }
    let mut keys: Vec<OpKey> = m.ops.keys().copied().collect();
    keys.sort_by_key(|k| k.index());
    let key = keys[m.rng.below(keys.len())];
    let full = m.queued == m.sq_entries;
    match ring.cancel(&key) {
        Ok(()) => {
            m.queued = if full { 1 } else { m.queued + 1 };
            m.ops.get_mut(&key).unwrap().cancelled = true;
            m.note(format!("cancel {key:?}"));
        }
        Err(e) if full && busy(&e) => m.note(format!("cancel {key:?}: {e}")),
        Err(e) => panic!("cancel of {key:?}, in flight: {e}"),
    }
}

/// Releases a held stream (or again: `EBADF`), or drops our `SharedFd` of a
/// shared one.
fn release(ring: &mut TypedRing<Rd>, m: &mut Model) {
    let s = m.rng.below(m.streams.len());
    let n = m.named(s);
    match m.streams[s].fd {
        Fd::Held(h) => {
            ring.release_fd(h).unwrap();
            m.streams[s].fd = Fd::Released(h);
            m.count_if(n > 0, "released, reads in flight", "released, idle");
        }
        Fd::Released(h) => {
            let e = ring.release_fd(h).unwrap_err();
            assert_eq!(errno(&e), Some(libc::EBADF), "released twice: {e}");
        }
        Fd::Shared(_) => {
            m.streams[s].fd = Fd::Dropped;
            m.count_if(n > 0, "unshared, reads in flight", "unshared, idle");
        }
        Fd::Dropped => return,
    }
    m.note(format!("release stream {s} ({n} ops name it)"));
}

/// One step: a random call, then the whole model checked.
fn step(ring: &mut TypedRing<Rd>, m: &mut Model) {
    match m.rng.below(100) {
        0..=15 => {
            let s = m.rng.below(m.streams.len());
            let st = &m.streams[s];
            let words = m.rng.range(1, 16) as u32;
            if !st.eof && !st.closed && st.sent - st.taken + words <= MAX_UNTAKEN {
                write(m, s, words);
            }
        }
        16..=31 if m.ops.len() < MAX_IN_FLIGHT => submit_op(ring, m),
        32..=41 => batch(ring, m),
        42..=48 => m.submit(ring),
        49..=56 => submit_and_wait(ring, m),
        57..=71 => take(ring, m),
        72..=76 => next_completion(ring, m),
        77..=84 => cancel(ring, m),
        85..=88 => release(ring, m),
        89..=91 if m.streams.len() < MAX_STREAMS => {
            let held = m.rng.chance(60);
            m.new_stream(ring, held);
        }
        92 if m.rng.chance(50) => {
            let s = m.rng.below(m.streams.len());
            let st = &mut m.streams[s];
            if !st.eof && !st.closed {
                st.peer.shutdown(Shutdown::Write).unwrap();
                st.eof = true;
                m.note(format!("shut down stream {s}'s peer"));
            }
        }
        _ => {}
    }
    if ring.ring().cq_has_overflow() {
        m.count("steps ending with completions overflowing", 1);
    }
    m.check_ring(ring);
}

/// The ring of a program: 2, 4 or 8 entries, a completion queue as small as
/// that or twice (always smaller than what may be in flight), and sometimes
/// `SINGLE_ISSUER | DEFER_TASKRUN` (with or without `TASKRUN_FLAG`).
fn setup(m: &mut Model, defer_ok: bool) -> TypedRing<Rd> {
    let entries = [2u32, 4, 8][m.rng.below(3)];
    let small_cq = m.rng.chance(50);
    let defer = defer_ok && m.rng.chance(40);
    let flag = defer && m.rng.chance(50);
    let b = Ring::builder();
    let b = if small_cq { b.cq_entries(entries) } else { b };
    let b = if defer { b.single_issuer() } else { b };
    let b = if defer { b.defer_taskrun() } else { b };
    let b = if flag { b.taskrun_flag() } else { b };
    let ring = TypedRing::<Rd>::from_builder(b, entries).unwrap();
    m.single_issuer = defer;
    m.count_if(defer, "rings with DEFER_TASKRUN", "rings, plain");
    m.sq_entries = ring.ring().params().sq_entries() as usize;
    m.cq_entries = ring.ring().params().cq_entries() as usize;
    assert_eq!(m.sq_entries, entries as usize);
    let cq = m.cq_entries;
    m.note(format!("ring {entries}/{cq}, defer {defer}, flag {flag}"));
    ring
}

/// Ends a program by taking every output, reading every open stream to its
/// end, and checking that everything sent was received exactly once.
fn drain(mut ring: TypedRing<Rd>, m: &mut Model) {
    m.note("end: drain".into());
    for st in &mut m.streams {
        if !st.eof && !st.closed {
            st.peer.shutdown(Shutdown::Write).unwrap();
            st.eof = true;
        }
    }
    while !m.ops.is_empty() {
        next_completion(&mut ring, m);
        m.check_ring(&ring);
    }
    // What no read took is still in the sockets the ring can read.
    for s in 0..m.streams.len() {
        while matches!(m.streams[s].fd, Fd::Held(_) | Fd::Shared(_)) {
            let (op, p) = m.read_op(s, 64);
            let full = m.queued == m.sq_entries;
            let res = ring.submit_op(op);
            m.pushed(p, res, full, false);
            m.submit(&mut ring);
            let (key, out) = ring.next_completion().unwrap();
            let n = m.output(key, out);
            m.iterator_dropped();
            if n == Some(0) {
                break;
            }
        }
    }
    let e = ring.next_completion().err().expect("nothing is in flight");
    assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    m.check_ring(&ring);
    for (s, st) in m.streams.iter().enumerate() {
        if matches!(st.fd, Fd::Held(_) | Fd::Shared(_)) {
            assert_eq!(st.taken, st.sent, "stream {s}: words lost");
            assert!(st.got.iter().all(|&g| g));
        }
    }
    for i in 0..m.bufs.len() {
        assert_eq!(m.drops(i), 1, "buffer {i}'s drops");
    }
    let r = ring.close();
    assert_eq!((r.completed, r.leaked, r.handed_back), (0, 0, 0), "{r:?}");
    for (s, st) in m.streams.iter_mut().enumerate() {
        let shared = matches!(st.fd, Fd::Shared(_));
        let closed = ring_end_closed(&mut st.peer);
        assert_eq!(closed, !shared, "stream {s} after close");
        st.fd = Fd::Dropped;
        let closed = ring_end_closed(&mut st.peer);
        assert!(closed, "stream {s}: a read kept its SharedFd");
    }
}

/// Ends a program by closing or dropping the ring with reads in flight, here
/// or on another thread: what it did not leak is freed, what it leaked is
/// not, and the sockets are closed but those a leaked read may use. It may
/// leak only with no time to wait. A `SINGLE_ISSUER` ring ended on another
/// thread (where it cannot enter the kernel to cancel) is handed back to this
/// one, which finishes it when it next makes a ring.
fn close(mut ring: TypedRing<Rd>, m: &mut Model) {
    let hurry = m.rng.chance(15);
    if hurry {
        ring.set_drop_timeout(Duration::ZERO);
    }
    let (by_close, elsewhere) = (m.rng.chance(50), m.rng.chance(25));
    let may_leak = hurry;
    let before = ring.in_flight();
    assert_eq!(before, m.ops.len());
    let how = format!("close {by_close}, elsewhere {elsewhere}, hurry {hurry}");
    m.note(format!("end: {how}, {before} in flight"));
    let leaked_before = leaked_ops();
    let end = move || by_close.then(|| ring.close());
    let mut report = match elsewhere {
        true => std::thread::spawn(end).join().unwrap(),
        false => end(),
    };
    if elsewhere && m.single_issuer && before > 0 {
        // Handed back: nothing finished yet, every buffer still held.
        if let Some(r) = report.take() {
            let counts = (r.completed, r.leaked, r.handed_back);
            assert_eq!(counts, (0, 0, before), "{r:?}");
        }
        for (key, op) in &m.ops {
            assert_eq!(m.drops(op.buf), 0, "{key:?}'s buffer, handed back");
        }
        m.count("rings handed back", 1);
        // This thread makes a ring: the one handed back is finished first.
        drop(TypedRing::<Rd>::new(1).unwrap());
    }
    let grew = leaked_ops() - leaked_before;
    // A read whose buffer was not dropped was leaked.
    let mut leaked_of = vec![0usize; m.streams.len()];
    for (key, op) in &m.ops {
        match m.drops(op.buf) {
            0 => leaked_of[op.s] += 1,
            1 => {}
            n => panic!("{key:?}'s buffer dropped {n} times"),
        }
    }
    let leaked: usize = leaked_of.iter().sum();
    if let Some(r) = report {
        let counts = (r.completed, r.leaked, r.handed_back);
        assert_eq!(counts, (before - leaked, leaked, 0), "{r:?}");
    }
    assert!(may_leak || leaked == 0, "{leaked} leaked ({how})");
    // Other tests of this process may leak meanwhile: each close checks `>=`,
    // and the test that some close of each kind counted exactly.
    assert!(grew >= leaked, "leaked_ops() grew {grew} for {leaked}");
    m.count_if(leaked > 0, LEAKED, CLEAN);
    if grew == leaked {
        m.count_if(leaked > 0, EXACT_LEAKED, EXACT_CLEAN);
    }
    m.count("reads leaked", leaked);
    m.count("reads in flight at the close", before);
    for i in 0..m.bufs.len() {
        let in_flight = m.ops.values().any(|o| o.buf == i);
        assert!(in_flight || m.drops(i) == 1, "buffer {i}'s drops");
    }
    for (s, st) in m.streams.iter_mut().enumerate() {
        // Any held file may be named by a leaked read: none is closed then.
        let open = match st.fd {
            Fd::Held(_) => leaked > 0,
            _ => leaked_of[s] > 0,
        };
        st.fd = Fd::Dropped; // drops our SharedFd
        let (closed, of) = (ring_end_closed(&mut st.peer), leaked_of[s]);
        assert_eq!(closed, !open, "stream {s} ({leaked} leaked, {of} of it)");
    }
}

/// Runs program `seed`: a ring, a few streams, 150–250 steps, an end; whether
/// it drained. The log of its last actions goes to `log`, its counts to
/// `stats`.
fn program(seed: u64, defer_ok: bool, log: &mut VecDeque<String>, stats: &mut Stats) -> bool {
    let mut m = Model {
        rng: Rng::new(seed),
        ..Model::default()
    };
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut ring = setup(&mut m, defer_ok);
        for _ in 0..m.rng.range(2, 5) {
            let held = m.rng.chance(60);
            m.new_stream(&mut ring, held);
        }
        let steps = m.rng.range(150, 250);
        for i in 0..steps {
            m.step = i;
            BEAT.fetch_add(1, Ordering::Relaxed);
            step(&mut ring, &mut m);
        }
        m.step = steps;
        let drained = m.rng.chance(50);
        match drained {
            true => drain(ring, &mut m),
            false => close(ring, &mut m),
        }
        m.count("outputs checked", m.done.len());
        drained
    }));
    *log = std::mem::take(&mut m.log);
    for (k, v) in std::mem::take(&mut m.stats) {
        *stats.entry(k).or_default() += v;
    }
    result.unwrap_or_else(|e| std::panic::resume_unwind(e))
}

static BEAT: AtomicU64 = AtomicU64::new(0);
static SEED: AtomicU64 = AtomicU64::new(u64::MAX);

/// Aborts the process, naming the seed, if a program stops making progress (a
/// wait that never ends: a lost completion, or a wrong model of what is sure
/// to finish).
fn watchdog(done: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let (mut last, mut since) = (BEAT.load(Ordering::Relaxed), Instant::now());
        while !done.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
            let beat = BEAT.load(Ordering::Relaxed);
            if beat != last {
                (last, since) = (beat, Instant::now());
            } else if since.elapsed() > Duration::from_secs(30) {
                let seed = SEED.load(Ordering::Relaxed);
                // To the descriptor itself: libtest captures eprintln!.
                let _ = writeln!(
                    std::io::stderr(),
                    "{TEST}: seed {seed} stuck for 30 s (replay: TYPED_RANDOM_SEED={seed})"
                );
                std::process::abort();
            }
        }
    })
}

/// Random programs of safe calls on a `TypedRing` of reads, each checked
/// against the model (see the module docs); a failure names its seed.
#[test]
fn typed_ring_random_programs_match_the_model() {
    let seeds: Vec<u64> = match std::env::var("TYPED_RANDOM_SEED") {
        Ok(s) => vec![s.trim().parse().expect("TYPED_RANDOM_SEED: a number")],
        Err(_) => (0..PROGRAMS).collect(),
    };
    if !support::supported(uring::op::Read::CODE, TEST) {
        return;
    }
    // Older kernels (before 6.1) run the programs on plain rings only.
    let defer_ok = support::defer_taskrun(&format!("{TEST} (DEFER_TASKRUN part)"));
    // The checks that a socket is closed must not meet a copy of it in a
    // child process another test is starting.
    let _no_forks = support::no_forks();
    let done = Arc::new(AtomicBool::new(false));
    let dog = watchdog(Arc::clone(&done));
    let start = Instant::now();
    let (mut stats, mut drained) = (Stats::new(), 0);
    for &seed in &seeds {
        SEED.store(seed, Ordering::Relaxed);
        let mut log = VecDeque::new();
        let run = || program(seed, defer_ok, &mut log, &mut stats);
        match catch_unwind(AssertUnwindSafe(run)) {
            Ok(d) => drained += usize::from(d),
            Err(e) => {
                done.store(true, Ordering::Relaxed);
                let msg = (e.downcast_ref::<String>().cloned())
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                let log = Vec::from(log).join("\n");
                panic!(
                    "seed {seed} failed (kernel {}; replay: TYPED_RANDOM_SEED={seed}): \
                     {msg}\nlast actions:\n{log}",
                    kernel_release(),
                );
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    dog.join().unwrap();
    for (kind, exact) in [(LEAKED, EXACT_LEAKED), (CLEAN, EXACT_CLEAN)] {
        let ok = !stats.contains_key(kind) || stats.contains_key(exact);
        assert!(ok, "leaked_ops() was never exact: {stats:?}");
    }
    let (n, took) = (seeds.len(), start.elapsed());
    println!("{TEST}: {n} programs ({drained} drained) in {took:?}; {stats:#?}");
}
