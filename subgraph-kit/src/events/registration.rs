//! `system.metadata.entity_registered`: what a subgraph announces about each
//! entity type it serves when it starts (owner, source, API, SLA, PII and
//! classification, schema, lineage), for the catalog to register.

use serde::{Deserialize, Serialize};

use crate::adapter::{DataSchema, Lineage};

/// The topic of entity registrations.
pub const ENTITY_REGISTERED_TOPIC: &str = "system.metadata.entity_registered";

/// A registration, with the field names the catalog's `registerEntity` takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRegistration {
    /// The entity's GraphQL type.
    pub entity_type: String,
    /// The owning domain.
    pub domain: String,
    /// The source system.
    pub source_system: String,
    /// `*`: the registration is of the type, not of one entity.
    pub source_entity_id: String,
    /// The subgraph's GraphQL endpoint.
    pub api_base_url: String,
    /// Empty: entities are fetched through GraphQL, not a per-entity path.
    pub api_path_template: String,
    /// `POST` (GraphQL).
    pub api_method: Option<String>,
    /// The schema version.
    pub schema_version: Option<String>,
    /// Promised availability, between 0 and 1.
    pub availability_sla: Option<f64>,
    /// Promised 99th percentile latency in milliseconds.
    pub latency_p99_ms: Option<i32>,
    /// Promised freshness in seconds.
    pub freshness_sla_seconds: Option<i32>,
    /// Whether any field holds personal data.
    pub contains_pii: Option<bool>,
    /// The most sensitive classification of its fields.
    pub data_classification: Option<String>,
}

/// The event on `system.metadata.entity_registered`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityRegisteredEvent {
    /// Unique event id.
    pub event_id: String,
    /// When, in milliseconds since the epoch.
    pub timestamp: i64,
    /// The registration.
    pub registration: EntityRegistration,
    /// The entity's schema.
    pub schema: DataSchema,
    /// Where its data comes from and goes.
    pub lineage: Lineage,
}
