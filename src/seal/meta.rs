//! The s3seal keys in an object's user metadata: parsing them strictly (they come from the
//! store, which we do not trust to be well-formed) and hiding them from clients.

use crate::format::size::{MAX_SEGMENT, MIN_SEGMENT};
use s3s::dto::Metadata;

pub const VERSION: &str = "s3seal-v";
pub const KEK: &str = "s3seal-kek";
pub const DEK: &str = "s3seal-dek";
pub const SEGMENT: &str = "s3seal-seg";
/// "1" on objects assembled from a multipart upload: their streams carry part numbers 1..,
/// which the reader must expect even after a copy gave the object a plain-looking ETag.
/// "2": the same, with the layout committed after Complete (object tags [`LAYOUT_TAG`]).
pub const MULTIPART: &str = "s3seal-mp";
/// Object tags that carry a committed multipart layout: `s3seal-layout`, then
/// `s3seal-layout-2`, `-3`... when it needs more than one tag value.
pub const LAYOUT_TAG: &str = "s3seal-layout";
/// The key of the `i`-th tag value of a committed layout.
pub fn layout_tag_key(i: usize) -> String {
    if i == 0 {
        LAYOUT_TAG.to_owned()
    } else {
        format!("{LAYOUT_TAG}-{}", i + 1)
    }
}

/// A committed layout's tag values in order (`s3seal-layout`, `-2`, ...), looked up by key;
/// empty when there are none.
pub fn layout_tag_values<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Vec<&'a str> {
    let mut values = Vec::new();
    while let Some(v) = get(&layout_tag_key(values.len())) {
        values.push(v);
    }
    values
}

/// Tag keys clients cannot write or see.
pub const TAG_PREFIX: &str = "s3seal-";
/// Plaintext MD5 (hex) as gateways before 2026-12-03 recorded it, in clear; read only.
pub const MD5: &str = "s3seal-md5";
/// Plaintext MD5 sealed under the DEK (base64, docs/FORMAT.md §6), recorded when it is known
/// before the body is sent (Content-MD5).
pub const MD5_SEALED: &str = "s3seal-md5s";
/// Format v2 only: "0" when the wrapped DEK is deliberately not bound to the bucket
/// (`encryption.bind_bucket = false`); absent means bound. The choice is also a flag inside
/// the wrap AAD, so editing this key only makes the DEK fail to unwrap.
pub const BUCKET_BOUND: &str = "s3seal-bb";
/// The format version new objects are written in.
pub const CURRENT_VERSION: &str = "2";

const PREFIX: &str = "s3seal-";

/// What the metadata says about a sealed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealInfo {
    pub kek: String,
    pub dek_b64: String,
    pub segment: u32,
    pub md5: Option<String>,
    /// `s3seal-md5s` as stored (base64); opened with the DEK where the MD5 is shown.
    pub md5_sealed: Option<String>,
    pub multipart: bool,
    /// Multipart with a committed layout (`s3seal-mp = 2`): reads need the layout tag.
    pub committed: bool,
    /// 1 or 2 (what the wrap AAD looks like).
    pub version: u8,
    /// v2: whether the wrapped DEK is bound to the bucket.
    pub bucket_bound: bool,
}

impl SealInfo {
    /// The context the object's DEK was wrapped with, for an object stored at `bucket/key`.
    pub fn wrap_context(&self, bucket: &str, key: &str) -> crate::keys::WrapContext {
        match self.version {
            1 => crate::keys::WrapContext::v1(key),
            _ => crate::keys::WrapContext::v2(self.bucket_bound.then_some(bucket), key),
        }
    }
}

/// Writes the sealed-object keys of a freshly wrapped DEK in the current format version.
pub fn insert_wrap(m: &mut Metadata, wrapped: (String, String), bucket_bound: bool) {
    m.insert(VERSION.into(), CURRENT_VERSION.into());
    m.insert(KEK.into(), wrapped.0);
    m.insert(DEK.into(), wrapped.1);
    if bucket_bound {
        m.remove(BUCKET_BOUND);
    } else {
        m.insert(BUCKET_BOUND.into(), "0".into());
    }
}

/// Why metadata that claims to be s3seal's cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("object metadata is not valid s3seal metadata: {0}")]
pub struct BadMeta(pub &'static str);

/// `Ok(None)`: no s3seal keys at all, a plaintext (legacy) object.
pub fn parse(meta: Option<&Metadata>) -> Result<Option<SealInfo>, BadMeta> {
    let Some(meta) = meta else { return Ok(None) };
    let get = |k: &str| meta.get(k).map(String::as_str);
    let Some(v) = get(VERSION) else {
        // The owner is recorded on plaintext (passthrough) objects too.
        if meta.keys().any(|k| k.starts_with(PREFIX) && k != OWNER) {
            return Err(BadMeta("s3seal keys present without a version"));
        }
        return Ok(None);
    };
    let version: u8 = match v {
        "1" => 1,
        "2" => 2,
        _ => return Err(BadMeta("unsupported format version")),
    };
    let bucket_bound = match (version, get(BUCKET_BOUND)) {
        (1, None) | (2, None) => version == 2,
        (2, Some("0")) => false,
        _ => return Err(BadMeta("bucket binding flag is not \"0\" on a v2 object")),
    };
    let kek = get(KEK).ok_or(BadMeta("missing KEK id"))?;
    let dek = get(DEK).ok_or(BadMeta("missing wrapped key"))?;
    let seg = get(SEGMENT).ok_or(BadMeta("missing segment size"))?;
    if kek.is_empty() || kek.len() > 64 {
        return Err(BadMeta("KEK id length out of range"));
    }
    if dek.is_empty() || dek.len() > 1024 {
        return Err(BadMeta("wrapped key length out of range"));
    }
    let segment: u32 = seg
        .parse()
        .map_err(|_| BadMeta("segment size is not a number"))?;
    if !(MIN_SEGMENT..=MAX_SEGMENT).contains(&segment) {
        return Err(BadMeta("segment size out of range"));
    }
    let md5 = match get(MD5) {
        Some(m) if m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(m.to_ascii_lowercase())
        }
        Some(_) => return Err(BadMeta("plaintext MD5 is not 32 hex digits")),
        None => None,
    };
    let md5_sealed = match get(MD5_SEALED) {
        Some(m) if m.len() == SEALED_MD5_B64 => Some(m.to_owned()),
        Some(_) => return Err(BadMeta("sealed MD5 has the wrong length")),
        None => None,
    };
    let (multipart, committed) = match get(MULTIPART) {
        None => (false, false),
        Some("1") => (true, false),
        Some("2") => (true, true),
        Some(_) => return Err(BadMeta("multipart flag is not \"1\" or \"2\"")),
    };
    Ok(Some(SealInfo {
        version,
        bucket_bound,
        multipart,
        committed,
        kek: kek.to_owned(),
        dek_b64: dek.to_owned(),
        segment,
        md5,
        md5_sealed,
    }))
}

/// Base64 length of a sealed MD5 (44 bytes).
const SEALED_MD5_B64: usize = crate::format::digest::SEALED_MD5_LEN.div_ceil(3) * 4;

/// Removes every s3seal key, so clients see exactly the metadata they wrote.
pub fn strip(meta: &mut Option<Metadata>) {
    if let Some(m) = meta {
        m.retain(|k, _| !k.starts_with(PREFIX));
        if m.is_empty() {
            *meta = None;
        }
    }
}

/// What clients see of a sealed object's metadata: s3seal's keys removed and, when the
/// plaintext MD5 is known, `md5chksum` (base64), the key rclone itself writes for multipart
/// uploads and reads to verify any object whose ETag is not an MD5. Without it `rclone check`
/// could compare only sizes through the gateway.
pub fn client_view(meta: &mut Option<Metadata>, md5_hex: Option<&str>) {
    strip(meta);
    let Some(md5) = md5_hex.and_then(|h| hex::decode(h).ok()) else {
        return;
    };
    let m = meta.get_or_insert_with(Default::default);
    if !m.keys().any(|k| k.eq_ignore_ascii_case(RCLONE_MD5)) {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(md5);
        m.insert(RCLONE_MD5.into(), b64);
    }
}

/// rclone's metadata key for the plaintext MD5.
const RCLONE_MD5: &str = "md5chksum";

/// Reserved (hidden) metadata key naming the proxy user who wrote the object. Hidden like
/// every `s3seal-` key, so clients read back exactly the metadata they wrote; the console
/// asks for it with [`SHOW_OWNER`].
pub const OWNER: &str = "s3seal-owner";

/// Request header that makes HEAD show [`OWNER`] among the metadata (the console's object
/// list). The owner is not a secret: anyone who may HEAD the object may see it.
pub const SHOW_OWNER: &str = "x-s3seal-show-owner";

/// Records which proxy user wrote the object.
pub fn stamp_owner(meta: &mut Option<Metadata>, creds: Option<&s3s::auth::Credentials>) {
    if let Some(c) = creds {
        let m = meta.get_or_insert_with(Default::default);
        m.insert(OWNER.into(), c.access_key.clone());
    }
}

/// [`client_view`] for a HEAD: keeps [`OWNER`] when the request asked for it.
pub fn head_view(meta: &mut Option<Metadata>, md5_hex: Option<&str>, show_owner: bool) {
    let owner = show_owner
        .then(|| meta.as_ref().and_then(|m| m.get(OWNER).cloned()))
        .flatten();
    client_view(meta, md5_hex);
    if let Some(o) = owner {
        meta.get_or_insert_with(Default::default)
            .insert(OWNER.into(), o);
    }
}

/// S3's bound on user metadata: the UTF-8 bytes of every key and value, summed.
pub const CLIENT_METADATA_MAX: usize = 2048;

/// Client metadata must not smuggle in s3seal keys (they would confuse the reader), and is
/// held to S3's 2 KB, so an app tested through the gateway does not fail on S3 later.
pub fn reject_reserved(meta: Option<&Metadata>) -> Result<(), s3s::S3Error> {
    let Some(m) = meta else { return Ok(()) };
    if m.keys().any(|k| k.to_ascii_lowercase().starts_with(PREFIX)) {
        return Err(s3s::s3_error!(
            InvalidArgument,
            "metadata keys starting with x-amz-meta-s3seal- are reserved by the gateway"
        ));
    }
    if m.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>() > CLIENT_METADATA_MAX {
        return Err(s3s::s3_error!(
            MetadataTooLarge,
            "Your metadata headers exceed the maximum allowed metadata size (2 KB)."
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn meta(pairs: &[(&str, &str)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plain_objects_have_no_info() {
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(&meta(&[("owner", "x")]))), Ok(None));
    }

    #[test]
    fn malformed_values_are_rejected() {
        let good = [
            (VERSION, "1"),
            (KEK, "k1"),
            (DEK, "abc"),
            (SEGMENT, "65536"),
        ];
        assert!(parse(Some(&meta(&good))).unwrap().is_some());
        for (k, v) in [
            (VERSION, "3"),
            (SEGMENT, "0"),
            (SEGMENT, "99999999999"),
            (SEGMENT, "-1"),
            (KEK, ""),
            (MD5, "zz"),
        ] {
            let mut m = meta(&good);
            m.insert(k.to_string(), v.to_string());
            assert!(parse(Some(&m)).is_err(), "{k}={v}");
        }
        assert!(parse(Some(&meta(&[(KEK, "k1")]))).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_metadata_never_panics(pairs in proptest::collection::vec((".{0,12}", ".{0,40}"), 0..6),
                                          seg in ".{0,12}", v in ".{0,3}") {
            let mut m: Metadata = pairs.into_iter().collect();
            m.insert(VERSION.into(), v);
            m.insert(SEGMENT.into(), seg);
            let _ = parse(Some(&m));
        }
    }
}
