//! Stores that name an answer's XML root differently from S3 (moto 5.2 answers ListParts with
//! `<ListPartsResponse>`; earlier 5.2 releases did the same for CompleteMultipartUpload).
//! boto3 and most SDKs do not look at the root's name; aws-sdk-s3 does and failed the call, so
//! every multipart upload through the gateway failed. This interceptor renames the root to the
//! one S3 sends, for the few small XML answers the gateway depends on (never a GetObject body,
//! which streams). Errors and answers that already match are passed through unchanged.

use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::primitives::SdkBody;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use bytes::Bytes;
use std::pin::Pin;
use std::task::{Context, Poll};

#[derive(Debug)]
pub struct XmlRoots;

/// The root element S3 sends for each operation whose answer is repaired.
fn expected_root(op: &str) -> Option<&'static str> {
    Some(match op {
        "ListParts" => "ListPartsResult",
        "CompleteMultipartUpload" => "CompleteMultipartUploadResult",
        "CreateMultipartUpload" => "InitiateMultipartUploadResult",
        "ListMultipartUploads" => "ListMultipartUploadsResult",
        "ListObjects" | "ListObjectsV2" => "ListBucketResult",
        "ListObjectVersions" => "ListVersionsResult",
        "CopyObject" => "CopyObjectResult",
        "UploadPartCopy" => "CopyPartResult",
        "DeleteObjects" => "DeleteResult",
        _ => return None,
    })
}

impl Intercept for XmlRoots {
    fn name(&self) -> &'static str {
        "s3seal XML root names"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(root) = cfg.load::<Metadata>().and_then(|m| expected_root(m.name())) else {
            return Ok(());
        };
        if !context.response().status().is_success() {
            return Ok(());
        }
        let body = context.response_mut().body_mut();
        let inner = std::mem::replace(body, SdkBody::taken());
        *body = SdkBody::from_body_1_x(Renamed {
            inner,
            buf: Vec::new(),
            root,
            done: false,
        });
        Ok(())
    }
}

/// Collects the (small) answer, then yields it with its root renamed.
struct Renamed {
    inner: SdkBody,
    buf: Vec<u8>,
    root: &'static str,
    done: bool,
}

impl http_body::Body for Renamed {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match std::task::ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    if let Some(d) = frame.data_ref() {
                        self.buf.extend_from_slice(d);
                    }
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => {
                    self.done = true;
                    let doc = std::mem::take(&mut self.buf);
                    let fixed = rename_root(&doc, self.root).unwrap_or(doc);
                    return Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::from(fixed)))));
                }
            }
        }
    }
}

/// `doc` with its root element renamed to `want`; None when it already is `want` or is an
/// error document (or not one this function can read).
pub fn rename_root(doc: &[u8], want: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(doc).ok()?;
    let mut at = 0;
    // Skip the declaration, comments and whitespace before the root.
    let open = loop {
        let lt = at + text[at..].find('<')?;
        let rest = &text[lt..];
        if rest.starts_with("<?") {
            at = lt + rest.find("?>")? + 2;
        } else if rest.starts_with("<!--") {
            at = lt + rest.find("-->")? + 3;
        } else {
            break lt + 1;
        }
    };
    let name_len = text[open..].find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
    let name = &text[open..open + name_len];
    if name == want || name == "Error" || name.is_empty() {
        return None;
    }
    let close_tag = format!("</{name}>");
    let close = text.rfind(&close_tag)?;
    let mut out = String::with_capacity(text.len() + 16);
    out.push_str(&text[..open]);
    out.push_str(want);
    out.push_str(&text[open + name_len..close]);
    out.push_str(&format!("</{want}>"));
    out.push_str(&text[close + close_tag.len()..]);
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::rename_root;

    #[test]
    fn roots_are_renamed_and_errors_left_alone() {
        let moto = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ListPartsResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket></ListPartsResponse>";
        assert_eq!(
            String::from_utf8(rename_root(moto, "ListPartsResult").unwrap()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<ListPartsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket></ListPartsResult>"
        );
        let good = b"<ListPartsResult><Bucket>b</Bucket></ListPartsResult>";
        assert!(rename_root(good, "ListPartsResult").is_none());
        let err = b"<?xml version=\"1.0\"?><Error><Code>NoSuchUpload</Code></Error>";
        assert!(rename_root(err, "ListPartsResult").is_none());
        assert!(rename_root(b"", "ListPartsResult").is_none());
        assert!(rename_root(b"<A>unclosed", "B").is_none());
        assert!(rename_root(&[0xff, 0xfe], "B").is_none());
    }
}
