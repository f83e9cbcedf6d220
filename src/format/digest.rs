//! The plaintext MD5, sealed for the store. Kept in clear beside the ciphertext it would let
//! anyone who reads the store confirm a guessed file or brute-force a short secret (an
//! outside probe recovered `PIN=4821` from it), so it is stored as
//! `nonce(12) || AES-256-GCM(key = HKDF-SHA256(DEK, "s3seal v2 md5 key"), md5)`.

use super::Dek;
use hkdf::Hkdf;
use rand::RngCore;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;
use zeroize::Zeroizing;

const KEY_INFO: &[u8] = b"s3seal v2 md5 key";
const AAD: &[u8] = b"s3seal md5";
/// Bytes of a sealed MD5: nonce, ciphertext, tag.
pub const SEALED_MD5_LEN: usize = 12 + 16 + 16;

fn key(dek: &Dek) -> LessSafeKey {
    let hk = Hkdf::<Sha256>::new(None, dek.expose());
    let mut raw = Zeroizing::new([0u8; 32]);
    hk.expand(KEY_INFO, raw.as_mut())
        .expect("32 bytes is a valid HKDF length");
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw.as_ref()).expect("32-byte key"))
}

/// Seals `md5` under the object's DEK, with a fresh random nonce.
pub fn seal_md5(dek: &Dek, md5: &[u8; 16]) -> [u8; SEALED_MD5_LEN] {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let mut buf = md5.to_vec();
    let tag = key(dek)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(AAD),
            &mut buf,
        )
        .expect("16 bytes always seal");
    let mut out = [0u8; SEALED_MD5_LEN];
    out[..12].copy_from_slice(&nonce);
    out[12..28].copy_from_slice(&buf);
    out[28..].copy_from_slice(tag.as_ref());
    out
}

/// The MD5 sealed by [`seal_md5`] under this DEK; `None` if it fails authentication.
pub fn open_md5(dek: &Dek, sealed: &[u8]) -> Option<[u8; 16]> {
    if sealed.len() != SEALED_MD5_LEN {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&sealed[..12]).ok()?;
    let mut buf = sealed[12..].to_vec();
    let plain = key(dek)
        .open_in_place(nonce, Aad::from(AAD), &mut buf)
        .ok()?;
    plain.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_md5_opens_only_under_its_dek_and_unmodified() {
        let (dek, other) = (Dek::generate(), Dek::generate());
        let md5 = [7u8; 16];
        let s = seal_md5(&dek, &md5);
        assert_eq!(open_md5(&dek, &s), Some(md5));
        assert!(!s.windows(16).any(|w| w == md5), "the MD5 shows through");
        assert_ne!(seal_md5(&dek, &md5), s, "nonces repeat");
        assert_eq!(open_md5(&other, &s), None);
        for i in 0..s.len() {
            let mut t = s;
            t[i] ^= 1;
            assert_eq!(open_md5(&dek, &t), None, "byte {i}");
        }
        assert_eq!(open_md5(&dek, &s[..40]), None);
    }
}
