//! Taking completions off the ring and checking the bytes read.

use std::os::fd::{AsRawFd, OwnedFd};

use uring::owned::{Completion, ItemPoll, PoolBuf, ops};

use crate::program::{ReadHow, StreamKind, WriteHow};

use super::fds::peer_of;
use super::model::{Held, Kind, OpRec, Typed};
use super::{Failure, Runner, fail, pattern};

impl Runner<'_> {
    // ----- completions -------------------------------------------------------------

    /// The model forgets an operation whose outcome it will not see.
    pub(super) fn lose(&mut self, rec: OpRec) {
        self.detached += 1;
        self.lose_effects(&rec);
        self.lost.push(rec);
    }

    pub(super) fn lose_effects(&mut self, rec: &OpRec) {
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
    pub(super) fn collect(&mut self) -> Result<(), Failure> {
        let Some(ring) = self.ring.as_mut() else {
            return Ok(());
        };
        let done: Vec<Completion> = ring.completions().collect();
        for c in done {
            self.completed(c)?;
        }
        Ok(())
    }

    pub(super) fn take_items(&mut self, i: usize) -> Result<(), Failure> {
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
    pub(super) fn hold(&mut self, bufs: Vec<PoolBuf>) -> Result<(), Failure> {
        let pool = self.regs.pool_id;
        if self.rng.chance(1, 2) || bufs.is_empty() {
            return Ok(()); // dropped here: back to the pool
        }
        self.held.push(Held { pool, bufs });
        Ok(())
    }

    /// A connection the uring listener accepted: it joins a client as a stream.
    pub(super) fn adopt(&mut self, fd: OwnedFd) -> Result<(), Failure> {
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

    /// Checks `data`, read from stream `s`, against the pattern.
    pub(super) fn got_bytes(&mut self, s: usize, data: &[u8]) -> Result<(), Failure> {
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
}
