//! Exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

use crate::config::RetryPolicy;

/// The wait before retry number `attempt` (1-based), without jitter.
fn nominal(policy: &RetryPolicy, attempt: u32) -> Duration {
    let factor = policy.multiplier.max(1.0).powi(attempt.saturating_sub(1) as i32);
    let wait = policy.initial_backoff.as_secs_f64() * factor;
    Duration::from_secs_f64(wait.min(policy.max_backoff.as_secs_f64()))
}

impl RetryPolicy {
    /// The wait before retry number `attempt` (1-based): exponential, capped,
    /// and with jitter drawn uniformly from [wait/2, wait].
    pub fn backoff(&self, attempt: u32) -> Duration {
        let wait = nominal(self, attempt);
        if !self.jitter || wait.is_zero() {
            return wait;
        }
        let low = wait.as_secs_f64() / 2.0;
        Duration::from_secs_f64(rand::rng().random_range(low..=wait.as_secs_f64()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_with_bounded_jitter() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            multiplier: 2.0,
            jitter: true,
        };
        assert_eq!(nominal(&policy, 1), Duration::from_millis(100));
        assert_eq!(nominal(&policy, 3), Duration::from_millis(400));
        assert_eq!(nominal(&policy, 9), Duration::from_millis(1000));
        for attempt in 1..8 {
            let wait = policy.backoff(attempt);
            let cap = nominal(&policy, attempt);
            assert!(wait <= cap && wait >= cap / 2, "{attempt}: {wait:?} vs {cap:?}");
        }
    }
}
