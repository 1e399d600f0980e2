//! The response data while a plan runs: finding the objects at a plan path, building
//! their representations, and merging subgraph results into them.

use std::collections::HashMap;

use serde_json::Map;
use serde_json::Value;

use crate::plan::KeyRename;
use crate::plan::PathElement;
use crate::plan::TypenameRewrite;
use crate::plan::selection::Selection;
use crate::plan::selection::SelectionSet;
use crate::supergraph::Supergraph;

/// One step of a concrete path into the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Key(apollo_compiler::Name),
    /// A list index.
    Index(usize),
}

/// The concrete paths of the objects found at a plan path.
pub fn objects_at(data: &Value, path: &[PathElement], supergraph: &Supergraph) -> Vec<Vec<Segment>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    walk(data, path, supergraph, &mut current, &mut out);
    out
}

fn walk(
    value: &Value,
    path: &[PathElement],
    supergraph: &Supergraph,
    current: &mut Vec<Segment>,
    out: &mut Vec<Vec<Segment>>,
) {
    let Some((first, rest)) = path.split_first() else {
        if value.is_object() {
            out.push(current.clone());
        }
        return;
    };
    match (first, value) {
        (PathElement::Key(key), Value::Object(object)) => {
            if let Some(child) = object.get(key.as_str()) {
                current.push(Segment::Key(key.clone()));
                walk(child, rest, supergraph, current, out);
                current.pop();
            }
        }
        (PathElement::List, Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                current.push(Segment::Index(index));
                walk(item, rest, supergraph, current, out);
                current.pop();
            }
        }
        (PathElement::TypeCondition(condition), Value::Object(object)) => {
            let matches = object
                .get("__typename")
                .and_then(Value::as_str)
                .is_some_and(|typename| supergraph.type_matches(condition, typename));
            if matches {
                walk(value, rest, supergraph, current, out);
            }
        }
        _ => {}
    }
}

/// Renames the aliased response keys of a subgraph result back (see [`KeyRename`]).
pub fn apply_renames(value: &mut Value, renames: &[KeyRename], supergraph: &Supergraph) {
    for rename in renames {
        rename_at(value, &rename.path, rename, supergraph);
    }
}

fn rename_at(value: &mut Value, path: &[PathElement], rename: &KeyRename, supergraph: &Supergraph) {
    let Some((first, rest)) = path.split_first() else {
        if let Value::Object(object) = value
            && let Some(renamed) = object.remove(rename.alias.as_str())
        {
            object.insert(rename.original.to_string(), renamed);
        }
        return;
    };
    match (first, value) {
        (PathElement::Key(key), Value::Object(object)) => {
            if let Some(child) = object.get_mut(key.as_str()) {
                rename_at(child, rest, rename, supergraph);
            }
        }
        (PathElement::List, Value::Array(items)) => {
            for item in items {
                rename_at(item, rest, rename, supergraph);
            }
        }
        (PathElement::TypeCondition(condition), value @ Value::Object(_)) => {
            let matches = value
                .get("__typename")
                .and_then(Value::as_str)
                .is_some_and(|typename| supergraph.type_matches(condition, typename));
            if matches {
                rename_at(value, rest, rename, supergraph);
            }
        }
        _ => {}
    }
}

/// The value at a concrete path, mutably.
pub fn value_at_mut<'a>(data: &'a mut Value, path: &[Segment]) -> Option<&'a mut Value> {
    let mut value = data;
    for segment in path {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(object)) => object.get_mut(key.as_str())?,
            (Segment::Index(index), Value::Array(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The value at a concrete path.
pub fn value_at<'a>(data: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut value = data;
    for segment in path {
        value = match (segment, value) {
            (Segment::Key(key), Value::Object(object)) => object.get(key.as_str())?,
            (Segment::Index(index), Value::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Deep-merges `source` into `target`: objects key by key, lists of the same length
/// element by element; anything else replaces the target.
pub fn deep_merge(target: &mut Value, source: Value) {
    match (target, source) {
        (Value::Object(target), Value::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => {
                        target.insert(key, value);
                    }
                }
            }
        }
        (Value::Array(target), Value::Array(source)) if target.len() == source.len() => {
            for (existing, value) in target.iter_mut().zip(source) {
                deep_merge(existing, value);
            }
        }
        (target, source) => {
            if !(source.is_null() && (target.is_object() || target.is_array())) {
                *target = source;
            }
        }
    }
}

/// The representation of an object for an `_entities` fetch, or `None` when the object
/// lacks a required field (it is then not sent).
pub fn representation(
    object: &Map<String, Value>,
    requires: &SelectionSet,
    rewrites: &[TypenameRewrite],
    supergraph: &Supergraph,
) -> Option<Value> {
    let typename = object.get("__typename")?.as_str()?;
    let mut out = Map::new();
    let mut matched = false;
    for item in &requires.items {
        if let Selection::Fragment(fragment) = item
            && supergraph.type_matches(&fragment.type_condition, typename)
        {
            matched = true;
            select_into(object, &fragment.selection_set, supergraph, &mut out)?;
        }
    }
    if !matched {
        return None;
    }
    if let Some(rewrite) = rewrites
        .iter()
        .find(|r| supergraph.type_matches(&r.type_condition, typename))
    {
        out.insert("__typename".to_string(), Value::String(rewrite.value.to_string()));
    }
    Some(Value::Object(out))
}

/// Copies the selected fields of `object` into `out`, under their field names.
fn select_into(
    object: &Map<String, Value>,
    selection: &SelectionSet,
    supergraph: &Supergraph,
    out: &mut Map<String, Value>,
) -> Option<()> {
    for item in &selection.items {
        match item {
            Selection::Field(field) => {
                let value = object.get(field.response_key().as_str())?;
                let selected = if field.selection_set.is_empty() {
                    value.clone()
                } else {
                    select_value(value, &field.selection_set, supergraph)?
                };
                out.insert(field.name.to_string(), selected);
            }
            Selection::Fragment(fragment) => {
                let typename = object.get("__typename").and_then(Value::as_str);
                if typename.is_some_and(|t| supergraph.type_matches(&fragment.type_condition, t)) {
                    select_into(object, &fragment.selection_set, supergraph, out)?;
                }
            }
        }
    }
    Some(())
}

fn select_value(value: &Value, selection: &SelectionSet, supergraph: &Supergraph) -> Option<Value> {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            let has_fragments = selection
                .items
                .iter()
                .any(|i| matches!(i, Selection::Fragment(_)));
            if has_fragments && let Some(typename) = object.get("__typename") {
                out.insert("__typename".to_string(), typename.clone());
            }
            select_into(object, selection, supergraph, &mut out)?;
            Some(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|item| select_value(item, selection, supergraph))
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        other => Some(other.clone()),
    }
}

/// Representations serialized, with their duplicates removed: the unique JSON texts,
/// and for each input the index of its text.
pub fn deduplicate(representations: Vec<Value>) -> (Vec<String>, Vec<usize>) {
    let mut unique: Vec<String> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut indices = Vec::with_capacity(representations.len());
    for representation in representations {
        let text = representation.to_string();
        let index = match seen.get(&text) {
            Some(&index) => index,
            None => {
                unique.push(text.clone());
                seen.insert(text, unique.len() - 1);
                unique.len() - 1
            }
        };
        indices.push(index);
    }
    (unique, indices)
}

/// A concrete path as GraphQL error path elements.
pub fn path_to_json(path: &[Segment]) -> Vec<Value> {
    path.iter()
        .map(|segment| match segment {
            Segment::Key(key) => Value::String(key.to_string()),
            Segment::Index(index) => Value::from(*index),
        })
        .collect()
}
