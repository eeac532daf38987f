//! What the back office keeps about its fleet: the staff roster, the centres and which device
//! serves where, withdrawn devices, and the audit events devices send. Every change to the
//! roster or a centre (or a device's centre) raises the fleet version in the same
//! transaction, so a policy built from one snapshot names the version it was built at, and a
//! later change can never produce a lower one.

use serde::{Deserialize, Serialize};

pub use sajili_record::policy::{CentreKind, Role, Settings};

/// A member of staff on the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffMember {
    /// The staff number.
    pub number: String,
    /// What they may do.
    pub role: Role,
    /// The centre they work at; `None`: every centre (a roaming supervisor).
    pub centre: Option<String>,
    /// Their PIN's Argon2id PHC string.
    pub pin_hash: String,
    /// Disabled staff are left out of every policy.
    pub disabled: bool,
    /// When this entry last changed, Unix seconds.
    pub changed_at: i64,
}

/// A centre and how its kiosks run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CentreEntry {
    /// Its id (`NRB-KIBERA`).
    pub id: String,
    /// Its name.
    pub name: String,
    /// What kind of place it is.
    pub kind: CentreKind,
    /// Its kiosks' settings.
    pub settings: Settings,
}

/// Why and when a device was withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withdrawal {
    /// In the back office's words.
    pub reason: String,
    /// When, Unix seconds.
    pub at: i64,
    /// Records up to this seq are still taken (sealed before the withdrawal); `None`: none.
    pub accept_until: Option<u64>,
}

/// A withdrawn device, as `stats` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnDevice {
    /// The device.
    pub device: String,
    /// Why and when.
    pub withdrawal: Withdrawal,
}

/// What one policy is built from, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetSnapshot {
    /// The fleet version at that moment (0: nothing was ever set).
    pub version: u64,
    /// The centre asked for, if it exists.
    pub centre: Option<CentreEntry>,
    /// Enabled staff of that centre and staff of no centre, by number.
    pub staff: Vec<StaffMember>,
}

/// One audit event a device sent, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// The device's own event number (from 1, gapless per device).
    pub number: u64,
    /// When, by the device's clock, Unix seconds.
    pub at: i64,
    /// Who: a staff number, `self-service` or `system`.
    pub actor: String,
    /// What (`staff.sign_in`, `record.sealed`, …).
    pub action: String,
    /// About what; never personal data.
    pub subject: String,
    /// When the registry took it, Unix seconds.
    pub received_at: i64,
}

/// Who an update is published to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum UpdateTarget {
    /// Every device.
    All,
    /// The devices of one centre.
    Centre(String),
    /// One device.
    Device(String),
}

/// An update bundle published to devices. The bundle itself is a file in the nodes' update
/// directory, named by its SHA-256; the database holds what devices are offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedUpdate {
    /// The version its signed manifest names (`0.1.2`).
    pub version: String,
    /// SHA-256 of the whole bundle file, hex: its name in the update directory.
    pub sha256: String,
    /// Its size in bytes.
    pub size: u64,
    /// Who is offered it.
    pub target: UpdateTarget,
    /// When it was published, Unix seconds.
    pub published_at: i64,
}
