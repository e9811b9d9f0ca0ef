//! `RecvMsg`'s walk of the control messages the kernel (and, through it, the
//! peer) wrote: on any bytes it must stay inside the buffer, end, and take as
//! descriptors only the 4-byte words of `SCM_RIGHTS`/`SCM_PIDFD` payloads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|control: &[u8]| {
    let fds = uring::__fuzz::recvmsg_control_fds(control);
    let hdr = std::mem::size_of::<libc_cmsghdr>();
    // Every descriptor word comes after a header, so there are at most this many.
    assert!(fds.len() <= control.len().saturating_sub(hdr) / 4);
    assert!(fds.iter().all(|&fd| fd >= 0));
    // Only words of the buffer: each number occurs in it, 4-aligned.
    for fd in &fds {
        let w = fd.to_ne_bytes();
        assert!(control.chunks_exact(4).any(|c| c == w));
    }
});

/// `struct cmsghdr` on 64-bit Linux: `size_t cmsg_len; int cmsg_level; int cmsg_type;`.
#[allow(dead_code)]
#[repr(C)]
struct libc_cmsghdr {
    len: usize,
    level: i32,
    ty: i32,
}
