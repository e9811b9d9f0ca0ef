//! Close matches for a mistyped opcode name.

use uring::probe::{OPCODES, Opcode};

/// Edit distance (insertions, deletions, substitutions) between two ASCII-lowercased
/// strings, by characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (diagonal + usize::from(ca != cb))
                .min(above + 1)
                .min(row[j] + 1);
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Up to `max` known opcodes whose names are closest to `name` (given with or without
/// the `IORING_OP_` prefix, in any case), best first. Names containing the input, or
/// contained in it, count as close, and underscores do not count.
pub fn closest(name: &str, max: usize) -> Vec<&'static Opcode> {
    let lower = name.trim().to_ascii_lowercase();
    let short = lower.strip_prefix("ioring_op_").unwrap_or(&lower);
    let squashed = short.replace('_', "");
    let mut scored: Vec<(usize, &'static Opcode)> = OPCODES
        .iter()
        .map(|op| {
            // A forgotten or extra underscore costs nothing.
            let d = distance(short, op.short_name)
                .min(distance(&squashed, &op.short_name.replace('_', "")));
            let contained = !short.is_empty()
                && (op.short_name.contains(short) || short.contains(op.short_name));
            (if contained { d.min(2) } else { d }, op)
        })
        .collect();
    scored.sort_by_key(|&(d, op)| (d, op.code));
    scored.into_iter().take(max).map(|(_, op)| op).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("nop", "nop"), 0);
        assert_eq!(distance("nop", "nop128"), 3);
        assert_eq!(distance("raed", "read"), 2);
        assert_eq!(distance("", "tee"), 3);
    }

    #[test]
    fn typos_find_their_opcode_first() {
        let first = |s| closest(s, 3)[0].short_name;
        assert_eq!(first("raed"), "read");
        assert_eq!(first("IORING_OP_ACCPET"), "accept");
        assert_eq!(first("futex_wiat"), "futex_wait");
        assert_eq!(first("sendzc"), "send_zc");
        assert_eq!(first("nop12"), "nop128");
        assert_eq!(closest("nop12", 2)[1].short_name, "nop");
        assert_eq!(first("zc"), "send_zc");
    }

    #[test]
    fn always_some_suggestions() {
        assert_eq!(closest("bogus", 3).len(), 3);
        assert_eq!(closest("", 3).len(), 3);
        assert_eq!(closest("ñ", 3).len(), 3);
        assert_eq!(closest("x", 100).len(), OPCODES.len());
    }
}
