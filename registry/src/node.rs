//! One ingest node: the device API on its TLS port and the operators' page on its own, over one
//! store, until SIGTERM; refusals older than the retention are dropped every hour.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use log::{info, warn};

use crate::api::AppState;
use crate::incidents::IncidentGate;
use crate::keys::{self, RegistryDir};
use crate::metrics::Metrics;
use crate::ops::{OpsState, serve_ops};
use crate::server::{self, Limits};
use crate::store::Store;

/// How a node serves.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The key directory.
    pub keys: RegistryDir,
    /// The device API's address.
    pub listen: SocketAddr,
    /// The operators' page's address.
    pub ops_listen: SocketAddr,
    /// Validity of device certificates, days.
    pub device_cert_days: i64,
    /// Connections served at once.
    pub max_connections: usize,
    /// Days refusals are kept.
    pub incident_days: i64,
    /// Where update bundles are served from.
    pub updates: Option<std::path::PathBuf>,
}

/// Serves until SIGTERM or SIGINT, then finishes what is in flight.
pub fn run(store: Box<dyn Store>, options: NodeOptions) -> Result<()> {
    let store: Arc<dyn Store> = Arc::from(store);
    if store.meta()?.is_none() {
        anyhow::bail!("this database holds no registry: run `sajili-registry init` first");
    }
    let keys = keys::load(&options.keys)?;
    let metrics = Arc::new(Metrics::new());
    let refused = Arc::new(crate::withdrawn::Refused::default());
    refused.refresh(store.as_ref())?;
    let state = Arc::new(AppState {
        store: store.clone(),
        keys,
        device_cert_days: options.device_cert_days,
        metrics: metrics.clone(),
        incidents: IncidentGate::new(),
        seen: Mutex::new(Default::default()),
        refused: refused.clone(),
        updates: options.updates.clone(),
        bodies: Default::default(),
        order: Default::default(),
        #[cfg(feature = "test-hooks")]
        faults: crate::hooks::Faults::from_env()?,
    });
    #[cfg(feature = "test-hooks")]
    warn!("built with test hooks (upload sink, injected faults): not for production");
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the runtime")?;
    // The store's last handle is dropped here, on this thread, after the runtime: the
    // PostgreSQL client closes its connections with a runtime of its own, which may not be
    // started on one of tokio's threads (where a background task's handle would otherwise be
    // the last to go, and abort the process at shutdown).
    let last_handle = store.clone();
    let served = runtime.block_on(async move {
        let listener = server::bind(options.listen).await?;
        let ops_listener = server::bind(options.ops_listen).await?;
        info!(
            "operators' page on http://{} (database: {})",
            ops_listener.local_addr()?,
            store.engine()
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let ops = tokio::spawn(serve_ops(
            ops_listener,
            OpsState {
                store: store.clone(),
                metrics,
            },
            {
                let mut stop_rx = stop_rx.clone();
                async move {
                    let _ = stop_rx.wait_for(|stop| *stop).await;
                }
            },
        ));
        tokio::spawn(prune_incidents(store.clone(), options.incident_days));
        tokio::spawn(refresh_withdrawn(store.clone(), refused));
        let served = server::serve(
            &options.keys,
            listener,
            state,
            Limits {
                max_connections: options.max_connections,
            },
            server::stop_signal(),
        )
        .await;
        let _ = stop_tx.send(true);
        if let Ok(Err(error)) = ops.await {
            warn!("operators' page: {error:#}");
        }
        info!("stopped");
        served
    });
    drop(runtime);
    drop(last_handle);
    served
}

/// Drops refusals older than `days`, now and every hour.
async fn prune_incidents(store: Arc<dyn Store>, days: i64) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        let before = time::OffsetDateTime::now_utc().unix_timestamp() - days * 86_400;
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.prune_incidents(before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(pruned)) => info!("dropped {pruned} refusal(s) older than {days} days"),
            Ok(Err(error)) => warn!("could not drop old refusals: {error:#}"),
            Err(_) => {}
        }
    }
}

/// Reads the withdrawn devices again every few seconds, for the handshake.
async fn refresh_withdrawn(store: Arc<dyn Store>, refused: Arc<crate::withdrawn::Refused>) {
    let mut every = tokio::time::interval(crate::withdrawn::REFRESH);
    let mut failing = false;
    loop {
        every.tick().await;
        let (store, refused) = (store.clone(), refused.clone());
        match tokio::task::spawn_blocking(move || refused.refresh(store.as_ref())).await {
            Ok(Ok(_)) => failing = false,
            // Logged once per outage: the API still refuses a withdrawn device on every call.
            Ok(Err(error)) if !failing => {
                failing = true;
                warn!("could not read the withdrawn devices: {error:#}");
            }
            _ => {}
        }
    }
}

/// Raises the soft limit on open files to the hard limit: each connection is a descriptor, and
/// the default soft limit (1,024) is below the connection limit.
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            warn!("could not raise the open-file limit: {error}");
        }
    }
}
