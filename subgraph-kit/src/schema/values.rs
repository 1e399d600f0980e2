//! Serving data fields: each field reads its value from the parent object the
//! adapter produced, without copying objects.

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue};

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

/// A field that reads `def.name` from its parent object.
pub fn data_field(def: &FieldDef, registry: &TypeRegistry) -> Field {
    let name = def.name.clone();
    let shape = Shape::of(registry, def.ty.base_name());
    dynamic_field(def, move |ctx| {
        let value = parent_value(ctx.parent_value).and_then(|parent| match parent {
            Value::Object(fields) => fields.get(name.as_str()),
            _ => None,
        });
        FieldFuture::Value(value.and_then(|v| to_field_value(v, shape)))
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
