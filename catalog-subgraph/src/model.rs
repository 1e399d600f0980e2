//! The catalog's records, as stored and as served over GraphQL.

use chrono::{DateTime, Utc};
use dictamesh::ID;

/// An entity registered in the catalog: where it lives, how to fetch it, its
/// schema, service level and classification.
#[dictamesh::entity(key = "id", domain = "catalog", source = "catalog")]
#[derive(Clone, Debug, PartialEq)]
pub struct CatalogEntry {
    /// The catalog's id of the entry.
    pub id: ID,
    /// The entity's federation type name, e.g. `Customer`.
    pub entity_type: String,
    /// The owning domain, e.g. `customers`.
    pub domain: String,
    /// The system the entity lives in, e.g. `directus`.
    pub source_system: String,
    /// The entity's id in its source system.
    pub source_entity_id: String,
    /// The source API's base URL.
    pub api_base_url: String,
    /// The path of one entity under the base URL, e.g. `/customers/{id}`.
    pub api_path_template: String,
    /// The HTTP method that fetches the entity.
    pub api_method: String,
    /// How the API authenticates: `bearer`, `api_key`, `oauth2`.
    pub api_auth_type: Option<String>,
    /// The schema registry id of the entity's schema.
    pub schema_id: Option<i32>,
    /// The entity's schema version.
    pub schema_version: Option<String>,
    /// When the entry was first registered.
    pub created_at: DateTime<Utc>,
    /// When the registration last changed.
    pub updated_at: DateTime<Utc>,
    /// When an event or registration last mentioned the entity.
    pub last_seen_at: DateTime<Utc>,
    /// `active`, `deprecated`, `archived` or `deleted`.
    pub status: String,
    /// Promised availability, e.g. 0.999.
    pub availability_sla: Option<f64>,
    /// Promised 99th percentile latency in milliseconds.
    pub latency_p99_ms: Option<i32>,
    /// Promised freshness in seconds.
    pub freshness_sla_seconds: Option<i32>,
    /// Whether the entity holds personal data.
    pub contains_pii: bool,
    /// `public`, `internal`, `confidential` or `restricted`.
    pub data_classification: Option<String>,
    /// How long the source keeps the entity, in days.
    pub retention_days: Option<i32>,
}

/// What `registerEntity` takes; registering again updates the entry.
#[dictamesh::input]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntityRegistration {
    /// The entity's federation type name, e.g. `Customer`.
    pub entity_type: String,
    /// The owning domain.
    pub domain: String,
    /// The system the entity lives in.
    pub source_system: String,
    /// The entity's id in its source system.
    pub source_entity_id: String,
    /// The source API's base URL.
    pub api_base_url: String,
    /// The path of one entity under the base URL; `{id}` is replaced by its id.
    pub api_path_template: String,
    /// The HTTP method (default `GET`).
    pub api_method: Option<String>,
    /// How the API authenticates.
    pub api_auth_type: Option<String>,
    /// The schema registry id of the entity's schema.
    pub schema_id: Option<i32>,
    /// The entity's schema version.
    pub schema_version: Option<String>,
    /// `active` (default), `deprecated`, `archived` or `deleted`.
    pub status: Option<String>,
    /// Promised availability, between 0 and 1.
    pub availability_sla: Option<f64>,
    /// Promised 99th percentile latency in milliseconds.
    pub latency_p99_ms: Option<i32>,
    /// Promised freshness in seconds.
    pub freshness_sla_seconds: Option<i32>,
    /// Whether the entity holds personal data (default false).
    pub contains_pii: Option<bool>,
    /// `public`, `internal`, `confidential` or `restricted`.
    pub data_classification: Option<String>,
    /// Retention in days.
    pub retention_days: Option<i32>,
}

/// Where to fetch an entity, with what the caller must know before reading it.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct EntityLocation {
    /// The catalog entry.
    pub catalog_id: ID,
    /// The entity's type.
    pub entity_type: String,
    /// The entity's id in its source.
    pub entity_id: String,
    /// The source system.
    pub source_system: String,
    /// The source API's base URL.
    pub api_base_url: String,
    /// The path template.
    pub api_path_template: String,
    /// The HTTP method.
    pub api_method: String,
    /// How the API authenticates.
    pub api_auth_type: Option<String>,
    /// The entity's schema version.
    pub schema_version: Option<String>,
    /// Whether the entity holds personal data.
    pub contains_pii: bool,
    /// Its classification.
    pub data_classification: Option<String>,
    /// Base URL plus the path template with the id filled in.
    pub full_url: String,
}

/// How many objects one subject relates to.
#[dictamesh::enumeration]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    /// One subject, one object; recording another object ends the previous one.
    OneToOne,
    /// One subject, many objects.
    OneToMany,
    /// Many subjects share one object; recording another object ends the previous one.
    ManyToOne,
    /// Any number on both sides.
    ManyToMany,
}

impl Cardinality {
    /// The name stored in the database (`one_to_one`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cardinality::OneToOne => "one_to_one",
            Cardinality::OneToMany => "one_to_many",
            Cardinality::ManyToOne => "many_to_one",
            Cardinality::ManyToMany => "many_to_many",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Cardinality::OneToOne,
            Cardinality::OneToMany,
            Cardinality::ManyToOne,
            Cardinality::ManyToMany,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }

    /// Whether a subject has at most one current object of a relationship type.
    pub fn is_single_valued(self) -> bool {
        matches!(self, Cardinality::OneToOne | Cardinality::ManyToOne)
    }
}

/// A relationship between two entities, valid from `validFrom` until
/// `validTo` (open while current).
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct Relationship {
    /// The relationship's id.
    pub id: ID,
    /// The subject's catalog entry, when registered.
    pub subject_catalog_id: Option<ID>,
    /// The subject's type.
    pub subject_entity_type: String,
    /// The subject's id.
    pub subject_entity_id: String,
    /// The predicate, e.g. `has_invoice`.
    pub relationship_type: String,
    /// The cardinality, when known.
    pub cardinality: Option<Cardinality>,
    /// The object's catalog entry, when registered.
    pub object_catalog_id: Option<ID>,
    /// The object's type.
    pub object_entity_type: String,
    /// The object's id.
    pub object_entity_id: String,
    /// Start of validity.
    pub valid_from: DateTime<Utc>,
    /// End of validity; null while current.
    pub valid_to: Option<DateTime<Utc>>,
    /// The subject's display name.
    pub subject_display_name: Option<String>,
    /// The object's display name.
    pub object_display_name: Option<String>,
    /// Aggregates or statistics about the relationship.
    pub metadata: Option<serde_json::Value>,
    /// The event that recorded it, if any.
    pub created_by_event_id: Option<String>,
}

/// What `recordRelationship` takes.
#[dictamesh::input]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RelationshipInput {
    /// The subject's type.
    pub subject_entity_type: String,
    /// The subject's id.
    pub subject_entity_id: String,
    /// The predicate, e.g. `has_invoice`.
    pub relationship_type: String,
    /// The object's type.
    pub object_entity_type: String,
    /// The object's id.
    pub object_entity_id: String,
    /// The cardinality; single-valued ones end the subject's previous object.
    pub cardinality: Option<Cardinality>,
    /// The subject's display name.
    pub subject_display_name: Option<String>,
    /// The object's display name.
    pub object_display_name: Option<String>,
    /// Aggregates or statistics about the relationship.
    pub metadata: Option<serde_json::Value>,
    /// Start of validity (default now).
    pub valid_from: Option<DateTime<Utc>>,
    /// The event that carries the relationship.
    pub event_id: Option<String>,
}

/// A relationship reached by a graph traversal, with its distance from the start.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct GraphEdge {
    /// 1 for the start entity's own relationships, 2 for theirs, ...
    pub depth: i32,
    /// The relationship.
    pub relationship: Relationship,
}

/// The relationships reachable from an entity, as they were at a time.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct RelationshipGraph {
    /// The start entity's type.
    pub entity_type: String,
    /// The start entity's id.
    pub entity_id: String,
    /// The time the graph describes (now unless asked for another).
    pub as_of: DateTime<Utc>,
    /// How far the traversal went.
    pub max_depth: i32,
    /// Every relationship reached, once, at its smallest depth.
    pub edges: Vec<GraphEdge>,
}

/// Which way lineage is followed.
#[dictamesh::enumeration]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineageDirection {
    /// Toward the sources the entity's data comes from.
    Upstream,
    /// Toward the products derived from the entity.
    Downstream,
}

/// A data flow from one catalog entry to another.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct LineageEdge {
    /// The flow's id.
    pub id: ID,
    /// The entry data comes from.
    pub upstream_catalog_id: ID,
    /// Its system.
    pub upstream_system: String,
    /// The entry data flows to.
    pub downstream_catalog_id: ID,
    /// Its system.
    pub downstream_system: String,
    /// `direct_copy`, `aggregation`, `join`, `enrichment`, ...
    pub transformation_type: String,
    /// SQL, a code reference or a description.
    pub transformation_logic: Option<String>,
    /// Whether data still flows.
    pub data_flow_active: bool,
    /// When data last flowed.
    pub last_flow_at: Option<DateTime<Utc>>,
    /// Average latency of the flow in milliseconds.
    pub average_latency_ms: Option<i32>,
    /// When the flow was recorded.
    pub created_at: DateTime<Utc>,
}

/// A lineage flow reached by a traversal, with the entry at its far end.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct LineageStep {
    /// 1 for direct flows, 2 for flows of those, ...
    pub depth: i32,
    /// The flow.
    pub edge: LineageEdge,
    /// The entry reached (upstream or downstream of the previous one).
    pub entry: CatalogEntry,
}

/// An entity, named by its type, its id in its source and optionally the source.
#[dictamesh::input]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntityRef {
    /// The entity's type.
    pub entity_type: String,
    /// Its id in its source.
    pub source_entity_id: String,
    /// Its source system; needed when several systems have that type and id.
    pub source_system: Option<String>,
}

/// What `recordLineage` takes; recording the same flow again updates it.
#[dictamesh::input]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LineageInput {
    /// Where data comes from (a registered entity).
    pub upstream: EntityRef,
    /// Where data flows to (a registered entity).
    pub downstream: EntityRef,
    /// `direct_copy`, `aggregation`, `join`, `enrichment`, ...
    pub transformation_type: String,
    /// SQL, a code reference or a description.
    pub transformation_logic: Option<String>,
    /// Whether data still flows (default true).
    pub data_flow_active: Option<bool>,
    /// When data last flowed.
    pub last_flow_at: Option<DateTime<Utc>>,
    /// Average latency in milliseconds.
    pub average_latency_ms: Option<i32>,
}

/// One entry of the immutable event log.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// The log entry's id.
    pub id: ID,
    /// The event's own id (unique).
    pub event_id: String,
    /// `CREATED`, `UPDATED`, `DELETED`, `ARCHIVED`, `ENTITY_REGISTERED`, `RELATIONSHIP_CREATED`.
    pub event_type: String,
    /// The catalog entry of the entity, when registered.
    pub catalog_id: Option<ID>,
    /// The entity's type.
    pub entity_type: Option<String>,
    /// The entity's id.
    pub entity_id: Option<String>,
    /// The system that emitted the event.
    pub source_system: Option<String>,
    /// The fields the change touched.
    pub changed_fields: Vec<String>,
    /// The full event, for replay.
    pub payload: serde_json::Value,
    /// The trace the event belongs to.
    pub trace_id: Option<String>,
    /// The span that emitted it.
    pub span_id: Option<String>,
    /// When the event happened.
    pub event_timestamp: DateTime<Utc>,
    /// When the catalog stored it.
    pub ingested_at: DateTime<Utc>,
}

/// A page of events, oldest first.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct EventPage {
    /// The events of this page.
    pub events: Vec<EventRecord>,
    /// Pass as `after` to get the next page; null when there is none.
    pub end_cursor: Option<String>,
    /// Whether more events follow.
    pub has_more: bool,
}

/// The format of a registered schema.
#[dictamesh::enumeration]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaFormat {
    /// An Apache Avro schema (JSON).
    Avro,
    /// A GraphQL SDL document.
    Graphql,
}

impl SchemaFormat {
    /// The Confluent `schemaType` name (`AVRO`, `GRAPHQL`).
    pub fn as_str(self) -> &'static str {
        match self {
            SchemaFormat::Avro => "AVRO",
            SchemaFormat::Graphql => "GRAPHQL",
        }
    }

    /// Parses a `schemaType` name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "AVRO" => Some(SchemaFormat::Avro),
            "GRAPHQL" => Some(SchemaFormat::Graphql),
            _ => None,
        }
    }
}

/// One version of a subject's schema.
#[dictamesh::object]
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaVersion {
    /// The subject: an entity type, or a Kafka subject such as `orders-value`.
    pub subject: String,
    /// The version within the subject, from 1.
    pub version: i32,
    /// The registry id (the one in the Confluent wire format).
    pub schema_id: i32,
    /// The schema's format.
    pub format: SchemaFormat,
    /// The schema text.
    pub schema: String,
    /// Whether it was backward compatible with the previous version, when checked.
    pub backward_compatible: Option<bool>,
    /// Whether it was forward compatible with the previous version, when checked.
    pub forward_compatible: Option<bool>,
    /// When the version was registered.
    pub published_at: DateTime<Utc>,
}

/// What `registerSchema` takes.
#[dictamesh::input]
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaInput {
    /// The subject, usually the entity type.
    pub entity_type: String,
    /// The schema text.
    pub schema: String,
    /// Its format (default AVRO).
    pub format: Option<SchemaFormat>,
}
