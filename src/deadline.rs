//! A deadline on the store: a call the store does not answer, or a body it stops sending or
//! stops reading, fails after `server.upstream_timeout_secs` of no progress with a clear
//! 503, instead of pinning the client's connection (and its memory) forever. Idempotent
//! reads (GET, HEAD) the store fails transiently are tried again before the client sees an
//! error: nothing has been sent to the client yet, so a retry is invisible and safe.
//!
//! "No progress" is measured, not total time: a 5 GiB PUT may take minutes as long as the
//! store keeps reading, and time spent waiting on a slow *client* never counts against the
//! store.

use crate::upstream::Upstream;
use bytes::Bytes;
use futures::Stream;
use s3s::dto::*;
use s3s::stream::{ByteStream, RemainingLength};
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, StdError};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Further attempts at a read the store failed transiently (a remote store's SDK client
/// retries on its own too; this also covers the local store and stalls).
const READ_RETRIES: u32 = 2;

pub struct Deadline {
    inner: Upstream,
    limit: Duration,
}

impl Deadline {
    /// Wraps `inner`; a zero `limit` means no deadline (reads are still retried).
    pub fn wrap(inner: Upstream, limit: Duration) -> Upstream {
        Arc::new(Deadline { inner, limit })
    }

    /// Calls `call` until it succeeds, fails for good, or has been retried READ_RETRIES times.
    async fn read<T, F, Fut>(&self, op: &str, mut call: F) -> S3Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = S3Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match self.answer(op, call()).await {
                Err(e) if attempt < READ_RETRIES && transient(&e) => {
                    attempt += 1;
                    tracing::info!(
                        op,
                        attempt,
                        code = e.code().as_str(),
                        "store failed a read; retrying"
                    );
                    tokio::time::sleep(Duration::from_millis(50 << (2 * attempt))).await;
                }
                r => return r,
            }
        }
    }

    fn stalled(&self, op: &str) -> S3Error {
        let mut e = S3Error::with_message(
            s3s::S3ErrorCode::ServiceUnavailable,
            format!(
                "The store made no progress on {op} for {} s (server.upstream_timeout_secs); try again.",
                self.limit.as_secs()
            ),
        );
        e.set_status_code(http::StatusCode::SERVICE_UNAVAILABLE);
        tracing::warn!(
            op,
            limit_secs = self.limit.as_secs(),
            "store stalled; request failed"
        );
        e
    }

    async fn answer<T>(&self, op: &str, fut: impl Future<Output = S3Result<T>>) -> S3Result<T> {
        if self.limit.is_zero() {
            return fut.await;
        }
        match tokio::time::timeout(self.limit, fut).await {
            Ok(r) => r,
            Err(_) => Err(self.stalled(op)),
        }
    }

    /// For uploads: fails only when the store has neither pulled body bytes nor answered for
    /// `limit`, while not waiting on the client.
    async fn upload<T>(
        &self,
        op: &str,
        progress: Arc<Progress>,
        fut: impl Future<Output = S3Result<T>>,
    ) -> S3Result<T> {
        let mut fut = std::pin::pin!(fut);
        loop {
            let on_client = progress.on_client.load(Ordering::Relaxed);
            // Waiting on the client is not the store's fault: look again a full period later.
            let wait = if on_client {
                self.limit
            } else {
                self.limit.saturating_sub(progress.idle())
            };
            tokio::select! {
                r = &mut fut => return r,
                () = tokio::time::sleep(wait) => {
                    if !progress.on_client.load(Ordering::Relaxed) && progress.idle() >= self.limit {
                        return Err(self.stalled(op));
                    }
                }
            }
        }
    }
}

/// Errors worth another try: the store's own 5xx and throttling, and our deadline.
fn transient(e: &S3Error) -> bool {
    use s3s::S3ErrorCode as C;
    matches!(
        e.code(),
        C::InternalError | C::ServiceUnavailable | C::SlowDown
    ) || e.status_code().is_some_and(|s| s.is_server_error())
}

/// When the store last pulled from an upload body, and whether that body is waiting on the
/// client right now.
struct Progress {
    epoch: Instant,
    last_ms: AtomicU64,
    on_client: AtomicBool,
}

impl Progress {
    fn new() -> Arc<Progress> {
        Arc::new(Progress {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            on_client: AtomicBool::new(false),
        })
    }

    fn touch(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    fn idle(&self) -> Duration {
        let now = self.epoch.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// An upload body that reports the store's pulls to a [`Progress`].
struct Watched {
    inner: StreamingBlob,
    progress: Arc<Progress>,
}

impl Stream for Watched {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.progress.touch();
        let r = Pin::new(&mut self.inner).poll_next(cx);
        self.progress
            .on_client
            .store(r.is_pending(), Ordering::Relaxed);
        if r.is_ready() {
            self.progress.touch();
        }
        r
    }
}

impl ByteStream for Watched {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

fn watch(body: &mut Option<StreamingBlob>) -> Arc<Progress> {
    let progress = Progress::new();
    if let Some(inner) = body.take() {
        *body = Some(StreamingBlob::new(Watched {
            inner,
            progress: progress.clone(),
        }));
    }
    progress
}

/// A download body that fails when the store sends nothing for `limit` while we wait on it
/// (time the client takes to read does not count).
struct Idle {
    inner: StreamingBlob,
    limit: Duration,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Stream for Idle {
    type Item = Result<Bytes, StdError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let r = Pin::new(&mut self.inner).poll_next(cx);
        if r.is_ready() {
            self.timer = None;
            return r;
        }
        let limit = self.limit;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                tracing::warn!(
                    limit_secs = limit.as_secs(),
                    "store stalled mid-body; transfer aborted"
                );
                Poll::Ready(Some(Err(Box::new(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("the store sent nothing for {} s", limit.as_secs()),
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl ByteStream for Idle {
    fn remaining_length(&self) -> RemainingLength {
        self.inner.remaining_length()
    }
}

macro_rules! guarded {
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
                Box::pin(self.answer(stringify!($op), self.inner.$op(req)))
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Deadline {
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let mut resp = self
            .read("GetObject", || self.inner.get_object(req.clone()))
            .await?;
        if self.limit.is_zero() {
            return Ok(resp);
        }
        if let Some(inner) = resp.output.body.take() {
            resp.output.body = Some(StreamingBlob::new(Idle {
                inner,
                limit: self.limit,
                timer: None,
            }));
        }
        Ok(resp)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.read("HeadObject", || self.inner.head_object(req.clone()))
            .await
    }

    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if self.limit.is_zero() {
            return self.inner.put_object(req).await;
        }
        let p = watch(&mut req.input.body);
        self.upload("PutObject", p, self.inner.put_object(req))
            .await
    }

    async fn upload_part(
        &self,
        mut req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        if self.limit.is_zero() {
            return self.inner.upload_part(req).await;
        }
        let p = watch(&mut req.input.body);
        self.upload("UploadPart", p, self.inner.upload_part(req))
            .await
    }

    guarded! {
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
    }

    crate::s3_ops::passthrough_ops!(guarded);
}
