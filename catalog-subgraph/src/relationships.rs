//! The temporal relationship graph: recording relationships (closing the
//! previous validity interval when one changes) and traversing the graph as it
//! was at any time with a cycle-safe recursive query.

use chrono::{DateTime, Utc};
use dictamesh::ID;
use sqlx::types::Json;
use uuid::Uuid;

use crate::db::{BeginWrite, Columns, Database, now, on_pool, stored_time};
use crate::error::CatalogError;
use crate::model::{Cardinality, GraphEdge, Relationship, RelationshipGraph, RelationshipInput};

/// The deepest traversal `relationshipGraph` runs.
pub const MAX_GRAPH_DEPTH: i32 = 10;

pub(crate) const RELATIONSHIP_COLUMNS: &str = "id, subject_catalog_id, subject_entity_type, subject_entity_id, \
     relationship_type, relationship_cardinality, object_catalog_id, object_entity_type, object_entity_id, \
     valid_from, valid_to, subject_display_name, object_display_name, relationship_metadata, created_by_event_id";

/// The relationships valid at `$4` reachable from entity (`$1`, `$2`) within
/// `$3` hops. The recursion walks entities, not paths: `UNION` drops an
/// entity already reached at the same depth, and the depth bound ends cycles,
/// so a cyclic or dense graph costs at most depth × reachable relationships.
/// Each relationship is returned once, at its smallest depth.
const GRAPH_SQL: &str = "WITH RECURSIVE nodes(entity_type, entity_id, depth) AS ( \
       SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), 0 \
       UNION \
       SELECT CAST(r.object_entity_type AS TEXT), CAST(r.object_entity_id AS TEXT), n.depth + 1 \
       FROM nodes n \
       JOIN entity_relationships r \
         ON r.subject_entity_type = n.entity_type AND r.subject_entity_id = n.entity_id \
       WHERE n.depth + 1 < $3 \
         AND r.valid_from <= $4 AND (r.valid_to IS NULL OR r.valid_to > $4) \
     ), \
     reached AS ( \
       SELECT entity_type, entity_id, MIN(depth) AS depth FROM nodes GROUP BY entity_type, entity_id \
     ), \
     edges AS ( \
       SELECT r.id AS edge_id, MIN(reached.depth) + 1 AS edge_depth \
       FROM reached \
       JOIN entity_relationships r \
         ON r.subject_entity_type = reached.entity_type AND r.subject_entity_id = reached.entity_id \
       WHERE r.valid_from <= $4 AND (r.valid_to IS NULL OR r.valid_to > $4) \
       GROUP BY r.id \
     ) \
     SELECT edges.edge_depth, r.* FROM edges JOIN entity_relationships r ON r.id = edges.edge_id \
     ORDER BY edges.edge_depth, r.relationship_type, r.object_entity_type, r.object_entity_id, r.id";

/// Decodes an `entity_relationships` row.
pub(crate) fn relationship_from_row<R>(row: &R) -> Result<Relationship, sqlx::Error>
where
    R: Columns<Uuid>
        + Columns<Option<Uuid>>
        + Columns<String>
        + Columns<Option<String>>
        + Columns<DateTime<Utc>>
        + Columns<Option<DateTime<Utc>>>
        + Columns<Option<Json<serde_json::Value>>>,
{
    let id: Uuid = row.column("id")?;
    let subject_catalog_id: Option<Uuid> = row.column("subject_catalog_id")?;
    let object_catalog_id: Option<Uuid> = row.column("object_catalog_id")?;
    let cardinality: Option<String> = row.column("relationship_cardinality")?;
    let metadata: Option<Json<serde_json::Value>> = row.column("relationship_metadata")?;
    Ok(Relationship {
        id: ID(id.to_string()),
        subject_catalog_id: subject_catalog_id.map(|id| ID(id.to_string())),
        subject_entity_type: row.column("subject_entity_type")?,
        subject_entity_id: row.column("subject_entity_id")?,
        relationship_type: row.column("relationship_type")?,
        cardinality: cardinality.as_deref().and_then(Cardinality::parse),
        object_catalog_id: object_catalog_id.map(|id| ID(id.to_string())),
        object_entity_type: row.column("object_entity_type")?,
        object_entity_id: row.column("object_entity_id")?,
        valid_from: row.column("valid_from")?,
        valid_to: row.column("valid_to")?,
        subject_display_name: row.column("subject_display_name")?,
        object_display_name: row.column("object_display_name")?,
        metadata: metadata.map(|Json(value)| value),
        created_by_event_id: row.column("created_by_event_id")?,
    })
}

/// Checks the length limits of an entity reference or predicate.
pub(crate) fn check_name(field: &str, value: &str, max: usize) -> Result<(), CatalogError> {
    if value.trim().is_empty() {
        return Err(CatalogError::InvalidInput(format!("{field} must not be empty")));
    }
    if value.len() > max {
        return Err(CatalogError::InvalidInput(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

fn validate(input: &RelationshipInput) -> Result<(), CatalogError> {
    check_name("subjectEntityType", &input.subject_entity_type, 100)?;
    check_name("subjectEntityId", &input.subject_entity_id, 255)?;
    check_name("relationshipType", &input.relationship_type, 100)?;
    check_name("objectEntityType", &input.object_entity_type, 100)?;
    check_name("objectEntityId", &input.object_entity_id, 255)
}

/// Whether a recorded relationship says the same as an input (then recording
/// it again changes nothing).
fn same_attributes(current: &Relationship, input: &RelationshipInput) -> bool {
    current.cardinality == input.cardinality
        && current.subject_display_name == input.subject_display_name
        && current.object_display_name == input.object_display_name
        && current.metadata == input.metadata
}

/// The catalog id of the most recently seen entry of an entity.
pub(crate) const CATALOG_ID_SQL: &str = "SELECT id FROM entity_catalog WHERE entity_type = $1 \
     AND source_entity_id = $2 ORDER BY last_seen_at DESC, id LIMIT 1";

/// Records a relationship as valid from `validFrom` (default now). Recording
/// the same relationship again is a no-op; recording it with other attributes
/// closes the current interval and opens a new one; for single-valued
/// cardinalities, the subject's other current object of that type is closed.
pub async fn record_relationship(
    db: &Database,
    input: &RelationshipInput,
) -> Result<Relationship, CatalogError> {
    validate(input)?;
    let at = stored_time(input.valid_from.unwrap_or_else(now));
    let lock = match db {
        Database::Postgres(_) => " FOR UPDATE",
        Database::Sqlite(_) => "",
    };
    let current_sql = format!(
        "SELECT {RELATIONSHIP_COLUMNS} FROM entity_relationships WHERE subject_entity_type = $1 \
         AND subject_entity_id = $2 AND relationship_type = $3 AND object_entity_type = $4 \
         AND object_entity_id = $5 AND valid_to IS NULL{lock}"
    );
    let insert_sql = format!(
        "INSERT INTO entity_relationships (id, subject_catalog_id, subject_entity_type, subject_entity_id, \
         relationship_type, relationship_cardinality, object_catalog_id, object_entity_type, object_entity_id, \
         valid_from, subject_display_name, object_display_name, relationship_metadata, created_by_event_id, \
         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING {RELATIONSHIP_COLUMNS}"
    );
    let recorded = on_pool!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let subject_catalog: Option<Uuid> = sqlx::query_scalar(CATALOG_ID_SQL)
            .bind(&input.subject_entity_type)
            .bind(&input.subject_entity_id)
            .fetch_optional(&mut *tx)
            .await?;
        let object_catalog: Option<Uuid> = sqlx::query_scalar(CATALOG_ID_SQL)
            .bind(&input.object_entity_type)
            .bind(&input.object_entity_id)
            .fetch_optional(&mut *tx)
            .await?;
        let current = sqlx::query(&current_sql)
            .bind(&input.subject_entity_type)
            .bind(&input.subject_entity_id)
            .bind(&input.relationship_type)
            .bind(&input.object_entity_type)
            .bind(&input.object_entity_id)
            .fetch_optional(&mut *tx)
            .await?
            .map(|row| relationship_from_row(&row))
            .transpose()?;
        if let Some(current) = current {
            if same_attributes(&current, input) {
                tx.commit().await?;
                return Ok(current);
            }
            if at <= current.valid_from {
                return Err(CatalogError::Conflict(format!(
                    "the relationship changes at {at}, which is not after the start of its current validity \
                     ({}); give a later validFrom",
                    current.valid_from
                )));
            }
            sqlx::query("UPDATE entity_relationships SET valid_to = $1 WHERE id = $2")
                .bind(at)
                .bind(Uuid::parse_str(&current.id).map_err(|e| CatalogError::Database(e.to_string()))?)
                .execute(&mut *tx)
                .await?;
        }
        if input.cardinality.is_some_and(Cardinality::is_single_valued) {
            sqlx::query(
                "UPDATE entity_relationships SET valid_to = $1 WHERE subject_entity_type = $2 \
                 AND subject_entity_id = $3 AND relationship_type = $4 AND valid_to IS NULL \
                 AND valid_from < $1 AND NOT (object_entity_type = $5 AND object_entity_id = $6)",
            )
            .bind(at)
            .bind(&input.subject_entity_type)
            .bind(&input.subject_entity_id)
            .bind(&input.relationship_type)
            .bind(&input.object_entity_type)
            .bind(&input.object_entity_id)
            .execute(&mut *tx)
            .await?;
        }
        let row = sqlx::query(&insert_sql)
            .bind(Uuid::new_v4())
            .bind(subject_catalog)
            .bind(&input.subject_entity_type)
            .bind(&input.subject_entity_id)
            .bind(&input.relationship_type)
            .bind(input.cardinality.map(Cardinality::as_str))
            .bind(object_catalog)
            .bind(&input.object_entity_type)
            .bind(&input.object_entity_id)
            .bind(at)
            .bind(&input.subject_display_name)
            .bind(&input.object_display_name)
            .bind(input.metadata.as_ref().map(Json))
            .bind(&input.event_id)
            .bind(now())
            .fetch_one(&mut *tx)
            .await?;
        let recorded = relationship_from_row(&row)?;
        tx.commit().await?;
        recorded
    });
    Ok(recorded)
}

/// Ends a current relationship at `at` (default now); `None` when no such
/// relationship is current.
pub async fn end_relationship(
    db: &Database,
    input: &RelationshipInput,
    at: Option<DateTime<Utc>>,
) -> Result<Option<Relationship>, CatalogError> {
    validate(input)?;
    let at = stored_time(at.unwrap_or_else(now));
    let sql = format!(
        "UPDATE entity_relationships SET valid_to = $1 WHERE subject_entity_type = $2 \
         AND subject_entity_id = $3 AND relationship_type = $4 AND object_entity_type = $5 \
         AND object_entity_id = $6 AND valid_to IS NULL AND valid_from < $1 RETURNING {RELATIONSHIP_COLUMNS}"
    );
    let ended = on_pool!(db, pool => {
        sqlx::query(&sql)
            .bind(at)
            .bind(&input.subject_entity_type)
            .bind(&input.subject_entity_id)
            .bind(&input.relationship_type)
            .bind(&input.object_entity_type)
            .bind(&input.object_entity_id)
            .fetch_optional(pool)
            .await?
            .map(|row| relationship_from_row(&row))
            .transpose()?
    });
    Ok(ended)
}

/// The relationships reachable from an entity within `max_depth` hops, as they
/// were valid at `as_of` (default now).
pub async fn relationship_graph(
    db: &Database,
    entity_type: &str,
    entity_id: &str,
    max_depth: i32,
    as_of: Option<DateTime<Utc>>,
) -> Result<RelationshipGraph, CatalogError> {
    if !(1..=MAX_GRAPH_DEPTH).contains(&max_depth) {
        return Err(CatalogError::InvalidInput(format!(
            "maxDepth must be between 1 and {MAX_GRAPH_DEPTH}, got {max_depth}"
        )));
    }
    let as_of = stored_time(as_of.unwrap_or_else(now));
    let edges = on_pool!(db, pool => {
        let rows = sqlx::query(GRAPH_SQL)
            .bind(entity_type)
            .bind(entity_id)
            .bind(max_depth)
            .bind(as_of)
            .fetch_all(pool)
            .await?;
        let mut edges = Vec::with_capacity(rows.len());
        for row in &rows {
            let depth: i32 = row.column("edge_depth")?;
            edges.push(GraphEdge {
                depth,
                relationship: relationship_from_row(row)?,
            });
        }
        edges
    });
    Ok(RelationshipGraph {
        entity_type: entity_type.to_string(),
        entity_id: entity_id.to_string(),
        as_of,
        max_depth,
        edges,
    })
}
