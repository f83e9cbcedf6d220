//! DEK wrapping with AES-256-GCM under a KEK.
//!
//! GCM rather than AES-KW (RFC 3394): KW has no associated data, so binding the KEK id and
//! object key would need a second construction; GCM binds them as AAD in one audited
//! primitive. A random 96-bit nonce per wrap is safe far beyond any bucket's object count
//! (2^32 wraps per KEK keep the collision risk below 2^-32).

use super::{Kek, KeyError};
use crate::format::{DEK_LEN, Dek};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use zeroize::Zeroizing;

const AAD_PREFIX: &[u8] = b"s3seal-v1 dek";
const AAD_V2: &[u8] = b"s3seal-v2 dek";
const NONCE_LEN: usize = 12;
/// nonce || encrypted DEK || tag.
pub const BLOB_LEN: usize = NONCE_LEN + DEK_LEN + 16;

/// What a wrapped DEK is bound to besides its KEK: the object key, so a wrapped key copied
/// onto another object does not open, and in format v2 the bucket (unless the deployment
/// chose mirrored buckets), so an object copied into another bucket at the store does not
/// open there either.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WrapContext {
    pub object_key: String,
    /// Which AAD: format v1 (object key only) or v2 (flags, bucket, object key).
    pub scope: Scope,
}

/// The wrap AAD's format version and, in v2, whether and to which bucket it is bound.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// Objects written in format v1: bound to the object key only.
    #[default]
    V1,
    /// Format v2: `Some(bucket)` binds the bucket; `None` is the explicit mirrored-bucket
    /// choice (`encryption.bind_bucket = false`), recorded as a flag inside the AAD so it
    /// cannot be flipped by editing metadata.
    V2 { bucket: Option<String> },
}

impl WrapContext {
    /// A format-v1 context (object key only).
    pub fn v1(object_key: &str) -> Self {
        WrapContext {
            object_key: object_key.to_owned(),
            scope: Scope::V1,
        }
    }

    /// A format-v2 context; `bucket` is `None` when the bucket is deliberately not bound.
    pub fn v2(bucket: Option<&str>, object_key: &str) -> Self {
        WrapContext {
            object_key: object_key.to_owned(),
            scope: Scope::V2 {
                bucket: bucket.map(str::to_owned),
            },
        }
    }
}

/// A DEK wrapped under KEK `kek_id`. `blob` is opaque to everything but its provider.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WrappedDek {
    pub kek_id: String,
    pub blob: Vec<u8>,
}

impl WrappedDek {
    /// (KEK id, base64 blob) for object metadata.
    pub fn to_metadata(&self) -> (String, String) {
        (self.kek_id.clone(), STANDARD.encode(&self.blob))
    }

    pub fn from_metadata(kek_id: &str, b64: &str) -> Result<Self, KeyError> {
        if kek_id.is_empty() || kek_id.len() > 128 {
            return Err(KeyError::Malformed("KEK id is empty or too long"));
        }
        if b64.len() > 4096 {
            return Err(KeyError::Malformed("wrapped key is too long"));
        }
        let blob = STANDARD
            .decode(b64)
            .map_err(|_| KeyError::Malformed("wrapped key is not base64"))?;
        Ok(WrappedDek {
            kek_id: kek_id.to_owned(),
            blob,
        })
    }
}

/// v1: AAD = "s3seal-v1 dek" || u16 len(kek id) || kek id || u32 len(object key) || object key.
/// v2: AAD = "s3seal-v2 dek" || flags (u8: 1 = bucket bound, 0 = not) || u16 len(kek id) ||
///     kek id || u32 len(bucket) || bucket ("" when not bound) || u32 len(object key) || key.
fn aad(kek_id: &str, ctx: &WrapContext) -> Vec<u8> {
    let mut a = Vec::with_capacity(AAD_V2.len() + 11 + kek_id.len() + ctx.object_key.len() + 64);
    match &ctx.scope {
        Scope::V1 => a.extend_from_slice(AAD_PREFIX),
        Scope::V2 { bucket } => {
            a.extend_from_slice(AAD_V2);
            a.push(u8::from(bucket.is_some()));
        }
    }
    a.extend_from_slice(&(kek_id.len() as u16).to_be_bytes());
    a.extend_from_slice(kek_id.as_bytes());
    if let Scope::V2 { bucket } = &ctx.scope {
        let b = bucket.as_deref().unwrap_or("");
        a.extend_from_slice(&(b.len() as u32).to_be_bytes());
        a.extend_from_slice(b.as_bytes());
    }
    a.extend_from_slice(&(ctx.object_key.len() as u32).to_be_bytes());
    a.extend_from_slice(ctx.object_key.as_bytes());
    a
}

/// The same AES-256-GCM as the segments (AWS-LC), keyed by the KEK.
fn kek_aead(kek: &Kek) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.expose()).expect("32-byte key"))
}

/// Deterministic wrap for known-answer vectors; everything else uses [`wrap`], whose nonce
/// is random.
pub fn wrap_with_nonce(
    kek: &Kek,
    kek_id: &str,
    dek: &Dek,
    ctx: &WrapContext,
    nonce: [u8; NONCE_LEN],
) -> WrappedDek {
    let mut ct = Zeroizing::new(dek.expose().to_vec());
    let tag = kek_aead(kek)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(kek_id, ctx)),
            &mut ct,
        )
        .expect("small message");
    let mut blob = nonce.to_vec();
    blob.extend_from_slice(&ct);
    blob.extend_from_slice(tag.as_ref());
    WrappedDek {
        kek_id: kek_id.to_owned(),
        blob,
    }
}

pub fn wrap(kek: &Kek, kek_id: &str, dek: &Dek, ctx: &WrapContext) -> WrappedDek {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    wrap_with_nonce(kek, kek_id, dek, ctx, nonce)
}

pub fn unwrap(kek: &Kek, w: &WrappedDek, ctx: &WrapContext) -> Result<Dek, KeyError> {
    if w.blob.len() != BLOB_LEN {
        return Err(KeyError::Malformed("wrapped key has the wrong length"));
    }
    let nonce: [u8; NONCE_LEN] = w.blob[..NONCE_LEN].try_into().expect("length checked");
    let mut buf = Zeroizing::new(w.blob[NONCE_LEN..].to_vec());
    let plain = kek_aead(kek)
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(&w.kek_id, ctx)),
            &mut buf,
        )
        .map_err(|_| KeyError::Unwrap(w.kek_id.clone()))?;
    let bytes: [u8; DEK_LEN] = (&*plain)
        .try_into()
        .map_err(|_| KeyError::Malformed("unwrapped key has the wrong length"))?;
    Ok(Dek::from_bytes(bytes))
}
