//! The 15 checks of Apollo's subgraph compatibility suite, asserted in Rust
//! against the SDL and the responses the suite expects. Checks that the suite
//! sends through a router are asserted here on the subgraph requests that a
//! router makes for them (`tests/compat/run.sh` runs the suite itself).

use apollo_compiler::ast::{Definition, Directive, Document, Value};
use base64::Engine;
use dictamesh::ftv1::{NodeId, Trace};
use prost::Message;
use serde_json::{Value as Json, json};

fn sdl() -> String {
    dictamesh_compat_products::subgraph()
        .expect("subgraph builds")
        .sdl()
        .to_string()
}

async fn request(query: &str, variables: Json) -> Json {
    use dictamesh::async_graphql::{Request, Variables};
    let subgraph = dictamesh_compat_products::subgraph().expect("subgraph builds");
    let response = subgraph
        .execute(Request::new(query).variables(Variables::from_json(variables)))
        .await;
    serde_json::to_value(response).expect("response serializes")
}

fn document() -> Document {
    Document::parse(sdl(), "products.graphql").expect("the SDL parses")
}

/// The directives applied to a type (definition or extension).
fn type_directives(doc: &Document, name: &str) -> Vec<Directive> {
    doc.definitions
        .iter()
        .filter_map(|d| match d {
            Definition::ObjectTypeDefinition(t) if t.name == name => {
                Some(t.directives.iter().map(|d| (**d).clone()).collect::<Vec<_>>())
            }
            Definition::ObjectTypeExtension(t) if t.name == name => {
                Some(t.directives.iter().map(|d| (**d).clone()).collect())
            }
            _ => None,
        })
        .flatten()
        .collect()
}

fn field_directives(doc: &Document, type_name: &str, field: &str) -> Vec<Directive> {
    doc.definitions
        .iter()
        .find_map(|d| match d {
            Definition::ObjectTypeDefinition(t) if t.name == type_name => t
                .fields
                .iter()
                .find(|f| f.name == field)
                .map(|f| f.directives.iter().map(|d| (**d).clone()).collect::<Vec<_>>()),
            _ => None,
        })
        .unwrap_or_default()
}

fn string_arg(directive: &Directive, name: &str) -> Option<String> {
    directive
        .arguments
        .iter()
        .find(|a| a.name == name)
        .and_then(|a| match a.value.as_ref() {
            Value::String(s) => Some(s.clone()),
            _ => None,
        })
}

fn keys(doc: &Document, type_name: &str) -> Vec<String> {
    type_directives(doc, type_name)
        .iter()
        .filter(|d| d.name == "key")
        .filter_map(|d| string_arg(d, "fields"))
        .collect()
}

fn has_field_directive(
    doc: &Document,
    type_name: &str,
    field: &str,
    directive: &str,
    arg: Option<(&str, &str)>,
) -> bool {
    field_directives(doc, type_name, field).iter().any(|d| {
        d.name == directive && arg.is_none_or(|(name, value)| string_arg(d, name).as_deref() == Some(value))
    })
}

async fn entities(representations: Json, selection: &str) -> Json {
    request(
        &format!("query ($r: [_Any!]!) {{ _entities(representations: $r) {{ {selection} }} }}"),
        json!({ "r": representations }),
    )
    .await
}

#[tokio::test]
async fn service_sdl_describes_the_products_schema() {
    let response = request("query { _service { sdl } }", json!({})).await;
    let sdl = response["data"]["_service"]["sdl"]
        .as_str()
        .expect("an SDL string");
    assert!(sdl.contains("type Query"));
    let doc = document();
    for name in [
        "CaseStudy",
        "DeprecatedProduct",
        "Product",
        "ProductDimension",
        "ProductResearch",
        "ProductVariation",
        "User",
        "Inventory",
    ] {
        assert!(
            !type_directives(&doc, name).is_empty() || sdl.contains(&format!("type {name} ")),
            "{name}"
        );
    }
    assert!(sdl.contains("product(id: ID!): Product"));
    assert!(sdl.contains(
        "deprecatedProduct(sku: String!, package: String!): DeprecatedProduct @deprecated(reason: \"Use product query instead\")"
    ));
    assert!(
        !sdl.contains("_entities") && !sdl.contains("_service"),
        "federation fields are not part of the SDL"
    );
}

#[tokio::test]
async fn key_single_on_user() {
    assert_eq!(keys(&document(), "User"), ["email"]);
    let response = entities(
        json!([{"__typename": "User", "email": "support@apollographql.com"}]),
        "... on User { email name }",
    )
    .await;
    assert_eq!(response.get("errors"), None);
    assert_eq!(
        response["data"]["_entities"],
        json!([{"email": "support@apollographql.com", "name": "Jane Smith"}])
    );
}

#[tokio::test]
async fn key_multiple_fields_on_deprecated_product() {
    assert_eq!(keys(&document(), "DeprecatedProduct"), ["sku package"]);
    let response = entities(
        json!([{"__typename": "DeprecatedProduct", "sku": "apollo-federation-v1", "package": "@apollo/federation-v1"}]),
        "... on DeprecatedProduct { sku package reason }",
    )
    .await;
    assert_eq!(
        response["data"]["_entities"],
        json!([{"sku": "apollo-federation-v1", "package": "@apollo/federation-v1", "reason": "Migrate to Federation V2"}])
    );
}

#[tokio::test]
async fn key_composite_on_product_research() {
    assert_eq!(keys(&document(), "ProductResearch"), ["study { caseNumber }"]);
    let response = entities(
        json!([{"__typename": "ProductResearch", "study": {"caseNumber": "1234"}}]),
        "... on ProductResearch { study { caseNumber description } }",
    )
    .await;
    assert_eq!(
        response["data"]["_entities"],
        json!([{"study": {"caseNumber": "1234", "description": "Federation Study"}}])
    );
}

#[tokio::test]
async fn repeatable_keys_on_product() {
    assert_eq!(
        keys(&document(), "Product"),
        ["id", "sku package", "sku variation { id }"]
    );
    let response = entities(
        json!([
            {"__typename": "Product", "id": "apollo-federation"},
            {"__typename": "Product", "sku": "federation", "package": "@apollo/federation"},
            {"__typename": "Product", "sku": "studio", "variation": {"id": "platform"}},
        ]),
        "... on Product { id sku }",
    )
    .await;
    assert_eq!(response.get("errors"), None);
    assert_eq!(
        response["data"]["_entities"],
        json!([
            {"id": "apollo-federation", "sku": "federation"},
            {"id": "apollo-federation", "sku": "federation"},
            {"id": "apollo-studio", "sku": "studio"},
        ])
    );
}

#[tokio::test]
async fn requires_computes_from_the_required_fields() {
    let doc = document();
    assert!(has_field_directive(
        &doc,
        "User",
        "averageProductsCreatedPerYear",
        "requires",
        Some(("fields", "totalProductsCreated yearsOfEmployment"))
    ));
    // What a router sends after fetching the required fields from `users`.
    let response = entities(
        json!([{"__typename": "User", "email": "support@apollographql.com", "totalProductsCreated": 1337, "yearsOfEmployment": 10}]),
        "... on User { averageProductsCreatedPerYear email }",
    )
    .await;
    assert_eq!(
        response["data"]["_entities"],
        json!([{"averageProductsCreatedPerYear": 134, "email": "support@apollographql.com"}])
    );
}

#[tokio::test]
async fn provides_serves_the_provided_field_locally() {
    assert!(has_field_directive(
        &document(),
        "Product",
        "createdBy",
        "provides",
        Some(("fields", "totalProductsCreated"))
    ));
    let response = request(
        "query ($id: ID!) { product(id: $id) { createdBy { email totalProductsCreated } } }",
        json!({"id": "apollo-federation"}),
    )
    .await;
    let created_by = &response["data"]["product"]["createdBy"];
    assert_eq!(created_by["email"], "support@apollographql.com");
    assert!(created_by["totalProductsCreated"].is_number() && created_by["totalProductsCreated"] != 4);
}

#[tokio::test]
async fn ftv1_trace_decodes_into_the_resolver_tree() {
    let subgraph = dictamesh_compat_products::subgraph().expect("subgraph builds");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(dictamesh::serve(subgraph, listener, std::future::pending()));
    let client = reqwest::Client::new();
    let response: Json = client
        .post(format!("http://{address}/"))
        .header("apollo-federation-include-trace", "ftv1")
        .json(&json!({"query": "query { __typename product(id: \"apollo-federation\") { sku research { outcome } } }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["__typename"], "Query");
    let encoded = response["extensions"]["ftv1"].as_str().expect("an ftv1 string");
    let bytes = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
    let trace = Trace::decode(bytes.as_slice()).expect("a protobuf Trace");
    assert!(trace.start_time.is_some() && trace.end_time.is_some());
    assert!(trace.duration_ns > 0);
    let root = trace.root.expect("a root node");
    let product = root
        .child
        .iter()
        .find(|n| n.id == Some(NodeId::ResponseName("product".into())))
        .expect("a node for product");
    assert_eq!(product.parent_type, "Query");
    assert_eq!(product.r#type, "Product");
    assert!(product.end_time >= product.start_time);
    let research = product
        .child
        .iter()
        .find(|n| n.id == Some(NodeId::ResponseName("research".into())))
        .expect("a node for research");
    assert_eq!(research.r#type, "[ProductResearch!]!");
    assert_eq!(
        research.child[0].id,
        Some(NodeId::Index(0)),
        "list items are index nodes"
    );
    assert_eq!(research.child[0].child[0].parent_type, "ProductResearch");

    let untraced: Json = client
        .post(format!("http://{address}/"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(untraced.get("extensions"), None, "no trace unless asked for");
}

#[test]
fn link_imports_exactly_the_federation_directives_used() {
    let sdl = sdl();
    let links: Vec<&str> = sdl.lines().filter(|l| l.contains("@link(")).collect();
    let federation: Vec<&&str> = links
        .iter()
        .filter(|l| l.contains("specs.apollo.dev/federation/"))
        .collect();
    assert_eq!(federation.len(), 1, "exactly one federation @link");
    assert!(federation[0].contains("federation/v2.3\""), "{}", federation[0]);
    let imports: Vec<&str> = federation[0]
        .split("import: [")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap()
        .split(", ")
        .map(|i| i.trim_matches('"'))
        .collect();
    assert_eq!(
        imports,
        [
            "@composeDirective",
            "@extends",
            "@external",
            "@inaccessible",
            "@interfaceObject",
            "@key",
            "@override",
            "@provides",
            "@requires",
            "@shareable",
            "@tag"
        ]
    );
}

#[tokio::test]
async fn shareable_dimension_type_resolves() {
    assert!(
        type_directives(&document(), "ProductDimension")
            .iter()
            .any(|d| d.name == "shareable")
    );
    let response = request(
        "query ($id: ID!) { product(id: $id) { dimensions { size weight } } }",
        json!({"id": "apollo-federation"}),
    )
    .await;
    assert_eq!(
        response["data"]["product"]["dimensions"],
        json!({"size": "small", "weight": 1.0})
    );
}

#[test]
fn tag_is_not_namespaced() {
    let sdl = sdl();
    assert!(!sdl.contains("@federation__tag"));
    assert!(has_field_directive(
        &document(),
        "Product",
        "notes",
        "tag",
        Some(("name", "internal"))
    ));
}

#[tokio::test]
async fn override_serves_the_overridden_name() {
    assert!(has_field_directive(
        &document(),
        "User",
        "name",
        "override",
        Some(("from", "users"))
    ));
    let response = request(
        "query ($id: ID!) { product(id: $id) { createdBy { name } } }",
        json!({"id": "apollo-federation"}),
    )
    .await;
    assert_eq!(response["data"]["product"]["createdBy"]["name"], "Jane Smith");
}

#[tokio::test]
async fn inaccessible_field_is_marked_and_still_queryable_directly() {
    assert!(!sdl().contains("@federation__inaccessible"));
    assert!(has_field_directive(
        &document(),
        "ProductDimension",
        "unit",
        "inaccessible",
        None
    ));
    let response = request(
        "query ($id: ID!) { product(id: $id) { dimensions { unit } } }",
        json!({"id": "apollo-federation"}),
    )
    .await;
    assert_eq!(response["data"]["product"]["dimensions"]["unit"], "kg");
}

#[test]
fn compose_directive_links_defines_and_applies_custom() {
    let sdl = sdl();
    assert!(
        sdl.contains("@link(url: \"https://myspecs.dev/myCustomDirective/v1.0\", import: [\"@custom\"])")
    );
    assert!(sdl.contains("@composeDirective(name: \"@custom\")"));
    assert!(sdl.contains("directive @custom on OBJECT"));
    assert!(
        type_directives(&document(), "Product")
            .iter()
            .any(|d| d.name == "custom")
    );
}

#[tokio::test]
async fn interface_object_inventory_resolves_its_fields() {
    let doc = document();
    assert!(
        type_directives(&doc, "Inventory")
            .iter()
            .any(|d| d.name == "interfaceObject")
    );
    assert_eq!(keys(&doc, "Inventory"), ["id"]);
    // What a router sends once the inventory subgraph answered `inventory(id:)`.
    let response = entities(
        json!([{"__typename": "Inventory", "id": "apollo-oss"}]),
        "... on Inventory { deprecatedProducts { sku reason } }",
    )
    .await;
    assert_eq!(
        response["data"]["_entities"],
        json!([{"deprecatedProducts": [{"sku": "apollo-federation-v1", "reason": "Migrate to Federation V2"}]}])
    );
}
