//! Conditional writes (If-Match / If-None-Match on PutObject, CompleteMultipartUpload,
//! CopyObject, DeleteObject and DeleteObjects' per-key ETags) as an S3 client uses them:
//! compare-and-swap with the ETag it was shown, create-only with `*`. A sealed object's
//! ETag is not the store's, so passing the client's condition through made every
//! compare-and-swap fail and every conditional Complete, Copy and Delete overwrite or delete
//! regardless. Each case checks what is stored afterwards, not only the status.

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use support::{ALL, TestGateway, error_code};

async fn body(c: &Client, b: &str, k: &str) -> Option<Vec<u8>> {
    let o = c.get_object().bucket(b).key(k).send().await.ok()?;
    Some(o.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn put(c: &Client, b: &str, k: &str, v: &[u8]) -> String {
    let o = c.put_object().bucket(b).key(k).body(v.to_vec().into());
    o.send().await.unwrap().e_tag.unwrap()
}

#[tokio::test]
async fn put_compare_and_swap_uses_the_etag_the_client_sees() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let e1 = put(c, &b, "a+b", b"one").await;
        assert_eq!(
            c.head_object()
                .bucket(&b)
                .key("a+b")
                .send()
                .await
                .unwrap()
                .e_tag
                .unwrap(),
            e1
        );
        // The ETag it was shown swaps; a stale one is refused and changes nothing.
        let e2 = c
            .put_object()
            .bucket(&b)
            .key("a+b")
            .if_match(&e1)
            .body(b"two".to_vec().into())
            .send()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: If-Match with the current ETag: {e:?}"))
            .e_tag
            .unwrap();
        let stale = c
            .put_object()
            .bucket(&b)
            .key("a+b")
            .if_match(&e1)
            .body(b"three".to_vec().into())
            .send()
            .await;
        assert_eq!(
            error_code(stale).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        assert_eq!(body(c, &b, "a+b").await.unwrap(), b"two", "{kind:?}");
        // A named ETag needs the object (S3: NoSuchKey); creates nothing.
        let missing = c
            .put_object()
            .bucket(&b)
            .key("x/y")
            .if_match(&e2)
            .body(b"new".to_vec().into())
            .send()
            .await;
        assert_eq!(
            error_code(missing).as_deref(),
            Some("NoSuchKey"),
            "{kind:?}"
        );
        assert!(body(c, &b, "x/y").await.is_none(), "{kind:?}");
        // Create-only.
        let exists = c
            .put_object()
            .bucket(&b)
            .key("a+b")
            .if_none_match("*")
            .body(b"four".to_vec().into())
            .send()
            .await;
        assert_eq!(
            error_code(exists).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        assert_eq!(body(c, &b, "a+b").await.unwrap(), b"two", "{kind:?}");
        c.put_object()
            .bucket(&b)
            .key("x")
            .if_none_match("*")
            .body(b"fresh".to_vec().into())
            .send()
            .await
            .unwrap();
        // If-None-Match naming the current ETag refuses; naming another lets it write.
        let same = c
            .put_object()
            .bucket(&b)
            .key("a+b")
            .if_none_match(&e2)
            .body(b"five".to_vec().into())
            .send()
            .await;
        assert_eq!(
            error_code(same).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        c.put_object()
            .bucket(&b)
            .key("a+b")
            .if_none_match(&e1)
            .body(b"six".to_vec().into())
            .send()
            .await
            .unwrap();
        assert_eq!(body(c, &b, "a+b").await.unwrap(), b"six", "{kind:?}");
        gw.stop().await;
    }
}

/// Uploads two parts (5 MiB + 1 byte) and completes with the given conditions.
async fn complete_with(
    c: &Client,
    b: &str,
    k: &str,
    fill: u8,
    if_match: Option<&str>,
    if_none_match: Option<&str>,
) -> Result<String, String> {
    let (id, parts) = support::upload_parts(c, b, k, &vec![fill; (5 << 20) + 1], 5 << 20).await;
    let done = c
        .complete_multipart_upload()
        .bucket(b)
        .key(k)
        .upload_id(&id)
        .set_if_match(if_match.map(str::to_owned))
        .set_if_none_match(if_none_match.map(str::to_owned))
        .multipart_upload(parts)
        .send()
        .await;
    match done {
        Ok(o) => Ok(o.e_tag.unwrap()),
        Err(e) => {
            let code = error_code::<(), _>(Err(e)).unwrap();
            let _ = c
                .abort_multipart_upload()
                .bucket(b)
                .key(k)
                .upload_id(&id)
                .send()
                .await;
            Err(code)
        }
    }
}

#[tokio::test]
async fn complete_multipart_upload_honours_write_conditions() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let e1 = put(c, &b, "doc", b"original").await;
        let refused = complete_with(c, &b, "doc", 1, None, Some("*")).await;
        assert_eq!(refused, Err("PreconditionFailed".into()), "{kind:?}");
        let refused = complete_with(c, &b, "doc", 2, Some("\"0123-1\""), None).await;
        assert_eq!(refused, Err("PreconditionFailed".into()), "{kind:?}");
        assert_eq!(body(c, &b, "doc").await.unwrap(), b"original", "{kind:?}");
        // The ETag the client was shown swaps, and the new object is whole.
        let e2 = complete_with(c, &b, "doc", 3, Some(&e1), None).await;
        let e2 = e2.unwrap_or_else(|e| panic!("{kind:?}: Complete with If-Match current: {e}"));
        let got = body(c, &b, "doc").await.unwrap();
        assert_eq!(got.len(), (5 << 20) + 1, "{kind:?}");
        assert!(got.iter().all(|&x| x == 3), "{kind:?}");
        // And the multipart object's own ETag works as If-Match too.
        complete_with(c, &b, "doc", 4, Some(&e2), None)
            .await
            .unwrap();
        complete_with(c, &b, "new", 5, None, Some("*"))
            .await
            .unwrap();
        gw.stop().await;
    }
}

#[tokio::test]
async fn copy_object_honours_destination_conditions() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        put(c, &b, "src", b"source bytes").await;
        let dst = put(c, &b, "dst", b"precious").await;
        let copy = || {
            c.copy_object()
                .bucket(&b)
                .key("dst")
                .copy_source(format!("{b}/src"))
        };
        let r = copy().if_none_match("*").send().await;
        assert_eq!(
            error_code(r).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        let r = copy().if_match("\"feedface-1\"").send().await;
        assert_eq!(
            error_code(r).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        assert_eq!(body(c, &b, "dst").await.unwrap(), b"precious", "{kind:?}");
        copy()
            .if_match(&dst)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: copy with If-Match current: {e:?}"));
        assert_eq!(
            body(c, &b, "dst").await.unwrap(),
            b"source bytes",
            "{kind:?}"
        );
        c.copy_object()
            .bucket(&b)
            .key("fresh")
            .copy_source(format!("{b}/src"))
            .if_none_match("*")
            .send()
            .await
            .unwrap();
        gw.stop().await;
    }
}

#[tokio::test]
async fn deletes_with_an_etag_delete_only_that_object() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let e = put(c, &b, "keep", b"k").await;
        let r = c
            .delete_object()
            .bucket(&b)
            .key("keep")
            .if_match("\"0-1\"")
            .send()
            .await;
        assert_eq!(
            error_code(r).as_deref(),
            Some("PreconditionFailed"),
            "{kind:?}"
        );
        assert!(
            body(c, &b, "keep").await.is_some(),
            "{kind:?}: deleted anyway"
        );
        c.delete_object()
            .bucket(&b)
            .key("keep")
            .if_match(&e)
            .send()
            .await
            .unwrap();
        assert!(body(c, &b, "keep").await.is_none(), "{kind:?}");

        let e1 = put(c, &b, "one", b"1").await;
        put(c, &b, "two", b"2").await;
        let id = |k: &str, e: &str| ObjectIdentifier::builder().key(k).e_tag(e).build().unwrap();
        let out = c
            .delete_objects()
            .bucket(&b)
            .delete(
                Delete::builder()
                    .objects(id("one", &e1))
                    .objects(id("two", "\"0-1\""))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        let deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
        let failed: Vec<_> = out.errors().iter().map(|e| (e.key(), e.code())).collect();
        assert_eq!(deleted, ["one"], "{kind:?}");
        assert_eq!(
            failed,
            [(Some("two"), Some("PreconditionFailed"))],
            "{kind:?}"
        );
        assert!(body(c, &b, "one").await.is_none(), "{kind:?}");
        assert_eq!(body(c, &b, "two").await.unwrap(), b"2", "{kind:?}");
        gw.stop().await;
    }
}

/// A DeleteObjects key that names a version and an ETag never loses its condition: a wrong
/// ETag leaves that version in place.
#[tokio::test]
async fn a_versioned_delete_with_a_wrong_etag_deletes_nothing() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    for kind in [support::Upstream::Fs, support::Upstream::Store] {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let on = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled);
        let v = c
            .put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(on.build());
        v.send().await.unwrap();
        let p = c
            .put_object()
            .bucket(&b)
            .key("v")
            .body(b"kept".to_vec().into());
        let vid = p.send().await.unwrap().version_id.unwrap();
        let id = ObjectIdentifier::builder()
            .key("v")
            .version_id(&vid)
            .e_tag("\"0-1\"")
            .build()
            .unwrap();
        let del = Delete::builder().objects(id).build().unwrap();
        let out = c
            .delete_objects()
            .bucket(&b)
            .delete(del)
            .send()
            .await
            .unwrap();
        assert!(out.deleted().is_empty(), "{kind:?}: {out:?}");
        let got = c
            .get_object()
            .bucket(&b)
            .key("v")
            .version_id(&vid)
            .send()
            .await;
        assert!(got.is_ok(), "{kind:?}: the version was deleted");
        gw.stop().await;
    }
}
