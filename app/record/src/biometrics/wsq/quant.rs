//! Scalar quantisation of the subbands: bin widths chosen for a target bit rate from each
//! subband's variance (the specification's rate model), a zero bin 1.2 bins wide, and the
//! decoder's reconstruction at 0.44 of a bin from its inner edge.

use super::tree::{Band, CODED};

/// The zero bin's width relative to the others.
const ZERO_BIN: f32 = 1.2;
/// Values this fraction of a bin beyond the zero bin still go to zero: the decoder would put
/// them back at 0.56 of a bin out, no nearer than zero is, and each breaks a run of zeros that
/// codes in a few bits.
const ZERO_PULL: f32 = 0.02;
/// Subbands whose variance is below this carry nothing.
const VARIANCE_FLOOR: f32 = 1.01;

/// Bin widths per coded subband; 0 means the subband is not sent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Bins {
    /// Bin width.
    pub q: [f32; CODED],
    /// Zero-bin width.
    pub z: [f32; CODED],
}

/// Variance of each subband, measured on the central part of each (where the ridges are) unless
/// the coarsest subbands are flat, as the specification does.
pub(super) fn variances(plane: &[f32], width: usize, subbands: &[Band]) -> [f32; CODED] {
    let central = |band: &Band| Band {
        x: band.x + band.w / 8,
        y: band.y + (9 * band.h) / 32,
        w: (3 * band.w) / 4,
        h: (7 * band.h) / 16,
        ..*band
    };
    let variance = |band: Band| -> f32 {
        let n = band.len();
        if n < 2 {
            return 0.0;
        }
        let (mut sum, mut squares) = (0.0f64, 0.0f64);
        for y in band.y..band.y + band.h {
            for &v in &plane[y * width + band.x..][..band.w] {
                sum += f64::from(v);
                squares += f64::from(v) * f64::from(v);
            }
        }
        ((squares - sum * sum / n as f64) / (n as f64 - 1.0)) as f32
    };
    let mut out = [0.0; CODED];
    for (k, band) in subbands.iter().enumerate().take(4) {
        out[k] = variance(central(band));
    }
    let whole = out[..4].iter().sum::<f32>() < 20_000.0;
    for (k, band) in subbands.iter().enumerate() {
        if whole {
            out[k] = variance(*band);
        } else if k >= 4 {
            out[k] = variance(central(band));
        }
    }
    out
}

/// Bin widths that spend about `bitrate` bits per pixel, given the subbands' variances.
pub(super) fn bins_for(variances: &[f32; CODED], bitrate: f32) -> Bins {
    // Weights of the eight finest coded subbands (the specification's table); 1 elsewhere.
    const FINE_WEIGHTS: [f32; 8] = [1.32, 1.08, 1.42, 1.08, 1.32, 1.42, 1.08, 1.08];
    // Each subband's share of the picture's area.
    let share = |k: usize| -> f64 {
        match k {
            0..4 => 1.0 / 1024.0,
            4..51 => 1.0 / 256.0,
            _ => 1.0 / 16.0,
        }
    };
    let weight = |k: usize| if k >= 52 { FINE_WEIGHTS[k - 52] } else { 1.0 };
    let mut relative = [0.0f64; CODED];
    let mut sigma = [0.0f64; CODED];
    let mut active: Vec<usize> = Vec::with_capacity(CODED);
    for k in 0..CODED {
        if variances[k] >= VARIANCE_FLOOR {
            relative[k] = if k < 4 {
                1.0
            } else {
                10.0 / (f64::from(weight(k)) * f64::from(variances[k]).ln())
            };
            sigma[k] = f64::from(variances[k]).sqrt();
            active.push(k);
        }
    }
    let sent = active.clone();
    // The rate model can ask a subband for negative bits: drop those and solve again.
    let mut scale = 1.0f64;
    while !active.is_empty() {
        let area: f64 = active.iter().map(|&k| share(k)).sum();
        let log_product: f64 = active
            .iter()
            .map(|&k| share(k) * (sigma[k] / relative[k]).ln())
            .sum();
        scale = (2f64.powf(f64::from(bitrate) / area - 1.0) / 2.5) / (log_product / area).exp();
        let before = active.len();
        active.retain(|&k| relative[k] / scale < 5.0 * sigma[k]);
        if active.len() == before {
            break;
        }
    }
    let mut bins = Bins {
        q: [0.0; CODED],
        z: [0.0; CODED],
    };
    for k in sent {
        bins.q[k] = (relative[k] / scale) as f32;
        bins.z[k] = ZERO_BIN * bins.q[k];
    }
    bins
}

/// Quantises the coded subbands in order into integers.
pub(super) fn quantise(plane: &[f32], width: usize, subbands: &[Band], bins: &Bins) -> Vec<i32> {
    let mut out = Vec::with_capacity(plane.len());
    for (k, band) in subbands.iter().enumerate() {
        let (q, half_zero) = (bins.q[k], bins.z[k] / 2.0);
        if q == 0.0 {
            continue;
        }
        let zero_below = half_zero + ZERO_PULL * q;
        for y in band.y..band.y + band.h {
            for &v in &plane[y * width + band.x..][..band.w] {
                let index = if v.abs() <= zero_below {
                    0
                } else if v > 0.0 {
                    ((v - half_zero) / q + 1.0) as i32
                } else {
                    ((v + half_zero) / q - 1.0) as i32
                };
                out.push(index);
            }
        }
    }
    out
}

/// Number of coefficients sent for these bins.
pub(super) fn sent_count(subbands: &[Band], q: &[f32]) -> usize {
    subbands
        .iter()
        .zip(q)
        .filter(|(_, q)| **q != 0.0)
        .map(|(band, _)| band.len())
        .sum()
}

/// Puts quantised coefficients back into a zeroed plane.
pub(super) fn dequantise(
    indices: &[i32],
    plane: &mut [f32],
    width: usize,
    subbands: &[Band],
    bins: &Bins,
    centre: f32,
) {
    let mut next = indices.iter();
    for (k, band) in subbands.iter().enumerate() {
        let (q, half_zero) = (bins.q[k], bins.z[k] / 2.0);
        if q == 0.0 {
            continue;
        }
        for y in band.y..band.y + band.h {
            for value in &mut plane[y * width + band.x..][..band.w] {
                let index = next.next().copied().unwrap_or(0) as f32;
                *value = if index > 0.0 {
                    q * (index - centre) + half_zero
                } else if index < 0.0 {
                    q * (index + centre) - half_zero
                } else {
                    0.0
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_bits_mean_finer_bins() {
        let mut variances = [0.0; CODED];
        for (k, v) in variances.iter_mut().enumerate() {
            *v = 4000.0 / (1.0 + k as f32);
        }
        let coarse = bins_for(&variances, 0.5);
        let fine = bins_for(&variances, 2.0);
        for k in 0..CODED {
            assert!(fine.q[k] <= coarse.q[k], "subband {k}");
            assert_eq!(coarse.z[k], 1.2 * coarse.q[k]);
        }
        assert!(fine.q[10] < coarse.q[10]);
    }

    #[test]
    fn flat_subbands_are_not_sent() {
        let mut variances = [100.0; CODED];
        variances[30] = 0.5;
        let bins = bins_for(&variances, 0.75);
        assert_eq!(bins.q[30], 0.0);
        assert!(bins.q[29] > 0.0);
    }
}
