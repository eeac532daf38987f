//! The HTTP API (docs/registry-protocol.md): provisioning, renewal, standing, and records in
//! parts, each refusal with a stable code, and every record-level refusal recorded.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use redb::{Database, ReadableDatabase, ReadableTable};
use sajili_record::protocol::{
    self, ApiError, BatchAnswer, CertificateIssued, MAX_BATCH, MAX_RECORD, ProvisionRequest,
    UploadProgress, codes,
};
use sajili_record::record::{
    Envelope, Receipt, ReceiptKind, RefusalReason, decode_payload, device_id_for, hex, parse_hex,
    sha256,
};
use serde::Deserialize;

use crate::db::{self, DeviceEntry, Head, Incident, TokenEntry};
use crate::keys::{self, Keys};

/// What every handler shares.
pub struct AppState {
    /// The store.
    pub db: Database,
    /// The keys.
    pub keys: Keys,
    /// Validity of device certificates, days.
    pub device_cert_days: i64,
    /// Test hook: answer the first record calls with these statuses (from
    /// `SAJILI_REGISTRY_FAULTS`, e.g. `500:5,503:5`).
    pub faults: Vec<(u16, u64)>,
    /// Record calls answered so far (for the faults).
    pub calls: AtomicU64,
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

/// A refusal on its way out.
pub struct Refusal {
    status: StatusCode,
    body: Box<ApiError>,
    /// Record this refusal as an incident (device, seq) once the transaction is over.
    incident: Option<Box<(String, Option<u64>)>>,
}

impl Refusal {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: Box::new(ApiError {
                code: code.to_string(),
                message: message.into(),
                expected_seq: None,
                received: None,
            }),
            incident: None,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let json = serde_json::to_vec(&self.body).unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response()
    }
}

impl From<anyhow::Error> for Refusal {
    fn from(error: anyhow::Error) -> Self {
        eprintln!("sajili-registry: internal error: {error:#}");
        Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "the registry failed; try again later",
        )
    }
}

fn internal(error: impl Into<anyhow::Error>) -> Refusal {
    Refusal::from(error.into())
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

/// Marks a refusal to be recorded for operators (by [`settle`], after the transaction that
/// found it has ended: one write transaction at a time) and logs it.
fn refuse(_state: &AppState, device: &str, seq: Option<u64>, mut refusal: Refusal) -> Refusal {
    eprintln!(
        "sajili-registry: refused device {device} seq {}: {} ({})",
        seq.map_or("-".into(), |s| s.to_string()),
        refusal.body.message,
        refusal.body.code
    );
    refusal.incident = Some(Box::new((device.to_string(), seq)));
    refusal
}

fn settle_refusal(state: &AppState, refusal: Refusal) -> Refusal {
    match settle(state, Err(refusal)) {
        Err(refusal) => refusal,
        Ok(_) => Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL,
            "unreachable",
        ),
    }
}

/// Records the incident of a refusal, if it has one.
fn settle(state: &AppState, result: Result<Response, Refusal>) -> Result<Response, Refusal> {
    if let Err(refusal) = &result {
        record_incident(state, refusal);
    }
    result
}

fn record_incident(state: &AppState, refusal: &Refusal) {
    if let Some(incident) = &refusal.incident {
        let _ = db::incident(
            &state.db,
            &Incident {
                at: now(),
                device: incident.0.clone(),
                seq: incident.1,
                code: refusal.body.code.clone(),
                message: refusal.body.message.clone(),
            },
        );
    }
}

/// The router.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route(protocol::PATH_PROVISION, post(provision))
        .route(protocol::PATH_RENEW, post(renew))
        .route(protocol::PATH_STANDING, get(standing))
        .route("/v1/records", post(put_batch))
        .route("/v1/records/{seq}", put(put_record))
        .route("/v1/records/{seq}/upload", get(upload_progress))
        .route("/v1/records/{seq}/receipt", get(receipt))
        .route("/v1/sink", put(sink))
        .layer(DefaultBodyLimit::max(MAX_RECORD as usize))
        .with_state(state)
}

/// The device a mutual-TLS call comes from, known to the registry.
fn require_device(state: &AppState, peer: &Peer) -> Result<String, Refusal> {
    let Some(device) = &peer.device else {
        return Err(settle_refusal(
            state,
            refuse(
                state,
                "-",
                None,
                Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    codes::CLIENT_CERTIFICATE_REQUIRED,
                    "this call needs the device's client certificate",
                ),
            ),
        ));
    };
    if db::device(&state.db, device).map_err(internal)?.is_none() {
        // No transaction is open here: record it at once.
        return Err(settle_refusal(
            state,
            refuse(
                state,
                device,
                None,
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    codes::DEVICE_UNKNOWN,
                    format!("device {device} is not provisioned here"),
                ),
            ),
        ));
    }
    Ok(device.clone())
}

/// A record call (standing, records): the device, unless the test hook answers for it.
fn admit_record_call(state: &AppState, peer: &Peer) -> Result<String, Refusal> {
    let device = require_device(state, peer)?;
    match injected_fault(state) {
        Some(fault) => Err(fault),
        None => Ok(device),
    }
}

/// The test hook's answer for this call, if any.
fn injected_fault(state: &AppState) -> Option<Refusal> {
    let call = state.calls.fetch_add(1, Ordering::SeqCst);
    let mut start = 0;
    for (status, count) in &state.faults {
        if call < start + count {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            return Some(Refusal::new(
                status,
                if status == StatusCode::SERVICE_UNAVAILABLE {
                    codes::UNAVAILABLE
                } else {
                    codes::INTERNAL
                },
                "injected fault (SAJILI_REGISTRY_FAULTS)",
            ));
        }
        start += count;
    }
    None
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
    tokio::task::spawn_blocking(move || settle(&state, provision_blocking(&state, &body)))
        .await
        .map_err(internal)?
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
        return Err(refuse(
            state,
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

    let txn = db::write(&state.db).map_err(internal)?;
    let issued = {
        let mut devices = txn.open_table(db::DEVICES).map_err(internal)?;
        let mut tokens = txn.open_table(db::TOKENS).map_err(internal)?;
        let known: Option<DeviceEntry> = match devices.get(device.as_str()).map_err(internal)? {
            Some(v) => Some(serde_json::from_slice(v.value()).map_err(internal)?),
            None => None,
        };
        if let Some(entry) = &known
            && entry.signing_key != request.signing_key
        {
            return Err(refuse(
                state,
                &device,
                None,
                Refusal::new(
                    StatusCode::CONFLICT,
                    codes::DEVICE_KEY_CONFLICT,
                    format!("device id {device} already belongs to another signing key"),
                ),
            ));
        }
        match &request.token {
            Some(token) => {
                let hash = hex(&sha256(token.trim().as_bytes()));
                let entry: TokenEntry = match tokens.get(hash.as_str()).map_err(internal)? {
                    Some(v) => serde_json::from_slice(v.value()).map_err(internal)?,
                    None => {
                        return Err(refuse(
                            state,
                            &device,
                            None,
                            Refusal::new(
                                StatusCode::FORBIDDEN,
                                codes::TOKEN_UNKNOWN,
                                "this enrolment token was not issued by this registry",
                            ),
                        ));
                    }
                };
                let now_s = now();
                match &entry.used_by {
                    // Expired before this device used it (the device that did may come back
                    // for its lost answer at any time).
                    None if entry.expires_at.is_some_and(|at| at <= now_s) => {
                        return Err(refuse(
                            state,
                            &device,
                            None,
                            Refusal::new(
                                StatusCode::FORBIDDEN,
                                codes::TOKEN_EXPIRED,
                                "this enrolment token has expired: ask the registry for a new one",
                            ),
                        ));
                    }
                    // The same device again (its first answer was lost): not a reuse.
                    Some(used_by) if used_by != &device => {
                        return Err(refuse(
                            state,
                            &device,
                            None,
                            Refusal::new(
                                StatusCode::FORBIDDEN,
                                codes::TOKEN_USED,
                                "this enrolment token has already been used by another device",
                            ),
                        ));
                    }
                    _ => {}
                }
                let used = TokenEntry {
                    used_by: Some(device.clone()),
                    ..entry
                };
                tokens
                    .insert(
                        hash.as_str(),
                        serde_json::to_vec(&used).map_err(internal)?.as_slice(),
                    )
                    .map_err(internal)?;
            }
            None if known.is_none() => {
                return Err(refuse(
                    state,
                    &device,
                    None,
                    Refusal::new(
                        StatusCode::FORBIDDEN,
                        codes::TOKEN_REQUIRED,
                        "a new device needs an enrolment token",
                    ),
                ));
            }
            None => {}
        }
        let entry = DeviceEntry {
            signing_key: request.signing_key.clone(),
            provisioned_at: known.as_ref().map_or_else(now, |k| k.provisioned_at),
            certificates: known.as_ref().map_or(0, |k| k.certificates) + 1,
        };
        devices
            .insert(
                device.as_str(),
                serde_json::to_vec(&entry).map_err(internal)?.as_slice(),
            )
            .map_err(internal)?;
        keys::issue_device_certificate(&state.keys, &public_key, &device, state.device_cert_days)
            .map_err(internal)?
    };
    txn.commit().map_err(internal)?;
    eprintln!("sajili-registry: issued a certificate to device {device}");
    Ok(axum::Json(CertificateIssued {
        device_id: device,
        certificate: issued.0,
        not_after: issued.1,
    })
    .into_response())
}

/// Takes any body and drops it: the link's own speed, for the benchmark's curl baseline.
async fn sink(body: Bytes) -> StatusCode {
    drop(body);
    StatusCode::NO_CONTENT
}

async fn renew(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
) -> Result<Response, Refusal> {
    let device = require_device(&state, &peer)?;
    let certificate = peer.certificate.clone().unwrap_or_default();
    let public_key = keys::certificate_public_key(&certificate).map_err(internal)?;
    let (pem, not_after) =
        keys::issue_device_certificate(&state.keys, &public_key, &device, state.device_cert_days)
            .map_err(internal)?;
    eprintln!("sajili-registry: renewed the certificate of device {device}");
    Ok(axum::Json(CertificateIssued {
        device_id: device,
        certificate: pem,
        not_after,
    })
    .into_response())
}

async fn standing(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
) -> Result<Response, Refusal> {
    let device = admit_record_call(&state, &peer)?;
    let head = db::head(&state.db, &device).map_err(internal)?;
    let id =
        sajili_record::record::DeviceId::parse(&device).ok_or_else(|| bad_request("device id"))?;
    let receipt = Receipt::sign(
        &state.keys.receipt_key,
        ReceiptKind::Standing,
        id,
        head.seq,
        head.hash,
        now(),
        None,
    );
    Ok(octets(receipt.to_bytes()))
}

/// What `table` holds for (device, seq).
fn held(
    state: &AppState,
    table: redb::TableDefinition<(&str, u64), &[u8]>,
    device: &str,
    seq: u64,
) -> Result<Option<Vec<u8>>, Refusal> {
    let txn = state.db.begin_read().map_err(internal)?;
    let table = txn.open_table(table).map_err(internal)?;
    let value = table.get((device, seq)).map_err(internal)?;
    Ok(value.map(|v| v.value().to_vec()))
}

async fn receipt(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(seq): Path<u64>,
) -> Result<Response, Refusal> {
    let device = require_device(&state, &peer)?;
    match held(&state, db::RECEIPTS, &device, seq)? {
        Some(receipt) => Ok(octets(receipt)),
        None => Err(Refusal::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("no record {seq} of device {device} is held"),
        )),
    }
}

async fn upload_progress(
    State(state): State<Shared>,
    Extension(peer): Extension<Peer>,
    Path(seq): Path<u64>,
) -> Result<Response, Refusal> {
    let device = require_device(&state, &peer)?;
    let received = held(&state, db::PARTS, &device, seq)?.map_or(0, |bytes| bytes.len() as u64);
    Ok(axum::Json(UploadProgress { received }).into_response())
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
    let device = admit_record_call(&state, &peer)?;
    tokio::task::spawn_blocking(move || {
        settle(&state, put_blocking(&state, &device, seq, &query, &body))
    })
    .await
    .map_err(internal)?
}

fn put_blocking(
    state: &AppState,
    device: &str,
    seq: u64,
    query: &PartQuery,
    body: &[u8],
) -> Result<Response, Refusal> {
    let offset = query.offset.unwrap_or(0);
    let total = query.total.unwrap_or(body.len() as u64);
    if total > MAX_RECORD {
        return Err(refuse(
            state,
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
        return accept(state, device, seq, body);
    }
    // A part: append to what is held, if it starts where that ends.
    let txn = db::write(&state.db).map_err(internal)?;
    let complete = {
        let mut parts = txn.open_table(db::PARTS).map_err(internal)?;
        let mut held = parts
            .get((device, seq))
            .map_err(internal)?
            .map(|v| v.value().to_vec())
            .unwrap_or_default();
        if held.len() as u64 != offset {
            let mut refusal = Refusal::new(
                StatusCode::CONFLICT,
                codes::OFFSET_MISMATCH,
                format!(
                    "the registry holds {} bytes of this record, not {offset}",
                    held.len()
                ),
            );
            refusal.body.received = Some(held.len() as u64);
            return Err(refusal);
        }
        held.extend_from_slice(body);
        if held.len() as u64 > total {
            parts.remove((device, seq)).map_err(internal)?;
            drop(parts);
            txn.commit().map_err(internal)?;
            return Err(bad_request("the parts are longer than the total"));
        }
        if held.len() as u64 == total {
            parts.remove((device, seq)).map_err(internal)?;
            Some(held)
        } else {
            parts
                .insert((device, seq), held.as_slice())
                .map_err(internal)?;
            None
        }
    };
    match complete {
        None => {
            let received = offset + body.len() as u64;
            txn.commit().map_err(internal)?;
            Ok((
                StatusCode::ACCEPTED,
                axum::Json(UploadProgress { received }),
            )
                .into_response())
        }
        Some(bytes) => {
            // The parts are dropped in the same transaction that stores the record.
            accept_in(state, device, seq, &bytes, txn)
        }
    }
}

fn accept(state: &AppState, device: &str, seq: u64, bytes: &[u8]) -> Result<Response, Refusal> {
    let txn = db::write(&state.db).map_err(internal)?;
    accept_in(state, device, seq, bytes, txn)
}

/// A record checked and written into an open transaction.
struct Staged {
    /// Its receipt (the stored one, for a repeat).
    receipt: Vec<u8>,
    /// Contents refused, to record as an incident once committed.
    refused: Option<RefusalReason>,
}

/// Checks one whole record and stores it, with its receipt, in `txn` and commits.
fn accept_in(
    state: &AppState,
    device: &str,
    seq: u64,
    bytes: &[u8],
    txn: redb::WriteTransaction,
) -> Result<Response, Refusal> {
    let staged = stage(state, device, seq, bytes, &txn)?;
    txn.commit().map_err(internal)?;
    note_contents_refused(state, device, seq, staged.refused);
    Ok(octets(staged.receipt))
}

fn note_contents_refused(state: &AppState, device: &str, seq: u64, reason: Option<RefusalReason>) {
    if let Some(reason) = reason {
        let _ = db::incident(
            &state.db,
            &Incident {
                at: now(),
                device: device.to_string(),
                seq: Some(seq),
                code: "contents_refused".into(),
                message: reason.to_string(),
            },
        );
        eprintln!("sajili-registry: device {device} seq {seq} held, contents refused: {reason}");
    }
}

/// Checks one whole record and writes it with its receipt into `txn` (not committed): the
/// chain rules, then the contents.
fn stage(
    state: &AppState,
    device: &str,
    seq: u64,
    bytes: &[u8],
    txn: &redb::WriteTransaction,
) -> Result<Staged, Refusal> {
    let refused = |code: &str, status: StatusCode, message: String| {
        refuse(
            state,
            device,
            Some(seq),
            Refusal::new(status, code, message),
        )
    };
    let envelope = Envelope::from_bytes(bytes).map_err(|e| {
        refused(
            codes::BAD_ENVELOPE,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("not a sealed record: {e}"),
        )
    })?;
    if envelope.seq != seq {
        return Err(refused(
            codes::SEQ_MISMATCH,
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("the record is seq {}, sent as {seq}", envelope.seq),
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
        ));
    }
    let entry = db::device(&state.db, device)
        .map_err(internal)?
        .ok_or_else(|| bad_request("unknown device"))?;
    let key =
        parse_key(&entry.signing_key).ok_or_else(|| internal(anyhow::anyhow!("bad stored key")))?;
    if !envelope.verify_signature(&key) {
        return Err(refused(
            codes::BAD_SIGNATURE,
            StatusCode::UNPROCESSABLE_ENTITY,
            "the record's signature is not the device's: it was altered or damaged".into(),
        ));
    }
    let hash = sha256(bytes);
    {
        let records = txn.open_table(db::RECORDS).map_err(internal)?;
        if let Some(held) = records.get((device, seq)).map_err(internal)? {
            if held.value() == bytes {
                let receipts = txn.open_table(db::RECEIPTS).map_err(internal)?;
                let receipt = receipts
                    .get((device, seq))
                    .map_err(internal)?
                    .map(|v| v.value().to_vec())
                    .unwrap_or_default();
                return Ok(Staged {
                    receipt,
                    refused: None,
                });
            }
            return Err(refused(
                codes::SEQ_CONFLICT,
                StatusCode::CONFLICT,
                format!("the registry holds other bytes for device {device} seq {seq}"),
            ));
        }
    }
    let head = {
        let heads = txn.open_table(db::HEADS).map_err(internal)?;
        heads.get(device).map_err(internal)?.map_or(
            Head {
                seq: 0,
                hash: [0; 32],
            },
            |v| db::decode_head(v.value()),
        )
    };
    if seq > head.seq + 1 {
        let mut refusal = refused(
            codes::CHAIN_GAP,
            StatusCode::CONFLICT,
            format!(
                "records {} to {} are missing before this one",
                head.seq + 1,
                seq - 1
            ),
        );
        refusal.body.expected_seq = Some(head.seq + 1);
        return Err(refusal);
    }
    if seq <= head.seq {
        return Err(refused(
            codes::SEQ_CONFLICT,
            StatusCode::CONFLICT,
            format!("seq {seq} is already taken in device {device}'s chain"),
        ));
    }
    if envelope.prev_hash != head.hash {
        return Err(refused(
            codes::CHAIN_FORK,
            StatusCode::CONFLICT,
            format!("record {seq} does not follow record {} held here", head.seq),
        ));
    }
    // The contents: a record that does not decrypt keeps its place in the chain (so the
    // records after it are not stuck), with a receipt that says it was refused.
    let reason = match age::decrypt(&state.keys.identity, &envelope.ciphertext) {
        Err(_) => Some(RefusalReason::Undecryptable),
        Ok(plaintext) => {
            let plaintext = zeroize::Zeroizing::new(plaintext);
            if sha256(&plaintext) != envelope.payload_hash {
                Some(RefusalReason::PayloadHashMismatch)
            } else if decode_payload(&plaintext).is_err() {
                Some(RefusalReason::PayloadUnreadable)
            } else {
                None
            }
        }
    };
    let kind = if reason.is_some() {
        ReceiptKind::Refused
    } else {
        ReceiptKind::Accepted
    };
    let receipt = Receipt::sign(
        &state.keys.receipt_key,
        kind,
        envelope.device_id,
        seq,
        hash,
        now(),
        reason,
    )
    .to_bytes();
    {
        let mut records = txn.open_table(db::RECORDS).map_err(internal)?;
        records.insert((device, seq), bytes).map_err(internal)?;
        let mut receipts = txn.open_table(db::RECEIPTS).map_err(internal)?;
        receipts
            .insert((device, seq), receipt.as_slice())
            .map_err(internal)?;
        let mut heads = txn.open_table(db::HEADS).map_err(internal)?;
        heads
            .insert(device, db::encode_head(Head { seq, hash }).as_slice())
            .map_err(internal)?;
        // A part-upload left by a cut, of a record that then came whole, goes with it.
        txn.open_table(db::PARTS)
            .map_err(internal)?
            .remove((device, seq))
            .map_err(internal)?;
    }
    Ok(Staged {
        receipt,
        refused: reason,
    })
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
    body: Bytes,
) -> Result<Response, Refusal> {
    let device = admit_record_call(&state, &peer)?;
    tokio::task::spawn_blocking(move || batch_blocking(&state, &device, &body))
        .await
        .map_err(internal)?
}

/// Takes records in chain order in one transaction: every record before the first refusal is
/// kept, with one commit for all.
fn batch_blocking(state: &AppState, device: &str, body: &[u8]) -> Result<Response, Refusal> {
    let records = split_batch(body);
    if records.len() > MAX_BATCH {
        return Err(bad_request(format!(
            "more than {MAX_BATCH} records in one batch"
        )));
    }
    let txn = db::write(&state.db).map_err(internal)?;
    let mut staged = Vec::new();
    let mut refusal = None;
    for bytes in records {
        let seq = Envelope::from_bytes(bytes).map_or(0, |e| e.seq);
        match stage(state, device, seq, bytes, &txn) {
            Ok(record) => staged.push((seq, record)),
            Err(refused) => {
                refusal = Some(refused);
                break;
            }
        }
    }
    txn.commit().map_err(internal)?;
    for (seq, record) in &staged {
        note_contents_refused(state, device, *seq, record.refused);
    }
    let error = refusal.map(|refused| {
        record_incident(state, &refused);
        *refused.body
    });
    let answer = BatchAnswer {
        receipts: staged.iter().map(|(_, r)| hex(&r.receipt)).collect(),
        refusal: error,
    };
    Ok(axum::Json(answer).into_response())
}
