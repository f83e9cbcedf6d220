//! Prometheus metrics, rendered in the text exposition format by hand: a handful of counters
//! and histograms do not justify a metrics framework in the dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets in seconds: loopback small-object calls up to multi-GiB transfers.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

#[derive(Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// Everything the gateway counts. Cheap to update from any task.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    pub bytes_received: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub in_flight: AtomicI64,
    pub auth_failures: AtomicU64,
    pub throttled: AtomicU64,
    pub overloaded: AtomicU64,
}

/// Values owned elsewhere (the keyring, the seal layer), read at scrape time.
pub struct External {
    pub decrypt_failures: u64,
    pub dek_cache_hits: u64,
    pub dek_cache_misses: u64,
    pub kek_unwraps: u64,
    pub key_provider_calls: u64,
}

impl Metrics {
    pub fn request(&self, op: &str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((op.to_owned(), status))
            .or_default() += 1;
        self.latency
            .lock()
            .expect("metrics lock")
            .entry(op.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    pub fn render(&self, ext: &External) -> String {
        let mut o = String::with_capacity(8192);
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
        };
        let _ = writeln!(
            o,
            "# HELP s3seal_requests_total S3 requests answered, by operation and HTTP status.\n# TYPE s3seal_requests_total counter"
        );
        for ((op, status), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                o,
                "s3seal_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            o,
            "# HELP s3seal_request_duration_seconds Time from request to response headers, by operation.\n# TYPE s3seal_request_duration_seconds histogram"
        );
        for (op, h) in self.latency.lock().expect("metrics lock").iter() {
            h.render(
                &mut o,
                "s3seal_request_duration_seconds",
                &format!("operation=\"{op}\""),
            );
        }
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            &mut o,
            "s3seal_received_bytes_total",
            "Request body bytes declared by clients.",
            load(&self.bytes_received),
        );
        counter(
            &mut o,
            "s3seal_sent_bytes_total",
            "Response body bytes sent to clients.",
            load(&self.bytes_sent),
        );
        counter(
            &mut o,
            "s3seal_auth_failures_total",
            "Requests refused for a bad or missing signature or key.",
            load(&self.auth_failures),
        );
        counter(
            &mut o,
            "s3seal_throttled_requests_total",
            "Requests refused by failed-login throttling.",
            load(&self.throttled),
        );
        counter(
            &mut o,
            "s3seal_overloaded_requests_total",
            "Requests refused because server.max_concurrent_requests were in flight.",
            load(&self.overloaded),
        );
        counter(
            &mut o,
            "s3seal_decrypt_failures_total",
            "GETs aborted because stored data failed authentication.",
            ext.decrypt_failures,
        );
        counter(
            &mut o,
            "s3seal_dek_cache_hits_total",
            "Data-key unwraps served from the cache.",
            ext.dek_cache_hits,
        );
        counter(
            &mut o,
            "s3seal_dek_cache_misses_total",
            "Data-key unwraps that went to the key provider.",
            ext.dek_cache_misses,
        );
        counter(
            &mut o,
            "s3seal_kek_unwraps_total",
            "Calls to the key provider to unwrap a data key (KMS calls for KMS providers).",
            ext.kek_unwraps,
        );
        counter(
            &mut o,
            "s3seal_key_provider_calls_total",
            "Requests to a remote key provider (KMS Encrypt/Decrypt).",
            ext.key_provider_calls,
        );
        let (lean, sdk) = crate::lean::counts();
        let _ = writeln!(
            o,
            "# HELP s3seal_upstream_object_calls_total GetObject, HeadObject, PutObject, UploadPart and ListObjectsV2 calls to a remote store, by path: lean (hyper + SigV4) or sdk (aws-sdk-s3, for requests the lean path does not carry); both 0 when the lean path is off.\n# TYPE s3seal_upstream_object_calls_total counter\ns3seal_upstream_object_calls_total{{path=\"lean\"}} {lean}\ns3seal_upstream_object_calls_total{{path=\"sdk\"}} {sdk}"
        );
        let _ = writeln!(
            o,
            "# HELP s3seal_upstream_list_pages_scanned_total ListObjectsV2 pages from a remote store on the lean path whose sizes and ETags were rewritten in the store's own XML, not parsed and serialised again (a page the scan does not fully understand is parsed).\n# TYPE s3seal_upstream_list_pages_scanned_total counter\ns3seal_upstream_list_pages_scanned_total {}",
            crate::lean::pages_scanned()
        );
        let _ = writeln!(
            o,
            "# HELP s3seal_in_flight_requests Requests being served now.\n# TYPE s3seal_in_flight_requests gauge\ns3seal_in_flight_requests {}",
            self.in_flight.load(Ordering::Relaxed)
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_histograms() {
        let m = Metrics::default();
        m.request("GetObject", 200, Duration::from_millis(3));
        m.request("GetObject", 200, Duration::from_secs(2));
        m.request("PutObject", 403, Duration::from_micros(100));
        let t = m.render(&External {
            decrypt_failures: 1,
            dek_cache_hits: 2,
            dek_cache_misses: 3,
            kek_unwraps: 3,
            key_provider_calls: 0,
        });
        assert!(t.contains("s3seal_requests_total{operation=\"GetObject\",status=\"200\"} 2"));
        assert!(t.contains(
            "s3seal_request_duration_seconds_bucket{operation=\"GetObject\",le=\"0.005\"} 1"
        ));
        assert!(t.contains(
            "s3seal_request_duration_seconds_bucket{operation=\"GetObject\",le=\"+Inf\"} 2"
        ));
        assert!(t.contains("s3seal_decrypt_failures_total 1"));
    }
}
