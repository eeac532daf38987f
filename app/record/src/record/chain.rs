//! Verifying envelopes and the hash chain that links a device's records.
//!
//! Every envelope names the hash of the one before it, and seqs are gapless from 1, so any
//! deletion, insertion, reordering or rewrite shows up as a broken link, a gap or a bad signature
//! at a definite seq.

use std::fmt;

use ed25519_dalek::VerifyingKey;

use super::envelope::{Envelope, EnvelopeError, Hash, hex};
use super::registration::DeviceId;

/// What is wrong at one seq.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainFault {
    /// The stored bytes are not an envelope.
    Malformed(EnvelopeError),
    /// The signature does not verify: the envelope was altered or signed by another key.
    BadSignature,
    /// The envelope names another device.
    WrongDevice {
        /// The device it names.
        found: DeviceId,
    },
    /// Not the seq expected here: a record was removed, inserted or moved.
    UnexpectedSeq {
        /// The seq it carries.
        found: u64,
    },
    /// `prev_hash` is not the hash of the record before: the chain was cut or rewritten.
    BrokenLink {
        /// The previous record's hash.
        expected: Hash,
        /// What this record names.
        found: Hash,
    },
    /// The store's index names a different hash for this seq than the envelope has.
    HashMismatch,
    /// No envelope and no receipt for a seq the chain has reached.
    Missing,
    /// A seq after the chain head.
    BeyondHead,
    /// The receipt kept in place of a dropped envelope is not the pinned registry's for it.
    BadReceipt,
}

impl fmt::Display for ChainFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed(error) => write!(f, "malformed envelope: {error}"),
            Self::BadReceipt => f.write_str(
                "its receipt does not verify with the pinned registry key for this record",
            ),
            Self::BadSignature => f.write_str("signature does not verify (altered or foreign)"),
            Self::WrongDevice { found } => write!(f, "sealed by another device ({found})"),
            Self::UnexpectedSeq { found } => write!(
                f,
                "carries seq {found}: records removed, inserted or reordered"
            ),
            Self::BrokenLink { expected, found } => write!(
                f,
                "prev_hash {} is not the previous record's hash {}",
                hex(&found[..8]),
                hex(&expected[..8])
            ),
            Self::HashMismatch => f.write_str("envelope hash differs from the chain index"),
            Self::Missing => f.write_str("record missing: neither envelope nor receipt is stored"),
            Self::BeyondHead => f.write_str("record beyond the chain head"),
        }
    }
}

/// The first bad seq in a chain, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    /// The first seq that failed.
    pub seq: u64,
    /// Why.
    pub fault: ChainFault,
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "seq {}: {}", self.seq, self.fault)
    }
}

impl std::error::Error for ChainError {}

/// The end of a verified chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The last seq (0 for an empty chain).
    pub seq: u64,
    /// The last envelope's hash (zeros for an empty chain).
    pub hash: Hash,
}

impl ChainHead {
    /// The head of a chain with no records.
    pub const EMPTY: ChainHead = ChainHead {
        seq: 0,
        hash: [0; 32],
    };
}

/// Checks one envelope: signed by `key` for `device`, at `expected_seq`, after `prev_hash`.
pub fn verify_link(
    envelope: &Envelope,
    key: &VerifyingKey,
    device: DeviceId,
    expected_seq: u64,
    prev_hash: &Hash,
) -> Result<(), ChainFault> {
    if !envelope.verify_signature(key) {
        return Err(ChainFault::BadSignature);
    }
    if envelope.device_id != device {
        return Err(ChainFault::WrongDevice {
            found: envelope.device_id,
        });
    }
    if envelope.seq != expected_seq {
        return Err(ChainFault::UnexpectedSeq {
            found: envelope.seq,
        });
    }
    if &envelope.prev_hash != prev_hash {
        return Err(ChainFault::BrokenLink {
            expected: *prev_hash,
            found: envelope.prev_hash,
        });
    }
    Ok(())
}

/// Verifies a whole chain from seq 1, given as each envelope's stored bytes in order.
///
/// Returns the head, or the first bad seq (counting from 1 by position) and why.
pub fn verify_chain<'a>(
    envelopes: impl IntoIterator<Item = &'a [u8]>,
    key: &VerifyingKey,
    device: DeviceId,
) -> Result<ChainHead, ChainError> {
    let mut head = ChainHead::EMPTY;
    for bytes in envelopes {
        let seq = head.seq + 1;
        let envelope = Envelope::from_bytes(bytes).map_err(|error| ChainError {
            seq,
            fault: ChainFault::Malformed(error),
        })?;
        verify_link(&envelope, key, device, seq, &head.hash)
            .map_err(|fault| ChainError { seq, fault })?;
        head = ChainHead {
            seq,
            hash: super::envelope::sha256(bytes),
        };
    }
    Ok(head)
}

#[cfg(test)]
mod tests;
