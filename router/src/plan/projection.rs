//! The response projection of an operation: for every object of the response, the
//! fields the client selected — grouped by response key as the GraphQL spec's
//! CollectFields does, in selection order — each with what the API schema says of its
//! type. It is worked out once, when the operation is planned, so that writing a
//! response looks nothing up by name except an abstract value's `__typename`.
//!
//! Objects of an interface or union type get their fields per runtime type; those are
//! worked out the first time the type is met in a response, and kept.

use std::collections::HashMap;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::RwLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;

use crate::plan::selection::Field;
use crate::plan::selection::Selection;
use crate::plan::selection::SelectionSet;
use crate::supergraph::Supergraph;

/// How the response of one operation is written from the merged data.
#[derive(Debug)]
pub struct Projection {
    /// The root object's fields.
    pub root: ObjectProjection,
    /// The length of the last response written through it: room to reserve
    /// for the next one, which is mostly as long.
    last_length: AtomicUsize,
}

impl Projection {
    /// The projection of `selection` on an object of type `root_type`.
    pub fn new(supergraph: &Supergraph, root_type: &Name, selection: &SelectionSet) -> Self {
        Projection {
            root: ObjectProjection::new(supergraph, &[selection], root_type, root_type),
            last_length: AtomicUsize::new(0),
        }
    }

    /// The length of the last response written through this projection (0
    /// before the first).
    pub fn last_length(&self) -> usize {
        self.last_length.load(Ordering::Relaxed)
    }

    /// Records the length of a response just written through it.
    pub fn record_length(&self, length: usize) {
        self.last_length.store(length, Ordering::Relaxed);
    }
}

/// The fields written for an object of one runtime type.
#[derive(Debug)]
pub struct ObjectProjection {
    /// In response order.
    pub fields: Vec<FieldProjection>,
}

/// One field of an object in the response.
#[derive(Debug)]
pub struct FieldProjection {
    /// The response key, under which the merged data holds the value.
    pub response_key: Name,
    /// `"<response key>":` as JSON text.
    pub key_json: Box<[u8]>,
    /// What is written as the value.
    pub kind: FieldKind,
}

/// What a field's value is written from.
#[derive(Debug)]
pub enum FieldKind {
    /// `__typename`: the runtime type's name, as JSON text.
    Typename(Box<[u8]>),
    /// Introspection (`__schema`, `__type`), answered by the router: written as it is.
    Verbatim,
    /// A field the API schema does not have on this type: `null`.
    Unknown,
    /// A value checked against its type.
    Value(ValueProjection),
}

/// A value checked against its type as it is written.
#[derive(Debug)]
pub enum ValueProjection {
    /// A non-null position: a `null` here nulls the nearest nullable parent.
    NonNull(Box<ValueProjection>),
    /// A list of values.
    List(Box<ValueProjection>),
    /// A scalar, written as it is.
    Scalar,
    /// An enum: a value outside its values is written `null`.
    Enum(Arc<HashSet<Name>>),
    /// An object, interface or union.
    Composite(Box<CompositeProjection>),
}

/// The fields of a composite value: fixed for an object type, per runtime type for an
/// interface or a union.
#[derive(Debug)]
pub struct CompositeProjection {
    /// The field's type.
    pub static_type: Name,
    /// For an object type, its fields.
    object: Option<ObjectProjection>,
    /// For an abstract type, the selections, projected per runtime type when met.
    selections: Vec<SelectionSet>,
    /// Per `__typename` met that the API schema has (the empty name when absent): its
    /// fields, or `None` for a type whose values are written `null`.
    by_typename: RwLock<HashMap<String, Option<Arc<ObjectProjection>>>>,
}

/// The fields to write for one composite value.
pub enum Resolved<'a> {
    /// An object type's fields.
    Fixed(&'a ObjectProjection),
    /// A runtime type's fields.
    Shared(Arc<ObjectProjection>),
    /// A type clients cannot see: the value is written `null`.
    Hidden,
}

impl CompositeProjection {
    fn new(supergraph: &Supergraph, static_type: &Name, selections: &[&SelectionSet]) -> Self {
        let is_object = matches!(
            supergraph.api_schema.types.get(static_type),
            Some(ExtendedType::Object(_))
        );
        CompositeProjection {
            static_type: static_type.clone(),
            object: is_object
                .then(|| ObjectProjection::new(supergraph, selections, static_type, static_type)),
            selections: if is_object {
                Vec::new()
            } else {
                selections.iter().map(|set| (*set).clone()).collect()
            },
            by_typename: RwLock::new(HashMap::new()),
        }
    }

    /// The fields to write for a value whose `__typename` is `typename`.
    pub fn resolve(&self, supergraph: &Supergraph, typename: Option<&str>) -> Resolved<'_> {
        if let Some(object) = &self.object {
            return Resolved::Fixed(object);
        }
        let key = typename.unwrap_or_default();
        if let Ok(known) = self.by_typename.read()
            && let Some(found) = known.get(key)
        {
            return found.clone().map_or(Resolved::Hidden, Resolved::Shared);
        }
        let runtime = match typename {
            None => Some(self.static_type.clone()),
            Some(typename) => match supergraph.api_schema.types.get(typename) {
                Some(ExtendedType::Object(object)) => Some(object.name.clone()),
                // An `@interfaceObject` answered with the interface's name: its own
                // fields are all the selection needed.
                Some(ExtendedType::Interface(interface)) => Some(interface.name.clone()),
                // A name the API schema lacks is not remembered: a subgraph sending
                // made-up names must not grow the cache.
                None => return Resolved::Hidden,
                _ => None,
            },
        };
        let projected = runtime.map(|runtime| {
            let selections: Vec<&SelectionSet> = self.selections.iter().collect();
            Arc::new(ObjectProjection::new(
                supergraph,
                &selections,
                &self.static_type,
                &runtime,
            ))
        });
        if let Ok(mut known) = self.by_typename.write() {
            known.insert(key.to_string(), projected.clone());
        }
        projected.map_or(Resolved::Hidden, Resolved::Shared)
    }
}

impl ObjectProjection {
    fn new(
        supergraph: &Supergraph,
        selections: &[&SelectionSet],
        static_type: &Name,
        runtime_type: &Name,
    ) -> Self {
        let mut grouped = Vec::new();
        collect_fields(supergraph, selections, runtime_type, &mut grouped);
        let fields = grouped
            .into_iter()
            .map(|(field, subs)| {
                let response_key = field.response_key().clone();
                let mut key_json = json_bytes(response_key.as_str());
                key_json.push(b':');
                let kind = if field.name == "__typename" {
                    FieldKind::Typename(json_bytes(runtime_type).into_boxed_slice())
                } else if field.name == "__schema" || field.name == "__type" {
                    FieldKind::Verbatim
                } else {
                    let definition = supergraph
                        .api_schema
                        .type_field(runtime_type, &field.name)
                        .or_else(|_| supergraph.api_schema.type_field(static_type, &field.name));
                    match definition {
                        Ok(definition) => {
                            FieldKind::Value(ValueProjection::new(supergraph, &definition.ty, &subs))
                        }
                        Err(_) => FieldKind::Unknown,
                    }
                };
                FieldProjection {
                    response_key,
                    key_json: key_json.into_boxed_slice(),
                    kind,
                }
            })
            .collect();
        ObjectProjection { fields }
    }
}

impl ValueProjection {
    fn new(supergraph: &Supergraph, ty: &ast::Type, selections: &[&SelectionSet]) -> Self {
        match ty {
            ast::Type::NonNullNamed(name) => {
                ValueProjection::NonNull(Box::new(Self::named(supergraph, name, selections)))
            }
            ast::Type::NonNullList(item) => ValueProjection::NonNull(Box::new(ValueProjection::List(
                Box::new(Self::new(supergraph, item, selections)),
            ))),
            ast::Type::List(item) => ValueProjection::List(Box::new(Self::new(supergraph, item, selections))),
            ast::Type::Named(name) => Self::named(supergraph, name, selections),
        }
    }

    fn named(supergraph: &Supergraph, name: &Name, selections: &[&SelectionSet]) -> Self {
        match supergraph.api_schema.types.get(name) {
            Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                ValueProjection::Composite(Box::new(CompositeProjection::new(supergraph, name, selections)))
            }
            Some(ExtendedType::Enum(enum_type)) => {
                ValueProjection::Enum(Arc::new(enum_type.values.keys().cloned().collect()))
            }
            _ => ValueProjection::Scalar,
        }
    }
}

/// The fields selected on one object for its runtime type, grouped by response key
/// (the GraphQL spec's CollectFields), in selection order.
fn collect_fields<'s>(
    supergraph: &Supergraph,
    selections: &[&'s SelectionSet],
    runtime_type: &str,
    out: &mut Vec<(&'s Field, Vec<&'s SelectionSet>)>,
) {
    for set in selections {
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    match out
                        .iter_mut()
                        .find(|(f, _)| f.response_key() == field.response_key())
                    {
                        Some((_, subs)) => subs.push(&field.selection_set),
                        None => out.push((field, vec![&field.selection_set])),
                    }
                }
                Selection::Fragment(fragment) => {
                    if supergraph.type_matches(&fragment.type_condition, runtime_type) {
                        collect_fields(supergraph, &[&fragment.selection_set], runtime_type, out);
                    }
                }
            }
        }
    }
}

fn json_bytes(text: &str) -> Vec<u8> {
    // Writing a string into a Vec cannot fail.
    serde_json::to_vec(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use apollo_compiler::name;

    use super::*;
    use crate::compose::SubgraphInput;
    use crate::compose::compose;

    fn media_supergraph() -> Supergraph {
        let sdl = r#"
            extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])
            type Query { media: [Media] }
            union Media = Book | Movie
            type Book { title: String }
            type Movie { name: String }
        "#;
        let input = SubgraphInput {
            name: "media".to_string(),
            url: "http://127.0.0.1:4001/graphql".to_string(),
            sdl: sdl.to_string(),
        };
        let composed = compose(&[input]).expect("the subgraph composes");
        Supergraph::parse(&composed.sdl).expect("a supergraph")
    }

    /// `media { __typename ... on Book { title } ... on Movie { name } }`
    fn media_selection() -> SelectionSet {
        let mut book = SelectionSet::default();
        book.add_field(Field::leaf(name!("title")));
        let mut movie = SelectionSet::default();
        movie.add_field(Field::leaf(name!("name")));
        let mut media = Field::leaf(name!("media"));
        media.selection_set.add_typename();
        media.selection_set.add_fragment(name!("Book"), book);
        media.selection_set.add_fragment(name!("Movie"), movie);
        let mut root = SelectionSet::default();
        root.add_field(media);
        root
    }

    fn composite(projection: &Projection) -> &CompositeProjection {
        match &projection.root.fields[0].kind {
            FieldKind::Value(ValueProjection::List(item)) => match item.as_ref() {
                ValueProjection::Composite(composite) => composite,
                other => panic!("not a composite: {other:?}"),
            },
            other => panic!("not a list: {other:?}"),
        }
    }

    fn keys(resolved: &Resolved<'_>) -> Vec<String> {
        match resolved {
            Resolved::Shared(object) => object.fields.iter().map(|f| f.response_key.to_string()).collect(),
            Resolved::Fixed(object) => object.fields.iter().map(|f| f.response_key.to_string()).collect(),
            Resolved::Hidden => Vec::new(),
        }
    }

    #[test]
    fn a_union_member_gets_its_own_fields_and_made_up_typenames_are_not_remembered() {
        let supergraph = media_supergraph();
        let projection = Projection::new(&supergraph, &name!("Query"), &media_selection());
        let media = composite(&projection);
        assert_eq!(
            keys(&media.resolve(&supergraph, Some("Book"))),
            ["__typename", "title"]
        );
        assert_eq!(
            keys(&media.resolve(&supergraph, Some("Movie"))),
            ["__typename", "name"]
        );
        assert_eq!(keys(&media.resolve(&supergraph, None)), ["__typename"]);
        for garbage in ["Nope", "Other", "Book2"] {
            assert!(matches!(
                media.resolve(&supergraph, Some(garbage)),
                Resolved::Hidden
            ));
        }
        let remembered = media.by_typename.read().unwrap();
        let mut names: Vec<&str> = remembered.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["", "Book", "Movie"]);
    }
}
