//! Reconnect delays: exponential, capped, with jitter, so that a fleet of edges does not come
//! back at the same instant after core restarts.

use std::time::Duration;

/// The first delay.
pub const INITIAL: Duration = Duration::from_millis(250);
/// The longest delay.
pub const MAX: Duration = Duration::from_secs(30);

/// Delays for successive attempts.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    /// Failed attempts since the last success.
    attempts: u32,
}

impl Backoff {
    /// The delay before the next attempt: a random point in the upper half of
    /// `INITIAL * 2^attempts`, capped at [`MAX`].
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = INITIAL.saturating_mul(1 << self.attempts.min(16)).min(MAX);
        self.attempts = self.attempts.saturating_add(1);
        let mut byte = [0u8; 2];
        getrandom::fill(&mut byte).unwrap_or_default();
        let fraction = f64::from(u16::from_le_bytes(byte)) / f64::from(u16::MAX);
        ceiling.mul_f64(0.5 + 0.5 * fraction)
    }

    /// Starts over after a success.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_to_the_cap_with_jitter_and_start_over_after_success() {
        let mut backoff = Backoff::default();
        let delays: Vec<Duration> = (0..12).map(|_| backoff.next_delay()).collect();
        assert!(delays[0] >= INITIAL / 2 && delays[0] <= INITIAL);
        assert!(delays[3] >= INITIAL * 4 && delays[3] <= INITIAL * 8);
        assert!(delays.iter().all(|delay| *delay <= MAX));
        assert!(delays[11] >= MAX / 2);
        backoff.reset();
        assert!(backoff.next_delay() <= INITIAL);
    }
}
