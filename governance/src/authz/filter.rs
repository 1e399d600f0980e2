//! Removing what a [`Decision`] denies from a document: denied fields and type
//! conditions go, and so does a field or fragment whose selections all went (its
//! value becomes `null` in the response, like the denied field's).

use std::collections::HashSet;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Name;
use apollo_compiler::executable;

use super::Decision;

/// The document without the selections the decision denies.
pub fn filter_document(document: &ExecutableDocument, decision: &Decision) -> ExecutableDocument {
    let mut filtered = document.clone();
    // Fragments first, until the set of emptied fragments stops growing (a fragment
    // may only spread fragments that emptied).
    let mut emptied: HashSet<Name> = HashSet::new();
    loop {
        let before = emptied.len();
        for (name, fragment) in filtered.fragments.iter_mut() {
            let fragment = fragment.make_mut();
            filter_set(&mut fragment.selection_set, decision, &emptied, document);
            if fragment.selection_set.selections.is_empty() {
                emptied.insert(name.clone());
            }
        }
        if emptied.len() == before {
            break;
        }
    }
    let operations = filtered
        .operations
        .anonymous
        .iter_mut()
        .chain(filtered.operations.named.values_mut());
    for operation in operations {
        filter_set(
            &mut operation.make_mut().selection_set,
            decision,
            &emptied,
            document,
        );
    }
    filtered
}

fn filter_set(
    set: &mut executable::SelectionSet,
    decision: &Decision,
    emptied: &HashSet<Name>,
    original: &ExecutableDocument,
) {
    let parent = set.ty.clone();
    set.selections.retain_mut(|selection| match selection {
        executable::Selection::Field(field) => {
            if decision
                .denied_fields
                .contains(&(parent.clone(), field.name.clone()))
            {
                return false;
            }
            if field.selection_set.selections.is_empty() {
                return true;
            }
            let field = field.make_mut();
            filter_set(&mut field.selection_set, decision, emptied, original);
            !field.selection_set.selections.is_empty()
        }
        executable::Selection::InlineFragment(fragment) => {
            if fragment
                .type_condition
                .as_ref()
                .is_some_and(|c| *c != parent && decision.denied_types.contains(c))
            {
                return false;
            }
            let fragment = fragment.make_mut();
            filter_set(&mut fragment.selection_set, decision, emptied, original);
            !fragment.selection_set.selections.is_empty()
        }
        executable::Selection::FragmentSpread(spread) => {
            let condition = original
                .fragments
                .get(&spread.fragment_name)
                .map(|f| f.type_condition().clone());
            let denied = condition.is_some_and(|c| c != parent && decision.denied_types.contains(&c));
            !denied && !emptied.contains(&spread.fragment_name)
        }
    });
}
