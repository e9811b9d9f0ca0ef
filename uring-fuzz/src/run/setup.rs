//! Setting up rings, registrations and streams.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::owned::{BufPool, FixedBuf, FixedBufs, OwnedRing, SendQueue, SharedFd};

use crate::program::{Setup, StreamKind};

use super::fds::pipe;
use super::model::{FileModel, Regs, Stream};
use super::{Failure, Runner, fail};

impl Runner<'_> {
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

    pub(super) fn ring(&mut self) -> Result<&mut OwnedRing, Failure> {
        if self.ring.is_none() {
            self.make_ring()?;
        }
        Ok(self.ring.as_mut().expect("just made"))
    }

    /// The pool of the current ring, made on first use (None where the kernel has
    /// no buffer rings).
    pub(super) fn pool(&mut self) -> Result<Option<BufPool>, Failure> {
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

    pub(super) fn fixed(&mut self) -> Result<Option<FixedBuf>, Failure> {
        if self.regs.fixed.is_none() && !self.regs.fixed_failed {
            let ring = self.ring()?;
            match FixedBufs::new(ring, 4, 64 * 1024) {
                Ok(f) => self.regs.fixed = Some(f),
                Err(_) => self.regs.fixed_failed = true,
            }
        }
        Ok(self.regs.fixed.as_ref().and_then(FixedBufs::get))
    }

    pub(super) fn queue(&mut self) -> Result<Option<SendQueue<Vec<u8>>>, Failure> {
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

    pub(super) fn new_stream(&mut self, kind: StreamKind) -> io::Result<()> {
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

    pub(super) fn add_stream(&mut self, kind: StreamKind, w: OwnedFd, r: OwnedFd) {
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

    pub(super) fn pick_stream(&self, s: u8) -> Option<usize> {
        (!self.streams.is_empty()).then(|| s as usize % self.streams.len())
    }

    pub(super) fn can_write(&self, s: usize) -> bool {
        let st = &self.streams[s];
        st.w.is_some() && !st.writer_busy && !st.write_dead
    }

    pub(super) fn can_read(&self, s: usize) -> bool {
        let st = &self.streams[s];
        st.r.is_some() && !st.reader_busy
    }

    pub(super) fn uring_listener(&mut self) -> io::Result<SharedFd> {
        if self.tcp_uring.is_none() {
            let l = TcpListener::bind("127.0.0.1:0")?;
            let addr = l.local_addr()?;
            self.tcp_uring = Some((SharedFd::new(OwnedFd::from(l)), addr));
        }
        let (fd, _) = self.tcp_uring.as_ref().expect("just made");
        Ok(fd.clone())
    }

    pub(super) fn file_model(&mut self) -> Result<&mut FileModel, Failure> {
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
}
