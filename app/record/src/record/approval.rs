//! What a supervisor's sign-off covers: one digest over the photo, the prints and the finger
//! exceptions exactly as they stood when the supervisor approved. The record carries it with
//! the supervisor's number; a record whose biometrics hash to anything else is not sealed, so
//! a photo or print retaken after the approval needs a new one.
//!
//! The bytes hashed (SHA-256), all integers big-endian:
//!
//! | bytes | what |
//! |---|---|
//! | 18 | `sajili-approval-1` and a zero byte |
//! | 1 | photo: 0 none, 1 present |
//! | 1 + 4 + 4 + 8 + n | if present: format (0 JPEG, 1 PNG, 2 WSQ), width, height, length, bytes |
//! | per finger, in the order given: | |
//! | 1 | position (ISO code, 1-10) |
//! | 1 | 0 nothing yet, 1 print, 2 exception |
//! | 1 + 4 + 4 + 8 + n | a print: as the photo |
//! | 1 | an exception: 0 missing, 1 amputated, 2 injured, 3 unusable, 4 temporarily unable |
//! | 4 + 1 + 1 | temporarily unable: the day to come back, year, month, day |
//! | if the photo's checks were overridden (nothing otherwise, so older digests stand): | |
//! | 1 | 3 |
//! | 1 | reason: 0 none yet, 1 lying down, 2 bandaged, 3 no plain background, 4 equipment |
//! | 1 + n | how many checks failed, then each check's index in `FaceCheck` order |

use sha2::{Digest, Sha256};

use super::envelope::hex;
use super::payload::{Enrolment, FingerCapture};
use crate::biometrics::{Image, ImageFormat};
use crate::form::{FingerException, FingerPosition, PhotoOverride, PhotoOverrideReason};

/// One finger as the supervisor saw it.
#[derive(Debug, Clone, Copy)]
pub enum FingerShown<'a> {
    /// Nothing taken and no exception yet.
    Nothing,
    /// The print kept.
    Print(&'a Image),
    /// Recorded as not capturable.
    Exception(FingerException),
}

fn image(hasher: &mut Sha256, image: &Image) {
    hasher.update([match image.format {
        ImageFormat::Jpeg => 0u8,
        ImageFormat::Png => 1,
        ImageFormat::Wsq => 2,
    }]);
    hasher.update(image.width.to_be_bytes());
    hasher.update(image.height.to_be_bytes());
    hasher.update((image.data.len() as u64).to_be_bytes());
    hasher.update(&image.data);
}

/// The digest of `photo`, `fingers` and the photo's override (hex), as laid out in the
/// module's table.
pub fn approval_digest<'a>(
    photo: Option<&Image>,
    fingers: impl IntoIterator<Item = (FingerPosition, FingerShown<'a>)>,
    photo_override: Option<&PhotoOverride>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"sajili-approval-1\0");
    match photo {
        Some(photo) => {
            hasher.update([1u8]);
            image(&mut hasher, photo);
        }
        None => hasher.update([0u8]),
    }
    for (position, shown) in fingers {
        hasher.update([position as u8]);
        match shown {
            FingerShown::Nothing => hasher.update([0u8]),
            FingerShown::Print(print) => {
                hasher.update([1u8]);
                image(&mut hasher, print);
            }
            FingerShown::Exception(reason) => {
                hasher.update([
                    2u8,
                    match reason {
                        FingerException::Missing => 0,
                        FingerException::Amputated => 1,
                        FingerException::Injured => 2,
                        FingerException::Unusable => 3,
                        FingerException::TemporarilyUnable { .. } => 4,
                    },
                ]);
                if let FingerException::TemporarilyUnable { return_on } = reason {
                    hasher.update(return_on.year().to_be_bytes());
                    hasher.update([return_on.month() as u8, return_on.day()]);
                }
            }
        }
    }
    if let Some(photo) = photo_override {
        hasher.update([
            3u8,
            match photo.reason {
                None => 0,
                Some(PhotoOverrideReason::LyingDown) => 1,
                Some(PhotoOverrideReason::Bandaged) => 2,
                Some(PhotoOverrideReason::NoPlainBackground) => 3,
                Some(PhotoOverrideReason::MedicalEquipment) => 4,
            },
        ]);
        // At most eleven checks exist; a longer list is hashed all the same, its count capped.
        hasher.update([photo.failed.len().min(255) as u8]);
        for check in &photo.failed {
            hasher.update([*check as u8]);
        }
    }
    hex(&hasher.finalize())
}

impl Enrolment {
    /// The digest a supervisor's approval of this enrolment's biometrics carries.
    pub fn approval_digest(&self) -> String {
        approval_digest(
            Some(&self.photo),
            self.fingerprints.iter().map(|finger| {
                (
                    finger.position,
                    match &finger.capture {
                        FingerCapture::Image(print) => FingerShown::Print(print),
                        FingerCapture::Exception(reason) => FingerShown::Exception(*reason),
                    },
                )
            }),
            self.photo_override.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_to_a_print_photo_or_exception_changes_the_digest() {
        let enrolment = crate::fixtures::adult_enrolment(1);
        let original = enrolment.approval_digest();
        assert_eq!(original.len(), 64);
        assert_eq!(original, enrolment.clone().approval_digest(), "stable");

        let mut retaken = enrolment.clone();
        retaken.photo.data[100] ^= 1;
        assert_ne!(retaken.approval_digest(), original);

        let mut reprinted = enrolment.clone();
        if let FingerCapture::Image(print) = &mut reprinted.fingerprints[3].capture {
            print.data.push(0);
        }
        assert_ne!(reprinted.approval_digest(), original);

        let mut excused = enrolment.clone();
        excused.fingerprints[3].capture = FingerCapture::Exception(FingerException::Injured);
        let injured = excused.approval_digest();
        excused.fingerprints[3].capture = FingerCapture::Exception(FingerException::Amputated);
        assert_ne!(injured, original);
        assert_ne!(injured, excused.approval_digest(), "the reason counts too");
    }

    #[test]
    fn the_day_to_come_back_and_the_photos_override_are_covered_too() {
        use crate::form::{FaceCheck, PhotoOverride, PhotoOverrideReason};
        use time::macros::date;
        let mut enrolment = crate::fixtures::adult_enrolment(2);
        let plain = enrolment.approval_digest();
        enrolment.fingerprints[1].capture =
            FingerCapture::Exception(FingerException::TemporarilyUnable {
                return_on: date!(2026 - 12 - 10),
            });
        let december = enrolment.approval_digest();
        enrolment.fingerprints[1].capture =
            FingerCapture::Exception(FingerException::TemporarilyUnable {
                return_on: date!(2026 - 12 - 11),
            });
        assert_ne!(december, enrolment.approval_digest(), "the day counts");
        assert_ne!(december, plain);

        let mut bedside = crate::fixtures::adult_enrolment(2);
        bedside.photo_override = Some(PhotoOverride {
            failed: vec![FaceCheck::BackgroundPlain],
            reason: Some(PhotoOverrideReason::LyingDown),
        });
        let lying = bedside.approval_digest();
        assert_ne!(lying, plain, "an override is part of what is approved");
        if let Some(photo) = bedside.photo_override.as_mut() {
            photo.reason = Some(PhotoOverrideReason::Bandaged);
        }
        assert_ne!(lying, bedside.approval_digest(), "and so is its reason");
    }
}
