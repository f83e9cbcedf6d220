//! Test harness: the real gateway on an ephemeral loopback port over a real upstream.
//!
//! `TestGateway::start(Upstream::Fs)` runs the embedded store (`src/store`) in-process on a temp dir;
//! `Upstream::Moto` runs moto's server (shared per test process, or the one named by
//! `S3SEAL_TEST_MOTO_URL`). Every test gets `gw.client` (aws-sdk-s3 through the gateway,
//! signed as a proxy user) and `gw.upstream` (aws-sdk-s3 straight to the store, to inspect
//! what is really stored).
#![allow(dead_code)]

use aws_sdk_s3::Client;
use s3seal::config::{
    BucketMode, BucketPolicyConfig, Config, RuleConfig, UpstreamConfig, UserConfig,
};
use s3seal::gateway::Gateway;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub const ACCESS_KEY: &str = "AKIATESTUSER0001";
pub const SECRET_KEY: &str = "test-secret-key-0001-do-not-use";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    Fs,
    Moto,
    /// The embedded store served over HTTP as a remote S3 store (`upstream.kind = "s3"`): it
    /// checks every SigV4 signature, which moto does not, so the lean upstream path's hand-built
    /// requests are proven against a verifying store.
    Store,
}

/// Every upstream, for tests that must hold over each.
pub const ALL: [Upstream; 3] = [Upstream::Fs, Upstream::Moto, Upstream::Store];

pub struct TestGateway {
    /// Through the gateway, as a proxy user.
    pub client: Client,
    /// Directly to the store, bypassing the gateway.
    pub upstream: Client,
    pub endpoint: String,
    pub addr: SocketAddr,
    /// The web console's own listener (another origin than `addr`), if served.
    pub console_addr: Option<SocketAddr>,
    pub kind: Upstream,
    pub config: Config,
    /// Where `upstream` points, kept so a restarted gateway can reuse it.
    pub upstream_endpoint: String,
    /// The temp dir holding data, keys and state; removed on drop.
    pub dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestGateway {
    pub async fn start(kind: Upstream) -> TestGateway {
        Self::start_with(kind, |_| {}).await
    }

    /// Starts with a config adjusted by `tweak` (after the harness filled in upstream,
    /// state dir and the test user).
    pub async fn start_with(kind: Upstream, tweak: impl FnOnce(&mut Config)) -> TestGateway {
        init_logs();
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cfg = Config::default();
        cfg.server.listen = "127.0.0.1:0".parse().unwrap();
        cfg.server.console_listen = "127.0.0.1:0".parse().unwrap();
        cfg.server.state_dir = dir.path().join("state");
        cfg.keys = s3seal::config::KeysConfig::File {
            path: dir.path().join("state/keys.toml"),
            create_if_missing: true,
        };
        cfg.users = vec![UserConfig {
            access_key: ACCESS_KEY.into(),
            secret_key: Some(SECRET_KEY.into()),
            secret_key_env: None,
            secret_key_file: None,
            expires: None,
            rules: Vec::new(),
        }];
        let upstream_endpoint = match kind {
            Upstream::Fs => {
                let data = dir.path().join("data");
                std::fs::create_dir_all(&data).unwrap();
                cfg.upstream = UpstreamConfig::Local { path: data.clone() };
                serve_plain_fs(&data).await
            }
            Upstream::Moto | Upstream::Store => {
                let url = if kind == Upstream::Store {
                    let data = dir.path().join("data");
                    std::fs::create_dir_all(&data).unwrap();
                    serve_plain_fs(&data).await
                } else {
                    moto_url()
                };
                cfg.upstream = UpstreamConfig::S3 {
                    endpoint: Some(url.clone()),
                    region: "us-east-1".into(),
                    path_style: true,
                    access_key_id: Some("testing".into()),
                    secret_access_key: Some("testing".into()),
                    secret_access_key_env: None,
                    lean: true,
                };
                url
            }
        };
        tweak(&mut cfg);
        Self::start_config(kind, cfg, dir, &upstream_endpoint).await
    }

    /// Starts over the embedded store with the store wrapped by `wrap` (fault injection). Returns the
    /// wrapped gateway and a plain one over the same store and keys, which owns the
    /// directory: keep both alive.
    pub async fn start_wrapped(
        wrap: impl FnOnce(s3seal::upstream::Upstream) -> s3seal::upstream::Upstream,
    ) -> (TestGateway, TestGateway) {
        Self::start_wrapped_with(|_| {}, wrap).await
    }

    /// As [`Self::start_wrapped`], with the wrapped gateway's config adjusted by `tweak`.
    pub async fn start_wrapped_with(
        tweak: impl FnOnce(&mut Config),
        wrap: impl FnOnce(s3seal::upstream::Upstream) -> s3seal::upstream::Upstream,
    ) -> (TestGateway, TestGateway) {
        let mut cfg = None;
        let base = Self::start_with(Upstream::Fs, |c| cfg = Some(c.clone())).await;
        let mut cfg = cfg.unwrap();
        tweak(&mut cfg);
        let up = wrap(s3seal::upstream::build(&cfg.upstream).await.unwrap());
        let dir = tempfile::tempdir().unwrap();
        let gw = Self::start_built(
            Upstream::Fs,
            cfg.clone(),
            dir,
            &base.upstream_endpoint,
            Gateway::build_over(&cfg, up).await.expect("gateway builds"),
        )
        .await;
        (gw, base)
    }

    /// Starts a gateway on `cfg` as given (used to restart over the same store).
    pub async fn start_config(
        kind: Upstream,
        cfg: Config,
        dir: tempfile::TempDir,
        upstream_endpoint: &str,
    ) -> TestGateway {
        let gw = Gateway::build(&cfg).await.expect("gateway builds");
        Self::start_built(kind, cfg, dir, upstream_endpoint, gw).await
    }

    async fn start_built(
        kind: Upstream,
        cfg: Config,
        dir: tempfile::TempDir,
        upstream_endpoint: &str,
        gw: Gateway,
    ) -> TestGateway {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let running = gw
            .bind(cfg.server.listen, async {
                let _ = rx.await;
            })
            .await
            .expect("gateway binds");
        let addr = running.addr;
        let console_addr = running.console_addr;
        let task = tokio::spawn(running.serve);
        let endpoint = format!("http://{addr}");
        TestGateway {
            client: client(&endpoint, ACCESS_KEY, SECRET_KEY),
            upstream: client(upstream_endpoint, "testing", "testing"),
            endpoint,
            addr,
            console_addr,
            kind,
            config: cfg,
            upstream_endpoint: upstream_endpoint.to_owned(),
            dir,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// A fresh bucket with a name unique in this process and across upstream reuse.
    pub async fn bucket(&self) -> String {
        let name = unique_name("b");
        self.client
            .create_bucket()
            .bucket(&name)
            .send()
            .await
            .expect("create bucket through gateway");
        name
    }

    /// Stops this gateway process-equivalent and starts a fresh one (new memory, new DEK
    /// cache) over the same store, keys and config: what a restart or another replica sees.
    pub async fn restart(mut self) -> TestGateway {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
        let mut cfg = self.config.clone();
        cfg.server.listen = "127.0.0.1:0".parse().unwrap();
        cfg.server.console_listen = "127.0.0.1:0".parse().unwrap();
        Self::start_config(self.kind, cfg, dir, &self.upstream_endpoint.clone()).await
    }

    /// A second, independent gateway over the same store and keys, running alongside.
    pub async fn replica(&self) -> Gateway2 {
        let gw = Gateway::build(&self.config).await.expect("replica builds");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let running = gw
            .bind("127.0.0.1:0".parse().unwrap(), async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        let endpoint = format!("http://{}", running.addr);
        tokio::spawn(running.serve);
        Gateway2 {
            client: client(&endpoint, ACCESS_KEY, SECRET_KEY),
            _stop: tx,
        }
    }

    /// Stops accepting, drains, and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Reads an object's stored bytes and metadata straight from the store.
    pub async fn raw_get(
        &self,
        bucket: &str,
        key: &str,
    ) -> (Vec<u8>, std::collections::HashMap<String, String>) {
        let out = self
            .upstream
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("direct upstream GET");
        let meta = out.metadata().cloned().unwrap_or_default();
        let body = out.body.collect().await.unwrap().into_bytes().to_vec();
        (body, meta)
    }

    /// GET through the gateway, whole body.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let out = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .expect("GET through gateway");
        out.body.collect().await.unwrap().into_bytes().to_vec()
    }

    pub async fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        let out = self
            .client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(body.to_vec().into())
            .send()
            .await
            .expect("PUT through gateway");
        out.e_tag().unwrap_or_default().to_owned()
    }
}

/// A replica started by [`TestGateway::replica`]; stops when dropped.
pub struct Gateway2 {
    pub client: Client,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An aws-sdk-s3 client as a real application would configure it (default checksum
/// behaviour, so uploads carry CRC32 trailers), pointed at `endpoint`.
pub fn client(endpoint: &str, ak: &str, sk: &str) -> Client {
    let creds = aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "test");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    Client::from_conf(conf)
}

/// Serves the gateway's embedded store bare (credentials testing/testing), so tests can read
/// it exactly as stored without going through the gateway.
pub async fn serve_plain_fs(root: &std::path::Path) -> String {
    // The same embedded store the gateway uses (one instance per directory per process).
    let fs = s3seal::store::Store::open(root).expect("embedded store");
    let mut b = s3s::service::S3ServiceBuilder::new(fs);
    b.set_auth(s3s::auth::SimpleAuth::from_single("testing", "testing"));
    b.set_access(s3seal::policy::SignedOnly);
    let service = b.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(s3seal::server::serve(
        listener,
        service,
        std::sync::Arc::new(s3seal::server::Ops::bare()),
        std::future::pending(),
        std::time::Duration::from_secs(1),
    ));
    format!("http://{addr}")
}

/// The S3 error code of a failed call (`None` on success); "HTTP <status>" when the answer
/// had no body to carry a code (HEAD).
pub fn error_code<T, E: aws_sdk_s3::error::ProvideErrorMetadata>(
    r: Result<T, aws_sdk_s3::error::SdkError<E>>,
) -> Option<String> {
    match r {
        Ok(_) => None,
        Err(e) => Some(
            aws_sdk_s3::error::ProvideErrorMetadata::code(&e)
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    format!("HTTP {:?}", e.raw_response().map(|r| r.status().as_u16()))
                }),
        ),
    }
}

/// Uploads `data` as a multipart object in `part`-byte parts (the last one shorter).
pub async fn multipart_put(c: &Client, b: &str, k: &str, data: &[u8], part: usize) {
    let (id, parts) = upload_parts(c, b, k, data, part).await;
    c.complete_multipart_upload()
        .bucket(b)
        .key(k)
        .upload_id(&id)
        .multipart_upload(parts)
        .send()
        .await
        .unwrap();
}

/// Uploads `data` in `part`-byte parts without completing; returns the upload id and the
/// list a Complete sends.
pub async fn upload_parts(
    c: &Client,
    b: &str,
    k: &str,
    data: &[u8],
    part: usize,
) -> (String, aws_sdk_s3::types::CompletedMultipartUpload) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    let id = c
        .create_multipart_upload()
        .bucket(b)
        .key(k)
        .send()
        .await
        .unwrap();
    let id = id.upload_id.unwrap();
    let mut parts = Vec::new();
    for (n, chunk) in data.chunks(part).enumerate() {
        let n = n as i32 + 1;
        let p = c
            .upload_part()
            .bucket(b)
            .key(k)
            .upload_id(&id)
            .part_number(n);
        let e = p
            .body(chunk.to_vec().into())
            .send()
            .await
            .unwrap()
            .e_tag
            .unwrap();
        parts.push(CompletedPart::builder().part_number(n).e_tag(e).build());
    }
    (
        id,
        CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build(),
    )
}

/// Sends one raw HTTP/1.1 request (for presigned URLs, which no SDK client sends) and
/// returns (status, head, body).
pub async fn raw_request(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path_and_query} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") && !k.eq_ignore_ascii_case("content-length") {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let body = buf.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

/// Presigns a PUT of `len` bytes with `c` and sends only its request head (plus `extra`, raw
/// `name: value\r\n` lines) on a fresh connection to the URL's host; the caller writes (or
/// withholds) the body, for tests that pace, cut or abandon an upload mid-body.
pub async fn presigned_put_head(
    c: &Client,
    bucket: &str,
    key: &str,
    len: usize,
    extra: &str,
) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let url = c
        .put_object()
        .bucket(bucket)
        .key(key)
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                300,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let u: http::Uri = url.uri().parse().unwrap();
    let addr = u.authority().unwrap().as_str().to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "PUT {} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {len}\r\n{extra}",
        u.path_and_query().unwrap()
    );
    for (k, v) in url.headers() {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{pid}-{n}-{nanos:x}")
}

/// moto's endpoint: `S3SEAL_TEST_MOTO_URL` if the test script started one, else a server
/// this process starts once and that exits with it.
pub fn moto_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        if let Ok(u) = std::env::var("S3SEAL_TEST_MOTO_URL") {
            return u;
        }
        spawn_moto()
    })
    .clone()
}

fn spawn_moto() -> String {
    let python = std::env::var("S3SEAL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    spawn_moto_with(&python)
}

/// Starts a moto server with `python` (whose moto version the caller chose) on a free
/// loopback port; it lives as long as this test process.
pub fn spawn_moto_with(python: &str) -> String {
    use std::io::BufRead;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/moto_server.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start moto with {python}: {e}; run ./scripts/test, which installs it")
        });
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        "ready",
        "moto did not start (is moto[server] installed for {python}?)"
    );
    // Keep stdin open for the life of this process: moto exits when it closes.
    std::mem::forget(child);
    format!("http://127.0.0.1:{port}")
}

/// Deterministic pseudo-random bytes, so failures are reproducible.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every file (not directory) below `root`: the embedded store's body files, for tests that
/// edit the store's bytes directly.
pub fn files_under(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                files.push(e.path());
            }
        }
    }
    files
}

/// Logs to the test's captured output when `S3SEAL_LOG` is set (e.g. `S3SEAL_LOG=debug`).
pub fn init_logs() {
    if let Ok(filter) = std::env::var("S3SEAL_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A proxy user with an inline secret.
pub fn user(ak: &str, sk: &str, rules: Vec<RuleConfig>) -> UserConfig {
    UserConfig {
        access_key: ak.into(),
        secret_key: Some(sk.into()),
        secret_key_env: None,
        secret_key_file: None,
        expires: None,
        rules,
    }
}

/// An access rule: `allow` names permissions (read, write, delete, list, admin).
pub fn rule(bucket: &str, prefix: &str, allow: &[&str]) -> RuleConfig {
    RuleConfig {
        bucket: bucket.into(),
        prefix: prefix.into(),
        allow: allow.iter().map(|s| s.to_string()).collect(),
    }
}

/// A storage-policy location with no size or type limits.
pub fn policy(bucket: &str, prefix: &str, mode: BucketMode) -> BucketPolicyConfig {
    BucketPolicyConfig {
        bucket: bucket.into(),
        prefix: prefix.into(),
        mode,
        max_object_size: None,
        allowed_content_types: vec![],
    }
}

/// A gateway with these `[[buckets]]` rules, and a fresh bucket on it.
pub async fn start_with_policies(
    kind: Upstream,
    rules: Vec<BucketPolicyConfig>,
) -> (TestGateway, String) {
    let gw = TestGateway::start_with(kind, |c| c.buckets = rules).await;
    let b = gw.bucket().await;
    (gw, b)
}

/// Whether the store holds `b/k` (asked directly, bypassing the gateway).
pub async fn stored(gw: &TestGateway, b: &str, k: &str) -> bool {
    gw.upstream
        .head_object()
        .bucket(b)
        .key(k)
        .send()
        .await
        .is_ok()
}
