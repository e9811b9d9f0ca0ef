//! Submitting operations: one per kind of action.

use std::io;
use std::mem;
use std::os::fd::AsRawFd;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use uring::owned::{
    AsyncRing, Multi, OpId, OpKey, OwnedRing, ReadFixed, SendBundle, WriteFixed, ops,
};

use crate::program::{MultiHow, ReadHow, WriteHow};

use super::fds::errno;
use super::model::{Kind, OpRec, Typed};
use super::{Failure, Runner, fail, pattern_vec};

impl Runner<'_> {
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
    pub(super) fn submit<T: uring::owned::Op>(
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

    pub(super) fn submit_multi<T: uring::owned::Multishot>(
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
    pub(super) fn refused(&mut self, e: &io::Error) -> Result<(), Failure> {
        self.out.refused += 1;
        match errno(e) {
            libc::EBUSY | libc::EINVAL | libc::EAGAIN | libc::ENOMEM => Ok(()),
            _ => Err(fail("submit", format!("a submission was refused: {e}"))),
        }
    }

    pub(super) fn write(
        &mut self,
        s: usize,
        len: u32,
        how: WriteHow,
        t: Option<u8>,
    ) -> Result<(), Failure> {
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
    pub(super) fn bundle(&mut self, s: usize, len: u32) -> Result<(), Failure> {
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

    pub(super) fn read(
        &mut self,
        s: usize,
        len: u32,
        how: ReadHow,
        t: Option<u8>,
    ) -> Result<(), Failure> {
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

    pub(super) fn read_multi(&mut self, s: usize, how: MultiHow) -> Result<(), Failure> {
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

    pub(super) fn chain(
        &mut self,
        s: usize,
        wlen: u32,
        rlen: u32,
        t: Option<u8>,
    ) -> Result<(), Failure> {
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

    pub(super) fn async_read(&mut self, s: usize, forget: bool) -> Result<(), Failure> {
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
}
