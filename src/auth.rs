//! The proxy's own users: SigV4 credentials the gateway holds, separate from the upstream's.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use std::collections::HashMap;
use time::OffsetDateTime;

struct User {
    secret: SecretKey,
    expires: Option<OffsetDateTime>,
}

/// Access key → secret. Unknown keys get `InvalidAccessKeyId`, as S3 answers.
#[derive(Default)]
pub struct Users {
    users: HashMap<String, User>,
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
        self.users.insert(access_key, User { secret, expires });
    }
}

#[async_trait::async_trait]
impl S3Auth for Users {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        let Some(u) = self.users.get(access_key) else {
            return Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            ));
        };
        if let Some(t) = u.expires
            && OffsetDateTime::now_utc() >= t
        {
            tracing::info!(access_key, "expired access key refused");
            return Err(s3_error!(
                AccessDenied,
                "The access key {access_key} expired at {t}"
            ));
        }
        Ok(u.secret.clone())
    }
}
