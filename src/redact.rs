//! Secrets never reach the log output, whatever the log filter lets through: every formatted
//! event passes [`Redacting`], which blanks the values of secret-bearing fields and headers
//! (Authorization, SigV4/SigV2 signatures and credentials, SSE-C customer keys, session
//! tokens, cookies, secrets and passwords) before it is written. Dependencies (s3s, the AWS
//! SDK) log whole requests at debug and trace; this is the one place that sees all of it.

use memchr::memmem::Finder;
use sha2::Digest;
use std::borrow::Cow;
use std::io::Write;
use std::sync::LazyLock;
use tracing_subscriber::fmt::MakeWriter;

/// Field or header names (matched case-insensitively anywhere in a name) whose values are
/// secret. `customer-key` also covers its `-md5` (a checksum that identifies the key).
const SECRET_NAMES: &[&str] = &[
    "authorization",
    "signature",
    "credential",
    "customer-key",
    "customer_key",
    "security-token",
    "security_token",
    "session_token",
    "secret",
    "password",
    "cookie",
    "csrf",
];

const REDACTED: &str = "[redacted]";

/// One searcher per name, built once: every log line (an access-log line per request) is
/// searched for all of them.
static FINDERS: LazyLock<Vec<Finder<'static>>> = LazyLock::new(|| {
    SECRET_NAMES
        .iter()
        .map(|n| Finder::new(n.as_bytes()))
        .collect()
});

/// A short, stable stand-in for a string a user typed as an access key, which may be a secret
/// pasted into the wrong field: equal inputs give equal hints, the input is not recoverable.
pub fn key_hint(s: &str) -> String {
    let d = sha2::Sha256::digest(s.as_bytes());
    format!("sha256:{}", hex::encode(&d[..4]))
}

/// `line` with the value after each secret name (`name=value`, `name: value`, `"name":
/// "value"`, quoted or escaped-quoted) replaced by `[redacted]`.
pub fn redact(line: &str) -> Cow<'_, str> {
    let lower = line.to_ascii_lowercase();
    let b = line.as_bytes();
    // Byte ranges to blank, found first, then applied in order.
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for name in FINDERS.iter() {
        let mut from = 0;
        while let Some(at) = name.find(&lower.as_bytes()[from..]) {
            let start = from + at;
            from = start + name.needle().len();
            if let Some(range) = value_after(b, from) {
                from = range.1.max(from);
                cuts.push(range);
            }
        }
    }
    if cuts.is_empty() {
        return Cow::Borrowed(line);
    }
    cuts.sort_unstable();
    let mut out = String::with_capacity(line.len());
    let mut pos = 0;
    for (s, e) in cuts {
        if e <= pos {
            continue;
        }
        let s = s.max(pos);
        out.push_str(&line[pos..s]);
        out.push_str(REDACTED);
        pos = e;
    }
    out.push_str(&line[pos..]);
    Cow::Owned(out)
}

/// Where the value of a name ending at `i` lies, if a `=` or `:` follows the rest of the
/// name (quotes, escapes, spaces and terminal colour codes allowed around it).
fn value_after(b: &[u8], mut i: usize) -> Option<(usize, usize)> {
    // The rest of the name: `x-amz-signature`, `secret_key`, `customer-key-md5`.
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b'_') {
        i += 1;
    }
    i = skip_noise(b, i, true);
    if i >= b.len() || (b[i] != b'=' && b[i] != b':') {
        return None;
    }
    i += 1;
    i = skip_noise(b, i, false);
    // The value, quoted (`"v"`, or `\"v\"` inside another quoted string) or bare.
    if b[i..].starts_with(b"\\\"") {
        let start = i + 2;
        let end = find(b, start, b"\\\"").unwrap_or(b.len());
        return Some((start, end)).filter(|(s, e)| e > s);
    }
    if b.get(i) == Some(&b'"') {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && b[j] != b'"' {
            j += if b[j] == b'\\' { 2 } else { 1 };
        }
        let end = j.min(b.len());
        return Some((start, end)).filter(|(s, e)| e > s);
    }
    let start = i;
    let mut j = i;
    while j < b.len() && !b" \t\r\n,&;})]\"\\<'".contains(&b[j]) {
        j += 1;
    }
    Some((start, j)).filter(|(s, e)| e > s)
}

/// Skips spaces, terminal colour codes (`ESC[...m`) and, before the separator, the quotes
/// closing a name.
fn skip_noise(b: &[u8], mut i: usize, quotes: bool) -> usize {
    loop {
        let quote = quotes && (b.get(i) == Some(&b'"') || b.get(i) == Some(&b'\\'));
        if b.get(i) == Some(&b' ') || quote {
            i += 1;
        } else if b[i..].starts_with(b"\x1b[") {
            match b[i..].iter().position(|&c| c == b'm') {
                Some(p) => i += p + 1,
                None => return b.len(),
            }
        } else {
            return i;
        }
    }
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// Wraps a log writer: each event is collected whole, redacted, then written.
pub struct Redacting<M>(pub M);

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactWriter {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// One event's output, written redacted when dropped (the formatter drops it per event).
pub struct RedactWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Write for RedactWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactWriter<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let _ = self.inner.write_all(redact(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_maps_and_fields_lose_their_secrets() {
        let cases = [
            (
                r#"headers: {"host": "h", "authorization": "AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=host, Signature=abc123"}"#,
                &["AK/x", "abc123"][..],
            ),
            (
                r#"{"fields":{"headers":"{\"x-amz-server-side-encryption-customer-key\": \"S0mEkEy==\", \"x-amz-server-side-encryption-customer-key-md5\": \"Md5Md5==\"}"}}"#,
                &["S0mEkEy==", "Md5Md5=="][..],
            ),
            (
                "uri=/b/k?X-Amz-Algorithm=A&X-Amz-Credential=AK%2F2025&X-Amz-Signature=deadbeef&X-Amz-Security-Token=tok",
                &["AK%2F2025", "deadbeef", "tok"][..],
            ),
            (
                "canonical request: GET\\nx-amz-server-side-encryption-customer-key:S3cr3t/+=\\nhost:h",
                &["S3cr3t/+="][..],
            ),
            (
                "\x1b[3msecret_key\x1b[0m\x1b[2m=\x1b[0m\"hunter2\" cookie: s3seal_session=zzz",
                &["hunter2", "zzz"][..],
            ),
            ("GET /b?Signature=sig2&AWSAccessKeyId=AK", &["sig2"][..]),
        ];
        for (line, secrets) in cases {
            let out = redact(line);
            for s in secrets {
                assert!(!out.contains(s), "{s} survives in {out}");
            }
            assert!(out.contains(REDACTED), "{out}");
        }
    }

    #[test]
    fn ordinary_lines_are_unchanged() {
        for line in [
            "request operation=PutObject user=alice bucket=b key=k status=200",
            "<Code>SignatureDoesNotMatch</Code>",
            "SignedHeaders=host;x-amz-server-side-encryption-customer-key;x-amz-date",
        ] {
            assert_eq!(redact(line), line);
        }
    }

    #[test]
    fn hints_do_not_reveal_the_input() {
        let h = key_hint("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
        assert!(h.starts_with("sha256:") && h.len() == 15 && !h.contains("wJal"));
        assert_eq!(h, key_hint("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
    }
}
