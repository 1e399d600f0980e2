-- Audit records delivered by the router's audit outbox: the field read, its
-- response path and the request's trace id. A record's id is the router's
-- record id, so a redelivered record is written once.
ALTER TABLE audit_log ADD COLUMN field VARCHAR(255);
ALTER TABLE audit_log ADD COLUMN path TEXT;
ALTER TABLE audit_log ADD COLUMN trace_id VARCHAR(64);

CREATE INDEX idx_audit_action ON audit_log(action, occurred_at);
