//! Server-rendered pages. Every value from a user or the store goes through [`esc`] (HTML) or
//! [`path_escape`] (URLs); there is no inline script, so the CSP can forbid it.

use std::fmt::Write;

/// One object row of a listing.
pub struct Entry {
    pub key: String,
    pub size: i64,
    pub modified: String,
    pub owner: String,
    pub image: bool,
}

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but unreserved characters and `/`, for keys in URL paths.
pub fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encodes for a query-string value.
pub fn query_escape(s: &str) -> String {
    path_escape(s).replace('/', "%2F")
}

pub fn human_size(n: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn layout(title: &str, user: Option<(&str, &str)>, data: &str, body: &str) -> String {
    let (csrf_meta, bar) = match user {
        Some((name, csrf)) => (
            format!(r#"<meta name="csrf-token" content="{}">"#, esc(csrf)),
            format!(
                r#"<nav><a href="/console/">Buckets</a><span class="user">{}</span><form id="logout" method="post" action="/console/logout"><input type="hidden" name="csrf" value="{}"><button id="logout-submit" type="submit">Log out</button></form></nav>"#,
                esc(name),
                esc(csrf)
            ),
        ),
        None => (String::new(), String::new()),
    };
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
{csrf_meta}<title>{} · s3seal</title><link rel="stylesheet" href="/console/static/console.css"><link rel="icon" href="/console/static/favicon.svg"></head>
<body{data}><header><h1>s3seal</h1>{bar}</header><main>
{body}
</main><script src="/console/static/console.js"></script></body></html>
"#,
        esc(title)
    )
}

pub fn login(error: Option<&str>) -> String {
    let err = error
        .map(|e| format!(r#"<p class="error">{}</p>"#, esc(e)))
        .unwrap_or_default();
    layout(
        "Log in",
        None,
        "",
        &format!(
            r#"<h2>Log in</h2>{err}
<form id="login" method="post" action="/console/login">
<label>Access key <input id="access_key" name="access_key" autocomplete="username" required></label>
<label>Secret key <input id="secret_key" name="secret_key" type="password" autocomplete="current-password" required></label>
<button id="login-submit" type="submit">Log in</button>
</form>"#
        ),
    )
}

pub fn buckets(user: &str, csrf: &str, names: &[String], note: Option<&str>) -> String {
    let mut body = String::from("<h2>Buckets</h2>");
    if let Some(n) = note {
        let _ = write!(body, r#"<p class="note">{}</p>"#, esc(n));
    }
    body.push_str(r#"<ul id="buckets">"#);
    for n in names {
        let _ = write!(
            body,
            r#"<li><a class="bucket" href="/console/b/{}/">{}</a></li>"#,
            path_escape(n),
            esc(n)
        );
    }
    body.push_str("</ul>");
    // Users limited to some buckets may not be allowed to list bucket names.
    body.push_str(r#"<form id="open-bucket" method="get" action="/console/open"><label>Open bucket <input name="bucket" required></label><button type="submit">Open</button></form>"#);
    layout("Buckets", Some((user, csrf)), "", &body)
}

pub struct Listing<'a> {
    pub bucket: &'a str,
    pub prefix: &'a str,
    pub folders: Vec<String>,
    pub entries: Vec<Entry>,
    pub next: Option<String>,
}

pub fn listing(user: &str, csrf: &str, l: &Listing<'_>) -> String {
    let b = path_escape(l.bucket);
    let mut body = String::new();
    // Breadcrumbs: bucket / each folder level.
    let _ = write!(
        body,
        r#"<h2 class="crumbs"><a href="/console/b/{b}/">{}</a>"#,
        esc(l.bucket)
    );
    let mut acc = String::new();
    for part in l.prefix.split('/').filter(|p| !p.is_empty()) {
        acc.push_str(part);
        acc.push('/');
        let _ = write!(
            body,
            r#" / <a href="/console/b/{b}/{}">{}</a>"#,
            path_escape(&acc),
            esc(part)
        );
    }
    body.push_str("</h2>");
    body.push_str(
        r#"<section id="drop" class="drop"><p>Drop files here or <input id="file-input" type="file" multiple></p>
<progress id="upload-progress" max="1" value="0"></progress> <span id="upload-status"></span></section>
<section class="share"><label>Share links expire after <select id="share-expiry">
<option value="300">5 minutes</option><option value="3600" selected>1 hour</option><option value="86400">1 day</option><option value="604800">7 days</option>
</select></label> <input id="share-url" readonly placeholder="share link appears here" size="60"></section>
<table id="objects"><thead><tr><th></th><th>Name</th><th>Size</th><th>Modified</th><th>Owner</th><th></th></tr></thead><tbody>"#,
    );
    for f in &l.folders {
        let name = f.strip_prefix(l.prefix).unwrap_or(f);
        let _ = write!(
            body,
            r#"<tr class="folder"><td class="icon">▸</td><td class="name"><a class="folder" href="/console/b/{b}/{}">{}</a></td><td></td><td></td><td></td><td></td></tr>"#,
            path_escape(f),
            esc(name)
        );
    }
    for e in &l.entries {
        let name = e.key.strip_prefix(l.prefix).unwrap_or(&e.key);
        let k = path_escape(&e.key);
        let thumb = if e.image {
            format!(r#"<img class="thumb" alt="" loading="lazy" src="/console/thumb/{b}/{k}">"#)
        } else {
            String::new()
        };
        let _ = write!(
            body,
            r#"<tr class="object" data-key="{key}" data-size="{size}"><td>{thumb}</td><td class="name">{name}</td><td class="size" title="{size} bytes">{human}</td><td class="modified">{modified}</td><td class="owner">{owner}</td><td class="actions"><a class="download" href="/console/dl/{b}/{k}">Download</a> <button class="share" type="button">Share</button> <button class="delete" type="button">Delete</button></td></tr>"#,
            key = esc(&e.key),
            size = e.size,
            name = esc(name),
            human = human_size(e.size),
            modified = esc(&e.modified),
            owner = esc(&e.owner),
        );
    }
    body.push_str("</tbody></table>");
    if l.folders.is_empty() && l.entries.is_empty() {
        body.push_str(r#"<p class="empty">Nothing here yet.</p>"#);
    }
    if let Some(t) = &l.next {
        let _ = write!(
            body,
            r#"<p><a id="next-page" href="/console/b/{b}/{}?after={}">Next page →</a></p>"#,
            path_escape(l.prefix),
            query_escape(t)
        );
    }
    let data = format!(
        r#" data-bucket="{}" data-prefix="{}""#,
        esc(l.bucket),
        esc(l.prefix)
    );
    layout(l.bucket, Some((user, csrf)), &data, &body)
}

pub fn error(status: u16, message: &str) -> String {
    layout(
        "Error",
        None,
        "",
        &format!(
            r#"<h2>Error {status}</h2><p class="error">{}</p><p><a href="/console/">Back</a></p>"#,
            esc(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_urls() {
        assert_eq!(
            esc(r#"<img src=x onerror="a">&'"#),
            "&lt;img src=x onerror=&quot;a&quot;&gt;&amp;&#39;"
        );
        assert_eq!(path_escape("a b/ü?#"), "a%20b/%C3%BC%3F%23");
        assert_eq!(query_escape("a/b"), "a%2Fb");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(20 * 1024 * 1024), "20.0 MiB");
    }
}
