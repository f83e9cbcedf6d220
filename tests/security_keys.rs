//! Issue 16, findings 1 and 9: keys that would have escaped the old (s3s-fs) store's
//! directory, the rule check seeing the same key and copy source as the store, and small
//! leaks (bucket names, raw upload ids, oversized DeleteObjects). Attacks run as restricted
//! users through the real gateway.
//!
//! Since issue 17 the embedded store keeps keys literally (an index of byte strings; body
//! files named by random ids), so the gateway no longer refuses `..`, `.`, `//` or a leading
//! `/`: such keys are ordinary objects. What these tests prove instead is that they stay
//! ordinary: a traversal-looking key is stored and read under its literal name, inside the
//! prefix the rule check saw, never touches another user's object or bucket, and the data
//! directory holds only the store's own files.

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::*;

/// alice: everything but admin on `photos/alice/`, read/list on `shared`.
/// bob: everything but admin on `photos/bob/`. `web` is named by no rule of theirs.
async fn start(kind: Upstream) -> (TestGateway, Client, Client) {
    let all = ["read", "write", "delete", "list"];
    let gw = TestGateway::start_with(kind, |c| {
        c.users.push(user(
            "alice",
            "alice-secret-0001",
            vec![
                rule("photos", "${user}/", &all),
                rule("shared", "", &["read", "list"]),
            ],
        ));
        c.users.push(user(
            "bob",
            "bob-secret-0002",
            vec![rule("photos", "${user}/", &all)],
        ));
    })
    .await;
    for b in ["photos", "shared", "web"] {
        gw.client.create_bucket().bucket(b).send().await.unwrap();
    }
    gw.put("photos", "bob/secret.png", b"bob's secret").await;
    gw.put("photos", "bob/victim.png", b"bob's victim").await;
    gw.put("photos", "bob/k2.png", b"bob's k2").await;
    gw.put("photos", "alice/x", b"alice's x").await;
    gw.put("shared", "doc.txt", b"shared").await;
    gw.put("web", "internal/notes.txt", b"internal").await;
    let a = client(&gw.endpoint, "alice", "alice-secret-0001");
    let b = client(&gw.endpoint, "bob", "bob-secret-0002");
    (gw, a, b)
}

fn data_dir(gw: &TestGateway) -> PathBuf {
    gw.dir.path().join("data")
}

/// The data directory holds only the store's own layout (`lock`, `index.log`, `tmp/`,
/// `blobs/xx/<hex id>`): no key ever became a file or directory name.
fn only_store_files(root: &Path) {
    for (rel, _) in snapshot(root) {
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let hex = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit());
        let ok = match parts.as_slice() {
            [f] => ["lock", "index.log", "reserve", "blobs", "tmp"].contains(&f.as_str()),
            [t, _] if t == "tmp" => true,
            [b, d] => b == "blobs" && d.len() == 2 && hex(d),
            [b, d, f] => b == "blobs" && hex(d) && hex(f) && f.starts_with(d.as_str()),
            _ => false,
        };
        assert!(ok, "unexpected entry in the data dir: {rel:?}");
    }
}

/// bob's objects and the bucket list are exactly as `start` left them.
async fn nothing_of_bob_changed(gw: &TestGateway) {
    assert_eq!(gw.get("photos", "bob/secret.png").await, b"bob's secret");
    assert_eq!(gw.get("photos", "bob/victim.png").await, b"bob's victim");
    assert_eq!(gw.get("photos", "bob/k2.png").await, b"bob's k2");
    assert_eq!(gw.get("web", "internal/notes.txt").await, b"internal");
    let names: Vec<String> = gw
        .client
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_owned))
        .collect();
    assert_eq!(names, ["photos", "shared", "web"]);
}

/// Every file and directory under `root` with its content (directories: empty).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_path_buf();
            if p.is_dir() {
                out.insert(rel, Vec::new());
                todo.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// The S3 error code of a refused request; panics on success or on a dropped connection.
fn refused<T: std::fmt::Debug, E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug>(
    what: &str,
    r: Result<T, SdkError<E>>,
) -> String {
    match r {
        Ok(v) => panic!("{what}: must be refused, got {v:?}"),
        Err(SdkError::ServiceError(e)) => {
            let status = e.raw().status().as_u16();
            assert!((400..500).contains(&status), "{what}: status {status}");
            aws_sdk_s3::error::ProvideErrorMetadata::code(e.err())
                .unwrap_or("")
                .to_owned()
        }
        Err(e) => panic!("{what}: not an S3 error response: {e:?}"),
    }
}

#[tokio::test]
async fn traversal_keys_are_literal_and_reach_nothing_else() {
    let (gw, alice, _bob) = start(Upstream::Fs).await;

    // Reads out of a bucket alice may read: the literal keys do not exist there.
    for key in [
        "../photos/bob/secret.png",
        "../web/internal/notes.txt",
        "./doc.txt",
    ] {
        let r = alice.get_object().bucket("shared").key(key).send().await;
        assert_eq!(refused(key, r), "NoSuchKey", "{key}");
    }
    // Inside alice's prefix by its literal name: stored as that key, bob's untouched.
    alice
        .put_object()
        .bucket("photos")
        .key("alice/../bob/victim.png")
        .body(ByteStream::from_static(b"overwritten"))
        .send()
        .await
        .unwrap();
    let got = alice
        .get_object()
        .bucket("photos")
        .key("alice/../bob/victim.png")
        .send()
        .await
        .unwrap();
    assert_eq!(
        &got.body.collect().await.unwrap().into_bytes()[..],
        b"overwritten"
    );
    // Outside alice's prefix by its literal name: the rule check refuses it.
    let r = alice
        .put_object()
        .bucket("photos")
        .key("../photos/bob/victim.png")
        .body(ByteStream::from_static(b"overwritten"))
        .send()
        .await;
    assert_eq!(refused("put outside the prefix", r), "AccessDenied");
    // Keys that named directories on s3s-fs are ordinary, distinct objects (admin).
    for key in ["../../x", "alice//x", "alice/./x", "alice/x"] {
        gw.client
            .put_object()
            .bucket("photos")
            .key(key)
            .body(ByteStream::from(key.as_bytes().to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
    for key in ["../../x", "alice//x", "alice/./x", "alice/x"] {
        assert_eq!(gw.get("photos", key).await, key.as_bytes(), "{key}");
    }
    // A multi-delete entry deletes the literal key only.
    let del = Delete::builder()
        .objects(
            ObjectIdentifier::builder()
                .key("alice/../bob/k2.png")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    alice
        .delete_objects()
        .bucket("photos")
        .delete(del)
        .send()
        .await
        .unwrap();

    nothing_of_bob_changed(&gw).await;
    only_store_files(&data_dir(&gw));
}

#[tokio::test]
async fn copy_source_is_checked_as_the_store_parses_it() {
    let (gw, alice, _bob) = start(Upstream::Fs).await;
    // The old rule check cut this at the first '?', saw "photos/alice/x" and allowed it;
    // s3s keeps the '?' in the key, and s3s-fs resolved it to bob's object. Now the rule
    // check and the store both see the literal key: inside alice's prefix and absent, or
    // outside it and denied.
    for src in [
        "photos/alice/x?/../../bob/secret.png",
        "photos/alice/../bob/secret.png",
        "photos/alice%2F..%2F..%2Fbob%2Fsecret.png",
    ] {
        let r = alice
            .copy_object()
            .bucket("photos")
            .key("alice/stolen")
            .copy_source(src)
            .send()
            .await;
        let code = refused(src, r);
        assert!(
            [
                "NoSuchKey",
                "AccessDenied",
                "NoSuchUpload",
                "InvalidArgument"
            ]
            .contains(&code.as_str()),
            "{src}: {code}"
        );
        let up = alice
            .upload_part_copy()
            .bucket("photos")
            .key("alice/stolen")
            .upload_id("s3seal1~x~y~z~w")
            .part_number(1)
            .copy_source(src)
            .send()
            .await;
        let code = refused(src, up);
        assert!(
            [
                "NoSuchKey",
                "AccessDenied",
                "NoSuchUpload",
                "InvalidArgument"
            ]
            .contains(&code.as_str()),
            "{src}: {code}"
        );
    }
    let r = alice
        .head_object()
        .bucket("photos")
        .key("alice/stolen")
        .send()
        .await;
    assert!(r.is_err(), "a copy of bob's object was made: {r:?}");
    nothing_of_bob_changed(&gw).await;
    only_store_files(&data_dir(&gw));
}

/// Keys that made s3s-fs panic or escape answer like any other key: alice is held to her
/// prefix by the literal key, the admin stores and reads them back under their own names.
#[tokio::test]
async fn dot_dot_keys_answer_and_never_drop_the_connection() {
    let (gw, alice, _bob) = start(Upstream::Fs).await;
    fn answered<T, E: std::fmt::Debug>(what: &str, r: &Result<T, SdkError<E>>) {
        match r {
            Ok(_) | Err(SdkError::ServiceError(_)) => {}
            Err(e) => panic!("{what}: no HTTP answer: {e:?}"),
        }
    }
    let keys = ["..", "alice/../..", ".", "alice/..", "../..", "/", "a\0b"];
    for key in keys {
        for c in [&alice, &gw.client] {
            let r = c.get_object().bucket("photos").key(key).send().await;
            answered(key, &r);
            let r = c.head_object().bucket("photos").key(key).send().await;
            answered(key, &r);
            let r = c
                .put_object()
                .bucket("photos")
                .key(key)
                .body(ByteStream::from(key.as_bytes().to_vec()))
                .send()
                .await;
            answered(key, &r);
            if std::ptr::eq(c, &alice) {
                assert_eq!(r.is_ok(), key.starts_with("alice/"), "alice PUT {key:?}");
            } else {
                r.unwrap_or_else(|e| panic!("admin PUT {key:?}: {e:?}"));
                assert_eq!(gw.get("photos", key).await, key.as_bytes(), "{key:?}");
            }
        }
    }
    for key in keys {
        for c in [&alice, &gw.client] {
            let r = c.delete_object().bucket("photos").key(key).send().await;
            answered(key, &r);
        }
    }
    nothing_of_bob_changed(&gw).await;
    only_store_files(&data_dir(&gw));
}

/// A remote S3 stores `a//b` and `./x` literally, so the gateway passes them; the rule check
/// compares the literal key, so `alice/../bob/x` stays inside alice's prefix there.
#[tokio::test]
async fn remote_store_keeps_every_s3_key() {
    let (gw, alice, _bob) = start(Upstream::Moto).await;
    for key in ["alice//b", "alice/./x", "alice/../bob/victim.png"] {
        alice
            .put_object()
            .bucket("photos")
            .key(key)
            .body(ByteStream::from_static(b"literal"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
        let got = alice
            .get_object()
            .bucket("photos")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(
            &got.body.collect().await.unwrap().into_bytes()[..],
            b"literal"
        );
    }
    assert_eq!(gw.get("photos", "bob/victim.png").await, b"bob's victim");
}

#[tokio::test]
async fn restricted_users_see_only_their_buckets() {
    let (gw, alice, bob) = start(Upstream::Fs).await;
    let names = |c: Client| async move {
        c.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(alice).await, ["photos", "shared"]);
    assert_eq!(names(bob).await, ["photos"]);
    assert_eq!(names(gw.client.clone()).await, ["photos", "shared", "web"]);
}

#[tokio::test]
async fn list_parts_refuses_raw_store_upload_ids() {
    let (gw, alice, _bob) = start(Upstream::Fs).await;
    // bob's upload, as ListMultipartUploads (or the store) shows it: the raw store id.
    let up = gw
        .upstream
        .create_multipart_upload()
        .bucket("photos")
        .key("bob/big")
        .send()
        .await
        .unwrap();
    let raw = up.upload_id().unwrap().to_owned();
    gw.upstream
        .upload_part()
        .bucket("photos")
        .key("bob/big")
        .upload_id(&raw)
        .part_number(1)
        .body(ByteStream::from_static(b"bob's part"))
        .send()
        .await
        .unwrap();
    let r = alice
        .list_parts()
        .bucket("photos")
        .key("alice/any")
        .upload_id(&raw)
        .send()
        .await;
    assert_eq!(refused("list_parts raw id", r), "NoSuchUpload");
    // alice's own upload still lists.
    let mine = alice
        .create_multipart_upload()
        .bucket("photos")
        .key("alice/m")
        .send()
        .await
        .unwrap();
    alice
        .list_parts()
        .bucket("photos")
        .key("alice/m")
        .upload_id(mine.upload_id().unwrap())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn oversized_delete_objects_gets_a_4xx() {
    let (gw, _alice, _bob) = start(Upstream::Fs).await;
    // ~21 MiB of XML: over s3s's 20 MiB limit for XML bodies.
    let ids: Vec<ObjectIdentifier> = (0..22_000)
        .map(|i| {
            ObjectIdentifier::builder()
                .key(format!("{i:0>1000}"))
                .build()
                .unwrap()
        })
        .collect();
    let del = Delete::builder().set_objects(Some(ids)).build().unwrap();
    let r = gw
        .client
        .delete_objects()
        .bucket("photos")
        .delete(del)
        .send()
        .await;
    match r {
        Err(SdkError::ServiceError(e)) => {
            assert_eq!(e.raw().status().as_u16(), 400);
            assert_eq!(
                aws_sdk_s3::error::ProvideErrorMetadata::code(e.err()),
                Some("MaxMessageLengthExceeded")
            );
        }
        other => panic!("expected a 400, got {other:?}"),
    }
    assert_eq!(gw.get("photos", "bob/k2.png").await, b"bob's k2");
}

mod property {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config as PtConfig, TestRunner};

    /// Arbitrary keys: short strings over characters that matter to paths, URLs and
    /// signatures, often glued to alice's prefix or a parent reference.
    fn key() -> impl Strategy<Value = String> {
        let body = proptest::collection::vec(
            prop_oneof![
                Just('/'),
                Just('.'),
                Just('%'),
                Just('?'),
                Just('+'),
                Just(' '),
                Just('\0'),
                Just('é'),
                Just('☃'),
                Just('#'),
                Just('&'),
                Just('='),
                proptest::char::range('a', 'c'),
            ],
            0..16,
        )
        .prop_map(|v| v.into_iter().collect::<String>());
        (
            prop_oneof![
                Just(""),
                Just("alice/"),
                Just("alice/../"),
                Just("../"),
                Just("bob/")
            ],
            body,
        )
            .prop_map(|(p, b)| format!("{p}{b}"))
    }

    /// A request the SDK could not even build (e.g. a NUL in a header) is fine; a
    /// transport failure (connection dropped, e.g. by a panic) is not.
    fn answered<T, E: std::fmt::Debug>(what: &str, r: &Result<T, SdkError<E>>) -> bool {
        match r {
            Ok(_) => true,
            Err(SdkError::ServiceError(_)) => true,
            Err(SdkError::ConstructionFailure(_)) => false,
            Err(e) => panic!("{what}: no HTTP answer: {e:?}"),
        }
    }

    #[test]
    fn arbitrary_keys_and_copy_sources_stay_inside() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (gw, alice, _bob) = rt.block_on(start(Upstream::Fs));
        let data = data_dir(&gw);
        let mut runner = TestRunner::new(PtConfig {
            cases: 200,
            failure_persistence: None,
            ..PtConfig::default()
        });
        runner
            .run(&(key(), key()), |(k, src)| {
                rt.block_on(async {
                    let put = alice
                        .put_object()
                        .bucket("photos")
                        .key(&k)
                        .body(ByteStream::from_static(b"p"))
                        .send()
                        .await;
                    if answered(&k, &put) && put.is_ok() {
                        assert!(k.starts_with("alice/"), "PUT outside the prefix: {k:?}");
                    }
                    let get = alice.get_object().bucket("photos").key(&k).send().await;
                    if answered(&k, &get) && get.is_ok() {
                        assert!(k.starts_with("alice/"), "GET outside the prefix: {k:?}");
                    }
                    let copy = alice
                        .copy_object()
                        .bucket("photos")
                        .key("alice/copied")
                        .copy_source(format!("photos/{src}"))
                        .send()
                        .await;
                    if answered(&src, &copy) && copy.is_ok() {
                        assert!(
                            src.starts_with("alice/"),
                            "copy from outside the prefix: {src:?}"
                        );
                    }
                    let del = alice.delete_object().bucket("photos").key(&k).send().await;
                    if answered(&k, &del) && del.is_ok() {
                        assert!(k.starts_with("alice/"), "DELETE outside the prefix: {k:?}");
                    }
                });
                // No key became a file; bob's objects are intact.
                only_store_files(&data);
                rt.block_on(nothing_of_bob_changed(&gw));
                Ok(())
            })
            .unwrap();
        rt.block_on(async {
            assert_eq!(gw.get("photos", "bob/victim.png").await, b"bob's victim");
        });
    }
}
