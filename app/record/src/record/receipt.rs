//! The registry's signed statements about a device's records: a receipt for each record it
//! took, and a standing (where the device's chain stands at the registry, and the registry's
//! time) that a device asks for before it sends.
//!
//! Byte layout (version 1, integers big-endian), 127 bytes, fixed:
//!
//! | offset | size | field                                                              |
//! |-------:|-----:|--------------------------------------------------------------------|
//! | 0      | 4    | magic `SJR1`                                                       |
//! | 4      | 1    | kind: 1 accepted, 2 refused (kept in the chain, content refused), 3 standing |
//! | 5      | 8    | device id, eight ASCII symbols                                     |
//! | 13     | 8    | seq: the record's; for a standing, the last seq the registry holds |
//! | 21     | 32   | SHA-256 of that record's envelope; zeros when it holds none        |
//! | 53     | 8    | at: the registry's clock, i64 Unix seconds                         |
//! | 61     | 2    | reason, u16: 0 none; see [`RefusalReason`]                         |
//! | 63     | 64   | ed25519 signature by the registry's receipt key over bytes 0 .. 63 |
//!
//! The kind is signed, so a standing cannot be passed off as a receipt.

use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::envelope::Hash;
use super::registration::DeviceId;

/// The magic bytes that open every version-1 receipt.
pub const RECEIPT_MAGIC: &[u8; 4] = b"SJR1";
/// A receipt's length in bytes.
pub const RECEIPT_LEN: usize = 127;
const SIGNED_LEN: usize = 63;

/// What the registry states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// It holds the record, in the chain.
    Accepted,
    /// It holds the record in the chain (so records after it can follow) but refused its
    /// contents; the reason says why.
    Refused,
    /// Where the device's chain stands at the registry, at `at`.
    Standing,
}

impl ReceiptKind {
    fn code(self) -> u8 {
        match self {
            Self::Accepted => 1,
            Self::Refused => 2,
            Self::Standing => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Accepted),
            2 => Some(Self::Refused),
            3 => Some(Self::Standing),
            _ => None,
        }
    }
}

/// Why the registry refused a record's contents while keeping its place in the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalReason {
    /// The payload does not decrypt with the registry's key (sealed to another registry).
    Undecryptable,
    /// The payload decrypts but its hash is not the envelope's `payload_hash`.
    PayloadHashMismatch,
    /// The payload decrypts but is not an enrolment this registry reads.
    PayloadUnreadable,
}

impl RefusalReason {
    /// The code carried in a receipt.
    pub fn code(self) -> u16 {
        match self {
            Self::Undecryptable => 1,
            Self::PayloadHashMismatch => 2,
            Self::PayloadUnreadable => 3,
        }
    }

    /// The reason for `code`, if known.
    pub fn from_code(code: u16) -> Option<Self> {
        match code {
            1 => Some(Self::Undecryptable),
            2 => Some(Self::PayloadHashMismatch),
            3 => Some(Self::PayloadUnreadable),
            _ => None,
        }
    }
}

impl fmt::Display for RefusalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Undecryptable => "the payload does not decrypt with the registry's key",
            Self::PayloadHashMismatch => "the decrypted payload does not match its hash",
            Self::PayloadUnreadable => "the decrypted payload is not a readable enrolment",
        })
    }
}

/// A signed statement by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// What it states.
    pub kind: ReceiptKind,
    /// About which device.
    pub device_id: DeviceId,
    /// The record's seq (for a standing: the last seq held, 0 for none).
    pub seq: u64,
    /// The record's envelope hash (zeros for none).
    pub hash: Hash,
    /// The registry's clock when it made the statement, Unix seconds.
    pub at: i64,
    /// For [`ReceiptKind::Refused`], why.
    pub reason: Option<RefusalReason>,
    signature: [u8; 64],
}

/// Why bytes are not a receipt from this registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Not 127 bytes.
    BadLength(usize),
    /// Does not start with `SJR1`.
    BadMagic,
    /// An unknown kind or reason code.
    BadKind,
    /// The device id is not eight canonical symbols.
    BadDeviceId,
    /// The signature is not the pinned receipt key's.
    BadSignature,
}

impl fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadLength(length) => write!(f, "a receipt is {RECEIPT_LEN} bytes, got {length}"),
            Self::BadMagic => f.write_str("not a receipt (no SJR1 magic)"),
            Self::BadKind => f.write_str("a receipt of unknown kind or reason"),
            Self::BadDeviceId => f.write_str("a receipt with a malformed device id"),
            Self::BadSignature => {
                f.write_str("the receipt is not signed by the pinned registry key")
            }
        }
    }
}

impl std::error::Error for ReceiptError {}

impl Receipt {
    /// Makes and signs a statement (the registry's side).
    pub fn sign(
        key: &SigningKey,
        kind: ReceiptKind,
        device_id: DeviceId,
        seq: u64,
        hash: Hash,
        at: i64,
        reason: Option<RefusalReason>,
    ) -> Self {
        let mut receipt = Self {
            kind,
            device_id,
            seq,
            hash,
            at,
            reason,
            signature: [0; 64],
        };
        receipt.signature = key.sign(&receipt.signed_bytes()).to_bytes();
        receipt
    }

    fn signed_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RECEIPT_LEN);
        out.extend_from_slice(RECEIPT_MAGIC);
        out.push(self.kind.code());
        out.extend_from_slice(self.device_id.as_bytes());
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.hash);
        out.extend_from_slice(&self.at.to_be_bytes());
        out.extend_from_slice(&self.reason.map_or(0, RefusalReason::code).to_be_bytes());
        out
    }

    /// The receipt's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.signed_bytes();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Parses a receipt and checks it is signed by `key` (the pinned receipt key).
    pub fn verify(bytes: &[u8], key: &VerifyingKey) -> Result<Self, ReceiptError> {
        if bytes.len() != RECEIPT_LEN {
            return Err(ReceiptError::BadLength(bytes.len()));
        }
        if &bytes[..4] != RECEIPT_MAGIC {
            return Err(ReceiptError::BadMagic);
        }
        let kind = ReceiptKind::from_code(bytes[4]).ok_or(ReceiptError::BadKind)?;
        let device_text =
            std::str::from_utf8(&bytes[5..13]).map_err(|_| ReceiptError::BadDeviceId)?;
        let device_id = DeviceId::parse(device_text)
            .filter(|id| id.as_bytes() == &bytes[5..13])
            .ok_or(ReceiptError::BadDeviceId)?;
        let reason_code = u16::from_be_bytes([bytes[61], bytes[62]]);
        let reason = match reason_code {
            0 => None,
            code => Some(RefusalReason::from_code(code).ok_or(ReceiptError::BadKind)?),
        };
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&bytes[SIGNED_LEN..]);
        key.verify(&bytes[..SIGNED_LEN], &Signature::from_bytes(&signature))
            .map_err(|_| ReceiptError::BadSignature)?;
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[13..21]);
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&bytes[21..53]);
        let mut at = [0u8; 8];
        at.copy_from_slice(&bytes[53..61]);
        Ok(Self {
            kind,
            device_id,
            seq: u64::from_be_bytes(seq),
            hash,
            at: i64::from_be_bytes(at),
            reason,
            signature,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[5; 32])
    }

    #[test]
    fn a_receipt_round_trips_and_any_flipped_byte_is_refused() {
        let receipt = Receipt::sign(
            &key(),
            ReceiptKind::Refused,
            DeviceId::from_digest(&[4; 32]),
            42,
            [6; 32],
            1_800_000_000,
            Some(RefusalReason::Undecryptable),
        );
        let bytes = receipt.to_bytes();
        assert_eq!(bytes.len(), RECEIPT_LEN);
        let verifying = key().verifying_key();
        assert_eq!(Receipt::verify(&bytes, &verifying), Ok(receipt));
        for index in 0..bytes.len() {
            let mut tampered = bytes.clone();
            tampered[index] ^= 0x10;
            assert!(
                Receipt::verify(&tampered, &verifying).is_err(),
                "byte {index}"
            );
        }
        let other = SigningKey::from_bytes(&[6; 32]).verifying_key();
        assert_eq!(
            Receipt::verify(&bytes, &other),
            Err(ReceiptError::BadSignature)
        );
        assert_eq!(
            Receipt::verify(&bytes[..100], &verifying),
            Err(ReceiptError::BadLength(100))
        );
    }
}
