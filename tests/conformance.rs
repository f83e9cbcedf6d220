//! Differential S3 conformance: runs the scripted scenarios of `tests/conformance/` (boto3)
//! against a reference endpoint A and an endpoint under test B, comparing status, error
//! code, headers, bodies and parsed results step by step. Each pair has its own section of
//! `tests/conformance/exceptions.toml`; any difference not listed there fails the test.
//!
//! Pairs: moto vs moto (the harness's own self-check: must be identical), moto vs the
//! embedded store served directly, moto vs the gateway in front of moto, and the embedded
//! store served directly vs the gateway in front of it.

mod support;

use support::{ACCESS_KEY, SECRET_KEY, TestGateway, Upstream, moto_url, serve_plain_fs};

const HARNESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance/harness.py");

/// Runs the harness for one pair on a blocking thread (the endpoints live on this runtime)
/// and fails with its report when it finds an undocumented difference.
async fn run_pair(pair: &str, a: &str, a_creds: &str, b: &str, b_creds: &str) {
    let python = std::env::var("S3SEAL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out_json = std::env::temp_dir().join(format!(
        "s3seal-conformance-{pair}-{}.json",
        std::process::id()
    ));
    let args: Vec<String> = vec![
        HARNESS.into(),
        "--pair".into(),
        pair.into(),
        "--a".into(),
        a.into(),
        "--a-creds".into(),
        a_creds.into(),
        "--b".into(),
        b.into(),
        "--b-creds".into(),
        b_creds.into(),
        "--json".into(),
        out_json.display().to_string(),
    ];
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .args(&args)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env_remove("AWS_PROFILE")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}; run ./scripts/test first"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "conformance pair {pair}: undocumented differences (full steps in {}):\n{stdout}\n{stderr}",
        out_json.display()
    );
}

/// The harness against itself (two buckets on one moto): proves the normalisation leaves
/// no spurious difference, so every difference in the other pairs is real.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_vs_moto() {
    let m = moto_url();
    run_pair("moto_vs_moto", &m, "testing:testing", &m, "testing:testing").await;
}

/// moto vs the embedded store served directly (no gateway).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_vs_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = serve_plain_fs(dir.path()).await;
    run_pair(
        "moto_vs_store",
        &moto_url(),
        "testing:testing",
        &store,
        "testing:testing",
    )
    .await;
}

/// moto directly vs the gateway in front of moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_vs_gateway_over_moto() {
    let gw = TestGateway::start(Upstream::Moto).await;
    run_pair(
        "moto_vs_gateway",
        &gw.upstream_endpoint,
        "testing:testing",
        &gw.endpoint,
        &format!("{ACCESS_KEY}:{SECRET_KEY}"),
    )
    .await;
}

/// The embedded store served directly vs the gateway in front of the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_vs_gateway_over_store() {
    let gw = TestGateway::start(Upstream::Fs).await;
    run_pair(
        "store_vs_gateway",
        &gw.upstream_endpoint,
        "testing:testing",
        &gw.endpoint,
        &format!("{ACCESS_KEY}:{SECRET_KEY}"),
    )
    .await;
}
