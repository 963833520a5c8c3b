//! HTTPS: a listener that completes the TLS handshake (1.2 or 1.3 only) before handing the
//! connection to the HTTP server, and the certificate reloaded without a restart.
//!
//! On `SIGHUP` the certificate and key files are read again; new connections get the new pair,
//! open ones keep theirs. A pair that cannot be used (unreadable, not PEM, a key that does not
//! match the certificate) is logged and the server goes on serving the previous one.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use std::path::PathBuf;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Builds the TLS acceptor from PEM files.
pub fn acceptor(cert_file: &Path, key_file: &Path) -> Result<TlsAcceptor, Box<dyn std::error::Error>> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("{}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate found", cert_file.display()).into());
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("{}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The acceptor new connections use, replaced when the certificate is reloaded.
pub type CurrentAcceptor = tokio::sync::watch::Receiver<TlsAcceptor>;

/// Reloads the certificate and key from their files on every `SIGHUP` until the returned task
/// is aborted; `None` (no TLS) only logs that there is nothing to reload. Installs the signal
/// handler before returning, so a `SIGHUP` never ends the server.
pub fn reload_on_hangup(
    files: Option<(PathBuf, PathBuf, tokio::sync::watch::Sender<TlsAcceptor>)>,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    #[cfg(unix)]
    {
        let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
        Ok(tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                let Some((cert, key, current)) = &files else {
                    tracing::info!("SIGHUP: no TLS certificate to reload (tls.cert_file is not set)");
                    continue;
                };
                match acceptor(cert, key) {
                    Ok(new) => {
                        current.send_replace(new);
                        tracing::info!(cert = %cert.display(), "reloaded the TLS certificate and key; new connections use them");
                    }
                    Err(e) => tracing::error!(
                        error = %e,
                        "TLS certificate NOT reloaded: the new certificate or key cannot be used; still serving the previous one"
                    ),
                }
            }
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = files;
        Ok(tokio::spawn(async {}))
    }
}

/// A TCP listener whose connections are TLS. Handshakes run concurrently, each in its own
/// task, so a slow client cannot hold up the others.
pub struct TlsListener {
    ready: tokio::sync::mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    acceptor_task: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    /// Starts accepting on a bound listener, each connection with the acceptor current when it
    /// arrives; a handshake not finished within `handshake_timeout` is abandoned.
    pub fn new(
        tcp: TcpListener,
        acceptor: CurrentAcceptor,
        handshake_timeout: std::time::Duration,
    ) -> std::io::Result<Self> {
        let local = tcp.local_addr()?;
        let (tx, ready) = tokio::sync::mpsc::channel(1024);
        let acceptor_task = tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.borrow().clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(handshake_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, peer = %addr, "TLS handshake failed"),
                        Err(_) => tracing::debug!(peer = %addr, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self { ready, local, acceptor_task })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.acceptor_task.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task only ends when the listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
