//! `examples/echo_server.rs --threads N`: one `OwnedRing` per thread, each with
//! its own listener on the shared port (`SO_REUSEPORT`). Tested like the
//! single-threaded server: 64 concurrent loopback clients (half ping-pong, half
//! pipelined), every byte compared, the server's summary checked against what
//! the clients saw — and every thread must have served connections. Also with
//! `--register-ring-fd`. The server needs provided-buffer rings (Linux 5.19),
//! multishot accept (5.19) and multishot receive (6.0): without them each test
//! says why it is skipped.

use crate::support;
use support::echo::{EchoServer as Server, Rng, ping_pong, pipelined, refused, skipped};
use support::kernel_release;

use std::sync::{Arc, Barrier};
use std::thread;

/// A message size: edge cases around a 4 KiB pool buffer, or random.
fn message_size(rng: &mut Rng) -> usize {
    let fixed = [1, 4095, 4096, 4097, 65536];
    if rng.next_u64() % 2 == 0 {
        fixed[(rng.next_u64() % fixed.len() as u64) as usize]
    } else {
        1 + (rng.next_u64() % 65536) as usize
    }
}

/// One client: ping-pong (even seeds) or pipelined (odd), `messages` messages,
/// then a shutdown and end of file from the server. Returns the bytes echoed.
fn client(server: &Server, seed: u64, messages: usize) -> u64 {
    let mut rng = Rng::new(seed);
    let msgs: Vec<Vec<u8>> = (0..messages)
        .map(|_| {
            let n = message_size(&mut rng);
            rng.bytes(n)
        })
        .collect();
    if seed % 2 == 0 {
        ping_pong(server.connect(), &msgs, &format!("client {seed}"))
    } else {
        pipelined(
            server.connect(),
            msgs.concat(),
            &format!("pipelined client {seed}"),
        )
    }
}

/// Runs 64 clients at once against a server started with `args`; checks the
/// summary (connections, bytes) and that each of the `threads` served some.
fn sixty_four_clients(args: &[&str], threads: usize) {
    let server = Server::start(args);
    let clients = 64u64;
    let start = Arc::new(Barrier::new(clients as usize));
    let bytes: u64 = thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|seed| {
                let start = Arc::clone(&start);
                let server = &server;
                scope.spawn(move || {
                    start.wait();
                    client(server, seed, 8)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    let (status, err) = server.stop();
    assert!(status.success(), "echo_server exited with {status}: {err}");
    let summary = err
        .lines()
        .find(|l| l.contains("connections served"))
        .unwrap_or_else(|| panic!("no summary: {err}"));
    assert!(
        summary.contains(&format!(
            "{clients} connections served (0 ended by an error), {bytes} bytes echoed"
        )),
        "summary {summary:?}, the clients saw {clients} connections and {bytes} bytes"
    );
    let per_thread: Vec<u64> = err
        .lines()
        .filter_map(|l| l.strip_prefix("echo_server: thread "))
        .map(|l| {
            l.split(": ")
                .nth(1)
                .and_then(|n| n.split(' ').next())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(per_thread.len(), threads, "one line per thread: {err}");
    assert_eq!(per_thread.iter().sum::<u64>(), clients);
    assert!(
        per_thread.iter().all(|&n| n > 0),
        "every ring served connections: {per_thread:?}"
    );
}

#[test]
fn two_rings_on_two_threads_without_deferred_task_work_echo_64_clients_byte_for_byte() {
    let test = "two_rings_on_two_threads_without_deferred_task_work_echo_64_clients_byte_for_byte";
    if skipped(test) {
        return;
    }
    // The rings of the other tests here defer their task work where the kernel
    // has it (the server's default); these interrupt their threads for it.
    sixty_four_clients(&["--threads", "2", "--no-defer-taskrun"], 2);
}

#[test]
fn threads_with_registered_ring_descriptors_echo_64_clients_byte_for_byte() {
    let test = "threads_with_registered_ring_descriptors_echo_64_clients_byte_for_byte";
    if skipped(test) {
        return;
    }
    let ok = uring::Ring::builder().register_ring_fd().build(2);
    if let Err(e) = ok {
        support::skip(
            test,
            &format!(
                "this kernel ({}) refused IORING_REGISTER_RING_FDS ({e}); Linux 5.18 is needed",
                kernel_release()
            ),
        );
        return;
    }
    sixty_four_clients(&["--threads", "3", "--register-ring-fd"], 3);
}

#[test]
fn threads_with_deferred_task_work_echo_64_clients_byte_for_byte() {
    let test = "threads_with_deferred_task_work_echo_64_clients_byte_for_byte";
    if skipped(test) {
        return;
    }
    if !support::defer_taskrun(test) {
        return;
    }
    // One ring per thread, each made on the thread that submits to it (as
    // SINGLE_ISSUER wants).
    sixty_four_clients(&["--threads", "2", "--defer-taskrun"], 2);
}

#[test]
fn conflicting_arguments_are_refused() {
    let _forking = support::forking();
    let err = refused(&["--threads", "2", "--max-conns", "3"]);
    assert!(
        err.contains("--max-conns") && err.contains("--threads"),
        "{err}"
    );
    refused(&["--threads", "0"]);
    let err = refused(&["--sqpoll", "--defer-taskrun"]);
    assert!(
        err.contains("--sqpoll and --defer-taskrun exclude each other"),
        "{err}"
    );
    let err = refused(&["--defer-taskrun", "--no-defer-taskrun"]);
    assert!(
        err.contains("--defer-taskrun and --no-defer-taskrun exclude each other"),
        "{err}"
    );
}
