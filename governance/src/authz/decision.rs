//! Deciding, for one caller and one operation, which selections it may not make:
//! a walk over the operation (fragments followed) that checks each field and type
//! condition against the [`AccessRules`](super::AccessRules).

use std::collections::HashMap;
use std::collections::HashSet;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Name;
use apollo_compiler::executable;
use serde_json::Value;
use serde_json::json;

use super::rules::Alternatives;
use super::rules::Requirement;
use crate::Caller;
use crate::policy::PolicyEngine;
use crate::policy::PolicyInput;

/// The error code of a removed field or type condition.
pub const UNAUTHORIZED_CODE: &str = "UNAUTHORIZED_FIELD_OR_TYPE";

/// Which selections of an operation the caller may not make.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The response paths of the denied selections, in operation order (`@` stands
    /// for the positions of a list).
    pub denied_paths: Vec<Vec<String>>,
    /// Denied fields, as (parent type, field name).
    pub(crate) denied_fields: HashSet<(Name, Name)>,
    /// Denied type conditions.
    pub(crate) denied_types: HashSet<Name>,
    /// The `@pii` fields the caller reads (allowed ones), in operation order.
    pub pii_reads: Vec<PiiRead>,
    /// Denied paths of `@pii` text fields (`String`, `ID`) that the caller may
    /// select but not read: only the PII scope is missing. With redaction on,
    /// they answer a redacted value instead of `null` and an error.
    pub maskable_paths: Vec<Vec<String>>,
}

/// One `@pii` field an operation reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiRead {
    /// The field's parent type.
    pub type_name: String,
    /// The field.
    pub field: String,
    /// Its response path (`@` for list positions).
    pub path: Vec<String>,
}

impl Decision {
    /// Whether the caller may make every selection.
    pub fn allows_everything(&self) -> bool {
        self.denied_paths.is_empty()
    }

    /// The denied paths as `a.@.b` texts, sorted and without duplicates.
    pub fn paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = self.denied_paths.iter().map(|p| p.join(".")).collect();
        paths.sort();
        paths.dedup();
        paths
    }

    /// What identifies the filtered operation, for the plan cache key: the denied
    /// paths and the denied fields and type conditions (the same path may hold
    /// fields of different types, under different type conditions).
    pub fn plan_key(&self) -> Vec<String> {
        let mut key = self.paths();
        let mut removed: Vec<String> = self
            .denied_fields
            .iter()
            .map(|(parent, field)| format!("{parent}.{field}"))
            .chain(self.denied_types.iter().map(|name| format!("... on {name}")))
            .collect();
        removed.sort();
        key.append(&mut removed);
        key
    }

    /// One `UNAUTHORIZED_FIELD_OR_TYPE` error per denied path.
    pub fn errors(&self) -> Vec<Value> {
        self.errors_except(&[])
    }

    /// The errors of the denied selections, but for the paths in `except`.
    pub fn errors_except(&self, except: &[Vec<String>]) -> Vec<Value> {
        self.denied_paths
            .iter()
            .filter(|path| !except.contains(path))
            .map(|path| {
                json!({
                    "message": "Unauthorized field or type",
                    "path": path,
                    "extensions": { "code": UNAUTHORIZED_CODE },
                })
            })
            .collect()
    }
}

/// Whether a field's type holds one text value (`String` or `ID`, not a list).
fn is_text(ty: &apollo_compiler::ast::Type) -> bool {
    ty.is_named() && matches!(ty.inner_named_type().as_str(), "String" | "ID")
}

/// Walks an operation for one caller.
pub(super) struct DecisionWalk<'a> {
    pub(super) rules: &'a super::AccessRules,
    pub(super) policies: &'a PolicyEngine,
    pub(super) caller: &'a Caller,
    pub(super) document: &'a ExecutableDocument,
    /// Policy outcomes already evaluated in this request, by (policy, type, field).
    pub(super) policy_outcomes: HashMap<(String, String, Option<String>), bool>,
    pub(super) decision: Decision,
    /// Fragments being walked (a guard against spread cycles).
    pub(super) active_fragments: Vec<Name>,
}

impl<'a> DecisionWalk<'a> {
    pub(super) fn walk(&mut self, set: &'a executable::SelectionSet, path: &mut Vec<&'a str>) {
        let restricted = self.rules.fields_of(&set.ty);
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    let requirement = restricted.and_then(|fields| fields.get(&field.name));
                    path.push(field.response_key().as_str());
                    let allowed = requirement.is_none_or(|requirement| {
                        self.allows(
                            requirement,
                            &set.ty,
                            Some((&field.name, field.definition.ty.inner_named_type())),
                        )
                    });
                    if !allowed {
                        if let Some(requirement) = requirement
                            && requirement.pii
                            && is_text(&field.definition.ty)
                            && self.allows(
                                &self.rules.without_pii_scope(requirement),
                                &set.ty,
                                Some((&field.name, field.definition.ty.inner_named_type())),
                            )
                        {
                            self.decision.maskable_paths.push(owned(path));
                        }
                        self.deny_field(&set.ty, &field.name, path);
                    } else if requirement.is_some_and(|r| r.pii) {
                        self.decision.pii_reads.push(PiiRead {
                            type_name: set.ty.to_string(),
                            field: field.name.to_string(),
                            path: owned(path),
                        });
                    }
                    if allowed && !field.selection_set.selections.is_empty() {
                        let lists = list_depth(&field.definition.ty);
                        path.extend(std::iter::repeat_n("@", lists));
                        self.walk(&field.selection_set, path);
                        path.truncate(path.len() - lists);
                    }
                    path.pop();
                }
                executable::Selection::InlineFragment(fragment) => {
                    if self.type_condition_allowed(fragment.type_condition.as_ref(), &set.ty, path) {
                        self.walk(&fragment.selection_set, path);
                    }
                }
                executable::Selection::FragmentSpread(spread) => {
                    let Some(definition) = self.document.fragments.get(&spread.fragment_name) else {
                        continue;
                    };
                    if self.active_fragments.contains(&spread.fragment_name) {
                        continue;
                    }
                    if self.type_condition_allowed(Some(definition.type_condition()), &set.ty, path) {
                        self.active_fragments.push(spread.fragment_name.clone());
                        self.walk(&definition.selection_set, path);
                        self.active_fragments.pop();
                    }
                }
            }
        }
    }

    fn type_condition_allowed(&mut self, condition: Option<&Name>, parent: &Name, path: &[&str]) -> bool {
        let Some(condition) = condition.filter(|c| *c != parent) else {
            return true;
        };
        let Some(requirement) = self.rules.type_condition(condition) else {
            return true;
        };
        if self.allows(requirement, condition, None) {
            return true;
        }
        self.decision.denied_types.insert(condition.clone());
        self.decision.denied_paths.push(owned(path));
        false
    }

    fn deny_field(&mut self, parent: &Name, field: &Name, path: &[&str]) {
        self.decision
            .denied_fields
            .insert((parent.clone(), field.clone()));
        self.decision.denied_paths.push(owned(path));
    }

    /// Whether the caller meets `requirement` on `type_name` (for a field: its name
    /// and return type).
    fn allows(&mut self, requirement: &Requirement, type_name: &str, field: Option<(&str, &str)>) -> bool {
        if requirement.authenticated && !self.caller.is_authenticated() {
            return false;
        }
        let scopes = self.caller.scopes();
        if !requirement
            .scopes
            .iter()
            .all(|alternatives| any_group(alternatives, |scope| scopes.contains(scope)))
        {
            return false;
        }
        requirement.policies.iter().all(|alternatives| {
            any_group(alternatives, |policy| {
                let key = (
                    policy.to_string(),
                    type_name.to_string(),
                    field.map(|(name, _)| name.to_string()),
                );
                if let Some(outcome) = self.policy_outcomes.get(&key) {
                    return *outcome;
                }
                let outcome = self.policies.evaluate(
                    policy,
                    &PolicyInput {
                        caller: self.caller,
                        type_name,
                        field: field.map(|(name, _)| name),
                        return_type: field.map(|(_, returns)| returns),
                    },
                );
                self.policy_outcomes.insert(key, outcome);
                outcome
            })
        })
    }
}

/// A path as owned segments.
fn owned(path: &[&str]) -> Vec<String> {
    path.iter().map(|segment| segment.to_string()).collect()
}

/// Whether one group of the alternatives is met in full.
fn any_group(alternatives: &Alternatives, mut met: impl FnMut(&str) -> bool) -> bool {
    alternatives
        .iter()
        .any(|group| group.iter().all(|item| met(item)))
}

/// How many list levels a type has (`[[T]!]` has two).
fn list_depth(ty: &apollo_compiler::ast::Type) -> usize {
    match ty {
        apollo_compiler::ast::Type::List(inner) | apollo_compiler::ast::Type::NonNullList(inner) => {
            1 + list_depth(inner)
        }
        _ => 0,
    }
}
