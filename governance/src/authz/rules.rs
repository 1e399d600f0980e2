//! The access rules of a supergraph: what `@authenticated`, `@requiresScopes` and
//! `@policy` require, read once from the schema and indexed by parent type and field.
//!
//! Selecting a field requires what the field's own directives require, what its
//! return type requires (an interface also what each of its implementations
//! requires), and, on an interface, what each implementation's field requires.
//! A type condition (`... on T`) requires what `T` requires. A field marked `@pii`
//! (by the kit's `#[dictamesh(pii)]`) is recorded as personal data and, when a PII
//! scope is configured, requires that scope.

use std::collections::HashMap;
use std::sync::Arc;

use apollo_compiler::Name;
use apollo_compiler::Schema;
use apollo_compiler::ast;
use apollo_compiler::schema::DirectiveList;
use apollo_compiler::schema::ExtendedType;

/// Alternatives of requirement groups: at least one group must be met in full (the
/// outer list is OR, the inner list AND).
pub type Alternatives = Vec<Vec<String>>;

/// What selecting a field or a type condition requires. Each entry of `scopes` and
/// `policies` comes from one directive, and every entry must be met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirement {
    /// A valid token is needed (`@authenticated`).
    pub authenticated: bool,
    /// `@requiresScopes(scopes:)` arguments.
    pub scopes: Vec<Alternatives>,
    /// `@policy(policies:)` arguments.
    pub policies: Vec<Alternatives>,
    /// The field holds personal data (`@pii`): reading it is audited.
    pub pii: bool,
}

impl Requirement {
    /// Whether nothing is required.
    pub fn is_empty(&self) -> bool {
        !self.authenticated && self.scopes.is_empty() && self.policies.is_empty() && !self.pii
    }

    fn from_directives(directives: &DirectiveList) -> Requirement {
        Requirement::from_iter(directives.iter().map(|d| d.as_ref()))
    }

    fn from_ast(directives: &ast::DirectiveList) -> Requirement {
        Requirement::from_iter(directives.iter().map(|d| d.as_ref()))
    }

    fn from_iter<'a>(directives: impl Iterator<Item = &'a ast::Directive>) -> Requirement {
        let mut requirement = Requirement::default();
        for directive in directives {
            match directive.name.as_str() {
                "authenticated" => requirement.authenticated = true,
                "requiresScopes" => requirement
                    .scopes
                    .push(alternatives(directive.specified_argument_by_name("scopes"))),
                "policy" => requirement
                    .policies
                    .push(alternatives(directive.specified_argument_by_name("policies"))),
                _ => {}
            }
        }
        requirement
    }

    fn and(&mut self, other: &Requirement) {
        self.authenticated |= other.authenticated;
        self.pii |= other.pii;
        for scopes in &other.scopes {
            if !self.scopes.contains(scopes) {
                self.scopes.push(scopes.clone());
            }
        }
        for policies in &other.policies {
            if !self.policies.contains(policies) {
                self.policies.push(policies.clone());
            }
        }
    }
}

/// `[[String]]` as nested vectors (anything else reads as no alternative, which no
/// caller meets).
fn alternatives(value: Option<&apollo_compiler::Node<ast::Value>>) -> Alternatives {
    let Some(ast::Value::List(groups)) = value.map(|v| v.as_ref()) else {
        return Vec::new();
    };
    groups
        .iter()
        .map(|group| match group.as_ref() {
            ast::Value::List(items) => items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect(),
            ast::Value::String(single) => vec![single.clone()],
            _ => Vec::new(),
        })
        .collect()
}

/// The requirements of a schema's fields and types (only those that require
/// something are kept).
#[derive(Debug, Default)]
pub struct AccessRules {
    fields: HashMap<Name, HashMap<Name, Arc<Requirement>>>,
    types: HashMap<Name, Arc<Requirement>>,
    /// The scope `@pii` fields require, when one is configured.
    pii_scope: Option<String>,
}

impl AccessRules {
    /// Reads the authorization directives of a schema (the supergraph or its API
    /// schema); `pii_scope`, when set, is required to read `@pii` fields.
    pub fn from_schema(schema: &Schema, pii_scope: Option<&str>) -> AccessRules {
        let field_requirement = |directives: &ast::DirectiveList| {
            let mut requirement = Requirement::from_ast(directives);
            if directives.iter().any(|d| d.name == "pii") {
                requirement.pii = true;
                if let Some(scope) = pii_scope {
                    requirement.scopes.push(vec![vec![scope.to_string()]]);
                }
            }
            requirement
        };
        let own_type = |name: &str| {
            schema
                .types
                .get(name)
                .map(|ty| Requirement::from_directives(ty.directives()))
                .unwrap_or_default()
        };
        let mut implementers: HashMap<&Name, Vec<&Name>> = HashMap::new();
        for (name, ty) in &schema.types {
            let interfaces = match ty {
                ExtendedType::Object(object) => &object.implements_interfaces,
                ExtendedType::Interface(interface) => &interface.implements_interfaces,
                _ => continue,
            };
            if matches!(ty, ExtendedType::Object(_)) {
                for interface in interfaces {
                    implementers.entry(&interface.name).or_default().push(name);
                }
            }
        }
        let effective_type = |name: &str| {
            let mut requirement = own_type(name);
            if let Some(objects) = implementers.get(&Name::new_unchecked(name)) {
                for object in objects {
                    requirement.and(&own_type(object));
                }
            }
            requirement
        };
        let mut rules = AccessRules::default();
        for (name, ty) in &schema.types {
            let requirement = effective_type(name);
            if !requirement.is_empty() {
                rules.types.insert(name.clone(), Arc::new(requirement));
            }
            let fields = match ty {
                ExtendedType::Object(object) => &object.fields,
                ExtendedType::Interface(interface) => &interface.fields,
                _ => continue,
            };
            for (field_name, field) in fields {
                let mut requirement = field_requirement(&field.directives);
                requirement.and(&effective_type(field.ty.inner_named_type()));
                if let ExtendedType::Interface(_) = ty {
                    for object in implementers.get(name).into_iter().flatten() {
                        if let Ok(implementation) = schema.type_field(object, field_name) {
                            requirement.and(&field_requirement(&implementation.directives));
                        }
                    }
                }
                if !requirement.is_empty() {
                    rules
                        .fields
                        .entry(name.clone())
                        .or_default()
                        .insert(field_name.clone(), Arc::new(requirement));
                }
            }
        }
        rules.pii_scope = pii_scope.map(str::to_string);
        rules
    }

    /// `requirement` without the PII scope: what a `@pii` field would require of a
    /// caller who held that scope.
    pub(crate) fn without_pii_scope(&self, requirement: &Requirement) -> Requirement {
        let mut relaxed = requirement.clone();
        if let Some(scope) = &self.pii_scope {
            relaxed
                .scopes
                .retain(|alternatives| *alternatives != vec![vec![scope.clone()]]);
        }
        relaxed
    }

    /// Whether the schema requires anything anywhere.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.types.is_empty()
    }

    /// What selecting `field` on `parent` requires (`None`: nothing).
    pub fn field(&self, parent: &str, field: &str) -> Option<&Arc<Requirement>> {
        self.fields.get(parent)?.get(field)
    }

    /// The fields of `parent` that require something (`None`: none does).
    pub(crate) fn fields_of(&self, parent: &str) -> Option<&HashMap<Name, Arc<Requirement>>> {
        self.fields.get(parent)
    }

    /// What a type condition on `name` requires (`None`: nothing).
    pub fn type_condition(&self, name: &str) -> Option<&Arc<Requirement>> {
        self.types.get(name)
    }

    /// Every policy name used by the schema.
    pub fn policy_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .fields
            .values()
            .flat_map(|fields| fields.values())
            .chain(self.types.values())
            .flat_map(|r| r.policies.iter().flatten().flatten().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEMA: &str = r#"
directive @authenticated on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @requiresScopes(scopes: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
directive @policy(policies: [[String!]!]!) on FIELD_DEFINITION | OBJECT | INTERFACE | SCALAR | ENUM
type Query { me: User, node: Node, secret: Secret, public: String }
interface Node { id: ID! }
type User implements Node { id: ID! email: String @requiresScopes(scopes: [["read:email"], ["admin"]]) }
type Invoice implements Node @authenticated { id: ID! }
scalar Secret @policy(policies: [["vault.read"]])
"#;

    #[test]
    fn field_requirements_include_the_return_type_and_interface_implementations() {
        let schema = Schema::parse_and_validate(SCHEMA, "s.graphql").expect("valid schema");
        let rules = AccessRules::from_schema(&schema, None);
        let email = rules.field("User", "email").expect("email is restricted");
        assert_eq!(
            email.scopes,
            vec![vec![vec!["read:email".to_string()], vec!["admin".to_string()]]]
        );
        assert!(
            rules.field("Query", "node").expect("node").authenticated,
            "Invoice implements Node"
        );
        assert!(
            rules.field("Node", "id").is_none(),
            "no implementation restricts id"
        );
        assert_eq!(rules.field("Query", "secret").expect("secret").policies.len(), 1);
        assert!(rules.field("Query", "public").is_none());
        assert!(rules.type_condition("Invoice").expect("Invoice").authenticated);
        assert_eq!(rules.policy_names(), vec!["vault.read".to_string()]);
    }
}
