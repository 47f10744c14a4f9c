//! Per-user limits on work held open at once: model calls in flight, event streams, chat
//! streams. A permit is taken before the work starts and given back when it is dropped, on
//! every path (finished, failed, or the caller gone), so that one account cannot hold more
//! than its share of the server however many requests it sends together.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

/// At most `max` permits per user at once.
#[derive(Debug)]
pub struct PerUserLimit {
    /// The most permits one user may hold.
    max: usize,
    /// Permits held, by user; a user holding none has no entry, so the map stays as small as
    /// the set of users with work open.
    held: Mutex<HashMap<String, usize>>,
}

/// One unit of a user's limit, given back when dropped.
#[derive(Debug)]
pub struct UserPermit {
    /// The limit it came from.
    limit: Arc<PerUserLimit>,
    /// Whose it is.
    user_id: String,
}

impl PerUserLimit {
    /// A limit of `max` permits per user (at least one).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max: max.max(1), held: Mutex::default() })
    }

    /// The most permits one user may hold.
    pub fn max(&self) -> usize {
        self.max
    }

    /// A permit for `user_id`, or `None` when they hold the most already. Counting and taking
    /// are one step under the lock, so parallel requests never take more than `max`.
    pub fn try_acquire(self: &Arc<Self>, user_id: &str) -> Option<UserPermit> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let count = held.entry(user_id.to_owned()).or_default();
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(UserPermit { limit: self.clone(), user_id: user_id.to_owned() })
    }

    /// How many permits `user_id` holds now.
    pub fn held(&self, user_id: &str) -> usize {
        self.held.lock().unwrap_or_else(PoisonError::into_inner).get(user_id).copied().unwrap_or_default()
    }
}

impl Drop for UserPermit {
    fn drop(&mut self) {
        let mut held = self.limit.held.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = held.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                held.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_max_and_a_dropped_permit_frees_one() {
        let limit = PerUserLimit::new(2);
        let first = limit.try_acquire("ann").unwrap();
        let _second = limit.try_acquire("ann").unwrap();
        assert!(limit.try_acquire("ann").is_none());
        let _other = limit.try_acquire("bob").expect("another user is not affected");
        drop(first);
        assert_eq!(limit.held("ann"), 1);
        let _third = limit.try_acquire("ann").expect("a freed permit can be taken again");
        assert!(limit.try_acquire("ann").is_none());
    }

    #[test]
    fn users_without_permits_leave_no_entry() {
        let limit = PerUserLimit::new(1);
        for i in 0..100 {
            drop(limit.try_acquire(&i.to_string()).unwrap());
        }
        assert!(limit.held.lock().unwrap().is_empty());
    }

    #[test]
    fn parallel_takers_never_exceed_the_limit() {
        let limit = PerUserLimit::new(4);
        let taken: Vec<_> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..32).map(|_| scope.spawn(|| limit.try_acquire("ann"))).collect();
            handles.into_iter().map(|handle| handle.join().unwrap()).collect()
        });
        assert_eq!(taken.iter().filter(|permit| permit.is_some()).count(), 4);
    }
}
