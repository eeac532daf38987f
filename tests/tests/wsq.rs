//! Our WSQ codec against NIST's (PyPI `wsq` 0.9, whose decoder equals NIST's `dwsq`): each
//! decodes the other's files, and at 0.75 bits per pixel ours is as faithful (PSNR within
//! 0.3 dB) and no larger, on real prints from a registry package and synthetic ones.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsStr;
use std::process::Command;

use sajili_tests::{afis_prints, run_python, sajili_bin};

const COMPARE: &str = r#"
import io, sys, subprocess
import numpy as np
import wsq  # registers NIST's codec with Pillow
from PIL import Image

sajili, work = sys.argv[1], sys.argv[2]
def psnr(a, b):
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    return 10 * np.log10(255 * 255 / mse)
for path in sys.argv[3:]:
    original = Image.open(path).convert("L")
    pixels = np.array(original)
    grey = f"{work}/grey.png"
    original.save(grey)
    reference = io.BytesIO()
    original.save(reference, "WSQ")  # NIST's encoder, 0.75 bits per pixel
    reference = reference.getvalue()
    with open(f"{work}/reference.wsq", "wb") as f:
        f.write(reference)
    subprocess.run([sajili, "bio", "wsq-encode", grey, f"{work}/ours.wsq"], check=True, capture_output=True)
    ours = open(f"{work}/ours.wsq", "rb").read()
    nist_of_ours = np.array(Image.open(f"{work}/ours.wsq"))
    nist_of_reference = np.array(Image.open(io.BytesIO(reference)))
    subprocess.run([sajili, "bio", "wsq-decode", f"{work}/reference.wsq", f"{work}/ours-of-reference.png"], check=True, capture_output=True)
    ours_of_reference = np.array(Image.open(f"{work}/ours-of-reference.png"))
    subprocess.run([sajili, "bio", "wsq-decode", f"{work}/ours.wsq", f"{work}/ours-of-ours.png"], check=True, capture_output=True)
    ours_of_ours = np.array(Image.open(f"{work}/ours-of-ours.png"))
    print(path.rsplit("/", 1)[-1], pixels.shape[1], pixels.shape[0],
          len(reference), len(ours),
          round(psnr(pixels, nist_of_reference), 3), round(psnr(pixels, nist_of_ours), 3),
          int(np.abs(ours_of_reference.astype(int) - nist_of_reference).max()),
          int(np.abs(ours_of_ours.astype(int) - nist_of_ours).max()))
"#;

#[test]
fn our_wsq_matches_nists_on_real_and_synthetic_prints() {
    let dir = tempfile::tempdir().unwrap();
    let mut prints = afis_prints();
    for (seed, impression, size) in [
        (1, 0, "256x288"),
        (2, 3, "256x288"),
        (3, 5, "256x288"),
        (4, 0, "500x500"),
        (5, 2, "500x500"),
    ] {
        let path = dir.path().join(format!("synthetic-{seed}.png"));
        let status = Command::new(sajili_bin())
            .args(["bio", "synth", "--seed", &seed.to_string()])
            .args([
                "--impression",
                &impression.to_string(),
                "--size",
                size,
                "--out",
            ])
            .arg(&path)
            .output()
            .unwrap();
        assert!(status.status.success());
        prints.push(path);
    }
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let mut args: Vec<&OsStr> = vec![sajili_bin().as_os_str(), work.as_os_str()];
    args.extend(prints.iter().map(|p| p.as_os_str()));
    let table = run_python(COMPARE, &args);

    println!("print        size      NIST bytes  our bytes  NIST PSNR  our PSNR");
    let mut rows = 0;
    for line in table.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 9, "{line}");
        let (reference_bytes, our_bytes): (usize, usize) =
            (f[3].parse().unwrap(), f[4].parse().unwrap());
        let (reference_psnr, our_psnr): (f64, f64) = (f[5].parse().unwrap(), f[6].parse().unwrap());
        let (decode_reference, decode_ours): (u32, u32) =
            (f[7].parse().unwrap(), f[8].parse().unwrap());
        println!(
            "{:<12} {:>4}x{:<4} {reference_bytes:>10} {our_bytes:>10} {reference_psnr:>9.2} {our_psnr:>9.2}",
            f[0], f[1], f[2]
        );
        assert!(our_bytes <= reference_bytes, "{line}: our file is larger");
        assert!(
            our_psnr >= reference_psnr - 0.3,
            "{line}: PSNR more than 0.3 dB below NIST's"
        );
        // Both decoders agree on both encoders' files to the rounding of one grey level.
        assert!(
            decode_reference <= 1 && decode_ours <= 1,
            "{line}: decoders disagree"
        );
        rows += 1;
    }
    assert_eq!(rows, prints.len());
}

#[test]
fn bad_wsq_files_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.wsq");
    std::fs::write(&bad, b"\xFF\xA0\xFF\xA8\x00\x05ab").unwrap();
    let output = Command::new(sajili_bin())
        .args(["bio", "wsq-decode"])
        .arg(&bad)
        .arg(dir.path().join("out.png"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cut short"), "{stderr}");
    assert!(!dir.path().join("out.png").exists());
}
