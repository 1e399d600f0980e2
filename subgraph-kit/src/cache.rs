//! Entity caching: L1 in process (moka, TTL from the source's freshness SLA) in
//! front of an optional shared L2 in Redis.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::Value;

use crate::config::CacheConfig;

/// Which layer served a cached entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheLayer {
    /// In-process memory.
    L1,
    /// Redis.
    L2,
}

impl CacheLayer {
    /// The layer's metric label.
    pub fn label(self) -> &'static str {
        match self {
            CacheLayer::L1 => "l1",
            CacheLayer::L2 => "l2",
        }
    }
}

/// The cache of one entity type.
pub struct EntityCache {
    l1: moka::future::Cache<String, Arc<Value>>,
    #[cfg(feature = "redis")]
    l2: Option<(RedisStore, Duration)>,
    l1_ttl: Duration,
}

impl EntityCache {
    /// A cache for one entity type. `freshness` is the source's SLA, the default
    /// TTL of both layers.
    pub fn new(config: &CacheConfig, freshness: Duration) -> Self {
        let l1_ttl = config.l1_ttl.unwrap_or(freshness).max(Duration::from_millis(1));
        let l1 = moka::future::Cache::builder()
            .max_capacity(config.l1_capacity)
            .time_to_live(l1_ttl)
            .build();
        EntityCache {
            l1,
            #[cfg(feature = "redis")]
            l2: None,
            l1_ttl,
        }
    }

    /// Adds a Redis L2 layer with the configured TTL (the L1 TTL by default).
    #[cfg(feature = "redis")]
    pub fn with_l2(mut self, store: RedisStore, ttl: Option<Duration>) -> Self {
        self.l2 = Some((store, ttl.unwrap_or(self.l1_ttl)));
        self
    }

    /// Looks keys up, L1 first, then L2 for the rest (L2 hits are copied to L1).
    pub async fn get_many(&self, keys: &[String]) -> Vec<Option<(Arc<Value>, CacheLayer)>> {
        let mut found = Vec::with_capacity(keys.len());
        for key in keys {
            found.push(self.l1.get(key).await.map(|v| (v, CacheLayer::L1)));
        }
        #[cfg(feature = "redis")]
        if let Some((store, _)) = &self.l2 {
            let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
            if !missing.is_empty() {
                let wanted: Vec<&str> = missing.iter().map(|&i| keys[i].as_str()).collect();
                for (slot, value) in missing.into_iter().zip(store.get_many(&wanted).await) {
                    if let Some(value) = value {
                        let value = Arc::new(value);
                        self.l1.insert(keys[slot].clone(), value.clone()).await;
                        found[slot] = Some((value, CacheLayer::L2));
                    }
                }
            }
        }
        found
    }

    /// Stores freshly fetched entities in both layers.
    pub async fn put_many(&self, entries: &[(String, Arc<Value>)]) {
        for (key, value) in entries {
            self.l1.insert(key.clone(), value.clone()).await;
        }
        #[cfg(feature = "redis")]
        if let Some((store, ttl)) = &self.l2 {
            store.put_many(entries, *ttl).await;
        }
    }

    /// Drops entities from both layers.
    pub async fn invalidate(&self, keys: &[String]) {
        for key in keys {
            self.l1.invalidate(key).await;
        }
        #[cfg(feature = "redis")]
        if let Some((store, _)) = &self.l2 {
            store.delete_many(keys).await;
        }
    }

    /// The value cached in L1 under a key, without touching L2.
    pub async fn peek_l1(&self, key: &str) -> Option<Arc<Value>> {
        self.l1.get(key).await
    }
}

/// A shared Redis connection for L2 caches. Redis failures never fail a
/// request: they are logged and count as misses.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisStore {
    connection: redis::aio::ConnectionManager,
    prefix: Arc<str>,
}

#[cfg(feature = "redis")]
impl RedisStore {
    /// Connects to `redis://...`; keys get the prefix `dictamesh:entity:`.
    pub async fn connect(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let connection = redis::aio::ConnectionManager::new(client).await?;
        Ok(RedisStore {
            connection,
            prefix: "dictamesh:entity:".into(),
        })
    }

    /// The same connection with another key prefix (isolates tests and tenants).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    async fn get_many(&self, keys: &[&str]) -> Vec<Option<Value>> {
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let mut connection = self.connection.clone();
        let raw: Result<Vec<Option<Vec<u8>>>, _> =
            redis::cmd("MGET").arg(&full).query_async(&mut connection).await;
        match raw {
            Ok(values) => values
                .into_iter()
                .map(|v| v.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
                .collect(),
            Err(error) => {
                tracing::warn!(%error, "L2 cache read failed; treating as misses");
                vec![None; keys.len()]
            }
        }
    }

    async fn put_many(&self, entries: &[(String, Arc<Value>)], ttl: Duration) {
        if entries.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for (key, value) in entries {
            if let Ok(bytes) = serde_json::to_vec(value.as_ref()) {
                pipe.cmd("SET")
                    .arg(self.key(key))
                    .arg(bytes)
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64)
                    .ignore();
            }
        }
        let mut connection = self.connection.clone();
        if let Err(error) = pipe.query_async::<()>(&mut connection).await {
            tracing::warn!(%error, "L2 cache write failed");
        }
    }

    async fn delete_many(&self, keys: &[String]) {
        if keys.is_empty() {
            return;
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let mut connection = self.connection.clone();
        if let Err(error) = redis::cmd("DEL")
            .arg(&full)
            .query_async::<()>(&mut connection)
            .await
        {
            tracing::warn!(%error, "L2 cache invalidation failed");
        }
    }
}
