//! [`Tracked`]: a buffer that says when it is dropped, for the tests that check
//! when the ring frees (or never frees) what an operation owned.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use uring::owned::{IoBuf, IoBufMut};

/// A user's own `IoBufMut` over a `Vec`, which sets its flag when dropped.
pub struct Tracked {
    bytes: Vec<u8>,
    dropped: Arc<AtomicBool>,
}

impl Tracked {
    /// `len` zeroed bytes (all initialised: a read writes over them), and the
    /// flag its drop sets.
    pub fn new(len: usize) -> (Tracked, Arc<AtomicBool>) {
        Tracked::of(vec![0; len])
    }

    /// No initialised bytes, room for `capacity` (a read fills them from the
    /// start), and the flag its drop sets.
    pub fn with_capacity(capacity: usize) -> (Tracked, Arc<AtomicBool>) {
        Tracked::of(Vec::with_capacity(capacity))
    }

    fn of(bytes: Vec<u8>) -> (Tracked, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let t = Tracked {
            bytes,
            dropped: Arc::clone(&dropped),
        };
        (t, dropped)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

// SAFETY: every method forwards to the Vec, whose heap bytes stay where they
// are when the Tracked moves; the Vec is never resized while the buffer is lent.
unsafe impl IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.bytes_total()
    }
}

// SAFETY: as for IoBuf; the Vec is owned exclusively and forwarded to.
unsafe impl IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, n: usize) {
        // SAFETY: the caller's promise (n bytes from the start are
        // initialised) is the Vec's to rely on.
        unsafe { self.bytes.set_init(n) }
    }
}
