//! Batching entity fetches: the `_entities` fetches of one `Parallel` step that go
//! to the same subgraph are sent as one request. Fetches with the same operation
//! share one aliased `_entities` field (their representations de-duplicated
//! together); different operations get one alias each (`_e0`, `_e1`, ...). A
//! subgraph then answers one request per step instead of one per fetch.

use apollo_compiler::Name;
use apollo_compiler::ast::OperationType;

use super::model::BatchFetchNode;
use super::model::EntityBatch;
use super::model::FetchNode;
use super::model::PlanNode;
use super::model::ResponsePath;

/// The plan with the entity fetches of each `Parallel` step batched per subgraph.
pub(super) fn batch_entity_fetches(node: PlanNode) -> PlanNode {
    match node {
        PlanNode::Sequence(nodes) => {
            PlanNode::Sequence(nodes.into_iter().map(batch_entity_fetches).collect())
        }
        PlanNode::Parallel(nodes) => batch_parallel(nodes),
        other => other,
    }
}

/// One `Parallel` step: its entity fetches grouped by subgraph (a group of one
/// stays as it is), every other child batched inside.
fn batch_parallel(nodes: Vec<PlanNode>) -> PlanNode {
    /// A child of the step: a node, or the place of a subgraph's group.
    enum Slot {
        Node(PlanNode),
        Group(usize),
    }
    let mut slots = Vec::new();
    let mut groups: Vec<Vec<(ResponsePath, FetchNode)>> = Vec::new();
    for node in nodes {
        match into_entity_fetch(node) {
            Ok(member) => match groups.iter().position(|group| group[0].1.graph == member.1.graph) {
                Some(index) => groups[index].push(member),
                None => {
                    slots.push(Slot::Group(groups.len()));
                    groups.push(vec![member]);
                }
            },
            Err(other) => slots.push(Slot::Node(batch_entity_fetches(other))),
        }
    }
    let mut groups: Vec<Option<Vec<(ResponsePath, FetchNode)>>> = groups.into_iter().map(Some).collect();
    let mut children: Vec<PlanNode> = slots
        .into_iter()
        .filter_map(|slot| match slot {
            Slot::Node(node) => Some(node),
            Slot::Group(index) => groups[index].take().map(group_node),
        })
        .collect();
    match children.len() {
        1 => children.remove(0),
        _ => PlanNode::Parallel(children),
    }
}

/// The node for one subgraph's entity fetches: the fetch itself when alone.
fn group_node(mut members: Vec<(ResponsePath, FetchNode)>) -> PlanNode {
    if members.len() > 1 {
        return PlanNode::BatchFetch(Box::new(batch(members)));
    }
    let (path, fetch) = members.remove(0);
    PlanNode::Flatten {
        path,
        node: Box::new(PlanNode::Fetch(Box::new(fetch))),
    }
}

/// The path and fetch of a `Flatten` over an `_entities` fetch, or the node back.
fn into_entity_fetch(node: PlanNode) -> Result<(ResponsePath, FetchNode), PlanNode> {
    match node {
        PlanNode::Flatten { path, node } => match *node {
            PlanNode::Fetch(fetch) if fetch.entity_selection.is_some() && fetch.requires.is_some() => {
                Ok((path, *fetch))
            }
            node => Err(PlanNode::Flatten {
                path,
                node: Box::new(node),
            }),
        },
        other => Err(other),
    }
}

/// Whether two entity fetches ask the same of each entity (one alias serves both;
/// their operations differ only in name).
fn same_fetch(a: &FetchNode, b: &FetchNode) -> bool {
    a.entity_selection == b.entity_selection
        && a.variable_definitions == b.variable_definitions
        && a.requires == b.requires
        && a.input_rewrites == b.input_rewrites
        && a.output_renames == b.output_renames
}

/// The batch of `members` (entity fetches to one subgraph).
fn batch(members: Vec<(ResponsePath, FetchNode)>) -> BatchFetchNode {
    let mut grouped: Vec<(Vec<ResponsePath>, FetchNode)> = Vec::new();
    for (path, fetch) in members {
        match grouped.iter_mut().find(|(_, f)| same_fetch(f, &fetch)) {
            Some((paths, _)) => paths.push(path),
            None => grouped.push((vec![path], fetch)),
        }
    }
    let mut variable_usages: Vec<Name> = Vec::new();
    let mut client_definitions: Vec<String> = Vec::new();
    for (_, fetch) in &grouped {
        for usage in &fetch.variable_usages {
            if !variable_usages.contains(usage) {
                variable_usages.push(usage.clone());
            }
        }
        for definition in &fetch.variable_definitions {
            if !client_definitions.contains(definition) {
                client_definitions.push(definition.clone());
            }
        }
    }
    // The representations' variables must not take a client variable's name.
    let mut prefix = String::from("representations");
    while variable_usages
        .iter()
        .any(|usage| usage.starts_with(prefix.as_str()))
    {
        prefix.insert(0, '_');
    }
    let mut definitions = Vec::new();
    let mut body = String::from("{");
    let mut batches = Vec::new();
    for (index, (paths, fetch)) in grouped.into_iter().enumerate() {
        let variable = format!("{prefix}{index}");
        let alias = format!("_e{index}");
        definitions.push(format!("${variable}:[_Any!]!"));
        body.push_str(&format!(
            "{alias}:_entities(representations:${variable}){}",
            fetch.entity_selection.as_deref().unwrap_or("{__typename}")
        ));
        batches.push(EntityBatch {
            alias,
            paths,
            fetch,
            representations_variable: variable,
        });
    }
    body.push('}');
    definitions.extend(client_definitions.iter().cloned());
    let first = &batches[0].fetch;
    let mut operation = String::from("query");
    if let Some(name) = operation_name(&first.operation) {
        operation.push(' ');
        operation.push_str(name);
    }
    operation.push('(');
    operation.push_str(&definitions.join(","));
    operation.push(')');
    operation.push_str(&body);
    BatchFetchNode {
        request: FetchNode {
            graph: first.graph,
            subgraph_name: first.subgraph_name.clone(),
            operation_kind: OperationType::Query,
            operation,
            variable_usages,
            requires: None,
            input_rewrites: Vec::new(),
            output_renames: Vec::new(),
            entity_selection: None,
            variable_definitions: client_definitions,
        },
        batches,
    }
}

/// The name of an operation the planner wrote (`query Name__graph__1(...){...}`).
fn operation_name(operation: &str) -> Option<&str> {
    let rest = operation.strip_prefix("query ")?;
    let end = rest.find(['(', '{']).unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::selection::SelectionSet;

    fn entity_fetch(selection: &str, variables: &[(&str, &str)]) -> (ResponsePath, FetchNode) {
        let fetch = FetchNode {
            graph: 1,
            subgraph_name: "reviews".to_string(),
            operation_kind: OperationType::Query,
            operation: format!(
                "query Top__reviews__1($representations:[_Any!]!){{_entities(representations:$representations){selection}}}"
            ),
            variable_usages: variables
                .iter()
                .map(|(name, _)| Name::new(name).expect("a name"))
                .collect(),
            requires: Some(SelectionSet::default()),
            input_rewrites: Vec::new(),
            output_renames: Vec::new(),
            entity_selection: Some(selection.to_string()),
            variable_definitions: variables
                .iter()
                .map(|(_, definition)| definition.to_string())
                .collect(),
        };
        (Vec::new(), fetch)
    }

    #[test]
    fn representations_variables_never_take_a_client_variables_name() {
        let batch = batch(vec![
            entity_fetch(
                "{...on Product{reviews(first:$representations0){body}}}",
                &[("representations0", "$representations0:Int")],
            ),
            entity_fetch("{...on Product{reviews(first:$n){stars}}}", &[("n", "$n:Int=2")]),
        ]);
        assert_eq!(
            batch.request.operation,
            "query Top__reviews__1($_representations0:[_Any!]!,$_representations1:[_Any!]!,$representations0:Int,$n:Int=2)\
             {_e0:_entities(representations:$_representations0){...on Product{reviews(first:$representations0){body}}}\
             _e1:_entities(representations:$_representations1){...on Product{reviews(first:$n){stars}}}}"
        );
        assert_eq!(batch.request.variable_usages, ["representations0", "n"]);
        assert_eq!(batch.batches[1].representations_variable, "_representations1");
    }
}
