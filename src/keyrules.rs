//! Which object keys the store behind the gateway can hold faithfully.
//!
//! S3 keys are opaque byte strings: `a//b`, `./x` and `..` are ordinary keys on S3. A store
//! that maps keys to file paths (s3s-fs, the old embedded store) resolves `.`/`..`, so on it
//! such keys name *other* objects, other buckets or its own metadata files (path traversal).
//! The restriction is therefore a property of the upstream. Every upstream s3seal has now
//! keeps keys literally — remote S3 and the embedded store (`src/store`, where nothing in a
//! key ever becomes a path) — so all get [`KeyRules::Any`]; [`KeyRules::FilePaths`] stays for
//! a path-mapped store. Keys are checked before the access policy and before the store, so
//! the rule check and the store always see the same, literal key.

use crate::config::UpstreamConfig;
use s3s::{S3Error, S3ErrorCode, S3Result};

/// S3's own limit on a key's length, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;
/// The longest file name common file systems accept, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// What keys the upstream stores faithfully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyRules {
    /// Every S3 key (remote S3 and S3-faithful stores).
    #[default]
    Any,
    /// Keys that map one-to-one onto relative file paths (s3s-fs).
    FilePaths,
    /// A remote store reached through aws-sdk-s3, which refuses a key of only whitespace
    /// (`" "`) before sending it (its endpoint parameters treat it as missing).
    Sdk,
}

impl KeyRules {
    /// The rules of a configured upstream: every upstream keeps keys literally (the
    /// embedded store indexes keys as byte strings and names body files by random ids).
    pub fn for_upstream(cfg: &UpstreamConfig) -> KeyRules {
        match cfg {
            UpstreamConfig::S3 { .. } => KeyRules::Sdk,
            _ => KeyRules::Any,
        }
    }

    /// Refuses an object key the store cannot hold faithfully, with a message saying why.
    pub fn check_key(self, key: &str) -> S3Result<()> {
        match self {
            KeyRules::Any => return Ok(()),
            // A clear 400 rather than the SDK's construction failure as a 500.
            KeyRules::Sdk if key.trim().is_empty() && !key.is_empty() => {
                return Err(S3Error::with_message(
                    S3ErrorCode::InvalidArgument,
                    "keys of only whitespace cannot be forwarded to a remote store (the S3 client                      s3seal uses refuses them); the embedded store accepts them",
                ));
            }
            KeyRules::Sdk => return Ok(()),
            KeyRules::FilePaths => {}
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(S3Error::with_message(
                S3ErrorCode::KeyTooLongError,
                format!("object keys may be at most {MAX_KEY_BYTES} bytes"),
            ));
        }
        // A trailing `/` (a "folder" marker object) is allowed; other empty segments are not.
        let body = key.strip_suffix('/').unwrap_or(key);
        if key.is_empty() || body.is_empty() {
            return Err(refused(key, "it names no object"));
        }
        path_like(key, body.split('/'))
    }

    /// Refuses a listing prefix that could leave the bucket on this store. Its last segment
    /// may be partial (`a/.` is a prefix of `a/.hidden`), so only complete segments are
    /// held to the key rules.
    pub fn check_prefix(self, prefix: &str) -> S3Result<()> {
        if self != KeyRules::FilePaths || prefix.is_empty() {
            return Ok(());
        }
        let mut segs: Vec<&str> = prefix.split('/').collect();
        let last = segs.pop().unwrap_or_default();
        if last.contains('\0') || last.len() > MAX_SEGMENT_BYTES {
            return Err(refused(prefix, "it contains NUL or an over-long segment"));
        }
        if segs.is_empty() {
            return Ok(());
        }
        path_like(prefix, segs.into_iter())
    }
}

fn path_like<'a>(key: &str, segs: impl Iterator<Item = &'a str>) -> S3Result<()> {
    if key.starts_with('/') {
        return Err(refused(key, "it starts with '/'"));
    }
    if key.contains('\0') {
        return Err(refused(key, "it contains a NUL character"));
    }
    for s in segs {
        let why = match s {
            "" => "it contains an empty path segment ('//')",
            "." | ".." => "it contains a '.' or '..' path segment",
            s if s.len() > MAX_SEGMENT_BYTES => "a path segment is longer than 255 bytes",
            _ => continue,
        };
        return Err(refused(key, why));
    }
    Ok(())
}

fn refused(key: &str, why: &str) -> S3Error {
    // The key is the client's own input; quote it escaped and bounded.
    let shown: String = key.escape_debug().take(120).collect();
    S3Error::with_message(
        S3ErrorCode::InvalidArgument,
        format!(
            "key \"{shown}\" is refused: {why}. The embedded store keeps objects as files, so keys \
             must be relative paths without '.', '..' or empty segments, NUL, or segments over \
             {MAX_SEGMENT_BYTES} bytes"
        ),
    )
}

/// The HTTP-level guard for DeleteObjects bodies: s3s buffers at most this much XML and
/// answers a larger streamed body with a 500; the gateway answers 400 before reading it.
pub const XML_MAX_BODY: u64 = 20 * 1024 * 1024;

/// A DeleteObjects request (`POST /bucket?delete`) whose declared body is too big, or that
/// declares no length (S3 requires Content-Length there, and s3s refuses a body without
/// one after reading it): the 400/411 to answer before anything is read.
pub fn delete_objects_refusal(parts: &http::request::Parts) -> Option<s3s::HttpResponse> {
    if parts.method != http::Method::POST {
        return None;
    }
    let is_delete = parts
        .uri
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "delete" || kv == "delete="));
    if !is_delete {
        return None;
    }
    let len = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (status, code, msg) = match len {
        Some(n) if n > XML_MAX_BODY => (
            400,
            "MaxMessageLengthExceeded",
            format!(
                "The DeleteObjects request body may be at most {XML_MAX_BODY} bytes; send at most 1000 keys per request."
            ),
        ),
        Some(_) => return None,
        None => (
            411,
            "MissingContentLength",
            "DeleteObjects needs a Content-Length header.".to_owned(),
        ),
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message></Error>"
    );
    Some(
        http::Response::builder()
            .status(status)
            .header("content-type", "application/xml")
            .header("connection", "close")
            .body(s3s::Body::from(xml))
            .expect("static response"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_stores_refuse_only_whitespace_keys() {
        let r = KeyRules::Sdk;
        for k in [" ", "  ", "\t", " \n"] {
            let e = r.check_key(k).unwrap_err();
            assert_eq!(*e.code(), S3ErrorCode::InvalidArgument, "{k:?}");
        }
        for k in ["a b", " a", "trailing ", "..", "a//b", "%20"] {
            r.check_key(k).unwrap();
        }
        r.check_prefix(" ").unwrap();
        KeyRules::Any.check_key(" ").unwrap();
    }

    #[test]
    fn file_path_rules_refuse_traversal_and_ambiguity() {
        let r = KeyRules::FilePaths;
        for bad in [
            "..",
            ".",
            "a/../b",
            "alice/../..",
            "./x",
            "a//b",
            "/a",
            "a\0b",
            "//",
            "/",
            "a/./",
        ] {
            assert!(r.check_key(bad).is_err(), "{bad:?}");
            assert!(KeyRules::Any.check_key(bad).is_ok(), "{bad:?}");
        }
        assert!(r.check_key(&"a".repeat(256)).is_err());
        assert!(r.check_key(&"a/".repeat(600)).is_err());
        for good in ["a", "a/b.png", "a/", "..a/.b/c..", "x y/%2F+?", "ü/ä"] {
            assert!(r.check_key(good).is_ok(), "{good:?}");
        }
        assert!(r.check_prefix("photos/.").is_ok());
        assert!(r.check_prefix("photos/..").is_ok());
        assert!(r.check_prefix("photos/../").is_err());
        assert!(r.check_prefix("../").is_err());
        assert!(r.check_prefix("/x").is_err());
        assert!(r.check_prefix("").is_ok());
    }
}
