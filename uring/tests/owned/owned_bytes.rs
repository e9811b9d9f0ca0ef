//! `bytes::BytesMut` and `bytes::Bytes` as owned buffers of the safe layer
//! (feature `bytes`): reads fill a `BytesMut`'s spare capacity and extend its
//! length; writes send a `Bytes`' or `BytesMut`'s bytes. Each test checks the
//! bytes the kernel moved.
#![cfg(feature = "bytes")]

use std::io::{Read as _, Write as _};
use std::os::unix::net::UnixStream;

use bytes::{BufMut as _, Bytes, BytesMut};
use uring::owned::{IoBuf, IoBufMut, OwnedRing, SharedFd, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(8).expect("io_uring set-up")
}

fn read<B: IoBufMut>(ring: &mut OwnedRing, fd: &SharedFd, buf: B) -> (usize, B) {
    let id = ring.submit_op(ops::Read::new(fd, buf, 0)).expect("submit");
    let (n, buf) = ring.wait_for(id).expect("wait");
    (n.expect("read"), buf)
}

fn write<B: IoBuf>(ring: &mut OwnedRing, fd: &SharedFd, buf: B) -> (usize, B) {
    let id = ring.submit_op(ops::Write::new(fd, buf, 0)).expect("submit");
    let (n, buf) = ring.wait_for(id).expect("wait");
    (n.expect("write"), buf)
}

#[test]
fn read_into_an_empty_bytes_mut_fills_its_capacity_and_sets_its_length() {
    let mut ring = ring();
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    w.write_all(b"hello bytes").unwrap();

    let buf = BytesMut::with_capacity(64);
    let cap = buf.capacity();
    let (n, buf) = read(&mut ring, &r, buf);
    assert_eq!(n, 11);
    assert_eq!(&buf[..], b"hello bytes");
    assert_eq!(buf.capacity(), cap, "the same allocation");

    // Capacity bounds the read.
    w.write_all(b"0123456789").unwrap();
    let (n, buf) = read(&mut ring, &r, BytesMut::with_capacity(4));
    assert!((1..=buf.capacity()).contains(&n));
    assert_eq!(&buf[..], &b"0123456789"[..n]);
}

#[test]
fn a_slice_past_the_length_appends_and_a_full_bytes_mut_is_overwritten_from_the_start() {
    let mut ring = ring();
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);

    let mut buf = BytesMut::with_capacity(32);
    buf.put_slice(b"head:");
    let len = buf.len();
    w.write_all(b"tail").unwrap();
    let (n, slice) = read(&mut ring, &r, buf.slice(len..));
    assert_eq!(n, 4);
    let buf = slice.into_inner();
    assert_eq!(&buf[..], b"head:tail");

    // Without a slice a read starts at the beginning, as for a Vec; the length
    // never shrinks.
    w.write_all(b"XY").unwrap();
    let (n, buf) = read(&mut ring, &r, buf);
    assert_eq!(n, 2);
    assert_eq!(&buf[..], b"XYad:tail");
}

#[test]
fn reads_into_split_halves_of_one_allocation_stay_in_their_half() {
    let mut ring = ring();
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);

    let mut whole = BytesMut::with_capacity(16);
    whole.put_slice(&[b'.'; 16]);
    let mut second = whole.split_off(8); // shares the allocation
    second.clear();
    assert!(second.capacity() >= 8);
    w.write_all(b"abcdefghijklmnop").unwrap();
    let (n, second) = read(&mut ring, &r, second);
    assert!(n >= 1 && n <= second.capacity());
    assert_eq!(&second[..], &b"abcdefghijklmnop"[..n]);
    assert_eq!(&whole[..], b"........", "the other half is untouched");
}

#[test]
fn write_from_bytes_static_shared_and_from_bytes_mut() {
    let mut ring = ring();
    let (mut r, w) = UnixStream::pair().unwrap();
    let w = SharedFd::from(w);

    let stat = Bytes::from_static(b"static ");
    let (n, back) = write(&mut ring, &w, stat.clone());
    assert_eq!((n, &back), (7, &stat));

    let heap = Bytes::from(b"heap ".to_vec());
    let other = heap.clone(); // read by us while the kernel reads too
    let (n, back) = write(&mut ring, &w, heap);
    assert_eq!(n, 5);
    assert_eq!(back, other);

    let (n, _) = write(&mut ring, &w, Bytes::from_static(b"-sliced-").slice(1..7));
    assert_eq!(n, 6);

    let mut m = BytesMut::with_capacity(64);
    m.put_slice(b" mut");
    let (n, _) = write(&mut ring, &w, m);
    assert_eq!(n, 4);

    let mut got = [0u8; 22];
    r.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"static heap sliced mut");
}

#[test]
fn bytes_mut_pointer_is_stable_and_valid_for_its_whole_capacity() {
    let mut b = BytesMut::with_capacity(16);
    b.put_slice(b"ab");
    let p = b.stable_mut_ptr();
    assert_eq!(p as *const u8, b.stable_ptr());
    assert_eq!((b.bytes_init(), b.bytes_total()), (2, b.capacity()));
    // SAFETY: the pointer is valid for writes of the whole capacity (IoBufMut);
    // bytes 2..6 are written before set_init(6) counts them.
    unsafe {
        p.add(2).copy_from_nonoverlapping(b"cdef".as_ptr(), 4);
        b.set_init(6);
    }
    assert_eq!(&b[..], b"abcdef");
    let moved = Box::new(b);
    assert_eq!(
        moved.stable_ptr(),
        p as *const u8,
        "moving it moves no bytes"
    );
    // set_init never shrinks.
    let mut b = *moved;
    // SAFETY: 1 <= capacity, and the first byte is initialised.
    unsafe { b.set_init(1) };
    assert_eq!(b.len(), 6);
}
