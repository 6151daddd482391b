//! TLS for listeners, with rustls: the server's certificate and key, and optionally the CA
//! that client certificates must chain to (mutual TLS).

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio_rustls::TlsAcceptor;

/// How a listener secures its connections (`mqtts://`, `wss://`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsServerOptions {
    /// The server's certificate chain (PEM), leaf first.
    pub cert_chain_pem: Vec<u8>,
    /// The server certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
    /// CA certificates (PEM) that client certificates are checked against. Without them,
    /// clients are not asked for a certificate.
    pub client_ca_pem: Option<Vec<u8>>,
    /// With `client_ca_pem`: refuse clients that present no certificate (default), or let
    /// them in (their certificate, when they send one, is still checked).
    pub client_cert_optional: bool,
    /// ALPN protocols to accept, most preferred first.
    pub alpn: Vec<Vec<u8>>,
}

impl TlsServerOptions {
    /// Builds the acceptor a listener hands each accepted TCP stream to.
    ///
    /// # Errors
    /// A message naming what could not be read (the certificate chain, the key, the client
    /// CA) or why they do not fit together.
    pub fn acceptor(&self) -> Result<TlsAcceptor, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = CertificateDer::pem_slice_iter(&self.cert_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("server certificate PEM: {e}"))?;
        if chain.is_empty() {
            return Err("the server certificate PEM holds no certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| format!("server key PEM: {e}"))?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS protocol versions: {e}"))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(pem) {
                    let cert = cert.map_err(|e| format!("client CA PEM: {e}"))?;
                    roots.add(cert).map_err(|e| format!("client CA certificate: {e}"))?;
                }
                if roots.is_empty() {
                    return Err("the client CA PEM holds no certificate".into());
                }
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                let verifier =
                    if self.client_cert_optional { verifier.allow_unauthenticated() } else { verifier };
                builder.with_client_cert_verifier(verifier.build().map_err(|e| format!("client CA: {e}"))?)
            }
        };
        let mut config =
            builder.with_single_cert(chain, key).map_err(|e| format!("server certificate and key: {e}"))?;
        config.alpn_protocols = self.alpn.clone();
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}
