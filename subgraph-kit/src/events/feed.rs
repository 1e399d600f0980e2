//! Positioned reads of the event log, for subscribers that are not consumer
//! groups: a router streaming `entityChanged` to clients reads from a
//! [`Cursor`] (the next offset per topic and partition) and hands each client
//! the cursor after every event, so a client that reconnects with it resumes
//! exactly where it stopped.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::bus::{BusError, Delivery};
use super::codec::Decoder;

/// A position in the log: the next offset to read, per topic and partition.
/// Topics and partitions it does not name are read from their beginning (they
/// did not exist when the position was taken).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    next: BTreeMap<String, BTreeMap<i32, i64>>,
}

impl Cursor {
    /// The next offset to read in a partition.
    pub fn next_offset(&self, topic: &str, partition: i32) -> i64 {
        self.next
            .get(topic)
            .and_then(|partitions| partitions.get(&partition))
            .copied()
            .unwrap_or(0)
    }

    /// Sets the next offset to read in a partition.
    pub fn set(&mut self, topic: &str, partition: i32, next_offset: i64) {
        self.next
            .entry(topic.to_string())
            .or_default()
            .insert(partition, next_offset);
    }

    /// Moves past a delivered message.
    pub fn advance(&mut self, delivery: &Delivery) {
        let next = self.next_offset(&delivery.topic, delivery.partition);
        self.set(&delivery.topic, delivery.partition, next.max(delivery.offset + 1));
    }

    /// The positions, per topic and partition.
    pub fn positions(&self) -> impl Iterator<Item = (&str, i32, i64)> {
        self.next.iter().flat_map(|(topic, partitions)| {
            partitions
                .iter()
                .map(move |(partition, offset)| (topic.as_str(), *partition, *offset))
        })
    }

    /// The cursor as an opaque, URL-safe token.
    pub fn encode(&self) -> String {
        let positions: Vec<(&str, i32, i64)> = self.positions().collect();
        let json = serde_json::to_vec(&positions).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a token made by [`Cursor::encode`].
    pub fn decode(token: &str) -> Result<Cursor, InvalidCursor> {
        let json = URL_SAFE_NO_PAD
            .decode(token.trim())
            .map_err(|e| InvalidCursor(format!("not base64url: {e}")))?;
        let positions: Vec<(String, i32, i64)> =
            serde_json::from_slice(&json).map_err(|e| InvalidCursor(format!("not a cursor: {e}")))?;
        let mut cursor = Cursor::default();
        for (topic, partition, offset) in positions {
            if offset < 0 || partition < 0 {
                return Err(InvalidCursor(format!(
                    "negative position {offset} in {topic}[{partition}]"
                )));
            }
            cursor.set(&topic, partition, offset);
        }
        Ok(cursor)
    }
}

/// A token that is not a cursor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid cursor: {0}")]
pub struct InvalidCursor(pub String);

/// Whether a topic matches a subscription pattern: a pattern starting with `*`
/// matches every topic with that suffix (`*.entity_changed`), anything else
/// only itself.
pub fn topic_matches(pattern: &str, topic: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => topic.ends_with(suffix),
        None => topic == pattern,
    }
}

/// The log read by position.
#[async_trait]
pub trait ChangeFeed: Send + Sync + 'static {
    /// Where the topics matching `pattern` end now: a subscriber starting
    /// there sees only messages appended later.
    async fn end(&self, pattern: &str) -> Result<Cursor, BusError>;

    /// Up to `max` messages of the topics matching `pattern` from `from` on,
    /// in offset order per partition, waiting up to `wait` for the first.
    async fn read(
        &self,
        pattern: &str,
        from: &Cursor,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<Delivery>, BusError>;

    /// How this log's messages decode (JSON unless the log carries Avro).
    fn decoder(&self) -> Decoder {
        Decoder::json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_survives_its_token_and_bad_tokens_are_refused() {
        let mut cursor = Cursor::default();
        cursor.set("customers.crm.entity_changed", 0, 42);
        cursor.set("products.files.entity_changed", 3, 7);
        let token = cursor.encode();
        assert_eq!(Cursor::decode(&token), Ok(cursor.clone()));
        assert_eq!(cursor.next_offset("customers.crm.entity_changed", 0), 42);
        assert_eq!(cursor.next_offset("new.topic.entity_changed", 0), 0);
        assert!(Cursor::decode("not a cursor!").is_err());
        let negative = URL_SAFE_NO_PAD.encode(br#"[["t",0,-1]]"#);
        assert!(Cursor::decode(&negative).unwrap_err().0.contains("negative"));
    }

    #[test]
    fn patterns_match_by_suffix() {
        assert!(topic_matches("*.entity_changed", "customers.crm.entity_changed"));
        assert!(!topic_matches(
            "*.entity_changed",
            "customers.crm.entity_changed.dlq"
        ));
        assert!(topic_matches("a.b", "a.b"));
        assert!(!topic_matches("a.b", "a.bc"));
    }
}
