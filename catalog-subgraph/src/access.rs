//! Write access: with a write token configured, every write (GraphQL
//! mutations, schema registrations, deletions and configuration over REST,
//! `POST /ingest`) needs `Authorization: Bearer <token>`; reads stay open.
//! Each refusal is written to `audit_log` as `access_denied`.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dictamesh::async_graphql::parser::parse_query;
use dictamesh::async_graphql::parser::types::{DocumentOperations, OperationType};
use serde_json::{Value, json};

use crate::audit::{self, AuditAction, AuditEntry};
use crate::db::Database;

/// The largest request body the gate reads to find mutations.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// What the gate needs.
#[derive(Clone)]
pub struct WriteGate {
    /// The token writers present.
    pub token: String,
    /// Where refusals are audited.
    pub db: Database,
}

/// What kind of request a gate sees.
enum Kind {
    Read,
    GraphqlWrite,
    RestWrite,
}

/// Whether a GraphQL request body (single or batched) runs a mutation.
fn runs_mutation(body: &Bytes) -> bool {
    let Ok(json) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    let requests = match json {
        Value::Array(items) => items,
        single => vec![single],
    };
    requests.iter().any(|request| {
        let Some(query) = request.get("query").and_then(Value::as_str) else {
            return false;
        };
        let Ok(document) = parse_query(query) else {
            return false;
        };
        let name = request.get("operationName").and_then(Value::as_str);
        match &document.operations {
            DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
            DocumentOperations::Multiple(ops) => match name {
                Some(name) => ops
                    .get(name)
                    .is_some_and(|op| op.node.ty == OperationType::Mutation),
                None => ops.values().any(|op| op.node.ty == OperationType::Mutation),
            },
        }
    })
}

fn classify(method: &Method, path: &str, body: &Bytes) -> Kind {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.first().copied()) {
        (&Method::POST, Some("" | "graphql")) if segments.len() == 1 => {
            if runs_mutation(body) {
                Kind::GraphqlWrite
            } else {
                Kind::Read
            }
        }
        (&Method::POST, Some("ingest")) => Kind::RestWrite,
        // `POST /subjects/{s}` looks a schema up; `/compatibility` only checks.
        (&Method::POST, Some("subjects")) if segments.len() == 2 => Kind::Read,
        (&Method::POST | &Method::PUT | &Method::DELETE, Some("subjects" | "config")) => Kind::RestWrite,
        _ => Kind::Read,
    }
}

fn presented_token(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The middleware: lets reads through, checks the token of writes.
pub async fn require_token_for_writes(
    State(gate): State<WriteGate>,
    request: Request,
    next: Next,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")).into_response(),
    };
    let kind = classify(&parts.method, parts.uri.path(), &body);
    let request = Request::from_parts(parts, Body::from(body));
    if matches!(kind, Kind::Read) {
        return next.run(request).await;
    }
    let reason = match presented_token(&request) {
        Some(token) if token == gate.token => return next.run(request).await,
        Some(_) => "the bearer token is not the catalog's write token",
        None => "writes need `Authorization: Bearer <write token>`",
    };
    let operation = format!("{} {}", request.method(), request.uri().path());
    let audited = audit::record(
        &gate.db,
        &AuditEntry {
            action: AuditAction::AccessDenied,
            principal: None,
            operation,
            catalog_id: None,
            entity_type: None,
            entity_id: None,
            reason: Some(reason.to_string()),
        },
    )
    .await;
    if let Err(error) = audited {
        tracing::error!(%error, "denied write not audited");
    }
    match kind {
        Kind::GraphqlWrite => (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"errors": [{"message": reason, "extensions": {"code": "UNAUTHENTICATED"}}]})),
        )
            .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, crate::schema_registry::rest::CONTENT_TYPE)],
            json!({"error_code": 40101, "message": reason}).to_string(),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(method: Method, path: &str, body: &str) -> &'static str {
        match classify(&method, path, &Bytes::from(body.to_string())) {
            Kind::Read => "read",
            Kind::GraphqlWrite => "graphql",
            Kind::RestWrite => "rest",
        }
    }

    #[test]
    fn writes_are_told_from_reads() {
        assert_eq!(
            kind(Method::POST, "/graphql", r#"{"query": "{ entityTypes }"}"#),
            "read"
        );
        assert_eq!(
            kind(Method::POST, "/", r#"{"query": "mutation { x }"}"#),
            "graphql"
        );
        assert_eq!(
            kind(
                Method::POST,
                "/",
                r#"[{"query": "{ a }"}, {"query": "mutation M { x }", "operationName": "M"}]"#
            ),
            "graphql"
        );
        assert_eq!(kind(Method::POST, "/subjects/s/versions", "{}"), "rest");
        assert_eq!(kind(Method::POST, "/subjects/s", "{}"), "read");
        assert_eq!(
            kind(Method::POST, "/compatibility/subjects/s/versions/1", "{}"),
            "read"
        );
        assert_eq!(kind(Method::PUT, "/config", "{}"), "rest");
        assert_eq!(kind(Method::DELETE, "/subjects/s", ""), "rest");
        assert_eq!(kind(Method::POST, "/ingest", "{}"), "rest");
        assert_eq!(kind(Method::GET, "/subjects", ""), "read");
    }
}
