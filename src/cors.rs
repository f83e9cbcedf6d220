//! Bucket CORS, evaluated as S3 evaluates it. Browser apps upload straight to the gateway with
//! presigned URLs; the browser first sends an unsigned `OPTIONS` preflight, and reads an
//! answer only if it carries `Access-Control-Allow-Origin`. The rules are the bucket's CORS
//! configuration (PutBucketCors), kept by the store; this module only decides. Pure: no I/O.

use serde::{Deserialize, Serialize};

/// One CORSRule, in the shape the embedded store persists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    #[serde(default)]
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    #[serde(default)]
    pub allowed_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub max_age_seconds: Option<i32>,
}

impl From<s3s::dto::CORSRule> for Rule {
    fn from(r: s3s::dto::CORSRule) -> Rule {
        Rule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers.unwrap_or_default(),
            expose_headers: r.expose_headers.unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        }
    }
}

impl From<Rule> for s3s::dto::CORSRule {
    fn from(r: Rule) -> s3s::dto::CORSRule {
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        s3s::dto::CORSRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: some(r.allowed_headers),
            expose_headers: some(r.expose_headers),
            max_age_seconds: r.max_age_seconds,
        }
    }
}

const METHODS: [&str; 5] = ["GET", "PUT", "HEAD", "POST", "DELETE"];

/// S3's limit on rules per bucket.
pub const MAX_RULES: usize = 100;

/// Why PutBucketCors refuses a configuration: S3's message for it (400 InvalidRequest, or
/// MalformedXML for an empty or oversized one).
pub fn validate(rules: &[Rule]) -> Result<(), (&'static str, String)> {
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err((
            "MalformedXML",
            format!("A CORS configuration holds 1 to {MAX_RULES} rules."),
        ));
    }
    for r in rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err((
                "MalformedXML",
                "Each CORSRule needs at least one AllowedOrigin and one AllowedMethod.".into(),
            ));
        }
        if r.id.as_ref().is_some_and(|id| id.len() > 255) {
            return Err((
                "InvalidRequest",
                "A CORSRule ID is at most 255 characters.".into(),
            ));
        }
        if r.max_age_seconds.is_some_and(|a| a < 0) {
            return Err(("InvalidRequest", "MaxAgeSeconds cannot be negative.".into()));
        }
        if let Some(m) = r
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err((
                "InvalidRequest",
                format!("Found unsupported HTTP method in CORS config. Unsupported method is {m}"),
            ));
        }
        for (what, list) in [
            ("AllowedOrigin", &r.allowed_origins),
            ("AllowedHeader", &r.allowed_headers),
        ] {
            if let Some(v) = list.iter().find(|v| v.matches('*').count() > 1) {
                return Err((
                    "InvalidRequest",
                    format!("{what} \"{v}\" can not have more than one wildcard."),
                ));
            }
        }
    }
    Ok(())
}

/// `pattern` with at most one `*` standing for any run of characters.
fn wildcard(pattern: &str, value: &str, fold_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if fold_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value.is_char_boundary(pre.len())
                && value.is_char_boundary(value.len() - post.len())
                && eq(&value[..pre.len()], pre)
                && eq(&value[value.len() - post.len()..], post)
        }
    }
}

impl Rule {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|p| wildcard(p, origin, false))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|p| wildcard(p, header, true))
    }
}

/// The `Access-Control-*` headers of an allowed request.
#[derive(Debug, PartialEq, Eq)]
pub struct Grant {
    pub headers: Vec<(&'static str, String)>,
}

const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

fn grant(rule: &Rule, origin: &str, allow_headers: Option<String>) -> Grant {
    let mut h = Vec::new();
    if rule.allowed_origins.iter().any(|o| o == "*") {
        h.push(("access-control-allow-origin", "*".to_owned()));
    } else {
        h.push(("access-control-allow-origin", origin.to_owned()));
        h.push(("access-control-allow-credentials", "true".to_owned()));
    }
    h.push((
        "access-control-allow-methods",
        rule.allowed_methods.join(", "),
    ));
    if let Some(a) = allow_headers.filter(|a| !a.is_empty()) {
        h.push(("access-control-allow-headers", a));
    }
    if !rule.expose_headers.is_empty() {
        h.push((
            "access-control-expose-headers",
            rule.expose_headers.join(", "),
        ));
    }
    if let Some(age) = rule.max_age_seconds {
        h.push(("access-control-max-age", age.to_string()));
    }
    h.push(("vary", VARY.to_owned()));
    Grant { headers: h }
}

/// Why a preflight is refused (403 AccessForbidden, S3's wording).
pub const NOT_ENABLED: &str = "CORSResponse: CORS is not enabled for this bucket.";
pub const NOT_ALLOWED: &str = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

/// A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`): the first rule
/// that allows the origin, the method and every requested header answers it.
pub fn preflight(
    rules: Option<&[Rule]>,
    origin: &str,
    method: &str,
    request_headers: Option<&str>,
) -> Result<Grant, &'static str> {
    let rules = rules.ok_or(NOT_ENABLED)?;
    let wanted: Vec<&str> = request_headers
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    rules
        .iter()
        .find(|r| {
            r.allows_origin(origin)
                && r.allows_method(method)
                && wanted.iter().all(|h| r.allows_header(h))
        })
        .map(|r| grant(r, origin, Some(wanted.join(", ").to_ascii_lowercase())))
        .ok_or(NOT_ALLOWED)
}

/// A request from a page (`Origin` set): the headers that let the page read the answer, or
/// None when no rule allows it (the request is still served; the browser hides the answer).
pub fn actual(rules: &[Rule], origin: &str, method: &str) -> Option<Grant> {
    rules
        .iter()
        .find(|r| r.allows_origin(origin) && r.allows_method(method))
        .map(|r| grant(r, origin, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> Rule {
        Rule {
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(600),
            id: None,
        }
    }

    fn header<'a>(g: &'a Grant, name: &str) -> Option<&'a str> {
        g.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn wildcards_match_one_run_and_never_overlap() {
        assert!(wildcard(
            "https://*.example.com",
            "https://app.example.com",
            false
        ));
        assert!(!wildcard(
            "https://*.example.com",
            "https://example.com",
            false
        ));
        assert!(!wildcard(
            "https://*.example.com",
            "http://app.example.com",
            false
        ));
        assert!(wildcard("*", "null", false));
        assert!(wildcard("x-amz-*", "X-Amz-Date", true));
        assert!(
            !wildcard("ab*ba", "aba", false),
            "prefix and suffix may not share a byte"
        );
        assert!(!wildcard("é*", "e", false));
    }

    #[test]
    fn a_preflight_needs_origin_method_and_every_header() {
        let rules = vec![
            rule(&["https://app.example"], &["GET"], &[]),
            rule(
                &["https://*.example"],
                &["PUT", "GET"],
                &["content-type", "x-amz-*"],
            ),
        ];
        let g = preflight(
            Some(&rules),
            "https://up.example",
            "PUT",
            Some("Content-Type, X-Amz-Meta-Owner"),
        )
        .unwrap();
        assert_eq!(
            header(&g, "access-control-allow-origin"),
            Some("https://up.example")
        );
        assert_eq!(header(&g, "access-control-allow-methods"), Some("PUT, GET"));
        assert_eq!(
            header(&g, "access-control-allow-headers"),
            Some("content-type, x-amz-meta-owner")
        );
        assert_eq!(header(&g, "access-control-expose-headers"), Some("ETag"));
        assert_eq!(header(&g, "access-control-max-age"), Some("600"));
        assert_eq!(header(&g, "access-control-allow-credentials"), Some("true"));
        assert_eq!(
            preflight(
                Some(&rules),
                "https://up.example",
                "PUT",
                Some("authorization")
            ),
            Err(NOT_ALLOWED)
        );
        assert_eq!(
            preflight(Some(&rules), "https://evil.test", "GET", None),
            Err(NOT_ALLOWED)
        );
        assert_eq!(
            preflight(Some(&rules), "https://app.example", "DELETE", None),
            Err(NOT_ALLOWED)
        );
        assert_eq!(
            preflight(None, "https://app.example", "GET", None),
            Err(NOT_ENABLED)
        );
    }

    #[test]
    fn a_star_origin_is_answered_with_a_star_and_no_credentials() {
        let rules = vec![rule(&["*"], &["GET", "HEAD"], &["*"])];
        let g = actual(&rules, "https://anyone.example", "GET").unwrap();
        assert_eq!(header(&g, "access-control-allow-origin"), Some("*"));
        assert_eq!(header(&g, "access-control-allow-credentials"), None);
        assert!(actual(&rules, "https://anyone.example", "PUT").is_none());
    }

    #[test]
    fn configurations_are_checked_as_s3_checks_them() {
        assert!(validate(&[rule(&["*"], &["GET"], &[])]).is_ok());
        assert_eq!(validate(&[]).unwrap_err().0, "MalformedXML");
        let e = validate(&[rule(&["*"], &["PATCH"], &[])]).unwrap_err();
        assert_eq!(e.0, "InvalidRequest");
        assert!(e.1.contains("PATCH"));
        let e = validate(&[rule(&["https://*.*.example"], &["GET"], &[])]).unwrap_err();
        assert!(e.1.contains("more than one wildcard"));
        let mut r = rule(&["*"], &["GET"], &[]);
        r.max_age_seconds = Some(-5);
        assert_eq!(validate(&[r]).unwrap_err().0, "InvalidRequest");
        let mut r = rule(&["*"], &["GET"], &[]);
        r.id = Some("i".repeat(256));
        assert_eq!(validate(&[r]).unwrap_err().0, "InvalidRequest");
        let many = vec![rule(&["*"], &["GET"], &[]); MAX_RULES + 1];
        assert!(validate(&many).is_err());
    }
}
