//! Entity interfaces and `@interfaceObject`: key coverage of implementations, and fields
//! that `@interfaceObject`s add to every implementation.

use std::collections::BTreeSet;

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;

use super::Merger;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::supergraph_model::MergedField;
use crate::compose::supergraph_model::TypeKind;

impl Merger<'_> {
    /// Object types implementing `interface` in the supergraph.
    fn supergraph_implementations(&self, interface: &Name) -> BTreeSet<Name> {
        self.types
            .iter()
            .filter(|(_, t)| t.kind == TypeKind::Object && t.implements.contains(interface))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// A subgraph with a resolvable `@key` on an interface must define all its implementations.
    pub(super) fn validate_interface_keys(&mut self, interface: &Name) {
        let all = self.supergraph_implementations(interface);
        for subgraph in self.subgraphs {
            if subgraph.schema.get_interface(interface).is_none() {
                continue;
            }
            let Some(key) = subgraph
                .meta
                .keys
                .get(interface)
                .and_then(|keys| keys.iter().find(|k| k.is_resolvable()))
            else {
                continue;
            };
            let local: BTreeSet<Name> = subgraph
                .schema
                .types
                .values()
                .filter_map(|t| match t {
                    ExtendedType::Object(o)
                        if o.implements_interfaces.iter().any(|i| i.name == *interface) =>
                    {
                        Some(o.name.clone())
                    }
                    _ => None,
                })
                .collect();
            let missing: Vec<String> = all.difference(&local).map(|n| format!("\"{n}\"")).collect();
            if !missing.is_empty() {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::InterfaceKeyMissingImplementationType,
                    &subgraph.name,
                    format!(
                        "Interface type \"{interface}\" has a resolvable key (@key(fields: \"{}\")) in subgraph \"{}\" but that subgraph is missing some of the supergraph implementation types of \"{interface}\". Subgraph \"{}\" should define type(s) {} (and have {} implement \"{interface}\").",
                        key.fields,
                        subgraph.name,
                        subgraph.name,
                        missing.join(", "),
                        if missing.len() > 1 { "them" } else { "it" }
                    ),
                ));
            }
        }
    }

    /// A subgraph using `@interfaceObject` for an interface must not define its implementations.
    pub(super) fn validate_interface_objects(&mut self, interface: &Name) {
        let all = self.supergraph_implementations(interface);
        for subgraph in self.subgraphs {
            if !subgraph.is_interface_object(interface) {
                continue;
            }
            let defined: Vec<String> = all
                .iter()
                .filter(|n| subgraph.schema.types.contains_key(*n))
                .map(|n| format!("\"{n}\""))
                .collect();
            if !defined.is_empty() {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::InterfaceObjectUsageError,
                    &subgraph.name,
                    format!(
                        "Interface type \"{interface}\" is defined as an @interfaceObject in subgraph \"{}\" so that subgraph should not define any of the implementation types of \"{interface}\", but it defines {}",
                        subgraph.name,
                        defined.join(", ")
                    ),
                ));
            }
        }
    }

    fn is_provided_by_interface_object(&self, interface: &Name, field: &Name) -> bool {
        self.subgraphs.iter().any(|s| {
            s.is_interface_object(interface)
                && s.field(interface, field).is_some()
                && !s.meta.is_external(&(interface.clone(), field.clone()))
        })
    }

    /// Copies fields that `@interfaceObject`s add to an interface onto its implementations,
    /// with an argument-less `@join__field`.
    pub(super) fn add_interface_object_fields_to_implementations(&mut self) {
        let mut additions: Vec<(Name, Name, MergedField)> = Vec::new();
        for (type_name, ty) in &self.types {
            if ty.kind != TypeKind::Object {
                continue;
            }
            for interface in &ty.implements {
                let Some(itf) = self.types.get(interface) else {
                    continue;
                };
                for (field_name, field) in &itf.fields {
                    if ty.fields.contains_key(field_name)
                        || additions
                            .iter()
                            .any(|(t, f, _)| t == type_name && f == field_name)
                        || !self.is_provided_by_interface_object(interface, field_name)
                    {
                        continue;
                    }
                    let mut copy = field.clone();
                    copy.directives.retain(|d| !d.name.starts_with("join__"));
                    copy.directives.push(crate::compose::supergraph_model::directive(
                        "join__field",
                        Vec::new(),
                    ));
                    additions.push((type_name.clone(), field_name.clone(), copy));
                }
            }
        }
        for (type_name, field_name, field) in additions {
            let sources: Vec<(usize, Option<&apollo_compiler::schema::FieldDefinition>)> =
                (0..self.subgraphs.len()).map(|idx| (idx, None)).collect();
            self.validate_field_sharing(&type_name, &field_name, &sources, &Default::default());
            if let Some(ty) = self.types.get_mut(&type_name) {
                ty.fields.insert(field_name, field);
            }
        }
    }
}
