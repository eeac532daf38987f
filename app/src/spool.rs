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
//!   receipts/<first>-<last>.sjb  verified receipts of a batch, 0640 (uplink writes, kiosk
//!                             absorbs)
//!   receipts/<seq>.sjr        a verified receipt of one record, 0640 (likewise)
//!   audit/<last>.saj          signed audit events, 0640 (kiosk writes, uplink sends;
//!                             the kiosk removes those the uplink says are held)
//!   policy.json               the newest fleet policy fetched, 0640 (uplink writes, kiosk
//!                             verifies against the pinned policy key and takes it)
//!   uplink-state.json         the uplink's progress, 0640
//! ```
//!
//! A batch's receipts go in one file: a file made and renamed costs the uplink 0.25-0.45 ms of
//! kernel time, more than the network's share of a record. `<first>-<last>.sjb` holds the
//! receipts of records `first` to `last`, in order, each [`RECEIPT_LEN`] bytes, back to back
//! and nothing else. A receipt of one record alone is `<seq>.sjr`, as every uplink before batch
//! files wrote them; the kiosk reads both.
//!
//! Each side reads what the other wrote as it would read a stranger's file: a process that
//! can write in the spool can plant a FIFO, a symbolic link (to /dev/zero, to the keys) or a
//! file gigabytes long under a name the other expects. Reads ([`read_untrusted`]) follow no
//! link, take regular files only, never block, and stop at a cap per kind of file; the
//! directories are made and their modes set without following links, and a link or file
//! planted where one of them belongs is removed (see [`Spool::ensure`]).

use std::io;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use crate::device::{ensure_dir, read_untrusted, write_atomic, write_replaceable};
use crate::record::RECEIPT_LEN;

const ENVELOPE_EXTENSION: &str = "sje";
const RECEIPT_EXTENSION: &str = "sjr";
const BATCH_RECEIPTS_EXTENSION: &str = "sjb";
/// What a receipt set aside is renamed to.
const REJECTED_EXTENSION: &str = "rejected";
const AUDIT_EXTENSION: &str = "saj";

/// The longest audit file read: the protocol's own limit on an audit call.
pub const AUDIT_CAP: u64 = crate::uplink::protocol::MAX_AUDIT_BODY;

/// The longest policy file read: the policy format's own limit.
pub const POLICY_CAP: u64 = sajili_record::policy::MAX_POLICY as u64;

/// The longest envelope read from the outbox: the envelope format's own limit (its length
/// field allows [`crate::record::MAX_CIPHERTEXT`], 32 MiB, of ciphertext; header and signature
/// are 160 bytes, 4 KiB leaves room). A real record is far smaller (a photo and ten WSQ
/// prints seal to 150-200 KB: `sajili status` shows 0.4 MB for two test enrolments), so no
/// real envelope comes near it; it is there so that a planted file cannot make the uplink
/// read gigabytes.
pub const ENVELOPE_CAP: u64 = crate::record::MAX_CIPHERTEXT as u64 + 4096;

/// The longest receipt read: receipts are exactly [`crate::record::RECEIPT_LEN`] (127) bytes;
/// 4 KiB leaves room for a longer format without reading more than a page of a planted file.
pub const RECEIPT_CAP: u64 = 4096;

/// The longest batch of receipts read: the uplink sends at most
/// [`crate::uplink::protocol::MAX_BATCH`] (64) records in a batch, 8,128 bytes of receipts;
/// 64 KiB leaves room.
pub const BATCH_RECEIPTS_CAP: u64 = 64 << 10;

/// The longest uplink state read: a fresh state is about 400 bytes of JSON and each record
/// set aside adds about 250; 4 MiB holds some 16,000 of them, far more than a device ever
/// quarantines, and is still nothing to read.
pub const STATE_CAP: u64 = 4 << 20;

/// A file of receipts waiting in `receipts/`: one record's (`<seq>.sjr`) or a batch's
/// (`<first>-<last>.sjb`), as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReceiptFile {
    first: u64,
    last: u64,
    batch: bool,
}

impl ReceiptFile {
    /// The records whose receipts it holds, by its name.
    pub fn seqs(&self) -> RangeInclusive<u64> {
        self.first..=self.last
    }

    /// How many receipts it holds, by its name.
    pub fn count(&self) -> u64 {
        self.last - self.first + 1
    }

    /// The bytes it must hold: a receipt for each record it names.
    pub fn expected_len(&self) -> u64 {
        self.count().saturating_mul(RECEIPT_LEN as u64)
    }

    fn stem(&self) -> String {
        if self.batch {
            format!("{:020}-{:020}", self.first, self.last)
        } else {
            format!("{:020}", self.first)
        }
    }

    fn name(&self) -> String {
        let extension = if self.batch {
            BATCH_RECEIPTS_EXTENSION
        } else {
            RECEIPT_EXTENSION
        };
        format!("{}.{extension}", self.stem())
    }

    /// Reads a name of the receipts directory: `None` for anything else (temporary files,
    /// receipts set aside, a range backwards, a name spelt otherwise than the uplink writes
    /// it, which could not be opened by the name it is listed under).
    fn parse(name: &str) -> Option<Self> {
        Self::parse_any(name).filter(|file| file.name() == name)
    }

    fn parse_any(name: &str) -> Option<Self> {
        let (stem, extension) = name.split_once('.')?;
        let number = |text: &str| {
            (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .then(|| text.parse::<u64>().ok())
                .flatten()
        };
        match extension {
            RECEIPT_EXTENSION => {
                let seq = number(stem)?;
                Some(Self {
                    first: seq,
                    last: seq,
                    batch: false,
                })
            }
            BATCH_RECEIPTS_EXTENSION => {
                let (first, last) = stem.split_once('-')?;
                let (first, last) = (number(first)?, number(last)?);
                (first <= last).then_some(Self {
                    first,
                    last,
                    batch: true,
                })
            }
            _ => None,
        }
    }
}

impl std::fmt::Display for ReceiptFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.first == self.last {
            write!(f, "receipt file of record {}", self.first)
        } else {
            write!(f, "receipt file of records {} to {}", self.first, self.last)
        }
    }
}

/// The records that have a receipt waiting in the spool, from the names of the regular files
/// in `receipts/` (what they hold is the kiosk's to check).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipted {
    ranges: Vec<RangeInclusive<u64>>,
}

impl Receipted {
    /// Whether a receipt of `seq` is waiting.
    pub fn contains(&self, seq: u64) -> bool {
        self.ranges.iter().any(|range| range.contains(&seq))
    }
}

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

    /// Makes the directories if they are missing, and sets their modes. Returns what it had
    /// to repair, in words: the uplink can write in the spool's root, so `outbox` or
    /// `receipts` may have been replaced by a symbolic link (to the keys, whose mode would
    /// otherwise be opened up, or any other directory) or a file; that entry is removed (a
    /// link is removed, never its target) and a real directory made in its place. Nothing of
    /// the kiosk's is lost with it: what the outbox held is written again from the store, a
    /// receipt again by the uplink. The spool's root is in the kiosk's own directory, which
    /// the uplink cannot write: if it is not a directory, that is an error.
    pub fn ensure(&self) -> io::Result<Vec<String>> {
        // The uplink (its own user, in the kiosk's group on the appliance) writes its state in
        // the spool's root and receipts in receipts/; it only reads the outbox.
        ensure_dir(&self.root, 0o770)?;
        let mut repairs = Vec::new();
        for (dir, mode) in [
            (self.outbox_dir(), 0o750),
            (self.receipts_dir(), 0o770),
            (self.audit_dir(), 0o750),
        ] {
            match std::fs::symlink_metadata(&dir) {
                Ok(meta) if !meta.is_dir() => {
                    let kind = if meta.is_symlink() {
                        "a symbolic link"
                    } else {
                        "not a directory"
                    };
                    std::fs::remove_file(&dir)?;
                    repairs.push(format!(
                        "{} was {kind}; removed and made again as a directory",
                        dir.display()
                    ));
                }
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
            ensure_dir(&dir, mode)?;
        }
        Ok(repairs)
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

    /// Audit events waiting to be sent.
    pub fn audit_dir(&self) -> PathBuf {
        self.root.join("audit")
    }

    /// The newest fleet policy the uplink fetched.
    pub fn policy_path(&self) -> PathBuf {
        self.root.join("policy.json")
    }

    /// Hands the uplink the newest fleet policy fetched. Durable on return.
    pub fn put_policy(&self, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.policy_path(), bytes, 0o640)
    }

    /// The fleet policy waiting, if any (unverified: the kiosk checks its signature).
    pub fn policy(&self) -> io::Result<Option<Vec<u8>>> {
        read_untrusted(&self.policy_path(), POLICY_CAP, "policy.json")
    }

    fn audit_path(&self, last: u64) -> PathBuf {
        self.audit_dir()
            .join(format!("{last:020}.{AUDIT_EXTENSION}"))
    }

    /// Hands the uplink signed audit events whose last number is `last`. Durable on return.
    pub fn put_audit(&self, last: u64, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.audit_path(last), bytes, 0o640)
    }

    /// The audit file ending at `last`, if any.
    pub fn audit(&self, last: u64) -> io::Result<Option<Vec<u8>>> {
        read_untrusted(
            &self.audit_path(last),
            AUDIT_CAP,
            &format!("audit file {last}"),
        )
    }

    /// The last event numbers of the audit files waiting, in order.
    pub fn audit_files(&self) -> io::Result<Vec<u64>> {
        list_seqs(&self.audit_dir(), AUDIT_EXTENSION)
    }

    /// Removes the audit file ending at `last` (the registry holds its events).
    pub fn remove_audit(&self, last: u64) -> io::Result<()> {
        remove_optional(&self.audit_path(last))
    }

    fn envelope_path(&self, seq: u64) -> PathBuf {
        self.outbox_dir()
            .join(format!("{seq:020}.{ENVELOPE_EXTENSION}"))
    }

    /// Hands an envelope to the uplink. Durable on return.
    pub fn put_envelope(&self, seq: u64, bytes: &[u8]) -> io::Result<()> {
        write_atomic(&self.envelope_path(seq), bytes, 0o640)
    }

    /// The envelope `seq`, if it is in the outbox.
    /// A file there that is not a regular file, or is longer than [`ENVELOPE_CAP`], is an
    /// error of kind `InvalidData`.
    pub fn envelope(&self, seq: u64) -> io::Result<Option<Vec<u8>>> {
        read_untrusted(
            &self.envelope_path(seq),
            ENVELOPE_CAP,
            &format!("outbox file of record {seq}"),
        )
    }

    /// Whether the envelope `seq` is in the outbox, as a regular file (a link or anything
    /// else under its name does not count: the kiosk writes the envelope again over it).
    pub fn has_envelope(&self, seq: u64) -> bool {
        is_regular(&self.envelope_path(seq))
    }

    /// Removes the envelope `seq` (its receipt is in the kiosk's store).
    pub fn remove_envelope(&self, seq: u64) -> io::Result<()> {
        remove_optional(&self.envelope_path(seq))
    }

    /// Seqs of the envelopes in the outbox, in order.
    pub fn envelope_seqs(&self) -> io::Result<Vec<u64>> {
        list_seqs(&self.outbox_dir(), ENVELOPE_EXTENSION)
    }

    /// Files verified receipts for the kiosk: those of records `first` onwards, in order, in
    /// one file. Not forced to disk: receipts lost to a power cut (or left empty, which the
    /// kiosk sets aside) are fetched again from the registry, which holds the records; the
    /// kiosk drops nothing until a receipt verifies. Nothing is written for none.
    pub fn put_receipts(&self, first: u64, receipts: &[Vec<u8>]) -> io::Result<()> {
        let Some(count) = (receipts.len() as u64).checked_sub(1) else {
            return Ok(());
        };
        let file = ReceiptFile {
            first,
            last: first + count,
            batch: count > 0,
        };
        write_replaceable(
            &self.receipts_dir().join(file.name()),
            &receipts.concat(),
            0o640,
        )
    }

    /// The receipt files waiting, in order of their first record. Whatever is under a
    /// receipt's name is listed, a link or a directory too: reading it says what it is.
    pub fn receipt_files(&self) -> io::Result<Vec<ReceiptFile>> {
        let mut files = Vec::new();
        for_names(&self.receipts_dir(), |name, _| {
            if let Some(file) = ReceiptFile::parse(name) {
                files.push(file);
            }
        })?;
        files.sort_unstable();
        Ok(files)
    }

    /// The records with a receipt waiting: named by a regular file (a link or anything else
    /// under such a name does not count, as the kiosk sets it aside).
    pub fn receipted(&self) -> io::Result<Receipted> {
        let mut ranges = Vec::new();
        for_names(&self.receipts_dir(), |name, regular| {
            if let Some(file) = ReceiptFile::parse(name).filter(|_| regular) {
                ranges.push(file.seqs());
            }
        })?;
        Ok(Receipted { ranges })
    }

    /// What `file` holds, if it is still there. One that is not a regular file, or is longer
    /// than its kind may be ([`RECEIPT_CAP`], [`BATCH_RECEIPTS_CAP`]), is an error of kind
    /// `InvalidData`.
    pub fn read_receipts(&self, file: &ReceiptFile) -> io::Result<Option<Vec<u8>>> {
        let cap = if file.batch {
            BATCH_RECEIPTS_CAP
        } else {
            RECEIPT_CAP
        };
        read_untrusted(
            &self.receipts_dir().join(file.name()),
            cap,
            &file.to_string(),
        )
    }

    /// Sets `file` aside for an engineer (`<name>.rejected`, replacing an older one): it is
    /// never absorbed, and the records it names without a receipt in the store stay queued.
    /// Whatever the entry is (a file, a link, a FIFO, a directory) it is renamed, not opened.
    pub fn set_receipts_aside(&self, file: &ReceiptFile) -> io::Result<()> {
        let aside = self
            .receipts_dir()
            .join(format!("{}.{REJECTED_EXTENSION}", file.stem()));
        // A directory left there by an earlier set-aside cannot be renamed over: clear it.
        if std::fs::symlink_metadata(&aside).is_ok_and(|meta| meta.is_dir()) {
            std::fs::remove_dir_all(&aside)?;
        }
        std::fs::rename(self.receipts_dir().join(file.name()), aside)
    }

    /// Removes `file` (absorbed).
    pub fn remove_receipts(&self, file: &ReceiptFile) -> io::Result<()> {
        remove_optional(&self.receipts_dir().join(file.name()))
    }
}

/// Whether `path` is a regular file, without following a link.
fn is_regular(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.is_file())
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
    let mut seqs = Vec::new();
    for_names(dir, |name, _| {
        let Some((stem, ext)) = name.split_once('.') else {
            return;
        };
        if ext != extension || stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
            return;
        }
        if let Ok(seq) = stem.parse() {
            seqs.push(seq);
        }
    })?;
    seqs.sort_unstable();
    Ok(seqs)
}

/// Calls `each` with the name of every entry of `dir` that is UTF-8, and whether it is a
/// regular file (not following a link). A missing directory has none.
fn for_names(dir: &Path, mut each: impl FnMut(&str, bool)) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let regular = entry.file_type().is_ok_and(|kind| kind.is_file());
        each(name, regular);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn files_are_listed_in_seq_order_and_strays_are_ignored() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::new(dir.path());
        assert!(spool.ensure()?.is_empty());
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
        spool.put_receipts(2, &[b"r".to_vec()])?;
        std::fs::write(spool.receipts_dir().join(".tmp.sjr.tmp"), b"x")?;
        for stray in [
            "00000000000000000009-00000000000000000003.sjb",
            "00000000000000000001-x.sjb",
            "1-3.sjb",
            "5.sjr",
        ] {
            std::fs::write(spool.receipts_dir().join(stray), b"x")?;
        }
        let files = spool.receipt_files()?;
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].seqs(), 2..=2);
        assert!(spool.receipted()?.contains(2));
        Ok(())
    }

    #[test]
    fn a_batch_of_receipts_is_one_file_naming_its_records() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::new(dir.path());
        spool.ensure()?;
        let receipts: Vec<Vec<u8>> = (0..3u8).map(|n| vec![n; RECEIPT_LEN]).collect();
        spool.put_receipts(7, &receipts)?;
        spool.put_receipts(20, &receipts[..1])?;
        spool.put_receipts(30, &[])?;
        // Written by an uplink from before batch files: read alike.
        std::fs::write(spool.receipts_dir().join("00000000000000000004.sjr"), b"r")?;
        let files = spool.receipt_files()?;
        let named: Vec<_> = files.iter().map(ReceiptFile::seqs).collect();
        assert_eq!(named, vec![4..=4, 7..=9, 20..=20]);
        assert_eq!(files[1].expected_len(), 3 * RECEIPT_LEN as u64);
        assert_eq!(spool.read_receipts(&files[1])?, Some(receipts.concat()));
        assert_eq!(spool.read_receipts(&files[2])?, Some(receipts[0].clone()));
        assert!(
            std::fs::symlink_metadata(spool.receipts_dir().join("00000000000000000020.sjr"))
                .is_ok_and(|meta| meta.is_file()),
            "a receipt of one record alone keeps the old name"
        );
        let receipted = spool.receipted()?;
        for seq in [4, 7, 8, 9, 20] {
            assert!(receipted.contains(seq), "record {seq}");
        }
        for seq in [5, 6, 10, 19, 21, 30] {
            assert!(!receipted.contains(seq), "record {seq}");
        }
        spool.remove_receipts(&files[1])?;
        spool.set_receipts_aside(&files[0])?;
        assert_eq!(spool.receipt_files()?, vec![files[2]]);
        assert!(
            spool
                .receipts_dir()
                .join("00000000000000000004.rejected")
                .exists()
        );
        Ok(())
    }

    #[test]
    fn a_link_or_file_in_place_of_a_spool_directory_is_replaced_and_its_target_untouched()
    -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::new(dir.path());
        spool.ensure()?;
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys)?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o700))?;
        std::fs::write(keys.join("00000000000000000001.sjr"), b"secret")?;
        std::fs::remove_dir(spool.receipts_dir())?;
        std::os::unix::fs::symlink(&keys, spool.receipts_dir())?;
        std::fs::remove_dir(spool.outbox_dir())?;
        std::fs::write(spool.outbox_dir(), b"x")?;

        let repairs = spool.ensure()?;
        assert_eq!(repairs.len(), 2, "{repairs:?}");
        assert!(repairs[0].contains("not a directory"), "{repairs:?}");
        assert!(repairs[1].contains("symbolic link"), "{repairs:?}");
        assert!(spool.receipts_dir().symlink_metadata()?.is_dir());
        assert!(spool.outbox_dir().symlink_metadata()?.is_dir());
        assert_eq!(keys.metadata()?.permissions().mode() & 0o777, 0o700);
        assert_eq!(spool.receipt_files()?, Vec::new());
        assert!(keys.join("00000000000000000001.sjr").exists());
        Ok(())
    }

    #[test]
    fn planted_receipts_are_refused_and_can_be_set_aside() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::new(dir.path());
        spool.ensure()?;
        let receipts = spool.receipts_dir();
        std::fs::create_dir(receipts.join("00000000000000000001.sjr"))?;
        std::os::unix::fs::symlink("/dev/zero", receipts.join("00000000000000000002.sjr"))?;
        std::fs::File::create(receipts.join("00000000000000000003.sjr"))?.set_len(2 << 30)?;
        std::fs::File::create(receipts.join("00000000000000000004-00000000000000000009.sjb"))?
            .set_len(BATCH_RECEIPTS_CAP + 1)?;
        assert!(!spool.receipted()?.contains(1), "a directory is no receipt");
        assert!(!spool.receipted()?.contains(2), "nor is a link");
        let files = spool.receipt_files()?;
        assert_eq!(files.len(), 4);
        for file in &files {
            let refused = spool.read_receipts(file).map(|_| ());
            assert!(
                refused.is_err_and(|e| e.kind() == io::ErrorKind::InvalidData),
                "{file}"
            );
            spool.set_receipts_aside(file)?;
        }
        assert_eq!(spool.receipt_files()?, Vec::new());
        // A second set-aside for the same record replaces the first, whatever it was.
        std::fs::create_dir(receipts.join("00000000000000000001.sjr"))?;
        spool.set_receipts_aside(&files[0])?;
        Ok(())
    }
}
