//! Offline tools: inspect an object's format, and decrypt without a running gateway (from the
//! store, or from stored bytes plus metadata). Decryption streams in constant memory and
//! verifies every segment before writing it.

use crate::format::size;
use crate::format::{Expect, StreamOpener};
use crate::keys::{KekProvider, WrapContext, WrappedDek};
use crate::seal::{internal_request, meta};
use crate::upstream::Upstream;
use bytes::Bytes;
use futures::StreamExt;
use s3s::dto::{GetObjectInput, HeadObjectInput, Metadata};
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
        .map_err(|e| anyhow::anyhow!("HEAD {bucket}/{key}: {e}"))?
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
        "{bucket}/{key}\n  format:        s3seal v1\n  key:           {}\n  segment size:  {} bytes\n  stored size:   {stored} bytes\n  plaintext:     {plain}\n  multipart:     {}\n  plaintext MD5: {}\n",
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
        .map_err(|e| anyhow::anyhow!("GET {bucket}/{key}: {e}"))?
        .output;
    let mut opener = opener(resp.metadata.as_ref(), keys, key).await?;
    let mut body = resp
        .body
        .ok_or_else(|| anyhow::anyhow!("the store returned no body"))?;
    let mut plain = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| anyhow::anyhow!("reading from the store: {e}"))?;
        opener.push(chunk, &mut plain)?;
        write_all(out, &mut plain).await?;
    }
    opener.finish(&mut plain)?;
    write_all(out, &mut plain).await?;
    out.flush().await?;
    Ok(())
}

/// Stored bytes from `input`, metadata given separately (e.g. from a backup of the bucket).
pub async fn decrypt_stream(
    metadata: &std::collections::HashMap<String, String>,
    keys: &dyn KekProvider,
    key: &str,
    mut input: impl AsyncRead + Unpin,
    out: &mut (impl AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    let m: Metadata = metadata
        .iter()
        .map(|(k, v)| (k.trim_start_matches("x-amz-meta-").to_owned(), v.clone()))
        .collect();
    let mut opener = opener(Some(&m), keys, key).await?;
    let mut buf = vec![0u8; 256 << 10];
    let mut plain = Vec::new();
    loop {
        let n = input.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        opener.push(Bytes::copy_from_slice(&buf[..n]), &mut plain)?;
        write_all(out, &mut plain).await?;
    }
    opener.finish(&mut plain)?;
    write_all(out, &mut plain).await?;
    out.flush().await?;
    Ok(())
}

async fn opener(
    m: Option<&Metadata>,
    keys: &dyn KekProvider,
    key: &str,
) -> anyhow::Result<StreamOpener> {
    let info = meta::parse(m)?
        .ok_or_else(|| anyhow::anyhow!("the object has no s3seal metadata: it is not encrypted"))?;
    if info.kek == "sse-c" {
        anyhow::bail!(
            "the object is encrypted with a customer-provided key (SSE-C); only its owner can decrypt it"
        );
    }
    let ctx = WrapContext {
        object_key: key.to_owned(),
    };
    let dek = keys
        .unwrap(&WrappedDek::from_metadata(&info.kek, &info.dek_b64)?, &ctx)
        .await?;
    let expect = if info.multipart {
        Expect::multipart(true, true, None)
    } else {
        Expect::single(0, true)
    };
    Ok(StreamOpener::new(&dek, info.segment, expect))
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
