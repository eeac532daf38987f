//! NFIQ 2 scores of pictures from `nbis-py` 0.1.3 (NIST's NFIQ 2 with its own minutiae), the
//! reference the quality score is judged against, and the rank correlation it is judged by.
//!
//! A score takes NFIQ 2 ~60-200 ms, so scores are kept in `target/quality-reference/nfiq2.tsv`
//! by a hash of the picture: a second run of the tests or the bench asks NFIQ 2 only about
//! pictures it has not seen. A changed picture has another hash, so the cache cannot go stale.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;

use sajili_record::biometrics::grey::Grey;

use crate::{run_python, workspace_root};

/// What NFIQ 2 made of a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reference {
    /// Its score, 0-100.
    Score(u8),
    /// It found no minutiae: NFIQ 2's lowest score, 0.
    NoMinutiae,
    /// NFIQ 2 failed although its minutiae detector found this many: no reference score.
    Failed(u32),
}

impl Reference {
    /// The score to compare with: `None` when NFIQ 2 failed on a print with minutiae.
    pub fn score(self) -> Option<f64> {
        match self {
            Self::Score(score) => Some(f64::from(score)),
            Self::NoMinutiae => Some(0.0),
            Self::Failed(_) => None,
        }
    }

    fn to_field(self) -> String {
        match self {
            Self::Score(score) => score.to_string(),
            Self::NoMinutiae => "no-minutiae".into(),
            Self::Failed(found) => format!("failed-{found}"),
        }
    }

    fn from_field(field: &str) -> Option<Self> {
        match field {
            "no-minutiae" => Some(Self::NoMinutiae),
            _ => match field.strip_prefix("failed-") {
                Some(found) => found.parse().ok().map(Self::Failed),
                None => field.parse().ok().map(Self::Score),
            },
        }
    }
}

/// Scores each path on a line of its own: the score, `no-minutiae`, or `failed-N` when NFIQ 2
/// failed although N minutiae were found.
const SCORE: &str = r#"
import sys, nbis
def extractor(nfiq2):
    return nbis.new_nbis_extractor(nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
        check_fingerprint=False, compute_nfiq2=nfiq2, ppi=500.0))
scoring, minutiae_only = extractor(True), extractor(False)
for path in sys.argv[1:]:
    try:
        print(scoring.extract_minutiae_from_image_file(path).quality().score)
    except nbis.NbisError.Nfiq2ComputeFailed:
        found = len(minutiae_only.extract_minutiae_from_image_file(path).get())
        print(f"failed-{found}" if found else "no-minutiae")
"#;

/// FNV-1a over the size and pixels: a cache key, not a defence against anyone.
fn picture_hash(picture: &Grey) -> String {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    let size = [picture.width() as u64, picture.height() as u64];
    for byte in size
        .iter()
        .flat_map(|n| n.to_le_bytes())
        .chain(picture.pixels().iter().copied())
    {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01B3);
    }
    format!("{hash:016x}")
}

fn cache_path() -> PathBuf {
    workspace_root().join("target/quality-reference/nfiq2.tsv")
}

fn read_cache() -> HashMap<String, Reference> {
    let text = std::fs::read_to_string(cache_path()).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let (hash, field) = line.split_once('\t')?;
            Some((hash.to_string(), Reference::from_field(field.trim())?))
        })
        .collect()
}

/// NFIQ 2's verdict on each picture, in order, from the cache or from `nbis-py` (the
/// validators' venv: scripts/setup). Panics if the validators are missing or NFIQ 2 answers
/// something unexpected: these are tests.
pub fn nfiq2(pictures: &[&Grey]) -> Vec<Reference> {
    let mut cache = read_cache();
    let hashes: Vec<String> = pictures.iter().map(|p| picture_hash(p)).collect();
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut missing: Vec<(String, PathBuf)> = Vec::new();
    for (hash, picture) in hashes.iter().zip(pictures) {
        if cache.contains_key(hash) || missing.iter().any(|(h, _)| h == hash) {
            continue;
        }
        let path = dir.path().join(format!("{hash}.png"));
        std::fs::write(&path, picture.to_png().expect("PNG")).expect("write PNG");
        missing.push((hash.clone(), path));
    }
    if !missing.is_empty() {
        let args: Vec<&OsStr> = missing.iter().map(|(_, p)| p.as_os_str()).collect();
        let answers = run_python(SCORE, &args);
        let answers: Vec<&str> = answers.lines().collect();
        assert_eq!(answers.len(), missing.len(), "one answer per picture");
        let path = cache_path();
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("cache directory");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .expect("open the cache");
        for ((hash, _), answer) in missing.iter().zip(answers) {
            let reference = Reference::from_field(answer.trim())
                .unwrap_or_else(|| panic!("NFIQ 2 answered {answer:?}"));
            writeln!(file, "{hash}\t{}", reference.to_field()).expect("write the cache");
            cache.insert(hash.clone(), reference);
        }
    }
    hashes.iter().map(|hash| cache[hash]).collect()
}

/// Average ranks (ties share the mean of their positions).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        for &k in &order[i..=j] {
            out[k] = (i + j) as f64 / 2.0;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of two equally long series; NaN when either is constant or
/// there are fewer than three pairs.
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    if a.len() != b.len() || a.len() < 3 {
        return f64::NAN;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}
