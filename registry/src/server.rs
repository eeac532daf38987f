//! HTTPS on rustls: the server certificate from the registry's CA, client certificates from
//! the same CA verified when presented (provisioning is the one call made without one), and the
//! presented certificate handed to the API as the connection's [`Peer`].

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, AppState, Peer};
use crate::keys::RegistryDir;

fn tls_config(dir: &RegistryDir) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = CertificateDer::from_pem_file(dir.ca_cert()).context("CA certificate")?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let chain = vec![
        CertificateDer::from_pem_file(dir.server_cert()).context("server certificate")?,
        ca,
    ];
    let key = PrivateKeyDer::from_pem_file(dir.server_key()).context("server key")?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

fn peer_of(certificates: Option<&[CertificateDer<'_>]>) -> Peer {
    let Some(first) = certificates.and_then(|c| c.first()) else {
        return Peer::default();
    };
    let device = x509_parser::parse_x509_certificate(first)
        .ok()
        .and_then(|(_, cert)| {
            cert.subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .map(str::to_string)
        });
    Peer {
        device,
        certificate: Some(first.to_vec()),
    }
}

/// Serves until the process is stopped.
pub async fn serve(dir: &RegistryDir, listen: SocketAddr, state: Arc<AppState>) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls_config(dir)?);
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    println!(
        "sajili-registry: listening on https://{}",
        listener.local_addr()?
    );
    let router = api::router(state);
    loop {
        let (stream, remote) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                eprintln!("sajili-registry: accept failed: {error}");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(stream).await {
                Ok(tls) => tls,
                Err(error) => {
                    eprintln!("sajili-registry: TLS handshake with {remote} refused: {error}");
                    return;
                }
            };
            let peer = peer_of(tls.get_ref().1.peer_certificates());
            let service = TowerToHyperService::new(router.layer(Extension(peer)));
            let served = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
            if let Err(error) = served {
                eprintln!("sajili-registry: connection from {remote} ended: {error}");
            }
        });
    }
}
