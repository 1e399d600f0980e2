//! Every query and mutation of the catalog subgraph, on both backends.

use serde_json::json;

use crate::support::{data, first_error, gql, on_both, register, registration};

#[tokio::test]
async fn register_entity_is_an_idempotent_upsert_and_entries_are_found_by_type_and_id() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let first = register(&catalog, "Customer", "c-1", "crm").await;
        let again = register(&catalog, "Customer", "c-1", "crm").await;
        assert_eq!(first["id"], again["id"], "registering twice keeps one entry");
        let mut changed = registration("Customer", "c-1", "crm");
        changed["status"] = json!("deprecated");
        changed["availabilitySla"] = json!(0.999);
        let updated = data(
            &catalog,
            "mutation ($i: EntityRegistration!) { registerEntity(input: $i) { id status availabilitySla } }",
            json!({"i": changed}),
        )
        .await;
        assert_eq!(updated["registerEntity"]["id"], first["id"]);
        assert_eq!(updated["registerEntity"]["status"], "deprecated");
        let found = data(
            &catalog,
            r#"{ catalogEntry(entityType: "Customer", sourceEntityId: "c-1") { id domain sourceSystem status }
                 missing: catalogEntry(entityType: "Customer", sourceEntityId: "nope") { id }
                 entityTypes }"#,
            json!({}),
        )
        .await;
        assert_eq!(found["catalogEntry"]["id"], first["id"]);
        assert_eq!(found["catalogEntry"]["domain"], "customers");
        assert_eq!(found["missing"], json!(null));
        assert_eq!(found["entityTypes"], json!(["Customer"]));
    })
    .await;
}

#[tokio::test]
async fn invalid_registrations_are_rejected_with_the_field_at_fault() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let mut bad = registration("Customer", "c-1", "crm");
        bad["dataClassification"] = json!("top-secret");
        let response = gql(
            &catalog,
            "mutation ($i: EntityRegistration!) { registerEntity(input: $i) { id } }",
            json!({"i": bad}),
        )
        .await;
        let (code, message) = first_error(&response);
        assert_eq!(code, "BAD_USER_INPUT");
        assert!(message.contains("dataClassification"), "{message}");
        let reserved = registration("CatalogEntry", "x", "crm");
        let response = gql(
            &catalog,
            "mutation ($i: EntityRegistration!) { registerEntity(input: $i) { id } }",
            json!({"i": reserved}),
        )
        .await;
        assert!(first_error(&response).1.contains("reserved"), "{response}");
    })
    .await;
}

#[tokio::test]
async fn entity_location_fills_the_path_template_and_audits_pii_reads() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let mut customer = registration("Customer", "c-42", "crm");
        customer["containsPii"] = json!(true);
        data(
            &catalog,
            "mutation ($i: EntityRegistration!) { registerEntity(input: $i) { id } }",
            json!({"i": customer}),
        )
        .await;
        let found = data(
            &catalog,
            r#"{ entityLocation(entityType: "Customer", entityId: "c-42") { fullUrl apiMethod containsPii sourceSystem }
                 none: entityLocation(entityType: "Customer", entityId: "c-0") { fullUrl } }"#,
            json!({}),
        )
        .await;
        assert_eq!(found["entityLocation"]["fullUrl"], "https://crm.example.com/customers/c-42");
        assert_eq!(found["entityLocation"]["apiMethod"], "GET");
        assert_eq!(found["none"], json!(null));
        let reads = dictamesh_catalog::audit::count(&t.db, dictamesh_catalog::audit::AuditAction::PiiRead)
            .await
            .unwrap();
        assert_eq!(reads, 1, "the read of a PII entity's location is audited");
    })
    .await;
}

const RECORD: &str = "mutation ($i: RelationshipInput!) { recordRelationship(input: $i) { id validFrom validTo objectEntityId } }";

fn rel(subject: &str, kind: &str, object_type: &str, object: &str, from: &str) -> serde_json::Value {
    json!({"subjectEntityType": "Customer", "subjectEntityId": subject, "relationshipType": kind,
           "objectEntityType": object_type, "objectEntityId": object, "validFrom": from})
}

#[tokio::test]
async fn relationship_graph_traverses_depth_limited_and_cycle_safe() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let from = "2024-01-01T00:00:00Z";
        let edges = [
            ("Customer", "c1", "has_invoice", "Invoice", "i1"),
            ("Customer", "c1", "has_invoice", "Invoice", "i2"),
            ("Invoice", "i1", "contains", "Product", "p1"),
            ("Product", "p1", "made_by", "Supplier", "s1"),
            ("Supplier", "s1", "supplies", "Customer", "c1"),
        ];
        for (st, si, kind, ot, oi) in edges {
            let input = json!({"subjectEntityType": st, "subjectEntityId": si, "relationshipType": kind,
                               "objectEntityType": ot, "objectEntityId": oi, "validFrom": from});
            data(&catalog, RECORD, json!({"i": input})).await;
        }
        let query = r#"query ($d: Int) { relationshipGraph(entityType: "Customer", entityId: "c1", maxDepth: $d) {
                         maxDepth edges { depth relationship { subjectEntityId relationshipType objectEntityId } } } }"#;
        let depth = |d: i64| {
            let catalog = catalog.clone();
            async move {
                let graph = data(&catalog, query, json!({"d": d})).await;
                graph["relationshipGraph"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        format!(
                            "{}:{}->{}",
                            e["depth"],
                            e["relationship"]["subjectEntityId"].as_str().unwrap(),
                            e["relationship"]["objectEntityId"].as_str().unwrap()
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(depth(1).await, ["1:c1->i1", "1:c1->i2"]);
        assert_eq!(depth(3).await, ["1:c1->i1", "1:c1->i2", "2:i1->p1", "3:p1->s1"]);
        // The cycle back to c1 is listed once and not followed again.
        assert_eq!(
            depth(10).await,
            ["1:c1->i1", "1:c1->i2", "2:i1->p1", "3:p1->s1", "4:s1->c1"]
        );
        let response = gql(&catalog, query, json!({"d": 11})).await;
        assert!(first_error(&response).1.contains("maxDepth"), "{response}");
    })
    .await;
}

#[tokio::test]
async fn recording_a_change_closes_the_previous_interval_and_as_of_travels_in_time() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let mut first = rel("c1", "owns_account", "Account", "a1", "2024-01-01T00:00:00Z");
        first["cardinality"] = json!("ONE_TO_ONE");
        let recorded = data(&catalog, RECORD, json!({"i": first.clone()})).await;
        let again = data(&catalog, RECORD, json!({"i": first.clone()})).await;
        assert_eq!(recorded["recordRelationship"]["id"], again["recordRelationship"]["id"], "same input: no-op");
        // Same relationship, new attributes: a new interval.
        let mut renamed = first.clone();
        renamed["objectDisplayName"] = json!("Main account");
        renamed["validFrom"] = json!("2024-02-01T00:00:00Z");
        let second = data(&catalog, RECORD, json!({"i": renamed})).await;
        assert_ne!(second["recordRelationship"]["id"], recorded["recordRelationship"]["id"]);
        // One-to-one: another account ends the first.
        let mut moved = rel("c1", "owns_account", "Account", "a2", "2024-03-01T00:00:00Z");
        moved["cardinality"] = json!("ONE_TO_ONE");
        data(&catalog, RECORD, json!({"i": moved})).await;
        let at = |when: &'static str| {
            let catalog = catalog.clone();
            async move {
                let graph = data(
                    &catalog,
                    r#"query ($t: DateTime) { relationshipGraph(entityType: "Customer", entityId: "c1", maxDepth: 1, asOf: $t) {
                         edges { relationship { objectEntityId objectDisplayName validFrom validTo } } } }"#,
                    json!({"t": when}),
                )
                .await;
                graph["relationshipGraph"]["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        format!(
                            "{}/{}",
                            e["relationship"]["objectEntityId"].as_str().unwrap(),
                            e["relationship"]["objectDisplayName"].as_str().unwrap_or("-")
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        assert!(at("2023-12-31T00:00:00Z").await.is_empty());
        assert_eq!(at("2024-01-15T00:00:00Z").await, ["a1/-"]);
        assert_eq!(at("2024-02-15T00:00:00Z").await, ["a1/Main account"]);
        assert_eq!(at("2024-03-15T00:00:00Z").await, ["a2/-"]);
        // A change dated before the current interval's start is refused.
        let mut stale = first.clone();
        stale["objectEntityId"] = json!("a2");
        stale["objectDisplayName"] = json!("old");
        stale["validFrom"] = json!("2024-01-01T00:00:00Z");
        let response = gql(&catalog, RECORD, json!({"i": stale})).await;
        assert_eq!(first_error(&response).0, "CONFLICT", "{response}");
        // Ending a relationship.
        let ended = data(
            &catalog,
            "mutation ($i: RelationshipInput!) { endRelationship(input: $i, at: \"2024-04-01T00:00:00Z\") { validTo } }",
            json!({"i": rel("c1", "owns_account", "Account", "a2", "2024-03-01T00:00:00Z")}),
        )
        .await;
        assert_eq!(ended["endRelationship"]["validTo"], "2024-04-01T00:00:00Z");
        assert!(at("2024-04-02T00:00:00Z").await.is_empty());
    })
    .await;
}

#[tokio::test]
async fn lineage_follows_flows_upstream_and_downstream() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        register(&catalog, "Order", "o1", "shop").await;
        register(&catalog, "Invoice", "i1", "billing").await;
        register(&catalog, "Report", "r1", "bi").await;
        let flow = |up: (&str, &str), down: (&str, &str), kind: &str| {
            json!({"upstream": {"entityType": up.0, "sourceEntityId": up.1},
                   "downstream": {"entityType": down.0, "sourceEntityId": down.1},
                   "transformationType": kind, "averageLatencyMs": 120})
        };
        let record = "mutation ($i: LineageInput!) { recordLineage(input: $i) { id upstreamSystem downstreamSystem } }";
        let first = data(&catalog, record, json!({"i": flow(("Order", "o1"), ("Invoice", "i1"), "enrichment")})).await;
        let again = data(&catalog, record, json!({"i": flow(("Order", "o1"), ("Invoice", "i1"), "enrichment")})).await;
        assert_eq!(first["recordLineage"]["id"], again["recordLineage"]["id"]);
        assert_eq!(first["recordLineage"]["upstreamSystem"], "shop");
        data(&catalog, record, json!({"i": flow(("Invoice", "i1"), ("Report", "r1"), "aggregation")})).await;
        let down = data(
            &catalog,
            r#"{ lineage(entityType: "Order", entityId: "o1") { depth edge { transformationType } entry { entityType } }
                 up: lineage(entityType: "Report", entityId: "r1", direction: UPSTREAM, depth: 1) { depth entry { entityType } } }"#,
            json!({}),
        )
        .await;
        assert_eq!(
            down["lineage"],
            json!([{"depth": 1, "edge": {"transformationType": "enrichment"}, "entry": {"entityType": "Invoice"}},
                   {"depth": 2, "edge": {"transformationType": "aggregation"}, "entry": {"entityType": "Report"}}])
        );
        assert_eq!(down["up"], json!([{"depth": 1, "entry": {"entityType": "Invoice"}}]));
        let response = gql(&catalog, record, json!({"i": flow(("Order", "o1"), ("Ghost", "g1"), "join")})).await;
        let (code, message) = first_error(&response);
        assert_eq!(code, "NOT_FOUND");
        assert!(message.contains("Ghost"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn schemas_register_with_versions_and_incompatible_ones_name_the_change() {
    on_both(|_, t| async move {
        let catalog = t.catalog().await;
        let v1 = r#"{"type":"record","name":"Customer","fields":[{"name":"id","type":"string"}]}"#;
        let v2 = r#"{"type":"record","name":"Customer","fields":[{"name":"id","type":"string"},{"name":"tier","type":"string","default":"basic"}]}"#;
        let bad = r#"{"type":"record","name":"Customer","fields":[{"name":"id","type":"string"},{"name":"email","type":"string"}]}"#;
        let register = "mutation ($s: String!) { registerSchema(input: {entityType: \"Customer\", schema: $s}) { version schemaId format } }";
        let first = data(&catalog, register, json!({"s": v1})).await;
        assert_eq!(first["registerSchema"]["version"], 1);
        let same = data(&catalog, register, json!({"s": v1})).await;
        assert_eq!(same["registerSchema"], first["registerSchema"], "the same schema keeps its version");
        let second = data(&catalog, register, json!({"s": v2})).await;
        assert_eq!(second["registerSchema"]["version"], 2);
        let response = gql(&catalog, register, json!({"s": bad})).await;
        let (code, message) = first_error(&response);
        assert_eq!(code, "CONFLICT");
        assert!(message.contains("email"), "the breaking field is named: {message}");
        let response = gql(&catalog, register, json!({"s": "{not json"})).await;
        assert_eq!(first_error(&response).0, "BAD_USER_INPUT", "{response}");
        let sdl = "mutation ($s: String!) { registerSchema(input: {entityType: \"Product\", schema: $s, format: GRAPHQL}) { version format } }";
        data(&catalog, sdl, json!({"s": "type Product { id: ID! name: String }"})).await;
        let response = gql(&catalog, sdl, json!({"s": "type Product { id: ID! }"})).await;
        assert!(first_error(&response).1.contains("field `Product.name` was removed"), "{response}");
        let history = data(&catalog, r#"{ schemas(entityType: "Customer") { version backwardCompatible forwardCompatible } }"#, json!({})).await;
        assert_eq!(
            history["schemas"],
            json!([{"version": 1, "backwardCompatible": null, "forwardCompatible": null},
                   {"version": 2, "backwardCompatible": true, "forwardCompatible": true}])
        );
    })
    .await;
}

#[tokio::test]
async fn events_page_with_keyset_cursors() {
    on_both(|backend, t| async move {
        let catalog = t.catalog().await;
        let messages: Vec<_> = (0..5)
            .map(|i| crate::ingest::changed(&format!("e{i}"), "c1", 1_700_000_000_000 + i * 1000, json!([])))
            .collect();
        dictamesh_catalog::ingest::Ingestor::new(t.db.clone()).ingest(&messages).await.unwrap();
        let page = |after: serde_json::Value, since: serde_json::Value| {
            let catalog = catalog.clone();
            async move {
                data(
                    &catalog,
                    r#"query ($a: String, $s: DateTime) { events(entityType: "Customer", entityId: "c1", limit: 2, after: $a, since: $s) {
                         events { eventId eventType changedFields } endCursor hasMore } }"#,
                    json!({"a": after, "s": since}),
                )
                .await["events"]
                    .clone()
            }
        };
        let first = page(json!(null), json!(null)).await;
        assert_eq!(first["events"][0]["eventId"], "e0", "{backend:?}");
        assert_eq!(first["events"][0]["changedFields"], json!(["name"]));
        assert_eq!(first["hasMore"], true);
        let second = page(first["endCursor"].clone(), json!(null)).await;
        assert_eq!(second["events"][0]["eventId"], "e2");
        let third = page(second["endCursor"].clone(), json!(null)).await;
        assert_eq!(third["events"].as_array().unwrap().len(), 1);
        assert_eq!(third["hasMore"], false);
        assert_eq!(third["endCursor"], json!(null));
        let since = page(json!(null), json!("2023-11-14T22:13:23Z")).await;
        assert_eq!(since["events"][0]["eventId"], "e3");
        let response = gql(
            &catalog,
            r#"{ events(entityType: "Customer", entityId: "c1", after: "garbage") { hasMore } }"#,
            json!({}),
        )
        .await;
        assert_eq!(first_error(&response).0, "BAD_USER_INPUT");
    })
    .await;
}
