//! Schema registry errors with Confluent's error codes, so clients written
//! for Confluent Schema Registry understand them.

use dictamesh::AdapterError;

use crate::error::CatalogError;

/// A failed schema registry operation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RegistryError {
    /// 40401: the subject has no versions (or none that are not deleted).
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402: the subject has no such version.
    #[error("Version {version} not found for subject '{subject}'.")]
    VersionNotFound {
        /// The subject.
        subject: String,
        /// The version asked for.
        version: String,
    },
    /// 40403: no schema has that id, or the subject does not have that schema.
    #[error("Schema {0} not found")]
    SchemaNotFound(String),
    /// 40408: the subject has no compatibility level of its own.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectConfigNotFound(String),
    /// 42201: the schema does not parse; the parser's reason follows.
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202: the version is neither a positive integer nor `latest`.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    /// 42203: unknown compatibility level.
    #[error(
        "Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive, got '{0}'"
    )]
    InvalidCompatibilityLevel(String),
    /// 409: the schema breaks compatibility; each breaking change is named.
    #[error("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]", changes.join("; "))]
    Incompatible {
        /// The subject.
        subject: String,
        /// What breaks, one entry per change.
        changes: Vec<String>,
    },
    /// 400: the request body is not what the endpoint takes.
    #[error("{0}")]
    BadRequest(String),
    /// 500xx: the catalog's database failed; nothing was written.
    #[error("Error in the backend data store: {0}")]
    Store(CatalogError),
}

impl RegistryError {
    /// Confluent's `error_code`.
    pub fn error_code(&self) -> u32 {
        match self {
            RegistryError::SubjectNotFound(_) => 40401,
            RegistryError::VersionNotFound { .. } => 40402,
            RegistryError::SchemaNotFound(_) => 40403,
            RegistryError::SubjectConfigNotFound(_) => 40408,
            RegistryError::InvalidSchema(_) => 42201,
            RegistryError::InvalidVersion(_) => 42202,
            RegistryError::InvalidCompatibilityLevel(_) => 42203,
            RegistryError::Incompatible { .. } => 409,
            RegistryError::BadRequest(_) => 400,
            RegistryError::Store(CatalogError::Unavailable(_)) => 50003,
            RegistryError::Store(_) => 50001,
        }
    }

    /// The HTTP status: the first three digits of the error code.
    pub fn http_status(&self) -> u16 {
        let code = self.error_code();
        let status = if code >= 1000 { code / 100 } else { code };
        u16::try_from(status).unwrap_or(500)
    }
}

impl From<CatalogError> for RegistryError {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::InvalidInput(reason) => RegistryError::BadRequest(reason),
            other => RegistryError::Store(other),
        }
    }
}

impl From<sqlx::Error> for RegistryError {
    fn from(error: sqlx::Error) -> Self {
        RegistryError::Store(CatalogError::from(error))
    }
}

impl From<RegistryError> for AdapterError {
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Store(inner) => inner.into(),
            RegistryError::Incompatible { .. } => AdapterError::Conflict(error.to_string()),
            RegistryError::SubjectNotFound(key) => AdapterError::NotFound {
                entity_type: "subject".into(),
                key,
            },
            RegistryError::VersionNotFound { .. } | RegistryError::SchemaNotFound(_) => {
                AdapterError::NotFound {
                    entity_type: "schema".into(),
                    key: error.to_string(),
                }
            }
            other => AdapterError::InvalidInput(other.to_string()),
        }
    }
}
