//! The `s3seal` binary itself: config errors, the embedded default's banner, and graceful
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

/// Starts the binary on the embedded default in `dir` and returns it with its banner lines.
fn start_embedded(dir: &std::path::Path) -> (Child, Vec<String>) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for _ in 0..6 {
        let mut l = String::new();
        if out.read_line(&mut l).unwrap() == 0 {
            break;
        }
        lines.push(l.trim_end().to_owned());
    }
    (child, lines)
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
    let (mut child, lines) = start_embedded(dir.path());
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

    // Restart over the same directory: same credentials, same data.
    let (mut child, lines) = start_embedded(dir.path());
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
