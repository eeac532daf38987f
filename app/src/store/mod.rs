//! The kiosk's redb store: the journal of enrolments in progress, the outbox of sealed records,
//! the chain index, receipts, the audit log and settings, in one file.
//!
//! Every write that a person would miss commits with `Durability::Immediate`: when a method
//! returns `Ok`, the change survives a power cut. Sealing is one transaction (record in,
//! journal entry out, chain head moved), so a crash leaves either the enrolment in progress
//! or the sealed record, never both and never neither.

mod error;
mod tables;
mod verify;

use std::path::{Path, PathBuf};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde::{Deserialize, Serialize};

use crate::record::{ChainHead, ChainSlot, Hash};
pub use error::StoreError;
use tables::*;
pub use verify::{VerifyFailure, VerifyReport};

/// One line of the audit log. Never holds biometrics, secrets or an applicant's details.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When, Unix seconds.
    pub at: i64,
    /// Who: a staff number, `self-service`, or `system`.
    pub actor: String,
    /// What, as a short dotted name (`device.initialised`, `record.sealed`).
    pub action: String,
    /// About what: a registration number, a seq; never personal data.
    pub subject: String,
}

/// What the builder of a sealed record is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealContext {
    /// Where the record goes in the chain.
    pub slot: ChainSlot,
    /// The clock floor: the record must not be dated earlier.
    pub clock_floor: i64,
}

/// A sealed record ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedBytes {
    /// The envelope bytes.
    pub bytes: Vec<u8>,
    /// Their SHA-256.
    pub hash: Hash,
    /// The envelope's `created_at`.
    pub created_at: i64,
}

/// Why sealing failed: the builder's error or the store's. Either way nothing was written.
#[derive(Debug)]
pub enum SealFailure<E> {
    /// The builder refused (bad input, encryption failure).
    Build(E),
    /// The store could not commit.
    Store(StoreError),
}

/// A receipt the caller has verified (signature, device, and hash against [`Store::chain_hash`]),
/// ready to file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The record's seq.
    pub seq: u64,
    /// The receipt's bytes, kept for good.
    pub receipt: Vec<u8>,
    /// The registry's signed time in it: raises the clock floor.
    pub registry_time: i64,
}

/// Counts for `sajili status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoreStatus {
    /// Records sealed on this device (the chain head's seq).
    pub records_sealed: u64,
    /// The chain head's hash, hex.
    pub chain_head: String,
    /// Sealed records not yet acknowledged by the registry.
    pub queue_depth: u64,
    /// Their total size in bytes.
    pub bytes_waiting: u64,
    /// Receipts held.
    pub receipts: u64,
    /// Records the registry holds but whose contents it refused (see docs/registry-protocol.md).
    pub records_refused: u64,
    /// Enrolments in progress.
    pub in_progress: u64,
    /// When the last record was sealed, Unix seconds.
    pub last_sealed_at: Option<i64>,
    /// The clock floor, Unix seconds.
    pub clock_floor: Option<i64>,
}

/// redb's page cache. Its default (1 GiB) is the whole memory of a small board; records are
/// written once and read rarely, so a small cache costs nothing.
const CACHE_BYTES: usize = 32 << 20;

/// An open store.
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Creates a new, empty store at `path`. Refuses if any file is already there.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if path.exists() {
            return Err(StoreError::AlreadyExists {
                path: path.to_path_buf(),
            });
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError::from_redb(path, e))?;
        let store = Self {
            db,
            path: path.to_path_buf(),
        };
        store.write(|txn| {
            // Make every table now, so readers never meet a missing one.
            txn.open_table(JOURNAL)?;
            txn.open_table(OUTBOX)?;
            txn.open_table(CHAIN)?;
            txn.open_table(RECEIPTS)?;
            txn.open_table(AUDIT)?;
            txn.open_table(SETTINGS)?;
            Ok(())
        })?;
        Ok(store)
    }

    /// Opens the store at `path`, checking every page's checksum first.
    ///
    /// A missing file is [`StoreError::NotInitialised`]; a damaged one [`StoreError::Corrupted`],
    /// and it is not modified. After a crash, redb rolls back to the last commit.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::NotInitialised {
                path: path.to_path_buf(),
            });
        }
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_check_integrity_on_open(true)
            .open(path)
            .map_err(|e| StoreError::from_redb(path, e))?;
        Ok(Self {
            db,
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, error: impl Into<redb::Error>) -> StoreError {
        StoreError::from_redb(&self.path, error)
    }

    /// Runs `work` in one write transaction committed with immediate durability.
    fn write<T>(
        &self,
        work: impl FnOnce(&redb::WriteTransaction) -> Result<T, redb::Error>,
    ) -> Result<T, StoreError> {
        let mut txn = self.db.begin_write().map_err(|e| self.error(e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let value = work(&txn).map_err(|e| self.error(e))?;
        txn.commit().map_err(|e| self.error(e))?;
        Ok(value)
    }

    fn read(&self) -> Result<redb::ReadTransaction, StoreError> {
        self.db.begin_read().map_err(|e| self.error(e))
    }

    /// Saves (or replaces) an enrolment in progress. Durable on return.
    pub fn journal_put(&self, session: u128, draft: &[u8]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(JOURNAL)?.insert(session, draft)?;
            Ok(())
        })
    }

    /// The saved draft of `session`, if any.
    pub fn journal_get(&self, session: u128) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.error(e))?;
        let value = table.get(session).map_err(|e| self.error(e))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    /// Sessions with a draft saved.
    pub fn journal_sessions(&self) -> Result<Vec<u128>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(JOURNAL).map_err(|e| self.error(e))?;
        let mut sessions = Vec::new();
        for entry in table.iter().map_err(|e| self.error(e))? {
            let (key, _) = entry.map_err(|e| self.error(e))?;
            sessions.push(key.value());
        }
        Ok(sessions)
    }

    /// Discards a draft (the session was abandoned or wiped). Durable on return.
    pub fn journal_discard(&self, session: u128, audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(JOURNAL)?.remove(session)?;
            append_audit(txn, audit)?;
            Ok(())
        })
    }

    /// Seals the next record in one transaction.
    ///
    /// `build` gets the chain slot and clock floor and returns the sealed bytes. Then, atomically:
    /// the envelope goes into the outbox, its hash into the chain index, the head and clock floor
    /// move, the journal entry `session` (if any) is removed and `audit` is appended. On any
    /// error nothing is written and the draft stays in the journal.
    pub fn seal<E>(
        &self,
        session: Option<u128>,
        audit: &AuditEvent,
        build: impl FnOnce(SealContext) -> Result<SealedBytes, E>,
    ) -> Result<(ChainSlot, SealedBytes), SealFailure<E>> {
        let mut txn = self
            .db
            .begin_write()
            .map_err(|e| SealFailure::Store(self.error(e)))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| SealFailure::Store(StoreError::Database(e.to_string())))?;
        let (head, floor) = {
            let settings = txn
                .open_table(SETTINGS)
                .map_err(|e| SealFailure::Store(self.error(e)))?;
            let head = read_head(&settings).map_err(SealFailure::Store)?;
            let floor = read_i64(&settings, SETTING_CLOCK_FLOOR).map_err(SealFailure::Store)?;
            (head, floor)
        };
        let slot = ChainSlot {
            seq: head.seq + 1,
            prev_hash: head.hash,
        };
        let context = SealContext {
            slot,
            clock_floor: floor.unwrap_or(i64::MIN),
        };
        // On a build error the transaction is dropped uncommitted: nothing is written.
        let sealed = build(context).map_err(SealFailure::Build)?;
        let new_floor = floor.map_or(sealed.created_at, |f| f.max(sealed.created_at));
        store_sealed(&txn, slot, &sealed, new_floor, session, audit)
            .map_err(|e| SealFailure::Store(self.error(e)))?;
        txn.commit()
            .map_err(|e| SealFailure::Store(self.error(e)))?;
        Ok((slot, sealed))
    }

    /// The chain head: the last sealed record.
    pub fn head(&self) -> Result<ChainHead, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        read_head(&settings)
    }

    /// The sealed envelope at `seq`, while it is still in the outbox.
    pub fn envelope(&self, seq: u64) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(OUTBOX).map_err(|e| self.error(e))?;
        let value = table.get(seq).map_err(|e| self.error(e))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    /// Whether the record `seq` was sealed here (in the outbox or acknowledged).
    pub fn has_record(&self, seq: u64) -> Result<bool, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(CHAIN).map_err(|e| self.error(e))?;
        Ok(table.get(seq).map_err(|e| self.error(e))?.is_some())
    }

    /// Appends one event to the audit log. Durable on return.
    pub fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        self.write(|txn| append_audit(txn, event))
    }

    /// The whole audit log, oldest first.
    pub fn audit_log(&self) -> Result<Vec<AuditEvent>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(AUDIT).map_err(|e| self.error(e))?;
        let mut events = Vec::new();
        for entry in table.iter().map_err(|e| self.error(e))? {
            let (_, value) = entry.map_err(|e| self.error(e))?;
            let event = ciborium::from_reader(value.value()).map_err(|_| StoreError::BadValue {
                what: "audit event",
            })?;
            events.push(event);
        }
        Ok(events)
    }

    /// Audit events after number `after`, with their numbers, oldest first, at most `limit`.
    pub fn audit_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AuditEvent)>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(AUDIT).map_err(|e| self.error(e))?;
        let mut events = Vec::new();
        for entry in table
            .range(after.saturating_add(1)..)
            .map_err(|e| self.error(e))?
            .take(limit)
        {
            let (key, value) = entry.map_err(|e| self.error(e))?;
            let event = ciborium::from_reader(value.value()).map_err(|_| StoreError::BadValue {
                what: "audit event",
            })?;
            events.push((key.value(), event));
        }
        Ok(events)
    }

    /// Every audit event up to this number has been handed to the uplink.
    pub fn audit_exported(&self) -> Result<u64, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        Ok(read_u64(&settings, SETTING_AUDIT_EXPORTED)?.unwrap_or(0))
    }

    /// Raises the mark of audit events handed to the uplink.
    pub fn set_audit_exported(&self, through: u64) -> Result<(), StoreError> {
        self.put_setting(SETTING_AUDIT_EXPORTED, &through.to_be_bytes())
    }

    /// A small value the hand-off keeps between runs (`marker/<name>` in the settings), with
    /// an audit event in the same transaction.
    pub fn set_marker(
        &self,
        name: &str,
        value: &[u8],
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SETTINGS)?
                .insert(format!("marker/{name}").as_str(), value)?;
            append_audit(txn, audit)
        })
    }

    /// A value kept with [`Store::set_marker`].
    pub fn marker(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_setting(&format!("marker/{name}"))
    }

    /// Records the device id (once, at `init`).
    pub fn set_device_id(&self, device_id: &str) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SETTINGS)?
                .insert(SETTING_DEVICE_ID, device_id.as_bytes())?;
            Ok(())
        })
    }

    /// The device id recorded at `init`.
    pub fn device_id(&self) -> Result<Option<String>, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        let value = settings.get(SETTING_DEVICE_ID).map_err(|e| self.error(e))?;
        value
            .map(|guard| {
                String::from_utf8(guard.value().to_vec())
                    .map_err(|_| StoreError::BadValue { what: "device id" })
            })
            .transpose()
    }

    /// Saves a staff member's credential (`staff/<number>` in the settings). Durable on return.
    pub fn staff_put(&self, number: &str, credential: &[u8]) -> Result<(), StoreError> {
        self.put_setting(&format!("staff/{number}"), credential)
    }

    /// A staff member's credential, if they are enrolled on this device.
    pub fn staff_get(&self, number: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_setting(&format!("staff/{number}"))
    }

    /// Saves a staff number's wrong-PIN count and lock (`staff-attempts/<number>`). Durable on
    /// return, so pulling the plug does not reset a lock.
    pub fn staff_attempts_put(&self, number: &str, attempts: &[u8]) -> Result<(), StoreError> {
        self.put_setting(&format!("staff-attempts/{number}"), attempts)
    }

    /// A staff number's wrong-PIN count and lock, if any were recorded.
    pub fn staff_attempts_get(&self, number: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_setting(&format!("staff-attempts/{number}"))
    }

    /// Takes a fleet policy in one transaction: the signed bytes kept as the one running, the
    /// staff credentials replaced by `staff` (number, credential; every other staff number
    /// removed, so the back office's roster is the whole roster), and `audit` logged.
    pub fn apply_policy(
        &self,
        signed: &[u8],
        staff: &[(String, Vec<u8>)],
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        self.write(|txn| {
            let mut settings = txn.open_table(SETTINGS)?;
            let stale: Vec<String> = settings
                .range("staff/".."staff0")?
                .map(|entry| entry.map(|(key, _)| key.value().to_string()))
                .collect::<Result<_, _>>()?;
            for key in stale {
                settings.remove(key.as_str())?;
            }
            for (number, credential) in staff {
                settings.insert(format!("staff/{number}").as_str(), credential.as_slice())?;
            }
            settings.insert(SETTING_POLICY, signed)?;
            drop(settings);
            append_audit(txn, audit)
        })
    }

    /// The fleet policy running here (signed bytes, checked when taken), if any.
    pub fn policy_bytes(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_setting(SETTING_POLICY)
    }

    /// Notes that the registry withdrew this device (`notice`: JSON), with an audit event.
    pub fn set_withdrawn(&self, notice: &[u8], audit: &AuditEvent) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SETTINGS)?
                .insert(SETTING_WITHDRAWN, notice)?;
            append_audit(txn, audit)
        })
    }

    /// The withdrawal notice, if the registry withdrew this device.
    pub fn withdrawn(&self) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_setting(SETTING_WITHDRAWN)
    }

    fn put_setting(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.write(|txn| {
            txn.open_table(SETTINGS)?.insert(key, value)?;
            Ok(())
        })
    }

    fn get_setting(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        let value = settings.get(key).map_err(|e| self.error(e))?;
        Ok(value.map(|guard| guard.value().to_vec()))
    }

    /// The clock floor, if a record has been sealed or the floor was raised.
    pub fn clock_floor(&self) -> Result<Option<i64>, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        read_i64(&settings, SETTING_CLOCK_FLOOR)
    }

    /// The chain index's hash for `seq`.
    pub fn chain_hash(&self, seq: u64) -> Result<Option<Hash>, StoreError> {
        let txn = self.read()?;
        let table = txn.open_table(CHAIN).map_err(|e| self.error(e))?;
        let value = table.get(seq).map_err(|e| self.error(e))?;
        value
            .map(|guard| {
                guard
                    .value()
                    .try_into()
                    .map_err(|_| StoreError::BadValue { what: "chain hash" })
            })
            .transpose()
    }

    /// The seqs sealed and not yet acknowledged, oldest first (cheap: two settings).
    pub fn unacknowledged(&self) -> Result<std::ops::RangeInclusive<u64>, StoreError> {
        let txn = self.read()?;
        let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
        let head = read_head(&settings)?;
        let through = read_u64(&settings, SETTING_ACKED_THROUGH)?.unwrap_or(0);
        Ok(through + 1..=head.seq)
    }

    /// Files verified receipts and drops their envelopes from the outbox, in one transaction;
    /// raises the clock floor to the registry's time. Returns how many envelopes were dropped.
    ///
    /// A receipt already filed is skipped, so absorbing twice is harmless.
    pub fn acknowledge(&self, acks: &[Acknowledgement], at: i64) -> Result<u64, StoreError> {
        if acks.is_empty() {
            return Ok(0);
        }
        self.write(|txn| {
            let mut receipts = txn.open_table(RECEIPTS)?;
            let mut outbox = txn.open_table(OUTBOX)?;
            let mut settings = txn.open_table(SETTINGS)?;
            let mut dropped = 0u64;
            let mut freed = 0i64;
            let mut latest = i64::MIN;
            let mut refused = 0i64;
            for ack in acks {
                if receipts.get(ack.seq)?.is_some() {
                    continue;
                }
                // Byte 4 of a receipt is its kind; 2 is "held, contents refused".
                refused += i64::from(ack.receipt.get(4) == Some(&2));
                receipts.insert(ack.seq, ack.receipt.as_slice())?;
                if let Some(old) = outbox.remove(ack.seq)? {
                    freed += old.value().len() as i64;
                    dropped += 1;
                }
                latest = latest.max(ack.registry_time);
            }
            let mut through = match settings.get(SETTING_ACKED_THROUGH)? {
                Some(value) => decode_i64(value.value()).unwrap_or(0).max(0) as u64,
                None => 0,
            };
            while receipts.get(through + 1)?.is_some() {
                through += 1;
            }
            settings.insert(SETTING_ACKED_THROUGH, encode_i64(through as i64).as_slice())?;
            let waiting = match settings.get(SETTING_OUTBOX_BYTES)? {
                Some(value) => decode_i64(value.value()).unwrap_or(0),
                None => 0,
            };
            settings.insert(
                SETTING_OUTBOX_BYTES,
                encode_i64((waiting - freed).max(0)).as_slice(),
            )?;
            if refused > 0 {
                let before = match settings.get(SETTING_REFUSED)? {
                    Some(value) => decode_i64(value.value()).unwrap_or(0),
                    None => 0,
                };
                settings.insert(SETTING_REFUSED, encode_i64(before + refused).as_slice())?;
            }
            let floor = match settings.get(SETTING_CLOCK_FLOOR)? {
                Some(value) => decode_i64(value.value()),
                None => None,
            };
            if latest > floor.unwrap_or(i64::MIN) {
                settings.insert(SETTING_CLOCK_FLOOR, encode_i64(latest).as_slice())?;
            }
            drop((receipts, outbox, settings));
            if dropped > 0 {
                let first = acks.first().map_or(0, |a| a.seq);
                let last = acks.last().map_or(0, |a| a.seq);
                append_audit(
                    txn,
                    &AuditEvent {
                        at,
                        actor: "uplink".into(),
                        action: "records.acknowledged".into(),
                        subject: format!("seq {first}..{last}"),
                    },
                )?;
            }
            Ok(dropped)
        })
    }

    /// Gives the space of dropped envelopes back to the file system. redb only reuses freed
    /// pages otherwise; after the registry has taken a day's records this shrinks the file.
    pub fn compact(&mut self) -> Result<bool, StoreError> {
        let path = self.path.clone();
        self.db
            .compact()
            .map_err(|e| StoreError::from_redb(&path, e))
    }

    /// Counts for `sajili status`.
    pub fn status(&self) -> Result<StoreStatus, StoreError> {
        let txn = self.read()?;
        let (head, last_sealed_at, clock_floor, bytes_waiting, records_refused) = {
            let settings = txn.open_table(SETTINGS).map_err(|e| self.error(e))?;
            (
                read_head(&settings)?,
                read_i64(&settings, SETTING_LAST_SEALED)?,
                read_i64(&settings, SETTING_CLOCK_FLOOR)?,
                read_i64(&settings, SETTING_OUTBOX_BYTES)?
                    .unwrap_or(0)
                    .max(0) as u64,
                read_u64(&settings, SETTING_REFUSED)?.unwrap_or(0),
            )
        };
        let counts = || -> Result<(u64, u64, u64), redb::Error> {
            Ok((
                txn.open_table(OUTBOX)?.len()?,
                txn.open_table(RECEIPTS)?.len()?,
                txn.open_table(JOURNAL)?.len()?,
            ))
        };
        let (queue_depth, receipts, in_progress) = counts().map_err(|e| self.error(e))?;
        Ok(StoreStatus {
            records_sealed: head.seq,
            chain_head: crate::record::hex(&head.hash),
            queue_depth,
            bytes_waiting,
            receipts,
            records_refused,
            in_progress,
            last_sealed_at,
            clock_floor,
        })
    }
}

fn store_sealed(
    txn: &redb::WriteTransaction,
    slot: ChainSlot,
    sealed: &SealedBytes,
    clock_floor: i64,
    session: Option<u128>,
    audit: &AuditEvent,
) -> Result<(), redb::Error> {
    let mut head = Vec::with_capacity(40);
    head.extend_from_slice(&slot.seq.to_be_bytes());
    head.extend_from_slice(&sealed.hash);
    let mut settings = txn.open_table(SETTINGS)?;
    settings.insert(SETTING_HEAD, head.as_slice())?;
    settings.insert(SETTING_CLOCK_FLOOR, encode_i64(clock_floor).as_slice())?;
    settings.insert(
        SETTING_LAST_SEALED,
        encode_i64(sealed.created_at).as_slice(),
    )?;
    let waiting = match settings.get(SETTING_OUTBOX_BYTES)? {
        Some(value) => decode_i64(value.value()).unwrap_or(0),
        None => 0,
    };
    let waiting = waiting + sealed.bytes.len() as i64;
    settings.insert(SETTING_OUTBOX_BYTES, encode_i64(waiting).as_slice())?;
    txn.open_table(OUTBOX)?
        .insert(slot.seq, sealed.bytes.as_slice())?;
    txn.open_table(CHAIN)?
        .insert(slot.seq, sealed.hash.as_slice())?;
    if let Some(session) = session {
        txn.open_table(JOURNAL)?.remove(session)?;
    }
    let mut audit = audit.clone();
    if audit.subject.is_empty() {
        audit.subject = format!("seq {}", slot.seq);
    }
    append_audit(txn, &audit)
}

fn append_audit(txn: &redb::WriteTransaction, event: &AuditEvent) -> Result<(), redb::Error> {
    let mut table = txn.open_table(AUDIT)?;
    let next = table.last()?.map_or(1, |(key, _)| key.value() + 1);
    let mut bytes = Vec::new();
    // Encoding a struct of strings and integers into a Vec cannot fail.
    if ciborium::into_writer(event, &mut bytes).is_ok() {
        table.insert(next, bytes.as_slice())?;
    }
    Ok(())
}

fn read_head(
    settings: &impl ReadableTable<&'static str, &'static [u8]>,
) -> Result<ChainHead, StoreError> {
    let value = settings
        .get(SETTING_HEAD)
        .map_err(|e| StoreError::Database(e.to_string()))?;
    let Some(guard) = value else {
        return Ok(ChainHead::EMPTY);
    };
    let bytes = guard.value();
    if bytes.len() != 40 {
        return Err(StoreError::BadValue { what: "chain head" });
    }
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&bytes[..8]);
    let mut hash = [0u8; 32];
    hash.copy_from_slice(&bytes[8..]);
    Ok(ChainHead {
        seq: u64::from_be_bytes(seq),
        hash,
    })
}

fn read_u64(
    settings: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &'static str,
) -> Result<Option<u64>, StoreError> {
    Ok(read_i64(settings, name)?.map(|value| value.max(0) as u64))
}

fn read_i64(
    settings: &impl ReadableTable<&'static str, &'static [u8]>,
    name: &'static str,
) -> Result<Option<i64>, StoreError> {
    let value = settings
        .get(name)
        .map_err(|e| StoreError::Database(e.to_string()))?;
    value
        .map(|guard| decode_i64(guard.value()).ok_or(StoreError::BadValue { what: "setting" }))
        .transpose()
}

#[cfg(test)]
mod tests;
