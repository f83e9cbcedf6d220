//! The HTTP side: listener, the unauthenticated `/healthz`, and graceful shutdown.
//! Everything S3 is handed to the s3s service (SigV4, routing, XML).

use crate::policy::Authenticated;
use crate::throttle::{Throttle, Verdict, claimed_access_key};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3Service;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for up to `grace` before returning.
pub async fn serve(
    listener: TcpListener,
    service: S3Service,
    throttle: Arc<Throttle>,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let http = ConnBuilder::new(TokioExecutor::new());
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
        let svc = Router {
            s3: service.clone(),
            throttle: throttle.clone(),
            peer,
        };
        let conn = http.serve_connection(TokioIo::new(socket), svc);
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%err, %peer, "connection ended with error");
            }
        });
    }
    tracing::info!("shutting down: draining in-flight requests");
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(grace) => tracing::warn!("grace period over, closing remaining connections"),
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

/// Splits the gateway's own endpoints from S3 traffic, and throttles failed logins.
#[derive(Clone)]
struct Router {
    s3: S3Service,
    throttle: Arc<Throttle>,
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for Router {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        if req.uri().path() == "/healthz" && req.method() == http::Method::GET {
            return Box::pin(async { Ok(text_response(200, "ok\n")) });
        }
        let (mut parts, body) = req.into_parts();
        let ip = self.peer.ip();
        let claimed = claimed_access_key(&parts);
        if let Verdict::Refuse(left) = self.throttle.check(ip, &claimed) {
            return Box::pin(async move { Ok(slow_down(left)) });
        }
        let seen = Authenticated::default();
        parts.extensions.insert(seen.clone());
        let fut = hyper::service::Service::call(&self.s3, http::Request::from_parts(parts, body));
        let throttle = self.throttle.clone();
        Box::pin(async move {
            let resp = fut.await?;
            if seen.0.load(Ordering::Relaxed) {
                throttle.success(ip, &claimed);
            } else if resp.status() == http::StatusCode::FORBIDDEN {
                let delay = throttle.failure(ip, &claimed);
                tokio::time::sleep(delay).await;
            }
            Ok(resp)
        })
    }
}

fn text_response(status: u16, body: &str) -> s3s::HttpResponse {
    http::Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(s3s::Body::from(body.to_owned()))
        .expect("static response")
}

/// What a locked-out source gets: S3's SlowDown, with a Retry-After.
fn slow_down(left: Duration) -> s3s::HttpResponse {
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Too many failed authentication attempts from this address for this access key; try again later.</Message></Error>";
    http::Response::builder()
        .status(503)
        .header("content-type", "application/xml")
        .header("retry-after", left.as_secs().max(1).to_string())
        .body(s3s::Body::from(xml.to_owned()))
        .expect("static response")
}
