//! Avro schemas: parsing (the parser's reason on failure), a canonical text
//! for identity, and schema resolution checks through `apache-avro`.

use apache_avro::Schema;
use apache_avro::schema_compatibility::{Compatibility, SchemaCompatibility};

/// Parses an Avro schema; the error is the parser's reason.
pub fn parse(text: &str) -> Result<Schema, String> {
    Schema::parse_str(text).map_err(|e| e.to_string())
}

/// The schema as JSON with object keys sorted and no whitespace: two texts
/// of the same schema have the same canonical text, defaults and docs kept.
pub fn canonical_text(text: &str) -> Result<String, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let mut out = String::with_capacity(text.len());
    write_sorted(&mut out, &value);
    Ok(out)
}

fn write_sorted(out: &mut String, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                write_sorted(out, &map[key]);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_sorted(out, item);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Why data written with `writer` cannot be read with `reader`; `None` when
/// it always can (Avro schema resolution, as Confluent checks it: a reader
/// that may fail on some values, e.g. a missing enum symbol, is incompatible).
pub fn cannot_read(writer: &Schema, reader: &Schema) -> Option<String> {
    match SchemaCompatibility::can_read(writer, reader) {
        Ok(Compatibility::Full) => None,
        Ok(Compatibility::Partial) => Some(
            "the reader cannot read every value the writer can write (an enum symbol or union branch of the \
             writer is missing in the reader)"
                .into(),
        ),
        Err(error) => Some(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_text_ignores_key_order_and_whitespace_but_keeps_defaults() {
        let a = r#"{"type": "record", "name": "A", "fields": [{"name": "x", "type": "int", "default": 1}]}"#;
        let b = r#"{"name":"A","fields":[{"default":1,"type":"int","name":"x"}],"type":"record"}"#;
        assert_eq!(canonical_text(a).unwrap(), canonical_text(b).unwrap());
        let c = r#"{"name":"A","fields":[{"default":2,"type":"int","name":"x"}],"type":"record"}"#;
        assert_ne!(canonical_text(a).unwrap(), canonical_text(c).unwrap());
    }

    #[test]
    fn parse_errors_carry_the_parsers_reason() {
        let error = parse(r#"{"type": "record", "name": "A"}"#).unwrap_err();
        assert!(error.to_lowercase().contains("fields"), "{error}");
    }
}
