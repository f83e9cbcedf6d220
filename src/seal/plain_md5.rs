//! The plaintext MD5 of an upload (a single PUT's ETag, Content-MD5). MD5 is serial and, at
//! ~500 MiB/s, the costliest step of sealing a large body; for bodies of 4 MiB and more it
//! runs on a blocking thread so it overlaps AES-GCM and the network instead of adding to them.
//! At most `MAX_QUEUED` bytes wait for the hasher; beyond that the upload stream waits too,
//! so memory stays bounded however slow the hasher is. Workers are plain threads, at most one
//! per core (more would not hash faster): never tokio's blocking pool, which the embedded store
//! needs for its file I/O — workers parked there waiting for chunks could starve the very
//! writes that would produce them.

use bytes::Bytes;
use futures::task::AtomicWaker;
use md5::{Digest, Md5};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Bodies at least this long are hashed on a worker thread.
const WORKER_FROM: u64 = 4 << 20;
/// Bytes handed to the worker and not yet hashed, at most.
const MAX_QUEUED: usize = 4 << 20;

pub enum PlainMd5 {
    Inline(Md5),
    Worker(Worker),
    /// Nobody needs the MD5 (no Content-MD5 to check, ETags are not MD5s): not computed.
    Off,
}

pub struct Worker {
    tx: Option<std::sync::mpsc::Sender<Bytes>>,
    shared: Arc<Shared>,
    result: tokio::sync::oneshot::Receiver<[u8; 16]>,
}

struct Shared {
    queued: AtomicUsize,
    waker: AtomicWaker,
}

/// Running workers, at most one per core; a slot is held by its worker thread.
static WORKERS: AtomicUsize = AtomicUsize::new(0);

struct WorkerSlot;

impl WorkerSlot {
    fn take() -> Option<WorkerSlot> {
        let max = std::thread::available_parallelism().map_or(1, |n| n.get());
        WORKERS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| WorkerSlot)
    }
}

impl Drop for WorkerSlot {
    fn drop(&mut self) {
        WORKERS.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PlainMd5 {
    /// A hasher for a body of `len` bytes.
    pub fn for_len(len: u64) -> PlainMd5 {
        if len < WORKER_FROM {
            return PlainMd5::Inline(Md5::new());
        }
        let Some(slot) = WorkerSlot::take() else {
            return PlainMd5::Inline(Md5::new());
        };
        let (tx, rx) = std::sync::mpsc::channel::<Bytes>();
        let (done, result) = tokio::sync::oneshot::channel();
        let shared = Arc::new(Shared {
            queued: AtomicUsize::new(0),
            waker: AtomicWaker::new(),
        });
        let s = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("s3seal-md5".into())
            .spawn(move || {
                let _slot = slot;
                let mut md5 = Md5::new();
                // Ends when the stream drops its sender: at the end of the body or on abort.
                for chunk in rx {
                    md5.update(&chunk);
                    s.queued.fetch_sub(chunk.len(), Ordering::AcqRel);
                    s.waker.wake();
                }
                let _ = done.send(md5.finalize().into());
            });
        if spawned.is_err() {
            return PlainMd5::Inline(Md5::new());
        }
        PlainMd5::Worker(Worker {
            tx: Some(tx),
            shared,
            result,
        })
    }

    /// Ready when another chunk may be handed over without exceeding the queue bound.
    pub fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let PlainMd5::Worker(w) = self else {
            return Poll::Ready(());
        };
        if w.shared.queued.load(Ordering::Acquire) < MAX_QUEUED {
            return Poll::Ready(());
        }
        w.shared.waker.register(cx.waker());
        if w.shared.queued.load(Ordering::Acquire) < MAX_QUEUED {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    pub fn update(&mut self, chunk: &Bytes) {
        match self {
            PlainMd5::Inline(md5) => md5.update(chunk),
            PlainMd5::Off => {}
            PlainMd5::Worker(w) => {
                w.shared.queued.fetch_add(chunk.len(), Ordering::AcqRel);
                if let Some(tx) = &w.tx {
                    // A send fails only if the worker is gone, which it is not before `tx`
                    // is dropped; `poll_result` would then report the loss.
                    let _ = tx.send(chunk.clone());
                }
            }
        }
    }

    /// The digest once every chunk is hashed; call after the last `update`. `None` if the
    /// worker died (it cannot panic on its own, so only on runtime shutdown).
    pub fn poll_result(&mut self, cx: &mut Context<'_>) -> Poll<Option<[u8; 16]>> {
        match self {
            PlainMd5::Inline(md5) => Poll::Ready(Some(std::mem::take(md5).finalize().into())),
            PlainMd5::Off => Poll::Ready(Some([0; 16])),
            PlainMd5::Worker(w) => {
                w.tx = None;
                std::pin::Pin::new(&mut w.result).poll(cx).map(Result::ok)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn digest_of(len: usize, chunk: usize) -> [u8; 16] {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 256) as u8).collect();
        let mut h = PlainMd5::for_len(len as u64);
        for c in data.chunks(chunk) {
            std::future::poll_fn(|cx| h.poll_room(cx)).await;
            h.update(&Bytes::copy_from_slice(c));
        }
        let got = std::future::poll_fn(|cx| h.poll_result(cx)).await.unwrap();
        let want: [u8; 16] = Md5::digest(&data).into();
        assert_eq!(got, want);
        got
    }

    #[tokio::test]
    async fn worker_and_inline_agree_with_md5() {
        assert!(matches!(PlainMd5::for_len(1), PlainMd5::Inline(_)));
        assert!(matches!(
            PlainMd5::for_len(WORKER_FROM),
            PlainMd5::Worker(_)
        ));
        digest_of(1000, 100).await;
        digest_of(WORKER_FROM as usize + 12345, 65536).await;
        // Chunks larger than the queue bound still make progress.
        digest_of(3 * MAX_QUEUED + 1, MAX_QUEUED + 1).await;
        // At most one worker per core; beyond that large bodies hash inline, still correctly.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut held = Vec::new();
        while let h @ PlainMd5::Worker(_) = PlainMd5::for_len(WORKER_FROM) {
            held.push(h);
            assert!(held.len() <= cores, "more workers than cores");
        }
        digest_of(WORKER_FROM as usize + 1, 65536).await;
        drop(held);
    }
}
