//! Processes and futexes: `waitid`, futex wait and wake.

use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::AtomicU32;

use super::{Heap, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::{Op, SharedFd};
use crate::sqe::Sqe;

/// Waits for a child process to change state, like `waitid(2)`:
/// `IORING_OP_WAITID` (Linux 6.7). The op owns the `siginfo_t` the kernel fills;
/// the output is what it says, as a [`ChildStatus`].
///
/// `options` are `waitid`'s: at least one of `WEXITED`, `WSTOPPED`,
/// `WCONTINUED`, and maybe `WNOHANG` (then, with no child ready, the status has
/// `pid` 0) or `WNOWAIT`.
///
/// A child reaped here is gone: a `std::process::Child` for it can no longer
/// wait for it, and its pid may be reused by an unrelated process, so do not
/// `kill` through it afterwards.
///
/// ```
/// use uring::owned::{OwnedRing, ops::WaitId};
/// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
/// let child = std::process::Command::new("sh").args(["-c", "exit 3"]).spawn()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(WaitId::pid(child.id(), libc::WEXITED))?;
/// let status = ring.wait_for(id)??;
/// assert_eq!(status.pid, child.id() as i32);
/// assert_eq!((status.code, status.status), (libc::CLD_EXITED, 3));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_waitid")]
#[derive(Debug)]
pub struct WaitId {
    idtype: libc::idtype_t,
    id: libc::id_t,
    /// For `P_PIDFD`: the descriptor `id` names, kept open.
    pidfd: Option<SharedFd>,
    options: i32,
    info: SigInfoHeap,
}

impl WaitId {
    fn with(idtype: libc::idtype_t, id: libc::id_t, options: i32) -> WaitId {
        // SAFETY: siginfo_t is plain integers (and a union of them); all-zero is
        // a valid value, and what waitid leaves when no child is ready.
        let zero: libc::siginfo_t = unsafe { core::mem::zeroed() };
        WaitId {
            idtype,
            id,
            pidfd: None,
            options,
            info: SigInfoHeap(Heap::new(zero)),
        }
    }

    /// Wait for the child with process id `pid` (`P_PID`).
    pub fn pid(pid: u32, options: i32) -> WaitId {
        WaitId::with(libc::P_PID, pid, options)
    }

    /// Wait for any child in process group `pgid` (`P_PGID`; 0: the caller's group).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// // A group with no children of ours.
    /// let id = ring.submit_op(WaitId::pgid(999_999, libc::WEXITED))?;
    /// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::ECHILD));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pgid(pgid: u32, options: i32) -> WaitId {
        WaitId::with(libc::P_PGID, pgid, options)
    }

    /// Wait for any child (`P_ALL`).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let mut ring = OwnedRing::new(2)?;
    /// // Only look: WNOHANG does not wait for a child, WNOWAIT reaps none.
    /// let id = ring.submit_op(WaitId::any(libc::WEXITED | libc::WNOHANG | libc::WNOWAIT))?;
    /// match ring.wait_for(id)? {
    ///     Ok(status) => assert!(status.pid >= 0), // 0: no child has exited
    ///     Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ECHILD)), // no children
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn any(options: i32) -> WaitId {
        WaitId::with(libc::P_ALL, 0, options)
    }

    /// Wait for the child a pidfd refers to (`P_PIDFD`); the op keeps `pidfd` open.
    ///
    /// ```
    /// use std::os::fd::{FromRawFd, OwnedFd};
    /// use uring::owned::{OwnedRing, ops::WaitId};
    /// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
    /// let child = std::process::Command::new("sh").args(["-c", "exit 4"]).spawn()?;
    /// // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor or -1.
    /// let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id(), 0) };
    /// # if fd < 0 { return Ok(()) } // no pidfds
    /// // SAFETY: a new descriptor nothing else owns.
    /// let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(WaitId::pidfd(pidfd, libc::WEXITED))?;
    /// assert_eq!(ring.wait_for(id)??.status, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pidfd(pidfd: impl Into<SharedFd>, options: i32) -> WaitId {
        let pidfd = pidfd.into();
        let mut op = WaitId::with(libc::P_PIDFD, pidfd.as_raw_fd() as libc::id_t, options);
        op.pidfd = Some(pidfd);
        op
    }
}

// SAFETY: names the siginfo (its own heap allocation, read only after the final
// completion) and, for P_PIDFD, the descriptor `id` holds, which the op's SharedFd
// keeps open. No other memory or descriptor.
unsafe impl Op for WaitId {
    type Output = io::Result<ChildStatus>;
    fn sqe(&mut self) -> Sqe {
        raw::WaitId::new(self.idtype, self.id, self.info.0.ptr(), self.options).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<ChildStatus> {
        cqe.result()?;
        // SAFETY: the final completion arrived: the kernel is done writing.
        let info = unsafe { self.info.0.get() };
        if info.si_signo == 0 {
            // No child was ready (WNOHANG). Some kernels (seen on 6.16 to 6.19)
            // still fill in a stale pid then; only the signal number is reliable.
            return Ok(ChildStatus {
                pid: 0,
                uid: 0,
                signo: 0,
                code: 0,
                status: 0,
            });
        }
        // SAFETY: si_signo is not 0, so waitid reported a child and filled the
        // SIGCHLD layout of the union (pid, uid, status), which these accessors
        // read. Whatever the layout, every byte is an initialised integer (zeroed
        // at allocation, then written by the kernel).
        let (pid, uid, status) = unsafe { (info.si_pid(), info.si_uid(), info.si_status()) };
        Ok(ChildStatus {
            pid,
            uid,
            signo: info.si_signo,
            code: info.si_code,
            status,
        })
    }
}

/// The kernel-written `siginfo_t` of a [`WaitId`].
struct SigInfoHeap(Heap<libc::siginfo_t>);

// SAFETY: a siginfo_t is plain data; its pointer-typed fields (in the union) are
// addresses the kernel reports, never dereferenced here. The Heap owns it as a Box.
unsafe impl core::marker::Send for SigInfoHeap {}

impl std::fmt::Debug for SigInfoHeap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("siginfo")
    }
}

/// What [`WaitId`] learned about a child: the fields of its `siginfo_t`.
///
/// ```
/// use uring::owned::{OwnedRing, ops::WaitId};
/// # if !uring::probe::probe()?.is_supported(uring::op::WaitId::CODE) { return Ok(()) } // older kernel
/// let mut child = std::process::Command::new("sleep").arg("10").spawn()?;
/// child.kill()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(WaitId::pid(child.id(), libc::WEXITED))?;
/// let status = ring.wait_for(id)??;
/// assert_eq!((status.code, status.status), (libc::CLD_KILLED, libc::SIGKILL));
/// assert_eq!(status.signo, libc::SIGCHLD);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ChildStatus {
    /// The child's process id (0 with `WNOHANG` when no child was ready).
    pub pid: i32,
    /// Its real user id.
    pub uid: u32,
    /// `SIGCHLD`, or 0 when no child was ready.
    pub signo: i32,
    /// What happened: `CLD_EXITED`, `CLD_KILLED`, `CLD_DUMPED`, `CLD_STOPPED`,
    /// `CLD_TRAPPED` or `CLD_CONTINUED`.
    pub code: i32,
    /// The exit status (`CLD_EXITED`) or the signal (otherwise).
    pub status: i32,
}

/// The flags the futex operations use: a 32-bit, process-private word.
fn futex_flags() -> crate::types::FutexFlags {
    crate::types::FutexFlags::SIZE_U32 | crate::types::FutexFlags::PRIVATE
}

/// Sleeps while a futex word holds an expected value, until woken:
/// `IORING_OP_FUTEX_WAIT` (Linux 6.7). The op holds the word (an
/// `Arc<AtomicU32>`, process-private) until its completion. Output: `Ok(())` when
/// woken, `EAGAIN` when the word did not hold `expected`, `ECANCELED` when
/// cancelled.
///
/// It is woken by [`FutexWake`], or by a thread's `futex(FUTEX_WAKE_PRIVATE)` on
/// the same word.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
/// use uring::owned::{OwnedRing, ops::{FutexWait, FutexWake}};
/// # if !uring::probe::probe()?.is_supported(uring::op::FutexWait::CODE) { return Ok(()) } // older kernel
/// let word = Arc::new(AtomicU32::new(0));
/// let mut ring = OwnedRing::new(4)?;
/// let wait = ring.submit_op(FutexWait::new(&word, 0))?;
/// ring.submit()?;
/// word.store(1, Ordering::Release);
/// let wake = ring.submit_op(FutexWake::new(&word, 1))?;
/// assert_eq!(ring.wait_for(wake)??, 1); // one waiter woken
/// ring.wait_for(wait)??;
/// // Waiting for a value the word does not hold returns at once.
/// let id = ring.submit_op(FutexWait::new(&word, 0))?;
/// assert_eq!(ring.wait_for(id)?.unwrap_err().raw_os_error(), Some(libc::EAGAIN));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_futex_wait")]
#[derive(Debug)]
pub struct FutexWait {
    word: Arc<AtomicU32>,
    expected: u32,
    mask: u32,
}

impl FutexWait {
    /// Wait on `word` while it holds `expected`.
    pub fn new(word: &Arc<AtomicU32>, expected: u32) -> FutexWait {
        FutexWait {
            word: Arc::clone(word),
            expected,
            mask: u32::MAX,
        }
    }

    /// Be woken only by wakes whose bitset shares a bit with `mask` (default: all
    /// bits).
    pub fn mask(mut self, mask: u32) -> FutexWait {
        self.mask = mask;
        self
    }
}

// SAFETY: names the futex word, inside the op's Arc allocation (its address never
// changes and the Arc keeps it alive until the op is dropped, after its final
// completion). The kernel only reads the word, with a single aligned 32-bit load
// under its futex lock — the access futex(2) makes; the word is an AtomicU32, so
// other threads' concurrent atomic stores to it are not data races. No descriptor.
unsafe impl Op for FutexWait {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::FutexWait::new(
            self.word.as_ptr().cast_const(),
            u64::from(self.expected),
            u64::from(self.mask),
            futex_flags(),
        )
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Wakes up to `count` waiters of a futex word: `IORING_OP_FUTEX_WAKE` (Linux
/// 6.7). The op holds the word (an `Arc<AtomicU32>`, process-private) until its
/// completion. Output: how many were woken. It wakes [`FutexWait`]s and threads
/// blocked in `futex(FUTEX_WAIT_PRIVATE)` on the same word.
///
/// ```
/// use std::sync::{Arc, atomic::AtomicU32};
/// use uring::owned::{OwnedRing, ops::FutexWake};
/// # if !uring::probe::probe()?.is_supported(uring::op::FutexWake::CODE) { return Ok(()) } // older kernel
/// let word = Arc::new(AtomicU32::new(0));
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(FutexWake::new(&word, u32::MAX))?;
/// assert_eq!(ring.wait_for(id)??, 0); // no one was waiting
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_futex_wake")]
#[derive(Debug)]
pub struct FutexWake {
    word: Arc<AtomicU32>,
    count: u32,
    mask: u32,
}

impl FutexWake {
    /// Wake up to `count` waiters of `word`.
    pub fn new(word: &Arc<AtomicU32>, count: u32) -> FutexWake {
        FutexWake {
            word: Arc::clone(word),
            count,
            mask: u32::MAX,
        }
    }

    /// Wake only waiters whose bitset shares a bit with `mask` (default: all).
    pub fn mask(mut self, mask: u32) -> FutexWake {
        self.mask = mask;
        self
    }
}

// SAFETY: names the futex word's address (inside the op's Arc allocation, alive
// until the op is dropped); the kernel uses it only as the futex's key and does
// not write it. No descriptor.
unsafe impl Op for FutexWake {
    type Output = io::Result<u32>;
    fn sqe(&mut self) -> Sqe {
        raw::FutexWake::new(
            self.word.as_ptr().cast_const(),
            u64::from(self.count),
            u64::from(self.mask),
            futex_flags(),
        )
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<u32> {
        cqe.result()
    }
}
