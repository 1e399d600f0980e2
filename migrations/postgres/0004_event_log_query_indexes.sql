-- The event log keeps only the indexes its queries use. `events` reads an
-- entity's history through idx_event_entity (entity type and id, then time
-- and id for the keyset cursor); nothing reads the log by catalog id or by
-- trace id, and each index cost every ingested event an index insertion (and
-- its WAL). A query by trace or catalog id would add its index back.
DROP INDEX IF EXISTS idx_event_catalog;
DROP INDEX IF EXISTS idx_trace;
