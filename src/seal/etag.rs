//! ETags and conditional requests for sealed objects.
//!
//! The store's ETag of a sealed object is the MD5 of ciphertext. Shown as-is it would look
//! like an MD5 of the content and sync tools would call every object corrupt. So reads
//! (HEAD, GET, LIST) show the store's ETag with a `-1` suffix: stable, cheap (no lookups),
//! identical across HEAD/GET/LIST, and recognisably "not a content MD5" to rclone, s3cmd and
//! the SDKs, which then fall back to sizes or their own metadata. Multipart ETags (`…-N`)
//! already have that shape and are shown unchanged. PUT, CompleteMultipartUpload and
//! CopyObject answer with the same value, so an object has one ETag for its whole life, as
//! on S3 (where SSE-KMS objects' ETags are not MD5s either). Conditional requests also accept
//! the plaintext MD5 recorded by gateways before that change.

use s3s::dto::{ETag, ETagCondition, Timestamp};
use s3s::{S3Error, S3Result, s3_error};

/// The ETag clients see for a sealed object whose store ETag is `upstream`.
pub fn visible(upstream: &ETag) -> ETag {
    let v = upstream.value();
    if v.contains('-') {
        ETag::Strong(v.to_owned())
    } else {
        ETag::Strong(format!("{v}-1"))
    }
}

/// The four HTTP preconditions of GET and HEAD, evaluated against what the client sees.
#[derive(Default, Clone)]
pub struct Preconditions {
    pub if_match: Option<ETagCondition>,
    pub if_none_match: Option<ETagCondition>,
    pub if_modified_since: Option<Timestamp>,
    pub if_unmodified_since: Option<Timestamp>,
}

impl Preconditions {
    /// S3's order: If-Match, then If-Unmodified-Since (ignored when If-Match passed), then
    /// If-None-Match (304), then If-Modified-Since (ignored when If-None-Match is present).
    /// `alt` is a second ETag the object is also known by (its plaintext MD5, when stored).
    pub fn check(
        &self,
        etag: &ETag,
        alt: Option<&str>,
        last_modified: Option<&Timestamp>,
    ) -> S3Result<()> {
        let matches = |c: &ETagCondition| match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.value() == etag.value() || alt == Some(e.value()),
        };
        if let Some(c) = &self.if_match {
            if !matches(c) {
                return Err(precondition_failed());
            }
        } else if let (Some(since), Some(lm)) = (&self.if_unmodified_since, last_modified)
            && secs(lm) > secs(since)
        {
            return Err(precondition_failed());
        }
        if let Some(c) = &self.if_none_match {
            if matches(c) {
                return Err(not_modified(etag, last_modified));
            }
        } else if let (Some(since), Some(lm)) = (&self.if_modified_since, last_modified)
            && secs(lm) <= secs(since)
        {
            return Err(not_modified(etag, last_modified));
        }
        Ok(())
    }
}

/// A 304 names the ETag and Last-Modified it vouches for, as S3's does: caches revalidate
/// with them.
fn not_modified(etag: &ETag, last_modified: Option<&Timestamp>) -> S3Error {
    let mut e = s3_error!(NotModified);
    let mut h = http::HeaderMap::new();
    if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", etag.value())) {
        h.insert(http::header::ETAG, v);
    }
    let mut date = Vec::new();
    if let Some(t) = last_modified
        && t.format(s3s::dto::TimestampFormat::HttpDate, &mut date)
            .is_ok()
        && let Ok(v) = http::HeaderValue::from_bytes(&date)
    {
        h.insert(http::header::LAST_MODIFIED, v);
    }
    e.set_headers(h);
    e
}

fn precondition_failed() -> S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}

/// HTTP dates have one-second resolution; compare at that resolution.
fn secs(t: &Timestamp) -> i64 {
    time::OffsetDateTime::from(t.clone()).unix_timestamp()
}
