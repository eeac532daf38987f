//! The appliance's systemd units: `systemd-analyze verify` finds nothing to say about any of
//! them, and `systemd-analyze security` rates both long-running services' exposure low. Both
//! run against a scratch root holding this machine's systemd units, ours, and stand-ins for
//! the programs they start, so nothing here is installed or started.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use sajili_tests::workspace_root;

/// Our units, and the programs their Exec lines name.
const UNITS: &[&str] = &[
    "sajili-kiosk.service",
    "sajili-uplink.service",
    "sajili-init.service",
    "sajili-provision.service",
    "sajili-bundle.service",
    "sajili-healthy.service",
];
const PROGRAMS: &[&str] = &["sajili", "install", "rm", "systemctl", "systemd-tmpfiles"];

/// The highest exposure (0 safest, 10 worst) each service may have: what its job allows.
const EXPOSURE: &[(&str, f64)] = &[
    ("sajili-kiosk.service", 1.5),
    ("sajili-uplink.service", 2.0),
];

fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&units).unwrap();
    // systemd's own units (targets, sockets) that ours order themselves against.
    for dir in ["/usr/lib/systemd/system", "/lib/systemd/system"] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                let _ = std::fs::copy(&path, units.join(entry.file_name()));
            }
        }
    }
    for unit in UNITS {
        std::fs::copy(
            workspace_root().join("systemd").join(unit),
            units.join(unit),
        )
        .unwrap();
    }
    let bin = root.path().join("usr/bin");
    std::fs::create_dir_all(&bin).unwrap();
    for program in PROGRAMS {
        let path = bin.join(program);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        let mut permissions = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
        std::fs::set_permissions(&path, permissions).unwrap();
    }
    root
}

fn analyze(root: &Path, args: &[&str]) -> std::process::Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(format!("--root={}", root.display()))
        .output()
        .expect("systemd-analyze (Debian's systemd package)")
}

#[test]
fn every_unit_verifies_cleanly() {
    let root = scratch_root();
    let mut args = vec!["verify"];
    args.extend_from_slice(UNITS);
    let output = analyze(root.path(), &args);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{said}");
    assert!(
        said.trim().is_empty(),
        "systemd-analyze verify said:\n{said}"
    );

    // And it does notice a broken unit.
    let kiosk = root
        .path()
        .join("usr/lib/systemd/system/sajili-kiosk.service");
    let text = std::fs::read_to_string(&kiosk).unwrap();
    std::fs::write(&kiosk, text.replace("Type=notify", "Type=notifyy")).unwrap();
    let output = analyze(root.path(), &["verify", "sajili-kiosk.service"]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("notifyy"),
        "a bad Type= went unnoticed"
    );
}

#[test]
fn both_services_expose_little() {
    let root = scratch_root();
    for (unit, most) in EXPOSURE {
        let output = analyze(root.path(), &["security", "--offline=true", unit]);
        let text = String::from_utf8_lossy(&output.stdout);
        let level = text
            .lines()
            .find_map(|line| {
                line.strip_prefix(&format!("→ Overall exposure level for {unit}: "))?
                    .split_whitespace()
                    .next()?
                    .parse::<f64>()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no exposure level for {unit}: {text}"));
        println!("{unit}: exposure {level} (at most {most})");
        assert!(level <= *most, "{unit} exposure {level} > {most}:\n{text}");
    }
}
