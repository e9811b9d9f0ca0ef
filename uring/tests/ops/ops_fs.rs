//! End to end, against the running kernel: reading and writing files (plain,
//! vectored, registered buffers, multishot), sync, allocation, advice, open/close
//! (plain and direct), statx, the `*at` path operations, extended attributes,
//! splice/tee and pipes.

use crate::support;
use support::{pipe, read_fd};

use crate::support::ops as ops_common;

use std::fs::File;
use std::io::{Read as _, Seek, SeekFrom, Write as _};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};

use ops_common::*;
use uring::op::*;
use uring::types::*;

fn scratch_file(dir: &TempDir, name: &str, contents: &[u8]) -> File {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    File::options().read(true).write(true).open(path).unwrap()
}

/// The (device, inode) descriptor `fd` refers to, or `None` when it is not open.
fn fd_identity(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: stat is plain data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is a valid out-struct; fstat only inspects the descriptor.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)]
    Some((st.st_dev as u64, st.st_ino as u64))
}

#[test]
fn write_then_read_at_offsets() {
    let dir = TempDir::new("rw");
    let mut file = scratch_file(&dir, "f", b"");
    let mut ring = ring();
    let data = b"hello world";
    let w = Write::new(Fd(file.as_raw_fd()), data.as_ptr(), data.len() as u32).offset(100);
    // SAFETY: data outlives the completion.
    assert_eq!(unsafe { run(&mut ring, w.build()) }.raw_result(), 11);
    let mut on_disk = Vec::new();
    file.read_to_end(&mut on_disk).unwrap();
    assert_eq!(on_disk.len(), 111);
    assert_eq!(&on_disk[100..], data);
    assert!(on_disk[..100].iter().all(|&b| b == 0));

    let mut buf = [0u8; 5];
    let r = Read::new(std::os::fd::AsFd::as_fd(&file), buf.as_mut_ptr(), 5).offset(106);
    // SAFETY: buf outlives the completion.
    assert_eq!(unsafe { run(&mut ring, r.build()) }.raw_result(), 5);
    assert_eq!(&buf, b"world");

    // Past the end: 0 bytes.
    let r = Read::new(Fd(file.as_raw_fd()), buf.as_mut_ptr(), 5).offset(4096);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, r.build()) }.raw_result(), 0);
    // A bad descriptor.
    let r = Read::new(Fd(-1), buf.as_mut_ptr(), 5);
    assert_eq!(
        // SAFETY: as above.
        unsafe { run(&mut ring, r.build()) }.raw_result(),
        -libc::EBADF
    );
}

#[test]
fn read_at_the_file_position_advances_it() {
    let dir = TempDir::new("pos");
    let mut file = scratch_file(&dir, "f", b"0123456789");
    let mut ring = ring();
    let mut a = [0u8; 4];
    let mut b = [0u8; 4];
    let fd = Fd::from(&file);
    // SAFETY: a and b outlive their completions.
    unsafe {
        assert_eq!(
            run(
                &mut ring,
                Read::new(fd, a.as_mut_ptr(), 4).offset(u64::MAX).build()
            )
            .raw_result(),
            4
        );
        assert_eq!(
            run(
                &mut ring,
                Read::new(fd, b.as_mut_ptr(), 4).offset(u64::MAX).build()
            )
            .raw_result(),
            4
        );
    }
    assert_eq!((&a, &b), (b"0123", b"4567"));
    assert_eq!(file.stream_position().unwrap(), 8);
    file.seek(SeekFrom::Start(0)).unwrap();
}

#[test]
fn writev_then_readv() {
    let dir = TempDir::new("vec");
    let file = scratch_file(&dir, "f", b"");
    let mut ring = ring();
    let (p1, p2) = (b"abc", b"defg");
    let out = [
        libc::iovec {
            iov_base: p1.as_ptr() as *mut _,
            iov_len: 3,
        },
        libc::iovec {
            iov_base: p2.as_ptr() as *mut _,
            iov_len: 4,
        },
    ];
    // SAFETY: the iovecs and what they point at outlive the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Writev::new(Fd::from(&file), out.as_ptr(), 2)
                .offset(10)
                .build(),
        )
    };
    assert_eq!(cqe.raw_result(), 7);
    let mut q1 = [0u8; 2];
    let mut q2 = [0u8; 5];
    let inv = [
        libc::iovec {
            iov_base: q1.as_mut_ptr().cast(),
            iov_len: 2,
        },
        libc::iovec {
            iov_base: q2.as_mut_ptr().cast(),
            iov_len: 5,
        },
    ];
    let readv = Readv::new(Fd::from(&file), inv.as_ptr(), 2)
        .offset(10)
        .rw_flags(0);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, readv.build()) }.raw_result(), 7);
    assert_eq!((&q1, &q2), (b"ab", b"cdefg"));
    assert_eq!(std::fs::read(dir.join("f")).unwrap()[10..], *b"abcdefg");
}

/// Registers `buf` as registered buffer 0.
fn register_buffer(ring: &mut uring::Ring, buf: &mut [u8]) {
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: the buffer outlives the ring in every caller (declared before it).
    let ret = unsafe { uring::sys::io_uring_register_buffers(ring.as_raw_mut(), &iov, 1) };
    assert_eq!(ret, 0, "io_uring_register_buffers: {ret}");
}

#[test]
fn read_and_write_fixed() {
    let dir = TempDir::new("fixed");
    let file = scratch_file(&dir, "f", b"");
    let mut buf = vec![0u8; 8192];
    let mut ring = ring();
    register_buffer(&mut ring, &mut buf);
    buf[..6].copy_from_slice(b"fixed!");
    let w = WriteFixed::new(Fd::from(&file), buf.as_ptr(), 6, 0).offset(3);
    // SAFETY: buf is registered and outlives the completion.
    assert_eq!(unsafe { run(&mut ring, w.build()) }.raw_result(), 6);
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"\0\0\0fixed!");
    let dst = buf[4096..].as_mut_ptr();
    let r = ReadFixed::new(Fd::from(&file), dst, 9, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, r.build()) }.raw_result(), 9);
    assert_eq!(&buf[4096..4105], b"\0\0\0fixed!");
    // A buffer index that was never registered.
    let r = ReadFixed::new(Fd::from(&file), dst, 9, 5);
    assert_eq!(
        // SAFETY: as above.
        unsafe { run(&mut ring, r.build()) }.raw_result(),
        -libc::EFAULT
    );
}

#[test]
fn readv_and_writev_fixed() {
    if !supported(ReadvFixed::CODE, "readv_and_writev_fixed") {
        return;
    }
    let dir = TempDir::new("vfixed");
    let file = scratch_file(&dir, "f", b"");
    let mut buf = vec![0u8; 8192];
    let mut ring = ring();
    register_buffer(&mut ring, &mut buf);
    buf[..4].copy_from_slice(b"left");
    buf[100..105].copy_from_slice(b"right");
    let base = buf.as_mut_ptr();
    // SAFETY: offsets inside buf.
    let out = unsafe {
        [
            libc::iovec {
                iov_base: base.cast(),
                iov_len: 4,
            },
            libc::iovec {
                iov_base: base.add(100).cast(),
                iov_len: 5,
            },
        ]
    };
    let w = WritevFixed::new(Fd::from(&file), out.as_ptr(), 2, 0);
    // SAFETY: iovecs and registered buffer outlive the completion.
    assert_eq!(unsafe { run(&mut ring, w.build()) }.raw_result(), 9);
    assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"leftright");
    // SAFETY: offsets inside buf.
    let inv = unsafe {
        [
            libc::iovec {
                iov_base: base.add(5000).cast(),
                iov_len: 5,
            },
            libc::iovec {
                iov_base: base.add(6000).cast(),
                iov_len: 4,
            },
        ]
    };
    let r = ReadvFixed::new(Fd::from(&file), inv.as_ptr(), 2, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, r.build()) }.raw_result(), 9);
    assert_eq!(
        (&buf[5000..5005], &buf[6000..6004]),
        (&b"leftr"[..], &b"ight"[..])
    );
}

#[test]
fn fsync_fdatasync_and_sync_file_range() {
    let dir = TempDir::new("sync");
    let mut file = scratch_file(&dir, "f", b"");
    file.write_all(&[7u8; 4096]).unwrap();
    let mut ring = ring();
    let fd = Fd::from(&file);
    // SAFETY: none of these name memory.
    unsafe {
        assert_eq!(run(&mut ring, Fsync::new(fd).build()).raw_result(), 0);
        assert_eq!(
            run(
                &mut ring,
                Fsync::new(fd).flags(FsyncFlags::DATASYNC).build()
            )
            .raw_result(),
            0
        );
        assert_eq!(
            run(&mut ring, Fsync::new(fd).offset(0).len(4096).build()).raw_result(),
            0
        );
        let sfr = SyncFileRange::new(fd, 4096).flags(libc::SYNC_FILE_RANGE_WRITE);
        assert_eq!(run(&mut ring, sfr.build()).raw_result(), 0);
        // Unknown flags are refused.
        let bad = Fsync::new(fd).flags(FsyncFlags::from_bits_retain(0x80));
        assert_eq!(run(&mut ring, bad.build()).raw_result(), -libc::EINVAL);
        assert_eq!(
            run(&mut ring, Fsync::new(Fd(-1)).build()).raw_result(),
            -libc::EBADF
        );
    }
}

#[test]
fn fallocate_ftruncate_fadvise() {
    let dir = TempDir::new("alloc");
    let file = scratch_file(&dir, "f", b"");
    let mut ring = ring();
    let fd = Fd::from(&file);
    // SAFETY: none of these name memory.
    unsafe {
        assert_eq!(
            run(&mut ring, Fallocate::new(fd, 8192).build()).raw_result(),
            0
        );
        assert_eq!(file.metadata().unwrap().len(), 8192);
        let keep = Fallocate::new(fd, 4096)
            .offset(8192)
            .mode(libc::FALLOC_FL_KEEP_SIZE);
        assert_eq!(run(&mut ring, keep.build()).raw_result(), 0);
        assert_eq!(file.metadata().unwrap().len(), 8192, "KEEP_SIZE");
        let advise = Fadvise::new(fd, 4096, libc::POSIX_FADV_DONTNEED).offset(0);
        assert_eq!(run(&mut ring, advise.build()).raw_result(), 0);
        let bad = Fadvise::new(fd, 4096, 999);
        assert_eq!(run(&mut ring, bad.build()).raw_result(), -libc::EINVAL);
    }
    if !supported(
        Ftruncate::CODE,
        "fallocate_ftruncate_fadvise (ftruncate part)",
    ) {
        return;
    }
    // SAFETY: no memory named.
    unsafe {
        assert_eq!(
            run(&mut ring, Ftruncate::new(fd, 100).build()).raw_result(),
            0
        );
    }
    assert_eq!(file.metadata().unwrap().len(), 100);
}

#[test]
fn openat_creates_and_close_closes() {
    let dir = TempDir::new("open");
    let path = cpath(&dir.join("new"));
    let mut ring = ring();
    let open = OpenAt::new(Fd::CWD, path.as_ptr())
        .flags(libc::O_CREAT | libc::O_EXCL | libc::O_RDWR | libc::O_CLOEXEC)
        .mode(0o600);
    // SAFETY: path outlives the completion.
    let fd = unsafe { run(&mut ring, open.build()) }.raw_result();
    assert!(fd >= 0, "openat: {fd}");
    // SAFETY: a descriptor the kernel just opened for us; written through, then
    // closed by the ring (not by this handle: forget it).
    let mut file = unsafe { File::from_raw_fd(fd) };
    file.write_all(b"created").unwrap();
    let meta = std::fs::metadata(dir.join("new")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::read(dir.join("new")).unwrap(), b"created");
    let created = fd_identity(fd).expect("the opened descriptor");
    std::mem::forget(file);

    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, Close::new(Fd(fd)).build()) }.raw_result(),
        0
    );
    // Closed: the number no longer names our file. (Another test thread may
    // already have been given the same number for something else.)
    assert_ne!(
        fd_identity(fd),
        Some(created),
        "fd {fd} still open on the file"
    );

    // O_EXCL on an existing file, and a missing one.
    assert_eq!(
        // SAFETY: path outlives the completion.
        unsafe { run(&mut ring, open.build()) }.raw_result(),
        -libc::EEXIST
    );
    let missing = cpath(&dir.join("missing"));
    // SAFETY: as above.
    let cqe = unsafe { run(&mut ring, OpenAt::new(Fd::CWD, missing.as_ptr()).build()) };
    assert_eq!(cqe.raw_result(), -libc::ENOENT);
    // Relative to a directory fd.
    let dirf = File::open(dir.path()).unwrap();
    // SAFETY: as above.
    let fd = unsafe {
        run(
            &mut ring,
            OpenAt::new(Fd::from(&dirf), c"new".as_ptr()).build(),
        )
    }
    .raw_result();
    assert!(fd >= 0);
    // SAFETY: ours to close.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
}

#[test]
fn openat2_honours_resolve_flags() {
    let dir = TempDir::new("open2");
    std::fs::write(dir.join("real"), b"r").unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let mut ring = ring();
    let how = uring::sys::open_how {
        flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: libc::RESOLVE_NO_SYMLINKS,
    };
    let real = cpath(&dir.join("real"));
    let link = cpath(&dir.join("link"));
    // SAFETY: paths and how outlive the completions.
    let fd = unsafe {
        run(
            &mut ring,
            OpenAt2::new(Fd::CWD, real.as_ptr(), &how).build(),
        )
    }
    .raw_result();
    assert!(fd >= 0, "openat2: {fd}");
    // SAFETY: ours to close.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    // SAFETY: as above.
    let cqe = unsafe {
        run(
            &mut ring,
            OpenAt2::new(Fd::CWD, link.as_ptr(), &how).build(),
        )
    };
    assert_eq!(cqe.raw_result(), -libc::ELOOP);
}

#[test]
fn direct_open_read_and_close() {
    if !kernel_at_least(
        5,
        19,
        "direct_open_read_and_close",
        "IORING_FILE_INDEX_ALLOC",
    ) {
        return;
    }
    let dir = TempDir::new("direct");
    std::fs::write(dir.join("f"), b"direct contents").unwrap();
    let path = cpath(&dir.join("f"));
    let mut ring = ring();
    register_sparse_files(&mut ring, 4);
    let open = OpenAt::new(Fd::CWD, path.as_ptr()).file_index(Some(DestinationSlot::AUTO));
    // SAFETY: path outlives the completion.
    let slot = unsafe { run(&mut ring, open.build()) }.raw_result();
    assert!((0..4).contains(&slot), "allocated slot {slot}");
    let slot = slot as u32;
    let mut buf = [0u8; 32];
    // SAFETY: buf outlives the completion.
    let n = unsafe {
        run(
            &mut ring,
            Read::new(Fixed(slot), buf.as_mut_ptr(), 32).build(),
        )
    }
    .raw_result();
    assert_eq!(&buf[..n as usize], b"direct contents");

    // An explicit slot.
    let open = OpenAt::new(Fd::CWD, path.as_ptr()).file_index(DestinationSlot::index(3));
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, open.build()) }.raw_result(), 0);

    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, Close::new(Fixed(slot)).build()) }.raw_result(),
        0
    );
    // SAFETY: buf outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Read::new(Fixed(slot), buf.as_mut_ptr(), 32).build(),
        )
    };
    assert_eq!(cqe.raw_result(), -libc::EBADF, "the slot is empty now");
    assert_eq!(
        // SAFETY: no memory named.
        unsafe { run(&mut ring, Close::new(Fixed(3)).build()) }.raw_result(),
        0
    );
}

#[test]
fn statx_reports_size_and_type() {
    let dir = TempDir::new("statx");
    std::fs::write(dir.join("f"), vec![1u8; 1234]).unwrap();
    let path = cpath(&dir.join("f"));
    let mut ring = ring();
    // SAFETY: statx is plain data.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    let sqe = Statx::new(Fd::CWD, path.as_ptr(), &mut st)
        .mask(libc::STATX_SIZE | libc::STATX_TYPE | libc::STATX_MODE)
        .build();
    // SAFETY: path and st outlive the completion.
    assert_eq!(unsafe { run(&mut ring, sqe) }.raw_result(), 0);
    assert_eq!(st.stx_size, 1234);
    assert_eq!(st.stx_mode as u32 & libc::S_IFMT, libc::S_IFREG);
    assert_ne!(st.stx_mask & libc::STATX_SIZE, 0);

    // AT_EMPTY_PATH on an open file.
    let file = File::open(dir.join("f")).unwrap();
    let sqe = Statx::new(Fd::from(&file), c"".as_ptr(), &mut st)
        .flags(libc::AT_EMPTY_PATH)
        .mask(libc::STATX_SIZE)
        .build();
    st.stx_size = 0;
    // SAFETY: as above.
    assert_eq!(unsafe { run(&mut ring, sqe) }.raw_result(), 0);
    assert_eq!(st.stx_size, 1234);
}

#[test]
fn mkdir_rename_symlink_link_unlink() {
    for code in [
        MkDirAt::CODE,
        RenameAt::CODE,
        SymlinkAt::CODE,
        LinkAt::CODE,
        UnlinkAt::CODE,
    ] {
        if !supported(code, "mkdir_rename_symlink_link_unlink") {
            return;
        }
    }
    let dir = TempDir::new("paths");
    let mut ring = ring();
    let d = cpath(&dir.join("d"));
    let a = cpath(&dir.join("d/a"));
    let b = cpath(&dir.join("d/b"));
    let c = cpath(&dir.join("d/c"));
    let s = cpath(&dir.join("d/s"));
    // SAFETY: every path outlives its completion.
    unsafe {
        assert_eq!(
            run(
                &mut ring,
                MkDirAt::new(Fd::CWD, d.as_ptr()).mode(0o750).build()
            )
            .raw_result(),
            0
        );
        assert!(dir.join("d").is_dir());
        assert_eq!(
            run(&mut ring, MkDirAt::new(Fd::CWD, d.as_ptr()).build()).raw_result(),
            -libc::EEXIST
        );

        std::fs::write(dir.join("d/a"), b"A").unwrap();
        let rename = RenameAt::new(Fd::CWD, a.as_ptr(), Fd::CWD, b.as_ptr());
        assert_eq!(run(&mut ring, rename.build()).raw_result(), 0);
        assert!(!dir.join("d/a").exists());
        assert_eq!(std::fs::read(dir.join("d/b")).unwrap(), b"A");

        std::fs::write(dir.join("d/a"), b"again").unwrap();
        let noreplace =
            RenameAt::new(Fd::CWD, a.as_ptr(), Fd::CWD, b.as_ptr()).flags(libc::RENAME_NOREPLACE);
        assert_eq!(
            run(&mut ring, noreplace.build()).raw_result(),
            -libc::EEXIST
        );

        let symlink = SymlinkAt::new(Fd::CWD, c"b".as_ptr(), s.as_ptr());
        assert_eq!(run(&mut ring, symlink.build()).raw_result(), 0);
        assert_eq!(
            std::fs::read_link(dir.join("d/s")).unwrap().to_str(),
            Some("b")
        );
        assert_eq!(std::fs::read(dir.join("d/s")).unwrap(), b"A");

        let link = LinkAt::new(Fd::CWD, b.as_ptr(), Fd::CWD, c.as_ptr());
        assert_eq!(run(&mut ring, link.build()).raw_result(), 0);
        assert_eq!(std::fs::metadata(dir.join("d/b")).unwrap().nlink(), 2);

        // Relative to a directory fd.
        let dirf = File::open(dir.join("d")).unwrap();
        let unlink = UnlinkAt::new(Fd::from(&dirf), c"c".as_ptr());
        assert_eq!(run(&mut ring, unlink.build()).raw_result(), 0);
        assert!(!dir.join("d/c").exists());
        assert_eq!(std::fs::metadata(dir.join("d/b")).unwrap().nlink(), 1);

        // A non-empty directory, then an empty one.
        let rmdir = UnlinkAt::new(Fd::CWD, d.as_ptr()).flags(libc::AT_REMOVEDIR);
        assert_eq!(run(&mut ring, rmdir.build()).raw_result(), -libc::ENOTEMPTY);
        for name in ["a", "b", "s"] {
            let p = cpath(&dir.join("d").join(name));
            assert_eq!(
                run(&mut ring, UnlinkAt::new(Fd::CWD, p.as_ptr()).build()).raw_result(),
                0
            );
        }
        assert_eq!(run(&mut ring, rmdir.build()).raw_result(), 0);
        assert!(!dir.join("d").exists());
    }
}

/// Whether `path`'s file system takes `user.*` extended attributes.
fn user_xattrs_work(path: &std::path::Path) -> Result<(), std::io::Error> {
    let p = cpath(path);
    // SAFETY: valid C strings and a 1-byte value.
    let ret = unsafe {
        libc::setxattr(
            p.as_ptr(),
            c"user.uring_probe".as_ptr(),
            b"1".as_ptr().cast(),
            1,
            0,
        )
    };
    if ret == 0 {
        // SAFETY: as above.
        unsafe { libc::removexattr(p.as_ptr(), c"user.uring_probe".as_ptr()) };
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[test]
fn xattrs_set_and_read_back() {
    for code in [
        FSetXattr::CODE,
        SetXattr::CODE,
        FGetXattr::CODE,
        GetXattr::CODE,
    ] {
        if !supported(code, "xattrs_set_and_read_back") {
            return;
        }
    }
    let dir = TempDir::new("xattr");
    let file = scratch_file(&dir, "f", b"x");
    if let Err(e) = user_xattrs_work(&dir.join("f")) {
        eprintln!(
            "skipped: xattrs_set_and_read_back because the file system of {} refuses user xattrs ({e})",
            dir.path().display()
        );
        return;
    }
    let path = cpath(&dir.join("f"));
    let mut ring = ring();
    let mut out = [0u8; 64];
    // SAFETY: names, values and out outlive their completions.
    unsafe {
        let set = FSetXattr::new(
            Fd::from(&file),
            c"user.one".as_ptr(),
            b"value1".as_ptr().cast(),
            6,
        );
        assert_eq!(run(&mut ring, set.build()).raw_result(), 0);
        let get = FGetXattr::new(
            Fd::from(&file),
            c"user.one".as_ptr(),
            out.as_mut_ptr().cast(),
            64,
        );
        assert_eq!(run(&mut ring, get.build()).raw_result(), 6);
        assert_eq!(&out[..6], b"value1");

        let set = SetXattr::new(
            path.as_ptr(),
            c"user.two".as_ptr(),
            b"second".as_ptr().cast(),
            6,
        )
        .flags(libc::XATTR_CREATE);
        assert_eq!(run(&mut ring, set.build()).raw_result(), 0);
        assert_eq!(
            run(&mut ring, set.build()).raw_result(),
            -libc::EEXIST,
            "XATTR_CREATE"
        );
        let get = GetXattr::new(
            path.as_ptr(),
            c"user.two".as_ptr(),
            out.as_mut_ptr().cast(),
            64,
        );
        assert_eq!(run(&mut ring, get.build()).raw_result(), 6);
        assert_eq!(&out[..6], b"second");
        let missing = GetXattr::new(
            path.as_ptr(),
            c"user.none".as_ptr(),
            out.as_mut_ptr().cast(),
            64,
        );
        assert_eq!(run(&mut ring, missing.build()).raw_result(), -libc::ENODATA);
    }
    // Seen by the ordinary system call too.
    let mut buf = [0u8; 16];
    // SAFETY: valid C strings and buffer.
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            c"user.one".as_ptr(),
            buf.as_mut_ptr().cast(),
            16,
        )
    };
    assert_eq!(&buf[..n as usize], b"value1");
}

#[test]
fn splice_file_to_pipe_and_tee_pipe_to_pipe() {
    let dir = TempDir::new("splice");
    let file = scratch_file(&dir, "f", b"0123456789abcdef");
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let mut ring = ring();
    // SAFETY: no user memory named.
    unsafe {
        let splice = Splice::new(Fd::from(&file), 4, Fd::from(&w1), -1, 8);
        assert_eq!(run(&mut ring, splice.build()).raw_result(), 8);
        let tee = Tee::new(Fd::from(&r1), Fd::from(&w2), 8);
        assert_eq!(run(&mut ring, tee.build()).raw_result(), 8);
    }
    assert_eq!(
        read_fd(r1.as_raw_fd(), 64),
        b"456789ab",
        "tee does not consume"
    );
    assert_eq!(read_fd(r2.as_raw_fd(), 64), b"456789ab");

    // With a fixed input file.
    register_files(&mut ring, &[file.as_raw_fd()]);
    let splice = Splice::new(Fixed(0), 12, Fd::from(&w1), -1, 4);
    // SAFETY: no user memory named.
    assert_eq!(unsafe { run(&mut ring, splice.build()) }.raw_result(), 4);
    assert_eq!(read_fd(r1.as_raw_fd(), 64), b"cdef");
}

#[test]
fn pipe_creates_a_working_pipe() {
    if !supported(Pipe::CODE, "pipe_creates_a_working_pipe") {
        return;
    }
    let mut ring = ring();
    let mut fds = [-1i32; 2];
    // SAFETY: fds outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Pipe::new(&mut fds).flags(libc::O_CLOEXEC).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    assert!(fds[0] >= 0 && fds[1] >= 0 && fds[0] != fds[1], "{fds:?}");
    // SAFETY: the kernel created both for us.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    assert_eq!(
        // SAFETY: valid buffer and descriptor.
        unsafe { libc::write(w.as_raw_fd(), b"through".as_ptr().cast(), 7) },
        7
    );
    assert_eq!(read_fd(r.as_raw_fd(), 16), b"through");
    assert_ne!(
        // SAFETY: fcntl on a valid descriptor.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_GETFD) } & libc::FD_CLOEXEC,
        0
    );

    // Into the registered file table.
    register_sparse_files(&mut ring, 8);
    let mut slots = [-1i32; 2];
    // SAFETY: slots outlives the completion.
    let cqe = unsafe {
        run(
            &mut ring,
            Pipe::new(&mut slots)
                .file_index(Some(DestinationSlot::AUTO))
                .build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    assert!(slots.iter().all(|s| (0..8).contains(s)), "{slots:?}");
    let mut buf = [0u8; 8];
    // SAFETY: the buffers outlive the completions.
    unsafe {
        let w = Write::new(Fixed(slots[1] as u32), b"direct".as_ptr(), 6);
        assert_eq!(run(&mut ring, w.build()).raw_result(), 6);
        let r = Read::new(Fixed(slots[0] as u32), buf.as_mut_ptr(), 8);
        assert_eq!(run(&mut ring, r.build()).raw_result(), 6);
    }
    assert_eq!(&buf[..6], b"direct");
}

#[test]
fn read_multishot_fills_provided_buffers() {
    if !supported(ReadMultishot::CODE, "read_multishot_fills_provided_buffers") {
        return;
    }
    let mut ring = ring();
    let mut pool = vec![0u8; 4 * 32];
    // SAFETY: pool outlives every use of its buffers (the ring is dropped first).
    let cqe = unsafe {
        run(
            &mut ring,
            ProvideBuffers::new(pool.as_mut_ptr(), 32, 4, 3, 0).build(),
        )
    };
    assert_eq!(cqe.raw_result(), 0);
    let (r, w) = pipe();
    assert_eq!(
        // SAFETY: valid buffer and descriptor.
        unsafe { libc::write(w.as_raw_fd(), b"first".as_ptr().cast(), 5) },
        5
    );
    // SAFETY: reads go into pool.
    let first = unsafe {
        run(
            &mut ring,
            ReadMultishot::new(Fd::from(&r), 0, 3).build().user_data(9),
        )
    };
    assert_eq!(first.raw_result(), 5);
    assert!(first.is_more(), "still armed");
    let bid = first.buffer_id().expect("a provided buffer") as usize;
    assert_eq!(&pool[bid * 32..bid * 32 + 5], b"first");

    assert_eq!(
        // SAFETY: valid buffer and descriptor.
        unsafe { libc::write(w.as_raw_fd(), b"second".as_ptr().cast(), 6) },
        6
    );
    ring.submit_and_wait(1).unwrap();
    let second = ring.completion().next().unwrap();
    assert_eq!((second.user_data(), second.raw_result()), (9, 6));
    let bid2 = second.buffer_id().unwrap() as usize;
    assert_ne!(bid, bid2);
    assert_eq!(&pool[bid2 * 32..bid2 * 32 + 6], b"second");

    drop(w);
    ring.submit_and_wait(1).unwrap();
    let end = ring.completion().next().unwrap();
    assert_eq!(end.raw_result(), 0, "end of file");
    assert!(!end.is_more(), "multishot finished");
}

#[test]
fn fadvise64_and_madvise64_lengths() {
    if !kernel_at_least(
        6,
        12,
        "fadvise64_and_madvise64_lengths",
        "64-bit fadvise/madvise lengths",
    ) {
        return;
    }
    let dir = TempDir::new("adv64");
    let file = scratch_file(&dir, "f", &[0u8; 8192]);
    let mut ring = ring();
    let advise = Fadvise::new(Fd::from(&file), 0, libc::POSIX_FADV_SEQUENTIAL).len64(Some(1 << 33));
    // SAFETY: no memory named.
    assert_eq!(unsafe { run(&mut ring, advise.build()) }.raw_result(), 0);
    let len = 2 * 4096usize;
    // SAFETY: a fresh private anonymous mapping, unmapped below.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED);
    // SAFETY: the mapping is len bytes, writable.
    unsafe { std::ptr::write_bytes(map.cast::<u8>(), 0xcd, len) };
    let advise = Madvise::new(map, 0, libc::MADV_DONTNEED).len64(Some(len as u64));
    // SAFETY: the mapping outlives the completion.
    let res = unsafe { run(&mut ring, advise.build()) }.raw_result();
    assert_eq!(res, 0);
    // SAFETY: still mapped.
    let (first, last) = unsafe { (*map.cast::<u8>(), *map.cast::<u8>().add(len - 1)) };
    assert_eq!(
        (first, last),
        (0, 0),
        "both pages dropped: the 64-bit length was read"
    );
    // SAFETY: unmapping what we mapped.
    unsafe { libc::munmap(map, len) };
}
