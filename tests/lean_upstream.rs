//! The lean upstream path (src/lean): object reads and writes to a remote store sent by hand
//! instead of through aws-sdk-s3. Attacked the way it can break: keys S3 encodes in odd ways,
//! metadata, ranges, parts off the segment grid, conditionals and errors, each answered by the
//! lean gateway and by a gateway with `upstream.lean = false` over the *same* store, which
//! checks every SigV4 signature (moto does not). The two must agree byte for byte and header for
//! header, the store must hold ciphertext, and a store that refuses the signature must fail the
//! request, never pass silently.

mod support;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use support::{TestGateway, Upstream, error_code, pattern, raw_request};

/// The path counters in /metrics are per process and `cargo test` runs this file's tests on
/// threads of one process: each test holds this while it counts.
static COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const KEYS: &[&str] = &[
    "a+b", "x", "x/y", "sp ace", "100%", "é/ü", "~t", "q?x#h", "a//b", "=&;,", "%2F", "k.",
];

/// One series' value from the gateway's /metrics.
async fn metric(gw: &TestGateway, series: &str) -> u64 {
    let (status, _, body) = raw_request(gw.addr, "GET", "/metrics", &[], b"").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let series = format!("{series} ");
    text.lines()
        .find_map(|l| l.strip_prefix(series.as_str()))
        .unwrap_or_else(|| panic!("no {series} in metrics"))
        .parse()
        .unwrap()
}

/// (lean, sdk) object calls this process has sent, from the gateway's /metrics.
async fn calls(gw: &TestGateway) -> (u64, u64) {
    let get = |path: &'static str| async move {
        metric(
            gw,
            &format!("s3seal_upstream_object_calls_total{{path=\"{path}\"}}"),
        )
        .await
    };
    (get("lean").await, get("sdk").await)
}

/// Everything a client sees of one GET (status or error code, body, headers that matter).
async fn seen_get(c: &Client, b: &str, k: &str, range: Option<&str>, part: Option<i32>) -> String {
    let mut r = c.get_object().bucket(b).key(k);
    if let Some(range) = range {
        r = r.range(range);
    }
    if let Some(p) = part {
        r = r.part_number(p);
    }
    match r.send().await {
        Err(e) => format!("error {:?}", error_code(Err::<(), _>(e))),
        Ok(o) => {
            let head = format!(
                "etag={:?} len={:?} range={:?} type={:?} cache={:?} meta={:?} parts={:?}",
                o.e_tag(),
                o.content_length(),
                o.content_range(),
                o.content_type(),
                o.cache_control(),
                o.metadata(),
                o.parts_count(),
            );
            let body = o.body.collect().await.unwrap().into_bytes();
            format!("{head} body={}", hex_digest(&body))
        }
    }
}

fn hex_digest(b: &[u8]) -> String {
    use sha2::Digest;
    format!("{}:{}", b.len(), hex::encode(sha2::Sha256::digest(b)))
}

async fn seen_head(c: &Client, b: &str, k: &str) -> String {
    match c.head_object().bucket(b).key(k).send().await {
        Err(e) => format!("error {:?}", error_code(Err::<(), _>(e))),
        Ok(o) => format!(
            "etag={:?} len={:?} type={:?} meta={:?} modified={:?}",
            o.e_tag(),
            o.content_length(),
            o.content_type(),
            o.metadata(),
            o.last_modified()
        ),
    }
}

/// A second gateway over `gw`'s store with the lean path switched off.
async fn sdk_only_twin(gw: &TestGateway) -> TestGateway {
    let url = gw.upstream_endpoint.clone();
    let keys = gw.dir.path().join("state/keys.toml");
    TestGateway::start_with(Upstream::Store, move |c| {
        if let s3seal::config::UpstreamConfig::S3 { endpoint, lean, .. } = &mut c.upstream {
            *endpoint = Some(url);
            *lean = false;
        }
        // The same KEKs, so each gateway reads what the other wrote.
        c.keys = s3seal::config::KeysConfig::File {
            path: keys,
            create_if_missing: false,
        };
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_and_sdk_paths_answer_alike_over_a_verifying_store() {
    let _counting = COUNTING.lock().await;
    let gw = TestGateway::start(Upstream::Store).await;
    let twin = sdk_only_twin(&gw).await;
    let b = gw.bucket().await;
    let (lean0, sdk0) = calls(&gw).await;
    // The startup banner says which path object calls take.
    let said = s3seal::upstream::describe(&gw.config.upstream);
    assert!(said.ends_with("object calls on the lean path)"), "{said}");
    let said = s3seal::upstream::describe(&twin.config.upstream);
    assert!(said.ends_with("all calls through aws-sdk-s3)"), "{said}");

    for (i, k) in KEYS.iter().enumerate() {
        let body = pattern(1000 + i * 70_001, i as u64);
        // Written by one path, read by both: the stored form must not depend on the path.
        let writer = if i % 2 == 0 { &gw.client } else { &twin.client };
        writer
            .put_object()
            .bucket(&b)
            .key(*k)
            .content_type("image/png")
            .cache_control("max-age=60")
            .metadata("note", "two  spaces, = and +")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("PUT {k:?}: {e:?}"));

        for range in [
            None,
            Some("bytes=0-0"),
            Some("bytes=65530-65545"),
            Some("bytes=-7"),
        ] {
            let lean = seen_get(&gw.client, &b, k, range, None).await;
            let sdk = seen_get(&twin.client, &b, k, range, None).await;
            assert_eq!(lean, sdk, "GET {k:?} {range:?}");
            let past_end = range == Some("bytes=65530-65545") && body.len() <= 65530;
            assert_eq!(
                lean.starts_with("error"),
                past_end,
                "GET {k:?} {range:?}: {lean}"
            );
        }
        assert_eq!(gw.get(&b, k).await, body, "{k:?}");
        assert_eq!(
            seen_head(&gw.client, &b, k).await,
            seen_head(&twin.client, &b, k).await
        );

        // At rest: ciphertext and a wrapped key, whichever path wrote it.
        let (stored, meta) = gw.raw_get(&b, k).await;
        assert!(stored.len() > body.len(), "{k:?}");
        assert!(
            !stored.windows(64).any(|w| w == &body[..64]),
            "{k:?} plaintext at rest"
        );
        assert!(
            meta.get("s3seal-dek").is_some_and(|d| !d.is_empty()),
            "{k:?}"
        );
    }

    // Misses and conditionals: the same answer on both paths.
    for k in ["missing", "x/", "a+b/c"] {
        assert_eq!(
            seen_get(&gw.client, &b, k, None, None).await,
            "error Some(\"NoSuchKey\")"
        );
        assert_eq!(
            seen_head(&gw.client, &b, k).await,
            seen_head(&twin.client, &b, k).await
        );
    }
    let etag = gw
        .client
        .head_object()
        .bucket(&b)
        .key("a+b")
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap();
    for c in [&gw.client, &twin.client] {
        let not_modified = c
            .get_object()
            .bucket(&b)
            .key("a+b")
            .if_none_match(&etag)
            .send()
            .await;
        assert_eq!(error_code(not_modified).as_deref(), Some("HTTP Some(304)"));
        let failed = c
            .get_object()
            .bucket(&b)
            .key("a+b")
            .if_match("\"0\"")
            .send()
            .await;
        assert_eq!(error_code(failed).as_deref(), Some("PreconditionFailed"));
        let head_failed = c
            .head_object()
            .bucket(&b)
            .key("a+b")
            .if_match("\"0\"")
            .send()
            .await;
        assert_eq!(error_code(head_failed).as_deref(), Some("HTTP Some(412)"));
    }

    // Multipart with parts off the segment grid (S3's 5 MiB minimum plus 4,999), read back
    // whole and by part number.
    const PART: usize = 5 * 1024 * 1024 + 4_999;
    let data = pattern(2 * PART + 12_345, 9);
    support::multipart_put(&gw.client, &b, "mp/a+b", &data, PART).await;
    assert_eq!(twin.get(&b, "mp/a+b").await, data);
    for part in 1..=3 {
        let lean = seen_get(&gw.client, &b, "mp/a+b", None, Some(part)).await;
        assert_eq!(
            lean,
            seen_get(&twin.client, &b, "mp/a+b", None, Some(part)).await
        );
        assert!(lean.contains("parts=Some(3)"), "{lean}");
    }

    // Listings: pages, prefixes, delimiters, start-after and URL encoding, alike on both paths.
    for (prefix, delimiter, start_after, url) in [
        (None, None, None, false),
        (None, Some("/"), None, true),
        (Some("x"), Some("/"), None, false),
        (Some("a"), None, Some("a+b"), true),
        (Some("mp/"), None, None, false),
        (Some("nothing-here"), None, None, false),
    ] {
        let list = |c: Client| {
            let b = b.clone();
            async move {
                let mut pages = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let mut r = c.list_objects_v2().bucket(&b).max_keys(3);
                    r = r.set_prefix(prefix.map(str::to_owned));
                    r = r.set_delimiter(delimiter.map(str::to_owned));
                    r = r.set_start_after(start_after.map(str::to_owned));
                    r = r.set_continuation_token(token.take());
                    if url {
                        r = r.encoding_type(aws_sdk_s3::types::EncodingType::Url);
                    }
                    let o = r.send().await.unwrap();
                    let keys: Vec<_> = o
                        .contents()
                        .iter()
                        .map(|x| {
                            (
                                x.key().map(str::to_owned),
                                x.size(),
                                x.e_tag().map(str::to_owned),
                            )
                        })
                        .collect();
                    let cps: Vec<_> = o
                        .common_prefixes()
                        .iter()
                        .map(|p| p.prefix().map(str::to_owned))
                        .collect();
                    pages.push(format!(
                        "{keys:?} {cps:?} {:?} {:?}",
                        o.key_count(),
                        o.is_truncated()
                    ));
                    match o.next_continuation_token() {
                        Some(t) => token = Some(t.to_owned()),
                        None => break,
                    }
                }
                pages
            }
        };
        let lean = list(gw.client.clone()).await;
        assert_eq!(
            lean,
            list(twin.client.clone()).await,
            "{prefix:?} {delimiter:?}"
        );
        if prefix.is_none() && delimiter.is_none() {
            assert!(lean.len() >= 5, "paged in threes: {lean:?}");
            // Plaintext sizes, as for every listing through the gateway.
            assert!(
                lean.join(" ").contains("(Some(\"a+b\"), Some(1000)"),
                "{lean:?}"
            );
        }
    }

    // Every object call above went the lean way on the lean gateway.
    let (lean1, sdk1) = calls(&gw).await;
    assert!(lean1 - lean0 >= 100, "lean calls {lean0} -> {lean1}");
    assert_eq!(sdk1, sdk0, "no object call needed the SDK");
}

/// Everything a client reads from one ListObjectsV2 page, every field.
fn page_seen(o: &aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output) -> String {
    let entries: Vec<_> = o
        .contents()
        .iter()
        .map(|x| {
            format!(
                "{:?} size={:?} etag={:?} modified={:?} class={:?} owner={:?} checksum={:?}/{:?}",
                x.key(),
                x.size(),
                x.e_tag(),
                x.last_modified().map(|t| t.secs()),
                x.storage_class(),
                x.owner().map(|w| (w.id(), w.display_name())),
                x.checksum_algorithm(),
                x.checksum_type(),
            )
        })
        .collect();
    let cps: Vec<_> = o.common_prefixes().iter().map(|p| p.prefix()).collect();
    format!(
        "{entries:#?} {cps:?} name={:?} prefix={:?} delimiter={:?} max={:?} count={:?} truncated={:?} encoding={:?} start_after={:?}",
        o.name(),
        o.prefix(),
        o.delimiter(),
        o.max_keys(),
        o.key_count(),
        o.is_truncated(),
        o.encoding_type(),
        o.start_after(),
    )
}

/// ListObjectsV2 pages on the lean path are rewritten in the store's own XML
/// (src/lean/listing.rs) instead of parsed and serialised again. A client must not be able to
/// tell: every field of every page matches the parsed path's answer over the same store, for
/// odd keys, url encoding, owners, delimiters, an empty object, a multipart object off the
/// segment grid (its size comes from its layout) and a plaintext object written straight to
/// the store (shown as stored). Sizes are the plaintext's; the store's own listing shows
/// ciphertext sizes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanned_listings_match_parsed_ones_field_for_field() {
    let _counting = COUNTING.lock().await;
    let gw = TestGateway::start(Upstream::Store).await;
    let twin = sdk_only_twin(&gw).await;
    let b = gw.bucket().await;
    let mut want = std::collections::BTreeMap::new();
    for (i, k) in KEYS.iter().enumerate() {
        let body = pattern(i * 3_001, i as u64);
        want.insert(k.to_string(), body.len() as i64);
        gw.client
            .put_object()
            .bucket(&b)
            .key(*k)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    // Parts of 5 MiB + 1,000 bytes: off the 64 KiB segment grid.
    let part = 5 * 1024 * 1024 + 1000;
    let mp = pattern(part + 777, 99);
    support::multipart_put(&gw.client, &b, "mp/off-grid", &mp, part).await;
    want.insert("mp/off-grid".to_owned(), mp.len() as i64);
    gw.upstream
        .put_object()
        .bucket(&b)
        .key("legacy/plain")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .unwrap();
    want.insert("legacy/plain".to_owned(), 5);

    let scanned0 = metric(&gw, "s3seal_upstream_list_pages_scanned_total").await;
    let mut pages_listed = 0;
    for (owner, url, delimiter, max) in [
        (false, false, None, 1000),
        (true, false, None, 4),
        (false, true, None, 5),
        (false, false, Some("/"), 3),
        (true, true, Some("/"), 1000),
    ] {
        let pages = |c: Client| {
            let b = b.clone();
            async move {
                let mut seen = Vec::new();
                let mut token: Option<String> = None;
                loop {
                    let mut r = c
                        .list_objects_v2()
                        .bucket(&b)
                        .max_keys(max)
                        .fetch_owner(owner)
                        .set_delimiter(delimiter.map(str::to_owned))
                        .set_continuation_token(token.take());
                    if url {
                        r = r.encoding_type(aws_sdk_s3::types::EncodingType::Url);
                    }
                    let o = r.send().await.unwrap();
                    seen.push(page_seen(&o));
                    match o.next_continuation_token() {
                        Some(t) => token = Some(t.to_owned()),
                        None => break,
                    }
                }
                seen
            }
        };
        let lean = pages(gw.client.clone()).await;
        pages_listed += lean.len() as u64;
        assert_eq!(
            lean,
            pages(twin.client.clone()).await,
            "owner={owner} url={url} delimiter={delimiter:?}"
        );
    }
    let scanned1 = metric(&gw, "s3seal_upstream_list_pages_scanned_total").await;
    assert_eq!(scanned1 - scanned0, pages_listed, "every page was scanned");

    let listed = gw.client.list_objects_v2().bucket(&b).send().await.unwrap();
    let sizes: std::collections::BTreeMap<_, _> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap().to_owned(), o.size().unwrap()))
        .collect();
    assert_eq!(sizes, want, "plaintext sizes");
    for o in listed.contents() {
        let (k, e) = (o.key().unwrap(), o.e_tag().unwrap());
        if KEYS.contains(&k) {
            assert!(e.starts_with('"') && e.ends_with("-1\""), "{k}: {e}");
        }
    }
    let stored = gw
        .upstream
        .list_objects_v2()
        .bucket(&b)
        .send()
        .await
        .unwrap();
    for o in stored.contents() {
        let k = o.key().unwrap();
        if k != "legacy/plain" {
            assert!(
                o.size().unwrap() > want[k],
                "{k}: the store holds ciphertext"
            );
        }
    }
}

/// A request carrying what the lean path does not send (an ACL, a metadata value beyond ASCII,
/// which the signer cannot read) goes through the SDK, and still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_lean_path_cannot_carry_take_the_sdk() {
    let _counting = COUNTING.lock().await;
    let gw = TestGateway::start(Upstream::Store).await;
    let b = gw.bucket().await;
    let (_, sdk0) = calls(&gw).await;
    gw.client
        .put_object()
        .bucket(&b)
        .key("acl")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    gw.client
        .put_object()
        .bucket(&b)
        .key("utf8")
        .metadata("note", "é")
        .body(ByteStream::from_static(b"bonjour"))
        .send()
        .await
        .unwrap();
    let (_, sdk1) = calls(&gw).await;
    assert_eq!(sdk1, sdk0 + 2, "both PUTs went through the SDK");
    assert_eq!(gw.get(&b, "acl").await, b"hello");
    assert_eq!(gw.get(&b, "utf8").await, b"bonjour");
}

/// A store that refuses the gateway's signature refuses every read and write: the error
/// reaches the client, nothing is stored, nothing is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_refusing_the_signature_fails_reads_and_writes() {
    let _counting = COUNTING.lock().await;
    let gw = TestGateway::start(Upstream::Store).await;
    let b = gw.bucket().await;
    gw.put(&b, "k", b"secret").await;
    let url = gw.upstream_endpoint.clone();
    let keys = gw.dir.path().join("state/keys.toml");
    let wrong = TestGateway::start_with(Upstream::Store, move |c| {
        if let s3seal::config::UpstreamConfig::S3 {
            endpoint,
            secret_access_key,
            ..
        } = &mut c.upstream
        {
            *endpoint = Some(url);
            *secret_access_key = Some("not-the-secret".into());
        }
        c.keys = s3seal::config::KeysConfig::File {
            path: keys,
            create_if_missing: false,
        };
    })
    .await;
    let (lean0, _) = calls(&wrong).await;
    let put = wrong
        .client
        .put_object()
        .bucket(&b)
        .key("k2")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await;
    assert_eq!(error_code(put).as_deref(), Some("SignatureDoesNotMatch"));
    let get = wrong.client.get_object().bucket(&b).key("k").send().await;
    assert_eq!(error_code(get).as_deref(), Some("SignatureDoesNotMatch"));
    let head = wrong.client.head_object().bucket(&b).key("k").send().await;
    assert_eq!(error_code(head).as_deref(), Some("HTTP Some(403)"));
    let (lean1, _) = calls(&wrong).await;
    assert!(lean1 > lean0, "the refused calls went the lean way");
    let missing = gw.client.head_object().bucket(&b).key("k2").send().await;
    assert_eq!(error_code(missing).as_deref(), Some("NotFound"));
    assert_eq!(gw.get(&b, "k").await, b"secret");
}
