//! Per-user access rules, key expiry, presigned URLs, failed-login throttling and owner
//! tagging, all against the real gateway over s3s-fs (authorization does not depend on the
//! store).

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use std::time::Duration;
use support::*;

const ALICE: (&str, &str) = ("alice", "alice-secret-0001");
const BOB: (&str, &str) = ("bob", "bob-secret-0002");

/// alice: read/write/list her own prefix of `photos`, read-only on all of `shared`.
/// bob: everything but admin on his own prefix of `photos`.
async fn start(tweak: impl FnOnce(&mut s3seal::config::Config)) -> (TestGateway, Client, Client) {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        c.users.push(user(
            ALICE.0,
            ALICE.1,
            vec![
                rule("photos", "${user}/", &["read", "write", "list"]),
                rule("shared", "", &["read", "list"]),
            ],
        ));
        c.users.push(user(
            BOB.0,
            BOB.1,
            vec![rule(
                "photos",
                "${user}/",
                &["read", "write", "delete", "list"],
            )],
        ));
        tweak(c);
    })
    .await;
    for b in ["photos", "shared"] {
        gw.client.create_bucket().bucket(b).send().await.unwrap();
    }
    gw.put("photos", "alice/a.txt", b"alice's").await;
    gw.put("photos", "bob/b.txt", b"bob's").await;
    gw.put("shared", "doc.txt", b"shared").await;
    let a = client(&gw.endpoint, ALICE.0, ALICE.1);
    let b = client(&gw.endpoint, BOB.0, BOB.1);
    (gw, a, b)
}

/// `Ok(())` when allowed; the S3 error code otherwise.
type Outcome = Result<(), String>;

fn outcome<T, E>(r: Result<T, aws_sdk_s3::error::SdkError<E>>) -> Outcome
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            // HEAD answers carry no body, hence no code: name the status instead.
            let status = e.raw_response().map(|r| r.status().as_u16());
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e)
                .map(str::to_owned)
                .unwrap_or_else(|| match status {
                    Some(403) => "AccessDenied".into(),
                    other => format!("HTTP {other:?}: {e:?}"),
                });
            Err(code)
        }
    }
}

async fn try_op(c: &Client, op: &str, bucket: &str, key: &str) -> Outcome {
    match op {
        "get" => outcome(c.get_object().bucket(bucket).key(key).send().await),
        "head" => outcome(c.head_object().bucket(bucket).key(key).send().await),
        "put" => outcome(
            c.put_object()
                .bucket(bucket)
                .key(key)
                .body(ByteStream::from_static(b"new"))
                .send()
                .await,
        ),
        "delete" => outcome(c.delete_object().bucket(bucket).key(key).send().await),
        "list" => outcome(c.list_objects_v2().bucket(bucket).prefix(key).send().await),
        "mpu" => outcome(
            c.create_multipart_upload()
                .bucket(bucket)
                .key(key)
                .send()
                .await,
        ),
        _ => unreachable!(),
    }
}

#[tokio::test]
async fn users_by_buckets_prefixes_and_operations() {
    let (gw, alice, bob) = start(|_| {}).await;
    let deny = Err("AccessDenied".to_owned());
    // (client, op, bucket, key, expected)
    let cases: Vec<(&str, &str, &str, &str, Outcome)> = vec![
        ("alice", "get", "photos", "alice/a.txt", Ok(())),
        ("alice", "head", "photos", "alice/a.txt", Ok(())),
        ("alice", "put", "photos", "alice/new.txt", Ok(())),
        ("alice", "mpu", "photos", "alice/big.bin", Ok(())),
        ("alice", "list", "photos", "alice/", Ok(())),
        ("alice", "delete", "photos", "alice/a.txt", deny.clone()),
        ("alice", "get", "photos", "bob/b.txt", deny.clone()),
        ("alice", "head", "photos", "bob/b.txt", deny.clone()),
        ("alice", "put", "photos", "bob/evil.txt", deny.clone()),
        ("alice", "put", "photos", "alice", deny.clone()),
        ("alice", "list", "photos", "", deny.clone()),
        ("alice", "list", "photos", "bob/", deny.clone()),
        ("alice", "get", "shared", "doc.txt", Ok(())),
        ("alice", "list", "shared", "", Ok(())),
        ("alice", "put", "shared", "doc.txt", deny.clone()),
        ("alice", "delete", "shared", "doc.txt", deny.clone()),
        ("bob", "delete", "photos", "bob/b.txt", Ok(())),
        ("bob", "get", "photos", "alice/a.txt", deny.clone()),
        ("bob", "delete", "photos", "alice/a.txt", deny.clone()),
        ("bob", "get", "shared", "doc.txt", deny.clone()),
        ("bob", "list", "shared", "", deny.clone()),
    ];
    for (who, op, bucket, key, want) in cases {
        let c = if who == "alice" { &alice } else { &bob };
        let got = try_op(c, op, bucket, key).await;
        assert_eq!(got, want, "{who} {op} {bucket}/{key}");
    }
    // The denied writes and deletes changed nothing.
    assert_eq!(gw.get("photos", "alice/a.txt").await, b"alice's");
    assert_eq!(gw.get("shared", "doc.txt").await, b"shared");
    let listed = gw
        .client
        .list_objects_v2()
        .bucket("photos")
        .prefix("bob/")
        .send()
        .await
        .unwrap();
    assert!(
        listed
            .contents()
            .iter()
            .all(|o| o.key() != Some("bob/evil.txt"))
    );

    // Bucket management needs admin.
    let e = outcome(alice.create_bucket().bucket("alices-own").send().await);
    assert_eq!(e, deny);
    let e = outcome(bob.delete_bucket().bucket("photos").send().await);
    assert_eq!(e, deny);

    // Copies need read on the source and write on the destination.
    let copy = |c: &Client, src: &str, dst: &str| {
        c.copy_object()
            .copy_source(src)
            .bucket("photos")
            .key(dst)
            .send()
    };
    assert_eq!(
        outcome(copy(&alice, "shared/doc.txt", "alice/doc.txt").await),
        Ok(())
    );
    assert_eq!(
        outcome(copy(&alice, "photos/bob/b.txt", "alice/stolen.txt").await),
        deny
    );
    assert_eq!(
        outcome(copy(&alice, "photos/alice/a.txt", "bob/planted.txt").await),
        deny
    );
    assert_eq!(gw.get("photos", "alice/doc.txt").await, b"shared");

    // Multi-delete is judged key by key, as S3 under a policy: the foreign key is answered
    // AccessDenied in the result and stays; the user's own key is deleted.
    use aws_sdk_s3::types::{Delete, ObjectIdentifier};
    let del = |keys: &[&str]| {
        Delete::builder()
            .set_objects(Some(
                keys.iter()
                    .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                    .collect(),
            ))
            .build()
            .unwrap()
    };
    gw.put("photos", "bob/x", b"bob's").await;
    let r = bob
        .delete_objects()
        .bucket("photos")
        .delete(del(&["bob/x", "alice/a.txt"]))
        .send()
        .await
        .unwrap();
    let deleted: Vec<_> = r.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, ["bob/x"]);
    let errors: Vec<_> = r.errors().iter().map(|e| (e.key(), e.code())).collect();
    assert_eq!(errors, [(Some("alice/a.txt"), Some("AccessDenied"))]);
    assert_eq!(gw.get("photos", "alice/a.txt").await, b"alice's");
    let gone = gw
        .client
        .head_object()
        .bucket("photos")
        .key("bob/x")
        .send()
        .await;
    assert!(gone.is_err(), "bob/x should be deleted");
    // Every key forbidden: a result of errors, nothing deleted.
    let r = bob
        .delete_objects()
        .bucket("photos")
        .delete(del(&["alice/a.txt", "alice/doc.txt"]))
        .send()
        .await
        .unwrap();
    assert!(r.deleted().is_empty());
    assert_eq!(r.errors().len(), 2);
    assert_eq!(gw.get("photos", "alice/a.txt").await, b"alice's");
    let ok = bob
        .delete_objects()
        .bucket("photos")
        .delete(del(&["bob/new"]))
        .send()
        .await;
    assert_eq!(outcome(ok), Ok(()));
}

#[tokio::test]
async fn denials_say_who_and_what() {
    let (_gw, alice, _) = start(|_| {}).await;
    let e = alice
        .get_object()
        .bucket("photos")
        .key("bob/b.txt")
        .send()
        .await
        .unwrap_err();
    let msg = aws_sdk_s3::error::ProvideErrorMetadata::message(&e)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(msg, "user alice may not read photos/bob/b.txt");
    // A key with a control character: still a parseable AccessDenied (XML 1.0 cannot carry
    // the character, so the message spells it).
    let e = alice
        .put_object()
        .bucket("photos")
        .key("bob/a\u{1}b")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("AccessDenied")
    );
    let msg = aws_sdk_s3::error::ProvideErrorMetadata::message(&e).unwrap_or_default();
    assert_eq!(msg, "user alice may not write photos/bob/a\\x01b");
}

/// The owner is recorded in hidden metadata: clients read back exactly what they wrote (an
/// `uploaded-by` of their own included), cannot forge it, and the console's HEAD sees it.
#[tokio::test]
async fn owner_is_recorded_hidden_and_cannot_be_forged() {
    let (gw, alice, _) = start(|_| {}).await;
    alice
        .put_object()
        .bucket("photos")
        .key("alice/owned.txt")
        .metadata("uploaded-by", "mallory")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let h = gw
        .client
        .head_object()
        .bucket("photos")
        .key("alice/owned.txt")
        .send()
        .await
        .unwrap();
    let m = h.metadata().unwrap();
    assert_eq!(
        m.get("uploaded-by").map(String::as_str),
        Some("mallory"),
        "the client's own metadata round-trips"
    );
    // (`md5chksum` is the plaintext MD5 for rclone, which reads it for non-MD5 ETags.)
    assert!(
        m.keys().all(|k| k == "uploaded-by" || k == "md5chksum"),
        "no metadata the client never wrote: {m:?}"
    );
    let (_, raw) = gw.raw_get("photos", "alice/owned.txt").await;
    assert_eq!(raw.get("s3seal-owner").map(String::as_str), Some("alice"));
    // Asked for (the console does), HEAD shows the owner.
    let h = gw
        .client
        .head_object()
        .bucket("photos")
        .key("alice/owned.txt")
        .customize()
        .mutate_request(|r| {
            r.headers_mut().insert("x-s3seal-show-owner", "1");
        })
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.metadata()
            .unwrap()
            .get("s3seal-owner")
            .map(String::as_str),
        Some("alice")
    );
    let forged = alice
        .put_object()
        .bucket("photos")
        .key("alice/forged.txt")
        .metadata("s3seal-owner", "bob")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(error_code(forged).as_deref(), Some("InvalidArgument"));
    let h = gw
        .client
        .get_object()
        .bucket("photos")
        .key("alice/a.txt")
        .send()
        .await
        .unwrap();
    assert!(
        h.metadata()
            .is_none_or(|m| m.keys().all(|k| k == "md5chksum")),
        "{:?}",
        h.metadata()
    );
}

#[tokio::test]
async fn expired_keys_are_refused() {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        let mut old = user("olduser", "old-secret-0003", vec![]);
        old.expires = Some("2020-01-01T00:00:00Z".into());
        let mut fresh = user("newuser", "new-secret-0004", vec![]);
        fresh.expires = Some("2999-01-01T00:00:00Z".into());
        c.users.push(old);
        c.users.push(fresh);
    })
    .await;
    let old = client(&gw.endpoint, "olduser", "old-secret-0003");
    let e = old.list_buckets().send().await.unwrap_err();
    let msg = aws_sdk_s3::error::ProvideErrorMetadata::message(&e)
        .unwrap_or_default()
        .to_owned();
    // As AWS answers for an inactive key; the expiry is not told to whoever sends the key.
    assert_eq!(
        aws_sdk_s3::error::ProvideErrorMetadata::code(&e),
        Some("InvalidAccessKeyId")
    );
    assert!(!msg.contains("expired") && !msg.contains("2020"), "{msg}");
    let wrong = client(&gw.endpoint, "olduser", "not-the-secret");
    let e = wrong.list_buckets().send().await.unwrap_err();
    let msg = aws_sdk_s3::error::ProvideErrorMetadata::message(&e).unwrap_or_default();
    assert!(!msg.contains("expired") && !msg.contains("2020"), "{msg}");
    let fresh = client(&gw.endpoint, "newuser", "new-secret-0004");
    fresh.list_buckets().send().await.unwrap();
}

#[tokio::test]
async fn presigned_get_and_put_work_until_they_expire_and_obey_rules() {
    let (gw, alice, _) = start(|_| {}).await;
    let path_of = |uri: &str| {
        let u: http::Uri = uri.parse().unwrap();
        u.path_and_query().unwrap().to_string()
    };
    let headers = |p: &aws_sdk_s3::presigning::PresignedRequest| {
        p.headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<Vec<_>>()
    };
    let long = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();

    // PUT through a presigned URL: stored sealed, readable through the gateway.
    let body = pattern(100_000, 7);
    let put = alice
        .put_object()
        .bucket("photos")
        .key("alice/presigned.bin")
        .presigned(long.clone())
        .await
        .unwrap();
    let (status, head, _) =
        raw_request(gw.addr, "PUT", &path_of(put.uri()), &headers(&put), &body).await;
    assert_eq!(status, 200, "{head}");
    assert_eq!(gw.get("photos", "alice/presigned.bin").await, body);
    let stored = gw.raw_get("photos", "alice/presigned.bin").await;
    assert_ne!(stored.0, body, "stored sealed");
    assert!(
        stored.1.contains_key("s3seal-dek"),
        "wrapped key in metadata"
    );

    // GET through a presigned URL.
    let get = alice
        .get_object()
        .bucket("photos")
        .key("alice/presigned.bin")
        .presigned(long.clone())
        .await
        .unwrap();
    let (status, _, got) =
        raw_request(gw.addr, "GET", &path_of(get.uri()), &headers(&get), b"").await;
    assert_eq!(status, 200);
    assert_eq!(got, body);

    // A tampered presigned URL (another key) fails the signature.
    let forged = path_of(get.uri()).replace("alice/presigned.bin", "alice/a.txt");
    let (status, _, _) = raw_request(gw.addr, "GET", &forged, &[], b"").await;
    assert_eq!(status, 403);

    // A presigned URL for something the user may not read is denied like any request.
    let other = alice
        .get_object()
        .bucket("photos")
        .key("bob/b.txt")
        .presigned(long)
        .await
        .unwrap();
    let (status, _, text) = raw_request(gw.addr, "GET", &path_of(other.uri()), &[], b"").await;
    assert_eq!(status, 403);
    assert!(String::from_utf8_lossy(&text).contains("AccessDenied"));

    // Expiry.
    let short = PresigningConfig::expires_in(Duration::from_secs(1)).unwrap();
    let get = alice
        .get_object()
        .bucket("photos")
        .key("alice/a.txt")
        .presigned(short)
        .await
        .unwrap();
    let (status, _, got) = raw_request(gw.addr, "GET", &path_of(get.uri()), &[], b"").await;
    assert_eq!((status, got.as_slice()), (200, &b"alice's"[..]));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _, text) = raw_request(gw.addr, "GET", &path_of(get.uri()), &[], b"").await;
    assert_eq!(status, 403);
    assert!(
        String::from_utf8_lossy(&text).contains("expired"),
        "{}",
        String::from_utf8_lossy(&text)
    );
}

fn no_retry(endpoint: &str, ak: &str, sk: &str) -> Client {
    let c = client(endpoint, ak, sk);
    let conf = c
        .config()
        .to_builder()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

#[tokio::test]
async fn failed_logins_are_throttled_per_user_and_recover() {
    let (gw, _, _) = start(|c| {
        c.auth.max_failures = 4;
        c.auth.lockout_secs = 2;
        c.auth.failure_delay_ms = 10;
    })
    .await;
    let wrong = no_retry(&gw.endpoint, ALICE.0, "not-alices-secret");
    let right = no_retry(&gw.endpoint, ALICE.0, ALICE.1);
    let bob = no_retry(&gw.endpoint, BOB.0, BOB.1);

    // Policy denials with a valid signature are not failed logins.
    for _ in 0..6 {
        let e = right
            .get_object()
            .bucket("photos")
            .key("bob/b.txt")
            .send()
            .await;
        assert_eq!(outcome(e), Err("AccessDenied".into()));
    }
    right
        .head_object()
        .bucket("photos")
        .key("alice/a.txt")
        .send()
        .await
        .unwrap();

    for _ in 0..4 {
        let e = wrong
            .head_object()
            .bucket("photos")
            .key("alice/a.txt")
            .send()
            .await;
        let status = e.unwrap_err().raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(403));
    }
    // Locked: even the right secret is refused for a while, with S3's SlowDown.
    let e = right
        .get_object()
        .bucket("photos")
        .key("alice/a.txt")
        .send()
        .await;
    assert_eq!(outcome(e), Err("SlowDown".into()));
    // Other users from the same address are not affected.
    bob.get_object()
        .bucket("photos")
        .key("bob/b.txt")
        .send()
        .await
        .unwrap();
    // And it recovers.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let got = right
        .get_object()
        .bucket("photos")
        .key("alice/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"alice's"
    );
}
