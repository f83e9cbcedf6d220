//! Issue 18: whatever a writer to the store does to sealed objects, a client never gets
//! wrong or missing bytes as a success. Each case edits the stored object directly (a PUT
//! of tampered bytes with the original metadata, straight to the store: the embedded s3s-fs
//! store and moto) and asserts what a real client (aws-sdk-s3) sees through the gateway:
//! an error status or a cut transfer (`collect()` fails), never a complete 200/206 with wrong
//! or missing bytes.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use std::collections::HashMap;
use support::*;

const S: usize = 65536;
const FULL: usize = S + 32;

/// What the client saw.
#[derive(Debug)]
enum Seen {
    /// An error status before any body.
    Status(u16),
    /// Headers of a success, then a failed transfer.
    Cut,
    /// A complete success with these bytes.
    Complete(Vec<u8>),
}

async fn get(gw: &TestGateway, b: &str, k: &str, range: Option<&str>) -> Seen {
    let mut req = gw.client.get_object().bucket(b).key(k);
    if let Some(r) = range {
        req = req.range(r);
    }
    // No retries: each read is counted once by the gateway's failure metric.
    let once = aws_sdk_s3::config::Builder::new()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled());
    match req.customize().config_override(once).send().await {
        Ok(out) => match out.body.collect().await {
            Ok(data) => Seen::Complete(data.into_bytes().to_vec()),
            Err(_) => Seen::Cut,
        },
        // The connection closed before a response head arrived: the transfer was cut
        // before its first byte (hyper sends the head together with the first body bytes).
        Err(e) if e.raw_response().is_none() => Seen::Cut,
        Err(e) => Seen::Status(e.raw_response().map_or(0, |r| r.status().as_u16())),
    }
}

/// Refused: an error status or a cut transfer; never a complete answer.
fn assert_refused(seen: &Seen, what: &str) {
    match seen {
        Seen::Status(s) => assert!(*s >= 400, "{what}: status {s}"),
        Seen::Cut => {}
        Seen::Complete(d) => panic!("{what}: served a complete body of {} bytes", d.len()),
    }
}

/// Replaces the stored bytes of `b/k` with `edit(stored)`, keeping the sealed metadata.
async fn tamper(gw: &TestGateway, b: &str, k: &str, edit: impl FnOnce(&mut Vec<u8>)) {
    let (mut raw, meta) = gw.raw_get(b, k).await;
    edit(&mut raw);
    put_raw(gw, b, k, raw, meta).await;
}

async fn put_raw(gw: &TestGateway, b: &str, k: &str, raw: Vec<u8>, meta: HashMap<String, String>) {
    gw.upstream
        .put_object()
        .bucket(b)
        .key(k)
        .set_metadata(Some(meta))
        .body(ByteStream::from(raw))
        .send()
        .await
        .expect("direct PUT to the store");
}

async fn decrypt_failures(gw: &TestGateway) -> f64 {
    let (_, _, body) = raw_request(gw.addr, "GET", "/metrics", &[], b"").await;
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("s3seal_decrypt_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// One way of editing an object's stored bytes.
type Tamper = Box<dyn FnOnce(&mut Vec<u8>)>;

/// A single-PUT object of 4 full segments and a short fifth, tampered five ways; full and
/// ranged reads that cover the damage.
#[tokio::test]
async fn single_object_tampering_is_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(4 * S + 1000, 7);
        let cases: Vec<(&str, Tamper)> = vec![
            // Old code: the stored size now says 2 segments; both open, the missing final
            // flag was noticed only in finish(), after all of Content-Length was sent → 200.
            (
                "truncate at a segment boundary",
                Box::new(|r| r.truncate(2 * FULL)),
            ),
            // Old code: the short third segment fails GCM before release → cut (regression
            // guard; this one already held).
            (
                "truncate mid-segment",
                Box::new(|r| r.truncate(2 * FULL + 100)),
            ),
            // Old code: cut at segment 2 (regression guard).
            ("flip a tag byte", Box::new(|r| r[3 * FULL - 1] ^= 1)),
            // Old code: index check refuses segment 1 (regression guard).
            (
                "splice a segment from elsewhere in the object",
                Box::new(|r| {
                    let s2 = r[2 * FULL..3 * FULL].to_vec();
                    r[FULL..2 * FULL].copy_from_slice(&s2);
                }),
            ),
        ];
        for (i, (name, edit)) in cases.into_iter().enumerate() {
            let k = format!("single-{i}");
            gw.put(&b, &k, &data).await;
            tamper(&gw, &b, &k, edit).await;
            for range in [None, Some("bytes=0-"), Some("bytes=70000-")] {
                let seen = get(&gw, &b, &k, range).await;
                assert_refused(&seen, &format!("{kind:?} {name} {range:?}"));
            }
        }
        assert!(decrypt_failures(&gw).await > 0.0);
        // The untampered object still reads.
        gw.put(&b, "fine", &data).await;
        assert_eq!(gw.get(&b, "fine").await, data);
    }
}

/// Old code answered 200 with the short plaintext: HEAD and GET both planned on the cut
/// size, every remaining segment verified, and the final-flag check came after the whole
/// Content-Length had gone out. Now the last segment is refused before its plaintext is
/// released, the transfer is cut, the failure is counted.
#[tokio::test]
async fn truncation_at_a_segment_boundary_cuts_the_transfer_and_is_counted() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(4 * S, 3);
        gw.put(&b, "t", &data).await;
        tamper(&gw, &b, "t", |r| r.truncate(2 * FULL)).await;
        let before = decrypt_failures(&gw).await;
        let seen = get(&gw, &b, "t", None).await;
        // Refused before the first byte (a 403, when the whole cut object arrives at once
        // and fails before anything was released) or cut during the transfer.
        assert!(
            matches!(seen, Seen::Cut | Seen::Status(403)),
            "{kind:?}: {seen:?}"
        );
        assert_eq!(decrypt_failures(&gw).await, before + 1.0, "{kind:?}");
    }
}

/// The empty object is one empty final segment. Old code: Content-Length 0, so the body was
/// never polled and a flipped tag or 32 random bytes answered 200 with an empty body.
#[tokio::test]
async fn empty_object_forgery_is_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        gw.put(&b, "empty", b"").await;
        assert_eq!(gw.get(&b, "empty").await, b"");
        let (raw, meta) = gw.raw_get(&b, "empty").await;
        assert_eq!(raw.len(), 32);
        let mut flipped = raw.clone();
        flipped[31] ^= 0x80;
        let random: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        // Stored in place of the object (same key, same metadata): the wrapped DEK opens,
        // so only the segment's own authentication can refuse it.
        for (k, forged) in [("flipped", flipped), ("random", random)] {
            put_raw(&gw, &b, "empty", forged, meta.clone()).await;
            let before = decrypt_failures(&gw).await;
            let seen = get(&gw, &b, "empty", None).await;
            assert!(
                matches!(seen, Seen::Status(s) if s >= 400),
                "{kind:?} {k}: {seen:?}"
            );
            assert_eq!(decrypt_failures(&gw).await, before + 1.0, "{kind:?} {k}");
        }
        put_raw(&gw, &b, "empty", raw, meta).await;
        // The genuine empty object still reads.
        assert_eq!(gw.get(&b, "empty").await, b"");
    }
}

/// A multipart object whose last part lost its final segment at a segment boundary. Old
/// code: the part chain was intact up to a non-final segment, the check came in finish()
/// after Content-Length was complete → 200 with a short body.
#[tokio::test]
async fn multipart_truncation_inside_the_last_part_is_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let part = 5 << 20;
        let data = pattern(2 * part + S + 500, 11);
        multipart_put(&gw.client, &b, "mp", &data, part).await;
        assert_eq!(gw.get(&b, "mp").await, data);
        // Keep parts 1, 2 and the first (non-final) segment of part 3.
        let part_stored = part / S * FULL;
        tamper(&gw, &b, "mp", |r| r.truncate(2 * part_stored + FULL)).await;
        for range in [None, Some("bytes=0-"), Some("bytes=10485000-")] {
            let seen = get(&gw, &b, "mp", range).await;
            assert_refused(&seen, &format!("{kind:?} mp truncated {range:?}"));
        }
    }
}

/// Item 5: an object copied at the store into another bucket under the same key. Old code
/// (format v1): the wrapped DEK was bound to the key only, so the gateway decrypted it for
/// whoever may read the destination bucket → 200 with the source's plaintext. Format v2
/// binds the bucket into the wrap AAD: the DEK does not unwrap there.
#[tokio::test]
async fn object_moved_to_another_bucket_is_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let (src, dst) = (gw.bucket().await, gw.bucket().await);
        let data = pattern(3 * S + 5, 21);
        gw.put(&src, "secret", &data).await;
        gw.put(&src, "empty", b"").await;
        for k in ["secret", "empty"] {
            let (raw, meta) = gw.raw_get(&src, k).await;
            put_raw(&gw, &dst, k, raw, meta).await;
            for range in [None, Some("bytes=0-99")] {
                if k == "empty" && range.is_some() {
                    continue;
                }
                let seen = get(&gw, &dst, k, range).await;
                assert!(
                    matches!(seen, Seen::Status(s) if (400..500).contains(&s)),
                    "{kind:?} {k} {range:?}: {seen:?}"
                );
            }
        }
        // Relabelling the bucket flag to "unbound" does not help: the flag is in the AAD.
        let (raw, mut meta) = gw.raw_get(&src, "secret").await;
        meta.insert("s3seal-bb".into(), "0".into());
        put_raw(&gw, &dst, "relabelled", raw, meta).await;
        let seen = get(&gw, &dst, "relabelled", None).await;
        assert!(
            matches!(seen, Seen::Status(s) if (400..500).contains(&s)),
            "{kind:?}: {seen:?}"
        );
        // The source still reads.
        assert_eq!(gw.get(&src, "secret").await, data);
    }
}

/// `encryption.bind_bucket = false`, the explicit mirrored-bucket choice: a store-side copy
/// into another bucket stays readable (and the object says so in its metadata).
#[tokio::test]
async fn unbound_objects_stay_readable_in_a_mirrored_bucket() {
    let gw = TestGateway::start_with(Upstream::Fs, |c| c.encryption.bind_bucket = false).await;
    let (src, dst) = (gw.bucket().await, gw.bucket().await);
    let data = pattern(2 * S + 9, 5);
    gw.put(&src, "m", &data).await;
    let (raw, meta) = gw.raw_get(&src, "m").await;
    assert_eq!(meta.get("s3seal-bb").map(String::as_str), Some("0"));
    put_raw(&gw, &dst, "m", raw, meta).await;
    assert_eq!(gw.get(&dst, "m").await, data);
}

/// The object's tags straight from the store.
async fn raw_tags(gw: &TestGateway, b: &str, k: &str) -> Vec<aws_sdk_s3::types::Tag> {
    let out = gw
        .upstream
        .get_object_tagging()
        .bucket(b)
        .key(k)
        .send()
        .await;
    out.expect("direct GetObjectTagging").tag_set().to_vec()
}

async fn put_raw_tags(gw: &TestGateway, b: &str, k: &str, tags: Vec<aws_sdk_s3::types::Tag>) {
    let tagging = aws_sdk_s3::types::Tagging::builder()
        .set_tag_set(Some(tags))
        .build()
        .unwrap();
    gw.upstream
        .put_object_tagging()
        .bucket(b)
        .key(k)
        .tagging(tagging)
        .send()
        .await
        .expect("direct PutObjectTagging");
}

/// An attacker who rewrites the object and puts its tags (the committed layout) back.
async fn tamper_keeping_tags(
    gw: &TestGateway,
    b: &str,
    k: &str,
    edit: impl FnOnce(&mut Vec<u8>, &mut HashMap<String, String>),
) {
    let tags = raw_tags(gw, b, k).await;
    let (mut raw, mut meta) = gw.raw_get(b, k).await;
    edit(&mut raw, &mut meta);
    put_raw(gw, b, k, raw, meta).await;
    put_raw_tags(gw, b, k, tags).await;
}

const PART: usize = 5 << 20;
/// Stored bytes of one 5 MiB part.
const PART_STORED: usize = PART / S * FULL;

/// Three 5 MiB parts and a short fourth.
async fn four_part_object(gw: &TestGateway, b: &str, k: &str) -> Vec<u8> {
    let data = pattern(3 * PART + 3 * S + 17, 23);
    multipart_put(&gw.client, b, k, &data, PART).await;
    assert_eq!(gw.get(b, k).await, data);
    // What the store holds: ciphertext, the wrapped key, and the committed layout as tags.
    let (raw, meta) = gw.raw_get(b, k).await;
    assert_eq!(meta.get("s3seal-mp").map(String::as_str), Some("2"));
    assert!(meta.contains_key("s3seal-dek"));
    let probe = &data[PART..PART + 32];
    assert!(
        !raw.windows(32).any(|w| w == probe),
        "plaintext found in the store"
    );
    let tags = raw_tags(gw, b, k).await;
    assert!(tags.iter().any(|t| t.key() == "s3seal-layout"), "{tags:?}");
    data
}

/// Issue 18 item 2: whole parts dropped at the store — the last one (old code: a clean 200
/// when the ETag's part count was rewritten too, as on the embedded store), a middle one,
/// or with the metadata downgraded to the older, uncommitted multipart format — are refused
/// by full and ranged reads and by HEAD, before any byte of the missing data is claimed.
#[tokio::test]
async fn dropped_parts_are_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let before = decrypt_failures(&gw).await;
        type Edit = Box<dyn FnOnce(&mut Vec<u8>, &mut HashMap<String, String>)>;
        let edits: Vec<(&str, Edit)> = vec![
            (
                "last part dropped",
                Box::new(|r, _| r.truncate(3 * PART_STORED)),
            ),
            (
                "middle part dropped",
                Box::new(|r, _| {
                    r.drain(PART_STORED..2 * PART_STORED);
                }),
            ),
            (
                "last part dropped, metadata downgraded to mp=1",
                Box::new(|r, m| {
                    r.truncate(3 * PART_STORED);
                    m.insert("s3seal-mp".into(), "1".into());
                }),
            ),
        ];
        for (what, edit) in edits {
            let k = format!("mp-{}", what.len());
            four_part_object(&gw, &b, &k).await;
            tamper_keeping_tags(&gw, &b, &k, edit).await;
            for range in [None, Some("bytes=0-99"), Some("bytes=10485760-10485859")] {
                let seen = get(&gw, &b, &k, range).await;
                assert_refused(&seen, &format!("{kind:?} {what} {range:?}"));
            }
            let head = gw.client.head_object().bucket(&b).key(&k).send().await;
            let downgraded = what.contains("downgraded");
            // HEAD of a downgraded object cannot open anything; it reports the stored size.
            assert!(
                head.is_err() || downgraded,
                "{kind:?} {what}: HEAD succeeded"
            );
        }
        assert!(decrypt_failures(&gw).await > before);
    }
}

/// Issue 18 items 2-3: parts moved around inside the object. Swapped parts 2 and 3 are
/// refused at the first segment out of place; part 3's bytes replaced by part 2's (a valid
/// chain of the same object, old code served it to ranged reads as a 206 of wrong bytes)
/// are refused by every read that reaches them.
#[tokio::test]
async fn moved_parts_and_spliced_ranges_are_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        four_part_object(&gw, &b, "swap").await;
        tamper_keeping_tags(&gw, &b, "swap", |r, _| {
            let p2: Vec<u8> = r[PART_STORED..2 * PART_STORED].to_vec();
            let p3: Vec<u8> = r[2 * PART_STORED..3 * PART_STORED].to_vec();
            r[PART_STORED..2 * PART_STORED].copy_from_slice(&p3);
            r[2 * PART_STORED..3 * PART_STORED].copy_from_slice(&p2);
        })
        .await;
        let seen = get(&gw, &b, "swap", None).await;
        assert_refused(&seen, &format!("{kind:?} swapped parts"));

        let data = four_part_object(&gw, &b, "splice").await;
        tamper_keeping_tags(&gw, &b, "splice", |r, _| {
            let p2: Vec<u8> = r[PART_STORED..2 * PART_STORED].to_vec();
            r[2 * PART_STORED..3 * PART_STORED].copy_from_slice(&p2);
        })
        .await;
        // Part 1 is intact and still served; anything in part 3 is refused.
        let at = 2 * PART as u64;
        for range in [
            format!("bytes={at}-{}", at + 99),
            format!("bytes={}-{}", at + 70_000, at + 8_000_000),
        ] {
            let seen = get(&gw, &b, "splice", Some(&range)).await;
            assert_refused(&seen, &format!("{kind:?} spliced {range}"));
        }
        // Intact parts 1 and 4 are still served.
        match get(&gw, &b, "splice", Some("bytes=0-99")).await {
            Seen::Complete(d) => assert_eq!(d, data[..100]),
            other => panic!("{kind:?} intact part 1: {other:?}"),
        }
        match get(&gw, &b, "splice", Some("bytes=-100")).await {
            Seen::Complete(d) => assert_eq!(d, data[data.len() - 100..]),
            other => panic!("{kind:?} intact part 4: {other:?}"),
        }
    }
}

/// A committed object whose layout tags are gone, or were replaced by another object's
/// (valid, but under another DEK), is refused rather than read the older way.
#[tokio::test]
async fn missing_or_foreign_layout_is_refused() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        four_part_object(&gw, &b, "a").await;
        four_part_object(&gw, &b, "b").await;
        let foreign = raw_tags(&gw, &b, "b").await;
        put_raw_tags(&gw, &b, "a", foreign).await;
        // A fresh process: nothing verified is cached.
        let gw = gw.restart().await;
        assert_refused(&get(&gw, &b, "a", None).await, &format!("{kind:?} foreign"));
        gw.upstream
            .delete_object_tagging()
            .bucket(&b)
            .key("b")
            .send()
            .await
            .unwrap();
        let gw = gw.restart().await;
        assert_refused(&get(&gw, &b, "b", None).await, &format!("{kind:?} missing"));
        assert!(
            gw.client
                .head_object()
                .bucket(&b)
                .key("b")
                .send()
                .await
                .is_err()
        );
    }
}

/// A range whose covering segments fail authentication before any plaintext is released is
/// answered 403 with an S3 error, not a connection closed before its status line (which
/// SDKs retry as a network error) or a 206 cut at byte 0.
#[tokio::test]
async fn a_range_whose_first_segment_fails_is_a_clear_403() {
    for kind in ALL {
        let gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let data = pattern(200_000, 9);
        gw.put(&b, "k", &data).await;
        tamper(&gw, &b, "k", |r| {
            let n = r.len();
            r[n - 1] ^= 1;
        })
        .await;
        for range in ["bytes=-100", "bytes=199900-199999", "bytes=196608-"] {
            for _ in 0..3 {
                let seen = get(&gw, &b, "k", Some(range)).await;
                assert!(
                    matches!(seen, Seen::Status(403)),
                    "{kind:?} {range}: {seen:?}"
                );
            }
        }
        // A range before the damage still reads.
        let seen = get(&gw, &b, "k", Some("bytes=0-99")).await;
        assert!(
            matches!(&seen, Seen::Complete(d) if d[..] == data[..100]),
            "{kind:?}"
        );
    }
}
