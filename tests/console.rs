//! The web console over HTTP: login and sessions, CSRF and origin checks, security headers,
//! browse/upload/download/delete/share/thumbnails, and the same per-user rules as the S3 API
//! — against the real gateway over s3s-fs, reading the store directly to prove uploads are
//! sealed.

mod support;

use s3seal::config::{RuleConfig, UserConfig};
use std::io::Cursor;
use support::*;

const ALICE: (&str, &str) = ("alice", "alice-secret-0001");

async fn start() -> TestGateway {
    start_with(|_| {}).await
}

/// The harness's admin user plus alice, who may read/write/list/delete only `photos/alice/`.
async fn start_with(tweak: impl FnOnce(&mut s3seal::config::Config)) -> TestGateway {
    let gw = TestGateway::start_with(Upstream::Fs, |c| {
        c.users.push(UserConfig {
            access_key: ALICE.0.into(),
            secret_key: Some(ALICE.1.into()),
            secret_key_env: None,
            secret_key_file: None,
            expires: None,
            rules: vec![RuleConfig {
                bucket: "photos".into(),
                prefix: "${user}/".into(),
                allow: ["read", "write", "list", "delete"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
            }],
        });
        tweak(c);
    })
    .await;
    gw.client
        .create_bucket()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    gw
}

/// A logged-in browser: its session cookie and the CSRF token from the page.
struct Browser {
    addr: std::net::SocketAddr,
    cookie: String,
    csrf: String,
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

async fn send(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let h: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (status, head, body) = raw_request(addr, method, path, &h, body).await;
    Reply { status, head, body }
}

/// A login form post as a browser sends it (with its page's Origin).
async fn try_login(gw: &TestGateway, ak: &str, sk: &str) -> Reply {
    let form = format!("access_key={ak}&secret_key={sk}");
    let origin = format!("http://{}", gw.console_addr.unwrap());
    send(
        gw.console_addr.unwrap(),
        "POST",
        "/console/login",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("origin", &origin),
        ],
        form.as_bytes(),
    )
    .await
}

async fn login(gw: &TestGateway, ak: &str, sk: &str) -> Browser {
    let r = try_login(gw, ak, sk).await;
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r.header("set-cookie").expect("session cookie");
    let cookie = set.split(';').next().unwrap().to_owned();
    let mut b = Browser {
        addr: gw.console_addr.unwrap(),
        cookie,
        csrf: String::new(),
    };
    let page = b.get("/console/").await;
    assert_eq!(page.status, 200);
    let text = page.text();
    let at = text
        .find(r#"name="csrf-token" content=""#)
        .expect("csrf meta tag")
        + r#"name="csrf-token" content=""#.len();
    b.csrf = text[at..].split('"').next().unwrap().to_owned();
    b
}

impl Browser {
    async fn get(&self, path: &str) -> Reply {
        send(self.addr, "GET", path, &[("cookie", &self.cookie)], b"").await
    }

    /// A console API call as the page's script makes it.
    async fn api(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        send(
            self.addr,
            method,
            path,
            &[("cookie", &self.cookie), ("x-csrf-token", &self.csrf)],
            body,
        )
        .await
    }
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([x as u8, y as u8, 99]));
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn assert_hardened(r: &Reply) {
    let csp = r.header("content-security-policy").expect("CSP");
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
    assert_eq!(r.header("referrer-policy").as_deref(), Some("same-origin"));
}

#[tokio::test]
async fn login_gate_cookie_and_headers() {
    let gw = start().await;
    let r = send(gw.console_addr.unwrap(), "GET", "/console/", &[], b"").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(r#"<form id="login""#));
    assert_hardened(&r);
    assert_eq!(
        r.header("strict-transport-security"),
        None,
        "no HSTS on plain HTTP"
    );
    // Pages redirect to the login; the API answers 401.
    let r = send(
        gw.console_addr.unwrap(),
        "GET",
        "/console/b/photos/",
        &[],
        b"",
    )
    .await;
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (303, Some("/console/"))
    );
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        "/console/api/delete?bucket=photos&key=x",
        &[],
        b"",
    )
    .await;
    assert_eq!(r.status, 401);
    assert_hardened(&r);

    for (ak, sk) in [
        (ACCESS_KEY, "wrong-secret"),
        ("nobody", "x"),
        (ACCESS_KEY, ""),
    ] {
        let r = try_login(&gw, ak, sk).await;
        assert_eq!(r.status, 401, "{ak}/{sk}");
        assert!(r.text().contains(r#"class="error""#));
        assert_eq!(r.header("set-cookie"), None);
    }
    let r = try_login(&gw, ACCESS_KEY, SECRET_KEY).await;
    assert_eq!(r.status, 303);
    let c = r.header("set-cookie").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(c.contains(attr), "{c} lacks {attr}");
    }
    assert!(
        !c.contains("Secure"),
        "plain HTTP: a Secure cookie would never come back"
    );
    // A forged cookie is no session.
    let r = send(
        gw.console_addr.unwrap(),
        "GET",
        "/console/b/photos/",
        &[("cookie", "s3seal_console=forged")],
        b"",
    )
    .await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn browse_upload_download_delete() {
    let gw = start().await;
    gw.put("photos", "docs/a.txt", b"hello console").await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;

    let home = b.get("/console/").await;
    assert!(
        home.text()
            .contains(r#"<a class="bucket" href="/console/b/photos/">photos</a>"#)
    );
    assert_hardened(&home);
    let root = b.get("/console/b/photos/").await;
    assert!(
        root.text()
            .contains(r#"href="/console/b/photos/docs/">docs/</a>"#),
        "{}",
        root.text()
    );
    let docs = b.get("/console/b/photos/docs/").await;
    let t = docs.text();
    assert!(t.contains(r#"data-key="docs/a.txt" data-size="13""#), "{t}");
    assert!(
        t.contains(&format!(r#"<td class="owner">{ACCESS_KEY}</td>"#)),
        "owner shown: {t}"
    );

    // Upload through the console: stored sealed, readable through S3.
    let data = pattern(300_000, 5);
    let r = b
        .api(
            "PUT",
            "/console/api/object?bucket=photos&key=docs/up%20load.bin",
            &data,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.get("photos", "docs/up load.bin").await, data);
    let (stored, meta) = gw.raw_get("photos", "docs/up load.bin").await;
    assert!(
        meta.contains_key("s3seal-dek"),
        "wrapped key in metadata: {meta:?}"
    );
    assert!(stored.len() > data.len());
    assert!(
        !stored.windows(64).any(|w| w == &data[1000..1064]),
        "plaintext in the store"
    );

    // Download: exact bytes, never rendered inline.
    let r = b.get("/console/dl/photos/docs/up%20load.bin").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );

    // Delete needs the CSRF token and a same-origin Origin.
    let path = "/console/api/delete?bucket=photos&key=docs/a.txt";
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        path,
        &[("cookie", &b.cookie)],
        b"",
    )
    .await;
    assert_eq!(r.status, 403, "no CSRF token");
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        path,
        &[("cookie", &b.cookie), ("x-csrf-token", "guess")],
        b"",
    )
    .await;
    assert_eq!(r.status, 403, "wrong CSRF token");
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        path,
        &[
            ("cookie", &b.cookie),
            ("x-csrf-token", &b.csrf),
            ("origin", "http://evil.example"),
        ],
        b"",
    )
    .await;
    assert_eq!(r.status, 403, "cross-origin");
    assert_eq!(
        gw.get("photos", "docs/a.txt").await,
        b"hello console",
        "still there"
    );
    let r = b.api("POST", path, b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let gone = gw
        .client
        .head_object()
        .bucket("photos")
        .key("docs/a.txt")
        .send()
        .await;
    assert!(gone.is_err());
}

#[tokio::test]
async fn multipart_upload_through_the_console_api() {
    let gw = start().await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let data = pattern(5 * 1024 * 1024 + 4321, 9);
    let q = "bucket=photos&key=big.bin";
    let r = b
        .api("POST", &format!("/console/api/mpu/create?{q}"), b"")
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["upload_id"].as_str().unwrap().to_owned();
    let mut parts = Vec::new();
    for (n, chunk) in data.chunks(5 * 1024 * 1024).enumerate() {
        let n = n + 1;
        let r = b
            .api(
                "PUT",
                &format!("/console/api/mpu/part?{q}&upload_id={id}&part={n}"),
                chunk,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        parts.push(serde_json::json!({"part": n, "etag": r.json()["etag"]}));
    }
    let done = serde_json::json!({ "parts": parts }).to_string();
    let r = b
        .api(
            "POST",
            &format!("/console/api/mpu/complete?{q}&upload_id={id}"),
            done.as_bytes(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(gw.get("photos", "big.bin").await, data);
    // A body over the console's part limit is refused before it is stored.
    let huge = vec![0u8; s3seal::console::MAX_PART + 1];
    let r = b
        .api("PUT", &format!("/console/api/object?{q}x"), &huge)
        .await;
    assert_eq!(r.status, 413);
    let r = b
        .api(
            "POST",
            "/console/api/mpu/complete?bucket=photos&key=big.bin&upload_id=bogus",
            b"{not json",
        )
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test]
async fn thumbnails_and_share_links() {
    let gw = start().await;
    let img = png(400, 200);
    gw.client
        .put_object()
        .bucket("photos")
        .key("pics/cat.png")
        .content_type("image/png")
        .body(img.clone().into())
        .send()
        .await
        .unwrap();
    gw.put("photos", "pics/notes.txt", b"not an image").await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let page = b.get("/console/b/photos/pics/").await.text();
    assert!(
        page.contains(
            r#"<img class="thumb" alt="" loading="lazy" src="/console/thumb/photos/pics/cat.png">"#
        ),
        "{page}"
    );
    let r = b.get("/console/thumb/photos/pics/cat.png").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("image/png"));
    let t = image::load_from_memory(&r.body).unwrap();
    assert_eq!((t.width(), t.height()), (160, 80));
    // Cached thereafter; the second request is the same picture.
    assert_eq!(
        b.get("/console/thumb/photos/pics/cat.png").await.body,
        r.body
    );
    assert_eq!(
        b.get("/console/thumb/photos/pics/notes.txt").await.status,
        415
    );
    assert_eq!(
        b.get("/console/thumb/photos/pics/none.png").await.status,
        404
    );

    // Share: a presigned link that works without any session, for a bounded time.
    let r = b
        .api(
            "POST",
            "/console/api/share?bucket=photos&key=pics/cat.png&expires=60",
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let url = r.json()["url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&gw.endpoint) && url.contains("X-Amz-Expires=60"),
        "{url}"
    );
    let path = &url[gw.endpoint.len()..];
    let fetched = send(gw.addr, "GET", path, &[], b"").await;
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, img);
    for bad in ["0", "604801", "soon"] {
        let r = b
            .api(
                "POST",
                &format!("/console/api/share?bucket=photos&key=pics/cat.png&expires={bad}"),
                b"",
            )
            .await;
        assert_eq!(r.status, 400, "expires={bad}");
    }
    let r = b
        .api(
            "POST",
            "/console/api/share?bucket=photos&key=pics/none&expires=60",
            b"",
        )
        .await;
    assert_eq!(r.status, 404, "nothing to share");
}

#[tokio::test]
async fn console_has_no_powers_beyond_the_users_rules() {
    let gw = start().await;
    gw.put("photos", "alice/mine.txt", b"alice").await;
    gw.put("photos", "bob/theirs.txt", b"bob").await;
    gw.client
        .put_object()
        .bucket("photos")
        .key("bob/pic.png")
        .content_type("image/png")
        .body(png(10, 10).into())
        .send()
        .await
        .unwrap();
    let a = login(&gw, ALICE.0, ALICE.1).await;
    let own = a.get("/console/b/photos/alice/").await;
    assert_eq!(own.status, 200);
    assert!(own.text().contains(r#"data-key="alice/mine.txt""#));
    let up = a
        .api(
            "PUT",
            "/console/api/object?bucket=photos&key=alice/new.txt",
            b"ok",
        )
        .await;
    assert_eq!(up.status, 200, "{}", up.text());

    let denied = [
        a.get("/console/b/photos/bob/").await,
        a.get("/console/dl/photos/bob/theirs.txt").await,
        a.get("/console/thumb/photos/bob/pic.png").await,
        a.api(
            "PUT",
            "/console/api/object?bucket=photos&key=bob/x.txt",
            b"x",
        )
        .await,
        a.api(
            "POST",
            "/console/api/delete?bucket=photos&key=bob/theirs.txt",
            b"",
        )
        .await,
        a.api(
            "POST",
            "/console/api/share?bucket=photos&key=bob/theirs.txt&expires=60",
            b"",
        )
        .await,
        a.api(
            "POST",
            "/console/api/mpu/create?bucket=photos&key=bob/big",
            b"",
        )
        .await,
    ];
    for (i, r) in denied.iter().enumerate() {
        assert_eq!(r.status, 403, "case {i}: {}", r.text());
        assert!(r.text().contains("AccessDenied"), "case {i}: {}", r.text());
    }
    assert_eq!(gw.get("photos", "bob/theirs.txt").await, b"bob");
    let none = gw
        .client
        .head_object()
        .bucket("photos")
        .key("bob/x.txt")
        .send()
        .await;
    assert!(none.is_err(), "the denied upload stored nothing");
    // What alice uploads carries her name as owner.
    let page = a.get("/console/b/photos/alice/").await.text();
    assert!(page.contains(r#"<td class="owner">alice</td>"#), "{page}");
}

#[tokio::test]
async fn logout_ends_the_session() {
    let gw = start().await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        "/console/logout",
        &[
            ("cookie", &b.cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        b"csrf=wrong",
    )
    .await;
    assert_eq!(r.status, 403, "logout needs the CSRF token too");
    let form = format!("csrf={}", b.csrf);
    let r = send(
        gw.console_addr.unwrap(),
        "POST",
        "/console/logout",
        &[
            ("cookie", &b.cookie),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let after = b.get("/console/b/photos/").await;
    assert_eq!(after.status, 303, "the old cookie is dead");
}

#[tokio::test]
async fn failed_logins_are_throttled() {
    let gw = start_with(|c| {
        c.auth.max_failures = 3;
        c.auth.failure_delay_ms = 0;
        c.auth.lockout_secs = 60;
    })
    .await;
    for _ in 0..3 {
        assert_eq!(try_login(&gw, ALICE.0, "guess").await.status, 401);
    }
    let r = try_login(&gw, ALICE.0, ALICE.1).await;
    assert_eq!(r.status, 429, "locked out even with the right secret");
    assert_eq!(r.header("set-cookie"), None);
    // Another user is not affected.
    login(&gw, ACCESS_KEY, SECRET_KEY).await;
}

#[tokio::test]
async fn console_can_be_switched_off_and_never_shadows_signed_s3() {
    // On: a bucket named "console" still works for S3 clients.
    let gw = start().await;
    gw.client
        .create_bucket()
        .bucket("console")
        .send()
        .await
        .unwrap();
    gw.put("console", "k", b"v").await;
    assert_eq!(gw.get("console", "k").await, b"v");
    drop(gw);
    // Off: no console listener; /console/ is just an unsigned S3 request.
    let gw = start_with(|c| c.server.console = false).await;
    assert_eq!(gw.console_addr, None);
    let r = send(gw.addr, "GET", "/console/", &[], b"").await;
    assert_eq!(r.status, 403);
    assert!(!r.text().contains("login"));
}

/// Issue 16 item 2: the console has its own listener (origin). The API port serves no console
/// page, the console port no S3 request, and an HTML object served by the API (a presigned GET
/// with `response-content-type=text/html`, as a share link is) lands on another origin than
/// the console, with nosniff.
#[tokio::test]
async fn console_has_its_own_origin_apart_from_the_s3_api() {
    let gw = start().await;
    let console = gw.console_addr.expect("console listener");
    assert_ne!(
        console.port(),
        gw.addr.port(),
        "console and API share an origin"
    );

    // The API port: no console page, no console login.
    let r = send(gw.addr, "GET", "/console/", &[], b"").await;
    assert_ne!(r.status, 200);
    assert!(!r.text().contains("<form"), "{}", r.text());
    let form = format!("access_key={ACCESS_KEY}&secret_key={SECRET_KEY}");
    let r = send(
        gw.addr,
        "POST",
        "/console/login",
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert!(
        r.header("set-cookie").is_none() && r.status >= 400,
        "{}",
        r.text()
    );

    // The console port: the console, `/` leads there, and no S3.
    let r = send(console, "GET", "/console/", &[], b"").await;
    assert!(r.status == 200 && r.text().contains(r#"<form id="login""#));
    let r = send(console, "GET", "/", &[], b"").await;
    assert_eq!(
        (r.status, r.header("location").as_deref()),
        (303, Some("/console/"))
    );
    let s3_on_console = client(&format!("http://{console}"), ACCESS_KEY, SECRET_KEY);
    assert!(s3_on_console.list_buckets().send().await.is_err());
    let r = send(console, "GET", "/photos/", &[], b"").await;
    assert_eq!(r.status, 404);
    assert_hardened(&r);

    // A stored page, opened as a browser opens a share link: served by the API's origin only.
    let evil = b"<html><script>fetch('/console/')</script></html>";
    gw.client
        .put_object()
        .bucket("photos")
        .key("evil.svg")
        .content_type("image/svg+xml")
        .body(evil.to_vec().into())
        .send()
        .await
        .unwrap();
    let url = gw
        .client
        .get_object()
        .bucket("photos")
        .key("evil.svg")
        .response_content_type("text/html")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let u: http::Uri = url.uri().parse().unwrap();
    assert_eq!(u.port_u16(), Some(gw.addr.port()));
    let pq = u.path_and_query().unwrap().as_str();
    let r = send(gw.addr, "GET", pq, &[], b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type").as_deref(), Some("text/html"));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.body, evil);
    // The same request on the console's port is not served.
    let r = send(console, "GET", pq, &[], b"").await;
    assert_eq!(r.status, 404);
    assert_ne!(r.body, evil);

    // A share link made in the console points at the API port, not the console's.
    gw.put("photos", "a.txt", b"shared").await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let r = b
        .api(
            "POST",
            "/console/api/share?bucket=photos&key=a.txt&expires=60",
            b"",
        )
        .await;
    let link: http::Uri = r.json()["url"].as_str().unwrap().parse().unwrap();
    assert_eq!(link.port_u16(), Some(gw.addr.port()));
    let r = send(
        gw.addr,
        "GET",
        link.path_and_query().unwrap().as_str(),
        &[],
        b"",
    )
    .await;
    assert_eq!((r.status, r.body.as_slice()), (200, &b"shared"[..]));
}

/// Issue 16 item 6: a tiny PNG claiming 8000x8000 pixels (192 MB decoded) is refused with a
/// 4xx from its header, however many ask at once, while ordinary thumbnails still work.
#[tokio::test]
async fn huge_dimension_thumbnails_are_refused_not_decoded() {
    let gw = start().await;
    let mut bomb = Vec::new();
    image::DynamicImage::ImageLuma8(image::GrayImage::new(8000, 8000))
        .write_to(&mut Cursor::new(&mut bomb), image::ImageFormat::Png)
        .unwrap();
    assert!(bomb.len() < 1024 * 1024);
    for (key, body) in [("pics/bomb.png", bomb), ("pics/ok.png", png(320, 240))] {
        gw.client
            .put_object()
            .bucket("photos")
            .key(key)
            .content_type("image/png")
            .body(body.into())
            .send()
            .await
            .unwrap();
    }
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let replies =
        futures::future::join_all((0..6).map(|_| b.get("/console/thumb/photos/pics/bomb.png")))
            .await;
    for r in replies {
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.text().contains("8000x8000"), "{}", r.text());
    }
    let r = b.get("/console/thumb/photos/pics/ok.png").await;
    assert_eq!(r.status, 200);
    let t = image::load_from_memory(&r.body).unwrap();
    assert_eq!((t.width(), t.height()), (160, 120));
}

/// Issue 16 item 6: console requests count toward `server.max_concurrent_requests` like S3
/// requests: with the only slot held by a streaming S3 GET, the console gets 503 SlowDown.
#[tokio::test]
async fn console_requests_take_a_concurrency_slot() {
    let gw = start_with(|c| c.server.max_concurrent_requests = 1).await;
    // Larger than loopback socket buffers, so the unread body cannot finish sending (which
    // would end the request and free its slot).
    gw.put("photos", "big.bin", &pattern(48 << 20, 5)).await;
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    assert_eq!(b.get("/console/").await.status, 200);
    // The body is not read: the response holds the slot until dropped.
    let held = gw
        .client
        .get_object()
        .bucket("photos")
        .key("big.bin")
        .send()
        .await
        .unwrap();
    let r = b.get("/console/").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("SlowDown"));
    drop(held);
    let mut ok = false;
    for _ in 0..100 {
        if b.get("/console/").await.status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "the slot came back once the S3 GET ended");
}

/// Console uploads are buffered before the S3 call that checks the user's rules, so a
/// logged-in user (even one who may write nothing) holding many half-sent 16 MiB bodies
/// could fill the gateway's memory. At most `MAX_BUFFERED_UPLOADS` are held; more get 503
/// from their head, and the slots come back when those connections go.
#[tokio::test]
async fn console_upload_bodies_held_in_memory_are_capped() {
    use tokio::io::AsyncWriteExt;
    let gw = start().await;
    let b = login(&gw, ALICE.0, ALICE.1).await;
    let cap = s3seal::console::MAX_BUFFERED_UPLOADS;
    let len = s3seal::console::MAX_PART - 1;
    let mut held = Vec::new();
    for i in 0..cap {
        let mut s = tokio::net::TcpStream::connect(b.addr).await.unwrap();
        let head = format!(
            "PUT /console/api/object?bucket=photos&key=bob/x{i} HTTP/1.1\r\nhost: {}\r\ncookie: {}\r\nx-csrf-token: {}\r\ncontent-length: {len}\r\n\r\n",
            b.addr, b.cookie, b.csrf
        );
        s.write_all(head.as_bytes()).await.unwrap();
        s.write_all(&vec![b'A'; 1 << 20]).await.unwrap();
        held.push(s);
    }
    // The held bodies are being read; one more upload is refused, not buffered.
    let mut refused = false;
    for _ in 0..100 {
        let r = b
            .api(
                "PUT",
                "/console/api/object?bucket=photos&key=alice/late",
                b"late",
            )
            .await;
        if r.status == 503 {
            assert!(r.text().contains("too many uploads"), "{}", r.text());
            refused = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(refused, "a {}th buffered upload was accepted", cap + 1);
    drop(held);
    let mut ok = false;
    for _ in 0..100 {
        let r = b
            .api(
                "PUT",
                "/console/api/object?bucket=photos&key=alice/late",
                b"late",
            )
            .await;
        if r.status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "the slots came back once the connections went");
    assert_eq!(gw.get("photos", "alice/late").await, b"late");
}

/// One key holding a control character (which XML 1.0 cannot carry) must not break its
/// folder's page for everyone: listed with `encoding-type=url`, every name shows as written.
#[tokio::test]
async fn keys_with_control_characters_and_escapes_list_in_the_console() {
    let gw = start().await;
    for k in [
        "odd/ok.txt",
        "odd/x\u{1}y",
        "odd/a b+c%41.txt",
        "odd/sub dir/f",
    ] {
        gw.put("photos", k, b"x").await;
    }
    let b = login(&gw, ACCESS_KEY, SECRET_KEY).await;
    let page = b.get("/console/b/photos/odd/").await;
    let t = page.text();
    assert_eq!(page.status, 200, "{t}");
    assert!(t.contains(r#"data-key="odd/ok.txt""#), "{t}");
    assert!(
        t.contains("odd/a b+c%41.txt"),
        "names shown as written: {t}"
    );
    assert!(t.contains("sub dir/"), "folders decoded: {t}");
    assert!(t.contains("data-key=\"odd/x"), "the odd key is listed: {t}");
    assert_eq!(b.get("/console/b/photos/").await.status, 200);
}
