//! A ListObjectsV2 page from the store, rewritten in place instead of parsed and re-serialised.
//!
//! The gateway changes three things in a listing: each sealed entry's `<Size>` (plaintext),
//! its `<ETag>` (the client-visible form) and its checksum elements (dropped: they describe
//! ciphertext). Parsing 1,000 entries into s3s's types and writing them out again cost more CPU
//! than the store spent building the page (docs/PERFORMANCE.md, round 6). [`scan`] finds just
//! those spans; [`Listing::splice`] copies everything else byte for byte.
//!
//! The scan is strict: a document it does not fully understand (an element it does not know,
//! a comment, CDATA, a processing instruction, attributes anywhere but the root) is refused,
//! and the caller parses it the old way. An entry it cannot see can then never go out with a
//! ciphertext size. Pure: no I/O.

use bytes::Bytes;
use s3s::dto::ETag;
use std::ops::Range;

/// One `<Contents>` entry: where its parts are, and what the gateway writes. Keys and ETags
/// are decoded only when asked for ([`Listing::key`], [`Listing::etag`]): most entries never
/// need them, and a page holds 1,000.
#[derive(Clone)]
pub struct Entry {
    key: Range<usize>,
    /// As listed (S3 always lists a size).
    pub stored: i64,
    /// The ETag's value, inside its quotes (still XML-escaped).
    etag: Range<usize>,
    /// Whether the value has a part count (`-N`), and N.
    pub parts: Option<u32>,
    /// What [`Listing::splice`] writes: a new size, `-1` after the ETag's value, and no
    /// checksum elements.
    pub size_out: Option<i64>,
    pub etag_part_count: bool,
    pub drop_checksums: bool,
}

#[derive(Clone, Copy)]
enum Slot {
    Size,
    ETagEnd,
    Checksum,
}

/// A place [`Listing::splice`] may write, in document order.
#[derive(Clone)]
struct Edit {
    entry: u32,
    at: Range<usize>,
    slot: Slot,
}

/// A scanned page.
#[derive(Clone)]
pub struct Listing {
    xml: Bytes,
    url: bool,
    pub entries: Vec<Entry>,
    edits: Vec<Edit>,
}

/// Put in a ListObjectsV2 request's extensions by a caller that takes a [`Listing`] (in the
/// answer's extensions, output empty) instead of a parsed page.
#[derive(Clone, Copy)]
pub struct WantRaw;

/// The finished page, in the answer's extensions: the HTTP layer sends it as the body in place
/// of what s3s serialised from the (empty) output.
#[derive(Clone)]
pub struct Spliced(pub Bytes);

/// Elements a ListObjectsV2 page holds at the top level.
const TOP: &[&[u8]] = &[
    b"Name",
    b"Prefix",
    b"Delimiter",
    b"MaxKeys",
    b"KeyCount",
    b"IsTruncated",
    b"ContinuationToken",
    b"NextContinuationToken",
    b"StartAfter",
    b"EncodingType",
];
/// Elements of `<Contents>` with text only.
const ENTRY: &[&[u8]] = &[
    b"Key",
    b"LastModified",
    b"ETag",
    b"Size",
    b"StorageClass",
    b"ChecksumAlgorithm",
    b"ChecksumType",
];
/// Elements of `<Contents>` that hold elements with text only.
const NESTED: &[(&[u8], &[&[u8]])] = &[
    (b"Owner", &[b"ID", b"DisplayName"]),
    (
        b"RestoreStatus",
        &[b"IsRestoreInProgress", b"RestoreExpiryDate"],
    ),
];

enum Tag<'a> {
    Open(&'a [u8]),
    Close(&'a [u8]),
    Empty(&'a [u8]),
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn skip_ws(&mut self) {
        while self.b.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    /// The tag at the cursor (after whitespace). `<!`, `<?` and attributes are refused.
    fn tag(&mut self) -> Option<Tag<'a>> {
        self.skip_ws();
        let b = self.b;
        let mut i = self.at;
        if *b.get(i)? != b'<' {
            return None;
        }
        i += 1;
        let close = b.get(i) == Some(&b'/');
        i += usize::from(close);
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            i += 1;
        }
        let name = &b[start..i];
        if name.is_empty() {
            return None;
        }
        let tag = match (b.get(i)?, close) {
            (b'>', true) => Tag::Close(name),
            (b'>', false) => Tag::Open(name),
            (b'/', false) if b.get(i + 1) == Some(&b'>') => {
                i += 1;
                Tag::Empty(name)
            }
            _ => return None,
        };
        self.at = i + 1;
        Some(tag)
    }

    /// Text up to the next `<`, which must close `name`.
    fn text_then_close(&mut self, name: &[u8]) -> Option<Range<usize>> {
        let start = self.at;
        let len = memchr::memchr(b'<', self.b.get(start..)?)?;
        let end = start + len;
        let close = self.b[end..].strip_prefix(b"</")?.strip_prefix(name)?;
        if close.first() != Some(&b'>') {
            return None;
        }
        self.at = end + 2 + name.len() + 1;
        Some(start..end)
    }

    /// The rest of an element whose children have text only, for names in `allowed`.
    fn flat_children(&mut self, name: &[u8], allowed: &[&[u8]]) -> Option<()> {
        loop {
            match self.tag()? {
                Tag::Close(n) if n == name => return Some(()),
                Tag::Empty(n) if allowed.contains(&n) => {}
                Tag::Open(n) if allowed.contains(&n) => {
                    self.text_then_close(n)?;
                }
                _ => return None,
            }
        }
    }
}

/// The page's entries and where the gateway writes, or None when the page is not one this
/// module fully understands.
pub fn scan(xml: Bytes) -> Option<Listing> {
    let mut page = Listing {
        xml: xml.clone(),
        url: false,
        entries: Vec::new(),
        edits: Vec::new(),
    };
    let b = &xml[..];
    let mut c = Cursor { b, at: 0 };
    c.skip_ws();
    if b[c.at..].starts_with(b"<?xml") {
        c.at += memchr::memmem::find(&b[c.at..], b"?>")? + 2;
    }
    c.skip_ws();
    // The root may carry attributes (xmlns); nothing else may.
    let root = b.get(c.at..)?.strip_prefix(b"<ListBucketResult")?;
    if !matches!(root.first(), Some(b'>' | b' ' | b'\t' | b'\r' | b'\n')) {
        return None;
    }
    let attrs_end = memchr::memchr(b'>', root)?;
    let attrs = &root[..attrs_end];
    if attrs.ends_with(b"/") || attrs.contains(&b'<') {
        return None;
    }
    c.at += b"<ListBucketResult".len() + attrs_end + 1;

    loop {
        match c.tag()? {
            Tag::Close(b"ListBucketResult") => break,
            Tag::Open(b"Contents") => page.entry(&mut c)?,
            Tag::Open(b"CommonPrefixes") => c.flat_children(b"CommonPrefixes", &[b"Prefix"])?,
            Tag::Open(n) if TOP.contains(&n) => {
                let t = c.text_then_close(n)?;
                if n == b"EncodingType" {
                    page.url = &b[t] == b"url";
                }
            }
            Tag::Empty(n) if TOP.contains(&n) || n == b"CommonPrefixes" => {}
            _ => return None,
        }
    }
    c.skip_ws();
    (c.at == b.len()).then_some(page)
}

impl Listing {
    /// Reads one `<Contents>` (its opening tag read) into an entry and its edits.
    fn entry(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        let n = u32::try_from(self.entries.len()).ok()?;
        let (mut key, mut size, mut etag) = (None, None, None);
        loop {
            let tag_at = c.at;
            match c.tag()? {
                Tag::Close(b"Contents") => break,
                Tag::Open(name) if ENTRY.contains(&name) => {
                    let t = c.text_then_close(name)?;
                    let slot = match name {
                        b"Key" => &mut key,
                        b"Size" => {
                            self.edit(n, t.clone(), Slot::Size);
                            &mut size
                        }
                        b"ETag" => {
                            let v = quoted(c.b, t.clone())?;
                            self.edit(n, v.end..v.end, Slot::ETagEnd);
                            &mut etag
                        }
                        b"ChecksumAlgorithm" | b"ChecksumType" => {
                            self.edit(n, tag_at..c.at, Slot::Checksum);
                            continue;
                        }
                        _ => continue,
                    };
                    if slot.replace(t).is_some() {
                        return None;
                    }
                }
                Tag::Empty(b"ChecksumAlgorithm" | b"ChecksumType") => {
                    self.edit(n, tag_at..c.at, Slot::Checksum);
                }
                Tag::Empty(name) if ENTRY.contains(&name) => return None,
                Tag::Open(name) => {
                    let (name, allowed) = NESTED.iter().find(|(nested, _)| *nested == name)?;
                    c.flat_children(name, allowed)?;
                }
                Tag::Empty(name) if NESTED.iter().any(|(nested, _)| *nested == name) => {}
                _ => return None,
            }
        }
        // Every entry has its key, size and ETag (a store listing no ETags, as s3s-fs, is
        // refused: the parsed path fills them in).
        let b = c.b;
        let key = key?;
        let stored: i64 = std::str::from_utf8(&b[size?]).ok()?.parse().ok()?;
        let etag = quoted(b, etag?)?;
        let value = &b[etag.clone()];
        let parts = match memchr::memrchr(b'-', value) {
            Some(i) => Some(std::str::from_utf8(&value[i + 1..]).ok()?.parse().ok()?),
            None => None,
        };
        self.entries.push(Entry {
            key,
            stored,
            etag,
            parts,
            size_out: None,
            etag_part_count: false,
            drop_checksums: false,
        });
        Some(())
    }

    fn edit(&mut self, entry: u32, at: Range<usize>, slot: Slot) {
        self.edits.push(Edit { entry, at, slot });
    }

    /// Entry `i`'s key: XML-unescaped, and percent-decoded when the page is `EncodingType=url`
    /// (S3's url form writes a space as `+` and a `+` as `%2B`; botocore decodes it so).
    pub fn key(&self, i: usize) -> Option<String> {
        let key = unescape(&self.xml[self.entries.get(i)?.key.clone()])?;
        if self.url {
            crate::store::percent_decode(&key.replace('+', " "))
        } else {
            Some(key)
        }
    }

    /// Entry `i`'s ETag as the store listed it.
    pub fn etag(&self, i: usize) -> Option<ETag> {
        let v = unescape(&self.xml[self.entries.get(i)?.etag.clone()])?;
        Some(ETag::Strong(v))
    }

    /// The page with every entry's new size, ETag and dropped checksums written in. The edits
    /// were recorded in document order, so this is one pass.
    pub fn splice(&self) -> Bytes {
        use std::io::Write;
        let mut out = Vec::with_capacity(self.xml.len() + self.entries.len() * 2);
        let mut at = 0;
        for Edit { entry, at: r, slot } in &self.edits {
            let e = &self.entries[*entry as usize];
            let skip = match slot {
                Slot::Size => e.size_out.is_none(),
                Slot::ETagEnd => !e.etag_part_count,
                Slot::Checksum => !e.drop_checksums,
            };
            if skip {
                continue;
            }
            out.extend_from_slice(&self.xml[at..r.start]);
            match slot {
                Slot::Size => {
                    let _ = write!(out, "{}", e.size_out.unwrap_or_default());
                }
                Slot::ETagEnd => out.extend_from_slice(b"-1"),
                Slot::Checksum => {}
            }
            at = r.end;
        }
        if at == 0 {
            return self.xml.clone();
        }
        out.extend_from_slice(&self.xml[at..]);
        Bytes::from(out)
    }
}

/// The value of an ETag's text: inside `"..."` or `&quot;...&quot;` (whitespace around).
fn quoted(b: &[u8], r: Range<usize>) -> Option<Range<usize>> {
    let t = &b[r.clone()];
    let lead = t.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let trail = t
        .iter()
        .rev()
        .take_while(|c| c.is_ascii_whitespace())
        .count();
    let t = t.get(lead..t.len().checked_sub(trail)?)?;
    for q in [&b"\""[..], b"&quot;"] {
        if t.len() >= 2 * q.len() && t.starts_with(q) && t.ends_with(q) {
            let start = r.start + lead + q.len();
            return Some(start..r.start + lead + t.len() - q.len());
        }
    }
    None
}

/// XML text with its five entities and character references resolved.
fn unescape(b: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(b).ok()?;
    if !s.contains('&') {
        return Some(s.to_owned());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let semi = rest[i..].find(';')? + i;
        let ent = &rest[i + 1..semi];
        out.push(match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = match ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    Some(h) => u32::from_str_radix(h, 16).ok()?,
                    None => ent.strip_prefix('#')?.parse().ok()?,
                };
                char::from_u32(n)?
            }
        });
        rest = &rest[semi + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix></Prefix><KeyCount>2</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b &lt;c&gt;&#x20AC;</Key><LastModified>2026-12-02T15:00:00.000Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumType>FULL_OBJECT</ChecksumType><Size>1052</Size><Owner><ID>o</ID><DisplayName>d</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents><Contents><Key>x/y</Key><ETag>\"e-3\"</ETag><Size>7</Size><StorageClass>STANDARD</StorageClass></Contents><CommonPrefixes><Prefix>p/</Prefix></CommonPrefixes></ListBucketResult>";

    fn page() -> Listing {
        scan(Bytes::from_static(PAGE.as_bytes())).expect("scans")
    }

    #[test]
    fn entries_are_read_with_keys_unescaped() {
        let l = page();
        assert_eq!(l.entries.len(), 2);
        assert_eq!(l.key(0).unwrap(), "a&b <c>€");
        assert_eq!(l.entries[0].stored, 1052);
        assert_eq!(
            l.etag(0).unwrap().value(),
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(l.entries[0].parts, None);
        assert_eq!(l.key(1).unwrap(), "x/y");
        assert_eq!(l.etag(1).unwrap().value(), "e-3");
        assert_eq!(l.entries[1].parts, Some(3));
    }

    #[test]
    fn an_untouched_page_goes_out_byte_for_byte() {
        assert_eq!(&page().splice()[..], PAGE.as_bytes());
    }

    #[test]
    fn sizes_etags_and_checksums_are_rewritten_in_place() {
        let mut l = page();
        l.entries[0].size_out = Some(1000);
        l.entries[0].etag_part_count = true;
        l.entries[0].drop_checksums = true;
        l.entries[1].size_out = Some(5);
        let out = String::from_utf8(l.splice().to_vec()).unwrap();
        let want = PAGE
            .replace("<Size>1052</Size>", "<Size>1000</Size>")
            .replace(
                "&quot;0123456789abcdef0123456789abcdef&quot;",
                "&quot;0123456789abcdef0123456789abcdef-1&quot;",
            )
            .replace("<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>", "")
            .replace("<ChecksumType>FULL_OBJECT</ChecksumType>", "")
            .replace("<Size>7</Size>", "<Size>5</Size>");
        assert_eq!(out, want);
        // What the splice wrote is still a page this module reads.
        let again = scan(Bytes::from(out)).unwrap();
        assert_eq!(again.entries[0].stored, 1000);
        assert_eq!(again.entries[0].parts, Some(1));
        assert!(!again.edits.iter().any(|e| matches!(e.slot, Slot::Checksum)));
    }

    #[test]
    fn url_encoded_keys_are_decoded() {
        let page = PAGE
            .replace("<Prefix></Prefix>", "<EncodingType>url</EncodingType>")
            .replace("x/y", "a%2Bb%20c+d%2F%C3%A9");
        assert_eq!(
            scan(Bytes::from(page)).unwrap().key(1).unwrap(),
            "a+b c d/é"
        );
        let bad = PAGE
            .replace("<Prefix></Prefix>", "<EncodingType>url</EncodingType>")
            .replace("x/y", "x%ZZ");
        assert!(scan(Bytes::from(bad)).unwrap().key(1).is_none());
        let bad = PAGE.replace("<Key>x/y</Key>", "<Key>x&bogus;</Key>");
        assert!(scan(Bytes::from(bad)).unwrap().key(1).is_none());
    }

    /// Anything not fully understood is refused, so no entry can slip past unrewritten.
    #[test]
    fn documents_not_fully_understood_are_refused() {
        let variants = [
            PAGE.replace("<Key>x/y</Key>", "<Key><![CDATA[x/y]]></Key>"),
            PAGE.replace("<Contents><Key>x", "<!-- c --><Contents><Key>x"),
            PAGE.replace("<Contents><Key>x", "<s3:Contents><Key>x"),
            PAGE.replace("<Size>7</Size>", "<Size>7</Size><Future>1</Future>"),
            PAGE.replace("<Size>7</Size>", "<Size a=\"1\">7</Size>"),
            PAGE.replace("<Size>7</Size>", "<Size>7</Size><Size>8</Size>"),
            PAGE.replace("<Size>7</Size>", "<Size>seven</Size>"),
            PAGE.replace("<Size>7</Size>", "<Size/>"),
            PAGE.replace("<Key>x/y</Key>", ""),
            PAGE.replace("<ETag>\"e-3\"</ETag>", ""),
            PAGE.replace("<Name>b</Name>", "<Name>b</Name><Unknown>u</Unknown>"),
            PAGE.replace("</ListBucketResult>", "</ListBucketResult><x/>"),
            PAGE.replace("</ListBucketResult>", ""),
            PAGE.replace("ListBucketResult", "ListAllMyBucketsResult"),
            PAGE.replace("<Owner><ID>o</ID>", "<Owner><ID><Deep/></ID>"),
            PAGE.replace("<ETag>\"e-3\"</ETag>", "<ETag>e-3\"</ETag>"),
            PAGE.replace("<ETag>\"e-3\"</ETag>", "<ETag>\"e-x\"</ETag>"),
            PAGE.replace("<ETag>\"e-3\"</ETag>", "<ETag>W/\"e\"</ETag>"),
            PAGE.replace("<Size>7</Size>", ""),
            PAGE[..PAGE.len() / 2].to_owned(),
            "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code></Error>".to_owned(),
        ];
        for v in variants {
            assert!(scan(Bytes::from(v.clone())).is_none(), "accepted: {v}");
        }
    }

    #[test]
    fn empty_pages_and_empty_elements_scan() {
        let empty = "<ListBucketResult><Name>b</Name><Prefix/><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>";
        assert!(
            scan(Bytes::from_static(empty.as_bytes()))
                .unwrap()
                .entries
                .is_empty()
        );
    }

    /// Arbitrary bytes never panic the scanner.
    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let base = PAGE.as_bytes();
        for _ in 0..20_000 {
            let mut v = base.to_vec();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let at = (seed as usize) % v.len();
                match seed % 3 {
                    0 => v[at] = (seed >> 32) as u8,
                    1 => v.truncate(at),
                    _ => {
                        v.remove(at);
                    }
                }
                if v.is_empty() {
                    break;
                }
            }
            if let Some(l) = scan(Bytes::from(v)) {
                let _ = l.splice();
            }
        }
    }
}
