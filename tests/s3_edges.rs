//! Edges of S3's contract an outside comparison against S3 found the gateway answering
//! differently: each asserts S3's answer and, where something could be stored, what is.

mod support;

use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use support::{ALL, TestGateway, error_code, raw_request};

/// HEAD with a range answers as the GET would. On an empty object S3 answers a suffix range
/// (`bytes=-N`, what tail readers such as object_store and Trino send) with the whole empty
/// object, 200, and any other range with 416. The gateway gave the suffix 416 (it gave 206
/// with `Content-Range: bytes 0-18446744073709551615/0` before that).
#[tokio::test]
async fn ranged_reads_of_an_empty_object_answer_as_s3() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "empty", b"").await;
        for r in ["bytes=-1", "bytes=-10"] {
            let head = c
                .head_object()
                .bucket(&b)
                .key("empty")
                .range(r)
                .send()
                .await;
            let head = head.unwrap_or_else(|e| panic!("{kind:?} HEAD {r}: {e:?}"));
            assert_eq!(head.content_length, Some(0), "{kind:?} HEAD {r}");
            assert_eq!(head.content_range, None, "{kind:?} HEAD {r}");
            let get = c.get_object().bucket(&b).key("empty").range(r).send().await;
            let get = get.unwrap_or_else(|e| panic!("{kind:?} GET {r}: {e:?}"));
            assert_eq!(get.content_range, None, "{kind:?} GET {r}");
            let body = get.body.collect().await.unwrap().into_bytes();
            assert!(body.is_empty(), "{kind:?} GET {r}");
        }
        for r in ["bytes=0-0", "bytes=0-"] {
            let head = c
                .head_object()
                .bucket(&b)
                .key("empty")
                .range(r)
                .send()
                .await;
            let status = head
                .as_ref()
                .err()
                .and_then(|e| e.raw_response())
                .map(|r| r.status().as_u16());
            assert_eq!(status, Some(416), "{kind:?} HEAD {r}: {head:?}");
            let get = c.get_object().bucket(&b).key("empty").range(r).send().await;
            assert_eq!(
                error_code(get).as_deref(),
                Some("InvalidRange"),
                "{kind:?} GET {r}"
            );
        }
        // A suffix range of a non-empty object is still a range.
        gw.put(&b, "ten", b"0123456789").await;
        let get = c
            .get_object()
            .bucket(&b)
            .key("ten")
            .range("bytes=-3")
            .send()
            .await;
        let get = get.unwrap();
        assert_eq!(get.content_range.as_deref(), Some("bytes 7-9/10"));
        assert_eq!(&get.body.collect().await.unwrap().into_bytes()[..], b"789");
        gw.stop().await;
    }
}

/// S3 ignores a malformed `Range` (not one valid byte range: `bytes=abc`, `bytes=5-2`, two
/// ranges, another unit) and a malformed `If-Modified-Since`/`If-Unmodified-Since`, and
/// answers 200 with the whole object; browsers, players and curl add such headers to a
/// presigned link themselves. The gateway answered 400 InvalidArgument. A signed one still
/// gets that 400: removing a header the signature covers would break the signature.
#[tokio::test]
async fn malformed_read_conditions_on_a_presigned_link_are_ignored_as_s3() {
    let ttl =
        aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(300))
            .unwrap();
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "ten", b"0123456789").await;
        let get = c
            .get_object()
            .bucket(&b)
            .key("ten")
            .presigned(ttl.clone())
            .await
            .unwrap();
        let head = c
            .head_object()
            .bucket(&b)
            .key("ten")
            .presigned(ttl.clone())
            .await
            .unwrap();
        let path = |u: &str| {
            let u: http::Uri = u.parse().unwrap();
            u.path_and_query().unwrap().as_str().to_owned()
        };
        let send = |method: &'static str, uri: String, name: &'static str, value: &'static str| {
            let addr = gw.addr;
            async move {
                let h = vec![(name.to_owned(), value.to_owned())];
                raw_request(addr, method, &uri, &h, b"").await
            }
        };
        let ignored = [
            ("range", "bytes=abc"),
            ("range", "bytes=5-2"),
            ("range", "bytes=0-1,4-5"),
            ("range", "items=0-1"),
            ("range", "bytes=-"),
            ("if-modified-since", "yesterday"),
            ("if-unmodified-since", "Mon, 32 Foo 2020 99:00:00 GMT"),
        ];
        for (name, value) in ignored {
            let (status, h, body) = send("GET", path(get.uri()), name, value).await;
            assert_eq!(status, 200, "{kind:?} GET {name}: {value}: {h}");
            assert_eq!(body, b"0123456789", "{kind:?} GET {name}: {value}");
            assert!(
                !h.to_ascii_lowercase().contains("content-range"),
                "{kind:?}: {h}"
            );
            let (status, h, _) = send("HEAD", path(head.uri()), name, value).await;
            assert_eq!(status, 200, "{kind:?} HEAD {name}: {value}: {h}");
            assert!(
                h.to_ascii_lowercase().contains("content-length: 10"),
                "{kind:?}: {h}"
            );
        }
        // Well-formed ones still apply.
        let (status, h, body) = send("GET", path(get.uri()), "range", "bytes=2-4").await;
        assert_eq!((status, &body[..]), (206, &b"234"[..]), "{kind:?}: {h}");
        let (status, h, _) = send("GET", path(get.uri()), "range", "bytes=100-").await;
        assert_eq!(status, 416, "{kind:?}: {h}");
        let past = "Mon, 01 Jan 1990 00:00:00 GMT";
        let (status, h, _) = send("GET", path(get.uri()), "if-unmodified-since", past).await;
        assert_eq!(status, 412, "{kind:?}: {h}");
        // Signed by an SDK client: a clear 400, nothing served.
        let signed = c
            .get_object()
            .bucket(&b)
            .key("ten")
            .range("bytes=abc")
            .send()
            .await;
        assert_eq!(
            error_code(signed).as_deref(),
            Some("InvalidArgument"),
            "{kind:?}"
        );
        gw.stop().await;
    }
}

/// S3 holds user metadata to 2 KB (keys and values, summed); an app tested through the
/// gateway must not meet that limit first on S3.
#[tokio::test]
async fn user_metadata_over_two_kilobytes_is_refused() {
    let gw = TestGateway::start(support::Upstream::Fs).await;
    let (c, b) = (&gw.client, gw.bucket().await);
    let put = |v: String| {
        c.put_object()
            .bucket(&b)
            .key("m")
            .metadata("big", v)
            .body(b"x".to_vec().into())
    };
    let r = put("v".repeat(2048 - 3 + 1)).send().await;
    assert_eq!(error_code(r).as_deref(), Some("MetadataTooLarge"));
    assert!(!support::stored(&gw, &b, "m").await);
    put("v".repeat(2048 - 3)).send().await.unwrap();
    let mp = c
        .create_multipart_upload()
        .bucket(&b)
        .key("mp")
        .metadata("big", "v".repeat(3000));
    assert_eq!(
        error_code(mp.send().await).as_deref(),
        Some("MetadataTooLarge")
    );
}

/// UploadPartCopy takes only `bytes=first-last` wholly inside the source (a GET would clip a
/// range that runs past the end; a copy must not make a short part silently).
#[tokio::test]
async fn upload_part_copy_ranges_must_be_first_last_inside_the_source() {
    let gw = TestGateway::start(support::Upstream::Fs).await;
    let (c, b) = (&gw.client, gw.bucket().await);
    gw.put(&b, "src", &[7u8; 100]).await;
    let id = c
        .create_multipart_upload()
        .bucket(&b)
        .key("dst")
        .send()
        .await
        .unwrap();
    let id = id.upload_id.unwrap();
    let copy = |r: &str| {
        let p = c
            .upload_part_copy()
            .bucket(&b)
            .key("dst")
            .upload_id(&id)
            .part_number(1);
        p.copy_source(format!("{b}/src"))
            .copy_source_range(r)
            .send()
    };
    assert_eq!(
        error_code(copy("bytes=0-199").await).as_deref(),
        Some("InvalidRange")
    );
    for bad in ["bytes=-10", "bytes=50-"] {
        assert_eq!(
            error_code(copy(bad).await).as_deref(),
            Some("InvalidArgument"),
            "{bad}"
        );
    }
    let parts = c
        .list_parts()
        .bucket(&b)
        .key("dst")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert!(parts.parts().is_empty(), "a refused copy stored a part");
    copy("bytes=0-99").await.unwrap();
    copy("bytes=10-19").await.unwrap();
}

/// S3's request limits: 1000 keys per DeleteObjects, COPY or REPLACE for directives.
#[tokio::test]
async fn delete_objects_and_copy_directives_keep_s3s_limits() {
    let gw = TestGateway::start(support::Upstream::Fs).await;
    let (c, b) = (&gw.client, gw.bucket().await);
    gw.put(&b, "k0", b"0").await;
    let ids: Vec<_> = (0..1001)
        .map(|i| {
            ObjectIdentifier::builder()
                .key(format!("k{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let del = Delete::builder().set_objects(Some(ids)).build().unwrap();
    let r = c.delete_objects().bucket(&b).delete(del).send().await;
    assert_eq!(error_code(r).as_deref(), Some("MalformedXML"));
    assert!(support::stored(&gw, &b, "k0").await, "deleted anyway");
    let r = c
        .copy_object()
        .bucket(&b)
        .key("k1")
        .copy_source(format!("{b}/k0"))
        .metadata_directive("FOO".into())
        .send()
        .await;
    assert_eq!(error_code(r).as_deref(), Some("InvalidArgument"));
    assert!(!support::stored(&gw, &b, "k1").await);
}

/// HEAD takes the `response-*` overrides as GET does (a client HEADs a link to preview what
/// its download will be).
#[tokio::test]
async fn head_applies_response_overrides_like_get() {
    for kind in [support::Upstream::Fs, support::Upstream::Store] {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "pic", b"png bytes").await;
        let h = c
            .head_object()
            .bucket(&b)
            .key("pic")
            .response_content_type("image/png")
            .response_cache_control("no-cache")
            .response_content_disposition("attachment; filename=\"p.png\"")
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_type(), Some("image/png"), "{kind:?}");
        assert_eq!(h.cache_control(), Some("no-cache"), "{kind:?}");
        assert_eq!(
            h.content_disposition(),
            Some("attachment; filename=\"p.png\"")
        );
        assert_eq!(h.content_length(), Some(9), "{kind:?}");
        gw.stop().await;
    }
}

/// partNumber=1 of an object written in one PUT is that object as its one part: 206 with
/// the whole range, on GET and HEAD (S3; ceph's s3-tests check it).
#[tokio::test]
async fn part_number_one_of_a_single_put_object_is_a_partial_answer() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "ten", b"0123456789").await;
        let g = c
            .get_object()
            .bucket(&b)
            .key("ten")
            .part_number(1)
            .send()
            .await
            .unwrap();
        assert_eq!(g.content_range(), Some("bytes 0-9/10"), "{kind:?}");
        assert_eq!(
            g.body.collect().await.unwrap().into_bytes().as_ref(),
            b"0123456789"
        );
        let h = c
            .head_object()
            .bucket(&b)
            .key("ten")
            .part_number(1)
            .send()
            .await
            .unwrap();
        assert_eq!(h.content_range(), Some("bytes 0-9/10"), "{kind:?}");
        assert_eq!(h.content_length(), Some(10), "{kind:?}");
        // (moto answers a part past the end with a 500 of its own.)
        if kind != support::Upstream::Moto {
            let r = c
                .get_object()
                .bucket(&b)
                .key("ten")
                .part_number(2)
                .send()
                .await;
            assert_eq!(
                error_code(r).as_deref(),
                Some("InvalidPartNumber"),
                "{kind:?}"
            );
        }
        gw.stop().await;
    }
}

/// A listing's LastModified is the HEAD's, to the second, as on S3: `aws s3 sync
/// --exact-timestamps` compares the two and downloaded every object again on every run while
/// listings carried milliseconds.
#[tokio::test]
async fn listing_times_equal_head_times() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "f.txt", b"hello").await;
        let head = c
            .head_object()
            .bucket(&b)
            .key("f.txt")
            .send()
            .await
            .unwrap();
        let shown = head.last_modified().unwrap();
        let v2 = c.list_objects_v2().bucket(&b).send().await.unwrap();
        let listed = v2.contents()[0].last_modified().unwrap();
        assert_eq!(listed, shown, "{kind:?} ListObjectsV2");
        assert_eq!(listed.subsec_nanos(), 0, "{kind:?}");
        let v1 = c.list_objects().bucket(&b).send().await.unwrap();
        assert_eq!(
            v1.contents()[0].last_modified().unwrap(),
            shown,
            "{kind:?} ListObjects"
        );
    }
}

/// Errors s3s answers without a message get S3's words (aws cli printed "Unknown").
#[tokio::test]
async fn errors_carry_a_message() {
    let gw = TestGateway::start(support::Upstream::Fs).await;
    let wrong = support::client(&gw.endpoint, support::ACCESS_KEY, "not-the-secret");
    let e = wrong.list_buckets().send().await.unwrap_err();
    use aws_sdk_s3::error::ProvideErrorMetadata;
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert!(
        e.message().is_some_and(|m| m.contains("signature")),
        "{e:?}"
    );
    let e = gw
        .client
        .create_bucket()
        .bucket("ab")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidBucketName"));
    assert_eq!(e.message(), Some("The specified bucket is not valid."));
    // A key over 1024 bytes is refused while s3s parses the path, with no message (the JS
    // SDK showed "UnknownError"; outside probe).
    let b = gw.bucket().await;
    let e = gw
        .client
        .put_object()
        .bucket(&b)
        .key("k".repeat(1100))
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("KeyTooLongError"));
    assert_eq!(e.message(), Some("Your key is too long"));
}

/// Reads that begin with a HEAD at the store (ranged GET, CopyObject, GetObjectAttributes)
/// name what is missing as S3 does. A store's HEAD 404 has no body, and over remote stores
/// the gateway answered `NotFound` with no message, which `except s3.exceptions.NoSuchKey`
/// does not catch; moto's CDATA messages came through as `<![CDATA[…]]>` (outside probes).
#[tokio::test]
async fn missing_objects_are_named_as_s3_names_them() {
    use aws_sdk_s3::error::ProvideErrorMetadata;
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let e = c.get_object().bucket(&b).key("nope").range("bytes=0-1");
        let e = e.send().await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"), "{kind:?} ranged GET");
        let e = c
            .get_object()
            .bucket(&b)
            .key("nope")
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"), "{kind:?} GET");
        assert!(
            e.message().is_none_or(|m| !m.contains("CDATA")),
            "{kind:?}: {:?}",
            e.message()
        );
        let copy = |src: String| {
            c.copy_object()
                .bucket(&b)
                .key("dst")
                .copy_source(src)
                .send()
        };
        let e = copy(format!("{b}/nope")).await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"), "{kind:?} copy");
        let e = copy("no-such-bucket-s3seal/k".into()).await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchBucket"), "{kind:?} copy");
        use aws_sdk_s3::types::ObjectAttributes as A;
        let e = c.get_object_attributes().bucket(&b).key("nope");
        let e = e.object_attributes(A::ObjectSize).send().await.unwrap_err();
        assert_eq!(e.code(), Some("NoSuchKey"), "{kind:?} attributes");
    }
}

/// HEAD of a key whose current version is a delete marker: 404 with
/// `x-amz-delete-marker: true`, as S3 answers (the header was dropped over remote stores).
#[tokio::test]
async fn head_of_a_delete_marker_says_so() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        let on = VersioningConfiguration::builder()
            .status(BucketVersioningStatus::Enabled)
            .build();
        c.put_bucket_versioning()
            .bucket(&b)
            .versioning_configuration(on)
            .send()
            .await
            .unwrap();
        gw.put(&b, "gone", b"x").await;
        let marker = c
            .delete_object()
            .bucket(&b)
            .key("gone")
            .send()
            .await
            .unwrap();
        // A copy naming the marker's version: 400 InvalidRequest, as S3 documents (it was
        // 405 MethodNotAllowed, or 405 InternalError over remote stores).
        let src = format!("{b}/gone?versionId={}", marker.version_id().unwrap());
        let e = c.copy_object().bucket(&b).key("dst").copy_source(src);
        let e = e.send().await.unwrap_err();
        use aws_sdk_s3::error::ProvideErrorMetadata;
        assert_eq!(e.code(), Some("InvalidRequest"), "{kind:?} {e:?}");
        let e = c
            .head_object()
            .bucket(&b)
            .key("gone")
            .send()
            .await
            .unwrap_err();
        let raw = e.raw_response().expect("an HTTP answer");
        assert_eq!(raw.status().as_u16(), 404, "{kind:?}");
        assert_eq!(
            raw.headers().get("x-amz-delete-marker"),
            Some("true"),
            "{kind:?}"
        );
    }
}

/// ACL reads answer as S3 does with ACLs disabled (owner FULL_CONTROL; s3cmd info and
/// `aws s3api get-object-acl` got 501 NotImplemented from the embedded store); a private ACL
/// is accepted, a public one refused as S3 refuses it.
#[tokio::test]
async fn acls_answer_as_s3_with_acls_disabled() {
    use aws_sdk_s3::types::{ObjectCannedAcl, Permission};
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (c, b) = (&gw.client, gw.bucket().await);
        gw.put(&b, "k", b"x").await;
        let acl = c.get_object_acl().bucket(&b).key("k").send().await.unwrap();
        assert!(
            acl.grants()
                .iter()
                .any(|g| g.permission() == Some(&Permission::FullControl)),
            "{kind:?}: {acl:?}"
        );
        let acl = c.get_bucket_acl().bucket(&b).send().await.unwrap();
        assert!(!acl.grants().is_empty(), "{kind:?}");
        c.put_object_acl()
            .bucket(&b)
            .key("k")
            .acl(ObjectCannedAcl::Private)
            .send()
            .await
            .unwrap();
        let missing = c.get_object_acl().bucket(&b).key("nope").send().await;
        assert_eq!(
            error_code(missing).as_deref(),
            Some("NoSuchKey"),
            "{kind:?}"
        );
        if kind != support::Upstream::Moto {
            let public = c
                .put_object_acl()
                .bucket(&b)
                .key("k")
                .acl(ObjectCannedAcl::PublicRead)
                .send()
                .await;
            assert_eq!(
                error_code(public).as_deref(),
                Some("AccessControlListNotSupported"),
                "{kind:?}"
            );
        }
    }
}
