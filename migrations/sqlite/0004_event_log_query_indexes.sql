-- The event log keeps only the indexes its queries use (see
-- migrations/postgres/0004): idx_event_entity serves `events`; nothing reads
-- the log by catalog id or by trace id.
DROP INDEX IF EXISTS idx_event_catalog;
DROP INDEX IF EXISTS idx_trace;
