//! Assembles a running gateway from a [`Config`]: upstream, users, the `Seal` layer and the
//! s3s service. Shared by `s3seal serve` and by the test harness, so tests run exactly the
//! code users run.

use crate::auth::Users;
use crate::config::{Config, KeysConfig};
use crate::keys::{KekProvider, Keyring};
use crate::seal::{Seal, SealKeys};
use crate::{credentials, server, upstream};
use s3s::service::{S3Service, S3ServiceBuilder};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What the operator needs to know at startup; printed by `serve`.
pub struct Banner {
    pub endpoint: String,
    pub upstream: String,
    pub key_provider: String,
    /// Generated credentials of the embedded default (printed so `aws configure` can use them).
    pub generated_user: Option<(String, String)>,
    /// Access keys of configured users (secrets are never printed).
    pub users: Vec<String>,
    /// The web console's URL (its own listener), if served.
    pub console: Option<String>,
}

impl std::fmt::Display for Banner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "s3seal listening on {}", self.endpoint)?;
        writeln!(f, "  upstream:     {}", self.upstream)?;
        writeln!(f, "  key provider: {}", self.key_provider)?;
        if let Some(url) = &self.console {
            writeln!(f, "  web console:  {url}")?;
        }
        if let Some((ak, sk)) = &self.generated_user {
            writeln!(f, "  access key:   {ak}")?;
            writeln!(f, "  secret key:   {sk}")?;
            writeln!(
                f,
                "  try: AWS_ACCESS_KEY_ID={ak} AWS_SECRET_ACCESS_KEY={sk} aws --endpoint-url {} s3 ls",
                self.endpoint
            )?;
        } else {
            writeln!(f, "  users:        {}", self.users.join(", "))?;
        }
        Ok(())
    }
}

/// A built, not yet listening gateway.
pub struct Gateway {
    pub service: S3Service,
    pub banner: Banner,
    grace: Duration,
    ops: Arc<crate::server::Ops>,
    /// Where the console listens, when it is served.
    console_listen: Option<SocketAddr>,
}

impl Gateway {
    /// Builds every part; errors are phrased for the operator.
    pub async fn build(cfg: &Config) -> anyhow::Result<Gateway> {
        let up = upstream::build(&cfg.upstream).await?;
        Self::build_over(cfg, up).await
    }

    /// Builds over a given store, e.g. one wrapped to inject faults in tests.
    pub async fn build_over(cfg: &Config, up: upstream::Upstream) -> anyhow::Result<Gateway> {
        let up = crate::deadline::Deadline::wrap(
            up,
            Duration::from_secs(cfg.server.upstream_timeout_secs),
        );
        let (auth, generated_user, users) = users(cfg)?;
        let provider = key_provider(&cfg.keys).await?;
        let key_provider = provider.describe();
        let e = &cfg.encryption;
        let ring = Keyring::new(
            provider,
            e.dek_cache_entries,
            Duration::from_secs(e.dek_cache_ttl_secs),
        );
        let keys = SealKeys::new(ring).with_bind_bucket(e.bind_bucket);
        let mut seal = Seal::new(up, keys)
            .with_segment(e.segment_size)
            .with_commit_layout(e.commit_layout);
        seal = seal.with_bucket_policies(crate::seal::bucket_policy::BucketPolicies::new(
            cfg.buckets.clone(),
        ));
        // The embedded store is a full S3 store: no s3s-fs workarounds (`with_local_root`).
        let tls = match &cfg.server.tls {
            Some(t) => {
                let tls = crate::tls::Tls::load(&t.cert, &t.key)?;
                #[cfg(unix)]
                tls.reload_on_sighup()?;
                Some(tls)
            }
            None => None,
        };
        let policy = crate::policy::Policy::from_config(&cfg.users)
            .with_key_rules(crate::keyrules::KeyRules::for_upstream(&cfg.upstream));
        seal = seal.with_policy(policy.clone()).with_https(tls.is_some());
        let domains = crate::vhost::Domains::new(&cfg.server.domains);
        seal = seal.with_domains(domains.clone());
        let mut b = S3ServiceBuilder::new(seal.clone());
        b.set_host(domains.clone());
        b.set_auth(auth.clone());
        b.set_access(policy);
        b.set_config(s3_config());
        let service = b.build();
        let console = cfg.server.console.then(|| {
            Arc::new(crate::console::Console::new(
                service.clone(),
                auth,
                tls.is_some(),
            ))
        });
        let ops = crate::server::Ops {
            allow_sigv2: cfg.auth.allow_sigv2,
            idle_timeout: (cfg.server.idle_timeout_secs > 0)
                .then(|| Duration::from_secs(cfg.server.idle_timeout_secs)),
            console,
            tls,
            throttle: crate::throttle::Throttle::new(cfg.auth.clone()),
            metrics: Default::default(),
            seal: Some(seal.clone()),
            slots: (cfg.server.max_concurrent_requests > 0).then(|| {
                Arc::new(tokio::sync::Semaphore::new(
                    cfg.server.max_concurrent_requests,
                ))
            }),
            serve_metrics: cfg.server.metrics,
            domains,
        };
        Ok(Gateway {
            service,
            banner: Banner {
                endpoint: format!("http://{}", cfg.server.listen),
                upstream: upstream::describe(&cfg.upstream),
                key_provider,
                generated_user,
                users,
                console: None,
            },
            grace: Duration::from_secs(cfg.server.shutdown_grace_secs),
            ops: Arc::new(ops),
            console_listen: cfg.server.console.then_some(cfg.server.console_listen),
        })
    }

    /// Binds `addr` for the S3 API and `server.console_listen` for the console (port 0 picks
    /// a free port). The returned [`Running`] serves when awaited and stops, draining
    /// requests, once `shutdown` resolves.
    pub async fn bind(
        self,
        addr: SocketAddr,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<Running> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("server.listen {addr}: cannot listen: {e}"))?;
        let local = listener.local_addr()?;
        let mut banner = self.banner;
        let scheme = if self.ops.tls.is_some() {
            "https"
        } else {
            "http"
        };
        banner.endpoint = format!("{scheme}://{local}");
        let console = match self.console_listen {
            Some(caddr) => {
                let l = TcpListener::bind(caddr).await.map_err(|e| {
                    anyhow::anyhow!(
                        "server.console_listen {caddr}: cannot listen: {e} (choose a free address, or set server.console = false)"
                    )
                })?;
                let at = l.local_addr()?;
                banner.console = Some(format!("{scheme}://{at}/console/"));
                if let Some(c) = &self.ops.console {
                    c.set_api_port(local.port());
                }
                Some((l, at))
            }
            None => None,
        };
        let shutdown =
            futures::FutureExt::shared(Box::pin(shutdown)
                as std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>);
        let api = server::serve(
            listener,
            self.service.clone(),
            self.ops.clone(),
            shutdown.clone(),
            self.grace,
        );
        let (console_addr, serve): (
            _,
            std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
        ) = match console {
            Some((l, at)) => {
                let con = server::serve_console(l, self.service, self.ops, shutdown, self.grace);
                (
                    Some(at),
                    Box::pin(async move {
                        tokio::join!(api, con);
                    }),
                )
            }
            None => (None, Box::pin(api)),
        };
        Ok(Running {
            addr: local,
            console_addr,
            banner,
            serve,
        })
    }
}

/// A bound gateway: where it listens, what to print, and the future that serves.
pub struct Running {
    pub addr: SocketAddr,
    /// The console's own listener, when the console is served.
    pub console_addr: Option<SocketAddr>,
    pub banner: Banner,
    pub serve: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

/// Loads the KEKs; the embedded default creates its key file on first start.
pub async fn key_provider(cfg: &KeysConfig) -> anyhow::Result<Arc<dyn KekProvider>> {
    Ok(match cfg {
        KeysConfig::File {
            path,
            create_if_missing,
        } => {
            if *create_if_missing && !path.exists() {
                crate::keys::generate_key_file(path, "k1")?;
                tracing::warn!(path = %path.display(), "created a new key file; back it up: objects cannot be read without it");
            } else if !path.exists() {
                anyhow::bail!(
                    "keys.path: key file {} does not exist; create it with `s3seal keygen --key-file {}`",
                    path.display(),
                    path.display()
                );
            }
            Arc::new(crate::keys::load_key_file(path)?)
        }
        KeysConfig::Env => Arc::new(crate::keys::from_env(std::env::vars())?),
        KeysConfig::Kms {
            kms_keys,
            active,
            region,
            endpoint,
            access_key_id,
            secret_access_key_env,
        } => {
            let creds = match (access_key_id, secret_access_key_env) {
                (Some(ak), Some(var)) => Some((
                    ak.clone(),
                    std::env::var(var).map_err(|_| {
                        anyhow::anyhow!("keys.secret_access_key_env names {var}, which is not set")
                    })?,
                )),
                (None, None) => None,
                _ => anyhow::bail!(
                    "keys: give both access_key_id and secret_access_key_env, or neither to use the AWS credential chain"
                ),
            };
            let client = crate::upstream::kms_client(endpoint.as_deref(), region, creds).await;
            Arc::new(crate::keys::kms::KmsKeks::new(
                client,
                kms_keys.clone(),
                active.clone(),
                endpoint.as_deref(),
            )?)
        }
    })
}

/// s3s's limits: XML bodies (buffered whole) capped like the HTTP front caps POST bodies.
fn s3_config() -> Arc<dyn s3s::config::S3ConfigProvider> {
    let mut c = s3s::config::S3Config::default();
    c.xml_max_body_size = crate::preauth::MAX_XML_BODY;
    Arc::new(s3s::config::StaticConfigProvider::new(Arc::new(c)))
}

type UserSetup = (Users, Option<(String, String)>, Vec<String>);

/// Registers the proxy's own users. With none configured, the embedded default creates one
/// credential pair once and keeps it in the state directory so restarts don't change it.
fn users(cfg: &Config) -> anyhow::Result<UserSetup> {
    let mut auth = Users::default();
    if cfg.users.is_empty() {
        let (ak, sk) = credentials::load_or_create(&cfg.server.state_dir)?;
        auth.insert(ak.clone(), sk.clone());
        return Ok((auth, Some((ak, sk)), vec![]));
    }
    let mut names = Vec::new();
    for u in &cfg.users {
        let expires = u.expires.as_deref().and_then(crate::config::parse_time);
        auth.insert_expiring(u.access_key.clone(), u.resolve_secret()?, expires);
        names.push(u.access_key.clone());
    }
    Ok((auth, None, names))
}
