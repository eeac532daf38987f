//! The field step, `image-build/provision`, on a small disk laid out as the image is (GPT, a FAT
//! partition named sajili-esp): a good bundle and token land on the FAT partition, and every
//! mistake a field engineer can make is refused with a reason before anything is written.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sajili_tests::registry::RegistryProcess;
use sajili_tests::{stderr, workspace_root};

const MIB: u64 = 1024 * 1024;

fn run(program: &str, args: &[&str]) -> Output {
    let output = Command::new(program)
        .args(args)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        stderr(&output)
    );
    output
}

/// A 40 MiB disk: GPT, the FAT partition at 1 MiB with the boot entries' folder, as
/// image-build/build lays it out. `esp_name` names the partition.
fn disk(dir: &Path, esp_name: &str) -> PathBuf {
    let image = dir.join("disk.img");
    let fat = dir.join("esp.img");
    run("truncate", &["-s", "40M", image.to_str().unwrap()]);
    let mut sfdisk = Command::new("sfdisk")
        .args(["--quiet", "--label", "gpt", image.to_str().unwrap()])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("sfdisk (fdisk)");
    use std::io::Write;
    writeln!(
        sfdisk.stdin.as_mut().unwrap(),
        "start=1MiB, size=32MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name={esp_name}"
    )
    .unwrap();
    assert!(sfdisk.wait().unwrap().success());
    run("mkfs.vfat", &["-C", fat.to_str().unwrap(), "32768"]);
    let image_fat = fat.to_str().unwrap();
    run("mmd", &["-i", image_fat, "::/loader", "::/loader/entries"]);
    run(
        "dd",
        &[
            &format!("if={image_fat}"),
            &format!("of={}", image.display()),
            "bs=1M",
            "seek=1",
            "conv=notrunc",
            "status=none",
        ],
    );
    image
}

fn provision(args: &[&str]) -> Output {
    Command::new(workspace_root().join("image-build/provision"))
        .args(args)
        .env(
            "PATH",
            format!(
                "/usr/sbin:/sbin:{}",
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .output()
        .expect("image-build/provision")
}

/// The bundle as it sits on the disk's FAT partition, or None.
fn bundle_on(image: &Path) -> Option<serde_json::Value> {
    let output = Command::new("mtype")
        .args([
            "-i",
            &format!("{}@@{}", image.display(), MIB),
            "::/sajili/bundle.json",
        ])
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    output
        .status
        .success()
        .then(|| serde_json::from_slice(&output.stdout).expect("bundle JSON"))
}

#[test]
fn a_bundle_and_token_reach_the_fat_partition_and_mistakes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = disk(dir.path(), "sajili-esp");
    let registry = RegistryProcess::init();
    let bundle = registry.bundle.to_str().unwrap();
    let img = image.to_str().unwrap();

    // The registry's bundle has no token of its own: one is needed.
    let output = provision(&["--bundle", bundle, img]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no enrolment token"),
        "{}",
        stderr(&output)
    );
    // A token that is not one.
    let output = provision(&["--bundle", bundle, "--token", "letmein", img]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("token"), "{}", stderr(&output));
    // Not a bundle.
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"registry\": 1}").unwrap();
    let output = provision(&[
        "--bundle",
        junk.to_str().unwrap(),
        "--token",
        &"a".repeat(64),
        img,
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("not a trust bundle"),
        "{}",
        stderr(&output)
    );
    assert!(
        bundle_on(&image).is_none(),
        "something was written after a refusal"
    );

    // A good one.
    let token = registry.token();
    let output = provision(&["--bundle", bundle, "--token", &token, img]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = bundle_on(&image).expect("bundle on the FAT partition");
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(bundle).unwrap()).unwrap();
    assert_eq!(written["enrolment_token"], token.as_str());
    assert_eq!(written["registry_url"], original["registry_url"]);
    assert_eq!(written["ca_certificate"], original["ca_certificate"]);
    // The device takes it with `sajili init` as it would at first boot.
    let staged = dir.path().join("taken.json");
    std::fs::write(&staged, serde_json::to_string(&written).unwrap()).unwrap();
    let device = dir.path().join("device");
    let output = sajili_tests::sajili(&device, &["init", "--bundle", staged.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));

    // Again with another token: the new one replaces the old.
    let second = registry.token();
    assert!(
        provision(&["--bundle", bundle, "--token", &second, img])
            .status
            .success()
    );
    assert_eq!(
        bundle_on(&image).unwrap()["enrolment_token"],
        second.as_str()
    );

    // A disk that is not a Sajili image.
    let other = tempfile::tempdir().unwrap();
    let foreign = disk(other.path(), "EFI");
    let output = provision(&[
        "--bundle",
        bundle,
        "--token",
        &token,
        foreign.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("sajili-esp"),
        "{}",
        stderr(&output)
    );
}

/// Writes `text` to `name` on the disk's FAT partition, as image-build/build puts the
/// provisioning key's public half there.
fn put_on_esp(image: &Path, dir: &Path, name: &str, text: &str) {
    let file = dir.join("esp-file");
    std::fs::write(&file, text).unwrap();
    let fat = format!("{}@@{}", image.display(), MIB);
    let _ = Command::new("mmd")
        .args(["-i", &fat, "::/sajili"])
        .env("MTOOLS_SKIP_CHECK", "1")
        .output();
    run("mcopy", &["-o", "-i", &fat, file.to_str().unwrap(), name]);
}

/// `sajili bundle sign` with the seed `seed`; returns the signed bundle and the key's public
/// half (hex).
fn signed_with(dir: &Path, trust: &str, seed: u8) -> (PathBuf, String) {
    let key = dir.join(format!("key-{seed}"));
    std::fs::write(&key, [seed; 32]).unwrap();
    let out = dir.join(format!("signed-{seed}.json"));
    let unused = dir.join("unused");
    let sign = sajili_tests::sajili(
        &unused,
        &[
            "bundle",
            "sign",
            "--key",
            key.to_str().unwrap(),
            "--bundle",
            trust,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(sign.status.success(), "{}", stderr(&sign));
    let public = sajili_tests::sajili(
        &unused,
        &["bundle", "public-key", "--key", key.to_str().unwrap()],
    );
    assert!(public.status.success(), "{}", stderr(&public));
    let public = String::from_utf8(public.stdout).unwrap().trim().to_string();
    (out, public)
}

#[test]
fn an_image_with_a_provisioning_key_takes_only_bundles_that_key_signed() {
    let dir = tempfile::tempdir().unwrap();
    let image = disk(dir.path(), "sajili-esp");
    let registry = RegistryProcess::init();
    let trust = registry.bundle.to_str().unwrap();
    let (genuine, key) = signed_with(dir.path(), trust, 5);
    let (foreign, _) = signed_with(dir.path(), trust, 6);
    put_on_esp(
        &image,
        dir.path(),
        "::/sajili/provisioning-key.pub",
        &format!("{key}\n"),
    );
    let img = image.to_str().unwrap();
    let token = registry.token();

    // Refused before anything is written: unsigned, and signed by another key.
    for (bundle, says) in [
        (trust, "is not signed"),
        (
            foreign.to_str().unwrap(),
            "not signed by this image's provisioning key",
        ),
    ] {
        let output = provision(&["--bundle", bundle, "--token", &token, img]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
        assert!(bundle_on(&image).is_none(), "written after a refusal");
    }

    // The genuine one, with this device's token beside the signature.
    let output = provision(&[
        "--bundle",
        genuine.to_str().unwrap(),
        "--token",
        &token,
        img,
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let written = bundle_on(&image).expect("bundle on the FAT partition");
    assert_eq!(written["enrolment_token"], token.as_str());
    assert_eq!(written["provisioning_bundle"], 1);
    // The device takes it at first boot as `sajili init --provisioning-key` does, and pins the
    // trust bundle with the token.
    let staged = dir.path().join("taken.json");
    std::fs::write(&staged, serde_json::to_string(&written).unwrap()).unwrap();
    let public = dir.path().join("provisioning-key.pub");
    std::fs::write(&public, format!("{key}\n")).unwrap();
    let device = dir.path().join("device");
    let output = sajili_tests::sajili(
        &device,
        &[
            "init",
            "--bundle",
            staged.to_str().unwrap(),
            "--provisioning-key",
            public.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let pinned: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(device.join("trust-bundle.json")).unwrap())
            .unwrap();
    assert_eq!(pinned["enrolment_token"], token.as_str());
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(trust).unwrap()).unwrap();
    assert_eq!(pinned["registry_url"], original["registry_url"]);
}
