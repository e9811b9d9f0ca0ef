//! `uring-probe`: which io_uring operations this kernel supports, then one NOP.

use liburing_sys as sys;
use std::process::ExitCode;

fn kernel_release() -> String {
    // SAFETY: `utsname` is plain old data; uname fills it and NUL-terminates `release`.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

fn nop() -> Result<i32, std::io::Error> {
    // SAFETY: the ring is initialised by io_uring_queue_init before any other use and
    // torn down exactly once; the SQE and CQE pointers come from liburing for that ring
    // and are used before the queue is advanced past them.
    unsafe {
        let mut ring: sys::io_uring = std::mem::zeroed();
        let ret = sys::io_uring_queue_init(1, &mut ring, 0);
        if ret < 0 {
            return Err(std::io::Error::from_raw_os_error(-ret));
        }
        let sqe = sys::io_uring_get_sqe(&mut ring);
        sys::io_uring_prep_nop(sqe);
        let mut res = sys::io_uring_submit(&mut ring);
        let mut cqe = std::ptr::null_mut();
        if res >= 0 {
            res = sys::io_uring_wait_cqe(&mut ring, &mut cqe);
        }
        let out = if res < 0 {
            Err(std::io::Error::from_raw_os_error(-res))
        } else {
            let r = (*cqe).res;
            sys::io_uring_cqe_seen(&mut ring, cqe);
            Ok(r)
        };
        sys::io_uring_queue_exit(&mut ring);
        out
    }
}

fn main() -> ExitCode {
    println!("io_uring on Kernel {}", kernel_release());
    match nop() {
        Ok(res) => {
            println!("Nop completed with {res}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("uring-probe: io_uring is not usable here: {e}");
            ExitCode::from(3)
        }
    }
}
