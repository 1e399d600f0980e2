//! The response data while a plan runs: finding the objects at a plan path, building
//! their representations, and merging subgraph results into them.

use std::collections::HashMap;
use std::hash::BuildHasher;

use super::json_text::write_name;
use super::json_text::write_value;
use super::node::Node;
use super::node::Object;
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
pub fn objects_at(data: &Node, path: &[PathElement], supergraph: &Supergraph) -> Vec<Vec<Segment>> {
    let mut out = Vec::new();
    for_each_object(data, path, supergraph, |indices, _| {
        out.push(segments(path, indices))
    });
    out
}

/// Calls `visit` with each object found at a plan path and the list indices taken on
/// the way to it (with the plan path, they make its concrete path).
pub fn for_each_object<'d>(
    data: &'d Node,
    path: &[PathElement],
    supergraph: &Supergraph,
    mut visit: impl FnMut(&[usize], &'d Object),
) {
    let mut indices = Vec::new();
    walk(data, path, supergraph, &mut indices, &mut visit);
}

fn walk<'d>(
    value: &'d Node,
    path: &[PathElement],
    supergraph: &Supergraph,
    indices: &mut Vec<usize>,
    visit: &mut impl FnMut(&[usize], &'d Object),
) {
    let Some((first, rest)) = path.split_first() else {
        if let Node::Object(object) = value {
            visit(indices, object);
        }
        return;
    };
    match (first, value) {
        (PathElement::Key(key), Node::Object(object)) => {
            if let Some(child) = object.get(key.as_str()) {
                walk(child, rest, supergraph, indices, visit);
            }
        }
        (PathElement::List, Node::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                indices.push(index);
                walk(item, rest, supergraph, indices, visit);
                indices.pop();
            }
        }
        (PathElement::TypeCondition(condition), Node::Object(object)) => {
            let matches = object
                .get("__typename")
                .and_then(Node::as_str)
                .is_some_and(|typename| supergraph.type_matches(condition, typename));
            if matches {
                walk(value, rest, supergraph, indices, visit);
            }
        }
        _ => {}
    }
}

/// Like [`for_each_object`], with each object mutably.
pub fn for_each_object_mut(
    data: &mut Node,
    path: &[PathElement],
    supergraph: &Supergraph,
    mut visit: impl FnMut(&[usize], &mut Node),
) {
    let mut indices = Vec::new();
    walk_mut(data, path, supergraph, &mut indices, &mut visit);
}

fn walk_mut(
    value: &mut Node,
    path: &[PathElement],
    supergraph: &Supergraph,
    indices: &mut Vec<usize>,
    visit: &mut impl FnMut(&[usize], &mut Node),
) {
    let Some((first, rest)) = path.split_first() else {
        if value.is_object() {
            visit(indices, value);
        }
        return;
    };
    match (first, value) {
        (PathElement::Key(key), Node::Object(object)) => {
            if let Some(child) = object.get_mut(key.as_str()) {
                walk_mut(child, rest, supergraph, indices, visit);
            }
        }
        (PathElement::List, Node::Array(items)) => {
            for (index, item) in items.iter_mut().enumerate() {
                indices.push(index);
                walk_mut(item, rest, supergraph, indices, visit);
                indices.pop();
            }
        }
        (PathElement::TypeCondition(condition), value @ Node::Object(_)) => {
            let matches = value
                .get("__typename")
                .and_then(Node::as_str)
                .is_some_and(|typename| supergraph.type_matches(condition, typename));
            if matches {
                walk_mut(value, rest, supergraph, indices, visit);
            }
        }
        _ => {}
    }
}

/// The concrete path of the object reached through a plan path with these list
/// indices.
pub fn segments(path: &[PathElement], indices: &[usize]) -> Vec<Segment> {
    let mut indices = indices.iter();
    path.iter()
        .filter_map(|element| match element {
            PathElement::Key(key) => Some(Segment::Key(key.clone())),
            PathElement::List => indices.next().map(|&index| Segment::Index(index)),
            PathElement::TypeCondition(_) => None,
        })
        .collect()
}

/// The objects of one `_entities` fetch, without an allocation per object: for each,
/// the plan path (by index) it was found at and the list indices taken on the way.
#[derive(Debug, Default)]
pub struct Targets {
    list_indices: Vec<usize>,
    targets: Vec<(usize, std::ops::Range<usize>)>,
}

impl Targets {
    /// Adds the object found at plan path number `path` through `indices`.
    pub fn push(&mut self, path: usize, indices: &[usize]) {
        let start = self.list_indices.len();
        self.list_indices.extend_from_slice(indices);
        self.targets.push((path, start..self.list_indices.len()));
    }

    /// Whether no object was added.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The objects in the order added: plan path number and list indices.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &[usize])> {
        self.targets
            .iter()
            .map(|(path, range)| (*path, &self.list_indices[range.clone()]))
    }
}

/// The object reached through a plan path with these list indices, mutably.
pub fn object_at_mut<'a>(
    data: &'a mut Node,
    path: &[PathElement],
    indices: &[usize],
) -> Option<&'a mut Node> {
    let mut indices = indices.iter();
    let mut value = data;
    for element in path {
        value = match (element, value) {
            (PathElement::Key(key), Node::Object(object)) => object.get_mut(key.as_str())?,
            (PathElement::List, Node::Array(items)) => items.get_mut(*indices.next()?)?,
            (PathElement::TypeCondition(_), value) => value,
            _ => return None,
        };
    }
    Some(value)
}

/// Renames the aliased response keys of a subgraph result back (see [`KeyRename`]).
pub fn apply_renames(value: &mut Node, renames: &[KeyRename], supergraph: &Supergraph) {
    for rename in renames {
        rename_at(value, &rename.path, rename, supergraph);
    }
}

fn rename_at(value: &mut Node, path: &[PathElement], rename: &KeyRename, supergraph: &Supergraph) {
    let Some((first, rest)) = path.split_first() else {
        if let Node::Object(object) = value
            && let Some(renamed) = object.remove(rename.alias.as_str())
        {
            object.insert(rename.original.as_str(), renamed);
        }
        return;
    };
    match (first, value) {
        (PathElement::Key(key), Node::Object(object)) => {
            if let Some(child) = object.get_mut(key.as_str()) {
                rename_at(child, rest, rename, supergraph);
            }
        }
        (PathElement::List, Node::Array(items)) => {
            for item in items {
                rename_at(item, rest, rename, supergraph);
            }
        }
        (PathElement::TypeCondition(condition), value @ Node::Object(_)) => {
            let matches = value
                .get("__typename")
                .and_then(Node::as_str)
                .is_some_and(|typename| supergraph.type_matches(condition, typename));
            if matches {
                rename_at(value, rest, rename, supergraph);
            }
        }
        _ => {}
    }
}

/// The value at a concrete path, mutably.
pub fn value_at_mut<'a>(data: &'a mut Node, path: &[Segment]) -> Option<&'a mut Node> {
    let mut value = data;
    for segment in path {
        value = match (segment, value) {
            (Segment::Key(key), Node::Object(object)) => object.get_mut(key.as_str())?,
            (Segment::Index(index), Node::Array(items)) => items.get_mut(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// The value at a concrete path.
pub fn value_at<'a>(data: &'a Node, path: &[Segment]) -> Option<&'a Node> {
    let mut value = data;
    for segment in path {
        value = match (segment, value) {
            (Segment::Key(key), Node::Object(object)) => object.get(key.as_str())?,
            (Segment::Index(index), Node::Array(items)) => items.get(*index)?,
            _ => return None,
        };
    }
    Some(value)
}

/// Deep-merges `source` into `target`: objects key by key, lists of the same length
/// element by element; anything else replaces the target.
pub fn deep_merge(target: &mut Node, source: Node) {
    match (target, source) {
        (Node::Object(target), Node::Object(source)) => {
            for (key, value) in source {
                match target.get_mut(&key) {
                    Some(existing) => deep_merge(existing, value),
                    None => target.push(key, value),
                }
            }
        }
        (Node::Array(target), Node::Array(source)) if target.len() == source.len() => {
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

/// The representations of the objects of one `_entities` fetch, written as JSON text
/// with their duplicates removed.
#[derive(Debug, Default)]
pub struct Representations {
    text: Vec<u8>,
    unique: Vec<std::ops::Range<usize>>,
    /// A text's hash (by the map's own randomly seeded hasher) → its index.
    seen: HashMap<u64, usize, foldhash::fast::RandomState>,
    indices: Vec<usize>,
}

impl Representations {
    /// Adds the representation of `object`; false (nothing added) when the object
    /// lacks a required field or no type condition of `requires` matches it.
    pub fn push(
        &mut self,
        object: &Object,
        requires: &SelectionSet,
        rewrites: &[TypenameRewrite],
        supergraph: &Supergraph,
    ) -> bool {
        let start = self.text.len();
        if write_representation(object, requires, rewrites, supergraph, &mut self.text).is_none() {
            self.text.truncate(start);
            return false;
        }
        let text = &self.text[start..];
        let hash = self.seen.hasher().hash_one(text);
        let existing = match self.seen.get(&hash) {
            Some(&index) if self.text[self.unique[index].clone()] == *text => Some(index),
            // Another text with the same 64-bit hash: compare with every one.
            Some(_) => self
                .unique
                .iter()
                .position(|range| self.text[range.clone()] == *text),
            None => None,
        };
        let index = match existing {
            Some(index) => {
                self.text.truncate(start);
                index
            }
            None => {
                self.unique.push(start..self.text.len());
                let index = self.unique.len() - 1;
                self.seen.entry(hash).or_insert(index);
                index
            }
        };
        self.indices.push(index);
        true
    }

    /// The distinct representations as JSON texts, in the order first seen.
    pub fn unique(&self) -> impl Iterator<Item = &[u8]> {
        self.unique.iter().map(|range| &self.text[range.clone()])
    }

    /// For each representation pushed, the index of its text among [`unique`](Self::unique).
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
}

/// A field picked for a representation: its value as it is, the value narrowed to a
/// selection, or a rewritten `__typename`.
#[derive(Clone, Copy)]
enum Picked<'a> {
    Whole(&'a Node),
    Selected(&'a Node, &'a SelectionSet),
    Typename(&'a str),
}

/// The fields picked for a representation, by field name (on the stack for the few
/// fields a key has).
type Picks<'a> = smallvec::SmallVec<[(&'a str, Picked<'a>); 8]>;

/// Writes the representation of an object (the fields `requires` selects for its type,
/// under their field names) as JSON; `None` when the object lacks a required field or
/// no type condition matches it.
fn write_representation(
    object: &Object,
    requires: &SelectionSet,
    rewrites: &[TypenameRewrite],
    supergraph: &Supergraph,
    out: &mut Vec<u8>,
) -> Option<()> {
    let typename = object.get("__typename")?.as_str()?;
    let mut picked = Picks::new();
    let mut matched = false;
    for item in &requires.items {
        if let Selection::Fragment(fragment) = item
            && supergraph.type_matches(&fragment.type_condition, typename)
        {
            matched = true;
            pick(object, &fragment.selection_set, supergraph, &mut picked)?;
        }
    }
    if !matched {
        return None;
    }
    if let Some(rewrite) = rewrites
        .iter()
        .find(|r| supergraph.type_matches(&r.type_condition, typename))
    {
        put(
            &mut picked,
            "__typename",
            Picked::Typename(rewrite.value.as_str()),
        );
    }
    write_picked(&picked, supergraph, out)
}

/// Picks the selected fields of `object`, under their field names (a later selection
/// of the same name replaces an earlier one).
fn pick<'a>(
    object: &'a Object,
    selection: &'a SelectionSet,
    supergraph: &Supergraph,
    picked: &mut Picks<'a>,
) -> Option<()> {
    for item in &selection.items {
        match item {
            Selection::Field(field) => {
                let value = object.get(field.response_key().as_str())?;
                let value = if field.selection_set.is_empty() {
                    Picked::Whole(value)
                } else {
                    Picked::Selected(value, &field.selection_set)
                };
                put(picked, field.name.as_str(), value);
            }
            Selection::Fragment(fragment) => {
                let typename = object.get("__typename").and_then(Node::as_str);
                if typename.is_some_and(|t| supergraph.type_matches(&fragment.type_condition, t)) {
                    pick(object, &fragment.selection_set, supergraph, picked)?;
                }
            }
        }
    }
    Some(())
}

fn put<'a>(picked: &mut Picks<'a>, key: &'a str, value: Picked<'a>) {
    match picked.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => picked.push((key, value)),
    }
}

/// Writes picked fields as a JSON object; their keys are GraphQL names, which need no
/// escaping.
fn write_picked(picked: &[(&str, Picked<'_>)], supergraph: &Supergraph, out: &mut Vec<u8>) -> Option<()> {
    out.push(b'{');
    for (index, (key, value)) in picked.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        write_name(key, out);
        out.push(b':');
        match value {
            Picked::Whole(value) => write_value(value, out),
            Picked::Selected(value, selection) => write_selected(value, selection, supergraph, out)?,
            Picked::Typename(typename) => write_name(typename, out),
        }
    }
    out.push(b'}');
    Some(())
}

fn write_selected(
    value: &Node,
    selection: &SelectionSet,
    supergraph: &Supergraph,
    out: &mut Vec<u8>,
) -> Option<()> {
    match value {
        Node::Object(object) => {
            let mut picked = Picks::new();
            let has_fragments = selection
                .items
                .iter()
                .any(|i| matches!(i, Selection::Fragment(_)));
            if has_fragments && let Some(typename) = object.get("__typename") {
                picked.push(("__typename", Picked::Whole(typename)));
            }
            pick(object, selection, supergraph, &mut picked)?;
            write_picked(&picked, supergraph, out)
        }
        Node::Array(items) => {
            out.push(b'[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                write_selected(item, selection, supergraph, out)?;
            }
            out.push(b']');
            Some(())
        }
        other => {
            write_value(other, out);
            Some(())
        }
    }
}

/// A concrete path as GraphQL error path elements.
pub fn path_to_json(path: &[Segment]) -> Vec<serde_json::Value> {
    path.iter()
        .map(|segment| match segment {
            Segment::Key(key) => serde_json::Value::String(key.to_string()),
            Segment::Index(index) => serde_json::Value::from(*index),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use apollo_compiler::name;
    use serde_json::json;

    use super::*;
    use crate::plan::selection::Field;

    const FIXTURE: &str = include_str!("../../tests/fixtures/products_reviews.graphql");

    fn product_requires() -> SelectionSet {
        let mut fields = SelectionSet::default();
        fields.add_typename();
        fields.add_field(Field::leaf(name!("id")));
        fields.add_field(Field::leaf(name!("price")));
        let mut requires = SelectionSet::default();
        requires.add_fragment(name!("Product"), fields);
        requires
    }

    fn object(value: serde_json::Value) -> Object {
        match Node::from(value) {
            Node::Object(object) => object,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn representations_are_written_once_per_distinct_object() {
        let supergraph = Supergraph::parse(FIXTURE).unwrap();
        let requires = product_requires();
        let mut representations = Representations::default();
        let objects = [
            json!({"__typename": "Product", "id": "1", "price": 5, "name": "not sent"}),
            json!({"__typename": "Product", "id": "2", "price": 7}),
            json!({"__typename": "Product", "id": "1", "price": 5}),
            json!({"__typename": "Product", "id": "3"}),
            json!({"__typename": "User", "id": "1", "price": 5}),
        ];
        let added: Vec<bool> = objects
            .into_iter()
            .map(|o| representations.push(&object(o), &requires, &[], &supergraph))
            .collect();
        assert_eq!(added, [true, true, true, false, false]);
        let texts: Vec<&str> = representations
            .unique()
            .map(|t| std::str::from_utf8(t).unwrap())
            .collect();
        assert_eq!(
            texts,
            [
                r#"{"__typename":"Product","id":"1","price":5}"#,
                r#"{"__typename":"Product","id":"2","price":7}"#
            ]
        );
        assert_eq!(representations.indices(), [0, 1, 0]);
    }

    #[test]
    fn the_mutable_walk_meets_the_objects_of_the_shared_one_in_order() {
        let supergraph = Supergraph::parse(FIXTURE).unwrap();
        let mut data = Node::from(json!({"products": [
            {"__typename": "Product", "reviews": [{"id": "a"}, {"id": "b"}]},
            null,
            {"__typename": "User", "reviews": [{"id": "c"}]},
            {"__typename": "Product", "reviews": [{"id": "d"}]}
        ]}));
        let path = [
            PathElement::Key(name!("products")),
            PathElement::List,
            PathElement::TypeCondition(name!("Product")),
            PathElement::Key(name!("reviews")),
            PathElement::List,
        ];
        let mut shared = Vec::new();
        for_each_object(&data, &path, &supergraph, |at, object| {
            shared.push((at.to_vec(), object.get("id").cloned()))
        });
        let mut mutable = Vec::new();
        for_each_object_mut(&mut data, &path, &supergraph, |at, object| {
            mutable.push((at.to_vec(), object.get("id").cloned()))
        });
        assert_eq!(shared, mutable);
        let ids: Vec<_> = shared.iter().map(|(at, _)| at.clone()).collect();
        assert_eq!(ids, [vec![0, 0], vec![0, 1], vec![3, 0]]);
    }

    #[test]
    fn a_typename_rewrite_replaces_the_objects_own() {
        let supergraph = Supergraph::parse(FIXTURE).unwrap();
        let rewrite = TypenameRewrite {
            type_condition: name!("Product"),
            value: name!("Item"),
        };
        let mut representations = Representations::default();
        let product = object(json!({"__typename": "Product", "id": "1", "price": 5}));
        assert!(representations.push(&product, &product_requires(), &[rewrite], &supergraph));
        let text = representations.unique().next().unwrap();
        assert_eq!(text, br#"{"__typename":"Item","id":"1","price":5}"#);
    }
}
