//! The plaintext inside a sealed envelope: one enrolment, encoded once as CBOR.
//!
//! Images travel as CBOR byte strings (`serde_bytes`), not arrays of numbers, so a 40 KB print
//! costs 40 KB. The random salt makes the payload hash in the envelope useless for guessing
//! what a record holds.

use serde::{Deserialize, Serialize};

use crate::biometrics::Image;
use crate::form::{
    Application, Consent, Demographics, FingerException, FingerPosition, FingerStatus,
    PhotoOverride, Staff,
};

/// The payload format this build writes. 2 added the place of birth, a second parent or
/// guardian, parents' registration numbers, refugees' documents and amendments; 3 the photo
/// of the identity document and a passport's machine-readable line. Every one of them is
/// optional in the encoding, so an older payload reads as format 3 without them.
pub const PAYLOAD_FORMAT: u16 = 3;

/// The oldest payload format this build still reads.
pub const OLDEST_PAYLOAD_FORMAT: u16 = 1;

/// The payload format that made the place of birth a required field: records of earlier
/// formats were sealed without it and are not held to it.
pub const PLACE_OF_BIRTH_FORMAT: u16 = 2;

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
    /// The photo's failed checks and why they were overridden (assisted, at a hospital's
    /// bedside); absent in records from before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_override: Option<PhotoOverride>,
    /// The identity document as the kiosk's camera saw it, cut out and straightened (JPEG
    /// within the kiosk's byte budget); absent for documents with nothing to photograph (an
    /// institution's reference, an introducer), when none was taken, and in records of
    /// format 2 and earlier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_photo: Option<Image>,
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
            photo_override: self.photo_override.as_ref(),
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
        let document = self
            .document_photo
            .as_ref()
            .map_or(0, |image| image.data.len());
        self.photo.data.len() + fingers + document
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::decode_payload;

    fn encoded(format: u16, enrolment: &Enrolment) -> Vec<u8> {
        let mut bytes = Vec::new();
        let payload = Payload {
            format,
            salt: vec![7; 16],
            registration_number: "HWSA-QAY5-0001-M".into(),
            captured_at: 1_790_000_000,
            enrolment,
        };
        ciborium::into_writer(&payload, &mut bytes).unwrap_or_else(|e| panic!("{e}"));
        bytes
    }

    #[test]
    fn a_format_1_payload_without_the_new_fields_still_reads() {
        let mut old = crate::fixtures::adult_enrolment(3);
        old.demographics.place_of_birth = None;
        let read = decode_payload(&encoded(1, &old)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.format, 1);
        assert_eq!(read.enrolment.demographics.place_of_birth, None);
        assert_eq!(read.enrolment.demographics.amendment, None);
        assert_eq!(read.enrolment.document_photo, None);
        // Format 2 had no document photo: one without it reads as format 3.
        let read = decode_payload(&encoded(2, &old)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((read.format, read.enrolment.document_photo), (2, None));
        let mut new = crate::fixtures::adult_enrolment(3);
        new.document_photo = Some(crate::fixtures::document_photo(3));
        new.demographics.document.mrz = Some("L898902C36UTO7408122F1204159ZE184226B<<<<<10".into());
        let read = decode_payload(&encoded(PAYLOAD_FORMAT, &new)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(read.enrolment, new);
        assert!(decode_payload(&encoded(PAYLOAD_FORMAT + 1, &new)).is_err());
        assert!(decode_payload(&encoded(0, &new)).is_err());
    }
}
