//! Key-encryption keys (KEKs), DEK wrapping and the DEK cache.
//!
//! A [`KekProvider`] wraps and unwraps per-object DEKs; the [`Keyring`] puts a bounded cache
//! in front of it so hot objects cost one unwrap per TTL, not one per request.

mod cache;
mod env;
mod file;
mod kek;
pub mod kms;
mod local;
mod wrap;

pub use cache::{CacheStats, DekCache};
pub use env::from_env;
pub use file::{add_key, generate_key_file, load_key_file};
pub use kek::{KEK_LEN, Kek};
pub use local::LocalKeks;
pub use wrap::{BLOB_LEN, Scope, WrapContext, WrappedDek, unwrap, wrap, wrap_with_nonce};

use crate::format::Dek;
use std::sync::Arc;
use std::time::Duration;

/// Why a key operation failed. Names ids and files, never key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("KEK '{0}' is not known to this gateway")]
    UnknownKek(String),
    #[error("wrapped key does not authenticate under KEK '{0}' for this object key")]
    Unwrap(String),
    #[error("wrapped key is malformed: {0}")]
    Malformed(&'static str),
    #[error("{0}")]
    Config(String),
    #[error("key provider failed: {0}")]
    Provider(String),
}

/// Where KEKs live. Implementations: local keys (file or environment) and AWS KMS.
#[async_trait::async_trait]
pub trait KekProvider: Send + Sync {
    /// For the startup banner, e.g. "key file ./.s3seal/keys.toml (active k1)".
    fn describe(&self) -> String;
    /// The KEK id new objects are wrapped under.
    fn active_id(&self) -> &str;
    /// Wraps `dek` under the active KEK, bound to `ctx`.
    async fn wrap(&self, dek: &Dek, ctx: &WrapContext) -> Result<WrappedDek, KeyError> {
        let id = self.active_id().to_owned();
        self.wrap_under(&id, dek, ctx).await
    }
    /// Wraps `dek` under KEK `id` (rotation targets a named KEK).
    async fn wrap_under(
        &self,
        id: &str,
        dek: &Dek,
        ctx: &WrapContext,
    ) -> Result<WrappedDek, KeyError>;
    /// Remote calls made so far (KMS requests); 0 for providers that make none.
    fn remote_calls(&self) -> u64 {
        0
    }
    /// Unwraps; fails unless KEK id, blob and `ctx` all match what was wrapped.
    async fn unwrap(&self, w: &WrappedDek, ctx: &WrapContext) -> Result<Dek, KeyError>;
}

/// The provider plus the DEK cache: what the S3 layer talks to.
pub struct Keyring {
    provider: Arc<dyn KekProvider>,
    cache: DekCache,
}

impl Keyring {
    pub fn new(provider: Arc<dyn KekProvider>, cache_entries: u64, ttl: Duration) -> Self {
        Keyring {
            provider,
            cache: DekCache::new(cache_entries, ttl),
        }
    }

    pub fn provider(&self) -> &dyn KekProvider {
        self.provider.as_ref()
    }

    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// A fresh DEK and its wrapped form. The DEK is cached: the first reads after a write
    /// (clients often HEAD or GET what they just PUT) need no unwrap.
    pub async fn seal_new_dek(&self, ctx: &WrapContext) -> Result<(Dek, WrappedDek), KeyError> {
        let dek = Dek::generate();
        let wrapped = self.provider.wrap(&dek, ctx).await?;
        self.cache.insert(&wrapped, ctx, Arc::new(dek.duplicate()));
        Ok((dek, wrapped))
    }

    /// The DEK of a stored object, from the cache or the provider.
    pub async fn open(&self, w: &WrappedDek, ctx: &WrapContext) -> Result<Arc<Dek>, KeyError> {
        if let Some(d) = self.cache.get(w, ctx) {
            return Ok(d);
        }
        let dek = Arc::new(self.provider.unwrap(w, ctx).await?);
        self.cache.insert(w, ctx, dek.clone());
        Ok(dek)
    }
}
