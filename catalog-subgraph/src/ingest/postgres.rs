//! Writing a batch into PostgreSQL with set-based statements (arrays and
//! `unnest`): a handful of statements per batch whatever its size. The work
//! on this side (the event log's columns, the relationship plan) is done
//! while the server runs the catalog upsert and the event log insert.

use std::collections::HashSet;
use std::task::Poll;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::plan::{self, CatalogIds, RelationshipPlan, StoredRelationship};
use super::{Event, EventKind};
use crate::db::now;
use crate::error::CatalogError;
use crate::registry;

/// Writes the events of a batch whose `event_id`s are new, in one
/// transaction; returns how many were new.
pub(super) async fn write_batch(pool: PgPool, mut events: Vec<Event>) -> Result<usize, CatalogError> {
    let mut tx = pool.begin().await?;
    // Ids in order, so that batches sharing event ids lock them in one order
    // (and never deadlock) however their events arrived.
    let mut claims: Vec<(&str, DateTime<Utc>)> = events.iter().map(|e| (e.event_id.as_str(), e.at)).collect();
    claims.sort_unstable_by_key(|&(id, _)| id);
    let (ids, times): (Vec<&str>, Vec<DateTime<Utc>>) = claims.into_iter().unzip();
    let fresh: HashSet<String> = sqlx::query_scalar(
        "INSERT INTO event_ids (event_id, event_timestamp) SELECT * FROM unnest($1::text[], $2::timestamptz[]) \
         ON CONFLICT (event_id) DO NOTHING RETURNING event_id",
    )
    .bind(&ids)
    .bind(&times)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();
    events.retain(|e| fresh.contains(&e.event_id));
    let new = events;
    if new.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    register(&mut tx, &new).await?;
    let (touched, rows) = overlapped(touch(&mut tx, &new), || LogRows::new(&new)).await;
    let (mut catalog, rows) = (touched?, rows?);
    let stored = stored_relationships(&mut tx, &new).await?;
    look_up(
        &mut tx,
        &plan::entities_to_look_up(&new, &[], &catalog),
        &mut catalog,
    )
    .await?;
    // The relationship changes are planned while the event log is written.
    let (logged, relationships) = overlapped(log(&mut tx, rows, &catalog), || {
        Ok::<_, sqlx::Error>(plan::plan_relationships(&new, decode_stored(&stored)?))
    })
    .await;
    logged?;
    let relationships = relationships?;
    let missing = plan::entities_to_look_up(&[], &relationships.insert, &catalog);
    look_up(&mut tx, &missing, &mut catalog).await?;
    relate(&mut tx, relationships, &catalog).await?;
    tx.commit().await?;
    Ok(new.len())
}

/// Runs `work` while `statement` executes: the statement is polled once (and
/// so sent to the server) before `work` starts on this side.
async fn overlapped<F: Future, T>(statement: F, work: impl FnOnce() -> T) -> (F::Output, T) {
    let mut statement = std::pin::pin!(statement);
    let first = std::future::poll_fn(|cx| Poll::Ready(statement.as_mut().poll(cx))).await;
    let value = work();
    let output = match first {
        Poll::Ready(output) => output,
        Poll::Pending => statement.await,
    };
    (output, value)
}

/// Registrations from `entity_registered` events, in order.
async fn register(tx: &mut Transaction<'static, Postgres>, events: &[Event]) -> Result<(), CatalogError> {
    let sql = registry::upsert_sql();
    for event in events {
        let EventKind::Registered(registration) = &event.kind else {
            continue;
        };
        let mut registration = (**registration).clone();
        if let Some(schema_id) = registration.schema_id {
            let known: Option<i32> = sqlx::query_scalar("SELECT id FROM schemas WHERE id = $1")
                .bind(schema_id)
                .fetch_optional(&mut **tx)
                .await?;
            if known.is_none() {
                tracing::warn!(event_id = %event.event_id, schema_id, "registration names an unknown schema id; dropped");
                registration.schema_id = None;
            }
        }
        registry::bind_registration!(sqlx::query(&sql), &registration, event.at)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// `last_seen_at` (and status) of every entity the change events mention;
/// entities not registered yet are registered from the event, with the
/// defaults of their type's entry. Returns the touched entries.
async fn touch(
    tx: &mut Transaction<'static, Postgres>,
    events: &[Event],
) -> Result<CatalogIds, CatalogError> {
    let mut touched = CatalogIds::default();
    let touches = plan::touches(events);
    if touches.is_empty() {
        return Ok(touched);
    }
    let mut ids = Vec::with_capacity(touches.len());
    let (mut types, mut entity_ids, mut sources) = (Vec::new(), Vec::new(), Vec::new());
    let (mut domains, mut urls, mut ats, mut statuses) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in &touches {
        ids.push(Uuid::now_v7());
        types.push(t.key.entity_type.as_str());
        entity_ids.push(t.key.entity_id.as_str());
        sources.push(t.key.source_system.as_str());
        domains.push(t.domain.as_str());
        urls.push(t.url.as_str());
        ats.push(t.at);
        statuses.push(t.status.map_or("active", |(s, _)| s));
    }
    let mut kinds: Vec<(&str, &str)> = types.iter().copied().zip(sources.iter().copied()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let (kind_types, kind_sources): (Vec<&str>, Vec<&str>) = kinds.into_iter().unzip();
    // The type entries are read once per (type, source system) of the batch.
    let rows = sqlx::query(
        "INSERT INTO entity_catalog (id, entity_type, domain, source_system, source_entity_id, api_base_url, \
         api_path_template, api_method, created_at, updated_at, last_seen_at, status, schema_version, \
         availability_sla, latency_p99_ms, freshness_sla_seconds, contains_pii, data_classification, \
         retention_days) \
         SELECT x.id, x.t, x.d, x.s, x.e, x.u, '', 'POST', x.at, x.at, x.at, x.st, ty.schema_version, \
                ty.availability_sla, ty.latency_p99_ms, ty.freshness_sla_seconds, COALESCE(ty.contains_pii, FALSE), \
                ty.data_classification, ty.retention_days \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                     $7::timestamptz[], $8::text[]) AS x(id, t, d, s, e, u, at, st) \
         LEFT JOIN (SELECT ty.* FROM entity_catalog ty \
                    JOIN unnest($9::text[], $10::text[]) AS k(t, s) \
                      ON ty.entity_type = k.t AND ty.source_system = k.s AND ty.source_entity_id = '*') ty \
           ON ty.entity_type = x.t AND ty.source_system = x.s \
         ON CONFLICT (source_system, source_entity_id, entity_type) DO UPDATE SET \
           last_seen_at = GREATEST(entity_catalog.last_seen_at, excluded.last_seen_at) \
         RETURNING entity_type, source_entity_id, source_system, last_seen_at, id",
    )
    .bind(&ids)
    .bind(&types)
    .bind(&domains)
    .bind(&sources)
    .bind(&entity_ids)
    .bind(&urls)
    .bind(&ats)
    .bind(&statuses)
    .bind(&kind_types)
    .bind(&kind_sources)
    .fetch_all(&mut **tx)
    .await?;
    for row in rows {
        touched.add(
            row.try_get("entity_type")?,
            row.try_get("source_entity_id")?,
            row.try_get("source_system")?,
            row.try_get("last_seen_at")?,
            row.try_get("id")?,
        );
    }
    let changes: Vec<&plan::Touch> = touches.iter().filter(|t| t.status.is_some()).collect();
    if !changes.is_empty() {
        let types: Vec<&str> = changes.iter().map(|t| t.key.entity_type.as_str()).collect();
        let entity_ids: Vec<&str> = changes.iter().map(|t| t.key.entity_id.as_str()).collect();
        let sources: Vec<&str> = changes.iter().map(|t| t.key.source_system.as_str()).collect();
        let (statuses, ats): (Vec<&str>, Vec<DateTime<Utc>>) =
            changes.iter().filter_map(|t| t.status).unzip();
        // A status applies only when its event is the newest sighting.
        sqlx::query(
            "UPDATE entity_catalog c SET status = x.st, updated_at = x.at \
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS x(t, e, s, st, at) \
             WHERE c.entity_type = x.t AND c.source_entity_id = x.e AND c.source_system = x.s \
               AND c.last_seen_at <= x.at AND c.status <> x.st",
        )
        .bind(&types)
        .bind(&entity_ids)
        .bind(&sources)
        .bind(&statuses)
        .bind(&ats)
        .execute(&mut **tx)
        .await?;
    }
    Ok(touched)
}

/// The stored relationships, current and closed, of the subjects whose
/// relationships the batch may change, read in one statement (rows for
/// [`decode_stored`]).
async fn stored_relationships(
    tx: &mut Transaction<'static, Postgres>,
    events: &[Event],
) -> Result<Vec<PgRow>, CatalogError> {
    let subjects = plan::relationship_subjects(events);
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let (types, ids): (Vec<&str>, Vec<&str>) = subjects.iter().map(|(t, i)| (t.as_str(), i.as_str())).unzip();
    let rows = sqlx::query(
        "SELECT r.id, r.subject_entity_type, r.subject_entity_id, r.relationship_type, r.object_entity_type, \
         r.object_entity_id, r.valid_from, r.valid_to \
         FROM entity_relationships r JOIN unnest($1::text[], $2::text[]) AS s(t, i) \
           ON r.subject_entity_type = s.t AND r.subject_entity_id = s.i",
    )
    .bind(&types)
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    Ok(rows)
}

/// The relationships read by [`stored_relationships`].
fn decode_stored(rows: &[PgRow]) -> Result<Vec<StoredRelationship>, sqlx::Error> {
    rows.iter()
        .map(|row| {
            Ok(StoredRelationship {
                id: row.try_get("id")?,
                subject_type: row.try_get("subject_entity_type")?,
                subject_id: row.try_get("subject_entity_id")?,
                relationship_type: row.try_get("relationship_type")?,
                object_type: row.try_get("object_entity_type")?,
                object_id: row.try_get("object_entity_id")?,
                valid_from: row.try_get("valid_from")?,
                valid_to: row.try_get("valid_to")?,
            })
        })
        .collect()
}

/// Adds every catalog entry of `entities` to `found`.
async fn look_up(
    tx: &mut Transaction<'static, Postgres>,
    entities: &[(String, String)],
    found: &mut CatalogIds,
) -> Result<(), CatalogError> {
    if entities.is_empty() {
        return Ok(());
    }
    let (types, ids): (Vec<&str>, Vec<&str>) = entities.iter().map(|(t, i)| (t.as_str(), i.as_str())).unzip();
    let rows = sqlx::query(
        "SELECT c.entity_type, c.source_entity_id, c.source_system, c.last_seen_at, c.id \
         FROM entity_catalog c JOIN unnest($1::text[], $2::text[]) AS x(t, i) \
           ON c.entity_type = x.t AND c.source_entity_id = x.i",
    )
    .bind(&types)
    .bind(&ids)
    .fetch_all(&mut **tx)
    .await?;
    for (entity_type, entity_id) in entities {
        found.set_complete(entity_type, entity_id);
    }
    for row in rows {
        found.add(
            row.try_get("entity_type")?,
            row.try_get("source_entity_id")?,
            row.try_get("source_system")?,
            row.try_get("last_seen_at")?,
            row.try_get("id")?,
        );
    }
    Ok(())
}

/// Closes and inserts the planned relationships.
async fn relate(
    tx: &mut Transaction<'static, Postgres>,
    plan: RelationshipPlan,
    catalog: &CatalogIds,
) -> Result<(), CatalogError> {
    let RelationshipPlan {
        mut close,
        mut insert,
    } = plan;
    // Rows in one order (closed by id, inserted by current-relationship key)
    // so that concurrent batches lock them in the same order.
    close.sort_unstable_by_key(|&(id, _)| id);
    insert.sort_by(|a, b| a.current_key().cmp(&b.current_key()));
    if !close.is_empty() {
        let (ids, ends): (Vec<Uuid>, Vec<DateTime<Utc>>) = close.into_iter().unzip();
        sqlx::query(
            "UPDATE entity_relationships r SET valid_to = x.at \
             FROM unnest($1::uuid[], $2::timestamptz[]) AS x(id, at) WHERE r.id = x.id",
        )
        .bind(&ids)
        .bind(&ends)
        .execute(&mut **tx)
        .await?;
    }
    if insert.is_empty() {
        return Ok(());
    }
    let column = |f: fn(&plan::NewRelationship) -> Option<String>| insert.iter().map(f).collect::<Vec<_>>();
    let ids: Vec<Uuid> = insert.iter().map(|r| r.id).collect();
    let froms: Vec<DateTime<Utc>> = insert.iter().map(|r| r.valid_from).collect();
    let tos: Vec<Option<DateTime<Utc>>> = insert.iter().map(|r| r.valid_to).collect();
    let subjects: Vec<Option<Uuid>> = insert
        .iter()
        .map(|r| catalog.get(&r.subject_type, &r.subject_id, None))
        .collect();
    let objects: Vec<Option<Uuid>> = insert
        .iter()
        .map(|r| catalog.get(&r.object_type, &r.object_id, r.object_source.as_deref()))
        .collect();
    sqlx::query(
        "INSERT INTO entity_relationships (id, subject_catalog_id, subject_entity_type, subject_entity_id, \
         relationship_type, relationship_cardinality, object_catalog_id, object_entity_type, object_entity_id, \
         valid_from, valid_to, subject_display_name, object_display_name, relationship_metadata, \
         created_by_event_id, created_at) \
         SELECT x.id, x.sc, x.st, x.si, x.rt, x.card, x.oc, x.ot, x.oi, x.vf, x.vt, x.sdn, x.odn, x.meta::jsonb, \
           x.ev, $16 \
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::uuid[], \
                     $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], \
                     $14::text[], $15::text[]) \
           AS x(id, sc, st, si, rt, card, oc, ot, oi, vf, vt, sdn, odn, meta, ev) \
         ON CONFLICT (subject_entity_type, subject_entity_id, relationship_type, object_entity_type, \
           object_entity_id) WHERE valid_to IS NULL DO NOTHING",
    )
    .bind(&ids)
    .bind(&subjects)
    .bind(column(|r| Some(r.subject_type.clone())))
    .bind(column(|r| Some(r.subject_id.clone())))
    .bind(column(|r| Some(r.relationship_type.clone())))
    .bind(column(|r| r.cardinality.map(str::to_string)))
    .bind(&objects)
    .bind(column(|r| Some(r.object_type.clone())))
    .bind(column(|r| Some(r.object_id.clone())))
    .bind(&froms)
    .bind(&tos)
    .bind(column(|r| r.subject_display_name.clone()))
    .bind(column(|r| r.object_display_name.clone()))
    .bind(column(|r| r.metadata.clone()))
    .bind(column(|r| Some(r.event_id.clone())))
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The event log columns of a batch, but for the catalog ids.
struct LogRows<'a> {
    ids: Vec<Uuid>,
    event_ids: Vec<&'a str>,
    kinds: Vec<&'static str>,
    types: Vec<&'a str>,
    entity_ids: Vec<&'a str>,
    sources: Vec<Option<&'a str>>,
    fields: Vec<String>,
    payloads: Vec<&'a str>,
    traces: Vec<Option<String>>,
    spans: Vec<Option<String>>,
    ats: Vec<DateTime<Utc>>,
}

impl<'a> LogRows<'a> {
    /// The columns of `events`, with new ids.
    fn new(events: &'a [Event]) -> Result<Self, CatalogError> {
        let n = events.len();
        let mut rows = LogRows {
            ids: Vec::with_capacity(n),
            event_ids: Vec::with_capacity(n),
            kinds: Vec::with_capacity(n),
            types: Vec::with_capacity(n),
            entity_ids: Vec::with_capacity(n),
            sources: Vec::with_capacity(n),
            fields: Vec::with_capacity(n),
            payloads: Vec::with_capacity(n),
            traces: Vec::with_capacity(n),
            spans: Vec::with_capacity(n),
            ats: Vec::with_capacity(n),
        };
        for event in events {
            let (entity_type, entity_id, source) = event.entity();
            let (trace, span) = event.trace();
            rows.ids.push(Uuid::now_v7());
            rows.event_ids.push(event.event_id.as_str());
            rows.kinds.push(event.event_type());
            rows.types.push(entity_type);
            rows.entity_ids.push(entity_id);
            rows.sources.push(source);
            rows.fields.push(
                serde_json::to_string(&event.changed_fields())
                    .map_err(|e| CatalogError::Database(e.to_string()))?,
            );
            rows.payloads.push(event.payload.as_str());
            rows.traces.push(trace);
            rows.spans.push(span);
            rows.ats.push(event.at);
        }
        Ok(rows)
    }
}

/// Inserts the event log rows of the batch, with the catalog ids of their
/// entities.
async fn log(
    tx: &mut Transaction<'static, Postgres>,
    rows: LogRows<'_>,
    catalog: &CatalogIds,
) -> Result<(), CatalogError> {
    let catalog_ids: Vec<Option<Uuid>> = (0..rows.ids.len())
        .map(|i| catalog.get(rows.types[i], rows.entity_ids[i], rows.sources[i]))
        .collect();
    sqlx::query(
        "INSERT INTO event_log (id, event_id, event_type, catalog_id, entity_type, entity_id, source_system, \
         changed_fields, event_payload, trace_id, span_id, event_timestamp, ingested_at) \
         SELECT x.id, x.ev, x.kind, x.c, x.t, x.e, x.s, x.cf::jsonb, x.p::jsonb, x.tr, x.sp, x.at, $13 \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[], $7::text[], \
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[]) \
           AS x(id, ev, kind, c, t, e, s, cf, p, tr, sp, at)",
    )
    .bind(&rows.ids)
    .bind(&rows.event_ids)
    .bind(&rows.kinds)
    .bind(&catalog_ids)
    .bind(&rows.types)
    .bind(&rows.entity_ids)
    .bind(&rows.sources)
    .bind(&rows.fields)
    .bind(&rows.payloads)
    .bind(&rows.traces)
    .bind(&rows.spans)
    .bind(&rows.ats)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
