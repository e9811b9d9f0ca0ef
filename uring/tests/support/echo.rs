//! `examples/echo_server.rs` run as a child process, for the tests that drive it with
//! loopback clients (`tests/echo/`, `tests/examples/`): whether this kernel can run
//! it ([`skipped`]), the server itself ([`EchoServer`]) and the clients' reproducible
//! bytes ([`Rng`]) and the two kinds of client ([`ping_pong`], [`pipelined`]).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use uring::error::errno;
use uring::owned::{BufPool, OwnedRing, ops};

/// Why the server cannot run on this kernel, if it cannot: probes a throw-away
/// ring for a buffer ring (Linux 5.19), multishot receive (6.0) and multishot
/// accept (5.19).
pub fn missing_feature() -> Option<String> {
    let mut ring = OwnedRing::new(8).expect("io_uring set-up");
    let pool = match BufPool::new(&mut ring, 0, 2, 64) {
        Ok(p) => p,
        Err(e) if errno(&e) == Some(libc::EINVAL) => {
            return Some(format!(
                "the kernel refused a provided-buffer ring ({e}); Linux 5.19 is needed"
            ));
        }
        Err(e) => panic!("registering a buffer pool: {e}"),
    };
    let (r, mut w) = UnixStream::pair().unwrap();
    let id = ring
        .submit_multishot(ops::RecvMultishot::new(r, &pool))
        .unwrap();
    w.write_all(b"x").unwrap();
    match ring.next_item(&id).unwrap().item() {
        Some(Err(e)) if errno(&e) == Some(libc::EINVAL) => {
            return Some(format!(
                "the kernel refused a multishot receive ({e}); Linux 6.0 is needed"
            ));
        }
        Some(item) => assert_eq!(&item.expect("a multishot receive")[..], b"x"),
        None => panic!("the multishot receive ended without an item"),
    }
    match super::first_multishot_accept(&mut ring).1 {
        Err(e) if errno(&e) == Some(libc::EINVAL) => Some(format!(
            "the kernel refused a multishot accept ({e}); Linux 5.19 is needed"
        )),
        item => {
            item.expect("a multishot accept");
            None
        }
    }
}

/// Whether `test` must be skipped because the server cannot run on this kernel
/// ([`missing_feature`]); if so, says why ([`super::skip`]).
pub fn skipped(test: &str) -> bool {
    match missing_feature() {
        Some(why) => {
            super::skip(test, &format!("on {}: {why}", super::kernel_release()));
            true
        }
        None => false,
    }
}

/// `echo_server`'s standard error for `args`, which it must refuse: exit status 2
/// and nothing on standard output.
pub fn refused(args: &[&str]) -> String {
    let out = Command::new(super::example("echo_server", &[]))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// xorshift64: reproducible pseudo-random sizes and bytes for the clients.
pub struct Rng(u64);

impl Rng {
    /// A generator for client `seed` (any seed, zero included, gives a non-zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 pseudo-random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `n` pseudo-random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

/// Asserts `got == want`; if not, the panic names `what`, both lengths and the first
/// byte that differs (the shorter length when one is a prefix of the other).
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: {} bytes back for {} sent, first difference at byte {at}",
            got.len(),
            want.len()
        );
    }
}

/// A ping-pong client on `s`: each message is written whole, then read back whole
/// and compared, before the next. Then it shuts its side down and expects end of
/// file: the server closed the connection. `who` names the client in failures.
/// Returns the bytes echoed.
pub fn ping_pong(mut s: TcpStream, msgs: &[Vec<u8>], who: &str) -> u64 {
    let mut total = 0;
    for (i, msg) in msgs.iter().enumerate() {
        s.write_all(msg).unwrap();
        let mut back = vec![0u8; msg.len()];
        s.read_exact(&mut back)
            .unwrap_or_else(|e| panic!("{who}, message {i} ({} bytes): {e}", msg.len()));
        assert_same(&back, msg, &format!("{who}, message {i}"));
        total += msg.len() as u64;
    }
    s.shutdown(Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    s.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{who}: {} unexpected bytes", rest.len());
    total
}

/// A pipelined client on `s`: a writer thread sends `stream` back to back and shuts
/// down; meanwhile the echo is read until end of file and compared whole. `who`
/// names the client in failures. Returns the bytes echoed.
pub fn pipelined(s: TcpStream, stream: Vec<u8>, who: &str) -> u64 {
    let mut w = s.try_clone().unwrap();
    let len = stream.len();
    let writer = thread::spawn(move || {
        w.write_all(&stream).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
        stream
    });
    let mut back = Vec::with_capacity(len);
    let mut r = s;
    r.read_to_end(&mut back)
        .unwrap_or_else(|e| panic!("{who}: {e}"));
    let stream = writer.join().unwrap();
    assert_same(&back, &stream, who);
    len as u64
}

/// How long a client's read or write may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `echo_server`: killed on drop if it has not exited.
pub struct EchoServer {
    /// The process.
    pub child: Child,
    /// Where it listens (its first line of output).
    pub addr: SocketAddr,
    /// Its stderr, read when it exits.
    pub stderr: Option<ChildStderr>,
}

impl EchoServer {
    /// Starts the example with `args` and waits for its `listening on ADDR` line.
    pub fn start(args: &[&str]) -> EchoServer {
        let mut child = super::spawn(
            Command::new(super::example("echo_server", &[]))
                .args(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )
        .expect("starting echo_server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                let mut err = String::new();
                let _ = child.stderr.take().unwrap().read_to_string(&mut err);
                panic!("echo_server's first line was {line:?}; stderr: {err}")
            });
        let stderr = child.stderr.take();
        EchoServer {
            child,
            addr,
            stderr,
        }
    }

    /// Closes the server's stdin (its signal to stop) and waits for it; returns
    /// its status and what it wrote on stderr.
    pub fn stop(mut self) -> (ExitStatus, String) {
        drop(self.child.stdin.take());
        self.wait()
    }

    /// Waits (at most a minute) for the server to exit by itself.
    pub fn wait(mut self) -> (ExitStatus, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "echo_server did not exit within a minute"
            );
            thread::sleep(Duration::from_millis(10));
        };
        let mut err = String::new();
        self.stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        (status, err)
    }

    /// A client connection with [`IO_TIMEOUT`] on reads and writes.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
