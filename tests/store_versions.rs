//! Versioning of the embedded store served bare (`s3seal::store::serve_direct`) to aws-sdk-s3
//! over loopback: enable/suspend, version ids on every write, reads/copies/tagging by
//! versionId, delete markers, the null version, ListObjectVersions in S3 order with every
//! parameter, and journals written before versioning existed.

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, EncodingType,
    ObjectIdentifier, Tag, Tagging, VersioningConfiguration,
};
use support::{client, error_code};

/// A bare store on a temp dir with bucket `bkt`; keep the TempDir alive.
async fn start() -> (Client, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let c = serve(dir.path().join("store")).await;
    c.create_bucket().bucket("bkt").send().await.unwrap();
    (c, dir)
}

async fn serve(path: std::path::PathBuf) -> Client {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(async move { s3seal::store::serve_direct(&path, l, "ak", "sk").await });
    client(&url, "ak", "sk")
}

async fn versioning(c: &Client, status: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket("bkt")
        .versioning_configuration(VersioningConfiguration::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

/// PUTs `body` to `k`; returns the answer's version id.
async fn put(c: &Client, k: &str, body: &[u8]) -> Option<String> {
    c.put_object()
        .bucket("bkt")
        .key(k)
        .body(body.to_vec().into())
        .send()
        .await
        .unwrap()
        .version_id
}

async fn get_v(c: &Client, k: &str, v: Option<&str>) -> (Vec<u8>, Option<String>) {
    let o = c
        .get_object()
        .bucket("bkt")
        .key(k)
        .set_version_id(v.map(str::to_owned))
        .send()
        .await
        .unwrap();
    let vid = o.version_id.clone();
    (o.body.collect().await.unwrap().into_bytes().to_vec(), vid)
}

/// Every entry of a ListObjectVersions (all pages of `max`): (key, version id, is latest,
/// is delete marker) in S3 order (keys ascending, versions newest first), and the prefixes.
async fn versions_all(
    c: &Client,
    prefix: &str,
    delim: Option<&str>,
    max: i32,
) -> (Vec<(String, String, bool, bool)>, Vec<String>) {
    let (mut out, mut cps) = (Vec::new(), Vec::new());
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    loop {
        let o = c
            .list_object_versions()
            .bucket("bkt")
            .prefix(prefix)
            .set_delimiter(delim.map(str::to_owned))
            .max_keys(max)
            .set_key_marker(km)
            .set_version_id_marker(vm)
            .send()
            .await
            .unwrap();
        out.extend(page_entries(&o));
        cps.extend(
            o.common_prefixes()
                .iter()
                .map(|p| p.prefix().unwrap().to_owned()),
        );
        if o.is_truncated() != Some(true) {
            return (out, cps);
        }
        km = o.next_key_marker().map(str::to_owned);
        vm = o.next_version_id_marker().map(str::to_owned);
        assert!(km.is_some(), "truncated without NextKeyMarker");
    }
}

/// One page's versions and delete markers merged in S3 order (the SDK parses them into two
/// lists; within a page S3 order is key ascending, then newest first).
fn page_entries(
    o: &aws_sdk_s3::operation::list_object_versions::ListObjectVersionsOutput,
) -> Vec<(String, String, bool, bool)> {
    let mut v: Vec<(String, String, bool, bool, i64)> = Vec::new();
    for x in o.versions() {
        v.push((
            x.key().unwrap().to_owned(),
            x.version_id().unwrap().to_owned(),
            x.is_latest().unwrap(),
            false,
            x.last_modified().unwrap().to_millis().unwrap(),
        ));
    }
    for x in o.delete_markers() {
        v.push((
            x.key().unwrap().to_owned(),
            x.version_id().unwrap().to_owned(),
            x.is_latest().unwrap(),
            true,
            x.last_modified().unwrap().to_millis().unwrap(),
        ));
    }
    // Key ascending; within a key the latest first, then by time descending (stable for
    // equal times keeps the order the answer listed them in).
    v.sort_by(|a, b| {
        a.0.as_bytes()
            .cmp(b.0.as_bytes())
            .then(b.2.cmp(&a.2))
            .then(b.4.cmp(&a.4))
    });
    v.into_iter()
        .map(|(k, id, l, d, _)| (k, id, l, d))
        .collect()
}

/// The raw response header `name` of a failed call.
fn err_header<E>(e: &SdkError<E>, name: &str) -> Option<String> {
    e.raw_response()
        .and_then(|r| r.headers().get(name))
        .map(str::to_owned)
}

fn err_status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn enable_suspend_and_get_bucket_versioning() {
    let (c, _d) = start().await;
    let v = c
        .get_bucket_versioning()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), None);
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v = c
        .get_bucket_versioning()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    versioning(&c, BucketVersioningStatus::Suspended).await;
    let v = c
        .get_bucket_versioning()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Suspended));
    let r = c.get_bucket_versioning().bucket("nope").send().await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn writes_answer_version_ids_and_reads_by_version_id() {
    let (c, _d) = start().await;
    // Before versioning: no version id anywhere.
    assert_eq!(put(&c, "k", b"pre").await, None);
    assert_eq!(get_v(&c, "k", None).await, (b"pre".to_vec(), None));
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"one").await.expect("version id on PUT");
    let v2 = put(&c, "k", b"two two").await.expect("version id on PUT");
    assert_ne!(v1, v2);
    assert_ne!(v1, "null");
    assert_eq!(
        get_v(&c, "k", None).await,
        (b"two two".to_vec(), Some(v2.clone()))
    );
    assert_eq!(
        get_v(&c, "k", Some(&v1)).await,
        (b"one".to_vec(), Some(v1.clone()))
    );
    // The object written before versioning is the null version.
    assert_eq!(
        get_v(&c, "k", Some("null")).await,
        (b"pre".to_vec(), Some("null".into()))
    );
    let h = c
        .head_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_length(), Some(3));
    assert_eq!(h.version_id(), Some(v1.as_str()));
    let h = c.head_object().bucket("bkt").key("k").send().await.unwrap();
    assert_eq!(h.version_id(), Some(v2.as_str()));
    // An unknown version id: 404 NoSuchVersion.
    let r = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id("0123456789abcdef0123456789abcdef")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchVersion"));
    // One the store could never have issued: 400 InvalidArgument, as on S3 (GET and DELETE).
    let r = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id("not-a-version")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
    let r = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id("../../etc")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));

    // CopyObject from an older version: the copy is a new version, the answer names both.
    let cp = c
        .copy_object()
        .bucket("bkt")
        .key("copy")
        .copy_source(format!("bkt/k?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(cp.copy_source_version_id(), Some(v1.as_str()));
    let vc = cp.version_id().expect("version id on Copy").to_owned();
    assert_eq!(get_v(&c, "copy", None).await, (b"one".to_vec(), Some(vc)));
    // Restoring an older version by copying it onto its own key.
    let cp = c
        .copy_object()
        .bucket("bkt")
        .key("k")
        .copy_source(format!("bkt/k?versionId={v1}"))
        .send()
        .await
        .unwrap();
    let v3 = cp.version_id().unwrap().to_owned();
    assert_eq!(get_v(&c, "k", None).await, (b"one".to_vec(), Some(v3)));
    assert_eq!(get_v(&c, "k", Some(&v2)).await.0, b"two two");

    // CompleteMultipartUpload answers the new version's id.
    let u = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = u.upload_id().unwrap();
    let p = c
        .upload_part()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"multi"))
        .send()
        .await
        .unwrap();
    let done = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let vm = done
        .version_id()
        .expect("version id on Complete")
        .to_owned();
    assert_eq!(get_v(&c, "mp", None).await, (b"multi".to_vec(), Some(vm)));
}

#[tokio::test]
async fn delete_markers_hide_the_key_and_deleting_them_restores_it() {
    let (c, _d) = start().await;
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"one").await.unwrap();
    put(&c, "other", b"x").await.unwrap();
    let d = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let dm = d.version_id().expect("delete marker version id").to_owned();
    assert_ne!(dm, v1);

    // GET/HEAD of the key: 404 NoSuchKey, x-amz-delete-marker: true.
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(404));
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("NoSuchKey")
    );
    assert_eq!(
        err_header(&e, "x-amz-delete-marker").as_deref(),
        Some("true")
    );
    assert_eq!(
        err_header(&e, "x-amz-version-id").as_deref(),
        Some(dm.as_str())
    );
    let e = c
        .head_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(404));
    assert_eq!(
        err_header(&e, "x-amz-delete-marker").as_deref(),
        Some("true")
    );

    // GET/HEAD of the marker by version id: 405 MethodNotAllowed.
    let e = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&dm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(405));
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("MethodNotAllowed")
    );
    assert_eq!(
        err_header(&e, "x-amz-delete-marker").as_deref(),
        Some("true")
    );
    let e = c
        .head_object()
        .bucket("bkt")
        .key("k")
        .version_id(&dm)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(405));
    // Tagging a key whose current version is a marker, or a marker by id: 405.
    let tagging = || {
        Tagging::builder()
            .tag_set(Tag::builder().key("t").value("v").build().unwrap())
            .build()
            .unwrap()
    };
    let e = c
        .put_object_tagging()
        .bucket("bkt")
        .key("k")
        .tagging(tagging())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(405));
    let e = c
        .put_object_tagging()
        .bucket("bkt")
        .key("k")
        .version_id(&dm)
        .tagging(tagging())
        .send()
        .await
        .unwrap_err();
    assert_eq!(err_status(&e), Some(405));
    let r = c.get_object_tagging().bucket("bkt").key("k").send().await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchKey"));
    // Copying from a marker by version id is refused; without one the key is missing.
    let r = c
        .copy_object()
        .bucket("bkt")
        .key("c")
        .copy_source(format!("bkt/k?versionId={dm}"))
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidRequest"));
    let r = c
        .copy_object()
        .bucket("bkt")
        .key("c")
        .copy_source("bkt/k")
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchKey"));

    // Older versions stay readable; listings show only live current versions.
    assert_eq!(get_v(&c, "k", Some(&v1)).await.0, b"one");
    for v2 in [true, false] {
        let keys: Vec<String> = if v2 {
            let o = c.list_objects_v2().bucket("bkt").send().await.unwrap();
            o.contents()
                .iter()
                .map(|o| o.key().unwrap().to_owned())
                .collect()
        } else {
            let o = c.list_objects().bucket("bkt").send().await.unwrap();
            o.contents()
                .iter()
                .map(|o| o.key().unwrap().to_owned())
                .collect()
        };
        assert_eq!(keys, ["other"]);
    }
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert_eq!(
        all,
        [
            ("k".into(), dm.clone(), true, true),
            ("k".into(), v1.clone(), false, false),
            ("other".into(), all[2].1.clone(), true, false),
        ]
    );

    // A bucket holding only markers and old versions is not empty.
    let r = c.delete_bucket().bucket("bkt").send().await;
    assert_eq!(error_code(r).as_deref(), Some("BucketNotEmpty"));

    // Deleting the marker by version id restores the object.
    let d = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&dm)
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(d.version_id(), Some(dm.as_str()));
    assert_eq!(get_v(&c, "k", None).await, (b"one".to_vec(), Some(v1)));
}

#[tokio::test]
async fn deleting_a_version_removes_it_and_its_body_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    let c = serve(root.clone()).await;
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let blobs = || {
        walk(&root.join("blobs"))
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
    };
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"one").await.unwrap();
    let before = blobs();
    let v2 = put(&c, "k", b"two").await.unwrap();
    let with_v2 = blobs();
    assert_eq!(with_v2.len(), before.len() + 1, "each version has its body");
    let d = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(d.version_id(), Some(v1.as_str()));
    assert_eq!(d.delete_marker(), None);
    let after = blobs();
    assert_eq!(after.len(), with_v2.len() - 1);
    assert!(before.is_disjoint(&after), "v1's body file is gone");
    let r = c
        .get_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchVersion"));
    assert_eq!(get_v(&c, "k", None).await.0, b"two");
    // Deleting the current version makes the previous one (none here) current: the key goes.
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert!(blobs().is_empty());
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert!(all.is_empty());
    // Deleting a version that does not exist succeeds and deletes nothing.
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("bkt").send().await.unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out
}

#[tokio::test]
async fn suspended_bucket_writes_and_deletes_the_null_version() {
    let (c, _d) = start().await;
    put(&c, "k", b"pre").await;
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"one").await.unwrap();
    versioning(&c, BucketVersioningStatus::Suspended).await;
    // A PUT on a suspended bucket writes the null version, replacing the old null version
    // (written before versioning) wherever it was in the history.
    assert_eq!(put(&c, "k", b"s1").await.as_deref(), Some("null"));
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert_eq!(
        all,
        [
            ("k".into(), "null".into(), true, false),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    assert_eq!(put(&c, "k", b"s2").await.as_deref(), Some("null"));
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert_eq!(all.len(), 2);
    assert_eq!(
        get_v(&c, "k", None).await,
        (b"s2".to_vec(), Some("null".into()))
    );
    // DELETE on a suspended bucket: a null delete marker replaces the null version.
    let d = c
        .delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(d.version_id(), Some("null"));
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert_eq!(
        all,
        [
            ("k".into(), "null".into(), true, true),
            ("k".into(), v1.clone(), false, false),
        ]
    );
    let r = c.get_object().bucket("bkt").key("k").send().await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchKey"));
    // Re-enabled: new versions get ids again, the null marker stays in the history.
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v3 = put(&c, "k", b"three").await.unwrap();
    assert_ne!(v3, "null");
    let (all, _) = versions_all(&c, "", None, 1000).await;
    let ids: Vec<_> = all.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(ids, [v3.as_str(), "null", v1.as_str()]);
}

#[tokio::test]
async fn list_object_versions_order_markers_prefix_delimiter_encoding() {
    let (c, _d) = start().await;
    versioning(&c, BucketVersioningStatus::Enabled).await;
    // Keys in UTF-8 byte order: "a b" < "a/x" < "a/y/z" < "b" < "é" (0xC3).
    let keys = ["é", "b", "a/y/z", "a/x", "a b"];
    let mut want: Vec<(String, String, bool, bool)> = Vec::new();
    for k in keys {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(put(&c, k, format!("{k}{n}").as_bytes()).await.unwrap());
        }
        if k == "b" {
            let d = c.delete_object().bucket("bkt").key(k).send().await.unwrap();
            let dm = d.version_id().unwrap().to_owned();
            want.push((k.into(), dm, true, true));
        }
        let latest_is_marker = k == "b";
        for (i, id) in ids.iter().enumerate().rev() {
            want.push((k.into(), id.clone(), i == 2 && !latest_is_marker, false));
        }
    }
    want.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    // Every page size gives the same listing in S3 order.
    for max in [1, 2, 3, 4, 7, 1000] {
        let (got, cps) = versions_all(&c, "", None, max).await;
        assert_eq!(got, want, "max-keys {max}");
        assert!(cps.is_empty());
    }
    // Prefix.
    let (got, _) = versions_all(&c, "a/", None, 2).await;
    let w: Vec<_> = want
        .iter()
        .filter(|e| e.0.starts_with("a/"))
        .cloned()
        .collect();
    assert_eq!(got, w);
    // Delimiter: a common prefix counts once against max-keys.
    for max in [1, 2, 1000] {
        let (got, cps) = versions_all(&c, "", Some("/"), max).await;
        let w: Vec<_> = want
            .iter()
            .filter(|e| !e.0.contains('/'))
            .cloned()
            .collect();
        assert_eq!(got, w, "max-keys {max}");
        assert_eq!(cps, ["a/"]);
    }
    let (got, cps) = versions_all(&c, "a/", Some("/"), 1).await;
    assert_eq!(
        got.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(),
        ["a/x"; 3]
    );
    assert_eq!(cps, ["a/y/"]);
    // key-marker alone starts after the key; with version-id-marker inside it.
    let o = c
        .list_object_versions()
        .bucket("bkt")
        .key_marker("a/x")
        .send()
        .await
        .unwrap();
    assert_eq!(page_entries(&o)[0].0, "a/y/z");
    assert_eq!(o.key_marker(), Some("a/x"));
    let o = c
        .list_object_versions()
        .bucket("bkt")
        .key_marker("a/x")
        .version_id_marker(&want[3].1)
        .max_keys(2)
        .send()
        .await
        .unwrap();
    // want[3..6] are a/x's versions, newest first: the page holds the two after the marker.
    assert_eq!(want[3].0, "a/x");
    assert_eq!(page_entries(&o), want[4..6]);
    assert_eq!(o.is_truncated(), Some(true));
    assert_eq!(o.next_key_marker(), Some("a/x"));
    assert_eq!(o.next_version_id_marker(), Some(want[5].1.as_str()));
    assert_eq!(o.version_id_marker(), Some(want[3].1.as_str()));
    // encoding-type=url: keys (and prefixes) come %-encoded (the Rust SDK does not decode).
    let o = c
        .list_object_versions()
        .bucket("bkt")
        .encoding_type(EncodingType::Url)
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let ks: Vec<_> = o.versions().iter().map(|v| v.key().unwrap()).collect();
    assert_eq!(ks[..3], ["a%20b"; 3]);
    assert_eq!(ks[ks.len() - 1], "%C3%A9");
    assert_eq!(o.common_prefixes()[0].prefix(), Some("a/"));
    // ListObjects shows the current versions only, without the deleted key.
    let o = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    let ks: Vec<_> = o.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(ks, ["a b", "a/x", "a/y/z", "é"]);
    let r = c.list_object_versions().bucket("nope").send().await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchBucket"));
}

#[tokio::test]
async fn tagging_and_delete_objects_by_version_id() {
    let (c, _d) = start().await;
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"one").await.unwrap();
    let v2 = put(&c, "k", b"two").await.unwrap();
    let t = c
        .put_object_tagging()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("old").value("yes").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(t.version_id(), Some(v1.as_str()));
    let g = c
        .get_object_tagging()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(g.tag_set().len(), 1);
    assert_eq!(g.version_id(), Some(v1.as_str()));
    let g = c
        .get_object_tagging()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    assert!(g.tag_set().is_empty());
    assert_eq!(g.version_id(), Some(v2.as_str()));
    // Tagging an old version does not make it current.
    assert_eq!(get_v(&c, "k", None).await.0, b"two");
    let d = c
        .delete_object_tagging()
        .bucket("bkt")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(d.version_id(), Some(v1.as_str()));

    // DeleteObjects: one version by id, one key without (a marker).
    put(&c, "m", b"m").await.unwrap();
    let d = c
        .delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("k")
                        .version_id(&v1)
                        .build()
                        .unwrap(),
                )
                .objects(ObjectIdentifier::builder().key("m").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let del = d.deleted();
    assert_eq!(del.len(), 2);
    assert_eq!(del[0].version_id(), Some(v1.as_str()));
    assert_eq!(del[0].delete_marker(), None);
    assert_eq!(del[1].delete_marker(), Some(true));
    assert!(del[1].delete_marker_version_id().is_some());
    let (all, _) = versions_all(&c, "", None, 1000).await;
    let got: Vec<_> = all.iter().map(|e| (e.0.as_str(), e.3)).collect();
    assert_eq!(got, [("k", false), ("m", true), ("m", false)]);
}

/// A journal written by the store before versioning existed (no version fields) opens with
/// every object as its null version.
#[tokio::test]
async fn journal_from_before_versioning_reads_as_null_versions() {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store");
    std::fs::create_dir_all(root.join("blobs/ab")).unwrap();
    let blob = "ab".to_owned() + &"0".repeat(30);
    std::fs::write(root.join("blobs/ab").join(&blob), b"old body").unwrap();
    let md5 = hex_md5(b"old body");
    let batches = [
        serde_json::json!([
            {"CreateBucket": {"bucket": "bkt", "created_ms": 1_700_000_000_000i64}},
            {"Put": {"bucket": "bkt", "key": "k", "meta": {
                "blob": blob, "size": 8, "etag": md5, "modified_ms": 1_700_000_000_000i64,
                "headers": {}, "user": {}, "checksums": {}, "tags": [], "parts": []}}},
            {"Put": {"bucket": "bkt", "key": "gone", "meta": {
                "blob": blob, "size": 8, "etag": md5, "modified_ms": 1_700_000_000_000i64}}},
        ]),
        serde_json::json!([{"Delete": {"bucket": "bkt", "key": "gone"}}]),
    ];
    let mut log = Vec::new();
    for b in batches {
        let body = serde_json::to_vec(&b).unwrap();
        log.extend_from_slice(&(body.len() as u32).to_le_bytes());
        log.extend_from_slice(&sha2::Sha256::digest(&body)[..8]);
        log.extend_from_slice(&body);
    }
    std::fs::write(root.join("index.log"), log).unwrap();
    let c = serve(root.clone()).await;
    assert_eq!(get_v(&c, "k", None).await, (b"old body".to_vec(), None));
    let r = c.get_object().bucket("bkt").key("gone").send().await;
    assert_eq!(error_code(r).as_deref(), Some("NoSuchKey"));
    versioning(&c, BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "k", b"new").await.unwrap();
    let (all, _) = versions_all(&c, "", None, 1000).await;
    assert_eq!(
        all,
        [
            ("k".into(), v1, true, false),
            ("k".into(), "null".into(), false, false),
        ]
    );
    assert_eq!(get_v(&c, "k", Some("null")).await.0, b"old body");
}

fn hex_md5(b: &[u8]) -> String {
    use s3s::crypto::Checksum as _;
    let mut m = s3s::crypto::Md5::new();
    m.update(b);
    hex::encode(m.finalize())
}
