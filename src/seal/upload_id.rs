//! Upload ids that carry their own key, so any gateway process can continue an upload.
//!
//! The id handed to clients is `s3seal3~<store id>~<KEK id>~<wrapped DEK>~<tags>~<tag>`
//! (base64url fields; `<tags>` is how many object tags the client sent at Create, in decimal,
//! so Complete can refuse a layout that would not fit beside them *before* the store replaces
//! the key's object). The wrapped DEK is the one written into the object's metadata at
//! CreateMultipartUpload; the tag is an HMAC under a key derived from the DEK over the store's
//! upload id, bucket, key and tag count, so a client cannot graft another upload's key onto
//! this one. `s3seal2~` ids (no tag count) and `s3seal1~` ids are still accepted.
//! Nothing is kept in memory or on local disk: a restart or another replica continues.

use crate::format::Dek;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "s3seal1~";
/// Uploads whose layout is committed at Complete (parts sealed in their own key domain).
const PREFIX_V2: &str = "s3seal2~";
/// Committed uploads whose id also carries the client's tag count.
const PREFIX_V3: &str = "s3seal3~";
const TAG_LEN: usize = 16;

/// A parsed gateway upload id.
#[derive(Debug, PartialEq, Eq)]
pub struct Token {
    pub upstream: String,
    pub kek: String,
    /// Standard base64, as stored in metadata.
    pub dek_b64: String,
    /// An `s3seal2~` id: parts use the committed-part key domain and Complete commits the
    /// layout. `s3seal1~` ids (issued before) complete the older way.
    pub committed: bool,
    /// Tags the client sent at CreateMultipartUpload (`s3seal3~` ids; None before).
    pub client_tags: Option<u8>,
    tag: Vec<u8>,
}

/// Builds the client-facing upload id.
pub fn encode(
    upstream: &str,
    kek: &str,
    dek_b64: &str,
    dek: &Dek,
    (bucket, key): (&str, &str),
    committed: bool,
    client_tags: u8,
) -> String {
    let blob = STANDARD.decode(dek_b64).unwrap_or_default();
    let (up, blob) = (
        URL_SAFE_NO_PAD.encode(upstream),
        URL_SAFE_NO_PAD.encode(blob),
    );
    if committed {
        let t = tag(dek, Some(client_tags), upstream, bucket, key);
        let t = URL_SAFE_NO_PAD.encode(t);
        format!("{PREFIX_V3}{up}~{kek}~{blob}~{client_tags}~{t}")
    } else {
        let t = URL_SAFE_NO_PAD.encode(tag(dek, None, upstream, bucket, key));
        format!("{PREFIX}{up}~{kek}~{blob}~{t}")
    }
}

/// Whether `id` claims to be a gateway upload id (valid or not).
pub fn is_ours(id: &str) -> bool {
    id.starts_with(PREFIX) || id.starts_with(PREFIX_V2) || id.starts_with(PREFIX_V3)
}

/// `Ok(None)`: not one of ours (a raw store id, e.g. from ListMultipartUploads).
pub fn decode(id: &str) -> Result<Option<Token>, &'static str> {
    let (rest, committed, v3) = if let Some(r) = id.strip_prefix(PREFIX) {
        (r, false, false)
    } else if let Some(r) = id.strip_prefix(PREFIX_V2) {
        (r, true, false)
    } else if let Some(r) = id.strip_prefix(PREFIX_V3) {
        (r, true, true)
    } else {
        return Ok(None);
    };
    let mut it = rest.split('~');
    let (Some(up), Some(kek), Some(blob)) = (it.next(), it.next(), it.next()) else {
        return Err("malformed upload id");
    };
    let client_tags = match v3 {
        true => {
            let n = it.next().ok_or("malformed upload id")?;
            let n: u8 = n.parse().map_err(|_| "malformed upload id")?;
            Some(n)
        }
        false => None,
    };
    let (Some(t), None) = (it.next(), it.next()) else {
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
        committed,
        client_tags,
        tag,
    }))
}

impl Token {
    /// Constant-time check that this id was issued for this upload, bucket and key.
    pub fn verify(&self, dek: &Dek, bucket: &str, key: &str) -> bool {
        let mut mac = mac(dek, self.committed, self.client_tags);
        feed(&mut mac, &self.upstream, bucket, key);
        if let Some(n) = self.client_tags {
            mac.update(&[n]);
        }
        mac.verify_truncated_left(&self.tag).is_ok()
    }
}

/// Each version's key differs, so an id's prefix cannot be switched to change how parts are
/// sealed or to drop the tag count.
fn mac(dek: &Dek, committed: bool, client_tags: Option<u8>) -> Hmac<Sha256> {
    let hk = hkdf::Hkdf::<Sha256>::new(None, dek.expose());
    let mut k = zeroize::Zeroizing::new([0u8; 32]);
    let info: &[u8] = match (committed, client_tags) {
        (true, Some(_)) => b"s3seal v3 upload id",
        (true, None) => b"s3seal v2 upload id",
        (false, _) => b"s3seal v1 upload id",
    };
    hk.expand(info, &mut *k)
        .expect("32 bytes is a valid HKDF length");
    Hmac::<Sha256>::new_from_slice(&*k).expect("any key length")
}

fn feed(mac: &mut Hmac<Sha256>, upstream: &str, bucket: &str, key: &str) {
    for part in [upstream, bucket, key] {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part.as_bytes());
    }
}

/// `client_tags` is Some exactly for committed (`s3seal3~`) ids.
fn tag(
    dek: &Dek,
    client_tags: Option<u8>,
    upstream: &str,
    bucket: &str,
    key: &str,
) -> [u8; TAG_LEN] {
    let mut m = mac(dek, client_tags.is_some(), client_tags);
    feed(&mut m, upstream, bucket, key);
    if let Some(n) = client_tags {
        m.update(&[n]);
    }
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
        let id = encode(
            "abc-123",
            "k1",
            &wrapped,
            &dek,
            ("b", "photos/a.jpg"),
            true,
            3,
        );
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
        let other = encode(
            "zzz",
            "k1",
            &wrapped,
            &Dek::generate(),
            ("b", "photos/a.jpg"),
            true,
            3,
        );
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
        assert_eq!(t.client_tags, Some(3));
        // Lowering the tag count, or switching the prefix (to have parts sealed the older way
        // or to drop the count), breaks the tag.
        let fewer = id.replacen("~3~", "~0~", 1);
        let t0 = decode(&fewer).unwrap().unwrap();
        assert_eq!(t0.client_tags, Some(0));
        assert!(!t0.verify(&dek, "b", "photos/a.jpg"));
        let v2 = id
            .replacen("s3seal3~", "s3seal2~", 1)
            .replacen("~3~", "~", 1);
        let t2 = decode(&v2).unwrap().unwrap();
        assert!(t2.committed && t2.client_tags.is_none());
        assert!(!t2.verify(&dek, "b", "photos/a.jpg"));
        let v1 = id
            .replacen("s3seal3~", "s3seal1~", 1)
            .replacen("~3~", "~", 1);
        let t1 = decode(&v1).unwrap().unwrap();
        assert!(!t1.committed && t.committed);
        assert!(!t1.verify(&dek, "b", "photos/a.jpg"));
        // Uncommitted ids carry no count.
        let old = encode("u", "k1", &wrapped, &dek, ("b", "k"), false, 0);
        assert!(old.starts_with(PREFIX) && old.matches('~').count() == 4);
        assert!(decode(&old).unwrap().unwrap().verify(&dek, "b", "k"));
    }

    #[test]
    fn v2_ids_issued_before_the_tag_count_still_verify() {
        let dek = Dek::generate();
        let mut m = mac(&dek, true, None);
        feed(&mut m, "up", "b", "k");
        let t = &m.finalize().into_bytes()[..TAG_LEN];
        let id = format!(
            "{PREFIX_V2}{}~k1~AAAA~{}",
            URL_SAFE_NO_PAD.encode("up"),
            URL_SAFE_NO_PAD.encode(t)
        );
        let tok = decode(&id).unwrap().unwrap();
        assert!(tok.committed && tok.client_tags.is_none());
        assert!(tok.verify(&dek, "b", "k"));
    }

    proptest! {
        #[test]
        fn arbitrary_ids_never_panic(s in "s3seal[123]~.{0,200}") {
            let _ = decode(&s);
        }
    }
}
