//! `s3seal rotate`, `rotate --check`, `inspect` and `decrypt`, run as the real binary against
//! the store a real gateway wrote: mixed single, multipart, legacy and SSE-C objects; a
//! partial (interrupted) rotation resumed; the old KEK removed and everything still read.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use std::process::Command;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

fn cli(cfg: &std::path::Path, args: &[&str]) -> (bool, String, Vec<u8>) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(cfg)
        .env("S3SEAL_LOG", "warn")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        out.stdout,
    )
}

// Multi-threaded: the CLI runs as a blocking child process while this runtime serves the
// store it talks to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_check_resume_retire_inspect_and_decrypt() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let c = &gw.client;
    let small = pattern(70_000, 1);
    c.put_object()
        .bucket(&b)
        .key("a/single")
        .content_type("image/png")
        .cache_control("max-age=9")
        .website_redirect_location("/new.html")
        .metadata("owner", "alice")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    gw.put(&b, "a/second", b"two").await;
    let big = pattern((5 << 20) + 999, 2);
    multipart_put(c, &b, "b/multi", &big, 5 << 20).await;
    gw.upstream
        .put_object()
        .bucket(&b)
        .key("b/legacy")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();

    // The CLI's config: the same store and key file as the gateway. The embedded store is
    // held (locked) by the running gateway's process, as two processes writing one index
    // would corrupt it, so the CLI reaches the same store over S3 (the test harness serves
    // it at `upstream_endpoint`) — as an operator would while the gateway runs.
    let dir = gw.dir.path().to_path_buf();
    let keys = dir.join("state/keys.toml");
    let cfg = dir.join("cli.toml");
    std::fs::write(
        &cfg,
        format!(
            "[upstream]\nkind = \"s3\"\nendpoint = \"{}\"\npath_style = true\naccess_key_id = \"testing\"\nsecret_access_key = \"testing\"\n[keys]\nprovider = \"file\"\npath = \"{}\"\n",
            gw.upstream_endpoint,
            keys.display()
        ),
    )
    .unwrap();
    let st = Command::new(BIN)
        .args(["keygen", "--add", "--id", "k2", "--key-file"])
        .arg(&keys)
        .status()
        .unwrap();
    assert!(st.success());

    let (ok, text, _) = cli(&cfg, &["rotate", "--bucket", &b, "--check"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("k1: 3") && text.contains("unencrypted: 1"),
        "{text}"
    );

    // "Interrupted": only a/ is rotated first.
    let (ok, text, _) = cli(
        &cfg,
        &["rotate", "--bucket", &b, "--prefix", "a/", "--to", "k2"],
    );
    assert!(ok, "{text}");
    assert!(text.contains("2 rewrapped"), "{text}");
    let (_, text, _) = cli(&cfg, &["rotate", "--bucket", &b, "--check"]);
    assert!(text.contains("k1: 1") && text.contains("k2: 2"), "{text}");
    // Resumed over everything: the done ones are skipped, nothing downloaded.
    let (ok, text, _) = cli(&cfg, &["rotate", "--bucket", &b, "--to", "k2"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("1 rewrapped, 2 already current, 1 unencrypted"),
        "{text}"
    );
    let (_, text, _) = cli(&cfg, &["rotate", "--bucket", &b, "--check"]);
    assert!(!text.contains("k1:") && text.contains("k2: 3"), "{text}");
    // A bucket that does not exist is said in words, not as a debug dump.
    let (ok, text, _) = cli(&cfg, &["rotate", "--bucket", "nosuchbucket", "--check"]);
    assert!(!ok && text.contains("NoSuchBucket"), "{text}");
    assert!(!text.contains("S3Error {"), "{text}");

    // Retire k1: rewrite the key file with k2 only, restart, everything reads.
    let kf = std::fs::read_to_string(&keys).unwrap();
    let k2_line = kf
        .lines()
        .find(|l| l.starts_with("k2 ="))
        .unwrap()
        .to_owned();
    std::fs::write(&keys, format!("active = \"k2\"\n[keys]\n{k2_line}\n")).unwrap();
    let gw = gw.restart().await;
    assert_eq!(gw.get(&b, "a/single").await, small);
    assert_eq!(gw.get(&b, "a/second").await, b"two");
    assert_eq!(gw.get(&b, "b/multi").await, big);
    assert_eq!(gw.get(&b, "b/legacy").await, b"plain");
    let h = gw
        .client
        .head_object()
        .bucket(&b)
        .key("a/single")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("image/png"));
    assert_eq!(h.cache_control(), Some("max-age=9"));
    assert_eq!(h.website_redirect_location(), Some("/new.html"));
    assert_eq!(
        h.metadata().unwrap().get("owner").map(String::as_str),
        Some("alice")
    );
    assert_eq!(h.content_length(), Some(small.len() as i64));

    // inspect: the facts, never key material.
    let (ok, text, _) = cli(&cfg, &["inspect", "--bucket", &b, "--key", "b/multi"]);
    assert!(ok, "{text}");
    assert!(
        text.contains("KEK k2") && text.contains("multipart:     yes"),
        "{text}"
    );
    assert!(
        text.contains(&format!("plaintext:     {} bytes", big.len())),
        "{text}"
    );
    let (_, meta) = gw.raw_get(&b, "b/multi").await;
    assert!(!text.contains(meta.get("s3seal-dek").unwrap().as_str()));
    assert!(!text.contains(k2_line.split('"').nth(1).unwrap()));

    // decrypt straight from the store, and offline from bytes + metadata.
    let (ok, text, out) = cli(&cfg, &["decrypt", "--bucket", &b, "--key", "b/multi"]);
    assert!(ok, "{text}");
    assert!(out == big, "decrypt from the store");
    let (raw, meta) = gw.raw_get(&b, "a/single").await;
    let meta_file = dir.join("meta.json");
    std::fs::write(&meta_file, serde_json::to_string(&meta).unwrap()).unwrap();
    let mut child = Command::new(BIN)
        .args(["decrypt", "--bucket", &b, "--key", "a/single", "--metadata"])
        .arg(&meta_file)
        .arg("--config")
        .arg(&cfg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &raw).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == small, "offline decrypt");
    // A flipped byte: refused, and nothing after the bad segment is written.
    let mut bad = raw.clone();
    bad[70_000] ^= 1;
    let mut child = Command::new(BIN)
        .args(["decrypt", "--bucket", &b, "--key", "a/single", "--metadata"])
        .arg(&meta_file)
        .arg("--config")
        .arg(&cfg)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &bad).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        out.stdout.len() <= 65536,
        "only verified segments were written"
    );

    // A multipart object offline: its layout tags go into the JSON beside the metadata;
    // without them, decrypt refuses. `--output` writes the file only when all verified.
    let (raw, mut meta) = gw.raw_get(&b, "b/multi").await;
    let tags = gw
        .upstream
        .get_object_tagging()
        .bucket(&b)
        .key("b/multi")
        .send()
        .await;
    let offline = |meta: &std::collections::HashMap<String, String>, body: &[u8], out: &str| {
        std::fs::write(&meta_file, serde_json::to_string(meta).unwrap()).unwrap();
        let out_path = dir.join(out);
        let mut child = Command::new(BIN)
            .args(["decrypt", "--bucket", &b, "--key", "b/multi", "--metadata"])
            .arg(&meta_file)
            .arg("--output")
            .arg(&out_path)
            .arg("--config")
            .arg(&cfg)
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // It may refuse before reading everything (no layout): a broken pipe is fine.
        let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), body);
        let res = child.wait_with_output().unwrap();
        (res.status.success(), std::fs::read(&out_path).ok())
    };
    assert_eq!(
        offline(&meta, &raw, "no-tags"),
        (false, None),
        "layout required"
    );
    for t in tags.unwrap().tag_set() {
        meta.insert(t.key().to_owned(), t.value().to_owned());
    }
    assert_eq!(offline(&meta, &raw, "multi.out"), (true, Some(big.clone())));
    let cut = &raw[..raw.len() - 65568];
    assert_eq!(
        offline(&meta, cut, "cut.out"),
        (false, None),
        "truncated: no file"
    );
    let mut flipped = raw.clone();
    flipped[100] ^= 1;
    assert_eq!(
        offline(&meta, &flipped, "bad.out"),
        (false, None),
        "tampered: no file"
    );
}
