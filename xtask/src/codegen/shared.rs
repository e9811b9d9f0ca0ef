//! Which of bindgen's items every architecture's bindings share, so `regen-bindings`
//! writes them once, in `bindings/common/`, and each architecture's own in
//! `bindings/<arch>/`; and the check that each architecture still gets exactly its own
//! output.
//!
//! An item here is a top-level item group as [`items`] with
//! [`follows_its_type`](super::split::follows_its_type) yields it: a type with its nested
//! types, `impl`s and layout assertions is one. An item is common when its exact text
//! occurs in the output of every architecture, counted as a multiset: a text that occurs
//! twice in every output is common twice; one that occurs twice in x86_64's and once in
//! aarch64's is common once, and x86_64 keeps the other as its own. The common items keep
//! the first architecture's (x86_64's) order, each architecture's own items its bindgen
//! order.
//!
//! Why this is sound: liburing-sys compiles one `bindings/<arch>.rs`, for its
//! `target_arch`, as the body of its `mod bindings`; that file includes the common parts
//! and its own, and the `use libc::{…}` line, once. The items it includes are, as a
//! multiset, exactly bindgen's items for that architecture: a text is common as many times
//! as the output that has it fewest times has it, so no more than this architecture's
//! output has it, and this architecture's own items are the rest of its output, further
//! occurrences included. The items of a module do not depend on their order (bindgen writes
//! no `macro_rules!`, the one item whose place matters, and no inner attribute), so each
//! architecture's module is the one bindgen generated for it. A common item is the same
//! text in every architecture, not the same meaning: a name in it, such as
//! `_bindgen_ty_18`, `io_uring_sqe` or `iovec` (libc's, through the index's `use` line),
//! resolves within each architecture's module to that architecture's own definition,
//! exactly as in bindgen's output for it, and its layout assertions are checked against
//! each architecture's layout when that one is compiled.
//!
//! Construction is not trusted: after laying the files out, the generator reads back
//! what each architecture's index includes ([`included`]) and fails unless it has the
//! same items as bindgen's output ([`same_items`]).

use super::split::{block_declarations, head, items};
use crate::util::Result;
use std::collections::BTreeMap;

/// Bindgen's items split between those every architecture shares and each one's own.
#[derive(Debug, PartialEq)]
pub(super) struct Shared<'a> {
    /// In the first architecture's order.
    pub common: Vec<&'a str>,
    /// Per architecture, in the order given, each in its own order.
    pub own: Vec<Vec<&'a str>>,
}

/// Splits the items of each architecture's output (in bindgen's order, one list per
/// architecture) into the common ones and each architecture's own, as multisets.
pub(super) fn share<'a>(arches: &[Vec<&'a str>]) -> Shared<'a> {
    let counted: Vec<BTreeMap<&str, usize>> = arches
        .iter()
        .map(|items| counts(items.iter().copied()))
        .collect();
    let common: BTreeMap<&str, usize> = match counted.split_first() {
        Some((first, rest)) => first
            .iter()
            .map(|(item, &n)| {
                let everywhere = rest.iter().map(|c| c.get(item).copied().unwrap_or(0));
                (*item, everywhere.fold(n, usize::min))
            })
            .filter(|&(_, n)| n > 0)
            .collect(),
        None => BTreeMap::new(),
    };
    Shared {
        common: arches
            .first()
            .map(|first| take(first, common.clone()).0)
            .unwrap_or_default(),
        own: arches
            .iter()
            .map(|items| take(items, common.clone()).1)
            .collect(),
    }
}

/// Each text of `items` and how many times it occurs.
fn counts<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        *counts.entry(item).or_insert(0) += 1;
    }
    counts
}

/// `items` cut in two, each in its order: the first `wanted[text]` occurrences of each
/// text, and the rest.
fn take<'a>(items: &[&'a str], mut wanted: BTreeMap<&str, usize>) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut taken, mut rest) = (Vec::new(), Vec::new());
    for &item in items {
        match wanted.get_mut(item) {
            Some(n) if *n > 0 => {
                *n -= 1;
                taken.push(item);
            }
            _ => rest.push(item),
        }
    }
    (taken, rest)
}

/// The text one architecture's module is made of, from its index: the body of each part
/// the index includes (what follows the part's header of `//` lines and a blank line), in
/// the index's order. `part` gives a part's contents by the path the index includes it
/// by. Fails on a part that is not there or has no such header, and unless the index has
/// exactly one `use libc::…` line.
pub(super) fn included<'a>(index: &str, part: impl Fn(&str) -> Option<&'a str>) -> Result<String> {
    let uses = index
        .lines()
        .filter(|l| l.starts_with("use libc::"))
        .count();
    if uses != 1 {
        return Err(format!("the index has {uses} `use libc::` lines, not one"));
    }
    let mut module = String::new();
    for path in index
        .lines()
        .filter_map(|l| l.strip_prefix("include!(\"")?.strip_suffix("\");"))
    {
        let contents = part(path).ok_or_else(|| format!("it includes {path}, not generated"))?;
        let body = contents
            .split_once("\n\n")
            .filter(|(header, _)| header.lines().all(|l| l.starts_with("//")))
            .ok_or_else(|| format!("{path} does not start with a header of `//` lines"))?
            .1;
        module.push_str(body);
    }
    Ok(module)
}

/// Fails unless `included` (what an architecture's index includes) has the same items
/// as bindgen's output `bindgen`: the same texts, each as many times, whatever their
/// order; the error names the items that differ. Items are compared one by one, not in
/// groups (the groups a type makes with its impls depend on what stands beside it, the
/// module does not), and an extern block as one block per declaration with the block's
/// attributes, since a block too long for a part is written as several.
pub(super) fn same_items(bindgen: &str, included: &str) -> Result {
    let (want, got) = (units(bindgen)?, units(included)?);
    let want = counts(want.iter().map(String::as_str));
    let got = counts(got.iter().map(String::as_str));
    if want == got {
        return Ok(());
    }
    let mut differ = Vec::new();
    for (item, &n) in &want {
        let m = got.get(item).copied().unwrap_or(0);
        if m != n {
            differ.push(format!(
                "{n} in bindgen's output, {m} included: {}",
                first_line(item)
            ));
        }
    }
    for (item, &m) in &got {
        if !want.contains_key(item) {
            differ.push(format!(
                "0 in bindgen's output, {m} included: {}",
                first_line(item)
            ));
        }
    }
    let shown = differ.len().min(10);
    Err(format!(
        "{} items differ from bindgen's output:\n  {}{}",
        differ.len(),
        differ[..shown].join("\n  "),
        if shown < differ.len() { "\n  …" } else { "" }
    ))
}

/// An item's first line of code, for messages.
fn first_line(item: &str) -> String {
    format!(
        "`{}`",
        head(item)
            .unwrap_or(item.lines().next().unwrap_or(""))
            .trim()
    )
}

/// `text`'s top-level items one by one, an extern block as one block per declaration.
fn units(text: &str) -> Result<Vec<String>> {
    let mut units = Vec::new();
    for item in items(text, |_, _| false)? {
        match block_declarations(item)? {
            Some((open, declarations, tail)) if !declarations.is_empty() => units.extend(
                declarations
                    .iter()
                    .map(|declaration| format!("{open}{declaration}{tail}")),
            ),
            _ => units.push(item.to_string()),
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codegen::split::tests::SAMPLE;
    use crate::codegen::split::{fit_item, follows_its_type};

    #[test]
    fn common_items_are_those_in_every_output_counted() {
        let x86 = vec!["s", "x", "d", "d", "e", "t", "t"];
        let arm = vec!["t", "d", "a", "s", "t", "e"];
        let riscv = vec!["d", "s", "a", "d", "t", "t"];
        let shared = share(&[x86, arm, riscv]);
        // In x86_64's order; `t` twice, as in every output; `d` once, as in aarch64's.
        assert_eq!(shared.common, ["s", "d", "t", "t"]);
        assert_eq!(
            shared.own,
            [vec!["x", "d", "e"], vec!["a", "e"], vec!["a", "d"]]
        );
        let alone = share(&[vec!["b", "a", "b"]]);
        assert_eq!(
            (alone.common, alone.own),
            (vec!["b", "a", "b"], vec![vec![]])
        );
        assert_eq!(share(&[]).common, [] as [&str; 0]);
    }

    #[test]
    fn same_items_whatever_their_order_and_grouping() {
        let items = items(SAMPLE, follows_its_type).unwrap();
        let mut reordered: Vec<&str> = items.iter().rev().copied().collect();
        assert_eq!(same_items(SAMPLE, &reordered.concat()), Ok(()));
        // The long extern block written as several with its attributes is the same.
        let cut = fit_item(items[7], 12).unwrap();
        assert!(cut.len() > 1);
        let mut pieces: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        pieces.splice(7..8, cut);
        assert_eq!(same_items(SAMPLE, &pieces.concat()), Ok(()));
        // One item missing, one twice, one changed: each is named.
        let missing = reordered.pop().unwrap();
        let e = same_items(SAMPLE, &reordered.concat()).unwrap_err();
        assert!(
            e.contains("1 in bindgen's output, 0 included: `pub struct outer {`"),
            "{e}"
        );
        reordered.push(missing);
        reordered.push(items[1]);
        let e = same_items(SAMPLE, &reordered.concat()).unwrap_err();
        assert!(
            e.contains("1 in bindgen's output, 2 included: `pub const BRACES"),
            "{e}"
        );
        let changed = SAMPLE.replace("pub fn six();", "pub fn seven();");
        let e = same_items(SAMPLE, &changed).unwrap_err();
        assert!(e.starts_with("2 items differ"), "{e}");
    }

    #[test]
    fn an_index_includes_its_parts_bodies() {
        let parts = BTreeMap::from([
            (
                "common/types.rs",
                "// generated\n// part 1\n\npub struct A;\n",
            ),
            ("x86_64/types.rs", "// generated\n\npub struct B;\n"),
            ("bad.rs", "pub struct C;\n\npub struct D;\n"),
        ]);
        let part = |path: &str| parts.get(path).copied();
        let index = "// generated\n\nuse libc::{iovec};\n\ninclude!(\"common/types.rs\");\n\
                     include!(\"x86_64/types.rs\");\n";
        assert_eq!(
            included(index, part),
            Ok("pub struct A;\npub struct B;\n".to_string())
        );
        let e = included(&index.replace("use libc", "// use libc"), part).unwrap_err();
        assert!(e.contains("0 `use libc::` lines"), "{e}");
        let twice = format!("{index}use libc::{{msghdr}};\n");
        assert!(
            included(&twice, part)
                .unwrap_err()
                .contains("2 `use libc::`")
        );
        let e = included(&index.replace("x86_64/", "aarch64/"), part).unwrap_err();
        assert!(e.contains("aarch64/types.rs, not generated"), "{e}");
        let e = included(&index.replace("x86_64/types", "bad"), part).unwrap_err();
        assert!(e.contains("bad.rs does not start with a header"), "{e}");
    }
}
