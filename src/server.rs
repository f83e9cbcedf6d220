//! The HTTP side: listener, the gateway's own endpoints (`/healthz`, `/readyz`, `/metrics`),
//! failed-login throttling, the concurrency limit, one log line per request, and graceful
//! shutdown. Everything S3 is handed to the s3s service (SigV4, routing, XML).

use crate::lean::listing::Spliced;
use crate::metrics::{External, Metrics};
use crate::policy::RequestInfo;
use crate::seal::Seal;
use crate::throttle::{Throttle, Verdict};
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3Service;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Largest read buffer per client connection (hyper's default is ~408 KiB). A request head
/// must fit in it (S3 caps headers far below), and a streamed body is read through it: 128
/// KiB kept uploads at their speed and took the gateway's peak RSS under 64 streams from
/// 130–168 to 102–114 MiB (docs/PERFORMANCE.md, round 6).
const READ_BUF_MAX: usize = 128 * 1024;
/// A client that has not finished its TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// What the HTTP layer shares across connections.
pub struct Ops {
    pub throttle: Throttle,
    pub metrics: Metrics,
    /// The S3 layer, for readiness (its upstream) and its counters. None in bare test servers.
    pub seal: Option<Seal>,
    /// Permits for concurrent requests; None: unlimited.
    pub slots: Option<Arc<Semaphore>>,
    pub serve_metrics: bool,
    /// TLS on the listener; None: plain HTTP.
    pub tls: Option<Arc<crate::tls::Tls>>,
    /// The web console at /console; None: not served.
    pub console: Option<Arc<crate::console::Console>>,
    /// Closes connections with no request in progress for this long, or whose request
    /// body makes no progress for this long while the gateway waits on it; None: never.
    pub idle_timeout: Option<Duration>,
    /// Accept SigV2-signed requests (`auth.allow_sigv2`).
    pub allow_sigv2: bool,
    /// `server.domains`: which Hosts name a bucket (virtual-hosted addressing).
    pub domains: crate::vhost::Domains,
}

impl Ops {
    /// Defaults for a bare s3s service (tests' direct store access).
    pub fn bare() -> Ops {
        Ops {
            throttle: Throttle::new(Default::default()),
            metrics: Metrics::default(),
            seal: None,
            slots: None,
            serve_metrics: false,
            tls: None,
            console: None,
            idle_timeout: None,
            allow_sigv2: false,
            domains: Default::default(),
        }
    }

    fn external(&self) -> External {
        let (decrypt_failures, cache, calls) = match &self.seal {
            Some(s) => (
                s.stats.decrypt_failures.load(Ordering::Relaxed),
                s.cache_stats(),
                s.key_provider_calls(),
            ),
            None => (0, Default::default(), 0),
        };
        External {
            decrypt_failures,
            dek_cache_hits: cache.hits,
            dek_cache_misses: cache.misses,
            kek_unwraps: cache.misses,
            key_provider_calls: calls,
        }
    }
}

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for up to `grace` before returning.
pub async fn serve(
    listener: TcpListener,
    service: S3Service,
    ops: Arc<Ops>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    serve_as(listener, service, ops, shutdown, grace, Side::Api).await
}

/// Serves the web console (only the console, never S3 requests) on its own listener: a
/// separate origin, so nothing the S3 API serves (a user's SVG or HTML, a share link) can
/// script the console. Shares `ops` (throttle, concurrency slots, metrics, TLS) with the API.
pub async fn serve_console(
    listener: TcpListener,
    service: S3Service,
    ops: Arc<Ops>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    serve_as(listener, service, ops, shutdown, grace, Side::Console).await
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Api,
    Console,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Api => "s3",
            Side::Console => "console",
        }
    }
}

async fn serve_as(
    listener: TcpListener,
    service: S3Service,
    ops: Arc<Ops>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
    side: Side,
) {
    // No hyper header_read_timeout: our own idle deadline (`Conn`) covers slow headers and
    // idle keep-alive without cutting a response that a client reads slowly.
    let mut http = ConnBuilder::new(TokioExecutor::new());
    // half_close: a client may shut its write side once the request is sent (a half-close)
    // and still wait for the answer; without it hyper dropped such requests unanswered.
    http.http1().max_buf_size(READ_BUF_MAX).half_close(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (socket, peer) = tokio::select! {
            res = listener.accept() => match res {
                Ok(conn) => conn,
                Err(err) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let _ = socket.set_nodelay(true);
        let conn_state = Arc::new(Conn::new());
        let svc = Router {
            s3: service.clone(),
            ops: ops.clone(),
            peer,
            conn: conn_state.clone(),
            side,
        };
        let idle = ops.idle_timeout;
        let watcher = graceful.watcher();
        let http = http.clone();
        match ops.tls.as_ref().map(|t| t.acceptor()) {
            None => {
                let conn = http
                    .serve_connection(TokioIo::new(socket), svc)
                    .into_owned();
                tokio::spawn(async move {
                    tokio::select! {
                        r = watcher.watch(conn) => if let Err(err) = r {
                            tracing::debug!(%err, %peer, "connection ended with error");
                        },
                        () = conn_state.idle_expired(idle) => {
                            tracing::debug!(%peer, "closed a connection idle or slow to send its request");
                        }
                    }
                });
            }
            Some(acceptor) => {
                let handshake_timeout = TLS_HANDSHAKE_TIMEOUT;
                tokio::spawn(async move {
                    let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(socket))
                        .await
                    {
                        Ok(Ok(s)) => s,
                        Ok(Err(err)) => {
                            tracing::debug!(%err, %peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let conn = http.serve_connection(TokioIo::new(tls), svc).into_owned();
                    tokio::select! {
                        r = watcher.watch(conn) => if let Err(err) = r {
                            tracing::debug!(%err, %peer, "connection ended with error");
                        },
                        () = conn_state.idle_expired(idle) => {
                            tracing::debug!(%peer, "closed a connection idle or slow to send its request");
                        }
                    }
                });
            }
        }
    }
    // Both listeners drain; naming each keeps the two lines from reading as one repeated.
    let listener = side.name();
    tracing::info!(listener, "shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!(listener, "all requests finished"),
        () = tokio::time::sleep(grace) => tracing::warn!(listener, "grace period over, closing remaining connections"),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// One connection's activity, for the idle / slow-header deadline. hyper calls the service
/// once a request's headers are complete, so "no request in progress for too long" covers
/// both an idle keep-alive connection and a client trickling its headers. (hyper's own
/// header_read_timeout is not used: see `serve`.)
struct Conn {
    epoch: Instant,
    in_flight: std::sync::atomic::AtomicUsize,
    /// Milliseconds since `epoch` when the connection last became idle.
    idle_since_ms: std::sync::atomic::AtomicU64,
    /// Signalled when a request body stalled: the connection is closed at once.
    stalled: tokio::sync::Notify,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            epoch: Instant::now(),
            in_flight: Default::default(),
            idle_since_ms: Default::default(),
            stalled: tokio::sync::Notify::new(),
        }
    }

    fn begin(self: &Arc<Self>) -> ConnBusy {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        ConnBusy(self.clone())
    }

    /// Closes the connection: a request body on it made no progress (see `Progressing`).
    fn cut(&self) {
        self.stalled.notify_one();
    }

    /// Resolves once the connection has had no request in progress for `limit`, or a
    /// request body on it stalled for that long.
    async fn idle_expired(&self, limit: Option<Duration>) {
        tokio::select! {
            () = self.idle(limit) => {}
            () = self.stalled.notified() => {}
        }
    }

    async fn idle(&self, limit: Option<Duration>) {
        let Some(limit) = limit else {
            return std::future::pending().await;
        };
        loop {
            let since = Duration::from_millis(self.idle_since_ms.load(Ordering::Relaxed));
            let idle_for = self.epoch.elapsed().saturating_sub(since);
            if self.in_flight.load(Ordering::Relaxed) > 0 {
                tokio::time::sleep(limit).await;
            } else if idle_for >= limit {
                return;
            } else {
                tokio::time::sleep(limit - idle_for).await;
            }
        }
    }
}

/// Held from the request's headers until its response body is done (or dropped).
struct ConnBusy(Arc<Conn>);

impl Drop for ConnBusy {
    fn drop(&mut self) {
        let c = &self.0;
        let now = c.epoch.elapsed().as_millis() as u64;
        c.idle_since_ms.store(now, Ordering::Relaxed);
        c.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl BodyGuard for ConnBusy {}

/// Something held until a response body is done (or dropped), told of each data frame sent.
trait BodyGuard: Send + Sync + Unpin + 'static {
    fn sent(&self, _bytes: usize) {}
}

/// A response body carrying a guard for as long as it streams.
struct Guarded<G> {
    inner: s3s::Body,
    guard: G,
}

impl<G: BodyGuard> Guarded<G> {
    fn wrap(resp: s3s::HttpResponse, guard: G) -> s3s::HttpResponse {
        let (parts, inner) = resp.into_parts();
        http::Response::from_parts(parts, s3s::Body::http_body(Guarded { inner, guard }))
    }
}

impl<G: BodyGuard> http_body::Body for Guarded<G> {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(f))) = &r
            && let Some(d) = f.data_ref()
        {
            self.guard.sent(d.len());
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Clone)]
struct Router {
    s3: S3Service,
    ops: Arc<Ops>,
    peer: SocketAddr,
    conn: Arc<Conn>,
    side: Side,
}

impl hyper::service::Service<http::Request<Incoming>> for Router {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        let busy = self.conn.begin();
        let close = unanswered_expect(&req);
        let fut = self.route(req);
        Box::pin(async move {
            let mut resp = fut.await?;
            if close {
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            Ok(Guarded::wrap(resp, busy))
        })
    }
}

/// An HTTP/1.1 request with `Expect: 100-continue` and an empty body: hyper answers it without
/// a `100 Continue` (nothing to continue, as RFC 9110 allows), and botocore as vendored in
/// aws cli 1.x then keeps that response's status line on the pooled connection and misparses
/// the next 100-continue exchange on it (boto/botocore#3755): no Content-Length seen, it
/// reads to EOF and waits 60 s. Closing the connection after such a response resets the
/// client; it costs one reconnect per empty upload. (A server that always sends the 100
/// never triggers it; a hyper service cannot send one.)
fn unanswered_expect(req: &http::Request<Incoming>) -> bool {
    req.version() == http::Version::HTTP_11
        && req
            .headers()
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
        && http_body::Body::is_end_stream(req.body())
}

impl Router {
    fn route(
        &self,
        req: http::Request<Incoming>,
    ) -> futures::future::BoxFuture<'static, Result<s3s::HttpResponse, s3s::HttpError>> {
        if self.side == Side::Console {
            return self.route_console(req);
        }
        let ops = self.ops.clone();
        // Under virtual-hosted addressing `/healthz` is an object's key, not the gateway's page.
        let names_bucket = || {
            req.headers()
                .get(http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|h| ops.domains.bucket_of(h))
                .is_some()
        };
        if req.method() == http::Method::GET && !names_bucket() {
            match req.uri().path() {
                "/healthz" => return Box::pin(async { Ok(text(200, "ok\n".into())) }),
                "/readyz" => return Box::pin(async move { Ok(ready(&ops).await) }),
                "/metrics" if ops.serve_metrics => {
                    return Box::pin(async move {
                        let mut r = text(200, ops.metrics.render(&ops.external()));
                        r.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static("text/plain; version=0.0.4"),
                        );
                        Ok(r)
                    });
                }
                _ => {}
            }
        }
        let (mut parts, body) = req.into_parts();
        if parts.method == http::Method::OPTIONS
            && let Some(seal) = ops.seal.clone()
        {
            return Box::pin(async move { Ok(preflight(&ops, &seal, &parts).await) });
        }
        if let Some(resp) = crate::keyrules::delete_objects_refusal(&parts) {
            return Box::pin(async move { Ok(resp) });
        }
        let ip = self.peer.ip();
        let query = crate::preauth::Query::parse(parts.uri.query());
        let scheme = crate::preauth::scheme(&parts, &query);
        if let Some(refusal) = crate::preauth::screen(&parts, &query, scheme, ops.allow_sigv2) {
            // Answered from the head: the body is never read, and the connection closes
            // so it is not read later either.
            let unread = !http_body::Body::is_end_stream(&body);
            drop(body);
            if refusal.status == 403 {
                ops.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
            }
            ops.metrics
                .request("Refused", refusal.status, Duration::ZERO);
            tracing::info!(
                target: "s3seal::access",
                peer = %self.peer,
                method = %parts.method,
                status = refusal.status,
                code = refusal.code,
                "request refused before reading its body"
            );
            return Box::pin(async move { Ok(s3_error(&refusal, unread)) });
        }
        crate::preauth::drop_ignored_conditions(&mut parts, &query, scheme);
        let claimed = crate::preauth::throttle_key(&parts, &query, scheme);
        if let Verdict::Refuse(left) = ops.throttle.check(ip, &claimed) {
            ops.metrics.throttled.fetch_add(1, Ordering::Relaxed);
            return Box::pin(async move {
                Ok(slow_down(
                    left,
                    "Too many failed authentication attempts from this address for this access key; try again later.",
                ))
            });
        }
        let permit = match &ops.slots {
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    ops.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
                    return Box::pin(async {
                        Ok(slow_down(
                            Duration::from_secs(1),
                            "The gateway is serving its maximum number of concurrent requests; retry.",
                        ))
                    });
                }
            },
            None => None,
        };
        let info = RequestInfo::default();
        parts.extensions.insert(info.clone());
        let method = parts.method.clone();
        let (bucket, key) = ops.domains.bucket_and_key(&parts.headers, parts.uri.path());
        let declared_in = content_length(&parts.headers);
        let request_id = format!("{:016x}", rand::random::<u64>());
        let start = Instant::now();
        ops.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        let mut guard = InFlight {
            ops: ops.clone(),
            permit,
            sent: AtomicU64::new(0),
            access: None,
        };
        let body = match ops.idle_timeout {
            Some(limit) => s3s::Body::http_body(Progressing {
                inner: body,
                limit,
                conn: self.conn.clone(),
                timer: None,
            }),
            None => s3s::Body::from(body),
        };
        let s3 = self.s3.clone();
        let is_head = parts.method == http::Method::HEAD;
        let origin = parts
            .headers
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req = http::Request::from_parts(parts, body);
        let fut = async move { s3.call(req).await };
        let peer = self.peer;
        Box::pin(async move {
            let mut resp = fut.await?;
            // A listing rewritten in place goes out as the body (s3s serialised a placeholder).
            if let Some(Spliced(page)) = resp.extensions_mut().remove::<Spliced>() {
                replace_body(&mut resp, page);
            }
            // s3s writes a 304 as an error document; S3's carries no body and no
            // Content-Length of the XML it never sends.
            if resp.status() == http::StatusCode::NOT_MODIFIED {
                let h = resp.headers_mut();
                h.remove(http::header::CONTENT_LENGTH);
                h.remove(http::header::CONTENT_TYPE);
                *resp.body_mut() = s3s::Body::empty();
            }
            // s3s answers every successful HEAD with 200 (it ignores S3Response::status);
            // S3 answers a HEAD with Range or partNumber as it would the GET: 206.
            if is_head
                && resp.status() == http::StatusCode::OK
                && resp.headers().contains_key(http::header::CONTENT_RANGE)
            {
                *resp.status_mut() = http::StatusCode::PARTIAL_CONTENT;
            }
            // An upstream error that arrived with a 2xx status (moto 5.2 answers some calls in
            // a form the upstream client refuses) would go out as "200 <Error>": make it the
            // 500 it is, so the client and the access log agree.
            let facts = &info.0;
            let is_get = facts.op.get().is_some_and(|op| op == "GetObject");
            let error_doc = resp.body().bytes().filter(|b| is_error_body(b));
            if let Some(doc) = error_doc.filter(|_| !is_get || !resp.status().is_success()) {
                if resp.status().is_success() {
                    *resp.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                }
                // One request id per request: the error body names the x-amz-request-id
                // header's (s3s generates its own).
                if let Some(fixed) = with_request_id(&doc, &request_id) {
                    replace_body(&mut resp, with_default_message(xml_safe(fixed)));
                }
            }
            if facts.op.get().is_some_and(|op| op == "GetObjectAttributes")
                && resp.status().is_success()
                && let Some(fixed) = resp.body().bytes().and_then(|b| unquoted_etag(&b))
            {
                replace_body(&mut resp, fixed);
            }
            let status = resp.status().as_u16();
            if facts.authenticated.load(Ordering::Relaxed) {
                ops.throttle.success(ip, &claimed);
            } else if status == 403 {
                ops.metrics.auth_failures.fetch_add(1, Ordering::Relaxed);
                let delay = ops.throttle.failure(ip, &claimed);
                // The slowed answer must not hold a concurrency slot meanwhile.
                guard.permit = None;
                tokio::time::sleep(delay).await;
            }
            let op = facts.op.get().map_or("unknown", String::as_str);
            let took = start.elapsed();
            ops.metrics.request(op, status, took);
            ops.metrics
                .bytes_received
                .fetch_add(declared_in, Ordering::Relaxed);
            let user = facts.user.get().map_or("-", String::as_str).to_owned();
            let op = op.to_owned();
            if let Ok(v) = http::HeaderValue::from_str(&request_id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            if let (Some(origin), Some(seal)) = (origin, ops.seal.as_ref())
                && let Some(g) = crate::cors_http::grant_for(seal, &bucket, &origin, &method).await
            {
                crate::cors_http::apply(g, resp.headers_mut());
            }
            let declared_out = (method != http::Method::HEAD
                && resp.status() != http::StatusCode::NOT_MODIFIED)
                .then(|| content_length(resp.headers()));
            guard.access = Some(Box::new(AccessLine {
                request_id,
                peer,
                method: method.clone(),
                op,
                user,
                bucket,
                key,
                status,
                bytes_in: declared_in,
                declared_out,
                start,
            }));
            if method == http::Method::GET {
                // A browser opening an object (a share link) renders it as its declared
                // type, never as a sniffed one. No S3 client reads this header.
                resp.headers_mut().insert(
                    http::header::X_CONTENT_TYPE_OPTIONS,
                    http::HeaderValue::from_static("nosniff"),
                );
            }
            Ok(Guarded::wrap(resp, guard))
        })
    }

    /// The console listener: the console under `/console`, `/` sends a browser there, and
    /// nothing else (an S3 request here gets 404). Console requests take a concurrency slot
    /// like S3 requests: a thumbnail or download costs the gateway as much as a GET.
    fn route_console(
        &self,
        req: http::Request<Incoming>,
    ) -> futures::future::BoxFuture<'static, Result<s3s::HttpResponse, s3s::HttpError>> {
        let ops = self.ops.clone();
        let Some(console) = ops.console.clone() else {
            return Box::pin(async { Ok(text(404, "The console is turned off.\n".into())) });
        };
        let path = req.uri().path();
        if !crate::console::Console::owns_path(path) {
            let resp = if path == "/" && req.method() == http::Method::GET {
                crate::console::redirect("/console/")
            } else {
                text(
                    404,
                    "Not found: this port serves only the s3seal web console (/console/); the S3 API listens on its own port.\n".into(),
                )
            };
            return Box::pin(async move {
                let mut resp = resp;
                console.harden(&mut resp);
                Ok(resp)
            });
        }
        let permit = match &ops.slots {
            Some(s) => match s.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => {
                    ops.metrics.overloaded.fetch_add(1, Ordering::Relaxed);
                    return Box::pin(async move {
                        let mut r = slow_down(
                            Duration::from_secs(1),
                            "The gateway is serving its maximum number of concurrent requests; retry.",
                        );
                        console.harden(&mut r);
                        Ok(r)
                    });
                }
            },
            None => None,
        };
        ops.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        let guard = InFlight {
            ops: ops.clone(),
            permit,
            sent: AtomicU64::new(0),
            access: None,
        };
        let peer = self.peer;
        Box::pin(async move {
            let start = Instant::now();
            let resp = console.handle(req, &ops.throttle, peer).await;
            ops.metrics
                .request("Console", resp.status().as_u16(), start.elapsed());
            Ok(Guarded::wrap(resp, guard))
        })
    }
}

fn content_length(h: &http::HeaderMap) -> u64 {
    h.get("x-amz-decoded-content-length")
        .or_else(|| h.get(http::header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The upstream answers: a ListBuckets round trip (no data read, works with any credential
/// that can list).
async fn ready(ops: &Ops) -> s3s::HttpResponse {
    let Some(seal) = &ops.seal else {
        return text(200, "ready\n".into());
    };
    match tokio::time::timeout(Duration::from_secs(5), seal.probe_upstream()).await {
        Ok(Ok(())) => text(200, "ready\n".into()),
        Ok(Err(e)) => text(503, format!("upstream not ready: {e}\n")),
        Err(_) => text(503, "upstream not ready: no answer within 5 s\n".into()),
    }
}

/// `resp` with `body` in place of its own, and a Content-Length to match.
fn replace_body(resp: &mut s3s::HttpResponse, body: impl Into<Bytes>) {
    let body = body.into();
    resp.headers_mut().insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    *resp.body_mut() = s3s::Body::from(body);
}

fn text(status: u16, body: String) -> s3s::HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(s3s::Body::from(body))
        .expect("static response")
}

/// S3's SlowDown, with a Retry-After.
fn slow_down(left: Duration, msg: &str) -> s3s::HttpResponse {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>{msg}</Message></Error>"
    );
    http::Response::builder()
        .status(503)
        .header("content-type", "application/xml")
        .header("retry-after", left.as_secs().max(1).to_string())
        .body(s3s::Body::from(xml))
        .expect("static response")
}

/// A browser's CORS preflight: answered by the gateway from the bucket's rules, unsigned as
/// browsers send it.
async fn preflight(ops: &Ops, seal: &Seal, parts: &http::request::Parts) -> s3s::HttpResponse {
    let start = Instant::now();
    let (bucket, _) = ops.domains.bucket_and_key(&parts.headers, parts.uri.path());
    let resp = match crate::cors_http::preflight(seal, &bucket, &parts.headers).await {
        Ok(grant) => {
            let mut r = http::Response::builder()
                .status(200)
                .body(s3s::Body::empty())
                .expect("static response");
            crate::cors_http::apply(grant, r.headers_mut());
            r
        }
        Err(refusal) => s3_error(&refusal, false),
    };
    ops.metrics
        .request("Preflight", resp.status().as_u16(), start.elapsed());
    resp
}

/// An S3 error answered before the s3s service saw the request; `close` when its body is
/// left unread.
fn s3_error(r: &crate::preauth::Refusal, close: bool) -> s3s::HttpResponse {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
        r.code, r.message
    );
    let mut b = http::Response::builder()
        .status(r.status)
        .header("content-type", "application/xml");
    if close {
        b = b.header("connection", "close");
    }
    b.body(s3s::Body::from(xml)).expect("static response")
}

/// A request body that gives up, and closes its connection, when the client sends nothing
/// for `limit` while the gateway waits on it: a half-sent request cannot hold a concurrency
/// slot (and its memory) forever. Time the gateway spends elsewhere does not count.
struct Progressing {
    inner: Incoming,
    limit: Duration,
    conn: Arc<Conn>,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl http_body::Body for Progressing {
    type Data = Bytes;
    type Error = s3s::StdError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.timer = None;
            return Poll::Ready(r.map(|f| f.map_err(Into::into)));
        }
        let limit = this.limit;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                tracing::info!(
                    limit_secs = limit.as_secs(),
                    "request body made no progress; connection closed (server.idle_timeout_secs)"
                );
                this.conn.cut();
                Poll::Ready(Some(Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the client sent nothing for {} s", limit.as_secs()),
                )))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Held until the response body is done: the in-flight gauge, the concurrency permit and
/// the access line cover streaming, not just the time to the headers.
struct InFlight {
    ops: Arc<Ops>,
    permit: Option<OwnedSemaphorePermit>,
    sent: AtomicU64,
    access: Option<Box<AccessLine>>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.ops.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        if let Some(a) = self.access.take() {
            a.write(self.sent.load(Ordering::Relaxed));
        }
    }
}

/// The response body counts bytes sent.
impl BodyGuard for InFlight {
    fn sent(&self, bytes: usize) {
        self.sent.fetch_add(bytes as u64, Ordering::Relaxed);
        self.ops
            .metrics
            .bytes_sent
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }
}

/// A request's access line, written when its response body is done or dropped, so
/// `bytes_out` is what was sent and `duration_ms` covers the transfer. Written when the
/// headers went out, a download cut short (a stored object failing authentication mid-body,
/// a client gone) was logged as a whole success with the declared length.
struct AccessLine {
    request_id: String,
    peer: SocketAddr,
    method: http::Method,
    op: String,
    user: String,
    bucket: String,
    key: String,
    status: u16,
    bytes_in: u64,
    /// Content-Length of a response that carries a body.
    declared_out: Option<u64>,
    start: Instant,
}

impl AccessLine {
    fn write(self, sent: u64) {
        let AccessLine {
            request_id,
            peer,
            method,
            op,
            user,
            bucket,
            key,
            status,
            bytes_in,
            declared_out,
            start,
        } = self;
        let duration_ms = start.elapsed().as_secs_f64() * 1000.0;
        macro_rules! line {
            ($($extra:tt)*) => {
                tracing::info!(
                    target: "s3seal::access",
                    request_id = %request_id,
                    %peer,
                    %method,
                    operation = op.as_str(),
                    user = user.as_str(),
                    bucket = bucket.as_str(),
                    key = key.as_str(),
                    status,
                    bytes_in,
                    bytes_out = sent,
                    duration_ms,
                    $($extra)*
                    "request"
                )
            };
        }
        match declared_out {
            Some(n) if sent < n => line!(incomplete = true, declared_out = n,),
            _ => line!(),
        }
    }
}

/// `doc` with its `<RequestId>` saying `id` (replaced, or added before `</Error>`).
/// An error message may quote a client's key, and XML 1.0 cannot carry C0 control
/// characters even escaped: one made the whole error unparseable (boto3 then saw a bare 403
/// instead of AccessDenied). They are written as `\xNN` text.
fn xml_safe(doc: Vec<u8>) -> Vec<u8> {
    let bad = |b: &u8| *b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r');
    if !doc.iter().any(bad) {
        return doc;
    }
    let mut out = Vec::with_capacity(doc.len() + 16);
    for b in doc {
        if bad(&b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
    out
}

/// S3's own words for errors s3s answers without a message (aws cli prints "Unknown").
fn default_message(code: &[u8]) -> Option<&'static str> {
    Some(match code {
        b"SignatureDoesNotMatch" => {
            "The request signature we calculated does not match the signature you provided. Check your key and signing method."
        }
        b"InvalidBucketName" => "The specified bucket is not valid.",
        b"NoSuchBucket" => "The specified bucket does not exist",
        b"NoSuchKey" => "The specified key does not exist.",
        b"AccessDenied" => "Access Denied",
        b"InvalidAccessKeyId" => {
            "The AWS Access Key Id you provided does not exist in our records."
        }
        b"MethodNotAllowed" => "The specified method is not allowed against this resource.",
        b"BucketNotEmpty" => "The bucket you tried to delete is not empty",
        b"MalformedXML" => {
            "The XML you provided was not well-formed or did not validate against our published schema"
        }
        b"KeyTooLongError" => "Your key is too long",
        b"InvalidURI" => "Couldn't parse the specified URI.",
        b"IncompleteBody" => {
            "You did not provide the number of bytes specified by the Content-Length HTTP header."
        }
        b"MissingContentLength" => "You must provide the Content-Length HTTP header.",
        b"InvalidRange" => "The requested range is not satisfiable",
        b"PreconditionFailed" => "At least one of the pre-conditions you specified did not hold",
        b"NoSuchUpload" => {
            "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
        }
        b"EntityTooLarge" => "Your proposed upload exceeds the maximum allowed size",
        b"BadDigest" => "The Content-MD5 you specified did not match what we received.",
        b"MaxMessageLengthExceeded" => "Your request was too big.",
        b"NotImplemented" => "A header you provided implies functionality that is not implemented.",
        b"InternalError" => "We encountered an internal error. Please try again.",
        _ => return None,
    })
}

fn with_default_message(doc: Vec<u8>) -> Vec<u8> {
    let find = |needle: &[u8]| doc.windows(needle.len()).position(|w| w == needle);
    if find(b"<Message>").is_some() {
        return doc;
    }
    let (Some(open), Some(close)) = (find(b"<Code>"), find(b"</Code>")) else {
        return doc;
    };
    let Some(code) = doc.get(open + b"<Code>".len()..close) else {
        return doc;
    };
    // SDKs show the message; an error without one reads as "UnknownError" in some.
    let msg = match default_message(code) {
        Some(m) => m.as_bytes().to_vec(),
        None => [b"The request failed: ".as_slice(), code].concat(),
    };
    let at = close + b"</Code>".len();
    let mut out = doc[..at].to_vec();
    out.extend_from_slice(b"<Message>");
    out.extend_from_slice(&msg);
    out.extend_from_slice(b"</Message>");
    out.extend_from_slice(&doc[at..]);
    out
}

fn with_request_id(doc: &[u8], id: &str) -> Option<Vec<u8>> {
    let find = |needle: &[u8], from: usize| {
        doc.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|p| p + from)
    };
    let (start, end) = match find(b"<RequestId>", 0) {
        Some(open) => {
            let open = open + b"<RequestId>".len();
            (open, find(b"</RequestId>", open)?)
        }
        None => {
            let at = find(b"</Error>", 0)?;
            let mut out = doc[..at].to_vec();
            out.extend_from_slice(format!("<RequestId>{id}</RequestId>").as_bytes());
            out.extend_from_slice(&doc[at..]);
            return Some(out);
        }
    };
    let mut out = doc[..start].to_vec();
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(&doc[end..]);
    Some(out)
}

/// GetObjectAttributes is the one S3 answer whose `<ETag>` is not quoted (s3s always
/// quotes it): strips the quotes, or None when there is no quoted ETag.
fn unquoted_etag(doc: &[u8]) -> Option<Vec<u8>> {
    let open = doc.windows(7).position(|w| w == b"<ETag>\"")? + 6;
    let close = open + doc[open..].windows(8).position(|w| w == b"\"</ETag>")?;
    let mut out = doc[..open].to_vec();
    out.extend_from_slice(&doc[open + 1..close]);
    out.extend_from_slice(&doc[close + 1..]);
    Some(out)
}

/// An S3 error document: `<Error>` as the root, after at most an XML declaration.
fn is_error_body(b: &[u8]) -> bool {
    let mut rest = b;
    if rest.starts_with(b"<?xml")
        && let Some(end) = rest.windows(2).position(|w| w == b"?>")
    {
        rest = &rest[end + 2..];
    }
    rest.trim_ascii_start().starts_with(b"<Error>")
}

#[cfg(test)]
mod tests {
    use super::is_error_body;

    #[test]
    fn object_attributes_etag_loses_its_quotes_only() {
        let doc = b"<GetObjectAttributesOutput><ETag>\"ab-2\"</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesOutput>";
        assert_eq!(
            super::unquoted_etag(doc).unwrap(),
            b"<GetObjectAttributesOutput><ETag>ab-2</ETag><ObjectSize>3</ObjectSize></GetObjectAttributesOutput>"
        );
        assert!(super::unquoted_etag(b"<X><ObjectSize>3</ObjectSize></X>").is_none());
    }

    #[test]
    fn every_error_gets_a_message() {
        let doc = |c: &str| {
            format!("<Error><Code>{c}</Code><RequestId>1</RequestId></Error>").into_bytes()
        };
        let out = String::from_utf8(super::with_default_message(doc("KeyTooLongError"))).unwrap();
        assert!(
            out.contains("<Code>KeyTooLongError</Code><Message>Your key is too long</Message>"),
            "{out}"
        );
        let out = String::from_utf8(super::with_default_message(doc("OddCode"))).unwrap();
        assert!(
            out.contains("<Message>The request failed: OddCode</Message>"),
            "{out}"
        );
        let kept = b"<Error><Code>X</Code><Message>own</Message></Error>".to_vec();
        assert_eq!(super::with_default_message(kept.clone()), kept);
    }

    #[test]
    fn error_documents_are_recognised_by_their_root() {
        let yes: [&[u8]; 3] = [
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code></Error>",
            b"<Error><Code>X</Code></Error>",
            b"<?xml version=\"1.0\"?>\n  <Error><Code>X</Code></Error>",
        ];
        for b in yes {
            assert!(is_error_body(b));
        }
        let no: [&[u8]; 3] = [
            b"<?xml version=\"1.0\"?><ListPartsResult><Error>x</Error></ListPartsResult>",
            b"<CompleteMultipartUploadResult/>",
            b"",
        ];
        for b in no {
            assert!(!is_error_body(b));
        }
    }

    #[test]
    fn error_bodies_name_the_header_request_id() {
        let doc =
            b"<?xml version=\"1.0\"?><Error><Code>X</Code><RequestId>s3s1</RequestId></Error>";
        let fixed = super::with_request_id(doc, "abc123").unwrap();
        assert_eq!(
            fixed,
            b"<?xml version=\"1.0\"?><Error><Code>X</Code><RequestId>abc123</RequestId></Error>"
        );
        assert_eq!(
            super::with_request_id(b"<Error><Code>X</Code></Error>", "a").unwrap(),
            b"<Error><Code>X</Code><RequestId>a</RequestId></Error>"
        );
        assert!(super::with_request_id(b"<Error><Code>X</Code>", "a").is_none());
    }
}
