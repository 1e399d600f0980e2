//! Which entity type names the catalog accepts: federation type names that do
//! not collide with the catalog's own schema.

use crate::error::CatalogError;

/// Type names of the catalog's own schema (and GraphQL's and Federation's),
/// which no registered entity type may take.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    "CatalogEntry",
    "EntityRegistration",
    "EntityLocation",
    "Cardinality",
    "Relationship",
    "RelationshipInput",
    "GraphEdge",
    "RelationshipGraph",
    "LineageDirection",
    "LineageEdge",
    "LineageStep",
    "EntityRef",
    "LineageInput",
    "EventRecord",
    "EventPage",
    "SchemaFormat",
    "SchemaVersion",
    "SchemaInput",
    "Query",
    "Mutation",
    "Subscription",
    "String",
    "Int",
    "Float",
    "Boolean",
    "ID",
    "JSON",
    "DateTime",
];

/// Checks that `name` can be an entity type: a GraphQL name (letters, digits,
/// `_`, not starting with a digit or `__`) of at most 100 characters that the
/// catalog's schema does not use.
pub fn check_entity_type(name: &str) -> Result<(), CatalogError> {
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
        && name.len() <= 100;
    if !valid {
        return Err(CatalogError::InvalidInput(format!(
            "entityType `{name}` must be a GraphQL type name (letters, digits and `_`, not starting with a \
             digit or `__`, at most 100 characters), e.g. `Customer`"
        )));
    }
    if RESERVED_TYPE_NAMES.contains(&name) || name.starts_with('_') {
        return Err(CatalogError::InvalidInput(format!(
            "entityType `{name}` is reserved by the catalog's own schema; register the entity under its \
             federation type name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_types_are_graphql_names_outside_the_catalog_schema() {
        for good in ["Customer", "customer", "Sales_Order2"] {
            assert!(check_entity_type(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "2fast",
            "sales-order",
            "__Type",
            "_Entity",
            "CatalogEntry",
            "Query",
        ] {
            assert!(check_entity_type(bad).is_err(), "{bad}");
        }
    }
}
