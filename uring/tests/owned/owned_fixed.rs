//! Registered (fixed) buffers in the safe layer: `FixedBufs`, `FixedBuf` handles,
//! `ReadFixed` and `WriteFixed`. Each test checks the bytes the kernel moved, and
//! the hazards: the wrong ring, the set or the ring dropped with a read in flight,
//! handles recycled, forgotten or outliving the ring, a second table. Run these
//! under AddressSanitizer too (see the module docs of `uring::owned`).

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{FixedBuf, FixedBufs, IoBuf, OwnedRing, ReadFixed, SharedFd, WriteFixed, ops};
use uring::setup::Features;

fn ring() -> OwnedRing {
    OwnedRing::new(8).expect("io_uring set-up")
}

/// A registered set, or `None` (with the reason printed) where the kernel will
/// not pin the memory (a small `RLIMIT_MEMLOCK`).
fn bufs(ring: &mut OwnedRing, count: u16, size: usize, test: &str) -> Option<FixedBufs> {
    match FixedBufs::new(ring, count, size) {
        Ok(b) => Some(b),
        Err(e) if errno(&e) == Some(libc::ENOMEM) => {
            println!("skipped: {test}: the kernel would not pin {count} x {size} bytes ({e})");
            None
        }
        Err(e) => panic!("registering buffers: {e}"),
    }
}

/// Whether this kernel unregisters buffers without waiting for everything in
/// flight (Linux 5.13): only then does a set unregister its table when dropped.
fn unregisters(ring: &OwnedRing) -> bool {
    ring.ring().features().contains(Features::RSRC_TAGS)
}

/// A file of its own in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf, SharedFd);

impl TempFile {
    fn new(tag: &str) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("uring-owned-fixed-{tag}-{}", std::process::id()));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .expect("temp file");
        TempFile(path, SharedFd::from(file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn write_fixed<B: uring::owned::FixedIoBuf>(
    ring: &mut OwnedRing,
    fd: &SharedFd,
    buf: B,
    offset: u64,
) -> (usize, B) {
    let id = ring
        .submit_op(WriteFixed::new(fd, buf, offset))
        .expect("submit");
    let (n, buf) = ring.wait_for(id).expect("wait");
    (n.expect("write_fixed"), buf)
}

fn read_fixed<B: uring::owned::FixedIoBuf + uring::owned::IoBufMut>(
    ring: &mut OwnedRing,
    fd: &SharedFd,
    buf: B,
    offset: u64,
) -> (usize, B) {
    let id = ring
        .submit_op(ReadFixed::new(fd, buf, offset))
        .expect("submit");
    let (n, buf) = ring.wait_for(id).expect("wait");
    (n.expect("read_fixed"), buf)
}

#[test]
fn write_fixed_then_read_fixed_moves_exactly_the_bytes() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 2, 4096, "round_trip") else {
        return;
    };
    let file = TempFile::new("round-trip");

    let mut out = bufs.get().unwrap();
    out.extend_from_slice(b"0123456789").unwrap();
    let (n, out) = write_fixed(&mut ring, &file.1, out, 0);
    assert_eq!(n, 10);
    assert_eq!(&out[..], b"0123456789", "a write leaves the buffer alone");

    let back = bufs.get().unwrap();
    assert_ne!(back.index(), out.index());
    let (n, back) = read_fixed(&mut ring, &file.1, back, 2);
    assert_eq!(n, 8);
    assert_eq!(&back[..], b"23456789");
    assert_eq!(back.capacity(), 4096);

    // What the kernel wrote is what the file holds, read the ordinary way.
    let mut got = Vec::new();
    std::fs::File::open(&file.0)
        .unwrap()
        .read_to_end(&mut got)
        .unwrap();
    assert_eq!(got, b"0123456789");
}

#[test]
fn slices_of_a_fixed_buffer_read_and_write_only_their_range() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 1, 64, "slices") else {
        return;
    };
    let file = TempFile::new("slices");
    std::fs::write(&file.0, b"abcdefgh").unwrap();

    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(b"XXXXXXXXXXXX").unwrap();
    // Read the file's first 4 bytes into bytes 4..8 only.
    let (n, slice) = read_fixed(&mut ring, &file.1, buf.slice(4..8), 0);
    assert_eq!(n, 4);
    let buf = slice.into_inner();
    assert_eq!(&buf[..], b"XXXXabcdXXXX", "only 4..8 was written");

    // A slice past the length: the read lands there, the length grows over it.
    let mut buf = buf;
    buf.set_len(2).unwrap();
    let (n, slice) = read_fixed(&mut ring, &file.1, buf.slice(2..5), 5);
    assert_eq!(n, 3);
    let buf = slice.into_inner();
    assert_eq!(&buf[..], b"XXfgh");

    // Write bytes 1..4 of the buffer at offset 8 of the file.
    let (n, _slice) = write_fixed(&mut ring, &file.1, buf.slice(1..4), 8);
    assert_eq!(n, 3);
    assert_eq!(std::fs::read(&file.0).unwrap(), b"abcdefghXfg");
}

#[test]
fn a_fixed_buffer_is_an_ordinary_owned_buffer_too() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 1, 16, "ordinary") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    w.write_all(b"plain").unwrap();
    let id = ring
        .submit_op(ops::Read::new(r, bufs.get().unwrap(), 0))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 5);
    assert_eq!(&buf[..], b"plain");
}

#[test]
fn the_wrong_ring_refuses_a_fixed_operation_with_exdev() {
    let mut a = ring();
    let mut b = ring();
    let Some(bufs) = bufs(&mut a, 1, 16, "wrong_ring") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);

    let err = b
        .submit_op(ReadFixed::new(&r, bufs.get().unwrap(), 0))
        .unwrap_err();
    assert_eq!(errno(&err.error), Some(libc::EXDEV), "{}", err.error);
    assert_eq!(b.in_flight(), 0);
    // The op and its buffer come back untouched.
    let buf = err.op.into_buf();
    assert_eq!(bufs.available(), 0);
    drop(buf);
    assert_eq!(bufs.available(), 1);

    let mut out = bufs.get().unwrap();
    out.extend_from_slice(b"zz").unwrap();
    let err = b
        .submit_op(WriteFixed::new(&r, out.slice(..), 0))
        .unwrap_err();
    assert_eq!(errno(&err.error), Some(libc::EXDEV));
    drop(err);
    // In a chain too, and then nothing of the chain is queued.
    let chain = (ops::Nop::new(), ReadFixed::new(&r, bufs.get().unwrap(), 0));
    let err = b.submit_linked(chain).unwrap_err();
    assert_eq!(errno(&err.error), Some(libc::EXDEV));
    assert_eq!(b.in_flight(), 0);
    drop(err);

    // The right ring takes it.
    w.write_all(b"ok").unwrap();
    let (n, buf) = read_fixed(&mut a, &r, bufs.get().unwrap(), 0);
    assert_eq!((n, &buf[..]), (2, &b"ok"[..]));
}

#[test]
fn dropping_the_set_while_a_read_is_in_flight_keeps_the_memory_until_it_completes() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 1, 32, "set_dropped_in_flight") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let id = ring
        .submit_op(ReadFixed::new(r, bufs.get().unwrap(), 0))
        .unwrap();
    ring.submit().unwrap();
    drop(bufs); // the read holds the memory
    // Let the read start waiting, then give it data.
    std::thread::sleep(Duration::from_millis(20));
    w.write_all(b"late data").unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 9);
    assert_eq!(&buf[..], b"late data");
    drop(buf); // the last reference: the table is unregistered, the memory freed
}

#[test]
fn dropping_the_set_then_the_ring_with_a_read_that_never_gets_data_cancels_it() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 2, 32, "set_then_ring_dropped") else {
        return;
    };
    let (r, _w) = UnixStream::pair().unwrap(); // no data will ever come
    let _id = ring
        .submit_op(ReadFixed::new(r, bufs.get().unwrap(), 0))
        .unwrap();
    ring.submit().unwrap();
    let spare = bufs.get().unwrap();
    drop(bufs);
    ring.set_drop_timeout(Duration::from_secs(5));
    let report = ring.close();
    assert_eq!(
        (report.completed, report.leaked),
        (1, 0),
        "the read was cancelled"
    );
    // A handle outliving both the set and the ring still has its memory.
    let mut spare = spare;
    spare.extend_from_slice(b"still here").unwrap();
    assert_eq!(&spare[..], b"still here");
}

#[test]
fn dropping_the_ring_with_a_read_in_flight_and_the_set_alive_is_fine() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 1, 32, "ring_dropped") else {
        return;
    };
    let (r, _w) = UnixStream::pair().unwrap();
    let _id = ring
        .submit_op(ReadFixed::new(r, bufs.get().unwrap(), 0))
        .unwrap();
    ring.submit().unwrap();
    drop(ring); // cancels the read; its buffer comes back to the set
    assert_eq!(bufs.available(), 1);
    let mut buf = bufs.get().unwrap();
    buf.extend_from_slice(b"after").unwrap();
    assert_eq!(&buf[..], b"after");
}

#[test]
fn handles_are_recycled_and_a_forgotten_handle_only_stays_out() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 2, 8, "recycled") else {
        return;
    };
    let a = bufs.get().unwrap();
    let b = bufs.get().unwrap();
    assert!(bufs.get().is_none(), "both are out");
    assert_eq!(bufs.available(), 0);
    let ia = a.index();
    drop(a);
    let again = bufs.get().unwrap();
    assert_eq!(again.index(), ia, "the same buffer, handed out again");
    assert!(again.is_empty(), "with length 0");
    drop(again);

    // Through an operation whose output nobody takes: back when it completes.
    let id = ring
        .submit_op(WriteFixed::new(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .unwrap(),
            bufs.get().unwrap(),
            0,
        ))
        .unwrap();
    assert_eq!(bufs.available(), 0);
    ring.detach(id);
    ring.submit_and_wait(1).unwrap();
    let _ = ring.completions().count();
    assert_eq!(bufs.available(), 1);

    // Forgetting a handle keeps its buffer out for good; nothing else happens.
    std::mem::forget(b);
    assert_eq!(bufs.available(), 1);
    let c = bufs.get().unwrap();
    assert_ne!(Some(c.index()), None);
    assert!(bufs.get().is_none());
}

#[test]
fn handles_may_be_dropped_on_another_thread() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 4, 8, "threads") else {
        return;
    };
    let handles: Vec<FixedBuf> = (0..4).map(|_| bufs.get().unwrap()).collect();
    std::thread::spawn(move || {
        for mut h in handles {
            h.extend_from_slice(b"t").unwrap();
        }
    })
    .join()
    .unwrap();
    assert_eq!(bufs.available(), 4);
}

#[test]
fn a_second_table_on_the_same_ring_is_a_clear_ebusy() {
    let mut ring = ring();
    let Some(first) = bufs(&mut ring, 1, 8, "second_table") else {
        return;
    };
    let err = FixedBufs::new(&mut ring, 1, 8).unwrap_err();
    assert_eq!(errno(&err), Some(libc::EBUSY), "{err}");
    assert!(err.to_string().contains("one per ring"), "{err}");

    // Another ring has a table of its own.
    let mut other = self::ring();
    let Some(_other) = bufs(&mut other, 1, 8, "second_table") else {
        return;
    };

    // Once the first set and everything using it are gone, the table is
    // unregistered and a new one can be made.
    let held = first.get().unwrap();
    drop(first);
    assert_eq!(
        errno(&FixedBufs::new(&mut ring, 1, 8).unwrap_err()),
        Some(libc::EBUSY),
        "a handle still holds the memory"
    );
    drop(held);
    if !unregisters(&ring) {
        println!(
            "skipped the re-registration: before Linux 5.13 a dropped set leaks its table \
             instead of waiting for the ring to be idle"
        );
        return;
    }
    let again = FixedBufs::new(&mut ring, 2, 8).expect("a new table after the old one");
    assert_eq!(again.len(), 2);
}

#[test]
fn bad_sizes_are_einval_not_panics() {
    let mut ring = ring();
    for (count, size) in [(0u16, 8usize), (1, 0), (u16::MAX, 8), (1, (1 << 30) + 1)] {
        let err = FixedBufs::new(&mut ring, count, size).unwrap_err();
        assert_eq!(errno(&err), Some(libc::EINVAL), "{count} x {size}: {err}");
    }
    let Some(bufs) = bufs(&mut ring, 1, 4, "bad_sizes") else {
        return;
    };
    let mut buf = bufs.get().unwrap();
    assert_eq!(errno(&buf.set_len(5).unwrap_err()), Some(libc::EINVAL));
    buf.extend_from_slice(b"abc").unwrap();
    assert_eq!(
        errno(&buf.extend_from_slice(b"de").unwrap_err()),
        Some(libc::EINVAL)
    );
    assert_eq!(&buf[..], b"abc", "a refused append copies nothing");
}

#[test]
fn registering_with_operations_in_flight() {
    let mut ring = ring();
    let (r, _w) = UnixStream::pair().unwrap();
    let _id = ring.submit_op(ops::Read::new(r, vec![0u8; 8], 0)).unwrap();
    ring.submit().unwrap();
    match FixedBufs::new(&mut ring, 1, 8) {
        Ok(bufs) => assert!(unregisters(&ring), "{bufs:?}"),
        Err(e) if errno(&e) == Some(libc::EBUSY) && !unregisters(&ring) => {
            println!("skipped: before Linux 5.13 registering would wait for the read ({e})");
        }
        Err(e) if errno(&e) == Some(libc::ENOMEM) => println!("skipped: {e}"),
        Err(e) => panic!("{e}"),
    }
    ring.set_drop_timeout(Duration::from_secs(5));
    assert_eq!(ring.close().leaked, 0);
}

#[test]
fn fixed_operations_link_in_a_chain() {
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 2, 16, "chain") else {
        return;
    };
    let file = TempFile::new("chain");
    let mut out = bufs.get().unwrap();
    out.extend_from_slice(b"chained").unwrap();
    let (w, r) = ring
        .submit_linked((
            WriteFixed::new(&file.1, out, 0),
            ReadFixed::new(&file.1, bufs.get().unwrap(), 0),
        ))
        .unwrap();
    let (n, _out) = ring.wait_for(w).unwrap();
    assert_eq!(n.unwrap(), 7);
    let (n, back) = ring.wait_for(r).unwrap();
    assert_eq!(n.unwrap(), 7);
    assert_eq!(&back[..], b"chained");
}

#[test]
fn a_leaked_fixed_operation_keeps_its_buffer_and_the_memory() {
    // A disabled ring is never entered: the read stays queued for a kernel that
    // never takes it, so the ring's drop must leak it — buffer, memory and all.
    let builder = uring::Ring::builder().r_disabled();
    let mut ring = OwnedRing::from_builder(builder, 4).unwrap();
    let Some(bufs) = bufs(&mut ring, 2, 16, "leaked") else {
        return;
    };
    ring.set_drop_timeout(Duration::from_millis(50));
    let (r, _w) = UnixStream::pair().unwrap();
    let _id = ring
        .submit_op(ReadFixed::new(r, bufs.get().unwrap(), 0))
        .unwrap();
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (0, 1));
    assert_eq!(
        bufs.available(),
        1,
        "the leaked read still holds its buffer"
    );
    // The rest of the set works as before, and dropping it frees nothing the
    // leaked read names.
    let mut other = bufs.get().unwrap();
    other.extend_from_slice(b"fine").unwrap();
    assert_eq!(&other[..], b"fine");
    drop(other);
    drop(bufs);
}

#[test]
fn page_sized_buffers_suit_o_direct() {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut ring = ring();
    let Some(bufs) = bufs(&mut ring, 2, 4096, "o_direct") else {
        return;
    };
    let path =
        std::env::temp_dir().join(format!("uring-owned-fixed-direct-{}", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path);
    // Removes the file however the test ends.
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _remove = Remove(path);
    let file = match file {
        Ok(f) => SharedFd::from(f),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            println!("skipped: o_direct: the temporary directory's file system refuses O_DIRECT");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut out = bufs.get().unwrap();
    for b in 0..4096u32 {
        out.extend_from_slice(&[(b % 251) as u8]).unwrap();
    }
    let (n, out) = write_fixed(&mut ring, &file, out, 0);
    assert_eq!(n, 4096);
    let (n, back) = read_fixed(&mut ring, &file, bufs.get().unwrap(), 0);
    assert_eq!(n, 4096);
    assert_eq!(&back[..], &out[..]);
}
