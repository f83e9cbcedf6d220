//! How text log lines write their fields: `name=value`, exactly as tracing-subscriber's
//! default does for ordinary values, but with every control character escaped.
//!
//! Why not the default: it writes `%value` (Display) and `?value` (Debug) fields as they are,
//! and escapes only ANSI codes in the message. A newline in such a value starts a forged line,
//! and some carry a client's input (`%key` when a stored object fails authentication). Here
//! every value is escaped; a line is always one line. Measured against the default on the
//! access line (docs/PERFORMANCE.md, round 8): no cost difference beyond the VM's noise.

use std::fmt::{self, Write as _};
use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

/// The field formatter for text logs (`fmt().fmt_fields(Fields)`).
#[derive(Debug, Default, Clone, Copy)]
pub struct Fields;

impl<'w> FormatFields<'w> for Fields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'w>, fields: R) -> fmt::Result {
        let mut v = Visitor {
            out: writer,
            first: true,
            scratch: String::new(),
            result: Ok(()),
        };
        fields.record(&mut v);
        v.result
    }
}

struct Visitor<'w> {
    out: Writer<'w>,
    first: bool,
    /// A Display or Debug value is rendered here first, then copied out escaped.
    scratch: String,
    result: fmt::Result,
}

impl Visitor<'_> {
    /// Writes the separator and `name=`; false for fields that are not written at all.
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        // tracing-log's metadata of `log` records, already shown as the line's target.
        if name.starts_with("log.") || self.result.is_err() {
            return false;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.out.write_char(' ');
        }
        if name != "message" {
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .result
                .and_then(|()| self.out.write_str(name))
                .and_then(|()| self.out.write_char('='));
        }
        true
    }

    /// Writes a value whose rendering holds no control characters (numbers, booleans).
    fn plain(&mut self, field: &Field, value: impl fmt::Display) {
        if self.name(field) {
            self.result = self.result.and_then(|()| write!(self.out, "{value}"));
        }
    }

    /// Renders `value` with `render` and writes it with control characters escaped.
    fn rendered(&mut self, field: &Field, render: impl FnOnce(&mut String) -> fmt::Result) {
        if !self.name(field) {
            return;
        }
        let mut s = std::mem::take(&mut self.scratch);
        s.clear();
        self.result = self
            .result
            .and_then(|()| render(&mut s))
            .and_then(|()| write_escaped(&mut self.out, &s));
        self.scratch = s;
    }
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.name(field) {
            return;
        }
        if field.name() == "message" {
            self.result = self
                .result
                .and_then(|()| write_escaped(&mut self.out, value));
            return;
        }
        // Quoted as Debug quotes it; Debug also escapes quotes, backslashes and control
        // characters, so only strings that need none take the short way.
        self.result = self.result.and_then(|()| {
            if value
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                self.out.write_char('"')?;
                self.out.write_str(value)?;
                self.out.write_char('"')
            } else {
                write!(self.out, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.plain(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.plain(field, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.plain(field, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.plain(field, format_args!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.rendered(field, |s| {
            write!(s, "{value}")?;
            let mut source = value.source();
            while let Some(e) = source {
                write!(s, ": {e}")?;
                source = e.source();
            }
            Ok(())
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.rendered(field, |s| write!(s, "{value:?}"));
    }
}

/// Writes `s`, escaping what could end the line, drive a terminal or reorder what a reader
/// sees: C0 controls (newline, carriage return, tab and ESC included), DEL, C1 controls, the
/// Unicode line and paragraph separators and the bidirectional overrides and isolates.
fn write_escaped(out: &mut Writer<'_>, s: &str) -> fmt::Result {
    // Printable ASCII needs nothing; anything else goes character by character.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return out.write_str(s);
    }
    for ch in s.chars() {
        match ch {
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c if (c as u32) < 0x20 || c == '\x7f' => write!(out, "\\x{:02x}", c as u32)?,
            c if escaped_unicode(c) => write!(out, "\\u{{{:x}}}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// C1 controls, line/paragraph separators, bidirectional overrides and isolates.
fn escaped_unicode(c: char) -> bool {
    matches!(c as u32, 0x80..=0x9f | 0x2028..=0x202e | 0x2066..=0x2069)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    /// The text the event `emit` produces, with our fields or tracing-subscriber's default.
    fn line(ours: bool, emit: impl Fn()) -> String {
        let buf = Buf::default();
        let b = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_writer(buf.clone());
        if ours {
            tracing::subscriber::with_default(b.fmt_fields(Fields).finish(), &emit);
        } else {
            tracing::subscriber::with_default(b.finish(), &emit);
        }
        String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
    }

    fn access(key: &'static str, peer: &'static str) -> impl Fn() {
        move || {
            let took = std::time::Duration::from_micros(2811);
            tracing::info!(
                target: "s3seal::access",
                request_id = %"e6fcbb46dec218bc",
                peer = %peer,
                method = %http::Method::HEAD,
                operation = "HeadObject",
                user = "gwak",
                bucket = "sss",
                key,
                status = 200u16,
                bytes_in = 0u64,
                bytes_out = 4096u64,
                signed = -3i64,
                tls = false,
                r#type = "x",
                duration_ms = took.as_secs_f64() * 1000.0,
                "request"
            );
        }
    }

    #[test]
    fn ordinary_lines_are_exactly_what_the_default_writes() {
        for key in [
            "small",
            "a+b",
            "x/y",
            "dir/file name.txt",
            "caf\u{e9}",
            "",
            "q\"uote",
        ] {
            let ours = line(true, access(key, "127.0.0.1:37922"));
            assert_eq!(
                ours,
                line(false, access(key, "127.0.0.1:37922")),
                "key {key:?}"
            );
            assert!(ours.contains(" type=\"x\" ") && ours.contains("duration_ms=2.811"));
        }
        let err = || {
            let e = std::io::Error::other("upstream closed");
            tracing::warn!(err = &e as &dyn std::error::Error, n = 3, "failed {}", 7);
        };
        assert_eq!(line(true, err), line(false, err));
    }

    #[test]
    fn hostile_values_cannot_forge_lines_or_drive_a_terminal() {
        let forged = "x\n2026-12-03T00:00:00Z  INFO s3seal::access: request user=\"admin\"";
        let cases: [(&'static str, &'static str); 4] = [
            (forged, forged),
            ("\x1b[31mred\x1b[0m", "\r\x07\x08\x0c\x7f"),
            ("\u{85}next\u{9b}csi", "\u{85}\u{9b}\t"),
            ("rtl\u{202e}txt", "a\u{0}b\u{2028}c\u{202e}d\u{2067}e"),
        ];
        for (key, peer) in cases {
            let out = line(true, access(key, peer));
            assert_eq!(out.matches('\n').count(), 1, "one line: {out:?}");
            assert!(out.ends_with('\n'), "{out:?}");
            let body = &out[..out.len() - 1];
            for c in body.chars() {
                let code = c as u32;
                assert!(
                    code >= 0x20
                        && code != 0x7f
                        && ![0x80..=0x9f, 0x2028..=0x202e, 0x2066..=0x2069]
                            .iter()
                            .any(|r| r.contains(&code)),
                    "control U+{code:04X} written raw in {out:?}"
                );
            }
        }
        // The message is escaped too.
        let msg = || tracing::info!("refused {}", "k\ney\x1b");
        assert!(line(true, msg).ends_with("refused k\\ney\\x1b\n"));
    }
}
