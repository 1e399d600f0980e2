//! Data lineage between catalog entries: recording flows and following them
//! upstream or downstream.

use chrono::{DateTime, Utc};
use dictamesh::ID;
use uuid::Uuid;

use crate::db::{BeginWrite, Columns, Database, now, on_pool, stored_time};
use crate::error::CatalogError;
use crate::model::{CatalogEntry, EntityRef, LineageDirection, LineageEdge, LineageInput, LineageStep};
use crate::registry::{self, entry_from_row};
use crate::relationships::check_name;

/// The deepest lineage traversal.
pub const MAX_LINEAGE_DEPTH: i32 = 10;

const LINEAGE_COLUMNS: &str = "id, upstream_catalog_id, upstream_system, downstream_catalog_id, \
     downstream_system, transformation_type, transformation_logic, data_flow_active, last_flow_at, \
     average_latency_ms, created_at";

/// Decodes a `data_lineage` row.
fn edge_from_row<R>(row: &R) -> Result<LineageEdge, sqlx::Error>
where
    R: Columns<Uuid>
        + Columns<String>
        + Columns<Option<String>>
        + Columns<bool>
        + Columns<Option<DateTime<Utc>>>
        + Columns<DateTime<Utc>>
        + Columns<Option<i32>>,
{
    edge_from_columns(row, "id", "created_at")
}

/// Decodes a `data_lineage` row whose `id` and `created_at` columns carry
/// other names (a join that also selects an entity's).
fn edge_from_columns<R>(row: &R, id_column: &str, created_at_column: &str) -> Result<LineageEdge, sqlx::Error>
where
    R: Columns<Uuid>
        + Columns<String>
        + Columns<Option<String>>
        + Columns<bool>
        + Columns<Option<DateTime<Utc>>>
        + Columns<DateTime<Utc>>
        + Columns<Option<i32>>,
{
    let id: Uuid = row.column(id_column)?;
    let upstream: Uuid = row.column("upstream_catalog_id")?;
    let downstream: Uuid = row.column("downstream_catalog_id")?;
    Ok(LineageEdge {
        id: ID(id.to_string()),
        upstream_catalog_id: ID(upstream.to_string()),
        upstream_system: row.column("upstream_system")?,
        downstream_catalog_id: ID(downstream.to_string()),
        downstream_system: row.column("downstream_system")?,
        transformation_type: row.column("transformation_type")?,
        transformation_logic: row.column("transformation_logic")?,
        data_flow_active: row.column("data_flow_active")?,
        last_flow_at: row.column("last_flow_at")?,
        average_latency_ms: row.column("average_latency_ms")?,
        created_at: row.column(created_at_column)?,
    })
}

async fn registered(db: &Database, side: &str, entity: &EntityRef) -> Result<CatalogEntry, CatalogError> {
    registry::find_entry(
        db,
        &entity.entity_type,
        &entity.source_entity_id,
        entity.source_system.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        CatalogError::not_found(
            "catalog entry",
            format!(
                "{side} {} {}{} (register it first)",
                entity.entity_type,
                entity.source_entity_id,
                entity
                    .source_system
                    .as_deref()
                    .map(|s| format!(" in {s}"))
                    .unwrap_or_default()
            ),
        )
    })
}

/// Records a flow between two registered entities; recording the same
/// (upstream, downstream, transformation) again updates it.
pub async fn record_lineage(db: &Database, input: &LineageInput) -> Result<LineageEdge, CatalogError> {
    check_name("transformationType", &input.transformation_type, 50)?;
    if let Some(latency) = input.average_latency_ms
        && latency < 0
    {
        return Err(CatalogError::InvalidInput(format!(
            "averageLatencyMs must not be negative, got {latency}"
        )));
    }
    let upstream = registered(db, "upstream", &input.upstream).await?;
    let downstream = registered(db, "downstream", &input.downstream).await?;
    if upstream.id == downstream.id {
        return Err(CatalogError::InvalidInput(
            "upstream and downstream are the same entry; lineage links two entries".into(),
        ));
    }
    let upstream_id = registry::parse_catalog_id(&upstream.id)?;
    let downstream_id = registry::parse_catalog_id(&downstream.id)?;
    let sql = format!(
        "INSERT INTO data_lineage (id, upstream_catalog_id, upstream_system, downstream_catalog_id, \
         downstream_system, transformation_type, transformation_logic, data_flow_active, last_flow_at, \
         average_latency_ms, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (upstream_catalog_id, downstream_catalog_id, transformation_type) DO UPDATE SET \
           transformation_logic = excluded.transformation_logic, data_flow_active = excluded.data_flow_active, \
           last_flow_at = COALESCE(excluded.last_flow_at, data_lineage.last_flow_at), \
           average_latency_ms = COALESCE(excluded.average_latency_ms, data_lineage.average_latency_ms) \
         RETURNING {LINEAGE_COLUMNS}"
    );
    let edge = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let row = sqlx::query(&sql)
            .bind(Uuid::new_v4())
            .bind(upstream_id)
            .bind(&upstream.source_system)
            .bind(downstream_id)
            .bind(&downstream.source_system)
            .bind(&input.transformation_type)
            .bind(&input.transformation_logic)
            .bind(input.data_flow_active.unwrap_or(true))
            .bind(input.last_flow_at.map(stored_time))
            .bind(input.average_latency_ms)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
        let edge = edge_from_row(&row)?;
        tx.commit().await?;
        edge
    });
    Ok(edge)
}

/// The flows reachable from an entry, upstream or downstream, within `depth`
/// hops; each flow once, at its smallest depth, with the entry it reaches.
pub async fn lineage(
    db: &Database,
    entry: &CatalogEntry,
    direction: LineageDirection,
    depth: i32,
) -> Result<Vec<LineageStep>, CatalogError> {
    if !(1..=MAX_LINEAGE_DEPTH).contains(&depth) {
        return Err(CatalogError::InvalidInput(format!(
            "depth must be between 1 and {MAX_LINEAGE_DEPTH}, got {depth}"
        )));
    }
    let start = registry::parse_catalog_id(&entry.id)?;
    let (from, to) = match direction {
        LineageDirection::Downstream => ("upstream_catalog_id", "downstream_catalog_id"),
        LineageDirection::Upstream => ("downstream_catalog_id", "upstream_catalog_id"),
    };
    // Walks entries with UNION (cycle-safe, as the relationship graph does),
    // then returns each flow out of a reached entry once.
    let sql = format!(
        "WITH RECURSIVE reached(catalog_id, depth) AS ( \
           SELECT CAST($1 AS {uuid}), 0 \
           UNION \
           SELECT l.{to}, reached.depth + 1 FROM reached JOIN data_lineage l ON l.{from} = reached.catalog_id \
           WHERE reached.depth + 1 < $2 \
         ), \
         nearest AS (SELECT catalog_id, MIN(depth) AS depth FROM reached GROUP BY catalog_id), \
         flows AS ( \
           SELECT l.id AS flow_id, MIN(nearest.depth) + 1 AS flow_depth \
           FROM nearest JOIN data_lineage l ON l.{from} = nearest.catalog_id GROUP BY l.id \
         ) \
         SELECT flows.flow_depth, l.{LINEAGE_COLUMNS_PREFIXED}, e.* \
         FROM flows JOIN data_lineage l ON l.id = flows.flow_id JOIN entity_catalog e ON e.id = l.{to} \
         ORDER BY flows.flow_depth, e.entity_type, e.source_entity_id",
        uuid = match db {
            Database::Postgres(_) => "UUID",
            Database::Sqlite(_) => "BLOB",
        },
        LINEAGE_COLUMNS_PREFIXED = "id AS flow_id, l.upstream_catalog_id, l.upstream_system, \
            l.downstream_catalog_id, l.downstream_system, l.transformation_type, l.transformation_logic, \
            l.data_flow_active, l.last_flow_at, l.average_latency_ms, l.created_at AS flow_created_at",
    );
    let steps = on_pool!(db, pool => {
        let rows = sqlx::query(&sql).bind(start).bind(depth).fetch_all(pool).await?;
        let mut steps = Vec::with_capacity(rows.len());
        for row in &rows {
            steps.push(LineageStep {
                depth: row.column("flow_depth")?,
                edge: edge_from_columns(row, "flow_id", "flow_created_at")?,
                entry: entry_from_row(row)?,
            });
        }
        steps
    });
    Ok(steps)
}
