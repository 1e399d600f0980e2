//! Subscriptions over multipart HTTP, as Apollo Client and Apollo Router speak
//! it: `Accept: multipart/mixed;subscriptionSpec="1.0"` on a POST, answered
//! with one `application/json` part per event (`{"payload": {...}}`), an empty
//! `{}` part as heartbeat (every 5 s when idle), each part followed by the
//! boundary, and `--` closing it when the stream ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::body::Bytes;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::http::header;
use axum::response::Response;
use futures::StreamExt;

use super::EventStream;

/// The response content type.
pub const CONTENT_TYPE: &str = "multipart/mixed;boundary=\"graphql\";subscriptionSpec=\"1.0\"";

/// How often an idle stream sends a heartbeat part.
const HEARTBEAT: Duration = Duration::from_secs(5);

/// Each part ends with the boundary, so clients read it as soon as it arrives.
const BOUNDARY: &[u8] = b"\r\n--graphql";

/// Whether the client accepts subscriptions over multipart HTTP.
pub fn accepted(accept: &str) -> bool {
    let accept = accept.to_ascii_lowercase();
    accept.contains("multipart/mixed") && accept.contains("subscriptionspec")
}

/// One part: a JSON payload followed by the boundary (preceded by it when first).
pub(crate) fn part(first: bool, json: &[u8]) -> Bytes {
    let mut part = Vec::with_capacity(json.len() + 64);
    if first {
        part.extend_from_slice(BOUNDARY);
    }
    part.extend_from_slice(b"\r\ncontent-type: application/json\r\n\r\n");
    part.extend_from_slice(json);
    part.extend_from_slice(BOUNDARY);
    Bytes::from(part)
}

/// The closing boundary.
pub(crate) fn end(first: bool) -> Bytes {
    let mut end = Vec::with_capacity(16);
    if first {
        end.extend_from_slice(BOUNDARY);
    }
    end.extend_from_slice(b"--\r\n");
    Bytes::from(end)
}

/// The streaming response for a subscription's events.
pub fn response(events: EventStream) -> Response {
    let body = futures::stream::unfold((Some(events), true), |(events, first)| async move {
        let mut events = events?;
        tokio::select! {
            item = events.next() => match item {
                Some(response) => {
                    let mut text = b"{\"payload\":".to_vec();
                    response.write(&mut text);
                    text.push(b'}');
                    Some((part(first, &text), (Some(events), false)))
                }
                None => Some((end(first), (None, false))),
            },
            _ = tokio::time::sleep(HEARTBEAT) => Some((part(first, b"{}"), (Some(events), false))),
        }
    });
    streaming(body, CONTENT_TYPE)
}

/// A `200` response streaming `parts` with `content_type`, never cached.
pub(crate) fn streaming(
    parts: impl futures::Stream<Item = Bytes> + Send + 'static,
    content_type: &'static str,
) -> Response {
    let mut response = Response::new(Body::from_stream(parts.map(Ok::<_, Infallible>)));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
