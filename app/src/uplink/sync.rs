//! Sending: ask the registry where the device stands, send what it lacks (several batches on
//! their way at once, or one large record in parts that resume after a cut), verify each
//! receipt with the pinned key, and file it for the kiosk; on the next node when one fails.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::path::Path;
use std::sync::mpsc;
use std::thread::{Scope, ScopedJoinHandle};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;

use super::client::{CallError, PartOutcome, Registry};
use super::identity::{IdentityError, UplinkDir, reissue};
use super::nodes::{Failover, Nodes, node_failed, shown};
use super::protocol::{BatchAnswer, MAX_BATCH, codes};
use super::state::{Quarantined, UplinkState};
use super::tls::{TrustedTime, estimate_now};
use crate::clock::BUILD_TIME;
use crate::record::{DeviceId, Receipt, ReceiptKind, hex, parse_hex, sha256};
use crate::spool::{Receipted, Spool};

/// Smallest and largest part sent in one request. Parts are sized to take about
/// [`PART_SECONDS`] on the link as measured, so a cut loses little and a fast link sends each
/// record in one request. Before anything is measured, the part is [`FIRST_PART`] until the
/// standing call has been timed ([`STANDING_BYTES`]).
const MIN_PART: usize = 16 << 10;
const MAX_PART: usize = 8 << 20;
const FIRST_PART: usize = 64 << 10;
const PART_SECONDS: f64 = 4.0;

/// Bytes that the first call of a pass (a new connection's TCP and mutual-TLS handshake, both
/// certificates, then the standing request and its signed answer) moves at the least: some
/// 2.4 kB were seen. Divided by the call's time, it is the link's rate as first guessed
/// before any part is measured. Counted low, so the guess errs slow: on a 50 kbit/s link the
/// call takes some 0.4 s and the first part is about 20 kB (a cut loses little), while on a
/// fast link it is megabytes, and a new device's first record goes in a batch instead of
/// alone in three calls (a progress check and two parts, each committed by the registry).
const STANDING_BYTES: f64 = 2048.0;

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

/// Batches on their way at once, each over its own connection. The next batch goes as soon as
/// the one before has been handed to its connection: the registry checks it (hashes,
/// signatures) while it stores the one before, and a batch that reaches it before the one
/// ahead is stored waits for it there (a registry from before that answered `chain_gap`, and
/// the batch is sent again once the one ahead is answered).
const IN_FLIGHT: usize = 2;

/// Batches on their way at once on a fast link (a part of [`FAST_PART`] or more). The
/// registry's durable commit of a 4 MiB batch took 12-29 ms on loopback, while handing one
/// over took 4-7 ms: with two on their way the sender waited for an answer a third of the
/// time, with four it hands over every batch while the registry commits the ones ahead.
const FAST_IN_FLIGHT: usize = 4;

/// The part from which a link counts as fast: 128 kB/s (1 Mbit/s) or more. A slower link
/// keeps [`IN_FLIGHT`], so that a cut loses no more of it than before (each batch on its way
/// is up to a part, some [`PART_SECONDS`] of the link).
const FAST_PART: usize = 512 << 10;

/// Largest batch, in bytes (below the part size on a slow link): large enough that the
/// registry's commit per batch is paid rarely, small enough that a hundred records still make
/// a few batches, whose sending overlaps.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// The uplink's working state across passes.
#[derive(Debug)]
pub struct Uplink {
    spool: Spool,
    dir: UplinkDir,
    receipt_key: VerifyingKey,
    device_id: DeviceId,
    nodes: Nodes,
    /// Progress, saved to the spool after each change.
    pub state: UplinkState,
    part: usize,
    interrupted: HashSet<u64>,
    /// Where downloaded updates go for the installer.
    updates: std::path::PathBuf,
}

/// Records following each other in the chain, laid end to end as one request carries them.
#[derive(Debug)]
struct Batch {
    /// The first record's seq; the others follow it without a gap.
    first: u64,
    /// Each record's SHA-256 (once [`Batch::hashed`]) and length, in order.
    records: Vec<([u8; 32], usize)>,
    /// The records, end to end.
    body: Vec<u8>,
    /// This is its second sending: the registry had it before the batch ahead of it.
    again: bool,
    /// The hashes in `records` are filled in: by the thread sending the batch, while it waits
    /// for the answer, so that the next batch is read and sent without waiting for them.
    hashed: bool,
}

impl Batch {
    fn next_seq(&self) -> u64 {
        self.first + self.records.len() as u64
    }

    /// Each record's SHA-256, from the body.
    fn hashes(&self) -> Vec<[u8; 32]> {
        let mut start = 0;
        self.records
            .iter()
            .map(|(_, size)| {
                let end = start + size;
                let hash = self.body.get(start..end).map(sha256).unwrap_or_default();
                start = end;
                hash
            })
            .collect()
    }

    fn fill_hashes(&mut self, hashes: Option<Vec<[u8; 32]>>) {
        if self.hashed {
            return;
        }
        let hashes = hashes.unwrap_or_else(|| self.hashes());
        for (record, hash) in self.records.iter_mut().zip(hashes) {
            record.0 = hash;
        }
        self.hashed = true;
    }
}

/// A batch sent, and what came of it.
struct Sent {
    batch: Batch,
    answer: Result<BatchAnswer, CallError>,
    took: Duration,
}

/// A batch on its way: its sender says when the body is handed over, and gives the answer.
struct InFlight<'scope> {
    handed_over: mpsc::Receiver<()>,
    uploading: bool,
    sender: ScopedJoinHandle<'scope, Sent>,
}

/// Where a pass is in the outbox.
struct Cursor {
    seqs: Vec<u64>,
    /// The records with a receipt in the spool when the pass began (the kiosk has yet to
    /// absorb them): not sent again.
    receipted: Receipted,
    index: usize,
    /// The registry's head when the pass began: the records up to it are held there.
    held: u64,
    /// The next seq of the chain to send.
    expected: u64,
    /// A record read while filling a batch it did not fit in: the next batch starts with it.
    peeked: Option<(u64, Vec<u8>)>,
    /// Bodies of batches answered, to fill again: fresh memory for each batch cost a page
    /// fault every 4 KiB.
    spare: Vec<Vec<u8>>,
}

impl Cursor {
    fn new(seqs: Vec<u64>, receipted: Receipted, held: u64) -> Self {
        Self {
            seqs,
            receipted,
            index: 0,
            held,
            expected: held + 1,
            peeked: None,
            spare: Vec::new(),
        }
    }

    fn envelope(&mut self, spool: &Spool, seq: u64) -> std::io::Result<Option<Vec<u8>>> {
        match self.peeked.take() {
            Some((peeked, bytes)) if peeked == seq => Ok(Some(bytes)),
            _ => spool.envelope(seq),
        }
    }
}

/// Hands verified receipts to the thread that writes them into the spool, a batch's in one
/// file: a file made and renamed costs more than the network's share of a record, and the
/// batches after it need not wait for that.
struct Filer {
    queue: mpsc::Sender<(u64, Vec<Vec<u8>>)>,
}

impl Filer {
    /// Files the receipts of records `first` onwards, in order.
    fn file(&self, first: u64, receipts: Vec<Vec<u8>>) -> Result<(), SyncError> {
        // The writer stops only after a failed write, which the pass then reports.
        self.queue
            .send((first, receipts))
            .map_err(|_| SyncError::Spool(std::io::Error::other("the receipt writer stopped")))
    }
}

/// What comes next in the outbox, in chain order.
enum Next {
    /// Records to send in one request.
    Batch(Batch),
    /// One record larger than a part (or cut short before): sent alone, in parts that resume.
    Alone {
        seq: u64,
        bytes: Vec<u8>,
        hash: [u8; 32],
    },
    /// Nothing more to send in this pass: how it ends, unless a batch before fails.
    End(PassOutcome),
}

/// What a batch's answer leads to.
enum Settled {
    /// Every record in it was taken; its body, to fill again.
    Taken(Vec<u8>),
    /// It reached the registry before the batch ahead of it was stored: send it again.
    Again(Batch),
    /// The pass stops at a record.
    Stop(PassOutcome),
}

fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Starts sending `batch` on a thread of `scope`.
fn launch<'scope>(
    scope: &'scope Scope<'scope, '_>,
    registry: &'scope Registry,
    batch: Batch,
) -> InFlight<'scope> {
    let (handed_over, told) = mpsc::channel();
    let sender = scope.spawn(move || {
        let began = Instant::now();
        let mut hashes = None;
        // The sender goes with the call: the pipeline waits for the hand-over or the call's end.
        let answer = registry.put_batch_body(&batch.body, || {
            let _ = handed_over.send(());
            if !batch.hashed {
                hashes = Some(batch.hashes());
            }
        });
        let mut batch = batch;
        batch.fill_hashes(hashes);
        Sent {
            batch,
            answer,
            took: began.elapsed(),
        }
    });
    InFlight {
        handed_over: told,
        uploading: true,
        sender,
    }
}

impl Uplink {
    /// The device this uplink speaks for.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }

    /// The registry node the next pass starts with: the one that answered last.
    pub fn node(&self) -> &str {
        self.nodes.url(self.nodes.last_worked())
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
        let nodes = Nodes::new(link.urls(), state.node.as_deref());
        let part = state.part_bytes.map_or(FIRST_PART, |bytes| {
            usize::try_from(bytes).map_or(MAX_PART, |bytes| bytes.clamp(MIN_PART, MAX_PART))
        });
        Ok(Self {
            spool,
            dir,
            receipt_key,
            device_id,
            nodes,
            state,
            part,
            interrupted: HashSet::new(),
            updates: data_root.join("updates"),
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

    /// A client of the node at `url` with a valid certificate: re-issued if it expired,
    /// renewed when due.
    fn connect(&mut self, url: &str, report: &mut PassReport) -> Result<Registry, SyncError> {
        let now = self.now();
        let mut certificate = self.dir.certificate()?;
        if certificate.expired(now) {
            report.notes.push(format!(
                "the device certificate expired at {}; asking for a new one with the signed re-issue request",
                certificate.not_after
            ));
            reissue(&self.dir, self.trusted_time(), url)?;
            report.certificate_renewed = true;
            certificate = self.dir.certificate()?;
        }
        self.state.certificate_expires = Some(certificate.not_after);
        let registry = Registry::new(url, self.dir.mutual_tls(self.trusted_time())?);
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
                        url,
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

    /// One pass: everything the outbox holds, in chain order, until done or stopped. It starts
    /// with the registry node that answered last and keeps to a node while it works; when one
    /// cannot be reached or answers 5xx, the pass goes on with the next (logged), and fails
    /// once every node has failed in a row with nothing sent in between. What was sent stays
    /// sent: the next node's standing says where the chain is.
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
        let mut failover = Failover::start(&self.nodes);
        loop {
            let node = failover.current();
            let before = (report.sent, report.recovered);
            let error = match self.pass_on(node, &mut report) {
                Ok(outcome) => {
                    report.outcome = outcome;
                    return Ok(report);
                }
                Err(error) => error,
            };
            if let SyncError::Call(CallError::Withdrawn(detail)) = &error
                && self.state.withdrawn.is_none()
            {
                self.state.withdrawn = Some(super::state::WithdrawnNotice {
                    at: self.now(),
                    detail: detail.clone(),
                });
                self.save()?;
            }
            let next = match &error {
                SyncError::Call(call) if node_failed(call) => {
                    failover.failed((report.sent, report.recovered) != before)
                }
                _ => None,
            };
            let Some(next) = next else {
                return Err(error);
            };
            log::info!(
                "registry node {} failed ({error}); going on with {}",
                shown(self.nodes.url(node)),
                shown(self.nodes.url(next))
            );
        }
    }

    /// The pass on one node: its standing, then what it lacks.
    fn pass_on(&mut self, node: usize, report: &mut PassReport) -> Result<PassOutcome, SyncError> {
        let url = self.nodes.url(node).to_string();
        // From before the connection: its handshake is part of what the first guess of the
        // link's rate is made from.
        let began = Instant::now();
        let mut registry = self.connect(&url, report)?;
        let seqs = self.spool.envelope_seqs()?;
        let receipted = self.spool.receipted()?;
        let waiting = seqs.iter().filter(|seq| !receipted.contains(**seq)).count() as u64;
        let standing = match registry.standing(waiting) {
            Err(CallError::Certificate(why)) => {
                report.notes.push(format!(
                    "the registry refused this device's certificate: {why}; asking for a new one with the signed re-issue request"
                ));
                // Refused at the handshake (expired by the registry's clock, or revoked and
                // re-enrolled): try the signed re-issue once, then go on with the new one.
                reissue(&self.dir, self.trusted_time(), &url)?;
                report.certificate_renewed = true;
                registry = Registry::new(&url, self.dir.mutual_tls(self.trusted_time())?);
                registry.standing(waiting)?
            }
            other => other?,
        };
        if self.state.part_bytes.is_none() {
            // Nothing measured yet (a new device): a guess from this call, not saved; the
            // first answer measured replaces it.
            self.part = part_for(STANDING_BYTES as usize, began.elapsed());
        }
        let standing = self.verify(&standing)?;
        if standing.kind != ReceiptKind::Standing {
            return Err(SyncError::Untrusted(
                "a receipt where a standing was asked for".into(),
            ));
        }
        self.nodes.worked(node);
        self.state.node = Some(url);
        self.state.saw_registry_time(standing.at);
        self.state.registry_seq = Some(standing.seq);
        self.save()?;
        let cursor = Cursor::new(seqs, receipted, standing.seq);
        let outcome = self.send_all(&registry, cursor, report);
        // After the records, which matter more: a withdrawn device whose last records are
        // still taken sends those before the policy call tells it it is withdrawn.
        if outcome.is_ok() {
            super::fleet::exchange(&registry, &self.spool, &mut self.state, &mut report.notes)?;
            match super::update::fetch(&registry, &self.updates) {
                Ok(Some(note)) => report.notes.push(note),
                Ok(None) => {}
                Err(error @ CallError::Withdrawn(_)) => return Err(error.into()),
                Err(error) => report
                    .notes
                    .push(format!("could not fetch the update: {error}")),
            }
        }
        if outcome.as_ref().is_ok_and(|o| *o == PassOutcome::Drained) {
            self.state.last_success = Some(self.now());
            self.state.last_error = None;
        }
        self.save()?;
        outcome
    }

    /// Sends what the registry lacks, up to [`IN_FLIGHT`] batches at once, and files each
    /// receipt as its batch's answer comes, in chain order. The first batch to stop the pass
    /// (a refusal, a failed call) decides how it ends; the batches sent after it are still
    /// waited for, and any receipts they bring filed. Every receipt verified is written
    /// before it returns.
    fn send_all(
        &mut self,
        registry: &Registry,
        cursor: Cursor,
        report: &mut PassReport,
    ) -> Result<PassOutcome, SyncError> {
        std::thread::scope(|scope| {
            let (queue, filing) = mpsc::channel::<(u64, Vec<Vec<u8>>)>();
            let spool = self.spool.clone();
            let writer = scope.spawn(move || -> std::io::Result<()> {
                for (first, receipts) in filing {
                    spool.put_receipts(first, &receipts)?;
                }
                Ok(())
            });
            let filer = Filer { queue };
            let outcome = self.pipeline(scope, registry, cursor, &filer, report);
            drop(filer);
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the receipt writer failed")));
            match (outcome, written) {
                (outcome, Ok(())) => outcome,
                (Err(error), Err(_)) if !matches!(error, SyncError::Spool(_)) => Err(error),
                (_, Err(error)) => Err(SyncError::Spool(error)),
            }
        })
    }

    /// The loop of [`Uplink::send_all`]: reads the next batch while the one before is handed
    /// over, starts it, and settles the oldest answer when no more may be on their way.
    fn pipeline<'scope>(
        &mut self,
        scope: &'scope Scope<'scope, '_>,
        registry: &'scope Registry,
        mut cursor: Cursor,
        filer: &Filer,
        report: &mut PassReport,
    ) -> Result<PassOutcome, SyncError> {
        let mut flight: VecDeque<InFlight<'scope>> = VecDeque::new();
        // How the pass ends: found by reading the outbox ahead, or by a batch's answer, which
        // comes first in the chain and so wins.
        let mut planned: Option<Result<PassOutcome, SyncError>> = None;
        let mut settled: Option<Result<PassOutcome, SyncError>> = None;
        let mut alone: Option<(u64, Vec<u8>, [u8; 32])> = None;
        // The next batch, read while the one before is still being handed over.
        let mut ready: Option<Batch> = None;
        loop {
            if ready.is_none()
                && planned.is_none()
                && settled.is_none()
                && alone.is_none()
                && flight.len() < self.in_flight()
            {
                match self.next(registry, &mut cursor, filer, report) {
                    Ok(Next::Batch(batch)) => ready = Some(batch),
                    Ok(Next::Alone { seq, bytes, hash }) => alone = Some((seq, bytes, hash)),
                    Ok(Next::End(outcome)) => planned = Some(Ok(outcome)),
                    Err(error) => planned = Some(Err(error)),
                }
            }
            for batch in flight.iter_mut().filter(|batch| batch.uploading) {
                // An error means the sender has ended: handed over too.
                let _ = batch.handed_over.recv();
                batch.uploading = false;
            }
            if let Some(batch) = ready.take()
                && settled.is_none()
            {
                flight.push_back(launch(scope, registry, batch));
                continue;
            }
            if let Some(oldest) = flight.pop_front() {
                let sent = oldest.sender.join().map_err(|_| {
                    SyncError::Call(CallError::Network(
                        "the thread sending a batch stopped".into(),
                    ))
                });
                match sent.and_then(|sent| self.settle(sent, filer, report)) {
                    Ok(Settled::Taken(body)) => cursor.spare.push(body),
                    Ok(Settled::Again(batch)) if settled.is_none() => {
                        // Every batch before it is answered: nothing to wait for.
                        flight.push_front(launch(scope, registry, batch));
                    }
                    // A batch after the one that stopped the pass: refused for the gap.
                    Ok(Settled::Again(_)) => {}
                    Ok(Settled::Stop(outcome)) => {
                        settled.get_or_insert(Ok(outcome));
                    }
                    Err(error) => {
                        settled.get_or_insert(Err(error));
                    }
                }
                continue;
            }
            // Every batch before it is settled: a record sent alone follows the chain.
            match alone.take() {
                Some((seq, bytes, hash)) if settled.is_none() => {
                    match self.send_alone(registry, seq, &bytes, &hash, filer, report) {
                        Ok(None) => {}
                        Ok(Some(outcome)) => settled = Some(Ok(outcome)),
                        Err(error) => settled = Some(Err(error)),
                    }
                }
                _ => return settled.or(planned).unwrap_or(Ok(PassOutcome::Drained)),
            }
        }
    }

    /// Reads the outbox on from `cursor` to what goes next: receipts the registry holds are
    /// fetched on the way (their records are not sent again).
    fn next(
        &mut self,
        registry: &Registry,
        cursor: &mut Cursor,
        filer: &Filer,
        report: &mut PassReport,
    ) -> Result<Next, SyncError> {
        while let Some(&seq) = cursor.seqs.get(cursor.index) {
            cursor.index += 1;
            if cursor.receipted.contains(seq) {
                continue;
            }
            let Some(bytes) = cursor.envelope(&self.spool, seq)? else {
                continue;
            };
            let limit = self.part.min(MAX_BATCH_BYTES);
            let alone = bytes.len() > limit || self.interrupted.contains(&seq);
            // A record that goes in a batch is hashed by the batch's sender, off this thread.
            let hash = if seq <= cursor.held || alone || self.state.quarantined(seq).is_some() {
                sha256(&bytes)
            } else {
                [0; 32]
            };
            if seq <= cursor.held {
                if let Some(stopped) = self.recover(registry, seq, &hash, filer, report)? {
                    return Ok(Next::End(stopped));
                }
                continue;
            }
            if seq != cursor.expected {
                return Ok(Next::End(PassOutcome::Waiting {
                    seq: cursor.expected,
                }));
            }
            if let Some(entry) = self.state.quarantined(seq) {
                if entry.sha256 == hex(&hash) {
                    return Ok(Next::End(self.blocked(seq)));
                }
                // Other bytes than those refused: the kiosk replaced a damaged copy.
                self.state.quarantined.retain(|q| q.seq != seq);
            }
            if alone {
                cursor.expected = seq + 1;
                return Ok(Next::Alone { seq, bytes, hash });
            }
            // The records right after this one go with it while they fit in one part (a fast
            // link): one request and one commit at the registry for all of them.
            let mut body = cursor.spare.pop().unwrap_or_default();
            body.clear();
            body.reserve(limit);
            body.extend_from_slice(&bytes);
            let mut batch = Batch {
                first: seq,
                records: vec![([0; 32], bytes.len())],
                body,
                again: false,
                hashed: false,
            };
            while batch.records.len() < MAX_BATCH {
                let Some(&next) = cursor.seqs.get(cursor.index) else {
                    break;
                };
                if next != batch.next_seq()
                    || cursor.receipted.contains(next)
                    || self.state.quarantined(next).is_some()
                    || self.interrupted.contains(&next)
                {
                    break;
                }
                let Some(more) = cursor.envelope(&self.spool, next)? else {
                    break;
                };
                if batch.body.len() + more.len() > limit {
                    cursor.peeked = Some((next, more));
                    break;
                }
                batch.records.push(([0; 32], more.len()));
                batch.body.extend_from_slice(&more);
                cursor.index += 1;
            }
            cursor.expected = batch.next_seq();
            return Ok(Next::Batch(batch));
        }
        Ok(Next::End(PassOutcome::Drained))
    }

    /// A record the registry holds already (its receipt lost to a cut or crash): fetches its
    /// receipt and sends nothing. How the pass stops if the registry holds other bytes.
    fn recover(
        &mut self,
        registry: &Registry,
        seq: u64,
        hash: &[u8; 32],
        filer: &Filer,
        report: &mut PassReport,
    ) -> Result<Option<PassOutcome>, SyncError> {
        let receipt = self.verify(&registry.receipt(seq)?)?;
        if receipt.seq != seq || receipt.hash != *hash {
            self.quarantine(
                seq,
                hash,
                codes::SEQ_CONFLICT,
                "the registry holds other bytes for this record",
            );
            return Ok(Some(self.blocked(seq)));
        }
        filer.file(seq, vec![receipt.to_bytes()])?;
        report.recovered += 1;
        Ok(None)
    }

    /// Files the receipts a batch's answer brings; what the rest of the pass does follows from
    /// its refusal, if any.
    fn settle(
        &mut self,
        sent: Sent,
        filer: &Filer,
        report: &mut PassReport,
    ) -> Result<Settled, SyncError> {
        let Sent {
            batch,
            answer,
            took,
        } = sent;
        let answer = match answer {
            Ok(answer) => {
                self.adapt(batch.body.len(), took);
                answer
            }
            Err(CallError::Refused { error, .. })
                if codes::RECORD_REFUSALS.contains(&error.code.as_str()) =>
            {
                BatchAnswer {
                    receipts: Vec::new(),
                    refusal: Some(*error),
                }
            }
            Err(error) => {
                self.part = (self.part / 2).max(MIN_PART);
                self.state.part_bytes = Some(self.part as u64);
                return Err(error.into());
            }
        };
        let receipts = answer
            .receipts
            .iter()
            .map(|text| parse_hex(text))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| CallError::BadAnswer("a receipt that is not hex".into()))?;
        if receipts.len() > batch.records.len() {
            return Err(SyncError::Untrusted(format!(
                "{} receipts for {} records",
                receipts.len(),
                batch.records.len()
            )));
        }
        let taken = receipts.len();
        let mut untrusted = None;
        let mut checked = Vec::with_capacity(taken);
        for (seq, (receipt, (hash, size))) in
            (batch.first..).zip(receipts.into_iter().zip(&batch.records))
        {
            if let Err(error) = self.check_receipt(seq, hash, *size, &receipt, report) {
                untrusted = Some(error);
                break;
            }
            checked.push(receipt);
        }
        // Those before a receipt that does not verify are sound: filed all the same.
        if !checked.is_empty() {
            filer.file(batch.first, checked)?;
        }
        if let Some(error) = untrusted {
            return Err(error);
        }
        let Some(error) = answer.refusal else {
            if taken < batch.records.len() {
                return Err(SyncError::Untrusted(format!(
                    "{taken} receipts for {} records",
                    batch.records.len()
                )));
            }
            return Ok(Settled::Taken(batch.body));
        };
        let Some((hash, _)) = batch.records.get(taken) else {
            return Err(SyncError::Untrusted(
                "a refusal for a record that was not sent".into(),
            ));
        };
        let seq = batch.first + taken as u64;
        if codes::RECORD_REFUSALS.contains(&error.code.as_str()) {
            self.quarantine(seq, hash, &error.code, &error.detail);
            return Ok(Settled::Stop(self.blocked(seq)));
        }
        // Checked before the batch ahead of it was stored (the batch ahead failed, went to
        // another node, or a registry from before waited for nothing): every batch ahead of it
        // is settled as taken by now, or the pass stops and sends nothing again, so once more
        // is enough; a second gap is a real one.
        if error.code == codes::CHAIN_GAP && taken == 0 && !batch.again {
            log::debug!(
                "records {} to {} reached the registry before the ones ahead of them; sending them again",
                batch.first,
                batch.next_seq() - 1
            );
            return Ok(Settled::Again(Batch {
                again: true,
                ..batch
            }));
        }
        Err(SyncError::Call(super::client::refused(409, error)))
    }

    /// Sends one record in parts; the outcome if the registry refused it.
    fn send_alone(
        &mut self,
        registry: &Registry,
        seq: u64,
        bytes: &[u8],
        hash: &[u8; 32],
        filer: &Filer,
        report: &mut PassReport,
    ) -> Result<Option<PassOutcome>, SyncError> {
        match self.send(registry, seq, bytes) {
            Ok(receipt) => {
                self.check_receipt(seq, hash, bytes.len(), &receipt, report)?;
                filer.file(seq, vec![receipt])?;
                Ok(None)
            }
            Err(CallError::Refused { error, .. })
                if codes::RECORD_REFUSALS.contains(&error.code.as_str()) =>
            {
                self.quarantine(seq, hash, &error.code, &error.detail);
                Ok(Some(self.blocked(seq)))
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Checks a receipt against the record sent (`hash`, `size` bytes) and counts the record
    /// as sent; the caller files it for the kiosk.
    fn check_receipt(
        &mut self,
        seq: u64,
        hash: &[u8; 32],
        size: usize,
        answer: &[u8],
        report: &mut PassReport,
    ) -> Result<(), SyncError> {
        let receipt = self.verify(answer)?;
        if receipt.kind == ReceiptKind::Standing || receipt.seq != seq || receipt.hash != *hash {
            return Err(SyncError::Untrusted(format!(
                "the receipt for seq {seq} names another record"
            )));
        }
        if receipt.kind == ReceiptKind::Refused {
            report.refused += 1;
        }
        report.sent += 1;
        report.bytes += size as u64;
        self.state.records_sent += 1;
        self.state.bytes_sent += size as u64;
        self.state.saw_registry_time(receipt.at);
        self.state.registry_seq = Some(seq);
        Ok(())
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
                    self.state.part_bytes = Some(self.part as u64);
                    return Err(other);
                }
            }
        }
    }

    fn adapt(&mut self, sent: usize, took: Duration) {
        self.part = part_for(sent, took);
        self.state.part_bytes = Some(self.part as u64);
    }

    /// How many batches may be on their way at once, by the link's speed as measured.
    fn in_flight(&self) -> usize {
        if self.part >= FAST_PART {
            FAST_IN_FLIGHT
        } else {
            IN_FLIGHT
        }
    }
}

/// The part that takes about [`PART_SECONDS`] on a link that moved `sent` bytes in `took`.
fn part_for(sent: usize, took: Duration) -> usize {
    let seconds = took.as_secs_f64().max(0.001);
    let rate = sent as f64 / seconds;
    ((rate * PART_SECONDS) as usize).clamp(MIN_PART, MAX_PART)
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
    /// How often an idle uplink calls the registry anyway: for a newer fleet policy, to send
    /// audit events, and to learn of a withdrawal.
    pub fleet_every: Duration,
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
                        wait_for_records(uplink, options.poll, options.fleet_every);
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

/// Sleeps until the outbox holds a record without a receipt or an audit file is waiting,
/// checking every `poll`; wakes at least every `fleet_every`, for the fleet policy and
/// certificate renewal.
fn wait_for_records(uplink: &Uplink, poll: Duration, fleet_every: Duration) {
    let started = Instant::now();
    while started.elapsed() < fleet_every {
        let waiting = match (uplink.spool.envelope_seqs(), uplink.spool.receipted()) {
            (Ok(seqs), Ok(receipted)) => seqs.into_iter().any(|seq| !receipted.contains(seq)),
            _ => true,
        };
        if waiting {
            return;
        }
        std::thread::sleep(poll);
    }
}
