//! Building and signing one S3 request by hand: the path-style URL with S3's key encoding, and
//! a SigV4 header signature (`sigv4`, checked against the SDK's own signer). Bodies are never
//! hashed: `UNSIGNED-PAYLOAD`, as the SDK sends for streamed bodies; the segments carry their
//! own authentication.

use super::sigv4::Signer;
use http::{HeaderName, HeaderValue, Method, Request};
use std::fmt::Write;
use std::time::SystemTime;

/// Where requests go: `http://host:port`, and how they are signed.
pub struct Target {
    /// `scheme://authority`, no trailing slash.
    pub origin: String,
    /// What the Host header will carry: the authority without a default port.
    pub host: String,
    pub signer: Signer,
}

/// Appends `s` percent-encoded as S3 expects in a URI: everything but the unreserved
/// characters, and `/` too unless `keep_slash` (an object key's slashes stay in the path).
pub fn encode_into(out: &mut String, s: &str, keep_slash: bool) {
    for &b in s.as_bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/');
        if plain {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The Host header hyper's client sends for an `http://` authority, which the signature must
/// cover as sent: the authority without the default port 80.
pub fn host_header(authority: &http::uri::Authority) -> String {
    match authority.port_u16() {
        Some(80) => authority.host().to_owned(),
        _ => authority.as_str().to_owned(),
    }
}

/// `/bucket/key?query` for path-style addressing (`/bucket?query` for a bucket operation: an
/// empty key); `query` pairs must be sorted by name (the canonical request requires it; the
/// store only needs them present).
pub fn path_and_query(bucket: &str, key: &str, query: &[(&str, &str)]) -> String {
    let mut p = String::with_capacity(bucket.len() + key.len() + 32);
    p.push('/');
    encode_into(&mut p, bucket, false);
    if !key.is_empty() {
        p.push('/');
        encode_into(&mut p, key, true);
    }
    for (i, (k, v)) in query.iter().enumerate() {
        p.push(if i == 0 { '?' } else { '&' });
        p.push_str(k);
        p.push('=');
        encode_into(&mut p, v, false);
    }
    p
}

/// A request for `method` on `path_and_query` with `headers`, signed (SigV4, header form).
pub fn signed<B>(
    t: &Target,
    method: Method,
    path_and_query: &str,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: B,
) -> Result<Request<B>, String> {
    let mut map = http::HeaderMap::with_capacity(headers.len() + 3);
    for (n, v) in headers {
        map.append(n, v);
    }
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    t.signer
        .sign(&method, &t.host, path_and_query, &mut map, now);
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{}{}", t.origin, path_and_query))
        .body(body)
        .map_err(|e| format!("request: {e}"))?;
    *req.headers_mut() = map;
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_host_is_the_one_hyper_sends() {
        for (authority, host) in [
            ("store:80", "store"),
            ("store", "store"),
            ("127.0.0.1:9000", "127.0.0.1:9000"),
            ("[::1]:80", "[::1]"),
            ("[::1]:8080", "[::1]:8080"),
            ("store:443", "store:443"),
        ] {
            assert_eq!(
                host_header(&authority.parse().unwrap()),
                host,
                "{authority}"
            );
        }
    }

    #[test]
    fn keys_keep_slashes_and_encode_everything_else_once() {
        assert_eq!(path_and_query("b", "a+b", &[]), "/b/a%2Bb");
        assert_eq!(path_and_query("b", "x/y z", &[]), "/b/x/y%20z");
        assert_eq!(path_and_query("b", "100%/é", &[]), "/b/100%25/%C3%A9");
        assert_eq!(
            path_and_query("b", "k", &[("partNumber", "3"), ("uploadId", "u/+=")]),
            "/b/k?partNumber=3&uploadId=u%2F%2B%3D"
        );
        assert_eq!(
            path_and_query("b", "", &[("list-type", "2"), ("prefix", "a/b c")]),
            "/b?list-type=2&prefix=a%2Fb%20c"
        );
    }
}
