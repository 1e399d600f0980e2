-- DictaMesh metadata catalog, SQLite (the embedded default). The same tables
-- as migrations/postgres: UUIDs are 16-byte BLOBs, timestamps RFC 3339 TEXT in
-- UTC written by the catalog (so they compare as text), JSON is TEXT. The event
-- log is one table; event_ids de-duplicates as on PostgreSQL.

CREATE TABLE schemas (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schema_format TEXT NOT NULL,
    schema_definition TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (schema_format, fingerprint)
);

CREATE TABLE schema_versions (
    subject TEXT NOT NULL,
    version INTEGER NOT NULL,
    schema_id INTEGER NOT NULL REFERENCES schemas(id),
    backward_compatible INTEGER,
    forward_compatible INTEGER,
    published_at TEXT NOT NULL,
    deprecated_at TEXT,
    retired_at TEXT,
    PRIMARY KEY (subject, version)
);

CREATE INDEX idx_schema_versions_schema ON schema_versions(schema_id);

CREATE TABLE schema_config (
    subject TEXT PRIMARY KEY,
    compatibility TEXT NOT NULL
);

CREATE TABLE entity_catalog (
    id BLOB PRIMARY KEY,
    entity_type TEXT NOT NULL,
    domain TEXT NOT NULL,
    source_system TEXT NOT NULL,
    source_entity_id TEXT NOT NULL,
    api_base_url TEXT NOT NULL,
    api_path_template TEXT NOT NULL,
    api_method TEXT NOT NULL DEFAULT 'GET',
    api_auth_type TEXT,
    schema_id INTEGER REFERENCES schemas(id),
    schema_version TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    availability_sla REAL,
    latency_p99_ms INTEGER,
    freshness_sla_seconds INTEGER,
    contains_pii INTEGER NOT NULL DEFAULT 0,
    data_classification TEXT,
    retention_days INTEGER,
    UNIQUE (source_system, source_entity_id, entity_type)
);

CREATE INDEX idx_entity_type_id ON entity_catalog(entity_type, source_entity_id);
CREATE INDEX idx_domain ON entity_catalog(domain);
CREATE INDEX idx_source_system ON entity_catalog(source_system);

CREATE TABLE entity_relationships (
    id BLOB PRIMARY KEY,
    subject_catalog_id BLOB REFERENCES entity_catalog(id),
    subject_entity_type TEXT NOT NULL,
    subject_entity_id TEXT NOT NULL,
    relationship_type TEXT NOT NULL,
    relationship_cardinality TEXT,
    object_catalog_id BLOB REFERENCES entity_catalog(id),
    object_entity_type TEXT NOT NULL,
    object_entity_id TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_to TEXT,
    subject_display_name TEXT,
    object_display_name TEXT,
    relationship_metadata TEXT,
    created_by_event_id TEXT,
    created_at TEXT NOT NULL,
    CONSTRAINT temporal_validity CHECK (valid_to IS NULL OR valid_to > valid_from)
);

CREATE UNIQUE INDEX idx_relationship_current ON entity_relationships(
    subject_entity_type, subject_entity_id, relationship_type, object_entity_type, object_entity_id
) WHERE valid_to IS NULL;
CREATE INDEX idx_subject ON entity_relationships(subject_entity_type, subject_entity_id, valid_from);
CREATE INDEX idx_object ON entity_relationships(object_entity_type, object_entity_id);
CREATE INDEX idx_relationship_type ON entity_relationships(relationship_type);

CREATE TABLE event_log (
    id BLOB PRIMARY KEY,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    catalog_id BLOB REFERENCES entity_catalog(id),
    entity_type TEXT,
    entity_id TEXT,
    source_system TEXT,
    changed_fields TEXT NOT NULL DEFAULT '[]',
    event_payload TEXT NOT NULL,
    trace_id TEXT,
    span_id TEXT,
    event_timestamp TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);

CREATE INDEX idx_event_entity ON event_log(entity_type, entity_id, event_timestamp, id);
CREATE INDEX idx_event_catalog ON event_log(catalog_id, event_timestamp DESC);
CREATE INDEX idx_trace ON event_log(trace_id);

CREATE TABLE event_ids (
    event_id TEXT PRIMARY KEY,
    event_timestamp TEXT NOT NULL
);

CREATE TRIGGER event_log_no_update BEFORE UPDATE ON event_log
BEGIN
    SELECT RAISE(ABORT, 'event_log is immutable: UPDATE is not allowed');
END;

CREATE TRIGGER event_log_no_delete BEFORE DELETE ON event_log
BEGIN
    SELECT RAISE(ABORT, 'event_log is immutable: DELETE is not allowed');
END;

CREATE TABLE data_lineage (
    id BLOB PRIMARY KEY,
    upstream_catalog_id BLOB NOT NULL REFERENCES entity_catalog(id),
    upstream_system TEXT NOT NULL,
    downstream_catalog_id BLOB NOT NULL REFERENCES entity_catalog(id),
    downstream_system TEXT NOT NULL,
    transformation_type TEXT NOT NULL,
    transformation_logic TEXT,
    data_flow_active INTEGER NOT NULL DEFAULT 1,
    last_flow_at TEXT,
    average_latency_ms INTEGER,
    created_at TEXT NOT NULL,
    UNIQUE (upstream_catalog_id, downstream_catalog_id, transformation_type)
);

CREATE INDEX idx_lineage_upstream ON data_lineage(upstream_catalog_id);
CREATE INDEX idx_lineage_downstream ON data_lineage(downstream_catalog_id);

CREATE TABLE cache_status (
    entity_catalog_id BLOB NOT NULL REFERENCES entity_catalog(id),
    entity_id TEXT NOT NULL,
    cache_layer TEXT NOT NULL,
    cached_at TEXT NOT NULL,
    expires_at TEXT,
    cache_key TEXT,
    hit_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity_catalog_id, entity_id, cache_layer)
);

CREATE TABLE audit_log (
    id BLOB PRIMARY KEY,
    occurred_at TEXT NOT NULL,
    action TEXT NOT NULL,
    principal TEXT,
    operation TEXT NOT NULL,
    catalog_id BLOB,
    entity_type TEXT,
    entity_id TEXT,
    reason TEXT
);

CREATE INDEX idx_audit_time ON audit_log(occurred_at);
