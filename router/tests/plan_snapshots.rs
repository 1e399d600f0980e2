//! Query plan snapshots, one per planner feature. Each test composes small subgraphs
//! with our composer and plans an operation; `cargo insta review` shows plan changes.

use std::collections::HashSet;
use std::sync::Arc;

use dictamesh_router::compose::SubgraphInput;
use dictamesh_router::compose::compose;
use dictamesh_router::plan::QueryPlanner;
use dictamesh_router::supergraph::Supergraph;

const LINK: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@requires", "@provides", "@external", "@shareable", "@override", "@interfaceObject", "@inaccessible"])
"#;

fn planner(subgraphs: &[(&str, &str)]) -> QueryPlanner {
    let inputs: Vec<SubgraphInput> = subgraphs
        .iter()
        .map(|(name, sdl)| SubgraphInput {
            name: name.to_string(),
            url: format!("http://{name}.local/graphql"),
            sdl: format!("{LINK}{sdl}"),
        })
        .collect();
    let supergraph = compose(&inputs).expect("the subgraphs compose");
    QueryPlanner::new(
        Arc::new(Supergraph::parse(&supergraph.sdl).expect("supergraph")),
        0,
    )
}

fn plan(planner: &QueryPlanner, query: &str) -> String {
    plan_with(planner, query, serde_json::json!({}), &[])
}

fn plan_with(planner: &QueryPlanner, query: &str, variables: serde_json::Value, labels: &[&str]) -> String {
    let variables = variables.as_object().cloned().unwrap_or_default();
    let labels: HashSet<String> = labels.iter().map(|l| l.to_string()).collect();
    planner
        .plan_query(query, None, &variables, &labels)
        .expect("the operation plans")
        .to_string()
}

const PRODUCTS: &str = r#"
type Query { products: [Product] topProduct: Product }
type Product @key(fields: "id") { id: ID! name: String price: Int weight: Int }
"#;

const REVIEWS: &str = r#"
type Product @key(fields: "id") { id: ID! reviews: [Review] }
type Review { body: String author: User @provides(fields: "name") }
type User @key(fields: "id") { id: ID! name: String @external }
"#;

const USERS: &str = r#"
type Query { me: User }
type User @key(fields: "id") { id: ID! name: String @shareable email: String }
"#;

const INVENTORY: &str = r#"
type Product @key(fields: "id") { id: ID! price: Int @external weight: Int @external shippingEstimate: Int @requires(fields: "price weight") inStock: Boolean }
"#;

fn mesh() -> QueryPlanner {
    planner(&[
        ("products", PRODUCTS),
        ("reviews", REVIEWS),
        ("users", USERS),
        ("inventory", INVENTORY),
    ])
}

#[test]
fn entity_jump() {
    insta::assert_snapshot!(plan(&mesh(), "{ products { name reviews { body } } }"));
}

/// Entity fetches of one step to one subgraph are one request: the same operation
/// at two paths shares an alias, another operation gets its own.
#[test]
fn entity_fetches_to_one_subgraph_are_batched() {
    insta::assert_snapshot!(plan(
        &mesh(),
        "query Cards { products { reviews { body } } topProduct { inStock reviews { author { name } } } again: products { reviews { body } } }"
    ));
}

/// A fetch waits only for the fetches it depends on: in the benchmark's shape the
/// inventory fetch (its key from reviews, its required fields from products)
/// starts when products answers, without waiting for the accounts fetch beside it.
#[test]
fn fetches_wait_only_for_the_fetches_they_depend_on() {
    let planner = planner(&[
        (
            "accounts",
            r#"type Query { users: [User] } type User @key(fields: "id") { id: ID! name: String }"#,
        ),
        (
            "products",
            r#"type Query { topProducts: [Product] } type Product @key(fields: "upc") { upc: String! name: String price: Int weight: Int }"#,
        ),
        (
            "inventory",
            r#"type Product @key(fields: "upc") { upc: String! price: Int @external weight: Int @external shippingEstimate: Int @requires(fields: "price weight") }"#,
        ),
        (
            "reviews",
            r#"type Review { body: String author: User product: Product }
               type User @key(fields: "id") { id: ID! reviews: [Review] }
               type Product @key(fields: "upc") { upc: String! reviews: [Review] }"#,
        ),
    ]);
    insta::assert_snapshot!(plan(
        &planner,
        "{ users { reviews { product { name shippingEstimate } } } topProducts { name reviews { author { name } } } }"
    ));
}

#[test]
fn requires_fetches_required_fields_first() {
    insta::assert_snapshot!(plan(&mesh(), "{ topProduct { name shippingEstimate inStock } }"));
}

#[test]
fn provides_skips_the_jump() {
    insta::assert_snapshot!(plan(&mesh(), "{ products { reviews { author { name } } } }"));
}

#[test]
fn external_fields_come_from_their_owner() {
    insta::assert_snapshot!(plan(
        &mesh(),
        "{ products { reviews { author { name email } } } }"
    ));
}

#[test]
fn fragments_aliases_and_variables() {
    insta::assert_snapshot!(plan_with(
        &mesh(),
        "query Top($first: Boolean!) { best: topProduct { ...Card } } fragment Card on Product { title: name ... on Product { reviews @include(if: $first) { body } } }",
        serde_json::json!({"first": true}),
        &[]
    ));
}

#[test]
fn include_and_skip_are_planned_with_their_values() {
    let planner = mesh();
    let query = "query($withStock: Boolean!) { products { name inStock @include(if: $withStock) } }";
    let without = plan_with(&planner, query, serde_json::json!({"withStock": false}), &[]);
    let with = plan_with(&planner, query, serde_json::json!({"withStock": true}), &[]);
    insta::assert_snapshot!(format!("withStock: false\n{without}\n\nwithStock: true\n{with}"));
}

#[test]
fn shareable_fields_choose_the_plan_with_fewest_fetches() {
    let planner = planner(&[
        (
            "a",
            "type Query { product: Product } type Product @key(fields: \"id\") { id: ID! name: String @shareable }",
        ),
        (
            "b",
            "type Product @key(fields: \"id\") { id: ID! name: String @shareable price: Int }",
        ),
    ]);
    insta::assert_snapshot!(plan(&planner, "{ product { name price } }"));
}

#[test]
fn composite_and_multiple_keys() {
    let planner = planner(&[
        (
            "catalog",
            "type Query { items: [Item] } type Item @key(fields: \"sku region { code }\") { sku: String! region: Region! title: String } type Region @shareable { code: String! }",
        ),
        (
            "pricing",
            "type Item @key(fields: \"sku region { code }\") @key(fields: \"upc\") { sku: String! region: Region! upc: String! price: Int } type Region @shareable { code: String! }",
        ),
        (
            "stock",
            "type Item @key(fields: \"upc\") { upc: String! quantity: Int }",
        ),
    ]);
    insta::assert_snapshot!(plan(&planner, "{ items { title price quantity } }"));
}

#[test]
fn interfaces_and_unions_across_subgraphs() {
    let planner = planner(&[
        (
            "media",
            "type Query { feed: [Media] search: [Result] } interface Media { id: ID! } type Book implements Media @key(fields: \"id\") { id: ID! title: String } type Movie implements Media @key(fields: \"id\") { id: ID! title: String } union Result = Book | Movie",
        ),
        (
            "ratings",
            "type Book @key(fields: \"id\") { id: ID! stars: Int } type Movie @key(fields: \"id\") { id: ID! stars: Int }",
        ),
    ]);
    insta::assert_snapshot!(plan(
        &planner,
        "{ feed { __typename id ... on Book { title stars } } search { ... on Movie { title stars } } }"
    ));
}

#[test]
fn interface_object() {
    let planner = planner(&[
        (
            "accounts",
            "type Query { accounts: [Account] } interface Account @key(fields: \"id\") { id: ID! } type Admin implements Account @key(fields: \"id\") { id: ID! level: Int } type Member implements Account @key(fields: \"id\") { id: ID! since: Int }",
        ),
        (
            "activity",
            "type Query { recent: [Account] } type Account @key(fields: \"id\") @interfaceObject { id: ID! lastSeen: String }",
        ),
    ]);
    let planner_ref = &planner;
    insta::assert_snapshot!(format!(
        "{}\n\n{}",
        plan(planner_ref, "{ accounts { id lastSeen } }"),
        plan(
            planner_ref,
            "{ recent { __typename lastSeen ... on Admin { level } } }"
        )
    ));
}

#[test]
fn override_and_progressive_override() {
    let planner = planner(&[
        (
            "old",
            "type Query { product: Product } type Product @key(fields: \"id\") { id: ID! name: String price: Int }",
        ),
        (
            "new",
            "type Product @key(fields: \"id\") { id: ID! name: String @override(from: \"old\") price: Int @override(from: \"old\", label: \"percent(0)\") }",
        ),
    ]);
    let query = "{ product { name price } }";
    let off = plan_with(&planner, query, serde_json::json!({}), &[]);
    let on = plan_with(&planner, query, serde_json::json!({}), &["percent(0)"]);
    insta::assert_snapshot!(format!("label off:\n{off}\n\nlabel on:\n{on}"));
}

#[test]
fn mutations_run_in_order() {
    let planner = planner(&[
        (
            "a",
            "type Query { a: Int } type Mutation { first: Int third: Int }",
        ),
        ("b", "type Query { b: Int } type Mutation { second: Int }"),
    ]);
    insta::assert_snapshot!(plan(&planner, "mutation { first second third }"));
}

#[test]
fn fixture_supergraph_plans() {
    let sdl = include_str!("fixtures/products_reviews.graphql");
    let planner = QueryPlanner::new(Arc::new(Supergraph::parse(sdl).expect("fixture supergraph")), 0);
    insta::assert_snapshot!(plan(
        &planner,
        "{ topProduct { name shippingEstimate reviews { body author { name email } } } }"
    ));
}

fn plan_incremental(planner: &QueryPlanner, query: &str) -> String {
    planner
        .plan_incremental_query(query, None, &Default::default(), &HashSet::new())
        .expect("the operation plans")
        .to_string()
}

#[test]
fn defer_of_fields_from_another_subgraph_becomes_an_entity_jump() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ products { name ... @defer(label: \"reviews\") { reviews { body } } } }"
    ));
}

#[test]
fn defer_of_fields_from_the_same_subgraph_is_fetched_later() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ topProduct { name ... @defer { price } } }"
    ));
}

#[test]
fn defer_of_a_field_with_requires_fetches_the_required_fields_in_the_deferred_part() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ topProduct { name ... @defer { shippingEstimate } } }"
    ));
}

#[test]
fn nested_defers_start_after_their_parent() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ topProduct { name ... @defer(label: \"outer\") { reviews { body } ... @defer(label: \"inner\") { inStock } } } }"
    ));
}

#[test]
fn defer_on_the_root_plans_a_separate_root_fetch() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ products { name } ... @defer { me { email } } }"
    ));
}

#[test]
fn defer_on_a_value_type_or_when_disabled_stays_in_the_primary_plan() {
    insta::assert_snapshot!(plan_incremental(
        &mesh(),
        "{ products { reviews { ... @defer { body } } ... @defer(if: false) { price } } }"
    ));
}
