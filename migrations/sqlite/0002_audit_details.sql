-- Audit records delivered by the router's audit outbox (see the PostgreSQL
-- migration of the same number).
ALTER TABLE audit_log ADD COLUMN field TEXT;
ALTER TABLE audit_log ADD COLUMN path TEXT;
ALTER TABLE audit_log ADD COLUMN trace_id TEXT;

CREATE INDEX idx_audit_action ON audit_log(action, occurred_at);
