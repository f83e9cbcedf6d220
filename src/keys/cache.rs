//! Bounded cache of unwrapped DEKs, keyed by everything the unwrap depends on (KEK id, blob,
//! object key), so a hit returns exactly what an unwrap would.

use super::{WrapContext, WrappedDek};
use crate::format::Dek;
use moka::sync::Cache;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The whole wrap context is part of the key: a DEK cached for one bucket must not answer
/// for the same blob copied into another (v2 bucket binding).
type Key = (String, Vec<u8>, WrapContext);

pub struct DekCache {
    cache: Option<Cache<Key, Arc<Dek>>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl DekCache {
    /// `entries == 0` or a zero TTL disables caching.
    pub fn new(entries: u64, ttl: Duration) -> Self {
        let cache = (entries > 0 && !ttl.is_zero()).then(|| {
            Cache::builder()
                .max_capacity(entries)
                .time_to_live(ttl)
                .build()
        });
        DekCache {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn get(&self, w: &WrappedDek, ctx: &WrapContext) -> Option<Arc<Dek>> {
        let hit = self.cache.as_ref().and_then(|c| c.get(&key(w, ctx)));
        let counter = if hit.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        hit
    }

    pub fn insert(&self, w: &WrappedDek, ctx: &WrapContext, dek: Arc<Dek>) {
        if let Some(c) = &self.cache {
            c.insert(key(w, ctx), dek);
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

fn key(w: &WrappedDek, ctx: &WrapContext) -> Key {
    (w.kek_id.clone(), w.blob.clone(), ctx.clone())
}
