//! The back office's pass over what arrived (`sajili-registry process --identity FILE`), on a
//! machine that holds the age identity the ingest nodes never see. For each record not yet
//! processed it decrypts the payload and checks what a kiosk could have got wrong or lied
//! about:
//!
//! - the payload's hash, format and registration number against the signed envelope, and its
//!   capture time against the envelope's and the registry's own receive time;
//! - every form rule again, with age counted on the day the registry received the record, so
//!   a kiosk clock pushed years ahead cannot make a child an adult;
//! - the identity document against every document seen before (a keyed hash, so the database
//!   alone cannot be searched for a number): the same document twice is flagged for
//!   adjudication;
//! - the assisted routes against the kind of centre the device serves (a prison's number only
//!   from a prison, a hospital's file number and a bedside photo only from a hospital).
//!
//! Records that took an assisted route are flagged for visibility too, not as faults: an
//! institution's reference or an introducer in place of a document (`document_stand_in`), a
//! photo whose checks were overridden (`photo_override`, with the checks and the reason), a
//! finger to come back for (`finger_return`, with the finger and the day). These
//! [`NOTICE_CODES`] are listed apart from the flags waiting for adjudication.
//!
//! Flags name the rule, never the applicant's data.

use std::collections::HashMap;

use anyhow::{Context, Result};
use hmac::{KeyInit, Mac};
use log::info;
use sajili_record::form::{self, Demographics, FingerException};
use sajili_record::policy::CentreKind;
use sajili_record::record::FingerCapture;
use sajili_record::record::{
    Envelope, PLACE_OF_BIRTH_FORMAT, RegistrationNumber, decode_payload, sha256,
};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::store::{Arrival, Flag, Processed, Store};

/// A capture time this far past the registry's receipt of the record means the kiosk's clock
/// runs ahead (seconds; a little slack for clocks that drift).
const CLOCK_AHEAD_SLACK_S: i64 = 10 * 60;

/// Flags raised for visibility of an assisted route, not for a fault: `stats` lists them
/// apart from those waiting for adjudication.
pub const NOTICE_CODES: [&str; 3] = ["document_stand_in", "photo_override", "finger_return"];

/// Whether a flag's code is one of [`NOTICE_CODES`].
pub fn is_notice(code: &str) -> bool {
    NOTICE_CODES.contains(&code)
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessReport {
    /// Records processed.
    pub records: u64,
    /// Of those, records with at least one flag.
    pub flagged: u64,
    /// Flags raised.
    pub flags: u64,
}

/// The key of the document index, derived from the identity: only the holder of the identity
/// can compute a document's key, so the index in the online database reveals nothing.
pub struct DocumentKeyer {
    key: Zeroizing<Vec<u8>>,
}

impl DocumentKeyer {
    /// Derives the index key from the identity's secret: HMAC-SHA256 keyed by the secret over
    /// a label, so the index key is bound to this purpose and reveals nothing of the identity.
    pub fn new(identity: &age::x25519::Identity) -> Self {
        use age::secrecy::ExposeSecret;
        let secret = identity.to_string();
        let key = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .map(|mut mac| {
                mac.update(b"sajili document index v1");
                mac.finalize().into_bytes().to_vec()
            })
            // HMAC takes a key of any length: this arm is never taken.
            .unwrap_or_default();
        Self {
            key: Zeroizing::new(key),
        }
    }

    /// The key of a document: its type and number, compared without spaces, dashes or case.
    /// An institution's reference or an introducer's number is no document of the applicant's
    /// (two prisons may number alike; one introducer vouches for many): it has no key.
    pub fn key_of(&self, demographics: &Demographics) -> Option<String> {
        let document = &demographics.document;
        if document.kind.stands_in() {
            return None;
        }
        let number: String = document
            .number
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect();
        if number.is_empty() {
            return None;
        }
        let kind = serde_json::to_string(&document.kind).ok()?;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(kind.as_bytes());
        mac.update(b"\n");
        mac.update(number.as_bytes());
        Some(sajili_record::record::hex(&mac.finalize().into_bytes()))
    }
}

fn flag(arrival: &Arrival, code: &str, detail: impl Into<String>, at: i64) -> Flag {
    Flag {
        device: arrival.device.clone(),
        seq: arrival.seq,
        code: code.to_string(),
        detail: detail.into(),
        at,
    }
}

/// Checks one record from a device of a centre of kind `centre` (a public office when the
/// device has no centre, as the kiosk assumes without a policy); the flags it raises and its
/// document key.
pub fn examine(
    arrival: &Arrival,
    identity: &age::x25519::Identity,
    keyer: &DocumentKeyer,
    centre: CentreKind,
    now: i64,
) -> (Vec<Flag>, Option<String>, Option<(String, u64)>) {
    let mut flags = Vec::new();
    let envelope = match Envelope::from_bytes(&arrival.bytes) {
        Ok(envelope) => envelope,
        Err(error) => {
            flags.push(flag(arrival, "bad_envelope", error.to_string(), now));
            return (flags, None, None);
        }
    };
    let plaintext = match age::decrypt(identity, &envelope.ciphertext) {
        Ok(plaintext) => Zeroizing::new(plaintext),
        Err(_) => {
            flags.push(flag(
                arrival,
                "undecryptable",
                "the record is not encrypted to this registry's identity",
                now,
            ));
            return (flags, None, None);
        }
    };
    if sha256(&plaintext) != envelope.payload_hash {
        flags.push(flag(
            arrival,
            "payload_hash_mismatch",
            "the payload is not the one the device signed",
            now,
        ));
        return (flags, None, None);
    }
    let payload = match decode_payload(&plaintext) {
        Ok(payload) => payload,
        Err(error) => {
            flags.push(flag(arrival, "payload_unreadable", error.to_string(), now));
            return (flags, None, None);
        }
    };
    match RegistrationNumber::parse(&payload.registration_number) {
        Ok(number) if number.device == envelope.device_id && number.seq == envelope.seq => {}
        _ => flags.push(flag(
            arrival,
            "registration_number_mismatch",
            format!(
                "the payload's registration number is not device {} record {}'s",
                envelope.device_id, envelope.seq
            ),
            now,
        )),
    }
    if payload.captured_at != envelope.created_at {
        flags.push(flag(
            arrival,
            "capture_time_mismatch",
            format!(
                "captured at {} but sealed at {}",
                payload.captured_at, envelope.created_at
            ),
            now,
        ));
    }
    if payload.captured_at > arrival.received_at + CLOCK_AHEAD_SLACK_S {
        flags.push(flag(
            arrival,
            "clock_ahead",
            format!(
                "captured {} s after the registry received it: the kiosk's clock runs ahead",
                payload.captured_at - arrival.received_at
            ),
            now,
        ));
    }
    // Age and every other rule on the day the registry received it, or the day of capture if
    // that is earlier: a clock ahead cannot make anyone older, one behind cannot make the
    // record later than it is.
    let checked_on = payload.captured_at.min(arrival.received_at);
    let enrolment = &payload.enrolment;
    match OffsetDateTime::from_unix_timestamp(checked_on) {
        Ok(day) => {
            let statuses = enrolment.finger_statuses();
            let application = enrolment.application(&statuses);
            let found = [
                form::validate(&application, day.date()),
                form::check_centre(&application, centre),
            ];
            for problems in found.into_iter().filter_map(Result::err) {
                for problem in &problems.0 {
                    // A record sealed before the place of birth was asked has none.
                    if payload.format < PLACE_OF_BIRTH_FORMAT
                        && problem.field.starts_with("place_of_birth")
                    {
                        continue;
                    }
                    flags.push(flag(
                        arrival,
                        "form_rule",
                        format!("{}: {:?}", problem.field, problem.kind),
                        now,
                    ));
                }
            }
        }
        Err(_) => flags.push(flag(arrival, "capture_time_invalid", "out of range", now)),
    }
    flags.extend(notices(arrival, enrolment, now));
    let amends = amended_record(arrival, enrolment, &mut flags, now);
    (flags, keyer.key_of(&enrolment.demographics), amends)
}

/// The flags that make an assisted route visible (see [`NOTICE_CODES`]). They name the route,
/// a check, a reason, a finger and a day: nothing that identifies the applicant.
fn notices(arrival: &Arrival, enrolment: &sajili_record::record::Enrolment, now: i64) -> Vec<Flag> {
    let mut flags = Vec::new();
    let kind = enrolment.demographics.document.kind;
    if kind.stands_in() {
        let kind = serde_json::to_value(kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let signed = enrolment
            .staff
            .official
            .as_ref()
            .map_or_else(String::new, |official| {
                format!(", signed off by {official}")
            });
        flags.push(flag(
            arrival,
            "document_stand_in",
            format!("{kind} in place of a document{signed}"),
            now,
        ));
    }
    if let Some(photo) = &enrolment.photo_override {
        let name = |value: serde_json::Result<serde_json::Value>| {
            value
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| "none".into())
        };
        let failed: Vec<String> = photo
            .failed
            .iter()
            .map(|check| name(serde_json::to_value(check)))
            .collect();
        flags.push(flag(
            arrival,
            "photo_override",
            format!(
                "photo taken although {} failed: {}, approved by {}",
                failed.join(", "),
                name(serde_json::to_value(photo.reason)),
                enrolment.staff.supervisor.as_deref().unwrap_or("nobody")
            ),
            now,
        ));
    }
    for finger in &enrolment.fingerprints {
        if let FingerCapture::Exception(FingerException::TemporarilyUnable { return_on }) =
            finger.capture
        {
            flags.push(flag(
                arrival,
                "finger_return",
                format!(
                    "{} temporarily unable: to come back on {return_on}",
                    finger.position.name()
                ),
                now,
            ));
        }
    }
    flags
}

/// The kind of each centre, by id, and each device's centre: what [`examine`] checks the
/// assisted routes against. A device of no centre, or of one no longer listed, is a public
/// office's, as the kiosk itself behaves without a policy.
struct Centres {
    kinds: HashMap<String, CentreKind>,
    devices: HashMap<String, CentreKind>,
}

impl Centres {
    fn read(store: &dyn Store) -> Result<Self> {
        let kinds = store
            .centres()?
            .into_iter()
            .map(|centre| (centre.id, centre.kind))
            .collect();
        Ok(Self {
            kinds,
            devices: HashMap::new(),
        })
    }

    fn of(&mut self, store: &dyn Store, device: &str) -> Result<CentreKind> {
        if let Some(kind) = self.devices.get(device) {
            return Ok(*kind);
        }
        let kind = store
            .device(device)?
            .and_then(|entry| entry.centre)
            .and_then(|centre| self.kinds.get(&centre).copied())
            .unwrap_or_default();
        self.devices.insert(device.to_owned(), kind);
        Ok(kind)
    }
}

/// The record an amendment names, as (device, seq); flagged when it names itself. Whether
/// the registry holds it is for [`run`], which has the store.
fn amended_record(
    arrival: &Arrival,
    enrolment: &sajili_record::record::Enrolment,
    flags: &mut Vec<Flag>,
    now: i64,
) -> Option<(String, u64)> {
    let amendment = enrolment.demographics.amendment.as_ref()?;
    // The rules already flagged a number that does not parse.
    let number = RegistrationNumber::parse(&amendment.amends).ok()?;
    let amended = (number.device.to_string(), number.seq);
    if (amended.0.as_str(), amended.1) == (arrival.device.as_str(), arrival.seq) {
        flags.push(flag(
            arrival,
            "amends_itself",
            "the record names itself as amended",
            now,
        ));
        return None;
    }
    Some(amended)
}

/// Processes every record not yet processed, `batch` at a time; `progress` hears the count so
/// far after each batch.
pub fn run(
    store: &dyn Store,
    identity: &age::x25519::Identity,
    batch: usize,
    mut progress: impl FnMut(&ProcessReport),
) -> Result<ProcessReport> {
    let keyer = DocumentKeyer::new(identity);
    let mut centres = Centres::read(store).context("read the centres")?;
    let mut report = ProcessReport::default();
    loop {
        let arrivals = store.unprocessed(batch.max(1))?;
        if arrivals.is_empty() {
            break;
        }
        for arrival in &arrivals {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let centre = centres
                .of(store, &arrival.device)
                .with_context(|| format!("read device {}", arrival.device))?;
            let (mut flags, document_key, amends) = examine(arrival, identity, &keyer, centre, now);
            if let Some((device, seq)) = &amends
                && store.record(device, *seq)?.is_none()
            {
                flags.push(flag(
                    arrival,
                    "amends_unknown",
                    format!("amends device {device} record {seq}, which is not held"),
                    now,
                ));
            }
            let stored = store
                .processed(&Processed {
                    device: &arrival.device,
                    seq: arrival.seq,
                    flags,
                    document_key,
                    amends,
                    at: now,
                })
                .with_context(|| {
                    format!("store the outcome of {} {}", arrival.device, arrival.seq)
                })?;
            report.records += 1;
            report.flagged += u64::from(!stored.is_empty());
            report.flags += stored.len() as u64;
            for flag in &stored {
                info!(
                    "flagged device {} record {}: {} ({})",
                    flag.device, flag.seq, flag.detail, flag.code
                );
            }
        }
        progress(&report);
    }
    Ok(report)
}
