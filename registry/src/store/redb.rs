//! The embedded engine: one redb file (`DIR/registry.redb`) for a single-node pilot. Every
//! change commits with immediate durability; redb serialises write transactions, which is
//! what keeps a chain gapless when two connections of one device race.
//!
//! | table         | key             | value                                       |
//! |---------------|-----------------|---------------------------------------------|
//! | `meta`        | `"meta"`        | JSON [`Meta`]                               |
//! | `devices`     | device id       | JSON [`DeviceEntry`]                        |
//! | `seen`        | device id       | last seen (i64 BE) + waiting (u64 BE)       |
//! | `tokens`      | SHA-256 hex     | JSON [`TokenEntry`]                         |
//! | `records`     | (device, seq)   | envelope bytes (the first piece, see below) |
//! | `record_pieces` | (device, seq, n) | the envelope's pieces after the first     |
//! | `receipts`    | (device, seq)   | receipt bytes (the same answer to a repeat) |
//! | `arrivals`    | (device, seq)   | received at (Unix seconds)                  |
//! | `heads`       | device id       | seq u64 BE + envelope hash                  |
//! | `parts`       | (device, seq)   | the bytes of a record uploaded so far       |
//! | `incidents`   | number          | JSON [`Incident`]                           |
//! | `unprocessed` | (device, seq)   | received at: the back office's queue        |
//! | `flags`       | number          | JSON [`Flag`]                               |
//! | `documents`   | document key    | (device, seq) as JSON                       |
//! | `days`        | UTC midnight    | records received that day                   |
//! | `fleet`       | `"version"`     | the fleet version (u64)                     |
//! | `staff`       | staff number    | JSON [`StaffMember`]                        |
//! | `centres`     | centre id       | JSON [`CentreEntry`]                        |
//! | `withdrawn`   | device id       | JSON [`Withdrawal`] (also in its entry)     |
//! | `audit`       | (device, number)| JSON [`AuditEntry`]                         |
//! | `policies`    | centre (or none)| (version, signed policy bytes)              |
//! | `updates`     | number          | JSON [`PublishedUpdate`]                    |
//!
//! A record larger than a page is stored in pieces ([`pieces`]): redb keeps a large value
//! alone in a page of a power-of-two size, so a 176 kB envelope took a 256 kB page, and every
//! commit wrote and forced to disk 45% more than the records weigh. A record's first piece is
//! under `records`, the rest in order under `record_pieces`; a record stored whole (before
//! pieces) has none there, and reads the same.

use std::path::Path;

use anyhow::{Context, Result, bail};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

use super::{
    Amendments, Appended, Arrival, AuditEntry, CentreEntry, ChainRefusal, ChainStats, Checked,
    DeviceEntry, DeviceOverview, Flag, FleetSnapshot, Head, Incident, Meta, PartOutcome, PerDay,
    Processed, Provision, ProvisionRefusal, PublishedUpdate, Signer, StaffMember, Stats, Store,
    TokenEntry, Withdrawal, WithdrawnDevice, chain_refusal, day_of, duplicate_flag, fill_days,
    in_amendment_chain, token_refusal,
};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const DEVICES: TableDefinition<&str, &[u8]> = TableDefinition::new("devices");
const SEEN: TableDefinition<&str, &[u8]> = TableDefinition::new("seen");
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens");
const RECORDS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("records");
const RECORD_PIECES: TableDefinition<(&str, u64, u32), &[u8]> =
    TableDefinition::new("record_pieces");
const RECEIPTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("receipts");
const ARRIVALS: TableDefinition<(&str, u64), i64> = TableDefinition::new("arrivals");
const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
const PARTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("parts");
const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");
const UNPROCESSED: TableDefinition<(&str, u64), i64> = TableDefinition::new("unprocessed");
const FLAGS: TableDefinition<u64, &[u8]> = TableDefinition::new("flags");
const DOCUMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("documents");
/// An amendment's link: (device, seq) of the amendment to the JSON (device, seq) it amends.
const AMENDS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("amends");
/// The other way: (device, seq) of a record to the JSON list of (device, seq) amending it.
const AMENDED_BY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("amended_by");
const DAYS: TableDefinition<i64, u64> = TableDefinition::new("days");
const FLEET: TableDefinition<&str, u64> = TableDefinition::new("fleet");
const STAFF: TableDefinition<&str, &[u8]> = TableDefinition::new("staff");
const CENTRES: TableDefinition<&str, &[u8]> = TableDefinition::new("centres");
const WITHDRAWN: TableDefinition<&str, &[u8]> = TableDefinition::new("withdrawn");
const AUDIT: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("audit");
const POLICIES: TableDefinition<Option<&str>, (u64, &[u8])> = TableDefinition::new("policies");
/// Publications numbered in order of first publication: a replacement keeps its number, so
/// publications of the same second list in the order they were first made.
const UPDATES: TableDefinition<u64, &[u8]> = TableDefinition::new("updates");

/// The key of the fleet version in `fleet`.
const VERSION: &str = "version";

/// The registry's records in one redb file.
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens (or creates) `dir/registry.redb`, making `dir` (0700) if needed.
    pub fn open(dir: &Path) -> Result<Self> {
        sajili_record::files::ensure_dir(dir, 0o700)
            .with_context(|| format!("make {}", dir.display()))?;
        let path = dir.join("registry.redb");
        // MultiWriter: `token`, `stats` and `show` work while `serve` runs.
        let db = Database::builder()
            .set_concurrency_mode(redb::ConcurrencyMode::MultiWriter)
            .set_cache_size(64 << 20)
            .create(&path)
            .with_context(|| format!("open {}", path.display()))?;
        let store = Self { db };
        let txn = store.write()?;
        txn.open_table(META)?;
        txn.open_table(DEVICES)?;
        txn.open_table(SEEN)?;
        txn.open_table(TOKENS)?;
        txn.open_table(RECORDS)?;
        // A database made before records were stored in pieces gains the table here, empty.
        txn.open_table(RECORD_PIECES)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(ARRIVALS)?;
        txn.open_table(HEADS)?;
        txn.open_table(PARTS)?;
        txn.open_table(INCIDENTS)?;
        txn.open_table(UNPROCESSED)?;
        txn.open_table(FLAGS)?;
        txn.open_table(DOCUMENTS)?;
        txn.open_table(DAYS)?;
        // A database made before the fleet tables gains them here; its version starts at 0.
        txn.open_table(FLEET)?;
        txn.open_table(STAFF)?;
        txn.open_table(CENTRES)?;
        txn.open_table(WITHDRAWN)?;
        txn.open_table(AUDIT)?;
        txn.open_table(POLICIES)?;
        // A database made before updates were published gains the table here, empty.
        txn.open_table(UPDATES)?;
        // A database made before amendments were linked gains the tables here, empty.
        txn.open_table(AMENDS)?;
        txn.open_table(AMENDED_BY)?;
        txn.commit()?;
        Ok(store)
    }

    fn write(&self) -> Result<WriteTransaction> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        Ok(txn)
    }
}

fn decode_head(bytes: &[u8]) -> Head {
    let mut head = Head::EMPTY;
    if bytes.len() == 40 {
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&bytes[..8]);
        head.seq = u64::from_be_bytes(seq);
        head.hash.copy_from_slice(&bytes[8..]);
    }
    head
}

fn encode_head(head: Head) -> Vec<u8> {
    let mut out = head.seq.to_be_bytes().to_vec();
    out.extend_from_slice(&head.hash);
    out
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).context("a stored value is damaged")
}

fn read_head(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    device: &str,
) -> Result<Head> {
    Ok(table
        .get(device)?
        .map_or(Head::EMPTY, |v| decode_head(v.value())))
}

/// redb's page, the smallest a value is stored in.
const PAGE: usize = 4096;

/// What a leaf page holds besides its one value (its header, two offsets and the key, some 40
/// bytes for these tables), counted high.
const LEAF_ROOM: usize = 256;

/// `bytes` cut into pieces that each fill a page of a power-of-two size (with its leaf's
/// room): 176 kB as 128, 32, 8 and 4 kB pages and a small rest, instead of one 256 kB page.
/// Bytes that fit a page stay whole; joined in order, the pieces are `bytes`.
fn pieces(bytes: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = bytes;
    while rest.len() + LEAF_ROOM > PAGE {
        // The largest power-of-two page the rest fills, then as much as fits in it.
        let needed = rest.len() + LEAF_ROOM;
        let page = PAGE << (needed / PAGE).ilog2();
        let (piece, after) = rest.split_at((page - LEAF_ROOM).min(rest.len()));
        pieces.push(piece);
        rest = after;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest);
    }
    pieces
}

/// Stores record `seq` of `device`: its first piece under `records`, the others under
/// `record_pieces`.
fn put_record(
    records: &mut redb::Table<'_, (&'static str, u64), &'static [u8]>,
    more: &mut redb::Table<'_, (&'static str, u64, u32), &'static [u8]>,
    device: &str,
    seq: u64,
    bytes: &[u8],
) -> Result<()> {
    let mut all = pieces(bytes).into_iter();
    records.insert((device, seq), all.next().unwrap_or_default())?;
    for (number, piece) in (1u32..).zip(all) {
        more.insert((device, seq, number), piece)?;
    }
    Ok(())
}

/// Record `seq` of `device` whole, if held: its first piece and the others after it.
fn read_record(
    records: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    more: &impl ReadableTable<(&'static str, u64, u32), &'static [u8]>,
    device: &str,
    seq: u64,
) -> Result<Option<Vec<u8>>> {
    let Some(first) = records.get((device, seq))? else {
        return Ok(None);
    };
    let mut bytes = first.value().to_vec();
    for piece in more.range((device, seq, 1u32)..=(device, seq, u32::MAX))? {
        bytes.extend_from_slice(piece?.1.value());
    }
    Ok(Some(bytes))
}

fn next_key(table: &impl ReadableTable<u64, &'static [u8]>) -> Result<u64> {
    Ok(table.last()?.map_or(1, |(k, _)| k.value() + 1))
}

fn read_version(table: &impl ReadableTable<&'static str, u64>) -> Result<u64> {
    Ok(table.get(VERSION)?.map_or(0, |v| v.value()))
}

/// Raises the fleet version inside `txn` and returns the new one. redb lets one write
/// transaction run at a time (across processes too), so two changes never get the same
/// version, and the one that commits later has the higher.
/// Every JSON value of a table keyed by text, in key order.
fn read_rows<T: serde::de::DeserializeOwned>(
    txn: &redb::ReadTransaction,
    table: TableDefinition<&str, &[u8]>,
) -> Result<Vec<T>> {
    let mut rows = Vec::new();
    for entry in txn.open_table(table)?.iter()? {
        rows.push(json(entry?.1.value())?);
    }
    Ok(rows)
}

/// Rewrites the JSON value at `key` with `change` (which may write elsewhere in the same
/// transaction) and commits; with no value there, writes nothing and aborts. Returns what
/// `change` returned, or `None`.
fn change_row<T, R>(
    txn: WriteTransaction,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
    change: impl FnOnce(&WriteTransaction, T) -> Result<(T, R)>,
) -> Result<Option<R>>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let known: Option<T> = txn
        .open_table(table)?
        .get(key)?
        .map(|v| json(v.value()))
        .transpose()?;
    let Some(known) = known else {
        // Nothing changed: nothing (no fleet version either) is written.
        txn.abort()?;
        return Ok(None);
    };
    let (changed, result) = change(&txn, known)?;
    txn.open_table(table)?
        .insert(key, serde_json::to_vec(&changed)?.as_slice())?;
    txn.commit()?;
    Ok(Some(result))
}

fn raise_version(txn: &WriteTransaction) -> Result<u64> {
    let mut fleet = txn.open_table(FLEET)?;
    let version = read_version(&fleet)?
        .checked_add(1)
        .context("the fleet version overflowed")?;
    fleet.insert(VERSION, version)?;
    Ok(version)
}

/// Every withdrawn device, by id (the table's order).
fn read_withdrawn(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<Vec<WithdrawnDevice>> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        out.push(WithdrawnDevice {
            device: key.value().to_string(),
            withdrawal: json(value.value())?,
        });
    }
    Ok(out)
}

/// Every publication with its number, in number order.
fn read_updates(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<(u64, PublishedUpdate)>> {
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        let number = key.value();
        let update: PublishedUpdate =
            json(value.value()).with_context(|| format!("published update {number}"))?;
        out.push((number, update));
    }
    Ok(out)
}

/// The highest audit number held for `device` (0: none).
fn read_audit_head(
    table: &impl ReadableTable<(&'static str, u64), &'static [u8]>,
    device: &str,
) -> Result<u64> {
    Ok(table
        .range((device, 0)..=(device, u64::MAX))?
        .next_back()
        .transpose()?
        .map_or(0, |(key, _)| key.value().1))
}

impl Store for RedbStore {
    fn engine(&self) -> &'static str {
        "redb"
    }

    fn ping(&self) -> Result<()> {
        self.db.begin_read()?.open_table(META)?;
        Ok(())
    }

    fn meta(&self) -> Result<Option<Meta>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(META)?;
        let value = table.get("meta")?;
        value.map(|v| json(v.value())).transpose()
    }

    fn init_meta(&self, meta: &Meta) -> Result<()> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(META)?;
            if table.get("meta")?.is_some() {
                bail!("this database already holds a registry");
            }
            table.insert("meta", serde_json::to_vec(meta)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn add_token(&self, hash: &str, entry: &TokenEntry) -> Result<()> {
        let txn = self.write()?;
        txn.open_table(TOKENS)?
            .insert(hash, serde_json::to_vec(entry)?.as_slice())?;
        txn.commit()?;
        Ok(())
    }

    fn revoke_token(&self, hash: &str) -> Result<bool> {
        let txn = self.write()?;
        let revoked = {
            let mut table = txn.open_table(TOKENS)?;
            let entry: Option<TokenEntry> =
                table.get(hash)?.map(|v| json(v.value())).transpose()?;
            match entry {
                Some(entry) if entry.used_by.is_none() && !entry.revoked => {
                    let entry = TokenEntry {
                        revoked: true,
                        ..entry
                    };
                    table.insert(hash, serde_json::to_vec(&entry)?.as_slice())?;
                    true
                }
                _ => false,
            }
        };
        txn.commit()?;
        Ok(revoked)
    }

    /// A withdrawn device is refused before its token is looked at (after a key conflict, as
    /// in the PostgreSQL engine), so a withdrawn kiosk cannot come back with its own token. A
    /// token's centre becomes a new device's centre; a re-issue keeps the centre it has (it
    /// may have been moved since).
    fn provision(&self, request: &Provision<'_>) -> Result<Result<DeviceEntry, ProvisionRefusal>> {
        let txn = self.write()?;
        let outcome = {
            let mut devices = txn.open_table(DEVICES)?;
            let mut tokens = txn.open_table(TOKENS)?;
            let known: Option<DeviceEntry> = devices
                .get(request.device)?
                .map(|v| json(v.value()))
                .transpose()?;
            let token: Option<TokenEntry> = request
                .token_hash
                .map(|hash| -> Result<Option<TokenEntry>> {
                    tokens.get(hash)?.map(|v| json(v.value())).transpose()
                })
                .transpose()?
                .flatten();
            let refusal = match (&known, request.token_hash) {
                (Some(entry), _) if entry.signing_key != request.signing_key => {
                    Some(ProvisionRefusal::KeyConflict)
                }
                (Some(entry), _) if entry.withdrawn.is_some() => Some(ProvisionRefusal::Withdrawn),
                (_, Some(_)) => token_refusal(token.as_ref(), request),
                (None, None) => Some(ProvisionRefusal::TokenRequired),
                (Some(_), None) => None,
            };
            match refusal {
                Some(refusal) => Err(refusal),
                None => {
                    if let (Some(hash), Some(token)) = (request.token_hash, &token) {
                        let used = TokenEntry {
                            used_by: Some(request.device.to_string()),
                            ..token.clone()
                        };
                        tokens.insert(hash, serde_json::to_vec(&used)?.as_slice())?;
                    }
                    let entry = match known {
                        Some(known) => DeviceEntry {
                            certificates: known.certificates + 1,
                            certificate_not_after: Some(request.certificate_not_after),
                            ..known
                        },
                        None => DeviceEntry {
                            signing_key: request.signing_key.to_string(),
                            provisioned_at: request.now,
                            certificates: 1,
                            certificate_not_after: Some(request.certificate_not_after),
                            centre: token.and_then(|token| token.centre),
                            withdrawn: None,
                        },
                    };
                    devices.insert(request.device, serde_json::to_vec(&entry)?.as_slice())?;
                    Ok(entry)
                }
            }
        };
        if outcome.is_ok() {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(outcome)
    }

    fn certificate_renewed(&self, device: &str, not_after: i64) -> Result<()> {
        let txn = self.write()?;
        {
            let mut devices = txn.open_table(DEVICES)?;
            let known: Option<DeviceEntry> =
                devices.get(device)?.map(|v| json(v.value())).transpose()?;
            if let Some(mut entry) = known {
                entry.certificates += 1;
                entry.certificate_not_after = Some(not_after);
                devices.insert(device, serde_json::to_vec(&entry)?.as_slice())?;
            }
        }
        txn.commit()?;
        Ok(())
    }

    fn device(&self, device: &str) -> Result<Option<DeviceEntry>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DEVICES)?;
        let value = table.get(device)?;
        value.map(|v| json(v.value())).transpose()
    }

    fn seen(&self, device: &str, at: i64, waiting: Option<u64>) -> Result<()> {
        let txn = self.write()?;
        {
            let mut seen = txn.open_table(SEEN)?;
            let mut value = at.to_be_bytes().to_vec();
            value.extend_from_slice(&waiting.unwrap_or(u64::MAX).to_be_bytes());
            seen.insert(device, value.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn head(&self, device: &str) -> Result<Head> {
        let txn = self.db.begin_read()?;
        read_head(&txn.open_table(HEADS)?, device)
    }

    fn append(
        &self,
        device: &str,
        records: &[Checked<'_>],
        sign: Signer<'_>,
        received_at: i64,
    ) -> Result<Appended> {
        let txn = self.write()?;
        let mut appended = Appended::default();
        {
            let mut stored = txn.open_table(RECORDS)?;
            let mut more = txn.open_table(RECORD_PIECES)?;
            let mut receipts = txn.open_table(RECEIPTS)?;
            let mut arrivals = txn.open_table(ARRIVALS)?;
            let mut heads = txn.open_table(HEADS)?;
            let mut parts = txn.open_table(PARTS)?;
            let mut queue = txn.open_table(UNPROCESSED)?;
            let mut head = read_head(&heads, device)?;
            for record in records {
                let held = read_record(&stored, &more, device, record.seq)?
                    .map(|bytes| bytes == record.bytes);
                match held {
                    Some(true) => {
                        let receipt = receipts
                            .get((device, record.seq))?
                            .map(|v| v.value().to_vec())
                            .context("a held record has no receipt")?;
                        appended.receipts.push(receipt);
                        continue;
                    }
                    Some(false) => {
                        appended.refusal = Some((record.seq, ChainRefusal::OtherBytes));
                        break;
                    }
                    None => {}
                }
                if let Some(refusal) = chain_refusal(head, record) {
                    appended.refusal = Some((record.seq, refusal));
                    break;
                }
                let receipt = sign(record.seq, record.hash, received_at);
                put_record(&mut stored, &mut more, device, record.seq, record.bytes)?;
                receipts.insert((device, record.seq), receipt.as_slice())?;
                arrivals.insert((device, record.seq), received_at)?;
                queue.insert((device, record.seq), received_at)?;
                parts.remove((device, record.seq))?;
                head = Head {
                    seq: record.seq,
                    hash: record.hash,
                };
                appended.receipts.push(receipt);
                appended.new += 1;
                appended.new_bytes += record.bytes.len() as u64;
            }
            if appended.new > 0 {
                heads.insert(device, encode_head(head).as_slice())?;
                let mut days = txn.open_table(DAYS)?;
                let day = day_of(received_at);
                let count = days.get(day)?.map_or(0, |v| v.value());
                days.insert(day, count + appended.new as u64)?;
            }
        }
        txn.commit()?;
        Ok(appended)
    }

    fn receipt(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(RECEIPTS)?;
        let value = table.get((device, seq))?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn record(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        read_record(
            &txn.open_table(RECORDS)?,
            &txn.open_table(RECORD_PIECES)?,
            device,
            seq,
        )
    }

    fn part_len(&self, device: &str, seq: u64) -> Result<u64> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PARTS)?;
        let value = table.get((device, seq))?;
        Ok(value.map_or(0, |v| v.value().len() as u64))
    }

    fn put_part(
        &self,
        device: &str,
        seq: u64,
        offset: u64,
        bytes: &[u8],
        total: u64,
    ) -> Result<PartOutcome> {
        let txn = self.write()?;
        let outcome = {
            let mut parts = txn.open_table(PARTS)?;
            let mut held = parts
                .get((device, seq))?
                .map(|v| v.value().to_vec())
                .unwrap_or_default();
            if held.len() as u64 != offset {
                PartOutcome::Mismatch {
                    held: held.len() as u64,
                }
            } else {
                held.extend_from_slice(bytes);
                if held.len() as u64 > total {
                    parts.remove((device, seq))?;
                    PartOutcome::Overlong
                } else {
                    parts.insert((device, seq), held.as_slice())?;
                    if held.len() as u64 == total {
                        PartOutcome::Complete(held)
                    } else {
                        PartOutcome::Progress(held.len() as u64)
                    }
                }
            }
        };
        txn.commit()?;
        Ok(outcome)
    }

    fn incident(&self, incident: &Incident) -> Result<()> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(INCIDENTS)?;
            let next = next_key(&table)?;
            table.insert(next, serde_json::to_vec(incident)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn prune_incidents(&self, before: i64) -> Result<u64> {
        let txn = self.write()?;
        let pruned = {
            let mut table = txn.open_table(INCIDENTS)?;
            let mut old = Vec::new();
            // Numbered in order of arrival: the old ones come first.
            for entry in table.iter()? {
                let (key, value) = entry?;
                let incident: Incident = json(value.value())?;
                if incident.at >= before {
                    break;
                }
                old.push(key.value());
            }
            for key in &old {
                table.remove(key)?;
            }
            old.len() as u64
        };
        txn.commit()?;
        Ok(pruned)
    }

    fn unprocessed(&self, limit: usize) -> Result<Vec<Arrival>> {
        let txn = self.db.begin_read()?;
        let queue = txn.open_table(UNPROCESSED)?;
        let records = txn.open_table(RECORDS)?;
        let more = txn.open_table(RECORD_PIECES)?;
        let mut waiting = Vec::new();
        for entry in queue.iter()? {
            let (key, value) = entry?;
            let (device, seq) = key.value();
            waiting.push((value.value(), device.to_string(), seq));
        }
        waiting.sort();
        let mut arrivals = Vec::new();
        for (received_at, device, seq) in waiting.into_iter().take(limit) {
            let bytes = read_record(&records, &more, &device, seq)?
                .context("a queued record is not held")?;
            arrivals.push(Arrival {
                device,
                seq,
                bytes,
                received_at,
            });
        }
        Ok(arrivals)
    }

    fn processed(&self, outcome: &Processed<'_>) -> Result<Vec<Flag>> {
        let txn = self.write()?;
        let mut flags = outcome.flags.clone();
        {
            if let Some(key) = &outcome.document_key {
                let mut documents = txn.open_table(DOCUMENTS)?;
                let first: Option<(String, u64)> = documents
                    .get(key.as_str())?
                    .map(|v| json(v.value()))
                    .transpose()?;
                let amends_table = txn.open_table(AMENDS)?;
                // The document of the records an amendment corrects is its own, not a
                // duplicate.
                let corrects = |device: &str, seq: u64| -> Result<bool> {
                    match &outcome.amends {
                        None => Ok(false),
                        Some((from, from_seq)) => {
                            in_amendment_chain((from, *from_seq), (device, seq), |d, s| {
                                amends_table
                                    .get((d, s))?
                                    .map(|v| json(v.value()))
                                    .transpose()
                            })
                        }
                    }
                };
                match first {
                    Some((device, seq))
                        if (device.as_str(), seq) != (outcome.device, outcome.seq)
                            && !corrects(&device, seq)? =>
                    {
                        flags.push(duplicate_flag(outcome, &device, seq));
                    }
                    Some(_) => {}
                    None => {
                        let value = serde_json::to_vec(&(outcome.device, outcome.seq))?;
                        documents.insert(key.as_str(), value.as_slice())?;
                    }
                }
            }
            if let Some((device, seq)) = &outcome.amends {
                let link = serde_json::to_vec(&(device, seq))?;
                let newly = txn
                    .open_table(AMENDS)?
                    .insert((outcome.device, outcome.seq), link.as_slice())?
                    .is_none();
                // Processing a record again keeps one link.
                if newly {
                    let mut by = txn.open_table(AMENDED_BY)?;
                    let mut list: Vec<(String, u64)> = by
                        .get((device.as_str(), *seq))?
                        .map(|v| json(v.value()))
                        .transpose()?
                        .unwrap_or_default();
                    list.push((outcome.device.to_owned(), outcome.seq));
                    by.insert(
                        (device.as_str(), *seq),
                        serde_json::to_vec(&list)?.as_slice(),
                    )?;
                }
            }
            let mut table = txn.open_table(FLAGS)?;
            let first = next_key(&table)?;
            for (key, flag) in (first..).zip(&flags) {
                table.insert(key, serde_json::to_vec(flag)?.as_slice())?;
            }
            txn.open_table(UNPROCESSED)?
                .remove((outcome.device, outcome.seq))?;
        }
        txn.commit()?;
        Ok(flags)
    }

    fn amendments(&self, device: &str, seq: u64) -> Result<Amendments> {
        let txn = self.db.begin_read()?;
        let amends = txn
            .open_table(AMENDS)?
            .get((device, seq))?
            .map(|v| json(v.value()))
            .transpose()?;
        let amended_by = txn
            .open_table(AMENDED_BY)?
            .get((device, seq))?
            .map(|v| json(v.value()))
            .transpose()?
            .unwrap_or_default();
        Ok(Amendments { amends, amended_by })
    }

    fn flags(&self) -> Result<Vec<Flag>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(FLAGS)?;
        let mut flags = Vec::new();
        for entry in table.iter()? {
            flags.push(json(entry?.1.value())?);
        }
        Ok(flags)
    }

    fn stats(&self) -> Result<Stats> {
        let txn = self.db.begin_read()?;
        let tokens = txn.open_table(TOKENS)?;
        let (mut tokens_used, mut tokens_revoked) = (0, 0);
        for entry in tokens.iter()? {
            let token: TokenEntry = json(entry?.1.value())?;
            tokens_used += u64::from(token.used_by.is_some());
            tokens_revoked += u64::from(token.revoked);
        }
        let records = txn.open_table(RECORDS)?;
        let more = txn.open_table(RECORD_PIECES)?;
        let mut record_bytes = 0;
        for entry in records.iter()? {
            record_bytes += entry?.1.value().len() as u64;
        }
        for entry in more.iter()? {
            record_bytes += entry?.1.value().len() as u64;
        }
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
                match read_record(&records, &more, &device, seq)? {
                    Some(bytes) => {
                        held += 1;
                        let bytes = bytes.as_slice();
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
            recent.push(json(entry?.1.value())?);
        }
        recent.reverse();
        let total = records.len()?;
        Ok(Stats {
            devices: txn.open_table(DEVICES)?.len()?,
            tokens: tokens.len()?,
            tokens_used,
            tokens_revoked,
            records: total,
            record_bytes,
            records_processed: total.saturating_sub(txn.open_table(UNPROCESSED)?.len()?),
            uploads_in_progress: txn.open_table(PARTS)?.len()?,
            incidents: incidents.len()?,
            flags: txn.open_table(FLAGS)?.len()?,
            chains,
            recent_incidents: recent,
            withdrawn: read_withdrawn(&txn.open_table(WITHDRAWN)?)?,
        })
    }

    fn devices(&self) -> Result<Vec<DeviceOverview>> {
        let txn = self.db.begin_read()?;
        let devices = txn.open_table(DEVICES)?;
        let seen = txn.open_table(SEEN)?;
        let heads = txn.open_table(HEADS)?;
        let mut refusals = std::collections::HashMap::<String, u64>::new();
        for entry in txn.open_table(INCIDENTS)?.iter()? {
            let incident: Incident = json(entry?.1.value())?;
            *refusals.entry(incident.device).or_default() += 1;
        }
        let mut out = Vec::new();
        for entry in devices.iter()? {
            let (key, value) = entry?;
            let device = key.value().to_string();
            let entry: DeviceEntry = json(value.value())?;
            let (last_seen, waiting) = match seen.get(device.as_str())? {
                Some(v) if v.value().len() == 16 => {
                    let bytes = v.value();
                    let mut at = [0u8; 8];
                    let mut count = [0u8; 8];
                    at.copy_from_slice(&bytes[..8]);
                    count.copy_from_slice(&bytes[8..]);
                    let count = u64::from_be_bytes(count);
                    (
                        Some(i64::from_be_bytes(at)),
                        (count != u64::MAX).then_some(count),
                    )
                }
                _ => (None, None),
            };
            out.push(DeviceOverview {
                head: read_head(&heads, &device)?.seq,
                refusals: refusals.get(&device).copied().unwrap_or(0),
                device,
                provisioned_at: entry.provisioned_at,
                last_seen,
                waiting,
                certificate_not_after: entry.certificate_not_after,
            });
        }
        Ok(out)
    }

    fn per_day(&self, days: u32, now: i64) -> Result<PerDay> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(DAYS)?;
        let since = day_of(now) - i64::from(days) * 86_400;
        let mut counts = Vec::new();
        for entry in table.range(since..)? {
            let (day, count) = entry?;
            counts.push((day.value(), count.value()));
        }
        Ok(fill_days(&counts, days, now))
    }

    fn put_staff(&self, member: &StaffMember) -> Result<u64> {
        let txn = self.write()?;
        let version = {
            let version = raise_version(&txn)?;
            // Put again is how a number comes back: the entry is stored enabled.
            let member = StaffMember {
                disabled: false,
                ..member.clone()
            };
            txn.open_table(STAFF)?.insert(
                member.number.as_str(),
                serde_json::to_vec(&member)?.as_slice(),
            )?;
            version
        };
        txn.commit()?;
        Ok(version)
    }

    fn set_staff_disabled(&self, number: &str, disabled: bool, at: i64) -> Result<Option<u64>> {
        change_row(self.write()?, STAFF, number, |txn, member: StaffMember| {
            let member = StaffMember {
                disabled,
                changed_at: at,
                ..member
            };
            Ok((member, raise_version(txn)?))
        })
    }

    fn staff(&self) -> Result<Vec<StaffMember>> {
        read_rows(&self.db.begin_read()?, STAFF)
    }

    fn put_centre(&self, centre: &CentreEntry) -> Result<u64> {
        let txn = self.write()?;
        let version = {
            let version = raise_version(&txn)?;
            txn.open_table(CENTRES)?
                .insert(centre.id.as_str(), serde_json::to_vec(centre)?.as_slice())?;
            version
        };
        txn.commit()?;
        Ok(version)
    }

    fn centres(&self) -> Result<Vec<CentreEntry>> {
        read_rows(&self.db.begin_read()?, CENTRES)
    }

    fn assign_device(&self, device: &str, centre: &str) -> Result<Option<u64>> {
        change_row(self.write()?, DEVICES, device, |txn, entry: DeviceEntry| {
            let entry = DeviceEntry {
                centre: Some(centre.to_string()),
                ..entry
            };
            Ok((entry, raise_version(txn)?))
        })
    }

    /// One read transaction: the version, the centre and the staff agree with each other.
    fn fleet_snapshot(&self, centre: Option<&str>) -> Result<FleetSnapshot> {
        let txn = self.db.begin_read()?;
        let version = read_version(&txn.open_table(FLEET)?)?;
        let entry: Option<CentreEntry> = match centre {
            Some(id) => txn
                .open_table(CENTRES)?
                .get(id)?
                .map(|v| json(v.value()))
                .transpose()?,
            None => None,
        };
        let mut staff = Vec::new();
        // Keyed by number, so the roster comes out sorted.
        for row in txn.open_table(STAFF)?.iter()? {
            let member: StaffMember = json(row?.1.value())?;
            let here = match &member.centre {
                None => true,
                Some(of) => centre == Some(of.as_str()),
            };
            if here && !member.disabled {
                staff.push(member);
            }
        }
        Ok(FleetSnapshot {
            version,
            centre: entry,
            staff,
        })
    }

    fn put_policy(&self, centre: Option<&str>, version: u64, signed: &[u8]) -> Result<bool> {
        let txn = self.write()?;
        let stored = {
            let mut policies = txn.open_table(POLICIES)?;
            let held = policies.get(centre)?.map(|v| v.value().0);
            // An older snapshot signed late must not replace a newer policy.
            if held.is_some_and(|held| held >= version) {
                false
            } else {
                policies.insert(centre, (version, signed))?;
                true
            }
        };
        if stored {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(stored)
    }

    fn policy(&self, centre: Option<&str>) -> Result<Option<(u64, Vec<u8>)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(POLICIES)?;
        let value = table.get(centre)?;
        Ok(value.map(|v| {
            let (version, signed) = v.value();
            (version, signed.to_vec())
        }))
    }

    fn withdraw(&self, device: &str, withdrawal: &Withdrawal) -> Result<bool> {
        let found = change_row(self.write()?, DEVICES, device, |txn, entry: DeviceEntry| {
            // Also kept apart, so the nodes' frequent list reads only withdrawn devices, not
            // every entry.
            txn.open_table(WITHDRAWN)?
                .insert(device, serde_json::to_vec(withdrawal)?.as_slice())?;
            let entry = DeviceEntry {
                withdrawn: Some(withdrawal.clone()),
                ..entry
            };
            Ok((entry, ()))
        })?;
        Ok(found.is_some())
    }

    fn withdrawn(&self) -> Result<Vec<WithdrawnDevice>> {
        let txn = self.db.begin_read()?;
        read_withdrawn(&txn.open_table(WITHDRAWN)?)
    }

    fn add_audit(&self, device: &str, events: &[AuditEntry]) -> Result<u64> {
        let txn = self.write()?;
        let head = {
            let mut audit = txn.open_table(AUDIT)?;
            for event in events {
                // Sent again (its acknowledgement was lost): the first one stored stays.
                if audit.get((device, event.number))?.is_none() {
                    audit.insert(
                        (device, event.number),
                        serde_json::to_vec(event)?.as_slice(),
                    )?;
                }
            }
            read_audit_head(&audit, device)?
        };
        txn.commit()?;
        Ok(head)
    }

    fn audit_head(&self, device: &str) -> Result<u64> {
        let txn = self.db.begin_read()?;
        read_audit_head(&txn.open_table(AUDIT)?, device)
    }

    fn audit(&self, device: &str) -> Result<Vec<AuditEntry>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(AUDIT)?;
        let mut events = Vec::new();
        for entry in table.range((device, 0)..=(device, u64::MAX))? {
            events.push(json(entry?.1.value())?);
        }
        Ok(events)
    }

    /// Publications are few (a bundle to a handful of targets, withdrawn once superseded), so
    /// the one to replace is found by reading them all rather than through a second index.
    fn publish_update(&self, update: &PublishedUpdate) -> Result<()> {
        let txn = self.write()?;
        {
            let mut table = txn.open_table(UPDATES)?;
            let held = read_updates(&table)?
                .into_iter()
                .find(|(_, held)| held.sha256 == update.sha256 && held.target == update.target)
                .map(|(number, _)| number);
            // The same bundle to the same target again keeps its number (its place among
            // publications of the same second); anything else is a new publication.
            let number = match held {
                Some(number) => number,
                None => next_key(&table)?,
            };
            table.insert(number, serde_json::to_vec(update)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Oldest publication first; of the same second, in order of first publication (a stable
    /// sort of the table's number order).
    fn updates(&self) -> Result<Vec<PublishedUpdate>> {
        let txn = self.db.begin_read()?;
        let mut updates: Vec<PublishedUpdate> = read_updates(&txn.open_table(UPDATES)?)?
            .into_iter()
            .map(|(_, update)| update)
            .collect();
        updates.sort_by_key(|update| update.published_at);
        Ok(updates)
    }

    fn unpublish_update(&self, sha256: &str) -> Result<u64> {
        let txn = self.write()?;
        let removed = {
            let mut table = txn.open_table(UPDATES)?;
            let numbers: Vec<u64> = read_updates(&table)?
                .into_iter()
                .filter(|(_, update)| update.sha256 == sha256)
                .map(|(number, _)| number)
                .collect();
            for number in &numbers {
                table.remove(number)?;
            }
            numbers.len() as u64
        };
        if removed > 0 {
            txn.commit()?;
        } else {
            // Nothing was published: no durable commit for nothing.
            txn.abort()?;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_join_to_the_record_and_fill_their_pages() {
        for size in [
            0,
            1,
            3_840,
            3_841,
            4_096,
            65_536,
            130_816,
            175_800,
            1 << 20,
            9_000_001,
        ] {
            let bytes: Vec<u8> = (0..size).map(|n| (n % 251) as u8).collect();
            let pieces = pieces(&bytes);
            assert_eq!(pieces.concat(), bytes, "{size}");
            // Each piece with its leaf's room fills at least half its page (no 256 kB page
            // for 176 kB), and only the last may be small.
            for (index, piece) in pieces.iter().enumerate() {
                let needed = piece.len() + LEAF_ROOM;
                let page = needed.next_power_of_two().max(PAGE);
                assert!(
                    needed <= PAGE || piece.len() == page - LEAF_ROOM,
                    "{size}: piece {index} of {} bytes",
                    piece.len()
                );
            }
        }
        // 176 kB: 128, 32, 8 and 4 kB pages and a small rest.
        let record = vec![7u8; 175_800];
        let sizes: Vec<usize> = pieces(&record).iter().map(|p| p.len()).collect();
        assert_eq!(sizes, [130_816, 32_512, 7_936, 3_840, 696]);
    }
}
