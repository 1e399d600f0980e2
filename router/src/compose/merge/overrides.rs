//! `@override(from:, label:)`: which subgraph keeps resolving a field, and the errors and
//! hints of misuse.

use std::collections::HashMap;

use apollo_compiler::Name;

use super::Merger;
use super::fields::FieldSources;
use crate::compose::error::CompositionError;
use crate::compose::error::ErrorCode;

/// Per-subgraph override facts for one field.
#[derive(Debug, Clone, Default)]
pub struct OverrideState {
    /// The field is overridden here but still used (key, `@requires`, interface, ...).
    pub used_overridden: bool,
    /// The field is overridden here and unused: this subgraph no longer resolves it.
    pub unused_overridden: bool,
    /// The field's `@override(from:)` names an unknown subgraph.
    pub unknown_target: bool,
    /// Progressive-override label.
    pub label: Option<String>,
}

/// Override facts of one field, by subgraph index.
#[derive(Debug, Clone, Default)]
pub struct FieldMergeContext {
    states: HashMap<usize, OverrideState>,
}

impl FieldMergeContext {
    /// The state of subgraph `idx`.
    pub fn get(&self, idx: usize) -> OverrideState {
        self.states.get(&idx).cloned().unwrap_or_default()
    }

    /// Whether any subgraph is used-overridden or has a label.
    pub fn any_used_or_labelled(&self) -> bool {
        self.states
            .values()
            .any(|s| s.used_overridden || s.label.is_some())
    }

    fn state(&mut self, idx: usize) -> &mut OverrideState {
        self.states.entry(idx).or_default()
    }
}

fn is_valid_label(label: &str) -> bool {
    if let Some(percent) = label
        .strip_prefix("percent(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return percent.parse::<f64>().is_ok_and(|p| (0.0..=100.0).contains(&p));
    }
    let mut chars = label.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_-:./".contains(c))
}

impl Merger<'_> {
    /// Validates the `@override`s of a field and computes its merge context.
    pub(super) fn validate_override(
        &mut self,
        type_name: &Name,
        field_name: &Name,
        sources: &FieldSources<'_>,
    ) -> FieldMergeContext {
        let mut context = FieldMergeContext::default();
        let coordinate = (type_name.clone(), field_name.clone());
        let dest = format!("{type_name}.{field_name}");
        let overriding: Vec<usize> = sources
            .iter()
            .filter(|(idx, f)| f.is_some() && self.subgraphs[*idx].meta.overrides.contains_key(&coordinate))
            .map(|(idx, _)| *idx)
            .collect();
        let overriding_names: Vec<&str> = overriding
            .iter()
            .map(|idx| self.subgraphs[*idx].name.as_str())
            .collect();
        for &idx in &overriding {
            let subgraph = &self.subgraphs[idx];
            let Some(directive) = subgraph.meta.overrides.get(&coordinate) else {
                continue;
            };
            let name = subgraph.name.clone();
            if subgraph.schema.get_interface(type_name).is_some() {
                self.errors.push(CompositionError::new(
                    ErrorCode::OverrideOnInterface,
                    format!("@override cannot be used on field \"{dest}\" on subgraph \"{name}\": @override is not supported on interface type fields."),
                ));
                continue;
            }
            if subgraph.is_interface_object(type_name) {
                self.errors.push(CompositionError::new(
                    ErrorCode::OverrideCollisionWithAnotherDirective,
                    format!("@override is not yet supported on fields of @interfaceObject types: cannot be used on field \"{dest}\" on subgraph \"{name}\"."),
                ));
                continue;
            }
            let from = directive.from.clone();
            let label = directive.label.clone();
            let Some(from_idx) = self.subgraph_index(&from) else {
                context.state(idx).unknown_target = true;
                self.hint(
                    "FROM_SUBGRAPH_DOES_NOT_EXIST",
                    format!("Source subgraph \"{from}\" for field \"{dest}\" on subgraph \"{name}\" does not exist."),
                );
                continue;
            };
            if from == name {
                self.errors.push(CompositionError::new(
                    ErrorCode::OverrideFromSelfError,
                    format!("Source and destination subgraphs \"{from}\" are the same for overridden field \"{dest}\" (in subgraph \"{name}\")"),
                ));
                continue;
            }
            if overriding_names.contains(&from.as_str()) {
                self.errors.push(CompositionError::new(
                    ErrorCode::OverrideSourceHasOverride,
                    format!("Field \"{dest}\" on subgraph \"{name}\" is also marked with directive @override in subgraph \"{from}\". Only one @override directive is allowed per field."),
                ));
                continue;
            }
            if !matches!(sources.iter().find(|(i, _)| *i == from_idx), Some((_, Some(_)))) {
                self.hint(
                    "OVERRIDE_DIRECTIVE_CAN_BE_REMOVED",
                    format!("Field \"{dest}\" on subgraph \"{name}\" no longer exists in the from subgraph. The @override directive can be removed."),
                );
                continue;
            }
            let from_meta = &self.subgraphs[from_idx].meta;
            let conflict = if from_meta.requires.contains_key(&coordinate) {
                Some(("@requires", from.as_str()))
            } else if from_meta.provides.contains_key(&coordinate) {
                Some(("@provides", from.as_str()))
            } else if subgraph.meta.is_external(&coordinate) {
                Some(("@external", name.as_str()))
            } else {
                None
            };
            if let Some((directive_name, in_subgraph)) = conflict {
                self.errors.push(CompositionError::new(
                    ErrorCode::OverrideCollisionWithAnotherDirective,
                    format!("@override cannot be used on field \"{dest}\" on subgraph \"{name}\" since \"{dest}\" on \"{in_subgraph}\" is marked with directive \"{directive_name}\""),
                ));
                continue;
            }
            let used = from_meta.is_used(&coordinate);
            if from_meta.is_external(&coordinate) {
                self.hint(
                    "OVERRIDE_DIRECTIVE_CAN_BE_REMOVED",
                    format!("Field \"{dest}\" on subgraph \"{name}\" is not resolved anymore by the from subgraph (it is marked \"@external\" in \"{from}\"). The @override directive can be removed."),
                );
            } else if used {
                context.state(from_idx).used_overridden = true;
                if label.is_none() {
                    self.hint(
                        "OVERRIDDEN_FIELD_CAN_BE_REMOVED",
                        format!("Field \"{dest}\" on subgraph \"{from}\" is overridden. It is still used in some federation directive(s) (@key, @requires, and/or @provides) and/or to satisfy interface constraint(s), but consider marking it @external explicitly or removing it along with its references."),
                    );
                }
            } else {
                context.state(from_idx).unused_overridden = true;
                if label.is_none() {
                    self.hint(
                        "OVERRIDDEN_FIELD_CAN_BE_REMOVED",
                        format!(
                            "Field \"{dest}\" on subgraph \"{from}\" is overridden. Consider removing it."
                        ),
                    );
                }
            }
            if let Some(label) = label {
                if is_valid_label(&label) {
                    context.state(idx).label = Some(label.clone());
                    context.state(from_idx).label = Some(label);
                } else {
                    self.errors.push(CompositionError::new(
                        ErrorCode::OverrideLabelInvalid,
                        format!("Invalid @override label \"{label}\" on field \"{dest}\" on subgraph \"{name}\": labels must start with a letter and after that may contain alphanumerics, underscores, minuses, colons, periods, or slashes. Alternatively, labels may be of the form \"percent(x)\" where x is a float between 0-100 inclusive."),
                    ));
                }
            }
        }
        context
    }
}
