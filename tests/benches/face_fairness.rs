//! Face fairness benchmark (issue 18): the face checks on `sajili_tests::face_set` per
//! skin-tone group (Monk Skin Tone scale, measured on each person's compliant frame): frames,
//! detection rate, false rejects of compliant frames and the checks behind them, failure
//! frames caught by the right check, the median eye error; then the pipeline's frames per
//! second on one core, per group, since a face the detector misses at first costs more passes.
//!
//! `cargo bench -p sajili-tests --bench face_fairness -- [--rounds N]`.
//! Goals: compliant frames accepted at least 95% in every group, the groups within 3 points of
//! each other, and at least 30 frames per second on one core in every group.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use sajili::biometrics::face::FaceChecker;
use sajili::biometrics::photo::Rgb;
use sajili_tests::face_set::{self, GROUPS};

fn rounds() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(3usize)
        .max(1)
}

fn main() {
    let frames = face_set::face_set();
    let mut checker = FaceChecker::new().unwrap();
    let outcomes = face_set::evaluate(&frames, &mut checker);
    let figures = face_set::figures(&outcomes);
    let real: Vec<String> = {
        let mut people: Vec<String> = frames
            .iter()
            .filter(|f| !f.synthetic && f.kind == "good")
            .map(|f| format!("{} MST {} (ITA {:.0})", f.person, f.monk, f.ita))
            .collect();
        people.dedup();
        people
    };
    println!(
        "face fairness: {} frames ({} compliant); real photographs in their own tone: {}; every person also re-toned to each Monk tone (synthetic)",
        frames.len(),
        frames.iter().filter(|f| f.expect.is_none()).count(),
        real.join(", ")
    );
    print!("{}", face_set::table(&figures));
    let rates: Vec<f32> = figures.iter().map(|(_, g)| g.acceptance()).collect();
    let spread = rates.iter().copied().fold(f32::MIN, f32::max)
        - rates.iter().copied().fold(f32::MAX, f32::min);
    println!(
        "acceptance: lowest {:.1}% (goal at least 95%), spread {spread:.1} points (goal at most 3)",
        rates.iter().copied().fold(f32::MAX, f32::min)
    );
    let real_compliant: Vec<_> = outcomes
        .iter()
        .filter(|o| !o.frame.synthetic && o.frame.expect.is_none())
        .collect();
    println!(
        "real photographs alone: {} of {} compliant frames accepted",
        real_compliant.iter().filter(|o| o.report.passed()).count(),
        real_compliant.len()
    );

    // Speed: every compliant frame of a group, decoded beforehand, checked `rounds` times on
    // this thread (the checker is single-threaded: one core).
    let rounds = rounds();
    println!("face pipeline on one core, 640x480 compliant frames, {rounds} rounds:");
    for (low, high) in GROUPS {
        let decoded: Vec<Rgb> = frames
            .iter()
            .filter(|f| f.expect.is_none() && (low..=high).contains(&f.monk))
            .map(|f| Rgb::decode(&std::fs::read(&f.path).unwrap()).unwrap())
            .collect();
        let mut times: Vec<Duration> = Vec::new();
        for _ in 0..rounds {
            for frame in &decoded {
                let start = Instant::now();
                std::hint::black_box(checker.check(frame));
                times.push(start.elapsed());
            }
        }
        times.sort();
        let median = times
            .get(times.len() / 2)
            .map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0);
        let slowest = times
            .get(times.len() * 95 / 100)
            .map_or(f64::NAN, |t| t.as_secs_f64() * 1000.0);
        println!(
            "MST {low:>2}-{high:<2}  {median:>6.1} ms median ({:.0} frames per second), {slowest:.1} ms at the 95th percentile ({:.0} fps)",
            1000.0 / median,
            1000.0 / slowest
        );
    }
}
