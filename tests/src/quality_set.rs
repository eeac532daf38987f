//! The prints the fingerprint quality score is fitted on and judged by: clean synthetic prints
//! across the range of ridge spacing and contrast, and the same fingers spoilt by plain image
//! operations (blur, fading, partial contact, noise, dryness, wetness) at several strengths.
//!
//! The set has three parts that share no finger. `Train` is all `scripts/fit-quality` may see:
//! clean prints at three ridge spacings and three sizes, and blur, noise and fading at some
//! strengths. `HeldOut` is what the agreement test judges: the same three kinds at other
//! strengths, and three kinds the fit never sees at all (partial contact, dryness, wetness).
//! `Clean` is clean prints across the whole range of ridge spacing (0.55-1.6 times an adult's),
//! contrast (0.2-1 times the generator's), fingertip size (0.65-1.2) and placement. The
//! spoiling is done here by plain image operations, not by the generator's own flaws, so the
//! score cannot lean on how the generator draws them.

use std::f32::consts::PI;

use sajili_record::biometrics::grey::Grey;
use sajili_record::biometrics::synth::{Impression, Pressure, SyntheticFinger};

/// Which part of the set a print belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Split {
    /// Prints the fit may use.
    Train,
    /// Spoilt prints no fit may use.
    HeldOut,
    /// Clean prints across their range, which no fit may use.
    Clean,
}

/// How a print was spoilt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Spoil {
    /// Not spoilt.
    Clean,
    /// Gaussian blur (strength: its sigma, pixels).
    Blur,
    /// Ridges faded towards the glass's white (strength: the share of contrast lost).
    Fading,
    /// Only part of the finger touched (strength: the share of the finger lost).
    PartialContact,
    /// Sensor noise (strength: its standard deviation, grey levels).
    Noise,
    /// Dry skin: ridges thin, pale and broken (strength 0-1).
    Dryness,
    /// Wet skin: ridges thick, valleys filled, darker (strength 0-1).
    Wetness,
}

impl Spoil {
    /// Every kind, clean first.
    pub const ALL: [Spoil; 7] = [
        Self::Clean,
        Self::Blur,
        Self::Fading,
        Self::PartialContact,
        Self::Noise,
        Self::Dryness,
        Self::Wetness,
    ];

    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Blur => "blur",
            Self::Fading => "fading",
            Self::PartialContact => "partial-contact",
            Self::Noise => "noise",
            Self::Dryness => "dryness",
            Self::Wetness => "wetness",
        }
    }
}

/// One print of the set.
pub struct SetPrint {
    /// Unique and stable: finger seed, spoil and strength.
    pub name: String,
    /// The part of the set.
    pub split: Split,
    /// How it was spoilt.
    pub spoil: Spoil,
    /// How strongly.
    pub strength: f32,
    /// The picture, 256 x 288 as the R30x sensor gives.
    pub picture: Grey,
}

/// The sensor's size.
const WIDTH: usize = 256;
const HEIGHT: usize = 288;
/// The bare glass's grey level where nothing touches it (as the generator draws it).
const GLASS: f32 = 236.0;

/// Strengths the fit may see, by kind.
const TRAIN_STRENGTHS: [(Spoil, &[f32]); 3] = [
    (Spoil::Blur, &[1.0, 2.0, 3.2]),
    (Spoil::Noise, &[15.0, 40.0]),
    (Spoil::Fading, &[0.5, 0.8]),
];
/// Strengths held out, by kind: other strengths of the trained kinds, and three kinds the fit
/// never sees.
const HELD_OUT_STRENGTHS: [(Spoil, &[f32]); 6] = [
    (Spoil::Blur, &[1.5, 2.6]),
    (Spoil::Noise, &[25.0, 55.0]),
    (Spoil::Fading, &[0.65, 0.9]),
    (Spoil::PartialContact, &[0.3, 0.5, 0.7]),
    (Spoil::Dryness, &[0.3, 0.6, 0.9]),
    (Spoil::Wetness, &[0.3, 0.6, 0.9]),
];
/// Ridge spacing and fingertip size of the training set's clean prints, as shares of the
/// generator's; the clean part spans 0.55-1.6 and 0.65-1.2.
const TRAIN_SPACINGS: [f32; 3] = [0.75, 1.0, 1.3];
const TRAIN_SIZES: [f32; 3] = [0.8, 1.05, 0.7];

/// Fingers per part: seeds 200.., 300.. and 400.. (no other test or fit uses them).
const TRAIN_FINGERS: u64 = 12;
const HELD_OUT_FINGERS: u64 = 12;
const CLEAN_FINGERS: u64 = 48;

/// The parts of the set asked for, in a fixed order (train, held out, clean). Drawing the
/// fingers takes most of the time (tens of seconds for the whole set in a dev build).
pub fn quality_set(parts: &[Split]) -> Vec<SetPrint> {
    let mut prints = Vec::new();
    let train = if parts.contains(&Split::Train) {
        200..200 + TRAIN_FINGERS
    } else {
        0..0
    };
    for seed in train {
        let spacing = TRAIN_SPACINGS[(seed % 3) as usize];
        let size = TRAIN_SIZES[(seed % 2) as usize];
        let base = clean_print(seed, spacing, 1.0, size, 0);
        prints.push(set_print(
            seed,
            Split::Train,
            Spoil::Clean,
            spacing,
            base.clone(),
        ));
        // A second clean print of the finger, at another spacing, size and contrast.
        let (spacing, size) = (TRAIN_SPACINGS[((seed + 1) % 3) as usize], TRAIN_SIZES[2]);
        let other = clean_print(seed, spacing, 0.5, size, 1);
        prints.push(set_print(seed, Split::Train, Spoil::Clean, spacing, other));
        for (spoil, strengths) in TRAIN_STRENGTHS {
            for &strength in strengths {
                let spoilt = spoiled(&base, spoil, strength, seed);
                prints.push(set_print(seed, Split::Train, spoil, strength, spoilt));
            }
        }
    }
    let held_out = if parts.contains(&Split::HeldOut) {
        300..300 + HELD_OUT_FINGERS
    } else {
        0..0
    };
    for seed in held_out {
        let mut random = Random::new(seed);
        let spacing = random.range(0.8, 1.2);
        let contrast = random.range(0.75, 1.0);
        let base = clean_print(seed, spacing, contrast, random.range(0.9, 1.1), 0);
        for (spoil, strengths) in HELD_OUT_STRENGTHS {
            for &strength in strengths {
                let spoilt = spoiled(&base, spoil, strength, seed);
                prints.push(set_print(seed, Split::HeldOut, spoil, strength, spoilt));
            }
        }
    }
    let clean = if parts.contains(&Split::Clean) {
        400..400 + CLEAN_FINGERS
    } else {
        0..0
    };
    for seed in clean {
        let (spacing, contrast, size) = clean_range(seed);
        let base = clean_print(seed, spacing, contrast, size, (seed % 5) as u32);
        prints.push(set_print(seed, Split::Clean, Spoil::Clean, spacing, base));
    }
    prints
}

/// Ridge spacing, contrast and size of the clean part's finger `seed`: spread evenly over
/// their ranges, none in step with another.
fn clean_range(seed: u64) -> (f32, f32, f32) {
    let k = seed.saturating_sub(400) as f32;
    let spacing = 0.55 + 1.05 * (k * 0.618).fract();
    let contrast = 0.2 + 0.8 * (k * 0.382 + 0.3).fract();
    let size = 0.65 + 0.55 * (k * 0.7549 + 0.6).fract();
    (spacing, contrast, size)
}

/// The clean part again, each finger at the same spacing, contrast and size but placed
/// otherwise (another impression's rotation and shift): how well NFIQ 2 agrees with itself
/// across the clean range is the most any score can agree with it there.
pub fn clean_placed_again() -> Vec<SetPrint> {
    (400..400 + CLEAN_FINGERS)
        .map(|seed| {
            let (spacing, contrast, size) = clean_range(seed);
            let again = clean_print(seed, spacing, contrast, size, (seed % 5) as u32 + 5);
            set_print(seed, Split::Clean, Spoil::Clean, spacing, again)
        })
        .collect()
}

fn set_print(seed: u64, split: Split, spoil: Spoil, strength: f32, pixels: Vec<f32>) -> SetPrint {
    let bytes = pixels
        .iter()
        .map(|g| g.round().clamp(0.0, 255.0) as u8)
        .collect();
    SetPrint {
        name: format!("{seed}-{}-{strength}", spoil.name()),
        split,
        spoil,
        strength,
        picture: Grey::new(WIDTH, HEIGHT, bytes).expect("the sensor's size"),
    }
}

/// A clean print of finger `seed` with ridges `spacing` times the generator's apart,
/// `contrast` times its ridge depth and the fingertip `size` times the generator's across
/// (a child's is smaller than the glass, a large adult's bigger), placed as impression
/// `placement` is (normal pressure, whole contact, no smear).
pub fn clean_print(seed: u64, spacing: f32, contrast: f32, size: f32, placement: u32) -> Vec<f32> {
    // Drawn on a sensor `size / spacing` times the size, then scaled by `spacing` and cut to
    // (or set in) the real one: ridges grow closer or further apart, the fingertip smaller or
    // larger, independently.
    let scale = |n: usize, by: f32| ((n as f32 * by).round() as usize).max(16);
    let (w, h) = (scale(WIDTH, size / spacing), scale(HEIGHT, size / spacing));
    let finger = SyntheticFinger::new(seed, w as u32, h as u32);
    let mut how = Impression::nth(seed, placement);
    how.pressure = Pressure::Normal;
    how.contact = 1.0;
    how.smudge = 0.0;
    how.noise = how.noise.min(5.0);
    how.shift = (how.shift.0 * 0.5, how.shift.1 * 0.5);
    let drawn: Vec<f32> = finger
        .render(&how, seed)
        .into_iter()
        .map(f32::from)
        .collect();
    let (sw, sh) = (scale(WIDTH, size), scale(HEIGHT, size));
    let scaled = resampled(&drawn, w, h, sw, sh);
    let mut random = Random::new(seed ^ 0x00C1_EA11);
    let mut out = Vec::with_capacity(WIDTH * HEIGHT);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            // Centre on centre: positions outside the drawn finger are bare glass.
            let sx = (x + sw / 2).checked_sub(WIDTH / 2).filter(|&v| v < sw);
            let sy = (y + sh / 2).checked_sub(HEIGHT / 2).filter(|&v| v < sh);
            let g = match (sx, sy) {
                (Some(sx), Some(sy)) => scaled[sy * sw + sx],
                _ => GLASS + random.gaussian() * 2.0,
            };
            out.push(GLASS - (GLASS - g) * contrast);
        }
    }
    out
}

/// `base` spoilt as `spoil` says, at `strength`; `seed` fixes the randomness.
pub fn spoiled(base: &[f32], spoil: Spoil, strength: f32, seed: u64) -> Vec<f32> {
    let mut random = Random::new(seed ^ (spoil as u64 * 0x51ED) ^ u64::from(strength.to_bits()));
    match spoil {
        Spoil::Clean => base.to_vec(),
        Spoil::Blur => gaussian(base, WIDTH, HEIGHT, strength),
        Spoil::Fading => base
            .iter()
            .map(|g| GLASS - (GLASS - g) * (1.0 - strength))
            .collect(),
        Spoil::Noise => base
            .iter()
            .map(|g| g + random.gaussian() * strength)
            .collect(),
        Spoil::PartialContact => partial(base, strength, &mut random),
        Spoil::Dryness => dry(base, strength, &mut random),
        Spoil::Wetness => wet(base, strength),
    }
}

/// Only part of the finger touched: the picture beyond a straight edge at a random angle, or
/// (every other finger) beyond an ellipse round a point off the centre, becomes bare glass,
/// so that about `lost` of the finger is gone.
fn partial(base: &[f32], lost: f32, random: &mut Random) -> Vec<f32> {
    let angle = random.range(0.0, 2.0 * PI);
    let (dx, dy) = (angle.cos(), angle.sin());
    let round = random.unit() < 0.5;
    let (cx, cy) = (WIDTH as f32 / 2.0, HEIGHT as f32 / 2.0);
    // Which side of the cut each pixel lies on, from -1 to 1 across the finger.
    let side = |x: usize, y: usize| -> f32 {
        let (u, v) = ((x as f32 - cx) / cx, (y as f32 - cy) / cy);
        if round {
            let (ox, oy) = (0.3 * dx, 0.3 * dy);
            let d = ((u - ox) * (u - ox) + (v - oy) * (v - oy)).sqrt();
            1.0 - 2.0 * d / 1.1
        } else {
            u * dx + v * dy
        }
    };
    // The cut's position found from the finger's own pixels, so `lost` is a share of finger.
    let mut sides: Vec<f32> = (0..HEIGHT)
        .flat_map(|y| (0..WIDTH).map(move |x| (x, y)))
        .filter(|&(x, y)| base[y * WIDTH + x] < GLASS - 25.0)
        .map(|(x, y)| side(x, y))
        .collect();
    sides.sort_by(f32::total_cmp);
    let cut = sides
        .get(((sides.len() as f32 * lost) as usize).min(sides.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    let mut out = base.to_vec();
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let s = side(x, y);
            if s < cut {
                out[y * WIDTH + x] = GLASS + random.gaussian() * 2.0;
            } else if s < cut + 0.04 {
                // The skin lifts off the glass over a little way, not at a line.
                let t = (s - cut) / 0.04;
                let i = y * WIDTH + x;
                out[i] = GLASS + (out[i] - GLASS) * t;
            }
        }
    }
    out
}

/// Dry skin: ridges lose width (a grey-level opening towards white), pale, and break where the
/// skin does not touch (a coarse random field of gaps), the more so the stronger.
fn dry(base: &[f32], strength: f32, random: &mut Random) -> Vec<f32> {
    let thinned = extreme(base, WIDTH, HEIGHT, 1 + (strength * 1.5) as usize, f32::max);
    // Contact of the skin: smooth noise at about a ridge's scale, thresholded.
    let cells: Vec<f32> = (0..WIDTH * HEIGHT).map(|_| random.unit()).collect();
    let contact = gaussian(&cells, WIDTH, HEIGHT, 3.0);
    let mut sorted = contact.clone();
    sorted.sort_by(f32::total_cmp);
    let gap_share = 0.15 + 0.5 * strength;
    let below = sorted[((sorted.len() as f32 * gap_share) as usize).min(sorted.len() - 1)];
    base.iter()
        .zip(&thinned)
        .zip(&contact)
        .map(|((&g, &t), &c)| {
            if g >= GLASS - 5.0 {
                return g;
            }
            let pale = 0.25 + 0.5 * strength;
            let touched = if c < below { 0.15 } else { 1.0 };
            GLASS - (GLASS - t) * (1.0 - pale) * touched
        })
        .collect()
}

/// Wet skin: ridges spread into the valleys (a grey-level erosion towards black, blurred as
/// water spreads), the whole finger darker.
fn wet(base: &[f32], strength: f32) -> Vec<f32> {
    let radius = 1 + (strength * 2.5) as usize;
    let spread = gaussian(
        &extreme(base, WIDTH, HEIGHT, radius, f32::min),
        WIDTH,
        HEIGHT,
        0.6 + 1.2 * strength,
    );
    base.iter()
        .zip(&spread)
        .map(|(&g, &s)| {
            if g >= GLASS - 5.0 {
                g
            } else {
                s * (1.0 - 0.3 * strength)
            }
        })
        .collect()
}

/// The smallest (or largest) value in the square of `radius` round each pixel.
fn extreme(a: &[f32], w: usize, h: usize, radius: usize, pick: fn(f32, f32) -> f32) -> Vec<f32> {
    let mut rows = a.to_vec();
    for y in 0..h {
        for x in 0..w {
            let (l, r) = (x.saturating_sub(radius), (x + radius).min(w - 1));
            rows[y * w + x] = a[y * w + l..=y * w + r]
                .iter()
                .copied()
                .reduce(pick)
                .unwrap_or(0.0);
        }
    }
    let mut out = rows.clone();
    for y in 0..h {
        let (u, d) = (y.saturating_sub(radius), (y + radius).min(h - 1));
        for x in 0..w {
            out[y * w + x] = (u..=d)
                .map(|yy| rows[yy * w + x])
                .reduce(pick)
                .unwrap_or(0.0);
        }
    }
    out
}

/// A Gaussian blur of `sigma` pixels (separable, edges clamped).
pub fn gaussian(a: &[f32], w: usize, h: usize, sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as isize;
    let taps: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = taps.iter().sum();
    let clamp = |v: isize, n: usize| v.clamp(0, n as isize - 1) as usize;
    let mut rows = vec![0.0; a.len()];
    for y in 0..h {
        for x in 0..w {
            rows[y * w + x] = taps
                .iter()
                .zip(-radius..=radius)
                .map(|(t, i)| t * a[y * w + clamp(x as isize + i, w)])
                .sum::<f32>()
                / total;
        }
    }
    let mut out = vec![0.0; a.len()];
    for y in 0..h {
        for x in 0..w {
            out[y * w + x] = taps
                .iter()
                .zip(-radius..=radius)
                .map(|(t, i)| t * rows[clamp(y as isize + i, h) * w + x])
                .sum::<f32>()
                / total;
        }
    }
    out
}

/// Bilinear resampling of a `w` x `h` picture to `to_w` x `to_h`.
fn resampled(a: &[f32], w: usize, h: usize, to_w: usize, to_h: usize) -> Vec<f32> {
    let (sx, sy) = (w as f32 / to_w as f32, h as f32 / to_h as f32);
    let mut out = Vec::with_capacity(to_w * to_h);
    for y in 0..to_h {
        let fy = ((y as f32 + 0.5) * sy - 0.5).clamp(0.0, (h - 1) as f32);
        let (y0, ty) = (fy.floor() as usize, fy.fract());
        let y1 = (y0 + 1).min(h - 1);
        for x in 0..to_w {
            let fx = ((x as f32 + 0.5) * sx - 0.5).clamp(0.0, (w - 1) as f32);
            let (x0, tx) = (fx.floor() as usize, fx.fract());
            let x1 = (x0 + 1).min(w - 1);
            let top = a[y0 * w + x0] * (1.0 - tx) + a[y0 * w + x1] * tx;
            let bottom = a[y1 * w + x0] * (1.0 - tx) + a[y1 * w + x1] * tx;
            out.push(top * (1.0 - ty) + bottom * ty);
        }
    }
    out
}

/// SplitMix64, so the set is the same on every machine.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    fn range(&mut self, low: f32, high: f32) -> f32 {
        low + (high - low) * self.unit()
    }

    /// Roughly normal, mean 0, deviation 1 (twelve uniforms).
    fn gaussian(&mut self) -> f32 {
        (0..12).map(|_| self.unit()).sum::<f32>() - 6.0
    }
}
