//! The face fairness set (issue 18): kiosk frames made from real photographs that registry
//! packages ship, in compliant and failing kinds, grouped by measured skin tone, and the
//! figures the face checks reach on each group.
//!
//! The frames are made by `face_set.py` (Pillow and numpy in the validators' venv) from
//! scikit-image's astronaut.png and the test images of PyPI's face_recognition 1.3.0 source
//! package, both fetched by `scripts/setup`. They are cached under `target/face-set/`, keyed
//! by the script's own bytes, so a changed script makes a fresh set.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use sajili::biometrics::face::{CheckKind, FaceChecker, FaceReport};
use sajili::biometrics::photo::Rgb;

use crate::{validators_python, workspace_root};

/// The script that makes the frames.
const SCRIPT: &str = include_str!("face_set.py");

/// Skin-tone groups: pairs of Monk Skin Tone scale tones (1 lightest, 10 deepest).
pub const GROUPS: [(u8, u8); 5] = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)];

/// One frame of the set, as its manifest describes it.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The PNG file.
    pub path: PathBuf,
    /// Whose photograph it was made from.
    pub person: String,
    /// True when the skin was re-toned (not the photograph's own tone).
    pub synthetic: bool,
    /// Monk Skin Tone (1-10) measured on the person's compliant frame.
    pub monk: u8,
    /// Individual typology angle of the same measurement, degrees.
    pub ita: f32,
    /// What the frame shows: a compliant variant (good, near, ...) or a failure kind.
    pub kind: String,
    /// The check that must fail; `None` for a compliant frame, which must pass.
    pub expect: Option<CheckKind>,
    /// Where the eyes are (left, right as seen), for compliant frames.
    pub eyes: Option<[(f32, f32); 2]>,
}

fn check_kind(name: &str) -> Option<CheckKind> {
    Some(match name {
        "one_face" => CheckKind::OneFace,
        "eye_distance" => CheckKind::EyeDistance,
        "centred" => CheckKind::Centred,
        "eye_height" => CheckKind::EyeHeight,
        "roll" => CheckKind::Roll,
        "frontal" => CheckKind::Frontal,
        "exposure" => CheckKind::Exposure,
        "dynamic_range" => CheckKind::DynamicRange,
        "sharpness" => CheckKind::Sharpness,
        "background_light" => CheckKind::BackgroundLight,
        "background_plain" => CheckKind::BackgroundPlain,
        _ => return None,
    })
}

/// The photographs the set is made from, as `scripts/setup` leaves them.
fn sources() -> (PathBuf, PathBuf) {
    let validators = workspace_root().join("target/validators");
    let astronaut = std::fs::read_dir(validators.join("lib"))
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages/skimage/data/astronaut.png")
        })
        .find(|path| path.is_file());
    let images = validators.join("data/face_recognition");
    match astronaut {
        Some(astronaut) if images.join("obama.jpg").is_file() => (astronaut, images),
        _ => panic!(
            "{} or scikit-image's astronaut.png missing: run scripts/setup",
            images.display()
        ),
    }
}

/// Makes the set (or finds it made) and reads its manifest.
pub fn face_set() -> Vec<Frame> {
    // FNV-1a of the script: a changed script makes a fresh set.
    let key = SCRIPT.bytes().fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = workspace_root().join(format!("target/face-set/{key:016x}"));
    let manifest = dir.join("manifest.json");
    if !manifest.is_file() {
        make(&dir);
    }
    read_manifest(&dir, &manifest)
}

fn make(dir: &Path) {
    let (astronaut, images) = sources();
    let partial = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&partial);
    std::fs::create_dir_all(&partial).expect("make the face set's folder");
    let script = partial.join("face_set.py");
    std::fs::write(&script, SCRIPT).expect("write face_set.py");
    let output = Command::new(validators_python())
        .arg(&script)
        .arg(&partial)
        .arg(&astronaut)
        .arg(&images)
        .output()
        .expect("run face_set.py");
    assert!(
        output.status.success(),
        "face_set.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Whole or not at all: a set cut short by a killed test is made again.
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&partial, dir).expect("move the face set into place");
}

fn read_manifest(dir: &Path, manifest: &Path) -> Vec<Frame> {
    let text = std::fs::read_to_string(manifest).expect("read the face set's manifest");
    let entries: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let entries = entries.as_array().expect("manifest is a list");
    entries
        .iter()
        .map(|entry| {
            let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
            let point = |value: &serde_json::Value| {
                (
                    value[0].as_f64().unwrap_or_default() as f32,
                    value[1].as_f64().unwrap_or_default() as f32,
                )
            };
            Frame {
                path: dir.join(text("file")),
                person: text("person"),
                synthetic: entry["synthetic"].as_bool().unwrap_or(true),
                monk: entry["monk"].as_u64().unwrap_or_default() as u8,
                ita: entry["ita"].as_f64().unwrap_or_default() as f32,
                kind: text("kind"),
                expect: entry["expect"]
                    .as_str()
                    .map(|name| check_kind(name).unwrap_or_else(|| panic!("unknown check {name}"))),
                eyes: entry["eyes"]
                    .as_array()
                    .map(|eyes| [point(&eyes[0]), point(&eyes[1])]),
            }
        })
        .collect()
}

/// What the checker made of one frame.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The frame.
    pub frame: Frame,
    /// The checker's report.
    pub report: FaceReport,
}

impl Outcome {
    /// Checks that failed.
    pub fn failed(&self) -> Vec<CheckKind> {
        self.report
            .checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.kind)
            .collect()
    }

    /// Whether the frame got the verdict it should: compliant frames pass, failing frames fail
    /// the expected check.
    pub fn right(&self) -> bool {
        match self.frame.expect {
            None => self.report.passed(),
            // A busy wall may read as too dark before it reads as busy: both checks give the
            // same advice.
            Some(CheckKind::BackgroundPlain) => self.failed().iter().any(|kind| {
                matches!(
                    kind,
                    CheckKind::BackgroundPlain | CheckKind::BackgroundLight
                )
            }),
            Some(kind) => self.failed().contains(&kind),
        }
    }

    /// Pixels between the eyes found and the eyes placed (the worse eye), compliant frames.
    pub fn eye_error(&self) -> Option<f32> {
        let (placed, found) = (self.frame.eyes?, self.report.eyes?);
        let off = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        Some(off(placed[0], found.left).max(off(placed[1], found.right)))
    }
}

/// Runs the checker on every frame.
pub fn evaluate(frames: &[Frame], checker: &mut FaceChecker) -> Vec<Outcome> {
    frames
        .iter()
        .map(|frame| {
            let bytes = std::fs::read(&frame.path).expect("read a frame");
            let image = Rgb::decode(&bytes).expect("decode a frame");
            Outcome {
                frame: frame.clone(),
                report: checker.check(&image),
            }
        })
        .collect()
}

/// The figures for one skin-tone group.
#[derive(Debug, Clone, Default)]
pub struct GroupFigures {
    /// Compliant frames.
    pub compliant: usize,
    /// Of them, made from photographs in their own tone (not re-toned).
    pub real: usize,
    /// Compliant frames where exactly one face was found.
    pub detected: usize,
    /// Compliant frames that passed every check.
    pub accepted: usize,
    /// Checks that failed on compliant frames, with how often.
    pub failing_checks: BTreeMap<String, usize>,
    /// Failure frames.
    pub failures: usize,
    /// Failure frames that failed the right check.
    pub failures_caught: usize,
    /// Median eye error on compliant frames, pixels.
    pub median_eye_error: f32,
}

impl GroupFigures {
    /// Share of compliant frames accepted, percent.
    pub fn acceptance(&self) -> f32 {
        100.0 * self.accepted as f32 / self.compliant.max(1) as f32
    }

    /// Share of compliant frames with one face found, percent.
    pub fn detection(&self) -> f32 {
        100.0 * self.detected as f32 / self.compliant.max(1) as f32
    }
}

/// Figures for each group of [`GROUPS`], in order.
pub fn figures(outcomes: &[Outcome]) -> Vec<((u8, u8), GroupFigures)> {
    GROUPS
        .iter()
        .map(|&(low, high)| {
            let mut group = GroupFigures::default();
            let mut errors = Vec::new();
            for outcome in outcomes
                .iter()
                .filter(|o| (low..=high).contains(&o.frame.monk))
            {
                if outcome.frame.expect.is_some() {
                    group.failures += 1;
                    group.failures_caught += usize::from(outcome.right());
                    continue;
                }
                group.compliant += 1;
                group.real += usize::from(!outcome.frame.synthetic);
                group.detected += usize::from(outcome.report.faces == 1);
                group.accepted += usize::from(outcome.report.passed());
                for kind in outcome.failed() {
                    *group.failing_checks.entry(format!("{kind:?}")).or_default() += 1;
                }
                errors.extend(outcome.eye_error());
            }
            errors.sort_by(f32::total_cmp);
            group.median_eye_error = errors.get(errors.len() / 2).copied().unwrap_or(f32::NAN);
            ((low, high), group)
        })
        .collect()
}

/// The figures as a table, one line per group.
pub fn table(figures: &[((u8, u8), GroupFigures)]) -> String {
    let mut out = String::from(
        "Monk tones  compliant (real)  detected  accepted  false rejects  eye error px  failures caught  checks failing on compliant\n",
    );
    for ((low, high), g) in figures {
        out.push_str(&format!(
            "MST {low:>2}-{high:<2}  {:>9} ({:>3})  {:>7.1}%  {:>7.1}%  {:>13}  {:>12.1}  {:>8}/{:<6}  {:?}\n",
            g.compliant,
            g.real,
            g.detection(),
            g.acceptance(),
            g.compliant - g.accepted,
            g.median_eye_error,
            g.failures_caught,
            g.failures,
            g.failing_checks
        ));
    }
    out
}
