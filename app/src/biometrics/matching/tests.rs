use super::*;
use crate::biometrics::synth::SyntheticFinger;

/// The R30x sensor's picture size.
const SENSOR: (u32, u32) = (256, 288);

fn print(seed: u64, impression: u32) -> Template {
    let finger = SyntheticFinger::new(seed, SENSOR.0, SENSOR.1);
    let grey = Grey::new(
        SENSOR.0 as usize,
        SENSOR.1 as usize,
        finger.impression(impression),
    )
    .expect("picture");
    Template::new(&grey).expect("template")
}

#[test]
fn a_print_matches_itself() {
    let a = print(3, 0);
    assert!(a.minutiae() >= 12, "{a:?}");
    let verdict = compare(&a, &a.clone());
    assert!(verdict.same_finger, "{verdict:?}");
    assert!(verdict.score >= 3 * SAME_FINGER, "{verdict:?}");
}

#[test]
fn two_impressions_of_one_finger_are_one_finger() {
    // Each pair differs by placement, rotation, pressure and noise (Impression::nth).
    for (seed, k) in [(1, 1), (2, 2), (4, 3), (7, 1), (11, 2)] {
        let verdict = compare(&print(seed, 0), &print(seed, k));
        assert!(
            verdict.same_finger,
            "finger {seed}, impression {k}: {verdict:?}"
        );
    }
}

#[test]
fn different_fingers_are_not_one_finger() {
    for (a, b) in [(1, 2), (3, 4), (5, 6), (7, 11), (12, 13)] {
        let verdict = compare(&print(a, 0), &print(b, 1));
        assert!(!verdict.same_finger, "fingers {a} and {b}: {verdict:?}");
        assert!(verdict.score < SAME_FINGER, "{verdict:?}");
    }
}

#[test]
fn the_score_is_the_same_both_ways() {
    let (a, b) = (print(5, 0), print(5, 2));
    assert_eq!(score(&a, &b), score(&b, &a));
}

#[test]
fn an_empty_template_matches_nothing() {
    // A blank glass: no ridges, no minutiae.
    let blank = Grey::new(256, 288, vec![236; 256 * 288]).expect("picture");
    let empty = Template::new(&blank).expect("template");
    assert!(empty.minutiae() < 3, "{empty:?}");
    assert!(!same_finger(&empty, &empty.clone()));
}

#[test]
fn a_picture_too_small_is_refused_not_panicked_on() {
    let tiny = Grey::new(8, 8, vec![0; 64]).expect("picture");
    assert_eq!(
        Template::new(&tiny),
        Err(MatchError::BadSize {
            width: 8,
            height: 8
        })
    );
}

#[test]
fn a_template_shows_no_minutiae_when_printed() {
    let shown = format!("{:?}", print(1, 0));
    assert!(
        shown.starts_with("Template(") && shown.ends_with(" minutiae)"),
        "{shown}"
    );
    assert!(!shown.contains("FMR"));
}

#[test]
fn the_sensor_twins_ten_fingers_are_told_apart() {
    // The twin serves impressions 0-2 of fingers 1-10 (ui::twins::prints), one finger per
    // position: were two of them taken for one, every simulated enrolment would be refused.
    let fingers: Vec<Vec<Template>> = (1..=10)
        .map(|seed| (0..3).map(|k| print(seed, k)).collect())
        .collect();
    for (a, these) in fingers.iter().enumerate() {
        for (b, those) in fingers.iter().enumerate().skip(a + 1) {
            for (i, x) in these.iter().enumerate() {
                for (j, y) in those.iter().enumerate() {
                    let verdict = compare(x, y);
                    assert!(
                        !verdict.same_finger,
                        "finger {} impression {i} ~ finger {} impression {j}: {verdict:?}",
                        a + 1,
                        b + 1
                    );
                }
            }
        }
    }
}
