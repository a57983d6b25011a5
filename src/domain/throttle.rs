//! Login throttling policy: how long to refuse logins after repeated failures.
//!
//! The counters live in the database so that every replica sees the same state; this module only
//! decides. Account lock-outs are short and capped so an attacker cannot keep a clinician out of
//! the system for long, while a client address that fails a lot is slowed much further.

use chrono::{DateTime, Duration, Utc};

/// What a throttle counter is keyed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Account,
    ClientAddress,
}

/// Failures tolerated before refusing, and how refusals grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    pub free_failures: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Failures older than this are forgotten.
    pub window: Duration,
}

impl ThrottlePolicy {
    pub fn for_scope(scope: ThrottleScope) -> Self {
        match scope {
            ThrottleScope::Account => Self {
                free_failures: 5,
                base_delay: Duration::seconds(2),
                max_delay: Duration::seconds(60),
                window: Duration::minutes(15),
            },
            // A whole ward can sit behind one address (NAT, proxy): allow many more failures
            // there, and cap the lock at a few minutes so nobody can keep the ward out.
            ThrottleScope::ClientAddress => Self {
                free_failures: 30,
                base_delay: Duration::seconds(5),
                max_delay: Duration::minutes(5),
                window: Duration::minutes(15),
            },
        }
    }

    /// The lock-out after the `failures`-th consecutive failure: none for the first free ones,
    /// then doubling from `base_delay`, capped at `max_delay`.
    pub fn delay_after(&self, failures: u32) -> Option<Duration> {
        if failures < self.free_failures {
            return None;
        }
        let exponent = (failures - self.free_failures).min(20);
        let delay = self.base_delay * 2_i32.pow(exponent);
        Some(delay.min(self.max_delay))
    }
}

/// The stored state of one counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleState {
    pub failures: u32,
    pub window_started_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

impl ThrottleState {
    /// Seconds the caller must still wait, if locked out at `now`.
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<u64> {
        let until = self.locked_until?;
        (until > now).then(|| (until - now).num_seconds().max(1) as u64)
    }

    /// The counter with one failure taken back: an attempt counted before it was verified
    /// turned out to succeed. A lock that count alone caused is lifted.
    pub fn forgiving_one(self, policy: &ThrottlePolicy) -> ThrottleState {
        let failures = self.failures.saturating_sub(1);
        ThrottleState {
            failures,
            window_started_at: self.window_started_at,
            locked_until: if failures < policy.free_failures {
                None
            } else {
                self.locked_until
            },
        }
    }

    /// The counter after one more failure at `now`.
    pub fn after_failure(
        previous: Option<ThrottleState>,
        policy: &ThrottlePolicy,
        now: DateTime<Utc>,
    ) -> ThrottleState {
        let (failures, window_started_at) = match previous {
            Some(p) if now - p.window_started_at < policy.window => {
                (p.failures.saturating_add(1), p.window_started_at)
            }
            _ => (1, now),
        };
        ThrottleState {
            failures,
            window_started_at,
            locked_until: policy.delay_after(failures).map(|d| now + d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_lockout_starts_after_five_failures_and_is_capped_at_a_minute() {
        let p = ThrottlePolicy::for_scope(ThrottleScope::Account);
        assert_eq!(p.delay_after(4), None);
        assert_eq!(p.delay_after(5), Some(Duration::seconds(2)));
        assert_eq!(p.delay_after(6), Some(Duration::seconds(4)));
        assert_eq!(p.delay_after(10), Some(Duration::seconds(60)));
        assert_eq!(p.delay_after(1000), Some(Duration::seconds(60)));
    }

    #[test]
    fn failures_outside_the_window_start_a_new_count() {
        let p = ThrottlePolicy::for_scope(ThrottleScope::Account);
        let t0 = Utc::now();
        let mut state = ThrottleState::after_failure(None, &p, t0);
        for _ in 0..5 {
            state = ThrottleState::after_failure(Some(state), &p, t0);
        }
        assert_eq!(state.failures, 6);
        assert!(state.retry_after(t0).is_some());
        let later = t0 + Duration::minutes(16);
        let fresh = ThrottleState::after_failure(Some(state), &p, later);
        assert_eq!(fresh.failures, 1);
        assert_eq!(fresh.retry_after(later), None);
    }

    #[test]
    fn forgiving_a_counted_success_lifts_the_lock_it_caused() {
        let p = ThrottlePolicy::for_scope(ThrottleScope::ClientAddress);
        let now = Utc::now();
        let mut state = ThrottleState::after_failure(None, &p, now);
        for _ in 1..p.free_failures {
            state = ThrottleState::after_failure(Some(state), &p, now);
        }
        assert!(state.retry_after(now).is_some());
        let forgiven = state.forgiving_one(&p);
        assert_eq!(forgiven.failures, p.free_failures - 1);
        assert_eq!(forgiven.retry_after(now), None);
        let zero = ThrottleState {
            failures: 0,
            window_started_at: now,
            locked_until: None,
        };
        assert_eq!(zero.forgiving_one(&p).failures, 0);
    }

    #[test]
    fn retry_after_rounds_up_to_at_least_a_second() {
        let now = Utc::now();
        let state = ThrottleState {
            failures: 5,
            window_started_at: now,
            locked_until: Some(now + Duration::milliseconds(200)),
        };
        assert_eq!(state.retry_after(now), Some(1));
        assert_eq!(state.retry_after(now + Duration::seconds(1)), None);
    }
}
