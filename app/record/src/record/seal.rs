//! Sealing: payload to CBOR, encrypted to the registry, wrapped in a signed envelope.
//!
//! The plaintext exists only inside [`Sealer::seal`], in a buffer that is wiped on the way out.

use std::fmt;

use age::x25519::{Identity, Recipient};
use ed25519_dalek::{SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use super::envelope::{Envelope, EnvelopeError, Hash, sha256};
use super::payload::{Enrolment, OLDEST_PAYLOAD_FORMAT, PAYLOAD_FORMAT, Payload};
use super::registration::{DeviceId, RegistrationNumber};

/// Where the next record goes in the device's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSlot {
    /// Its seq: the head's seq plus one.
    pub seq: u64,
    /// The head's hash (zeros for the first record).
    pub prev_hash: Hash,
}

impl ChainSlot {
    /// The slot of a device's first record.
    pub const FIRST: ChainSlot = ChainSlot {
        seq: 1,
        prev_hash: [0; 32],
    };
}

/// Why a record could not be sealed. Nothing was stored; the enrolment is unchanged.
#[derive(Debug)]
#[non_exhaustive]
pub enum SealError {
    /// CBOR encoding failed (a bug: every field is encodable).
    Encode(String),
    /// age encryption failed.
    Encrypt(String),
    /// The encrypted record is too large for an envelope.
    Envelope(EnvelopeError),
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(detail) => write!(f, "could not encode the record: {detail}"),
            Self::Encrypt(detail) => write!(f, "could not encrypt the record: {detail}"),
            Self::Envelope(error) => write!(f, "could not build the envelope: {error}"),
        }
    }
}

impl std::error::Error for SealError {}

/// Seals records for one device.
pub struct Sealer {
    signing_key: SigningKey,
    device_id: DeviceId,
    recipient: Recipient,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// The bytes a device signs to bind its TLS key to its record-signing key: a fixed label and
/// the SHA-256 of the certificate request's DER.
pub fn provision_proof_message(csr_der: &[u8]) -> Vec<u8> {
    let mut message = b"sajili-provision-v1\0".to_vec();
    message.extend_from_slice(&sha256(csr_der));
    message
}

/// The device id that belongs to a record-signing key.
pub fn device_id_for(key: &VerifyingKey) -> DeviceId {
    DeviceId::from_digest(&sha256(key.as_bytes()))
}

impl Sealer {
    /// A sealer signing with `signing_key` and encrypting to `recipient`.
    pub fn new(signing_key: SigningKey, recipient: Recipient) -> Self {
        let device_id = device_id_for(&signing_key.verifying_key());
        Self {
            signing_key,
            device_id,
            recipient,
        }
    }

    /// The device id records are sealed under.
    pub fn device_id(&self) -> DeviceId {
        self.device_id
    }

    /// The key that verifies this sealer's signatures.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// Signs [`provision_proof_message`] of a TLS certificate request: proves to the registry
    /// that the TLS key belongs to the device that seals records. Only that message can be
    /// signed here; its label keeps it from ever reading as an envelope.
    pub fn prove_tls_key(&self, csr_der: &[u8]) -> [u8; 64] {
        use ed25519_dalek::Signer;
        self.signing_key
            .sign(&provision_proof_message(csr_der))
            .to_bytes()
    }

    /// Signs a batch of the device's audit events (JSON, which no envelope or proof message
    /// can be read as: those begin with their own binary header or label).
    pub fn sign_audit(&self, batch: &crate::protocol::AuditBatch) -> crate::protocol::SignedAudit {
        crate::protocol::SignedAudit::sign(batch, &self.signing_key)
    }

    /// The registration number a record in `slot` gets.
    pub fn registration_number(&self, slot: ChainSlot) -> RegistrationNumber {
        RegistrationNumber {
            device: self.device_id,
            seq: slot.seq,
        }
    }

    /// Seals `enrolment` into `slot`, dated `created_at`.
    pub fn seal(
        &self,
        enrolment: &Enrolment,
        slot: ChainSlot,
        created_at: i64,
    ) -> Result<Envelope, SealError> {
        let mut salt = vec![0u8; 16];
        getrandom::fill(&mut salt).map_err(|e| SealError::Encrypt(e.to_string()))?;
        let payload = Payload {
            format: PAYLOAD_FORMAT,
            salt,
            registration_number: self.registration_number(slot).to_string(),
            captured_at: created_at,
            enrolment,
        };
        let mut plaintext = Zeroizing::new(Vec::with_capacity(enrolment.image_bytes() + 64 * 1024));
        ciborium::into_writer(&payload, &mut *plaintext)
            .map_err(|e| SealError::Encode(e.to_string()))?;
        let payload_hash = sha256(&plaintext);
        let ciphertext = age::encrypt(&self.recipient, &plaintext)
            .map_err(|e| SealError::Encrypt(e.to_string()))?;
        Envelope::sign(
            &self.signing_key,
            self.device_id,
            slot.seq,
            slot.prev_hash,
            created_at,
            payload_hash,
            ciphertext,
        )
        .map_err(SealError::Envelope)
    }
}

/// Why a sealed record could not be opened.
#[derive(Debug)]
#[non_exhaustive]
pub enum UnsealError {
    /// Not encrypted to this identity, or the ciphertext is damaged.
    Decrypt(String),
    /// The plaintext does not hash to the envelope's payload hash.
    PayloadHashMismatch,
    /// The plaintext is not a payload this build reads.
    Decode(String),
}

impl fmt::Display for UnsealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Decrypt(detail) => write!(f, "cannot decrypt: {detail}"),
            Self::PayloadHashMismatch => {
                f.write_str("the decrypted payload does not match its hash")
            }
            Self::Decode(detail) => write!(f, "the payload does not decode: {detail}"),
        }
    }
}

impl std::error::Error for UnsealError {}

/// Decrypts an envelope with the registry's identity and decodes its payload.
///
/// Checks the payload hash; does not check the signature or the chain (see [`super::chain`]).
pub fn unseal(envelope: &Envelope, identity: &Identity) -> Result<Payload<Enrolment>, UnsealError> {
    let plaintext = Zeroizing::new(
        age::decrypt(identity, &envelope.ciphertext)
            .map_err(|e| UnsealError::Decrypt(e.to_string()))?,
    );
    if sha256(&plaintext) != envelope.payload_hash {
        return Err(UnsealError::PayloadHashMismatch);
    }
    decode_payload(&plaintext)
}

/// Decodes a decrypted payload. Refuses formats other than [`OLDEST_PAYLOAD_FORMAT`] to
/// [`PAYLOAD_FORMAT`]: older records stay readable, and lack only what was added since.
pub fn decode_payload(plaintext: &[u8]) -> Result<Payload<Enrolment>, UnsealError> {
    let payload: Payload<Enrolment> =
        ciborium::from_reader(plaintext).map_err(|e| UnsealError::Decode(e.to_string()))?;
    if !(OLDEST_PAYLOAD_FORMAT..=PAYLOAD_FORMAT).contains(&payload.format) {
        return Err(UnsealError::Decode(format!(
            "payload format {}",
            payload.format
        )));
    }
    Ok(payload)
}
