//! The async adapter (feature `async`) under tokio (its driver, feature `tokio`): futures resolve to the
//! operations' outputs, streams to their items, dropping either cancels its
//! operation; and `examples/tokio_echo.rs` echoes bytes back exactly.
#![cfg(feature = "tokio")]

use crate::support;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use uring::error::errno;
use uring::owned::{AsyncRing, BufPool, OwnedRing, ops};

/// Runs `fut` to its end in a `LocalSet` on a current-thread runtime with I/O.
fn block_on_local<F: std::future::Future>(fut: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    tokio::task::LocalSet::new().block_on(&rt, fut)
}

/// Runs `f` on a current-thread runtime with a driver task for `ring`.
fn with_runtime<F: std::future::Future<Output = ()>>(f: impl FnOnce(AsyncRing) -> F) {
    with_runtime_on(uring::Ring::builder(), f)
}

fn with_runtime_on<F: std::future::Future<Output = ()>>(
    builder: uring::setup::Builder<'static>,
    f: impl FnOnce(AsyncRing) -> F,
) {
    block_on_local(async move {
        let ring = AsyncRing::new(OwnedRing::from_builder(builder, 16).unwrap()).unwrap();
        let driver = tokio::task::spawn_local(ring.tokio_driver().unwrap());
        f(ring).await;
        // A test may have forgotten a future, which keeps the ring (and so the
        // driver) alive: stop it here.
        driver.abort();
    });
}

#[test]
fn a_future_resolves_to_the_output_with_its_buffer() {
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring
            .run(ops::Read::new(r, Vec::with_capacity(32), u64::MAX))
            .unwrap();
        // The read is in flight before any data exists.
        w.write_all(b"async bytes").unwrap();
        let (n, buf) = fut.await.unwrap();
        assert_eq!(n.unwrap(), 11);
        assert_eq!(buf, b"async bytes");
        assert_eq!(ring.in_flight(), 0);
    });
}

#[test]
fn futures_resolve_on_a_single_issuer_defer_taskrun_ring() {
    let builder = || uring::Ring::builder().single_issuer().defer_taskrun();
    if let Err(e) = builder().build(2) {
        println!("skipped: defer_taskrun because the kernel refused it ({e}); Linux 6.1 is needed");
        return;
    }
    with_runtime_on(builder(), |ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring.run(ops::Recv::new(r, Vec::with_capacity(8))).unwrap();
        let writer = std::thread::spawn(move || w.write_all(b"later").unwrap());
        let (n, buf) = fut.await.unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"later"[..]));
        writer.join().unwrap();
    });
}

#[test]
fn concurrent_futures_are_each_woken_by_their_own_completion() {
    with_runtime(|ring| async move {
        let (r1, mut w1) = UnixStream::pair().unwrap();
        let (r2, mut w2) = UnixStream::pair().unwrap();
        let a = ring.run(ops::Recv::new(r1, Vec::with_capacity(8))).unwrap();
        let b = ring.run(ops::Recv::new(r2, Vec::with_capacity(8))).unwrap();
        let b = tokio::task::spawn_local(b);
        // The second completes first, then the first.
        w2.write_all(b"two").unwrap();
        let (n, buf) = b.await.unwrap().unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (3, &b"two"[..]));
        w1.write_all(b"one").unwrap();
        let (n, buf) = a.await.unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (3, &b"one"[..]));
    });
}

#[test]
fn dropping_a_future_cancels_its_operation_and_keeps_it_until_the_final_completion() {
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring.run(ops::Recv::new(r, vec![0u8; 64])).unwrap();
        assert_eq!(ring.in_flight(), 1);
        drop(fut);
        // The cancellation is in; the op leaves the table only with its completion.
        while ring.in_flight() > 0 {
            ring.process_blocking().unwrap();
        }
        // Its output was dropped, not queued, and its descriptor closed with it:
        // the peer sees end of file.
        assert_eq!(ring.with_ring(|r| r.completions().count()), 0);
        let mut b = [0u8; 1];
        assert_eq!(w.read(&mut b).unwrap(), 0);
    });
}

#[test]
fn a_stream_yields_items_and_dropping_it_cancels() {
    with_runtime(|ring| async move {
        let Ok(pool) = ring.with_ring(|r| BufPool::new(r, 1, 4, 32)) else {
            println!(
                "skipped: a_stream_yields_items because this kernel has no buffer rings (5.19)"
            );
            return;
        };
        let (r, mut w) = UnixStream::pair().unwrap();
        let mut stream = ring.stream(ops::RecvMultishot::new(r, &pool)).unwrap();
        let mut got = Vec::new();
        for msg in [&b"alpha"[..], b"beta", b"gamma"] {
            w.write_all(msg).unwrap();
            let item = stream.next().await.expect("the stream goes on");
            if got.is_empty() {
                if let Err(e) = &item {
                    if errno(e) == Some(libc::EINVAL) {
                        println!(
                            "skipped: a_stream_yields_items because recv multishot needs Linux 6.0 ({e})"
                        );
                        return;
                    }
                }
            }
            let buf = item.unwrap();
            assert_eq!(&buf[..], msg);
            got.push(buf);
        }
        stream.cancel().unwrap();
        let last = stream.next().await.expect("the final item");
        assert_eq!(errno(&last.unwrap_err()), Some(libc::ECANCELED));
        assert!(stream.next().await.is_none());
        drop(got);
        assert_eq!(pool.available(), 4);

        // Dropped mid-stream: cancelled, and its queued buffers come back.
        let (r, mut w) = UnixStream::pair().unwrap();
        let mut stream = ring.stream(ops::RecvMultishot::new(r, &pool)).unwrap();
        w.write_all(b"one").unwrap();
        assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"one");
        w.write_all(b"two").unwrap();
        drop(stream);
        while ring.in_flight() > 0 {
            ring.process_blocking().unwrap();
        }
        assert_eq!(pool.available(), 4);
    });
}

#[test]
fn a_forgotten_future_leaves_its_operation_running_and_its_output_queued() {
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring.run(ops::Recv::new(r, Vec::with_capacity(8))).unwrap();
        std::mem::forget(fut);
        w.write_all(b"kept").unwrap();
        while ring.in_flight() > 0 {
            ring.process_blocking().unwrap();
        }
        let outputs: Vec<_> = ring.with_ring(|r| r.completions().collect());
        assert_eq!(outputs.len(), 1);
        let (n, buf) = outputs
            .into_iter()
            .next()
            .unwrap()
            .downcast::<ops::Recv<Vec<u8>>>()
            .unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (4, &b"kept"[..]));
    });
}

#[test]
fn a_future_is_pending_in_flight_and_fails_with_enoent_once_its_output_is_taken_elsewhere() {
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let mut fut = ring.run(ops::Recv::new(r, Vec::with_capacity(8))).unwrap();
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        // Nothing to receive yet: in flight, pending.
        assert!(std::pin::Pin::new(&mut fut).poll(&mut cx).is_pending());
        w.write_all(b"gone").unwrap();
        while ring.in_flight() > 0 {
            ring.process_blocking().unwrap();
        }
        // Its output is taken through the ring itself...
        let outputs: Vec<_> = ring.with_ring(|r| r.completions().collect());
        let (n, buf) = outputs
            .into_iter()
            .next()
            .expect("the receive finished")
            .downcast::<ops::Recv<Vec<u8>>>()
            .unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (4, &b"gone"[..]));
        // ...so the future has nothing left to give.
        let err = fut.await.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
    });
}

/// The library's tokio driver: no `unsafe` in user code, and it ends by itself
/// once the ring's last handle is dropped (the ring's drop signals the eventfd).
#[test]
fn the_tokio_driver_runs_futures_and_ends_with_the_ring() {
    block_on_local(async {
        let ring = AsyncRing::new(OwnedRing::new(8).unwrap()).unwrap();
        let driver = tokio::task::spawn_local(ring.tokio_driver().unwrap());
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring.run(ops::Recv::new(r, Vec::with_capacity(8))).unwrap();
        // Written from another task, after the receive is waiting.
        tokio::task::spawn_local(async move {
            tokio::task::yield_now().await;
            w.write_all(b"tokio").unwrap();
        });
        let (n, buf) = fut.await.unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"tokio"[..]));
        drop(ring);
        driver
            .await
            .expect("the driver task")
            .expect("the driver's result");
    });
}

/// With feature `stream`, an `ItemStream` is a `futures_core::Stream`.
#[cfg(feature = "stream")]
#[test]
fn an_item_stream_is_a_futures_stream() {
    use futures_core::Stream;
    use std::pin::Pin;
    fn next<S: Stream + Unpin>(s: &mut S) -> impl std::future::Future<Output = Option<S::Item>> {
        std::future::poll_fn(move |cx| Pin::new(&mut *s).poll_next(cx))
    }
    with_runtime(|ring| async move {
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).unwrap();
        let addr = listener.local_addr().unwrap();
        let mut accepts = ring.stream(ops::AcceptMultishot::new(listener)).unwrap();
        let _a = TcpStream::connect(addr).unwrap();
        let first = next(&mut accepts).await.expect("an item");
        if matches!(&first, Err(e) if errno(e) == Some(libc::EINVAL)) {
            support::skip(
                "an_item_stream_is_a_futures_stream",
                "the kernel refused a multishot accept; Linux 5.19 is needed",
            );
            return;
        }
        let conn = TcpStream::from(first.unwrap());
        assert_eq!(conn.peer_addr().unwrap(), _a.local_addr().unwrap());
        accepts.cancel().unwrap();
        let last = next(&mut accepts).await.expect("the cancellation's item");
        assert_eq!(errno(&last.unwrap_err()), Some(libc::ECANCELED));
        assert!(next(&mut accepts).await.is_none(), "then the end");
        let end = accepts.end().expect("why it ended");
        assert_eq!(end.raw_result(), -libc::ECANCELED);
        assert!(!end.rearm());
    });
}

/// A forgotten future holds an `Rc` of the ring: the ring never goes, even after
/// every handle is dropped (its eventfd stays open), as the docs now say.
#[test]
fn a_forgotten_future_keeps_the_whole_ring_alive() {
    use std::os::fd::AsRawFd as _;
    let ring = AsyncRing::new(OwnedRing::new(4).unwrap()).unwrap();
    let eventfd = ring.as_raw_fd();
    let (r, _w) = UnixStream::pair().unwrap();
    std::mem::forget(ring.run(ops::Recv::new(r, vec![0u8; 8])).unwrap());
    drop(ring);
    // SAFETY: F_GETFD reads the descriptor's flags; it touches no memory.
    let open = unsafe { libc::fcntl(eventfd, libc::F_GETFD) } >= 0;
    assert!(open, "the eventfd was closed: the ring went");
}

#[test]
fn a_future_dropped_while_the_ring_is_borrowed_is_cancelled_later() {
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let fut = ring.run(ops::Recv::new(r, vec![0u8; 8])).unwrap();
        // The ring is borrowed: the cancellation waits for the next process.
        ring.with_ring(|_| drop(fut));
        assert_eq!(ring.in_flight(), 1);
        while ring.in_flight() > 0 {
            ring.process_blocking().unwrap();
        }
        assert_eq!(ring.with_ring(|r| r.completions().count()), 0);
        let mut b = [0u8; 1];
        assert_eq!(
            w.read(&mut b).unwrap(),
            0,
            "the receive's descriptor was closed"
        );
    });
}

#[test]
fn a_held_file_serves_futures_and_is_closed_once_dropped_and_its_last_operation_done() {
    let _no_forks = support::no_forks();
    with_runtime(|ring| async move {
        let (r, mut w) = UnixStream::pair().unwrap();
        let file = ring.hold(r).unwrap();
        w.write_all(b"first").unwrap();
        let (n, buf) = ring
            .run(ops::Recv::new(&file, Vec::with_capacity(8)))
            .unwrap()
            .await
            .unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"first"[..]));
        // In flight when the HeldFile goes: the descriptor stays open for it.
        let fut = ring
            .run(ops::Recv::new(&file, Vec::with_capacity(8)))
            .unwrap();
        let handle = file.held();
        drop(file);
        let refused = ring
            .run(ops::Recv::new(handle, Vec::with_capacity(8)))
            .unwrap_err();
        assert_eq!(errno(&refused.error), Some(libc::EBADF));
        // Open: the byte `peer_closed` writes is what the receive gets.
        assert!(!support::peer_closed(&mut w));
        let (n, buf) = fut.await.unwrap();
        assert_eq!((n.unwrap(), &buf[..]), (1, &b"?"[..]));
        assert!(
            support::peer_closed(&mut w),
            "still open after the last operation"
        );
    });
}

#[test]
fn a_held_file_dropped_while_the_ring_is_borrowed_is_released_later() {
    let _no_forks = support::no_forks();
    let ring = AsyncRing::new(OwnedRing::new(4).unwrap()).unwrap();
    let (r, mut w) = UnixStream::pair().unwrap();
    let file = ring.hold(r).unwrap();
    let handle = file.held();
    ring.with_ring(|owned| {
        drop(file);
        assert!(owned.holds_fd(&handle), "released with the ring borrowed");
    });
    assert!(!support::peer_closed(&mut w));
    // The next process releases it (and, with nothing signalled, says so).
    let e = ring.process().unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
    assert!(!ring.with_ring(|owned| owned.holds_fd(&handle)));
    assert!(support::peer_closed(&mut w), "not closed by the release");
}

fn echo_example() -> PathBuf {
    support::example("tokio_echo", &["tokio"])
}

#[test]
fn tokio_echo_example_echoes_every_byte() {
    let mut child = support::spawn(
        Command::new(echo_example())
            .arg("3")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    )
    .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .expect(&line)
        .to_owned();
    let messages: Vec<Vec<u8>> = vec![
        b"hello".to_vec(),
        (0..200_000u32).map(|i| (i % 251) as u8).collect(),
        Vec::new(),
    ];
    // Three clients at once, each on its own thread.
    let clients: Vec<_> = messages
        .iter()
        .cloned()
        .map(|msg| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut c = TcpStream::connect(&addr).unwrap();
                let mut w = c.try_clone().unwrap();
                let m = msg.clone();
                let writer = std::thread::spawn(move || {
                    w.write_all(&m).unwrap();
                    w.shutdown(std::net::Shutdown::Write).unwrap();
                });
                let mut got = Vec::new();
                c.read_to_end(&mut got).unwrap();
                writer.join().unwrap();
                got
            })
        })
        .collect();
    for (msg, c) in messages.iter().zip(clients) {
        let got = c.join().unwrap();
        assert_eq!(got.len(), msg.len());
        assert!(got == *msg, "echoed bytes differ");
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let total: usize = messages.iter().map(Vec::len).sum();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("echoed {total} bytes")), "{err}");
}

/// Entries the kernel has not consumed yet (pushed but not submitted).
fn unsubmitted(ring: &AsyncRing) -> u32 {
    // SAFETY: the ring's own `io_uring`, alive while `with_ring` borrows it;
    // io_uring_sq_ready only reads the local tail and the kernel's head.
    ring.with_ring(|r| unsafe { uring::sys::io_uring_sq_ready(r.ring().as_raw()) })
}

/// While the tokio driver runs, `run` and `stream` queue their entries and wake
/// it; it submits all those of one turn of the runtime together. Once it is
/// gone, each call submits its own again.
#[test]
fn a_running_driver_submits_the_entries_of_a_turn_together() {
    with_runtime(|ring| async move {
        // Before the driver ever ran, `run` submits at once.
        let first = ring.run(ops::Nop::new()).unwrap();
        assert_eq!(unsubmitted(&ring), 0);
        assert_eq!(first.await.unwrap().unwrap(), 0);
        // The NOP finished inline, so its future never waited: yield for the
        // driver to run (and register). Then: queued, not submitted.
        tokio::task::yield_now().await;
        let futs: Vec<_> = (0..8).map(|_| ring.run(ops::Nop::new()).unwrap()).collect();
        let (r, mut w) = UnixStream::pair().unwrap();
        let mut stream = ring
            .stream(ops::PollMultishot::new(r, libc::POLLIN as u32))
            .unwrap();
        assert_eq!(unsubmitted(&ring), 9, "queued for the driver");
        // Awaiting lets the driver run: one submission for all nine.
        for f in futs {
            assert_eq!(f.await.unwrap().unwrap(), 0);
        }
        assert_eq!(unsubmitted(&ring), 0);
        w.write_all(b"x").unwrap();
        let ev = stream.next().await.unwrap().unwrap();
        assert_ne!(ev & libc::POLLIN as u32, 0);
        drop(stream);
    });
    // Without a driver (it was aborted and dropped): submitted at once.
    block_on_local(async {
        let ring = AsyncRing::new(OwnedRing::new(4).unwrap()).unwrap();
        let driver = tokio::task::spawn_local(ring.tokio_driver().unwrap());
        tokio::task::yield_now().await;
        let queued = ring.run(ops::Nop::new()).unwrap();
        assert_eq!(unsubmitted(&ring), 1, "the driver runs");
        driver.abort();
        let _ = driver.await;
        // The aborted driver submitted what was queued for it on its way out.
        assert_eq!(unsubmitted(&ring), 0);
        let fut = ring.run(ops::Nop::new()).unwrap();
        assert_eq!(unsubmitted(&ring), 0, "no driver: submitted at once");
        assert_eq!(queued.await.unwrap().unwrap(), 0);
        assert_eq!(fut.await.unwrap().unwrap(), 0);
    });
}
