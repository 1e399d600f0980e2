//! Per-entity configuration: caching and resilience. The router reads the same
//! structures from its YAML for subgraph calls, so one schema configures both.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the kit treats calls to one entity's source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EntityOptions {
    /// L1/L2 caching.
    pub cache: CacheConfig,
    /// Timeout, retry, circuit breaker and rate limit.
    pub resilience: ResilienceConfig,
    /// Split batches larger than this into several source calls (none: one call).
    pub max_batch_size: Option<usize>,
}

/// Entity caching.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Whether entities are cached at all.
    pub enabled: bool,
    /// L1 (in-process) time to live; by default the source's freshness SLA.
    #[serde(with = "optional_duration")]
    pub l1_ttl: Option<Duration>,
    /// L1 capacity in entities.
    pub l1_capacity: u64,
    /// L2 (Redis) time to live; by default the L1 TTL.
    #[serde(with = "optional_duration")]
    pub l2_ttl: Option<Duration>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            enabled: true,
            l1_ttl: None,
            l1_capacity: 10_000,
            l2_ttl: None,
        }
    }
}

/// Resilience around every source (or subgraph) call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResilienceConfig {
    /// Deadline of one attempt.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// Retries of retryable failures.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub circuit_breaker: BreakerConfig,
    /// A token-bucket limit on calls to the source; none by default.
    pub rate_limit: Option<RateLimitConfig>,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        ResilienceConfig {
            timeout: Duration::from_secs(2),
            retry: RetryPolicy::default(),
            circuit_breaker: BreakerConfig::default(),
            rate_limit: None,
        }
    }
}

/// Exponential backoff with jitter, for retryable errors only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, including the first (1 disables retries).
    pub max_attempts: u32,
    /// Wait before the second attempt.
    #[serde(with = "duration")]
    pub initial_backoff: Duration,
    /// Upper bound of any wait.
    #[serde(with = "duration")]
    pub max_backoff: Duration,
    /// Growth factor of the wait per attempt.
    pub multiplier: f64,
    /// Randomize each wait within [wait/2, wait] so replicas do not retry in step.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(2),
            multiplier: 2.0,
            jitter: true,
        }
    }
}

/// How the breaker's sliding window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowKind {
    /// The last `window_size` calls.
    CountBased,
    /// The calls of the last `window_duration`.
    TimeBased,
}

/// A circuit breaker with resilience4j semantics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Whether the breaker is active.
    pub enabled: bool,
    /// Open when this share of the window's calls failed (0.0–1.0).
    pub failure_rate_threshold: f64,
    /// How the window counts.
    pub window: WindowKind,
    /// Calls in a count-based window.
    pub window_size: usize,
    /// Length of a time-based window.
    #[serde(with = "duration")]
    pub window_duration: Duration,
    /// No decision before this many calls are in the window.
    pub minimum_calls: usize,
    /// How long the breaker stays open before probing.
    #[serde(with = "duration")]
    pub wait_in_open: Duration,
    /// Probe calls let through while half-open.
    pub permitted_calls_in_half_open: usize,
    /// Calls slower than this count as slow; none disables slow-call detection.
    #[serde(with = "optional_duration")]
    pub slow_call_threshold: Option<Duration>,
    /// Open when this share of calls is slow (0.0–1.0).
    pub slow_call_rate_threshold: f64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            enabled: true,
            failure_rate_threshold: 0.5,
            window: WindowKind::CountBased,
            window_size: 20,
            window_duration: Duration::from_secs(10),
            minimum_calls: 10,
            wait_in_open: Duration::from_secs(5),
            permitted_calls_in_half_open: 2,
            slow_call_threshold: None,
            slow_call_rate_threshold: 1.0,
        }
    }
}

/// A token bucket: `per_second` tokens refill each second, up to `burst`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained calls per second.
    pub per_second: u32,
    /// Calls allowed at once after a quiet period.
    pub burst: u32,
}

/// Parses `150ms`, `2s`, `5m`, `1h` or a bare number of milliseconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 150ms, 2s, 5m)"))?;
    let seconds = match unit.trim() {
        "" | "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (use ms, s, m or h)"
            ));
        }
    };
    Ok(Duration::from_secs_f64(seconds))
}

/// Serde for durations: `"2s"`, `"150ms"` or a number of milliseconds.
pub mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    pub(super) enum Raw {
        Millis(u64),
        Text(String),
    }

    impl Raw {
        pub(super) fn into_duration<E: serde::de::Error>(self) -> Result<Duration, E> {
            match self {
                Raw::Millis(ms) => Ok(Duration::from_millis(ms)),
                Raw::Text(text) => super::parse_duration(&text).map_err(E::custom),
            }
        }
    }

    /// Writes a duration as whole milliseconds with its unit (`"150ms"`).
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}ms", value.as_millis()))
    }

    /// Reads `"2s"`, `"150ms"` or a number of milliseconds.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        Raw::deserialize(deserializer)?.into_duration()
    }
}

/// Serde for optional durations, in the format of [`duration`].
pub mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `null` or a duration.
    pub fn serialize<S: Serializer>(value: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => super::duration::serialize(d, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads `null` or a duration.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        Option::<super::duration::Raw>::deserialize(deserializer)?
            .map(super::duration::Raw::into_duration)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_with_units() {
        assert_eq!(parse_duration("150ms").unwrap(), Duration::from_millis(150));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("250").unwrap(), Duration::from_millis(250));
        assert!(
            parse_duration("2 fortnights")
                .unwrap_err()
                .contains("unknown duration unit")
        );
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn entity_options_read_from_json_with_defaults() {
        let options: EntityOptions = serde_json::from_value(serde_json::json!({
            "resilience": {"timeout": "300ms", "circuit_breaker": {"minimum_calls": 4}},
            "cache": {"l1_ttl": 1000}
        }))
        .unwrap();
        assert_eq!(options.resilience.timeout, Duration::from_millis(300));
        assert_eq!(options.resilience.circuit_breaker.minimum_calls, 4);
        assert_eq!(options.resilience.circuit_breaker.window_size, 20);
        assert_eq!(options.cache.l1_ttl, Some(Duration::from_secs(1)));

        let unknown = serde_json::from_value::<EntityOptions>(serde_json::json!({"cache": {"ttl": 1}}));
        assert!(unknown.unwrap_err().to_string().contains("unknown field `ttl`"));
    }
}
