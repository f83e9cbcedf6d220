//! The web console at `/console`: log in with a proxy user's keys, browse, upload, download,
//! delete, share. It has no powers of its own: every action is an S3 request signed as the
//! logged-in user and sent through the gateway's own S3 service in-process, so the same
//! SigV4 check, per-user rules, bucket policies and encryption apply as for any S3 client.
//!
//! It is served on its own listener (`server.console_listen`), a different origin from the S3
//! API: whatever the API serves (an uploaded SVG or HTML page, a share link) cannot script the
//! console or read its CSRF token.

mod html;
mod session;
pub mod thumb;

use crate::auth::Users;
use crate::throttle::{Throttle, Verdict};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use s3s::service::S3Service;
use serde::Deserialize;
use session::{Session, Sessions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

const JS: &str = include_str!("assets/console.js");
const CSS: &str = include_str!("assets/console.css");
const ICON: &str = include_str!("assets/favicon.svg");

/// Largest upload body the console takes in one request; the browser sends bigger files as
/// multipart parts of 8 MiB. Bounds the memory one upload request can pin.
pub const MAX_PART: usize = 16 * 1024 * 1024;
/// Console uploads are buffered whole (≤ `MAX_PART`) before the S3 call that checks the
/// user's rules, so their number is capped: any logged-in user, even a read-only one, could
/// otherwise hold 16 MiB per connection (1024 connections, 16 GiB). The page sends one part
/// at a time per upload; beyond this many at once the console answers 503 (try again).
pub const MAX_BUFFERED_UPLOADS: usize = 8;

/// Objects per listing page (each gets a HEAD for its owner and type).
const PAGE: i32 = 100;

/// S3's limit for presigned URLs: seven days.
const MAX_SHARE_SECS: u64 = 7 * 24 * 3600;

type Response = s3s::HttpResponse;

pub struct Console {
    service: S3Service,
    users: Users,
    sessions: Sessions,
    thumbs: thumb::Cache,
    /// The listener has TLS: cookies get Secure, responses HSTS.
    secure: bool,
    /// The S3 API listener's port, for share links (set once bound).
    api_port: std::sync::OnceLock<u16>,
    /// Upload bodies held in memory at once (see [`MAX_BUFFERED_UPLOADS`]).
    uploads: Arc<tokio::sync::Semaphore>,
}

/// A failed console action: status and a message fit to show the user.
struct Fail(u16, String);

impl Fail {
    fn new(status: u16, msg: impl Into<String>) -> Fail {
        Fail(status, msg.into())
    }
}

impl<E: ProvideErrorMetadata, R> From<SdkError<E, R>> for Fail {
    fn from(e: SdkError<E, R>) -> Fail {
        let code = e.code().unwrap_or("Error").to_owned();
        let status = match code.as_str() {
            "AccessDenied" | "InvalidAccessKeyId" | "SignatureDoesNotMatch" => 403,
            "NoSuchKey" | "NoSuchBucket" | "NoSuchUpload" | "NotFound" => 404,
            "EntityTooLarge" | "InvalidArgument" | "InvalidRequest" | "BadDigest"
            | "InvalidBucketName" | "KeyTooLongError" | "InvalidPart" => 400,
            "SlowDown" => 503,
            _ => 502,
        };
        let msg = match e.message() {
            Some(m) => format!("{code}: {m}"),
            None => code,
        };
        Fail(status, msg)
    }
}

impl Console {
    pub fn new(service: S3Service, users: Users, secure: bool) -> Console {
        Console {
            service,
            users,
            sessions: Sessions::default(),
            thumbs: thumb::cache(),
            secure,
            api_port: Default::default(),
            uploads: Arc::new(tokio::sync::Semaphore::new(MAX_BUFFERED_UPLOADS)),
        }
    }

    /// Share links point at the S3 API on this port (the browser's host name, another port).
    pub fn set_api_port(&self, port: u16) {
        let _ = self.api_port.set(port);
    }

    /// Whether a path on the console listener is the console's.
    pub fn owns_path(path: &str) -> bool {
        path == "/console" || path.starts_with("/console/")
    }

    /// Serves one console request; every response carries the security headers.
    pub async fn handle(
        &self,
        req: http::Request<hyper::body::Incoming>,
        throttle: &Throttle,
        peer: SocketAddr,
    ) -> Response {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let session = session::token_from(req.headers()).and_then(|t| self.sessions.get(&t));
        let user = session.as_ref().map(|s| s.access_key.clone());
        let mut resp = match self.route(req, session, throttle, peer).await {
            Ok(r) => r,
            Err(Fail(status, msg)) => fail_response(status, &msg, &path),
        };
        self.harden(&mut resp);
        tracing::info!(
            target: "s3seal::access",
            %peer,
            %method,
            operation = "Console",
            user = user.as_deref().unwrap_or("-"),
            path = %path,
            status = resp.status().as_u16(),
            duration_ms = start.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        resp
    }

    async fn route(
        &self,
        req: http::Request<hyper::body::Incoming>,
        session: Option<Session>,
        throttle: &Throttle,
        peer: SocketAddr,
    ) -> Result<Response, Fail> {
        let (parts, body) = req.into_parts();
        let rest = parts.uri.path()["/console".len()..].to_owned();
        let query = parse_form(parts.uri.query().unwrap_or(""));
        if parts.method != Method::GET && parts.method != Method::HEAD {
            self.check_origin(&parts)?;
        }
        match (&parts.method, rest.as_str()) {
            (&Method::GET, "") => return Ok(redirect("/console/")),
            (&Method::GET, "/static/console.js") => {
                return Ok(asset(JS, "text/javascript; charset=utf-8"));
            }
            (&Method::GET, "/static/console.css") => {
                return Ok(asset(CSS, "text/css; charset=utf-8"));
            }
            (&Method::GET, "/static/favicon.svg") => return Ok(asset(ICON, "image/svg+xml")),
            (&Method::POST, "/login") => return self.login(body, throttle, peer).await,
            _ => {}
        }
        let Some(s) = session else {
            return Ok(if rest.starts_with("/api/") {
                json(401, &serde_json::json!({"error": "Log in first."}))
            } else if parts.method == Method::GET {
                if rest == "/" {
                    page(200, html::login(None))
                } else {
                    redirect("/console/")
                }
            } else {
                page(
                    401,
                    html::login(Some("Your session has ended; log in again.")),
                )
            });
        };
        match (&parts.method, rest.as_str()) {
            (&Method::GET, "/") => self.index(&s).await,
            (&Method::POST, "/logout") => {
                let form = parse_form(&read_text(body).await?);
                if !s.csrf_ok(form.get("csrf").map(String::as_str)) {
                    return Err(Fail::new(403, "Missing or wrong CSRF token."));
                }
                if let Some(t) = session::token_from(&parts.headers) {
                    self.sessions.remove(&t);
                }
                let mut r = redirect("/console/");
                set_header(
                    &mut r,
                    header::SET_COOKIE,
                    &session::clear_cookie(self.secure),
                );
                Ok(r)
            }
            (&Method::GET, "/open") => {
                let b = query.get("bucket").map(|b| b.trim()).unwrap_or_default();
                Ok(redirect(&format!("/console/b/{}/", html::path_escape(b))))
            }
            (&Method::GET, r) if r.starts_with("/b/") => {
                let (bucket, prefix) = split_target(&r[3..])?;
                self.listing(&s, &bucket, &prefix, query.get("after")).await
            }
            (&Method::GET, r) if r.starts_with("/dl/") => {
                let (bucket, key) = split_object(&r[4..])?;
                self.download(&s, &bucket, &key).await
            }
            (&Method::GET, r) if r.starts_with("/thumb/") => {
                let (bucket, key) = split_object(&r[7..])?;
                self.thumbnail(&s, &bucket, &key).await
            }
            (_, r) if r.starts_with("/api/") => {
                let token = parts
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok());
                if !s.csrf_ok(token) {
                    return Err(Fail::new(403, "Missing or wrong CSRF token."));
                }
                self.api(&s, &parts, &r[5..], &query, body).await
            }
            _ => Err(Fail::new(404, "No such page.")),
        }
    }

    /// Browsers send Origin on cross-site POSTs; refuse those even before the CSRF check.
    fn check_origin(&self, parts: &http::request::Parts) -> Result<(), Fail> {
        let Some(origin) = parts.headers.get(header::ORIGIN) else {
            return Ok(());
        };
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let scheme = if self.secure { "https" } else { "http" };
        if origin.as_bytes() == format!("{scheme}://{host}").as_bytes() {
            Ok(())
        } else {
            Err(Fail::new(403, "Cross-origin request refused."))
        }
    }

    async fn login(
        &self,
        body: hyper::body::Incoming,
        throttle: &Throttle,
        peer: SocketAddr,
    ) -> Result<Response, Fail> {
        let form = parse_form(&read_text(body).await?);
        let ak = form.get("access_key").map(|s| s.trim()).unwrap_or("");
        let sk = form.get("secret_key").map(String::as_str).unwrap_or("");
        let ip = peer.ip();
        if let Verdict::Refuse(left) = throttle.check(ip, ak) {
            let msg = format!(
                "Too many failed logins; try again in {} s.",
                left.as_secs().max(1)
            );
            return Ok(page(429, html::login(Some(&msg))));
        }
        if ak.is_empty() || !self.users.verify(ak, sk) {
            // Hashed: a secret typed into the access-key field must not reach the log.
            let hint = crate::redact::key_hint(ak);
            tracing::info!(access_key = %hint, %peer, "console login failed");
            let delay = throttle.failure(ip, ak);
            tokio::time::sleep(delay).await;
            return Ok(page(
                401,
                html::login(Some(
                    "Wrong access key or secret key, or the key has expired.",
                )),
            ));
        }
        throttle.success(ip, ak);
        let client = self.client(ak, sk);
        let token = self.sessions.create(ak.to_owned(), sk.to_owned(), client);
        let mut r = redirect("/console/");
        set_header(
            &mut r,
            header::SET_COOKIE,
            &session::set_cookie(&token, self.secure),
        );
        Ok(r)
    }

    /// An S3 client signing as the user, dispatching to the gateway's own service in-process
    /// (no socket; the endpoint is never dialled).
    fn client(&self, ak: &str, sk: &str) -> aws_sdk_s3::Client {
        let conf = sdk_config(ak, sk, "http://s3seal.console.internal")
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .http_client(s3s_aws::Client::from(self.service.clone()))
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    async fn index(&self, s: &Session) -> Result<Response, Fail> {
        let (names, note) = match s.client.list_buckets().send().await {
            Ok(out) => (
                out.buckets()
                    .iter()
                    .filter_map(|b| b.name().map(str::to_owned))
                    .collect(),
                None,
            ),
            Err(e) => {
                let f = Fail::from(e);
                (
                    vec![],
                    Some(format!("Bucket names could not be listed ({}).", f.1)),
                )
            }
        };
        Ok(page(
            200,
            html::buckets(&s.access_key, &s.csrf, &names, note.as_deref()),
        ))
    }

    async fn listing(
        &self,
        s: &Session,
        bucket: &str,
        prefix: &str,
        after: Option<&String>,
    ) -> Result<Response, Fail> {
        let out = s
            .client
            .list_objects_v2()
            .bucket(bucket)
            .delimiter("/")
            .max_keys(PAGE)
            .set_prefix((!prefix.is_empty()).then(|| prefix.to_owned()))
            .set_continuation_token(after.cloned())
            // Keys may hold characters XML 1.0 cannot carry (C0 controls): asked raw, one
            // such key made the whole folder's listing unparseable (502).
            .encoding_type(aws_sdk_s3::types::EncodingType::Url)
            .send()
            .await?;
        let folders = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix().map(url_decoded))
            .collect();
        let objects: Vec<_> = out
            .contents()
            .iter()
            .map(|o| (url_decoded(o.key().unwrap_or_default()), o.clone()))
            .filter(|(k, _)| k != prefix)
            .collect();
        // Owner and content type come from each object's metadata: one HEAD per row, a few
        // at a time.
        let entries = futures::stream::iter(objects)
            .map(|(key, o)| async move {
                let head = s
                    .client
                    .head_object()
                    .bucket(bucket)
                    .key(&key)
                    .customize()
                    .mutate_request(|r| {
                        r.headers_mut().insert(crate::seal::meta::SHOW_OWNER, "1");
                    })
                    .send()
                    .await;
                let (owner, ctype) = match &head {
                    Ok(h) => (
                        h.metadata()
                            .and_then(|m| m.get(crate::seal::meta::OWNER))
                            .cloned()
                            .unwrap_or_default(),
                        h.content_type().map(str::to_owned),
                    ),
                    Err(_) => (String::new(), None),
                };
                html::Entry {
                    image: thumb::is_image(ctype.as_deref(), &key)
                        && o.size().unwrap_or(0) <= thumb::MAX_SOURCE,
                    size: o.size().unwrap_or(0),
                    modified: o
                        .last_modified()
                        .and_then(|t| t.fmt(aws_sdk_s3::primitives::DateTimeFormat::DateTime).ok())
                        .unwrap_or_default(),
                    owner,
                    key,
                }
            })
            .buffered(8)
            .collect()
            .await;
        let l = html::Listing {
            bucket,
            prefix,
            folders,
            entries,
            next: out.next_continuation_token().map(str::to_owned),
        };
        Ok(page(200, html::listing(&s.access_key, &s.csrf, &l)))
    }

    async fn download(&self, s: &Session, bucket: &str, key: &str) -> Result<Response, Fail> {
        let out = s.client.get_object().bucket(bucket).key(key).send().await?;
        let mut b = http::Response::builder()
            .status(200)
            // Never rendered by the browser on our origin: an uploaded HTML file must not
            // run script with the console's cookie.
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_DISPOSITION, attachment(key));
        if let Some(n) = out.content_length() {
            b = b.header(header::CONTENT_LENGTH, n);
        }
        Ok(b.body(s3s::Body::http_body(out.body.into_inner()))
            .expect("valid response"))
    }

    async fn thumbnail(&self, s: &Session, bucket: &str, key: &str) -> Result<Response, Fail> {
        // The HEAD is the permission check, every time: the cache is shared by all users.
        let head = s
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await?;
        if head.content_length().unwrap_or(0) > thumb::MAX_SOURCE {
            return Err(Fail::new(413, "Too large for a thumbnail."));
        }
        let id = (
            bucket.to_owned(),
            key.to_owned(),
            head.e_tag().unwrap_or_default().to_owned(),
        );
        let png = match self.thumbs.get(&id) {
            Some(p) => p,
            None => {
                // Bounds memory gateway-wide: at most MAX_DECODES sources and decodes at once.
                let _slot = thumb::decode_slot().await;
                let out = s.client.get_object().bucket(bucket).key(key).send().await?;
                let data = out
                    .body
                    .collect()
                    .await
                    .map_err(|e| Fail::new(502, format!("reading the object failed: {e}")))?
                    .into_bytes();
                let png = tokio::task::spawn_blocking(move || thumb::render(&data))
                    .await
                    .map_err(|_| Fail::new(500, "thumbnail task failed"))?
                    .map_err(|e| match e {
                        thumb::Refused::TooLarge(m) => {
                            Fail::new(413, format!("Too large for a thumbnail: {m}."))
                        }
                        thumb::Refused::Unreadable(m) => {
                            Fail::new(415, format!("Not a readable image: {m}"))
                        }
                    })?;
                let png = Bytes::from(png);
                self.thumbs.insert(id, png.clone());
                png
            }
        };
        let mut r = http::Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "image/png")
            .body(s3s::Body::from(png))
            .expect("valid response");
        set_header(&mut r, header::CACHE_CONTROL, "private, max-age=300");
        Ok(r)
    }

    /// A slot for one upload body in memory, held until its S3 call ends.
    fn upload_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Fail> {
        self.uploads.clone().try_acquire_owned().map_err(|_| {
            Fail::new(
                503,
                "The console is receiving too many uploads at once; try again in a moment.",
            )
        })
    }

    async fn api(
        &self,
        s: &Session,
        parts: &http::request::Parts,
        action: &str,
        q: &HashMap<String, String>,
        body: hyper::body::Incoming,
    ) -> Result<Response, Fail> {
        let arg = |name: &str| {
            q.get(name)
                .filter(|v| !v.is_empty())
                .map(String::as_str)
                .ok_or_else(|| Fail::new(400, format!("Missing parameter {name}.")))
        };
        let bucket = arg("bucket")?;
        let key = arg("key")?;
        let ctype = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        let c = &s.client;
        let v = match (&parts.method, action) {
            (&Method::PUT, "object") => {
                let _slot = self.upload_slot()?;
                let data = read_limited(body, MAX_PART).await?;
                let out = c
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .set_content_type(ctype)
                    .body(ByteStream::from(data))
                    .send()
                    .await?;
                serde_json::json!({"etag": out.e_tag()})
            }
            (&Method::POST, "mpu/create") => {
                let out = c
                    .create_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .set_content_type(ctype)
                    .send()
                    .await?;
                serde_json::json!({"upload_id": out.upload_id()})
            }
            (&Method::PUT, "mpu/part") => {
                let part: i32 = arg("part")?
                    .parse()
                    .map_err(|_| Fail::new(400, "part must be a number"))?;
                let _slot = self.upload_slot()?;
                let data = read_limited(body, MAX_PART).await?;
                let out = c
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(arg("upload_id")?)
                    .part_number(part)
                    .body(ByteStream::from(data))
                    .send()
                    .await?;
                serde_json::json!({"etag": out.e_tag()})
            }
            (&Method::POST, "mpu/complete") => {
                #[derive(Deserialize)]
                struct Part {
                    part: i32,
                    etag: String,
                }
                #[derive(Deserialize)]
                struct Done {
                    parts: Vec<Part>,
                }
                let done: Done = serde_json::from_slice(&read_limited(body, 1024 * 1024).await?)
                    .map_err(|e| Fail::new(400, format!("bad part list: {e}")))?;
                let parts = done
                    .parts
                    .into_iter()
                    .map(|p| {
                        aws_sdk_s3::types::CompletedPart::builder()
                            .part_number(p.part)
                            .e_tag(p.etag)
                            .build()
                    })
                    .collect();
                let out = c
                    .complete_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(arg("upload_id")?)
                    .multipart_upload(
                        aws_sdk_s3::types::CompletedMultipartUpload::builder()
                            .set_parts(Some(parts))
                            .build(),
                    )
                    .send()
                    .await?;
                serde_json::json!({"etag": out.e_tag()})
            }
            (&Method::POST, "mpu/abort") => {
                c.abort_multipart_upload()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(arg("upload_id")?)
                    .send()
                    .await?;
                serde_json::json!({})
            }
            (&Method::POST, "delete") => {
                c.delete_object().bucket(bucket).key(key).send().await?;
                serde_json::json!({})
            }
            (&Method::POST, "share") => {
                let secs: u64 = arg("expires")?
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_SHARE_SECS).contains(s))
                    .ok_or_else(|| {
                        Fail::new(
                            400,
                            format!("expires must be 1 to {MAX_SHARE_SECS} seconds"),
                        )
                    })?;
                // Only what the user may read can be shared.
                c.head_object().bucket(bucket).key(key).send().await?;
                let url = self.presign(s, parts, bucket, key, secs).await?;
                serde_json::json!({"url": url, "expires_in": secs})
            }
            _ => return Err(Fail::new(404, "No such console action.")),
        };
        Ok(json(200, &v))
    }

    /// A presigned GET signed with the user's own key, for the address the browser used.
    async fn presign(
        &self,
        s: &Session,
        parts: &http::request::Parts,
        bucket: &str,
        key: &str,
        secs: u64,
    ) -> Result<String, Fail> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                !h.is_empty()
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
            })
            .ok_or_else(|| Fail::new(400, "The request has no usable Host header."))?;
        let scheme = if self.secure { "https" } else { "http" };
        let host = match self.api_port.get() {
            Some(port) => with_port(host, *port),
            None => host.to_owned(),
        };
        let conf = sdk_config(
            &s.access_key,
            s.secret.as_str(),
            &format!("{scheme}://{host}"),
        )
        .build();
        let cfg = aws_sdk_s3::presigning::PresigningConfig::expires_in(Duration::from_secs(secs))
            .map_err(|e| Fail::new(400, e.to_string()))?;
        let req = aws_sdk_s3::Client::from_conf(conf)
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(cfg)
            .await
            .map_err(|e| Fail::new(500, format!("presigning failed: {e}")))?;
        Ok(req.uri().to_owned())
    }

    /// Security headers on every console response.
    pub fn harden(&self, r: &mut Response) {
        let h = r.headers_mut();
        let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(csp),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        // Console URLs (bucket and key names) never leak to other sites through Referer.
        // Not "no-referrer": with it, browsers send `Origin: null` on form posts, which the
        // origin check must refuse.
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
        h.entry(header::CACHE_CONTROL)
            .or_insert(HeaderValue::from_static("no-store"));
        if self.secure {
            h.insert(
                header::STRICT_TRANSPORT_SECURITY,
                HeaderValue::from_static("max-age=31536000"),
            );
        }
    }
}

/// An aws-sdk-s3 config signing as `ak`/`sk` against `endpoint`, path-style.
fn sdk_config(ak: &str, sk: &str, endpoint: &str) -> aws_sdk_s3::config::Builder {
    let creds = aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "s3seal-console");
    aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
}

/// API callers get JSON, page visitors an HTML page.
fn fail_response(status: u16, msg: &str, path: &str) -> Response {
    if path.starts_with("/console/api/") {
        return json(status, &serde_json::json!({"error": msg}));
    }
    page(status, html::error(status, msg))
}

fn set_header(r: &mut Response, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn page(status: u16, body: String) -> Response {
    http::Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(s3s::Body::from(body))
        .expect("valid response")
}

fn json(status: u16, v: &serde_json::Value) -> Response {
    http::Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .body(s3s::Body::from(v.to_string()))
        .expect("valid response")
}

fn asset(body: &'static str, ctype: &'static str) -> Response {
    http::Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, ctype)
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .body(s3s::Body::from(body.to_owned()))
        .expect("valid response")
}

/// `host[:port]` (a name, IPv4 or `[IPv6]`) with its port replaced by `port`.
fn with_port(host: &str, port: u16) -> String {
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    format!("{name}:{port}")
}

pub fn redirect(to: &str) -> Response {
    http::Response::builder()
        .status(303)
        .header(header::LOCATION, to)
        .body(s3s::Body::empty())
        .expect("valid response")
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
fn attachment(key: &str) -> String {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        html::query_escape(name)
    )
}

/// `a=b&c=d` with `+` as space and percent-escapes decoded; undecodable pairs are dropped.
fn parse_form(s: &str) -> HashMap<String, String> {
    s.split('&')
        .filter(|kv| !kv.is_empty())
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |x: &str| crate::policy::percent_decode(&x.replace('+', " "));
            Some((dec(k)?, dec(v)?))
        })
        .collect()
}

/// `bucket/prefix...` from a console path, decoded.
fn split_target(rest: &str) -> Result<(String, String), Fail> {
    let (b, p) = rest.split_once('/').unwrap_or((rest, ""));
    let dec =
        |x: &str| crate::policy::percent_decode(x).ok_or_else(|| Fail::new(400, "Malformed path."));
    let bucket = dec(b)?;
    if bucket.is_empty() {
        return Err(Fail::new(400, "No bucket named."));
    }
    Ok((bucket, dec(p)?))
}

fn split_object(rest: &str) -> Result<(String, String), Fail> {
    let (b, k) = split_target(rest)?;
    if k.is_empty() {
        return Err(Fail::new(400, "No object named."));
    }
    Ok((b, k))
}

/// A key or prefix from a listing asked with `encoding-type=url` (S3 writes a space as `+`).
fn url_decoded(v: &str) -> String {
    crate::policy::percent_decode(&v.replace('+', " ")).unwrap_or_else(|| v.to_owned())
}

async fn read_limited(body: hyper::body::Incoming, limit: usize) -> Result<Bytes, Fail> {
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Fail::new(
            413,
            format!("Request body over {limit} bytes; send large files in parts."),
        )),
        Err(e) => Err(Fail::new(400, format!("reading the request body: {e}"))),
    }
}

async fn read_text(body: hyper::body::Incoming) -> Result<String, Fail> {
    let b = read_limited(body, 16 * 1024).await?;
    String::from_utf8(b.to_vec()).map_err(|_| Fail::new(400, "Form is not UTF-8."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode() {
        let f = parse_form("access_key=AK+1&secret_key=a%2Bb%3D&x");
        assert_eq!(f["access_key"], "AK 1");
        assert_eq!(f["secret_key"], "a+b=");
        assert_eq!(f["x"], "");
        assert!(parse_form("a=%ZZ").is_empty());
    }

    #[test]
    fn targets_split_and_decode() {
        let (b, p) = split_target("photos/a%20b/").unwrap_or_else(|_| panic!());
        assert_eq!((b.as_str(), p.as_str()), ("photos", "a b/"));
        assert!(split_object("photos/").is_err());
        assert!(split_target("/x").is_err());
    }

    #[test]
    fn attachment_names_are_safe() {
        let a = attachment("dir/\"evil\"\r\nname.txt");
        assert!(!a.contains('\r') && !a.contains("\"evil"));
        assert!(a.starts_with("attachment; filename=\"_evil___name.txt\""));
    }

    #[test]
    fn console_paths() {
        assert!(Console::owns_path("/console/"));
        assert!(Console::owns_path("/console"));
        assert!(!Console::owns_path("/consoles/x"));
        assert!(!Console::owns_path("/bucket/console/x"));
    }

    #[test]
    fn share_links_move_to_the_api_port() {
        assert_eq!(with_port("127.0.0.1:9001", 9000), "127.0.0.1:9000");
        assert_eq!(with_port("gw.example", 443), "gw.example:443");
        assert_eq!(with_port("[::1]:9001", 9000), "[::1]:9000");
        assert_eq!(with_port("[::1]", 9000), "[::1]:9000");
    }
}
