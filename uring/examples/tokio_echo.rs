//! A TCP echo server on io_uring, driven by tokio through `uring::owned::AsyncRing`.
//!
//! ```text
//! cargo run -p uring --features tokio --example tokio_echo -- [CONNECTIONS]
//! ```
//!
//! It listens on 127.0.0.1 (a port of the kernel's choosing), prints
//! `listening on ADDR`, and echoes every connection back to its sender until the
//! sender shuts its side down. With `CONNECTIONS` it exits once it has accepted and
//! served that many; otherwise it serves forever.
//!
//! Everything goes through the ring: connections come from one multishot accept
//! (an `ItemStream`), bytes arrive in buffers the kernel picks from a `BufPool`
//! (or plain `Vec`s on kernels without buffer rings), and each received buffer is
//! handed to the send as it is — no copy — and recycled when the send gives it
//! back. Each connection's socket is held by the ring (`AsyncRing::hold`), so
//! that its operations name it without an atomic reference count. tokio only
//! waits for the ring's eventfd.

use std::io::{self, Write as _};
use std::net::{Ipv4Addr, TcpListener};

use uring::owned::{AsyncRing, BufPool, HeldFile, IoBuf, OwnedRing, ops};

fn main() -> io::Result<()> {
    let limit = match std::env::args().nth(1) {
        Some(n) => Some(n.parse::<usize>().map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("CONNECTIONS: {e}"))
        })?),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // The ring and its futures are not Send: they live on this thread.
    tokio::task::LocalSet::new().block_on(&rt, serve(limit))
}

async fn serve(limit: Option<usize>) -> io::Result<()> {
    let ring = AsyncRing::new(OwnedRing::new(64)?)?;

    // The driver: whenever the kernel signals the ring's eventfd, it processes
    // the completions and wakes the futures they finish.
    tokio::task::spawn_local(ring.tokio_driver()?);

    // Buffer rings need Linux 5.19; fall back to owned Vecs before that.
    let pool = ring.with_ring(|r| BufPool::new(r, 0, 64, 4096)).ok();

    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    println!("listening on {}", listener.local_addr()?);
    io::stdout().flush()?;

    let mut accepts = ring
        .stream(ops::AcceptMultishot::new(listener))
        .map_err(io::Error::from)?;
    let mut sessions = Vec::new();
    while limit.is_none_or(|l| sessions.len() < l) {
        let Some(conn) = accepts.next().await else {
            break;
        };
        // Held by the ring: its operations name it with no reference count
        // (a `SharedFd` would take two atomic operations per operation); the
        // session's end drops it, which closes it.
        let conn = ring.hold(conn?)?;
        sessions.push(tokio::task::spawn_local(echo(
            ring.clone(),
            pool.clone(),
            conn,
        )));
    }
    // Dropping the stream cancels the multishot accept.
    drop(accepts);
    let mut total = 0;
    for s in sessions {
        total += s.await.map_err(io::Error::other)??;
    }
    eprintln!("echoed {total} bytes");
    Ok(())
}

/// Echoes `conn` until end of file; returns the byte count.
async fn echo(ring: AsyncRing, pool: Option<BufPool>, conn: HeldFile) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match &pool {
            Some(pool) => {
                let buf = ring.run(ops::RecvSelect::new(&conn, pool))?.await??;
                if buf.is_empty() {
                    return Ok(total);
                }
                send_all(&ring, &conn, buf).await?
            }
            None => {
                let (n, buf) = ring
                    .run(ops::Recv::new(&conn, Vec::with_capacity(4096)))?
                    .await?;
                if n? == 0 {
                    return Ok(total);
                }
                send_all(&ring, &conn, buf).await?
            }
        };
        total += n as u64;
    }
}

/// Sends all of `buf`, resubmitting after short sends.
async fn send_all<B: IoBuf>(ring: &AsyncRing, conn: &HeldFile, buf: B) -> io::Result<usize> {
    let len = buf.bytes_init();
    let mut sent = 0;
    let mut buf = buf.slice(..);
    while sent < len {
        let (n, back) = ring
            .run(ops::Send::new(conn, buf).flags(libc::MSG_NOSIGNAL))?
            .await?;
        sent += n?;
        buf = back.into_inner().slice(sent..len);
    }
    Ok(sent)
}
