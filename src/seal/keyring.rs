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
}

impl SealKeys {
    pub fn new(ring: Keyring) -> Self {
        SealKeys { ring }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.ring
    }

    /// A fresh DEK for `object_key` and its wrapped form: under the customer's key when the
    /// request carries one (SSE-C), else under the active KEK.
    pub async fn new_dek(
        &self,
        object_key: &str,
        customer: Option<&CustomerKey>,
    ) -> S3Result<(Dek, MetaWrap)> {
        if let Some(c) = customer {
            let dek = Dek::generate();
            let w = crate::keys::wrap(&c.key, SSEC_ID, &dek, &ctx(object_key));
            return Ok((dek, w.to_metadata()));
        }
        let (dek, wrapped) = self
            .ring
            .seal_new_dek(&ctx(object_key))
            .await
            .map_err(key_error)?;
        Ok((dek, wrapped.to_metadata()))
    }

    /// The DEK of a stored object, bound to `object_key`. Customer-key objects need the
    /// customer's key and bypass the cache, so a cached DEK never stands in for the key.
    pub async fn open(
        &self,
        kek: &str,
        b64: &str,
        object_key: &str,
        customer: Option<&CustomerKey>,
    ) -> S3Result<Arc<Dek>> {
        match (kek == SSEC_ID, customer) {
            (true, None) => return Err(ssec::key_required()),
            (false, Some(_)) => return Err(ssec::not_applicable()),
            (true, Some(c)) => {
                let wrapped = WrappedDek::from_metadata(kek, b64).map_err(key_error)?;
                return crate::keys::unwrap(&c.key, &wrapped, &ctx(object_key))
                    .map(Arc::new)
                    .map_err(|_| ssec::wrong_key());
            }
            (false, None) => {}
        }
        let wrapped = WrappedDek::from_metadata(kek, b64).map_err(key_error)?;
        self.ring
            .open(&wrapped, &ctx(object_key))
            .await
            .map_err(key_error)
    }

    /// `dek` wrapped again for another object key (copy, rotation): under the customer's
    /// key if the destination uses one, else the active KEK.
    pub async fn rewrap(
        &self,
        dek: &Dek,
        object_key: &str,
        customer: Option<&CustomerKey>,
    ) -> S3Result<MetaWrap> {
        if let Some(c) = customer {
            return Ok(crate::keys::wrap(&c.key, SSEC_ID, dek, &ctx(object_key)).to_metadata());
        }
        let w = self
            .ring
            .provider()
            .wrap(dek, &ctx(object_key))
            .await
            .map_err(key_error)?;
        Ok(w.to_metadata())
    }
}

fn ctx(object_key: &str) -> WrapContext {
    WrapContext {
        object_key: object_key.to_owned(),
    }
}

/// Unwrap failures mean a wrong, missing or tampered key: the object cannot be read with the
/// keys this gateway holds. The message names the cause, never key material.
fn key_error(e: crate::keys::KeyError) -> S3Error {
    tracing::warn!(error = %e, "key unwrap failed");
    S3Error::with_message(
        s3s::S3ErrorCode::InvalidObjectState,
        format!("the object's data key cannot be unwrapped: {e}"),
    )
}
