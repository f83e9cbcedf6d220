//! `s3s::S3` for [`Store`]: request validation and DTO mapping over the index and body files.

use super::index::{Bucket as BucketState, ObjMeta, PartMeta, Rec, State, Upload, Versioning};
use super::{Store, new_id, now_ms};
use futures::StreamExt;
use s3s::crypto::Checksum as _;
use s3s::dto::*;
use s3s::{S3, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, UNIX_EPOCH};

/// S3's minimum size of every part but the last.
const MIN_PART: u64 = 5 * 1024 * 1024;
const MAX_KEY: usize = 1024;

/// To the second, as S3 shows every time (listings `.000Z`, HTTP dates): a listing's time
/// then equals the download's (`aws s3 sync --exact-timestamps`).
fn ts(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_secs(ms.max(0) as u64 / 1000))
}

/// To the millisecond, for ListObjectVersions only: s3s writes versions and delete markers
/// as two lists rather than interleaved in history order as S3 does, so clients merge them
/// by time, which needs more than seconds.
fn ts_ms(ms: i64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}

fn etag(m: &str) -> ETag {
    ETag::Strong(m.to_owned())
}

fn check_key(key: &str) -> S3Result<()> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(s3_error!(
            KeyTooLongError,
            "object keys are 1 to 1024 bytes of UTF-8"
        ));
    }
    Ok(())
}

fn fmt_http_date(t: &Timestamp) -> Option<String> {
    let mut v = Vec::new();
    t.format(TimestampFormat::HttpDate, &mut v).ok()?;
    String::from_utf8(v).ok()
}

fn parse_http_date(s: &str) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, s).ok()
}

/// Content headers kept with an object, by lower-case header name.
#[allow(clippy::too_many_arguments)]
fn headers(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    redirect: Option<String>,
) -> BTreeMap<String, String> {
    let mut h = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            h.insert(k.to_owned(), v);
        }
    };
    put("content-type", content_type);
    put("content-encoding", content_encoding);
    put("content-disposition", content_disposition);
    put("content-language", content_language);
    put("cache-control", cache_control);
    put("expires", expires.as_ref().and_then(fmt_http_date));
    put("website-redirect-location", redirect);
    h
}

fn parse_tagging(s: &str) -> S3Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for pair in s.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let dec = |x: &str| {
            percent_decode(&x.replace('+', " "))
                .ok_or_else(|| s3_error!(InvalidArgument, "x-amz-tagging is not URL-encoded"))
        };
        out.push((dec(k)?, dec(v)?));
    }
    Ok(out)
}

/// `%XX` sequences decoded; None if malformed or not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// S3's `encoding-type=url`: everything but unreserved characters and `/` is %-encoded.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(c as char);
        } else {
            out.push_str(&format!("%{c:02X}"));
        }
    }
    out
}

/// Evaluates GET/HEAD preconditions in S3's precedence.
fn preconditions(
    m: &ObjMeta,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let cur = etag(&m.etag);
    let modified = m.modified_ms / 1000;
    if let Some(c) = if_match {
        let ok = match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => cur.strong_cmp(e),
        };
        if !ok {
            return Err(s3_error!(
                PreconditionFailed,
                "If-Match does not match the ETag"
            ));
        }
    } else if let Some(t) = if_unmodified_since
        && modified > secs(t)
    {
        return Err(s3_error!(
            PreconditionFailed,
            "modified since If-Unmodified-Since"
        ));
    }
    if let Some(c) = if_none_match {
        let hit = match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => cur.weak_cmp(e),
        };
        if hit {
            return Err(not_modified(m));
        }
    } else if let Some(t) = if_modified_since
        && modified <= secs(t)
    {
        return Err(not_modified(m));
    }
    Ok(())
}

/// S3's write preconditions against the key's current object: If-None-Match (`*`, or the
/// object's ETag) refuses to replace it; If-Match needs it to exist (NoSuchKey otherwise)
/// with that ETag. Judged inside `commit`, so no other write slips in between.
fn write_precondition(
    cur: Option<&ObjMeta>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    if let Some(c) = if_none_match
        && cur.is_some_and(|m| match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => etag(&m.etag).weak_cmp(e),
        })
    {
        return Err(s3_error!(PreconditionFailed, "the object already exists"));
    }
    if let Some(c) = if_match {
        let Some(m) = cur else {
            return Err(s3_error!(
                NoSuchKey,
                "If-Match names an object that does not exist"
            ));
        };
        if let ETagCondition::ETag(e) = c
            && !etag(&m.etag).strong_cmp(e)
        {
            return Err(s3_error!(PreconditionFailed, "If-Match does not match"));
        }
    }
    Ok(())
}

/// A write condition a request carries only as a header (CopyObject's destination).
fn header_condition(
    h: &http::HeaderMap,
    name: http::HeaderName,
) -> S3Result<Option<ETagCondition>> {
    h.get(&name)
        .map(|v| {
            ETagCondition::parse_http_header(v.as_bytes())
                .map_err(|_| s3_error!(InvalidArgument, "{name} is not a valid ETag condition"))
        })
        .transpose()
}

/// 304 Not Modified carries the object's ETag and Last-Modified, as S3's does.
fn not_modified(m: &ObjMeta) -> s3s::S3Error {
    let mut e = s3_error!(NotModified);
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", m.etag)) {
        h.insert(http::header::ETAG, v);
    }
    if let Some(v) =
        fmt_http_date(&ts(m.modified_ms)).and_then(|d| http::HeaderValue::from_str(&d).ok())
    {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(h);
    e
}

/// A body received into a new, fsynced body file (not yet referenced by the index).
struct Received {
    blob: String,
    size: u64,
    /// Hex MD5 of the body when it was computed (see [`Store::receive`]), else a random id.
    etag: String,
    checksum: Checksum,
}

/// Body bytes handed to the blocking pool per write: one thread hop per 256 KiB instead of
/// one per incoming chunk (a gateway's sealed segments are 64 KiB).
const WRITE_BATCH: usize = 256 << 10;

/// Writes `batch` to `f` on the blocking pool and gives the file back.
async fn write_batch(
    mut f: std::fs::File,
    batch: Vec<bytes::Bytes>,
) -> std::io::Result<std::fs::File> {
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        for b in &batch {
            f.write_all(b)?;
        }
        Ok(f)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// S3's BadDigest when the request's Content-MD5 (base64) is not the body's (hex).
fn check_content_md5(sent: &str, md5_hex: &str) -> S3Result<()> {
    use base64::Engine;
    match base64::engine::general_purpose::STANDARD.decode(sent) {
        Ok(want) if hex::encode(&want) == md5_hex => Ok(()),
        _ => Err(s3_error!(BadDigest, "Content-MD5 does not match the body")),
    }
}

fn checksum_map(c: &Checksum) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in [
        ("crc32", &c.checksum_crc32),
        ("crc32c", &c.checksum_crc32c),
        ("sha1", &c.checksum_sha1),
        ("sha256", &c.checksum_sha256),
        ("crc64nvme", &c.checksum_crc64nvme),
    ] {
        if let Some(v) = v {
            m.insert(k.to_owned(), v.clone());
        }
    }
    m
}

impl Store {
    fn no_bucket(&self, bucket: &str) -> S3Result<()> {
        if self.read(|s| s.buckets.contains_key(bucket)) {
            Ok(())
        } else {
            Err(s3_error!(NoSuchBucket, "bucket {bucket} does not exist"))
        }
    }

    /// The version a request names (see [`lookup`]) and its `x-amz-version-id`.
    fn meta(
        &self,
        bucket: &str,
        key: &str,
        vid: Option<&str>,
    ) -> S3Result<(ObjMeta, Option<String>)> {
        self.read(|s| lookup(s, bucket, key, vid).map(|(m, v)| (m.clone(), v)))
    }

    /// Streams `body` to a temp file while hashing, fsyncs it and moves it into `blobs/`.
    /// The MD5 is computed when this handle's ETags are MD5s or `content_md5` must be
    /// checked; a mismatch is BadDigest before anything is kept. One batch is written while
    /// the next is received.
    async fn receive(
        &self,
        body: Option<StreamingBlob>,
        mut hasher: s3s::checksum::ChecksumHasher,
        expected: Option<u64>,
        content_md5: Option<&str>,
    ) -> S3Result<Received> {
        self.room_for_bodies()?;
        let id = new_id();
        let tmp = self.tmp_path(&id);
        // A client that disconnects drops this future mid-way: the guard still removes the
        // temp file (it used to stay in tmp/ until a restart, so cancelled uploads filled
        // the disk).
        let mut guard = TmpFile(Some(tmp.clone()));
        let internal = |e: std::io::Error| super::io_failed(e, "writing a body");
        let res: S3Result<Received> = async {
            let mut writing = {
                let tmp = tmp.clone();
                Some(tokio::task::spawn_blocking(move || {
                    std::fs::File::create(tmp)
                }))
            };
            let mut md5 = (self.md5_etags || content_md5.is_some()).then(s3s::crypto::Md5::new);
            let mut size = 0u64;
            let mut batch = Vec::new();
            let mut batched = 0;
            // Every exit waits for the write in flight, so nothing writes to the temp file
            // after it is removed.
            let read: S3Result<()> = async {
                let Some(mut body) = body else {
                    return Ok(());
                };
                while let Some(chunk) = body.next().await {
                    let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
                    if let Some(m) = md5.as_mut() {
                        m.update(&chunk);
                    }
                    hasher.update(&chunk);
                    size += chunk.len() as u64;
                    batched += chunk.len();
                    batch.push(chunk);
                    if batched >= WRITE_BATCH {
                        let f = writing.take().expect("one write in flight").await;
                        let f = f.map_err(|e| internal(e.into()))?.map_err(internal)?;
                        let full = std::mem::take(&mut batch);
                        writing = Some(tokio::spawn(write_batch(f, full)));
                        batched = 0;
                    }
                }
                Ok(())
            }
            .await;
            let last = match writing.take() {
                Some(w) => Some(w.await),
                None => None,
            };
            read?;
            let f = last.expect("one write in flight after a whole body");
            let f = f.map_err(|e| internal(e.into()))?.map_err(internal)?;
            if let Some(n) = expected
                && n != size
            {
                return Err(s3_error!(
                    IncompleteBody,
                    "body is {size} bytes, expected {n}"
                ));
            }
            let md5 = md5.map(|m| hex::encode(m.finalize()));
            if let (Some(sent), Some(got)) = (content_md5, &md5) {
                check_content_md5(sent, got)?;
            }
            let f = write_batch(f, batch).await.map_err(internal)?;
            tokio::task::spawn_blocking(move || f.sync_all())
                .await
                .map_err(|e| internal(e.into()))?
                .map_err(internal)?;
            let dst = self.blob_path(&id);
            tokio::fs::rename(&tmp, &dst).await.map_err(internal)?;
            let dir = dst.parent().expect("blob dir").to_path_buf();
            tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
                .await
                .map_err(|e| internal(e.into()))?
                .map_err(internal)?;
            Ok(Received {
                blob: id.clone(),
                size,
                etag: md5.unwrap_or_else(new_id),
                checksum: hasher.finalize(),
            })
        }
        .await;
        if res.is_ok() {
            guard.0 = None; // renamed into blobs/
        }
        drop(guard);
        res
    }

    /// Copies a byte range of a stored body into a new body file.
    async fn copy_range(&self, src_blob: &str, start: u64, len: u64) -> S3Result<Received> {
        let f = std::fs::File::open(self.blob_path(src_blob))
            .map_err(|e| super::io_failed(e, "store I/O"))?;
        let body = super::blob_read::stream(f, start, len)
            .map_err(|e| super::io_failed(e, "stored body unreadable"))?;
        let body = StreamingBlob::wrap(body);
        self.receive(Some(body), Default::default(), Some(len), None)
            .await
    }

    #[allow(clippy::type_complexity)]
    fn open_blob(
        &self,
        bucket: &str,
        key: &str,
        vid: Option<&str>,
    ) -> S3Result<(ObjMeta, std::fs::File, Option<String>)> {
        // Opened under the read lock: a concurrent overwrite deletes the old body only after
        // its commit, and an open descriptor keeps reading the old bytes.
        self.read(|s| {
            let (m, v) = lookup(s, bucket, key, vid)?;
            let f = std::fs::File::open(self.blob_path(&m.blob))
                .map_err(|e| super::io_failed(e, "store I/O"))?;
            Ok((m.clone(), f, v))
        })
    }
}

/// Removes a body's temp file when dropped armed: on every failed or abandoned receive.
struct TmpFile(Option<std::path::PathBuf>);

impl Drop for TmpFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// `x-amz-version-id` of version `m` of a key in `b`: its id, `null` for the null version of
/// a bucket that has (had) versioning, none in a bucket that never had it.
fn version_header(b: &BucketState, m: &ObjMeta) -> Option<String> {
    (m.version.is_some() || b.versioning.is_some()).then(|| m.version_id().to_owned())
}

/// Headers S3 sends with the errors about delete markers.
fn delete_marker_error(mut e: s3s::S3Error, m: &ObjMeta) -> s3s::S3Error {
    let mut h = http::HeaderMap::new();
    h.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(v) = http::HeaderValue::from_str(m.version_id()) {
        h.insert("x-amz-version-id", v);
    }
    if let Some(v) =
        fmt_http_date(&ts(m.modified_ms)).and_then(|d| http::HeaderValue::from_str(&d).ok())
    {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(h);
    e
}

/// The version of `bucket/key` a request names: the current one (`vid` None; 404 NoSuchKey
/// if there is none or it is a delete marker) or version `vid` (404 NoSuchVersion; 405
/// MethodNotAllowed for a delete marker). Also returns its `x-amz-version-id`.
fn lookup<'a>(
    s: &'a State,
    bucket: &str,
    key: &str,
    vid: Option<&str>,
) -> S3Result<(&'a ObjMeta, Option<String>)> {
    let b = s
        .buckets
        .get(bucket)
        .ok_or_else(|| s3_error!(NoSuchBucket, "bucket {bucket} does not exist"))?;
    let m = match vid {
        None => {
            let m = b
                .objects
                .get(key)
                .and_then(|v| v.first())
                .ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))?;
            if m.delete_marker {
                return Err(delete_marker_error(
                    s3_error!(NoSuchKey, "The specified key does not exist."),
                    m,
                ));
            }
            m
        }
        Some(v) => {
            check_version_id(v)?;
            let m = b
                .version(key, v)
                .ok_or_else(|| s3_error!(NoSuchVersion, "The specified version does not exist."))?;
            if m.delete_marker {
                return Err(delete_marker_error(
                    s3_error!(
                        MethodNotAllowed,
                        "The specified method is not allowed against this resource."
                    ),
                    m,
                ));
            }
            m
        }
    };
    Ok((m, version_header(b, m)))
}

/// S3 answers a version id it could never have issued with 400 InvalidArgument, and one it
/// could have but does not hold with 404 NoSuchVersion. This store issues `null` and
/// 32 hex digits.
fn check_version_id(v: &str) -> S3Result<()> {
    if v == "null" || (v.len() == 32 && v.bytes().all(|c| c.is_ascii_hexdigit())) {
        Ok(())
    } else {
        Err(s3_error!(InvalidArgument, "Invalid version id specified"))
    }
}

/// The version id a new version of a key in `b` gets (None: the null version) and the
/// `x-amz-version-id` its write answers.
fn new_version(b: &BucketState) -> (Option<String>, Option<String>) {
    match b.versioning {
        None => (None, None),
        Some(Versioning::Suspended) => (None, Some("null".to_owned())),
        Some(Versioning::Enabled) => {
            let id = new_id();
            (Some(id.clone()), Some(id))
        }
    }
}

/// The records deleting `key` as DeleteObject does: without `vid`, a delete marker (versioning
/// enabled; suspended: a null one replacing the null version) or removal of the null version
/// (never versioned); with `vid`, removal of that version. Returns the answer's
/// (version id, delete marker).
fn delete_recs(
    b: &BucketState,
    bucket: &str,
    key: &str,
    vid: Option<&str>,
) -> (Vec<Rec>, Option<String>, bool) {
    match vid {
        Some(v) => {
            let Some(m) = b.version(key, v) else {
                return (Vec::new(), Some(v.to_owned()), false);
            };
            (
                vec![Rec::Delete {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    version: m.version.clone(),
                }],
                Some(v.to_owned()),
                m.delete_marker,
            )
        }
        None if b.versioning.is_none() => {
            if b.objects.contains_key(key) {
                let rec = Rec::Delete {
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    version: None,
                };
                (vec![rec], None, false)
            } else {
                (Vec::new(), None, false)
            }
        }
        None => {
            let (version, header) = new_version(b);
            let meta = ObjMeta {
                modified_ms: now_ms(),
                version,
                delete_marker: true,
                ..Default::default()
            };
            let rec = Rec::Put {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                meta,
            };
            (vec![rec], header, true)
        }
    }
}

fn hasher_for(
    c: &Checksum,
    alg: Option<&ChecksumAlgorithm>,
) -> S3Result<s3s::checksum::ChecksumHasher> {
    let mut h = s3s::checksum::ChecksumHasher::default();
    if c.checksum_crc32.is_some() {
        h.crc32 = Some(Default::default());
    }
    if c.checksum_crc32c.is_some() {
        h.crc32c = Some(Default::default());
    }
    if c.checksum_sha1.is_some() {
        h.sha1 = Some(Default::default());
    }
    if c.checksum_sha256.is_some() {
        h.sha256 = Some(Default::default());
    }
    if c.checksum_crc64nvme.is_some() {
        h.crc64nvme = Some(Default::default());
    }
    if let Some(alg) = alg {
        match alg.as_str() {
            ChecksumAlgorithm::CRC32 => h.crc32 = Some(Default::default()),
            ChecksumAlgorithm::CRC32C => h.crc32c = Some(Default::default()),
            ChecksumAlgorithm::SHA1 => h.sha1 = Some(Default::default()),
            ChecksumAlgorithm::SHA256 => h.sha256 = Some(Default::default()),
            ChecksumAlgorithm::CRC64NVME => h.crc64nvme = Some(Default::default()),
            other => {
                return Err(s3_error!(
                    InvalidArgument,
                    "unsupported checksum algorithm {other}"
                ));
            }
        }
    }
    Ok(h)
}

/// Fills checksums sent as trailers, then checks every one the client sent.
fn verify_checksums(
    sent: &mut Checksum,
    trailers: Option<s3s::TrailingHeaders>,
    got: &Checksum,
) -> S3Result<()> {
    if let Some(t) = trailers
        && let Some(t) = t.take()
    {
        let get = |n: &str| t.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
        sent.checksum_crc32 = sent.checksum_crc32.take().or(get("x-amz-checksum-crc32"));
        sent.checksum_crc32c = sent.checksum_crc32c.take().or(get("x-amz-checksum-crc32c"));
        sent.checksum_sha1 = sent.checksum_sha1.take().or(get("x-amz-checksum-sha1"));
        sent.checksum_sha256 = sent.checksum_sha256.take().or(get("x-amz-checksum-sha256"));
        sent.checksum_crc64nvme = sent
            .checksum_crc64nvme
            .take()
            .or(get("x-amz-checksum-crc64nvme"));
    }
    for (name, s, g) in [
        ("CRC32", &sent.checksum_crc32, &got.checksum_crc32),
        ("CRC32C", &sent.checksum_crc32c, &got.checksum_crc32c),
        ("SHA1", &sent.checksum_sha1, &got.checksum_sha1),
        ("SHA256", &sent.checksum_sha256, &got.checksum_sha256),
        (
            "CRC64NVME",
            &sent.checksum_crc64nvme,
            &got.checksum_crc64nvme,
        ),
    ] {
        if let Some(s) = s
            && g.as_ref() != Some(s)
        {
            return Err(s3_error!(
                BadDigest,
                "the {name} checksum you sent does not match the body"
            ));
        }
    }
    Ok(())
}

/// One page of a listing: objects and common prefixes merged in key order.
struct Page<T> {
    /// Listed objects, already in the form the answer needs: cloning whole `ObjMeta`s
    /// (metadata maps, part sizes) was a third of a LIST's CPU.
    objects: Vec<T>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or common prefix returned (the next marker).
    last: Option<String>,
}

fn list_page<T>(
    objects: &BTreeMap<String, Vec<ObjMeta>>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
    listed: impl Fn(&str, &ObjMeta) -> T,
) -> Page<T> {
    let mut page = Page {
        objects: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        last: None,
    };
    let lower = match after {
        Some(a) if a >= prefix => Bound::Excluded(a.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    };
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut count = 0usize;
    for (k, vs) in objects.range::<String, _>((lower, Bound::Unbounded)) {
        if !k.starts_with(prefix) {
            break;
        }
        // Only current versions that are not delete markers are listed.
        let Some(m) = vs.first().filter(|m| !m.delete_marker) else {
            continue;
        };
        let cp = delimiter.and_then(|d| {
            k[prefix.len()..]
                .find(d)
                .map(|i| k[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(cp) = cp {
            // A continuation from a common prefix starts inside it: skip its keys.
            if page.last.as_deref() == Some(cp.as_str()) || after == Some(cp.as_str()) {
                continue;
            }
            if count == max {
                page.truncated = max > 0;
                break;
            }
            page.last = Some(cp.clone());
            page.prefixes.push(cp);
        } else {
            if count == max {
                page.truncated = max > 0;
                break;
            }
            page.last = Some(k.clone());
            page.objects.push(listed(k, m));
        }
        count += 1;
    }
    page
}

/// One page of ListObjectVersions: versions (newest first within a key) and common
/// prefixes, in key order.
struct VersionPage {
    /// (key, version, is latest)
    entries: Vec<(String, ObjMeta, bool)>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key (or common prefix) and version id returned.
    next: Option<(String, Option<String>)>,
}

fn list_versions_page(
    objects: &BTreeMap<String, Vec<ObjMeta>>,
    prefix: &str,
    delimiter: Option<&str>,
    key_marker: Option<&str>,
    vid_marker: Option<&str>,
    max: usize,
) -> VersionPage {
    let mut page = VersionPage {
        entries: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        next: None,
    };
    // With a version-id marker the listing resumes inside the marker key, after that version.
    let lower = match key_marker {
        Some(k) if k >= prefix && vid_marker.is_some() => Bound::Included(k.to_owned()),
        Some(k) if k >= prefix => Bound::Excluded(k.to_owned()),
        _ => Bound::Included(prefix.to_owned()),
    };
    let delimiter = delimiter.filter(|d| !d.is_empty());
    let mut count = 0usize;
    let mut last_cp: Option<String> = None;
    'keys: for (k, vs) in objects.range::<String, _>((lower, Bound::Unbounded)) {
        if !k.starts_with(prefix) {
            break;
        }
        let cp = delimiter.and_then(|d| {
            k[prefix.len()..]
                .find(d)
                .map(|i| k[..prefix.len() + i + d.len()].to_owned())
        });
        if let Some(cp) = cp {
            if last_cp.as_deref() == Some(cp.as_str()) || key_marker == Some(cp.as_str()) {
                continue;
            }
            if count == max {
                page.truncated = max > 0;
                break;
            }
            last_cp = Some(cp.clone());
            page.next = Some((cp.clone(), None));
            page.prefixes.push(cp);
            count += 1;
            continue;
        }
        let skip = match (key_marker, vid_marker) {
            (Some(km), Some(vm)) if km == k => vs
                .iter()
                .position(|m| m.version_id() == vm)
                .map_or(0, |p| p + 1),
            _ => 0,
        };
        for (idx, m) in vs.iter().enumerate().skip(skip) {
            if count == max {
                page.truncated = max > 0;
                break 'keys;
            }
            page.next = Some((k.clone(), Some(m.version_id().to_owned())));
            page.entries.push((k.clone(), m.clone(), idx == 0));
            count += 1;
        }
    }
    page
}

fn max_keys(v: Option<i32>) -> S3Result<usize> {
    match v {
        None => Ok(1000),
        Some(n) if n < 0 => Err(s3_error!(InvalidArgument, "max-keys must be 0 or more")),
        Some(n) => Ok((n as usize).min(1000)),
    }
}

fn object_dto(k: &str, m: &ObjMeta, enc: bool) -> Object {
    Object {
        key: Some(if enc { url_encode(k) } else { k.to_owned() }),
        size: Some(m.size as i64),
        e_tag: Some(etag(&m.etag)),
        last_modified: Some(ts(m.modified_ms)),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        ..Default::default()
    }
}

/// The one owner of everything in the store (S3 lists an owner in ListObjects v1, with
/// fetch-owner in v2, in ListBuckets and ListMultipartUploads).
fn owner() -> Owner {
    Owner {
        display_name: Some("s3seal".to_owned()),
        id: Some("s3seal".to_owned()),
    }
}

/// The one ACL this store has, as S3 answers with ACLs disabled (Object Ownership "bucket
/// owner enforced", the default since 2023): the owner has full control.
fn owner_full_control() -> Vec<Grant> {
    let o = owner();
    vec![Grant {
        grantee: Some(Grantee {
            display_name: o.display_name,
            email_address: None,
            id: o.id,
            type_: Type::from_static(Type::CANONICAL_USER),
            uri: None,
        }),
        permission: Some(Permission::from_static(Permission::FULL_CONTROL)),
    }]
}

/// With ACLs disabled S3 accepts only ACLs that grant nothing beyond the owner.
fn only_owner_acl(canned: Option<&str>, explicit: bool) -> S3Result<()> {
    match canned {
        None if !explicit => Ok(()),
        Some("private" | "bucket-owner-full-control") => Ok(()),
        _ => Err(s3_error!(
            AccessControlListNotSupported,
            "The bucket does not allow ACLs"
        )),
    }
}

/// S3's Content-Type for an object stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

fn upload_dto_checks(parts: &[CompletedPart]) -> S3Result<()> {
    let mut prev = 0;
    for p in parts {
        let n = p.part_number.unwrap_or(0);
        if n <= prev {
            return Err(s3_error!(
                InvalidPartOrder,
                "parts must be listed in ascending part-number order"
            ));
        }
        prev = n;
    }
    Ok(())
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let bucket = req.input.bucket;
        self.commit(move |s| {
            if s.buckets.contains_key(&bucket) {
                return Err(s3_error!(
                    BucketAlreadyOwnedByYou,
                    "you already own bucket {bucket}"
                ));
            }
            Ok((
                vec![Rec::CreateBucket {
                    bucket,
                    created_ms: now_ms(),
                }],
                (),
            ))
        })
        .await?;
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let bucket = req.input.bucket;
        self.commit(move |s| {
            let b = s
                .buckets
                .get(&bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            if !b.is_empty() || s.uploads.values().any(|u| u.bucket == bucket) {
                return Err(s3_error!(
                    BucketNotEmpty,
                    "the bucket has objects or uploads; delete them first"
                ));
            }
            Ok((vec![Rec::DeleteBucket { bucket }], ()))
        })
        .await?;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.no_bucket(&req.input.bucket)?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some("us-east-1".to_owned()),
            ..Default::default()
        }))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.no_bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.read(|s| {
            s.buckets
                .iter()
                .map(|(n, b)| s3s::dto::Bucket {
                    name: Some(n.clone()),
                    creation_date: Some(ts(b.created_ms)),
                    ..Default::default()
                })
                .collect::<Vec<_>>()
        });
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let input = req.input;
        check_key(&input.key)?;
        self.no_bucket(&input.bucket)?;
        let mut sent = Checksum {
            checksum_crc32: input.checksum_crc32.clone(),
            checksum_crc32c: input.checksum_crc32c.clone(),
            checksum_sha1: input.checksum_sha1.clone(),
            checksum_sha256: input.checksum_sha256.clone(),
            checksum_crc64nvme: input.checksum_crc64nvme.clone(),
            ..Default::default()
        };
        let hasher = hasher_for(&sent, input.checksum_algorithm.as_ref())?;
        let tags = match &input.tagging {
            Some(t) => parse_tagging(t)?,
            None => Vec::new(),
        };
        // Length is enforced by the HTTP layer (a short body is a stream error).
        let got = self
            .receive(input.body, hasher, None, input.content_md5.as_deref())
            .await?;
        let cleanup = |s: &Store, id: &str| {
            let _ = std::fs::remove_file(s.blob_path(id));
        };
        if let Err(e) = verify_checksums(&mut sent, req.trailing_headers, &got.checksum) {
            cleanup(self, &got.blob);
            return Err(e);
        }
        let meta = ObjMeta {
            blob: got.blob.clone(),
            size: got.size,
            etag: got.etag.clone(),
            modified_ms: now_ms(),
            headers: headers(
                input.content_type,
                crate::s3_ops::stored_content_encoding(input.content_encoding),
                input.content_disposition,
                input.content_language,
                input.cache_control,
                input.expires,
                input.website_redirect_location,
            ),
            user: input.metadata.unwrap_or_default().into_iter().collect(),
            checksums: checksum_map(&sent),
            tags,
            parts: Vec::new(),
            ..Default::default()
        };
        let (bucket, key) = (input.bucket, input.key);
        let (if_match, if_none_match) = (input.if_match, input.if_none_match);
        let blob = got.blob.clone();
        let res = self
            .commit(move |s| {
                let b = s
                    .buckets
                    .get(&bucket)
                    .ok_or_else(|| s3_error!(NoSuchBucket))?;
                write_precondition(b.current(&key), if_match.as_ref(), if_none_match.as_ref())?;
                let (version, header) = new_version(b);
                let meta = ObjMeta { version, ..meta };
                Ok((vec![Rec::Put { bucket, key, meta }], header))
            })
            .await;
        let version_id = match res {
            Ok(v) => v,
            Err(e) => {
                cleanup(self, &blob);
                return Err(e);
            }
        };
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag(&got.etag)),
            version_id,
            checksum_crc32: sent.checksum_crc32,
            checksum_crc32c: sent.checksum_crc32c,
            checksum_sha1: sent.checksum_sha1,
            checksum_sha256: sent.checksum_sha256,
            checksum_crc64nvme: sent.checksum_crc64nvme,
            ..Default::default()
        }))
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let (m, f, version_id) = self.open_blob(&i.bucket, &i.key, i.version_id.as_deref())?;
        preconditions(
            &m,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let (range, parts_count) = part_or_range(&m, i.part_number, i.range.as_ref())?;
        let (start, end) = range.unwrap_or((0, m.size));
        let body = super::blob_read::stream(f, start, end - start)
            .map_err(|e| super::io_failed(e, "stored body unreadable"))?;
        let body = StreamingBlob::wrap(body);
        let whole = range.is_none();
        let h = |n: &str| m.headers.get(n).cloned();
        let cs = |n: &str| {
            if whole {
                m.checksums.get(n).cloned()
            } else {
                None
            }
        };
        let out = GetObjectOutput {
            body: Some(body),
            content_length: Some((end - start) as i64),
            content_range: range.map(|(s, e)| format!("bytes {s}-{}/{}", e - 1, m.size)),
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(ts(m.modified_ms)),
            e_tag: Some(etag(&m.etag)),
            metadata: Some(m.user.clone().into_iter().collect()),
            content_type: i
                .response_content_type
                .or(h("content-type"))
                .or(Some(DEFAULT_CONTENT_TYPE.to_owned())),
            content_encoding: i.response_content_encoding.or(h("content-encoding")),
            content_disposition: i.response_content_disposition.or(h("content-disposition")),
            content_language: i.response_content_language.or(h("content-language")),
            cache_control: i.response_cache_control.or(h("cache-control")),
            expires: i
                .response_expires
                .or(h("expires").and_then(|s| parse_http_date(&s))),
            website_redirect_location: h("website-redirect-location"),
            checksum_crc32: cs("crc32"),
            checksum_crc32c: cs("crc32c"),
            checksum_sha1: cs("sha1"),
            checksum_sha256: cs("sha256"),
            checksum_crc64nvme: cs("crc64nvme"),
            parts_count,
            tag_count: (!m.tags.is_empty()).then_some(m.tags.len() as i32),
            version_id,
            ..Default::default()
        };
        Ok(S3Response::new(out))
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let (m, version_id) = self.meta(&i.bucket, &i.key, i.version_id.as_deref())?;
        preconditions(
            &m,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let (range, parts_count) = part_or_range(&m, i.part_number, i.range.as_ref())?;
        let (start, end) = range.unwrap_or((0, m.size));
        let h = |n: &str| m.headers.get(n).cloned();
        let whole = range.is_none();
        let cs = |n: &str| {
            if whole {
                m.checksums.get(n).cloned()
            } else {
                None
            }
        };
        let resp = S3Response::new(HeadObjectOutput {
            content_length: Some((end - start) as i64),
            content_range: range.map(|(s, e)| format!("bytes {s}-{}/{}", e - 1, m.size)),
            accept_ranges: Some("bytes".to_owned()),
            last_modified: Some(ts(m.modified_ms)),
            e_tag: Some(etag(&m.etag)),
            metadata: Some(m.user.clone().into_iter().collect()),
            // HEAD takes the response-* overrides as GET does (a client previews a link).
            content_type: i
                .response_content_type
                .or(h("content-type"))
                .or(Some(DEFAULT_CONTENT_TYPE.to_owned())),
            content_encoding: i.response_content_encoding.or(h("content-encoding")),
            content_disposition: i.response_content_disposition.or(h("content-disposition")),
            content_language: i.response_content_language.or(h("content-language")),
            cache_control: i.response_cache_control.or(h("cache-control")),
            expires: i
                .response_expires
                .or(h("expires").and_then(|s| parse_http_date(&s))),
            website_redirect_location: h("website-redirect-location"),
            checksum_crc32: cs("crc32"),
            checksum_crc32c: cs("crc32c"),
            checksum_sha1: cs("sha1"),
            checksum_sha256: cs("sha256"),
            checksum_crc64nvme: cs("crc64nvme"),
            parts_count,
            version_id,
            ..Default::default()
        });
        // S3 sends the tag count on HEAD too; s3s's HeadObjectOutput has no field for it.
        let mut resp = resp;
        if !m.tags.is_empty() {
            resp.headers.insert(
                "x-amz-tagging-count",
                http::HeaderValue::from(m.tags.len() as u64),
            );
        }
        // s3s answers such a HEAD with 200; the server loop makes it the 206 S3 sends.
        Ok(resp)
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = req.input;
        let (m, version_id) = self.meta(&i.bucket, &i.key, i.version_id.as_deref())?;
        // The header is one comma-separated list, which may arrive as a single element.
        let wants = |a: &str| {
            i.object_attributes
                .iter()
                .flat_map(|x| x.as_str().split(','))
                .any(|x| x.trim() == a)
        };
        let mut out = GetObjectAttributesOutput {
            last_modified: Some(ts(m.modified_ms)),
            version_id,
            ..Default::default()
        };
        if wants(ObjectAttributes::ETAG) {
            out.e_tag = Some(etag(&m.etag));
        }
        if wants(ObjectAttributes::OBJECT_SIZE) {
            out.object_size = Some(m.size as i64);
        }
        if wants(ObjectAttributes::STORAGE_CLASS) {
            out.storage_class = Some(StorageClass::from_static(StorageClass::STANDARD));
        }
        if wants(ObjectAttributes::CHECKSUM) && !m.checksums.is_empty() {
            let c = |n: &str| m.checksums.get(n).cloned();
            out.checksum = Some(Checksum {
                checksum_crc32: c("crc32"),
                checksum_crc32c: c("crc32c"),
                checksum_crc64nvme: c("crc64nvme"),
                checksum_sha1: c("sha1"),
                checksum_sha256: c("sha256"),
                ..Default::default()
            });
        }
        if wants(ObjectAttributes::OBJECT_PARTS) && !m.parts.is_empty() {
            let marker = i.part_number_marker.unwrap_or(0).max(0) as usize;
            let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
            let page: Vec<ObjectPart> = (marker + 1..=m.parts.len())
                .take(max)
                .map(|n| ObjectPart {
                    part_number: Some(n as i32),
                    size: Some(m.parts[n - 1] as i64),
                    ..Default::default()
                })
                .collect();
            out.object_parts = Some(GetObjectAttributesParts {
                total_parts_count: Some(m.parts.len() as i32),
                part_number_marker: Some(marker as i32),
                next_part_number_marker: page.last().and_then(|p| p.part_number),
                max_parts: Some(max as i32),
                is_truncated: Some(marker + page.len() < m.parts.len()),
                parts: Some(page),
            });
        }
        Ok(S3Response::new(out))
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        let (bucket, key, vid) = (req.input.bucket, req.input.key, req.input.version_id);
        let if_match = req.input.if_match;
        if let Some(v) = &vid {
            check_version_id(v)?;
        }
        let (version_id, marker) = self
            .commit(move |s| {
                let b = s
                    .buckets
                    .get(&bucket)
                    .ok_or_else(|| s3_error!(NoSuchBucket))?;
                if if_match.is_some() {
                    let at = match vid.as_deref() {
                        Some(v) => b.version(&key, v).filter(|m| !m.delete_marker),
                        None => b.current(&key),
                    };
                    write_precondition(at, if_match.as_ref(), None)?;
                }
                let (recs, v, dm) = delete_recs(b, &bucket, &key, vid.as_deref());
                Ok((recs, (v, dm)))
            })
            .await?;
        Ok(S3Response::new(DeleteObjectOutput {
            version_id,
            delete_marker: marker.then_some(true),
            ..Default::default()
        }))
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let bucket = req.input.bucket;
        let objs = req.input.delete.objects;
        let quiet = req.input.delete.quiet.unwrap_or(false);
        let keys: Vec<(String, Option<String>, Option<ETag>)> = objs
            .iter()
            .map(|o| (o.key.clone(), o.version_id.clone(), o.e_tag.clone()))
            .collect();
        let (results, errors) = self
            .commit(move |s| {
                let b = s
                    .buckets
                    .get(&bucket)
                    .ok_or_else(|| s3_error!(NoSuchBucket))?;
                let mut batch = Vec::new();
                let mut out = Vec::new();
                let mut errors = Vec::new();
                for (key, vid, want) in keys {
                    // A per-key ETag is that key's If-Match; a miss is reported, not deleted.
                    if let Some(e) = want {
                        let at = match vid.as_deref() {
                            Some(v) => b.version(&key, v).filter(|m| !m.delete_marker),
                            None => b.current(&key),
                        };
                        if let Err(err) =
                            write_precondition(at, Some(&ETagCondition::ETag(e)), None)
                        {
                            errors.push(Error {
                                code: Some(err.code().as_str().to_owned()),
                                message: err.message().map(str::to_owned),
                                key: Some(key),
                                version_id: vid,
                            });
                            continue;
                        }
                    }
                    let (recs, v, dm) = delete_recs(b, &bucket, &key, vid.as_deref());
                    batch.extend(recs);
                    out.push(DeletedObject {
                        delete_marker: dm.then_some(true),
                        delete_marker_version_id: if dm { v.clone() } else { None },
                        version_id: vid,
                        key: Some(key),
                    });
                }
                Ok((batch, (out, errors)))
            })
            .await?;
        let deleted = if quiet { Vec::new() } else { results };
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        let if_match = header_condition(&req.headers, http::header::IF_MATCH)?;
        let if_none_match = header_condition(&req.headers, http::header::IF_NONE_MATCH)?;
        let i = req.input;
        check_key(&i.key)?;
        let (sb, sk, svid) = copy_source(&i.copy_source)?;
        self.no_bucket(&i.bucket)?;
        let (src, src_version) = self.copy_source_meta(&sb, &sk, svid.as_deref())?;
        preconditions(
            &src,
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        )
        .map_err(|e| {
            if *e.code() == s3s::S3ErrorCode::NotModified {
                s3_error!(PreconditionFailed, "copy-source condition not met")
            } else {
                e
            }
        })?;
        let replace_meta = i
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let replace_tags = i
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
        // Copying an older version onto its own key is how S3 restores it.
        let older = svid.is_some()
            && self.read(|s| {
                s.buckets
                    .get(&sb)
                    .and_then(|b| b.current(&sk))
                    .is_none_or(|c| c.version != src.version)
            });
        if sb == i.bucket && sk == i.key && !replace_meta && !replace_tags && !older {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let got = self.copy_range(&src.blob, 0, src.size).await?;
        let mut meta = src.clone();
        meta.blob = got.blob.clone();
        meta.modified_ms = now_ms();
        if replace_meta {
            meta.headers = headers(
                i.content_type,
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires,
                i.website_redirect_location,
            );
            meta.user = i.metadata.unwrap_or_default().into_iter().collect();
        }
        if replace_tags {
            meta.tags = match &i.tagging {
                Some(t) => parse_tagging(t)?,
                None => Vec::new(),
            };
        }
        meta.delete_marker = false;
        meta.upload = None;
        let out_meta = meta.clone();
        let (bucket, key) = (i.bucket, i.key);
        let blob = got.blob.clone();
        let r = self
            .commit(move |s| {
                let b = s
                    .buckets
                    .get(&bucket)
                    .ok_or_else(|| s3_error!(NoSuchBucket))?;
                write_precondition(b.current(&key), if_match.as_ref(), if_none_match.as_ref())?;
                let (version, header) = new_version(b);
                let meta = ObjMeta { version, ..meta };
                Ok((vec![Rec::Put { bucket, key, meta }], header))
            })
            .await;
        let version_id = match r {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(self.blob_path(&blob));
                return Err(e);
            }
        };
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag(&out_meta.etag)),
                last_modified: Some(ts(out_meta.modified_ms)),
                ..Default::default()
            }),
            copy_source_version_id: src_version,
            version_id,
            ..Default::default()
        }))
    }

    async fn list_objects(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let max = max_keys(i.max_keys)?;
        let enc = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let page = self.read(|s| {
            let b = s
                .buckets
                .get(&i.bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            Ok::<_, s3s::S3Error>(list_page(
                &b.objects,
                &prefix,
                i.delimiter.as_deref(),
                i.marker.as_deref().filter(|m| !m.is_empty()),
                max,
                |k, m| Object {
                    owner: Some(owner()),
                    ..object_dto(k, m, enc)
                },
            ))
        })?;
        let e = |s: String| if enc { url_encode(&s) } else { s };
        let next_marker = if page.truncated && i.delimiter.is_some() {
            page.last.clone().map(e)
        } else {
            None
        };
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(e(prefix)),
            marker: Some(e(i.marker.unwrap_or_default())),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            delimiter: i.delimiter.map(e),
            encoding_type: i.encoding_type,
            next_marker,
            contents: Some(page.objects),
            common_prefixes: Some(
                page.prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(e(p)) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let i = req.input;
        let max = max_keys(i.max_keys)?;
        let enc = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let after = match &i.continuation_token {
            Some(t) => Some(
                b64.decode(t)
                    .ok()
                    .and_then(|v| String::from_utf8(v).ok())
                    .ok_or_else(|| {
                        s3_error!(
                            InvalidArgument,
                            "The continuation token provided is incorrect"
                        )
                    })?,
            ),
            None => i.start_after.clone().filter(|s| !s.is_empty()),
        };
        let fetch_owner = i.fetch_owner == Some(true);
        let page = self.read(|s| {
            let b = s
                .buckets
                .get(&i.bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            Ok::<_, s3s::S3Error>(list_page(
                &b.objects,
                &prefix,
                i.delimiter.as_deref(),
                after.as_deref(),
                max,
                |k, m| Object {
                    owner: fetch_owner.then(owner),
                    ..object_dto(k, m, enc)
                },
            ))
        })?;
        let e = |s: String| if enc { url_encode(&s) } else { s };
        let key_count = (page.objects.len() + page.prefixes.len()) as i32;
        let next = if page.truncated {
            page.last.as_ref().map(|l| b64.encode(l))
        } else {
            None
        };
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(e(prefix)),
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: i.continuation_token,
            next_continuation_token: next,
            is_truncated: Some(page.truncated),
            delimiter: i.delimiter.map(e),
            encoding_type: i.encoding_type,
            start_after: i.start_after.map(e),
            contents: Some(page.objects),
            common_prefixes: Some(
                page.prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(e(p)) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        check_key(&i.key)?;
        let tags = match &i.tagging {
            Some(t) => parse_tagging(t)?,
            None => Vec::new(),
        };
        let meta = ObjMeta {
            headers: headers(
                i.content_type,
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires,
                i.website_redirect_location,
            ),
            user: i.metadata.unwrap_or_default().into_iter().collect(),
            tags,
            ..Default::default()
        };
        let id = new_id();
        let (bucket, key) = (i.bucket, i.key);
        let upload = Upload {
            bucket: bucket.clone(),
            key: key.clone(),
            initiated_ms: now_ms(),
            meta,
            parts: BTreeMap::new(),
        };
        let id2 = id.clone();
        let b2 = bucket.clone();
        self.commit(move |s| {
            if !s.buckets.contains_key(&b2) {
                return Err(s3_error!(NoSuchBucket));
            }
            Ok((vec![Rec::CreateUpload { id: id2, upload }], ()))
        })
        .await?;
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(bucket),
            key: Some(key),
            upload_id: Some(id),
            ..Default::default()
        }))
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let i = req.input;
        let n = i.part_number;
        if !(1..=10000).contains(&n) {
            return Err(s3_error!(InvalidArgument, "part numbers are 1 to 10000"));
        }
        self.upload_exists(&i.bucket, &i.key, &i.upload_id)?;
        let mut sent = Checksum {
            checksum_crc32: i.checksum_crc32.clone(),
            checksum_crc32c: i.checksum_crc32c.clone(),
            checksum_sha1: i.checksum_sha1.clone(),
            checksum_sha256: i.checksum_sha256.clone(),
            checksum_crc64nvme: i.checksum_crc64nvme.clone(),
            ..Default::default()
        };
        let hasher = hasher_for(&sent, i.checksum_algorithm.as_ref())?;
        let got = self
            .receive(i.body, hasher, None, i.content_md5.as_deref())
            .await?;
        if let Err(e) = verify_checksums(&mut sent, req.trailing_headers, &got.checksum) {
            let _ = std::fs::remove_file(self.blob_path(&got.blob));
            return Err(e);
        }
        self.commit_part(i.upload_id, n, &got).await?;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(etag(&got.etag)),
            checksum_crc32: sent.checksum_crc32,
            checksum_crc32c: sent.checksum_crc32c,
            checksum_sha1: sent.checksum_sha1,
            checksum_sha256: sent.checksum_sha256,
            checksum_crc64nvme: sent.checksum_crc64nvme,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = req.input;
        let n = i.part_number;
        if !(1..=10000).contains(&n) {
            return Err(s3_error!(InvalidArgument, "part numbers are 1 to 10000"));
        }
        self.upload_exists(&i.bucket, &i.key, &i.upload_id)?;
        let (sb, sk, svid) = copy_source(&i.copy_source)?;
        let (src, src_version) = self.copy_source_meta(&sb, &sk, svid.as_deref())?;
        preconditions(
            &src,
            i.copy_source_if_match.as_ref(),
            i.copy_source_if_none_match.as_ref(),
            i.copy_source_if_modified_since.as_ref(),
            i.copy_source_if_unmodified_since.as_ref(),
        )
        .map_err(|e| {
            if *e.code() == s3s::S3ErrorCode::NotModified {
                s3_error!(PreconditionFailed, "copy-source condition not met")
            } else {
                e
            }
        })?;
        let (start, end) = match &i.copy_source_range {
            None => (0, src.size),
            Some(r) => {
                let r = Range::parse(r)
                    .map_err(|_| {
                        s3_error!(
                            InvalidArgument,
                            "x-amz-copy-source-range must be bytes=first-last"
                        )
                    })?
                    .check(src.size)
                    .map_err(|_| s3_error!(InvalidRange, "the copy range is outside the source"))?;
                (r.start, r.end)
            }
        };
        let got = self.copy_range(&src.blob, start, end - start).await?;
        self.commit_part(i.upload_id, n, &got).await?;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(etag(&got.etag)),
                last_modified: Some(ts(now_ms())),
                ..Default::default()
            }),
            copy_source_version_id: src_version,
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let extra = req.extensions.get::<super::TagsAtComplete>().cloned();
        let i = req.input;
        let u = match self.upload_exists(&i.bucket, &i.key, &i.upload_id) {
            Ok(u) => u,
            Err(e) => return self.completed_before(i, e),
        };
        let listed = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        if listed.is_empty() {
            return Err(s3_error!(
                MalformedXML,
                "the request must list at least one part"
            ));
        }
        upload_dto_checks(&listed)?;
        let mut chosen = Vec::new();
        for (idx, p) in listed.iter().enumerate() {
            let n = p.part_number.unwrap_or(0);
            let part = u.parts.get(&n).ok_or_else(|| {
                s3_error!(
                    InvalidPart,
                    "part {n} was not uploaded or its ETag does not match"
                )
            })?;
            let want = p
                .e_tag
                .as_ref()
                .map(|e| e.value().trim_matches('"').to_owned());
            if want.as_deref() != Some(part.etag.as_str()) {
                return Err(s3_error!(
                    InvalidPart,
                    "part {n} was not uploaded or its ETag does not match"
                ));
            }
            if idx + 1 < listed.len() && part.size < MIN_PART {
                return Err(s3_error!(
                    EntityTooSmall,
                    "part {n} is smaller than 5 MiB and is not the last part"
                ));
            }
            chosen.push(part.clone());
        }
        // Concatenate into one new body file (fsynced), then commit object + end of upload.
        self.room_for_bodies()?;
        let id = new_id();
        let tmp = self.tmp_path(&id);
        // A failed concatenation (a full disk) must not keep its partial file, which would
        // hold the space the client's retry needs until a restart.
        let mut guard = TmpFile(Some(tmp.clone()));
        let mut md5s = Vec::new();
        {
            let mut out = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| super::io_failed(e, "store I/O"))?;
            for p in &chosen {
                let mut f = tokio::fs::File::open(self.blob_path(&p.blob))
                    .await
                    .map_err(|e| super::io_failed(e, "store I/O"))?;
                tokio::io::copy(&mut f, &mut out)
                    .await
                    .map_err(|e| super::io_failed(e, "store I/O"))?;
                md5s.extend(hex::decode(&p.etag).unwrap_or_default());
            }
            out.sync_all()
                .await
                .map_err(|e| super::io_failed(e, "store I/O"))?;
        }
        let dst = self.blob_path(&id);
        tokio::fs::rename(&tmp, &dst)
            .await
            .map_err(|e| super::io_failed(e, "store I/O"))?;
        guard.0 = None;
        let dir = dst.parent().expect("blob dir").to_path_buf();
        let synced = tokio::task::spawn_blocking(move || std::fs::File::open(dir)?.sync_all())
            .await
            .map_err(|e| super::io_failed(e, "store I/O"))
            .and_then(|r| r.map_err(|e| super::io_failed(e, "store I/O")));
        if let Err(e) = synced {
            let _ = std::fs::remove_file(&dst);
            return Err(e);
        }
        let mut md5 = s3s::crypto::Md5::new();
        md5.update(&md5s);
        let tag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
        let mut meta = u.meta.clone();
        meta.blob = id.clone();
        meta.size = chosen.iter().map(|p| p.size).sum();
        meta.etag = tag.clone();
        meta.modified_ms = now_ms();
        meta.parts = chosen.iter().map(|p| p.size).collect();
        meta.upload = Some(i.upload_id.clone());
        if let Some(t) = &extra {
            meta.tags.extend(t.0.iter().cloned());
        }
        let (bucket, key, uid) = (i.bucket.clone(), i.key.clone(), i.upload_id.clone());
        let (if_match, if_none_match) = (i.if_match.clone(), i.if_none_match.clone());
        let r = self
            .commit(move |s| {
                if !s.uploads.contains_key(&uid) {
                    return Err(s3_error!(NoSuchUpload));
                }
                let b = s
                    .buckets
                    .get(&bucket)
                    .ok_or_else(|| s3_error!(NoSuchBucket))?;
                write_precondition(b.current(&key), if_match.as_ref(), if_none_match.as_ref())?;
                let (version, header) = new_version(b);
                let meta = ObjMeta { version, ..meta };
                Ok((
                    vec![Rec::Put { bucket, key, meta }, Rec::EndUpload { id: uid }],
                    header,
                ))
            })
            .await;
        let version_id = match r {
            Ok(v) => v,
            Err(e) => {
                let _ = std::fs::remove_file(self.blob_path(&id));
                return Err(e);
            }
        };
        let mut resp = S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            e_tag: Some(etag(&tag)),
            version_id,
            ..Default::default()
        });
        if extra.is_some() {
            resp.extensions.insert(super::TagsCommitted);
        }
        Ok(resp)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        self.upload_exists(&i.bucket, &i.key, &i.upload_id)?;
        let uid = i.upload_id;
        self.commit(move |s| {
            if !s.uploads.contains_key(&uid) {
                return Err(s3_error!(NoSuchUpload));
            }
            Ok((vec![Rec::EndUpload { id: uid }], ()))
        })
        .await?;
        Ok(S3Response::new(AbortMultipartUploadOutput::default()))
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let u = self.upload_exists(&i.bucket, &i.key, &i.upload_id)?;
        let max = i.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let after = i.part_number_marker.unwrap_or(0);
        let all: Vec<_> = u.parts.range(after + 1..).collect();
        let truncated = all.len() > max;
        let parts: Vec<Part> = all
            .iter()
            .take(max)
            .map(|(n, p)| Part {
                part_number: Some(**n),
                size: Some(p.size as i64),
                e_tag: Some(etag(&p.etag)),
                last_modified: Some(ts(p.modified_ms)),
                ..Default::default()
            })
            .collect();
        // S3 names the last listed part whether or not the list is truncated.
        let next = parts.last().and_then(|p| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            parts: Some(parts),
            is_truncated: Some(truncated),
            max_parts: Some(max as i32),
            part_number_marker: Some(i.part_number_marker.unwrap_or(0)),
            next_part_number_marker: next,
            initiator: Some(Initiator {
                display_name: Some("s3seal".to_owned()),
                id: Some("s3seal".to_owned()),
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        self.no_bucket(&i.bucket)?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = i.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let mut ups: Vec<(String, String, i64)> = self.read(|s| {
            s.uploads
                .iter()
                .filter(|(_, u)| u.bucket == i.bucket && u.key.starts_with(&prefix))
                .map(|(id, u)| (u.key.clone(), id.clone(), u.initiated_ms))
                .collect()
        });
        ups.sort_by(|a, b| (&a.0, a.2, &a.1).cmp(&(&b.0, b.2, &b.1)));
        if let Some(km) = i.key_marker.as_deref().filter(|k| !k.is_empty()) {
            // With an upload-id-marker, the uploads of the marker key after that upload
            // follow (S3's pagination inside one key); without one, the next key's.
            let after = i
                .upload_id_marker
                .as_deref()
                .filter(|u| !u.is_empty())
                .and_then(|uid| ups.iter().position(|u| u.0 == km && u.1 == uid));
            match after {
                Some(pos) => {
                    ups.drain(..=pos);
                }
                None => ups.retain(|u| u.0.as_str() > km),
            }
        }
        let truncated = ups.len() > max;
        ups.truncate(max);
        let last = ups.last().cloned();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: i.prefix,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            key_marker: Some(i.key_marker.unwrap_or_default()),
            upload_id_marker: Some(i.upload_id_marker.unwrap_or_default()),
            next_key_marker: last.as_ref().filter(|_| truncated).map(|l| l.0.clone()),
            next_upload_id_marker: last.as_ref().filter(|_| truncated).map(|l| l.1.clone()),
            uploads: Some(
                ups.into_iter()
                    .map(|(k, id, t)| MultipartUpload {
                        key: Some(k),
                        upload_id: Some(id),
                        initiated: Some(ts(t)),
                        initiator: Some(Initiator {
                            display_name: Some("s3seal".to_owned()),
                            id: Some("s3seal".to_owned()),
                        }),
                        owner: Some(owner()),
                        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let i = req.input;
        let state = match i
            .versioning_configuration
            .status
            .as_ref()
            .map(|s| s.as_str())
        {
            Some(BucketVersioningStatus::ENABLED) => Versioning::Enabled,
            Some(BucketVersioningStatus::SUSPENDED) => Versioning::Suspended,
            _ => {
                return Err(s3_error!(
                    MalformedXML,
                    "The XML you provided was not well-formed or did not validate against our published schema"
                ));
            }
        };
        let bucket = i.bucket;
        self.commit(move |s| {
            let b = s
                .buckets
                .get(&bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            if b.versioning == Some(state) {
                return Ok((Vec::new(), ()));
            }
            Ok((vec![Rec::SetVersioning { bucket, state }], ()))
        })
        .await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    async fn put_bucket_cors(
        &self,
        req: S3Request<PutBucketCorsInput>,
    ) -> S3Result<S3Response<PutBucketCorsOutput>> {
        let i = req.input;
        let rules: Vec<crate::cors::Rule> = i
            .cors_configuration
            .cors_rules
            .into_iter()
            .map(Into::into)
            .collect();
        if let Err((code, msg)) = crate::cors::validate(&rules) {
            return Err(s3s::S3Error::with_message(
                S3ErrorCode::from_bytes(code.as_bytes()).unwrap_or(S3ErrorCode::InvalidRequest),
                msg,
            ));
        }
        let bucket = i.bucket;
        self.commit(move |s| {
            s.buckets
                .get(&bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            Ok((
                vec![Rec::SetCors {
                    bucket,
                    rules: Some(rules),
                }],
                (),
            ))
        })
        .await?;
        Ok(S3Response::new(PutBucketCorsOutput::default()))
    }

    async fn get_bucket_cors(
        &self,
        req: S3Request<GetBucketCorsInput>,
    ) -> S3Result<S3Response<GetBucketCorsOutput>> {
        let rules = self.read(|s| {
            s.buckets
                .get(&req.input.bucket)
                .map(|b| b.cors.clone())
                .ok_or_else(|| s3_error!(NoSuchBucket))
        })?;
        let rules = rules.ok_or_else(|| {
            s3_error!(
                NoSuchCORSConfiguration,
                "The CORS configuration does not exist"
            )
        })?;
        Ok(S3Response::new(GetBucketCorsOutput {
            cors_rules: Some(rules.into_iter().map(Into::into).collect()),
        }))
    }

    async fn delete_bucket_cors(
        &self,
        req: S3Request<DeleteBucketCorsInput>,
    ) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
        let bucket = req.input.bucket;
        self.commit(move |s| {
            let b = s
                .buckets
                .get(&bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            if b.cors.is_none() {
                return Ok((Vec::new(), ()));
            }
            Ok((
                vec![Rec::SetCors {
                    bucket,
                    rules: None,
                }],
                (),
            ))
        })
        .await?;
        Ok(S3Response::new(DeleteBucketCorsOutput::default()))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let state = self.read(|s| {
            s.buckets
                .get(&req.input.bucket)
                .map(|b| b.versioning)
                .ok_or_else(|| s3_error!(NoSuchBucket))
        })?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: state.map(|v| {
                BucketVersioningStatus::from_static(match v {
                    Versioning::Enabled => BucketVersioningStatus::ENABLED,
                    Versioning::Suspended => BucketVersioningStatus::SUSPENDED,
                })
            }),
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        let i = req.input;
        let max = max_keys(i.max_keys)?;
        let enc = i
            .encoding_type
            .as_ref()
            .is_some_and(|e| e.as_str() == EncodingType::URL);
        let prefix = i.prefix.clone().unwrap_or_default();
        let key_marker = i.key_marker.clone().filter(|m| !m.is_empty());
        let vid_marker = i.version_id_marker.clone().filter(|m| !m.is_empty());
        if vid_marker.is_some() && key_marker.is_none() {
            return Err(s3_error!(
                InvalidArgument,
                "A version-id marker cannot be specified without a key marker."
            ));
        }
        let page = self.read(|s| {
            let b = s
                .buckets
                .get(&i.bucket)
                .ok_or_else(|| s3_error!(NoSuchBucket))?;
            Ok::<_, s3s::S3Error>(list_versions_page(
                &b.objects,
                &prefix,
                i.delimiter.as_deref(),
                key_marker.as_deref(),
                vid_marker.as_deref(),
                max,
            ))
        })?;
        let e = |s: String| if enc { url_encode(&s) } else { s };
        let (next_key, next_vid) = match page.next {
            Some((k, v)) if page.truncated => (Some(e(k)), v),
            _ => (None, None),
        };
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        for (k, m, latest) in page.entries {
            if m.delete_marker {
                markers.push(DeleteMarkerEntry {
                    is_latest: Some(latest),
                    key: Some(e(k)),
                    last_modified: Some(ts_ms(m.modified_ms)),
                    owner: Some(owner()),
                    version_id: Some(m.version_id().to_owned()),
                });
            } else {
                versions.push(ObjectVersion {
                    e_tag: Some(etag(&m.etag)),
                    is_latest: Some(latest),
                    key: Some(e(k)),
                    last_modified: Some(ts_ms(m.modified_ms)),
                    owner: Some(owner()),
                    size: Some(m.size as i64),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    version_id: Some(m.version_id().to_owned()),
                    ..Default::default()
                });
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket),
            prefix: Some(e(prefix)),
            delimiter: i.delimiter.map(e),
            encoding_type: i.encoding_type,
            key_marker: Some(e(i.key_marker.unwrap_or_default())),
            version_id_marker: Some(i.version_id_marker.unwrap_or_default()),
            max_keys: Some(max as i32),
            is_truncated: Some(page.truncated),
            next_key_marker: next_key,
            next_version_id_marker: next_vid,
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(
                page.prefixes
                    .into_iter()
                    .map(|p| CommonPrefix { prefix: Some(e(p)) })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    async fn get_bucket_acl(
        &self,
        req: S3Request<GetBucketAclInput>,
    ) -> S3Result<S3Response<GetBucketAclOutput>> {
        self.no_bucket(&req.input.bucket)?;
        Ok(S3Response::new(GetBucketAclOutput {
            grants: Some(owner_full_control()),
            owner: Some(owner()),
        }))
    }

    async fn get_object_acl(
        &self,
        req: S3Request<GetObjectAclInput>,
    ) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = req.input;
        self.meta(&i.bucket, &i.key, i.version_id.as_deref())?;
        Ok(S3Response::new(GetObjectAclOutput {
            grants: Some(owner_full_control()),
            owner: Some(owner()),
            request_charged: None,
        }))
    }

    async fn put_object_acl(
        &self,
        req: S3Request<PutObjectAclInput>,
    ) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = req.input;
        self.meta(&i.bucket, &i.key, i.version_id.as_deref())?;
        only_owner_acl(
            i.acl.as_ref().map(|a| a.as_str()),
            i.access_control_policy.is_some(),
        )?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn put_bucket_acl(
        &self,
        req: S3Request<PutBucketAclInput>,
    ) -> S3Result<S3Response<PutBucketAclOutput>> {
        let i = req.input;
        self.no_bucket(&i.bucket)?;
        only_owner_acl(
            i.acl.as_ref().map(|a| a.as_str()),
            i.access_control_policy.is_some(),
        )?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = req.input;
        let (m, version_id) = self.meta(&i.bucket, &i.key, i.version_id.as_deref())?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            version_id,
            tag_set: m
                .tags
                .into_iter()
                .map(|(k, v)| Tag {
                    key: Some(k),
                    value: Some(v),
                })
                .collect(),
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = req.input;
        let tags: Vec<(String, String)> = i
            .tagging
            .tag_set
            .into_iter()
            .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect();
        if tags.len() > 10 {
            let mut e = s3s::S3Error::with_message(
                S3ErrorCode::Custom("BadRequest".into()),
                "Object tags cannot be greater than 10",
            );
            e.set_status_code(http::StatusCode::BAD_REQUEST);
            return Err(e);
        }
        let version_id = self.set_tags(i.bucket, i.key, i.version_id, tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = req.input;
        let version_id = self
            .set_tags(i.bucket, i.key, i.version_id, Vec::new())
            .await?;
        Ok(S3Response::new(DeleteObjectTaggingOutput { version_id }))
    }
}

/// S3's answer to a partNumber beyond the object's parts (416, as for a bad range).
fn invalid_part_number() -> s3s::S3Error {
    let mut e = s3s::S3Error::with_message(
        s3s::S3ErrorCode::Custom("InvalidPartNumber".into()),
        "The requested partnumber is not satisfiable",
    );
    e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
    e
}

/// The byte range to serve, from `partNumber` or `Range`, and the object's part count.
#[allow(clippy::type_complexity)]
fn part_or_range(
    m: &ObjMeta,
    part: Option<i32>,
    range: Option<&Range>,
) -> S3Result<(Option<(u64, u64)>, Option<i32>)> {
    if let Some(n) = part {
        if range.is_some() {
            return Err(s3_error!(
                InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter"
            ));
        }
        if m.parts.is_empty() {
            if n == 1 {
                return Ok((None, None));
            }
            return Err(invalid_part_number());
        }
        let idx = usize::try_from(n - 1).map_err(|_| invalid_part_number())?;
        if idx >= m.parts.len() {
            return Err(invalid_part_number());
        }
        let start: u64 = m.parts[..idx].iter().sum();
        return Ok((
            Some((start, start + m.parts[idx])),
            Some(m.parts.len() as i32),
        ));
    }
    match range {
        None => Ok((None, None)),
        Some(r) => {
            let r = r
                .check(m.size)
                .map_err(|_| s3_error!(InvalidRange, "The requested range is not satisfiable"))?;
            Ok((Some((r.start, r.end)), None))
        }
    }
}

impl Store {
    /// A Complete retried after it succeeded (its answer was lost) gets the same answer, as
    /// on S3, while a version that upload wrote is still there; otherwise `gone`.
    fn completed_before(
        &self,
        i: CompleteMultipartUploadInput,
        gone: s3s::S3Error,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let found = self.read(|s| {
            let b = s.buckets.get(&i.bucket)?;
            let m =
                b.objects.get(&i.key)?.iter().find(|m| {
                    !m.delete_marker && m.upload.as_deref() == Some(i.upload_id.as_str())
                })?;
            Some((m.etag.clone(), version_header(b, m)))
        });
        let Some((tag, version_id)) = found else {
            return Err(gone);
        };
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            e_tag: Some(etag(&tag)),
            version_id,
            bucket: Some(i.bucket),
            key: Some(i.key),
            ..Default::default()
        }))
    }

    fn upload_exists(&self, bucket: &str, key: &str, id: &str) -> S3Result<Upload> {
        self.no_bucket(bucket)?;
        self.read(|s| {
            s.uploads
                .get(id)
                .filter(|u| u.bucket == bucket && u.key == key)
                .cloned()
                .ok_or_else(|| s3_error!(NoSuchUpload, "the upload does not exist"))
        })
    }

    async fn commit_part(&self, uid: String, n: i32, got: &Received) -> S3Result<()> {
        let part = PartMeta {
            blob: got.blob.clone(),
            size: got.size,
            etag: got.etag.clone(),
            modified_ms: now_ms(),
        };
        let r = self
            .commit(move |s| {
                if !s.uploads.contains_key(&uid) {
                    return Err(s3_error!(NoSuchUpload));
                }
                Ok((vec![Rec::Part { id: uid, n, part }], ()))
            })
            .await;
        if r.is_err() {
            let _ = std::fs::remove_file(self.blob_path(&got.blob));
        }
        r
    }

    /// Sets the stored ETag of an object (import keeps s3s-fs's multipart ETags).
    pub(crate) async fn set_etag(&self, bucket: &str, key: &str, tag: String) -> S3Result<()> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.commit(move |s| {
            let (m, _) = lookup(s, &bucket, &key, None)?;
            let mut meta = m.clone();
            meta.etag = tag;
            Ok((vec![Rec::SetMeta { bucket, key, meta }], ()))
        })
        .await
    }

    /// Sets the tags of the current version or of version `vid`; returns its
    /// `x-amz-version-id`.
    async fn set_tags(
        &self,
        bucket: String,
        key: String,
        vid: Option<String>,
        tags: Vec<(String, String)>,
    ) -> S3Result<Option<String>> {
        self.commit(move |s| {
            let (m, v) = match lookup(s, &bucket, &key, vid.as_deref()) {
                // Tagging a key whose current version is a delete marker: 405, as in S3.
                Err(e) if vid.is_none() && *e.code() == S3ErrorCode::NoSuchKey => {
                    let marker = s
                        .buckets
                        .get(&bucket)
                        .and_then(|b| b.objects.get(&key))
                        .and_then(|v| v.first())
                        .filter(|m| m.delete_marker);
                    return Err(match marker {
                        Some(m) => delete_marker_error(
                            s3_error!(
                                MethodNotAllowed,
                                "The specified method is not allowed against this resource."
                            ),
                            m,
                        ),
                        None => e,
                    });
                }
                r => r?,
            };
            let mut meta = m.clone();
            meta.tags = tags;
            Ok((vec![Rec::SetMeta { bucket, key, meta }], v))
        })
        .await
    }

    /// The source version of a copy: a delete marker named by version id is 400
    /// InvalidRequest, as in S3.
    fn copy_source_meta(
        &self,
        bucket: &str,
        key: &str,
        vid: Option<&str>,
    ) -> S3Result<(ObjMeta, Option<String>)> {
        self.meta(bucket, key, vid).map_err(|e| {
            if *e.code() == S3ErrorCode::MethodNotAllowed {
                s3_error!(
                    InvalidRequest,
                    "The source of a copy request may not specifically refer to a delete marker by version id."
                )
            } else {
                e
            }
        })
    }
}

/// Bucket, key and version id of a copy source.
fn copy_source(c: &CopySource) -> S3Result<(String, String, Option<String>)> {
    match c {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((
            bucket.to_string(),
            key.to_string(),
            version_id.as_deref().map(str::to_owned),
        )),
        _ => Err(s3_error!(NotImplemented, "access-point copy sources")),
    }
}
