//! GraphQL over WebSocket, the `graphql-transport-ws` protocol (the one
//! `graphql-ws` and Apollo Client speak): `connection_init` → `connection_ack`,
//! then `subscribe` / `next` / `error` / `complete` per operation id, `ping` /
//! `pong`, and the protocol's close codes (4400 bad message, 4401 subscribe
//! before init, 4408 no init in time, 4409 duplicate id, 4429 second init, 4403 a
//! bad token in `connection_init`'s payload or none when authentication is
//! required).
//! Queries and mutations may travel over the socket too (one `next`, then
//! `complete`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::CloseFrame;
use axum::extract::ws::Message;
use axum::extract::ws::WebSocket;
use futures::SinkExt;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use dictamesh_governance::Caller;

use crate::execute::GraphQLResponse;
use crate::http::RouterState;
use crate::pipeline::RequestMethod;
use crate::request::GraphQLRequest;
use crate::request::RequestError;

/// The WebSocket subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A message from the client.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<serde_json::Map<String, Value>>,
    },
    Subscribe {
        id: String,
        payload: GraphQLRequest,
    },
    Complete {
        id: String,
    },
    Ping {},
    Pong {},
}

/// Why the server closes the socket.
struct Close(u16, String);

type Outbox = mpsc::Sender<Message>;

/// Serves one socket until the client leaves; `caller` is who the upgrade request's
/// headers authenticated (`connection_init` may carry a token instead).
pub async fn serve(socket: WebSocket, state: Arc<RouterState>, caller: Caller) {
    let (mut sink, mut source) = socket.split();
    let (outbox, mut outgoing) = mpsc::channel::<Message>(64);
    let writer = tokio::spawn(async move {
        while let Some(message) = outgoing.recv().await {
            let closing = matches!(message, Message::Close(_));
            if sink.send(message).await.is_err() || closing {
                break;
            }
        }
    });
    let mut connection = Connection {
        state,
        caller,
        outbox: outbox.clone(),
        acknowledged: false,
        operations: HashMap::new(),
    };
    let deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(deadline);
    let closed = connection.state.streams_closed();
    tokio::pin!(closed);
    let close = loop {
        let message = tokio::select! {
            message = source.next() => message,
            _ = &mut deadline, if !connection.acknowledged => {
                break Some(Close(4408, "Connection initialisation timeout".into()));
            }
            _ = &mut closed => break Some(Close(1001, "The router is shutting down".into())),
        };
        let text = match message {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break None,
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Binary(_))) => {
                break Some(Close(4400, "Binary messages are not supported".into()));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
        };
        if let Err(close) = connection.handle(text.as_str()).await {
            break Some(close);
        }
    };
    for (_, operation) in connection.operations.drain() {
        operation.abort();
    }
    if let Some(Close(code, reason)) = close {
        let _ = outbox
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
    }
    drop(connection);
    drop(outbox);
    let _ = writer.await;
}

struct Connection {
    state: Arc<RouterState>,
    caller: Caller,
    outbox: Outbox,
    acknowledged: bool,
    operations: HashMap<String, JoinHandle<()>>,
}

impl Connection {
    async fn handle(&mut self, text: &str) -> Result<(), Close> {
        let message: ClientMessage =
            serde_json::from_str(text).map_err(|e| Close(4400, format!("Invalid message: {e}")))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.acknowledged {
                    return Err(Close(4429, "Too many initialisation requests".into()));
                }
                let pipeline = self.state.pipeline();
                let governance = pipeline.governance();
                if let Some(params) = &payload {
                    match governance.identify_params(params) {
                        Ok(Some(caller)) => self.caller = caller,
                        Ok(None) => {}
                        Err(refusal) => {
                            pipeline.audit_refusal(&refusal, "connection_init").await;
                            return Err(Close(4403, "Forbidden".into()));
                        }
                    }
                }
                if let Err(refusal) = governance.require(&self.caller) {
                    pipeline.audit_refusal(&refusal, "connection_init").await;
                    return Err(Close(4403, "Forbidden".into()));
                }
                self.acknowledged = true;
                send(&self.outbox, json!({ "type": "connection_ack" })).await;
            }
            ClientMessage::Ping {} => send(&self.outbox, json!({ "type": "pong" })).await,
            ClientMessage::Pong {} => {}
            ClientMessage::Complete { id } => {
                if let Some(operation) = self.operations.remove(&id) {
                    operation.abort();
                }
            }
            ClientMessage::Subscribe { id, payload } => {
                if !self.acknowledged {
                    return Err(Close(4401, "Unauthorized".into()));
                }
                if self.operations.get(&id).is_some_and(|op| !op.is_finished()) {
                    return Err(Close(4409, format!("Subscriber for {id} already exists")));
                }
                let operation = tokio::spawn(run(
                    self.state.clone(),
                    self.outbox.clone(),
                    id.clone(),
                    payload,
                    self.caller.clone(),
                ));
                self.operations.insert(id, operation);
            }
        }
        Ok(())
    }
}

/// Runs one operation of the socket to its end.
async fn run(state: Arc<RouterState>, outbox: Outbox, id: String, request: GraphQLRequest, caller: Caller) {
    let message = match answer(&state, &outbox, &id, &request, &caller).await {
        Ok(()) => json!({ "id": id, "type": "complete" }),
        Err(error) => json!({ "id": id, "type": "error", "payload": error.errors }),
    };
    send(&outbox, message).await;
}

/// Sends the operation's results as `next` messages: every event of a
/// subscription, the one response of a query or mutation.
async fn answer(
    state: &RouterState,
    outbox: &Outbox,
    id: &str,
    request: &GraphQLRequest,
    caller: &Caller,
) -> Result<(), RequestError> {
    let pipeline = state.pipeline();
    match pipeline
        .subscribe_as(request, state.change_feed(), caller)
        .await?
    {
        Some(mut events) => {
            while let Some(response) = events.next().await {
                send_next(outbox, id, &response).await;
            }
        }
        None => {
            let response = pipeline
                .execute_as(request, RequestMethod::Post, false, caller)
                .await?;
            send_next(outbox, id, &response).await;
        }
    }
    Ok(())
}

/// `next` with the response as the router wrote it (field order kept).
async fn send_next(outbox: &Outbox, id: &str, response: &GraphQLResponse) {
    let mut text = br#"{"type":"next","id":"#.to_vec();
    let _ = serde_json::to_writer(&mut text, id);
    text.extend_from_slice(br#","payload":"#);
    response.write(&mut text);
    text.push(b'}');
    let text = String::from_utf8(text).unwrap_or_default();
    let _ = outbox.send(Message::Text(text.into())).await;
}

async fn send(outbox: &Outbox, message: Value) {
    let _ = outbox.send(Message::Text(message.to_string().into())).await;
}
