//! The two deployments `benches/e2e.rs` does not measure, proxy vs direct in one run
//! (`cargo bench --bench deploy`; writes target/bench-deploy.json):
//!
//! 1. **The embedded default**: `s3seal serve` on a local directory (the store runs inside the
//!    gateway) against the same store served bare by `s3seal store-serve`. One loopback hop
//!    each, both separate processes of the same release binary with the same logging, so their
//!    CPU per request compares directly.
//! 2. **Scale-out**: N `s3seal serve` replicas in front of one store process, requests spread
//!    round-robin over them; the parts of one multipart upload go through different replicas
//!    (the upload id carries all the state) and every byte read back is compared.
//!
//! Sizes: S3SEAL_BENCH_LARGE_MIB (1024), S3SEAL_BENCH_SMALL_OPS (10000),
//! S3SEAL_BENCH_SCALE_MIB (1024), S3SEAL_BENCH_REPLICAS (3: runs 1..=3).

mod common;

use common::workload::{Proc, list_all, multipart, proc_stat, put_get_large, small, spawn};
use common::{client, env_usize};

use aws_sdk_s3::Client;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

fn store_serve(dir: &Path) -> Proc {
    let path = dir.display().to_string();
    spawn(Command::new(BIN).args([
        "store-serve",
        "--path",
        &path,
        "--listen",
        "127.0.0.1:0",
        "--access-key",
        "direct",
        "--secret-key",
        "direct-secret",
    ]))
}

/// A gateway with `upstream` as its `[upstream]` table; every replica shares `dir/keys.toml`.
fn gateway(dir: &Path, name: &str, upstream: &str) -> Proc {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nconsole = false\n[upstream]\n{upstream}\n[keys]\nprovider = \"file\"\npath = \"{}\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"bench\"\nsecret_key = \"bench-secret\"\n",
            dir.join("keys.toml").display()
        ),
    )
    .unwrap();
    spawn(Command::new(BIN).args(["serve", "--config", &cfg.display().to_string()]))
}

/// One result line: what, direct, through s3seal, unit (ratio derived).
struct Row(String, f64, f64, &'static str);

async fn bucket(c: &Client, b: &str) {
    c.create_bucket().bucket(b).send().await.unwrap();
}

/// The embedded default against the bare store.
async fn embedded(dir: &Path, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let large = env_usize("S3SEAL_BENCH_LARGE_MIB", 1024) << 20;
    let n_small = env_usize("S3SEAL_BENCH_SMALL_OPS", 10000);
    std::fs::create_dir_all(dir.join("bare")).unwrap();
    let bare = store_serve(&dir.join("bare"));
    let gw = gateway(
        dir,
        "embedded",
        &format!(
            "kind = \"local\"\npath = \"{}\"",
            dir.join("embedded").display()
        ),
    );
    let direct = client(&bare.url, "direct", "direct-secret");
    let proxy = client(&gw.url, "bench", "bench-secret");
    bucket(&direct, "bench").await;
    bucket(&proxy, "bench").await;
    let cpu = |p: &Proc| proc_stat(p.pid).1;

    let data = bytes::Bytes::from((0..large).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let c0 = cpu(&bare);
    let (dp, dg) = put_get_large(&direct, "bench", &data).await;
    let bare_cpu = cpu(&bare) - c0;
    let c0 = cpu(&gw);
    let (pp, pg) = put_get_large(&proxy, "bench", &data).await;
    let gw_cpu = cpu(&gw) - c0;
    let gib = 2.0 * large as f64 / (1u64 << 30) as f64;
    notes.push(format!(
        "embedded default, {} MiB PUT+GET: server CPU per GiB: bare store {:.2} s, gateway (store inside) {:.2} s; gateway peak RSS {:.1} MiB",
        large >> 20,
        bare_cpu / gib,
        gw_cpu / gib,
        proc_stat(gw.pid).0 as f64 / 1024.0
    ));
    rows.push(Row(
        format!("embedded: PUT {} MiB", large >> 20),
        dp,
        pp,
        "MiB/s",
    ));
    rows.push(Row(
        format!("embedded: GET {} MiB", large >> 20),
        dg,
        pg,
        "MiB/s",
    ));
    drop(data);

    for conc in [1usize, 16] {
        let n = if conc == 1 { n_small / 4 } else { n_small };
        let c0 = cpu(&bare);
        let d = small(std::slice::from_ref(&direct), "bench", n, conc).await;
        let bare_cpu = cpu(&bare) - c0;
        let c0 = cpu(&gw);
        let p = small(std::slice::from_ref(&proxy), "bench", n, conc).await;
        let gw_cpu = cpu(&gw) - c0;
        let per_op = |c: f64| c * 1e6 / (3 * n) as f64;
        notes.push(format!(
            "embedded default, 4 KiB PUT/GET/HEAD at concurrency {conc}: server CPU per op: bare store {:.0} µs, gateway {:.0} µs",
            per_op(bare_cpu),
            per_op(gw_cpu)
        ));
        for (i, op) in ["PUT", "GET", "HEAD"].iter().enumerate() {
            rows.push(Row(
                format!("embedded: 4 KiB {op} c={conc} ops/s"),
                d[i].ops,
                p[i].ops,
                "ops/s",
            ));
            rows.push(Row(
                format!("embedded: 4 KiB {op} c={conc} p50"),
                d[i].p50,
                p[i].p50,
                "ms",
            ));
        }
    }
    rows.push(Row(
        format!("embedded: LIST {n_small} objects"),
        list_all(&direct, "bench").await,
        list_all(&proxy, "bench").await,
        "ms",
    ));
}

/// N replicas round-robin over one store, for N in 1..=max.
async fn scale_out(dir: &Path, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let total = env_usize("S3SEAL_BENCH_SCALE_MIB", 1024) << 20;
    let max = env_usize("S3SEAL_BENCH_REPLICAS", 3).max(1);
    let n_small = env_usize("S3SEAL_BENCH_SMALL_OPS", 10000) / 2;
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    let store = store_serve(&dir.join("shared"));
    let direct = client(&store.url, "direct", "direct-secret");
    let upstream = format!(
        "kind = \"s3\"\nendpoint = \"{}\"\npath_style = true\naccess_key_id = \"direct\"\nsecret_access_key = \"direct-secret\"",
        store.url
    );
    // Sequential starts: the first creates the shared key file, the others load it.
    let replicas: Vec<Proc> = (0..max)
        .map(|i| gateway(dir, &format!("replica{i}"), &upstream))
        .collect();
    let part = 16usize << 20;
    let pattern = bytes::Bytes::from((0..part).map(|i| (i % 253) as u8).collect::<Vec<u8>>());
    bucket(&direct, "direct").await;
    let (dput, dget) = multipart(
        std::slice::from_ref(&direct),
        "direct",
        total,
        part,
        8,
        &pattern,
    )
    .await;
    let dsmall = small(std::slice::from_ref(&direct), "direct", n_small, 16).await;
    for n in 1..=max {
        let clients: Vec<Client> = replicas[..n]
            .iter()
            .map(|r| client(&r.url, "bench", "bench-secret"))
            .collect();
        let b = format!("scale{n}");
        bucket(&clients[0], &b).await;
        let cpu0: Vec<f64> = replicas[..n].iter().map(|r| proc_stat(r.pid).1).collect();
        let t = Instant::now();
        let (put, get) = multipart(&clients, &b, total, part, 8, &pattern).await;
        let s = small(&clients, &b, n_small, 16).await;
        let secs = t.elapsed().as_secs_f64();
        let cpu: Vec<String> = replicas[..n]
            .iter()
            .zip(cpu0)
            .map(|(r, c0)| format!("{:.1}", proc_stat(r.pid).1 - c0))
            .collect();
        notes.push(format!(
            "{n} replica(s): {} MiB multipart in 16 MiB parts spread over them, read back and compared, then {n_small} 4 KiB PUT/GET/HEAD at c=16 round-robin, no errors; {secs:.1} s; CPU s per replica: {}",
            total >> 20,
            cpu.join(", ")
        ));
        rows.push(Row(
            format!("{n} replica(s): multipart PUT"),
            dput,
            put,
            "MiB/s",
        ));
        rows.push(Row(
            format!("{n} replica(s): ranged GET"),
            dget,
            get,
            "MiB/s",
        ));
        for (i, op) in ["PUT", "GET", "HEAD"].iter().enumerate() {
            rows.push(Row(
                format!("{n} replica(s): 4 KiB {op} c=16 ops/s"),
                dsmall[i].ops,
                s[i].ops,
                "ops/s",
            ));
        }
    }
}

#[tokio::main]
async fn main() {
    let dir = common::scratch_dir("s3seal-bench-deploy");
    let (mut rows, mut notes) = (Vec::new(), Vec::new());
    embedded(dir.path(), &mut rows, &mut notes).await;
    scale_out(dir.path(), &mut rows, &mut notes).await;

    println!(
        "{:<44} {:>12} {:>12} {:>6}",
        "workload", "direct", "s3seal", "ratio"
    );
    let mut json = Vec::new();
    for Row(name, direct, proxy, unit) in &rows {
        let ratio = if *unit == "ms" {
            direct / proxy
        } else {
            proxy / direct
        };
        println!("{name:<44} {direct:>9.2} {unit:<5} {proxy:>9.2} {unit:<5} {ratio:>6.2}");
        json.push(format!(
            "{{\"workload\":\"{name}\",\"unit\":\"{unit}\",\"direct\":{direct:.3},\"proxy\":{proxy:.3},\"ratio\":{ratio:.3}}}"
        ));
    }
    println!("(ratio: proxy/direct for throughput, direct/proxy for times; 1.0 = no cost)");
    for n in &notes {
        println!("{n}");
    }
    let notes_json: Vec<String> = notes.iter().map(|n| format!("{n:?}")).collect();
    let _ = std::fs::write(
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/bench-deploy.json"),
        format!(
            "{{\"rows\":[{}],\n\"notes\":[{}]}}\n",
            json.join(",\n"),
            notes_json.join(",\n")
        ),
    );
}
