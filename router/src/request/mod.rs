//! The request stage: a GraphQL request (from a JSON body or GET parameters) is parsed
//! and validated against the API schema, its operation picked, its variables coerced
//! and the operation limits checked. Errors carry Apollo's `extensions.code`.

pub mod apq;
mod document_cache;
pub mod limits;

use std::sync::Arc;

use apollo_compiler::ExecutableDocument;
use apollo_compiler::Schema;
use apollo_compiler::ast::OperationType;
use apollo_compiler::validation::Valid;
use serde::Deserialize;
use serde_json::Map;
use serde_json::Value;

pub use self::apq::ApqCache;
pub use self::document_cache::DocumentCache;
pub use self::limits::OperationLimits;
use crate::execute::graphql_error;

/// A GraphQL request as clients send it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphQLRequest {
    /// The document (may be absent with automatic persisted queries).
    #[serde(default)]
    pub query: Option<String>,
    /// Which operation of the document to run.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// Variable values.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub variables: Map<String, Value>,
    /// Extensions (`persistedQuery`, ...).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub extensions: Map<String, Value>,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

/// A request the router refuses before running anything.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestError {
    /// The GraphQL errors to answer with.
    pub errors: Vec<Value>,
    /// The HTTP status to answer with.
    pub status: u16,
}

impl RequestError {
    /// The error messages, one per line.
    pub fn messages(&self) -> String {
        self.errors
            .iter()
            .filter_map(|e| e.get("message").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// One error with a message and an `extensions.code`.
    pub fn new(status: u16, message: impl Into<String>, code: &str) -> Self {
        RequestError {
            errors: vec![graphql_error(message, code)],
            status,
        }
    }
}

/// A parsed and validated document (shared through the [`DocumentCache`]).
#[derive(Debug)]
pub struct ParsedDocument {
    /// The query text it was parsed from.
    pub query: Arc<str>,
    /// The document.
    pub document: Valid<ExecutableDocument>,
    /// Variables whose values change the plan (`@skip`/`@include`/`@defer`).
    pub plan_variables: Vec<apollo_compiler::Name>,
    /// Whether the document uses `@defer` (it may be delivered incrementally).
    pub defers: bool,
    /// The SHA-256 of the query text, in hexadecimal (spans name operations by it).
    pub hash: String,
}

/// Parses and validates a query against the API schema.
pub fn parse_document(
    schema: &Valid<Schema>,
    query: Arc<str>,
    limits: &OperationLimits,
) -> Result<Arc<ParsedDocument>, RequestError> {
    let mut parser = apollo_compiler::parser::Parser::new().recursion_limit(2 * limits::HARD_MAX_DEPTH);
    if let Some(tokens) = limits.max_tokens {
        parser = parser.token_limit(tokens);
    }
    let ast = tracing::info_span!("graphql.parse").in_scope(|| {
        parser
            .parse_ast(query.as_ref(), "query.graphql")
            .map_err(|with_errors| diagnostics_error(400, &with_errors.errors, "GRAPHQL_PARSE_FAILED"))
    })?;
    let document = tracing::info_span!("graphql.validate").in_scope(|| {
        ast.to_executable_validate(schema)
            .map_err(|with_errors| diagnostics_error(400, &with_errors.errors, "GRAPHQL_VALIDATION_FAILED"))
    })?;
    let plan_variables = crate::plan::operation::plan_affecting_variables(&document);
    let defers = crate::plan::defer::uses_defer(&document);
    let hash = crate::telemetry::operation::query_hash(&query);
    Ok(Arc::new(ParsedDocument {
        query,
        document,
        plan_variables,
        defers,
        hash,
    }))
}

fn diagnostics_error(
    status: u16,
    diagnostics: &apollo_compiler::validation::DiagnosticList,
    code: &str,
) -> RequestError {
    let errors = diagnostics
        .iter()
        .map(|diagnostic| {
            let mut error =
                serde_json::to_value(diagnostic.to_json()).unwrap_or_else(|_| Value::Object(Map::new()));
            if let Value::Object(object) = &mut error {
                object.insert("extensions".to_string(), serde_json::json!({ "code": code }));
            }
            error
        })
        .collect();
    RequestError { errors, status }
}

/// Picks the operation to run.
pub fn select_operation<'a>(
    document: &'a Valid<ExecutableDocument>,
    operation_name: Option<&str>,
) -> Result<&'a apollo_compiler::executable::Operation, RequestError> {
    document
        .operations
        .get(operation_name)
        .map_err(|error| {
            let message = match operation_name {
                Some(name) => format!("Unknown operation named \"{name}\"."),
                None if document.operations.is_empty() => "The document has no operation.".to_string(),
                None => format!(
                    "Must provide operation name if query contains multiple operations ({}).",
                    error.message()
                ),
            };
            RequestError::new(400, message, "GRAPHQL_VALIDATION_FAILED")
        })
        .map(|operation| &**operation)
}

/// Coerces the request's variables to the operation's variable types (defaults
/// applied); returns them as JSON.
pub fn coerce_variables(
    schema: &Valid<Schema>,
    operation: &apollo_compiler::executable::Operation,
    variables: &Map<String, Value>,
) -> Result<Valid<apollo_compiler::response::JsonMap>, RequestError> {
    let input: apollo_compiler::response::JsonMap = variables
        .iter()
        .map(|(k, v)| (k.as_str().into(), serde_json_bytes::Value::from(v.clone())))
        .collect();
    apollo_compiler::request::coerce_variable_values(schema, operation, &input).map_err(|error| {
        RequestError::new(
            400,
            error.message().to_string(),
            "VALIDATION_INVALID_TYPE_VARIABLE",
        )
    })
}

/// Converts coerced variables back to `serde_json`.
pub fn variables_to_json(variables: &apollo_compiler::response::JsonMap) -> Map<String, Value> {
    variables
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                serde_json::to_value(v).unwrap_or(Value::Null),
            )
        })
        .collect()
}

/// Whether an operation may run over GET (queries only).
pub fn allowed_over_get(kind: OperationType) -> bool {
    kind == OperationType::Query
}
