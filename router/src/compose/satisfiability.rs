//! Satisfiability: every field of every type reachable from a root operation must be
//! resolvable by some subgraph the query planner can get to.
//!
//! This is a simplified version of Apollo's check, run on the supergraph's join directives
//! (what a router sees): a state is "type `T` being resolved by subgraph `g`". Roots start in
//! every subgraph defining them; a state moves along fields `g` resolves, to the possible
//! runtime types of abstract types, and to another subgraph through a resolvable `@key` whose
//! fields `g` can provide (also to `@interfaceObject`s). A field is satisfied if some reached
//! state resolves it (`@provides` counts, `@interfaceObject` fields count for
//! implementations) and the fields its `@requires` needs are resolvable from reached states.

use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::VecDeque;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use super::error::CompositionError;
use super::error::ErrorCode;
use super::field_set::FieldCoordinate;
use super::field_set::parse_field_set;
use super::field_set::selected_fields;

type GraphId = usize;
type State = (GraphId, Name);

struct JoinKey {
    graph: GraphId,
    resolvable: bool,
    /// Fields the key selects; `None` if it does not parse on the type.
    selected: Option<Vec<FieldCoordinate>>,
}

#[derive(Default)]
struct TypeJoin {
    graphs: HashSet<GraphId>,
    interface_object_in: HashSet<GraphId>,
    keys: Vec<JoinKey>,
    possible_types: HashMap<GraphId, Vec<Name>>,
}

#[derive(Default)]
struct FieldJoin {
    /// `None`: no `@join__field`, resolved wherever the parent type is.
    resolvers: Option<HashSet<GraphId>>,
    /// Added to an implementation by an `@interfaceObject` (argument-less `@join__field`).
    from_interface_object: bool,
    requires: Vec<(GraphId, String)>,
    provides: Vec<(GraphId, String)>,
}

enum Step {
    Root,
    Field(State, Name),
    TypeCondition(State),
    EntityJump(State),
}

struct Analysis<'s> {
    schema: &'s Valid<Schema>,
    graph_names: Vec<String>,
    types: HashMap<Name, TypeJoin>,
    fields: HashMap<FieldCoordinate, FieldJoin>,
    provided: HashSet<(GraphId, FieldCoordinate)>,
    reached: HashMap<State, Step>,
    reached_by_type: HashMap<Name, Vec<GraphId>>,
}

/// Checks that every reachable field of the supergraph can be resolved.
pub fn check_satisfiability(schema: &Valid<Schema>) -> Vec<CompositionError> {
    let mut analysis = Analysis::new(schema);
    analysis.explore();
    analysis.unsatisfied_fields()
}

fn argument<'a>(directive: &'a ast::Directive, name: &str) -> Option<&'a ast::Value> {
    directive.specified_argument_by_name(name).map(|v| &**v)
}

impl<'s> Analysis<'s> {
    fn new(schema: &'s Valid<Schema>) -> Self {
        let mut graph_ids: HashMap<Name, GraphId> = HashMap::new();
        let mut graph_names = Vec::new();
        if let Some(ExtendedType::Enum(graphs)) = schema.types.get("join__Graph") {
            for (value, definition) in &graphs.values {
                let name = definition
                    .directives
                    .get("join__graph")
                    .and_then(|d| argument(d, "name"))
                    .and_then(|v| v.as_str())
                    .unwrap_or(value.as_str());
                graph_ids.insert(value.clone(), graph_names.len());
                graph_names.push(name.to_string());
            }
        }
        let graph_of = |directive: &ast::Directive| -> Option<GraphId> {
            match argument(directive, "graph")? {
                ast::Value::Enum(value) => graph_ids.get(value).copied(),
                _ => None,
            }
        };
        let mut analysis = Analysis {
            schema,
            graph_names,
            types: HashMap::new(),
            fields: HashMap::new(),
            provided: HashSet::new(),
            reached: HashMap::new(),
            reached_by_type: HashMap::new(),
        };
        for (type_name, ty) in &schema.types {
            let mut join = TypeJoin::default();
            for directive in ty.directives().get_all("join__type") {
                let Some(graph) = graph_of(directive) else {
                    continue;
                };
                join.graphs.insert(graph);
                if argument(directive, "isInterfaceObject").and_then(|v| v.to_bool()) == Some(true) {
                    join.interface_object_in.insert(graph);
                }
                if let Some(fields) = argument(directive, "key").and_then(|v| v.as_str()) {
                    join.keys.push(JoinKey {
                        graph,
                        resolvable: argument(directive, "resolvable")
                            .and_then(|v| v.to_bool())
                            .unwrap_or(true),
                        selected: parse_field_set(schema, type_name, fields)
                            .ok()
                            .map(|field_set| selected_fields(&field_set.selection_set)),
                    });
                }
            }
            if let ExtendedType::Union(_) = ty {
                for directive in ty.directives().get_all("join__unionMember") {
                    let member = argument(directive, "member").and_then(|v| v.as_str());
                    if let (Some(graph), Some(member)) = (graph_of(directive), member) {
                        join.possible_types
                            .entry(graph)
                            .or_default()
                            .push(Name::new_unchecked(member));
                    }
                }
            }
            analysis.types.insert(type_name.clone(), join);
        }
        for (type_name, ty) in &schema.types {
            for directive in ty.directives().get_all("join__implements") {
                let interface = argument(directive, "interface").and_then(|v| v.as_str());
                let graph = graph_of(directive);
                let join = interface.and_then(|i| analysis.types.get_mut(i));
                if let (Some(graph), Some(join)) = (graph, join) {
                    join.possible_types
                        .entry(graph)
                        .or_default()
                        .push(type_name.clone());
                }
            }
            let fields = match ty {
                ExtendedType::Object(o) => &o.fields,
                ExtendedType::Interface(i) => &i.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let mut join = FieldJoin::default();
                for directive in field.directives.get_all("join__field") {
                    let Some(graph) = graph_of(directive) else {
                        join.from_interface_object = true;
                        continue;
                    };
                    let flag = |name| argument(directive, name).and_then(|v| v.to_bool()) == Some(true);
                    let resolvers = join.resolvers.get_or_insert_with(HashSet::new);
                    if !flag("external") && !flag("usedOverridden") {
                        resolvers.insert(graph);
                    }
                    if let Some(requires) = argument(directive, "requires").and_then(|v| v.as_str()) {
                        join.requires.push((graph, requires.to_string()));
                    }
                    if let Some(provides) = argument(directive, "provides").and_then(|v| v.as_str()) {
                        join.provides.push((graph, provides.to_string()));
                    }
                }
                for (graph, provides) in &join.provides {
                    let target = field.ty.inner_named_type();
                    if let Ok(field_set) = parse_field_set(schema, target, provides) {
                        for coordinate in selected_fields(&field_set.selection_set) {
                            analysis.provided.insert((*graph, coordinate));
                        }
                    }
                }
                analysis
                    .fields
                    .insert((type_name.clone(), field_name.clone()), join);
            }
        }
        analysis
    }

    fn resolves(&self, graph: GraphId, coordinate: &FieldCoordinate) -> bool {
        if coordinate.1 == "__typename" {
            return true;
        }
        let Some(field) = self.fields.get(coordinate) else {
            return false;
        };
        let by_join = match &field.resolvers {
            None => self
                .types
                .get(&coordinate.0)
                .is_some_and(|t| t.graphs.contains(&graph)),
            Some(graphs) => graphs.contains(&graph),
        };
        by_join || self.provided.contains(&(graph, coordinate.clone()))
    }

    fn fields_of(&self, type_name: &str) -> Vec<(Name, Name)> {
        match self.schema.types.get(type_name) {
            Some(ExtendedType::Object(o)) => o
                .fields
                .iter()
                .map(|(n, f)| (n.clone(), f.ty.inner_named_type().clone()))
                .collect(),
            Some(ExtendedType::Interface(i)) => i
                .fields
                .iter()
                .map(|(n, f)| (n.clone(), f.ty.inner_named_type().clone()))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn visit(&mut self, queue: &mut VecDeque<State>, state: State, step: Step) {
        if !self.reached.contains_key(&state) {
            self.reached_by_type
                .entry(state.1.clone())
                .or_default()
                .push(state.0);
            self.reached.insert(state.clone(), step);
            queue.push_back(state);
        }
    }

    fn explore(&mut self) {
        let mut queue = VecDeque::new();
        let roots: Vec<Name> = self
            .schema
            .schema_definition
            .iter_root_operations()
            .map(|(_, name)| name.name.clone())
            .collect();
        for root in roots {
            let graphs: Vec<GraphId> = self
                .types
                .get(&root)
                .map(|t| t.graphs.iter().copied().collect())
                .unwrap_or_default();
            for graph in graphs {
                self.visit(&mut queue, (graph, root.clone()), Step::Root);
            }
        }
        loop {
            self.drain(&mut queue);
            let mut states: Vec<State> = self.reached.keys().cloned().collect();
            states.sort();
            for state in states {
                for target in self.entity_jumps(state.0, &state.1) {
                    self.visit(&mut queue, target, Step::EntityJump(state.clone()));
                }
            }
            if queue.is_empty() {
                break;
            }
        }
    }

    fn drain(&mut self, queue: &mut VecDeque<State>) {
        while let Some(state) = queue.pop_front() {
            let (graph, type_name) = state.clone();
            for (field_name, target) in self.fields_of(&type_name) {
                if self.resolves(graph, &(type_name.clone(), field_name.clone()))
                    && self.types.contains_key(&target)
                {
                    self.visit(queue, (graph, target), Step::Field(state.clone(), field_name));
                }
            }
            let possible: Vec<Name> = self
                .types
                .get(&type_name)
                .filter(|t| !t.interface_object_in.contains(&graph))
                .and_then(|t| t.possible_types.get(&graph).cloned())
                .unwrap_or_default();
            for runtime_type in possible {
                self.visit(queue, (graph, runtime_type), Step::TypeCondition(state.clone()));
            }
            for target in self.entity_jumps(graph, &type_name) {
                self.visit(queue, target, Step::EntityJump(state.clone()));
            }
        }
    }

    /// States reachable from `(graph, type_name)` through a resolvable `@key`.
    fn entity_jumps(&self, graph: GraphId, type_name: &Name) -> Vec<State> {
        let mut candidates: Vec<&Name> = vec![type_name];
        if let Some(ExtendedType::Object(o)) = self.schema.types.get(type_name) {
            candidates.extend(o.implements_interfaces.iter().map(|i| &i.name));
        }
        let mut targets = Vec::new();
        for target_type in candidates {
            let Some(join) = self.types.get(target_type) else {
                continue;
            };
            let is_interface_target = target_type != type_name;
            for key in join.keys.iter().filter(|k| k.resolvable && k.graph != graph) {
                if is_interface_target && !join.interface_object_in.contains(&key.graph) {
                    continue;
                }
                if self.can_provide_key(graph, key) {
                    targets.push((key.graph, target_type.clone()));
                }
            }
        }
        targets
    }

    fn can_provide_key(&self, graph: GraphId, key: &JoinKey) -> bool {
        key.selected.as_ref().is_some_and(|selected| {
            selected
                .iter()
                .all(|coordinate| self.resolves(graph, coordinate) || self.resolved_where_reached(coordinate))
        })
    }

    fn reached_graphs(&self, type_name: &Name) -> Vec<GraphId> {
        let mut graphs = self.reached_by_type.get(type_name).cloned().unwrap_or_default();
        graphs.sort();
        graphs
    }

    /// Whether some subgraph where the field's parent type was reached resolves the field.
    fn resolved_where_reached(&self, coordinate: &FieldCoordinate) -> bool {
        self.reached_by_type
            .get(&coordinate.0)
            .is_some_and(|graphs| graphs.iter().any(|g| self.resolves(*g, coordinate)))
    }

    fn is_satisfied(&self, coordinate: &FieldCoordinate, reached: &[GraphId]) -> bool {
        let resolved_in: Vec<GraphId> = reached
            .iter()
            .copied()
            .filter(|g| self.resolves(*g, coordinate))
            .collect();
        let by_interface_object = self
            .fields
            .get(coordinate)
            .is_some_and(|f| f.from_interface_object)
            && self.interfaces_of(&coordinate.0).iter().any(|itf| {
                self.reached_graphs(itf).iter().any(|g| {
                    self.types
                        .get(itf)
                        .is_some_and(|t| t.interface_object_in.contains(g))
                        && self.resolves(*g, &(itf.clone(), coordinate.1.clone()))
                })
            });
        if resolved_in.is_empty() {
            return by_interface_object;
        }
        let Some(field) = self.fields.get(coordinate) else {
            return true;
        };
        resolved_in.iter().any(|graph| {
            field
                .requires
                .iter()
                .filter(|(g, _)| g == graph)
                .all(|(_, requires)| self.requirements_resolvable(&coordinate.0, requires))
        })
    }

    fn requirements_resolvable(&self, type_name: &Name, requires: &str) -> bool {
        let Ok(field_set) = parse_field_set(self.schema, type_name, requires) else {
            return false;
        };
        selected_fields(&field_set.selection_set)
            .iter()
            .filter(|(parent, _)| parent == type_name)
            .all(|coordinate| self.resolved_where_reached(coordinate))
    }

    /// An interface field is also satisfied when every implementation's field is.
    fn is_satisfied_by_implementations(&self, coordinate: &FieldCoordinate) -> bool {
        if self.schema.get_interface(&coordinate.0).is_none() {
            return false;
        }
        let implementations: Vec<&Name> = self
            .schema
            .types
            .iter()
            .filter(|(_, t)| match t {
                ExtendedType::Object(o) => o.implements_interfaces.contains(&coordinate.0),
                _ => false,
            })
            .map(|(n, _)| n)
            .collect();
        !implementations.is_empty()
            && implementations.iter().all(|implementation| {
                let reached = self.reached_graphs(implementation);
                self.is_satisfied(&((*implementation).clone(), coordinate.1.clone()), &reached)
            })
    }

    fn interfaces_of(&self, type_name: &Name) -> Vec<Name> {
        match self.schema.types.get(type_name) {
            Some(ExtendedType::Object(o)) => o.implements_interfaces.iter().map(|i| i.name.clone()).collect(),
            _ => Vec::new(),
        }
    }

    fn unsatisfied_fields(&self) -> Vec<CompositionError> {
        let mut reached_types: Vec<&Name> = self.reached.keys().map(|(_, t)| t).collect();
        reached_types.sort();
        reached_types.dedup();
        let mut errors = Vec::new();
        for type_name in reached_types {
            let reached = self.reached_graphs(type_name);
            let is_object_like = matches!(
                self.schema.types.get(type_name),
                Some(ExtendedType::Object(_) | ExtendedType::Interface(_))
            );
            if !is_object_like {
                continue;
            }
            for (field_name, _) in self.fields_of(type_name) {
                let coordinate = (type_name.clone(), field_name.clone());
                if self.is_inaccessible(&coordinate)
                    || self.is_satisfied(&coordinate, &reached)
                    || self.is_satisfied_by_implementations(&coordinate)
                {
                    continue;
                }
                errors.push(self.unsatisfied_error(&coordinate, &reached));
            }
        }
        errors
    }

    fn is_inaccessible(&self, coordinate: &FieldCoordinate) -> bool {
        self.schema
            .type_field(&coordinate.0, &coordinate.1)
            .is_ok_and(|f| f.directives.get("inaccessible").is_some())
    }

    fn unsatisfied_error(&self, coordinate: &FieldCoordinate, reached: &[GraphId]) -> CompositionError {
        let (type_name, field_name) = coordinate;
        let graph_list = |graphs: &[GraphId]| -> String {
            let names: Vec<String> = graphs
                .iter()
                .map(|g| format!("\"{}\"", self.graph_names[*g]))
                .collect();
            names.join(", ")
        };
        let resolvers: Vec<GraphId> = (0..self.graph_names.len())
            .filter(|g| self.resolves(*g, coordinate))
            .collect();
        let reason = if resolvers.is_empty() {
            format!("no subgraph can resolve field \"{type_name}.{field_name}\"")
        } else if resolvers.iter().any(|g| reached.contains(g)) {
            format!(
                "the fields required by the @requires of \"{type_name}.{field_name}\" cannot be resolved from subgraph(s) {}",
                graph_list(reached)
            )
        } else {
            format!(
                "field \"{type_name}.{field_name}\" is only resolved by subgraph(s) {}, which cannot be reached from subgraph(s) {} where \"{type_name}\" is available (no resolvable @key of \"{type_name}\" there whose fields these subgraphs can provide)",
                graph_list(&resolvers),
                graph_list(reached)
            )
        };
        let start = reached
            .first()
            .map(|g| (*g, type_name.clone()))
            .unwrap_or_else(|| (0, type_name.clone()));
        CompositionError::new(
            ErrorCode::SatisfiabilityError,
            format!(
                "The following supergraph API query:\n{}\ncannot be satisfied by the subgraphs because: {reason}.",
                self.example_query(&start, field_name)
            ),
        )
    }

    /// A query reaching `state` then selecting `field_name`, e.g. `{ a { ... on T { f } } }`.
    fn example_query(&self, state: &State, field_name: &Name) -> String {
        let mut selections: Vec<String> = Vec::new();
        let mut current = state.clone();
        let mut last_type = state.1.clone();
        let mut guard = 0;
        while let Some(step) = self.reached.get(&current) {
            guard += 1;
            if guard > 64 {
                break;
            }
            match step {
                Step::Root => break,
                Step::Field(previous, field) => {
                    selections.push(field.to_string());
                    current = previous.clone();
                }
                Step::TypeCondition(previous) => {
                    selections.push(format!("... on {last_type}"));
                    current = previous.clone();
                }
                Step::EntityJump(previous) => current = previous.clone(),
            }
            last_type = current.1.clone();
        }
        selections.reverse();
        let mut query = String::from("{ ");
        for selection in &selections {
            query.push_str(selection);
            query.push_str(" { ");
        }
        query.push_str(field_name);
        for _ in &selections {
            query.push_str(" }");
        }
        query.push_str(" }");
        query
    }
}
