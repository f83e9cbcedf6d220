//! The HTTP side of bucket CORS (rules and matching: `crate::cors`): the anonymous `OPTIONS`
//! preflight a browser sends before a cross-origin request, and the `Access-Control-*`
//! headers on the answers to pages' requests. Without them a web app cannot upload to the
//! gateway from the browser with a presigned URL, as it does to S3.

use crate::cors::{self, Grant};
use crate::preauth::Refusal;
use crate::seal::Seal;
use http::{HeaderMap, HeaderValue};

/// The preflight's answer: 200 with the grant, or S3's 400/403.
pub async fn preflight(seal: &Seal, bucket: &str, headers: &HeaderMap) -> Result<Grant, Refusal> {
    let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let refuse = |status, code, message: &str| Refusal {
        status,
        code,
        message: message.to_owned(),
    };
    let Some(origin) = get("origin") else {
        return Err(refuse(
            400,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    };
    let Some(method) = get("access-control-request-method") else {
        return Err(refuse(
            400,
            "BadRequest",
            "Invalid Access-Control-Request-Method: null",
        ));
    };
    let rules = seal.cors_rules(bucket).await;
    cors::preflight(
        rules.as_deref(),
        origin,
        method,
        get("access-control-request-headers"),
    )
    .map_err(|msg| refuse(403, "AccessForbidden", msg))
}

/// The grant for a page's request to `bucket` (its `Origin` set), if a rule allows it.
pub async fn grant_for(
    seal: &Seal,
    bucket: &str,
    origin: &str,
    method: &http::Method,
) -> Option<Grant> {
    let rules = seal.cors_rules(bucket).await?;
    cors::actual(&rules, origin, method.as_str())
}

pub fn apply(grant: Grant, headers: &mut HeaderMap) {
    for (name, value) in grant.headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}
