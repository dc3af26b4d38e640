//! Per-source limiting of failed authentication attempts, against online password guessing.
//!
//! Policy: a source that accumulates `max_failures` failures within a fixed `window` (counted
//! from its first failure) is blocked for `block_for`; afterwards it starts from zero. A success
//! clears the source. Memory is bounded by `max_sources`: when full, expired entries are pruned,
//! then the least recently failing unblocked source is evicted (blocked ones last, so an
//! attacker cannot unblock itself cheaply by spraying from other addresses).
//!
//! Sources are IPv4 addresses and IPv6 prefixes (`/64` by default), because one IPv6
//! subscriber owns a whole prefix and could otherwise rotate addresses forever. IPv4-mapped
//! IPv6 addresses count as their IPv4 address.
//!
//! Operational caveat: many CPEs behind carrier-grade NAT share one IPv4 address, and a single
//! misconfigured CPE there fails on every periodic Inform. Keep `max_failures` well above what
//! one broken device produces per window, or the whole NAT pool gets blocked.
//!
//! Time is passed in (`now`), never read, so behaviour is deterministic and testable. A clock
//! stepping backwards is treated as no time having passed.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// Limiter settings. Zero `max_failures`/`max_sources` are treated as 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterConfig {
    pub max_failures: u32,
    pub window: Duration,
    pub block_for: Duration,
    pub max_sources: usize,
    /// IPv6 addresses are grouped by this prefix length (0..=128).
    pub ipv6_prefix_len: u8,
}

/// Sources tracked at most: 10 000 is a few hundred KiB.
pub const MAX_SOURCES: usize = 10_000;

/// IPv6 sources are grouped per /64, the smallest prefix a site is usually given.
pub const IPV6_PREFIX_LEN: u8 = 64;

impl Default for LimiterConfig {
    /// `[cpe_auth.limiter]` as `Settings::default()` has it: one place says what that is.
    fn default() -> Self {
        (&crate::config::LimiterSettings::default()).into()
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: SystemTime,
    failures: u32,
    blocked_until: Option<SystemTime>,
    last_failure: SystemTime,
}

impl Entry {
    fn new(now: SystemTime) -> Self {
        Self {
            window_start: now,
            failures: 0,
            blocked_until: None,
            last_failure: now,
        }
    }

    fn block_remaining(&self, now: SystemTime) -> Option<Duration> {
        let until = self.blocked_until?;
        until.duration_since(now).ok().filter(|d| !d.is_zero())
    }

    /// Carries no information any more: not blocked and its window is over.
    fn is_expired(&self, now: SystemTime, window: Duration) -> bool {
        self.block_remaining(now).is_none() && elapsed(self.window_start, now) >= window
    }
}

fn elapsed(since: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(since).unwrap_or(Duration::ZERO)
}

/// Thread-safe failure limiter; share it by reference or `Arc`. All methods take `&self` and
/// lock an internal mutex for a short, allocation-free critical section (except on growth).
#[derive(Debug)]
pub struct FailureLimiter {
    config: LimiterConfig,
    sources: Mutex<HashMap<IpAddr, Entry>>,
}

impl Default for FailureLimiter {
    fn default() -> Self {
        Self::new(LimiterConfig::default())
    }
}

impl FailureLimiter {
    pub fn new(mut config: LimiterConfig) -> Self {
        config.max_failures = config.max_failures.max(1);
        config.max_sources = config.max_sources.max(1);
        config.ipv6_prefix_len = config.ipv6_prefix_len.min(128);
        Self {
            config,
            sources: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &LimiterConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<IpAddr, Entry>> {
        // A panic elsewhere while holding the lock cannot leave an entry half-written in a
        // harmful way, so keep serving rather than propagating the poison.
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn key(&self, ip: IpAddr) -> IpAddr {
        match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => {
                    let prefix = u32::from(self.config.ipv6_prefix_len);
                    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                    IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
                }
            },
        }
    }

    /// `Some(retry_after)` while `ip` is blocked; answer such requests without checking
    /// credentials (e.g. 503 with `Retry-After`).
    pub fn is_blocked(&self, ip: IpAddr, now: SystemTime) -> Option<Duration> {
        let key = self.key(ip);
        let mut sources = self.lock();
        let entry = sources.get(&key)?;
        let remaining = entry.block_remaining(now);
        if remaining.is_none() && entry.is_expired(now, self.config.window) {
            sources.remove(&key);
        }
        remaining
    }

    /// Records a failed attempt; returns the block duration if `ip` is now blocked.
    pub fn record_failure(&self, ip: IpAddr, now: SystemTime) -> Option<Duration> {
        let key = self.key(ip);
        let cfg = &self.config;
        let mut sources = self.lock();
        if !sources.contains_key(&key) && sources.len() >= cfg.max_sources {
            make_room(&mut sources, now, cfg);
        }
        let entry = sources.entry(key).or_insert_with(|| Entry::new(now));
        if let Some(remaining) = entry.block_remaining(now) {
            return Some(remaining);
        }
        if entry.blocked_until.is_some() || elapsed(entry.window_start, now) >= cfg.window {
            *entry = Entry::new(now);
        }
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if entry.failures >= cfg.max_failures {
            entry.blocked_until = now.checked_add(cfg.block_for);
            return entry.block_remaining(now);
        }
        None
    }

    /// Forgets `ip`'s failures: the source proved it holds valid credentials.
    pub fn record_success(&self, ip: IpAddr) {
        let key = self.key(ip);
        self.lock().remove(&key);
    }

    /// Drops entries that no longer matter; call periodically to return memory early.
    pub fn prune(&self, now: SystemTime) {
        let window = self.config.window;
        self.lock().retain(|_, e| !e.is_expired(now, window));
    }

    /// Number of sources currently tracked (for metrics).
    pub fn tracked_sources(&self) -> usize {
        self.lock().len()
    }
}

fn make_room(sources: &mut HashMap<IpAddr, Entry>, now: SystemTime, cfg: &LimiterConfig) {
    sources.retain(|_, e| !e.is_expired(now, cfg.window));
    while sources.len() >= cfg.max_sources {
        let victim = sources
            .iter()
            .min_by_key(|(_, e)| (e.block_remaining(now).is_some(), e.last_failure))
            .map(|(k, _)| *k);
        match victim {
            Some(k) => {
                sources.remove(&k);
            }
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::sync::Arc;
    use std::time::UNIX_EPOCH;

    fn t(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn limiter(max_failures: u32, max_sources: usize) -> FailureLimiter {
        FailureLimiter::new(LimiterConfig {
            max_failures,
            window: Duration::from_secs(60),
            block_for: Duration::from_secs(120),
            max_sources,
            ipv6_prefix_len: 64,
        })
    }

    #[test]
    fn blocks_after_n_failures_and_unblocks_after_block_time() {
        let l = limiter(3, 100);
        let a = ip("192.0.2.1");
        assert_eq!(l.record_failure(a, t(0)), None);
        assert_eq!(l.record_failure(a, t(1)), None);
        assert_eq!(l.is_blocked(a, t(1)), None);
        assert_eq!(l.record_failure(a, t(2)), Some(Duration::from_secs(120)));
        assert_eq!(l.is_blocked(a, t(2)), Some(Duration::from_secs(120)));
        assert_eq!(l.is_blocked(a, t(100)), Some(Duration::from_secs(22)));
        // Failures while blocked do not extend the block.
        assert_eq!(l.record_failure(a, t(100)), Some(Duration::from_secs(22)));
        assert_eq!(l.is_blocked(ip("192.0.2.2"), t(2)), None);
        assert_eq!(l.is_blocked(a, t(122)), None);
        // A fresh start after the block: one failure does not re-block.
        assert_eq!(l.record_failure(a, t(123)), None);
        assert_eq!(l.is_blocked(a, t(123)), None);
    }

    #[test]
    fn window_expiry_resets_count() {
        let l = limiter(3, 100);
        let a = ip("192.0.2.1");
        l.record_failure(a, t(0));
        l.record_failure(a, t(10));
        assert_eq!(
            l.record_failure(a, t(60)),
            None,
            "window over, count restarts"
        );
        assert_eq!(l.record_failure(a, t(61)), None);
        assert!(l.record_failure(a, t(62)).is_some());
    }

    #[test]
    fn success_clears() {
        let l = limiter(2, 100);
        let a = ip("192.0.2.1");
        l.record_failure(a, t(0));
        l.record_success(a);
        assert_eq!(l.record_failure(a, t(1)), None);
        assert_eq!(l.tracked_sources(), 1);
    }

    #[test]
    fn source_grouping() {
        let l = limiter(2, 100);
        l.record_failure(ip("2001:db8:1:2::1"), t(0));
        assert!(l.record_failure(ip("2001:db8:1:2:ffff::9"), t(0)).is_some());
        assert!(l.is_blocked(ip("2001:db8:1:2::abcd"), t(1)).is_some());
        assert!(l.is_blocked(ip("2001:db8:1:3::1"), t(1)).is_none());

        l.record_failure(ip("::ffff:198.51.100.7"), t(0));
        assert!(l.record_failure(ip("198.51.100.7"), t(0)).is_some());

        for (prefix, a, b, same) in [
            (128u8, "2001:db8::1", "2001:db8::2", false),
            (0, "2001:db8::1", "fe80::2", true),
            (200, "2001:db8::1", "2001:db8::1", true),
        ] {
            let l = FailureLimiter::new(LimiterConfig {
                ipv6_prefix_len: prefix,
                ..LimiterConfig::default()
            });
            assert_eq!(l.key(ip(a)) == l.key(ip(b)), same, "/{prefix} {a} {b}");
        }
    }

    #[test]
    fn memory_is_bounded_and_blocked_sources_survive_eviction() {
        let l = limiter(5, 4);
        let blocked = ip("203.0.113.1");
        for _ in 0..5 {
            l.record_failure(blocked, t(0));
        }
        assert!(l.is_blocked(blocked, t(0)).is_some());
        for n in 0..50u8 {
            l.record_failure(IpAddr::V4(Ipv4Addr::new(10, 0, 0, n)), t(1 + u64::from(n)));
            assert!(l.tracked_sources() <= 4);
        }
        assert!(l.is_blocked(blocked, t(60)).is_some());
        // The most recent sprayer is still tracked, the oldest are gone.
        assert_eq!(l.record_failure(ip("10.0.0.49"), t(60)), None);
        assert_eq!(l.lock().get(&ip("10.0.0.49")).map(|e| e.failures), Some(2));
        assert!(!l.lock().contains_key(&ip("10.0.0.0")));
    }

    #[test]
    fn prune_and_lazy_cleanup() {
        let l = limiter(3, 100);
        l.record_failure(ip("192.0.2.1"), t(0));
        l.record_failure(ip("192.0.2.2"), t(50));
        l.prune(t(70));
        assert_eq!(l.tracked_sources(), 1);
        assert_eq!(l.is_blocked(ip("192.0.2.2"), t(200)), None);
        assert_eq!(l.tracked_sources(), 0);
    }

    #[test]
    fn clock_going_backwards_is_harmless() {
        let l = limiter(2, 100);
        let a = ip("192.0.2.1");
        l.record_failure(a, t(100));
        assert!(l.record_failure(a, t(50)).is_some());
        assert!(l.is_blocked(a, t(0)).is_some());
    }

    #[test]
    fn usable_from_many_threads() {
        let l = Arc::new(limiter(1000, 100));
        std::thread::scope(|s| {
            for n in 0..4u8 {
                let l = Arc::clone(&l);
                s.spawn(move || {
                    for i in 0..100 {
                        l.record_failure(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), t(i % 50));
                        l.is_blocked(IpAddr::V4(Ipv4Addr::new(192, 0, 2, n)), t(i % 50));
                    }
                });
            }
        });
        assert_eq!(l.tracked_sources(), 4);
        for n in 0..4u8 {
            assert_eq!(
                l.lock()[&IpAddr::V4(Ipv4Addr::new(192, 0, 2, n))].failures,
                100
            );
        }
    }
}
