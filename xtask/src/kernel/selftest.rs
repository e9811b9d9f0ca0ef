//! The planted failure of `cargo xtask kernel-check --selftest`.
//!
//! Compiled on its own by the xtask (`rustc --test`, std only, static) into one extra
//! libtest binary for the guest. It submits `IORING_OP_FUTEX_WAKE` (opcode 52, new in
//! Linux 6.7) through raw io_uring syscalls:
//!
//! - `futex_wake_without_probe` submits it without asking the kernel first and asserts
//!   success: it must fail on 6.1, and `kernel-check` must say so;
//! - `futex_wake_gated_by_probe` asks `IORING_REGISTER_PROBE` first and prints a
//!   `skipped:` line when the opcode is missing: it must count as skipped-by-probe.
//!
//! On 6.7 and later both pass. The xtask checks all of that against the matrix.

use std::sync::atomic::{AtomicU32, Ordering};

const SYS_IO_URING_SETUP: i64 = 425;
const SYS_IO_URING_ENTER: i64 = 426;
const SYS_IO_URING_REGISTER: i64 = 427;
const IORING_ENTER_GETEVENTS: u64 = 1;
const IORING_REGISTER_PROBE: u64 = 8;
const IO_URING_OP_SUPPORTED: u16 = 1;
const IORING_OFF_SQ_RING: i64 = 0;
const IORING_OFF_CQ_RING: i64 = 0x800_0000;
const IORING_OFF_SQES: i64 = 0x1000_0000;
const IORING_OP_FUTEX_WAKE: u8 = 52;
const FUTEX2_SIZE_U32: i32 = 0x02;
const FUTEX2_PRIVATE: i32 = 0x80;

const PROT_READ: i32 = 1;
const PROT_WRITE: i32 = 2;
const MAP_SHARED: i32 = 1;
const MAP_POPULATE: i32 = 0x8000;

unsafe extern "C" {
    fn syscall(num: i64, ...) -> i64;
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn close(fd: i32) -> i32;
}

#[repr(C)]
#[derive(Default)]
struct SqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    flags: u32,
    dropped: u32,
    array: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default)]
struct CqOffsets {
    head: u32,
    tail: u32,
    ring_mask: u32,
    ring_entries: u32,
    overflow: u32,
    cqes: u32,
    flags: u32,
    resv1: u32,
    user_addr: u64,
}

#[repr(C)]
#[derive(Default)]
struct Params {
    sq_entries: u32,
    cq_entries: u32,
    flags: u32,
    sq_thread_cpu: u32,
    sq_thread_idle: u32,
    features: u32,
    wq_fd: u32,
    resv: [u32; 3],
    sq_off: SqOffsets,
    cq_off: CqOffsets,
}

/// `struct io_uring_sqe`, with only the fields this test sets named.
#[repr(C)]
#[derive(Default)]
struct Sqe {
    opcode: u8,
    flags: u8,
    ioprio: u16,
    fd: i32,
    off: u64,
    addr: u64,
    len: u32,
    op_flags: u32,
    user_data: u64,
    buf_index: u16,
    personality: u16,
    file_index: u32,
    addr3: u64,
    pad: u64,
}

fn os_error(rc: i64) -> std::io::Error {
    if rc < 0 {
        std::io::Error::last_os_error()
    } else {
        std::io::Error::other("unexpected result")
    }
}

/// One io_uring with its three mappings (leaked: the test process is short-lived).
struct Ring {
    fd: i32,
    sq: *mut u8,
    cq: *mut u8,
    sqes: *mut Sqe,
    p: Params,
}

impl Ring {
    fn new() -> std::io::Result<Ring> {
        let mut p = Params::default();
        // SAFETY: io_uring_setup(2) writes into `p`, a valid 120-byte io_uring_params.
        let fd = unsafe { syscall(SYS_IO_URING_SETUP, 4u32, &mut p as *mut Params) };
        if fd < 0 {
            return Err(os_error(fd));
        }
        let fd = fd as i32;
        let map = |len: usize, off: i64| -> std::io::Result<*mut u8> {
            // SAFETY: a fresh shared mapping of the ring fd; no existing memory is touched.
            let ptr = unsafe {
                mmap(
                    std::ptr::null_mut(),
                    len,
                    PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE,
                    fd,
                    off,
                )
            };
            if ptr as isize == -1 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(ptr)
            }
        };
        let sq = map(
            p.sq_off.array as usize + p.sq_entries as usize * 4,
            IORING_OFF_SQ_RING,
        )?;
        let cq = map(
            p.cq_off.cqes as usize + p.cq_entries as usize * 16,
            IORING_OFF_CQ_RING,
        )?;
        let sqes = map(
            p.sq_entries as usize * std::mem::size_of::<Sqe>(),
            IORING_OFF_SQES,
        )?;
        Ok(Ring {
            fd,
            sq,
            cq,
            sqes: sqes.cast(),
            p,
        })
    }

    /// `*mut u32` at `off` bytes into a ring mapping.
    fn word(base: *mut u8, off: u32) -> &'static AtomicU32 {
        // SAFETY: every offset the kernel reports lies inside the mapping, 4-byte aligned,
        // and the mapping is never unmapped while the process lives.
        unsafe { AtomicU32::from_ptr(base.add(off as usize).cast()) }
    }

    /// Submits one SQE, waits for its completion, returns the CQE's `res`.
    fn submit_and_wait(&self, sqe: Sqe) -> std::io::Result<i32> {
        let tail = Self::word(self.sq, self.p.sq_off.tail).load(Ordering::Acquire);
        let mask = Self::word(self.sq, self.p.sq_off.ring_mask).load(Ordering::Relaxed);
        let index = tail & mask;
        // SAFETY: `index` < sq_entries, so the SQE slot and the array slot are inside their
        // mappings; the kernel does not read them before the tail store below.
        unsafe {
            self.sqes.add(index as usize).write(sqe);
            self.sq
                .add(self.p.sq_off.array as usize)
                .cast::<u32>()
                .add(index as usize)
                .write(index);
        }
        Self::word(self.sq, self.p.sq_off.tail).store(tail.wrapping_add(1), Ordering::Release);
        // SAFETY: io_uring_enter(2) on our ring fd, no signal mask.
        let rc = unsafe {
            syscall(
                SYS_IO_URING_ENTER,
                self.fd,
                1u32,
                1u32,
                IORING_ENTER_GETEVENTS,
                0usize,
                0usize,
            )
        };
        if rc < 0 {
            return Err(os_error(rc));
        }
        let head = Self::word(self.cq, self.p.cq_off.head).load(Ordering::Acquire);
        let cq_tail = Self::word(self.cq, self.p.cq_off.tail).load(Ordering::Acquire);
        if head == cq_tail {
            return Err(std::io::Error::other("no completion after io_uring_enter"));
        }
        let cq_mask = Self::word(self.cq, self.p.cq_off.ring_mask).load(Ordering::Relaxed);
        // SAFETY: the CQE at head & mask is inside the CQ mapping (16-byte CQEs) and was
        // published by the kernel (tail load with Acquire above).
        let res = unsafe {
            self.cq
                .add(self.p.cq_off.cqes as usize + (head & cq_mask) as usize * 16 + 8)
                .cast::<i32>()
                .read()
        };
        Self::word(self.cq, self.p.cq_off.head).store(head.wrapping_add(1), Ordering::Release);
        Ok(res)
    }

    /// Whether `IORING_REGISTER_PROBE` says the kernel supports `opcode`.
    fn supports(&self, opcode: u8) -> std::io::Result<bool> {
        // struct io_uring_probe: 16-byte header, then 256 io_uring_probe_op of 8 bytes.
        let mut buf = vec![0u8; 16 + 256 * 8];
        // SAFETY: `buf` is large enough for the 256 entries the call is told about.
        let rc = unsafe {
            syscall(
                SYS_IO_URING_REGISTER,
                self.fd,
                IORING_REGISTER_PROBE,
                buf.as_mut_ptr(),
                256u32,
            )
        };
        if rc < 0 {
            return Err(os_error(rc));
        }
        let last_op = buf[0];
        let entry = 16 + usize::from(opcode) * 8;
        let flags = u16::from_ne_bytes([buf[entry + 2], buf[entry + 3]]);
        Ok(opcode <= last_op && flags & IO_URING_OP_SUPPORTED != 0)
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: closes the ring fd this value owns, once.
        unsafe { close(self.fd) };
    }
}

fn futex_wake() -> std::io::Result<i32> {
    let ring = Ring::new()?;
    let word = AtomicU32::new(0);
    let sqe = Sqe {
        opcode: IORING_OP_FUTEX_WAKE,
        fd: FUTEX2_SIZE_U32 | FUTEX2_PRIVATE,
        addr: word.as_ptr() as u64,
        off: 1,
        addr3: u64::from(u32::MAX),
        user_data: 7,
        ..Sqe::default()
    };
    ring.submit_and_wait(sqe)
}

#[test]
fn futex_wake_without_probe() {
    let res = futex_wake().expect("io_uring works at all");
    assert!(
        res >= 0,
        "IORING_OP_FUTEX_WAKE completed with {res} ({})",
        std::io::Error::from_raw_os_error(-res)
    );
}

#[test]
fn futex_wake_gated_by_probe() {
    let ring = Ring::new().expect("io_uring works at all");
    if !ring
        .supports(IORING_OP_FUTEX_WAKE)
        .expect("IORING_REGISTER_PROBE works")
    {
        println!("skipped: IORING_OP_FUTEX_WAKE not supported by this kernel (needs 6.7)");
        return;
    }
    drop(ring);
    let res = futex_wake().expect("io_uring works at all");
    assert!(res >= 0, "IORING_OP_FUTEX_WAKE completed with {res}");
}
