//! The committed layout of a multipart object: which parts, in which order, how long.
//!
//! A multipart object's parts are sealed independently, before anyone knows which of them
//! CompleteMultipartUpload will pick, so nothing inside the body says where it ends or where
//! a part sits. The gateway therefore commits the layout after Complete, authenticated by a
//! key derived from the object's DEK, and every read plans exactly which part, index and
//! length each stored segment must have. Dropped, duplicated, reordered or shifted parts and
//! segments then fail in full and in ranged reads alike (docs/FORMAT.md §5).

use super::Dek;
use super::size::{SEGMENT_OVERHEAD, segment_count, stored_len};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const KEY_INFO: &[u8] = b"s3seal v2 layout key";
const MAC_PREFIX: &[u8] = b"s3seal v2 layout";
const MAC_LEN: usize = 16;
const RUN_LEN: usize = 16;
/// Characters per tag value (S3's limit for tag values).
pub const TAG_VALUE_MAX: usize = 256;

/// Consecutive part numbers that all hold the same number of plaintext bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    pub first: u32,
    pub count: u32,
    pub plain: u64,
}

/// An object's parts in order, as (part number, plaintext bytes), compressed into runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    runs: Vec<Run>,
}

/// Why a stored layout was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("the layout is malformed")]
    Malformed,
    #[error("the layout failed authentication")]
    Authentication,
}

impl Layout {
    /// From the parts CompleteMultipartUpload chose: ascending part numbers 1..=10000.
    pub fn from_parts(parts: &[(u32, u64)]) -> Result<Layout, LayoutError> {
        let mut runs: Vec<Run> = Vec::new();
        for &(part, plain) in parts {
            match runs.last_mut() {
                Some(r) if r.first + r.count == part && r.plain == plain => r.count += 1,
                _ => runs.push(Run {
                    first: part,
                    count: 1,
                    plain,
                }),
            }
        }
        let l = Layout { runs };
        l.validate()?;
        Ok(l)
    }

    fn validate(&self) -> Result<(), LayoutError> {
        if self.runs.is_empty() {
            return Err(LayoutError::Malformed);
        }
        let mut next = 1u64;
        let mut total = 0u64;
        for r in &self.runs {
            let end = u64::from(r.first) + u64::from(r.count);
            if r.count == 0 || u64::from(r.first) < next || end > 10_001 {
                return Err(LayoutError::Malformed);
            }
            next = end;
            total = u64::from(r.count)
                .checked_mul(r.plain)
                .and_then(|t| t.checked_add(total))
                .ok_or(LayoutError::Malformed)?;
        }
        // 10,000 parts of 5 GiB: anything larger cannot be an S3 object.
        if total > 10_000 * (5 << 30) {
            return Err(LayoutError::Malformed);
        }
        Ok(())
    }

    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// (part number, plaintext bytes) for every part, in order.
    pub fn parts(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.runs
            .iter()
            .flat_map(|r| (r.first..r.first + r.count).map(move |p| (p, r.plain)))
    }

    pub fn part_count(&self) -> u32 {
        self.runs.iter().map(|r| r.count).sum()
    }

    pub fn plain_len(&self) -> u64 {
        self.runs.iter().map(|r| u64::from(r.count) * r.plain).sum()
    }

    pub fn stored_len(&self, segment: u32) -> u64 {
        self.runs
            .iter()
            .map(|r| u64::from(r.count) * stored_len(r.plain, segment))
            .sum()
    }

    /// Whether every part but the last holds whole segments, i.e. the object lies on the
    /// global segment grid and its plaintext size follows from its stored size alone.
    pub fn aligned(&self, segment: u32) -> bool {
        let n = self.part_count();
        self.parts()
            .take(n.saturating_sub(1) as usize)
            .all(|(_, p)| p > 0 && p.is_multiple_of(u64::from(segment)))
    }

    /// `tag || runs`, where tag = HMAC-SHA256(HKDF(DEK, "s3seal v2 layout key"),
    /// "s3seal v2 layout" || u32 S || runs)[..16] and each run is u32 first part || u32 count
    /// || u64 plaintext bytes per part.
    pub fn seal(&self, dek: &Dek, segment: u32) -> Vec<u8> {
        let body = self.body();
        let mut out = mac(dek, segment, &body).to_vec();
        out.extend_from_slice(&body);
        out
    }

    /// The inverse of [`Layout::seal`]; refuses anything not sealed under this DEK and
    /// segment size.
    pub fn open(sealed: &[u8], dek: &Dek, segment: u32) -> Result<Layout, LayoutError> {
        if sealed.len() < MAC_LEN + RUN_LEN {
            return Err(LayoutError::Malformed);
        }
        let (tag, body) = sealed.split_at(MAC_LEN);
        let want = mac(dek, segment, body);
        if !constant_time_eq(tag, &want) {
            return Err(LayoutError::Authentication);
        }
        Self::open_unverified(sealed)
    }

    /// The runs of a sealed layout *without* checking its MAC: for LIST sizes only, which
    /// a store writer controls anyway (reads always use [`Layout::open`]).
    pub fn open_unverified(sealed: &[u8]) -> Result<Layout, LayoutError> {
        if sealed.len() < MAC_LEN + RUN_LEN || !(sealed.len() - MAC_LEN).is_multiple_of(RUN_LEN) {
            return Err(LayoutError::Malformed);
        }
        let runs = sealed[MAC_LEN..]
            .chunks_exact(RUN_LEN)
            .map(|c| Run {
                first: u32::from_be_bytes(c[..4].try_into().expect("4 bytes")),
                count: u32::from_be_bytes(c[4..8].try_into().expect("4 bytes")),
                plain: u64::from_be_bytes(c[8..].try_into().expect("8 bytes")),
            })
            .collect();
        let l = Layout { runs };
        l.validate()?;
        Ok(l)
    }

    fn body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(self.runs.len() * RUN_LEN);
        for r in &self.runs {
            b.extend_from_slice(&r.first.to_be_bytes());
            b.extend_from_slice(&r.count.to_be_bytes());
            b.extend_from_slice(&r.plain.to_be_bytes());
        }
        b
    }

    /// The segments a read of plaintext bytes `first..=last` must find, in order, and where
    /// they are stored. `None` for the empty object, which has no bytes to range over.
    pub fn plan(&self, first: u64, last: u64, segment: u32) -> Option<ReadPlan> {
        if first > last || last >= self.plain_len() {
            return None;
        }
        let s = u64::from(segment);
        let full = s + SEGMENT_OVERHEAD;
        let (mut plain_at, mut stored_at) = (0u64, 0u64);
        let mut spans = Vec::new();
        let (mut stored_first, mut stored_last, mut skip) = (None, 0u64, 0u64);
        for (part, p) in self.parts() {
            let (p_end, s_len) = (plain_at + p, stored_len(p, segment));
            if p > 0 && p_end > first && plain_at <= last {
                let a = first.max(plain_at) - plain_at;
                let b = last.min(p_end - 1) - plain_at;
                let (i0, i1) = (a / s, b / s);
                if stored_first.is_none() {
                    stored_first = Some(stored_at + i0 * full);
                    skip = a - i0 * s;
                }
                stored_last = stored_at + ((i1 + 1) * full).min(s_len) - 1;
                spans.push(Span::new(part, p, segment, i0, i1 - i0 + 1));
            }
            plain_at = p_end;
            stored_at += s_len;
        }
        Some(ReadPlan {
            stored_first: stored_first?,
            stored_last,
            skip,
            deliver: last - first + 1,
            spans,
        })
    }

    /// Every segment of every part, including empty ones: a full read.
    pub fn full_spans(&self, segment: u32) -> Vec<Span> {
        self.parts()
            .map(|(part, p)| Span::new(part, p, segment, 0, segment_count(p, segment)))
            .collect()
    }

    /// The segments of part `n` alone (GET with partNumber), with its plaintext offset and
    /// size and its stored offset.
    pub fn part(&self, n: u32, segment: u32) -> Option<PartAt> {
        let (mut plain_at, mut stored_at) = (0, 0);
        for (part, p) in self.parts() {
            if part == n {
                let span = Span::new(part, p, segment, 0, segment_count(p, segment));
                return Some(PartAt {
                    plain_at,
                    plain: p,
                    stored_at,
                    span,
                });
            }
            plain_at += p;
            stored_at += stored_len(p, segment);
        }
        None
    }

    /// Tags the sealed layout takes (what a tag count shown to clients must leave out).
    pub fn tag_count(&self) -> usize {
        let sealed = MAC_LEN + RUN_LEN * self.runs.len();
        (sealed.div_ceil(3) * 4).div_ceil(TAG_VALUE_MAX)
    }

    /// Tag values carrying the sealed layout: base64 split into values S3 accepts.
    pub fn to_tag_values(sealed: &[u8]) -> Vec<String> {
        let text = STANDARD.encode(sealed);
        text.as_bytes()
            .chunks(TAG_VALUE_MAX)
            .map(|c| String::from_utf8(c.to_vec()).expect("base64 is ASCII"))
            .collect()
    }

    /// The inverse of [`Layout::to_tag_values`], values in order.
    pub fn from_tag_values(values: &[&str]) -> Result<Vec<u8>, LayoutError> {
        STANDARD
            .decode(values.concat())
            .map_err(|_| LayoutError::Malformed)
    }
}

/// Where one part sits (see [`Layout::part`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartAt {
    pub plain_at: u64,
    pub plain: u64,
    pub stored_at: u64,
    pub span: Span,
}

/// Which stored segments a read covers and what it hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPlan {
    /// Stored bytes to request, inclusive.
    pub stored_first: u64,
    pub stored_last: u64,
    /// Plaintext to drop from the first opened segment, then to deliver.
    pub skip: u64,
    pub deliver: u64,
    pub spans: Vec<Span>,
}

/// A run of segments of one part that a read must find, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub part: u32,
    /// Index of the first segment read.
    pub first_index: u64,
    /// Segments read.
    pub count: u64,
    /// Segments in the whole part: the one with index `part_segments - 1` is final.
    pub part_segments: u64,
    /// Stored bytes of the part's final segment (others are `S + 32`).
    pub final_len: u64,
}

impl Span {
    fn new(part: u32, plain: u64, segment: u32, first_index: u64, count: u64) -> Span {
        let n = segment_count(plain, segment);
        Span {
            part,
            first_index,
            count,
            part_segments: n,
            final_len: plain - (n - 1) * u64::from(segment) + SEGMENT_OVERHEAD,
        }
    }
}

fn mac(dek: &Dek, segment: u32, body: &[u8]) -> [u8; MAC_LEN] {
    let hk = Hkdf::<Sha256>::new(None, dek.expose());
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    hk.expand(KEY_INFO, key.as_mut())
        .expect("32 bytes is a valid HKDF length");
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("any key length");
    m.update(MAC_PREFIX);
    m.update(&segment.to_be_bytes());
    m.update(body);
    let full = m.finalize().into_bytes();
    full[..MAC_LEN].try_into().expect("16 bytes")
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u32 = 1024;

    #[test]
    fn runs_compress_equal_consecutive_parts() {
        let l = Layout::from_parts(&[(1, 2048), (2, 2048), (3, 2048), (4, 10)]).unwrap();
        assert_eq!(l.runs().len(), 2);
        assert_eq!(l.part_count(), 4);
        assert_eq!(l.plain_len(), 3 * 2048 + 10);
        assert!(l.aligned(S));
        let gaps = Layout::from_parts(&[(1, 2048), (3, 2048)]).unwrap();
        assert_eq!(gaps.runs().len(), 2);
        assert!(Layout::from_parts(&[]).is_err());
        assert!(Layout::from_parts(&[(2, 1), (1, 1)]).is_err());
        assert!(Layout::from_parts(&[(0, 1)]).is_err());
        assert!(Layout::from_parts(&[(10_001, 1)]).is_err());
        assert!(
            !Layout::from_parts(&[(1, 1000), (2, 10)])
                .unwrap()
                .aligned(S)
        );
    }

    #[test]
    fn seal_and_open_round_trip_and_refuse_edits() {
        let dek = Dek::generate();
        let l = Layout::from_parts(&[(1, 5_000_000), (2, 5_000_000), (3, 7)]).unwrap();
        let sealed = l.seal(&dek, S);
        assert_eq!(Layout::open(&sealed, &dek, S).unwrap(), l);
        let values = Layout::to_tag_values(&sealed);
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        assert_eq!(Layout::from_tag_values(&refs).unwrap(), sealed);
        for at in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert!(Layout::open(&bad, &dek, S).is_err(), "flip at {at}");
        }
        assert_eq!(
            Layout::open(&sealed, &Dek::generate(), S),
            Err(LayoutError::Authentication)
        );
        assert!(Layout::open(&sealed, &dek, 2048).is_err());
        assert!(Layout::open(&sealed[..sealed.len() - 16], &dek, S).is_err());
    }

    #[test]
    fn long_layouts_split_into_tag_values() {
        let parts: Vec<(u32, u64)> = (1..=40).map(|p| (p * 2, u64::from(p))).collect();
        let sealed = Layout::from_parts(&parts)
            .unwrap()
            .seal(&Dek::generate(), S);
        let values = Layout::to_tag_values(&sealed);
        assert!(values.len() > 1 && values.iter().all(|v| v.len() <= TAG_VALUE_MAX));
        assert_eq!(
            Layout::from_parts(&parts).unwrap().tag_count(),
            values.len()
        );
    }

    /// Plans agree with a brute-force walk over every segment of every part.
    #[test]
    fn plans_cover_exactly_the_segments_holding_the_range() {
        let l = Layout::from_parts(&[(1, 2500), (2, 2500), (4, 0), (5, 1024), (6, 3)]).unwrap();
        // (part, index, plain start, plain len, stored start, stored len) of every segment.
        let mut segs = Vec::new();
        let (mut pa, mut sa) = (0u64, 0u64);
        for (part, p) in l.parts() {
            let n = segment_count(p, S);
            for i in 0..n {
                let len = if i + 1 == n { p - i * 1024 } else { 1024 };
                segs.push((part, i, pa, len, sa, len + 32));
                pa += len;
                sa += len + 32;
            }
        }
        assert_eq!(sa, l.stored_len(S));
        let total = l.plain_len();
        for first in 0..total {
            for last in [first, first + 1, first + 1500, total - 1] {
                let last = last.min(total - 1);
                let plan = l.plan(first, last, S).unwrap();
                let hit: Vec<_> = segs
                    .iter()
                    .filter(|s| s.3 > 0 && s.2 <= last && s.2 + s.3 > first)
                    .collect();
                assert_eq!(plan.stored_first, hit[0].4, "{first}-{last}");
                let end = hit.last().unwrap();
                assert_eq!(plan.stored_last, end.4 + end.5 - 1);
                assert_eq!(plan.skip, first - hit[0].2);
                let planned: u64 = plan.spans.iter().map(|s| s.count).sum();
                assert_eq!(planned, hit.len() as u64);
                assert_eq!(plan.spans[0].part, hit[0].0);
                assert_eq!(plan.spans[0].first_index, hit[0].1);
            }
        }
        assert!(l.plan(0, total, S).is_none());
        let full: u64 = l.full_spans(S).iter().map(|s| s.count).sum();
        assert_eq!(full, segs.len() as u64);
    }
}
