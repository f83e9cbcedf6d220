//! The `s3seal` command line. Only argument parsing lives here; the work is in the library.

use clap::{Parser, Subcommand};
use s3seal::config::Config;
use s3seal::gateway::Gateway;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "s3seal", version, about = "S3-compatible encrypting gateway")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the gateway. Without --config: 127.0.0.1:9000, objects under ./data, keys and
    /// generated credentials under ./.s3seal.
    Serve {
        /// TOML config file (see config/ for examples).
        #[arg(long, short, env = "S3SEAL_CONFIG")]
        config: Option<PathBuf>,
        /// Override server.listen, e.g. 127.0.0.1:9100.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Override server.console_listen (the web console's own port), e.g. 127.0.0.1:9101.
        #[arg(long)]
        console_listen: Option<std::net::SocketAddr>,
    },
    /// Rewrap every object's data key under another KEK (server-side copies, bodies untouched),
    /// or with --check count objects per KEK so you know when an old KEK can be retired.
    Rotate {
        #[arg(long, short, env = "S3SEAL_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        prefix: Option<String>,
        /// Target KEK id (default: the active one).
        #[arg(long)]
        to: Option<String>,
        /// Only report how many objects each KEK still protects.
        #[arg(long)]
        check: bool,
    },
    /// Show an object's s3seal format details (never key material).
    Inspect {
        #[arg(long, short, env = "S3SEAL_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        bucket: String,
        #[arg(long)]
        key: String,
    },
    /// Decrypt an object without a running gateway: straight from the store (--bucket), or
    /// offline from stored bytes on stdin and its metadata (--metadata, JSON).
    Decrypt {
        #[arg(long, short, env = "S3SEAL_CONFIG")]
        config: Option<PathBuf>,
        #[arg(long)]
        bucket: Option<String>,
        /// The object key (the wrapped data key is bound to it).
        #[arg(long)]
        key: String,
        /// JSON object of the stored object's user metadata (x-amz-meta-* without the prefix).
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// Write the plaintext to this file (created only when the whole object verified)
        /// instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Create a key file (0600) holding one fresh key-encryption key, or add a key to one.
    Keygen {
        /// The key file to create or extend.
        #[arg(long)]
        key_file: PathBuf,
        /// Id of the new KEK (1-64 of A-Z a-z 0-9 - _ .).
        #[arg(long, default_value = "k1")]
        id: String,
        /// Add the key to an existing file instead of creating one.
        #[arg(long)]
        add: bool,
        /// With --add: make the new key the one new objects are sealed under.
        #[arg(long, requires = "add")]
        activate: bool,
    },
    /// Copy an s3s-fs data directory (the local store before the embedded store) into a new
    /// embedded store directory; then point upstream.path at --to.
    ImportFs {
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        to: PathBuf,
    },
    /// Serve the bare embedded store (NO encryption) with one static credential: for
    /// conformance tests and benchmarks only.
    #[command(hide = true)]
    StoreServe {
        #[arg(long)]
        path: PathBuf,
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "storekey")]
        access_key: String,
        #[arg(long, default_value = "storesecret")]
        secret_key: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    match rt.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3seal: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The config file, or the embedded default.
fn load(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

/// Logs go to stderr, filtered by `S3SEAL_LOG` (default `info`), as text or JSON lines.
///
/// The s3s crates log whole requests at debug level, headers included, and SSE-C requests
/// carry the customer's key in a header; so they are capped at `warn` whatever the filter
/// says. Whatever the filter, every line passes `redact::Redacting`, which blanks secret
/// values (Authorization, signatures, SSE-C keys, tokens, cookies). A test runs a full
/// workload at trace and greps the output for secrets. `s3s::http::de` is off: it logs a
/// whole request body at ERROR when it is not the XML an operation expects, and that body
/// is object plaintext when a client misaddresses an upload.
fn init_logs(json: bool) {
    const CAP: &str = "s3s::=warn,s3s::http::de=off,s3s_fs=warn,s3s_aws=warn";
    let wanted = std::env::var("S3SEAL_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{wanted},{CAP}"))
        .unwrap_or_else(|_| format!("info,{CAP}").into());
    // Colour codes only for a terminal: in a log file they are noise, and formatting them was
    // a sixth of a small request's access-log cost.
    let b = tracing_subscriber::fmt()
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(filter)
        .with_writer(s3seal::redact::Redacting(std::io::stderr));
    if json {
        b.json().init();
    } else {
        b.fmt_fields(s3seal::logfmt::Fields).init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve {
            config,
            listen,
            console_listen,
        } => {
            let mut cfg = match &config {
                Some(p) => Config::load(p)?,
                None => Config::default(),
            };
            init_logs(cfg.server.log_format == "json");
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            if let Some(l) = console_listen {
                cfg.server.console_listen = l;
            }
            let gw = Gateway::build(&cfg).await?;
            let running = gw
                .bind(cfg.server.listen, s3seal::server::shutdown_signal())
                .await?;
            // Not print!: a closed stdout (a supervisor that stopped reading) must not kill
            // the gateway.
            {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = write!(out, "{}", running.banner).and_then(|()| out.flush());
            }
            running.serve.await;
            Ok(())
        }
        Cmd::Rotate {
            config,
            bucket,
            prefix,
            to,
            check,
        } => {
            init_logs(false);
            let cfg = load(config.as_deref())?;
            let up = s3seal::upstream::build(&cfg.upstream).await?;
            let keys = s3seal::gateway::key_provider(&cfg.keys).await?;
            let target = (!check).then(|| to.unwrap_or_else(|| keys.active_id().to_owned()));
            let mut n = 0u64;
            let summary = s3seal::rotate::run(
                &up,
                keys.as_ref(),
                &bucket,
                prefix.as_deref(),
                target.as_deref(),
                |key, s| {
                    n += 1;
                    if n.is_multiple_of(100) || std::io::IsTerminal::is_terminal(&std::io::stderr())
                    {
                        eprint!(
                            "\r{n} objects ({} rewrapped, {} failed) {key:.60}\x1b[K",
                            s.rewrapped, s.failed
                        );
                    }
                },
            )
            .await?;
            eprintln!();
            match &target {
                Some(t) => println!(
                    "rotation to {t}: {} rewrapped, {} already current, {} unencrypted (skipped), {} customer-key (skipped), {} failed",
                    summary.rewrapped,
                    summary.already_current,
                    summary.unencrypted,
                    summary.customer_key,
                    summary.failed
                ),
                None => {
                    println!(
                        "objects per KEK in {bucket}/{}:",
                        prefix.unwrap_or_default()
                    );
                    for (k, v) in &summary.by_kek {
                        println!("  {k}: {v}");
                    }
                    println!("  unencrypted: {}", summary.unencrypted);
                }
            }
            if summary.failed > 0 {
                anyhow::bail!(
                    "{} objects could not be rotated; re-run to retry",
                    summary.failed
                );
            }
            Ok(())
        }
        Cmd::Inspect {
            config,
            bucket,
            key,
        } => {
            let cfg = load(config.as_deref())?;
            let up = s3seal::upstream::build(&cfg.upstream).await?;
            print!("{}", s3seal::tools::inspect(&up, &bucket, &key).await?);
            Ok(())
        }
        Cmd::Decrypt {
            config,
            bucket,
            key,
            metadata,
            output,
        } => {
            let cfg = load(config.as_deref())?;
            let keys = s3seal::gateway::key_provider(&cfg.keys).await?;
            let (bucket, metadata) = (bucket.as_deref(), metadata.as_deref());
            match output {
                None => {
                    decrypt(
                        &cfg,
                        keys.as_ref(),
                        bucket,
                        &key,
                        metadata,
                        &mut tokio::io::stdout(),
                    )
                    .await
                }
                Some(path) => {
                    s3seal::tools::to_file_atomically(&path, |mut f| async move {
                        decrypt(&cfg, keys.as_ref(), bucket, &key, metadata, &mut f).await
                    })
                    .await
                }
            }
        }
        Cmd::ImportFs { from, to } => {
            init_logs(false);
            let (b, o) = s3seal::store::import::import_fs(&from, &to).await?;
            println!(
                "imported {o} objects in {b} buckets from {} into {}",
                from.display(),
                to.display()
            );
            Ok(())
        }
        Cmd::StoreServe {
            path,
            listen,
            access_key,
            secret_key,
        } => {
            init_logs(false);
            let l = tokio::net::TcpListener::bind(listen).await?;
            println!(
                "store-serve: {} on http://{}",
                path.display(),
                l.local_addr()?
            );
            s3seal::store::serve_direct(&path, l, &access_key, &secret_key).await
        }
        Cmd::Keygen {
            key_file,
            id,
            add,
            activate,
        } => {
            init_logs(false);
            use s3seal::keys::{add_key, generate_key_file};
            if add {
                add_key(&key_file, &id, activate)?;
                let state = if activate { "active" } else { "not active" };
                println!("added KEK '{id}' ({state}) to {}", key_file.display());
            } else {
                generate_key_file(&key_file, &id)?;
                println!(
                    "created {} with KEK '{id}' (active); back this file up: objects sealed under it cannot be read without it",
                    key_file.display()
                );
            }
            Ok(())
        }
    }
}

/// `s3seal decrypt` into `out`, from the store (`--bucket`) or from stored bytes on stdin
/// (`--metadata`).
async fn decrypt(
    cfg: &s3seal::config::Config,
    keys: &dyn s3seal::keys::KekProvider,
    bucket: Option<&str>,
    key: &str,
    metadata: Option<&std::path::Path>,
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
) -> anyhow::Result<()> {
    match (bucket, metadata) {
        (Some(b), None) => {
            let up = s3seal::upstream::build(&cfg.upstream).await?;
            s3seal::tools::decrypt_from_store(&up, keys, b, key, out).await
        }
        (b, Some(m)) => {
            let text = std::fs::read_to_string(m)
                .map_err(|e| anyhow::anyhow!("--metadata {}: {e}", m.display()))?;
            let meta: std::collections::HashMap<String, String> = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("--metadata {}: {e}", m.display()))?;
            s3seal::tools::decrypt_stream(&meta, keys, b, key, tokio::io::stdin(), out).await
        }
        (None, None) => anyhow::bail!(
            "give --bucket (read from the store) or --metadata (stored bytes on stdin; add --bucket for objects bound to their bucket)"
        ),
    }
}
