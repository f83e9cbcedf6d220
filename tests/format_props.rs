//! Property tests of the pure format: any data, any chunking on either side, any range, any
//! single-byte tamper or truncation. The unit tests in src/format pin the edge cases; these
//! search the space around them.

use bytes::Bytes;
use proptest::prelude::*;
use s3seal::format::size::{ByteRange, RangePlan, plain_len, stored_len};
use s3seal::format::{Dek, Expect, OpenError, StreamOpener, StreamSealer};

/// Splits `data` at the given cut points (taken modulo its length), so chunk sizes vary
/// within one stream, including 1-byte and empty chunks. Every other chunk is a slice of one
/// shared buffer (the opener must copy it) and the rest are owned (opened in place).
fn chunks(data: &[u8], cuts: &[usize]) -> Vec<Bytes> {
    let mut pts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    pts.push(0);
    pts.push(data.len());
    pts.sort_unstable();
    let whole = Bytes::copy_from_slice(data);
    pts.windows(2)
        .enumerate()
        .map(|(i, w)| {
            if i % 2 == 1 {
                whole.slice(w[0]..w[1])
            } else {
                Bytes::copy_from_slice(&data[w[0]..w[1]])
            }
        })
        .collect()
}

fn seal(dek: &Dek, part: u32, seg: u32, data: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut s = StreamSealer::with_random_salt(dek, part, seg);
    let mut out = Vec::new();
    for c in chunks(data, cuts) {
        s.push(c, &mut out);
    }
    s.finish(&mut out);
    out.concat()
}

fn open(
    dek: &Dek,
    seg: u32,
    stored: &[u8],
    e: Expect,
    cuts: &[usize],
) -> Result<Vec<u8>, OpenError> {
    let mut o = StreamOpener::new(dek, seg, e);
    let mut out = Vec::new();
    for c in chunks(stored, cuts) {
        o.push(c, &mut out)?;
    }
    o.finish(&mut out)?;
    Ok(out.concat())
}

fn segment_size() -> impl Strategy<Value = u32> {
    prop_oneof![Just(1024u32), Just(1500u32), Just(4096u32)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_chunking_round_trips_with_exact_size(
        len in 0usize..12_000, seg in segment_size(),
        wcuts in proptest::collection::vec(any::<usize>(), 0..40),
        rcuts in proptest::collection::vec(any::<usize>(), 0..40),
    ) {
        let dek = Dek::generate();
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let stored = seal(&dek, 0, seg, &data, &wcuts);
        prop_assert_eq!(stored.len() as u64, stored_len(len as u64, seg));
        prop_assert_eq!(plain_len(stored.len() as u64, seg), Some(len as u64));
        prop_assert_eq!(open(&dek, seg, &stored, Expect::single(0, true), &rcuts).unwrap(), data);
    }

    #[test]
    fn any_range_reads_only_covering_segments(
        len in 1usize..12_000, seg in segment_size(), a in any::<u64>(), b in any::<u64>(),
        kind in 0u8..3,
    ) {
        let dek = Dek::generate();
        let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let stored = seal(&dek, 0, seg, &data, &[]);
        let n = len as u64;
        let range = match kind {
            0 => { let a = a % n; ByteRange::FromTo(a, a + b % (n + 10)) }
            1 => ByteRange::From(a % n),
            _ => ByteRange::Suffix(1 + b % (n + 10)),
        };
        let p = RangePlan::new(n, seg, range).unwrap();
        let piece = &stored[p.stored_first as usize..=p.stored_last as usize];
        let reaches_end = p.stored_last + 1 == stored.len() as u64;
        let plain = open(&dek, seg, piece, Expect::single(p.first_segment, reaches_end), &[7]).unwrap();
        let got = &plain[p.skip as usize..(p.skip + p.deliver) as usize];
        prop_assert_eq!(got, &data[p.plain_first as usize..=p.plain_last as usize]);
        // Never more than one segment of slack on either side.
        prop_assert!(p.stored_last - p.stored_first < p.deliver + 2 * (u64::from(seg) + 32));
    }

    #[test]
    fn any_flipped_byte_or_truncation_is_refused(
        len in 0usize..6_000, seg in segment_size(), at in any::<usize>(), bit in 0u8..8,
        cut in any::<usize>(),
    ) {
        let dek = Dek::generate();
        let data = vec![0x5a; len];
        let stored = seal(&dek, 0, seg, &data, &[]);
        let mut bad = stored.clone();
        let i = at % bad.len();
        bad[i] ^= 1 << bit;
        prop_assert!(open(&dek, seg, &bad, Expect::single(0, true), &[]).is_err());
        let short = &stored[..cut % stored.len()];
        prop_assert!(open(&dek, seg, short, Expect::single(0, true), &[]).is_err());
        // And the wrong DEK never opens anything.
        prop_assert!(open(&Dek::generate(), seg, &stored, Expect::single(0, true), &[]).is_err());
    }

    #[test]
    fn multipart_parts_in_order_open_and_any_swap_is_refused(
        sizes in proptest::collection::vec(1usize..4, 2..5), last in 0usize..3000,
    ) {
        let seg = 1024u32;
        let dek = Dek::generate();
        let mut parts = Vec::new();
        let mut data = Vec::new();
        for (i, k) in sizes.iter().enumerate() {
            let len = if i + 1 == sizes.len() { last } else { k * seg as usize };
            let p: Vec<u8> = (0..len).map(|j| (j + i) as u8).collect();
            parts.push(seal(&dek, i as u32 + 1, seg, &p, &[]));
            data.extend_from_slice(&p);
        }
        let whole = parts.concat();
        let n = parts.len() as u32;
        prop_assert_eq!(plain_len(whole.len() as u64, seg), Some(data.len() as u64));
        prop_assert_eq!(open(&dek, seg, &whole, Expect::multipart(true, true, Some(n)), &[3]).unwrap(), data);
        let mut swapped = parts.clone();
        swapped.swap(0, 1);
        prop_assert!(open(&dek, seg, &swapped.concat(), Expect::multipart(true, true, Some(n)), &[]).is_err());
        let dropped: Vec<u8> = parts[1..].concat();
        prop_assert!(open(&dek, seg, &dropped, Expect::multipart(true, true, Some(n)), &[]).is_err());
    }
}
