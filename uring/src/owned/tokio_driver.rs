//! Driving an [`AsyncRing`] from tokio's reactor (feature `tokio`).

use std::future::{Future, poll_fn};
use std::io;
use std::os::fd::OwnedFd;
use std::rc::Weak;
use std::task::Poll;

use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};

use super::AsyncRing;
use super::asyncio::Inner;

impl AsyncRing {
    /// The task that drives this ring from tokio: spawn it on the thread the
    /// ring lives on (`tokio::task::spawn_local`, in a `LocalSet` or a
    /// current-thread runtime) and the ring's futures and streams make progress.
    /// No `unsafe` is needed.
    ///
    /// It registers (a duplicate of) the ring's [`eventfd`](Self::eventfd) with
    /// tokio's reactor, and whenever the kernel signals it, calls
    /// [`process`](Self::process). While it runs, it also submits for the ring:
    /// [`run`](Self::run) and [`stream`](Self::stream) queue their entries and wake
    /// it, and it submits all that the tasks queued in one turn of the runtime
    /// with one `io_uring_enter` (without a driver, each call enters the kernel
    /// itself). It holds the ring only weakly: once every
    /// handle of the ring is dropped (futures and streams hold one), it returns
    /// `Ok(())`. It returns the error if processing fails for good (the kernel
    /// refusing to take submissions, for instance); `EINTR` and the like are not
    /// errors.
    ///
    /// ```
    /// use uring::owned::{AsyncRing, OwnedRing, ops};
    ///
    /// let rt = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    /// tokio::task::LocalSet::new().block_on(&rt, async {
    ///     let ring = AsyncRing::new(OwnedRing::new(8)?)?;
    ///     let driver = tokio::task::spawn_local(ring.tokio_driver()?);
    ///     let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
    ///     let read = ring.run(ops::Recv::new(r, Vec::with_capacity(16)))?;
    ///     std::io::Write::write_all(&mut w, b"driven")?;
    ///     let (n, buf) = read.await?;
    ///     assert_eq!((n?, &buf[..]), (6, &b"driven"[..]));
    ///     drop(ring); // the last handle: the driver ends
    ///     driver.await.expect("the driver task")?;
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The errno of duplicating the eventfd, or of registering it with tokio's
    /// reactor.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with I/O enabled (`enable_io`), as
    /// `tokio::io::unix::AsyncFd` does.
    pub fn tokio_driver(&self) -> io::Result<impl Future<Output = io::Result<()>> + 'static> {
        let fd = self.eventfd().try_clone_to_owned()?;
        // SAFETY: the AsyncFd owns `fd`, an OwnedFd: it stays open and names the
        // same file description (the ring's eventfd) for the AsyncFd's whole
        // life, and `as_raw_fd` returns the same number every time.
        let watched = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
            .map_err(io::Error::from)?;
        Ok(drive(watched, std::rc::Rc::downgrade(&self.inner)))
    }
}

/// What wakes the driver.
enum Turn<'a> {
    /// Entries were queued ([`AsyncRing::run`], [`AsyncRing::stream`]) since the
    /// last submission.
    Submit,
    /// The kernel signalled the eventfd.
    Signalled(AsyncFdReadyGuard<'a, OwnedFd>),
}

/// Submits what the ring's tasks queued, and processes the ring whenever the
/// eventfd is readable, until the ring is gone.
async fn drive(watched: AsyncFd<OwnedFd>, ring: Weak<Inner>) -> io::Result<()> {
    // While the driver runs, the ring's futures leave submitting to it; when it
    // ends (or its task is dropped) they submit for themselves again.
    let _registered = Registered(ring.clone());
    loop {
        let turn = poll_fn(|cx| {
            let Some(inner) = ring.upgrade() else {
                return Poll::Ready(None);
            };
            inner.set_driver(Some(cx.waker()));
            if inner.take_unsubmitted() {
                return Poll::Ready(Some(Ok(Turn::Submit)));
            }
            watched
                .poll_read_ready(cx)
                .map(|ready| Some(ready.map(Turn::Signalled)))
        })
        .await;
        let Some(turn) = turn else {
            return Ok(());
        };
        let Some(inner) = ring.upgrade() else {
            return Ok(());
        };
        let ring = AsyncRing { inner };
        match turn? {
            // Everything queued this turn of the runtime, in one enter.
            Turn::Submit => {
                ring.inner.submit_reap_wake()?;
            }
            // The read in `process` drains the eventfd: tokio's readiness is
            // cleared either way (unless the kernel signalled again since tokio
            // reported it, which `clear_ready` leaves set), so the next poll waits
            // for the kernel's next signal instead of reading an empty eventfd.
            Turn::Signalled(mut ready) => match ring.process() {
                Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                _ => ready.clear_ready(),
            },
        }
    }
}

/// Unregisters the driver from its ring (if the ring is still there) when the
/// driver ends or is dropped, submitting what was queued for it.
struct Registered(Weak<Inner>);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Some(inner) = self.0.upgrade() {
            inner.set_driver(None);
        }
    }
}
