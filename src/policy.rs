//! Who may do what: per-user grants over buckets and key prefixes, enforced as an s3s
//! `S3Access` after the signature is verified and before any request body is read.
//!
//! A user without rules is an administrator. A user with rules may do exactly what some rule
//! grants; everything else is AccessDenied, logged with user, operation and resource (never
//! secrets). Operations are classified by name; an operation this module does not know is
//! bucket management ("admin"), so new S3 operations are denied to restricted users by default.

use crate::config::UserConfig;
use crate::keyrules::KeyRules;
use s3s::access::{S3Access, S3AccessContext};
use s3s::dto::{CopySource, DeleteObjectsInput};
use s3s::path::S3Path;
use s3s::{S3Request, S3Result, s3_error};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    Read,
    Write,
    Delete,
    List,
    Admin,
}

impl Perm {
    fn parse(s: &str) -> Option<Perm> {
        Some(match s {
            "read" => Perm::Read,
            "write" => Perm::Write,
            "delete" => Perm::Delete,
            "list" => Perm::List,
            "admin" => Perm::Admin,
            _ => return None,
        })
    }

    fn verb(self) -> &'static str {
        match self {
            Perm::Read => "read",
            Perm::Write => "write",
            Perm::Delete => "delete",
            Perm::List => "list",
            Perm::Admin => "manage",
        }
    }
}

#[derive(Debug)]
struct Rule {
    bucket: String,
    prefix: String,
    perms: Vec<Perm>,
}

/// What the S3 layer learned about a request, for the HTTP layer's throttle, metrics and
/// logs: whether its signature verified (a policy denial is then not a failed login), its
/// operation and its user.
#[derive(Clone, Default)]
pub struct RequestInfo(pub Arc<RequestFacts>);

#[derive(Default)]
pub struct RequestFacts {
    pub authenticated: AtomicBool,
    pub op: std::sync::OnceLock<String>,
    pub user: std::sync::OnceLock<String>,
}

impl RequestInfo {
    /// Records what `cx` authenticated as and which operation it is.
    fn note(cx: &mut S3AccessContext<'_>, user: &str) {
        let op = cx.s3_op().name().to_owned();
        if let Some(a) = cx.extensions_mut().get::<RequestInfo>() {
            a.0.authenticated.store(true, Ordering::Relaxed);
            let _ = a.0.op.set(op);
            let _ = a.0.user.set(user.to_owned());
        }
    }
}

/// Access for a bare store (`store-serve`, tests, benches): any signed request, noted in
/// [`RequestInfo`] like the gateway's so the HTTP layer's fix-ups and logs apply alike.
pub struct SignedOnly;

#[async_trait::async_trait]
impl S3Access for SignedOnly {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(user) = cx.credentials().map(|c| c.access_key.clone()) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        RequestInfo::note(cx, &user);
        Ok(())
    }
}

/// The keys of a DeleteObjects the user's rules forbid, taken out of the request so the
/// handler reports each as `AccessDenied` beside the keys it deleted.
#[derive(Clone)]
pub struct DeniedDeletes(pub Vec<s3s::dto::ObjectIdentifier>);

/// The rules of every proxy user. `None`: no rules, full access. Cheap to clone, so the
/// `Seal` layer can share it (ListBuckets shows each user only the buckets it names).
#[derive(Default, Clone)]
pub struct Policy {
    users: Arc<HashMap<String, Option<Vec<Rule>>>>,
    /// What keys the store holds faithfully; checked before any rule.
    keys: KeyRules,
}

impl Policy {
    pub fn from_config(users: &[UserConfig]) -> Policy {
        let mut p = HashMap::new();
        for u in users {
            let rules = (!u.rules.is_empty()).then(|| {
                u.rules
                    .iter()
                    .map(|r| Rule {
                        bucket: r.bucket.clone(),
                        prefix: r.prefix.replace("${user}", &u.access_key),
                        perms: r.allow.iter().filter_map(|a| Perm::parse(a)).collect(),
                    })
                    .collect()
            });
            p.insert(u.access_key.clone(), rules);
        }
        Policy {
            users: Arc::new(p),
            keys: KeyRules::Any,
        }
    }

    /// Sets the key rules of the store behind the gateway.
    pub fn with_key_rules(mut self, keys: KeyRules) -> Policy {
        self.keys = keys;
        self
    }

    /// May `user` do `perm` on `key` (a key, or a listing prefix) in `bucket`?
    pub fn allows(&self, user: &str, perm: Perm, bucket: &str, key: &str) -> bool {
        match self.users.get(user) {
            // Users not in the policy (the embedded default's generated user) are admins.
            None | Some(None) => true,
            Some(Some(rules)) => rules.iter().any(|r| {
                (r.bucket == "*" || r.bucket == bucket)
                    && r.perms.contains(&perm)
                    && (perm == Perm::Admin || key.starts_with(&r.prefix))
            }),
        }
    }

    /// May `user` do anything at all in `bucket` (HeadBucket, GetBucketLocation, seeing it
    /// in ListBuckets)?
    pub fn touches(&self, user: &str, bucket: &str) -> bool {
        match self.users.get(user) {
            None | Some(None) => true,
            Some(Some(rules)) => rules.iter().any(|r| r.bucket == "*" || r.bucket == bucket),
        }
    }

    fn deny(&self, user: &str, op: &str, perm: Perm, bucket: &str, key: &str) -> s3s::S3Error {
        tracing::info!(user, op, bucket, key, "access denied by policy");
        let what = if key.is_empty() {
            bucket.to_owned()
        } else {
            format!("{bucket}/{key}")
        };
        s3_error!(AccessDenied, "user {user} may not {} {what}", perm.verb())
    }
}

/// What an operation needs, by name.
fn classify(op: &str) -> Option<Perm> {
    Some(match op {
        "GetObject"
        | "HeadObject"
        | "GetObjectTagging"
        | "GetObjectAcl"
        | "GetObjectAttributes"
        | "GetObjectRetention"
        | "GetObjectLegalHold" => Perm::Read,
        "PutObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "UploadPartCopy"
        | "CompleteMultipartUpload"
        | "AbortMultipartUpload"
        | "ListParts"
        | "CopyObject"
        | "PutObjectTagging"
        | "DeleteObjectTagging"
        | "PutObjectAcl" => Perm::Write,
        "DeleteObject" | "DeleteObjects" => Perm::Delete,
        "ListObjects" | "ListObjectsV2" | "ListObjectVersions" | "ListMultipartUploads" => {
            Perm::List
        }
        "ListBuckets" | "HeadBucket" | "GetBucketLocation" => return None,
        _ => Perm::Admin,
    })
}

/// `x-amz-copy-source`, parsed exactly as s3s parses it for the operation (only
/// `?versionId=` ends the key; a bare `?` is part of it), so the rule check sees the very
/// bucket and key the store is asked to read.
fn copy_source(cx: &S3AccessContext<'_>) -> Option<(String, String)> {
    let raw = cx.headers().get("x-amz-copy-source")?.to_str().ok()?;
    match CopySource::parse(raw).ok()? {
        CopySource::Bucket { bucket, key, .. } => Some((bucket.into(), key.into())),
        _ => None,
    }
}

/// Percent-decoding for paths, headers and query values; None on bad escapes or UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(h, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn query_param(cx: &S3AccessContext<'_>, name: &str) -> Option<String> {
    let q = cx.uri().query()?;
    q.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name)
            .then(|| percent_decode(&v.replace('+', " ")))
            .flatten()
    })
}

#[async_trait::async_trait]
impl S3Access for Policy {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        let Some(user) = cx.credentials().map(|c| c.access_key.clone()) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        RequestInfo::note(cx, &user);
        let op = cx.s3_op().name().to_owned();
        let op = op.as_str();
        let (bucket, key) = match cx.s3_path() {
            S3Path::Root => (String::new(), String::new()),
            S3Path::Bucket { bucket } => (bucket.to_string(), String::new()),
            S3Path::Object { bucket, key } => (bucket.to_string(), key.to_string()),
        };
        // Keys the store cannot hold faithfully are refused for everyone, admins included.
        if !key.is_empty() {
            self.keys.check_key(&key)?;
        }
        if let Some(prefix) = query_param(cx, "prefix") {
            self.keys.check_prefix(&prefix)?;
        }
        let copy = cx.headers().contains_key("x-amz-copy-source");
        if copy && let Some((_, sk)) = copy_source(cx) {
            self.keys.check_key(&sk)?;
        }
        let Some(perm) = classify(op) else {
            if bucket.is_empty() || self.touches(&user, &bucket) {
                return Ok(());
            }
            return Err(self.deny(&user, op, Perm::List, &bucket, ""));
        };
        let key = match perm {
            Perm::List => query_param(cx, "prefix").unwrap_or_default(),
            // Each key of a multi-delete is checked once the body is parsed (below).
            Perm::Delete if op == "DeleteObjects" => {
                if self.touches(&user, &bucket) {
                    return Ok(());
                }
                return Err(self.deny(&user, op, perm, &bucket, ""));
            }
            _ => key,
        };
        if !self.allows(&user, perm, &bucket, &key) {
            return Err(self.deny(&user, op, perm, &bucket, &key));
        }
        if matches!(op, "CopyObject" | "UploadPartCopy") {
            let (sb, sk) = copy_source(cx)
                .ok_or_else(|| s3_error!(InvalidArgument, "x-amz-copy-source is malformed"))?;
            if !self.allows(&user, Perm::Read, &sb, &sk) {
                return Err(self.deny(&user, op, Perm::Read, &sb, &sk));
            }
        }
        Ok(())
    }

    async fn delete_objects(&self, req: &mut S3Request<DeleteObjectsInput>) -> S3Result<()> {
        let Some(user) = req.credentials.as_ref().map(|c| c.access_key.clone()) else {
            return Err(s3_error!(AccessDenied, "Signature is required"));
        };
        let bucket = &req.input.bucket;
        for o in &req.input.delete.objects {
            self.keys.check_key(&o.key)?;
        }
        // As S3 does under a policy: forbidden keys are answered one by one in the result's
        // errors and the rest are deleted (`aws s3 rm --recursive` over a shared prefix).
        let (allowed, denied): (Vec<_>, Vec<_>) = std::mem::take(&mut req.input.delete.objects)
            .into_iter()
            .partition(|o| self.allows(&user, Perm::Delete, bucket, &o.key));
        for o in &denied {
            let key = o.key.as_str();
            tracing::info!(
                user,
                op = "DeleteObjects",
                bucket,
                key,
                "access denied by policy"
            );
        }
        req.input.delete.objects = allowed;
        if !denied.is_empty() {
            req.extensions.insert(DeniedDeletes(denied));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(toml_users: &str) -> Policy {
        let cfg = crate::config::Config::parse(toml_users, "test.toml").unwrap();
        Policy::from_config(&cfg.users)
    }

    #[test]
    fn prefixes_expand_the_user_and_grant_only_listed_permissions() {
        let p = policy(
            r#"
[[users]]
access_key = "alice"
secret_key = "s"
[[users.rules]]
bucket = "photos"
prefix = "${user}/"
allow = ["read", "write", "list"]
[[users]]
access_key = "root1"
secret_key = "s"
"#,
        );
        assert!(p.allows("alice", Perm::Read, "photos", "alice/a.jpg"));
        assert!(p.allows("alice", Perm::List, "photos", "alice/"));
        assert!(!p.allows("alice", Perm::List, "photos", ""));
        assert!(!p.allows("alice", Perm::Read, "photos", "bob/a.jpg"));
        assert!(!p.allows("alice", Perm::Delete, "photos", "alice/a.jpg"));
        assert!(!p.allows("alice", Perm::Read, "other", "alice/a.jpg"));
        assert!(!p.allows("alice", Perm::Admin, "photos", ""));
        assert!(p.allows("root1", Perm::Admin, "anything", ""));
    }

    #[test]
    fn unknown_operations_need_admin() {
        assert_eq!(classify("PutBucketPolicy"), Some(Perm::Admin));
        assert_eq!(classify("DeleteBucket"), Some(Perm::Admin));
        assert_eq!(classify("GetObject"), Some(Perm::Read));
    }

    #[test]
    fn copy_source_and_query_decoding() {
        assert_eq!(percent_decode("a%2Fb%20c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("bad%zz"), None);
        assert_eq!(percent_decode("cut%2"), None);
    }
}
