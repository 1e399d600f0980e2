//! The customers and invoices subgraphs on SQLite and on PostgreSQL: every
//! query and mutation, and the adapter contract.

mod support;

use dictamesh::testing::ContractSuite;
use dictamesh::{EntityKey, Subgraph};
use dictamesh_example_mesh::Database;
use dictamesh_example_mesh::customers::{self, SqlCustomers};
use dictamesh_example_mesh::invoices::{self, SqlInvoices};
use serde_json::{Value, json};

async fn run(subgraph: &Subgraph, query: &str) -> Value {
    let response = serde_json::to_value(subgraph.execute(query).await).unwrap();
    assert_eq!(response.get("errors"), None, "{query}: {response}");
    response["data"].clone()
}

async fn customers_lifecycle(db: Database) {
    let subgraph = customers::subgraph(SqlCustomers::new(db).await.unwrap())
        .build()
        .unwrap();
    let created = run(
        &subgraph,
        r#"mutation { createCustomer(input: {name: "John Doe", email: "john@example.com"}) { id name email createdAt } }"#,
    )
    .await;
    let id = created["createCustomer"]["id"].as_str().unwrap().to_string();
    assert_eq!(created["createCustomer"]["name"], "John Doe");
    run(
        &subgraph,
        r#"mutation { createCustomer(input: {name: "Ada", email: "ada@example.com"}) { id } }"#,
    )
    .await;

    let found = run(
        &subgraph,
        &format!(r#"{{ customer(id: "{id}") {{ name email }} }}"#),
    )
    .await;
    assert_eq!(
        found["customer"],
        json!({"name": "John Doe", "email": "john@example.com"})
    );
    let filtered = run(&subgraph, r#"{ customers(filter: {name: "Ada"}) { email } }"#).await;
    assert_eq!(filtered["customers"], json!([{"email": "ada@example.com"}]));
    let paged = run(&subgraph, "{ customers(limit: 1, offset: 1) { name } }").await;
    assert_eq!(paged["customers"], json!([{"name": "Ada"}]));

    let representations = run(
        &subgraph,
        &format!(r#"{{ _entities(representations: [{{__typename: "Customer", id: "{id}"}}, {{__typename: "Customer", id: "none"}}]) {{ ... on Customer {{ name }} }} }}"#),
    )
    .await;
    assert_eq!(representations["_entities"], json!([{"name": "John Doe"}, null]));

    let updated = run(
        &subgraph,
        &format!(
            r#"mutation {{ updateCustomer(id: "{id}", patch: {{name: "John Q. Doe"}}) {{ name email }} }}"#
        ),
    )
    .await;
    assert_eq!(
        updated["updateCustomer"],
        json!({"name": "John Q. Doe", "email": "john@example.com"})
    );

    let duplicate = serde_json::to_value(
        subgraph
            .execute(r#"mutation { createCustomer(input: {name: "X", email: "ada@example.com"}) { id } }"#)
            .await,
    )
    .unwrap();
    assert_eq!(
        duplicate["errors"][0]["extensions"]["code"], "CONFLICT",
        "{duplicate}"
    );
    let invalid = serde_json::to_value(
        subgraph
            .execute(r#"mutation { createCustomer(input: {name: "X", email: "nope"}) { id } }"#)
            .await,
    )
    .unwrap();
    assert!(
        invalid["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`nope` is not an e-mail address")
    );

    let deleted = run(
        &subgraph,
        &format!(r#"mutation {{ deleteCustomer(id: "{id}") }}"#),
    )
    .await;
    assert_eq!(deleted["deleteCustomer"], true);
    let gone = run(&subgraph, &format!(r#"{{ customer(id: "{id}") {{ name }} }}"#)).await;
    assert_eq!(gone["customer"], Value::Null);
}

#[tokio::test]
async fn customers_on_sqlite() {
    customers_lifecycle(support::sqlite().await).await;
}

#[tokio::test]
async fn customers_on_postgres() {
    customers_lifecycle(support::postgres().await).await;
}

async fn invoices_lifecycle(db: Database) {
    let subgraph = invoices::subgraph(SqlInvoices::new(db).await.unwrap())
        .build()
        .unwrap();
    let created = run(
        &subgraph,
        r#"mutation { createInvoice(input: {customerId: "c1", items: [{productId: "p1", quantity: 2, unitPrice: "19.99"}, {productId: "p2", quantity: 1, unitPrice: "0.02"}]}) {
            id invoiceNumber status total { amount currency } customer { id }
            items { product { id } quantity unitPrice { amount } total { amount } }
        } }"#,
    )
    .await;
    let invoice = &created["createInvoice"];
    assert_eq!(invoice["invoiceNumber"], "INV-000001");
    assert_eq!(invoice["status"], "ISSUED");
    assert_eq!(invoice["total"], json!({"amount": "40.00", "currency": "USD"}));
    assert_eq!(invoice["customer"], json!({"id": "c1"}));
    assert_eq!(
        invoice["items"][0],
        json!({"product": {"id": "p1"}, "quantity": 2, "unitPrice": {"amount": "19.99"}, "total": {"amount": "39.98"}})
    );
    let id = invoice["id"].as_str().unwrap().to_string();
    run(
        &subgraph,
        r#"mutation { createInvoice(input: {customerId: "c1", currency: "EUR", items: [{productId: "p3", quantity: 1, unitPrice: "5"}]}) { id } }"#,
    )
    .await;

    let by_customer = run(
        &subgraph,
        r#"{ _entities(representations: [{__typename: "Customer", id: "c1"}, {__typename: "Customer", id: "c2"}]) { ... on Customer { invoices { invoiceNumber total { currency } } } } }"#,
    )
    .await;
    assert_eq!(
        by_customer["_entities"],
        json!([
            {"invoices": [{"invoiceNumber": "INV-000002", "total": {"currency": "EUR"}}, {"invoiceNumber": "INV-000001", "total": {"currency": "USD"}}]},
            {"invoices": []}
        ])
    );
    let through_reference = run(
        &subgraph,
        &format!(r#"{{ invoice(id: "{id}") {{ customer {{ invoices {{ invoiceNumber }} }} }} }}"#),
    )
    .await;
    assert_eq!(
        through_reference["invoice"]["customer"]["invoices"],
        json!([{"invoiceNumber": "INV-000002"}, {"invoiceNumber": "INV-000001"}]),
        "a reference to a local entity is completed when more than its key is asked for"
    );

    let paid = run(
        &subgraph,
        &format!(r#"mutation {{ updateInvoice(id: "{id}", patch: {{status: PAID}}) {{ status }} }}"#),
    )
    .await;
    assert_eq!(paid["updateInvoice"]["status"], "PAID");
    let issued = run(
        &subgraph,
        r#"{ invoices(filter: {status: ISSUED}) { invoiceNumber } }"#,
    )
    .await;
    assert_eq!(issued["invoices"], json!([{"invoiceNumber": "INV-000002"}]));

    let empty = serde_json::to_value(
        subgraph
            .execute(r#"mutation { createInvoice(input: {customerId: "c1", items: []}) { id } }"#)
            .await,
    )
    .unwrap();
    assert!(
        empty["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at least one item")
    );
    assert_eq!(
        run(&subgraph, &format!(r#"mutation {{ deleteInvoice(id: "{id}") }}"#)).await["deleteInvoice"],
        true
    );
}

#[tokio::test]
async fn invoices_on_sqlite() {
    invoices_lifecycle(support::sqlite().await).await;
}

#[tokio::test]
async fn invoices_on_postgres() {
    invoices_lifecycle(support::postgres().await).await;
}

#[tokio::test]
async fn sql_adapters_pass_the_contract_on_both_databases() {
    use dictamesh::WritableAdapter;
    for db in [support::sqlite().await, support::postgres().await] {
        let adapter = SqlCustomers::new(db.clone()).await.unwrap();
        let john = adapter
            .create(customers::NewCustomer {
                name: "John Doe".into(),
                email: format!("john-{}@example.com", uuid::Uuid::new_v4()),
            })
            .await
            .unwrap();
        ContractSuite::new(
            adapter,
            EntityKey::single("Customer", "id", john.id.as_str()),
            EntityKey::single("Customer", "id", "no-such-customer"),
        )
        .run()
        .await
        .assert_passed();
    }
}
