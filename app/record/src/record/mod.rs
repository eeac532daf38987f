//! Sealed records: the payload, its encryption to the registry, the signed envelope, the hash
//! chain, and the registration number the applicant takes home.

mod approval;
mod chain;
mod envelope;
mod payload;
mod receipt;
mod registration;
mod seal;

pub use approval::{FingerShown, approval_digest};
pub use chain::{ChainError, ChainFault, ChainHead, verify_chain, verify_link};
pub use envelope::{
    Envelope, EnvelopeError, EnvelopeVersion, EnvelopeView, Hash, MAGIC, MAGIC_V1, MAX_CIPHERTEXT,
    hex, parse_hex, sha256,
};
pub use payload::{
    Enrolment, FingerCapture, FingerRecord, OLDEST_PAYLOAD_FORMAT, PAYLOAD_FORMAT,
    PLACE_OF_BIRTH_FORMAT, Payload,
};
pub use receipt::{RECEIPT_LEN, RECEIPT_MAGIC, Receipt, ReceiptError, ReceiptKind, RefusalReason};
pub use registration::{DeviceId, RegistrationNumber, RegistrationNumberError};
pub use seal::{
    ChainSlot, SealError, Sealer, UnsealError, decode_payload, device_id_for,
    provision_proof_message, unseal,
};
