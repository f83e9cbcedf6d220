//! The store's index: every bucket, object and multipart upload, held in ordered maps in
//! memory and made durable by an append-only journal (`index.log`). A record is appended and
//! fsynced before the change becomes visible, so an acknowledged write survives a crash; a
//! torn tail (length or checksum mismatch) is the one write that was never acknowledged and
//! is dropped on replay. Start-up replays the journal and rewrites it compacted (temp file,
//! fsync, rename, directory fsync).
//!
//! Keys are `String`s compared as bytes (`str`'s `Ord`), which is S3's UTF-8 byte order.
//!
//! Versioning: each key holds its versions newest first. A version id of `None` is S3's
//! "null" version (objects written while versioning was never enabled, or suspended), so
//! journals written before versioning existed replay unchanged: their `Put`s are null
//! versions that replace each other and their `Delete`s remove the null version.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::Arc;

use super::reserve::{Reserve, is_full};

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
    /// Version id; `None` is the "null" version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A delete marker (no body: `blob` is empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// The multipart upload that wrote this version, so a retried Complete gets its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<String>,
}

impl ObjMeta {
    /// The version id as S3 shows it (`null` for the null version).
    pub fn version_id(&self) -> &str {
        self.version.as_deref().unwrap_or("null")
    }
}

/// A bucket's versioning state (absent: never enabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Versioning {
    Enabled,
    Suspended,
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
    pub versioning: Option<Versioning>,
    /// Every version of every key, newest first (never an empty list). The first is the
    /// current version; a key whose current version is a delete marker is not listed by
    /// ListObjects and answers 404.
    #[serde(default)]
    pub objects: BTreeMap<String, Vec<ObjMeta>>,
    /// The bucket's CORS rules (PutBucketCors); None: CORS not enabled.
    #[serde(default)]
    pub cors: Option<Vec<crate::cors::Rule>>,
}

impl Bucket {
    /// The current version of `key` unless it is a delete marker.
    pub fn current(&self, key: &str) -> Option<&ObjMeta> {
        self.objects
            .get(key)
            .and_then(|v| v.first())
            .filter(|m| !m.delete_marker)
    }

    /// The version `vid` (`"null"` names the null version) of `key`.
    pub fn version(&self, key: &str, vid: &str) -> Option<&ObjMeta> {
        self.objects
            .get(key)?
            .iter()
            .find(|m| m.version_id() == vid)
    }

    /// True when no key has any version (delete markers included).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
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
    /// A new current version of `key` (`meta.version`): an existing version with the same id
    /// (the null version, when versioning is off or suspended) is replaced.
    Put {
        bucket: String,
        key: String,
        meta: ObjMeta,
    },
    /// Removes version `version` of `key` (`None`: the null version, which is the only one
    /// in a bucket that never had versioning).
    Delete {
        bucket: String,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        version: Option<String>,
    },
    /// Changes a version's metadata (tags, ETag) in place, keeping its place in the history.
    SetMeta {
        bucket: String,
        key: String,
        meta: ObjMeta,
    },
    SetVersioning {
        bucket: String,
        state: Versioning,
    },
    /// Replaces (Some) or deletes (None) the bucket's CORS configuration.
    SetCors {
        bucket: String,
        rules: Option<Vec<crate::cors::Rule>>,
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
                    ..Default::default()
                });
            }
            Rec::DeleteBucket { bucket } => {
                if let Some(b) = self.buckets.remove(&bucket) {
                    freed.extend(b.objects.into_values().flatten().map(|m| m.blob));
                }
            }
            Rec::Put { bucket, key, meta } => {
                if let Some(b) = self.buckets.get_mut(&bucket) {
                    let vs = b.objects.entry(key).or_default();
                    if let Some(pos) = vs.iter().position(|m| m.version == meta.version) {
                        let old = vs.remove(pos);
                        if old.blob != meta.blob {
                            freed.push(old.blob);
                        }
                    }
                    vs.insert(0, meta);
                }
            }
            Rec::SetMeta { bucket, key, meta } => {
                if let Some(m) = self
                    .buckets
                    .get_mut(&bucket)
                    .and_then(|b| b.objects.get_mut(&key))
                    .and_then(|vs| vs.iter_mut().find(|m| m.version == meta.version))
                {
                    if m.blob != meta.blob {
                        freed.push(std::mem::take(&mut m.blob));
                    }
                    *m = meta;
                }
            }
            Rec::Delete {
                bucket,
                key,
                version,
            } => {
                if let Some(b) = self.buckets.get_mut(&bucket)
                    && let Some(vs) = b.objects.get_mut(&key)
                {
                    if let Some(pos) = vs.iter().position(|m| m.version == version) {
                        freed.push(vs.remove(pos).blob);
                    }
                    if vs.is_empty() {
                        b.objects.remove(&key);
                    }
                }
            }
            Rec::SetVersioning { bucket, state } => {
                if let Some(b) = self.buckets.get_mut(&bucket) {
                    b.versioning = Some(state);
                }
            }
            Rec::SetCors { bucket, rules } => {
                if let Some(b) = self.buckets.get_mut(&bucket) {
                    b.cors = rules;
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
        // Delete markers have no body file.
        freed.retain(|b| !b.is_empty());
        freed
    }

    /// Every body file the state references (for start-up garbage collection).
    pub fn referenced(&self) -> std::collections::HashSet<String> {
        let mut s = std::collections::HashSet::new();
        for b in self.buckets.values() {
            s.extend(
                b.objects
                    .values()
                    .flatten()
                    .filter(|m| !m.blob.is_empty())
                    .map(|m| m.blob.clone()),
            );
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
            if let Some(state) = b.versioning {
                out.push(Rec::SetVersioning {
                    bucket: name.clone(),
                    state,
                });
            }
            if b.cors.is_some() {
                out.push(Rec::SetCors {
                    bucket: name.clone(),
                    rules: b.cors.clone(),
                });
            }
            for (k, vs) in &b.objects {
                // Oldest first: each Put becomes the newest.
                for m in vs.iter().rev() {
                    out.push(Rec::Put {
                        bucket: name.clone(),
                        key: k.clone(),
                        meta: m.clone(),
                    });
                }
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

/// Reads every complete batch. A bad frame with nothing intact after it (cut short, failing
/// its checksum, or zeros a crash left) is the one write never acknowledged and is dropped
/// with a warning. A bad frame with intact frames after it is damage, not a torn
/// write: replaying up to it would silently roll the store back, and the start-up sweep would
/// then delete every body written since, so the store refuses to open instead, saying where.
pub fn replay(path: &Path) -> io::Result<State> {
    replay_len(path).map(|(state, _)| state)
}

/// [`replay`], also returning the length of the journal's intact frames (where a torn last
/// write starts, or its end).
pub fn replay_len(path: &Path) -> io::Result<(State, u64)> {
    let mut state = State::default();
    let mut buf = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut buf)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((state, 0)),
        Err(e) => return Err(e),
    }
    let mut pos = 0usize;
    while pos < buf.len() {
        let batch = buf.get(pos..pos + 12).and_then(|head| {
            let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
            let body = buf.get(pos + 12..pos + 12 + len)?;
            let sound = Sha256::digest(body)[..8] == head[4..12];
            let batch = serde_json::from_slice::<Vec<Rec>>(body)
                .ok()
                .filter(|_| sound)?;
            Some((batch, 12 + len))
        });
        let Some((batch, used)) = batch else {
            return torn_tail(path, &buf, pos).map(|()| (state, pos as u64));
        };
        for r in batch {
            state.apply(r);
        }
        pos += used;
    }
    Ok((state, pos as u64))
}

/// Whether the bad frame at `pos` is a torn last write (`Ok`, logged) or damage (`Err`):
/// damage when an intact frame follows it anywhere (a flipped length can point past the end,
/// so the frame's own extent proves nothing).
fn torn_tail(path: &Path, buf: &[u8], pos: usize) -> io::Result<()> {
    let Some(next) = (pos + 1..buf.len()).find(|&at| intact_frame_at(buf, at)) else {
        tracing::warn!(
            path = %path.display(),
            offset = pos,
            bytes = buf.len() - pos,
            "dropping the journal's torn last write (never acknowledged)"
        );
        return Ok(());
    };
    Err(io::Error::other(format!(
        "{} is damaged at byte {pos} of {} (an intact write follows at byte {next}); refusing \
         to open so nothing is rolled back or swept. Restore it from a backup, or, to give up \
         every write from byte {pos} on, cut it there (truncate -s {pos}) and start again",
        path.display(),
        buf.len()
    )))
}

/// A frame whose checksum holds starts at `at` (batches are JSON arrays of objects, which
/// rules out nearly every offset before hashing).
fn intact_frame_at(buf: &[u8], at: usize) -> bool {
    let Some(head) = buf.get(at..at + 12) else {
        return false;
    };
    let len = u32::from_le_bytes(head[..4].try_into().expect("4 bytes")) as usize;
    match buf.get(at + 12..at + 12 + len) {
        Some(body) if body.starts_with(b"[{") => Sha256::digest(body)[..8] == head[4..12],
        _ => false,
    }
}

/// The open journal.
pub struct Journal {
    file: File,
    /// A failed write could not be cut back off the end.
    stuck: bool,
    /// Released when an append finds the disk full, so the append (a delete, say) can go on.
    reserve: Option<Arc<Reserve>>,
}

impl Rec {
    /// Records that free stored space (a version and its body, an upload and its parts, an
    /// empty bucket) rather than add to it: allowed on a disk too full to hold the reserve.
    pub fn frees_space(&self) -> bool {
        matches!(
            self,
            Rec::Delete { .. } | Rec::DeleteBucket { .. } | Rec::EndUpload { .. }
        )
    }
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
        Journal::open(path, None)
    }

    /// Opens the journal for appending as it is, first cutting off a torn last write at
    /// `intact` (appending behind it would make it damage). For a disk too full to compact.
    pub fn open(path: &Path, intact: Option<u64>) -> io::Result<Journal> {
        let file = OpenOptions::new().append(true).create(true).open(path)?;
        if let Some(n) = intact
            && file.metadata()?.len() > n
        {
            file.set_len(n)?;
            file.sync_all()?;
        }
        Ok(Journal {
            file,
            stuck: false,
            reserve: None,
        })
    }

    pub fn with_reserve(mut self, r: Arc<Reserve>) -> Journal {
        self.reserve = Some(r);
        self
    }

    /// Appends one batch and fsyncs (fdatasync) it: after this returns the change is durable.
    /// On failure the file is cut back to its previous length, so a half-written frame can
    /// never hide the frames appended after it.
    pub fn append(&mut self, batch: &[Rec]) -> io::Result<()> {
        if self.stuck {
            return Err(io::Error::other(
                "the journal could not be cut back after a failed write; restart to recover",
            ));
        }
        let frame = frame(batch)?;
        match self.write_frame(&frame) {
            Err(e)
                if is_full(&e)
                    && !self.stuck
                    && self.reserve.as_ref().is_some_and(|r| r.release()) =>
            {
                self.write_frame(&frame)
            }
            r => r,
        }
    }

    fn write_frame(&mut self, frame: &[u8]) -> io::Result<()> {
        let len = self.file.metadata()?.len();
        let res = self
            .file
            .write_all(frame)
            .and_then(|()| self.file.sync_data());
        // A half-written frame left in place would sit before every later write, and replay
        // refuses damage followed by intact writes: stop writing rather than bury it.
        if res.is_err() && self.file.set_len(len).is_err() {
            self.stuck = true;
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal of `n` one-record frames; returns its bytes and each frame's offset.
    fn journal(n: usize) -> (Vec<u8>, Vec<usize>) {
        let (mut out, mut at) = (Vec::new(), Vec::new());
        for i in 0..n {
            at.push(out.len());
            let r = Rec::CreateBucket {
                bucket: format!("b{i}"),
                created_ms: 0,
            };
            out.extend(frame(&[r]).unwrap());
        }
        (out, at)
    }

    fn replayed(bytes: &[u8]) -> io::Result<usize> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index.log");
        std::fs::write(&p, bytes).unwrap();
        replay(&p).map(|s| s.buckets.len())
    }

    #[test]
    fn a_torn_last_write_is_dropped_but_damage_before_intact_writes_refuses() {
        let (log, at) = journal(4);
        assert_eq!(replayed(&log).unwrap(), 4);
        // Torn tails: cut mid-frame, mid-header, a flipped last frame, zeros after a crash.
        assert_eq!(replayed(&log[..log.len() - 3]).unwrap(), 3);
        assert_eq!(replayed(&log[..at[3] + 5]).unwrap(), 3);
        let mut last = log.clone();
        *last.last_mut().unwrap() ^= 1;
        assert_eq!(replayed(&last).unwrap(), 3);
        let mut zeros = log.clone();
        zeros.extend([0u8; 4096]);
        assert_eq!(replayed(&zeros).unwrap(), 4);
        // One flipped byte in the first or a middle frame: refuse, naming where.
        for i in [0, 1, 2] {
            for off in [at[i] + 1, at[i] + 6, at[i] + 20] {
                let mut bad = log.clone();
                bad[off] ^= 0x40;
                let e = replayed(&bad).expect_err("damage must not replay as a torn tail");
                assert!(e.to_string().contains(&format!("at byte {}", at[i])), "{e}");
            }
        }
    }

    fn meta(blob: &str, version: Option<&str>, dm: bool) -> ObjMeta {
        ObjMeta {
            blob: blob.into(),
            version: version.map(Into::into),
            delete_marker: dm,
            ..Default::default()
        }
    }

    /// Records as the store wrote them before versioning (no version fields) are null versions.
    #[test]
    fn unversioned_records_are_null_versions() {
        let old = r#"[{"CreateBucket":{"bucket":"b","created_ms":1}},
            {"Put":{"bucket":"b","key":"k","meta":{"blob":"aa01","size":1,"etag":"e","modified_ms":2}}},
            {"Put":{"bucket":"b","key":"k","meta":{"blob":"aa02","size":1,"etag":"e","modified_ms":3}}},
            {"Put":{"bucket":"b","key":"gone","meta":{"blob":"aa03","size":1,"etag":"e","modified_ms":3}}},
            {"Delete":{"bucket":"b","key":"gone"}}]"#;
        let recs: Vec<Rec> = serde_json::from_str(old).unwrap();
        let mut st = State::default();
        let freed: Vec<String> = recs.into_iter().flat_map(|r| st.apply(r)).collect();
        assert_eq!(freed, ["aa01", "aa03"]);
        let b = &st.buckets["b"];
        assert_eq!(b.versioning, None);
        assert_eq!(b.objects.len(), 1);
        assert_eq!(b.objects["k"].len(), 1);
        assert_eq!(b.current("k").unwrap().blob, "aa02");
        assert_eq!(b.version("k", "null").unwrap().blob, "aa02");
        // New null-version records serialize without the new fields (old readers agree).
        let json = serde_json::to_string(&Rec::Delete {
            bucket: "b".into(),
            key: "k".into(),
            version: None,
        })
        .unwrap();
        assert_eq!(json, r#"{"Delete":{"bucket":"b","key":"k"}}"#);
    }

    #[test]
    fn versions_markers_and_snapshot_round_trip() {
        let mut st = State::default();
        for r in [
            Rec::CreateBucket {
                bucket: "b".into(),
                created_ms: 1,
            },
            Rec::Put {
                bucket: "b".into(),
                key: "k".into(),
                meta: meta("n1", None, false),
            },
            Rec::SetVersioning {
                bucket: "b".into(),
                state: Versioning::Enabled,
            },
            Rec::Put {
                bucket: "b".into(),
                key: "k".into(),
                meta: meta("v1", Some("v1"), false),
            },
            Rec::Put {
                bucket: "b".into(),
                key: "k".into(),
                meta: meta("", Some("d1"), true),
            },
        ] {
            st.apply(r);
        }
        assert!(st.buckets["b"].current("k").is_none());
        // Suspended: a null write replaces the old null version and becomes current.
        st.apply(Rec::SetVersioning {
            bucket: "b".into(),
            state: Versioning::Suspended,
        });
        let freed = st.apply(Rec::Put {
            bucket: "b".into(),
            key: "k".into(),
            meta: meta("n2", None, false),
        });
        assert_eq!(freed, ["n1"]);
        let ids: Vec<_> = st.buckets["b"].objects["k"]
            .iter()
            .map(|m| m.version_id().to_owned())
            .collect();
        assert_eq!(ids, ["null", "d1", "v1"]);
        // Deleting a marker frees nothing; deleting a version frees its body.
        let freed = st.apply(Rec::Delete {
            bucket: "b".into(),
            key: "k".into(),
            version: Some("d1".into()),
        });
        assert!(freed.is_empty());
        let mut again = State::default();
        for r in st.snapshot() {
            again.apply(r);
        }
        let ids: Vec<_> = again.buckets["b"].objects["k"]
            .iter()
            .map(|m| m.version_id().to_owned())
            .collect();
        assert_eq!(ids, ["null", "v1"]);
        assert_eq!(again.buckets["b"].versioning, Some(Versioning::Suspended));
        assert_eq!(again.referenced().len(), 2);
        let freed = again.apply(Rec::Delete {
            bucket: "b".into(),
            key: "k".into(),
            version: Some("v1".into()),
        });
        assert_eq!(freed, ["v1"]);
    }
}
