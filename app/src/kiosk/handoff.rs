//! The kiosk's side of the hand-off to the uplink (see [`crate::spool`]): copy sealed
//! envelopes out, take verified receipts in.

use std::fmt;

use ed25519_dalek::VerifyingKey;

use crate::device::Device;
use crate::record::{DeviceId, RECEIPT_LEN, Receipt, ReceiptKind, RefusalReason, sha256};
use crate::spool::{ReceiptFile, Spool};
use crate::store::{Acknowledgement, StoreError};
use crate::uplink::state::UplinkState;

/// What one hand-off did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandoffReport {
    /// Envelopes copied into the outbox (new, or missing there).
    pub exported: u64,
    /// Envelopes dropped from the store because the registry holds them.
    pub acknowledged: u64,
    /// Records whose contents the registry refused (it keeps them; see the docs).
    pub refused: Vec<(u64, RefusalReason)>,
    /// Receipt files that did not verify, or were not receipts at all (a link, a FIFO, a
    /// file far too long), and were set aside, with why.
    pub rejected: Vec<(u64, String)>,
    /// What was wrong with the spool's directories and was put right, in words (logged too).
    pub repaired: Vec<String>,
    /// The fleet policy taken in this hand-off, its version.
    pub policy_taken: Option<u64>,
    /// A policy offered and refused, and why (the running one is kept).
    pub policy_refused: Option<String>,
    /// Audit events handed to the uplink.
    pub audit_exported: u64,
}

/// Why the hand-off could not run. Nothing stored was lost.
#[derive(Debug)]
pub enum HandoffError {
    /// The store failed.
    Store(StoreError),
    /// A spool file could not be read or written.
    Io(std::io::Error),
}

impl fmt::Display for HandoffError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Store(error) => error.fmt(f),
            Self::Io(error) => write!(f, "the uplink spool: {error}"),
        }
    }
}

impl std::error::Error for HandoffError {}

impl From<StoreError> for HandoffError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

impl From<std::io::Error> for HandoffError {
    fn from(error: std::io::Error) -> Self {
        Self::Io(error)
    }
}

/// Absorbs the receipts the uplink filed, then makes sure every record still waiting is in
/// the outbox. Safe to run at any time and any number of times; `at` dates the audit entry.
pub fn handoff(device: &mut Device, at: i64) -> Result<HandoffReport, HandoffError> {
    let spool = Spool::new(device.data.root());
    let mut report = HandoffReport {
        repaired: spool.ensure()?,
        ..HandoffReport::default()
    };
    for repair in &report.repaired {
        log::warn!("the uplink spool: {repair}");
    }
    absorb(device, &spool, at, &mut report)?;
    // Read once: what the uplink set aside (export), withdrew (the withdrawal) and sent.
    let uplink = UplinkState::load(&spool);
    export(device, &spool, &uplink, &mut report)?;
    take_policies(device, &spool, at, &mut report);
    if let Some(notice) = &uplink.withdrawn {
        crate::fleet::note_withdrawal(
            &device.store,
            &crate::fleet::Withdrawal {
                learnt_at: notice.at,
                detail: Some(notice.detail.clone()),
            },
        )?;
    }
    report_software(device, at)?;
    report.audit_exported = export_audit(device, &spool, uplink.audit_through)?;
    Ok(report)
}

/// Audits what the installer last did (once per result), and the version running when it
/// changes: with the audit events they reach the registry, which so learns whether an update
/// was installed, refused, kept (the new version runs) or rolled back (the old one still does).
fn report_software(device: &Device, at: i64) -> Result<(), HandoffError> {
    let running = env!("CARGO_PKG_VERSION");
    if device.store.marker("software.version")?.as_deref() != Some(running.as_bytes()) {
        device.store.set_marker(
            "software.version",
            running.as_bytes(),
            &crate::store::AuditEvent {
                at,
                actor: "system".into(),
                action: "software.running".into(),
                subject: format!("version {running}"),
            },
        )?;
    }
    let Some(outcome) = crate::update::last_outcome(&device.data.root().join("updates")) else {
        return Ok(());
    };
    let stamp = outcome.at.to_be_bytes();
    if device.store.marker("update.result")?.as_deref() == Some(&stamp[..]) {
        return Ok(());
    }
    let (action, subject) = match (&outcome.slot, &outcome.refused) {
        (Some(slot), _) => (
            "update.installed",
            format!(
                "version {} into slot {} in {:.0} s",
                outcome.version.as_deref().unwrap_or("?"),
                slot.letter().to_uppercase(),
                outcome.seconds
            ),
        ),
        (None, refused) => (
            "update.refused",
            refused
                .as_deref()
                .unwrap_or("refused")
                .chars()
                .take(200)
                .collect(),
        ),
    };
    device.store.set_marker(
        "update.result",
        &stamp,
        &crate::store::AuditEvent {
            at,
            actor: "system".into(),
            action: action.into(),
            subject,
        },
    )?;
    Ok(())
}

/// Takes a newer fleet policy from the provisioning bundle, then from the uplink. Each is
/// checked against the policy key the bundle pins; one refused is logged and the running
/// policy kept: a bad policy never stops the hand-off.
fn take_policies(device: &Device, spool: &Spool, at: i64, report: &mut HandoffReport) {
    let key = device.bundle.policy_key().ok();
    let running = crate::fleet::running_version(&device.store);
    let fetched = match spool.policy() {
        Ok(bytes) => bytes,
        Err(error) => {
            report.policy_refused = Some(format!("policy.json is not readable: {error}"));
            None
        }
    };
    for (from, signed) in [
        ("the provisioning bundle", device.bundle.policy_bytes()),
        ("the registry", fetched),
    ] {
        let Some(signed) = signed else { continue };
        // Seen before and not newer: nothing to do, and nothing to log again.
        if sajili_record::policy::claimed_version(&signed)
            .is_some_and(|version| version <= running.max(report.policy_taken.unwrap_or(0)))
        {
            continue;
        }
        match crate::fleet::take(&device.store, &signed, key.as_ref(), at) {
            Ok(policy) => {
                log::info!("took fleet policy version {} from {from}", policy.version);
                report.policy_taken = Some(policy.version);
            }
            Err(error) => {
                log::warn!("refused a fleet policy from {from}: {error}");
                report.policy_refused = Some(format!("from {from}: {error}"));
            }
        }
    }
}

/// `text` cut to at most `bytes` bytes, at a character boundary: the registry refuses longer
/// fields, and one long subject must not hold back every event after it.
fn clip(mut text: String, bytes: usize) -> String {
    if text.len() > bytes {
        let mut end = bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Most audit events in one spool file.
const AUDIT_PER_FILE: usize = 200;

/// Removes the audit files the registry holds, and signs the events not yet handed over into
/// new files. The store's mark of what was handed over is raised only once a file is written,
/// so a power cut between writes one file again (the registry keeps each event once).
fn export_audit(device: &Device, spool: &Spool, held_through: u64) -> Result<u64, HandoffError> {
    for last in spool.audit_files()? {
        if last <= held_through {
            spool.remove_audit(last)?;
        }
    }
    let mut exported = 0;
    loop {
        let after = device.store.audit_exported()?;
        let events = device.store.audit_after(after, AUDIT_PER_FILE)?;
        let Some((last, _)) = events.last() else {
            return Ok(exported);
        };
        let last = *last;
        let batch = crate::uplink::protocol::AuditBatch {
            device: device.sealer.device_id().to_string(),
            events: events
                .into_iter()
                .map(|(number, event)| crate::uplink::protocol::AuditLine {
                    number,
                    at: event.at,
                    actor: clip(event.actor, 64),
                    action: clip(event.action, 64),
                    subject: clip(event.subject, 256),
                })
                .collect(),
        };
        let count = batch.events.len() as u64;
        let signed = serde_json::to_vec(&device.sealer.sign_audit(&batch))
            .map_err(|e| HandoffError::Io(std::io::Error::other(e)))?;
        spool.put_audit(last, &signed)?;
        device.store.set_audit_exported(last)?;
        exported += count;
    }
}

fn absorb(
    device: &mut Device,
    spool: &Spool,
    at: i64,
    report: &mut HandoffReport,
) -> Result<(), HandoffError> {
    let receipt_key = device
        .bundle
        .receipt_key()
        .map_err(|e| HandoffError::Io(std::io::Error::other(e.to_string())))?;
    let device_id = device.sealer.device_id();
    let mut acks = Vec::new();
    let mut absorbed = Vec::new();
    for file in spool.receipt_files()? {
        // A file that is not a receipt at all (the uplink's side may be compromised) is set
        // aside like one that does not verify: one bad file never stops the others.
        let bytes = match spool.read_receipts(&file) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            // Whatever the reason a receipt cannot be read (planted as a socket, a mode the
            // kiosk may not read, a link), it is set aside and the others go on.
            Err(error) => {
                set_aside(
                    spool,
                    &file,
                    *file.seqs().start(),
                    error.to_string(),
                    report,
                );
                continue;
            }
        };
        // Cut short (left empty by a power cut) or padded: which bytes are whose is unknown.
        if bytes.len() as u64 != file.expected_len() {
            let why = format!(
                "it holds {} bytes, not the {} of {} receipt(s)",
                bytes.len(),
                file.expected_len(),
                file.count()
            );
            set_aside(spool, &file, *file.seqs().start(), why, report);
            continue;
        }
        let mut refused = None;
        for (seq, bytes) in file.seqs().zip(bytes.chunks(RECEIPT_LEN)) {
            match check(device, &receipt_key, device_id, seq, bytes) {
                Ok(receipt) => {
                    if let Some(reason) = receipt.reason {
                        report.refused.push((seq, reason));
                    }
                    acks.push(Acknowledgement {
                        seq,
                        receipt: bytes.to_vec(),
                        registry_time: receipt.at,
                    });
                }
                Err(why) => {
                    refused = Some((seq, why));
                    break;
                }
            }
        }
        match refused {
            // The receipts before it are sound and absorbed; the records from it on stay
            // queued, and the uplink fetches their receipts again.
            Some((seq, why)) => set_aside(spool, &file, seq, why, report),
            None => absorbed.push(file),
        }
    }
    report.acknowledged = device.store.acknowledge(&acks, at)?;
    for ack in &acks {
        spool.remove_envelope(ack.seq)?;
    }
    for file in &absorbed {
        spool.remove_receipts(file)?;
    }
    if report.acknowledged > 0 && device.store.unacknowledged()?.is_empty() {
        device.store.compact()?;
    }
    Ok(())
}

/// Checks one receipt against the registry's key and the kiosk's own chain index.
fn check(
    device: &Device,
    receipt_key: &VerifyingKey,
    device_id: DeviceId,
    seq: u64,
    bytes: &[u8],
) -> Result<Receipt, String> {
    let receipt = Receipt::verify(bytes, receipt_key).map_err(|e| e.to_string())?;
    let expected = device.store.chain_hash(seq).map_err(|e| e.to_string())?;
    if receipt.device_id != device_id || receipt.seq != seq || receipt.kind == ReceiptKind::Standing
    {
        return Err("the receipt is for another record".to_string());
    }
    if Some(receipt.hash) != expected {
        return Err("the receipt names other bytes than this device sealed".into());
    }
    Ok(receipt)
}

/// Keeps a receipt file aside for an engineer, never absorbed: the envelopes of its records
/// from `seq` on stay queued. A file that cannot even be renamed is reported as such, and the
/// hand-off goes on.
fn set_aside(spool: &Spool, file: &ReceiptFile, seq: u64, why: String, report: &mut HandoffReport) {
    let why = match spool.set_receipts_aside(file) {
        Ok(()) => why,
        Err(error) => format!("{why} (and it could not be set aside: {error})"),
    };
    log::warn!(seq; "receipt for record {seq} set aside ({file}): {why}");
    report.rejected.push((seq, why));
}

fn export(
    device: &Device,
    spool: &Spool,
    uplink: &UplinkState,
    report: &mut HandoffReport,
) -> Result<(), HandoffError> {
    // A record the registry refused as damaged is compared with the store's copy: if the
    // outbox copy differs from what was sealed, the sealed bytes replace it and the uplink
    // tries again.
    for quarantined in &uplink.quarantined {
        let seq = quarantined.seq;
        let Some(sealed) = device.store.envelope(seq)? else {
            continue;
        };
        // An outbox file that cannot be read as an envelope is as damaged as one with other
        // bytes: the sealed bytes replace it.
        let sent = match spool.envelope(seq) {
            Ok(Some(sent)) => Some(sent),
            Ok(None) => continue,
            Err(_) => None,
        };
        if sent.as_deref() != Some(&sealed[..])
            && Some(sha256(&sealed)) == device.store.chain_hash(seq)?
        {
            spool.put_envelope(seq, &sealed)?;
            report.exported += 1;
        }
    }
    let receipted = spool.receipted()?;
    for seq in device.store.unacknowledged()? {
        if spool.has_envelope(seq) || receipted.contains(seq) {
            continue;
        }
        if let Some(bytes) = device.store.envelope(seq)? {
            spool.put_envelope(seq, &bytes)?;
            report.exported += 1;
        }
    }
    Ok(())
}
