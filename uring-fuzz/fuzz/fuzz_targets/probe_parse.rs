//! Turning the kernel's `IORING_REGISTER_PROBE` answer into a `Probe`: on any
//! bytes, no opcode past the kernel's last one is supported, and the iterator
//! covers exactly 0 ..= last_op.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (features, bytes) = match data.split_first_chunk::<4>() {
        Some((f, rest)) => (u32::from_ne_bytes(*f), rest),
        None => (0, data),
    };
    let p = uring::__fuzz::probe_from_bytes(bytes, features);
    let last = p.last_op();
    for code in 0..=255u8 {
        if code > last {
            assert!(
                !p.is_supported(code),
                "opcode {code} past last_op {last} is supported"
            );
        }
    }
    assert_eq!(p.iter().count(), usize::from(last) + 1);
    assert!(p.iter().all(|(code, ok, _)| ok == p.is_supported(code)));
    assert_eq!(p.features().bits(), features);
});
