//! The lean upstream path: GetObject, HeadObject, PutObject and UploadPart (the calls every
//! object read and write makes) and ListObjectsV2 go to the store over a pooled hyper client
//! with a hand-built path-style URL and SigV4 signature (`sigv4`), instead of through
//! aws-sdk-s3's request pipeline, which costs ~200 µs of CPU per call (docs/PERFORMANCE.md,
//! round 3).
//!
//! It takes a request only when it can send everything the request says: a field it does not
//! carry (ACL grants, object lock, SSE, checksums, response overrides, payer, owner) sends that
//! request through the SDK as before, and so does every other operation. It is only built for
//! a path-style `http://` endpoint with static credentials (`applies`); TLS, virtual-host
//! addressing and the credential chain stay on the SDK.

pub(crate) mod listing;
mod reply;
mod sigv4;
mod wire;

pub(crate) use wire::encode_into;

use crate::config::UpstreamConfig;
use crate::upstream::Upstream;
use bytes::Bytes;
use futures::TryStreamExt;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Empty, StreamBody, combinators::BoxBody};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, StdError, s3_error};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use wire::Target;

type ReqBody = BoxBody<Bytes, StdError>;

/// Object calls taken by the lean path and those it handed to the SDK (for `/metrics`).
static LEAN: AtomicU64 = AtomicU64::new(0);
static SDK: AtomicU64 = AtomicU64::new(0);

/// (lean, sdk) object calls so far in this process; both stay 0 when the lean path is off.
pub(crate) fn counts() -> (u64, u64) {
    (LEAN.load(Ordering::Relaxed), SDK.load(Ordering::Relaxed))
}

/// ListObjectsV2 pages handed over scanned ([`listing`]) rather than parsed.
static SCANNED: AtomicU64 = AtomicU64::new(0);

/// Pages listed by scanning so far in this process (for `/metrics`).
pub(crate) fn pages_scanned() -> u64 {
    SCANNED.load(Ordering::Relaxed)
}

/// Counts which path a call takes.
fn took<T>(plan: Option<T>) -> Option<T> {
    let which = if plan.is_some() { &LEAN } else { &SDK };
    which.fetch_add(1, Ordering::Relaxed);
    plan
}

pub struct Lean {
    sdk: Upstream,
    target: Target,
    http: Client<HttpConnector, ReqBody>,
}

/// The endpoint's `http://host:port` when the config allows the lean path: `upstream.lean`, a
/// path-style `http://` endpoint with no path of its own, and static credentials.
fn origin(cfg: &UpstreamConfig) -> Option<http::uri::Authority> {
    let UpstreamConfig::S3 {
        endpoint: Some(ep),
        path_style: true,
        lean: true,
        access_key_id: Some(_),
        secret_access_key,
        secret_access_key_env,
        ..
    } = cfg
    else {
        return None;
    };
    let uri = ep.parse::<http::Uri>().ok()?;
    let plain = uri.scheme_str() == Some("http")
        && matches!(uri.path(), "" | "/")
        && uri.query().is_none()
        && (secret_access_key.is_some() || secret_access_key_env.is_some());
    uri.authority().filter(|_| plain).cloned()
}

/// Whether `lean_for` puts the lean path in front (for the startup banner).
pub fn applies(cfg: &UpstreamConfig) -> bool {
    origin(cfg).is_some()
}

/// The lean path in front of `sdk` when the config allows it (see `origin`), else `sdk`.
pub fn lean_for(cfg: &UpstreamConfig, sdk: Upstream, creds: Option<(String, String)>) -> Upstream {
    let (Some(authority), Some((ak, sk)), UpstreamConfig::S3 { region, .. }) =
        (origin(cfg), creds, cfg)
    else {
        return sdk;
    };
    let mut conn = HttpConnector::new();
    conn.set_nodelay(true);
    // Idle connections are dropped before common store keep-alive limits (S3 ~20 s, nginx
    // 75 s) would close them under a request whose streamed body could not be sent again.
    // hyper's default read buffer (up to ~408 KiB per pooled connection) is kept: capping it
    // at 256 KiB cost a large GET ~15-20 % in the e2e bench (docs/PERFORMANCE.md, round 6).
    let http = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(std::time::Duration::from_secs(15))
        .pool_timer(hyper_util::rt::TokioTimer::new())
        .build(conn);
    let target = Target {
        origin: format!("http://{authority}"),
        host: wire::host_header(&authority),
        signer: sigv4::Signer::new(ak, sk, region.clone()),
    };
    Arc::new(Lean { sdk, target, http })
}

/// One object request the lean path can send whole (the body, if any, goes separately).
struct Plan {
    bucket: String,
    key: String,
    query: Vec<(&'static str, String)>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// `Some` when every field the read sets is one the lean path sends.
macro_rules! read_plan {
    ($input:expr, $ty:ident) => {{
        let $ty {
            bucket,
            key,
            version_id,
            range,
            part_number,
            if_match,
            if_none_match,
            if_modified_since,
            if_unmodified_since,
            checksum_mode: None,
            expected_bucket_owner: None,
            request_payer: None,
            response_cache_control: None,
            response_content_disposition: None,
            response_content_encoding: None,
            response_content_language: None,
            response_content_type: None,
            response_expires: None,
            sse_customer_algorithm: None,
            sse_customer_key: None,
            sse_customer_key_md5: None,
        } = $input
        else {
            return None;
        };
        let mut query = Vec::new();
        if let Some(n) = part_number {
            query.push(("partNumber", n.to_string()));
        }
        if let Some(v) = version_id {
            query.push(("versionId", v.clone()));
        }
        let mut h = Headers::default();
        h.opt(
            http::header::RANGE,
            range.as_ref().map(Range::to_header_string),
        );
        h.etag(http::header::IF_MATCH, if_match.as_ref());
        h.etag(http::header::IF_NONE_MATCH, if_none_match.as_ref());
        h.date(http::header::IF_MODIFIED_SINCE, if_modified_since.as_ref());
        h.date(
            http::header::IF_UNMODIFIED_SINCE,
            if_unmodified_since.as_ref(),
        );
        h.done().map(|headers| Plan {
            bucket: bucket.clone(),
            key: key.clone(),
            query,
            headers,
        })
    }};
}

fn get_plan(i: &GetObjectInput) -> Option<Plan> {
    read_plan!(i, GetObjectInput)
}

fn head_plan(i: &HeadObjectInput) -> Option<Plan> {
    read_plan!(i, HeadObjectInput)
}

/// Request headers under construction; any value HTTP cannot carry as-is (or the signer
/// cannot read) spoils the lot, and the request takes the SDK path.
#[derive(Default)]
struct Headers {
    list: Vec<(HeaderName, HeaderValue)>,
    spoiled: bool,
}

impl Headers {
    fn opt(&mut self, name: HeaderName, v: Option<String>) {
        let Some(v) = v else { return };
        match HeaderValue::from_str(&v) {
            Ok(v) if v.to_str().is_ok() => self.list.push((name, v)),
            _ => self.spoiled = true,
        }
    }

    fn etag(&mut self, name: HeaderName, v: Option<&ETagCondition>) {
        let Some(v) = v else { return };
        match v.to_http_header() {
            Ok(v) => self.list.push((name, v)),
            Err(_) => self.spoiled = true,
        }
    }

    fn date(&mut self, name: HeaderName, v: Option<&Timestamp>) {
        let Some(v) = v else { return };
        let mut buf = Vec::new();
        match v.format(TimestampFormat::HttpDate, &mut buf) {
            Ok(()) => self.opt(name, String::from_utf8(buf).ok()),
            Err(_) => self.spoiled = true,
        }
    }

    fn done(self) -> Option<Vec<(HeaderName, HeaderValue)>> {
        (!self.spoiled).then_some(self.list)
    }
}

fn put_plan(i: &PutObjectInput) -> Option<Plan> {
    let PutObjectInput {
        body: _,
        bucket,
        key,
        content_length: Some(len),
        metadata,
        cache_control,
        content_disposition,
        content_encoding,
        content_language,
        content_type,
        expires,
        tagging,
        storage_class,
        website_redirect_location,
        if_match,
        if_none_match,
        acl: None,
        bucket_key_enabled: None,
        checksum_algorithm: None,
        checksum_crc32: None,
        checksum_crc32c: None,
        checksum_crc64nvme: None,
        checksum_sha1: None,
        checksum_sha256: None,
        content_md5: None,
        expected_bucket_owner: None,
        grant_full_control: None,
        grant_read: None,
        grant_read_acp: None,
        grant_write_acp: None,
        object_lock_legal_hold_status: None,
        object_lock_mode: None,
        object_lock_retain_until_date: None,
        request_payer: None,
        sse_customer_algorithm: None,
        sse_customer_key: None,
        sse_customer_key_md5: None,
        ssekms_encryption_context: None,
        ssekms_key_id: None,
        server_side_encryption: None,
        write_offset_bytes: None,
    } = i
    else {
        return None;
    };
    use http::header::*;
    let mut h = Headers::default();
    h.opt(CONTENT_LENGTH, Some(len.to_string()));
    h.opt(CACHE_CONTROL, cache_control.clone());
    h.opt(CONTENT_DISPOSITION, content_disposition.clone());
    h.opt(CONTENT_ENCODING, content_encoding.clone());
    h.opt(CONTENT_LANGUAGE, content_language.clone());
    h.opt(CONTENT_TYPE, content_type.clone());
    h.date(EXPIRES, expires.as_ref());
    h.opt(s3s::header::X_AMZ_TAGGING, tagging.clone());
    h.opt(
        s3s::header::X_AMZ_STORAGE_CLASS,
        storage_class.as_ref().map(|s| s.as_str().to_owned()),
    );
    h.opt(
        s3s::header::X_AMZ_WEBSITE_REDIRECT_LOCATION,
        website_redirect_location.clone(),
    );
    h.etag(IF_MATCH, if_match.as_ref());
    h.etag(IF_NONE_MATCH, if_none_match.as_ref());
    for (k, v) in metadata.iter().flatten() {
        match HeaderName::from_bytes(format!("x-amz-meta-{k}").as_bytes()) {
            Ok(n) => h.opt(n, Some(v.clone())),
            Err(_) => h.spoiled = true,
        }
    }
    h.done().map(|headers| Plan {
        bucket: bucket.clone(),
        key: key.clone(),
        query: Vec::new(),
        headers,
    })
}

fn part_plan(i: &UploadPartInput) -> Option<Plan> {
    let UploadPartInput {
        body: _,
        bucket,
        key,
        part_number,
        upload_id,
        content_length: Some(len),
        checksum_algorithm: None,
        checksum_crc32: None,
        checksum_crc32c: None,
        checksum_crc64nvme: None,
        checksum_sha1: None,
        checksum_sha256: None,
        content_md5: None,
        expected_bucket_owner: None,
        request_payer: None,
        sse_customer_algorithm: None,
        sse_customer_key: None,
        sse_customer_key_md5: None,
    } = i
    else {
        return None;
    };
    let mut h = Headers::default();
    h.opt(http::header::CONTENT_LENGTH, Some(len.to_string()));
    h.done().map(|headers| Plan {
        bucket: bucket.clone(),
        key: key.clone(),
        query: vec![
            ("partNumber", part_number.to_string()),
            ("uploadId", upload_id.clone()),
        ],
        headers,
    })
}

/// The query of a ListObjectsV2 the lean path can send, `None` if it sets anything else.
fn list_v2_plan(i: &ListObjectsV2Input) -> Option<Vec<(&'static str, String)>> {
    let ListObjectsV2Input {
        bucket: _,
        continuation_token,
        delimiter,
        encoding_type,
        fetch_owner,
        max_keys,
        prefix,
        start_after,
        expected_bucket_owner: None,
        optional_object_attributes: None,
        request_payer: None,
    } = i
    else {
        return None;
    };
    let mut q = vec![("list-type", "2".to_owned())];
    let mut add = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            q.push((k, v));
        }
    };
    add("continuation-token", continuation_token.clone());
    add("delimiter", delimiter.clone());
    add(
        "encoding-type",
        encoding_type.as_ref().map(|e| e.as_str().to_owned()),
    );
    add("fetch-owner", fetch_owner.map(|f| f.to_string()));
    add("max-keys", max_keys.map(|m| m.to_string()));
    add("prefix", prefix.clone());
    add("start-after", start_after.clone());
    Some(q)
}

fn empty() -> ReqBody {
    Empty::<Bytes>::new().map_err(|e| match e {}).boxed()
}

fn streamed(body: Option<StreamingBlob>) -> ReqBody {
    match body {
        None => empty(),
        Some(b) => StreamBody::new(b.map_ok(hyper::body::Frame::data)).boxed(),
    }
}

/// The store could not be reached or the request not built: InternalError, as the SDK path
/// reports a dispatch failure (and the read retry treats as transient).
fn dispatch(e: impl std::fmt::Display) -> S3Error {
    tracing::debug!(error = %e, "store request failed");
    s3_error!(InternalError, "The store could not be reached: {e}")
}

impl Lean {
    /// Sends one request; an answer outside 2xx becomes the store's error (its body read).
    async fn send(
        &self,
        method: Method,
        bucket: &str,
        key: &str,
        query: &[(&'static str, String)],
        headers: Vec<(HeaderName, HeaderValue)>,
        body: ReqBody,
    ) -> S3Result<http::Response<hyper::body::Incoming>> {
        let mut q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        q.sort_unstable();
        let pq = wire::path_and_query(bucket, key, &q);
        let req = wire::signed(&self.target, method, &pq, headers, body).map_err(dispatch)?;
        let resp = self.http.request(req).await.map_err(dispatch)?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let (parts, body) = resp.into_parts();
        // Error documents are small; a store that streams more is cut at 64 KiB.
        let limited = http_body_util::Limited::new(body, 64 << 10);
        let bytes = limited
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Err(reply::error(status, &parts.headers, &bytes))
    }

    /// PUTs `body` as `w` says; the store's answer headers.
    async fn write(&self, w: Plan, body: Option<StreamingBlob>) -> S3Result<http::HeaderMap> {
        let (bucket, key) = (&w.bucket, &w.key);
        let body = streamed(body);
        let resp = self
            .send(Method::PUT, bucket, key, &w.query, w.headers, body)
            .await?;
        Ok(resp.into_parts().0.headers)
    }
}

macro_rules! delegated {
    ($($op:ident: $input:ty => $output:ty;)*) => {
        $(
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<$input>,
            ) -> Pin<Box<dyn Future<Output = S3Result<S3Response<$output>>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.sdk.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Lean {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let Some(r) = took(get_plan(&req.input)) else {
            return self.sdk.get_object(req).await;
        };
        let resp = self
            .send(Method::GET, &r.bucket, &r.key, &r.query, r.headers, empty())
            .await?;
        let (parts, body) = resp.into_parts();
        let mut out = reply::get_output(&parts.headers);
        let length = out.content_length.and_then(|n| usize::try_from(n).ok());
        out.body = Some(reply::Body::blob(body, length));
        let mut resp = S3Response::with_headers(out, reply::id_headers(&parts.headers));
        if parts.status == StatusCode::PARTIAL_CONTENT {
            resp.status = Some(StatusCode::PARTIAL_CONTENT);
        }
        Ok(resp)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let Some(r) = took(head_plan(&req.input)) else {
            return self.sdk.head_object(req).await;
        };
        let resp = self
            .send(
                Method::HEAD,
                &r.bucket,
                &r.key,
                &r.query,
                r.headers,
                empty(),
            )
            .await?;
        let out = reply::head_output(resp.headers());
        Ok(S3Response::with_headers(
            out,
            reply::id_headers(resp.headers()),
        ))
    }

    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let Some(w) = took(put_plan(&req.input)) else {
            return self.sdk.put_object(req).await;
        };
        let h = self.write(w, req.input.body.take()).await?;
        Ok(S3Response::with_headers(
            reply::put_output(&h),
            reply::id_headers(&h),
        ))
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let Some(w) = took(part_plan(&req.input)) else {
            return self.sdk.upload_part(req).await;
        };
        let h = self.write(w, req.input.body.take()).await?;
        let out = reply::upload_part_output(&h);
        Ok(S3Response::with_headers(out, reply::id_headers(&h)))
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        // A listing the parser refuses is asked again through the SDK (and counted there).
        let Some(q) = took(list_v2_plan(&req.input)) else {
            return self.sdk.list_objects_v2(req).await;
        };
        let b = req.input.bucket.as_str();
        let resp = self
            .send(Method::GET, b, "", &q, Vec::new(), empty())
            .await?;
        let (parts, body) = resp.into_parts();
        let xml = body.collect().await.map_err(dispatch)?.to_bytes();
        if req.extensions.get::<listing::WantRaw>().is_some()
            && let Some(page) = listing::scan(xml.clone())
        {
            let mut r = S3Response::with_headers(
                reply::list_v2_head(&parts.headers),
                reply::id_headers(&parts.headers),
            );
            r.extensions.insert(page);
            SCANNED.fetch_add(1, Ordering::Relaxed);
            return Ok(r);
        }
        match reply::list_v2_output(&parts.headers, &xml) {
            Ok(out) => Ok(S3Response::with_headers(
                out,
                reply::id_headers(&parts.headers),
            )),
            Err(e) => {
                tracing::debug!(error = ?e, "store listing not understood; asking through the SDK");
                LEAN.fetch_sub(1, Ordering::Relaxed);
                SDK.fetch_add(1, Ordering::Relaxed);
                self.sdk.list_objects_v2(req).await
            }
        }
    }

    crate::s3_ops::passthrough_ops!(delegated);
}
