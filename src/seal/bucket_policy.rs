//! Per-bucket (and per-prefix) storage policy: encrypt, pass through, or require encryption;
//! maximum object size; allowed content types, checked on the declared type and on the
//! leading bytes, before anything is sent to the store.

use crate::config::{BucketMode, BucketPolicyConfig};
use bytes::Bytes;
use futures::Stream;
use s3s::dto::StreamingBlob;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, StdError, s3_error};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

/// Bytes of the body needed to recognise every signature below.
pub const SNIFF_LEN: usize = 16;

#[derive(Debug, Clone, Default)]
pub struct BucketPolicies {
    rules: Vec<BucketPolicyConfig>,
}

/// The effective policy for one key.
#[derive(Debug, Clone, Copy)]
pub struct Effective<'a> {
    pub mode: BucketMode,
    rule: Option<&'a BucketPolicyConfig>,
}

impl BucketPolicies {
    pub fn new(rules: Vec<BucketPolicyConfig>) -> Self {
        BucketPolicies { rules }
    }

    /// The most specific rule: an exact bucket beats "*", then the longest prefix.
    pub fn lookup(&self, bucket: &str, key: &str) -> Effective<'_> {
        let rule = self
            .rules
            .iter()
            .filter(|r| (r.bucket == bucket || r.bucket == "*") && key.starts_with(&r.prefix))
            .max_by_key(|r| (r.bucket != "*", r.prefix.len()));
        Effective {
            mode: rule.map_or(BucketMode::Encrypt, |r| r.mode),
            rule,
        }
    }
}

impl Effective<'_> {
    /// Size and declared type, checked before the body is read.
    pub fn check_declared(
        &self,
        bucket: &str,
        size: Option<u64>,
        content_type: Option<&str>,
    ) -> Result<(), S3Error> {
        let Some(r) = self.rule else { return Ok(()) };
        if let (Some(max), Some(size)) = (r.max_object_size, size)
            && size > max
        {
            return Err(too_large(bucket, max));
        }
        if !r.allowed_content_types.is_empty() {
            let ct = base_type(content_type.unwrap_or(""));
            if !r.allowed_content_types.iter().any(|a| type_matches(a, &ct)) {
                return Err(s3_error!(
                    InvalidArgument,
                    "content type {:?} is not allowed in {bucket}; allowed: {}",
                    if ct.is_empty() { "(none)" } else { &ct },
                    r.allowed_content_types.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A complete object's size (multipart: known only at CompleteMultipartUpload).
    pub fn check_size(&self, bucket: &str, size: u64) -> Result<(), S3Error> {
        match self.rule.and_then(|r| r.max_object_size) {
            Some(max) if size > max => Err(too_large(bucket, max)),
            _ => Ok(()),
        }
    }

    /// The largest object this location accepts, if limited.
    pub fn max_size(&self) -> Option<u64> {
        self.rule.and_then(|r| r.max_object_size)
    }

    /// Whether the leading bytes must be checked against the declared type.
    pub fn sniffs(&self) -> bool {
        self.rule
            .is_some_and(|r| !r.allowed_content_types.is_empty())
    }

    /// The leading bytes must carry the signature of the declared type, where one exists.
    pub fn check_leading_bytes(
        &self,
        content_type: Option<&str>,
        head: &[u8],
    ) -> Result<(), S3Error> {
        let ct = base_type(content_type.unwrap_or(""));
        match signature_ok(&ct, head) {
            Some(false) => Err(s3_error!(
                InvalidArgument,
                "the body does not look like {ct} (its leading bytes do not match that type's signature)"
            )),
            _ => Ok(()),
        }
    }
}

/// Why a counted body was cut off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LengthFailure {
    /// More bytes than the location's limit.
    TooLarge { max: u64 },
    /// More bytes than the declared length.
    TooLong,
    /// The body ended before the declared length.
    TooShort,
    /// The client's body failed to read.
    Client,
}

impl LengthFailure {
    pub fn to_s3(self, bucket: &str, declared: u64) -> S3Error {
        match self {
            LengthFailure::TooLarge { max } => too_large(bucket, max),
            LengthFailure::TooLong => s3_error!(
                InvalidRequest,
                "the request body is longer than its declared length ({declared} bytes)"
            ),
            LengthFailure::TooShort => s3_error!(
                IncompleteBody,
                "the request body is shorter than its declared length ({declared} bytes)"
            ),
            LengthFailure::Client => {
                s3_error!(IncompleteBody, "the request body could not be read")
            }
        }
    }
}

/// Where a [`Counted`] body records why it failed.
pub type LengthOutcome = Arc<Mutex<Option<LengthFailure>>>;

/// Passes a body through unchanged while counting it, and fails it — so the store sees a
/// broken upload and keeps nothing — as soon as it exceeds the limit or the declared length,
/// or when it ends short of the declared length. Limits apply to the bytes actually stored,
/// not to what the headers claim (a plain body sent with `x-amz-decoded-content-length`).
pub fn counted(
    body: Option<StreamingBlob>,
    declared: u64,
    max: Option<u64>,
) -> (StreamingBlob, LengthOutcome) {
    let outcome = LengthOutcome::default();
    let c = Counted {
        inner: body,
        seen: 0,
        declared,
        max,
        done: false,
        outcome: outcome.clone(),
    };
    (StreamingBlob::new(c), outcome)
}

struct Counted {
    inner: Option<StreamingBlob>,
    seen: u64,
    declared: u64,
    max: Option<u64>,
    done: bool,
    outcome: LengthOutcome,
}

impl Counted {
    fn fail(&mut self, f: LengthFailure) -> Poll<Option<Result<Bytes, StdError>>> {
        self.done = true;
        self.inner = None;
        if let Ok(mut o) = self.outcome.lock() {
            o.get_or_insert(f);
        }
        Poll::Ready(Some(Err(format!("upload refused: {f:?}").into())))
    }
}

impl Stream for Counted {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let next = match self.inner.as_mut() {
            Some(b) => std::task::ready!(Pin::new(b).poll_next(cx)),
            None => None,
        };
        match next {
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if let Some(max) = self.max
                    && self.seen > max
                {
                    return self.fail(LengthFailure::TooLarge { max });
                }
                if self.seen > self.declared {
                    return self.fail(LengthFailure::TooLong);
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Some(Err(_)) => self.fail(LengthFailure::Client),
            None if self.seen != self.declared => self.fail(LengthFailure::TooShort),
            None => {
                self.done = true;
                Poll::Ready(None)
            }
        }
    }
}

impl ByteStream for Counted {
    fn remaining_length(&self) -> RemainingLength {
        RemainingLength::new_exact(self.declared.saturating_sub(self.seen) as usize)
    }
}

/// Takes the failure a [`counted`] body recorded, if any.
pub fn take_failure(o: &LengthOutcome) -> Option<LengthFailure> {
    o.lock().ok().and_then(|mut g| g.take())
}

fn too_large(bucket: &str, max: u64) -> S3Error {
    s3_error!(
        EntityTooLarge,
        "objects in {bucket} may be at most {max} bytes"
    )
}

fn base_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// "image/*" matches any image type; otherwise exact (parameters ignored).
fn type_matches(allowed: &str, ct: &str) -> bool {
    let allowed = allowed.to_ascii_lowercase();
    match allowed.strip_suffix("/*") {
        Some(major) => ct.split('/').next() == Some(major) && ct.contains('/'),
        None => allowed == ct,
    }
}

/// `Some(true/false)` for types with a known signature, `None` when the type has none
/// (text, JSON, ...).
pub fn signature_ok(ct: &str, head: &[u8]) -> Option<bool> {
    let starts = |sig: &[u8]| head.starts_with(sig);
    Some(match ct {
        "image/jpeg" | "image/jpg" => starts(&[0xFF, 0xD8, 0xFF]),
        "image/png" => starts(b"\x89PNG\r\n\x1a\n"),
        "image/gif" => starts(b"GIF87a") || starts(b"GIF89a"),
        "image/webp" => starts(b"RIFF") && head.get(8..12) == Some(b"WEBP"),
        "image/bmp" => starts(b"BM"),
        "image/tiff" => starts(b"II*\0") || starts(b"MM\0*"),
        "image/heic" | "image/avif" => head.get(4..8) == Some(b"ftyp"),
        "application/pdf" => starts(b"%PDF-"),
        "application/zip"
        | "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation"
        | "application/vnd.oasis.opendocument.text"
        | "application/epub+zip" => starts(b"PK\x03\x04") || starts(b"PK\x05\x06"),
        "application/gzip" | "application/x-gzip" => starts(&[0x1F, 0x8B]),
        "application/msword" | "application/vnd.ms-excel" => {
            starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1])
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(bucket: &str, prefix: &str, mode: BucketMode) -> BucketPolicyConfig {
        BucketPolicyConfig {
            bucket: bucket.into(),
            prefix: prefix.into(),
            mode,
            max_object_size: None,
            allowed_content_types: vec![],
        }
    }

    #[test]
    fn most_specific_rule_wins() {
        let p = BucketPolicies::new(vec![
            rule("*", "", BucketMode::Require),
            rule("web", "", BucketMode::Passthrough),
            rule("web", "private/", BucketMode::Encrypt),
        ]);
        assert_eq!(p.lookup("web", "index.html").mode, BucketMode::Passthrough);
        assert_eq!(p.lookup("web", "private/x").mode, BucketMode::Encrypt);
        assert_eq!(p.lookup("other", "x").mode, BucketMode::Require);
        assert_eq!(
            BucketPolicies::default().lookup("a", "b").mode,
            BucketMode::Encrypt
        );
    }

    #[test]
    fn types_and_signatures() {
        assert!(type_matches("image/*", "image/png"));
        assert!(!type_matches("image/*", "imagex"));
        assert!(type_matches("application/pdf", "application/pdf"));
        assert_eq!(base_type("Image/PNG; charset=x"), "image/png");
        assert_eq!(
            signature_ok("image/png", b"\x89PNG\r\n\x1a\nrest"),
            Some(true)
        );
        assert_eq!(signature_ok("image/png", b"<html>"), Some(false));
        assert_eq!(
            signature_ok("image/jpeg", &[0xFF, 0xD8, 0xFF, 0xE0]),
            Some(true)
        );
        assert_eq!(signature_ok("application/pdf", b"%PDF-1.7"), Some(true));
        assert_eq!(signature_ok("text/plain", b"anything"), None);
        assert_eq!(signature_ok("image/gif", b""), Some(false));
    }
}
