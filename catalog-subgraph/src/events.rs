//! Reading the immutable event log: an entity's events, oldest first, in pages
//! with keyset cursors (stable while events keep arriving).

use chrono::{DateTime, Utc};
use dictamesh::ID;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{Columns, Database, on_pool};
use crate::error::CatalogError;
use crate::model::{EventPage, EventRecord};

/// The largest page `events` returns.
pub const MAX_PAGE_SIZE: i32 = 1000;

pub(crate) const EVENT_COLUMNS: &str = "id, event_id, event_type, catalog_id, entity_type, entity_id, \
     source_system, changed_fields, event_payload, trace_id, span_id, event_timestamp, ingested_at";

/// Where a page ends: the last event's time and id.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cursor {
    at: DateTime<Utc>,
    id: Uuid,
}

impl Cursor {
    fn encode(&self) -> String {
        format!("{}_{}", self.at.timestamp_micros(), self.id)
    }

    fn decode(text: &str) -> Result<Self, CatalogError> {
        let invalid = || CatalogError::InvalidInput(format!("`{text}` is not a cursor returned by `events`"));
        let (micros, id) = text.split_once('_').ok_or_else(invalid)?;
        let micros: i64 = micros.parse().map_err(|_| invalid())?;
        Ok(Cursor {
            at: DateTime::from_timestamp_micros(micros).ok_or_else(invalid)?,
            id: Uuid::parse_str(id).map_err(|_| invalid())?,
        })
    }
}

/// Decodes an `event_log` row.
fn event_from_row<R>(row: &R) -> Result<EventRecord, sqlx::Error>
where
    R: Columns<Uuid>
        + Columns<Option<Uuid>>
        + Columns<String>
        + Columns<Option<String>>
        + Columns<Json<Vec<String>>>
        + Columns<Json<serde_json::Value>>
        + Columns<DateTime<Utc>>,
{
    let id: Uuid = row.column("id")?;
    let catalog_id: Option<Uuid> = row.column("catalog_id")?;
    let Json(changed_fields): Json<Vec<String>> = row.column("changed_fields")?;
    let Json(payload): Json<serde_json::Value> = row.column("event_payload")?;
    Ok(EventRecord {
        id: ID(id.to_string()),
        event_id: row.column("event_id")?,
        event_type: row.column("event_type")?,
        catalog_id: catalog_id.map(|id| ID(id.to_string())),
        entity_type: row.column("entity_type")?,
        entity_id: row.column("entity_id")?,
        source_system: row.column("source_system")?,
        changed_fields,
        payload,
        trace_id: row.column("trace_id")?,
        span_id: row.column("span_id")?,
        event_timestamp: row.column("event_timestamp")?,
        ingested_at: row.column("ingested_at")?,
    })
}

/// An entity's events since `since` (inclusive), after the cursor `after`,
/// at most `limit` (1 to [`MAX_PAGE_SIZE`]).
pub async fn events(
    db: &Database,
    entity_type: &str,
    entity_id: &str,
    since: Option<DateTime<Utc>>,
    limit: i32,
    after: Option<&str>,
) -> Result<EventPage, CatalogError> {
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(CatalogError::InvalidInput(format!(
            "limit must be between 1 and {MAX_PAGE_SIZE}, got {limit}"
        )));
    }
    let cursor = after.map(Cursor::decode).transpose()?;
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM event_log WHERE entity_type = $1 AND entity_id = $2 \
         AND ($3 IS NULL OR event_timestamp >= $3) \
         AND ($4 IS NULL OR (event_timestamp, id) > ($4, $5)) \
         ORDER BY event_timestamp, id LIMIT $6"
    );
    let mut events = on_pool!(db, pool => {
        let rows = sqlx::query(&sql)
            .bind(entity_type)
            .bind(entity_id)
            .bind(since)
            .bind(cursor.map(|c| c.at))
            .bind(cursor.map(|c| c.id))
            .bind(i64::from(limit) + 1)
            .fetch_all(pool)
            .await?;
        rows.iter().map(event_from_row).collect::<Result<Vec<_>, _>>()?
    });
    let has_more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    events.truncate(usize::try_from(limit).unwrap_or(0));
    let end_cursor = match (has_more, events.last()) {
        (true, Some(last)) => Some(
            Cursor {
                at: last.event_timestamp,
                id: Uuid::parse_str(&last.id).map_err(|e| CatalogError::Database(e.to_string()))?,
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(EventPage {
        events,
        end_cursor,
        has_more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["", "x_y", "12_not-a-uuid", "no-separator"] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
