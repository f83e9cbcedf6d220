//! SigV4 header signatures for the lean path's requests. aws-sigv4 (the SDK's signer) is
//! general: it parses the URI and query back, copies every header into a new map, re-encodes
//! the query and derives the signing key (four HMACs) for every request — ~8 % of the
//! gateway's CPU on a small HEAD (docs/PERFORMANCE.md, round 7). The lean path builds its own
//! requests, already in canonical form (path encoded once, query pairs sorted and encoded, no
//! normalisation), so signing them is one SHA-256 and one HMAC with a key derived once a day.
//! The canonical request is exactly aws-sigv4's with the lean path's settings (single
//! encoding, no path normalisation, `x-amz-content-sha256: UNSIGNED-PAYLOAD`, its default
//! excluded headers); a test signs the same requests with both and compares.

use http::{HeaderMap, HeaderValue, Method};
use ring::{digest, hmac};
use std::fmt::Write;
use std::sync::Mutex;
use zeroize::Zeroizing;

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Headers aws-sigv4 leaves out of a signature (proxies may change them).
const EXCLUDED: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];

/// Static credentials for one region, with the day's signing key kept.
pub struct Signer {
    access_key: String,
    secret: Zeroizing<String>,
    region: String,
    /// `(yyyymmdd, key)`: the derived key depends only on the date, region and secret.
    day_key: Mutex<Option<(String, Zeroizing<[u8; 32]>)>>,
}

impl Signer {
    pub fn new(access_key: String, secret: String, region: String) -> Self {
        Self {
            access_key,
            secret: Zeroizing::new(secret),
            region,
            day_key: Mutex::new(None),
        }
    }

    /// Adds `x-amz-date`, `x-amz-content-sha256` and `authorization` to `headers` for a
    /// request on `host` (as the Host header will carry it) and `path_and_query` (encoded
    /// once, query pairs sorted by name, as `wire::path_and_query` builds them), signed at
    /// `now` (seconds since the Unix epoch).
    pub fn sign(
        &self,
        method: &Method,
        host: &str,
        path_and_query: &str,
        headers: &mut HeaderMap,
        now: i64,
    ) {
        let amz_date = amz_date(now);
        headers.insert(
            "x-amz-date",
            HeaderValue::from_str(&amz_date).expect("ascii"),
        );
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_static(UNSIGNED_PAYLOAD),
        );
        let (creq, signed_headers) = canonical_request(method, host, path_and_query, headers);
        let date = &amz_date[..8];
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let mut sts = String::with_capacity(128);
        sts.push_str("AWS4-HMAC-SHA256\n");
        sts.push_str(&amz_date);
        sts.push('\n');
        sts.push_str(&scope);
        sts.push('\n');
        sts.push_str(&hex::encode(digest::digest(
            &digest::SHA256,
            creq.as_bytes(),
        )));
        let key = self.key_for(date);
        let sig = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key[..]), sts.as_bytes());
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={}",
            self.access_key,
            hex::encode(sig.as_ref())
        );
        let mut v = HeaderValue::from_str(&auth).expect("ascii");
        v.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, v);
    }

    /// The signing key for `date`, derived at most once per day.
    fn key_for(&self, date: &str) -> Zeroizing<[u8; 32]> {
        let mut cached = self.day_key.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((d, k)) = cached.as_ref()
            && d == date
        {
            return k.clone();
        }
        let seed = Zeroizing::new(format!("AWS4{}", self.secret.as_str()));
        let mut k = Zeroizing::new([0u8; 32]);
        k.copy_from_slice(
            hmac::sign(
                &hmac::Key::new(hmac::HMAC_SHA256, seed.as_bytes()),
                date.as_bytes(),
            )
            .as_ref(),
        );
        for part in [self.region.as_str(), "s3", "aws4_request"] {
            let next = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &k[..]), part.as_bytes());
            k.copy_from_slice(next.as_ref());
        }
        *cached = Some((date.to_owned(), k.clone()));
        k
    }
}

/// `YYYYMMDDTHHMMSSZ` for `secs` since the Unix epoch (UTC).
fn amz_date(secs: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(secs).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The canonical request and its `SignedHeaders` list. Headers whose value is not visible
/// ASCII are left unsigned, as aws-sigv4's caller in this crate always did.
fn canonical_request(
    method: &Method,
    host: &str,
    path_and_query: &str,
    headers: &HeaderMap,
) -> (String, String) {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut creq = String::with_capacity(512);
    creq.push_str(method.as_str());
    creq.push('\n');
    creq.push_str(path);
    creq.push('\n');
    if !query.is_empty() {
        let mut pairs: Vec<(&str, &str)> = query
            .split('&')
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        pairs.sort_unstable();
        for (i, (k, v)) in pairs.iter().enumerate() {
            if i > 0 {
                creq.push('&');
            }
            creq.push_str(k);
            creq.push('=');
            creq.push_str(v);
        }
    }
    creq.push('\n');
    let mut named: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 1);
    if !headers.contains_key(http::header::HOST) {
        named.push(("host", host));
    }
    for (n, v) in headers {
        if EXCLUDED.contains(&n.as_str()) {
            continue;
        }
        if let Ok(v) = v.to_str() {
            named.push((n.as_str(), v));
        }
    }
    // Stable: a name's values keep their order and are joined with commas.
    named.sort_by(|a, b| a.0.cmp(b.0));
    let mut signed = String::with_capacity(128);
    let mut i = 0;
    while i < named.len() {
        let name = named[i].0;
        creq.push_str(name);
        creq.push(':');
        let mut first = true;
        while i < named.len() && named[i].0 == name {
            if !first {
                creq.push(',');
            }
            push_trimmed(&mut creq, named[i].1);
            first = false;
            i += 1;
        }
        creq.push('\n');
        if !signed.is_empty() {
            signed.push(';');
        }
        signed.push_str(name);
    }
    let _ = write!(creq, "\n{signed}\n{UNSIGNED_PAYLOAD}");
    (creq, signed)
}

/// `v` without leading and trailing spaces and with runs of spaces as one (S3 trims spaces
/// only, not other whitespace).
fn push_trimmed(out: &mut String, v: &str) {
    let mut space = false;
    for c in v.trim_matches(' ').chars() {
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lean::wire::path_and_query;
    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode,
    };
    use std::time::{Duration, UNIX_EPOCH};

    /// aws-sigv4's headers for the same request, with the settings the lean path used.
    fn reference(
        method: &Method,
        origin: &str,
        pq: &str,
        headers: &HeaderMap,
        now: i64,
    ) -> HeaderMap {
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let identity =
            Credentials::new("AKIDEXAMPLE", "wJalr/K7MDENG+bPxRfiCY", None, None, "t").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("eu-west-3")
            .name("s3")
            .time(UNIX_EPOCH + Duration::from_secs(now as u64))
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let uri = format!("{origin}{pq}");
        let pairs = headers
            .iter()
            .filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?)));
        let signable =
            SignableRequest::new(method.as_str(), &uri, pairs, SignableBody::UnsignedPayload)
                .unwrap();
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .unwrap()
            .into_parts();
        let mut req = http::Request::builder()
            .method(method.clone())
            .uri(&uri)
            .body(())
            .unwrap();
        *req.headers_mut() = headers.clone();
        instructions.apply_to_request_http1x(&mut req);
        req.headers().clone()
    }

    #[test]
    fn signatures_equal_aws_sigv4s_for_the_requests_the_lean_path_sends() {
        let signer = Signer::new(
            "AKIDEXAMPLE".into(),
            "wJalr/K7MDENG+bPxRfiCY".into(),
            "eu-west-3".into(),
        );
        let keys = ["k", "a+b", "x/y", "x y  z", "100%/é", "q?x#h&=", "", "~.-_"];
        let queries: [&[(&str, &str)]; 6] = [
            &[],
            // Out of order: the canonical query sorts them.
            &[("uploadId", "2~"), ("partNumber", "10")],
            &[("partNumber", "3"), ("uploadId", "u/+= x")],
            &[
                ("continuation-token", "t=="),
                ("list-type", "2"),
                ("max-keys", "1000"),
                ("prefix", "a b/"),
            ],
            &[("uploads", "")],
            &[
                ("delimiter", "/"),
                ("encoding-type", "url"),
                ("list-type", "2"),
                ("start-after", "é+"),
            ],
        ];
        let header_sets: [&[(&str, &[u8])]; 5] = [
            &[],
            &[("content-length", b"4096"), ("content-type", b"image/png")],
            &[
                ("range", b"bytes=0-1048575"),
                ("if-match", b"\"abc\""),
                ("user-agent", b"x"),
            ],
            &[
                ("x-amz-meta-s3seal", b"v1  two   spaces "),
                ("x-amz-meta-a", b"1"),
                ("x-amz-meta-a", b"2"),
            ],
            &[
                ("x-amz-meta-raw", b"caf\xc3\xa9"),
                ("transfer-encoding", b"chunked"),
                ("content-md5", b"XrY7u+Ae7tCTyyK7j1rNww=="),
            ],
        ];
        let times = [
            1_700_000_000i64,
            1_764_633_600,
            1_764_719_999,
            1_764_720_000,
        ];
        let mut n = 0;
        for (origin, host) in [
            ("http://127.0.0.1:9000", "127.0.0.1:9000"),
            ("http://store", "store"),
        ] {
            for method in [
                Method::GET,
                Method::HEAD,
                Method::PUT,
                Method::POST,
                Method::DELETE,
            ] {
                for key in keys {
                    for q in queries {
                        for hs in header_sets {
                            let now = times[n % times.len()];
                            n += 1;
                            let mut headers = HeaderMap::new();
                            for (k, v) in hs {
                                headers.append(
                                    http::HeaderName::from_static(k),
                                    HeaderValue::from_bytes(v).unwrap(),
                                );
                            }
                            let pq = path_and_query("bucket-1", key, q);
                            let want = reference(&method, origin, &pq, &headers, now);
                            let mut got = headers.clone();
                            signer.sign(&method, host, &pq, &mut got, now);
                            for h in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
                                assert_eq!(got.get(h), want.get(h), "{h}: {method} {pq} {hs:?}");
                            }
                            assert_eq!(got.len(), want.len(), "{method} {pq}");
                        }
                    }
                }
            }
        }
        assert!(n >= 2000);
    }

    #[test]
    fn the_day_key_is_derived_again_when_the_date_changes() {
        let signer = Signer::new("AK".into(), "SK".into(), "us-east-1".into());
        let sign = |s: &Signer, now: i64| {
            let mut h = HeaderMap::new();
            s.sign(&Method::GET, "h", "/b/k", &mut h, now);
            h["authorization"].to_str().unwrap().to_owned()
        };
        // 23:59:59, 00:00:00 the next day, and back: each as a signer with no key cached.
        for (now, day) in [
            (1_764_719_999, "/20251202/"),
            (1_764_720_000, "/20251203/"),
            (1_764_719_999, "/20251202/"),
        ] {
            let fresh = Signer::new("AK".into(), "SK".into(), "us-east-1".into());
            let got = sign(&signer, now);
            assert!(got.contains(day), "{got}");
            assert_eq!(got, sign(&fresh, now));
        }
    }
}
