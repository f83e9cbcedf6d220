//! Hostile input: crafted s3seal metadata planted in the store, malformed ranges, keys, XML,
//! part numbers and upload ids. Each gets a clear S3 error (never a 5xx from a panic), and
//! the gateway keeps serving afterwards.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use std::collections::HashMap;
use support::*;

async fn status_of_get(gw: &TestGateway, b: &str, k: &str, range: Option<&str>) -> u16 {
    let mut req = gw.client.get_object().bucket(b).key(k);
    if let Some(r) = range {
        req = req.range(r);
    }
    match req.send().await {
        Ok(out) => {
            // A success must deliver a complete body.
            out.body.collect().await.map(|_| 200).unwrap_or(599)
        }
        Err(e) => e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0),
    }
}

#[tokio::test]
async fn crafted_metadata_in_the_store_is_refused_cleanly() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.put(&b, "good", &pattern(5000, 1)).await;
        let (raw, good) = gw.raw_get(&b, "good").await;
        let variants: Vec<(&str, &str, String)> = vec![
            ("version", "s3seal-v", "3".into()),
            ("bucket-flag", "s3seal-bb", "1".into()),
            ("kek-long", "s3seal-kek", "k".repeat(500)),
            ("kek-unknown", "s3seal-kek", "nope".into()),
            ("dek-base64", "s3seal-dek", "!!!not base64!!!".into()),
            ("dek-short", "s3seal-dek", "AAAA".into()),
            ("dek-huge", "s3seal-dek", "A".repeat(1500)),
            ("seg-zero", "s3seal-seg", "0".into()),
            ("seg-huge", "s3seal-seg", "99999999999".into()),
            ("seg-text", "s3seal-seg", "sixty-four".into()),
            ("md5", "s3seal-md5", "xyz".into()),
            ("mp", "s3seal-mp", "yes".into()),
        ];
        for (name, field, value) in &variants {
            let mut m: HashMap<String, String> = good.clone();
            m.insert(field.to_string(), value.clone());
            let key = format!("bad-{name}");
            gw.upstream
                .put_object()
                .bucket(&b)
                .key(&key)
                .set_metadata(Some(m))
                .body(ByteStream::from(raw.clone()))
                .send()
                .await
                .unwrap();
            for range in [None, Some("bytes=10-20")] {
                let s = status_of_get(&gw, &b, &key, range).await;
                assert!(
                    (400..500).contains(&s) || s == 599,
                    "{kind:?} {name} {range:?}: status {s}"
                );
            }
            let h = gw.client.head_object().bucket(&b).key(&key).send().await;
            if let Err(e) = h {
                let s = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
                assert!((400..500).contains(&s), "{kind:?} {name} HEAD: {s}");
            }
        }
        // Metadata without a version but with s3seal keys: refused, not served as plaintext.
        let mut m = good.clone();
        m.remove("s3seal-v");
        gw.upstream
            .put_object()
            .bucket(&b)
            .key("no-version")
            .set_metadata(Some(m))
            .body(ByteStream::from(raw.clone()))
            .send()
            .await
            .unwrap();
        let s = status_of_get(&gw, &b, "no-version", None).await;
        assert!((400..500).contains(&s), "{kind:?}: {s}");
        assert_eq!(gw.get(&b, "good").await, pattern(5000, 1), "still serving");
    }
}

#[tokio::test]
async fn malformed_requests_get_4xx() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let body = pattern(100_000, 2);
    gw.put(&b, "k", &body).await;
    // Ranges S3 ignores (serves the whole object) or refuses with 416; never a 5xx.
    for r in [
        "bytes=abc",
        "bytes=5-2",
        "items=0-1",
        "bytes=-0",
        "bytes=0-1,5-6",
        "bytes=999999999-",
    ] {
        let s = status_of_get(&gw, &b, "k", Some(r)).await;
        assert!(s == 200 || s == 206 || s == 416 || s == 400, "{r}: {s}");
    }
    // partNumber out of range.
    for n in [0, 10001] {
        let r = gw
            .client
            .get_object()
            .bucket(&b)
            .key("k")
            .part_number(n)
            .send()
            .await;
        let s = r
            .err()
            .and_then(|e| e.raw_response().map(|r| r.status().as_u16()));
        assert!(matches!(s, Some(400..=499)), "partNumber {n}: {s:?}");
    }
    // Bogus upload ids, including well-formed ones carrying foreign key material.
    for id in [
        "nonsense",
        "s3seal1~",
        "s3seal1~YQ~k1~AAAA~AAAAAAAAAAAAAAAAAAAAAA",
        "s3seal1~YQ~k1~QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB~AAAAAAAAAAAAAAAAAAAAAA",
        "s3seal1~YQ~sse-c~AAAA~AAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let r = gw
            .client
            .upload_part()
            .bucket(&b)
            .key("k")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        let s = r
            .err()
            .and_then(|e| e.raw_response().map(|r| r.status().as_u16()));
        assert!(matches!(s, Some(400..=499)), "upload id {id}: {s:?}");
    }
    // Raw HTTP: malformed XML, invalid UTF-8 in a key, an oversized header.
    let (s, _, _) = raw_request(
        gw.addr,
        "POST",
        &format!("/{b}/k?uploadId=s3seal1~x"),
        &[],
        b"<Complete",
    )
    .await;
    assert!((400..500).contains(&s), "malformed XML, unsigned: {s}");
    let (s, _, _) = raw_request(gw.addr, "GET", &format!("/{b}/%FF%FE"), &[], b"").await;
    assert!((400..500).contains(&s), "invalid UTF-8 key: {s}");
    let big = vec![("x-amz-meta-big".to_owned(), "v".repeat(200_000))];
    let (s, _, _) = raw_request(gw.addr, "GET", &format!("/{b}/k"), &big, b"").await;
    assert!(s == 0 || (400..500).contains(&s), "oversized header: {s}");
    assert_eq!(gw.get(&b, "k").await, body, "still serving");
}
