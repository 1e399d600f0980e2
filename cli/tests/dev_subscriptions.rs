//! `Subscription.entityChanged` through `dictamesh dev`: a client subscribes
//! to customer changes over multipart HTTP or graphql-transport-ws, a customer
//! is created through the router, and the client receives the change with the
//! customer resolved across subgraphs (`invoices` comes from the invoices
//! subgraph); a client that resubscribes with the cursor resumes after it.

mod support;

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use support::{Dev, Parts, graphql, start};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const SUBSCRIPTION: &str = r#"subscription($after: String) {
  entityChanged(type: "Customer", after: $after) {
    cursor eventType entityType entityId changedFields
    entity { __typename ... on Customer { id name invoices { invoiceNumber } } }
  }
}"#;

fn create_customer(dev: &Dev, name: &str) -> String {
    let query = format!(
        r#"mutation {{ createCustomer(input: {{name: "{name}", email: "{name}@example.com"}}) {{ id }} }}"#
    );
    graphql(dev, &query)["createCustomer"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn assert_created(payload: &Value, id: &str, name: &str) -> String {
    assert_eq!(payload.get("errors"), None, "{payload}");
    let change = &payload["data"]["entityChanged"];
    assert_eq!(change["eventType"], "CREATED", "{payload}");
    assert_eq!(change["entityType"], "Customer");
    assert_eq!(change["entityId"], id);
    assert_eq!(
        change["entity"],
        json!({"__typename": "Customer", "id": id, "name": name, "invoices": []}),
        "the entity is resolved across subgraphs"
    );
    change["cursor"].as_str().unwrap().to_string()
}

#[test]
fn multipart_subscribers_get_changes_and_resume_from_their_cursor() {
    let dev = start(&[]);
    let mut parts = Parts::open(&format!("{}graphql", dev.router), SUBSCRIPTION, json!({}));
    let ada = create_customer(&dev, "Ada");
    let cursor = assert_created(&parts.next_payload(), &ada, "Ada");
    drop(parts);
    assert_eq!(
        support::audited_pii_reads(&dev, &format!("entity_id = '{ada}' AND field = 'name'"), 1),
        1,
        "the event's personal data (the customer's name) is audited once"
    );

    let grace = create_customer(&dev, "Grace");
    let mut resumed = Parts::open(
        &format!("{}graphql", dev.router),
        SUBSCRIPTION,
        json!({ "after": cursor }),
    );
    assert_created(&resumed.next_payload(), &grace, "Grace");

    let over_plain_post: Value = reqwest::blocking::Client::new()
        .post(format!("{}graphql", dev.router))
        .json(&json!({ "query": SUBSCRIPTION }))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        over_plain_post["errors"][0]["extensions"]["code"], "SUBSCRIPTION_TRANSPORT_REQUIRED",
        "{over_plain_post}"
    );
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

fn connect(dev: &Dev) -> Socket {
    let url = format!("{}graphql", dev.router.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
    let (socket, response) = tungstenite::connect(request).expect("the router upgrades");
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    }
    socket
}

fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).unwrap();
}

fn receive(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("a message") {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Close(frame) => return json!({ "closed": frame.map(|f| u16::from(f.code)) }),
            _ => continue,
        }
    }
}

#[test]
fn graphql_ws_clients_subscribe_query_and_are_held_to_the_protocol() {
    let dev = start(&[]);
    let mut socket = connect(&dev);
    send(&mut socket, json!({ "type": "connection_init" }));
    assert_eq!(receive(&mut socket)["type"], "connection_ack");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
    );
    send(
        &mut socket,
        json!({ "id": "2", "type": "subscribe", "payload": { "query": "{ __typename }" } }),
    );
    assert_eq!(
        receive(&mut socket),
        json!({ "id": "2", "type": "next", "payload": { "data": { "__typename": "Query" } } })
    );
    assert_eq!(receive(&mut socket), json!({ "id": "2", "type": "complete" }));
    // The subscription's start position is taken once the server reads the
    // message; a ping round trip after it orders the creation after that.
    send(&mut socket, json!({ "type": "ping" }));
    assert_eq!(receive(&mut socket)["type"], "pong");
    std::thread::sleep(Duration::from_millis(300));
    let linus = create_customer(&dev, "Linus");
    let next = receive(&mut socket);
    assert_eq!(next["id"], "1");
    assert_eq!(next["type"], "next");
    assert_created(&next["payload"], &linus, "Linus");

    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
    );
    assert_eq!(
        receive(&mut socket),
        json!({ "closed": 4409 }),
        "a duplicate id closes the socket"
    );

    let mut early = connect(&dev);
    send(
        &mut early,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION } }),
    );
    assert_eq!(
        receive(&mut early),
        json!({ "closed": 4401 }),
        "subscribe before connection_init"
    );

    let mut invalid = connect(&dev);
    send(&mut invalid, json!({ "type": "connection_init" }));
    receive(&mut invalid);
    send(
        &mut invalid,
        json!({ "id": "9", "type": "subscribe", "payload": { "query": "subscription { entityChanged(type: \"Nope\") { eventId } }" } }),
    );
    let error = receive(&mut invalid);
    assert_eq!(error["type"], "error", "{error}");
    assert!(
        error["payload"][0]["message"].as_str().unwrap().contains("Nope"),
        "the error names the unknown type: {error}"
    );
}
