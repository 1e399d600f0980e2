//! The audit of personal-data reads: one JSON line per request that reads `@pii`
//! fields (who, when, which operation, which fields at which paths), appended to a
//! file and logged at the `dictamesh::audit` target.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use serde_json::json;

use crate::Caller;
use crate::authz::PiiRead;

/// Where PII reads are recorded.
#[derive(Debug, Default)]
pub struct PiiAuditLog {
    file: Option<Mutex<std::fs::File>>,
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
        })
    }

    /// Records that `caller` read `reads` in the operation `operation`.
    pub fn record(&self, caller: &Caller, operation: Option<&str>, reads: &[PiiRead]) {
        if reads.is_empty() {
            return;
        }
        let timestamp_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default();
        let record = json!({
            "timestamp_ms": timestamp_ms,
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
            if let Err(error) = file.write_all(line.as_bytes()).and_then(|()| file.flush()) {
                tracing::error!(%error, "cannot write the PII audit record");
            }
        }
    }
}
