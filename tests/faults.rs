//! Upstream faults, injected by an `S3` layer around the real store: a body cut mid-GET must
//! reach the client as a failed transfer (never a short "successful" body), and a store
//! failing mid-PUT must leave the client with an error and no object.

mod support;

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};
use s3seal::upstream::Upstream as Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use support::*;

/// Passes calls to the real store; when armed, cuts GET bodies and PUT uploads after `cut`
/// bytes with an I/O error.
struct Faulty {
    inner: Store,
    armed: Arc<AtomicBool>,
    cut: usize,
}

fn cut_after(body: StreamingBlob, cut: usize) -> StreamingBlob {
    let mut seen = 0usize;
    let s = body.map(move |chunk| {
        let chunk: Bytes = chunk.map_err(|e| std::io::Error::other(e.to_string()))?;
        if seen + chunk.len() > cut {
            return Err(std::io::Error::other("injected fault: connection reset"));
        }
        seen += chunk.len();
        Ok(chunk)
    });
    StreamingBlob::wrap(s)
}

#[async_trait::async_trait]
impl S3 for Faulty {
    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.inner.create_bucket(req).await
    }
    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.inner.head_object(req).await
    }
    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let mut resp = self.inner.get_object(req).await?;
        if self.armed.load(Ordering::Relaxed)
            && let Some(b) = resp.output.body.take()
        {
            resp.output.body = Some(cut_after(b, self.cut));
        }
        Ok(resp)
    }
    async fn put_object(
        &self,
        mut req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if self.armed.load(Ordering::Relaxed)
            && let Some(b) = req.input.body.take()
        {
            req.input.body = Some(cut_after(b, self.cut));
        }
        self.inner.put_object(req).await
    }
}

#[tokio::test]
async fn cut_bodies_fail_loudly_and_store_nothing() {
    let armed = Arc::new(AtomicBool::new(false));
    let a = armed.clone();
    let (gw, _base) = TestGateway::start_wrapped(move |inner| {
        Arc::new(Faulty {
            inner,
            armed: a,
            cut: 300_000,
        })
    })
    .await;
    let b = "faults";
    gw.client.create_bucket().bucket(b).send().await.unwrap();
    let body = pattern(1 << 20, 5);
    gw.put(b, "whole", &body).await;

    armed.store(true, Ordering::Relaxed);
    // GET: headers were sent with the full length; the body must not end cleanly.
    let got = gw.client.get_object().bucket(b).key("whole").send().await;
    let outcome = match got {
        Err(_) => Err(()),
        Ok(out) => out
            .body
            .collect()
            .await
            .map(|d| d.into_bytes().len())
            .map_err(|_| ()),
    };
    assert!(
        outcome.is_err(),
        "a cut GET must fail, got {outcome:?} bytes"
    );

    // PUT: the store sees a broken upload; the client gets an error; no object exists.
    let r = gw
        .client
        .put_object()
        .bucket(b)
        .key("cut-put")
        .body(ByteStream::from(pattern(1 << 20, 6)))
        .send()
        .await;
    assert!(r.is_err(), "a PUT the store could not finish must fail");
    armed.store(false, Ordering::Relaxed);
    assert!(
        gw.upstream
            .head_object()
            .bucket(b)
            .key("cut-put")
            .send()
            .await
            .is_err(),
        "no partial object"
    );
    // And the gateway is healthy afterwards.
    assert_eq!(gw.get(b, "whole").await, body);
}
