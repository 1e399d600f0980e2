-- The event log is an immutable history. A foreign key from each event to its
-- catalog entry made PostgreSQL check (and lock) that entry for every event
-- written — the larger part of an ingest batch's time — and would keep a
-- catalog entry with a history from ever being removed. Ingest writes the
-- catalog id it has just resolved, in the same transaction.
ALTER TABLE event_log DROP CONSTRAINT IF EXISTS event_log_catalog_id_fkey;
