//! The registry's store: devices, tokens, records, receipts, chain heads, part-uploads and
//! incidents, in one redb file; every change commits with immediate durability.
//!
//! | table       | key             | value                                          |
//! |-------------|-----------------|------------------------------------------------|
//! | `devices`   | device id       | JSON [`DeviceEntry`]                           |
//! | `tokens`    | SHA-256 hex     | JSON [`TokenEntry`] (tokens are kept hashed)   |
//! | `records`   | (device, seq)   | envelope bytes                                 |
//! | `receipts`  | (device, seq)   | receipt bytes (the same answer to a repeat)    |
//! | `heads`     | device id       | seq u64 BE + envelope hash                     |
//! | `parts`     | (device, seq)   | the bytes of a record uploaded so far          |
//! | `incidents` | number          | JSON [`Incident`]: every refusal, for operators |

use std::path::Path;

use anyhow::{Context, Result};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
};
use serde::{Deserialize, Serialize};

pub const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
pub const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
pub const RECORDS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("records");
pub const RECEIPTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("receipts");
pub const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
pub const PARTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("parts");
pub const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");

/// A provisioned device.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// Its record-signing key, hex.
    pub signing_key: String,
    /// When it was first provisioned.
    pub provisioned_at: i64,
    /// Certificates issued to it.
    pub certificates: u64,
}

/// An enrolment token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenEntry {
    /// When it was made.
    pub created_at: i64,
    /// The device that used it.
    pub used_by: Option<String>,
    /// No device may use it from this time on (Unix seconds); tokens made before expiry
    /// existed have none.
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// A refusal, recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Incident {
    /// When.
    pub at: i64,
    /// The device the client certificate named (or `-`).
    pub device: String,
    /// The record's seq, if any.
    pub seq: Option<u64>,
    /// The error code sent.
    pub code: String,
    /// Its words.
    pub message: String,
}

/// The chain head of a device at the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last seq held (0: none).
    pub seq: u64,
    /// Its envelope hash.
    pub hash: [u8; 32],
}

/// Opens (or creates) the registry's database.
pub fn open(path: &Path) -> Result<Database> {
    // MultiWriter: `token`, `stats` and `show` work while `serve` runs.
    let db = Database::builder()
        .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
        .set_cache_size(64 << 20)
        .create(path)
        .with_context(|| format!("open {}", path.display()))?;
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    txn.open_table(DEVICES)?;
    txn.open_table(TOKENS)?;
    txn.open_table(RECORDS)?;
    txn.open_table(RECEIPTS)?;
    txn.open_table(HEADS)?;
    txn.open_table(PARTS)?;
    txn.open_table(INCIDENTS)?;
    txn.commit()?;
    Ok(db)
}

/// A write transaction that commits with immediate durability.
pub fn write(db: &Database) -> Result<redb::WriteTransaction> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    Ok(txn)
}

/// Decodes a head value.
pub fn decode_head(bytes: &[u8]) -> Head {
    let mut seq = [0u8; 8];
    let mut hash = [0u8; 32];
    if bytes.len() == 40 {
        seq.copy_from_slice(&bytes[..8]);
        hash.copy_from_slice(&bytes[8..]);
    }
    Head {
        seq: u64::from_be_bytes(seq),
        hash,
    }
}

/// Encodes a head value.
pub fn encode_head(head: Head) -> Vec<u8> {
    let mut out = head.seq.to_be_bytes().to_vec();
    out.extend_from_slice(&head.hash);
    out
}

/// The head of `device` (seq 0 when it has sent nothing).
pub fn head(db: &Database, device: &str) -> Result<Head> {
    let txn = db.begin_read()?;
    let heads = txn.open_table(HEADS)?;
    Ok(heads.get(device)?.map_or(
        Head {
            seq: 0,
            hash: [0; 32],
        },
        |v| decode_head(v.value()),
    ))
}

/// Appends an incident in its own transaction.
pub fn incident(db: &Database, incident: &Incident) -> Result<()> {
    let txn = write(db)?;
    {
        let mut table = txn.open_table(INCIDENTS)?;
        let next = table.last()?.map_or(1, |(k, _)| k.value() + 1);
        table.insert(next, serde_json::to_vec(incident)?.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

/// The known device `device`, if any.
pub fn device(db: &Database, device: &str) -> Result<Option<DeviceEntry>> {
    let txn = db.begin_read()?;
    let table = txn.open_table(DEVICES)?;
    let value = table.get(device)?;
    Ok(match value {
        Some(v) => Some(serde_json::from_slice(v.value())?),
        None => None,
    })
}

/// Counts for `stats`.
#[derive(Debug, Serialize)]
pub struct Stats {
    /// Devices provisioned.
    pub devices: u64,
    /// Tokens made, and used.
    pub tokens: u64,
    /// Tokens used.
    pub tokens_used: u64,
    /// Records held.
    pub records: u64,
    /// Records held whose contents were refused.
    pub records_refused: u64,
    /// Part-uploads in progress.
    pub uploads_in_progress: u64,
    /// Refusals recorded.
    pub incidents: u64,
    /// Per device: last seq, and whether seqs 1..=last are all held.
    pub chains: Vec<ChainStats>,
    /// The latest incidents (up to 20), newest last.
    pub recent_incidents: Vec<Incident>,
}

/// One device's chain at the registry.
#[derive(Debug, Serialize)]
pub struct ChainStats {
    /// The device.
    pub device: String,
    /// Its head seq.
    pub head: u64,
    /// Records held.
    pub records: u64,
    /// Whether 1..=head are all held and each links to the one before.
    pub complete: bool,
}

/// Gathers [`Stats`].
pub fn stats(db: &Database) -> Result<Stats> {
    let txn = db.begin_read()?;
    let tokens = txn.open_table(TOKENS)?;
    let mut tokens_used = 0;
    for entry in tokens.iter()? {
        let (_, value) = entry?;
        let token: TokenEntry = serde_json::from_slice(value.value())?;
        tokens_used += u64::from(token.used_by.is_some());
    }
    let receipts = txn.open_table(RECEIPTS)?;
    let mut records_refused = 0;
    for entry in receipts.iter()? {
        let (_, value) = entry?;
        records_refused += u64::from(value.value().get(4) == Some(&2));
    }
    let records = txn.open_table(RECORDS)?;
    let heads = txn.open_table(HEADS)?;
    let mut chains = Vec::new();
    for entry in heads.iter()? {
        let (key, value) = entry?;
        let device = key.value().to_string();
        let head = decode_head(value.value());
        let mut held = 0;
        let mut complete = true;
        let mut prev = [0u8; 32];
        for seq in 1..=head.seq {
            match records.get((device.as_str(), seq))? {
                Some(bytes) => {
                    held += 1;
                    let bytes = bytes.value();
                    let linked = sajili_record::record::Envelope::from_bytes(bytes)
                        .map(|e| e.prev_hash == prev)
                        .unwrap_or(false);
                    complete &= linked;
                    prev = sajili_record::record::sha256(bytes);
                }
                None => complete = false,
            }
        }
        complete &= prev == head.hash;
        chains.push(ChainStats {
            device,
            head: head.seq,
            records: held,
            complete,
        });
    }
    let incidents = txn.open_table(INCIDENTS)?;
    let mut recent = Vec::new();
    for entry in incidents.iter()?.rev().take(20) {
        let (_, value) = entry?;
        recent.push(serde_json::from_slice(value.value())?);
    }
    recent.reverse();
    Ok(Stats {
        devices: txn.open_table(DEVICES)?.len()?,
        tokens: tokens.len()?,
        tokens_used,
        records: records.len()?,
        records_refused,
        uploads_in_progress: txn.open_table(PARTS)?.len()?,
        incidents: incidents.len()?,
        chains,
        recent_incidents: recent,
    })
}
