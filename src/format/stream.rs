//! Streaming seal and open over `Bytes` chunks of any size, in constant memory: at most one
//! segment buffered, besides the chunk being opened in place.

use super::layout::Span;
use super::segment::{HEADER_LEN, KeyDomain, SegmentHeader, StreamKey, TAG_LEN};
use super::{Dek, size::SEGMENT_OVERHEAD};
use bytes::{Bytes, BytesMut};
use rand::RngCore;
use std::collections::VecDeque;

/// Plaintext chunks in, stored segments out, for one stream (a single PUT or one part).
pub struct StreamSealer {
    key: StreamKey,
    segment: usize,
    /// `HEADER_LEN` reserved bytes followed by up to `segment` plaintext bytes.
    buf: Vec<u8>,
    index: u32,
}

impl StreamSealer {
    /// A sealer with a fresh random salt; what every write uses.
    pub fn with_random_salt(dek: &Dek, part: u32, segment: u32) -> Self {
        let mut salt = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self::with_salt(dek, part, segment, salt)
    }

    /// A sealer with a chosen salt, for known-answer vectors only: reusing a salt with the
    /// same DEK and part reuses nonces.
    pub fn with_salt(dek: &Dek, part: u32, segment: u32, salt: [u8; 8]) -> Self {
        Self::in_domain(KeyDomain::Stream, dek, part, segment, salt)
    }

    /// A sealer for a part of a committed-layout upload, with a fresh random salt.
    pub fn committed_part(dek: &Dek, part: u32, segment: u32) -> Self {
        let mut salt = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        Self::in_domain(KeyDomain::CommittedPart, dek, part, segment, salt)
    }

    /// A sealer whose stream key comes from `domain`; a chosen salt is for vectors only.
    pub fn in_domain(domain: KeyDomain, dek: &Dek, part: u32, segment: u32, salt: [u8; 8]) -> Self {
        assert!(segment > 0, "segment size must be positive");
        StreamSealer {
            key: StreamKey::derive_in(domain, dek, part, salt),
            segment: segment as usize,
            buf: fresh_buf(segment as usize),
            index: 0,
        }
    }

    /// Accepts plaintext; appends every segment that is now known not to be the last.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.buf.len() - HEADER_LEN == self.segment {
                out.push(self.seal(false));
            }
            let room = self.segment - (self.buf.len() - HEADER_LEN);
            let n = room.min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
    }

    /// Ends the stream: seals what is buffered as the final segment (possibly empty).
    pub fn finish(mut self, out: &mut Vec<Bytes>) {
        out.push(self.seal(true));
    }

    fn seal(&mut self, last: bool) -> Bytes {
        let mut buf = std::mem::replace(&mut self.buf, fresh_buf(self.segment));
        self.key.seal_in_place(self.index, last, &mut buf);
        self.index += 1;
        Bytes::from(buf)
    }
}

fn fresh_buf(segment: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + segment + TAG_LEN);
    v.resize(HEADER_LEN, 0);
    v
}

/// What a reader must find, so that reordered, dropped, duplicated, spliced or truncated
/// segments are errors rather than wrong plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// A single-PUT object (part 0), read from segment `first_segment`.
    Single {
        first_segment: u64,
        reaches_end: bool,
    },
    /// A multipart object: parts in ascending order, each a chain of segments from 0 to a
    /// final one. `parts` is checked on a full read when the store reports a part count.
    Multipart {
        from_start: bool,
        reaches_end: bool,
        parts: Option<u32>,
    },
    /// A committed-layout multipart object: the read must find exactly the planned spans
    /// (see [`StreamOpener::with_spans`]).
    Layout,
}

impl Expect {
    pub fn single(first_segment: u64, reaches_end: bool) -> Self {
        Expect::Single {
            first_segment,
            reaches_end,
        }
    }

    pub fn multipart(from_start: bool, reaches_end: bool, parts: Option<u32>) -> Self {
        Expect::Multipart {
            from_start,
            reaches_end,
            parts,
        }
    }

    fn reaches_end(&self) -> bool {
        match *self {
            Expect::Single { reaches_end, .. } | Expect::Multipart { reaches_end, .. } => {
                reaches_end
            }
            Expect::Layout => false,
        }
    }
}

/// Why stored bytes were refused. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("segment {0} failed authentication (tampered, or the wrong key)")]
    Authentication(u64),
    #[error("segment {0} is out of place (reordered, duplicated, dropped or spliced)")]
    OutOfOrder(u64),
    #[error("the stored stream is truncated")]
    Truncated,
    #[error("data follows the final segment")]
    AfterFinal,
    #[error("expected {expected} parts, found {found}")]
    PartCount { expected: u32, found: u32 },
}

/// Stored bytes in, authenticated plaintext out.
pub struct StreamOpener {
    dek: Dek,
    full: usize,
    expect: Expect,
    buf: BytesMut,
    key: Option<StreamKey>,
    prev: Option<SegmentHeader>,
    segments: u64,
    parts: u32,
    /// How many segments this read must contain, when the caller knows (from the stored
    /// length it asked for): lets the segment that ends the read be checked for the final
    /// flag *before* its plaintext is released, and extra segments be refused.
    count: Option<u64>,
    domain: KeyDomain,
    /// Committed layout: the segments still to come, in order.
    spans: VecDeque<Span>,
}

impl StreamOpener {
    pub fn new(dek: &Dek, segment: u32, expect: Expect) -> Self {
        StreamOpener {
            dek: dek.duplicate(),
            full: segment as usize + SEGMENT_OVERHEAD as usize,
            expect,
            buf: BytesMut::new(),
            key: None,
            prev: None,
            segments: 0,
            parts: 0,
            count: None,
            domain: KeyDomain::Stream,
            spans: VecDeque::new(),
        }
    }

    /// A reader of a committed-layout object that must find exactly `spans`: each segment's
    /// part, index, final flag and stored length are known before it arrives, so nothing
    /// can be dropped, duplicated, reordered or shifted, and the read's last segment is
    /// checked before its plaintext is released.
    pub fn with_spans(dek: &Dek, segment: u32, spans: Vec<Span>) -> Self {
        let mut o = Self::new(dek, segment, Expect::Layout);
        o.domain = KeyDomain::CommittedPart;
        o.count = Some(spans.iter().map(|s| s.count).sum());
        o.spans = spans.into_iter().filter(|s| s.count > 0).collect();
        o
    }

    /// Stored bytes of the next segment: what the plan says, or a full segment.
    fn next_len(&self) -> usize {
        match self.spans.front() {
            Some(s) if s.first_index + 1 == s.part_segments => s.final_len as usize,
            _ => self.full,
        }
    }

    /// Declares that the stored bytes of this read hold exactly `n` segments (the caller
    /// planned the read from the stored length). Then a read that reaches the object's end
    /// refuses a last segment without the final flag before releasing it, a single-PUT read
    /// refuses a final segment anywhere else, and a segment beyond the `n`-th is refused.
    pub fn expect_segments(mut self, n: u64) -> Self {
        self.count = Some(n);
        self
    }

    /// Accepts stored bytes; appends the plaintext of every complete, verified segment.
    ///
    /// A chunk no one else holds (the embedded store's reads) is opened in place: only the
    /// bytes that complete a segment begun in an earlier chunk are copied. A shared chunk
    /// (hyper's share its read buffer) is copied whole, since decrypting writes over it.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<Bytes>) -> Result<(), OpenError> {
        let mut chunk = match chunk.try_into_mut() {
            Ok(own) => own,
            Err(shared) => {
                self.buf.extend_from_slice(&shared);
                return self.open_complete(out);
            }
        };
        if !self.buf.is_empty() {
            let need = self.next_len().saturating_sub(self.buf.len());
            self.buf
                .extend_from_slice(&chunk.split_to(need.min(chunk.len())));
            self.open_complete(out)?;
            if !self.buf.is_empty() {
                // The chunk ended before the segment did (then nothing of it is left).
                self.buf.extend_from_slice(&chunk);
                return Ok(());
            }
        }
        self.buf = chunk;
        self.open_complete(out)
    }

    /// Opens every complete segment at the front of `buf` into one contiguous plaintext
    /// (see [`StreamKey::open_within`]); nothing is appended unless all of them open.
    fn open_complete(&mut self, out: &mut Vec<Bytes>) -> Result<(), OpenError> {
        let (mut read, mut write) = (0, 0);
        loop {
            let len = self.next_len();
            if self.buf.len() - read < len {
                break;
            }
            // A committed layout has a final segment shorter than full only at a part's end;
            // a full-length one there is opened in `finish` or refused by the plan.
            if self.expect == Expect::Layout && self.spans.is_empty() {
                return Err(OpenError::AfterFinal);
            }
            write += self.open_at(read..read + len, write)?;
            read += len;
        }
        if read > 0 {
            self.release(read, write, out);
        }
        Ok(())
    }

    /// Hands over the plaintext the segments in `buf[..read]` were opened into, `buf[..write]`.
    fn release(&mut self, read: usize, write: usize, out: &mut Vec<Bytes>) {
        let mut done = self.buf.split_to(read);
        done.truncate(write);
        out.push(done.freeze());
    }

    /// End of stored bytes: opens the short last segment, then checks the stream ended
    /// where the expectation says it must.
    pub fn finish(mut self, out: &mut Vec<Bytes>) -> Result<(), OpenError> {
        if self.expect == Expect::Layout {
            // Every planned segment has a known length, so all were opened in `push`.
            if !self.buf.is_empty() {
                return Err(OpenError::AfterFinal);
            }
            if !self.spans.is_empty() || self.count.is_some_and(|n| self.segments != n) {
                return Err(OpenError::Truncated);
            }
            return Ok(());
        }
        if !self.buf.is_empty() {
            if self.buf.len() < SEGMENT_OVERHEAD as usize {
                return Err(OpenError::Truncated);
            }
            let read = self.buf.len();
            let write = self.open_at(0..read, 0)?;
            self.release(read, write, out);
        }
        let Some(prev) = self.prev else {
            return Err(OpenError::Truncated);
        };
        if self.count.is_some_and(|n| self.segments != n) {
            return Err(OpenError::Truncated);
        }
        if self.expect.reaches_end() && !prev.last {
            return Err(OpenError::Truncated);
        }
        if let Expect::Multipart {
            from_start: true,
            reaches_end: true,
            parts: Some(expected),
        } = self.expect
            && expected != self.parts
        {
            return Err(OpenError::PartCount {
                expected,
                found: self.parts,
            });
        }
        Ok(())
    }

    /// Opens the segment at `buf[seg]`, writing its plaintext to `buf[out..]`; returns the
    /// plaintext's length.
    fn open_at(&mut self, seg: std::ops::Range<usize>, out: usize) -> Result<usize, OpenError> {
        let n = self.segments;
        let h = SegmentHeader::decode(&self.buf[seg.start..]).ok_or(OpenError::Truncated)?;
        self.check_place(&h)?;
        self.check_count(&h)?;
        let key = match self.key.take() {
            Some(k) if k.part == h.part && k.salt == h.salt => k,
            _ => {
                self.parts += 1;
                StreamKey::derive_in(self.domain, &self.dek, h.part, h.salt)
            }
        };
        let plain = key
            .open_within(&h, &mut self.buf, seg, out)
            .map_err(|()| OpenError::Authentication(n))?;
        self.key = Some(key);
        // Only the sole segment of a stream may be empty; the sealer never writes others.
        if plain == 0 && !(h.index == 0 && h.last) {
            return Err(OpenError::OutOfOrder(n));
        }
        self.prev = Some(h);
        self.segments += 1;
        if let Some(s) = self.spans.front_mut() {
            s.first_index += 1;
            s.count -= 1;
            if s.count == 0 {
                self.spans.pop_front();
            }
        }
        Ok(plain)
    }

    /// With a known segment count: the read's last segment must be final when the read
    /// reaches the object's end; a single stream has no final segment before that; nothing
    /// follows the last one. Checked on the header, i.e. before any plaintext is released
    /// (the header is authenticated right after, by the same segment's tag).
    fn check_count(&self, h: &SegmentHeader) -> Result<(), OpenError> {
        let Some(count) = self.count else {
            return Ok(());
        };
        let n = self.segments;
        if n >= count {
            return Err(OpenError::AfterFinal);
        }
        let is_last = n + 1 == count;
        if is_last && self.expect.reaches_end() && !h.last {
            return Err(OpenError::Truncated);
        }
        let single = matches!(self.expect, Expect::Single { .. });
        if single && h.last && !(is_last && self.expect.reaches_end()) {
            return Err(OpenError::OutOfOrder(n));
        }
        Ok(())
    }

    /// The chain rule: within a stream indexes follow each other until the final segment;
    /// a multipart object then continues with a higher part at index 0.
    fn check_place(&self, h: &SegmentHeader) -> Result<(), OpenError> {
        let n = self.segments;
        if self.expect == Expect::Layout {
            let Some(s) = self.spans.front() else {
                return Err(OpenError::AfterFinal);
            };
            // Within one part every segment carries that part's salt; the plan fixes the rest.
            let same_stream = match self.prev {
                Some(p) if p.part == h.part => p.salt == h.salt,
                _ => true,
            };
            let ok = h.part == s.part
                && u64::from(h.index) == s.first_index
                && h.last == (s.first_index + 1 == s.part_segments)
                && same_stream;
            return if ok {
                Ok(())
            } else if h.index as u64 == s.first_index && h.part == s.part && !h.last {
                Err(OpenError::Truncated)
            } else {
                Err(OpenError::OutOfOrder(n))
            };
        }
        let ok = match (self.expect, self.prev) {
            (Expect::Single { first_segment, .. }, None) => {
                h.part == 0 && u64::from(h.index) == first_segment
            }
            (Expect::Multipart { from_start, .. }, None) => {
                h.part >= 1 && (!from_start || h.index == 0)
            }
            (_, Some(p)) if !p.last => {
                h.part == p.part && h.salt == p.salt && h.index == p.index + 1
            }
            (Expect::Single { .. }, Some(_)) => return Err(OpenError::AfterFinal),
            (Expect::Multipart { .. }, Some(p)) => h.part > p.part && h.index == 0,
            (Expect::Layout, _) => unreachable!("checked against the plan above"),
        };
        if ok {
            Ok(())
        } else {
            Err(OpenError::OutOfOrder(n))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal(dek: &Dek, part: u32, seg: u32, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = StreamSealer::with_random_salt(dek, part, seg);
        let mut out = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            s.push(Bytes::copy_from_slice(c), &mut out);
        }
        s.finish(&mut out);
        out.concat()
    }

    fn open(
        dek: &Dek,
        seg: u32,
        stored: &[u8],
        expect: Expect,
        chunk: usize,
    ) -> Result<Vec<u8>, OpenError> {
        let mut o = StreamOpener::new(dek, seg, expect);
        let mut out = Vec::new();
        push_mixed(&mut o, stored, chunk, &mut out)?;
        o.finish(&mut out)?;
        Ok(out.concat())
    }

    /// Pushes `stored` in `chunk`-sized pieces, alternating chunks the opener may take
    /// (opened in place) with chunks that share their memory (copied), so both paths and every
    /// hand-over between them are exercised.
    fn push_mixed(
        o: &mut StreamOpener,
        stored: &[u8],
        chunk: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<(), OpenError> {
        let whole = Bytes::copy_from_slice(stored);
        let step = chunk.max(1);
        for (i, at) in (0..stored.len()).step_by(step).enumerate() {
            let end = (at + step).min(stored.len());
            let piece = if i % 3 == 1 {
                whole.slice(at..end)
            } else {
                Bytes::copy_from_slice(&stored[at..end])
            };
            o.push(piece, out)?;
        }
        // The shared chunks were decrypted from copies: what they share is untouched.
        assert_eq!(&whole[..], stored);
        Ok(())
    }

    #[test]
    fn round_trips_with_any_chunking() {
        let dek = Dek::generate();
        let seg = 1024;
        for len in [0usize, 1, 1023, 1024, 1025, 4096, 5000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            for chunk in [1, 7, 1024, 1056, 9999] {
                let stored = seal(&dek, 0, seg, &data, chunk);
                assert_eq!(
                    stored.len() as u64,
                    super::super::size::stored_len(len as u64, seg)
                );
                assert_eq!(
                    open(&dek, seg, &stored, Expect::single(0, true), chunk).unwrap(),
                    data
                );
            }
        }
    }

    #[test]
    fn every_flipped_bit_region_is_detected() {
        let dek = Dek::generate();
        let data = vec![42u8; 3000];
        let stored = seal(&dek, 0, 1024, &data, 500);
        for at in [0, 5, 9, 16, 500, 1055, 1056, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 1;
            assert!(
                open(&dek, 1024, &bad, Expect::single(0, true), 64).is_err(),
                "flip at {at}"
            );
        }
        assert!(open(&Dek::generate(), 1024, &stored, Expect::single(0, true), 64).is_err());
    }

    #[test]
    fn truncation_reorder_and_duplication_are_detected() {
        let dek = Dek::generate();
        let seg = 1024usize;
        let full = seg + 32;
        let data = vec![1u8; 3 * seg + 10];
        let stored = seal(&dek, 0, seg as u32, &data, 4096);
        let e = Expect::single(0, true);
        // Drop the last segment: ends on a non-final segment.
        assert_eq!(
            open(&dek, 1024, &stored[..3 * full], e, 64),
            Err(OpenError::Truncated)
        );
        // Cut inside a segment.
        assert!(open(&dek, 1024, &stored[..3 * full + 5], e, 64).is_err());
        // Swap segments 0 and 1.
        let mut swapped = stored[full..2 * full].to_vec();
        swapped.extend_from_slice(&stored[..full]);
        swapped.extend_from_slice(&stored[2 * full..]);
        assert_eq!(
            open(&dek, 1024, &swapped, e, 64),
            Err(OpenError::OutOfOrder(0))
        );
        // Duplicate segment 0.
        let mut dup = stored[..full].to_vec();
        dup.extend_from_slice(&stored);
        assert_eq!(open(&dek, 1024, &dup, e, 64), Err(OpenError::OutOfOrder(1)));
        // A ranged read must start where the plan says.
        assert!(open(&dek, 1024, &stored[full..], Expect::single(1, true), 64).is_ok());
        assert_eq!(
            open(&dek, 1024, &stored[full..], Expect::single(2, true), 64),
            Err(OpenError::OutOfOrder(0))
        );
        // Trailing data after the final segment.
        let mut extra = stored.clone();
        extra.extend_from_slice(&stored[..full]);
        assert!(open(&dek, 1024, &extra, e, 64).is_err());
    }

    #[test]
    fn multipart_chain_rule() {
        let dek = Dek::generate();
        let seg = 1024u32;
        let p1 = seal(&dek, 1, seg, &[1u8; 2048], 100);
        let p3 = seal(&dek, 3, seg, &[3u8; 10], 100);
        let whole = [p1.clone(), p3.clone()].concat();
        let got = open(
            &dek,
            seg,
            &whole,
            Expect::multipart(true, true, Some(2)),
            333,
        )
        .unwrap();
        assert_eq!(got.len(), 2058);
        assert_eq!(
            open(
                &dek,
                seg,
                &whole,
                Expect::multipart(true, true, Some(3)),
                333
            ),
            Err(OpenError::PartCount {
                expected: 3,
                found: 2
            })
        );
        // Parts out of order.
        let wrong = [p3.clone(), p1.clone()].concat();
        assert!(open(&dek, seg, &wrong, Expect::multipart(true, true, None), 333).is_err());
        // A single-PUT stream is not a multipart object and vice versa.
        let single = seal(&dek, 0, seg, &[0u8; 10], 100);
        assert!(open(&dek, seg, &single, Expect::multipart(true, true, None), 64).is_err());
        assert!(open(&dek, seg, &p1, Expect::single(0, true), 64).is_err());
    }

    /// The segments one chunk completes come out as one plaintext frame (hyper then writes
    /// it with one `writev`), equal to what was sealed, from owned and shared chunks alike;
    /// a tampered segment anywhere in a chunk releases nothing of that chunk.
    #[test]
    fn a_chunk_opens_into_one_frame_and_a_bad_segment_releases_none_of_it() {
        let dek = Dek::generate();
        let seg = 1000usize;
        let full = seg + SEGMENT_OVERHEAD as usize;
        let data: Vec<u8> = (0..7 * seg + 123).map(|i| (i * 31 % 251) as u8).collect();
        let stored = seal(&dek, 0, seg as u32, &data, 4096);
        for shared in [false, true] {
            let chunk = Bytes::copy_from_slice(&stored[..5 * full + 7]);
            let keep = shared.then(|| chunk.clone());
            let mut o = StreamOpener::new(&dek, seg as u32, Expect::single(0, true));
            let mut out = Vec::new();
            o.push(chunk, &mut out).unwrap();
            assert_eq!(out.len(), 1, "shared={shared}");
            assert_eq!(&out[0][..], &data[..5 * seg], "shared={shared}");
            drop(keep);
            o.push(Bytes::copy_from_slice(&stored[5 * full + 7..]), &mut out)
                .unwrap();
            o.finish(&mut out).unwrap();
            assert_eq!(out.concat(), data, "shared={shared}");
        }
        for bad in [0, 2, 4] {
            let mut t = stored.clone();
            t[bad * full + HEADER_LEN + 5] ^= 1;
            let mut o = StreamOpener::new(&dek, seg as u32, Expect::single(0, true));
            let mut out = Vec::new();
            let r = o.push(Bytes::copy_from_slice(&t[..5 * full]), &mut out);
            assert_eq!(r, Err(OpenError::Authentication(bad as u64)));
            assert!(out.is_empty(), "segment {bad}: plaintext released");
        }
    }

    /// With the segment count known, the segment that ends a full read is refused before
    /// its plaintext is released when it lacks the final flag (old code released it and
    /// noticed only in `finish`).
    #[test]
    fn known_count_refuses_a_non_final_last_segment_before_release() {
        let dek = Dek::generate();
        let seg = 1024usize;
        let full = seg + 32;
        let stored = seal(&dek, 0, seg as u32, &vec![5u8; 4 * seg], 4096);
        let cut = &stored[..2 * full];
        let mut o = StreamOpener::new(&dek, seg as u32, Expect::single(0, true)).expect_segments(2);
        let mut out = Vec::new();
        assert_eq!(
            o.push(Bytes::copy_from_slice(cut), &mut out),
            Err(OpenError::Truncated)
        );
        // Nothing of a chunk is released unless all its segments open, so here nothing is;
        // what matters is that the second segment's plaintext never is.
        assert!(
            out.concat().len() <= seg,
            "the non-final last segment was released"
        );
        // A final segment where the read is not at its end (range planned on a longer size).
        let short = seal(&dek, 0, seg as u32, &vec![5u8; 2 * seg], 4096);
        let mut o =
            StreamOpener::new(&dek, seg as u32, Expect::single(0, false)).expect_segments(2);
        let mut out = Vec::new();
        assert!(o.push(Bytes::copy_from_slice(&short), &mut out).is_err());
        // Extra segments after the counted ones.
        let mut o = StreamOpener::new(&dek, seg as u32, Expect::single(0, true)).expect_segments(3);
        let mut out = Vec::new();
        let r = o.push(Bytes::copy_from_slice(&stored), &mut out);
        assert!(r.is_err());
        // The right count reads the whole object.
        let mut o = StreamOpener::new(&dek, seg as u32, Expect::single(0, true)).expect_segments(4);
        let mut out = Vec::new();
        o.push(Bytes::copy_from_slice(&stored), &mut out).unwrap();
        o.finish(&mut out).unwrap();
        assert_eq!(out.concat().len(), 4 * seg);
    }

    fn seal_part(dek: &Dek, part: u32, seg: u32, data: &[u8]) -> Vec<u8> {
        let mut s = StreamSealer::committed_part(dek, part, seg);
        let mut out = Vec::new();
        s.push(Bytes::copy_from_slice(data), &mut out);
        s.finish(&mut out);
        out.concat()
    }

    fn open_spans(
        dek: &Dek,
        seg: u32,
        stored: &[u8],
        spans: Vec<Span>,
    ) -> Result<Vec<u8>, OpenError> {
        let mut o = StreamOpener::with_spans(dek, seg, spans);
        let mut out = Vec::new();
        push_mixed(&mut o, stored, 777, &mut out)?;
        o.finish(&mut out)?;
        Ok(out.concat())
    }

    /// Committed layouts: unaligned parts read back exactly; a dropped, reordered or
    /// duplicated part, a cut anywhere, a ranged read spliced from another position, or
    /// metadata downgraded to an uncommitted object are all refused.
    #[test]
    fn committed_layout_binds_parts_and_positions() {
        use super::super::layout::Layout;
        let dek = Dek::generate();
        let seg = 1024u32;
        let sizes = [(1u32, 5000u64), (2, 5000), (3, 5000), (4, 77)];
        let data: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&(p, n)| (0..n).map(|i| (i as u8).wrapping_mul(p as u8)).collect())
            .collect();
        let parts: Vec<Vec<u8>> = sizes
            .iter()
            .zip(&data)
            .map(|(&(p, _), d)| seal_part(&dek, p, seg, d))
            .collect();
        let layout = Layout::from_parts(&sizes).unwrap();
        let whole = parts.concat();
        assert_eq!(whole.len() as u64, layout.stored_len(seg));
        let full = layout.full_spans(seg);
        assert_eq!(
            open_spans(&dek, seg, &whole, full.clone()).unwrap(),
            data.concat()
        );
        // Drop the last part, or the third.
        let n = whole.len() - parts[3].len();
        assert!(open_spans(&dek, seg, &whole[..n], full.clone()).is_err());
        let no3 = [&parts[0][..], &parts[1], &parts[3]].concat();
        assert!(open_spans(&dek, seg, &no3, full.clone()).is_err());
        // Swap parts 2 and 3 (same length), duplicate part 1 over part 2.
        let swapped = [&parts[0][..], &parts[2], &parts[1], &parts[3]].concat();
        assert!(open_spans(&dek, seg, &swapped, full.clone()).is_err());
        let dup = [&parts[0][..], &parts[0], &parts[2], &parts[3]].concat();
        assert!(open_spans(&dek, seg, &dup, full.clone()).is_err());
        // Every cut at a segment boundary or inside one.
        for cut in (0..whole.len()).step_by(97) {
            assert!(
                open_spans(&dek, seg, &whole[..cut], full.clone()).is_err(),
                "cut {cut}"
            );
        }
        // Ranges: right bytes from the right place; the same stored bytes planned for
        // another position are refused.
        let plain = data.concat();
        for (a, b) in [
            (0u64, 0u64),
            (1023, 1024),
            (4999, 5001),
            (6000, 15076),
            (15000, 15076),
        ] {
            let plan = layout.plan(a, b, seg).unwrap();
            let stored = &whole[plan.stored_first as usize..=plan.stored_last as usize];
            let got = open_spans(&dek, seg, stored, plan.spans.clone()).unwrap();
            let got = &got[plan.skip as usize..][..plan.deliver as usize];
            assert_eq!(got, &plain[a as usize..=b as usize]);
        }
        let plan = layout.plan(1024, 2047, seg).unwrap();
        let other = layout.plan(5000, 6023, seg).unwrap();
        let elsewhere = &whole[other.stored_first as usize..=other.stored_last as usize];
        assert!(open_spans(&dek, seg, elsewhere, plan.spans).is_err());
        // Read as an older, uncommitted multipart object: other stream keys, nothing opens.
        assert!(open(&dek, seg, &whole, Expect::multipart(true, true, None), 500).is_err());
    }
}
