//! Test builds only (feature `test-hooks`): an upload sink for the benchmark's curl baseline
//! and injected faults (`SAJILI_REGISTRY_FAULTS=500:5,503:5` answers the first record calls
//! with those statuses). A production build has neither: the feature is off unless the test
//! crate asks for it.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::put;
use sajili_record::protocol::codes;

use crate::api::Refusal;

/// Statuses to answer the first record calls with, and the calls answered so far.
#[derive(Debug, Default)]
pub struct Faults {
    plan: Vec<(u16, u64)>,
    calls: AtomicU64,
}

impl Faults {
    /// Reads `SAJILI_REGISTRY_FAULTS` (`STATUS:COUNT,…`).
    pub fn from_env() -> Result<Self> {
        let Ok(text) = std::env::var("SAJILI_REGISTRY_FAULTS") else {
            return Ok(Self::default());
        };
        let plan = text
            .split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                let (status, count) = part
                    .trim()
                    .split_once(':')
                    .context("SAJILI_REGISTRY_FAULTS: STATUS:COUNT,...")?;
                Ok((status.parse()?, count.parse()?))
            })
            .collect::<Result<Vec<_>>>()?;
        if !plan.is_empty() {
            log::warn!("injecting faults {plan:?} (SAJILI_REGISTRY_FAULTS)");
        }
        Ok(Self {
            plan,
            calls: AtomicU64::new(0),
        })
    }

    /// The answer planned for this call, if any.
    pub fn next(&self) -> Option<Refusal> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let mut start = 0;
        for (status, count) in &self.plan {
            if call < start + count {
                let status =
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let code = if status == StatusCode::SERVICE_UNAVAILABLE {
                    codes::UNAVAILABLE
                } else {
                    codes::INTERNAL
                };
                return Some(Refusal::new(
                    status,
                    code,
                    "injected fault (SAJILI_REGISTRY_FAULTS)",
                ));
            }
            start += count;
        }
        None
    }
}

/// Adds the sink: takes any body and drops it (the link's own speed, for curl).
pub fn routes<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.route(
        "/v1/sink",
        put(|body: Bytes| async move {
            drop(body);
            StatusCode::NO_CONTENT
        })
        .layer(axum::extract::DefaultBodyLimit::max(
            sajili_record::protocol::MAX_RECORD as usize,
        )),
    )
}
