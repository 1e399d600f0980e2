//! Authentication over WebSocket (graphql-transport-ws): a token in the upgrade
//! request's headers or in `connection_init`'s payload; a bad one is refused, and
//! operations run as the caller it makes.

use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

use crate::mesh::{self, Who};

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn connect(
    router: std::net::SocketAddr,
    authorization: Option<String>,
) -> Result<Socket, tungstenite::Error> {
    let mut request = format!("ws://{router}/graphql")
        .into_client_request()
        .expect("request");
    let headers = request.headers_mut();
    headers.insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    if let Some(value) = authorization {
        headers.insert("authorization", value.parse().expect("header"));
    }
    tungstenite::connect(request).map(|(socket, _)| socket)
}

fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).expect("send");
}

/// The next JSON message, or the close code.
fn receive(socket: &mut Socket) -> Result<Value, u16> {
    loop {
        match socket.read() {
            Ok(Message::Text(text)) => return Ok(serde_json::from_str(text.as_str()).expect("json")),
            Ok(Message::Close(frame)) => return Err(frame.map(|f| u16::from(f.code)).unwrap_or(0)),
            Ok(_) => continue,
            Err(_) => return Err(0),
        }
    }
}

fn salary_over_socket(socket: &mut Socket, init: Value) -> Result<Value, u16> {
    send(socket, init);
    let ack = receive(socket)?;
    assert_eq!(ack["type"], "connection_ack");
    send(
        socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ user(id: \"u1\") { salary } }" } }),
    );
    receive(socket).map(|next| next["payload"].clone())
}

#[tokio::test]
async fn websocket_callers_authenticate_by_header_or_connection_params() {
    let mesh = mesh::start("{}").await;
    let router = mesh.router;
    tokio::task::spawn_blocking(move || {
        let refused = connect(router, Some("Bearer abc.def".into())).expect_err("a bad token is refused");
        match refused {
            tungstenite::Error::Http(response) => assert_eq!(response.status().as_u16(), 401),
            other => panic!("expected 401, got {other}"),
        }

        let mut socket = connect(router, Who::Allowed.header()).expect("upgrade");
        let payload = salary_over_socket(&mut socket, json!({ "type": "connection_init" })).expect("next");
        assert_eq!(payload["data"]["user"]["salary"], 100, "{payload}");

        let mut socket = connect(router, None).expect("upgrade");
        let init =
            json!({ "type": "connection_init", "payload": { "Authorization": Who::Allowed.header() } });
        let payload = salary_over_socket(&mut socket, init).expect("next");
        assert_eq!(payload["data"]["user"]["salary"], 100, "{payload}");

        let mut socket = connect(router, None).expect("upgrade");
        let payload = salary_over_socket(&mut socket, json!({ "type": "connection_init" })).expect("next");
        assert!(
            payload["data"]["user"]["salary"].is_null(),
            "anonymous: {payload}"
        );
        assert_eq!(
            payload["errors"][0]["extensions"]["code"],
            "UNAUTHORIZED_FIELD_OR_TYPE"
        );

        let mut socket = connect(router, None).expect("upgrade");
        let init = json!({ "type": "connection_init", "payload": { "authorization": "Bearer abc.def" } });
        assert_eq!(salary_over_socket(&mut socket, init), Err(4403));
    })
    .await
    .expect("the socket checks run");
}

#[tokio::test]
async fn require_authentication_holds_over_websocket() {
    let yaml = format!("{}  require_authentication: true\n", mesh::config_yaml("{}"));
    let mesh = mesh::start_with(&yaml).await;
    let router = mesh.router;
    tokio::task::spawn_blocking(move || {
        let mut socket = connect(router, None).expect("upgrade");
        assert_eq!(
            salary_over_socket(&mut socket, json!({ "type": "connection_init" })),
            Err(4403)
        );
        let mut socket = connect(router, None).expect("upgrade");
        let init = json!({ "type": "connection_init", "payload": { "Authorization": Who::Denied.header() } });
        let payload = salary_over_socket(&mut socket, init).expect("next");
        assert!(payload["data"]["user"]["salary"].is_null(), "{payload}");
    })
    .await
    .expect("the socket checks run");
}
