//! Offline tools: inspect an object's format, and decrypt without a running gateway (from the
//! store, or from stored bytes plus metadata). Decryption streams in constant memory and
//! verifies every segment before writing it.

use crate::format::layout::Layout;
use crate::format::size;
use crate::format::{Expect, StreamOpener};
use crate::keys::{KekProvider, WrappedDek};
use crate::seal::{internal_request, meta};
use crate::upstream::Upstream;
use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::{GetObjectInput, GetObjectTaggingInput, HeadObjectInput, Metadata};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A human-readable description: format version, KEK id, sizes. Never key material.
pub async fn inspect(up: &Upstream, bucket: &str, key: &str) -> anyhow::Result<String> {
    let input = HeadObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .build()?;
    let head = up
        .head_object(internal_request(input))
        .await
        .map_err(|e| anyhow::anyhow!("HEAD {bucket}/{key}: {}", crate::rotate::store_error(&e)))?
        .output;
    let stored = head.content_length.unwrap_or(0).max(0) as u64;
    let Some(info) = meta::parse(head.metadata.as_ref())? else {
        return Ok(format!(
            "{bucket}/{key}: not encrypted (no s3seal metadata), {stored} bytes\n"
        ));
    };
    let plain = size::plain_len(stored, info.segment)
        .map_or("invalid for its segment size".to_owned(), |p| {
            format!("{p} bytes")
        });
    Ok(format!(
        "{bucket}/{key}\n  format:        s3seal v{}\n  key:           {}\n  segment size:  {} bytes\n  stored size:   {stored} bytes\n  plaintext:     {plain}\n  multipart:     {}\n  plaintext MD5: {}\n",
        info.version,
        if info.kek == "sse-c" {
            "customer-provided (SSE-C)".to_owned()
        } else {
            format!("KEK {}", info.kek)
        },
        info.segment,
        if info.multipart { "yes" } else { "no" },
        info.md5.as_deref().unwrap_or("not recorded"),
    ))
}

/// Reads the object straight from the store and writes its verified plaintext to `out`.
pub async fn decrypt_from_store(
    up: &Upstream,
    keys: &dyn KekProvider,
    bucket: &str,
    key: &str,
    out: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let input = GetObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .build()?;
    let resp = up
        .get_object(internal_request(input))
        .await
        .map_err(|e| anyhow::anyhow!("GET {bucket}/{key}: {}", crate::rotate::store_error(&e)))?
        .output;
    let tags = if matches!(meta::parse(resp.metadata.as_ref()), Ok(Some(i)) if i.committed) {
        let t = GetObjectTaggingInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: resp.version_id.clone(),
            ..Default::default()
        };
        let tags = up
            .get_object_tagging(internal_request(t))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "GET {bucket}/{key}?tagging: {}",
                    crate::rotate::store_error(&e)
                )
            })?
            .output
            .tag_set;
        tags.into_iter()
            .filter_map(|t| Some((t.key?, t.value?)))
            .collect()
    } else {
        std::collections::HashMap::new()
    };
    let stored = resp.content_length.unwrap_or(0).max(0) as u64;
    let at = Where {
        bucket: Some(bucket),
        key,
        stored,
    };
    let mut opener = opener(resp.metadata.as_ref(), &tags, keys, at).await?;
    let mut body = resp
        .body
        .ok_or_else(|| anyhow::anyhow!("the store returned no body"))?;
    let mut w = HoldLast::default();
    let mut read = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("reading from the store: {e}"))?;
        read += chunk.len() as u64;
        opener.push(chunk, &mut w.plain)?;
        w.write(out).await?;
    }
    if read != stored {
        anyhow::bail!("the store sent {read} bytes of {stored}: truncated transfer");
    }
    opener.finish(&mut w.plain)?;
    w.finish(out).await
}

/// Writes verified plaintext but holds back the newest segment until the next one verifies
/// or the stream's end checks pass, so the plaintext that would complete a truncated object
/// (a last segment without the final flag) is never written.
#[derive(Default)]
struct HoldLast {
    plain: Vec<Bytes>,
    held: Option<Bytes>,
}

impl HoldLast {
    async fn write(&mut self, out: &mut (impl AsyncWrite + Unpin)) -> std::io::Result<()> {
        let mut ready: Vec<Bytes> = Vec::new();
        for b in self.plain.drain(..) {
            ready.extend(self.held.replace(b));
        }
        write_all(out, &mut ready).await
    }

    /// Only after the opener's `finish` succeeded.
    async fn finish(mut self, out: &mut (impl AsyncWrite + Unpin)) -> anyhow::Result<()> {
        self.write(out).await?;
        let mut last: Vec<Bytes> = self.held.take().into_iter().collect();
        write_all(out, &mut last).await?;
        out.flush().await?;
        Ok(())
    }
}

/// Runs `f` with a temporary file next to `path` and renames it to `path` only when `f`
/// succeeded: a failed decryption leaves no output file, never a partial one.
pub async fn to_file_atomically<F, Fut>(path: &std::path::Path, f: F) -> anyhow::Result<()>
where
    F: FnOnce(tokio::fs::File) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("--output {} names no file", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(".s3seal-partial");
    let tmp = path.with_file_name(tmp_name);
    let file = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    match f(file).await {
        Ok(()) => {
            tokio::fs::rename(&tmp, path).await?;
            Ok(())
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

/// Stored bytes from `input`, metadata given separately (e.g. from a backup of the bucket).
/// `bucket`: the bucket the object was written to, needed for format-v2 bucket-bound keys.
pub async fn decrypt_stream(
    metadata: &std::collections::HashMap<String, String>,
    keys: &dyn KekProvider,
    bucket: Option<&str>,
    key: &str,
    mut input: impl AsyncRead + Unpin,
    out: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let m: Metadata = metadata
        .iter()
        .map(|(k, v)| (k.trim_start_matches("x-amz-meta-").to_owned(), v.clone()))
        .collect();
    // Offline there is no stored length to check against: the committed layout (tags
    // `s3seal-layout*`, given in the same JSON) or the final flags end the object.
    let at = Where {
        bucket,
        key,
        stored: u64::MAX,
    };
    let mut opener = opener(Some(&m), &m, keys, at).await?;
    let mut buf = vec![0u8; 256 << 10];
    let mut w = HoldLast::default();
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        opener.push(Bytes::copy_from_slice(&buf[..n]), &mut w.plain)?;
        w.write(out).await?;
    }
    opener.finish(&mut w.plain)?;
    w.finish(out).await
}

/// Where the object was stored and how long it is there (`u64::MAX`: unknown).
struct Where<'a> {
    bucket: Option<&'a str>,
    key: &'a str,
    stored: u64,
}

async fn opener(
    m: Option<&Metadata>,
    tags: &std::collections::HashMap<String, String>,
    keys: &dyn KekProvider,
    at: Where<'_>,
) -> anyhow::Result<StreamOpener> {
    let (bucket, key) = (at.bucket, at.key);
    let info = meta::parse(m)?
        .ok_or_else(|| anyhow::anyhow!("the object has no s3seal metadata: it is not encrypted"))?;
    if info.kek == "sse-c" {
        anyhow::bail!(
            "the object is encrypted with a customer-provided key (SSE-C); only its owner can decrypt it"
        );
    }
    let ctx = match bucket {
        Some(b) => info.wrap_context(b, key),
        None if info.version == 1 || !info.bucket_bound => info.wrap_context("", key),
        None => anyhow::bail!(
            "the object's data key is bound to its bucket (format v2): give --bucket with the bucket it was written to"
        ),
    };
    let dek = keys
        .unwrap(&WrappedDek::from_metadata(&info.kek, &info.dek_b64)?, &ctx)
        .await?;
    if info.committed {
        let values = meta::layout_tag_values(|k| tags.get(k).map(String::as_str));
        if values.is_empty() {
            anyhow::bail!(
                "the object is a multipart object whose layout is committed in its tags (s3seal-layout...), and none were found: refusing to decrypt without it"
            );
        }
        let layout = Layout::from_tag_values(&values)
            .and_then(|sealed| Layout::open(&sealed, &dek, info.segment))
            .map_err(|e| anyhow::anyhow!("the object's multipart layout tag: {e}"))?;
        if at.stored != u64::MAX && at.stored != layout.stored_len(info.segment) {
            anyhow::bail!(
                "the stored size differs from the committed layout: parts are missing or added"
            );
        }
        return Ok(StreamOpener::with_spans(
            &dek,
            info.segment,
            layout.full_spans(info.segment),
        ));
    }
    let expect = if info.multipart {
        Expect::multipart(true, true, None)
    } else {
        Expect::single(0, true)
    };
    let o = StreamOpener::new(&dek, info.segment, expect);
    // The store's length tells how many segments there must be, so the one that ends the
    // object is checked for the final flag before it is written.
    Ok(if at.stored == u64::MAX {
        o
    } else {
        o.expect_segments(size::segments_in(at.stored, info.segment))
    })
}

async fn write_all(
    out: &mut (impl AsyncWrite + Unpin),
    plain: &mut Vec<Bytes>,
) -> std::io::Result<()> {
    for b in plain.drain(..) {
        out.write_all(&b).await?;
    }
    Ok(())
}
