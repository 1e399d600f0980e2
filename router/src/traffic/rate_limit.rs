//! A token bucket per client (governor's keyed rate limiter); buckets of clients that
//! have been quiet long enough to be full again are dropped now and then.

use std::num::NonZeroU32;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use governor::Quota;
use governor::clock::Clock;
use governor::clock::DefaultClock;
use governor::state::keyed::DefaultKeyedStateStore;

use super::ClientKey;
use super::ClientRateLimitConfig;

/// Checks made between two sweeps of full buckets.
const SWEEP_EVERY: u64 = 4096;

/// Rate limits clients independently of each other.
pub struct ClientRateLimiter {
    key: ClientKey,
    limiter: governor::RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>,
    checks: AtomicU64,
}

impl ClientRateLimiter {
    /// A limiter for a configuration; the error names the bad setting.
    pub fn new(config: &ClientRateLimitConfig) -> Result<Self, String> {
        let per_second =
            NonZeroU32::new(config.per_second).ok_or("rate_limit.per_second must be at least 1")?;
        let burst = NonZeroU32::new(config.burst).ok_or("rate_limit.burst must be at least 1")?;
        if let ClientKey::Header(name) = &config.key
            && http::HeaderName::try_from(name.as_str()).is_err()
        {
            return Err(format!("rate_limit.key: {name:?} is not a header name"));
        }
        Ok(ClientRateLimiter {
            key: config.key.clone(),
            limiter: governor::RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst)),
            checks: AtomicU64::new(0),
        })
    }

    /// What identifies a client.
    pub fn key(&self) -> ClientKey {
        self.key.clone()
    }

    /// Takes a token from `client`'s bucket, or says how long until one is there.
    pub fn check(&self, client: String) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&client)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_bucket() {
        let limiter = ClientRateLimiter::new(&ClientRateLimitConfig {
            per_second: 1,
            burst: 2,
            key: ClientKey::Ip,
        })
        .expect("valid");
        assert!(limiter.check("a".into()).is_ok());
        assert!(limiter.check("a".into()).is_ok());
        let wait = limiter.check("a".into()).expect_err("a's bucket is empty");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limiter.check("b".into()).is_ok(), "b is not affected");
    }

    #[test]
    fn bad_settings_are_named() {
        let bad = |per_second, burst, key| {
            ClientRateLimiter::new(&ClientRateLimitConfig {
                per_second,
                burst,
                key,
            })
            .err()
            .unwrap_or_default()
        };
        assert!(bad(0, 1, ClientKey::Ip).contains("per_second"));
        assert!(bad(1, 0, ClientKey::Ip).contains("burst"));
        assert!(bad(1, 1, ClientKey::Header("bad header".into())).contains("header name"));
    }
}
