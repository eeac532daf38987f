//! Fingerprint quality on NFIQ 2's scale (0-100), computed on the device in a few
//! milliseconds, with the reasons a person can act on.
//!
//! Like NFIQ 2 (ISO/IEC 29794-4) it measures the print block by block (32 x 32 pixels at
//! 500 ppi): how much of the picture is finger, how clear the ridge-valley structure is (the
//! share of each block's cross-ridge profile at a ridge frequency), how certain and how smooth
//! the ridge orientation is, how far apart the ridges are, and whether the valleys are still
//! open. NFIQ 2 feeds its 69 features to a random forest; we combine six of ours with weights
//! fitted against NFIQ 2 itself (`nbis-py` 0.1.3) on the training part of the tests' quality
//! set only, so that the tests can judge the score on spoils and clean prints the fit never saw
//! (`scripts/fit-quality`, `tests/tests/quality.rs`). Ridge endings and forks are counted too,
//! for integrators.

use std::f32::consts::PI;
use std::fmt;

use serde::Serialize;

use super::grey::Grey;

/// Block side, pixels.
const BLOCK: usize = 32;
/// The bare glass of an R30x optical sensor, grey level: taken when no block of the picture
/// shows the glass itself.
const GLASS: f32 = 236.0;
/// Ridge periods counted as ridges, pixels at 500 ppi (0.2-0.6 mm... a child's to a labourer's).
const PERIODS: (f32, f32) = (3.8, 16.0);

/// What was measured, each a plain number the reasons and the score come from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Features {
    /// Finger area, in units of 100,000 pixels (the R30x sensor is 73,728).
    pub area: f32,
    /// Share of the picture that is finger, 0-1.
    pub area_share: f32,
    /// Mean ridge clarity over the finger, 0-1.
    pub clarity: f32,
    /// Share of the picture's blocks that are finger with clear ridges, 0-1.
    pub usable_share: f32,
    /// Area of finger with clear ridges, in units of 100,000 pixels.
    pub usable_area: f32,
    /// Mean orientation certainty over the finger, 0-1.
    pub certainty: f32,
    /// Mean change of ridge direction between neighbouring blocks, radians.
    pub flow_change: f32,
    /// Area of finger weighted by how clear its ridges are (each block counts from 0 for no
    /// ridge structure to 1 for clear, certain ridges), in units of 100,000 pixels.
    pub clear_area: f32,
    /// Median ridge period over the blocks with clear ridges, pixels (0 when there are none):
    /// about 9 for an adult at 500 ppi, 5-6 for a young child.
    pub ridge_period: f32,
    /// Mean contrast (grey-level standard deviation) over the finger.
    pub contrast: f32,
    /// Share of the finger's pixels darker than their block's mean: ~0.5 when ridges and
    /// valleys are equally wide, low when dry, high when wet.
    pub ridge_share: f32,
    /// Distance of the finger's centre from the picture's, as a share of the half-diagonal.
    pub off_centre: f32,
    /// Grey-level noise on the background (standard deviation).
    pub background_noise: f32,
    /// Mean grey level over the finger: dark when wet (valleys filled), light when dry.
    pub finger_grey: f32,
    /// Grey level of the bare glass (the median of the blocks that are not finger; the R30x's
    /// 236 when the finger covers the picture).
    pub glass_grey: f32,
    /// Ridge depth: the finger's contrast against how much darker than the glass it is, about
    /// 0.8-1.0 for a clean print whether firm or faint, low when a slide or blur mixes ridges
    /// into valleys (or wet skin fills them), high when thin dry ridges leave the finger
    /// nearly glass-light between sharp dark lines.
    pub ridge_depth: f32,
    /// Share of the finger darker than halfway between its valleys' and ridges' grey: 0.5 when
    /// ridges and valleys are as wide as each other, high when wet (valleys filled), low when
    /// dry (ridges thin and broken).
    pub dark_share: f32,
    /// Ridge endings and forks found inside the finger (minutiae, real and false).
    pub minutiae: u32,
    /// Minutiae per finger block: a clean print has a few, a dry or noisy one many false ones.
    pub minutia_density: f32,
}

/// Something the person can do better, with what was measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Reason {
    /// Too little of the finger touched the glass.
    LittleContact {
        /// Share of the picture that is finger.
        share: f32,
        /// Below this is too little.
        threshold: f32,
    },
    /// The finger is to one side.
    OffCentre {
        /// Distance from the centre, share of the half-diagonal.
        offset: f32,
        /// Above this is off-centre.
        threshold: f32,
    },
    /// Ridges thin and broken: dry skin or too light a touch.
    TooDry {
        /// Ridge depth (contrast against the finger's darkness below the glass).
        depth: f32,
        /// Above this is dry.
        threshold: f32,
    },
    /// Ridges run together: wet skin or pressing too hard.
    TooWet {
        /// Mean grey level over the finger.
        grey: f32,
        /// Below this is wet.
        threshold: f32,
    },
    /// Ridges blurred: the finger moved.
    Smudged {
        /// Ridge depth (contrast against the finger's darkness below the glass).
        depth: f32,
        /// Below this is smudged.
        threshold: f32,
    },
    /// The sensor's glass is dirty or the picture noisy.
    DirtySensor {
        /// Background noise, grey levels.
        noise: f32,
        /// Above this is dirty.
        threshold: f32,
    },
}

impl Reason {
    /// What to tell the person, in English (the kiosk translates).
    pub fn advice(&self) -> &'static str {
        match self {
            Self::LittleContact { .. } => "Place the whole top of your finger flat on the glass.",
            Self::OffCentre { .. } => "Move your finger to the middle of the glass.",
            Self::TooDry { .. } => "Your finger is dry: breathe on it or press a little harder.",
            Self::TooWet { .. } => "Your finger is wet: wipe it dry and press more gently.",
            Self::Smudged { .. } => "Keep your finger still until the light goes out.",
            Self::DirtySensor { .. } => "The glass needs cleaning: ask the operator.",
        }
    }
}

/// A quality verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    /// 0 (unusable) to 100, on NFIQ 2's scale.
    pub score: u8,
    /// What to do better, most important first; empty when nothing stands out.
    pub reasons: Vec<Reason>,
    /// The measurements.
    pub features: Features,
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "quality {}", self.score)?;
        for reason in &self.reasons {
            write!(f, "; {}", reason.advice())?;
        }
        Ok(())
    }
}

/// Less of the picture than this is finger: too little contact (a whole adult fingertip
/// covers 0.65-0.9 of an R30x's glass, a young child's about half).
const LITTLE_CONTACT_BELOW: f32 = 0.45;
/// The finger's centre further than this from the picture's (share of the half-diagonal).
const OFF_CENTRE_ABOVE: f32 = 0.22;
/// Ridge depth above this: dry (clean prints 0.8-1.05, firm or faint; dry ones 1.5 and up).
const DRY_ABOVE: f32 = 1.35;
/// Mean grey over the finger below this: wet.
const WET_BELOW: f32 = 135.0;
/// Ridge depth below this (not wet): smudged (a slid finger 0.6-0.75, a blur of 1.5 pixels
/// about 0.5).
const SMUDGED_BELOW: f32 = 0.78;
/// Background noise above this (grey levels): a dirty sensor.
const NOISY_ABOVE: f32 = 12.0;

/// MOSIP's default acceptance threshold for a finger.
pub const ACCEPT: u8 = 40;

/// One block's measurements.
#[derive(Debug, Clone, Copy, Default)]
struct Block {
    finger: bool,
    mean: f32,
    deviation: f32,
    certainty: f32,
    /// Ridge direction's normal (the gradient's), radians, doubled-angle vector.
    normal: (f32, f32),
    clarity: f32,
    /// Ridge period across the block, pixels.
    period: f32,
    ridge_share: f32,
    /// Share darker than halfway between the profile's ridge and valley.
    dark_share: f32,
}

/// The picture blurred (two passes of a 3 x 3 box, about a Gaussian of 1.2 pixels): sweat pores
/// and sensor grain, 2-3 pixels across, would otherwise swamp the ridge directions.
fn smoothed(picture: &Grey) -> Vec<f32> {
    blurred(
        picture.pixels().iter().map(|&p| f32::from(p)).collect(),
        picture.width(),
        picture.height(),
        2,
    )
}

/// `passes` passes of a 3 x 3 box blur.
fn blurred(mut a: Vec<f32>, w: usize, h: usize, passes: usize) -> Vec<f32> {
    let mut b = vec![0.0f32; a.len()];
    for _ in 0..passes {
        for y in 0..h {
            for x in 0..w {
                let (l, r) = (x.saturating_sub(1), (x + 1).min(w - 1));
                b[y * w + x] = (a[y * w + l] + a[y * w + x] + a[y * w + r]) / 3.0;
            }
        }
        for y in 0..h {
            let (u, d) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for x in 0..w {
                a[y * w + x] = (b[u * w + x] + b[y * w + x] + b[d * w + x]) / 3.0;
            }
        }
    }
    a
}

fn measure_block(picture: &Grey, smooth: &[f32], ridges: &[f32], bx: usize, by: usize) -> Block {
    let (x0, y0) = (bx * BLOCK, by * BLOCK);
    let width = picture.width();
    let pixels = picture.pixels();
    let at = |x: usize, y: usize| f32::from(pixels[y * width + x]);
    let n = (BLOCK * BLOCK) as f32;
    let (mut sum, mut squares) = (0.0f32, 0.0f32);
    for y in y0..y0 + BLOCK {
        for x in x0..x0 + BLOCK {
            let v = at(x, y);
            sum += v;
            squares += v * v;
        }
    }
    let mean = sum / n;
    let deviation = (squares / n - mean * mean).max(0.0).sqrt();
    let mut block = Block {
        mean,
        deviation,
        ..Block::default()
    };
    // Finger: textured, and either darker on average than the bare glass or, for light dry
    // prints, clearly ridged (decided below, once the profile is known).
    if deviation <= 12.0 {
        return block;
    }
    // Ridge direction from the structure tensor at two scales: ridges smoothed to their own
    // width (ragged edges otherwise read as uncertain direction), and barely smoothed (the
    // first scale blurs away a child's fine ridges, 5 pixels apart). The surer one counts.
    let broad_tensor = tensor(ridges, width, picture.height(), x0, y0);
    let fine_tensor = tensor(smooth, width, picture.height(), x0, y0);
    let (c2, s2, certainty) = if fine_tensor.2 > broad_tensor.2 {
        fine_tensor
    } else {
        broad_tensor
    };
    let anisotropy = (c2 * c2 + s2 * s2).sqrt();
    block.certainty = certainty;
    block.normal = if anisotropy > 0.0 {
        (c2 / anisotropy, s2 / anisotropy)
    } else {
        (1.0, 0.0)
    };
    let darker = (y0..y0 + BLOCK)
        .flat_map(|y| (x0..x0 + BLOCK).map(move |x| (x, y)))
        .filter(|&(x, y)| at(x, y) < mean)
        .count();
    block.ridge_share = darker as f32 / n;
    // The cross-ridge profile: mean grey at each distance along the normal.
    let angle = 0.5 * s2.atan2(c2);
    let (sin, cos) = angle.sin_cos();
    const BINS: usize = 46;
    let mut profile = [0.0f32; BINS];
    let mut counts = [0u16; BINS];
    let centre = (BLOCK as f32 - 1.0) / 2.0;
    for y in y0..y0 + BLOCK {
        for x in x0..x0 + BLOCK {
            let t = (x - x0) as f32 - centre;
            let u = (y - y0) as f32 - centre;
            let along = t * cos + u * sin + BINS as f32 / 2.0;
            let bin = along as usize;
            if bin < BINS {
                profile[bin] += at(x, y);
                counts[bin] += 1;
            }
        }
    }
    // Only bins that many pixels fall in (the block's corners give few).
    let used: Vec<f32> = profile
        .iter()
        .zip(&counts)
        .filter(|(_, c)| **c >= 8)
        .map(|(p, c)| p / f32::from(*c))
        .collect();
    (block.clarity, block.period) = ridge_clarity(&used);
    // Ridge width against valley width: the share of the block darker than halfway between
    // the profile's darkest and lightest (a ridge's and a valley's mean grey), judged on the
    // lightly smoothed picture so that grain does not decide.
    let (dark, light) = used
        .iter()
        .fold((f32::MAX, f32::MIN), |(d, l), &v| (d.min(v), l.max(v)));
    if light > dark {
        let halfway = 0.5 * (dark + light);
        let darker = (y0..y0 + BLOCK)
            .flat_map(|y| (x0..x0 + BLOCK).map(move |x| y * width + x))
            .filter(|&i| smooth[i] < halfway)
            .count();
        block.dark_share = darker as f32 / n;
    }
    block.finger = mean < 210.0 || block.clarity > 0.45;
    block
}

/// The block's structure tensor from central differences of `image`: the doubled-angle
/// vector of the ridges' normal, (gxx - gyy, 2 gxy), and its certainty (0 for no direction,
/// 1 for perfectly parallel ridges).
fn tensor(image: &[f32], width: usize, height: usize, x0: usize, y0: usize) -> (f32, f32, f32) {
    let (mut gxx, mut gyy, mut gxy) = (0.0f32, 0.0f32, 0.0f32);
    for y in y0..y0 + BLOCK {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(height - 1));
        for x in x0..x0 + BLOCK {
            let (left, right) = (x.saturating_sub(1), (x + 1).min(width - 1));
            let gx = image[y * width + right] - image[y * width + left];
            let gy = image[down * width + x] - image[up * width + x];
            gxx += gx * gx;
            gyy += gy * gy;
            gxy += gx * gy;
        }
    }
    let (c2, s2) = (gxx - gyy, 2.0 * gxy);
    let energy = gxx + gyy;
    let certainty = if energy > 0.0 {
        (c2 * c2 + s2 * s2).sqrt() / energy
    } else {
        0.0
    };
    (c2, s2, certainty)
}

/// Share of a profile's variation at ridge frequencies (near 1 for clean ridges, near 0 for
/// noise or a blur), and the ridge period there, pixels (0 when there is no profile).
fn ridge_clarity(profile: &[f32]) -> (f32, f32) {
    let len = profile.len();
    if len < 16 {
        return (0.0, 0.0);
    }
    let mean = profile.iter().sum::<f32>() / len as f32;
    let total: f32 = profile.iter().map(|v| (v - mean) * (v - mean)).sum();
    if total <= f32::EPSILON {
        return (0.0, 0.0);
    }
    // Power at each whole number of cycles across the profile, the best ridge frequency's
    // with its neighbours (a period between two bins spreads over both).
    let power = |k: usize| -> f32 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, v) in profile.iter().enumerate() {
            let phase = 2.0 * PI * (k * i) as f32 / len as f32;
            re += (v - mean) * phase.cos();
            im += (v - mean) * phase.sin();
        }
        2.0 * (re * re + im * im) / len as f32
    };
    let lowest = (len as f32 / PERIODS.1).ceil() as usize;
    let highest = (len as f32 / PERIODS.0).floor() as usize;
    let powers: Vec<f32> = (1..=len / 2).map(power).collect();
    let (mut best, mut period) = (0.0f32, 0.0f32);
    for k in lowest.max(1)..=highest.min(len / 2) {
        let band = k.saturating_sub(1).max(1)..=(k + 1).min(len / 2);
        let around: f32 = band.clone().map(|j| powers[j - 1]).sum();
        if around > best {
            best = around;
            // The band's frequency weighted by its power: between the whole numbers of cycles.
            let cycles: f32 = band.map(|j| j as f32 * powers[j - 1]).sum::<f32>();
            period = len as f32 * around / cycles.max(f32::EPSILON);
        }
    }
    ((best / total).min(1.0), period)
}

/// Measures a 500 ppi print.
pub fn features(picture: &Grey) -> Features {
    let (across, down) = (picture.width() / BLOCK, picture.height() / BLOCK);
    let smooth = smoothed(picture);
    // Directions from a picture smoothed to the scale of the ridges themselves (sigma ~2
    // pixels): real ridges' ragged edges otherwise read as uncertain direction.
    let ridges = blurred(smooth.clone(), picture.width(), picture.height(), 3);
    let blocks: Vec<Block> = (0..down)
        .flat_map(|by| (0..across).map(move |bx| (bx, by)))
        .map(|(bx, by)| measure_block(picture, &smooth, &ridges, bx, by))
        .collect();
    let total = blocks.len().max(1) as f32;
    let finger: Vec<(usize, &Block)> = blocks
        .iter()
        .enumerate()
        .filter(|(_, b)| b.finger)
        .collect();
    let count = finger.len() as f32;
    let mean_of = |f: fn(&Block) -> f32| -> f32 {
        if finger.is_empty() {
            0.0
        } else {
            finger.iter().map(|(_, b)| f(b)).sum::<f32>() / count
        }
    };
    let usable = finger
        .iter()
        .filter(|(_, b)| b.clarity > 0.55 && b.certainty > 0.45)
        .count() as f32;
    let grade = |value: f32| ((value - 0.35) / 0.4).clamp(0.0, 1.0);
    // Ridges that have spread over most of the valleys (wet skin, pressing hard) leave no
    // valley to follow: a block whose dark half-tone covers 0.5 of it counts whole, 0.7 not
    // at all. A principle, not a fit: the fit's prints have no wet ones.
    let open_valleys = |dark: f32| (1.0 - (dark - 0.5) / 0.2).clamp(0.0, 1.0);
    let clear: f32 = finger
        .iter()
        .map(|(_, b)| grade(b.clarity) * grade(b.certainty) * open_valleys(b.dark_share))
        .sum();
    let mut periods: Vec<f32> = finger
        .iter()
        .filter(|(_, b)| b.clarity > 0.55 && b.certainty > 0.45)
        .map(|(_, b)| b.period)
        .collect();
    periods.sort_by(f32::total_cmp);
    let ridge_period = periods.get(periods.len() / 2).copied().unwrap_or(0.0);
    // Orientation flow: the angle between each finger block's ridges and its right and lower
    // neighbours' (doubled-angle vectors, so 0 and 180 degrees agree).
    let (mut change, mut pairs) = (0.0f32, 0.0f32);
    for &(i, b) in &finger {
        let (bx, by) = (i % across.max(1), i / across.max(1));
        for j in [
            (bx + 1 < across).then(|| i + 1),
            (by + 1 < down).then(|| i + across),
        ]
        .into_iter()
        .flatten()
        {
            if blocks[j].finger {
                let n = blocks[j].normal;
                let dot = (b.normal.0 * n.0 + b.normal.1 * n.1).clamp(-1.0, 1.0);
                change += 0.5 * dot.acos();
                pairs += 1.0;
            }
        }
    }
    let (mut cx, mut cy) = (0.0, 0.0);
    for &(i, _) in &finger {
        cx += ((i % across.max(1)) as f32 + 0.5) * BLOCK as f32;
        cy += ((i / across.max(1)) as f32 + 0.5) * BLOCK as f32;
    }
    let (w, h) = (picture.width() as f32, picture.height() as f32);
    let off_centre = if finger.is_empty() {
        1.0
    } else {
        let (dx, dy) = (cx / count - w / 2.0, cy / count - h / 2.0);
        (dx * dx + dy * dy).sqrt() / (0.5 * (w * w + h * h).sqrt())
    };
    // Bare glass: light blocks that are not finger and have no finger beside them (a block at
    // the finger's rim is textured by the rim, not by noise).
    let glass_only = |i: usize| -> bool {
        let (bx, by) = (i % across.max(1), i / across.max(1));
        let beside = [
            bx.checked_sub(1).map(|x| by * across + x),
            (bx + 1 < across).then(|| i + 1),
            by.checked_sub(1).map(|y| y * across + bx),
            (by + 1 < down).then(|| i + across),
        ];
        !blocks[i].finger
            && blocks[i].mean > 200.0
            && beside.into_iter().flatten().all(|j| !blocks[j].finger)
    };
    let mut background: Vec<f32> = (0..blocks.len())
        .filter(|&i| glass_only(i))
        .map(|i| blocks[i].deviation)
        .collect();
    // The median, so that a stray textured block does not decide.
    background.sort_by(f32::total_cmp);
    let background_noise = background.get(background.len() / 2).copied().unwrap_or(0.0);
    let mut glass: Vec<f32> = blocks
        .iter()
        .filter(|b| !b.finger && b.mean > 200.0)
        .map(|b| b.mean)
        .collect();
    glass.sort_by(f32::total_cmp);
    let glass_grey = glass.get(glass.len() / 2).copied().unwrap_or(GLASS);
    let finger_grey = mean_of(|b| b.mean);
    let contrast = mean_of(|b| b.deviation);
    let ridge_depth = if finger.is_empty() {
        0.0
    } else {
        contrast / (glass_grey - finger_grey).max(1.0)
    };
    let (minutiae, inner_blocks) = count_minutiae(
        &smooth,
        picture.width(),
        picture.height(),
        &blocks,
        across,
        down,
    );
    Features {
        minutiae,
        minutia_density: if inner_blocks > 0 {
            minutiae as f32 / inner_blocks as f32
        } else {
            0.0
        },
        area: count * (BLOCK * BLOCK) as f32 / 100_000.0,
        area_share: count / total,
        clarity: mean_of(|b| b.clarity),
        usable_share: usable / total,
        usable_area: usable * (BLOCK * BLOCK) as f32 / 100_000.0,
        clear_area: clear * (BLOCK * BLOCK) as f32 / 100_000.0,
        ridge_period,
        certainty: mean_of(|b| b.certainty),
        flow_change: if pairs > 0.0 {
            change / pairs
        } else {
            PI / 2.0
        },
        contrast,
        ridge_share: mean_of(|b| b.ridge_share),
        dark_share: mean_of(|b| b.dark_share),
        off_centre,
        background_noise,
        finger_grey,
        glass_grey,
        ridge_depth,
    }
}

/// Counts ridge endings and forks on the thinned ridges of the finger's inner blocks (those
/// whose four neighbours are finger too: the finger's outline would count as endings).
/// Returns the count and the number of inner blocks.
fn count_minutiae(
    smooth: &[f32],
    width: usize,
    height: usize,
    blocks: &[Block],
    across: usize,
    down: usize,
) -> (u32, usize) {
    let finger = |bx: isize, by: isize| -> bool {
        bx >= 0
            && by >= 0
            && (bx as usize) < across
            && (by as usize) < down
            && blocks[by as usize * across + bx as usize].finger
    };
    // Ridges: darker than their block's mean, on a picture smoothed further so that pores and
    // grain do not split ridges.
    let smooth = blurred(smooth.to_vec(), width, height, 2);
    let mut ridge = vec![false; width * height];
    for by in 0..down {
        for bx in 0..across {
            let block = &blocks[by * across + bx];
            if !block.finger {
                continue;
            }
            for y in by * BLOCK..(by + 1) * BLOCK {
                for x in bx * BLOCK..(bx + 1) * BLOCK {
                    ridge[y * width + x] = smooth[y * width + x] < block.mean;
                }
            }
        }
    }
    thin(&mut ridge, width, height);
    let mut count = 0u32;
    let mut inner = 0usize;
    for by in 0..down as isize {
        for bx in 0..across as isize {
            let inside = finger(bx, by)
                && finger(bx - 1, by)
                && finger(bx + 1, by)
                && finger(bx, by - 1)
                && finger(bx, by + 1);
            if !inside {
                continue;
            }
            inner += 1;
            let (bx, by) = (bx as usize, by as usize);
            for y in by * BLOCK..(by + 1) * BLOCK {
                for x in bx * BLOCK..(bx + 1) * BLOCK {
                    if !ridge[y * width + x]
                        || x == 0
                        || y == 0
                        || x + 1 >= width
                        || y + 1 >= height
                    {
                        continue;
                    }
                    let crossings = crossing_number(&ridge, width, x, y);
                    if crossings == 1 || crossings == 3 {
                        count += 1;
                    }
                }
            }
        }
    }
    (count, inner)
}

/// The eight neighbours of (x, y), clockwise from the one above.
fn neighbours(image: &[bool], width: usize, x: usize, y: usize) -> [bool; 8] {
    let at = |dx: isize, dy: isize| {
        image[(y as isize + dy) as usize * width + (x as isize + dx) as usize]
    };
    [
        at(0, -1),
        at(1, -1),
        at(1, 0),
        at(1, 1),
        at(0, 1),
        at(-1, 1),
        at(-1, 0),
        at(-1, -1),
    ]
}

/// Half the number of changes going round the neighbours: 1 at a ridge ending, 3 at a fork.
fn crossing_number(image: &[bool], width: usize, x: usize, y: usize) -> u32 {
    let n = neighbours(image, width, x, y);
    (0..8).filter(|&i| n[i] != n[(i + 1) % 8]).count() as u32 / 2
}

/// Thins ridges to one pixel wide, keeping their connections (Zhang and Suen's two sub-passes).
fn thin(image: &mut [bool], width: usize, height: usize) {
    let mut remove = Vec::new();
    for _ in 0..20 {
        let mut changed = false;
        for pass in 0..2 {
            remove.clear();
            for y in 1..height.saturating_sub(1) {
                for x in 1..width.saturating_sub(1) {
                    if !image[y * width + x] {
                        continue;
                    }
                    let n = neighbours(image, width, x, y);
                    let filled = n.iter().filter(|&&b| b).count();
                    let transitions = (0..8).filter(|&i| !n[i] && n[(i + 1) % 8]).count();
                    let (up, right, down, left) = (n[0], n[2], n[4], n[6]);
                    let side = if pass == 0 {
                        !(right && down && (up || left))
                    } else {
                        !(up && left && (right || down))
                    };
                    if (2..=6).contains(&filled) && transitions == 1 && side {
                        remove.push(y * width + x);
                    }
                }
            }
            for &i in &remove {
                image[i] = false;
            }
            changed |= !remove.is_empty();
        }
        if !changed {
            break;
        }
    }
}

/// NFIQ 2's score predicted from our features: a least-squares fit against `nbis-py` 0.1.3 on
/// the training part of `sajili_tests::quality_set` (103 prints: clean at three ridge spacings
/// and sizes, blur, noise and fading at some strengths; `scripts/fit-quality` reproduces these
/// weights), then stretched to NFIQ 2's spread there (a least-squares fit shrinks towards the
/// mean), so thresholds such as [`ACCEPT`] mean what they mean for NFIQ 2. The clear area
/// counts on a log scale (the first square centimetre matters more than the second).
/// Clarity's own weight is negative because the clear area already counts it: the mean takes
/// back what barely clear blocks add. Ridges far from an adult's 9 pixels apart cost a little,
/// as NFIQ 2 marks down very fine and very coarse ridges; noise on the glass costs too, as
/// NFIQ 2 marks down noisy pictures more than our ridge measures do.
fn predicted(f: &Features) -> f32 {
    let period_misfit = if f.ridge_period > 0.0 {
        (f.ridge_period / 9.0).ln().powi(2)
    } else {
        0.0
    };
    103.05 + 27.25 * (f.clear_area + 0.02).ln() - 41.83 * f.clarity
        + 2.77 * f.certainty
        + 10.27 * f.flow_change
        - 6.0 * period_misfit
        - 2.87 * f.background_noise.ln_1p()
}

/// Scores a 500 ppi print and says what would make it better.
pub fn assess(picture: &Grey) -> Quality {
    let features = features(picture);
    let score = if features.area_share == 0.0 {
        0
    } else {
        predicted(&features).round().clamp(0.0, 100.0) as u8
    };
    let f = &features;
    let mut reasons = Vec::new();
    if f.area_share < LITTLE_CONTACT_BELOW {
        reasons.push(Reason::LittleContact {
            share: f.area_share,
            threshold: LITTLE_CONTACT_BELOW,
        });
    }
    if f.off_centre > OFF_CENTRE_ABOVE {
        reasons.push(Reason::OffCentre {
            offset: f.off_centre,
            threshold: OFF_CENTRE_ABOVE,
        });
    }
    // Wet prints are dark (valleys filled). Dry ones have thin sharp ridges on a finger nearly
    // as light as the glass: deep ridges for their grey. A faint but whole print keeps a
    // clean print's depth, so a light touch alone is not called dry.
    let finger = f.area_share > 0.0;
    if finger && f.ridge_depth > DRY_ABOVE {
        reasons.push(Reason::TooDry {
            depth: f.ridge_depth,
            threshold: DRY_ABOVE,
        });
    }
    let wet = finger && f.finger_grey < WET_BELOW;
    if wet {
        reasons.push(Reason::TooWet {
            grey: f.finger_grey,
            threshold: WET_BELOW,
        });
    }
    // A slid finger mixes ridges into valleys: shallow ridges for the finger's grey. Noise
    // adds contrast, so a noisy picture is judged by its noise alone.
    if finger && !wet && f.ridge_depth < SMUDGED_BELOW && f.background_noise <= NOISY_ABOVE {
        reasons.push(Reason::Smudged {
            depth: f.ridge_depth,
            threshold: SMUDGED_BELOW,
        });
    }
    if f.background_noise > NOISY_ABOVE {
        reasons.push(Reason::DirtySensor {
            noise: f.background_noise,
            threshold: NOISY_ABOVE,
        });
    }
    Quality {
        score,
        reasons,
        features,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::biometrics::synth::SyntheticFinger;

    /// Whorl-like rings `period` pixels apart inside an upright ellipse, on bare glass.
    fn rings(period: f32, depth: f32) -> Grey {
        let (w, h) = (256usize, 288usize);
        let mut pixels = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x as f32 - 128.0, y as f32 - 144.0);
                let inside = (dx / 110.0).powi(2) + (dy / 135.0).powi(2) <= 1.0;
                let grey = if inside {
                    let r = (dx * dx + dy * dy).sqrt();
                    GLASS - depth * (0.5 + 0.5 * (2.0 * PI * r / period).cos())
                } else {
                    GLASS
                };
                pixels.push(grey as u8);
            }
        }
        Grey::new(w, h, pixels).expect("a valid size")
    }

    #[test]
    fn ridge_clarity_finds_the_period_of_clean_profiles() {
        for period in [5.5f32, 9.0, 12.0] {
            let profile: Vec<f32> = (0..44)
                .map(|i| 150.0 + 60.0 * (2.0 * PI * i as f32 / period).cos())
                .collect();
            let (clarity, found) = ridge_clarity(&profile);
            assert!(clarity > 0.8, "clarity {clarity} at period {period}");
            assert!((found - period).abs() < 1.0, "{found} for {period}");
        }
        assert_eq!(ridge_clarity(&[150.0; 44]), (0.0, 0.0));
        assert_eq!(ridge_clarity(&[1.0, 2.0]), (0.0, 0.0));
    }

    #[test]
    fn blank_tiny_and_black_pictures_score_zero_without_panicking() {
        let pictures = [
            Grey::new(1, 1, vec![0]),
            Grey::new(10, 10, vec![255; 100]),
            Grey::new(256, 288, vec![236; 256 * 288]),
            Grey::new(256, 288, vec![0; 256 * 288]),
            Grey::new(
                33,
                300,
                (0..33 * 300).map(|i| (i * 37 % 256) as u8).collect(),
            ),
        ];
        for picture in pictures {
            let picture = picture.expect("a valid size");
            let quality = assess(&picture);
            assert!(quality.features.ridge_depth.is_finite());
            if quality.features.area_share == 0.0 {
                assert_eq!(quality.score, 0);
            }
        }
    }

    #[test]
    fn fine_and_coarse_clean_ridges_score_near_an_adults() {
        let adult = assess(&rings(9.0, 150.0));
        assert!(adult.score >= ACCEPT, "adult ridges scored {}", adult.score);
        for period in [5.5, 13.0] {
            let other = assess(&rings(period, 150.0));
            assert!(
                other.score + 12 >= adult.score,
                "ridges {period} px apart scored {} against {}",
                other.score,
                adult.score
            );
            assert!(other.reasons.is_empty(), "{period}: {:?}", other.reasons);
        }
    }

    #[test]
    fn a_faint_print_keeps_its_ridge_depth_and_is_not_called_dry_or_smudged() {
        let finger = SyntheticFinger::new(7, 256, 288);
        let firm = finger.impression(0);
        let faint: Vec<u8> = firm
            .iter()
            .map(|&g| (GLASS - (GLASS - f32::from(g)) * 0.4).round() as u8)
            .collect();
        let firm = assess(&Grey::new(256, 288, firm).expect("a valid size"));
        let faint = assess(&Grey::new(256, 288, faint).expect("a valid size"));
        let (a, b) = (firm.features.ridge_depth, faint.features.ridge_depth);
        assert!((a - b).abs() < 0.15 * a, "depth {a} firm, {b} faint");
        assert!(faint.reasons.is_empty(), "{:?}", faint.reasons);
        assert!(
            faint.score + 8 >= firm.score,
            "faint {} against firm {}",
            faint.score,
            firm.score
        );
    }
}
