//! Reading a stored body as a response stream.
//!
//! Why not `tokio::fs::File`: it hands every read of at most the caller's buffer (64 KiB here)
//! to the blocking pool and then copies it out of its own buffer. For a 4 KiB object that is
//! two thread hand-offs (the data, then the end of file) and most of a small GET's cost; a
//! profile of the bare store serving 4 KiB GETs put a third of its CPU in those wake-ups.
//! Small ranges are read here at once (`pread` of at most [`INLINE`] bytes from the page
//! cache, cheaper than one hand-off; the file was opened on this thread already), larger ones
//! in [`CHUNK`] pieces, each one blocking-pool job reading straight into the chunk it yields.
//! The next chunk's read starts when one is handed on, so reading overlaps what the consumer
//! does with it (the gateway decrypts, hyper sends): one chunk ahead, never more, so a stream
//! holds at most two.

use bytes::Bytes;
use futures::Stream;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Ranges up to this size are read before the response starts.
pub const INLINE: u64 = 128 * 1024;

/// Bytes per blocking read of a larger range. Each hand-off costs two thread switches; at
/// 512 KiB an embedded 1 GiB GET used 0.92–0.96 s of CPU against 0.99–1.09 s at 256 KiB (and
/// 0.83–0.95 s at 1 MiB, for twice the memory per stream).
pub const CHUNK: u64 = 512 * 1024;

/// `len` bytes of `f` from `start`. A file shorter than that (a damaged store) ends the stream
/// with an error, so the response is cut rather than silently short.
pub fn stream(
    f: std::fs::File,
    start: u64,
    len: u64,
) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static> {
    let first = if len <= INLINE {
        let mut buf = vec![0u8; len as usize];
        f.read_exact_at(&mut buf, start)?;
        Some(Bytes::from(buf))
    } else {
        None
    };
    let f = Arc::new(f);
    let state = (f, start, start + len, first, None);
    Ok(futures::stream::try_unfold(
        state,
        |(f, pos, end, first, ahead): (_, u64, u64, _, Option<Pending>)| async move {
            if let Some(b) = first {
                // Inline: the whole range is already here.
                return Ok(if b.is_empty() {
                    None
                } else {
                    Some((b, (f, end, end, None, None)))
                });
            }
            if pos >= end {
                return Ok(None);
            }
            let n = CHUNK.min(end - pos);
            let this = ahead.unwrap_or_else(|| spawn_read(&f, pos, n));
            let b = this.await.map_err(io::Error::other)??;
            // Start the next read before this chunk is handed on, so the disk read overlaps
            // what the consumer does with this one (decrypting, sending).
            let next = end - (pos + n);
            let ahead = (next > 0).then(|| spawn_read(&f, pos + n, CHUNK.min(next)));
            Ok(Some((b, (f, pos + n, end, None, ahead))))
        },
    ))
}

type Pending = tokio::task::JoinHandle<io::Result<Bytes>>;

fn spawn_read(f: &Arc<std::fs::File>, pos: u64, len: u64) -> Pending {
    let file = Arc::clone(f);
    tokio::task::spawn_blocking(move || read_chunk(&file, pos, len))
}

/// Exactly `len` bytes at `pos`, or `UnexpectedEof`.
///
/// Read into the buffer's spare capacity (`read_to_end` on a `File` never zeroes it first;
/// `pread` needs an initialised slice, and zeroing 512 KiB chunks was 5 % of an embedded
/// GET's CPU). std grows those reads from 8 KiB, so a chunk takes 7 `read`s instead of one
/// `pread` (strace); still cheaper than the zeroing, and without `unsafe`. Reading moves the
/// file position, which is fine: each stream reads its own descriptor, one chunk after the
/// other. (Inline ranges keep one `pread`: zeroing at most 128 KiB costs less.)
fn read_chunk(f: &std::fs::File, pos: u64, len: u64) -> io::Result<Bytes> {
    use std::io::{Read, Seek, SeekFrom};
    let mut r = f;
    r.seek(SeekFrom::Start(pos))?;
    let mut buf = Vec::with_capacity(len as usize);
    r.take(len).read_to_end(&mut buf)?;
    if buf.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Bytes::from(buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn collect(f: std::fs::File, start: u64, len: u64) -> io::Result<Vec<u8>> {
        let chunks: Vec<Bytes> = stream(f, start, len)?.try_collect().await?;
        Ok(chunks.concat())
    }

    fn file_with(data: &[u8]) -> std::fs::File {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, data).unwrap();
        f
    }

    #[tokio::test]
    async fn ranges_inline_and_chunked_read_exactly_their_bytes() {
        let data: Vec<u8> = (0..(3 * CHUNK + 17)).map(|i| (i % 251) as u8).collect();
        for (start, len) in [
            (0, 0),
            (0, 1),
            (5, INLINE),
            (0, INLINE + 1),
            (CHUNK - 3, 2 * CHUNK + 20),
            (0, data.len() as u64),
        ] {
            let got = collect(file_with(&data), start, len).await.unwrap();
            assert_eq!(
                got,
                &data[start as usize..(start + len) as usize],
                "{start}+{len}"
            );
        }
    }

    #[tokio::test]
    async fn a_short_file_is_an_error_not_a_short_body() {
        let data = vec![7u8; 1000];
        assert!(stream(file_with(&data), 0, 1001).is_err());
        let big = vec![7u8; (2 * CHUNK) as usize];
        let err = collect(file_with(&big), 0, 2 * CHUNK + 1)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }
}
