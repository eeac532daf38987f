//! Face photo checks on each camera frame, after ICAO 9303 and ISO/IEC 19794-5 (full frontal):
//! exactly one face, the eyes, their distance, the head centred and level and facing the
//! camera, exposure and contrast on the face, sharpness, and a plain light background. Each
//! check is a measured value against its limits, with the advice to give when it fails; when
//! all pass, the token image (the standard's geometry: 240 x 320, eyes 60 pixels apart on a
//! level line 144 pixels down, centred) is cut and encoded as JPEG.
//!
//! Faces are found by SeetaFace's cascade (the `rustface` crate, model embedded), on the frame
//! scaled down to about 320 x 240: fast enough for a live preview on one core; grey levels are
//! lifted first, and a frame with no face found is tried again seen relative to its
//! surroundings, so deep skin tones on a light wall are found as often as light ones. Eyes are
//! where relative contrast gathers in each upper quarter of the face's box, then the iris
//! within it; light is judged on the face's own histogram (clipping, contrast against its own
//! highlights) and on the wall, never on fixed grey levels of the face: the same photo of a
//! person of any skin tone gets the same verdict (issue 18; tests/tests/face.rs measures it
//! per Monk Skin Tone group).

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
/// Grey level from which a pixel counts as blown out.
const CLIPPED: u8 = 250;
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

/// Grey levels as the detector sees them: the square root of the light (gamma 0.5). The
/// cascade missed most faces of the deepest skin tones on a light wall, whose features it saw
/// in the bottom few dozen grey levels; lifted, they span as many levels as a light face's
/// (issue 18). Built at compile time.
static LIFT: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut level = 0;
    while level < 256 {
        // Integer square root of level * 255, the largest r with r * r <= level * 255.
        let target = level * 255;
        let mut root = 0;
        while (root + 1) * (root + 1) <= target {
            root += 1;
        }
        table[level] = root as u8;
        level += 1;
    }
    table
};

/// Finds and checks faces; keep one for the whole preview (it holds the detector's buffers).
pub struct FaceChecker {
    detector: Box<dyn rustface::Detector>,
    /// The view of the frame (an index into [`VIEWS`]) that last showed a face: the preview
    /// is one person for many frames, so it is tried first and a deep-toned face costs one
    /// detection per frame, as a light one does.
    last_view: usize,
}

/// How the detector is shown a frame, in the order tried: lifted grey levels (`None`), then
/// the frame relative to its surroundings, which reach a sixteenth, a tenth and a
/// twenty-fourth of its width each way (the face's own size is not known yet).
const VIEWS: [Option<usize>; 4] = [None, Some(16), Some(10), Some(24)];

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
        Ok(Self {
            detector,
            last_view: 0,
        })
    }

    /// Face boxes in `frame`, in frame pixels.
    pub fn find_faces(&mut self, grey: &[u8], width: usize, height: usize) -> Vec<Region> {
        if width == 0 || height == 0 || grey.len() < width * height {
            return Vec::new();
        }
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
                small.push((sum / (step * step) as u32).min(255) as u8);
            }
        }
        // A deep-toned face against a light wall can stay too dark for the cascade even
        // lifted; seen relative to its surroundings it has a light face's contrast.
        let order = std::iter::once(self.last_view)
            .chain((0..VIEWS.len()).filter(|&view| view != self.last_view));
        let mut found = Vec::new();
        for view in order {
            let shown: Vec<u8> = match VIEWS.get(view).copied().flatten() {
                None => small.iter().map(|&v| LIFT[usize::from(v)]).collect(),
                Some(part) => relative_to_surroundings(&small, w, h, (w / part).max(1)),
            };
            found = self
                .detector
                .detect(&rustface::ImageData::new(&shown, w as u32, h as u32));
            if !found.is_empty() {
                self.last_view = view;
                break;
            }
        }
        let scale = step as f32;
        found
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
            // A face bleached or sunk into black is not found at all: say what is wrong with
            // the light before asking the person to look at the camera.
            let mut checks = frame_light(&grey);
            // After the count: an empty kiosk's plain wall is flat too, and the advice to give
            // then is to look at the camera.
            checks.insert(checks.len() - 1, count);
            return FaceReport {
                faces: faces.len(),
                face: None,
                eyes: None,
                checks,
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

/// Each pixel of a `width` x `height` grey picture divided by the mean of its surroundings
/// (`reach` pixels each way), so a face's features show at the same contrast whatever its
/// skin's reflectance.
fn relative_to_surroundings(grey: &[u8], width: usize, height: usize, reach: usize) -> Vec<u8> {
    let stride = width + 1;
    let mut sums = vec![0u32; stride * (height + 1)];
    for y in 0..height {
        let mut line = 0u32;
        for x in 0..width {
            line += u32::from(grey[y * width + x]);
            sums[(y + 1) * stride + x + 1] = sums[y * stride + x + 1] + line;
        }
    }
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let (y0, y1) = (y.saturating_sub(reach), (y + reach + 1).min(height));
        for x in 0..width {
            let (x0, x1) = (x.saturating_sub(reach), (x + reach + 1).min(width));
            let total = sums[y1 * stride + x1] + sums[y0 * stride + x0]
                - sums[y0 * stride + x1]
                - sums[y1 * stride + x0];
            let mean = total as f32 / ((x1 - x0) * (y1 - y0)) as f32;
            let value = 128.0 * f32::from(grey[y * width + x]) / (mean + 4.0);
            out.push(value.min(255.0) as u8);
        }
    }
    out
}

/// The whole frame's light, for when no face is found: too dim, mostly blown out, or washed
/// out.
fn frame_light(grey: &[u8]) -> Vec<Check> {
    // A histogram, not a sort: this runs on every frame while nobody stands at the kiosk.
    let mut counts = [0usize; 256];
    for &v in grey {
        counts[usize::from(v)] += 1;
    }
    let total = grey.len().max(1);
    let level = |share: f32| -> f32 {
        let wanted = (share * total as f32) as usize;
        let mut seen = 0;
        for (value, &count) in counts.iter().enumerate() {
            seen += count;
            if seen > wanted {
                return value as f32;
            }
        }
        255.0
    };
    let (shadows, highlights) = (level(0.01), level(0.99));
    let clipped = counts[usize::from(CLIPPED)..].iter().sum::<usize>() as f32 / total as f32;
    vec![
        // The scene's light as on a face: its brightest points.
        check(
            CheckKind::Exposure,
            highlights,
            Some(110.0),
            None,
            "More light on your face, please.",
            "",
        ),
        check(
            CheckKind::Exposure,
            clipped,
            None,
            Some(0.5),
            "",
            "Too much light on your face.",
        ),
        check(
            CheckKind::DynamicRange,
            (highlights - shadows) / highlights.max(1.0),
            Some(0.5),
            None,
            "The picture is too flat: more light, please.",
            "",
        ),
    ]
}

/// Eye-finding scale: the face box is sampled about this many times across.
const EYE_SAMPLES: f32 = 96.0;

/// Finds the eyes by what every eye has whatever the skin's tone: the strongest cluster of
/// relative contrast (iris against sclera, sclera against eyelids) in each upper quarter of
/// the face's box. Contrast is taken as a ratio (|a - b| / (a + b)), so scaling the skin's
/// reflectance, as a deeper tone or dimmer light does, leaves it unchanged; the darkest spot,
/// which this replaces, moved to the brows and hairline on dark skin (issue 18).
fn find_eyes(luma: &Luma<'_>, face: Region) -> Eyes {
    let step = (face.width / EYE_SAMPLES).max(1.0);
    let region = Region {
        x: face.x + 0.08 * face.width,
        y: face.y + 0.18 * face.height,
        width: 0.84 * face.width,
        height: 0.42 * face.height,
    };
    let energy = ContrastMap::new(luma, region, step);
    // An eye opening is about a fifth of the face wide and a fifteenth high.
    let window = (
        ((0.2 * face.width / step) as usize).max(3),
        ((0.07 * face.width / step) as usize).max(2),
    );
    let middle = face.x + face.width / 2.0;
    // The detector's box is about 2.6 eye distances wide, an iris a fifth of one across.
    let iris = 0.036 * face.width;
    Eyes {
        left: find_iris(luma, energy.peak(window, region.x, middle), iris),
        right: find_iris(
            luma,
            energy.peak(window, middle, region.x + region.width),
            iris,
        ),
    }
}

/// The iris near `around`: the spot most darker than the sclera on both its sides (a ratio
/// again, so the skin's tone does not move it), `radius` being the iris's expected radius.
fn find_iris(luma: &Luma<'_>, around: (f32, f32), radius: f32) -> (f32, f32) {
    let half = (radius / 2.0).max(1.0) as usize;
    let mean = |x: f32, y: f32| -> f32 {
        let (x, y) = (x.max(0.0) as usize, y.max(0.0) as usize);
        let (mut sum, mut n) = (0u32, 0u32);
        for yy in y.saturating_sub(half)..(y + half + 1).min(luma.height) {
            for xx in x.saturating_sub(half)..(x + half + 1).min(luma.width) {
                sum += u32::from(luma.at(xx, yy));
                n += 1;
            }
        }
        sum as f32 / n.max(1) as f32
    };
    // The sclera, between the iris's edge and the eye's corners.
    let reach = 1.5 * radius;
    let step = (radius / 4.0).max(1.0);
    let mut best = (f32::MIN, around);
    let mut dy = -0.7 * radius;
    while dy <= 0.7 * radius {
        let mut dx = -1.5 * radius;
        while dx <= 1.5 * radius {
            let (x, y) = (around.0 + dx, around.1 + dy);
            let centre = mean(x, y);
            let sides = mean(x - reach, y).min(mean(x + reach, y));
            let score = (sides - centre) / (sides + centre + 24.0);
            if score > best.0 {
                best = (score, (x, y));
            }
            dx += step;
        }
        dy += step;
    }
    best.1
}

/// Relative horizontal contrast on a coarse grid over a region, with its summed-area table.
struct ContrastMap {
    /// Frame position of grid cell (0, 0).
    origin: (f32, f32),
    /// Frame pixels per grid cell.
    step: f32,
    columns: usize,
    rows: usize,
    /// Summed-area table, (columns + 1) x (rows + 1).
    sums: Vec<f32>,
}

impl ContrastMap {
    fn new(luma: &Luma<'_>, region: Region, step: f32) -> Self {
        let (xs, ys) = luma.clip(region);
        let columns = (xs.len() as f32 / step) as usize;
        let rows = (ys.len() as f32 / step) as usize;
        let reach = (step.round() as usize).max(1);
        let mut sums = vec![0.0f32; (columns + 1) * (rows + 1)];
        for row in 0..rows {
            let y = ys.start + (row as f32 * step) as usize;
            let mut line = 0.0;
            for column in 0..columns {
                let x = xs.start + (column as f32 * step) as usize;
                let (a, b) = (
                    f32::from(luma.at(x.saturating_sub(reach), y)),
                    f32::from(luma.at((x + reach).min(luma.width - 1), y)),
                );
                // The floor keeps sensor noise in near-black from reading as contrast.
                line += (a - b).abs() / (a + b + 24.0);
                sums[(row + 1) * (columns + 1) + column + 1] =
                    sums[row * (columns + 1) + column + 1] + line;
            }
        }
        Self {
            origin: (xs.start as f32, ys.start as f32),
            step,
            columns,
            rows,
            sums,
        }
    }

    /// Sum over cells [x0, x1) x [y0, y1).
    fn sum(&self, x0: usize, y0: usize, x1: usize, y1: usize) -> f32 {
        let at = |x: usize, y: usize| self.sums[y * (self.columns + 1) + x];
        at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)
    }

    /// Centre, in frame pixels, of the `window` (cells) holding the most contrast, among
    /// windows centred between frame columns `from` and `to`.
    fn peak(&self, window: (usize, usize), from: f32, to: f32) -> (f32, f32) {
        let (width, height) = (window.0.min(self.columns), window.1.min(self.rows));
        let cell = |x: f32| ((x - self.origin.0) / self.step).max(0.0) as usize;
        let (first, last) = (cell(from), cell(to));
        let mut best = (f32::MIN, (from + to) / 2.0, self.origin.1);
        for y0 in 0..=(self.rows - height) {
            for x0 in 0..=(self.columns - width) {
                let centre = x0 + width / 2;
                if centre < first || centre >= last {
                    continue;
                }
                let total = self.sum(x0, y0, x0 + width, y0 + height);
                if total > best.0 {
                    best = (
                        total,
                        self.origin.0 + (x0 as f32 + width as f32 / 2.0) * self.step,
                        self.origin.1 + (y0 as f32 + height as f32 / 2.0) * self.step,
                    );
                }
            }
        }
        (best.1, best.2)
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
    values.sort_unstable();
    let (shadows, highlights) = (percentile(&values, 0.01), percentile(&values, 0.99));
    let range = highlights - shadows;
    // Contrast on the face's own scale: a deep-toned face spans fewer grey levels than a
    // light one under the same light, but the same share of its own brightest.
    let contrast = range / highlights.max(1.0);
    // Blown highlights: what a fixed ceiling on the mean grey level meant, without calling
    // a light-skinned face in good light too bright.
    let clipped =
        values.iter().filter(|&&v| v >= CLIPPED).count() as f32 / values.len().max(1) as f32;
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
    // The scene's light, read on the wall and on the face's highlights together: a deep
    // skin tone darkens the face, not the wall, nor (much) the face's brightest points,
    // while too little light darkens all three. The face's mean grey level, used before,
    // read deep skin as darkness (issue 18).
    let scene = if background.len() < 400 {
        highlights
    } else {
        light.max(highlights)
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
            Some(0.12),
            "",
            "Face the camera straight on.",
        ),
        check(
            CheckKind::Exposure,
            scene,
            Some(110.0),
            None,
            "More light on your face, please.",
            "",
        ),
        check(
            CheckKind::Exposure,
            clipped,
            None,
            Some(0.15),
            "",
            "Too much light on your face.",
        ),
        check(
            CheckKind::DynamicRange,
            contrast,
            Some(0.5),
            None,
            "The picture is too flat: more light, please.",
            "",
        ),
        check(
            CheckKind::Sharpness,
            sharpness,
            Some(6.3),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lift_is_the_square_root_of_the_light() {
        assert_eq!((LIFT[0], LIFT[255]), (0, 255));
        assert_eq!(LIFT[64], 127);
        assert!(LIFT.windows(2).all(|pair| pair[0] <= pair[1]));
    }

    #[test]
    fn relative_grey_levels_do_not_depend_on_the_skins_reflectance() {
        // A patch with a pattern in it on a light wall, once light and once at a third.
        let picture = |gain: f32| -> Vec<u8> {
            (0..80 * 60)
                .map(|i| {
                    let (x, y) = (i % 80, i / 80);
                    let inside = (20..60).contains(&x) && (15..45).contains(&y);
                    let level = if !inside {
                        210.0
                    } else if x % 8 < 4 {
                        gain * 180.0
                    } else {
                        gain * 90.0
                    };
                    level as u8
                })
                .collect()
        };
        let light = relative_to_surroundings(&picture(1.0), 80, 60, 5);
        let deep = relative_to_surroundings(&picture(0.33), 80, 60, 5);
        for (x, y) in [(32, 30), (37, 30), (45, 25)] {
            let (a, b) = (light[y * 80 + x], deep[y * 80 + x]);
            // Within 7%: the divisor's floor (kept against noise in black) weighs more on dark.
            assert!(a.abs_diff(b) <= 12, "({x}, {y}): {a} against {b}");
        }
    }

    /// A drawn face: skin of `tone`, brows at half of it, eyes with white sclera and a dark
    /// iris at (70, 80) and (130, 80) in a 200 x 200 box.
    fn drawn_face(tone: f32) -> Vec<u8> {
        (0..200 * 200)
            .map(|i| {
                let (x, y) = ((i % 200) as f32, (i / 200) as f32);
                let mut level = tone;
                for eye in [70.0, 130.0] {
                    if (y - 60.0).abs() < 5.0 && (x - eye).abs() < 22.0 {
                        level = tone * 0.5;
                    }
                    let (dx, dy) = ((x - eye) / 18.0, (y - 80.0) / 7.0);
                    if dx * dx + dy * dy <= 1.0 {
                        level = if (x - eye).abs() < 6.0 { 30.0 } else { 215.0 };
                    }
                }
                level as u8
            })
            .collect()
    }

    #[test]
    fn eyes_are_found_on_a_drawn_face_of_any_tone() {
        let face = Region {
            x: 0.0,
            y: 0.0,
            width: 200.0,
            height: 200.0,
        };
        for tone in [225.0, 140.0, 60.0, 35.0] {
            let pixels = drawn_face(tone);
            let luma = Luma {
                width: 200,
                height: 200,
                pixels: &pixels,
            };
            let eyes = find_eyes(&luma, face);
            for (found, expected) in [(eyes.left, (70.0, 80.0)), (eyes.right, (130.0, 80.0))] {
                let off = ((found.0 - expected.0).powi(2) + (found.1 - expected.1).powi(2)).sqrt();
                assert!(
                    off < 6.0,
                    "tone {tone}: eye at {found:?}, expected {expected:?}"
                );
            }
        }
    }

    #[test]
    fn a_short_buffer_finds_no_face_and_does_not_panic() {
        let Ok(mut checker) = FaceChecker::new() else {
            panic!("the embedded model loads");
        };
        assert!(checker.find_faces(&[0; 10], 640, 480).is_empty());
        assert!(checker.find_faces(&[], 0, 0).is_empty());
    }
}
