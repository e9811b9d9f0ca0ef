//! Direct descriptors in the safe layer (`DirectTable`, `DirectFd`, the ops that
//! target them with `IOSQE_FIXED_FILE` and the ops that create, install and close
//! them): the bytes that go through them, the books of the table, and the
//! hazards — a direct descriptor dropped or closed while an operation uses it, a
//! slot asked for while held, a handle used on another ring, a full table, the
//! ring dropped first. A kernel that lacks a feature prints why the test is
//! skipped.

use crate::support;
use support::kernel_release;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{BufPool, DirectFd, DirectTable, OwnedRing, SafeRing, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// A table of `chosen` + `auto` slots on `ring` (an `OwnedRing` or a
/// `TypedRing`), or `None` (the reason printed)
/// when the kernel lacks sparse tables (5.19) or allocation ranges (6.0).
pub(crate) fn table(
    ring: &mut impl SafeRing,
    chosen: u32,
    auto: u32,
    test: &str,
) -> Option<DirectTable> {
    table_guarded(ring, chosen, auto, false, test)
}

/// As [`table`], made by `DirectTable::new_guarded` when `guarded` (its free
/// chosen slots hold a placeholder, whatever the kernel).
fn table_guarded(
    ring: &mut impl SafeRing,
    chosen: u32,
    auto: u32,
    guarded: bool,
    test: &str,
) -> Option<DirectTable> {
    let made = if guarded {
        DirectTable::new_guarded(ring, chosen, auto)
    } else {
        DirectTable::new(ring, chosen, auto)
    };
    match made {
        Ok(t) => Some(t),
        Err(e) if errno(&e) == Some(libc::EINVAL) => {
            support::skip(
                test,
                &format!(
                    "this kernel ({}) refused a sparse registered-file table \
                 or its allocation range ({e}); Linux 5.19 and 6.0 are needed",
                    kernel_release()
                ),
            );
            None
        }
        Err(e) => panic!("registering a direct table: {e}"),
    }
}

fn lacks(code: u8, name: &str, since: &str, test: &str) -> bool {
    if uring::probe::probe().expect("probe").is_supported(code) {
        return false;
    }
    support::skip(
        test,
        &format!(
            "this kernel ({}) lacks {name} (Linux {since})",
            kernel_release()
        ),
    );
    true
}

/// Byte `k` of stream `s`: any mix-up shows.
fn byte(s: usize, k: usize) -> u8 {
    (s.wrapping_mul(151) ^ k.wrapping_mul(13) ^ (k >> 8)) as u8
}

#[test]
fn bytes_go_through_direct_descriptors_both_ways() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "bytes_go_through_direct_descriptors_both_ways";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 4, 4, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    assert!(direct.index() < 4, "insert uses the chosen range");
    assert_eq!(table.in_use(), 1);

    let out: Vec<u8> = (0..5000).map(|k| byte(1, k)).collect();
    let id = ring
        .submit_op(ops::Send::new(&direct, out.clone()))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), out.len());
    let mut got = vec![0u8; out.len()];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(got, out);

    let back: Vec<u8> = (0..3000).map(|k| byte(2, k)).collect();
    mine.write_all(&back).unwrap();
    let mut received = Vec::new();
    while received.len() < back.len() {
        let id = ring
            .submit_op(ops::Recv::new(&direct, Vec::with_capacity(4096)))
            .unwrap();
        let (n, buf) = ring.wait_for(id).unwrap();
        assert!(n.unwrap() > 0);
        received.extend_from_slice(&buf);
    }
    assert_eq!(received, back);

    // Read and Write too, on a pipe.
    let (r, w) = support::pipe();
    let (r, w) = (table.insert(r).unwrap(), table.insert(w).unwrap());
    let id = ring
        .submit_op(ops::Write::new(&w, b"pipe".to_vec(), u64::MAX))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 4);
    let id = ring
        .submit_op(ops::Read::new(&r, Vec::with_capacity(8), u64::MAX))
        .unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"pipe"[..]));
    assert_eq!(table.in_use(), 3);

    // Dropping the handle closes the slot: the peer sees end of file.
    drop(direct);
    assert_eq!(table.in_use(), 2);
    assert_eq!(mine.read(&mut got).unwrap(), 0);
}

#[test]
fn a_direct_descriptor_is_refused_by_another_ring() {
    let test = "a_direct_descriptor_is_refused_by_another_ring";
    let mut a = ring();
    let mut b = ring();
    let Some(ta) = table(&mut a, 2, 0, test) else {
        return;
    };
    let Some(_tb) = table(&mut b, 2, 0, test) else {
        return;
    };
    let fd = ta
        .insert(std::fs::File::open("/dev/zero").unwrap())
        .unwrap();
    assert!(fd.is_on(&a) && !fd.is_on(&b));
    // Same index exists in b's table (empty): it must never be used there.
    let refused = b
        .submit_op(ops::Read::new(&fd, vec![0u8; 4], 0))
        .unwrap_err();
    assert_eq!(errno(&refused.error), Some(libc::EXDEV));
    // A pool of b with a descriptor of a: bound to two rings, refused by both.
    if let Ok(pool) = BufPool::new(&mut b, 1, 2, 64) {
        let op = ops::RecvSelect::new(&fd, &pool);
        assert_eq!(
            errno(&b.submit_op(op).unwrap_err().error),
            Some(libc::EXDEV)
        );
        let op = ops::RecvSelect::new(&fd, &pool);
        assert_eq!(
            errno(&a.submit_op(op).unwrap_err().error),
            Some(libc::EXDEV)
        );
    }
    // On its own ring it works.
    let id = a.submit_op(ops::Read::new(&fd, vec![1u8; 4], 0)).unwrap();
    assert_eq!(a.wait_for(id).unwrap().1, vec![0u8; 4]);
}

#[test]
fn a_descriptor_dropped_while_an_operation_uses_it_stays_until_the_operation_ends() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "a_descriptor_dropped_while_an_operation_uses_it_stays_until_the_operation_ends";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 1, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    let index = direct.index();
    let id = ring
        .submit_op(ops::Recv::new(&direct, Vec::with_capacity(16)))
        .unwrap();
    ring.submit().unwrap();
    drop(direct); // the caller's handle; the recv holds the slot
    assert_eq!(table.in_use(), 1);
    // The slot cannot be taken for another file meanwhile.
    assert_eq!(
        errno(&table.reserve_at(index).unwrap_err()),
        Some(libc::EBUSY)
    );
    assert_eq!(
        errno(
            &table
                .insert(std::fs::File::open("/dev/null").unwrap())
                .unwrap_err()
        ),
        Some(libc::ENFILE)
    );
    mine.write_all(b"still there").unwrap();
    let (n, buf) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &buf[..]), (11, &b"still there"[..]));
    drop(buf);
    // The operation was the last holder: the slot is closed and free again.
    assert_eq!(table.in_use(), 0);
    let mut rest = [0u8; 1];
    assert_eq!(mine.read(&mut rest).unwrap(), 0, "the socket was closed");
    assert_eq!(table.reserve_at(index).unwrap().index(), index);
}

#[test]
fn a_queued_operation_keeps_its_slot_even_when_its_handle_is_closed_first() {
    let test = "a_queued_operation_keeps_its_slot_even_when_its_handle_is_closed_first";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 1, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    // Queued, not yet submitted: the kernel resolves the slot only later.
    let id = ring
        .submit_op(ops::Send::new(&direct, b"queued".to_vec()))
        .unwrap();
    // Closing explicitly is refused while the send holds it…
    let direct = ops::CloseDirect::new(direct).unwrap_err();
    drop(direct);
    // …and no other file can take the slot before the send ran.
    let (_other, other_peer) = UnixStream::pair().unwrap();
    assert_eq!(
        errno(&table.insert(other_peer).unwrap_err()),
        Some(libc::ENFILE)
    );
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 6);
    let mut got = [0u8; 6];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"queued");
    assert_eq!(table.in_use(), 0);
}

#[test]
fn close_direct_closes_an_unshared_slot() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "close_direct_closes_an_unshared_slot";
    // Guarded, a chosen slot is closed by putting the placeholder back.
    for guarded in [false, true] {
        let mut ring = ring();
        let Some(table) = table_guarded(&mut ring, 2, 0, guarded, test) else {
            return;
        };
        let (mut mine, theirs) = UnixStream::pair().unwrap();
        let fd = table.insert(theirs).unwrap();
        let index = fd.index();
        let id = ring.submit_op(ops::CloseDirect::new(fd).unwrap()).unwrap();
        ring.wait_for(id).unwrap().unwrap();
        assert_eq!(table.in_use(), 0);
        let mut b = [0u8; 1];
        assert_eq!(mine.read(&mut b).unwrap(), 0, "the kernel closed it");
        // The slot is free for the next file, which works there.
        let (mut mine, theirs) = UnixStream::pair().unwrap();
        let fd = table.insert(theirs).unwrap();
        assert_eq!(fd.index(), index, "the slot closed last is reused first");
        let id = ring
            .submit_op(ops::Send::new(&fd, b"again".to_vec()))
            .unwrap();
        assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 5);
        let mut got = [0u8; 5];
        mine.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"again");
    }
}

/// Kernel-picked slots stay in the kernel range after the table fills,
/// empties (by drop and by `CloseDirect`) and reserves chosen slots — the
/// updates that send a straying kernel's next pick into the chosen range —
/// and a full kernel range says `ENFILE` though chosen slots are vacant.
#[test]
fn kernel_picks_stay_out_of_the_chosen_slots_the_table_updates() {
    let test = "kernel_picks_stay_out_of_the_chosen_slots_the_table_updates";
    for guarded in [false, true] {
        let mut ring = ring();
        let Some(table) = table_guarded(&mut ring, 4, 4, guarded, test) else {
            return;
        };
        assert!(!guarded || table.guards_chosen_slots());
        let socket = |ring: &mut OwnedRing| {
            let op = ops::SocketDirect::new(&table, libc::AF_UNIX, libc::SOCK_DGRAM, 0);
            let id = ring.submit_op(op).unwrap();
            ring.wait_for(id).unwrap()
        };
        let kept = table
            .insert(std::fs::File::open("/dev/null").unwrap())
            .unwrap();
        let reserved = table.reserve().unwrap();
        let dropped = table
            .insert(std::fs::File::open("/dev/null").unwrap())
            .unwrap();
        let emptied = dropped.index();
        drop(dropped);
        let mut picked = vec![socket(&mut ring).unwrap()];
        let closed = table
            .insert(std::fs::File::open("/dev/null").unwrap())
            .unwrap();
        let id = ring
            .submit_op(ops::CloseDirect::new(closed).unwrap())
            .unwrap();
        ring.wait_for(id).unwrap().unwrap();
        for _ in 0..3 {
            picked.push(socket(&mut ring).unwrap());
        }
        let mut slots: Vec<u32> = picked.iter().map(DirectFd::index).collect();
        slots.sort();
        assert_eq!(
            slots,
            vec![4, 5, 6, 7],
            "picks after chosen slots {} (filled), {emptied} (emptied) and {} \
             (reserved) changed ({table:?}, {})",
            kept.index(),
            reserved.index(),
            kernel_release()
        );
        assert_eq!(
            errno(&socket(&mut ring).unwrap_err()),
            Some(libc::ENFILE),
            "the kernel range is full; the vacant chosen slots are not the kernel's"
        );
        // The reserved slot is still the table's to fill.
        let at = reserved.index();
        let op = ops::SocketDirect::at(reserved, libc::AF_UNIX, libc::SOCK_DGRAM, 0);
        let id = ring.submit_op(op).unwrap();
        assert_eq!(ring.wait_for(id).unwrap().unwrap().index(), at);
        // A freed kernel slot is picked again.
        let freed = picked.swap_remove(1).index();
        assert_eq!(socket(&mut ring).unwrap().index(), freed);
    }
}

#[test]
fn reservations_are_checked_and_freed_when_unused() {
    let test = "reservations_are_checked_and_freed_when_unused";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 2, test) else {
        return;
    };
    assert_eq!(errno(&table.reserve_at(2).unwrap_err()), Some(libc::EINVAL));
    let a = table.reserve().unwrap();
    let b = table.reserve().unwrap();
    assert_ne!(a.index(), b.index());
    let e = table.reserve().unwrap_err();
    assert_eq!(errno(&e), Some(libc::ENFILE));
    assert!(e.to_string().contains("chosen slots"), "{e}");
    assert_eq!(table.in_use(), 2);
    drop(a);
    assert_eq!(table.in_use(), 1);
    // An open that fails gives its reserved slot back.
    let slot = table.reserve().unwrap();
    let id = ring
        .submit_op(ops::OpenAtDirect::at(slot, "/nonexistent/file", libc::O_RDONLY).unwrap())
        .unwrap();
    assert_eq!(
        errno(&ring.wait_for(id).unwrap().unwrap_err()),
        Some(libc::ENOENT)
    );
    assert_eq!(table.in_use(), 1);
    // A table on a ring that has one already is refused.
    assert_eq!(
        errno(&DirectTable::new(&mut ring, 1, 0).unwrap_err()),
        Some(libc::EBUSY)
    );
    assert_eq!(
        errno(&DirectTable::new(&mut OwnedRing::new(2).unwrap(), 0, 0).unwrap_err()),
        Some(libc::EINVAL)
    );
}

#[test]
fn sockets_opened_connected_and_accepted_as_direct_descriptors_carry_bytes() {
    let test = "sockets_opened_connected_and_accepted_as_direct_descriptors_carry_bytes";
    for guarded in [false, true] {
        let mut ring = ring();
        let Some(table) = table_guarded(&mut ring, 4, 4, guarded, test) else {
            return;
        };
        sockets_carry_bytes(&mut ring, &table);
    }
}

fn sockets_carry_bytes(ring: &mut OwnedRing, table: &DirectTable) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let lst = table.insert(listener).unwrap();
    // A client socket in a chosen slot, connected.
    let slot = table.reserve().unwrap();
    let at = slot.index();
    let id = ring
        .submit_op(ops::SocketDirect::at(
            slot,
            libc::AF_INET,
            libc::SOCK_STREAM,
            0,
        ))
        .unwrap();
    let client = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(client.index(), at);
    let accept = ring.submit_op(ops::AcceptDirect::new(&lst, table)).unwrap();
    let id = ring.submit_op(ops::Connect::new(&client, addr)).unwrap();
    ring.wait_for(id).unwrap().unwrap();
    let server = ring.wait_for(accept).unwrap().unwrap();
    // The chosen slots were just filled (0 and 1): a kernel whose picks stray
    // (Debian's 6.16.12 to 6.18.15) would pick 2 here, were the table not guarded.
    assert!(
        (4..8).contains(&server.index()),
        "the kernel picked slot {} outside its range 4..8 ({:?}, {})",
        server.index(),
        table,
        kernel_release()
    );
    let msg: Vec<u8> = (0..20_000).map(|k| byte(3, k)).collect();
    let send = ring
        .submit_op(ops::Send::new(&client, msg.clone()))
        .unwrap();
    let mut got = Vec::new();
    while got.len() < msg.len() {
        let id = ring
            .submit_op(ops::Recv::new(&server, Vec::with_capacity(8192)))
            .unwrap();
        let (n, buf) = ring.wait_for(id).unwrap();
        assert!(n.unwrap() > 0);
        got.extend_from_slice(&buf);
    }
    assert_eq!(ring.wait_for(send).unwrap().0.unwrap(), msg.len());
    assert_eq!(got, msg);
    let id = ring
        .submit_op(ops::Shutdown::new(&client, libc::SHUT_WR))
        .unwrap();
    ring.wait_for(id).unwrap().unwrap();
    let id = ring
        .submit_op(ops::Recv::new(&server, Vec::with_capacity(8)))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 0, "end of stream");
}

#[test]
fn multishot_accept_fills_the_kernel_range_then_ends_with_enfile() {
    let test = "multishot_accept_fills_the_kernel_range_then_ends_with_enfile";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 1, 3, test) else {
        return;
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let id = ring
        .submit_multishot(ops::AcceptMultishotDirect::new(listener, &table))
        .unwrap();
    let clients: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut got: Vec<DirectFd> = Vec::new();
    let end = loop {
        match ring.next_item(&id).unwrap().item() {
            Some(Ok(fd)) => got.push(fd),
            Some(Err(e)) => break e,
            None => panic!("ended without an error"),
        }
    };
    assert_eq!(errno(&end), Some(libc::ENFILE), "the kernel range is full");
    let mut slots: Vec<u32> = got.iter().map(DirectFd::index).collect();
    slots.sort();
    assert_eq!(
        slots,
        vec![1, 2, 3],
        "exactly the kernel range, never the chosen slot"
    );
    // Each accepted socket is the right peer of a client: echo a byte through.
    for (i, fd) in got.iter().enumerate() {
        let id = ring.submit_op(ops::Send::new(fd, vec![i as u8])).unwrap();
        ring.wait_for(id).unwrap().0.unwrap();
    }
    let mut seen = Vec::new();
    for c in &clients[..3] {
        let mut b = [0u8; 1];
        let mut c = c;
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.read_exact(&mut b).unwrap();
        seen.push(b[0]);
    }
    seen.sort();
    assert_eq!(seen, vec![0, 1, 2]);
    drop(got);
    assert_eq!(table.in_use(), 0);
}

#[test]
fn install_direct_makes_a_plain_close_on_exec_descriptor_of_the_same_file() {
    let test = "install_direct_makes_a_plain_close_on_exec_descriptor_of_the_same_file";
    if lacks(
        uring::op::FixedFdInstall::CODE,
        "IORING_OP_FIXED_FD_INSTALL",
        "6.8",
        test,
    ) {
        return;
    }
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    let id = ring.submit_op(ops::InstallDirect::new(&direct)).unwrap();
    let plain = ring.wait_for(id).unwrap().unwrap();
    // SAFETY: F_GETFD on a descriptor we own touches no memory.
    let fl = unsafe { libc::fcntl(plain.as_raw_fd(), libc::F_GETFD) };
    assert!(fl >= 0 && fl & libc::FD_CLOEXEC != 0);
    let mut plain = UnixStream::from(plain);
    plain.write_all(b"plain").unwrap();
    let mut got = [0u8; 5];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"plain");
    // The direct one still works and is independent.
    drop(plain);
    let id = ring
        .submit_op(ops::Send::new(&direct, b"direct".to_vec()))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 6);
    let mut got = [0u8; 6];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"direct");
}

#[test]
fn the_ring_dropped_with_a_direct_recv_in_flight_then_the_handle() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "the_ring_dropped_with_a_direct_recv_in_flight_then_the_handle";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();
    let _id = ring
        .submit_op(ops::Recv::new(&direct, Vec::with_capacity(64)))
        .unwrap();
    ring.submit().unwrap();
    ring.set_drop_timeout(Duration::from_secs(5));
    drop(ring); // cancels the recv and waits for it
    assert_eq!(table.in_use(), 1, "the handle still holds its slot");
    drop(direct); // empties the slot through the table's own ring descriptor
    assert_eq!(table.in_use(), 0);
    let mut b = [0u8; 1];
    assert_eq!(mine.read(&mut b).unwrap(), 0);
}

#[test]
fn a_direct_pipe_carries_bytes_in_picked_or_reserved_slots() {
    // Checks that the last copy of a descriptor is closed.
    let _no_forks = support::no_forks();
    let test = "a_direct_pipe_carries_bytes_in_picked_or_reserved_slots";
    if lacks(uring::op::Pipe::CODE, "IORING_OP_PIPE", "6.16", test) {
        return;
    }
    let mut ring = ring();
    let Some(table) = table(&mut ring, 4, 4, test) else {
        return;
    };
    let id = ring.submit_op(ops::PipeDirect::new(&table)).unwrap();
    let (r, w) = ring.wait_for(id).unwrap().unwrap();
    assert!(r.index() >= 4 && w.index() >= 4 && r.index() != w.index());
    let data: Vec<u8> = (0..3000).map(|k| byte(4, k)).collect();
    let id = ring
        .submit_op(ops::Write::new(&w, data.clone(), u64::MAX))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), data.len());
    drop(w); // the only write end: the reader then sees end of file
    let mut got = Vec::new();
    loop {
        let id = ring
            .submit_op(ops::Read::new(&r, Vec::with_capacity(1024), u64::MAX))
            .unwrap();
        let (n, buf) = ring.wait_for(id).unwrap();
        if n.unwrap() == 0 {
            break;
        }
        got.extend_from_slice(&buf);
    }
    assert_eq!(got, data);
    drop(r);
    assert_eq!(table.in_use(), 0);

    // Reserved slots: consecutive, or refused (and given back).
    let a = table.reserve_at(0).unwrap();
    let c = table.reserve_at(2).unwrap();
    let (e, a, c) = ops::PipeDirect::at(a, c).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL));
    drop(c);
    let b = table.reserve_at(1).unwrap();
    let id = ring.submit_op(ops::PipeDirect::at(a, b).unwrap()).unwrap();
    let (r, w) = ring.wait_for(id).unwrap().unwrap();
    assert_eq!((r.index(), w.index()), (0, 1));
    let id = ring
        .submit_op(ops::Write::new(&w, b"slots".to_vec(), u64::MAX))
        .unwrap();
    ring.wait_for(id).unwrap().0.unwrap();
    let id = ring
        .submit_op(ops::Read::new(&r, Vec::with_capacity(8), u64::MAX))
        .unwrap();
    assert_eq!(&ring.wait_for(id).unwrap().1[..], b"slots");
}

#[test]
fn vectored_and_message_ops_carry_bytes_through_direct_descriptors() {
    let test = "vectored_and_message_ops_carry_bytes_through_direct_descriptors";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 2, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let direct = table.insert(theirs).unwrap();

    let out = vec![b"ab".to_vec(), (0..3000).map(|k| byte(4, k)).collect()];
    let id = ring
        .submit_op(ops::Writev::new(&direct, out.clone(), u64::MAX))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 3002);
    let mut got = vec![0u8; 3002];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(got, out.concat());

    mine.write_all(b"123456").unwrap();
    let bufs = vec![Vec::with_capacity(2), Vec::with_capacity(8)];
    let id = ring
        .submit_op(ops::Readv::new(&direct, bufs, u64::MAX))
        .unwrap();
    let (n, bufs) = ring.wait_for(id).unwrap();
    assert_eq!(n.unwrap(), 6);
    assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"12"[..], &b"3456"[..]));

    let id = ring
        .submit_op(ops::SendMsg::new(
            &direct,
            vec![b"msg ".to_vec(), b"parts".to_vec()],
        ))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().0.unwrap(), 9);
    let mut got = [0u8; 9];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"msg parts");

    mine.write_all(b"received").unwrap();
    let bufs = vec![Vec::with_capacity(3), Vec::with_capacity(16)];
    let id = ring.submit_op(ops::RecvMsg::new(&direct, bufs)).unwrap();
    let (got, bufs) = ring.wait_for(id).unwrap();
    assert_eq!(got.unwrap().len, 8);
    assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"rec"[..], &b"eived"[..]));
    assert_eq!(table.in_use(), 1, "every operation gave its share back");
}

#[test]
fn splice_and_tee_move_bytes_between_direct_descriptors() {
    let test = "splice_and_tee_move_bytes_between_direct_descriptors";
    let mut ring = ring();
    let Some(table) = table(&mut ring, 6, 0, test) else {
        return;
    };
    let (mut mine, theirs) = UnixStream::pair().unwrap();
    let sock = table.insert(theirs).unwrap();
    let (r1, w1) = support::pipe();
    let (r1, w1) = (table.insert(r1).unwrap(), table.insert(w1).unwrap());
    let (r2, w2) = support::pipe();
    let (r2, w2) = (table.insert(r2).unwrap(), table.insert(w2).unwrap());

    // Socket (direct, SPLICE_F_FD_IN_FIXED) into a pipe (direct output).
    mine.write_all(b"spliced bytes").unwrap();
    let id = ring
        .submit_op(ops::Splice::new(&sock, None, &w1, None, 13))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 13);
    // Tee them, direct to direct, into the second pipe: still in the first.
    let id = ring.submit_op(ops::Tee::new(&r1, &w2, 64)).unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 13);
    let id = ring
        .submit_op(ops::Read::new(&r2, Vec::with_capacity(32), u64::MAX))
        .unwrap();
    let (n, copy) = ring.wait_for(id).unwrap();
    assert_eq!((n.unwrap(), &copy[..]), (13, &b"spliced bytes"[..]));
    // And from the first pipe back out through the socket.
    let id = ring
        .submit_op(ops::Splice::new(&r1, None, &sock, None, 64))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 13);
    let mut got = [0u8; 13];
    mine.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"spliced bytes");
    // A plain side works with a direct one.
    let (pr, pw) = support::pipe();
    let mut pr = std::fs::File::from(pr);
    mine.write_all(b"mixed").unwrap();
    let id = ring
        .submit_op(ops::Splice::new(&sock, None, pw, None, 5))
        .unwrap();
    assert_eq!(ring.wait_for(id).unwrap().unwrap(), 5);
    let mut got = [0u8; 5];
    pr.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"mixed");
    assert_eq!(table.in_use(), 5);
}

fn refused<T>(e: uring::owned::SubmitError<T>) -> Option<i32> {
    errno(&e.error)
}

#[test]
fn vectored_message_and_splice_ops_refuse_another_rings_direct_descriptor() {
    let test = "vectored_message_and_splice_ops_refuse_another_rings_direct_descriptor";
    let mut a = ring();
    let mut b = ring();
    let Some(ta) = table(&mut a, 2, 0, test) else {
        return;
    };
    let Some(tb) = table(&mut b, 2, 0, test) else {
        return;
    };
    let (_peer, sock) = UnixStream::pair().unwrap();
    let fa = ta.insert(sock).unwrap();
    let (r, w) = support::pipe();
    let (fb, plain) = (tb.insert(r).unwrap(), w);
    let exdev = Some(libc::EXDEV);
    let bufs = || vec![vec![0u8; 4]];
    assert_eq!(
        refused(b.submit_op(ops::Readv::new(&fa, bufs(), 0)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::Writev::new(&fa, bufs(), 0)).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::SendMsg::new(&fa, bufs())).unwrap_err()),
        exdev
    );
    assert_eq!(
        refused(b.submit_op(ops::RecvMsg::new(&fa, bufs())).unwrap_err()),
        exdev
    );
    // One side of each ring: refused by both.
    for ring in [&mut a, &mut b] {
        assert_eq!(
            refused(
                ring.submit_op(ops::Splice::new(&fa, None, &fb, None, 4))
                    .unwrap_err()
            ),
            exdev
        );
        assert_eq!(
            refused(ring.submit_op(ops::Tee::new(&fb, &fa, 4)).unwrap_err()),
            exdev
        );
    }
    // A plain side binds nothing: only the direct side's ring takes it.
    assert_eq!(
        refused(
            a.submit_op(ops::Splice::new(&fb, None, plain, None, 4))
                .unwrap_err()
        ),
        exdev
    );
    assert_eq!(ta.in_use(), 1);
    assert_eq!(tb.in_use(), 1);
}

/// A long read on a direct descriptor in flight while its handle is closed
/// (refused, then dropped), its slot asked for again (refused), the kernel
/// picks slots (never that one) and the descriptor is moved to another ring:
/// the read still reads its own file, and only its completion frees the slot,
/// which then takes another file. Both with and without a guarded table.
#[test]
fn a_long_direct_read_keeps_its_slot_through_close_reuse_picks_and_a_move() {
    // Checks that the last copy of the socket is closed.
    let _no_forks = support::no_forks();
    let test = "a_long_direct_read_keeps_its_slot_through_close_reuse_picks_and_a_move";
    for guarded in [false, true] {
        let mut ring = ring();
        let Some(table) = table_guarded(&mut ring, 1, 2, guarded, test) else {
            return;
        };
        let mut there = self::ring();
        let Some(_theirs) = table_guarded(&mut there, 0, 2, guarded, test) else {
            return;
        };
        let (mut w, r) = UnixStream::pair().unwrap();
        let rd = table.insert(r).unwrap();
        let index = rd.index();
        let read = ring
            .submit_op(ops::Read::new(&rd, Vec::with_capacity(64), u64::MAX))
            .unwrap();
        ring.submit().unwrap();

        // Closing is refused while the read holds the slot: the handle comes back.
        let rd = ops::CloseDirect::new(rd).unwrap_err();
        // Moving it is not: the other ring gets the same file, this slot stays.
        let id = ring
            .submit_op(ops::SendDirect::new(rd, &there.mailbox().unwrap(), 3))
            .unwrap();
        ring.wait_for(id).unwrap().map_err(|(e, _)| e).unwrap();
        let (moved, tag) = there.wait_received().unwrap();
        assert_eq!(tag, 3);
        assert_eq!(table.in_use(), 1, "the read still holds slot {index}");
        assert_eq!(
            errno(&table.reserve_at(index).unwrap_err()),
            Some(libc::EBUSY)
        );
        assert_eq!(
            errno(
                &table
                    .insert(std::fs::File::open("/dev/null").unwrap())
                    .unwrap_err()
            ),
            Some(libc::ENFILE)
        );
        // The kernel picks the other two slots, never the read's.
        let mut picked = Vec::new();
        for _ in 0..2 {
            let op = ops::SocketDirect::new(&table, libc::AF_UNIX, libc::SOCK_DGRAM, 0);
            let id = ring.submit_op(op).unwrap();
            picked.push(ring.wait_for(id).unwrap().unwrap());
        }
        let mut slots: Vec<u32> = picked.iter().map(DirectFd::index).collect();
        slots.sort();
        assert_eq!(slots, vec![1, 2]);

        // The read reads its socket.
        w.write_all(b"to the read in flight").unwrap();
        let (n, buf) = ring.wait_for(read).unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (21, &b"to the read in flight"[..]));
        assert_eq!(table.in_use(), 2, "the read's completion freed the slot");
        // The moved copy still reads the same socket.
        w.write_all(b"moved").unwrap();
        let id = there
            .submit_op(ops::Read::new(&moved, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        assert_eq!(&there.wait_for(id).unwrap().1[..], b"moved");
        drop(moved);
        drop(there);
        // Every copy is gone (before Linux 6.13 the kernel may drop the last
        // a little later): the peer sees the end of the stream.
        let mut b = [0u8; 1];
        assert_eq!(w.read(&mut b).unwrap(), 0);
        // The slot takes another file, and names only it.
        let (r2, w2) = support::pipe();
        let mut w2 = std::fs::File::from(w2);
        let rd2 = table.insert(r2).unwrap();
        assert_eq!(rd2.index(), index);
        w2.write_all(b"new file").unwrap();
        let id = ring
            .submit_op(ops::Read::new(&rd2, Vec::with_capacity(16), u64::MAX))
            .unwrap();
        assert_eq!(&ring.wait_for(id).unwrap().1[..], b"new file");
    }
}

/// A long read cancelled, and a long read on a descriptor dropped before the
/// ring: each completes (`ECANCELED`) before its slot is freed.
#[test]
fn a_cancelled_long_direct_read_frees_its_slot_only_at_its_completion() {
    let test = "a_cancelled_long_direct_read_frees_its_slot_only_at_its_completion";
    for guarded in [false, true] {
        let mut ring = ring();
        let Some(table) = table_guarded(&mut ring, 1, 0, guarded, test) else {
            return;
        };
        let (r, _w) = support::pipe();
        let rd = table.insert(r).unwrap();
        let read = ring
            .submit_op(ops::Read::new(&rd, Vec::with_capacity(64), u64::MAX))
            .unwrap();
        ring.submit().unwrap();
        drop(rd);
        assert_eq!(table.in_use(), 1);
        ring.cancel(&read).unwrap();
        let (n, _buf) = ring.wait_for(read).unwrap();
        assert_eq!(errno(&n.unwrap_err()), Some(libc::ECANCELED));
        assert_eq!(table.in_use(), 0);
        assert_eq!(table.reserve_at(0).unwrap().index(), 0);
    }
}
