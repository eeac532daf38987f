//! `sajili bio`: the device's biometric code as tools for field engineers and ABIS integrators.
//! Exit 0 on success, 2 with the reason when the input is wrong.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use sajili::biometrics::face::{self, FaceChecker};
use sajili::biometrics::grey::Grey;
use sajili::biometrics::matching::{self, Template};
use sajili::biometrics::photo::Rgb;
use sajili::biometrics::synth::{Flaw, Impression, PatternClass, SyntheticFinger};
use sajili::biometrics::{quality, wsq};

use crate::Failure;

/// The `sajili bio` subcommands.
#[derive(Debug, Subcommand)]
pub enum BioCommand {
    /// Make a synthetic fingerprint (500 ppi, 8-bit grey PNG), the same for the same seed.
    Synth {
        /// Which finger.
        #[arg(long)]
        seed: u64,
        /// Which impression of it: 0 is the reference; others vary placement, rotation,
        /// pressure, contact and noise.
        #[arg(long, default_value_t = 0)]
        impression: u32,
        /// Force a pattern class (default: drawn from the seed).
        #[arg(long, value_enum)]
        class: Option<SynthClass>,
        /// Make a deliberately poor impression instead (for testing quality checks).
        #[arg(long, value_enum)]
        flaw: Option<SynthFlaw>,
        /// How poor, 0 to 1 (with --flaw).
        #[arg(long, default_value_t = 0.5)]
        severity: f32,
        /// Sensor size, WIDTHxHEIGHT (256x288 is the R30x's; 500x500 a large sensor's).
        #[arg(long, default_value = "256x288")]
        size: String,
        /// Where to write the PNG.
        #[arg(long)]
        out: PathBuf,
    },
    /// Score a fingerprint (8-bit grey PNG, 500 ppi) on NFIQ 2's 0-100 scale, with what to do
    /// better.
    Quality {
        /// The PNG.
        input: PathBuf,
        /// Print JSON: score, reasons (each with its measured value, threshold and advice) and
        /// all the measurements.
        #[arg(long)]
        json: bool,
    },
    /// Check a face photo or camera frame (PNG or JPEG) as the kiosk does: one face, eyes,
    /// distance, centring, tilt, light, sharpness, background. Exit 0 when it passes, 1 when
    /// it does not (with the advice), 2 when the file is unreadable.
    FaceCheck {
        /// The picture.
        input: PathBuf,
        /// Print JSON: every check with its value, limits and advice.
        #[arg(long)]
        json: bool,
        /// When it passes, write the token image (240 x 320 JPEG) here.
        #[arg(long)]
        token: Option<PathBuf>,
    },
    /// Whether two prints (8-bit grey PNGs, 500 ppi) are of one finger: NIST's minutiae
    /// detector and bozorth3 score, and the verdict at the kiosk's threshold. Exit 0 whatever
    /// the verdict, 2 when a file is unreadable.
    Match {
        /// The first print.
        first: PathBuf,
        /// The second print.
        second: PathBuf,
        /// Print JSON: score, threshold, same_finger and each print's minutiae count.
        #[arg(long)]
        json: bool,
    },
    /// Compress an 8-bit grey PNG fingerprint (500 ppi) to WSQ.
    WsqEncode {
        /// The PNG.
        input: PathBuf,
        /// The WSQ file to write.
        output: PathBuf,
        /// Bits per pixel (0.75 is what the FBI and most ABIS vendors ask for).
        #[arg(long, default_value_t = wsq::DEFAULT_BITRATE)]
        bitrate: f32,
        /// Resolution to record in the file.
        #[arg(long, default_value_t = 500)]
        ppi: u16,
    },
    /// Decompress a WSQ file to an 8-bit grey PNG.
    WsqDecode {
        /// The WSQ file.
        input: PathBuf,
        /// The PNG to write.
        output: PathBuf,
    },
}

/// Pattern classes for `--class`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynthClass {
    /// Arch.
    Arch,
    /// Tented arch.
    TentedArch,
    /// Left loop.
    LeftLoop,
    /// Right loop.
    RightLoop,
    /// Whorl.
    Whorl,
}

/// Flaws for `--flaw`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SynthFlaw {
    /// Thin, broken ridges.
    Dry,
    /// Ridges run together.
    Wet,
    /// Only part of the fingertip touched.
    LittleContact,
    /// The finger slid.
    Smudged,
    /// Placed to one side.
    OffCentre,
    /// A dirty sensor.
    Noisy,
}

/// Runs one `sajili bio` command.
pub fn run(command: BioCommand) -> Result<(), Failure> {
    match command {
        BioCommand::Synth {
            seed,
            impression,
            class,
            flaw,
            severity,
            size,
            out,
        } => synth(
            seed,
            impression,
            class,
            flaw.map(|f| (f, severity)),
            &size,
            &out,
        ),
        BioCommand::Quality { input, json } => quality(&input, json),
        BioCommand::FaceCheck { input, json, token } => face_check(&input, json, token.as_deref()),
        BioCommand::Match {
            first,
            second,
            json,
        } => match_prints(&first, &second, json),
        BioCommand::WsqEncode {
            input,
            output,
            bitrate,
            ppi,
        } => wsq_encode(&input, &output, bitrate, ppi),
        BioCommand::WsqDecode { input, output } => wsq_decode(&input, &output),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::Input(format!("cannot read {}: {e}", path.display())))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes)
        .map_err(|e| Failure::Failed(format!("cannot write {}: {e}", path.display())))
}

fn read_grey(path: &Path) -> Result<Grey, Failure> {
    Grey::from_png(&read(path)?).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

fn synth(
    seed: u64,
    impression: u32,
    class: Option<SynthClass>,
    flaw: Option<(SynthFlaw, f32)>,
    size: &str,
    out: &Path,
) -> Result<(), Failure> {
    let (width, height) = size
        .split_once('x')
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)))
        .filter(|(w, h)| (64..=1024).contains(w) && (64..=1024).contains(h))
        .ok_or_else(|| {
            Failure::Input(format!(
                "--size {size}: give WIDTHxHEIGHT, each 64 to 1024 pixels"
            ))
        })?;
    let finger = match class {
        None => SyntheticFinger::new(seed, width, height),
        Some(class) => {
            let class = match class {
                SynthClass::Arch => PatternClass::Arch,
                SynthClass::TentedArch => PatternClass::TentedArch,
                SynthClass::LeftLoop => PatternClass::LeftLoop,
                SynthClass::RightLoop => PatternClass::RightLoop,
                SynthClass::Whorl => PatternClass::Whorl,
            };
            SyntheticFinger::with_class(seed, class, width, height)
        }
    };
    let pixels = match flaw {
        None => finger.impression(impression),
        Some((flaw, severity)) => {
            if !(0.0..=1.0).contains(&severity) {
                return Err(Failure::Input(format!(
                    "--severity {severity}: give 0 to 1"
                )));
            }
            let flaw = match flaw {
                SynthFlaw::Dry => Flaw::Dry,
                SynthFlaw::Wet => Flaw::Wet,
                SynthFlaw::LittleContact => Flaw::LittleContact,
                SynthFlaw::Smudged => Flaw::Smudged,
                SynthFlaw::OffCentre => Flaw::OffCentre,
                SynthFlaw::Noisy => Flaw::Noisy,
            };
            finger.render(
                &Impression::poor(flaw, severity),
                seed ^ u64::from(impression),
            )
        }
    };
    let picture = Grey::new(width as usize, height as usize, pixels)
        .map_err(|e| Failure::Failed(e.to_string()))?;
    let png = picture
        .to_png()
        .map_err(|e| Failure::Failed(format!("cannot encode the PNG: {e}")))?;
    write(out, &png)?;
    println!(
        "{}: {:?}, seed {seed}, impression {impression}, {width}x{height} at 500 ppi",
        out.display(),
        finger.class
    );
    Ok(())
}

fn quality(input: &Path, json: bool) -> Result<(), Failure> {
    let picture = read_grey(input)?;
    let verdict = quality::assess(&picture);
    if json {
        let mut value = serde_json::to_value(&verdict)
            .map_err(|e| Failure::Failed(format!("cannot write JSON: {e}")))?;
        if let Some(reasons) = value.get_mut("reasons").and_then(|r| r.as_array_mut()) {
            for (reason, original) in reasons.iter_mut().zip(&verdict.reasons) {
                reason["advice"] = original.advice().into();
            }
        }
        value["accepted"] = (verdict.score >= quality::ACCEPT).into();
        println!("{value}");
    } else {
        let verdict_word = if verdict.score >= quality::ACCEPT {
            "good enough"
        } else {
            "too poor"
        };
        println!(
            "{}: quality {} ({verdict_word})",
            input.display(),
            verdict.score
        );
        for reason in &verdict.reasons {
            println!("  {}", reason.advice());
        }
    }
    Ok(())
}

fn match_prints(first: &Path, second: &Path, json: bool) -> Result<(), Failure> {
    let template = |path: &Path| -> Result<Template, Failure> {
        Template::new(&read_grey(path)?)
            .map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
    };
    let (a, b) = (template(first)?, template(second)?);
    let verdict = matching::compare(&a, &b);
    if json {
        let mut value = serde_json::to_value(verdict)
            .map_err(|e| Failure::Failed(format!("cannot write JSON: {e}")))?;
        value["minutiae"] = serde_json::json!([a.minutiae(), b.minutiae()]);
        println!("{value}");
    } else {
        let word = if verdict.same_finger {
            "the same finger"
        } else {
            "different fingers"
        };
        println!(
            "score {} (threshold {}): {word}; {} and {} minutiae",
            verdict.score,
            verdict.threshold,
            a.minutiae(),
            b.minutiae()
        );
    }
    Ok(())
}

fn face_check(input: &Path, json: bool, token: Option<&Path>) -> Result<(), Failure> {
    let frame = Rgb::decode(&read(input)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", input.display())))?;
    let mut checker =
        FaceChecker::new().map_err(|e| Failure::Failed(format!("face model: {e}")))?;
    let report = checker.check(&frame);
    let mut token_bytes = None;
    if let (true, Some(eyes)) = (report.passed(), report.eyes) {
        let picture =
            face::token_image(&frame, &eyes).map_err(|e| Failure::Failed(e.to_string()))?;
        token_bytes = Some(
            picture
                .to_jpeg(face::TOKEN_QUALITY)
                .map_err(|e| Failure::Failed(e.to_string()))?,
        );
    }
    if json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| Failure::Failed(format!("cannot write JSON: {e}")))?;
        value["passed"] = report.passed().into();
        value["token_bytes"] = token_bytes.as_ref().map(Vec::len).into();
        println!("{value}");
    } else {
        for c in &report.checks {
            let mark = if c.passed { "ok  " } else { "FAIL" };
            let limits = match (c.min, c.max) {
                (Some(a), Some(b)) if a == b => format!("= {a}"),
                (Some(a), Some(b)) => format!("{a} to {b}"),
                (Some(a), None) => format!(">= {a}"),
                (None, Some(b)) => format!("<= {b}"),
                (None, None) => String::new(),
            };
            let advice = c.advice.unwrap_or("");
            println!(
                "{mark} {:<17} {:>8.2}  ({limits})  {advice}",
                format!("{:?}", c.kind),
                c.value
            );
        }
    }
    if let (Some(path), Some(bytes)) = (token, &token_bytes) {
        write(path, bytes)?;
        if !json {
            println!("token image: {} ({} bytes)", path.display(), bytes.len());
        }
    }
    if report.passed() {
        Ok(())
    } else {
        Err(Failure::Failed(format!(
            "{}: the photo does not pass: {}",
            input.display(),
            report.advice().unwrap_or("no face found")
        )))
    }
}

fn wsq_encode(input: &Path, output: &Path, bitrate: f32, ppi: u16) -> Result<(), Failure> {
    let picture = read_grey(input)?;
    let file = wsq::encode(&picture, bitrate, ppi)
        .map_err(|e| Failure::Input(format!("{}: {e}", input.display())))?;
    write(output, &file)?;
    let pixels = picture.width() * picture.height();
    println!(
        "{}: {}x{}, {} bytes, {:.2} bits per pixel ({:.1}:1)",
        output.display(),
        picture.width(),
        picture.height(),
        file.len(),
        file.len() as f64 * 8.0 / pixels as f64,
        pixels as f64 / file.len() as f64
    );
    Ok(())
}

fn wsq_decode(input: &Path, output: &Path) -> Result<(), Failure> {
    let decoded = wsq::decode(&read(input)?)
        .map_err(|e| Failure::Input(format!("{}: {e}", input.display())))?;
    let png = decoded
        .picture
        .to_png()
        .map_err(|e| Failure::Failed(format!("cannot encode the PNG: {e}")))?;
    write(output, &png)?;
    let ppi = decoded.ppi.map_or("unknown".to_string(), |p| p.to_string());
    println!(
        "{}: {}x{}, {ppi} ppi",
        output.display(),
        decoded.picture.width(),
        decoded.picture.height()
    );
    Ok(())
}
