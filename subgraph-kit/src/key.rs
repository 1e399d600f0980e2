//! Entity keys: `@key` field sets and the key values a router sends in a
//! representation.

use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

/// A parsed `@key`/`@requires`/`@provides` field set, e.g. `sku variation { id }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSet {
    source: Arc<str>,
    selections: Arc<[Selection]>,
}

/// One field of a field set, with its sub-selection for object fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The field's GraphQL name.
    pub name: String,
    /// Sub-selection; empty for a leaf.
    pub children: Vec<Selection>,
}

/// Why a field set does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid field set `{source_text}`: {reason}")]
pub struct FieldSetError {
    /// The field set as written.
    pub source_text: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FieldSet {
    /// Parses a field set. Names, nested selections in braces, commas and
    /// whitespace are allowed; aliases, arguments and fragments are not.
    pub fn parse(source: &str) -> Result<Self, FieldSetError> {
        let error = |reason: String| FieldSetError {
            source_text: source.to_string(),
            reason,
        };
        let tokens = tokenize(source).map_err(error)?;
        let mut position = 0;
        let selections = parse_selections(&tokens, &mut position, 0).map_err(error)?;
        if position != tokens.len() {
            return Err(error("unbalanced `}`".into()));
        }
        if selections.is_empty() {
            return Err(error("it selects no field".into()));
        }
        Ok(Self {
            source: normalize(&selections).into(),
            selections: selections.into(),
        })
    }

    /// The field set in its normalized form (`a b { c }`).
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The top-level selections.
    pub fn selections(&self) -> &[Selection] {
        &self.selections
    }

    /// Copies the selected values out of an object; the error names the dotted
    /// path of the first field that is missing or null.
    pub fn extract(&self, object: &Map<String, Value>) -> Result<Map<String, Value>, String> {
        extract(&self.selections, object, "")
    }
}

impl fmt::Display for FieldSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[derive(Debug, PartialEq)]
enum Token<'a> {
    Name(&'a str),
    Open,
    Close,
}

fn tokenize(source: &str) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let bytes = source.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'{' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b'}' => {
                tokens.push(Token::Close);
                i += 1;
            }
            c if c == b'_' || c.is_ascii_alphabetic() => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                tokens.push(Token::Name(&source[start..i]));
            }
            _ => {
                let ch = source[i..].chars().next().unwrap_or('?');
                return Err(format!(
                    "unexpected `{ch}` at offset {i} (only field names and braces are allowed)"
                ));
            }
        }
    }
    Ok(tokens)
}

fn parse_selections(
    tokens: &[Token<'_>],
    position: &mut usize,
    depth: usize,
) -> Result<Vec<Selection>, String> {
    let mut selections: Vec<Selection> = Vec::new();
    while let Some(token) = tokens.get(*position) {
        match token {
            Token::Name(name) => {
                *position += 1;
                let mut children = Vec::new();
                if tokens.get(*position) == Some(&Token::Open) {
                    *position += 1;
                    children = parse_selections(tokens, position, depth + 1)?;
                    if tokens.get(*position) != Some(&Token::Close) {
                        return Err(format!("missing `}}` after the selection of `{name}`"));
                    }
                    *position += 1;
                    if children.is_empty() {
                        return Err(format!("`{name} {{ }}` selects no field"));
                    }
                }
                if selections.iter().any(|s| s.name == *name) {
                    return Err(format!("`{name}` is selected twice"));
                }
                selections.push(Selection {
                    name: (*name).to_string(),
                    children,
                });
            }
            Token::Open => return Err("`{` must follow a field name".into()),
            Token::Close if depth == 0 => return Err("unbalanced `}`".into()),
            Token::Close => break,
        }
    }
    Ok(selections)
}

fn normalize(selections: &[Selection]) -> String {
    selections
        .iter()
        .map(|s| {
            if s.children.is_empty() {
                s.name.clone()
            } else {
                format!("{} {{ {} }}", s.name, normalize(&s.children))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn extract(
    selections: &[Selection],
    object: &Map<String, Value>,
    prefix: &str,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    for selection in selections {
        let path = if prefix.is_empty() {
            selection.name.clone()
        } else {
            format!("{prefix}.{}", selection.name)
        };
        match object.get(&selection.name) {
            None | Some(Value::Null) => return Err(path),
            Some(Value::Object(inner)) if !selection.children.is_empty() => {
                out.insert(
                    selection.name.clone(),
                    Value::Object(extract(&selection.children, inner, &path)?),
                );
            }
            Some(value) => {
                out.insert(selection.name.clone(), value.clone());
            }
        }
    }
    Ok(out)
}

/// The key of one entity: which `@key` of its type matched and the key values,
/// plus the whole representation (it carries `@requires` fields too).
#[derive(Debug, Clone, PartialEq)]
pub struct EntityKey {
    type_name: Arc<str>,
    fields: FieldSet,
    values: Map<String, Value>,
    representation: Map<String, Value>,
}

impl EntityKey {
    /// A key from its parts. `values` holds exactly the fields of `fields`;
    /// `representation` is everything the router sent (without `__typename`).
    pub fn new(
        type_name: impl Into<Arc<str>>,
        fields: FieldSet,
        values: Map<String, Value>,
        representation: Map<String, Value>,
    ) -> Self {
        Self {
            type_name: type_name.into(),
            fields,
            values,
            representation,
        }
    }

    /// A single-field key, e.g. `EntityKey::single("Product", "id", "p1")`.
    pub fn single(type_name: &str, field: &str, value: impl Into<Value>) -> Self {
        let fields = FieldSet {
            source: field.into(),
            selections: vec![Selection {
                name: field.to_string(),
                children: Vec::new(),
            }]
            .into(),
        };
        let mut values = Map::new();
        values.insert(field.to_string(), value.into());
        Self::new(type_name, fields, values.clone(), values)
    }

    /// The entity's GraphQL type name.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The `@key` field set that matched.
    pub fn key_fields(&self) -> &FieldSet {
        &self.fields
    }

    /// The key values, shaped like the field set.
    pub fn values(&self) -> &Map<String, Value> {
        &self.values
    }

    /// A top-level key value.
    pub fn get(&self, field: &str) -> Option<&Value> {
        self.values.get(field)
    }

    /// A top-level key value that is a string.
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.values.get(field).and_then(Value::as_str)
    }

    /// A nested key value, e.g. `key.path(&["study", "caseNumber"])`.
    pub fn path(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        rest.iter()
            .try_fold(self.values.get(*first)?, |value, name| value.get(name))
    }

    /// The value of a single-field key as a string (numbers are formatted).
    pub fn id(&self) -> Option<String> {
        if self.values.len() != 1 {
            return None;
        }
        match self.values.values().next()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// Everything the router sent for this entity, including `@requires` fields.
    pub fn representation(&self) -> &Map<String, Value> {
        &self.representation
    }

    /// Whether the representation carries fields beyond the key (`@requires`
    /// inputs), which makes resolved values depend on more than the key.
    pub fn carries_required_fields(&self) -> bool {
        self.representation.len() > self.values.len()
    }

    /// A canonical string naming this entity (sorted JSON), used for cache keys
    /// and de-duplication. It includes `@requires` inputs when present.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(64);
        out.push_str(&self.type_name);
        out.push(':');
        let source = if self.carries_required_fields() {
            &self.representation
        } else {
            &self.values
        };
        write_canonical(&mut out, &Value::Object(source.clone()));
        out
    }
}

impl fmt::Display for EntityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", Value::Object(self.values.clone()))
    }
}

/// Writes JSON with object keys sorted, so equal values give equal strings.
pub(crate) fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(out, v);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, v);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_nested_field_sets_and_normalizes_them() {
        let set = FieldSet::parse("sku  variation{id},").unwrap();
        assert_eq!(set.as_str(), "sku variation { id }");
        assert_eq!(set.selections()[1].children[0].name, "id");
    }

    #[test]
    fn rejects_malformed_field_sets_with_a_reason() {
        for (input, reason) in [
            ("", "selects no field"),
            ("a {", "missing `}`"),
            ("a }", "unbalanced"),
            ("a(x: 1)", "unexpected `(`"),
            ("a a", "selected twice"),
            ("{ a }", "must follow"),
            ("a { }", "selects no field"),
        ] {
            let err = FieldSet::parse(input).unwrap_err();
            assert!(err.reason.contains(reason), "{input}: {}", err.reason);
        }
    }

    #[test]
    fn extracts_key_values_and_names_the_missing_path() {
        let set = FieldSet::parse("sku variation { id }").unwrap();
        let rep = json!({"sku": "s", "variation": {"id": "v", "extra": 1}, "other": 2});
        let values = set.extract(rep.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"sku": "s", "variation": {"id": "v"}})
        );

        let missing = json!({"sku": "s", "variation": {}});
        assert_eq!(
            set.extract(missing.as_object().unwrap()).unwrap_err(),
            "variation.id"
        );
    }

    #[test]
    fn canonical_form_ignores_key_order_and_includes_required_fields() {
        let set = FieldSet::parse("a b").unwrap();
        let one = json!({"a": 1, "b": 2});
        let two = json!({"b": 2, "a": 1});
        let k1 = EntityKey::new(
            "T",
            set.clone(),
            one.as_object().unwrap().clone(),
            one.as_object().unwrap().clone(),
        );
        let k2 = EntityKey::new(
            "T",
            set.clone(),
            two.as_object().unwrap().clone(),
            two.as_object().unwrap().clone(),
        );
        assert_eq!(k1.canonical(), k2.canonical());

        let with_requires = json!({"a": 1, "b": 2, "total": 5});
        let k3 = EntityKey::new(
            "T",
            set,
            one.as_object().unwrap().clone(),
            with_requires.as_object().unwrap().clone(),
        );
        assert!(k3.carries_required_fields());
        assert_ne!(k1.canonical(), k3.canonical());
    }
}
