//! Size and range arithmetic between plaintext and stored bytes.
//!
//! Every segment but the last of an object holds exactly `S` plaintext bytes (single PUTs by
//! construction, multipart objects because non-last parts must be multiples of `S`), so
//! stored = plain + 32 per segment and both directions are closed-form.

use super::{HEADER_LEN, TAG_LEN};

/// Plaintext bytes per segment unless configured otherwise.
pub const DEFAULT_SEGMENT: u32 = 64 * 1024;
/// Smallest segment size accepted in metadata (bounds the overhead at 3%).
pub const MIN_SEGMENT: u32 = 1024;
/// Largest segment size accepted in metadata (bounds the reader's buffer).
pub const MAX_SEGMENT: u32 = 16 * 1024 * 1024;
/// Stored bytes added to each segment: header and tag.
pub const SEGMENT_OVERHEAD: u64 = (HEADER_LEN + TAG_LEN) as u64;

/// Segments of a stream of `plain` bytes: at least one, the empty stream is one segment.
pub fn segment_count(plain: u64, segment: u32) -> u64 {
    plain.div_ceil(u64::from(segment)).max(1)
}

/// Stored size of one stream of `plain` bytes.
pub fn stored_len(plain: u64, segment: u32) -> u64 {
    plain + SEGMENT_OVERHEAD * segment_count(plain, segment)
}

/// Segments held by `stored` bytes of whole segments (the last possibly short): what a read
/// of that many stored bytes must contain.
pub fn segments_in(stored: u64, segment: u32) -> u64 {
    stored.div_ceil(u64::from(segment) + SEGMENT_OVERHEAD)
}

/// Plaintext size of a stored object, or `None` if no sealed object has that size.
pub fn plain_len(stored: u64, segment: u32) -> Option<u64> {
    if stored < SEGMENT_OVERHEAD || segment == 0 {
        return None;
    }
    let full = u64::from(segment) + SEGMENT_OVERHEAD;
    let n = stored.div_ceil(full);
    let last = stored - (n - 1) * full;
    if last < SEGMENT_OVERHEAD {
        return None;
    }
    Some(stored - n * SEGMENT_OVERHEAD)
}

/// A client's Range header, already parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=a-b` (inclusive).
    FromTo(u64, u64),
    /// `bytes=a-`.
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

/// The range cannot be served (HTTP 416).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

/// What to fetch from the store and what to hand the client for one plaintext range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangePlan {
    /// Plaintext bytes served, inclusive (for Content-Range).
    pub plain_first: u64,
    pub plain_last: u64,
    /// Stored bytes to request, inclusive: whole covering segments only.
    pub stored_first: u64,
    pub stored_last: u64,
    /// Index of the first fetched segment within the object.
    pub first_segment: u64,
    /// Plaintext bytes to drop from the front of the first decrypted segment.
    pub skip: u64,
    /// Plaintext bytes to deliver.
    pub deliver: u64,
}

impl RangePlan {
    /// Plans `range` over an object of `plain` bytes, following RFC 9110 / S3: a start past
    /// the end is unsatisfiable, an end past the end is clamped, a suffix longer than the
    /// object is the whole object, and no range of an empty object is a range (S3 answers its
    /// suffix ranges with the whole empty object, 200: the gateway's GET path does that).
    pub fn new(plain: u64, segment: u32, range: ByteRange) -> Result<RangePlan, Unsatisfiable> {
        if plain == 0 || segment == 0 {
            return Err(Unsatisfiable);
        }
        let (first, last) = match range {
            ByteRange::FromTo(a, b) if a <= b && a < plain => (a, b.min(plain - 1)),
            ByteRange::From(a) if a < plain => (a, plain - 1),
            ByteRange::Suffix(n) if n > 0 => (plain - n.min(plain), plain - 1),
            _ => return Err(Unsatisfiable),
        };
        let s = u64::from(segment);
        let full = s + SEGMENT_OVERHEAD;
        let first_segment = first / s;
        let last_segment = last / s;
        let stored_total = stored_len(plain, segment);
        Ok(RangePlan {
            plain_first: first,
            plain_last: last,
            stored_first: first_segment * full,
            stored_last: ((last_segment + 1) * full).min(stored_total) - 1,
            first_segment,
            skip: first - first_segment * s,
            deliver: last - first + 1,
        })
    }
}

/// The stored range covering a plaintext range whose start is known, before the object's size
/// is: whole segments from the one holding the start (to the one holding the end, or open).
/// Equal to what [`RangePlan::new`] asks for once the store clamps the end to the object, so
/// a GET of it can be checked against the plan afterwards. `None` for suffix ranges, which
/// need the size first.
pub fn covering_stored(range: ByteRange, segment: u32) -> Option<(u64, Option<u64>)> {
    let s = u64::from(segment);
    let full = s.checked_add(SEGMENT_OVERHEAD)?;
    match range {
        ByteRange::FromTo(a, b) if a <= b && segment > 0 => {
            let last = (b / s).checked_add(1)?.checked_mul(full)?.checked_sub(1)?;
            Some(((a / s).checked_mul(full)?, Some(last)))
        }
        ByteRange::From(a) if segment > 0 => Some(((a / s).checked_mul(full)?, None)),
        _ => None,
    }
}

/// Parses a store's `Content-Range: bytes first-last/total`.
pub fn parse_content_range(v: &str) -> Option<(u64, u64, u64)> {
    let (span, total) = v.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = span.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?, total.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_invert_at_every_boundary() {
        for seg in [MIN_SEGMENT, 4096, DEFAULT_SEGMENT] {
            let s = u64::from(seg);
            for p in [
                0,
                1,
                s - 1,
                s,
                s + 1,
                2 * s - 1,
                2 * s,
                2 * s + 1,
                10 * s + 7,
            ] {
                assert_eq!(
                    plain_len(stored_len(p, seg), seg),
                    Some(p),
                    "p={p} seg={seg}"
                );
            }
        }
        assert_eq!(stored_len(0, DEFAULT_SEGMENT), 32);
        assert_eq!(stored_len(65536, DEFAULT_SEGMENT), 65568);
        assert_eq!(stored_len(65537, DEFAULT_SEGMENT), 65601);
        assert_eq!(plain_len(31, DEFAULT_SEGMENT), None);
        assert_eq!(plain_len(65568 + 5, DEFAULT_SEGMENT), None);
    }

    #[test]
    fn ranges_follow_http_semantics() {
        let seg = 1024;
        let p = 3000;
        let r = RangePlan::new(p, seg, ByteRange::FromTo(1000, 1100)).unwrap();
        assert_eq!((r.first_segment, r.skip, r.deliver), (0, 1000, 101));
        assert_eq!((r.stored_first, r.stored_last), (0, 2 * 1056 - 1));
        let r = RangePlan::new(p, seg, ByteRange::Suffix(5000)).unwrap();
        assert_eq!((r.plain_first, r.plain_last), (0, 2999));
        assert_eq!(r.stored_last + 1, stored_len(p, seg));
        let r = RangePlan::new(p, seg, ByteRange::From(2048)).unwrap();
        assert_eq!(
            (r.first_segment, r.skip, r.deliver, r.stored_first),
            (2, 0, 952, 2112)
        );
        let r = RangePlan::new(p, seg, ByteRange::FromTo(5, 99999)).unwrap();
        assert_eq!(r.plain_last, 2999);
        for bad in [
            ByteRange::From(3000),
            ByteRange::Suffix(0),
            ByteRange::FromTo(3000, 3001),
        ] {
            assert_eq!(RangePlan::new(p, seg, bad), Err(Unsatisfiable));
        }
        assert_eq!(
            RangePlan::new(0, seg, ByteRange::Suffix(1)),
            Err(Unsatisfiable)
        );
    }

    #[test]
    fn covering_range_matches_the_plan_after_clamping() {
        let seg = 1024u32;
        for plain in [1u64, 1023, 1024, 1025, 5000, 10 * 1024] {
            let stored = stored_len(plain, seg);
            for a in (0..plain).step_by(97) {
                for r in [
                    ByteRange::FromTo(a, a),
                    ByteRange::FromTo(a, a + 1500),
                    ByteRange::From(a),
                ] {
                    let plan = RangePlan::new(plain, seg, r).unwrap();
                    let (f, l) = covering_stored(r, seg).unwrap();
                    assert_eq!(f, plan.stored_first, "{plain} {r:?}");
                    assert_eq!(l.unwrap_or(u64::MAX).min(stored - 1), plan.stored_last);
                }
            }
        }
        assert_eq!(covering_stored(ByteRange::Suffix(5), seg), None);
        assert_eq!(
            covering_stored(ByteRange::FromTo(u64::MAX, u64::MAX), seg),
            None
        );
        assert_eq!(parse_content_range("bytes 0-9/100"), Some((0, 9, 100)));
        assert_eq!(parse_content_range("bytes */100"), None);
    }
}
