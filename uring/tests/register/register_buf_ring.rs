//! Provided-buffer rings against the running kernel: the kernel picks buffers
//! from a registered ring, reports them in completions, runs out (ENOBUFS), and
//! takes recycled ones again; incremental and kernel-allocated rings; drop order.

use crate::support;
use support::pipe;

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};

use uring::buf_ring::{BufRing, BufRingFlags, BufRingPool};
use uring::types::Fd;
use uring::{Cqe, CqeFlags, Features, Ring, op};

trait Errno {
    fn errno(&self) -> Option<i32>;
}

impl Errno for std::io::Error {
    fn errno(&self) -> Option<i32> {
        uring::error::errno(self)
    }
}

fn errno(e: &std::io::Error) -> Option<i32> {
    uring::error::errno(e)
}

/// Checks that a refusal says "this kernel lacks it" before a test skips on it:
/// `EINVAL`, the answer to a register opcode or flag the kernel does not know.
/// Anything else fails the calling test: a kernel that has the call must do it.
fn assert_missing(e: &std::io::Error) {
    assert_eq!(errno(e), Some(libc::EINVAL), "not a missing feature: {e}");
}

fn write(w: &OwnedFd, data: &[u8]) {
    std::fs::File::from(w.try_clone().unwrap())
        .write_all(data)
        .unwrap();
}

/// Reads from `fd` into a buffer of `group`, waits, and returns the completion.
fn read_selected(ring: &mut Ring, fd: &OwnedFd, len: u32, group: u16) -> Cqe {
    let sqe = op::Read::new(Fd(fd.as_raw_fd()), std::ptr::null_mut(), len)
        .offset(u64::MAX)
        .buf_group(Some(group))
        .build()
        .user_data(42);
    // SAFETY: the pipe and the buffer group outlive the wait below, and no
    // buffer is read before the completion naming it.
    unsafe { ring.push(&sqe) }.unwrap();
    ring.submit_and_wait(1).unwrap();
    let cqe = ring.completion().next().unwrap();
    assert_eq!(cqe.user_data(), 42);
    cqe
}

/// Buffer rings need Linux 5.19; the kernel's head (PBUF_STATUS) 6.8.
fn pool_or_skip(ring: &mut Ring, group: u16, count: u32, size: u32) -> Option<BufRingPool> {
    match BufRingPool::new(ring, group, count, size) {
        Ok(p) => Some(p),
        Err(e) if errno(&e) == Some(libc::EINVAL) => {
            println!("skipped: buffer rings because the kernel refused one ({e}; Linux < 5.19)");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn has_status(pool: &BufRingPool) -> bool {
    match pool.ring().head() {
        Ok(_) => true,
        Err(e) => {
            assert_missing(&e);
            println!("skipped: head checks because PBUF_STATUS is missing ({e}; Linux < 6.8)");
            false
        }
    }
}

#[test]
fn pool_of_four_pick_exhaust_recycle() {
    let mut ring = Ring::new(8).unwrap();
    let Some(mut pool) = pool_or_skip(&mut ring, 7, 4, 16) else {
        return;
    };
    let status = has_status(&pool);
    if status {
        assert_eq!(pool.ring().head().unwrap(), 0);
        assert_eq!(pool.ring().available().unwrap(), 4);
    }
    let (r, w) = pipe();
    // The kernel hands out the buffers in ring order: 0, 1, 2, 3.
    for (i, msg) in [&b"zero"[..], b"one", b"two!!", b"three"]
        .iter()
        .enumerate()
    {
        write(&w, msg);
        let cqe = read_selected(&mut ring, &r, 16, 7);
        assert!(cqe.flags().contains(CqeFlags::BUFFER), "{cqe:?}");
        assert_eq!(cqe.buffer_id(), Some(i as u16));
        assert_eq!(cqe.result().unwrap() as usize, msg.len());
        assert_eq!(pool.data(&cqe), Some(*msg));
        assert_eq!(&pool.buf(i as u16)[..msg.len()], *msg);
        if status {
            assert_eq!(pool.ring().head().unwrap(), i as u16 + 1);
        }
    }
    // All four are out: the next read finds no buffer.
    write(&w, b"more");
    let cqe = read_selected(&mut ring, &r, 16, 7);
    assert_eq!(cqe.raw_result(), -libc::ENOBUFS);
    assert!(!cqe.flags().contains(CqeFlags::BUFFER));
    assert_eq!(pool.data(&cqe), None);

    // Recycle 2: the next read takes it, and the bytes are the new ones.
    pool.recycle(2).unwrap();
    if status {
        assert_eq!(pool.ring().available().unwrap(), 1);
        // Still in the ring: a second recycle is refused.
        let err = pool.recycle(2).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EALREADY), "{err}");
    }
    let cqe = read_selected(&mut ring, &r, 16, 7);
    assert_eq!(cqe.buffer_id(), Some(2));
    assert_eq!(pool.data(&cqe), Some(&b"more"[..]));
    if status {
        assert_eq!(pool.ring().head().unwrap(), 5);
        assert_eq!(pool.ring().available().unwrap(), 0);
    }
    // Consumed now: it can go back.
    pool.recycle(2).unwrap();
    for bid in [0, 1, 3] {
        pool.recycle(bid).unwrap();
    }
    assert_eq!(pool.recycle(4).unwrap_err().errno(), Some(libc::EINVAL));
    // Buffer 2 went back first, so it is the next one picked.
    write(&w, b"again");
    let cqe = read_selected(&mut ring, &r, 16, 7);
    assert_eq!(cqe.buffer_id(), Some(2));
    assert_eq!(pool.data(&cqe), Some(&b"again"[..]));
    pool.unregister().unwrap();

    // With the group gone, a selecting read fails.
    write(&w, b"x");
    let cqe = read_selected(&mut ring, &r, 16, 7);
    assert_eq!(cqe.raw_result(), -libc::ENOBUFS);
}

#[test]
fn reads_shorter_than_the_buffer_are_capped_by_len() {
    let mut ring = Ring::new(4).unwrap();
    let Some(pool) = pool_or_skip(&mut ring, 1, 2, 8) else {
        return;
    };
    let (r, w) = pipe();
    write(&w, b"0123456789abcdef");
    // The read asks for 32, the buffer holds 8: the kernel reads 8.
    let cqe = read_selected(&mut ring, &r, 32, 1);
    assert_eq!(cqe.result().unwrap(), 8);
    assert_eq!(pool.data(&cqe), Some(&b"01234567"[..]));
}

#[test]
fn group_twice_is_eexist_and_bad_sizes_einval() {
    let mut ring = Ring::new(4).unwrap();
    let Some(_pool) = pool_or_skip(&mut ring, 3, 4, 16) else {
        return;
    };
    let err = BufRing::new(&mut ring, 3, 4).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EEXIST), "{err}");
    for entries in [0, 3, 65536] {
        let err = BufRing::new(&mut ring, 4, entries).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EINVAL), "{err}");
    }
    assert!(BufRingPool::new(&mut ring, 4, 0, 16).is_err());
    assert!(BufRingPool::new(&mut ring, 4, 4, 0).is_err());
}

#[test]
fn raw_ring_add_advance_and_ring_level_calls() {
    let mut ring = Ring::new(4).unwrap();
    // Declared before the BufRing, so it outlives it.
    let mut bufs = vec![[0u8; 8]; 4];
    let mut br = match BufRing::new(&mut ring, 9, 4) {
        Ok(br) => br,
        Err(e) => {
            assert_missing(&e);
            return println!("skipped: buffer rings because {e} (Linux < 5.19)");
        }
    };
    // Stage two, publish one: the kernel sees only buffer 30.
    // SAFETY: bufs outlives br and is only read after completions name a buffer.
    unsafe {
        br.add(bufs[0].as_mut_ptr(), 8, 30);
        br.add(bufs[1].as_mut_ptr(), 8, 31);
    }
    assert_eq!(br.staged(), 2);
    br.advance(1);
    assert_eq!((br.tail(), br.staged()), (1, 1));
    let (r, w) = pipe();
    write(&w, b"abc");
    let cqe = read_selected(&mut ring, &r, 8, 9);
    assert_eq!(cqe.buffer_id(), Some(30));
    write(&w, b"def");
    let cqe = read_selected(&mut ring, &r, 8, 9);
    assert_eq!(
        cqe.raw_result(),
        -libc::ENOBUFS,
        "buffer 31 was not published"
    );
    br.advance(1);
    let cqe = read_selected(&mut ring, &r, 8, 9);
    assert_eq!(cqe.buffer_id(), Some(31));
    assert_eq!(&bufs[0][..3], b"abc");
    assert_eq!(&bufs[1][..3], b"def");
    match ring.buf_ring_head(9) {
        Ok(head) => {
            assert_eq!(head, 2);
            assert_eq!(br.head().unwrap(), 2);
            assert_eq!(br.available().unwrap(), 0);
        }
        Err(e) => {
            assert_missing(&e);
            println!("skipped: head checks because {e} (Linux < 6.8)");
        }
    }
    // Unregistering through the Ring; the BufRing's own unregister then finds
    // nothing (ENOENT), which it treats as done.
    ring.unregister_buf_ring(9).unwrap();
    // Gone: ENOENT (Linux 6.1 keeps an empty entry for small group ids: EINVAL).
    let again = ring.unregister_buf_ring(9).unwrap_err().errno().unwrap();
    assert!([libc::ENOENT, libc::EINVAL].contains(&again), "{again}");
    br.unregister().unwrap();
    bufs.clear();
}

#[test]
fn incremental_consumption_continues_in_the_same_buffer() {
    let mut ring = Ring::new(4).unwrap();
    let mut big = vec![0u8; 64];
    let mut br = match BufRing::with_flags(&mut ring, 5, 2, BufRingFlags::INC) {
        Ok(br) => br,
        Err(e) => {
            assert_missing(&e);
            return println!("skipped: incremental buffer rings because {e} (Linux < 6.12)");
        }
    };
    // SAFETY: big outlives br; read only after completions.
    unsafe { br.add(big.as_mut_ptr(), 64, 0) };
    br.advance(1);
    let (r, w) = pipe();
    write(&w, b"first");
    let a = read_selected(&mut ring, &r, 64, 5);
    write(&w, b"second");
    let b = read_selected(&mut ring, &r, 64, 5);
    for cqe in [&a, &b] {
        assert_eq!(cqe.buffer_id(), Some(0));
        assert!(cqe.flags().contains(CqeFlags::BUF_MORE), "{cqe:?}");
    }
    assert_eq!((a.result().unwrap(), b.result().unwrap()), (5, 6));
    // The second read continued where the first stopped.
    assert_eq!(&big[..11], b"firstsecond");
    drop(br);
    big.clear();
}

#[test]
fn kernel_allocated_ring_memory() {
    let mut ring = Ring::new(4).unwrap();
    let mut buf = [0u8; 16];
    let mut br = match BufRing::with_flags(&mut ring, 6, 8, BufRingFlags::MMAP) {
        Ok(br) => br,
        Err(e) => {
            assert_missing(&e);
            return println!("skipped: IOU_PBUF_RING_MMAP because {e} (Linux < 6.4)");
        }
    };
    assert!(br.flags().contains(BufRingFlags::MMAP));
    // SAFETY: buf outlives br; read only after the completion.
    unsafe { br.add(buf.as_mut_ptr(), 16, 77) };
    br.advance(1);
    let (r, w) = pipe();
    write(&w, b"mapped");
    let cqe = read_selected(&mut ring, &r, 16, 6);
    assert_eq!(cqe.buffer_id(), Some(77));
    assert_eq!(cqe.result().unwrap(), 6);
    drop(br);
    assert_eq!(&buf[..6], b"mapped");
}

#[test]
fn ring_dropped_before_the_buffer_ring() {
    let mut ring = Ring::new(4).unwrap();
    let Some(mut pool) = pool_or_skip(&mut ring, 2, 2, 8) else {
        return;
    };
    let (r, w) = pipe();
    write(&w, b"hey");
    let cqe = read_selected(&mut ring, &r, 8, 2);
    assert_eq!(cqe.buffer_id(), Some(0));
    drop(ring);
    // The pool holds its own fd of the kernel's ring: its calls still work.
    if has_status(&pool) {
        assert_eq!(pool.ring().head().unwrap(), 1);
    }
    pool.recycle(0).unwrap();
    assert_eq!(pool.data(&cqe), Some(&b"hey"[..]));
    pool.unregister().unwrap();
}

#[test]
fn ring_without_plain_fd_is_refused() {
    let mut ring = Ring::new(4).unwrap();
    if !ring.features().contains(Features::REG_REG_RING) {
        return println!(
            "skipped: ring_without_plain_fd_is_refused because this kernel lacks \
             IORING_FEAT_REG_REG_RING (closing the ring fd, Linux 6.3)"
        );
    }
    ring.register_ring_fd().unwrap();
    ring.close_ring_fd().unwrap();
    let err = BufRing::new(&mut ring, 1, 4).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EBADF), "{err}");
}

#[test]
fn single_issuer_ring_refuses_other_threads_and_the_ring_is_leaked() {
    let mut ring = match Ring::builder().single_issuer().build(4) {
        Ok(r) => r,
        Err(e) => {
            assert_missing(&e);
            return println!("skipped: SINGLE_ISSUER because {e} (Linux < 6.0)");
        }
    };
    let Some(pool) = pool_or_skip(&mut ring, 12, 2, 8) else {
        return;
    };
    let br = BufRing::new(&mut ring, 13, 2).unwrap();
    // From another thread the kernel refuses register calls on this ring.
    let res = std::thread::spawn(move || {
        let res = br.unregister();
        if res.is_err() {
            drop(pool); // fails to unregister group 12: leaks its memory instead
        } else {
            std::mem::forget(pool); // (a kernel that does not refuse: not tested)
        }
        res
    })
    .join()
    .unwrap();
    let Err(err) = res else {
        return println!("skipped: this kernel lets other threads register on SINGLE_ISSUER rings");
    };
    assert_eq!(errno(&err), Some(libc::EEXIST), "{err}");
    // Both groups are still registered, so their memory had to stay.
    for group in [12, 13] {
        match ring.buf_ring_head(group) {
            Ok(head) => assert_eq!(head, 0),
            Err(e) => {
                assert_missing(&e);
                return println!("skipped: head checks because {e} (Linux < 6.8)");
            }
        }
    }
    assert_eq!(
        errno(&BufRing::new(&mut ring, 12, 2).unwrap_err()),
        Some(libc::EEXIST)
    );
}

#[test]
fn raw_ring_level_registration() {
    let mut ring = Ring::new(4).unwrap();
    // Kernel-allocated ring memory: nothing of ours is named.
    // SAFETY: with IOU_PBUF_RING_MMAP the kernel owns the ring memory, and no
    // buffer is ever published in it.
    let reg = unsafe {
        ring.register_buf_ring(
            std::ptr::null_mut(),
            4,
            20,
            uring::sys::IOU_PBUF_RING_MMAP as u16,
        )
    };
    if let Err(e) = reg {
        assert_missing(&e);
        return println!("skipped: IOU_PBUF_RING_MMAP because {e} (Linux < 6.4)");
    }
    // The empty ring: a selecting read finds nothing.
    let (r, w) = pipe();
    write(&w, b"z");
    assert_eq!(
        read_selected(&mut ring, &r, 8, 20).raw_result(),
        -libc::ENOBUFS
    );
    let status = ring.buf_ring_head(20);
    ring.unregister_buf_ring(20).unwrap();
    match status {
        Ok(head) => {
            assert_eq!(head, 0);
            let err = ring.buf_ring_head(20).unwrap_err();
            assert_eq!(errno(&err), Some(libc::ENOENT), "{err}");
        }
        Err(e) => {
            assert_missing(&e);
            println!("skipped: head checks because {e} (Linux < 6.8)");
        }
    }
}
