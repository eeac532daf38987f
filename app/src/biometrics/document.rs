//! The identity document held up to the camera: found in the frame, cut out, checked for
//! sharpness and glare, and compressed within a byte budget for the record.
//!
//! A card or a passport's data page is a bright, flat, four-cornered thing against whatever
//! is behind it (a hand, a shirt, a desk). It is found on a small copy of the frame's luma:
//! Otsu's threshold splits bright from dark, the largest bright region that stays inside the
//! frame is the candidate, its four corners are the extreme points along the diagonals, and it
//! counts as a document only if it fills the quadrilateral those corners make and has the
//! shape of an ID-1 card (85.6 x 54 mm) or an ID-3 passport page (125 x 88 mm). The region is
//! then cut out of the full frame, straightened by bilinear mapping of its corners (enough for
//! a document held roughly facing the camera), and judged: sharp enough to read (variance of
//! the Laplacian) and free of glare (share of clipped pixels).
//!
//! The pixels are a person's document: the buffers are [`Rgb`]s, wiped when dropped.

use std::fmt;

use zeroize::Zeroize;

use super::photo::{PhotoError, Rgb};
use crate::biometrics::{Image, ImageFormat};

/// Most bytes the document's JPEG may take in the record. A whole enrolment (token photo,
/// ten WSQ prints, demographics) was ~61 KB on the uplink before the document; this keeps it
/// under 120 KB with room to spare. 640 x 404 at JPEG quality 60-80 fits comfortably.
pub const BUDGET_BYTES: usize = 40_000;
/// Widest cut-out, pixels: about 190 dpi across an ID-1 card, enough to read its print.
pub const MAX_WIDTH: usize = 640;
/// Narrowest cut-out the kiosk keeps, pixels.
const MIN_WIDTH: usize = 240;
/// Width of the small copy the document is found on.
const WORKING_WIDTH: usize = 160;
/// The document must span at least this share of the frame's width.
const MIN_SPAN: f32 = 0.45;
/// Share of the corners' quadrilateral the bright region must fill.
const MIN_FILL: f32 = 0.88;
/// Largest relative difference between the measured and the expected aspect ratio.
const ASPECT_TOLERANCE: f32 = 0.10;
/// Least difference between the bright and the dark class's mean grey: below it, nothing
/// stands out from the background.
const MIN_CONTRAST: f32 = 40.0;
/// Variance of the Laplacian below which the print is too blurred to read.
pub const MIN_SHARPNESS: f32 = 150.0;
/// Grey level from which a pixel counts as clipped.
const CLIPPED: u8 = 250;
/// Largest share of clipped pixels on the document.
pub const MAX_GLARE: f32 = 0.01;
/// The first JPEG quality tried; lower ones follow until the budget is met.
const START_QUALITY: u8 = 80;
/// The lowest JPEG quality used before the picture is made smaller instead.
const LOWEST_QUALITY: u8 = 45;

/// The document's outline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// ISO/IEC 7810 ID-1: national ID, alien ID, driving licence (85.6 x 54 mm).
    IdCard,
    /// ISO/IEC 7810 ID-3: a passport's data page (125 x 88 mm).
    PassportPage,
}

impl Shape {
    /// Width over height.
    pub fn aspect(self) -> f32 {
        match self {
            Self::IdCard => 85.6 / 54.0,
            Self::PassportPage => 125.0 / 88.0,
        }
    }

    /// The shape whose aspect ratio `ratio` is, within the tolerance.
    fn of_ratio(ratio: f32) -> Option<Self> {
        [Self::IdCard, Self::PassportPage]
            .into_iter()
            .map(|shape| (shape, (ratio / shape.aspect() - 1.0).abs()))
            .filter(|(_, off)| *off <= ASPECT_TOLERANCE)
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(shape, _)| shape)
    }
}

/// Why the frame holds no usable document; each has its advice on the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DocumentProblem {
    /// Nothing bright and four-cornered stands out: no document held up, or it is against
    /// something as light as itself.
    NotFound,
    /// Part of it is outside the frame.
    CutOff,
    /// It is too small in the frame: held too far away.
    TooFar,
    /// Not a card's or a passport page's shape: tilted, bent, or held at an angle.
    WrongShape,
    /// Too blurred to read: moving, or too close for the camera to focus.
    Blurred,
    /// A reflection hides part of it.
    Glare,
}

impl DocumentProblem {
    /// Its code on the screens (`document-blurred`, ...).
    pub fn code(self) -> &'static str {
        match self {
            Self::NotFound => "document-not-found",
            Self::CutOff => "document-cut-off",
            Self::TooFar => "document-too-far",
            Self::WrongShape => "document-wrong-shape",
            Self::Blurred => "document-blurred",
            Self::Glare => "document-glare",
        }
    }
}

impl fmt::Display for DocumentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "no document found in the frame",
            Self::CutOff => "the document is partly outside the frame",
            Self::TooFar => "the document is too small in the frame",
            Self::WrongShape => "not the shape of an ID card or a passport page",
            Self::Blurred => "the document is too blurred to read",
            Self::Glare => "a reflection hides part of the document",
        })
    }
}

/// The four corners of the document in frame pixels, clockwise from the top left.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Corners(pub [(f32, f32); 4]);

impl Corners {
    fn side(&self, a: usize, b: usize) -> f32 {
        let (p, q) = (self.0[a], self.0[b]);
        ((p.0 - q.0).powi(2) + (p.1 - q.1).powi(2)).sqrt()
    }

    /// Mean width and height of the quadrilateral.
    pub fn size(&self) -> (f32, f32) {
        (
            (self.side(0, 1) + self.side(3, 2)) / 2.0,
            (self.side(0, 3) + self.side(1, 2)) / 2.0,
        )
    }

    /// Its area (shoelace formula).
    fn area(&self) -> f32 {
        let mut twice = 0.0;
        for i in 0..4 {
            let (p, q) = (self.0[i], self.0[(i + 1) % 4]);
            twice += p.0 * q.1 - q.0 * p.1;
        }
        twice.abs() / 2.0
    }

    /// The frame point at (`u`, `v`) across the document, each 0 to 1.
    fn at(&self, u: f32, v: f32) -> (f32, f32) {
        let [tl, tr, br, bl] = self.0;
        let top = (tl.0 + (tr.0 - tl.0) * u, tl.1 + (tr.1 - tl.1) * u);
        let bottom = (bl.0 + (br.0 - bl.0) * u, bl.1 + (br.1 - bl.1) * u);
        (
            top.0 + (bottom.0 - top.0) * v,
            top.1 + (bottom.1 - top.1) * v,
        )
    }
}

/// What one frame showed.
#[derive(Debug)]
pub struct DocumentReport {
    /// Where the document is, when one was found.
    pub corners: Option<Corners>,
    /// Its shape, when found.
    pub shape: Option<Shape>,
    /// Variance of the Laplacian on the cut-out (0 when none was cut).
    pub sharpness: f32,
    /// Share of clipped pixels on the cut-out.
    pub glare: f32,
    /// The first problem, or `None` when the document can be kept.
    pub problem: Option<DocumentProblem>,
    /// The straightened document, when one was found.
    pub cut_out: Option<Rgb>,
}

impl DocumentReport {
    /// Whether the document can be kept.
    pub fn passed(&self) -> bool {
        self.problem.is_none() && self.cut_out.is_some()
    }
}

/// Finds the document in `frame`, cuts it out and checks it.
pub fn inspect(frame: &Rgb) -> DocumentReport {
    let mut report = DocumentReport {
        corners: None,
        shape: None,
        sharpness: 0.0,
        glare: 0.0,
        problem: None,
        cut_out: None,
    };
    let (corners, shape) = match find(frame) {
        Ok(found) => found,
        Err(problem) => {
            report.problem = Some(problem);
            return report;
        }
    };
    report.corners = Some(corners);
    report.shape = Some(shape);
    let Some(cut) = cut_out(frame, &corners, shape) else {
        report.problem = Some(DocumentProblem::TooFar);
        return report;
    };
    let mut luma = cut.luma();
    report.sharpness = sharpness(&luma, cut.width(), cut.height());
    report.glare = glare(&luma);
    luma.zeroize();
    report.problem = if report.glare > MAX_GLARE {
        Some(DocumentProblem::Glare)
    } else if report.sharpness < MIN_SHARPNESS {
        Some(DocumentProblem::Blurred)
    } else {
        None
    };
    report.cut_out = Some(cut);
    report
}

/// A small grey copy of `frame`, each pixel the mean of a `step` x `step` block.
fn shrink(frame: &Rgb, step: usize) -> (Vec<f32>, usize, usize) {
    let luma = frame.luma();
    let (width, height) = (frame.width() / step, frame.height() / step);
    let mut small = vec![0.0f32; width * height];
    for y in 0..height {
        for x in 0..width {
            let mut sum = 0u32;
            for dy in 0..step {
                let row = (y * step + dy) * frame.width();
                for dx in 0..step {
                    sum += u32::from(luma[row + x * step + dx]);
                }
            }
            small[y * width + x] = sum as f32 / (step * step) as f32;
        }
    }
    let mut luma = luma;
    luma.zeroize();
    (small, width, height)
}

/// Otsu's threshold of `grey` (0-255), and the difference of the two classes' means.
fn otsu(grey: &[f32]) -> (f32, f32) {
    let mut histogram = [0u32; 256];
    for &g in grey {
        histogram[g.clamp(0.0, 255.0) as usize] += 1;
    }
    let total = grey.len() as f64;
    let sum: f64 = histogram
        .iter()
        .enumerate()
        .map(|(level, &count)| level as f64 * f64::from(count))
        .sum();
    let (mut below, mut below_sum) = (0.0f64, 0.0f64);
    let (mut best, mut best_between, mut best_gap) = (0usize, -1.0f64, 0.0f64);
    for (level, &count) in histogram.iter().enumerate() {
        below += f64::from(count);
        below_sum += level as f64 * f64::from(count);
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let (dark, bright) = (below_sum / below, (sum - below_sum) / above);
        let between = below * above * (bright - dark).powi(2);
        if between > best_between {
            (best, best_between, best_gap) = (level, between, bright - dark);
        }
    }
    (best as f32 + 0.5, best_gap as f32)
}

/// One bright region of the small copy.
struct Region {
    pixels: Vec<(usize, usize)>,
    touches_edge: bool,
}

/// The bright regions of `mask` (4-connected), largest first.
fn regions(mask: &[bool], width: usize, height: usize) -> Vec<Region> {
    let mut seen = vec![false; mask.len()];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut region = Region {
            pixels: Vec::new(),
            touches_edge: false,
        };
        while let Some(at) = stack.pop() {
            let (x, y) = (at % width, at / width);
            region.pixels.push((x, y));
            region.touches_edge |= x == 0 || y == 0 || x + 1 == width || y + 1 == height;
            let mut visit = |next: usize| {
                if mask[next] && !seen[next] {
                    seen[next] = true;
                    stack.push(next);
                }
            };
            if x > 0 {
                visit(at - 1);
            }
            if x + 1 < width {
                visit(at + 1);
            }
            if y > 0 {
                visit(at - width);
            }
            if y + 1 < height {
                visit(at + width);
            }
        }
        found.push(region);
    }
    found.sort_by_key(|region| std::cmp::Reverse(region.pixels.len()));
    found
}

/// The region's area with its holes filled (printing on a card is darker than the card):
/// per row, from its leftmost to its rightmost pixel.
fn filled_area(region: &Region, height: usize) -> usize {
    let mut spans = vec![(usize::MAX, 0usize); height];
    for &(x, y) in &region.pixels {
        let span = &mut spans[y];
        span.0 = span.0.min(x);
        span.1 = span.1.max(x);
    }
    spans
        .iter()
        .filter(|(left, _)| *left != usize::MAX)
        .map(|(left, right)| right - left + 1)
        .sum()
}

/// The extreme points of the region along the two diagonals, as corners in frame pixels.
fn corners_of(region: &Region, step: usize) -> Corners {
    let key = |(x, y): (usize, usize)| (x as i64 + y as i64, x as i64 - y as i64);
    let pick = |better: &dyn Fn((i64, i64), (i64, i64)) -> bool| {
        let mut best = region.pixels[0];
        for &p in &region.pixels {
            if better(key(p), key(best)) {
                best = p;
            }
        }
        best
    };
    let top_left = pick(&|a, b| a.0 < b.0);
    let bottom_right = pick(&|a, b| a.0 > b.0);
    let top_right = pick(&|a, b| a.1 > b.1);
    let bottom_left = pick(&|a, b| a.1 < b.1);
    // A small pixel's outer corner, in frame pixels: the corners lie on the region's edge.
    let scale = step as f32;
    let outer = |(x, y): (usize, usize), dx: f32, dy: f32| {
        ((x as f32 + dx) * scale, (y as f32 + dy) * scale)
    };
    let corners = [
        outer(top_left, 0.0, 0.0),
        outer(top_right, 1.0, 0.0),
        outer(bottom_right, 1.0, 1.0),
        outer(bottom_left, 0.0, 1.0),
    ];
    // In by one small pixel on each side: the outline is only known to within one, and a
    // sliver of background along the cut-out's edges is worse than a sliver of card margin.
    let centre = (
        corners.iter().map(|c| c.0).sum::<f32>() / 4.0,
        corners.iter().map(|c| c.1).sum::<f32>() / 4.0,
    );
    Corners(corners.map(|(x, y)| {
        (
            x + scale * (centre.0 - x).signum(),
            y + scale * (centre.1 - y).signum(),
        )
    }))
}

/// Finds the document: its corners in `frame` and its shape, or why there is none.
pub fn find(frame: &Rgb) -> Result<(Corners, Shape), DocumentProblem> {
    let step = frame.width().div_ceil(WORKING_WIDTH).max(1);
    let (mut grey, width, height) = shrink(frame, step);
    let found = locate(frame, &grey, (width, height), step);
    // A small copy, but still a picture of someone's document.
    grey.zeroize();
    found
}

/// [`find`] on `grey`, the frame shrunk by `step` to `size`.
fn locate(
    frame: &Rgb,
    grey: &[f32],
    (width, height): (usize, usize),
    step: usize,
) -> Result<(Corners, Shape), DocumentProblem> {
    if width < 8 || height < 8 {
        return Err(DocumentProblem::NotFound);
    }
    let (threshold, contrast) = otsu(grey);
    if contrast < MIN_CONTRAST {
        return Err(DocumentProblem::NotFound);
    }
    let mask: Vec<bool> = grey.iter().map(|&g| g > threshold).collect();
    let all = regions(&mask, width, height);
    let frame_area = (width * height) as f32;
    // Something small is print or a reflection, not a document.
    let big_enough = |region: &&Region| region.pixels.len() as f32 >= frame_area * 0.03;
    let Some(region) = all
        .iter()
        .filter(big_enough)
        .find(|region| !region.touches_edge)
    else {
        // A large bright region running off the frame (but not the whole background) is a
        // document held partly outside it.
        let cut_off = all
            .iter()
            .filter(big_enough)
            .any(|region| region.touches_edge && (region.pixels.len() as f32) < frame_area * 0.6);
        return Err(if cut_off {
            DocumentProblem::CutOff
        } else {
            DocumentProblem::NotFound
        });
    };
    let corners = corners_of(region, step);
    let (doc_width, doc_height) = corners.size();
    if doc_width < frame.width() as f32 * MIN_SPAN {
        return Err(DocumentProblem::TooFar);
    }
    let fill = (filled_area(region, height) * step * step) as f32 / corners.area().max(1.0);
    if fill < MIN_FILL || doc_height <= 0.0 {
        return Err(DocumentProblem::WrongShape);
    }
    let shape = Shape::of_ratio(doc_width / doc_height).ok_or(DocumentProblem::WrongShape)?;
    Ok((corners, shape))
}

/// The document straightened to its shape's aspect ratio, at most [`MAX_WIDTH`] wide (never
/// wider than it was in the frame: upscaling adds bytes, not detail). `None` when it is too
/// small to keep.
pub fn cut_out(frame: &Rgb, corners: &Corners, shape: Shape) -> Option<Rgb> {
    let (measured, _) = corners.size();
    let width = (measured.round() as usize).clamp(MIN_WIDTH, MAX_WIDTH);
    let height = (width as f32 / shape.aspect()).round() as usize;
    if measured < MIN_WIDTH as f32 * 0.75 {
        return None;
    }
    let mut pixels = Vec::with_capacity(width * height * 3);
    for row in 0..height {
        let v = (row as f32 + 0.5) / height as f32;
        for column in 0..width {
            let u = (column as f32 + 0.5) / width as f32;
            let (x, y) = corners.at(u, v);
            let x = x.clamp(0.0, (frame.width() - 1) as f32);
            let y = y.clamp(0.0, (frame.height() - 1) as f32);
            let colour = frame.sample(x, y).unwrap_or([0.0; 3]);
            pixels.extend(colour.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Rgb::new(width, height, pixels).ok()
}

/// Variance of the 4-neighbour Laplacian: high where print has crisp edges, low when blurred.
pub fn sharpness(luma: &[u8], width: usize, height: usize) -> f32 {
    if width < 3 || height < 3 || luma.len() != width * height {
        return 0.0;
    }
    let (mut sum, mut squares, mut count) = (0.0f64, 0.0f64, 0.0f64);
    for y in 1..height - 1 {
        for x in 1..width - 1 {
            let at = |xx: usize, yy: usize| f64::from(luma[yy * width + xx]);
            let laplacian =
                at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
            sum += laplacian;
            squares += laplacian * laplacian;
            count += 1.0;
        }
    }
    let mean = sum / count;
    (squares / count - mean * mean) as f32
}

/// Share of pixels at or above the clipping level: a reflection washes print out to white.
pub fn glare(luma: &[u8]) -> f32 {
    if luma.is_empty() {
        return 0.0;
    }
    luma.iter().filter(|&&g| g >= CLIPPED).count() as f32 / luma.len() as f32
}

/// Why the document could not be compressed within the budget.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompressError {
    /// The encoder failed (our bug, or memory).
    Encode(PhotoError),
    /// Even small and at low quality it does not fit: the budget is set too low.
    OverBudget {
        /// The smallest size reached.
        bytes: usize,
        /// The budget.
        budget: usize,
    },
}

impl fmt::Display for CompressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Encode(error) => write!(f, "{error}"),
            Self::OverBudget { bytes, budget } => write!(
                f,
                "the document photo takes {bytes} bytes at its smallest; the budget is {budget}"
            ),
        }
    }
}

impl std::error::Error for CompressError {}

/// `picture` scaled by `factor` (less than 1), by sampling.
fn scaled(picture: &Rgb, factor: f32) -> Option<Rgb> {
    let width = (picture.width() as f32 * factor).round() as usize;
    let height = (picture.height() as f32 * factor).round() as usize;
    let mut pixels = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let sx = ((x as f32 + 0.5) / factor - 0.5).clamp(0.0, (picture.width() - 1) as f32);
            let sy = ((y as f32 + 0.5) / factor - 0.5).clamp(0.0, (picture.height() - 1) as f32);
            let colour = picture.sample(sx, sy).unwrap_or([0.0; 3]);
            pixels.extend(colour.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Rgb::new(width, height, pixels).ok()
}

/// The document as a JPEG of at most `budget` bytes: the highest quality from 80 down to 45
/// that fits, else the picture made smaller (by a fifth at a time) and tried again.
pub fn compress(picture: &Rgb, budget: usize) -> Result<Image, CompressError> {
    let mut smaller: Option<Rgb> = None;
    let mut smallest = usize::MAX;
    for _ in 0..4 {
        let current = smaller.as_ref().unwrap_or(picture);
        let mut quality = START_QUALITY;
        loop {
            let mut jpeg = current.to_jpeg(quality).map_err(CompressError::Encode)?;
            if jpeg.len() <= budget {
                return Ok(Image {
                    format: ImageFormat::Jpeg,
                    width: current.width() as u32,
                    height: current.height() as u32,
                    data: jpeg,
                });
            }
            smallest = smallest.min(jpeg.len());
            jpeg.zeroize();
            if quality <= LOWEST_QUALITY {
                break;
            }
            quality = quality.saturating_sub(7).max(LOWEST_QUALITY);
        }
        match scaled(current, 0.8) {
            Some(next) => smaller = Some(next),
            None => break,
        }
    }
    Err(CompressError::OverBudget {
        bytes: smallest,
        budget,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::specimen::{Held, held_up};

    fn frame(held: &Held) -> Rgb {
        let pixels = held_up(640, 480, held);
        Rgb::new(640, 480, pixels).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_card_held_up_is_found_cut_out_and_passes() {
        let report = inspect(&frame(&Held::default()));
        assert_eq!(report.problem, None, "{report:?}");
        assert_eq!(report.shape, Some(Shape::IdCard));
        let cut = report.cut_out.as_ref().unwrap_or_else(|| panic!("no cut"));
        let ratio = cut.width() as f32 / cut.height() as f32;
        assert!((ratio - Shape::IdCard.aspect()).abs() < 0.02, "{ratio}");
        // The card spans 70% of 640 pixels: about 448 wide, kept at that size.
        assert!((420..=480).contains(&cut.width()), "{}", cut.width());
        assert!(report.sharpness >= MIN_SHARPNESS, "{}", report.sharpness);
    }

    #[test]
    fn a_tilted_card_is_still_found_and_its_corners_follow_the_tilt() {
        let report = inspect(&frame(&Held {
            tilt_degrees: 6.0,
            ..Held::default()
        }));
        assert_eq!(report.problem, None, "{report:?}");
        let corners = report.corners.unwrap_or_else(|| panic!("no corners"));
        // Turned clockwise: the top right corner is lower than the top left.
        assert!(corners.0[1].1 > corners.0[0].1 + 10.0, "{corners:?}");
    }

    #[test]
    fn a_passport_page_is_told_from_a_card_by_its_shape() {
        let report = inspect(&frame(&Held {
            shape: Shape::PassportPage,
            ..Held::default()
        }));
        assert_eq!(report.problem, None, "{report:?}");
        assert_eq!(report.shape, Some(Shape::PassportPage));
    }

    #[test]
    fn no_document_is_not_found() {
        let report = inspect(&frame(&Held {
            card: false,
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::NotFound));
        let flat = Rgb::new(640, 480, vec![128; 640 * 480 * 3]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(inspect(&flat).problem, Some(DocumentProblem::NotFound));
    }

    #[test]
    fn a_card_held_far_away_asks_to_come_closer() {
        let report = inspect(&frame(&Held {
            span: 0.3,
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::TooFar));
    }

    #[test]
    fn a_card_half_out_of_the_frame_is_cut_off() {
        let report = inspect(&frame(&Held {
            centre: (0.95, 0.5),
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::CutOff));
    }

    #[test]
    fn a_square_is_neither_card_nor_passport() {
        let report = inspect(&frame(&Held {
            aspect: Some(1.0),
            span: 0.5,
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::WrongShape));
    }

    #[test]
    fn a_blurred_card_is_refused_as_blurred() {
        let report = inspect(&frame(&Held {
            blur: 4,
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::Blurred), "{report:?}");
        assert!(report.sharpness < MIN_SHARPNESS);
    }

    #[test]
    fn a_reflection_on_the_card_is_refused_as_glare() {
        let report = inspect(&frame(&Held {
            glare: true,
            ..Held::default()
        }));
        assert_eq!(report.problem, Some(DocumentProblem::Glare), "{report:?}");
        assert!(report.glare > MAX_GLARE);
    }

    #[test]
    fn the_compressed_document_fits_its_budget_and_decodes() {
        let report = inspect(&frame(&Held::default()));
        let cut = report.cut_out.unwrap_or_else(|| panic!("no cut"));
        let image = compress(&cut, BUDGET_BYTES).unwrap_or_else(|e| panic!("{e}"));
        assert!(image.data.len() <= BUDGET_BYTES, "{}", image.data.len());
        let back = Rgb::decode(&image.data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (back.width() as u32, back.height() as u32),
            (image.width, image.height)
        );
        // A tight budget makes it smaller rather than fail.
        let tight = compress(&cut, 6_000).unwrap_or_else(|e| panic!("{e}"));
        assert!(tight.data.len() <= 6_000);
        assert!(tight.width < image.width || tight.data.len() < image.data.len());
        assert!(matches!(
            compress(&cut, 100),
            Err(CompressError::OverBudget { .. })
        ));
    }

    #[test]
    fn sharpness_and_glare_measure_what_they_say() {
        let (width, height) = (64, 64);
        let stripes: Vec<u8> = (0..width * height)
            .map(|i| if (i % width) % 2 == 0 { 40 } else { 200 })
            .collect();
        let flat = vec![120u8; width * height];
        assert!(sharpness(&stripes, width, height) > 10_000.0);
        assert_eq!(sharpness(&flat, width, height), 0.0);
        assert_eq!(sharpness(&flat, width, height + 1), 0.0);
        let mut bright = flat.clone();
        bright[..width * 8].fill(255);
        assert!((glare(&bright) - 0.125).abs() < 1e-6);
        assert_eq!(glare(&[]), 0.0);
    }
}
