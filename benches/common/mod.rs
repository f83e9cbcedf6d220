//! What the benches share: an aws-sdk-s3 client, sizes from the environment, a scratch dir.

pub mod workload;

use aws_sdk_s3::Client;

/// A path-style client for `endpoint` with static credentials.
pub fn client(endpoint: &str, ak: &str, sk: &str) -> Client {
    let creds = aws_sdk_s3::config::Credentials::new(ak, sk, None, None, "bench");
    let conf = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(creds)
        .build();
    Client::from_conf(conf)
}

/// `k` parsed from the environment, else `d`.
pub fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A temp dir on /dev/shm when there is one (the disk is not what is measured), else /tmp.
pub fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    let root = if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm"
    } else {
        "/tmp"
    };
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(root)
        .unwrap()
}
