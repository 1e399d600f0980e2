//! Merging the type of a field, argument or input field: identical types, or compatible
//! subtypes (the more general type in output position, the more specific one in input
//! position), else `FIELD_TYPE_MISMATCH` / `FIELD_ARGUMENT_TYPE_MISMATCH`.

use apollo_compiler::ast::Type;

use super::Merger;
use super::human_readable::mismatch_description;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;
use crate::compose::supergraph_model::TypeKind;

/// Where a type reference sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Field of an object or interface.
    Output,
    /// Argument.
    Argument,
    /// Input object field.
    InputField,
}

impl Merger<'_> {
    /// Merges the types of an element; returns the merged type and whether all were equal.
    pub(super) fn merge_type_reference(
        &mut self,
        element: &str,
        position: Position,
        sources: &[(usize, &Type)],
    ) -> (Type, bool) {
        let is_input = position != Position::Output;
        let Some((_, first)) = sources.first() else {
            return (Type::Named(apollo_compiler::Name::new_unchecked("String")), true);
        };
        let mut merged: Type = (*first).clone();
        let mut has_subtypes = false;
        let mut incompatible = false;
        for (_, source) in &sources[1..] {
            if **source == merged {
                continue;
            }
            if self.is_strict_subtype(&merged, source) {
                has_subtypes = true;
                if is_input {
                    merged = (*source).clone();
                }
            } else if self.is_strict_subtype(source, &merged) {
                has_subtypes = true;
                if !is_input {
                    merged = (*source).clone();
                }
            } else {
                incompatible = true;
            }
        }
        self.track_enum_usage(&merged, element, is_input);
        if incompatible {
            let values: Vec<(String, String)> = sources
                .iter()
                .map(|(idx, ty)| (self.subgraphs[*idx].name.clone(), format!("type \"{ty}\"")))
                .collect();
            let (code, what) = if position == Position::Argument {
                (ErrorCode::FieldArgumentTypeMismatch, "argument")
            } else {
                (ErrorCode::FieldTypeMismatch, "field")
            };
            self.errors.push(CompositionError::new(
                code,
                format!(
                    "Type of {what} \"{element}\" is incompatible across subgraphs: it has {}",
                    mismatch_description(&values)
                ),
            ));
            return (merged, false);
        }
        if has_subtypes {
            let (code, what) = if position == Position::Argument {
                ("INCONSISTENT_BUT_COMPATIBLE_ARGUMENT_TYPE", "argument")
            } else {
                ("INCONSISTENT_BUT_COMPATIBLE_FIELD_TYPE", "field")
            };
            self.hint(
                code,
                format!(
                    "Type of {what} \"{element}\" is inconsistent but compatible across subgraphs: will use type \"{merged}\" in the supergraph"
                ),
            );
            return (merged, false);
        }
        (merged, true)
    }

    /// Whether `sub` is a strict subtype of `sup` (non-null of, list of subtypes, member
    /// of a union, implementation of an interface) in the merged schema.
    pub(super) fn is_strict_subtype(&self, sup: &Type, sub: &Type) -> bool {
        match (sup, sub) {
            (Type::NonNullNamed(_) | Type::NonNullList(_), Type::Named(_) | Type::List(_)) => false,
            (Type::Named(_) | Type::NonNullNamed(_), Type::List(_) | Type::NonNullList(_)) => false,
            (Type::List(_) | Type::NonNullList(_), Type::Named(_) | Type::NonNullNamed(_)) => false,
            (Type::Named(a), Type::Named(b)) | (Type::NonNullNamed(a), Type::NonNullNamed(b)) => {
                self.is_named_strict_subtype(a, b)
            }
            (Type::List(a), Type::List(b)) | (Type::NonNullList(a), Type::NonNullList(b)) => {
                self.is_strict_subtype(a, b)
            }
            (Type::Named(a), Type::NonNullNamed(b)) => a == b || self.is_named_strict_subtype(a, b),
            (Type::List(a), Type::NonNullList(b)) => a == b || self.is_strict_subtype(a, b),
        }
    }

    fn is_named_strict_subtype(&self, sup: &str, sub: &str) -> bool {
        let (Some(sup_type), Some(sub_type)) = (self.types.get(sup), self.types.get(sub)) else {
            return false;
        };
        match (sup_type.kind, sub_type.kind) {
            (TypeKind::Interface, TypeKind::Object | TypeKind::Interface) => {
                sub_type.implements.contains(sup)
            }
            (TypeKind::Union, TypeKind::Object) => sup_type.members.contains(sub),
            _ => false,
        }
    }

    fn track_enum_usage(&mut self, ty: &Type, element: &str, is_input: bool) {
        let name = ty.inner_named_type();
        if self.types.get(name).is_none_or(|t| t.kind != TypeKind::Enum) {
            return;
        }
        let usage = self.enum_usage.entry(name.clone()).or_default();
        let slot = if is_input {
            &mut usage.input_example
        } else {
            &mut usage.output_example
        };
        if slot.is_none() {
            *slot = Some(element.to_string());
        }
    }
}
