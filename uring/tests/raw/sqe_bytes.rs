//! Every opcode builder, and every variant of it, against liburing's own prep helper:
//! the Rust-built entry and the one the C helper writes into a zeroed `io_uring_sqe`
//! must be identical, all 64 (or 128) bytes.
//!
//! Arguments are distinctive values (no two fields alike, no zero bytes where
//! possible) so that a value written to the wrong field shows up. Pointers are never
//! dereferenced: the entries are compared, not submitted.
//!
//! The comparison is against liburing 2.15 exactly, so it needs the vendored build
//! (which also declares the 14 helpers missing from liburing's `liburing-ffi.map`).
#![cfg(feature = "vendored")]

use core::ffi::{c_char, c_void};
use std::mem::MaybeUninit;

use uring::op::*;
use uring::sqe::{Sqe, Sqe128, SqeFlags};
use uring::sys;
use uring::types::*;

const FD: i32 = 0x1d2c;
const FD2: i32 = 0x3e4f;
const LEN: u32 = 0x0506_0708;
const OFF: u64 = 0x0a0b_0c0d_0e0f_1011;
const U64A: u64 = 0x2122_2324_2526_2728;
const U64B: u64 = 0x3132_3334_3536_3738;
const FLAGS: u32 = 0x4142_4344;

// liburing.h defines these as shifts, which bindgen does not carry over.
const IOSQE_FIXED_FILE: u32 = 1 << sys::IOSQE_FIXED_FILE_BIT;
const IOSQE_IO_LINK: u32 = 1 << sys::IOSQE_IO_LINK_BIT;
const IOSQE_ASYNC: u32 = 1 << sys::IOSQE_ASYNC_BIT;
const IOSQE_BUFFER_SELECT: u32 = 1 << sys::IOSQE_BUFFER_SELECT_BIT;

/// A pointer value that is never dereferenced.
fn ptr<T>(n: usize) -> *mut T {
    (0x7f00_1111_2222_0000usize + n * 0x100) as *mut T
}

fn bytes64(sqe: &sys::io_uring_sqe) -> [u8; 64] {
    // SAFETY: io_uring_sqe is 64 bytes of plain integers; the entries compared here
    // were built from zeroed memory by field writes, so every byte is initialised.
    unsafe { core::mem::transmute_copy::<sys::io_uring_sqe, [u8; 64]>(sqe) }
}

fn rust_bytes(sqe: &Sqe) -> [u8; 64] {
    bytes64(sqe.as_raw())
}

fn rust_bytes128(sqe: &Sqe128) -> [u8; 128] {
    let mut out = [0u8; 128];
    out[..64].copy_from_slice(&bytes64(sqe.as_raw()));
    out[64..].copy_from_slice(sqe.cmd());
    out
}

/// Runs a liburing prep helper on a zeroed entry and returns its bytes.
fn c_bytes(prep: impl FnOnce(*mut sys::io_uring_sqe)) -> [u8; 64] {
    let mut sqe = MaybeUninit::<sys::io_uring_sqe>::zeroed();
    prep(sqe.as_mut_ptr());
    // SAFETY: zeroed is a valid io_uring_sqe (plain integers) and the helper only
    // wrote integer fields.
    bytes64(unsafe { sqe.assume_init_ref() })
}

/// Names the bytes that differ, with the field they belong to.
fn field_at(offset: usize) -> &'static str {
    match offset {
        0 => "opcode",
        1 => "flags",
        2..=3 => "ioprio",
        4..=7 => "fd",
        8..=15 => "off/addr2/cmd_op",
        16..=23 => "addr/splice_off_in/level+optname",
        24..=27 => "len",
        28..=31 => "op flags",
        32..=39 => "user_data",
        40..=41 => "buf_index/buf_group",
        42..=43 => "personality",
        44..=47 => "file_index/splice_fd_in/optlen/addr_len",
        48..=55 => "addr3/optval/cmd",
        56..=63 => "__pad2/cmd",
        _ => "cmd (second half of a 128-byte entry)",
    }
}

fn assert_same(what: &str, rust: &[u8], c: &[u8]) {
    let diffs: Vec<String> = rust
        .iter()
        .zip(c)
        .enumerate()
        .filter(|(_, (r, c))| r != c)
        .map(|(i, (r, c))| format!("byte {i} ({}): rust {r:#04x}, C {c:#04x}", field_at(i)))
        .collect();
    assert!(
        diffs.is_empty(),
        "{what}: the Rust builder and liburing disagree:\n  {}",
        diffs.join("\n  ")
    );
}

/// `same!(rust_sqe, |sqe| liburing_helper(sqe, ...))`: compare all 64 bytes.
macro_rules! same {
    ($rust:expr, |$s:ident| $c:expr) => {{
        let rust: Sqe = $rust;
        // SAFETY: the prep helpers only store into the entry they are given, which
        // is a valid, exclusively owned, zeroed io_uring_sqe; pointer arguments are
        // stored as numbers, never dereferenced.
        #[allow(unused_braces)]
        let c = c_bytes(|$s| unsafe { $c });
        assert_same(stringify!($c), &rust_bytes(&rust), &c);
    }};
}

#[test]
fn nop() {
    same!(Nop::new().build(), |s| sys::io_uring_prep_nop(s));
    // No helper for injected results: nop plus the two fields the kernel reads.
    same!(Nop::new().inject_result(Some(-libc::EBADFD)).build(), |s| {
        sys::io_uring_prep_nop(s);
        (*s).len = (-libc::EBADFD) as u32;
        (*s).__bindgen_anon_3.nop_flags = sys::IORING_NOP_INJECT_RESULT;
    });
    same!(Nop::new().cqe32(true).build(), |s| {
        sys::io_uring_prep_nop(s);
        (*s).__bindgen_anon_3.nop_flags = sys::IORING_NOP_CQE32;
    });
    // The SQE-level setters, against liburing's.
    same!(
        Nop::new()
            .build()
            .user_data(U64A)
            .flags(SqeFlags::IO_LINK | SqeFlags::ASYNC)
            .personality(0x5a5b),
        |s| {
            sys::io_uring_prep_nop(s);
            sys::io_uring_sqe_set_data64(s, U64A);
            sys::io_uring_sqe_set_flags(s, IOSQE_IO_LINK | IOSQE_ASYNC);
            (*s).personality = 0x5a5b;
        }
    );
    same!(Nop::new().build().buf_group(0x6a6b), |s| {
        sys::io_uring_prep_nop(s);
        sys::io_uring_sqe_set_buf_group(s, 0x6a6b);
        (*s).flags = IOSQE_BUFFER_SELECT as u8;
    });
}

#[test]
fn nop128() {
    let rust = Nop128::new().build();
    let mut c = [
        MaybeUninit::<sys::io_uring_sqe>::zeroed(),
        MaybeUninit::zeroed(),
    ];
    // SAFETY: the helper writes into the first of two zeroed entries it owns.
    unsafe { sys::io_uring_prep_nop128(c[0].as_mut_ptr()) };
    // SAFETY: both entries are zeroed plain integers, the first partly overwritten.
    let c: [u8; 128] = unsafe { core::mem::transmute(c) };
    assert_same("io_uring_prep_nop128", &rust_bytes128(&rust), &c);

    let rust = Nop128::new().inject_result(Some(7)).build().user_data(U64B);
    let mut c = [
        MaybeUninit::<sys::io_uring_sqe>::zeroed(),
        MaybeUninit::zeroed(),
    ];
    // SAFETY: as above.
    unsafe {
        let s = c[0].as_mut_ptr();
        sys::io_uring_prep_nop128(s);
        (*s).len = 7;
        (*s).__bindgen_anon_3.nop_flags = sys::IORING_NOP_INJECT_RESULT;
        sys::io_uring_sqe_set_data64(s, U64B);
    }
    // SAFETY: as above.
    let c: [u8; 128] = unsafe { core::mem::transmute(c) };
    assert_same("nop128 inject", &rust_bytes128(&rust), &c);
}

#[test]
fn read_write() {
    same!(Read::new(Fd(FD), ptr(1), LEN).offset(OFF).build(), |s| {
        sys::io_uring_prep_read(s, FD, ptr(1), LEN, OFF)
    });
    same!(Read::new(Fixed(9), ptr(1), LEN).build(), |s| {
        sys::io_uring_prep_read(s, 9, ptr(1), LEN, 0);
        (*s).flags = IOSQE_FIXED_FILE as u8;
    });
    same!(
        Read::new(Fd(FD), core::ptr::null_mut(), LEN)
            .buf_group(Some(0x7172))
            .ioprio(0x33)
            .rw_flags(0x44)
            .build(),
        |s| {
            sys::io_uring_prep_read(s, FD, core::ptr::null_mut(), LEN, 0);
            sys::io_uring_sqe_set_buf_group(s, 0x7172);
            (*s).flags = IOSQE_BUFFER_SELECT as u8;
            (*s).ioprio = 0x33;
            (*s).__bindgen_anon_3.rw_flags = 0x44;
        }
    );
    same!(Write::new(Fd(FD), ptr(2), LEN).offset(OFF).build(), |s| {
        sys::io_uring_prep_write(s, FD, ptr(2), LEN, OFF)
    });
    same!(Readv::new(Fd(FD), ptr(3), 3).offset(OFF).build(), |s| {
        sys::io_uring_prep_readv(s, FD, ptr(3), 3, OFF)
    });
    same!(
        Readv::new(Fd(FD), ptr(3), 3)
            .offset(OFF)
            .rw_flags(libc::RWF_HIPRI)
            .build(),
        |s| sys::io_uring_prep_readv2(s, FD, ptr(3), 3, OFF, libc::RWF_HIPRI)
    );
    same!(Writev::new(Fd(FD), ptr(4), 4).offset(OFF).build(), |s| {
        sys::io_uring_prep_writev(s, FD, ptr(4), 4, OFF)
    });
    same!(
        Writev::new(Fd(FD), ptr(4), 4)
            .offset(OFF)
            .rw_flags(libc::RWF_DSYNC)
            .build(),
        |s| sys::io_uring_prep_writev2(s, FD, ptr(4), 4, OFF, libc::RWF_DSYNC)
    );
    same!(
        ReadFixed::new(Fd(FD), ptr(5), LEN, 0x1516)
            .offset(OFF)
            .build(),
        |s| sys::io_uring_prep_read_fixed(s, FD, ptr(5), LEN, OFF, 0x1516)
    );
    same!(
        WriteFixed::new(Fd(FD), ptr(6), LEN, 0x1617)
            .offset(OFF)
            .build(),
        |s| sys::io_uring_prep_write_fixed(s, FD, ptr(6), LEN, OFF, 0x1617)
    );
    same!(
        ReadvFixed::new(Fd(FD), ptr(7), 5, 0x1718)
            .offset(OFF)
            .rw_flags(0x29)
            .build(),
        |s| sys::io_uring_prep_readv_fixed(s, FD, ptr(7), 5, OFF, 0x29, 0x1718)
    );
    same!(
        WritevFixed::new(Fd(FD), ptr(8), 6, 0x1819)
            .offset(OFF)
            .rw_flags(0x2a)
            .build(),
        |s| sys::io_uring_prep_writev_fixed(s, FD, ptr(8), 6, OFF, 0x2a, 0x1819)
    );
    same!(
        ReadMultishot::new(Fd(FD), LEN, 0x1a1b).offset(OFF).build(),
        |s| sys::io_uring_prep_read_multishot(s, FD, LEN, OFF, 0x1a1b)
    );
}

#[test]
fn splice_tee() {
    same!(
        Splice::new(Fd(FD), 0x1234_5678_9abc, Fd(FD2), -1, LEN)
            .flags(libc::SPLICE_F_MOVE)
            .build(),
        |s| sys::io_uring_prep_splice(s, FD, 0x1234_5678_9abc, FD2, -1, LEN, libc::SPLICE_F_MOVE)
    );
    same!(
        Splice::new(Fixed(3), -1, Fixed(4), 0x77, LEN).build(),
        |s| {
            sys::io_uring_prep_splice(s, 3, -1, 4, 0x77, LEN, sys::SPLICE_F_FD_IN_FIXED);
            (*s).flags = IOSQE_FIXED_FILE as u8;
        }
    );
    same!(
        Tee::new(Fd(FD), Fd(FD2), LEN)
            .flags(libc::SPLICE_F_NONBLOCK)
            .build(),
        |s| sys::io_uring_prep_tee(s, FD, FD2, LEN, libc::SPLICE_F_NONBLOCK)
    );
}

#[test]
fn file_ops() {
    same!(
        Fsync::new(Fd(FD)).flags(FsyncFlags::DATASYNC).build(),
        |s| sys::io_uring_prep_fsync(s, FD, sys::IORING_FSYNC_DATASYNC)
    );
    same!(Fsync::new(Fd(FD)).offset(OFF).len(LEN).build(), |s| {
        sys::io_uring_prep_fsync(s, FD, 0);
        (*s).__bindgen_anon_1.off = OFF;
        (*s).len = LEN;
    });
    same!(
        SyncFileRange::new(Fd(FD), LEN).offset(OFF).flags(7).build(),
        |s| sys::io_uring_prep_sync_file_range(s, FD, LEN, OFF, 7)
    );
    same!(
        Fallocate::new(Fd(FD), U64A)
            .offset(OFF)
            .mode(libc::FALLOC_FL_KEEP_SIZE)
            .build(),
        |s| sys::io_uring_prep_fallocate(s, FD, libc::FALLOC_FL_KEEP_SIZE, OFF, U64A)
    );
    same!(Ftruncate::new(Fd(FD), OFF).build(), |s| {
        sys::io_uring_prep_ftruncate(s, FD, OFF as i64)
    });
    same!(
        Fadvise::new(Fd(FD), LEN, libc::POSIX_FADV_DONTNEED)
            .offset(OFF)
            .build(),
        |s| sys::io_uring_prep_fadvise(s, FD, OFF, LEN, libc::POSIX_FADV_DONTNEED)
    );
    same!(
        Fadvise::new(Fd(FD), 0, libc::POSIX_FADV_WILLNEED)
            .offset(OFF)
            .len64(Some(U64A))
            .build(),
        |s| sys::io_uring_prep_fadvise64(s, FD, OFF, U64A as i64, libc::POSIX_FADV_WILLNEED)
    );
    same!(
        Madvise::new(ptr(1), LEN, libc::MADV_DONTNEED).build(),
        |s| sys::io_uring_prep_madvise(s, ptr(1), LEN, libc::MADV_DONTNEED)
    );
    same!(
        Madvise::new(ptr(1), 0, libc::MADV_WILLNEED)
            .len64(Some(U64B))
            .build(),
        |s| sys::io_uring_prep_madvise64(s, ptr(1), U64B as i64, libc::MADV_WILLNEED)
    );
}

#[test]
fn open_close() {
    let path: *const c_char = ptr(1);
    let flags = libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC;
    same!(
        OpenAt::new(Fd(FD), path).flags(flags).mode(0o640).build(),
        |s| sys::io_uring_prep_openat(s, FD, path, flags, 0o640)
    );
    same!(
        OpenAt::new(Fd::CWD, path).flags(flags).mode(0o600).build(),
        |s| sys::io_uring_prep_open(s, path, flags, 0o600)
    );
    same!(
        OpenAt::new(Fd(FD), path)
            .flags(flags)
            .file_index(DestinationSlot::index(0x2b))
            .build(),
        |s| sys::io_uring_prep_openat_direct(s, FD, path, flags, 0, 0x2b)
    );
    same!(
        OpenAt::new(Fd::CWD, path)
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| sys::io_uring_prep_open_direct(s, path, 0, 0, sys::IORING_FILE_INDEX_ALLOC as u32)
    );
    let how: *const sys::open_how = ptr(2);
    same!(OpenAt2::new(Fd(FD), path, how).build(), |s| {
        sys::io_uring_prep_openat2(s, FD, path, how)
    });
    same!(
        OpenAt2::new(Fd(FD), path, how)
            .file_index(DestinationSlot::index(5))
            .build(),
        |s| sys::io_uring_prep_openat2_direct(s, FD, path, how, 5)
    );
    same!(
        OpenAt2::new(Fd(FD), path, how)
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| sys::io_uring_prep_openat2_direct(
            s,
            FD,
            path,
            how,
            sys::IORING_FILE_INDEX_ALLOC as u32
        )
    );
    same!(Close::new(Fd(FD)).build(), |s| sys::io_uring_prep_close(
        s, FD
    ));
    same!(Close::new(Fixed(0x2c)).build(), |s| {
        sys::io_uring_prep_close_direct(s, 0x2c)
    });
}

#[test]
fn paths() {
    let (p1, p2): (*const c_char, *const c_char) = (ptr(1), ptr(2));
    same!(
        Statx::new(Fd(FD), p1, ptr(3))
            .flags(libc::AT_SYMLINK_NOFOLLOW)
            .mask(libc::STATX_SIZE | libc::STATX_MODE)
            .build(),
        |s| sys::io_uring_prep_statx(
            s,
            FD,
            p1,
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_SIZE | libc::STATX_MODE,
            ptr(3)
        )
    );
    same!(
        RenameAt::new(Fd(FD), p1, Fd(FD2), p2)
            .flags(libc::RENAME_NOREPLACE)
            .build(),
        |s| sys::io_uring_prep_renameat(s, FD, p1, FD2, p2, libc::RENAME_NOREPLACE)
    );
    same!(RenameAt::new(Fd::CWD, p1, Fd::CWD, p2).build(), |s| {
        sys::io_uring_prep_rename(s, p1, p2)
    });
    same!(
        UnlinkAt::new(Fd(FD), p1).flags(libc::AT_REMOVEDIR).build(),
        |s| sys::io_uring_prep_unlinkat(s, FD, p1, libc::AT_REMOVEDIR)
    );
    same!(UnlinkAt::new(Fd::CWD, p1).build(), |s| {
        sys::io_uring_prep_unlink(s, p1, 0)
    });
    same!(MkDirAt::new(Fd(FD), p1).mode(0o751).build(), |s| {
        sys::io_uring_prep_mkdirat(s, FD, p1, 0o751)
    });
    same!(MkDirAt::new(Fd::CWD, p1).mode(0o700).build(), |s| {
        sys::io_uring_prep_mkdir(s, p1, 0o700)
    });
    same!(SymlinkAt::new(Fd(FD), p1, p2).build(), |s| {
        sys::io_uring_prep_symlinkat(s, p1, FD, p2)
    });
    same!(SymlinkAt::new(Fd::CWD, p1, p2).build(), |s| {
        sys::io_uring_prep_symlink(s, p1, p2)
    });
    same!(
        LinkAt::new(Fd(FD), p1, Fd(FD2), p2)
            .flags(libc::AT_SYMLINK_FOLLOW)
            .build(),
        |s| sys::io_uring_prep_linkat(s, FD, p1, FD2, p2, libc::AT_SYMLINK_FOLLOW)
    );
    same!(
        LinkAt::new(Fd::CWD, p1, Fd::CWD, p2).flags(0x400).build(),
        |s| sys::io_uring_prep_link(s, p1, p2, 0x400)
    );
}

#[test]
fn xattrs() {
    let (name, value, path): (*const c_char, *mut c_char, *const c_char) = (ptr(1), ptr(2), ptr(3));
    same!(
        FSetXattr::new(Fd(FD), name, value as *const c_void, LEN)
            .flags(libc::XATTR_CREATE)
            .build(),
        |s| sys::io_uring_prep_fsetxattr(s, FD, name, value, libc::XATTR_CREATE, LEN)
    );
    same!(
        SetXattr::new(path, name, value as *const c_void, LEN)
            .flags(libc::XATTR_REPLACE)
            .build(),
        |s| sys::io_uring_prep_setxattr(s, name, value, path, libc::XATTR_REPLACE, LEN)
    );
    same!(
        FGetXattr::new(Fd(FD), name, value as *mut c_void, LEN).build(),
        |s| sys::io_uring_prep_fgetxattr(s, FD, name, value, LEN)
    );
    same!(
        GetXattr::new(path, name, value as *mut c_void, LEN).build(),
        |s| sys::io_uring_prep_getxattr(s, name, value, path, LEN)
    );
}

#[test]
fn pipe_files_fixed() {
    let fds: *mut [i32; 2] = ptr(1);
    same!(Pipe::new(fds).flags(libc::O_CLOEXEC).build(), |s| {
        sys::io_uring_prep_pipe(s, fds.cast(), libc::O_CLOEXEC)
    });
    same!(
        Pipe::new(fds)
            .flags(libc::O_NONBLOCK)
            .file_index(DestinationSlot::index(0x30))
            .build(),
        |s| sys::io_uring_prep_pipe_direct(s, fds.cast(), libc::O_NONBLOCK, 0x30)
    );
    same!(
        Pipe::new(fds)
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| sys::io_uring_prep_pipe_direct(s, fds.cast(), 0, sys::IORING_FILE_INDEX_ALLOC as u32)
    );
    same!(FilesUpdate::new(ptr(2), 9).offset(0x31).build(), |s| {
        sys::io_uring_prep_files_update(s, ptr(2), 9, 0x31)
    });
    same!(
        FilesUpdate::new(ptr(2), 9)
            .offset(sys::IORING_FILE_INDEX_ALLOC)
            .build(),
        |s| sys::io_uring_prep_files_update(s, ptr(2), 9, sys::IORING_FILE_INDEX_ALLOC)
    );
    same!(FixedFdInstall::new(Fixed(0x32)).build(), |s| {
        sys::io_uring_prep_fixed_fd_install(s, 0x32, 0)
    });
    same!(
        FixedFdInstall::new(Fixed(0x33))
            .flags(sys::IORING_FIXED_FD_NO_CLOEXEC)
            .build(),
        |s| sys::io_uring_prep_fixed_fd_install(s, 0x33, sys::IORING_FIXED_FD_NO_CLOEXEC)
    );
}

#[test]
fn poll() {
    let mask = (libc::POLLIN | libc::POLLPRI) as u32 | 0x0100_0000;
    same!(PollAdd::new(Fd(FD), mask).build(), |s| {
        sys::io_uring_prep_poll_add(s, FD, mask)
    });
    same!(PollAdd::new(Fd(FD), mask).multi(true).build(), |s| {
        sys::io_uring_prep_poll_multishot(s, FD, mask)
    });
    same!(PollRemove::new(U64A).build(), |s| {
        sys::io_uring_prep_poll_remove(s, U64A)
    });
    same!(
        PollRemove::new(U64A)
            .update_user_data(Some(U64B))
            .update_events(Some(mask))
            .build(),
        |s| sys::io_uring_prep_poll_update(
            s,
            U64A,
            U64B,
            mask,
            sys::IORING_POLL_UPDATE_EVENTS | sys::IORING_POLL_UPDATE_USER_DATA
        )
    );
    same!(
        PollRemove::new(U64A)
            .update_events(Some(mask))
            .multi(true)
            .build(),
        |s| sys::io_uring_prep_poll_update(
            s,
            U64A,
            0,
            mask,
            sys::IORING_POLL_UPDATE_EVENTS | sys::IORING_POLL_ADD_MULTI
        )
    );
    same!(
        EpollCtl::new(Fd(FD), FD2, libc::EPOLL_CTL_MOD, ptr(1)).build(),
        |s| sys::io_uring_prep_epoll_ctl(s, FD, FD2, libc::EPOLL_CTL_MOD, ptr(1))
    );
    same!(
        EpollCtl::new(Fd(FD), -1, libc::EPOLL_CTL_DEL, core::ptr::null()).build(),
        |s| sys::io_uring_prep_epoll_ctl(s, FD, -1, libc::EPOLL_CTL_DEL, core::ptr::null())
    );
    same!(
        EpollWait::new(Fd(FD), ptr(2), 0x34).flags(0x35).build(),
        |s| sys::io_uring_prep_epoll_wait(s, FD, ptr(2), 0x34, 0x35)
    );
}

#[test]
fn timeouts() {
    let ts: *const Timespec = ptr(1);
    let cts = ts as *const sys::__kernel_timespec;
    same!(
        Timeout::new(ts)
            .count(0x36)
            .flags(TimeoutFlags::ABS | TimeoutFlags::REALTIME)
            .build(),
        |s| sys::io_uring_prep_timeout(
            s,
            cts,
            0x36,
            sys::IORING_TIMEOUT_ABS | sys::IORING_TIMEOUT_REALTIME
        )
    );
    same!(
        Timeout::new(ts).flags(TimeoutFlags::MULTISHOT).build(),
        |s| sys::io_uring_prep_timeout(s, cts, 0, sys::IORING_TIMEOUT_MULTISHOT)
    );
    same!(TimeoutRemove::new(U64A).build(), |s| {
        sys::io_uring_prep_timeout_remove(s, U64A, 0)
    });
    same!(TimeoutUpdate::new(U64A, ts).build(), |s| {
        sys::io_uring_prep_timeout_update(s, cts, U64A, 0)
    });
    same!(
        TimeoutUpdate::new(U64A, ts)
            .flags(TimeoutFlags::BOOTTIME)
            .linked(true)
            .build(),
        |s| sys::io_uring_prep_timeout_update(
            s,
            cts,
            U64A,
            sys::IORING_TIMEOUT_BOOTTIME | sys::IORING_LINK_TIMEOUT_UPDATE
        )
    );
    same!(
        LinkTimeout::new(ts)
            .flags(TimeoutFlags::ETIME_SUCCESS)
            .build(),
        |s| sys::io_uring_prep_link_timeout(s, cts, sys::IORING_TIMEOUT_ETIME_SUCCESS)
    );
}

#[test]
fn cancel() {
    same!(AsyncCancel::new(U64A).build(), |s| {
        sys::io_uring_prep_cancel64(s, U64A, 0)
    });
    same!(
        AsyncCancel::new(0x7f00_0000_1000)
            .flags(CancelFlags::ALL)
            .build(),
        |s| sys::io_uring_prep_cancel(
            s,
            0x7f00_0000_1000 as *const c_void,
            sys::IORING_ASYNC_CANCEL_ALL as i32
        )
    );
    same!(AsyncCancel::any().build(), |s| {
        sys::io_uring_prep_cancel64(s, 0, sys::IORING_ASYNC_CANCEL_ANY as i32)
    });
    same!(AsyncCancel::by_fd(Fd(FD)).build(), |s| {
        sys::io_uring_prep_cancel_fd(s, FD, 0)
    });
    same!(
        AsyncCancel::by_fd(Fixed(0x37))
            .flags(CancelFlags::ALL)
            .build(),
        |s| sys::io_uring_prep_cancel_fd(
            s,
            0x37,
            sys::IORING_ASYNC_CANCEL_ALL | sys::IORING_ASYNC_CANCEL_FD_FIXED
        )
    );
    // Match by opcode: no helper; cancel64 with the OP flag and the opcode in len.
    same!(
        AsyncCancel::new(0)
            .opcode(Some(Recv::CODE))
            .flags(CancelFlags::ALL)
            .build(),
        |s| {
            sys::io_uring_prep_cancel64(
                s,
                0,
                (sys::IORING_ASYNC_CANCEL_ALL | sys::IORING_ASYNC_CANCEL_OP) as i32,
            );
            (*s).len = Recv::CODE as u32;
        }
    );
}

#[test]
fn msg_ring() {
    same!(MsgRing::new(Fd(FD), 0x38, U64A).build(), |s| {
        sys::io_uring_prep_msg_ring(s, FD, 0x38, U64A, 0)
    });
    same!(
        MsgRing::new(Fd(FD), -5, U64A)
            .flags(MsgRingFlags::CQE_SKIP)
            .build(),
        |s| sys::io_uring_prep_msg_ring(s, FD, (-5i32) as u32, U64A, sys::IORING_MSG_RING_CQE_SKIP)
    );
    same!(
        MsgRing::new(Fixed(2), 0x39, U64B)
            .cqe_flags(Some(FLAGS))
            .build(),
        |s| {
            sys::io_uring_prep_msg_ring_cqe_flags(s, 2, 0x39, U64B, 0, FLAGS);
            (*s).flags = IOSQE_FIXED_FILE as u8;
        }
    );
    same!(
        MsgRingSendFd::new(
            Fd(FD),
            Fixed(0x3a),
            DestinationSlot::index(0x3b).unwrap(),
            U64A
        )
        .flags(MsgRingFlags::CQE_SKIP)
        .build(),
        |s| sys::io_uring_prep_msg_ring_fd(s, FD, 0x3a, 0x3b, U64A, sys::IORING_MSG_RING_CQE_SKIP)
    );
    same!(
        MsgRingSendFd::new(Fd(FD), Fixed(0x3c), DestinationSlot::AUTO, U64B).build(),
        |s| sys::io_uring_prep_msg_ring_fd_alloc(s, FD, 0x3c, U64B, 0)
    );
}

#[test]
fn buffers() {
    same!(
        ProvideBuffers::new(ptr(1), 0x3d3e, 0x3f, 0x4041, 0x4243).build(),
        |s| { sys::io_uring_prep_provide_buffers(s, ptr(1), 0x3d3e, 0x3f, 0x4041, 0x4243) }
    );
    same!(RemoveBuffers::new(0x44, 0x4546).build(), |s| {
        sys::io_uring_prep_remove_buffers(s, 0x44, 0x4546)
    });
}

#[test]
fn sockets() {
    same!(
        Socket::new(
            libc::AF_INET6,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_UDP
        )
        .build(),
        |s| sys::io_uring_prep_socket(
            s,
            libc::AF_INET6,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::IPPROTO_UDP,
            0
        )
    );
    same!(
        Socket::new(libc::AF_INET, libc::SOCK_STREAM, 0)
            .file_index(DestinationSlot::index(0x47))
            .build(),
        |s| sys::io_uring_prep_socket_direct(s, libc::AF_INET, libc::SOCK_STREAM, 0, 0x47, 0)
    );
    same!(
        Socket::new(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0)
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| sys::io_uring_prep_socket_direct_alloc(s, libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, 0)
    );
    same!(Connect::new(Fd(FD), ptr(1), 0x48).build(), |s| {
        sys::io_uring_prep_connect(s, FD, ptr(1), 0x48)
    });
    same!(Bind::new(Fd(FD), ptr(2), 0x49).build(), |s| {
        sys::io_uring_prep_bind(s, FD, ptr(2), 0x49)
    });
    same!(Listen::new(Fd(FD), 0x4a4b).build(), |s| {
        sys::io_uring_prep_listen(s, FD, 0x4a4b)
    });
    same!(Shutdown::new(Fd(FD), libc::SHUT_WR).build(), |s| {
        sys::io_uring_prep_shutdown(s, FD, libc::SHUT_WR)
    });
    let aflags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    same!(
        Accept::new(Fd(FD), ptr(3), ptr(4)).flags(aflags).build(),
        |s| { sys::io_uring_prep_accept(s, FD, ptr(3), ptr(4), aflags) }
    );
    same!(
        Accept::new(Fd(FD), ptr(3), ptr(4))
            .flags(aflags)
            .file_index(DestinationSlot::index(0x4c))
            .build(),
        |s| sys::io_uring_prep_accept_direct(s, FD, ptr(3), ptr(4), aflags, 0x4c)
    );
    same!(
        Accept::new(Fd(FD), ptr(3), ptr(4))
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| sys::io_uring_prep_accept_direct(
            s,
            FD,
            ptr(3),
            ptr(4),
            0,
            sys::IORING_FILE_INDEX_ALLOC as u32
        )
    );
    same!(
        Accept::new(Fd(FD), ptr(3), ptr(4))
            .flags(aflags)
            .multishot(true)
            .build(),
        |s| sys::io_uring_prep_multishot_accept(s, FD, ptr(3), ptr(4), aflags)
    );
    same!(
        Accept::new(Fixed(1), ptr(3), ptr(4))
            .multishot(true)
            .file_index(Some(DestinationSlot::AUTO))
            .build(),
        |s| {
            sys::io_uring_prep_multishot_accept_direct(s, 1, ptr(3), ptr(4), 0);
            (*s).flags = IOSQE_FIXED_FILE as u8;
        }
    );
}

#[test]
fn send_recv() {
    let mflags = libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT;
    same!(Send::new(Fd(FD), ptr(1), LEN).flags(mflags).build(), |s| {
        sys::io_uring_prep_send(s, FD, ptr(1), LEN as usize, mflags)
    });
    same!(
        Send::new(Fd(FD), ptr(1), LEN)
            .flags(mflags)
            .dest_addr((ptr(2), 0x4d))
            .build(),
        |s| sys::io_uring_prep_sendto(s, FD, ptr(1), LEN as usize, mflags, ptr(2), 0x4d)
    );
    same!(
        Send::new(Fd(FD), ptr(1), LEN)
            .dest_addr((ptr(2), 0x4e))
            .build(),
        |s| {
            sys::io_uring_prep_send(s, FD, ptr(1), LEN as usize, 0);
            sys::io_uring_prep_send_set_addr(s, ptr(2), 0x4e);
        }
    );
    same!(
        Send::new(Fd(FD), core::ptr::null(), LEN)
            .flags(mflags)
            .bundle(true)
            .build(),
        |s| sys::io_uring_prep_send_bundle(s, FD, LEN as usize, mflags)
    );
    same!(
        Recv::new(Fd(FD), ptr(3), LEN)
            .flags(libc::MSG_WAITALL)
            .build(),
        |s| { sys::io_uring_prep_recv(s, FD, ptr(3), LEN as usize, libc::MSG_WAITALL) }
    );
    same!(
        Recv::new(Fd(FD), core::ptr::null_mut(), 0)
            .multishot(true)
            .buf_group(Some(0x4f50))
            .build(),
        |s| {
            sys::io_uring_prep_recv_multishot(s, FD, core::ptr::null_mut(), 0, 0);
            sys::io_uring_sqe_set_buf_group(s, 0x4f50);
            (*s).flags = IOSQE_BUFFER_SELECT as u8;
        }
    );
    same!(
        Recv::new(Fd(FD), core::ptr::null_mut(), 0)
            .bundle(true)
            .ioprio(RecvSendFlags::POLL_FIRST)
            .build(),
        |s| {
            sys::io_uring_prep_recv(s, FD, core::ptr::null_mut(), 0, 0);
            (*s).ioprio = (sys::IORING_RECVSEND_BUNDLE | sys::IORING_RECVSEND_POLL_FIRST) as u16;
        }
    );
    same!(SendMsg::new(Fd(FD), ptr(4)).flags(0x51).build(), |s| {
        sys::io_uring_prep_sendmsg(s, FD, ptr(4), 0x51)
    });
    same!(RecvMsg::new(Fd(FD), ptr(5)).flags(0x52).build(), |s| {
        sys::io_uring_prep_recvmsg(s, FD, ptr(5), 0x52)
    });
    same!(
        RecvMsg::new(Fd(FD), ptr(5))
            .flags(0x53)
            .multishot(true)
            .build(),
        |s| sys::io_uring_prep_recvmsg_multishot(s, FD, ptr(5), 0x53)
    );
}

#[test]
fn zero_copy() {
    let zc = RecvSendFlags::ZC_REPORT_USAGE | RecvSendFlags::POLL_FIRST;
    same!(
        SendZc::new(Fd(FD), ptr(1), LEN)
            .flags(0x54)
            .zc_flags(zc)
            .build(),
        |s| sys::io_uring_prep_send_zc(s, FD, ptr(1), LEN as usize, 0x54, zc.bits() as u32)
    );
    same!(
        SendZc::new(Fd(FD), ptr(1), LEN)
            .flags(0x55)
            .zc_flags(zc)
            .buf_index(Some(0x5657))
            .build(),
        |s| sys::io_uring_prep_send_zc_fixed(
            s,
            FD,
            ptr(1),
            LEN as usize,
            0x55,
            zc.bits() as u32,
            0x5657
        )
    );
    same!(
        SendZc::new(Fd(FD), ptr(1), LEN)
            .dest_addr((ptr(2), 0x58))
            .build(),
        |s| {
            sys::io_uring_prep_send_zc(s, FD, ptr(1), LEN as usize, 0, 0);
            sys::io_uring_prep_send_set_addr(s, ptr(2), 0x58);
        }
    );
    same!(SendMsgZc::new(Fd(FD), ptr(3)).flags(0x59).build(), |s| {
        sys::io_uring_prep_sendmsg_zc(s, FD, ptr(3), 0x59)
    });
    same!(
        SendMsgZc::new(Fd(FD), ptr(3))
            .flags(0x5a)
            .buf_index(Some(0x5b5c))
            .build(),
        |s| sys::io_uring_prep_sendmsg_zc_fixed(s, FD, ptr(3), 0x5a, 0x5b5c)
    );
    // RECV_ZC has no helper: prep_rw plus the fields the kernel reads.
    same!(
        RecvZc::new(Fd(FD), 0x5d).len(LEN).flags(0x5e).build(),
        |s| {
            sys::io_uring_prep_rw(
                sys::IORING_OP_RECV_ZC as i32,
                s,
                FD,
                core::ptr::null(),
                LEN,
                0,
            );
            (*s).ioprio = sys::IORING_RECV_MULTISHOT as u16;
            (*s).__bindgen_anon_3.msg_flags = 0x5e;
            (*s).__bindgen_anon_5.zcrx_ifq_idx = 0x5d;
        }
    );
}

#[test]
fn uring_cmd() {
    same!(UringCmd::new(Fd(FD), 0x5f60_6162).build(), |s| {
        sys::io_uring_prep_uring_cmd(s, 0x5f60_6162, FD)
    });
    same!(UringCmd::new(Fd(FD2), 0x6f70).build(), |s| {
        sys::__io_uring_prep_uring_cmd(s, sys::IORING_OP_URING_CMD as i32, 0x6f70, FD2)
    });
    let mut data = [0u8; 16];
    for (i, b) in data.iter_mut().enumerate() {
        *b = 0x80 + i as u8;
    }
    same!(
        UringCmd::new(Fixed(6), 0x63)
            .cmd(data)
            .buf_index(Some(0x6465))
            .build(),
        |s| {
            sys::io_uring_prep_uring_cmd(s, 0x63, 6);
            (*s).flags = IOSQE_FIXED_FILE as u8;
            (*s).__bindgen_anon_3.uring_cmd_flags = sys::IORING_URING_CMD_FIXED;
            (*s).__bindgen_anon_4.buf_index = 0x6465;
            core::ptr::copy_nonoverlapping(data.as_ptr(), (s as *mut u8).add(48), 16);
        }
    );
    same!(SiocInq::new(Fd(FD)).build(), |s| {
        sys::io_uring_prep_cmd_sock(
            s,
            sys::SOCKET_URING_OP_SIOCINQ as i32,
            FD,
            0,
            0,
            core::ptr::null_mut(),
            0,
        )
    });
    same!(SiocOutq::new(Fd(FD)).build(), |s| {
        sys::io_uring_prep_cmd_sock(
            s,
            sys::SOCKET_URING_OP_SIOCOUTQ as i32,
            FD,
            0,
            0,
            core::ptr::null_mut(),
            0,
        )
    });
    same!(
        GetSockOpt::new(Fd(FD), libc::SOL_SOCKET, libc::SO_RCVBUF, ptr(1), 0x66).build(),
        |s| sys::io_uring_prep_cmd_sock(
            s,
            sys::SOCKET_URING_OP_GETSOCKOPT as i32,
            FD,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            ptr(1),
            0x66
        )
    );
    same!(
        SetSockOpt::new(Fd(FD), libc::IPPROTO_TCP, libc::TCP_NODELAY, ptr(2), 0x67).build(),
        |s| sys::io_uring_prep_cmd_sock(
            s,
            sys::SOCKET_URING_OP_SETSOCKOPT as i32,
            FD,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            ptr(2),
            0x67
        )
    );
    same!(GetSockName::new(Fd(FD), ptr(3), ptr(4)).build(), |s| {
        sys::io_uring_prep_cmd_getsockname(s, FD, ptr(3), ptr(4), 0)
    });
    same!(
        GetSockName::new(Fd(FD), ptr(3), ptr(4)).peer(true).build(),
        |s| { sys::io_uring_prep_cmd_getsockname(s, FD, ptr(3), ptr(4), 1) }
    );
    same!(BlockDiscard::new(Fd(FD), U64A, U64B).build(), |s| {
        sys::io_uring_prep_cmd_discard(s, FD, U64A, U64B)
    });
}

#[test]
fn uring_cmd128() {
    let mut data = [0u8; 80];
    for (i, b) in data.iter_mut().enumerate() {
        *b = 0x10 + i as u8;
    }
    let rust = UringCmd128::new(Fd(FD), 0x6869)
        .cmd(data)
        .build()
        .user_data(U64A);
    let mut c = [
        MaybeUninit::<sys::io_uring_sqe>::zeroed(),
        MaybeUninit::zeroed(),
    ];
    // SAFETY: the helper and the copy write inside the two zeroed entries we own
    // (bytes 48..128: the command area of a 128-byte entry).
    unsafe {
        let s = c[0].as_mut_ptr();
        sys::io_uring_prep_uring_cmd128(s, 0x6869, FD);
        sys::io_uring_sqe_set_data64(s, U64A);
        core::ptr::copy_nonoverlapping(data.as_ptr(), (s as *mut u8).add(48), 80);
    }
    // SAFETY: both entries are zeroed plain integers, partly overwritten.
    let c: [u8; 128] = unsafe { core::mem::transmute(c) };
    assert_same("io_uring_prep_uring_cmd128", &rust_bytes128(&rust), &c);
}

#[test]
fn process_and_futex() {
    same!(
        WaitId::new(libc::P_PID, 0x6a6b, ptr(1), libc::WEXITED | libc::WNOWAIT).build(),
        |s| sys::io_uring_prep_waitid(
            s,
            libc::P_PID,
            0x6a6b,
            ptr(1),
            libc::WEXITED | libc::WNOWAIT,
            0
        )
    );
    let ff = FutexFlags::SIZE_U32 | FutexFlags::PRIVATE;
    same!(FutexWait::new(ptr(2), U64A, U64B, ff).build(), |s| {
        sys::io_uring_prep_futex_wait(s, ptr(2), U64A, U64B, ff.bits(), 0)
    });
    same!(
        FutexWake::new(ptr(3), U64B, U64A, ff).flags(0x6c).build(),
        |s| { sys::io_uring_prep_futex_wake(s, ptr(3), U64B, U64A, ff.bits(), 0x6c) }
    );
    same!(FutexWaitV::new(ptr(4), 0x6d).build(), |s| {
        sys::io_uring_prep_futex_waitv(s, ptr(4), 0x6d, 0)
    });
}

/// Every opcode liburing 2.15 knows has a builder whose CODE is that opcode.
#[test]
fn every_opcode_has_a_builder() {
    let codes = [
        Nop::CODE,
        Readv::CODE,
        Writev::CODE,
        Fsync::CODE,
        ReadFixed::CODE,
        WriteFixed::CODE,
        PollAdd::CODE,
        PollRemove::CODE,
        SyncFileRange::CODE,
        SendMsg::CODE,
        RecvMsg::CODE,
        Timeout::CODE,
        TimeoutRemove::CODE,
        Accept::CODE,
        AsyncCancel::CODE,
        LinkTimeout::CODE,
        Connect::CODE,
        Fallocate::CODE,
        OpenAt::CODE,
        Close::CODE,
        FilesUpdate::CODE,
        Statx::CODE,
        Read::CODE,
        Write::CODE,
        Fadvise::CODE,
        Madvise::CODE,
        Send::CODE,
        Recv::CODE,
        OpenAt2::CODE,
        EpollCtl::CODE,
        Splice::CODE,
        ProvideBuffers::CODE,
        RemoveBuffers::CODE,
        Tee::CODE,
        Shutdown::CODE,
        RenameAt::CODE,
        UnlinkAt::CODE,
        MkDirAt::CODE,
        SymlinkAt::CODE,
        LinkAt::CODE,
        MsgRing::CODE,
        FSetXattr::CODE,
        SetXattr::CODE,
        FGetXattr::CODE,
        GetXattr::CODE,
        Socket::CODE,
        UringCmd::CODE,
        SendZc::CODE,
        SendMsgZc::CODE,
        ReadMultishot::CODE,
        WaitId::CODE,
        FutexWait::CODE,
        FutexWake::CODE,
        FutexWaitV::CODE,
        FixedFdInstall::CODE,
        Ftruncate::CODE,
        Bind::CODE,
        Listen::CODE,
        RecvZc::CODE,
        EpollWait::CODE,
        ReadvFixed::CODE,
        WritevFixed::CODE,
        Pipe::CODE,
        Nop128::CODE,
        UringCmd128::CODE,
    ];
    assert_eq!(codes.len() as u32, sys::IORING_OP_LAST);
    for (i, code) in codes.iter().enumerate() {
        assert_eq!(*code as usize, i, "builder #{i} has CODE {code}");
    }
    // The variants that share an opcode.
    assert_eq!(TimeoutUpdate::CODE as u32, sys::IORING_OP_TIMEOUT_REMOVE);
    assert_eq!(MsgRingSendFd::CODE as u32, sys::IORING_OP_MSG_RING);
    for code in [
        SiocInq::CODE,
        SiocOutq::CODE,
        GetSockOpt::CODE,
        SetSockOpt::CODE,
        GetSockName::CODE,
        BlockDiscard::CODE,
    ] {
        assert_eq!(code as u32, sys::IORING_OP_URING_CMD);
    }
}

/// The comparison itself notices a value in the wrong place.
#[test]
fn comparison_detects_a_misplaced_field() {
    let result = std::panic::catch_unwind(|| {
        same!(Read::new(Fd(FD), ptr(1), LEN).offset(OFF).build(), |s| {
            sys::io_uring_prep_read(s, FD, ptr(1), LEN, OFF.swap_bytes())
        });
    });
    let message = result.expect_err("a different offset must be reported");
    let text = message
        .downcast_ref::<String>()
        .expect("assert! message is a String");
    assert!(text.contains("off/addr2/cmd_op"), "{text}");
}
