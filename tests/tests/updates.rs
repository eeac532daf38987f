//! Signed updates from the back office to a kiosk: published at the registry, offered only to
//! the devices they are published to, downloaded by the uplink (resuming a cut download),
//! installed into the inactive slot by the installer only when signed by the pinned key and
//! newer than what runs, and the outcome reported back through the audit events.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use sajili_tests::registry::{RegistryProcess, SyncDevice};
use sajili_tests::{sajili_bin, stderr, stdout};

/// An update key: its seed file and its public half's file.
fn update_key(dir: &Path, seed: u8) -> (PathBuf, PathBuf) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let secret = dir.join(format!("update-{seed}.key"));
    let public = dir.join(format!("update-{seed}.pub"));
    std::fs::write(&secret, key.to_bytes()).unwrap();
    std::fs::write(&public, sajili::record::hex(key.verifying_key().as_bytes())).unwrap();
    (secret, public)
}

/// A bundle of `version` with a root of `root_len` bytes, signed by `key`.
fn make_bundle(dir: &Path, key: &Path, version: &str, root_len: usize) -> PathBuf {
    let mut root = vec![0u8; root_len];
    for (i, byte) in root.iter_mut().enumerate() {
        *byte = (i * 7 % 251) as u8;
    }
    std::fs::write(dir.join("root.erofs"), &root).unwrap();
    std::fs::write(dir.join("linux"), vec![1u8; 4096]).unwrap();
    std::fs::write(dir.join("initrd"), vec![2u8; 8192]).unwrap();
    let out = dir.join(format!("sajili-{version}.sju"));
    let output = std::process::Command::new(sajili_bin())
        .args(["update", "make", "--key"])
        .arg(key)
        .args(["--version", version, "--root"])
        .arg(dir.join("root.erofs"))
        .arg("--linux")
        .arg(dir.join("linux"))
        .arg("--initrd")
        .arg(dir.join("initrd"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "update make: {}", stderr(&output));
    out
}

/// The SHA-256 `update publish` printed (`Update V published (N MiB, SHA).`).
fn published_sha(output: &std::process::Output) -> String {
    let sha = stdout(output)
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .trim_end_matches(").")
        .to_string();
    assert_eq!(sha.len(), 64, "{}", stdout(output));
    sha
}

struct Fleet {
    registry: RegistryProcess,
    device: SyncDevice,
    published: PathBuf,
    work: tempfile::TempDir,
}

fn fleet() -> Fleet {
    let work = tempfile::tempdir().unwrap();
    let published = work.path().join("published");
    let mut registry = RegistryProcess::init();
    registry.set_env("SAJILI_UPDATES", published.to_str().unwrap());
    registry.serve();
    let device = SyncDevice::provisioned(&registry, &registry.url());
    std::fs::create_dir_all(device.data.join("updates")).unwrap();
    Fleet {
        registry,
        device,
        published,
        work,
    }
}

impl Fleet {
    fn publish(&self, bundle: &Path, to: &str, public: &Path) -> std::process::Output {
        self.registry.back_office(
            &[
                "update",
                "publish",
                bundle.to_str().unwrap(),
                "--to",
                to,
                "--update-key",
                public.to_str().unwrap(),
                "--updates",
                self.published.to_str().unwrap(),
            ],
            "",
        )
    }

    /// The bundle the uplink left for the installer (a path that does not exist if none).
    fn ready(&self) -> PathBuf {
        sajili::update::ready_bundle(&self.device.data.join("updates"))
            .unwrap_or_else(|| self.device.data.join("updates/none.sju"))
    }

    /// The device's layout of files: an ESP with slot A's entry, two 1 MiB slots.
    fn layout(&self) -> (PathBuf, [PathBuf; 2]) {
        let esp = self.work.path().join("esp");
        std::fs::create_dir_all(esp.join("loader/entries")).unwrap();
        std::fs::write(
            esp.join("loader/entries/sajili-a.conf"),
            "title Sajili\nversion 0.1.0\noptions  root=PARTLABEL=sajili-root-a ro quiet\n",
        )
        .unwrap();
        let slots = ["slot-a", "slot-b"].map(|name| {
            let path = self.work.path().join(name);
            std::fs::File::create(&path)
                .unwrap()
                .set_len(1 << 20)
                .unwrap();
            path
        });
        (esp, slots)
    }

    fn install(&self, bundle: &Path, public: &Path) -> std::process::Output {
        let (esp, [a, b]) = self.layout();
        std::process::Command::new(sajili_bin())
            .args(["update", "install"])
            .arg(bundle)
            .arg("--key")
            .arg(public)
            .arg("--updates")
            .arg(self.device.data.join("updates"))
            .arg("--esp")
            .arg(&esp)
            .arg("--slots")
            .arg(&a)
            .arg(&b)
            .args([
                "--running",
                "a",
                "--running-version",
                env!("CARGO_PKG_VERSION"),
            ])
            .output()
            .unwrap()
    }

    fn audit_actions(&self) -> Vec<(String, String)> {
        // The kiosk's hand-off audits the installer's result; the uplink sends the events.
        self.device.status();
        let output = self.device.run(&["uplink", "--once"]);
        assert!(output.status.success(), "uplink: {}", stderr(&output));
        self.registry
            .back_office_ok(&["audit", "--device", &self.device.id, "--json"], "")
            .lines()
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                (
                    event["action"].as_str().unwrap().to_string(),
                    event["subject"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

#[test]
fn a_published_update_reaches_its_device_resumes_after_a_cut_and_installs_into_slot_b() {
    let fleet = fleet();
    let (secret, public) = update_key(fleet.work.path(), 1);
    let bundle = make_bundle(fleet.work.path(), &secret, "99.0.0", 600_000);
    let bytes = std::fs::read(&bundle).unwrap();

    // Published to another centre only: not offered here.
    let output = fleet.publish(&bundle, "centre:MSA-LIKONI", &public);
    assert!(output.status.success(), "publish: {}", stderr(&output));
    let output = fleet.device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(!fleet.ready().exists(), "not this device's update");

    // To this device: the uplink has half of it already (a cut download), and fetches the rest.
    let output = fleet.publish(&bundle, &format!("device:{}", fleet.device.id), &public);
    assert!(output.status.success(), "publish: {}", stderr(&output));
    let sha = published_sha(&output);
    let partial = fleet.device.data.join(format!("updates/{sha}.part"));
    std::fs::write(&partial, &bytes[..bytes.len() / 2]).unwrap();
    let output = fleet.device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(
        stderr(&output).contains("resumed at"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        std::fs::read(fleet.ready()).unwrap(),
        bytes,
        "the same bytes"
    );
    assert!(!partial.exists());

    let output = fleet.install(&fleet.ready(), &public);
    assert!(output.status.success(), "install: {}", stderr(&output));
    assert!(
        stdout(&output).contains("installed 99.0.0 into slot B"),
        "{}",
        stdout(&output)
    );
    let (esp, [a, b]) = (
        fleet.work.path().join("esp"),
        [
            fleet.work.path().join("slot-a"),
            fleet.work.path().join("slot-b"),
        ],
    );
    let slot_b = std::fs::read(&b).unwrap();
    assert_eq!(
        slot_b[..1000],
        std::fs::read(fleet.work.path().join("root.erofs")).unwrap()[..1000]
    );
    assert!(
        std::fs::read(&a).unwrap().iter().all(|byte| *byte == 0),
        "slot A untouched"
    );
    let entry = std::fs::read_to_string(esp.join("loader/entries/sajili-b+3.conf")).unwrap();
    assert!(entry.contains("root=PARTLABEL=sajili-root-b"), "{entry}");
    assert!(!fleet.ready().exists(), "installed: the bundle is gone");
    // Downloaded once: an installed update waiting for its reboot is not fetched again.
    let output = fleet.device.run(&["uplink", "--once"]);
    assert!(output.status.success());
    assert!(!fleet.ready().exists());
    // The kiosk reports it: through its audit events, to the registry.
    let actions = fleet.audit_actions();
    assert!(
        actions
            .iter()
            .any(|(action, subject)| action == "update.installed" && subject.contains("99.0.0")),
        "{actions:?}"
    );
}

#[test]
fn a_bundle_signed_by_another_key_and_a_downgrade_are_refused_and_reported() {
    let fleet = fleet();
    let (secret, public) = update_key(fleet.work.path(), 1);
    let (foreign_secret, foreign_public) = update_key(fleet.work.path(), 2);

    // The registry publishes nothing the update key did not sign.
    let foreign = make_bundle(fleet.work.path(), &foreign_secret, "99.0.0", 50_000);
    let output = fleet.publish(&foreign, "all", &public);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("not signed by the update key"),
        "{}",
        stderr(&output)
    );
    // Published by a back office holding the wrong public key, it still fails on the device.
    let output = fleet.publish(&foreign, "all", &foreign_public);
    assert!(output.status.success(), "publish: {}", stderr(&output));
    let foreign_sha = published_sha(&output);
    let output = fleet.device.run(&["uplink", "--once"]);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    let output = fleet.install(&fleet.ready(), &public);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not signed by the update key"),
        "{}",
        stderr(&output)
    );
    let entries: Vec<String> = std::fs::read_dir(fleet.work.path().join("esp/loader/entries"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["sajili-a.conf"], "no entry offers anything new");
    assert!(!fleet.ready().exists(), "set aside");
    // Set aside, it is not downloaded again.
    let output = fleet.device.run(&["uplink", "--once"]);
    assert!(output.status.success());
    assert!(
        !fleet.ready().exists(),
        "a refused bundle is not fetched again"
    );

    let older = make_bundle(fleet.work.path(), &secret, "0.0.1", 50_000);
    let output = fleet.install(&older, &public);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no downgrade"),
        "{}",
        stderr(&output)
    );
    // The registry does not even offer what is not newer than what the device runs (the
    // foreign bundle withdrawn first: it would be offered, as the newest).
    fleet
        .registry
        .back_office_ok(&["update", "withdraw", &foreign_sha], "");
    let output = fleet.publish(&older, "all", &public);
    assert!(output.status.success(), "publish: {}", stderr(&output));
    let offer = |running: &str| {
        fleet.registry.curl_as(
            &fleet.device,
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                &format!("{}/v1/update?running={running}", fleet.registry.url()),
            ],
        )
    };
    assert_eq!(
        offer(env!("CARGO_PKG_VERSION")).trim(),
        "204",
        "not newer: not offered"
    );
    assert_eq!(
        offer("0.0.0").trim(),
        "200",
        "offered to a device running less"
    );

    let actions = fleet.audit_actions();
    let refused: Vec<&String> = actions
        .iter()
        .filter(|(action, _)| action == "update.refused")
        .map(|(_, subject)| subject)
        .collect();
    assert!(!refused.is_empty(), "{actions:?}");
}
