//! Conditional writes: If-Match and If-None-Match on PutObject, CompleteMultipartUpload,
//! CopyObject and DeleteObject(s).
//!
//! A client names the ETag it sees, and for a sealed object that is not the store's
//! (etag.rs). Passed through, `If-Match: <the current ETag>` failed every time and an
//! ETag-valued If-None-Match never held. So the gateway judges the client's condition
//! against the key's current object as clients see it, then asks the store to write only if
//! the object is still the one judged (`If-Match` with the store's own ETag, or
//! `If-None-Match: *` when there was none). The write stays atomic wherever the store
//! supports conditional writes; one that ignores them still gets the gateway's check.

use super::{Seal, etag, meta, sub_request};
use s3s::dto::{
    CompleteMultipartUploadInput, DeleteObjectInput, DeleteObjectsInput, DeleteObjectsOutput, ETag,
    ETagCondition, Error, HeadObjectInput, HeadObjectOutput, PutObjectInput,
};
use s3s::{S3Request, S3Response, S3Result, s3_error};

/// The two write preconditions, in the client's terms or (after [`Seal::store_conditions`])
/// in the store's.
#[derive(Debug, Default, Clone)]
pub(super) struct WriteConditions {
    pub if_match: Option<ETagCondition>,
    pub if_none_match: Option<ETagCondition>,
}

impl WriteConditions {
    /// The conditions of a request whose input has no fields for them (CopyObject in s3s).
    pub fn from_headers(h: &http::HeaderMap) -> S3Result<WriteConditions> {
        let parse = |name: http::HeaderName| -> S3Result<Option<ETagCondition>> {
            let Some(v) = h.get(&name) else {
                return Ok(None);
            };
            ETagCondition::parse_http_header(v.as_bytes())
                .map(Some)
                .map_err(|_| s3_error!(InvalidArgument, "{name} is not a valid ETag condition"))
        };
        Ok(WriteConditions {
            if_match: parse(http::header::IF_MATCH)?,
            if_none_match: parse(http::header::IF_NONE_MATCH)?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.if_match.is_none() && self.if_none_match.is_none()
    }

    /// Puts these conditions in `h` in place of the client's, for paths that read headers.
    pub fn set_headers(&self, h: &mut http::HeaderMap) {
        for (name, c) in [
            (http::header::IF_MATCH, &self.if_match),
            (http::header::IF_NONE_MATCH, &self.if_none_match),
        ] {
            h.remove(&name);
            if let Some(v) = c.as_ref().and_then(|c| c.to_http_header().ok()) {
                h.insert(name, v);
            }
        }
    }
}

/// The key's current object: the ETag clients see, the plaintext MD5 older gateways showed,
/// and the store's own ETag.
struct Current {
    visible: ETag,
    alt: Option<String>,
    stored: ETag,
}

impl Current {
    fn of(head: &HeadObjectOutput) -> S3Result<Current> {
        let stored = head.e_tag.clone().unwrap_or(ETag::Strong(String::new()));
        let info = meta::parse(head.metadata.as_ref()).map_err(super::object::bad_meta)?;
        Ok(match info {
            Some(info) => Current {
                visible: etag::visible(&stored),
                alt: info.md5,
                stored,
            },
            None => Current {
                visible: stored.clone(),
                alt: None,
                stored,
            },
        })
    }

    fn is(&self, e: &ETag) -> bool {
        let want = e.value().trim_matches('"');
        want == self.visible.value() || self.alt.as_deref() == Some(want)
    }
}

/// A write whose input carries its own conditions: the key it writes and the two fields
/// (DeleteObject has no If-None-Match).
pub(super) trait Conditional {
    fn fields(&mut self) -> (&str, &str, CondFields<'_>);
}

/// The condition fields of an input, borrowed for translation in place.
pub(super) type CondFields<'a> = (
    &'a mut Option<ETagCondition>,
    Option<&'a mut Option<ETagCondition>>,
);

macro_rules! conditional {
    ($($ty:ty => |$i:ident| $none:expr;)*) => {$(
        impl Conditional for $ty {
            fn fields(&mut self) -> (&str, &str, CondFields<'_>) {
                let $i = self;
                (&$i.bucket, &$i.key, (&mut $i.if_match, $none))
            }
        }
    )*};
}

conditional! {
    PutObjectInput => |i| Some(&mut i.if_none_match);
    CompleteMultipartUploadInput => |i| Some(&mut i.if_none_match);
    DeleteObjectInput => |i| None;
}

impl Seal {
    /// Replaces the request's own conditions with the store's ([`Self::store_conditions`]);
    /// a request without any costs nothing.
    pub(super) async fn judge_conditions<T: Conditional>(
        &self,
        req: &mut S3Request<T>,
    ) -> S3Result<()> {
        let (bucket, key, (m, n)) = req.input.fields();
        if m.is_none() && n.as_ref().is_none_or(|n| n.is_none()) {
            return Ok(());
        }
        let asked = WriteConditions {
            if_match: m.take(),
            if_none_match: n.and_then(Option::take),
        };
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        let c = self
            .store_conditions(req, (&bucket, &key), asked, false)
            .await?;
        let (_, _, (m, n)) = req.input.fields();
        *m = c.if_match;
        if let Some(n) = n {
            *n = c.if_none_match;
        }
        Ok(())
    }

    /// Judges `c` against the current object of `bucket`/`key` and returns what to ask the
    /// store: PreconditionFailed when it fails, NoSuchKey for If-Match on a missing key (S3's
    /// answers). `*` needs no translation, so it costs a lookup only with `judge_stars`, for
    /// a write that may reach a store which does not see the conditions (CopyObject through
    /// aws-sdk-s3, whose s3s input has no field for them).
    pub(super) async fn store_conditions<T>(
        &self,
        req: &S3Request<T>,
        (bucket, key): (&str, &str),
        c: WriteConditions,
        judge_stars: bool,
    ) -> S3Result<WriteConditions> {
        let named = |c: &Option<ETagCondition>| match c {
            Some(ETagCondition::ETag(_)) => true,
            Some(ETagCondition::Any) => judge_stars,
            None => false,
        };
        if !named(&c.if_match) && !named(&c.if_none_match) {
            return Ok(c);
        }
        let head_in = HeadObjectInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            ..Default::default()
        };
        let current = match self.up.head_object(sub_request(req, head_in)).await {
            Ok(r) => Some(Current::of(&r.output)?),
            Err(e) if matches!(e.code().as_str(), "NoSuchKey" | "NotFound") => None,
            Err(e) => return Err(e),
        };
        let mut out = WriteConditions::default();
        match (&c.if_match, &current) {
            (None, _) => {}
            (Some(ETagCondition::Any), None) if judge_stars => {
                return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
            }
            (Some(ETagCondition::Any), _) => out.if_match = c.if_match.clone(),
            (Some(ETagCondition::ETag(_)), None) => {
                return Err(s3_error!(NoSuchKey, "The specified key does not exist."));
            }
            (Some(ETagCondition::ETag(e)), Some(cur)) if cur.is(e) => {
                out.if_match = Some(ETagCondition::ETag(cur.stored.clone()));
            }
            (Some(ETagCondition::ETag(_)), Some(_)) => return Err(precondition_failed()),
        }
        match (&c.if_none_match, &current) {
            (None, _) => {}
            (Some(ETagCondition::Any), Some(_)) if judge_stars => return Err(precondition_failed()),
            (Some(ETagCondition::Any), _) => out.if_none_match = c.if_none_match.clone(),
            (Some(ETagCondition::ETag(e)), Some(cur)) if cur.is(e) => {
                return Err(precondition_failed());
            }
            // Another object (or none) was judged: write only if it is still the one there.
            (Some(ETagCondition::ETag(_)), Some(cur)) => {
                out.if_match
                    .get_or_insert_with(|| ETagCondition::ETag(cur.stored.clone()));
            }
            (Some(ETagCondition::ETag(_)), None) => {
                out.if_none_match = Some(ETagCondition::Any);
            }
        }
        Ok(out)
    }
}

impl Seal {
    /// DeleteObjects where a key may name the ETag it must still have: each such key is
    /// judged (and pinned to the store's ETag) like a DeleteObject with If-Match; a key that
    /// fails is reported in the answer's errors and not deleted.
    pub(super) async fn delete_objects_conditional(
        &self,
        mut req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let denied = (req.extensions)
            .remove::<crate::policy::DeniedDeletes>()
            .map(|d| d.0)
            .unwrap_or_default();
        if req.input.delete.objects.len() + denied.len() > 1000 {
            return Err(s3_error!(
                MalformedXML,
                "A DeleteObjects request names at most 1000 keys"
            ));
        }
        let bucket = req.input.bucket.clone();
        let mut errors: Vec<Error> = denied
            .into_iter()
            .map(|o| Error {
                code: Some("AccessDenied".to_owned()),
                message: Some("Access Denied".to_owned()),
                key: Some(o.key),
                version_id: o.version_id,
            })
            .collect();
        let mut keep = Vec::new();
        for mut o in std::mem::take(&mut req.input.delete.objects) {
            // A named version keeps its ETag as sent: the store then refuses a sealed
            // version's (it compares its own), which is safe, never a silent delete.
            let Some(e) = o.e_tag.take_if(|_| o.version_id.is_none()) else {
                keep.push(o);
                continue;
            };
            let asked = WriteConditions {
                if_match: Some(ETagCondition::ETag(e)),
                if_none_match: None,
            };
            match self
                .store_conditions(&req, (&bucket, &o.key), asked, false)
                .await
            {
                Ok(c) => {
                    o.e_tag = c.if_match.and_then(|c| c.as_etag().cloned());
                    keep.push(o);
                }
                Err(err) => errors.push(Error {
                    code: Some(err.code().as_str().to_owned()),
                    message: err.message().map(str::to_owned),
                    key: Some(o.key),
                    version_id: None,
                }),
            }
        }
        let mut resp = if keep.is_empty() {
            S3Response::new(DeleteObjectsOutput {
                deleted: Some(Vec::new()),
                ..Default::default()
            })
        } else {
            req.input.delete.objects = keep;
            self.up.delete_objects(req).await?
        };
        if !errors.is_empty() {
            resp.output
                .errors
                .get_or_insert_with(Vec::new)
                .extend(errors);
        }
        Ok(resp)
    }
}

pub(super) fn precondition_failed() -> s3s::S3Error {
    s3_error!(
        PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold"
    )
}
