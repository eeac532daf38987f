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
    for kind in ["camera", "sensor", "scanner"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("OK") && l.contains(kind)),
            "{kind} not checked:\n{text}"
        );
    }
    assert!(text.contains("640x480 frame decoded (MJPG)"), "{text}");
    assert!(text.contains("256x288 image read"), "{text}");
    assert!(text.contains("scanned \"12345678\""), "{text}");
    assert!(text.contains("Verdict: all 3 device(s) working"), "{text}");
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
