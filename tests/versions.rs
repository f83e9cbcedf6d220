//! Issue 19 item 5: versioned buckets through the gateway, on the embedded store and moto.
//! Every version keeps its own DEK and (multipart) committed layout; ListObjectVersions
//! shows plaintext sizes and the same ETags as HEAD; GET/HEAD/Copy/Delete by versionId.

mod support;

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use support::*;

#[tokio::test]
async fn versions_are_sealed_listed_and_read_by_id() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let c = &gw.client;
        let b = gw.bucket().await;
        c.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let v1 = pattern(1000, 1);
        let v2 = pattern(200_000, 2);
        // Parts of 5,500,000 bytes: not whole segments, so the version's size comes from
        // its layout in ListObjectVersions as in LIST.
        let mp = pattern(5_500_000 + 4321, 3);
        let id1 = put(&gw, &b, v1.clone()).await;
        let id2 = put(&gw, &b, v2.clone()).await;
        multipart_put(c, &b, "k", &mp, 5_500_000).await;
        let id4 = put(&gw, &b, b"latest".to_vec()).await;
        // A fresh process: no size or layout cached from the uploads.
        let gw = gw.restart().await;
        let c = &gw.client;
        let listed = c.list_object_versions().bucket(&b).send().await.unwrap();
        let versions = listed.versions();
        assert_eq!(versions.len(), 4, "{kind:?}");
        let id3 = versions
            .iter()
            .find(|v| ![&id1, &id2, &id4].contains(&&v.version_id().unwrap().to_owned()))
            .and_then(|v| v.version_id())
            .unwrap()
            .to_owned();
        for (id, data) in [
            (&id1, &v1),
            (&id2, &v2),
            (&id3, &mp),
            (&id4, &b"latest".to_vec()),
        ] {
            let v = versions
                .iter()
                .find(|v| v.version_id() == Some(id))
                .unwrap();
            assert_eq!(
                v.size(),
                Some(data.len() as i64),
                "{kind:?} listed size of {id}"
            );
            let head = c
                .head_object()
                .bucket(&b)
                .key("k")
                .version_id(id)
                .send()
                .await;
            let head = head.unwrap();
            assert_eq!(head.content_length(), Some(data.len() as i64));
            assert_eq!(v.e_tag(), head.e_tag(), "{kind:?} one ETag per version");
            let got = c
                .get_object()
                .bucket(&b)
                .key("k")
                .version_id(id)
                .send()
                .await;
            let got = got.unwrap().body.collect().await.unwrap().into_bytes();
            assert_eq!(&got[..], &data[..], "{kind:?} GET version {id}");
        }
        // The noncurrent multipart version keeps its own layout: a ranged read of it works.
        let r = c
            .get_object()
            .bucket(&b)
            .key("k")
            .version_id(&id3)
            .range("bytes=5499000-5501000")
            .send()
            .await
            .unwrap();
        let got = r.body.collect().await.unwrap().into_bytes();
        assert_eq!(&got[..], &mp[5_499_000..=5_501_000], "{kind:?}");
        // Copy from an old version; delete marker; the old versions stay readable.
        c.copy_object()
            .bucket(&b)
            .key("copy")
            .copy_source(format!("{b}/k?versionId={id2}"))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "copy").await, v2, "{kind:?} copy of a version");
        c.delete_object().bucket(&b).key("k").send().await.unwrap();
        let gone = c.get_object().bucket(&b).key("k").send().await;
        assert_eq!(error_code(gone).as_deref(), Some("NoSuchKey"), "{kind:?}");
        let old = c
            .get_object()
            .bucket(&b)
            .key("k")
            .version_id(&id1)
            .send()
            .await;
        let old = old.unwrap().body.collect().await.unwrap().into_bytes();
        assert_eq!(&old[..], &v1[..]);
        // What the store holds for a version: ciphertext and a wrapped key.
        let raw = gw
            .upstream
            .get_object()
            .bucket(&b)
            .key("k")
            .version_id(&id2)
            .send()
            .await;
        let raw = raw.unwrap();
        assert!(raw.metadata().unwrap().contains_key("s3seal-dek"));
        let body = raw.body.collect().await.unwrap().into_bytes();
        assert!(
            !body.windows(64).any(|w| w == &v2[..64]),
            "{kind:?} plaintext stored"
        );
    }
}

async fn put(gw: &TestGateway, b: &str, data: Vec<u8>) -> String {
    let o = gw
        .client
        .put_object()
        .bucket(b)
        .key("k")
        .body(data.into())
        .send()
        .await;
    o.unwrap().version_id.expect("a version id")
}
