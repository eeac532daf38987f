//! The store's tables and the encoding of what they hold.
//!
//! | table      | key               | value                                               |
//! |------------|-------------------|-----------------------------------------------------|
//! | `journal`  | session id, u128  | CBOR of the enrolment in progress (plaintext)       |
//! | `outbox`   | seq, u64          | sealed envelope bytes, until a receipt is verified  |
//! | `chain`    | seq, u64          | SHA-256 of the envelope (kept after the envelope goes) |
//! | `receipts` | seq, u64          | the registry's signed receipt                       |
//! | `audit`    | event number, u64 | CBOR [`super::AuditEvent`], never biometrics        |
//! | `settings` | name, str         | small values; see the `SETTING_*` names             |

use redb::TableDefinition;

pub(crate) const JOURNAL: TableDefinition<u128, &[u8]> = TableDefinition::new("journal");
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");
pub(crate) const CHAIN: TableDefinition<u64, &[u8]> = TableDefinition::new("chain");
pub(crate) const RECEIPTS: TableDefinition<u64, &[u8]> = TableDefinition::new("receipts");
pub(crate) const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");
pub(crate) const SETTINGS: TableDefinition<&str, &[u8]> = TableDefinition::new("settings");

/// Chain head: seq (u64 BE) then the envelope hash (32 bytes).
pub(crate) const SETTING_HEAD: &str = "chain.head";
/// Clock floor: i64 BE Unix seconds; no record is dated earlier.
pub(crate) const SETTING_CLOCK_FLOOR: &str = "clock.floor";
/// Device id: eight ASCII symbols.
pub(crate) const SETTING_DEVICE_ID: &str = "device.id";
/// Bytes of envelopes in the outbox: i64 BE, kept in the transaction that changes the outbox,
/// so `status` need not read every envelope.
pub(crate) const SETTING_OUTBOX_BYTES: &str = "outbox.bytes";
/// Every seq up to this one has a receipt: u64 BE. Receipts arrive in chain order, so the
/// records still waiting are exactly those after it, up to the head.
pub(crate) const SETTING_ACKED_THROUGH: &str = "receipts.through";
/// Records the registry holds with their contents refused (receipt kind 2): u64 BE.
pub(crate) const SETTING_REFUSED: &str = "receipts.refused";
/// When the last record was sealed: i64 BE Unix seconds.
pub(crate) const SETTING_LAST_SEALED: &str = "chain.last_sealed_at";

pub(crate) fn encode_i64(value: i64) -> [u8; 8] {
    value.to_be_bytes()
}

pub(crate) fn decode_i64(bytes: &[u8]) -> Option<i64> {
    Some(i64::from_be_bytes(bytes.try_into().ok()?))
}

/// The fleet policy running here: the signed JSON as received (`crate::fleet`).
pub(crate) const SETTING_POLICY: &str = "fleet.policy";
/// The registry's withdrawal of this device: JSON (`crate::fleet::Withdrawal`).
pub(crate) const SETTING_WITHDRAWN: &str = "fleet.withdrawn";
/// Every audit event up to this number has been handed to the uplink: u64 BE.
pub(crate) const SETTING_AUDIT_EXPORTED: &str = "audit.exported";
