//! [`HeldFd`]: a descriptor the ring itself holds, which operations name without
//! a reference count of their own.
//!
//! A [`SharedFd`](super::SharedFd) keeps its descriptor open by an `Arc` that
//! every operation clones and drops: two atomic operations per operation. A
//! held descriptor lives in the ring's table of held files instead, and an
//! operation naming it costs one look-up when it is submitted (one compare
//! when it names the file the last look-up found, as a loop does; the table
//! records which held file each operation in flight names) and nothing at its
//! completion. Releasing a held file lists the operations in flight that name
//! it; it is closed once they have all had their final completions (checked
//! once per pass over the completion queue while such a list exists).
//!
//! The handle is a `Copy` token of eight bytes (so that an operation naming it
//! stays as small as one holding a `SharedFd`): the descriptor's number, the
//! slot of the ring's table that holds it, and that slot's generation. Before an
//! entry naming it is submitted, the ring checks that the slot is live, of that
//! generation, and holds a descriptor of that very number: the number in the
//! entry is then one the ring keeps open until the operation's final
//! completion, whatever the handle's history. A released handle, or another
//! ring's, matches nothing and is refused (unless a later hold of the same
//! number landed in the same slot at the same generation, 4095 holds later: the
//! operation then works on the descriptor held now, which is open — a stale
//! handle's logic error, as a stale descriptor number's, but nothing unsound).

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::DirectFd;
use crate::error;

/// Marks a held-file token (the part of [`Op::bound_ring`](super::Op)'s value
/// that names a held file), so that none is 0, which means no file there. Below
/// it: the descriptor's number, all 32 bits (a held direct descriptor's is
/// negative), and the handle's key (31 bits: slot and generation), so that no
/// two handles share a token once the tag is taken off.
pub(super) const TOKEN_BIT: u64 = 1 << 63;
/// Bits of a key that hold the slot in the table; the generation is above.
const INDEX_BITS: u32 = 20;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
/// Generations go 1 ..= GEN_MAX (0 marks no hold), then wrap: a key is 31 bits.
const GEN_MAX: u32 = u32::MAX >> (INDEX_BITS + 1);
/// Where a token holds the descriptor's number.
const RAW_SHIFT: u32 = 31;
/// How many descriptors a ring can hold: all slot numbers but the largest,
/// which `u64::MAX` (the value of an operation bound to two different rings)
/// has.
pub const MAX_HELD_FDS: usize = INDEX_MASK as usize;

/// A descriptor held by one [`OwnedRing`](super::OwnedRing) (from
/// [`hold_fd`](super::OwnedRing::hold_fd)), for operations on that ring to name
/// (`impl Into<`[`FileRef`](super::ops::FileRef)`>` takes it) without a
/// reference count per operation: the ring counts the operations in flight
/// that name it, and closes it after [`release_fd`](super::OwnedRing::release_fd)
/// once none is left.
///
/// Only a handle: `Copy`, owning nothing, so dropping or forgetting it has no
/// effect. An operation naming a descriptor that is no longer held (released),
/// or held by another ring, is refused at submission (`EBADF`). It goes with
/// the ring's own registrations (a receive from a held socket into a
/// [`BufPool`](super::BufPool) of the ring, say); an operation that names a
/// second, different held descriptor (a splice between two) is refused
/// (`EXDEV`: the ring records one per operation): name one of them through a
/// [`SharedFd`](super::SharedFd) there.
///
/// ```
/// use uring::owned::{OwnedRing, ops};
/// let mut ring = OwnedRing::new(4)?;
/// let file = ring.hold_fd(std::fs::File::open("/dev/zero")?)?;
/// let id = ring.submit_op(ops::Read::new(file, vec![1u8; 4], 0))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!((n?, &buf[..]), (4, &[0u8; 4][..]));
/// ring.release_fd(file)?; // closed (no operation names it any more)
/// let refused = ring.submit_op(ops::Read::new(file, vec![0u8; 4], 0)).unwrap_err();
/// assert_eq!(uring::error::errno(&refused.error), Some(libc::EBADF));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeldFd {
    /// The descriptor's number, for the entries (the ring checks that it
    /// holds this very number before it submits an entry naming it); for a
    /// held direct descriptor, `!index` (negative: no descriptor number is).
    pub(super) raw: RawFd,
    /// The slot (low bits) and its generation.
    pub(super) key: u32,
}

impl HeldFd {
    /// What an operation naming it says through `bound_ring`.
    #[inline(always)]
    pub(super) fn token(self) -> u64 {
        TOKEN_BIT | (self.raw as u32 as u64) << RAW_SHIFT | self.key as u64
    }

    /// The slot of the ring's direct table, if this names a held direct
    /// descriptor (from [`hold_direct`](super::OwnedRing::hold_direct)); the
    /// descriptor number otherwise.
    #[inline(always)]
    pub(super) fn target(self) -> Result<RawFd, u32> {
        if self.raw >= 0 {
            Ok(self.raw)
        } else {
            Err(!self.raw as u32)
        }
    }
}

impl fmt::Debug for HeldFd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("HeldFd");
        match self.target() {
            Ok(fd) => d.field("fd", &fd),
            Err(index) => d.field("direct_index", &index),
        };
        d.field("slot", &(self.key & INDEX_MASK))
            .field("generation", &(self.key >> INDEX_BITS))
            .finish()
    }
}

/// A released file that operations in flight still name.
struct Pending {
    /// Its slot in the table.
    index: u32,
    /// The slot and generation of each operation, in the in-flight table,
    /// that names it and has not had its final completion yet.
    ops: Vec<(u32, u64)>,
}

/// What a slot holds (kept for what dropping it does).
#[allow(
    dead_code,
    reason = "held only to be dropped: closed, or the slot emptied"
)]
enum File {
    /// A plain descriptor, closed with the entry.
    Fd(OwnedFd),
    /// A share of a direct descriptor: the slot of the ring's direct table is
    /// emptied with the entry if this was its last share.
    Direct(DirectFd),
}

/// One slot of the table (but its live token, in [`HeldFiles::live`]).
struct Entry {
    /// The generation of the slot's last hold.
    generation: u32,
    /// The file; `None` when the slot is free.
    fd: Option<File>,
}

/// A ring's held files.
pub(super) struct HeldFiles {
    /// By slot: the token (without `TOKEN_BIT`) an operation naming the file
    /// held there says, while it is held and not released; 0 otherwise (no
    /// token is 0: generations start at 1). Apart from the rest, so that the
    /// look-up of every submission reads one word.
    live: Vec<u64>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// Released files still named by operations in flight.
    pending: Vec<Pending>,
    /// Operations that named held files were leaked (the ring was dropped
    /// while the kernel might still use them): no held file is ever closed.
    leaked: bool,
    /// The token [`find`](Self::find) last found live (0: none), which it
    /// then finds again with one compare: a loop names the same file op
    /// after op. Only a release makes a live token dead (it clears this);
    /// a hold only makes a free slot live. Atomic only to keep the table
    /// `Sync` (shared look-ups race only to store live tokens): relaxed, it
    /// is a plain load and store.
    last: AtomicU64,
}

impl HeldFiles {
    pub(super) const fn new() -> HeldFiles {
        HeldFiles {
            live: Vec::new(),
            entries: Vec::new(),
            free: Vec::new(),
            pending: Vec::new(),
            leaked: false,
            last: AtomicU64::new(0),
        }
    }

    /// Holds `fd`.
    pub(super) fn hold(&mut self, fd: OwnedFd) -> io::Result<HeldFd> {
        let raw = fd.as_raw_fd();
        self.hold_file(File::Fd(fd), raw)
    }

    /// Holds a share of the direct descriptor `fd` for the ring of id `ring`:
    /// `EXDEV` (and the share dropped) when `fd` is of another ring's table.
    pub(super) fn hold_direct(&mut self, fd: DirectFd, ring: u64) -> io::Result<HeldFd> {
        if fd.ring_id() != ring {
            return Err(error::with_context(
                libc::EXDEV,
                format!(
                    "hold_direct: direct descriptor {} belongs to another ring's table",
                    fd.index()
                ),
            ));
        }
        // `!index` is negative for every index the kernel's table can have
        // (below 2^31), so it never equals a descriptor number.
        let raw = !(fd.index() as RawFd);
        self.hold_file(File::Direct(fd), raw)
    }

    fn hold_file(&mut self, fd: File, raw: RawFd) -> io::Result<HeldFd> {
        let index = match self.free.pop() {
            Some(i) => i,
            None if self.entries.len() < MAX_HELD_FDS => {
                self.entries.push(Entry {
                    generation: 0,
                    fd: None,
                });
                self.live.push(0);
                (self.entries.len() - 1) as u32
            }
            None => {
                return Err(error::with_context(
                    libc::ENFILE,
                    format!("a ring holds at most {MAX_HELD_FDS} descriptors"),
                ));
            }
        };
        let e = &mut self.entries[index as usize];
        e.generation = if e.generation >= GEN_MAX {
            1
        } else {
            e.generation + 1
        };
        e.fd = Some(fd);
        let held = HeldFd {
            raw,
            key: e.generation << INDEX_BITS | index,
        };
        self.live[index as usize] = held.token() & !TOKEN_BIT;
        Ok(held)
    }

    /// The slot of the file `token` names — live (held, not released), of the
    /// token's generation, and holding a descriptor of the token's number — if
    /// there is one.
    #[inline]
    pub(super) fn find(&self, token: u64) -> Option<u32> {
        let index = token as u32 & INDEX_MASK;
        if token == self.last.load(Relaxed) {
            return Some(index);
        }
        // The whole token but its tag: the slot's generation and the number.
        if *self.live.get(index as usize)? != token & !TOKEN_BIT {
            return None;
        }
        self.last.store(token, Relaxed);
        Some(index)
    }

    /// The slot of the file `token` names (for an operation about to be
    /// tabled, which records it; or for releasing it), or `EBADF` if this ring
    /// does not hold it.
    #[inline]
    pub(super) fn lookup(&self, token: u64) -> io::Result<u32> {
        self.find(token).ok_or_else(not_held)
    }

    /// Whether this ring holds the file of `token` (not released).
    pub(super) fn holds(&self, token: u64) -> bool {
        self.find(token).is_some()
    }

    /// Releases the file at `index` (from [`lookup`](Self::lookup)), which the
    /// operations `ops` (slot and generation in the in-flight table) name: no
    /// new operation may name it, and it is closed now if `ops` is empty, else
    /// once they have all had their final completions
    /// ([`close_released`](Self::close_released)).
    pub(super) fn release(&mut self, index: u32, ops: Vec<(u32, u64)>) {
        self.live[index as usize] = 0;
        // It may be the token `find` remembers, dead from now on.
        self.last.store(0, Relaxed);
        if ops.is_empty() {
            self.close(index);
        } else {
            self.pending.push(Pending { index, ops });
        }
    }

    /// Whether released files wait for operations in flight.
    #[inline(always)]
    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Closes every released file whose operations have all had their final
    /// completions: `in_flight(slot, generation)` says whether one has not.
    pub(super) fn close_released(&mut self, in_flight: impl Fn(u32, u64) -> bool) {
        if self.leaked {
            return;
        }
        let mut closing = Vec::new();
        self.pending.retain_mut(|p| {
            p.ops
                .retain(|&(slot, generation)| in_flight(slot, generation));
            if p.ops.is_empty() {
                closing.push(p.index);
                false
            } else {
                true
            }
        });
        for index in closing {
            self.close(index);
        }
    }

    /// Operations were leaked: from now on no held file is closed (any of them
    /// may be named by one the kernel still uses).
    pub(super) fn leak_all(&mut self) {
        self.leaked = true;
    }

    #[cold]
    #[inline(never)]
    fn close(&mut self, index: u32) {
        let fd = self.entries[index as usize].fd.take();
        self.free.push(index);
        drop(fd);
    }
}

impl Drop for HeldFiles {
    /// Closes every file, unless operations were leaked (the ring was dropped
    /// while the kernel might still use them): then every file is leaked too,
    /// never closed. (By the time the ring drops its table, every other
    /// operation has had its final completion.)
    fn drop(&mut self) {
        if self.leaked {
            for e in &mut self.entries {
                core::mem::forget(e.fd.take());
            }
        }
    }
}

/// The refusal of an operation naming a file the ring does not hold.
#[cold]
pub(super) fn not_held() -> io::Error {
    error::with_context(
        libc::EBADF,
        "this operation names a HeldFd this ring does not hold (released, or held by another ring)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_tell_a_plain_number_from_a_direct_slot_and_keep_the_tag_free() {
        let key = 7 << INDEX_BITS | 3;
        // Without its sign bit, direct slot 100's `!100` is descriptor number
        // 2147483547: the two handles must still differ once the tag is off.
        let plain = HeldFd {
            raw: 0x7FFF_FFFF - 100,
            key,
        };
        let direct = HeldFd { raw: !100, key };
        assert_ne!(plain.token() & !TOKEN_BIT, direct.token() & !TOKEN_BIT);
        // The largest key and any number leave the tag to the tag bit alone.
        let top = HeldFd {
            raw: -1,
            key: GEN_MAX << INDEX_BITS | INDEX_MASK,
        };
        assert_eq!(top.token() & !TOKEN_BIT, u64::MAX >> 1);
        assert!(u64::from(GEN_MAX << INDEX_BITS | INDEX_MASK) < 1 << RAW_SHIFT);
        // That token is u64::MAX, which marks an operation naming two held
        // files: its slot is one no file is ever held in, so it is never found.
        assert_eq!(top.token(), u64::MAX);
        assert_eq!(top.key & INDEX_MASK, INDEX_MASK);
        assert_eq!(MAX_HELD_FDS, INDEX_MASK as usize, "slots 0..MAX_HELD_FDS");
    }

    #[test]
    fn the_file_found_last_is_found_again_until_it_is_released() {
        let mut files = HeldFiles::new();
        let open = || OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let (a, b) = (files.hold(open()).unwrap(), files.hold(open()).unwrap());
        let (ia, ib) = (
            files.lookup(a.token()).unwrap(),
            files.lookup(b.token()).unwrap(),
        );
        assert_ne!(ia, ib);
        // Found again, in turn and twice running.
        for t in [a, a, b, b, a] {
            assert_eq!(files.find(t.token()), Some(if t == a { ia } else { ib }));
        }
        // `a` was found last: released, it is found no more; `b` still is.
        files.release(ia, Vec::new());
        assert_eq!(files.find(a.token()), None);
        assert_eq!(files.find(b.token()), Some(ib));
        // A new hold takes `a`'s slot at a new generation: the old handle is
        // still refused, the new one found.
        let c = files.hold(open()).unwrap();
        assert_eq!(files.find(c.token()), Some(ia));
        assert_eq!(files.find(a.token()), None);
        assert_eq!(files.find(c.token()), Some(ia));
        files.release(ib, Vec::new());
        assert_eq!(files.find(b.token()), None);
        assert!(files.lookup(b.token()).is_err());
    }
}
