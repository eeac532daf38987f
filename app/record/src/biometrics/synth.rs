//! Synthetic fingerprints at 500 ppi, deterministic by seed: a pattern class fixed by its
//! singular points, a ridge orientation field (the zero-pole model: each core turns the field
//! by half a turn, each delta by minus half), a ridge frequency map, and ridges grown from noise
//! by repeated oriented Gabor filtering. Impressions of one finger differ by placement,
//! rotation, pressure (dry, normal, wet), partial contact and noise.
//!
//! They feed the sensor twin, tests and benchmarks: no real person's print is needed to test.

use std::f32::consts::PI;

/// The pattern classes of the Henry system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternClass {
    /// Ridges run across and bulge: no core, no delta.
    Arch,
    /// An arch with a core right above a delta.
    TentedArch,
    /// A loop opening to the left: one core, one delta to its right.
    LeftLoop,
    /// A loop opening to the right: one core, one delta to its left.
    RightLoop,
    /// Ridges circle a centre: two cores, two deltas.
    Whorl,
}

impl PatternClass {
    /// Every class.
    pub const ALL: [PatternClass; 5] = [
        Self::Arch,
        Self::TentedArch,
        Self::LeftLoop,
        Self::RightLoop,
        Self::Whorl,
    ];

    /// Cores and deltas the class has.
    pub fn singular_points(self) -> (usize, usize) {
        match self {
            Self::Arch => (0, 0),
            Self::TentedArch | Self::LeftLoop | Self::RightLoop => (1, 1),
            Self::Whorl => (2, 2),
        }
    }
}

/// How hard and how wet the finger pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pressure {
    /// Thin, broken ridges.
    Dry,
    /// Clear ridges and valleys.
    Normal,
    /// Thick ridges, valleys filled in.
    Wet,
}

/// How one impression was taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impression {
    /// Rotation of the finger, degrees.
    pub rotation: f32,
    /// Placement off centre, pixels (x, y).
    pub shift: (f32, f32),
    /// Pressure and moisture.
    pub pressure: Pressure,
    /// Share of the fingertip in contact (1.0: all of it).
    pub contact: f32,
    /// Sensor noise, grey levels (standard deviation).
    pub noise: f32,
    /// Smudge: the finger slid while pressing, pixels of smear (0: none).
    pub smudge: f32,
    /// How much worse than usual dry or wet pressing is, 0 to 1.
    pub severity: f32,
}

impl Impression {
    /// Impression `k` of a finger: 0 is the reference (centred, upright, normal, whole);
    /// others vary as real placements do, deterministically from `seed` and `k`.
    pub fn nth(seed: u64, k: u32) -> Self {
        if k == 0 {
            return Self {
                rotation: 0.0,
                shift: (0.0, 0.0),
                pressure: Pressure::Normal,
                contact: 1.0,
                noise: 4.0,
                smudge: 0.0,
                severity: 0.0,
            };
        }
        let mut random = Random::new(seed ^ u64::from(k).wrapping_mul(0xA076_1D64_78BD_642F));
        let pressure = match random.below(5) {
            0 => Pressure::Dry,
            1 => Pressure::Wet,
            _ => Pressure::Normal,
        };
        Self {
            rotation: random.range(-15.0, 15.0),
            shift: (random.range(-20.0, 20.0), random.range(-20.0, 20.0)),
            pressure,
            contact: if random.below(4) == 0 {
                random.range(0.45, 0.75)
            } else {
                1.0
            },
            noise: random.range(3.0, 10.0),
            smudge: if random.below(6) == 0 {
                random.range(1.0, 3.0)
            } else {
                0.0
            },
            severity: 0.0,
        }
    }

    /// A deliberately poor impression of the kind named, `severity` from 0 (barely) to 1
    /// (hopeless): for tests of the quality score and the coaching it gives.
    pub fn poor(kind: Flaw, severity: f32) -> Self {
        let s = severity.clamp(0.0, 1.0);
        let mut how = Self::nth(0, 0);
        match kind {
            Flaw::Dry => how.pressure = Pressure::Dry,
            Flaw::Wet => how.pressure = Pressure::Wet,
            Flaw::LittleContact => how.contact = 0.8 - 0.55 * s,
            Flaw::Smudged => how.smudge = 2.0 + 3.0 * s,
            Flaw::OffCentre => how.shift = (60.0 + 40.0 * s, 50.0 + 40.0 * s),
            Flaw::Noisy => how.noise = 15.0 + 45.0 * s,
        }
        how.severity = s;
        how
    }
}

/// What is wrong with a poor impression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Thin, broken ridges.
    Dry,
    /// Ridges run together.
    Wet,
    /// Only part of the fingertip touched.
    LittleContact,
    /// The finger slid.
    Smudged,
    /// The finger was placed to one side.
    OffCentre,
    /// A dirty or failing sensor.
    Noisy,
}

impl Flaw {
    /// Every flaw.
    pub const ALL: [Flaw; 6] = [
        Self::Dry,
        Self::Wet,
        Self::LittleContact,
        Self::Smudged,
        Self::OffCentre,
        Self::Noisy,
    ];
}

/// A point on the canvas, pixels (x, y).
type Point = (f32, f32);

/// Ridge period at 500 ppi, pixels: adult ridges are about 0.45 mm apart.
pub const RIDGE_PERIOD: f32 = 9.0;
const MARGIN: usize = 48;
const GROWTH_ROUNDS: usize = 10;
const KERNEL_RADIUS: isize = 6;
const ORIENTATIONS: usize = 24;

/// A finger: its ridge pattern on a canvas larger than the sensor, so that impressions can be
/// moved and turned without running out of ridges.
#[derive(Debug, Clone)]
pub struct SyntheticFinger {
    /// Its class.
    pub class: PatternClass,
    width: usize,
    height: usize,
    canvas_width: usize,
    canvas_height: usize,
    /// Ridge field in [-1, 1]: 1 on a ridge's crest, -1 in a valley.
    ridges: Vec<f32>,
    seed: u64,
}

/// A small, fast, deterministic generator (SplitMix64): the same seed gives the same print on
/// every machine.
#[derive(Debug, Clone)]
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Roughly normal, mean 0, deviation 1 (sum of four uniforms).
    fn gaussian(&mut self) -> f32 {
        (self.unit() + self.unit() + self.unit() + self.unit() - 2.0) * 1.732
    }
}

/// Ridge orientation (radians, direction the ridges run, y pointing down) at (x, y) for the
/// class's singular points.
fn orientation(
    class: PatternClass,
    cores: &[(f32, f32)],
    deltas: &[(f32, f32)],
    centre: (f32, f32),
    scale: f32,
    x: f32,
    y: f32,
) -> f32 {
    if class == PatternClass::Arch {
        // Ridges y = y0 - a(y0) exp(-u^2), bulging up in the middle, flatter lower down.
        let u = (x - centre.0) / (0.45 * scale);
        let height = ((centre.1 + 0.6 * scale - y) / scale).clamp(0.0, 1.0);
        let slope = 1.1 * height * 2.0 * u * (-u * u).exp();
        return slope.atan();
    }
    // Zero-pole model, with y up so the angles turn the usual way.
    let mut angle = 0.0;
    for (cx, cy) in cores {
        angle += (-(y - cy)).atan2(x - cx);
    }
    for (dx, dy) in deltas {
        angle -= (-(y - dy)).atan2(x - dx);
    }
    // Back to y down: a direction (cos a, sin a) with y up is (cos a, -sin a) with y down.
    -(0.5 * angle)
}

impl SyntheticFinger {
    /// The finger of `seed`, with a class drawn from the seed, for a `width` x `height` sensor.
    pub fn new(seed: u64, width: u32, height: u32) -> Self {
        let class = PatternClass::ALL[(Random::new(seed).next() % 5) as usize];
        Self::with_class(seed, class, width, height)
    }

    /// The finger of `seed` with the given class.
    pub fn with_class(seed: u64, class: PatternClass, width: u32, height: u32) -> Self {
        let (width, height) = (width.max(16) as usize, height.max(16) as usize);
        let (canvas_width, canvas_height) = (width + 2 * MARGIN, height + 2 * MARGIN);
        let mut random = Random::new(seed.wrapping_mul(31).wrapping_add(7));
        let scale = width.min(height) as f32;
        let centre = (
            canvas_width as f32 / 2.0 + random.range(-0.05, 0.05) * scale,
            canvas_height as f32 / 2.0 + random.range(-0.05, 0.05) * scale,
        );
        let jitter = |random: &mut Random| random.range(-0.04, 0.04) * scale;
        let (cores, deltas): (Vec<Point>, Vec<Point>) = match class {
            PatternClass::Arch => (vec![], vec![]),
            PatternClass::TentedArch => (
                vec![(centre.0, centre.1 - 0.05 * scale)],
                vec![(
                    centre.0 + jitter(&mut random) * 0.3,
                    centre.1 + 0.22 * scale,
                )],
            ),
            PatternClass::LeftLoop | PatternClass::RightLoop => {
                let side = if class == PatternClass::LeftLoop {
                    1.0
                } else {
                    -1.0
                };
                (
                    vec![(centre.0 + jitter(&mut random), centre.1 - 0.08 * scale)],
                    vec![(
                        centre.0 + side * (0.26 * scale + jitter(&mut random)),
                        centre.1 + 0.25 * scale + jitter(&mut random),
                    )],
                )
            }
            PatternClass::Whorl => (
                vec![
                    (
                        centre.0 - 0.03 * scale,
                        centre.1 - 0.08 * scale + jitter(&mut random) * 0.3,
                    ),
                    (centre.0 + 0.03 * scale, centre.1 + 0.02 * scale),
                ],
                vec![
                    (
                        centre.0 - 0.27 * scale + jitter(&mut random),
                        centre.1 + 0.25 * scale,
                    ),
                    (
                        centre.0 + 0.27 * scale + jitter(&mut random),
                        centre.1 + 0.25 * scale,
                    ),
                ],
            ),
        };
        // Orientation per pixel, quantised to the kernel bank; a slowly varying period.
        let count = canvas_width * canvas_height;
        let mut bins = Vec::with_capacity(count);
        for y in 0..canvas_height {
            for x in 0..canvas_width {
                let theta = orientation(class, &cores, &deltas, centre, scale, x as f32, y as f32);
                let bin = ((theta.rem_euclid(PI) / PI) * ORIENTATIONS as f32).round() as usize
                    % ORIENTATIONS;
                bins.push(bin);
            }
        }
        let period_shift = random.range(-0.8, 0.8);
        let periods = [
            RIDGE_PERIOD - 1.0 + period_shift,
            RIDGE_PERIOD + period_shift,
        ];
        let banks: Vec<Vec<Vec<f32>>> = periods.iter().map(|p| kernel_bank(*p)).collect();
        let mut field: Vec<f32> = (0..count)
            .map(|_| {
                if random.below(40) == 0 {
                    random.range(-1.0, 1.0)
                } else {
                    0.0
                }
            })
            .collect();
        let mut next = vec![0.0f32; count];
        for _ in 0..GROWTH_ROUNDS {
            for y in 0..canvas_height {
                for x in 0..canvas_width {
                    let index = y * canvas_width + x;
                    // Ridges lie a little closer above the core than below it.
                    let band = usize::from(y as f32 >= centre.1);
                    let kernel = &banks[band][bins[index]];
                    next[index] = convolve(&field, canvas_width, canvas_height, x, y, kernel);
                }
            }
            for (value, grown) in field.iter_mut().zip(&next) {
                *value = (grown * 3.0).clamp(-1.0, 1.0);
            }
        }
        Self {
            class,
            width,
            height,
            canvas_width,
            canvas_height,
            ridges: field,
            seed,
        }
    }

    /// Impression `k` (see [`Impression::nth`]) as 8-bit grey, row by row.
    pub fn impression(&self, k: u32) -> Vec<u8> {
        self.render(&Impression::nth(self.seed, k), self.seed ^ u64::from(k))
    }

    /// Renders an impression: ridges dark on a light ground, as an optical sensor sees them.
    pub fn render(&self, how: &Impression, noise_seed: u64) -> Vec<u8> {
        let mut random = Random::new(noise_seed.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let (sin, cos) = how.rotation.to_radians().sin_cos();
        let (w, h) = (self.width as f32, self.height as f32);
        // Finger contact: an upright ellipse, cut by a straight edge for a partial touch.
        let cut_angle = random.range(0.0, 2.0 * PI);
        let cut_offset = 1.0 - 2.0 * how.contact.clamp(0.0, 1.0);
        let severity = how.severity.clamp(0.0, 1.0);
        let (threshold, softness) = match how.pressure {
            Pressure::Dry => (0.5 + 0.35 * severity, 0.15),
            Pressure::Normal => (0.0, 0.25),
            Pressure::Wet => (-0.55 - 0.4 * severity, 0.2 + 0.6 * severity),
        };
        // Dry skin leaves ridges broken in patches: a coarse random field of gaps.
        let gap_cell = 7usize;
        let gaps_across = self.width / gap_cell + 2;
        let gaps: Vec<bool> = (0..gaps_across * (self.height / gap_cell + 2))
            .map(|_| random.unit() < 0.12 + 0.45 * severity)
            .collect();
        let mut out: Vec<f32> = Vec::with_capacity(self.width * self.height);
        for y in 0..self.height {
            for x in 0..self.width {
                let (px, py) = (
                    x as f32 - w / 2.0 - how.shift.0,
                    y as f32 - h / 2.0 - how.shift.1,
                );
                // The finger turns about the sensor's centre, its outline with it.
                let (rx, ry) = (cos * px + sin * py, -sin * px + cos * py);
                let (ex, ey) = (rx / (0.44 * w), ry / (0.49 * h));
                let inside = ex * ex + ey * ey;
                let edge = ex * cut_angle.cos() + ey * cut_angle.sin();
                let grey = if inside > 1.0 || edge < cut_offset {
                    236.0 + random.gaussian() * how.noise * 0.5
                } else {
                    let cx = rx + self.canvas_width as f32 / 2.0;
                    let cy = ry + self.canvas_height as f32 / 2.0;
                    // Averaged over a pixel and a half around: a rounded ridge profile, so
                    // pressure moves the ridges' edges (thin when dry, merged when wet).
                    let ridge = (self.sample(cx, cy)
                        + self.sample(cx - 1.5, cy)
                        + self.sample(cx + 1.5, cy)
                        + self.sample(cx, cy - 1.5)
                        + self.sample(cx, cy + 1.5))
                        / 5.0;
                    // The skin's own texture, fixed to the finger: ragged ridge edges and
                    // sweat pores along the ridges, as real prints show.
                    let ragged = 0.45 * self.texture(cx / 1.8, cy / 1.8)
                        + 0.25 * self.texture(cx / 5.0 + 31.0, cy / 5.0);
                    let mut darkness = ((ridge + ragged - threshold) / softness).tanh() * 0.5 + 0.5;
                    darkness *= 1.0 - 0.8 * self.pore(cx, cy);
                    if how.pressure == Pressure::Dry {
                        if random.below(9) == 0 {
                            darkness *= 0.3;
                        }
                        if gaps[(y / gap_cell) * gaps_across + x / gap_cell] {
                            darkness *= 0.35 - 0.3 * severity;
                        }
                    }
                    // Lighter towards the rim, where the finger lifts off.
                    let rim = (1.0 - inside).clamp(0.0, 0.25) * 4.0;
                    230.0 - 185.0 * darkness * rim + random.gaussian() * how.noise
                };
                out.push(grey.clamp(0.0, 255.0));
            }
        }
        if how.smudge > 0.5 {
            smear(
                &mut out,
                self.width,
                self.height,
                how.smudge,
                how.rotation + 35.0,
            );
        }
        out.into_iter().map(|g| g as u8).collect()
    }

    /// Smooth value noise in about [-1, 1] at a canvas point, fixed by the finger's seed.
    fn texture(&self, x: f32, y: f32) -> f32 {
        let (x0, y0) = (x.floor(), y.floor());
        let (fx, fy) = (x - x0, y - y0);
        let corner = |dx: f32, dy: f32| -> f32 {
            let h = spot_hash(self.seed, (x0 + dx) as i64, (y0 + dy) as i64);
            (h >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        };
        let top = corner(0.0, 0.0) * (1.0 - fx) + corner(1.0, 0.0) * fx;
        let bottom = corner(0.0, 1.0) * (1.0 - fx) + corner(1.0, 1.0) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// How much of a sweat pore covers a canvas point, 0 to 1: pores sit on a jittered grid
    /// (one in two cells of 7 pixels), about two pixels across.
    fn pore(&self, x: f32, y: f32) -> f32 {
        const CELL: f32 = 7.0;
        let (cx, cy) = ((x / CELL).floor(), (y / CELL).floor());
        let mut cover = 0.0f32;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (gx, gy) = (cx as i64 + dx, cy as i64 + dy);
                let h = spot_hash(self.seed ^ 0x005E_ED0F_F0AE, gx, gy);
                if !h.is_multiple_of(2) {
                    continue;
                }
                let px = (gx as f32 + ((h >> 8) & 0xFF) as f32 / 255.0) * CELL;
                let py = (gy as f32 + ((h >> 16) & 0xFF) as f32 / 255.0) * CELL;
                let d2 = (x - px) * (x - px) + (y - py) * (y - py);
                cover = cover.max((1.0 - d2 / 3.0).max(0.0));
            }
        }
        cover
    }

    /// The ridge field at a canvas point (bilinear; valley outside the canvas).
    fn sample(&self, x: f32, y: f32) -> f32 {
        if x < 0.0 || y < 0.0 {
            return -1.0;
        }
        let (x0, y0) = (x.floor() as usize, y.floor() as usize);
        if x0 + 1 >= self.canvas_width || y0 + 1 >= self.canvas_height {
            return -1.0;
        }
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let at = |xx: usize, yy: usize| self.ridges[yy * self.canvas_width + xx];
        let top = at(x0, y0) * (1.0 - fx) + at(x0 + 1, y0) * fx;
        let bottom = at(x0, y0 + 1) * (1.0 - fx) + at(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// The sensor size.
    pub fn size(&self) -> (u32, u32) {
        (self.width as u32, self.height as u32)
    }
}

/// A well-mixed hash of a finger's seed and a grid point.
fn spot_hash(seed: u64, x: i64, y: i64) -> u64 {
    let mut z = seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Smears `grey` along `degrees`: a finger that slid leaves a second, displaced image over the
/// first, `length` pixels away, and a blur between them.
fn smear(grey: &mut [f32], width: usize, height: usize, length: f32, degrees: f32) {
    let (dy, dx) = degrees.to_radians().sin_cos();
    let steps = (length.ceil() as isize).max(1);
    let source = grey.to_vec();
    let at = |x: f32, y: f32| -> Option<f32> {
        let (sx, sy) = (x.round(), y.round());
        (sx >= 0.0 && sy >= 0.0 && (sx as usize) < width && (sy as usize) < height)
            .then(|| source[sy as usize * width + sx as usize])
    };
    for y in 0..height {
        for x in 0..width {
            let (mut sum, mut count) = (0.0, 0.0);
            for s in 0..=steps {
                let t = s as f32 * length / steps as f32;
                // The two ends (where the finger rested) weigh more than the slide between.
                let weight = if s == 0 || s == steps { 3.0 } else { 1.0 };
                if let Some(v) = at(x as f32 + t * dx, y as f32 + t * dy) {
                    sum += weight * v;
                    count += weight;
                }
            }
            grey[y * width + x] = sum / count;
        }
    }
}

/// Even-symmetric Gabor kernels, one per orientation bin, for ridges of `period` pixels.
fn kernel_bank(period: f32) -> Vec<Vec<f32>> {
    let sigma = 0.45 * period;
    let side = (2 * KERNEL_RADIUS + 1) as usize;
    (0..ORIENTATIONS)
        .map(|bin| {
            let theta = bin as f32 * PI / ORIENTATIONS as f32;
            let (sin, cos) = theta.sin_cos();
            let mut kernel = Vec::with_capacity(side * side);
            for v in -KERNEL_RADIUS..=KERNEL_RADIUS {
                for u in -KERNEL_RADIUS..=KERNEL_RADIUS {
                    let (u, v) = (u as f32, v as f32);
                    // Across the ridges: the component normal to their direction.
                    let across = -u * sin + v * cos;
                    let envelope = (-(u * u + v * v) / (2.0 * sigma * sigma)).exp();
                    kernel.push(envelope * (2.0 * PI * across / period).cos());
                }
            }
            let mean = kernel.iter().sum::<f32>() / kernel.len() as f32;
            let centred: Vec<f32> = kernel.iter().map(|k| k - mean).collect();
            let norm = centred.iter().map(|k| k.abs()).sum::<f32>().max(1e-6);
            centred.iter().map(|k| k / norm * 4.0).collect()
        })
        .collect()
}

fn convolve(field: &[f32], width: usize, height: usize, x: usize, y: usize, kernel: &[f32]) -> f32 {
    let side = (2 * KERNEL_RADIUS + 1) as usize;
    let mut sum = 0.0;
    for (row, ky) in (-KERNEL_RADIUS..=KERNEL_RADIUS).enumerate() {
        let yy = y as isize + ky;
        if yy < 0 || yy >= height as isize {
            continue;
        }
        let line = yy as usize * width;
        let taps = &kernel[row * side..(row + 1) * side];
        for (tap, kx) in taps.iter().zip(-KERNEL_RADIUS..=KERNEL_RADIUS) {
            let xx = x as isize + kx;
            if xx >= 0 && xx < width as isize {
                sum += tap * field[line + xx as usize];
            }
        }
    }
    sum
}

#[cfg(test)]
mod tests;
