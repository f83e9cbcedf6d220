//! The `s3seal` binary itself: config errors, the embedded default's banner, its logs, and graceful
//! shutdown on SIGTERM.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

#[test]
fn bad_config_exits_nonzero_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\n[encryption]\nsegment_size = 7\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gw.toml") && err.contains("encryption.segment_size"),
        "{err}"
    );

    std::fs::write(&cfg, "[upstream]\nkind = \"local\"\npaht = \"x\"\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[upstream]") && err.contains("unknown field `paht`, expected `path`"),
        "{err}"
    );
}

/// Starts the binary on the embedded default in `dir` and returns it with its banner lines
/// and a thread collecting its logs.
fn start_embedded(dir: &std::path::Path) -> (Child, Vec<String>, std::thread::JoinHandle<String>) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--console-listen",
            "127.0.0.1:0",
        ])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = collect_stderr(&mut child);
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    // Only up to the secret: the gateway must survive its stdout being closed after that.
    while !lines.iter().any(|l: &String| l.contains("secret key:")) {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        lines.push(l.trim_end().to_owned());
    }
    (child, lines, log)
}

fn banner_value(lines: &[String], label: &str) -> String {
    lines
        .iter()
        .find_map(|l| l.trim().strip_prefix(label).map(|v| v.trim().to_owned()))
        .unwrap_or_else(|| panic!("banner has no {label:?}: {lines:#?}"))
}

#[tokio::test]
async fn embedded_default_prints_banner_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines, log) = start_embedded(dir.path());
    let endpoint = lines[0].rsplit(' ').next().unwrap().to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{lines:#?}");
    assert!(
        banner_value(&lines, "upstream:").contains("data"),
        "{lines:#?}"
    );
    assert!(!banner_value(&lines, "key provider:").is_empty());
    let ak = banner_value(&lines, "access key:");
    let sk = banner_value(&lines, "secret key:");
    // Credentials persist 0600 so a restart keeps them.
    let cred = dir.path().join(".s3seal/credentials.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cred).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let client = support::client(&endpoint, &ak, &sk);
    client.create_bucket().bucket("drain").send().await.unwrap();
    let data = support::pattern(24 << 20, 3);
    client
        .put_object()
        .bucket("drain")
        .key("big")
        .body(data.clone().into())
        .send()
        .await
        .unwrap();

    // Begin a download, signal shutdown mid-body, then finish reading: the in-flight
    // response must complete intact and the process must exit cleanly.
    let mut got = client
        .get_object()
        .bucket("drain")
        .key("big")
        .send()
        .await
        .unwrap();
    let mut buf = Vec::new();
    let first = got.body.next().await.unwrap().unwrap();
    buf.extend_from_slice(&first);
    let st = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    while let Some(chunk) = got.body.next().await {
        buf.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(buf.len(), data.len());
    assert!(buf == data, "body changed during shutdown");
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
    // Both listeners drained, each saying which it is.
    let log = log.join().unwrap();
    for listener in ["s3", "console"] {
        assert!(
            log.lines().any(|l| l.contains("all requests finished")
                && l.contains(&format!("listener=\"{listener}\""))),
            "no drain line for the {listener} listener: {log}"
        );
    }

    // Restart over the same directory: same credentials, same data.
    let (mut child, lines, _log) = start_embedded(dir.path());
    assert_eq!(banner_value(&lines, "access key:"), ak);
    let endpoint = lines[0].rsplit(' ').next().unwrap().to_owned();
    let client = support::client(&endpoint, &ak, &sk);
    let got = client
        .get_object()
        .bucket("drain")
        .key("big")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == data);
    child.kill().unwrap();
    let _ = child.wait();
}

#[test]
fn keygen_creates_private_key_file_then_adds_and_activates() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let kf = dir.path().join("keys.toml");
    let run = |args: &[&str]| {
        Command::new(BIN)
            .arg("keygen")
            .arg("--key-file")
            .arg(&kf)
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&kf).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let keys = s3seal::keys::load_key_file(&kf).unwrap();
    assert_eq!(keys.ids().collect::<Vec<_>>(), ["k1"]);
    // The key itself is never printed.
    let text = std::fs::read_to_string(&kf).unwrap();
    let b64 = text.lines().find(|l| l.starts_with("k1 =")).unwrap();
    let secret = b64.split('"').nth(1).unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));

    // A second plain keygen refuses to overwrite the file (that would lose every object).
    let out = run(&[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read_to_string(&kf).unwrap(), text);

    let out = run(&["--add", "--id", "k2", "--activate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = s3seal::keys::load_key_file(&kf).unwrap();
    assert_eq!(keys.ids().collect::<Vec<_>>(), ["k1", "k2"]);
    assert!(
        std::fs::read_to_string(&kf)
            .unwrap()
            .contains("active = \"k2\"")
    );
    assert!(
        std::fs::read_to_string(&kf).unwrap().contains(secret),
        "k1 kept"
    );
    let mode = std::fs::metadata(&kf).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let out = run(&["--add", "--id", "bad id"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KEK id 'bad id'"));
}

/// A full workload with debug logging (JSON and text): the logs name every request but never
/// contain a secret, a key, or a byte of plaintext.
#[tokio::test]
async fn debug_logs_never_contain_secrets_keys_or_plaintext() {
    use aws_sdk_s3::primitives::ByteStream;
    use base64::Engine;
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let secret = "sEcReT-proxy-user-key-0123456789";
        let cfg = dir.path().join("gw.toml");
        std::fs::write(
            &cfg,
            format!(
                "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\nlog_format = \"{format}\"\n[upstream]\nkind = \"local\"\npath = \"data\"\n[keys]\nprovider = \"file\"\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"loguser\"\nsecret_key = \"{secret}\"\n"
            ),
        )
        .unwrap();
        let (child, endpoint, log) = serve_logged(dir.path(), &cfg, "debug");

        let marker = "PLAINTEXT-MARKER-must-not-be-logged";
        let body: Vec<u8> = marker.repeat(4000).into_bytes();
        let c = support::client(&endpoint, "loguser", secret);
        c.create_bucket().bucket("logs").send().await.unwrap();
        c.put_object()
            .bucket("logs")
            .key("k")
            .metadata("note", "fine")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let got = c.get_object().bucket("logs").key("k").send().await.unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            &body[..]
        );
        let ck = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let ck_md5 = base64::engine::general_purpose::STANDARD
            .encode(<md5::Md5 as md5::Digest>::digest([9u8; 32]));
        c.put_object()
            .bucket("logs")
            .key("c")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck)
            .sse_customer_key_md5(&ck_md5)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let bad = support::client(&endpoint, "loguser", "wrong-secret-value");
        assert!(bad.list_buckets().send().await.is_err());
        // A body sent where the gateway expects XML (a misaddressed upload, a broken client) is
        // refused as MalformedXML; s3s logs such bodies whole at ERROR unless silenced.
        let misread = marker.repeat(100);
        let err = c
            .create_bucket()
            .bucket("logs-xml")
            .customize()
            .mutate_request(move |r| {
                let n = misread.len().to_string();
                *r.body_mut() = aws_smithy_types::body::SdkBody::from(misread.clone());
                r.headers_mut().insert("content-length", n);
            })
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            aws_sdk_s3::error::ProvideErrorMetadata::code(&err),
            Some("MalformedXML"),
            "{err:?}"
        );

        let logs = stop_logged(child, log);
        let kek_file = std::fs::read_to_string(dir.path().join("keys.toml")).unwrap();
        let kek = kek_file
            .lines()
            .find(|l| l.starts_with("k1 ="))
            .unwrap()
            .split('"')
            .nth(1)
            .unwrap();
        assert!(
            logs.contains("PutObject") && logs.contains("s3seal::access"),
            "{format}: request lines are logged"
        );
        // Written to a pipe (a log file, journald), lines carry no terminal colour codes.
        assert!(
            !logs.contains('\x1b'),
            "{format}: colour codes in logs that go to a pipe"
        );
        for (what, needle) in [
            ("user secret", secret),
            ("plaintext", marker),
            ("KEK", kek),
            ("customer key", ck.as_str()),
        ] {
            assert!(
                !logs.contains(needle),
                "{format}: the {what} appears in the logs"
            );
        }
    }
}

/// Runs `serve --config cfg` in `dir` with `S3SEAL_LOG=level`; returns the child, its
/// endpoint and a thread collecting its stderr.
fn serve_logged(
    dir: &std::path::Path,
    cfg: &std::path::Path,
    level: &str,
) -> (Child, String, std::thread::JoinHandle<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .env("S3SEAL_LOG", level)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let endpoint = first.split_whitespace().last().unwrap().to_owned();
    let log = collect_stderr(&mut child);
    (child, endpoint, log)
}

/// A thread reading the child's stderr to its end (the logs), so the pipe never fills.
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut BufReader::new(stderr), &mut s).unwrap();
        s
    })
}

/// SIGTERM, so the gateway drains and flushes its logs; returns them.
fn stop_logged(mut child: Child, log: std::thread::JoinHandle<String>) -> String {
    let st = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(st.success());
    child.wait().unwrap();
    log.join().unwrap()
}

/// An object's key is the client's text, and it reaches the log as a field value (the
/// error line when its stored bytes fail authentication). Whatever it holds, every event
/// stays one line with no terminal control codes: naming an object cannot forge a log line.
#[tokio::test]
async fn object_keys_cannot_forge_log_lines() {
    use aws_sdk_s3::primitives::ByteStream;
    for format in ["text", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("gw.toml");
        std::fs::write(
            &cfg,
            format!("[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\nlog_format = \"{format}\"\n[upstream]\nkind = \"local\"\npath = \"data\"\n[keys]\nprovider = \"file\"\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"loguser\"\nsecret_key = \"log-user-secret-0123\"\n"),
        )
        .unwrap();
        let (child, endpoint, log) = serve_logged(dir.path(), &cfg, "info");
        let forged = "1999-01-01T00:00:00.000000Z  INFO s3seal::access: request user=\"root\"";
        let key = format!("report\n{forged}\r\x1b[2J\u{85}.pdf");
        let c = support::client(&endpoint, "loguser", "log-user-secret-0123");
        c.create_bucket().bucket("logs").send().await.unwrap();
        c.put_object()
            .bucket("logs")
            .key(&key)
            .body(ByteStream::from(vec![7u8; 5000]))
            .send()
            .await
            .unwrap();
        // Flip the last byte (the final segment's tag) of every body file the store holds.
        let files = support::files_under(&dir.path().join("data").join("blobs"));
        assert!(!files.is_empty(), "no body file to tamper with");
        for p in files {
            let mut b = std::fs::read(&p).unwrap();
            *b.last_mut().unwrap() ^= 1;
            std::fs::write(&p, b).unwrap();
        }
        let got = c.get_object().bucket("logs").key(&key).send().await;
        let refused = match got {
            Err(_) => true,
            Ok(o) => o.body.collect().await.is_err(),
        };
        assert!(refused, "a tampered object was served");
        let logs = stop_logged(child, log);
        assert!(
            logs.contains("failed authentication") && logs.contains("report\\n1999-01-01"),
            "{format}: the refusal names the key, escaped: {logs}"
        );
        for line in logs.lines() {
            assert!(
                !line.starts_with("1999-01-01") && !line.starts_with("T00:00"),
                "{format}: a forged line: {line:?} in {logs}"
            );
            assert!(
                !line.chars().any(|ch| ch == '\r' || ch == '\x1b'),
                "{format}: a control character written raw: {line:?}"
            );
            if format == "json" {
                // JSON escapes C0 controls; C1 ones are valid JSON string characters.
                assert!(
                    serde_json::from_str::<serde_json::Value>(line).is_ok(),
                    "not one JSON object: {line:?}"
                );
            } else {
                assert!(
                    !line.contains('\u{85}'),
                    "a C1 control written raw: {line:?}"
                );
            }
        }
    }
}

/// The access line is written when the response body is done: `bytes_out` is what was sent.
/// It used to be written with the headers, so a download cut short (a stored object failing
/// authentication mid-body) was logged as `status=200 bytes_out=<whole size>`, and a HEAD as
/// sending the object's size.
#[tokio::test]
async fn access_lines_count_the_bytes_actually_sent() {
    use aws_sdk_s3::primitives::ByteStream;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\n[upstream]\npath = \"data\"\n[keys]\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"loguser\"\nsecret_key = \"log-user-secret-0123\"\n",
    )
    .unwrap();
    let (child, endpoint, log) = serve_logged(dir.path(), &cfg, "info");
    let c = support::client(&endpoint, "loguser", "log-user-secret-0123");
    c.create_bucket().bucket("logs").send().await.unwrap();
    let data = support::pattern(3_000_000, 5);
    c.put_object()
        .bucket("logs")
        .key("cut")
        .body(ByteStream::from(data.clone()))
        .send()
        .await
        .unwrap();
    c.head_object()
        .bucket("logs")
        .key("cut")
        .send()
        .await
        .unwrap();
    let whole = c
        .get_object()
        .bucket("logs")
        .key("cut")
        .send()
        .await
        .unwrap();
    assert!(whole.body.collect().await.unwrap().into_bytes() == data);
    // One byte in the middle of the stored body: the GET is cut there.
    let files = support::files_under(&dir.path().join("data").join("blobs"));
    assert_eq!(files.len(), 1);
    let mut b = std::fs::read(&files[0]).unwrap();
    b[1_500_000] ^= 1;
    std::fs::write(&files[0], b).unwrap();
    let got = c
        .get_object()
        .bucket("logs")
        .key("cut")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.is_err(), "the tampered GET is cut");
    let logs = stop_logged(child, log);
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("s3seal::access") && l.contains("key=\"cut\""))
        .collect();
    let field = |l: &str, f: &str| -> Option<u64> {
        let v = l.split(&format!(" {f}=")).nth(1)?;
        v.split(' ').next()?.parse().ok()
    };
    let head = lines
        .iter()
        .find(|l| l.contains("operation=\"HeadObject\""));
    assert_eq!(head.and_then(|l| field(l, "bytes_out")), Some(0), "{logs}");
    let gets: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("operation=\"GetObject\""))
        .collect();
    assert_eq!(gets.len(), 2, "{logs}");
    assert_eq!(field(gets[0], "bytes_out"), Some(3_000_000), "{}", gets[0]);
    assert!(!gets[0].contains("incomplete"), "{}", gets[0]);
    let sent = field(gets[1], "bytes_out").unwrap();
    assert!(sent < 3_000_000, "{}", gets[1]);
    assert!(gets[1].contains("incomplete=true"), "{}", gets[1]);
    assert_eq!(
        field(gets[1], "declared_out"),
        Some(3_000_000),
        "{}",
        gets[1]
    );
}

/// kill -9 during uploads: after a restart no half-written object is visible, and a multipart
/// upload begun before the crash keeps its parts and completes through the new process.
#[tokio::test]
async fn kill_9_mid_upload_leaves_no_partial_object_and_multipart_resumes() {
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use tokio::io::AsyncWriteExt;
    let dir = tempfile::tempdir().unwrap();
    let (mut child, lines, _log) = start_embedded(dir.path());
    let endpoint = lines[0].rsplit(' ').next().unwrap().to_owned();
    let ak = banner_value(&lines, "access key:");
    let sk = banner_value(&lines, "secret key:");
    let c = support::client(&endpoint, &ak, &sk);
    c.create_bucket().bucket("crash").send().await.unwrap();
    let data = support::pattern((5 << 20) + 1000, 11);
    let (first, rest) = data.split_at(5 << 20);
    let id = c
        .create_multipart_upload()
        .bucket("crash")
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let p1 = c
        .upload_part()
        .bucket("crash")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(first.to_vec().into())
        .send()
        .await
        .unwrap();

    // A single PUT half sent when the process dies.
    let mut s = support::presigned_put_head(&c, "crash", "half", 8 << 20, "").await;
    s.write_all(&support::pattern(4 << 20, 12)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    drop(s);

    let (mut child, lines, _log) = start_embedded(dir.path());
    let endpoint = lines[0].rsplit(' ').next().unwrap().to_owned();
    let c = support::client(&endpoint, &ak, &sk);
    assert!(
        c.head_object()
            .bucket("crash")
            .key("half")
            .send()
            .await
            .is_err(),
        "a half-sent PUT must not exist"
    );
    let listed = c.list_objects_v2().bucket("crash").send().await.unwrap();
    assert!(
        listed.contents().is_empty(),
        "nothing half-written is listed: {:?}",
        listed.contents()
    );
    // (The embedded store, s3s-fs, does not implement ListMultipartUploads; ListParts shows
    // the upload survived.)
    let parts = c
        .list_parts()
        .bucket("crash")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1, "part 1 survived the crash");
    let p2 = c
        .upload_part()
        .bucket("crash")
        .key("mp")
        .upload_id(&id)
        .part_number(2)
        .body(rest.to_vec().into())
        .send()
        .await
        .unwrap();
    let parts = [(1, p1.e_tag.unwrap()), (2, p2.e_tag.unwrap())]
        .into_iter()
        .map(|(n, e)| CompletedPart::builder().part_number(n).e_tag(e).build())
        .collect();
    c.complete_multipart_upload()
        .bucket("crash")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("crash")
        .key("mp")
        .send()
        .await
        .unwrap();
    assert!(got.body.collect().await.unwrap().into_bytes() == data);
    child.kill().unwrap();
    let _ = child.wait();
}

/// Issue 16 item 8: at `trace`, with the s3s request logs (full headers) forced on past the
/// cap, no secret reaches the logs: not the SSE-C key (base64, MD5, raw), not a presigned or
/// header signature or credential, not a secret typed into the console's access-key field.
#[tokio::test]
async fn trace_logs_redact_signatures_sse_c_keys_and_console_secrets() {
    use aws_sdk_s3::primitives::ByteStream;
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let secret = "TrAcE-proxy-user-secret-0123456789";
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\n[upstream]\nkind = \"local\"\npath = \"data\"\n[keys]\nprovider = \"file\"\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"traceuser\"\nsecret_key = \"{secret}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .env(
            "S3SEAL_LOG",
            "trace,s3s::service=trace,s3s::ops=trace,s3s::http=trace,s3s::sig_v4=trace,s3s_fs=trace",
        )
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut banner = Vec::new();
    while !banner.iter().any(|l: &String| l.contains("users:")) {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        banner.push(l.trim_end().to_owned());
    }
    let endpoint = banner[0].rsplit(' ').next().unwrap().to_owned();
    let console_url = banner_value(&banner, "web console:");
    let console: std::net::SocketAddr = console_url
        .trim_start_matches("http://")
        .trim_end_matches("/console/")
        .parse()
        .unwrap();
    let api: std::net::SocketAddr = endpoint.trim_start_matches("http://").parse().unwrap();
    let log = collect_stderr(&mut child);

    // Header-signed requests, SSE-C PUT and GET.
    let c = support::client(&endpoint, "traceuser", secret);
    c.create_bucket().bucket("trace").send().await.unwrap();
    let raw_key = *b"RAW-sse-c-key-of-32-bytes-long!!";
    let ck = base64::engine::general_purpose::STANDARD.encode(raw_key);
    let ck_md5 = base64::engine::general_purpose::STANDARD
        .encode(<md5::Md5 as md5::Digest>::digest(raw_key));
    c.put_object()
        .bucket("trace")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .body(ByteStream::from_static(b"sse-c body"))
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("trace")
        .key("c")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&ck)
        .sse_customer_key_md5(&ck_md5)
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"sse-c body"
    );

    // A presigned GET.
    c.put_object()
        .bucket("trace")
        .key("p")
        .body(ByteStream::from_static(b"presigned"))
        .send()
        .await
        .unwrap();
    let url = c
        .get_object()
        .bucket("trace")
        .key("p")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = url.uri().parse().unwrap();
    let q = uri.query().unwrap().to_owned();
    let param = |name: &str| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap()
            .to_owned()
    };
    let presig = param("X-Amz-Signature");
    let cred = param("X-Amz-Credential");
    let (st, _, body) =
        support::raw_request(api, "GET", uri.path_and_query().unwrap().as_str(), &[], b"").await;
    assert_eq!((st, body.as_slice()), (200, &b"presigned"[..]));

    // A hand-made header signature (wrong, so refused, but its header is still parsed).
    let sig = "5e1f".repeat(16);
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=traceuser/20250101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
    );
    let (st, _, _) = support::raw_request(
        api,
        "GET",
        "/trace/p",
        &[
            ("authorization".into(), auth),
            ("x-amz-date".into(), "20250101T000000Z".into()),
            ("x-amz-content-sha256".into(), "UNSIGNED-PAYLOAD".into()),
        ],
        b"",
    )
    .await;
    assert_eq!(st, 403);

    // The console: the secret typed into the access-key field, then a real login.
    let origin = format!("http://{console}");
    for form in [
        format!("access_key={secret}&secret_key=whatever"),
        format!("access_key=traceuser&secret_key={secret}"),
    ] {
        let (st, _, _) = support::raw_request(
            console,
            "POST",
            "/console/login",
            &[
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("origin".into(), origin.clone()),
            ],
            form.as_bytes(),
        )
        .await;
        assert!(st == 401 || st == 303, "{st}");
    }

    let logs = stop_logged(child, log);
    assert!(
        logs.contains("s3s") && logs.contains("console login failed"),
        "the s3s request logs and the console's are on"
    );
    assert!(logs.contains("[redacted]"), "something was redacted");
    let raw = String::from_utf8_lossy(&raw_key).into_owned();
    for (what, needle) in [
        ("user secret", secret),
        ("SSE-C key", ck.as_str()),
        ("SSE-C key MD5", ck_md5.as_str()),
        ("raw SSE-C key", raw.as_str()),
        ("presigned signature", presig.as_str()),
        ("presigned credential", cred.as_str()),
        ("header signature", sig.as_str()),
    ] {
        if let Some(at) = logs.find(needle) {
            let from = at.saturating_sub(200);
            panic!(
                "the {what} appears in the logs: ...{}...",
                &logs[from..(at + 100).min(logs.len())]
            );
        }
    }
}

/// The embedded store failing to write (a full disk, a permission, a read-only mount) answers
/// a bare 500; the cause goes to the log, where the operator looks (it was nowhere, even at
/// debug level).
#[tokio::test]
async fn store_io_failures_are_logged_with_their_cause() {
    use aws_sdk_s3::primitives::ByteStream;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gw.toml");
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\n[upstream]\npath = \"data\"\n[keys]\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"iouser\"\nsecret_key = \"io-user-secret-0123\"\n",
    )
    .unwrap();
    let (child, endpoint, log) = serve_logged(dir.path(), &cfg, "info");
    let c = support::client(&endpoint, "iouser", "io-user-secret-0123");
    c.create_bucket().bucket("iobucket").send().await.unwrap();
    // Where bodies are received: now a file, so creating one inside fails.
    let tmp = dir.path().join("data").join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"not a directory").unwrap();
    let put = c
        .put_object()
        .bucket("iobucket")
        .key("k")
        .body(ByteStream::from(vec![1u8; 1000]))
        .send()
        .await;
    let status = put.unwrap_err().raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(500));
    let logs = stop_logged(child, log);
    assert!(
        logs.contains("embedded store I/O failed") && logs.contains("ot a directory"),
        "the cause is logged: {logs}"
    );
}
