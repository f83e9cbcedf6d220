//! Operating the gateway: /metrics parsed as Prometheus text, /readyz against a live and a
//! dead upstream, request ids, the concurrency limit and the header read timeout.

mod support;

use aws_sdk_s3::operation::RequestId;
use std::collections::HashMap;
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;

/// Parses the exposition format strictly enough to catch malformed lines: every sample is
/// `name{labels} value` with a numeric value, and every name has a TYPE.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut typed = std::collections::HashSet::new();
    let mut out = HashMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            typed.insert(it.next().unwrap().to_owned());
            assert!(
                matches!(it.next(), Some("counter" | "gauge" | "histogram")),
                "{line}"
            );
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let v: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && name.starts_with("s3seal_"),
            "{line}"
        );
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|b| typed.contains(*b)))
            .unwrap_or(name);
        assert!(typed.contains(base), "no TYPE for {name}");
        out.insert(series.to_owned(), v);
    }
    out
}

#[tokio::test]
async fn metrics_count_requests_bytes_failures_and_cache() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let body = pattern(300_000, 1);
    gw.put(&b, "m", &body).await;
    for _ in 0..3 {
        assert_eq!(gw.get(&b, "m").await, body);
    }
    let bad = client(&gw.endpoint, ACCESS_KEY, "wrong-secret");
    assert!(bad.list_buckets().send().await.is_err());

    let (status, head, text) = raw_request(gw.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let m = parse_metrics(&String::from_utf8(text).unwrap());
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("missing {k} in {m:?}"));
    assert_eq!(
        get("s3seal_requests_total{operation=\"PutObject\",status=\"200\"}"),
        1.0
    );
    assert_eq!(
        get("s3seal_requests_total{operation=\"GetObject\",status=\"200\"}"),
        3.0
    );
    assert_eq!(
        get("s3seal_request_duration_seconds_count{operation=\"GetObject\"}"),
        3.0
    );
    assert!(get("s3seal_sent_bytes_total") >= 3.0 * body.len() as f64);
    assert!(get("s3seal_received_bytes_total") >= body.len() as f64);
    assert!(get("s3seal_auth_failures_total") >= 1.0);
    // The PUT cached its fresh DEK, so no GET went to the key provider.
    assert_eq!(get("s3seal_dek_cache_misses_total"), 0.0);
    assert_eq!(get("s3seal_dek_cache_hits_total"), 3.0);
    assert_eq!(get("s3seal_decrypt_failures_total"), 0.0);
    assert!(m.contains_key("s3seal_in_flight_requests"));
}

#[tokio::test]
async fn readiness_follows_the_upstream_and_requests_get_ids() {
    let gw = TestGateway::start(Upstream::Moto).await;
    let (status, _, _) = raw_request(gw.addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(status, 200);
    let out = gw.client.list_buckets().send().await.unwrap();
    assert!(out.request_id().is_some_and(|id| id.len() == 16));

    // An upstream nobody listens on: alive (healthz) but not ready.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gw = TestGateway::start_with(Upstream::Moto, |c| {
        if let s3seal::config::UpstreamConfig::S3 { endpoint, .. } = &mut c.upstream {
            *endpoint = Some(format!("http://127.0.0.1:{dead}"));
        }
    })
    .await;
    let (status, _, _) = raw_request(gw.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(status, 200);
    let (status, _, body) = raw_request(gw.addr, "GET", "/readyz", &[], b"").await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn concurrency_limit_answers_slow_down_and_frees_its_slot() {
    let gw = TestGateway::start_with(Upstream::Fs, |c| c.server.max_concurrent_requests = 1).await;
    let b = gw.bucket().await;
    // Hold the only slot: a PUT whose body never finishes.
    let mut hold = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    let put = gw
        .client
        .put_object()
        .bucket(&b)
        .key("slow")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(60)).unwrap(),
        )
        .await
        .unwrap();
    let pq: http::Uri = put.uri().parse().unwrap();
    let req = format!(
        "PUT {} HTTP/1.1\r\nhost: {}\r\ncontent-length: 1000\r\n\r\npartial",
        pq.path_and_query().unwrap(),
        gw.addr
    );
    hold.write_all(req.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, body) = raw_request(gw.addr, "GET", "/healthz", &[], b"").await;
    assert_eq!(status, 200, "own endpoints are not limited");
    let no_retry = gw
        .client
        .config()
        .to_builder()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    let c = aws_sdk_s3::Client::from_conf(no_retry);
    let e = c.list_buckets().send().await.unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("SlowDown"),
        "{body:?}"
    );
    drop(hold);
    tokio::time::sleep(Duration::from_millis(300)).await;
    c.list_buckets().send().await.unwrap();
    // The abandoned PUT stored nothing.
    assert!(
        gw.upstream
            .head_object()
            .bucket(&b)
            .key("slow")
            .send()
            .await
            .is_err()
    );
}
