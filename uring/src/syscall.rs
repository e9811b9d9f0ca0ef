//! The raw `io_uring_enter(2)` system call, entered inline.
//!
//! On x86_64 (`syscall`) and aarch64 (`svc #0`) this is one instruction in the
//! caller's code (no call into liburing or libc, and `errno` is never touched),
//! which is what lets a submit cost less than C liburing's out-of-line
//! `io_uring_submit`. Elsewhere it is `libc::syscall`.

use core::ffi::c_void;
use std::io;

/// `io_uring_enter(fd, to_submit, min_complete, flags, arg, argsz)`.
///
/// Returns the kernel's result: the number of entries consumed, or the errno.
///
/// # Safety
///
/// `arg`/`argsz` must be what `flags` says they are (null/0, a sigset, an
/// `io_uring_getevents_arg`, or an offset into a registered wait region), and the
/// submission queue entries the kernel will consume must name memory and
/// descriptors that stay valid until their operations complete.
#[inline(always)]
pub(crate) unsafe fn io_uring_enter(
    fd: i32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> io::Result<u32> {
    // SAFETY: forwarded from this function's contract.
    let ret = unsafe { raw_enter(fd, to_submit, min_complete, flags, arg, argsz) };
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret as i32))
    } else {
        Ok(ret as u32)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn raw_enter(
    fd: i32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 Linux syscall ABI: number in rax, arguments in rdi, rsi,
    // rdx, r10, r8, r9; the kernel clobbers rcx and r11 and returns in rax. It does
    // not touch the user stack, and rflags is restored from r11 on return. The
    // asm is not `nomem`: the kernel reads the SQEs and ring indices we wrote and
    // writes CQEs, so the compiler must treat it as reading and writing memory.
    // The arguments' meaning is the caller's contract.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") libc::SYS_io_uring_enter as isize => ret,
            in("rdi") fd as u32 as usize,
            in("rsi") to_submit as usize,
            in("rdx") min_complete as usize,
            in("r10") flags as usize,
            in("r8") arg,
            in("r9") argsz,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, preserves_flags),
        );
    }
    ret
}

#[cfg(target_arch = "aarch64")]
#[inline(always)]
unsafe fn raw_enter(
    fd: i32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> isize {
    let ret: isize;
    // SAFETY: the arm64 Linux syscall ABI: number in x8, arguments in x0..x5, the
    // result in x0; `svc #0` preserves every other general-purpose and SIMD
    // register, the stack and NZCV (restored from SPSR on return). As on x86_64
    // the asm is not `nomem`: the kernel reads the SQEs and indices we wrote and
    // writes CQEs. Memory ordering needs no barrier here: the kernel runs on
    // this thread, after our stores in program order, and publishes what
    // other threads (SQPOLL, io-wq) write with its own release stores. The
    // arguments' meaning is the caller's contract.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") libc::SYS_io_uring_enter as usize,
            inlateout("x0") fd as u32 as usize => ret,
            in("x1") to_submit as usize,
            in("x2") min_complete as usize,
            in("x3") flags as usize,
            in("x4") arg,
            in("x5") argsz,
            options(nostack, preserves_flags),
        );
    }
    ret
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
#[inline(always)]
unsafe fn raw_enter(
    fd: i32,
    to_submit: u32,
    min_complete: u32,
    flags: u32,
    arg: *const c_void,
    argsz: usize,
) -> isize {
    // SAFETY: io_uring_enter with the six arguments it takes, each passed as the
    // register-sized integer the kernel reads; meaning is the caller's contract.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_io_uring_enter,
            fd as libc::c_long,
            to_submit as libc::c_long,
            min_complete as libc::c_long,
            flags as libc::c_long,
            arg,
            argsz,
        )
    };
    if ret < 0 {
        -(io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO) as isize)
    } else {
        ret as isize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_fd_gives_ebadf() {
        // SAFETY: fd -1 is never a ring; nothing is submitted and no argument is read.
        let err = unsafe { io_uring_enter(-1, 0, 0, 0, core::ptr::null(), 0) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    }

    /// The inline path is a bare system call: it leaves `errno` alone, where the
    /// `libc::syscall` fallback would set it to EBADF.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn inline_enter_leaves_errno_alone() {
        // SAFETY: __errno_location returns this thread's errno, valid for its life.
        let errno = unsafe { &mut *libc::__errno_location() };
        *errno = 0;
        // SAFETY: fd -1 is never a ring; nothing is submitted and no argument is read.
        let err = unsafe { io_uring_enter(-1, 0, 0, 0, core::ptr::null(), 0) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EBADF));
        // SAFETY: as above.
        assert_eq!(unsafe { *libc::__errno_location() }, 0, "errno was written");
        // The same call through libc does set it: the check above can tell them apart.
        // SAFETY: as above, through libc's wrapper.
        let r = unsafe { libc::syscall(libc::SYS_io_uring_enter, -1, 0, 0, 0, 0usize, 0usize) };
        assert_eq!(r, -1);
        // SAFETY: as above.
        assert_eq!(unsafe { *libc::__errno_location() }, libc::EBADF);
    }

    /// Every argument register reaches the kernel: with `IORING_ENTER_EXT_ARG` an
    /// `argsz` one word too long is refused with EINVAL and the right one accepted
    /// (the kernel read the fifth and sixth arguments), and a GETEVENTS wait for one
    /// completion returns the NOP's.
    #[test]
    fn arguments_reach_the_kernel() {
        use std::os::fd::AsRawFd;
        let mut ring = crate::Ring::new(4).unwrap();
        let fd = ring.as_raw_fd();
        let ext_arg = ring.features().contains(crate::Features::EXT_ARG);
        // SAFETY: an all-zero SQE is a valid value of this plain C struct.
        let mut raw: crate::sys::io_uring_sqe = unsafe { core::mem::zeroed() };
        // SAFETY: `raw` is a valid SQE to fill.
        unsafe { crate::sys::io_uring_prep_nop(&mut raw) };
        raw.user_data = 0x5eed;
        let nop = crate::sqe::Sqe::from_raw(raw);
        // SAFETY: a NOP names no memory and no file.
        unsafe { ring.submission().push(&nop) }.unwrap();
        ring.submit().unwrap();
        if ext_arg {
            // A getevents_arg with no sigmask and no timeout.
            let arg = crate::sys::io_uring_getevents_arg::default();
            let flags = crate::sys::IORING_ENTER_GETEVENTS | crate::sys::IORING_ENTER_EXT_ARG;
            let ptr = (&arg as *const crate::sys::io_uring_getevents_arg).cast();
            let size = core::mem::size_of_val(&arg);
            // SAFETY: `arg` is a valid io_uring_getevents_arg alive for the call; the
            // kernel refuses the wrong size before reading it.
            let err = unsafe { io_uring_enter(fd, 0, 1, flags, ptr, size + 8) }.unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            assert_eq!(
                // SAFETY: as above, with the right size: it waits for the NOP's completion.
                unsafe { io_uring_enter(fd, 0, 1, flags, ptr, size) }.unwrap(),
                0
            );
        } else {
            println!("skipped: IORING_FEAT_EXT_ARG missing (needs 5.11): only the plain wait");
        }
        // SAFETY: plain GETEVENTS wait, no argument.
        let n = unsafe {
            io_uring_enter(
                fd,
                0,
                1,
                crate::sys::IORING_ENTER_GETEVENTS,
                core::ptr::null(),
                0,
            )
        }
        .unwrap();
        assert_eq!(n, 0);
        let cqe = ring.completion().next().expect("the NOP completed");
        assert_eq!((cqe.user_data(), cqe.result().unwrap()), (0x5eed, 0));
    }

    #[test]
    fn non_ring_fd_gives_eopnotsupp() {
        let f = std::fs::File::open("/dev/null").unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: /dev/null is not an io_uring; the kernel refuses before reading anything.
        let err =
            unsafe { io_uring_enter(f.as_raw_fd(), 0, 0, 0, core::ptr::null(), 0) }.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EOPNOTSUPP));
    }
}
