//! Legacy provided buffers: hand the kernel a group of buffers to pick from, take them back.

use crate::sqe::{RawSqe, Sqe};
use crate::sys;

opcode! {
    /// Give the kernel `nbufs` buffers of `len` bytes each, laid out back to back from
    /// `addr`, as group `bgid` with ids `bid, bid + 1, …` (`IORING_OP_PROVIDE_BUFFERS`,
    /// Linux 5.7). Requests with `IOSQE_BUFFER_SELECT` then pick one each.
    ///
    /// ```
    /// use uring::op::ProvideBuffers;
    ///
    /// let mut pool = vec![0u8; 4 * 1024];
    /// let sqe = ProvideBuffers::new(pool.as_mut_ptr(), 1024, 4, 7, 0).build();
    /// assert_eq!(sqe.as_raw().fd, 4);
    /// ```
    #[doc(alias = "io_uring_prep_provide_buffers")]
    pub struct ProvideBuffers(sys::IORING_OP_PROVIDE_BUFFERS) {
        needs { addr: [*mut u8], len: [u32], nbufs: [u32], bgid: [u16], bid: [u16] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.nbufs as i32;
        sqe.addr = self.addr as u64;
        sqe.len = self.len;
        sqe.off = self.bid as u64;
        sqe.buf_index = self.bgid;
        sqe.into_sqe()
    }
}

opcode! {
    /// Take back up to `nbufs` unused buffers of group `bgid`
    /// (`IORING_OP_REMOVE_BUFFERS`, Linux 5.7). The result is how many were removed.
    #[doc(alias = "io_uring_prep_remove_buffers")]
    pub struct RemoveBuffers(sys::IORING_OP_REMOVE_BUFFERS) {
        needs { nbufs: [u32], bgid: [u16] }
    }

    fn build(self) -> Sqe {
        let mut sqe = RawSqe::new(Self::CODE);
        sqe.fd = self.nbufs as i32;
        sqe.buf_index = self.bgid;
        sqe.into_sqe()
    }
}
