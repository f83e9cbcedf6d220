//! The HTTP side: listener, the unauthenticated `/healthz`, and graceful shutdown.
//! Everything S3 is handed to the s3s service (SigV4, routing, XML).

use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::service::S3Service;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves `service` on `listener` until `shutdown` resolves, then lets in-flight requests
/// finish for up to `grace` before returning.
pub async fn serve(
    listener: TcpListener,
    service: S3Service,
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

/// Splits the gateway's own endpoints from S3 traffic.
#[derive(Clone)]
struct Router {
    s3: S3Service,
    #[allow(dead_code)] // used by per-source throttling and request logs
    peer: SocketAddr,
}

impl hyper::service::Service<http::Request<Incoming>> for Router {
    type Response = s3s::HttpResponse;
    type Error = s3s::HttpError;
    type Future = futures::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn call(&self, req: http::Request<Incoming>) -> Self::Future {
        if req.uri().path() == "/healthz" && req.method() == http::Method::GET {
            return Box::pin(async {
                Ok(http::Response::builder()
                    .status(200)
                    .header("content-type", "text/plain")
                    .body(s3s::Body::from("ok\n".to_owned()))
                    .expect("static response"))
            });
        }
        hyper::service::Service::call(&self.s3, req)
    }
}
