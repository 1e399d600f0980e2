//! Errors of data sources, as adapters report them and clients see them.

use std::time::Duration;

/// What went wrong in a call to a data source.
///
/// Each variant maps to a GraphQL `extensions.code` ([`AdapterError::code`]) and
/// says whether retrying can help ([`AdapterError::is_retryable`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdapterError {
    /// No entity has that key.
    #[error("{entity_type} not found for key {key}")]
    NotFound {
        /// The entity's GraphQL type.
        entity_type: String,
        /// The key, as JSON.
        key: String,
    },
    /// The key is malformed for this source (e.g. not a UUID).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The input of a write is invalid.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The source cannot be reached or answered with a server error.
    #[error("source `{source_name}` is unavailable: {reason}")]
    SourceUnavailable {
        /// The source system's name.
        source_name: String,
        /// What happened.
        reason: String,
    },
    /// The source did not answer in time.
    #[error("source call timed out after {0:?}")]
    Timeout(Duration),
    /// The circuit breaker rejects calls to this source for now.
    #[error("circuit breaker for `{0}` is open: calls are rejected until it half-opens")]
    CircuitOpen(String),
    /// The source (or the kit's own limiter) refuses more calls for now.
    #[error("rate limited{}", retry_after.map(|d| format!("; retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// When a retry may succeed, if known.
        retry_after: Option<Duration>,
    },
    /// The write conflicts with the source's state (e.g. a stale version).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The adapter does not implement this operation.
    #[error("operation `{0}` is not supported by this adapter")]
    Unsupported(&'static str),
    /// The source answered something the adapter could not understand.
    #[error("invalid response from source: {0}")]
    InvalidResponse(String),
    /// Anything else.
    #[error("internal adapter error: {0}")]
    Internal(String),
}

impl AdapterError {
    /// A `SourceUnavailable` error from any displayable cause.
    pub fn unavailable(source_name: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        AdapterError::SourceUnavailable {
            source_name: source_name.into(),
            reason: reason.to_string(),
        }
    }

    /// The GraphQL `extensions.code` clients see.
    pub fn code(&self) -> &'static str {
        match self {
            AdapterError::NotFound { .. } => "NOT_FOUND",
            AdapterError::InvalidKey(_) => "INVALID_KEY",
            AdapterError::InvalidInput(_) => "BAD_USER_INPUT",
            AdapterError::SourceUnavailable { .. } => "SOURCE_UNAVAILABLE",
            AdapterError::Timeout(_) => "SOURCE_TIMEOUT",
            AdapterError::CircuitOpen(_) => "CIRCUIT_OPEN",
            AdapterError::RateLimited { .. } => "RATE_LIMITED",
            AdapterError::Conflict(_) => "CONFLICT",
            AdapterError::Unsupported(_) => "UNSUPPORTED_OPERATION",
            AdapterError::InvalidResponse(_) => "SOURCE_INVALID_RESPONSE",
            AdapterError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// Whether another attempt may succeed: transient source failures, timeouts
    /// and rate limits are retryable; bad keys, missing entities and an open
    /// breaker are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            AdapterError::SourceUnavailable { .. }
                | AdapterError::Timeout(_)
                | AdapterError::RateLimited { .. }
        )
    }

    /// Whether the error says something about the source's health (and so
    /// counts as a failure for the circuit breaker).
    pub fn is_source_failure(&self) -> bool {
        matches!(
            self,
            AdapterError::SourceUnavailable { .. }
                | AdapterError::Timeout(_)
                | AdapterError::InvalidResponse(_)
                | AdapterError::Internal(_)
        )
    }

    /// The error as a GraphQL error with its code.
    pub fn to_graphql(&self) -> async_graphql::Error {
        use async_graphql::ErrorExtensions;
        let code = self.code();
        async_graphql::Error::new(self.to_string()).extend_with(|_, ext| ext.set("code", code))
    }
}

/// Why a subgraph could not be built from its entities and adapters.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Two Rust types describe different GraphQL types under one name.
    #[error("type `{0}` is described twice with different definitions; give one of them another name")]
    ConflictingType(String),
    /// A field set does not select fields of its type.
    #[error("{type_name}: {directive}(fields: \"{fields}\"): {reason}")]
    InvalidFieldSet {
        /// The type the directive is on.
        type_name: String,
        /// `@key`, `@requires` or `@provides`.
        directive: &'static str,
        /// The field set.
        fields: String,
        /// What is wrong.
        reason: String,
    },
    /// A resolved field has the name of a field the type already has.
    #[error("field `{type_name}.{field}` is defined twice")]
    DuplicateField {
        /// The object type.
        type_name: String,
        /// The field's name.
        field: String,
    },
    /// An entity type was mounted twice.
    #[error("entity `{0}` is mounted twice")]
    DuplicateEntity(String),
    /// A type is referenced but never registered.
    #[error("type `{referenced}` used by `{by}` is not known to the subgraph")]
    UnknownType {
        /// The missing type.
        referenced: String,
        /// Where it is used.
        by: String,
    },
    /// A custom directive is applied but no composed directive declares it.
    #[error("directive `@{0}` is applied but not declared; add it with SubgraphBuilder::compose_directive")]
    UndeclaredDirective(String),
    /// A custom directive definition does not parse.
    #[error("invalid directive definition `{definition}`: {reason}")]
    InvalidDirective {
        /// The definition as given.
        definition: String,
        /// The parser's message.
        reason: String,
    },
    /// async-graphql rejected the generated schema.
    #[error("the generated schema is invalid: {0}")]
    Schema(String),
    /// A resilience or cache setting is invalid.
    #[error("invalid configuration for `{entity}`: {reason}")]
    Config {
        /// The entity type.
        entity: String,
        /// What is wrong.
        reason: String,
    },
}
