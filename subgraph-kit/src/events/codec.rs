//! Encoding change events: Avro in the Confluent wire format (magic byte 0,
//! the 4-byte schema id from the registry, the Avro datum) when a schema
//! registry is configured, JSON otherwise (and then the message says so in its
//! `content-type` header).

use super::EntityChangeEvent;

/// The content type of JSON-encoded events.
pub const JSON_CONTENT_TYPE: &str = "application/json";
/// The content type of Avro events in the Confluent wire format.
pub const AVRO_CONTENT_TYPE: &str = "application/vnd.confluent.avro";

/// The seed's Avro schema of `EntityChangeEvent`.
pub const ENTITY_CHANGE_EVENT_AVRO: &str = r#"{
  "namespace": "com.company.dataplatform.events",
  "type": "record",
  "name": "EntityChangeEvent",
  "fields": [
    {"name": "event_id", "type": "string", "doc": "Unique event identifier"},
    {"name": "event_type", "type": {"type": "enum", "name": "EventType", "symbols": ["CREATED", "UPDATED", "DELETED", "ARCHIVED"]}},
    {"name": "timestamp", "type": "long", "logicalType": "timestamp-millis"},
    {"name": "source_system", "type": "string"},
    {"name": "domain", "type": "string", "doc": "customers, products, invoices"},
    {"name": "entity", "type": {"type": "record", "name": "EntityReference", "fields": [
      {"name": "type", "type": "string"},
      {"name": "id", "type": "string"},
      {"name": "version", "type": "long"},
      {"name": "url", "type": "string", "doc": "API endpoint to fetch full entity"},
      {"name": "etag", "type": ["null", "string"], "default": null}
    ]}},
    {"name": "changed_fields", "type": {"type": "array", "items": "string"}},
    {"name": "relationships", "type": {"type": "array", "items": {"type": "record", "name": "RelationshipReference", "fields": [
      {"name": "type", "type": "string"},
      {"name": "entity_id", "type": "string"},
      {"name": "source_system", "type": "string"},
      {"name": "relationship_kind", "type": "string"},
      {"name": "display_name", "type": ["null", "string"], "default": null}
    ]}}},
    {"name": "metadata", "type": {"type": "map", "values": "string"}, "doc": "Minimal denormalized data for filtering/routing"},
    {"name": "trace_context", "type": {"type": "record", "name": "TraceContext", "fields": [
      {"name": "trace_id", "type": "string"},
      {"name": "span_id", "type": "string"},
      {"name": "parent_span_id", "type": ["null", "string"], "default": null}
    ]}, "doc": "OpenTelemetry trace propagation"}
  ]
}"#;

/// Room for a typical encoded event (about 400 bytes of JSON), so that
/// encoding does not grow its buffer several times.
pub(super) const PAYLOAD_CAPACITY: usize = 512;

/// Why a message is not a change event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("not a change event: {0}")]
pub struct DecodeError(pub String);

/// Decodes change events, JSON or (with a registry) Avro.
#[derive(Clone, Default)]
pub struct Decoder {
    #[cfg(feature = "avro")]
    registry: Option<std::sync::Arc<registry::SchemaRegistryClient>>,
}

impl Decoder {
    /// A decoder of JSON events; Avro messages are refused.
    pub fn json() -> Self {
        Decoder::default()
    }

    /// A decoder that also reads Avro messages, fetching writer schemas by id.
    #[cfg(feature = "avro")]
    pub fn with_registry(registry: std::sync::Arc<registry::SchemaRegistryClient>) -> Self {
        Decoder {
            registry: Some(registry),
        }
    }

    /// Decodes one payload.
    pub async fn decode(
        &self,
        payload: &[u8],
        content_type: Option<&str>,
    ) -> Result<EntityChangeEvent, DecodeError> {
        let wire_format = payload.len() > 5 && payload[0] == 0 && content_type != Some(JSON_CONTENT_TYPE);
        if wire_format {
            #[cfg(feature = "avro")]
            if let Some(registry) = &self.registry {
                return registry::decode(registry, payload).await;
            }
            return Err(DecodeError(
                "an Avro message in the Confluent wire format, but no schema registry is configured".into(),
            ));
        }
        serde_json::from_slice(payload).map_err(|e| DecodeError(format!("invalid JSON event: {e}")))
    }
}

/// Encodes change events, Avro with a registry, JSON without.
#[derive(Clone, Default)]
pub struct Encoder {
    #[cfg(feature = "avro")]
    registry: Option<std::sync::Arc<registry::SchemaRegistryClient>>,
}

impl Encoder {
    /// An encoder of JSON events.
    pub fn json() -> Self {
        Encoder::default()
    }

    /// An encoder of Avro events, registering the schema under `<topic>-value`.
    #[cfg(feature = "avro")]
    pub fn with_registry(registry: std::sync::Arc<registry::SchemaRegistryClient>) -> Self {
        Encoder {
            registry: Some(registry),
        }
    }

    /// The payload and its content type.
    pub async fn encode(&self, event: &EntityChangeEvent) -> Result<(Vec<u8>, &'static str), DecodeError> {
        let mut payload = Vec::with_capacity(PAYLOAD_CAPACITY);
        let content_type = self.encode_into(event, &mut payload).await?;
        Ok((payload, content_type))
    }

    /// Replaces `payload` with the event's payload and returns its content
    /// type; a publisher that encodes many events reuses one buffer.
    pub async fn encode_into(
        &self,
        event: &EntityChangeEvent,
        payload: &mut Vec<u8>,
    ) -> Result<&'static str, DecodeError> {
        payload.clear();
        #[cfg(feature = "avro")]
        if let Some(registry) = &self.registry {
            // Boxed: the registry's HTTP future is large, and every JSON
            // publish in flight would otherwise carry its room.
            Box::pin(registry::encode_into(registry, &event.topic(), event, payload)).await?;
            return Ok(AVRO_CONTENT_TYPE);
        }
        serde_json::to_writer(&mut *payload, event).map_err(|e| DecodeError(e.to_string()))?;
        Ok(JSON_CONTENT_TYPE)
    }
}

/// The Confluent Schema Registry client and the Avro side of the codec.
#[cfg(feature = "avro")]
pub mod registry {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use apache_avro::Schema;

    use super::{DecodeError, ENTITY_CHANGE_EVENT_AVRO, EntityChangeEvent};

    /// A client of a Confluent-compatible schema registry (the catalog serves
    /// one), caching ids and schemas.
    pub struct SchemaRegistryClient {
        base_url: String,
        http: reqwest::Client,
        ids_by_subject: Mutex<HashMap<String, u32>>,
        schemas_by_id: Mutex<HashMap<u32, Schema>>,
    }

    #[derive(serde::Deserialize)]
    struct Registered {
        id: u32,
    }

    #[derive(serde::Deserialize)]
    struct Fetched {
        schema: String,
    }

    fn seed_schema() -> Result<Schema, DecodeError> {
        Schema::parse_str(ENTITY_CHANGE_EVENT_AVRO).map_err(|e| DecodeError(format!("event schema: {e}")))
    }

    impl SchemaRegistryClient {
        /// A client of the registry at `base_url` (`SCHEMA_REGISTRY_URL`).
        pub fn new(base_url: &str) -> Self {
            SchemaRegistryClient {
                base_url: base_url.trim_end_matches('/').to_string(),
                http: reqwest::Client::new(),
                ids_by_subject: Mutex::new(HashMap::new()),
                schemas_by_id: Mutex::new(HashMap::new()),
            }
        }

        /// Registers the event schema under a subject (idempotent) and returns its id.
        pub async fn register(&self, subject: &str) -> Result<u32, DecodeError> {
            if let Some(id) = self
                .ids_by_subject
                .lock()
                .ok()
                .and_then(|m| m.get(subject).copied())
            {
                return Ok(id);
            }
            let response = self
                .http
                .post(format!("{}/subjects/{subject}/versions", self.base_url))
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .json(&serde_json::json!({ "schema": ENTITY_CHANGE_EVENT_AVRO }))
                .send()
                .await
                .map_err(|e| DecodeError(format!("schema registry unreachable: {e}")))?;
            if !response.status().is_success() {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                return Err(DecodeError(format!(
                    "schema registry refused the schema ({status}): {body}"
                )));
            }
            let Registered { id } = response
                .json()
                .await
                .map_err(|e| DecodeError(format!("schema registry answered: {e}")))?;
            if let Ok(mut ids) = self.ids_by_subject.lock() {
                ids.insert(subject.to_string(), id);
            }
            if let (Ok(mut schemas), Ok(schema)) = (self.schemas_by_id.lock(), seed_schema()) {
                schemas.insert(id, schema);
            }
            Ok(id)
        }

        /// The writer schema of an id.
        pub async fn schema(&self, id: u32) -> Result<Schema, DecodeError> {
            if let Some(schema) = self.schemas_by_id.lock().ok().and_then(|m| m.get(&id).cloned()) {
                return Ok(schema);
            }
            let response = self
                .http
                .get(format!("{}/schemas/ids/{id}", self.base_url))
                .send()
                .await
                .map_err(|e| DecodeError(format!("schema registry unreachable: {e}")))?;
            if !response.status().is_success() {
                return Err(DecodeError(format!(
                    "schema id {id} is unknown to the registry ({})",
                    response.status()
                )));
            }
            let Fetched { schema } = response
                .json()
                .await
                .map_err(|e| DecodeError(format!("schema registry answered: {e}")))?;
            let schema = Schema::parse_str(&schema).map_err(|e| DecodeError(format!("schema {id}: {e}")))?;
            if let Ok(mut schemas) = self.schemas_by_id.lock() {
                schemas.insert(id, schema.clone());
            }
            Ok(schema)
        }
    }

    /// Encodes an event for `topic` in the Confluent wire format.
    pub async fn encode(
        registry: &SchemaRegistryClient,
        topic: &str,
        event: &EntityChangeEvent,
    ) -> Result<Vec<u8>, DecodeError> {
        let mut payload = Vec::new();
        encode_into(registry, topic, event, &mut payload).await?;
        Ok(payload)
    }

    /// Appends an event for `topic` in the Confluent wire format to `payload`.
    pub async fn encode_into(
        registry: &SchemaRegistryClient,
        topic: &str,
        event: &EntityChangeEvent,
        payload: &mut Vec<u8>,
    ) -> Result<(), DecodeError> {
        let id = registry.register(&format!("{topic}-value")).await?;
        let schema = registry.schema(id).await?;
        let value = apache_avro::to_value(event).map_err(|e| DecodeError(format!("to Avro: {e}")))?;
        let value = value
            .resolve(&schema)
            .map_err(|e| DecodeError(format!("event does not fit its schema: {e}")))?;
        let datum = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .and_then(|writer| writer.write_value_to_vec(value))
            .map_err(|e| DecodeError(format!("Avro: {e}")))?;
        payload.reserve(datum.len() + 5);
        payload.push(0);
        payload.extend_from_slice(&id.to_be_bytes());
        payload.extend_from_slice(&datum);
        Ok(())
    }

    /// Decodes a Confluent wire-format payload with the writer schema it names.
    pub async fn decode(
        registry: &SchemaRegistryClient,
        payload: &[u8],
    ) -> Result<EntityChangeEvent, DecodeError> {
        let id = u32::from_be_bytes([payload[1], payload[2], payload[3], payload[4]]);
        let writer = registry.schema(id).await?;
        let reader = seed_schema()?;
        let mut datum = &payload[5..];
        let value = apache_avro::reader::datum::GenericDatumReader::builder(&writer)
            .reader_schema(&reader)
            .build()
            .and_then(|datum_reader| datum_reader.read_value(&mut datum))
            .map_err(|e| DecodeError(format!("Avro datum (schema {id}): {e}")))?;
        apache_avro::from_value(&value).map_err(|e| DecodeError(format!("Avro event (schema {id}): {e}")))
    }
}
