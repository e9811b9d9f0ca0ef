//! Zero-copy receive interface queues.

use std::io;

use super::raw_register;
use crate::ring::Ring;
use crate::sys;

/// Registration calls added with liburing 2.1 and later: zero-copy receive.
impl Ring {
    /// Registers a zero-copy receive interface queue (`IORING_REGISTER_ZCRX_IFQ`,
    /// Linux 6.15; liburing's `io_uring_register_ifq`): packets received on
    /// hardware queue `if_rxq` of interface `if_idx` land directly in the `area`
    /// memory, and the application hands consumed pieces back through a refill
    /// ring the kernel lays out in the `refill` memory. Returns the queue's id
    /// and where the refill ring's head, tail and entries are.
    ///
    /// Needs a ring with `DEFER_TASKRUN` and 32-byte CQEs (or `CQE_MIXED`),
    /// `CAP_NET_ADMIN`, and a NIC whose driver does header split and queue
    /// management: loopback and virtual devices answer `EOPNOTSUPP`.
    ///
    /// # Safety
    ///
    /// `area` and `refill` must be page-aligned memory of the lengths given that
    /// stays valid, and is accessed only as the zero-copy receive protocol
    /// allows, until the ring is dropped.
    ///
    /// # Errors
    ///
    /// `EINVAL` for the wrong ring flags, a zero `rq_entries`, or before Linux
    /// 6.15; `EPERM` without `CAP_NET_ADMIN`; `ENODEV` for an unknown interface;
    /// `EOPNOTSUPP` for an interface that cannot do it.
    #[doc(alias = "io_uring_register_ifq")]
    pub unsafe fn register_zcrx_ifq(&mut self, reg: &ZcrxIfqReg) -> io::Result<ZcrxIfq> {
        let mut area = sys::io_uring_zcrx_area_reg {
            addr: reg.area as u64,
            len: reg.area_len as u64,
            ..Default::default()
        };
        let mut region = sys::io_uring_region_desc {
            user_addr: reg.refill as u64,
            size: reg.refill_len as u64,
            flags: sys::IORING_MEM_REGION_TYPE_USER,
            ..Default::default()
        };
        let mut raw = sys::io_uring_zcrx_ifq_reg {
            if_idx: reg.if_idx,
            if_rxq: reg.if_rxq,
            rq_entries: reg.rq_entries,
            area_ptr: &mut area as *mut sys::io_uring_zcrx_area_reg as u64,
            region_ptr: &mut region as *mut sys::io_uring_region_desc as u64,
            rx_buf_len: reg.rx_buf_len,
            ..Default::default()
        };
        // SAFETY: raw, area and region are valid for the call; the memory they
        // name is the caller's contract.
        unsafe { self.register_zcrx_ifq_raw(&mut raw) }?;
        Ok(ZcrxIfq {
            id: raw.zcrx_id,
            head: raw.offsets.head,
            tail: raw.offsets.tail,
            rqes: raw.offsets.rqes,
            area_token: area.rq_area_token,
        })
    }

    /// [`register_zcrx_ifq`](Self::register_zcrx_ifq) with liburing's own
    /// argument struct, for fields the typed form does not cover (dmabuf areas,
    /// `ZCRX_REG_*` flags): received packets of
    /// hardware queue `if_rxq` of interface `if_idx` land directly in the area
    /// `reg.area_ptr` describes, with a refill ring in the region
    /// `reg.region_ptr` describes. The kernel fills in `reg.offsets` and
    /// `reg.zcrx_id`.
    ///
    /// Needs a ring with `DEFER_TASKRUN` and 32-byte CQEs, `CAP_NET_ADMIN`, and a
    /// NIC and driver with header split and queue management (not loopback).
    ///
    /// # Safety
    ///
    /// `reg` and the `io_uring_zcrx_area_reg` and `io_uring_region_desc` it
    /// points to must be valid for the call; the area and region memory they
    /// describe must stay valid, and not be written otherwise than as the zcrx
    /// protocol allows, until the ring is dropped.
    ///
    /// # Errors
    ///
    /// `EPERM` without `CAP_NET_ADMIN`; `EINVAL` for the wrong ring flags or
    /// before 6.15; `EOPNOTSUPP`/`ENODEV`/`EINVAL` for interfaces that cannot do it.
    #[doc(alias = "io_uring_register_ifq")]
    pub unsafe fn register_zcrx_ifq_raw(
        &mut self,
        reg: &mut sys::io_uring_zcrx_ifq_reg,
    ) -> io::Result<()> {
        let (idx, q) = (reg.if_idx, reg.if_rxq);
        self.register_call(
            || format!("registering zero-copy receive on interface {idx} queue {q}"),
            // SAFETY: reg and the memory it names are the caller's contract.
            |r| unsafe {
                #[cfg(liburing_2_10)]
                {
                    sys::io_uring_register_ifq(r, reg)
                }
                #[cfg(not(liburing_2_10))]
                {
                    raw_register(
                        r,
                        sys::IORING_REGISTER_ZCRX_IFQ,
                        (reg as *mut sys::io_uring_zcrx_ifq_reg).cast(),
                        1,
                    )
                }
            },
        )?;
        Ok(())
    }

    /// A control operation on a registered zero-copy receive queue
    /// (`IORING_REGISTER_ZCRX_CTRL`, Linux 6.19; liburing 2.15's
    /// `io_uring_register_zcrx_ctrl`): `ZCRX_CTRL_FLUSH_RQ` or `ZCRX_CTRL_EXPORT`
    /// (which returns a new fd in `ctrl`, the caller's to close).
    ///
    /// # Errors
    ///
    /// `EINVAL`/`ENXIO` when `ctrl.zcrx_id` names no queue; `EINVAL` before 6.19.
    #[doc(alias = "io_uring_register_zcrx_ctrl")]
    pub fn zcrx_ctrl(&mut self, ctrl: &mut sys::zcrx_ctrl) -> io::Result<()> {
        let (id, op) = (ctrl.zcrx_id, ctrl.op);
        self.register_call(
            || format!("zero-copy receive control {op} on queue {id}"),
            // SAFETY: ctrl is a valid zcrx_ctrl the kernel reads and writes; it
            // names no other memory.
            |r| unsafe {
                raw_register(
                    r,
                    sys::IORING_REGISTER_ZCRX_CTRL,
                    (ctrl as *mut sys::zcrx_ctrl).cast(),
                    0,
                )
            },
        )?;
        Ok(())
    }
}

/// What [`Ring::register_zcrx_ifq`] registers. Lengths are in bytes; both
/// memories page-aligned.
#[derive(Debug, Clone, Copy)]
pub struct ZcrxIfqReg {
    /// The interface index (`if_nametoindex`).
    pub if_idx: u32,
    /// The hardware receive queue of that interface.
    pub if_rxq: u32,
    /// Entries of the refill ring (a power of two; the kernel may round up).
    pub rq_entries: u32,
    /// The receive area: packets land here.
    pub area: *mut u8,
    /// Its length.
    pub area_len: usize,
    /// Memory for the refill ring: at least a page for its head and tail plus
    /// `rq_entries` 16-byte `io_uring_zcrx_rqe`s, rounded up to pages.
    pub refill: *mut u8,
    /// Its length.
    pub refill_len: usize,
    /// Receive buffer size (0: the page size; larger sizes need
    /// `ZCRX_FEATURE_RX_PAGE_SIZE`).
    pub rx_buf_len: u32,
}

/// A registered zero-copy receive queue ([`Ring::register_zcrx_ifq`]): its id
/// (for receive entries and [`Ring::zcrx_ctrl`]) and the refill ring's layout,
/// as byte offsets into the refill memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZcrxIfq {
    /// The queue's id (`zcrx_id`).
    pub id: u32,
    /// Offset of the refill ring's head (`u32`, written by the kernel).
    pub head: u32,
    /// Offset of its tail (`u32`, written by the application).
    pub tail: u32,
    /// Offset of its `io_uring_zcrx_rqe` entries.
    pub rqes: u32,
    /// The area's token, combined with buffer offsets in refill entries.
    pub area_token: u64,
}
