//! The catalog in a federation: its SDL grows a stub per registered entity
//! type, it composes with the subgraph owning the type, and the `_entities`
//! call the router makes for `customer(id) { name catalog { ... } }` returns
//! the catalog entry with relationships in the same request.

use dictamesh::testing::MemoryAdapter;
use dictamesh::{ID, Subgraph};
use dictamesh_router::compose::{SubgraphInput, compose};
use serde_json::json;

use crate::support::{data, on_both, register};

/// The customers subgraph's customer.
#[dictamesh::entity(key = "id", domain = "customers", source = "crm", lookup = "customer")]
#[derive(Clone, Debug)]
pub struct Customer {
    pub id: ID,
    pub name: String,
}

fn customers() -> Subgraph {
    Subgraph::builder("customers")
        .entity(MemoryAdapter::new([Customer {
            id: ID("c1".into()),
            name: "Ada".into(),
        }]))
        .build()
        .unwrap()
}

#[tokio::test]
async fn registered_types_get_a_catalog_field_that_composes_and_resolves() {
    on_both(|backend, t| async move {
        let catalog = t.catalog().await;
        assert!(!catalog.subgraph().sdl().contains("type Customer"));
        register(&catalog, "Customer", "c1", "crm").await;
        let sdl = catalog.subgraph().sdl().to_string();
        assert!(sdl.contains("type Customer @key(fields: \"id\")"), "{sdl}");
        assert!(sdl.contains("catalog: CatalogEntry"));

        let supergraph = compose(&[
            SubgraphInput { name: "customers".into(), url: "http://customers/graphql".into(), sdl: customers().sdl().into() },
            SubgraphInput { name: "catalog".into(), url: "http://catalog/graphql".into(), sdl },
        ])
        .unwrap_or_else(|failure| panic!("{backend:?}: {:?}", failure.errors));
        assert!(supergraph.sdl.contains("catalog: CatalogEntry"), "{}", supergraph.sdl);

        data(
            &catalog,
            "mutation { recordRelationship(input: {subjectEntityType: \"Customer\", subjectEntityId: \"c1\", \
             relationshipType: \"has_invoice\", objectEntityType: \"Invoice\", objectEntityId: \"i1\"}) { id } }",
            json!({}),
        )
        .await;
        // What the router sends the catalog for the `catalog` part of
        // `customer(id: "c1") { name catalog { ... } }`.
        let found = data(
            &catalog,
            r#"query ($r: [_Any!]!) { _entities(representations: $r) { ... on Customer {
                 catalog { sourceSystem location { fullUrl }
                           relationships { edges { relationship { relationshipType objectEntityId } } }
                           schemaHistory { version } events { hasMore } } } } }"#,
            json!({"r": [{"__typename": "Customer", "id": "c1"}, {"__typename": "Customer", "id": "c404"}]}),
        )
        .await;
        assert_eq!(
            found["_entities"],
            json!([
                {"catalog": {"sourceSystem": "crm", "location": {"fullUrl": "https://crm.example.com/customers/c1"},
                             "relationships": {"edges": [{"relationship": {"relationshipType": "has_invoice", "objectEntityId": "i1"}}]},
                             "schemaHistory": [], "events": {"hasMore": false}}},
                {"catalog": null}
            ])
        );
        // And catalog entries resolve by id as entities of their own.
        let entry = data(&catalog, r#"{ catalogEntry(entityType: "Customer", sourceEntityId: "c1") { id } }"#, json!({})).await;
        let by_id = data(
            &catalog,
            r#"query ($r: [_Any!]!) { _entities(representations: $r) { ... on CatalogEntry { entityType } } }"#,
            json!({"r": [{"__typename": "CatalogEntry", "id": entry["catalogEntry"]["id"]}]}),
        )
        .await;
        assert_eq!(by_id["_entities"], json!([{"entityType": "Customer"}]));
    })
    .await;
}
