//! `@defer` over multipart HTTP, as Apollo Client and Apollo Router speak it: a
//! client that sends `Accept: multipart/mixed;deferSpec=20220824` gets one
//! `application/json` part per payload — the primary response first, then the
//! deferred parts as they complete — and `--` closing the stream after the
//! payload with `"hasNext":false`. Other clients get the whole response at once.

use axum::http::HeaderMap;
use axum::http::header;
use axum::response::Response;

use crate::pipeline::IncrementalPayloads;
use crate::subscriptions::multipart::end;
use crate::subscriptions::multipart::part;
use crate::subscriptions::multipart::streaming;

/// The response content type.
pub const CONTENT_TYPE: &str = "multipart/mixed;boundary=\"graphql\";deferSpec=20220824";

/// Whether the client accepts incremental delivery over multipart HTTP.
pub fn accepted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|accept| {
            let accept = accept.to_ascii_lowercase();
            accept.contains("multipart/mixed") && accept.contains("deferspec=20220824")
        })
}

/// The streaming response for an incremental execution's payloads.
pub fn response(payloads: IncrementalPayloads) -> Response {
    let parts = futures::stream::unfold((Some(payloads), true), |(payloads, first)| async move {
        let mut payloads = payloads?;
        match payloads.recv().await {
            Some(payload) => Some((part(first, &payload), (Some(payloads), false))),
            None => Some((end(first), (None, false))),
        }
    });
    streaming(parts, CONTENT_TYPE)
}
