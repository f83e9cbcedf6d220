//! Builds the upstream store `U` from config: the embedded store directory or a remote S3
//! endpoint through aws-sdk-s3 (s3s-aws `Proxy`), with the object reads and writes on the
//! lean path (`crate::lean`) where the endpoint allows. Both are plain `s3s::S3` values, so the
//! encryption layer cannot tell them apart.

use crate::config::UpstreamConfig;
use s3s::S3;
use std::sync::Arc;

/// The store behind the gateway, type-erased so the layer above is one concrete type.
pub type Upstream = Arc<dyn S3>;

/// A human description for the startup banner, e.g. `local directory ./data`.
pub fn describe(cfg: &UpstreamConfig) -> String {
    match cfg {
        UpstreamConfig::Local { path } => {
            format!("local directory {} (embedded store)", path.display())
        }
        UpstreamConfig::S3 {
            endpoint,
            region,
            path_style,
            ..
        } => format!(
            "S3 endpoint {} (region {region}, {} addressing, {})",
            endpoint.as_deref().unwrap_or("AWS default"),
            if *path_style {
                "path-style"
            } else {
                "virtual-host"
            },
            if crate::lean::applies(cfg) {
                "object calls on the lean path"
            } else {
                "all calls through aws-sdk-s3"
            }
        ),
    }
}

/// Creates the upstream. The local directory is created if missing.
pub async fn build(cfg: &UpstreamConfig) -> anyhow::Result<Upstream> {
    match cfg {
        UpstreamConfig::Local { path } => {
            std::fs::create_dir_all(path).map_err(|e| {
                anyhow::anyhow!("upstream.path {}: cannot create: {e}", path.display())
            })?;
            let store = crate::store::Store::open(path)
                .map_err(|e| anyhow::anyhow!("upstream.path {}: {e}", path.display()))?
                .with_opaque_etags();
            Ok(Arc::new(store))
        }
        UpstreamConfig::S3 {
            endpoint,
            region,
            path_style,
            access_key_id,
            secret_access_key,
            secret_access_key_env,
            ..
        } => {
            let secret = match (secret_access_key, secret_access_key_env) {
                (Some(s), _) => Some(s.clone()),
                (None, Some(var)) => Some(std::env::var(var).map_err(|_| {
                    anyhow::anyhow!("upstream.secret_access_key_env names {var}, which is not set")
                })?),
                (None, None) => None,
            };
            let static_creds = match (access_key_id, secret) {
                (Some(ak), Some(sk)) => Some((ak.clone(), sk)),
                _ => None,
            };
            let client = s3_client(
                endpoint.as_deref(),
                region,
                *path_style,
                static_creds.clone(),
            )
            .await;
            let sdk: Upstream = Arc::new(s3s_aws::Proxy::from(client));
            Ok(crate::lean::lean_for(cfg, sdk, static_creds))
        }
    }
}

/// Shared AWS config: region and optional static credentials, else the credential chain.
async fn aws_shared(region: &str, static_creds: Option<(String, String)>) -> aws_config::SdkConfig {
    use aws_config::{BehaviorVersion, Region};
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_owned()));
    if let Some((ak, sk)) = static_creds {
        loader = loader.credentials_provider(aws_credential_types::Credentials::new(
            ak,
            sk,
            None,
            None,
            "s3seal-config",
        ));
    }
    loader.load().await
}

const KMS_CONNECT_TIMEOUT_SECS: u64 = 3;
const KMS_ATTEMPT_TIMEOUT_SECS: u64 = 10;

/// A KMS client for the KMS key provider.
pub async fn kms_client(
    endpoint: Option<&str>,
    region: &str,
    static_creds: Option<(String, String)>,
) -> aws_sdk_kms::Client {
    let shared = aws_shared(region, static_creds).await;
    let mut b = aws_sdk_kms::config::Builder::from(&shared);
    if let Some(ep) = endpoint {
        b = b.endpoint_url(ep);
    }
    // A KMS that accepts connections and never answers must not hold requests forever.
    b = b.timeout_config(
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(KMS_CONNECT_TIMEOUT_SECS))
            .operation_attempt_timeout(std::time::Duration::from_secs(KMS_ATTEMPT_TIMEOUT_SECS))
            .build(),
    );
    aws_sdk_kms::Client::from_conf(b.build())
}

/// An aws-sdk-s3 client for the upstream. The SDK's own request checksums are limited to
/// operations that require them: the gateway sends ciphertext it produced itself, and checks
/// the client's plaintext checksums on its own.
pub async fn s3_client(
    endpoint: Option<&str>,
    region: &str,
    path_style: bool,
    static_creds: Option<(String, String)>,
) -> aws_sdk_s3::Client {
    let shared = aws_shared(region, static_creds).await;
    let mut b = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(path_style)
        .request_checksum_calculation(aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(aws_sdk_s3::config::ResponseChecksumValidation::WhenRequired)
        .interceptor(crate::upstream_xml::XmlRoots);
    if let Some(ep) = endpoint {
        b = b.endpoint_url(ep);
    }
    aws_sdk_s3::Client::from_conf(b.build())
}
