//! One sealed segment: header layout, key derivation, nonce and AAD.

use super::Dek;
use hkdf::Hkdf;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use sha2::Sha256;
use std::mem::MaybeUninit;
use zeroize::Zeroize;

/// Bytes of the clear header in front of every segment.
pub const HEADER_LEN: usize = 16;
/// Bytes of the GCM tag behind every segment.
pub const TAG_LEN: usize = 16;
/// Marks the last segment of a stream in the header's index word.
const FINAL_BIT: u32 = 1 << 31;
/// Prefix of every segment's associated data; changes with the format version.
const AAD_PREFIX: &[u8; 7] = b"s3seal1";
/// HKDF info prefix for stream keys.
const STREAM_INFO: &[u8] = b"s3seal v1 stream";
/// HKDF info prefix for the parts of uploads whose layout is committed at Complete.
const PART_INFO: &[u8] = b"s3seal v2 mppart";

/// Which derivation a stream's key uses. Parts of committed-layout uploads have their own,
/// so metadata edited to claim an uncommitted (older) multipart object, whose reader would
/// not ask for the layout, makes every segment fail instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyDomain {
    /// Single PUTs, and multipart parts written before layouts were committed.
    #[default]
    Stream,
    /// Parts of an upload whose layout is committed (`s3seal-mp = 2`).
    CommittedPart,
}

/// The clear header: which stream a segment belongs to and where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// 0 for a single PUT, 1..=10000 for a multipart part.
    pub part: u32,
    /// Position within the stream, from 0; below 2^31.
    pub index: u32,
    /// Last segment of its stream.
    pub last: bool,
    /// Random per stream, so a re-uploaded part gets a fresh key and never reuses a nonce.
    pub salt: [u8; 8],
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(&self.part.to_be_bytes());
        h[4..8].copy_from_slice(&self.index_word().to_be_bytes());
        h[8..].copy_from_slice(&self.salt);
        h
    }

    pub fn decode(h: &[u8]) -> Option<SegmentHeader> {
        let h: &[u8; HEADER_LEN] = h.get(..HEADER_LEN)?.try_into().ok()?;
        let word = u32::from_be_bytes(h[4..8].try_into().ok()?);
        Some(SegmentHeader {
            part: u32::from_be_bytes(h[..4].try_into().ok()?),
            index: word & !FINAL_BIT,
            last: word & FINAL_BIT != 0,
            salt: h[8..].try_into().ok()?,
        })
    }

    fn index_word(&self) -> u32 {
        debug_assert!(self.index < FINAL_BIT, "segment index overflow");
        self.index | if self.last { FINAL_BIT } else { 0 }
    }

    /// 96-bit GCM nonce; unique per segment because the key is unique per stream.
    fn nonce(&self) -> [u8; 12] {
        let mut n = [0u8; 12];
        n[4..8].copy_from_slice(&self.index_word().to_be_bytes());
        n
    }

    fn aad(&self) -> [u8; 7 + HEADER_LEN] {
        let mut a = [0u8; 7 + HEADER_LEN];
        a[..7].copy_from_slice(AAD_PREFIX);
        a[7..].copy_from_slice(&self.encode());
        a
    }
}

/// The AEAD of one stream (one part and salt).
pub struct StreamKey {
    aead: ScrubbedKey,
    pub part: u32,
    pub salt: [u8; 8],
}

/// ring's AES-256-GCM key, overwritten with zeros when dropped.
///
/// Why ring and not AWS-LC (which TLS uses): on CPUs with VAES but no AVX-512 (AMD Zen 3 and
/// later, Intel client cores) ring has a VAES/VPCLMULQDQ AVX2 path and AWS-LC falls back to
/// AES-NI: 5.1–6.9 GB/s against 2.2–2.8 GB/s on one core here, and GCM was 43 % of an
/// embedded GET's CPU. ring keeps the expanded key and GHASH table inline in the key value
/// (no heap) and does not clear them on drop, as AWS-LC's `OPENSSL_free` does; so the value
/// lives in a `MaybeUninit`, which any bytes are valid for, and `Drop` zeroes it in place.
struct ScrubbedKey(MaybeUninit<LessSafeKey>);

impl ScrubbedKey {
    fn new(raw: &[u8; 32]) -> ScrubbedKey {
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, raw).expect("32-byte key"));
        ScrubbedKey(MaybeUninit::new(key))
    }

    fn get(&self) -> &LessSafeKey {
        // SAFETY: initialised in `new`; only `drop` overwrites it, and nothing reads it after.
        unsafe { self.0.assume_init_ref() }
    }
}

impl Drop for ScrubbedKey {
    fn drop(&mut self) {
        // `LessSafeKey` owns no heap memory and has no `Drop` of its own (ring 0.17), so
        // zeroing its bytes releases nothing and leaves no key material behind in this value.
        // The bytes are a `MaybeUninit`'s, valid whatever they hold.
        self.0.zeroize();
    }
}

impl StreamKey {
    /// stream_key = HKDF-SHA256(ikm = DEK, salt = "", info = prefix || part || salt), where
    /// prefix is "s3seal v1 stream", or "s3seal v2 mppart" for [`KeyDomain::CommittedPart`].
    pub fn derive_in(domain: KeyDomain, dek: &Dek, part: u32, salt: [u8; 8]) -> StreamKey {
        let prefix = match domain {
            KeyDomain::Stream => STREAM_INFO,
            KeyDomain::CommittedPart => PART_INFO,
        };
        let hk = Hkdf::<Sha256>::new(None, dek.expose());
        let mut info = [0u8; STREAM_INFO.len() + 12];
        info[..STREAM_INFO.len()].copy_from_slice(prefix);
        info[STREAM_INFO.len()..STREAM_INFO.len() + 4].copy_from_slice(&part.to_be_bytes());
        info[STREAM_INFO.len() + 4..].copy_from_slice(&salt);
        let mut okm = [0u8; 32];
        hk.expand(&info, &mut okm)
            .expect("32 bytes is a valid HKDF length");
        let aead = ScrubbedKey::new(&okm);
        okm.zeroize();
        StreamKey { aead, part, salt }
    }

    /// Seals in place: `buf` is `HEADER_LEN` reserved bytes followed by the plaintext, and
    /// becomes the stored segment (header || ciphertext || tag). One buffer, no extra copy.
    pub fn seal_in_place(&self, index: u32, last: bool, buf: &mut Vec<u8>) {
        let h = SegmentHeader {
            part: self.part,
            index,
            last,
            salt: self.salt,
        };
        buf[..HEADER_LEN].copy_from_slice(&h.encode());
        let tag = self
            .aead
            .get()
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(h.nonce()),
                Aad::from(h.aad()),
                &mut buf[HEADER_LEN..],
            )
            .expect("segment below GCM's length limit");
        buf.extend_from_slice(tag.as_ref());
    }

    /// Opens the stored segment at `buf[seg]` and writes its plaintext to `buf[out..]`, where
    /// `out <= seg.start`: consecutive segments of one buffer are opened into one contiguous
    /// plaintext, sent as one body frame (hyper writes a frame per `writev` past its 128 KiB
    /// queue, so 64 KiB frames cost four times the store's syscalls and wake-ups). GCM reads
    /// ahead of where it writes, so the shift costs nothing. Returns the plaintext length;
    /// `Err` leaves `buf[out..seg.end]` unspecified and nothing of it may be released.
    pub fn open_within(
        &self,
        h: &SegmentHeader,
        buf: &mut [u8],
        seg: std::ops::Range<usize>,
        out: usize,
    ) -> Result<usize, ()> {
        if seg.len() < HEADER_LEN + TAG_LEN || out > seg.start {
            return Err(());
        }
        let plain = self
            .aead
            .get()
            .open_within(
                Nonce::assume_unique_for_key(h.nonce()),
                Aad::from(h.aad()),
                &mut buf[out..seg.end],
                seg.start - out + HEADER_LEN..,
            )
            .map_err(|_| ())?;
        Ok(plain.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_key_leaves_only_zeros() {
        let mut k = std::mem::ManuallyDrop::new(ScrubbedKey::new(&[0x5a; 32]));
        // SAFETY: `k` is dropped once and only its bytes are read afterwards; `Drop` leaves
        // every byte initialised (zero).
        let bytes = unsafe {
            std::mem::ManuallyDrop::drop(&mut k);
            std::slice::from_raw_parts(
                (&*k as *const ScrubbedKey).cast::<u8>(),
                size_of::<ScrubbedKey>(),
            )
        };
        assert!(
            size_of::<ScrubbedKey>() >= 240,
            "the AES-256 schedule is inline"
        );
        assert!(bytes.iter().all(|b| *b == 0), "key material left behind");
    }
}
