//! Typed configuration. A config file is optional: without one the gateway runs the
//! *embedded default* (loopback listener, local-directory upstream, generated key file and
//! credentials), so a newcomer gets a working, encrypting endpoint with one command.
//!
//! Every error names the file, the key and what is allowed, because a gateway that refuses to
//! start must tell the operator exactly which line to fix.

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Default listener: loopback only, so the embedded default never exposes itself on a LAN.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9000";

/// Default console listener: its own port (MinIO's convention), so objects served by the S3
/// API (a user's SVG or text/html, share links) are never on the console's origin.
pub const DEFAULT_CONSOLE_LISTEN: &str = "127.0.0.1:9001";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default, deserialize_with = "upstream_with_default_kind")]
    pub upstream: UpstreamConfig,
    #[serde(default, deserialize_with = "keys_with_default_provider")]
    pub keys: KeysConfig,
    /// Proxy users. Empty means "generate one and persist it" (embedded default only).
    #[serde(default)]
    pub users: Vec<UserConfig>,
    #[serde(default)]
    pub encryption: EncryptionConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    /// Storage policy per bucket and key prefix; the most specific entry applies.
    #[serde(default)]
    pub buckets: Vec<BucketPolicyConfig>,
}

/// How objects under a bucket/prefix are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BucketMode {
    /// Seal new objects; serve older plaintext objects as they are.
    #[default]
    Encrypt,
    /// Store new objects as plaintext (public assets); sealed objects still decrypt on read.
    Passthrough,
    /// Seal new objects and refuse to serve any object that is not sealed, so nobody with
    /// write access to the store can substitute plaintext.
    Require,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketPolicyConfig {
    /// A bucket name, or "*".
    pub bucket: String,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub mode: BucketMode,
    /// Largest plaintext object accepted, in bytes.
    pub max_object_size: Option<u64>,
    /// e.g. ["image/jpeg", "image/png", "application/pdf"] or ["image/*"]; empty: any.
    #[serde(default)]
    pub allowed_content_types: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// Failed-authentication throttling, per (source address, access key).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Failures within `window_secs` after which requests are refused (503 SlowDown).
    #[serde(default = "default_max_failures")]
    pub max_failures: u32,
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// How long a locked-out source stays refused.
    #[serde(default = "default_lockout")]
    pub lockout_secs: u64,
    /// Extra delay per failure beyond half of `max_failures`, capped at one second.
    #[serde(default = "default_failure_delay")]
    pub failure_delay_ms: u64,
    /// Accept legacy AWS Signature Version 2 (`Authorization: AWS ak:sig`, `Signature=`
    /// presigned URLs, which carry no lifetime cap). Off: such requests get 400.
    #[serde(default)]
    pub allow_sigv2: bool,
}

fn default_max_failures() -> u32 {
    10
}
fn default_window() -> u64 {
    60
}
fn default_lockout() -> u64 {
    300
}
fn default_failure_delay() -> u64 {
    100
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            max_failures: default_max_failures(),
            window_secs: default_window(),
            lockout_secs: default_lockout(),
            failure_delay_ms: default_failure_delay(),
            allow_sigv2: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Seconds to let in-flight requests finish after SIGINT/SIGTERM.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// Requests served at once; more get 503 SlowDown. 0: unlimited.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent_requests: usize,
    /// Serve Prometheus metrics at GET /metrics (no authentication; no secrets in it).
    #[serde(default = "default_true")]
    pub metrics: bool,
    /// A connection with no request in progress is closed after this many seconds: idle
    /// keep-alive connections, and clients that do not finish sending request headers in
    /// time (slow-loris). 0: never.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
    /// Seconds the store may make no progress (no answer, no body bytes sent or read) before
    /// the request fails with 503. 0: wait forever.
    #[serde(default = "default_upstream_timeout")]
    pub upstream_timeout_secs: u64,
    /// Serve the web console at /console (login with a proxy user's keys; the same per-user
    /// rules as the S3 API).
    #[serde(default = "default_true")]
    pub console: bool,
    /// Where the console listens: a separate origin from the S3 API; it serves only the
    /// console. TLS (`server.tls`) applies to both listeners.
    #[serde(default = "default_console_listen")]
    pub console_listen: SocketAddr,
    /// TLS on the client listener: PEM files, reloaded on SIGHUP.
    pub tls: Option<TlsConfig>,
    /// Log format: "text" or "json".
    #[serde(default = "default_log_format")]
    pub log_format: String,
    /// Directory for generated state of the embedded default (key file, credentials).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Base domains for virtual-hosted addressing: `Host: bucket.<domain>` names a bucket.
    /// Any other Host is path-style.
    #[serde(default = "default_domains")]
    pub domains: Vec<String>,
}

fn default_domains() -> Vec<String> {
    vec!["localhost".into()]
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum UpstreamConfig {
    /// The embedded store (`src/store`) in a local directory.
    Local {
        #[serde(default = "default_data_dir")]
        path: PathBuf,
    },
    /// Any S3-compatible endpoint through aws-sdk-s3.
    S3 {
        /// e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9002`; omit for AWS.
        endpoint: Option<String>,
        #[serde(default = "default_region")]
        region: String,
        /// Path-style addressing (`endpoint/bucket/key`); MinIO, Ceph and Garage want this.
        #[serde(default)]
        path_style: bool,
        /// Static upstream credentials; when absent the usual AWS chain (env, profile,
        /// instance role) is used. These are never the proxy users' credentials.
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
        secret_access_key_env: Option<String>,
        /// Send object reads and writes over the lean path (`src/lean`) where it applies;
        /// `false` sends everything through aws-sdk-s3.
        #[serde(default = "yes")]
        lean: bool,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "lowercase", deny_unknown_fields)]
pub enum KeysConfig {
    /// Local key file (TOML, 0600), created by `s3seal keygen` or on first start.
    File {
        #[serde(default = "default_key_path")]
        path: PathBuf,
        /// Create the file with one fresh KEK when it does not exist (the embedded default
        /// does; a configured path that is missing is usually a mistake, so it is an error).
        #[serde(default)]
        create_if_missing: bool,
    },
    /// `S3SEAL_KEK_<ID>` variables plus `S3SEAL_KEK_ACTIVE`.
    Env,
    /// AWS KMS (or a KMS-compatible endpoint): DEKs wrapped with Encrypt/Decrypt.
    Kms {
        /// s3seal KEK id → KMS key id, ARN or alias, e.g. { main = "alias/s3seal" }.
        kms_keys: std::collections::BTreeMap<String, String>,
        /// The id new objects are wrapped under.
        active: String,
        #[serde(default = "default_region")]
        region: String,
        /// e.g. http://127.0.0.1:4566; default: AWS.
        endpoint: Option<String>,
        /// Static credentials; default: the AWS credential chain.
        access_key_id: Option<String>,
        secret_access_key_env: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub access_key: String,
    /// Exactly one of `secret_key`, `secret_key_env`, `secret_key_file`.
    pub secret_key: Option<String>,
    pub secret_key_env: Option<String>,
    pub secret_key_file: Option<PathBuf>,
    /// RFC 3339 time after which the key is refused, e.g. "2027-01-31T00:00:00Z".
    pub expires: Option<String>,
    /// What the user may do. Absent: everything (an administrator); `rules = []` is refused,
    /// since it reads as "nothing" but would mean everything.
    #[serde(default, deserialize_with = "rules_not_empty")]
    pub rules: Vec<RuleConfig>,
}

/// One grant: operations on keys under a prefix of a bucket.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A bucket name, or "*" for every bucket.
    pub bucket: String,
    /// Key prefix; `${user}` is replaced by the access key. Default: the whole bucket.
    #[serde(default)]
    pub prefix: String,
    /// Any of "read", "write", "delete", "list", "admin" (bucket management).
    pub allow: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionConfig {
    /// Plaintext segment size in bytes; recorded per object, so changing it only affects
    /// new objects.
    #[serde(default = "default_segment_size")]
    pub segment_size: u32,
    #[serde(default = "default_cache_entries")]
    pub dek_cache_entries: u64,
    #[serde(default = "default_cache_ttl")]
    pub dek_cache_ttl_secs: u64,
    /// Bind each new object's wrapped DEK to its bucket (format v2, docs/FORMAT.md §3), so
    /// an object copied into another bucket at the store does not decrypt there. `false` is
    /// for deployments that mirror buckets under other names with store tools.
    #[serde(default = "default_true")]
    pub bind_bucket: bool,
    /// Commit each multipart object's layout as object tags at Complete (docs/FORMAT.md §5),
    /// so dropped or moved parts are refused. `false` is only for stores without object
    /// tagging: their multipart objects keep the older, weaker guarantees (FORMAT.md §9).
    #[serde(default = "default_true")]
    pub commit_layout: bool,
}

fn default_max_concurrent() -> usize {
    1024
}
fn default_true() -> bool {
    true
}
fn default_log_format() -> String {
    "text".into()
}

fn default_listen() -> SocketAddr {
    DEFAULT_LISTEN.parse().expect("constant address")
}
fn default_console_listen() -> SocketAddr {
    DEFAULT_CONSOLE_LISTEN.parse().expect("constant address")
}
/// Above botocore's 60 s read timeout: should a client ever wait on a connection we consider
/// idle (as aws cli did before the empty Expect: 100-continue fix, README), its own timeout
/// and retry come first.
fn default_idle_timeout() -> u64 {
    75
}

fn default_upstream_timeout() -> u64 {
    60
}

fn default_grace() -> u64 {
    10
}
fn default_state_dir() -> PathBuf {
    PathBuf::from(".s3seal")
}
fn default_data_dir() -> PathBuf {
    PathBuf::from("data")
}
fn default_key_path() -> PathBuf {
    default_state_dir().join("keys.toml")
}

/// A table of an internally tagged enum whose tag is optional: README promises every key has
/// a default, `kind` and `provider` included.
fn with_default_tag<'de, D, T>(d: D, tag: &str, default: &str) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let mut v = toml::Value::deserialize(d)?;
    if let toml::Value::Table(t) = &mut v {
        t.entry(tag)
            .or_insert_with(|| toml::Value::String(default.to_owned()));
    }
    T::deserialize(v).map_err(serde::de::Error::custom)
}

fn upstream_with_default_kind<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<UpstreamConfig, D::Error> {
    with_default_tag(d, "kind", "local")
}

fn keys_with_default_provider<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<KeysConfig, D::Error> {
    with_default_tag(d, "provider", "file")
}

fn rules_not_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<RuleConfig>, D::Error> {
    let rules = Vec::<RuleConfig>::deserialize(d)?;
    if rules.is_empty() {
        return Err(serde::de::Error::custom(
            "rules = [] would grant everything (a user without rules is an administrator); omit `rules` for full access, or give [[users.rules]] entries",
        ));
    }
    Ok(rules)
}
fn default_region() -> String {
    "us-east-1".to_owned()
}
fn default_segment_size() -> u32 {
    65536
}
fn default_cache_entries() -> u64 {
    10_000
}
fn default_cache_ttl() -> u64 {
    300
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            shutdown_grace_secs: default_grace(),
            state_dir: default_state_dir(),
            max_concurrent_requests: default_max_concurrent(),
            metrics: true,
            console: true,
            console_listen: default_console_listen(),
            upstream_timeout_secs: default_upstream_timeout(),
            idle_timeout_secs: default_idle_timeout(),
            log_format: default_log_format(),
            tls: None,
            domains: default_domains(),
        }
    }
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig::Local {
            path: default_data_dir(),
        }
    }
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig::File {
            path: default_state_dir().join("keys.toml"),
            create_if_missing: true,
        }
    }
}

impl Default for EncryptionConfig {
    fn default() -> Self {
        EncryptionConfig {
            segment_size: default_segment_size(),
            dek_cache_entries: default_cache_entries(),
            dek_cache_ttl_secs: default_cache_ttl(),
            bind_bucket: true,
            commit_layout: true,
        }
    }
}

impl Default for Config {
    /// The embedded default: what `s3seal serve` runs without `--config`.
    fn default() -> Self {
        Config {
            server: ServerConfig::default(),
            upstream: UpstreamConfig::default(),
            keys: KeysConfig::default(),
            users: Vec::new(),
            encryption: EncryptionConfig::default(),
            auth: AuthConfig::default(),
            buckets: Vec::new(),
        }
    }
}

/// A configuration problem, already phrased for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads and validates a TOML file. Errors name the file, the line and the key.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!("{}: cannot read config file: {e}", path.display()))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses TOML text; `origin` names the source in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            // toml's message already carries the line, column and offending key.
            ConfigError(format!("{origin}: {}", e.to_string().trim_end()))
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let err = |key: &str, msg: String| Err(ConfigError(format!("{origin}: {key}: {msg}")));
        let seg = self.encryption.segment_size;
        if !(1024..=16 << 20).contains(&seg) {
            return err(
                "encryption.segment_size",
                format!("{seg} is out of range; allowed 1024 ..= 16777216 bytes (default 65536)"),
            );
        }
        if !matches!(self.server.log_format.as_str(), "text" | "json") {
            return err(
                "server.log_format",
                format!("{:?}: allowed \"text\" or \"json\"", self.server.log_format),
            );
        }
        for (i, d) in self.server.domains.iter().enumerate() {
            let key = format!("server.domains[{i}]");
            crate::vhost::check_domain(d).or_else(|m| err(&key, m))?;
            let lower = d.to_ascii_lowercase();
            if let Some(o) = self.server.domains[..i].iter().find(|o| {
                let o = o.to_ascii_lowercase();
                o == lower || o.ends_with(&format!(".{lower}")) || lower.ends_with(&format!(".{o}"))
            }) {
                return err(
                    &key,
                    format!(
                        "{d:?} overlaps {o:?}: a Host under both would name two different buckets"
                    ),
                );
            }
        }
        if self.encryption.dek_cache_entries == 0 {
            return err(
                "encryption.dek_cache_entries",
                "must be at least 1 (default 10000)".into(),
            );
        }
        if let KeysConfig::Kms {
            endpoint: Some(ep), ..
        } = &self.keys
            && !(ep.starts_with("http://") || ep.starts_with("https://"))
        {
            return err(
                "keys.endpoint",
                format!("{ep:?} must start with http:// or https://"),
            );
        }
        if let UpstreamConfig::S3 {
            endpoint,
            access_key_id,
            secret_access_key,
            secret_access_key_env,
            ..
        } = &self.upstream
        {
            if let Some(ep) = endpoint
                && !(ep.starts_with("http://") || ep.starts_with("https://"))
            {
                return err(
                    "upstream.endpoint",
                    format!("{ep:?} must start with http:// or https://"),
                );
            }
            let has_secret = secret_access_key.is_some() || secret_access_key_env.is_some();
            if access_key_id.is_some() != has_secret {
                return err(
                    "upstream.access_key_id",
                    "give both access_key_id and secret_access_key (or secret_access_key_env), or neither to use the AWS credential chain".into(),
                );
            }
        }
        for (i, b) in self.buckets.iter().enumerate() {
            let key = format!("buckets[{i}]");
            if let Some(j) = self.buckets[..i]
                .iter()
                .position(|o| o.bucket == b.bucket && o.prefix == b.prefix)
            {
                return err(
                    &key,
                    format!(
                        "bucket {:?} prefix {:?} is already given by buckets[{j}]; one entry per bucket and prefix (which would win is not obvious)",
                        b.bucket, b.prefix
                    ),
                );
            }
            if b.bucket.is_empty() {
                return err(&format!("{key}.bucket"), "name a bucket or \"*\"".into());
            }
            if b.max_object_size == Some(0) {
                return err(
                    &format!("{key}.max_object_size"),
                    "must be at least 1 byte".into(),
                );
            }
            if let Some(t) = b.allowed_content_types.iter().find(|t| {
                let mut it = t.split('/');
                !matches!((it.next(), it.next(), it.next()), (Some(a), Some(b), None) if !a.is_empty() && !b.is_empty())
            }) {
                return err(
                    &format!("{key}.allowed_content_types"),
                    format!("{t:?} is not a media type such as \"image/png\" or \"image/*\""),
                );
            }
        }
        for (i, u) in self.users.iter().enumerate() {
            let key = format!("users[{i}]");
            if u.access_key.len() < 3 || !u.access_key.chars().all(|c| c.is_ascii_alphanumeric()) {
                return err(
                    &format!("{key}.access_key"),
                    "must be at least 3 ASCII letters or digits".into(),
                );
            }
            let sources = [
                u.secret_key.is_some(),
                u.secret_key_env.is_some(),
                u.secret_key_file.is_some(),
            ];
            if sources.iter().filter(|s| **s).count() != 1 {
                return err(
                    &key,
                    format!(
                        "user {:?} needs exactly one of secret_key, secret_key_env, secret_key_file",
                        u.access_key
                    ),
                );
            }
            if u.secret_key.as_deref().is_some_and(|s| s.trim().is_empty()) {
                return err(
                    &format!("{key}.secret_key"),
                    "is empty: anyone could sign as this user".into(),
                );
            }
            if let Some(t) = &u.expires
                && parse_time(t).is_none()
            {
                return err(
                    &format!("{key}.expires"),
                    format!("{t:?} is not an RFC 3339 time such as \"2027-01-31T00:00:00Z\""),
                );
            }
            for (j, r) in u.rules.iter().enumerate() {
                let rk = format!("{key}.rules[{j}]");
                if r.bucket.is_empty() {
                    return err(&format!("{rk}.bucket"), "name a bucket or \"*\"".into());
                }
                if r.allow.is_empty() {
                    return err(
                        &format!("{rk}.allow"),
                        format!("empty; allowed: {}", PERMISSIONS.join(", ")),
                    );
                }
                if let Some(bad) = r.allow.iter().find(|a| !PERMISSIONS.contains(&a.as_str())) {
                    return err(
                        &format!("{rk}.allow"),
                        format!(
                            "{bad:?} is not a permission; allowed: {}",
                            PERMISSIONS.join(", ")
                        ),
                    );
                }
            }
            if self.users[..i].iter().any(|o| o.access_key == u.access_key) {
                return err(
                    &format!("{key}.access_key"),
                    format!("{:?} is defined twice", u.access_key),
                );
            }
        }
        Ok(())
    }
}

/// The permissions a rule may grant.
pub const PERMISSIONS: [&str; 5] = ["read", "write", "delete", "list", "admin"];

/// Parses an RFC 3339 timestamp.
pub fn parse_time(t: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
}

impl UserConfig {
    /// Resolves the secret from wherever the config says it lives.
    pub fn resolve_secret(&self) -> Result<String, ConfigError> {
        let s = self.secret_source()?;
        if s.is_empty() {
            // An empty secret is one anyone can sign with.
            return Err(ConfigError(format!(
                "user {:?}: the secret is empty",
                self.access_key
            )));
        }
        Ok(s)
    }

    fn secret_source(&self) -> Result<String, ConfigError> {
        let who = &self.access_key;
        if let Some(s) = &self.secret_key {
            return Ok(s.clone());
        }
        if let Some(var) = &self.secret_key_env {
            return std::env::var(var).map_err(|_| {
                ConfigError(format!(
                    "user {who:?}: secret_key_env names {var}, which is not set"
                ))
            });
        }
        if let Some(path) = &self.secret_key_file {
            let s = std::fs::read_to_string(path).map_err(|e| {
                ConfigError(format!(
                    "user {who:?}: secret_key_file {}: {e}",
                    path.display()
                ))
            })?;
            return Ok(s.trim().to_owned());
        }
        Err(ConfigError(format!("user {who:?}: no secret given")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_and_provider_default_as_documented() {
        let c = Config::parse("[upstream]\npath = \"d\"\n", "t.toml").unwrap();
        assert!(matches!(c.upstream, UpstreamConfig::Local { path } if path == Path::new("d")));
        let c = Config::parse("[keys]\ncreate_if_missing = true\n", "t.toml").unwrap();
        match c.keys {
            KeysConfig::File {
                path,
                create_if_missing,
            } => assert!(path == Path::new(".s3seal/keys.toml") && create_if_missing),
            other => panic!("{other:?}"),
        }
        // A wrong field inside still names itself.
        let e = Config::parse("[keys]\npth = \"k\"\n", "t.toml").unwrap_err();
        assert!(e.to_string().contains("pth"), "{e}");
    }

    #[test]
    fn configs_that_would_open_the_gateway_are_refused() {
        let user = "[[users]]\naccess_key = \"svc\"\n";
        for (toml, names) in [
            (format!("{user}secret_key = \"\"\n"), "users[0].secret_key"),
            (format!("{user}secret_key = \"longsecret\"\nrules = []\n"), "rules = []"),
            (
                "[[buckets]]\nbucket = \"x\"\nmode = \"require\"\n[[buckets]]\nbucket = \"x\"\nmode = \"passthrough\"\n".to_owned(),
                "buckets[1]",
            ),
        ] {
            let e = Config::parse(&toml, "gw.toml").unwrap_err().to_string();
            assert!(e.contains("gw.toml") && e.contains(names), "{toml}: {e}");
        }
        // A secret file or variable that is empty (an unpopulated secret mount).
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("empty");
        std::fs::write(&f, "\n").unwrap();
        let toml = format!("{user}secret_key_file = {:?}\n", f.display().to_string());
        let c = Config::parse(&toml, "gw.toml").unwrap();
        let e = c.users[0].resolve_secret().unwrap_err().to_string();
        assert!(e.contains("svc") && e.contains("empty"), "{e}");
    }

    #[test]
    fn empty_file_is_the_embedded_default() {
        let c = Config::parse("", "t.toml").unwrap();
        assert_eq!(c.server.listen.to_string(), DEFAULT_LISTEN);
        assert!(matches!(c.upstream, UpstreamConfig::Local { .. }));
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let e = Config::parse("[server]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n", "gw.toml")
            .unwrap_err()
            .0;
        assert!(e.starts_with("gw.toml:"), "{e}");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn bad_value_is_explained() {
        let e = Config::parse("[encryption]\nsegment_size = 10\n", "gw.toml")
            .unwrap_err()
            .0;
        assert!(e.contains("encryption.segment_size"), "{e}");
        assert!(e.contains("1024"), "{e}");
        let e = Config::parse("[upstream]\nkind = \"ftp\"\n", "gw.toml")
            .unwrap_err()
            .0;
        assert!(
            e.contains("ftp") && e.contains("local") && e.contains("s3"),
            "{e}"
        );
    }

    #[test]
    fn domains_are_checked_and_default_to_localhost() {
        assert_eq!(
            Config::parse("", "gw.toml").unwrap().server.domains,
            ["localhost"]
        );
        let ok = Config::parse(
            "[server]\ndomains = [\"s3.example.com\", \"localhost\"]\n",
            "gw.toml",
        );
        assert!(ok.is_ok());
        for (bad, why) in [
            ("[\"http://s3.example.com\"]", "not a DNS name"),
            ("[\"s3.example.com:9000\"]", "not a DNS name"),
            ("[\"example.com\", \"s3.example.com\"]", "overlaps"),
        ] {
            let e = Config::parse(&format!("[server]\ndomains = {bad}\n"), "gw.toml")
                .unwrap_err()
                .0;
            assert!(
                e.contains("gw.toml: server.domains[") && e.contains(why),
                "{e}"
            );
        }
    }

    #[test]
    fn user_secret_sources_are_exclusive() {
        let e = Config::parse(
            "[[users]]\naccess_key = \"alice\"\nsecret_key = \"x\"\nsecret_key_env = \"Y\"\n",
            "gw.toml",
        )
        .unwrap_err()
        .0;
        assert!(e.contains("users[0]") && e.contains("exactly one"), "{e}");
    }

    #[test]
    fn upstream_credentials_come_in_pairs() {
        let e = Config::parse(
            "[upstream]\nkind = \"s3\"\nendpoint = \"http://127.0.0.1:1\"\naccess_key_id = \"a\"\n",
            "gw.toml",
        )
        .unwrap_err()
        .0;
        assert!(e.contains("upstream.access_key_id"), "{e}");
    }
}
