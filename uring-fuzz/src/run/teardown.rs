//! The invariants checked after each step, and the end of a ring and of the program.

use std::collections::HashSet;
use std::mem;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use uring::owned::leaked_ops;

use crate::program::{RingEnd, WriteHow};

use super::fds::{describe_fd, drain, open_fds};
use super::model::{Kind, OpRec, Regs, Typed, carry};
use super::{Failure, Runner, fail};

impl Runner<'_> {
    // ----- invariants --------------------------------------------------------------

    pub(super) fn check(&mut self) -> Result<(), Failure> {
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

    pub(super) fn end_ring(&mut self, how: RingEnd) -> Result<(), Failure> {
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
                        if first_sent as u64 != regs.queue_front_sent {
                            return Err(fail(
                                "queue",
                                format!(
                                    "take_unsent says {first_sent} bytes of the first buffer \
                                     were sent; the bundles' results say {}",
                                    regs.queue_front_sent
                                ),
                            ));
                        }
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

    pub(super) fn finish(&mut self) -> Result<(), Failure> {
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
    pub(super) fn teardown(&mut self) {
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
