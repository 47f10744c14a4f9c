//! Leaky buckets per key: the throttle behind failed sign-ins and public rate limits.
//!
//! Each key has a bucket: every recorded event adds one, and the level drains at a steady rate.
//! While a bucket is full, the caller refuses the attempt and says how long to wait.

use std::{
    collections::HashMap,
    hash::Hash,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Above this many tracked keys, drained buckets are dropped to bound memory.
const PRUNE_ABOVE: usize = 10_000;

/// The bucket of one key.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Events not yet drained, as of `at`.
    level: f64,
    /// When `level` was computed.
    at: Instant,
}

/// Leaky buckets, one per key.
#[derive(Debug)]
pub struct Throttle<K> {
    /// Events that fill a bucket.
    burst: f64,
    /// Time for one event to drain.
    drain: Duration,
    /// The buckets.
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// A throttle allowing `burst` events, then one per `drain`.
    pub fn new(burst: f64, drain: Duration) -> Self {
        Self { burst, drain, buckets: Mutex::new(HashMap::new()) }
    }

    fn level(&self, bucket: &Bucket, now: Instant) -> f64 {
        let drained = now.saturating_duration_since(bucket.at).as_secs_f64() / self.drain.as_secs_f64();
        (bucket.level - drained).max(0.0)
    }

    /// `Some(wait)` while `key` is throttled at `now`: how long until one more attempt is allowed.
    pub fn check(&self, key: &K, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().expect("throttle lock poisoned");
        let level = self.level(buckets.get(key)?, now);
        let excess = level - (self.burst - 1.0);
        (excess > 0.0).then(|| self.drain.mul_f64(excess))
    }

    /// Records one event of `key` at `now`.
    pub fn record(&self, key: K, now: Instant) {
        let mut buckets = self.buckets.lock().expect("throttle lock poisoned");
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| self.level(bucket, now) > 0.0);
        }
        let level = buckets.get(&key).map_or(0.0, |bucket| self.level(bucket, now));
        buckets.insert(key, Bucket { level: level + 1.0, at: now });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttles_after_a_burst_and_drains_over_time() {
        let throttle = Throttle::new(3.0, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..2 {
            throttle.record("a", start);
            assert_eq!(throttle.check(&"a", start), None);
        }
        throttle.record("a", start);
        let wait = throttle.check(&"a", start).expect("third failure fills the bucket");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10), "{wait:?}");
        assert_eq!(throttle.check(&"b", start), None, "other keys are not affected");
        assert_eq!(throttle.check(&"a", start + Duration::from_secs(10)), None, "one attempt drained");
        throttle.record("a", start + Duration::from_secs(10));
        assert!(throttle.check(&"a", start + Duration::from_secs(10)).is_some());
    }
}
