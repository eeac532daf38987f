//! Test fixtures: synthetic images and sample enrolments, deterministic by seed.
//!
//! Used by this crate's tests and by other crates' tests and benchmarks (always compiled: a
//! feature for it made every test build compile the whole crate a second time). The images only have to be real, decodable files of the right kind and
//! size; the realistic fingerprint generator belongs to the biometrics work. Fixtures are
//! made from constants, so a failure here is a bug in this file: they panic.
#![allow(clippy::expect_used)]

use time::macros::date;

use crate::biometrics::{self, ImageRole};
use crate::form::{
    Citizenship, Consent, ConsentGiver, Demographics, Disability, DocumentType, EducationLevel,
    EmploymentStatus, FingerPosition, IdentityDocument, MaritalStatus, Names, PlaceOfBirth,
    Residence, Sex, Staff,
};
use crate::record::{Enrolment, FingerCapture, FingerRecord};

/// A small deterministic generator (xorshift), so fixtures need no RNG crate.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u8 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 24) as u8
    }
}

/// A `width` x `height` JPEG of a head-and-shoulders shape on a light background.
pub fn face_photo_jpeg(width: u16, height: u16, seed: u64) -> Vec<u8> {
    let mut noise = Noise(seed | 1);
    let (w, h) = (f32::from(width), f32::from(height));
    let mut rgb = Vec::with_capacity(usize::from(width) * usize::from(height) * 3);
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (f32::from(x) / w - 0.5, f32::from(y) / h - 0.42);
            let head = (fx / 0.18).powi(2) + (fy / 0.24).powi(2) < 1.0;
            let shoulders = fy > 0.3 && fx.abs() < 0.4;
            let grain = noise.next() / 16;
            let pixel = if head {
                [150 + grain, 105 + grain, 80 + grain]
            } else if shoulders {
                [40 + grain, 60 + grain, 110 + grain]
            } else {
                [225 + grain / 2, 228 + grain / 2, 230 + grain / 2]
            };
            rgb.extend_from_slice(&pixel);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 88)
        .encode(&rgb, width, height, jpeg_encoder::ColorType::Rgb)
        .expect("JPEG fixture encodes");
    out
}

/// A `width` x `height` 8-bit grey PNG of ridge-like rings, shifted by `seed`.
pub fn fingerprint_png(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let mut noise = Noise(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let centre_x = width as f32 * (0.4 + (seed % 5) as f32 * 0.05);
    let centre_y = height as f32 * (0.45 + (seed % 3) as f32 * 0.05);
    let mut grey = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            let dx = x as f32 - centre_x;
            let dy = (y as f32 - centre_y) * 0.8;
            let angle = dy.atan2(dx);
            let radius = (dx * dx + dy * dy).sqrt() + 4.0 * (angle * 2.0).sin();
            let ridge = (radius / 9.0 * std::f32::consts::TAU).sin();
            let value = 128.0 + 90.0 * ridge + f32::from(noise.next() % 24) - 12.0;
            grey.push(value.clamp(0.0, 255.0) as u8);
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        encoder
            .write_header()
            .and_then(|mut writer| writer.write_image_data(&grey))
            .expect("PNG fixture encodes");
    }
    out
}

/// An adult Kenyan citizen's demographics that pass every rule.
pub fn adult_demographics() -> Demographics {
    Demographics {
        citizenship: Citizenship::Kenyan,
        document: IdentityDocument {
            kind: DocumentType::NationalId,
            number: "23456789".into(),
            nationality: None,
            introducer_name: None,
            mrz: None,
        },
        names: Names {
            surname: "Otieno".into(),
            first_name: "Achieng".into(),
            other_names: Some("Wanjiru".into()),
        },
        date_of_birth: date!(1988 - 07 - 21),
        sex: Sex::Female,
        place_of_birth: Some(PlaceOfBirth {
            county: Some(42),
            country: None,
        }),
        guardians: vec![],
        marital_status: MaritalStatus::Married,
        disability: Disability::None,
        education: EducationLevel::College,
        employment: EmploymentStatus::SelfEmployed,
        ethnic_group: "Luo".into(),
        residence: Residence {
            county: 42,
            sub_county: "Kisumu Central".into(),
            location: "Kondele".into(),
        },
        land_reference: None,
        house_number: Some("C7".into()),
        nssf: Some("2012345678".into()),
        nhif: Some("8765432".into()),
        kra_pin: Some("A004567891K".into()),
        amendment: None,
    }
}

/// A full adult enrolment: 640x480 JPEG photo and ten 256x288 prints, distinct by `seed`.
pub fn adult_enrolment(seed: u64) -> Enrolment {
    let photo = biometrics::check(face_photo_jpeg(640, 480, seed), ImageRole::FacePhoto);
    let fingerprints = FingerPosition::ALL
        .iter()
        .map(|position| {
            let bytes = fingerprint_png(256, 288, seed * 10 + *position as u64);
            let image = biometrics::check(bytes, ImageRole::Fingerprint).expect("print fixture");
            FingerRecord {
                position: *position,
                capture: FingerCapture::Image(image),
            }
        })
        .collect();
    Enrolment {
        demographics: adult_demographics(),
        consent: Consent {
            given: true,
            given_by: ConsentGiver::Applicant,
            text_version: "consent-2026-1".into(),
            language: "en".into(),
        },
        staff: Staff {
            operator: "OP-0042".into(),
            supervisor: None,
            approval: None,
            official: None,
        },
        photo: photo.expect("photo fixture"),
        fingerprints,
        photo_override: None,
        document_photo: None,
    }
}

/// A stand-in for the photo of an identity document: a 480 x 303 JPEG (an ID-1 card's shape),
/// distinct by `seed`.
pub fn document_photo(seed: u64) -> crate::biometrics::Image {
    let bytes = face_photo_jpeg(480, 303, seed);
    biometrics::check(bytes, ImageRole::DocumentPhoto).expect("document photo fixture")
}

/// An enrolment as the kiosk seals it: ten synthetic prints (256 x 288, WSQ at 0.75 bits per
/// pixel) and a 240 x 320 photo (`token_jpeg`, or the drawn stand-in when `None`).
pub fn compact_enrolment(seed: u64, token_jpeg: Option<Vec<u8>>) -> Enrolment {
    use crate::biometrics::grey::Grey;
    use crate::biometrics::synth::SyntheticFinger;
    use crate::biometrics::wsq;
    let mut enrolment = adult_enrolment(seed);
    let photo = token_jpeg.unwrap_or_else(|| face_photo_jpeg(240, 320, seed));
    enrolment.photo = biometrics::check(photo, ImageRole::FacePhoto).expect("photo fixture");
    for finger in &mut enrolment.fingerprints {
        let synthetic = SyntheticFinger::new(seed * 10 + finger.position as u64, 256, 288);
        let grey = Grey::new(256, 288, synthetic.impression(0)).expect("print size");
        let file = wsq::encode(&grey, wsq::DEFAULT_BITRATE, 500).expect("WSQ");
        let image = biometrics::check(file, ImageRole::Fingerprint).expect("WSQ fixture");
        finger.capture = FingerCapture::Image(image);
    }
    enrolment
}
