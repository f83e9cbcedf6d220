//! Throughput of the format alone (no network): seal and open of 256 MiB at each segment size,
//! next to the raw AES-256-GCM and MD5 rates that bound them. `cargo bench --bench format`.
//! The end-to-end proxy-vs-direct harness is issue 10.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use bytes::Bytes;
use md5::{Digest, Md5};
use s3seal::format::{Dek, Expect, StreamOpener, StreamSealer};
use std::time::Instant;

const TOTAL: usize = 256 << 20;

fn rate(label: &str, bytes: usize, f: impl FnOnce()) {
    let t = Instant::now();
    f();
    let s = t.elapsed().as_secs_f64();
    println!(
        "{label:<40} {:>8.0} MiB/s",
        bytes as f64 / s / (1 << 20) as f64
    );
}

fn main() {
    println!(
        "cpu aes: {}, pclmulqdq: {}, vaes: {}, avx2: {}",
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
        std::arch::is_x86_feature_detected!("vaes"),
        std::arch::is_x86_feature_detected!("avx2")
    );
    let chunk = Bytes::from(vec![0x42u8; 1 << 20]);
    let cipher = Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap();
    let mut buf = vec![0u8; 65536];
    rate("raw aes-256-gcm (aes-gcm crate), 64 KiB", TOTAL, || {
        for i in 0..TOTAL / buf.len() {
            let mut n = [0u8; 12];
            n[..8].copy_from_slice(&(i as u64).to_be_bytes());
            let _ = cipher
                .encrypt_in_place_detached(Nonce::from_slice(&n), b"", &mut buf)
                .unwrap();
        }
    });
    // The two libraries share an API shape; segments use ring (src/format/segment.rs), whose
    // VAES/AVX2 path AWS-LC lacks on CPUs without AVX-512.
    macro_rules! raw_gcm {
        ($lib:ident, $label:expr) => {{
            use $lib::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
            let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7u8; 32]).unwrap());
            rate($label, TOTAL, || {
                for i in 0..TOTAL / buf.len() {
                    let mut n = [0u8; 12];
                    n[..8].copy_from_slice(&(i as u64).to_be_bytes());
                    let _ = key
                        .seal_in_place_separate_tag(
                            Nonce::assume_unique_for_key(n),
                            Aad::empty(),
                            &mut buf,
                        )
                        .unwrap();
                }
            });
        }};
    }
    raw_gcm!(aws_lc_rs, "raw aes-256-gcm (aws-lc-rs), 64 KiB");
    raw_gcm!(ring, "raw aes-256-gcm (ring), 64 KiB");
    rate("md5 (PUT's plaintext ETag)", TOTAL, || {
        let mut h = Md5::new();
        for _ in 0..TOTAL / chunk.len() {
            h.update(&chunk);
        }
        std::hint::black_box(h.finalize());
    });
    for seg in [16 << 10, 64 << 10, 1 << 20] {
        let dek = Dek::generate();
        let mut stored = Vec::new();
        rate(&format!("seal, segment {} KiB", seg >> 10), TOTAL, || {
            let mut s = StreamSealer::with_random_salt(&dek, 0, seg);
            for _ in 0..TOTAL / chunk.len() {
                s.push(chunk.clone(), &mut stored);
            }
            s.finish(&mut stored);
        });
        let stored: Vec<Bytes> = std::mem::take(&mut stored);
        rate(&format!("open, segment {} KiB", seg >> 10), TOTAL, || {
            let mut o = StreamOpener::new(&dek, seg, Expect::single(0, true));
            let mut out = Vec::new();
            for c in stored {
                o.push(c, &mut out).unwrap();
                out.clear();
            }
            o.finish(&mut out).unwrap();
        });
    }
}
