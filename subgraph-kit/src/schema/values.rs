//! Serving data fields: each field reads its value from the parent object the
//! adapter produced, without copying objects.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, ResolverContext};

use super::references::{Completion, ReferenceBatches};

use crate::model::{FieldDef, InputValueDef, TypeDef, TypeRegistry};
use crate::resolved::{FieldCall, ResolvedField};
use crate::runtime::EntityValue;

/// Whether a named type is a leaf (scalar or enum) or has fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A scalar or enum: served as a value.
    Leaf,
    /// An object: served by reference for its own fields to read.
    Composite,
}

impl Shape {
    /// The shape of a named type.
    pub fn of(registry: &TypeRegistry, name: &str) -> Shape {
        match registry.get(name) {
            Some(TypeDef::Object(_)) => Shape::Composite,
            _ => Shape::Leaf,
        }
    }
}

/// The object a resolver's parent holds, however it was produced.
pub fn parent_value<'a>(parent: &'a FieldValue<'a>) -> Option<&'a Value> {
    parent
        .as_value()
        .or_else(|| parent.downcast_ref::<EntityValue>().map(AsRef::as_ref))
        .or_else(|| parent.downcast_ref::<Value>())
}

/// Serves a value found in a parent object.
pub fn to_field_value(value: &Value, shape: Shape) -> Option<FieldValue<'_>> {
    match value {
        Value::Null => None,
        Value::List(items) => {
            Some(FieldValue::list(items.iter().map(|item| {
                to_field_value(item, shape).unwrap_or(FieldValue::NULL)
            })))
        }
        other => Some(match shape {
            Shape::Leaf => FieldValue::value(other.clone()),
            Shape::Composite => FieldValue::borrowed_any(other),
        }),
    }
}

/// A dynamic field with the definition's type, arguments, description and
/// deprecation, served by `resolver`.
pub fn dynamic_field<F>(def: &FieldDef, resolver: F) -> Field
where
    F: for<'a> Fn(async_graphql::dynamic::ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static,
{
    let mut field = Field::new(def.name.clone(), def.ty.to_dynamic(), resolver);
    for arg in &def.args {
        field = field.argument(dynamic_input_value(arg));
    }
    if let Some(description) = &def.description {
        field = field.description(description.clone());
    }
    if let Some(reason) = &def.deprecation {
        field = field.deprecation(Some(reason.as_str()));
    }
    field
}

/// A dynamic argument or input field.
pub fn dynamic_input_value(def: &InputValueDef) -> InputValue {
    let mut value = InputValue::new(def.name.clone(), def.ty.to_dynamic());
    if let Some(default) = &def.default {
        value = value.default_value(default.clone());
    }
    if let Some(description) = &def.description {
        value = value.description(description.clone());
    }
    value
}

/// The value of field `name` in the parent object.
fn field_of<'a>(ctx: &ResolverContext<'a>, name: &str) -> Option<&'a Value> {
    parent_value(ctx.parent_value).and_then(|parent| match parent {
        Value::Object(fields) => fields.get(name),
        _ => None,
    })
}

/// A field that reads `def.name` from its parent object.
pub fn data_field(def: &FieldDef, registry: &TypeRegistry) -> Field {
    let name = def.name.clone();
    let shape = Shape::of(registry, def.ty.base_name());
    dynamic_field(def, move |ctx| {
        FieldFuture::Value(field_of(&ctx, &name).and_then(|v| to_field_value(v, shape)))
    })
}

/// A field whose type is an entity this subgraph resolves: values that hold
/// only a reference (the key) are completed by loading the entity, batched.
pub fn reference_field(def: &FieldDef, completion: Completion) -> Field {
    let name = def.name.clone();
    dynamic_field(def, move |ctx| {
        let Some(value) = field_of(&ctx, &name) else {
            return FieldFuture::Value(None);
        };
        let selected: Vec<&str> = ctx
            .ctx
            .field()
            .selection_set()
            .map(|f| f.name())
            .filter(|name| *name != "__typename")
            .collect();
        let incomplete = match value {
            Value::List(items) => items
                .iter()
                .any(|i| completion.key_of_incomplete(i, &selected).is_some()),
            other => completion.key_of_incomplete(other, &selected).is_some(),
        };
        if !incomplete {
            return FieldFuture::Value(to_field_value(value, Shape::Composite));
        }
        let completion = completion.clone();
        FieldFuture::new(async move {
            match value {
                Value::List(items) => {
                    let wanted: Vec<(usize, crate::key::EntityKey)> = items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| completion.key_of_incomplete(item, &selected).map(|k| (i, k)))
                        .collect();
                    let loaded = completion
                        .source
                        .load(wanted.iter().map(|(_, k)| k.clone()).collect())
                        .await;
                    let mut completed: Vec<Option<FieldValue<'_>>> = Vec::with_capacity(items.len());
                    completed.extend(items.iter().map(|item| to_field_value(item, Shape::Composite)));
                    for ((slot, _), result) in wanted.into_iter().zip(loaded) {
                        match result {
                            Ok(Some(entity)) => completed[slot] = Some(FieldValue::owned_any(entity)),
                            Ok(None) => {}
                            Err(error) => return Err(error.to_graphql()),
                        }
                    }
                    Ok(Some(FieldValue::list(
                        completed.into_iter().map(|v| v.unwrap_or(FieldValue::NULL)),
                    )))
                }
                single => {
                    let Some(key) = completion.key_of_incomplete(single, &selected) else {
                        return Ok(to_field_value(single, Shape::Composite));
                    };
                    let loaded = match ctx.data_opt::<Arc<ReferenceBatches>>() {
                        Some(batches) => batches.load(&completion.source, key).await,
                        None => completion.source.load(vec![key]).await.pop().unwrap_or(Ok(None)),
                    };
                    match loaded {
                        Ok(Some(entity)) => Ok(Some(FieldValue::owned_any(entity))),
                        Ok(None) => Ok(to_field_value(single, Shape::Composite)),
                        Err(error) => Err(error.to_graphql()),
                    }
                }
            }
        })
    })
}

/// Serves a value a resolver produced (owned, unlike values read from a parent).
pub fn owned_field_value(value: Value, shape: Shape) -> Option<FieldValue<'static>> {
    match value {
        Value::Null => None,
        Value::List(items) => {
            Some(FieldValue::list(items.into_iter().map(|item| {
                owned_field_value(item, shape).unwrap_or(FieldValue::NULL)
            })))
        }
        other => Some(match shape {
            Shape::Leaf => FieldValue::value(other),
            Shape::Composite => FieldValue::owned_any::<EntityValue>(std::sync::Arc::new(other)),
        }),
    }
}

/// A field served by a [`ResolvedField`]'s resolver, given the field's
/// arguments and its parent object as JSON. Errors carry their code; a
/// nullable field resolves to `null` next to its error.
pub fn resolved_field(resolved: &ResolvedField, shape: Shape) -> Field {
    let resolve = resolved.resolve.clone();
    let nullable = !resolved.def.ty.is_non_null();
    dynamic_field(&resolved.def, move |ctx| {
        let resolve = resolve.clone();
        let arguments = ctx
            .args
            .iter()
            .filter_map(|(name, value)| {
                Some((name.to_string(), serde_json::to_value(value.as_value()).ok()?))
            })
            .collect();
        let parent = parent_value(ctx.parent_value)
            .and_then(|value| serde_json::to_value(value).ok())
            .unwrap_or_default();
        FieldFuture::new(async move {
            match resolve(FieldCall::new(arguments, parent)).await {
                Ok(value) => Ok(owned_field_value(value, shape)),
                Err(error) if nullable => {
                    ctx.add_error(ctx.set_error_path(error.to_graphql().into_server_error(ctx.item.pos)));
                    Ok(None)
                }
                Err(error) => Err(error.to_graphql()),
            }
        })
    })
}
