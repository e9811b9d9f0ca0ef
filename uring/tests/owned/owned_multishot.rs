//! Multishot operations in the safe layer: one id, a stream of items, ended by the
//! completion without `MORE`. Each test checks the bytes, descriptors and errnos
//! the kernel produced, and when the operation's resources come back.

use crate::support;
use support::pool_or_skip;
use support::tcp_pair;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{ItemPoll, OwnedRing, SharedFd, ops};

fn ring() -> OwnedRing {
    OwnedRing::new(16).expect("io_uring set-up")
}

/// Whether the first item says the kernel lacks the multishot form.
fn unsupported<T>(item: &std::io::Result<T>, test: &str) -> bool {
    let e = match item {
        Err(e) if errno(e) == Some(libc::EINVAL) => e,
        _ => return false,
    };
    println!("skipped: {test} because the kernel refused the multishot form ({e})");
    true
}

#[test]
fn multishot_recv_over_tcp_yields_each_message_then_cancel_ends_it() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 1, 4, 64, "recv multishot") else {
        return;
    };
    let (mut client, server) = tcp_pair();
    let server = SharedFd::from(server);
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(&server, &pool))
        .unwrap();
    let mut got = Vec::new();
    for msg in [&b"first message"[..], b"second", b"third one"] {
        client.write_all(msg).unwrap();
        let item = ring
            .next_item(&id)
            .unwrap()
            .item()
            .expect("the stream goes on");
        if got.is_empty() && unsupported(&item, "recv multishot") {
            return;
        }
        let buf = item.unwrap();
        assert_eq!(&buf[..], msg);
        assert!(buf.buffer_id().is_some());
        got.push(buf);
    }
    let mut ids: Vec<_> = got.iter().map(|b| b.buffer_id().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 3, "three distinct buffers while all are held");
    assert_eq!(pool.available(), 1);
    // The op holds a clone of the descriptor until its final completion.
    assert_eq!(server.holders(), 2);
    assert_eq!(ring.in_flight(), 1);

    ring.cancel(&id).unwrap();
    let last = ring.next_item(&id).unwrap().item().expect("the final item");
    assert_eq!(errno(&last.unwrap_err()), Some(libc::ECANCELED));
    let end = ring
        .next_item(&id)
        .unwrap()
        .end()
        .expect("the stream has ended");
    assert_eq!(end.raw_result(), -libc::ECANCELED);
    assert!(!end.rearm(), "a cancelled stream is not to be re-armed");
    // The end is reported once; then the ring knows no such stream.
    assert!(matches!(ring.poll_item(&id), ItemPoll::Gone));
    assert_eq!(errno(&ring.next_item(&id).unwrap_err()), Some(libc::ENOENT));
    assert_eq!(ring.in_flight(), 0);
    assert_eq!(
        server.holders(),
        1,
        "the op's descriptor went with the final completion"
    );
    drop(got);
    assert_eq!(
        pool.available(),
        4,
        "every buffer back after the guards dropped"
    );
}

#[test]
fn multishot_recv_ends_with_enobufs_when_the_pool_runs_dry_and_at_end_of_file() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 2, 2, 16, "recv multishot enobufs") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let r = SharedFd::from(r);
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(&r, &pool))
        .unwrap();
    let mut held = Vec::new();
    for msg in [&b"one"[..], b"two"] {
        w.write_all(msg).unwrap();
        let item = ring.next_item(&id).unwrap().item().unwrap();
        if held.is_empty() && unsupported(&item, "recv multishot enobufs") {
            return;
        }
        let buf = item.unwrap();
        assert_eq!(&buf[..], msg);
        held.push(buf);
    }
    w.write_all(b"three").unwrap();
    let last = ring.next_item(&id).unwrap().item().unwrap();
    assert_eq!(errno(&last.unwrap_err()), Some(libc::ENOBUFS));
    assert!(ring.next_item(&id).unwrap().item().is_none());
    drop(held);

    // A new stream gets the bytes left in the socket, then ends at end of file.
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(&r, &pool))
        .unwrap();
    let buf = ring.next_item(&id).unwrap().item().unwrap().unwrap();
    assert_eq!(&buf[..], b"three");
    drop(w);
    assert!(
        ring.next_item(&id).unwrap().item().is_none(),
        "end of file ends the stream"
    );
    drop(buf);
    assert_eq!(pool.available(), 2);
}

#[test]
fn multishot_accept_of_three_connections() {
    let mut ring = ring();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = SharedFd::from(listener);
    let id = ring
        .submit_multishot(ops::AcceptMultishot::new(&listener))
        .unwrap();
    ring.submit().unwrap();
    let mut clients = Vec::new();
    for i in 0..3u8 {
        let mut c = TcpStream::connect(addr).unwrap();
        c.write_all(&[b'a' + i]).unwrap();
        let item = ring
            .next_item(&id)
            .unwrap()
            .item()
            .expect("the stream goes on");
        if i == 0 && unsupported(&item, "accept multishot") {
            return;
        }
        let fd = item.unwrap();
        // The accepted socket is the peer of the client just connected.
        let mut s = TcpStream::from(fd);
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        let mut b = [0u8; 1];
        s.read_exact(&mut b).unwrap();
        assert_eq!(b[0], b'a' + i);
        // SAFETY: F_GETFD on a descriptor we own.
        let fdflags = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_GETFD) };
        assert_eq!(fdflags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
        clients.push((c, s));
    }
    ring.cancel(&id).unwrap();
    let last = ring.next_item(&id).unwrap().item().unwrap();
    assert_eq!(errno(&last.unwrap_err()), Some(libc::ECANCELED));
    assert!(ring.next_item(&id).unwrap().item().is_none());
    assert_eq!(listener.holders(), 1);
}

#[test]
fn connections_accepted_but_never_taken_are_closed_with_the_stream() {
    let mut ring = ring();
    if !multishot_accept_works(&mut ring) {
        return;
    }
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let id = ring
        .submit_multishot(ops::AcceptMultishot::new(listener))
        .unwrap();
    ring.submit().unwrap();
    let mut c = TcpStream::connect(addr).unwrap();
    // Wait until the accept has been posted, and process it without taking it.
    ring.submit_and_wait(1).unwrap();
    assert_eq!(ring.completions().count(), 0);
    ring.detach(id);
    ring.close();
    // The accepted socket was closed, not leaked: the client sees end of file
    // (or a reset).
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut b = [0u8; 1];
    match c.read(&mut b) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET)),
    }
}

/// Whether this kernel accepts in multishot mode (Linux 5.19; older ones end the
/// stream with EINVAL at once): one connection through a throw-away listener.
fn multishot_accept_works(ring: &mut OwnedRing) -> bool {
    let (id, first) = support::first_multishot_accept(ring);
    if unsupported(
        &first,
        "connections_accepted_but_never_taken_are_closed_with_the_stream",
    ) {
        return false;
    }
    first.expect("the probe connection is accepted");
    ring.cancel(&id).unwrap();
    while ring.next_item(&id).unwrap().item().is_some() {}
    true
}

#[test]
fn multishot_timeout_fires_count_times_then_ends() {
    let mut ring = ring();
    let id = ring
        .submit_multishot(ops::TimeoutMultishot::new(Duration::from_millis(1), 3))
        .unwrap();
    let items: Vec<_> = ring.items(&id).collect();
    if let Some(first) = items.first() {
        if unsupported(first, "timeout multishot (Linux 6.4)") {
            return;
        }
    }
    assert_eq!(items.len(), 3, "{items:?}");
    assert!(items.iter().all(|i| i.is_ok()));
    assert_eq!(ring.in_flight(), 0);
}

#[test]
fn multishot_poll_fires_per_event_and_is_cancelled_through_items() {
    let mut ring = ring();
    let (r, mut w) = UnixStream::pair().unwrap();
    let id = ring
        .submit_multishot(ops::PollMultishot::new(r, libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"x").unwrap();
    let mut items = ring.items(&id);
    let ev = items.next().unwrap().unwrap();
    assert_ne!(ev & libc::POLLIN as u32, 0);
    items.cancel().unwrap();
    let rest: Vec<_> = items.collect();
    let last = rest.last().expect("the final item");
    assert_eq!(errno(last.as_ref().unwrap_err()), Some(libc::ECANCELED));
    assert!(rest[..rest.len() - 1].iter().all(|i| i.is_ok()));
}

#[test]
fn dropping_the_ring_mid_stream_returns_every_buffer() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 3, 4, 16, "drop mid-stream") else {
        return;
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(r, &pool))
        .unwrap();
    w.write_all(b"a").unwrap();
    let first = ring.next_item(&id).unwrap().item().unwrap();
    if unsupported(&first, "drop mid-stream") {
        return;
    }
    let first = first.unwrap();
    w.write_all(b"b").unwrap();
    // The second item is queued in the table, not taken, when the ring goes.
    while pool.available() > 2 {
        ring.submit_and_wait(1).unwrap();
        assert_eq!(ring.completions().count(), 0);
    }
    w.write_all(b"c").unwrap();
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (1, 0));
    assert_eq!(&first[..], b"a", "a guard outlives the ring");
    drop(first);
    assert_eq!(pool.available(), 4);
}

#[test]
fn take_activity_names_each_completion_of_the_streams_that_got_one() {
    let mut ring = ring();
    let (r, mut w) = UnixStream::pair().unwrap();
    let (quiet, _quiet_w) = UnixStream::pair().unwrap();
    // Not tracking yet: nothing is recorded.
    let nop = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(1).unwrap();
    let mut keys = Vec::new();
    ring.take_activity(&mut keys).unwrap();
    assert!(keys.is_empty());
    assert_eq!(ring.wait_for(nop).unwrap().unwrap(), 0);

    ring.track_activity();
    let busy = ring
        .submit_multishot(ops::PollMultishot::new(r, libc::POLLIN as u32))
        .unwrap();
    let idle = ring
        .submit_multishot(ops::PollMultishot::new(quiet, libc::POLLIN as u32))
        .unwrap();
    ring.submit().unwrap();
    w.write_all(b"x").unwrap();
    ring.submit_and_wait(1).unwrap();
    ring.take_activity(&mut keys).unwrap();
    let item = match ring.poll_item(&busy) {
        ItemPoll::Item(item) => item,
        other => panic!("expected an item, got {other:?}"),
    };
    if unsupported(&item, "multishot poll (Linux 5.13)") {
        return;
    }
    assert_ne!(item.unwrap() & libc::POLLIN as u32, 0);
    // Only the stream that got a completion is named; the idle one is not.
    assert!(!keys.is_empty());
    assert!(keys.iter().all(|k| *k == busy.key()), "{keys:?}");
    assert!(!keys.contains(&idle.key()));
    // Each call hands over only what is new.
    keys.clear();
    ring.take_activity(&mut keys).unwrap();
    assert!(keys.is_empty());
    // The final completions of cancelled streams are activity too.
    ring.cancel(&busy).unwrap();
    ring.cancel(&idle).unwrap();
    while ring.in_flight() > 0 {
        ring.submit_and_wait(1).unwrap();
        ring.take_activity(&mut keys).unwrap();
    }
    assert!(
        keys.contains(&busy.key()) && keys.contains(&idle.key()),
        "{keys:?}"
    );
}

#[test]
fn wait_activity_reports_processed_completions_without_blocking() {
    let mut ring = ring();
    let mut keys = Vec::new();
    // Nothing in flight: an error, not a wait for ever.
    let err = ring.wait_activity(&mut keys).unwrap_err();
    assert_eq!(errno(&err), Some(libc::ENOENT));
    let a = ring.submit_op(ops::Nop::new()).unwrap();
    let b = ring.submit_op(ops::Nop::new()).unwrap();
    ring.submit_and_wait(2).unwrap();
    // Processing completions records their activity (tracking is on now)...
    assert_eq!(ring.completions().count(), 2);
    // ...which the next step reports at once, although the kernel's queue is
    // empty and nothing is in flight.
    ring.wait_activity(&mut keys).unwrap();
    assert_eq!(keys, [a.key(), b.key()]);
}

/// A full completion queue ends a multishot receive with no error and no end of
/// file: the end says so (`rearm`), and re-arming exactly then loses nothing.
#[test]
fn a_stream_ended_by_a_full_completion_queue_says_to_rearm_and_loses_nothing() {
    const TEST: &str = "multishot recv through a 4-entry completion queue";
    const TOTAL: u32 = 200;
    let builder = uring::Ring::builder().cq_entries(4);
    let mut ring = OwnedRing::from_builder(builder, 4).expect("io_uring set-up");
    let Some(pool) = pool_or_skip(&mut ring, 7, 16, 64, TEST) else {
        return;
    };
    let rx = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let tx = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    tx.connect(rx.local_addr().unwrap()).unwrap();
    let rx = SharedFd::from(rx);

    let mut id = ring
        .submit_multishot(ops::RecvMultishot::new(&rx, &pool))
        .unwrap();
    let (mut sent, mut got) = (0u32, Vec::new());
    let (mut ends, mut rearms) = (0, 0);
    while got.len() < TOTAL as usize {
        // A batch of datagrams, more than the completion queue holds.
        while sent < TOTAL && sent < got.len() as u32 + 10 {
            tx.send(&sent.to_le_bytes()).unwrap();
            sent += 1;
        }
        match ring.poll_item(&id) {
            ItemPoll::Item(item) => {
                if got.is_empty() && unsupported(&item, TEST) {
                    return;
                }
                let buf = item.expect("a datagram");
                got.push(u32::from_le_bytes(buf[..].try_into().expect("4 bytes")));
            }
            ItemPoll::Pending => {
                ring.submit_and_wait(1).unwrap();
            }
            ItemPoll::Ended(end) => {
                ends += 1;
                // No error ended it and UDP has no end of file: the kernel
                // stopped it, and says that re-arming is all it takes.
                assert!(end.raw_result() > 0, "{end:?}");
                assert!(end.rearm(), "{end:?}");
                rearms += 1;
                id = ring
                    .submit_multishot(ops::RecvMultishot::new(&rx, &pool))
                    .unwrap();
            }
            ItemPoll::Gone => panic!("the stream's end was not reported"),
        }
    }
    assert_eq!(
        got,
        (0..TOTAL).collect::<Vec<_>>(),
        "every datagram, in order"
    );
    assert_eq!(rearms, ends, "re-armed exactly when told to");
    println!("{ends} streams ended by the full completion queue, each re-armed");
    // The last stream may have ended already (its end not yet taken).
    let _ = ring.cancel(&id);
    let end = loop {
        match ring.next_item(&id).unwrap() {
            uring::owned::Next::Item(item) => {
                assert_eq!(errno(&item.unwrap_err()), Some(libc::ECANCELED));
            }
            uring::owned::Next::End(end) => break end,
        }
    };
    if end.raw_result() == -libc::ECANCELED {
        assert!(!end.rearm(), "a cancelled stream is not to be re-armed");
    } else {
        assert!(end.rearm(), "{end:?}");
    }
    assert_eq!(ring.in_flight(), 0);
}

/// Items that pile up before they are taken come out oldest first, whether one
/// is waiting or several, and those left at the stream's end are its output's,
/// in order too.
#[test]
fn items_that_pile_up_come_out_in_order_and_the_rest_with_the_end() {
    let mut ring = ring();
    let Some(pool) = pool_or_skip(&mut ring, 1, 8, 64, "recv multishot") else {
        return;
    };
    let (mut client, server) = tcp_pair();
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(server, &pool))
        .unwrap();
    ring.submit().unwrap();
    // Three messages, each received (a completion processed) before the next is
    // written, so each is an item of its own, none taken yet.
    let mut send = |ring: &mut OwnedRing, msg: &[u8]| {
        let before = pool.available();
        client.write_all(msg).unwrap();
        while pool.available() == before {
            ring.submit_and_wait(1).unwrap();
            ring.get_events().unwrap();
        }
    };
    send(&mut ring, b"one");
    let first = match ring.poll_item(&id) {
        ItemPoll::Item(item) => item,
        other => panic!("an item was processed: {other:?}"),
    };
    if unsupported(&first, "recv multishot") {
        return;
    }
    assert_eq!(&first.unwrap()[..], b"one");
    send(&mut ring, b"two");
    send(&mut ring, b"three");
    send(&mut ring, b"four");
    let take = |ring: &mut OwnedRing| match ring.poll_item(&id) {
        ItemPoll::Item(item) => item.unwrap(),
        other => panic!("an item was waiting: {other:?}"),
    };
    let two = take(&mut ring);
    assert_eq!(&two[..], b"two");
    // One taken, two waiting; one more arrives behind them.
    send(&mut ring, b"five");
    assert_eq!(&take(&mut ring)[..], b"three");
    send(&mut ring, b"six");
    // Cancel: the items not taken stay, in order, before the cancellation's
    // error and the end.
    ring.cancel(&id).unwrap();
    let mut rest = Vec::new();
    let end = loop {
        match ring.next_item(&id).unwrap() {
            uring::owned::Next::Item(item) => rest.push(item),
            uring::owned::Next::End(end) => break end,
        }
    };
    let (data, errors): (Vec<_>, Vec<_>) = rest.into_iter().partition(|r| r.is_ok());
    let data: Vec<Vec<u8>> = data.into_iter().map(|r| r.unwrap().to_vec()).collect();
    assert_eq!(data, [&b"four"[..], b"five", b"six"]);
    assert_eq!(errors.len(), 1, "the cancellation's error, last");
    assert_eq!(
        errno(errors[0].as_ref().unwrap_err()),
        Some(libc::ECANCELED)
    );
    assert_eq!(end.raw_result(), -libc::ECANCELED);
    drop(two);
    assert_eq!(pool.available(), 8, "every buffer back");
}

/// The iterators take an operation's final completion straight from the kernel's
/// queue; everything else they meet there on the way is routed as a reap would
/// route it: a multishot item stays with its stream, a detached operation is
/// dropped, a raw entry's completion goes to `raw_completions`, an operation of
/// another type (for `completions_of`) stays for `completions`; on a ring that
/// tracks activity, every key is recorded.
#[test]
fn the_iterators_route_what_they_pass_in_the_kernels_queue() {
    for (typed, tracked) in [(false, false), (true, false), (false, true), (true, true)] {
        let what = format!("typed {typed}, tracked {tracked}");
        let mut ring = ring();
        if tracked {
            ring.track_activity();
        }
        let (r, mut w) = UnixStream::pair().unwrap();
        w.write_all(b"x").unwrap();
        let poll = ring
            .submit_multishot(ops::PollMultishot::new(r, libc::POLLIN as u32))
            .unwrap();
        // The poll's item first in the queue: the iterators meet it before the
        // reads.
        ring.submit_and_wait(1).unwrap();
        let mut reads = Vec::new();
        let mut pipes = Vec::new();
        for data in [&b"one"[..], b"two"] {
            let (r, mut w) = support::pipe_files();
            w.write_all(data).unwrap();
            let id = ring
                .submit_op(ops::Read::new(r, Vec::with_capacity(8), u64::MAX))
                .unwrap();
            reads.push((id, data));
            pipes.push(w);
        }
        let nop = ring.submit_op(ops::Nop::new()).unwrap();
        let (dr, mut dw) = support::pipe_files();
        dw.write_all(b"dropped").unwrap();
        let detached = ring
            .submit_op(ops::Read::new(dr, Vec::with_capacity(8), u64::MAX))
            .unwrap();
        ring.detach(detached);
        let raw = uring::op::Nop::new().build().user_data(7);
        // SAFETY: a NOP names no memory and no descriptor.
        unsafe { ring.push_raw(&raw) }.unwrap();
        // Six completions posted (the poll's first item, two reads, the NOP, the
        // detached read, the raw NOP), none read yet: the wait does not reap.
        ring.submit_and_wait(6).unwrap();
        assert_eq!(ring.in_flight(), 5, "{what}: nothing reaped by the wait");

        let mut got = Vec::new();
        if typed {
            for (key, (n, buf)) in ring.completions_of::<ops::Read<Vec<u8>>>() {
                assert_eq!(n.unwrap(), buf.len(), "{what}");
                got.push((key, buf));
            }
            // The NOP was passed over: it is there for `completions`.
            let rest: Vec<_> = ring.completions().collect();
            assert_eq!(rest.len(), 1, "{what}: {rest:?}");
            assert!(rest[0].is_for(&nop), "{what}");
            assert_eq!(rest[0].raw_result(), 0, "{what}");
        } else {
            let mut saw_nop = false;
            for c in ring.completions() {
                if c.is_for(&nop) {
                    assert!(!saw_nop, "{what}: the NOP once");
                    saw_nop = true;
                    continue;
                }
                let key = c.key();
                let (n, buf) = c
                    .downcast::<ops::Read<Vec<u8>>>()
                    .expect("a read or the NOP");
                assert_eq!(n.unwrap(), buf.len(), "{what}");
                got.push((key, buf));
            }
            assert!(saw_nop, "{what}");
        }
        got.sort_by_key(|(key, _)| key.index());
        let want: Vec<_> = reads.iter().map(|(id, d)| (id.key(), d.to_vec())).collect();
        assert_eq!(got, want, "{what}");
        // The detached read was dropped (not yielded); the stream is in flight.
        assert_eq!(ring.in_flight(), 1, "{what}");
        let raws: Vec<_> = ring.raw_completions().map(|c| c.user_data()).collect();
        assert_eq!(raws, [7], "{what}");
        match ring.poll_item(&poll) {
            ItemPoll::Item(Ok(ev)) => assert_ne!(ev & libc::POLLIN as u32, 0, "{what}"),
            other => panic!("{what}: the poll's item, not {other:?}"),
        }
        if tracked {
            let mut keys = Vec::new();
            ring.take_activity(&mut keys).unwrap();
            for key in reads
                .iter()
                .map(|(id, _)| id.key())
                .chain([nop.key(), poll.key()])
            {
                assert!(keys.contains(&key), "{what}: {key:?} in {keys:?}");
            }
        }
    }
}
