//! What the kernel says: gathering every fact `uring-probe` prints.
//!
//! Nothing here prints; `render` turns these values into tables or JSON.

use liburing_sys as sys;
use std::ffi::c_void;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Turns the `-errno` convention of liburing and its syscall wrappers into `io::Result`.
fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// `uname -r`.
pub fn kernel_release() -> String {
    // SAFETY: `utsname` is plain old data; uname fills it and NUL-terminates `release`,
    // which is read only after a successful call.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return "unknown".into();
        }
        std::ffi::CStr::from_ptr(u.release.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// `/proc/sys/kernel/io_uring_disabled` (Linux 6.6+): 0 enabled, 1 only for
/// `kernel.io_uring_group`, 2 disabled. `None` when the file is absent or unreadable.
pub fn io_uring_disabled() -> Option<u8> {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The symbolic name of an errno (`"EINVAL"`), or its number as text.
pub fn errno_name(errno: i32) -> String {
    let name = match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EINTR => "EINTR",
        libc::EBADF => "EBADF",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::ENXIO => "ENXIO",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::EMFILE => "EMFILE",
        libc::ENFILE => "ENFILE",
        libc::ENOSPC => "ENOSPC",
        libc::ERANGE => "ERANGE",
        libc::ENOSYS => "ENOSYS",
        libc::EOVERFLOW => "EOVERFLOW",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EBADFD => "EBADFD",
        libc::ETIME => "ETIME",
        _ => return errno.to_string(),
    };
    name.to_string()
}

/// Why io_uring cannot be used here, as one line for the user.
pub fn unavailable_message(err: &io::Error) -> String {
    match (err.raw_os_error(), io_uring_disabled()) {
        (_, Some(2)) => {
            "io_uring is disabled on this system (kernel.io_uring_disabled = 2)".to_string()
        }
        (Some(libc::EPERM), Some(1)) => format!(
            "io_uring is limited to members of kernel.io_uring_group \
             (kernel.io_uring_disabled = 1) and this process is not one: {err}"
        ),
        (Some(libc::EPERM), _) => format!(
            "io_uring is not permitted for this process (a seccomp or security policy?): {err}"
        ),
        (Some(libc::ENOSYS), _) => format!(
            "io_uring is not available: this kernel has none, or a seccomp policy hides it: {err}"
        ),
        (Some(libc::EINVAL), _) => format!(
            "this kernel's io_uring is too old to be probed (IORING_REGISTER_PROBE needs Linux 5.6): {err}"
        ),
        _ => format!("cannot set up an io_uring: {err}"),
    }
}

/// A ring set up with the raw `io_uring_setup` system call, closed on drop; no mappings.
struct RawRing(OwnedFd);

impl RawRing {
    /// Sets up a ring of two entries with `params`.
    fn new(params: &mut sys::io_uring_params) -> io::Result<RawRing> {
        // SAFETY: `params` is a valid, writable io_uring_params for the call; any user
        // memory it names (NO_MMAP) is owned by the caller and outlives the ring.
        let fd = check(unsafe { sys::io_uring_setup(2, params) })?;
        // SAFETY: the descriptor was just created and nothing else owns it.
        Ok(RawRing(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn plain() -> io::Result<RawRing> {
        // SAFETY: all-zero io_uring_params asks for a default ring.
        let mut p: sys::io_uring_params = unsafe { std::mem::zeroed() };
        RawRing::new(&mut p)
    }
}

/// Submits one NOP through a real ring and returns the result its CQE carries.
pub fn nop() -> io::Result<i32> {
    const TAG: u64 = 0x6e6f70;
    let mut ring = uring::Ring::new(2)?;
    let sqe = uring::op::Nop::new().build().user_data(TAG);
    // SAFETY: a NOP names no memory and no descriptor, so nothing has to outlive it.
    unsafe { ring.push(&sqe) }.map_err(io::Error::other)?;
    ring.submit_and_wait(1)?;
    ring.completion()
        .find(|cqe| cqe.user_data() == TAG)
        .map(|cqe| cqe.raw_result())
        .ok_or_else(|| io::Error::other("the NOP's completion did not arrive"))
}

/// What a setup-flag trial needs besides the flag itself.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Extra {
    /// Nothing.
    None,
    /// `cq_entries` set (for CQSIZE).
    CqEntries,
    /// `sq_thread_cpu` set to the CPU we run on (for SQ_AFF).
    SqThreadCpu,
    /// `wq_fd` naming another ring (for ATTACH_WQ).
    WqFd,
    /// Caller-provided ring memory (for NO_MMAP).
    UserMemory,
}

/// One `IORING_SETUP_*` flag and what a trial of it needs.
pub struct SetupFlag {
    /// The flag's bit.
    pub bit: u32,
    /// The C name.
    pub name: &'static str,
    /// First Linux release with the flag.
    pub since: (u8, u8),
    /// Other flags it cannot be set up without.
    pub with: u32,
    /// Parameters it needs.
    pub extra: Extra,
}

macro_rules! setup_flags {
    ($($name:ident $since:expr, [$($with:ident)|*], $extra:ident;)*) => {
        &[$(SetupFlag {
            bit: sys::$name,
            name: stringify!($name),
            since: $since,
            with: 0 $(| sys::$with)*,
            extra: Extra::$extra,
        },)*]
    };
}

/// The 21 setup flags of liburing 2.15, with the minimal companions each needs.
pub const SETUP_FLAGS: &[SetupFlag] = setup_flags! {
    IORING_SETUP_IOPOLL (5, 1), [], None;
    IORING_SETUP_SQPOLL (5, 1), [], None;
    IORING_SETUP_SQ_AFF (5, 1), [IORING_SETUP_SQPOLL], SqThreadCpu;
    IORING_SETUP_CQSIZE (5, 5), [], CqEntries;
    IORING_SETUP_CLAMP (5, 6), [], None;
    IORING_SETUP_ATTACH_WQ (5, 6), [], WqFd;
    IORING_SETUP_R_DISABLED (5, 10), [], None;
    IORING_SETUP_SUBMIT_ALL (5, 18), [], None;
    IORING_SETUP_COOP_TASKRUN (5, 19), [], None;
    IORING_SETUP_TASKRUN_FLAG (5, 19), [IORING_SETUP_COOP_TASKRUN], None;
    IORING_SETUP_SQE128 (5, 19), [], None;
    IORING_SETUP_CQE32 (5, 19), [], None;
    IORING_SETUP_SINGLE_ISSUER (6, 0), [], None;
    IORING_SETUP_DEFER_TASKRUN (6, 1), [IORING_SETUP_SINGLE_ISSUER], None;
    IORING_SETUP_NO_MMAP (6, 5), [], UserMemory;
    IORING_SETUP_REGISTERED_FD_ONLY (6, 5), [IORING_SETUP_NO_MMAP], UserMemory;
    IORING_SETUP_NO_SQARRAY (6, 6), [], None;
    IORING_SETUP_HYBRID_IOPOLL (6, 13), [IORING_SETUP_IOPOLL], None;
    IORING_SETUP_CQE_MIXED (6, 18), [], None;
    IORING_SETUP_SQE_MIXED (6, 19), [], None;
    IORING_SETUP_SQ_REWIND (7, 0), [IORING_SETUP_NO_SQARRAY], None;
};

/// The names of the flags set in `bits`, from [`SETUP_FLAGS`].
pub fn setup_flag_names(bits: u32) -> Vec<&'static str> {
    SETUP_FLAGS
        .iter()
        .filter(|f| bits & f.bit != 0)
        .map(|f| f.name)
        .collect()
}

/// Anonymous shared memory for NO_MMAP rings: page 0 holds the SQEs, page 1 the rings.
struct RingMemory {
    addr: *mut c_void,
    len: usize,
    page: usize,
}

impl RingMemory {
    fn new() -> io::Result<RingMemory> {
        // SAFETY: sysconf has no memory-safety preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .unwrap_or(4096)
            .max(4096);
        let len = 2 * page;
        // SAFETY: a fresh anonymous mapping, not aliasing anything; unmapped on drop.
        let addr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if addr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(RingMemory { addr, len, page })
    }
}

impl Drop for RingMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in `new` with this address and length. A ring
        // still using it keeps the pages pinned, so unmapping never pulls them away from
        // the kernel.
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

/// Sets up (and at once tears down) a ring with `flag` and its companions.
pub fn try_setup_flag(flag: &SetupFlag) -> io::Result<()> {
    // SAFETY: all-zero io_uring_params is the default request; fields are set below.
    let mut p: sys::io_uring_params = unsafe { std::mem::zeroed() };
    p.flags = flag.bit | flag.with;
    // Declared before the trial ring so they are dropped after it.
    let mut _base = None;
    let mut _memory = None;
    match flag.extra {
        Extra::None => {}
        Extra::CqEntries => p.cq_entries = 8,
        Extra::SqThreadCpu => {
            // SAFETY: sched_getcpu has no preconditions.
            p.sq_thread_cpu = u32::try_from(unsafe { libc::sched_getcpu() }).unwrap_or(0);
        }
        Extra::WqFd => {
            let base = RawRing::plain()?;
            p.wq_fd = base.0.as_raw_fd() as u32;
            _base = Some(base);
        }
        Extra::UserMemory => {
            let mem = RingMemory::new()?;
            p.sq_off.user_addr = mem.addr as u64;
            p.cq_off.user_addr = mem.addr as u64 + mem.page as u64;
            _memory = Some(mem);
        }
    }
    if p.flags & sys::IORING_SETUP_REGISTERED_FD_ONLY != 0 {
        // SAFETY: `p` is valid and writable; the memory it names outlives the ring.
        let index = check(unsafe { sys::io_uring_setup(2, &mut p) })?;
        // With REGISTERED_FD_ONLY the result is an index in this task's registered ring
        // table, not a descriptor; dropping that registration frees the ring.
        // SAFETY: io_uring_rsrc_update is plain data.
        let mut update: sys::io_uring_rsrc_update = unsafe { std::mem::zeroed() };
        update.offset = index as u32;
        // SAFETY: `update` is one valid io_uring_rsrc_update, read by the kernel only.
        check(unsafe {
            sys::io_uring_register(
                index as u32,
                sys::IORING_UNREGISTER_RING_FDS | sys::IORING_REGISTER_USE_REGISTERED_RING,
                (&raw const update).cast(),
                1,
            )
        })?;
    } else {
        drop(RawRing::new(&mut p)?);
    }
    Ok(())
}

/// The answer of `IORING_REGISTER_QUERY` (Linux 6.18+) for `IO_URING_QUERY_OPCODES`.
pub fn query() -> Option<sys::io_uring_query_opcode> {
    // SAFETY: both are plain data; all-zero is valid (and required of reserved fields).
    let mut op: sys::io_uring_query_opcode = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut hdr: sys::io_uring_query_hdr = unsafe { std::mem::zeroed() };
    hdr.query_op = sys::IO_URING_QUERY_OPCODES;
    hdr.query_data = (&raw mut op) as u64;
    hdr.size = std::mem::size_of::<sys::io_uring_query_opcode>() as u32;
    // SAFETY: `hdr` and the `op` it points to are valid and writable for the call; fd -1
    // asks without a ring.
    let ret = unsafe {
        sys::io_uring_register(
            u32::MAX,
            sys::IORING_REGISTER_QUERY,
            (&raw mut hdr).cast(),
            0,
        )
    };
    (ret >= 0 && hdr.result >= 0).then_some(op)
}

/// One `IORING_REGISTER_*` opcode.
pub struct RegisterOp {
    /// Its number.
    pub code: u32,
    /// The C name.
    pub name: &'static str,
}

macro_rules! register_ops {
    ($($name:ident)*) => { &[$(RegisterOp { code: sys::$name, name: stringify!($name) },)*] };
}

/// Every register opcode of liburing 2.15, in number order.
pub const REGISTER_OPS: &[RegisterOp] = register_ops! {
    IORING_REGISTER_BUFFERS IORING_UNREGISTER_BUFFERS IORING_REGISTER_FILES
    IORING_UNREGISTER_FILES IORING_REGISTER_EVENTFD IORING_UNREGISTER_EVENTFD
    IORING_REGISTER_FILES_UPDATE IORING_REGISTER_EVENTFD_ASYNC IORING_REGISTER_PROBE
    IORING_REGISTER_PERSONALITY IORING_UNREGISTER_PERSONALITY IORING_REGISTER_RESTRICTIONS
    IORING_REGISTER_ENABLE_RINGS IORING_REGISTER_FILES2 IORING_REGISTER_FILES_UPDATE2
    IORING_REGISTER_BUFFERS2 IORING_REGISTER_BUFFERS_UPDATE IORING_REGISTER_IOWQ_AFF
    IORING_UNREGISTER_IOWQ_AFF IORING_REGISTER_IOWQ_MAX_WORKERS IORING_REGISTER_RING_FDS
    IORING_UNREGISTER_RING_FDS IORING_REGISTER_PBUF_RING IORING_UNREGISTER_PBUF_RING
    IORING_REGISTER_SYNC_CANCEL IORING_REGISTER_FILE_ALLOC_RANGE IORING_REGISTER_PBUF_STATUS
    IORING_REGISTER_NAPI IORING_UNREGISTER_NAPI IORING_REGISTER_CLOCK
    IORING_REGISTER_CLONE_BUFFERS IORING_REGISTER_SEND_MSG_RING IORING_REGISTER_ZCRX_IFQ
    IORING_REGISTER_RESIZE_RINGS IORING_REGISTER_MEM_REGION IORING_REGISTER_QUERY
    IORING_REGISTER_ZCRX_CTRL IORING_REGISTER_BPF_FILTER
};

const _: () = {
    assert!(REGISTER_OPS.len() == sys::IORING_REGISTER_LAST as usize);
    let mut i = 0;
    while i < REGISTER_OPS.len() {
        assert!(REGISTER_OPS[i].code as usize == i);
        i += 1;
    }
};

/// How the register opcodes were found out.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegisterMethod {
    /// `IORING_REGISTER_QUERY` reported how many there are.
    Query,
    /// Each was tried against a descriptor that is not a ring: since Linux 6.3 the
    /// kernel rejects an unknown opcode (`EINVAL`) before it looks at the descriptor
    /// (`EBADF`/`EOPNOTSUPP`).
    OpcodeCheck,
    /// Neither works on this kernel: unknown.
    None,
}

impl RegisterMethod {
    /// The name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RegisterMethod::Query => "query",
            RegisterMethod::OpcodeCheck => "opcode-check",
            RegisterMethod::None => "none",
        }
    }
}

/// Which register opcodes the kernel answers to: per opcode of [`REGISTER_OPS`],
/// `Some(answers)`, or `None` when it cannot be told.
pub fn register_ops(
    query: Option<&sys::io_uring_query_opcode>,
) -> (RegisterMethod, Vec<Option<bool>>) {
    if let Some(q) = query {
        let known = REGISTER_OPS
            .iter()
            .map(|op| Some(op.code < q.nr_register_opcodes))
            .collect();
        return (RegisterMethod::Query, known);
    }
    // SAFETY: eventfd has no memory-safety preconditions.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return (RegisterMethod::None, vec![None; REGISTER_OPS.len()]);
    }
    // SAFETY: the descriptor was just created and nothing else owns it.
    let not_a_ring = unsafe { OwnedFd::from_raw_fd(fd) };
    let try_op = |code: u32| {
        // SAFETY: `not_a_ring` is not an io_uring, so the kernel stops at the opcode or
        // the descriptor check and never reads the (null) argument.
        unsafe { sys::io_uring_register(not_a_ring.as_raw_fd() as u32, code, std::ptr::null(), 0) }
    };
    // An opcode no kernel can have must get EINVAL while a known one must not: only
    // then does the kernel check opcodes first, and the answers mean something.
    let calibrated =
        try_op(255) == -libc::EINVAL && try_op(sys::IORING_REGISTER_PROBE) != -libc::EINVAL;
    if !calibrated {
        return (RegisterMethod::None, vec![None; REGISTER_OPS.len()]);
    }
    let known = REGISTER_OPS
        .iter()
        .map(|op| Some(try_op(op.code) != -libc::EINVAL))
        .collect();
    (RegisterMethod::OpcodeCheck, known)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_flags_cover_the_header_in_bit_order() {
        assert_eq!(SETUP_FLAGS.len(), 21);
        for (i, f) in SETUP_FLAGS.iter().enumerate() {
            assert_eq!(f.bit, 1 << i, "{}", f.name);
            assert_eq!(f.with & f.bit, 0, "{} needs itself", f.name);
        }
        assert_eq!(
            setup_flag_names(sys::IORING_SETUP_SQPOLL | sys::IORING_SETUP_SQ_AFF),
            ["IORING_SETUP_SQPOLL", "IORING_SETUP_SQ_AFF"]
        );
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(libc::EINVAL), "EINVAL");
        assert_eq!(errno_name(libc::EPERM), "EPERM");
        assert_eq!(errno_name(4095), "4095");
    }

    #[test]
    fn plain_flags_are_accepted_and_nonsense_is_not() {
        // Linux 5.1 flags: every kernel that can run this test accepts them.
        for name in [
            "IORING_SETUP_IOPOLL",
            "IORING_SETUP_CQSIZE",
            "IORING_SETUP_CLAMP",
        ] {
            let f = SETUP_FLAGS.iter().find(|f| f.name == name).unwrap();
            try_setup_flag(f).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let nonsense = SetupFlag {
            bit: 1 << 31,
            name: "bit 31",
            since: (99, 0),
            with: 0,
            extra: Extra::None,
        };
        assert_eq!(
            try_setup_flag(&nonsense).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
    }

    #[test]
    fn opcode_check_agrees_with_query() {
        let (method, answers) = register_ops(None);
        if method == RegisterMethod::None {
            // Kernels before 6.3 check the descriptor first; nothing to compare.
            assert!(answers.iter().all(Option::is_none));
            return;
        }
        assert_eq!(method, RegisterMethod::OpcodeCheck);
        assert_eq!(answers[sys::IORING_REGISTER_PROBE as usize], Some(true));
        if let Some(q) = query() {
            let (qm, from_query) = register_ops(Some(&q));
            assert_eq!(qm, RegisterMethod::Query);
            assert_eq!(answers, from_query);
        }
    }

    #[test]
    fn nop_completes_with_zero() {
        assert_eq!(nop().unwrap(), 0);
    }
}
