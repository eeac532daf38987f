//! The fleet from the back office: staff added or disabled at the registry reach a kiosk
//! through one uplink pass, as a policy signed by the registry's policy key; a policy that is
//! tampered with, older, or signed by another key is refused and the last good one kept; a
//! withdrawn device is refused at the handshake and at renewal, and learns it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use sajili::record::hex;
use sajili_record::policy::{FleetPolicy, SignedPolicy};
use sajili_tests::registry::{RegistryProcess, SyncDevice, wait_until, write_enrolments};
use sajili_tests::{stderr, stdout};

const CENTRE: &str = "NRB-KIBERA";

/// A registry serving, with a centre, and a device provisioned with a token of that centre.
fn fleet() -> (RegistryProcess, SyncDevice) {
    let mut registry = RegistryProcess::init();
    registry.serve();
    registry.back_office_ok(
        &[
            "centre",
            "set",
            CENTRE,
            "--name",
            "Kibera Huduma Centre",
            "--kind",
            "public-office",
        ],
        "",
    );
    let token = registry
        .back_office_ok(&["token", "--centre", CENTRE], "")
        .trim()
        .to_string();
    let device = SyncDevice::init(&registry);
    let output = device.provision_with(&registry, &token);
    assert!(output.status.success(), "provision: {}", stderr(&output));
    (registry, device)
}

/// `sajili-registry staff add` for a centre, the PIN (with its newline) on standard input;
/// what it printed.
fn add_staff(
    registry: &RegistryProcess,
    number: &str,
    role: &str,
    centre: &str,
    pin: &str,
) -> String {
    registry.back_office_ok(
        &[
            "staff", "add", "--number", number, "--role", role, "--centre", centre,
        ],
        pin,
    )
}

/// `sajili staff check`: whether `number` signs in with `pin`, and what it printed.
fn signs_in(device: &SyncDevice, number: &str, pin: &str) -> (bool, String) {
    let mut child = std::process::Command::new(sajili_tests::sajili_bin())
        .arg("--data")
        .arg(&device.data)
        .args(["staff", "check", "--number", number])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        writeln!(input, "{pin}").unwrap();
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        format!("{}{}", stdout(&output), stderr(&output)),
    )
}

fn uplink_once(device: &SyncDevice) -> std::process::Output {
    device.run(&["uplink", "--once"])
}

fn policy_version(device: &SyncDevice) -> Option<u64> {
    device.status()["policy_version"].as_u64()
}

#[test]
fn a_supervisor_added_at_the_registry_signs_in_after_one_uplink_pass_and_not_once_disabled() {
    let (registry, device) = fleet();
    // The fixture's staff were added on the device; the back office's roster replaces them.
    let (local, local_pin) = sajili::fixtures::FIXTURE_SUPERVISOR;
    assert!(signs_in(&device, local, local_pin).0);
    let added = add_staff(&registry, "SUP-7", "supervisor", CENTRE, "135790\n");
    assert!(added.contains("fleet policy version"), "{added}");
    // Another centre's operator never reaches this kiosk.
    registry.back_office_ok(&["centre", "set", "MSA-LIKONI", "--name", "Likoni"], "");
    add_staff(&registry, "OP-9", "operator", "MSA-LIKONI", "246801\n");
    let (before, _) = signs_in(&device, "SUP-7", "135790");
    assert!(!before, "not before the uplink has fetched the policy");

    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    let (after, said) = signs_in(&device, "SUP-7", "135790");
    assert!(after, "{said}");
    assert!(said.contains("supervisor"), "{said}");
    let version = policy_version(&device).expect("a policy runs");
    assert!(version >= 2, "{version}");
    assert_eq!(
        device.status()["policy_centre"].as_str(),
        Some(CENTRE),
        "the device's centre"
    );
    assert!(!signs_in(&device, "OP-9", "246801").0, "another centre's");
    assert!(
        !signs_in(&device, local, local_pin).0,
        "staff added on the device are gone once the back office runs the roster"
    );
    let refused = device.run(&["staff", "add", "--number", "OP-5", "--role", "operator"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("fleet policy"),
        "{}",
        stderr(&refused)
    );

    registry.back_office_ok(&["staff", "disable", "SUP-7"], "");
    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    let (disabled, said) = signs_in(&device, "SUP-7", "135790");
    assert!(!disabled, "disabled at the registry: {said}");
    assert!(policy_version(&device).unwrap() > version);

    // The kiosk's audit events (the policies taken, the sign-ins) reach the registry.
    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    let audit = registry.back_office_ok(&["audit", "--device", &device.id, "--json"], "");
    let actions: Vec<String> = audit
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        actions.iter().filter(|a| *a == "policy.applied").count() >= 2,
        "{actions:?}"
    );
    assert!(
        actions.iter().any(|a| a == "device.provisioned"),
        "{actions:?}"
    );
    let listed = registry.back_office_ok(&["staff", "list", "--json"], "");
    assert!(!listed.contains("argon2"), "a listing shows no PIN hash");
}

/// The policy the device runs, as the registry signed it.
fn running_policy(registry: &RegistryProcess) -> FleetPolicy {
    let output = registry.back_office_ok(&["policy", "publish", "--centre", CENTRE], "");
    assert!(output.contains("signed"), "{output}");
    let bundle = registry.dir.path().join("for-centre.json");
    registry.back_office_ok(
        &[
            "policy",
            "bundle",
            "--trust-bundle",
            registry.bundle.to_str().unwrap(),
            "--centre",
            CENTRE,
            "--out",
            bundle.to_str().unwrap(),
        ],
        "",
    );
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let signed: SignedPolicy = serde_json::from_value(bundle["policy"].clone()).unwrap();
    serde_json::from_str(&signed.policy).unwrap()
}

fn key_of(registry: &RegistryProcess) -> SigningKey {
    let seed: [u8; 32] = std::fs::read(registry.policy_key())
        .unwrap()
        .try_into()
        .unwrap();
    SigningKey::from_bytes(&seed)
}

#[test]
fn a_tampered_an_older_and_a_foreign_policy_are_refused_and_the_last_good_one_kept() {
    let (registry, device) = fleet();
    add_staff(&registry, "SUP-7", "supervisor", CENTRE, "135790\n");
    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(signs_in(&device, "SUP-7", "135790").0);
    let good = policy_version(&device).unwrap();
    let policy = running_policy(&registry);
    let spool_policy = device.data.join("spool/policy.json");

    // A policy that would let an intruder in, each way it could come.
    let mut intruder = policy.clone();
    intruder.version = good + 10;
    intruder.staff[0].number = "INTRUDER-1".into();
    let forged = intruder.sign(&SigningKey::from_bytes(&[7; 32])).unwrap();
    let mut older = policy.clone();
    older.version = good - 1;
    older.staff[0].number = "INTRUDER-2".into();
    let older = older.sign(&key_of(&registry)).unwrap();
    let genuine = {
        let mut newer = policy.clone();
        newer.version = good + 10;
        newer.sign(&key_of(&registry)).unwrap()
    };
    let tampered = String::from_utf8(genuine)
        .unwrap()
        .replacen("SUP-7", "SUP-8", 1)
        .into_bytes();
    for (what, bytes) in [
        ("signed by another key", forged),
        ("older", older),
        ("tampered with", tampered),
        ("not a policy", b"{\"policy\":".to_vec()),
    ] {
        std::fs::write(&spool_policy, &bytes).unwrap();
        let status = device.status();
        assert_eq!(
            status["policy_version"].as_u64(),
            Some(good),
            "a policy {what} is refused"
        );
        assert!(signs_in(&device, "SUP-7", "135790").0, "{what}");
        for intruder in ["INTRUDER-1", "INTRUDER-2", "SUP-8"] {
            assert!(!signs_in(&device, intruder, "135790").0, "{what}");
        }
    }
    // And the same through the provisioning bundle's door: a bundle policy not newer changes
    // nothing either (checked in the unit tests of the format); the kiosk's log says why.
    let key = hex(key_of(&registry).verifying_key().as_bytes());
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&registry.bundle).unwrap()).unwrap();
    assert_eq!(bundle["policy_key"].as_str(), Some(key.as_str()));
}

#[test]
fn a_provisioning_bundle_carries_its_centre_s_staff_before_any_network() {
    let mut registry = RegistryProcess::init();
    registry.back_office_ok(&["centre", "set", CENTRE, "--name", "Kibera"], "");
    add_staff(&registry, "OP-3", "operator", CENTRE, "482193\n");
    let bundle = registry.dir.path().join("kibera.json");
    let made = registry.back_office_ok(
        &[
            "policy",
            "bundle",
            "--trust-bundle",
            registry.bundle.to_str().unwrap(),
            "--centre",
            CENTRE,
            "--token",
            "7d",
            "--out",
            bundle.to_str().unwrap(),
        ],
        "",
    );
    assert!(made.contains("with a one-time token"), "{made}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("device");
    let output = sajili_tests::sajili(&data, &["init", "--bundle", bundle.to_str().unwrap()]);
    assert!(output.status.success(), "init: {}", stderr(&output));
    let device = SyncDevice {
        dir,
        data,
        id: String::new(),
    };
    // No registry is serving: the policy came in the bundle.
    assert!(signs_in(&device, "OP-3", "482193").0);
    assert!(policy_version(&device).is_some());
    // The bundle's token assigns the device to the centre when it provisions.
    registry.serve();
    let token = serde_json::from_slice::<serde_json::Value>(&std::fs::read(&bundle).unwrap())
        .unwrap()["enrolment_token"]
        .as_str()
        .unwrap()
        .to_string();
    let output = device.provision_with(&registry, &token);
    assert!(output.status.success(), "provision: {}", stderr(&output));
    let id = device.status()["device_id"].as_str().unwrap().to_string();
    add_staff(&registry, "SUP-4", "supervisor", CENTRE, "135791\n");
    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(signs_in(&device, "SUP-4", "135791").0, "device {id}");
}

/// The HTTP status of a call `method path` with the device's certificate (`000`: refused at
/// the handshake).
fn status_as(registry: &RegistryProcess, device: &SyncDevice, method: &str, path: &str) -> String {
    registry
        .curl_as(
            device,
            &[
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "-X",
                method,
                &format!("{}{path}", registry.url()),
            ],
        )
        .trim()
        .to_string()
}

/// Whether a TLS call with the device's certificate fails at the handshake.
fn refused_at_handshake(registry: &RegistryProcess, device: &SyncDevice) -> bool {
    status_as(registry, device, "GET", "/v1/standing") == "000"
}

#[test]
fn a_withdrawn_device_is_refused_at_the_handshake_and_at_renewal_and_learns_it() {
    let (registry, device) = fleet();
    let work = tempfile::tempdir().unwrap();
    let (files, _) = write_enrolments(work.path(), 2);
    device.enrol(&files[..1]);
    let output = uplink_once(&device);
    assert!(output.status.success(), "uplink: {}", stderr(&output));
    assert!(!refused_at_handshake(&registry, &device));

    let unknown = registry.back_office(&["device", "withdraw", "NOSUCH", "--reason", "x"], "");
    assert!(!unknown.status.success());
    registry.back_office_ok(
        &[
            "device",
            "withdraw",
            &device.id,
            "--reason",
            "stolen from the chief's office",
        ],
        "",
    );
    // Every node reads the list again within seconds; until then the API refuses it.
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(20), || refused_at_handshake(
            &registry, &device
        )),
        "refused at the handshake"
    );
    println!(
        "withdrawal reached the handshake in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let renewal = status_as(&registry, &device, "POST", "/v1/renew");
    assert_eq!(renewal, "000", "renewal refused at the handshake");

    device.enrol(&files[1..]);
    let output = uplink_once(&device);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("withdrawn"), "{}", stderr(&output));
    let status = device.status();
    assert!(status["withdrawn"].is_object(), "{status}");
    assert_eq!(registry.records_of(&device.id), 1, "nothing more is taken");

    // The signed re-issue request (same key, no token) is refused, and so is the token again.
    let reissue = device.run(&["provision", "--registry", &registry.url()]);
    assert!(!reissue.status.success());
    assert!(
        stderr(&reissue).contains("withdrawn"),
        "{}",
        stderr(&reissue)
    );
    let stats = registry.stats();
    let withdrawn = stats["withdrawn"].as_array().unwrap();
    assert_eq!(withdrawn.len(), 1);
    assert_eq!(withdrawn[0]["device"].as_str(), Some(device.id.as_str()));
    let text = registry.back_office_ok(&["stats"], "");
    assert!(text.contains("WITHDRAWN"), "{text}");
}

#[test]
fn a_device_withdrawn_with_accept_until_sends_its_last_records_and_nothing_after() {
    let (registry, device) = fleet();
    let work = tempfile::tempdir().unwrap();
    let (files, _) = write_enrolments(work.path(), 3);
    device.enrol(&files);
    registry.back_office_ok(
        &[
            "device",
            "withdraw",
            &device.id,
            "--reason",
            "retired",
            "--accept-until",
            "2",
        ],
        "",
    );
    // Not refused at the handshake: its last records still come.
    std::thread::sleep(Duration::from_secs(6));
    assert!(!refused_at_handshake(&registry, &device));
    let output = uplink_once(&device);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("withdrawn"), "{}", stderr(&output));
    assert_eq!(registry.records_of(&device.id), 2, "records 1 and 2, not 3");
    assert!(device.status()["withdrawn"].is_object());
    // The policy and renewal are for devices in service.
    let renewal = status_as(&registry, &device, "POST", "/v1/renew");
    assert_eq!(renewal, "403");
}

#[test]
fn staff_reach_a_running_kiosk_within_the_fleet_interval() {
    let (registry, device) = fleet();
    let mut uplink = std::process::Command::new(sajili_tests::sajili_bin())
        .arg("--data")
        .arg(&device.data)
        .args(["uplink", "--poll-ms", "200", "--fleet-every", "3"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // The uplink's first pass, then an idle wait.
    std::thread::sleep(Duration::from_secs(1));
    let started = Instant::now();
    add_staff(&registry, "SUP-9", "supervisor", CENTRE, "135792\n");
    let reached = wait_until(Duration::from_secs(30), || {
        signs_in(&device, "SUP-9", "135792").0
    });
    let took = started.elapsed();
    let _ = uplink.kill();
    let _ = uplink.wait();
    assert!(reached, "the running uplink fetched the policy");
    println!(
        "staff add to sign-in: {:.1} s (uplink --fleet-every 3; the kiosk hands off every 30 s on its own)",
        took.as_secs_f64()
    );
}
