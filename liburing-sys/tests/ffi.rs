//! liburing through raw FFI only: rings, SQEs, CQEs, probe and version, as a C
//! program would use them. Runs against the vendored 2.15 and against system copies.

use liburing_sys::*;
use std::io::Write;
use std::mem::MaybeUninit;
use std::os::fd::AsRawFd;

/// An initialised ring, torn down on drop (even when an assertion fails mid-test).
struct Ring(Box<io_uring>);

impl Ring {
    fn new(entries: u32) -> Ring {
        let mut ring: Box<MaybeUninit<io_uring>> = Box::new(MaybeUninit::zeroed());
        // SAFETY: io_uring_queue_init fully initialises the struct it is given on success;
        // the Box keeps its address stable for the ring's life.
        let ret = unsafe { io_uring_queue_init(entries, ring.as_mut_ptr(), 0) };
        assert_eq!(
            ret,
            0,
            "io_uring_queue_init: {}",
            std::io::Error::from_raw_os_error(-ret)
        );
        // SAFETY: initialised above (ret == 0).
        Ring(unsafe { Box::from_raw(Box::into_raw(ring).cast()) })
    }

    fn raw(&mut self) -> *mut io_uring {
        &mut *self.0
    }

    /// Waits for one completion and returns (user_data, res, flags), marking it seen.
    fn wait(&mut self) -> (u64, i32, u32) {
        let mut cqe: *mut io_uring_cqe = std::ptr::null_mut();
        // SAFETY: the ring is initialised; on success cqe points into the CQ ring and
        // stays valid until io_uring_cqe_seen, which is called after the copy.
        unsafe {
            let ret = io_uring_wait_cqe(self.raw(), &mut cqe);
            assert_eq!(
                ret,
                0,
                "io_uring_wait_cqe: {}",
                std::io::Error::from_raw_os_error(-ret)
            );
            let out = ((*cqe).user_data, (*cqe).res, (*cqe).flags);
            io_uring_cqe_seen(self.raw(), cqe);
            out
        }
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: initialised in new, exited exactly once here.
        unsafe { io_uring_queue_exit(self.raw()) };
    }
}

#[test]
fn nop_round_trip_carries_user_data_and_res_zero() {
    let mut ring = Ring::new(8);
    // SAFETY: the ring has 8 free SQEs, so get_sqe returns a valid entry owned by the
    // ring until submit; a NOP references no memory.
    unsafe {
        let sqe = io_uring_get_sqe(ring.raw());
        assert!(!sqe.is_null());
        io_uring_prep_nop(sqe);
        io_uring_sqe_set_data64(sqe, 0xdead_beef_0123);
        assert_eq!(io_uring_submit(ring.raw()), 1);
    }
    let (user_data, res, _) = ring.wait();
    assert_eq!(user_data, 0xdead_beef_0123);
    assert_eq!(res, 0);
    // Nothing else is pending.
    let mut cqe: *mut io_uring_cqe = std::ptr::null_mut();
    // SAFETY: peek only reads the CQ ring of an initialised ring.
    let ret = unsafe { io_uring_peek_cqe(ring.raw(), &mut cqe) };
    assert_eq!(ret, -libc::EAGAIN);
}

#[test]
fn read_of_a_known_file_returns_its_bytes() {
    let mut file = tempfile("read");
    let content: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 3) as u8).collect();
    file.write_all(&content).unwrap();
    let mut buf = vec![0u8; 1000];
    let mut ring = Ring::new(4);
    // SAFETY: buf outlives the operation (its completion is reaped below before buf is
    // read or dropped) and the fd stays open until then.
    unsafe {
        let sqe = io_uring_get_sqe(ring.raw());
        io_uring_prep_read(
            sqe,
            file.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len() as u32,
            1234,
        );
        io_uring_sqe_set_data64(sqe, 7);
        assert_eq!(io_uring_submit(ring.raw()), 1);
    }
    let (user_data, res, _) = ring.wait();
    assert_eq!(user_data, 7);
    assert_eq!(res, 1000, "bytes read");
    assert_eq!(&buf[..], &content[1234..2234]);
}

#[test]
fn read_past_end_returns_zero_and_bad_fd_returns_ebadf() {
    let mut file = tempfile("eof");
    file.write_all(b"abc").unwrap();
    let mut ring = Ring::new(4);
    let mut buf = [0u8; 16];
    // SAFETY: buf lives until both completions are reaped below; fds are valid or
    // deliberately invalid (-1), which the kernel rejects without touching memory.
    unsafe {
        let sqe = io_uring_get_sqe(ring.raw());
        io_uring_prep_read(sqe, file.as_raw_fd(), buf.as_mut_ptr().cast(), 16, 3);
        io_uring_sqe_set_data64(sqe, 1);
        let sqe = io_uring_get_sqe(ring.raw());
        io_uring_prep_read(sqe, -1, buf.as_mut_ptr().cast(), 16, 0);
        io_uring_sqe_set_data64(sqe, 2);
        assert_eq!(io_uring_submit(ring.raw()), 2);
    }
    let mut results = [ring.wait(), ring.wait()];
    results.sort();
    assert_eq!((results[0].0, results[0].1), (1, 0), "read at EOF");
    assert_eq!(
        (results[1].0, results[1].1),
        (2, -libc::EBADF),
        "read of fd -1"
    );
}

#[test]
fn probe_reports_nop_and_read_supported() {
    let mut ring = Ring::new(2);
    // SAFETY: the probe is allocated by liburing, only read, and freed exactly once.
    unsafe {
        let probe = io_uring_get_probe_ring(ring.raw());
        assert!(!probe.is_null(), "io_uring_get_probe_ring failed");
        assert!((*probe).last_op as u32 >= IORING_OP_READ);
        assert_eq!(io_uring_opcode_supported(probe, IORING_OP_NOP as i32), 1);
        assert_eq!(io_uring_opcode_supported(probe, IORING_OP_READ as i32), 1);
        // An opcode number beyond anything the kernel knows is not supported.
        assert_eq!(io_uring_opcode_supported(probe, 255), 0);
        io_uring_free_probe(probe);

        // The ring-less form agrees.
        let probe2 = io_uring_get_probe();
        assert!(!probe2.is_null());
        assert_eq!(io_uring_opcode_supported(probe2, IORING_OP_READ as i32), 1);
        io_uring_free_probe(probe2);
    }
}

#[test]
fn linked_version_matches_the_build() {
    // SAFETY: plain getters.
    let (major, minor) = unsafe { (io_uring_major_version(), io_uring_minor_version()) };
    assert_eq!(
        (major as u32, minor as u32),
        (LIBURING_VERSION_MAJOR, LIBURING_VERSION_MINOR)
    );
    if LIBURING_VENDORED {
        assert_eq!((major, minor), (2, 15), "the vendored liburing is 2.15");
    }
    // CI runs this suite against system copies and says which version it expects.
    if let Ok(want) = std::env::var("URING_EXPECT_LIBURING_VERSION") {
        assert_eq!(format!("{major}.{minor}"), want, "linked liburing version");
    }
    // io_uring_check_version(M, m) is true when the library is *older* than M.m
    // (2.6 on; 2.4 and 2.5 also say true when it *is* M.m). Asked about 2.3, both
    // answer false for any library >= 2.4.
    // SAFETY: plain queries.
    unsafe {
        assert!(
            !io_uring_check_version(2, 3),
            "liburing-sys requires >= 2.4"
        );
        assert!(
            io_uring_check_version(major, minor + 1),
            "the library claims a newer version"
        );
    }
}

#[cfg(liburing_2_5)]
#[test]
fn a_2_5_function_is_declared_when_linked_at_least_2_5() {
    // io_uring_queue_init_mem arrived in liburing 2.5's map; calling it with a tiny
    // buffer must fail cleanly rather than fail to link.
    let mut ring: MaybeUninit<io_uring> = MaybeUninit::zeroed();
    let mut params: io_uring_params = Default::default();
    let mut mem = [0u8; 64];
    // SAFETY: the buffer is valid for its length; liburing rejects it as too small
    // (or the kernel lacks NO_MMAP), and on failure the ring needs no teardown.
    let ret = unsafe {
        io_uring_queue_init_mem(
            8,
            ring.as_mut_ptr(),
            &mut params,
            mem.as_mut_ptr().cast(),
            mem.len(),
        )
    };
    if ret >= 0 {
        // SAFETY: it did initialise; tear it down.
        unsafe { io_uring_queue_exit(ring.as_mut_ptr()) };
        panic!("a 64-byte ring memory area was accepted");
    }
    assert!(ret == -libc::ENOMEM || ret == -libc::EINVAL, "got {ret}");
}

#[test]
fn struct_sizes_match_the_kernel_abi() {
    assert_eq!(std::mem::size_of::<io_uring_sqe>(), 64);
    assert_eq!(std::mem::size_of::<io_uring_cqe>(), 16);
    assert_eq!(std::mem::size_of::<io_uring_params>(), 120);
    assert_eq!(std::mem::size_of::<io_uring_probe_op>(), 8);
    assert_eq!(IORING_OP_NOP, 0);
    assert_eq!(IORING_OP_READ, 22);
    assert_eq!(IORING_OP_URING_CMD128, 64);
    assert_eq!(IORING_OP_LAST, 65);
}

fn tempfile(tag: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("liburing-sys-{tag}-{}", std::process::id()));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}
