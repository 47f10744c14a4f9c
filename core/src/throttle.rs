//! Leaky buckets per key: the throttle behind sign-ins, registrations and public rate limits,
//! and the one key a client address is limited by.
//!
//! Each key has a bucket: every attempt takes a slot, and the level drains at a steady rate.
//! A slot is taken *before* the work it limits ([`Throttle::acquire`] checks and takes under one
//! lock), so that N attempts sent at once are treated like N sent one after another: at most
//! the burst gets through, the rest are refused with how long to wait. An attempt that should
//! not count (a correct password) gives its slot back when its [`Permit`] is dropped; one that
//! counts (a wrong password) keeps it with [`Permit::keep`].

use std::{
    collections::HashMap,
    hash::Hash,
    net::{IpAddr, Ipv6Addr},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Above this many tracked keys, drained buckets are dropped to bound memory.
const PRUNE_ABOVE: usize = 10_000;
/// Rounding slack, so that a bucket drained by exactly one slot's time takes one more.
const EPSILON: f64 = 1e-9;
/// The length of the IPv6 prefix one client is limited by: a /64 is one subscriber's usual
/// allocation, which it can spread requests across at will.
pub const IPV6_CLIENT_PREFIX: u32 = 64;

/// The key a client address is limited by, for every limit: an IPv4 address as it is (an
/// IPv4-mapped IPv6 address as that IPv4 address), an IPv6 address as its /64; no address
/// (a connection without a peer address) is one key of its own.
pub fn client_key(address: Option<IpAddr>) -> IpAddr {
    match address {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & (u128::MAX << (128 - IPV6_CLIENT_PREFIX));
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
        Some(v4) => v4,
        None => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    }
}

/// The bucket of one key.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Slots taken and not yet drained, as of `at`.
    level: f64,
    /// When `level` was computed.
    at: Instant,
}

/// Leaky buckets, one per key.
#[derive(Debug)]
pub struct Throttle<K> {
    /// Slots in a bucket.
    burst: f64,
    /// Time for one slot to drain.
    drain: Duration,
    /// The buckets.
    buckets: Mutex<HashMap<K, Bucket>>,
}

/// A slot taken in a [`Throttle`]: given back when dropped, unless [`Permit::keep`] keeps it.
#[must_use = "a permit dropped at once gives its slot back"]
pub struct Permit<'a, K: Eq + Hash + Clone> {
    /// The throttle the slot was taken in.
    throttle: &'a Throttle<K>,
    /// The bucket's key; `None` once kept.
    key: Option<K>,
}

impl<K: Eq + Hash + Clone> Permit<'_, K> {
    /// Keeps the slot: the attempt counts (a wrong password, a registration made).
    pub fn keep(mut self) {
        self.key = None;
    }
}

impl<K: Eq + Hash + Clone> Drop for Permit<'_, K> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.throttle.release(&key, Instant::now());
        }
    }
}

impl<K: Eq + Hash + Clone> Throttle<K> {
    /// A throttle allowing `burst` attempts, then one per `drain`.
    pub fn new(burst: f64, drain: Duration) -> Self {
        Self { burst, drain, buckets: Mutex::new(HashMap::new()) }
    }

    fn level(&self, bucket: &Bucket, now: Instant) -> f64 {
        let drained = now.saturating_duration_since(bucket.at).as_secs_f64() / self.drain.as_secs_f64();
        (bucket.level - drained).max(0.0)
    }

    /// How long until one more slot is free in a bucket at `level`, or `None` if one is free.
    fn wait(&self, level: f64) -> Option<Duration> {
        let excess = level + 1.0 - self.burst;
        (excess > EPSILON).then(|| self.drain.mul_f64(excess))
    }

    /// Takes a slot of `key` at `now` if one is free, checking and taking under one lock; else
    /// how long until one is.
    pub fn acquire(&self, key: K, now: Instant) -> Result<Permit<'_, K>, Duration> {
        let mut buckets = self.buckets.lock().expect("throttle lock poisoned");
        if buckets.len() > PRUNE_ABOVE {
            buckets.retain(|_, bucket| self.level(bucket, now) > 0.0);
        }
        let level = buckets.get(&key).map_or(0.0, |bucket| self.level(bucket, now));
        if let Some(wait) = self.wait(level) {
            return Err(wait);
        }
        buckets.insert(key.clone(), Bucket { level: level + 1.0, at: now });
        Ok(Permit { throttle: self, key: Some(key) })
    }

    /// Gives one slot of `key` back.
    fn release(&self, key: &K, now: Instant) {
        let mut buckets = self.buckets.lock().expect("throttle lock poisoned");
        if let Some(bucket) = buckets.get_mut(key) {
            *bucket = Bucket { level: (self.level(bucket, now) - 1.0).max(0.0), at: now };
        }
    }

    /// Fills the bucket of `key` to the brim at `now`, so that its next slot is a whole drain
    /// away and the bucket is empty only after `burst` drains.
    pub fn fill(&self, key: K, now: Instant) {
        let mut buckets = self.buckets.lock().expect("throttle lock poisoned");
        buckets.insert(key, Bucket { level: self.burst, at: now });
    }

    /// Whether the bucket of `key` holds anything at `now`: the key was counted and has not
    /// drained since.
    pub fn is_empty(&self, key: &K, now: Instant) -> bool {
        let buckets = self.buckets.lock().expect("throttle lock poisoned");
        buckets.get(key).is_none_or(|bucket| self.level(bucket, now) <= EPSILON)
    }

    /// How long until the bucket of `key` is empty at `now`.
    pub fn until_empty(&self, key: &K, now: Instant) -> Duration {
        let buckets = self.buckets.lock().expect("throttle lock poisoned");
        buckets.get(key).map_or(Duration::ZERO, |bucket| self.drain.mul_f64(self.level(bucket, now)))
    }

    /// `Some(wait)` while `key` is throttled at `now`: how long until one more slot is free.
    pub fn check(&self, key: &K, now: Instant) -> Option<Duration> {
        let buckets = self.buckets.lock().expect("throttle lock poisoned");
        self.wait(self.level(buckets.get(key)?, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_taken_then_one_slot_per_drain() {
        let throttle = Throttle::new(3.0, Duration::from_secs(10));
        let start = Instant::now();
        for _ in 0..3 {
            throttle.acquire("a", start).expect("within the burst").keep();
        }
        let wait = throttle.acquire("a", start).err().expect("the fourth is refused");
        assert!(wait > Duration::from_secs(9) && wait <= Duration::from_secs(10), "{wait:?}");
        assert!(throttle.acquire("b", start).is_ok(), "other keys are not affected");
        let later = start + Duration::from_secs(10);
        throttle.acquire("a", later).expect("one slot drained").keep();
        assert!(throttle.acquire("a", later).is_err());
        assert!(throttle.check(&"a", later).is_some());
    }

    #[test]
    fn a_dropped_permit_gives_its_slot_back() {
        let throttle = Throttle::new(2.0, Duration::from_secs(60));
        let now = Instant::now();
        for _ in 0..10 {
            let permit = throttle.acquire("a", now).expect("slots come back");
            drop(permit);
        }
        let held: Vec<_> = (0..2).map(|_| throttle.acquire("a", now).expect("two slots")).collect();
        assert!(throttle.acquire("a", now).is_err(), "both held at once");
        drop(held);
        assert!(throttle.is_empty(&"a", now));
    }

    #[test]
    fn a_filled_bucket_waits_a_whole_drain_and_empties_after_the_burst() {
        let throttle = Throttle::new(5.0, Duration::from_secs(60));
        let now = Instant::now();
        throttle.fill("a", now);
        assert!(!throttle.is_empty(&"a", now));
        assert_eq!(throttle.acquire("a", now).err(), Some(Duration::from_secs(60)));
        assert_eq!(throttle.until_empty(&"a", now), Duration::from_secs(300));
        assert!(throttle.is_empty(&"a", now + Duration::from_secs(300)));
    }

    #[test]
    fn ipv6_clients_are_one_key_per_64_and_mapped_ipv4_is_ipv4() {
        let key = |text: &str| client_key(Some(text.parse().unwrap()));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb:cccc:dddd:9"));
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::".parse::<IpAddr>().unwrap());
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:10.0.0.1"), key("10.0.0.1"));
        assert_ne!(key("10.0.0.1"), key("10.0.0.2"), "IPv4 addresses are their own keys");
        assert_eq!(client_key(None), client_key(None));
    }
}
