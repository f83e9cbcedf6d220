//! Console sessions: a random cookie token maps to the logged-in user's S3 client and a CSRF
//! token. Held in memory only; a restart logs everyone out, which is the safe failure.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "s3seal_console";

/// A session lives this long after login, active or not.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// More sessions than this and the oldest are dropped: logins cannot grow memory unbounded.
const MAX_SESSIONS: usize = 10_000;

#[derive(Clone)]
pub struct Session {
    pub access_key: String,
    pub csrf: String,
    /// Signs as this user through the gateway's own S3 service.
    pub client: aws_sdk_s3::Client,
    /// Only for presigned share links, which must carry the user's signature.
    pub secret: std::sync::Arc<zeroize::Zeroizing<String>>,
    expires: Instant,
}

impl Session {
    /// Constant-time: the CSRF token is a secret.
    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(self.csrf.as_bytes())))
    }
}

/// Sessions keyed by the SHA-256 of their token, so a map lookup's timing says nothing about
/// the token itself and a memory dump holds no usable cookie.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Starts a session; returns the cookie token.
    pub fn create(&self, access_key: String, secret: String, client: aws_sdk_s3::Client) -> String {
        let token = random_token();
        let session = Session {
            access_key,
            csrf: random_token(),
            client,
            secret: std::sync::Arc::new(zeroize::Zeroizing::new(secret)),
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self.map.lock().expect("sessions lock");
        let now = Instant::now();
        map.retain(|_, s| s.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(digest(&token), session);
        token
    }

    pub fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.map.lock().expect("sessions lock");
        let k = digest(token);
        match map.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .expect("sessions lock")
            .remove(&digest(token));
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// 256 random bits, URL-safe.
fn random_token() -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The session token from a Cookie header, if any.
pub fn token_from(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_owned())
}

/// Set-Cookie for a new session: HttpOnly, SameSite=Strict, scoped to the console, Secure
/// when the listener has TLS.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME.as_secs()
    )
}

pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let c = set_cookie("t", true);
        for a in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/console"] {
            assert!(c.contains(a), "{c} lacks {a}");
        }
        assert!(!set_cookie("t", false).contains("Secure"));
    }

    #[test]
    fn token_is_found_among_other_cookies() {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=b; s3seal_console=tok; c=d".parse().unwrap(),
        );
        assert_eq!(token_from(&h).as_deref(), Some("tok"));
        h.insert(http::header::COOKIE, "s3seal_consolex=no".parse().unwrap());
        assert_eq!(token_from(&h), None);
    }
}
