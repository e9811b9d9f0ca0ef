//! The accounting of bundles, both ways, on whatever a completion says:
//!
//! * receive (`BufPool`): a completion names a first buffer and a byte count; the
//!   pool hands out guards only for buffers it has and nobody holds, never one
//!   twice, each with its part of the bytes, and leaves the held set untouched
//!   when it refuses;
//! * send (`SendQueue`): completions name a buffer and a count; the cursor never
//!   counts more bytes than were queued unless it marks itself broken, and never
//!   points past the queue.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut b = data.iter().copied();
    let mut byte = || b.next().unwrap_or(0);
    let count = usize::from(byte() % 16) + 1;
    let size = usize::from(byte() % 64) + 1;
    let mut out: Vec<bool> = (0..count).map(|_| byte() % 4 == 0).collect();
    let next: Vec<u16> = (0..count).map(|_| u16::from(byte() % 20)).collect();
    let first = u16::from(byte() % 20);
    let len = usize::from(u16::from_ne_bytes([byte(), byte()]) % 1200);
    let before = out.clone();
    match uring::__fuzz::pool_bundle_parts(&mut out, &next, size, first, len) {
        None => assert_eq!(out, before, "a refused bundle changed the held set"),
        Some(parts) => {
            assert_eq!(parts.len(), len.div_ceil(size));
            assert_eq!(parts.iter().map(|p| p.1).sum::<usize>(), len);
            let mut seen = std::collections::HashSet::new();
            for (i, &(bid, here)) in parts.iter().enumerate() {
                let bid = usize::from(bid);
                assert!(bid < count, "a buffer outside the pool");
                assert!(!before[bid], "a buffer handed out twice");
                assert!(seen.insert(bid), "one buffer in two guards");
                assert!(out[bid]);
                assert!(here == size || i + 1 == parts.len(), "a part short of full");
            }
            let newly = out.iter().zip(&before).filter(|(a, b)| **a && !**b).count();
            assert_eq!(newly, parts.len());
        }
    }

    let entries: Vec<(u16, usize)> = (0..usize::from(byte() % 8))
        .map(|i| (i as u16 ^ u16::from(byte() % 2), usize::from(byte()) + 1))
        .collect();
    let completions: Vec<(i32, Option<u16>)> = (0..usize::from(byte() % 6))
        .map(|_| {
            let res = i32::from(i16::from_ne_bytes([byte(), byte()]));
            let bid = (byte() % 3 != 0).then(|| u16::from(byte() % 10));
            (res, bid)
        })
        .collect();
    let (entry, off, bytes, broken) = uring::__fuzz::send_bundle_cursor(&entries, &completions);
    let queued: usize = entries.iter().map(|e| e.1).sum();
    if !broken {
        assert!(bytes <= queued, "more bytes sent than queued");
        assert!(entry <= entries.len());
        let whole: usize = entries[..entry].iter().map(|e| e.1).sum();
        assert_eq!(whole + off, bytes, "the cursor does not add up");
        assert!(
            entry == entries.len() && off == 0 || off < entries[entry.min(entries.len() - 1)].1
        );
        let positive: usize = completions.iter().map(|c| c.0.max(0) as usize).sum();
        assert_eq!(bytes, positive);
    }
});
