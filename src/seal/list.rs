//! ListObjects v1/v2: plaintext sizes and client-visible ETags without a request per object.
//!
//! A LIST entry carries only key, stored size and store ETag. Sizes are inverted with the
//! format's size formula (exact for single PUTs and segment-aligned multipart objects, which
//! are all the gateway stores; see docs/FORMAT.md). Entries whose size cannot be a sealed
//! object are shown as stored: they are plaintext objects written before the gateway.

use super::{etag, sub_request};
use crate::format::size;
use crate::lean::listing::Listing;
use crate::upstream::Upstream;
use futures::{StreamExt, stream};
use s3s::S3Request;
use s3s::dto::{HeadObjectInput, Object, ObjectVersion, Timestamp};

/// Stores that list no ETags (s3s-fs, the embedded default) get them filled in. S3 always
/// lists ETags and clients rely on them (s3cmd's sync crashes without one); real S3 never
/// takes this path. On the embedded store the ETag is read from s3s-fs's per-object info file
/// (one small file read, no request through the S3 stack); anything else gets a HEAD.
pub(super) async fn fill_missing_etags<T>(
    up: &Upstream,
    local_root: Option<&std::path::Path>,
    req: &S3Request<T>,
    bucket: &str,
    objects: &mut [Object],
) {
    let missing: Vec<usize> = (0..objects.len())
        .filter(|&i| objects[i].e_tag.is_none() && objects[i].key.is_some())
        .collect();
    if missing.is_empty() {
        // Every store but s3s-fs lists ETags: skip building the lookup stream.
        return;
    }
    let heads = stream::iter(missing)
        .map(|i| {
            let input = HeadObjectInput::builder()
                .bucket(bucket.to_owned())
                .key(objects[i].key.clone().unwrap_or_default())
                .build();
            let sub = input.map(|input| sub_request(req, input));
            let key = objects[i].key.clone().unwrap_or_default();
            async move {
                if let Some(root) = local_root
                    && let Some(e) = local_etag(root, bucket, &key).await
                {
                    return (i, Some(e));
                }
                let Ok(sub) = sub else { return (i, None) };
                (
                    i,
                    up.head_object(sub).await.ok().and_then(|r| r.output.e_tag),
                )
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    for (i, e) in heads {
        objects[i].e_tag = e;
    }
}

/// The ETag s3s-fs 0.14 keeps in `.bucket-<b64>.object-<b64>.internal.json` at its root
/// (the s3s-fs version is pinned, so this layout is fixed); None when absent or unreadable.
async fn local_etag(root: &std::path::Path, bucket: &str, key: &str) -> Option<s3s::dto::ETag> {
    use base64::Engine;
    let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let path = root.join(format!(
        ".bucket-{}.object-{}.internal.json",
        enc(bucket),
        enc(key)
    ));
    let raw = tokio::fs::read(path).await.ok()?;
    let info: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let tag = info.get("e_tag")?.as_str()?;
    Some(s3s::dto::ETag::Strong(tag.to_owned()))
}

/// The plaintext size of an entry listed with `stored` bytes, or None when that size cannot
/// be a sealed object (a plaintext object from before the gateway, shown as stored).
fn sealed_plain(stored: i64, segment: u32) -> Option<i64> {
    let stored = u64::try_from(stored).ok()?;
    size::plain_len(stored, segment).map(|p| p as i64)
}

/// S3 shows times to the second everywhere (a listing's `.000Z`, HTTP dates): a store's
/// finer listing time would never equal the download's, and `aws s3 sync --exact-timestamps`
/// would fetch every object again on every run.
fn whole_seconds(t: &mut Option<Timestamp>) {
    if let Some(v) = t.as_mut() {
        let odt = time::OffsetDateTime::from(v.clone());
        if odt.nanosecond() != 0 {
            *v = Timestamp::from(odt.replace_nanosecond(0).unwrap_or(odt));
        }
    }
}

pub(super) fn translate(objects: &mut [Object], segment: u32) {
    for o in objects {
        whole_seconds(&mut o.last_modified);
        if let Some(plain) = o.size.and_then(|s| sealed_plain(s, segment)) {
            o.size = Some(plain);
            if let Some(e) = &o.e_tag {
                o.e_tag = Some(etag::visible(e));
            }
            o.checksum_algorithm = None;
            o.checksum_type = None;
        }
    }
}

impl super::Seal {
    /// [`translate`] and [`Self::list_sizes`] for a page the lean upstream scanned instead of
    /// parsing: sizes and ETags are written into the store's own XML.
    pub(super) async fn translate_page<T>(
        &self,
        req: &S3Request<T>,
        bucket: &str,
        page: &mut Listing,
    ) {
        for e in &mut page.entries {
            if let Some(plain) = sealed_plain(e.stored, self.segment) {
                e.size_out = Some(plain);
                // etag::visible: a value with no part count gets `-1`.
                e.etag_part_count = e.parts.is_none();
                e.drop_checksums = true;
            }
        }
        // Multipart objects of 2+ parts: sizes from their layouts, as for a parsed page.
        let multi: Vec<usize> = (0..page.entries.len())
            .filter(|&i| page.entries[i].parts.is_some_and(|n| n >= 2))
            .collect();
        if multi.is_empty() {
            return;
        }
        let mut found: Vec<Object> = multi
            .iter()
            .map(|&i| Object {
                key: page.key(i),
                e_tag: page.etag(i),
                ..Default::default()
            })
            .collect();
        let stored: Vec<Option<i64>> = multi
            .iter()
            .map(|&i| Some(page.entries[i].stored))
            .collect();
        self.list_sizes(req, bucket, &mut found, &stored).await;
        for (&i, o) in multi.iter().zip(&found) {
            if o.size.is_some() {
                page.entries[i].size_out = o.size;
            }
        }
    }
}

/// Output types of the two LIST versions, for [`empty_page`].
pub(super) trait Page {
    fn clear(&mut self);
}

impl Page for s3s::dto::ListObjectsOutput {
    fn clear(&mut self) {
        self.contents = None;
        self.common_prefixes = None;
        self.is_truncated = Some(false);
        self.next_marker = None;
        self.max_keys = Some(0);
    }
}

impl Page for s3s::dto::ListObjectsV2Output {
    fn clear(&mut self) {
        self.contents = None;
        self.common_prefixes = None;
        self.is_truncated = Some(false);
        self.next_continuation_token = None;
        self.key_count = Some(0);
        self.max_keys = Some(0);
    }
}

/// What S3 answers to `max-keys=0`: nothing, not truncated.
pub(super) fn empty_page(out: &mut impl Page) {
    out.clear();
}

/// ListObjectVersions: the same size and ETag translation as LIST (multipart versions of 2+
/// parts then get their size from their layout, as in LIST: docs/FORMAT.md §4).
pub(super) fn translate_versions(versions: &mut [ObjectVersion], segment: u32) {
    for v in versions {
        if let Some(plain) = v.size.and_then(|s| sealed_plain(s, segment)) {
            v.size = Some(plain);
            if let Some(e) = &v.e_tag {
                v.e_tag = Some(etag::visible(e));
            }
            v.checksum_algorithm = None;
            v.checksum_type = None;
        }
    }
}

/// `delimiter=` (empty, as rclone sends for recursive listings) means "no delimiter" in S3;
/// s3s-fs would treat it as one and fold every key into a common prefix.
pub(super) fn normalize_delimiter(d: &mut Option<String>) {
    if d.as_deref() == Some("") {
        *d = None;
    }
}
