//! The gateway as a plain S3 endpoint: auth, health, and every common operation, over both
//! upstreams (in-process s3s-fs and moto's server).

mod support;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Tag, Tagging};
use support::{ALL, TestGateway, Upstream, pattern};

#[tokio::test]
async fn healthz_needs_no_auth() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let (status, body) = raw_http(
        gw.addr,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.ends_with("ok\n"));
}

#[tokio::test]
async fn unsigned_request_is_denied() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let (status, body) = raw_http(
        gw.addr,
        "GET /some-bucket/key HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
}

#[tokio::test]
async fn wrong_secret_is_signature_mismatch_and_unknown_key_is_denied() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let bad = support::client(&gw.endpoint, support::ACCESS_KEY, "not-the-secret");
    let err = bad.list_buckets().send().await.unwrap_err();
    let code = err.into_service_error().meta().code().map(str::to_owned);
    assert_eq!(code.as_deref(), Some("SignatureDoesNotMatch"));
    let unknown = support::client(&gw.endpoint, "AKIANOBODY", "whatever");
    let err = unknown.list_buckets().send().await.unwrap_err();
    let code = err.into_service_error().meta().code().map(str::to_owned);
    assert!(code.as_deref() == Some("InvalidAccessKeyId"), "{code:?}");
    // The gateway is still healthy after bad requests.
    assert!(gw.client.list_buckets().send().await.is_ok());
}

#[tokio::test]
async fn bucket_lifecycle_over_both_upstreams() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
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
        assert!(names.contains(&b), "{kind:?}: {names:?}");
        gw.client.head_bucket().bucket(&b).send().await.unwrap();
        gw.client.delete_bucket().bucket(&b).send().await.unwrap();
        assert!(
            gw.client.head_bucket().bucket(&b).send().await.is_err(),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn object_round_trip_multi_megabyte_over_both_upstreams() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(5 * 1024 * 1024 + 123, 7);
        gw.put(&b, "dir/big.bin", &data).await;
        assert_eq!(gw.get(&b, "dir/big.bin").await, data, "{kind:?}");
        let head = gw
            .client
            .head_object()
            .bucket(&b)
            .key("dir/big.bin")
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(data.len() as i64), "{kind:?}");

        // copy, list v1 and v2, delete
        gw.client
            .copy_object()
            .bucket(&b)
            .key("copy.bin")
            .copy_source(format!("{b}/dir/big.bin"))
            .send()
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "copy.bin").await, data, "{kind:?}");
        let v2 = gw.client.list_objects_v2().bucket(&b).send().await.unwrap();
        let keys: Vec<_> = v2.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["copy.bin", "dir/big.bin"], "{kind:?}");
        assert!(
            v2.contents()
                .iter()
                .all(|o| o.size() == Some(data.len() as i64))
        );
        let v1 = gw
            .client
            .list_objects()
            .bucket(&b)
            .delimiter("/")
            .send()
            .await
            .unwrap();
        assert_eq!(v1.contents().len(), 1);
        assert_eq!(v1.common_prefixes()[0].prefix(), Some("dir/"));
        gw.client
            .delete_object()
            .bucket(&b)
            .key("copy.bin")
            .send()
            .await
            .unwrap();
        let err = gw
            .client
            .get_object()
            .bucket(&b)
            .key("copy.bin")
            .send()
            .await
            .unwrap_err();
        // Issue 19 item 6: the error body's RequestId is the x-amz-request-id header's.
        let raw = err.raw_response().expect("an answer");
        let header = raw.headers().get("x-amz-request-id").unwrap().to_owned();
        let body = String::from_utf8_lossy(raw.body().bytes().unwrap()).into_owned();
        assert!(
            body.contains(&format!("<RequestId>{header}</RequestId>")),
            "{header}: {body}"
        );
        assert_eq!(err.into_service_error().meta().code(), Some("NoSuchKey"));
    }
}

#[tokio::test]
async fn tagging_passes_through() {
    // s3s-fs implements no tagging; moto does.
    for kind in [Upstream::Moto] {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.put(&b, "t", b"x").await;
        let tagging = Tagging::builder()
            .tag_set(Tag::builder().key("team").value("blue").build().unwrap())
            .build()
            .unwrap();
        gw.client
            .put_object_tagging()
            .bucket(&b)
            .key("t")
            .tagging(tagging)
            .send()
            .await
            .unwrap();
        let got = gw
            .client
            .get_object_tagging()
            .bucket(&b)
            .key("t")
            .send()
            .await
            .unwrap();
        assert_eq!(got.tag_set()[0].key(), "team", "{kind:?}");
        assert_eq!(got.tag_set()[0].value(), "blue", "{kind:?}");
    }
}

#[tokio::test]
async fn multipart_upload_round_trip_over_both_upstreams() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let part = 5 * 1024 * 1024;
        let data = pattern(2 * part + 1000, 11);
        let up = gw
            .client
            .create_multipart_upload()
            .bucket(&b)
            .key("mp")
            .send()
            .await
            .unwrap();
        let id = up.upload_id().unwrap().to_owned();
        let mut parts = Vec::new();
        for (i, chunk) in data.chunks(part).enumerate() {
            let n = i as i32 + 1;
            let out = gw
                .client
                .upload_part()
                .bucket(&b)
                .key("mp")
                .upload_id(&id)
                .part_number(n)
                .body(ByteStream::from(chunk.to_vec()))
                .send()
                .await
                .unwrap();
            parts.push(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(out.e_tag().unwrap())
                    .build(),
            );
        }
        gw.client
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
            .await
            .unwrap();
        assert_eq!(gw.get(&b, "mp").await, data, "{kind:?}");
    }
}

/// Sends a raw HTTP/1.1 request and returns (status, whole response text).
async fn raw_http(addr: std::net::SocketAddr, req: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A key that is only a prefix of other keys does not exist: HEAD/GET say 404 on every store
/// (s3s-fs keeps prefixes as directories; rclone probes them this way).
#[tokio::test]
async fn prefix_of_other_keys_is_not_an_object() {
    for kind in [Upstream::Fs, Upstream::Moto] {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.put(&b, "tree/sub/a.txt", b"a").await;
        for key in ["tree", "tree/sub"] {
            let head = gw.client.head_object().bucket(&b).key(key).send().await;
            let status = head
                .unwrap_err()
                .raw_response()
                .map(|r| r.status().as_u16());
            assert_eq!(status, Some(404), "{kind:?} HEAD {key}");
            let get = gw.client.get_object().bucket(&b).key(key).send().await;
            let err = get.unwrap_err().into_service_error();
            assert!(err.is_no_such_key(), "{kind:?} GET {key}: {err:?}");
        }
    }
}

/// An empty delimiter (rclone's recursive listing) lists every key, as S3 does.
#[tokio::test]
async fn empty_delimiter_lists_recursively() {
    for kind in [Upstream::Fs, Upstream::Moto] {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.put(&b, "t/a", b"a").await;
        gw.put(&b, "t/s/b", b"bb").await;
        let v2 = gw
            .client
            .list_objects_v2()
            .bucket(&b)
            .prefix("t/")
            .delimiter("")
            .send()
            .await
            .unwrap();
        let keys: Vec<_> = v2.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(keys, ["t/a", "t/s/b"], "{kind:?}");
        assert!(v2.common_prefixes().is_empty(), "{kind:?}");
        let v1 = gw
            .client
            .list_objects()
            .bucket(&b)
            .prefix("t/")
            .delimiter("")
            .send()
            .await
            .unwrap();
        assert_eq!(v1.contents().len(), 2, "{kind:?}");
    }
}

/// Issue 19 item 6: a copy of an object onto itself that changes nothing is S3's
/// InvalidRequest (it used to succeed and rewrite the object); with new metadata it works
/// and keeps the body.
#[tokio::test]
async fn copy_onto_itself_needs_a_change() {
    use aws_sdk_s3::types::MetadataDirective;
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let etag = gw.put(&b, "self", b"same bytes").await;
        let same = gw
            .client
            .copy_object()
            .bucket(&b)
            .key("self")
            .copy_source(format!("{b}/self"))
            .send()
            .await;
        assert_eq!(
            support::error_code(same).as_deref(),
            Some("InvalidRequest"),
            "{kind:?}"
        );
        let head = gw.client.head_object().bucket(&b).key("self").send().await;
        assert_eq!(
            head.unwrap().e_tag(),
            Some(etag.as_str()),
            "{kind:?}: unchanged"
        );
        gw.client
            .copy_object()
            .bucket(&b)
            .key("self")
            .copy_source(format!("{b}/self"))
            .metadata_directive(MetadataDirective::Replace)
            .metadata("note", "renamed")
            .send()
            .await
            .unwrap();
        let head = gw.client.head_object().bucket(&b).key("self").send().await;
        let head = head.unwrap();
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("note"))
                .map(String::as_str),
            Some("renamed"),
            "{kind:?}"
        );
        assert_eq!(gw.get(&b, "self").await, b"same bytes", "{kind:?}");
    }
}

/// A key of only whitespace: the embedded store keeps it like any key; a remote store is
/// reached through aws-sdk-s3, which refuses such keys before sending, so the gateway answers
/// a 400 that says why instead of a 500. (aws-sdk-s3 refuses them on the client side too, so
/// boto3 sends them here.)
#[tokio::test]
async fn whitespace_only_keys_store_locally_and_are_refused_clearly_for_remote_stores() {
    const SCRIPT: &str = r#"
import sys, boto3, botocore
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id=sys.argv[2],
                 aws_secret_access_key=sys.argv[3], region_name="us-east-1")
try:
    c.put_object(Bucket=sys.argv[4], Key=" ", Body=b"space")
    print("stored", c.get_object(Bucket=sys.argv[4], Key=" ")["Body"].read().decode())
except botocore.exceptions.ClientError as e:
    print(e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
          e.response["Error"].get("Message", ""))
"#;
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let python = std::env::var("S3SEAL_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let args = [
            "-c".to_owned(),
            SCRIPT.to_owned(),
            gw.endpoint.clone(),
            support::ACCESS_KEY.to_owned(),
            support::SECRET_KEY.to_owned(),
            b.clone(),
        ];
        // Off the runtime thread: the gateway under test runs on it.
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(python).args(args).output()
        })
        .await
        .unwrap()
        .unwrap();
        let said = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "{said} {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match kind {
            Upstream::Fs => assert_eq!(said, "stored space"),
            Upstream::Moto | Upstream::Store => assert!(
                said.starts_with("InvalidArgument 400") && said.contains("whitespace"),
                "{said}"
            ),
        }
    }
}
