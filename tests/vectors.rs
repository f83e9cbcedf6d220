//! Known-answer vectors for format v1 (docs/FORMAT.md): fixed keys and salts in, exact stored
//! bytes out. A second implementation can check itself against tests/vectors/*.json.
//! `S3SEAL_WRITE_VECTORS=1 cargo test --test vectors` regenerates them (only ever on purpose:
//! a diff in these files is a format change).

use bytes::Bytes;
use s3seal::format::{Dek, Expect, StreamOpener, StreamSealer};
use s3seal::keys::{Kek, KekProvider, LocalKeks, WrapContext, WrappedDek, wrap_with_nonce};
use serde_json::{Value, json};
use std::path::PathBuf;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn dek() -> Dek {
    let mut k = [0u8; 32];
    k.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
    Dek::from_bytes(k)
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn seal(dek: &Dek, part: u32, segment: u32, salt: [u8; 8], plain: &[u8]) -> Vec<u8> {
    let mut s = StreamSealer::with_salt(dek, part, segment, salt);
    let mut out = Vec::new();
    s.push(Bytes::copy_from_slice(plain), &mut out);
    s.finish(&mut out);
    out.concat()
}

/// (name, part, segment, salt, plaintext length)
const STREAMS: &[(&str, u32, u32, [u8; 8], usize)] = &[
    ("stream-empty", 0, 1024, [1, 2, 3, 4, 5, 6, 7, 8], 0),
    ("stream-one-byte", 0, 1024, [9; 8], 1),
    ("stream-exact-segment", 3, 1024, [0xa5; 8], 1024),
    (
        "stream-three-segments",
        0,
        1024,
        [0, 0, 0, 0, 0, 0, 0, 1],
        2100,
    ),
];

#[test]
fn stream_vectors() {
    let write = std::env::var_os("S3SEAL_WRITE_VECTORS").is_some();
    for &(name, part, segment, salt, len) in STREAMS {
        let path = dir().join(format!("{name}.json"));
        let plain = plaintext(len);
        let stored = seal(&dek(), part, segment, salt, &plain);
        if write {
            let v = json!({
                "description": "one sealed stream; DEK bytes 00..1f, plaintext byte i = i mod 251",
                "dek_hex": hex::encode(dek().expose()),
                "part": part,
                "salt_hex": hex::encode(salt),
                "segment": segment,
                "plaintext_hex": hex::encode(&plain),
                "stored_hex": hex::encode(&stored),
            });
            std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
        }
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            v["plaintext_hex"].as_str().unwrap(),
            hex::encode(&plain),
            "{name}"
        );
        assert_eq!(
            v["stored_hex"].as_str().unwrap(),
            hex::encode(&stored),
            "{name}: format changed"
        );
        // And it opens, in 1-byte chunks.
        let expect = if part == 0 {
            Expect::single(0, true)
        } else {
            Expect::multipart(true, true, Some(1))
        };
        let mut o = StreamOpener::new(&dek(), segment, expect);
        let mut out = Vec::new();
        for b in &stored {
            o.push(Bytes::copy_from_slice(&[*b]), &mut out).unwrap();
        }
        o.finish(&mut out).unwrap();
        assert_eq!(out.concat(), plain, "{name}");
    }
}

#[tokio::test]
async fn wrap_vector() {
    let path = dir().join("wrap.json");
    let kek_bytes = [0x42u8; 32];
    let ctx = WrapContext {
        object_key: "photos/2026/cat.jpg".into(),
    };
    let nonce = [7u8; 12];
    let w = wrap_with_nonce(&Kek::from_bytes(kek_bytes), "k1", &dek(), &ctx, nonce);
    let (kek_id, blob) = w.to_metadata();
    if std::env::var_os("S3SEAL_WRITE_VECTORS").is_some() {
        let v = json!({
            "description": "DEK wrap: AES-256-GCM(KEK, nonce, DEK, AAD = 's3seal-v1 dek' || u16 len || kek id || u32 len || object key)",
            "kek_hex": hex::encode(kek_bytes),
            "kek_id": kek_id,
            "object_key": ctx.object_key,
            "nonce_hex": hex::encode(nonce),
            "dek_hex": hex::encode(dek().expose()),
            "blob_b64": blob,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap() + "\n").unwrap();
    }
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["blob_b64"].as_str().unwrap(), blob, "wrap format changed");

    let mut keks = std::collections::BTreeMap::new();
    keks.insert("k1".to_owned(), Kek::from_bytes(kek_bytes));
    let p = LocalKeks::new("vectors".into(), "k1".into(), keks).unwrap();
    let stored = WrappedDek::from_metadata("k1", v["blob_b64"].as_str().unwrap()).unwrap();
    let got = p.unwrap(&stored, &ctx).await.unwrap();
    assert_eq!(got.expose(), dek().expose());
    // Bound to the object key and the KEK id.
    let other = WrapContext {
        object_key: "photos/2026/dog.jpg".into(),
    };
    assert!(p.unwrap(&stored, &other).await.is_err());
    let renamed = WrappedDek::from_metadata("k2", &blob).unwrap();
    assert!(p.unwrap(&renamed, &ctx).await.is_err());
}
