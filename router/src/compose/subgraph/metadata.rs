//! The federation view of one subgraph: keys, `@requires`/`@provides`/`@override`, which
//! fields are external, shareable or used, and which types are `@interfaceObject`s.

use std::collections::HashMap;
use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast::DirectiveList;
use apollo_compiler::schema::ComponentOrigin;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use crate::compose::federation_spec::FedDirective;
use crate::compose::federation_spec::FederationNames;
use crate::compose::field_set::FieldCoordinate;
use crate::compose::field_set::parse_field_set;
use crate::compose::field_set::selected_fields;

/// One `@key` application.
#[derive(Debug, Clone)]
pub struct KeyDirective {
    /// The `fields` argument, verbatim.
    pub fields: String,
    /// The `resolvable` argument, when given explicitly.
    pub resolvable: Option<bool>,
    /// Whether the `@key` sits on an `extend type` block.
    pub in_extension_block: bool,
}

impl KeyDirective {
    /// Whether the key can be used to fetch the entity from this subgraph.
    pub fn is_resolvable(&self) -> bool {
        self.resolvable.unwrap_or(true)
    }
}

/// One `@override` application.
#[derive(Debug, Clone)]
pub struct OverrideDirective {
    /// The subgraph the field is taken from.
    pub from: String,
    /// The progressive-override label, if any.
    pub label: Option<String>,
}

/// Federation facts about one subgraph schema.
#[derive(Debug, Clone, Default)]
pub struct SubgraphMetadata {
    /// `@key`s per object or interface type.
    pub keys: HashMap<Name, Vec<KeyDirective>>,
    /// `@requires(fields:)` per field.
    pub requires: HashMap<FieldCoordinate, String>,
    /// `@provides(fields:)` per field.
    pub provides: HashMap<FieldCoordinate, String>,
    /// `@override` per field.
    pub overrides: HashMap<FieldCoordinate, OverrideDirective>,
    /// Fields that are effectively external.
    pub external_fields: HashSet<FieldCoordinate>,
    /// Fields marked `@external` that are not external because they are keys of an extension.
    pub fake_external_fields: HashSet<FieldCoordinate>,
    /// Fields selected by a `@key`.
    pub key_fields: HashSet<FieldCoordinate>,
    /// Fields selected by a `@provides`.
    pub provided_fields: HashSet<FieldCoordinate>,
    /// Fields selected by a `@requires`.
    pub required_fields: HashSet<FieldCoordinate>,
    /// Fields marked `@shareable` (directly or through their type).
    pub shareable_fields: HashSet<FieldCoordinate>,
    /// Object fields implementing a field of an interface of this subgraph.
    pub interface_constraint_fields: HashSet<FieldCoordinate>,
    /// Object types marked `@interfaceObject`.
    pub interface_object_types: HashSet<Name>,
    /// Types marked `@extends`.
    pub extends_types: HashSet<Name>,
}

impl SubgraphMetadata {
    /// Whether the field is external in this subgraph.
    pub fn is_external(&self, field: &FieldCoordinate) -> bool {
        self.external_fields.contains(field)
    }

    /// Whether the field is external and never provided.
    pub fn is_fully_external(&self, field: &FieldCoordinate) -> bool {
        self.is_external(field) && !self.provided_fields.contains(field)
    }

    /// Whether the field may also be resolved by other subgraphs.
    pub fn is_shareable(&self, field: &FieldCoordinate) -> bool {
        self.key_fields.contains(field)
            || self.shareable_fields.contains(field)
            || (self.provided_fields.contains(field) && self.is_external(field))
    }

    /// Whether a federation directive or an interface needs the field.
    pub fn is_used(&self, field: &FieldCoordinate) -> bool {
        self.key_fields.contains(field)
            || self.provided_fields.contains(field)
            || self.required_fields.contains(field)
            || self.interface_constraint_fields.contains(field)
    }

    /// Computes the metadata of a parsed subgraph schema.
    pub fn compute(schema: &Valid<Schema>, names: &FederationNames) -> Self {
        let mut meta = SubgraphMetadata::default();
        let name_of = |d: FedDirective| names.name(d).map(|n| n.as_str()).unwrap_or("");
        let mut raw_external = HashSet::new();
        let mut external_types_fields = HashSet::new();
        for (type_name, ty) in &schema.types {
            let (directives, fields) = match ty {
                ExtendedType::Object(obj) => (&obj.directives, &obj.fields),
                ExtendedType::Interface(itf) => (&itf.directives, &itf.fields),
                _ => continue,
            };
            let has = |d: FedDirective| directives.get(name_of(d)).is_some();
            let is_object = ty.is_object();
            let type_is_external = is_object && names.is_fed2() && has(FedDirective::External);
            let type_is_shareable = is_object && has(FedDirective::Shareable);
            if has(FedDirective::Extends) {
                meta.extends_types.insert(type_name.clone());
            }
            if is_object && has(FedDirective::InterfaceObject) {
                meta.interface_object_types.insert(type_name.clone());
            }
            let keys: Vec<KeyDirective> = directives
                .get_all(name_of(FedDirective::Key))
                .filter_map(|key| {
                    Some(KeyDirective {
                        fields: key.specified_argument_by_name("fields")?.as_str()?.to_string(),
                        resolvable: key
                            .specified_argument_by_name("resolvable")
                            .and_then(|v| v.to_bool()),
                        in_extension_block: matches!(key.origin, ComponentOrigin::Extension(_)),
                    })
                })
                .collect();
            if !keys.is_empty() {
                meta.keys.insert(type_name.clone(), keys);
            }
            for (field_name, field) in fields {
                let coordinate = (type_name.clone(), field_name.clone());
                let field_has = |d: FedDirective| field.directives.get(name_of(d)).is_some();
                if field_has(FedDirective::External) {
                    raw_external.insert(coordinate.clone());
                }
                if type_is_external {
                    external_types_fields.insert(coordinate.clone());
                }
                if type_is_shareable || (is_object && field_has(FedDirective::Shareable)) {
                    meta.shareable_fields.insert(coordinate.clone());
                }
                if let Some(fields) = field_set_argument(&field.directives, name_of(FedDirective::Requires)) {
                    meta.requires.insert(coordinate.clone(), fields);
                }
                if let Some(fields) = field_set_argument(&field.directives, name_of(FedDirective::Provides)) {
                    meta.provides.insert(coordinate.clone(), fields);
                }
                if let Some(directive) = field.directives.get(name_of(FedDirective::Override)) {
                    let argument = |name: &str| {
                        directive
                            .specified_argument_by_name(name)
                            .and_then(|v| v.as_str())
                            .map(str::to_string)
                    };
                    if let Some(from) = argument("from") {
                        let label = argument("label");
                        meta.overrides
                            .insert(coordinate.clone(), OverrideDirective { from, label });
                    }
                }
            }
        }
        meta.collect_field_set_usages(schema);
        meta.collect_interface_constraints(schema);
        let mut fake = HashSet::new();
        for (type_name, keys) in &meta.keys {
            let extends = meta.extends_types.contains(type_name);
            for key in keys.iter().filter(|k| extends || k.in_extension_block) {
                if let Ok(field_set) = parse_field_set(schema, type_name, &key.fields) {
                    fake.extend(
                        selected_fields(&field_set.selection_set)
                            .into_iter()
                            .filter(|f| raw_external.contains(f)),
                    );
                }
            }
        }
        meta.external_fields = raw_external
            .union(&external_types_fields)
            .filter(|f| !fake.contains(*f))
            .cloned()
            .collect();
        meta.fake_external_fields = fake;
        meta
    }

    /// Recomputes the fields selected by keys, `@requires` and `@provides`.
    pub fn collect_field_set_usages(&mut self, schema: &Valid<Schema>) {
        self.key_fields.clear();
        self.required_fields.clear();
        self.provided_fields.clear();
        for (type_name, keys) in &self.keys {
            for key in keys {
                if let Ok(field_set) = parse_field_set(schema, type_name, &key.fields) {
                    self.key_fields.extend(selected_fields(&field_set.selection_set));
                }
            }
        }
        for ((type_name, _), fields) in &self.requires {
            if let Ok(field_set) = parse_field_set(schema, type_name, fields) {
                self.required_fields
                    .extend(selected_fields(&field_set.selection_set));
            }
        }
        for ((type_name, field_name), fields) in &self.provides {
            let Some(target) = schema
                .type_field(type_name, field_name)
                .ok()
                .map(|f| f.ty.inner_named_type().clone())
            else {
                continue;
            };
            if let Ok(field_set) = parse_field_set(schema, &target, fields) {
                self.provided_fields
                    .extend(selected_fields(&field_set.selection_set));
            }
        }
    }

    fn collect_interface_constraints(&mut self, schema: &Valid<Schema>) {
        for ty in schema.types.values() {
            let ExtendedType::Object(obj) = ty else {
                continue;
            };
            for itf_name in &obj.implements_interfaces {
                if let Some(ExtendedType::Interface(itf)) = schema.types.get(&itf_name.name) {
                    for field_name in itf.fields.keys() {
                        self.interface_constraint_fields
                            .insert((obj.name.clone(), field_name.clone()));
                    }
                }
            }
        }
    }
}

/// The string `fields` argument of the directive named `name`, if applied.
pub fn field_set_argument(directives: &DirectiveList, name: &str) -> Option<String> {
    directives
        .get(name)?
        .specified_argument_by_name("fields")?
        .as_str()
        .map(str::to_string)
}
