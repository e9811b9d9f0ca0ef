//! `examples/echo_server.rs` run as a child process, for the tests that drive it with
//! loopback clients (`tests/echo/`, `tests/examples/`).

use std::io::{BufRead as _, BufReader, Read as _};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

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
