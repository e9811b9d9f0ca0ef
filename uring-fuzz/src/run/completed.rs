//! Checking one completion against the model.

use std::io;
use std::os::fd::AsRawFd;

use uring::owned::{Completion, FixedBuf, Multi, PoolBuf, ReadFixed, SendBundle, WriteFixed, ops};

use crate::program::{MultiHow, ReadHow, WriteHow};

use super::fds::{errno, peer_of};
use super::model::{Kind, OpRec};
use super::{Failure, Runner, fail};

impl Runner<'_> {
    pub(super) fn completed(&mut self, c: Completion) -> Result<(), Failure> {
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
    pub(super) fn release(&mut self, rec: &OpRec) {
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

    pub(super) fn check_bundle(&self, b: &ops::PoolBufs) -> Result<(), Failure> {
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
                // The buffers handed back whole were sent whole: by this bundle,
                // or the first of them partly by earlier ones.
                let carried = self.regs.queue_front_sent;
                if n > self.regs.queue_pending || full > n + carried {
                    return Err(fail(
                        "queue",
                        format!(
                            "a bundle sent {n} bytes ({full} in whole buffers, {carried} sent \
                             of the first before) of {} queued",
                            self.regs.queue_pending
                        ),
                    ));
                }
                self.regs.queue_pending -= n;
                self.regs.queue_front_sent = n + carried - full;
                if self.regs.queue_pending == 0 && self.regs.queue_front_sent != 0 {
                    return Err(fail(
                        "queue",
                        format!(
                            "every queued byte was sent, but {} of them came back in no \
                             whole buffer",
                            self.regs.queue_front_sent
                        ),
                    ));
                }
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
}
