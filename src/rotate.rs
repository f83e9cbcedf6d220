//! Key rotation without touching bodies: each object's DEK is unwrapped and wrapped again
//! under the target KEK, and the object is copied onto itself with the new metadata (user
//! metadata and content headers kept). Segment encryption depends only on the DEK, so the
//! ciphertext is copied by the store as is. Safe to interrupt and re-run: objects already
//! under the target are skipped, and each copy is pinned to the ETag that was read.

use crate::keys::{KekProvider, WrappedDek};
use crate::seal::{internal_request, meta};
use crate::upstream::Upstream;
use s3s::dto::*;
use std::collections::BTreeMap;

/// Largest object a single CopyObject may write.
const MAX_SINGLE_COPY: i64 = 5 << 30;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub rewrapped: u64,
    pub already_current: u64,
    pub unencrypted: u64,
    /// SSE-C objects: only their owner's key can rewrap them.
    pub customer_key: u64,
    pub failed: u64,
    /// Sealed objects by KEK id (what `--check` reports).
    pub by_kek: BTreeMap<String, u64>,
}

/// Walks `bucket`/`prefix`. With `to = None` it only counts (`--check`).
pub async fn run(
    up: &Upstream,
    keys: &dyn KekProvider,
    bucket: &str,
    prefix: Option<&str>,
    to: Option<&str>,
    mut progress: impl FnMut(&str, &Summary),
) -> anyhow::Result<Summary> {
    let mut s = Summary::default();
    let mut token = None;
    loop {
        let input = ListObjectsV2Input::builder()
            .bucket(bucket.to_owned())
            .prefix(prefix.map(str::to_owned))
            .continuation_token(token.take())
            .build()?;
        let page = up
            .list_objects_v2(internal_request(input))
            .await
            .map_err(|e| anyhow::anyhow!("listing {bucket}: {}", store_error(&e)))?
            .output;
        for o in page.contents.unwrap_or_default() {
            let Some(key) = o.key else { continue };
            match one(up, keys, bucket, &key, to, &mut s).await {
                Ok(()) => {}
                Err(e) => {
                    s.failed += 1;
                    tracing::warn!(bucket, key, "rotation failed: {e:#}");
                }
            }
            progress(&key, &s);
        }
        match page.next_continuation_token {
            Some(t) if page.is_truncated == Some(true) => token = Some(t),
            _ => break,
        }
    }
    Ok(s)
}

async fn one(
    up: &Upstream,
    keys: &dyn KekProvider,
    bucket: &str,
    key: &str,
    to: Option<&str>,
    s: &mut Summary,
) -> anyhow::Result<()> {
    let head_in = HeadObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .build()?;
    let head = up
        .head_object(internal_request(head_in))
        .await
        .map_err(|e| anyhow::anyhow!("HEAD: {}", store_error(&e)))?
        .output;
    let Some(info) = meta::parse(head.metadata.as_ref())? else {
        s.unencrypted += 1;
        return Ok(());
    };
    *s.by_kek.entry(info.kek.clone()).or_default() += 1;
    if info.kek == "sse-c" {
        s.customer_key += 1;
        return Ok(());
    }
    let Some(to) = to else { return Ok(()) };
    if info.kek == to {
        s.already_current += 1;
        return Ok(());
    }
    if head.content_length.unwrap_or(0) > MAX_SINGLE_COPY {
        anyhow::bail!("larger than 5 GiB: a single CopyObject cannot rewrite it");
    }
    // Rewrapped under the same context (format version, bucket binding) it was wrapped with.
    let ctx = info.wrap_context(bucket, key);
    let dek = keys
        .unwrap(&WrappedDek::from_metadata(&info.kek, &info.dek_b64)?, &ctx)
        .await?;
    let (kek, blob) = keys.wrap_under(to, &dek, &ctx).await?.to_metadata();
    let mut m = head.metadata.clone().unwrap_or_default();
    m.insert(meta::KEK.into(), kek);
    m.insert(meta::DEK.into(), blob);
    let copy = CopyObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .copy_source(CopySource::Bucket {
            bucket: bucket.into(),
            key: key.into(),
            version_id: None,
        })
        .copy_source_if_match(head.e_tag.clone().map(ETagCondition::ETag))
        .metadata_directive(Some(MetadataDirective::from_static(
            MetadataDirective::REPLACE,
        )))
        .metadata(Some(m))
        .content_type(head.content_type.clone())
        .cache_control(head.cache_control.clone())
        .content_disposition(head.content_disposition.clone())
        .content_encoding(head.content_encoding.clone())
        .content_language(head.content_language.clone())
        .expires(head.expires.clone())
        .website_redirect_location(head.website_redirect_location.clone())
        // A copy without a class is written as STANDARD.
        .storage_class(head.storage_class.clone())
        .build()?;
    up.copy_object(internal_request(copy))
        .await
        .map_err(|e| anyhow::anyhow!("copy onto itself: {}", store_error(&e)))?;
    // The object now counts under its new KEK.
    if let Some(n) = s.by_kek.get_mut(&info.kek) {
        *n -= 1;
    }
    *s.by_kek.entry(to.to_owned()).or_default() += 1;
    s.rewrapped += 1;
    Ok(())
}

/// A store error as an operator reads it ("NoSuchBucket: The specified bucket does not
/// exist"), not s3s's debug form.
pub(crate) fn store_error(e: &s3s::S3Error) -> String {
    match e.message() {
        Some(m) if !m.is_empty() => format!("{}: {m}", e.code().as_str()),
        _ => e.code().as_str().to_owned(),
    }
}
