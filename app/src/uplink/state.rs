//! The uplink's progress, kept in the spool for `sajili status` to read: when it last tried,
//! when it last succeeded, the last error in words, what the registry last said (signed), the
//! node that answered, and the records it has set aside.

use serde::{Deserialize, Serialize};

use crate::device::{read_untrusted, write_replaceable};
use crate::spool::{STATE_CAP, Spool};

/// A record the registry refused for good: not sent again until its bytes change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    /// The record.
    pub seq: u64,
    /// SHA-256 (hex) of the bytes refused. If the kiosk hands over other bytes for this seq
    /// (a damaged copy replaced), they are tried.
    pub sha256: String,
    /// The registry's code.
    pub code: String,
    /// Its words.
    pub message: String,
    /// When, Unix seconds (device clock estimate).
    pub at: i64,
}

/// The uplink's progress file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UplinkState {
    /// When the uplink last tried to reach the registry.
    pub last_attempt: Option<i64>,
    /// When it last finished with nothing left to send.
    pub last_success: Option<i64>,
    /// The last error, in words; cleared by a success.
    pub last_error: Option<String>,
    /// The registry's time in the last signed answer verified (a clock floor).
    pub registry_time: Option<i64>,
    /// The last seq the registry said it holds.
    pub registry_seq: Option<u64>,
    /// The registry node (its URL) that answered last: the next run starts with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Records sent and acknowledged by this uplink, all runs.
    pub records_sent: u64,
    /// Bytes of them.
    pub bytes_sent: u64,
    /// When the device certificate expires, Unix seconds.
    pub certificate_expires: Option<i64>,
    /// Records set aside.
    pub quarantined: Vec<Quarantined>,
    /// Every audit event up to this number is held by the registry (the kiosk removes their
    /// files).
    #[serde(default)]
    pub audit_through: u64,
    /// The version of the newest fleet policy fetched (handed over in `policy.json`).
    #[serde(default)]
    pub policy_version: u64,
    /// Set once the registry has said this device is withdrawn: when (device clock estimate)
    /// and its words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<WithdrawnNotice>,
    /// The part size the link's speed last called for, bytes: the next run starts with it
    /// rather than with a small first part, which sent the first record of every run alone,
    /// in three requests and commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub part_bytes: Option<u64>,
}

/// The registry refused this device as withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawnNotice {
    /// When the uplink learnt it, Unix seconds.
    pub at: i64,
    /// What the registry said.
    pub detail: String,
}

impl UplinkState {
    /// Reads the state from the spool; a missing file is a fresh state, and so is one that
    /// cannot be read (it is progress, not data: losing it loses nothing but the last error's
    /// words), with the reason logged. The file is read as [`read_untrusted`] reads: a link
    /// (to /dev/zero, say), a FIFO or a file over [`STATE_CAP`] is refused at once.
    pub fn load(spool: &Spool) -> Self {
        Self::read(spool).unwrap_or_else(|why| {
            log::warn!("the uplink's state is unknown: {why}");
            Self::default()
        })
    }

    /// Reads the state from the spool: a missing file is a fresh state; a file that cannot
    /// be read or parsed is an error saying why.
    pub fn read(spool: &Spool) -> Result<Self, String> {
        let path = spool.state_path();
        match read_untrusted(&path, STATE_CAP, "uplink-state.json") {
            Ok(None) => Ok(Self::default()),
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map_err(|error| format!("uplink-state.json does not parse: {error}")),
            // A refusal already names the file and says what is wrong with it.
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => Err(error.to_string()),
            Err(error) => Err(format!("{}: {error}", path.display())),
        }
    }

    /// Writes the state whole, without waiting for the disk: a pass saves it three times, and
    /// the two fsyncs of each were a fifth of a short pass. What a power cut can take with it
    /// is had again: a quarantined record is sent, refused and set aside once more, and the
    /// registry's time comes back with the next standing; records and receipts are never in
    /// it. A file left empty reads as an unknown state, with the reason logged.
    pub fn save(&self, spool: &Spool) -> std::io::Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_replaceable(&spool.state_path(), &json, 0o640)
    }

    /// The quarantine entry for `seq`, if any.
    pub fn quarantined(&self, seq: u64) -> Option<&Quarantined> {
        self.quarantined.iter().find(|q| q.seq == seq)
    }

    /// Raises the registry time seen.
    pub fn saw_registry_time(&mut self, at: i64) {
        self.registry_time = Some(self.registry_time.map_or(at, |t| t.max(at)));
    }
}
