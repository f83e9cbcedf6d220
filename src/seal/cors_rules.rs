//! Each bucket's CORS rules as the gateway answers browsers with them: read from the store
//! (GetBucketCors) and kept a few seconds, so a page's preflight and its request do not each
//! cost a store call. PutBucketCors and DeleteBucketCors through this gateway take effect at
//! once; through another gateway, within [`TTL`].

use super::{Seal, internal_request};
use crate::cors::Rule;
use s3s::dto::GetBucketCorsInput;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TTL: Duration = Duration::from_secs(5);

/// Preflights are anonymous, so anyone can name buckets: the cache stays bounded.
const MAX_ENTRIES: usize = 1024;

type Entry = (Instant, Option<Arc<[Rule]>>);

#[derive(Default)]
pub struct CorsCache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl CorsCache {
    fn get(&self, bucket: &str) -> Option<Option<Arc<[Rule]>>> {
        let m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        m.get(bucket)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, r)| r.clone())
    }

    fn put(&self, bucket: &str, rules: Option<Arc<[Rule]>>) {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= MAX_ENTRIES {
            m.retain(|_, (at, _)| at.elapsed() < TTL);
            if m.len() >= MAX_ENTRIES {
                m.clear();
            }
        }
        m.insert(bucket.to_owned(), (Instant::now(), rules));
    }

    pub fn forget(&self, bucket: &str) {
        let mut m = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        m.remove(bucket);
    }
}

impl Seal {
    /// `bucket`'s CORS rules; None when it has none, does not exist, or the store cannot say
    /// (a browser then gets no CORS grant, which is the safe answer).
    /// A name that cannot be a bucket has none, without a store call.
    pub async fn cors_rules(&self, bucket: &str) -> Option<Arc<[Rule]>> {
        if !s3s::path::check_bucket_name(bucket) {
            return None;
        }
        if let Some(hit) = self.cors.get(bucket) {
            return hit;
        }
        let req = internal_request(GetBucketCorsInput {
            bucket: bucket.to_owned(),
            ..Default::default()
        });
        let rules = match self.up.get_bucket_cors(req).await {
            Ok(r) => r
                .output
                .cors_rules
                .filter(|v| !v.is_empty())
                .map(|v| v.into_iter().map(Rule::from).collect::<Arc<[Rule]>>()),
            Err(e) => {
                tracing::debug!(bucket, code = e.code().as_str(), "no CORS rules for bucket");
                None
            }
        };
        self.cors.put(bucket, rules.clone());
        rules
    }

    /// Runs a store call that changes `bucket`'s rules (or the bucket), then drops the cached
    /// rules so this gateway answers from the new ones at once.
    pub(super) async fn forgetting_cors<T>(
        &self,
        bucket: String,
        call: impl std::future::Future<Output = T>,
    ) -> T {
        let out = call.await;
        self.cors.forget(&bucket);
        out
    }
}
