//! Graceful shutdown: once the shutdown signal comes (`dictamesh router` waits for
//! SIGTERM or Ctrl-C), the router stops accepting connections, finishes the requests
//! in flight, then returns.

use std::time::Duration;

use dictamesh_router::server;
use serde_json::{Value, json};

use crate::mesh;

#[tokio::test]
async fn shutdown_stops_accepting_and_finishes_requests_in_flight() {
    let (slow, received) = mesh::slow_subgraph(
        Duration::from_millis(300),
        r#"{"data":{"_entities":[{"inStock":true},{"inStock":false}]}}"#,
    )
    .await;
    let mesh = mesh::start("", Some(("inventory", format!("http://{slow}/")))).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server::serve(listener, mesh.state.clone(), async move {
        let _ = stopped.await;
    }));
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("http://{address}/graphql"))
            .json(&json!({"query": "{ products { name inStock } }"}))
            .send()
            .await
            .expect("the request in flight is answered")
            .json::<Value>()
            .await
            .expect("json")
    });
    received.notified().await;
    stop.send(()).expect("the server waits for the signal");

    let mut refused = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(address).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(refused, "no new connections once shutting down");
    let answer = in_flight.await.expect("the request task");
    assert_eq!(
        answer,
        json!({"data": {"products": [{"name": "Desk", "inStock": true}, {"name": "Lamp", "inStock": false}]}}),
        "the request in flight finished in full"
    );
    serving
        .await
        .expect("the server task")
        .expect("the server stops cleanly");
}
