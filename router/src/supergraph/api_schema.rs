//! The API schema: the supergraph as clients see it, without the federation
//! machinery (`join__*`, `link__*`, their directives) and without `@inaccessible`
//! types, fields, arguments and enum values, and with `@defer` (incremental
//! delivery, which the router serves) declared.

use apollo_compiler::Schema;
use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;

use super::SupergraphError;

/// Directives that exist only for composition and planning.
fn is_machinery_directive(name: &str) -> bool {
    name.starts_with("join__")
        || name.starts_with("link__")
        || matches!(name, "link" | "inaccessible" | "core" | "tag")
}

fn is_machinery_type(name: &str) -> bool {
    name.starts_with("join__") || name.starts_with("link__") || name.starts_with("core__")
}

/// Builds the API schema of a supergraph.
pub(super) fn api_schema(supergraph: &Valid<Schema>) -> Result<Valid<Schema>, SupergraphError> {
    let mut schema: Schema = supergraph.as_ref().clone();
    let inaccessible = |directives: &apollo_compiler::schema::DirectiveList| directives.has("inaccessible");
    schema
        .types
        .retain(|name, ty| !is_machinery_type(name) && !inaccessible(ty.directives()));
    schema
        .directive_definitions
        .retain(|name, _| !is_machinery_directive(name));
    schema
        .schema_definition
        .make_mut()
        .directives
        .retain(|d| !is_machinery_directive(&d.name));
    let remaining: std::collections::HashSet<_> = schema.types.keys().cloned().collect();
    for ty in schema.types.values_mut() {
        match ty {
            ExtendedType::Object(object) => {
                let object = object.make_mut();
                object.directives.retain(|d| !is_machinery_directive(&d.name));
                object
                    .implements_interfaces
                    .retain(|i| remaining.contains(&i.name));
                object.fields.retain(|_, field| {
                    !field.directives.has("inaccessible") && remaining.contains(field.ty.inner_named_type())
                });
                for field in object.fields.values_mut() {
                    let field = field.make_mut();
                    field.directives.retain(|d| !is_machinery_directive(&d.name));
                    field.arguments.retain(|a| !a.directives.has("inaccessible"));
                }
            }
            ExtendedType::Interface(interface) => {
                let interface = interface.make_mut();
                interface.directives.retain(|d| !is_machinery_directive(&d.name));
                interface
                    .implements_interfaces
                    .retain(|i| remaining.contains(&i.name));
                interface.fields.retain(|_, field| {
                    !field.directives.has("inaccessible") && remaining.contains(field.ty.inner_named_type())
                });
                for field in interface.fields.values_mut() {
                    let field = field.make_mut();
                    field.directives.retain(|d| !is_machinery_directive(&d.name));
                    field.arguments.retain(|a| !a.directives.has("inaccessible"));
                }
            }
            ExtendedType::Union(union_) => {
                let union_ = union_.make_mut();
                union_.directives.retain(|d| !is_machinery_directive(&d.name));
                union_.members.retain(|m| remaining.contains(&m.name));
            }
            ExtendedType::Enum(enum_) => {
                let enum_ = enum_.make_mut();
                enum_.directives.retain(|d| !is_machinery_directive(&d.name));
                enum_.values.retain(|_, v| !v.directives.has("inaccessible"));
                for value in enum_.values.values_mut() {
                    value
                        .make_mut()
                        .directives
                        .retain(|d| !is_machinery_directive(&d.name));
                }
            }
            ExtendedType::InputObject(input) => {
                let input = input.make_mut();
                input.directives.retain(|d| !is_machinery_directive(&d.name));
                input.fields.retain(|_, f| !f.directives.has("inaccessible"));
                for field in input.fields.values_mut() {
                    field
                        .make_mut()
                        .directives
                        .retain(|d| !is_machinery_directive(&d.name));
                }
            }
            ExtendedType::Scalar(scalar) => {
                scalar
                    .make_mut()
                    .directives
                    .retain(|d| !is_machinery_directive(&d.name));
            }
        }
    }
    let root_names: Vec<_> = schema
        .schema_definition
        .iter_root_operations()
        .map(|(kind, name)| (kind, name.name.clone()))
        .collect();
    for (kind, name) in root_names {
        if !remaining.contains(&name) {
            let definition = schema.schema_definition.make_mut();
            match kind {
                apollo_compiler::ast::OperationType::Query => definition.query = None,
                apollo_compiler::ast::OperationType::Mutation => definition.mutation = None,
                apollo_compiler::ast::OperationType::Subscription => definition.subscription = None,
            }
        }
    }
    declare_defer(&mut schema);
    schema
        .validate()
        .map_err(|e| SupergraphError::InvalidApiSchema(e.errors.to_string()))
}

/// Declares `@defer` (as Apollo Router does) unless the supergraph has its own.
fn declare_defer(schema: &mut Schema) {
    if schema.directive_definitions.contains_key("defer") {
        return;
    }
    let definition = apollo_compiler::ast::Document::parse(
        "directive @defer(label: String, if: Boolean! = true) on FRAGMENT_SPREAD | INLINE_FRAGMENT",
        "defer.graphql",
    );
    if let Ok(document) = definition {
        for definition in &document.definitions {
            if let apollo_compiler::ast::Definition::DirectiveDefinition(directive) = definition {
                schema
                    .directive_definitions
                    .insert(directive.name.clone(), directive.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_inaccessible_elements_and_join_machinery() {
        let supergraph = r#"
schema @link(url: "https://specs.apollo.dev/link/v1.0") @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
directive @link(url: String, as: String, for: link__Purpose, import: [link__Import]) repeatable on SCHEMA
directive @join__graph(name: String!, url: String!) on ENUM_VALUE
directive @inaccessible on FIELD_DEFINITION | OBJECT | INTERFACE | UNION | ARGUMENT_DEFINITION | SCALAR | ENUM | ENUM_VALUE | INPUT_OBJECT | INPUT_FIELD_DEFINITION
scalar link__Import
enum link__Purpose { SECURITY EXECUTION }
enum join__Graph { A @join__graph(name: "a", url: "http://a") }
type Query { a: String b: Secret @inaccessible c(x: Int @inaccessible): Color }
type Secret @inaccessible { s: String }
enum Color { RED BLUE @inaccessible }
"#;
        let schema = Schema::parse_and_validate(supergraph, "s.graphql").expect("valid");
        let api = api_schema(&schema).expect("api schema");
        let printed = api.to_string();
        assert!(!printed.contains("join__"), "{printed}");
        assert!(!printed.contains("Secret"), "{printed}");
        assert!(!printed.contains("BLUE"), "{printed}");
        assert!(printed.contains("c: Color"), "{printed}");
        assert!(
            printed.contains("directive @defer(label: String, if: Boolean! = true)"),
            "{printed}"
        );
    }
}
