//! Single-request objects through the gateway are sealed at rest and plaintext to clients:
//! sizes, ranges, preconditions, checksums, tampering, legacy objects, LIST — over both
//! upstreams, each check also reading the store directly.

mod support;

use aws_sdk_s3::primitives::{ByteStream, DateTimeFormat};
use aws_sdk_s3::types::ChecksumAlgorithm;
use s3seal::format::size::{DEFAULT_SEGMENT, stored_len};
use support::{ALL, TestGateway, Upstream, pattern};

const S: usize = DEFAULT_SEGMENT as usize;
/// Recognisable plaintext, so "not stored in the clear" is a real check.
const MARKER: &[u8] = b"PLAINTEXT-MARKER-0123456789-";

fn marked(len: usize) -> Vec<u8> {
    MARKER.iter().copied().cycle().take(len).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The store holds ciphertext of the right length and a wrapped key, never the plaintext.
async fn assert_sealed_at_rest(gw: &TestGateway, bucket: &str, key: &str, plain: &[u8]) {
    let (raw, meta) = gw.raw_get(bucket, key).await;
    assert_eq!(
        raw.len() as u64,
        stored_len(plain.len() as u64, DEFAULT_SEGMENT),
        "{key}"
    );
    if plain.len() >= MARKER.len() {
        assert!(
            !contains(&raw, &plain[..MARKER.len()]),
            "{key}: plaintext stored"
        );
    }
    assert_eq!(
        meta.get("s3seal-v").map(String::as_str),
        Some("2"),
        "{key}: {meta:?}"
    );
    assert!(
        meta.get("s3seal-kek").is_some_and(|k| !k.is_empty()),
        "{meta:?}"
    );
    let dek = meta.get("s3seal-dek").expect("wrapped DEK in metadata");
    assert!(dek.len() >= 60, "wrapped DEK too short: {dek}");
}

#[tokio::test]
async fn sizes_round_trip_sealed_over_both_upstreams() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        for len in [0, 1, S - 1, S, S + 1, 3 * S + 7, 3 * 1024 * 1024 + 5] {
            let data = marked(len);
            let key = format!("obj-{len}");
            let etag = gw.put(&b, &key, &data).await;
            assert_eq!(gw.get(&b, &key).await, data, "{kind:?} {len}");
            let head = gw
                .client
                .head_object()
                .bucket(&b)
                .key(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(head.content_length(), Some(len as i64), "{kind:?} {len}");
            assert_eq!(
                head.e_tag(),
                Some(etag.as_str()),
                "{kind:?} {len}: one ETag per object, PUT's is HEAD's"
            );
            assert_sealed_at_rest(&gw, &b, &key, &data).await;
        }
    }
}

fn md5_of(data: &[u8]) -> Md5Hex {
    use md5::Digest;
    Md5Hex(md5::Md5::digest(data).into())
}

struct Md5Hex([u8; 16]);

impl std::fmt::LowerHex for Md5Hex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

#[tokio::test]
async fn client_metadata_passes_and_s3seal_keys_are_hidden() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.client
            .put_object()
            .bucket(&b)
            .key("m")
            .body(ByteStream::from_static(b"hello"))
            .content_type("image/png")
            .cache_control("max-age=60")
            .metadata("owner", "alice")
            .send()
            .await
            .unwrap();
        for meta in [
            gw.client
                .head_object()
                .bucket(&b)
                .key("m")
                .send()
                .await
                .unwrap()
                .metadata()
                .cloned(),
            gw.client
                .get_object()
                .bucket(&b)
                .key("m")
                .send()
                .await
                .unwrap()
                .metadata()
                .cloned(),
        ] {
            let meta = meta.unwrap_or_default();
            assert_eq!(
                meta.get("owner").map(String::as_str),
                Some("alice"),
                "{kind:?}"
            );
            assert!(
                meta.keys().all(|k| !k.starts_with("s3seal")),
                "{kind:?}: {meta:?}"
            );
        }
        let head = gw
            .client
            .head_object()
            .bucket(&b)
            .key("m")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some("image/png"));
        assert_eq!(head.cache_control(), Some("max-age=60"));
        // Clients cannot forge s3seal metadata.
        let err = gw
            .client
            .put_object()
            .bucket(&b)
            .key("forge")
            .body(ByteStream::from_static(b"x"))
            .metadata("s3seal-kek", "evil")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("InvalidArgument")
        );
    }
}

#[tokio::test]
async fn every_range_edge() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let len = 3 * S + 100;
        let data = pattern(len, 5);
        gw.put(&b, "r", &data).await;
        let l = len as u64;
        let s = S as u64;
        let cases: Vec<(String, u64, u64)> = vec![
            ("bytes=0-0".into(), 0, 0),
            (format!("bytes=0-{}", s - 1), 0, s - 1),
            (format!("bytes={}-{}", s - 1, s), s - 1, s),
            (format!("bytes={s}-{s}"), s, s),
            (
                format!("bytes={}-{}", s + 10, 2 * s + 10),
                s + 10,
                2 * s + 10,
            ),
            (format!("bytes={}-{}", l - 1, l - 1), l - 1, l - 1),
            (format!("bytes={}-{}", l - 5, l + 1000), l - 5, l - 1),
            (format!("bytes={}-", 2 * s), 2 * s, l - 1),
            ("bytes=-1".into(), l - 1, l - 1),
            (format!("bytes=-{}", s + 5), l - s - 5, l - 1),
            (format!("bytes=-{}", l + 10), 0, l - 1),
        ];
        for (range, first, last) in cases {
            let out = gw
                .client
                .get_object()
                .bucket(&b)
                .key("r")
                .range(&range)
                .send()
                .await
                .unwrap();
            assert_eq!(
                out.content_length(),
                Some((last - first + 1) as i64),
                "{kind:?} {range}"
            );
            assert_eq!(
                out.content_range(),
                Some(format!("bytes {first}-{last}/{l}").as_str()),
                "{kind:?} {range}"
            );
            let body = out.body.collect().await.unwrap().into_bytes();
            assert!(
                body[..] == data[first as usize..=last as usize],
                "{kind:?} {range}"
            );
        }
        for bad in [format!("bytes={l}-"), format!("bytes={}-{}", l + 5, l + 10)] {
            let err = gw
                .client
                .get_object()
                .bucket(&b)
                .key("r")
                .range(&bad)
                .send()
                .await
                .unwrap_err();
            let raw = err.raw_response().map(|r| r.status().as_u16());
            assert_eq!(raw, Some(416), "{kind:?} {bad}");
        }
        gw.put(&b, "empty", b"").await;
        let err = gw
            .client
            .get_object()
            .bucket(&b)
            .key("empty")
            .range("bytes=0-0")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(416));
    }
}

#[tokio::test]
async fn range_reads_fetch_only_covering_segments() {
    // Tamper with segment 0 in the store: a range inside segment 2 must still succeed
    // (proving segment 0 was never fetched), while a full read fails.
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let data = pattern(4 * S, 9);
    gw.put(&b, "x", &data).await;
    let (mut raw, meta) = gw.raw_get(&b, "x").await;
    raw[40] ^= 1;
    raw_put(&gw, &b, "x", raw, meta).await;
    let r = format!("bytes={}-{}", 2 * S + 1, 2 * S + 99);
    let out = gw
        .client
        .get_object()
        .bucket(&b)
        .key("x")
        .range(r)
        .send()
        .await
        .unwrap();
    let body = out.body.collect().await.unwrap().into_bytes();
    assert!(body[..] == data[2 * S + 1..=2 * S + 99]);
    assert!(get_fails(&gw, &b, "x").await);
}

async fn raw_put(
    gw: &TestGateway,
    b: &str,
    k: &str,
    body: Vec<u8>,
    meta: std::collections::HashMap<String, String>,
) {
    gw.upstream
        .put_object()
        .bucket(b)
        .key(k)
        .body(body.into())
        .set_metadata(Some(meta))
        .send()
        .await
        .unwrap();
}

/// True when a GET through the gateway errors, either before or during the body.
async fn get_fails(gw: &TestGateway, b: &str, k: &str) -> bool {
    match gw.client.get_object().bucket(b).key(k).send().await {
        Err(_) => true,
        Ok(out) => out.body.collect().await.is_err(),
    }
}

#[tokio::test]
async fn tampered_truncated_and_swapped_objects_never_read() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let a = pattern(5 * S + 3, 1);
        let c = pattern(5 * S + 3, 2);
        gw.put(&b, "a", &a).await;
        gw.put(&b, "c", &c).await;
        let (raw_a, meta_a) = gw.raw_get(&b, "a").await;
        let (raw_c, meta_c) = gw.raw_get(&b, "c").await;

        // A flipped bit in the LAST segment: headers are already sent when it is found, so
        // the connection must be cut, never ended cleanly.
        let mut t = raw_a.clone();
        let n = t.len();
        t[n - 5] ^= 0x80;
        raw_put(&gw, &b, "t1", t, meta_a.clone()).await;
        assert!(
            get_fails(&gw, &b, "t1").await,
            "{kind:?}: tampered tail read"
        );

        // Each region: a segment header, ciphertext, a tag.
        for pos in [0, 10, 16, 100, S + 32 + 20, 2 * (S + 32) - 1] {
            let mut t = raw_a.clone();
            t[pos] ^= 1;
            raw_put(&gw, &b, "t2", t, meta_a.clone()).await;
            assert!(
                get_fails(&gw, &b, "t2").await,
                "{kind:?}: flip at {pos} read"
            );
        }
        // Truncated by a whole segment, and mid-segment.
        for cut in [S + 32, 7] {
            let t = raw_a[..raw_a.len() - cut].to_vec();
            raw_put(&gw, &b, "t3", t, meta_a.clone()).await;
            assert!(
                get_fails(&gw, &b, "t3").await,
                "{kind:?}: truncated by {cut} read"
            );
        }
        // Segments swapped.
        let mut t = raw_a.clone();
        let (x, y) = t.split_at_mut(S + 32);
        x.swap_with_slice(&mut y[..S + 32]);
        raw_put(&gw, &b, "t4", t, meta_a.clone()).await;
        assert!(
            get_fails(&gw, &b, "t4").await,
            "{kind:?}: swapped segments read"
        );
        // Body of c with the wrapped key of a, and a's key under another name.
        raw_put(&gw, &b, "t5", raw_c.clone(), meta_a.clone()).await;
        assert!(get_fails(&gw, &b, "t5").await, "{kind:?}: body swap read");
        raw_put(&gw, &b, "t6", raw_a.clone(), meta_a.clone()).await;
        assert!(
            get_fails(&gw, &b, "t6").await,
            "{kind:?}: wrapped key moved to another key read"
        );
        // Wrapped key of c on c's own body still reads (the control).
        raw_put(&gw, &b, "c", raw_c, meta_c).await;
        assert_eq!(gw.get(&b, "c").await, c);
    }
}

fn status<T, E>(
    r: Result<T, aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    }
}

#[tokio::test]
async fn preconditions_behave_as_s3() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        // The ETag the PUT answered is the one conditions compare with (issue 19 item 1:
        // it used to be the plaintext MD5 while reads showed another value).
        let etag = gw.put(&b, "p", b"conditional").await;
        let get = || gw.client.get_object().bucket(&b).key("p");
        assert_eq!(status(get().if_match(&etag).send().await), 200, "{kind:?}");
        assert_eq!(
            status(get().if_match("\"nope\"").send().await),
            412,
            "{kind:?}"
        );
        assert_eq!(
            status(get().if_none_match(&etag).send().await),
            304,
            "{kind:?}"
        );
        assert_eq!(
            status(get().if_none_match("\"nope\"").send().await),
            200,
            "{kind:?}"
        );
        let future = aws_sdk_s3::primitives::DateTime::from_secs(4_000_000_000);
        let past = aws_sdk_s3::primitives::DateTime::from_secs(1_000_000_000);
        assert_eq!(
            status(get().if_modified_since(future).send().await),
            304,
            "{kind:?}"
        );
        assert_eq!(
            status(get().if_modified_since(past).send().await),
            200,
            "{kind:?}"
        );
        assert_eq!(
            status(get().if_unmodified_since(past).send().await),
            412,
            "{kind:?}"
        );
        assert_eq!(
            status(get().if_unmodified_since(future).send().await),
            200,
            "{kind:?}"
        );
        // If-Match passes, so If-Unmodified-Since is ignored (S3's rule).
        assert_eq!(
            status(get().if_match(&etag).if_unmodified_since(past).send().await),
            200
        );
        let head = || gw.client.head_object().bucket(&b).key("p");
        assert_eq!(
            status(head().if_none_match(&etag).send().await),
            304,
            "{kind:?}"
        );
        assert_eq!(
            status(head().if_match("\"nope\"").send().await),
            412,
            "{kind:?}"
        );
        // The same ETag on HEAD, GET and LIST (s3s-fs lists no ETags at all).
        let list = gw.client.list_objects_v2().bucket(&b).send().await.unwrap();
        if kind == Upstream::Moto {
            assert_eq!(list.contents()[0].e_tag(), Some(etag.as_str()));
        }
        let g = get().send().await.unwrap();
        assert_eq!(g.e_tag(), Some(etag.as_str()));
        // A 304 carries the ETag, as S3's does (caches revalidate with it).
        let r = get().if_modified_since(future).send().await;
        let e = r.expect_err("304");
        let raw = e.raw_response().unwrap();
        assert_eq!(raw.status().as_u16(), 304);
        assert_eq!(
            raw.headers().get("etag"),
            Some(etag.as_str()),
            "{kind:?}: a 304 carries the ETag"
        );
        // ... and the Last-Modified the GET shows, and no length of an XML it never sends.
        let shown = g.last_modified().unwrap();
        let lm = raw
            .headers()
            .get("last-modified")
            .expect("a 304 carries Last-Modified");
        let lm = aws_sdk_s3::primitives::DateTime::from_str(lm, DateTimeFormat::HttpDate).unwrap();
        assert_eq!(lm.secs(), shown.secs(), "{kind:?}");
        assert_eq!(raw.headers().get("content-length"), None, "{kind:?}");
        assert_eq!(raw.headers().get("content-type"), None, "{kind:?}");
    }
}

#[tokio::test]
async fn checksums_refer_to_plaintext_and_mismatches_store_nothing() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(3 * S + 11, 4);
        for alg in [
            ChecksumAlgorithm::Crc32,
            ChecksumAlgorithm::Crc32C,
            ChecksumAlgorithm::Sha1,
            ChecksumAlgorithm::Sha256,
            ChecksumAlgorithm::Crc64Nvme,
        ] {
            let key = format!("ck-{}", alg.as_str());
            let out = gw
                .client
                .put_object()
                .bucket(&b)
                .key(&key)
                .checksum_algorithm(alg.clone())
                .body(data.clone().into())
                .send()
                .await
                .unwrap_or_else(|e| panic!("{kind:?} {alg:?}: {e:?}"));
            assert!(out.e_tag().is_some());
            assert_eq!(gw.get(&b, &key).await, data);
        }
        // Wrong CRC32 header value.
        let err = gw
            .client
            .put_object()
            .bucket(&b)
            .key("bad-crc")
            .checksum_crc32("AAAAAA==")
            .body(data.clone().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("BadDigest"),
            "{kind:?}"
        );
        assert!(
            gw.upstream
                .head_object()
                .bucket(&b)
                .key("bad-crc")
                .send()
                .await
                .is_err(),
            "{kind:?}: bad object stored"
        );
        // Wrong Content-MD5.
        let err = gw
            .client
            .put_object()
            .bucket(&b)
            .key("bad-md5")
            .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
            .body(data.clone().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("BadDigest"),
            "{kind:?}"
        );
        assert!(
            gw.upstream
                .head_object()
                .bucket(&b)
                .key("bad-md5")
                .send()
                .await
                .is_err()
        );
        // Right Content-MD5: HEAD then also knows the plaintext MD5 as an alternate ETag.
        let md5 = base64_md5(&data);
        gw.client
            .put_object()
            .bucket(&b)
            .key("good-md5")
            .content_md5(md5)
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        let plain_md5 = format!("\"{:x}\"", md5_of(&data));
        gw.client
            .get_object()
            .bucket(&b)
            .key("good-md5")
            .if_match(plain_md5)
            .send()
            .await
            .unwrap();
        // Bodies of 4 MiB and more are hashed on a worker thread: same verdicts.
        let big = pattern(5 << 20, 5);
        let err = gw
            .client
            .put_object()
            .bucket(&b)
            .key("big-bad-md5")
            .content_md5("1B2M2Y8AsgTpgAmY7PhCfg==")
            .body(big.clone().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.into_service_error().meta().code(),
            Some("BadDigest"),
            "{kind:?}"
        );
        assert!(
            gw.upstream
                .head_object()
                .bucket(&b)
                .key("big-bad-md5")
                .send()
                .await
                .is_err(),
            "{kind:?}: bad large object stored"
        );
        gw.client
            .put_object()
            .bucket(&b)
            .key("big-good-md5")
            .content_md5(base64_md5(&big))
            .body(big.clone().into())
            .send()
            .await
            .unwrap();
        gw.client
            .get_object()
            .bucket(&b)
            .key("big-good-md5")
            .if_match(format!("\"{:x}\"", md5_of(&big)))
            .send()
            .await
            .unwrap();
        // GET with checksum mode never returns the ciphertext's checksum.
        let g = gw
            .client
            .get_object()
            .bucket(&b)
            .key("ck-CRC32")
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let (raw, _) = gw.raw_get(&b, "ck-CRC32").await;
        let _ = raw;
        if let Some(c) = g.checksum_crc32() {
            assert_eq!(
                c,
                crc32_b64(&data),
                "{kind:?}: GET checksum must be the plaintext's"
            );
        }
    }
}

fn base64_md5(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(md5_of(data).0)
}

fn crc32_b64(data: &[u8]) -> String {
    use base64::Engine;
    let mut h = s3s::crypto::Crc32::default();
    s3s::crypto::Checksum::update(&mut h, data);
    base64::engine::general_purpose::STANDARD.encode(s3s::crypto::Checksum::finalize(h))
}

#[tokio::test]
async fn legacy_plaintext_objects_are_served_as_stored() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(1000, 8);
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("old")
            .body(data.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "old").await, data, "{kind:?}");
        let head = gw
            .client
            .head_object()
            .bucket(&b)
            .key("old")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(1000));
        let r = gw
            .client
            .get_object()
            .bucket(&b)
            .key("old")
            .range("bytes=10-19")
            .send()
            .await
            .unwrap();
        assert!(r.body.collect().await.unwrap().into_bytes()[..] == data[10..20]);
    }
}

#[tokio::test]
async fn list_reports_plaintext_sizes_with_pagination() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let mut want = std::collections::BTreeMap::new();
        for i in 0..23usize {
            let len = [0, 1, S - 1, S, S + 1, 2 * S + 77][i % 6] + i;
            let key = format!("d{}/k{i:02}", i % 3);
            gw.put(&b, &key, &pattern(len, i as u64)).await;
            want.insert(key, len as i64);
        }
        let mut got = std::collections::BTreeMap::new();
        let mut token = None;
        let mut etags_checked = 0;
        loop {
            let out = gw
                .client
                .list_objects_v2()
                .bucket(&b)
                .max_keys(7)
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            for o in out.contents() {
                got.insert(o.key().unwrap().to_owned(), o.size().unwrap());
                // Every store lists ETags through the gateway (s3s-fs lists none itself;
                // s3cmd crashes without them), equal to HEAD's and never MD5-shaped.
                let listed = o.e_tag().expect("listed ETag");
                assert!(
                    listed.contains('-'),
                    "listed ETag must not look like an MD5"
                );
                if etags_checked < 3 {
                    etags_checked += 1;
                    let h = gw.client.head_object().bucket(&b).key(o.key().unwrap());
                    assert_eq!(h.send().await.unwrap().e_tag(), Some(listed), "{kind:?}");
                }
            }
            token = out.next_continuation_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        assert_eq!(got, want, "{kind:?} v2");
        // v1 with a prefix and delimiter.
        let v1 = gw
            .client
            .list_objects()
            .bucket(&b)
            .prefix("d1/")
            .delimiter("/")
            .send()
            .await
            .unwrap();
        for o in v1.contents() {
            assert_eq!(
                Some(&o.size().unwrap()),
                want.get(o.key().unwrap()),
                "{kind:?} v1"
            );
        }
        assert_eq!(
            v1.contents().len(),
            want.keys().filter(|k| k.starts_with("d1/")).count()
        );
    }
}

#[tokio::test]
async fn one_byte_chunks_and_aborted_uploads() {
    use futures::StreamExt;
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(S + 300, 12);
        let frames =
            futures::stream::iter(data.clone().into_iter().map(|x| {
                Ok::<_, std::io::Error>(http_body::Frame::data(bytes::Bytes::from(vec![x])))
            }));
        let body = http_body_util::StreamBody::new(frames);
        let sdk = aws_sdk_s3::primitives::SdkBody::from_body_1_x(body);
        gw.client
            .put_object()
            .bucket(&b)
            .key("tiny-chunks")
            .content_length(data.len() as i64)
            .body(ByteStream::new(sdk))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "tiny-chunks").await, data, "{kind:?}");

        // The client's body breaks half way: nothing may appear in the store.
        let chunks = futures::stream::iter(0..40).map(|i| {
            if i == 20 {
                Err(std::io::Error::other("client went away"))
            } else {
                Ok(http_body::Frame::data(bytes::Bytes::from(vec![7u8; 8192])))
            }
        });
        let sdk =
            aws_sdk_s3::primitives::SdkBody::from_body_1_x(http_body_util::StreamBody::new(chunks));
        let r = gw
            .client
            .put_object()
            .bucket(&b)
            .key("cut")
            .content_length(40 * 8192)
            .body(ByteStream::new(sdk))
            .send()
            .await;
        assert!(r.is_err(), "{kind:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(
            gw.upstream
                .head_object()
                .bucket(&b)
                .key("cut")
                .send()
                .await
                .is_err(),
            "{kind:?}: partial object stored"
        );
        assert!(
            gw.client
                .head_object()
                .bucket(&b)
                .key("cut")
                .send()
                .await
                .is_err()
        );
    }
}

/// A PUT's Content-MD5 (rclone sends one on every single PUT) used to be kept in clear at the
/// store as `s3seal-md5`: anyone who reads the store could confirm a guessed file or try all
/// short secrets (an outside probe recovered `PIN=4821` from it). It is now sealed under the
/// object's DEK: the store holds neither the hex nor the base64 MD5, anywhere, while
/// clients still read `md5chksum` (rclone's hash for non-MD5 ETags), copies keep it, and a
/// sealed MD5 edited at the store is not shown.
#[tokio::test]
async fn the_plaintext_md5_is_sealed_at_the_store() {
    use base64::Engine;
    use md5::{Digest, Md5};
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let body = b"PIN=4821".to_vec();
        let md5 = Md5::digest(&body);
        let (hex_md5, b64_md5) = (
            hex::encode(md5),
            base64::engine::general_purpose::STANDARD.encode(md5),
        );
        c.put_object()
            .bucket(&b)
            .key("pin.txt")
            .content_md5(&b64_md5)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        let (_, meta) = gw.raw_get(&b, "pin.txt").await;
        assert!(meta.contains_key("s3seal-md5s"), "{kind:?}: {meta:?}");
        for v in meta.values() {
            assert!(
                !v.contains(&hex_md5) && !v.contains(&b64_md5),
                "{kind:?}: MD5 in the clear: {meta:?}"
            );
        }
        if kind == Upstream::Fs {
            for f in support::files_under(gw.dir.path()) {
                let bytes = std::fs::read(&f).unwrap();
                let found =
                    contains(&bytes, hex_md5.as_bytes()) || contains(&bytes, b64_md5.as_bytes());
                assert!(!found, "{}: MD5 in the clear", f.display());
            }
        }
        c.copy_object()
            .bucket(&b)
            .key("copy.txt")
            .copy_source(format!("{b}/pin.txt"))
            .send()
            .await
            .unwrap();
        for k in ["pin.txt", "copy.txt"] {
            let head = c.head_object().bucket(&b).key(k).send().await.unwrap();
            let shown = head.metadata().and_then(|m| m.get("md5chksum")).cloned();
            assert_eq!(
                shown.as_deref(),
                Some(b64_md5.as_str()),
                "{kind:?} {k} HEAD"
            );
            let got = c.get_object().bucket(&b).key(k).send().await.unwrap();
            let shown = got.metadata().and_then(|m| m.get("md5chksum")).cloned();
            assert_eq!(shown.as_deref(), Some(b64_md5.as_str()), "{kind:?} {k} GET");
        }
        // The store swaps in another object's sealed MD5: not shown; the body still reads.
        c.put_object()
            .bucket(&b)
            .key("other")
            .content_md5(base64::engine::general_purpose::STANDARD.encode(Md5::digest(b"x")))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
        let (_, other) = gw.raw_get(&b, "other").await;
        let (raw, mut m) = gw.raw_get(&b, "pin.txt").await;
        m.insert("s3seal-md5s".into(), other["s3seal-md5s"].clone());
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("pin.txt")
            .set_metadata(Some(m))
            .body(ByteStream::from(raw))
            .send()
            .await
            .unwrap();
        let head = c
            .head_object()
            .bucket(&b)
            .key("pin.txt")
            .send()
            .await
            .unwrap();
        assert!(
            head.metadata().is_none_or(|m| !m.contains_key("md5chksum")),
            "{kind:?}"
        );
        assert_eq!(gw.get(&b, "pin.txt").await, body, "{kind:?}");
    }
}
