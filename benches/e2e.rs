//! End to end, proxy vs direct, in one run: the same aws-sdk-s3 workload against a store
//! server (the embedded store; S3SEAL_BENCH_STORE=s3s-fs for s3s-fs) directly and through
//! the real s3seal binary (release build, its own process, so
//! its peak RSS and CPU time can be read from /proc). `cargo bench --bench e2e`.
//! Sizes: S3SEAL_BENCH_LARGE_MIB (default 1024), S3SEAL_BENCH_MULTIPART_MIB (default 5120),
//! S3SEAL_BENCH_SMALL_OPS (default 10000), S3SEAL_BENCH_STREAMS (default 64);
//! S3SEAL_BENCH_GATEWAY_CPU pins the gateway to one core. rclone, when
//! installed (and S3SEAL_BENCH_RCLONE is not 0), is run plain and with its crypt remote over
//! the same store for comparison.
//! Writes target/bench-e2e.json; the README's docs/PERFORMANCE.md records a run.

mod common;

use common::workload::{drain, list_all, multipart, proc_stat, put_get_large, small, spawn};
use common::{client, env_usize};

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

struct Row {
    name: String,
    direct: f64,
    proxy: f64,
    unit: &'static str,
}

impl Row {
    fn new(name: String, direct: f64, proxy: f64, unit: &'static str) -> Row {
        Row {
            name,
            direct,
            proxy,
            unit,
        }
    }
}

/// `streams` clients each PUT then GET their own `size`-byte object, all at once. Returns the
/// aggregate MiB/s (both directions).
async fn concurrent_streams(c: &Client, b: &str, streams: usize, size: usize) -> f64 {
    let body = bytes::Bytes::from((0..size).map(|i| (i % 239) as u8).collect::<Vec<u8>>());
    let t = Instant::now();
    let tasks: Vec<_> = (0..streams)
        .map(|i| {
            let (c, b, body) = (c.clone(), b.to_owned(), body.clone());
            tokio::spawn(async move {
                let key = format!("stream/{i}");
                c.put_object()
                    .bucket(&b)
                    .key(&key)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
                let g = c.get_object().bucket(&b).key(&key).send().await.unwrap();
                assert_eq!(drain(g.body).await, size);
                c.delete_object().bucket(&b).key(&key).send().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (2 * streams * size) as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64()
}

async fn ranges(c: &Client, b: &str, key: &str, size: usize) -> f64 {
    let t = Instant::now();
    for i in 0..20usize {
        let start = (i * 7919 * 4096) % (size - (1 << 20));
        let g = c
            .get_object()
            .bucket(b)
            .key(key)
            .range(format!("bytes={start}-{}", start + (1 << 20) - 1))
            .send()
            .await
            .unwrap();
        assert_eq!(g.body.collect().await.unwrap().into_bytes().len(), 1 << 20);
    }
    t.elapsed().as_secs_f64() * 1000.0 / 20.0
}

/// Peak resident memory of a process, sampled every 20 ms; `take` returns the peak since the
/// last `take`, so each phase reports its own peak rather than the process's all-time HWM.
struct RssSampler {
    peak: Arc<std::sync::atomic::AtomicU64>,
}

impl RssSampler {
    fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let p = peak.clone();
        std::thread::spawn(move || {
            loop {
                let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                    return;
                };
                let kb = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
                    .unwrap_or(0u64);
                p.fetch_max(kb, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssSampler { peak }
    }

    /// Peak in MiB since the last call.
    fn take(&self) -> f64 {
        self.peak.swap(0, std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
    }
}

/// rclone against the same upstream: its plain S3 remote (the baseline), its crypt remote
/// (the alternative to s3seal), and its plain S3 remote pointed at s3seal. Returns
/// (name, PUT MiB/s, GET MiB/s) per variant, or None when rclone is not installed.
fn rclone_runs(
    dir: &std::path::Path,
    up_url: &str,
    gw_url: &str,
    size: usize,
) -> Option<Vec<(&'static str, f64, f64)>> {
    if std::env::var("S3SEAL_BENCH_RCLONE").as_deref() == Ok("0") {
        return None;
    }
    let ok = Command::new("rclone")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        println!("rclone not found: skipping the rclone crypt comparison");
        return None;
    }
    let obscured = Command::new("rclone")
        .args(["obscure", "bench-crypt-password"])
        .output()
        .ok()?;
    let obscured = String::from_utf8_lossy(&obscured.stdout).trim().to_owned();
    let src = dir.join("rclone-src.bin");
    std::fs::write(
        &src,
        (0..size).map(|i| (i % 241) as u8).collect::<Vec<u8>>(),
    )
    .ok()?;
    let conf = dir.join("rclone.conf");
    std::fs::write(&conf, "").ok()?;
    let mut env: Vec<(String, String)> = vec![("RCLONE_CONFIG".into(), conf.display().to_string())];
    for (name, url, ak, sk) in [
        ("DIRECT", up_url, "direct", "direct-secret"),
        ("GW", gw_url, "bench", "bench-secret"),
    ] {
        for (k, v) in [
            ("TYPE", "s3"),
            ("PROVIDER", "Other"),
            ("ENDPOINT", url),
            ("ACCESS_KEY_ID", ak),
            ("SECRET_ACCESS_KEY", sk),
            ("REGION", "us-east-1"),
            ("FORCE_PATH_STYLE", "true"),
        ] {
            env.push((format!("RCLONE_CONFIG_{name}_{k}"), v.into()));
        }
    }
    env.push(("RCLONE_CONFIG_SEALED_TYPE".into(), "crypt".into()));
    env.push((
        "RCLONE_CONFIG_SEALED_REMOTE".into(),
        "direct:direct-bucket/rclone-crypt".into(),
    ));
    env.push(("RCLONE_CONFIG_SEALED_PASSWORD".into(), obscured));
    // rclone's S3 backend fails on AWS_CA_BUNDLE with its own transport (plain http here).
    let run = |args: &[&str]| {
        let t = Instant::now();
        let st = Command::new("rclone")
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("AWS_CA_BUNDLE")
            .stdout(Stdio::null())
            .status()
            .ok()?;
        if !st.success() {
            println!("rclone {args:?} failed: skipping the rclone comparison");
            return None;
        }
        Some(t.elapsed().as_secs_f64())
    };
    let mib = size as f64 / (1 << 20) as f64;
    let src = src.display().to_string();
    let mut out = Vec::new();
    for (name, remote) in [
        ("rclone → store", "direct:direct-bucket/rclone-plain/big"),
        ("rclone crypt → store", "sealed:big"),
        ("rclone → s3seal → store", "gw:proxy-bucket/rclone/big"),
    ] {
        let put = run(&["copyto", &src, remote])?;
        let get = run(&["cat", remote])?;
        run(&["deletefile", remote])?;
        out.push((name, mib / put, mib / get));
    }
    let _ = std::fs::remove_file(&src);
    Some(out)
}

#[tokio::main]
async fn main() {
    let large = env_usize("S3SEAL_BENCH_LARGE_MIB", 1024) << 20;
    let multi = env_usize("S3SEAL_BENCH_MULTIPART_MIB", 5120) << 20;
    let n_small = env_usize("S3SEAL_BENCH_SMALL_OPS", 10000);
    let streams = env_usize("S3SEAL_BENCH_STREAMS", 64);
    let dir = common::scratch_dir("s3seal-bench");
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();

    // The upstream over HTTP on loopback: the embedded store (the default deployment's), or
    // s3s-fs with S3SEAL_BENCH_STORE=s3s-fs (no object tagging: commit_layout off).
    let s3s_fs_store = std::env::var("S3SEAL_BENCH_STORE").is_ok_and(|v| v == "s3s-fs");
    let mut sb = if s3s_fs_store {
        s3s::service::S3ServiceBuilder::new(s3s_fs::FileSystem::new(&data_dir).unwrap())
    } else {
        s3s::service::S3ServiceBuilder::new(s3seal::store::Store::open(&data_dir).unwrap())
    };
    sb.set_auth(s3s::auth::SimpleAuth::from_single(
        "direct",
        "direct-secret",
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up_addr = listener.local_addr().unwrap();
    let up_ops = Arc::new(s3seal::server::Ops::bare());
    tokio::spawn(s3seal::server::serve(
        listener,
        sb.build(),
        up_ops.clone(),
        std::future::pending(),
        Duration::from_secs(1),
    ));
    let up_url = format!("http://{up_addr}");

    // The gateway: the release binary in front of that upstream.
    let cfg = dir.path().join("gw.toml");
    std::fs::write(&cfg, format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nkind = \"s3\"\nendpoint = \"{up_url}\"\npath_style = true\naccess_key_id = \"direct\"\nsecret_access_key = \"direct-secret\"\n[keys]\nprovider = \"file\"\npath = \"{}\"\ncreate_if_missing = true\n[encryption]\ncommit_layout = {}\n[[users]]\naccess_key = \"bench\"\nsecret_key = \"bench-secret\"\n",
        dir.path().join("keys.toml").display(), !s3s_fs_store)).unwrap();
    // S3SEAL_BENCH_GATEWAY_CPU=1 pins the gateway to that core (the sidecar with a core of
    // its own); run the bench itself on the others, e.g. `taskset -c 0 cargo bench ...`.
    let mut gw = match std::env::var("S3SEAL_BENCH_GATEWAY_CPU") {
        Ok(cpu) => {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu, BIN]);
            c
        }
        Err(_) => Command::new(BIN),
    };
    let gw = spawn(
        gw.args(["serve", "--config"])
            .arg(&cfg)
            .env("S3SEAL_LOG", "warn"),
    );
    let (gw_url, pid) = (gw.url.clone(), gw.pid);
    let rss = RssSampler::start(pid);

    let direct = client(&up_url, "direct", "direct-secret");
    let proxy = client(&gw_url, "bench", "bench-secret");
    direct
        .create_bucket()
        .bucket("direct-bucket")
        .send()
        .await
        .unwrap();
    proxy
        .create_bucket()
        .bucket("proxy-bucket")
        .send()
        .await
        .unwrap();
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let gib = |n: usize| n as f64 / (1u64 << 30) as f64;

    // CPU shares show what the second hop costs: this process is the client and the store,
    // so "direct" is client + store and the gateway's own share is counted apart.
    let own_cpu = || proc_stat(std::process::id()).1;

    // Large single-request objects.
    {
        let data = bytes::Bytes::from((0..large).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let own0 = own_cpu();
        let (dp, dg) = put_get_large(&direct, "direct-bucket", &data).await;
        let direct_cpu = own_cpu() - own0;
        rss.take();
        let (own0, cpu0) = (own_cpu(), proc_stat(pid).1);
        let (pp, pg) = put_get_large(&proxy, "proxy-bucket", &data).await;
        let (proxy_cpu, cpu) = (own_cpu() - own0, proc_stat(pid).1 - cpu0);
        let per_gib = |c: f64| c / (2.0 * gib(large));
        notes.push(format!(
            "single {} MiB object: gateway peak RSS {:.1} MiB; CPU s per GiB (PUT+GET): direct {:.2} (client + store), through s3seal {:.2} (client + store) + {:.2} (gateway)",
            large >> 20,
            rss.take(),
            per_gib(direct_cpu),
            per_gib(proxy_cpu),
            per_gib(cpu)
        ));
        rows.push(Row::new(
            format!("PUT {} MiB", large >> 20),
            dp,
            pp,
            "MiB/s",
        ));
        rows.push(Row::new(
            format!("GET {} MiB", large >> 20),
            dg,
            pg,
            "MiB/s",
        ));
        direct
            .delete_object()
            .bucket("direct-bucket")
            .key("large")
            .send()
            .await
            .unwrap();
        proxy
            .delete_object()
            .bucket("proxy-bucket")
            .key("large")
            .send()
            .await
            .unwrap();
    }

    // Multipart: 64 MiB parts, 8 in flight both ways; then 1 MiB ranges from that object.
    {
        let part = 64usize << 20;
        let pattern = bytes::Bytes::from((0..part).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
        let (dp, dg) = multipart(
            std::slice::from_ref(&direct),
            "direct-bucket",
            multi,
            part,
            8,
            &pattern,
        )
        .await;
        let rd = ranges(&direct, "direct-bucket", "multi", multi).await;
        direct
            .delete_object()
            .bucket("direct-bucket")
            .key("multi")
            .send()
            .await
            .unwrap();
        rss.take();
        let cpu0 = proc_stat(pid).1;
        let (pp, pg) = multipart(
            std::slice::from_ref(&proxy),
            "proxy-bucket",
            multi,
            part,
            8,
            &pattern,
        )
        .await;
        let cpu = proc_stat(pid).1 - cpu0;
        notes.push(format!(
            "multipart {} MiB object, 8 parts in flight: gateway peak RSS {:.1} MiB, CPU {:.2} s per GiB (PUT+GET)",
            multi >> 20,
            rss.take(),
            cpu / (2.0 * gib(multi))
        ));
        let before = up_ops
            .metrics
            .bytes_sent
            .load(std::sync::atomic::Ordering::Relaxed);
        let rp = ranges(&proxy, "proxy-bucket", "multi", multi).await;
        let per_range = (up_ops
            .metrics
            .bytes_sent
            .load(std::sync::atomic::Ordering::Relaxed)
            - before) as f64
            / 20.0;
        notes.push(format!(
            "upstream bytes read per 1 MiB range GET from the {} MiB object through s3seal: {:.3} MiB",
            multi >> 20,
            per_range / (1 << 20) as f64
        ));
        proxy
            .delete_object()
            .bucket("proxy-bucket")
            .key("multi")
            .send()
            .await
            .unwrap();
        rows.push(Row::new(
            format!("multipart PUT {} MiB, 8 parallel", multi >> 20),
            dp,
            pp,
            "MiB/s",
        ));
        rows.push(Row::new(
            format!("multipart GET {} MiB, 8 parallel", multi >> 20),
            dg,
            pg,
            "MiB/s",
        ));
        rows.push(Row::new("1 MiB range GET".into(), rd, rp, "ms"));
    }

    // Many large streams at once.
    {
        let size = 16usize << 20;
        let d = concurrent_streams(&direct, "direct-bucket", streams, size).await;
        rss.take();
        let p = concurrent_streams(&proxy, "proxy-bucket", streams, size).await;
        notes.push(format!(
            "{streams} concurrent 16 MiB PUT+GET streams: gateway peak RSS {:.1} MiB",
            rss.take()
        ));
        rows.push(Row::new(
            format!("{streams} streams × 16 MiB PUT+GET"),
            d,
            p,
            "MiB/s",
        ));
    }

    // Small objects.
    for conc in [1usize, 64] {
        let n = if conc == 1 { n_small / 4 } else { n_small };
        let c0 = own_cpu();
        let d = small(std::slice::from_ref(&direct), "direct-bucket", n, conc).await;
        let direct_cpu = own_cpu() - c0;
        let (c0, g0) = (own_cpu(), proc_stat(pid).1);
        let p = small(std::slice::from_ref(&proxy), "proxy-bucket", n, conc).await;
        let (proxy_cpu, gw_cpu) = (own_cpu() - c0, proc_stat(pid).1 - g0);
        let per_op = |cpu: f64| cpu * 1e6 / (3 * n) as f64;
        notes.push(format!(
            "4 KiB PUT/GET/HEAD at concurrency {conc}, CPU per op: direct {:.0} µs (client + store); through s3seal {:.0} µs (client + store) + {:.0} µs (gateway)",
            per_op(direct_cpu),
            per_op(proxy_cpu),
            per_op(gw_cpu)
        ));
        for (i, op) in ["PUT", "GET", "HEAD"].iter().enumerate() {
            rows.push(Row::new(
                format!("4 KiB {op} c={conc} ops/s"),
                d[i].ops,
                p[i].ops,
                "ops/s",
            ));
            rows.push(Row::new(
                format!("4 KiB {op} c={conc} p50"),
                d[i].p50,
                p[i].p50,
                "ms",
            ));
            rows.push(Row::new(
                format!("4 KiB {op} c={conc} p99"),
                d[i].p99,
                p[i].p99,
                "ms",
            ));
        }
    }
    let (ld, lp) = (
        list_all(&direct, "direct-bucket").await,
        list_all(&proxy, "proxy-bucket").await,
    );
    rows.push(Row::new(format!("LIST {n_small} objects"), ld, lp, "ms"));

    let rclone = rclone_runs(dir.path(), &up_url, &gw_url, large);
    if let Some(runs) = &rclone {
        let (base_put, base_get) = (runs[0].1, runs[0].2);
        for (name, put, get) in runs.iter().skip(1) {
            rows.push(Row::new(
                format!("{name} PUT {} MiB", large >> 20),
                base_put,
                *put,
                "MiB/s",
            ));
            rows.push(Row::new(
                format!("{name} GET {} MiB", large >> 20),
                base_get,
                *get,
                "MiB/s",
            ));
        }
    }
    let (hwm, cpu_total) = proc_stat(pid);

    println!(
        "{:<40} {:>12} {:>12} {:>8}",
        "workload", "direct", "s3seal", "ratio"
    );
    let mut json = Vec::new();
    for r in &rows {
        let ratio = if r.unit == "ms" {
            r.direct / r.proxy
        } else {
            r.proxy / r.direct
        };
        println!(
            "{:<40} {:>9.2} {:<5} {:>9.2} {:<5} {:>6.2}",
            r.name, r.direct, r.unit, r.proxy, r.unit, ratio
        );
        json.push(format!(
            "{{\"workload\":\"{}\",\"unit\":\"{}\",\"direct\":{:.3},\"proxy\":{:.3},\"ratio\":{:.3}}}",
            r.name, r.unit, r.direct, r.proxy, ratio
        ));
    }
    println!("(ratio: proxy/direct for throughput, direct/proxy for times; 1.0 = no cost;");
    println!(" rclone rows: 'direct' is rclone's plain S3 remote straight to the store)");
    for n in &notes {
        println!("{n}");
    }
    println!(
        "gateway: peak RSS {:.1} MiB over the whole run, {:.1} CPU s in all",
        hwm as f64 / 1024.0,
        cpu_total
    );
    let notes_json: Vec<String> = notes.iter().map(|n| format!("{n:?}")).collect();
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-e2e.json"),
        format!(
            "{{\"rows\":[{}],\n\"notes\":[{}]}}\n",
            json.join(",\n"),
            notes_json.join(",\n")
        ),
    );
    drop(gw);
}
