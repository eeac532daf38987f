//! Face photo checks on each camera frame, after ICAO 9303 and ISO/IEC 19794-5 (full frontal):
//! exactly one face, the eyes, their distance, the head centred and level and facing the
//! camera, exposure and contrast on the face, sharpness, and a plain light background. Each
//! check is a measured value against its limits, with the advice to give when it fails; when
//! all pass, the token image (the standard's geometry: 240 x 320, eyes 60 pixels apart on a
//! level line 144 pixels down, centred) is cut and encoded as JPEG.
//!
//! Faces are found by SeetaFace's cascade (the `rustface` crate, model embedded), on the frame
//! scaled down to about 320 x 240: fast enough for a live preview on one core. Eyes are the
//! darkest spots, after smoothing, in the two upper quarters of the face's box.

use serde::Serialize;

use super::photo::{PhotoError, Rgb};

/// The detection model (SeetaFace frontal, BSD 2-Clause; see app/models/README.md).
static MODEL: &[u8] = include_bytes!("../../models/seeta_fd_frontal_v1.0.bin");

/// Token image width.
pub const TOKEN_WIDTH: usize = 240;
/// Token image height (width / 0.75).
pub const TOKEN_HEIGHT: usize = 320;
/// Eye distance in the token image (a quarter of its width).
const TOKEN_EYES: f32 = 60.0;
/// Eye line in the token image, pixels from the top (0.6 of the width).
const TOKEN_EYE_LINE: f32 = 144.0;
/// JPEG quality of the token image: ~10 KB, faces still crisp at this size.
pub const TOKEN_QUALITY: u8 = 80;

/// A rectangle in frame pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Region {
    /// Left.
    pub x: f32,
    /// Top.
    pub y: f32,
    /// Width.
    pub width: f32,
    /// Height.
    pub height: f32,
}

/// Eye centres in frame pixels; `left` is the one on the frame's left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Eyes {
    /// The eye on the frame's left.
    pub left: (f32, f32),
    /// The eye on the frame's right.
    pub right: (f32, f32),
}

impl Eyes {
    fn distance(&self) -> f32 {
        let (dx, dy) = (self.right.0 - self.left.0, self.right.1 - self.left.1);
        (dx * dx + dy * dy).sqrt()
    }

    fn midpoint(&self) -> (f32, f32) {
        (
            (self.left.0 + self.right.0) / 2.0,
            (self.left.1 + self.right.1) / 2.0,
        )
    }

    /// Tilt of the eye line, degrees (positive: the frame's right eye lower).
    fn roll(&self) -> f32 {
        (self.right.1 - self.left.1)
            .atan2(self.right.0 - self.left.0)
            .to_degrees()
    }
}

/// What a check measures. The record names the checks a bedside photo failed with the same
/// type, so what the kiosk measured is what the record says.
pub use crate::form::FaceCheck as CheckKind;

/// One measured value against its limits.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// What was measured.
    pub kind: CheckKind,
    /// The value.
    pub value: f32,
    /// Lowest value that passes.
    pub min: Option<f32>,
    /// Highest value that passes.
    pub max: Option<f32>,
    /// Whether it passed.
    pub passed: bool,
    /// What to tell the person when it failed (English; the kiosk translates).
    pub advice: Option<&'static str>,
}

fn check(
    kind: CheckKind,
    value: f32,
    min: Option<f32>,
    max: Option<f32>,
    low: &'static str,
    high: &'static str,
) -> Check {
    // NaN fails too.
    let too_low = min.is_some_and(|m| value < m || value.is_nan());
    let too_high = max.is_some_and(|m| value > m);
    Check {
        kind,
        value,
        min,
        max,
        passed: !(too_low || too_high),
        advice: if too_low {
            Some(low)
        } else if too_high {
            Some(high)
        } else {
            None
        },
    }
}

/// The verdict on one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaceReport {
    /// Faces found.
    pub faces: usize,
    /// The face's box, when there is exactly one.
    pub face: Option<Region>,
    /// Its eyes.
    pub eyes: Option<Eyes>,
    /// Every check made, in the order to show their advice.
    pub checks: Vec<Check>,
}

impl FaceReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    /// The first advice to give, if any.
    pub fn advice(&self) -> Option<&'static str> {
        self.checks.iter().find_map(|c| c.advice)
    }
}

/// Finds and checks faces; keep one for the whole preview (it holds the detector's buffers).
pub struct FaceChecker {
    detector: Box<dyn rustface::Detector>,
}

impl std::fmt::Debug for FaceChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FaceChecker")
    }
}

/// A grey picture for the measurements.
struct Luma<'a> {
    width: usize,
    height: usize,
    pixels: &'a [u8],
}

impl Luma<'_> {
    fn at(&self, x: usize, y: usize) -> u8 {
        self.pixels[y * self.width + x]
    }

    /// Pixels of `region` clipped to the picture, as (x, y) ranges.
    fn clip(&self, region: Region) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let x0 = region.x.max(0.0) as usize;
        let y0 = region.y.max(0.0) as usize;
        let x1 = ((region.x + region.width).max(0.0) as usize).min(self.width);
        let y1 = ((region.y + region.height).max(0.0) as usize).min(self.height);
        (x0.min(x1)..x1, y0.min(y1)..y1)
    }

    fn values(&self, region: Region) -> Vec<u8> {
        let (xs, ys) = self.clip(region);
        ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
            .map(|(x, y)| self.at(x, y))
            .collect()
    }
}

fn mean_deviation(values: &[u8]) -> (f32, f32) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let n = values.len() as f32;
    let mean = values.iter().map(|&v| f32::from(v)).sum::<f32>() / n;
    let var = values
        .iter()
        .map(|&v| (f32::from(v) - mean).powi(2))
        .sum::<f32>()
        / n;
    (mean, var.sqrt())
}

impl FaceChecker {
    /// A checker with the embedded model.
    pub fn new() -> Result<Self, std::io::Error> {
        let model = rustface::read_model(MODEL)?;
        let mut detector = rustface::create_detector_with_model(model);
        detector.set_min_face_size(20);
        detector.set_score_thresh(2.0);
        detector.set_pyramid_scale_factor(0.8);
        detector.set_slide_window_step(4, 4);
        Ok(Self { detector })
    }

    /// Face boxes in `frame`, in frame pixels.
    pub fn find_faces(&mut self, grey: &[u8], width: usize, height: usize) -> Vec<Region> {
        // Detect at about 320 x 240: four times fewer windows than at 640 x 480.
        let step = (width.min(height) / 240).max(1);
        let (w, h) = (width / step, height / step);
        let mut small = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let mut sum = 0u32;
                for dy in 0..step {
                    let row = (y * step + dy) * width + x * step;
                    sum += grey[row..row + step]
                        .iter()
                        .map(|&v| u32::from(v))
                        .sum::<u32>();
                }
                small.push((sum / (step * step) as u32) as u8);
            }
        }
        let image = rustface::ImageData::new(&small, w as u32, h as u32);
        let scale = step as f32;
        self.detector
            .detect(&image)
            .iter()
            .map(|face| {
                let b = face.bbox();
                Region {
                    x: b.x() as f32 * scale,
                    y: b.y() as f32 * scale,
                    width: b.width() as f32 * scale,
                    height: b.height() as f32 * scale,
                }
            })
            .collect()
    }

    /// Checks one frame.
    pub fn check(&mut self, frame: &Rgb) -> FaceReport {
        let grey = frame.luma();
        let luma = Luma {
            width: frame.width(),
            height: frame.height(),
            pixels: &grey,
        };
        let faces = self.find_faces(&grey, luma.width, luma.height);
        let count = check(
            CheckKind::OneFace,
            faces.len() as f32,
            Some(1.0),
            Some(1.0),
            "Look straight at the camera.",
            "Only one person in the picture, please.",
        );
        let [face] = faces[..] else {
            return FaceReport {
                faces: faces.len(),
                face: None,
                eyes: None,
                checks: vec![count],
            };
        };
        let eyes = find_eyes(&luma, face);
        let mut checks = vec![count];
        checks.extend(measure(&luma, face, &eyes));
        FaceReport {
            faces: 1,
            face: Some(face),
            eyes: Some(eyes),
            checks,
        }
    }
}

/// The darkest spot (after a box blur) in each upper quarter of the face's box.
fn find_eyes(luma: &Luma<'_>, face: Region) -> Eyes {
    let radius = ((face.width / 30.0) as usize).max(1);
    let darkest = |x0: f32, x1: f32| -> (f32, f32) {
        let region = Region {
            x: face.x + x0 * face.width,
            y: face.y + 0.28 * face.height,
            width: (x1 - x0) * face.width,
            height: 0.27 * face.height,
        };
        let (xs, ys) = luma.clip(region);
        let mut best = (
            f32::MAX,
            (
                region.x + region.width / 2.0,
                region.y + region.height / 2.0,
            ),
        );
        for y in ys.clone().step_by(2) {
            for x in xs.clone().step_by(2) {
                let (mut sum, mut n) = (0u32, 0u32);
                for yy in y.saturating_sub(radius)..(y + radius + 1).min(luma.height) {
                    for xx in x.saturating_sub(radius)..(x + radius + 1).min(luma.width) {
                        sum += u32::from(luma.at(xx, yy));
                        n += 1;
                    }
                }
                let mean = sum as f32 / n.max(1) as f32;
                if mean < best.0 {
                    best = (mean, (x as f32, y as f32));
                }
            }
        }
        best.1
    };
    Eyes {
        left: darkest(0.12, 0.48),
        right: darkest(0.52, 0.88),
    }
}

fn percentile(sorted: &[u8], p: f32) -> f32 {
    if sorted.is_empty() {
        return 0.0;
    }
    f32::from(sorted[((sorted.len() - 1) as f32 * p) as usize])
}

fn measure(luma: &Luma<'_>, face: Region, eyes: &Eyes) -> Vec<Check> {
    let (w, h) = (luma.width as f32, luma.height as f32);
    let (mx, my) = eyes.midpoint();
    let distance = eyes.distance();
    // The face proper: the middle of the box (no hair, no background).
    let inner = Region {
        x: face.x + 0.2 * face.width,
        y: face.y + 0.2 * face.height,
        width: 0.6 * face.width,
        height: 0.7 * face.height,
    };
    let mut values = luma.values(inner);
    let (exposure, _) = mean_deviation(&values);
    values.sort_unstable();
    let range = percentile(&values, 0.99) - percentile(&values, 0.01);
    let sharpness = {
        // The Laplacian's reach grows with the face, so a close face (or one scaled up) is
        // judged at the same detail as a small one.
        let s = ((distance / 45.0).round() as usize).max(1);
        let (xs, ys) = luma.clip(inner);
        let (mut sum, mut n) = (0.0f32, 0.0f32);
        for y in ys.start.max(s)..ys.end.min(luma.height - s) {
            for x in xs.start.max(s)..xs.end.min(luma.width - s) {
                let centre = 4.0 * f32::from(luma.at(x, y));
                let around = f32::from(luma.at(x - s, y))
                    + f32::from(luma.at(x + s, y))
                    + f32::from(luma.at(x, y - s))
                    + f32::from(luma.at(x, y + s));
                sum += (centre - around).abs();
                n += 1.0;
            }
        }
        // Per unit of contrast, so a dim but sharp face is not called blurred.
        100.0 * sum / n.max(1.0) / range.max(1.0)
    };
    // Background: beside the head, from the top of the frame down to the eyes, clear of the
    // face's box by a third of its width on each side (hair, ears).
    let margin = face.width / 3.0;
    let left = Region {
        x: 0.0,
        y: 0.0,
        width: (face.x - margin).max(0.0),
        height: my,
    };
    let right = Region {
        x: face.x + face.width + margin,
        y: 0.0,
        width: (w - face.x - face.width - margin).max(0.0),
        height: my,
    };
    let mut background = luma.values(left);
    background.extend(luma.values(right));
    let (light, plain) = if background.len() < 400 {
        // No background to see: the face fills the frame (the distance check will say so).
        (255.0, 0.0)
    } else {
        mean_deviation(&background)
    };
    vec![
        check(
            CheckKind::EyeDistance,
            distance,
            Some(90.0),
            Some(0.3 * w),
            "Come a little closer to the camera.",
            "Move a little back from the camera.",
        ),
        check(
            CheckKind::Centred,
            (mx - w / 2.0).abs() / w,
            None,
            Some(0.1),
            "",
            "Move to the middle of the picture.",
        ),
        check(
            CheckKind::EyeHeight,
            my / h,
            Some(0.3),
            Some(0.6),
            "Lower your head a little, or the camera.",
            "Raise your head a little, or stand up straight.",
        ),
        check(
            CheckKind::Roll,
            eyes.roll().abs(),
            None,
            Some(8.0),
            "",
            "Keep your head straight, not tilted.",
        ),
        check(
            CheckKind::Frontal,
            (mx - (face.x + face.width / 2.0)).abs() / face.width,
            None,
            Some(0.08),
            "",
            "Face the camera straight on.",
        ),
        check(
            CheckKind::Exposure,
            exposure,
            Some(80.0),
            Some(200.0),
            "More light on your face, please.",
            "Too much light on your face.",
        ),
        check(
            CheckKind::DynamicRange,
            range,
            Some(128.0),
            None,
            "The picture is too flat: more light, please.",
            "",
        ),
        check(
            CheckKind::Sharpness,
            sharpness,
            Some(4.0),
            None,
            "Hold still for the picture.",
            "",
        ),
        check(
            CheckKind::BackgroundLight,
            light,
            Some(140.0),
            None,
            "Stand in front of a plain, light wall.",
            "",
        ),
        check(
            CheckKind::BackgroundPlain,
            plain,
            None,
            Some(30.0),
            "",
            "Stand in front of a plain, light wall.",
        ),
    ]
}

/// Cuts the token image (ISO/IEC 19794-5: eyes level, 60 pixels apart, their midpoint centred
/// and 144 pixels down) from `frame`. Where the geometry reaches past the frame, it is filled
/// with the frame's edge colour.
pub fn token_image(frame: &Rgb, eyes: &Eyes) -> Result<Rgb, PhotoError> {
    let (mx, my) = eyes.midpoint();
    let scale = eyes.distance() / TOKEN_EYES;
    let (sin, cos) = eyes.roll().to_radians().sin_cos();
    let mut pixels = Vec::with_capacity(TOKEN_WIDTH * TOKEN_HEIGHT * 3);
    for v in 0..TOKEN_HEIGHT {
        for u in 0..TOKEN_WIDTH {
            let (du, dv) = (
                (u as f32 - TOKEN_WIDTH as f32 / 2.0) * scale,
                (v as f32 - TOKEN_EYE_LINE) * scale,
            );
            // Rotate by the roll so the eye line comes out level.
            let (x, y) = (mx + du * cos - dv * sin, my + du * sin + dv * cos);
            let clamped = (
                x.clamp(0.0, (frame.width() - 1) as f32),
                y.clamp(0.0, (frame.height() - 1) as f32),
            );
            let colour = frame
                .sample(x, y)
                .or_else(|| frame.sample(clamped.0, clamped.1))
                .unwrap_or([200.0; 3]);
            pixels.extend(colour.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Rgb::new(TOKEN_WIDTH, TOKEN_HEIGHT, pixels)
}
