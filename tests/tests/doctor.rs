//! `sajili doctor`: the field self-test, on the twins and on whatever this machine has.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

use sajili_tests::{sajili_bin, stderr, stdout};

#[test]
fn the_self_test_passes_on_the_twins() {
    let output = Command::new(sajili_bin())
        .args(["doctor", "--simulate"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert!(output.status.success(), "{text}{}", stderr(&output));
    for kind in ["camera", "sensor", "printer", "scanner"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("OK") && l.contains(kind)),
            "{kind} not checked:\n{text}"
        );
    }
    assert!(text.contains("640x480 frame decoded (MJPG)"), "{text}");
    assert!(text.contains("256x288 image read"), "{text}");
    assert!(text.contains("scanned \"12345678\""), "{text}");
    assert!(text.contains("ESC/POS printer ready"), "{text}");
    assert!(text.contains("Verdict: all 4 device(s) working"), "{text}");
}

/// `sajili doctor`'s line for the printer at `link`, a printer twin started in `fault`.
fn doctor_on_printer_twin(fault: Option<&str>) -> (String, std::process::ExitStatus) {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("lp0");
    let mut twin = Command::new(sajili_bin());
    twin.args(["twin", "printer", "--link"]).arg(&link);
    if let Some(fault) = fault {
        twin.args(["--fault", fault]);
    }
    let mut twin = twin.stdout(std::process::Stdio::piped()).spawn().unwrap();
    // The twin names its node once it is serving.
    let mut said = String::new();
    std::io::BufReader::new(twin.stdout.take().unwrap())
        .read_line(&mut said)
        .unwrap();
    assert_eq!(said.trim(), link.display().to_string());
    let output = Command::new(sajili_bin())
        .arg("doctor")
        .env("SAJILI_PRINTER", &link)
        .output()
        .unwrap();
    twin.kill().unwrap();
    twin.wait().unwrap();
    let text = stdout(&output);
    let line = text
        .lines()
        .find(|l| l.contains(" printer "))
        .unwrap_or_else(|| panic!("no printer line:\n{text}"))
        .to_owned();
    (line, output.status)
}

#[test]
fn the_printer_is_checked_for_paper_cover_and_cable() {
    let (line, _) = doctor_on_printer_twin(None);
    assert!(
        line.starts_with("OK") && line.contains("ESC/POS printer ready"),
        "{line}"
    );
    let (line, status) = doctor_on_printer_twin(Some("paper-out"));
    assert!(
        line.starts_with("FAIL") && line.contains("out of paper: load a new roll"),
        "{line}"
    );
    assert!(!status.success());
    let (line, _) = doctor_on_printer_twin(Some("cover-open"));
    assert!(
        line.starts_with("FAIL") && line.contains("cover open: close the printer's cover"),
        "{line}"
    );
    let (line, _) = doctor_on_printer_twin(Some("unplugged"));
    assert!(
        line.starts_with("FAIL") && line.contains("check its USB cable"),
        "{line}"
    );
}

#[test]
fn the_exit_code_agrees_with_the_verdicts_on_real_devices() {
    let output = Command::new(sajili_bin()).arg("doctor").output().unwrap();
    let text = stdout(&output);
    let failing = text.lines().filter(|l| l.starts_with("FAIL")).count();
    // Every class is named even when nothing is found, so staff see what is missing.
    assert!(text.contains("camera") && text.contains("sensor"), "{text}");
    assert_eq!(
        output.status.success(),
        failing == 0,
        "{text}{}",
        stderr(&output)
    );
    if failing > 0 {
        assert!(stderr(&output).contains(&format!("{failing} device(s) need attention")));
    }
}
