//! Observing one GraphQL operation: a `graphql.operation` span named by the operation
//! (with the SHA-256 of its text, never its variables) and, when it ends, its count
//! and latency by operation name and status.

use std::sync::Arc;
use std::time::Instant;

use sha2::Digest;

use super::RequestStatus;
use super::RouterMetrics;
use crate::execute::GraphQLResponse;
use crate::request::GraphQLRequest;
use crate::request::ParsedDocument;
use crate::request::RequestError;

/// An operation being observed.
pub struct Observed {
    started: Instant,
    span: tracing::Span,
    operation_name: Option<String>,
    query: Option<String>,
}

impl Observed {
    /// Starts observing `request`.
    pub fn start(request: &GraphQLRequest) -> Self {
        let span = tracing::info_span!(
            "graphql.operation",
            graphql.operation.name = tracing::field::Empty,
            graphql.operation.hash = tracing::field::Empty,
        );
        if !span.is_disabled()
            && let Some(name) = &request.operation_name
        {
            span.record("graphql.operation.name", name.as_str());
        }
        Observed {
            started: Instant::now(),
            span,
            operation_name: request.operation_name.clone(),
            query: request.query.clone(),
        }
    }

    /// The operation's span.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome. A refused request counts under `unknown` (its name was
    /// never checked); an unnamed one under its document's only operation name, else
    /// `anonymous`. `document` finds the parsed document of a query text (which
    /// carries the text's hash, computed once per document).
    pub fn finish(
        self,
        metrics: &RouterMetrics,
        result: &Result<GraphQLResponse, RequestError>,
        document: impl FnOnce(&str) -> Option<Arc<ParsedDocument>>,
    ) {
        let status = match result {
            Ok(response) if response.errors.is_empty() => RequestStatus::Ok,
            Ok(_) => RequestStatus::Partial,
            Err(_) => RequestStatus::Error,
        };
        let recording = !self.span.is_disabled();
        // The document is needed for the span's hash, and to name an unnamed operation.
        let unnamed = self.operation_name.is_none() && !matches!(status, RequestStatus::Error);
        let parsed = if recording || unnamed {
            self.query.as_deref().and_then(document)
        } else {
            None
        };
        if recording && let Some(query) = &self.query {
            match &parsed {
                Some(parsed) => self.span.record("graphql.operation.hash", parsed.hash.as_str()),
                None => self
                    .span
                    .record("graphql.operation.hash", query_hash(query).as_str()),
            };
        }
        let named;
        let operation = match (status, &self.operation_name) {
            (RequestStatus::Error, _) => "unknown",
            (_, Some(name)) => name.as_str(),
            (_, None) => {
                named = parsed.and_then(|parsed| {
                    let mut operations = parsed.document.operations.iter();
                    let only = operations.next()?;
                    operations
                        .next()
                        .is_none()
                        .then(|| only.name.as_ref().map(|n| n.to_string()))?
                });
                if let Some(name) = &named {
                    self.span.record("graphql.operation.name", name.as_str());
                }
                named.as_deref().unwrap_or("anonymous")
            }
        };
        metrics.record_request(operation, status, self.started.elapsed());
    }
}

/// The SHA-256 of an operation's text, in hexadecimal.
pub fn query_hash(query: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = sha2::Sha256::digest(query.as_bytes());
    let mut text = String::with_capacity(digest.len() * 2);
    for byte in digest {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    text
}
