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
//!   adjudication.
//!
//! Flags name the rule, never the applicant's data.

use anyhow::{Context, Result};
use hmac::{KeyInit, Mac};
use log::info;
use sajili_record::form::{self, Demographics};
use sajili_record::record::{Envelope, RegistrationNumber, decode_payload, sha256};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::store::{Arrival, Flag, Processed, Store};

/// A capture time this far past the registry's receipt of the record means the kiosk's clock
/// runs ahead (seconds; a little slack for clocks that drift).
const CLOCK_AHEAD_SLACK_S: i64 = 10 * 60;

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
    pub fn key_of(&self, demographics: &Demographics) -> Option<String> {
        let document = &demographics.document;
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

/// Checks one record; the flags it raises and its document key.
pub fn examine(
    arrival: &Arrival,
    identity: &age::x25519::Identity,
    keyer: &DocumentKeyer,
    now: i64,
) -> (Vec<Flag>, Option<String>) {
    let mut flags = Vec::new();
    let envelope = match Envelope::from_bytes(&arrival.bytes) {
        Ok(envelope) => envelope,
        Err(error) => {
            flags.push(flag(arrival, "bad_envelope", error.to_string(), now));
            return (flags, None);
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
            return (flags, None);
        }
    };
    if sha256(&plaintext) != envelope.payload_hash {
        flags.push(flag(
            arrival,
            "payload_hash_mismatch",
            "the payload is not the one the device signed",
            now,
        ));
        return (flags, None);
    }
    let payload = match decode_payload(&plaintext) {
        Ok(payload) => payload,
        Err(error) => {
            flags.push(flag(arrival, "payload_unreadable", error.to_string(), now));
            return (flags, None);
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
            if let Err(problems) = form::validate(&enrolment.application(&statuses), day.date()) {
                for problem in &problems.0 {
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
    (flags, keyer.key_of(&enrolment.demographics))
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
    let mut report = ProcessReport::default();
    loop {
        let arrivals = store.unprocessed(batch.max(1))?;
        if arrivals.is_empty() {
            break;
        }
        for arrival in &arrivals {
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let (flags, document_key) = examine(arrival, identity, &keyer, now);
            let stored = store
                .processed(&Processed {
                    device: &arrival.device,
                    seq: arrival.seq,
                    flags,
                    document_key,
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
