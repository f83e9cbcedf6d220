//! `s3seal import-fs`: an s3s-fs data directory (the local store before the embedded one)
//! becomes an embedded store with the same objects, bytes, metadata, content headers and
//! ETags (multipart `-N` ETags included, which the gateway derives its visible ETags from).

use s3s::S3;
use s3s::dto::*;
use s3seal::seal::internal_request;
use std::collections::HashMap;

const BIN: &str = env!("CARGO_BIN_EXE_s3seal");

async fn put(fs: &s3s_fs::FileSystem, b: &str, k: &str, body: &[u8], meta: &[(&str, &str)]) {
    let input = PutObjectInput {
        bucket: b.into(),
        key: k.into(),
        body: Some(StreamingBlob::from(s3s::Body::from(body.to_vec()))),
        content_length: Some(body.len() as i64),
        content_type: Some("image/png".into()),
        metadata: Some(
            meta.iter()
                .map(|(a, v)| (a.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    };
    fs.put_object(internal_request(input)).await.unwrap();
}

async fn read(s: &impl S3, b: &str, k: &str) -> (Vec<u8>, HashMap<String, String>, String, String) {
    use futures::StreamExt;
    let input = GetObjectInput {
        bucket: b.into(),
        key: k.into(),
        ..Default::default()
    };
    let mut out = s.get_object(internal_request(input)).await.unwrap().output;
    let mut body = Vec::new();
    let mut blob = out.body.take().unwrap();
    while let Some(c) = blob.next().await {
        body.extend_from_slice(&c.unwrap());
    }
    let meta = out.metadata.unwrap_or_default().into_iter().collect();
    let etag = out.e_tag.map(|e| e.value().to_owned()).unwrap_or_default();
    (body, meta, etag, out.content_type.unwrap_or_default())
}

#[tokio::test]
async fn import_fs_carries_objects_metadata_and_etags_over() {
    let dir = tempfile::tempdir().unwrap();
    let (from, to) = (dir.path().join("old"), dir.path().join("new"));
    std::fs::create_dir_all(&from).unwrap();
    let fs = s3s_fs::FileSystem::new(&from).unwrap();
    for b in ["photos", "backups", "many"] {
        let input = CreateBucketInput {
            bucket: b.into(),
            ..Default::default()
        };
        fs.create_bucket(internal_request(input)).await.unwrap();
    }
    let body: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    put(
        &fs,
        "photos",
        "2024/cat.png",
        &body,
        &[("s3seal-v", "2"), ("owner", "alice")],
    )
    .await;
    put(&fs, "photos", "a b+c", b"odd name", &[]).await;
    put(&fs, "backups", "db/dump", b"", &[("k", "v")]).await;
    // More keys than one listing page of s3s-fs (1000): the import must page through them.
    for i in 0..1003 {
        put(
            &fs,
            "many",
            &format!("k/{i:04}"),
            i.to_string().as_bytes(),
            &[],
        )
        .await;
    }
    let mut want = Vec::new();
    for (b, k) in [
        ("photos", "2024/cat.png"),
        ("photos", "a b+c"),
        ("backups", "db/dump"),
    ] {
        want.push((b, k, read(&fs, b, k).await));
    }
    drop(fs);

    let import = || {
        std::process::Command::new(BIN)
            .args(["import-fs", "--from"])
            .arg(&from)
            .arg("--to")
            .arg(&to)
            .output()
            .unwrap()
    };
    let out = import();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("imported 1006 objects in 3 buckets"),
        "{text}"
    );

    let store = s3seal::store::Store::open(&to).unwrap();
    for (b, k, (body, meta, etag, ctype)) in want {
        let got = read(&store, b, k).await;
        assert_eq!(got.0, body, "{b}/{k} body");
        assert_eq!(got.1, meta, "{b}/{k} metadata");
        assert_eq!(got.2, etag, "{b}/{k} ETag");
        assert_eq!(got.3, ctype, "{b}/{k} content type");
    }
    // Importing again (e.g. after an interrupted run) overwrites, never duplicates.
    drop(store);
    let again = import();
    assert!(again.status.success());
    let store = s3seal::store::Store::open(&to).unwrap();
    let listed = store
        .list_objects_v2(internal_request(ListObjectsV2Input {
            bucket: "photos".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .output;
    let keys: Vec<_> = listed
        .contents
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| o.key)
        .collect();
    assert_eq!(keys, ["2024/cat.png", "a b+c"]);
    let mut many = Vec::new();
    let mut token = None;
    loop {
        let page = store
            .list_objects_v2(internal_request(ListObjectsV2Input {
                bucket: "many".into(),
                continuation_token: token.take(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .output;
        many.extend(
            page.contents
                .unwrap_or_default()
                .into_iter()
                .filter_map(|o| o.key),
        );
        token = page.next_continuation_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(many.len(), 1003, "every key of a bucket over one page");
    let (body, ..) = read(&store, "many", "k/1002").await;
    assert_eq!(body, b"1002");
}

/// Pointing `--from` at an embedded store (a natural slip: both are "the data directory")
/// would import its journal and body files as objects of buckets `blobs` and `tmp`.
#[tokio::test]
async fn import_fs_refuses_an_embedded_store_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let (store_dir, to) = (dir.path().join("store"), dir.path().join("new"));
    let store = s3seal::store::Store::open(&store_dir).unwrap();
    store
        .create_bucket(internal_request(CreateBucketInput {
            bucket: "photos".into(),
            ..Default::default()
        }))
        .await
        .unwrap();
    drop(store);
    let out = std::process::Command::new(BIN)
        .args(["import-fs", "--from"])
        .arg(&store_dir)
        .arg("--to")
        .arg(&to)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("is an embedded store"), "{err}");
    assert!(!to.exists(), "nothing was created at --to");
}
