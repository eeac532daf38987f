//! The plaintext inside a sealed envelope: one enrolment, encoded once as CBOR.
//!
//! Images travel as CBOR byte strings (`serde_bytes`), not arrays of numbers, so a 40 KB print
//! costs 40 KB. The random salt makes the payload hash in the envelope useless for guessing
//! what a record holds.

use serde::{Deserialize, Serialize};

use crate::biometrics::Image;
use crate::form::{
    Application, Consent, Demographics, FingerException, FingerPosition, FingerStatus, Staff,
};

/// The payload format this build writes.
pub const PAYLOAD_FORMAT: u16 = 1;

/// One finger: an image, or the reason there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FingerCapture {
    /// The captured print.
    Image(Image),
    /// Why no print was captured.
    Exception(FingerException),
}

/// One finger position and what was captured there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FingerRecord {
    /// Which finger.
    pub position: FingerPosition,
    /// Its capture.
    pub capture: FingerCapture,
}

/// Everything an applicant gives: what the journal holds while it is in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enrolment {
    /// The form.
    pub demographics: Demographics,
    /// Consent as given.
    pub consent: Consent,
    /// Operator and supervisor.
    pub staff: Staff,
    /// The face photo.
    pub photo: Image,
    /// The ten fingers.
    pub fingerprints: Vec<FingerRecord>,
}

impl Enrolment {
    /// Each finger's status, for [`crate::form::validate`].
    pub fn finger_statuses(&self) -> Vec<(FingerPosition, FingerStatus)> {
        self.fingerprints
            .iter()
            .map(|finger| {
                let status = match finger.capture {
                    FingerCapture::Image(_) => FingerStatus::Captured,
                    FingerCapture::Exception(reason) => FingerStatus::Exception(reason),
                };
                (finger.position, status)
            })
            .collect()
    }

    /// The form as the rules see it; `fingers` comes from [`Enrolment::finger_statuses`].
    pub fn application<'a>(
        &'a self,
        fingers: &'a [(FingerPosition, FingerStatus)],
    ) -> Application<'a> {
        Application {
            demographics: &self.demographics,
            consent: &self.consent,
            staff: &self.staff,
            fingers,
        }
    }

    /// Bytes of all images, to size buffers so that encoding never reallocates (a reallocation
    /// would leave an unwiped copy of the biometrics behind).
    pub fn image_bytes(&self) -> usize {
        let fingers: usize = self
            .fingerprints
            .iter()
            .map(|f| match &f.capture {
                FingerCapture::Image(image) => image.data.len(),
                FingerCapture::Exception(_) => 0,
            })
            .sum();
        self.photo.data.len() + fingers
    }
}

/// The sealed payload. `E` is `&Enrolment` when sealing (no copy of the images) and
/// `Enrolment` when opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload<E> {
    /// [`PAYLOAD_FORMAT`].
    pub format: u16,
    /// 16 random bytes.
    #[serde(with = "serde_bytes")]
    pub salt: Vec<u8>,
    /// The registration number given to the applicant.
    pub registration_number: String,
    /// When the record was sealed (the envelope's `created_at`).
    pub captured_at: i64,
    /// The enrolment.
    pub enrolment: E,
}
