//! Sending: ask the registry where the device stands, send what it lacks (in parts that resume
//! after a cut), verify each receipt with the pinned key, and file it for the kiosk.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;

use super::client::{CallError, PartOutcome, Registry};
use super::identity::{IdentityError, UplinkDir, reissue};
use super::protocol::{ApiError, MAX_BATCH, codes};
use super::state::{Quarantined, UplinkState};
use super::tls::{TrustedTime, estimate_now};
use crate::clock::BUILD_TIME;
use crate::record::{DeviceId, Receipt, ReceiptKind, hex, parse_hex, sha256};
use crate::spool::Spool;

/// Smallest and largest part sent in one request. Parts are sized to take about
/// [`PART_SECONDS`] on the link as measured, so a cut loses little and a fast link sends each
/// record in one request.
const MIN_PART: usize = 16 << 10;
const MAX_PART: usize = 8 << 20;
const FIRST_PART: usize = 64 << 10;
const PART_SECONDS: f64 = 4.0;

/// Why a pass stopped early.
#[derive(Debug)]
pub enum SyncError {
    /// The device's uplink files are missing or damaged, or provisioning is needed.
    Identity(IdentityError),
    /// A call failed; [`CallError::is_transient`] says whether waiting helps.
    Call(CallError),
    /// The registry's signed answer did not verify: not the pinned registry, or damaged.
    Untrusted(String),
    /// The spool could not be read or written.
    Spool(std::io::Error),
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Identity(error) => error.fmt(f),
            Self::Call(error) => error.fmt(f),
            Self::Untrusted(detail) => write!(f, "the registry's answer is not trusted: {detail}"),
            Self::Spool(error) => write!(f, "the uplink spool: {error}"),
        }
    }
}

impl std::error::Error for SyncError {}

impl From<CallError> for SyncError {
    fn from(error: CallError) -> Self {
        Self::Call(error)
    }
}

impl From<IdentityError> for SyncError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Call(call) => Self::Call(call),
            other => Self::Identity(other),
        }
    }
}

impl From<std::io::Error> for SyncError {
    fn from(error: std::io::Error) -> Self {
        Self::Spool(error)
    }
}

impl SyncError {
    /// Whether trying again later may succeed by itself.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Call(call) => call.is_transient() || matches!(call, CallError::Certificate(_)),
            Self::Untrusted(_) | Self::Spool(_) => true,
            Self::Identity(_) => false,
        }
    }
}

/// How a pass ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassOutcome {
    /// Nothing is left to send.
    Drained,
    /// The next record in the chain is quarantined: the records after it wait for it (the
    /// registry links each record to the one before).
    Blocked {
        /// The record.
        seq: u64,
        /// Why, in words.
        reason: String,
    },
    /// The next record in the chain is not in the outbox yet (the kiosk writes it again on its
    /// next hand-off).
    Waiting {
        /// The record.
        seq: u64,
    },
}

/// What a pass did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassReport {
    /// How it ended.
    pub outcome: PassOutcome,
    /// Records sent and acknowledged in this pass.
    pub sent: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Receipts fetched for records the registry already held.
    pub recovered: u64,
    /// Records whose contents the registry refused (kept in the chain).
    pub refused: u64,
    /// A certificate renewal or re-issue happened.
    pub certificate_renewed: bool,
    /// Events worth a line in the log, in words.
    pub notes: Vec<String>,
}

/// The uplink's working state across passes.
#[derive(Debug)]
pub struct Uplink {
    spool: Spool,
    dir: UplinkDir,
    receipt_key: VerifyingKey,
    device_id: DeviceId,
    registry_url: String,
    /// Progress, saved to the spool after each change.
    pub state: UplinkState,
    part: usize,
    interrupted: HashSet<u64>,
}

fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Uplink {
    /// The device this uplink speaks for.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// Opens the uplink of the data dir at `data_root`. Reads only the uplink dir and spool.
    pub fn open(data_root: &Path) -> Result<Self, SyncError> {
        let spool = Spool::new(data_root);
        let dir = UplinkDir::new(data_root);
        let link = dir.link()?;
        let key_bytes: [u8; 32] = parse_hex(&link.receipt_signing_key)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| SyncError::Untrusted("registry.json: bad receipt key".into()))?;
        let receipt_key = VerifyingKey::from_bytes(&key_bytes)
            .map_err(|_| SyncError::Untrusted("registry.json: bad receipt key".into()))?;
        let device_id = DeviceId::parse(&link.device_id)
            .ok_or_else(|| SyncError::Untrusted("registry.json: bad device id".into()))?;
        let state = UplinkState::load(&spool);
        Ok(Self {
            spool,
            dir,
            receipt_key,
            device_id,
            registry_url: link.registry_url,
            state,
            part: FIRST_PART,
            interrupted: HashSet::new(),
        })
    }

    /// The clock for certificates: build time and the registry's last signed time are floors.
    pub fn trusted_time(&self) -> TrustedTime {
        TrustedTime {
            floor: self
                .state
                .registry_time
                .unwrap_or(BUILD_TIME)
                .max(BUILD_TIME),
        }
    }

    /// Now, as well as the device can tell.
    pub fn now(&self) -> i64 {
        estimate_now(system_now(), self.trusted_time().floor)
    }

    fn save(&self) -> Result<(), SyncError> {
        self.state.save(&self.spool)?;
        Ok(())
    }

    /// Records an error in the state file for `sajili status`.
    pub fn record_error(&mut self, error: &SyncError) {
        self.state.last_error = Some(error.to_string());
        let _ = self.save();
    }

    /// A client with a valid certificate: re-issued if it expired, renewed when due.
    fn connect(&mut self, report: &mut PassReport) -> Result<Registry, SyncError> {
        let now = self.now();
        let mut certificate = self.dir.certificate()?;
        if certificate.expired(now) {
            report.notes.push(format!(
                "the device certificate expired at {}; asking for a new one with the signed re-issue request",
                certificate.not_after
            ));
            reissue(&self.dir, self.trusted_time())?;
            report.certificate_renewed = true;
            certificate = self.dir.certificate()?;
        }
        self.state.certificate_expires = Some(certificate.not_after);
        let registry = Registry::new(
            &self.registry_url,
            self.dir.mutual_tls(self.trusted_time())?,
        );
        if certificate.renewal_due(now) {
            // A failed renewal is retried on the next pass; the current certificate still works.
            let renewed = registry
                .renew()
                .map_err(SyncError::from)
                .and_then(|issued| {
                    self.dir.store_certificate(&issued)?;
                    Ok(issued)
                });
            match renewed {
                Ok(issued) => {
                    report
                        .notes
                        .push("two thirds of the certificate's life have passed: renewed".into());
                    report.certificate_renewed = true;
                    self.state.certificate_expires = Some(issued.not_after);
                    return Ok(Registry::new(
                        &self.registry_url,
                        self.dir.mutual_tls(self.trusted_time())?,
                    ));
                }
                Err(error) => report.notes.push(format!(
                    "certificate renewal failed ({error}); the current one is valid until {}, trying again next pass",
                    certificate.not_after
                )),
            }
        }
        Ok(registry)
    }

    fn verify(&self, bytes: &[u8]) -> Result<Receipt, SyncError> {
        let receipt = Receipt::verify(bytes, &self.receipt_key)
            .map_err(|e| SyncError::Untrusted(e.to_string()))?;
        if receipt.device_id != self.device_id {
            return Err(SyncError::Untrusted(format!(
                "it is about device {}, this is {}",
                receipt.device_id, self.device_id
            )));
        }
        Ok(receipt)
    }

    /// One pass: everything the outbox holds, in chain order, until done or stopped.
    pub fn pass(&mut self) -> Result<PassReport, SyncError> {
        let mut report = PassReport {
            outcome: PassOutcome::Drained,
            sent: 0,
            bytes: 0,
            recovered: 0,
            refused: 0,
            certificate_renewed: false,
            notes: Vec::new(),
        };
        self.state.last_attempt = Some(self.now());
        self.save()?;
        let mut registry = self.connect(&mut report)?;
        let standing = match registry.standing() {
            Err(CallError::Certificate(why)) => {
                report.notes.push(format!(
                    "the registry refused this device's certificate: {why}; asking for a new one with the signed re-issue request"
                ));
                // Refused at the handshake (expired by the registry's clock, or revoked and
                // re-enrolled): try the signed re-issue once, then go on with the new one.
                reissue(&self.dir, self.trusted_time())?;
                report.certificate_renewed = true;
                registry = Registry::new(
                    &self.registry_url,
                    self.dir.mutual_tls(self.trusted_time())?,
                );
                registry.standing()?
            }
            other => other?,
        };
        self.after_standing(&registry, &standing, report)
    }

    fn after_standing(
        &mut self,
        registry: &Registry,
        standing: &[u8],
        mut report: PassReport,
    ) -> Result<PassReport, SyncError> {
        let standing = self.verify(standing)?;
        if standing.kind != ReceiptKind::Standing {
            return Err(SyncError::Untrusted(
                "a receipt where a standing was asked for".into(),
            ));
        }
        self.state.saw_registry_time(standing.at);
        self.state.registry_seq = Some(standing.seq);
        self.save()?;

        let seqs = self.spool.envelope_seqs()?;
        let mut expected = standing.seq + 1;
        let mut index = 0;
        while index < seqs.len() {
            let seq = seqs[index];
            index += 1;
            if self.spool.has_receipt(seq) {
                continue;
            }
            let Some(bytes) = self.spool.envelope(seq)? else {
                continue;
            };
            let hash = sha256(&bytes);
            if seq <= standing.seq {
                // Held already (a receipt lost to a cut or crash): fetch it, send nothing.
                let receipt = self.verify(&registry.receipt(seq)?)?;
                if receipt.seq != seq || receipt.hash != hash {
                    self.quarantine(
                        seq,
                        &hash,
                        codes::SEQ_CONFLICT,
                        "the registry holds other bytes for this record",
                    );
                    report.outcome = self.blocked(seq);
                    return Ok(report);
                }
                self.spool.put_receipt(seq, &receipt.to_bytes())?;
                report.recovered += 1;
                continue;
            }
            if seq != expected {
                report.outcome = PassOutcome::Waiting { seq: expected };
                return Ok(report);
            }
            if let Some(entry) = self.state.quarantined(seq) {
                if entry.sha256 == hex(&hash) {
                    report.outcome = self.blocked(seq);
                    return Ok(report);
                }
                // Other bytes than those refused: the kiosk replaced a damaged copy.
                self.state.quarantined.retain(|q| q.seq != seq);
            }
            // The records right after this one go with it while they fit in one part (a fast
            // link): one request and one commit at the registry for all of them.
            let mut batch = vec![(seq, bytes)];
            let mut size = batch[0].1.len();
            while batch.len() < MAX_BATCH && index < seqs.len() {
                let next = seqs[index];
                if next != seq + batch.len() as u64
                    || self.spool.has_receipt(next)
                    || self.state.quarantined(next).is_some()
                {
                    break;
                }
                let Some(more) = self.spool.envelope(next)? else {
                    break;
                };
                if size + more.len() > self.part {
                    break;
                }
                size += more.len();
                batch.push((next, more));
                index += 1;
            }
            let answers = if batch.len() == 1 {
                self.send(registry, seq, &batch[0].1)
                    .map(|receipt| (vec![receipt], None))
            } else {
                self.send_batch(registry, &batch)
            };
            let (receipts, refusal) = match answers {
                Ok(answers) => answers,
                Err(CallError::Refused { error, .. })
                    if codes::RECORD_REFUSALS.contains(&error.code.as_str()) =>
                {
                    (Vec::new(), Some(error))
                }
                Err(other) => {
                    self.save()?;
                    return Err(other.into());
                }
            };
            for (answer, (sent_seq, sent)) in receipts.iter().zip(&batch) {
                self.file_receipt(*sent_seq, sent, answer, &mut report)?;
                expected = sent_seq + 1;
            }
            if let Some(error) = refusal {
                let Some((refused_seq, refused)) = batch.get(receipts.len()) else {
                    return Err(SyncError::Untrusted(
                        "a refusal for a record that was not sent".into(),
                    ));
                };
                if !codes::RECORD_REFUSALS.contains(&error.code.as_str()) {
                    self.save()?;
                    return Err(SyncError::Call(CallError::Refused { status: 409, error }));
                }
                self.quarantine(*refused_seq, &sha256(refused), &error.code, &error.detail);
                report.outcome = self.blocked(*refused_seq);
                return Ok(report);
            }
            if receipts.len() < batch.len() {
                return Err(SyncError::Untrusted(format!(
                    "{} receipts for {} records",
                    receipts.len(),
                    batch.len()
                )));
            }
        }
        self.state.last_success = Some(self.now());
        self.state.last_error = None;
        self.save()?;
        Ok(report)
    }

    /// Checks a receipt against the bytes sent and files it for the kiosk.
    fn file_receipt(
        &mut self,
        seq: u64,
        sent: &[u8],
        answer: &[u8],
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        let receipt = self.verify(answer)?;
        if receipt.kind == ReceiptKind::Standing
            || receipt.seq != seq
            || receipt.hash != sha256(sent)
        {
            return Err(SyncError::Untrusted(format!(
                "the receipt for seq {seq} names another record"
            )));
        }
        self.spool.put_receipt(seq, answer)?;
        if receipt.kind == ReceiptKind::Refused {
            report.refused += 1;
        }
        report.sent += 1;
        report.bytes += sent.len() as u64;
        self.state.records_sent += 1;
        self.state.bytes_sent += sent.len() as u64;
        self.state.saw_registry_time(receipt.at);
        self.state.registry_seq = Some(seq);
        Ok(())
    }

    /// Sends several whole records in one request; returns the receipts of those taken and the
    /// refusal of the next, if any.
    fn send_batch(
        &mut self,
        registry: &Registry,
        batch: &[(u64, Vec<u8>)],
    ) -> Result<(Vec<Vec<u8>>, Option<ApiError>), CallError> {
        let began = Instant::now();
        let records: Vec<&[u8]> = batch.iter().map(|(_, bytes)| bytes.as_slice()).collect();
        match registry.put_batch(&records) {
            Ok(answer) => {
                self.adapt(records.iter().map(|r| r.len()).sum(), began.elapsed());
                let receipts = answer
                    .receipts
                    .iter()
                    .map(|text| parse_hex(text))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| CallError::BadAnswer("a receipt that is not hex".into()))?;
                Ok((receipts, answer.refusal))
            }
            Err(error) => {
                self.part = (self.part / 2).max(MIN_PART);
                Err(error)
            }
        }
    }

    fn quarantine(&mut self, seq: u64, hash: &[u8; 32], code: &str, message: &str) {
        self.state.quarantined.retain(|q| q.seq != seq);
        self.state.quarantined.push(Quarantined {
            seq,
            sha256: hex(hash),
            code: code.to_string(),
            message: message.to_string(),
            at: self.now(),
        });
        self.state.last_error = Some(format!(
            "record {seq} refused by the registry: {message} ({code}); the records after it wait for it"
        ));
        let _ = self.save();
    }

    fn blocked(&self, seq: u64) -> PassOutcome {
        let reason = self
            .state
            .quarantined(seq)
            .map(|q| format!("{} ({})", q.message, q.code))
            .unwrap_or_default();
        PassOutcome::Blocked { seq, reason }
    }

    /// Sends one record in parts, resuming where the registry's copy stops after a cut.
    fn send(&mut self, registry: &Registry, seq: u64, bytes: &[u8]) -> Result<Vec<u8>, CallError> {
        let total = bytes.len() as u64;
        let mut offset = if self.interrupted.contains(&seq) || bytes.len() > self.part {
            registry.upload_progress(seq)?.min(total)
        } else {
            0
        };
        loop {
            let start = offset as usize;
            let end = (start + self.part).min(bytes.len());
            let began = Instant::now();
            match registry.put_part(seq, offset, total, &bytes[start..end]) {
                Ok(PartOutcome::Receipt(receipt)) => {
                    self.interrupted.remove(&seq);
                    self.adapt(end - start, began.elapsed());
                    return Ok(receipt);
                }
                Ok(PartOutcome::Partial(received)) => {
                    self.adapt(end - start, began.elapsed());
                    offset = received.min(total);
                }
                Err(CallError::Refused { error, .. }) if error.code == codes::OFFSET_MISMATCH => {
                    offset = error.received.unwrap_or(0).min(total);
                }
                Err(other) => {
                    self.interrupted.insert(seq);
                    self.part = (self.part / 2).max(MIN_PART);
                    return Err(other);
                }
            }
        }
    }

    fn adapt(&mut self, sent: usize, took: Duration) {
        let seconds = took.as_secs_f64().max(0.001);
        let rate = sent as f64 / seconds;
        self.part = ((rate * PART_SECONDS) as usize).clamp(MIN_PART, MAX_PART);
    }
}

/// How long to wait before try `attempt` (1 = the first retry): doubling from one second up to
/// `max`, with full jitter in its upper half so a fleet coming back online does not stampede.
pub fn backoff(attempt: u32, max: Duration) -> Duration {
    let base = Duration::from_secs(1).saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = base.min(max);
    let mut random = [0u8; 2];
    let fraction = if getrandom::fill(&mut random).is_ok() {
        f64::from(u16::from_be_bytes(random)) / f64::from(u16::MAX)
    } else {
        0.5
    };
    ceiling.mul_f64(0.5 + 0.5 * fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap_with_jitter() {
        let max = Duration::from_secs(300);
        for attempt in 1..40 {
            let wait = backoff(attempt, max);
            let ceiling = Duration::from_secs(1u64 << (attempt - 1).min(20)).min(max);
            assert!(
                wait <= ceiling && wait >= ceiling / 2,
                "attempt {attempt}: {wait:?}"
            );
        }
    }
}

/// How [`run`] behaves.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    /// Drain the outbox and return, instead of running for ever.
    pub once: bool,
    /// The longest wait between tries after failures.
    pub max_backoff: Duration,
    /// How often to look for new records when idle.
    pub poll: Duration,
}

/// How a `once` run ended without an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEnd {
    /// Every record in the outbox has a receipt.
    Drained,
    /// A record is quarantined or missing, and the records after it wait.
    Stopped(PassOutcome),
}

/// Tries in a row that may fail in a `once` run before it gives up; a try that sends anything
/// starts the count again.
const ONCE_TRIES: u32 = 4;

/// Runs the uplink: passes until drained (`once`), or for ever, waiting for new records and
/// backing off after failures with jitter, never giving up. Each event is logged (`seq`: the
/// registry's head after it).
pub fn run(uplink: &mut Uplink, options: RunOptions) -> Result<RunEnd, SyncError> {
    let mut failures = 0u32;
    loop {
        match uplink.pass() {
            Ok(report) => {
                let seq = uplink.state.registry_seq.unwrap_or(0);
                if report.sent > 0 || report.recovered > 0 {
                    log::info!(seq; "{}", format_args!(
                        "sent {} record(s), {:.2} MB{}{}",
                        report.sent,
                        report.bytes as f64 / 1e6,
                        if report.recovered > 0 {
                            format!("; {} receipt(s) recovered", report.recovered)
                        } else {
                            String::new()
                        },
                        if report.refused > 0 {
                            format!(
                                "; {} refused by the registry (kept in its chain)",
                                report.refused
                            )
                        } else {
                            String::new()
                        }
                    ));
                }
                for note in &report.notes {
                    log::info!("{note}");
                }
                if report.certificate_renewed {
                    log::info!("device certificate renewed");
                }
                failures = 0;
                match report.outcome {
                    PassOutcome::Drained => {
                        if options.once {
                            return Ok(RunEnd::Drained);
                        }
                        wait_for_records(uplink, options.poll);
                    }
                    stopped => {
                        if options.once {
                            return Ok(RunEnd::Stopped(stopped));
                        }
                        if let PassOutcome::Blocked { seq, reason } = &stopped {
                            log::warn!(seq = *seq; "record {seq} is quarantined: {reason}");
                        }
                        wait_for_change(uplink, &stopped, options);
                    }
                }
            }
            Err(error) => {
                uplink.record_error(&error);
                failures += 1;
                let permanent = !error.is_transient();
                if options.once && (permanent || failures >= ONCE_TRIES) {
                    return Err(error);
                }
                let wait = backoff(failures, options.max_backoff);
                log::warn!("{error}; trying again in {:.1} s", wait.as_secs_f64());
                std::thread::sleep(wait);
            }
        }
    }
}

/// After a pass stopped at a record: waits (without calling the registry) until the kiosk hands
/// over other bytes for it, or it appears, or `max_backoff` passes.
fn wait_for_change(uplink: &Uplink, stopped: &PassOutcome, options: RunOptions) {
    let started = Instant::now();
    while started.elapsed() < options.max_backoff {
        std::thread::sleep(options.poll);
        let changed = match stopped {
            PassOutcome::Blocked { seq, .. } => {
                let refused = uplink.state.quarantined(*seq).map(|q| q.sha256.clone());
                let now = uplink
                    .spool
                    .envelope(*seq)
                    .ok()
                    .flatten()
                    .map(|b| hex(&sha256(&b)));
                now.is_some() && now != refused
            }
            PassOutcome::Waiting { seq } => uplink.spool.has_envelope(*seq),
            PassOutcome::Drained => true,
        };
        if changed {
            return;
        }
    }
}

/// Sleeps until the outbox holds a record without a receipt, checking every `poll`; wakes at
/// least every ten minutes so certificate renewal is not missed.
fn wait_for_records(uplink: &Uplink, poll: Duration) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(600) {
        let waiting = uplink
            .spool
            .envelope_seqs()
            .map(|seqs| seqs.iter().any(|seq| !uplink.spool.has_receipt(*seq)))
            .unwrap_or(true);
        if waiting {
            return;
        }
        std::thread::sleep(poll);
    }
}
