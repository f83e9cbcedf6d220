//! SSE-C emulation: objects sealed under the client's own key, which the gateway never
//! stores; right key, wrong key, no key; ranges, HEAD, copies and multipart; and proof at
//! the store that the key is not there and the gateway's KEKs alone cannot open it.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use support::*;

struct Key {
    b64: String,
    md5: String,
}

fn key(byte: u8) -> Key {
    let raw = [byte; 32];
    Key {
        b64: STANDARD.encode(raw),
        md5: STANDARD.encode(Md5::digest(raw)),
    }
}

macro_rules! with_key {
    ($op:expr, $k:expr) => {
        $op.sse_customer_algorithm("AES256")
            .sse_customer_key(&$k.b64)
            .sse_customer_key_md5(&$k.md5)
    };
}

#[tokio::test]
async fn customer_key_objects_need_exactly_that_key() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let (a, other) = (key(1), key(2));
        let body = pattern(200_000, 9);
        let put = with_key!(gw.client.put_object().bucket(&b).key("s"), a)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(put.sse_customer_key_md5(), Some(a.md5.as_str()));
        // Like S3's for SSE-C objects, the ETag is not the plaintext MD5; it is the one
        // every read shows.
        let head = with_key!(gw.client.head_object().bucket(&b).key("s"), a)
            .send()
            .await
            .unwrap();
        assert_eq!(put.e_tag(), head.e_tag());
        assert_ne!(
            put.e_tag().unwrap().trim_matches('"'),
            hex::encode(Md5::digest(&body))
        );

        // At the store: ciphertext, DEK wrapped under "sse-c", and no key or key hash.
        let (raw, meta) = gw.raw_get(&b, "s").await;
        assert_ne!(raw, body);
        assert_eq!(meta.get("s3seal-kek").map(String::as_str), Some("sse-c"));
        assert!(
            meta.values()
                .all(|v| !v.contains(&a.b64) && !v.contains(&a.md5))
        );
        let raw_head = gw
            .upstream
            .head_object()
            .bucket(&b)
            .key("s")
            .send()
            .await
            .unwrap();
        assert_eq!(
            raw_head.sse_customer_algorithm(),
            None,
            "{kind:?}: SSE-C not forwarded"
        );

        let got = with_key!(gw.client.get_object().bucket(&b).key("s"), a)
            .send()
            .await
            .unwrap();
        assert_eq!(got.sse_customer_key_md5(), Some(a.md5.as_str()));
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            &body[..]
        );
        let ranged = with_key!(gw.client.get_object().bucket(&b).key("s"), a)
            .range("bytes=65530-65545")
            .send()
            .await
            .unwrap();
        let r = ranged.body.collect().await.unwrap().into_bytes();
        assert_eq!(r.as_ref(), &body[65530..65546]);

        // No key / wrong key: S3's answers.
        let r = gw.client.get_object().bucket(&b).key("s").send().await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"), "{kind:?}");
        let r = with_key!(gw.client.get_object().bucket(&b).key("s"), other)
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("AccessDenied"), "{kind:?}");
        let r = with_key!(gw.client.get_object().bucket(&b).key("s"), other)
            .range("bytes=0-9")
            .send()
            .await;
        assert_eq!(
            error_code(r).as_deref(),
            Some("AccessDenied"),
            "{kind:?} range"
        );
        let h = with_key!(gw.client.head_object().bucket(&b).key("s"), a)
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_length(), Some(body.len() as i64));
        let h = gw.client.head_object().bucket(&b).key("s").send().await;
        assert_eq!(error_code(h).as_deref(), Some("HTTP Some(400)"));
        let h = with_key!(gw.client.head_object().bucket(&b).key("s"), other)
            .send()
            .await;
        assert_eq!(error_code(h).as_deref(), Some("HTTP Some(403)"));

        // A key for an object stored without one is not applicable.
        gw.put(&b, "plain", b"kek-sealed").await;
        let r = with_key!(gw.client.get_object().bucket(&b).key("plain"), a)
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"));

        // Bad key material is refused before anything is stored.
        let r = gw
            .client
            .put_object()
            .bucket(&b)
            .key("bad")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&a.b64)
            .sse_customer_key_md5(&other.md5)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"));
        let r = gw
            .client
            .put_object()
            .bucket(&b)
            .key("bad")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(STANDARD.encode([7u8; 16]))
            .sse_customer_key_md5(STANDARD.encode(Md5::digest([7u8; 16])))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"));
        assert!(
            gw.upstream
                .head_object()
                .bucket(&b)
                .key("bad")
                .send()
                .await
                .is_err()
        );
    }
}

#[tokio::test]
async fn gateway_keks_alone_cannot_open_a_customer_key_object() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let a = key(3);
    with_key!(gw.client.put_object().bucket(&b).key("s"), a)
        .body(ByteStream::from_static(b"customer secret"))
        .send()
        .await
        .unwrap();
    // Relabel the stored wrapped key as if it were under the gateway's KEK.
    let (raw, mut meta) = gw.raw_get(&b, "s").await;
    meta.insert("s3seal-kek".into(), "k1".into());
    gw.upstream
        .put_object()
        .bucket(&b)
        .key("s")
        .set_metadata(Some(meta))
        .body(ByteStream::from(raw))
        .send()
        .await
        .unwrap();
    let r = gw.client.get_object().bucket(&b).key("s").send().await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidObjectState"));
}

#[tokio::test]
async fn copies_and_multipart_with_customer_keys() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let (a, c2) = (key(4), key(5));
        with_key!(gw.client.put_object().bucket(&b).key("src"), a)
            .tagging("team=a")
            .body(ByteStream::from_static(b"copy me"))
            .send()
            .await
            .unwrap();
        // Source key needed to copy out; destination re-wrapped under the KEK.
        let r = gw
            .client
            .copy_object()
            .copy_source(format!("{b}/src"))
            .bucket(&b)
            .key("dst-plain")
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"), "{kind:?}");
        gw.client
            .copy_object()
            .copy_source(format!("{b}/src"))
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&a.b64)
            .copy_source_sse_customer_key_md5(&a.md5)
            .bucket(&b)
            .key("dst-plain")
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "dst-plain").await, b"copy me");
        // The re-sealed copy keeps the source's tags, as S3's default COPY directive does.
        let tags = gw.client.get_object_tagging().bucket(&b).key("dst-plain");
        let tags = tags.send().await.unwrap();
        let tags: Vec<_> = tags
            .tag_set()
            .iter()
            .map(|t| (t.key(), t.value()))
            .collect();
        assert_eq!(tags, [("team", "a")], "{kind:?}");
        // ... or under another customer key.
        with_key!(
            gw.client
                .copy_object()
                .copy_source(format!("{b}/dst-plain"))
                .bucket(&b)
                .key("dst-c2"),
            c2
        )
        .send()
        .await
        .unwrap();
        let got = with_key!(gw.client.get_object().bucket(&b).key("dst-c2"), c2)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            b"copy me"
        );
        let r = gw.client.get_object().bucket(&b).key("dst-c2").send().await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"));

        // Multipart: key on create and on every part, none on complete (as S3).
        let data = pattern((5 << 20) + 1234, 6);
        let id = with_key!(gw.client.create_multipart_upload().bucket(&b).key("mp"), a)
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        let r = gw
            .client
            .upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"no key"))
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"), "{kind:?}");
        let mut parts = Vec::new();
        for (n, chunk) in data.chunks(5 << 20).enumerate() {
            let n = n as i32 + 1;
            let p = with_key!(
                gw.client
                    .upload_part()
                    .bucket(&b)
                    .key("mp")
                    .upload_id(&id)
                    .part_number(n),
                a
            )
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(p.e_tag.unwrap())
                    .build(),
            );
        }
        let done = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        // Complete needs the customer key: the object's layout is authenticated under its
        // data key, which only that key unwraps (boto3 and aws cli send it, S3 accepts it).
        let r = gw
            .client
            .complete_multipart_upload()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .multipart_upload(done.clone())
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"), "{kind:?}");
        with_key!(
            gw.client
                .complete_multipart_upload()
                .bucket(&b)
                .key("mp")
                .upload_id(&id),
            a
        )
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
        let got = with_key!(gw.client.get_object().bucket(&b).key("mp"), a)
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.body.collect().await.unwrap().into_bytes().as_ref(),
            &data[..]
        );
        let r = with_key!(gw.client.get_object().bucket(&b).key("mp"), c2)
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("AccessDenied"), "{kind:?}");
    }
}
