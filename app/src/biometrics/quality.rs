//! Fingerprint quality on NFIQ 2's scale (0-100), computed on the device in a few
//! milliseconds, with the reasons a person can act on.
//!
//! Like NFIQ 2 (ISO/IEC 29794-4) it measures the print block by block (32 x 32 pixels at
//! 500 ppi): how much of the picture is finger, how clear the ridge-valley structure is (the
//! share of each block's cross-ridge profile at a ridge frequency), how certain and how smooth
//! the ridge orientation is, the contrast, and whether ridges and valleys are as wide as each
//! other. NFIQ 2 feeds its 69 features to a random forest; we combine four of ours with weights
//! fitted against NFIQ 2 itself (`nbis-py` 0.1.3) on synthetic prints of seeds 100-175, none of
//! which the agreement test uses. Ridge endings and forks are counted too (false ones betray a
//! dry or noisy print), for the reasons and for integrators.

use std::f32::consts::PI;
use std::fmt;

use serde::Serialize;

use super::grey::Grey;

/// Block side, pixels.
const BLOCK: usize = 32;
/// Ridge periods counted as ridges, pixels at 500 ppi (0.2-0.6 mm... a child's to a labourer's).
const PERIODS: (f32, f32) = (4.5, 16.0);

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
        /// Mean grey level over the finger.
        grey: f32,
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
        /// Mean contrast over the finger (grey-level standard deviation).
        contrast: f32,
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

/// Less of the picture than this is finger: too little contact.
const LITTLE_CONTACT_BELOW: f32 = 0.35;
/// The finger's centre further than this from the picture's (share of the half-diagonal).
const OFF_CENTRE_ABOVE: f32 = 0.22;
/// Mean grey over the finger above this: dry.
const DRY_ABOVE: f32 = 200.0;
/// Mean grey over the finger below this: wet.
const WET_BELOW: f32 = 135.0;
/// Contrast over the finger below this (at a normal grey): smudged.
const SMUDGED_BELOW: f32 = 62.0;
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
    ridge_share: f32,
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
    let soft = |x: usize, y: usize| smooth[y * width + x];
    let broad = |x: usize, y: usize| ridges[y * width + x];
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
    // Structure tensor from central differences (inside the picture).
    let (mut gxx, mut gyy, mut gxy) = (0.0f32, 0.0f32, 0.0f32);
    let mut darker = 0usize;
    for y in y0..y0 + BLOCK {
        for x in x0..x0 + BLOCK {
            let gx = broad((x + 1).min(width - 1), y) - broad(x.saturating_sub(1), y);
            let gy = broad(x, (y + 1).min(picture.height() - 1)) - broad(x, y.saturating_sub(1));
            gxx += gx * gx;
            gyy += gy * gy;
            gxy += gx * gy;
            darker += usize::from(at(x, y) < mean);
        }
    }
    let energy = gxx + gyy;
    let (c2, s2) = (gxx - gyy, 2.0 * gxy);
    let anisotropy = (c2 * c2 + s2 * s2).sqrt();
    block.certainty = if energy > 0.0 {
        anisotropy / energy
    } else {
        0.0
    };
    block.normal = if anisotropy > 0.0 {
        (c2 / anisotropy, s2 / anisotropy)
    } else {
        (1.0, 0.0)
    };
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
                profile[bin] += soft(x, y);
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
    block.clarity = ridge_clarity(&used);
    block.finger = mean < 210.0 || block.clarity > 0.45;
    block
}

/// Share of a profile's variation at ridge frequencies: near 1 for clean ridges, near 0 for
/// noise or a blur.
fn ridge_clarity(profile: &[f32]) -> f32 {
    let len = profile.len();
    if len < 16 {
        return 0.0;
    }
    let mean = profile.iter().sum::<f32>() / len as f32;
    let total: f32 = profile.iter().map(|v| (v - mean) * (v - mean)).sum();
    if total <= f32::EPSILON {
        return 0.0;
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
    let mut best = 0.0f32;
    for k in lowest.max(1)..=highest.min(len / 2) {
        let around: f32 = (k.saturating_sub(1).max(1)..=(k + 1).min(len / 2))
            .map(|j| powers[j - 1])
            .sum();
        best = best.max(around);
    }
    (best / total).min(1.0)
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
    let mut background: Vec<f32> = blocks
        .iter()
        .filter(|b| !b.finger && b.mean > 200.0)
        .map(|b| b.deviation)
        .collect();
    // The median: blocks at the finger's rim are textured but not noise.
    background.sort_by(f32::total_cmp);
    let background_noise = background.get(background.len() / 2).copied().unwrap_or(0.0);
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
        certainty: mean_of(|b| b.certainty),
        flow_change: if pairs > 0.0 {
            change / pairs
        } else {
            PI / 2.0
        },
        contrast: mean_of(|b| b.deviation),
        ridge_share: mean_of(|b| b.ridge_share),
        off_centre,
        background_noise,
        finger_grey: mean_of(|b| b.mean),
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
/// synthetic prints (seeds 100-175: clean, re-placed, and each flaw at three severities;
/// 256x288, 400x500 and 500x500), the features chosen by five-fold cross-validation. The
/// original set of 316 prints was not recorded and `scripts/fit-quality` does not reproduce
/// these weights exactly (see docs/design.md); `tests/tests/quality.rs` holds them to it. The clear
/// ridge area counts on a log scale: the first square centimetre matters more than the second.
/// The fit is then stretched to NFIQ 2's spread on those prints (a least-squares fit shrinks
/// towards the mean), so thresholds such as [`ACCEPT`] mean what they mean for NFIQ 2.
fn predicted(f: &Features) -> f32 {
    -37.89
        + 20.61 * (f.usable_area + 0.02).ln()
        + 66.16 * f.clarity
        + 55.84 * f.certainty
        + 27.91 * f.flow_change
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
    // Wet prints are dark (valleys filled), dry ones light (ridges broken): clean ones sit near
    // 155 on an optical sensor, real ink-on-white prints near 170.
    let finger = f.area_share > 0.0;
    if finger && f.finger_grey > DRY_ABOVE {
        reasons.push(Reason::TooDry {
            grey: f.finger_grey,
            threshold: DRY_ABOVE,
        });
    }
    if finger && f.finger_grey < WET_BELOW {
        reasons.push(Reason::TooWet {
            grey: f.finger_grey,
            threshold: WET_BELOW,
        });
    }
    // A slid finger blurs ridges into valleys: little contrast at a normal grey level.
    let normal_grey = (WET_BELOW..=DRY_ABOVE).contains(&f.finger_grey);
    if finger && normal_grey && f.contrast < SMUDGED_BELOW && f.background_noise <= NOISY_ABOVE {
        reasons.push(Reason::Smudged {
            contrast: f.contrast,
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
