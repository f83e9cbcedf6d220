//! Serving the bare store (no encryption, one static credential): for the conformance harness
//! and benchmarks (`s3seal store-serve`), never for production data.

use super::Store;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::path::Path;
use tokio::net::TcpListener;

/// Serves the store in `path` on `listener` with SigV4 credential (`access_key`, `secret`)
/// until the task is dropped or the process ends.
pub async fn serve_direct(
    path: &Path,
    listener: TcpListener,
    access_key: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let store = Store::open(path)?;
    let mut b = S3ServiceBuilder::new(store);
    b.set_auth(SimpleAuth::from_single(access_key, secret));
    let service = b.build();
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let (sock, _) = listener.accept().await?;
        let conn = http
            .serve_connection(TokioIo::new(sock), service.clone())
            .into_owned();
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}
