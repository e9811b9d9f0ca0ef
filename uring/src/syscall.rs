//! The raw `io_uring_enter(2)` system call, entered inline.
//!
//! On x86_64 this is a `syscall` instruction in the caller's code (no call into
//! liburing or libc), which is what lets a submit cost less than C liburing's
//! out-of-line `io_uring_submit`. Elsewhere it is `libc::syscall`.

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

#[cfg(not(target_arch = "x86_64"))]
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
