//! The Confluent Schema Registry REST API over the catalog's registry, so
//! Kafka serializers and tools written for Confluent work unchanged:
//! `/subjects`, `/subjects/{s}/versions[/{v}[/schema]]`, `/schemas/ids/{id}`,
//! `/compatibility/subjects/{s}/versions[/{v}]`, `/config[/{s}]`, with
//! `application/vnd.schemaregistry.v1+json` bodies and Confluent's error codes.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{CompatibilityLevel, RegistryError, SchemaRegistry, VersionSpec};
use crate::model::{SchemaFormat, SchemaVersion};

/// The registry's media type.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// The REST API's routes, to merge into the catalog's HTTP application.
pub fn router(registry: SchemaRegistry) -> Router {
    Router::new()
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup_schema).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register_schema),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route(
            "/subjects/{subject}/versions/{version}/schema",
            get(get_version_schema),
        )
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(get_schema_by_id))
        .route("/schemas/ids/{id}/schema", get(get_raw_schema_by_id))
        .route("/schemas/ids/{id}/versions", get(get_versions_of_schema))
        .route(
            "/compatibility/subjects/{subject}/versions",
            post(check_against_level),
        )
        .route(
            "/compatibility/subjects/{subject}/versions/{version}",
            post(check_against_version),
        )
        .route("/config", get(get_global_config).put(put_global_config))
        .route(
            "/config/{subject}",
            get(get_subject_config)
                .put(put_subject_config)
                .delete(delete_subject_config),
        )
        .with_state(registry)
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, CONTENT_TYPE)], body.to_string()).into_response()
}

fn ok(body: Value) -> Response {
    reply(StatusCode::OK, body)
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        if matches!(self, RegistryError::Store(_)) {
            tracing::error!(error = %self, "schema registry store failure");
        }
        let status = StatusCode::from_u16(self.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        reply(
            status,
            json!({"error_code": self.error_code(), "message": self.to_string()}),
        )
    }
}

type Reply = Result<Response, RegistryError>;

/// The body of a registration, lookup or compatibility check.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaBody {
    schema: Option<String>,
    schema_type: Option<String>,
    #[serde(default)]
    references: Vec<Value>,
}

impl SchemaBody {
    fn parse(body: &Bytes) -> Result<(SchemaFormat, String), RegistryError> {
        let body: SchemaBody = serde_json::from_slice(body).map_err(|e| {
            RegistryError::BadRequest(format!("the body is not a schema request in JSON: {e}"))
        })?;
        let schema = body
            .schema
            .ok_or_else(|| RegistryError::InvalidSchema("the body has no `schema`".into()))?;
        if !body.references.is_empty() {
            return Err(RegistryError::InvalidSchema(
                "schema references are not supported by this registry; inline the referenced types".into(),
            ));
        }
        let format = match body.schema_type.as_deref() {
            None => SchemaFormat::Avro,
            Some(name) => SchemaFormat::parse(name).ok_or_else(|| {
                RegistryError::InvalidSchema(format!(
                    "schema type {name} is not supported by this registry (AVRO, GRAPHQL)"
                ))
            })?,
        };
        Ok((format, schema))
    }
}

/// A version as Confluent returns it (`schemaType` only when not AVRO).
fn version_json(version: &SchemaVersion) -> Value {
    let mut body = json!({
        "subject": version.subject,
        "version": version.version,
        "id": version.schema_id,
        "schema": version.schema,
    });
    if version.format != SchemaFormat::Avro {
        body["schemaType"] = json!(version.format.as_str());
    }
    body
}

#[derive(Deserialize)]
struct DeletedParam {
    #[serde(default)]
    deleted: bool,
}

async fn list_subjects(State(registry): State<SchemaRegistry>, Query(params): Query<DeletedParam>) -> Reply {
    Ok(ok(json!(registry.subjects(params.deleted).await?)))
}

async fn list_versions(State(registry): State<SchemaRegistry>, Path(subject): Path<String>) -> Reply {
    let versions: Vec<i32> = registry
        .versions(&subject)
        .await?
        .iter()
        .map(|v| v.version)
        .collect();
    Ok(ok(json!(versions)))
}

async fn register_schema(
    State(registry): State<SchemaRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let (format, schema) = SchemaBody::parse(&body)?;
    let registered = registry.register(&subject, format, &schema).await?;
    Ok(ok(json!({"id": registered.version.schema_id})))
}

async fn lookup_schema(
    State(registry): State<SchemaRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let (format, schema) = SchemaBody::parse(&body)?;
    Ok(ok(version_json(
        &registry.lookup(&subject, format, &schema).await?,
    )))
}

async fn get_version(
    State(registry): State<SchemaRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    Ok(ok(version_json(&registry.version(&subject, spec).await?)))
}

async fn get_version_schema(
    State(registry): State<SchemaRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let version = registry.version(&subject, spec).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, CONTENT_TYPE)],
        version.schema,
    )
        .into_response())
}

async fn delete_version(
    State(registry): State<SchemaRegistry>,
    Path((subject, version)): Path<(String, String)>,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    Ok(ok(json!(registry.delete_version(&subject, spec).await?)))
}

async fn delete_subject(State(registry): State<SchemaRegistry>, Path(subject): Path<String>) -> Reply {
    Ok(ok(json!(registry.delete_subject(&subject).await?)))
}

async fn schema_types() -> Response {
    ok(json!([
        SchemaFormat::Avro.as_str(),
        SchemaFormat::Graphql.as_str()
    ]))
}

fn parse_id(id: &str) -> Result<i64, RegistryError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| RegistryError::SchemaNotFound(id.to_string()))
}

async fn get_schema_by_id(State(registry): State<SchemaRegistry>, Path(id): Path<String>) -> Reply {
    let (format, schema) = registry.schema_by_id(parse_id(&id)?).await?;
    let mut body = json!({"schema": schema});
    if format != SchemaFormat::Avro {
        body["schemaType"] = json!(format.as_str());
    }
    Ok(ok(body))
}

async fn get_raw_schema_by_id(State(registry): State<SchemaRegistry>, Path(id): Path<String>) -> Reply {
    let (_, schema) = registry.schema_by_id(parse_id(&id)?).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], schema).into_response())
}

async fn get_versions_of_schema(State(registry): State<SchemaRegistry>, Path(id): Path<String>) -> Reply {
    let pairs = registry.versions_of_schema(parse_id(&id)?).await?;
    Ok(ok(Value::Array(
        pairs
            .into_iter()
            .map(|(subject, version)| json!({"subject": subject, "version": version}))
            .collect(),
    )))
}

#[derive(Deserialize)]
struct VerboseParam {
    #[serde(default)]
    verbose: bool,
}

fn compatibility_json(changes: Vec<String>, verbose: bool) -> Value {
    let mut body = json!({"is_compatible": changes.is_empty()});
    if verbose {
        body["messages"] = json!(changes);
    }
    body
}

async fn check_against_version(
    State(registry): State<SchemaRegistry>,
    Path((subject, version)): Path<(String, String)>,
    Query(params): Query<VerboseParam>,
    body: Bytes,
) -> Reply {
    let spec = VersionSpec::parse(&version)?;
    let (format, schema) = SchemaBody::parse(&body)?;
    let changes = registry
        .check_compatibility(&subject, Some(spec), format, &schema)
        .await?;
    Ok(ok(compatibility_json(changes, params.verbose)))
}

async fn check_against_level(
    State(registry): State<SchemaRegistry>,
    Path(subject): Path<String>,
    Query(params): Query<VerboseParam>,
    body: Bytes,
) -> Reply {
    let (format, schema) = SchemaBody::parse(&body)?;
    let changes = match registry
        .check_compatibility(&subject, None, format, &schema)
        .await
    {
        Err(RegistryError::SubjectNotFound(_)) => Vec::new(),
        other => other?,
    };
    Ok(ok(compatibility_json(changes, params.verbose)))
}

/// The body of `PUT /config`.
#[derive(Deserialize)]
struct ConfigBody {
    compatibility: String,
}

fn parse_level(body: &Bytes) -> Result<CompatibilityLevel, RegistryError> {
    let body: ConfigBody = serde_json::from_slice(body).map_err(|e| {
        RegistryError::BadRequest(format!("the body must be {{\"compatibility\": \"...\"}}: {e}"))
    })?;
    CompatibilityLevel::parse(&body.compatibility)
}

async fn get_global_config(State(registry): State<SchemaRegistry>) -> Reply {
    Ok(ok(
        json!({"compatibilityLevel": registry.global_level().await?.as_str()}),
    ))
}

async fn put_global_config(State(registry): State<SchemaRegistry>, body: Bytes) -> Reply {
    let level = parse_level(&body)?;
    registry.set_level(None, level).await?;
    Ok(ok(json!({"compatibility": level.as_str()})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DefaultToGlobalParam {
    #[serde(default)]
    default_to_global: bool,
}

async fn get_subject_config(
    State(registry): State<SchemaRegistry>,
    Path(subject): Path<String>,
    Query(params): Query<DefaultToGlobalParam>,
) -> Reply {
    let level = match registry.subject_level(&subject).await? {
        Some(level) => level,
        None if params.default_to_global => registry.global_level().await?,
        None => return Err(RegistryError::SubjectConfigNotFound(subject)),
    };
    Ok(ok(json!({"compatibilityLevel": level.as_str()})))
}

async fn put_subject_config(
    State(registry): State<SchemaRegistry>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Reply {
    let level = parse_level(&body)?;
    registry.set_level(Some(&subject), level).await?;
    Ok(ok(json!({"compatibility": level.as_str()})))
}

async fn delete_subject_config(State(registry): State<SchemaRegistry>, Path(subject): Path<String>) -> Reply {
    let level = registry.delete_subject_level(&subject).await?;
    Ok(ok(json!({"compatibilityLevel": level.as_str()})))
}
