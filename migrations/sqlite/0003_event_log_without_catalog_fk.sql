-- PostgreSQL drops the event log's foreign key to entity_catalog in this
-- version (see migrations/postgres/0003). SQLite keeps it: its check is one
-- primary-key lookup per event, without row locks. Nothing changes here; the
-- version exists so both backends number their migrations alike.
SELECT 1;
