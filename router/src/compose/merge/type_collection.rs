//! Which types the supergraph has, of which kind, with their `@join__type`,
//! `@join__implements` and descriptions; scalars.

use apollo_compiler::Name;
use apollo_compiler::schema::ExtendedType;
use indexmap::IndexMap;

use super::Merger;
use super::human_readable::subgraph_list;
use super::join_spec::join_implements;
use super::join_spec::join_type;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::subgraph::Subgraph;
use crate::compose::supergraph_model::MergedType;
use crate::compose::supergraph_model::TypeKind;

/// The kind a subgraph type contributes (an `@interfaceObject` counts as an interface).
pub fn kind_in_subgraph(subgraph: &Subgraph, name: &str, ty: &ExtendedType) -> TypeKind {
    match ty {
        ExtendedType::Scalar(_) => TypeKind::Scalar,
        ExtendedType::Object(_) if subgraph.is_interface_object(name) => TypeKind::Interface,
        ExtendedType::Object(_) => TypeKind::Object,
        ExtendedType::Interface(_) => TypeKind::Interface,
        ExtendedType::Union(_) => TypeKind::Union,
        ExtendedType::Enum(_) => TypeKind::Enum,
        ExtendedType::InputObject(_) => TypeKind::InputObject,
    }
}

/// Whether a subgraph type is merged into the supergraph (not built-in, not a spec type).
pub fn is_merged_type(subgraph: &Subgraph, name: &str, ty: &ExtendedType) -> bool {
    !ty.is_built_in()
        && !subgraph.names.is_spec_type(name)
        && !subgraph
            .other_links
            .iter()
            .any(|link| name.starts_with(&format!("{}__", link.prefix())))
}

impl Merger<'_> {
    /// Fills `self.types` with one empty type per merged type name; reports kind mismatches.
    pub(super) fn collect_types(&mut self) {
        let mut kinds: IndexMap<Name, Vec<(usize, TypeKind)>> = IndexMap::new();
        for (idx, subgraph) in self.subgraphs.iter().enumerate() {
            for (name, ty) in &subgraph.schema.types {
                if is_merged_type(subgraph, name, ty) {
                    kinds
                        .entry(name.clone())
                        .or_default()
                        .push((idx, kind_in_subgraph(subgraph, name, ty)));
                }
            }
        }
        for (name, occurrences) in kinds {
            let first = occurrences[0].1;
            if occurrences.iter().any(|(_, kind)| *kind != first) {
                let mut by_kind: Vec<(TypeKind, Vec<&str>)> = Vec::new();
                for (idx, kind) in &occurrences {
                    let subgraph = self.subgraphs[*idx].name.as_str();
                    match by_kind.iter_mut().find(|(k, _)| k == kind) {
                        Some((_, list)) => list.push(subgraph),
                        None => by_kind.push((*kind, vec![subgraph])),
                    }
                }
                let description = by_kind
                    .iter()
                    .map(|(kind, subgraphs)| {
                        format!("{} in {}", kind.display_name(), subgraph_list(subgraphs))
                    })
                    .collect::<Vec<_>>()
                    .join(" but ");
                self.errors.push(CompositionError::new(
                    ErrorCode::TypeKindMismatch,
                    format!("Type \"{name}\" has mismatched kind: it is defined as {description}"),
                ));
                continue;
            }
            if first == TypeKind::Interface {
                self.check_interface_object_has_interface(&name, &occurrences);
            }
            if first == TypeKind::Object {
                self.check_extension_has_base(&name, &occurrences);
            }
            let mut merged = MergedType::new(first);
            merged.directives = self.join_types(&name);
            self.types.insert(name, merged);
        }
    }

    fn check_interface_object_has_interface(&mut self, name: &Name, occurrences: &[(usize, TypeKind)]) {
        let defined_as_interface = occurrences
            .iter()
            .any(|(idx, _)| !self.subgraphs[*idx].is_interface_object(name));
        if !defined_as_interface {
            let subgraphs: Vec<&str> = occurrences
                .iter()
                .map(|(idx, _)| self.subgraphs[*idx].name.as_str())
                .collect();
            self.errors.push(CompositionError::new(
                ErrorCode::InterfaceObjectUsageError,
                format!(
                    "Type \"{name}\" is declared with @interfaceObject in all the subgraphs in which it is defined (it is defined in {} but should be defined as an interface in at least one subgraph)",
                    subgraph_list(&subgraphs)
                ),
            ));
        }
    }

    /// An object type only ever defined by `extend type` (outside root types) is an error.
    fn check_extension_has_base(&mut self, name: &Name, occurrences: &[(usize, TypeKind)]) {
        if ["Query", "Mutation", "Subscription"].contains(&name.as_str()) {
            return;
        }
        let only_extensions = occurrences
            .iter()
            .all(|(idx, _)| self.subgraphs[*idx].orphan_extensions.contains(name));
        if only_extensions {
            for (idx, _) in occurrences {
                self.errors.push(CompositionError::in_subgraph(
                    ErrorCode::ExtensionWithNoBase,
                    &self.subgraphs[*idx].name,
                    format!(
                        "Type \"{name}\" is an extension type, but there is no type definition for \"{name}\" in any subgraph."
                    ),
                ));
            }
        }
    }

    /// Names of the subgraphs defining `name`.
    pub(super) fn subgraphs_defining(&self, name: &Name) -> Vec<&str> {
        self.subgraphs
            .iter()
            .filter(|s| s.schema.types.contains_key(name))
            .map(|s| s.name.as_str())
            .collect()
    }

    /// One `@join__type` per key (or one without key) for each subgraph defining the type.
    fn join_types(&self, name: &Name) -> Vec<apollo_compiler::ast::Directive> {
        let mut directives = Vec::new();
        for (idx, subgraph) in self.subgraphs.iter().enumerate() {
            if !subgraph.schema.types.contains_key(name) {
                continue;
            }
            let graph = &self.graphs[idx];
            let is_interface_object = subgraph.is_interface_object(name);
            match subgraph.meta.keys.get(name) {
                Some(keys) if !keys.is_empty() => {
                    for key in keys {
                        directives.push(join_type(
                            graph,
                            Some(&key.fields),
                            subgraph.is_extension(name, key),
                            key.resolvable,
                            is_interface_object,
                        ));
                    }
                }
                _ => directives.push(join_type(graph, None, false, None, is_interface_object)),
            }
        }
        directives
    }

    /// Unions the interfaces implemented in each subgraph; adds `@join__implements`.
    pub(super) fn merge_implements(&mut self) {
        let names: Vec<Name> = self
            .types
            .iter()
            .filter(|(_, t)| matches!(t.kind, TypeKind::Object | TypeKind::Interface))
            .map(|(n, _)| n.clone())
            .collect();
        for name in names {
            let mut implements = Vec::new();
            let mut directives = Vec::new();
            for (idx, subgraph) in self.subgraphs.iter().enumerate() {
                let interfaces = match subgraph.schema.types.get(&name) {
                    Some(ExtendedType::Object(o)) => &o.implements_interfaces,
                    Some(ExtendedType::Interface(i)) => &i.implements_interfaces,
                    _ => continue,
                };
                for interface in interfaces {
                    directives.push(join_implements(&self.graphs[idx], &interface.name));
                    implements.push(interface.name.clone());
                }
            }
            if let Some(ty) = self.types.get_mut(&name) {
                ty.implements.extend(implements);
                let join_types = std::mem::take(&mut ty.directives);
                ty.directives = directives;
                ty.directives.extend(join_types);
            }
        }
    }

    /// Merges description and applied directives of a type from every subgraph defining it.
    pub(super) fn merge_type_metadata(&mut self, name: &Name) {
        let sources: Vec<(usize, &ExtendedType)> = self
            .subgraphs
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| Some((idx, s.schema.types.get(name)?)))
            .collect();
        let description = self.merge_description(
            &format!("type \"{name}\""),
            sources
                .iter()
                .map(|(idx, ty)| (*idx, ty.description().map(|d| d.as_str()))),
        );
        let applied = self.directives.merge(
            sources
                .iter()
                .map(|(idx, ty)| (*idx, ty.directives().iter().map(|d| &***d).collect())),
        );
        if let Some(ty) = self.types.get_mut(name) {
            ty.description = description;
            ty.directives.extend(applied);
        }
    }

    /// Scalars: description and directives only.
    pub(super) fn merge_scalar(&mut self, name: &Name) {
        self.merge_type_metadata(name);
    }

    /// The most common non-empty description; a hint when subgraphs disagree.
    pub(super) fn merge_description<'d>(
        &mut self,
        element: &str,
        sources: impl Iterator<Item = (usize, Option<&'d str>)>,
    ) -> Option<String> {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for (_, description) in sources {
            let Some(description) = description.filter(|d| !d.trim().is_empty()) else {
                continue;
            };
            match counts.iter_mut().find(|(d, _)| *d == description) {
                Some((_, n)) => *n += 1,
                None => counts.push((description, 1)),
            }
        }
        let best = counts
            .iter()
            .fold(None::<(&str, usize)>, |best, &(d, n)| match best {
                Some((_, m)) if m >= n => best,
                _ => Some((d, n)),
            })
            .map(|(d, _)| d.to_string());
        if counts.len() > 1 {
            self.hint(
                "INCONSISTENT_DESCRIPTION",
                format!("Element {element} has inconsistent descriptions across subgraphs."),
            );
        }
        best
    }
}
