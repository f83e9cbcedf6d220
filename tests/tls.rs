//! TLS on the client listener, with a certificate generated at test time: the real binary
//! serves HTTPS, a real S3 client (aws-sdk-s3, trusting the test CA) works through it, plain
//! HTTP is refused, and SIGHUP swaps the certificate without a restart.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

fn write_cert(dir: &std::path::Path) -> Vec<u8> {
    let ck =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), ck.key_pair.serialize_pem()).unwrap();
    ck.cert.der().to_vec()
}

/// Connects with TLS trusting exactly `ca_der`, GETs /healthz; returns the status line and
/// the certificate the server presented.
async fn https_healthz(addr: &str, ca_der: &[u8]) -> (String, Vec<u8>) {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(ca_der.to_vec()))
        .unwrap();
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let conn = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = conn.connect(name, tcp).await.unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf);
    (text.lines().next().unwrap_or("").to_owned(), presented)
}

#[tokio::test]
async fn https_listener_serves_s3_and_reloads_its_certificate_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_cert(dir.path());
    std::fs::write(
        dir.path().join("gw.toml"),
        "[server]\nlisten = \"127.0.0.1:0\"\nconsole_listen = \"127.0.0.1:0\"\n[server.tls]\ncert = \"cert.pem\"\nkey = \"key.pem\"\n[upstream]\nkind = \"local\"\npath = \"data\"\n[keys]\nprovider = \"file\"\npath = \"keys.toml\"\ncreate_if_missing = true\n[[users]]\naccess_key = \"tlsuser\"\nsecret_key = \"tls-secret-0001\"\n",
    )
    .unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--config", "gw.toml"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    let endpoint = first_line.split_whitespace().last().unwrap().to_owned();
    assert!(endpoint.starts_with("https://127.0.0.1:"), "{first_line}");
    let addr = endpoint.trim_start_matches("https://").to_owned();

    let (status, presented) = https_healthz(&addr, &first).await;
    assert!(status.contains("200"), "{status}");
    assert_eq!(presented, first);

    // A real S3 client over HTTPS, trusting the test certificate through SSL_CERT_FILE
    // (the SDK's rustls reads it); this test binary has no other test touching it.
    unsafe { std::env::set_var("SSL_CERT_FILE", dir.path().join("cert.pem")) };
    let c = support::client(&endpoint, "tlsuser", "tls-secret-0001");
    c.create_bucket().bucket("secure").send().await.unwrap();
    let body = support::pattern(100_000, 3);
    c.put_object()
        .bucket("secure")
        .key("k")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let got = c
        .get_object()
        .bucket("secure")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        &body[..]
    );

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(&addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // New certificate on disk + SIGHUP: new handshakes present it, no restart.
    let second = write_cert(dir.path());
    assert_ne!(first, second);
    let st = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let mut seen = Vec::new();
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Trust both while waiting; only the presented certificate matters.
        let (status, p) = https_healthz_any(&addr, &[&first, &second]).await;
        assert!(status.contains("200"), "{status}");
        seen = p;
        if seen == second {
            break;
        }
    }
    assert_eq!(seen, second, "the reloaded certificate is served");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    child.wait().unwrap();
}

async fn https_healthz_any(addr: &str, cas: &[&[u8]]) -> (String, Vec<u8>) {
    for ca in cas {
        let (addr, ca) = (addr.to_owned(), ca.to_vec());
        // An untrusted certificate panics inside the task, not the test.
        if let Ok(v) = tokio::spawn(async move { https_healthz(&addr, &ca).await }).await {
            return v;
        }
    }
    panic!("no trusted certificate presented");
}
