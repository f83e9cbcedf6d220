//! Issue 16, findings 3, 4 and 7: what an unauthenticated or hostile client can make the
//! gateway do before a signature is verified.
//!
//! - A browser form POST (and any anonymous request) is refused from its head: the answer
//!   arrives while the client has sent 1 MiB of a declared 256 MiB, and such requests never
//!   hold a concurrency slot. A signed upload that stops sending is cut after
//!   `server.idle_timeout_secs`, freeing its slot.
//! - Failed logins count against the identity s3s actually verifies (a raw `/` in
//!   `X-Amz-Credential` names the same user); a presigned query with an `Authorization`
//!   header as well is refused, and so is any `x-amz-*` header a signature does not cover.
//! - SigV4 presigned URLs are capped at 7 days; SigV2 is refused unless `auth.allow_sigv2`.

mod support;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bounds every wait, so a regression fails instead of hanging.
const BOUND: Duration = Duration::from_secs(30);

/// Reads what the server sends until it closes the connection (EOF or reset) or `BOUND`
/// passes; returns the bytes and whether the server closed.
async fn read_until_closed(r: &mut (impl AsyncReadExt + Unpin)) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    let deadline = tokio::time::Instant::now() + BOUND;
    loop {
        match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
            Err(_) => return (out, false),
            Ok(Ok(0)) | Ok(Err(_)) => return (out, true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_of(resp: &[u8]) -> u16 {
    String::from_utf8_lossy(resp)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// Opens a connection and sends `head` and then `sent` bytes of its body (in the background,
/// ignoring errors once the server hangs up); the write half stays open, the rest unsent.
async fn half_send(
    addr: std::net::SocketAddr,
    head: String,
    sent: usize,
) -> (
    tokio::net::tcp::OwnedReadHalf,
    tokio::task::JoinHandle<tokio::net::tcp::OwnedWriteHalf>,
) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = s.into_split();
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_ok() {
            let chunk = vec![b'x'; 64 << 10];
            let mut left = sent;
            while left > 0 {
                let n = left.min(chunk.len());
                if wr.write_all(&chunk[..n]).await.is_err() {
                    break;
                }
                left -= n;
            }
        }
        wr
    });
    (rd, writer)
}

fn form_post_head(addr: std::net::SocketAddr, bucket: &str, len: u64) -> String {
    format!(
        "POST /{bucket} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: multipart/form-data; boundary=XyZ\r\ncontent-length: {len}\r\n\r\n--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nbig.bin\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    )
}

/// The gateway's in-flight gauge, from /metrics.
async fn in_flight(gw: &TestGateway) -> i64 {
    let (_, _, body) = raw_request(gw.addr, "GET", "/metrics", &[], b"").await;
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("s3seal_in_flight_requests "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

#[tokio::test]
async fn anonymous_form_post_of_256_mib_is_refused_from_its_head() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    // Declares 256 MiB, sends 1 MiB, then waits: the answer must come without the rest.
    let (mut rd, writer) =
        half_send(gw.addr, form_post_head(gw.addr, &b, 256 << 20), 1 << 20).await;
    let (resp, closed) = read_until_closed(&mut rd).await;
    let text = String::from_utf8_lossy(&resp);
    assert_eq!(status_of(&resp), 501, "{text}");
    assert!(text.contains("NotImplemented"), "{text}");
    assert!(closed, "the connection is closed, its body never read");
    writer.abort();

    // Anonymous requests of any kind are refused before their body, too.
    let head = format!(
        "PUT /{b}/anon HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n\r\n",
        gw.addr,
        256u64 << 20
    );
    let (mut rd, writer) = half_send(gw.addr, head, 1 << 20).await;
    let (resp, closed) = read_until_closed(&mut rd).await;
    let text = String::from_utf8_lossy(&resp);
    assert_eq!(status_of(&resp), 403, "{text}");
    assert!(text.contains("AccessDenied"), "{text}");
    assert!(closed);
    writer.abort();

    // An oversized POST body (a DeleteObjects XML) is refused from its declared length; the
    // gateway answers and closes while the client is still sending, so send only a part.
    let head = format!(
        "POST /{b}?delete HTTP/1.1\r\nhost: {}\r\nauthorization: AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0\r\ncontent-length: {}\r\n\r\n",
        gw.addr,
        (8u64 << 20) + 1
    );
    let (mut rd, writer) = half_send(gw.addr, head, 1 << 20).await;
    let (resp, _closed) = read_until_closed(&mut rd).await;
    let text = String::from_utf8_lossy(&resp);
    assert_eq!(status_of(&resp), 400, "{text}");
    assert!(text.contains("MaxMessageLengthExceeded"), "{text}");
    writer.abort();
}

#[tokio::test]
async fn stalled_anonymous_posts_do_not_starve_signed_requests() {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        c.server.max_concurrent_requests = 4;
    })
    .await;
    let b = gw.bucket().await;
    let mut conns = Vec::new();
    for _ in 0..4 {
        conns.push(half_send(gw.addr, form_post_head(gw.addr, &b, 256 << 20), 4096).await);
    }
    // Wait until the gateway has taken in all four: each is answered, or counted in flight.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let mut readers = Vec::new();
    for (mut rd, w) in conns {
        let a = answered.clone();
        readers.push(tokio::spawn(async move {
            let mut one = [0u8; 1];
            if matches!(rd.read(&mut one).await, Ok(_) | Err(_)) {
                a.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (rd, w)
        }));
    }
    let taken = tokio::time::timeout(BOUND, async {
        loop {
            let n = answered.load(std::sync::atomic::Ordering::Relaxed);
            if n >= 4 || n + in_flight(&gw).await >= 4 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(taken.is_ok(), "the four POSTs never reached the gateway");

    // An authenticated request is served while the anonymous connections stay open.
    gw.client
        .put_object()
        .bucket(&b)
        .key("served")
        .body(b"yes".to_vec().into())
        .send()
        .await
        .expect("a signed request is served while anonymous POSTs stall");
    assert_eq!(gw.get(&b, "served").await, b"yes");
    for r in readers {
        r.abort();
    }
}

#[tokio::test]
async fn a_stalled_signed_upload_is_cut_and_frees_its_slot() {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        c.server.max_concurrent_requests = 2;
        c.server.idle_timeout_secs = 1;
    })
    .await;
    let b = gw.bucket().await;
    let mut stalled = Vec::new();
    for i in 0..2 {
        let mut s = presigned_put_head(&gw.client, &b, &format!("stall{i}"), 1 << 20, "").await;
        s.write_all(&[7u8; 4096]).await.unwrap();
        stalled.push(s);
    }
    // Both hold a slot...
    let full = tokio::time::timeout(BOUND, async {
        while in_flight(&gw).await < 2 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(full.is_ok(), "the stalled uploads never started");
    // ...until their bodies make no progress for idle_timeout_secs: then they are cut.
    for s in &mut stalled {
        let (_, closed) = read_until_closed(s).await;
        assert!(closed, "a request body that makes no progress is cut");
    }
    gw.client
        .put_object()
        .bucket(&b)
        .key("after")
        .body(b"ok".to_vec().into())
        .send()
        .await
        .expect("the slots are free again");
    // Nothing of the cut uploads was stored.
    for i in 0..2 {
        let r = gw
            .client
            .head_object()
            .bucket(&b)
            .key(format!("stall{i}"))
            .send()
            .await;
        assert!(r.is_err(), "no partial object");
    }
}

// ---- finding 4: the throttle counts what the signature check used ----

fn no_retry(gw: &TestGateway, sk: &str) -> aws_sdk_s3::Client {
    let c = client(&gw.endpoint, ACCESS_KEY, sk);
    let conf = c
        .config()
        .to_builder()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn presigned_get(c: &aws_sdk_s3::Client, b: &str, k: &str) -> String {
    let p = c
        .get_object()
        .bucket(b)
        .key(k)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let u: http::Uri = p.uri().parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

async fn throttled_gateway() -> (TestGateway, String) {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        c.auth.max_failures = 4;
        c.auth.lockout_secs = 2;
        c.auth.failure_delay_ms = 10;
    })
    .await;
    let b = gw.bucket().await;
    gw.put(&b, "k", b"secret").await;
    (gw, b)
}

/// After the guesses: the right presigned URL and a signed request get SlowDown, and both
/// work once the lockout is over.
async fn assert_locked_then_recovers(gw: &TestGateway, b: &str) {
    let right = presigned_get(&gw.client, b, "k").await;
    let (status, _, text) = raw_request(gw.addr, "GET", &right, &[], b"").await;
    assert_eq!(
        status,
        503,
        "locked out after max_failures guesses: {}",
        String::from_utf8_lossy(&text)
    );
    assert!(String::from_utf8_lossy(&text).contains("SlowDown"));
    let r = no_retry(gw, SECRET_KEY)
        .get_object()
        .bucket(b)
        .key("k")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("SlowDown"));
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (status, _, got) = raw_request(gw.addr, "GET", &right, &[], b"").await;
    assert_eq!((status, got.as_slice()), (200, &b"secret"[..]));
}

/// A presigned URL sent with an `Authorization` header too is refused before any signature
/// is checked (S3: one auth mechanism only), so such a pair cannot guess anything, even with
/// the right URL, and cannot spread guesses over throwaway header keys either.
#[tokio::test]
async fn presigned_urls_sent_with_an_authorization_header_are_refused() {
    let (gw, b) = throttled_gateway().await;
    let right = presigned_get(&gw.client, &b, "k").await;
    for i in 0..6 {
        let bogus = format!(
            "AWS4-HMAC-SHA256 Credential=RANDOM{i}X/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={}",
            "0".repeat(64)
        );
        let (status, _, text) = raw_request(
            gw.addr,
            "GET",
            &right,
            &[("authorization".into(), bogus)],
            b"",
        )
        .await;
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 400, "{text}");
        assert!(
            text.contains("InvalidArgument") && !text.contains("secret"),
            "{text}"
        );
    }
    // Refused, not failed: the URL alone still works (no lockout).
    let (status, _, got) = raw_request(gw.addr, "GET", &right, &[], b"").await;
    assert_eq!((status, got.as_slice()), (200, &b"secret"[..]));
}

/// A presigned PUT link signs only `host`. Extra `x-amz-*` headers the signature does not
/// cover are refused (S3: HeadersNotSigned), so its holder cannot turn it into a CopyObject
/// of any object the signer may read, nor add metadata or tags the signer never chose.
#[tokio::test]
async fn presigned_put_links_refuse_unsigned_amz_headers() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    gw.put(&b, "payroll.csv", b"TOP-SECRET payroll").await;
    let url = gw
        .client
        .put_object()
        .bucket(&b)
        .key("drop/upload.bin")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(300)).unwrap(),
        )
        .await
        .unwrap();
    let link = url
        .uri()
        .parse::<http::Uri>()
        .unwrap()
        .path_and_query()
        .unwrap()
        .to_string();
    for extra in [
        ("x-amz-copy-source", format!("{b}/payroll.csv")),
        ("x-amz-meta-injected", "1".to_owned()),
        ("x-amz-tagging", "evil=1".to_owned()),
    ] {
        let (status, _, text) =
            raw_request(gw.addr, "PUT", &link, &[(extra.0.into(), extra.1)], b"hi").await;
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 403, "{}: {text}", extra.0);
        assert!(
            text.contains("AccessDenied") && text.contains(extra.0),
            "{text}"
        );
        assert!(
            !stored(&gw, &b, "drop/upload.bin").await,
            "{}: stored",
            extra.0
        );
    }
    // The link as signed still uploads.
    let (status, _, _) = raw_request(gw.addr, "PUT", &link, &[], b"hello").await;
    assert_eq!(status, 200);
    assert_eq!(gw.get(&b, "drop/upload.bin").await, b"hello");
}

#[tokio::test]
async fn presigned_guesses_with_raw_slashes_and_changing_regions_are_locked_out() {
    let (gw, b) = throttled_gateway().await;
    let wrong = no_retry(&gw, "not-the-secret");
    for i in 0..4 {
        let guess = presigned_get(&wrong, &b, "k").await;
        // X-Amz-Credential=AK%2Fdate%2Fus-east-1%2F... -> AK/date/region-i/...
        let (path, query) = guess.split_once('?').unwrap();
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.strip_prefix("X-Amz-Credential=") {
                Some(c) => format!(
                    "X-Amz-Credential={}",
                    c.replace("%2F", "/")
                        .replace("us-east-1", &format!("region-{i}"))
                ),
                None => kv.to_owned(),
            })
            .collect();
        let guess = format!("{path}?{}", query.join("&"));
        assert!(guess.contains(&format!("/region-{i}/")), "{guess}");
        let (status, _, text) = raw_request(gw.addr, "GET", &guess, &[], b"").await;
        assert_eq!(status, 403, "{}", String::from_utf8_lossy(&text));
    }
    assert_locked_then_recovers(&gw, &b).await;
}

// ---- finding 7: presigned lifetime, SigV2 ----

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A SigV4 presigned GET signed by hand (the SDK refuses lifetimes over a week).
fn presign_v4(gw: &TestGateway, b: &str, k: &str, expires: u64) -> String {
    let now = time::OffsetDateTime::now_utc();
    let date = format!(
        "{:04}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    );
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        now.hour(),
        now.minute(),
        now.second()
    );
    let scope = format!("{date}/us-east-1/s3/aws4_request");
    let mut q = [
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256".to_owned()),
        ("X-Amz-Credential", format!("{ACCESS_KEY}/{scope}")),
        ("X-Amz-Date", stamp.clone()),
        ("X-Amz-Expires", expires.to_string()),
        ("X-Amz-SignedHeaders", "host".to_owned()),
    ]
    .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(&v)));
    q.sort();
    let query = q.join("&");
    let path = format!("/{b}/{k}");
    let canonical = format!(
        "GET\n{path}\n{query}\nhost:{}\n\nhost\nUNSIGNED-PAYLOAD",
        gw.addr
    );
    let sts = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut key = hmac256(format!("AWS4{SECRET_KEY}").as_bytes(), &date);
    for part in ["us-east-1", "s3", "aws4_request"] {
        key = hmac256(&key, part);
    }
    let sig = hex::encode(hmac256(&key, &sts));
    format!("{path}?{query}&X-Amz-Signature={sig}")
}

fn hmac_sha1_b64(data: &str) -> String {
    use base64::Engine;
    let key = aws_lc_rs::hmac::Key::new(
        aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        SECRET_KEY.as_bytes(),
    );
    base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::hmac::sign(&key, data.as_bytes()))
}

/// A SigV2 presigned GET valid until 2100, and a SigV2 header-signed GET.
fn sigv2_requests(b: &str, k: &str) -> (String, Vec<(String, String)>) {
    sigv2_requests_at(b, k, time::Duration::ZERO)
}

/// As [`sigv2_requests`], the header-signed GET dated `offset` from now.
fn sigv2_requests_at(b: &str, k: &str, offset: time::Duration) -> (String, Vec<(String, String)>) {
    let path = format!("/{b}/{k}");
    let expires = 4_102_444_800u64; // 2100-01-01
    let sig = hmac_sha1_b64(&format!("GET\n\n\n{expires}\n{path}"));
    let url = format!(
        "{path}?AWSAccessKeyId={ACCESS_KEY}&Expires={expires}&Signature={}",
        uri_encode(&sig)
    );
    let date = (time::OffsetDateTime::now_utc() + offset)
        .format(&time::format_description::well_known::Rfc2822)
        .unwrap();
    let sig = hmac_sha1_b64(&format!("GET\n\n\n{date}\n{path}"));
    let headers = vec![
        ("date".to_owned(), date),
        (
            "authorization".to_owned(),
            format!("AWS {ACCESS_KEY}:{sig}"),
        ),
    ];
    (url, headers)
}

#[tokio::test]
async fn presigned_urls_over_a_week_are_refused() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    gw.put(&b, "k", b"data").await;
    // The hand-signed URL is right: a week exactly works.
    let week = presign_v4(&gw, &b, "k", 604_800);
    let (status, _, got) = raw_request(gw.addr, "GET", &week, &[], b"").await;
    assert_eq!(
        (status, got.as_slice()),
        (200, &b"data"[..]),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // Ten years is refused with S3's error.
    let decade = presign_v4(&gw, &b, "k", 315_360_000);
    let (status, _, text) = raw_request(gw.addr, "GET", &decade, &[], b"").await;
    let text = String::from_utf8_lossy(&text);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("AuthorizationQueryParametersError"), "{text}");
    assert!(text.contains("604800"), "{text}");
}

#[tokio::test]
async fn sigv2_is_refused_unless_enabled() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    gw.put(&b, "k", b"data").await;
    let (url, headers) = sigv2_requests(&b, "k");
    let (status, _, text) = raw_request(gw.addr, "GET", &url, &[], b"").await;
    let text = String::from_utf8_lossy(&text);
    assert_eq!(status, 400, "a SigV2 URL valid until 2100: {text}");
    assert!(text.contains("AWS4-HMAC-SHA256"), "{text}");
    let (status, _, text) = raw_request(gw.addr, "GET", &format!("/{b}/k"), &headers, b"").await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&text));

    // With auth.allow_sigv2 the same requests are served (the signing above is right).
    let gw2 = TestGateway::start_with(Upstream::Fs, |c| c.auth.allow_sigv2 = true).await;
    let b = gw2.bucket().await;
    gw2.put(&b, "k", b"data").await;
    let (url, headers) = sigv2_requests(&b, "k");
    let (status, _, got) = raw_request(gw2.addr, "GET", &url, &[], b"").await;
    assert_eq!(
        (status, got.as_slice()),
        (200, &b"data"[..]),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let (status, _, got) = raw_request(gw2.addr, "GET", &format!("/{b}/k"), &headers, b"").await;
    assert_eq!(
        (status, got.as_slice()),
        (200, &b"data"[..]),
        "{}",
        String::from_utf8_lossy(&got)
    );
    // A header signature is bound to its Date, and that date to the clock: a captured
    // request cannot be replayed later (it was served at any age), nor dated ahead.
    for (offset, code) in [
        (time::Duration::minutes(-20), "RequestTimeTooSkewed"),
        (time::Duration::days(-1800), "RequestTimeTooSkewed"),
        (time::Duration::days(1), "RequestTimeTooSkewed"),
    ] {
        let (_, headers) = sigv2_requests_at(&b, "k", offset);
        let (status, _, text) =
            raw_request(gw2.addr, "GET", &format!("/{b}/k"), &headers, b"").await;
        let text = String::from_utf8_lossy(&text);
        assert_eq!(status, 403, "{offset}: {text}");
        assert!(text.contains(code), "{offset}: {text}");
    }
    let path = format!("/{b}/k");
    let sig = hmac_sha1_b64(&format!("GET\n\n\nnot a date\n{path}"));
    let headers = vec![
        ("date".to_owned(), "not a date".to_owned()),
        (
            "authorization".to_owned(),
            format!("AWS {ACCESS_KEY}:{sig}"),
        ),
    ];
    let (status, _, text) = raw_request(gw2.addr, "GET", &path, &headers, b"").await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&text));
}

/// The property test of the issue: arbitrary credentials, in a SigV4 header, a SigV4
/// presigned query or a SigV2 header, always get an S3 answer (4xx), never a dropped
/// connection or a 5xx; the gateway keeps serving.
/// Lockout is off here so that every case reaches the credential parsing and signature
/// check (with it on, all but the first few would stop at the throttle).
mod property {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config as PtConfig, TestRunner};

    /// Strings over the characters that matter to credential scopes, headers and URLs.
    fn junk() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('/'),
                Just('='),
                Just(','),
                Just(' '),
                Just('%'),
                Just(':'),
                Just('é'),
                Just('☃'),
                Just('\t'),
                proptest::char::range('a', 'f'),
                proptest::char::range('0', '9'),
            ],
            0..40,
        )
        .prop_map(|v| v.into_iter().collect())
    }

    /// Percent-encodes everything but unreserved characters.
    fn enc(s: &str) -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    #[test]
    fn arbitrary_credentials_get_an_s3_answer() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (gw, b) = rt.block_on(async {
            let gw = TestGateway::start_with(Upstream::Fs, |c| {
                c.auth.max_failures = u32::MAX;
                c.auth.failure_delay_ms = 0;
            })
            .await;
            let b = gw.bucket().await;
            gw.put(&b, "k", b"secret").await;
            (gw, b)
        });
        let mut runner = TestRunner::new(PtConfig {
            cases: 150,
            failure_persistence: None,
            ..PtConfig::default()
        });
        runner
            .run(
                &(0..3u8, junk(), junk(), junk()),
                |(form, cred, signed, sig)| {
                    let path = format!("/{b}/k");
                    let (target, headers) = match form {
                        0 => (
                            path,
                            vec![
                                (
                                    "authorization".to_owned(),
                                    format!(
                                        "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders={signed}, Signature={sig}"
                                    ),
                                ),
                                ("x-amz-date".to_owned(), "20261129T000000Z".to_owned()),
                                (
                                    "x-amz-content-sha256".to_owned(),
                                    "UNSIGNED-PAYLOAD".to_owned(),
                                ),
                            ],
                        ),
                        1 => (
                            format!(
                                "{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date=20261129T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders={}&X-Amz-Signature={}",
                                enc(&cred),
                                enc(&signed),
                                enc(&sig)
                            ),
                            vec![],
                        ),
                        _ => (
                            path,
                            vec![("authorization".to_owned(), format!("AWS {cred}:{sig}"))],
                        ),
                    };
                    let (status, _, body) =
                        rt.block_on(raw_request(gw.addr, "GET", &target, &headers, b""));
                    prop_assert!(
                        (400..500).contains(&status),
                        "{target} {headers:?}: {status} {}",
                        String::from_utf8_lossy(&body)
                    );
                    prop_assert!(!body.windows(6).any(|w| w == b"secret"), "object served");
                    Ok(())
                },
            )
            .unwrap();
        rt.block_on(async { assert_eq!(gw.get(&b, "k").await, b"secret") });
    }
}
