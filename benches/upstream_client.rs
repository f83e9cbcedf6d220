//! What the aws-sdk-s3 pipeline costs per small request, against the leanest client that
//! still does the same job: one keep-alive hyper HTTP/1 connection and a hand-rolled SigV4
//! header signature. Both send sequential 4 KiB GETs and HEADs to the same bare store process
//! (`s3seal store-serve`); this process is only the client, so its CPU time per request is
//! the client's cost. This is the measurement behind the choice of the gateway's upstream
//! client for a remote store (docs/PERFORMANCE.md). `cargo bench --bench upstream_client`;
//! S3SEAL_BENCH_SMALL_OPS (default 5000) requests per phase.

mod common;

use common::workload::{proc_stat, spawn};
use common::{client, env_usize};

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Empty};
use sha2::{Digest, Sha256};
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");
const AK: &str = "direct";
const SK: &str = "direct-secret";
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// A SigV4-signed request without a body, as any S3 SDK would send it.
fn signed(method: &str, host: &str, path: &str) -> http::Request<Empty<bytes::Bytes>> {
    let now = time::OffsetDateTime::now_utc();
    let amz_date = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let day = &amz_date[..8];
    let canonical = format!(
        "{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{EMPTY_SHA256}\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
    );
    let scope = format!("{day}/us-east-1/s3/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let mut k = hmac(format!("AWS4{SK}").as_bytes(), day);
    for part in ["us-east-1", "s3", "aws4_request"] {
        k = hmac(&k, part);
    }
    let sig = hex::encode(hmac(&k, &to_sign));
    http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", host)
        .header("x-amz-content-sha256", EMPTY_SHA256)
        .header("x-amz-date", &amz_date)
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={AK}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={sig}"
            ),
        )
        .body(Empty::new())
        .unwrap()
}

fn cpu() -> f64 {
    proc_stat(std::process::id()).1
}

/// (µs of this process's CPU per request, requests per second).
fn per_op(c0: f64, t: Instant, n: usize) -> (f64, f64) {
    (
        (cpu() - c0) * 1e6 / n as f64,
        n as f64 / t.elapsed().as_secs_f64(),
    )
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = env_usize("S3SEAL_BENCH_SMALL_OPS", 5000);
    let dir = common::scratch_dir("s3seal-bench-client");
    let path = dir.path().display().to_string();
    let store = spawn(
        Command::new(BIN)
            .args(["store-serve", "--path", &path, "--listen", "127.0.0.1:0"])
            .args(["--access-key", AK, "--secret-key", SK]),
    );
    let url = store.url.clone();
    let host = url.trim_start_matches("http://").to_owned();

    let sdk = client(&url, AK, SK);
    sdk.create_bucket().bucket("bench").send().await.unwrap();
    sdk.put_object()
        .bucket("bench")
        .key("k")
        .body(vec![7u8; 4096].into())
        .send()
        .await
        .unwrap();

    // The gateway's own upstream client (its config, interceptor included).
    let gw = s3seal::upstream::s3_client(
        Some(&url),
        "us-east-1",
        true,
        Some((AK.to_owned(), SK.to_owned())),
    )
    .await;
    let mut rows = Vec::new();
    for op in ["HEAD", "GET"] {
        let mut sdk_cost = Vec::new();
        for c in [&sdk, &gw] {
            let (c0, t) = (cpu(), Instant::now());
            for _ in 0..n {
                if op == "HEAD" {
                    let h = c.head_object().bucket("bench").key("k").send().await;
                    assert_eq!(h.unwrap().content_length(), Some(4096));
                } else {
                    let g = c.get_object().bucket("bench").key("k").send().await;
                    let body = g.unwrap().body.collect().await.unwrap().into_bytes();
                    assert_eq!(body.len(), 4096);
                }
            }
            sdk_cost.push(per_op(c0, t, n));
        }

        // hyper + SigV4 by hand over one keep-alive connection.
        let tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut send, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
                .await
                .unwrap();
        tokio::spawn(conn);
        let (c0, t) = (cpu(), Instant::now());
        for _ in 0..n {
            let resp = send
                .send_request(signed(op, &host, "/bench/k"))
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), if op == "GET" { 4096 } else { 0 });
        }
        let lean_cost = per_op(c0, t, n);
        rows.push((op, sdk_cost, lean_cost));
    }
    println!("client CPU per sequential 4 KiB request against the bare store ({n} each):");
    println!(
        "{:<6} {:>24} {:>24} {:>24}",
        "op", "aws-sdk-s3 defaults", "gateway's aws-sdk config", "hyper + SigV4"
    );
    for (op, sdk, lean) in &rows {
        let cell = |(c, r): (f64, f64)| format!("{c:>5.0} µs {r:>6.0} req/s");
        println!(
            "{op:<6} {:>24} {:>24} {:>24}",
            cell(sdk[0]),
            cell(sdk[1]),
            cell(*lean)
        );
    }
}
