//! Normalized selection sets: what the planner reads from client operations and field
//! sets, and what it writes into subgraph operations.
//!
//! "Normalized" means: fragment spreads inlined, `@skip`/`@include` already applied,
//! fields with the same response key merged, and inline fragments kept only where their
//! type condition narrows the parent type.

use std::fmt::Write;

use apollo_compiler::Name;
use apollo_compiler::Node;
use apollo_compiler::ast;

/// A list of selections on one parent type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SelectionSet {
    /// The selections, in order.
    pub items: Vec<Selection>,
}

/// One selection: a field or an inline fragment with a type condition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Selection {
    /// A field.
    Field(Field),
    /// `... on Type { ... }`.
    Fragment(InlineFragment),
}

/// A field selection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    /// The alias, when the client gave one.
    pub alias: Option<Name>,
    /// The field name.
    pub name: Name,
    /// Arguments, values as written (variables stay variables).
    pub arguments: Vec<Node<ast::Argument>>,
    /// The sub-selection (empty for leaf fields).
    pub selection_set: SelectionSet,
}

/// An inline fragment that narrows the parent type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InlineFragment {
    /// The type condition.
    pub type_condition: Name,
    /// The selections under it.
    pub selection_set: SelectionSet,
}

impl Field {
    /// A field without alias, arguments or sub-selection.
    pub fn leaf(name: Name) -> Self {
        Field {
            alias: None,
            name,
            arguments: Vec::new(),
            selection_set: SelectionSet::default(),
        }
    }

    /// The key this field has in a response: its alias, or its name.
    pub fn response_key(&self) -> &Name {
        self.alias.as_ref().unwrap_or(&self.name)
    }

    /// Whether two fields select the same thing (name and arguments), whatever their
    /// sub-selections.
    pub fn same_field(&self, other: &Field) -> bool {
        self.name == other.name && self.arguments == other.arguments
    }
}

impl SelectionSet {
    /// Whether there is nothing selected.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds a field, merging it with a field of the same response key.
    ///
    /// Returns `false`, adding nothing, when a different field (other name or arguments)
    /// already uses that response key.
    pub fn add_field(&mut self, field: Field) -> bool {
        for item in &mut self.items {
            if let Selection::Field(existing) = item
                && existing.response_key() == field.response_key()
            {
                if !existing.same_field(&field) {
                    return false;
                }
                existing.selection_set.merge(field.selection_set);
                return true;
            }
        }
        self.items.push(Selection::Field(field));
        true
    }

    /// Adds `__typename` unless it is already selected.
    pub fn add_typename(&mut self) {
        let typename = Field::leaf(Name::new_static_unchecked("__typename"));
        let present = self
            .items
            .iter()
            .any(|item| matches!(item, Selection::Field(f) if f.alias.is_none() && f.name == "__typename"));
        if !present {
            self.items.insert(0, Selection::Field(typename));
        }
    }

    /// Adds an inline fragment, merging it with one of the same type condition.
    pub fn add_fragment(&mut self, type_condition: Name, selection_set: SelectionSet) {
        for item in &mut self.items {
            if let Selection::Fragment(existing) = item
                && existing.type_condition == type_condition
            {
                existing.selection_set.merge(selection_set);
                return;
            }
        }
        self.items.push(Selection::Fragment(InlineFragment {
            type_condition,
            selection_set,
        }));
    }

    /// Merges another selection set into this one.
    ///
    /// A field whose response key is taken by a different field is added under a
    /// fresh alias instead (see [`SelectionSet::add_field_aliased`]).
    pub fn merge(&mut self, other: SelectionSet) {
        for item in other.items {
            match item {
                Selection::Field(field) => {
                    self.add_field_aliased(field);
                }
                Selection::Fragment(fragment) => {
                    self.add_fragment(fragment.type_condition, fragment.selection_set)
                }
            }
        }
    }

    /// Adds a field; when its response key is taken by a different field, adds it under
    /// an alias `_<n>_<name>` that is free. Returns the response key used.
    pub fn add_field_aliased(&mut self, field: Field) -> Name {
        let key = field.response_key().clone();
        if self.add_field(field.clone()) {
            return key;
        }
        for existing in &self.items {
            if let Selection::Field(f) = existing
                && f.same_field(&field)
                && f.alias.as_ref().is_some_and(|a| a.starts_with('_'))
            {
                let alias = f.response_key().clone();
                let mut aliased = field;
                aliased.alias = Some(alias.clone());
                self.add_field(aliased);
                return alias;
            }
        }
        let mut n = 0;
        loop {
            let candidate = format!("_{n}_{}", field.name);
            let taken = self
                .items
                .iter()
                .any(|item| matches!(item, Selection::Field(f) if f.response_key().as_str() == candidate));
            if !taken && let Ok(alias) = Name::new(&candidate) {
                let mut aliased = field;
                aliased.alias = Some(alias.clone());
                self.items.push(Selection::Field(aliased));
                return alias;
            }
            n += 1;
        }
    }

    /// Prints the selection set as GraphQL, `{ ... }` included; `variables` collects the
    /// names of the variables used.
    pub fn write_graphql(&self, out: &mut String, variables: &mut Vec<Name>) {
        out.push('{');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            match item {
                Selection::Field(field) => {
                    if let Some(alias) = &field.alias {
                        let _ = write!(out, "{alias}:");
                    }
                    out.push_str(&field.name);
                    if !field.arguments.is_empty() {
                        out.push('(');
                        for (j, argument) in field.arguments.iter().enumerate() {
                            if j > 0 {
                                out.push(',');
                            }
                            collect_variables(&argument.value, variables);
                            let _ = write!(out, "{}:{}", argument.name, argument.value);
                        }
                        out.push(')');
                    }
                    if !field.selection_set.is_empty() {
                        field.selection_set.write_graphql(out, variables);
                    }
                }
                Selection::Fragment(fragment) => {
                    let _ = write!(out, "...on {}", fragment.type_condition);
                    fragment.selection_set.write_graphql(out, variables);
                }
            }
        }
        out.push('}');
    }

    /// The selection set printed as GraphQL (without the variables it uses).
    pub fn to_graphql(&self) -> String {
        let mut out = String::new();
        self.write_graphql(&mut out, &mut Vec::new());
        out
    }
}

/// Adds the variables used in `value` to `variables` (once each).
fn collect_variables(value: &ast::Value, variables: &mut Vec<Name>) {
    match value {
        ast::Value::Variable(name) if !variables.contains(name) => variables.push(name.clone()),
        ast::Value::List(items) => {
            for item in items {
                collect_variables(item, variables);
            }
        }
        ast::Value::Object(fields) => {
            for (_, item) in fields {
                collect_variables(item, variables);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::new(text).expect("valid name")
    }

    #[test]
    fn fields_with_the_same_key_merge_and_conflicts_get_an_alias() {
        let mut set = SelectionSet::default();
        let mut parent = Field::leaf(name("product"));
        parent.selection_set.add_field(Field::leaf(name("id")));
        set.add_field(parent.clone());
        let mut again = Field::leaf(name("product"));
        again.selection_set.add_field(Field::leaf(name("name")));
        set.add_field(again);
        assert_eq!(set.to_graphql(), "{product{id name}}");

        let mut conflicting = SelectionSet::default();
        let mut aliased = Field::leaf(name("name"));
        aliased.alias = Some(name("id"));
        conflicting.add_field(aliased);
        let key = conflicting.add_field_aliased(Field::leaf(name("id")));
        assert_eq!(key.as_str(), "_0_id");
        assert_eq!(conflicting.to_graphql(), "{id:name _0_id:id}");
    }
}
