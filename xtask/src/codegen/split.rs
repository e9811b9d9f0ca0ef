//! How `regen-bindings` cuts bindgen's output into parts: its top-level items, found by a
//! scan that knows Rust's strings, characters and comments; grouped so that a type keeps
//! its nested types, `impl`s and layout assertions; an extern block too long for a part
//! made several; and runs of items of even size.

use crate::util::Result;
use std::ops::Range;

/// `item` as pieces of at most `budget` lines: itself when it fits, else, for an extern
/// block, several extern blocks with its attributes and its declarations cut between
/// declarations. Any other item too long for a part is an error.
pub(super) fn fit_item(item: &str, budget: usize) -> Result<Vec<String>> {
    let lines = item.lines().count();
    if lines <= budget {
        return Ok(vec![item.to_string()]);
    }
    let first = head(item).unwrap_or_default();
    let Some((open, declarations, tail)) = block_declarations(item)? else {
        return Err(format!(
            "an item of {lines} lines does not fit in a part ({budget} lines): `{first}`"
        ));
    };
    let sizes: Vec<usize> = declarations.iter().map(|d| d.lines().count()).collect();
    let room = budget
        .checked_sub(open.lines().count() + tail.lines().count())
        .filter(|&r| r > 0)
        .ok_or_else(|| format!("an extern block's attributes do not fit in a part: `{first}`"))?;
    Ok(even_runs(&sizes, room)?
        .into_iter()
        .map(|run| format!("{open}{}{tail}", declarations[run].concat()))
        .collect())
}

/// The declarations of extern block `item`, one by one, between the block's opening
/// (attributes, comments and its `extern "C" {` line) and its closing line, as
/// [`extern_block`] cuts it; `None` when `item` is no such block.
pub(super) fn block_declarations(item: &str) -> Result<Option<(&str, Vec<&str>, &str)>> {
    let Some((open, inner, tail)) = extern_block(item) else {
        return Ok(None);
    };
    Ok(Some((open, items(inner, |_, _| false)?, tail)))
}

/// An extern block's three pieces when `item` is one written over several lines: its
/// attributes, comments and opening line; the declarations inside; the closing line.
pub(super) fn extern_block(item: &str) -> Option<(&str, &str, &str)> {
    let mut at = 0;
    let mut open = None;
    for line in item.split_inclusive('\n') {
        at += line.len();
        let code = line.trim_end();
        if (code.starts_with("extern \"") || code.starts_with("unsafe extern \""))
            && code.ends_with('{')
        {
            open = Some(at);
            break;
        }
    }
    let open = open?;
    let end = item.trim_end().len();
    let close = item[..end].rfind('\n').map_or(0, |i| i + 1);
    (close >= open && item[close..].trim() == "}")
        .then(|| (&item[..open], &item[open..close], &item[close..]))
}

/// Cuts `sizes` into consecutive runs of at most `budget` each: as few runs as can be,
/// and of them the ones whose largest is smallest, so parts come out of even size.
pub(super) fn even_runs(sizes: &[usize], budget: usize) -> Result<Vec<Range<usize>>> {
    let runs = |cap: usize| {
        let mut runs = Vec::new();
        let (mut start, mut filled) = (0, 0);
        for (i, &size) in sizes.iter().enumerate() {
            if filled + size > cap && i > start {
                runs.push(start..i);
                (start, filled) = (i, 0);
            }
            filled += size;
        }
        if start < sizes.len() {
            runs.push(start..sizes.len());
        }
        runs
    };
    let largest = sizes.iter().copied().max().unwrap_or(0);
    if largest > budget {
        return Err(format!(
            "an item of {largest} lines does not fit in {budget}"
        ));
    }
    let fewest = runs(budget).len();
    let (mut low, mut high) = (largest, budget);
    while low < high {
        let cap = (low + high) / 2;
        if runs(cap).len() <= fewest {
            high = cap;
        } else {
            low = cap + 1;
        }
    }
    Ok(runs(low))
}

/// Cuts Rust source laid out by rustfmt into its top-level items: slices of `text` that
/// together are all of it, each ending with the line that closes an item (at bracket
/// depth 0, outside strings and comments, on `;` or `}`) and holding the attributes,
/// comments and blank lines before it. Blank lines after the last item join it, and an
/// item joins the ones before it when `joins(those, item)`.
pub(super) fn items(text: &str, joins: impl Fn(&str, &str) -> bool) -> Result<Vec<&str>> {
    let mut scanner = Scanner::default();
    let mut ends: Vec<usize> = Vec::new();
    let mut at = 0;
    for (n, line) in text.split_inclusive('\n').enumerate() {
        at += line.len();
        let last = scanner
            .line(line)
            .map_err(|e| format!("line {}: {e}: `{}`", n + 1, line.trim_end()))?;
        if scanner.between_items() && matches!(last, Some(';' | '}')) {
            let start = ends.last().copied().unwrap_or(0);
            let before = ends.len().checked_sub(2).map_or(0, |i| ends[i]);
            if !ends.is_empty() && joins(&text[before..start], &text[start..at]) {
                ends.pop();
            }
            ends.push(at);
        }
    }
    let rest = &text[ends.last().copied().unwrap_or(0)..];
    if !rest.trim().is_empty() || (ends.is_empty() && !rest.is_empty()) {
        return Err(format!("the text ends inside an item: `{}`", rest.trim()));
    }
    if let Some(last) = ends.last_mut() {
        *last = text.len();
    }
    let starts = std::iter::once(0).chain(ends.iter().copied());
    Ok(starts.zip(&ends).map(|(a, &b)| &text[a..b]).collect())
}

/// Whether a top-level item of bindgen's stays in one part with the `group` before it:
/// bindgen writes a type's nested types (`T__bindgen_ty_1`), `impl`s (`Default`,
/// bitfield accessors) and `const _` block of layout assertions after the type, and
/// these go where it goes.
pub(super) fn follows_its_type(group: &str, item: &str) -> bool {
    let Some(first) = head(item) else {
        return false;
    };
    if first.starts_with("impl") || first.starts_with("const _:") {
        return true;
    }
    match (head(group).and_then(defined_type), defined_type(first)) {
        (Some(outer), Some(name)) => name
            .strip_prefix(outer)
            .is_some_and(|rest| rest.starts_with("__")),
        _ => false,
    }
}

/// The first line of an item's code: after its attributes, comments and blank lines.
pub(super) fn head(item: &str) -> Option<&str> {
    let mut scanner = Scanner::default();
    for line in item.lines() {
        let starts_between = scanner.between_items();
        scanner.line(line).ok()?;
        let l = line.trim_start();
        let aside =
            l.is_empty() || l.starts_with('#') || l.starts_with("//") || l.starts_with("/*");
        if starts_between && !aside {
            return Some(line);
        }
    }
    None
}

/// The name a `pub struct|union|enum|type NAME …` line defines.
fn defined_type(head: &str) -> Option<&str> {
    let rest = head.strip_prefix("pub ")?;
    let rest = ["struct ", "union ", "enum ", "type "]
        .iter()
        .find_map(|keyword| rest.strip_prefix(keyword))?;
    rest.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .filter(|name| !name.is_empty())
}

/// Where a scan of Rust source stands between two lines.
#[derive(Debug, Default)]
struct Scanner {
    /// Open `(`, `[` and `{`.
    depth: usize,
    /// Open `/*` comments (they nest).
    comment: usize,
    /// Inside a string literal: the hashes that close it with its `"` (`r#"…"#` has one)
    /// and whether it is raw (backslashes escape nothing).
    string: Option<(usize, bool)>,
}

impl Scanner {
    /// At depth 0, in no comment or string.
    fn between_items(&self) -> bool {
        self.depth == 0 && self.comment == 0 && self.string.is_none()
    }

    /// Scans one line; returns its last character of code (outside comments, and the
    /// closing quote for a string).
    fn line(&mut self, line: &str) -> Result<Option<char>> {
        let c: Vec<char> = line.chars().collect();
        let at = |i: usize| c.get(i).copied().unwrap_or('\n');
        let (mut i, mut last) = (0, None);
        while i < c.len() {
            if self.comment > 0 {
                match (c[i], at(i + 1)) {
                    ('*', '/') => (self.comment, i) = (self.comment - 1, i + 2),
                    ('/', '*') => (self.comment, i) = (self.comment + 1, i + 2),
                    _ => i += 1,
                }
                continue;
            }
            if let Some((hashes, raw)) = self.string {
                if c[i] == '\\' && !raw {
                    i += 2;
                } else if c[i] == '"' && (1..=hashes).all(|h| at(i + h) == '#') {
                    (self.string, last, i) = (None, Some('"'), i + 1 + hashes);
                } else {
                    i += 1;
                }
                continue;
            }
            let word_start = i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_');
            match c[i] {
                '/' if at(i + 1) == '/' => break,
                '/' if at(i + 1) == '*' => {
                    (self.comment, i) = (1, i + 2);
                    continue;
                }
                '"' => self.string = Some((0, false)),
                'r' | 'b' if word_start => {
                    // r"…", r#"…"#, br"…": a raw string; anything else is a word.
                    let r = if c[i] == 'b' && at(i + 1) == 'r' {
                        i + 1
                    } else {
                        i
                    };
                    let hashes = (r + 1..).take_while(|&j| at(j) == '#').count();
                    if c[r] == 'r' && at(r + 1 + hashes) == '"' {
                        (self.string, i) = (Some((hashes, true)), r + 2 + hashes);
                        continue;
                    }
                }
                '\'' => {
                    // A character literal ('x', '\n', '\u{7f}'); else a lifetime or label.
                    let end = match at(i + 1) {
                        '\\' => (i + 3..c.len()).find(|&j| c[j] == '\''),
                        _ => (at(i + 2) == '\'').then_some(i + 2),
                    };
                    if let Some(end) = end {
                        (last, i) = (Some('\''), end + 1);
                        continue;
                    }
                }
                '(' | '[' | '{' => self.depth += 1,
                ')' | ']' | '}' => {
                    self.depth = self
                        .depth
                        .checked_sub(1)
                        .ok_or_else(|| format!("unbalanced `{}`", c[i]))?;
                }
                _ => {}
            }
            if !c[i].is_whitespace() {
                last = Some(c[i]);
            }
            i += 1;
        }
        Ok(last)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Rust the way bindgen and rustfmt write it, with the things a naive cut trips on:
    /// braces and semicolons in strings, characters and comments, a string over several
    /// lines, lifetimes, an item over several lines without braces, a type followed by its
    /// nested type, assertions and impl, and an extern block with attributes.
    pub(in crate::codegen) const SAMPLE: &str = r##"/* generated */

#[repr(C)]
pub struct outer {
    pub a: u32,
    pub s: outer__bindgen_ty_1,
}
#[repr(C)]
pub union outer__bindgen_ty_1 {
    pub x: u8,
}
#[allow(clippy::identity_op)]
const _: () = {
    ["Size of outer"][::core::mem::size_of::<outer>() - 8usize];
};
impl Default for outer {
    fn default() -> Self {
        unsafe { ::core::mem::zeroed() }
    }
}
pub const BRACES: &str = "} ; {\" }";
pub const QUOTES: [char; 2] = ['{', '\''];
pub const RAW: &str = r#"}" ;"#;
pub const MULTI: &str = "one {
};
two";
pub type callback =
    Option<unsafe extern "C" fn(a: u32) -> u32>;
pub struct Borrowed<'a>(&'a [u8]);
/* a comment } with /* a nested */ brace;
   over two lines */
#[cfg(feature_x)]
#[link(name = "x")]
unsafe extern "C" {
    pub fn one(a: u32) -> u32;
    pub fn two(
        a: u32,
        b: u32,
    ) -> u32;
    pub fn three();
    #[link_name = "four_"]
    pub fn four();
    pub fn five(s: *const u8);
    pub fn with_a_long_list(
        a: u32,
        b: u32,
        c: u32,
        d: u32,
    );
    pub fn last();
}
unsafe extern "C" {
    pub fn six();
}
"##;

    /// The first line of each of `items` that is neither an attribute nor a comment.
    fn heads<'a>(items: &[&'a str]) -> Vec<&'a str> {
        items.iter().map(|i| head(i).unwrap_or("")).collect()
    }

    #[test]
    fn items_end_only_at_the_end_of_an_item() {
        let items = items(SAMPLE, follows_its_type).unwrap();
        assert_eq!(items.concat(), SAMPLE);
        assert_eq!(
            heads(&items),
            [
                "pub struct outer {",
                "pub const BRACES: &str = \"} ; {\\\" }\";",
                "pub const QUOTES: [char; 2] = ['{', '\\''];",
                "pub const RAW: &str = r#\"}\" ;\"#;",
                "pub const MULTI: &str = \"one {",
                "pub type callback =",
                "pub struct Borrowed<'a>(&'a [u8]);",
                "unsafe extern \"C\" {",
                "unsafe extern \"C\" {",
            ]
        );
        // Without the grouping, the nested union, the assertions and the impl stand alone.
        let alone = super::items(SAMPLE, |_, _| false).unwrap();
        assert_eq!(alone.len(), items.len() + 3);
        assert!(items[7].starts_with("/* a comment }"), "{}", items[7]);
        assert!(super::items("pub struct A {\n", |_, _| false).is_err());
        assert!(super::items("}\n", |_, _| false).is_err());
    }

    #[test]
    fn an_extern_block_too_long_for_a_part_becomes_several() {
        let items = items(SAMPLE, follows_its_type).unwrap();
        let (block, budget) = (items[7], 12);
        let (head, inner, tail) = extern_block(block).unwrap();
        assert_eq!((head.lines().count(), tail), (5, "}\n"));
        let pieces = fit_item(block, budget).unwrap();
        assert!(pieces.len() > 1, "{pieces:?}");
        let mut declarations = String::new();
        for piece in &pieces {
            assert!(piece.lines().count() <= budget, "{piece}");
            // Each piece is one whole extern block with the attributes of the original.
            assert_eq!(super::items(piece, |_, _| false).unwrap(), [piece.as_str()]);
            let (h, i, t) = extern_block(piece).unwrap();
            assert_eq!((h, t), (head, tail));
            declarations.push_str(i);
        }
        assert_eq!(declarations, inner);
        // What fits stays whole; any other item too long is refused.
        assert_eq!(fit_item(block, 22).unwrap(), [block]);
        assert!(
            fit_item(items[0], 5)
                .unwrap_err()
                .contains("pub struct outer")
        );
    }

    #[test]
    fn runs_are_as_few_as_fit_and_even() {
        assert_eq!(even_runs(&[3, 3, 3, 3, 3], 10).unwrap(), [0..3, 3..5]);
        assert_eq!(even_runs(&[5, 1, 1, 1, 1, 1], 6).unwrap(), [0..1, 1..6]);
        assert_eq!(even_runs(&[4, 4, 4], 4).unwrap(), [0..1, 1..2, 2..3]);
        assert_eq!(even_runs(&[], 4).unwrap(), [] as [Range<usize>; 0]);
        assert!(even_runs(&[1, 5], 4).is_err());
    }
}
