//! Upload ids that carry their own key, so any gateway process can continue an upload.
//!
//! The id handed to clients is `s3seal1~<store id>~<KEK id>~<wrapped DEK>~<tag>` (base64url
//! fields). The wrapped DEK is the one written into the object's metadata at
//! CreateMultipartUpload; the tag is an HMAC under a key derived from the DEK over the store's
//! upload id, bucket and key, so a client cannot graft another upload's key onto this one.
//! Nothing is kept in memory or on local disk: a restart or another replica continues.

use crate::format::Dek;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "s3seal1~";
const TAG_LEN: usize = 16;

/// A parsed gateway upload id.
#[derive(Debug, PartialEq, Eq)]
pub struct Token {
    pub upstream: String,
    pub kek: String,
    /// Standard base64, as stored in metadata.
    pub dek_b64: String,
    tag: Vec<u8>,
}

/// Builds the client-facing upload id.
pub fn encode(
    upstream: &str,
    kek: &str,
    dek_b64: &str,
    dek: &Dek,
    bucket: &str,
    key: &str,
) -> String {
    let blob = STANDARD.decode(dek_b64).unwrap_or_default();
    format!(
        "{PREFIX}{}~{kek}~{}~{}",
        URL_SAFE_NO_PAD.encode(upstream),
        URL_SAFE_NO_PAD.encode(blob),
        URL_SAFE_NO_PAD.encode(tag(dek, upstream, bucket, key))
    )
}

/// Whether `id` claims to be a gateway upload id (valid or not).
pub fn is_ours(id: &str) -> bool {
    id.starts_with(PREFIX)
}

/// `Ok(None)`: not one of ours (a raw store id, e.g. from ListMultipartUploads).
pub fn decode(id: &str) -> Result<Option<Token>, &'static str> {
    let Some(rest) = id.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    let mut it = rest.split('~');
    let (Some(up), Some(kek), Some(blob), Some(t), None) =
        (it.next(), it.next(), it.next(), it.next(), it.next())
    else {
        return Err("malformed upload id");
    };
    let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).map_err(|_| "malformed upload id");
    let upstream = String::from_utf8(b64(up)?).map_err(|_| "malformed upload id")?;
    let blob = b64(blob)?;
    let tag = b64(t)?;
    if kek.is_empty()
        || kek.len() > 64
        || blob.is_empty()
        || blob.len() > 512
        || tag.len() != TAG_LEN
    {
        return Err("malformed upload id");
    }
    Ok(Some(Token {
        upstream,
        kek: kek.to_owned(),
        dek_b64: STANDARD.encode(blob),
        tag,
    }))
}

impl Token {
    /// Constant-time check that this id was issued for this upload, bucket and key.
    pub fn verify(&self, dek: &Dek, bucket: &str, key: &str) -> bool {
        let mut mac = mac(dek);
        feed(&mut mac, &self.upstream, bucket, key);
        mac.verify_truncated_left(&self.tag).is_ok()
    }
}

fn mac(dek: &Dek) -> Hmac<Sha256> {
    let hk = hkdf::Hkdf::<Sha256>::new(None, dek.expose());
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    hk.expand(b"s3seal v1 upload id", &mut *k)
        .expect("32 bytes is a valid HKDF length");
    Hmac::<Sha256>::new_from_slice(&*k).expect("any key length")
}

fn feed(mac: &mut Hmac<Sha256>, upstream: &str, bucket: &str, key: &str) {
    for part in [upstream, bucket, key] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
}

fn tag(dek: &Dek, upstream: &str, bucket: &str, key: &str) -> [u8; TAG_LEN] {
    let mut m = mac(dek);
    feed(&mut m, upstream, bucket, key);
    let full = m.finalize().into_bytes();
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(&full[..TAG_LEN]);
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_binding() {
        let dek = Dek::generate();
        let wrapped = STANDARD.encode([7u8; 60]);
        let id = encode("abc-123", "k1", &wrapped, &dek, "b", "photos/a.jpg");
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || "~-_".contains(c)),
            "{id}"
        );
        let t = decode(&id).unwrap().unwrap();
        assert_eq!(t.upstream, "abc-123");
        assert_eq!(t.kek, "k1");
        assert_eq!(t.dek_b64, wrapped);
        assert!(t.verify(&dek, "b", "photos/a.jpg"));
        assert!(!t.verify(&dek, "b", "photos/b.jpg"));
        assert!(!t.verify(&Dek::generate(), "b", "photos/a.jpg"));
        // Another upload's id with this one's key material fails.
        let other = encode("zzz", "k1", &wrapped, &Dek::generate(), "b", "photos/a.jpg");
        let forged = format!(
            "{}~{}",
            id.rsplit_once('~').unwrap().0,
            other.rsplit_once('~').unwrap().1
        );
        assert!(
            !decode(&forged)
                .unwrap()
                .unwrap()
                .verify(&dek, "b", "photos/a.jpg")
        );
        assert_eq!(decode("2d1fd785-e896").unwrap(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_ids_never_panic(s in "s3seal1~.{0,200}") {
            let _ = decode(&s);
        }
    }
}
