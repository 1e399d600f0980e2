//! Shaping the final response: walk the client's operation over the merged data, keep
//! only what the client selected (in its order, under its aliases), check each value
//! against the API schema, and propagate nulls up to the nearest nullable field.

use apollo_compiler::Name;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use serde_json::Map;
use serde_json::Value;

use crate::plan::selection::Selection;
use crate::plan::selection::SelectionSet;
use crate::supergraph::Supergraph;

/// A non-null position got null: its parent must become null.
struct NullBubble;

/// Shapes the data of an operation; `None` when null propagated to the root.
pub fn shape_response(
    supergraph: &Supergraph,
    root_type: &Name,
    selection: &SelectionSet,
    data: &Value,
) -> Option<Value> {
    let shaper = Shaper { supergraph };
    let object = data.as_object().cloned().unwrap_or_default();
    let mut out = Map::new();
    shaper
        .shape_object(selection, root_type, root_type, &object, &mut out)
        .ok()
        .map(|()| Value::Object(out))
}

struct Shaper<'a> {
    supergraph: &'a Supergraph,
}

impl Shaper<'_> {
    fn shape_object(
        &self,
        selection: &SelectionSet,
        static_type: &Name,
        runtime_type: &Name,
        object: &Map<String, Value>,
        out: &mut Map<String, Value>,
    ) -> Result<(), NullBubble> {
        for item in &selection.items {
            match item {
                Selection::Field(field) => {
                    let key = field.response_key().as_str();
                    if field.name == "__typename" {
                        out.insert(key.to_string(), Value::String(runtime_type.to_string()));
                        continue;
                    }
                    if field.name == "__schema" || field.name == "__type" {
                        if let Some(value) = object.get(key) {
                            out.insert(key.to_string(), value.clone());
                        }
                        continue;
                    }
                    let definition = self
                        .supergraph
                        .api_schema
                        .type_field(runtime_type, &field.name)
                        .or_else(|_| self.supergraph.api_schema.type_field(static_type, &field.name));
                    let Ok(definition) = definition else {
                        continue;
                    };
                    let value = object.get(key).unwrap_or(&Value::Null);
                    let shaped = self.shape_value(value, &definition.ty, &field.selection_set)?;
                    match out.get_mut(key) {
                        // The same response key selected again (in another fragment).
                        Some(existing) => crate::execute::data::deep_merge(existing, shaped),
                        None => {
                            out.insert(key.to_string(), shaped);
                        }
                    }
                }
                Selection::Fragment(fragment) => {
                    if self
                        .supergraph
                        .type_matches(&fragment.type_condition, runtime_type)
                    {
                        self.shape_object(&fragment.selection_set, static_type, runtime_type, object, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn shape_value(
        &self,
        value: &Value,
        ty: &ast::Type,
        selection: &SelectionSet,
    ) -> Result<Value, NullBubble> {
        match ty {
            ast::Type::NonNullNamed(_) | ast::Type::NonNullList(_) => {
                let inner = ty.clone().nullable();
                let shaped = self.shape_value(value, &inner, selection)?;
                if shaped.is_null() {
                    Err(NullBubble)
                } else {
                    Ok(shaped)
                }
            }
            ast::Type::List(item_type) => match value {
                Value::Array(items) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        match self.shape_value(item, item_type, selection) {
                            Ok(shaped) => out.push(shaped),
                            Err(NullBubble) => return Ok(Value::Null),
                        }
                    }
                    Ok(Value::Array(out))
                }
                _ => Ok(Value::Null),
            },
            ast::Type::Named(name) => {
                if value.is_null() {
                    return Ok(Value::Null);
                }
                match self.supergraph.api_schema.types.get(name) {
                    Some(ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)) => {
                        let Value::Object(object) = value else {
                            return Ok(Value::Null);
                        };
                        let runtime = match object.get("__typename").and_then(Value::as_str) {
                            Some(typename) => match self.supergraph.api_schema.types.get(typename) {
                                Some(ExtendedType::Object(object_type)) => object_type.name.clone(),
                                // An `@interfaceObject` answered with the interface's name:
                                // its own fields are all the selection needed.
                                Some(ExtendedType::Interface(interface)) => interface.name.clone(),
                                // A type clients cannot see.
                                _ if self.supergraph.is_abstract(name) => return Ok(Value::Null),
                                _ => name.clone(),
                            },
                            None => name.clone(),
                        };
                        let mut out = Map::new();
                        match self.shape_object(selection, name, &runtime, object, &mut out) {
                            Ok(()) => Ok(Value::Object(out)),
                            Err(NullBubble) => Ok(Value::Null),
                        }
                    }
                    Some(ExtendedType::Enum(enum_type)) => Ok(match value.as_str() {
                        Some(text) if enum_type.values.contains_key(text) => value.clone(),
                        _ => Value::Null,
                    }),
                    _ => Ok(value.clone()),
                }
            }
        }
    }
}
