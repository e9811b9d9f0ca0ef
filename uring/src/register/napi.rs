//! NAPI busy polling, the wait clock, io-wq worker limits and affinity.

use std::io;

#[cfg(not(liburing_2_8))]
use super::raw_register;
use crate::error::with_context;
use crate::ring::Ring;
use crate::sys;

impl Ring {
    /// Sets the maximum number of bounded and unbounded async workers
    /// (`IORING_REGISTER_IOWQ_MAX_WORKERS`, Linux 5.15); `0` leaves a limit as it
    /// is. Returns the previous `[bounded, unbounded]` limits.
    #[doc(alias = "io_uring_register_iowq_max_workers")]
    pub fn register_iowq_max_workers(
        &mut self,
        bounded: u32,
        unbounded: u32,
    ) -> io::Result<[u32; 2]> {
        let mut values = [bounded, unbounded];
        self.register_call(
            || format!("setting io-wq max workers to [{bounded}, {unbounded}]"),
            // SAFETY: values is the two-element array the kernel reads and writes.
            |r| unsafe { sys::io_uring_register_iowq_max_workers(r, values.as_mut_ptr()) },
        )?;
        Ok(values)
    }
}

/// Registration calls added with liburing 2.1 and later: io-wq affinity,
/// NAPI, clock.
impl Ring {
    /// Pins this task's io-wq workers for the ring to `cpus`
    /// (`IORING_REGISTER_IOWQ_AFF`, Linux 5.14); for an SQPOLL ring, the poll
    /// thread's workers.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty set or a CPU number at or above `CPU_SETSIZE`; the
    /// kernel's errno otherwise.
    #[doc(alias = "io_uring_register_iowq_aff")]
    pub fn register_iowq_aff(&mut self, cpus: &[usize]) -> io::Result<()> {
        // SAFETY: cpu_set_t is a plain bit array; all-zero is the empty set.
        let mut set: libc::cpu_set_t = unsafe { core::mem::zeroed() };
        for &cpu in cpus {
            if cpu >= libc::CPU_SETSIZE as usize {
                return Err(with_context(
                    libc::EINVAL,
                    format!("CPU {cpu} is outside cpu_set_t"),
                ));
            }
            // SAFETY: cpu < CPU_SETSIZE, inside the set.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        if cpus.is_empty() {
            return Err(with_context(libc::EINVAL, "an empty io-wq CPU set"));
        }
        self.register_call(
            || format!("setting io-wq affinity to CPUs {cpus:?}"),
            // SAFETY: set is a valid cpu_set_t of the size passed.
            |r| unsafe {
                sys::io_uring_register_iowq_aff(
                    r,
                    core::mem::size_of::<libc::cpu_set_t>(),
                    (&set as *const libc::cpu_set_t).cast(),
                )
            },
        )?;
        Ok(())
    }

    /// Undoes [`register_iowq_aff`](Self::register_iowq_aff): workers may run on
    /// any CPU the task may (`IORING_UNREGISTER_IOWQ_AFF`).
    #[doc(alias = "io_uring_unregister_iowq_aff")]
    pub fn unregister_iowq_aff(&mut self) -> io::Result<()> {
        self.register_call(
            || "clearing the io-wq affinity".to_string(),
            // SAFETY: no memory is passed.
            |r| unsafe { sys::io_uring_unregister_iowq_aff(r) },
        )?;
        Ok(())
    }

    /// Turns on NAPI busy polling for the ring's network operations
    /// (`IORING_REGISTER_NAPI`, Linux 6.9) and returns the settings it had
    /// before.
    ///
    /// # Errors
    ///
    /// `EINVAL` from kernels without `CONFIG_NET_RX_BUSY_POLL` or before 6.9.
    #[doc(alias = "io_uring_register_napi")]
    pub fn register_napi(&mut self, napi: Napi) -> io::Result<Napi> {
        let mut raw = napi.to_raw();
        self.register_call(
            || format!("registering NAPI busy polling {napi:?}"),
            // SAFETY: raw is a valid io_uring_napi the kernel reads and writes.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// [`register_napi`](Self::register_napi) with a tracking strategy (Linux
    /// 6.13): which NAPI instances the ring busy-polls — those its network
    /// requests meet ([`NapiTracking::Dynamic`], the default), only those added
    /// with [`napi_add_static_id`](Self::napi_add_static_id)
    /// ([`NapiTracking::Static`]). [`unregister_napi`](Self::unregister_napi)
    /// turns tracking off.
    /// Returns the previous timeout and preference. (liburing 2.15's
    /// `io_uring_napi` has no fields for this; the kernel's layout is used.)
    ///
    /// # Errors
    ///
    /// `EINVAL` before Linux 6.13, or as for `register_napi`.
    pub fn register_napi_tracking(
        &mut self,
        napi: Napi,
        tracking: NapiTracking,
    ) -> io::Result<Napi> {
        let param = match tracking {
            NapiTracking::Dynamic => NAPI_TRACKING_DYNAMIC,
            NapiTracking::Static => NAPI_TRACKING_STATIC,
        };
        let mut raw = napi_raw(&napi, NAPI_REGISTER_OP, param);
        self.register_call(
            || format!("registering NAPI busy polling {napi:?} with {tracking:?} tracking"),
            // SAFETY: raw is a valid 16-byte io_uring_napi the kernel reads and
            // writes.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// Adds NAPI instance `napi_id` (as `SO_INCOMING_NAPI_ID` reports it) to
    /// those a ring with [`NapiTracking::Static`] busy-polls
    /// (`IO_URING_NAPI_STATIC_ADD_ID`, Linux 6.13).
    ///
    /// # Errors
    ///
    /// `EINVAL` for an id that names no NAPI instance, or without static
    /// tracking; `EEXIST` if it was added already.
    pub fn napi_add_static_id(&mut self, napi_id: u32) -> io::Result<()> {
        let mut raw = napi_raw(&Napi::default(), NAPI_STATIC_ADD_ID, napi_id);
        self.register_call(
            || format!("adding NAPI id {napi_id} to static tracking"),
            // SAFETY: as in register_napi_tracking.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(())
    }

    /// Removes NAPI instance `napi_id` from static tracking
    /// (`IO_URING_NAPI_STATIC_DEL_ID`, Linux 6.13).
    ///
    /// # Errors
    ///
    /// `ENOENT` if it was not added; `EINVAL` without static tracking.
    pub fn napi_del_static_id(&mut self, napi_id: u32) -> io::Result<()> {
        let mut raw = napi_raw(&Napi::default(), NAPI_STATIC_DEL_ID, napi_id);
        self.register_call(
            || format!("removing NAPI id {napi_id} from static tracking"),
            // SAFETY: as in register_napi_tracking.
            |r| unsafe { napi_call(r, sys::IORING_REGISTER_NAPI, &mut raw) },
        )?;
        Ok(())
    }

    /// Turns NAPI busy polling off (`IORING_UNREGISTER_NAPI`) and returns the
    /// settings it had.
    #[doc(alias = "io_uring_unregister_napi")]
    pub fn unregister_napi(&mut self) -> io::Result<Napi> {
        let mut raw = sys::io_uring_napi::default();
        self.register_call(
            || "unregistering NAPI busy polling".to_string(),
            // SAFETY: as in register_napi.
            |r| unsafe { napi_call(r, sys::IORING_UNREGISTER_NAPI, &mut raw) },
        )?;
        Ok(Napi::from_raw(&raw))
    }

    /// Chooses the clock for wait timeouts (`IORING_REGISTER_CLOCK`, Linux 6.12).
    /// The default is [`Clock::Monotonic`].
    ///
    /// ```
    /// use uring::register::Clock;
    /// let mut ring = uring::Ring::new(4)?;
    /// # if ring.register_clock(Clock::Boottime).is_err() { return Ok(()) } // < 6.12
    /// ring.register_clock(Clock::Boottime)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_register_clock")]
    pub fn register_clock(&mut self, clock: Clock) -> io::Result<()> {
        let mut arg = sys::io_uring_clock_register {
            clockid: clock.id() as u32,
            ..Default::default()
        };
        self.register_call(
            || format!("setting the wait clock to {clock:?}"),
            // SAFETY: arg is a valid io_uring_clock_register for the call.
            |r| unsafe {
                #[cfg(liburing_2_8)]
                {
                    sys::io_uring_register_clock(r, &mut arg)
                }
                #[cfg(not(liburing_2_8))]
                {
                    raw_register(
                        r,
                        sys::IORING_REGISTER_CLOCK,
                        (&mut arg as *mut sys::io_uring_clock_register).cast(),
                        0,
                    )
                }
            },
        )?;
        Ok(())
    }
}

/// `IORING_REGISTER_NAPI`/`IORING_UNREGISTER_NAPI`, through liburing 2.6 when
/// linked against it.
///
/// # Safety
///
/// `ring` live, `napi` valid.
unsafe fn napi_call(ring: *mut sys::io_uring, opcode: u32, napi: &mut sys::io_uring_napi) -> i32 {
    #[cfg(liburing_2_6)]
    {
        // SAFETY: forwarded from this function's contract.
        unsafe {
            if opcode == sys::IORING_REGISTER_NAPI {
                sys::io_uring_register_napi(ring, napi)
            } else {
                sys::io_uring_unregister_napi(ring, napi)
            }
        }
    }
    #[cfg(not(liburing_2_6))]
    {
        // SAFETY: forwarded from this function's contract.
        unsafe { raw_register(ring, opcode, (napi as *mut sys::io_uring_napi).cast(), 1) }
    }
}

// The kernel's `io_uring_napi` since 6.13 (liburing 2.15 still has the older
// layout): busy_poll_to u32 @0, prefer_busy_poll u8 @4, opcode u8 @5, pad
// [u8; 2] @6, op_param u32 @8, resv u32 @12.
const NAPI_REGISTER_OP: u8 = 0;
const NAPI_STATIC_ADD_ID: u8 = 1;
const NAPI_STATIC_DEL_ID: u8 = 2;
const NAPI_TRACKING_DYNAMIC: u32 = 0;
const NAPI_TRACKING_STATIC: u32 = 1;
const _: () = assert!(core::mem::size_of::<sys::io_uring_napi>() == 16);

/// An `io_uring_napi` with the 6.13 `opcode` and `op_param` fields set.
fn napi_raw(napi: &Napi, opcode: u8, op_param: u32) -> sys::io_uring_napi {
    let mut bytes = [0u8; 16];
    bytes[0..4].copy_from_slice(&napi.busy_poll_usec.to_ne_bytes());
    bytes[4] = napi.prefer_busy_poll as u8;
    bytes[5] = opcode;
    bytes[8..12].copy_from_slice(&op_param.to_ne_bytes());
    // SAFETY: io_uring_napi is 16 bytes of plain integers without padding
    // (checked above); any bytes are a valid value.
    unsafe { core::ptr::read_unaligned(bytes.as_ptr().cast()) }
}

/// Which NAPI instances a ring busy-polls ([`Ring::register_napi_tracking`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NapiTracking {
    /// Those the ring's network requests meet (the default).
    #[default]
    Dynamic,
    /// Only those added with [`Ring::napi_add_static_id`].
    Static,
}

/// NAPI busy-poll settings for [`Ring::register_napi`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Napi {
    /// How long to busy-poll, in microseconds (0: the kernel's default off).
    pub busy_poll_usec: u32,
    /// Prefer busy polling over interrupts (`SO_PREFER_BUSY_POLL`).
    pub prefer_busy_poll: bool,
}

impl Napi {
    fn to_raw(self) -> sys::io_uring_napi {
        sys::io_uring_napi {
            busy_poll_to: self.busy_poll_usec,
            prefer_busy_poll: self.prefer_busy_poll as u8,
            ..Default::default()
        }
    }

    fn from_raw(raw: &sys::io_uring_napi) -> Napi {
        Napi {
            busy_poll_usec: raw.busy_poll_to,
            prefer_busy_poll: raw.prefer_busy_poll != 0,
        }
    }
}

/// The clock for wait timeouts ([`Ring::register_clock`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Clock {
    /// `CLOCK_MONOTONIC` (the default).
    Monotonic,
    /// `CLOCK_BOOTTIME`: also runs while the system is suspended.
    Boottime,
}

impl Clock {
    fn id(self) -> libc::clockid_t {
        match self {
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
            Clock::Boottime => libc::CLOCK_BOOTTIME,
        }
    }
}
