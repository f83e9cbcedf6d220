//! What the HTTP front decides from a request's head alone, before the s3s service reads a
//! body byte: requests the gateway refuses outright (browser form uploads, anonymous
//! requests, SigV2 unless enabled, presigned URLs valid for more than a week, oversized POST
//! bodies), and the identity the signature check will use, which the failed-login throttle
//! counts against.
//!
//! The scheme mirrors s3s 0.14.1's order (`ops/signature.rs`, `SignatureContext::check`):
//! a multipart/form-data POST is a form; else a `Signature` query is a SigV2 presigned URL;
//! else an `Authorization: AWS ak:sig` header is SigV2; else an `X-Amz-Signature` query is a
//! SigV4 presigned URL; else any `Authorization` header is SigV4; else the request is
//! anonymous. Keying the throttle by anything else (say, a bogus header next to a presigned
//! query) would let an attacker spread guesses over throwaway keys.

/// S3's cap on a SigV4 presigned URL's lifetime (seven days).
pub const MAX_PRESIGNED_EXPIRES_SECS: u64 = 604_800;

/// Largest body accepted on a POST (DeleteObjects, CompleteMultipartUpload, ...: XML the
/// service must buffer whole). S3's own largest such bodies (1000 keys, 10 000 parts) stay
/// well below it. Also s3s's `xml_max_body_size`.
pub const MAX_XML_BODY: usize = 8 << 20;

/// The throttle key of requests whose credential is missing or cannot be parsed: such
/// failures count per source address.
pub const NO_KEY: &str = "-";

/// How s3s will authenticate a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Anonymous,
    FormPost,
    V2Query,
    V2Header,
    V4Query,
    V4Header,
}

/// A refusal, answered as an S3 error without reading the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl Refusal {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }
}

/// The request's query, decoded as s3s decodes it (`application/x-www-form-urlencoded`).
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        let pairs = q
            .unwrap_or("")
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (form_decode(k), form_decode(v))
            })
            .collect();
        Query(pairs)
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `+` is a space; `%XX` escapes decode; a bad escape stays as written (lossy, like
/// `form_urlencoded`).
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_form_post(req: &http::request::Parts) -> bool {
    req.method == http::Method::POST
        && req
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .get(..19)
                    .is_some_and(|t| t.eq_ignore_ascii_case("multipart/form-data"))
            })
}

fn authorization(req: &http::request::Parts) -> Option<&str> {
    req.headers
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""))
}

/// `AWS ak:sig`, as s3s's `AuthorizationV2::parse`.
fn v2_header_key(auth: &str) -> Option<&str> {
    auth.strip_prefix("AWS ")?.split_once(':').map(|(k, _)| k)
}

pub fn scheme(req: &http::request::Parts, q: &Query) -> Scheme {
    if is_form_post(req) {
        return Scheme::FormPost;
    }
    if q.has("Signature") {
        return Scheme::V2Query;
    }
    let auth = authorization(req);
    if auth.and_then(v2_header_key).is_some() {
        return Scheme::V2Header;
    }
    if q.has("X-Amz-Signature") {
        return Scheme::V4Query;
    }
    if auth.is_some() {
        return Scheme::V4Header;
    }
    Scheme::Anonymous
}

/// How far a signed request's time may be from the gateway's, as S3 allows.
const MAX_SKEW_SECS: i64 = 15 * 60;

/// A SigV2 header signature covers its Date (or x-amz-date) but s3s never compares that date
/// with the clock, so a captured request could be replayed forever (an outside probe: PUT and
/// DELETE signed 5 years ago, or with `Date: not a date`, were served). S3 refuses requests
/// more than 15 minutes off.
fn v2_date_refusal(req: &http::request::Parts, now: std::time::SystemTime) -> Option<Refusal> {
    use time::format_description::well_known::Rfc2822;
    let h = &req.headers;
    let raw = h
        .get("x-amz-date")
        .or_else(|| h.get(http::header::DATE))
        .and_then(|v| v.to_str().ok());
    let when = raw.and_then(|v| time::OffsetDateTime::parse(v.trim(), &Rfc2822).ok());
    let Some(when) = when else {
        return Some(Refusal::new(
            403,
            "AccessDenied",
            "AWS authentication requires a valid Date or x-amz-date header",
        ));
    };
    let now = time::OffsetDateTime::from(now);
    if (when - now).whole_seconds().abs() > MAX_SKEW_SECS {
        return Some(Refusal::new(
            403,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        ));
    }
    None
}

/// What the gateway refuses from the head alone; `None`: hand it to s3s.
pub fn screen(
    req: &http::request::Parts,
    q: &Query,
    scheme: Scheme,
    allow_sigv2: bool,
) -> Option<Refusal> {
    match scheme {
        Scheme::FormPost => {
            return Some(Refusal::new(
                501,
                "NotImplemented",
                "browser POST uploads are not supported by s3seal; use PUT or a presigned PUT URL",
            ));
        }
        Scheme::Anonymous => {
            return Some(Refusal::new(
                403,
                "AccessDenied",
                "Anonymous requests are not allowed: sign the request with a user's access key (AWS Signature Version 4).",
            ));
        }
        Scheme::V2Query | Scheme::V2Header if !allow_sigv2 => {
            return Some(Refusal::new(
                400,
                "InvalidRequest",
                "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.",
            ));
        }
        Scheme::V2Header => {
            if let Some(r) = v2_date_refusal(req, std::time::SystemTime::now()) {
                return Some(r);
            }
        }
        Scheme::V4Query if authorization(req).is_some() => {
            return Some(Refusal::new(
                400,
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified",
            ));
        }
        Scheme::V4Query => {
            let too_long = q.get("X-Amz-Expires").is_some_and(|v| {
                !v.is_empty()
                    && v.bytes().all(|c| c.is_ascii_digit())
                    && v.parse::<u64>()
                        .map_or(true, |n| n > MAX_PRESIGNED_EXPIRES_SECS)
            });
            if too_long {
                return Some(Refusal::new(
                    400,
                    "AuthorizationQueryParametersError",
                    "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
                ));
            }
        }
        _ => {}
    }
    // The signature must bind the Host: under virtual-hosted addressing it names the bucket,
    // and one that leaves it out could be replayed against any other bucket. S3 refuses it.
    if signed_headers(req, q, scheme).is_some_and(|signed| !signs(signed, "host")) {
        return Some(Refusal::new(
            403,
            "AccessDenied",
            "The signature must cover the host header: SignedHeaders lacks host.",
        ));
    }
    if let Some(names) = unsigned_amz_headers(req, q, scheme) {
        return Some(Refusal::new(
            403,
            "AccessDenied",
            format!("There were headers present in the request which were not signed: {names}"),
        ));
    }
    if req.method == http::Method::POST
        && content_length(req).is_some_and(|n| n > MAX_XML_BODY as u64)
    {
        return Some(Refusal::new(
            400,
            "MaxMessageLengthExceeded",
            format!(
                "Your request was too big: request bodies of POST operations are limited to {} MiB.",
                MAX_XML_BODY >> 20
            ),
        ));
    }
    None
}

/// Drops the read conditions S3 ignores when they are malformed and s3s would refuse with
/// 400 InvalidArgument: a `Range` that is not one valid byte range (`bytes=abc`, `bytes=5-2`,
/// several ranges, another unit: S3 answers 200 with the whole object, RFC 9110 §14.2), and
/// an `If-Modified-Since` or `If-Unmodified-Since` that is not an HTTP date (RFC 9110 §13.1.3).
/// Only on GET and HEAD, and only where the signature does not cover the header (presigned
/// links, to which browsers, players and curl add their own Range; SigV2, which never signs
/// it): removing a signed header would break the signature s3s checks next. Returns what it
/// dropped.
pub fn drop_ignored_conditions(
    req: &mut http::request::Parts,
    q: &Query,
    scheme: Scheme,
) -> Vec<http::HeaderName> {
    use http::header::{IF_MODIFIED_SINCE, IF_UNMODIFIED_SINCE, RANGE};
    if !matches!(req.method, http::Method::GET | http::Method::HEAD) {
        return Vec::new();
    }
    let malformed = |name: &http::HeaderName, ok: Wellformed| {
        let mut values = req.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => false,
            (Some(v), None) => !v.is_empty() && !v.to_str().is_ok_and(ok),
            (Some(_), Some(_)) => true,
        }
    };
    let checks: [(http::HeaderName, Wellformed); 3] = [
        (RANGE, one_byte_range),
        (IF_MODIFIED_SINCE, http_date),
        (IF_UNMODIFIED_SINCE, http_date),
    ];
    let mut dropped: Vec<http::HeaderName> = checks
        .into_iter()
        .filter(|(name, ok)| malformed(name, *ok))
        .map(|(name, _)| name)
        .collect();
    if dropped.is_empty() {
        return dropped;
    }
    if let Some(signed) = signed_headers(req, q, scheme) {
        dropped.retain(|name| !signs(signed, name.as_str()));
    }
    for name in &dropped {
        req.headers.remove(name);
    }
    dropped
}

/// Whether a SigV4 `SignedHeaders` list (`a;b;c`) names `header`.
fn signs(signed: &str, header: &str) -> bool {
    signed.split(';').any(|h| h.eq_ignore_ascii_case(header))
}

/// Whether a header's value is one s3s can read.
type Wellformed = fn(&str) -> bool;

/// One byte range as s3s reads it; s3s takes `bytes=-` (no length) for the suffix `-0`,
/// which S3 ignores.
fn one_byte_range(s: &str) -> bool {
    s != "bytes=-" && s3s::dto::Range::parse(s).is_ok()
}

fn http_date(s: &str) -> bool {
    s3s::dto::Timestamp::parse(s3s::dto::TimestampFormat::HttpDate, s).is_ok()
}

/// The `x-amz-*` headers a SigV4 request carries that its signature does not cover, as S3
/// refuses them (HeadersNotSigned). s3s checks only the headers a signature names, so without
/// this anyone holding a presigned PUT link could add `x-amz-copy-source` and turn it into a
/// copy of any object its signer may read, or add metadata, tags or SSE-C headers. A
/// presigned URL's `x-amz-content-sha256` is exempt: it only restates the payload hash
/// the query already fixes (`UNSIGNED-PAYLOAD`), and some clients send it.
fn unsigned_amz_headers(req: &http::request::Parts, q: &Query, scheme: Scheme) -> Option<String> {
    let signed = signed_headers(req, q, scheme)?;
    let covered = |name: &str| signs(signed, name);
    let mut unsigned: Vec<&str> = req
        .headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| n.starts_with("x-amz-") && !covered(n))
        .filter(|n| !(scheme == Scheme::V4Query && *n == "x-amz-content-sha256"))
        .collect();
    unsigned.dedup();
    (!unsigned.is_empty()).then(|| unsigned.join(", "))
}

/// A SigV4 request's `SignedHeaders` list (`a;b;c`), from its query or Authorization header.
fn signed_headers<'a>(
    req: &'a http::request::Parts,
    q: &'a Query,
    scheme: Scheme,
) -> Option<&'a str> {
    match scheme {
        Scheme::V4Query => q.get("X-Amz-SignedHeaders"),
        Scheme::V4Header => {
            let auth = authorization(req)?;
            let at = auth.find("SignedHeaders=")? + "SignedHeaders=".len();
            auth[at..].split([',', ' ']).next()
        }
        _ => None,
    }
}

fn content_length(req: &http::request::Parts) -> Option<u64> {
    req.headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The access key the signature check will look up; [`NO_KEY`] when there is none or the
/// credential does not parse (then failures count per source address). Bounded, so a
/// hostile value cannot grow the throttle's keys without limit.
pub fn throttle_key(req: &http::request::Parts, q: &Query, scheme: Scheme) -> String {
    let key = match scheme {
        Scheme::Anonymous | Scheme::FormPost => None,
        Scheme::V2Query => q.get("AWSAccessKeyId"),
        Scheme::V2Header => authorization(req).and_then(v2_header_key),
        Scheme::V4Query => q.get("X-Amz-Credential").and_then(credential_key),
        Scheme::V4Header => authorization(req).and_then(v4_header_key),
    };
    match key {
        Some(k) if !k.is_empty() && k.len() <= 128 && !k.chars().any(char::is_control) => {
            k.to_owned()
        }
        _ => NO_KEY.to_owned(),
    }
}

/// `ALGORITHM Credential=<credential>, ...`, as s3s's `parse_authorization`.
fn v4_header_key(auth: &str) -> Option<&str> {
    let rest = auth.split_once(|c: char| c.is_ascii_whitespace())?.1;
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let cred = rest.strip_prefix("Credential=")?;
    credential_key(cred.split(',').next()?)
}

/// `ak/yyyymmdd/region/service/aws4_request`, as s3s's `parse_credential`: the access key is
/// everything before the first `/`; the rest must be well-formed.
fn credential_key(c: &str) -> Option<&str> {
    let (ak, rest) = c.split_once('/')?;
    let (date, rest) = rest.split_once('/')?;
    let (_region, rest) = rest.split_once('/')?;
    let (service, rest) = rest.split_once('/')?;
    let date_ok = date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit());
    (date_ok && !service.is_empty() && rest == "aws4_request").then_some(ak)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::get(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    fn key(uri: &str, headers: &[(&str, &str)]) -> String {
        let p = parts(uri, headers);
        let q = Query::parse(p.uri.query());
        throttle_key(&p, &q, scheme(&p, &q))
    }

    #[test]
    fn sigv2_dates_are_read_in_both_forms_and_bounded() {
        let now = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_796_000_000);
        let at = |h: &str, v: &str| v2_date_refusal(&parts("/b/k", &[(h, v)]), now);
        // 2026-11-29T... = 1_796_000_000; HTTP-date with GMT and RFC 2822 with +0000.
        let d = time::OffsetDateTime::from(now);
        let gmt = d
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .unwrap();
        assert!(at("date", &gmt).is_none(), "{gmt}");
        assert!(at("x-amz-date", &gmt).is_none(), "{gmt}");
        let rfc = d
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        assert!(at("date", &rfc).is_none(), "{rfc}");
        let old = (d - time::Duration::minutes(16))
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap();
        assert!(at("date", &old).is_some());
        assert!(at("date", "yesterday").is_some());
        assert!(v2_date_refusal(&parts("/b/k", &[]), now).is_some());
    }

    #[test]
    fn the_presigned_query_wins_over_a_header_as_in_s3s() {
        let sig = "X-Amz-Signature=00";
        let uri =
            format!("/b/k?X-Amz-Credential=alice%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&{sig}");
        let bogus = (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=zzz/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=1",
        );
        assert_eq!(key(&uri, &[bogus]), "alice");
        assert_eq!(key("/b/k", &[bogus]), "zzz");
        // A raw `/` and any region still name the same user.
        let raw = format!(
            "/b/k?X-Amz-Credential=alice/20260101/r-{}/s3/aws4_request&{sig}",
            7
        );
        assert_eq!(key(&raw, &[]), "alice");
        // Unparsable credentials count per address.
        assert_eq!(
            key(&format!("/b/k?X-Amz-Credential=alice&{sig}"), &[]),
            NO_KEY
        );
        assert_eq!(key("/b/k", &[]), NO_KEY);
        // SigV2 comes first in s3s.
        assert_eq!(
            key(
                &format!("/b/k?AWSAccessKeyId=bob&Signature=x&Expires=1&{sig}"),
                &[bogus]
            ),
            "bob"
        );
        assert_eq!(key("/b/k", &[("authorization", "AWS carol:sig")]), "carol");
    }

    #[test]
    fn the_host_must_be_signed() {
        let refused = |uri: &str, headers: &[(&str, &str)]| {
            let p = parts(uri, headers);
            let q = Query::parse(p.uri.query());
            screen(&p, &q, scheme(&p, &q), false).map(|r| (r.status, r.code))
        };
        let link = "/k?X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=x-amz-date&X-Amz-Signature=0";
        assert_eq!(refused(link, &[]), Some((403, "AccessDenied")));
        assert_eq!(refused(&link.replace("=x-amz-date", "=Host"), &[]), None);
        let auth = "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request, SignedHeaders=x-amz-content-sha256;x-amz-date, Signature=1";
        let h = [
            ("authorization", auth),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ];
        assert_eq!(refused("/k", &h), Some((403, "AccessDenied")));
        let with_host = auth.replace("SignedHeaders=", "SignedHeaders=host;");
        let h = [
            ("authorization", with_host.as_str()),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ];
        assert_eq!(refused("/k", &h), None);
    }

    #[test]
    fn malformed_read_conditions_are_dropped_unless_signed() {
        let dropped = |method: &str, uri: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri(uri);
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            let mut p = b.body(()).unwrap().into_parts().0;
            let q = Query::parse(p.uri.query());
            let s = scheme(&p, &q);
            let names = drop_ignored_conditions(&mut p, &q, s);
            assert!(names.iter().all(|n| !p.headers.contains_key(n)));
            names
                .iter()
                .map(|n| n.as_str().to_owned())
                .collect::<Vec<_>>()
        };
        let link = "/b/k?X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=0";
        for bad in [
            "bytes=abc",
            "bytes=5-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=-",
            "bytes=é",
        ] {
            assert_eq!(dropped("GET", link, &[("range", bad)]), ["range"], "{bad}");
        }
        for good in ["bytes=0-", "bytes=-5", "bytes=3-4", "bytes=100-200"] {
            assert!(
                dropped("GET", link, &[("range", good)]).is_empty(),
                "{good}"
            );
        }
        assert_eq!(
            dropped(
                "HEAD",
                link,
                &[("if-modified-since", "soon"), ("range", "x")]
            ),
            ["range", "if-modified-since"]
        );
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert!(dropped("GET", link, &[("if-unmodified-since", date)]).is_empty());
        assert!(dropped("PUT", link, &[("range", "bytes=abc")]).is_empty());
        let twice = [("range", "bytes=0-1"), ("range", "bytes=2-3")];
        assert_eq!(dropped("GET", link, &twice), ["range"]);
        // A header the signature covers is left for s3s: removing it breaks the signature.
        let signed = link.replace("SignedHeaders=host", "SignedHeaders=host%3Brange");
        assert!(dropped("GET", &signed, &[("range", "bytes=abc")]).is_empty());
        let auth = "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=1";
        let h = [("authorization", auth), ("range", "bytes=abc")];
        assert!(dropped("GET", "/b/k", &h).is_empty());
        let unsigned = auth.replace("range;", "");
        let h = [("authorization", unsigned.as_str()), ("range", "bytes=abc")];
        assert_eq!(dropped("GET", "/b/k", &h), ["range"]);
    }

    #[test]
    fn x_amz_headers_must_be_signed() {
        let refused = |uri: &str, headers: &[(&str, &str)]| {
            let p = parts(uri, headers);
            let q = Query::parse(p.uri.query());
            screen(&p, &q, scheme(&p, &q), false).map(|r| (r.status, r.code, r.message))
        };
        let link = "/b/k?X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host&X-Amz-Signature=0";
        let r = refused(link, &[("x-amz-copy-source", "other/secret")]).unwrap();
        assert_eq!((r.0, r.1), (403, "AccessDenied"));
        assert!(r.2.contains("x-amz-copy-source"), "{}", r.2);
        assert!(refused(link, &[("x-amz-meta-a", "1"), ("x-amz-tagging", "t=1")]).is_some());
        assert_eq!(refused(link, &[("content-type", "text/plain")]), None);
        assert_eq!(
            refused(link, &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")]),
            None
        );
        let signed_meta = link.replace("SignedHeaders=host", "SignedHeaders=host%3Bx-amz-meta-a");
        assert_eq!(refused(&signed_meta, &[("x-amz-meta-a", "1")]), None);
        let auth = "AWS4-HMAC-SHA256 Credential=a/20260101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=1";
        let signed = [
            ("authorization", auth),
            ("x-amz-date", "20260101T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ];
        assert_eq!(refused("/b/k", &signed), None);
        let mut extra = signed.to_vec();
        extra.push(("x-amz-copy-source", "other/secret"));
        assert_eq!(refused("/b/k", &extra).map(|r| r.0), Some(403));
        // Header auth must sign the payload hash too.
        let unsigned_hash = auth.replace("x-amz-content-sha256;", "");
        assert!(
            refused(
                "/b/k",
                &[
                    ("authorization", &unsigned_hash),
                    ("x-amz-content-sha256", "x")
                ]
            )
            .is_some()
        );
        // A presigned query and an Authorization header together: one mechanism only.
        let both = refused(link, &[("authorization", auth)]).unwrap();
        assert_eq!((both.0, both.1), (400, "InvalidArgument"));
    }

    #[test]
    fn screening() {
        let s = |uri: &str, h: &[(&str, &str)], v2: bool| {
            let p = parts(uri, h);
            let q = Query::parse(p.uri.query());
            screen(&p, &q, scheme(&p, &q), v2).map(|r| r.code)
        };
        assert_eq!(s("/b/k", &[], false), Some("AccessDenied"));
        assert_eq!(
            s("/b/k?X-Amz-Expires=604801&X-Amz-Signature=0", &[], false),
            Some("AuthorizationQueryParametersError")
        );
        assert_eq!(
            s("/b/k?X-Amz-Expires=604800&X-Amz-Signature=0", &[], false),
            None
        );
        assert_eq!(s("/b/k?Signature=x", &[], false), Some("InvalidRequest"));
        assert_eq!(s("/b/k?Signature=x", &[], true), None);
        assert_eq!(
            s("/b/k", &[("authorization", "AWS a:b")], false),
            Some("InvalidRequest")
        );
        assert_eq!(form_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
    }
}
