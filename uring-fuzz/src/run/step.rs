//! Carrying out one action of the program.

use std::fs::File;
use std::mem;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::Duration;

use uring::owned::ops;

use crate::program::{Action, StreamKind, WriteHow};

use super::fds::errno;
use super::model::{Kind, Typed, carry};
use super::{Failure, Runner, fail, pattern_vec};

impl Runner<'_> {
    // ----- actions -----------------------------------------------------------------

    pub(super) fn step(&mut self, a: Action) -> Result<(), Failure> {
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
}
