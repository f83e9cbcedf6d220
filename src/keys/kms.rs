//! AWS KMS as the KEK provider: each DEK is wrapped with KMS Encrypt and unwrapped with
//! Decrypt, under an encryption context that binds the object key and the s3seal KEK id, so
//! KMS itself refuses a wrapped key moved to another object. KEKs never leave KMS; the DEK
//! cache in front keeps Decrypt calls per hot object to about one per TTL.

use super::{KekProvider, KeyError, WrapContext, WrappedDek};
use crate::format::{DEK_LEN, Dek};
use aws_sdk_kms::primitives::Blob;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct KmsKeks {
    client: aws_sdk_kms::Client,
    /// s3seal KEK id → KMS key id, ARN or alias.
    keys: BTreeMap<String, String>,
    active: String,
    describe: String,
    /// Encrypt + Decrypt calls made, for metrics and tests.
    pub calls: AtomicU64,
}

impl KmsKeks {
    pub fn new(
        client: aws_sdk_kms::Client,
        keys: BTreeMap<String, String>,
        active: String,
        endpoint: Option<&str>,
    ) -> Result<Self, KeyError> {
        if !keys.contains_key(&active) {
            return Err(KeyError::Config(format!(
                "keys.active: '{active}' is not among keys.kms_keys ({})",
                keys.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let describe = format!(
            "AWS KMS{} (active {active} = {}, {} keys)",
            endpoint.map(|e| format!(" at {e}")).unwrap_or_default(),
            keys[&active],
            keys.len()
        );
        Ok(KmsKeks {
            client,
            keys,
            active,
            describe,
            calls: AtomicU64::new(0),
        })
    }

    /// KMS encryption context: the same bindings as the local wrap AAD. v2 adds the bucket
    /// binding flag and (when bound) the bucket.
    fn context(id: &str, ctx: &WrapContext) -> std::collections::HashMap<String, String> {
        let mut c: std::collections::HashMap<String, String> = [
            ("s3seal-v".to_owned(), "1".to_owned()),
            ("s3seal-kek".to_owned(), id.to_owned()),
            ("s3seal-object-key".to_owned(), ctx.object_key.clone()),
        ]
        .into();
        if let super::Scope::V2 { bucket } = &ctx.scope {
            c.insert("s3seal-v".to_owned(), "2".to_owned());
            c.insert(
                "s3seal-bucket".to_owned(),
                bucket.clone().unwrap_or_else(|| "*".to_owned()),
            );
        }
        c
    }
}

fn provider_error(e: impl std::fmt::Display) -> KeyError {
    KeyError::Provider(format!("KMS: {e}"))
}

/// What a failed KMS call tells the client and the log. Never the SDK's whole error
/// context: a request that could not be built (an endpoint without a scheme) carries its
/// input in that context, which for Encrypt is the plaintext data key. KMS refusing a
/// ciphertext is an unwrap failure; anything else is the provider failing (503, retryable).
fn kms_error<E, R>(op: &str, kek: &str, e: aws_sdk_kms::error::SdkError<E, R>) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    use aws_sdk_kms::error::SdkError;
    let why = match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("unknown error");
            if op == "Decrypt"
                && matches!(code, "InvalidCiphertextException" | "IncorrectKeyException")
            {
                return KeyError::Unwrap(kek.to_owned());
            }
            format!("KMS {op} refused: {code}")
        }
        SdkError::TimeoutError(_) => format!("KMS {op} timed out"),
        SdkError::DispatchFailure(d) if d.is_timeout() => format!("KMS {op} timed out"),
        SdkError::DispatchFailure(_) => format!("KMS {op} failed: KMS could not be reached"),
        SdkError::ConstructionFailure(_) => {
            format!("KMS {op} could not be sent (check keys.endpoint and keys.region)")
        }
        _ => format!("KMS {op} failed: unreadable answer"),
    };
    // The transport's own words (connection refused, DNS) help the operator; a construction
    // failure's may hold the request, so it is never logged.
    if !matches!(e, SdkError::ConstructionFailure(_)) {
        tracing::warn!(kek, op, error = %aws_sdk_kms::error::DisplayErrorContext(&e), "KMS call failed");
    }
    KeyError::Provider(why)
}

#[async_trait::async_trait]
impl KekProvider for KmsKeks {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn active_id(&self) -> &str {
        &self.active
    }

    fn remote_calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    async fn wrap_under(
        &self,
        id: &str,
        dek: &Dek,
        ctx: &WrapContext,
    ) -> Result<WrappedDek, KeyError> {
        let key_id = self
            .keys
            .get(id)
            .ok_or_else(|| KeyError::UnknownKek(id.to_owned()))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .encrypt()
            .key_id(key_id)
            .plaintext(Blob::new(dek.expose().to_vec()))
            .set_encryption_context(Some(Self::context(id, ctx)))
            .send()
            .await
            .map_err(|e| kms_error("Encrypt", id, e))?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| provider_error("Encrypt returned no ciphertext"))?;
        Ok(WrappedDek {
            kek_id: id.to_owned(),
            blob: blob.into_inner(),
        })
    }

    async fn unwrap(&self, w: &WrappedDek, ctx: &WrapContext) -> Result<Dek, KeyError> {
        let key_id = self
            .keys
            .get(&w.kek_id)
            .ok_or_else(|| KeyError::UnknownKek(w.kek_id.clone()))?;
        self.calls.fetch_add(1, Ordering::Relaxed);
        let out = self
            .client
            .decrypt()
            .key_id(key_id)
            .ciphertext_blob(Blob::new(w.blob.clone()))
            .set_encryption_context(Some(Self::context(&w.kek_id, ctx)))
            .send()
            .await
            .map_err(|e| kms_error("Decrypt", &w.kek_id, e))?;
        let mut pt = zeroize::Zeroizing::new(
            out.plaintext
                .ok_or_else(|| provider_error("Decrypt returned no plaintext"))?
                .into_inner(),
        );
        let bytes: [u8; DEK_LEN] = pt
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::Unwrap(w.kek_id.clone()))?;
        zeroize::Zeroize::zeroize(&mut *pt);
        Ok(Dek::from_bytes(bytes))
    }
}
