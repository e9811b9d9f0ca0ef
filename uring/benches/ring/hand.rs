//! `read-hand`: the owned-buffer read workload written by hand for this one
//! operation, against the raw level, with nothing general in it: what a safe
//! layer's read could cost at least, measured in the same harness as
//! `read-owned`.
//!
//! It keeps the guarantees that make an owned read safe, and nothing more: each
//! read owns its buffer, held in a slot of a slab until the read's completion
//! names the slot with the right generation; the slot is then freed and the
//! buffer handed back with the result. The file is the loop's, open for all of
//! it: no read holds a share of it (no `Arc` clone per read, as a `HeldFd`
//! needs none), and none is looked up. No trait, no table of functions, no
//! multishot, linking, cancellation, detaching or file bookkeeping: a layer
//! that offers those can only cost more.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Instant;

use uring::op::Read;
use uring::owned::{AlignedBuf, IoBuf, IoBufMut};
use uring::types::Fd;

/// A read in flight: what it keeps alive.
struct InFlight {
    buf: AlignedBuf,
}

struct Slot {
    generation: u32,
    /// The free list's next slot.
    next: u32,
    busy: bool,
    read: MaybeUninit<InFlight>,
}

/// Reads in flight by slot; a slot's user data is its index and generation. A
/// read still in flight when the slab is dropped (the loop returning an error) is
/// leaked, buffer and all: its slot's `MaybeUninit` is never dropped.
struct Slab {
    slots: Vec<Slot>,
    free: u32,
}

const NONE: u32 = u32::MAX;
const GEN_BITS: u64 = 0x3fff_ffff;

impl Slab {
    /// Keeps `read` until its completion: its user data.
    #[inline(always)]
    fn insert(&mut self, read: InFlight) -> u64 {
        if self.free == NONE {
            self.free = self.slots.len() as u32;
            self.slots.push(Slot {
                generation: 0,
                next: NONE,
                busy: false,
                read: MaybeUninit::uninit(),
            });
        }
        let index = self.free;
        let slot = &mut self.slots[index as usize];
        self.free = slot.next;
        slot.generation = slot.generation.wrapping_add(1);
        slot.busy = true;
        slot.read.write(read);
        (slot.generation as u64 & GEN_BITS) << 32 | index as u64
    }

    /// The read `user_data` names, if it is in flight, with its result `res`:
    /// the result and the buffer back, the slot free again.
    #[inline(always)]
    fn complete(&mut self, user_data: u64, res: i32) -> Option<(io::Result<usize>, AlignedBuf)> {
        let index = user_data as u32;
        let free = self.free;
        let slot = self.slots.get_mut(index as usize)?;
        if !slot.busy || slot.generation as u64 & GEN_BITS != user_data >> 32 {
            return None;
        }
        slot.busy = false;
        slot.next = free;
        // SAFETY: a busy slot holds its read; it is no longer busy, so the read
        // is taken once.
        let InFlight { mut buf } = unsafe { slot.read.assume_init_read() };
        self.free = index;
        if res < 0 {
            return Some((Err(io::Error::from_raw_os_error(-res)), buf));
        }
        // SAFETY: the kernel wrote `res` bytes from the buffer's start.
        unsafe { buf.set_init(res as usize) };
        Some((Ok(res as usize), buf))
    }
}

/// The loop of `read-owned`, by hand: one read in flight on `ring` per buffer
/// of `free` (page-aligned, 4 KiB), each owning its buffer, at random blocks of
/// `file`; `whole_block` checks each result. The reads name `file` by number:
/// the caller keeps it open until the ring is dropped (a read still in flight
/// when this returns an error keeps the kernel's own reference to it).
#[inline(never)]
pub fn read_loop(
    ring: &mut uring::Ring,
    file: BorrowedFd<'_>,
    mut free: Vec<AlignedBuf>,
    ops: u64,
    blocks: u64,
    next_rand: impl Fn(&mut u64) -> u64,
    whole_block: impl Fn(io::Result<usize>) -> Result<(), String>,
) -> Result<f64, String> {
    let mut slab = Slab {
        slots: Vec::new(),
        free: NONE,
    };
    let qd = free.len() as u64;
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let start = Instant::now();
    while done < ops {
        {
            let mut sq = ring.submission();
            while submitted - done < qd && submitted < ops {
                let mut buf = free.pop().expect("one free buffer per read in flight");
                let off = (next_rand(&mut seed) % blocks) * 4096;
                let len = buf.bytes_total().min(0x7fff_f000) as u32;
                let sqe = Read::new(Fd(file.as_raw_fd()), buf.stable_mut_ptr(), len)
                    .offset(off)
                    .build();
                let user_data = slab.insert(InFlight { buf });
                // SAFETY: the buffer the entry names is kept in the slab until
                // the read's completion is processed below (or leaked); the file
                // is open for as long as the ring (the caller's contract above).
                unsafe { sq.push(&sqe.user_data(user_data)) }.map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        for cqe in ring.completion() {
            let (res, buf) = slab
                .complete(cqe.user_data(), cqe.raw_result())
                .ok_or("a completion of no read in flight")?;
            whole_block(res)?;
            free.push(buf);
            done += 1;
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// [`read_loop`] with each read started again from the completion loop, with
/// the buffer of the read that finished (`read-hand-rearm`, the floor of
/// `read-typed-rearm`): the submission and completion queues are viewed at
/// once ([`uring::Ring::split`]), so no list of free buffers is kept. A read is
/// pushed as its predecessor's completion is taken; the queue has room for it,
/// as it holds `qd` entries and at most `qd` reads are in flight.
#[inline(never)]
pub fn read_loop_rearm(
    ring: &mut uring::Ring,
    file: BorrowedFd<'_>,
    bufs: Vec<AlignedBuf>,
    ops: u64,
    blocks: u64,
    next_rand: impl Fn(&mut u64) -> u64,
    whole_block: impl Fn(io::Result<usize>) -> Result<(), String>,
) -> Result<f64, String> {
    let mut slab = Slab {
        slots: Vec::new(),
        free: NONE,
    };
    let (mut submitted, mut done, mut seed) = (0u64, 0u64, 0x9e37_79b9_7f4a_7c15u64);
    let fd = Fd(file.as_raw_fd());
    let start = Instant::now();
    {
        let mut sq = ring.submission();
        for buf in bufs.into_iter().take(ops as usize) {
            let off = (next_rand(&mut seed) % blocks) * 4096;
            let sqe = rearmed_read(&mut slab, fd, buf, off);
            // SAFETY: as in `read_loop`: the buffer is in the slab until the
            // read's completion is processed (or leaked), the file open for as
            // long as the ring.
            unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
            submitted += 1;
        }
    }
    while done < ops {
        ring.submit_and_wait(1)
            .map_err(|e| format!("submit: {e}"))?;
        let (mut sq, cq) = ring.split();
        for cqe in cq {
            let (res, buf) = slab
                .complete(cqe.user_data(), cqe.raw_result())
                .ok_or("a completion of no read in flight")?;
            whole_block(res)?;
            done += 1;
            if submitted < ops {
                let off = (next_rand(&mut seed) % blocks) * 4096;
                let sqe = rearmed_read(&mut slab, fd, buf, off);
                // SAFETY: as above.
                unsafe { sq.push(&sqe) }.map_err(|e| e.to_string())?;
                submitted += 1;
            }
        }
    }
    Ok(done as f64 / start.elapsed().as_secs_f64())
}

/// The entry of a read of `buf` at `off` of `fd`, the buffer kept in `slab`.
/// ([`read_loop`] builds the same entry in place: through this function its
/// loop compiles to one more instruction per read.)
#[inline(always)]
fn rearmed_read(slab: &mut Slab, fd: Fd, mut buf: AlignedBuf, off: u64) -> uring::sqe::Sqe {
    let len = buf.bytes_total().min(0x7fff_f000) as u32;
    let sqe = Read::new(fd, buf.stable_mut_ptr(), len).offset(off).build();
    sqe.user_data(slab.insert(InFlight { buf }))
}
