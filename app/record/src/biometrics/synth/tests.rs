use super::*;

/// Ridge orientation per block of `block` pixels, from image gradients (the doubled-angle
/// average), with its coherence (0: no direction, 1: one clear direction).
fn block_orientations(grey: &[u8], width: usize, height: usize, block: usize) -> Vec<(f32, f32)> {
    let at = |x: usize, y: usize| f32::from(grey[y * width + x]);
    let (bw, bh) = (width / block, height / block);
    let mut out = Vec::with_capacity(bw * bh);
    for by in 0..bh {
        for bx in 0..bw {
            let (mut gxx, mut gyy, mut gxy) = (0.0f32, 0.0f32, 0.0f32);
            for y in (by * block).max(1)..((by + 1) * block).min(height - 1) {
                for x in (bx * block).max(1)..((bx + 1) * block).min(width - 1) {
                    let gx = at(x + 1, y) - at(x - 1, y);
                    let gy = at(x, y + 1) - at(x, y - 1);
                    gxx += gx * gx;
                    gyy += gy * gy;
                    gxy += gx * gy;
                }
            }
            let angle = 0.5 * (2.0 * gxy).atan2(gxx - gyy) + PI / 2.0;
            let coherence = ((gxx - gyy).powi(2) + 4.0 * gxy * gxy).sqrt() / (gxx + gyy).max(1e-3);
            out.push((angle, coherence));
        }
    }
    out
}

/// Cores and deltas found by the Poincaré index around each 2x2 group of blocks, inside the
/// finger (where the blocks have a direction).
fn singular_points(grey: &[u8], width: usize, height: usize) -> (usize, usize) {
    let block = 12;
    let field = block_orientations(grey, width, height, block);
    let (bw, bh) = (width / block, height / block);
    // Smooth the doubled-angle vectors over 3x3 blocks.
    let mut smooth = vec![0.0f32; field.len()];
    let mut strong = vec![false; field.len()];
    for y in 0..bh {
        for x in 0..bw {
            let (mut c, mut s) = (0.0, 0.0);
            for yy in y.saturating_sub(1)..(y + 2).min(bh) {
                for xx in x.saturating_sub(1)..(x + 2).min(bw) {
                    let (angle, coherence) = field[yy * bw + xx];
                    c += (2.0 * angle).cos() * coherence;
                    s += (2.0 * angle).sin() * coherence;
                }
            }
            smooth[y * bw + x] = 0.5 * s.atan2(c);
            strong[y * bw + x] = field[y * bw + x].1 > 0.2;
        }
    }
    let wrap = |d: f32| {
        let mut d = d;
        while d > PI / 2.0 {
            d -= PI;
        }
        while d <= -PI / 2.0 {
            d += PI;
        }
        d
    };
    let mut found: Vec<(usize, usize, bool)> = Vec::new();
    for y in 1..bh.saturating_sub(2) {
        for x in 1..bw.saturating_sub(2) {
            let ring = [(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)];
            if ring.iter().any(|(xx, yy)| !strong[yy * bw + xx]) {
                continue;
            }
            let mut sum = 0.0;
            for i in 0..4 {
                let (a, b) = (ring[i], ring[(i + 1) % 4]);
                sum += wrap(smooth[b.1 * bw + b.0] - smooth[a.1 * bw + a.0]);
            }
            if sum.abs() > PI * 0.75 {
                let core = sum > 0.0;
                if !found
                    .iter()
                    .any(|(fx, fy, c)| *c == core && fx.abs_diff(x) <= 2 && fy.abs_diff(y) <= 2)
                {
                    found.push((x, y, core));
                }
            }
        }
    }
    let cores = found.iter().filter(|f| f.2).count();
    (cores, found.len() - cores)
}

#[test]
fn the_same_seed_gives_the_same_print_and_another_seed_another() {
    let a = SyntheticFinger::new(7, 256, 288).impression(0);
    let b = SyntheticFinger::new(7, 256, 288).impression(0);
    let c = SyntheticFinger::new(8, 256, 288).impression(0);
    assert_eq!(a.len(), 256 * 288);
    assert_eq!(a, b);
    assert_ne!(a, c);
    let big = SyntheticFinger::new(7, 500, 500);
    assert_eq!(big.impression(3).len(), 500 * 500);
}

#[test]
fn each_class_shows_its_singular_points() {
    for class in PatternClass::ALL {
        let finger = SyntheticFinger::with_class(11, class, 256, 288);
        let grey = finger.impression(0);
        let (cores, deltas) = singular_points(&grey, 256, 288);
        let (want_cores, want_deltas) = class.singular_points();
        println!("{class:?}: found {cores} core(s), {deltas} delta(s)");
        assert_eq!(cores + deltas, want_cores + want_deltas, "{class:?}");
    }
}

#[test]
fn ridges_are_about_nine_pixels_apart() {
    let finger = SyntheticFinger::with_class(5, PatternClass::Arch, 256, 288);
    let grey = finger.impression(0);
    // Arch ridges run across near the bottom: count dark-light turns down a column.
    let column: Vec<f32> = (170..250).map(|y| f32::from(grey[y * 256 + 128])).collect();
    let mean = column.iter().sum::<f32>() / column.len() as f32;
    let turns = column
        .windows(2)
        .filter(|w| (w[0] - mean).signum() != (w[1] - mean).signum())
        .count();
    let period = 2.0 * column.len() as f32 / turns.max(1) as f32;
    assert!((7.0..=12.0).contains(&period), "period {period} px");
}

/// Share of dark pixels in the middle of the print (inside any contact).
fn dark_share(grey: &[u8]) -> f32 {
    let mut dark = 0;
    for y in 94..194 {
        for x in 78..178 {
            dark += usize::from(grey[y * 256 + x] < 128);
        }
    }
    dark as f32 / 10_000.0
}

#[test]
fn dry_prints_are_thin_and_wet_prints_thick_and_a_partial_touch_smaller() {
    let finger = SyntheticFinger::with_class(3, PatternClass::Whorl, 256, 288);
    let base = Impression::nth(3, 0);
    let render = |pressure, contact| {
        finger.render(
            &Impression {
                pressure,
                contact,
                ..base
            },
            1,
        )
    };
    let dry = dark_share(&render(Pressure::Dry, 1.0));
    let normal = dark_share(&render(Pressure::Normal, 1.0));
    let wet = dark_share(&render(Pressure::Wet, 1.0));
    assert!(
        dry < normal && normal < wet,
        "dry {dry}, normal {normal}, wet {wet}"
    );
    let touched = |grey: &[u8]| grey.iter().filter(|g| **g < 200).count();
    let whole = touched(&render(Pressure::Normal, 1.0));
    let partial = touched(&render(Pressure::Normal, 0.5));
    assert!(partial * 10 < whole * 7, "partial {partial} of {whole}");
}

#[test]
fn impressions_of_one_finger_differ_in_placement() {
    let finger = SyntheticFinger::new(21, 256, 288);
    let shots: Vec<Vec<u8>> = (0..4).map(|k| finger.impression(k)).collect();
    for pair in shots.windows(2) {
        assert_ne!(pair[0], pair[1]);
    }
    let params: Vec<Impression> = (1..20).map(|k| Impression::nth(21, k)).collect();
    assert!(params.iter().any(|p| p.pressure == Pressure::Dry));
    assert!(params.iter().any(|p| p.pressure == Pressure::Wet));
    assert!(params.iter().any(|p| p.contact < 1.0));
    assert!(params.iter().all(|p| p.rotation.abs() <= 15.0));
}
