//! The embedded store against s3s-fs, in one run (issue 17's performance bar): both served
//! in this process over loopback HTTP by the same server loop (TCP_NODELAY on both, so
//! neither pays Nagle + delayed ACK), data on /dev/shm, the same aws-sdk-s3 client.
//! `cargo bench --bench store`.
//!
//! Workloads: a large single-request PUT and GET (S3SEAL_BENCH_LARGE_MIB, default 1024),
//! 4 KiB PUT/GET at 16 connections (S3SEAL_BENCH_SMALL_OPS, default 5000), and a full
//! listing of S3SEAL_BENCH_LIST_KEYS keys (default 100000) in 1000-key pages, plain and with
//! a delimiter. Each timed phase runs S3SEAL_BENCH_ROUNDS times (default 3), the two stores
//! interleaved, and the best round counts. Writes target/bench-store.json.

mod common;

use common::{client, env_usize};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn serve<S: s3s::S3>(store: S) -> String {
    let mut sb = s3s::service::S3ServiceBuilder::new(store);
    sb.set_auth(s3s::auth::SimpleAuth::from_single("ak", "sk-secret"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(s3seal::server::serve(
        listener,
        sb.build(),
        Arc::new(s3seal::server::Ops::bare()),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    format!("http://{addr}")
}

/// Runs `n` calls of `f` with `conc` in flight; returns ops/s.
async fn many<F, Fut>(n: usize, conc: usize, f: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let t = Instant::now();
    let sem = Arc::new(tokio::sync::Semaphore::new(conc));
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.unwrap();
        let fut = f(i);
        tasks.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

async fn put_large(c: &Client, data: &bytes::Bytes) -> f64 {
    let t = Instant::now();
    c.put_object()
        .bucket("bench")
        .key("large")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    data.len() as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

async fn get_large(c: &Client, len: usize) -> f64 {
    let t = Instant::now();
    let mut body = c
        .get_object()
        .bucket("bench")
        .key("large")
        .send()
        .await
        .unwrap()
        .body;
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        n += chunk.unwrap().len();
    }
    assert_eq!(n, len);
    len as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

async fn small(c: &Client, n: usize, get: bool) -> f64 {
    let body = bytes::Bytes::from(vec![7u8; 4096]);
    many(n, 16, |i| {
        let (c, body) = (c.clone(), body.clone());
        async move {
            let key = format!("small/{i:05}");
            if get {
                let g = c
                    .get_object()
                    .bucket("bench")
                    .key(&key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(g.body.collect().await.unwrap().into_bytes().len(), 4096);
            } else {
                c.put_object()
                    .bucket("bench")
                    .key(&key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
            }
        }
    })
    .await
}

/// Keys spread over 100 "directories" so the delimiter listing has common prefixes.
fn list_key(i: usize) -> String {
    format!("list/d{:02}/obj-{i:06}", i % 100)
}

/// Lists every key under `list/` (with `delimiter`, only the top level); returns seconds.
async fn list_all(c: &Client, delimiter: Option<&str>, expect: usize) -> f64 {
    let t = Instant::now();
    let (mut token, mut n) = (None, 0);
    loop {
        let out = c
            .list_objects_v2()
            .bucket("bench")
            .prefix(if delimiter.is_some() {
                "list/"
            } else {
                "list/d"
            })
            .set_delimiter(delimiter.map(str::to_owned))
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        n += out.contents().len() + out.common_prefixes().len();
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(n, expect);
    t.elapsed().as_secs_f64()
}

/// Best of `rounds` for each store, rounds interleaved so drift hits both alike.
async fn best<F, Fut>(rounds: usize, higher_is_better: bool, mut f: F) -> (f64, f64)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = f64>,
{
    let pick = |a: f64, b: f64| {
        if higher_is_better { a.max(b) } else { a.min(b) }
    };
    let init = if higher_is_better { 0.0 } else { f64::MAX };
    let (mut fs, mut emb) = (init, init);
    for _ in 0..rounds {
        fs = pick(fs, f(0).await);
        emb = pick(emb, f(1).await);
    }
    (fs, emb)
}

#[tokio::main]
async fn main() {
    let large = env_usize("S3SEAL_BENCH_LARGE_MIB", 1024) << 20;
    let n_small = env_usize("S3SEAL_BENCH_SMALL_OPS", 5000);
    let n_list = env_usize("S3SEAL_BENCH_LIST_KEYS", 100_000);
    let rounds = env_usize("S3SEAL_BENCH_ROUNDS", 3).max(1);
    let dir = common::scratch_dir("s3seal-bench-store");
    let (fs_dir, emb_dir) = (dir.path().join("s3s-fs"), dir.path().join("embedded"));
    std::fs::create_dir_all(&fs_dir).unwrap();
    let fs_url = serve(s3s_fs::FileSystem::new(&fs_dir).unwrap()).await;
    let emb_url = serve(s3seal::store::Store::open(&emb_dir).unwrap()).await;
    let cs = [
        client(&fs_url, "ak", "sk-secret"),
        client(&emb_url, "ak", "sk-secret"),
    ];
    for c in &cs {
        c.create_bucket().bucket("bench").send().await.unwrap();
    }
    let mut rows: Vec<(String, &str, f64, f64)> = Vec::new();

    let data = bytes::Bytes::from((0..large).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let (a, b) = best(rounds, true, |s| put_large(&cs[s], &data)).await;
    rows.push((format!("PUT {} MiB", large >> 20), "MiB/s", a, b));
    let (a, b) = best(rounds, true, |s| get_large(&cs[s], large)).await;
    rows.push((format!("GET {} MiB", large >> 20), "MiB/s", a, b));
    drop(data);

    let (a, b) = best(rounds, true, |s| small(&cs[s], n_small, false)).await;
    rows.push(("4 KiB PUT, 16 connections".into(), "ops/s", a, b));
    let (a, b) = best(rounds, true, |s| small(&cs[s], n_small, true)).await;
    rows.push(("4 KiB GET, 16 connections".into(), "ops/s", a, b));

    // Seeding is not timed: empty objects, 32 in flight.
    let t = Instant::now();
    for c in &cs {
        many(n_list, 32, |i| {
            let c = c.clone();
            async move {
                c.put_object()
                    .bucket("bench")
                    .key(list_key(i))
                    .send()
                    .await
                    .unwrap();
            }
        })
        .await;
    }
    eprintln!(
        "seeded {n_list} keys in each store in {:.0} s",
        t.elapsed().as_secs_f64()
    );
    let (a, b) = best(rounds, false, |s| list_all(&cs[s], None, n_list)).await;
    rows.push((format!("LIST {n_list} keys (1000/page)"), "s", a, b));
    let (a, b) = best(rounds, false, |s| list_all(&cs[s], Some("/"), 100)).await;
    rows.push((format!("LIST delimiter '/' over {n_list} keys"), "s", a, b));

    println!(
        "{:<40} {:>14} {:>14} {:>7}",
        "workload", "s3s-fs", "embedded", "ratio"
    );
    let mut json = Vec::new();
    for (name, unit, fs, emb) in &rows {
        let ratio = if *unit == "s" { fs / emb } else { emb / fs };
        println!("{name:<40} {fs:>8.2} {unit:<5} {emb:>8.2} {unit:<5} {ratio:>7.2}");
        json.push(format!(
            "{{\"workload\":\"{name}\",\"unit\":\"{unit}\",\"s3s_fs\":{fs:.3},\"embedded\":{emb:.3},\"ratio\":{ratio:.3}}}"
        ));
    }
    println!(
        "(ratio: embedded/s3s-fs for throughput, s3s-fs/embedded for times; > 1 = embedded faster)"
    );
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-store.json"),
        format!("{{\"rows\":[{}]}}\n", json.join(",\n")),
    );
}
