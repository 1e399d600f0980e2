//! The schema side of `entityChanged`: which entity types a change event can
//! carry, the types added to the API schema clients see, and the internal
//! supergraph that resolves a changed entity's fields across subgraphs.
//!
//! The internal supergraph adds a pseudo-subgraph, `dictamesh-events`, that
//! "owns" each eligible entity's key and a root field
//! `_dictamesh_entity_<Type>(key:)` returning it. Planning a query on that root
//! field yields a plan whose first fetch (from the pseudo-subgraph) is replaced
//! by the event itself, followed by ordinary entity fetches to the real
//! subgraphs — the router's own planner does the federation work.

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::schema::Component;
use apollo_compiler::schema::ComponentName;
use apollo_compiler::schema::EnumValueDefinition;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::schema::FieldDefinition;
use apollo_compiler::validation::Valid;

use crate::supergraph::Supergraph;

/// The name of the pseudo-subgraph that stands for the event in internal plans.
pub const EVENTS_GRAPH_NAME: &str = "dictamesh-events";

/// Its `join__Graph` value.
const EVENTS_GRAPH_VALUE: &str = "DICTAMESH_EVENTS";

/// Types the subscription adds to the API schema; a supergraph that already has
/// one of them gets no `entityChanged`.
const ADDED_TYPES: [&str; 4] = ["ChangeType", "ChangedEntity", "EntityChange", "Subscription"];

/// An entity type a change event can carry: an object type with a resolvable
/// key of one scalar field, so the event's entity id is its key value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeableEntity {
    /// The type.
    pub type_name: Name,
    /// The key field.
    pub key_field: Name,
    /// The key field's scalar type (`ID`, `String`, `Int`, ...).
    pub key_type: Name,
}

impl ChangeableEntity {
    /// The internal root field that returns this entity by key.
    pub fn root_field(&self) -> String {
        format!("_dictamesh_entity_{}", self.type_name)
    }

    /// The key value for an event's entity id (numbers for numeric keys).
    pub fn key_value(&self, id: &str) -> serde_json::Value {
        match self.key_type.as_str() {
            "Int" | "Float" => {
                serde_json::from_str(id).unwrap_or_else(|_| serde_json::Value::String(id.into()))
            }
            _ => serde_json::Value::String(id.into()),
        }
    }
}

/// The entity types of a supergraph that change events can carry.
pub fn changeable_entities(supergraph: &Supergraph) -> Vec<ChangeableEntity> {
    let mut entities = Vec::new();
    for (name, ty) in &supergraph.schema.types {
        let ExtendedType::Object(object) = ty else {
            continue;
        };
        if !supergraph.api_schema.types.contains_key(name) || name.starts_with("__") {
            continue;
        }
        let key = object
            .directives
            .get_all("join__type")
            .filter(|d| {
                !matches!(
                    d.specified_argument_by_name("resolvable").map(|v| &**v),
                    Some(ast::Value::Boolean(false))
                )
            })
            .filter_map(|d| d.specified_argument_by_name("key").and_then(|v| v.as_str()))
            .map(str::trim)
            .find(|key| is_single_field(key) && object.fields.contains_key(*key));
        let Some(key) = key else { continue };
        let field = &object.fields[key];
        if !field.ty.is_named() && !field.ty.is_non_null() || field.ty.is_list() {
            continue;
        }
        let key_type = field.ty.inner_named_type().clone();
        if !matches!(
            supergraph.schema.types.get(&key_type),
            Some(ExtendedType::Scalar(_))
        ) {
            continue;
        }
        entities.push(ChangeableEntity {
            type_name: name.clone(),
            key_field: field.name.clone(),
            key_type,
        });
    }
    entities
}

fn is_single_field(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// The API schema with `Subscription.entityChanged` and its types added.
pub fn extended_api_schema(
    supergraph: &Supergraph,
    entities: &[ChangeableEntity],
) -> Result<Valid<Schema>, String> {
    if let Some(clash) = ADDED_TYPES
        .iter()
        .find(|name| supergraph.api_schema.types.contains_key(**name))
    {
        return Err(format!(
            "the supergraph already defines `{clash}`, which entityChanged subscriptions add"
        ));
    }
    let entity_field = if entities.is_empty() {
        String::new()
    } else {
        "  \"The entity after the change, resolved across subgraphs; null once deleted.\"\n  entity: ChangedEntity\n"
            .to_string()
    };
    let union = if entities.is_empty() {
        String::new()
    } else {
        let members: Vec<&str> = entities.iter().map(|e| e.type_name.as_str()).collect();
        format!(
            "\"An entity a change event can carry.\"\nunion ChangedEntity = {}\n",
            members.join(" | ")
        )
    };
    let extension = format!(
        r#"
"What happened to an entity."
enum ChangeType {{ CREATED UPDATED DELETED ARCHIVED }}
{union}
"One change event of an entity."
type EntityChange {{
  "Where to resume: pass it as `after` to continue after this event."
  cursor: String!
  eventId: ID!
  eventType: ChangeType!
  entityType: String!
  entityId: ID!
  sourceSystem: String!
  domain: String!
  "Milliseconds since the epoch."
  timestamp: Float!
  changedFields: [String!]!
{entity_field}}}

type Subscription {{
  "Changes of entities of `type` (of one entity with `id`), from now on or after the cursor `after`."
  entityChanged(type: String!, id: ID, after: String): EntityChange!
}}
"#
    );
    let text = format!("{}\n{extension}", supergraph.api_schema);
    let mut schema =
        Schema::parse(text, "api-schema-with-subscriptions.graphql").map_err(|e| e.errors.to_string())?;
    schema.schema_definition.make_mut().subscription =
        Some(ComponentName::from(Name::new_unchecked("Subscription")));
    schema.validate().map_err(|e| e.errors.to_string())
}

/// The internal supergraph: the real one plus the `dictamesh-events`
/// pseudo-subgraph owning each entity's key and an `_dictamesh_entity_<Type>`
/// root field. The new graph comes last, so graph ids of the real subgraphs are
/// unchanged.
pub fn internal_supergraph(
    supergraph: &Supergraph,
    entities: &[ChangeableEntity],
) -> Result<Supergraph, String> {
    let mut schema: Schema = supergraph.schema.clone().into_inner();
    let events = Name::new_unchecked(EVENTS_GRAPH_VALUE);
    let Some(ExtendedType::Enum(graphs)) = schema.types.get_mut("join__Graph") else {
        return Err("the supergraph has no join__Graph enum".into());
    };
    graphs.make_mut().values.insert(
        events.clone(),
        Component::new(EnumValueDefinition {
            description: None,
            value: events.clone(),
            directives: ast::DirectiveList(vec![directive(
                "join__graph",
                vec![
                    ("name", ast::Value::String(EVENTS_GRAPH_NAME.into())),
                    (
                        "url",
                        ast::Value::String("http://events.dictamesh.invalid".into()),
                    ),
                ],
            )]),
        }),
    );
    let query = schema
        .schema_definition
        .query
        .as_ref()
        .map(|q| q.name.clone())
        .ok_or("the supergraph has no query type")?;
    for entity in entities {
        let Some(ExtendedType::Object(object)) = schema.types.get_mut(&entity.type_name) else {
            continue;
        };
        let object = object.make_mut();
        pin_fields_to_their_graphs(object);
        object.directives.push(Component::new(
            directive(
                "join__type",
                vec![
                    ("graph", ast::Value::Enum(events.clone())),
                    ("key", ast::Value::String(entity.key_field.to_string())),
                ],
            )
            .as_ref()
            .clone(),
        ));
        if let Some(key_field) = object.fields.get_mut(&entity.key_field) {
            key_field.make_mut().directives.push(directive(
                "join__field",
                vec![("graph", ast::Value::Enum(events.clone()))],
            ));
        }
    }
    let Some(ExtendedType::Object(query_type)) = schema.types.get_mut(&query) else {
        return Err("the query type is not an object type".into());
    };
    let query_type = query_type.make_mut();
    pin_fields_to_their_graphs(query_type);
    query_type.directives.push(Component::new(
        directive("join__type", vec![("graph", ast::Value::Enum(events.clone()))])
            .as_ref()
            .clone(),
    ));
    for entity in entities {
        let name = Name::new_unchecked(&entity.root_field());
        query_type.fields.insert(
            name.clone(),
            Component::new(FieldDefinition {
                description: None,
                name,
                arguments: vec![Node::new(ast::InputValueDefinition {
                    description: None,
                    name: Name::new_unchecked("key"),
                    ty: Node::new(ast::Type::NonNullNamed(entity.key_type.clone())),
                    default_value: None,
                    directives: ast::DirectiveList::default(),
                })],
                ty: ast::Type::Named(entity.type_name.clone()),
                directives: ast::DirectiveList(vec![directive(
                    "join__field",
                    vec![("graph", ast::Value::Enum(events.clone()))],
                )]),
            }),
        );
    }
    Supergraph::parse(&schema.to_string()).map_err(|e| e.to_string())
}

/// Fields without `@join__field` belong to every graph of their type; once the
/// type gains the events graph they must name their graphs explicitly.
fn pin_fields_to_their_graphs(object: &mut apollo_compiler::schema::ObjectType) {
    let graphs: Vec<Node<ast::Value>> = object
        .directives
        .get_all("join__type")
        .filter_map(|d| d.specified_argument_by_name("graph").cloned())
        .collect();
    for field in object.fields.values_mut() {
        if field.directives.has("join__field") {
            continue;
        }
        let field = field.make_mut();
        for graph in &graphs {
            field
                .directives
                .push(directive("join__field", vec![("graph", graph.as_ref().clone())]));
        }
    }
}

fn directive(name: &str, arguments: Vec<(&str, ast::Value)>) -> Node<ast::Directive> {
    Node::new(ast::Directive {
        name: Name::new_unchecked(name),
        arguments: arguments
            .into_iter()
            .map(|(name, value)| {
                Node::new(ast::Argument {
                    name: Name::new_unchecked(name),
                    value: Node::new(value),
                })
            })
            .collect(),
    })
}
