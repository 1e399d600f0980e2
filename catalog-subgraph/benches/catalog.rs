//! Catalog benchmark on PostgreSQL: `relationshipGraph` at depth 3 over one
//! million relationships, and event ingest throughput. Prints figures; never
//! fails on a time.
//!
//! `cargo bench -p dictamesh-catalog --bench catalog` (uses
//! `CATALOG_BENCH_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/test`,
//! to create and drop a database of its own; `CATALOG_BENCH_SKIP_GRAPH=1` runs the
//! ingest part alone; `CATALOG_BENCH_WRITERS=n` writes each ingest batch in up to
//! `n` concurrent transactions instead of the default).

use std::time::{Duration, Instant};

use dictamesh_catalog::ingest::{IngestMessage, Ingestor};
use dictamesh_catalog::relationships::relationship_graph;
use dictamesh_catalog::{Catalog, Database};
use serde_json::json;

/// The allocator of the `dictamesh` binary that serves the catalog.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: i64 = 50_000;
const INVOICES_PER_CUSTOMER: i64 = 10;
const PRODUCTS: i64 = 10_000;
const SUPPLIERS: i64 = 1_000;
const QUERIES: usize = 2_000;
const BATCHES: usize = 100;
const BATCH_SIZE: usize = 1_000;

/// A small deterministic generator (xorshift), so runs are comparable.
struct Random(u64);

impl Random {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name}: n={} mean={:.2}ms p50={:.2}ms p95={:.2}ms p99={:.2}ms max={:.2}ms",
        samples.len(),
        mean.as_secs_f64() * 1e3,
        percentile(&samples, 0.50).as_secs_f64() * 1e3,
        percentile(&samples, 0.95).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    );
}

async fn exec(pool: &sqlx::PgPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// One million relationships (plus suppliers): customers → 10 invoices each
/// (every tenth of them already closed), invoices → a product, products → a
/// supplier. A depth-3 traversal from a customer reaches about 30 of them.
async fn load_graph(pool: &sqlx::PgPool) {
    let started = Instant::now();
    exec(
        pool,
        &format!(
            "INSERT INTO entity_relationships (id, subject_entity_type, subject_entity_id, relationship_type, \
             object_entity_type, object_entity_id, valid_from, valid_to, created_at) \
             SELECT gen_random_uuid(), 'Customer', 'c' || (n / {INVOICES_PER_CUSTOMER}), 'has_invoice', 'Invoice', \
               'i' || n, now() - interval '30 days', \
               CASE WHEN n % 10 = 9 THEN now() - interval '1 day' END, now() \
             FROM generate_series(0, {} - 1) AS n",
            CUSTOMERS * INVOICES_PER_CUSTOMER
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "INSERT INTO entity_relationships (id, subject_entity_type, subject_entity_id, relationship_type, \
             object_entity_type, object_entity_id, valid_from, created_at) \
             SELECT gen_random_uuid(), 'Invoice', 'i' || n, 'contains', 'Product', 'p' || ((n::bigint * 7919) % {PRODUCTS}), \
               now() - interval '30 days', now() \
             FROM generate_series(0, {} - 1) AS n",
            CUSTOMERS * INVOICES_PER_CUSTOMER
        ),
    )
    .await;
    exec(
        pool,
        &format!(
            "INSERT INTO entity_relationships (id, subject_entity_type, subject_entity_id, relationship_type, \
             object_entity_type, object_entity_id, valid_from, created_at) \
             SELECT gen_random_uuid(), 'Product', 'p' || n, 'made_by', 'Supplier', 's' || (n % {SUPPLIERS}), \
               now() - interval '30 days', now() \
             FROM generate_series(0, {PRODUCTS} - 1) AS n"
        ),
    )
    .await;
    exec(pool, "ANALYZE entity_relationships").await;
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entity_relationships")
        .fetch_one(pool)
        .await
        .unwrap();
    println!(
        "loaded {count} relationships in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

async fn bench_graph(db: &Database, catalog: &Catalog) {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut edges = 0;
    for _ in 0..100 {
        let id = format!("c{}", random.below(CUSTOMERS));
        relationship_graph(db, "Customer", &id, 3, None).await.unwrap();
    }
    let mut samples = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let id = format!("c{}", random.below(CUSTOMERS));
        let started = Instant::now();
        let graph = relationship_graph(db, "Customer", &id, 3, None).await.unwrap();
        samples.push(started.elapsed());
        edges += graph.edges.len();
    }
    println!(
        "relationshipGraph depth 3: {:.1} edges per start entity on average",
        edges as f64 / QUERIES as f64
    );
    report("relationshipGraph depth 3 (store)", samples);

    let mut samples = Vec::with_capacity(QUERIES);
    for _ in 0..QUERIES {
        let id = format!("c{}", random.below(CUSTOMERS));
        let query = format!(
            r#"{{ relationshipGraph(entityType: "Customer", entityId: "{id}", maxDepth: 3) {{
                 edges {{ depth relationship {{ id relationshipType objectEntityType objectEntityId validFrom }} }} }} }}"#
        );
        let started = Instant::now();
        let response = catalog.subgraph().execute(query).await;
        samples.push(started.elapsed());
        assert!(response.errors.is_empty(), "{:?}", response.errors);
    }
    report("relationshipGraph depth 3 (GraphQL execute)", samples);

    let mut samples = Vec::with_capacity(200);
    for _ in 0..200 {
        let id = format!("c{}", random.below(CUSTOMERS));
        let as_of = chrono::Utc::now() - chrono::Duration::days(2);
        let started = Instant::now();
        relationship_graph(db, "Customer", &id, 3, Some(as_of))
            .await
            .unwrap();
        samples.push(started.elapsed());
    }
    report("relationshipGraph depth 3 asOf 2 days ago (store)", samples);
}

fn event(n: usize, random: &mut Random, base_millis: i64) -> IngestMessage {
    let customer = random.below(20_000);
    let invoices: Vec<_> = (0..2)
        .map(|k| {
            json!({"type": "Invoice", "entity_id": format!("bench-i{}", customer * 2 + k), "source_system": "billing",
                   "relationship_kind": "has_invoice", "display_name": null})
        })
        .collect();
    IngestMessage {
        topic: "customers.crm.entity_changed".into(),
        payload: json!({
            "event_id": format!("bench-{n}"), "event_type": "UPDATED", "timestamp": base_millis + n as i64,
            "source_system": "crm", "domain": "customers",
            "entity": {"type": "Customer", "id": format!("bench-c{customer}"), "version": n, "url": "http://crm/graphql", "etag": null},
            "changed_fields": ["name", "email"], "relationships": invoices, "metadata": {"region": "eu"},
            "trace_context": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "span_id": "00f067aa0ba902b7", "parent_span_id": null}
        }),
    }
}

async fn bench_ingest(db: &Database) {
    let mut ingestor = Ingestor::new(db.clone());
    if let Some(writers) = std::env::var("CATALOG_BENCH_WRITERS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        ingestor = ingestor.with_writers(writers, dictamesh_catalog::ingest::DEFAULT_MIN_PART_EVENTS);
        println!("ingest: up to {writers} concurrent transactions per batch");
    }
    let mut random = Random(42);
    let base = chrono::Utc::now().timestamp_millis() - 3_600_000;
    let batches: Vec<Vec<IngestMessage>> = (0..BATCHES)
        .map(|b| {
            (0..BATCH_SIZE)
                .map(|i| event(b * BATCH_SIZE + i, &mut random, base))
                .collect()
        })
        .collect();
    let mut samples = Vec::with_capacity(BATCHES);
    let cpu_before = machine_cpu();
    let started = Instant::now();
    let mut ingested = 0;
    for batch in &batches {
        let t = Instant::now();
        ingested += ingestor.ingest(batch).await.unwrap().ingested;
        samples.push(t.elapsed());
    }
    let elapsed = started.elapsed();
    println!(
        "ingest: {ingested} events (2 relationships each, 20,000 entities) in {BATCHES} batches of {BATCH_SIZE}: \
         {:.0} events/s",
        ingested as f64 / elapsed.as_secs_f64()
    );
    if let (Some((busy0, total0)), Some((busy1, total1))) = (cpu_before, machine_cpu()) {
        let busy = (busy1 - busy0) as f64;
        println!(
            "ingest: the machine's CPUs were {:.0}% busy ({:.1} ms of CPU per 1000 events, this process and \
             PostgreSQL together)",
            100.0 * busy / (total1 - total0) as f64,
            busy * 10.0 / (ingested as f64 / 1000.0),
        );
    }
    report("ingest batch of 1000", samples);
    let replay = Instant::now();
    let duplicates = ingestor.ingest(&batches[0]).await.unwrap().duplicates;
    println!(
        "ingest replay of a batch: {duplicates} duplicates dropped in {:.1}ms",
        replay.elapsed().as_secs_f64() * 1e3
    );
}

/// Busy and total time of all the machine's CPUs so far, in clock ticks
/// (Linux's `/proc/stat`, where a tick is 10 ms); `None` elsewhere.
fn machine_cpu() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let ticks: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|n| n.parse().ok())
        .collect();
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4)?;
    Some((total - idle, total))
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let admin_url = std::env::var("CATALOG_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let name = format!("catalog_bench_{}", uuid::Uuid::new_v4().simple());
    let Database::Postgres(admin) = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL for the benchmark")
    else {
        panic!("CATALOG_BENCH_POSTGRES_URL must be a PostgreSQL URL");
    };
    exec(&admin, &format!("CREATE DATABASE {name}")).await;
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url.as_str(), |(base, _)| base);
    let db = Database::connect(&format!("{base}/{name}")).await.unwrap();
    db.migrate().await.unwrap();
    let Database::Postgres(pool) = &db else {
        unreachable!()
    };
    if std::env::var("CATALOG_BENCH_SKIP_GRAPH").is_err() {
        load_graph(pool).await;
    }
    let catalog = Catalog::start(db.clone(), "http://127.0.0.1:0/graphql")
        .await
        .unwrap();
    if std::env::var("CATALOG_BENCH_SKIP_GRAPH").is_err() {
        bench_graph(&db, &catalog).await;
    }
    bench_ingest(&db).await;
    db.close().await;
    exec(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
}
