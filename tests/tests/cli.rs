//! The command line end to end: init, enrol, status, verify, and bad input of every kind.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use redb::{Database, ReadableTable, TableDefinition};
use sajili_tests::{TestDevice, TestRegistry, sajili, stderr, stdout, write_example};

const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn status_json(device: &TestDevice) -> serde_json::Value {
    let output = device.run(&["status", "--json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("status JSON")
}

fn enrol_example(device: &TestDevice) -> String {
    let json = write_example(&device.dir.path().join("example"));
    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert!(output.status.success(), "enrol failed: {}", stderr(&output));
    stdout(&output).trim().to_string()
}

#[test]
fn init_makes_private_keys_and_refuses_to_run_twice() {
    let device = TestDevice::init();
    let key = device.data.join("keys/record-signing.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    assert_eq!(mode(&key), 0o600);
    assert_eq!(mode(&device.data.join("keys")), 0o700);
    assert_eq!(mode(&device.data.join("keys/journal.key")), 0o600);
    assert_eq!(
        mode(&device.data.join("trust-bundle.json")),
        0o600,
        "may hold a token"
    );
    let before = std::fs::read(&key).unwrap();

    let bundle = device.registry.write_bundle(device.dir.path());
    let again = device.run(&["init", "--bundle", bundle.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already initialised"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        std::fs::read(&key).unwrap(),
        before,
        "the key must never be replaced"
    );
}

#[test]
fn init_refuses_a_bad_bundle_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let registry = TestRegistry::new();
    let mut bundle: serde_json::Value = serde_json::from_str(&registry.bundle_json).unwrap();
    bundle["age_recipient"] = "age1notakey".into();
    let path = dir.path().join("bad-bundle.json");
    std::fs::write(&path, bundle.to_string()).unwrap();
    let output = sajili(&data, &["init", "--bundle", path.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("age_recipient"),
        "{}",
        stderr(&output)
    );
    assert!(!data.exists(), "nothing may be written for a bad bundle");
}

/// A provisioning key's seed and public half, as `image-build/build` makes them.
fn provisioning_key(dir: &Path, name: &str, seed: u8) -> (std::path::PathBuf, std::path::PathBuf) {
    let secret = dir.join(format!("{name}.key"));
    std::fs::write(&secret, [seed; 32]).unwrap();
    let output = sajili(
        &dir.join("unused"),
        &["bundle", "public-key", "--key", secret.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&public, stdout(&output)).unwrap();
    (secret, public)
}

#[test]
fn init_with_a_provisioning_key_takes_only_a_bundle_that_key_signed() {
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::new();
    let plain = dir.path().join("trust.json");
    std::fs::write(&plain, &registry.bundle_json).unwrap();
    let (ministry, ministry_pub) = provisioning_key(dir.path(), "ministry", 7);
    let (stranger, _) = provisioning_key(dir.path(), "stranger", 8);
    let sign = |key: &Path, out: &str| {
        let out = dir.path().join(out);
        let output = sajili(
            &dir.path().join("unused"),
            &[
                "bundle",
                "sign",
                "--key",
                key.to_str().unwrap(),
                "--bundle",
                plain.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
        );
        assert!(output.status.success(), "{}", stderr(&output));
        out
    };
    let genuine = sign(&ministry, "genuine.json");
    let foreign = sign(&stranger, "foreign.json");
    let key = ministry_pub.to_str().unwrap();

    // Refused before anything is written: an unsigned bundle, and one another key signed.
    for (bundle, says) in [
        (&plain, "is not signed"),
        (
            &foreign,
            "not signed by the provisioning key this device was built with",
        ),
    ] {
        let data = dir.path().join("refused");
        let output = sajili(
            &data,
            &[
                "init",
                "--bundle",
                bundle.to_str().unwrap(),
                "--provisioning-key",
                key,
            ],
        );
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(says), "{}", stderr(&output));
        assert!(
            !data.exists(),
            "nothing may be written for a refused bundle"
        );
        let check = sajili(
            &data,
            &[
                "bundle",
                "check",
                "--provisioning-key",
                key,
                bundle.to_str().unwrap(),
            ],
        );
        assert_eq!(check.status.code(), Some(2), "{}", stderr(&check));
    }

    // The genuine one: checked, taken, and the trust bundle inside is what the device pins.
    let check = sajili(
        &dir.path().join("unused"),
        &[
            "bundle",
            "check",
            "--provisioning-key",
            key,
            genuine.to_str().unwrap(),
        ],
    );
    assert!(check.status.success(), "{}", stderr(&check));
    assert!(
        stdout(&check).contains("signed by the provisioning key"),
        "{}",
        stdout(&check)
    );
    let data = dir.path().join("data");
    let output = sajili(
        &data,
        &[
            "init",
            "--bundle",
            genuine.to_str().unwrap(),
            "--provisioning-key",
            key,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let pinned = std::fs::read_to_string(data.join("trust-bundle.json")).unwrap();
    assert_eq!(pinned, registry.bundle_json);
}

#[test]
fn an_enrolment_is_sealed_counted_and_verified() {
    let device = TestDevice::init();
    let number = enrol_example(&device);
    let parsed = sajili::record::RegistrationNumber::parse(&number).expect("a registration number");
    assert_eq!(parsed.seq, 1);
    let second = enrol_example(&device);
    assert_eq!(
        sajili::record::RegistrationNumber::parse(&second)
            .unwrap()
            .seq,
        2
    );

    let status = status_json(&device);
    assert_eq!(status["records_sealed"], 2);
    assert_eq!(status["queue_depth"], 2);
    assert_eq!(
        status["in_progress"], 0,
        "the journal entry goes with the seal"
    );
    assert_eq!(
        status["device_id"].as_str().unwrap(),
        parsed.device.as_str()
    );
    assert!(status["bytes_waiting"].as_u64().unwrap() > 200_000);

    let verify = device.run(&["verify"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(
        stdout(&verify).contains("chain intact to seq 2"),
        "{}",
        stdout(&verify)
    );

    let text = device.run(&["status"]);
    assert!(
        stdout(&text).contains("Records sealed  2"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn an_invalid_enrolment_exits_2_listing_every_problem_and_stores_nothing() {
    let device = TestDevice::init();
    let json = write_example(&device.dir.path().join("example"));
    let mut value: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    value["demographics"]["kra_pin"] = "P000000000X".into();
    value["demographics"]["date_of_birth"] = "2022-01-01".into();
    value["demographics"]["residence"]["sub_county"] = "Westlands".into();
    value["photo"] = "missing.jpg".into();
    std::fs::write(&json, value.to_string()).unwrap();

    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    for field in [
        "kra_pin",
        "date_of_birth",
        "residence.sub_county",
        "photo",
        "guardians",
    ] {
        assert!(
            message.contains(&format!("{field}:")),
            "{field} not named in:\n{message}"
        );
    }
    assert!(
        message.contains("Mwombaji"),
        "Kiswahili missing:\n{message}"
    );
    assert_eq!(status_json(&device)["records_sealed"], 0);
    assert_eq!(status_json(&device)["in_progress"], 0);
}

/// Issue 14: a sign-off names a real, enabled supervisor who is not the operator.
#[test]
fn enrol_refuses_a_sign_off_by_an_unknown_disabled_or_same_person_naming_the_field() {
    let device = TestDevice::init();
    let json = write_example(&device.dir.path().join("example"));
    let example: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let attempt = |staff: serde_json::Value| {
        let mut value = example.clone();
        value["staff"] = staff;
        std::fs::write(&json, value.to_string()).unwrap();
        let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        stderr(&output)
    };
    let unknown = attempt(serde_json::json!({ "operator": "OP-0042", "supervisor": "NOBODY" }));
    assert!(
        unknown.contains("staff.supervisor: This staff number is not registered on this kiosk."),
        "{unknown}"
    );
    let same = attempt(serde_json::json!({ "operator": "SUP-0007", "supervisor": "SUP-0007" }));
    assert!(
        same.contains("staff.supervisor: The supervisor must be someone other than the operator."),
        "{same}"
    );
    let stranger = attempt(serde_json::json!({ "operator": "OP-9999", "supervisor": "SUP-0007" }));
    assert!(
        stranger.contains("staff.operator: This staff number is not registered"),
        "{stranger}"
    );
    let stale = attempt(serde_json::json!({
        "operator": "OP-0042", "supervisor": "SUP-0007", "approval": "00".repeat(32)
    }));
    assert!(
        stale.contains("staff.supervisor: The photo or prints changed"),
        "{stale}"
    );
    // Ten fingers marked amputated need a real supervisor, not any string.
    let mut amputated = example.clone();
    for finger in amputated["fingerprints"].as_array_mut().unwrap() {
        *finger = serde_json::json!({ "position": finger["position"], "exception": "amputated" });
    }
    amputated["staff"] = serde_json::json!({ "operator": "OP-0042", "supervisor": "NOBODY" });
    std::fs::write(&json, amputated.to_string()).unwrap();
    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    let disable = device.run(&["staff", "disable", "--number", "SUP-0007"]);
    assert!(disable.status.success(), "{}", stderr(&disable));
    let disabled = attempt(serde_json::json!({ "operator": "OP-0042", "supervisor": "SUP-0007" }));
    assert!(
        disabled.contains("staff.supervisor: This staff member may no longer sign in here."),
        "{disabled}"
    );
    assert_eq!(status_json(&device)["records_sealed"], 0, "nothing sealed");
    let unknown = device.run(&["staff", "disable", "--number", "SUP-4040"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn bad_input_files_get_clear_errors_and_change_nothing() {
    let device = TestDevice::init();
    enrol_example(&device);
    let example = device.dir.path().join("example");
    let json = example.join("enrolment.json");

    let malformed = example.join("malformed.json");
    std::fs::write(&malformed, "{\"demographics\": {").unwrap();
    let output = device.run(&["enrol", "--json", malformed.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("line 1"), "{}", stderr(&output));

    let output = device.run(&["enrol", "--json", "/nonexistent/enrolment.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read"),
        "{}",
        stderr(&output)
    );

    std::fs::remove_file(example.join("right_index.png")).unwrap();
    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("fingerprints.right_index:"),
        "{}",
        stderr(&output)
    );

    std::fs::write(example.join("right_index.png"), "this is not an image").unwrap();
    std::fs::write(example.join("photo.jpg"), b"\xFF\xD8\xFF garbage").unwrap();
    let output = device.run(&["enrol", "--json", json.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("not an image"), "{message}");
    assert!(
        message.contains("photo:") && message.contains("damaged"),
        "{message}"
    );

    let smuggled = example.join("smuggled.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    value["demographics"]["gps"] = serde_json::json!([-1.28, 36.82]);
    std::fs::write(&smuggled, value.to_string()).unwrap();
    let output = device.run(&["enrol", "--json", smuggled.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("unknown field `gps`"),
        "{}",
        stderr(&output)
    );

    let status = status_json(&device);
    assert_eq!(status["records_sealed"], 1);
    assert_eq!(status["in_progress"], 0);
    assert!(device.run(&["verify"]).status.success());
}

#[test]
fn a_data_dir_without_init_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["status"][..], &["verify"], &["enrol", "--json", "x.json"]] {
        let output = sajili(dir.path(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&output).contains("not initialised"),
            "{}",
            stderr(&output)
        );
    }
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing created"
    );
}

#[test]
fn a_corrupted_store_is_reported_and_left_untouched() {
    let device = TestDevice::init();
    enrol_example(&device);
    let store = device.data.join("kiosk.redb");
    let original = std::fs::read(&store).unwrap();
    // Damage live data (the envelopes, found by their magic, and the pages after) and the
    // file header, in turn. Free space is not damage, so it is not chosen.
    let magic = original
        .windows(4)
        .position(|w| w == sajili::record::MAGIC)
        .expect("an envelope in the file");
    for (start, len) in [
        (magic, 64),
        (magic + 5_000, 16),
        (magic + 300_000, 4096),
        (0, 64),
    ] {
        let mut damaged = original.clone();
        for byte in &mut damaged[start..start + len] {
            *byte ^= 0x5A;
        }
        std::fs::write(&store, &damaged).unwrap();
        let output = device.run(&["status"]);
        let message = stderr(&output);
        assert_eq!(
            output.status.code(),
            Some(1),
            "damage at {start}: {message}"
        );
        assert!(!message.contains("panicked"), "{message}");
        assert!(
            message.contains("corrupted")
                || message.contains("damaged")
                || message.contains("not a"),
            "damage at {start}: {message}"
        );
        assert_eq!(
            std::fs::read(&store).unwrap(),
            damaged,
            "damage at {start}: file was modified"
        );
    }
}

fn tamper(device: &TestDevice, change: impl FnOnce(&mut redb::Table<u64, &[u8]>)) {
    let db = Database::open(device.data.join("kiosk.redb")).unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn.open_table(OUTBOX).unwrap();
        change(&mut table);
    }
    txn.commit().unwrap();
}

fn outbox_value(table: &redb::Table<u64, &[u8]>, seq: u64) -> Vec<u8> {
    table.get(seq).unwrap().unwrap().value().to_vec()
}

fn verify_failure(device: &TestDevice) -> String {
    let output = device.run(&["verify"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "verify passed: {}",
        stdout(&output)
    );
    stderr(&output)
}

#[test]
fn verify_names_the_first_bad_seq_for_any_tampering() {
    let device = TestDevice::init();
    for _ in 0..4 {
        enrol_example(&device);
    }
    // Keep a pristine copy to restore between cases.
    let store = device.data.join("kiosk.redb");
    let pristine = std::fs::read(&store).unwrap();

    tamper(&device, |table| {
        let mut bytes = outbox_value(table, 3);
        bytes[200] ^= 1;
        table.insert(3, bytes.as_slice()).unwrap();
    });
    assert!(
        verify_failure(&device).contains("seq 3: signature"),
        "{}",
        verify_failure(&device)
    );

    std::fs::write(&store, &pristine).unwrap();
    tamper(&device, |table| {
        table.remove(2).unwrap();
    });
    assert!(verify_failure(&device).contains("seq 2: record missing"));

    std::fs::write(&store, &pristine).unwrap();
    tamper(&device, |table| {
        let (two, three) = (outbox_value(table, 2), outbox_value(table, 3));
        table.insert(2, three.as_slice()).unwrap();
        table.insert(3, two.as_slice()).unwrap();
    });
    assert!(verify_failure(&device).contains("seq 2: carries seq 3"));

    std::fs::write(&store, &pristine).unwrap();
    tamper(&device, |table| {
        let one = outbox_value(table, 1);
        table.insert(5, one.as_slice()).unwrap();
    });
    assert!(verify_failure(&device).contains("seq 5: record beyond the chain head"));

    std::fs::write(&store, &pristine).unwrap();
    assert!(device.run(&["verify"]).status.success());
}

#[test]
fn the_sealed_record_holds_exactly_what_was_entered_and_nothing_leaks_beside_it() {
    let device = TestDevice::init();
    let number = enrol_example(&device);
    let example = device.dir.path().join("example");
    let opened = sajili::device::open(&sajili::device::DataDir::new(&device.data)).unwrap();
    let bytes = opened
        .store
        .envelope(1)
        .unwrap()
        .expect("envelope 1 in the outbox");
    let envelope = sajili::record::Envelope::from_bytes(&bytes).unwrap();
    let payload = sajili::record::unseal(&envelope, &device.registry.identity).unwrap();

    assert_eq!(payload.registration_number, number);
    assert_eq!(payload.captured_at, envelope.created_at);
    let enrolment = payload.enrolment;
    assert_eq!(
        enrolment.demographics,
        sajili::fixtures::adult_demographics()
    );
    assert_eq!(enrolment.staff.supervisor.as_deref(), Some("SUP-0007"));
    assert_eq!(
        enrolment.photo.data,
        std::fs::read(example.join("photo.jpg")).unwrap()
    );
    assert_eq!(enrolment.fingerprints.len(), 10);
    for finger in &enrolment.fingerprints {
        match &finger.capture {
            sajili::record::FingerCapture::Image(image) => {
                let file = example.join(format!("{}.png", finger.position.name()));
                assert_eq!(
                    image.data,
                    std::fs::read(file).unwrap(),
                    "{:?}",
                    finger.position
                );
            }
            sajili::record::FingerCapture::Exception(reason) => {
                assert_eq!(finger.position, sajili::form::FingerPosition::LeftLittle);
                assert_eq!(*reason, sajili::form::FingerException::Injured);
            }
        }
    }

    // The outbox holds ciphertext only, and no plaintext rests anywhere in the store file
    // (not even in pages freed when the draft left the journal); the audit log names no one.
    let surname = enrolment.demographics.names.surname.as_bytes();
    assert!(!bytes.windows(surname.len()).any(|w| w == surname));
    let file = std::fs::read(device.data.join("kiosk.redb")).unwrap();
    assert!(
        !file.windows(surname.len()).any(|w| w == surname),
        "plaintext in the store file"
    );
    let photo = std::fs::read(example.join("photo.jpg")).unwrap();
    assert!(
        !file.windows(64).any(|w| w == &photo[1000..1064]),
        "photo bytes in the store file"
    );
    for event in opened.store.audit_log().unwrap() {
        let line = format!("{event:?}");
        assert!(
            !line.contains("Otieno") && !line.contains("23456789"),
            "{line}"
        );
    }
}

#[test]
fn the_data_dir_comes_from_sajili_data_when_not_given() {
    let device = TestDevice::init();
    let output = std::process::Command::new(sajili_tests::sajili_bin())
        .args(["status", "--json"])
        .env("SAJILI_DATA", &device.data)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let status: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(status["records_sealed"], 0);
    assert_eq!(status["device_id"].as_str().unwrap().len(), 8);
}

#[test]
fn bio_synth_writes_the_same_print_for_the_same_seed_and_refuses_a_bad_size() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(sajili_tests::sajili_bin())
            .args(["bio", "synth"])
            .args(args)
            .output()
            .unwrap()
    };
    let first = dir.path().join("a.png");
    let again = dir.path().join("b.png");
    let other = dir.path().join("c.png");
    for (path, impression) in [(&first, "2"), (&again, "2"), (&other, "3")] {
        let output = run(&[
            "--seed",
            "9",
            "--class",
            "whorl",
            "--impression",
            impression,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            stdout(&output).contains("Whorl, seed 9"),
            "{}",
            stdout(&output)
        );
    }
    let png = std::fs::read(&first).unwrap();
    assert_eq!(png, std::fs::read(&again).unwrap());
    assert_ne!(png, std::fs::read(&other).unwrap());
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let reader = decoder.read_info().unwrap();
    assert_eq!((reader.info().width, reader.info().height), (256, 288));
    assert_eq!(reader.info().color_type, png::ColorType::Grayscale);

    let bad = run(&["--seed", "1", "--size", "5x5000", "--out", "x.png"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("WIDTHxHEIGHT"), "{}", stderr(&bad));
}
