//! Verifying everything the store holds: every envelope's signature and link, and the chain
//! index from seq 1 to the head with nothing missing and nothing beyond.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use redb::{ReadableDatabase, ReadableTable};

use super::tables::{CHAIN, OUTBOX, RECEIPTS, SETTINGS};
use super::{Store, StoreError, read_head};
use crate::record::{
    ChainError, ChainFault, ChainHead, DeviceId, Envelope, Hash, Receipt, sha256, verify_link,
};

/// What a successful verification covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyReport {
    /// The chain head.
    pub head: ChainHead,
    /// Envelopes whose signature and link were checked.
    pub envelopes_checked: u64,
    /// Records already acknowledged by the registry (envelope gone, receipt kept).
    pub acknowledged: u64,
}

/// Why verification failed.
#[derive(Debug)]
pub enum VerifyFailure {
    /// The store could not be read.
    Store(StoreError),
    /// The first bad record.
    Chain(ChainError),
}

impl fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(error) => error.fmt(f),
            Self::Chain(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for VerifyFailure {}

fn fault(seq: u64, fault: ChainFault) -> VerifyFailure {
    VerifyFailure::Chain(ChainError { seq, fault })
}

impl Store {
    /// Checks every stored envelope and the chain against the device's key.
    ///
    /// Read-only. Reports the first bad seq and why.
    /// A receipt stands in for a dropped envelope only if it verifies with `receipt_key` (the
    /// pinned registry key) and names the hash in the chain index.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        device: DeviceId,
        receipt_key: &VerifyingKey,
    ) -> Result<VerifyReport, VerifyFailure> {
        let store = |e: redb::Error| VerifyFailure::Store(self.error(e));
        let txn = self.db.begin_read().map_err(|e| store(e.into()))?;
        let settings = txn.open_table(SETTINGS).map_err(|e| store(e.into()))?;
        let head = read_head(&settings).map_err(VerifyFailure::Store)?;
        let chain = txn.open_table(CHAIN).map_err(|e| store(e.into()))?;
        let outbox = txn.open_table(OUTBOX).map_err(|e| store(e.into()))?;
        let receipts = txn.open_table(RECEIPTS).map_err(|e| store(e.into()))?;

        // Nothing may sit beyond the head in any table.
        for table in [&chain, &outbox, &receipts] {
            let last = table.last().map_err(|e| store(e.into()))?;
            if let Some((seq, _)) = last
                && seq.value() > head.seq
            {
                return Err(fault(seq.value(), ChainFault::BeyondHead));
            }
        }

        let mut report = VerifyReport {
            head,
            envelopes_checked: 0,
            acknowledged: 0,
        };
        let mut prev_hash: Hash = [0; 32];
        for seq in 1..=head.seq {
            let indexed: Hash = match chain.get(seq).map_err(|e| store(e.into()))? {
                Some(guard) => guard
                    .value()
                    .try_into()
                    .map_err(|_| fault(seq, ChainFault::HashMismatch))?,
                None => return Err(fault(seq, ChainFault::Missing)),
            };
            if let Some(guard) = outbox.get(seq).map_err(|e| store(e.into()))? {
                let bytes = guard.value();
                let envelope = Envelope::from_bytes(bytes)
                    .map_err(|e| fault(seq, ChainFault::Malformed(e)))?;
                verify_link(&envelope, key, device, seq, &prev_hash).map_err(|f| fault(seq, f))?;
                if sha256(bytes) != indexed {
                    return Err(fault(seq, ChainFault::HashMismatch));
                }
                report.envelopes_checked += 1;
            } else if let Some(guard) = receipts.get(seq).map_err(|e| store(e.into()))? {
                let receipt = Receipt::verify(guard.value(), receipt_key)
                    .map_err(|_| fault(seq, ChainFault::BadReceipt))?;
                if receipt.device_id != device || receipt.seq != seq || receipt.hash != indexed {
                    return Err(fault(seq, ChainFault::BadReceipt));
                }
                report.acknowledged += 1;
            } else {
                return Err(fault(seq, ChainFault::Missing));
            }
            prev_hash = indexed;
        }
        if head.seq > 0 && prev_hash != head.hash {
            return Err(fault(head.seq, ChainFault::HashMismatch));
        }
        Ok(report)
    }
}
