//! The proxy's own users: SigV4 credentials the gateway holds, separate from the upstream's.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

#[derive(Clone)]
struct User {
    secret: SecretKey,
    expires: Option<OffsetDateTime>,
}

/// Access key → secret. Unknown keys get `InvalidAccessKeyId`, as S3 answers. Cheap to
/// clone: the S3 service and the console share one table.
#[derive(Default, Clone)]
pub struct Users {
    users: Arc<HashMap<String, User>>,
}

impl Users {
    pub fn insert(&mut self, access_key: String, secret: String) {
        self.insert_expiring(access_key, secret, None);
    }

    /// A user whose key is refused after `expires`.
    pub fn insert_expiring(
        &mut self,
        access_key: String,
        secret: String,
        expires: Option<OffsetDateTime>,
    ) {
        let secret = SecretKey::from(secret);
        Arc::make_mut(&mut self.users).insert(access_key, User { secret, expires });
    }

    /// Checks a secret typed into the console's login form: constant-time, and an unknown key
    /// costs the same compare so timing does not reveal which access keys exist.
    pub fn verify(&self, access_key: &str, secret: &str) -> bool {
        let user = self.users.get(access_key);
        let expected = user.map_or("\0unknown-user\0", |u| u.secret.expose());
        let same: bool = expected.as_bytes().ct_eq(secret.as_bytes()).into();
        let live = user.is_some_and(|u| u.expires.is_none_or(|t| OffsetDateTime::now_utc() < t));
        same && live
    }
}

#[async_trait::async_trait]
impl S3Auth for Users {
    /// An expired key answers as an unknown one, as AWS answers for an inactive key: this is
    /// decided before any signature is checked, so naming the expiry would tell anyone who
    /// sends the access key alone. The log says why.
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let unknown = || {
            s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            )
        };
        let u = self.users.get(access_key).ok_or_else(unknown)?;
        if let Some(t) = u.expires
            && OffsetDateTime::now_utc() >= t
        {
            tracing::info!(access_key, expired_at = %t, "expired access key refused");
            return Err(unknown());
        }
        Ok(u.secret.clone())
    }
}
