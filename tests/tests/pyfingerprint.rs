//! The sensor twin is faithful: `pyfingerprint` 1.5, a real client written for the real R30x
//! module, handshakes with `sajili twin sensor`, captures, and downloads the image we served.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use sajili_tests::{sajili_bin, validators_python};

const CLIENT: &str = r#"
import sys
from PIL import Image
from pyfingerprint.pyfingerprint import PyFingerprint
sensor = PyFingerprint(sys.argv[1], 57600, 0xFFFFFFFF, 0x00000000)
assert sensor.verifyPassword(), "password refused"
parameters = sensor.getSystemParameters()
polls = 0
while not sensor.readImage():
    polls += 1
sensor.downloadImage(sys.argv[2])
with open(sys.argv[3], "wb") as out:
    out.write(Image.open(sys.argv[2]).tobytes())
print("ok", polls, parameters[5], parameters[6])
"#;

#[test]
fn pyfingerprint_reads_the_image_the_twin_serves() {
    let python = validators_python();
    let dir = tempfile::tempdir().unwrap();
    let prints = dir.path().join("prints");
    std::fs::create_dir(&prints).unwrap();
    let png = sajili::fixtures::fingerprint_png(256, 288, 3);
    std::fs::write(prints.join("a.png"), &png).unwrap();
    let link = dir.path().join("ttyFINGER");

    let mut twin = Command::new(sajili_bin())
        .args(["twin", "sensor", "--images"])
        .arg(&prints)
        .arg("--link")
        .arg(&link)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_line = String::new();
    BufReader::new(twin.stdout.take().unwrap())
        .read_line(&mut first_line)
        .unwrap();
    assert!(first_line.starts_with("/dev/pts/"), "{first_line}");
    assert!(link.exists());

    let script = dir.path().join("client.py");
    std::fs::write(&script, CLIENT).unwrap();
    let raw = dir.path().join("image.raw");
    let output = Command::new(&python)
        .arg(&script)
        .arg(&link)
        .arg(dir.path().join("image.bmp"))
        .arg(&raw)
        .output()
        .unwrap();
    twin.kill().unwrap();
    let _ = twin.wait();
    assert!(
        output.status.success(),
        "pyfingerprint failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let said = String::from_utf8_lossy(&output.stdout);
    // Two "no finger" polls by default, packet size code 2 (128 bytes), baud N 6 (57,600).
    assert_eq!(said.trim(), "ok 2 2 6", "{said}");

    let mut decoder = png::Decoder::new(std::io::Cursor::new(png))
        .read_info()
        .unwrap();
    let mut served = vec![0u8; 256 * 288];
    decoder.next_frame(&mut served).unwrap();
    let expected: Vec<u8> = served.iter().map(|p| (p >> 4) * 17).collect();
    let received = std::fs::read(&raw).unwrap();
    assert_eq!(received.len(), expected.len());
    assert!(
        received == expected,
        "pyfingerprint's image differs from what the twin served"
    );
}
