//! `s3seal import-fs`: copies an s3s-fs data directory (the old local store) into the
//! embedded store, object by object through both stores' S3 interfaces, so metadata
//! (including the gateway's encryption headers) and ETags carry over and bodies are copied
//! byte for byte (ciphertext stays ciphertext).

use super::Store;
use crate::seal::internal_request;
use s3s::S3;
use s3s::dto::*;
use std::path::Path;

/// Imports every bucket and object of the s3s-fs directory `from` into the store at `to`.
/// Returns (buckets, objects). Existing keys in `to` are overwritten.
pub async fn import_fs(from: &Path, to: &Path) -> anyhow::Result<(u64, u64)> {
    if from.join("index.log").exists() {
        anyhow::bail!(
            "{}: this is an embedded store (it has index.log), not an s3s-fs directory; \
             it needs no import (point upstream.path at it)",
            from.display()
        );
    }
    let src = s3s_fs::FileSystem::new(from)
        .map_err(|e| anyhow::anyhow!("{}: not an s3s-fs directory: {e:?}", from.display()))?;
    let dst = Store::open(to)?;
    let e = |e: s3s::S3Error| anyhow::anyhow!("{e}");
    let buckets = src
        .list_buckets(internal_request(ListBucketsInput::default()))
        .await
        .map_err(e)?
        .output
        .buckets
        .unwrap_or_default();
    let (mut nb, mut no) = (0, 0);
    for b in buckets {
        let Some(name) = b.name else { continue };
        let ci = CreateBucketInput {
            bucket: name.clone(),
            ..Default::default()
        };
        match dst.create_bucket(internal_request(ci)).await {
            Ok(_) => {}
            Err(err) if *err.code() == s3s::S3ErrorCode::BucketAlreadyOwnedByYou => {}
            Err(err) => return Err(e(err)),
        }
        nb += 1;
        // s3s-fs answers at most 1000 keys per listing: page through all of them.
        let mut objects = Vec::new();
        let mut token = None;
        loop {
            let li = ListObjectsV2Input {
                bucket: name.clone(),
                continuation_token: token.take(),
                ..Default::default()
            };
            let page = src
                .list_objects_v2(internal_request(li))
                .await
                .map_err(e)?
                .output;
            objects.extend(page.contents.unwrap_or_default());
            match page.next_continuation_token {
                Some(t) if page.is_truncated == Some(true) => token = Some(t),
                _ => break,
            }
        }
        for o in objects {
            let Some(key) = o.key else { continue };
            let gi = GetObjectInput {
                bucket: name.clone(),
                key: key.clone(),
                ..Default::default()
            };
            let got = src
                .get_object(internal_request(gi))
                .await
                .map_err(e)?
                .output;
            let pi = PutObjectInput {
                bucket: name.clone(),
                key: key.clone(),
                body: got.body,
                content_length: got.content_length,
                metadata: got.metadata,
                content_type: got.content_type,
                content_encoding: got.content_encoding,
                content_disposition: got.content_disposition,
                content_language: got.content_language,
                cache_control: got.cache_control,
                expires: got.expires,
                ..Default::default()
            };
            dst.put_object(internal_request(pi)).await.map_err(e)?;
            // Multipart ETags ("…-N") are kept: the gateway derives visible ETags from them.
            if let Some(ETag::Strong(tag)) = got.e_tag {
                dst.set_etag(&name, &key, tag).await.map_err(e)?;
            }
            no += 1;
        }
    }
    Ok((nb, no))
}
