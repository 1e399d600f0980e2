//! The planning algorithm.
//!
//! The planner walks the normalized operation from the root. Every field is resolved
//! in the subgraph of the fetch it is in when that subgraph can (`Local`, possibly
//! thanks to `@provides`); otherwise it becomes an *entity jump*: the current fetch
//! also selects the key (and any `@requires` fields) of the parent object, and a new
//! `_entities` fetch to a subgraph that resolves the field runs after it. When several
//! subgraphs could serve a field (`@shareable`), each choice is planned on trial and
//! the one creating the fewest fetches wins. Abstract types are planned as they are
//! when the subgraph resolves everything locally, and otherwise split into one inline
//! fragment per object type the subgraph can return. Finally fetches to the same
//! subgraph at the same path with the same dependencies are merged, and the
//! dependency graph becomes a tree of `Sequence` and `Parallel` nodes.

use std::collections::BTreeSet;
use std::collections::HashSet;

use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;

use super::PlanError;
use super::model::FetchNode;
use super::model::PathElement;
use super::model::PlanNode;
use super::model::QueryPlan;
use super::model::ResponsePath;
use super::model::TypenameRewrite;
use super::operation::Operation;
use super::selection::Field;
use super::selection::Selection;
use super::selection::SelectionSet;
use crate::supergraph::FieldInGraph;
use crate::supergraph::GraphId;
use crate::supergraph::Key;
use crate::supergraph::Supergraph;

/// What a planning choice costs: fetches created, then fields those fetches select.
type Cost = (usize, usize);

/// How deep requirement chains (a key that needs another jump first) may go.
const MAX_REQUIREMENT_DEPTH: usize = 8;

/// A fetch being built.
#[derive(Debug, Clone)]
struct Draft {
    graph: GraphId,
    path: ResponsePath,
    entity: bool,
    requires: SelectionSet,
    rewrites: Vec<TypenameRewrite>,
    selection: SelectionSet,
    deps: BTreeSet<usize>,
    /// Mutation step this fetch belongs to (0 for queries).
    step: usize,
    /// Merged into another draft: skipped when building the plan.
    merged_into: Option<usize>,
}

/// Where a jump goes: a subgraph, and the type named in its `_entities` selection
/// (the object type, or the interface the subgraph knows as an `@interfaceObject`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    graph: GraphId,
    entity_type: Name,
}

/// Plans one operation.
pub(super) struct Planner<'a> {
    supergraph: &'a Supergraph,
    labels: &'a HashSet<String>,
    drafts: Vec<Draft>,
    requirement_depth: usize,
    step: usize,
    /// `(fetch, path, type)` where the representation already carries the `@requires`
    /// fields: fields with requirements are resolved there directly.
    requires_satisfied: Vec<(usize, ResponsePath, Name)>,
    /// `(graph, path)` of the jumps being planned: a jump back to one of them at the
    /// same path would loop.
    jumps_in_progress: Vec<(GraphId, ResponsePath)>,
    /// Other subgraphs that could resolve the current path from its nearest entity
    /// (shareable fields): union members they lack are not safe to select.
    alternatives: Vec<GraphId>,
}

impl<'a> Planner<'a> {
    pub(super) fn new(supergraph: &'a Supergraph, labels: &'a HashSet<String>) -> Self {
        Planner {
            supergraph,
            labels,
            drafts: Vec::new(),
            requirement_depth: 0,
            step: 0,
            requires_satisfied: Vec::new(),
            jumps_in_progress: Vec::new(),
            alternatives: Vec::new(),
        }
    }

    /// Plans the operation.
    pub(super) fn plan(mut self, operation: &Operation) -> Result<QueryPlan, PlanError> {
        let root_type = &operation.root_type;
        let mut fields: Vec<&Field> = Vec::new();
        for item in &operation.selection_set.items {
            if let Selection::Field(field) = item
                && !field.name.starts_with("__")
            {
                fields.push(field);
            }
        }
        let sequential = operation.kind == OperationType::Mutation;
        let mut groups: Vec<(GraphId, SelectionSet)> = Vec::new();
        for field in fields {
            let candidates: Vec<GraphId> = (0..self.supergraph.subgraphs.len())
                .filter(|graph| {
                    matches!(
                        self.supergraph
                            .field_in_graph(root_type, &field.name, *graph, self.labels),
                        FieldInGraph::Local
                    )
                })
                .collect();
            let reusable = |graph: GraphId, groups: &[(GraphId, SelectionSet)]| {
                if sequential {
                    groups.last().is_some_and(|(g, _)| *g == graph)
                } else {
                    groups.iter().any(|(g, _)| *g == graph)
                }
            };
            let mut best: Option<(Cost, GraphId)> = None;
            for &graph in &candidates {
                let cost = if candidates.len() == 1 {
                    Some((0, 0))
                } else {
                    self.trial(|planner| {
                        let id = planner.new_draft(graph, Vec::new(), false, BTreeSet::new());
                        let set = SelectionSet {
                            items: vec![Selection::Field(field.clone())],
                        };
                        planner.plan_fields(id, graph, root_type, &Vec::new(), None, &set)
                    })
                };
                let Some(mut cost) = cost else { continue };
                if reusable(graph, &groups) {
                    cost.0 = cost.0.saturating_sub(1);
                }
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, graph));
                }
            }
            let Some((_, graph)) = best else {
                if sequential || field.selection_set.is_empty() {
                    return Err(PlanError::Unresolvable {
                        type_name: root_type.to_string(),
                        field: field.name.to_string(),
                    });
                }
                // No subgraph resolves all of it: ask each part of the sub-selection
                // from a subgraph that resolves that part.
                for item in &field.selection_set.items {
                    let part = Field {
                        selection_set: SelectionSet {
                            items: vec![item.clone()],
                        },
                        ..field.clone()
                    };
                    let graph = self.cheapest_root_graph(root_type, &part, &candidates, &groups)?;
                    add_to_group(&mut groups, graph, part, false);
                }
                continue;
            };
            add_to_group(&mut groups, graph, field.clone(), sequential);
        }
        for (step, (graph, set)) in groups.into_iter().enumerate() {
            self.step = if sequential { step } else { 0 };
            let id = self.new_draft(graph, Vec::new(), false, BTreeSet::new());
            let selection = self.plan_fields(id, graph, root_type, &Vec::new(), None, &set)?;
            self.drafts[id].selection = selection;
        }
        self.merge_drafts();
        Ok(QueryPlan {
            root: self.build_tree(operation),
        })
    }

    /// Plans `set` on the `parent` objects at `path` of data fetched before (a
    /// deferred fragment): those objects hold `provided` (`__typename` and keys),
    /// everything else comes from entity jumps. No subgraph is asked for the
    /// objects themselves.
    pub(super) fn plan_from_objects(
        mut self,
        parent: &Name,
        path: &ResponsePath,
        provided: &SelectionSet,
        set: &SelectionSet,
        operation: &Operation,
    ) -> Result<QueryPlan, PlanError> {
        // A graph no type lives in: only what `provided` holds is local to it.
        let fetched = self.supergraph.subgraphs.len();
        let mut entity_path = path.clone();
        while matches!(entity_path.last(), Some(PathElement::TypeCondition(_))) {
            entity_path.pop();
        }
        let id = self.new_draft(fetched, entity_path, true, BTreeSet::new());
        let mut representation = SelectionSet::default();
        representation.add_fragment(parent.clone(), provided.clone());
        self.drafts[id].requires = representation;
        self.plan_fields(id, fetched, parent, path, Some(provided), set)?;
        self.merge_drafts();
        self.drafts[id].merged_into = Some(id);
        Ok(QueryPlan {
            root: self.build_tree(operation),
        })
    }

    /// The candidate subgraph that plans a root field with the fewest fetches.
    fn cheapest_root_graph(
        &mut self,
        root_type: &Name,
        field: &Field,
        candidates: &[GraphId],
        groups: &[(GraphId, SelectionSet)],
    ) -> Result<GraphId, PlanError> {
        let mut best: Option<(Cost, GraphId)> = None;
        for &graph in candidates {
            let set = SelectionSet {
                items: vec![Selection::Field(field.clone())],
            };
            let cost = self.trial(|planner| {
                let id = planner.new_draft(graph, Vec::new(), false, BTreeSet::new());
                planner.plan_fields(id, graph, root_type, &Vec::new(), None, &set)
            });
            let Some(mut cost) = cost else { continue };
            if groups.iter().any(|(g, _)| *g == graph) {
                cost.0 = cost.0.saturating_sub(1);
            }
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, graph));
            }
        }
        best.map(|(_, graph)| graph)
            .ok_or_else(|| PlanError::Unresolvable {
                type_name: root_type.to_string(),
                field: field.name.to_string(),
            })
    }

    fn new_draft(
        &mut self,
        graph: GraphId,
        path: ResponsePath,
        entity: bool,
        deps: BTreeSet<usize>,
    ) -> usize {
        self.drafts.push(Draft {
            graph,
            path,
            entity,
            requires: SelectionSet::default(),
            rewrites: Vec::new(),
            selection: SelectionSet::default(),
            deps,
            step: self.step,
            merged_into: None,
        });
        self.drafts.len() - 1
    }

    /// Runs `attempt` and undoes it; returns how many fetches it created (and how many
    /// fields they select), or `None` when it could not plan.
    fn trial<T>(&mut self, attempt: impl FnOnce(&mut Self) -> Result<T, PlanError>) -> Option<Cost> {
        let mark = self.drafts.len();
        let depth = self.requirement_depth;
        let jumps = self.jumps_in_progress.len();
        let result = attempt(self);
        let fields: usize = self.drafts[mark..]
            .iter()
            .map(|d| count_fields(&d.selection))
            .sum();
        let created = (self.drafts.len() - mark, fields);
        self.drafts.truncate(mark);
        self.requirement_depth = depth;
        self.requires_satisfied.retain(|(fetch, _, _)| *fetch < mark);
        self.jumps_in_progress.truncate(jumps);
        result.ok().map(|_| created)
    }

    /// Plans `set` (on `parent`) inside fetch `fetch` to `graph` at `path`; returns what
    /// that fetch selects here. Fields it cannot resolve become new fetches.
    fn plan_fields(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&SelectionSet>,
        set: &SelectionSet,
    ) -> Result<SelectionSet, PlanError> {
        if self.supergraph.is_abstract(parent) {
            let interface_object = self
                .supergraph
                .type_in_graph(parent, graph)
                .is_some_and(|t| t.interface_object);
            if interface_object {
                return self.plan_interface_object(fetch, graph, parent, path, provided, set);
            }
            return self.plan_abstract(fetch, graph, parent, path, provided, set);
        }
        self.plan_object(fetch, graph, parent, path, provided, set)
    }

    /// The status of a field in a graph, `@provides` considered.
    fn field_status<'s>(
        &'s self,
        parent: &Name,
        field: &Field,
        graph: GraphId,
        provided: Option<&'s SelectionSet>,
    ) -> (FieldInGraph<'s>, Option<&'s SelectionSet>) {
        if let Some(provided_field) =
            provided.and_then(|p| find_field(p, &field.name, parent, self.supergraph))
        {
            return (FieldInGraph::Local, Some(&provided_field.selection_set));
        }
        let status = self
            .supergraph
            .field_in_graph(parent, &field.name, graph, self.labels);
        (status, self.supergraph.provides(parent, &field.name, graph))
    }

    /// Whether fetch `fetch` resolves `field` itself: locally, provided, or with its
    /// `@requires` fields already in the representation.
    fn resolves_here<'s>(
        &'s self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&'s SelectionSet>,
        field: &Field,
    ) -> (bool, Option<&'s SelectionSet>) {
        let (status, sub_provided) = self.field_status(parent, field, graph, provided);
        let local = match status {
            FieldInGraph::Local => true,
            FieldInGraph::Requires(_) => self
                .requires_satisfied
                .iter()
                .any(|(f, p, t)| *f == fetch && p == path && t == parent),
            _ => false,
        };
        (local, sub_provided)
    }

    fn child_path(&self, path: &ResponsePath, parent: &Name, field: &Field) -> ResponsePath {
        let mut child = path.clone();
        child.push(PathElement::Key(field.response_key().clone()));
        if let Ok(definition) = self.supergraph.schema.type_field(parent, &field.name) {
            let mut ty = &definition.ty;
            while let apollo_compiler::ast::Type::List(inner)
            | apollo_compiler::ast::Type::NonNullList(inner) = ty
            {
                child.push(PathElement::List);
                ty = inner;
            }
        }
        child
    }

    /// Plans a field resolved locally, with its sub-selection.
    fn plan_local_field(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        sub_provided: Option<&SelectionSet>,
        field: &Field,
    ) -> Result<Field, PlanError> {
        let mut planned = Field {
            alias: field.alias.clone(),
            name: field.name.clone(),
            arguments: field.arguments.clone(),
            selection_set: SelectionSet::default(),
        };
        if !field.selection_set.is_empty() {
            let field_type = self
                .supergraph
                .field_type_in_graph(parent, &field.name, graph)
                .map(|ty| ty.inner_named_type().clone());
            let Some(field_type) = field_type else {
                return Err(PlanError::Unresolvable {
                    type_name: parent.to_string(),
                    field: field.name.to_string(),
                });
            };
            let child_path = self.child_path(path, parent, field);
            let alternatives = self.child_alternatives(graph, parent, field, &field_type);
            let saved = std::mem::replace(&mut self.alternatives, alternatives);
            let selection = self.plan_fields(
                fetch,
                graph,
                &field_type,
                &child_path,
                sub_provided,
                &field.selection_set,
            );
            self.alternatives = saved;
            planned.selection_set = selection?;
        }
        Ok(planned)
    }

    /// The other subgraphs that could resolve the path below `field` (see
    /// [`Planner::alternatives`]): below an entity, those where it is an entity;
    /// otherwise the current ones that also resolve `field`.
    fn child_alternatives(
        &self,
        graph: GraphId,
        parent: &Name,
        field: &Field,
        field_type: &Name,
    ) -> Vec<GraphId> {
        let supergraph = self.supergraph;
        let is_entity = supergraph
            .type_in_graph(field_type, graph)
            .is_some_and(|t| t.keys.iter().any(|k| k.resolvable));
        if is_entity {
            return entity_graphs_besides(supergraph, field_type, graph);
        }
        self.alternatives
            .iter()
            .copied()
            .filter(|other| {
                matches!(
                    supergraph.field_in_graph(parent, &field.name, *other, self.labels),
                    FieldInGraph::Local
                )
            })
            .collect()
    }

    /// Drops the fragments of `set` (on abstract `parent`) on object types that one of
    /// the alternative subgraphs cannot return here: only members common to every
    /// subgraph that could resolve this path are safe.
    fn keep_common_members(&self, graph: GraphId, parent: &Name, set: &SelectionSet) -> SelectionSet {
        if self.alternatives.is_empty() {
            return set.clone();
        }
        let supergraph = self.supergraph;
        let mut allowed = supergraph.possible_types_in_graph(parent, graph);
        for other in &self.alternatives {
            let knows_members = supergraph
                .type_in_graph(parent, *other)
                .is_some_and(|t| !t.interface_object);
            if !knows_members {
                continue;
            }
            let theirs = supergraph.possible_types_in_graph(parent, *other);
            allowed.retain(|t| theirs.contains(t));
        }
        let items = set
            .items
            .iter()
            .filter(|item| match item {
                Selection::Fragment(fragment) if !supergraph.is_abstract(&fragment.type_condition) => {
                    allowed.contains(&fragment.type_condition)
                }
                _ => true,
            })
            .cloned()
            .collect();
        SelectionSet { items }
    }

    fn plan_object(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&SelectionSet>,
        set: &SelectionSet,
    ) -> Result<SelectionSet, PlanError> {
        let mut local = SelectionSet::default();
        let mut remote: Vec<Field> = Vec::new();
        let mut items: Vec<&Selection> = set.items.iter().collect();
        let mut index = 0;
        while index < items.len() {
            let item = items[index];
            index += 1;
            match item {
                Selection::Fragment(fragment) => {
                    if self.supergraph.type_matches(&fragment.type_condition, parent) {
                        items.extend(fragment.selection_set.items.iter());
                    }
                }
                Selection::Field(field) => {
                    let (here, sub_provided) =
                        self.resolves_here(fetch, graph, parent, path, provided, field);
                    if here {
                        let sub_provided = sub_provided.cloned();
                        let mark = self.drafts.len();
                        match self.plan_local_field(fetch, graph, parent, path, sub_provided.as_ref(), field)
                        {
                            Ok(planned) => {
                                local.add_field_aliased(planned);
                            }
                            Err(error) if field.selection_set.is_empty() => return Err(error),
                            Err(_) => {
                                // Part of the sub-selection cannot be resolved from here: keep
                                // what can, and fetch the rest of this field from elsewhere.
                                self.drafts.truncate(mark);
                                let (here_part, elsewhere) = self.split_field(
                                    fetch,
                                    graph,
                                    parent,
                                    path,
                                    sub_provided.as_ref(),
                                    field,
                                );
                                if !here_part.selection_set.is_empty() {
                                    let planned = self.plan_local_field(
                                        fetch,
                                        graph,
                                        parent,
                                        path,
                                        sub_provided.as_ref(),
                                        &here_part,
                                    )?;
                                    local.add_field_aliased(planned);
                                }
                                match remote
                                    .iter_mut()
                                    .find(|f| f.response_key() == field.response_key())
                                {
                                    Some(existing) => existing.selection_set.merge(elsewhere.selection_set),
                                    None => remote.push(elsewhere),
                                }
                            }
                        }
                    } else {
                        match remote
                            .iter_mut()
                            .find(|f| f.response_key() == field.response_key())
                        {
                            Some(existing) => existing.selection_set.merge(field.selection_set.clone()),
                            None => remote.push(field.clone()),
                        }
                    }
                }
            }
        }
        if remote.is_empty() {
            return Ok(local);
        }
        let mut groups: Vec<(Target, SelectionSet, SelectionSet)> = Vec::new();
        for field in remote {
            let candidates = self.jump_candidates(graph, parent, &field);
            let mut best: Option<(Cost, Target)> = None;
            for target in &candidates {
                let cost = if candidates.len() == 1 {
                    Some((0, 0))
                } else {
                    let single = SelectionSet {
                        items: vec![Selection::Field(field.clone())],
                    };
                    self.trial(|planner| {
                        planner.plan_jump(fetch, graph, parent, path, provided, target, &single)
                    })
                };
                let Some(mut cost) = cost else { continue };
                if groups.iter().any(|(t, _, _)| t == target) {
                    cost.0 = cost.0.saturating_sub(1);
                }
                if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                    best = Some((cost, target.clone()));
                }
            }
            let Some((_, target)) = best else {
                return Err(PlanError::Unresolvable {
                    type_name: parent.to_string(),
                    field: field.name.to_string(),
                });
            };
            // Fields whose `@requires` ask for the same field with other arguments
            // cannot share a representation: they go in separate fetches.
            let requires = self.field_requires(&target, &field);
            let compatible = groups.iter_mut().find(|(t, _, accumulated)| {
                *t == target
                    && !requires
                        .as_ref()
                        .is_some_and(|r| requires_conflict(accumulated, r))
            });
            match compatible {
                Some((_, set, accumulated)) => {
                    set.add_field_aliased(field);
                    if let Some(requires) = requires {
                        accumulated.merge(requires);
                    }
                }
                None => groups.push((
                    target,
                    SelectionSet {
                        items: vec![Selection::Field(field)],
                    },
                    requires.unwrap_or_default(),
                )),
            }
        }
        for (target, set, _) in groups {
            let (requirement, id) = self.plan_jump(fetch, graph, parent, path, provided, &target, &set)?;
            self.merge_requirement(&mut local, requirement, id);
        }
        Ok(local)
    }

    /// The `@requires` field set of `field` in a jump target.
    fn field_requires(&self, target: &Target, field: &Field) -> Option<SelectionSet> {
        match self
            .supergraph
            .field_in_graph(&target.entity_type, &field.name, target.graph, self.labels)
        {
            FieldInGraph::Requires(requires) => Some(requires.clone()),
            _ => None,
        }
    }

    /// Adds a jump's requirement to the current fetch's selection; a requirement field
    /// that had to be aliased (its key was taken) is read under that alias when the
    /// representations of fetch `id` are built.
    fn merge_requirement(&mut self, local: &mut SelectionSet, requirement: SelectionSet, id: usize) {
        for item in requirement.items {
            match item {
                Selection::Field(field) => {
                    let wanted = field.response_key().clone();
                    let used = local.add_field_aliased(field.clone());
                    if used != wanted {
                        alias_in_requires(&mut self.drafts[id].requires, &field, &used);
                    }
                }
                Selection::Fragment(fragment) => {
                    local.add_fragment(fragment.type_condition, fragment.selection_set)
                }
            }
        }
    }

    /// Splits a field's sub-selection into what `graph` resolves from here and the rest.
    fn split_field(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        sub_provided: Option<&SelectionSet>,
        field: &Field,
    ) -> (Field, Field) {
        let mut here = Field {
            selection_set: SelectionSet::default(),
            ..field.clone()
        };
        let mut elsewhere = here.clone();
        for item in &field.selection_set.items {
            let single = Field {
                selection_set: SelectionSet {
                    items: vec![item.clone()],
                },
                ..here.clone()
            };
            let resolves = self
                .trial(|planner| planner.plan_local_field(fetch, graph, parent, path, sub_provided, &single))
                .is_some();
            if resolves {
                here.selection_set.merge(single.selection_set);
            } else {
                elsewhere.selection_set.merge(single.selection_set);
            }
        }
        (here, elsewhere)
    }

    /// The subgraphs (and entity types) a field of `parent` can be fetched from with an
    /// entity jump.
    fn jump_candidates(&self, current: GraphId, parent: &Name, field: &Field) -> Vec<Target> {
        let supergraph = self.supergraph;
        let mut targets = Vec::new();
        for type_in_graph in supergraph.graphs_of_type(parent) {
            let graph = type_in_graph.graph;
            if !type_in_graph.keys.iter().any(|k| k.resolvable) {
                continue;
            }
            match supergraph.field_in_graph(parent, &field.name, graph, self.labels) {
                FieldInGraph::Local if graph != current => targets.push(Target {
                    graph,
                    entity_type: parent.clone(),
                }),
                FieldInGraph::Requires(_) => targets.push(Target {
                    graph,
                    entity_type: parent.clone(),
                }),
                _ => {}
            }
        }
        if supergraph.is_abstract(parent) {
            return targets;
        }
        for interface in supergraph.interfaces_of(parent) {
            for type_in_graph in supergraph.graphs_of_type(&interface) {
                if !type_in_graph.interface_object || !type_in_graph.keys.iter().any(|k| k.resolvable) {
                    continue;
                }
                let graph = type_in_graph.graph;
                if matches!(
                    supergraph.field_in_graph(&interface, &field.name, graph, self.labels),
                    FieldInGraph::Local | FieldInGraph::Requires(_)
                ) && !targets.iter().any(|t| t.graph == graph)
                {
                    targets.push(Target {
                        graph,
                        entity_type: interface.clone(),
                    });
                }
            }
        }
        targets
    }

    /// Whether every field of a key is resolvable in `graph` on `parent`.
    fn key_is_local(
        &self,
        graph: GraphId,
        parent: &Name,
        key: &Key,
        provided: Option<&SelectionSet>,
    ) -> bool {
        self.all_local(graph, parent, &key.fields, provided)
    }

    /// Plans an entity jump from fetch `fetch` (in `graph`, on `parent` objects at
    /// `path`) to `target` for `set`; returns the requirement selection (key and
    /// `@requires` fields) the current fetch must add, and the new fetch.
    #[allow(clippy::too_many_arguments)]
    fn plan_jump(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&SelectionSet>,
        target: &Target,
        set: &SelectionSet,
    ) -> Result<(SelectionSet, usize), PlanError> {
        if self.requirement_depth >= MAX_REQUIREMENT_DEPTH
            || self
                .jumps_in_progress
                .iter()
                .any(|(g, p)| *g == target.graph && p == path)
        {
            return Err(PlanError::RequirementCycle {
                type_name: parent.to_string(),
            });
        }
        let supergraph = self.supergraph;
        let keys: Vec<&Key> = supergraph
            .type_in_graph(&target.entity_type, target.graph)
            .map(|t| t.keys.iter().filter(|k| k.resolvable).collect())
            .unwrap_or_default();
        let mut entity_path = path.clone();
        while matches!(entity_path.last(), Some(PathElement::TypeCondition(_))) {
            entity_path.pop();
        }
        let Some(key) = keys
            .iter()
            .find(|key| {
                self.in_representation(fetch, &entity_path, &key.fields)
                    || self.key_is_local(graph, parent, key, provided)
            })
            .or(keys.first())
        else {
            return Err(PlanError::NoKey {
                type_name: target.entity_type.to_string(),
                subgraph: supergraph.graph_name(target.graph).to_string(),
            });
        };
        let mut requirement = SelectionSet::default();
        requirement.add_typename();
        requirement.merge(key.fields.clone());
        for item in &set.items {
            if let Selection::Field(field) = item
                && let FieldInGraph::Requires(requires) =
                    supergraph.field_in_graph(&target.entity_type, &field.name, target.graph, self.labels)
            {
                requirement.merge(requires.clone());
            }
        }
        let mark = self.drafts.len();
        let planned_requirement = if self.in_representation(fetch, &entity_path, &requirement) {
            // The objects already hold these fields: they made the representation of
            // the current fetch.
            SelectionSet::default()
        } else {
            self.requirement_depth += 1;
            let planned = self.plan_fields(fetch, graph, parent, path, provided, &requirement);
            self.requirement_depth -= 1;
            planned?
        };
        let mut deps: BTreeSet<usize> = (mark..self.drafts.len()).collect();
        deps.insert(fetch);
        let id = self.new_draft(target.graph, entity_path, true, deps);
        let mut requires = SelectionSet::default();
        requires.add_fragment(parent.clone(), requirement);
        self.drafts[id].requires = requires;
        let target_is_interface_object = supergraph
            .type_in_graph(&target.entity_type, target.graph)
            .is_some_and(|t| t.interface_object);
        if target.entity_type != *parent || target_is_interface_object {
            self.drafts[id].rewrites.push(TypenameRewrite {
                type_condition: parent.clone(),
                value: target.entity_type.clone(),
            });
        }
        self.requires_satisfied
            .push((id, path.clone(), target.entity_type.clone()));
        self.jumps_in_progress.push((graph, path.clone()));
        self.jumps_in_progress.push((target.graph, path.clone()));
        let alternatives = entity_graphs_besides(supergraph, &target.entity_type, target.graph);
        let saved = std::mem::replace(&mut self.alternatives, alternatives);
        let selection = self.plan_fields(id, target.graph, &target.entity_type, path, None, set);
        self.alternatives = saved;
        self.jumps_in_progress.truncate(self.jumps_in_progress.len() - 2);
        self.requires_satisfied.pop();
        let selection = selection?;
        let mut wrapped = SelectionSet::default();
        wrapped.add_fragment(target.entity_type.clone(), selection);
        self.drafts[id].selection = wrapped;
        Ok((planned_requirement, id))
    }

    /// Whether `fetch` is an `_entities` fetch at `path` whose representations already
    /// carry `wanted`.
    fn in_representation(&self, fetch: usize, path: &ResponsePath, wanted: &SelectionSet) -> bool {
        let draft = &self.drafts[fetch];
        draft.entity
            && draft.path == *path
            && draft.requires.items.iter().any(|item| match item {
                Selection::Fragment(fragment) => covers(&fragment.selection_set, wanted),
                Selection::Field(_) => false,
            })
    }

    /// Whether `graph` resolves all of `set` on `parent` without any jump.
    fn all_local(
        &self,
        graph: GraphId,
        parent: &Name,
        set: &SelectionSet,
        provided: Option<&SelectionSet>,
    ) -> bool {
        let supergraph = self.supergraph;
        let interface_object = supergraph
            .type_in_graph(parent, graph)
            .is_some_and(|t| t.interface_object);
        let abstract_type = supergraph.is_abstract(parent) && !interface_object;
        let possible = if abstract_type {
            supergraph.possible_types_in_graph(parent, graph)
        } else {
            Vec::new()
        };
        set.items.iter().all(|item| match item {
            Selection::Field(field) => {
                if field.name == "__typename" {
                    return !interface_object;
                }
                let (status, sub_provided) = self.field_status(parent, field, graph, provided);
                if !matches!(status, FieldInGraph::Local) {
                    return false;
                }
                let object_types_agree = possible.iter().all(|object| {
                    let (status, _) = self.field_status(object, field, graph, provided);
                    matches!(status, FieldInGraph::Local)
                });
                if !object_types_agree {
                    return false;
                }
                if field.selection_set.is_empty() {
                    return true;
                }
                supergraph
                    .field_type(parent, &field.name)
                    .is_some_and(|ty| self.all_local(graph, ty, &field.selection_set, sub_provided))
            }
            Selection::Fragment(fragment) => {
                if interface_object {
                    return false;
                }
                let condition = &fragment.type_condition;
                let reachable = if abstract_type {
                    possible.iter().any(|t| supergraph.type_matches(condition, t))
                } else {
                    supergraph.type_matches(condition, parent)
                };
                if !reachable {
                    return true;
                }
                if supergraph.type_in_graph(condition, graph).is_none() {
                    return false;
                }
                // Every object the condition matches in the supergraph must match it in
                // this subgraph too, or the subgraph would skip the fragment.
                if supergraph.is_abstract(condition) {
                    let in_graph = supergraph.possible_types_in_graph(condition, graph);
                    let objects = if abstract_type {
                        possible.clone()
                    } else {
                        vec![parent.clone()]
                    };
                    if objects.iter().any(|object| {
                        supergraph.type_matches(condition, object) && !in_graph.contains(object)
                    }) {
                        return false;
                    }
                }
                let sub_provided = provided.map(|p| provided_for_type(p, condition));
                self.all_local(graph, condition, &fragment.selection_set, sub_provided.as_ref())
            }
        })
    }

    fn plan_abstract(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&SelectionSet>,
        set: &SelectionSet,
    ) -> Result<SelectionSet, PlanError> {
        let supergraph = self.supergraph;
        let possible = supergraph.possible_types_in_graph(parent, graph);
        let common = self.keep_common_members(graph, parent, set);
        let set = &common;
        if self.all_local(graph, parent, set, provided) {
            let mut out = SelectionSet::default();
            out.add_typename();
            for item in &set.items {
                match item {
                    Selection::Field(field) => {
                        let (_, sub_provided) = self.field_status(parent, field, graph, provided);
                        let sub_provided = sub_provided.cloned();
                        let planned =
                            self.plan_local_field(fetch, graph, parent, path, sub_provided.as_ref(), field)?;
                        out.add_field_aliased(planned);
                    }
                    Selection::Fragment(fragment) => {
                        let condition = &fragment.type_condition;
                        if !possible.iter().any(|t| supergraph.type_matches(condition, t)) {
                            continue;
                        }
                        let mut sub_path = path.clone();
                        sub_path.push(PathElement::TypeCondition(condition.clone()));
                        let sub_provided = provided.map(|p| provided_for_type(p, condition));
                        let planned = self.plan_fields(
                            fetch,
                            graph,
                            condition,
                            &sub_path,
                            sub_provided.as_ref(),
                            &fragment.selection_set,
                        )?;
                        out.add_fragment(condition.clone(), planned);
                    }
                }
            }
            return Ok(out);
        }
        if possible.is_empty() {
            // The subgraph knows no implementation: the interface's own fields must
            // come from where the interface is an entity.
            let mut out = self.plan_object(fetch, graph, parent, path, provided, set)?;
            out.add_typename();
            return Ok(out);
        }
        let mut out = SelectionSet::default();
        out.add_typename();
        for object in &possible {
            let restricted = restrict_to_object(supergraph, set, object);
            if restricted.is_empty() {
                continue;
            }
            let mut sub_path = path.clone();
            sub_path.push(PathElement::TypeCondition(object.clone()));
            let sub_provided = provided.map(|p| provided_for_type(p, object));
            let planned = self.plan_fields(
                fetch,
                graph,
                object,
                &sub_path,
                sub_provided.as_ref(),
                &restricted,
            )?;
            out.add_fragment(object.clone(), planned);
        }
        Ok(out)
    }

    /// An interface the subgraph sees as an `@interfaceObject`: it resolves the
    /// interface's own fields; the concrete type and everything else come from a
    /// subgraph that knows the interface and its implementations.
    fn plan_interface_object(
        &mut self,
        fetch: usize,
        graph: GraphId,
        parent: &Name,
        path: &ResponsePath,
        provided: Option<&SelectionSet>,
        set: &SelectionSet,
    ) -> Result<SelectionSet, PlanError> {
        let supergraph = self.supergraph;
        // A representation sent on from here names the interface itself.
        let in_requirement = self.requirement_depth > 0;
        let mut local_set = SelectionSet::default();
        let mut rest = SelectionSet::default();
        for item in &set.items {
            match item {
                Selection::Field(field)
                    if (field.name == "__typename" && in_requirement)
                        || (field.name != "__typename"
                            && self.resolves_here(fetch, graph, parent, path, provided, field).0) =>
                {
                    local_set.add_field_aliased(field.clone());
                }
                Selection::Field(field) => {
                    rest.add_field_aliased(field.clone());
                }
                Selection::Fragment(fragment) => {
                    rest.add_fragment(fragment.type_condition.clone(), fragment.selection_set.clone())
                }
            }
        }
        // Fields of the interface that a subgraph resolves on the interface itself
        // (another `@interfaceObject`, or the interface entity) are fetched with the
        // interface's representation; only the rest needs the concrete type.
        let mut needs_type = SelectionSet::default();
        for item in rest.items {
            match item {
                Selection::Field(field)
                    if field.name != "__typename"
                        && !self.jump_candidates(graph, parent, &field).is_empty() =>
                {
                    local_set.add_field_aliased(field);
                }
                other => needs_type.items.push(other),
            }
        }
        let mut rest = needs_type;
        let mut out = self.plan_object(fetch, graph, parent, path, provided, &local_set)?;
        if rest.is_empty() {
            return Ok(out);
        }
        // Fields of the interface that another interface object resolves can stay on
        // the interface; anything else needs the real type first.
        let target = supergraph
            .graphs_of_type(parent)
            .find(|t| !t.interface_object && t.keys.iter().any(|k| k.resolvable))
            .map(|t| Target {
                graph: t.graph,
                entity_type: parent.clone(),
            });
        let Some(target) = target else {
            return Err(PlanError::NoKey {
                type_name: parent.to_string(),
                subgraph: supergraph.graph_name(graph).to_string(),
            });
        };
        rest.add_typename();
        let (requirement, id) = self.plan_jump(fetch, graph, parent, path, provided, &target, &rest)?;
        self.merge_requirement(&mut out, requirement, id);
        Ok(out)
    }

    /// Merges entity fetches to the same subgraph at the same path that wait for the
    /// same fetches.
    fn merge_drafts(&mut self) {
        loop {
            let mut merged_any = false;
            for i in 0..self.drafts.len() {
                if self.drafts[i].merged_into.is_some() || !self.drafts[i].entity {
                    continue;
                }
                for j in (i + 1)..self.drafts.len() {
                    let (a, b) = (&self.drafts[i], &self.drafts[j]);
                    if b.merged_into.is_some()
                        || !b.entity
                        || a.graph != b.graph
                        || a.path != b.path
                        || a.deps != b.deps
                        || a.step != b.step
                        || requires_conflict(&a.requires, &b.requires)
                    {
                        continue;
                    }
                    let b = self.drafts[j].clone();
                    let a = &mut self.drafts[i];
                    a.selection.merge(b.selection);
                    a.requires.merge(b.requires);
                    for rewrite in b.rewrites {
                        if !a.rewrites.contains(&rewrite) {
                            a.rewrites.push(rewrite);
                        }
                    }
                    self.drafts[j].merged_into = Some(i);
                    for draft in &mut self.drafts {
                        if draft.deps.remove(&j) {
                            draft.deps.insert(i);
                        }
                    }
                    merged_any = true;
                }
            }
            if !merged_any {
                return;
            }
        }
    }

    fn fetch_node(&self, id: usize, operation: &Operation) -> PlanNode {
        let draft = &self.drafts[id];
        let kind = if draft.entity {
            OperationType::Query
        } else {
            operation.kind
        };
        let mut selection = draft.selection.clone();
        let mut renames = Vec::new();
        let root = if draft.entity {
            Name::new_static_unchecked("_Entity")
        } else {
            operation.root_type.clone()
        };
        super::conflicts::alias_type_conflicts(
            self.supergraph,
            draft.graph,
            &root,
            &mut selection,
            &mut Vec::new(),
            &mut renames,
        );
        let mut variables = Vec::new();
        let mut selection_text = String::new();
        selection.write_graphql(&mut selection_text, &mut variables);
        let body = match draft.entity {
            true => format!("{{_entities(representations:$representations){selection_text}}}"),
            false => selection_text.clone(),
        };
        let variable_definitions: Vec<String> = variables
            .iter()
            .filter_map(|variable| operation.variables.iter().find(|d| d.name == *variable))
            .map(|definition| {
                let mut text = format!("${}:{}", definition.name, definition.ty);
                if let Some(default) = &definition.default_value {
                    text.push_str(&format!("={default}"));
                }
                text
            })
            .collect();
        let mut definitions: Vec<String> = Vec::new();
        if draft.entity {
            definitions.push("$representations:[_Any!]!".to_string());
        }
        definitions.extend(variable_definitions.iter().cloned());
        let keyword = match kind {
            OperationType::Query => "query",
            OperationType::Mutation => "mutation",
            OperationType::Subscription => "subscription",
        };
        let mut text = keyword.to_string();
        if let Some(name) = &operation.name {
            text.push_str(&format!(
                " {name}__{}__{id}",
                self.supergraph.graph_name(draft.graph)
            ));
        }
        if !definitions.is_empty() {
            text.push('(');
            text.push_str(&definitions.join(","));
            text.push(')');
        }
        text.push_str(&body);
        let node = PlanNode::Fetch(Box::new(FetchNode {
            graph: draft.graph,
            subgraph_name: self.supergraph.graph_name(draft.graph).to_string(),
            operation_kind: kind,
            operation: text,
            variable_usages: variables,
            requires: draft.entity.then(|| draft.requires.clone()),
            input_rewrites: draft.rewrites.clone(),
            output_renames: renames,
            entity_selection: draft.entity.then_some(selection_text),
            variable_definitions,
        }));
        if draft.entity {
            PlanNode::Flatten {
                path: draft.path.clone(),
                node: Box::new(node),
            }
        } else {
            node
        }
    }

    /// Turns the dependency graph into `Sequence`/`Parallel` nodes.
    fn build_tree(&self, operation: &Operation) -> Option<PlanNode> {
        let live: Vec<usize> = (0..self.drafts.len())
            .filter(|&i| self.drafts[i].merged_into.is_none())
            .collect();
        if live.is_empty() {
            return None;
        }
        let steps: BTreeSet<usize> = live.iter().map(|&i| self.drafts[i].step).collect();
        let mut sequence = Vec::new();
        for step in steps {
            let members: Vec<usize> = live
                .iter()
                .copied()
                .filter(|&i| self.drafts[i].step == step)
                .collect();
            sequence.push(self.build_step(&members, operation));
        }
        Some(super::batch::batch_entity_fetches(flatten_single(
            PlanNode::Sequence(sequence),
        )))
    }

    fn build_step(&self, members: &[usize], operation: &Operation) -> PlanNode {
        let single_parent = members.iter().all(|&i| {
            let deps: Vec<&usize> = self.drafts[i]
                .deps
                .iter()
                .filter(|d| members.contains(d))
                .collect();
            deps.len() <= 1
        });
        if single_parent {
            let roots: Vec<PlanNode> = members
                .iter()
                .copied()
                .filter(|&i| !self.drafts[i].deps.iter().any(|d| members.contains(d)))
                .map(|i| self.subtree(i, members, operation))
                .collect();
            return flatten_single(PlanNode::Parallel(roots));
        }
        // Several dependencies: the fetches are grouped as they would be batched
        // when run by levels (one group per level and subgraph for entity fetches),
        // and each group runs as soon as the groups it depends on are done.
        let groups = self.batch_groups(members);
        let group_of = |draft: usize| groups.iter().position(|group| group.contains(&draft));
        let group_deps: Vec<BTreeSet<usize>> = groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .flat_map(|&i| self.drafts[i].deps.iter())
                    .filter_map(|&d| group_of(d))
                    .collect()
            })
            .collect();
        let all: Vec<usize> = (0..groups.len()).collect();
        schedule(&all, &group_deps, &|g| {
            flatten_single(PlanNode::Parallel(
                groups[g].iter().map(|&i| self.fetch_node(i, operation)).collect(),
            ))
        })
    }

    /// The members of a step grouped as the levels of their dependencies batch
    /// them: per level, the entity fetches to one subgraph together and every
    /// other fetch alone, in level order.
    fn batch_groups(&self, members: &[usize]) -> Vec<Vec<usize>> {
        let mut level = vec![0usize; self.drafts.len()];
        for &i in members {
            level[i] = self.drafts[i]
                .deps
                .iter()
                .filter(|d| members.contains(d))
                .map(|&d| level[d] + 1)
                .max()
                .unwrap_or(0);
        }
        let max_level = members.iter().map(|&i| level[i]).max().unwrap_or(0);
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for l in 0..=max_level {
            let first_of_level = groups.len();
            for &i in members.iter().filter(|&&i| level[i] == l) {
                let draft = &self.drafts[i];
                let joins = groups[first_of_level..].iter().position(|group| {
                    let other = &self.drafts[group[0]];
                    draft.entity && other.entity && other.graph == draft.graph
                });
                match joins {
                    Some(offset) => groups[first_of_level + offset].push(i),
                    None => groups.push(vec![i]),
                }
            }
        }
        groups
    }

    fn subtree(&self, id: usize, members: &[usize], operation: &Operation) -> PlanNode {
        let children: Vec<PlanNode> = members
            .iter()
            .copied()
            .filter(|&i| self.drafts[i].deps.contains(&id))
            .map(|i| self.subtree(i, members, operation))
            .collect();
        let fetch = self.fetch_node(id, operation);
        if children.is_empty() {
            return fetch;
        }
        PlanNode::Sequence(vec![fetch, flatten_single(PlanNode::Parallel(children))])
    }
}

/// The subgraphs other than `graph` where `type_name` is an entity with a resolvable key.
fn entity_graphs_besides(supergraph: &Supergraph, type_name: &Name, graph: GraphId) -> Vec<GraphId> {
    supergraph
        .graphs_of_type(type_name)
        .filter(|t| t.graph != graph && t.keys.iter().any(|k| k.resolvable))
        .map(|t| t.graph)
        .collect()
}

/// Whether two representation selections ask for the same field name with different
/// arguments (one representation cannot carry both).
fn requires_conflict(a: &SelectionSet, b: &SelectionSet) -> bool {
    b.items.iter().any(|item| match item {
        Selection::Field(field) => a.items.iter().any(|other| match other {
            Selection::Field(existing) => {
                existing.name == field.name
                    && (existing.arguments != field.arguments
                        || requires_conflict(&existing.selection_set, &field.selection_set))
            }
            Selection::Fragment(_) => false,
        }),
        Selection::Fragment(fragment) => a.items.iter().any(|other| match other {
            Selection::Fragment(existing) if existing.type_condition == fragment.type_condition => {
                requires_conflict(&existing.selection_set, &fragment.selection_set)
            }
            _ => false,
        }),
    })
}

/// Points the fields equal to `field` in a representation selection to the response
/// key `alias`.
fn alias_in_requires(requires: &mut SelectionSet, field: &Field, alias: &Name) {
    for item in &mut requires.items {
        match item {
            Selection::Field(existing) if existing.same_field(field) && existing.alias.is_none() => {
                existing.alias = Some(alias.clone());
            }
            Selection::Fragment(fragment) => alias_in_requires(&mut fragment.selection_set, field, alias),
            Selection::Field(_) => {}
        }
    }
}

/// Number of fields in a selection set, nested ones included.
fn count_fields(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match item {
            Selection::Field(field) => 1 + count_fields(&field.selection_set),
            Selection::Fragment(fragment) => count_fields(&fragment.selection_set),
        })
        .sum()
}

/// Whether `available` selects everything `wanted` selects.
fn covers(available: &SelectionSet, wanted: &SelectionSet) -> bool {
    wanted.items.iter().all(|item| match item {
        Selection::Field(field) => available.items.iter().any(|candidate| {
            matches!(candidate, Selection::Field(have)
                if have.response_key() == field.response_key()
                    && have.same_field(field)
                    && covers(&have.selection_set, &field.selection_set))
        }),
        Selection::Fragment(fragment) => available.items.iter().any(|candidate| {
            matches!(candidate, Selection::Fragment(have)
                if have.type_condition == fragment.type_condition
                    && covers(&have.selection_set, &fragment.selection_set))
        }),
    })
}

/// Adds a root field to the group of its subgraph (the last group only, for mutations,
/// whose root fields run in order).
fn add_to_group(groups: &mut Vec<(GraphId, SelectionSet)>, graph: GraphId, field: Field, sequential: bool) {
    let position = if sequential {
        groups
            .last()
            .filter(|(g, _)| *g == graph)
            .map(|_| groups.len() - 1)
    } else {
        groups.iter().position(|(g, _)| *g == graph)
    };
    match position {
        Some(index) => {
            groups[index].1.add_field_aliased(field);
        }
        None => groups.push((
            graph,
            SelectionSet {
                items: vec![Selection::Field(field)],
            },
        )),
    }
}

/// The plan for `groups` (indices into `deps`, the groups each group waits for):
/// groups that share no dependency run in parallel; a connected set runs the
/// groups that wait for none of the others first, then the rest. No group waits
/// for more than it did when the groups ran level by level.
fn schedule(groups: &[usize], deps: &[BTreeSet<usize>], node: &dyn Fn(usize) -> PlanNode) -> PlanNode {
    if let [group] = groups {
        return node(*group);
    }
    let components = connected_components(groups, deps);
    if components.len() > 1 {
        let parallel = components
            .iter()
            .map(|component| schedule(component, deps, node))
            .flat_map(|child| match child {
                PlanNode::Parallel(children) => children,
                child => vec![child],
            })
            .collect();
        return PlanNode::Parallel(parallel);
    }
    let (first, rest): (Vec<usize>, Vec<usize>) = groups
        .iter()
        .partition(|&&g| !deps[g].iter().any(|d| groups.contains(d)));
    let mut sequence = Vec::new();
    for part in [first, rest] {
        match schedule(&part, deps, node) {
            PlanNode::Sequence(children) => sequence.extend(children),
            child => sequence.push(child),
        }
    }
    PlanNode::Sequence(sequence)
}

/// `groups` split into sets linked by dependencies (each in the order given).
fn connected_components(groups: &[usize], deps: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    let mut component: Vec<usize> = (0..groups.len()).collect();
    fn root(component: &mut [usize], mut i: usize) -> usize {
        while component[i] != i {
            component[i] = component[component[i]];
            i = component[i];
        }
        i
    }
    for (i, g) in groups.iter().enumerate() {
        for d in &deps[*g] {
            if let Some(j) = groups.iter().position(|x| x == d) {
                let (a, b) = (root(&mut component, i), root(&mut component, j));
                component[a.max(b)] = a.min(b);
            }
        }
    }
    let mut components: Vec<Vec<usize>> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    for (i, g) in groups.iter().enumerate() {
        let r = root(&mut component, i);
        match roots.iter().position(|&x| x == r) {
            Some(index) => components[index].push(*g),
            None => {
                roots.push(r);
                components.push(vec![*g]);
            }
        }
    }
    components
}

/// A `Sequence` or `Parallel` of one node is that node.
fn flatten_single(node: PlanNode) -> PlanNode {
    match node {
        PlanNode::Sequence(mut nodes) | PlanNode::Parallel(mut nodes) if nodes.len() == 1 => nodes.remove(0),
        other => other,
    }
}

/// The field named `name` in a provided field set, looking into fragments that apply
/// to `parent`.
fn find_field<'s>(
    set: &'s SelectionSet,
    name: &str,
    parent: &Name,
    supergraph: &Supergraph,
) -> Option<&'s Field> {
    set.items.iter().find_map(|item| match item {
        Selection::Field(field) if field.name == name => Some(field),
        Selection::Fragment(fragment) if supergraph.type_matches(&fragment.type_condition, parent) => {
            find_field(&fragment.selection_set, name, parent, supergraph)
        }
        _ => None,
    })
}

/// A provided field set seen from a narrower type: its fields plus those of fragments
/// on that type.
fn provided_for_type(provided: &SelectionSet, condition: &Name) -> SelectionSet {
    let mut out = SelectionSet::default();
    for item in &provided.items {
        match item {
            Selection::Field(field) => {
                out.add_field(field.clone());
            }
            Selection::Fragment(fragment) if fragment.type_condition == *condition => {
                out.merge(fragment.selection_set.clone())
            }
            Selection::Fragment(fragment) => {
                out.add_fragment(fragment.type_condition.clone(), fragment.selection_set.clone())
            }
        }
    }
    out
}

/// The selections of `set` (on an abstract type) that apply to objects of type
/// `object`, with fragments that always apply there flattened.
fn restrict_to_object(supergraph: &Supergraph, set: &SelectionSet, object: &Name) -> SelectionSet {
    let mut out = SelectionSet::default();
    for item in &set.items {
        match item {
            Selection::Field(field) => {
                out.add_field(field.clone());
            }
            Selection::Fragment(fragment) => {
                if supergraph.type_matches(&fragment.type_condition, object) {
                    out.merge(restrict_to_object(supergraph, &fragment.selection_set, object));
                }
            }
        }
    }
    out
}
