//! Sealing one enrolment: validate, journal, seal in one transaction.

use std::fmt;

use crate::clock::kenyan_date;
use crate::device::Device;
use crate::form::{Problem, ProblemKind, Problems, validate};
use crate::record::{Enrolment, RegistrationNumber, SealError};
use crate::staff;
use crate::store::{AuditEvent, SealFailure, SealedBytes, StoreError};

/// A sealed enrolment: what the applicant is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedEnrolment {
    /// The number the applicant takes home.
    pub registration_number: RegistrationNumber,
    /// When it was sealed (clock floor applied), Unix seconds.
    pub created_at: i64,
}

/// Why an enrolment was not sealed. Nothing was sealed; a journalled draft stays in the journal.
#[derive(Debug)]
#[non_exhaustive]
pub enum EnrolError {
    /// The form breaks rules: every problem, each naming its field.
    Invalid(Problems),
    /// Sealing failed.
    Seal(SealError),
    /// The store failed.
    Store(StoreError),
    /// A saved draft cannot be opened: its journal key was replaced, or it is damaged.
    DraftUnreadable(String),
}

impl fmt::Display for EnrolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(problems) => write!(f, "the enrolment is not valid:\n{problems}"),
            Self::Seal(error) => error.fmt(f),
            Self::Store(error) => error.fmt(f),
            Self::DraftUnreadable(detail) => {
                write!(f, "a saved enrolment cannot be opened: {detail}")
            }
        }
    }
}

impl std::error::Error for EnrolError {}

/// Validates `enrolment` as captured at `now`, journals it, and seals it into the device's
/// chain, dated no earlier than `now` or the store's clock floor.
///
/// `now` must already have the clock floor applied ([`crate::clock::floored`]). The images in
/// `enrolment` are wiped when it is dropped here, sealed or not.
pub fn enrol(
    device: &Device,
    enrolment: Enrolment,
    now: i64,
) -> Result<SealedEnrolment, EnrolError> {
    check(device, &enrolment, now)?;

    let mut session_bytes = [0u8; 16];
    getrandom::fill(&mut session_bytes)
        .map_err(|e| EnrolError::Seal(SealError::Encrypt(e.to_string())))?;
    let session = u128::from_be_bytes(session_bytes);
    let draft = super::journal::encrypt_draft(device, &enrolment)?;
    device
        .store
        .journal_put(session, &draft)
        .map_err(EnrolError::Store)?;
    seal_session(device, enrolment, now, session)
}

/// Every rule a record must meet to be sealed here: the form's rules on the capture date,
/// then the sign-offs: the staff it names enabled in this device's roster, and the
/// supervisor's approval covering exactly these biometrics. Every problem at once.
fn check(device: &Device, enrolment: &Enrolment, now: i64) -> Result<(), EnrolError> {
    let fingers = enrolment.finger_statuses();
    let mut problems = match validate(&enrolment.application(&fingers), kenyan_date(now)) {
        Ok(()) => Vec::new(),
        Err(found) => found.0,
    };
    problems.extend(
        staff::roster_problems(&device.store, &enrolment.staff).map_err(EnrolError::Store)?,
    );
    let approved = enrolment.staff.approval.as_deref();
    if enrolment.staff.supervisor.is_some()
        && approved != Some(enrolment.approval_digest().as_str())
        && !problems.iter().any(|p| p.field == "staff.supervisor")
    {
        problems.push(Problem::new("staff.supervisor", ProblemKind::ApprovalStale));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(EnrolError::Invalid(Problems(problems)))
    }
}

/// Validates and seals `enrolment`, removing the journal entry `session` in the same
/// transaction: the kiosk's session, journalled screen by screen, ends with its record.
pub fn seal_session(
    device: &Device,
    enrolment: Enrolment,
    now: i64,
    session: u128,
) -> Result<SealedEnrolment, EnrolError> {
    check(device, &enrolment, now)?;

    let audit = AuditEvent {
        at: now,
        actor: enrolment.staff.operator.clone(),
        action: "record.sealed".into(),
        subject: String::new(),
    };
    let sealer = &device.sealer;
    let result = device.store.seal(Some(session), &audit, |context| {
        let created_at = now.max(context.clock_floor);
        let envelope = sealer.seal(&enrolment, context.slot, created_at)?;
        let bytes = envelope.to_bytes();
        Ok(SealedBytes {
            hash: crate::record::sha256(&bytes),
            bytes,
            created_at,
        })
    });
    match result {
        Ok((slot, sealed)) => {
            super::journal::rotate_key_if_idle(device);
            Ok(SealedEnrolment {
                registration_number: sealer.registration_number(slot),
                created_at: sealed.created_at,
            })
        }
        Err(SealFailure::Build(error)) => Err(EnrolError::Seal(error)),
        Err(SealFailure::Store(error)) => Err(EnrolError::Store(error)),
    }
}
