//! Writing JSON text fast: strings are scanned sixteen bytes at a time for the few bytes
//! JSON escapes (control characters, `"` and `\`), and copied whole when there are
//! none — responses are mostly such strings. The output is byte for byte what
//! `serde_json` writes.

use super::node::Node;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The bytes of `word` (little-endian) JSON escapes, as their high bits. For an
/// ASCII byte, each of the three differences gets its high bit set exactly when the
/// byte is a control character, `"` or `\` — a borrow only ever flags bytes above
/// one that matched, so the lowest bit set is exact; bytes from 0x80 up (UTF-8)
/// never match.
pub(super) const fn escape_mask(word: u64) -> u64 {
    let controls = word.wrapping_sub(ONES * 0x20);
    let quotes = (word ^ (ONES * b'"' as u64)).wrapping_sub(ONES);
    let backslashes = (word ^ (ONES * b'\\' as u64)).wrapping_sub(ONES);
    (controls | quotes | backslashes) & !word & HIGHS
}

/// Whether any byte of `word` is one JSON escapes.
const fn needs_escape(word: u64) -> bool {
    escape_mask(word) != 0
}

/// Whether any of sixteen bytes is one JSON escapes.
fn chunk_needs_escape(chunk: &[u8]) -> bool {
    let (mut low, mut high) = ([0u8; 8], [0u8; 8]);
    low.copy_from_slice(&chunk[..8]);
    high.copy_from_slice(&chunk[8..16]);
    needs_escape(u64::from_le_bytes(low)) || needs_escape(u64::from_le_bytes(high))
}

/// Whether JSON escapes a byte.
const fn escaped(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Appends `text` as a JSON string.
pub fn write_str(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut copied = 0;
    let mut start = 0;
    let mut chunks = bytes.chunks_exact(16);
    for chunk in &mut chunks {
        if chunk_needs_escape(chunk) {
            copied = escape_from(bytes, start, start + 16, copied, out);
        }
        start += 16;
    }
    // The last few bytes, padded with spaces (which need no escape).
    let mut tail = [b' '; 16];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    if chunk_needs_escape(&tail) {
        copied = escape_from(bytes, start, bytes.len(), copied, out);
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// Writes what needs escaping in `bytes[start..end]` (with what precedes it from
/// `copied` on); returns where the unwritten bytes now start.
fn escape_from(bytes: &[u8], start: usize, end: usize, mut copied: usize, out: &mut Vec<u8>) -> usize {
    for index in start..end {
        let byte = bytes[index];
        if escaped(byte) {
            out.extend_from_slice(&bytes[copied..index]);
            write_escape(byte, out);
            copied = index + 1;
        }
    }
    copied
}

fn write_escape(byte: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match byte {
        b'"' => out.extend_from_slice(b"\\\""),
        b'\\' => out.extend_from_slice(b"\\\\"),
        b'\n' => out.extend_from_slice(b"\\n"),
        b'\r' => out.extend_from_slice(b"\\r"),
        b'\t' => out.extend_from_slice(b"\\t"),
        0x08 => out.extend_from_slice(b"\\b"),
        0x0c => out.extend_from_slice(b"\\f"),
        _ => out.extend_from_slice(&[
            b'\\',
            b'u',
            b'0',
            b'0',
            HEX[usize::from(byte >> 4)],
            HEX[usize::from(byte & 0xf)],
        ]),
    }
}

/// Appends a GraphQL name (letters, digits and `_`: nothing JSON escapes) as a JSON
/// string.
pub fn write_name(name: &str, out: &mut Vec<u8>) {
    out.reserve(name.len() + 2);
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.push(b'"');
}

/// Appends a JSON object of `entries`, each value written by `write`; stops (the
/// object left unfinished) at the first value `write` gives up on.
pub fn write_object<K: AsRef<str>, V>(
    entries: impl IntoIterator<Item = (K, V)>,
    out: &mut Vec<u8>,
    mut write: impl FnMut(V, &mut Vec<u8>) -> Option<()>,
) -> Option<()> {
    out.push(b'{');
    for (index, (key, value)) in entries.into_iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_str(key.as_ref(), out);
        out.push(b':');
        write(value, out)?;
    }
    out.push(b'}');
    Some(())
}

/// Appends `value` as JSON text.
pub fn write_value(value: &Node, out: &mut Vec<u8>) {
    match value {
        Node::String(text) => write_str(text, out),
        Node::PlainString(text) => {
            out.reserve(text.len() + 2);
            out.push(b'"');
            out.extend_from_slice(text.as_bytes());
            out.push(b'"');
        }
        Node::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        Node::Object(object) => {
            let _ = write_object(object.iter(), out, |item, out| {
                write_value(item, out);
                Some(())
            });
        }
        Node::Number(number) => write_number(number, out),
        Node::Bool(true) => out.extend_from_slice(b"true"),
        Node::Bool(false) => out.extend_from_slice(b"false"),
        Node::Null => out.extend_from_slice(b"null"),
    }
}

/// Appends a number as `serde_json` writes it (integers without its serializer).
fn write_number(number: &serde_json::Number, out: &mut Vec<u8>) {
    if let Some(value) = number.as_u64() {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    } else if let Some(value) = number.as_i64() {
        out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, number);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let long = "x".repeat(37);
        let samples = [
            "",
            "plain",
            "exactly8",
            "a longer string with no escapes at all, past several words",
            "quote \" in the middle",
            "\"",
            "back\\slash",
            "line\nbreak\r\ttab\u{8}\u{c}",
            "\u{0}\u{1}\u{1f} controls",
            "unicode é 日本語 🎉 and \u{7f}",
            &long,
            "ends with a quote after eight bytes\"",
            "sixteen bytes go\\ and then \"seventeen\" more\u{1}",
        ];
        for sample in samples {
            let mut ours = Vec::new();
            write_str(sample, &mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(sample).unwrap(),
                "{sample:?}"
            );
        }
    }

    #[test]
    fn values_are_written_as_serde_json_writes_them() {
        let value = json!({
            "b": [1, 2.5, -3, true, null, "x\"y"],
            "a": {"nested": "line\nbreak", "empty": {}, "list": []},
            "big": 18446744073709551615u64,
            "small": -9223372036854775808i64,
            "float": 1.0e-7
        });
        let mut ours = Vec::new();
        write_value(&Node::from(value.clone()), &mut ours);
        assert_eq!(String::from_utf8(ours).unwrap(), value.to_string());
        let text = r#"{"plain":"x","escaped":"a\"b\u0001","list":["é",1]}"#;
        let parsed = super::super::json_parse::parse(text).unwrap();
        let mut ours = Vec::new();
        write_value(&parsed, &mut ours);
        assert_eq!(String::from_utf8(ours).unwrap(), text);
    }
}
