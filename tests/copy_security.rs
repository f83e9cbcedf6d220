//! Copies and passthrough uploads against the storage policy (issue 16 item 5) and copies
//! across trust domains (issue 18 item 6): every check through the running gateway, every
//! "nothing stored" and every key claim verified by reading the store directly.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use md5::{Digest, Md5};
use s3seal::config::BucketMode;
use s3seal::keys::{KekProvider, WrapContext, WrappedDek};
use support::*;

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0000000000000000";
const HTML: &[u8] = b"<html><script>alert(document.cookie)</script></html>";

#[tokio::test]
async fn copies_into_an_image_only_location_keep_its_type_rules() {
    for kind in ALL {
        let mut img = policy("*", "img/", BucketMode::Encrypt);
        img.allowed_content_types = vec!["image/*".into()];
        let (gw, b) = start_with_policies(kind, vec![img]).await;
        let c = &gw.client;
        c.put_object()
            .bucket(&b)
            .key("img/a.png")
            .content_type("image/png")
            .body(ByteStream::from_static(PNG))
            .send()
            .await
            .unwrap();
        // Outside the rule: HTML, and HTML that claims to be a PNG.
        for (k, ct) in [("page.html", "text/html"), ("fake.png", "image/png")] {
            c.put_object()
                .bucket(&b)
                .key(k)
                .content_type(ct)
                .body(ByteStream::from_static(HTML))
                .send()
                .await
                .unwrap();
        }

        // REPLACE to text/html.
        let r = c
            .copy_object()
            .bucket(&b)
            .key("img/x.html")
            .copy_source(format!("{b}/img/a.png"))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .content_type("text/html")
            .send()
            .await;
        assert_eq!(
            error_code(r).as_deref(),
            Some("InvalidArgument"),
            "{kind:?}"
        );
        // COPY of an HTML object, and of HTML bytes declared as image/png.
        for src in ["page.html", "fake.png"] {
            let r = c
                .copy_object()
                .bucket(&b)
                .key(format!("img/{src}"))
                .copy_source(format!("{b}/{src}"))
                .send()
                .await;
            assert_eq!(
                error_code(r).as_deref(),
                Some("InvalidArgument"),
                "{kind:?} {src}"
            );
        }
        for k in ["img/x.html", "img/page.html", "img/fake.png"] {
            assert!(!stored(&gw, &b, k).await, "{kind:?}: {k} was stored");
        }
        // An allowed copy still works.
        c.copy_object()
            .bucket(&b)
            .key("img/b.png")
            .copy_source(format!("{b}/img/a.png"))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "img/b.png").await, PNG);
    }
}

#[tokio::test]
async fn copies_into_a_size_limited_location_keep_its_limit() {
    for kind in ALL {
        let mut small = policy("*", "small/", BucketMode::Encrypt);
        small.max_object_size = Some(1 << 20);
        let (gw, b) = start_with_policies(kind, vec![small]).await;
        let c = &gw.client;
        let big = pattern(2 << 20, 5);
        gw.put(&b, "big", &big).await;

        let r = c
            .copy_object()
            .bucket(&b)
            .key("small/big")
            .copy_source(format!("{b}/big"))
            .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("EntityTooLarge"), "{kind:?}");
        assert!(!stored(&gw, &b, "small/big").await, "{kind:?}");

        let id = c
            .create_multipart_upload()
            .bucket(&b)
            .key("small/mp")
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        let r = c
            .upload_part_copy()
            .bucket(&b)
            .key("small/mp")
            .upload_id(&id)
            .part_number(1)
            .copy_source(format!("{b}/big"))
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("EntityTooLarge"), "{kind:?}");
        let parts = c
            .list_parts()
            .bucket(&b)
            .key("small/mp")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "{kind:?}: a part was stored");
    }
}

/// A plain (not aws-chunked) body sent with an `x-amz-decoded-content-length` that lies.
async fn put_declaring(
    gw: &TestGateway,
    b: &str,
    k: &str,
    declared: usize,
    body: Vec<u8>,
) -> Option<String> {
    // No flexible checksum, so the body goes out plain (not aws-chunked).
    let creds = aws_sdk_s3::config::Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "t");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(&gw.endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .build();
    let r = aws_sdk_s3::Client::from_conf(conf)
        .put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(body))
        .customize()
        .mutate_request(move |r| {
            r.headers_mut()
                .insert("x-amz-decoded-content-length", declared.to_string());
        })
        .send()
        .await;
    error_code(r)
}

#[tokio::test]
async fn passthrough_limits_hold_for_the_bytes_actually_sent() {
    for kind in ALL {
        let mut public = policy("*", "pub/", BucketMode::Passthrough);
        public.max_object_size = Some(1 << 20);
        let (gw, b) = start_with_policies(kind, vec![public]).await;
        let code = put_declaring(&gw, &b, "pub/big", 10, pattern(2 << 20, 3)).await;
        assert!(code.is_some(), "{kind:?}: 2 MiB stored under a 1 MiB limit");
        assert!(!stored(&gw, &b, "pub/big").await, "{kind:?}");
        // Under the limit but disagreeing with the declared length, either way.
        let code = put_declaring(&gw, &b, "pub/long", 10, pattern(1000, 4)).await;
        assert!(code.is_some(), "{kind:?}: body longer than declared");
        assert!(!stored(&gw, &b, "pub/long").await, "{kind:?}");
        let code = put_declaring(&gw, &b, "pub/short", 1000, pattern(10, 4)).await;
        assert!(code.is_some(), "{kind:?}: body shorter than declared");
        assert!(!stored(&gw, &b, "pub/short").await, "{kind:?}");
        // An honest passthrough upload is still stored as sent.
        let ok = pattern(1000, 6);
        gw.put(&b, "pub/ok", &ok).await;
        assert_eq!(gw.raw_get(&b, "pub/ok").await.0, ok, "{kind:?}");
    }
}

#[tokio::test]
async fn plaintext_planted_in_a_require_location_cannot_be_copied_out() {
    for kind in ALL {
        let (gw, b) =
            start_with_policies(kind, vec![policy("*", "locked/", BucketMode::Require)]).await;
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("locked/planted")
            .body(ByteStream::from_static(b"written around the gateway"))
            .send()
            .await
            .unwrap();
        let r = gw
            .client
            .copy_object()
            .bucket(&b)
            .key("out/copy")
            .copy_source(format!("{b}/locked/planted"))
            .send()
            .await;
        assert_eq!(error_code(r).as_deref(), Some("AccessDenied"), "{kind:?}");
        assert!(!stored(&gw, &b, "out/copy").await, "{kind:?}");
        // Sealed objects there copy as before.
        gw.put(&b, "locked/sealed", b"fine").await;
        gw.client
            .copy_object()
            .bucket(&b)
            .key("out/sealed")
            .copy_source(format!("{b}/locked/sealed"))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "out/sealed").await, b"fine");
    }
}

// ---- issue 18 item 6: copies across trust domains get a fresh DEK ----

#[derive(Clone, Copy)]
enum Dom {
    Kek,
    Customer(u8),
}

fn customer(byte: u8) -> (String, String) {
    let raw = [byte; 32];
    (STANDARD.encode(raw), STANDARD.encode(Md5::digest(raw)))
}

/// The object's DEK, unwrapped from its stored metadata with the domain's key.
async fn stored_dek(gw: &TestGateway, b: &str, k: &str, dom: Dom) -> [u8; 32] {
    let (_, meta) = gw.raw_get(b, k).await;
    let w = WrappedDek::from_metadata(&meta["s3seal-kek"], &meta["s3seal-dek"]).unwrap();
    let ctx = WrapContext::v2(Some(b), k);
    let dek = match dom {
        Dom::Kek => {
            let keys = s3seal::keys::load_key_file(&gw.dir.path().join("state/keys.toml")).unwrap();
            keys.unwrap(&w, &ctx).await.unwrap()
        }
        Dom::Customer(byte) => {
            let kek = s3seal::keys::Kek::from_bytes([byte; 32]);
            s3seal::keys::unwrap(&kek, &w, &ctx).unwrap()
        }
    };
    *dek.expose()
}

#[tokio::test]
async fn copies_across_trust_domains_get_a_fresh_dek() {
    let cases = [
        (Dom::Kek, Dom::Customer(1)),
        (Dom::Customer(1), Dom::Kek),
        (Dom::Customer(1), Dom::Customer(2)),
    ];
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let c = &gw.client;
        let body = pattern(300_000, 11);
        for (n, (from, to)) in cases.into_iter().enumerate() {
            let (src, dst) = (format!("src{n}"), format!("dst{n}"));
            let mut put = c
                .put_object()
                .bucket(&b)
                .key(&src)
                .body(ByteStream::from(body.clone()));
            if let Dom::Customer(k) = from {
                let (key, md5) = customer(k);
                put = put
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(key)
                    .sse_customer_key_md5(md5);
            }
            put.send().await.unwrap();
            let mut copy = c
                .copy_object()
                .bucket(&b)
                .key(&dst)
                .copy_source(format!("{b}/{src}"));
            if let Dom::Customer(k) = from {
                let (key, md5) = customer(k);
                copy = copy
                    .copy_source_sse_customer_algorithm("AES256")
                    .copy_source_sse_customer_key(key)
                    .copy_source_sse_customer_key_md5(md5);
            }
            if let Dom::Customer(k) = to {
                let (key, md5) = customer(k);
                copy = copy
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(key)
                    .sse_customer_key_md5(md5);
            }
            copy.send().await.unwrap();

            let src_dek = stored_dek(&gw, &b, &src, from).await;
            let dst_dek = stored_dek(&gw, &b, &dst, to).await;
            assert_ne!(
                src_dek, dst_dek,
                "{kind:?} case {n}: the copy reused the DEK"
            );
            let (src_raw, _) = gw.raw_get(&b, &src).await;
            let (dst_raw, _) = gw.raw_get(&b, &dst).await;
            assert_ne!(src_raw, dst_raw, "{kind:?} case {n}: same ciphertext");

            let mut get = c.get_object().bucket(&b).key(&dst);
            if let Dom::Customer(k) = to {
                let (key, md5) = customer(k);
                get = get
                    .sse_customer_algorithm("AES256")
                    .sse_customer_key(key)
                    .sse_customer_key_md5(md5);
            }
            let got = get.send().await.unwrap();
            let got = got.body.collect().await.unwrap().into_bytes();
            assert_eq!(&got[..], &body[..], "{kind:?} case {n}");
        }

        // KEK → KEK keeps the cheap re-wrap: same DEK, same ciphertext.
        gw.put(&b, "k-src", &body).await;
        c.copy_object()
            .bucket(&b)
            .key("k-dst")
            .copy_source(format!("{b}/k-src"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            stored_dek(&gw, &b, "k-src", Dom::Kek).await,
            stored_dek(&gw, &b, "k-dst", Dom::Kek).await
        );
        assert_eq!(gw.get(&b, "k-dst").await, body);
    }
}
