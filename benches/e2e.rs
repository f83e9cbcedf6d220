//! End to end, proxy vs direct, in one run: the same aws-sdk-s3 workload against an s3s-fs
//! server directly and through the real s3seal binary (release build, its own process, so
//! its peak RSS and CPU time can be read from /proc). `cargo bench --bench e2e`.
//! Sizes: S3SEAL_BENCH_LARGE_MIB (default 256), S3SEAL_BENCH_SMALL_OPS (default 2000).
//! Writes target/bench-e2e.json; the README's docs/PERFORMANCE.md records a run.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

fn client(endpoint: &str, ak: &str, sk: &str) -> Client {
    let creds = aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "bench");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    Client::from_conf(conf)
}

struct Row {
    name: String,
    direct: f64,
    proxy: f64,
    unit: &'static str,
}

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn proc_stat(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0u64);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let f: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = f.get(11).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (hwm, ticks / 100.0)
}

async fn put_get_large(c: &Client, b: &str, data: &bytes::Bytes) -> (f64, f64) {
    let t = Instant::now();
    c.put_object()
        .bucket(b)
        .key("large")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    let put = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got = c.get_object().bucket(b).key("large").send().await.unwrap();
    let n = got.body.collect().await.unwrap().into_bytes().len();
    assert_eq!(n, data.len());
    let get = t.elapsed().as_secs_f64();
    let mib = data.len() as f64 / (1 << 20) as f64;
    (mib / put, mib / get)
}

/// ops/s and p50 latency (ms) for `n` 4 KiB PUTs then GETs at concurrency `conc`.
async fn small(c: &Client, b: &str, n: usize, conc: usize) -> (f64, f64, f64) {
    let body = bytes::Bytes::from(vec![7u8; 4096]);
    let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(2 * n)));
    let t = Instant::now();
    for phase in 0..2 {
        let sem = Arc::new(tokio::sync::Semaphore::new(conc));
        let mut tasks = Vec::new();
        for i in 0..n {
            let (c, b, body, lat, sem) = (
                c.clone(),
                b.to_owned(),
                body.clone(),
                lat.clone(),
                sem.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await.unwrap();
                let t = Instant::now();
                let key = format!("small/{i}");
                if phase == 0 {
                    c.put_object()
                        .bucket(&b)
                        .key(&key)
                        .body(ByteStream::from(body))
                        .send()
                        .await
                        .unwrap();
                } else {
                    let g = c.get_object().bucket(&b).key(&key).send().await.unwrap();
                    g.body.collect().await.unwrap();
                }
                lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let mut l = lat.lock().unwrap().clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (2.0 * n as f64 / secs, l[l.len() / 2], l[l.len() * 99 / 100])
}

async fn list_all(c: &Client, b: &str) -> f64 {
    let t = Instant::now();
    let mut token = None;
    let mut n = 0;
    loop {
        let out = c
            .list_objects_v2()
            .bucket(b)
            .prefix("small/")
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        n += out.contents().len();
        token = out.next_continuation_token().map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert!(n > 0);
    t.elapsed().as_secs_f64() * 1000.0
}

async fn ranges(c: &Client, b: &str, size: usize) -> f64 {
    let t = Instant::now();
    for i in 0..20usize {
        let start = (i * 7919 * 4096) % (size - (1 << 20));
        let g = c
            .get_object()
            .bucket(b)
            .key("large")
            .range(format!("bytes={start}-{}", start + (1 << 20) - 1))
            .send()
            .await
            .unwrap();
        assert_eq!(g.body.collect().await.unwrap().into_bytes().len(), 1 << 20);
    }
    t.elapsed().as_secs_f64() * 1000.0 / 20.0
}

#[tokio::main]
async fn main() {
    let large = env_usize("S3SEAL_BENCH_LARGE_MIB", 256) << 20;
    let n_small = env_usize("S3SEAL_BENCH_SMALL_OPS", 2000);
    let root = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    let dir = tempfile::Builder::new()
        .prefix("s3seal-bench")
        .tempdir_in(root)
        .unwrap();
    let data_dir = dir.path().join("data");
    std::fs::create_dir_all(&data_dir).unwrap();

    // The upstream: s3s-fs over HTTP on loopback, with its own byte counter.
    let fs = s3s_fs::FileSystem::new(&data_dir).unwrap();
    let mut sb = s3s::service::S3ServiceBuilder::new(fs);
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
        "[server]\nlisten = \"127.0.0.1:0\"\n[upstream]\nkind = \"s3\"\nendpoint = \"{up_url}\"\npath_style = true\naccess_key_id = \"direct\"\nsecret_access_key = \"direct-secret\"\n[keys]\nprovider = \"file\"\npath = \"{}\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"bench\"\nsecret_key = \"bench-secret\"\n",
        dir.path().join("keys.toml").display())).unwrap();
    let mut gw = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env("S3SEAL_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(gw.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let gw_url = line.split_whitespace().last().unwrap().to_owned();
    let pid = gw.id();

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
    let data = bytes::Bytes::from((0..large).map(|i| (i % 251) as u8).collect::<Vec<u8>>());

    let mut rows = Vec::new();
    let (dp, dg) = put_get_large(&direct, "direct-bucket", &data).await;
    let (cpu0, _) = (proc_stat(pid).1, 0);
    let (pp, pg) = put_get_large(&proxy, "proxy-bucket", &data).await;
    let cpu_large = proc_stat(pid).1 - cpu0;
    let rss_large = proc_stat(pid).0;
    rows.push(Row {
        name: format!("PUT {} MiB", large >> 20),
        direct: dp,
        proxy: pp,
        unit: "MiB/s",
    });
    rows.push(Row {
        name: format!("GET {} MiB", large >> 20),
        direct: dg,
        proxy: pg,
        unit: "MiB/s",
    });

    for conc in [1usize, 64] {
        let n = if conc == 1 { n_small / 4 } else { n_small };
        let d = small(&direct, "direct-bucket", n, conc).await;
        let p = small(&proxy, "proxy-bucket", n, conc).await;
        rows.push(Row {
            name: format!("4 KiB PUT+GET, concurrency {conc}"),
            direct: d.0,
            proxy: p.0,
            unit: "ops/s",
        });
        rows.push(Row {
            name: format!("4 KiB p50 latency, concurrency {conc}"),
            direct: d.1,
            proxy: p.1,
            unit: "ms",
        });
        rows.push(Row {
            name: format!("4 KiB p99 latency, concurrency {conc}"),
            direct: d.2,
            proxy: p.2,
            unit: "ms",
        });
    }
    let (ld, lp) = (
        list_all(&direct, "direct-bucket").await,
        list_all(&proxy, "proxy-bucket").await,
    );
    rows.push(Row {
        name: format!("LIST {n_small} objects"),
        direct: ld,
        proxy: lp,
        unit: "ms",
    });
    let rd = ranges(&direct, "direct-bucket", large).await;
    let before = up_ops
        .metrics
        .bytes_sent
        .load(std::sync::atomic::Ordering::Relaxed);
    let rp = ranges(&proxy, "proxy-bucket", large).await;
    let upstream_per_range = (up_ops
        .metrics
        .bytes_sent
        .load(std::sync::atomic::Ordering::Relaxed)
        - before) as f64
        / 20.0;
    rows.push(Row {
        name: "1 MiB range GET".into(),
        direct: rd,
        proxy: rp,
        unit: "ms",
    });
    let (rss, cpu_total) = proc_stat(pid);

    println!(
        "{:<38} {:>12} {:>12} {:>8}",
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
            "{:<38} {:>9.1} {:<2} {:>9.1} {:<2} {:>7.2}",
            r.name, r.direct, "", r.proxy, "", ratio
        );
        json.push(format!(
            "{{\"workload\":\"{}\",\"unit\":\"{}\",\"direct\":{:.3},\"proxy\":{:.3},\"ratio\":{:.3}}}",
            r.name, r.unit, r.direct, r.proxy, ratio
        ));
    }
    println!("(ratio: proxy/direct for throughput, direct/proxy for times; 1.0 = no cost)");
    println!(
        "gateway peak RSS: {:.1} MiB after large objects, {:.1} MiB at the end",
        rss_large as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    println!(
        "gateway CPU: {:.2} s per GiB through (PUT+GET of the large object); {:.1} s total",
        cpu_large / (2.0 * large as f64 / (1u64 << 30) as f64),
        cpu_total
    );
    println!(
        "upstream bytes read per 1 MiB range GET through s3seal: {:.3} MiB",
        upstream_per_range / (1 << 20) as f64
    );
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-e2e.json"),
        format!("[{}]\n", json.join(",\n")),
    );
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = gw.wait();
}
