//! The WSQ wavelet transform: the 9/7 biorthogonal filter pair of the specification, applied
//! across then down each split with whole-sample symmetric extension at the edges.

use super::tree::Band;

/// The analysis low-pass filter's taps from its centre outwards (it is symmetric).
pub(super) const LOW: [f32; 5] = [
    0.852_698_7,
    0.377_402_85,
    -0.110_624_41,
    -0.023_849_465,
    0.037_828_455,
];
/// The analysis high-pass filter's taps from its centre outwards (it is symmetric).
pub(super) const HIGH: [f32; 4] = [0.788_485_6, -0.418_092_27, -0.040_689_42, 0.064_538_88];

/// A symmetric odd filter given by its centre and one side.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Filters {
    /// Analysis low-pass, centre first.
    pub low: Vec<f32>,
    /// Analysis high-pass, centre first.
    pub high: Vec<f32>,
}

impl Filters {
    /// The specification's pair.
    pub fn standard() -> Self {
        Self {
            low: LOW.to_vec(),
            high: HIGH.to_vec(),
        }
    }

    /// Widest reach to either side.
    fn reach(&self) -> usize {
        self.low.len().max(self.high.len())
    }
}

/// Index `i` of a line of `n` samples reflected about its first and last sample.
fn reflect(i: isize, n: usize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * (n as isize - 1);
    let i = i.rem_euclid(period);
    (if i < n as isize { i } else { period - i }) as usize
}

/// Copies `line` into `padded` with `pad` reflected samples on each side.
fn extend(line: &[f32], pad: usize, padded: &mut Vec<f32>) {
    padded.clear();
    let n = line.len();
    padded.extend((0..n + 2 * pad).map(|i| line[reflect(i as isize - pad as isize, n)]));
}

/// Splits one line into its low-pass half (samples 0, 2, 4...) and high-pass half (1, 3...),
/// written to `out` in that order, or high-pass first when `high_first`.
fn analyse_line(
    line: &[f32],
    filters: &Filters,
    high_first: bool,
    pad: &mut Vec<f32>,
    out: &mut [f32],
) {
    let n = line.len();
    let reach = filters.reach();
    extend(line, reach, pad);
    let (low_len, high_len) = (n.div_ceil(2), n / 2);
    let (low_at, high_at) = if high_first {
        (high_len, 0)
    } else {
        (0, low_len)
    };
    for k in 0..low_len {
        let c = reach + 2 * k;
        let mut sum = filters.low[0] * pad[c];
        for (t, &tap) in filters.low.iter().enumerate().skip(1) {
            sum += tap * (pad[c - t] + pad[c + t]);
        }
        out[low_at + k] = sum;
    }
    for k in 0..high_len {
        let c = reach + 2 * k + 1;
        let mut sum = filters.high[0] * pad[c];
        for (t, &tap) in filters.high.iter().enumerate().skip(1) {
            sum += tap * (pad[c - t] + pad[c + t]);
        }
        out[high_at + k] = sum;
    }
}

/// Rebuilds one line from its halves (the inverse of [`analyse_line`]). The synthesis filters
/// are the analysis ones modulated: low-pass from the high-pass taps with alternating signs,
/// and the other way round.
fn synthesise_line(
    halves_in: &[f32],
    filters: &Filters,
    high_first: bool,
    pad: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
    out: &mut [f32],
) {
    let n = halves_in.len();
    let reach = filters.reach();
    let (low_len, high_len) = (n.div_ceil(2), n / 2);
    let (low_at, high_at) = if high_first {
        (high_len, 0)
    } else {
        (0, low_len)
    };
    // Interleave back to full rate: low-pass values at even samples, high-pass at odd.
    scratch.clear();
    scratch.extend((0..n).map(|i| {
        if i % 2 == 0 {
            halves_in[low_at + i / 2]
        } else {
            halves_in[high_at + i / 2]
        }
    }));
    extend(scratch, reach, pad);
    // One kernel for even outputs and one for odd: the tap at distance t applies the modulated
    // high-pass filter where the source sample is even (a low-pass value) and the modulated
    // low-pass filter where it is odd (a high-pass value).
    let width = 2 * reach + 1;
    let kernel = |parity: usize| -> Vec<f32> {
        (0..width)
            .map(|i| {
                let t = i as isize - reach as isize;
                let distance = t.unsigned_abs();
                let sign = if distance.is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
                let source_even = (parity as isize - t).rem_euclid(2) == 0;
                let taps = if source_even {
                    &filters.high
                } else {
                    &filters.low
                };
                taps.get(distance).map_or(0.0, |tap| sign * tap)
            })
            .collect()
    };
    let kernels = [kernel(0), kernel(1)];
    for (j, value) in out.iter_mut().enumerate().take(n) {
        // pad[reach + j - t] for t = -reach..=reach is pad[j..j + width] reversed.
        let window = &pad[j..j + width];
        *value = kernels[j % 2]
            .iter()
            .zip(window.iter().rev())
            .map(|(k, v)| k * v)
            .sum();
    }
}

/// Scratch lines reused across a whole transform.
#[derive(Default)]
struct Lines {
    line: Vec<f32>,
    pad: Vec<f32>,
    scratch: Vec<f32>,
    out: Vec<f32>,
}

impl Lines {
    fn load_row(&mut self, plane: &[f32], width: usize, band: &Band, y: usize) {
        let start = y * width + band.x;
        self.line.clear();
        self.line.extend_from_slice(&plane[start..start + band.w]);
        self.out.resize(band.w, 0.0);
    }

    fn load_column(&mut self, plane: &[f32], width: usize, band: &Band, x: usize) {
        self.line.clear();
        self.line
            .extend((band.y..band.y + band.h).map(|y| plane[y * width + x]));
        self.out.resize(band.h, 0.0);
    }
}

/// Splits each band of `splits` in order, in place: rows first, then columns.
pub(super) fn decompose(plane: &mut [f32], width: usize, splits: &[Band], filters: &Filters) {
    let mut lines = Lines::default();
    for band in splits {
        for y in band.y..band.y + band.h {
            lines.load_row(plane, width, band, y);
            analyse_line(
                &lines.line,
                filters,
                band.flip_x,
                &mut lines.pad,
                &mut lines.out,
            );
            plane[y * width + band.x..][..band.w].copy_from_slice(&lines.out);
        }
        for x in band.x..band.x + band.w {
            lines.load_column(plane, width, band, x);
            analyse_line(
                &lines.line,
                filters,
                band.flip_y,
                &mut lines.pad,
                &mut lines.out,
            );
            for (i, &v) in lines.out.iter().enumerate() {
                plane[(band.y + i) * width + x] = v;
            }
        }
    }
}

/// Undoes [`decompose`]: the splits in reverse order, columns first, then rows.
pub(super) fn reconstruct(plane: &mut [f32], width: usize, splits: &[Band], filters: &Filters) {
    let mut lines = Lines::default();
    for band in splits.iter().rev() {
        for x in band.x..band.x + band.w {
            lines.load_column(plane, width, band, x);
            synthesise_line(
                &lines.line,
                filters,
                band.flip_y,
                &mut lines.pad,
                &mut lines.scratch,
                &mut lines.out,
            );
            for (i, &v) in lines.out.iter().enumerate() {
                plane[(band.y + i) * width + x] = v;
            }
        }
        for y in band.y..band.y + band.h {
            lines.load_row(plane, width, band, y);
            synthesise_line(
                &lines.line,
                filters,
                band.flip_x,
                &mut lines.pad,
                &mut lines.scratch,
                &mut lines.out,
            );
            plane[y * width + band.x..][..band.w].copy_from_slice(&lines.out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tree::Layout;
    use super::*;

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                (state % 256) as f32 - 128.0
            })
            .collect()
    }

    #[test]
    fn a_line_comes_back_exactly_from_its_halves() {
        let filters = Filters::standard();
        for n in [2, 3, 5, 8, 9, 20, 21] {
            for high_first in [false, true] {
                let line = noise(n, n as u32);
                let (mut pad, mut scratch) = (Vec::new(), Vec::new());
                let mut split = vec![0.0; n];
                analyse_line(&line, &filters, high_first, &mut pad, &mut split);
                let mut back = vec![0.0; n];
                synthesise_line(
                    &split,
                    &filters,
                    high_first,
                    &mut pad,
                    &mut scratch,
                    &mut back,
                );
                for (a, b) in line.iter().zip(&back) {
                    assert!((a - b).abs() < 1e-3, "n={n} {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn a_picture_comes_back_from_all_twenty_splits() {
        let filters = Filters::standard();
        let (w, h) = (97, 130);
        let layout = Layout::new(w, h);
        let original = noise(w * h, 7);
        let mut plane = original.clone();
        decompose(&mut plane, w, &layout.splits, &filters);
        assert_ne!(plane, original);
        reconstruct(&mut plane, w, &layout.splits, &filters);
        let worst = original
            .iter()
            .zip(&plane)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst < 0.01, "worst error {worst}");
    }

    #[test]
    fn the_low_pass_filter_passes_a_constant_and_the_high_pass_stops_it() {
        let line = vec![10.0; 16];
        let mut out = vec![0.0; 16];
        analyse_line(
            &line,
            &Filters::standard(),
            false,
            &mut Vec::new(),
            &mut out,
        );
        // The filters are scaled by the square root of two.
        assert!((out[0] - 10.0 * std::f32::consts::SQRT_2).abs() < 1e-3);
        assert!(out[8].abs() < 1e-4);
    }
}
