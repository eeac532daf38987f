//! The hand-off between the kiosk and the uplink: two directories of files.
//!
//! redb lets one process hold a database file, and the uplink must never open the kiosk's
//! store (it holds encrypted drafts and the kiosk's state) nor read the signing key. So the
//! kiosk copies each sealed envelope (ciphertext and signature, nothing else) into
//! `spool/outbox/`, the uplink writes each receipt it has verified into `spool/receipts/`, and
//! the kiosk absorbs receipts into its store and removes both files. Either process may be
//! down or restarted at any moment:
//!
//! - every file is written whole (temporary file, fsync, rename, fsync of the directory);
//! - the kiosk's store stays the truth: an envelope is dropped from it only once a receipt
//!   verified against its chain index is filed there, and a missing outbox file is written
//!   again from the store;
//! - the uplink's progress (last attempt, errors, quarantined records) is `uplink-state.json`,
//!   which `sajili status` reads.
//!
//! ```text
//! DATA/spool/                 0750
//!   outbox/<seq>.sje          envelopes waiting, 0640 (kiosk writes, uplink reads)
//!   receipts/<seq>.sjr        verified receipts, 0640 (uplink writes, kiosk absorbs)
//!   uplink-state.json         the uplink's progress, 0640
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::device::{ensure_dir, write_atomic, write_replaceable};

const ENVELOPE_EXTENSION: &str = "sje";
const RECEIPT_EXTENSION: &str = "sjr";

/// The spool directory of a data dir.
#[derive(Debug, Clone)]
pub struct Spool {
    root: PathBuf,
}

impl Spool {
    /// The spool inside the data dir `data_root`.
    pub fn new(data_root: &Path) -> Self {
        Self {
            root: data_root.join("spool"),
        }
    }

    /// Makes the directories if they are missing.
    pub fn ensure(&self) -> io::Result<()> {
        // The uplink (its own user, in the kiosk's group on the appliance) writes its state in
        // the spool's root and receipts in receipts/; it only reads the outbox.
        ensure_dir(&self.root, 0o770)?;
        ensure_dir(&self.outbox_dir(), 0o750)?;
        ensure_dir(&self.receipts_dir(), 0o770)
    }

    /// Envelopes waiting to be sent.
    pub fn outbox_dir(&self) -> PathBuf {
        self.root.join("outbox")
    }

    /// Receipts waiting to be absorbed.
    pub fn receipts_dir(&self) -> PathBuf {
        self.root.join("receipts")
    }

    /// The uplink's progress file.
    pub fn state_path(&self) -> PathBuf {
        self.root.join("uplink-state.json")
    }

    fn envelope_path(&self, seq: u64) -> PathBuf {
        self.outbox_dir()
            .join(format!("{seq:020}.{ENVELOPE_EXTENSION}"))
    }

    fn receipt_path(&self, seq: u64) -> PathBuf {
        self.receipts_dir()
            .join(format!("{seq:020}.{RECEIPT_EXTENSION}"))
    }

    /// Hands an envelope to the uplink. Durable on return.
    pub fn put_envelope(&self, seq: u64, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.envelope_path(seq), bytes, 0o640)
    }

    /// The envelope `seq`, if it is in the outbox.
    pub fn envelope(&self, seq: u64) -> io::Result<Option<Vec<u8>>> {
        read_optional(&self.envelope_path(seq))
    }

    /// Whether the envelope `seq` is in the outbox.
    pub fn has_envelope(&self, seq: u64) -> bool {
        self.envelope_path(seq).is_file()
    }

    /// Removes the envelope `seq` (its receipt is in the kiosk's store).
    pub fn remove_envelope(&self, seq: u64) -> io::Result<()> {
        remove_optional(&self.envelope_path(seq))
    }

    /// Seqs of the envelopes in the outbox, in order.
    pub fn envelope_seqs(&self) -> io::Result<Vec<u64>> {
        list_seqs(&self.outbox_dir(), ENVELOPE_EXTENSION)
    }

    /// Files a verified receipt for the kiosk. Not forced to disk: a receipt lost to a power
    /// cut (or left empty, which the kiosk sets aside) is fetched again from the registry,
    /// which holds the record; the kiosk drops nothing until a receipt verifies.
    pub fn put_receipt(&self, seq: u64, bytes: &[u8]) -> io::Result<()> {
        write_replaceable(&self.receipt_path(seq), bytes, 0o640)
    }

    /// The receipt for `seq`, if one is waiting.
    pub fn receipt(&self, seq: u64) -> io::Result<Option<Vec<u8>>> {
        read_optional(&self.receipt_path(seq))
    }

    /// Whether a receipt for `seq` is waiting.
    pub fn has_receipt(&self, seq: u64) -> bool {
        self.receipt_path(seq).is_file()
    }

    /// Removes the receipt for `seq` (absorbed).
    pub fn remove_receipt(&self, seq: u64) -> io::Result<()> {
        remove_optional(&self.receipt_path(seq))
    }

    /// Seqs of the receipts waiting, in order.
    pub fn receipt_seqs(&self) -> io::Result<Vec<u64>> {
        list_seqs(&self.receipts_dir(), RECEIPT_EXTENSION)
    }
}

fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn remove_optional(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Seqs named by `<digits>.<extension>` files in `dir`; anything else (temporary files) is
/// ignored. A missing directory is empty.
fn list_seqs(dir: &Path, extension: &str) -> io::Result<Vec<u64>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut seqs = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.split_once('.') else {
            continue;
        };
        if ext != extension || stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(seq) = stem.parse() {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_in_seq_order_and_strays_are_ignored() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::new(dir.path());
        spool.ensure()?;
        for seq in [10, 2, 33] {
            spool.put_envelope(seq, &[seq as u8])?;
        }
        std::fs::write(spool.outbox_dir().join(".tmp.sje.tmp"), b"x")?;
        std::fs::write(spool.outbox_dir().join("notes.txt"), b"x")?;
        assert_eq!(spool.envelope_seqs()?, vec![2, 10, 33]);
        assert_eq!(spool.envelope(10)?, Some(vec![10]));
        spool.remove_envelope(10)?;
        spool.remove_envelope(10)?;
        assert_eq!(spool.envelope(10)?, None);
        spool.put_receipt(2, b"r")?;
        assert!(spool.has_receipt(2));
        assert_eq!(spool.receipt_seqs()?, vec![2]);
        Ok(())
    }
}
