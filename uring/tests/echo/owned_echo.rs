//! Runs `examples/echo_server.rs` against many concurrent loopback clients and
//! checks that every byte comes back, in order, to the client that sent it; that
//! clients which vanish mid-stream disturb no one else; and that the server exits
//! with status 0, having counted what the clients saw.
//!
//! The server needs provided-buffer rings (Linux 5.19), multishot accept (5.19)
//! and multishot receive (6.0). On kernels without them each test says why it is
//! skipped and passes.

use crate::support;
use support::echo::{
    EchoServer as Server, Rng, assert_same, ping_pong, pipelined, refused, skipped,
};

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::Shutdown;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

/// The server's summary line.
#[derive(Debug, PartialEq)]
struct Summary {
    /// Connections closed.
    conns: u64,
    /// Of which after an error.
    failed: u64,
    /// Bytes echoed.
    bytes: u64,
    /// Receive streams that ended with `ENOBUFS`.
    enobufs: u64,
    /// Receives stopped for a full backlog.
    pauses: u64,
}

fn summary(stderr: &str) -> Summary {
    let line = stderr
        .lines()
        .find(|l| l.contains("connections served"))
        .unwrap_or_else(|| panic!("no summary on echo_server's stderr: {stderr}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect();
    let [conns, failed, bytes, enobufs, pauses] = nums[..] else {
        panic!("summary line: {line}")
    };
    Summary {
        conns,
        failed,
        bytes,
        enobufs,
        pauses,
    }
}

/// Message sizes for client `seed`: some fixed edge cases (one byte, around a
/// 4 KiB pool buffer, a full 64 KiB spanning many buffers) and random ones.
fn sizes(rng: &mut Rng, count: usize) -> Vec<usize> {
    let fixed = [1, 4095, 4096, 4097, 65536];
    (0..count)
        .map(|i| {
            if i % 2 == 0 {
                fixed[(rng.next_u64() % fixed.len() as u64) as usize]
            } else {
                1 + (rng.next_u64() % 65536) as usize
            }
        })
        .collect()
}

/// The messages of client `seed`: [`sizes`], each filled from the same generator.
fn client_messages(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng::new(seed);
    sizes(&mut rng, count)
        .into_iter()
        .map(|n| rng.bytes(n))
        .collect()
}

/// A ping-pong client ([`ping_pong`]) with the messages of `seed`. Returns the bytes
/// echoed.
fn ping_pong_client(server: &Server, seed: u64, messages: usize) -> u64 {
    ping_pong(
        server.connect(),
        &client_messages(seed, messages),
        &format!("client {seed}"),
    )
}

/// A pipelined client ([`pipelined`]) with the messages of `seed`, back to back.
/// Returns the bytes echoed.
fn pipelined_client(server: &Server, seed: u64, messages: usize) -> u64 {
    pipelined(
        server.connect(),
        client_messages(seed, messages).concat(),
        &format!("pipelined client {seed}"),
    )
}

/// Runs `clients` clients at once (even seeds ping-pong, odd ones pipelined),
/// each sending `messages` messages; returns the total bytes echoed.
fn run_clients(server: &Server, clients: u64, messages: usize) -> u64 {
    let start = Arc::new(Barrier::new(clients as usize));
    thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|seed| {
                let start = Arc::clone(&start);
                scope.spawn(move || {
                    start.wait();
                    if seed % 2 == 0 {
                        ping_pong_client(server, seed, messages)
                    } else {
                        pipelined_client(server, seed, messages)
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    })
}

#[test]
fn echo_server_echoes_64_concurrent_clients_byte_for_byte() {
    if skipped("echo_server_echoes_64_concurrent_clients_byte_for_byte") {
        return;
    }
    let server = Server::start(&[]);
    let bytes = run_clients(&server, 64, 8);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (64, 0, bytes), "{err}");
}

#[test]
fn echo_server_with_deferred_task_work_echoes_64_clients_and_a_dry_pool() {
    let test = "echo_server_with_deferred_task_work_echoes_64_clients_and_a_dry_pool";
    if skipped(test) {
        return;
    }
    if !support::defer_taskrun(test) {
        return;
    }
    let server = Server::start(&["--defer-taskrun"]);
    let bytes = run_clients(&server, 64, 8);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (64, 0, bytes), "{err}");
    // Four 512-byte buffers for 16 clients (as in the next test): streams end
    // with ENOBUFS, and are re-armed from the deferred completions of the sends
    // that free buffers.
    let server = Server::start(&["--defer-taskrun", "--bufs", "4", "--buf-size", "512"]);
    let bytes = run_clients(&server, 16, 6);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (16, 0, bytes), "{err}");
    assert!(got.enobufs > 0, "the pool ran dry: {err}");
}

#[test]
fn echo_server_keeps_order_when_the_pool_runs_dry() {
    if skipped("echo_server_keeps_order_when_the_pool_runs_dry") {
        return;
    }
    // Four 512-byte buffers for 16 clients sending up to 64 KiB at a time: the
    // receives run out of buffers again and again, and must be re-armed. Without
    // deferred task work (the server's default where the kernel has it, which the
    // test above runs dry too): completions come as the kernel interrupts.
    let server = Server::start(&["--no-defer-taskrun", "--bufs", "4", "--buf-size", "512"]);
    let bytes = run_clients(&server, 16, 6);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (16, 0, bytes), "{err}");
    assert!(
        got.enobufs > 0,
        "no receive ran out of buffers, so this test proved nothing: {err}"
    );
}

#[test]
fn clients_that_vanish_mid_stream_do_not_disturb_the_others() {
    if skipped("clients_that_vanish_mid_stream_do_not_disturb_the_others") {
        return;
    }
    let server = Server::start(&[]);
    let rude = 24u64;
    let (bytes, ()) = thread::scope(|scope| {
        let good = scope.spawn(|| run_clients(&server, 16, 12));
        for i in 0..rude {
            let mut s = server.connect();
            match i % 3 {
                // Sends a lot, reads nothing and closes: the unread echo makes
                // its close a reset, and the server's sends fail.
                0 => {
                    let _ = s.write_all(&Rng::new(1000 + i).bytes(256 * 1024));
                }
                // Sends part of a message, reads part of the echo, then goes.
                1 => {
                    s.write_all(&[7u8; 3000]).unwrap();
                    let mut some = [0u8; 100];
                    s.read_exact(&mut some).unwrap();
                    assert_eq!(some, [7u8; 100]);
                }
                // Connects and leaves at once.
                _ => {}
            }
            drop(s);
        }
        (good.join().unwrap(), ())
    });
    // The server still serves new clients afterwards.
    let after = ping_pong_client(&server, 99, 4);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!(got.conns, 16 + rude + 1, "{err}");
    // Only vanished clients' connections can have failed; those that left
    // unread echo behind reset theirs, which the server saw.
    assert!((1..=rude).contains(&got.failed), "{err}");
    eprintln!(
        "{} of {rude} vanished clients' connections ended by an error",
        got.failed
    );
    // Their echo may have partly gone out before they left.
    assert!(got.bytes >= bytes + after, "{err}");
}

#[test]
fn a_client_that_does_not_read_makes_the_server_stop_receiving_not_buffer_everything() {
    if skipped("a_client_that_does_not_read_makes_the_server_stop_receiving_not_buffer_everything")
    {
        return;
    }
    let server = Server::start(&[]);
    // Far more than the server's 1 MiB backlog limit plus what the kernel's
    // socket buffers hold while nobody reads.
    let stream = Rng::new(7).bytes(48 << 20);
    let s = server.connect();
    let mut w = s.try_clone().unwrap();
    let written = Arc::new(AtomicUsize::new(0));
    let (back, ()) = thread::scope(|scope| {
        let progress = Arc::clone(&written);
        let data = &stream;
        let writer = scope.spawn(move || {
            for chunk in data.chunks(64 * 1024) {
                w.write_all(chunk).unwrap();
                progress.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            w.shutdown(Shutdown::Write).unwrap();
        });
        // Read nothing until the writer has been stuck for a second (or is
        // done): the server must stop receiving rather than buffer the whole
        // stream. (A second, so that a slow machine is not taken for a stuck
        // writer.)
        let mut last = usize::MAX;
        let mut still = 0;
        while still < 20 && !writer.is_finished() {
            thread::sleep(Duration::from_millis(50));
            let now = written.load(Ordering::Relaxed);
            still = if now == last { still + 1 } else { 0 };
            last = now;
        }
        let stuck_at = written.load(Ordering::Relaxed);
        assert!(
            stuck_at < stream.len(),
            "all {} bytes went in while nobody read the echo: the server buffered everything",
            stream.len()
        );
        let mut back = Vec::with_capacity(stream.len());
        let mut r = s;
        r.read_to_end(&mut back).unwrap();
        writer.join().unwrap();
        (back, ())
    });
    assert_same(&back, &stream, "the client that read late");
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!(
        (got.conns, got.failed, got.bytes),
        (1, 0, stream.len() as u64),
        "{err}"
    );
    assert!(got.pauses > 0, "{err}");
}

#[test]
fn echo_server_exits_by_itself_after_max_conns() {
    if skipped("echo_server_exits_by_itself_after_max_conns") {
        return;
    }
    let server = Server::start(&["--max-conns", "3"]);
    let bytes: u64 = (0..3).map(|i| ping_pong_client(&server, i, 3)).sum();
    // Its stdin stays open: the third close is what ends it.
    let (status, err) = server.wait();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (3, 0, bytes), "{err}");
}

#[test]
fn echo_server_with_sqpoll_echoes_too() {
    if skipped("echo_server_with_sqpoll_echoes_too") {
        return;
    }
    let mut child = Command::new(support::example("echo_server", &[]))
        .arg("--sqpoll")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    if line.is_empty() {
        // No ring: SQPOLL needs privileges before Linux 5.11.
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot set up the ring"), "{err}");
        support::skip(
            "echo_server_with_sqpoll_echoes_too",
            &format!("the server could not set up an SQPOLL ring: {}", err.trim()),
        );
        return;
    }
    let addr = line.trim().strip_prefix("listening on ").unwrap();
    let server = Server {
        addr: addr.parse().unwrap(),
        stderr: child.stderr.take(),
        child,
    };
    let bytes = run_clients(&server, 8, 4);
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let got = summary(&err);
    assert_eq!((got.conns, got.failed, got.bytes), (8, 0, bytes), "{err}");
}

#[test]
fn echo_server_refuses_bad_arguments() {
    for args in [
        &["--bogus"][..],
        &["--addr", "not-an-address"],
        &["--bufs", "0"],
        &["--max-conns"],
    ] {
        let err = refused(args);
        assert!(err.contains("usage: echo_server"), "{args:?}: {err}");
        assert!(err.contains(args[0]), "{args:?}: {err}");
    }
}
