//! The model's records: operations in flight, streams, held buffers, registrations.

use std::io;
use std::os::fd::RawFd;
use std::path::PathBuf;

use uring::owned::{
    BufPool, FixedBufs, Multi, OpId, OpKey, OwnedRing, PoolBuf, SendQueue, SharedFd, ops,
};

use crate::program::{MultiHow, ReadHow, StreamKind, WriteHow};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
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
pub(super) trait Handle {
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
pub(super) enum Typed {
    None,
    Any(Box<dyn Handle>),
    RecvMultishot(OpId<Multi<ops::RecvMultishot>>),
    ReadMultishot(OpId<Multi<ops::ReadMultishot>>),
    BundleMulti(OpId<Multi<ops::RecvBundleMultishot>>),
    AcceptMultishot(OpId<Multi<ops::AcceptMultishot>>),
    PollMultishot(OpId<Multi<ops::PollMultishot>>),
    TimerMulti(OpId<Multi<ops::TimeoutMultishot>>),
}

pub(super) struct OpRec {
    pub(super) key: OpKey,
    pub(super) kind: Kind,
    pub(super) stream: Option<usize>,
    pub(super) reader: bool,
    pub(super) writer: bool,
    /// For writes: the bytes `[start, start + len)` of the stream.
    pub(super) start: u64,
    pub(super) len: u64,
    /// For file operations: the range.
    pub(super) file: (u64, u64),
    /// For `Close`: the descriptor it closes.
    pub(super) fd_num: RawFd,
    pub(super) drop_completion: bool,
    pub(super) typed: Typed,
}

pub(super) struct Stream {
    pub(super) uid: u64,
    pub(super) kind: StreamKind,
    pub(super) w: Option<SharedFd>,
    pub(super) r: Option<SharedFd>,
    pub(super) w_raw: RawFd,
    pub(super) r_raw: RawFd,
    /// Bytes known written.
    pub(super) wpos: u64,
    /// Bytes possibly written (above `wpos` only after a write of unknown outcome).
    pub(super) hi: u64,
    /// The end of the bytes of the write in flight (or of the send queue).
    pub(super) inflight_hi: u64,
    /// Bytes read and checked.
    pub(super) rpos: u64,
    pub(super) read_lost: bool,
    pub(super) write_dead: bool,
    pub(super) writer_busy: bool,
    pub(super) reader_busy: bool,
    /// The reader's user copy was closed: no drain at the end.
    pub(super) reader_closed: bool,
}

/// Pool buffers the program holds: one guard or a bundle's guards.
pub(super) struct Held {
    pub(super) pool: u64,
    pub(super) bufs: Vec<PoolBuf>,
}

/// The registrations of the current ring.
#[derive(Default)]
pub(super) struct Regs {
    pub(super) pool: Option<BufPool>,
    pub(super) pool_id: u64,
    pub(super) pool_forgotten: usize,
    /// The pool's accounting can be checked (nothing of it was leaked with a ring).
    pub(super) pool_exact: bool,
    pub(super) pool_failed: bool,
    pub(super) fixed: Option<FixedBufs>,
    pub(super) fixed_failed: bool,
    pub(super) queue: Option<SendQueue<Vec<u8>>>,
    pub(super) queue_failed: bool,
    /// The stream the queue's bytes are for, and how many are queued.
    pub(super) queue_owner: Option<usize>,
    pub(super) queue_pending: u64,
    /// Bytes of the queue's front buffer that earlier bundles sent (a bundle
    /// that stops inside a buffer leaves the rest queued; the bundle that sends
    /// its last byte hands it back whole).
    pub(super) queue_front_sent: u64,
    pub(super) bundle_in_flight: bool,
}

pub(super) struct FileModel {
    pub(super) path: PathBuf,
    pub(super) fd: SharedFd,
    /// The file's bytes, `None` where a write of unknown outcome may have landed.
    pub(super) bytes: Vec<Option<u8>>,
    /// A write of unknown outcome may have made the file longer.
    pub(super) len_unknown: bool,
    pub(super) busy: bool,
}

/// What operations leaked by earlier programs may still do to the process's
/// descriptors: make up to `create` new ones, close those in `close`.
pub(super) struct Carry {
    pub(super) create: usize,
    pub(super) close: Vec<RawFd>,
}

impl Carry {
    pub(super) fn take_close(&mut self, fd: RawFd) -> bool {
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

pub(super) fn carry() -> std::sync::MutexGuard<'static, Carry> {
    CARRY.lock().unwrap_or_else(|e| e.into_inner())
}

impl Typed {
    /// Cancels the operation, if its id is still known.
    pub(super) fn cancel(&self, ring: &mut OwnedRing) -> io::Result<()> {
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
    pub(super) fn detach(self, ring: &mut OwnedRing) -> bool {
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

    pub(super) fn is_multi(&self) -> bool {
        !matches!(self, Typed::None | Typed::Any(_))
    }
}
