//! The registry protocol, shared by the device and the reference registry. Each endpoint, its
//! body, its answers and its error codes are described in docs/registry-protocol.md.

use serde::{Deserialize, Serialize};

/// Provisioning: a CSR for a certificate, with a token or a known signing key.
pub const PATH_PROVISION: &str = "/v1/provision";
/// A new certificate for the key of the client certificate presented (mTLS).
pub const PATH_RENEW: &str = "/v1/renew";
/// Where the device's chain stands at the registry (mTLS): a signed standing.
pub const PATH_STANDING: &str = "/v1/standing";

/// Several whole records in chain order, in one request (mTLS): for fast links.
pub const PATH_BATCH: &str = "/v1/records";

/// The fleet policy for the calling device's centre (mTLS): `?have=N` answers 204 when the
/// registry holds nothing newer than version N; otherwise the signed policy
/// ([`crate::policy`]).
pub const PATH_POLICY: &str = "/v1/policy";
/// Audit events of the calling device (mTLS): a [`SignedAudit`]; answers [`AuditAnswer`].
pub const PATH_AUDIT: &str = "/v1/audit";

/// The update offered to the calling device (mTLS): `?running=V` answers 204 when nothing
/// newer than version V is published to it; otherwise an [`UpdateOffer`].
pub const PATH_UPDATE: &str = "/v1/update";

/// Where an offered bundle is fetched (mTLS), by its SHA-256; `Range` requests resume a cut
/// download.
pub fn update_path(sha256: &str) -> String {
    format!("/v1/updates/{sha256}")
}

/// An update published to the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateOffer {
    /// The version its signed manifest names.
    pub version: String,
    /// SHA-256 of the bundle file, hex.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
}

/// Most audit events in one call.
pub const MAX_AUDIT_EVENTS: usize = 500;
/// The largest audit call, bytes (500 events of some 150 bytes, with room).
pub const MAX_AUDIT_BODY: u64 = 256 * 1024;

/// One audit event as the device sends it: never personal data, never biometrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditLine {
    /// The device's event number: from 1, gapless.
    pub number: u64,
    /// When, by the device's clock, Unix seconds.
    pub at: i64,
    /// A staff number, `self-service` or `system`.
    pub actor: String,
    /// What happened (`staff.login`, `staff.signoff`, `policy.applied`, …).
    pub action: String,
    /// About what: a registration number, a seq, a version.
    pub subject: String,
}

/// Audit events, in order, of one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditBatch {
    /// The device that logged them.
    pub device: String,
    /// The events, numbers rising.
    pub events: Vec<AuditLine>,
}

/// An audit batch as sent: the batch's JSON, and the device's ed25519 signature (its record-
/// signing key, hex) over exactly those bytes, so the registry keeps proof of who logged what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedAudit {
    /// The [`AuditBatch`]'s JSON, as signed.
    pub batch: String,
    /// ed25519 over the bytes of `batch`, hex.
    pub signature: String,
}

impl SignedAudit {
    /// Signs `batch` with the device's record-signing key.
    pub fn sign(batch: &AuditBatch, key: &ed25519_dalek::SigningKey) -> Self {
        use ed25519_dalek::Signer;
        // A struct of strings and integers always encodes.
        let batch = serde_json::to_string(batch).unwrap_or_default();
        let signature = crate::record::hex(&key.sign(batch.as_bytes()).to_bytes());
        Self { batch, signature }
    }

    /// The batch, if the signature is `key`'s over it and it is well formed: events in rising
    /// order, at most [`MAX_AUDIT_EVENTS`], fields of bounded length.
    pub fn open(&self, key: &ed25519_dalek::VerifyingKey) -> Option<AuditBatch> {
        use ed25519_dalek::Verifier;
        let raw: [u8; 64] = crate::record::parse_hex(&self.signature)?.try_into().ok()?;
        key.verify(
            self.batch.as_bytes(),
            &ed25519_dalek::Signature::from_bytes(&raw),
        )
        .ok()?;
        let batch: AuditBatch = serde_json::from_str(&self.batch).ok()?;
        let rising = batch
            .events
            .windows(2)
            .all(|pair| pair[0].number < pair[1].number);
        let bounded = batch.events.iter().all(|event| {
            event.number > 0
                && event.actor.len() <= 64
                && event.action.len() <= 64
                && event.subject.len() <= 256
        });
        (rising && bounded && batch.events.len() <= MAX_AUDIT_EVENTS).then_some(batch)
    }
}

/// Answer to an audit call: the highest event number the registry now holds for the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditAnswer {
    /// Every event up to this number is held (the device may drop its copy's upload mark).
    pub held_through: u64,
}

/// Most records in one batch.
pub const MAX_BATCH: usize = 64;

/// Answer to a batch: the receipts (hex) of the records taken, in order, and the refusal of
/// the first record not taken, if any (the records after it were not looked at).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchAnswer {
    /// Receipts, hex, one per record taken, in the order sent.
    pub receipts: Vec<String>,
    /// Why the next record was not taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<ApiError>,
}

/// `/v1/records/{seq}`: upload a sealed record, whole or in parts (mTLS).
pub fn record_path(seq: u64) -> String {
    format!("/v1/records/{seq}")
}

/// `/v1/records/{seq}/upload`: how many bytes of a part-uploaded record the registry holds.
pub fn upload_path(seq: u64) -> String {
    format!("/v1/records/{seq}/upload")
}

/// `/v1/records/{seq}/receipt`: the receipt for a record the registry holds.
pub fn receipt_path(seq: u64) -> String {
    format!("/v1/records/{seq}/receipt")
}

/// Body of `POST /v1/provision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionRequest {
    /// The one-time enrolment token; absent when re-issuing to a device the registry knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// PKCS#10 certificate signing request for the device's TLS key, PEM.
    pub csr: String,
    /// The device's ed25519 record-signing public key, hex.
    pub signing_key: String,
    /// ed25519 signature, hex, by that key over [`proof_message`] of the CSR: binds the TLS key
    /// to the device that seals records.
    pub proof: String,
}

pub use crate::record::provision_proof_message as proof_message;

/// Answer to provisioning and renewal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateIssued {
    /// The device id the registry knows the device by (the certificate's common name).
    pub device_id: String,
    /// The device certificate, PEM.
    pub certificate: String,
    /// When it expires, Unix seconds.
    pub not_after: i64,
}

/// Answer to `GET /v1/records/{seq}/upload` and to a part that did not complete a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadProgress {
    /// Bytes of the record the registry holds.
    pub received: u64,
}

/// Every refusal's body: an RFC 9457 problem (`application/problem+json`) with Sajili's
/// stable `code` as an extension member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// The problem type: [`problem_type`] of the code.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A short summary of the type (the same for every occurrence).
    #[serde(default)]
    pub title: String,
    /// The HTTP status.
    #[serde(default)]
    pub status: u16,
    /// What happened this time, for an engineer (`message` before RFC 9457).
    #[serde(alias = "message", default)]
    pub detail: String,
    /// A stable code from [`codes`].
    pub code: String,
    /// For `chain_gap`: the seq the registry expects next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_seq: Option<u64>,
    /// For `offset_mismatch`: the bytes it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received: Option<u64>,
}

/// The media type of a refusal (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem type URI of a code.
pub fn problem_type(code: &str) -> String {
    format!("urn:sajili:problem:{code}")
}

/// The error codes, stable across versions.
pub mod codes {
    /// No client certificate on a call that needs one.
    pub const CLIENT_CERTIFICATE_REQUIRED: &str = "client_certificate_required";
    /// The client certificate names a device the registry does not know.
    pub const DEVICE_UNKNOWN: &str = "device_unknown";
    /// The token was never issued.
    pub const TOKEN_UNKNOWN: &str = "token_unknown";
    /// The token was already used by another device.
    pub const TOKEN_USED: &str = "token_used";
    /// The token's time ran out before a device used it.
    pub const TOKEN_EXPIRED: &str = "token_expired";
    /// No token, and the signing key is not a known device's.
    pub const TOKEN_REQUIRED: &str = "token_required";
    /// The proof does not verify with the signing key.
    pub const BAD_PROOF: &str = "bad_proof";
    /// Another key already holds this device id.
    pub const DEVICE_KEY_CONFLICT: &str = "device_key_conflict";
    /// The request is malformed (JSON, CSR, query).
    pub const BAD_REQUEST: &str = "bad_request";
    /// The envelope does not parse.
    pub const BAD_ENVELOPE: &str = "bad_envelope";
    /// The envelope's signature is not the device's.
    pub const BAD_SIGNATURE: &str = "bad_signature";
    /// The envelope's seq is not the one in the path.
    pub const SEQ_MISMATCH: &str = "seq_mismatch";
    /// The certificate's device is not the envelope's.
    pub const WRONG_DEVICE: &str = "wrong_device";
    /// The registry holds other bytes for this device and seq.
    pub const SEQ_CONFLICT: &str = "seq_conflict";
    /// Records before this one are missing: send `expected_seq` first.
    pub const CHAIN_GAP: &str = "chain_gap";
    /// `prev_hash` is not the hash of the record the registry holds before it.
    pub const CHAIN_FORK: &str = "chain_fork";
    /// A part starts elsewhere than the bytes held (`received`).
    pub const OFFSET_MISMATCH: &str = "offset_mismatch";
    /// A record larger than the registry takes.
    pub const TOO_LARGE: &str = "too_large";
    /// Nothing held for this seq.
    pub const NOT_FOUND: &str = "not_found";
    /// The back office withdrew this device: nothing more is taken from it.
    pub const DEVICE_WITHDRAWN: &str = "device_withdrawn";
    /// The registry cannot take records now; try later.
    pub const UNAVAILABLE: &str = "unavailable";
    /// The registry failed; try later.
    pub const INTERNAL: &str = "internal";

    /// Codes that refuse a record for good: sending it again cannot succeed.
    pub const RECORD_REFUSALS: &[&str] = &[
        BAD_ENVELOPE,
        BAD_SIGNATURE,
        SEQ_MISMATCH,
        WRONG_DEVICE,
        SEQ_CONFLICT,
        CHAIN_FORK,
        TOO_LARGE,
    ];
}

/// Largest record the protocol carries: an envelope's largest ciphertext plus its header.
pub const MAX_RECORD: u64 = (crate::record::MAX_CIPHERTEXT as u64) + 4096;
