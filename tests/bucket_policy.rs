//! Per-bucket storage policy: passthrough, require-encryption, size and content-type limits,
//! each checked against the real gateway and by reading the store directly.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use s3seal::config::BucketMode;
use support::*;

#[tokio::test]
async fn passthrough_prefix_stores_plaintext_and_the_rest_stays_sealed() {
    for kind in ALL {
        let (gw, b) =
            start_with_policies(kind, vec![policy("*", "public/", BucketMode::Passthrough)]).await;
        let body = pattern(200_000, 1);
        gw.put(&b, "public/site.css", &body).await;
        gw.put(&b, "private/x", &body).await;
        let (raw, meta) = gw.raw_get(&b, "public/site.css").await;
        assert_eq!(raw, body, "{kind:?}: passthrough stores the plaintext");
        assert!(!meta.contains_key("s3seal-dek"));
        assert_eq!(
            meta.get("s3seal-owner").map(String::as_str),
            Some(ACCESS_KEY)
        );
        let h = gw
            .client
            .head_object()
            .bucket(&b)
            .key("public/site.css")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        assert!(
            h.metadata().is_none_or(|m| m.is_empty()),
            "{kind:?}: hidden metadata stays hidden on plaintext objects: {:?}",
            h.metadata()
        );
        let (raw, meta) = gw.raw_get(&b, "private/x").await;
        assert_ne!(raw, body, "{kind:?}: outside the prefix objects are sealed");
        assert!(meta.contains_key("s3seal-dek"));
        assert_eq!(gw.get(&b, "public/site.css").await, body);

        // Multipart under passthrough: the store's own upload id, plaintext parts.
        let c = &gw.client;
        let id = c
            .create_multipart_upload()
            .bucket(&b)
            .key("public/big.bin")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        assert!(!id.starts_with("s3seal"));
        let data = pattern(6 << 20, 2);
        let mut parts = Vec::new();
        for (n, chunk) in data.chunks(5 << 20).enumerate() {
            let n = n as i32 + 1;
            let p = c
                .upload_part()
                .bucket(&b)
                .key("public/big.bin")
                .upload_id(&id)
                .part_number(n)
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
        c.complete_multipart_upload()
            .bucket(&b)
            .key("public/big.bin")
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(gw.raw_get(&b, "public/big.bin").await.0, data, "{kind:?}");
        assert_eq!(gw.get(&b, "public/big.bin").await, data);
    }
}

#[tokio::test]
async fn require_refuses_plaintext_planted_in_the_store() {
    for kind in ALL {
        let (gw, b) = start_with_policies(kind, vec![policy("*", "", BucketMode::Require)]).await;
        gw.put(&b, "sealed", b"fine").await;
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("planted")
            .body(ByteStream::from_static(b"written around the gateway"))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "sealed").await, b"fine");
        let g = gw
            .client
            .get_object()
            .bucket(&b)
            .key("planted")
            .send()
            .await;
        assert_eq!(error_code(g).as_deref(), Some("AccessDenied"), "{kind:?}");
        let g = gw
            .client
            .get_object()
            .bucket(&b)
            .key("planted")
            .range("bytes=0-3")
            .send()
            .await;
        assert_eq!(
            error_code(g).as_deref(),
            Some("AccessDenied"),
            "{kind:?} range"
        );
        let h = gw
            .client
            .head_object()
            .bucket(&b)
            .key("planted")
            .send()
            .await;
        assert_eq!(
            error_code(h).as_deref(),
            Some("HTTP Some(403)"),
            "{kind:?} head"
        );
    }
    // Without the policy, legacy plaintext is served (the default `encrypt` mode).
    let (gw, b) = start_with_policies(Upstream::Fs, vec![]).await;
    gw.upstream
        .put_object()
        .bucket(&b)
        .key("legacy")
        .body(ByteStream::from_static(b"old"))
        .send()
        .await
        .unwrap();
    assert_eq!(gw.get(&b, "legacy").await, b"old");
}

#[tokio::test]
async fn size_limit_refuses_before_storing() {
    let mut p = policy("*", "", BucketMode::Encrypt);
    p.max_object_size = Some(6 << 20);
    let (gw, b) = start_with_policies(Upstream::Fs, vec![p]).await;
    let c = &gw.client;
    gw.put(&b, "ok", &pattern(6 << 20, 3)).await;
    let r = c
        .put_object()
        .bucket(&b)
        .key("big")
        .body(ByteStream::from(pattern((6 << 20) + 1, 4)))
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("EntityTooLarge"));
    assert!(!stored(&gw, &b, "big").await);

    // Multipart: parts may each be small; the total is judged at Complete.
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id
        .unwrap();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let p = c
            .upload_part()
            .bucket(&b)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(pattern(5 << 20, n as u64)))
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
    let r = c
        .complete_multipart_upload()
        .bucket(&b)
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("EntityTooLarge"));
    assert!(!stored(&gw, &b, "mp").await);
}

#[tokio::test]
async fn content_types_are_checked_by_declaration_and_by_leading_bytes() {
    let mut p = policy("*", "", BucketMode::Encrypt);
    p.allowed_content_types = vec!["image/*".into(), "application/pdf".into()];
    let (gw, b) = start_with_policies(Upstream::Fs, vec![p]).await;
    let put = |key: &'static str, ct: &'static str, body: Vec<u8>| {
        gw.client
            .put_object()
            .bucket(&b)
            .key(key)
            .content_type(ct)
            .body(ByteStream::from(body))
            .send()
    };
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(pattern(100_000, 5));
    assert_eq!(
        error_code(put("a.png", "image/png", png.clone()).await),
        None
    );
    assert_eq!(gw.get(&b, "a.png").await, png);
    assert_eq!(
        error_code(put("d.pdf", "application/pdf", b"%PDF-1.7 ...".to_vec()).await),
        None
    );

    let r = put("page.html", "text/html", b"<html>".to_vec()).await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
    assert!(!stored(&gw, &b, "page.html").await);
    // Declared as an image, but the bytes say otherwise.
    let r = put(
        "fake.png",
        "image/png",
        b"<script>alert(1)</script>".to_vec(),
    )
    .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
    assert!(!stored(&gw, &b, "fake.png").await);
    let r = put("fake.jpg", "image/jpeg", png.clone()).await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
    // Multipart uploads are checked on their declared type.
    let r = gw
        .client
        .create_multipart_upload()
        .bucket(&b)
        .key("x.txt")
        .content_type("text/plain")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
}
