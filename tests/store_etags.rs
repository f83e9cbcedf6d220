//! The embedded store's ETags. Served bare, a body's ETag is its MD5 (S3's rule, which clients
//! of a plain store compare). The gateway's own handle skips that MD5 (it was half of the
//! embedded default's PUT CPU) and gives every write a random 128-bit ETag instead, since the
//! gateway never shows a store ETag as a content MD5. Both handles still check a Content-MD5
//! a request carries, on PutObject and UploadPart, and answer BadDigest without storing.

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use base64::Engine;
use md5::Digest;
use support::{TestGateway, Upstream, client, error_code};

const PART: usize = 5 * 1024 * 1024 + 4_999;

/// One store directory served twice: a bare handle (MD5 ETags) and the gateway's kind.
async fn two_handles() -> (Client, Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let mut out = Vec::new();
    for opaque in [false, true] {
        let store = s3seal::store::Store::open(&path).unwrap();
        let store = if opaque {
            store.with_opaque_etags()
        } else {
            store
        };
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        tokio::spawn(s3seal::store::serve_store(store, l, "ak", "sk"));
        out.push(client(&url, "ak", "sk"));
    }
    out[0].create_bucket().bucket("bkt").send().await.unwrap();
    let opaque = out.pop().unwrap();
    (out.pop().unwrap(), opaque, dir)
}

fn md5_hex(b: &[u8]) -> String {
    hex::encode(md5::Md5::digest(b))
}

fn md5_b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(b))
}

fn unquote(e: Option<&str>) -> String {
    e.unwrap_or_default().trim_matches('"').to_owned()
}

async fn put(c: &Client, k: &str, body: &[u8], content_md5: Option<String>) -> Option<String> {
    match c
        .put_object()
        .bucket("bkt")
        .key(k)
        .body(body.to_vec().into())
        .set_content_md5(content_md5)
        .send()
        .await
    {
        Ok(o) => Some(unquote(o.e_tag())),
        Err(e) => Some(format!("error {}", error_code::<(), _>(Err(e)).unwrap())),
    }
}

async fn listed_etag(c: &Client, k: &str) -> String {
    let l = c
        .list_objects_v2()
        .bucket("bkt")
        .prefix(k)
        .send()
        .await
        .unwrap();
    let o = l.contents().iter().find(|o| o.key() == Some(k)).unwrap();
    unquote(o.e_tag())
}

#[tokio::test]
async fn bare_handle_keeps_md5_etags_gateway_handle_gives_each_write_its_own() {
    let (bare, opaque, _dir) = two_handles().await;
    let body = b"the same bytes, twice".to_vec();

    // Bare: S3's ETag, the MD5 of the body, the same for the same bytes.
    let e = put(&bare, "m", &body, None).await.unwrap();
    assert_eq!(e, md5_hex(&body));
    assert_eq!(put(&bare, "m", &body, None).await.unwrap(), e);

    // The gateway's handle: no MD5, a fresh ETag per write (even of the same bytes), shown
    // the same by PUT, HEAD, GET and LIST.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..3 {
        let e = put(&opaque, "o", &body, None).await.unwrap();
        assert_ne!(e, md5_hex(&body));
        assert_eq!(e.len(), 32, "{e}");
        assert!(e.bytes().all(|c| c.is_ascii_hexdigit()), "{e}");
        assert!(seen.insert(e.clone()), "every write gets its own ETag");
        for c in [&opaque, &bare] {
            let h = c.head_object().bucket("bkt").key("o").send().await.unwrap();
            assert_eq!(unquote(h.e_tag()), e);
            let g = c.get_object().bucket("bkt").key("o").send().await.unwrap();
            assert_eq!(unquote(g.e_tag()), e);
            assert_eq!(g.body.collect().await.unwrap().into_bytes(), &body[..]);
            assert_eq!(listed_etag(c, "o").await, e);
        }
        // A conditional request on that ETag behaves as on any store.
        let r = opaque
            .get_object()
            .bucket("bkt")
            .key("o")
            .if_match(format!("\"{e}\""))
            .send()
            .await;
        assert!(r.is_ok());
    }
}

#[tokio::test]
async fn content_md5_is_checked_and_becomes_the_etag_on_both_handles() {
    let (bare, opaque, _dir) = two_handles().await;
    let body = vec![7u8; 100_000];
    for (name, c) in [("bare", &bare), ("gateway", &opaque)] {
        let k = format!("cm-{name}");
        assert_eq!(
            put(c, &k, &body, Some(md5_b64(&body))).await.unwrap(),
            md5_hex(&body),
            "{name}: a checked Content-MD5 is the ETag"
        );
        assert_eq!(
            put(c, &k, b"other bytes", Some(md5_b64(&body)))
                .await
                .unwrap(),
            "error BadDigest",
            "{name}"
        );
        // The failed PUT stored nothing: the old object is intact.
        let g = c.get_object().bucket("bkt").key(&k).send().await.unwrap();
        assert_eq!(g.body.collect().await.unwrap().into_bytes(), &body[..]);
    }
}

#[tokio::test]
async fn upload_part_checks_content_md5_and_multipart_completes_with_either_etag_kind() {
    let (bare, opaque, _dir) = two_handles().await;
    let parts = [vec![1u8; PART], vec![2u8; 1000]];
    for (name, c) in [("bare", &bare), ("gateway", &opaque)] {
        let k = format!("mp-{name}");
        let id = c
            .create_multipart_upload()
            .bucket("bkt")
            .key(&k)
            .send()
            .await
            .unwrap()
            .upload_id
            .unwrap();
        // A part whose Content-MD5 does not match is refused (S3: BadDigest), not stored.
        let bad = c
            .upload_part()
            .bucket("bkt")
            .key(&k)
            .upload_id(&id)
            .part_number(1)
            .content_md5(md5_b64(b"something else"))
            .body(ByteStream::from(parts[0].clone()))
            .send()
            .await;
        assert_eq!(error_code(bad).as_deref(), Some("BadDigest"), "{name}");
        let listed = c
            .list_parts()
            .bucket("bkt")
            .key(&k)
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert!(
            listed.parts().is_empty(),
            "{name}: the refused part was kept"
        );
        let mut done = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i as i32 + 1;
            let e = c
                .upload_part()
                .bucket("bkt")
                .key(&k)
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(p.clone()))
                .send()
                .await
                .unwrap()
                .e_tag
                .unwrap();
            assert_eq!(unquote(Some(&e)) == md5_hex(p), name == "bare", "{name}");
            done.push(CompletedPart::builder().part_number(n).e_tag(e).build());
        }
        let out = c
            .complete_multipart_upload()
            .bucket("bkt")
            .key(&k)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(done))
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert!(unquote(out.e_tag()).ends_with("-2"), "{name}");
        let g = c.get_object().bucket("bkt").key(&k).send().await.unwrap();
        assert_eq!(unquote(g.e_tag()), unquote(out.e_tag()));
        assert_eq!(
            g.body.collect().await.unwrap().into_bytes().to_vec(),
            parts.concat()
        );
    }
}

/// The gateway on its embedded default uses the opaque handle, and its clients still see one
/// stable ETag per object that is not an MD5 (`…-1`), while the store holds ciphertext.
#[tokio::test]
async fn the_embedded_gateway_stores_without_md5_and_shows_one_etag() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let body = vec![42u8; 200_000];
    let put = gw
        .client
        .put_object()
        .bucket(&b)
        .key("k")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let shown = unquote(put.e_tag());
    let stored = gw
        .upstream
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    let store_etag = unquote(stored.e_tag());
    let ciphertext = stored.body.collect().await.unwrap().into_bytes();
    assert_ne!(&ciphertext[..], &body[..]);
    assert_ne!(
        store_etag,
        md5_hex(&ciphertext),
        "the gateway's store computed an MD5"
    );
    assert_eq!(shown, format!("{store_etag}-1"));
    let h = gw
        .client
        .head_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(unquote(h.e_tag()), shown);
    let g = gw
        .client
        .get_object()
        .bucket(&b)
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(unquote(g.e_tag()), shown);
    assert_eq!(g.body.collect().await.unwrap().into_bytes(), &body[..]);
}
