//! HTTPS on rustls: the server certificate from the registry's CA, client certificates from
//! the same CA verified when presented (provisioning is the one call made without one), and the
//! presented certificate handed to the API as the connection's [`Peer`].
//!
//! Hardened for a public network: at most `max_connections` at once (the rest wait in the
//! kernel's backlog), a TLS handshake and a request's header each have [`HANDSHAKE_TIMEOUT`] and
//! [`HEADER_TIMEOUT`], so idle connections (slowloris) are closed, and SIGTERM or SIGINT stops
//! taking connections and lets those in flight finish (up to [`DRAIN_TIMEOUT`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Extension;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use log::{debug, info, warn};
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, AppState, Peer};
use crate::keys::RegistryDir;

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a request's header may take to arrive (also the idle time between requests).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest the requests in flight get to finish after SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

fn tls_config(
    dir: &RegistryDir,
    refused: Arc<crate::withdrawn::Refused>,
) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = CertificateDer::from_pem_file(dir.ca_cert()).context("CA certificate")?;
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone())?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let verifier = Arc::new(crate::withdrawn::RefusingVerifier {
        inner: verifier,
        refused,
    });
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
    let device = crate::withdrawn::common_name(first);
    Peer {
        device,
        certificate: Some(first.to_vec()),
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn stop_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// How the device API is served.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
}

/// Serves the device API on `listener` until `stop` resolves, then drains.
pub async fn serve(
    dir: &RegistryDir,
    listener: TcpListener,
    state: Arc<AppState>,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let acceptor = TlsAcceptor::from(tls_config(dir, state.refused.clone())?);
    info!("listening on https://{}", listener.local_addr()?);
    let metrics = state.metrics.clone();
    let router = api::router(state);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(stop);
    loop {
        // A slot first: past the limit, new connections wait in the backlog.
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.context("connection slots")?,
            () = &mut stop => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    warn!("accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are small and written once: without this the first one on a connection
        // can wait ~40 ms for the client's delayed ACK (Nagle).
        if let Err(error) = stream.set_nodelay(true) {
            debug!("TCP_NODELAY on {remote}: {error}");
        }
        let acceptor = acceptor.clone();
        let router = router.clone();
        let http = http.clone();
        let metrics = metrics.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            metrics.connection(true);
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => Some(tls),
                Ok(Err(error)) => {
                    metrics.handshake_failed();
                    info!("TLS handshake with {remote} refused: {error}");
                    None
                }
                Err(_) => {
                    metrics.handshake_failed();
                    debug!("TLS handshake with {remote} timed out");
                    None
                }
            };
            if let Some(tls) = tls {
                let peer = peer_of(tls.get_ref().1.peer_certificates());
                let service = TowerToHyperService::new(router.layer(Extension(peer)));
                let connection = http.serve_connection(TokioIo::new(tls), service);
                if let Err(error) = watcher.watch(connection.into_owned()).await {
                    debug!("connection from {remote} ended: {error}");
                }
            }
            metrics.connection(false);
        });
    }
    info!("stopping: no new connections; finishing those in flight");
    tokio::select! {
        () = graceful.shutdown() => info!("all connections finished"),
        () = tokio::time::sleep(DRAIN_TIMEOUT) => warn!("connections still open after {} s; stopping anyway", DRAIN_TIMEOUT.as_secs()),
    }
    Ok(())
}

/// Binds `listen`.
pub async fn bind(listen: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))
}
