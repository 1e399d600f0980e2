//! The embedded event bus: a durable log in SQLite with Kafka's semantics
//! (topics, keyed messages, one ordered partition per topic, consumer groups
//! with committed offsets), so `dictamesh dev` shows events without a broker
//! and nothing is lost across restarts.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::{Notify, mpsc, oneshot};

use super::bus::{BusError, Delivery, EventSource, RawPublisher, next_offsets};
use super::codec::Encoder;
use super::feed::{ChangeFeed, Cursor, topic_matches};
use super::{ChangePublisher, EntityChangeEvent, PublishError};

const SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS bus_messages (
        topic TEXT NOT NULL,
        offset INTEGER NOT NULL,
        key BLOB,
        payload BLOB NOT NULL,
        headers TEXT NOT NULL,
        appended_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
        PRIMARY KEY (topic, offset)
    )",
    "CREATE TABLE IF NOT EXISTS bus_offsets (
        group_id TEXT NOT NULL,
        topic TEXT NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (group_id, topic)
    )",
];

fn bus_error(context: &str, error: impl std::fmt::Display) -> BusError {
    BusError(format!("{context}: {error}"))
}

/// Appends waiting for the writer, at most; senders wait while it is full.
const APPEND_QUEUE: usize = 4096;

/// Appends committed in one transaction, at most.
const GROUP_COMMIT: usize = 1000;

/// A message waiting to be appended, and the sender waiting for the outcome.
struct Append {
    topic: String,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    /// The headers as stored: a JSON list of `[name, value]` pairs.
    headers: String,
    done: oneshot::Sender<Result<(), BusError>>,
}

/// Appends queued messages until every handle of the bus is gone. Whatever is
/// queued when the writer wakes goes into one transaction, so concurrent
/// publishers share one commit (one sync to disk) instead of one each.
async fn write_appends(pool: SqlitePool, mut queue: mpsc::Receiver<Append>, appended: Arc<Notify>) {
    let mut batch = Vec::with_capacity(GROUP_COMMIT);
    while queue.recv_many(&mut batch, GROUP_COMMIT).await > 0 {
        let outcomes = append_all(&pool, &batch).await;
        if outcomes.iter().any(Result::is_ok) {
            appended.notify_waiters();
        }
        for (append, outcome) in batch.drain(..).zip(outcomes) {
            let _ = append.done.send(outcome);
        }
    }
}

/// Appends messages in one transaction and returns the outcome of each: a
/// message the log refuses fails alone, a failed commit fails them all.
async fn append_all(pool: &SqlitePool, batch: &[Append]) -> Vec<Result<(), BusError>> {
    let mut transaction = match pool.begin().await {
        Ok(transaction) => transaction,
        Err(error) => return vec![Err(bus_error("begin", error)); batch.len()],
    };
    let mut outcomes = Vec::with_capacity(batch.len());
    for append in batch {
        outcomes.push(LogBus::append(&mut transaction, append).await);
    }
    match transaction.commit().await {
        Ok(()) => outcomes,
        Err(error) => vec![Err(bus_error("commit", error)); batch.len()],
    }
}

/// Runs `read`; when it finds nothing, waits up to `wait` for an append (in
/// this process; appends by other processes are seen at the next read) and
/// runs it again.
async fn read_or_wait<F, Fut>(appended: &Notify, wait: Duration, read: F) -> Result<Vec<Delivery>, BusError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Vec<Delivery>, BusError>>,
{
    let notified = appended.notified();
    tokio::pin!(notified);
    notified.as_mut().enable();
    let found = read().await?;
    if !found.is_empty() {
        return Ok(found);
    }
    let _ = tokio::time::timeout(wait, notified).await;
    read().await
}

/// The log: publishers append, sources read per consumer group.
#[derive(Clone)]
pub struct LogBus {
    pool: SqlitePool,
    appended: Arc<Notify>,
    encoder: Encoder,
    appends: mpsc::Sender<Append>,
}

impl LogBus {
    /// Opens (creating when missing) the log in an SQLite file.
    pub async fn open(path: &std::path::Path) -> Result<Self, BusError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| bus_error(&format!("event log {}", path.display()), e))?;
        for statement in SCHEMA {
            sqlx::query(statement)
                .execute(&pool)
                .await
                .map_err(|e| bus_error("event log schema", e))?;
        }
        let appended = Arc::new(Notify::new());
        let (appends, queue) = mpsc::channel(APPEND_QUEUE);
        tokio::spawn(write_appends(pool.clone(), queue, appended.clone()));
        Ok(LogBus {
            pool,
            appended,
            encoder: Encoder::json(),
            appends,
        })
    }

    /// A consumer-group member reading `topics` from its committed offsets; a
    /// topic starting with `*` is a pattern matching every topic with that
    /// suffix (`*.entity_changed`), including topics created later.
    pub fn source(&self, group: &str, topics: &[&str]) -> LogSource {
        LogSource {
            bus: self.clone(),
            group: group.to_string(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
        }
    }

    async fn append(transaction: &mut Transaction<'_, Sqlite>, append: &Append) -> Result<(), BusError> {
        let topic = &append.topic;
        sqlx::query(
            "INSERT INTO bus_messages (topic, offset, key, payload, headers)
             SELECT ?1, COALESCE(MAX(offset) + 1, 0), ?2, ?3, ?4 FROM bus_messages WHERE topic = ?1",
        )
        .bind(topic)
        .bind(&append.key)
        .bind(&append.payload)
        .bind(&append.headers)
        .execute(&mut **transaction)
        .await
        .map_err(|e| bus_error(&format!("append to {topic}"), e))?;
        Ok(())
    }

    /// The topics a subscription names: itself, or every existing topic a
    /// `*suffix` pattern matches.
    async fn matching_topics(&self, pattern: &str) -> Result<Vec<String>, BusError> {
        let Some(suffix) = pattern.strip_prefix('*') else {
            return Ok(vec![pattern.to_string()]);
        };
        let rows = sqlx::query("SELECT DISTINCT topic FROM bus_messages WHERE topic LIKE ?1 ORDER BY topic")
            .bind(format!("%{suffix}"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| bus_error("list topics", e))?;
        let mut topics = Vec::with_capacity(rows.len());
        for row in rows {
            let topic: String = row.try_get("topic").map_err(|e| bus_error("topic", e))?;
            // LIKE treats `_` as a wildcard: keep exact suffix matches only.
            if topic_matches(pattern, &topic) {
                topics.push(topic);
            }
        }
        Ok(topics)
    }

    /// Up to `max` messages of a topic from offset `from` on.
    async fn read_topic(&self, topic: &str, from: i64, max: usize) -> Result<Vec<Delivery>, BusError> {
        let rows = sqlx::query(
            "SELECT offset, key, payload, headers FROM bus_messages
             WHERE topic = ?1 AND offset >= ?2 ORDER BY offset LIMIT ?3",
        )
        .bind(topic)
        .bind(from)
        .bind(max as i64)
        .fetch_all(&self.pool)
        .await
        .map_err(|e| bus_error(&format!("read {topic}"), e))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let headers: String = row.try_get("headers").map_err(|e| bus_error("headers", e))?;
            let headers: Vec<(String, String)> =
                serde_json::from_str(&headers).map_err(|e| bus_error("headers", e))?;
            out.push(Delivery {
                topic: topic.to_string(),
                partition: 0,
                offset: row.try_get("offset").map_err(|e| bus_error("offset", e))?,
                key: row.try_get("key").map_err(|e| bus_error("key", e))?,
                payload: row.try_get("payload").map_err(|e| bus_error("payload", e))?,
                headers: headers.into_iter().map(|(n, v)| (n, v.into_bytes())).collect(),
            });
        }
        Ok(out)
    }

    /// Messages of the topics matching `pattern` from `from` on.
    async fn read_from(&self, pattern: &str, from: &Cursor, max: usize) -> Result<Vec<Delivery>, BusError> {
        let mut out = Vec::new();
        for topic in self.matching_topics(pattern).await? {
            if out.len() >= max {
                break;
            }
            let found = self
                .read_topic(&topic, from.next_offset(&topic, 0), max - out.len())
                .await?;
            out.extend(found);
        }
        Ok(out)
    }
}

#[async_trait]
impl ChangeFeed for LogBus {
    async fn end(&self, pattern: &str) -> Result<Cursor, BusError> {
        let mut cursor = Cursor::default();
        for topic in self.matching_topics(pattern).await? {
            let next: i64 =
                sqlx::query_scalar("SELECT COALESCE(MAX(offset) + 1, 0) FROM bus_messages WHERE topic = ?1")
                    .bind(&topic)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(|e| bus_error(&format!("end of {topic}"), e))?;
            cursor.set(&topic, 0, next);
        }
        Ok(cursor)
    }

    async fn read(
        &self,
        pattern: &str,
        from: &Cursor,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError> {
        read_or_wait(&self.appended, wait, || self.read_from(pattern, from, max)).await
    }
}

#[async_trait]
impl RawPublisher for LogBus {
    async fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &[(String, Vec<u8>)],
    ) -> Result<(), BusError> {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect();
        let (done, outcome) = oneshot::channel();
        let append = Append {
            topic: topic.to_string(),
            key: key.map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            headers: serde_json::to_string(&headers).map_err(|e| bus_error("headers", e))?,
            done,
        };
        let closed = || BusError("event log: the writer has stopped".into());
        self.appends.send(append).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }
}

#[async_trait]
impl ChangePublisher for LogBus {
    async fn publish(&self, event: &EntityChangeEvent) -> Result<(), PublishError> {
        let failed = |reason: String| PublishError {
            event_id: event.event_id.clone(),
            reason,
        };
        let (payload, content_type) = self
            .encoder
            .encode(event)
            .await
            .map_err(|e| failed(e.to_string()))?;
        let headers = vec![
            ("content-type".to_string(), content_type.as_bytes().to_vec()),
            ("event_id".to_string(), event.event_id.clone().into_bytes()),
        ];
        self.send(
            &event.topic(),
            Some(event.entity.id.as_bytes()),
            &payload,
            &headers,
        )
        .await
        .map_err(|e| failed(e.to_string()))
    }

    /// Queues every event before waiting, so they share one transaction.
    async fn publish_all(&self, events: &[EntityChangeEvent]) -> Vec<Result<(), PublishError>> {
        futures::future::join_all(events.iter().map(|event| self.publish(event))).await
    }
}

/// A consumer-group member of the log.
pub struct LogSource {
    bus: LogBus,
    group: String,
    topics: Vec<String>,
}

impl LogSource {
    /// The subscribed topics, with patterns expanded to the topics that exist now.
    async fn topics(&self) -> Result<Vec<String>, BusError> {
        let mut topics = Vec::new();
        for topic in &self.topics {
            topics.extend(self.bus.matching_topics(topic).await?);
        }
        topics.sort();
        topics.dedup();
        Ok(topics)
    }

    async fn read(&self, max: usize) -> Result<Vec<Delivery>, BusError> {
        let mut out = Vec::new();
        for topic in &self.topics().await? {
            if out.len() >= max {
                break;
            }
            let from: i64 = sqlx::query_scalar(
                "SELECT COALESCE((SELECT next_offset FROM bus_offsets WHERE group_id = ?1 AND topic = ?2), 0)",
            )
            .bind(&self.group)
            .bind(topic)
            .fetch_one(&self.bus.pool)
            .await
            .map_err(|e| bus_error("committed offset", e))?;
            out.extend(self.bus.read_topic(topic, from, max - out.len()).await?);
        }
        Ok(out)
    }
}

#[async_trait]
impl EventSource for LogSource {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let appended = self.bus.appended.clone();
        read_or_wait(&appended, wait, || self.read(max)).await
    }

    async fn commit(&mut self, processed: &[Delivery]) -> Result<(), BusError> {
        let mut transaction = self.bus.pool.begin().await.map_err(|e| bus_error("begin", e))?;
        for ((topic, _), offset) in next_offsets(processed) {
            sqlx::query(
                "INSERT INTO bus_offsets (group_id, topic, next_offset) VALUES (?1, ?2, ?3)
                 ON CONFLICT (group_id, topic) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
            )
            .bind(&self.group)
            .bind(topic)
            .bind(offset)
            .execute(&mut *transaction)
            .await
            .map_err(|e| bus_error("commit offsets", e))?;
        }
        transaction.commit().await.map_err(|e| bus_error("commit", e))
    }

    async fn lag(&mut self) -> Result<Vec<(String, i32, i64)>, BusError> {
        let mut lag = Vec::new();
        for topic in &self.topics().await? {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(offset) + 1, 0) - COALESCE(
                     (SELECT next_offset FROM bus_offsets WHERE group_id = ?2 AND topic = ?1), 0) AS lag
                 FROM bus_messages WHERE topic = ?1",
            )
            .bind(topic)
            .bind(&self.group)
            .fetch_one(&self.bus.pool)
            .await
            .map_err(|e| bus_error("lag", e))?;
            let behind: i64 = row.try_get("lag").map_err(|e| bus_error("lag", e))?;
            lag.push((topic.clone(), 0, behind.max(0)));
        }
        Ok(lag)
    }
}
