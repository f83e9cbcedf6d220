//! Bucket CORS: a web app uploads from the browser straight to the gateway with a presigned
//! URL, as it does to S3. The browser's unsigned OPTIONS preflight is answered from the
//! bucket's rules (PutBucketCors, kept by the store), and the page's own requests carry the
//! `Access-Control-*` headers that let it read the answer. A real browser does this in
//! `tests/compat/browser_cors.sh`; here every upstream is checked header by header.

mod support;

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use std::time::Duration;
use support::*;

const APP: &str = "https://app.example";

fn head_value(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

async fn preflight(
    gw: &TestGateway,
    path: &str,
    origin: &str,
    method: &str,
    hdrs: &str,
) -> (u16, String, String) {
    let mut h = vec![
        ("origin".to_owned(), origin.to_owned()),
        (
            "access-control-request-method".to_owned(),
            method.to_owned(),
        ),
    ];
    if !hdrs.is_empty() {
        h.push(("access-control-request-headers".to_owned(), hdrs.to_owned()));
    }
    let (status, head, body) = raw_request(gw.addr, "OPTIONS", path, &h, b"").await;
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

fn app_rules() -> CorsConfiguration {
    CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .allowed_origins(APP)
                .allowed_methods("PUT")
                .allowed_methods("GET")
                .allowed_methods("HEAD")
                .allowed_headers("*")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn uri_path(uri: &str) -> String {
    let u: http::Uri = uri.parse().unwrap();
    u.path_and_query().unwrap().to_string()
}

#[tokio::test]
async fn browsers_upload_with_presigned_urls_once_the_bucket_allows_their_origin() {
    for kind in ALL {
        let mut gw = TestGateway::start(kind).await;
        let b = gw.bucket().await;
        let key = "uploads/photo a+b.jpg";
        let path = format!("/{b}/uploads/photo%20a%2Bb.jpg");

        // No rules yet: the preflight is refused as S3 refuses it.
        let (status, head, body) = preflight(&gw, &path, APP, "PUT", "content-type").await;
        assert_eq!(status, 403, "{kind:?}: {head}");
        assert!(
            body.contains("AccessForbidden") && body.contains("not enabled"),
            "{body}"
        );
        assert_eq!(head_value(&head, "access-control-allow-origin"), None);

        gw.client
            .put_bucket_cors()
            .bucket(&b)
            .cors_configuration(app_rules())
            .send()
            .await
            .unwrap();
        let got = gw.client.get_bucket_cors().bucket(&b).send().await.unwrap();
        let rule = &got.cors_rules()[0];
        assert_eq!(rule.allowed_origins(), [APP]);
        assert_eq!(rule.allowed_methods(), ["PUT", "GET", "HEAD"]);
        assert_eq!(rule.expose_headers(), ["ETag"]);
        assert_eq!(rule.max_age_seconds(), Some(600));

        // The app's origin may PUT with its headers; another origin, or a method the rules
        // leave out, may not.
        let (status, head, _) =
            preflight(&gw, &path, APP, "PUT", "Content-Type, X-Amz-Meta-Owner").await;
        assert_eq!(status, 200, "{kind:?}: {head}");
        assert_eq!(
            head_value(&head, "access-control-allow-origin").as_deref(),
            Some(APP)
        );
        assert_eq!(
            head_value(&head, "access-control-allow-methods").as_deref(),
            Some("PUT, GET, HEAD")
        );
        assert_eq!(
            head_value(&head, "access-control-allow-headers").as_deref(),
            Some("content-type, x-amz-meta-owner")
        );
        assert_eq!(
            head_value(&head, "access-control-max-age").as_deref(),
            Some("600")
        );
        for (origin, method) in [("https://evil.example", "PUT"), (APP, "DELETE")] {
            let (status, head, body) = preflight(&gw, &path, origin, method, "").await;
            assert_eq!(status, 403, "{kind:?} {origin} {method}: {head}");
            assert!(body.contains("AccessForbidden"), "{body}");
            assert_eq!(head_value(&head, "access-control-allow-origin"), None);
        }

        // The upload itself, as the page sends it: presigned, with its Origin.
        let plain = pattern(70_000, 11);
        let ttl = PresigningConfig::expires_in(Duration::from_secs(300)).unwrap();
        let put = gw
            .client
            .put_object()
            .bucket(&b)
            .key(key)
            .presigned(ttl.clone())
            .await
            .unwrap();
        let mut h: Vec<(String, String)> = put
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        h.push(("origin".into(), APP.into()));
        let (status, head, _) = raw_request(gw.addr, "PUT", &uri_path(put.uri()), &h, &plain).await;
        assert_eq!(status, 200, "{kind:?}: {head}");
        assert_eq!(
            head_value(&head, "access-control-allow-origin").as_deref(),
            Some(APP)
        );
        assert_eq!(
            head_value(&head, "access-control-expose-headers").as_deref(),
            Some("ETag")
        );
        assert!(head_value(&head, "etag").is_some());
        // Sealed at the store like any other upload.
        let (stored, meta) = gw.raw_get(&b, key).await;
        assert_ne!(stored, plain, "{kind:?}: stored sealed");
        assert!(
            meta.contains_key("s3seal-dek"),
            "{kind:?}: wrapped key in metadata"
        );
        assert_eq!(gw.get(&b, key).await, plain);

        // Reading it back from the page; another origin's page is served (S3 does too) but
        // gets no grant, so its browser hides the answer.
        let get = gw
            .client
            .get_object()
            .bucket(&b)
            .key(key)
            .presigned(ttl)
            .await
            .unwrap();
        for (origin, granted) in [(APP, true), ("https://evil.example", false)] {
            let mut h: Vec<(String, String)> = get
                .headers()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            h.push(("origin".into(), origin.into()));
            let (status, head, body) =
                raw_request(gw.addr, "GET", &uri_path(get.uri()), &h, b"").await;
            assert_eq!(status, 200, "{kind:?}: {head}");
            assert_eq!(body, plain);
            assert_eq!(
                head_value(&head, "access-control-allow-origin").is_some(),
                granted,
                "{kind:?} {origin}: {head}"
            );
        }

        // The rules outlive a restart (they are the store's), and deleting them takes effect
        // at once, not after the gateway's few-second cache.
        if kind != Upstream::Moto {
            gw = gw.restart().await;
        }
        assert_eq!(
            preflight(&gw, &path, APP, "GET", "").await.0,
            200,
            "{kind:?}"
        );
        gw.client
            .delete_bucket_cors()
            .bucket(&b)
            .send()
            .await
            .unwrap();
        assert_eq!(
            preflight(&gw, &path, APP, "GET", "").await.0,
            403,
            "{kind:?}"
        );
        assert_eq!(
            error_code(gw.client.get_bucket_cors().bucket(&b).send().await).as_deref(),
            Some("NoSuchCORSConfiguration"),
            "{kind:?}"
        );
        gw.stop().await;
    }
}

#[tokio::test]
async fn preflights_refuse_what_s3_refuses_and_never_authenticate_anything() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    gw.client
        .put_bucket_cors()
        .bucket(&b)
        .cors_configuration(app_rules())
        .send()
        .await
        .unwrap();
    let path = format!("/{b}/k");
    // No Origin, no requested method: 400 as on S3.
    let (status, _, body) = raw_request(gw.addr, "OPTIONS", &path, &[], b"").await;
    assert_eq!(status, 400);
    assert!(String::from_utf8_lossy(&body).contains("Origin request header needed"));
    let h = vec![("origin".to_owned(), APP.to_owned())];
    let (status, _, _) = raw_request(gw.addr, "OPTIONS", &path, &h, b"").await;
    assert_eq!(status, 400);
    // A bucket that does not exist, or a name that cannot be one.
    for p in ["/no-such-bucket-here/k", "/../etc/passwd", "/"] {
        assert_eq!(preflight(&gw, p, APP, "GET", "").await.0, 403, "{p}");
    }
    // A grant lets the browser read answers; it is never authorization. An unsigned PUT from
    // the allowed origin is still refused, and stores nothing.
    let h = vec![("origin".to_owned(), APP.to_owned())];
    let (status, head, _) = raw_request(gw.addr, "PUT", &path, &h, b"anonymous").await;
    assert_eq!(status, 403, "{head}");
    assert_eq!(
        error_code(gw.client.head_object().bucket(&b).key("k").send().await).as_deref(),
        Some("NotFound")
    );
}

#[tokio::test]
async fn cors_configurations_are_checked_and_only_admins_set_them() {
    for kind in [Upstream::Fs, Upstream::Store] {
        let gw = TestGateway::start_with(kind, |c| {
            c.users.push(user(
                "uploader",
                "uploader-secret-0001",
                vec![rule("*", "", &["read", "write", "list"])],
            ));
        })
        .await;
        let b = gw.bucket().await;
        // A user who may write objects may not open the bucket to other origins.
        let uploader = client(&gw.endpoint, "uploader", "uploader-secret-0001");
        assert_eq!(
            error_code(
                uploader
                    .put_bucket_cors()
                    .bucket(&b)
                    .cors_configuration(app_rules())
                    .send()
                    .await
            )
            .as_deref(),
            Some("AccessDenied"),
            "{kind:?}"
        );
        assert_eq!(
            error_code(gw.client.get_bucket_cors().bucket(&b).send().await).as_deref(),
            Some("NoSuchCORSConfiguration"),
            "{kind:?}"
        );
        let bad = CorsConfiguration::builder()
            .cors_rules(
                CorsRule::builder()
                    .allowed_origins("*")
                    .allowed_methods("PATCH")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            error_code(
                gw.client
                    .put_bucket_cors()
                    .bucket(&b)
                    .cors_configuration(bad)
                    .send()
                    .await
            )
            .as_deref(),
            Some("InvalidRequest"),
            "{kind:?}"
        );
        assert_eq!(
            error_code(
                gw.client
                    .put_bucket_cors()
                    .bucket("no-such-bucket-for-cors")
                    .cors_configuration(app_rules())
                    .send()
                    .await
            )
            .as_deref(),
            Some("NoSuchBucket"),
            "{kind:?}"
        );
        gw.stop().await;
    }
}

/// A bucket deleted and created again starts without the old one's rules, at once (the
/// gateway's cache kept them for 5 s; outside probe).
#[tokio::test]
async fn a_recreated_bucket_has_no_rules() {
    let gw = TestGateway::start(Upstream::Fs).await;
    let b = gw.bucket().await;
    let path = format!("/{b}/k");
    gw.client
        .put_bucket_cors()
        .bucket(&b)
        .cors_configuration(app_rules())
        .send()
        .await
        .unwrap();
    assert_eq!(preflight(&gw, &path, APP, "GET", "").await.0, 200);
    gw.client.delete_bucket().bucket(&b).send().await.unwrap();
    gw.client.create_bucket().bucket(&b).send().await.unwrap();
    assert_eq!(preflight(&gw, &path, APP, "GET", "").await.0, 403);
}
