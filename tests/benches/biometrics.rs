//! Biometrics benchmark: per print, synthetic generation, quality, WSQ encode and decode; per
//! 640x480 frame, the face pipeline (detection, eyes, checks); the same jobs by the references
//! in the same run (nbis-py's NFIQ 2, NIST's WSQ through the `wsq` package), with the ratios;
//! the document check on a frame of the specimen card; and the bytes a whole enrolment costs
//! on the uplink (ten WSQ prints, the token face, the document, demographics, the sealed
//! envelope); and the quality score's rank agreement with NFIQ 2 on
//! `sajili_tests::quality_set` (training, held-out and clean parts, per kind of spoil).
//!
//! `cargo bench -p sajili-tests --bench biometrics -- [--prints N] [--frames N]`.
//! Goals: quality under 10 ms per 256x288 print; the face pipeline at 30 frames per second on
//! one core; WSQ encode no slower than NIST's; an enrolment under 120 KB.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use sajili::biometrics::document;
use sajili::biometrics::face::{self, FaceChecker};
use sajili::biometrics::grey::Grey;
use sajili::biometrics::photo::Rgb;
use sajili::biometrics::synth::SyntheticFinger;
use sajili::biometrics::{quality, wsq};
use sajili::record::{ChainSlot, Sealer};
use sajili_tests::nfiq2::{nfiq2, spearman};
use sajili_tests::quality_set::{Split, Spoil, clean_placed_again, quality_set};
use sajili_tests::{TestRegistry, run_python, workspace_root};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
        .max(1)
}

fn median(mut times: Vec<Duration>) -> f64 {
    times.sort();
    times[times.len() / 2].as_secs_f64() * 1000.0
}

/// Milliseconds per call of `job` over `items`, the median.
fn time_each<T>(items: &[T], mut job: impl FnMut(&T)) -> f64 {
    let times = items
        .iter()
        .map(|item| {
            let start = Instant::now();
            job(item);
            start.elapsed()
        })
        .collect();
    median(times)
}

const REFERENCE: &str = r#"
import io, sys, time, statistics
import wsq, nbis
from PIL import Image
settings = nbis.NbisExtractorSettings(min_quality=0.0, get_center=False,
    check_fingerprint=False, compute_nfiq2=True, ppi=500.0)
extractor = nbis.new_nbis_extractor(settings)
def median_ms(job, items):
    times = []
    for item in items:
        start = time.perf_counter()
        job(item)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
for size, paths in (("256x288", sys.argv[1].split(",")), ("500x500", sys.argv[2].split(","))):
    images = [Image.open(p).convert("L") for p in paths]
    for im in images:
        im.load()
    def encode(im):
        out = io.BytesIO()
        im.save(out, "WSQ")
        return out.getvalue()
    files = [encode(im) for im in images]
    def decode(data):
        Image.open(io.BytesIO(data)).load()
    print(size, "nfiq2", median_ms(lambda p: extractor.extract_minutiae_from_image_file(p).quality().score, paths))
    print(size, "wsq_encode", median_ms(encode, images))
    print(size, "wsq_decode", median_ms(decode, files))
"#;

/// Where the validators' scikit-image keeps its astronaut photo (asked of its Python, so no
/// Python version is assumed); `None` without the validators.
fn astronaut_path() -> Option<std::path::PathBuf> {
    let python = workspace_root().join("target/validators/bin/python");
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import os, skimage.data; print(os.path.join(os.path.dirname(skimage.data.__file__), 'astronaut.png'))",
        ])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().into())
}

/// The public-domain astronaut photo's head and shoulders as a 640x480 camera frame.
fn astronaut_frame() -> Option<Rgb> {
    let path = astronaut_path()?;
    let photo = Rgb::decode(&std::fs::read(path).ok()?).ok()?;
    let (x0, y0, w, h) = (84.0, 11.0, 280.0, 210.0);
    let mut pixels = Vec::with_capacity(640 * 480 * 3);
    for y in 0..480 {
        for x in 0..640 {
            let colour = photo
                .sample(x0 + x as f32 * w / 640.0, y0 + y as f32 * h / 480.0)
                .unwrap_or([200.0; 3]);
            pixels.extend(colour.map(|c| c as u8));
        }
    }
    Rgb::new(640, 480, pixels).ok()
}

/// The quality score against NFIQ 2 on the quality set, per part and per kind of spoil, and
/// the time per print over the whole set.
fn quality_agreement() {
    let start = Instant::now();
    let set = quality_set(&[Split::Train, Split::HeldOut, Split::Clean]);
    let drawn = start.elapsed();
    let pictures: Vec<&Grey> = set.iter().map(|p| &p.picture).collect();
    let references = nfiq2(&pictures);
    let mut times = Vec::new();
    let ours: Vec<f64> = set
        .iter()
        .map(|p| {
            let start = Instant::now();
            let score = quality::assess(&p.picture).score;
            times.push(start.elapsed());
            f64::from(score)
        })
        .collect();
    println!(
        "quality against NFIQ 2 on the quality set ({} prints of 256x288, drawn in {:.0} s; \
         quality {:.2} ms per print, median):",
        set.len(),
        drawn.as_secs_f64(),
        median(times)
    );
    println!("part       kind             prints  left out  Spearman  NFIQ 2 mean  ours mean");
    for split in [Split::Train, Split::HeldOut, Split::Clean] {
        for kind in Spoil::ALL.map(Some).into_iter().chain([None]) {
            let mut pairs = Vec::new();
            let mut left_out = 0;
            for ((print, reference), ours) in set.iter().zip(&references).zip(&ours) {
                if print.split != split || kind.is_some_and(|k| k != print.spoil) {
                    continue;
                }
                match reference.score() {
                    Some(score) => pairs.push((score, *ours)),
                    None => left_out += 1,
                }
            }
            if pairs.is_empty() {
                continue;
            }
            let (reference, ours): (Vec<f64>, Vec<f64>) = pairs.into_iter().unzip();
            let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
            println!(
                "{:<10} {:<16} {:>6} {:>9} {:>9.3} {:>12.1} {:>10.1}",
                format!("{split:?}"),
                kind.map_or("all", Spoil::name),
                reference.len(),
                left_out,
                spearman(&ours, &reference),
                mean(&reference),
                mean(&ours)
            );
        }
    }
    // The ceiling on clean prints: NFIQ 2 against itself, each clean finger placed again.
    let again = clean_placed_again();
    let again_pictures: Vec<&Grey> = again.iter().map(|p| &p.picture).collect();
    let again_references = nfiq2(&again_pictures);
    let first = set
        .iter()
        .zip(&references)
        .zip(&ours)
        .filter(|((p, _), _)| p.split == Split::Clean);
    let (mut first_nfiq, mut again_nfiq, mut again_ours) = (Vec::new(), Vec::new(), Vec::new());
    for (((_, reference), _), (print, again_reference)) in
        first.zip(again.iter().zip(&again_references))
    {
        if let (Some(a), Some(b)) = (reference.score(), again_reference.score()) {
            first_nfiq.push(a);
            again_nfiq.push(b);
            again_ours.push(f64::from(quality::assess(&print.picture).score));
        }
    }
    println!(
        "clean prints placed again ({} pairs): NFIQ 2 against itself {:.3}; ours against NFIQ 2 \
         on the second placements {:.3}",
        first_nfiq.len(),
        spearman(&first_nfiq, &again_nfiq),
        spearman(&again_ours, &again_nfiq)
    );
}

fn main() {
    let prints = arg("--prints", 20);
    let frames = arg("--frames", 30);
    let dir = tempfile::tempdir().unwrap();
    println!("biometrics benchmark: {prints} prints per size, {frames} frames");

    let mut ours = Vec::new();
    let mut paths: Vec<Vec<String>> = Vec::new();
    for (w, h) in [(256u32, 288u32), (500, 500)] {
        let mut pictures = Vec::new();
        let synth_ms = time_each(&(0..prints as u64).collect::<Vec<_>>(), |&seed| {
            let finger = SyntheticFinger::new(1000 + seed, w, h);
            pictures.push(
                Grey::new(w as usize, h as usize, finger.impression(seed as u32 % 5)).unwrap(),
            );
        });
        let quality_ms = time_each(&pictures, |p| {
            std::hint::black_box(quality::assess(p));
        });
        let mut files = Vec::new();
        let encode_ms = time_each(&pictures, |p| {
            files.push(wsq::encode(p, 0.75, 500).unwrap())
        });
        let decode_ms = time_each(&files, |f| {
            std::hint::black_box(wsq::decode(f).unwrap());
        });
        let mean_bytes = files.iter().map(Vec::len).sum::<usize>() / files.len();
        let mut size_paths = Vec::new();
        for (i, p) in pictures.iter().enumerate() {
            let path = dir.path().join(format!("{w}x{h}-{i}.png"));
            std::fs::write(&path, p.to_png().unwrap()).unwrap();
            size_paths.push(path.to_string_lossy().into_owned());
        }
        // As NFIQ 2 is timed: from the PNG file to the score.
        let quality_file_ms = time_each(&size_paths, |path| {
            let picture = Grey::from_png(&std::fs::read(path).unwrap()).unwrap();
            std::hint::black_box(quality::assess(&picture));
        });
        paths.push(size_paths);
        ours.push((
            format!("{w}x{h}"),
            synth_ms,
            quality_ms,
            quality_file_ms,
            encode_ms,
            decode_ms,
            mean_bytes,
        ));
    }

    let args = [paths[0].join(","), paths[1].join(",")];
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    let reference = run_python(REFERENCE, &args);
    let lookup = |size: &str, job: &str| -> f64 {
        reference
            .lines()
            .find_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 3 && f[0] == size && f[1] == job).then(|| f[2].parse().ok())?
            })
            .unwrap_or(f64::NAN)
    };
    println!(
        "per print (median ms)   synth  quality  from file  NFIQ2(ref, from file)  ratio   WSQ enc  ref enc  ratio   WSQ dec  ref dec  ratio   bytes"
    );
    for (size, synth, quality, quality_file, encode, decode, bytes) in &ours {
        let (nfiq, ref_enc, ref_dec) = (
            lookup(size, "nfiq2"),
            lookup(size, "wsq_encode"),
            lookup(size, "wsq_decode"),
        );
        println!(
            "{size:<22} {synth:>7.1} {quality:>8.2} {quality_file:>10.2} {nfiq:>22.1} {:>6.3} {encode:>9.2} {ref_enc:>8.2} {:>6.2} {decode:>9.2} {ref_dec:>8.2} {:>6.2} {bytes:>7}",
            quality_file / nfiq,
            encode / ref_enc,
            decode / ref_dec
        );
    }

    // The face pipeline on one core (the detector runs single-threaded).
    let (frame, source) = match astronaut_frame() {
        Some(frame) => (frame, "astronaut.png (scikit-image)"),
        None => {
            let jpeg = sajili::fixtures::face_photo_jpeg(640, 480, 1);
            (
                Rgb::decode(&jpeg).unwrap(),
                "drawn stand-in (run scripts/setup for the photo)",
            )
        }
    };
    let mut checker = FaceChecker::new().unwrap();
    let mut last = None;
    let face_ms = time_each(&vec![(); frames], |_| last = Some(checker.check(&frame)));
    let report = last.unwrap();
    println!(
        "face pipeline, 640x480 frame of {source}: {face_ms:.1} ms median, {:.0} frames per second on one core; passed: {}",
        1000.0 / face_ms,
        report.passed()
    );

    // A whole enrolment as the kiosk seals it.
    let token = report
        .eyes
        .filter(|_| report.passed())
        .and_then(|eyes| face::token_image(&frame, &eyes).ok())
        .and_then(|t| t.to_jpeg(face::TOKEN_QUALITY).ok());
    let token_source = if token.is_some() {
        "token image of the frame"
    } else {
        "drawn 240x320 stand-in"
    };
    // The identity document as the kiosk keeps it: the camera twin's specimen card held up,
    // found, cut out, checked, and compressed within its budget.
    let held = sajili::biometrics::specimen::held_up(640, 480, &Default::default());
    let held = Rgb::new(640, 480, held).unwrap();
    let document_ms = time_each(&vec![(); frames], |_| {
        let _ = document::inspect(&held);
    });
    let found = document::inspect(&held);
    let cut = found.cut_out.as_ref().expect("the specimen card is found");
    let compress_ms = time_each(&[()], |_| {
        let _ = document::compress(cut, document::BUDGET_BYTES);
    });
    let document_photo = document::compress(cut, document::BUDGET_BYTES).unwrap();
    println!(
        "document check, 640x480 frame of the specimen card: {document_ms:.1} ms median (find, cut out, sharpness {:.0}, glare {:.4}); {}x{} JPEG in {compress_ms:.1} ms: {} B (budget {} B)",
        found.sharpness,
        found.glare,
        document_photo.width,
        document_photo.height,
        document_photo.data.len(),
        document::BUDGET_BYTES
    );
    let document_bytes = document_photo.data.len();
    let mut enrolment = sajili::fixtures::compact_enrolment(7, token);
    enrolment.document_photo = Some(document_photo);
    let prints_bytes: usize = enrolment
        .fingerprints
        .iter()
        .filter_map(|f| match &f.capture {
            sajili::record::FingerCapture::Image(image) => Some(image.data.len()),
            sajili::record::FingerCapture::Exception(_) => None,
        })
        .sum();
    let registry = TestRegistry::new();
    let sealer = Sealer::new(
        ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        registry.identity.to_public(),
    );
    let envelope = sealer
        .seal(&enrolment, ChainSlot::FIRST, 1_800_000_000)
        .unwrap();
    let total = envelope.to_bytes().len();
    println!(
        "one enrolment on the uplink: {total} bytes ({:.1} KB; goal under 120 KB): ten WSQ prints {prints_bytes} B, face ({token_source}) {} B, document {document_bytes} B, demographics and envelope {} B",
        total as f64 / 1024.0,
        enrolment.photo.data.len(),
        total - prints_bytes - enrolment.photo.data.len() - document_bytes
    );

    quality_agreement();
}
