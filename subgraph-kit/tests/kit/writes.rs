//! Mutations and source changes: events on the bus, caches invalidated.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dictamesh::Subgraph;
use dictamesh::events::{ChangeType, InProcessBus};
use serde_json::json;

use crate::books::{Genre, Shelf, book, changed, run};

#[tokio::test]
async fn mutations_write_through_the_adapter_and_publish_change_events() {
    let bus = InProcessBus::new(16);
    let mut events = bus.subscribe();
    let subgraph = Subgraph::builder("library")
        .writable(Shelf::new([book("b1", "Dune", Genre::ScienceFiction)]))
        .publisher(Arc::new(bus))
        .public_url("http://library:4001/graphql")
        .build()
        .unwrap();
    assert!(subgraph.sdl().contains("createBook(input: NewBook!): Book!"));
    assert!(
        subgraph
            .sdl()
            .contains("updateBook(id: ID!, patch: BookPatch!): Book!")
    );
    assert!(subgraph.sdl().contains("deleteBook(id: ID!): Boolean!"));

    let created = run(
        &subgraph,
        r#"mutation { createBook(input: {isbn: "i-2", title: "Emma", genre: FICTION, authorId: "a9"}) { id title author { id } } }"#,
    )
    .await;
    assert_eq!(
        created["data"]["createBook"],
        json!({"id": "b2", "title": "Emma", "author": {"id": "a9"}})
    );
    let event = events.recv().await.unwrap();
    assert_eq!(event.event_type, ChangeType::Created);
    assert_eq!(event.entity.entity_type, "Book");
    assert_eq!(event.entity.id, "b2");
    assert_eq!(event.entity.url, "http://library:4001/graphql");
    assert_eq!(event.topic(), "library.shelf.entity_changed");
    assert!(event.changed_fields.contains(&"title".to_string()));

    let updated = run(
        &subgraph,
        r#"mutation { updateBook(id: "b1", patch: {pages: 412}) { title pages } }"#,
    )
    .await;
    assert_eq!(
        updated["data"]["updateBook"],
        json!({"title": "Dune", "pages": 412})
    );
    let event = events.recv().await.unwrap();
    assert_eq!(
        (event.event_type, event.changed_fields.clone()),
        (ChangeType::Updated, vec!["pages".to_string()])
    );

    let deleted = run(&subgraph, r#"mutation { deleteBook(id: "b1") }"#).await;
    assert_eq!(deleted["data"]["deleteBook"], json!(true));
    assert_eq!(events.recv().await.unwrap().event_type, ChangeType::Deleted);
    let gone = run(&subgraph, r#"{ book(id: "b1") { title } }"#).await;
    assert_eq!(
        gone["data"]["book"],
        json!(null),
        "the deleted entity is not served from the cache"
    );

    let missing = run(&subgraph, r#"mutation { deleteBook(id: "nope") }"#).await;
    assert_eq!(missing["errors"][0]["extensions"]["code"], "NOT_FOUND");
}

#[tokio::test]
async fn an_update_invalidates_the_cached_entity_under_all_its_keys() {
    let shelf = Arc::new(Shelf::new([book("b1", "Dune", Genre::ScienceFiction)]));
    let subgraph = Subgraph::builder("library")
        .writable(shelf.clone())
        .build()
        .unwrap();
    let by_isbn = r#"{ _entities(representations: [{__typename: "Book", isbn: "isbn-b1"}]) { ... on Book { title } } }"#;
    assert_eq!(
        run(&subgraph, r#"{ book(id: "b1") { title } }"#).await["data"]["book"]["title"],
        "Dune"
    );
    assert_eq!(
        run(&subgraph, by_isbn).await["data"]["_entities"][0]["title"],
        "Dune"
    );
    let calls = shelf.calls.load(Ordering::SeqCst);
    run(
        &subgraph,
        r#"mutation { updateBook(id: "b1", patch: {title: "Dune Messiah"}) { title } }"#,
    )
    .await;
    assert_eq!(
        run(&subgraph, r#"{ book(id: "b1") { title } }"#).await["data"]["book"]["title"],
        "Dune Messiah"
    );
    assert_eq!(
        run(&subgraph, by_isbn).await["data"]["_entities"][0]["title"],
        "Dune Messiah"
    );
    assert_eq!(
        shelf.calls.load(Ordering::SeqCst),
        calls + 2,
        "both key forms were fetched again"
    );
}

#[tokio::test]
async fn source_changes_become_events_and_drop_the_cached_entity() {
    let bus = InProcessBus::new(16);
    let mut events = bus.subscribe();
    let (shelf, feed) = Shelf::new([book("b1", "Dune", Genre::ScienceFiction)]).with_changes();
    let shelf = Arc::new(shelf);
    let subgraph = Subgraph::builder("library")
        .entity(shelf.clone())
        .publisher(Arc::new(bus))
        .build()
        .unwrap();
    let followers = subgraph.spawn_change_followers();
    assert_eq!(
        run(&subgraph, r#"{ book(id: "b1") { title } }"#).await["data"]["book"]["title"],
        "Dune"
    );

    shelf.rename("b1", "Children of Dune");
    feed.send(changed("b1")).unwrap();
    let event = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (event.event_type, event.entity.id.as_str()),
        (ChangeType::Updated, "b1")
    );
    assert_eq!(event.changed_fields, ["title"]);
    assert_eq!(
        run(&subgraph, r#"{ book(id: "b1") { title } }"#).await["data"]["book"]["title"],
        "Children of Dune"
    );
    for follower in followers {
        follower.abort();
    }
}
