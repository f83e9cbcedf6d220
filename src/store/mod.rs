//! The embedded store: an `s3s::S3` implementation for single-node deployments in which keys
//! are opaque byte strings (nothing in a key ever becomes a path).
//!
//! # On-disk layout (under the store directory)
//!
//! - `index.log`: the journal of [`index::Rec`] batches (length, SHA-256 prefix, JSON). It is
//!   the only source of truth for buckets, keys, metadata, ETags and multipart uploads.
//! - `blobs/xx/<id>`: object bodies and multipart parts, named by 128-bit random ids (`xx` =
//!   first two hex digits).
//! - `tmp/`: bodies being received and the journal being compacted; emptied on start.
//!
//! # Durability (what is fsynced when)
//!
//! A PUT streams the body to `tmp/<id>`, fsyncs the file, renames it to `blobs/xx/<id>` and
//! fsyncs `blobs/xx/`; only then does it append the index record and fsync `index.log`, and
//! only then is the new version visible and the request acknowledged. The replaced body file
//! is deleted after that commit. A crash before the journal fsync leaves the old version (the
//! orphan body is deleted on start); after it, the new one. Start-up replays the journal
//! (dropping a torn tail), rewrites it compacted, and deletes every body file the index does
//! not reference.
//!
//! # Versioning
//!
//! Every key holds its versions newest first (see `docs/STORE.md`): versioning enabled, each
//! write adds a version and a DELETE a delete marker; never enabled or suspended, writes
//! replace the "null" version. A version deleted by id is a journal record like any other,
//! and its body file is deleted after the commit (or on the next start after a crash).

mod blob_read;
pub mod import;
pub mod index;
mod reserve;
mod s3;
pub(crate) use s3::percent_decode;
pub mod serve;

use index::{Journal, Rec, State};
use s3s::{S3Result, s3_error};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

pub use serve::{serve_direct, serve_store};

/// Request extension for CompleteMultipartUpload: tags the embedded store gives the new
/// object in the same journal record that creates it. The gateway passes its sealed layout
/// this way, so no failure (a full disk) can leave the object without it — a separate
/// PutObjectTagging after the store's Complete could fail with the old object already gone
/// and the new one unreadable. Remote stores ignore it and get that PutObjectTagging.
#[derive(Clone, Debug)]
pub struct TagsAtComplete(pub Vec<(String, String)>);

/// Response extension: the store committed [`TagsAtComplete`] with the object.
#[derive(Clone, Copy, Debug)]
pub struct TagsCommitted;

/// The embedded store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
    /// New bodies get their MD5 as ETag (S3's rule, which clients of a bare store check);
    /// off for the gateway's own handle, see [`Store::with_opaque_etags`].
    md5_etags: bool,
}

struct Inner {
    root: PathBuf,
    state: RwLock<State>,
    journal: Mutex<Journal>,
    reserve: Arc<reserve::Reserve>,
    /// Held (locked) for the store's lifetime.
    _lock: std::fs::File,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({})", self.inner.root.display())
    }
}

/// True when `dir` looks like an s3s-fs data directory (bucket directories, no index).
pub fn looks_like_s3s_fs(dir: &Path) -> bool {
    if dir.join("index.log").exists() || dir.join("lock").exists() {
        return false;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let n = e.file_name();
        e.path().is_dir() && n != "blobs" && n != "tmp" && !n.to_string_lossy().starts_with('.')
    })
}

impl Store {
    /// Opens (creating if needed) the store in `root`: replays and compacts the journal,
    /// empties `tmp/`, and deletes unreferenced body files.
    ///
    /// Opening a directory this process already has open returns the same store (the test
    /// harness serves one directory through two services); another process holding it
    /// gets an error (an exclusive lock on `lock`), since two writers would corrupt it.
    pub fn open(root: impl AsRef<Path>) -> io::Result<Store> {
        std::fs::create_dir_all(root.as_ref())?;
        let root = root.as_ref().canonicalize()?;
        static OPEN: std::sync::OnceLock<
            Mutex<std::collections::HashMap<PathBuf, std::sync::Weak<Inner>>>,
        > = std::sync::OnceLock::new();
        let mut open = OPEN
            .get_or_init(Default::default)
            .lock()
            .expect("open stores");
        if let Some(inner) = open.get(&root).and_then(|w| w.upgrade()) {
            return Ok(Store {
                inner,
                md5_etags: true,
            });
        }
        let store = Self::open_new(root.clone())?;
        open.insert(root, Arc::downgrade(&store.inner));
        Ok(store)
    }

    fn open_new(root: PathBuf) -> io::Result<Store> {
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(root.join("lock"))?;
        lock.try_lock().map_err(|_| {
            io::Error::other(format!(
                "{} is in use by another process (lock file held)",
                root.display()
            ))
        })?;
        if looks_like_s3s_fs(&root) {
            return Err(io::Error::other(format!(
                "{} holds an s3s-fs directory (the old local store). Move it aside and import it: \
                 `s3seal import-fs --from OLD_DIR --to {}`",
                root.display(),
                root.display()
            )));
        }
        let tmp = root.join("tmp");
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        for i in 0..=255u8 {
            std::fs::create_dir_all(root.join("blobs").join(format!("{i:02x}")))?;
        }
        let log = root.join("index.log");
        let (state, intact) = index::replay_len(&log)?;
        // Before compacting: orphaned bodies may be the space compaction needs.
        let referenced = state.referenced();
        for sub in std::fs::read_dir(root.join("blobs"))?.flatten() {
            for f in std::fs::read_dir(sub.path())?.flatten() {
                if !referenced.contains(&*f.file_name().to_string_lossy()) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
        let reserve = Arc::new(reserve::Reserve::new(&root));
        let journal = compact(&log, &tmp, &state, intact, &reserve)?.with_reserve(reserve.clone());
        Ok(Store {
            inner: Arc::new(Inner {
                root,
                state: RwLock::new(state),
                journal: Mutex::new(journal),
                reserve,
                _lock: lock,
            }),
            md5_etags: true,
        })
    }

    /// This handle gives new bodies a random 128-bit ETag instead of their MD5, unless the
    /// request carries Content-MD5 (then it is checked and is the ETag, as on S3).
    ///
    /// For the gateway's embedded store: the gateway never shows a store ETag as a content
    /// MD5 (it stores ciphertext under a fresh key, so the MD5 of what the store holds means
    /// nothing to a client; `seal/etag.rs`), and hashing it was 46 % of the embedded
    /// default's PUT CPU. An ETag still names one stored body: every write gets a new one.
    /// Other handles on the same directory (a bare `store-serve`, the test harness) keep
    /// S3's MD5 ETags.
    pub fn with_opaque_etags(mut self) -> Store {
        self.md5_etags = false;
        self
    }

    /// The store directory.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Path of a body file by id.
    pub fn blob_path(&self, id: &str) -> PathBuf {
        self.inner.root.join("blobs").join(&id[..2]).join(id)
    }

    /// The file holding the current body of `bucket/key`, if any. For tests and tools that
    /// must look at (or tamper with) stored bytes; the S3 API never needs it.
    pub fn object_body_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let st = self.inner.state.read().expect("store lock");
        let m = st.buckets.get(bucket)?.current(key)?;
        Some(self.blob_path(&m.blob))
    }

    fn tmp_path(&self, id: &str) -> PathBuf {
        self.inner.root.join("tmp").join(id)
    }

    /// Read access to the index.
    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.inner.state.read().expect("store lock"))
    }

    /// Runs `plan` against the current state under the commit lock; the batch it returns is
    /// appended to the journal and fsynced, then applied. Conditions checked in `plan` hold
    /// at the commit (one writer at a time). Replaced body files are deleted afterwards.
    async fn commit<T: Send + 'static>(
        &self,
        plan: impl FnOnce(&State) -> S3Result<(Vec<Rec>, T)> + Send + 'static,
    ) -> S3Result<T> {
        let this = self.clone();
        let res = tokio::task::spawn_blocking(move || -> S3Result<(T, Vec<String>)> {
            let mut journal = this.inner.journal.lock().expect("journal lock");
            let (batch, out) = {
                let st = this.inner.state.read().expect("store lock");
                plan(&st)?
            };
            if batch.is_empty() {
                return Ok((out, Vec::new()));
            }
            let reserve = &this.inner.reserve;
            if reserve.must_hold() && !batch.iter().all(Rec::frees_space) && !reserve.hold() {
                return Err(disk_full());
            }
            journal
                .append(&batch)
                .map_err(|e| io_failed(e, "store index write failed"))?;
            let mut freed = Vec::new();
            let mut st = this.inner.state.write().expect("store lock");
            for r in batch {
                freed.extend(st.apply(r));
            }
            Ok((out, freed))
        })
        .await
        .map_err(|e| io_failed(e, "store commit"))??;
        for id in res.1 {
            let _ = tokio::fs::remove_file(self.blob_path(&id)).await;
        }
        Ok(res.0)
    }
}

/// Rewrites the journal compacted. On a full disk it first gives up the journal reserve left
/// by the last run, and if that is not room enough starts on the journal as it is: refusing
/// to start would leave nothing able to delete objects and free space.
fn compact(
    log: &Path,
    tmp: &Path,
    state: &State,
    intact: u64,
    reserve: &reserve::Reserve,
) -> io::Result<Journal> {
    let new = tmp.join("index.log.new");
    let mut released = false;
    loop {
        match Journal::rewrite(log, &new, state) {
            Err(e) if reserve::is_full(&e) => {
                let _ = std::fs::remove_file(&new);
                if !released {
                    released = true;
                    reserve.release();
                    continue;
                }
                tracing::warn!(
                    path = %log.display(),
                    "the disk is too full to compact the store's journal; appending to it as it is"
                );
                return Journal::open(log, Some(intact));
            }
            r => return r,
        }
    }
}

impl Store {
    /// Body writes fill disks: refused while the journal reserve cannot be held, so the
    /// space deletes free goes to the journal first. Also holds it on the first write.
    fn room_for_bodies(&self) -> S3Result<()> {
        if self.inner.reserve.hold() {
            return Ok(());
        }
        Err(disk_full())
    }
}

fn disk_full() -> s3s::S3Error {
    s3_error!(
        InternalError,
        "the store's disk is full: delete objects (or versions by id) to free space"
    )
}

/// A fresh random id (hex of 128 random bits) for body files, upload ids and versions.
pub fn new_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An I/O failure in the embedded store: the client gets a bare 500, so the cause (a full
/// disk, a permission, a read-only mount) goes to the log, where the operator looks.
pub(crate) fn io_failed<E>(e: E, what: &str) -> s3s::S3Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    tracing::error!(error = %e, what, "embedded store I/O failed");
    s3_error!(e, InternalError)
}
