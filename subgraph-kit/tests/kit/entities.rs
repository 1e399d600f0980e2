//! `_entities`, root fields and schema building.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use dictamesh::testing::FaultInjector;
use dictamesh::{AdapterError, BuildError, Subgraph};
use serde_json::json;

use crate::books::{Book, Genre, Shelf, book, run};

fn shelf() -> Shelf {
    Shelf::new((1..=150).map(|i| book(&i.to_string(), &format!("Book {i}"), Genre::Fiction)))
}

#[tokio::test]
async fn all_representations_of_a_type_become_one_source_call() {
    let (adapter, control) = FaultInjector::new(shelf());
    let subgraph = Subgraph::builder("library").entity(adapter).build().unwrap();
    let representations: Vec<_> = (1..=100)
        .map(|i| json!({"__typename": "Book", "id": i.to_string()}))
        .chain([json!({"__typename": "Book", "isbn": "isbn-7"})])
        .collect();
    let request = dictamesh::async_graphql::Request::new(
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Book { id title } } }",
    )
    .variables(dictamesh::async_graphql::Variables::from_json(
        json!({"r": representations}),
    ));
    let response = serde_json::to_value(subgraph.execute(request).await).unwrap();
    let items = response["data"]["_entities"].as_array().unwrap();
    assert_eq!(items.len(), 101);
    assert_eq!(items[41], json!({"id": "42", "title": "Book 42"}));
    assert_eq!(
        items[100],
        json!({"id": "7", "title": "Book 7"}),
        "a second key form resolves too"
    );
    assert_eq!(
        control.calls(),
        1,
        "one batched source call for 101 representations"
    );
}

#[tokio::test]
async fn bad_representations_get_errors_naming_index_and_field_and_the_rest_resolves() {
    let subgraph = Subgraph::builder("library").entity(shelf()).build().unwrap();
    let request = dictamesh::async_graphql::Request::new(
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Book { id } } }",
    )
    .variables(dictamesh::async_graphql::Variables::from_json(json!({"r": [
        {"__typename": "Book", "id": "1"},
        {"id": "2"},
        {"__typename": "Magazine", "id": "3"},
        {"__typename": "Book", "id": {"nested": true}},
        {"__typename": "Book", "title": "no key"},
        "not an object",
        {"__typename": "Book", "id": "9999"},
    ]})));
    let response = serde_json::to_value(subgraph.execute(request).await).unwrap();
    assert_eq!(
        response["data"]["_entities"],
        json!([{"id": "1"}, null, null, null, null, null, null])
    );
    let errors = response["errors"].as_array().unwrap();
    let messages: Vec<(&str, &serde_json::Value)> = errors
        .iter()
        .map(|e| (e["message"].as_str().unwrap(), &e["path"]))
        .collect();
    assert_eq!(messages.len(), 5, "{messages:?}");
    assert!(messages[0].0.contains("representation 1 has no `__typename`"));
    assert_eq!(messages[0].1, &json!(["_entities", 1]));
    assert!(
        messages[1]
            .0
            .contains("`Magazine` is not an entity type of this subgraph (known: Book)")
    );
    assert!(
        messages[2]
            .0
            .contains("representation 3 of type `Book`: field `id` must be an ID")
    );
    assert!(messages[3].0.contains(
        "representation 4 of type `Book` matches none of its keys (`id`, `isbn`): field `id` is missing"
    ));
    assert!(messages[4].0.contains("representation 5 is not an object"));
    assert!(
        errors
            .iter()
            .all(|e| e["extensions"]["code"] == "INVALID_REPRESENTATION")
    );
}

#[tokio::test]
async fn a_failing_source_nulls_its_entities_with_a_coded_error_and_spares_the_others() {
    let (adapter, control) = FaultInjector::new(shelf());
    control.fail_with(AdapterError::unavailable("shelf", "connection refused"));
    let subgraph = Subgraph::builder("library")
        .entity(adapter)
        .default_options(dictamesh::EntityOptions {
            resilience: dictamesh::config::ResilienceConfig {
                retry: dictamesh::config::RetryPolicy {
                    max_attempts: 2,
                    initial_backoff: std::time::Duration::from_millis(1),
                    ..Default::default()
                },
                ..Default::default()
            },
            ..Default::default()
        })
        .build()
        .unwrap();
    let response = run(
        &subgraph,
        r#"{ a: book(id: "1") { title } b: book(id: "2") { title } }"#,
    )
    .await;
    assert_eq!(response["data"], json!({"a": null, "b": null}), "{response}");
    let mut paths: Vec<String> = response["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].to_string())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [r#"["a"]"#, r#"["b"]"#],
        "each error carries its field's path"
    );
    let error = &response["errors"][0];
    assert_eq!(error["extensions"]["code"], "SOURCE_UNAVAILABLE");
    assert!(error["message"].as_str().unwrap().contains("connection refused"));
    assert_eq!(control.calls(), 4, "each of the two calls was retried once");
}

#[tokio::test]
async fn lookup_and_list_root_fields_filter_page_and_serve_enums_and_references() {
    let shelf = Shelf::new([
        book("1", "Dune", Genre::ScienceFiction),
        book("2", "Emma", Genre::Fiction),
        book("3", "Hyperion", Genre::ScienceFiction),
        book("4", "Atlas", Genre::Reference),
    ]);
    let subgraph = Subgraph::builder("library").entity(shelf).build().unwrap();
    let response = run(
        &subgraph,
        r#"{
            book(id: "1") { title genre author { id } }
            missing: book(id: "nope") { title }
            sf: books(filter: {genre: SCIENCE_FICTION}) { title }
            page: books(limit: 2, offset: 1) { id }
        }"#,
    )
    .await;
    assert_eq!(response.get("errors"), None, "{response}");
    let data = &response["data"];
    assert_eq!(
        data["book"],
        json!({"title": "Dune", "genre": "SCIENCE_FICTION", "author": {"id": "author-1"}})
    );
    assert_eq!(data["missing"], json!(null));
    assert_eq!(data["sf"], json!([{"title": "Dune"}, {"title": "Hyperion"}]));
    assert_eq!(data["page"], json!([{"id": "2"}, {"id": "3"}]));

    let negative = run(&subgraph, "{ books(limit: -1) { id } }").await;
    assert!(
        negative["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("limit must not be negative")
    );
}

#[tokio::test]
async fn sdl_carries_governance_as_composed_directives_and_stub_entities() {
    let subgraph = Subgraph::builder("library").entity(shelf()).build().unwrap();
    let sdl = subgraph.sdl();
    assert!(
        sdl.contains(
            "@link(url: \"https://dictamesh.dev/governance/v0.1\", import: [\"@classification\", \"@pii\"])"
        ),
        "{sdl}"
    );
    assert!(sdl.contains("@composeDirective(name: \"@pii\")"));
    assert!(sdl.contains("borrower: String @pii @classification(level: \"confidential\")"));
    assert!(sdl.contains("type Author @key(fields: \"id\", resolvable: false)"));
    assert!(sdl.contains("enum Genre {\n  FICTION\n  SCIENCE_FICTION\n  REFERENCE\n}"));
    assert!(sdl.contains("books(filter: BookFilter, limit: Int, offset: Int = 0): [Book!]!"));
    assert!(sdl.contains("\"\"\"Who wrote it; resolved by the authors subgraph.\"\"\"\n  author: Author!"));
}

/// A review whose key names a field that does not exist in the referenced type.
#[dictamesh::entity(key = "id")]
#[derive(Clone, Debug)]
pub struct Review {
    pub id: dictamesh::ID,
    #[dictamesh(provides = "nonexistent")]
    pub book: Option<Book>,
}

#[test]
fn invalid_provides_is_a_build_error_naming_type_field_and_reason() {
    let Err(error) = Subgraph::builder("reviews")
        .entity(dictamesh::testing::MemoryAdapter::<Review>::new([]))
        .entity(shelf())
        .build()
    else {
        panic!("an invalid @provides must not build");
    };
    assert!(matches!(error, BuildError::InvalidFieldSet { .. }));
    assert_eq!(
        error.to_string(),
        "Review.book: @provides(fields: \"nonexistent\"): `nonexistent` is not a field of `Book`"
    );
}

/// A bookmark that embeds a book.
#[dictamesh::entity(key = "id")]
#[derive(Clone, Debug)]
pub struct Bookmark {
    pub id: dictamesh::ID,
    pub book: Option<Book>,
}

#[test]
fn an_entity_with_resolvable_keys_needs_an_adapter() {
    let Err(error) = Subgraph::builder("reviews")
        .entity(dictamesh::testing::MemoryAdapter::<Bookmark>::new([]))
        .build()
    else {
        panic!("Book is reachable but has no adapter");
    };
    assert!(
        error
            .to_string()
            .contains("invalid configuration for `Book`: it has resolvable keys but no adapter")
    );
}

#[test]
fn undeclared_custom_directives_and_bad_definitions_are_build_errors() {
    let error = Subgraph::builder("x")
        .compose_directive("https://example.com/spec/v1.0", "directive @oops(")
        .entity(shelf())
        .build()
        .err()
        .unwrap();
    assert!(
        error
            .to_string()
            .starts_with("invalid directive definition `directive @oops(`")
    );
}

#[tokio::test]
async fn cached_entities_are_served_without_source_calls_until_the_ttl() {
    let shelf = Arc::new(shelf());
    let subgraph = Subgraph::builder("library")
        .entity(shelf.clone())
        .build()
        .unwrap();
    for _ in 0..3 {
        let response = run(&subgraph, r#"{ book(id: "5") { title } }"#).await;
        assert_eq!(response["data"]["book"]["title"], "Book 5");
    }
    assert_eq!(shelf.calls.load(Ordering::SeqCst), 1);
    let metrics = subgraph.render_metrics();
    assert!(metrics.contains(r#"dictamesh_cache_hits_total{entity="Book",layer="l1",subgraph="library"} 2"#));
}

/// A loan of a book; the book is a reference to an entity this subgraph serves.
#[dictamesh::entity(key = "id", list = "loans")]
#[derive(Clone, Debug)]
pub struct Loan {
    pub id: dictamesh::ID,
    pub book: dictamesh::Reference<Book>,
    pub also: Vec<dictamesh::Reference<Book>>,
}

#[tokio::test]
async fn local_references_are_completed_with_one_batched_load_only_when_needed() {
    let shelf = Arc::new(shelf());
    let loan = |i: usize| Loan {
        id: dictamesh::ID(format!("l{i}")),
        book: dictamesh::Reference::key("id", i.to_string()),
        also: vec![
            dictamesh::Reference::key("id", "7"),
            dictamesh::Reference::key("id", "8"),
        ],
    };
    let subgraph = Subgraph::builder("library")
        .entity(shelf.clone())
        .entity(dictamesh::testing::MemoryAdapter::new((1..=5).map(loan)))
        .build()
        .unwrap();
    let keys_only = run(&subgraph, "{ loans { book { id } } }").await;
    assert_eq!(keys_only["data"]["loans"][4]["book"], json!({"id": "5"}));
    assert_eq!(
        shelf.calls.load(Ordering::SeqCst),
        0,
        "the key alone needs no load"
    );

    let titles = run(&subgraph, "{ loans { book { title } } }").await;
    assert_eq!(titles.get("errors"), None, "{titles}");
    let names: Vec<&str> = titles["data"]["loans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["book"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Book 1", "Book 2", "Book 3", "Book 4", "Book 5"]);
    assert_eq!(
        shelf.calls.load(Ordering::SeqCst),
        1,
        "five references, one batched source call"
    );

    let lists = run(&subgraph, r#"{ loans(limit: 1) { also { title } } }"#).await;
    assert_eq!(
        lists["data"]["loans"][0]["also"],
        json!([{"title": "Book 7"}, {"title": "Book 8"}])
    );
}

/// A counter held in memory.
#[dictamesh::entity(key = "id", lookup = "tally")]
#[derive(Clone, Debug)]
pub struct Tally {
    pub id: dictamesh::ID,
    pub value: i32,
}

#[tokio::test]
async fn memory_adapter_serves_lookups_and_later_inserts() {
    let store = Arc::new(dictamesh::testing::MemoryAdapter::new([Tally {
        id: dictamesh::ID("t1".into()),
        value: 1,
    }]));
    let (shared, _control) = FaultInjector::shared(store.clone());
    let subgraph = Subgraph::builder("tallies").entity(shared).build().unwrap();
    assert_eq!(
        run(&subgraph, r#"{ tally(id: "t1") { value } }"#).await["data"]["tally"]["value"],
        1
    );
    store.insert(Tally {
        id: dictamesh::ID("t2".into()),
        value: 2,
    });
    assert_eq!(
        run(&subgraph, r#"{ tally(id: "t2") { value } }"#).await["data"]["tally"]["value"],
        2
    );
}

/// A reading only reachable through `_entities`: no lookup, no list.
#[dictamesh::entity(key = "id")]
#[derive(Clone, Debug)]
pub struct Reading {
    pub id: dictamesh::ID,
    pub value: i32,
}

#[tokio::test]
async fn a_subgraph_with_only_entity_resolution_prints_valid_sdl_without_a_query_type() {
    let store = Arc::new(dictamesh::testing::MemoryAdapter::new([Reading {
        id: dictamesh::ID("r1".into()),
        value: 7,
    }]));
    let subgraph = Subgraph::builder("readings").entity(store).build().unwrap();
    let sdl = subgraph.sdl();
    assert!(!sdl.contains("type Query"), "{sdl}");
    apollo_compiler::ast::Document::parse(sdl, "readings.graphql").expect("the SDL parses");
    let found = run(
        &subgraph,
        r#"{ _entities(representations: [{__typename: "Reading", id: "r1"}]) { ... on Reading { value } } }"#,
    )
    .await;
    assert_eq!(found["data"]["_entities"][0]["value"], 7, "{found}");
}
