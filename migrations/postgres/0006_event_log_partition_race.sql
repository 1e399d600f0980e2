-- dictamesh_ensure_event_log_partition, safe to call concurrently for real:
-- a caller that waited on the advisory lock while another created the
-- partition looked it up again with to_regclass, which answers from this
-- session's catalog cache (not refreshed by an advisory lock), missed it and
-- failed on CREATE TABLE ("relation ... already exists"). After the lock the
-- partition is looked up with a query, which sees what committed meanwhile.
CREATE OR REPLACE FUNCTION dictamesh_ensure_event_log_partition(at TIMESTAMPTZ) RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    month_start TIMESTAMP := date_trunc('month', at AT TIME ZONE 'UTC');
    range_start TIMESTAMPTZ := month_start AT TIME ZONE 'UTC';
    range_end TIMESTAMPTZ := (month_start + INTERVAL '1 month') AT TIME ZONE 'UTC';
    partition_name TEXT := 'event_log_' || to_char(month_start, '"y"YYYY"m"MM');
BEGIN
    IF to_regclass(partition_name) IS NOT NULL THEN
        RETURN partition_name;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('dictamesh_event_log_partitions'));
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
               WHERE i.inhparent = 'event_log'::regclass AND c.relname = partition_name) THEN
        RETURN partition_name;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE event_log INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', partition_name);
    PERFORM set_config('dictamesh.event_log_maintenance', 'on', true);
    EXECUTE format(
        'WITH moved AS (DELETE FROM event_log_default WHERE event_timestamp >= $1 AND event_timestamp < $2 RETURNING *) '
        'INSERT INTO %I SELECT * FROM moved', partition_name)
        USING range_start, range_end;
    PERFORM set_config('dictamesh.event_log_maintenance', 'off', true);
    EXECUTE format('ALTER TABLE event_log ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
        partition_name, range_start, range_end);
    RETURN partition_name;
END
$$;
