//! The store's index: every bucket, object and multipart upload, held in ordered maps in
//! memory and made durable by an append-only journal (`index.log`). A record is appended and
//! fsynced before the change becomes visible, so an acknowledged write survives a crash; a
//! torn tail (length or checksum mismatch) is the one write that was never acknowledged and
//! is dropped on replay. Start-up replays the journal and rewrites it compacted (temp file,
//! fsync, rename, directory fsync).
//!
//! Keys are `String`s compared as bytes (`str`'s `Ord`), which is S3's UTF-8 byte order.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;

/// One stored object version: where its body is and everything a HEAD or LIST returns.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ObjMeta {
    /// Body file id under `blobs/` (random; never derived from the key).
    pub blob: String,
    pub size: u64,
    /// Quoted-less ETag: hex MD5, or `hex(md5 of part md5s)-N`.
    pub etag: String,
    /// Unix milliseconds.
    pub modified_ms: i64,
    /// content-type, content-encoding, content-disposition, content-language,
    /// cache-control, expires (HTTP date), website-redirect-location.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub user: BTreeMap<String, String>,
    /// x-amz-checksum-* values as the client sent them, by algorithm name (lower case).
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Sizes of the parts of a multipart object (empty for a single PUT).
    #[serde(default)]
    pub parts: Vec<u64>,
}

/// A part of an in-progress multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PartMeta {
    pub blob: String,
    pub size: u64,
    pub etag: String,
    pub modified_ms: i64,
}

/// An in-progress multipart upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub initiated_ms: i64,
    /// Headers, user metadata and tags the object gets on Complete (blob/size/etag unset).
    pub meta: ObjMeta,
    #[serde(default)]
    pub parts: BTreeMap<i32, PartMeta>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Bucket {
    pub created_ms: i64,
    #[serde(default)]
    pub objects: BTreeMap<String, ObjMeta>,
}

/// A journal record: one atomic change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Rec {
    CreateBucket {
        bucket: String,
        created_ms: i64,
    },
    DeleteBucket {
        bucket: String,
    },
    Put {
        bucket: String,
        key: String,
        meta: ObjMeta,
    },
    Delete {
        bucket: String,
        key: String,
    },
    CreateUpload {
        id: String,
        upload: Upload,
    },
    Part {
        id: String,
        n: i32,
        part: PartMeta,
    },
    /// Abort or Complete (Complete is a `Put` followed by this in one batch).
    EndUpload {
        id: String,
    },
}

/// The whole in-memory state.
#[derive(Default)]
pub struct State {
    pub buckets: BTreeMap<String, Bucket>,
    pub uploads: BTreeMap<String, Upload>,
}

impl State {
    /// Applies a record; returns the body files it made unreferenced (to delete after commit).
    pub fn apply(&mut self, rec: Rec) -> Vec<String> {
        let mut freed = Vec::new();
        match rec {
            Rec::CreateBucket { bucket, created_ms } => {
                self.buckets.entry(bucket).or_insert(Bucket {
                    created_ms,
                    objects: BTreeMap::new(),
                });
            }
            Rec::DeleteBucket { bucket } => {
                if let Some(b) = self.buckets.remove(&bucket) {
                    freed.extend(b.objects.into_values().map(|m| m.blob));
                }
            }
            Rec::Put { bucket, key, meta } => {
                if let Some(b) = self.buckets.get_mut(&bucket)
                    && let Some(old) = b.objects.insert(key, meta.clone())
                    && old.blob != meta.blob
                {
                    freed.push(old.blob);
                }
            }
            Rec::Delete { bucket, key } => {
                if let Some(old) = self
                    .buckets
                    .get_mut(&bucket)
                    .and_then(|b| b.objects.remove(&key))
                {
                    freed.push(old.blob);
                }
            }
            Rec::CreateUpload { id, upload } => {
                self.uploads.insert(id, upload);
            }
            Rec::Part { id, n, part } => {
                if let Some(u) = self.uploads.get_mut(&id)
                    && let Some(old) = u.parts.insert(n, part)
                {
                    freed.push(old.blob);
                }
            }
            Rec::EndUpload { id } => {
                if let Some(u) = self.uploads.remove(&id) {
                    // Parts whose blobs became the object's body are not freed: Complete
                    // concatenates into a new blob, so every part blob is garbage now.
                    freed.extend(u.parts.into_values().map(|p| p.blob));
                }
            }
        }
        freed
    }

    /// Every body file the state references (for start-up garbage collection).
    pub fn referenced(&self) -> std::collections::HashSet<String> {
        let mut s = std::collections::HashSet::new();
        for b in self.buckets.values() {
            s.extend(b.objects.values().map(|m| m.blob.clone()));
        }
        for u in self.uploads.values() {
            s.extend(u.parts.values().map(|p| p.blob.clone()));
        }
        s
    }

    /// The records that rebuild this state (for compaction).
    pub fn snapshot(&self) -> Vec<Rec> {
        let mut out = Vec::new();
        for (name, b) in &self.buckets {
            out.push(Rec::CreateBucket {
                bucket: name.clone(),
                created_ms: b.created_ms,
            });
            for (k, m) in &b.objects {
                out.push(Rec::Put {
                    bucket: name.clone(),
                    key: k.clone(),
                    meta: m.clone(),
                });
            }
        }
        for (id, u) in &self.uploads {
            let mut u2 = u.clone();
            let parts = std::mem::take(&mut u2.parts);
            out.push(Rec::CreateUpload {
                id: id.clone(),
                upload: u2,
            });
            for (n, p) in parts {
                out.push(Rec::Part {
                    id: id.clone(),
                    n,
                    part: p,
                });
            }
        }
        out
    }
}

/// Frame: u32 LE length of the batch, 8 bytes of SHA-256 over it, then the JSON batch.
/// A batch (several records) commits or vanishes as a whole.
fn frame(batch: &[Rec]) -> io::Result<Vec<u8>> {
    let body = serde_json::to_vec(batch).map_err(io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(io::Error::other)?;
    let mut out = Vec::with_capacity(body.len() + 12);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&Sha256::digest(&body)[..8]);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Reads every complete batch; stops at the first torn or corrupt frame.
pub fn replay(path: &Path) -> io::Result<State> {
    let mut state = State::default();
    let mut buf = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut buf)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(state),
        Err(e) => return Err(e),
    }
    let mut pos = 0usize;
    while pos + 12 <= buf.len() {
        let len = u32::from_le_bytes(buf[pos..pos + 4].try_into().expect("4 bytes")) as usize;
        let Some(body) = buf.get(pos + 12..pos + 12 + len) else {
            break;
        };
        if Sha256::digest(body)[..8] != buf[pos + 4..pos + 12] {
            break;
        }
        let Ok(batch) = serde_json::from_slice::<Vec<Rec>>(body) else {
            break;
        };
        for r in batch {
            state.apply(r);
        }
        pos += 12 + len;
    }
    Ok(state)
}

/// The open journal.
pub struct Journal {
    file: File,
}

impl Journal {
    /// Writes `state` compacted to `path` (via `tmp`), fsyncs, and opens it for appending.
    pub fn rewrite(path: &Path, tmp: &Path, state: &State) -> io::Result<Journal> {
        {
            let mut f = File::create(tmp)?;
            let recs = state.snapshot();
            // Chunked so a frame stays well below u32::MAX.
            for chunk in recs.chunks(1024) {
                f.write_all(&frame(chunk)?)?;
            }
            f.sync_all()?;
        }
        std::fs::rename(tmp, path)?;
        if let Some(dir) = path.parent() {
            File::open(dir)?.sync_all()?;
        }
        let file = OpenOptions::new().append(true).open(path)?;
        Ok(Journal { file })
    }

    /// Appends one batch and fsyncs (fdatasync) it: after this returns the change is durable.
    /// On failure the file is cut back to its previous length, so a half-written frame can
    /// never hide the frames appended after it.
    pub fn append(&mut self, batch: &[Rec]) -> io::Result<()> {
        let frame = frame(batch)?;
        let len = self.file.metadata()?.len();
        let res = self
            .file
            .write_all(&frame)
            .and_then(|()| self.file.sync_data());
        if res.is_err() {
            let _ = self.file.set_len(len);
        }
        res
    }
}
