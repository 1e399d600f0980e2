//! Reading an `entityChanged` subscription: its arguments, the `EntityChange`
//! fields it selects, and for each entity type the internal query that
//! resolves the `entity` selections across subgraphs.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::executable::Field;
use apollo_compiler::executable::Operation;
use apollo_compiler::executable::Selection;
use apollo_compiler::executable::SelectionSet;
use serde_json::Map;
use serde_json::Value;

use super::schema::ChangeableEntity;
use crate::supergraph::Supergraph;

/// One field the client selects on `EntityChange`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeField {
    /// Where it goes in the response.
    pub response_key: Name,
    /// The `EntityChange` field (or `__typename`).
    pub name: Name,
}

/// How one `entity` field of the subscription is resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct EntityQuery {
    /// The field's response key.
    pub response_key: Name,
    /// The internal query, whose only root field has that response key.
    pub query: Option<String>,
}

/// What a client's `entityChanged` subscription asks for.
#[derive(Debug, Clone)]
pub struct EntityChangedRequest {
    /// The response key of `entityChanged`.
    pub response_key: Name,
    /// The `type` argument: the entity type to follow.
    pub entity_type: String,
    /// The `id` argument: one entity only.
    pub entity_id: Option<String>,
    /// The `after` argument: a cursor to resume after.
    pub after: Option<String>,
    /// The selected `EntityChange` fields, in order.
    pub fields: Vec<ChangeField>,
    /// For each `entity` field, the internal query resolving it (`None` when
    /// nothing of its selection applies to the type followed: it is `{}`).
    /// Empty when the type followed is not one events can carry.
    pub entity_queries: Vec<EntityQuery>,
    /// The client's variables (the internal query uses them too).
    pub variables: Map<String, Value>,
}

/// Why a subscription cannot start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SubscriptionRequestError(pub String);

/// Reads the subscription `operation` (validated against the API schema with
/// subscriptions); `variables` are its coerced variables.
pub fn read_request(
    document: &ExecutableDocument,
    operation: &Operation,
    variables: &Map<String, Value>,
    entities: &[ChangeableEntity],
    supergraph: &Supergraph,
) -> Result<EntityChangedRequest, SubscriptionRequestError> {
    let roots = collect_fields(document, &operation.selection_set, variables);
    let [root] = roots.as_slice() else {
        return Err(SubscriptionRequestError(
            "a subscription selects exactly one root field".into(),
        ));
    };
    if root.name != "entityChanged" {
        return Err(SubscriptionRequestError(format!(
            "unknown subscription field `{}`",
            root.name
        )));
    }
    let entity_type = string_argument(root, "type", variables)
        .ok_or_else(|| SubscriptionRequestError("entityChanged needs a `type`".into()))?;
    if !supergraph.api_schema.types.contains_key(entity_type.as_str()) {
        return Err(SubscriptionRequestError(format!(
            "entityChanged(type: {entity_type:?}): the supergraph has no such type"
        )));
    }
    let change_fields = collect_fields(document, &root.selection_set, variables);
    let fields = change_fields
        .iter()
        .map(|field| ChangeField {
            response_key: field.response_key().clone(),
            name: field.name.clone(),
        })
        .collect();
    let entity_queries = match entities.iter().find(|e| e.type_name == entity_type.as_str()) {
        Some(entity) => change_fields
            .iter()
            .filter(|f| f.name == "entity")
            .map(|field| EntityQuery {
                response_key: field.response_key().clone(),
                query: entity_query(document, operation, field, entity, supergraph),
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(EntityChangedRequest {
        response_key: root.response_key().clone(),
        entity_type,
        entity_id: string_argument(root, "id", variables),
        after: string_argument(root, "after", variables),
        fields,
        entity_queries,
        variables: variables.clone(),
    })
}

/// The fields of a selection set on one object type, fragments flattened and
/// `@skip`/`@include` applied (the type conditions all match: the parents here
/// are `Subscription` and `EntityChange`, which nothing else implements).
fn collect_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
    variables: &Map<String, Value>,
) -> Vec<&'a Field> {
    let mut fields = Vec::new();
    for selection in &set.selections {
        if !included(selection.directives(), variables) {
            continue;
        }
        match selection {
            Selection::Field(field) => fields.push(&**field),
            Selection::InlineFragment(fragment) => {
                fields.extend(collect_fields(document, &fragment.selection_set, variables))
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.fragment_name) {
                    fields.extend(collect_fields(document, &fragment.selection_set, variables));
                }
            }
        }
    }
    fields
}

fn included(directives: &ast::DirectiveList, variables: &Map<String, Value>) -> bool {
    let flag = |name: &str| {
        directives
            .get(name)
            .map(|d| match d.specified_argument_by_name("if").map(|v| &**v) {
                Some(ast::Value::Boolean(b)) => *b,
                Some(ast::Value::Variable(v)) => variables
                    .get(v.as_str())
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                _ => false,
            })
    };
    flag("skip") != Some(true) && flag("include") != Some(false)
}

fn string_argument(field: &Field, name: &str, variables: &Map<String, Value>) -> Option<String> {
    match field
        .arguments
        .iter()
        .find(|a| a.name == name)
        .map(|a| &*a.value)?
    {
        ast::Value::String(s) => Some(s.clone()),
        ast::Value::Int(i) => Some(i.as_str().to_string()),
        ast::Value::Variable(v) => match variables.get(v.as_str())? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// `query($__key: K!, <variables used>) { <rk>: _dictamesh_entity_T(key: $__key) { ... } }`
/// with the client's selection of an `entity` field, kept for `T`, named
/// fragments written inline; `None` when nothing of it applies to `T`.
fn entity_query(
    document: &ExecutableDocument,
    operation: &Operation,
    field: &Field,
    entity: &ChangeableEntity,
    supergraph: &Supergraph,
) -> Option<String> {
    let mut printer = Printer {
        document,
        supergraph,
        entity: &entity.type_name,
        used_variables: BTreeSet::new(),
        out: String::new(),
    };
    printer.entity_selections(&field.selection_set);
    if printer.out.is_empty() {
        return None;
    }
    let selections = std::mem::take(&mut printer.out);
    let _ = write!(
        printer.out,
        "{}: {}(key: $__key)",
        field.response_key(),
        entity.root_field()
    );
    printer.directives(&field.directives);
    let mut definitions = format!("$__key: {}!", entity.key_type);
    for variable in &operation.variables {
        if printer.used_variables.contains(variable.name.as_str()) {
            let _ = write!(definitions, ", ${}: {}", variable.name, variable.ty);
        }
    }
    Some(format!(
        "query DictameshChangedEntity({definitions}) {{ {} {{{selections} }} }}",
        printer.out
    ))
}

struct Printer<'a> {
    document: &'a ExecutableDocument,
    supergraph: &'a Supergraph,
    entity: &'a Name,
    used_variables: BTreeSet<String>,
    out: String,
}

impl Printer<'_> {
    /// Selections on the `ChangedEntity` union, kept where they apply to the entity.
    fn entity_selections(&mut self, set: &SelectionSet) {
        for selection in &set.selections {
            let (condition, directives, inner) = match selection {
                Selection::Field(field) => {
                    self.field(field);
                    continue;
                }
                Selection::InlineFragment(fragment) => (
                    fragment.type_condition.as_ref(),
                    &fragment.directives,
                    &fragment.selection_set,
                ),
                Selection::FragmentSpread(spread) => {
                    let Some(fragment) = self.document.fragments.get(&spread.fragment_name) else {
                        continue;
                    };
                    (
                        Some(fragment.type_condition()),
                        &spread.directives,
                        &fragment.selection_set,
                    )
                }
            };
            let applies = condition.is_none_or(|c| {
                c == "ChangedEntity" || self.supergraph.type_matches(c.as_str(), self.entity.as_str())
            });
            if applies {
                let start = self.out.len();
                self.out.push_str(" ...");
                self.directives(directives);
                self.out.push_str(" {");
                let opened = self.out.len();
                self.entity_selections(inner);
                if self.out.len() == opened {
                    self.out.truncate(start);
                } else {
                    self.out.push_str(" }");
                }
            }
        }
    }

    fn selections(&mut self, set: &SelectionSet) {
        for selection in &set.selections {
            match selection {
                Selection::Field(field) => self.field(field),
                Selection::InlineFragment(fragment) => {
                    self.out.push_str(" ...");
                    if let Some(condition) = &fragment.type_condition {
                        let _ = write!(self.out, " on {condition}");
                    }
                    self.directives(&fragment.directives);
                    self.block(&fragment.selection_set);
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(fragment) = self.document.fragments.get(&spread.fragment_name) {
                        let _ = write!(self.out, " ... on {}", fragment.type_condition());
                        self.directives(&spread.directives);
                        self.block(&fragment.selection_set);
                    }
                }
            }
        }
    }

    fn field(&mut self, field: &Field) {
        self.out.push(' ');
        if let Some(alias) = &field.alias {
            let _ = write!(self.out, "{alias}: ");
        }
        self.out.push_str(&field.name);
        if !field.arguments.is_empty() {
            self.out.push('(');
            for (index, argument) in field.arguments.iter().enumerate() {
                if index > 0 {
                    self.out.push_str(", ");
                }
                self.note_variables(&argument.value);
                let _ = write!(self.out, "{}: {}", argument.name, argument.value);
            }
            self.out.push(')');
        }
        self.directives(&field.directives);
        if !field.selection_set.selections.is_empty() {
            self.block(&field.selection_set);
        }
    }

    fn block(&mut self, set: &SelectionSet) {
        self.out.push_str(" {");
        self.selections(set);
        self.out.push_str(" }");
    }

    fn directives(&mut self, directives: &ast::DirectiveList) {
        for directive in directives.iter() {
            for argument in &directive.arguments {
                self.note_variables(&argument.value);
            }
            let _ = write!(self.out, " {directive}");
        }
    }

    fn note_variables(&mut self, value: &ast::Value) {
        match value {
            ast::Value::Variable(name) => {
                self.used_variables.insert(name.to_string());
            }
            ast::Value::List(items) => items.iter().for_each(|item| self.note_variables(item)),
            ast::Value::Object(fields) => fields.iter().for_each(|(_, item)| self.note_variables(item)),
            _ => {}
        }
    }
}
