//! Readiness: poll add/remove/update, epoll control and wait.

use crate::sqe::{RawSqe, Sqe};
use crate::sys;

/// The 32-bit poll mask as the SQE stores it (liburing swaps its halves on big-endian).
#[inline(always)]
const fn poll_mask(mask: u32) -> u32 {
    if cfg!(target_endian = "big") {
        mask.rotate_left(16)
    } else {
        mask
    }
}

opcode! {
    /// Wait for readiness events on a file: like `poll(2)` on one descriptor
    /// (`IORING_OP_POLL_ADD`, Linux 5.1). The result is the ready mask.
    ///
    /// [`multi`](Self::multi) (Linux 5.13) keeps the poll armed, one completion
    /// (flagged `MORE`) per event.
    ///
    /// ```
    /// use uring::op::PollAdd;
    /// use uring::types::Fd;
    ///
    /// let sqe = PollAdd::new(Fd(0), libc::POLLIN as u32).multi(true).build();
    /// assert_eq!(sqe.as_raw().len, 1); // IORING_POLL_ADD_MULTI
    /// ```
    #[doc(alias = "io_uring_prep_poll_add")]
    #[doc(alias = "io_uring_prep_poll_multishot")]
    pub struct PollAdd(sys::IORING_OP_POLL_ADD) {
        needs { fd: file, mask: [u32] }
        /// Multishot: stay armed after each event (`IORING_POLL_ADD_MULTI`).
        multi: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.op_flags = poll_mask(self.mask);
        if self.multi {
            sqe.len = sys::IORING_POLL_ADD_MULTI;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Remove, or update, a poll request named by its user data
    /// (`IORING_OP_POLL_REMOVE`, Linux 5.1; updates 5.13).
    ///
    /// Without setters it removes the poll (which completes with `-ECANCELED`). With
    /// [`update_events`](Self::update_events) and/or
    /// [`update_user_data`](Self::update_user_data) it changes the armed poll instead.
    #[doc(alias = "io_uring_prep_poll_remove")]
    #[doc(alias = "io_uring_prep_poll_update")]
    pub struct PollRemove(sys::IORING_OP_POLL_REMOVE) {
        needs { user_data: [u64] }
        /// Replace the poll's event mask (`IORING_POLL_UPDATE_EVENTS`).
        update_events: Option<u32> = None,
        /// Replace the poll's user data (`IORING_POLL_UPDATE_USER_DATA`).
        update_user_data: Option<u64> = None,
        /// With `update_events`: the updated poll is multishot (`IORING_POLL_ADD_MULTI`).
        multi: bool = false,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = -1;
        sqe.addr = self.user_data;
        if let Some(mask) = self.update_events {
            sqe.op_flags = poll_mask(mask);
            sqe.len |= sys::IORING_POLL_UPDATE_EVENTS;
        }
        if let Some(new) = self.update_user_data {
            sqe.off = new;
            sqe.len |= sys::IORING_POLL_UPDATE_USER_DATA;
        }
        if self.multi {
            sqe.len |= sys::IORING_POLL_ADD_MULTI;
        }
        sqe.into_sqe()
    }
}

opcode! {
    /// Add, modify or remove an entry of an epoll instance: like `epoll_ctl(2)`
    /// (`IORING_OP_EPOLL_CTL`, Linux 5.6).
    #[doc(alias = "io_uring_prep_epoll_ctl")]
    pub struct EpollCtl(sys::IORING_OP_EPOLL_CTL) {
        needs { epfd: file, fd: [i32], op: [i32], event: [*const libc::epoll_event] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.epfd);
        sqe.addr = self.event as u64;
        sqe.len = self.op as u32;
        sqe.off = self.fd as u32 as u64;
        sqe.into_sqe()
    }
}

opcode! {
    /// Wait for events on an epoll instance: like `epoll_wait(2)` without a timeout
    /// (`IORING_OP_EPOLL_WAIT`, Linux 6.15). The result is the number of events.
    #[doc(alias = "io_uring_prep_epoll_wait")]
    pub struct EpollWait(sys::IORING_OP_EPOLL_WAIT) {
        needs { fd: file, events: [*mut libc::epoll_event], maxevents: [i32] }
        /// Reserved flags (default 0).
        flags: u32 = 0,
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.set_target(self.fd);
        sqe.addr = self.events as u64;
        sqe.len = self.maxevents as u32;
        sqe.op_flags = self.flags;
        sqe.into_sqe()
    }
}
