//! Building the served schema (async-graphql's dynamic schema) and the
//! Federation SDL from one [`TypeRegistry`], so the two cannot disagree.

mod federation;
mod references;
pub use federation::EntityNulls;
pub use references::ReferenceBatches;
pub(crate) mod representations;
mod root_fields;
pub(crate) mod values;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::{Enum, EnumItem, InputObject, Object, Scalar, Schema};

use crate::error::BuildError;
use crate::ftv1::FederatedTracing;
use crate::key::Selection;
use crate::model::{BUILTIN_SCALARS, ObjectDef, TypeDef, TypeRef, TypeRegistry};
use crate::resolved::ResolvedField;
use crate::runtime::{EntitySource, EntityWriter};
use crate::sdl::{self, ComposedDirective};
use federation::{Resolution, ResolvableEntity};
use references::Completion;
use representations::KeyMatcher;
use root_fields::RootField;
use values::Shape;

/// The write side of a mounted entity with its input types.
pub struct MountedWriter {
    /// The runtime's write side.
    pub writer: Arc<dyn EntityWriter>,
    /// The `create` input type.
    pub draft: TypeRef,
    /// The `update` input type.
    pub patch: TypeRef,
}

/// An entity type with its runtime.
pub struct MountedEntity {
    /// The read side.
    pub source: Arc<dyn EntitySource>,
    /// The write side, for writable adapters.
    pub writer: Option<MountedWriter>,
}

/// What a subgraph serves besides its mounted entities: custom root fields,
/// resolved fields of object types and entity stubs.
#[derive(Default, Clone)]
pub struct CustomFields {
    /// Custom `Query` fields.
    pub queries: Vec<ResolvedField>,
    /// Custom `Mutation` fields.
    pub mutations: Vec<ResolvedField>,
    /// Resolved fields of object types: (type name, field).
    pub fields: Vec<(String, ResolvedField)>,
    /// Entity types resolved from their representations.
    pub stubs: Vec<String>,
}

/// The served schema and the SDL that describes it.
pub struct BuiltSchema {
    /// What executes requests.
    pub schema: Schema,
    /// What `_service { sdl }` returns.
    pub sdl: String,
}

/// Builds schema and SDL; every error names the type (and field) at fault.
/// A `traced` schema records federated traces (`ftv1`) of every request; the
/// other carries no extension at all, so untraced requests pay nothing.
pub fn build(
    mut registry: TypeRegistry,
    mounted: &[MountedEntity],
    composed: &[ComposedDirective],
    custom: CustomFields,
    traced: bool,
) -> Result<BuiltSchema, BuildError> {
    if let Some(name) = registry.conflicts().first() {
        return Err(BuildError::ConflictingType(name.clone()));
    }
    let mut object_resolvers: HashMap<String, HashMap<String, ResolvedField>> = HashMap::new();
    for (type_name, field) in custom.fields {
        let object = registry
            .object_mut(&type_name)
            .ok_or_else(|| BuildError::UnknownType {
                referenced: type_name.clone(),
                by: format!("SubgraphBuilder::field(\"{type_name}\", {})", field.def.name),
            })?;
        if object.field(&field.def.name).is_some() {
            return Err(BuildError::DuplicateField {
                type_name,
                field: field.def.name.clone(),
            });
        }
        object.fields.push(field.def.clone());
        object_resolvers
            .entry(type_name)
            .or_default()
            .insert(field.def.name.clone(), field);
    }
    check_references(&registry)?;
    check_field_sets(&registry)?;
    let resolvable = resolvable_entities(&registry, mounted, &custom.stubs)?;

    let mut queries: Vec<RootField> = Vec::new();
    let mut mutations: Vec<RootField> = Vec::new();
    for entity in mounted {
        let object = registry
            .object(entity.source.type_name())
            .cloned()
            .ok_or_else(|| BuildError::UnknownType {
                referenced: entity.source.type_name().into(),
                by: "Subgraph::builder().entity(..)".into(),
            })?;
        let meta = entity.source.meta();
        if let Some(name) = &meta.lookup {
            queries.push(root_fields::lookup(
                name,
                &object,
                &registry,
                entity.source.clone(),
            )?);
        }
        if let Some(name) = &meta.list {
            queries.push(root_fields::list(
                name,
                &object,
                &mut registry,
                entity.source.clone(),
            ));
        }
        if let Some(w) = &entity.writer {
            mutations.extend(root_fields::mutations(
                &object,
                &registry,
                w.writer.clone(),
                entity.source.type_name(),
                w.draft.clone(),
                w.patch.clone(),
            )?);
        }
    }
    for field in custom.queries {
        queries.push(resolved_root(field, &registry));
    }
    for field in custom.mutations {
        mutations.push(resolved_root(field, &registry));
    }
    // A subgraph that only resolves entities has no query fields of its own;
    // its SDL then has no `type Query` (an empty one is not valid GraphQL).
    if !queries.is_empty() {
        let mut query_def = ObjectDef::new("Query");
        query_def.fields = queries.iter().map(|r| r.def.clone()).collect();
        registry.upsert(TypeDef::Object(query_def));
    }
    if !mutations.is_empty() {
        let mut mutation_def = ObjectDef::new("Mutation");
        mutation_def.fields = mutations.iter().map(|r| r.def.clone()).collect();
        registry.upsert(TypeDef::Object(mutation_def));
    }
    let sdl = sdl::print(&registry, composed)?;
    let completions = completions(&registry, mounted);

    let mut entity_names: Vec<String> = resolvable.keys().cloned().collect();
    entity_names.sort_unstable();
    let (any, service, union) = federation::types(&entity_names);
    let mut query = Object::new("Query").field(federation::service_field(&sdl));
    if union.is_some() {
        query = query.field(federation::entities_field(Arc::new(resolvable)));
    }
    for root in queries {
        query = query.field(root.field);
    }
    let mut builder = Schema::build("Query", (!mutations.is_empty()).then_some("Mutation"), None)
        .register(query)
        .register(any)
        .register(service);
    if traced {
        builder = builder.extension(FederatedTracing);
    }
    if let Some((union, placeholder)) = union {
        builder = builder.register(union).register(placeholder);
    }
    if !mutations.is_empty() {
        builder = builder.register(
            mutations
                .into_iter()
                .fold(Object::new("Mutation"), |m, r| m.field(r.field)),
        );
    }
    for def in registry.types() {
        builder = match def {
            TypeDef::Object(o) if o.name == "Query" || o.name == "Mutation" => builder,
            TypeDef::Object(o) => builder.register(dynamic_object(
                o,
                &registry,
                &completions,
                object_resolvers.remove(&o.name).unwrap_or_default(),
            )),
            TypeDef::Enum(e) => builder.register(e.values.iter().fold(Enum::new(e.name.clone()), |en, v| {
                en.item(EnumItem::new(v.name.clone()))
            })),
            TypeDef::InputObject(i) => {
                builder.register(i.fields.iter().fold(InputObject::new(i.name.clone()), |io, f| {
                    io.field(values::dynamic_input_value(f))
                }))
            }
            TypeDef::Scalar(s) => builder.register(Scalar::new(s.name.clone())),
        };
    }
    let schema = builder.finish().map_err(|e| BuildError::Schema(e.to_string()))?;
    Ok(BuiltSchema { schema, sdl })
}

fn dynamic_object(
    def: &ObjectDef,
    registry: &TypeRegistry,
    completions: &HashMap<String, Completion>,
    mut resolvers: HashMap<String, ResolvedField>,
) -> Object {
    let mut object = Object::new(def.name.clone());
    if let Some(description) = &def.description {
        object = object.description(description.clone());
    }
    for field in &def.fields {
        let resolved = resolvers.remove(&field.name);
        object = object.field(match (resolved, completions.get(field.ty.base_name())) {
            (Some(resolved), _) => {
                values::resolved_field(&resolved, Shape::of(registry, field.ty.base_name()))
            }
            (None, Some(completion)) => values::reference_field(field, completion.clone()),
            (None, None) => values::data_field(field, registry),
        });
    }
    object
}

/// How references to each mounted entity type are completed.
fn completions(registry: &TypeRegistry, mounted: &[MountedEntity]) -> HashMap<String, Completion> {
    mounted
        .iter()
        .filter_map(|entity| {
            let object = registry.object(entity.source.type_name())?;
            let key = object.keys.iter().find(|k| k.resolvable)?;
            Some((
                object.name.clone(),
                Completion {
                    source: entity.source.clone(),
                    key: key.fields.clone(),
                },
            ))
        })
        .collect()
}

/// A custom root field, served by its resolver.
fn resolved_root(field: ResolvedField, registry: &TypeRegistry) -> RootField {
    let served = values::resolved_field(&field, Shape::of(registry, field.def.ty.base_name()));
    RootField {
        def: field.def,
        field: served,
    }
}

/// Every type a field or argument mentions must exist.
fn check_references(registry: &TypeRegistry) -> Result<(), BuildError> {
    let known = |name: &str| BUILTIN_SCALARS.contains(&name) || registry.contains(name);
    for def in registry.types() {
        let mentions: Vec<(String, &TypeRef)> = match def {
            TypeDef::Object(o) => o
                .fields
                .iter()
                .flat_map(|f| {
                    std::iter::once((format!("{}.{}", o.name, f.name), &f.ty)).chain(
                        f.args
                            .iter()
                            .map(move |a| (format!("{}.{}({})", o.name, f.name, a.name), &a.ty)),
                    )
                })
                .collect(),
            TypeDef::InputObject(i) => i
                .fields
                .iter()
                .map(|f| (format!("{}.{}", i.name, f.name), &f.ty))
                .collect(),
            TypeDef::Enum(_) | TypeDef::Scalar(_) => Vec::new(),
        };
        for (by, ty) in mentions {
            if !known(ty.base_name()) {
                return Err(BuildError::UnknownType {
                    referenced: ty.base_name().to_string(),
                    by,
                });
            }
        }
    }
    Ok(())
}

/// `@key`, `@requires` and `@provides` must select existing fields.
fn check_field_sets(registry: &TypeRegistry) -> Result<(), BuildError> {
    for def in registry.types() {
        let TypeDef::Object(object) = def else { continue };
        for key in &object.keys {
            KeyMatcher::new(registry, object, &key.fields).map_err(|reason| BuildError::InvalidFieldSet {
                type_name: object.name.clone(),
                directive: "@key",
                fields: key.fields.to_string(),
                reason,
            })?;
        }
        for field in &object.fields {
            for (directive, target) in [
                ("requires", object.name.as_str()),
                ("provides", field.ty.base_name()),
            ] {
                let Some(text) = field.directive(directive).and_then(|d| d.string_arg("fields")) else {
                    continue;
                };
                let invalid = |reason: String| BuildError::InvalidFieldSet {
                    type_name: format!("{}.{}", object.name, field.name),
                    directive: if directive == "requires" {
                        "@requires"
                    } else {
                        "@provides"
                    },
                    fields: text.to_string(),
                    reason,
                };
                let set = crate::key::FieldSet::parse(text).map_err(|e| invalid(e.reason))?;
                let target = registry
                    .object(target)
                    .ok_or_else(|| invalid(format!("`{target}` is not an object type")))?;
                check_selections(registry, target, set.selections()).map_err(invalid)?;
            }
        }
    }
    Ok(())
}

fn check_selections(
    registry: &TypeRegistry,
    object: &ObjectDef,
    selections: &[Selection],
) -> Result<(), String> {
    for selection in selections {
        let field = object
            .field(&selection.name)
            .ok_or_else(|| format!("`{}` is not a field of `{}`", selection.name, object.name))?;
        match (
            registry.object(field.ty.base_name()),
            selection.children.is_empty(),
        ) {
            (Some(nested), false) => check_selections(registry, nested, &selection.children)?,
            (Some(_), true) => {
                return Err(format!(
                    "`{}.{}` is an object: select its fields",
                    object.name, field.name
                ));
            }
            (None, false) => {
                return Err(format!(
                    "`{}.{}` has no fields to select",
                    object.name, field.name
                ));
            }
            (None, true) => {}
        }
    }
    Ok(())
}

/// The entity types `_entities` resolves: every mounted entity; an entity type
/// with resolvable keys but no adapter is an error.
fn resolvable_entities(
    registry: &TypeRegistry,
    mounted: &[MountedEntity],
    stubs: &[String],
) -> Result<HashMap<String, ResolvableEntity>, BuildError> {
    let mut out = HashMap::new();
    let resolutions = mounted
        .iter()
        .map(|entity| {
            (
                entity.source.type_name(),
                Resolution::Source(entity.source.clone()),
                "Subgraph::builder().entity(..)",
            )
        })
        .chain(stubs.iter().map(|name| {
            (
                name.as_str(),
                Resolution::Representation,
                "SubgraphBuilder::entity_stub(..)",
            )
        }));
    for (name, resolution, by) in resolutions {
        let object = registry.object(name).ok_or_else(|| BuildError::UnknownType {
            referenced: name.into(),
            by: by.into(),
        })?;
        let matchers = object
            .keys
            .iter()
            .filter(|k| k.resolvable)
            .map(|k| {
                KeyMatcher::new(registry, object, &k.fields).map_err(|reason| BuildError::InvalidFieldSet {
                    type_name: name.into(),
                    directive: "@key",
                    fields: k.fields.to_string(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if out
            .insert(name.to_string(), ResolvableEntity { resolution, matchers })
            .is_some()
        {
            return Err(BuildError::DuplicateEntity(name.into()));
        }
    }
    for def in registry.types() {
        if let TypeDef::Object(o) = def
            && o.keys.iter().any(|k| k.resolvable)
            && !out.contains_key(&o.name)
        {
            return Err(BuildError::Config {
                entity: o.name.clone(),
                reason: "it has resolvable keys but no adapter; mount an adapter for it or declare its keys \
                         with key(fields = \"...\", resolvable = false)"
                    .into(),
            });
        }
    }
    Ok(out)
}
