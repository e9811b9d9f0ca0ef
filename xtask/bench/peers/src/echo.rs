//! Echo servers on `monoio` and on `tokio-uring`, for `cargo xtask bench`'s echo
//! case: one thread each, written the way those projects' own examples write them
//! (monoio's `examples/echo.rs`: an owned `Vec` read into and written back with
//! `write_all`; tokio-uring's `examples/tcp_listener.rs`: a 4 KiB buffer, the
//! read's length sliced off and written with `write_all`), a task per connection.
//!
//! ```text
//! peer-echo monoio|tokio-uring
//! ```
//!
//! Like `xtask/bench/echo.c server` and `uring/examples/echo_server.rs`, it prints
//! `listening on 127.0.0.1:PORT` first and exits (status 0) when its standard input
//! reaches end of file. (Standard input is watched by a second thread that sleeps
//! in `read` until then: neither runtime reads it asynchronously on io_uring.)

use std::io::{self, Read, Write};
use std::process::ExitCode;

/// Exits the process once standard input reaches end of file.
fn exit_at_stdin_eof() {
    std::thread::spawn(|| {
        let mut buf = [0u8; 256];
        let mut stdin = io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

fn announce(addr: std::net::SocketAddr) -> io::Result<()> {
    let mut out = io::stdout();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

fn monoio_server() -> io::Result<()> {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    use monoio::net::{TcpListener, TcpStream};

    async fn echo(mut stream: TcpStream) -> io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
        loop {
            let (res, b) = stream.read(buf).await;
            buf = b;
            if res? == 0 {
                return Ok(());
            }
            let (res, b) = stream.write_all(buf).await;
            buf = b;
            res?;
            buf.clear();
        }
    }

    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new().build()?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            monoio::spawn(async move {
                if let Err(e) = echo(stream).await {
                    eprintln!("peer-echo monoio: connection: {e}");
                }
            });
        }
    })
}

fn tokio_uring_server() -> io::Result<()> {
    use tokio_uring::buf::BoundedBuf;
    use tokio_uring::net::TcpListener;

    tokio_uring::start(async {
        let listener = TcpListener::bind("127.0.0.1:0".parse().expect("an address"))?;
        announce(listener.local_addr()?)?;
        loop {
            let (stream, _) = listener.accept().await?;
            tokio_uring::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let (res, b) = stream.read(buf).await;
                    buf = b;
                    let n = match res {
                        Ok(0) => return,
                        Ok(n) => n,
                        Err(e) => {
                            eprintln!("peer-echo tokio-uring: read: {e}");
                            return;
                        }
                    };
                    let (res, slice) = stream.write_all(buf.slice(..n)).await;
                    buf = slice.into_inner();
                    if let Err(e) = res {
                        eprintln!("peer-echo tokio-uring: write: {e}");
                        return;
                    }
                }
            });
        }
    })
}

fn main() -> ExitCode {
    let which: Vec<String> = std::env::args().skip(1).collect();
    let result = match which.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["monoio"] => {
            exit_at_stdin_eof();
            monoio_server()
        }
        ["tokio-uring"] => {
            exit_at_stdin_eof();
            tokio_uring_server()
        }
        _ => {
            eprintln!("usage: peer-echo monoio|tokio-uring");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer-echo: {e}");
            ExitCode::FAILURE
        }
    }
}
