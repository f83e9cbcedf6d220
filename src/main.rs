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

/// Logs go to stderr, filtered by `S3SEAL_LOG` (default `info`), as text or JSON lines.
///
/// The s3s crates log whole requests at debug level, headers included, and SSE-C requests
/// carry the customer's key in a header; so they are capped at `warn` whatever the filter
/// says. A test runs a full workload at debug and greps the output for secrets.
fn init_logs(json: bool) {
    const CAP: &str = "s3s::=warn,s3s_fs=warn,s3s_aws=warn";
    let wanted = std::env::var("S3SEAL_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{wanted},{CAP}"))
        .unwrap_or_else(|_| format!("info,{CAP}").into());
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        b.json().init();
    } else {
        b.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Serve { config, listen } => {
            let mut cfg = match &config {
                Some(p) => Config::load(p)?,
                None => Config::default(),
            };
            init_logs(cfg.server.log_format == "json");
            if let Some(l) = listen {
                cfg.server.listen = l;
            }
            let gw = Gateway::build(&cfg).await?;
            let running = gw
                .bind(cfg.server.listen, s3seal::server::shutdown_signal())
                .await?;
            print!("{}", running.banner);
            running.serve.await;
            Ok(())
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
