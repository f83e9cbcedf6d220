//! Workloads and process helpers the end-to-end benches share. Functions that spread requests
//! take a slice of clients and send request `i` through `clients[i % len]`: one client is the
//! usual case, several is a round-robin over gateway replicas.
#![allow(dead_code)]

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use std::sync::Arc;
use std::time::Instant;

/// Peak RSS (KiB) and CPU seconds (user + system) of a process, from /proc.
pub fn proc_stat(pid: u32) -> (u64, f64) {
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

pub async fn put_get_large(c: &Client, b: &str, data: &bytes::Bytes) -> (f64, f64) {
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
    assert_eq!(drain(got.body).await, data.len());
    let get = t.elapsed().as_secs_f64();
    let mib = data.len() as f64 / (1 << 20) as f64;
    (mib / put, mib / get)
}

/// Reads a response body to its end without keeping it; returns its length.
pub async fn drain(mut body: ByteStream) -> usize {
    let mut n = 0;
    while let Some(chunk) = body.next().await {
        n += chunk.unwrap().len();
    }
    n
}

/// Latency distribution of one phase: ops/s, p50 and p99 in ms.
pub struct Lat {
    pub ops: f64,
    pub p50: f64,
    pub p99: f64,
}

/// `n` 4 KiB PUTs, then GETs, then HEADs of the same keys at concurrency `conc`.
pub async fn small(clients: &[Client], b: &str, n: usize, conc: usize) -> [Lat; 3] {
    let body = bytes::Bytes::from(vec![7u8; 4096]);
    let mut out = Vec::new();
    for phase in 0..3 {
        let lat = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n)));
        let t = Instant::now();
        let sem = Arc::new(tokio::sync::Semaphore::new(conc));
        let mut tasks = Vec::new();
        for i in 0..n {
            let (c, b, body, lat, sem) = (
                clients[i % clients.len()].clone(),
                b.to_owned(),
                body.clone(),
                lat.clone(),
                sem.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let _p = sem.acquire_owned().await.unwrap();
                let t = Instant::now();
                let key = format!("small/{i:05}");
                match phase {
                    0 => {
                        c.put_object()
                            .bucket(&b)
                            .key(&key)
                            .body(ByteStream::from(body))
                            .send()
                            .await
                            .unwrap();
                    }
                    1 => {
                        let g = c.get_object().bucket(&b).key(&key).send().await.unwrap();
                        assert_eq!(g.body.collect().await.unwrap().into_bytes().len(), 4096);
                    }
                    _ => {
                        let h = c.head_object().bucket(&b).key(&key).send().await.unwrap();
                        assert_eq!(h.content_length(), Some(4096));
                    }
                }
                lat.lock().unwrap().push(t.elapsed().as_secs_f64() * 1000.0);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let secs = t.elapsed().as_secs_f64();
        let mut l = lat.lock().unwrap().clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out.push(Lat {
            ops: n as f64 / secs,
            p50: l[l.len() / 2],
            p99: l[l.len() * 99 / 100],
        });
    }
    out.try_into().ok().unwrap()
}

/// A multipart upload of `total` bytes in `part`-byte parts, `par` parts in flight, then a
/// download as `par` parallel ranged GETs of `part` bytes (what aws cli and rclone do).
/// Returns PUT and GET MiB/s.
pub async fn multipart(
    clients: &[Client],
    b: &str,
    total: usize,
    part: usize,
    par: usize,
    pattern: &bytes::Bytes,
) -> (f64, f64) {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use futures::StreamExt;
    let parts = total.div_ceil(part);
    let t = Instant::now();
    let id = clients[0]
        .create_multipart_upload()
        .bucket(b)
        .key("multi")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut done: Vec<CompletedPart> = futures::stream::iter(1..=parts)
        .map(|n| {
            let len = part.min(total - (n - 1) * part);
            let body = pattern.slice(..len);
            let (c, id) = (clients[n % clients.len()].clone(), id.clone());
            async move {
                let out = c
                    .upload_part()
                    .bucket(b)
                    .key("multi")
                    .upload_id(id)
                    .part_number(n as i32)
                    .body(ByteStream::from(body))
                    .send()
                    .await
                    .unwrap();
                CompletedPart::builder()
                    .part_number(n as i32)
                    .set_e_tag(out.e_tag)
                    .build()
            }
        })
        .buffer_unordered(par)
        .collect()
        .await;
    done.sort_by_key(|p| p.part_number);
    clients[clients.len() - 1]
        .complete_multipart_upload()
        .bucket(b)
        .key("multi")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let put = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let got: usize = futures::stream::iter(0..parts)
        .map(|i| {
            let c = clients[i % clients.len()].clone();
            let end = ((i + 1) * part).min(total) - 1;
            async move {
                let g = c
                    .get_object()
                    .bucket(b)
                    .key("multi")
                    .range(format!("bytes={}-{end}", i * part))
                    .send()
                    .await
                    .unwrap();
                // Every part was `pattern[..len]`: compare the bytes, not only the count.
                let mut body = g.body;
                let mut n = 0;
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.unwrap();
                    assert_eq!(chunk[..], pattern[n..n + chunk.len()], "range {i} at {n}");
                    n += chunk.len();
                }
                n
            }
        })
        .buffer_unordered(par)
        .fold(0, |a, n| async move { a + n })
        .await;
    assert_eq!(got, total);
    let get = t.elapsed().as_secs_f64();
    let mib = total as f64 / (1 << 20) as f64;
    (mib / put, mib / get)
}

pub async fn list_all(c: &Client, b: &str) -> f64 {
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

/// A running server process: its URL and pid; killed on drop.
pub struct Proc {
    pub url: String,
    pub pid: u32,
    _child: KillOnDrop,
}

/// Starts `cmd` (stdout read, stderr dropped) and takes the URL from the last word of its
/// first stdout line, as `serve` and `store-serve` print it.
pub fn spawn(cmd: &mut std::process::Command) -> Proc {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line.split_whitespace().last().unwrap_or("").to_owned();
    assert!(url.starts_with("http://"), "unexpected banner: {line}");
    Proc {
        url,
        pid: child.id(),
        _child: KillOnDrop(child),
    }
}

/// Stops the gateway when the bench ends, also when a step panics.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
