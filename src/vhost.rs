//! Virtual-hosted addressing (`Host: bucket.s3.example.com`), for the base domains the
//! operator names in `server.domains`. The AWS SDKs for JavaScript v3, Go v2 and Java v2 use
//! it by default. A Host is read as virtual-hosted only when it ends in `.` + a configured
//! domain; everything else (an IP address, `localhost`, a container name, the domain itself)
//! is path-style. Without this, `PUT /key` on `bucket.domain` would be read as creating a
//! bucket named after the key.

use s3s::S3Result;
use s3s::host::{S3Host, VirtualHost};

#[derive(Debug, Clone, Default)]
pub struct Domains {
    /// Lowercase base domains, without port.
    domains: Vec<String>,
}

/// Why `server.domains` refuses an entry.
pub fn check_domain(d: &str) -> Result<(), String> {
    let ok = !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
        && d.parse::<std::net::IpAddr>().is_err();
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{d:?} is not a DNS name such as \"s3.example.com\" (no scheme, port or IP address)"
        ))
    }
}

impl Domains {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(domains: I) -> Domains {
        Domains {
            domains: domains
                .into_iter()
                .map(|d| d.as_ref().to_ascii_lowercase())
                .collect(),
        }
    }

    /// The bucket a Host header names, if it is `bucket.<configured domain>[:port]`.
    pub fn bucket_of<'h>(&self, host: &'h str) -> Option<&'h str> {
        let name = match host.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        };
        let name = name.strip_suffix('.').unwrap_or(name);
        self.domains.iter().find_map(|d| {
            let cut = name.len().checked_sub(d.len() + 1)?;
            (name.is_char_boundary(cut)
                && name[cut + 1..].eq_ignore_ascii_case(d)
                && name.as_bytes()[cut] == b'.')
                .then(|| &name[..cut])
                .filter(|b| !b.is_empty())
        })
    }

    /// The bucket and key a request addresses, from its Host and URI path (percent-decoded),
    /// as s3s will read them: for logs and CORS, which look before s3s does.
    pub fn bucket_and_key(&self, headers: &http::HeaderMap, path: &str) -> (String, String) {
        let dec = |s: &str| crate::policy::percent_decode(s).unwrap_or_else(|| s.to_owned());
        let p = path.strip_prefix('/').unwrap_or(path);
        let host = headers
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok());
        match host.and_then(|h| self.bucket_of(h)) {
            Some(b) => (b.to_owned(), dec(p)),
            None => {
                let (b, k) = p.split_once('/').unwrap_or((p, ""));
                (dec(b), dec(k))
            }
        }
    }
}

impl S3Host for Domains {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> S3Result<VirtualHost<'a>> {
        Ok(match self.bucket_of(host) {
            Some(bucket) => VirtualHost::new(host).with_bucket(bucket),
            None => VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_under_a_configured_domain_are_virtual_hosted() {
        let d = Domains::new(["s3.example.com", "localhost"]);
        assert_eq!(d.bucket_of("photos.s3.example.com"), Some("photos"));
        assert_eq!(d.bucket_of("photos.S3.Example.com:9000"), Some("photos"));
        assert_eq!(
            d.bucket_of("my.dotted.bucket.s3.example.com."),
            Some("my.dotted.bucket")
        );
        assert_eq!(d.bucket_of("photos.localhost:9000"), Some("photos"));
        for path_style in [
            "s3.example.com",
            "s3.example.com:9000",
            "localhost:9000",
            "evils3.example.com",
            ".s3.example.com",
            "127.0.0.1:9000",
            "[::1]:9000",
            "s3seal:9000",
            "photos.gateway.internal",
        ] {
            assert_eq!(d.bucket_of(path_style), None, "{path_style}");
        }
    }

    #[test]
    fn bucket_and_key_follow_the_addressing_style() {
        let d = Domains::new(["localhost"]);
        let mut h = http::HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            d.bucket_and_key(&h, "/b/dir/a%20b%2Bc"),
            ("b".into(), "dir/a b+c".into())
        );
        h.insert("host", "b.localhost:9000".parse().unwrap());
        assert_eq!(d.bucket_and_key(&h, "/dir/x"), ("b".into(), "dir/x".into()));
        assert_eq!(d.bucket_and_key(&h, "/"), ("b".into(), "".into()));
    }

    #[test]
    fn domains_are_dns_names() {
        assert!(check_domain("s3.example.com").is_ok());
        for bad in [
            "",
            "http://x",
            "x:9000",
            "127.0.0.1",
            "a..b",
            "-a.b",
            "a_b.c",
        ] {
            assert!(check_domain(bad).is_err(), "{bad}");
        }
    }
}
