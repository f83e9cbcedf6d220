//! Reading a store's answer the way s3s-aws reads the SDK's: headers into the operation's
//! output, the body as a stream, and errors with the store's code, message and status (a
//! bodiless 404 is `NotFound`, as the SDK names it; other bodiless errors keep only their
//! status). Only used by the lean path, so both paths must agree field for field: the
//! conformance pairs run through it.

use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use http::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_LANGUAGE,
    CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, EXPIRES, LAST_MODIFIED,
};
use http_body::Body as _;
use s3s::dto::*;
use s3s::header::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3Error, S3ErrorCode, StdError};
use std::pin::Pin;
use std::task::{Context, Poll};

fn text<'a>(h: &'a HeaderMap, name: &http::HeaderName) -> Option<&'a str> {
    h.get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

fn string<T: From<String>>(h: &HeaderMap, name: &http::HeaderName) -> Option<T> {
    text(h, name).map(|s| T::from(s.to_owned()))
}

fn number<T: std::str::FromStr>(h: &HeaderMap, name: &http::HeaderName) -> Option<T> {
    text(h, name).and_then(|s| s.trim().parse().ok())
}

fn flag(h: &HeaderMap, name: &http::HeaderName) -> Option<bool> {
    text(h, name).and_then(|s| s.trim().parse().ok())
}

fn time(h: &HeaderMap, name: &http::HeaderName, f: TimestampFormat) -> Option<Timestamp> {
    text(h, name).and_then(|s| Timestamp::parse(f, s).ok())
}

fn etag(h: &HeaderMap) -> Option<ETag> {
    h.get(ETAG)
        .and_then(|v| ETag::parse_http_header(v.as_bytes()).ok())
}

/// `x-amz-meta-*` headers, values as the store sent them (the SDK does not decode RFC 2047
/// either); none is `None`, as the SDK answers.
fn metadata(h: &HeaderMap) -> Option<Metadata> {
    let mut m = Metadata::default();
    for (n, v) in h {
        if let Some(k) = n.as_str().strip_prefix("x-amz-meta-")
            && let Ok(v) = std::str::from_utf8(v.as_bytes())
        {
            m.insert(k.to_owned(), v.to_owned());
        }
    }
    (!m.is_empty()).then_some(m)
}

/// Fills the fields GetObject and HeadObject share.
macro_rules! object_headers {
    ($h:expr, $t:ident { $($extra:tt)* }) => {{
        let h = $h;
        $t {
            accept_ranges: string(h, &ACCEPT_RANGES),
            bucket_key_enabled: flag(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_BUCKET_KEY_ENABLED),
            cache_control: string(h, &CACHE_CONTROL),
            checksum_crc32: string(h, &X_AMZ_CHECKSUM_CRC32),
            checksum_crc32c: string(h, &X_AMZ_CHECKSUM_CRC32C),
            checksum_crc64nvme: string(h, &X_AMZ_CHECKSUM_CRC64NVME),
            checksum_sha1: string(h, &X_AMZ_CHECKSUM_SHA1),
            checksum_sha256: string(h, &X_AMZ_CHECKSUM_SHA256),
            checksum_type: string(h, &X_AMZ_CHECKSUM_TYPE),
            content_disposition: string(h, &CONTENT_DISPOSITION),
            content_encoding: string(h, &CONTENT_ENCODING),
            content_language: string(h, &CONTENT_LANGUAGE),
            content_length: number(h, &CONTENT_LENGTH),
            content_range: string(h, &CONTENT_RANGE),
            content_type: string(h, &CONTENT_TYPE),
            delete_marker: flag(h, &X_AMZ_DELETE_MARKER),
            e_tag: etag(h),
            expiration: string(h, &X_AMZ_EXPIRATION),
            expires: time(h, &EXPIRES, TimestampFormat::HttpDate),
            last_modified: time(h, &LAST_MODIFIED, TimestampFormat::HttpDate),
            metadata: metadata(h),
            missing_meta: number(h, &X_AMZ_MISSING_META),
            object_lock_legal_hold_status: string(h, &X_AMZ_OBJECT_LOCK_LEGAL_HOLD),
            object_lock_mode: string(h, &X_AMZ_OBJECT_LOCK_MODE),
            object_lock_retain_until_date: time(
                h,
                &X_AMZ_OBJECT_LOCK_RETAIN_UNTIL_DATE,
                TimestampFormat::DateTime,
            ),
            parts_count: number(h, &X_AMZ_MP_PARTS_COUNT),
            replication_status: string(h, &X_AMZ_REPLICATION_STATUS),
            request_charged: string(h, &X_AMZ_REQUEST_CHARGED),
            restore: string(h, &X_AMZ_RESTORE),
            sse_customer_algorithm: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM),
            sse_customer_key_md5: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_KEY_MD5),
            ssekms_key_id: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID),
            server_side_encryption: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION),
            storage_class: string(h, &X_AMZ_STORAGE_CLASS),
            version_id: string(h, &X_AMZ_VERSION_ID),
            website_redirect_location: string(h, &X_AMZ_WEBSITE_REDIRECT_LOCATION),
            $($extra)*
        }
    }};
}

/// GetObject's headers; the caller attaches the body (sized by `content_length`).
pub fn get_output(h: &HeaderMap) -> GetObjectOutput {
    object_headers!(
        h,
        GetObjectOutput {
            body: None,
            tag_count: number(h, &X_AMZ_TAGGING_COUNT),
        }
    )
}

pub fn head_output(h: &HeaderMap) -> HeadObjectOutput {
    object_headers!(
        h,
        HeadObjectOutput {
            archive_status: string(h, &X_AMZ_ARCHIVE_STATUS),
        }
    )
}

pub fn put_output(h: &HeaderMap) -> PutObjectOutput {
    PutObjectOutput {
        bucket_key_enabled: flag(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_BUCKET_KEY_ENABLED),
        checksum_crc32: string(h, &X_AMZ_CHECKSUM_CRC32),
        checksum_crc32c: string(h, &X_AMZ_CHECKSUM_CRC32C),
        checksum_crc64nvme: string(h, &X_AMZ_CHECKSUM_CRC64NVME),
        checksum_sha1: string(h, &X_AMZ_CHECKSUM_SHA1),
        checksum_sha256: string(h, &X_AMZ_CHECKSUM_SHA256),
        checksum_type: string(h, &X_AMZ_CHECKSUM_TYPE),
        e_tag: etag(h),
        expiration: string(h, &X_AMZ_EXPIRATION),
        request_charged: string(h, &X_AMZ_REQUEST_CHARGED),
        sse_customer_algorithm: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM),
        sse_customer_key_md5: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_KEY_MD5),
        ssekms_encryption_context: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CONTEXT),
        ssekms_key_id: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID),
        server_side_encryption: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION),
        size: number(h, &X_AMZ_OBJECT_SIZE),
        version_id: string(h, &X_AMZ_VERSION_ID),
    }
}

pub fn upload_part_output(h: &HeaderMap) -> UploadPartOutput {
    UploadPartOutput {
        bucket_key_enabled: flag(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_BUCKET_KEY_ENABLED),
        checksum_crc32: string(h, &X_AMZ_CHECKSUM_CRC32),
        checksum_crc32c: string(h, &X_AMZ_CHECKSUM_CRC32C),
        checksum_crc64nvme: string(h, &X_AMZ_CHECKSUM_CRC64NVME),
        checksum_sha1: string(h, &X_AMZ_CHECKSUM_SHA1),
        checksum_sha256: string(h, &X_AMZ_CHECKSUM_SHA256),
        e_tag: etag(h),
        request_charged: string(h, &X_AMZ_REQUEST_CHARGED),
        sse_customer_algorithm: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM),
        sse_customer_key_md5: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_KEY_MD5),
        ssekms_key_id: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID),
        server_side_encryption: string(h, &X_AMZ_SERVER_SIDE_ENCRYPTION),
    }
}

/// A ListObjectsV2 answer (`ListBucketResult`). Strict: an element it does not know is an
/// error, and the caller asks again through the SDK rather than drop what the store said.
pub fn list_v2_output(h: &HeaderMap, xml: &[u8]) -> Result<ListObjectsV2Output, s3s::xml::DeError> {
    let mut out = list_v2_head(h);
    let (mut contents, mut prefixes) = (Vec::new(), Vec::new());
    let mut d = s3s::xml::Deserializer::new(xml);
    d.element(|d, _root| {
        d.for_each_element(|d, name| {
            match name {
                b"Name" => out.name = Some(d.content()?),
                b"Prefix" => out.prefix = Some(d.content()?),
                b"Delimiter" => out.delimiter = Some(d.content()?),
                b"MaxKeys" => out.max_keys = Some(d.content()?),
                b"KeyCount" => out.key_count = Some(d.content()?),
                b"IsTruncated" => out.is_truncated = Some(d.content()?),
                b"ContinuationToken" => out.continuation_token = Some(d.content()?),
                b"NextContinuationToken" => out.next_continuation_token = Some(d.content()?),
                b"StartAfter" => out.start_after = Some(d.content()?),
                b"EncodingType" => out.encoding_type = Some(d.content()?),
                b"Contents" => contents.push(d.content()?),
                b"CommonPrefixes" => prefixes.push(d.content()?),
                _ => return Err(s3s::xml::DeError::UnexpectedTagName),
            }
            Ok(())
        })
    })?;
    out.contents = (!contents.is_empty()).then_some(contents);
    out.common_prefixes = (!prefixes.is_empty()).then_some(prefixes);
    Ok(out)
}

/// What a ListObjectsV2 answer's headers say (its page is in the body).
pub fn list_v2_head(h: &HeaderMap) -> ListObjectsV2Output {
    ListObjectsV2Output {
        request_charged: string(h, &X_AMZ_REQUEST_CHARGED),
        ..Default::default()
    }
}

/// The request-id headers s3s-aws copies onto its answers.
pub fn id_headers(h: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for n in [X_AMZ_REQUEST_ID, X_AMZ_ID_2] {
        if let Some(v) = h.get(&n) {
            out.insert(n, v.clone());
        }
    }
    out
}

/// The first `<tag>…</tag>` text in an S3 error document, XML entities decoded.
fn element(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..start + len];
    // Text in a CDATA section (moto's error messages) is literal.
    if let Some(text) = raw
        .strip_prefix("<![CDATA[")
        .and_then(|r| r.strip_suffix("]]>"))
    {
        return Some(text.to_owned());
    }
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// A store's error answer: its code, message and status, as the SDK path reports them.
pub fn error(status: http::StatusCode, h: &HeaderMap, body: &[u8]) -> S3Error {
    let mut err = S3Error::new(S3ErrorCode::InternalError);
    let xml = std::str::from_utf8(body).unwrap_or("");
    let code = if body.is_empty() {
        (status == http::StatusCode::NOT_FOUND).then(|| "NotFound".to_owned())
    } else {
        element(xml, "Code")
    };
    if let Some(c) = code.and_then(|c| S3ErrorCode::from_bytes(c.as_bytes())) {
        err.set_code(c);
    }
    if let Some(m) = element(xml, "Message") {
        err.set_message(m);
    }
    if let Some(id) = text(h, &X_AMZ_REQUEST_ID) {
        err.set_request_id(id);
    }
    // A HEAD or GET of a delete marker says so (S3's 404 and 405 carry these).
    let mut keep = HeaderMap::new();
    for name in [&X_AMZ_DELETE_MARKER, &X_AMZ_VERSION_ID] {
        if let Some(v) = h.get(name) {
            keep.insert(name.clone(), v.clone());
        }
    }
    if !keep.is_empty() {
        err.set_headers(keep);
    }
    err.set_status_code(status);
    err
}

/// A store's response body as the stream the layer above reads; its length is known from
/// Content-Length, as the SDK's body reports it.
pub struct Body {
    inner: hyper::body::Incoming,
    remaining: Option<usize>,
}

impl Body {
    pub fn blob(inner: hyper::body::Incoming, length: Option<usize>) -> StreamingBlob {
        StreamingBlob::new(Body {
            inner,
            remaining: length,
        })
    }
}

impl Stream for Body {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(b) => {
                        if let Some(r) = self.remaining.as_mut() {
                            *r = r.saturating_sub(b.len());
                        }
                        Poll::Ready(Some(Ok(b)))
                    }
                    Err(_) => continue,
                },
                Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl ByteStream for Body {
    fn remaining_length(&self) -> RemainingLength {
        match self.remaining {
            Some(n) => RemainingLength::new_exact(n),
            None => RemainingLength::unknown(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_code_message_and_status() {
        let h = HeaderMap::new();
        let xml = b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>a &amp; b</Message></Error>";
        let e = error(http::StatusCode::NOT_FOUND, &h, xml);
        assert_eq!(e.code(), &S3ErrorCode::NoSuchKey);
        assert_eq!(e.message(), Some("a & b"));
        assert_eq!(e.status_code(), Some(http::StatusCode::NOT_FOUND));

        let head = error(http::StatusCode::NOT_FOUND, &h, b"");
        assert_eq!(head.code().as_str(), "NotFound");
        let cond = error(http::StatusCode::PRECONDITION_FAILED, &h, b"");
        assert_eq!(cond.code(), &S3ErrorCode::InternalError);
        assert_eq!(
            cond.status_code(),
            Some(http::StatusCode::PRECONDITION_FAILED)
        );
    }

    #[test]
    fn listings_parse_and_unknown_elements_are_refused() {
        let h = HeaderMap::new();
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key><LastModified>2026-11-30T00:00:00.000Z</LastModified><ETag>&quot;e1&quot;</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>x/</Prefix></CommonPrefixes></ListBucketResult>"#;
        let o = list_v2_output(&h, xml).unwrap();
        assert_eq!(o.name.as_deref(), Some("b"));
        assert_eq!(o.prefix.as_deref(), Some(""));
        assert_eq!(o.key_count, Some(2));
        assert_eq!(o.is_truncated, Some(false));
        let c = &o.contents.unwrap()[0];
        assert_eq!(c.key.as_deref(), Some("a&b"));
        assert_eq!(c.e_tag, Some(ETag::Strong("e1".into())));
        assert_eq!(c.size, Some(7));
        assert_eq!(o.common_prefixes.unwrap()[0].prefix.as_deref(), Some("x/"));
        let odd = br#"<ListBucketResult><Name>b</Name><Surprise>1</Surprise></ListBucketResult>"#;
        assert!(list_v2_output(&h, odd).is_err());
    }

    #[test]
    fn headers_fill_the_output() {
        let mut h = HeaderMap::new();
        h.insert("etag", "\"abc\"".parse().unwrap());
        h.insert("content-length", "42".parse().unwrap());
        h.insert(
            "last-modified",
            "Sun, 29 Nov 2026 23:46:29 GMT".parse().unwrap(),
        );
        h.insert("x-amz-meta-s3seal-k", "v".parse().unwrap());
        h.insert("x-amz-tagging-count", "2".parse().unwrap());
        h.insert("x-amz-version-id", "v1".parse().unwrap());
        let o = head_output(&h);
        assert_eq!(o.e_tag, Some(ETag::Strong("abc".into())));
        assert_eq!(o.content_length, Some(42));
        assert!(o.last_modified.is_some());
        assert_eq!(o.metadata.unwrap()["s3seal-k"], "v");
        assert_eq!(o.version_id.as_deref(), Some("v1"));
    }
}
