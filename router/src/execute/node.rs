//! The response data while a plan runs, as a JSON tree made for the router's work:
//! an object is a vector of entries in the order received (a GraphQL object has few
//! fields: a scan finds one faster than a tree lookup, and the object is built with
//! one allocation), and strings of up to 24 bytes — most keys and many values — are
//! stored inline. Parsing a subgraph's answer into it allocates a fraction of what
//! `serde_json::Value` needs.

use compact_str::CompactString;
use serde_json::Number;
use serde_json::Value;

/// A JSON value of the response data.
#[derive(Debug, Clone, Default)]
pub enum Node {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(Number),
    /// A string.
    String(CompactString),
    /// A string read from JSON text that had no escape sequence in it, so it has
    /// nothing JSON escapes (`"`, `\\`, control characters): written as it is.
    PlainString(CompactString),
    /// A list.
    Array(Vec<Node>),
    /// An object.
    Object(Object),
}

/// A JSON object: its entries in the order received. A key sent twice keeps its
/// first value for lookups (JSON leaves duplicate keys undefined).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object {
    entries: Vec<(CompactString, Node)>,
}

impl PartialEq for Node {
    fn eq(&self, other: &Node) -> bool {
        match (self, other) {
            (Node::Null, Node::Null) => true,
            (Node::Bool(a), Node::Bool(b)) => a == b,
            (Node::Number(a), Node::Number(b)) => a == b,
            (Node::Array(a), Node::Array(b)) => a == b,
            (Node::Object(a), Node::Object(b)) => a == b,
            _ => match (self.as_str(), other.as_str()) {
                (Some(a), Some(b)) => a == b,
                _ => false,
            },
        }
    }
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Object::default()
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value)
    }

    /// The value under `key`, looked for from `*cursor` on first (then from the
    /// start); `*cursor` moves past it. Reading keys in the order the object has
    /// them finds each at the first comparison.
    pub fn get_from(&self, key: &str, cursor: &mut usize) -> Option<&Node> {
        let start = (*cursor).min(self.entries.len());
        let (before, after) = self.entries.split_at(start);
        let found = match after.iter().position(|(k, _)| k == key) {
            Some(offset) => start + offset,
            None => before.iter().position(|(k, _)| k == key)?,
        };
        *cursor = found + 1;
        Some(&self.entries[found].1)
    }

    /// The value under `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value)
    }

    /// Sets `key` to `value` (in place when present, else at the end); the value
    /// replaced, if any.
    pub fn insert(&mut self, key: impl Into<CompactString> + AsRef<str>, value: Node) -> Option<Node> {
        match self.get_mut(key.as_ref()) {
            Some(existing) => Some(std::mem::replace(existing, value)),
            None => {
                self.entries.push((key.into(), value));
                None
            }
        }
    }

    /// Appends an entry for a key the object does not have.
    pub fn push(&mut self, key: CompactString, value: Node) {
        self.entries.push((key, value));
    }

    /// Removes `key`; its value, if it was there.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The entries in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().map(|(key, value)| (key.as_str(), value))
    }
}

impl IntoIterator for Object {
    type Item = (CompactString, Node);
    type IntoIter = std::vec::IntoIter<(CompactString, Node)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl FromIterator<(CompactString, Node)> for Object {
    fn from_iter<I: IntoIterator<Item = (CompactString, Node)>>(entries: I) -> Self {
        Object {
            entries: entries.into_iter().collect(),
        }
    }
}

impl Node {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(text) | Node::PlainString(text) => Some(text),
            _ => None,
        }
    }

    /// The object, when this is one.
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Node::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The value under `key`, when this is an object that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_object()?.get(key)
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        matches!(self, Node::Object(_))
    }

    /// Whether this is a list.
    pub fn is_array(&self) -> bool {
        matches!(self, Node::Array(_))
    }

    /// The value as a `serde_json::Value` (a copy).
    pub fn to_json(&self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(value) => Value::Bool(*value),
            Node::Number(number) => Value::Number(number.clone()),
            Node::String(text) | Node::PlainString(text) => Value::String(text.to_string()),
            Node::Array(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Node::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(key, value)| (key.to_string(), value.to_json()))
                    .collect(),
            ),
        }
    }
}

impl From<Value> for Node {
    fn from(value: Value) -> Self {
        match value {
            Value::Null => Node::Null,
            Value::Bool(value) => Node::Bool(value),
            Value::Number(number) => Node::Number(number),
            Value::String(text) => Node::String(text.into()),
            Value::Array(items) => Node::Array(items.into_iter().map(Node::from).collect()),
            Value::Object(object) => Node::Object(object.into()),
        }
    }
}

impl From<serde_json::Map<String, Value>> for Object {
    fn from(object: serde_json::Map<String, Value>) -> Self {
        object
            .into_iter()
            .map(|(key, value)| (CompactString::from(key), Node::from(value)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parsed_json_keeps_every_value_and_the_order_of_keys() {
        let text = r#"{"b":[1,-2,2.5,true,null,"x\"y"],"a":{"long key past twenty-four bytes":"é"},"big":18446744073709551615}"#;
        let node = crate::execute::json_parse::parse(text).unwrap();
        let keys: Vec<&str> = node.as_object().unwrap().iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "big"]);
        assert_eq!(node.to_json(), serde_json::from_str::<Value>(text).unwrap());
        assert_eq!(
            Node::from(node.to_json()),
            Node::from(serde_json::from_str::<Value>(text).unwrap())
        );
    }

    #[test]
    fn objects_insert_in_place_and_remove_keeping_order() {
        let Node::Object(mut object) = Node::from(json!({"a": 1, "b": 2, "c": 3})) else {
            unreachable!("an object literal");
        };
        assert_eq!(object.insert("b", Node::Bool(true)), Some(Node::from(json!(2))));
        assert_eq!(object.insert("d", Node::Null), None);
        assert_eq!(object.remove("a"), Some(Node::from(json!(1))));
        assert_eq!(object.remove("a"), None);
        let keys: Vec<&str> = object.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "c", "d"]);
        assert_eq!(object.get("b"), Some(&Node::Bool(true)));
        let mut cursor = 0;
        assert_eq!(object.get_from("c", &mut cursor), Some(&Node::from(json!(3))));
        assert_eq!(cursor, 2);
        assert_eq!(object.get_from("b", &mut cursor), Some(&Node::Bool(true)));
        assert_eq!(cursor, 1);
        assert_eq!(object.get_from("x", &mut cursor), None);
        assert_eq!(cursor, 1);
    }
}
