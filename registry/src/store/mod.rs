//! The registry's records behind one interface, on two engines: embedded redb for a
//! single-node pilot (`--db DIR`), PostgreSQL for production (`--db postgres://…`, several
//! stateless `serve` processes on one database).
//!
//! Every method is one transaction. Whatever must hold across nodes (a token used once, a
//! chain without gaps or forks, a record stored once) is decided inside the engine's
//! transaction, never by the caller reading first and writing after.

use anyhow::Result;
use serde::{Deserialize, Serialize};

pub use fleet::{
    AuditEntry, CentreEntry, FleetSnapshot, PublishedUpdate, StaffMember, UpdateTarget, Withdrawal,
    WithdrawnDevice,
};

#[cfg(feature = "test-hooks")]
pub mod contract;
pub mod fleet;
pub mod postgres;
pub mod redb;

/// A SHA-256.
pub type Hash = [u8; 32];

/// Opens the store `spec` names: a `postgres://` or `postgresql://` URL, or a directory for
/// the embedded engine (made if missing). Creates the schema on first use.
pub fn open(spec: &str) -> Result<Box<dyn Store>> {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        Ok(Box::new(postgres::PgStore::open(spec)?))
    } else {
        Ok(Box::new(redb::RedbStore::open(std::path::Path::new(spec))?))
    }
}

/// What is fixed when a registry is made: public keys anyone holding the database may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// The receipt-signing public key, hex (so `show` checks receipts without the keys).
    pub receipt_key: String,
    /// The age recipient records are encrypted to (`age1…`).
    pub age_recipient: String,
    /// When the registry was made, Unix seconds.
    pub created_at: i64,
}

/// A provisioned device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// Its record-signing key, hex.
    pub signing_key: String,
    /// When it was first provisioned.
    pub provisioned_at: i64,
    /// Certificates issued to it.
    pub certificates: u64,
    /// When its latest certificate expires, Unix seconds.
    #[serde(default)]
    pub certificate_not_after: Option<i64>,
    /// The centre it serves (from its token, or `device assign`).
    #[serde(default)]
    pub centre: Option<String>,
    /// Set once the back office withdraws it.
    #[serde(default)]
    pub withdrawn: Option<Withdrawal>,
}

/// An enrolment token (kept by the SHA-256 of its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenEntry {
    /// When it was made.
    pub created_at: i64,
    /// The device that used it.
    pub used_by: Option<String>,
    /// No device may use it from this time on (Unix seconds).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Withdrawn by an operator before use.
    #[serde(default)]
    pub revoked: bool,
    /// The centre a device provisioned with it serves.
    #[serde(default)]
    pub centre: Option<String>,
}

/// A refusal, recorded for operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    /// When.
    pub at: i64,
    /// The device the client certificate named.
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
    pub hash: Hash,
}

impl Head {
    /// A device that has sent nothing.
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: [0; 32],
    };
}

/// A provisioning to record: the device, and the token it came with (hashed).
#[derive(Debug, Clone)]
pub struct Provision<'a> {
    /// The device id (from its signing key).
    pub device: &'a str,
    /// Its record-signing key, hex.
    pub signing_key: &'a str,
    /// SHA-256 hex of the token presented, if any.
    pub token_hash: Option<&'a str>,
    /// Now, Unix seconds.
    pub now: i64,
    /// When the certificate about to be issued expires.
    pub certificate_not_after: i64,
}

/// Why a provisioning was refused. Nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionRefusal {
    /// Another signing key already holds this device id.
    KeyConflict,
    /// No such token.
    TokenUnknown,
    /// Used by another device.
    TokenUsed,
    /// Its time ran out before use.
    TokenExpired,
    /// Withdrawn by an operator.
    TokenRevoked,
    /// A new device came without a token.
    TokenRequired,
    /// The device was withdrawn: no certificate is issued to it again.
    Withdrawn,
}

/// A record whose envelope parsed, whose seq and device match the call and whose signature is
/// the device's; its place in the chain is for the store to check.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'a> {
    /// Its seq.
    pub seq: u64,
    /// The envelope's bytes.
    pub bytes: &'a [u8],
    /// SHA-256 of `bytes`.
    pub hash: Hash,
    /// The hash of the record before it, as the envelope says.
    pub prev_hash: Hash,
    /// When the device sealed it (its clock), Unix seconds.
    pub created_at: i64,
}

/// Why a checked record cannot join the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainRefusal {
    /// Other bytes are held for this seq.
    OtherBytes,
    /// Records before it are missing; the next one expected.
    Gap {
        /// The seq expected next.
        expected: u64,
    },
    /// Its `prev_hash` is not the held record before it.
    Fork {
        /// The head's seq.
        head: u64,
    },
}

/// Signs a receipt for (seq, envelope hash, receive time).
pub type Signer<'a> = &'a (dyn Fn(u64, Hash, i64) -> Vec<u8> + Sync);

/// What [`Store::append`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Appended {
    /// A receipt per record taken, in order (the stored one for a record already held).
    pub receipts: Vec<Vec<u8>>,
    /// Of those, how many were new.
    pub new: usize,
    /// The bytes of the new ones.
    pub new_bytes: u64,
    /// The first record not taken, and why (the records after it were not looked at).
    pub refusal: Option<(u64, ChainRefusal)>,
}

/// What a part of a record upload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartOutcome {
    /// Held so far.
    Progress(u64),
    /// The last part: the whole record (still held as parts until appended).
    Complete(Vec<u8>),
    /// The part does not start where the held bytes end.
    Mismatch {
        /// Bytes held.
        held: u64,
    },
    /// More bytes than the total; what was held is dropped.
    Overlong,
}

/// A record held, as the back office's `process` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// The device.
    pub device: String,
    /// Its seq.
    pub seq: u64,
    /// The envelope.
    pub bytes: Vec<u8>,
    /// When the registry took it, Unix seconds (its clock, not the device's).
    pub received_at: i64,
}

/// Something `process` found that a person must look at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    /// The record.
    pub device: String,
    /// Its seq.
    pub seq: u64,
    /// A stable code (`duplicate_document`, `form_rule`, `undecryptable`, …).
    pub code: String,
    /// In words, without personal data.
    pub detail: String,
    /// When it was raised, Unix seconds.
    pub at: i64,
}

/// The outcome of processing one record, to store at once.
#[derive(Debug, Clone)]
pub struct Processed<'a> {
    /// The record.
    pub device: &'a str,
    /// Its seq.
    pub seq: u64,
    /// What was found.
    pub flags: Vec<Flag>,
    /// A keyed hash of the identity document (type and number), to find it twice.
    pub document_key: Option<String>,
    /// The record this one amends, (device, seq), when it is an amendment: the link is stored,
    /// and the document it shares with the records it corrects is no duplicate.
    pub amends: Option<(String, u64)>,
    /// Now.
    pub at: i64,
}

/// A record's place among amendments: the record it amends and those that amend it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Amendments {
    /// The record it amends, (device, seq).
    pub amends: Option<(String, u64)>,
    /// The records that amend it, in the order they were processed.
    pub amended_by: Vec<(String, u64)>,
}

/// Most links [`in_amendment_chain`] follows: a chain longer than this is not believed.
pub const MAX_AMENDMENT_CHAIN: usize = 1_000;

/// Whether `wanted` is `start` or a record `start` amends, directly or through others;
/// `amends` reads one record's link.
pub fn in_amendment_chain(
    start: (&str, u64),
    wanted: (&str, u64),
    mut amends: impl FnMut(&str, u64) -> Result<Option<(String, u64)>>,
) -> Result<bool> {
    let mut at = (start.0.to_owned(), start.1);
    for _ in 0..MAX_AMENDMENT_CHAIN {
        if (at.0.as_str(), at.1) == wanted {
            return Ok(true);
        }
        match amends(&at.0, at.1)? {
            Some(next) => at = next,
            None => return Ok(false),
        }
    }
    Ok(false)
}

/// One device, for the operators' page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceOverview {
    /// The device id.
    pub device: String,
    /// First provisioned.
    pub provisioned_at: i64,
    /// Its last call that reached the store.
    pub last_seen: Option<i64>,
    /// Last seq held.
    pub head: u64,
    /// Records it said were waiting to be sent, at its last call.
    pub waiting: Option<u64>,
    /// Refusals recorded against it.
    pub refusals: u64,
    /// Its certificate's expiry.
    pub certificate_not_after: Option<i64>,
}

/// Records per day (UTC midnight, Unix seconds → count), oldest first.
pub type PerDay = Vec<(i64, u64)>;

/// Counts for `stats` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Devices provisioned.
    pub devices: u64,
    /// Tokens made.
    pub tokens: u64,
    /// Tokens used.
    pub tokens_used: u64,
    /// Tokens revoked.
    pub tokens_revoked: u64,
    /// Records held.
    pub records: u64,
    /// Their bytes.
    pub record_bytes: u64,
    /// Records the back office has processed.
    pub records_processed: u64,
    /// Part-uploads in progress.
    pub uploads_in_progress: u64,
    /// Refusals recorded.
    pub incidents: u64,
    /// Flags raised by `process`.
    pub flags: u64,
    /// Per device: last seq, and whether seqs 1..=last are all held and linked.
    pub chains: Vec<ChainStats>,
    /// The latest incidents (up to 20), newest last.
    pub recent_incidents: Vec<Incident>,
    /// Devices withdrawn, by device id.
    pub withdrawn: Vec<WithdrawnDevice>,
}

/// One device's chain at the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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

/// The registry's records. One transaction per call; safe to share between threads, and (for
/// PostgreSQL) between processes on the same database.
pub trait Store: Send + Sync {
    /// The engine's name, for logs and `/metrics`.
    fn engine(&self) -> &'static str;
    /// Whether the database answers (for `/healthz`).
    fn ping(&self) -> Result<()>;

    /// The registry's public facts, once `init` has stored them.
    fn meta(&self) -> Result<Option<Meta>>;
    /// Stores the public facts; refuses if some are already stored (one registry per database).
    fn init_meta(&self, meta: &Meta) -> Result<()>;

    /// Adds a token (by hash).
    fn add_token(&self, hash: &str, entry: &TokenEntry) -> Result<()>;
    /// Withdraws an unused token; whether there was one to withdraw.
    fn revoke_token(&self, hash: &str) -> Result<bool>;

    /// Records a provisioning in one transaction: the token's single use, the device's key
    /// (the same key again is a re-issue), and the certificate count and expiry.
    fn provision(&self, request: &Provision<'_>) -> Result<Result<DeviceEntry, ProvisionRefusal>>;
    /// Notes a renewed certificate's expiry.
    fn certificate_renewed(&self, device: &str, not_after: i64) -> Result<()>;
    /// A known device.
    fn device(&self, device: &str) -> Result<Option<DeviceEntry>>;
    /// Notes a device's call (last seen, and the records it says are waiting).
    fn seen(&self, device: &str, at: i64, waiting: Option<u64>) -> Result<()>;

    /// The head of `device` ([`Head::EMPTY`] when it has sent nothing).
    fn head(&self, device: &str) -> Result<Head>;
    /// Appends records in chain order in one transaction, serialised per device against every
    /// other node: each record already held with the same bytes gets its stored receipt; each
    /// new one that follows the head is stored with a receipt from `sign` (and its part-upload,
    /// if any, dropped); the first that does not stops the batch.
    fn append(
        &self,
        device: &str,
        records: &[Checked<'_>],
        sign: Signer<'_>,
        received_at: i64,
    ) -> Result<Appended>;
    /// The stored receipt of (device, seq).
    fn receipt(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>>;
    /// The stored envelope of (device, seq).
    fn record(&self, device: &str, seq: u64) -> Result<Option<Vec<u8>>>;

    /// Bytes held of a part-upload.
    fn part_len(&self, device: &str, seq: u64) -> Result<u64>;
    /// Adds a part at `offset` of a record of `total` bytes.
    fn put_part(
        &self,
        device: &str,
        seq: u64,
        offset: u64,
        bytes: &[u8],
        total: u64,
    ) -> Result<PartOutcome>;

    /// Records a refusal.
    fn incident(&self, incident: &Incident) -> Result<()>;
    /// Drops incidents older than `before`; how many.
    fn prune_incidents(&self, before: i64) -> Result<u64>;

    /// Up to `limit` records not yet processed, oldest arrival first.
    fn unprocessed(&self, limit: usize) -> Result<Vec<Arrival>>;
    /// Stores what processing one record found, in one transaction: its flags, the record
    /// marked processed, and its document key; the same document key already held by another
    /// record adds a `duplicate_document` flag naming it. Returns the flags stored.
    fn processed(&self, outcome: &Processed<'_>) -> Result<Vec<Flag>>;
    /// Every flag raised, oldest first.
    fn flags(&self) -> Result<Vec<Flag>>;
    /// What record `device`/`seq` amends and what amends it (as processed).
    fn amendments(&self, device: &str, seq: u64) -> Result<Amendments>;

    /// Counts.
    fn stats(&self) -> Result<Stats>;
    /// Devices for the operators' page.
    fn devices(&self) -> Result<Vec<DeviceOverview>>;
    /// Records received per UTC day over the last `days` days (days without any included as 0).
    fn per_day(&self, days: u32, now: i64) -> Result<PerDay>;

    // The fleet (see [`fleet`]). Each change below raises the fleet version by one in its own
    // transaction and returns the new version.

    /// Adds a staff member or replaces the one with that number (enabled again).
    fn put_staff(&self, member: &StaffMember) -> Result<u64>;
    /// Disables (or enables) a staff member; `None` if no such number.
    fn set_staff_disabled(&self, number: &str, disabled: bool, at: i64) -> Result<Option<u64>>;
    /// The whole roster, disabled staff included, by number.
    fn staff(&self) -> Result<Vec<StaffMember>>;
    /// Adds or replaces a centre.
    fn put_centre(&self, centre: &CentreEntry) -> Result<u64>;
    /// Every centre, by id.
    fn centres(&self) -> Result<Vec<CentreEntry>>;
    /// Moves a device to a centre; `None` if no such device.
    fn assign_device(&self, device: &str, centre: &str) -> Result<Option<u64>>;
    /// What a policy for a device of `centre` is built from, in one transaction.
    fn fleet_snapshot(&self, centre: Option<&str>) -> Result<FleetSnapshot>;
    /// Stores a signed policy for `centre` (`None`: devices of no centre) unless one of the
    /// same or a higher version is already stored (two back-office commands signing at once:
    /// the later snapshot wins); whether it was stored. Does not raise the fleet version.
    fn put_policy(&self, centre: Option<&str>, version: u64, signed: &[u8]) -> Result<bool>;
    /// The latest signed policy for `centre`: its version and bytes.
    fn policy(&self, centre: Option<&str>) -> Result<Option<(u64, Vec<u8>)>>;

    /// Withdraws a device (again: replaces the reason and `accept_until`); whether it exists.
    fn withdraw(&self, device: &str, withdrawal: &Withdrawal) -> Result<bool>;
    /// Every withdrawn device (for the nodes' handshake check, refreshed every few seconds).
    fn withdrawn(&self) -> Result<Vec<WithdrawnDevice>>;

    /// Stores a device's audit events, in its own numbering; one already held is skipped.
    /// Returns the highest number now held for the device.
    fn add_audit(&self, device: &str, events: &[AuditEntry]) -> Result<u64>;
    /// The highest audit event number held for a device (0: none).
    fn audit_head(&self, device: &str) -> Result<u64>;
    /// A device's audit events, oldest first.
    fn audit(&self, device: &str) -> Result<Vec<AuditEntry>>;

    /// Publishes an update (another publication of the same bundle to the same target
    /// replaces it). Does not raise the fleet version.
    fn publish_update(&self, update: &PublishedUpdate) -> Result<()>;
    /// Every publication, oldest first.
    fn updates(&self) -> Result<Vec<PublishedUpdate>>;
    /// Withdraws every publication of the bundle with this SHA-256; how many there were.
    fn unpublish_update(&self, sha256: &str) -> Result<u64>;
}

/// UTC midnight of `at`.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(86_400) * 86_400
}

/// Fills the days in `[now - days + 1, now]` that `counts` lacks with 0.
pub fn fill_days(counts: &[(i64, u64)], days: u32, now: i64) -> PerDay {
    let last = day_of(now);
    (0..i64::from(days))
        .rev()
        .map(|back| {
            let day = last - back * 86_400;
            let count = counts
                .iter()
                .filter(|(d, _)| *d == day)
                .map(|(_, n)| *n)
                .sum();
            (day, count)
        })
        .collect()
}

/// The flag a second record with a document already seen gets.
pub fn duplicate_flag(outcome: &Processed<'_>, device: &str, seq: u64) -> Flag {
    Flag {
        device: outcome.device.to_string(),
        seq: outcome.seq,
        code: "duplicate_document".into(),
        detail: format!("the same identity document as device {device} record {seq}"),
        at: outcome.at,
    }
}

/// Why a token cannot be used by this device now, if it cannot.
pub fn token_refusal(
    token: Option<&TokenEntry>,
    request: &Provision<'_>,
) -> Option<ProvisionRefusal> {
    let Some(token) = token else {
        return Some(ProvisionRefusal::TokenUnknown);
    };
    // (A withdrawn device is refused before its token is looked at: see the engines.)
    match &token.used_by {
        // The same device again (its first answer was lost): not a reuse.
        Some(used_by) if used_by == request.device => None,
        Some(_) => Some(ProvisionRefusal::TokenUsed),
        None if token.revoked => Some(ProvisionRefusal::TokenRevoked),
        None if token.expires_at.is_some_and(|at| at <= request.now) => {
            Some(ProvisionRefusal::TokenExpired)
        }
        None => None,
    }
}

/// Why a record not yet held cannot follow `head`, if it cannot: the chain rule both engines
/// apply inside their transaction.
pub fn chain_refusal(head: Head, record: &Checked<'_>) -> Option<ChainRefusal> {
    if record.seq <= head.seq {
        Some(ChainRefusal::OtherBytes)
    } else if record.seq > head.seq + 1 {
        Some(ChainRefusal::Gap {
            expected: head.seq + 1,
        })
    } else if record.prev_hash != head.hash {
        Some(ChainRefusal::Fork { head: head.seq })
    } else {
        None
    }
}
