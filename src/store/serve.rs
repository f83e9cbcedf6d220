//! Serving the bare store (no encryption, one static credential): for the conformance harness
//! and benchmarks (`s3seal store-serve`), never for production data.

use super::Store;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Serves the store in `path` on `listener` with SigV4 credential (`access_key`, `secret`)
/// until the task is dropped or the process ends, through the gateway's own HTTP loop (so
/// the same S3 fix-ups on top of s3s apply: TCP_NODELAY, HEAD 206, unquoted GetObjectAttributes ETag).
pub async fn serve_direct(
    path: &Path,
    listener: TcpListener,
    access_key: &str,
    secret: &str,
) -> anyhow::Result<()> {
    serve_store(Store::open(path)?, listener, access_key, secret).await;
    Ok(())
}

/// Serves `store` (a handle, perhaps with other options than [`Store::open`]'s) as
/// [`serve_direct`] does.
pub async fn serve_store(store: Store, listener: TcpListener, access_key: &str, secret: &str) {
    let mut b = S3ServiceBuilder::new(store);
    b.set_auth(SimpleAuth::from_single(access_key, secret));
    b.set_access(crate::policy::SignedOnly);
    crate::server::serve(
        listener,
        b.build(),
        Arc::new(crate::server::Ops::bare()),
        std::future::pending(),
        Duration::from_secs(1),
    )
    .await;
}
