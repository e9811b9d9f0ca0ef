//! Send queues for the safe layer: buffers handed to a provided-buffer ring, sent
//! many at a time by one bundle send.

use core::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, MutexGuard};

use super::IoBuf;
#[cfg(doc)]
use super::SendBundle;
use super::host::{self, SafeRing};
use crate::buf_ring::{ENTRY, MAX_ENTRIES};
use crate::cqueue::Cqe;
use crate::mem::Mmap;
use crate::setup::Features;
use crate::{error, sys};

/// The largest buffer a [`SendQueue`] takes: the kernel caps one bundle at
/// `i32::MAX` bytes, and a ring entry's length must fit in it. (The queue relies
/// on this bound: an entry longer than a send's limit would be trimmed by the
/// kernel, behind the queue's back.)
pub const MAX_SEND_BUF: usize = i32::MAX as usize;

/// A provided-buffer ring registered for one group, whose entries this module
/// writes at any position (a partly sent bundle is laid out again from the
/// kernel's head), which `BufRing` does not offer.
struct SendRing {
    /// Our own duplicate of the ring's descriptor, for registering, reading the
    /// head and unregistering whatever happens to the `OwnedRing`.
    fd: OwnedFd,
    /// `entries * ENTRY` bytes (in whole pages) of anonymous memory; leaked (never
    /// unmapped) when unregistering fails.
    mem: Mmap,
    entries: u32,
    group: u16,
    registered: bool,
}

impl SendRing {
    fn new(ring: &crate::Ring, group: u16, entries: u32) -> io::Result<SendRing> {
        let fd = super::fd::dup_ring_fd(ring, "setting up a send queue")?;
        let len = entries as usize * ENTRY;
        let mem = Mmap::anonymous(len, false, 0).map_err(|e| {
            error::with_context(
                e.raw_os_error().unwrap_or(libc::ENOMEM),
                format!("allocating {len} bytes for a send queue's ring"),
            )
        })?;
        let ring_addr = mem.as_ptr() as u64;
        let mut sr = SendRing {
            fd,
            mem,
            entries,
            group,
            registered: false,
        };
        let reg = sys::io_uring_buf_reg {
            ring_addr,
            ring_entries: entries,
            bgid: group,
            ..Default::default()
        };
        // SAFETY: our own io_uring descriptor; `reg` is valid for the call and names
        // the mapping just made, which `sr` unregisters before unmapping (or leaks).
        let ret = unsafe {
            sys::io_uring_register(
                sr.fd.as_raw_fd() as u32,
                sys::IORING_REGISTER_PBUF_RING,
                (&reg as *const sys::io_uring_buf_reg).cast(),
                1,
            )
        };
        if ret < 0 {
            // `sr` is not registered: dropping it just unmaps.
            return Err(error::with_context(
                -ret,
                format!("registering a send queue's ring of {entries} entries as group {group}"),
            ));
        }
        sr.registered = true;
        Ok(sr)
    }

    /// Writes the entry at ring position `pos` (masked here) with relaxed atomic
    /// stores; a later [`publish`](Self::publish) makes it visible.
    fn write(&mut self, pos: u16, addr: u64, len: u32, bid: u16) {
        let slot = (pos as u32 & (self.entries - 1)) as usize;
        // SAFETY: slot < entries, so the 16-byte entry lies inside the mapping,
        // which is page-aligned: each field is aligned for its atomic. The kernel
        // only reads these fields: the ring is not incremental, and a bundle
        // trims (writes back) an entry's length only when it exceeds the send's
        // limit, which never happens here — the send is built with length 0
        // (limit INT_MAX) and no entry is longer than MAX_SEND_BUF = i32::MAX.
        // Entry 0's last u16, the tail, is not touched here.
        unsafe {
            let e = self.mem.as_ptr().add(slot * ENTRY);
            AtomicU64::from_ptr(e.cast()).store(addr, Ordering::Relaxed);
            AtomicU32::from_ptr(e.add(8).cast()).store(len, Ordering::Relaxed);
            AtomicU16::from_ptr(e.add(12).cast()).store(bid, Ordering::Relaxed);
        }
    }

    /// Publishes `tail` with a release store: the kernel, loading it with acquire,
    /// sees every entry written before.
    fn publish(&mut self, tail: u16) {
        // SAFETY: the tail is the last u16 of entry 0 (`io_uring_buf_ring::tail`),
        // inside the mapping and 2-aligned.
        unsafe { AtomicU16::from_ptr(self.mem.as_ptr().add(14).cast()) }
            .store(tail, Ordering::Release);
    }

    /// The kernel's head (`IORING_REGISTER_PBUF_STATUS`, Linux 6.8).
    fn head(&self) -> io::Result<u16> {
        crate::buf_ring::buf_ring_head(self.fd.as_raw_fd(), self.group)
    }

    /// Unregisters the group; `false` when the kernel may still read the ring
    /// (the mapping is then leaked, never unmapped).
    fn unregister(&mut self) -> bool {
        if !self.registered {
            return true;
        }
        self.registered = false;
        // ENOENT/EINVAL: the group is gone or is not a ring (someone unregistered
        // it through the raw ring): the kernel no longer reads our memory.
        if crate::buf_ring::unregister_pbuf_ring(self.fd.as_raw_fd(), self.group).is_err() {
            self.mem.leak();
            return false;
        }
        true
    }
}

impl Drop for SendRing {
    fn drop(&mut self) {
        // Unregistered (or never was): the kernel no longer reads the ring, and the
        // mapping goes with `mem`. Otherwise `unregister` leaked it.
        self.unregister();
    }
}

/// A send queue: buffers handed over with [`push`](Self::push), kept in a
/// provided-buffer ring registered with one [`SafeRing`] (group `group`), and
/// sent, as many as the socket takes at once, by a [`SendBundle`] —
/// `IORING_OP_SEND` with `IORING_RECVSEND_BUNDLE` (Linux 6.10).
///
/// Pushed buffers belong to the queue: the kernel may read them at any time, so
/// nothing gives them back until a bundle has sent every byte of them; they
/// then come back, in order, in that bundle's [`Sent`]. A buffer the socket took
/// only part of stays at the front of the queue, and the next bundle sends the
/// rest before anything else, so the bytes leave in exactly the order pushed.
///
/// `SendQueue` is a cheap handle (`Clone`, and `Send`/`Sync`): the queue, its
/// buffers and its registration live until the last handle and the last
/// [`SendBundle`] are gone; then the group is unregistered and the buffers
/// dropped (or leaked, if unregistering fails).
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{OwnedRing, SendBundle, SendQueue};
///
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let queue = SendQueue::new(&mut ring, 3, 8)?; // group 3, up to 8 buffers
/// queue.push(b"hello ".to_vec()).map_err(|e| e.error)?;
/// queue.push(b"world".to_vec()).map_err(|e| e.error)?;
/// assert_eq!((queue.len(), queue.queued_bytes()), (2, 11));
///
/// let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_op(SendBundle::new(a, &queue)?)?;
/// let sent = ring.wait_for(id)??;
/// assert_eq!(sent.bytes(), 11);
/// assert_eq!(sent.bufs(), [b"hello ".to_vec(), b"world".to_vec()]);
/// assert!(queue.is_empty());
///
/// let mut got = [0u8; 11];
/// b.read_exact(&mut got)?;
/// assert_eq!(&got, b"hello world");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct SendQueue<B: IoBuf = Vec<u8>> {
    pub(super) shared: Arc<Shared<B>>,
}

impl<B: IoBuf> Clone for SendQueue<B> {
    fn clone(&self) -> Self {
        SendQueue {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// What the handles and the bundle of one queue share.
pub(super) struct Shared<B> {
    /// The `OwnedRing` the group is registered with.
    pub(super) ring_id: u64,
    pub(super) group: u16,
    capacity: u16,
    state: Mutex<State<B>>,
}

/// One queued ring entry: the unsent bytes `off..off + len` of buffer `bid`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) bid: u16,
    pub(crate) off: usize,
    pub(crate) len: usize,
}

/// How far the completions of the bundle in flight have sent, in queue order.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Cursor {
    /// Entries (from the front) sent in full.
    pub(crate) entry: usize,
    /// Bytes of the next entry sent.
    pub(crate) off: usize,
    /// Bytes sent in all.
    pub(crate) bytes: usize,
    /// Completions that did not line up with the queue (see `advance`).
    pub(crate) broken: bool,
}

pub(super) struct State<B> {
    ring: SendRing,
    /// `slots[bid]`: the buffer with id `bid`, while it is queued.
    slots: Vec<Option<B>>,
    /// Ids of empty slots.
    free: Vec<u16>,
    /// The queued entries, in ring order from the kernel's head `head`: the
    /// entry at index `i` is at ring position `head + i`, and the published tail
    /// is `head + queue.len()`.
    queue: VecDeque<Entry>,
    head: u16,
    /// A `SendBundle` of this queue exists (made and not yet completed or
    /// dropped): it alone may send, and the queue is not laid out again meanwhile.
    pub(super) busy: bool,
    pub(super) cursor: Cursor,
    /// Why the queue stopped: the kernel's head could not be learned, or
    /// completions did not match the queue. Its buffers then stay where they are
    /// until the queue is dropped (after unregistering).
    pub(super) poisoned: Option<&'static str>,
}

impl<B: IoBuf> SendQueue<B> {
    /// Registers buffer group `group` with `ring` as a send queue of up to
    /// `capacity` (1 to 32768) buffers.
    ///
    /// # Errors
    ///
    /// `EOPNOTSUPP` on kernels without bundles (`IORING_FEAT_RECVSEND_BUNDLE`,
    /// Linux 6.10); `EINVAL` for a capacity of 0 or above 32768; `EEXIST` when the
    /// ring already has group `group`; `EBADF` for a ring without a plain fd; the
    /// kernel's errno otherwise.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, SendQueue};
    /// let mut ring = OwnedRing::new(4)?;
    /// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
    /// let queue = SendQueue::<Vec<u8>>::new(&mut ring, 1, 100)?;
    /// assert_eq!((queue.group(), queue.capacity()), (1, 100));
    /// let err = SendQueue::<Vec<u8>>::new(&mut ring, 1, 4).unwrap_err();
    /// assert_eq!(uring::error::errno(&err), Some(libc::EEXIST)); // group 1 is taken
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(ring: &mut impl SafeRing, group: u16, capacity: u16) -> io::Result<SendQueue<B>> {
        let host::Parts {
            ring, id: ring_id, ..
        } = ring.host_parts();
        if capacity == 0 || u32::from(capacity) > MAX_ENTRIES {
            return Err(error::with_context(
                libc::EINVAL,
                format!("a send queue of {capacity} buffers (1..={MAX_ENTRIES} are possible)"),
            ));
        }
        if !ring.features().contains(Features::RECVSEND_BUNDLE) {
            return Err(error::with_context(
                libc::EOPNOTSUPP,
                "send queues need bundle sends (IORING_FEAT_RECVSEND_BUNDLE, Linux 6.10)",
            ));
        }
        let entries = u32::from(capacity).next_power_of_two();
        let sr = SendRing::new(ring, group, entries)?;
        Ok(SendQueue {
            shared: Arc::new(Shared {
                ring_id,
                group,
                capacity,
                state: Mutex::new(State {
                    ring: sr,
                    slots: (0..capacity).map(|_| None).collect(),
                    free: (0..capacity).rev().collect(),
                    queue: VecDeque::with_capacity(capacity as usize),
                    head: 0,
                    busy: false,
                    cursor: Cursor::default(),
                    poisoned: None,
                }),
            }),
        })
    }

    /// Hands `buf` to the queue: its initialised bytes go after everything
    /// queued before, and the kernel may send them from now on. The buffer comes
    /// back in a [`Sent`] once all of it has been sent.
    ///
    /// It may be called while a [`SendBundle`] is in flight (that bundle may or
    /// may not include the new buffer).
    ///
    /// # Errors
    ///
    /// The buffer comes back, untouched, with: `EINVAL` for an empty buffer or one
    /// larger than [`MAX_SEND_BUF`]; `ENOBUFS` when the queue already holds
    /// [`capacity`](Self::capacity) buffers; `EIO` when the queue has stopped
    /// (see [`SendBundle`]).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, SendQueue};
    /// let mut ring = OwnedRing::new(4)?;
    /// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
    /// let queue = SendQueue::new(&mut ring, 1, 1)?;
    /// queue.push(vec![1u8; 10]).map_err(|e| e.error)?;
    /// let full = queue.push(vec![2u8; 10]).unwrap_err(); // one buffer at most
    /// assert_eq!(uring::error::errno(&full.error), Some(libc::ENOBUFS));
    /// assert_eq!(full.buf, vec![2u8; 10]); // handed back
    /// let empty = queue.push(Vec::new()).unwrap_err();
    /// assert_eq!(uring::error::errno(&empty.error), Some(libc::EINVAL));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn push(&self, buf: B) -> Result<(), Rejected<B>> {
        let len = buf.bytes_init();
        if len == 0 || len > MAX_SEND_BUF {
            return Err(Rejected {
                error: error::with_context(
                    libc::EINVAL,
                    format!(
                        "a send queue takes buffers of 1..={MAX_SEND_BUF} bytes, not {len} bytes"
                    ),
                ),
                buf,
            });
        }
        let mut state = self.shared.lock();
        if let Some(why) = state.poisoned {
            return Err(Rejected {
                error: stopped(why),
                buf,
            });
        }
        let Some(bid) = state.free.pop() else {
            return Err(Rejected {
                error: error::with_context(
                    libc::ENOBUFS,
                    format!(
                        "the send queue of group {} is full ({} buffers)",
                        self.shared.group, self.shared.capacity
                    ),
                ),
                buf,
            });
        };
        let addr = buf.stable_ptr() as u64;
        state.slots[bid as usize] = Some(buf);
        state.queue.push_back(Entry { bid, off: 0, len });
        let pos = state.head.wrapping_add((state.queue.len() - 1) as u16);
        let tail = pos.wrapping_add(1);
        // The entry is written past the published tail (the kernel reads nothing
        // there), then published. At most `capacity` <= entries are queued, so it
        // overwrites no entry the kernel may still read.
        state.ring.write(pos, addr, len as u32, bid);
        state.ring.publish(tail);
        Ok(())
    }

    /// Takes back every queued buffer, in order, while no [`SendBundle`] of the
    /// queue exists (after a connection broke, say); the queue is then empty and
    /// ready for new buffers. Also returns how many bytes of the first buffer were
    /// already sent (a bundle cut short sends part of one).
    ///
    /// # Errors
    ///
    /// `EBUSY` while a `SendBundle` exists (the kernel may be reading the
    /// buffers); `EIO` when the queue has stopped.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, SendQueue};
    /// let mut ring = OwnedRing::new(4)?;
    /// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
    /// let queue = SendQueue::new(&mut ring, 1, 4)?;
    /// queue.push(b"never".to_vec())?;
    /// queue.push(b"sent".to_vec())?;
    /// let (first_sent, bufs) = queue.take_unsent()?;
    /// assert_eq!((first_sent, bufs), (0, vec![b"never".to_vec(), b"sent".to_vec()]));
    /// assert!(queue.is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_unsent(&self) -> io::Result<(usize, Vec<B>)> {
        let mut state = self.shared.lock();
        if let Some(why) = state.poisoned {
            return Err(stopped(why));
        }
        if state.busy {
            return Err(error::with_context(
                libc::EBUSY,
                format!(
                    "a SendBundle of the send queue of group {} exists: its buffers stay \
                     queued until it is done",
                    self.shared.group
                ),
            ));
        }
        // No bundle exists, so `head` is the kernel's head (the last one settled
        // there) and no operation reads the ring: publishing the tail at the head
        // leaves no entry the kernel could pick, and the buffers are ours again.
        let head = state.head;
        state.ring.publish(head);
        let first_sent = state.queue.front().map_or(0, |e| e.off);
        let entries: Vec<Entry> = state.queue.drain(..).collect();
        let mut bufs = Vec::with_capacity(entries.len());
        for e in entries {
            if let Some(buf) = state.slots[e.bid as usize].take() {
                bufs.push(buf);
            }
            state.free.push(e.bid);
        }
        Ok((first_sent, bufs))
    }

    /// The buffer group id.
    pub fn group(&self) -> u16 {
        self.shared.group
    }

    /// The most buffers the queue holds at once.
    pub fn capacity(&self) -> usize {
        self.shared.capacity as usize
    }

    /// How many buffers are queued (not yet sent in full), as of the last
    /// completion processed.
    pub fn len(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes are queued and not yet known to be sent.
    pub fn queued_bytes(&self) -> usize {
        self.shared.lock().queue.iter().map(|e| e.len).sum()
    }
}

impl<B: IoBuf> fmt::Debug for SendQueue<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.lock();
        f.debug_struct("SendQueue")
            .field("group", &self.shared.group)
            .field("capacity", &self.shared.capacity)
            .field("queued", &state.queue.len())
            .field("busy", &state.busy)
            .field("poisoned", &state.poisoned)
            .finish()
    }
}

pub(super) fn stopped(why: &'static str) -> io::Error {
    error::with_context(
        libc::EIO,
        format!("the send queue has stopped, {why}; its buffers stay queued until it is dropped"),
    )
}

impl<B> Shared<B> {
    pub(super) fn lock(&self) -> MutexGuard<'_, State<B>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<B> Drop for Shared<B> {
    fn drop(&mut self) {
        // Every SendBundle held an Arc to this: none is in flight (a leaked one
        // keeps this alive for ever). Unregister before the buffers go.
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if !state.ring.unregister() {
            // The kernel may still read the ring, and so the buffers: leak them.
            for slot in state.slots.drain(..) {
                core::mem::forget(slot);
            }
        }
        // Otherwise the slots drop with the state: the buffers are freed.
    }
}

impl<B: IoBuf> State<B> {
    /// Follows one completion of the bundle in flight: `res` bytes sent from the
    /// entry holding buffer `bid`, which must be where the last one stopped.
    pub(super) fn advance(&mut self, cqe: &Cqe) {
        advance_cursor(
            &self.queue,
            &mut self.cursor,
            cqe.raw_result(),
            cqe.buffer_id(),
        );
    }

    /// After the bundle's final completion: hands back the buffers sent in full,
    /// keeps a partly sent one at the front with what is left of it, and lays the
    /// queue out again from the kernel's head when that moved past entries the
    /// bundle did not send.
    pub(super) fn settle(&mut self) -> Result<(usize, Vec<B>), &'static str> {
        let c = core::mem::take(&mut self.cursor);
        if c.broken {
            return Err("as a bundle's completions did not match its queued buffers");
        }
        let m = self.queue.len();
        let partial = usize::from(c.off > 0);
        // The kernel took at least the entries it sent from, and at most those
        // published. When it sent everything, that is every entry; otherwise ask
        // it (kernels commit every entry a send selected, or only those sent).
        let head = if c.entry == m {
            self.head.wrapping_add(m as u16)
        } else {
            self.ring
                .head()
                .map_err(|_| "as the kernel's head of its ring could not be read")?
        };
        let consumed = head.wrapping_sub(self.head) as usize;
        if consumed > m || consumed < c.entry + partial {
            return Err("as the kernel's head of its ring is not where the queue expects it");
        }
        let mut bufs = Vec::with_capacity(c.entry);
        for e in self.queue.drain(..c.entry) {
            if let Some(buf) = self.slots[e.bid as usize].take() {
                bufs.push(buf);
            }
            self.free.push(e.bid);
        }
        if let Some(front) = self.queue.front_mut().filter(|_| partial == 1) {
            front.off += c.off;
            front.len -= c.off;
        }
        self.head = head;
        if consumed != c.entry || partial == 1 {
            // The kernel reads from `head` on: write the queue there again. No
            // operation of the group is in flight (the one bundle just completed),
            // so the kernel reads none of these entries until the next one, whose
            // submission comes after the release store of the tail. The new tail
            // is at or past the old one: `consumed - c.entry` >= 0 entries later.
            for (i, e) in self.queue.iter().enumerate() {
                let buf = self.slots[e.bid as usize]
                    .as_ref()
                    .expect("queued entries name held buffers");
                let addr = buf.stable_ptr() as u64 + e.off as u64;
                self.ring
                    .write(head.wrapping_add(i as u16), addr, e.len as u32, e.bid);
            }
            self.ring
                .publish(head.wrapping_add(self.queue.len() as u16));
        }
        Ok((c.bytes, bufs))
    }
}

/// Follows one completion of a bundle over `queue`: `res` bytes sent from the
/// entry holding buffer `bid`, which must be where the cursor stopped (or the
/// cursor breaks). Pure: the fuzz targets run it on any input.
pub(crate) fn advance_cursor(queue: &VecDeque<Entry>, c: &mut Cursor, res: i32, bid: Option<u16>) {
    if res <= 0 {
        return;
    }
    let lined_up =
        c.off == 0 && bid.is_some_and(|bid| queue.get(c.entry).is_some_and(|e| e.bid == bid));
    if !lined_up {
        // A completion after a partial one, or one naming another buffer: the
        // queue no longer knows what was sent.
        c.broken = true;
        return;
    }
    let mut left = res as usize;
    c.bytes += left;
    while left > 0 {
        let Some(e) = queue.get(c.entry) else {
            c.broken = true; // more bytes than queued
            return;
        };
        let rest = e.len - c.off;
        if left >= rest {
            left -= rest;
            c.entry += 1;
            c.off = 0;
        } else {
            c.off += left;
            left = 0;
        }
    }
}

/// A buffer [`SendQueue::push`] did not take, and why.
pub struct Rejected<B> {
    /// Why.
    pub error: io::Error,
    /// The buffer, untouched.
    pub buf: B,
}

impl<B> fmt::Debug for Rejected<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rejected")
            .field("error", &self.error)
            .field("buf", &core::any::type_name::<B>())
            .finish()
    }
}

impl<B> fmt::Display for Rejected<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the send queue did not take the buffer: {}", self.error)
    }
}

impl<B> std::error::Error for Rejected<B> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<B> From<Rejected<B>> for io::Error {
    fn from(e: Rejected<B>) -> io::Error {
        e.error
    }
}

/// What one [`SendBundle`] sent: the byte count and the buffers it sent in full,
/// in the order they were pushed.
///
/// ```
/// use uring::owned::{OwnedRing, SendBundle, SendQueue};
/// let mut ring = OwnedRing::new(4)?;
/// # if !ring.ring().features().contains(uring::Features::RECVSEND_BUNDLE) { return Ok(()) } // < 6.10
/// let queue = SendQueue::new(&mut ring, 2, 4)?;
/// queue.push(b"ab".to_vec())?;
/// queue.push(b"cde".to_vec())?;
/// let (a, _b) = std::os::unix::net::UnixStream::pair()?;
/// let id = ring.submit_op(SendBundle::new(a, &queue)?)?;
/// let sent = ring.wait_for(id)??;
/// assert_eq!((sent.bytes(), sent.bufs().len()), (5, 2));
/// assert!(sent.error().is_none());
/// let bufs: Vec<Vec<u8>> = sent.into_bufs();
/// assert_eq!(bufs.concat(), b"abcde");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Sent<B> {
    pub(super) bytes: usize,
    pub(super) bufs: Vec<B>,
    pub(super) error: Option<io::Error>,
}

impl<B> Sent<B> {
    /// Bytes sent by the bundle (the sum over its completions).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The buffers sent in full, in order. A buffer sent in part stays queued.
    pub fn bufs(&self) -> &[B] {
        &self.bufs
    }

    /// The buffers sent in full, to reuse or drop.
    pub fn into_bufs(self) -> Vec<B> {
        self.bufs
    }

    /// The error that ended the bundle after it had sent some bytes (when it
    /// sent none, the output is that error instead).
    pub fn error(&self) -> Option<&io::Error> {
        self.error.as_ref()
    }
}
