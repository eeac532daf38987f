//! The HTTP API (docs/registry-protocol.md): provisioning, renewal, standing, and records whole,
//! in parts or in batches. Every refusal is an RFC 9457 problem with a stable `code`; refusals
//! of a known device are recorded for operators (rate-limited), those of callers without a
//! certificate are only counted and logged, so they cost no durable write.
//!
//! An ingest node never decrypts: it checks each record's envelope, signature and place in the
//! chain, stores the ciphertext and signs a receipt. Whether the contents are sound is the back
//! office's question (`sajili-registry process`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use log::{error, info, warn};
use sajili_record::protocol::{
    self, ApiError, BatchAnswer, CertificateIssued, MAX_BATCH, MAX_RECORD, PROBLEM_JSON,
    ProvisionRequest, UploadProgress, codes, problem_type,
};
use sajili_record::record::{
    DeviceId, EnvelopeView, Receipt, ReceiptKind, device_id_for, hex, parse_hex, sha256,
};
use serde::Deserialize;

use crate::incidents::IncidentGate;
use crate::keys::{self, Keys};
use crate::metrics::Metrics;
use crate::ordering::{ChainOrder, PREDECESSOR_WAIT};
use crate::store::{ChainRefusal, Checked, PartOutcome, Provision, ProvisionRefusal, Store};

/// Largest provisioning or renewal body: a CSR, a key and a signature.
const MAX_SMALL_BODY: u64 = 64 * 1024;

/// How long a request may take, body included (a slow sender holds no slot for ever).
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// How often a device's "last seen" is written at most (a durable write per call would make
/// every standing call cost a commit).
const SEEN_EVERY_S: i64 = 60;

/// What every handler shares.
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The keys.
    pub keys: Keys,
    /// Validity of device certificates, days.
    pub device_cert_days: i64,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Which refusals are recorded.
    pub incidents: IncidentGate,
    /// Per device: when "last seen" was last written, and the waiting count then.
    pub seen: Mutex<HashMap<String, (i64, Option<u64>)>>,
    /// Withdrawn devices refused at the handshake.
    pub refused: Arc<crate::withdrawn::Refused>,
    /// Where update bundles are served from (`serve --updates`); none: no update is offered.
    pub updates: Option<std::path::PathBuf>,
    /// Batch bodies answered, to fill again.
    pub bodies: BodyPool,
    /// Each device's batches in progress, so they are stored in chain order.
    pub order: Arc<ChainOrder>,
    /// Test builds only: statuses to answer the first record calls with.
    #[cfg(feature = "test-hooks")]
    pub faults: crate::hooks::Faults,
}

/// Buffers for batch bodies, kept between requests: a body read into fresh memory costs a page
/// fault every 4 KiB, twice (hyper's read buffers, then the whole body laid end to end), and
/// that was about a fifth of the registry's time per record.
#[derive(Debug, Default)]
pub struct BodyPool {
    spare: Mutex<Vec<Vec<u8>>>,
}

/// Buffers kept at most: one per batch a node works on at once is enough.
const SPARE_BODIES: usize = 8;

/// Largest buffer kept: a batch as the uplink sends them (4 MiB) with room to spare; one made
/// for a larger body is let go.
const SPARE_BODY_BYTES: usize = 8 << 20;

impl BodyPool {
    /// An empty buffer, with the capacity of one used before if there is one.
    fn take(&self) -> Vec<u8> {
        let mut body = self
            .spare
            .lock()
            .map(|mut spare| spare.pop())
            .unwrap_or_default()
            .unwrap_or_default();
        body.clear();
        body
    }

    /// Keeps `body` for another request.
    fn give(&self, body: Vec<u8>) {
        if body.capacity() > SPARE_BODY_BYTES {
            return;
        }
        if let Ok(mut spare) = self.spare.lock()
            && spare.len() < SPARE_BODIES
        {
            spare.push(body);
        }
    }
}

/// The client certificate of a connection: the device it names (common name) and its DER.
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The device id in the certificate, if a certificate was presented.
    pub device: Option<String>,
    /// The certificate.
    pub certificate: Option<Vec<u8>>,
}

type Shared = Arc<AppState>;

/// A refusal on its way out: an RFC 9457 problem.
#[derive(Debug)]
pub struct Refusal {
    body: Box<ApiError>,
    /// Record it against (device, seq) for operators.
    incident: Option<Box<(String, Option<u64>)>>,
    /// The caller showed no certificate: log it (rate-limited), store nothing.
    anonymous: bool,
}

/// The title of each code: the same words for every occurrence (RFC 9457 `title`).
fn title(code: &str) -> &'static str {
    match code {
        codes::CLIENT_CERTIFICATE_REQUIRED => "A client certificate is required",
        codes::DEVICE_UNKNOWN => "Unknown device",
        codes::TOKEN_UNKNOWN => "Unknown enrolment token",
        codes::TOKEN_USED => "Enrolment token already used",
        codes::TOKEN_EXPIRED => "Enrolment token expired or withdrawn",
        codes::TOKEN_REQUIRED => "Enrolment token required",
        codes::BAD_PROOF => "Proof of key does not verify",
        codes::DEVICE_KEY_CONFLICT => "Device id held by another key",
        codes::BAD_REQUEST => "Malformed request",
        codes::BAD_ENVELOPE => "Not a sealed record",
        codes::BAD_SIGNATURE => "Record signature does not verify",
        codes::SEQ_MISMATCH => "Record number differs from the path",
        codes::WRONG_DEVICE => "Record of another device",
        codes::SEQ_CONFLICT => "Other bytes held for this record",
        codes::CHAIN_GAP => "Records missing before this one",
        codes::CHAIN_FORK => "Record does not follow the chain",
        codes::OFFSET_MISMATCH => "Part does not start where the held bytes end",
        codes::TOO_LARGE => "Too large",
        codes::NOT_FOUND => "Not found",
        codes::UNAVAILABLE => "Registry unavailable",
        _ => "Registry error",
    }
}

impl Refusal {
    /// A refusal with `status`, `code` and what happened.
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            body: Box::new(ApiError {
                kind: problem_type(code),
                title: title(code).to_string(),
                status: status.as_u16(),
                detail: detail.into(),
                code: code.to_string(),
                expected_seq: None,
                received: None,
            }),
            incident: None,
            anonymous: false,
        }
    }

    fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.body.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.body.code
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = self.status();
        let json = serde_json::to_vec(&self.body).unwrap_or_default();
        let mut response = (status, [(header::CONTENT_TYPE, PROBLEM_JSON)], json).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

/// The store or a key failed: most likely the database is away for a moment, so the device is
/// told to come back (503, Retry-After) rather than that its record is wrong.
fn unavailable(error: impl Into<anyhow::Error>) -> Refusal {
    error!("registry failure: {:#}", error.into());
    Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        codes::UNAVAILABLE,
        "the registry cannot take this now; try again shortly",
    )
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn octets(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        bytes,
    )
        .into_response()
}

/// Marks a refusal to be recorded against `device` (and `seq`).
fn against(device: &str, seq: Option<u64>, mut refusal: Refusal) -> Refusal {
    refusal.incident = Some(Box::new((device.to_string(), seq)));
    refusal
}

/// Marks a refusal of a caller without a certificate: logged within limits, never stored.
fn anonymous(mut refusal: Refusal) -> Refusal {
    refusal.anonymous = true;
    refusal
}

/// Counts a refusal and, if it names a device, records it (within the gate's limits).
fn settle(state: &AppState, refusal: &Refusal) {
    state.metrics.refusal(&refusal.body.code);
    if refusal.anonymous {
        state
            .incidents
            .anonymous(&refusal.body.code, &refusal.body.detail);
    } else if let Some(incident) = &refusal.incident {
        state.incidents.record(
            state.store.as_ref(),
            &incident.0,
            incident.1,
            &refusal.body.code,
            &refusal.body.detail,
        );
    }
}

/// Runs a blocking store call off the async threads, then settles its refusal.
async fn blocking<T: Send + 'static>(
    state: Shared,
    work: impl FnOnce(&AppState) -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(move || {
        let result = work(&state);
        if let Err(refusal) = &result {
            settle(&state, refusal);
        }
        result
    })
    .await
    .map_err(unavailable)?
}

/// The router of the device API.
pub fn router(state: Shared) -> Router {
    let small = DefaultBodyLimit::max(MAX_SMALL_BODY as usize);
    let records = DefaultBodyLimit::max(MAX_RECORD as usize);
    let router = Router::new()
        .route(protocol::PATH_PROVISION, post(provision).layer(small))
        .route(protocol::PATH_RENEW, post(renew).layer(small))
        .route(protocol::PATH_STANDING, get(standing))
        .route(protocol::PATH_POLICY, get(policy))
        .route(protocol::PATH_UPDATE, get(update_offer))
        .route("/v1/updates/{sha256}", get(update_bundle))
        .route(
            protocol::PATH_AUDIT,
            post(audit).layer(DefaultBodyLimit::max(protocol::MAX_AUDIT_BODY as usize)),
        )
        .route(protocol::PATH_BATCH, post(put_batch).layer(records))
        .route("/v1/records/{seq}", put(put_record).layer(records))
        .route("/v1/records/{seq}/upload", get(upload_progress))
        .route("/v1/records/{seq}/receipt", get(receipt))
        .route("/healthz", get(healthz));
    #[cfg(feature = "test-hooks")]
    let router = crate::hooks::routes(router);
    router
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

/// Every request: a body declared larger than the route takes is refused before a byte of it
/// is read; the whole request has [`REQUEST_TIMEOUT`]; its time and status go to `/metrics`.
async fn guard(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let path = request.uri().path().to_string();
    let route = route_name(&path);
    let limit = if route == "provision" || route == "renew" {
        MAX_SMALL_BODY
    } else if route == "audit" {
        protocol::MAX_AUDIT_BODY
    } else {
        MAX_RECORD
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let response = if declared.is_some_and(|length| length > limit) {
        let refusal = Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::TOO_LARGE,
            format!("a body of more than {limit} bytes is not taken here"),
        );
        state.metrics.refusal(refusal.code());
        refusal.into_response()
    } else {
        match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
            Ok(response) => response,
            Err(_) => Refusal::new(
                StatusCode::REQUEST_TIMEOUT,
                codes::BAD_REQUEST,
                "the request took too long",
            )
            .into_response(),
        }
    };
    state.metrics.request(
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A fixed name per route, so `/metrics` has a bounded set of labels.
fn route_name(path: &str) -> &'static str {
    match path {
        protocol::PATH_PROVISION => "provision",
        protocol::PATH_RENEW => "renew",
        protocol::PATH_STANDING => "standing",
        protocol::PATH_POLICY => "policy",
        protocol::PATH_UPDATE => "update",
        _ if path.starts_with("/v1/updates/") => "update_bundle",
        protocol::PATH_AUDIT => "audit",
        protocol::PATH_BATCH => "batch",
        "/healthz" => "healthz",
        _ if path.ends_with("/receipt") => "receipt",
        _ if path.ends_with("/upload") => "upload",
        _ if path.starts_with("/v1/records/") => "record",
        _ => "other",
    }
}

async fn healthz(State(state): State<Shared>) -> Result<Response, Refusal> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || store.ping())
        .await
        .map_err(unavailable)?
        .map_err(unavailable)?;
    Ok("ok\n".into_response())
}

/// A mutual-TLS caller whose certificate names a device the registry knows: read once per
/// call, its key with it.
struct Caller {
    /// The device id.
    device: String,
    /// Its record-signing key, hex, as stored.
    signing_key: String,
    /// Withdrawn by the back office: only records up to this seq are still taken (a device
    /// withdrawn without `--accept-until` never gets this far).
    accept_until: Option<u64>,
    /// The centre it serves, for its policy and updates.
    centre: Option<String>,
}

impl Caller {
    /// The device's record-signing key.
    fn key(&self) -> Result<VerifyingKey, Refusal> {
        parse_key(&self.signing_key).ok_or_else(|| {
            unavailable(anyhow::anyhow!(
                "the stored key of {} is damaged",
                self.device
            ))
        })
    }
}

/// The device a mutual-TLS call comes from, known to the registry.
fn require_device(state: &AppState, peer: &Peer) -> Result<Caller, Refusal> {
    let Some(device) = &peer.device else {
        // No device to charge it to: counted and logged (rate-limited), never stored.
        return Err(anonymous(Refusal::new(
            StatusCode::UNAUTHORIZED,
            codes::CLIENT_CERTIFICATE_REQUIRED,
            "this call needs the device's client certificate",
        )));
    };
    match state.store.device(device).map_err(unavailable)? {
        Some(entry) => {
            let accept_until = match &entry.withdrawn {
                None => None,
                Some(withdrawal) => match withdrawal.accept_until {
                    Some(limit) => Some(limit),
                    None => return Err(withdrawn(device, &withdrawal.reason)),
                },
            };
            Ok(Caller {
                device: device.clone(),
                signing_key: entry.signing_key,
                accept_until,
                centre: entry.centre,
            })
        }
        None => Err(against(
            device,
            None,
            Refusal::new(
                StatusCode::FORBIDDEN,
                codes::DEVICE_UNKNOWN,
                format!("device {device} is not provisioned here"),
            ),
        )),
    }
}

/// The refusal of a withdrawn device's call.
fn withdrawn(device: &str, reason: &str) -> Refusal {
    against(
        device,
        None,
        Refusal::new(
            StatusCode::FORBIDDEN,
            codes::DEVICE_WITHDRAWN,
            format!("device {device} was withdrawn by the back office: {reason}"),
        ),
    )
}

/// A call only a device in service makes (renewal, policy, audit): a withdrawn device whose
/// last records are still taken may send those, and nothing else.
fn require_in_service(state: &AppState, peer: &Peer) -> Result<Caller, Refusal> {
    let caller = require_device(state, peer)?;
    if caller.accept_until.is_some() {
        return Err(withdrawn(&caller.device, "only its last records are taken"));
    }
    Ok(caller)
}

/// The refusal of a record a withdrawn device sealed after the seq the back office still takes.
fn beyond_withdrawal(caller: &Caller, seq: u64) -> Option<Refusal> {
    let limit = caller.accept_until?;
    (seq > limit).then(|| {
        withdrawn(
            &caller.device,
            &format!("records after {limit} are not taken"),
        )
    })
}

/// A record call (standing, records): the device, unless a test fault answers for it.
fn admit_record_call(state: &AppState, peer: &Peer) -> Result<Caller, Refusal> {
    let caller = require_device(state, peer)?;
    #[cfg(feature = "test-hooks")]
    if let Some(fault) = state.faults.next() {
        return Err(fault);
    }
    Ok(caller)
}

fn bad_request(message: impl Into<String>) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, codes::BAD_REQUEST, message)
}

fn parse_key(text: &str) -> Option<VerifyingKey> {
    VerifyingKey::from_bytes(&parse_hex(text)?.try_into().ok()?).ok()
}

fn parse_signature(text: &str) -> Option<Signature> {
    Some(Signature::from_bytes(&parse_hex(text)?.try_into().ok()?))
}

async fn provision(State(state): State<Shared>, body: Bytes) -> Result<Response, Refusal> {
    // Anyone may call this: its refusals are logged within limits, never stored.
    blocking(state, move |state| {
        provision_blocking(state, &body).map_err(anonymous)
    })
    .await
}

fn provision_blocking(state: &AppState, body: &[u8]) -> Result<Response, Refusal> {
    let request: ProvisionRequest = serde_json::from_slice(body)
        .map_err(|e| bad_request(format!("not a provisioning request: {e}")))?;
    let key = parse_key(&request.signing_key)
        .ok_or_else(|| bad_request("signing_key is not an ed25519 public key in hex"))?;
    let device = device_id_for(&key).to_string();
    use rustls_pki_types::pem::PemObject;
    let csr_der =
        rustls_pki_types::CertificateSigningRequestDer::from_pem_slice(request.csr.as_bytes())
            .map_err(|_| bad_request("csr is not a PEM certificate request"))?;
    let proof = parse_signature(&request.proof).ok_or_else(|| bad_request("proof is not hex"))?;
    if key
        .verify(&protocol::proof_message(csr_der.as_ref()), &proof)
        .is_err()
    {
        return Err(against(
            &device,
            None,
            Refusal::new(
                StatusCode::FORBIDDEN,
                codes::BAD_PROOF,
                "the proof is not signed by the record-signing key",
            ),
        ));
    }
    let public_key = keys::csr_public_key(&request.csr).map_err(|e| bad_request(e.to_string()))?;
    // Issued first (it needs no store), handed out only if the store takes the provisioning.
    let (certificate, not_after) =
        keys::issue_device_certificate(&state.keys, &public_key, &device, state.device_cert_days)
            .map_err(unavailable)?;
    let token_hash = request
        .token
        .as_ref()
        .map(|token| hex(&sha256(token.trim().as_bytes())));
    let outcome = state
        .store
        .provision(&Provision {
            device: &device,
            signing_key: &request.signing_key,
            token_hash: token_hash.as_deref(),
            now: now(),
            certificate_not_after: not_after,
        })
        .map_err(unavailable)?;
    if let Err(refusal) = outcome {
        let (status, code, words) = match refusal {
            ProvisionRefusal::KeyConflict => (
                StatusCode::CONFLICT,
                codes::DEVICE_KEY_CONFLICT,
                format!("device id {device} already belongs to another signing key"),
            ),
            ProvisionRefusal::TokenUnknown => (
                StatusCode::FORBIDDEN,
                codes::TOKEN_UNKNOWN,
                "this enrolment token was not issued by this registry".into(),
            ),
            ProvisionRefusal::TokenUsed => (
                StatusCode::FORBIDDEN,
                codes::TOKEN_USED,
                "this enrolment token has already been used by another device".into(),
            ),
            ProvisionRefusal::TokenExpired => (
                StatusCode::FORBIDDEN,
                codes::TOKEN_EXPIRED,
                "this enrolment token has expired: ask the registry for a new one".into(),
            ),
            ProvisionRefusal::TokenRevoked => (
                StatusCode::FORBIDDEN,
                codes::TOKEN_EXPIRED,
                "this enrolment token was withdrawn: ask the registry for a new one".into(),
            ),
            ProvisionRefusal::TokenRequired => (
                StatusCode::FORBIDDEN,
                codes::TOKEN_REQUIRED,
                "a new device needs an enrolment token".into(),
            ),
            ProvisionRefusal::Withdrawn => (
                StatusCode::FORBIDDEN,
                codes::DEVICE_WITHDRAWN,
                format!(
                    "device {device} was withdrawn by the back office: no certificate is issued to it"
                ),
            ),
        };
        return Err(against(&device, None, Refusal::new(status, code, words)));
    }
    info!(device = device.as_str(); "issued a certificate to device {device}");
    Ok(axum::Json(CertificateIssued {
        device_id: device,
        certificate,
        not_after,
    })
    .into_response())
}

async fn renew(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let device = require_in_service(state, &peer)?.device;
        let certificate = peer.certificate.clone().unwrap_or_default();
        let public_key = keys::certificate_public_key(&certificate).map_err(unavailable)?;
        let (pem, not_after) = keys::issue_device_certificate(
            &state.keys,
            &public_key,
            &device,
            state.device_cert_days,
        )
        .map_err(unavailable)?;
        state
            .store
            .certificate_renewed(&device, not_after)
            .map_err(unavailable)?;
        info!(device = device.as_str(); "renewed the certificate of device {device}");
        Ok(axum::Json(CertificateIssued {
            device_id: device,
            certificate: pem,
            not_after,
        })
        .into_response())
    })
    .await
}

/// The records a device says it still holds (`sajili-waiting` on the standing call).
fn waiting_of(headers: &HeaderMap) -> Option<u64> {
    headers
        .get("sajili-waiting")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Notes a device's call, writing at most every [`SEEN_EVERY_S`] unless its count changed.
fn note_seen(state: &AppState, device: &str, waiting: Option<u64>) {
    let at = now();
    let due = {
        let Ok(mut seen) = state.seen.lock() else {
            return;
        };
        let due = seen
            .get(device)
            .is_none_or(|(last, count)| at - last >= SEEN_EVERY_S || *count != waiting);
        if due {
            seen.insert(device.to_string(), (at, waiting));
        }
        due
    };
    if due && let Err(error) = state.store.seen(device, at, waiting) {
        warn!("could not note device {device} as seen: {error:#}");
    }
}

async fn standing(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    let waiting = waiting_of(&headers);
    let later = state.clone();
    let (device, answer) = blocking(state, move |state| {
        let device = admit_record_call(state, &peer)?.device;
        let head = state.store.head(&device).map_err(unavailable)?;
        let id = DeviceId::parse(&device).ok_or_else(|| bad_request("device id"))?;
        let receipt = Receipt::sign(
            &state.keys.receipt_key,
            ReceiptKind::Standing,
            id,
            head.seq,
            head.hash,
            now(),
            None,
        );
        Ok((device, octets(receipt.to_bytes())))
    })
    .await?;
    // Noted after the answer, not before: for a device not seen lately it is a durable
    // commit, which the device's sync (its first batch waits on the standing) need not wait
    // for. What it records is for operators only, and a write that fails is logged.
    tokio::task::spawn_blocking(move || note_seen(&later, &device, waiting));
    Ok(answer)
}

/// Query of `GET /v1/policy`.
#[derive(Debug, Deserialize)]
pub struct PolicyQuery {
    /// The version the device runs.
    have: Option<u64>,
}

/// The signed policy of the caller's centre, or 204 when there is nothing newer than `have`.
async fn policy(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Query(query): Query<PolicyQuery>,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let caller = require_in_service(state, &peer)?;
        match state
            .store
            .policy(caller.centre.as_deref())
            .map_err(unavailable)?
        {
            Some((version, signed)) if version > query.have.unwrap_or(0) => Ok((
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                signed,
            )
                .into_response()),
            _ => Ok(StatusCode::NO_CONTENT.into_response()),
        }
    })
    .await
}

/// Query of `GET /v1/update`.
#[derive(Debug, Deserialize)]
pub struct UpdateQuery {
    /// The version the device runs.
    running: Option<String>,
}

/// The newest update published to the caller above the version it runs, or 204.
async fn update_offer(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Query(query): Query<UpdateQuery>,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let caller = require_in_service(state, &peer)?;
        let Some(dir) = &state.updates else {
            return Ok(StatusCode::NO_CONTENT.into_response());
        };
        let published = state.store.updates().map_err(unavailable)?;
        match crate::updates::offer_for(
            &published,
            &caller.device,
            caller.centre.as_deref(),
            query.running.as_deref(),
            dir,
        ) {
            Some(update) => Ok(axum::Json(protocol::UpdateOffer {
                version: update.version,
                sha256: update.sha256,
                size: update.size,
            })
            .into_response()),
            None => Ok(StatusCode::NO_CONTENT.into_response()),
        }
    })
    .await
}

/// A bundle published to the caller, with Range requests (a cut download resumes).
async fn update_bundle(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(sha256): Path<String>,
    request: Request,
) -> Result<Response, Refusal> {
    let path = blocking(state, move |state| {
        let caller = require_in_service(state, &peer)?;
        let not_found = || {
            Refusal::new(
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                "no such update is published to this device",
            )
        };
        let (Some(dir), true) = (
            &state.updates,
            sajili_record::update::is_sha256_hex(&sha256),
        ) else {
            return Err(not_found());
        };
        let published = state.store.updates().map_err(unavailable)?;
        // Only a bundle published to this device (the newest or an older one) is served.
        let mine = published.iter().any(|update| {
            update.sha256 == sha256
                && crate::updates::published_to(
                    update,
                    &caller.device,
                    caller.centre.as_deref(),
                    dir,
                )
        });
        if !mine {
            return Err(not_found());
        }
        Ok(crate::updates::bundle_path(dir, &sha256))
    })
    .await?;
    use tower::ServiceExt;
    let response = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(unavailable)?;
    Ok(response.map(axum::body::Body::new))
}

/// Audit events of the caller, signed by its record-signing key: stored once each.
async fn audit(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    body: Bytes,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let caller = require_in_service(state, &peer)?;
        let signed: protocol::SignedAudit = serde_json::from_slice(&body)
            .map_err(|e| bad_request(format!("not an audit batch: {e}")))?;
        let Some(batch) = signed.open(&caller.key()?) else {
            return Err(against(
                &caller.device,
                None,
                Refusal::new(
                    StatusCode::BAD_REQUEST,
                    codes::BAD_SIGNATURE,
                    "the audit batch is not signed by this device's key, or is malformed",
                ),
            ));
        };
        if batch.device != caller.device {
            return Err(against(
                &caller.device,
                None,
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    codes::WRONG_DEVICE,
                    "the audit batch names another device",
                ),
            ));
        }
        let received_at = now();
        let events: Vec<crate::store::AuditEntry> = batch
            .events
            .into_iter()
            .map(|line| crate::store::AuditEntry {
                number: line.number,
                at: line.at,
                actor: line.actor,
                action: line.action,
                subject: line.subject,
                received_at,
            })
            .collect();
        let held_through = state
            .store
            .add_audit(&caller.device, &events)
            .map_err(unavailable)?;
        Ok(axum::Json(protocol::AuditAnswer { held_through }).into_response())
    })
    .await
}

async fn receipt(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(seq): Path<u64>,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let device = require_device(state, &peer)?.device;
        match state.store.receipt(&device, seq).map_err(unavailable)? {
            Some(receipt) => Ok(octets(receipt)),
            None => Err(Refusal::new(
                StatusCode::NOT_FOUND,
                codes::NOT_FOUND,
                format!("no record {seq} of device {device} is held"),
            )),
        }
    })
    .await
}

async fn upload_progress(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(seq): Path<u64>,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let device = require_device(state, &peer)?.device;
        let received = state.store.part_len(&device, seq).map_err(unavailable)?;
        Ok(axum::Json(UploadProgress { received }).into_response())
    })
    .await
}

/// Query of `PUT /v1/records/{seq}`.
#[derive(Debug, Deserialize)]
pub struct PartQuery {
    offset: Option<u64>,
    total: Option<u64>,
}

async fn put_record(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(seq): Path<u64>,
    Query(query): Query<PartQuery>,
    body: Bytes,
) -> Result<Response, Refusal> {
    blocking(state, move |state| {
        let caller = admit_record_call(state, &peer)?;
        put_blocking(state, &caller, seq, &query, &body)
    })
    .await
}

fn put_blocking(
    state: &AppState,
    caller: &Caller,
    seq: u64,
    query: &PartQuery,
    body: &[u8],
) -> Result<Response, Refusal> {
    let device = caller.device.as_str();
    let offset = query.offset.unwrap_or(0);
    let total = query.total.unwrap_or(body.len() as u64);
    if total > MAX_RECORD {
        return Err(against(
            device,
            Some(seq),
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::TOO_LARGE,
                format!("a record of {total} bytes is larger than {MAX_RECORD}"),
            ),
        ));
    }
    if offset == 0 && body.len() as u64 == total {
        return take_one(state, caller, seq, body);
    }
    match state
        .store
        .put_part(device, seq, offset, body, total)
        .map_err(unavailable)?
    {
        PartOutcome::Progress(received) => Ok((
            StatusCode::ACCEPTED,
            axum::Json(UploadProgress { received }),
        )
            .into_response()),
        PartOutcome::Complete(bytes) => take_one(state, caller, seq, &bytes),
        PartOutcome::Mismatch { held } => {
            let mut refusal = Refusal::new(
                StatusCode::CONFLICT,
                codes::OFFSET_MISMATCH,
                format!("the registry holds {held} bytes of this record, not {offset}"),
            );
            refusal.body.received = Some(held);
            Err(refusal)
        }
        PartOutcome::Overlong => Err(bad_request("the parts are longer than the total")),
    }
}

/// One whole record: checked, then appended.
fn take_one(
    state: &AppState,
    caller: &Caller,
    seq: u64,
    bytes: &[u8],
) -> Result<Response, Refusal> {
    let device = caller.device.as_str();
    if let Some(refusal) = beyond_withdrawal(caller, seq) {
        return Err(refusal);
    }
    let checked = check_record(device, &caller.key()?, Some(seq), bytes)?;
    let appended = state
        .store
        .append(device, &[checked], &signer(state, device)?, now())
        .map_err(unavailable)?;
    state
        .metrics
        .records_taken(appended.new as u64, appended.new_bytes);
    match (appended.receipts.into_iter().next(), appended.refusal) {
        (Some(receipt), _) => Ok(octets(receipt)),
        (None, Some((seq, refusal))) => Err(chain_refusal(device, seq, refusal)),
        (None, None) => Err(unavailable(anyhow::anyhow!("the store took nothing"))),
    }
}

/// Signs the receipts of `device`'s records.
fn signer<'a>(
    state: &'a AppState,
    device: &str,
) -> Result<impl Fn(u64, [u8; 32], i64) -> Vec<u8> + Sync + 'a, Refusal> {
    let id = DeviceId::parse(device).ok_or_else(|| bad_request("device id"))?;
    Ok(move |seq, hash, at| {
        Receipt::sign(
            &state.keys.receipt_key,
            ReceiptKind::Accepted,
            id,
            seq,
            hash,
            at,
            None,
        )
        .to_bytes()
    })
}

/// The checks a record passes before its place in the chain is looked at: it parses, its seq
/// is the one it was sent as (if named), it is this device's, and its signature is.
fn check_record<'a>(
    device: &str,
    key: &VerifyingKey,
    sent_as: Option<u64>,
    bytes: &'a [u8],
) -> Result<Checked<'a>, Refusal> {
    let seq_hint = sent_as.unwrap_or(0);
    let refused = |code: &str, status: StatusCode, message: String, seq: u64| {
        against(device, Some(seq), Refusal::new(status, code, message))
    };
    // Read in place: an owned envelope copies the ciphertext to parse it and again to verify.
    let envelope = EnvelopeView::parse(bytes).map_err(|e| {
        refused(
            codes::BAD_ENVELOPE,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a sealed record: {e}"),
            seq_hint,
        )
    })?;
    if let Some(seq) = sent_as
        && envelope.seq != seq
    {
        return Err(refused(
            codes::SEQ_MISMATCH,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the record is seq {}, sent as {seq}", envelope.seq),
            seq,
        ));
    }
    if envelope.device_id.as_str() != device {
        return Err(refused(
            codes::WRONG_DEVICE,
            StatusCode::FORBIDDEN,
            format!(
                "the record is device {}'s, the certificate is device {device}'s",
                envelope.device_id
            ),
            envelope.seq,
        ));
    }
    let Some(hash) = envelope.verify_and_hash(key) else {
        return Err(refused(
            codes::BAD_SIGNATURE,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the record's signature is not the device's: it was altered or damaged".into(),
            envelope.seq,
        ));
    };
    Ok(Checked {
        seq: envelope.seq,
        bytes,
        hash,
        prev_hash: envelope.prev_hash,
        created_at: envelope.created_at,
    })
}

/// The refusal for a record the chain does not take.
fn chain_refusal(device: &str, seq: u64, refusal: ChainRefusal) -> Refusal {
    let refusal = match refusal {
        ChainRefusal::OtherBytes => Refusal::new(
            StatusCode::CONFLICT,
            codes::SEQ_CONFLICT,
            format!("the registry holds other bytes for device {device} seq {seq}"),
        ),
        ChainRefusal::Gap { expected } => {
            let mut refusal = Refusal::new(
                StatusCode::CONFLICT,
                codes::CHAIN_GAP,
                format!(
                    "records {expected} to {} are missing before this one",
                    seq.saturating_sub(1)
                ),
            );
            refusal.body.expected_seq = Some(expected);
            refusal
        }
        ChainRefusal::Fork { head } => Refusal::new(
            StatusCode::CONFLICT,
            codes::CHAIN_FORK,
            format!("record {seq} does not follow record {head} held here"),
        ),
    };
    against(device, Some(seq), refusal)
}

/// Splits a batch body into envelopes by their length fields; the rest after the last whole
/// one, if any, is returned as the last item so it is refused as a bad envelope.
fn split_batch(body: &[u8]) -> Vec<&[u8]> {
    let mut records = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let length = rest
            .get(92..96)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        match length.map(|n| 96 + n + 64) {
            Some(total) if total <= rest.len() => {
                records.push(&rest[..total]);
                rest = &rest[total..];
            }
            _ => {
                records.push(rest);
                break;
            }
        }
    }
    records
}

async fn put_batch(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    request: Request,
) -> Result<Response, Refusal> {
    // In progress from its arrival: the batch after it may come in while it is read.
    let in_progress = peer
        .device
        .as_deref()
        .map(|device| ChainOrder::begin(&state.order, device));
    let body = read_body(&state, request.into_body()).await?;
    blocking(state, move |state| {
        let caller = admit_record_call(state, &peer);
        let answer = caller.and_then(|caller| batch_blocking(state, &caller, &body));
        state.bodies.give(body);
        drop(in_progress);
        answer
    })
    .await
}

/// Reads a request body of at most [`MAX_RECORD`] bytes into a buffer from the pool, each
/// chunk let go as soon as it is copied (so hyper fills the same read buffer again).
async fn read_body(state: &AppState, mut body: axum::body::Body) -> Result<Vec<u8>, Refusal> {
    use axum::body::HttpBody;
    let mut bytes = state.bodies.take();
    let declared = usize::try_from(body.size_hint().lower()).unwrap_or(usize::MAX);
    bytes.reserve(declared.min(MAX_RECORD as usize));
    while let Some(frame) =
        std::future::poll_fn(|context| std::pin::Pin::new(&mut body).poll_frame(context)).await
    {
        let frame = frame.map_err(|e| bad_request(format!("the body was cut: {e}")))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        if (bytes.len() + chunk.len()) as u64 > MAX_RECORD {
            let refusal = Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                codes::TOO_LARGE,
                format!("a body of more than {MAX_RECORD} bytes is not taken here"),
            );
            state.metrics.refusal(refusal.code());
            return Err(refusal);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Checks every record of a batch, on several cores when it is worth it: the result for each,
/// in order.
fn check_all<'a>(
    device: &str,
    key: &VerifyingKey,
    records: &[&'a [u8]],
) -> Vec<Result<Checked<'a>, Refusal>> {
    let bytes: usize = records.iter().map(|r| r.len()).sum();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    // Below ~1 MB a thread costs more than it saves.
    if threads < 2 || records.len() < 4 || bytes < (1 << 20) {
        return records
            .iter()
            .map(|r| check_record(device, key, None, r))
            .collect();
    }
    let chunk = records.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = records
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|r| check_record(device, key, None, r))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| {
                worker.join().unwrap_or_else(|_| {
                    vec![Err(unavailable(anyhow::anyhow!("a check thread failed")))]
                })
            })
            .collect()
    })
}

/// Waits (see [`crate::ordering`]) while the records before `first` are not stored yet and a
/// batch of the device that may hold them is in progress on this node.
fn await_predecessor(state: &AppState, device: &str, first: u64) -> Result<(), Refusal> {
    let head = state.store.head(device).map_err(unavailable)?.seq;
    if head.saturating_add(1) < first {
        state
            .order
            .wait_for(device, first - 1, head, PREDECESSOR_WAIT);
    }
    Ok(())
}

/// Takes records in chain order in one transaction: every record before the first refusal is
/// kept, with one commit for all.
fn batch_blocking(state: &AppState, caller: &Caller, body: &[u8]) -> Result<Response, Refusal> {
    let device = caller.device.as_str();
    let records = split_batch(body);
    if records.len() > MAX_BATCH {
        return Err(bad_request(format!(
            "more than {MAX_BATCH} records in one batch"
        )));
    }
    let key = caller.key()?;
    let mut checked = Vec::with_capacity(records.len());
    let mut refusal = None;
    for result in check_all(device, &key, &records) {
        match result {
            Ok(record) => {
                if let Some(refused) = beyond_withdrawal(caller, record.seq) {
                    refusal = Some(refused);
                    break;
                }
                checked.push(record);
            }
            Err(refused) => {
                refusal = Some(refused);
                break;
            }
        }
    }
    let appended = match checked.first() {
        None => Default::default(),
        Some(first) => {
            await_predecessor(state, device, first.seq)?;
            state
                .store
                .append(device, &checked, &signer(state, device)?, now())
                .map_err(unavailable)?
        }
    };
    if let Some(last) = (appended.receipts.len().checked_sub(1)).and_then(|i| checked.get(i)) {
        state.order.stored(device, last.seq);
    }
    state
        .metrics
        .records_taken(appended.new as u64, appended.new_bytes);
    if let Some((seq, chain)) = appended.refusal {
        refusal = Some(chain_refusal(device, seq, chain));
    }
    let error = refusal.map(|refused| {
        settle(state, &refused);
        *refused.body
    });
    let answer = BatchAnswer {
        receipts: appended.receipts.iter().map(|r| hex(r)).collect(),
        refusal: error,
    };
    Ok(axum::Json(answer).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    /// A node's state over a new registry in `dir`.
    fn state(dir: &std::path::Path) -> Shared {
        let keys_dir = crate::keys::RegistryDir {
            root: dir.join("keys"),
        };
        crate::keys::create(&keys_dir, &["127.0.0.1".to_string()]).unwrap();
        let store = crate::store::open(dir.join("db").to_str().unwrap()).unwrap();
        Arc::new(AppState {
            store: Arc::from(store),
            keys: crate::keys::load(&keys_dir).unwrap(),
            device_cert_days: 1,
            metrics: Arc::new(Metrics::new()),
            incidents: IncidentGate::new(),
            seen: Mutex::new(HashMap::new()),
            refused: Default::default(),
            updates: None,
            bodies: Default::default(),
            order: Default::default(),
            #[cfg(feature = "test-hooks")]
            faults: Default::default(),
        })
    }

    async fn status_of(router: Router, method: &str, path: &str, body: Vec<u8>) -> StatusCode {
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap();
        router
            .layer(Extension(Peer::default()))
            .oneshot(request)
            .await
            .unwrap()
            .status()
    }

    /// The upload sink is there in a build with `test-hooks` (the test suite's) and absent from
    /// any other: scripts/test runs this test both ways.
    #[tokio::test]
    async fn the_upload_sink_exists_only_in_test_builds() {
        let dir = tempfile::tempdir().unwrap();
        let status = status_of(router(state(dir.path())), "PUT", "/v1/sink", vec![1; 10]).await;
        let expected = if cfg!(feature = "test-hooks") {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::NOT_FOUND
        };
        assert_eq!(status, expected);
    }

    #[tokio::test]
    async fn a_declared_body_over_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let request = axum::http::Request::builder()
            .method("POST")
            .uri(protocol::PATH_PROVISION)
            .header(header::CONTENT_LENGTH, MAX_SMALL_BODY + 1)
            // The body never comes: the answer must not wait for it.
            .body(Body::from_stream(futures_pending()))
            .unwrap();
        let answer = router(state(dir.path()))
            .layer(Extension(Peer::default()))
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(answer.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }

    /// A body stream that never yields.
    fn futures_pending()
    -> impl futures_core::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
        PendingStream
    }

    struct PendingStream;

    impl futures_core::Stream for PendingStream {
        type Item = Result<Bytes, std::io::Error>;
        fn poll_next(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Pending
        }
    }
}
