//! MLLP over TLS (`[hl7] tls_listen`, `tls_cert`, `tls_key`), and optionally mutual TLS
//! (`tls_client_ca`): the acceptor the MLLP listener completes each TLS connection's handshake
//! with, and the SHA-256 of the certificate a client presented, which the service compares
//! with the pin of the integration the message names (`client_cert_sha256` of its binding).
//!
//! With `tls_client_ca` set, a client must present a certificate issued by one of those CAs
//! (TLS 1.2 or 1.3; checked by rustls' WebPKI verifier, validity dates included), or the
//! handshake fails and no message is read. Without it, the listener asks for no certificate,
//! and a binding that pins one takes nothing.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// The MLLP TLS acceptor from PEM files: the listener's certificate chain and key, and the
/// CAs client certificates must be issued by (`None`: none asked for).
///
/// # Errors
/// A file that cannot be read or used, naming it.
pub fn acceptor(cert_file: &Path, key_file: &Path, client_ca: Option<&Path>) -> Result<TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("hl7.tls_cert {}: {e}", cert_file.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("hl7.tls_cert {}: {e}", cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!("hl7.tls_cert {}: no certificate found", cert_file.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| format!("hl7.tls_key {}: {e}", key_file.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("hl7 TLS: {e}"))?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            let cas = CertificateDer::pem_file_iter(ca)
                .map_err(|e| format!("hl7.tls_client_ca {}: {e}", ca.display()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("hl7.tls_client_ca {}: {e}", ca.display()))?;
            for c in cas {
                roots.add(c).map_err(|e| format!("hl7.tls_client_ca {}: {e}", ca.display()))?;
            }
            if roots.is_empty() {
                return Err(format!("hl7.tls_client_ca {}: no certificate found", ca.display()));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| format!("hl7.tls_client_ca {}: {e}", ca.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("hl7.tls_cert/hl7.tls_key: the key does not fit the certificate: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The SHA-256 of the (leaf) certificate the client presented on `conn`, if any.
#[must_use]
pub fn client_cert_sha256(conn: &rustls::ServerConnection) -> Option<[u8; 32]> {
    let leaf = conn.peer_certificates()?.first()?;
    Some(Sha256::digest(leaf.as_ref()).into())
}
