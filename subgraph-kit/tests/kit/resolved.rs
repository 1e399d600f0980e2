//! Resolved fields: custom root fields, fields with arguments on entities, and
//! entity stubs resolved from their representations.

use dictamesh::model::{FieldDef, KeyDef, ObjectDef, TypeRef};
use dictamesh::{AdapterError, BuildError, ResolvedField, Subgraph, async_graphql};
use serde_json::json;

use crate::books::{Genre, Shelf, book, run};

/// A count of words, computed by a resolver.
#[dictamesh::object]
#[derive(Clone, Debug)]
pub struct WordCount {
    pub word: String,
    pub count: i32,
}

fn shelf() -> Shelf {
    Shelf::new([book("1", "Dune", Genre::ScienceFiction)])
}

fn words() -> ResolvedField {
    ResolvedField::new::<Vec<WordCount>, _, _>("words", |call| async move {
        let text: String = call.required("text")?;
        let limit: i32 = call.argument("limit")?.unwrap_or(i32::MAX);
        Ok::<_, AdapterError>(
            text.split_whitespace()
                .take(usize::try_from(limit).unwrap_or(0))
                .map(|w| WordCount {
                    word: w.into(),
                    count: 1,
                })
                .collect(),
        )
    })
    .argument::<String>("text")
    .argument_with_default::<i32>("limit", async_graphql::Value::from(10))
    .description("The words of a text.")
}

#[tokio::test]
async fn custom_query_fields_take_arguments_with_defaults_and_return_objects() {
    let subgraph = Subgraph::builder("words").query(words()).build().unwrap();
    assert!(
        subgraph
            .sdl()
            .contains("words(text: String!, limit: Int = 10): [WordCount!]!")
    );
    assert!(subgraph.sdl().contains("type WordCount {"));
    let response = run(
        &subgraph,
        r#"{ words(text: "a b c") { word } capped: words(text: "a b c", limit: 1) { word count } }"#,
    )
    .await;
    assert_eq!(
        response["data"],
        json!({"words": [{"word": "a"}, {"word": "b"}, {"word": "c"}], "capped": [{"word": "a", "count": 1}]})
    );
}

#[tokio::test]
async fn resolver_errors_carry_their_code_and_null_a_nullable_field() {
    let failing = ResolvedField::new::<Option<String>, _, _>("maybe", |_| async {
        Err::<Option<String>, _>(AdapterError::InvalidInput("no such thing".into()))
    });
    let strict = ResolvedField::new::<String, _, _>("strict", |_| async {
        Err::<String, _>(AdapterError::Conflict("already there".into()))
    });
    let subgraph = Subgraph::builder("errors")
        .query(failing)
        .mutation(strict)
        .build()
        .unwrap();
    let response = run(&subgraph, "{ maybe }").await;
    assert_eq!(response["data"], json!({"maybe": null}));
    assert_eq!(response["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["path"], json!(["maybe"]));
    let response = run(&subgraph, "mutation { strict }").await;
    assert_eq!(response["errors"][0]["extensions"]["code"], "CONFLICT");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("already there")
    );
}

#[tokio::test]
async fn resolved_fields_on_an_entity_see_their_parent() {
    let shout = ResolvedField::new::<String, _, _>("shouted", |call| async move {
        let title = call.parent()["title"].as_str().unwrap_or_default().to_uppercase();
        let bang: bool = call.argument("bang")?.unwrap_or(false);
        Ok::<_, AdapterError>(if bang { format!("{title}!") } else { title })
    })
    .argument::<Option<bool>>("bang");
    let subgraph = Subgraph::builder("library")
        .entity(shelf())
        .field("Book", shout)
        .build()
        .unwrap();
    assert!(subgraph.sdl().contains("shouted(bang: Boolean): String!"));
    let response = run(
        &subgraph,
        r#"{ book(id: "1") { title shouted loud: shouted(bang: true) } }"#,
    )
    .await;
    assert_eq!(
        response["data"]["book"],
        json!({"title": "Dune", "shouted": "DUNE", "loud": "DUNE!"})
    );
}

fn customer_stub() -> ObjectDef {
    let mut customer = ObjectDef::new("Customer");
    customer.fields.push(FieldDef::new("id", TypeRef::named_nn("ID")));
    customer.keys.push(KeyDef {
        fields: dictamesh::key::FieldSet::parse("id").unwrap(),
        resolvable: true,
    });
    customer
}

#[tokio::test]
async fn entity_stubs_resolve_representations_and_their_resolved_fields() {
    let badge = ResolvedField::new::<String, _, _>("badge", |call| async move {
        Ok::<_, AdapterError>(format!(
            "customer {}",
            call.parent()["id"].as_str().unwrap_or("?")
        ))
    });
    let subgraph = Subgraph::builder("badges")
        .entity_stub(customer_stub())
        .field("Customer", badge)
        .build()
        .unwrap();
    assert!(subgraph.sdl().contains(r#"type Customer @key(fields: "id") {"#));
    let request = async_graphql::Request::new(
        "query ($r: [_Any!]!) { _entities(representations: $r) { ... on Customer { id badge } } }",
    )
    .variables(async_graphql::Variables::from_json(json!({"r": [
        {"__typename": "Customer", "id": "c-1"},
        {"__typename": "Customer", "id": "c-2"},
    ]})));
    let response = serde_json::to_value(subgraph.execute(request).await).unwrap();
    assert_eq!(
        response["data"]["_entities"],
        json!([{"id": "c-1", "badge": "customer c-1"}, {"id": "c-2", "badge": "customer c-2"}])
    );
}

#[test]
fn resolved_fields_must_name_a_known_type_and_a_new_field() {
    let unknown = Subgraph::builder("x").field("Nope", words()).build();
    assert!(matches!(unknown, Err(BuildError::UnknownType { referenced, .. }) if referenced == "Nope"));
    let title =
        ResolvedField::new::<String, _, _>("title", |_| async { Ok::<_, AdapterError>(String::new()) });
    let duplicate = Subgraph::builder("x")
        .entity(shelf())
        .field("Book", title)
        .build();
    assert!(
        matches!(duplicate, Err(BuildError::DuplicateField { type_name, field }) if type_name == "Book" && field == "title")
    );
}
