//! Reading JSON text straight into a [`Node`] tree: strings are scanned eight bytes
//! at a time for the end quote, a backslash or a control character, and copied
//! whole when none of the latter two is in them (then marked plain: writing them
//! back needs no escaping). Strict JSON (RFC 8259): what `serde_json` refuses is
//! refused, with the byte offset of the problem.

use compact_str::CompactString;

use super::json_text::escape_mask;
use super::node::Node;
use super::node::Object;

/// How deep arrays and objects may nest (as `serde_json`: a hostile subgraph cannot
/// exhaust the stack).
const MAX_DEPTH: usize = 128;

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub reason: &'static str,
    /// Where, in bytes from the start.
    pub offset: usize,
}

/// Reads one JSON value (with whitespace around it) from `text`.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
        depth: 0,
    };
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.at != parser.bytes.len() {
        return Err(parser.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> ParseError {
        ParseError {
            reason,
            offset: self.at,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Result<Node, ParseError> {
        self.skip_whitespace();
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => {
                self.at += 1;
                Ok(match self.string()? {
                    Text::Plain(text) => Node::PlainString(CompactString::new(text)),
                    Text::Unescaped(text) => Node::String(text.into()),
                })
            }
            Some(b't') => self.literal(b"true", Node::Bool(true)),
            Some(b'f') => self.literal(b"false", Node::Bool(false)),
            Some(b'n') => self.literal(b"null", Node::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of input")),
        }
    }

    fn literal(&mut self, word: &[u8], value: Node) -> Result<Node, ParseError> {
        if self.bytes[self.at..].starts_with(word) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected a value"))
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.at += 1;
        Ok(())
    }

    fn array(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                items.push(self.value()?);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b']') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected `,` or `]`")),
                }
            }
        }
        self.depth -= 1;
        Ok(Node::Array(items))
    }

    fn object(&mut self) -> Result<Node, ParseError> {
        self.enter()?;
        let mut object = Object::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                self.skip_whitespace();
                if self.peek() != Some(b'"') {
                    return Err(self.error("expected a key"));
                }
                self.at += 1;
                let key = match self.string()? {
                    Text::Plain(text) => CompactString::new(text),
                    Text::Unescaped(text) => text.into(),
                };
                self.skip_whitespace();
                if self.peek() != Some(b':') {
                    return Err(self.error("expected `:`"));
                }
                self.at += 1;
                let value = self.value()?;
                object.push(key, value);
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(self.error("expected `,` or `}`")),
                }
            }
        }
        self.depth -= 1;
        Ok(Node::Object(object))
    }

    /// The offset of the next `"`, `\` or control character from `self.at` on,
    /// found eight bytes at a time (the last few of the input one by one).
    fn next_special(&self) -> Option<usize> {
        let mut at = self.at;
        while let Some(Ok(word)) = self.bytes.get(at..at + 8).map(<[u8; 8]>::try_from) {
            let mask = escape_mask(u64::from_le_bytes(word));
            if mask != 0 {
                return Some(at + (mask.trailing_zeros() / 8) as usize);
            }
            at += 8;
        }
        self.bytes[at..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
            .map(|offset| at + offset)
    }

    /// A string's content, the opening quote read.
    fn string(&mut self) -> Result<Text<'_>, ParseError> {
        let start = self.at;
        let Some(special) = self.next_special() else {
            self.at = self.bytes.len();
            return Err(self.error("unterminated string"));
        };
        if self.bytes[special] == b'"' {
            self.at = special + 1;
            return Ok(Text::Plain(&self.text[start..special]));
        }
        let mut unescaped = String::with_capacity(special - start + 16);
        unescaped.push_str(&self.text[start..special]);
        self.at = special;
        loop {
            let Some(special) = self.next_special() else {
                self.at = self.bytes.len();
                return Err(self.error("unterminated string"));
            };
            unescaped.push_str(&self.text[self.at..special]);
            self.at = special;
            match self.bytes[special] {
                b'"' => {
                    self.at += 1;
                    return Ok(Text::Unescaped(unescaped));
                }
                b'\\' => self.escape(&mut unescaped)?,
                _ => return Err(self.error("control character in a string")),
            }
        }
    }

    /// One escape sequence, at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        let Some(&kind) = self.bytes.get(self.at + 1) else {
            return Err(self.error("unterminated string"));
        };
        self.at += 2;
        let character = match kind {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => {
                self.at -= 1;
                return Err(self.error("invalid escape"));
            }
        };
        out.push(character);
        Ok(())
    }

    /// The character of a `\uXXXX` escape (two for a surrogate pair), the `\u` read.
    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.at..].starts_with(b"\\u") {
                    return Err(self.error("lone leading surrogate in hex escape"));
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.error("invalid surrogate pair in hex escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone trailing surrogate in hex escape")),
            code => code,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid hex escape"))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("unterminated hex escape"))?;
        let mut value = 0;
        for &digit in digits {
            let nibble = (digit as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid hex escape"))?;
            value = value * 16 + nibble;
        }
        self.at += 4;
        Ok(value)
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Node, ParseError> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        let integer_start = self.at;
        match self.digits() {
            0 => return Err(self.error("invalid number")),
            length if length > 1 && self.bytes[integer_start] == b'0' => {
                self.at = integer_start + 1;
                return Err(self.error("invalid number: leading zero"));
            }
            _ => {}
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            self.at += 1;
            integer = false;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            integer = false;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        let text = &self.text[start..self.at];
        if integer {
            let parsed = match text.strip_prefix('-') {
                // `-0` is the double -0.0, as serde_json reads it.
                Some(_) => match text.parse::<i64>() {
                    Ok(0) => serde_json::Number::from_f64(-0.0),
                    parsed => parsed.ok().map(serde_json::Number::from),
                },
                None => text.parse::<u64>().ok().map(serde_json::Number::from),
            };
            if let Some(number) = parsed {
                return Ok(Node::Number(number));
            }
        }
        // Beyond 64 bits, or with a fraction or exponent: a double, as serde_json.
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Node::Number)
            .ok_or(ParseError {
                reason: "number out of range",
                offset: start,
            })
    }
}

/// A string's content: a slice of the input when it had no escape sequence.
enum Text<'a> {
    Plain(&'a str),
    Unescaped(String),
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn reads_what_serde_json_reads() {
        let samples = [
            r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
            r#"  [ 0, -0, -1, 12, 1.5, -2.5e3, 1E-7, 18446744073709551615, -9223372036854775808 ] "#,
            r#"[18446744073709551616, -9223372036854775809]"#,
            "1e400",
            r#""plain text past eight bytes, and more""#,
            r#""esc \" \\ \/ \b \f \n \r \t \u0041 \u00e9 \ud83c\udf89 end""#,
            r#""unicode é 日本語 🎉""#,
            r#"{"":"","k":{},"l":[]}"#,
            "{\"a\" :\r\n\t1 }",
        ];
        for sample in samples {
            let expected: Result<Value, _> = serde_json::from_str(sample);
            let ours = parse(sample).map(|node| node.to_json());
            match expected {
                Ok(expected) => assert_eq!(ours, Ok(expected), "{sample}"),
                Err(_) => assert!(ours.is_err(), "{sample}"),
            }
        }
    }

    #[test]
    fn refuses_what_is_not_json_and_says_where() {
        let samples = [
            ("", "unexpected end of input", 0),
            ("{", "expected a key", 1),
            ("[1,]", "expected a value", 3),
            ("[1 2]", "expected `,` or `]`", 3),
            ("{\"a\" 1}", "expected `:`", 5),
            ("\"abc", "unterminated string", 4),
            ("\"a\u{1}b\"", "control character in a string", 2),
            ("\"\\x\"", "invalid escape", 2),
            ("\"\\ud800\"", "lone leading surrogate in hex escape", 7),
            ("\"\\u12\"", "unterminated hex escape", 3),
            ("\"\\u12x4\"", "invalid hex escape", 3),
            ("01", "invalid number: leading zero", 1),
            ("1.", "invalid number", 2),
            ("-", "invalid number", 1),
            ("tru", "expected a value", 0),
            ("1 2", "trailing characters", 2),
        ];
        for (text, reason, offset) in samples {
            assert_eq!(parse(text), Err(ParseError { reason, offset }), "{text:?}");
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text:?}");
        }
        let deep = "[".repeat(MAX_DEPTH + 1);
        assert_eq!(parse(&deep).unwrap_err().reason, "nested too deep");
    }

    #[test]
    fn strings_without_escapes_are_plain() {
        let Ok(Node::Array(items)) = parse(r#"["plain", "esc\"aped"]"#) else {
            panic!("a list")
        };
        assert!(matches!(&items[0], Node::PlainString(text) if text == "plain"));
        assert!(matches!(&items[1], Node::String(text) if text == "esc\"aped"));
    }
}
