//! Reading Federation 1 subgraphs (no `@link`) with Federation 2 semantics, like Apollo's
//! schema upgrader: key fields of type extensions are not external, unused externals and
//! inactive `@requires`/`@provides` disappear, fields resolved elsewhere become shareable.

use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use super::Subgraph;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::field_set::FieldCoordinate;
use crate::compose::field_set::parse_field_set;
use crate::compose::field_set::selected_fields;

/// Changes to apply to one Federation 1 subgraph.
#[derive(Default)]
pub struct UpgradePlan {
    not_external: HashSet<FieldCoordinate>,
    inactive_requires: Vec<FieldCoordinate>,
    inactive_provides: Vec<FieldCoordinate>,
    federation_type_extensions: HashSet<Name>,
    interface_keys: Vec<Name>,
    unused_external_fields: Vec<FieldCoordinate>,
    removed_types: Vec<Name>,
    shareable_fields: HashSet<FieldCoordinate>,
    errors: Vec<CompositionError>,
}

/// Plans the upgrade of `all[index]`, looking at the other subgraphs as they were parsed.
pub fn plan_upgrade(all: &[Subgraph], index: usize) -> UpgradePlan {
    let subgraph = &all[index];
    let schema = &subgraph.schema;
    let meta = &subgraph.meta;
    let mut plan = UpgradePlan::default();

    for (type_name, ty) in &schema.types {
        if let ExtendedType::Interface(itf) = ty {
            for field_name in itf.fields.keys() {
                plan.not_external.insert((type_name.clone(), field_name.clone()));
            }
            if meta.keys.contains_key(type_name) {
                plan.interface_keys.push(type_name.clone());
            }
        }
    }

    for (type_name, ty) in &schema.types {
        if !(ty.is_object() || ty.is_interface()) {
            continue;
        }
        let is_federation_extension =
            meta.extends_types.contains(type_name) || subgraph.orphan_extensions.contains(type_name);
        if !is_federation_extension {
            continue;
        }
        plan.federation_type_extensions.insert(type_name.clone());
        let key_field_sets: Vec<String> = match meta.keys.get(type_name) {
            Some(keys) => keys.iter().map(|k| k.fields.clone()).collect(),
            None => all
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != index)
                .filter_map(|(_, other)| other.meta.keys.get(type_name)?.first())
                .map(|k| k.fields.clone())
                .collect(),
        };
        for fields in key_field_sets {
            if let Ok(field_set) = parse_field_set(schema, type_name, &fields) {
                plan.not_external.extend(
                    selected_fields(&field_set.selection_set)
                        .into_iter()
                        .filter(|(parent, _)| parent == type_name),
                );
            }
        }
    }

    let not_external = plan.not_external.clone();
    let is_external = |f: &FieldCoordinate| meta.is_external(f) && !not_external.contains(f);
    for (coordinate, fields) in &meta.requires {
        if !selects_external(schema, &coordinate.0, fields, &is_external) {
            plan.inactive_requires.push(coordinate.clone());
        }
    }
    for (coordinate, fields) in &meta.provides {
        let target = schema
            .type_field(&coordinate.0, &coordinate.1)
            .ok()
            .map(|f| f.ty.inner_named_type().clone());
        let active = target.is_some_and(|target| {
            schema.types.get(&target).is_some_and(|t| {
                matches!(
                    t,
                    ExtendedType::Object(_) | ExtendedType::Interface(_) | ExtendedType::Union(_)
                )
            }) && selects_external(schema, &target, fields, &is_external)
        });
        if !active || schema.get_interface(&coordinate.0).is_some() {
            plan.inactive_provides.push(coordinate.clone());
        }
    }

    plan_unused_externals(subgraph, &is_external, &mut plan);
    plan_shareable(all, index, &mut plan);
    plan
}

fn selects_external(
    schema: &Valid<apollo_compiler::Schema>,
    type_name: &Name,
    fields: &str,
    is_external: &impl Fn(&FieldCoordinate) -> bool,
) -> bool {
    parse_field_set(schema, type_name, fields)
        .is_ok_and(|field_set| selected_fields(&field_set.selection_set).iter().any(is_external))
}

fn plan_unused_externals(
    subgraph: &Subgraph,
    is_external: &impl Fn(&FieldCoordinate) -> bool,
    plan: &mut UpgradePlan,
) {
    let schema = &subgraph.schema;
    for (type_name, ty) in &schema.types {
        let ExtendedType::Object(obj) = ty else {
            continue;
        };
        let mut kept = 0;
        for field_name in obj.fields.keys() {
            let coordinate = (type_name.clone(), field_name.clone());
            if is_external(&coordinate) && !subgraph.meta.is_used(&coordinate) {
                plan.unused_external_fields.push(coordinate);
            } else {
                kept += 1;
            }
        }
        if kept == 0 && !obj.fields.is_empty() {
            if is_referenced(schema, type_name) {
                plan.errors.push(CompositionError::in_subgraph(
                    ErrorCode::TypeWithOnlyUnusedExternal,
                    &subgraph.name,
                    format!(
                        "Type \"{type_name}\" only has unused @external fields (in this Federation 1 subgraph), so it cannot be upgraded to Federation 2"
                    ),
                ));
            } else {
                plan.removed_types.push(type_name.clone());
            }
        }
    }
}

fn is_referenced(schema: &Valid<apollo_compiler::Schema>, type_name: &Name) -> bool {
    schema.types.values().any(|ty| match ty {
        ExtendedType::Object(o) => o.fields.values().any(|f| f.ty.inner_named_type() == type_name),
        ExtendedType::Interface(i) => i.fields.values().any(|f| f.ty.inner_named_type() == type_name),
        ExtendedType::Union(u) => u.members.iter().any(|m| &m.name == type_name),
        _ => false,
    })
}

fn plan_shareable(all: &[Subgraph], index: usize, plan: &mut UpgradePlan) {
    let subgraph = &all[index];
    let schema = &subgraph.schema;
    for (type_name, ty) in &schema.types {
        let ExtendedType::Object(obj) = ty else {
            continue;
        };
        if type_name == "Subscription" {
            continue;
        }
        let is_root = ["Query", "Mutation"].contains(&type_name.as_str());
        let is_entity = subgraph.meta.keys.contains_key(type_name);
        let others = || {
            all.iter()
                .enumerate()
                .filter(move |(i, _)| *i != index)
                .map(|(_, s)| s)
        };
        if is_entity || is_root {
            for field_name in obj.fields.keys() {
                let coordinate = (type_name.clone(), field_name.clone());
                if subgraph.meta.is_shareable(&coordinate) {
                    continue;
                }
                let resolved_elsewhere = others().any(|other| {
                    other.schema.type_field(type_name, field_name).is_ok()
                        && (!other.meta.is_external(&coordinate)
                            || other.meta.provided_fields.contains(&coordinate))
                });
                if resolved_elsewhere {
                    plan.shareable_fields.insert(coordinate);
                }
            }
        } else if others().any(|other| {
            other
                .schema
                .types
                .get(type_name)
                .is_some_and(|t| t.is_object() || t.is_interface())
        }) {
            plan.shareable_fields.extend(
                obj.fields
                    .keys()
                    .map(|field_name| (type_name.clone(), field_name.clone())),
            );
        }
    }
}

/// Applies a plan; returns the errors the upgrade found.
pub fn apply_upgrade(subgraph: &mut Subgraph, plan: UpgradePlan) -> Vec<CompositionError> {
    let meta = &mut subgraph.meta;
    meta.external_fields.retain(|f| !plan.not_external.contains(f));
    for coordinate in &plan.inactive_requires {
        meta.requires.remove(coordinate);
    }
    for coordinate in &plan.inactive_provides {
        meta.provides.remove(coordinate);
    }
    for type_name in &plan.interface_keys {
        meta.keys.remove(type_name);
    }
    for type_name in &plan.federation_type_extensions {
        subgraph.orphan_extensions.remove(type_name);
        if let Some(keys) = meta.keys.get_mut(type_name) {
            for key in keys {
                key.in_extension_block = false;
            }
        }
    }
    meta.shareable_fields.extend(plan.shareable_fields);
    if !plan.unused_external_fields.is_empty() || !plan.removed_types.is_empty() {
        let mut schema = std::mem::replace(
            &mut subgraph.schema,
            Valid::assume_valid(apollo_compiler::Schema::new()),
        )
        .into_inner();
        for (type_name, field_name) in &plan.unused_external_fields {
            meta.external_fields
                .remove(&(type_name.clone(), field_name.clone()));
            if let Some(ExtendedType::Object(obj)) = schema.types.get_mut(type_name) {
                obj.make_mut().fields.shift_remove(field_name);
            }
        }
        for type_name in &plan.removed_types {
            schema.types.shift_remove(type_name);
        }
        subgraph.schema = Valid::assume_valid(schema);
    }
    plan.errors
}
