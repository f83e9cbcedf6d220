//! Failed-authentication throttling, keyed by (source address, access key): repeated failures
//! are first slowed, then refused for a while. Keying by the pair means an attacker guessing
//! one user's secret neither locks out that user elsewhere nor other users on the same host.

use crate::config::AuthConfig;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries kept at most; beyond it, idle entries are dropped first.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// Refused until this long from now.
    Refuse(Duration),
}

struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

pub struct Throttle {
    cfg: AuthConfig,
    map: Mutex<HashMap<(IpAddr, String), Entry>>,
}

impl Throttle {
    pub fn new(cfg: AuthConfig) -> Self {
        Throttle {
            cfg,
            map: Mutex::default(),
        }
    }

    pub fn check(&self, ip: IpAddr, key: &str) -> Verdict {
        let now = Instant::now();
        let map = self.map.lock().expect("throttle lock");
        // The common case, no recent failures at all: no key allocation on the request path.
        if map.is_empty() {
            return Verdict::Allow;
        }
        match map.get(&(ip, key.to_owned())).and_then(|e| e.locked_until) {
            Some(until) if until > now => Verdict::Refuse(until - now),
            _ => Verdict::Allow,
        }
    }

    /// Records a failure; returns how long to hold the failure response back.
    pub fn failure(&self, ip: IpAddr, key: &str) -> Duration {
        let now = Instant::now();
        let window = Duration::from_secs(self.cfg.window_secs);
        let mut map = self.map.lock().expect("throttle lock");
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| {
                now.duration_since(e.window_start) < window
                    || e.locked_until.is_some_and(|u| u > now)
            });
        }
        let e = map.entry((ip, key.to_owned())).or_insert(Entry {
            window_start: now,
            failures: 0,
            locked_until: None,
        });
        if now.duration_since(e.window_start) >= window || e.locked_until.is_some_and(|u| u <= now)
        {
            *e = Entry {
                window_start: now,
                failures: 0,
                locked_until: None,
            };
        }
        e.failures += 1;
        if e.failures >= self.cfg.max_failures {
            e.locked_until = Some(now + Duration::from_secs(self.cfg.lockout_secs));
            tracing::warn!(%ip, access_key = key, failures = e.failures, "authentication failures: locked out");
        }
        let over = e.failures.saturating_sub(self.cfg.max_failures / 2);
        Duration::from_millis((self.cfg.failure_delay_ms * u64::from(over)).min(1000))
    }

    /// A verified request clears its pair's failures.
    pub fn success(&self, ip: IpAddr, key: &str) {
        let mut map = self.map.lock().expect("throttle lock");
        if !map.is_empty() {
            map.remove(&(ip, key.to_owned()));
        }
    }
}

/// The access key the signature check will use for this request, in s3s's order (see
/// [`crate::preauth`]); "-" when it has none or it is malformed, so such failures count per
/// source address. Only used as a throttle key.
pub fn claimed_access_key(req: &http::request::Parts) -> String {
    let q = crate::preauth::Query::parse(req.uri.query());
    let scheme = crate::preauth::scheme(req, &q);
    crate::preauth::throttle_key(req, &q, scheme)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(max: u32) -> AuthConfig {
        AuthConfig {
            max_failures: max,
            window_secs: 60,
            lockout_secs: 60,
            failure_delay_ms: 100,
            allow_sigv2: false,
        }
    }

    #[test]
    fn locks_the_pair_only_and_success_clears() {
        let t = Throttle::new(cfg(4));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "::1".parse().unwrap();
        assert_eq!(t.failure(a, "alice"), Duration::ZERO);
        assert_eq!(t.failure(a, "alice"), Duration::ZERO);
        assert_eq!(t.failure(a, "alice"), Duration::from_millis(100));
        assert_eq!(t.check(a, "alice"), Verdict::Allow);
        t.failure(a, "alice");
        assert!(matches!(t.check(a, "alice"), Verdict::Refuse(_)));
        assert_eq!(t.check(a, "bob"), Verdict::Allow);
        assert_eq!(t.check(b, "alice"), Verdict::Allow);
        t.failure(b, "bob");
        t.success(b, "bob");
        assert_eq!(t.failure(b, "bob"), Duration::ZERO);
    }

    #[test]
    fn claimed_key_from_header_or_query() {
        let (p, _) = http::Request::get("/b/k")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x")
            .body(())
            .unwrap()
            .into_parts();
        assert_eq!(claimed_access_key(&p), "AKID");
        let (p, _) = http::Request::get(
            "/b/k?X-Amz-Credential=PRE%2F20260101%2Fx%2Fs3%2Faws4_request&X-Amz-Signature=0",
        )
        .body(())
        .unwrap()
        .into_parts();
        assert_eq!(claimed_access_key(&p), "PRE");
        let (p, _) = http::Request::get("/b/k").body(()).unwrap().into_parts();
        assert_eq!(claimed_access_key(&p), "-");
    }
}
