//! The audit of personal-data reads and denied access.
//!
//! - Every `@pii` field an allowed caller reads, and every denied access, becomes an
//!   [`AuditRecord`] (who, when, entity type and id, field, operation, trace id).
//! - Records are written to a durable local [`outbox::AuditOutbox`] (a SQLite file)
//!   before the response is sent; a request whose records cannot be written fails.
//! - An [`relay::AuditRelay`] delivers them to the catalog's ingest API
//!   (`POST /ingest`, topic [`AUDIT_TOPIC`]) and removes them from the outbox only
//!   once the catalog acknowledged them; the catalog de-duplicates by record id.
//! - Optionally, [`PiiAuditLog`] also appends one JSON line per request reading PII
//!   to a file, and logs it at the `dictamesh::audit` target.

pub mod outbox;
pub mod relay;

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde::Deserialize;
use serde::Serialize;
use serde_json::Value;
use serde_json::json;

use crate::Caller;
use crate::authz::PiiRead;

/// The topic (and ingest topic name) of audit records: the catalog writes them
/// into its `audit_log`.
pub const AUDIT_TOPIC: &str = "system.audit.pii_access";

/// Why an audit record cannot be written or delivered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The outbox file cannot be opened, written or read.
    #[error("audit outbox {path}: {message}")]
    Outbox {
        /// The outbox file.
        path: String,
        /// What failed.
        message: String,
    },
    /// The JSON-lines audit file cannot be written.
    #[error("audit file: {0}")]
    File(#[from] std::io::Error),
    /// The catalog did not acknowledge a delivery.
    #[error("audit delivery to {url}: {message}")]
    Delivery {
        /// The catalog's ingest URL.
        url: String,
        /// What failed.
        message: String,
    },
}

/// `authorization.audit` in `router.yaml`: the durable audit of PII reads and
/// denied access.
///
/// ```yaml
/// authorization:
///   audit:
///     outbox: /var/lib/dictamesh/audit-outbox.db   # SQLite, written before responding
///     deliver_to: http://catalog:4005/ingest       # the catalog's ingest API
///     token: ${env.CATALOG_WRITE_TOKEN}            # when the catalog requires one
///     batch_size: 500
///     interval: 500ms                              # between polls and after failures
/// ```
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The outbox file (none: no durable audit).
    #[serde(default)]
    pub outbox: Option<PathBuf>,
    /// The catalog's ingest URL the relay delivers to (none: records stay in the
    /// outbox for another relay).
    #[serde(default)]
    pub deliver_to: Option<String>,
    /// The bearer token the catalog's ingest API requires (its write token).
    #[serde(default)]
    pub token: Option<String>,
    /// Records per delivery.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The wait between polls of an empty outbox and after a failed delivery.
    #[serde(default = "default_interval", with = "humantime_serde")]
    pub interval: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            outbox: None,
            deliver_to: None,
            token: None,
            batch_size: default_batch_size(),
            interval: default_interval(),
        }
    }
}

fn default_batch_size() -> usize {
    500
}

fn default_interval() -> Duration {
    Duration::from_millis(500)
}

/// What an audit record records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// An allowed caller read a `@pii` field.
    PiiRead,
    /// Access was refused: a selection removed, or the request refused.
    AccessDenied,
}

/// One audit record, as stored in the outbox and delivered to the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Unique id (a UUID); the catalog keeps one row per id.
    pub record_id: String,
    /// What happened.
    pub action: AuditAction,
    /// When, in milliseconds since the epoch.
    pub occurred_at_ms: i64,
    /// Who (the token's `sub`), when known.
    pub subject: Option<String>,
    /// The operation's name, or `(anonymous)`, or the HTTP route.
    pub operation: String,
    /// The entity type (the read field's parent type).
    pub entity_type: Option<String>,
    /// The entity's id, when the response holds its key fields.
    pub entity_id: Option<String>,
    /// The field.
    pub field: Option<String>,
    /// The response path (`@` for list positions).
    pub path: Option<String>,
    /// The request's trace id.
    pub trace_id: Option<String>,
    /// Why access was denied.
    pub reason: Option<String>,
}

/// What one request's records have in common.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The caller.
    pub caller: &'a Caller,
    /// The operation's name.
    pub operation: Option<&'a str>,
    /// The request's trace id.
    pub trace_id: Option<&'a str>,
}

impl RequestContext<'_> {
    fn record(&self, action: AuditAction) -> AuditRecord {
        AuditRecord {
            record_id: uuid::Uuid::new_v4().to_string(),
            action,
            occurred_at_ms: now_ms(),
            subject: self.caller.subject().map(str::to_string),
            operation: self.operation.unwrap_or("(anonymous)").to_string(),
            entity_type: None,
            entity_id: None,
            field: None,
            path: None,
            trace_id: self.trace_id.map(str::to_string),
            reason: None,
        }
    }

    /// One `pii_read` record per `@pii` field value the response `data` holds: each
    /// read is followed along its path (every list element at `@`), and an entity's
    /// id is taken from the key fields `keys` names for its type, when the response
    /// has them next to the field.
    pub fn pii_reads<'k>(
        &self,
        reads: &[PiiRead],
        data: Option<&Value>,
        keys: impl Fn(&str) -> Option<&'k [String]>,
    ) -> Vec<AuditRecord> {
        let mut records = Vec::new();
        let Some(data) = data else {
            return records;
        };
        for read in reads {
            let Some((field, parents)) = read.path.split_last() else {
                continue;
            };
            let mut objects = Vec::new();
            collect_objects(data, parents, &mut objects);
            for object in objects {
                if !object.contains_key(field) {
                    continue;
                }
                let mut record = self.record(AuditAction::PiiRead);
                record.entity_type = Some(read.type_name.clone());
                record.entity_id = keys(&read.type_name).and_then(|keys| entity_id(object, keys));
                record.field = Some(read.field.clone());
                record.path = Some(read.path.join("."));
                records.push(record);
            }
        }
        records
    }

    /// One `access_denied` record per denied selection (its path, as `a.@.b`).
    pub fn denied_selections(&self, paths: &[String]) -> Vec<AuditRecord> {
        paths
            .iter()
            .map(|path| {
                let mut record = self.record(AuditAction::AccessDenied);
                record.field = path.rsplit('.').next().map(str::to_string);
                record.path = Some(path.clone());
                record.reason = Some(format!("UNAUTHORIZED_FIELD_OR_TYPE: {path}"));
                record
            })
            .collect()
    }

    /// One `access_denied` record for a refused request, with its reason
    /// (`UNAUTHENTICATED`, ...).
    pub fn denied_request(&self, reason: &str) -> AuditRecord {
        let mut record = self.record(AuditAction::AccessDenied);
        record.reason = Some(reason.to_string());
        record
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The objects at `path` under `value` (`@` steps into every list element).
fn collect_objects<'v>(value: &'v Value, path: &[String], out: &mut Vec<&'v serde_json::Map<String, Value>>) {
    match (value, path.split_first()) {
        (Value::Object(object), None) => out.push(object),
        (Value::Array(items), Some((step, rest))) if step == "@" => {
            for item in items {
                collect_objects(item, rest, out);
            }
        }
        // A list the path does not mark (a list of lists, or a path built
        // without `@`): every element.
        (Value::Array(items), _) => {
            for item in items {
                collect_objects(item, path, out);
            }
        }
        (Value::Object(object), Some((step, rest))) => {
            if let Some(next) = object.get(step) {
                collect_objects(next, rest, out);
            }
        }
        _ => {}
    }
}

/// The entity id from its key fields: the value of a single key field, or a
/// JSON object of several; none when one is missing or null.
fn entity_id(object: &serde_json::Map<String, Value>, keys: &[String]) -> Option<String> {
    let values: Option<Vec<(&String, &Value)>> = keys
        .iter()
        .map(|key| object.get(key).filter(|v| !v.is_null()).map(|v| (key, v)))
        .collect();
    match values?.as_slice() {
        [] => None,
        [(_, Value::String(id))] => Some(id.clone()),
        [(_, other)] => Some(other.to_string()),
        several => Some(
            Value::Object(
                several
                    .iter()
                    .map(|(k, v)| ((*k).clone(), (*v).clone()))
                    .collect(),
            )
            .to_string(),
        ),
    }
}

/// Where PII reads and denials are recorded: the log, optionally a JSON-lines
/// file (one line per request reading PII) and the durable outbox.
#[derive(Debug, Default)]
pub struct PiiAuditLog {
    file: Option<Mutex<std::fs::File>>,
    outbox: Option<outbox::AuditOutbox>,
}

impl PiiAuditLog {
    /// Records to the log only.
    pub fn log_only() -> Self {
        PiiAuditLog::default()
    }

    /// Records to `path` too (created if absent, appended to).
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        Ok(PiiAuditLog {
            file: Some(Mutex::new(file)),
            outbox: None,
        })
    }

    /// Writes every record to `outbox` too.
    pub fn with_outbox(mut self, outbox: outbox::AuditOutbox) -> Self {
        self.outbox = Some(outbox);
        self
    }

    /// Whether records are written to a durable outbox.
    pub fn is_durable(&self) -> bool {
        self.outbox.is_some()
    }

    /// Records that `caller` read `reads` in the operation `operation`: a log line
    /// and, with a file, one JSON line (nothing when `reads` is empty).
    pub fn record(
        &self,
        caller: &Caller,
        operation: Option<&str>,
        reads: &[PiiRead],
    ) -> Result<(), AuditError> {
        if reads.is_empty() {
            return Ok(());
        }
        let record = json!({
            "timestamp_ms": now_ms(),
            "subject": caller.subject(),
            "authenticated": caller.is_authenticated(),
            "operation": operation,
            "reads": reads.iter().map(|read| json!({
                "type": read.type_name,
                "field": read.field,
                "path": read.path,
            })).collect::<Vec<_>>(),
        });
        tracing::info!(target: "dictamesh::audit", %record, "pii read");
        if let Some(file) = &self.file {
            let mut line = record.to_string();
            line.push('\n');
            let mut file = match file.lock() {
                Ok(file) => file,
                Err(poisoned) => poisoned.into_inner(),
            };
            file.write_all(line.as_bytes()).and_then(|()| file.flush())?;
        }
        Ok(())
    }

    /// Writes `records` to the outbox (in one transaction), when there is one.
    pub async fn persist(&self, records: &[AuditRecord]) -> Result<(), AuditError> {
        for record in records.iter().filter(|r| r.action == AuditAction::AccessDenied) {
            tracing::info!(
                target: "dictamesh::audit",
                subject = record.subject.as_deref(),
                path = record.path.as_deref(),
                reason = record.reason.as_deref(),
                "access denied"
            );
        }
        match &self.outbox {
            Some(outbox) if !records.is_empty() => outbox.append(records).await,
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &[&str]) -> PiiRead {
        PiiRead {
            type_name: "User".into(),
            field: path.last().unwrap().to_string(),
            path: path.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_read_becomes_one_record_per_entity_in_the_response() {
        let caller = Caller::authenticated(serde_json::from_value(json!({"sub": "ada"})).unwrap());
        let context = RequestContext {
            caller: &caller,
            operation: Some("Users"),
            trace_id: Some("abc"),
        };
        let data = json!({"users": [{"id": "u1", "phone": "1"}, {"id": "u2", "phone": null}, null]});
        let keys = vec!["id".to_string()];
        let records = context.pii_reads(&[read(&["users", "@", "phone"])], Some(&data), |t| {
            (t == "User").then_some(keys.as_slice())
        });
        let ids: Vec<_> = records.iter().map(|r| r.entity_id.as_deref()).collect();
        assert_eq!(ids, [Some("u1"), Some("u2")]);
        assert_eq!(records[0].subject.as_deref(), Some("ada"));
        assert_eq!(records[0].trace_id.as_deref(), Some("abc"));
        assert_eq!(records[0].path.as_deref(), Some("users.@.phone"));
        assert_ne!(records[0].record_id, records[1].record_id);
        assert!(
            context
                .pii_reads(&[read(&["users", "@", "phone"])], None, |_| None)
                .is_empty()
        );
    }

    #[test]
    fn compound_keys_are_a_json_object_and_missing_keys_no_id() {
        let object = json!({"a": 1, "b": "x"});
        let object = object.as_object().unwrap();
        assert_eq!(
            entity_id(object, &["a".into(), "b".into()]).as_deref(),
            Some(r#"{"a":1,"b":"x"}"#)
        );
        assert_eq!(entity_id(object, &["c".into()]), None);
    }
}
