//! TLS for the client-facing listener: PEM certificate chain and key from files, reloaded on
//! SIGHUP without dropping connections (new handshakes use the new certificate). A reload
//! that fails keeps the old certificate and logs why.

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    /// Loads the files now; errors name the file and the problem.
    pub fn load(cert: &Path, key: &Path) -> anyhow::Result<Arc<Tls>> {
        let cfg = build(cert, key)?;
        Ok(Arc::new(Tls {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(cfg)),
        }))
    }

    pub fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.current.read().expect("tls lock").clone())
    }

    /// Re-reads the files; on error the previous certificate stays in use.
    pub fn reload(&self) {
        match build(&self.cert, &self.key) {
            Ok(cfg) => {
                *self.current.write().expect("tls lock") = Arc::new(cfg);
                tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => tracing::error!("TLS reload failed, keeping the previous certificate: {e:#}"),
        }
    }

    /// Reloads on every SIGHUP, for as long as the process runs.
    #[cfg(unix)]
    pub fn reload_on_sighup(self: &Arc<Self>) -> anyhow::Result<()> {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        let me = self.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                me.reload();
            }
        });
        Ok(())
    }
}

fn build(cert: &Path, key: &Path) -> anyhow::Result<ServerConfig> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| anyhow::anyhow!("server.tls.cert {}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("server.tls.cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        anyhow::bail!(
            "server.tls.cert {}: no PEM certificate in the file",
            cert.display()
        );
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("server.tls.key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| anyhow::anyhow!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            anyhow::anyhow!("server.tls: certificate and key do not form a usable pair: {e}")
        })?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}
