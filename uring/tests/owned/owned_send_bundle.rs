//! Send queues and bundle sends (`SendQueue`, `SendBundle`) over TCP loopback:
//! the bytes the peer receives, the buffers handed back, partial sends finished
//! by a later bundle, one bundle at a time, the queue bound to its ring, and
//! rings dropped or forgotten with a bundle blocked in flight. A kernel without
//! bundles (before Linux 6.10) prints why each test is skipped.

use crate::support;

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use uring::error::errno;
use uring::owned::{OpId, OwnedRing, SendBundle, SendQueue, SharedFd};

/// A ring and a send queue of `capacity` buffers as group `group`, or `None`
/// (the reason printed) when the kernel lacks bundle sends.
fn setup(group: u16, capacity: u16, test: &str) -> Option<(OwnedRing, SendQueue)> {
    let mut ring = OwnedRing::new(16).expect("io_uring set-up");
    let features = ring.ring().features();
    if !support::has_feature(features, uring::Features::RECVSEND_BUNDLE, test) {
        return None;
    }
    match SendQueue::new(&mut ring, group, capacity) {
        Ok(q) => Some((ring, q)),
        Err(e) => panic!("a send queue on a kernel with bundles: {e}"),
    }
}

/// The byte at offset `k` of a test stream: position-dependent, so any reordering
/// or loss shows.
fn byte(k: usize) -> u8 {
    (k.wrapping_mul(2_654_435_761) >> 13) as u8
}

/// Buffers of the given sizes cut from the test stream starting at offset `from`.
fn stream_bufs(from: usize, sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut k = from;
    sizes
        .iter()
        .map(|&n| {
            let b = (k..k + n).map(byte).collect();
            k += n;
            b
        })
        .collect()
}

/// Pushes onto `queue` buffers of the given sizes cut from the test stream starting
/// at offset `from` ([`stream_bufs`]); returns them, as pushed, and their total.
fn queue_stream(queue: &SendQueue, from: usize, sizes: &[usize]) -> (Vec<Vec<u8>>, usize) {
    let bufs = stream_bufs(from, sizes);
    for b in &bufs {
        queue.push(b.clone()).unwrap();
    }
    (bufs, sizes.iter().sum())
}

fn setsockopt(fd: &impl AsRawFd, opt: i32, value: i32) {
    // SAFETY: a valid socket and an int option, by pointer and length.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&value as *const i32).cast(),
            4,
        )
    };
    assert_eq!(r, 0, "setsockopt: {}", std::io::Error::last_os_error());
}

/// A connected TCP loopback pair `(sender, peer)`. With `small`, both socket
/// buffers are small (so a peer that does not read soon blocks the sender).
fn tcp_pair(small: bool) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    if small {
        // Inherited by the accepted socket; set before the handshake so the
        // window stays small.
        setsockopt(&listener, libc::SO_RCVBUF, 4096);
    }
    let sender = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    if small {
        setsockopt(&sender, libc::SO_SNDBUF, 4096);
    }
    let (peer, _) = listener.accept().unwrap();
    (sender, peer)
}

/// Writes the test stream from offset 0 into `sock` until its buffers are full,
/// and stay full a while (acknowledgements arriving late can free room, which a
/// bundle would then fill before waiting); returns how many bytes went in. The
/// socket is blocking again afterwards.
fn fill(sock: &TcpStream) -> usize {
    sock.set_nonblocking(true).unwrap();
    let mut n = 0;
    let mut s = sock;
    let mut quiet = 0;
    while quiet < 3 {
        let before = n;
        loop {
            let chunk: Vec<u8> = (n..n + 1024).map(byte).collect();
            match s.write(&chunk) {
                Ok(w) => n += w,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("filling the socket: {e}"),
            }
        }
        quiet = if n == before { quiet + 1 } else { 0 };
        std::thread::sleep(Duration::from_millis(20));
    }
    sock.set_nonblocking(false).unwrap();
    n
}

/// Reads exactly `n` bytes from `peer` on another thread.
fn read_on_thread(mut peer: TcpStream, n: usize) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut got = vec![0u8; n];
        peer.read_exact(&mut got)
            .expect("the peer reads everything");
        got
    })
}

fn expect_stream(got: &[u8], from: usize, what: &str) {
    for (i, &b) in got.iter().enumerate() {
        assert_eq!(
            b,
            byte(from + i),
            "{what}: byte {i} (stream offset {}) differs",
            from + i
        );
    }
}

/// Submits a bundle of all `queue` holds on `sender`, whose peer does not read, and
/// gives it 100 ms: the socket takes part, and the bundle waits for room (bundles
/// imply `MSG_WAITALL`). `MSG_NOSIGNAL`: the peer's reset is an error, not `SIGPIPE`.
fn bundle_to_a_peer_that_does_not_read(
    ring: &mut OwnedRing,
    sender: TcpStream,
    queue: &SendQueue,
) -> OpId<SendBundle> {
    let id = ring
        .submit_op(
            SendBundle::new(sender, queue)
                .unwrap()
                .flags(libc::MSG_NOSIGNAL),
        )
        .unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    id
}

#[test]
fn one_bundle_sends_every_queued_buffer_in_order_and_hands_them_back() {
    let Some((mut ring, queue)) = setup(1, 8, "bundle_in_order") else {
        return;
    };
    let (sender, peer) = tcp_pair(false);
    let sizes = [5, 1, 300, 17, 4096, 2];
    let (bufs, total) = queue_stream(&queue, 0, &sizes);
    assert_eq!((queue.len(), queue.queued_bytes()), (sizes.len(), total));

    let reader = read_on_thread(peer, total);
    let id = ring
        .submit_op(SendBundle::new(sender, &queue).unwrap())
        .unwrap();
    let sent = ring.wait_for(id).unwrap().expect("the bundle sends");
    assert_eq!(sent.bytes(), total, "one bundle sent everything");
    assert!(sent.error().is_none());
    assert_eq!(
        sent.bufs(),
        &bufs[..],
        "exactly the pushed buffers, in order"
    );
    assert!(queue.is_empty());
    assert_eq!(queue.queued_bytes(), 0);

    let got = reader.join().unwrap();
    expect_stream(&got, 0, "peer");
}

#[test]
fn a_bundle_of_hundreds_of_buffers_may_complete_in_several_steps() {
    // More entries than the kernel takes into one send (256 on current
    // kernels): it posts completions flagged MORE and goes on.
    let Some((mut ring, queue)) = setup(2, 600, "bundle_many") else {
        return;
    };
    let (sender, peer) = tcp_pair(false);
    let sizes: Vec<usize> = (0..600).map(|i| 1 + i % 13).collect();
    let (bufs, total) = queue_stream(&queue, 0, &sizes);
    let reader = read_on_thread(peer, total);
    let sender = SharedFd::from(sender);
    let mut back: Vec<Vec<u8>> = Vec::new();
    let mut bytes = 0;
    while bytes < total {
        let id = ring
            .submit_op(SendBundle::new(&sender, &queue).unwrap())
            .unwrap();
        let sent = ring.wait_for(id).unwrap().expect("the bundle sends");
        assert!(sent.bytes() > 0);
        bytes += sent.bytes();
        back.extend(sent.into_bufs());
    }
    assert_eq!(bytes, total);
    assert_eq!(back, bufs);
    assert!(queue.is_empty());
    expect_stream(&reader.join().unwrap(), 0, "peer");
}

#[test]
fn a_bundle_cut_short_keeps_the_rest_queued_and_the_next_bundle_sends_it_in_order() {
    let Some((mut ring, queue)) = setup(3, 16, "bundle_partial") else {
        return;
    };
    let (sender, peer) = tcp_pair(true);
    // Odd sizes, so the socket is unlikely to fill up at a buffer boundary.
    let sizes: Vec<usize> = (0..12).map(|i| 40_000 + 1_001 * i).collect();
    let (bufs, total) = queue_stream(&queue, 0, &sizes);

    // The peer does not read: the bundle waits for room…
    let id = bundle_to_a_peer_that_does_not_read(&mut ring, sender, &queue);
    assert!(ring.try_take(&id).is_none(), "the bundle waits for room");
    // …until the peer goes away with data unread: a reset ends it.
    drop(peer);
    let first = ring.wait_for(id).unwrap().expect("part was sent");
    let n = first.bytes();
    // The kernel reports the count; the reset itself shows, if at all, as the
    // error of a later completion of the same bundle.
    if let Some(e) = first.error() {
        assert!(
            matches!(e.raw_os_error(), Some(libc::ECONNRESET | libc::EPIPE)),
            "{e}"
        );
    }
    assert!(n > 0 && n < total, "a partial send: {n} of {total} bytes");
    // Exactly the buffers the n bytes covered in full came back.
    let mut covered = 0;
    let full = sizes
        .iter()
        .take_while(|&&s| {
            covered += s;
            covered <= n
        })
        .count();
    assert_eq!(first.bufs(), &bufs[..full]);
    assert_eq!(queue.len(), sizes.len() - full);
    assert_eq!(
        queue.queued_bytes(),
        total - n,
        "the unsent bytes stay queued"
    );
    println!(
        "partial bundle: {n} of {total} bytes, {full} buffers in full, {} bytes of the next",
        n - sizes[..full].iter().sum::<usize>()
    );

    // On a new connection, further bundles send exactly the rest, in order.
    let (sender, peer) = tcp_pair(false);
    let reader = read_on_thread(peer, total - n);
    let sender = SharedFd::from(sender);
    let mut back = first.into_bufs();
    let mut bytes = n;
    while bytes < total {
        let id = ring
            .submit_op(SendBundle::new(&sender, &queue).unwrap())
            .unwrap();
        let sent = ring.wait_for(id).unwrap().expect("the bundle sends");
        assert!(sent.bytes() > 0 && sent.error().is_none());
        bytes += sent.bytes();
        back.extend(sent.into_bufs());
    }
    assert_eq!(bytes, total);
    assert_eq!(back, bufs, "every buffer back once, in order");
    assert!(queue.is_empty());
    expect_stream(&reader.join().unwrap(), n, "the second peer");
}

#[test]
fn a_second_bundle_is_refused_while_one_is_in_flight_and_a_cancelled_one_sends_nothing() {
    let Some((mut ring, queue)) = setup(4, 8, "bundle_busy") else {
        return;
    };
    let (sender, peer) = tcp_pair(true);
    let filled = fill(&sender);
    let sizes = [1000, 2001, 3002];
    let (bufs, total) = queue_stream(&queue, filled, &sizes);
    let sender = SharedFd::from(sender);
    let id = ring
        .submit_op(SendBundle::new(&sender, &queue).unwrap())
        .unwrap();
    ring.submit().unwrap();
    // The socket is full: the bundle waits in the kernel.
    std::thread::sleep(Duration::from_millis(50));
    assert!(ring.try_take(&id).is_none(), "the bundle is blocked");

    let busy = SendBundle::new(&sender, &queue).unwrap_err();
    assert_eq!(errno(&busy), Some(libc::EBUSY), "{busy}");
    assert!(busy.to_string().contains("one at a time"), "{busy}");

    ring.cancel(&id).unwrap();
    let err = ring.wait_for(id).unwrap().unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
    // Nothing was sent: everything is still queued, whatever the kernel took
    // out of its ring when it selected the buffers.
    assert_eq!((queue.len(), queue.queued_bytes()), (3, total));

    // The peer drains; a new bundle sends the queue after the filler.
    let reader = read_on_thread(peer, filled + total);
    let id = ring
        .submit_op(SendBundle::new(&sender, &queue).unwrap())
        .unwrap();
    let mut bytes = 0;
    let mut back = Vec::new();
    let sent = ring.wait_for(id).unwrap().expect("the bundle sends");
    bytes += sent.bytes();
    back.extend(sent.into_bufs());
    while bytes < total {
        let id = ring
            .submit_op(SendBundle::new(&sender, &queue).unwrap())
            .unwrap();
        let sent = ring.wait_for(id).unwrap().expect("the bundle sends");
        bytes += sent.bytes();
        back.extend(sent.into_bufs());
    }
    assert_eq!(back, bufs);
    expect_stream(&reader.join().unwrap(), 0, "peer");
}

#[test]
fn a_bundle_dropped_unsubmitted_frees_the_queue_for_the_next() {
    let Some((_ring, queue)) = setup(5, 2, "bundle_dropped") else {
        return;
    };
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = SharedFd::from(a);
    let op = SendBundle::new(&a, &queue).unwrap();
    assert_eq!(
        errno(&SendBundle::new(&a, &queue).unwrap_err()),
        Some(libc::EBUSY)
    );
    drop(op);
    SendBundle::new(&a, &queue).expect("free again");
}

#[test]
fn the_queue_is_refused_on_another_ring() {
    let Some((mut ring, queue)) = setup(6, 4, "bundle_other_ring") else {
        return;
    };
    let mut other = OwnedRing::new(4).unwrap();
    queue.push(b"abc".to_vec()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = SharedFd::from(a);
    let err = other
        .submit_op(SendBundle::new(&a, &queue).unwrap())
        .unwrap_err();
    assert_eq!(errno(&err.error), Some(libc::EXDEV), "{}", err.error);
    // The refused op comes back; dropping it frees the queue for its own ring.
    drop(err);
    let id = ring
        .submit_op(SendBundle::new(&a, &queue).unwrap())
        .unwrap();
    let sent = ring.wait_for(id).unwrap().unwrap();
    assert_eq!(sent.bufs(), [b"abc".to_vec()]);
    let mut got = [0u8; 3];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"abc");
}

#[test]
fn push_refuses_empty_buffers_and_a_full_queue_and_hands_the_buffer_back() {
    let Some((_ring, queue)) = setup(7, 2, "bundle_push_errors") else {
        return;
    };
    let e = queue.push(Vec::new()).unwrap_err();
    assert_eq!(errno(&e.error), Some(libc::EINVAL));
    queue.push(vec![1]).unwrap();
    queue.push(vec![2]).unwrap();
    let e = queue.push(vec![3, 3]).unwrap_err();
    assert_eq!(errno(&e.error), Some(libc::ENOBUFS));
    assert!(e.error.to_string().contains("full"), "{}", e.error);
    assert_eq!(e.buf, vec![3, 3]);
    assert_eq!(queue.len(), 2);
    let mut ring = OwnedRing::new(4).unwrap();
    let e = SendQueue::<Vec<u8>>::new(&mut ring, 1, 0).unwrap_err();
    assert_eq!(errno(&e), Some(libc::EINVAL));
}

#[test]
fn dropping_the_ring_with_a_bundle_blocked_cancels_it_and_keeps_the_buffers_queued() {
    let Some((mut ring, queue)) = setup(8, 8, "bundle_ring_dropped") else {
        return;
    };
    let (sender, peer) = tcp_pair(true);
    let filled = fill(&sender);
    queue_stream(&queue, filled, &[7000, 7001]);
    let _id = ring
        .submit_op(SendBundle::new(sender, &queue).unwrap())
        .unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let report = ring.close();
    assert_eq!((report.completed, report.leaked), (1, 0));
    // The cancelled bundle sent nothing and gave nothing back.
    assert_eq!((queue.len(), queue.queued_bytes()), (2, 14001));
    // The peer gets exactly the filler, then end of file: the socket closed with
    // the bundle.
    let mut got = Vec::new();
    let mut peer = peer;
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got.len(), filled);
    expect_stream(&got, 0, "peer");
    // The queue outlives its ring; dropping it unregisters (through its own
    // descriptor) and frees the buffers.
    drop(queue);
}

#[test]
fn take_unsent_hands_back_what_a_cut_short_bundle_left_and_the_queue_goes_on() {
    let Some((mut ring, queue)) = setup(10, 8, "bundle_take_unsent") else {
        return;
    };
    let (sender, peer) = tcp_pair(true);
    let sizes = [50_001, 50_002, 50_003];
    let (bufs, total) = queue_stream(&queue, 0, &sizes);
    let id = bundle_to_a_peer_that_does_not_read(&mut ring, sender, &queue);
    // While the bundle exists, the buffers are the kernel's to read.
    let busy = queue.take_unsent().unwrap_err();
    assert_eq!(errno(&busy), Some(libc::EBUSY), "{busy}");
    drop(peer); // a reset ends the bundle after part of it went out
    let sent = ring.wait_for(id).unwrap().expect("part was sent");
    let n = sent.bytes();
    assert!(n > 0 && n < total, "{n} of {total}");
    let (first_sent, rest) = queue.take_unsent().unwrap();
    let mut all = sent.into_bufs();
    let done: usize = all.iter().map(Vec::len).sum();
    assert_eq!(
        done + first_sent,
        n,
        "sent in full + sent of the first left"
    );
    all.extend(rest);
    assert_eq!(all, bufs, "every buffer back, in order");
    assert!(queue.is_empty());

    // The emptied queue works on: a new buffer goes out alone.
    queue.push(b"again".to_vec()).unwrap();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let id = ring.submit_op(SendBundle::new(a, &queue).unwrap()).unwrap();
    assert_eq!(
        ring.wait_for(id).unwrap().unwrap().bufs(),
        [b"again".to_vec()]
    );
    let mut got = [0u8; 5];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"again");
}

/// Rings a test never drops, as if forgotten.
static NEVER_DROPPED: std::sync::Mutex<Vec<OwnedRing>> = std::sync::Mutex::new(Vec::new());

#[test]
fn a_ring_never_dropped_with_a_bundle_blocked_keeps_the_buffers_alive_for_the_kernel() {
    let Some((mut ring, queue)) = setup(9, 8, "bundle_ring_forgotten") else {
        return;
    };
    let (sender, peer) = tcp_pair(true);
    let filled = fill(&sender);
    let sizes = [9000, 9001, 9002];
    let (_, total) = queue_stream(&queue, filled, &sizes);
    let _id = ring
        .submit_op(SendBundle::new(sender, &queue).unwrap())
        .unwrap();
    ring.submit().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    // The ring is never dropped (as with `mem::forget`, but kept reachable so
    // LeakSanitizer does not report it): the bundle stays in its table and the
    // request alive in the kernel. Dropping the last handle must free nothing
    // it reads.
    NEVER_DROPPED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(ring);
    drop(queue);
    // Scribble over freed memory if anything was freed.
    let junk: Vec<Vec<u8>> = (0..64).map(|_| vec![0xAAu8; 9000]).collect();
    // The peer drains: the kernel goes on sending from the queue's buffers as
    // the socket empties — each loop's read lets the retried send run.
    let mut peer = peer;
    peer.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 65536];
    while got.len() < filled + total {
        match peer.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The send is retried as task work of this thread: give it a
                // chance (any syscall return runs it).
                std::thread::sleep(Duration::from_millis(10));
                if got.len() >= filled {
                    break;
                }
            }
            Err(e) => panic!("reading: {e}"),
        }
    }
    drop(junk);
    assert!(got.len() >= filled, "the filler arrives");
    // Whatever of the bundle arrived is the right bytes, in order.
    expect_stream(&got, 0, "peer");
    println!(
        "ring never dropped: {} of the bundle's {total} bytes arrived",
        got.len() - filled
    );
}
