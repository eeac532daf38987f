//! The registry's API, one call per method, over mutual TLS with ureq.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use rustls::ClientConfig;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};

use super::protocol::{
    self, ApiError, BatchAnswer, CertificateIssued, ProvisionRequest, UploadProgress,
};
use super::tls::PinnedTls;

/// Largest answer body read from the registry (receipts are 127 bytes, JSON answers small).
const MAX_ANSWER: u64 = 1 << 20;

/// Why a call to the registry did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The registry could not be reached, or the connection broke: try again later.
    Network(String),
    /// The registry answered 5xx: try again later.
    Unavailable {
        /// HTTP status.
        status: u16,
        /// Its message, if it sent one.
        message: String,
    },
    /// The registry refused the device's certificate during the TLS handshake.
    Certificate(String),
    /// The registry refused the request (4xx) with a code.
    Refused {
        /// HTTP status.
        status: u16,
        /// The registry's answer (boxed: it is large, and errors travel far).
        error: Box<ApiError>,
    },
    /// The back office withdrew this device: refused at the handshake (`certificate_revoked`)
    /// or by the API (`device_withdrawn`). Nothing more will be taken from it.
    Withdrawn(String),
    /// The registry answered something this device cannot read.
    BadAnswer(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(detail) => write!(f, "cannot reach the registry: {detail}"),
            Self::Unavailable { status, message } => {
                write!(f, "the registry is unavailable (HTTP {status}): {message}")
            }
            Self::Certificate(detail) => {
                write!(
                    f,
                    "the registry refused this device's certificate: {detail}"
                )
            }
            Self::Refused { error, .. } => {
                write!(f, "the registry refused: {} ({})", error.detail, error.code)
            }
            Self::Withdrawn(detail) => {
                write!(f, "the registry has withdrawn this device: {detail}")
            }
            Self::BadAnswer(detail) => write!(f, "the registry's answer is not readable: {detail}"),
        }
    }
}

impl std::error::Error for CallError {}

impl CallError {
    /// Whether trying again later may succeed without anything changing on the device.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Unavailable { .. })
    }

    /// The registry's code, for a refusal.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Refused { error, .. } => Some(&error.code),
            _ => None,
        }
    }
}

/// What one part of an upload led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartOutcome {
    /// The record is complete and the registry answered with its receipt (bytes, unverified).
    Receipt(Vec<u8>),
    /// The registry holds this many bytes of the record so far.
    Partial(u64),
}

/// Connections kept open to one node between calls: one for each of the four batches a sync
/// has on their way at once on a fast link, and one for the calls around them.
const IDLE_CONNECTIONS: usize = 5;

/// The header of the standing call that tells the registry how many records the device still
/// holds unacknowledged, for its operators.
pub const WAITING_HEADER: &str = "sajili-waiting";

/// A connection to one registry node (connections are pooled and reused; a clone shares the
/// pool, so several threads can each have a call in flight).
#[derive(Debug, Clone)]
pub struct Registry {
    agent: ureq::Agent,
    base: String,
}

fn describe_transport(error: &ureq::Error) -> CallError {
    // rustls reports handshake failures inside I/O errors.
    let rustls_error = match error {
        ureq::Error::Rustls(inner) => Some(inner.clone()),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            .cloned(),
        _ => None,
    };
    match rustls_error {
        Some(rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRevoked)) => {
            CallError::Withdrawn("its certificate was refused as revoked at the handshake".into())
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            let words = match alert {
                rustls::AlertDescription::CertificateExpired => "it has expired".to_string(),
                rustls::AlertDescription::CertificateRequired => {
                    "no certificate was sent".to_string()
                }
                rustls::AlertDescription::UnknownCA | rustls::AlertDescription::BadCertificate => {
                    "it is not issued by the registry's CA".to_string()
                }
                other => format!("TLS alert {other:?}"),
            };
            CallError::Certificate(words)
        }
        Some(rustls::Error::InvalidCertificate(reason)) => CallError::Network(format!(
            "the registry's certificate is not the pinned registry's ({reason:?}); not sending"
        )),
        Some(other) => CallError::Network(format!("TLS: {other}")),
        None => CallError::Network(match error {
            ureq::Error::Io(io) => io.to_string(),
            ureq::Error::Timeout(what) => format!("timed out ({what})"),
            other => other.to_string(),
        }),
    }
}

fn read_body(response: &mut ureq::http::Response<ureq::Body>) -> Result<Vec<u8>, CallError> {
    let mut body = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_ANSWER)
        .read_to_end(&mut body)
        .map_err(|e| CallError::Network(format!("the answer was cut: {e}")))?;
    Ok(body)
}

/// Turns a non-2xx answer into the error it means.
fn refusal(status: u16, body: &[u8]) -> CallError {
    let parsed: Option<ApiError> = serde_json::from_slice(body).ok();
    if status >= 500 || status == 429 {
        return CallError::Unavailable {
            status,
            message: parsed.map_or_else(|| format!("HTTP {status}"), |e| e.detail),
        };
    }
    match parsed {
        Some(error) => refused(status, error),
        None => CallError::BadAnswer(format!("HTTP {status} without an error body")),
    }
}

/// A refusal the registry sent, as the error it means.
pub fn refused(status: u16, error: ApiError) -> CallError {
    if error.code == protocol::codes::DEVICE_WITHDRAWN {
        return CallError::Withdrawn(error.detail);
    }
    CallError::Refused {
        status,
        error: Box::new(error),
    }
}

/// A request body read out of a slice that calls `at_end` once its last byte has been read.
struct Announced<'a, F: FnOnce()> {
    rest: &'a [u8],
    at_end: Option<F>,
}

impl<F: FnOnce()> Read for Announced<'_, F> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let count = self.rest.len().min(buffer.len());
        let (now, later) = self.rest.split_at(count);
        buffer[..count].copy_from_slice(now);
        self.rest = later;
        if self.rest.is_empty()
            && let Some(at_end) = self.at_end.take()
        {
            at_end();
        }
        Ok(count)
    }
}

impl Registry {
    /// A client for the registry at `base_url` (`https://host:port`) with `config`.
    pub fn new(base_url: &str, config: Arc<ClientConfig>) -> Self {
        let agent_config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            // Per read and per write, not per call: a slow link that keeps moving is fine.
            .timeout_per_read(Some(Duration::from_secs(60)))
            .timeout_per_write(Some(Duration::from_secs(60)))
            .max_idle_connections_per_host(IDLE_CONNECTIONS)
            .user_agent(concat!("sajili/", env!("CARGO_PKG_VERSION")))
            .build();
        let connector = TcpConnector::default().chain(PinnedTls::new(config));
        Self {
            agent: ureq::Agent::with_parts(agent_config, connector, DefaultResolver::default()),
            base: base_url.trim_end_matches('/').to_string(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn finish(
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(u16, Vec<u8>), CallError> {
        let mut response = result.map_err(|e| describe_transport(&e))?;
        let status = response.status().as_u16();
        let body = read_body(&mut response)?;
        if (200..300).contains(&status) {
            Ok((status, body))
        } else {
            Err(refusal(status, &body))
        }
    }

    fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CallError> {
        serde_json::from_slice(body).map_err(|e| CallError::BadAnswer(e.to_string()))
    }

    /// `POST /v1/provision`.
    pub fn provision(&self, request: &ProvisionRequest) -> Result<CertificateIssued, CallError> {
        let body = serde_json::to_vec(request).map_err(|e| CallError::BadAnswer(e.to_string()))?;
        let (_, answer) = Self::finish(
            self.agent
                .post(self.url(protocol::PATH_PROVISION))
                .content_type("application/json")
                .send(&body[..]),
        )?;
        Self::json(&answer)
    }

    /// `POST /v1/renew`: a new certificate for the key of the one presented.
    pub fn renew(&self) -> Result<CertificateIssued, CallError> {
        let (_, answer) =
            Self::finish(self.agent.post(self.url(protocol::PATH_RENEW)).send_empty())?;
        Self::json(&answer)
    }

    /// `GET /v1/standing`: a signed standing (unverified bytes). `waiting`: the records the
    /// device holds without a receipt, sent as [`WAITING_HEADER`].
    pub fn standing(&self, waiting: u64) -> Result<Vec<u8>, CallError> {
        let (_, answer) = Self::finish(
            self.agent
                .get(self.url(protocol::PATH_STANDING))
                .header(WAITING_HEADER, waiting.to_string())
                .call(),
        )?;
        Ok(answer)
    }

    /// `GET /v1/policy?have=N`: the signed fleet policy of the device's centre (unverified
    /// bytes), or `None` when the registry holds nothing newer than version `have`.
    pub fn policy(&self, have: u64) -> Result<Option<Vec<u8>>, CallError> {
        let (status, answer) = Self::finish(
            self.agent
                .get(format!("{}?have={have}", self.url(protocol::PATH_POLICY)))
                .call(),
        )?;
        Ok((status != 204 && !answer.is_empty()).then_some(answer))
    }

    /// `GET /v1/update?running=V`: the newest update published to this device above V.
    pub fn update_offer(&self, running: &str) -> Result<Option<protocol::UpdateOffer>, CallError> {
        let (status, answer) = Self::finish(
            self.agent
                .get(format!(
                    "{}?running={running}",
                    self.url(protocol::PATH_UPDATE)
                ))
                .call(),
        )?;
        if status == 204 || answer.is_empty() {
            return Ok(None);
        }
        Self::json(&answer).map(Some)
    }

    /// `GET /v1/updates/{sha256}` from byte `from` on, appended to `out`; the bytes written.
    /// The registry answers 206 to a range, 200 with the whole file to a request from 0.
    pub fn download_update(
        &self,
        sha256: &str,
        from: u64,
        out: &mut impl std::io::Write,
    ) -> Result<u64, CallError> {
        let mut request = self.agent.get(self.url(&protocol::update_path(sha256)));
        if from > 0 {
            request = request.header("Range", format!("bytes={from}-"));
        }
        let mut response = request.call().map_err(|e| describe_transport(&e))?;
        let status = response.status().as_u16();
        if !(status == 206 || (status == 200 && from == 0)) {
            let body = read_body(&mut response)?;
            return Err(refusal(status, &body));
        }
        let mut reader = response.body_mut().as_reader();
        std::io::copy(&mut reader, out)
            .map_err(|e| CallError::Network(format!("the download was cut: {e}")))
    }

    /// `POST /v1/audit`: signed audit events (a spool file, as the kiosk wrote it).
    pub fn audit(&self, signed: &[u8]) -> Result<protocol::AuditAnswer, CallError> {
        let (_, answer) = Self::finish(
            self.agent
                .post(self.url(protocol::PATH_AUDIT))
                .content_type("application/json")
                .send(signed),
        )?;
        Self::json(&answer)
    }

    /// `GET /v1/records/{seq}/receipt`: the receipt of a record the registry holds.
    pub fn receipt(&self, seq: u64) -> Result<Vec<u8>, CallError> {
        let (_, answer) = Self::finish(
            self.agent
                .get(self.url(&protocol::receipt_path(seq)))
                .call(),
        )?;
        Ok(answer)
    }

    /// `GET /v1/records/{seq}/upload`: bytes of the record the registry holds so far.
    pub fn upload_progress(&self, seq: u64) -> Result<u64, CallError> {
        let (_, answer) =
            Self::finish(self.agent.get(self.url(&protocol::upload_path(seq))).call())?;
        Ok(Self::json::<UploadProgress>(&answer)?.received)
    }

    /// `POST /v1/records`: several whole records, in chain order, in one request.
    pub fn put_batch(&self, records: &[&[u8]]) -> Result<BatchAnswer, CallError> {
        self.put_batch_body(&records.concat(), || {})
    }

    /// `POST /v1/records` of records already laid end to end in chain order (so the sender
    /// reads each file once, into the body). `handed_over` is called once the whole body has
    /// been handed to the connection, while the answer is still to come; not called if the
    /// call fails before.
    pub fn put_batch_body(
        &self,
        body: &[u8],
        handed_over: impl FnOnce(),
    ) -> Result<BatchAnswer, CallError> {
        let mut reader = Announced {
            rest: body,
            at_end: Some(handed_over),
        };
        let (_, answer) = Self::finish(
            self.agent
                .post(self.url(protocol::PATH_BATCH))
                .content_type("application/octet-stream")
                .header("content-length", body.len().to_string())
                .send(ureq::SendBody::from_reader(&mut reader)),
        )?;
        Self::json(&answer)
    }

    /// `PUT /v1/records/{seq}?offset=&total=`: one part of a record.
    pub fn put_part(
        &self,
        seq: u64,
        offset: u64,
        total: u64,
        bytes: &[u8],
    ) -> Result<PartOutcome, CallError> {
        let url = format!(
            "{}?offset={offset}&total={total}",
            self.url(&protocol::record_path(seq))
        );
        let (status, answer) = Self::finish(
            self.agent
                .put(url)
                .content_type("application/octet-stream")
                .send(bytes),
        )?;
        if status == 202 {
            Ok(PartOutcome::Partial(
                Self::json::<UploadProgress>(&answer)?.received,
            ))
        } else {
            Ok(PartOutcome::Receipt(answer))
        }
    }
}
