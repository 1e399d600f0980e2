//! The federation entry points every subgraph serves: `_service { sdl }` and
//! `_entities(representations:)`, with `_Any`, `_Service` and `_Entity`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, Scalar, TypeRef, Union};
use async_graphql::{ErrorExtensions, PathSegment, ServerError, Value};

use super::representations::{self, KeyMatcher};
use crate::error::AdapterError;
use crate::key::EntityKey;
use crate::runtime::{EntitySource, EntityValue};

/// How `_entities` turns representations of one type into objects.
pub enum Resolution {
    /// Through the entity's runtime (cache, then one batched adapter call).
    Source(Arc<dyn EntitySource>),
    /// Each representation is the object itself: an entity stub whose other
    /// fields are resolved fields (`SubgraphBuilder::entity_stub`).
    Representation,
}

/// An entity type `_entities` can resolve.
pub struct ResolvableEntity {
    /// How its representations become objects.
    pub resolution: Resolution,
    /// Its resolvable keys, in declaration order.
    pub matchers: Vec<KeyMatcher>,
}

impl ResolvableEntity {
    async fn load(&self, keys: Vec<EntityKey>) -> Vec<Result<Option<EntityValue>, AdapterError>> {
        match &self.resolution {
            Resolution::Source(source) => source.load(keys).await,
            Resolution::Representation => keys
                .iter()
                .map(|key| {
                    async_graphql::to_value(key.representation())
                        .map(|value| Some(Arc::new(value)))
                        .map_err(|e| AdapterError::Internal(format!("representation does not convert: {e}")))
                })
                .collect(),
        }
    }
}

/// The placeholder for a representation that resolves to `null`: async-graphql's
/// dynamic schema cannot put `null` into a list of a union, so the slot gets
/// this empty object and [`EntityNulls::apply`] turns it into `null` after
/// execution. It is never part of the SDL.
const NULL_ENTITY: &str = "_NullEntity";

/// The `_entities` slots of one request that must be `null` in the response.
#[derive(Default)]
pub struct EntityNulls {
    slots: Mutex<Vec<(String, usize)>>,
}

impl EntityNulls {
    fn record(&self, response_key: &str, index: usize) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.push((response_key.to_string(), index));
        }
    }

    /// Replaces the recorded placeholders in the response data by `null`.
    pub fn apply(&self, data: &mut Value) {
        let Value::Object(fields) = data else { return };
        let Ok(slots) = self.slots.lock() else { return };
        for (key, index) in slots.iter() {
            if let Some(Value::List(items)) = fields.get_mut(key.as_str())
                && let Some(item) = items.get_mut(*index)
            {
                *item = Value::Null;
            }
        }
    }
}

/// `_Any`, `_Service` and (when there are entities) `_Entity` with its
/// placeholder type.
pub fn types(entity_names: &[String]) -> (Scalar, Object, Option<(Union, Object)>) {
    let any = Scalar::new("_Any");
    let service = Object::new("_Service").field(Field::new("sdl", TypeRef::named(TypeRef::STRING), |ctx| {
        let sdl = super::values::parent_value(ctx.parent_value).and_then(|v| match v {
            Value::Object(o) => o.get("sdl").cloned(),
            _ => None,
        });
        FieldFuture::Value(sdl.map(FieldValue::value))
    }));
    let union = (!entity_names.is_empty()).then(|| {
        let union = entity_names
            .iter()
            .fold(Union::new("_Entity"), |union, name| {
                union.possible_type(name.as_str())
            })
            .possible_type(NULL_ENTITY);
        let placeholder =
            Object::new(NULL_ENTITY).field(Field::new("_null", TypeRef::named(TypeRef::BOOLEAN), |_| {
                FieldFuture::Value(None)
            }));
        (union, placeholder)
    });
    (any, service, union)
}

/// `_service: _Service!`.
pub fn service_field(sdl: &str) -> Field {
    let value: EntityValue = Arc::new(Value::Object(
        [(async_graphql::Name::new("sdl"), Value::String(sdl.to_string()))]
            .into_iter()
            .collect(),
    ));
    Field::new("_service", TypeRef::named_nn("_Service"), move |_| {
        FieldFuture::Value(Some(FieldValue::owned_any(value.clone())))
    })
}

fn item_error(ctx: &async_graphql::Context<'_>, index: usize, message: String, code: &str) -> ServerError {
    let error = async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code));
    let mut error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
    error.path.push(PathSegment::Index(index));
    error
}

fn adapter_error(ctx: &async_graphql::Context<'_>, index: usize, error: &AdapterError) -> ServerError {
    item_error(ctx, index, error.to_string(), error.code())
}

/// `_entities(representations: [_Any!]!): [_Entity]!`: all representations of
/// one type become ONE batched load; a bad representation or a failed source
/// yields `null` at its index and an error with its path, the rest resolves.
pub fn entities_field(entities: Arc<HashMap<String, ResolvableEntity>>) -> Field {
    Field::new("_entities", TypeRef::named_list_nn("_Entity"), move |ctx| {
        let entities = entities.clone();
        FieldFuture::new(async move {
            let representations = ctx.args.try_get("representations")?.list()?;
            let count = representations.len();
            let mut by_type: HashMap<&str, (&ResolvableEntity, Vec<usize>, Vec<EntityKey>)> = HashMap::new();
            for (index, representation) in representations.iter().enumerate() {
                match route(index, representation.as_value(), &entities) {
                    Ok((type_name, entity, key)) => {
                        let slot = by_type
                            .entry(type_name)
                            .or_insert_with(|| (entity, Vec::new(), Vec::new()));
                        slot.1.push(index);
                        slot.2.push(key);
                    }
                    Err(message) => ctx.add_error(item_error(&ctx, index, message, "INVALID_REPRESENTATION")),
                }
            }
            let loads = by_type
                .into_iter()
                .map(|(type_name, (entity, slots, keys))| async move {
                    let results = entity.load(keys).await;
                    (type_name.to_string(), slots, results)
                });
            let nulls = ctx.data_opt::<Arc<EntityNulls>>();
            let response_key = ctx.item.node.response_key().node.to_string();
            let mut resolved: Vec<Option<FieldValue<'_>>> = (0..count).map(|_| None).collect();
            for (type_name, slots, results) in futures::future::join_all(loads).await {
                for (slot, result) in slots.into_iter().zip(results) {
                    match result {
                        Ok(Some(value)) => {
                            resolved[slot] = Some(FieldValue::owned_any(value).with_type(type_name.clone()))
                        }
                        Ok(None) => {}
                        Err(error) => ctx.add_error(adapter_error(&ctx, slot, &error)),
                    }
                }
            }
            Ok(Some(FieldValue::list(resolved.into_iter().enumerate().map(
                |(index, v)| {
                    v.unwrap_or_else(|| {
                        if let Some(nulls) = nulls {
                            nulls.record(&response_key, index);
                        }
                        FieldValue::NULL.with_type(NULL_ENTITY)
                    })
                },
            ))))
        })
    })
    .argument(InputValue::new(
        "representations",
        TypeRef::named_nn_list_nn("_Any"),
    ))
}

fn route<'e>(
    index: usize,
    representation: &Value,
    entities: &'e HashMap<String, ResolvableEntity>,
) -> Result<(&'e str, &'e ResolvableEntity, EntityKey), String> {
    let Value::Object(fields) = representation else {
        return Err(format!("representation {index} is not an object"));
    };
    let type_name = match fields.get("__typename") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(format!("representation {index}: `__typename` must be a string")),
        None => return Err(format!("representation {index} has no `__typename`")),
    };
    let Some((name, entity)) = entities.get_key_value(type_name) else {
        let mut known: Vec<&str> = entities.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(format!(
            "representation {index}: `{type_name}` is not an entity type of this subgraph (known: {})",
            known.join(", ")
        ));
    };
    let json = match serde_json::to_value(representation) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err(format!("representation {index} is not a JSON object")),
    };
    let key = representations::parse(index, type_name, &entity.matchers, json)?;
    Ok((name.as_str(), entity, key))
}
