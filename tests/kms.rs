//! The AWS KMS key provider against moto's real KMS API on loopback: DEKs wrapped with
//! Encrypt under an encryption context naming the object key, the DEK cache keeping Decrypt
//! calls to one per object per TTL (counted), several KMS keys, and a wrapped key moved to
//! another object refused by KMS itself.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use s3seal::config::KeysConfig;
use std::collections::BTreeMap;
use std::time::Duration;
use support::*;

async fn kms_key() -> String {
    let conf = aws_sdk_kms::config::Builder::new()
        .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .endpoint_url(moto_url())
        .credentials_provider(aws_sdk_kms::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    let c = aws_sdk_kms::Client::from_conf(conf);
    c.create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

fn kms_config(keys: &[(&str, &str)], active: &str) -> KeysConfig {
    // Same value from every test in this binary, so setting it concurrently is harmless.
    unsafe { std::env::set_var("S3SEAL_TEST_KMS_SECRET", "testing") };
    KeysConfig::Kms {
        kms_keys: keys
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect::<BTreeMap<_, _>>(),
        active: active.into(),
        region: "us-east-1".into(),
        endpoint: Some(moto_url()),
        access_key_id: Some("testing".into()),
        secret_access_key_env: Some("S3SEAL_TEST_KMS_SECRET".into()),
    }
}

async fn metric(gw: &TestGateway, name: &str) -> f64 {
    let (_, _, body) = raw_request(gw.addr, "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} missing"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn kms_wraps_keys_and_the_cache_bounds_decrypt_calls() {
    let main = kms_key().await;
    for kind in ALL {
        let keys = kms_config(&[("main", &main)], "main");
        let gw = TestGateway::start_with(kind, move |c| {
            c.keys = keys;
            c.encryption.dek_cache_ttl_secs = 1;
        })
        .await;
        let b = gw.bucket().await;
        let body = pattern(150_000, 1);
        gw.put(&b, "k", &body).await;
        assert_eq!(
            metric(&gw, "s3seal_key_provider_calls_total").await,
            1.0,
            "one Encrypt"
        );
        let (raw, meta) = gw.raw_get(&b, "k").await;
        assert_ne!(raw, body);
        assert_eq!(meta.get("s3seal-kek").map(String::as_str), Some("main"));
        let blob = meta.get("s3seal-dek").unwrap();
        assert!(
            blob.len() > 100,
            "a KMS ciphertext blob, not a local 60-byte wrap"
        );

        // Hot object: within the TTL every read is served from the cache.
        for _ in 0..5 {
            assert_eq!(gw.get(&b, "k").await, body);
        }
        assert_eq!(metric(&gw, "s3seal_key_provider_calls_total").await, 1.0);
        // After the TTL: exactly one Decrypt, then cached again.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        for _ in 0..5 {
            assert_eq!(gw.get(&b, "k").await, body);
        }
        assert_eq!(
            metric(&gw, "s3seal_key_provider_calls_total").await,
            2.0,
            "{kind:?}"
        );

        // A wrapped key grafted onto another object key: KMS refuses the context.
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("graft")
            .set_metadata(Some(meta))
            .body(ByteStream::from(raw))
            .send()
            .await
            .unwrap();
        let r = gw.client.get_object().bucket(&b).key("graft").send().await;
        assert!(r.is_err(), "{kind:?}: grafted key must not open");
    }
}

#[tokio::test]
async fn objects_under_an_older_kms_key_stay_readable() {
    let (old, new) = (kms_key().await, kms_key().await);
    let keys = kms_config(&[("old", &old)], "old");
    let gw = TestGateway::start_with(Upstream::Fs, move |c| c.keys = keys).await;
    let b = gw.bucket().await;
    gw.put(&b, "before", b"under the old key").await;
    let mut cfg = gw.config.clone();
    cfg.keys = kms_config(&[("old", &old), ("new", &new)], "new");
    let dir = tempfile::tempdir().unwrap();
    // Same store, new process, new active key.
    let gw2 = TestGateway::start_config(Upstream::Fs, cfg, dir, &gw.upstream_endpoint).await;
    gw2.put(&b, "after", b"under the new key").await;
    assert_eq!(gw2.get(&b, "before").await, b"under the old key");
    assert_eq!(gw2.get(&b, "after").await, b"under the new key");
    let (_, meta) = gw2.raw_get(&b, "after").await;
    assert_eq!(meta.get("s3seal-kek").map(String::as_str), Some("new"));
}

/// KMS down: writes and uncached reads get 503 ServiceUnavailable (SDKs retry it), not a 403
/// blaming the object's key, and the answer names no endpoint, ARN or SDK internals. An
/// endpoint without a scheme is a config error (it used to start, then fail every write with
/// the SDK's dump of the Encrypt request: the plaintext data key, in the answer and the log).
#[tokio::test]
async fn a_kms_outage_is_a_retryable_503_and_a_bad_endpoint_a_config_error() {
    let main = kms_key().await;
    let keys = kms_config(&[("main", &main)], "main");
    let gw = TestGateway::start_with(Upstream::Fs, move |c| c.keys = keys).await;
    let b = gw.bucket().await;
    gw.put(&b, "k", b"written while KMS was up").await;
    let mut cfg = gw.config.clone();
    let mut down = kms_config(&[("main", &main)], "main");
    if let KeysConfig::Kms { endpoint, .. } = &mut down {
        // Nothing listens on the discard port on loopback: connection refused.
        *endpoint = Some("http://127.0.0.1:9".into());
    }
    cfg.keys = down;
    let gw2 = TestGateway::start_config(
        Upstream::Fs,
        cfg,
        tempfile::tempdir().unwrap(),
        &gw.upstream_endpoint,
    )
    .await;
    let check = |what: &str, e: Option<(String, String)>| {
        let (code, msg) = e.unwrap_or_else(|| panic!("{what} succeeded with KMS down"));
        assert_eq!(code, "ServiceUnavailable", "{what}: {msg}");
        for leak in ["127.0.0.1", "Plaintext", "arn:", "dispatch"] {
            assert!(!msg.contains(leak), "{what} names {leak}: {msg}");
        }
    };
    let put = gw2
        .client
        .put_object()
        .bucket(&b)
        .key("new")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    check("PUT", put.err().map(|e| code_and_message(&e)));
    let get = gw2.client.get_object().bucket(&b).key("k").send().await;
    check("GET", get.err().map(|e| code_and_message(&e)));

    for ep in ["127.0.0.1:9338", "localhost:9338", "not a url"] {
        let toml = format!(
            "[keys]\nprovider = \"kms\"\nactive = \"main\"\nkms_keys = {{ main = \"alias/x\" }}\nendpoint = \"{ep}\"\n"
        );
        let e = s3seal::config::Config::parse(&toml, "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("gw.toml") && e.contains("keys.endpoint"),
            "{ep}: {e}"
        );
    }
}

fn code_and_message(e: &impl aws_sdk_s3::error::ProvideErrorMetadata) -> (String, String) {
    let code = e.code().unwrap_or("").to_owned();
    (code, e.message().unwrap_or("").to_owned())
}
