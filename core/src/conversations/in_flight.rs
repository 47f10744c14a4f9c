//! One answer at a time per channel message: a redelivery that arrives while the first delivery
//! is still being answered waits for it, and then finds the stored reply.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

/// Entries kept before dead ones are swept.
const SWEEP_FLOOR: usize = 1024;

/// Locks by key, each alive only while held or waited for.
#[derive(Debug, Default)]
pub struct InFlight {
    locks: Mutex<Locks>,
}

#[derive(Debug, Default)]
struct Locks {
    by_key: HashMap<String, Weak<AsyncMutex<()>>>,
    /// The size at which dead entries are swept next, so sweeping costs O(1) per lock.
    sweep_at: usize,
}

/// Held while a message is being answered.
pub type Turn = OwnedMutexGuard<()>;

impl InFlight {
    /// Waits until no one else answers `key`, and holds it until the turn is dropped.
    pub async fn lock(&self, key: String) -> Turn {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if locks.by_key.len() >= locks.sweep_at {
                locks.by_key.retain(|_, lock| lock.strong_count() > 0);
                locks.sweep_at = (locks.by_key.len() * 2).max(SWEEP_FLOOR);
            }
            match locks.by_key.get(&key).and_then(Weak::upgrade) {
                Some(lock) => lock,
                None => {
                    let lock = Arc::new(AsyncMutex::new(()));
                    locks.by_key.insert(key, Arc::downgrade(&lock));
                    lock
                }
            }
        };
        lock.lock_owned().await
    }

    /// Keys with an entry, live or not yet swept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.locks.lock().unwrap().by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_second_turn_waits_for_the_first_and_others_do_not() {
        let in_flight = Arc::new(InFlight::default());
        let first = in_flight.lock("a".into()).await;
        let waiting = tokio::spawn({
            let in_flight = in_flight.clone();
            async move { in_flight.lock("a".into()).await }
        });
        let _other = in_flight.lock("b".into()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished());
        drop(first);
        waiting.await.unwrap();
    }

    #[tokio::test]
    async fn dead_entries_are_swept() {
        let in_flight = InFlight::default();
        for i in 0..5000 {
            drop(in_flight.lock(i.to_string()).await);
        }
        assert!(in_flight.len() <= 2 * SWEEP_FLOOR, "{}", in_flight.len());
    }
}
