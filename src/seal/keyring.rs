//! The S3 layer's view of the keyring: metadata strings in, S3 errors out.

use super::ssec::{self, CustomerKey, SSEC_ID};
use crate::format::Dek;
use crate::keys::{Keyring, WrapContext, WrappedDek};
use s3s::{S3Error, S3Result};
use std::sync::Arc;

/// Wrapped DEK as it goes into metadata: (KEK id, base64 blob).
pub type MetaWrap = (String, String);

pub struct SealKeys {
    ring: Keyring,
    /// `encryption.bind_bucket`: new wrapped DEKs are bound to their bucket (format v2).
    bind_bucket: bool,
}

impl SealKeys {
    pub fn new(ring: Keyring) -> Self {
        SealKeys {
            ring,
            bind_bucket: true,
        }
    }

    /// Whether new objects' DEKs are bound to their bucket (default) or not (mirrored
    /// buckets, an explicit choice).
    pub fn with_bind_bucket(mut self, bind: bool) -> Self {
        self.bind_bucket = bind;
        self
    }

    pub fn binds_bucket(&self) -> bool {
        self.bind_bucket
    }

    /// The wrap context of a new object (format v2) at `bucket/key`.
    pub fn new_context(&self, bucket: &str, key: &str) -> WrapContext {
        WrapContext::v2(self.bind_bucket.then_some(bucket), key)
    }

    pub fn keyring(&self) -> &Keyring {
        &self.ring
    }

    /// A fresh DEK for `bucket/object_key` and its wrapped form (format v2): under the
    /// customer's key when the request carries one (SSE-C), else under the active KEK.
    pub async fn new_dek(
        &self,
        bucket: &str,
        object_key: &str,
        customer: Option<&CustomerKey>,
    ) -> S3Result<(Dek, MetaWrap)> {
        let ctx = self.new_context(bucket, object_key);
        if let Some(c) = customer {
            let dek = Dek::generate();
            let w = crate::keys::wrap(&c.key, SSEC_ID, &dek, &ctx);
            return Ok((dek, w.to_metadata()));
        }
        let (dek, wrapped) = self.ring.seal_new_dek(&ctx).await.map_err(key_error)?;
        Ok((dek, wrapped.to_metadata()))
    }

    /// The DEK of a stored object, under the context it was wrapped with (object key, and
    /// in v2 the bucket binding). Customer-key objects need the customer's key and bypass
    /// the cache, so a cached DEK never stands in for the key.
    pub async fn open(
        &self,
        kek: &str,
        b64: &str,
        ctx: &WrapContext,
        customer: Option<&CustomerKey>,
    ) -> S3Result<Arc<Dek>> {
        match (kek == SSEC_ID, customer) {
            (true, None) => return Err(ssec::key_required()),
            (false, Some(_)) => return Err(ssec::not_applicable()),
            (true, Some(c)) => {
                let wrapped = WrappedDek::from_metadata(kek, b64).map_err(key_error)?;
                return crate::keys::unwrap(&c.key, &wrapped, ctx)
                    .map(Arc::new)
                    .map_err(|_| ssec::wrong_key());
            }
            (false, None) => {}
        }
        let wrapped = WrappedDek::from_metadata(kek, b64).map_err(key_error)?;
        self.ring.open(&wrapped, ctx).await.map_err(key_error)
    }

    /// `dek` wrapped again for another object (copy), in format v2: under the customer's
    /// key if the destination uses one, else the active KEK.
    pub async fn rewrap(
        &self,
        dek: &Dek,
        bucket: &str,
        object_key: &str,
        customer: Option<&CustomerKey>,
    ) -> S3Result<MetaWrap> {
        let ctx = self.new_context(bucket, object_key);
        if let Some(c) = customer {
            return Ok(crate::keys::wrap(&c.key, SSEC_ID, dek, &ctx).to_metadata());
        }
        let w = self
            .ring
            .provider()
            .wrap(dek, &ctx)
            .await
            .map_err(key_error)?;
        Ok(w.to_metadata())
    }
}

/// Unwrap failures mean a wrong, missing or tampered key: the object cannot be read with the
/// keys this gateway holds. The message names the cause, never key material.
/// A provider that is down or refuses is the gateway's problem, not the object's: 503, which
/// SDKs retry, instead of a 403 that blames the key.
fn key_error(e: crate::keys::KeyError) -> S3Error {
    if let crate::keys::KeyError::Provider(why) = &e {
        tracing::warn!(error = %why, "key provider failed");
        return S3Error::with_message(
            s3s::S3ErrorCode::ServiceUnavailable,
            "the gateway's key provider is unavailable; retry later",
        );
    }
    tracing::warn!(error = %e, "key unwrap failed");
    S3Error::with_message(
        s3s::S3ErrorCode::InvalidObjectState,
        format!("the object's data key cannot be unwrapped: {e}"),
    )
}
