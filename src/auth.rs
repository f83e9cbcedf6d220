//! The proxy's own users: SigV4 credentials the gateway holds, separate from the upstream's.

use s3s::auth::{S3Auth, SecretKey};
use s3s::{S3Result, s3_error};
use std::collections::HashMap;

/// Access key → secret. Unknown keys get `InvalidAccessKeyId`, as S3 answers.
#[derive(Default)]
pub struct Users {
    secrets: HashMap<String, SecretKey>,
}

impl Users {
    pub fn insert(&mut self, access_key: String, secret: String) {
        self.secrets.insert(access_key, SecretKey::from(secret));
    }
}

#[async_trait::async_trait]
impl S3Auth for Users {
    async fn get_secret_key(&self, access_key: &str) -> S3Result<SecretKey> {
        match self.secrets.get(access_key) {
            Some(s) => Ok(s.clone()),
            None => Err(s3_error!(
                InvalidAccessKeyId,
                "The AWS access key Id you provided does not exist in our records."
            )),
        }
    }
}
