//! The JSON the xtask reads: cargo's `--message-format=json` lines and `cargo metadata`,
//! without a dependency. A strict reader of RFC 8259: what it accepts is JSON, and an
//! error says what was wrong at which byte.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// Member `key` of an object (`None` for a missing key or a non-object).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(m) => m.get(key),
            _ => None,
        }
    }

    /// The value at a path of object keys: `at(&["target", "name"])`.
    pub fn at(&self, path: &[&str]) -> Option<&Json> {
        path.iter().try_fold(self, |v, key| v.get(key))
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value of `true` or `false`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }
}

/// Parses one JSON document (surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Json, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.s.len() {
        return p.err("trailing characters");
    }
    Ok(v)
}

/// Each JSON message of cargo's `--message-format=json…` output (the lines starting
/// with `{`; anything else cargo or a build script printed is skipped).
pub fn cargo_messages(output: &str) -> Result<Vec<Json>, String> {
    output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| parse(l).map_err(|e| format!("cargo printed unreadable JSON ({e}): {l}")))
        .collect()
}

/// The executable cargo reported building for target `name` (a bench, an example),
/// from its `--message-format=json` output.
pub fn artifact_executable(output: &str, name: &str) -> Result<Option<PathBuf>, String> {
    Ok(cargo_messages(output)?.iter().find_map(|m| {
        (m.get("reason")?.as_str()? == "compiler-artifact"
            && m.at(&["target", "name"])?.as_str()? == name)
            .then(|| m.get("executable")?.as_str().map(PathBuf::from))?
    }))
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Nesting deeper than this is refused (no input of ours comes close).
const MAX_DEPTH: usize = 128;

impl Parser<'_> {
    fn ws(&mut self) {
        while self
            .s
            .get(self.i)
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.i += 1;
        }
    }

    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.i..].starts_with(word.as_bytes()) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, String> {
        if depth > MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.ws();
        match self.s.get(self.i) {
            None => self.err("unexpected end"),
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) if self.eat("true") => Ok(Json::Bool(true)),
            Some(_) if self.eat("false") => Ok(Json::Bool(false)),
            Some(_) if self.eat("null") => Ok(Json::Null),
            Some(_) => self.err("unexpected character"),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, String> {
        self.i += 1; // `{`
        let mut m = BTreeMap::new();
        self.ws();
        if self.eat("}") {
            return Ok(Json::Object(m));
        }
        loop {
            self.ws();
            let k = self.string()?;
            self.ws();
            if !self.eat(":") {
                return self.err("expected `:`");
            }
            let v = self.value(depth + 1)?;
            m.insert(k, v);
            self.ws();
            if self.eat("}") {
                return Ok(Json::Object(m));
            }
            if !self.eat(",") {
                return self.err("expected `,` or `}`");
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, String> {
        self.i += 1; // `[`
        let mut a = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Json::Array(a));
        }
        loop {
            a.push(self.value(depth + 1)?);
            self.ws();
            if self.eat("]") {
                return Ok(Json::Array(a));
            }
            if !self.eat(",") {
                return self.err("expected `,` or `]`");
            }
        }
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        let digits = |p: &mut Parser| {
            let from = p.i;
            while p.s.get(p.i).is_some_and(u8::is_ascii_digit) {
                p.i += 1;
            }
            p.i - from
        };
        self.eat("-");
        if self.eat("0") {
            if self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                return self.err("a number with a leading zero");
            }
        } else if digits(self) == 0 {
            return self.err("expected a digit");
        }
        if self.eat(".") && digits(self) == 0 {
            return self.err("expected a digit after `.`");
        }
        if self.eat("e") || self.eat("E") {
            let _ = self.eat("+") || self.eat("-");
            if digits(self) == 0 {
                return self.err("expected a digit in the exponent");
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII");
        text.parse()
            .map(Json::Number)
            .or_else(|_| self.err("unreadable number"))
    }

    fn string(&mut self) -> Result<String, String> {
        if !self.eat("\"") {
            return self.err("expected a string");
        }
        let mut out = String::new();
        loop {
            // The unescaped run up to the next quote, backslash or control character.
            let from = self.i;
            while self
                .s
                .get(self.i)
                .is_some_and(|&c| c != b'"' && c != b'\\' && c >= 0x20)
            {
                self.i += 1;
            }
            // `text` came from a `&str` and the run stops only at ASCII bytes, so it
            // is whole characters.
            out.push_str(std::str::from_utf8(&self.s[from..self.i]).expect("UTF-8"));
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.i += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return self.err("a control character in a string"),
            }
        }
    }

    /// The character of the escape after a backslash.
    fn escape(&mut self) -> Result<char, String> {
        let Some(&e) = self.s.get(self.i) else {
            return self.err("unterminated escape");
        };
        self.i += 1;
        Ok(match e {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let code = self.hex4()?;
                let code = match code {
                    0xd800..0xdc00 => {
                        if !self.eat("\\u") {
                            return self.err("a high surrogate without its low half");
                        }
                        let low = self.hex4()?;
                        if !(0xdc00..0xe000).contains(&low) {
                            return self.err("a high surrogate without its low half");
                        }
                        0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..0xe000 => return self.err("a lone low surrogate"),
                    c => c,
                };
                char::from_u32(code).expect("surrogates are handled above")
            }
            _ => {
                self.i -= 1;
                return self.err("bad escape");
            }
        })
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self
            .s
            .get(self.i..self.i + 4)
            .filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        match digits {
            Some(d) => {
                self.i += 4;
                Ok(u32::from_str_radix(std::str::from_utf8(d).expect("hex"), 16).expect("hex"))
            }
            None => self.err("bad \\u escape"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(pairs: &[(&str, Json)]) -> Json {
        Json::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn cargo_artifact_line() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/liburing-sys#0.1.0","target":{"kind":["test"],"name":"ffi"},"profile":{"opt_level":"0","test":true},"executable":"/t/ffi-1","fresh":false,"n":-1.5e2,"u":"\u00e9\ud83d\ude00\n"}"#;
        let v = parse(line).unwrap();
        assert_eq!(
            v.get("reason").and_then(Json::as_str),
            Some("compiler-artifact")
        );
        assert_eq!(
            v.at(&["profile", "test"]).and_then(Json::as_bool),
            Some(true)
        );
        assert_eq!(
            v.at(&["target", "kind"])
                .and_then(Json::as_array)
                .map(|a| a.len()),
            Some(1)
        );
        assert_eq!(v.get("n"), Some(&Json::Number(-150.0)));
        assert_eq!(v.get("u").and_then(Json::as_str), Some("é😀\n"));
        assert_eq!(v.at(&["target", "nope"]), None);
        assert_eq!(v.at(&["reason", "x"]), None, "a string has no members");
        assert_eq!(
            parse(r#"{"executable":null}"#).unwrap().get("executable"),
            Some(&Json::Null)
        );
    }

    #[test]
    fn objects_and_arrays() {
        assert_eq!(parse("{}").unwrap(), obj(&[]));
        assert_eq!(parse(" [ ] ").unwrap(), Json::Array(vec![]));
        assert_eq!(
            parse("{\"a\" : [1, {\"b\": [true, false, null]}], \"c\":\"d\"}\n").unwrap(),
            obj(&[
                (
                    "a",
                    Json::Array(vec![
                        Json::Number(1.0),
                        obj(&[(
                            "b",
                            Json::Array(vec![Json::Bool(true), Json::Bool(false), Json::Null])
                        )])
                    ])
                ),
                ("c", Json::String("d".into())),
            ])
        );
        // A repeated key keeps its last value, as most readers do.
        assert_eq!(
            parse(r#"{"a":1,"a":2}"#).unwrap().get("a"),
            Some(&Json::Number(2.0))
        );
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        assert!(parse(&deep).unwrap_err().contains("nesting too deep"));
        let fine = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&fine).is_ok());
    }

    #[test]
    fn strings_and_escapes() {
        let s = |text: &str| parse(text).map(|v| v.as_str().map(str::to_string));
        assert_eq!(s(r#""""#), Ok(Some(String::new())));
        assert_eq!(
            s(r#""a\"b\\c\/d\be\ff\ng\rh\ti""#),
            Ok(Some("a\"b\\c/d\u{8}e\u{c}f\ng\rh\ti".into()))
        );
        assert_eq!(s(r#""\u0041\u00DF\u20ac""#), Ok(Some("Aß€".into())));
        assert_eq!(s(r#""\uD834\uDD1E""#), Ok(Some("𝄞".into())));
        assert_eq!(s("\"héllo ✓\""), Ok(Some("héllo ✓".into())));
        for (bad, why) in [
            (r#""\x""#, "bad escape at byte 2"),
            (r#""\u12""#, "bad \\u escape"),
            (r#""\u12g4""#, "bad \\u escape"),
            (r#""\uD834""#, "without its low half"),
            (r#""\uD834\u0041""#, "without its low half"),
            (r#""\uDD1E""#, "lone low surrogate"),
            ("\"a\nb\"", "a control character in a string at byte 2"),
            ("\"abc", "unterminated string"),
            ("\"abc\\", "unterminated escape"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn numbers() {
        let n = |text: &str| {
            parse(text).map(|v| match v {
                Json::Number(n) => Some(n),
                _ => None,
            })
        };
        for (text, want) in [
            ("0", 0.0),
            ("-0", 0.0),
            ("7", 7.0),
            ("-12", -12.0),
            ("3.25", 3.25),
            ("1e3", 1000.0),
            ("2E-2", 0.02),
            ("-1.5e+2", -150.0),
            ("18446744073709551615", 18446744073709551615.0),
        ] {
            assert_eq!(n(text), Ok(Some(want)), "{text}");
        }
        for bad in [
            "01", "+1", ".5", "1.", "1e", "1e+", "-", "--1", "0x10", "1.5.2", "NaN", "Infinity",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse("01").unwrap_err().contains("leading zero at byte 1"));
    }

    #[test]
    fn bad_documents() {
        for (bad, why) in [
            ("", "unexpected end at byte 0"),
            ("{", "expected a string at byte 1"),
            ("{\"a\"}", "expected `:` at byte 4"),
            ("{\"a\":1,}", "expected a string at byte 7"),
            ("{1:2}", "expected a string at byte 1"),
            ("[1,]", "unexpected character at byte 3"),
            ("[1 2]", "expected `,` or `]` at byte 3"),
            ("{\"a\":1 \"b\":2}", "expected `,` or `}` at byte 7"),
            ("{\"a\":1} x", "trailing characters at byte 8"),
            ("nul", "unexpected character at byte 0"),
            ("True", "unexpected character at byte 0"),
            ("\u{a0}1", "unexpected character at byte 0"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }

    #[test]
    fn cargo_output() {
        let out = [
            "   Compiling uring v0.1.0 (not json)",
            r#"{"reason":"compiler-artifact","target":{"name":"uring"},"executable":null}"#,
            r#"{"reason":"compiler-artifact","target":{"name":"ring"},"executable":"/t/ring-1"}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(cargo_messages(&out).unwrap().len(), 3);
        assert_eq!(
            artifact_executable(&out, "ring"),
            Ok(Some(PathBuf::from("/t/ring-1")))
        );
        assert_eq!(
            artifact_executable(&out, "uring"),
            Ok(None),
            "no executable"
        );
        assert_eq!(artifact_executable(&out, "echo_server"), Ok(None));
        let e = artifact_executable("{\"reason\":", "ring").unwrap_err();
        assert!(
            e.starts_with("cargo printed unreadable JSON (unexpected end at byte 10)"),
            "{e}"
        );
    }
}
