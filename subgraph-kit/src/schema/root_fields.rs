//! Root fields generated per entity: a lookup by key (`product(id:)`), a list
//! (`products(filter:, limit:, offset:)`) and, for writable entities, the
//! `create`/`update`/`delete` mutations.

use std::sync::Arc;

use async_graphql::Value;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, ResolverContext};

use super::values::dynamic_field;
use crate::adapter::EntityQuery;
use crate::error::{AdapterError, BuildError};
use crate::key::{EntityKey, FieldSet};
use crate::model::{FieldDef, InputObjectDef, InputValueDef, ObjectDef, TypeDef, TypeRef, TypeRegistry};
use crate::runtime::{EntitySource, EntityWriter, key_from_arguments};

/// A root field: its SDL definition and its served field.
pub struct RootField {
    /// As printed in the SDL.
    pub def: FieldDef,
    /// As served.
    pub field: Field,
}

/// The arguments that identify an entity by its first key; only keys of
/// top-level leaf fields qualify.
pub fn key_arguments(
    object: &ObjectDef,
    registry: &TypeRegistry,
) -> Result<(FieldSet, Vec<InputValueDef>), BuildError> {
    let key = object.keys.first().ok_or_else(|| BuildError::InvalidFieldSet {
        type_name: object.name.clone(),
        directive: "@key",
        fields: String::new(),
        reason: "an entity needs a key".into(),
    })?;
    let mut args = Vec::new();
    for selection in key.fields.selections() {
        let field = object.field(&selection.name).filter(|f| {
            selection.children.is_empty()
                && !matches!(registry.get(f.ty.base_name()), Some(TypeDef::Object(_)))
        });
        let Some(field) = field else {
            return Err(BuildError::InvalidFieldSet {
                type_name: object.name.clone(),
                directive: "@key",
                fields: key.fields.to_string(),
                reason: "root fields and mutations need a first key of scalar fields".into(),
            });
        };
        let ty = match field.ty.clone() {
            TypeRef::NonNull(inner) => TypeRef::NonNull(inner),
            other => TypeRef::NonNull(Box::new(other)),
        };
        args.push(InputValueDef::new(selection.name.clone(), ty));
    }
    Ok((key.fields.clone(), args))
}

/// Reports an error at the field's path, for a nullable field that then
/// resolves to `null` (returning the error instead would make async-graphql's
/// dynamic schema drop the field and the error's path).
fn report(ctx: &ResolverContext<'_>, error: async_graphql::Error) {
    ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
}

fn arguments_json(ctx: &ResolverContext<'_>, names: &[String]) -> serde_json::Map<String, serde_json::Value> {
    names
        .iter()
        .filter_map(|name| {
            let value = ctx.args.get(name)?;
            Some((name.clone(), serde_json::to_value(value.as_value()).ok()?))
        })
        .collect()
}

fn key_of(ctx: &ResolverContext<'_>, type_name: &str, fields: &FieldSet, names: &[String]) -> EntityKey {
    key_from_arguments(type_name, fields, arguments_json(ctx, names))
}

/// `product(id: ID!): Product`: one entity by its first key, through the cache
/// and the batching loader like any other load.
pub fn lookup(
    name: &str,
    object: &ObjectDef,
    registry: &TypeRegistry,
    source: Arc<dyn EntitySource>,
) -> Result<RootField, BuildError> {
    let (fields, args) = key_arguments(object, registry)?;
    let mut def = FieldDef::new(name, TypeRef::Named(object.name.clone().into()));
    def.args = args;
    def.deprecation = source.meta().lookup_deprecated.clone();
    let names: Vec<String> = def.args.iter().map(|a| a.name.clone()).collect();
    let type_name = source.type_name();
    let field = dynamic_field(&def, move |ctx| {
        let source = source.clone();
        let key = key_of(&ctx, type_name, &fields, &names);
        FieldFuture::new(async move {
            match source.load(vec![key]).await.pop() {
                Some(Ok(Some(value))) => Ok(Some(FieldValue::owned_any(value))),
                Some(Ok(None)) | None => Ok(None),
                Some(Err(error)) => {
                    report(&ctx, error.to_graphql());
                    Ok(None)
                }
            }
        })
    });
    Ok(RootField { def, field })
}

/// `products(filter: ProductFilter, limit: Int, offset: Int = 0): [Product!]!`.
/// The filter has one optional field per top-level scalar or enum field.
pub fn list(
    name: &str,
    object: &ObjectDef,
    registry: &mut TypeRegistry,
    source: Arc<dyn EntitySource>,
) -> RootField {
    let filter_name = format!("{}Filter", object.name);
    let filter_fields: Vec<InputValueDef> = object
        .fields
        .iter()
        .filter(|f| !f.ty.is_list() && !matches!(registry.get(f.ty.base_name()), Some(TypeDef::Object(_))))
        .filter(|f| !f.has_directive("external"))
        .map(|f| InputValueDef::new(f.name.clone(), f.ty.clone().nullable()))
        .collect();
    let has_filter = !filter_fields.is_empty();
    if has_filter {
        registry.insert(TypeDef::InputObject(InputObjectDef {
            name: filter_name.clone(),
            description: Some(format!(
                "Equality filters on {} fields; all given fields must match.",
                object.name
            )),
            fields: filter_fields,
        }));
    }
    let mut def = FieldDef::new(name, TypeRef::named_nn(object.name.clone()).list_nn());
    if has_filter {
        def.args
            .push(InputValueDef::new("filter", TypeRef::Named(filter_name.into())));
    }
    def.args
        .push(InputValueDef::new("limit", TypeRef::Named("Int".into())));
    let mut offset = InputValueDef::new("offset", TypeRef::Named("Int".into()));
    offset.default = Some(Value::Number(0.into()));
    def.args.push(offset);
    let field = dynamic_field(&def, move |ctx| {
        let source = source.clone();
        let query = list_query(&ctx);
        FieldFuture::new(async move {
            let query = query.map_err(|e| e.to_graphql())?;
            let found = source.query(query).await.map_err(|e| e.to_graphql())?;
            Ok(Some(FieldValue::list(
                found.into_iter().map(FieldValue::owned_any),
            )))
        })
    });
    RootField { def, field }
}

fn list_query(ctx: &ResolverContext<'_>) -> Result<EntityQuery, AdapterError> {
    let filter = match ctx.args.get("filter") {
        Some(filter) if !filter.is_null() => match serde_json::to_value(filter.as_value()) {
            Ok(serde_json::Value::Object(map)) => map.into_iter().filter(|(_, v)| !v.is_null()).collect(),
            _ => return Err(AdapterError::InvalidInput("filter must be an object".into())),
        },
        _ => Default::default(),
    };
    let non_negative = |name: &str| -> Result<Option<usize>, AdapterError> {
        match ctx.args.get(name) {
            Some(v) if !v.is_null() => {
                let n = v
                    .i64()
                    .map_err(|_| AdapterError::InvalidInput(format!("{name} must be an Int")))?;
                usize::try_from(n)
                    .map(Some)
                    .map_err(|_| AdapterError::InvalidInput(format!("{name} must not be negative, got {n}")))
            }
            _ => Ok(None),
        }
    };
    Ok(EntityQuery {
        filter,
        limit: non_negative("limit")?,
        offset: non_negative("offset")?.unwrap_or(0),
    })
}

/// `create<T>`, `update<T>` and `delete<T>` for a writable entity.
pub fn mutations(
    object: &ObjectDef,
    registry: &TypeRegistry,
    writer: Arc<dyn EntityWriter>,
    type_name: &'static str,
    draft: TypeRef,
    patch: TypeRef,
) -> Result<Vec<RootField>, BuildError> {
    let (fields, key_args) = key_arguments(object, registry)?;
    let names: Vec<String> = key_args.iter().map(|a| a.name.clone()).collect();
    let entity_type = TypeRef::named_nn(object.name.clone());

    let mut create = FieldDef::new(format!("create{}", object.name), entity_type.clone());
    create.args.push(InputValueDef::new("input", draft));
    let w = writer.clone();
    let create_field = dynamic_field(&create, move |ctx| {
        let writer = w.clone();
        let input = ctx.args.get("input").map(|v| v.as_value().clone());
        FieldFuture::new(async move {
            let input = input.ok_or_else(|| async_graphql::Error::new("input is required"))?;
            let created = writer.create(input).await.map_err(|e| e.to_graphql())?;
            Ok(Some(FieldValue::owned_any(created)))
        })
    });

    let mut update = FieldDef::new(format!("update{}", object.name), entity_type);
    update.args = key_args.clone();
    update.args.push(InputValueDef::new("patch", patch));
    let (w, f, n) = (writer.clone(), fields.clone(), names.clone());
    let update_field = dynamic_field(&update, move |ctx| {
        let writer = w.clone();
        let key = key_of(&ctx, type_name, &f, &n);
        let patch = ctx.args.get("patch").map(|v| v.as_value().clone());
        FieldFuture::new(async move {
            let patch = patch.ok_or_else(|| async_graphql::Error::new("patch is required"))?;
            let updated = writer.update(key, patch).await.map_err(|e| e.to_graphql())?;
            Ok(Some(FieldValue::owned_any(updated)))
        })
    });

    let mut delete = FieldDef::new(format!("delete{}", object.name), TypeRef::named_nn("Boolean"));
    delete.args = key_args;
    let delete_field = dynamic_field(&delete, move |ctx| {
        let writer = writer.clone();
        let key = key_of(&ctx, type_name, &fields, &names);
        FieldFuture::new(async move {
            writer.delete(key).await.map_err(|e| e.to_graphql())?;
            Ok(Some(FieldValue::value(true)))
        })
    });

    Ok(vec![
        RootField {
            def: create,
            field: create_field,
        },
        RootField {
            def: update,
            field: update_field,
        },
        RootField {
            def: delete,
            field: delete_field,
        },
    ])
}
