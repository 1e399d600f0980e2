//! Turning a validated client operation into a normalized [`Operation`]: fragments
//! inlined, `@skip`/`@include` applied with the request's variables, fields merged.

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;
use apollo_compiler::executable;
use serde_json::Value;

use super::defer::DeferCollector;
use super::selection::Field;
use super::selection::SelectionSet;
use crate::supergraph::Supergraph;

/// A client operation ready for planning.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Operation {
    /// Query, mutation or subscription.
    pub kind: ast::OperationType,
    /// The operation name, when it has one.
    pub name: Option<Name>,
    /// The root type (`Query`, ...).
    pub root_type: Name,
    /// The variable definitions, for subgraph operations that use the variables.
    pub variables: Vec<Node<ast::VariableDefinition>>,
    /// The normalized selections.
    pub selection_set: SelectionSet,
}

/// Why an operation cannot be normalized.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OperationError {
    /// The schema has no root type for this kind of operation.
    #[error("the schema does not support {0} operations")]
    UnsupportedKind(ast::OperationType),
}

/// Normalizes one operation of a validated document.
pub fn normalize(
    supergraph: &Supergraph,
    document: &ExecutableDocument,
    operation: &executable::Operation,
    variables: &serde_json::Map<String, Value>,
) -> Result<Operation, OperationError> {
    let Some(root_type) = supergraph.root_type(operation.operation_type).cloned() else {
        return Err(OperationError::UnsupportedKind(operation.operation_type));
    };
    let normalizer = Normalizer {
        supergraph,
        document,
        variables,
        defer: None,
    };
    let mut selection_set = SelectionSet::default();
    normalizer.add_selections(&root_type, &operation.selection_set, &mut selection_set);
    Ok(Operation {
        kind: operation.operation_type,
        name: operation.name.clone(),
        root_type,
        variables: operation.variables.clone(),
        selection_set,
    })
}

/// The variables whose values change the plan: those used by `@skip`, `@include`
/// and `@defer`.
pub fn plan_affecting_variables(document: &ExecutableDocument) -> Vec<Name> {
    let mut names = Vec::new();
    let mut visit = |directives: &executable::DirectiveList| {
        for directive in directives.iter() {
            if matches!(directive.name.as_str(), "skip" | "include" | "defer")
                && let Some(value) = directive.specified_argument_by_name("if")
                && let ast::Value::Variable(name) = value.as_ref()
                && !names.contains(name)
            {
                names.push(name.clone());
            }
        }
    };
    fn walk(set: &executable::SelectionSet, visit: &mut dyn FnMut(&executable::DirectiveList)) {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    visit(&field.directives);
                    walk(&field.selection_set, visit);
                }
                executable::Selection::InlineFragment(fragment) => {
                    visit(&fragment.directives);
                    walk(&fragment.selection_set, visit);
                }
                executable::Selection::FragmentSpread(spread) => visit(&spread.directives),
            }
        }
    }
    for operation in document.operations.iter() {
        walk(&operation.selection_set, &mut visit);
    }
    for fragment in document.fragments.values() {
        walk(&fragment.selection_set, &mut visit);
    }
    names
}

pub(super) struct Normalizer<'a> {
    pub(super) supergraph: &'a Supergraph,
    pub(super) document: &'a ExecutableDocument,
    pub(super) variables: &'a serde_json::Map<String, Value>,
    /// Collects `@defer` fragments instead of inlining them (incremental delivery).
    pub(super) defer: Option<&'a DeferCollector>,
}

impl Normalizer<'_> {
    /// The label of a `@defer` that applies (`Some(None)` without a label).
    fn deferred(&self, directives: &executable::DirectiveList) -> Option<Option<String>> {
        let directive = directives.get("defer")?;
        let enabled = match directive.specified_argument_by_name("if").map(|v| v.as_ref()) {
            Some(ast::Value::Boolean(b)) => *b,
            Some(ast::Value::Variable(variable)) => self
                .variables
                .get(variable.as_str())
                .and_then(Value::as_bool)
                .unwrap_or(true),
            _ => true,
        };
        enabled.then(|| {
            directive
                .specified_argument_by_name("label")
                .and_then(|v| v.as_str())
                .map(str::to_string)
        })
    }

    /// Whether `@skip`/`@include` keep a selection.
    fn included(&self, directives: &executable::DirectiveList) -> bool {
        let condition = |name: &str| {
            directives
                .get(name)
                .and_then(|d| d.specified_argument_by_name("if"))
                .map(|value| match value.as_ref() {
                    ast::Value::Boolean(b) => *b,
                    ast::Value::Variable(variable) => self
                        .variables
                        .get(variable.as_str())
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                    _ => false,
                })
        };
        condition("skip") != Some(true) && condition("include") != Some(false)
    }

    pub(super) fn add_selections(
        &self,
        parent: &Name,
        set: &executable::SelectionSet,
        out: &mut SelectionSet,
    ) {
        for selection in &set.selections {
            match selection {
                executable::Selection::Field(field) => {
                    if !self.included(&field.directives) {
                        continue;
                    }
                    let mut sub = SelectionSet::default();
                    let field_type = field.definition.ty.inner_named_type();
                    let depth = self
                        .defer
                        .map(|collector| collector.enter_field(field.response_key(), &field.definition.ty));
                    self.add_selections(field_type, &field.selection_set, &mut sub);
                    if let (Some(collector), Some(depth)) = (self.defer, depth) {
                        collector.leave(depth);
                    }
                    out.add_field(Field {
                        alias: field.alias.clone(),
                        name: field.name.clone(),
                        arguments: field.arguments.clone(),
                        selection_set: sub,
                    });
                }
                executable::Selection::InlineFragment(fragment) => {
                    if !self.included(&fragment.directives) {
                        continue;
                    }
                    if let Some(collector) = self.defer
                        && let Some(label) = self.deferred(&fragment.directives)
                        && collector.defer(
                            self,
                            parent,
                            fragment.type_condition.as_ref(),
                            &fragment.selection_set,
                            label,
                            out,
                        )
                    {
                        continue;
                    }
                    self.add_fragment(
                        parent,
                        fragment.type_condition.as_ref(),
                        &fragment.selection_set,
                        out,
                    );
                }
                executable::Selection::FragmentSpread(spread) => {
                    if !self.included(&spread.directives) {
                        continue;
                    }
                    if let Some(definition) = self.document.fragments.get(&spread.fragment_name) {
                        if let Some(collector) = self.defer
                            && let Some(label) = self.deferred(&spread.directives)
                            && collector.defer(
                                self,
                                parent,
                                Some(definition.type_condition()),
                                &definition.selection_set,
                                label,
                                out,
                            )
                        {
                            continue;
                        }
                        self.add_fragment(
                            parent,
                            Some(definition.type_condition()),
                            &definition.selection_set,
                            out,
                        );
                    }
                }
            }
        }
    }

    fn add_fragment(
        &self,
        parent: &Name,
        condition: Option<&Name>,
        set: &executable::SelectionSet,
        out: &mut SelectionSet,
    ) {
        let Some(condition) = condition.filter(|c| *c != parent) else {
            self.add_selections(parent, set, out);
            return;
        };
        let parent_types = self.supergraph.possible_types(parent);
        let condition_types = self.supergraph.possible_types(condition);
        if !self.supergraph.is_abstract(parent) && condition_types.contains(parent) {
            // The condition always holds on this object type.
            self.add_selections(parent, set, out);
        } else if parent_types.iter().any(|t| condition_types.contains(t)) {
            let mut sub = SelectionSet::default();
            self.add_selections(condition, set, &mut sub);
            out.add_fragment(condition.clone(), sub);
        }
    }
}
