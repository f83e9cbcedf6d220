//! Committed multipart layouts on the store: written as object tags after
//! CompleteMultipartUpload, read (and cached) before any plaintext of a committed object is
//! released, and hidden from clients' own tagging calls.
//!
//! Tags rather than a metadata-replacing self-copy: one small request, no data copied (a
//! self-copy moves the whole object and is limited to 5 GiB on S3), and tags follow the
//! object through server-side copies. The cost is counted against S3's 10 tags per object.

use super::{Seal, meta, sub_request};
use crate::format::Dek;
use crate::format::layout::{Layout, LayoutError};
use s3s::dto::*;
use s3s::{S3Request, S3Result, s3_error};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Verified layouts by wrapped DEK: a DEK belongs to one object version and its layout never
/// changes, so an entry never goes stale (a rotated key is simply a new entry).
#[derive(Default)]
pub struct LayoutCache {
    map: Mutex<HashMap<String, Arc<Layout>>>,
    /// Plaintext sizes of multipart objects for LIST, by (bucket, key, store ETag, stored
    /// size): a rewritten object has another ETag or size, so entries do not go stale.
    sizes: Mutex<HashMap<(String, String, String, u64), u64>>,
    /// Completes in progress in this process, by (bucket, key, stored size): between a
    /// remote store's Complete and the layout's tag write, LIST finds the object without a
    /// layout, and its closed-form size is wrong when parts are not whole segments (a reader
    /// that trusts the listed size, as Arrow does, then misses the file's footer).
    pending: Mutex<HashMap<(String, String, u64), u64>>,
}

/// Keeps a Complete's sizes in [`LayoutCache::pending`] until dropped.
pub struct Pending<'a> {
    cache: &'a LayoutCache,
    at: (String, String, u64),
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        let mut m = self.cache.pending.lock().expect("pending sizes");
        m.remove(&self.at);
    }
}

const CACHE_MAX: usize = 10_000;
const SIZES_MAX: usize = 100_000;
/// Concurrent tag requests of one LIST page.
const LIST_LOOKUPS: usize = 16;
/// Pauses before re-reading a multipart object's tags when its layout is not there yet
/// (about 1.5 s in all, longer than a Complete's tag write takes on any live store).
const LAYOUT_WAITS_MS: [u64; 4] = [20, 100, 400, 1000];

impl LayoutCache {
    pub fn remember_size(&self, bucket: &str, key: &str, etag: &str, stored: u64, plain: u64) {
        let mut m = self.sizes.lock().expect("size cache");
        if m.len() >= SIZES_MAX {
            m.clear();
        }
        m.insert((bucket.into(), key.into(), etag.into(), stored), plain);
    }

    /// Registers a Complete about to run; LIST answers `plain` for an object of this key and
    /// stored size that has no layout yet, until the returned guard is dropped.
    pub fn completing(&self, bucket: &str, key: &str, stored: u64, plain: u64) -> Pending<'_> {
        let at = (bucket.to_owned(), key.to_owned(), stored);
        let mut m = self.pending.lock().expect("pending sizes");
        m.insert(at.clone(), plain);
        Pending { cache: self, at }
    }

    fn pending_size(&self, bucket: &str, key: &str, stored: u64) -> Option<u64> {
        let m = self.pending.lock().expect("pending sizes");
        m.get(&(bucket.into(), key.into(), stored)).copied()
    }

    fn size(&self, bucket: &str, key: &str, etag: &str, stored: u64) -> Option<u64> {
        let m = self.sizes.lock().expect("size cache");
        m.get(&(bucket.into(), key.into(), etag.into(), stored))
            .copied()
    }

    fn get(&self, dek_b64: &str) -> Option<Arc<Layout>> {
        self.map.lock().expect("layout cache").get(dek_b64).cloned()
    }

    fn put(&self, dek_b64: &str, l: Arc<Layout>) {
        let mut m = self.map.lock().expect("layout cache");
        if m.len() >= CACHE_MAX {
            m.clear();
        }
        m.insert(dek_b64.to_owned(), l);
    }
}

/// A LIST or ListObjectVersions entry, for [`Seal::list_sizes`].
pub(super) trait Listed {
    fn key(&self) -> Option<&str>;
    fn etag(&self) -> Option<&ETag>;
    fn version(&self) -> Option<&str>;
    fn set_size(&mut self, n: i64);
}

impl Listed for Object {
    fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    fn etag(&self) -> Option<&ETag> {
        self.e_tag.as_ref()
    }
    fn version(&self) -> Option<&str> {
        None
    }
    fn set_size(&mut self, n: i64) {
        self.size = Some(n);
    }
}

impl Listed for ObjectVersion {
    fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    fn etag(&self) -> Option<&ETag> {
        self.e_tag.as_ref()
    }
    fn version(&self) -> Option<&str> {
        self.version_id.as_deref()
    }
    fn set_size(&mut self, n: i64) {
        self.size = Some(n);
    }
}

/// The tag keys and values that carry `sealed`.
pub fn tags_for(sealed: &[u8]) -> Vec<Tag> {
    Layout::to_tag_values(sealed)
        .into_iter()
        .enumerate()
        .map(|(i, v)| Tag {
            key: Some(meta::layout_tag_key(i)),
            value: Some(v),
        })
        .collect()
}

/// The sealed layout bytes found in a tag set, if any.
fn sealed_from(tags: &[Tag]) -> Option<Result<Vec<u8>, LayoutError>> {
    let values = meta::layout_tag_values(|k| {
        tags.iter()
            .find(|t| t.key.as_deref() == Some(k))
            .and_then(|t| t.value.as_deref())
    });
    (!values.is_empty()).then(|| Layout::from_tag_values(&values))
}

/// Refuses an `x-amz-tagging` header (URL-encoded `k=v&...`) naming a reserved tag key.
pub fn reject_reserved_header(tagging: Option<&str>) -> S3Result<()> {
    let reserved = tagging.is_some_and(|t| {
        t.split('&').any(|kv| {
            let k = kv.split('=').next().unwrap_or("");
            percent_decode(k)
                .to_ascii_lowercase()
                .starts_with(meta::TAG_PREFIX)
        })
    });
    if reserved {
        return Err(s3_error!(
            InvalidTag,
            "tag keys starting with s3seal- are reserved by the gateway"
        ));
    }
    Ok(())
}

/// `%XX` and `+` decoding, lossy: only used to recognise a reserved prefix.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).and_then(|&c| hex(c)),
            b.get(i + 2).and_then(|&c| hex(c)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
            (b'+', ..) => out.push(b' '),
            (c, ..) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// S3's limit on tags per object; the committed layout's tags count against it.
pub const MAX_TAGS: usize = 10;

/// How many tags an `x-amz-tagging` value (`k=v&...`) names.
pub fn header_tag_count(tagging: Option<&str>) -> usize {
    tagging.map_or(0, |t| t.split('&').filter(|kv| !kv.is_empty()).count())
}

/// Refuses, before anything is written, a tag set that would not fit beside the `ours` tags
/// the object's committed layout takes: otherwise the store would replace the object and
/// then refuse the layout, leaving an object no read accepts.
pub fn check_tag_room(client: usize, ours: usize) -> S3Result<()> {
    if client + ours <= MAX_TAGS {
        return Ok(());
    }
    Err(s3s::S3Error::with_message(
        s3s::S3ErrorCode::InvalidTag,
        format!(
            "Object tags cannot be greater than {MAX_TAGS}: this object's multipart layout takes {ours} of them in s3seal (docs/FORMAT.md §5), so send at most {} tags (this request has {client})",
            MAX_TAGS.saturating_sub(ours)
        ),
    ))
}

/// `tagging` (an `x-amz-tagging` value) with `tags` appended.
pub fn append_to_header(tagging: Option<&str>, tags: &[Tag]) -> String {
    let mut out = tagging.unwrap_or("").to_owned();
    for t in tags {
        let (Some(k), Some(v)) = (&t.key, &t.value) else {
            continue;
        };
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The store refused a tagging call the layout commitment needs: say which setting helps.
fn no_tagging(e: s3s::S3Error) -> s3s::S3Error {
    s3s::S3Error::with_message(
        e.code().clone(),
        format!(
            "s3seal could not commit the multipart layout as object tags; a store without object tagging needs encryption.commit_layout = false (docs/FORMAT.md §5): {}",
            e.message().unwrap_or("")
        ),
    )
}

pub fn is_reserved(t: &Tag) -> bool {
    t.key
        .as_deref()
        .is_some_and(|k| k.to_ascii_lowercase().starts_with(meta::TAG_PREFIX))
}

impl Seal {
    /// Commits `layout` on the object CompleteMultipartUpload just wrote (that version when
    /// the store names one), keeping the tags the client set at CreateMultipartUpload.
    pub(super) async fn commit_layout<T>(
        &self,
        req: &S3Request<T>,
        at: (&str, &str, Option<&str>),
        dek: &Dek,
        layout: &Layout,
    ) -> S3Result<()> {
        let (bucket, key, version) = at;
        let mut tags = self.tags_of(req, at).await.map_err(no_tagging)?.tag_set;
        tags.retain(|t| !is_reserved(t));
        tags.extend(tags_for(&layout.seal(dek, self.segment)));
        self.put_tags(req, bucket, key, version, tags).await
    }

    async fn put_tags<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        tags: Vec<Tag>,
    ) -> S3Result<()> {
        let put = PutObjectTaggingInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version.map(str::to_owned),
            tagging: Tagging { tag_set: tags },
            checksum_algorithm: None,
            content_md5: None,
            expected_bucket_owner: None,
            request_payer: None,
        };
        self.up
            .put_object_tagging(sub_request(req, put))
            .await
            .map(|_| ())
            .map_err(no_tagging)
    }

    /// Whether the object's tags can be read and hold no layout at all (not a damaged one).
    pub(super) async fn has_no_layout<T>(
        &self,
        req: &S3Request<T>,
        at: (&str, &str, Option<&str>),
    ) -> bool {
        self.tags_of(req, at)
            .await
            .is_ok_and(|t| sealed_from(&t.tag_set).is_none())
    }

    /// The verified layout of a committed multipart object. A missing or invalid layout
    /// refuses the read: fail closed, since without it parts could be dropped unnoticed.
    pub(super) async fn layout_of<T>(
        &self,
        req: &S3Request<T>,
        at: (&str, &str, Option<&str>),
        info: &meta::SealInfo,
        dek: &Dek,
    ) -> S3Result<Arc<Layout>> {
        if let Some(l) = self.layouts.get(&info.dek_b64) {
            return Ok(l);
        }
        let (bucket, key, _) = at;
        let mut tags = self.tags_of(req, at).await?.tag_set;
        // A Complete writes the layout just after the store's Complete: a reader in between
        // finds none. Wait that step out (briefly) before calling the object tampered.
        for wait in LAYOUT_WAITS_MS {
            if sealed_from(&tags).is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
            tags = self.tags_of(req, at).await?.tag_set;
        }
        let opened = match sealed_from(&tags) {
            None => Err("its committed multipart layout is missing".to_owned()),
            Some(Err(e)) => Err(format!("its multipart layout tag: {e}")),
            Some(Ok(sealed)) => Layout::open(&sealed, dek, info.segment)
                .map_err(|e| format!("its multipart layout tag: {e}")),
        };
        match opened {
            Ok(l) => {
                let l = Arc::new(l);
                self.layouts.put(&info.dek_b64, l.clone());
                Ok(l)
            }
            Err(why) => {
                self.stats
                    .decrypt_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(%bucket, %key, reason = %why, "refusing read: stored object failed authentication");
                Err(super::object::tampered())
            }
        }
    }

    /// LIST sizes of multipart objects of two or more parts. Their parts may not be whole
    /// segments, so the closed-form size can be wrong: the committed layout's size is used
    /// (from the cache, else one GetObjectTagging per object, 16 at a time). Called after
    /// [`super::list::translate`] with the stored sizes it replaced.
    pub(super) async fn list_sizes<T, L: Listed>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        objects: &mut [L],
        stored: &[Option<i64>],
    ) {
        use futures::StreamExt;
        type Want = (usize, String, Option<String>, String, u64);
        let wanted: Vec<Want> = objects
            .iter()
            .zip(stored)
            .enumerate()
            .filter_map(|(i, (o, s))| {
                let e = o.etag()?.value().to_owned();
                let parts: u32 = e.rsplit_once('-')?.1.parse().ok()?;
                let (key, version) = (o.key()?.to_owned(), o.version().map(str::to_owned));
                (parts >= 2).then_some((i, key, version, e, (*s)?.max(0) as u64))
            })
            .collect();
        let found: Vec<(usize, Option<u64>)> = futures::stream::iter(wanted)
            .map(|(i, key, version, etag, stored)| async move {
                if let Some(p) = self.layouts.size(bucket, &key, &etag, stored) {
                    return (i, Some(p));
                }
                let tags = self.tags_of(req, (bucket, &key, version.as_deref())).await;
                let plain = tags.ok().and_then(|t| {
                    let sealed = sealed_from(&t.tag_set)?.ok()?;
                    let l = Layout::open_unverified(&sealed).ok()?;
                    (l.stored_len(self.segment) == stored).then(|| l.plain_len())
                });
                if let Some(p) = plain {
                    self.layouts.remember_size(bucket, &key, &etag, stored, p);
                }
                let plain = plain.or_else(|| self.layouts.pending_size(bucket, &key, stored));
                (i, plain)
            })
            .buffer_unordered(LIST_LOOKUPS)
            .collect()
            .await;
        for (i, plain) in found {
            if let Some(p) = plain {
                objects[i].set_size(p as i64);
            }
        }
    }

    /// GetObjectTagging without the gateway's own tags.
    pub(super) async fn get_tagging_visible(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<s3s::S3Response<GetObjectTaggingOutput>> {
        let mut resp = self.up.get_object_tagging(req).await?;
        resp.output.tag_set.retain(|t| !is_reserved(t));
        Ok(resp)
    }

    /// PutObjectTagging that keeps the gateway's own tags; clients cannot write them.
    pub(super) async fn put_tagging_keeping(
        &self,
        mut req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<s3s::S3Response<PutObjectTaggingOutput>> {
        if req.input.tagging.tag_set.iter().any(is_reserved) {
            return Err(s3_error!(
                InvalidTag,
                "tag keys starting with s3seal- are reserved by the gateway"
            ));
        }
        // Where the store cannot say (a delete marker, no such version), its own answer to
        // the PUT is the right error.
        if let Ok(ours) = self.reserved_tags(&req).await {
            check_tag_room(req.input.tagging.tag_set.len(), ours.len())?;
            req.input.tagging.tag_set.extend(ours);
        }
        self.up.put_object_tagging(req).await
    }

    /// DeleteObjectTagging that keeps the gateway's own tags.
    pub(super) async fn delete_tagging_keeping(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<s3s::S3Response<DeleteObjectTaggingOutput>> {
        let i = &req.input;
        let at = (i.bucket.as_str(), i.key.as_str(), i.version_id.as_deref());
        let Ok(tags) = self.tags_of(&req, at).await else {
            return self.up.delete_object_tagging(req).await;
        };
        let ours: Vec<Tag> = tags.tag_set.into_iter().filter(is_reserved).collect();
        if ours.is_empty() {
            return self.up.delete_object_tagging(req).await;
        }
        let version = i.version_id.clone();
        self.put_tags(&req, &i.bucket, &i.key, version.as_deref(), ours)
            .await?;
        Ok(s3s::S3Response::new(DeleteObjectTaggingOutput {
            version_id: tags.version_id,
        }))
    }

    async fn reserved_tags(&self, req: &S3Request<PutObjectTaggingInput>) -> S3Result<Vec<Tag>> {
        let i = &req.input;
        self.reserved_tags_of(req, (&i.bucket, &i.key, i.version_id.as_deref()))
            .await
    }

    /// The gateway's own tags on an object (its committed layout).
    pub(super) async fn reserved_tags_of<T>(
        &self,
        req: &S3Request<T>,
        at: (&str, &str, Option<&str>),
    ) -> S3Result<Vec<Tag>> {
        let tags = self.tags_of(req, at).await?.tag_set;
        Ok(tags.into_iter().filter(is_reserved).collect())
    }

    /// A client's tags on an object, without the gateway's own.
    pub(super) async fn client_tags_of<T>(
        &self,
        req: &S3Request<T>,
        at: (&str, &str, Option<&str>),
    ) -> S3Result<Vec<Tag>> {
        let tags = self.tags_of(req, at).await?.tag_set;
        Ok(tags.into_iter().filter(|t| !is_reserved(t)).collect())
    }

    /// The store's tags of `(bucket, key, version)`, all of them (the gateway's included).
    async fn tags_of<T>(
        &self,
        req: &S3Request<T>,
        (bucket, key, version): (&str, &str, Option<&str>),
    ) -> S3Result<GetObjectTaggingOutput> {
        let get = GetObjectTaggingInput {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            version_id: version.map(str::to_owned),
            ..Default::default()
        };
        Ok(self
            .up
            .get_object_tagging(sub_request(req, get))
            .await?
            .output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_recognised_however_encoded() {
        for h in [
            "s3seal-layout=x",
            "a=1&S3SEAL-x=2",
            "%73%33seal-layout=x",
            "a=b&s3seal-",
        ] {
            assert!(reject_reserved_header(Some(h)).is_err(), "{h}");
        }
        for h in ["", "a=1", "s3seal=1", "x=s3seal-layout", "%zz=1", "%"] {
            assert!(reject_reserved_header(Some(h)).is_ok(), "{h}");
        }
        let t = tags_for(&[0xfbu8; 300]);
        let h = append_to_header(Some("a=1"), &t);
        assert!(h.starts_with("a=1&s3seal-layout="));
        assert!(!h[4..].contains('+') && !h.contains('/'));
    }
}
